//! `log`'s `value:` and `metrics:` (SPEC §10.6): numbers read from real
//! log files, held against figures the test computes itself — nearest
//! rank by sorting, the mean by summing — and `format: json` lines in and
//! out of the window, malformed lines, lines whose value does not parse,
//! and no matching line at all.

use serde_json::Value;

use crate::common::{Env, check};
use crate::logs::{detail, load_error, metric, run};

/// The definition, independent of opsrun's code: sort, take the
/// ⌈p·n/100⌉-th value.
fn nearest_rank(sorted: &[f64], p: usize) -> f64 {
    let r = (p * sorted.len()).div_ceil(100).max(1);
    sorted[r - 1]
}

/// A small deterministic generator: the same "random" values every run.
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

/// PostgreSQL's `log_min_duration_statement` lines (the documented
/// example): 2000 statements with durations in ms, 3 decimals, a long
/// tail; checkpoints and other lines between them; one statement an hour
/// before the window.
#[test]
fn postgres_durations_give_exact_percentiles() {
    let env = Env::new();
    let mut seed = 42;
    let mut log = String::new();
    let mut want = Vec::new();
    log.push_str(
        "2025-10-21 07:30:00.000 JST [9] LOG:  duration: 99999.000 ms  statement: SELECT old\n",
    );
    for i in 0..2000u64 {
        let ms = match i % 50 {
            0 => 500.0 + (lcg(&mut seed) % 5_000_000) as f64 / 1000.0,
            _ => (lcg(&mut seed) % 120_000) as f64 / 1000.0,
        };
        want.push(ms);
        let (m, s) = (i * 1700 / 1000 / 60, i * 1700 / 1000 % 60);
        writeln(
            &mut log,
            &format!(
                "2025-10-21 08:{m:02}:{s:02}.{:03} JST [{}] LOG:  duration: {ms:.3} ms  statement: SELECT {i}",
                i % 1000,
                100 + i % 7
            ),
        );
        if i % 100 == 0 {
            writeln(
                &mut log,
                "2025-10-21 08:00:00.000 JST [7] LOG:  checkpoint starting: time",
            );
        }
    }
    env.write("runbooks/postgresql.log", &log);
    let (v, code) = run(
        &env,
        "  - id: q\n    log:\n      path: postgresql.log\n      since: 1h\n      value: {regex: 'duration: (?P<v>[0-9.]+) ms', unit: ms}\n      metrics: {p95: {warn: 100ms, fail: 500ms}, p50: {}, p99: {}, avg: {}, max: {}, sum: {}, count: {}}\n",
    );
    let c = check(&v, "q");
    let mut sorted = want.clone();
    sorted.sort_by(f64::total_cmp);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6 * b.abs().max(1.0);
    assert_eq!(metric(c, "count"), 2000.0, "{c:#}");
    for (name, p) in [("p50", 50), ("p95", 95), ("p99", 99)] {
        let got = metric(c, name);
        assert!(
            close(got, nearest_rank(&sorted, p)),
            "{name}: {got} vs {}",
            nearest_rank(&sorted, p)
        );
    }
    assert!(close(metric(c, "max"), *sorted.last().unwrap()));
    let sum: f64 = want.iter().sum();
    assert!(close(metric(c, "sum"), sum), "{}", metric(c, "sum"));
    assert!(close(metric(c, "avg"), sum / 2000.0));
    // The headline is the first metric written, in ms, held to its limits.
    assert_eq!(c["unit"], "ms");
    assert!(close(
        c["metric"].as_f64().unwrap(),
        nearest_rank(&sorted, 95)
    ));
    let p95 = nearest_rank(&sorted, 95);
    let status = if p95 >= 500.0 {
        "fail"
    } else if p95 >= 100.0 {
        "warn"
    } else {
        "pass"
    };
    assert_eq!(c["status"], status, "{c:#}");
    assert_eq!(
        code,
        if status == "fail" {
            2
        } else if status == "warn" {
            1
        } else {
            0
        }
    );
}

fn writeln(s: &mut String, line: &str) {
    s.push_str(line);
    s.push('\n');
}

