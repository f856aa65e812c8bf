//! Shared machinery of the log kinds (`journal`, `log`, `access_log`):
//! time windows, the timestamp formats found in real logs, rotated-file
//! discovery, chunked line reading (plain or gzip), `classify:` categories,
//! and running a scan off the async runtime under the check's timeout.
//!
//! Files are read with `read(2)` in fixed chunks, never memory-mapped: a map
//! of a live log dies with SIGBUS when logrotate's `copytruncate` shrinks the
//! file under it. A plain file is read only up to the size it had when it was
//! opened, so a busy log that keeps growing cannot keep a check running.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Datelike, FixedOffset, Offset, TimeZone};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::Ctx;
use crate::values::reason::{Code, Detail, Reason};
use crate::values::units::{Unit, parse_duration};

/// The reason catalog entries of log files, shared by `log`,
/// `access_log` and `journal` `file:` (docs/reasons.md). A kind may add
/// parameter `kind` to be named first (`journal: no file matches …`).
pub(crate) static CODES: &[&Code] = &[
    &GLOB,
    &DIRECTORY,
    &NOT_FILE,
    &NO_MATCH,
    &READ,
    &GZIP,
    &D_OLD_SKIPPED,
    &D_OVERLONG,
    &D_VANISHED,
    &D_CATEGORY,
    &D_CATEGORY_NONE,
    &D_OTHER,
];

// Detail lines (`-v`).
static D_OLD_SKIPPED: Code = Code::detail(
    "logfile.detail.old_skipped",
    "{count} older rotated file(s) skipped: last written before the window",
);
static D_VANISHED: Code = Code::detail(
    "logfile.detail.vanished",
    "{count} matched file(s) gone before they could be read (rotated away): skipped",
);
static D_OVERLONG: Code = Code::detail(
    "logfile.detail.overlong",
    "{count} line(s) longer than {max} cut",
);
static D_CATEGORY: Code = Code::detail(
    "logfile.detail.category",
    "{name}: {count}件 — last: {line}",
);
static D_CATEGORY_NONE: Code = Code::detail("logfile.detail.category_none", "{name}: 0件");
static D_OTHER: Code = Code::detail("logfile.detail.other", "その他: {count}件 — last: {line}");

static GLOB: Code = Code::new("logfile.glob", "[{kind}: ]invalid glob `{path}`: {error}");
static DIRECTORY: Code = Code::new(
    "logfile.directory",
    "[{kind}: ]{path} is a directory, expected a log file",
);
static NOT_FILE: Code = Code::new("logfile.not_file", "[{kind}: ]{path} is not a regular file");
static NO_MATCH: Code = Code::new("logfile.no_match", "[{kind}: ]no file matches {path}");
static READ: Code = Code::new("logfile.read", "[{kind}: ]cannot read {path}: {error}");
static GZIP: Code = Code::new(
    "logfile.gzip",
    "[{kind}: ]cannot read {path}: corrupt or truncated gzip data ({error})",
);

/// Bytes read per `read(2)` when the parsing thread reads: small enough
/// that a block is still in the CPU cache when it is parsed.
const CHUNK: usize = 128 << 10;
/// Bytes read per `read(2)` by the read-ahead thread: fewer hand-offs
/// between the threads (measured on a cached 600 MB log: ~8% less CPU than
/// 128 KiB, no gain from 1 MiB).
const CHUNK_AHEAD: usize = 512 << 10;
/// A line longer than this is cut here (the rest of it is skipped) so one
/// runaway line cannot make memory grow with the file.
pub(crate) const MAX_LINE: usize = 1 << 20;
/// Lines quoted in details are cut to this many characters.
const SHOW_CHARS: usize = 300;

// ---------------------------------------------------------------------------
// Windows

/// `since:` / `window:` — which part of a log counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Window {
    /// Every line, whatever its time.
    All,
    /// From local midnight to now.
    Today,
    /// The last `d` up to now (`24h`, `30m`).
    Last(Duration),
}

impl Window {
    pub(crate) fn parse(s: &str) -> Result<Window, String> {
        match s.trim() {
            "all" => Ok(Window::All),
            "today" => Ok(Window::Today),
            t => match parse_duration(t) {
                Ok(d) if d.is_zero() => Err(format!(
                    "window `{t}` is zero: expected today, all, or a duration longer than 0s like 24h, 30m, 7d"
                )),
                Ok(d) => Ok(Window::Last(d)),
                Err(_) => Err(format!(
                    "invalid window `{s}`: expected today, all, or a duration like 24h, 30m, 7d"
                )),
            },
        }
    }

    /// `today`, `24h`, `all` — as written.
    pub(crate) fn describe(&self) -> String {
        match self {
            Window::All => "all".into(),
            Window::Today => "today".into(),
            Window::Last(d) => {
                let s = d.as_secs();
                match s {
                    _ if s % 86400 == 0 && s != 86400 => format!("{}d", s / 86400),
                    _ if s % 3600 == 0 => format!("{}h", s / 3600),
                    _ if s % 60 == 0 => format!("{}m", s / 60),
                    _ => format!("{s}s"),
                }
            }
        }
    }

    /// `today`, `in the last 24h`, `in whole file` — after a count.
    pub(crate) fn phrase(&self) -> String {
        match self {
            Window::All => "in whole file".into(),
            Window::Today => "today".into(),
            Window::Last(_) => format!("in the last {}", self.describe()),
        }
    }

