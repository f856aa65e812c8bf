//! Golden tests for every output format, with run-dependent numbers
//! (durations, host) redacted and the clock fixed by `--now`.

use crate::common::{Env, NOW, hostname, redact};

/// A runbook whose results are the same on every machine.
fn fixed_runbook(env: &Env) {
    env.write("data/app.log", "line\n");
    env.runbook(
        "golden.yaml",
        r#"version: 1
title: 日次点検
system: AI見積りシステム
checks:
  - id: estimator
    title: estimator 稼働確認
    label: estimator
    section: サービス稼働状況
    command: {run: ["true"]}
  - id: estimate-count
    title: 見積り作成数
    section: 本日の実績
    command: {shell: "echo 45", value: {warn: 40, fail: 100, unit: 件}}
    hint: 見積り作成数の急増を確認
  - id: backup-script
    title: バックアップスクリプト
    section: データ・バックアップ
    hint: sudo systemctl restart estimator
    command: {shell: "echo 'disk full' >&2; exit 1"}
  - id: tool
    title: 未導入ツール
    command: {run: [/nonexistent/tool]}
  - id: skipped
    title: スキップ対象
    command: {run: ["true"]}
"#,
    );
}

#[test]
fn table_golden() {
    let env = Env::new();
    fixed_runbook(&env);
    let r = env.run(&["run", "golden", "--now", NOW, "--skip", "skipped"]);
    assert_eq!(r.code, 2);
    insta::assert_snapshot!("table", redact(&r.stdout, &hostname()));
}

#[test]
fn table_verbose_golden() {
    let env = Env::new();
    fixed_runbook(&env);
    let r = env.run(&[
        "run",
        "golden",
        "--now",
        NOW,
        "--only",
        "estimate-count,backup-script",
        "-v",
    ]);
    // Timings change column widths: compare with runs of spaces collapsed.
    let collapsed = regex::Regex::new(" +")
        .unwrap()
        .replace_all(&redact(&r.stdout, &hostname()), " ")
        .into_owned();
    insta::assert_snapshot!("table_verbose", collapsed);
}

#[test]
fn json_golden() {
    let env = Env::new();
    fixed_runbook(&env);
    let r = env.run(&[
        "run", "golden", "--now", NOW, "--skip", "skipped", "-f", "json",
    ]);
    assert_eq!(r.code, 2);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["status"], "fail");
    insta::assert_snapshot!(
        "json",
        redact(&r.stdout, &hostname()).replace(env!("CARGO_PKG_VERSION"), "VERSION")
    );
}

#[test]
fn color_only_when_asked_or_on_a_tty() {
    let env = Env::new();
    fixed_runbook(&env);
    // Not a TTY: plain, whatever the default.
    let r = env.run(&["run", "golden"]);
    assert!(!r.stdout.contains('\x1b'));
    let r = env.run(&["run", "golden", "--color", "always"]);
    assert!(r.stdout.contains("\x1b["));
    let r = env.run(&["run", "golden", "--color", "never"]);
    assert!(!r.stdout.contains('\x1b'));
}
