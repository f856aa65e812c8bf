//! One history, every document (issue 14): a month of one team's host
//! written by real runs with fixed clocks, then each document a person
//! reads — 日次運用レポート, checklist, 週次/月次運用レポート, 障害報告,
//! the mail — golden from that one history. It holds two systems (the
//! seed's AI見積りシステム and 会員フォーム, whose rows must never show),
//! three incidents (#1 joined by a second call that raises it to P1,
//! recovered by `--execute` and closed; #2 recovered by healthy
//! diagnostics; #3 closed without a recovery), a maintenance window with a
//! failure inside it (計画停止, out of 稼働率), a `consecutive: 3` check
//! seen failing once (経過観察), and an outage (停止).

use super::{DAILY, golden, ok_run, seed_env};
use crate::common::http_server::Server;
use crate::common::outage::{self, Names, healthy};
use crate::common::{Env, Run, hostname, redact};

const SYSTEM: &str = "AI見積りシステム";

/// The seed's system's incident runbooks (an outage is the file
/// `healthy` missing; the action creates it).
const OUTAGE: Names = Names {
    system: SYSTEM,
    scope: "見積り機能停止",
    escalation: "開発リーダー",
    check: ("estimator", "estimator 稼働確認"),
    action: ("restart", "estimator 再起動"),
};

fn incident_runbook(level: &str, name: &str) -> String {
    let title = format!("{} 障害対応", level.to_uppercase());
    outage::incident_runbook(&OUTAGE, &title, level, name)
}

fn incident(env: &Env, level: &str, now: &str, extra: &[&str]) -> Run {
    let now = format!("2025-10-{now}:00+09:00");
    let mut args = vec![
        "incident",
        level,
        "--now",
        &now,
        "--reporter",
        "運用担当者A",
    ];
    args.extend_from_slice(extra);
    let r = env.run(&args);
    assert!((0..=2).contains(&r.code), "{args:?}: {r:?}");
    r
}

/// What follows the wall clock becomes a placeholder: the host, run
/// times, a verify's seconds.
fn redact_all(s: &str) -> String {
    let s = redact(s, &hostname());
    regex::Regex::new(r"(\d\d:\d\d):\d\d")
        .unwrap()
        .replace_all(&s, "$1:SS")
        .into_owned()
}