#[test]
fn values_in_seconds_are_durations_and_unparsed_lines_are_counted() {
    let env = Env::new();
    env.write(
        "runbooks/batch.log",
        "2025-10-21T02:00:03+09:00 B001 start\n\
         2025-10-21T02:05:15+09:00 B001 DBバックアップ completed in 312s\n\
         2025-10-21T03:00:40+09:00 B002 ログクリーンアップ completed in 40s\n\
         2025-10-21T04:01:00+09:00 B004 データ集計 completed in ?s\n\
         2025-10-21T04:30:00+09:00 B004 データ集計 completed in 1,800.5s\n",
    );
    let (v, _) = run(
        &env,
        "  - id: b\n    log: {path: batch.log, pattern: completed, value: {regex: 'in ([0-9.,?]+)s', unit: s}, metrics: {max: {warn: 10m, fail: 30m}}}\n",
    );
    let c = check(&v, "b");
    // Matching lines count whether or not their value parsed.
    assert_eq!(metric(c, "count"), 4.0);
    assert_eq!(metric(c, "max"), 1_800_500.0, "{c:#}");
    assert_eq!(c["metrics"]["max"]["unit"], "ms");
    assert_eq!(c["status"], "fail");
    assert_eq!(c["message"], "batch.log /completed/: max 30m ≥ fail 30m");
    let d = detail(c);
    assert!(
        d.contains("1 matching line(s) gave no number, first: 2025-10-21T04:01:00+09:00 B004 データ集計 completed in ?s"),
        "{d}"
    );
    assert!(d.contains("3 value(s): avg"), "{d}");

    // Every matching line unparsable: the regex is wrong, not the log.
    let (v, code) = run(
        &env,
        "  - id: b\n    log: {path: batch.log, pattern: completed, value: {regex: 'took (\\d+)'}}\n",
    );
    let c = check(&v, "b");
    assert_eq!((c["status"].as_str(), code), (Some("unknown"), 3), "{c:#}");
    assert_eq!(c["reason"]["code"], "log.no_value");
    assert_eq!(c["reason"]["params"]["count"], 4);
}

/// Metrics of nothing: no line matched. `count` is 0 and passes its
/// limits, `sum` is 0, the others are not evaluated — said in `-v`, never
/// a failure (nothing slow happened).
#[test]
fn no_matching_line_is_count_zero_and_percentiles_not_evaluated() {
    let env = Env::new();
    env.write(
        "runbooks/quiet.log",
        "2025-10-21T08:00:00+09:00 nothing to see\n",
    );
    let (v, code) = run(
        &env,
        "  - id: q\n    log: {path: quiet.log, value: {regex: 'duration: (\\d+) ms', unit: ms}, metrics: {p95: {fail: 1s}, count: {warn: 100}, sum: {warn: 1s}}}\n",
    );
    let c = check(&v, "q");
    assert_eq!((c["status"].as_str(), code), (Some("pass"), 0), "{c:#}");
    assert_eq!(metric(c, "count"), 0.0);
    assert_eq!(metric(c, "sum"), 0.0);
    assert!(c["metrics"].get("p95").is_none(), "{c:#}");
    assert!(c["metrics"].get("avg").is_none(), "{c:#}");
    assert!(detail(c).contains("p95: no values, not evaluated"), "{c:#}");
    // The value column says what there is.
    assert_eq!(c["value"], "0 matches");
    // Without `value:` and `metrics:`, any match still warns (unchanged).
    let (v, _) = run(
        &env,
        "  - id: q\n    log: {path: quiet.log, pattern: nothing}\n",
    );
    assert_eq!(check(&v, "q")["status"], "warn");
}