    /// Resolves the window against the run's clock.
    pub(crate) fn span(&self, now: DateTime<FixedOffset>) -> Span {
        let end = now.timestamp();
        let start = match self {
            Window::All => Start::Unbounded,
            Window::Today => Start::Midnight,
            Window::Last(d) => Start::At(end - d.as_secs() as i64),
        };
        Span {
            start,
            end: if matches!(self, Window::All) {
                i64::MAX
            } else {
                end
            },
            now,
            cached: None,
        }
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Window, D::Error> {
        let s = d.deserialize_any(crate::values::threshold::ScalarText)?;
        Window::parse(&s).map_err(de::Error::custom)
    }
}

#[derive(Clone, Copy, Debug)]
enum Start {
    Unbounded,
    /// Midnight of the run's day, in the offset of the line's own timestamp.
    Midnight,
    At(i64),
}

/// A window resolved to epoch seconds. `today` depends on the offset a
/// line's timestamp is written in (an access log in +09:00 read on a UTC
/// host still means the log's own day), so its start is computed per offset.
#[derive(Clone, Debug)]
pub(crate) struct Span {
    start: Start,
    end: i64,
    now: DateTime<FixedOffset>,
    cached: Option<(i32, i64)>,
}

impl Span {
    /// Start of the window for a timestamp written in `offset` (seconds east of UTC).
    pub(crate) fn start_for(&mut self, offset: i32) -> i64 {
        match self.start {
            Start::Unbounded => i64::MIN,
            Start::At(t) => t,
            Start::Midnight => {
                if let Some((o, s)) = self.cached
                    && o == offset
                {
                    return s;
                }
                let s = midnight(self.now, offset);
                self.cached = Some((offset, s));
                s
            }
        }
    }

    /// Is `t` (epoch seconds, written in `offset`) inside the window?
    #[inline]
    pub(crate) fn contains(&mut self, t: i64, offset: i32) -> bool {
        t <= self.end && t >= self.start_for(offset)
    }

    pub(crate) fn is_all(&self) -> bool {
        matches!(self.start, Start::Unbounded)
    }

    /// Start of the window for the run's own offset (for `journalctl --since`).
    pub(crate) fn local_start(&mut self) -> Option<i64> {
        let off = self.now.offset().local_minus_utc();
        match self.start {
            Start::Unbounded => None,
            _ => Some(self.start_for(off)),
        }
    }

    pub(crate) fn end(&self) -> i64 {
        self.end
    }

    /// Earliest instant any offset's window can start at, for skipping
    /// whole files by mtime (midnight in +14:00 is the earliest midnight).
    pub(crate) fn earliest_start(&self) -> Option<i64> {
        match self.start {
            Start::Unbounded => None,
            Start::At(t) => Some(t),
            Start::Midnight => Some(midnight(self.now, 14 * 3600)),
        }
    }
}

/// Epoch seconds of the midnight that starts `now`'s day as seen in `offset`.
fn midnight(now: DateTime<FixedOffset>, offset: i32) -> i64 {
    let off = FixedOffset::east_opt(offset).unwrap_or(now.offset().fix());
    let local = now.with_timezone(&off);
    let days = days_from_civil(local.year() as i64, local.month(), local.day());
    days * 86400 - offset as i64
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
#[inline]
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Epoch seconds to a display time in `off` (`2025-10-21 08:59:12`).
pub(crate) fn show_time(epoch: i64, off: FixedOffset) -> String {
    match off.timestamp_opt(epoch, 0).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => epoch.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Timestamps

/// Timestamp formats built into `log` (`timestamp:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TsFormat {
    /// Try every format below; the first that parses fixes a file's format.
    Auto,
    /// Apache error_log: `[Tue Oct 21 09:00:00.123456 2025]` (local time).
    Apache,
    /// nginx error.log: `2025/10/21 09:00:00` (local time).
    Nginx,
    /// `2025-10-21T09:00:00+09:00`, `2025-10-21 09:00:00,123` (offset optional).
    Iso8601,
    /// syslog: `Oct 21 09:00:00` (local time, no year).
    Syslog,
    /// Common Log Format, anywhere in the line: `[21/Oct/2025:09:00:00 +0900]`.
    Clf,
}

const CONCRETE: [TsFormat; 5] = [
    TsFormat::Apache,
    TsFormat::Iso8601,
    TsFormat::Nginx,
    TsFormat::Syslog,
    TsFormat::Clf,
];

impl TsFormat {
    pub(crate) fn name(self) -> &'static str {
        match self {
            TsFormat::Auto => "auto",
            TsFormat::Apache => "apache",
            TsFormat::Nginx => "nginx",
            TsFormat::Iso8601 => "iso8601",
            TsFormat::Syslog => "syslog",
            TsFormat::Clf => "clf",
        }
    }
}

impl<'de> Deserialize<'de> for TsFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TsFormat, D::Error> {
        let s = String::deserialize(d)?;
        [TsFormat::Auto]
            .into_iter()
            .chain(CONCRETE)
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "unknown timestamp format `{s}`: expected auto, apache, nginx, iso8601, syslog or clf"
                ))
            })
    }
}

/// Parses timestamps of one file. Local times (no offset in the line) are
/// read in the run's offset; syslog's missing year is the run's year, or
/// the previous one when that would put the line more than a day ahead.
pub(crate) struct TsParser {
    format: TsFormat,
    detected: Option<TsFormat>,
    /// Some line of the current file had a timestamp.
    seen: bool,
    local_offset: i32,
    now: i64,
    now_year: i64,
}

impl TsParser {
    pub(crate) fn new(format: TsFormat, now: DateTime<FixedOffset>) -> TsParser {
        TsParser {
            format,
            detected: None,
            seen: false,
            local_offset: now.offset().local_minus_utc(),
            now: now.timestamp(),
            now_year: now.year() as i64,
        }
    }

    /// Forget the format detected in the previous file.
    pub(crate) fn reset(&mut self) {
        self.detected = None;
        self.seen = false;
    }

    /// The format timestamps of the current file were found in, if any were.
    pub(crate) fn detected(&self) -> Option<TsFormat> {
        match self.format {
            _ if !self.seen => None,
            TsFormat::Auto => self.detected,
            f => Some(f),
        }
    }

