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
    let mut collapsed = redact(&r.stdout, &hostname());
    for (re, with) in [(" +", " "), ("─+", "─"), ("═+", "═")] {
        collapsed = regex::Regex::new(re)
            .unwrap()
            .replace_all(&collapsed, with)
            .into_owned();
    }
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

#[test]
fn markdown_golden() {
    let env = Env::new();
    fixed_runbook(&env);
    let r = env.run(&[
        "run", "golden", "--now", NOW, "--skip", "skipped", "-f", "markdown",
    ]);
    assert_eq!(r.code, 2);
    insta::assert_snapshot!("markdown", redact(&r.stdout, &hostname()));
}

#[test]
fn nagios_line_and_exit_codes_for_each_status() {
    let env = Env::new();
    fixed_runbook(&env);
    let r = env.run(&[
        "run", "golden", "--now", NOW, "--skip", "skipped", "-f", "nagios",
    ]);
    assert_eq!(r.code, 2);
    insta::assert_snapshot!("nagios", redact(&r.stdout, &hostname()));
    for (only, code, word) in [
        ("estimator", 0, "OPSRUN OK - 0 warn, 0 fail of 1"),
        (
            "estimate-count",
            1,
            "OPSRUN WARNING - 1 warn, 0 fail of 1 | 'estimate-count'=45;@40:;@100:;;",
        ),
        ("backup-script", 2, "OPSRUN CRITICAL - 0 warn, 1 fail of 1"),
        ("tool", 3, "OPSRUN UNKNOWN - 0 warn, 0 fail of 1, 1 unknown"),
    ] {
        let r = env.run(&["run", "golden", "--only", only, "-f", "nagios"]);
        assert_eq!(r.code, code, "{only}");
        assert_eq!(r.stdout.lines().next().unwrap(), word, "{only}");
    }
}

#[test]
fn junit_is_valid_xml_with_the_expected_counts() {
    let env = Env::new();
    fixed_runbook(&env);
    let out = env.path().join("junit.xml");
    let r = env.run(&[
        "run",
        "golden",
        "--now",
        NOW,
        "-q",
        "--skip",
        "skipped",
        "--output",
        &format!("junit={}", out.display()),
    ]);
    assert_eq!(r.code, 2);
    let xml = std::fs::read_to_string(&out).unwrap();
    let times = regex::Regex::new(r#"time="[0-9.]+""#).unwrap();
    insta::assert_snapshot!(
        "junit",
        times.replace_all(&redact(&xml, &hostname()), r#"time="T""#)
    );
    // Parsed by a real XML parser (Python's), counts as JUnit consumers read them.
    let py = r#"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
s = root.find('testsuite')
print(s.get('tests'), s.get('failures'), s.get('errors'), s.get('skipped'), len(s.findall('testcase')))
"#;
    let p = std::process::Command::new("python3")
        .args(["-c", py, out.to_str().unwrap()])
        .output()
        .expect("python3");
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    assert_eq!(String::from_utf8_lossy(&p.stdout).trim(), "5 1 1 1 5");
    // Warn as failure when asked.
    env.run(&[
        "run",
        "golden",
        "-q",
        "--junit-warn",
        "failure",
        "--output",
        &format!("junit={}", out.display()),
    ]);
    let xml = std::fs::read_to_string(&out).unwrap();
    assert!(xml.contains("<failure type=\"warn\""));
    assert!(xml.contains("failures=\"2\""));
}

#[test]
fn prometheus_golden_and_last_success_survives_a_failing_run() {
    let env = Env::new();
    env.runbook("ok.yaml", "version: 1\nchecks:\n  - id: up\n    command: {shell: 'echo 7', value: {warn: 10, unit: 件}}\n");
    env.runbook(
        "bad.yaml",
        "version: 1\nchecks:\n  - id: up\n    command: {run: [\"false\"]}\n",
    );
    let prom = env.path().join("textfile/opsrun.prom");
    std::fs::create_dir_all(prom.parent().unwrap()).unwrap();
    let arg = format!("prometheus={}", prom.display());
    let r = env.run(&["run", "ok", "--now", NOW, "-q", "--output", &arg]);
    assert_eq!(r.code, 0);
    let text = std::fs::read_to_string(&prom).unwrap();
    let durations =
        regex::Regex::new(r"(opsrun_check_duration_seconds\{[^}]*\}) [0-9.e-]+").unwrap();
    insta::assert_snapshot!("prometheus", durations.replace_all(&text, "$1 D"));
    // Same file name, failing run, later clock: last success keeps the old time.
    env.runbook(
        "ok.yaml",
        "version: 1\nchecks:\n  - id: up\n    command: {run: [\"false\"]}\n",
    );
    let r = env.run(&[
        "run",
        "ok",
        "--now",
        "2025-10-22T09:00:00+09:00",
        "-q",
        "--output",
        &arg,
    ]);
    assert_eq!(r.code, 2);
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(
        text.contains("opsrun_run_last_success_timestamp_seconds{runbook=\"ok\"} 1761004800"),
        "{text}"
    );
    assert!(
        text.contains("opsrun_run_last_run_timestamp_seconds{runbook=\"ok\"} 1761091200"),
        "{text}"
    );
    // No temp file left next to it.
    let names: Vec<_> = std::fs::read_dir(prom.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn output_to_an_unwritable_place_is_reported_and_is_not_a_zero() {
    let env = Env::new();
    env.runbook(
        "ok.yaml",
        "version: 1\nchecks:\n  - id: up\n    command: {run: [\"true\"]}\n",
    );
    let r = env.run(&["run", "ok", "--output", "json=/nonexistent-dir/x.json"]);
    // The checks passed but the file a cron job relies on was not
    // written: unknown (issue 15), one error line.
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("--output /nonexistent-dir/x.json: No such file or directory"),
        "{}",
        r.stderr
    );
    let r = env.run(&["run", "ok", "--output", "yaml=/tmp/x"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("unknown format `yaml`"), "{}", r.stderr);
}
