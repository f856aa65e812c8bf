//! `journal`: count systemd journal entries of some units at or above a
//! priority within a window, optionally filtered and classified by regex.
//! Replaces the seeds' `journalctl -u estimator --since "24 hours ago" -p err`
//! and the manual sorting of its output into エラー分類.
//!
//! Reads `journalctl -o json` line by line (never the whole output at
//! once). Journal field values arrive as strings, as byte arrays (binary or
//! non-UTF-8 data) or as arrays (a field set more than once); all three are
//! read. journalctl prints nothing and exits 0 when there are no journal
//! files at all, which would look like a clean pass — so the files are
//! looked for first and their absence is `unknown`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, BufReader};

/// The largest journal entry (one line of `journalctl -o json`) read whole.
/// journald's own limits keep real entries far below this; a hostile or
/// corrupt journal cannot make opsrun's memory grow past it.
const MAX_ENTRY_BYTES: usize = 16 * 1024 * 1024;

/// Reads one line into `line`, keeping at most `max` bytes of it. `None` at
/// end of input; `Some(true)` when the line was longer than `max` (the rest
/// was read and dropped).
async fn read_line_capped<R: AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<bool>> {
    let mut truncated = false;
    let mut any = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(any.then_some(truncated));
        }
        any = true;
        let (take, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = max.saturating_sub(line.len());
        if take > room {
            line.extend_from_slice(&buf[..room]);
            truncated = true;
        } else {
            line.extend_from_slice(&buf[..take]);
        }
        r.consume(take);
        if done {
            return Ok(Some(truncated));
        }
    }
}

