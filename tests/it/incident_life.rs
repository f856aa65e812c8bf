//! Incidents have a life (SPEC §10.3): one history row per incident,
//! joined by later calls, recovered by a passing verify (or healthy
//! diagnostics), closed by `opsrun incident close`, listed by `opsrun
//! incident list`, counted by weekly and monthly reports — all through
//! the real binary on a real history file. The outage is a file: the
//! diagnostics check `test -f healthy` in the runbook directory and the
//! recovery action creates it.

use crate::common::outage::{self, Names, healthy};
use crate::common::{Env, Run, hostname, redact};

const SYSTEM: &str = "テストシステム";

const OUTAGE: Names = Names {
    system: SYSTEM,
    scope: "サービス停止",
    escalation: "上位者",
    check: ("health", "ヘルス"),
    action: ("fix", "復旧"),
};

fn incident_runbook(level: &str, name: &str) -> String {
    outage::incident_runbook(&OUTAGE, &format!("{level} 障害対応"), level, name)
}

fn env() -> Env {
    let env = Env::new();
    env.runbook("incident-p1.yaml", &incident_runbook("p1", "緊急"));
    env.runbook("incident-p3.yaml", &incident_runbook("p3", "注意"));
    for (name, title) in [("weekly", "週次点検"), ("monthly", "月次点検")] {
        env.runbook(
            &format!("{name}.yaml"),
            &format!(
                "version: 1\ntitle: {title}\nsystem: {SYSTEM}\nchecks:\n  - id: ok\n    label: 確認\n    command: {{shell: 'true'}}\n"
            ),
        );
    }
    env
}

/// `opsrun incident LEVEL --now 2025-10-DD` + `extra`.
fn call(env: &Env, level: &str, now: &str, extra: &[&str]) -> Run {
    let now = format!("2025-10-{now}:00+09:00");
    let mut args = vec!["incident", level, "--now", &now, "--reporter", "担当A"];
    args.extend_from_slice(extra);
    env.run(&args)
}

