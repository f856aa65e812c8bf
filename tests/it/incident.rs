//! `opsrun incident`: diagnostics, the recovery plan, confirmation rules,
//! actions through a stub `systemctl` on PATH (systemd is not PID 1 here,
//! so the stub is the narrowest seam: it logs what it was asked and, for a
//! restart, makes the test's real HTTP server healthy a moment later), the
//! verify loop and the 障害報告.

use crate::common::http_server::Server;
use crate::common::{Env, Run};

const NOW: &str = "2025-10-21T10:26:00+09:00";

struct Setup {
    env: Env,
    log: std::path::PathBuf,
    flag: std::path::PathBuf,
}

fn setup(server: &Server) -> Setup {
    let env = Env::new();
    let log = env.path().join("systemctl.log");
    let flag = env.path().join("healthy.flag");
    let stub = env.write(
        "stub/systemctl",
        &format!(
            "#!/bin/sh\n# Stub systemctl: logs its arguments; `restart` of app heals after 1.5 s;\n# unit `broken` fails like systemd does for a unit that cannot start.\necho \"$*\" >> {log}\ncase \"$2\" in\n  broken) echo 'Job for broken.service failed because the control process exited with error code.' >&2; exit 1;;\nesac\nif [ \"$1\" = restart ] && [ \"$2\" = app ]; then (sleep 1.5; touch {flag}) >/dev/null 2>&1 & fi\nexit 0\n",
            log = log.display(),
            flag = flag.display()
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.runbook(
        "incident-p1.yaml",
        &format!(
            r#"version: 1
title: P1 サービス全停止
system: AI見積りシステム
incident:
  level: p1
  name: 緊急
  scope: サービス全停止
  response: 即時
  escalation: 即座に上位者
  deadlines: {{initial: 5m, investigation: 15m}}
checks:
  - id: health-local
    title: ヘルスチェック（ローカル）
    label: ヘルスチェック
    timeout: 2s
    http: {{url: "{}", json: {{status: healthy}}}}
actions:
  - id: restart-app
    title: estimatorサービス再起動
    systemctl: {{action: restart, unit: app}}
  - id: restart-web
    title: Apacheサービス再起動
    systemctl: {{action: restart, unit: "${{web}}"}}
  - id: settle
    title: 短い待機
    wait: 100ms
verify: {{checks: [health-local], attempts: 10, interval: 500ms}}
vars: {{web: httpd}}
"#,
            server.url(&format!("/whenfile{}", flag.display()))
        ),
    );
    Setup { env, log, flag }
}

fn run(s: &Setup, extra: &[&str]) -> Run {
    let path = format!(
        "{}:{}",
        s.env.path().join("stub").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut args = vec![
        "incident",
        "p1",
        "--now",
        NOW,
        "--since",
        "10:23",
        "--reporter",
        "運用担当者A",
    ];
    args.extend_from_slice(extra);
    let out = s.env.cmd().args(&args).env("PATH", path).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: std::time::Duration::ZERO,
    }
}

fn report(stdout: &str) -> String {
    stdout[stdout.find("【障害報告】").expect("障害報告 printed")..].to_owned()
}

#[test]
fn without_execute_nothing_is_invoked_and_the_plan_is_shown() {
    let server = Server::start();
    let s = setup(&server);
    let r = run(&s, &[]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(!s.log.exists(), "systemctl was invoked without --execute");
    assert!(
        r.stdout
            .contains("【P1（緊急）】サービス全停止 — AI見積りシステム"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("発生: 2025-10-21 10:23 (発生から3分)"));
    assert!(
        r.stdout
            .contains("初動対応期限 10:28 (残り2分) · 原因調査期限 10:38 (残り12分)")
    );
    assert!(
        r.stdout
            .contains("1. estimatorサービス再起動 (systemctl restart app)")
    );
    assert!(
        r.stdout
            .contains("2. Apacheサービス再起動 (systemctl restart httpd)")
    );
    insta::assert_snapshot!("incident_plan_only", report(&r.stdout));
}

#[test]
fn execute_without_a_terminal_or_yes_refuses() {
    let server = Server::start();
    let s = setup(&server);
    let r = run(&s, &["--execute"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("refusing to run recovery actions"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--yes"));
    assert!(!s.log.exists());
}

#[test]
fn yes_without_execute_is_an_argument_error() {
    let server = Server::start();
    let s = setup(&server);
    let r = run(&s, &["--yes"]);
    assert_eq!(r.code, 3);
    assert!(!s.log.exists());
}

#[test]
fn execute_runs_actions_then_verify_passes_after_the_restart() {
    let server = Server::start();
    let s = setup(&server);
    let r = run(&s, &["--execute", "--yes"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let log = std::fs::read_to_string(&s.log).unwrap();
    assert_eq!(log, "restart app --no-pager\nrestart httpd --no-pager\n");
    assert!(s.flag.exists());
    // Not healthy straight after the restart: verify needed more than one try.
    assert!(r.stdout.contains("確認 1/10回目: 未復旧"), "{}", r.stdout);
    assert!(r.stdout.contains(": 正常\n"));
    let rep = report(&r.stdout);
    assert!(rep.contains("■ 現在の状況: 復旧済み"), "{rep}");
    assert!(rep.contains("- estimatorサービス再起動実施 → 成功"));
    assert!(rep.contains("- Apacheサービス再起動実施 → 成功"));
    assert!(rep.contains("■ 復旧見込み: 復旧済み"));
    assert!(rep.contains("■ 報告者: 運用担当者A"));
    // Recorded in history for the weekly/monthly インシデント数: one
    // incident, recovered by the verify, not closed.
    let db = rusqlite::Connection::open(s.env.path().join("history.db")).unwrap();
    let (level, opened, recovered, closed): (String, i64, Option<i64>, Option<i64>) = db
        .query_row(
            "SELECT level, opened_ms, recovered_ms, closed_ms FROM incidents",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(level, "p1");
    assert_eq!(
        opened,
        chrono::DateTime::parse_from_rfc3339("2025-10-21T10:23:00+09:00")
            .unwrap()
            .timestamp_millis()
    );
    assert!(recovered.is_some_and(|r| r > opened));
    assert_eq!(closed, None);
    assert_eq!(incident_row(&s.env).0, "recovered");
    assert!(
        r.stderr.contains(
            "incident #1 opened (P1, AI見積りシステム, opened 2025-10-21 10:23, recovered)"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn format_report_prints_only_the_incident_report() {
    let server = Server::start();
    let s = setup(&server);
    let r = run(&s, &["-f", "report"]);
    assert!(
        r.stdout.starts_with("【障害報告】AI見積りシステム\n"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("■ 診断"));
    assert_eq!(incident_row(&s.env).0, "diagnosed");
}

/// Points the incident runbook's step `unit` at the stub's unit that
/// fails to restart (`broken`).
fn break_unit(s: &Setup, unit: &str) {
    let rb = s.env.path().join("runbooks/incident-p1.yaml");
    let text = std::fs::read_to_string(&rb).unwrap();
    assert!(text.contains(unit), "{text}");
    std::fs::write(&rb, text.replace(unit, "unit: broken}")).unwrap();
}

#[test]
fn a_failing_action_stops_the_rest_and_the_report_says_so() {
    let server = Server::start();
    let s = setup(&server);
    break_unit(&s, "unit: app}");
    let r = run(&s, &["--execute", "--yes"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        std::fs::read_to_string(&s.log).unwrap(),
        "restart broken --no-pager\n"
    );
    let rep = report(&r.stdout);
    assert!(
        rep.contains(
            "- estimatorサービス再起動実施 → 失敗（終了コード 1: 「Job for broken.service failed"
        ),
        "{rep}"
    );
    assert!(rep.contains("■ 次のアクション:\n- Apacheサービス再起動（systemctl restart httpd）\n- エスカレーション: 即座に上位者"), "{rep}");
    assert!(rep.contains("■ 現在の状況: 継続中"), "{rep}");
}

/// The service answers again although a step failed (here it was never
/// down for the verify check): recovered, but the plan stopped at the
/// failed step, so the run exits 1, not 0 — someone must look at it.
#[test]
fn recovered_after_a_failed_step_exits_1_and_says_which_step() {
    let server = Server::start();
    let s = setup(&server);
    break_unit(&s, "unit: \"${web}\"}");
    std::fs::write(&s.flag, "").unwrap();
    let r = run(&s, &["--execute", "--yes"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        std::fs::read_to_string(&s.log).unwrap(),
        "restart app --no-pager\nrestart broken --no-pager\n"
    );
    let rep = report(&r.stdout);
    assert!(rep.contains("■ 現在の状況: 復旧済み"), "{rep}");
    assert!(
        rep.contains("- Apacheサービス再起動実施 → 失敗（終了コード 1"),
        "{rep}"
    );
    assert!(
        rep.contains(
            "■ 次のアクション:\n- 失敗した手順の確認: Apacheサービス再起動（systemctl restart broken）\n- 経過観察、原因調査と再発防止策の検討\n"
        ),
        "{rep}"
    );
}

#[test]
fn incident_runbook_without_incident_block_is_an_error() {
    let env = Env::new();
    env.runbook("incident-p2.yaml", "version: 1\nchecks: []\n");
    let r = env.run(&["incident", "p2"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("no `incident:` block"), "{}", r.stderr);
}

#[test]
fn verify_must_name_existing_checks() {
    let env = Env::new();
    env.runbook(
        "incident-p3.yaml",
        "version: 1\nincident: {level: p3}\nchecks:\n  - id: health\n    command: {run: [\"true\"]}\nverify: {checks: [helth]}\n",
    );
    let r = env.run(&["validate", "runbooks/incident-p3.yaml"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains(
            "incident-p3.yaml:6:19: verify: no check with id `helth`, did you mean `health`?"
        ),
        "{}",
        r.stderr
    );
}

/// Regression: incident diagnostics ran on a JST clock, so on a host whose
/// local time is not JST a `log` check read the error log's local
/// timestamps (nginx/Apache write no offset) nine hours off and a `since:
/// 1h` window missed the errors of the outage. Found by examples/demo on a
/// UTC host. Checks now run on the host's clock, like `opsrun daily`.
#[test]
fn incident_log_window_reads_local_timestamps_in_the_hosts_zone() {
    let env = Env::new();
    // The host's zone for this run: UTC, whatever the machine says.
    let now = chrono::Utc::now();
    let line = |ago_min: i64, msg: &str| {
        format!(
            "{} [error] 811#811: *1 {msg}\n",
            (now - chrono::Duration::minutes(ago_min)).format("%Y/%m/%d %H:%M:%S")
        )
    };
    let log = env.write(
        "error.log",
        &format!(
            "{}{}",
            line(180, "old: outside the hour"),
            line(
                2,
                "connect() failed (111: Connection refused) while connecting to upstream"
            )
        ),
    );
    env.runbook(
        "incident-p1.yaml",
        &format!(
            "version: 1\nincident: {{level: p1}}\nchecks:\n  - id: web-errors\n    log: {{path: \"{}\", pattern: '(?i)\\berror\\b', since: 1h, count: {{warn: 1}}}}\n",
            log.display()
        ),
    );
    let out = env
        .cmd()
        .args(["incident", "p1", "-f", "json"])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let c = crate::common::check(&doc, "web-errors");
    assert_eq!(c["metric"].as_f64(), Some(1.0), "{c:#}");
    assert_eq!(c["status"], "warn", "{c:#}");
    assert_eq!(out.status.code(), Some(1));
}

/// On a terminal, `--execute` asks y/N before each step. `script` (util-linux)
/// gives opsrun a real pseudo-terminal; the answers are typed into it.
#[test]
fn on_a_terminal_each_step_is_confirmed() {
    let server = Server::start();
    let s = setup(&server);
    let path = format!(
        "{}:{}",
        s.env.path().join("stub").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cmd = format!(
        "{} incident p1 --execute --now {NOW} --since 10:23 --reporter 運用担当者A",
        env!("CARGO_BIN_EXE_opsrun")
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(s.env.path())
        .env("PATH", path)
        .env("OPSRUN_HISTORY", s.env.path().join("history.db"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    use std::io::Write;
    // No to the first restart, yes to the second; `wait` steps are not asked.
    child.stdin.take().unwrap().write_all(b"n\ny\n").unwrap();
    let out = child.wait_with_output().unwrap();
    // A terminal ends lines with CRLF.
    let stdout = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert!(
        stdout.contains(
            "[1/3] estimatorサービス再起動 (systemctl restart app) を実行しますか? [y/N]"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("→ スキップ"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(&s.log).unwrap(),
        "restart httpd --no-pager\n"
    );
    let rep = report(&stdout);
    assert!(rep.contains("- Apacheサービス再起動実施 → 成功"), "{rep}");
    assert!(
        rep.contains("■ 次のアクション:\n- estimatorサービス再起動（systemctl restart app）"),
        "{rep}"
    );
}

/// stdout and `--output` go through one pipeline: `--output report=` of an
/// incident is the 障害報告 printed with `-f report` (it used to be a
/// daily report of the diagnostics).
#[test]
fn output_report_is_the_incident_report() {
    let server = Server::start();
    let s = setup(&server);
    let file = s.env.path().join("incident-report.txt");
    let arg = format!("report={}", file.display());
    let r = run(&s, &["-f", "report", "--output", &arg]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("【障害報告】"), "{written}");
    assert_eq!(written, r.stdout);
    // With the table on stdout, the file still holds the 障害報告 alone.
    let r = run(&s, &["--output", &arg]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), report(&r.stdout));
}

/// `--only/--skip/--tag` select the diagnostics of an incident as they
/// select the checks of any run (they used to be ignored).
#[test]
fn selection_applies_to_the_diagnostics() {
    let server = Server::start();
    let s = setup(&server);
    let r = run(&s, &["-f", "json", "--skip", "health-local"]);
    assert!(
        r.stdout.contains("skipped by --skip"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert!(!s.log.exists());
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

/// A P2 incident whose diagnostics or recovery step sleeps, run in a
/// session of its own; `marker` appears once the slow part has started.
fn slow_incident(env: &Env, checks: &str, actions: &str) -> std::process::Child {
    env.runbook(
        "incident-p2.yaml",
        &format!(
            "version: 1\ntitle: P2 テスト\nsystem: テストシステム\nincident: {{level: p2, scope: 一部機能}}\nchecks:\n{checks}actions:\n{actions}verify: {{checks: [health], attempts: 3, interval: 100ms}}\n"
        ),
    );
    env.session_cmd()
        .args([
            "incident",
            "p2",
            "--now",
            NOW,
            "--reporter",
            "運用担当者A",
            "--execute",
            "--yes",
        ])
        .spawn()
        .unwrap()
}

/// Waits for the slow part to start (`marker`); a hang guard kills the
/// run and shows what it printed.
fn started_or_kill(child: &std::process::Child, marker: &std::path::Path) {
    if !crate::common::wait_for_file(marker, std::time::Duration::from_secs(60)) {
        crate::common::signal(child, 9);
        panic!("{} never appeared", marker.display());
    }
}

fn finish(child: std::process::Child) -> (Run, Vec<(u32, String)>) {
    let session = child.id();
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: std::time::Duration::ZERO,
    };
    let left = crate::common::session_after(session, std::time::Duration::from_secs(10));
    (run, left)
}

fn incident_row(env: &Env) -> (String, String) {
    let db = rusqlite::Connection::open(env.path().join("history.db")).unwrap();
    db.query_row(
        "SELECT outcome, summary FROM incident_calls ORDER BY id DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

/// SIGTERM while the diagnostics run: opsrun ends with 143 (not the
/// diagnostics' 2), prints the diagnosis so far and the 障害報告, runs no
/// action, records the incident, and leaves no check process behind.
#[test]
fn sigterm_during_the_diagnosis_ends_with_143_and_the_report() {
    let env = Env::new();
    // Commands run in the runbook's directory: the markers are there.
    let child = slow_incident(
        &env,
        // `slow` says it is running only once `health` has failed (and a
        // moment more for opsrun to collect it): under load the signal
        // once came before `health` had finished.
        "  - id: health\n    label: ヘルス\n    command: {shell: 'touch checked; exit 1'}\n  - id: slow\n    label: 遅い診断\n    timeout: 60s\n    command: {shell: 'while [ ! -e checked ]; do sleep 0.05; done; sleep 0.5; touch diagnosing; sleep 61'}\n",
        "  - id: fix\n    title: 復旧\n    command: {shell: 'touch fixed'}\n",
    );
    started_or_kill(&child, &env.runbooks().join("diagnosing"));
    crate::common::signal(&child, 15);
    let (r, left) = finish(child);
    assert_eq!(r.code, 143, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("■ 診断"), "{}", r.stdout);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.contains("slow") && l.contains("interrupted")),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("■ 復旧手順"), "{}", r.stdout);
    let rep = report(&r.stdout);
    assert!(rep.contains("- ヘルス: 異常"), "{rep}");
    assert!(
        rep.contains("- 診断チェック実施（復旧操作は未実施）"),
        "{rep}"
    );
    assert!(!env.runbooks().join("fixed").exists(), "an action ran");
    assert_eq!(incident_row(&env).0, "interrupted");
    let db = rusqlite::Connection::open(env.path().join("history.db")).unwrap();
    let interrupted: i64 = db
        .query_row("SELECT interrupted FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(interrupted, 1);
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// SIGINT while a recovery step runs: the step is interrupted (its
/// process group killed), the later steps and verify do not run, the
/// 障害報告 says what ran and what was interrupted, history records it,
/// exit 130.
#[test]
fn sigint_during_an_action_ends_with_130_and_says_what_ran() {
    let env = Env::new();
    let child = slow_incident(
        &env,
        "  - id: health\n    label: ヘルス\n    command: {run: [\"false\"]}\n",
        "  - id: first\n    title: 最初の手順\n    command: {shell: 'true'}\n  - id: slow-fix\n    title: 遅い復旧\n    timeout: 60s\n    command: {shell: 'touch acting; sleep 62'}\n  - id: after\n    title: 後続手順\n    command: {shell: 'touch after-ran'}\n",
    );
    started_or_kill(&child, &env.runbooks().join("acting"));
    crate::common::signal(&child, 2);
    let (r, left) = finish(child);
    assert_eq!(r.code, 130, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("[1/3] 最初の手順"), "{}", r.stdout);
    assert!(
        r.stdout.contains(
            "[2/3] 遅い復旧 (command: sh -c \"touch acting; sleep 62\") → 中断 (SIGINT)\n  以降の手順は未実行（中断したため停止）\n"
        ),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("■ 復旧確認"), "{}", r.stdout);
    assert!(
        !env.runbooks().join("after-ran").exists(),
        "a later step ran"
    );
    let rep = report(&r.stdout);
    assert!(
        rep.contains("■ 初期対応:\n- 最初の手順実施 → 成功\n- 遅い復旧実施 → 中断（SIGINT）\n"),
        "{rep}"
    );
    assert!(
        rep.contains("■ 現在の状況: 中断（復旧手順の途中で SIGINT により停止、復旧未確認）"),
        "{rep}"
    );
    assert!(
        rep.contains("■ 次のアクション:\n- 遅い復旧（command: sh -c \"touch acting; sleep 62\"）\n- 後続手順（"),
        "{rep}"
    );
    let (outcome, summary) = incident_row(&env);
    assert_eq!(outcome, "interrupted");
    assert_eq!(
        summary,
        "異常: ヘルス / 対応: 最初の手順 → 成功、遅い復旧 → 中断"
    );
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Ctrl-C at the y/N prompt on a real terminal (`script` gives opsrun a
/// pseudo-terminal): the read does not hold the process; nothing runs,
/// the 障害報告 is printed and the exit code is 130.
#[test]
fn sigint_at_the_prompt_on_a_terminal_ends_with_130() {
    use std::io::Read;
    let server = Server::start();
    let s = setup(&server);
    let path = format!(
        "{}:{}",
        s.env.path().join("stub").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cmd = format!(
        "{} incident p1 --execute --now {NOW} --since 10:23 --reporter 運用担当者A",
        env!("CARGO_BIN_EXE_opsrun")
    );
    let mut child = std::process::Command::new("setsid")
        .args(["script", "-qec", &cmd, "/dev/null"])
        .current_dir(s.env.path())
        .env("PATH", path)
        .env("OPSRUN_HISTORY", s.env.path().join("history.db"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    let session = child.id();
    // Read the terminal's output on a thread until the question shows.
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let asked = |seen: &[u8]| String::from_utf8_lossy(seen).contains("[y/N]");
    while !asked(&seen) {
        match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => {
                crate::common::signal(&child, 9);
                panic!("no question: {}", String::from_utf8_lossy(&seen));
            }
        }
    }
    // opsrun runs under script (on the terminal, in a session script
    // makes): the descendant of this test's `script` that is the binary.
    let opsrun = crate::common::descendants(session)
        .into_iter()
        .find(|p| {
            std::fs::read_link(format!("/proc/{p}/exe"))
                .is_ok_and(|e| e == std::path::Path::new(env!("CARGO_BIN_EXE_opsrun")))
        })
        .expect("opsrun under script");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(opsrun as i32).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    while let Ok(chunk) = rx.recv_timeout(std::time::Duration::from_secs(10)) {
        seen.extend(chunk);
    }
    let stdout = String::from_utf8_lossy(&seen).replace("\r\n", "\n");
    assert_eq!(status.code(), Some(130), "{stdout}");
    assert!(!s.log.exists(), "a step ran");
    let rep = report(&stdout);
    assert!(
        rep.contains("■ 次のアクション:\n- estimatorサービス再起動（systemctl restart app）"),
        "{rep}"
    );
}

/// The runbook of [`setup`] with a second diagnosis check (`db`, which
/// passes) and `when:` on the two restarts: the app's restart runs when
/// the health check fails (it does), Apache's only when `db` fails or
/// warns (it does not).
fn with_conditions(s: &Setup) {
    let rb = s.env.path().join("runbooks/incident-p1.yaml");
    let text = std::fs::read_to_string(&rb)
        .unwrap()
        .replace(
            "actions:\n",
            "  - id: db\n    title: DB接続\n    command: {run: [\"true\"]}\nactions:\n",
        )
        .replace(
            "    systemctl: {action: restart, unit: app}",
            "    when: {check: health-local, status: [fail]}\n    systemctl: {action: restart, unit: app}",
        )
        .replace(
            "    systemctl: {action: restart, unit: \"${web}\"}",
            "    when: {check: db, status: [fail, warn]}\n    systemctl: {action: restart, unit: \"${web}\"}",
        );
    std::fs::write(&rb, text).unwrap();
}

#[test]
fn when_runs_an_action_whose_condition_is_met_and_lists_the_other_as_skipped() {
    let server = Server::start();
    let s = setup(&server);
    with_conditions(&s);
    // Without --execute the plan already says which step will be skipped.
    let plan = run(&s, &[]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("  1. estimatorサービス再起動 (systemctl restart app)\n"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(
            "  2. Apacheサービス再起動 (systemctl restart httpd) → スキップ（条件不一致）\n"
        ),
        "{}",
        plan.stdout
    );
    assert!(!s.log.exists());

    let r = run(&s, &["--execute", "--yes"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // Only the step whose condition held ran.
    assert_eq!(
        std::fs::read_to_string(&s.log).unwrap(),
        "restart app --no-pager\n"
    );
    assert!(
        r.stdout
            .contains("  [1/3] estimatorサービス再起動 (systemctl restart app) → 成功\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "  [2/3] Apacheサービス再起動 (systemctl restart httpd) → スキップ（条件不一致）\n"
        ),
        "{}",
        r.stdout
    );
    let rep = report(&r.stdout);
    assert!(
        rep.contains("- estimatorサービス再起動実施 → 成功"),
        "{rep}"
    );
    assert!(
        rep.contains("- Apacheサービス再起動 → スキップ（条件不一致）"),
        "{rep}"
    );
    assert!(rep.contains("■ 現在の状況: 復旧済み"), "{rep}");
}

#[test]
fn when_with_an_unmet_condition_skips_even_a_failing_step() {
    let server = Server::start();
    let s = setup(&server);
    with_conditions(&s);
    // Apache's restart would fail (unit `broken`), but its condition is
    // not met: it is skipped and nothing stops the plan.
    let rb = s.env.path().join("runbooks/incident-p1.yaml");
    let text = std::fs::read_to_string(&rb)
        .unwrap()
        .replace("vars: {web: httpd}", "vars: {web: broken}");
    std::fs::write(&rb, text).unwrap();
    let r = run(&s, &["--execute", "--yes"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("以降の手順は未実行"), "{}", r.stdout);
    let rep = report(&r.stdout);
    assert!(
        rep.contains("- Apacheサービス再起動 → スキップ（条件不一致）"),
        "{rep}"
    );
    assert!(!rep.contains("Apacheサービス再起動（"), "{rep}");
}

#[test]
fn when_must_name_a_diagnosis_check_of_the_runbook() {
    let env = Env::new();
    env.runbook(
        "incident-p3.yaml",
        "version: 1\nincident: {level: p3}\nchecks:\n  - id: health\n    command: {run: [\"true\"]}\nactions:\n  - id: restart\n    when: {check: helth, status: [fail]}\n    systemctl: {action: restart, unit: app}\n",
    );
    for args in [
        &["validate", "runbooks/incident-p3.yaml"][..],
        &["incident", "p3"][..],
    ] {
        let r = env.run(args);
        assert_eq!(r.code, 3, "{r:?}");
        assert!(
            r.stderr.contains(
                "incident-p3.yaml:8:19: when: no check with id `helth`, did you mean `health`?"
            ),
            "{}",
            r.stderr
        );
    }
    env.runbook(
        "incident-p3.yaml",
        "version: 1\nincident: {level: p3}\nchecks:\n  - id: health\n    command: {run: [\"true\"]}\nactions:\n  - id: restart\n    when: {check: health, status: [failed]}\n    systemctl: {action: restart, unit: app}\n",
    );
    let r = env.run(&["validate", "runbooks/incident-p3.yaml"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .contains("when.status: unknown status `failed`, did you mean `fail`?"),
        "{}",
        r.stderr
    );
}
