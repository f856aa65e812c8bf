//! Golden 日次/週次/月次 reports and checklists (SPEC §6).

use super::{golden, ok_run, seed_env};
use crate::common::http_server::Server;
use crate::common::{Env, NOW};

/// The daily values a test day measures, all derived from the day number.
fn daily_vars(day: u32) -> Vec<String> {
    let req = 100 + day * 2;
    let err = day % 3;
    vec![
        format!("cpu={}", 25 + (day % 7) * 3),
        format!("mem={}", if day == 24 { 85 } else { 60 + (day % 5) * 4 }),
        format!("disk={}", 60.0 + (day as f64 - 14.0) * 0.5),
        format!("req={req}"),
        format!("err={err}"),
        format!("rate={:.2}", err as f64 / req as f64 * 100.0),
        format!("db={:.1}", 40.0 + day as f64 * 0.1),
    ]
}

/// A run of the other system (`OTHER`): its form down at 10-24 06:00, its
/// disk far from the seed's.
fn other_run(env: &Env, day: u32, now: &str) {
    let health = if now.starts_with("2025-10-24T06") {
        "health=/status/503"
    } else {
        "health=/ok"
    };
    let disk = format!("disk={}", 20 + day % 4);
    ok_run(
        env,
        &[
            "run", "other", "-q", "--var", health, "--var", &disk, "--now", now,
        ],
    );
}

fn with_vars<'a>(base: &[&'a str], vars: &'a [String]) -> Vec<&'a str> {
    let mut v = base.to_vec();
    for x in vars {
        v.push("--var");
        v.push(x);
    }
    v
}

#[test]
fn daily_report_is_the_seed_shape() {
    let server = Server::start();
    let env = seed_env(&server);
    let r = env.run(&["daily", "-f", "report", "--now", NOW]);
    assert_eq!(r.code, 0, "{r:?}");
    golden("daily_pass.txt", &r.stdout);
    // The seed's report, line for line, for the checks it has.
    for line in [
        "【日次運用レポート】2025-10-21",
        "■ サービス稼働状況\n- httpd: 正常\n- estimator: 正常\n- ヘルスチェック: 正常\n",
        "■ リソース使用状況\n- ディスク使用率: 65%\n- メモリ使用率: 70%\n- CPU使用率: 30%\n",
        "■ 本日の実績\n- アクセス数: 120件\n- エラー数: 2件\n- エラー率: 0.44%\n",
        "■ 特記事項\n- 特になし\n\n■ 対応事項\n- 特になし\n",
    ] {
        assert!(r.stdout.contains(line), "{line}\n---\n{}", r.stdout);
    }
}

#[test]
fn daily_report_and_checklist_with_problems() {
    let server = Server::start();
    let env = seed_env(&server);
    let problems = [
        "--var",
        "disk=85",
        "--var",
        "mem=93.5",
        "--var",
        "rate=1.25",
        "--var",
        "health=/status/503",
        "--var",
        "systemctl=/nonexistent/systemctl",
        "--now",
        NOW,
    ];
    let mut args = vec!["daily", "-f", "report"];
    args.extend(problems);
    let r = env.run(&args);
    assert_eq!(r.code, 2, "{r:?}");
    golden("daily_problems.txt", &r.stdout);
    // The same report as one HTML page (SPEC §10.7), drawn by Chromium.
    let mut args = vec!["daily", "-f", "html", "--no-history"];
    args.extend(problems);
    let h = env.run(&args);
    assert_eq!(h.code, 2, "{h:?}");
    golden("daily_problems_html", &crate::html::golden_html(&h.stdout));
    crate::html::assert_renders("daily", &h.stdout);
    assert!(
        r.stdout
            .contains("- [警告] ディスク使用率 85% (警告閾値 80%)")
    );
    assert!(
        r.stdout
            .contains("- [異常] メモリ使用率 93.5% (異常閾値 90%)")
    );

    let mut args = vec!["daily", "-f", "checklist", "--reporter", "運用担当者A"];
    args.extend(problems);
    let r = env.run(&args);
    assert_eq!(r.code, 2, "{r:?}");
    golden("daily_checklist.txt", &r.stdout);

    // From history alone, later: the same report.
    let live = env.run(&{
        let mut a = vec!["daily", "-f", "report", "--no-history"];
        a.extend(problems);
        a
    });
    let past = env.run(&[
        "report",
        "daily",
        "--date",
        "2025-10-21",
        "--now",
        "2025-10-25T12:00:00+09:00",
    ]);
    assert_eq!(past.code, 0, "{past:?}");
    assert_eq!(past.stdout, live.stdout);
    let past = env.run(&[
        "report",
        "daily",
        "-f",
        "checklist",
        "--reporter",
        "運用担当者A",
        "--date",
        "2025-10-21",
        "--now",
        "2025-10-25T12:00:00+09:00",
    ]);
    assert_eq!(past.stdout, r.stdout);
}

