//! The log kinds against real inputs: `journal` reads real journal files
//! made from export-format fixtures by `systemd-journal-remote` (Debian
//! package, see .ci/deps) through the real `journalctl`; `log` and
//! `access_log` read real files (plain, gzip, rotated globs) generated here
//! with their ground truth computed independently in the test.
//! Every run fixes the clock with `--now` so windows are deterministic.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, FixedOffset, TimeZone};
use serde_json::Value;

use crate::common::{self, Env, NOW};

/// `NOW` as epoch seconds (2025-10-21T09:00:00+09:00).
fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(NOW).unwrap()
}
fn now_s() -> i64 {
    now().timestamp()
}

/// Runs `checks_yaml` as a runbook at the fixed clock; returns the JSON
/// document and the exit code.
pub(crate) fn run(env: &Env, checks_yaml: &str) -> (Value, i32) {
    env.runbook(
        "t.yaml",
        &format!("version: 1\ntitle: logs\nchecks:\n{checks_yaml}"),
    );
    let r = env.run(&["run", "t", "-f", "json", "--now", NOW]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\nstdout: {}\nstderr: {}",
            r.stdout, r.stderr
        )
    });
    (v, r.code)
}

/// A load error: exit 3 and stderr.
pub(crate) fn load_error(env: &Env, checks_yaml: &str) -> String {
    env.runbook(
        "t.yaml",
        &format!("version: 1\ntitle: logs\nchecks:\n{checks_yaml}"),
    );
    let r = env.run(&["run", "t", "-f", "json", "--now", NOW]);
    assert_eq!(r.code, 3, "expected a load error: {r:?}");
    r.stderr
}