    /// `(epoch seconds, offset)` of the timestamp `line` starts with.
    pub(crate) fn parse(&mut self, line: &[u8]) -> Option<(i64, i32)> {
        let t = self.parse_any(line);
        if t.is_some() {
            self.seen = true;
        }
        t
    }

    fn parse_any(&mut self, line: &[u8]) -> Option<(i64, i32)> {
        match (self.format, self.detected) {
            (TsFormat::Auto, None) => {
                for f in CONCRETE {
                    if let Some(t) = self.parse_as(f, line) {
                        self.detected = Some(f);
                        return Some(t);
                    }
                }
                None
            }
            (TsFormat::Auto, Some(f)) => self.parse_as(f, line),
            (f, _) => self.parse_as(f, line),
        }
    }

    fn parse_as(&self, f: TsFormat, line: &[u8]) -> Option<(i64, i32)> {
        let lo = self.local_offset;
        let local = |secs: i64| Some((secs - lo as i64, lo));
        match f {
            TsFormat::Auto => None,
            TsFormat::Apache => {
                // [Tue Oct 21 09:00:00.123456 2025]
                let b = line.strip_prefix(b"[")?;
                if b.len() < 24 || b[3] != b' ' || b[7] != b' ' {
                    return None;
                }
                let mon = month(&b[4..7])?;
                let day = num_sp(&b[8..10])?;
                let (h, mi, s) = hms(&b[11..19])?;
                let mut i = 19;
                if b.get(i) == Some(&b'.') {
                    i += 1;
                    while b.get(i).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                    }
                }
                if b.get(i) != Some(&b' ') {
                    return None;
                }
                let y = num(b.get(i + 1..i + 5)?)?;
                if b.get(i + 5) != Some(&b']') {
                    return None;
                }
                local(civil_secs(y as i64, mon, day, h, mi, s)?)
            }
            TsFormat::Nginx => {
                // 2025/10/21 09:00:00
                let b = line.get(..19)?;
                if b[4] != b'/' || b[7] != b'/' || b[10] != b' ' {
                    return None;
                }
                let (y, m, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
                let (h, mi, s) = hms(&b[11..19])?;
                local(civil_secs(y as i64, m, d, h, mi, s)?)
            }
            TsFormat::Iso8601 => {
                let b = line.strip_prefix(b"[").unwrap_or(line);
                let head = b.get(..19)?;
                if head[4] != b'-' || head[7] != b'-' || !(head[10] == b'T' || head[10] == b' ') {
                    return None;
                }
                let (y, m, d) = (num(&head[0..4])?, num(&head[5..7])?, num(&head[8..10])?);
                let (h, mi, s) = hms(&head[11..19])?;
                let secs = civil_secs(y as i64, m, d, h, mi, s)?;
                let mut i = 19;
                if matches!(b.get(i), Some(b'.' | b',')) {
                    i += 1;
                    while b.get(i).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                    }
                }
                match b.get(i) {
                    Some(b'Z') => Some((secs, 0)),
                    Some(&c @ (b'+' | b'-')) => {
                        let hh = num(b.get(i + 1..i + 3)?)? as i32;
                        let rest = &b[i + 3..];
                        let mm = if rest.first() == Some(&b':') {
                            num(rest.get(1..3)?)? as i32
                        } else if rest.len() >= 2 && rest[..2].iter().all(u8::is_ascii_digit) {
                            num(&rest[..2])? as i32
                        } else {
                            0
                        };
                        let off = (hh * 3600 + mm * 60) * if c == b'-' { -1 } else { 1 };
                        Some((secs - off as i64, off))
                    }
                    _ => local(secs),
                }
            }
            TsFormat::Syslog => {
                // Oct 21 09:00:00 / Oct  1 09:00:00
                let b = line.get(..15)?;
                if b[3] != b' ' || b[6] != b' ' {
                    return None;
                }
                let mon = month(&b[0..3])?;
                let day = num_sp(&b[4..6])?;
                let (h, mi, s) = hms(&b[7..15])?;
                let mut secs = civil_secs(self.now_year, mon, day, h, mi, s)? - lo as i64;
                if secs > self.now + 86400 {
                    secs = civil_secs(self.now_year - 1, mon, day, h, mi, s)? - lo as i64;
                }
                Some((secs, lo))
            }
            TsFormat::Clf => {
                let at = memchr::memchr(b'[', line)?;
                parse_clf(line.get(at + 1..at + 27)?)
            }
        }
    }
}

/// `21/Oct/2025:09:00:00 +0900` (exactly 26 bytes) → (epoch seconds, offset).
#[inline]
pub(crate) fn parse_clf(b: &[u8]) -> Option<(i64, i32)> {
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    let d = num(&b[0..2])?;
    let m = month(&b[3..6])?;
    let y = num(&b[7..11])? as i64;
    let (h, mi, s) = hms(&b[12..20])?;
    let off = clf_offset(&b[21..26])?;
    Some((civil_secs(y, m, d, h, mi, s)? - off as i64, off))
}

/// `+0900` → 32400.
#[inline]
pub(crate) fn clf_offset(b: &[u8]) -> Option<i32> {
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hh = num(b.get(1..3)?)? as i32;
    let mm = num(b.get(3..5)?)? as i32;
    (mm < 60 && hh < 24).then_some(sign * (hh * 3600 + mm * 60))
}

#[inline]
fn civil_secs(y: i64, m: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86400 + (h * 3600 + mi * 60 + s) as i64)
}

/// `09:00:00` → (9, 0, 0).
#[inline]
pub(crate) fn hms(b: &[u8]) -> Option<(u32, u32, u32)> {
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    Some((num(&b[0..2])?, num(&b[3..5])?, num(&b[6..8])?))
}

/// ASCII digits → number (all bytes must be digits).
#[inline]
pub(crate) fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() {
        return None;
    }
    let mut v = 0u32;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u32;
    }
    Some(v)
}

