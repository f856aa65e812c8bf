//! The history store (SPEC §7): concurrent writers, a locked and a corrupt
//! database, secrets, retention, and `opsrun history` errors.

use std::process::Stdio;
use std::time::Duration;

use rusqlite::Connection;

use crate::common::{Env, NOW};

fn count(db: &std::path::Path, sql: &str) -> i64 {
    let c = Connection::open(db).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn integrity(db: &std::path::Path) -> String {
    let c = Connection::open(db).unwrap();
    c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

const TWENTY_CHECKS: usize = 20;

fn many_checks(env: &Env) {
    let mut y = String::from("version: 1\ntitle: 並行\nchecks:\n");
    for i in 0..TWENTY_CHECKS {
        y.push_str(&format!(
            "  - {{id: c{i}, command: {{shell: 'echo {i}', value: {{warn: 15}}}}}}\n"
        ));
    }
    env.runbook("many.yaml", &y);
}

#[test]
fn ten_concurrent_runs_are_all_recorded() {
    let env = Env::new();
    many_checks(&env);
    let db = env.path().join("history.db");
    // Ten processes at once against a history file none of them has
    // created yet: creation, migration and writes all race.
    let children: Vec<_> = (0..10)
        .map(|i| {
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_opsrun"));
            c.current_dir(env.path())
                .env("OPSRUN_HISTORY", &db)
                .args([
                    "run",
                    "many",
                    "-q",
                    "--now",
                    &format!("2025-10-21T09:{i:02}:00+09:00"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for ch in children {
        let out = ch.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(!err.contains("could not record"), "{err}");
    }
    assert_eq!(count(&db, "SELECT COUNT(*) FROM runs"), 10);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM results"),
        10 * TWENTY_CHECKS as i64
    );
    assert_eq!(
        count(&db, "SELECT COUNT(DISTINCT started_ms) FROM runs"),
        10
    );
    assert_eq!(integrity(&db), "ok");
    assert_eq!(count(&db, "PRAGMA user_version"), 7);
    let c = Connection::open(&db).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// A check that warns: the exit code must be the checks' (1), not history's.
const WARNS: &str = "  - {id: w, command: {shell: 'echo 85', value: {warn: 80}}}\n";

#[test]
fn a_locked_history_does_not_stop_the_checks() {
    let env = Env::new();
    let db = env.path().join("history.db");
    let (_, r) = env.run_checks(WARNS);
    assert_eq!(r.code, 1);
    // Another writer holds the database and does not let go.
    let holder = Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    holder.execute("DELETE FROM results WHERE 0", []).unwrap();
    let r = env.run(&["run", "t", "-f", "json"]);
    assert_eq!(r.code, 1, "{r:?}");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("stdout is the run's JSON");
    assert_eq!(doc["status"], "warn");
    assert!(
        r.stderr.contains("could not record this run in history")
            && r.stderr.contains("database is locked"),
        "{}",
        r.stderr
    );
    assert!(r.elapsed < Duration::from_secs(20), "{:?}", r.elapsed);
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM runs"), 1);
    assert_eq!(integrity(&db), "ok");
    // Once released, runs are recorded again.
    let r = env.run(&["run", "t", "-q"]);
    assert!(!r.stderr.contains("could not record"), "{}", r.stderr);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM runs"), 2);
}

/// SIGTERM while the run waits for a history another process holds: the
/// results are already printed, and the process ends at once with 143
/// instead of waiting out the lock (5 s) or the rest of a slow write.
#[test]
fn a_signal_while_history_is_locked_ends_the_run_after_its_results() {
    use std::io::BufRead;
    let env = Env::new();
    let db = env.path().join("history.db");
    let (_, r) = env.run_checks(WARNS);
    assert_eq!(r.code, 1);
    let holder = Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    holder.execute("DELETE FROM results WHERE 0", []).unwrap();
    for (signal, code) in [(15, 143), (2, 130)] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_opsrun"))
            .current_dir(env.path())
            .env("OPSRUN_HISTORY", &db)
            .args(["run", "t", "-f", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The whole JSON document arrives before history is written.
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut doc = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            doc.push_str(&line);
            if line == "}" {
                break;
            }
        }
        let v: serde_json::Value = serde_json::from_str(&doc).expect("the run's JSON");
        assert_eq!(v["status"], "warn");
        std::thread::sleep(Duration::from_millis(300));
        let signalled = std::time::Instant::now();
        rustix::process::kill_process(
            rustix::process::Pid::from_child(&child),
            rustix::process::Signal::from_named_raw(signal).unwrap(),
        )
        .unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        // Not the checks' 1 after the 5 s busy timeout: the signal's code.
        assert_eq!(out.status.code(), Some(code), "{err}");
        assert!(
            err.contains("could not record this run in history")
                && err.contains("interrupted by a signal"),
            "{err}"
        );
        assert!(
            signalled.elapsed() < Duration::from_secs(20),
            "{:?}",
            signalled.elapsed()
        );
    }
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM runs"), 1);
    assert_eq!(integrity(&db), "ok");
}

#[test]
fn a_corrupt_history_does_not_stop_the_checks() {
    let env = Env::new();
    let db = env.path().join("history.db");
    // Not a database at all.
    let junk = "this is not a database\n".repeat(400);
    std::fs::write(&db, &junk).unwrap();
    let (doc, r) = env.run_checks("  - {id: f, command: {shell: 'exit 3'}}\n");
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(doc["status"], "fail");
    assert!(r.stderr.contains("not a SQLite database"), "{}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(20), "{:?}", r.elapsed);
    // opsrun never overwrites what it cannot read.
    assert_eq!(std::fs::read_to_string(&db).unwrap(), junk);

    // A real history whose pages were overwritten.
    std::fs::remove_file(&db).unwrap();
    for i in 0..30 {
        let now = format!("2025-10-{:02}T09:00:00+09:00", i % 28 + 1);
        env.run(&["run", "t", "-q", "--now", &now]);
    }
    let c = Connection::open(&db).unwrap();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(c);
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 8192, "{}", bytes.len());
    for b in &mut bytes[4096..] {
        *b = 0xff;
    }
    std::fs::write(&db, &bytes).unwrap();
    env.runbook(
        "weekly.yaml",
        "version: 1\nchecks:\n  - {id: ok, command: {shell: 'true'}}\n",
    );
    let r = env.run(&["weekly", "-f", "report", "--now", NOW]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.elapsed < Duration::from_secs(20), "{:?}", r.elapsed);
    assert!(r.stdout.contains("- ok: 正常"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("- 履歴を読めませんでした（database disk image is malformed"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("could not record"), "{}", r.stderr);
    let r = env.run(&["history", "--now", NOW]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("malformed"), "{}", r.stderr);
}

#[test]
fn secrets_are_never_stored() {
    let server = crate::common::http_server::Server::start();
    let env = Env::new();
    env.runbook(
        "t.yaml",
        &format!(
            "version: 1\nchecks:\n  - {{id: api, http: {{url: '{}', bearer: {{token_env: API_TOKEN}}}}}}\n  - {{id: leak, command: {{shell: 'echo \"denied for $API_TOKEN\" >&2; exit 1'}}}}\n  - {{id: url, command: {{shell: 'echo https://op:hunter22@example.com/?token=abc123; exit 1'}}}}\n",
            server.url("/bearer")
        ),
    );
    let r = env
        .cmd()
        .env("API_TOKEN", "tok-123456")
        .args(["run", "t", "--concurrency", "1", "-f", "json"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    let mut stored = Vec::new();
    for f in ["history.db", "history.db-wal"] {
        if let Ok(b) = std::fs::read(env.path().join(f)) {
            stored.extend(b);
        }
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(stored.contains("denied for ***"), "the failure is recorded");
    for secret in ["tok-123456", "hunter22", "abc123"] {
        assert!(!stored.contains(secret), "{secret} stored in history");
    }
}

#[test]
fn no_history_and_history_path_and_retention() {
    let env = Env::new();
    env.runbook(
        "t.yaml",
        "version: 1\nchecks:\n  - {id: a, command: {shell: 'true'}}\n",
    );
    let r = env.run(&["run", "t", "--no-history"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!env.path().join("history.db").exists());
    // --history wins over OPSRUN_HISTORY; its directory is created.
    let other = env.path().join("var/lib/opsrun/h.db");
    let r = env.run(&[
        "run",
        "t",
        "--history",
        other.to_str().unwrap(),
        "--now",
        NOW,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(count(&other, "SELECT COUNT(*) FROM runs"), 1);
    assert!(!env.path().join("history.db").exists());
    // Retention is measured from the run's clock.
    for now in [
        "2025-01-01T09:00:00+09:00",
        "2025-09-01T09:00:00+09:00",
        "2025-10-20T09:00:00+09:00",
    ] {
        env.run(&["run", "t", "--now", now]);
    }
    let db = env.path().join("history.db");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM runs"), 3);
    env.run(&["run", "t", "--now", NOW, "--history-retention", "30d"]);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM runs"), 2);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM results WHERE run_id NOT IN (SELECT id FROM runs)"
        ),
        0
    );
    // The default (400 days) keeps January.
    let r = env.run(&["run", "t", "--now", NOW, "--history-retention", "soon"]);
    assert_eq!(r.code, 3, "{r:?}");
}

#[test]
fn history_command_listing_and_errors() {
    let env = Env::new();
    let r = env.run(&["history"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("no history yet"), "{}", r.stderr);
    env.runbook(
        "daily.yaml",
        "version: 1\nvars: {x: '61'}\nchecks:\n  - {id: disk-root, label: ディスク使用率, command: {shell: 'echo ${x}', value: {unit: '%'}}}\n  - {id: alive, command: {shell: 'true'}}\n",
    );
    for (i, v) in [61, 63, 62, 70, 72].iter().enumerate() {
        let now = format!("2025-10-{:02}T09:00:00+09:00", 17 + i);
        let r = env.run(&["daily", "-q", "--now", &now, "--var", &format!("x={v}")]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    let r = env.run(&["history", "--now", NOW]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.matches("┆ daily ").count(), 5, "{}", r.stdout);
    let r = env.run(&["history", "--check", "disk-rot", "--now", NOW]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("did you mean `disk-root`"),
        "{}",
        r.stderr
    );
    let r = env.run(&["history", "--check", "alive", "--now", NOW]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("5 pass"), "{}", r.stdout);
    assert!(
        !r.stdout.contains("min "),
        "no numbers, no sparkline: {}",
        r.stdout
    );
    let r = env.run(&[
        "history",
        "--check",
        "disk-root",
        "--since",
        "2d",
        "--now",
        NOW,
    ]);
    assert!(r.stdout.contains("3 results"), "{}", r.stdout);
    let r = env.run(&[
        "history",
        "--check",
        "disk-root",
        "-f",
        "json",
        "--now",
        NOW,
    ]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["samples"].as_array().unwrap().len(), 5, "{doc:#}");
    // `--output` goes through the same renderer as stdout.
    let table = env.run(&["history", "--check", "disk-root", "--now", NOW]);
    let file = env.path().join("series.txt");
    let json_file = env.path().join("series.json");
    let r2 = env.run(&[
        "history",
        "--check",
        "disk-root",
        "-f",
        "json",
        "--now",
        NOW,
        "--output",
        &format!("table={}", file.display()),
        "--output",
        &format!("json={}", json_file.display()),
    ]);
    assert_eq!(r2.code, 0, "{r2:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), table.stdout);
    assert_eq!(std::fs::read_to_string(&json_file).unwrap(), r.stdout);
    assert_eq!(r2.stdout, r.stdout);
    let bad = env.run(&["history", "--output", "prometheus=x.prom", "--now", NOW]);
    assert_eq!(bad.code, 3, "{bad:?}");
    assert!(
        bad.stderr
            .contains("--output prometheus=…: `opsrun history` writes table or json"),
        "{}",
        bad.stderr
    );
    assert_eq!(doc["samples"][4]["metric"], 72.0);
    assert_eq!(doc["stats"]["max"], 72.0);
    assert_eq!(doc["stats"]["min"], 61.0);
}

#[test]
fn report_block_errors_name_the_line() {
    let env = Env::new();
    for (yaml, want) in [
        (
            "version: 1\nreport:\n  timezone: Europe/Parus\nchecks:\n  - {id: a, command: {shell: 'true'}}\n",
            "3:13: invalid timezone `Europe/Parus`",
        ),
        (
            "version: 1\nreport:\n  checklist:\n    - {item: 確認, checks: [dsk]}\nchecks:\n  - {id: disk, command: {shell: 'true'}}\n",
            "report.checklist: no check with id `dsk`, did you mean `disk`?",
        ),
        (
            "version: 1\nreport:\n  uptime: {check: daily/Bad Id}\nchecks:\n  - {id: a, command: {shell: 'true'}}\n",
            "invalid check reference `daily/Bad Id`",
        ),
        (
            "version: 1\nreport:\n  sections: [{name: x, lines: [{check: a, stat: mean}]}]\nchecks:\n  - {id: a, command: {shell: 'true'}}\n",
            "mean",
        ),
        (
            "version: 1\nreport:\n  tiemzone: UTC\nchecks:\n  - {id: a, command: {shell: 'true'}}\n",
            "did you mean `timezone`",
        ),
        (
            "version: 1\nreport:\n  show_value: [a]\n  show_status: [a]\nchecks:\n  - {id: a, command: {shell: 'true'}}\n",
            "in both show_value and show_status",
        ),
    ] {
        env.runbook("bad.yaml", yaml);
        let r = env.run(&["validate", "runbooks/bad.yaml"]);
        assert_eq!(r.code, 3, "{yaml}: {r:?}");
        assert!(r.stderr.contains(want), "{yaml}\nwant {want}\n{}", r.stderr);
    }
    env.write(
        "runbooks/inc/part.yaml",
        "version: 1\nreport: {}\nchecks: []\n",
    );
    env.runbook(
        "main.yaml",
        "version: 1\ninclude: [inc/part.yaml]\nchecks: []\n",
    );
    let r = env.run(&["validate", "runbooks/main.yaml"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("part.yaml:2:"), "{}", r.stderr);
    assert!(r.stderr.contains("not in an included file"), "{}", r.stderr);
}
