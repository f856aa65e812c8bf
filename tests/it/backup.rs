//! `opsrun backup run|verify|restore-test|prune` (SPEC §8) against a real
//! application tree like seed 000's (app.db, .env, uploads/) in a temp
//! directory: the online SQLite backup while this test process writes the
//! database continuously, a run killed with SIGKILL, Ctrl-C during a run
//! and during a restore test, corrupt backups, and prune with symlinks
//! pointing outside, names that do not match, keep_min and dry runs.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use rusqlite::Connection;

use crate::common::{Env, Run, check};

/// An application tree: `app/app.db` (`rows` rows of ~1 kB), `app/.env`
/// (mode 0600), `app/uploads/` with a nested file and a symlink pointing
/// outside it, and `outside/secret.txt` that the symlink points at.
fn app(env: &Env, rows: usize, wal: bool) -> PathBuf {
    let dir = env.path().join("app");
    std::fs::create_dir_all(dir.join("uploads/2025/10")).unwrap();
    let c = Connection::open(dir.join("app.db")).unwrap();
    if wal {
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
    }
    c.execute_batch(
        "CREATE TABLE tasks (id INTEGER PRIMARY KEY, body BLOB NOT NULL);
         CREATE TABLE counter (n INTEGER NOT NULL);
         INSERT INTO counter VALUES (0);",
    )
    .unwrap();
    let tx = c.unchecked_transaction().unwrap();
    for i in 0..rows {
        tx.execute(
            "INSERT INTO tasks (body) VALUES (?1)",
            [format!("見積り {i} {}", "x".repeat(1000))],
        )
        .unwrap();
    }
    tx.execute("UPDATE counter SET n = ?1", [rows as i64])
        .unwrap();
    tx.commit().unwrap();
    drop(c);
    env.write(
        "app/.env",
        "OPENAI_API_KEY=sk-test\nDATABASE_URL=sqlite:///app.db\n",
    );
    std::fs::set_permissions(dir.join(".env"), std::fs::Permissions::from_mode(0o600)).unwrap();
    env.write("app/uploads/2025/10/quote.pdf", "%PDF-1.4 見積書\n");
    env.write("app/uploads/readme.txt", "uploads\n");
    env.write("outside/secret.txt", "not part of the backup\n");
    std::os::unix::fs::symlink(env.path().join("outside"), dir.join("uploads/escape")).unwrap();
    dir
}

/// `runbooks/backup.yaml` over `app/` into `backups/`; `extra_actions`
/// and `extra` (top-level keys) are appended.
fn runbook(env: &Env, extra_actions: &str, extra: &str) {
    env.runbook(
        "backup.yaml",
        &format!(
            r#"version: 1
title: バックアップ
system: AI見積りシステム
vars:
  app: {app}
  backups: {backups}
backup: {{dir: "${{backups}}", pattern: "20*", name: "%Y%m%d_%H%M%S", latest: latest}}
actions:
  - {{id: db, sqlite_backup: {{source: "${{app}}/app.db", dest: app.db}}}}
  - {{id: env, copy: {{from: "${{app}}/.env", to: .env}}}}
  - {{id: uploads, archive: {{from: "${{app}}/uploads", to: uploads.tar.gz}}}}
{extra_actions}checks:
  - id: latest
    label: 定期バックアップ
    backup: {{dir: "${{backups}}", pattern: "20*", max_age: 26h, require: [app.db, .env, uploads.tar.gz]}}
restore_test: {{}}
prune: {{keep_days: 60, keep_min: 2}}
{extra}"#,
            app = env.path().join("app").display(),
            backups = env.path().join("backups").display(),
        ),
    );
}

