//! The engine: order, selection, severity, exit code for every status mix,
//! `-q`, and Ctrl-C/SIGTERM during slow checks (SPEC §9: partial results
//! printed, the rest `unknown: interrupted`, the run recorded, temporary
//! files removed, exit 130/143).

use std::time::{Duration, Instant};

use crate::common::{Env, check};

/// A command check that ends in the given status.
fn status_check(id: &str, status: &str) -> String {
    match status {
        "pass" => format!("  - id: {id}\n    command: {{run: [\"true\"]}}\n"),
        "warn" => format!("  - id: {id}\n    command: {{shell: 'echo 5', value: {{warn: 1}}}}\n"),
        "fail" => format!("  - id: {id}\n    command: {{run: [\"false\"]}}\n"),
        "unknown" => format!("  - id: {id}\n    command: {{run: [/nonexistent/x]}}\n"),
        _ => unreachable!(),
    }
}

#[test]
fn exit_code_for_every_status_mix() {
    let cases: &[(&[&str], i32)] = &[
        (&[], 0),
        (&["pass"], 0),
        (&["pass", "pass"], 0),
        (&["warn"], 1),
        (&["pass", "warn"], 1),
        (&["fail"], 2),
        (&["warn", "fail"], 2),
        (&["unknown"], 3),
        (&["pass", "unknown"], 3),
        (&["unknown", "warn"], 1),
        (&["unknown", "fail"], 2),
        (&["pass", "warn", "fail", "unknown"], 2),
    ];
    let env = Env::new();
    for (mix, want) in cases {
        let body: String = mix
            .iter()
            .enumerate()
            .map(|(i, s)| status_check(&format!("c{i}"), s))
            .collect();
        env.runbook(
            "t.yaml",
            &format!(
                "version: 1\nchecks:\n{}",
                if body.is_empty() {
                    "  []\n".to_string()
                } else {
                    body
                }
            )
            .replace("checks:\n  []", "checks: []"),
        );
        let r = env.run(&["run", "t"]);
        assert_eq!(r.code, *want, "{mix:?}: {}{}", r.stdout, r.stderr);
    }
}

