//! `log`: count the lines of a log file (or a glob of rotated files, `.gz`
//! included) that match a regex, optionally only within a time window read
//! from the lines' own timestamps. Replaces the seeds'
//! `sudo tail -1000 /var/log/httpd/error_log | grep -i error` — without the
//! arbitrary 1000 lines: the window is real time.
//!
//! Lines without a timestamp (a stack trace under an error) belong to the
//! last timestamped line above them; lines before the first timestamp of a
//! file cannot be placed in time and are left out of a window.

use std::path::PathBuf;

use serde::Deserialize;

use super::logscan::{
    self, Classify, LogFile, ReadStats, ScanError, Span, Stop, Tally, TsFormat, TsParser, Window,
};
use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, Overran, sections};
use crate::values::reason::{Code, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::Unit;

/// The reason catalog entries of `log` (docs/reasons.md); reading the
/// files says `logfile.*` (`logscan::CODES`).
/// Display values (`Code::value`).
static V_MATCH: Code = Code::value("value.log.match", "1 match");
static V_MATCHES: Code = Code::value("value.log.matches", "{count} matches");

pub(crate) static CODES: &[&Code] = &[
    &V_MATCH,
    &V_MATCHES,
    &TIMEOUT,
    &NO_TIMESTAMP,
    &SCAN_FAILED,
    &D_READ,
    &D_WINDOW,
    &D_UNDATED,
    &D_LAST,
];

// Detail lines (`-v`).
static D_READ: Code = Code::detail("log.detail.read", "{files}: {read} read, {lines} lines");
static D_WINDOW: Code = Code::detail(
    "log.detail.window",
    "window {window}: from {from} to {to} (timestamps: {format})",
);
static D_UNDATED: Code = Code::detail(
    "log.detail.undated",
    "{count} line(s) before the first timestamp of their file, not counted",
);
static D_LAST: Code = Code::detail("log.detail.last", "last match ([{at} ]{file}): {line}");

static TIMEOUT: Code = Code::variant(
    "log.timeout",
    "timeout",
    "timed out after {after} reading {path} ({count} matches so far)",
);
static NO_TIMESTAMP: Code = Code::new(
    "log.no_timestamp",
    "no timestamp ({format}) found in {path}: cannot apply since {since}",
);
static SCAN_FAILED: Code = Code::new("log.scan_failed", "log scan failed");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// A file or a glob (`/var/log/httpd/error_log*`).
    path: String,
    /// Lines to count; every line when absent. `(?i)` for case-insensitive.
    #[serde(default, with = "logscan::opt_bytes_regex")]
    pattern: Option<regex::bytes::Regex>,
    /// Only lines whose timestamp is in this window (default: whole files).
    since: Option<Window>,
    /// How timestamps are written [auto].
    #[serde(default = "auto")]
    timestamp: TsFormat,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::count")]
    count: Option<Threshold>,
    #[serde(default)]
    classify: Classify,
}

fn auto() -> TsFormat {
    TsFormat::Auto
}

impl Kind for Log {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }
    fn section(&self) -> &'static str {
        sections::LOGS
    }
    fn target(&self) -> String {
        match &self.pattern {
            Some(p) => format!("{} /{}/", self.path, p.as_str()),
            None => self.path.clone(),
        }
    }
    fn validate(&self) -> Result<(), String> {
        if self.since == Some(Window::All) {
            return Err(
                "`since: all` is the default: leave `since` out to read whole files".into(),
            );
        }
        Ok(())
    }
}

/// What one pass found.
struct Found {
    count: u64,
    /// The newest matching line, with its file and time.
    last: Option<(PathBuf, Option<i64>, String)>,
    tally: Tally,
    stats: ReadStats,
    /// Lines that could not be placed in time (no timestamp above them).
    undated: u64,
    files: Vec<PathBuf>,
    skipped_old: usize,
    error: Option<ScanError>,
    format_seen: Option<TsFormat>,
}

/// The scan's configuration, moved to the blocking thread.
struct Job {
    pattern: Option<regex::bytes::Regex>,
    classify: Classify,
    timestamp: TsFormat,
    span: Option<Span>,
}