/// A day number that may be space-padded (` 1`).
fn num_sp(b: &[u8]) -> Option<u32> {
    match b {
        [b' ', d] => num(&[*d]),
        _ => num(b),
    }
}

/// `Oct` → 10.
#[inline]
pub(crate) fn month(b: &[u8]) -> Option<u32> {
    Some(match b {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Files

/// One file a glob matched.
#[derive(Clone, Debug)]
pub(crate) struct LogFile {
    pub path: PathBuf,
    pub mtime: Option<SystemTime>,
}

/// The files `pattern` names (a path or a glob), oldest first, so the last
/// line seen is the newest (rotated `error_log.2.gz`, `error_log.1`, then
/// `error_log`). Ties in mtime fall back to the name, descending (a higher
/// rotation number is older).
pub(crate) fn expand(pattern: &Path) -> Result<Vec<LogFile>, Reason> {
    let text = pattern.to_string_lossy();
    let at = |code| Reason::new(code).with("path", text.as_ref());
    let paths: Vec<PathBuf> = if text.contains(['*', '?', '[']) {
        let g = glob::glob(&text).map_err(|e| at(&GLOB).with("error", e.to_string()))?;
        // Only regular files: a FIFO or a device would block the read forever.
        g.filter_map(Result::ok).filter(|p| p.is_file()).collect()
    } else {
        match std::fs::metadata(pattern) {
            Ok(m) if m.is_dir() => {
                return Err(at(&DIRECTORY));
            }
            Ok(m) if !m.is_file() => {
                return Err(at(&NOT_FILE));
            }
            Ok(_) => vec![pattern.to_path_buf()],
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(at(&READ).with("error", crate::values::io_reason(&e)));
            }
        }
    };
    if paths.is_empty() {
        return Err(at(&NO_MATCH));
    }
    let mut files: Vec<LogFile> = paths
        .into_iter()
        .map(|path| LogFile {
            mtime: std::fs::metadata(&path).and_then(|m| m.modified()).ok(),
            path,
        })
        .collect();
    files.sort_by(|a, b| a.mtime.cmp(&b.mtime).then_with(|| b.path.cmp(&a.path)));
    Ok(files)
}

/// Files whose last write is before `since` cannot hold a line inside the
/// window (a line is written after the time it carries): they are skipped.
pub(crate) fn older_than(f: &LogFile, since: Option<i64>) -> bool {
    match (since, f.mtime) {
        (Some(s), Some(m)) => match m.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64) < s,
            Err(_) => true,
        },
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Reading

/// Why a scan stopped early.
#[derive(Debug)]
pub(crate) enum ScanError {
    /// Past the deadline (or the check was dropped).
    TimedOut,
    Io(PathBuf, io::Error),
}

impl ScanError {
    /// Why the read failed, for [`ScanError::Io`]; `None` for a timeout
    /// (each kind says what it was reading when time ran out).
    pub(crate) fn reason(&self) -> Option<Reason> {
        let ScanError::Io(p, e) = self else {
            return None;
        };
        let at = |code| Reason::new(code).with("path", p.display().to_string());
        Some(
            if e.kind() == io::ErrorKind::InvalidInput
                || e.kind() == io::ErrorKind::InvalidData
                || e.kind() == io::ErrorKind::UnexpectedEof
            {
                at(&GZIP).with("error", e.to_string())
            } else {
                at(&READ).with("error", crate::values::io_reason(e))
            },
        )
    }
}

/// Tells a blocking scan to stop: the deadline passed or nobody waits any more.
#[derive(Clone, Debug)]
pub(crate) struct Stop {
    at: Instant,
    cancelled: Arc<AtomicBool>,
}

impl Stop {
    pub(crate) fn check(&self) -> Result<(), ScanError> {
        if self.cancelled.load(Ordering::Relaxed) || Instant::now() >= self.at {
            Err(ScanError::TimedOut)
        } else {
            Ok(())
        }
    }
}

/// Sets the cancel flag when the check's future is dropped (engine timeout,
/// Ctrl-C), so the blocking thread stops at its next chunk.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs a blocking scan on the blocking pool, bounded by the check's
/// deadline (the scan stops at its next chunk once it has passed).
pub(crate) async fn blocking<T: Send + 'static>(
    ctx: &Ctx,
    f: impl FnOnce(Stop) -> T + Send + 'static,
) -> Option<T> {
    let cancelled = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancelled.clone());
    let stop = Stop {
        at: ctx.deadline.instant().into_std(),
        cancelled,
    };
    tokio::task::spawn_blocking(move || f(stop)).await.ok()
}

/// Counts kept by [`scan_file`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ReadStats {
    pub bytes: u64,
    pub lines: u64,
    /// Lines longer than [`MAX_LINE`], cut there.
    pub overlong: u64,
    /// Files listed by the glob that were gone when it was their turn to
    /// be read (logrotate renamed or removed them in between).
    pub vanished: u64,
}

/// Calls `f` with every line of `path` (without its `\n`, or `\r\n`),
/// reading gzip transparently (by its magic bytes, whatever the name).
/// `Ok(false)`: the file was gone before it could be opened (counted in
/// `stats.vanished`), so callers do not list it among the files read.
pub(crate) fn scan_file<F: FnMut(&[u8])>(
    path: &Path,
    stop: &Stop,
    stats: &mut ReadStats,
    f: F,
) -> Result<bool, ScanError> {
    let io_err = |e| ScanError::Io(path.to_path_buf(), e);
    // A rotation between listing and reading removes or renames a file:
    // what it held is in its successor or gone, so it is skipped and
    // counted (a detail line), not a read error that makes the check
    // unknown. Once open, the file stays readable whatever happens to
    // its name.
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            stats.vanished += 1;
            return Ok(false);
        }
        Err(e) => return Err(io_err(e)),
    };
    let len = file.metadata().map_err(io_err)?.len();
    let mut magic = [0u8; 2];
    let n = read_full(&mut file, &mut magic).map_err(io_err)?;
    let head = io::Cursor::new(magic[..n].to_vec());
    let big = len >= READ_AHEAD_MIN;
    if n == 2 && magic == [0x1f, 0x8b] {
        let gz = flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(
            256 * 1024,
            head.chain(file),
        ));
        scan_reader(gz, big, path, stop, stats, f)?;
    } else {
        let plain = head.chain(file.take(len.saturating_sub(n as u64)));
        scan_reader(plain, big, path, stop, stats, f)?;
    }
    Ok(true)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Files at least this big are read by a second thread while the first
