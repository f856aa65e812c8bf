//! A history written by opsrun 0.1.0 (schema version 1,
//! `tests/fixtures/history-v1/`) migrates: every report and listing reads
//! exactly as 0.1.0 printed it from the same file, the next runs compare
//! with the migrated ones, and the file is compact afterwards.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::common::Env;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/history-v1")
}

fn expected(name: &str) -> String {
    since_schema_4(
        name,
        std::fs::read_to_string(fixture().join("expected").join(name)).unwrap(),
    )
}

/// What 0.1.0 printed, with the changes schema 4 (incidents with a life,
/// issue 14) makes on purpose: the old incident row is an incident,
/// closed by the migration (an old call must not be joined by the next
/// outage), with no recovery recorded; the run of its diagnostics says so.
fn since_schema_4(name: &str, text: String) -> String {
    match name {
        "weekly.txt" | "weekly-trends.txt" | "monthly.txt" | "monthly-trends.txt" => text
            .replace(
                "- インシデント数: 1件 (P4: 1件)\n",
                "- インシデント数: 1件 (P4: 1件)\n- 平均復旧時間: 復旧の記録なし\n",
            )
            .replace(
                "P4（軽微） 異常: Web → 診断のみ",
                "P4（軽微） 異常: Web → クローズ（復旧確認なし）",
            ),
        "runs.json" => text.replace(
            "      \"fail\": 1,\n      \"unknown\": 0,\n      \"skip\": 0\n    }\n",
            "      \"fail\": 1,\n      \"unknown\": 0,\n      \"skip\": 0\n    },\n    \"incident\": {\n      \"id\": 1,\n      \"state\": \"closed\"\n    }\n",
        ),
        _ => text,
    }
}

/// An Env with a copy of the 0.1.0 database as its history and the
/// fixture's runbooks.
fn v1_env() -> Env {
    let env = Env::new();
    std::fs::copy(fixture().join("history.db"), env.path().join("history.db")).unwrap();
    for rb in ["probe.yaml", "incident-p4.yaml"] {
        std::fs::copy(fixture().join("runbooks").join(rb), env.runbooks().join(rb)).unwrap();
    }
    // Since issue 14 a report reads its own system's runbooks only: the
    // weekly and monthly report runbooks of the fixture's system, which
    // 0.1.0 did not need to read every runbook's history.
    for name in ["weekly", "monthly"] {
        env.runbook(
            &format!("{name}.yaml"),
            "version: 1\ntitle: 点検\nsystem: 旧スキーマ\nchecks:\n  - {id: ok, command: {run: [\"true\"]}}\n",
        );
    }
    env
}

const NOW: &str = "2025-10-28T00:00:00+09:00";