fn the_month(env: &Env) -> Run {
    // The daily health check waits for three failures in a row.
    let daily = DAILY.replace(
        "    http: {url: \"${base}${health}\"}\n",
        "    consecutive: 3\n    http: {url: \"${base}${health}\"}\n",
    );
    assert_ne!(daily, DAILY);
    let base = env.runbooks().join("daily.yaml");
    let base_url = std::fs::read_to_string(&base).unwrap();
    let url = base_url
        .lines()
        .find_map(|l| l.strip_prefix("  base: "))
        .unwrap()
        .to_owned();
    env.runbook("daily.yaml", &daily.replace("BASE", &url));
    env.runbook("incident-p1.yaml", &incident_runbook("p1", "緊急"));
    env.runbook("incident-p2.yaml", &incident_runbook("p2", "重要"));
    env.runbook("incident-p3.yaml", &incident_runbook("p3", "注意"));
    // A planned stop for every check of the directory: the probe fails
    // inside it on 10-08 02:00.
    env.runbook(
        "config.yaml",
        "version: 1\nmaintenance:\n  - {from: '2025-10-08T01:00:00+09:00', to: '2025-10-08T05:00:00+09:00', checks: all, reason: DB移行}\n",
    );
    for day in 1..=31u32 {
        let mut hours = vec![10u32, 22];
        if day == 8 {
            hours.insert(0, 2);
        }
        for hour in hours {
            let now = format!("2025-10-{day:02}T{hour:02}:00:00+09:00");
            // Down on 10-15 10:00 (an outage of 12 hours until the next
            // sample) and inside the window on 10-08 02:00.
            let down = (day == 15 && hour == 10) || (day == 8 && hour == 2);
            let health = if down {
                "health=/status/503"
            } else {
                "health=/ok"
            };
            ok_run(env, &["run", "probe", "-q", "--var", health, "--now", &now]);
            if hour == 10 {
                let disk = format!("disk={}", 20 + day % 4);
                ok_run(
                    env,
                    &[
                        "run",
                        "other",
                        "-q",
                        "--var",
                        "health=/ok",
                        "--var",
                        &disk,
                        "--now",
                        &now,
                    ],
                );
            }
        }
        if day < 31 {
            let now = format!("2025-10-{day:02}T09:00:00+09:00");
            let disk = format!("disk={}", 60.0 + (day - 1) as f64 * 0.5);
            let req = format!("req={}", 100 + day * 2);
            ok_run(
                env,
                &["daily", "-q", "--now", &now, "--var", &disk, "--var", &req],
            );
        }
    }

    // #1: P2 at 10:05 during the outage, raised to P1 by a second call,
    // recovered by --execute at 10:30, closed at 11:00.
    healthy(env, false);
    let r = incident(env, "p2", "15T10:05", &[]);
    assert!(r.stderr.contains("incident #1 opened"), "{}", r.stderr);
    let r = incident(env, "p1", "15T10:15", &[]);
    assert!(r.stderr.contains("incident #1 joined (P1"), "{}", r.stderr);
    // The on-call engineer's terminal speaks Japanese (`--lang ja`, as
    // LANG=ja_JP.UTF-8 would): the diagnosis table too.
    let report = incident(
        env,
        "p1",
        "15T10:30",
        &["--execute", "--yes", "--lang", "ja"],
    );
    assert!(report.stdout.contains("復旧済み"), "{}", report.stdout);
    let r = env.run(&[
        "incident",
        "close",
        "1",
        "--note",
        "原因: estimator のメモリリーク",
        "--now",
        "2025-10-15T11:00:00+09:00",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    // #2: P3 from 02:50, recovered when the diagnostics found it healthy.
    healthy(env, false);
    incident(env, "p3", "21T03:00", &["--since", "02:50"]);
    healthy(env, true);
    let r = incident(env, "p3", "21T04:00", &[]);
    assert!(r.stderr.contains("#2 joined"), "{}", r.stderr);
    // #3: P2, closed without a recovery.
    healthy(env, false);
    incident(env, "p2", "29T13:00", &[]);
    let r = env.run(&[
        "incident",
        "close",
        "3",
        "--now",
        "2025-10-29T14:00:00+09:00",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    report
}

#[test]
fn one_history_gives_every_document() {
    let server = Server::start();
    let env = seed_env(&server);
    let incident_report = the_month(&env);
    golden(
        "month_incident_report.txt",
        &redact_all(&incident_report.stdout),
    );

    // 10-31: the health check fails once (held back, 経過観察) and the
    // disk is at 85% (警告); the report is mailed.
    let stub = env.write(
        "runbooks/bin/sendmail",
        "#!/bin/sh\ncat > \"$(dirname \"$0\")/message.eml\"\n",
    );
    std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let daily = std::fs::read_to_string(env.runbooks().join("daily.yaml")).unwrap();
    env.runbook(
        "daily.yaml",
        &format!(
            "{daily}notify:\n  email: {{to: ops@example.com, from: opsrun@example.com, sendmail: bin/sendmail}}\n"
        ),
    );
    let day = [
        "--now",
        "2025-10-31T09:00:00+09:00",
        "--var",
        "disk=85",
        "--var",
        "health=/status/503",
    ];
    let r = env.run(&[&["daily", "-f", "report", "--notify"][..], &day].concat());
    assert_eq!(r.code, 1, "{r:?}");
    golden("month_daily_report.txt", &r.stdout);
    assert!(
        r.stdout
            .contains("- ヘルスチェック: 正常（異常 1/3回・未確定）"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("- [経過観察] ヘルスチェック: 異常 1/3回目（3回連続で判定）"),
        "{}",
        r.stdout
    );
    let m = crate::notify::decode_mail(&env.runbooks().join("bin/message.eml"));
    let mail = format!(
        "Subject: {}\nContent-Type: {}\n\n{}",
        m["subject"].as_str().unwrap_or_default(),
        m["content_type"].as_str().unwrap_or_default(),
        m["body"].as_str().unwrap_or_default().replace("\r\n", "\n")
    );
    golden("month_mail.txt", &redact_all(&mail));
    let c = env.run(
        &[
            &[
                "daily",
                "-f",
                "checklist",
                "--reporter",
                "運用担当者A",
                "--no-history",
            ][..],
            &day,
        ]
        .concat(),
    );
    golden("month_daily_checklist.txt", &c.stdout);

    // The week of 10-20: incident #2 (P3, 1時間10分).
    let w = env.run(&[
        "report",
        "weekly",
        "--date",
        "2025-10-26",
        "--now",
        "2025-10-27T10:00:00+09:00",
    ]);
    assert_eq!(w.code, 0, "{w:?}");
    golden("month_weekly_report.txt", &w.stdout);

    // October: the outage, the planned stop, three incidents.
    let mo = env.run(&[
        "monthly",
        "-f",
        "report",
        "--now",
        "2025-11-01T10:00:00+09:00",
    ]);
    assert_eq!(mo.code, 0, "{mo:?}");
    golden("month_monthly_report.txt", &mo.stdout);
    for doc in [&mo.stdout, &w.stdout, &r.stdout, &c.stdout] {
        assert!(
            !doc.contains("フォーム応答") && !doc.contains("登録件数"),
            "{doc}"
        );
    }
    assert!(mo.stdout.contains("計画停止"), "{}", mo.stdout);
    assert!(mo.stdout.contains("インシデント数: 3件"), "{}", mo.stdout);

    let list = env.run(&["incident", "list", "--now", "2025-11-01T10:00:00+09:00"]);
    assert_eq!(list.code, 0, "{list:?}");
    let path = env.path().join("history.db").display().to_string();
    golden(
        "month_incident_list.txt",
        &redact_all(&list.stdout).replace(&path, "HISTORY"),
    );

    // Japanese documents carry no English reason.
    for doc in [
        &mo.stdout,
        &w.stdout,
        &r.stdout,
        &c.stdout,
        &incident_report.stdout,
    ] {
        for word in ["timed out", "refused", "expected", "status 503", "exit 1"] {
            assert!(!doc.contains(word), "{word}: {doc}");
        }
    }
}