use super::logscan::{self, Classify, Tally, Window};
use super::{Attempt, CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::values::outcome::Status;
use crate::values::reason::{Code, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::Unit;

/// The reason catalog entries of `journal` (docs/reasons.md); a `file:`
/// that cannot be found says `logfile.*` (`logscan::CODES`).
/// Display values (`Code::value`).
static V_ENTRY: Code = Code::value("value.journal.entry", "1 entry");
static V_ENTRIES: Code = Code::value("value.journal.entries", "{count} entries");

pub(crate) static CODES: &[&Code] = &[
    &V_ENTRY,
    &V_ENTRIES,
    &NO_DIRECTORY,
    &NO_FILES,
    &NO_JOURNAL,
    &SPAWN,
    &READ,
    &TIMEOUT,
    &EXIT,
    &PERMISSION,
    &SILENT_UNIT,
    &D_WINDOW,
    &D_BY_PRIORITY,
    &D_LAST,
    &D_UNPARSED,
];

// Detail lines (`-v`).
static D_WINDOW: Code = Code::detail(
    "journal.detail.window",
    "window {window}: from {from} to {to}",
);
static D_BY_PRIORITY: Code = Code::detail("journal.detail.by_priority", "by priority: {counts}");
static D_LAST: Code = Code::detail("journal.detail.last", "last: {line}");
static D_UNPARSED: Code = Code::detail(
    "journal.detail.unparsed",
    "{count} line(s) of journalctl output were not JSON entries",
);

static NO_DIRECTORY: Code = Code::new(
    "journal.no_directory",
    "journal directory {path} does not exist",
);
static NO_FILES: Code = Code::new("journal.no_files", "no journal files in {path}");
static NO_JOURNAL: Code = Code::new(
    "journal.no_journal",
    "no journal files in {dirs:or}: journald is not running here or keeps no journal (Storage=none)",
);
static SPAWN: Code = Code::new("journal.spawn", "cannot run journalctl: {error}");
static READ: Code = Code::new("journal.read", "journalctl: {error}");
static TIMEOUT: Code = Code::variant(
    "journal.timeout",
    "timeout",
    "timed out after {after} reading the journal ({count} entries so far)",
);
static EXIT: Code = Code::new("journal.exit", "journalctl exited with {code}: {error}");
static PERMISSION: Code = Code::new(
    "journal.permission",
    "journalctl cannot read the whole journal as this user: run as root or in group systemd-journal/adm",
);
static SILENT_UNIT: Code = Code::new(
    "journal.silent_unit",
    "no journal entry at all for unit {units} (is the name right?)",
);

/// Where journald keeps journals when no `directory`/`file` is given.
const SYSTEM_DIRS: [&str; 2] = ["/var/log/journal", "/run/log/journal"];
const PRIORITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    /// `estimator` or `[estimator, httpd]` (`.service` is implied, as in `journalctl -u`).
    #[serde(default)]
    unit: Units,
    #[serde(default)]
    priority: Priority,
    #[serde(default = "day")]
    since: Window,
    /// Only entries whose MESSAGE matches (`(?i)` for case-insensitive).
    #[serde(default, with = "logscan::opt_bytes_regex")]
    grep: Option<regex::bytes::Regex>,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::count")]
    count: Option<Threshold>,
    #[serde(default)]
    classify: Classify,
    /// Read the journal files in this directory (`journalctl -D`).
    directory: Option<String>,
    /// Read this journal file or glob (`journalctl --file`).
    file: Option<String>,
}

fn day() -> Window {
    Window::Last(std::time::Duration::from_secs(86400))
}

/// One unit name or a list of them.
#[derive(Debug, Default)]
struct Units(Vec<String>);

impl<'de> Deserialize<'de> for Units {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Units, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Units;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a unit name like estimator, or a list like [estimator, httpd]")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Units, E> {
                Ok(Units(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Units, A::Error> {
                let mut out = Vec::new();
                while let Some(u) = seq.next_element::<String>()? {
                    out.push(u);
                }
                Ok(Units(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// `err` (and worse), `0`–`7`, a range `warning..err`, or `all`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Priority(Option<String>);

impl Default for Priority {
    fn default() -> Self {
        Priority(Some("err".into()))
    }
}

impl Priority {
    fn parse(s: &str) -> Result<Priority, String> {
        let t = s.trim();
        if t == "all" {
            return Ok(Priority(None));
        }
        let one = |p: &str| {
            PRIORITIES.contains(&p)
                || p.len() == 1 && p.as_bytes()[0].is_ascii_digit() && p.as_bytes()[0] <= b'7'
        };
        let ok = match t.split_once("..") {
            Some((a, b)) => one(a) && one(b),
            None => one(t),
        };
        if ok {
            Ok(Priority(Some(t.to_owned())))
        } else {
            Err(format!(
                "invalid priority `{s}`: expected one of {}, 0-7, a range like warning..err, or all",
                PRIORITIES.join(", ")
            ))
        }
    }

    fn describe(&self) -> String {
        match &self.0 {
            None => String::new(),
            Some(p) if p.contains("..") => format!(" at priority {p}"),
            Some(p) => format!(" at {p} or worse"),
        }
    }
}

impl<'de> Deserialize<'de> for Priority {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Priority, D::Error> {
        let s = d.deserialize_any(crate::values::threshold::ScalarText)?;
        Priority::parse(&s).map_err(de::Error::custom)
    }
}

impl Kind for Journal {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }
    fn section(&self) -> &'static str {
        sections::LOGS
    }
    fn target(&self) -> String {
        let units = if self.unit.0.is_empty() {
            "all units".to_owned()
        } else {
            self.unit.0.join(", ")
        };
        let src = match (&self.directory, &self.file) {
            (Some(d), _) => format!(" in {d}"),
            (_, Some(f)) => format!(" in {f}"),
            _ => String::new(),
        };
        format!(
            "{units}{}, {}{src}",
            self.priority.describe(),
            self.since.describe()
        )
    }
    fn validate(&self) -> Result<(), String> {
        if self.directory.is_some() && self.file.is_some() {
            return Err("set at most one of `directory` and `file`".into());
        }
        if let Some(u) = self.unit.0.iter().find(|u| u.trim().is_empty()) {
            return Err(format!("invalid unit name `{u}`"));
        }
        Ok(())
    }
}

/// The fields read from each entry; the rest of the JSON is skipped.
#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "MESSAGE", default)]
    message: Value,
    #[serde(rename = "__REALTIME_TIMESTAMP", default)]
    realtime: Value,
    #[serde(rename = "PRIORITY", default)]
    priority: Value,
    #[serde(rename = "_SYSTEMD_UNIT", default)]
    unit: Value,
    #[serde(rename = "SYSLOG_IDENTIFIER", default)]
    ident: Value,
}

/// A journal field value as bytes: a string, a byte array, or (a field
/// present more than once) an array of those, joined by newlines.
fn field_bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Array(a) if a.iter().all(Value::is_u64) => {
            Some(a.iter().map(|x| x.as_u64().unwrap_or(0) as u8).collect())
        }
        Value::Array(a) => {
            let parts: Vec<Vec<u8>> = a.iter().filter_map(field_bytes).collect();
            Some(parts.join(&b'\n'))
        }
        Value::Number(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

fn field_text(v: &Value) -> Option<String> {
    field_bytes(v).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// The journal files a source names; empty means journalctl would read nothing.
fn journal_files(dir: &Path) -> Vec<PathBuf> {
    let is_journal = |p: &Path| {
        p.extension()
            .is_some_and(|e| e == "journal" || e == "journal~")
    };
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            // journald's layout: DIR/<machine-id>/system.journal
            if let Ok(sub) = std::fs::read_dir(&p) {
                out.extend(sub.flatten().map(|e| e.path()).filter(|p| is_journal(p)));
            }
        } else if is_journal(&p) {
            out.push(p);
        }
    }
    out
}

/// Does the journal hold any entry of `unit`? `None` if journalctl fails.
async fn has_entries(unit: &str, source: &[String]) -> Option<bool> {
    let out = tokio::process::Command::new("journalctl")
        .args(["-o", "json", "--no-pager", "-n", "1"])
        .arg(format!("--unit={unit}"))
        .args(source)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    out.status
        .success()
        .then(|| out.stdout.iter().any(|b| !b.is_ascii_whitespace()))
}

/// What the journal said.
#[derive(Default)]
struct Seen {
    count: u64,
    by_priority: [u64; 8],
    last: logscan::LastLine,
    unparsed: u64,
}

impl Journal {
    /// `-D DIR` / `--file F…` arguments, or why there is nothing to read.
    fn source(&self, ctx: &Ctx) -> Result<Vec<String>, Reason> {
        if let Some(f) = &self.file {
            let files = logscan::expand(&ctx.path(f)).map_err(|r| r.with("kind", "journal"))?;
            return Ok(files
                .into_iter()
                .map(|f| format!("--file={}", f.path.display()))
                .collect());
        }
        if let Some(d) = &self.directory {
            let dir = ctx.path(d);
            if !dir.is_dir() {
                return Err(Reason::new(&NO_DIRECTORY).with("path", dir.display().to_string()));
            }
            if journal_files(&dir).is_empty() {
                return Err(Reason::new(&NO_FILES).with("path", dir.display().to_string()));
            }
            return Ok(vec!["-D".into(), dir.display().to_string()]);
        }
        if SYSTEM_DIRS
            .iter()
            .all(|d| journal_files(Path::new(d)).is_empty())
        {
            return Err(Reason::new(&NO_JOURNAL).with("dirs", SYSTEM_DIRS.to_vec()));
        }
        Ok(Vec::new())
    }

    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let source = self.source(ctx).map_err(Failure::unknown)?;
        let mut span = self.since.span(ctx.now);
        let mut cmd = tokio::process::Command::new("journalctl");
        // No --output-fields: journalctl before systemd 236 (RHEL 7)
        // rejects it, and the unused fields cost little.
        cmd.args(["-o", "json", "--all", "--no-pager"]);
        // Absolute epoch times: journalctl would read "YYYY-MM-DD HH:MM:SS"
        // in its own TZ, which need not be the run's offset.
        if let Some(start) = span.local_start() {
            cmd.arg(format!("--since=@{start}"));
            // To the microsecond: whole seconds would leave out what was
            // logged in the second just before the check ran.
            let until = ctx.now.timestamp_micros();
            cmd.arg(format!(
                "--until=@{}.{:06}",
                until.div_euclid(1_000_000),
                until.rem_euclid(1_000_000)
            ));
        }
        if let Some(p) = &self.priority.0 {
            cmd.arg(format!("--priority={p}"));
        }
        for u in &self.unit.0 {
            cmd.arg(format!("--unit={u}"));
        }
        cmd.args(&source)
            .env("LC_ALL", "C")
            .env("SYSTEMD_COLORS", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Err(Failure::unknown(
                    Reason::new(&SPAWN).with("error", crate::values::io_reason(&e)),
                ));
            }
        };
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        // Drain stderr to the end (a full pipe would stall journalctl) but
        // keep only its start.
        let err_task = tokio::spawn(async move {
            let mut keep = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if keep.len() < 64 * 1024 {
                    keep.extend_from_slice(&buf[..n]);
                }
            }
            keep
        });
        let mut seen = Seen::default();
        let mut tally = Tally::new(&self.classify);
        let off = *ctx.now.offset();
        let read = async {
            let mut lines = BufReader::with_capacity(256 * 1024, stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                match read_line_capped(&mut lines, &mut line, MAX_ENTRY_BYTES).await {
                    Ok(None) | Err(_) => break,
                    // An entry too large to hold is counted, never parsed
                    // from a truncated copy (and never allowed to grow memory).
                    Ok(Some(true)) => seen.unparsed += 1,
                    Ok(Some(false)) => self.entry(&line, &mut seen, &mut tally, off),
                }
            }
            child.wait().await
        };
        let status = match ctx.deadline.within(read).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(Failure::unknown(
                    Reason::new(&READ).with("error", e.to_string()),
                ));
            }
            Err(o) => {
                return Err(
                    Failure::fail(o.reason(&TIMEOUT).with("count", seen.count)).shown(
                        crate::values::reason::said(&crate::values::reason::common::V_TIMEOUT),
                    ),
                );
            }
        };
        let stderr = err_task.await.unwrap_or_default();
        let stderr = String::from_utf8_lossy(&stderr);
        let first_err = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .to_owned();
        if !status.success() {
            return Err(Failure::unknown(
                Reason::new(&EXIT)
                    .with("code", i64::from(status.code().unwrap_or(-1)))
                    .with("error", first_err),
            ));
        }
        let mut m = self.measure(ctx, seen, tally, &stderr);
        // A misspelt unit matches nothing and would pass forever: a unit
        // with no entry at all, ever (not even systemd's "Started …"), is
        // reported. One cheap `-n 1` query per unit.
        let mut silent = Vec::new();
        for u in &self.unit.0 {
            match ctx.deadline.within(has_entries(u, &source)).await {
                Ok(Some(false)) => silent.push(u.as_str()),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if !silent.is_empty() {
            m.observe(
                Status::Unknown,
                Reason::new(&SILENT_UNIT).with("units", silent),
            );
        }
        Ok(m)
    }

    /// The attempt for `journalctl -o json` output `data`, with a grep and
    /// two categories: the JSON comes from journal files, which anything
    /// allowed to log may fill. For fuzzing and property tests.
    pub(crate) fn attempt_from_json(
        data: &[u8],
        now: chrono::DateTime<chrono::FixedOffset>,
    ) -> Attempt {
        let j: Journal = serde_json::from_value(serde_json::json!({
            "grep": "(?i)error|fail|denied",
            "count": {"warn": 1, "fail": 100},
            "classify": {"DB": "(?i)database|sqlite", "認証": "denied"},
        }))
        .expect("a valid journal check");
        let ctx = Ctx::new(
            now,
            std::time::Duration::from_secs(10),
            std::path::PathBuf::from("/"),
        );
        let mut seen = Seen::default();
        let mut tally = Tally::new(&j.classify);
        for line in data.split(|b| *b == b'\n') {
            j.entry(line, &mut seen, &mut tally, *now.offset());
        }
        Attempt::Measured(j.measure(&ctx, seen, tally, ""))
    }

    fn entry(&self, line: &[u8], seen: &mut Seen, tally: &mut Tally, off: chrono::FixedOffset) {
        let Ok(e) = serde_json::from_slice::<Entry>(line) else {
            if !line.iter().all(u8::is_ascii_whitespace) {
                seen.unparsed += 1;
            }
            return;
        };
        let msg = field_bytes(&e.message).unwrap_or_default();
        if let Some(g) = &self.grep
            && !g.is_match(&msg)
        {
            return;
        }
        seen.count += 1;
        if let Some(p) = field_text(&e.priority).and_then(|p| p.trim().parse::<usize>().ok())
            && p < 8
        {
            seen.by_priority[p] += 1;
        }
        let when = field_text(&e.realtime)
            .and_then(|t| t.parse::<i64>().ok())
            .map(|us| logscan::show_time(us.div_euclid(1_000_000), off))
            .unwrap_or_default();
        let who = field_text(&e.unit)
            .or_else(|| field_text(&e.ident))
            .unwrap_or_default();
        let mut shown = format!("{when} {who}: ").into_bytes();
        shown.extend_from_slice(&msg);
        tally.add(&self.classify, &msg, &shown);
        seen.last.set(&shown);
    }

    fn measure(&self, ctx: &Ctx, seen: Seen, tally: Tally, stderr: &str) -> Measurement {
        let units = if self.unit.0.is_empty() {
            "journal".to_owned()
        } else {
            format!("journal {}", self.unit.0.join(","))
        };
        let entries = logscan::counted(seen.count, &V_ENTRY, &V_ENTRIES);
        let mut out = Measurement::new(entries.clone());
        let mut span = self.since.span(ctx.now);
        let off = *ctx.now.offset();
        if let Some(s) = span.local_start() {
            out.detail.push(
                Reason::new(&D_WINDOW)
                    .with("window", self.since.describe())
                    .with("from", logscan::show_time(s, off))
                    .with("to", logscan::show_time(span.end(), off))
                    .into(),
            );
        }
        let by: Vec<String> = seen
            .by_priority
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| format!("{} {n}", PRIORITIES[i]))
            .collect();
        if !by.is_empty() {
            out.detail
                .push(Reason::new(&D_BY_PRIORITY).with("counts", by).into());
        }
        out.detail.extend(tally.detail(&self.classify));
        if let Some(l) = seen.last.shown() {
            out.detail.push(Reason::new(&D_LAST).with("line", l).into());
        }
        if seen.unparsed > 0 {
            out.detail
                .push(Reason::new(&D_UNPARSED).with("count", seen.unparsed).into());
        }
        // Without the right group journalctl shows only the user's own
        // entries and says so on stderr: the count is not the system's.
        if stderr.contains("not seeing messages from other users")
            || stderr.contains("insufficient permissions")
            || stderr.contains("Permission denied")
        {
            out.observe(Status::Unknown, Reason::new(&PERMISSION));
        }
        // Without a `count` threshold any entry warns.
        let th = self
            .count
            .clone()
            .unwrap_or_else(|| Threshold::new(Unit::Count, Some(1.0), None));
        let grep = self
            .grep
            .as_ref()
            .map(|g| format!(" matching /{}/", g.as_str()))
            .unwrap_or_default();
        let subject = format!(
            "{units}: {entries}{}{grep} {}",
            self.priority.describe(),
            match self.since {
                Window::All => "in the whole journal".into(),
                w => w.phrase(),
            },
        );
        out.metric(
            Metric::new(
                "count",
                seen.count as f64,
                Unit::Count,
                Direction::HigherIsWorse,
            )
            .held_to(th)
            .says(subject),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn long_lines_are_capped_and_flagged() {
        let data = format!("{}\nshort\nlast", "x".repeat(100));
        let mut r = tokio::io::BufReader::with_capacity(8, data.as_bytes());
        let mut line = Vec::new();
        assert_eq!(
            read_line_capped(&mut r, &mut line, 10).await.unwrap(),
            Some(true)
        );
        assert_eq!(line.len(), 10);
        line.clear();
        assert_eq!(
            read_line_capped(&mut r, &mut line, 10).await.unwrap(),
            Some(false)
        );
        assert_eq!(line, b"short\n");
        line.clear();
        assert_eq!(
            read_line_capped(&mut r, &mut line, 10).await.unwrap(),
            Some(false)
        );
        assert_eq!(line, b"last");
        line.clear();
        assert_eq!(read_line_capped(&mut r, &mut line, 10).await.unwrap(), None);
    }

    #[test]
    fn field_values_of_every_shape() {
        let v: Value = serde_json::json!("text");
        assert_eq!(field_text(&v).unwrap(), "text");
        let v: Value = serde_json::json!([104, 105, 10, 255]);
        assert_eq!(field_bytes(&v).unwrap(), b"hi\n\xff");
        let v: Value = serde_json::json!(["a", [98]]);
        assert_eq!(field_text(&v).unwrap(), "a\nb");
        assert_eq!(field_text(&Value::Null), None);
    }

    #[test]
    fn priorities() {
        assert_eq!(Priority::parse("err").unwrap().0.as_deref(), Some("err"));
        assert_eq!(Priority::parse("3").unwrap().0.as_deref(), Some("3"));
        assert_eq!(
            Priority::parse("warning..err").unwrap().0.as_deref(),
            Some("warning..err")
        );
        assert_eq!(Priority::parse("all").unwrap().0, None);
        for bad in ["error", "8", "err..", "x..err", ""] {
            let e = Priority::parse(bad).unwrap_err();
            assert!(e.contains("expected one of emerg"), "{e}");
        }
    }
}

#[cfg(test)]
mod kind_tests {
    use std::time::Duration;

    use super::super::harness::{ctx_in, kind, now, run_in};
    use super::*;

    #[tokio::test]
    async fn sources_that_cannot_be_read() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = || ctx_in(dir.path(), Duration::from_secs(10));
        let j: Journal = kind("directory: nowhere").unwrap();
        let f = run_in(&j, &ctx()).await.unwrap_err();
        assert_eq!(f.status, Status::Unknown);
        assert_eq!(f.reason.code.code, "journal.no_directory");
        let j: Journal = kind("directory: .").unwrap();
        let f = run_in(&j, &ctx()).await.unwrap_err();
        assert_eq!(f.reason.code.code, "journal.no_files");
        assert_eq!(
            f.reason.param("path"),
            Some(&dir.path().display().to_string().into())
        );
        // A `file:` glob says the shared log-file reason, naming the kind.
        let j: Journal = kind("file: '*.journal'").unwrap();
        let f = run_in(&j, &ctx()).await.unwrap_err();
        assert_eq!(f.reason.code.code, "logfile.no_match");
        assert_eq!(f.reason.param("kind"), Some(&"journal".into()));
    }

    #[test]
    fn entries_are_a_count_held_against_warn_1() {
        let j: Journal = kind("unit: estimator\ngrep: fail").unwrap();
        let ctx = ctx_in(".", Duration::from_secs(10));
        let mut seen = Seen::default();
        let mut tally = Tally::new(&j.classify);
        for line in [
            r#"{"MESSAGE": "job failed", "PRIORITY": "3", "_SYSTEMD_UNIT": "estimator.service"}"#,
            r#"{"MESSAGE": "all good", "PRIORITY": "6"}"#,
            "not json",
        ] {
            j.entry(line.as_bytes(), &mut seen, &mut tally, *now().offset());
        }
        let m = j.measure(
            &ctx,
            seen,
            tally,
            "Hint: You are currently not seeing messages from other users",
        );
        assert_eq!(m.value, "value.journal.entry {}");
        let c = &m.metrics[0];
        assert_eq!((c.name.as_str(), c.value), ("count", 1.0));
        assert_eq!(
            c.threshold.as_ref().unwrap().warn.as_ref().unwrap().value,
            1.0
        );
        assert_eq!(
            c.subject(),
            "journal estimator: value.journal.entry {} at err or worse matching /fail/ in the last 24h"
        );
        let codes: Vec<_> = m.observations.iter().map(|o| o.reason.code.code).collect();
        assert_eq!(codes, ["journal.permission"]);
        let unparsed = crate::check::harness::said(&m.detail, "journal.detail.unparsed");
        assert!(unparsed.is_some(), "{:?}", m.detail);
    }
}