#[test]
fn checklist_reporter_defaults_to_user_and_items_default_to_sections() {
    let env = Env::new();
    env.runbook(
        "daily.yaml",
        "version: 1\nchecks:\n  - {id: a, label: httpd, section: サービス稼働状況, command: {shell: 'true'}}\n  - {id: b, label: estimator, section: サービス稼働状況, command: {shell: 'exit 1'}}\n  - {id: c, label: ディスク使用率, section: リソース使用状況, command: {shell: 'echo 5', value: {unit: '%'}}}\n",
    );
    let out = env
        .cmd()
        .env("USER", "tanaka")
        .args(["daily", "-f", "checklist", "--now", NOW])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text,
        "【日次運用チェックリスト】\n\n日付: 2025-10-21\n担当者: tanaka\n\n☒ サービス稼働状況（httpd/estimator）\n☑ リソース使用状況（ディスク使用率）\n\n特記事項:\n- [異常] estimator: 終了コード 1（期待値 0）\n"
    );
}

#[test]
fn report_timezone_decides_the_day() {
    let env = Env::new();
    env.runbook(
        "daily.yaml",
        "version: 1\nreport: {timezone: UTC}\nchecks:\n  - {id: a, command: {shell: 'true'}}\n",
    );
    // 08:00 in Tokyo is still the previous day in UTC.
    let r = env.run(&[
        "daily",
        "-f",
        "report",
        "--now",
        "2025-10-21T08:00:00+09:00",
    ]);
    assert!(
        r.stdout.starts_with("【日次運用レポート】2025-10-20\n"),
        "{r:?}"
    );
    let r = env.run(&[
        "report",
        "daily",
        "--date",
        "2025-10-20",
        "--now",
        "2025-10-22T00:00:00+09:00",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = env.run(&[
        "report",
        "daily",
        "--date",
        "2025-10-21",
        "--now",
        "2025-10-22T00:00:00+09:00",
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .contains("no run of `daily` recorded on 2025-10-21"),
        "{}",
        r.stderr
    );
}

/// Two weeks of history: the probe every 6 hours (one failure on 10-23
/// 06:00; nothing at all on 10-25, as if cron had stopped), the daily
/// runbook at 09:00 (backup missing on 10-22), the weekly one on the 20th.
fn two_weeks(env: &Env) {
    for day in 14..=27u32 {
        for hour in [0u32, 6, 12, 18] {
            if day == 25 || (day == 27 && hour > 6) {
                continue;
            }
            let now = format!("2025-10-{day}T{hour:02}:00:00+09:00");
            let health = if day == 23 && hour == 6 {
                "health=/status/503"
            } else {
                "health=/ok"
            };
            ok_run(env, &["run", "probe", "-q", "--var", health, "--now", &now]);
            other_run(env, day, &now);
        }
        let backup = env.path().join("backups/latest/app.db");
        if day == 22 {
            std::fs::remove_file(&backup).unwrap();
        }
        let now = format!("2025-10-{day}T09:00:00+09:00");
        let vars = daily_vars(day);
        ok_run(env, &with_vars(&["daily", "-q", "--now", &now], &vars));
        if day == 22 {
            std::fs::write(&backup, "backup").unwrap();
        }
    }
    ok_run(env, &["weekly", "-q", "--now", "2025-10-20T10:00:00+09:00"]);
}

#[test]
fn weekly_report_and_checklist_from_two_weeks_of_history() {
    let server = Server::start();
    let env = seed_env(&server);
    two_weeks(&env);
    let now = "2025-10-27T10:00:00+09:00";
    let r = env.run(&["weekly", "-f", "report", "--var", "cert=25", "--now", now]);
    assert_eq!(r.code, 1, "{r:?}");
    golden("weekly_report.txt", &r.stdout);
    // 10-23 06:00–12:00 down; 10-25 06:00 to 10-26 00:00 not measured (the
    // 10-24 18:00 sample speaks for 12 hours, twice the probe interval).
    assert!(
        r.stdout.contains("- ダウンタイム: 360分 (6時間)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("(欠測 18時間を除く)"), "{}", r.stdout);
    assert!(
        r.stdout.contains("- 定期バックアップ: 成功 6/7回"),
        "{}",
        r.stdout
    );

    let c = env.run(&[
        "weekly",
        "-f",
        "checklist",
        "--reporter",
        "運用担当者A",
        "--var",
        "cert=25",
        "--now",
        now,
        "--no-history",
    ]);
    golden("weekly_checklist.txt", &c.stdout);

    // The other system's weekly report: its own rows only (its form's
    // 稼働率, its disk), none of the seed system's; and the seed's report
    // above has none of its rows (no フォーム応答, one ディスク使用率).
    let other = env.run(&["run", "other-weekly", "-f", "report", "--now", now]);
    assert_eq!(other.code, 0, "{other:?}");
    golden("weekly_report_other_system.txt", &other.stdout);
    assert!(!other.stdout.contains("ヘルスチェック"), "{}", other.stdout);
    assert!(!r.stdout.contains("フォーム応答"), "{}", r.stdout);
    assert!(!r.stdout.contains("平均a"), "{}", r.stdout);
    assert_eq!(
        r.stdout.matches("ディスク使用率").count(),
        1,
        "{}",
        r.stdout
    );

    // The same report from history alone, at the same instant…
    let past = env.run(&["report", "weekly", "--date", "2025-10-27", "--now", now]);
    assert_eq!(past.code, 0, "{past:?}");
    assert_eq!(past.stdout, r.stdout);
    // …and once the week is over (totals compare with the previous week).
    let later = env.run(&[
        "report",
        "weekly",
        "--date",
        "2025-10-27",
        "--now",
        "2025-11-03T10:00:00+09:00",
    ]);
    assert_eq!(later.code, 0, "{later:?}");
    golden("weekly_report_complete.txt", &later.stdout);

    // opsrun history: runs, and one check's series with its sparkline.
    let h = env.run(&["history", "--check", "cpu", "--since", "7d", "--now", now]);
    assert_eq!(h.code, 0, "{h:?}");
    golden("history_check_cpu.txt", &h.stdout);
    let h = env.run(&["history", "--runbook", "weekly", "--now", now, "-f", "json"]);
    let runs: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs:#}");
    assert_eq!(runs[1]["status"], "warn");
    assert_eq!(runs[1]["summary"]["warn"], 1);

    // The report as one HTML page with its charts (SPEC §10.7), drawn by
    // Chromium (last: it records one more weekly run).
    let h = env.run(&["weekly", "-f", "html", "--var", "cert=25", "--now", now]);
    assert_eq!(h.code, 1, "{h:?}");
    golden("weekly_report_html", &crate::html::golden_html(&h.stdout));
    crate::html::assert_renders("weekly", &h.stdout);
    // `opsrun report weekly -f html`: the same page from history alone.
    let past = env.run(&[
        "report",
        "weekly",
        "-f",
        "html",
        "--date",
        "2025-10-27",
        "--now",
        now,
    ]);
    assert_eq!(past.code, 0, "{past:?}");
    assert!(
        past.stdout
            .contains("<h1>【週次運用レポート】2025-10-21 ~ 2025-10-27</h1>")
    );
}

#[test]
fn monthly_report_with_forecasts_from_history() {
    let server = Server::start();
    let env = seed_env(&server);
    // September's last days, for 前月比.
    for day in 25..=30u32 {
        let now = format!("2025-09-{day}T09:00:00+09:00");
        let vars = vec![
            "cpu=28".to_owned(),
            "mem=66".to_owned(),
            "disk=57".to_owned(),
            "req=90".to_owned(),
            "err=1".to_owned(),
            "rate=1.11".to_owned(),
            format!("db={}", 37.0 + day as f64 * 0.1),
        ];
        ok_run(&env, &with_vars(&["daily", "-q", "--now", &now], &vars));
    }
    // October: disk +0.5pt a day (crosses 90% within 90 days), the DB
    // +0.1MB a day (nowhere near 1000MB); the probe twice a day, failing
    // on the 15th at 10:00.
    for day in 1..=31u32 {
        for hour in [10u32, 22] {
            let now = format!("2025-10-{day:02}T{hour}:00:00+09:00");
            let health = if day == 15 && hour == 10 {
                "health=/status/503"
            } else {
                "health=/ok"
            };
            ok_run(
                &env,
                &["run", "probe", "-q", "--var", health, "--now", &now],
            );
            other_run(&env, day, &now);
        }
        let mut vars = daily_vars(day);
        vars[2] = format!("disk={}", 60.0 + (day - 1) as f64 * 0.5);
        let now = format!("2025-10-{day:02}T09:00:00+09:00");
        ok_run(&env, &with_vars(&["daily", "-q", "--now", &now], &vars));
    }
    let now = "2025-11-01T10:00:00+09:00";
    let r = env.run(&["monthly", "-f", "report", "--now", now]);
    assert_eq!(r.code, 0, "{r:?}");
    golden("monthly_report.txt", &r.stdout);
    assert!(r.stdout.starts_with("【月次運用レポート】2025年10月\n"));
    assert!(r.stdout.contains("頃に90%到達予測"), "{}", r.stdout);
    assert!(
        r.stdout.contains("予測期間内に閾値到達なし"),
        "{}",
        r.stdout
    );
    let c = env.run(&[
        "monthly",
        "-f",
        "checklist",
        "--reporter",
        "運用担当者A",
        "--now",
        now,
    ]);
    golden("monthly_checklist.txt", &c.stdout);
    let past = env.run(&[
        "report",
        "monthly",
        "--month",
        "2025-10",
        "--now",
        "2025-11-20T00:00:00+09:00",
    ]);
    assert_eq!(past.code, 0, "{past:?}");
    assert_eq!(past.stdout, r.stdout);
    let h = env.run(&["monthly", "-f", "html", "--now", now]);
    assert_eq!(h.code, 0, "{h:?}");
    golden("monthly_report_html", &crate::html::golden_html(&h.stdout));
    crate::html::assert_renders("monthly", &h.stdout);
}

#[test]
fn reports_over_an_empty_history() {
    let server = Server::start();
    let env = seed_env(&server);
    let now = "2025-10-27T10:00:00+09:00";
    let r = env.run(&["weekly", "-f", "report", "--no-history", "--now", now]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!env.path().join("history.db").exists());
    golden("weekly_empty.txt", &r.stdout);
    let r = env.run(&["report", "monthly", "--month", "2025-10", "--now", now]);
    assert_eq!(r.code, 0, "{r:?}");
    golden("monthly_empty.txt", &r.stdout);
    let r = env.run(&["report", "daily", "--now", now]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .contains("no run of `daily` recorded on 2025-10-27")
            && r.stderr.contains("no history file yet"),
        "{}",
        r.stderr
    );
    // A period in the future, or --month on a weekly report, is an error.
    let r = env.run(&["report", "weekly", "--date", "2025-12-01", "--now", now]);
    assert_eq!(r.code, 3, "{r:?}");
    let r = env.run(&["report", "weekly", "--month", "2025-10", "--now", now]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("--month is for monthly reports"),
        "{}",
        r.stderr
    );
    let r = env.run(&["report", "monthly", "--month", "2025-13", "--now", now]);
    assert_eq!(r.code, 3, "{r:?}");
}

/// The document's title follows the runbook (SPEC §10.2): an incident
/// runbook's checklist is the 障害対応チェックリスト, a runbook that is not
/// the daily one is titled by its `title:`, and `report.kind: daily` makes
/// any runbook's report the 日次運用レポート.
#[test]
fn document_titles_follow_the_runbook() {
    let env = Env::new();
    env.runbook(
        "incident-p4.yaml",
        "version: 1\ntitle: P4 一部エラー発生\nincident: {level: p4}\nchecks:\n  - {id: a, label: エラー確認, command: {run: [\"true\"]}}\n",
    );
    env.runbook(
        "slow.yaml",
        "version: 1\ntitle: 応答速度点検\nchecks:\n  - {id: a, label: 応答, command: {run: [\"true\"]}}\n",
    );
    env.runbook(
        "morning.yaml",
        "version: 1\ntitle: 朝の点検\nreport: {kind: daily}\nchecks:\n  - {id: a, label: 応答, command: {run: [\"true\"]}}\n",
    );
    let first_line = |args: &[&str]| {
        let r = env.run(args);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        r.stdout.lines().next().unwrap_or_default().to_owned()
    };
    let base = ["--now", NOW, "--no-history"];
    let with = |a: &[&'static str]| [a, &base[..]].concat();
    assert_eq!(
        first_line(&with(&["run", "incident-p4", "-f", "checklist"])),
        "【障害対応チェックリスト】"
    );
    assert_eq!(
        first_line(&with(&["run", "slow", "-f", "report"])),
        "【応答速度点検レポート】2025-10-21"
    );
    assert_eq!(
        first_line(&with(&["run", "slow", "-f", "checklist"])),
        "【応答速度点検チェックリスト】"
    );
    assert_eq!(
        first_line(&with(&["run", "morning", "-f", "report"])),
        "【日次運用レポート】2025-10-21"
    );
}

/// A value that must not fall (free space): `limit: "< 10"` says lower is
/// worse, so a shrinking trend is forecast to reach it. The same limit
/// without the sign, on a check with no thresholds to tell the side, is
/// read as a usage limit: the report then says the value is already past it
/// — which is why the sign exists (and the member-form example uses it).
#[test]
fn a_forecast_limit_with_a_sign_follows_a_falling_value() {
    let env = Env::new();
    env.runbook(
        "space.yaml",
        "version: 1\ntitle: 空き容量\nsystem: S\nvars: {free: \"50\"}\nchecks:\n  - id: free\n    label: 空き容量\n    command: {shell: \"echo ${free}\", value: {unit: 件}}\n",
    );
    let monthly = |limit: &str| {
        format!(
            "version: 1\ntitle: 月次\nsystem: S\nchecks:\n  - {{id: ok, command: {{shell: \"true\"}}}}\nreport:\n  from: [space]\n  forecast:\n    - {{check: space/free, label: 空き, limit: \"{limit}\", horizon: 90d}}\n"
        )
    };
    // October: 50 down by 0.5 a day, so 35 on the 31st and 10 about fifty
    // days later.
    for day in 1..=31u32 {
        let now = format!("2025-10-{day:02}T09:00:00+09:00");
        let free = format!("free={}", 50.0 - (day - 1) as f64 * 0.5);
        ok_run(&env, &["run", "space", "-q", "--var", &free, "--now", &now]);
    }
    let now = "2025-11-01T10:00:00+09:00";
    env.runbook("monthly.yaml", &monthly("< 10"));
    let r = env.run(&["monthly", "-f", "report", "--now", now]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("- 空き: 35件 → 2025-12-20頃に10件到達予測 (約1.6ヶ月後, -0.5件/日)"),
        "{}",
        r.stdout
    );
    env.runbook("monthly.yaml", &monthly("10"));
    let r = env.run(&["monthly", "-f", "report", "--now", now]);
    assert!(
        r.stdout.contains("- 空き: 35件 → 既に閾値 10件 に到達"),
        "{}",
        r.stdout
    );
    // A sign and nothing after it is a load error naming the key.
    env.runbook("monthly.yaml", &monthly("<"));
    let r = env.run(&["validate", "runbooks/monthly.yaml"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("invalid limit `<`"), "{}", r.stderr);
}