fn one(env: &Env, sql: &str) -> i64 {
    rusqlite::Connection::open(env.path().join("history.db"))
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// Times and durations that follow the wall clock (a verify's time is
/// the run's clock plus the time spent) become placeholders.
fn redact_times(s: &str) -> String {
    let s = redact(s, &hostname());
    let s = regex::Regex::new(r"(T\d\d:\d\d):\d\d(\.\d+)?")
        .unwrap()
        .replace_all(&s, "$1:SS")
        .into_owned();
    regex::Regex::new(r#""time_to_recover_s": \d+"#)
        .unwrap()
        .replace_all(&s, r#""time_to_recover_s": N"#)
        .into_owned()
}

/// Four incidents of one system in the week of 2025-10-21:
/// #1 P3 raised to P1 by a second call, recovered by `--execute`'s
///    verify after 20 minutes, looked at again (joined, not counted),
///    closed with a note;
/// #2 P3 from `--since 02:50`, recovered by healthy diagnostics at 04:00
///    (1時間10分);
/// #3 P1, still open;
/// #4 P1 forced with `--new` while #3 is open, closed without recovery.
fn seed(env: &Env) {
    healthy(env, false);
    let r = call(env, "p3", "21T10:00", &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("incident #1 opened (P3, テストシステム, opened 2025-10-21 10:00)"),
        "{}",
        r.stderr
    );
    // The second call joins and raises the level; its header speaks of
    // the incident's start, not of this call.
    let r = call(env, "p1", "21T10:10", &[]);
    assert!(
        r.stderr
            .contains("incident #1 joined (P1, テストシステム, opened 2025-10-21 10:00; call 2)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("発生: 2025-10-21 10:00 (発生から10分)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("インシデント #1 に合流（2回目、P1）\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("■ 発生時刻: 2025-10-21 10:00"),
        "{}",
        r.stdout
    );
    let r = call(env, "p1", "21T10:20", &["--execute", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("■ 現在の状況: 復旧済み"), "{}", r.stdout);
    assert!(
        r.stderr.contains(
            "incident #1 joined (P1, テストシステム, opened 2025-10-21 10:00, recovered; call 3)"
        ),
        "{}",
        r.stderr
    );
    // Looking again after the recovery joins it; it stays recovered.
    let r = call(env, "p1", "21T10:30", &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("incident #1 joined"), "{}", r.stderr);
    let r = env.run(&[
        "incident",
        "close",
        "--note",
        "原因: ディスク満杯",
        "--now",
        "2025-10-21T11:00:00+09:00",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "incident #1 closed (P1, テストシステム, opened 2025-10-21 10:00, recovered after 20m)\n"
    );

    healthy(env, false);
    let r = call(env, "p3", "23T03:00", &["--since", "02:50"]);
    assert!(
        r.stderr
            .contains("incident #2 opened (P3, テストシステム, opened 2025-10-23 02:50)"),
        "{}",
        r.stderr
    );
    healthy(env, true);
    let r = call(env, "p3", "23T04:00", &[]);
    assert!(
        r.stderr.contains(
            "incident #2 joined (P3, テストシステム, opened 2025-10-23 02:50, recovered; call 2)"
        ),
        "{}",
        r.stderr
    );

    // Two days after #2 recovered: a new outage, not #2 again.
    healthy(env, false);
    let r = call(env, "p1", "25T09:00", &[]);
    assert!(r.stderr.contains("incident #3 opened"), "{}", r.stderr);
    let r = call(env, "p1", "25T09:05", &["--new"]);
    assert!(
        r.stderr
            .contains("incident #4 opened (P1, テストシステム, opened 2025-10-25 09:05)"),
        "{}",
        r.stderr
    );
    let r = env.run(&[
        "incident",
        "close",
        "4",
        "--now",
        "2025-10-25T09:30:00+09:00",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn calls_join_one_incident_which_recovers_and_closes() {
    let env = env();
    seed(&env);
    assert_eq!(one(&env, "SELECT COUNT(*) FROM incidents"), 4);
    assert_eq!(one(&env, "SELECT COUNT(*) FROM incident_calls"), 8);
    assert_eq!(
        one(
            &env,
            "SELECT COUNT(*) FROM incident_calls WHERE incident_id = 1"
        ),
        4
    );
    let list = env.run(&["incident", "list", "--now", "2025-10-28T09:00:00+09:00"]);
    assert_eq!(list.code, 0, "{list:?}");
    let path = env.path().join("history.db").display().to_string();
    insta::assert_snapshot!(
        "incident_list",
        redact_times(&list.stdout).replace(&path, "HISTORY")
    );
    let json = env.run(&[
        "incident",
        "list",
        "-f",
        "json",
        "--now",
        "2025-10-28T09:00:00+09:00",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc[0]["state"], "closed");
    assert_eq!(doc[0]["level"], "p1");
    assert_eq!(doc[0]["calls"], 4);
    assert_eq!(doc[0]["note"], "原因: ディスク満杯");
    assert_eq!(doc[2]["state"], "open");
    insta::assert_snapshot!("incident_list_json", redact_times(&json.stdout));
    // `--since` limits to what opened in the window, plus what is not
    // closed.
    let r = env.run(&[
        "incident",
        "list",
        "--since",
        "1d",
        "-f",
        "json",
        "--now",
        "2025-10-28T09:00:00+09:00",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<i64> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![2, 3], "#2 recovered but is not closed");
}

/// History shows where the incident stands, not the FAIL its first
/// diagnosis found.
#[test]
fn history_does_not_show_a_recovered_incident_as_fail() {
    let env = env();
    healthy(&env, false);
    call(&env, "p1", "21T10:00", &[]);
    let r = call(&env, "p1", "21T10:05", &["--execute", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = env.run(&["history", "--now", "2025-10-21T11:00:00+09:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    let rows: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.contains("incident-p1"))
        .collect();
    assert_eq!(rows.len(), 2, "{}", r.stdout);
    for row in rows {
        assert!(row.contains("RECOVERED #1"), "{row}");
        assert!(!row.contains("FAIL"), "{row}");
    }
    let r = env.run(&[
        "history",
        "-f",
        "json",
        "--now",
        "2025-10-21T11:00:00+09:00",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        doc[0]["incident"],
        serde_json::json!({"id": 1, "state": "recovered"})
    );
    assert_eq!(
        doc[0]["status"], "fail",
        "the diagnostics' own status stays"
    );
}

/// A diagnosis-only call whose every check passes opens nothing: someone
/// looked and nothing is wrong. `--new` records one anyway.
#[test]
fn a_healthy_diagnosis_opens_no_incident() {
    let env = env();
    healthy(&env, true);
    let r = call(&env, "p1", "21T10:00", &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("no incident recorded"), "{}", r.stderr);
    assert_eq!(one(&env, "SELECT COUNT(*) FROM incidents"), 0);
    // Its run is still in history.
    assert_eq!(one(&env, "SELECT COUNT(*) FROM runs"), 1);
    let r = call(&env, "p1", "21T10:05", &["--new"]);
    assert!(r.stderr.contains("incident #1 opened"), "{}", r.stderr);
    // `--only` passing does not prove recovery: the incident stays open.
    healthy(&env, false);
    let r = call(&env, "p3", "21T10:10", &[]);
    assert!(r.stderr.contains("incident #1 joined"), "{}", r.stderr);
    // A P3 call does not lower the P1 incident it joins: the header and
    // the 障害報告 say P1.
    assert!(
        r.stdout.contains("インシデント #1 に合流（2回目、P1）\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("■ 障害レベル: P1（緊急）"),
        "{}",
        r.stdout
    );
    healthy(&env, true);
    let r = call(&env, "p3", "21T10:15", &["--only", "health"]);
    assert!(r.stderr.contains("incident #1 joined (P1"), "{}", r.stderr);
    assert!(!r.stderr.contains("recovered"), "{}", r.stderr);
}

#[test]
fn close_without_an_open_incident_is_one_clear_error() {
    let env = env();
    let r = env.run(&["incident", "close"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(
        r.stderr,
        format!(
            "error: no incident to close: no history yet at {}\n",
            env.path().join("history.db").display()
        )
    );
    healthy(&env, false);
    call(&env, "p1", "21T10:00", &[]);
    let r = env.run(&["incident", "close", "7"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (3, "error: no incident #7 in history\n")
    );
    let r = env.run(&["incident", "close", "--now", "2025-10-21T10:30:00+09:00"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("no recovery recorded"), "{}", r.stdout);
    let r = env.run(&["incident", "close"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(
        r.stderr,
        "error: no open incident of テストシステム to close (`opsrun incident list` shows them)\n"
    );
    let r = env.run(&["incident", "close", "1"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            3,
            "error: incident #1 is already closed (at 2025-10-21 10:30)\n"
        )
    );
    // A closed incident is not joined: the next call opens #2.
    let r = call(&env, "p1", "21T10:40", &[]);
    assert!(r.stderr.contains("incident #2 opened"), "{}", r.stderr);
}

/// Weekly and monthly reports count incidents (not calls) by level, and
/// the average time to recover.
#[test]
fn weekly_and_monthly_count_incidents_not_calls() {
    let env = env();
    seed(&env);
    let r = env.run(&[
        "report",
        "weekly",
        "--date",
        "2025-10-27",
        "--runbook",
        "weekly",
        "--now",
        "2025-10-28T09:00:00+09:00",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("- インシデント数: 4件 (P1: 3件, P3: 1件)\n- 平均復旧時間: 45分\n"),
        "{}",
        r.stdout
    );
    insta::assert_snapshot!("incident_weekly_report", r.stdout);
    let r = env.run(&[
        "report",
        "monthly",
        "--month",
        "2025-10",
        "--runbook",
        "monthly",
        "--now",
        "2025-11-01T10:00:00+09:00",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("P3（注意） 異常: ヘルス → 復旧（1時間10分）"),
        "{}",
        r.stdout
    );
    insta::assert_snapshot!("incident_monthly_report", r.stdout);
}

/// Ctrl-C typed on a real terminal (`script` gives opsrun a
/// pseudo-terminal; the terminal turns ^C into SIGINT for its foreground
/// process group) while a recovery step runs: exit 130, the 障害報告 says
/// 中断 for the step and for the incident, and history records the call
/// as interrupted without marking the incident recovered.
#[test]
fn ctrl_c_on_a_terminal_during_a_step_says_interrupted() {
    use std::io::{Read, Write};
    let env = env();
    env.runbook(
        "incident-p2.yaml",
        &format!(
            "version: 1\ntitle: P2\nsystem: {SYSTEM}\nincident: {{level: p2, scope: 一部停止}}\nchecks:\n  - id: health\n    label: ヘルス\n    command: {{shell: 'test -f healthy'}}\nactions:\n  - id: slow\n    title: 遅い復旧\n    timeout: 60s\n    command: {{shell: 'touch acting; sleep 63'}}\n  - id: after\n    title: 後続\n    command: {{shell: 'touch healthy'}}\nverify: {{checks: [health]}}\n"
        ),
    );
    let cmd = format!(
        "{} incident p2 --execute --yes --now 2025-10-21T10:26:00+09:00 --since 10:23 --reporter 担当A",
        env!("CARGO_BIN_EXE_opsrun")
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(env.path())
        .env("OPSRUN_HISTORY", env.path().join("history.db"))
        .env_remove("OPSRUN_RUNBOOKS")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    let mut stdin = child.stdin.take().unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = out.read_to_end(&mut all);
        all
    });
    if !crate::common::wait_for_file(
        &env.runbooks().join("acting"),
        std::time::Duration::from_secs(60),
    ) {
        crate::common::signal(&child, 9);
        panic!("the step never started");
    }
    // ^C on the terminal.
    stdin.write_all(b"\x03").unwrap();
    stdin.flush().unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    let stdout = String::from_utf8_lossy(&reader.join().unwrap()).replace("\r\n", "\n");
    assert_eq!(status.code(), Some(130), "{stdout}");
    let rep = &stdout[stdout.find("【障害報告】").expect("障害報告")..];
    assert!(
        rep.contains("■ 現在の状況: 中断（復旧手順の途中で SIGINT により停止、復旧未確認）"),
        "{rep}"
    );
    assert!(rep.contains("- 遅い復旧実施 → 中断（SIGINT）"), "{rep}");
    assert!(!env.runbooks().join("healthy").exists(), "a later step ran");
    assert_eq!(
        one(
            &env,
            "SELECT COUNT(*) FROM incident_calls WHERE outcome = 'interrupted'"
        ),
        1
    );
    assert_eq!(
        one(
            &env,
            "SELECT COUNT(*) FROM incidents WHERE recovered_ms IS NULL"
        ),
        1
    );
}

/// `--only`, `--skip` and `--tag` select the diagnostics of an incident
/// runbook as they select the checks of a daily run.
#[test]
fn only_skip_and_tag_select_the_diagnostics() {
    let env = env();
    env.runbook(
        "incident-p2.yaml",
        &format!(
            "version: 1\ntitle: P2\nsystem: {SYSTEM}\nincident: {{level: p2}}\nchecks:\n  - id: web\n    label: Web\n    tags: [front]\n    command: {{shell: 'true'}}\n  - id: db\n    label: DB\n    tags: [back]\n    command: {{shell: 'exit 1'}}\n"
        ),
    );
    let statuses = |extra: &[&str]| {
        let mut args = vec!["-f", "json"];
        args.extend_from_slice(extra);
        let r = call(&env, "p2", "21T10:00", &args);
        let doc: serde_json::Value =
            serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"));
        let st = |id| {
            crate::common::check(&doc, id)["status"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        (st("web"), st("db"), r.code)
    };
    assert_eq!(
        statuses(&["--tag", "front"]),
        ("pass".into(), "skip".into(), 0)
    );
    assert_eq!(
        statuses(&["--only", "db"]),
        ("skip".into(), "fail".into(), 2)
    );
    assert_eq!(
        statuses(&["--skip", "db"]),
        ("pass".into(), "skip".into(), 0)
    );
    let r = call(&env, "p2", "21T10:00", &["--tag", "nope"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("--tag: no check has tag `nope`"),
        "{}",
        r.stderr
    );
}

#[test]
fn close_without_an_id_among_several_open_asks_for_one() {
    let env = env();
    healthy(&env, false);
    call(&env, "p1", "21T10:00", &[]);
    call(&env, "p1", "21T10:05", &["--new"]);
    let r = env.run(&["incident", "close"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(
        r.stderr,
        "error: several open incidents (#1 テストシステム, #2 テストシステム): give the ID, e.g. `opsrun incident close 1`\n"
    );
    assert_eq!(
        one(
            &env,
            "SELECT COUNT(*) FROM incidents WHERE closed_ms IS NULL"
        ),
        2
    );
}