/// Seed 002's JSON logs: `{"timestamp": …, "level": …, "message": …}`,
/// windowed by the field, not by the start of the line.
#[test]
fn json_lines_are_windowed_by_their_timestamp_field() {
    let env = Env::new();
    let lines = [
        // in the 24h window (NOW is 2025-10-21T09:00:00+09:00)
        r#"{"timestamp": "2025-10-21T02:05:12+09:00", "level": "INFO", "message": "B001 DBバックアップ completed in 312s"}"#,
        r#"{"timestamp": "2025-10-20T19:00:00Z", "level": "INFO", "message": "B004 データ集計 completed in 95s"}"#,
        r#"{"timestamp": 1761004800, "level": "INFO", "message": "B002 completed in 20s"}"#,
        r#"{"timestamp": 1761004800500, "level": "ERROR", "message": "B003 failed after 5s"}"#,
        // out of it: before and after
        r#"{"timestamp": "2025-10-19T02:00:00+09:00", "level": "INFO", "message": "B001 completed in 9000s"}"#,
        r#"{"timestamp": "2025-10-21T10:00:00+09:00", "level": "INFO", "message": "B001 completed in 8000s"}"#,
        // no timestamp: left out of a window
        r#"{"level": "INFO", "message": "B009 completed in 7000s"}"#,
        // malformed: not JSON, not an object, cut short
        "plain text completed in 6000s",
        "[1, 2, 3]",
        r#"{"timestamp": "2025-10-21T08:00:00+09:00", "message": "cut"#,
        "",
    ];
    env.write("runbooks/app.jsonl", &(lines.join("\n") + "\n"));
    let (v, _) = run(
        &env,
        "  - id: batches\n    log: {path: app.jsonl, format: json, since: 24h, value: {regex: 'completed in (?P<v>\\d+)s', unit: s}, metrics: {max: {warn: 30m}, count: {}}}\n  - id: errors\n    log: {path: app.jsonl, format: json, message_field: level, since: 24h, pattern: ERROR, count: {warn: 1}}\n",
    );
    let c = check(&v, "batches");
    assert_eq!(metric(c, "count"), 3.0, "{c:#}");
    assert_eq!(metric(c, "max"), 312_000.0, "{c:#}");
    assert_eq!(metric(c, "sum"), 427_000.0, "{c:#}");
    assert_eq!(c["status"], "pass");
    let d = detail(c);
    assert!(
        d.contains("3 line(s) not a JSON object, skipped, first: plain text completed in 6000s"),
        "{d}"
    );
    assert!(
        d.contains("1 JSON line(s) without a time in `timestamp`, not counted"),
        "{d}"
    );
    let e = check(&v, "errors");
    assert_eq!(metric(e, "count"), 1.0, "{e:#}");
    assert_eq!(e["status"], "warn");

    // A renamed timestamp field that no line has: the window cannot be
    // applied, unknown rather than 0.
    let (v, _) = run(
        &env,
        "  - id: j\n    log: {path: app.jsonl, format: json, since: 1h, timestamp_field: time}\n",
    );
    let c = check(&v, "j");
    assert_eq!(c["status"], "unknown", "{c:#}");
    assert_eq!(c["reason"]["code"], "log.no_timestamp");
    // Not a JSON log at all.
    env.write("runbooks/plain.log", "a\nb\n");
    let (v, _) = run(
        &env,
        "  - id: j\n    log: {path: plain.log, format: json}\n",
    );
    assert_eq!(check(&v, "j")["reason"]["code"], "log.not_json");
}

#[test]
fn value_and_metrics_are_checked_when_the_runbook_loads() {
    let env = Env::new();
    env.write("runbooks/a.log", "x\n");
    for (yaml, says) in [
        (
            "{path: a.log, metrics: {p95: {warn: 1}}}",
            "metric `p95` needs `value: {regex, unit}`",
        ),
        (
            "{path: a.log, value: {regex: '(\\d+)', unit: ms}, metrics: {p95: {warn: 5s, fail: 1s}}}",
            "metrics.p95: warn 5s is at or beyond fail 1s",
        ),
        (
            "{path: a.log, value: {regex: '(\\d+)', unit: ms}, metrics: {p95: {warn: lots}}}",
            "metrics.p95:",
        ),
        (
            "{path: a.log, value: {regex: '(\\d+)', unit: hours}}",
            "unknown unit `hours`",
        ),
        (
            "{path: a.log, value: {regex: '(\\d+)'}, metrics: {p96: {}}}",
            "p96",
        ),
        (
            "{path: a.log, count: {warn: 1}, metrics: {count: {}}}",
            "`count` is given twice",
        ),
        (
            "{path: a.log, message_field: msg}",
            "`message_field` is for `format: json`",
        ),
        (
            "{path: a.log, format: yaml}",
            "unknown format `yaml`: expected text or json",
        ),
        ("{path: a.log, value: {unit: ms}}", "regex"),
    ] {
        let err = load_error(&env, &format!("  - id: x\n    log: {yaml}\n"));
        assert!(err.contains(says), "{yaml}: {err}");
    }
}

/// Japanese, end to end: the reasons and `-v` lines of values.
#[test]
fn values_read_in_japanese() {
    let env = Env::new();
    env.write(
        "pg.log",
        "2025-10-21 08:59:00.001 JST [1] LOG:  duration: 12.3 ms  statement: SELECT 1\n",
    );
    env.runbook(
        "t.yaml",
        "version: 1\ntitle: logs\nchecks:\n  - id: q\n    log: {path: ../pg.log, value: {regex: 'duration: ([0-9.]+) ms', unit: ms}, metrics: {p95: {warn: 10ms}}}\n",
    );
    let r = env.run(&[
        "run",
        "t",
        "--now",
        crate::common::NOW,
        "--lang",
        "ja",
        "-v",
    ]);
    assert!(r.stdout.contains("値 1件: 平均 12.3ms"), "{}", r.stdout);
    assert!(r.stdout.contains("≥ 警告閾値 10ms"), "{}", r.stdout);
    let v: Value = serde_json::from_str(
        &env.run(&["run", "t", "--now", crate::common::NOW, "-f", "json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(metric(check(&v, "q"), "p95"), 12.3);
}