impl Log {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let pattern = ctx.path(&self.path);
        let files = logscan::expand(&pattern).map_err(Failure::unknown)?;
        let job = Job {
            pattern: self.pattern.clone(),
            classify: self.classify.clone(),
            timestamp: self.timestamp,
            span: self.since.map(|w| w.span(ctx.now)),
        };
        let now = ctx.now;
        let Some(found) = logscan::blocking(ctx, move |stop| scan(files, job, now, &stop)).await
        else {
            return Err(Failure::unknown(Reason::new(&SCAN_FAILED)));
        };
        self.measure(ctx, found)
    }

    fn measure(&self, ctx: &Ctx, f: Found) -> Result<Measurement, Failure> {
        let off = *ctx.now.offset();
        let what = self.since.unwrap_or(Window::All).phrase();
        let mut detail = Vec::new();
        let files: Vec<String> = f.files.iter().map(|p| p.display().to_string()).collect();
        detail.push(
            Reason::new(&D_READ)
                .with(
                    "files",
                    if files.is_empty() {
                        vec![self.path.clone()]
                    } else {
                        files
                    },
                )
                .with_quantity("read", f.stats.bytes as f64, Unit::Bytes)
                .with("lines", f.stats.lines)
                .into(),
        );
        if let Some(mut span) = self.since.map(|w| w.span(ctx.now)) {
            let from = span
                .local_start()
                .map(|t| logscan::show_time(t, off))
                .unwrap_or_default();
            detail.push(
                Reason::new(&D_WINDOW)
                    .with(
                        "window",
                        self.since.map(|w| w.describe()).unwrap_or_default(),
                    )
                    .with("from", from)
                    .with("to", logscan::show_time(span.end(), off))
                    .with("format", f.format_seen.unwrap_or(self.timestamp).name())
                    .into(),
            );
            if f.undated > 0 {
                detail.push(Reason::new(&D_UNDATED).with("count", f.undated).into());
            }
        }
        if f.skipped_old > 0 {
            detail.push(logscan::old_skipped(f.skipped_old));
        }
        detail.extend(f.tally.detail(&self.classify));
        if let Some((file, t, line)) = &f.last {
            detail.push(
                Reason::new(&D_LAST)
                    .with_opt("at", t.map(|t| logscan::show_time(t, off)))
                    .with("file", file.display().to_string())
                    .with("line", line)
                    .into(),
            );
        }
        if f.stats.vanished > 0 {
            detail.push(logscan::vanished(f.stats.vanished));
        }
        if f.stats.overlong > 0 {
            detail.push(logscan::overlong(f.stats.overlong));
        }
        if let Some(e) = &f.error {
            let failure = match e.reason() {
                Some(r) => Failure::unknown(r),
                None => Failure::fail(
                    Overran {
                        after: ctx.deadline.budget(),
                    }
                    .reason(&TIMEOUT)
                    .with("path", &self.path)
                    .with("count", f.count),
                ),
            };
            return Err(Failure {
                detail,
                ..failure.shown(crate::values::reason::said(
                    &crate::values::reason::common::V_INCOMPLETE,
                ))
            });
        }
        if self.since.is_some() && f.stats.lines > 0 && f.format_seen.is_none() {
            // The window cannot be applied: a count of 0 would be a lie.
            return Err(Failure {
                detail,
                ..Failure::unknown(
                    Reason::new(&NO_TIMESTAMP)
                        .with("format", self.timestamp.name())
                        .with("path", &self.path)
                        .with(
                            "since",
                            self.since.map(|w| w.describe()).unwrap_or_default(),
                        ),
                )
            });
        }
        // Without a `count` threshold any match warns.
        let th = self
            .count
            .clone()
            .unwrap_or_else(|| Threshold::new(Unit::Count, Some(1.0), None));
        let pat = self
            .pattern
            .as_ref()
            .map(|p| format!(" /{}/", p.as_str()))
            .unwrap_or_default();
        let matches = logscan::counted(f.count, &V_MATCH, &V_MATCHES);
        let mut m = Measurement::new(matches.clone()).metric(
            Metric::new(
                "count",
                f.count as f64,
                Unit::Count,
                Direction::HigherIsWorse,
            )
            .held_to(th)
            .says(format!("{}{pat}: {matches} {what}", self.path)),
        );
        m.detail = detail;
        Ok(m)
    }
}