#[test]
fn a_version_1_history_reads_as_before_after_migrating() {
    let env = v1_env();
    let db = env.path().join("history.db");
    let c = Connection::open(&db).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 1, "the fixture is a 0.1.0 database");
    drop(c);
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "report",
                "weekly",
                "--date",
                "2025-10-27",
                "--runbook",
                "probe",
                "--now",
                NOW,
            ],
            "weekly.txt",
        ),
        (
            &[
                "report",
                "daily",
                "--date",
                "2025-10-24",
                "--runbook",
                "probe",
                "--now",
                NOW,
            ],
            "daily.txt",
        ),
        (
            &[
                "report",
                "monthly",
                "--month",
                "2025-10",
                "--runbook",
                "probe",
                "--now",
                "2025-11-01T10:00:00+09:00",
            ],
            "monthly.txt",
        ),
        (
            &["report", "weekly", "--date", "2025-10-27", "--now", NOW],
            "weekly-trends.txt",
        ),
        (
            &[
                "report",
                "monthly",
                "--month",
                "2025-10",
                "--now",
                "2025-11-01T10:00:00+09:00",
            ],
            "monthly-trends.txt",
        ),
        (
            &["history", "--since", "30d", "-f", "json", "--now", NOW],
            "runs.json",
        ),
        (
            &["history", "--since", "30d", "--check", "disk", "--now", NOW],
            "check-disk.txt",
        ),
    ];
    for (args, want) in cases {
        let r = env.run(args);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        // One intended change since 0.1.0 (issue 14): a weekly or monthly
        // report names a day's 本日の実績 for its period.
        let period_word = if want.starts_with("weekly") {
            "■ 週間の実績"
        } else if want.starts_with("monthly") {
            "■ 月間の実績"
        } else {
            "■ 本日の実績"
        };
        let want_text = expected(want).replace("■ 本日の実績", period_word);
        assert_eq!(r.stdout, want_text, "{args:?} differs from 0.1.0's {want}");
    }
    for check in ["load", "disk", "queue", "broken", "web"] {
        let args = [
            "history", "--since", "30d", "--check", check, "-f", "json", "--now", NOW,
        ];
        let r = env.run(&args);
        assert_eq!(r.code, 0, "{r:?}");
        let got: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let want: serde_json::Value =
            serde_json::from_str(&expected(&format!("check-{check}.json"))).unwrap();
        assert_eq!(got, want, "history --check {check}");
    }
    let c = Connection::open(&db).unwrap();
    let one = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(one("PRAGMA user_version"), 7);
    // Every old run got its scope: the system its context recorded.
    assert_eq!(
        one(
            "SELECT COUNT(*) FROM runs r JOIN run_contexts c ON c.id = r.context_id
             WHERE r.scope IS NOT c.system"
        ),
        0
    );
    assert_eq!(one("SELECT COUNT(*) FROM runs"), 10);
    assert_eq!(one("SELECT COUNT(*) FROM results"), 46);
    assert_eq!(one("SELECT COUNT(*) FROM incidents"), 1);
    // Metadata once per check version, not per result.
    assert_eq!(
        one("SELECT COUNT(*) FROM check_versions WHERE label = '負荷'"),
        1
    );
    // Incremental auto-vacuum, which an old file only gets through VACUUM.
    assert_eq!(one("PRAGMA auto_vacuum"), 2);
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let fk: i64 = c
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fk, 0);
    // The old incident row is an incident with its call, linked to the run
    // of its diagnostics and to the system of that run; closed.
    let (system, closed, recovered, summary): (String, i64, Option<i64>, String) = c
        .query_row(
            "SELECT system, closed_ms, recovered_ms, summary FROM incidents WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(system, "旧スキーマ");
    assert_eq!(closed, 1_761_353_400_000, "closed when it began");
    assert_eq!((recovered, summary.as_str()), (None, "異常: Web"));
    let (run, outcome): (i64, String) = c
        .query_row(
            "SELECT run_id, outcome FROM incident_calls WHERE incident_id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((run, outcome.as_str()), (10, "diagnosed"));
    // And nothing joins it: the next call of the same runbook opens #2.
    drop(c);
    let r = env.run(&["incident", "p4", "--now", "2025-10-28T10:00:00+09:00"]);
    assert!(r.stderr.contains("incident #2 opened"), "{r:?}");
}

#[test]
fn the_next_run_after_migrating_compares_with_the_migrated_ones() {
    let env = v1_env();
    // The probe's disk check reads this host's `/`: limits it cannot reach,
    // so a host disk over 80% does not turn the expected 3 (`broken` is
    // unknown) into a 1.
    let probe = env.runbooks().join("probe.yaml");
    let text = std::fs::read_to_string(&probe).unwrap();
    assert!(text.contains("disk: {path: /}"), "{text}");
    std::fs::write(
        &probe,
        text.replace(
            "disk: {path: /}",
            "disk: {path: /, used: {warn: 99.9%, fail: 100%}}",
        ),
    )
    .unwrap();
    // Records (and so migrates), then reads the 0.1.0 runs as its past.
    let r = env.run(&["run", "probe", "-q", "--now", "2025-10-28T09:00:00+09:00"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    let r = env.run(&[
        "history",
        "--check",
        "load",
        "--since",
        "30d",
        "--now",
        "2025-10-29T00:00:00+09:00",
    ]);
    assert!(r.stdout.contains("10 results"), "{}", r.stdout);
    let db = env.path().join("history.db");
    let c = Connection::open(&db).unwrap();
    let latest: i64 = c
        .query_row(
            "SELECT l.started_ms FROM latest l JOIN series s ON s.id = l.series_id
             WHERE s.runbook = 'probe' AND s.check_id = 'load'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(latest, 1_761_609_600_000);
}