#[test]
fn skipped_checks_do_not_change_the_exit_code() {
    let env = Env::new();
    env.runbook(
        "t.yaml",
        &format!(
            "version: 1\nchecks:\n{}{}",
            status_check("good", "pass"),
            status_check("bad", "fail")
        ),
    );
    let r = env.run(&["run", "t", "--skip", "bad", "-f", "json"]);
    assert_eq!(r.code, 0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(check(&doc, "bad")["status"], "skip");
    assert_eq!(check(&doc, "bad")["message"], "skipped by --skip");
    let r = env.run(&["run", "t", "--only", "bad"]);
    assert_eq!(r.code, 2);
}

#[test]
fn tags_select_checks() {
    let env = Env::new();
    env.runbook(
        "t.yaml",
        "version: 1\nchecks:\n  - id: a\n    tags: [web]\n    command: {run: [\"true\"]}\n  - id: b\n    tags: [db]\n    command: {run: [\"false\"]}\n",
    );
    assert_eq!(env.run(&["run", "t", "--tag", "web"]).code, 0);
    assert_eq!(env.run(&["run", "t", "--tag", "db,web"]).code, 2);
    let r = env.run(&["run", "t", "--tag", "wbe"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("did you mean `web`"), "{}", r.stderr);
}

#[test]
fn severity_warn_caps_a_failure() {
    let env = Env::new();
    let (doc, r) =
        env.run_checks("  - id: soft\n    severity: warn\n    command: {run: [\"false\"]}\n");
    assert_eq!(r.code, 1);
    assert_eq!(check(&doc, "soft")["status"], "warn");
}

#[test]
fn results_keep_runbook_order_whatever_finishes_first() {
    let env = Env::new();
    let body: String = (0..8)
        .map(|i| {
            format!(
                "  - id: c{i}\n    command: {{shell: 'sleep 0.{}'}}\n",
                8 - i
            )
        })
        .collect();
    let (doc, _) = env.run_checks(&body);
    let ids: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"]);
}

#[test]
fn concurrency_one_still_finishes_every_check() {
    let env = Env::new();
    let body: String = (0..5)
        .map(|i| format!("  - id: c{i}\n    command: {{run: [\"true\"]}}\n"))
        .collect();
    env.runbook("t.yaml", &format!("version: 1\nchecks:\n{body}"));
    let r = env.run(&["run", "t", "--concurrency", "1", "-f", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["summary"]["pass"], 5);
}

#[test]
fn quiet_prints_nothing_when_all_pass_and_everything_otherwise() {
    let env = Env::new();
    env.runbook(
        "ok.yaml",
        &format!("version: 1\nchecks:\n{}", status_check("a", "pass")),
    );
    env.runbook(
        "bad.yaml",
        &format!("version: 1\nchecks:\n{}", status_check("a", "warn")),
    );
    let r = env.run(&["run", "ok", "-q"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
    let r = env.run(&["run", "bad", "-q"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("WARN"));
}

#[test]
fn several_runbooks_in_one_run() {
    let env = Env::new();
    env.runbook(
        "a.yaml",
        &format!("version: 1\nchecks:\n{}", status_check("x", "pass")),
    );
    env.runbook(
        "b.yaml",
        &format!("version: 1\nchecks:\n{}", status_check("y", "warn")),
    );
    let r = env.run(&["run", "a", "b", "-f", "json"]);
    assert_eq!(r.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 2);
}

fn interrupt(signal: i32, want_code: i32) {
    let env = Env::new();
    // A sleep length unique to this test, so parallel tests don't see each other's.
    let sleep = format!("sleep {}", 40 + signal);
    env.runbook(
        "t.yaml",
        &format!("version: 1\nchecks:\n  - id: quick\n    command: {{run: [\"true\"]}}\n  - id: slow\n    timeout: 60s\n    command: {{shell: '{sleep}'}}\n  - id: slower\n    timeout: 60s\n    command: {{shell: '{sleep}; true'}}\n"),
    );
    // A private TMPDIR and an output directory: after the interrupt both
    // hold nothing but the finished outputs.
    let tmp = env.path().join("tmp");
    let out = env.path().join("out");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    // In a session of its own: the sleeping commands are looked for
    // there, not among every process on the machine.
    let child = env
        .session_cmd()
        .args(["run", "t", "--color", "never"])
        .arg("--output")
        .arg(format!("json={}", out.join("run.json").display()))
        .arg("--output")
        .arg(format!("prometheus={}", out.join("opsrun.prom").display()))
        .env("OPSRUN_HISTORY", env.path().join("h.db"))
        .env("TMPDIR", &tmp)
        .spawn()
        .unwrap();
    let session = child.id();
    std::thread::sleep(Duration::from_millis(800));
    let started = Instant::now();
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::from_named_raw(signal).unwrap(),
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "did not stop promptly"
    );
    assert_eq!(output.status.code(), Some(want_code));
    assert!(want_code >= 3);

    // The partial table on stdout.
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("PASS") && table.contains("quick"), "{table}");
    assert_eq!(
        table
            .lines()
            .filter(|l| l.contains("UNKNOWN") && l.contains("interrupted"))
            .count(),
        2,
        "{table}"
    );
    assert!(
        table.contains("1 pass · 0 warn · 0 fail · 2 unknown"),
        "{table}"
    );

    // The same in the JSON written with --output.
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(check(&doc, "quick")["status"], "pass");
    for id in ["slow", "slower"] {
        assert_eq!(check(&doc, id)["status"], "unknown");
        assert_eq!(check(&doc, id)["message"], "interrupted");
    }
    assert_eq!(doc["interrupted"], true);

    // Recorded in history, as interrupted, with every check.
    let db = rusqlite::Connection::open(env.path().join("h.db")).unwrap();
    let (runs, interrupted): (i64, i64) = db
        .query_row("SELECT COUNT(*), SUM(interrupted) FROM runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((runs, interrupted), (1, 1));
    let slow: (String, String) = db
        .query_row(
            "SELECT status, message FROM result_rows WHERE check_id = 'slow'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(slow, ("unknown".to_owned(), "interrupted".to_owned()));

    // No temporary file left anywhere opsrun writes.
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    let mut outputs: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    outputs.sort();
    assert_eq!(outputs, ["opsrun.prom", "run.json"]);

    // The sleeping commands went with the run: nothing is left in the
    // run's session.
    let left = crate::common::session_after(session, Duration::from_secs(10));
    assert!(
        left.is_empty(),
        "{sleep}: left after the interrupt: {left:?}"
    );
}

#[test]
fn sigint_prints_partial_results_and_exits_130() {
    interrupt(2, 130);
}

#[test]
fn sigterm_prints_partial_results_and_exits_143() {
    interrupt(15, 143);
}

/// A SIGTERM in the first instant of a large run (issue 15: it used to
/// kill opsrun before its handler existed — no report, no record): the
/// handler is installed before the runbooks load, so the signal is sent
/// as soon as it exists, while the 500-check runbook loads; the run then
/// prints every check as interrupted, records the run (or, when loading
/// and recording take more than the 2 s history gets after a signal,
/// says it could not) and exits 143.
#[test]
fn sigterm_while_a_large_run_loads_ends_with_143_and_its_results() {
    let env = Env::new();
    let mut yaml = String::from("version: 1\nchecks:\n");
    for i in 0..500 {
        yaml.push_str(&format!(
            "  - id: c{i}\n    timeout: 60s\n    command: {{shell: 'sleep 64'}}\n"
        ));
    }
    env.runbook("big.yaml", &yaml);
    let child = env
        .session_cmd()
        .args(["run", "big", "-f", "json"])
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(
        crate::common::wait_for_handler(pid, 15, Duration::from_secs(30)),
        "no SIGTERM handler"
    );
    crate::common::signal(&child, 15);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stdout}{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["interrupted"], true);
    let checks = doc["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 500);
    assert!(
        checks
            .iter()
            .all(|c| c["status"] == "unknown" && c["message"] == "interrupted"),
        "{doc:#}"
    );
    let db = rusqlite::Connection::open(env.path().join("history.db")).unwrap();
    let recorded: Option<i64> = db
        .query_row("SELECT interrupted FROM runs", [], |r| r.get(0))
        .ok();
    assert!(
        recorded == Some(1) || stderr.contains("could not record this run in history"),
        "{recorded:?} {stderr}"
    );
    let left = crate::common::session_after(pid, Duration::from_secs(10));
    assert!(left.is_empty(), "left behind: {left:?}");
}
