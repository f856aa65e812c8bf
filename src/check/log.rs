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
use super::{CheckFuture, Ctx, Kind, sections};
use crate::values::outcome::Outcome;
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, format_bytes, format_millis};

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
    #[serde(default, deserialize_with = "crate::values::threshold::count")]
    count: Option<Threshold>,
    #[serde(default)]
    classify: Classify,
}

fn auto() -> TsFormat {
    TsFormat::Auto
}

impl Kind for Log {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        super::legacy(self.check(ctx))
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
    async fn check(&self, ctx: &Ctx) -> Outcome {
        let pattern = ctx.path(&self.path);
        let files = match logscan::expand(&pattern) {
            Ok(f) => f,
            Err(e) => return Outcome::unknown(e),
        };
        let job = Job {
            pattern: self.pattern.clone(),
            classify: self.classify.clone(),
            timestamp: self.timestamp,
            span: self.since.map(|w| w.span(ctx.now)),
        };
        let now = ctx.now;
        let Some(found) = logscan::blocking(ctx, move |stop| scan(files, job, now, &stop)).await
        else {
            return Outcome::unknown("log scan failed");
        };
        self.outcome(ctx, found)
    }

    fn outcome(&self, ctx: &Ctx, f: Found) -> Outcome {
        let off = *ctx.now.offset();
        let what = self.since.unwrap_or(Window::All).phrase();
        let mut out = Outcome::pass(logscan::plural(f.count, "match", "matches")).with_metric(
            "count",
            f.count as f64,
            Unit::Count,
        );
        let files: Vec<String> = f.files.iter().map(|p| p.display().to_string()).collect();
        out.detail.push(format!(
            "{}: {} read, {} lines",
            if files.is_empty() {
                self.path.clone()
            } else {
                files.join(", ")
            },
            format_bytes(f.stats.bytes as f64),
            f.stats.lines
        ));
        if let Some(mut span) = self.since.map(|w| w.span(ctx.now)) {
            let from = span
                .local_start()
                .map(|t| logscan::show_time(t, off))
                .unwrap_or_default();
            out.detail.push(format!(
                "window {}: from {from} to {} (timestamps: {})",
                self.since.map(|w| w.describe()).unwrap_or_default(),
                logscan::show_time(span.end(), off),
                f.format_seen.unwrap_or(self.timestamp).name()
            ));
            if f.undated > 0 {
                out.detail.push(format!(
                    "{} line(s) before the first timestamp of their file, not counted",
                    f.undated
                ));
            }
        }
        if f.skipped_old > 0 {
            out.detail.push(format!(
                "{} older rotated file(s) skipped: last written before the window",
                f.skipped_old
            ));
        }
        out.detail.extend(f.tally.detail(&self.classify));
        if let Some((file, t, line)) = &f.last {
            let when = t
                .map(|t| format!("{} ", logscan::show_time(t, off)))
                .unwrap_or_default();
            out.detail
                .push(format!("last match ({when}{}): {line}", file.display()));
        }
        if f.stats.overlong > 0 {
            out.detail.push(format!(
                "{} line(s) longer than {} cut",
                f.stats.overlong,
                format_bytes(logscan::MAX_LINE as f64)
            ));
        }
        if let Some(e) = &f.error {
            let mut o = match e {
                ScanError::TimedOut => Outcome::fail(format!(
                    "timed out after {} reading {} ({} matches so far)",
                    format_millis(ctx.timeout.as_secs_f64() * 1000.0),
                    self.path,
                    f.count
                )),
                ScanError::Io(..) => Outcome::unknown(e.to_string()),
            }
            .with_value("incomplete");
            o.detail = out.detail;
            return o;
        }
        if self.since.is_some() && f.stats.lines > 0 && f.format_seen.is_none() {
            // The window cannot be applied: a count of 0 would be a lie.
            let mut o = Outcome::unknown(format!(
                "no timestamp ({}) found in {}: cannot apply since {}",
                self.timestamp.name(),
                self.path,
                self.since.map(|w| w.describe()).unwrap_or_default()
            ));
            o.detail = out.detail;
            return o;
        }
        let th = self
            .count
            .clone()
            .unwrap_or_else(|| Threshold::new(Unit::Count, Some(1.0), None));
        let v = th.eval(f.count as f64, Direction::HigherIsWorse);
        let pat = self
            .pattern
            .as_ref()
            .map(|p| format!(" /{}/", p.as_str()))
            .unwrap_or_default();
        out.worsen(
            v.status,
            format!(
                "{}{pat}: {} {what} {}",
                self.path,
                logscan::plural(f.count, "match", "matches"),
                v.breach
            ),
        );
        out.threshold = Some(th);
        out
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