pub(crate) fn metric(c: &Value, name: &str) -> f64 {
    c["metrics"][name]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no metric {name} in {c:#}"))
}

pub(crate) fn detail(c: &Value) -> String {
    c["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn set_mtime(p: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

// ---------------------------------------------------------------------------
// journal

const JOURNAL_REMOTE: &str = "/lib/systemd/systemd-journal-remote";

/// One journal entry for the export format: time (epoch µs) and fields.
pub(crate) struct Entry {
    t: i64,
    fields: Vec<(&'static str, Vec<u8>)>,
}

pub(crate) fn entry(secs_before_now: i64, prio: u8, unit: &str, msg: &[u8]) -> Entry {
    Entry {
        t: (now_s() - secs_before_now) * 1_000_000,
        fields: vec![
            ("PRIORITY", prio.to_string().into_bytes()),
            ("_SYSTEMD_UNIT", format!("{unit}.service").into_bytes()),
            ("SYSLOG_IDENTIFIER", unit.as_bytes().to_vec()),
            ("MESSAGE", msg.to_vec()),
        ],
    }
}

/// Writes `entries` in the journal export format (binary-safe fields use
/// the length-prefixed form) and converts them to a real journal file.
pub(crate) fn make_journal(env: &Env, name: &str, entries: &[Entry]) -> PathBuf {
    assert!(
        Path::new(JOURNAL_REMOTE).exists(),
        "{JOURNAL_REMOTE} missing: apt-get install systemd-journal-remote (see .ci/deps)"
    );
    let mut export = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        write!(
            export,
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n",
            e.t,
            1_000_000 + i
        )
        .unwrap();
        for (k, v) in &e.fields {
            if v.iter().any(|&b| b == b'\n' || b < 0x20) {
                export.extend_from_slice(k.as_bytes());
                export.push(b'\n');
                export.extend_from_slice(&(v.len() as u64).to_le_bytes());
                export.extend_from_slice(v);
                export.push(b'\n');
            } else {
                export.extend_from_slice(k.as_bytes());
                export.push(b'=');
                export.extend_from_slice(v);
                export.push(b'\n');
            }
        }
        export.push(b'\n');
    }
    let src = env.path().join(format!("{name}.export"));
    std::fs::write(&src, export).unwrap();
    let out = env.path().join(format!("{name}.journal"));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let r = std::process::Command::new(JOURNAL_REMOTE)
        .arg(format!("--output={}", out.display()))
        .arg(&src)
        .output()
        .unwrap();
    assert!(r.status.success(), "journal-remote: {r:?}");
    out
}

/// The fixture most journal tests share (NOW = 09:00 JST; today began 9h ago).
fn estimator_journal(env: &Env) -> PathBuf {
    let mut repeated = entry(5 * 60, 3, "estimator", b"Database Lock: first");
    // A field set twice in one entry: journalctl prints an array.
    repeated
        .fields
        .push(("MESSAGE", b"database is locked (second value)".to_vec()));
    let mut es = vec![
        entry(30 * 3600, 3, "estimator", b"Timeout: too old for 24h"),
        entry(
            9 * 3600 + 1800,
            3,
            "estimator",
            b"Timeout: upstream (yesterday 23:30)",
        ),
        entry(3 * 3600, 2, "estimator", b"MemoryError: cannot allocate"),
        entry(
            2 * 3600,
            3,
            "estimator",
            b"sqlite3.OperationalError: database is locked",
        ),
        entry(3600, 3, "httpd", b"AH00124: Request exceeded the limit"),
        entry(3600 - 1, 3, "estimator", b"OpenAI API Error: rate limit"),
        entry(
            20 * 60,
            3,
            "estimator",
            b"OpenAI API Error: \x01\x02binary\npayload",
        ),
        repeated,
        entry(
            10 * 60,
            6,
            "estimator",
            "タスク作成 EST-20251021-001".as_bytes(),
        ),
        entry(-60, 3, "estimator", b"OpenAI API Error: after now"),
    ];
    es.sort_by_key(|e| e.t);
    make_journal(env, "estimator", &es)
}

#[test]
fn journal_counts_priorities_units_and_windows() {
    let env = Env::new();
    let j = estimator_journal(&env);
    let f = j.display();
    let (doc, code) = run(
        &env,
        &format!(
            "  - {{id: j24, journal: {{unit: estimator, file: '{f}'}}}}
  - {{id: jtoday, journal: {{unit: estimator, file: '{f}', since: today}}}}
  - {{id: jboth, journal: {{unit: [estimator, httpd], file: '{f}'}}}}
  - {{id: jcrit, journal: {{unit: estimator, file: '{f}', priority: crit}}}}
  - {{id: jrange, journal: {{file: '{f}', priority: 'err..crit', since: 1h}}}}
  - {{id: jall, journal: {{file: '{f}', priority: all, since: all, count: {{}}}}}}
  - {{id: jnone, journal: {{unit: nosuchunit, file: '{f}'}}}}
"
        ),
    );
    assert_eq!(code, 1, "{doc:#}");
    let c = common::check(&doc, "j24");
    // err or worse, estimator, last 24h, not after now: 23:30, Memory,
    // lock, OpenAI ×2, repeated.
    assert_eq!(c["status"], "warn");
    assert_eq!(c["metric"], 6.0);
    assert_eq!(c["unit"], "count");
    assert_eq!(c["value"], "6 entries");
    assert_eq!(
        c["message"],
        "journal estimator: 6 entries at err or worse in the last 24h ≥ warn 1"
    );
    assert!(detail(c).contains("by priority: crit 1, err 5"), "{c:#}");
    assert!(
        detail(c).contains("last: 2025-10-21 08:55:00 estimator.service: Database Lock: first⏎database is locked (second value)"),
        "{c:#}"
    );
    assert_eq!(common::check(&doc, "jtoday")["metric"], 5.0);
    assert_eq!(common::check(&doc, "jboth")["metric"], 7.0);
    assert_eq!(common::check(&doc, "jcrit")["metric"], 1.0);
    // The last hour, err..crit, any unit: httpd (at exactly -1h) + OpenAI ×2 + repeated.
    assert_eq!(common::check(&doc, "jrange")["metric"], 4.0);
    let all = common::check(&doc, "jall");
    assert_eq!(all["metric"], 10.0);
    assert_eq!(all["status"], "pass", "count: {{}} sets no limit");
    // A unit that never logged anything is most likely misspelt.
    let none = common::check(&doc, "jnone");
    assert_eq!(none["status"], "unknown");
    assert_eq!(none["metric"], 0.0);
    assert_eq!(
        none["message"],
        "no journal entry at all for unit nosuchunit (is the name right?)"
    );
}

#[test]
fn journal_classify_seed_categories_with_last_message() {
    let env = Env::new();
    let j = estimator_journal(&env);
    // Seed 000's エラー分類.
    let (doc, _) = run(
        &env,
        &format!(
            "  - id: errors
    journal:
      unit: estimator
      file: '{}'
      count: {{warn: 3, fail: 6}}
      classify:
        OpenAI API Error: 'OpenAI API Error'
        Database Lock: '(?i)database is locked|database lock'
        Memory Error: 'MemoryError|Cannot allocate'
        Timeout: '(?i)timeout'
",
            j.display()
        ),
    );
    let c = common::check(&doc, "errors");
    assert_eq!(c["status"], "fail");
    assert!(
        c["message"].as_str().unwrap().ends_with("≥ fail 6"),
        "{c:#}"
    );
    let d = detail(c);
    for want in [
        "OpenAI API Error: 2件 — last: 2025-10-21 08:40:00 estimator.service: OpenAI API Error: \u{FFFD}\u{FFFD}binary⏎payload",
        "Database Lock: 2件 — last: 2025-10-21 08:55:00 estimator.service: Database Lock: first⏎database is locked (second value)",
        "Memory Error: 1件 — last: 2025-10-21 06:00:00 estimator.service: MemoryError: cannot allocate",
        "Timeout: 1件 — last: 2025-10-20 23:30:00 estimator.service: Timeout: upstream (yesterday 23:30)",
    ] {
        assert!(d.contains(want), "missing {want:?} in\n{d}");
    }
    assert!(!d.contains("その他"), "{d}");
}

#[test]
fn journal_grep_reads_binary_fields_and_counts_the_seed_query() {
    let env = Env::new();
    let j = estimator_journal(&env);
    let f = j.display();
    let (doc, _) = run(
        &env,
        &format!(
            // Seed: journalctl -u estimator --since "today" | grep "タスク作成" | wc -l
            "  - {{id: tasks, journal: {{unit: estimator, file: '{f}', since: today, priority: all, grep: タスク作成, count: {{}}}}}}
  - {{id: binary, journal: {{file: '{f}', grep: 'binary\\npayload'}}}}
"
        ),
    );
    let t = common::check(&doc, "tasks");
    assert_eq!(
        (t["status"].as_str(), t["metric"].as_f64()),
        (Some("pass"), Some(1.0))
    );
    assert!(detail(t).contains("タスク作成 EST-20251021-001"), "{t:#}");
    assert_eq!(common::check(&doc, "binary")["metric"], 1.0);
}

#[test]
fn journal_directory_and_missing_journals_are_unknown_not_pass() {
    let env = Env::new();
    let j = estimator_journal(&env);
    // journald's layout: DIR/<machine-id>/system.journal
    let dir = env.path().join("jdir/0123456789abcdef0123456789abcdef");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&j, dir.join("system.journal")).unwrap();
    std::fs::create_dir_all(env.path().join("empty")).unwrap();
    env.write("corrupt/bad.journal", "not a journal file at all");
    let (doc, code) = run(
        &env,
        "  - {id: dir, journal: {unit: estimator, directory: ../jdir}}
  - {id: empty, journal: {directory: ../empty}}
  - {id: nodir, journal: {directory: ../nope}}
  - {id: nofile, journal: {file: ../nope.journal}}
  - {id: corrupt, journal: {file: ../corrupt/bad.journal}}
",
    );
    assert_eq!(code, 1, "worst is warn: unknown ranks below warn");
    assert_eq!(common::check(&doc, "dir")["metric"], 6.0);
    for (id, why) in [
        ("empty", "no journal files in"),
        ("nodir", "journal directory"),
        ("nofile", "no file matches"),
        ("corrupt", "journalctl exited with 1"),
    ] {
        let c = common::check(&doc, id);
        assert_eq!(c["status"], "unknown", "{id}: {c:#}");
        assert!(c["message"].as_str().unwrap().contains(why), "{id}: {c:#}");
        assert!(!c["message"].as_str().unwrap().contains('\n'));
    }
}

#[test]
fn journal_system_journal_missing_is_unknown() {
    // The system journal can only be tested for absence where there is
    // none (containers, CI): journalctl would print nothing and exit 0.
    let has_journal = ["/var/log/journal", "/run/log/journal"]
        .iter()
        .any(|d| walk_has_journal(Path::new(d), 2));
    if has_journal {
        eprintln!("skipped: this host keeps a system journal");
        return;
    }
    let env = Env::new();
    let (doc, code) = run(&env, "  - {id: j, journal: {unit: estimator}}\n");
    assert_eq!(code, 3);
    let c = common::check(&doc, "j");
    assert_eq!(c["status"], "unknown");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .starts_with("no journal files in /var/log/journal or /run/log/journal"),
        "{c:#}"
    );
}

fn walk_has_journal(d: &Path, depth: u32) -> bool {
    std::fs::read_dir(d)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let p = e.path();
            p.extension()
                .is_some_and(|x| x == "journal" || x == "journal~")
                || (depth > 0 && p.is_dir() && walk_has_journal(&p, depth - 1))
        })
}