/// parses: the kernel's copy out of the page cache (or gzip's inflate) is a
/// third to a half of the work, and overlapping it nearly halves the wall time.
const READ_AHEAD_MIN: u64 = 8 << 20;
/// Blocks in flight between the reading and the parsing thread.
const READ_AHEAD_DEPTH: usize = 3;

/// Cuts a byte stream into blocks of whole lines: each block is the line
/// left over from the previous read plus new reads, up to the last newline.
/// A line with no newline within [`MAX_LINE`] bytes is handed out as its
/// first `MAX_LINE + 1` bytes (the parser cuts and counts it) and the rest
/// of it is dropped, so memory stays bounded whatever the input.
struct Chunker<R> {
    r: R,
    /// Bytes per read, at most [`CHUNK_AHEAD`].
    read_size: usize,
    /// The unfinished last line of the previous block (never a newline in
    /// it, never longer than `MAX_LINE`).
    carry: Vec<u8>,
    /// Dropping the rest of an overlong line, up to its newline.
    skipping: bool,
    bytes: u64,
    eof: bool,
}

/// Block buffers are this big, allocated once and reused.
const BLOCK_CAP: usize = CHUNK_AHEAD + MAX_LINE + 2;

/// A buffer, how much of it is one block of lines, and where each of its
/// lines ends. Finding the newlines is done on the reading side, so with
/// read-ahead that scan runs on the reading thread, not the parsing one.
#[derive(Default)]
struct Block {
    buf: Vec<u8>,
    len: usize,
    ends: Vec<u32>,
}

impl<R: Read> Chunker<R> {
    fn new(r: R, read_size: usize) -> Chunker<R> {
        Chunker {
            r,
            read_size: read_size.min(CHUNK_AHEAD),
            carry: Vec::new(),
            skipping: false,
            bytes: 0,
            eof: false,
        }
    }

    /// Fills `block` with the next block and its line ends; `false` once
    /// the stream is done.
    fn next_block(&mut self, block: &mut Block) -> io::Result<bool> {
        let more = self.fill(&mut block.buf, &mut block.len)?;
        block.ends.clear();
        if more {
            block
                .ends
                .extend(memchr::memchr_iter(b'\n', &block.buf[..block.len]).map(|i| i as u32));
        }
        Ok(more)
    }

    fn fill(&mut self, buf: &mut Vec<u8>, out_len: &mut usize) -> io::Result<bool> {
        if buf.len() < BLOCK_CAP {
            // Zeroed by the allocator: pages of the overlong-line reserve
            // are not touched (or counted in RSS) until a long line comes.
            *buf = vec![0; BLOCK_CAP];
        }
        let mut len = self.carry.len();
        buf[..len].copy_from_slice(&self.carry);
        self.carry.clear();
        loop {
            if self.eof {
                // The last line, without a newline.
                *out_len = len;
                return Ok(len > 0 && !self.skipping);
            }
            let new = len;
            let n = loop {
                match self
                    .r
                    .read(&mut buf[len..(len + self.read_size).min(BLOCK_CAP)])
                {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
            self.bytes += n as u64;
            if n == 0 {
                self.eof = true;
                continue;
            }
            len += n;
            let mut new = new;
            if self.skipping {
                // Nothing is carried while skipping: the block is all new.
                match memchr::memchr(b'\n', &buf[..len]) {
                    Some(i) => {
                        self.skipping = false;
                        buf.copy_within(i + 1..len, 0);
                        len -= i + 1;
                        new = 0;
                    }
                    None => {
                        len = 0;
                        continue;
                    }
                }
            }
            // Only the new bytes can hold a newline.
            match memchr::memrchr(b'\n', &buf[new..len]) {
                Some(i) => {
                    let end = new + i + 1;
                    self.carry.extend_from_slice(&buf[end..len]);
                    *out_len = end;
                    return Ok(true);
                }
                None if len > MAX_LINE => {
                    buf[MAX_LINE + 1] = b'\n';
                    *out_len = MAX_LINE + 2;
                    self.skipping = true;
                    return Ok(true);
                }
                None => {} // read more into the same block
            }
        }
    }
}

/// Hands every line of a block to `f`.
#[inline]
fn lines_of<F: FnMut(&[u8])>(block: &Block, stats: &mut ReadStats, f: &mut F) {
    let data = &block.buf[..block.len];
    let mut pos = 0;
    let mut emit = |l: &[u8], stats: &mut ReadStats| {
        stats.lines += 1;
        if l.len() > MAX_LINE {
            stats.overlong += 1;
            f(&l[..MAX_LINE]);
        } else {
            f(trim_cr(l));
        }
    };
    for &end in &block.ends {
        let end = end as usize;
        emit(&data[pos..end], stats);
        pos = end + 1;
    }
    if pos < data.len() {
        emit(&data[pos..], stats);
    }
}

/// Reads `r` to the end, calling `f` per line; with `read_ahead`, a second
/// thread does the reading.
pub(crate) fn scan_reader<R: Read + Send, F: FnMut(&[u8])>(
    r: R,
    read_ahead: bool,
    path: &Path,
    stop: &Stop,
    stats: &mut ReadStats,
    mut f: F,
) -> Result<(), ScanError> {
    let io_err = |e| ScanError::Io(path.to_path_buf(), e);
    let mut chunker = Chunker::new(r, if read_ahead { CHUNK_AHEAD } else { CHUNK });
    if !read_ahead {
        let mut block = Block::default();
        loop {
            stop.check()?;
            if !chunker.next_block(&mut block).map_err(io_err)? {
                break;
            }
            lines_of(&block, stats, &mut f);
        }
        stats.bytes += chunker.bytes;
        return Ok(());
    }
    use std::sync::mpsc::sync_channel;
    let (full_tx, full_rx) = sync_channel::<io::Result<Block>>(READ_AHEAD_DEPTH);
    // A fixed pool of blocks circulates: reader → parser → back.
    let pool = READ_AHEAD_DEPTH + 2;
    let (free_tx, free_rx) = sync_channel::<Block>(pool);
    for _ in 0..pool {
        let _ = free_tx.send(Block::default());
    }
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            // Ends when the parser hangs up (both channels closed).
            while let Ok(mut block) = free_rx.recv() {
                match chunker.next_block(&mut block) {
                    Ok(true) => {
                        if full_tx.send(Ok(block)).is_err() {
                            break; // the parser stopped
                        }
                    }
                    Ok(false) => break,
                    Err(e) => {
                        let _ = full_tx.send(Err(e));
                        break;
                    }
                }
            }
            chunker.bytes
        });
        let mut result = Ok(());
        for block in full_rx.iter() {
            if let Err(e) = stop.check() {
                result = Err(e);
                break;
            }
            match block {
                Ok(b) => {
                    lines_of(&b, stats, &mut f);
                    let _ = free_tx.send(b);
                }
                Err(e) => {
                    result = Err(io_err(e));
                    break;
                }
            }
        }
        // Hanging up ends the reader at its next send or receive.
        drop(full_rx);
        drop(free_tx);
        stats.bytes += reader.join().unwrap_or(0);
        result
    })
}