/// Entries of `backups/` (sorted), dot-names included.
fn entries(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(env.path().join("backups"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The generations (`20*`) in `backups/`.
fn generations(env: &Env) -> Vec<String> {
    entries(env)
        .into_iter()
        .filter(|n| n.starts_with("20"))
        .collect()
}

/// The reason code (JSON `reason.code`) of row `id`.
fn code(doc: &serde_json::Value, id: &str) -> String {
    check(doc, id)["reason"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no reason for {id} in {doc:#}"))
        .to_owned()
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr: {}", r.stdout, r.stderr))
}

fn integrity(p: &Path) -> String {
    let c = Connection::open(p).unwrap();
    c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Starts opsrun in the background with the harness's environment.
fn spawn(env: &Env, args: &[&str], tmpdir: Option<&Path>) -> Child {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_opsrun"));
    c.args(args)
        .current_dir(env.path())
        .env_remove("OPSRUN_RUNBOOKS")
        .env("OPSRUN_HISTORY", env.path().join("history.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = tmpdir {
        c.env("TMPDIR", t);
    }
    c.spawn().unwrap()
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: rustix::process::Signal) {
    rustix::process::kill_process(rustix::process::Pid::from_child(child), sig).unwrap();
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn run_makes_one_generation_with_every_part_and_verifies_it() {
    let env = Env::new();
    app(&env, 200, true);
    runbook(&env, "", "");
    let r = env.run(&["backup", "run", "-f", "json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    for id in ["db", "env", "uploads", "generation", "latest"] {
        assert_eq!(check(&doc, id)["status"], "pass", "{id}: {doc:#}");
    }
    assert_eq!(check(&doc, "db")["kind"], "sqlite_backup");
    assert!(
        check(&doc, "db")["value"]
            .as_str()
            .unwrap()
            .contains("integrity_check ok")
    );
    // Exactly one generation and the `latest` link; no temporary left.
    let gens = generations(&env);
    assert_eq!(gens.len(), 1, "{:?}", entries(&env));
    assert_eq!(entries(&env), vec![gens[0].clone(), "latest".to_owned()]);
    let g = env.path().join("backups").join(&gens[0]);
    assert_eq!(
        std::fs::read_link(env.path().join("backups/latest")).unwrap(),
        PathBuf::from(&gens[0])
    );
    // Owner-only: it holds .env and the database.
    assert_eq!(
        std::fs::metadata(&g).unwrap().permissions().mode() & 0o777,
        0o700
    );
    // The database copy: whole, self-contained (rollback journal, no side files).
    let db = g.join("app.db");
    assert_eq!(integrity(&db), "ok");
    let head = std::fs::read(&db).unwrap();
    assert_eq!(&head[18..20], &[1, 1], "the copy is not in WAL mode");
    let mut names: Vec<String> = std::fs::read_dir(&g)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".env", "app.db", "uploads.tar.gz"]);
    let c = Connection::open(&db).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 200);
    // .env: same bytes and mode.
    assert_eq!(
        std::fs::read(g.join(".env")).unwrap(),
        std::fs::read(env.path().join("app/.env")).unwrap()
    );
    assert_eq!(
        std::fs::metadata(g.join(".env"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // uploads.tar.gz: entries under uploads/, the symlink stored as a
    // symlink (its target outside was not archived).
    let f = std::fs::File::open(g.join("uploads.tar.gz")).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut seen = Vec::new();
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        if path == "uploads/escape" {
            assert_eq!(e.header().entry_type(), tar::EntryType::Symlink);
            assert_eq!(
                e.link_name().unwrap().unwrap().into_owned(),
                env.path().join("outside")
            );
        }
        seen.push(path);
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "uploads",
            "uploads/2025",
            "uploads/2025/10",
            "uploads/2025/10/quote.pdf",
            "uploads/escape",
            "uploads/readme.txt"
        ]
    );
    assert!(!seen.iter().any(|s| s.contains("secret")));
    // The source database is untouched by the backup (read-only).
    assert_eq!(integrity(&env.path().join("app/app.db")), "ok");

    // verify (the default) runs the checks only.
    let r = env.run(&["backup", "-f", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = json(&r);
    assert_eq!(doc["checks"].as_array().unwrap().len(), 1);
    assert_eq!(check(&doc, "latest")["status"], "pass");
}

/// A writer in this test process commits continuously (a row into `tasks`
/// and the matching `counter` bump in one transaction) for the whole
/// backup. The copy must pass integrity_check and be one consistent
/// snapshot (`count(*) = counter.n`), and the writer must never fail.
fn backup_under_writes(wal: bool) {
    let env = Env::new();
    // ~20 MB: the backup takes many steps.
    app(&env, 20_000, wal);
    runbook(&env, "", "");
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let db = env.path().join("app/app.db");
    let writer = {
        let (stop, commits, db) = (stop.clone(), commits.clone(), db.clone());
        std::thread::spawn(move || -> Result<(), String> {
            let c = Connection::open(&db).map_err(|e| e.to_string())?;
            c.busy_timeout(Duration::from_secs(30))
                .map_err(|e| e.to_string())?;
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                c.execute_batch(&format!(
                    "BEGIN IMMEDIATE;
                     INSERT INTO tasks (body) VALUES ('concurrent {i} {}');
                     UPDATE counter SET n = n + 1;
                     COMMIT;",
                    "y".repeat(500)
                ))
                .map_err(|e| format!("commit {i}: {e}"))?;
                commits.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        })
    };
    wait_for(
        "the writer's first commits",
        Duration::from_secs(10),
        || commits.load(Ordering::SeqCst) > 10,
    );
    let before = commits.load(Ordering::SeqCst);
    let r = env.run(&["backup", "run", "-f", "json", "-v"]);
    let during = commits.load(Ordering::SeqCst) - before;
    stop.store(true, Ordering::SeqCst);
    writer
        .join()
        .unwrap()
        .expect("the application's writes never failed");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(during > 0, "the writer was blocked for the whole backup");
    let doc = json(&r);
    assert_eq!(check(&doc, "db")["status"], "pass", "{doc:#}");
    // WAL: one read snapshot for the whole copy, so the writes never
    // restart it (a rollback-journal copy restarts, then finishes in one step).
    let detail = check(&doc, "db")["detail"].to_string();
    if wal {
        assert!(!detail.contains("restarted"), "{detail}");
    }
    let gens = generations(&env);
    assert_eq!(gens.len(), 1);
    let copy = env.path().join("backups").join(&gens[0]).join("app.db");
    assert_eq!(integrity(&copy), "ok");
    let c = Connection::open(&copy).unwrap();
    let (rows, counter): (i64, i64) = c
        .query_row(
            "SELECT (SELECT count(*) FROM tasks), (SELECT n FROM counter)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(rows, counter, "the copy is one consistent snapshot");
    assert!(rows >= 20_000 + before as i64, "rows {rows}");
}

#[test]
fn sqlite_backup_while_the_app_writes_wal() {
    backup_under_writes(true);
}

#[test]
fn sqlite_backup_while_the_app_writes_rollback_journal() {
    backup_under_writes(false);
}

/// A `command` step that records its PID in its working directory (the
/// generation being written) and sleeps, so the run can be stopped there.
const SLOW_STEP: &str =
    "  - {id: pause, command: {shell: 'echo $$ > step.pid; exec sleep ${pause}'}, timeout: 60s}\n";

/// Waits for the slow step's temporary generation and its PID.
fn temp_generation(env: &Env) -> (PathBuf, i32) {
    let mut found = None;
    wait_for("the slow step", Duration::from_secs(30), || {
        found = entries(env)
            .into_iter()
            .find(|n| n.starts_with('.') && n.contains(".tmp-"))
            .map(|n| env.path().join("backups").join(n))
            .filter(|p| {
                std::fs::read_to_string(p.join("step.pid")).is_ok_and(|s| s.ends_with('\n'))
            });
        found.is_some()
    });
    let tmp = found.unwrap();
    let pid = std::fs::read_to_string(tmp.join("step.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (tmp, pid)
}

#[test]
fn a_run_killed_mid_backup_leaves_no_generation_and_the_next_run_cleans_up() {
    let env = Env::new();
    app(&env, 200, true);
    runbook(&env, SLOW_STEP, "");
    let child = spawn(&env, &["backup", "run", "--var", "pause=30"], None);
    let (tmp, step_pid) = temp_generation(&env);
    // The database was already copied into the temporary generation.
    assert!(tmp.join("app.db").exists());
    signal(&child, rustix::process::Signal::KILL);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), None, "killed");
    // The orphaned sleep is this test's to clean up (SIGKILL gave opsrun no chance).
    if let Some(p) = rustix::process::Pid::from_raw(step_pid) {
        let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
    }
    // Half a generation is on disk, but nothing that looks like one.
    assert!(tmp.exists());
    assert!(generations(&env).is_empty(), "{:?}", entries(&env));
    let r = env.run(&["backup", "verify", "-f", "json", "--var", "pause=0"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        check(&json(&r), "latest")["message"]
            .as_str()
            .unwrap()
            .contains("no backup matching `20*`"),
        "{}",
        r.stdout
    );
    // The next run removes the dead run's leftovers and succeeds.
    let r = env.run(&["backup", "run", "--var", "pause=0", "-f", "json", "-v"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    let detail = check(&doc, "generation")["detail"].to_string();
    assert!(
        detail.contains("left by a run that no longer exists"),
        "{detail}"
    );
    assert!(!tmp.exists());
    assert_eq!(generations(&env).len(), 1);
    assert!(!entries(&env).iter().any(|n| n.starts_with('.')));
    // The step ran inside the generation: its pid file is part of it.
    let g = env.path().join("backups").join(&generations(&env)[0]);
    assert!(g.join("step.pid").exists());
}

fn interrupted_run(sig: rustix::process::Signal, code: i32) {
    let env = Env::new();
    app(&env, 200, true);
    runbook(&env, SLOW_STEP, "");
    let child = spawn(
        &env,
        &["backup", "run", "--var", "pause=40", "-f", "json"],
        None,
    );
    let (tmp, step_pid) = temp_generation(&env);
    let started = Instant::now();
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "did not stop promptly"
    );
    assert_eq!(out.status.code(), Some(code));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(check(&doc, "pause")["message"], "interrupted");
    assert_eq!(check(&doc, "generation")["status"], "unknown");
    assert!(!tmp.exists(), "temporary generation left behind");
    assert!(entries(&env).is_empty(), "{:?}", entries(&env));
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(step_pid), "the step's process survived");
}

#[test]
fn ctrl_c_during_a_run_removes_the_temporary_generation() {
    interrupted_run(rustix::process::Signal::INT, 130);
}

#[test]
fn sigterm_during_a_run_removes_the_temporary_generation() {
    interrupted_run(rustix::process::Signal::TERM, 143);
}

#[test]
fn a_failed_action_publishes_nothing_and_counts_as_a_failed_backup() {
    let env = Env::new();
    app(&env, 50, false);
    runbook(&env, "", "");
    // A good generation first: the `backup` check alone would still pass.
    let r = env.run(&["backup", "run", "--now", "2025-10-20T02:00:00+09:00"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    std::fs::remove_file(env.path().join("app/.env")).unwrap();
    let r = env.run(&[
        "backup",
        "run",
        "-f",
        "json",
        "--now",
        "2025-10-21T02:00:00+09:00",
    ]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let doc = json(&r);
    assert_eq!(check(&doc, "db")["status"], "pass");
    let env_row = check(&doc, "env");
    assert_eq!(env_row["status"], "fail");
    assert!(
        env_row["message"]
            .as_str()
            .unwrap()
            .ends_with("app/.env does not exist"),
        "{env_row}"
    );
    assert_eq!(code(&doc, "env"), "backup.source.missing");
    assert!(
        env_row["reason"]["params"]["path"]
            .as_str()
            .unwrap()
            .ends_with("app/.env")
    );
    assert_eq!(code(&doc, "uploads"), "backup.not_run");
    assert_eq!(check(&doc, "uploads")["reason"]["params"]["action"], "env");
    assert_eq!(check(&doc, "uploads")["status"], "skip");
    assert_eq!(
        check(&doc, "uploads")["message"],
        "not run: action `env` failed"
    );
    let g = check(&doc, "generation");
    assert_eq!(g["status"], "fail");
    assert_eq!(
        g["message"],
        "20251021_020000 not published: action `env` failed; its temporary directory was removed",
        "{g}"
    );
    let codes: Vec<&str> = g["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["backup.not_published", "backup.cleanup"], "{g}");
    let latest = check(&doc, "latest");
    assert_eq!(latest["status"], "fail");
    assert!(
        latest["message"]
            .as_str()
            .unwrap()
            .contains("no new generation from this run")
    );
    assert_eq!(code(&doc, "latest"), "backup.no_new_generation");
    assert_eq!(generations(&env), ["20251020_020000"]);
    assert!(!entries(&env).iter().any(|n| n.starts_with('.')));
    // The same name twice is refused, never overwritten.
    std::fs::write(env.path().join("app/.env"), "X=1\n").unwrap();
    let r = env.run(&[
        "backup",
        "run",
        "-f",
        "json",
        "--now",
        "2025-10-20T02:00:00+09:00",
    ]);
    assert_eq!(r.code, 2);
    let g = check(&json(&r), "generation").clone();
    assert!(
        g["message"].as_str().unwrap().contains("already exists"),
        "{g}"
    );
    assert_eq!(g["reason"]["code"], "backup.exists", "{g}");
    assert_eq!(g["reason"]["params"]["name"], "20251020_020000", "{g}");
    assert_eq!(check(&json(&r), "db")["status"], "skip");
}

#[test]
fn backup_runs_feed_the_weekly_backup_success_line() {
    let env = Env::new();
    app(&env, 20, false);
    runbook(&env, "", "");
    for (day, ok) in [(20, true), (21, false), (22, true)] {
        if ok {
            std::fs::write(env.path().join("app/.env"), "X=1\n").unwrap();
        } else {
            let _ = std::fs::remove_file(env.path().join("app/.env"));
        }
        let now = format!("2025-10-{day}T02:00:00+09:00");
        let r = env.run(&["backup", "run", "--now", &now]);
        assert_eq!(r.code, if ok { 0 } else { 2 }, "{}", r.stdout);
    }
    env.runbook(
        "weekly.yaml",
        // The backup runbook's system: the weekly report reads its rows.
        "version: 1\ntitle: 週次点検\nsystem: AI見積りシステム\nchecks:\n  - {id: ok, command: {run: [\"true\"]}}\n",
    );
    let r = env.run(&[
        "report",
        "weekly",
        "--date",
        "2025-10-26",
        "--now",
        "2025-10-27T10:00:00+09:00",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The failed night counts although the previous generation was fresh;
    // the action rows add no lines of their own.
    assert!(
        r.stdout
            .contains("■ データ・バックアップ\n- 定期バックアップ: 成功 2/3回 (66.7%)\n\n"),
        "{}",
        r.stdout
    );
}

/// Overwrites the middle of a b-tree page with garbage: the file still
/// opens; integrity_check finds it.
fn corrupt(db: &Path) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(db).unwrap();
    f.seek(SeekFrom::Start(9 * 4096)).unwrap();
    f.write_all(&[0xA5; 64]).unwrap();
    f.seek(SeekFrom::Start(9 * 4096 + 1500)).unwrap();
    f.write_all(&[0xFF; 200]).unwrap();
}

fn tmpdir(env: &Env) -> PathBuf {
    let t = env.path().join("tmp");
    std::fs::create_dir_all(&t).unwrap();
    t
}

fn restore_test(env: &Env) -> Run {
    let out = env
        .cmd()
        .args(["backup", "restore-test", "-f", "json", "-v"])
        .env("TMPDIR", tmpdir(env))
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: Duration::ZERO,
    }
}

fn tmp_is_empty(env: &Env) -> bool {
    std::fs::read_dir(tmpdir(env)).unwrap().next().is_none()
}

#[test]
fn restore_test_checks_the_newest_generation_and_leaves_no_temp_dir() {
    let env = Env::new();
    app(&env, 300, true);
    runbook(&env, "", "");
    // No generation yet: a failure, and no temporary directory made.
    let r = restore_test(&env);
    assert_eq!(r.code, 2);
    let row = check(&json(&r), "restore-test").clone();
    assert!(
        row["message"].as_str().unwrap().contains("does not exist"),
        "{row}"
    );
    assert_eq!(row["reason"]["code"], "backup.no_dir", "{row}");
    assert!(tmp_is_empty(&env));

    assert_eq!(
        env.run(&["backup", "run", "--now", "2025-10-20T02:00:00+09:00"])
            .code,
        0
    );
    // A newer generation with a corrupt database and a truncated archive;
    // the older good one must not be the one tested.
    assert_eq!(
        env.run(&["backup", "run", "--now", "2025-10-21T02:00:00+09:00"])
            .code,
        0
    );
    let bad = env.path().join("backups/20251021_020000");
    let good = env.path().join("backups/20251020_020000");
    let old = SystemTime::now() - Duration::from_secs(86_400);
    std::fs::File::open(&good)
        .unwrap()
        .set_modified(old)
        .unwrap();

    let r = restore_test(&env);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    let row = check(&doc, "restore-test");
    assert_eq!(row["status"], "pass");
    assert_eq!(
        row["value"],
        "20251021_020000: SQLite 1/1 ok, archives 1/1 ok"
    );
    assert!(
        row["detail"]
            .to_string()
            .contains("app.db: integrity_check ok")
    );
    assert!(tmp_is_empty(&env), "temp dir left after success");

    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o700)).unwrap();
    corrupt(&bad.join("app.db"));
    let gz = bad.join("uploads.tar.gz");
    let len = std::fs::metadata(&gz).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&gz)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let r = restore_test(&env);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let doc = json(&r);
    let row = check(&doc, "restore-test");
    assert_eq!(row["status"], "fail");
    let msg = row["message"].as_str().unwrap();
    assert!(
        msg.contains("20251021_020000/app.db: integrity_check"),
        "{msg}"
    );
    assert!(msg.contains("uploads.tar.gz"), "{msg}");
    let codes: Vec<&str> = row["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["backup.integrity", "backup.restore_test.file"],
        "{row}"
    );
    assert_eq!(
        row["reason"]["params"]["file"], "20251021_020000/app.db",
        "{row}"
    );
    assert!(tmp_is_empty(&env), "temp dir left after failure");
    // The backup itself is untouched by the test.
    assert!(bad.join("app.db").exists());
}

#[test]
fn restore_test_without_a_database_warns() {
    let env = Env::new();
    app(&env, 1, false);
    env.runbook(
        "backup.yaml",
        &format!(
            "version: 1\nbackup: {{dir: {b}}}\nactions:\n  - {{id: env, copy: {{from: {a}/.env}}}}\nrestore_test: {{}}\n",
            a = env.path().join("app").display(),
            b = env.path().join("backups").display()
        ),
    );
    assert_eq!(env.run(&["backup", "run"]).code, 0);
    let r = restore_test(&env);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        check(&json(&r), "restore-test")["message"]
            .as_str()
            .unwrap()
            .contains("no SQLite database")
    );
    assert_eq!(
        code(&json(&r), "restore-test"),
        "backup.restore_test.no_database"
    );
    assert!(tmp_is_empty(&env));
}

/// Adds `rows` rows with an index over scattered keys to `db`: about
/// 70 MB for 150 000 rows, whose copy and integrity check take a moment.
fn grow(db: &Path, rows: usize) {
    let c = Connection::open(db).unwrap();
    c.execute_batch(&format!(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {rows})
         INSERT INTO tasks (body)
           SELECT printf('%08x', (i * 2654435761) % 4294967296) || substr(hex(zeroblob(100)), 1, 200) FROM s;
         CREATE INDEX tasks_body ON tasks(body);"
    ))
    .unwrap();
}

#[test]
fn ctrl_c_during_a_restore_test_removes_the_temp_dir() {
    let env = Env::new();
    let a = app(&env, 0, false);
    grow(&a.join("app.db"), 150_000);
    runbook(&env, "", "");
    assert_eq!(env.run(&["backup", "run"]).code, 0);
    let t = tmpdir(&env);
    let child = spawn(&env, &["backup", "restore-test", "-f", "json"], Some(&t));
    wait_for("the temporary copy", Duration::from_secs(30), || {
        std::fs::read_dir(&t).unwrap().next().is_some()
    });
    let started = Instant::now();
    signal(&child, rustix::process::Signal::INT);
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "did not stop promptly"
    );
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = check(&doc, "restore-test");
    assert!(
        row["message"].as_str().unwrap().ends_with("interrupted"),
        "{row}"
    );
    assert_eq!(row["reason"]["code"], "interrupted", "{row}");
    assert!(tmp_is_empty(&env), "temp dir left after Ctrl-C");
}

/// A restore test past its `timeout` fails with the shared `timeout`
/// reason and leaves no temporary copy.
#[test]
fn a_restore_test_past_its_timeout_fails() {
    let env = Env::new();
    app(&env, 20_000, false);
    env.runbook(
        "backup.yaml",
        &format!(
            "version: 1\nbackup: {{dir: {b}}}\nactions:\n  - {{id: db, sqlite_backup: {{source: {a}/app.db}}}}\nrestore_test: {{timeout: 1ms}}\n",
            a = env.path().join("app").display(),
            b = env.path().join("backups").display()
        ),
    );
    let r = env.run(&["backup", "run", "--now", "2025-10-20T02:00:00+09:00"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = restore_test(&env);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let doc = json(&r);
    let row = check(&doc, "restore-test");
    assert_eq!(
        row["message"], "restore test of 20251020_020000 timed out after 1ms",
        "{row}"
    );
    assert_eq!(row["reason"]["code"], "timeout", "{row}");
    assert_eq!(row["reason"]["params"]["after"], 1.0, "{row}");
    assert!(tmp_is_empty(&env), "temp dir left after a timeout");
}

/// Sets the modification time of the directory or file `p` to `days` ago.
fn age(p: &Path, days: u64) {
    let t = SystemTime::now() - Duration::from_secs(days * 86_400);
    std::fs::File::open(p).unwrap().set_modified(t).unwrap();
}

#[test]
fn prune_keeps_min_skips_symlinks_and_foreign_names_and_deletes_only_with_execute() {
    let env = Env::new();
    let b = env.path().join("backups");
    // Five generations, 100 … 96 days old, the oldest holding a symlink
    // to a directory outside; one 10 days old; an old generation that is
    // a file; a symlink matching the pattern that points outside; old
    // entries whose names do not match; a dead run's temporary directory.
    for (i, days) in [100, 99, 98, 97, 96].iter().enumerate() {
        let g = b.join(format!("2025010{}_020000", i + 1));
        std::fs::create_dir_all(&g).unwrap();
        std::fs::write(g.join("app.db"), "db").unwrap();
        if i == 0 {
            std::os::unix::fs::symlink(env.path().join("outside"), g.join("escape")).unwrap();
        }
        age(&g, *days);
    }
    std::fs::create_dir_all(b.join("20250601_020000")).unwrap();
    age(&b.join("20250601_020000"), 10);
    std::fs::write(b.join("20240101.tar.gz"), "old archive").unwrap();
    age(&b.join("20240101.tar.gz"), 400);
    env.write("outside/keep.txt", "must survive");
    std::os::unix::fs::symlink(env.path().join("outside"), b.join("2019_link")).unwrap();
    for foreign in ["manual-copy", "README"] {
        std::fs::create_dir_all(b.join(foreign)).unwrap();
        age(&b.join(foreign), 300);
    }
    std::fs::create_dir_all(b.join(".20250101_020000.tmp-999999")).unwrap();
    env.runbook(
        "backup.yaml",
        &format!(
            "version: 1\nbackup: {{dir: {}, pattern: \"20*\"}}\nprune: {{keep_days: 60, keep_min: 3}}\n",
            b.display()
        ),
    );
    let all_before = {
        let mut v: Vec<_> = std::fs::read_dir(&b)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        v.sort();
        v
    };

    // Dry run: says what would go, deletes nothing.
    let r = env.run(&["backup", "prune"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let would: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("would delete"))
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    // Newest 3 kept (20250601, 20250105, 20250104), the rest past 60 days go.
    assert_eq!(
        would,
        [
            "20250103_020000/",
            "20250102_020000/",
            "20250101_020000/",
            "20240101.tar.gz"
        ],
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("dry run"));
    assert!(r.stdout.contains("--execute"));
    assert!(
        r.stdout.contains("2019_link"),
        "symlinks are listed as skipped"
    );
    assert!(!r.stdout.contains("manual-copy") && !r.stdout.contains("README"));
    let mut after: Vec<_> = std::fs::read_dir(&b)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    after.sort();
    assert_eq!(after, all_before, "a dry run deleted something");

    // JSON says the same.
    let r = env.run(&["backup", "prune", "-f", "json"]);
    let doc = json(&r);
    let deletes: Vec<&str> = doc["generations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["action"] == "delete")
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(deletes.len(), 4);

    let r = env.run(&["backup", "prune", "--execute"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("4 deleted, 0 failed"), "{}", r.stdout);
    let mut left: Vec<String> = std::fs::read_dir(&b)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            ".20250101_020000.tmp-999999",
            "2019_link",
            "20250104_020000",
            "20250105_020000",
            "20250601_020000",
            "README",
            "manual-copy"
        ]
    );
    // Nothing outside `dir` was touched through either symlink.
    assert_eq!(
        std::fs::read_to_string(env.path().join("outside/keep.txt")).unwrap(),
        "must survive"
    );
    // Run again: nothing more goes (keep_min holds).
    let r = env.run(&["backup", "prune", "--execute"]);
    assert!(r.stdout.contains("0 deleted"), "{}", r.stdout);
}

#[test]
fn bad_backup_runbooks_are_load_errors_with_locations() {
    let env = Env::new();
    let cases = [
        (
            "version: 1\nactions:\n  - {id: db, sqlite_backup: {source: app.db}}\n",
            "3:14",
            "add a `backup: {dir: …",
        ),
        (
            "version: 1\nbackup: {dir: /b}\nactions:\n  - {id: r, systemctl: {action: restart, unit: x}}\n",
            "4:13",
            "`systemctl` steps belong in incident runbooks",
        ),
        (
            "version: 1\nbackup: {dir: /b, name: \"backup-%Y%m%d\"}\n",
            "2:9",
            "which pattern `20*` does not match",
        ),
        (
            "version: 1\nbackup: {dir: /b, pattern: \"x/20*\"}\n",
            "2:9",
            "cannot contain `/`",
        ),
        (
            "version: 1\nbackup: {dir: /b, latest: \"2020\"}\n",
            "2:9",
            "would count as a generation",
        ),
        (
            "version: 1\nbackup: {dir: /b}\nprune: {keep_days: 60, keep_min: 0}\n",
            "3:8",
            "keep_min must be at least 1",
        ),
        (
            "version: 1\nprune: {keep_days: 60, keep_min: 7}\n",
            "2:8",
            "`prune` works on the generations of a `backup:",
        ),
        (
            "version: 1\nbackup: {dir: /b}\nactions:\n  - {id: e, copy: {from: /srv/.env, to: /etc/passwd}}\n",
            "4:13",
            "invalid to `/etc/passwd`",
        ),
        (
            "version: 1\nbackup: {dir: /b}\nactions:\n  - {id: e, archive: {from: /srv, to: ../x.tar.gz}}\n",
            "4:13",
            "expected a path inside the new generation",
        ),
        (
            "version: 1\nbackup: {dir: /b}\nactions:\n  - {id: e, copy: {from: /srv, too: x}}\n",
            "4:32",
            "unknown key `too`, did you mean `to`?",
        ),
        (
            "version: 1\nbackup: {dir: /b}\nactions:\n  - {id: e, sqlite_backup: {source: /a.db}, copy: {from: /x}}\n",
            "4:45",
            "exactly one step",
        ),
        (
            "version: 1\nbackup: {dir: /b}\nincident: {level: p1}\n",
            "2:9",
            "not both",
        ),
        (
            "version: 1\nbackup: {dir: /b}\nrestore_test: {check: fast}\n",
            "3:23",
            "unknown variant `fast`, expected one of integrity, quick, none",
        ),
        (
            "version: 1\nbackup: {dir: /b, name: \"%Q\"}\n",
            "2:9",
            "expected a strftime format like %Y%m%d_%H%M%S",
        ),
        (
            "version: 1\nbackup: {dir: /b, nme: x}\n",
            "2:19",
            "unknown key `nme`, did you mean `name`?",
        ),
    ];
    for (yaml, at, want) in cases {
        let p = env.runbook("bad.yaml", yaml);
        let r = env.run(&["validate", p.to_str().unwrap()]);
        assert_eq!(r.code, 3, "{yaml}");
        assert!(
            r.stderr.contains(&format!("bad.yaml:{at}")),
            "{yaml}\nwant location {at}:\n{}",
            r.stderr
        );
        assert!(
            r.stderr.contains(want),
            "{yaml}\nwant {want}:\n{}",
            r.stderr
        );
    }
}

#[test]
fn backup_commands_refuse_what_they_cannot_do() {
    let env = Env::new();
    env.runbook(
        "backup.yaml",
        "version: 1\nchecks:\n  - {id: ok, command: {run: [\"true\"]}}\n",
    );
    for (args, want) in [
        (
            &["backup", "run"][..],
            "no `backup: {dir: …, pattern: …}` block",
        ),
        (
            &["backup", "prune"][..],
            "no `backup: {dir: …, pattern: …}` block",
        ),
        (
            &["backup", "verify", "--execute"][..],
            "--execute is for `opsrun backup prune`",
        ),
        (&["backup", "restore"][..], "invalid value 'restore'"),
    ] {
        let r = env.run(args);
        assert_eq!(r.code, 3, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
    }
    // verify needs no `backup:` block: it is the checks.
    assert_eq!(env.run(&["backup"]).code, 0);
    env.runbook(
        "backup.yaml",
        "version: 1\nbackup: {dir: b}\nchecks:\n  - {id: ok, command: {run: [\"true\"]}}\n",
    );
    let r = env.run(&["backup", "run"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("no `actions:`"), "{}", r.stderr);
    let r = env.run(&["backup", "prune"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("no `prune:"), "{}", r.stderr);
}

/// The shipped runbooks/backup.yaml, pointed at a seed-000-like tree with
/// `--var`, makes a generation that passes its own checks and restore test.
#[test]
fn the_default_backup_runbook_works_on_a_seed_like_tree() {
    let env = Env::new();
    app(&env, 100, true);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let app_var = format!("app_dir={}", env.path().join("app").display());
    let b_var = format!("backup_dir={}", env.path().join("backups").display());
    let common = [
        "-C",
        root.to_str().unwrap(),
        "--var",
        &app_var,
        "--var",
        &b_var,
    ];
    fn with<'a>(first: &[&'a str], common: &[&'a str]) -> Vec<&'a str> {
        let mut v = first.to_vec();
        v.extend_from_slice(common);
        v
    }
    let r = env.run(&with(&["backup", "run", "-f", "json"], &common));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    assert_eq!(doc["summary"]["pass"], 6, "{doc:#}");
    let r = env
        .cmd()
        .args(with(&["backup", "restore-test"], &common))
        .env("TMPDIR", tmpdir(&env))
        .output()
        .unwrap();
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stdout)
    );
    assert!(tmp_is_empty(&env));
    let r = env.run(&with(&["backup", "prune"], &common));
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("nothing to delete, 1 kept"),
        "{}",
        r.stdout
    );
}

/// `opsrun backup run -f json` as `nobody` (via `setpriv`: the suite runs
/// as root, which could read and write everything).
fn run_as_nobody(env: &Env) -> (serde_json::Value, Run) {
    use crate::service_data::chmod;
    let bin = env.path().join("opsrun-copy");
    if !bin.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_opsrun"), &bin).unwrap();
    }
    chmod(&bin, 0o755);
    for d in [env.path(), &env.runbooks()] {
        chmod(d, 0o755);
    }
    chmod(&env.runbooks().join("backup.yaml"), 0o644);
    let state = env.path().join("nobody-state");
    std::fs::create_dir_all(&state).unwrap();
    chmod(&state, 0o777);
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .args(["backup", "run", "-f", "json"])
        .current_dir(env.path())
        .env_remove("OPSRUN_RUNBOOKS")
        .env("OPSRUN_HISTORY", state.join("history.db"))
        .env("HOME", &state)
        .output()
        .expect("setpriv");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: Duration::ZERO,
    };
    (json(&run), run)
}

/// An unreadable source and an unwritable backup directory, seen by an
/// unprivileged user: the backup fails (exit 2) with the OS reason, and
/// nothing is published or left behind.
#[test]
fn permission_problems_fail_the_backup_with_the_reason() {
    if !crate::service_data::is_root() {
        eprintln!("SKIP: needs root to run opsrun as nobody");
        return;
    }
    use crate::service_data::chmod;
    let env = Env::new();
    let a = app(&env, 20, false);
    runbook(&env, "", "");
    for d in [
        a.clone(),
        a.join("uploads"),
        a.join("uploads/2025"),
        a.join("uploads/2025/10"),
    ] {
        chmod(&d, 0o755);
    }
    for f in ["app.db", "uploads/readme.txt", "uploads/2025/10/quote.pdf"] {
        chmod(&a.join(f), 0o644);
    }
    // .env stays 0600 root: nobody cannot read it.
    let b = env.path().join("backups");
    std::fs::create_dir_all(&b).unwrap();
    chmod(&b, 0o777);
    let (doc, r) = run_as_nobody(&env);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert_eq!(check(&doc, "db")["status"], "pass", "{doc:#}");
    let m = check(&doc, "env")["message"].as_str().unwrap().to_owned();
    assert!(
        m.starts_with("cannot read source ") && m.ends_with("app/.env: Permission denied"),
        "{m}"
    );
    assert_eq!(code(&doc, "env"), "backup.source.unreadable");
    assert_eq!(
        check(&doc, "env")["reason"]["params"]["error"],
        "Permission denied"
    );
    assert!(entries(&env).is_empty(), "{:?}", entries(&env));

    // A backup directory nobody cannot write: nothing runs.
    chmod(&a.join(".env"), 0o644);
    chmod(&b, 0o755);
    let (doc, r) = run_as_nobody(&env);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let g = check(&doc, "generation");
    let m = g["message"].as_str().unwrap();
    assert!(
        m.starts_with("cannot create ") && m.ends_with("Permission denied"),
        "{m}"
    );
    assert_eq!(code(&doc, "generation"), "backup.create");
    assert_eq!(check(&doc, "db")["status"], "skip");
    assert_eq!(
        check(&doc, "db")["message"],
        "not run: no generation to write into"
    );
    assert!(entries(&env).is_empty(), "{:?}", entries(&env));

    // One unreadable file deep in the archived tree: named in the reason.
    chmod(&b, 0o777);
    chmod(&a.join("uploads/2025/10/quote.pdf"), 0o600);
    let (doc, r) = run_as_nobody(&env);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let m = check(&doc, "uploads")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        m.contains("app/uploads failed: ")
            && m.ends_with("uploads/2025/10/quote.pdf: Permission denied"),
        "{m}"
    );
    assert_eq!(code(&doc, "uploads"), "backup.archive");
    assert_eq!(check(&doc, "env")["status"], "pass");
    assert!(entries(&env).is_empty(), "{:?}", entries(&env));
}

/// Steps whose source cannot be backed up fail with their reason:
/// copying or archiving the backup directory itself, and a
/// `sqlite_backup` of a directory.
#[test]
fn steps_refuse_the_backup_directory_and_a_directory_as_database() {
    let env = Env::new();
    let b = env.path().join("backups");
    std::fs::create_dir_all(&b).unwrap();
    env.runbook(
        "backup.yaml",
        &format!(
            "version: 1\nbackup: {{dir: {b}}}\nactions:\n  - {{id: db, sqlite_backup: {{source: {b}}}}}\n",
            b = b.display()
        ),
    );
    let r = env.run(&["backup", "run", "-f", "json"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let doc = json(&r);
    assert_eq!(
        check(&doc, "db")["message"],
        format!("source {} is not a database file", b.display())
    );
    assert_eq!(code(&doc, "db"), "backup.source.not_database");
    for (step, want, reason) in [
        (
            "copy",
            "copy of {b} failed: {b} is the backup directory itself",
            "backup.copy",
        ),
        (
            "archive",
            "{b} is the backup directory itself",
            "backup.source.backup_dir",
        ),
    ] {
        env.runbook(
            "backup.yaml",
            &format!(
                "version: 1\nbackup: {{dir: {b}}}\nactions:\n  - {{id: s, {step}: {{from: {b}}}}}\n",
                b = b.display()
            ),
        );
        let r = env.run(&["backup", "run", "-f", "json"]);
        assert_eq!(r.code, 2, "{}", r.stdout);
        let doc = json(&r);
        assert_eq!(
            check(&doc, "s")["message"],
            want.replace("{b}", &b.display().to_string()),
            "{step}"
        );
        assert_eq!(code(&doc, "s"), reason, "{step}");
        assert!(entries(&env).is_empty(), "{:?}", entries(&env));
    }
}

/// A step past its `timeout` fails and is stopped (its temporary
/// generation removed); a `command` step that exits non-zero fails the
/// backup with its exit code, and runs inside the new generation.
#[test]
fn a_slow_step_times_out_and_a_failing_command_fails_the_backup() {
    let env = Env::new();
    app(&env, 20_000, false);
    let a = env.path().join("app");
    let b = env.path().join("backups");
    env.runbook(
        "backup.yaml",
        &format!(
            "version: 1\nbackup: {{dir: {b}}}\nactions:\n  - {{id: db, timeout: 10ms, sqlite_backup: {{source: {a}/app.db}}}}\n",
            a = a.display(),
            b = b.display()
        ),
    );
    let r = env.run(&["backup", "run", "-f", "json"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let doc = json(&r);
    assert_eq!(check(&doc, "db")["message"], "timed out after 10ms");
    assert_eq!(code(&doc, "db"), "timeout");
    assert_eq!(check(&doc, "db")["reason"]["params"]["after"], 10.0);
    assert!(r.elapsed < Duration::from_secs(20), "did not stop in time");
    assert!(entries(&env).is_empty(), "{:?}", entries(&env));

    env.runbook(
        "backup.yaml",
        &format!(
            "version: 1\nbackup: {{dir: {b}}}\nactions:\n  - {{id: env, copy: {{from: {a}/.env}}}}\n  - {{id: check-env, command: {{shell: 'grep -q OPENAI_API_KEY .env && ls .env && exit 4'}}}}\n",
            a = a.display(),
            b = b.display()
        ),
    );
    let r = env.run(&["backup", "run", "-f", "json", "-v"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let doc = json(&r);
    let c = check(&doc, "check-env");
    assert_eq!(c["kind"], "command");
    assert_eq!(c["status"], "fail");
    assert!(c["message"].as_str().unwrap().contains("exit 4"), "{c}");
    assert!(c["detail"].to_string().contains(".env"), "{c}");
    assert!(entries(&env).is_empty(), "{:?}", entries(&env));
}

/// The runbook shown in docs/backup.md loads.
#[test]
fn the_documented_runbook_validates() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/backup.md"))
        .unwrap();
    let start = doc
        .find("```yaml\nversion: 1")
        .expect("a runbook in the docs")
        + 8;
    let end = start + doc[start..].find("```").unwrap();
    let env = Env::new();
    let p = env.runbook("backup.yaml", &doc[start..end]);
    let r = env.run(&["validate", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// `dir` inside the tree being backed up (`/srv/app/backups`): the copy and
/// the archive leave the backup directory out instead of copying the
/// generation being written into itself.
#[test]
fn a_backup_dir_inside_the_source_is_left_out() {
    let env = Env::new();
    let a = app(&env, 10, false);
    let b = a.join("backups");
    env.runbook(
        "backup.yaml",
        &format!(
            "version: 1\nbackup: {{dir: {b}}}\nactions:\n  - {{id: tree, copy: {{from: {a}}}}}\n  - {{id: tar, archive: {{from: {a}}}}}\n",
            a = a.display(),
            b = b.display()
        ),
    );
    // Twice: the second run sees the first generation under app/backups.
    for now in ["2025-10-20T02:00:00+09:00", "2025-10-21T02:00:00+09:00"] {
        let r = env.run(&["backup", "run", "-f", "json", "-v", "--now", now]);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let doc = json(&r);
        for id in ["tree", "tar"] {
            assert!(
                check(&doc, id)["detail"]
                    .to_string()
                    .contains("(the backup directory, skipped)"),
                "{id}: {doc:#}"
            );
        }
    }
    let g = b.join("20251021_020000");
    assert!(g.join("app/app.db").exists());
    assert!(!g.join("app/backups").exists());
    let f = std::fs::File::open(g.join("app.tar.gz")).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"app/app.db".to_owned()), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("app/backups")),
        "{names:?}"
    );
}

/// `backup prune` text and JSON, word for word (golden): fixed
/// modification times and `--now`, the temporary path replaced. Covers
/// every line a plan and an execution can print: keep (newest, within),
/// would delete, skip (symlink), deleted and the summaries.
#[test]
fn prune_output_is_golden() {
    use chrono::DateTime;
    let env = Env::new();
    let b = env.path().join("backups");
    let at = |p: &Path, rfc: &str| {
        let t = DateTime::parse_from_rfc3339(rfc).unwrap();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(t.timestamp() as u64);
        std::fs::File::open(p).unwrap().set_modified(t).unwrap();
    };
    for (name, rfc) in [
        ("20251020_020000", "2025-10-20T02:00:00+09:00"),
        ("20251001_020000", "2025-10-01T02:00:00+09:00"),
        ("20250801_020000", "2025-08-01T02:00:00+09:00"),
        ("20250701_020000", "2025-07-01T02:00:00+09:00"),
    ] {
        std::fs::create_dir_all(b.join(name)).unwrap();
        at(&b.join(name), rfc);
    }
    std::fs::write(b.join("20240101.tar.gz"), "old").unwrap();
    at(&b.join("20240101.tar.gz"), "2024-01-01T02:00:00+09:00");
    std::os::unix::fs::symlink("20251020_020000", b.join("2099_link")).unwrap();
    env.runbook(
        "backup.yaml",
        &format!(
            "version: 1\nbackup: {{dir: {}, pattern: \"20*\"}}\nprune: {{keep_days: 60, keep_min: 1}}\n",
            b.display()
        ),
    );
    let now = "2025-10-21T09:00:00+09:00";
    let dir = b.display().to_string();
    // The symlink's own mtime is the time the test ran: not golden.
    let clean = |s: &str| {
        let s = s.replace(&dir, "BACKUPS");
        regex::Regex::new(r"2099_link( +)\d{4}-\d\d-\d\d \d\d:\d\d \(\d+日前\)")
            .unwrap()
            .replace_all(&s, "2099_link${1}TIME")
            .into_owned()
    };
    let r = env.run(&["backup", "prune", "--now", now]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("prune_dry_run", clean(&r.stdout));
    let r = env.run(&["backup", "prune", "-f", "json", "--now", now]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut doc = json(&r);
    for g in doc["generations"].as_array_mut().unwrap() {
        if g["symlink"].is_string() {
            g["mtime"] = "TIME".into();
        }
    }
    doc["dir"] = "BACKUPS".into();
    insta::assert_snapshot!(
        "prune_dry_run_json",
        serde_json::to_string_pretty(&doc).unwrap()
    );
    let r = env.run(&["backup", "prune", "--execute", "--now", now]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("prune_execute", clean(&r.stdout));
    let r = env.run(&["backup", "prune", "--execute", "--now", now]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("prune_nothing_left", clean(&r.stdout));
}

/// What `backup run` and `backup restore-test` say on success, word for
/// word (golden): each row's value, message and detail lines, with the
/// temporary paths and the sizes (compression varies) replaced.
#[test]
fn backup_narration_is_golden() {
    let env = Env::new();
    app(&env, 20, false);
    runbook(&env, "", "");
    let root = env.path().display().to_string();
    let rows = |r: &Run| {
        let doc = json(r);
        let mut out = String::new();
        // `latest` is the `backup` check: its times are the test's own.
        for c in doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["id"] != "latest")
        {
            out.push_str(&format!(
                "{} [{}] value={} message={}\n",
                c["id"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["value"],
                c["message"]
            ));
            for d in c["detail"].as_array().into_iter().flatten() {
                out.push_str(&format!("    {}\n", d.as_str().unwrap()));
            }
        }
        let out = out.replace(&root, "ROOT");
        let out = regex::Regex::new(r"opsrun-restore-test-\d+-[0-9a-f]+")
            .unwrap()
            .replace_all(&out, "opsrun-restore-test-X");
        regex::Regex::new(r"\d+(\.\d+)?(B|kB|MB)\b")
            .unwrap()
            .replace_all(&out, "SIZE")
            .into_owned()
    };
    let r = env.run(&[
        "backup",
        "run",
        "-f",
        "json",
        "--now",
        "2025-10-21T02:00:00+09:00",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    insta::assert_snapshot!("backup_run_rows", rows(&r));
    let r = restore_test(&env);
    assert_eq!(r.code, 0, "{}", r.stdout);
    insta::assert_snapshot!("restore_test_rows", rows(&r));
}