#[test]
fn journal_without_journalctl_is_unknown() {
    let env = Env::new();
    let j = estimator_journal(&env);
    env.runbook(
        "t.yaml",
        &format!(
            "version: 1\nchecks:\n  - {{id: j, journal: {{file: '{}'}}}}\n",
            j.display()
        ),
    );
    // An empty PATH: journalctl cannot be found.
    let out = env
        .cmd()
        .env("PATH", env.path().join("nobin"))
        .args(["run", "t", "-f", "json", "--now", NOW])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = common::check(&doc, "j");
    assert_eq!(c["status"], "unknown");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .starts_with("cannot run journalctl"),
        "{c:#}"
    );
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn journal_field_errors_are_load_errors() {
    let env = Env::new();
    let e = load_error(&env, "  - {id: j, journal: {priority: error}}\n");
    assert!(e.contains("invalid priority `error`"), "{e}");
    assert!(e.contains(":4:"), "points at the line: {e}");
    let e = load_error(&env, "  - {id: j, journal: {file: a, directory: b}}\n");
    assert!(e.contains("at most one of `directory` and `file`"), "{e}");
    let e = load_error(&env, "  - {id: j, journal: {since: yesterday}}\n");
    assert!(e.contains("expected today, all, or a duration"), "{e}");
    let e = load_error(&env, "  - {id: j, journal: {grep: '(unclosed'}}\n");
    assert!(e.contains("invalid regex"), "{e}");
    let e = load_error(&env, "  - {id: j, journal: {classify: {A: '['}}}\n");
    assert!(e.contains("category `A`"), "{e}");
    let e = load_error(&env, "  - {id: j, journal: {units: x}}\n");
    assert!(
        e.contains("unknown field `units`") || e.contains("`unit`"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------
// log

/// An Apache 2.4 error_log around NOW (09:00 JST on Tue 21 Oct 2025).
const ERROR_LOG: &str = "\
AH00558: httpd: Could not reliably determine the server's fully qualified domain name (an error before any timestamp)
[Mon Oct 20 08:59:59.999999 2025] [core:error] [pid 10] AH00124: too old for 24h
[Mon Oct 20 09:00:00.500000 2025] [php:error] [pid 11] PHP Fatal error: exactly 24h ago
[Mon Oct 20 23:59:59 2025] [core:error] [pid 12] yesterday, just before midnight
[Tue Oct 21 00:00:00.000000 2025] [ssl:warn] [pid 13] AH01909: certificate does not match
[Tue Oct 21 07:00:00.100000 2025] [wsgi:error] [pid 14] Traceback (most recent call last):
  File \"/srv/app/main.py\", line 42, in estimate
  openai.APIError: Request timed out (Timeout)
[Tue Oct 21 08:30:00 2025] [auth_basic:error] [pid 15] [client 10.0.0.9:51000] AH01618: user bob not found: authentication failure
[Tue Oct 21 09:30:00 2025] [core:error] [pid 16] in the future, after now
";

#[test]
fn log_windows_from_apache_timestamps_and_continuation_lines() {
    let env = Env::new();
    env.write("httpd/error_log", ERROR_LOG);
    let (doc, code) = run(
        &env,
        "  - {id: whole, log: {path: ../httpd/error_log, pattern: '(?i)error'}}
  - {id: day, log: {path: ../httpd/error_log, pattern: '(?i)error', since: 24h, count: {warn: 3, fail: 10}}}
  - {id: today, log: {path: ../httpd/error_log, pattern: '(?i)error', since: today, timestamp: apache}}
  - id: auth
    log:
      path: ../httpd/error_log
      pattern: authentication failure
      since: 24h
      count: {warn: 5}
",
    );
    assert_eq!(code, 1);
    let w = common::check(&doc, "whole");
    // All 8 lines mentioning "error", timestamps or not.
    assert_eq!(w["metric"], 8.0);
    assert_eq!(w["value"], "8 matches");
    assert!(
        detail(w).contains("last match (httpd/error_log): [Tue Oct 21 09:30:00 2025]")
            || detail(w).contains("error_log): [Tue Oct 21 09:30:00 2025]"),
        "{w:#}"
    );
    let d = common::check(&doc, "day");
    // -24h inclusive (fraction dropped), 23:59:59, traceback + its
    // continuation line, auth; not the undated line, not the future one.
    assert_eq!(d["metric"], 5.0, "{d:#}");
    assert_eq!(d["status"], "warn");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .ends_with(": 5 matches in the last 24h ≥ warn 3"),
        "{d:#}"
    );
    let dd = detail(d);
    assert!(dd.contains("1 line(s) before the first timestamp"), "{dd}");
    assert!(dd.contains("timestamps: apache"), "{dd}");
    assert!(
        dd.contains("last match (2025-10-21 08:30:00 "),
        "the newest match inside the window: {dd}"
    );
    assert_eq!(common::check(&doc, "today")["metric"], 3.0);
    let a = common::check(&doc, "auth");
    assert_eq!(
        (a["status"].as_str(), a["metric"].as_f64()),
        (Some("pass"), Some(1.0))
    );
}

#[test]
fn log_classify_counts_categories() {
    let env = Env::new();
    env.write("error_log", ERROR_LOG);
    let (doc, _) = run(
        &env,
        "  - id: c
    log:
      path: ../error_log
      pattern: '(?i)error'
      since: today
      classify: {Timeout: '(?i)timed? ?out', 認証失敗: 'authentication failure', Memory Error: MemoryError}
",
    );
    let d = detail(common::check(&doc, "c"));
    assert!(
        d.contains("Timeout: 1件 — last:   openai.APIError: Request timed out (Timeout)"),
        "{d}"
    );
    assert!(
        d.contains("認証失敗: 1件 — last: [Tue Oct 21 08:30:00 2025]"),
        "{d}"
    );
    assert!(d.contains("Memory Error: 0件"), "{d}");
    assert!(
        d.contains("その他: 1件 — last: [Tue Oct 21 07:00:00.100000 2025] [wsgi:error]"),
        "{d}"
    );
}

#[test]
fn log_reads_rotated_and_gzipped_files_in_age_order() {
    let env = Env::new();
    let day = Duration::from_secs(86400);
    let t = SystemTime::now();
    let p2 = env.path().join("logs/error_log.2.gz");
    std::fs::create_dir_all(p2.parent().unwrap()).unwrap();
    std::fs::write(
        &p2,
        gzip(b"[Sat Oct 18 10:00:00 2025] [core:error] oldest-1\n[Sat Oct 18 11:00:00 2025] [core:error] oldest-2\n"),
    )
    .unwrap();
    let p1 = env.write(
        "logs/error_log.1",
        "[Sun Oct 19 10:00:00 2025] [core:error] middle\n",
    );
    let p0 = env.write(
        "logs/error_log",
        "[Tue Oct 21 08:00:00 2025] [core:error] newest\n[Tue Oct 21 08:10:00 2025] [core:notice] not an error\n",
    );
    set_mtime(&p2, t - 2 * day);
    set_mtime(&p1, t - day);
    set_mtime(&p0, t);
    // A rotated file named without .gz is found by its magic bytes.
    let p3 = env.path().join("logs/error_log-20251017");
    std::fs::write(
        &p3,
        gzip(b"[Fri Oct 17 10:00:00 2025] [core:error] named-without-gz\n"),
    )
    .unwrap();
    set_mtime(&p3, t - 3 * day);
    let (doc, _) = run(
        &env,
        "  - {id: all, log: {path: '../logs/error_log*', pattern: 'core:error'}}
  - {id: gz, log: {path: ../logs/error_log.2.gz, pattern: oldest}}
",
    );
    let a = common::check(&doc, "all");
    assert_eq!(a["metric"], 5.0, "{a:#}");
    let d = detail(a);
    // Oldest first: the last match comes from the newest file.
    assert!(d.contains("core:error] newest"), "{d}");
    assert!(d.contains("error_log-20251017, "), "{d}");
    let order: Vec<usize> = [
        "error_log-20251017",
        "error_log.2.gz",
        "error_log.1, ",
        "logs/error_log:",
    ]
    .iter()
    .map(|n| d.find(n).unwrap_or_else(|| panic!("{n} not in {d}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "age order: {d}");
    assert_eq!(common::check(&doc, "gz")["metric"], 2.0);
}

#[test]
fn log_skips_rotated_files_last_written_before_the_window() {
    let env = Env::new();
    let old = env.write("l/app.log.1", "2025-10-19T10:00:00+09:00 ERROR old\n");
    let cur = env.write("l/app.log", "2025-10-21T08:00:00+09:00 ERROR new\n");
    // Written on 19 Oct (by the fixed clock): nothing in it can be from the last 24h.
    set_mtime(
        &old,
        SystemTime::UNIX_EPOCH + Duration::from_secs((now_s() - 2 * 86400) as u64),
    );
    set_mtime(&cur, SystemTime::now());
    let (doc, _) = run(
        &env,
        "  - {id: l, log: {path: '../l/app.log*', pattern: ERROR, since: 24h}}\n",
    );
    let c = common::check(&doc, "l");
    assert_eq!(c["metric"], 1.0);
    assert!(
        detail(c).contains("1 older rotated file(s) skipped"),
        "{c:#}"
    );
}

#[test]
fn log_built_in_timestamp_formats() {
    let env = Env::new();
    // Each: 2h ago, 30 min ago, 30 min ahead of NOW (09:00 JST, 00:00 UTC).
    env.write(
        "nginx.log",
        "2025/10/21 07:00:00 [error] 7#7: *1 connect() failed\n2025/10/21 08:30:00 [error] 7#7: *2 upstream timed out\n2025/10/21 09:30:00 [error] 7#7: *3 future\n",
    );
    env.write(
        "iso.log",
        "2025-10-20T22:00:00Z ERROR a\n2025-10-21T08:30:00.123+09:00 ERROR b\n2025-10-21 09:30:00,001 ERROR c\n",
    );
    env.write(
        "syslog",
        "Oct 21 07:00:00 host app[1]: error a\nOct 21 08:30:00 host app[1]: error b\nOct 21 09:30:00 host app[1]: error c\n",
    );
    env.write(
        "clf.log",
        "1.2.3.4 - - [21/Oct/2025:07:00:00 +0900] \"GET / HTTP/1.1\" 500 1\n1.2.3.4 - - [20/Oct/2025:23:30:00 +0000] \"GET / HTTP/1.1\" 500 1\n1.2.3.4 - - [21/Oct/2025:00:30:00 +0000] \"GET / HTTP/1.1\" 500 1\n",
    );
    let mut yaml = String::new();
    for (id, f) in [
        ("nginx", "nginx.log"),
        ("iso", "iso.log"),
        ("syslog", "syslog"),
        ("clf", "clf.log"),
    ] {
        writeln!(
            yaml,
            "  - {{id: {id}, log: {{path: ../{f}, since: 1h, count: {{}}}}}}"
        )
        .unwrap();
    }
    let (doc, code) = run(&env, &yaml);
    assert_eq!(code, 0, "{doc:#}");
    for (id, detected) in [
        ("nginx", "nginx"),
        ("iso", "iso8601"),
        ("syslog", "syslog"),
        ("clf", "clf"),
    ] {
        let c = common::check(&doc, id);
        assert_eq!(c["metric"], 1.0, "{id}: {c:#}");
        assert!(
            detail(c).contains(&format!("timestamps: {detected}")),
            "{id}: {c:#}"
        );
    }
}

#[test]
fn log_malformed_input_and_missing_files() {
    let env = Env::new();
    let mut bytes = b"[Tue Oct 21 08:00:00 2025] [core:error] before the long line\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'e', (1 << 20) + 100)); // one 1 MiB+ line
    bytes.extend_from_slice(b"\n[Tue Oct 21 08:01:00 2025] [core:error] bad bytes \xff\xfe here\n");
    std::fs::write(env.path().join("weird.log"), &bytes).unwrap();
    let mut gz = gzip(b"[Tue Oct 21 08:00:00 2025] [core:error] x\n");
    gz.truncate(gz.len() - 12);
    std::fs::write(env.path().join("broken.gz"), gz).unwrap();
    env.write("plain.txt", "no timestamps\nerror here\n");
    std::fs::create_dir_all(env.path().join("adir")).unwrap();
    let (doc, _) = run(
        &env,
        "  - {id: weird, log: {path: ../weird.log, pattern: error, count: {}}}
  - {id: broken, log: {path: ../broken.gz, pattern: error}}
  - {id: missing, log: {path: ../nope.log, pattern: error}}
  - {id: noglob, log: {path: '../nope*.log', pattern: error}}
  - {id: adir, log: {path: ../adir, pattern: error}}
  - {id: nots, log: {path: ../plain.txt, pattern: error, since: 24h}}
",
    );
    let w = common::check(&doc, "weird");
    assert_eq!(w["status"], "pass");
    assert_eq!(
        w["metric"], 2.0,
        "the long line holds no 'error' in its first MiB"
    );
    let d = detail(w);
    assert!(d.contains("bad bytes \u{FFFD}\u{FFFD} here"), "{d}");
    assert!(d.contains("1 line(s) longer than"), "{d}");
    assert!(d.contains("3 lines"), "{d}");
    for (id, status, why) in [
        ("broken", "unknown", "corrupt or truncated gzip data"),
        ("missing", "unknown", "no file matches"),
        ("noglob", "unknown", "no file matches"),
        ("adir", "unknown", "is a directory"),
        ("nots", "unknown", "no timestamp (auto) found"),
    ] {
        let c = common::check(&doc, id);
        assert_eq!(c["status"], status, "{id}: {c:#}");
        assert!(c["message"].as_str().unwrap().contains(why), "{id}: {c:#}");
    }
}

#[test]
fn log_unreadable_file_is_unknown() {
    // Root reads anything: as root, run the binary as `nobody`. Mode 000
    // also keeps out a non-root owner (the suite's user, otherwise).
    let env = Env::new();
    env.write("secret.log", "error\n");
    let p = env.path().join("secret.log");
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    env.runbook(
        "t.yaml",
        "version: 1\nchecks:\n  - {id: s, log: {path: ../secret.log, pattern: error}}\n",
    );
    let r = as_nobody(&env, &["run", "t", "-f", "json", "--now", NOW]);
    let doc: Value = serde_json::from_str(&r).unwrap();
    let c = common::check(&doc, "s");
    assert_eq!(c["status"], "unknown", "{c:#}");
    assert!(
        c["message"].as_str().unwrap().contains("Permission denied"),
        "{c:#}"
    );
}

/// Runs opsrun as `nobody` (uid 65534; as the suite's user when that is
/// not root) with the temp dir opened up.
fn as_nobody(env: &Env, args: &[&str]) -> String {
    use std::os::unix::fs::PermissionsExt;
    for d in [env.path().to_path_buf(), env.runbooks()] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    for f in std::fs::read_dir(env.runbooks()).unwrap().flatten() {
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    // Not root: setpriv could not switch users; the suite's user is
    // unprivileged already.
    let bin = env!("CARGO_BIN_EXE_opsrun");
    let mut cmd = std::process::Command::new(bin);
    if crate::service_data::is_root() {
        cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin]);
    }
    let out = cmd
        .args(args)
        .current_dir(env.path())
        .env("OPSRUN_HISTORY", env.path().join("nobody-history.db"))
        .output()
        .expect("setpriv (util-linux)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn log_field_errors_are_load_errors() {
    let env = Env::new();
    let e = load_error(&env, "  - {id: l, log: {path: x, pattern: '(?P<'}}\n");
    assert!(e.contains("invalid regex"), "{e}");
    let e = load_error(&env, "  - {id: l, log: {path: x, timestamp: rfc2822}}\n");
    assert!(e.contains("unknown timestamp format `rfc2822`"), "{e}");
    let e = load_error(&env, "  - {id: l, log: {path: x, since: all}}\n");
    assert!(e.contains("leave `since` out"), "{e}");
    let e = load_error(&env, "  - {id: l, log: {path: x, count: {warn: lots}}}\n");
    assert!(e.contains("expected a count"), "{e}");
}

// ---------------------------------------------------------------------------
// access_log

/// One generated request, and the truth about it.
#[derive(Clone)]
struct Req {
    epoch: i64,
    offset: i32,
    status: u16,
    us: u64,
    client: String,
}

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Requests from 36h before NOW to 1h after it, written in three different
/// offsets, spanning two midnights of JST and of UTC.
fn requests(n: usize, ms_resolution: bool) -> Vec<Req> {
    let mut r = Lcg(42);
    let offsets = [9 * 3600, 0, -5 * 3600];
    (0..n)
        .map(|i| {
            let epoch = now_s() - 36 * 3600 + (i as i64 * 37 * 3600 / n as i64);
            let status = match r.below(1000) {
                0..=14 => 500,
                15..=19 => 503,
                20..=59 => 404,
                60..=79 => 401,
                80..=99 => 304,
                _ => 200,
            };
            let mut us = match r.below(100) {
                0 => 1_000_000 + r.below(90_000_000), // a slow tail, past 67 s too
                _ => 500 + r.below(400_000),
            };
            if ms_resolution {
                us -= us % 1000;
            }
            let client = match r.below(10) {
                0 => format!("2001:db8::{:x}", r.below(50)),
                _ => format!("10.{}.{}.{}", r.below(2), r.below(256), r.below(200)),
            };
            Req {
                epoch,
                offset: offsets[r.below(3) as usize],
                status,
                us,
                client,
            }
        })
        .collect()
}

fn clf_time(q: &Req) -> String {
    let off = FixedOffset::east_opt(q.offset).unwrap();
    off.timestamp_opt(q.epoch, 0)
        .unwrap()
        .format("%d/%b/%Y:%H:%M:%S %z")
        .to_string()
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Fmt {
    CombinedD,
    Combined,
    Common,
    NginxRt,
    Ltsv,
}

fn line(q: &Req, i: usize, f: Fmt) -> String {
    let t = clf_time(q);
    // Some request lines hold an escaped quote; some clients log a user.
    let req = if i.is_multiple_of(17) {
        format!("GET /search?q=\\\"{i}\\\" HTTP/1.1")
    } else {
        format!("GET /api/v1/estimates/{i} HTTP/1.1")
    };
    let user = if i.is_multiple_of(13) { "alice" } else { "-" };
    let head = format!(
        "{} - {user} [{t}] \"{req}\" {} {}",
        q.client,
        q.status,
        100 + i % 900
    );
    match f {
        Fmt::Common => head,
        Fmt::Combined => format!("{head} \"https://example.jp/\" \"Mozilla/5.0 (X11; Linux) {i}\""),
        Fmt::CombinedD => format!("{head} \"-\" \"Mozilla/5.0 (Windows NT 10.0)\" {}", q.us),
        Fmt::NginxRt => format!(
            "{head} \"-\" \"curl/8.5.0\" {}.{:03}",
            q.us / 1_000_000,
            q.us / 1000 % 1000
        ),
        Fmt::Ltsv => format!(
            "time:[{t}]\thost:{}\treq:{req}\tstatus:{}\treqtime_microsec:{}",
            q.client, q.status, q.us
        ),
    }
}

/// Lines no format accepts: each is counted as malformed.
const GARBAGE: [&str; 4] = [
    "",
    "garbage without structure",
    "\u{fffd}\u{fffd} binary-ish noise",
    // Inside the window but cut off before the status.
    "10.0.0.1 - - [21/Oct/2025:08:00:00 +0900] \"GET /trunc",
];

/// The metrics computed the slow, obvious way.
struct Truth {
    requests: f64,
    e5: f64,
    e4: f64,
    s401: f64,
    rate: f64,
    avg: f64,
    p95: f64,
    p99: f64,
    clients: f64,
}

fn truth(reqs: &[Req], in_window: impl Fn(&Req) -> bool) -> Truth {
    let w: Vec<&Req> = reqs.iter().filter(|q| in_window(q)).collect();
    let n = w.len();
    let e5 = w.iter().filter(|q| (500..600).contains(&q.status)).count();
    let mut us: Vec<u64> = w.iter().map(|q| q.us).collect();
    us.sort_unstable();
    let rank = |p: usize| us[(p * n).div_ceil(100) - 1] as f64 / 1000.0;
    let sum: u128 = us.iter().map(|&v| v as u128).sum();
    Truth {
        requests: n as f64,
        e5: e5 as f64,
        e4: w.iter().filter(|q| (400..500).contains(&q.status)).count() as f64,
        s401: w.iter().filter(|q| q.status == 401).count() as f64,
        rate: e5 as f64 / n as f64 * 100.0,
        avg: sum as f64 / n as f64 / 1000.0,
        p95: rank(95),
        p99: rank(99),
        clients: w
            .iter()
            .map(|q| q.client.as_str())
            .collect::<HashSet<_>>()
            .len() as f64,
    }
}

/// `today` in the line's own offset: the same calendar day as NOW seen in
/// that offset, and not after NOW.
fn today_own_offset(q: &Req) -> bool {
    let off = FixedOffset::east_opt(q.offset).unwrap();
    let day = |t: i64| off.timestamp_opt(t, 0).unwrap().date_naive();
    q.epoch <= now_s() && day(q.epoch) == day(now_s())
}

fn last_24h(q: &Req) -> bool {
    q.epoch <= now_s() && q.epoch >= now_s() - 86400
}

/// Writes the requests in format `f`, with [`GARBAGE`] mixed in; returns
/// how many garbage lines went in.
fn write_log(env: &Env, name: &str, reqs: &[Req], f: Fmt) -> usize {
    let mut s = String::new();
    let mut garbage = 0;
    for (i, q) in reqs.iter().enumerate() {
        if i % 1000 == 500 {
            for g in GARBAGE {
                s.push_str(g);
                s.push('\n');
                garbage += 1;
            }
        }
        s.push_str(&line(q, i, f));
        s.push('\n');
    }
    env.write(name, &s);
    garbage
}

const LTSV: &str = r"^time:\[(?P<time>[^\]]+)\]\thost:(?P<client>[^\t]+)\treq:[^\t]*\tstatus:(?P<status>\d{3})\treqtime_microsec:(?P<us>\d+)$";

#[test]
fn access_log_every_metric_exact_for_every_format() {
    let env = Env::new();
    let n = 30_000;
    let mut yaml = String::new();
    let cases = [
        (Fmt::CombinedD, "combined_d".to_owned(), false),
        (Fmt::Combined, "combined".to_owned(), false),
        (Fmt::Common, "common".to_owned(), false),
        (Fmt::NginxRt, "nginx_rt".to_owned(), true),
        (Fmt::Ltsv, format!("'{LTSV}'"), false),
    ];
    let mut garbage = 0;
    for (f, name, ms) in &cases {
        let reqs = requests(n, *ms);
        garbage = write_log(&env, &format!("{f:?}.log"), &reqs, *f);
        for w in ["today", "24h"] {
            writeln!(
                yaml,
                "  - {{id: {}-{w}, access_log: {{path: '../{f:?}.log', format: {name}, window: {w}}}}}",
                format!("{f:?}").to_lowercase()
            )
            .unwrap();
        }
    }
    assert!(garbage > 0);
    let (doc, code) = run(&env, &yaml);
    assert_eq!(code, 0, "{doc:#}");
    for (f, _, ms) in &cases {
        let reqs = requests(n, *ms);
        let timed = matches!(f, Fmt::CombinedD | Fmt::NginxRt | Fmt::Ltsv);
        for (w, pick) in [
            ("today", today_own_offset as fn(&Req) -> bool),
            ("24h", last_24h),
        ] {
            let c = common::check(&doc, &format!("{}-{w}", format!("{f:?}").to_lowercase()));
            let t = truth(&reqs, pick);
            let ctx = format!("{f:?} {w}: {c:#}");
            assert!(t.requests > 1000.0 && t.requests < n as f64, "{ctx}");
            assert_eq!(metric(c, "requests"), t.requests, "{ctx}");
            assert_eq!(metric(c, "errors_5xx"), t.e5, "{ctx}");
            assert_eq!(metric(c, "errors_4xx"), t.e4, "{ctx}");
            assert_eq!(metric(c, "status_401"), t.s401, "{ctx}");
            assert_eq!(metric(c, "error_rate"), t.rate, "{ctx}");
            assert_eq!(metric(c, "unique_clients"), t.clients, "{ctx}");
            assert_eq!(metric(c, "malformed"), garbage as f64, "{ctx}");
            assert_eq!(c["metrics"]["error_rate"]["unit"], "%");
            if timed {
                assert_eq!(metric(c, "avg"), t.avg, "{ctx}");
                assert_eq!(metric(c, "p95"), t.p95, "{ctx}");
                assert_eq!(metric(c, "p99"), t.p99, "{ctx}");
                assert_eq!(c["metrics"]["p95"]["unit"], "ms");
            } else {
                assert!(c["metrics"].get("avg").is_none(), "{ctx}");
                assert!(c["metrics"].get("p95").is_none(), "{ctx}");
            }
            // Headline: requests, as a count.
            assert_eq!(c["metric"].as_f64(), Some(t.requests));
            assert_eq!(c["unit"], "count");
            assert!(
                detail(c).contains(&format!("{garbage} malformed line(s) skipped")),
                "{ctx}"
            );
        }
    }
}

#[test]
fn access_log_today_follows_each_lines_own_offset_across_midnight() {
    // The same instant, 2025-10-20T23:30:00Z, written in two offsets:
    // in +09:00 it is 08:30 on the 21st (today); in +00:00 it is 23:30 on
    // the 20th (yesterday, for a log written in UTC).
    let env = Env::new();
    env.write(
        "a.log",
        "1.1.1.1 - - [21/Oct/2025:08:30:00 +0900] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\" 1000\n\
         1.1.1.2 - - [20/Oct/2025:23:30:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\" 2000\n\
         1.1.1.3 - - [20/Oct/2025:23:59:59 +0900] \"GET / HTTP/1.1\" 500 1 \"-\" \"-\" 3000\n\
         1.1.1.4 - - [21/Oct/2025:00:00:00 +0900] \"GET / HTTP/1.1\" 500 1 \"-\" \"-\" 4000\n\
         1.1.1.5 - - [21/Oct/2025:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\" 5000\n\
         1.1.1.6 - - [21/Oct/2025:00:00:01 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\" 6000\n",
    );
    let (doc, _) = run(
        &env,
        "  - {id: t, access_log: {path: ../a.log}}\n  - {id: h, access_log: {path: ../a.log, window: 30m}}\n",
    );
    let t = common::check(&doc, "t");
    // 08:30 JST, 00:00 JST, and 00:00 UTC (= NOW exactly); not 00:00:01 UTC (after NOW).
    assert_eq!(metric(t, "requests"), 3.0, "{t:#}");
    assert_eq!(metric(t, "errors_5xx"), 1.0);
    assert_eq!(metric(t, "avg"), (1000.0 + 4000.0 + 5000.0) / 3.0 / 1000.0);
    assert!(detail(t).contains("3 lines outside"), "{t:#}");
    let h = common::check(&doc, "h");
    // The last 30 minutes: 08:30 JST = 23:30 UTC twice, and NOW.
    assert_eq!(metric(h, "requests"), 3.0, "{h:#}");
}

#[test]
fn access_log_thresholds_and_headline() {
    let env = Env::new();
    let mut s = String::new();
    for i in 0..200 {
        let status = if i % 50 == 0 { 503 } else { 200 }; // 2% 5xx
        writeln!(
            s,
            "10.0.0.{} - - [21/Oct/2025:08:{:02}:00 +0900] \"GET /x HTTP/1.1\" {status} 10 \"-\" \"-\" {}",
            i % 7,
            i % 60,
            (i + 1) * 1000
        )
        .unwrap();
    }
    env.write("access_log", &s);
    let (doc, code) = run(
        &env,
        // Seed 000: エラー率 閾値 1%以下.
        "  - id: rate
    access_log:
      path: ../access_log
      metrics: {error_rate: {warn: 1%, fail: 5%}, requests: {}}
  - id: slow
    access_log:
      path: ../access_log
      metrics: {p95: {warn: 150ms, fail: 190ms}, avg: {warn: 1s}}
  - id: quiet
    access_log:
      path: ../access_log
      metrics: {requests: {warn: 500, fail: 100}}
  - id: clients
    access_log:
      path: ../access_log
      metrics: {unique_clients: {fail: '< 10'}, status_401: {warn: 1}}
",
    );
    assert_eq!(code, 2);
    let r = common::check(&doc, "rate");
    assert_eq!(r["status"], "warn");
    assert_eq!(r["message"], "error_rate 2% ≥ warn 1% (today)");
    assert_eq!(
        (r["metric"].as_f64(), r["unit"].as_str()),
        (Some(2.0), Some("%"))
    );
    assert_eq!(
        r["value"],
        "200 requests, 5xx 4 (2%), avg 100.5ms, p95 190ms"
    );
    let sl = common::check(&doc, "slow");
    assert_eq!(sl["status"], "fail");
    assert_eq!(sl["message"], "p95 190ms ≥ fail 190ms (today)");
    assert_eq!(
        (sl["metric"].as_f64(), sl["unit"].as_str()),
        (Some(190.0), Some("ms"))
    );
    let q = common::check(&doc, "quiet");
    assert_eq!(q["status"], "warn", "requests are lower-is-worse");
    assert_eq!(q["message"], "requests 200 ≤ warn 500 (today)");
    let c = common::check(&doc, "clients");
    assert_eq!(c["status"], "fail");
    assert_eq!(c["message"], "unique_clients 7 < fail 10 (today)");
    assert!(
        c["value"].as_str().unwrap().ends_with("unique_clients 7"),
        "{c:#}"
    );
}

#[test]
fn access_log_bad_input() {
    let env = Env::new();
    env.write("empty.log", "");
    env.write(
        "nginx_plain.log",
        "1.2.3.4 - - [21/Oct/2025:08:00:00 +0900] \"GET / HTTP/1.1\" 200 1 \"-\" \"curl\"\n",
    );
    let (doc, _) = run(
        &env,
        "  - {id: empty, access_log: {path: ../empty.log}}
  - {id: wrong, access_log: {path: ../nginx_plain.log, format: combined_d}}
  - {id: missing, access_log: {path: /nonexistent/access_log}}
",
    );
    let e = common::check(&doc, "empty");
    assert_eq!(
        (e["status"].as_str(), e["metric"].as_f64()),
        (Some("pass"), Some(0.0))
    );
    assert_eq!(metric(e, "error_rate"), 0.0);
    let w = common::check(&doc, "wrong");
    assert_eq!(w["status"], "unknown");
    assert!(
        w["message"]
            .as_str()
            .unwrap()
            .contains("no line of ../nginx_plain.log is in format combined_d (1 malformed"),
        "{w:#}"
    );
    let m = common::check(&doc, "missing");
    assert_eq!(m["status"], "unknown");
    assert_eq!(m["message"], "no file matches /nonexistent/access_log");
}

#[test]
fn access_log_field_errors_are_load_errors() {
    let env = Env::new();
    let e = load_error(
        &env,
        "  - {id: a, access_log: {path: x, format: combined, metrics: {avg: {warn: 1s}}}}\n",
    );
    assert!(e.contains("metric `avg` needs response times"), "{e}");
    let e = load_error(
        &env,
        "  - {id: a, access_log: {path: x, metrics: {p96: {}}}}\n",
    );
    assert!(e.contains("did you mean `p95`"), "{e}");
    let e = load_error(&env, "  - {id: a, access_log: {path: x, format: apache}}\n");
    assert!(e.contains("unknown format `apache`"), "{e}");
    let e = load_error(
        &env,
        "  - {id: a, access_log: {path: x, format: '(?P<status>\\d+)'}}\n",
    );
    assert!(e.contains("needs a `time` group"), "{e}");
    let e = load_error(
        &env,
        "  - {id: a, access_log: {path: x, metrics: {error_rate: {warn: 120%}}}}\n",
    );
    assert!(e.contains("between 0% and 100%"), "{e}");
    let e = load_error(&env, "  - {id: a, access_log: {path: x, window: 24}}\n");
    assert!(e.contains("expected today, all, or a duration"), "{e}");
}

#[test]
fn scans_stop_at_the_timeout_and_say_so() {
    // `timeout: 1ms` expires long before 100,000 lines are read (a zero
    // timeout is a load error): the scan must stop and report a failure,
    // not a partial count as a pass.
    let env = Env::new();
    env.write(
        "a.log",
        &"1.2.3.4 - - [21/Oct/2025:08:00:00 +0900] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\" 10\n"
            .repeat(100_000),
    );
    let (doc, code) = run(
        &env,
        "  - {id: a, timeout: 1ms, access_log: {path: ../a.log}}
  - {id: l, timeout: 1ms, log: {path: ../a.log, pattern: GET}}
",
    );
    assert_eq!(code, 2);
    for id in ["a", "l"] {
        let c = common::check(&doc, id);
        assert_eq!(c["status"], "fail", "{c:#}");
        assert_eq!(c["value"], "incomplete");
        assert!(
            c["message"]
                .as_str()
                .unwrap()
                .starts_with("timed out after 1ms reading ../a.log"),
            "{c:#}"
        );
    }
}

#[test]
fn docs_examples_are_valid_runbook_checks() {
    // Every ```yaml block of docs/logs.md is a list of checks: each must load.
    let env = Env::new();
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/logs.md")).unwrap();
    let mut blocks = 0;
    for (i, block) in doc.split("```yaml\n").skip(1).enumerate() {
        let body = block.split("```").next().unwrap();
        let indented: String = body.lines().map(|l| format!("  {l}\n")).collect();
        let p = env.runbook(
            &format!("doc{i}.yaml"),
            &format!("version: 1\nchecks:\n{indented}"),
        );
        let r = env.run(&["validate", p.to_str().unwrap()]);
        assert_eq!(r.code, 0, "docs/logs.md yaml block {i}:\n{body}\n{r:?}");
        blocks += 1;
    }
    assert!(blocks >= 3);
}

/// Regression: the journal window ended at the run's clock cut to whole
/// seconds (`--until=@SECS`), so entries logged in the same second just
/// before the check ran were left out (found by examples/demo: a daily run
/// right after the traffic missed the newest タスク作成 and errors).
#[test]
fn journal_window_ends_at_the_clock_not_the_whole_second() {
    let env = Env::new();
    let at = |micros_after: i64, msg: &str| Entry {
        t: now_s() * 1_000_000 + micros_after,
        fields: vec![
            ("PRIORITY", b"3".to_vec()),
            ("_SYSTEMD_UNIT", b"estimator.service".to_vec()),
            ("MESSAGE", msg.as_bytes().to_vec()),
        ],
    };
    let j = make_journal(
        &env,
        "subsecond",
        &[
            at(-2_000_000, "two seconds before"),
            at(300_000, "same second, before the clock"),
            at(900_000, "same second, after the clock"),
        ],
    );
    env.runbook(
        "t.yaml",
        &format!(
            "version: 1\nchecks:\n  - {{id: j, journal: {{unit: estimator, since: 1h, file: '{}'}}}}\n",
            j.display()
        ),
    );
    let clock = now() + chrono::Duration::milliseconds(600);
    let r = env.run(&["run", "t", "-f", "json", "--now", &clock.to_rfc3339()]);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"));
    let c = common::check(&doc, "j");
    assert_eq!(c["metric"], 2.0, "{c:#}");
    assert!(detail(c).contains("same second, before the clock"), "{c:#}");
}
