//! examples/demo/run.sh end to end: a real nginx with TLS, a python3 app
//! behind it, a SQLite app.db, a journal file, curl traffic from twelve
//! loopback clients, two backups made by opsrun — then daily, an outage
//! and `incident p1 --execute --yes`, weekly, backup verify/restore-test
//! and monthly against the examples/ai-estimator runbooks. The only stand-in
//! is the script's `systemctl` (no systemd here), which acts on the demo's
//! real processes. Needs nginx, curl, openssl, systemd-journal-remote
//! (.ci/deps installs them).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/run.sh")
}

fn demo_command(tmp: &Path) -> Command {
    let mut c = Command::new("bash");
    c.arg(script())
        .env("OPSRUN_BIN", env!("CARGO_BIN_EXE_opsrun"))
        .env("TMPDIR", tmp)
        .env_remove("OPSRUN_RUNBOOKS")
        .env_remove("OPSRUN_HISTORY")
        .env_remove("SSL_CERT_FILE")
        .stdin(Stdio::null());
    c
}

/// Processes whose command line mentions `dir` (the demo's nginx and app
/// live under it): none may survive the script.
fn processes_under(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        // A zombie has an empty cmdline; it is not running.
        if cmd.contains(&needle) {
            out.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
        }
    }
    out
}

/// The report section of `name` in the demo's output, from its header to
/// the next blank-line-separated header of another kind.
fn section<'a>(out: &'a str, header: &str) -> &'a str {
    let start = out
        .find(header)
        .unwrap_or_else(|| panic!("{header} missing:\n{out}"));
    let rest = &out[start..];
    let end = rest.find("\n■ 対応事項\n").map_or(rest.len(), |i| {
        i + rest[i..].find("\n\n").unwrap_or(rest.len() - i)
    });
    &rest[..end]
}

#[test]
fn demo_runs_end_to_end_and_tears_down() {
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = demo_command(tmp.path()).output().unwrap();
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // Generous bound: the script takes ~10 s; this proves nothing hung.
    assert!(elapsed < Duration::from_secs(120), "{elapsed:?}");

    // Every step with the exit code the demo expects, every status it
    // controls as expected (the script checks them against the JSON).
    for line in [
        "ok    backup run #1: exit 0",
        "ok    probe: exit 0",
        "ok    daily: 11 checks as expected",
        "ok    backup run #2: exit 0",
        "ok    probe (down): exit 2",
        "ok    incident p1: exit 0",
        "ok    incident-p1: 9 checks as expected",
        "ok    probe (recovered): exit 0",
        "ok    weekly: exit 0",
        "ok    weekly: 8 checks as expected",
        "ok    backup verify: exit 0",
        "ok    backup restore-test: exit 0",
        "ok    monthly: 5 checks as expected",
        "demo: all steps as expected",
    ] {
        assert!(stdout.contains(line), "missing `{line}`:\n{stdout}");
    }

    // 日次: the seed's sections, real numbers from the access log and journal.
    let daily = section(&stdout, "【日次運用レポート】");
    for line in [
        "■ サービス稼働状況\n- httpd: 正常\n- estimator: 正常\n- ヘルスチェック: 正常\n- 本番ヘルスチェック: 正常\n",
        "■ リソース使用状況\n- ディスク使用率: ",
        "■ 本日の実績\n- アクセス数: ",
        "- 見積り作成数: 48件\n",
        "- エラー数: 3件\n",
        "- [警告] エラー数 3件 (警告閾値 1件)",
    ] {
        assert!(daily.contains(line), "daily lacks `{line}`:\n{daily}");
    }

    // The outage: diagnosed, restarted through systemctl, verified.
    let report = section(&stdout, "【障害報告】AI見積りシステム");
    for line in [
        "■ 障害レベル: P1（緊急）",
        "■ 現在の状況: 復旧済み（",
        "- estimator: 異常 — estimator.service の状態は failed (failed)（期待値 active）、結果 signal",
        "- ヘルスチェック: 異常 — 接続拒否",
        "- estimatorサービス再起動実施 → 成功",
        "- httpdサービス再起動実施 → 成功",
        "■ 報告者: 運用担当者A",
    ] {
        assert!(report.contains(line), "障害報告 lacks `{line}`:\n{report}");
    }
    assert!(stdout.contains("(systemctl restart estimator) → 成功"));

    // 週次: from history (the incident, the probe's outage) and this run.
    let weekly = section(&stdout, "【週次運用レポート】");
    for line in [
        "- インシデント数: 1件 (P1: 1件)",
        "- 総見積り作成数: 48件",
        "- ユニークユーザー数: 14名",
        "- SSL証明書有効期限: 残り45日",
        "- バックアップ確認: 正常",
        "- データベース整合性: 正常",
        "- [停止] ヘルスチェック ",
    ] {
        assert!(weekly.contains(line), "weekly lacks `{line}`:\n{weekly}");
    }

    // Backups: restore test of the newest generation, monthly success lines.
    assert!(
        stdout.contains("restore-test ┆ バックアップ復旧テスト ┆ 20"),
        "{stdout}"
    );
    assert!(stdout.contains("SQLite 1/1 ok"), "{stdout}");
    let monthly = section(&stdout, "【月次運用レポート】");
    // On the 1st (JST) the monthly report covers the month that just ended,
    // which has none of this run's history.
    let jst = chrono::FixedOffset::east_opt(9 * 3600).unwrap();
    let first_of_month = chrono::Datelike::day(&chrono::Utc::now().with_timezone(&jst)) == 1;
    for line in [
        "- 定期バックアップ: 成功 3/3回 (100%)",
        "- バックアップ復旧テスト: 成功 1/1回 (100%)",
        "- 不正アクセス試行: 3件",
        "- Basic認証失敗: 1件",
        "■ インシデントサマリー\n1. ",
        "P1（緊急） 異常: estimator、",
        "/ 対応: estimatorサービス再起動 → 成功、httpdサービス再起動 → 成功",
    ] {
        assert!(
            first_of_month || monthly.contains(line),
            "monthly lacks `{line}`:\n{monthly}"
        );
    }

    // Teardown: the temp dir is gone and nothing it started is running.
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        processes_under(tmp.path()).is_empty(),
        "{:?}",
        processes_under(tmp.path())
    );
}

/// SIGTERM in the middle (during `opsrun daily`): the script stops, exits
/// 143, and its trap still kills nginx and the app and removes the temp dir.
#[test]
fn demo_interrupted_still_tears_down() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = demo_command(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let mut workdir = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if let Some(d) = line.strip_prefix("demo: working in ") {
            workdir = Some(d.to_owned());
        }
        if line.starts_with("==> opsrun daily") {
            break;
        }
    }
    let workdir = workdir.unwrap_or_else(|| panic!("no work dir announced:\n{seen}"));
    assert!(
        !processes_under(Path::new(&workdir)).is_empty(),
        "nginx and the app should be running now:\n{seen}"
    );
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    for line in lines {
        seen.push_str(&line.unwrap());
        seen.push('\n');
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{seen}");
    assert!(!Path::new(&workdir).exists(), "{workdir} left behind");
    assert!(
        processes_under(Path::new(&workdir)).is_empty(),
        "{:?}",
        processes_under(Path::new(&workdir))
    );
}