fn scan(
    files: Vec<LogFile>,
    job: Job,
    now: chrono::DateTime<chrono::FixedOffset>,
    stop: &Stop,
) -> Found {
    let mut f = Found {
        count: 0,
        last: None,
        tally: Tally::new(&job.classify),
        stats: ReadStats::default(),
        undated: 0,
        files: Vec::new(),
        skipped_old: 0,
        error: None,
        format_seen: None,
    };
    let mut ts = TsParser::new(job.timestamp, now);
    let since = job.span.as_ref().and_then(Span::earliest_start);
    let windowed = job.span.is_some();
    let mut span = job.span;
    for file in files {
        if logscan::older_than(&file, since) {
            f.skipped_old += 1;
            continue;
        }
        ts.reset();
        // The time of the last timestamped line of this file.
        let mut current: Option<(i64, i32)> = None;
        let mut last_in_file: Option<Option<i64>> = None;
        let mut last_line = logscan::LastLine::default();
        let r = logscan::scan_file(&file.path, stop, &mut f.stats, |line| {
            let when = if let Some(span) = span.as_mut() {
                if let Some(t) = ts.parse(line) {
                    current = Some(t);
                }
                match current {
                    Some((t, off)) => {
                        if !span.contains(t, off) {
                            return;
                        }
                        Some(t)
                    }
                    None => {
                        f.undated += 1;
                        return;
                    }
                }
            } else {
                None
            };
            if let Some(p) = &job.pattern
                && !p.is_match(line)
            {
                return;
            }
            f.count += 1;
            f.tally.add(&job.classify, line, line);
            last_in_file = Some(when);
            last_line.set(line);
        });
        if let (Some(t), Some(l)) = (last_in_file, last_line.shown()) {
            f.last = Some((file.path.clone(), t, l));
        }
        if f.format_seen.is_none() && windowed {
            f.format_seen = ts.detected();
        }
        f.files.push(file.path);
        if let Err(e) = r {
            f.error = Some(e);
            break;
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::harness::{ctx_in, kind, run_in};
    use super::*;
    use crate::values::outcome::Status;
    use crate::values::reason::Param;

    #[tokio::test]
    async fn counts_reasons_and_thresholds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("app.log"),
            "ok\nERROR one\nok\nERROR two\nERROR three\n",
        )
        .unwrap();
        let ctx = || ctx_in(dir.path(), Duration::from_secs(10));

        // Without `count`, any match is held against warn 1.
        let l: Log = kind("path: app.log\npattern: ERROR").unwrap();
        let m = run_in(&l, &ctx()).await.unwrap();
        assert_eq!(m.value, "value.log.matches {count=3}");
        let c = &m.metrics[0];
        assert_eq!((c.name.as_str(), c.value), ("count", 3.0));
        let th = c.threshold.as_ref().unwrap();
        assert_eq!(th.warn.as_ref().map(|l| l.value), Some(1.0));
        assert_eq!(
            c.subject(),
            "app.log /ERROR/: value.log.matches {count=3} in whole file"
        );
        assert!(th.fail.is_none());

        let l: Log = kind("path: app.log\npattern: ERROR\ncount: {fail: 5}").unwrap();
        let m = run_in(&l, &ctx()).await.unwrap();
        let th = m.metrics[0].threshold.as_ref().unwrap();
        assert_eq!(th.fail.as_ref().map(|l| l.value), Some(5.0));
        assert!(th.warn.is_none());

        // A window needs timestamps: none found is unknown, not 0 matches.
        let l: Log = kind("path: app.log\nsince: 1h").unwrap();
        let f = run_in(&l, &ctx()).await.unwrap_err();
        assert_eq!(f.status, Status::Unknown);
        assert_eq!(f.reason.code.code, "log.no_timestamp");
        assert_eq!(f.reason.param("since"), Some(&"1h".into()));
        assert_eq!(f.reason.param("path"), Some(&"app.log".into()));

        // No file, a directory.
        let l: Log = kind("path: missing-*.log").unwrap();
        let f = run_in(&l, &ctx()).await.unwrap_err();
        assert_eq!(f.reason.code.code, "logfile.no_match");
        let l: Log = kind("path: .").unwrap();
        let f = run_in(&l, &ctx()).await.unwrap_err();
        assert_eq!(f.reason.code.code, "logfile.directory");

        // A deadline already passed: the scan stops at once, a timeout.
        let l: Log = kind("path: app.log").unwrap();
        let f = run_in(&l, &ctx_in(dir.path(), Duration::ZERO))
            .await
            .unwrap_err();
        assert_eq!(f.reason.code.code, "timeout");
        assert_eq!(
            f.reason.param("after"),
            Some(&Param::Quantity(0.0, Unit::Millis))
        );
        assert_eq!(f.value, "value.incomplete {}");
    }
}