#[inline]
fn trim_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// `1 match`, `3 matches` (`3件`): a count in the run's words, `one`
/// for exactly one, else `many` with the parameter `count`.
pub(crate) fn counted(n: u64, one: &'static Code, many: &'static Code) -> String {
    if n == 1 {
        crate::values::reason::said(one)
    } else {
        crate::values::reason::say(&Reason::new(many).with("count", n))
    }
}

/// A line as text for a detail, cut to a readable length.
pub(crate) fn show_line(l: &[u8]) -> String {
    let t = String::from_utf8_lossy(l);
    // Control bytes would garble a terminal; a newline inside a journal
    // message is shown as ⏎ so the entry stays on one line.
    let t: String = t
        .trim_end()
        .chars()
        .map(|c| match c {
            '\n' => '⏎',
            '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect();
    if t.chars().count() > SHOW_CHARS {
        format!("{}…", t.chars().take(SHOW_CHARS).collect::<String>())
    } else {
        t
    }
}

// ---------------------------------------------------------------------------
// Regexes and categories

/// A byte regex from a YAML string (log lines need not be UTF-8).
pub(crate) fn bytes_regex(s: &str) -> Result<regex::bytes::Regex, String> {
    regex::bytes::RegexBuilder::new(s)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| {
            let msg = e.to_string();
            format!(
                "invalid regex `{s}`: {}",
                msg.lines().last().unwrap_or(&msg).trim()
            )
        })
}

pub(crate) mod opt_bytes_regex {
    use serde::{Deserialize, Deserializer, de};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<regex::bytes::Regex>, D::Error> {
        let s = String::deserialize(d)?;
        super::bytes_regex(&s).map(Some).map_err(de::Error::custom)
    }
}

/// Reads a `metrics:` mapping (`access_log`, `log`) in the order written
/// (the first is the headline): each key one of `all`, once, its setting
/// read by `value`. Errors point at the metric's key, not at the mapping.
pub(crate) fn metric_map<'de, A: MapAccess<'de>, N: Copy + PartialEq, V>(
    map: &mut A,
    all: &[N],
    name: fn(N) -> &'static str,
    mut value: impl FnMut(&mut A, N) -> Result<V, A::Error>,
) -> Result<Vec<(N, V)>, A::Error> {
    let mut out: Vec<(N, V)> = Vec::new();
    while let Some(key) = map.next_key::<serde_saphyr::Spanned<String>>()? {
        let k = key.value.as_str();
        let at = |msg: String| -> A::Error {
            de::Error::custom(crate::values::at(
                key.referenced.line(),
                key.referenced.column(),
                &msg,
            ))
        };
        let Some(n) = all.iter().copied().find(|n| name(*n) == k) else {
            let names: Vec<&str> = all.iter().map(|n| name(*n)).collect();
            return Err(at(crate::suggest::unknown_key(k, &names)));
        };
        if out.iter().any(|(o, _)| *o == n) {
            return Err(at(format!("duplicate metric `{k}`")));
        }
        let v = value(map, n)?;
        out.push((n, v));
    }
    Ok(out)
}

/// `classify: {カテゴリ: regex, …}` in the order written. A line goes to
/// the first category whose regex matches; lines matching none are "other".
#[derive(Clone, Debug, Default)]
pub(crate) struct Classify(pub Vec<(String, regex::bytes::Regex)>);

impl<'de> Deserialize<'de> for Classify {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Classify, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Classify;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a mapping of category name to regex, like {Timeout: '(?i)timed? ?out'}",
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Classify, A::Error> {
                let mut out: Vec<(String, regex::bytes::Regex)> = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    let v: String = map.next_value()?;
                    if out.iter().any(|(n, _)| *n == k) {
                        return Err(de::Error::custom(format!("duplicate category `{k}`")));
                    }
                    let re = bytes_regex(&v)
                        .map_err(|e| de::Error::custom(format!("category `{k}`: {e}")))?;
                    out.push((k, re));
                }
                Ok(Classify(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Keeps the most recent of a stream of lines without allocating per line:
/// the bytes are copied into one reused buffer (only as many as a detail
/// shows) and turned into text at the end.
#[derive(Debug, Default)]
pub(crate) struct LastLine(Option<Vec<u8>>);

/// Bytes kept of a line: more than [`show_line`] prints (300 characters of
/// up to 4 bytes), far less than a 1 MiB runaway line.
const KEEP: usize = 4 * SHOW_CHARS + 4;

impl LastLine {
    #[inline]
    pub(crate) fn set(&mut self, line: &[u8]) {
        let line = &line[..line.len().min(KEEP)];
        match &mut self.0 {
            Some(b) => {
                b.clear();
                b.extend_from_slice(line);
            }
            None => self.0 = Some(line.to_vec()),
        }
    }

    pub(crate) fn shown(&self) -> Option<String> {
        self.0.as_deref().map(show_line)
    }
}

/// Counts per category, with the last line seen in each.
#[derive(Debug)]
pub(crate) struct Tally {
    counts: Vec<u64>,
    last: Vec<LastLine>,
    other: u64,
    other_last: LastLine,
}

impl Tally {
    pub(crate) fn new(c: &Classify) -> Tally {
        Tally {
            counts: vec![0; c.0.len()],
            last: c.0.iter().map(|_| LastLine::default()).collect(),
            other: 0,
            other_last: LastLine::default(),
        }
    }

    /// Files `text` under its category; `shown` is what the detail quotes.
    #[inline]
    pub(crate) fn add(&mut self, c: &Classify, text: &[u8], shown: &[u8]) {
        if c.0.is_empty() {
            return;
        }
        match c.0.iter().position(|(_, re)| re.is_match(text)) {
            Some(i) => {
                self.counts[i] += 1;
                self.last[i].set(shown);
            }
            None => {
                self.other += 1;
                self.other_last.set(shown);
            }
        }
    }

    /// `OpenAI API Error: 3件 — last: …` per category (all of them, zeros
    /// included, so a report always lists the same categories), then その他.
    pub(crate) fn detail(&self, c: &Classify) -> Vec<Detail> {
        let mut out = Vec::new();
        for (i, (name, _)) in c.0.iter().enumerate() {
            let said = match self.last[i].shown() {
                Some(l) => Reason::new(&D_CATEGORY)
                    .with("count", self.counts[i])
                    .with("line", l),
                None => Reason::new(&D_CATEGORY_NONE),
            };
            out.push(said.with("name", name).into());
        }
        if let Some(l) = self.other_last.shown() {
            out.push(
                Reason::new(&D_OTHER)
                    .with("count", self.other)
                    .with("line", l)
                    .into(),
            );
        }
        out
    }
}

/// `{count} matched file(s) gone before they could be read …`.
pub(crate) fn vanished(count: u64) -> Detail {
    Reason::new(&D_VANISHED).with("count", count).into()
}

/// `{count} line(s) longer than 1 MB cut`.
pub(crate) fn overlong(count: u64) -> Detail {
    Reason::new(&D_OVERLONG)
        .with("count", count)
        .with_quantity("max", MAX_LINE as f64, Unit::Bytes)
        .into()
}

/// `{count} older rotated file(s) skipped …`.
pub(crate) fn old_skipped(count: usize) -> Detail {
    Reason::new(&D_OLD_SKIPPED).with("count", count).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2025-10-21T09:00:00+09:00").unwrap()
    }

    #[test]
    fn civil_days_match_chrono() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2025, 10, 21), (1969, 12, 31)] {
            let c = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
            let want = (c - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days();
            assert_eq!(days_from_civil(y as i64, m, d), want, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn built_in_timestamp_formats() {
        let mut p = TsParser::new(TsFormat::Auto, now());
        // 2025-10-21 08:00:00 +09:00
        let want = 1761001200;
        let lines: [&[u8]; 7] = [
            b"[Tue Oct 21 08:00:00.123456 2025] [core:error] [pid 1] AH00124",
            b"[Tue Oct 21 08:00:00 2025] [error] old apache",
            b"2025/10/21 08:00:00 [error] 1#1: *1 open() failed",
            b"2025-10-21T08:00:00+09:00 app ERROR x",
            b"2025-10-20T23:00:00Z app ERROR x",
            b"2025-10-21 08:00:00,123 ERROR python",
            b"Oct 21 08:00:00 host app[1]: error",
        ];
        for l in lines {
            p.reset();
            assert_eq!(
                p.parse(l).map(|t| t.0),
                Some(want),
                "{}",
                String::from_utf8_lossy(l)
            );
        }
        p.reset();
        assert_eq!(
            p.parse(b"1.2.3.4 - - [21/Oct/2025:08:00:00 +0900] \"GET / HTTP/1.1\" 200 1"),
            Some((want, 9 * 3600))
        );
        p.reset();
        assert_eq!(p.parse(b"  Traceback (most recent call last):"), None);
        // Syslog has no year: December seen in January is last year's.
        let jan = DateTime::parse_from_rfc3339("2026-01-02T00:00:00+00:00").unwrap();
        let mut p = TsParser::new(TsFormat::Syslog, jan);
        let (t, _) = p.parse(b"Dec 31 23:00:00 h x").unwrap();
        assert_eq!(
            show_time(t, FixedOffset::east_opt(0).unwrap()),
            "2025-12-31 23:00:00"
        );
    }

    #[test]
    fn today_is_the_day_in_the_lines_own_offset() {
        let mut s = Window::Today.span(now());
        // 09:00 JST = 00:00 UTC: today in +09:00 started 9 hours ago,
        // today in UTC started just now.
        let start_jst = s.start_for(9 * 3600);
        assert_eq!(now().timestamp() - start_jst, 9 * 3600);
        assert_eq!(s.start_for(0), now().timestamp());
        assert!(s.contains(now().timestamp(), 0));
        assert!(!s.contains(now().timestamp() + 1, 0));
        let mut s = Window::Last(Duration::from_secs(3600)).span(now());
        assert!(s.contains(now().timestamp() - 3600, 0));
        assert!(!s.contains(now().timestamp() - 3601, 0));
        assert!(Window::All.span(now()).contains(i64::MIN + 1, 0));
    }

    /// logrotate between listing and reading: the glob lists three real
    /// files, one is removed before its turn (the narrowest seam: the
    /// binary lists and reads within microseconds, so a test through it
    /// could not place the removal deterministically). The gone file is
    /// skipped and counted, the others are read, nothing fails.
    #[test]
    fn a_file_gone_between_listing_and_reading_is_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["app.log", "app.log.1", "app.log.2"] {
            std::fs::write(dir.path().join(name), "ERROR x\n").unwrap();
        }
        let files = expand(&dir.path().join("app.log*")).unwrap();
        assert_eq!(files.len(), 3);
        std::fs::remove_file(dir.path().join("app.log.1")).unwrap();
        let mut stats = ReadStats::default();
        let mut seen = 0;
        let unread: Vec<&Path> = files
            .iter()
            .filter(|f| !scan_file(&f.path, &stop(), &mut stats, |_| seen += 1).unwrap())
            .map(|f| f.path.as_path())
            .collect();
        assert_eq!((seen, stats.vanished), (2, 1));
        assert_eq!(unread, [dir.path().join("app.log.1")]);
        let d = vanished(stats.vanished);
        assert!(
            format!("{d:?}").contains("logfile.detail.vanished"),
            "{d:?}"
        );
    }

    fn stop() -> Stop {
        Stop {
            at: Instant::now() + Duration::from_secs(60),
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A reader that returns at most `step` bytes per read, to put block
    /// borders everywhere.
    struct Dribble<'a>(&'a [u8], usize);
    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn lines(data: &[u8], step: usize, ahead: bool) -> (Vec<Vec<u8>>, ReadStats) {
        let mut stats = ReadStats::default();
        let mut seen = Vec::new();
        scan_reader(
            Dribble(data, step),
            ahead,
            Path::new("x"),
            &stop(),
            &mut stats,
            |l| seen.push(l.to_vec()),
        )
        .unwrap();
        (seen, stats)
    }

    #[test]
    fn chunked_reading_handles_split_and_overlong_lines() {
        let mut data = Vec::new();
        for i in 0..200_000 {
            data.extend_from_slice(format!("line {i}\r\n").as_bytes());
        }
        data.extend(std::iter::repeat_n(b'x', 3 * MAX_LINE + 10));
        data.extend_from_slice(b"\nafter\n");
        data.extend(std::iter::repeat_n(b'y', MAX_LINE + 1));
        data.extend_from_slice(b"\nlast-without-newline");
        for (step, ahead) in [
            (usize::MAX, false),
            (usize::MAX, true),
            (7, true),
            (4093, false),
        ] {
            let (seen, stats) = lines(&data, step, ahead);
            assert_eq!(stats.lines, 200_004, "step {step}");
            assert_eq!(stats.overlong, 2);
            assert_eq!(stats.bytes, data.len() as u64);
            assert_eq!(seen.len(), 200_004);
            assert_eq!(seen[199_999], b"line 199999");
            assert_eq!(seen[200_000].len(), MAX_LINE);
            assert_eq!(seen[200_001], b"after");
            assert_eq!(seen[200_002].len(), MAX_LINE);
            assert_eq!(seen[200_003], b"last-without-newline");
        }
    }

    /// logrotate's copytruncate empties a live log while it is read: the
    /// scan ends early and cleanly (a memory map would die with SIGBUS); a
    /// log that keeps growing is read up to its size at open.
    #[test]
    fn live_file_truncated_or_growing_while_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("access_log");
        let line = "x".repeat(99) + "\n";
        let total = 40_000; // 4 MB: read in the caller's thread
        std::fs::write(&p, line.repeat(total)).unwrap();
        let mut stats = ReadStats::default();
        let mut n = 0;
        scan_file(&p, &stop(), &mut stats, |_| {
            n += 1;
            if n == 1 {
                std::fs::File::options()
                    .write(true)
                    .open(&p)
                    .unwrap()
                    .set_len(0)
                    .unwrap();
            }
        })
        .unwrap();
        assert!(n < total, "{n}");

        std::fs::write(&p, line.repeat(total)).unwrap();
        let mut n = 0;
        scan_file(&p, &stop(), &mut ReadStats::default(), |_| {
            n += 1;
            if n == 1 {
                let mut f = std::fs::File::options().append(true).open(&p).unwrap();
                std::io::Write::write_all(&mut f, line.repeat(total).as_bytes()).unwrap();
            }
        })
        .unwrap();
        assert_eq!(n, total);
    }

    #[test]
    fn block_borders_never_change_the_lines() {
        let text: Vec<u8> = (0..5000u32)
            .map(|i| format!("{}{}\n", i, "ab".repeat((i % 97) as usize)))
            .collect::<String>()
            .into_bytes();
        let want: Vec<Vec<u8>> = text
            .split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        for step in [1, 2, 3, 64, 1000, CHUNK - 1, CHUNK + 1, CHUNK_AHEAD + 1] {
            for ahead in [false, true] {
                assert_eq!(
                    lines(&text, step, ahead).0,
                    want,
                    "step {step} ahead {ahead}"
                );
            }
        }
        assert!(lines(b"", 10, true).0.is_empty());
        assert_eq!(lines(b"\n\n", 1, false).0, vec![b"".to_vec(), b"".to_vec()]);
    }
}
