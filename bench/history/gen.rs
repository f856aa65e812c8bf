//! Writes the benchmark history of `bench/history.sh`: DAYS days (default
//! 400) of the probe in `bench/history/probe.yaml` run every minute,
//! through opsrun's own store (`Store::record_all`, a day per
//! transaction), ending at END (RFC 3339, default 2026-12-01T00:00:00+09:00).
//!
//! Built only with `--features bench`:
//! `cargo run --release --features bench --bin opsrun-bench-history -- PATH [DAYS] [END]`

use std::path::PathBuf;

use chrono::{DateTime, Duration};
use opsrun::history::{ResultRecord, RunRecord, Store};
use opsrun::values::outcome::Status;

struct Check {
    id: &'static str,
    label: &'static str,
    section: &'static str,
    kind: &'static str,
}

const CHECKS: &[Check] = &[
    Check {
        id: "web",
        label: "Web",
        section: "サービス稼働状況",
        kind: "command",
    },
    Check {
        id: "api",
        label: "API",
        section: "サービス稼働状況",
        kind: "command",
    },
    Check {
        id: "disk-root",
        label: "ディスク使用率",
        section: "リソース使用状況",
        kind: "disk",
    },
    Check {
        id: "disk-tmp",
        label: "一時領域",
        section: "リソース使用状況",
        kind: "disk",
    },
    Check {
        id: "memory",
        label: "メモリ使用率",
        section: "リソース使用状況",
        kind: "memory",
    },
    Check {
        id: "root-dir",
        label: "ルート",
        section: "サービス稼働状況",
        kind: "command",
    },
    Check {
        id: "conf",
        label: "設定ファイル",
        section: "サービス稼働状況",
        kind: "file",
    },
    Check {
        id: "passwd",
        label: "passwd",
        section: "サービス稼働状況",
        kind: "file",
    },
    Check {
        id: "queue",
        label: "キュー滞留",
        section: "本日の実績",
        kind: "command",
    },
    Check {
        id: "errors",
        label: "エラー数",
        section: "本日の実績",
        kind: "command",
    },
];

/// A cheap deterministic pseudo-random number in [0, 1).
fn noise(i: i64, salt: u64) -> f64 {
    let mut x =
        (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn result(c: &Check, i: i64, total: i64) -> ResultRecord {
    let mut r = ResultRecord {
        check_id: c.id.into(),
        title: c.id.into(),
        label: c.label.into(),
        section: c.section.into(),
        kind: c.kind.into(),
        hint: None,
        status: Status::Pass,
        value: String::new(),
        metric: None,
        unit: None,
        unit_label: String::new(),
        metrics: Vec::new(),
        message: String::new(),
        message_ja: String::new(),
        limit_ja: None,
        warn_limit: None,
        fail_limit: None,
        duration_ms: 1 + (noise(i, 1) * 5.0) as u64,
        attempts: 1,
        observed: None,
        pending: None,
        maint_until_ms: None,
    };
    let n = noise(i, c.id.len() as u64);
    match c.kind {
        "disk" => {
            // Creeping from 40% to 70% over the span.
            let used = 40.0 + 30.0 * i as f64 / total as f64 + n;
            let size = 100e9;
            r.value = format!("{used:.1}%");
            r.metric = Some(used);
            r.unit = Some("%".into());
            r.metrics = vec![
                ("used".into(), used, "%".into()),
                (
                    "free".into(),
                    ((100.0 - used) / 100.0 * size).round(),
                    "B".into(),
                ),
                ("inodes".into(), 2.5 + n / 10.0, "%".into()),
            ];
            r.warn_limit = Some(80.0);
            r.fail_limit = Some(90.0);
        }
        "memory" => {
            let used = 30.0 + 20.0 * n;
            r.value = format!("{used:.1}%");
            r.metric = Some(used);
            r.unit = Some("%".into());
            r.metrics = vec![
                ("used".into(), used, "%".into()),
                (
                    "used_bytes".into(),
                    (used / 100.0 * 8e9).round(),
                    "B".into(),
                ),
            ];
            r.warn_limit = Some(80.0);
            r.fail_limit = Some(90.0);
        }
        "file" => {
            r.value = "3B, 1.4h ago".into();
            r.metric = Some(3.0);
            r.unit = Some("B".into());
            r.metrics = vec![
                ("size".into(), 3.0, "B".into()),
                ("age".into(), 5_000_000.0 + i as f64 * 60_000.0, "ms".into()),
            ];
        }
        _ if c.id == "queue" || c.id == "errors" => {
            let v = (n * if c.id == "queue" { 12.0 } else { 6.0 }).floor();
            r.value = format!("{v}件");
            r.metric = Some(v);
            r.unit = Some("count".into());
            r.metrics = vec![("value".into(), v, "count".into())];
            r.warn_limit = Some(if c.id == "queue" { 10.0 } else { 5.0 });
            if v >= r.warn_limit.unwrap_or(f64::MAX) {
                r.status = Status::Warn;
                r.message = format!("value {v}件 ≥ warn {}", r.warn_limit.unwrap_or(0.0));
                r.limit_ja = Some(format!("警告閾値 {}", r.warn_limit.unwrap_or(0.0)));
            }
        }
        _ => {
            r.value = "exit 0".into();
            // The web check is down for a few minutes now and then.
            if c.id == "web" && n < 0.002 {
                r.status = Status::Fail;
                r.value = "exit 7".into();
                r.message = "exit status 7".into();
            }
        }
    }
    r
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: opsrun-bench-history PATH [DAYS] [END]");
        std::process::exit(2);
    };
    let days: i64 = args.next().and_then(|d| d.parse().ok()).unwrap_or(400);
    let end = args
        .next()
        .unwrap_or_else(|| "2026-12-01T00:00:00+09:00".into());
    let end = DateTime::parse_from_rfc3339(&end).expect("END is RFC 3339");
    let total = days * 1440;
    let start = end - Duration::minutes(total);
    let mut store = Store::open(&path).expect("open the history");
    let mut batch = Vec::with_capacity(1440);
    for i in 0..total {
        let results: Vec<ResultRecord> = CHECKS.iter().map(|c| result(c, i, total)).collect();
        batch.push(RunRecord {
            runbook: "probe".into(),
            title: "死活監視".into(),
            system: None,
            host: "bench".into(),
            started_at: start + Duration::minutes(i),
            duration_ms: 12,
            interrupted: false,
            results,
        });
        if batch.len() == 1440 || i + 1 == total {
            store.record_all(&batch).expect("record");
            batch.clear();
        }
    }
    eprintln!(
        "{} runs of {} checks written to {}",
        total,
        CHECKS.len(),
        path.display()
    );
}
