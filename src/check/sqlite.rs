//! `sqlite`: `PRAGMA integrity_check` (or `quick_check`) on a production
//! database, and optionally one scalar query as a metric (seed 000:
//! `sqlite3 app.db "PRAGMA integrity_check;"`, 本日の見積り作成数).
//!
//! Safety (SPEC §9): the file is opened through a `mode=ro` URI with
//! `SQLITE_OPEN_READ_ONLY`, so SQLite never writes it — its bytes and mtime
//! are unchanged — and a query that would write is refused before it runs.
//! Reads take SQLite's normal shared lock, so the check works while the
//! application writes (WAL or rollback journal); a busy database is waited
//! for up to the check's timeout. Like the `sqlite3` shell, reading a WAL
//! database may create its `-wal`/`-shm` side files if they are absent.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, InterruptHandle, OpenFlags, ffi};
use serde::Deserialize;

use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::values::outcome::Status;
use crate::values::reason::{Code, Reason};
use crate::values::threshold::{Direction, Limit, Threshold};
use crate::values::units::{Unit, trim_float};

/// The reason catalog entries of `sqlite` (docs/reasons.md).
/// Display values (`Code::value`).
static V_OK: Code = Code::value("value.sqlite.ok", "ok");
static V_READABLE: Code = Code::value("value.sqlite.readable", "readable");
static V_CORRUPT: Code = Code::value("value.sqlite.corrupt", "corrupt");

pub(crate) static CODES: &[&Code] = &[
    &V_OK,
    &V_READABLE,
    &V_CORRUPT,
    &MISSING,
    &STAT,
    &DIRECTORY,
    &UNREADABLE,
    &HOT_JOURNAL,
    &WAL_SHM,
    &OPEN,
    &INTERRUPTED,
    &LOCKED,
    &ERROR,
    &WRITES,
    &UNBOUND,
    &NO_ROWS,
    &NOT_A_NUMBER,
    &NULL,
    &BLOB,
    &FAILED,
    &TIMEOUT,
    &EMPTY,
    &CORRUPT,
    &D_FILE,
    &D_FILE_WAL,
    &D_CHECK_OK,
    &D_CHECK_LINE,
    &D_FIRST_MESSAGES,
    &D_QUERY,
];

// Detail lines (`-v`).
static D_FILE: Code = Code::detail("sqlite.detail.file", "{path}: {size}, journal_mode {mode}");
static D_FILE_WAL: Code = Code::detail(
    "sqlite.detail.file_wal",
    "{path}: {size}, journal_mode {mode} (WAL header)",
);
static D_CHECK_OK: Code = Code::detail("sqlite.detail.check_ok", "PRAGMA {step}: ok");
/// One line of SQLite's own integrity report, quoted.
static D_CHECK_LINE: Code = Code::detail("sqlite.detail.check_line", "{step}: {line}");
static D_FIRST_MESSAGES: Code =
    Code::detail("sqlite.detail.first_messages", "(first {count} messages)");
static D_QUERY: Code = Code::detail("sqlite.detail.query", "query: {query} → {value}");

static MISSING: Code = Code::new("sqlite.missing", "{path} does not exist");
static STAT: Code = Code::new("sqlite.stat", "cannot stat {path}: {error}");
static DIRECTORY: Code = Code::new("sqlite.directory", "{path} is a directory, not a database");
static UNREADABLE: Code = Code::new("sqlite.unreadable", "cannot read {path}: {error}");
static HOT_JOURNAL: Code = Code::new(
    "sqlite.hot_journal",
    "{path} has a hot journal ({name}-journal) from an interrupted write; opsrun reads only and will not roll it back — the application will on its next open",
);
static WAL_SHM: Code = Code::new(
    "sqlite.wal_shm",
    "{path} is a WAL database and this user cannot create {name}-shm in {dir} (SQLite needs the -shm file even to read): run the check as a user who can write that directory",
);
static OPEN: Code = Code::new("sqlite.open", "cannot open {path} read-only: {error}");
static INTERRUPTED: Code = Code::new("sqlite.interrupted", "{step} interrupted");
static LOCKED: Code = Code::new(
    "sqlite.locked",
    "{step}: {error} (a writer held it for the whole timeout)",
);
static ERROR: Code = Code::new("sqlite.error", "{step}: {error}");
static WRITES: Code = Code::new(
    "sqlite.query_writes",
    "query would write to the database; opsrun only runs read-only queries (SELECT …)",
);
static UNBOUND: Code = Code::new(
    "sqlite.query_parameter",
    "query uses parameter {parameters}; only :today, :now and :now_unix are bound",
);
static NO_ROWS: Code = Code::new(
    "sqlite.query_result",
    "query returned no rows, expected one number",
);
static NOT_A_NUMBER: Code = Code::variant(
    "sqlite.query_result.text",
    "sqlite.query_result",
    "query returned {got:q}, expected a number",
);
static NULL: Code = Code::variant(
    "sqlite.query_result.null",
    "sqlite.query_result",
    "query returned NULL, expected a number",
);
static BLOB: Code = Code::variant(
    "sqlite.query_result.blob",
    "sqlite.query_result",
    "query returned a blob, expected a number",
);
static FAILED: Code = Code::new("sqlite.failed", "sqlite check failed: {error}");
static TIMEOUT: Code = Code::variant(
    "sqlite.timeout",
    "timeout",
    "{step} on {path} timed out after {after}",
);
static EMPTY: Code = Code::new(
    "sqlite.empty",
    "{path} is empty (0 bytes): no tables, no data",
);
static CORRUPT: Code = Code::new("sqlite.corrupt", "{step}: {errors:semi}");

/// How long the check waits past its deadline for SQLite to report its
/// own error (`database is locked`): the busy timeout is the deadline, and
/// SQLite's answer arrives a moment after it. Within the engine's grace.
const SETTLE: Duration = Duration::from_millis(250);

/// Messages kept from a failed integrity check (SQLite's own limit).
const MAX_ERRORS: usize = 10;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sqlite {
    path: String,
    #[serde(default)]
    check: Mode,
    /// One SQL statement returning one number; named parameters `:today`,
    /// `:now` and `:now_unix` are bound from the run clock.
    query: Option<String>,
    value: Option<ValueSpec>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Mode {
    #[default]
    Integrity,
    Quick,
    None,
}

impl Mode {
    fn pragma(self) -> Option<&'static str> {
        match self {
            Mode::Integrity => Some("integrity_check"),
            Mode::Quick => Some("quick_check"),
            Mode::None => None,
        }
    }
}

/// `value: {warn: 10, fail: "< 1", unit: 件}` for the query's number.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValueSpec {
    #[serde(default, deserialize_with = "crate::values::threshold::limit::number")]
    warn: Option<Limit>,
    #[serde(default, deserialize_with = "crate::values::threshold::limit::number")]
    fail: Option<Limit>,
    /// Display label (`件`); the metric itself is a plain number.
    unit: Option<String>,
}

impl Kind for Sqlite {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }

    fn section(&self) -> &'static str {
        sections::DATA
    }

    fn target(&self) -> String {
        match (&self.query, self.check.pragma()) {
            (Some(q), _) => format!("{}: {q}", self.path),
            (None, Some(p)) => format!("{}: PRAGMA {p}", self.path),
            (None, None) => self.path.clone(),
        }
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(v) = &self.value {
            super::unreachable_warn(&v.warn, &v.fail)?;
        }
        if self.value.is_some() && self.query.is_none() {
            return Err("`value` thresholds need a `query` that returns a number".into());
        }
        if let Some(q) = &self.query
            && q.trim().is_empty()
        {
            return Err("`query` is empty: expected SQL returning one number, e.g. SELECT count(*) FROM tasks".into());
        }
        Ok(())
    }
}

/// How a database problem counts: the database is bad (`fail`), or opsrun
/// could not look at it (`unknown`).
#[derive(Debug)]
enum Problem {
    Fail(Reason),
    Unknown(Reason),
}

/// What the read-only inspection found.
#[derive(Debug, Default)]
struct Found {
    size: u64,
    wal: bool,
    journal_mode: String,
    /// `ok`, or the integrity check's first messages.
    integrity: Option<Vec<String>>,
    value: Option<f64>,
}

/// Run-clock values bound to the query's named parameters.
#[derive(Clone, Debug)]
struct Params {
    today: String,
    now: String,
    now_unix: i64,
}

impl Params {
    fn from(now: &DateTime<FixedOffset>) -> Params {
        Params {
            today: now.format("%Y-%m-%d").to_string(),
            now: now.to_rfc3339(),
            now_unix: now.timestamp(),
        }
    }
}

/// `file:` URI for an absolute path, with the characters URIs reserve escaped.
fn uri(path: &Path) -> String {
    let mut s = String::from("file://");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => s.push_str(&format!("%{:02X}", c as u32)),
            c => s.push(c),
        }
    }
    s.push_str("?mode=ro");
    s
}

/// The file's first 100 bytes say whether it is a WAL database (bytes 18–19 = 2).
fn is_wal(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 20];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|_| head.starts_with(b"SQLite format 3\0") && head[18] == 2 && head[19] == 2)
        .unwrap_or(false)
}

fn classify(e: &rusqlite::Error, path: &Path, wal: bool, step: &str) -> Problem {
    let msg = match e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        other => other.to_string(),
    };
    let Some(err) = (match e {
        rusqlite::Error::SqliteFailure(err, _) => Some(*err),
        _ => None,
    }) else {
        return Problem::Fail(Reason::new(&ERROR).with("step", step).with("error", msg));
    };
    let dir = crate::values::io::dir_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let at = |code| Reason::new(code).with("path", path.display().to_string());
    match err.code {
        ffi::ErrorCode::ReadOnly if err.extended_code == ffi::SQLITE_READONLY_ROLLBACK => {
            Problem::Unknown(at(&HOT_JOURNAL).with("name", name))
        }
        ffi::ErrorCode::ReadOnly if wal => Problem::Unknown(
            at(&WAL_SHM)
                .with("name", name)
                .with("dir", dir.display().to_string()),
        ),
        ffi::ErrorCode::CannotOpen
        | ffi::ErrorCode::PermissionDenied
        | ffi::ErrorCode::ReadOnly => Problem::Unknown(at(&OPEN).with("error", msg)),
        ffi::ErrorCode::OperationInterrupted => {
            Problem::Fail(Reason::new(&INTERRUPTED).with("step", step))
        }
        ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked => {
            Problem::Fail(Reason::new(&LOCKED).with("step", step).with("error", msg))
        }
        _ => Problem::Fail(Reason::new(&ERROR).with("step", step).with("error", msg)),
    }
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ffi::ErrorCode::DatabaseCorrupt))
}

fn sqlite_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        other => other.to_string(),
    }
}

/// Opens `path` read-only and runs the integrity check and the query.
/// Blocking; the handle lets the async side interrupt it at the timeout.
fn inspect(
    path: &Path,
    mode: Mode,
    query: Option<&str>,
    params: &Params,
    busy: Duration,
    slot: &Mutex<Option<InterruptHandle>>,
) -> Result<Found, Problem> {
    let at = |code| Reason::new(code).with("path", path.display().to_string());
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Problem::Fail(at(&MISSING)));
        }
        Err(e) => {
            return Err(Problem::Unknown(
                at(&STAT).with("error", crate::values::io_reason(&e)),
            ));
        }
    };
    if meta.is_dir() {
        return Err(Problem::Fail(at(&DIRECTORY)));
    }
    // SQLite reports an unreadable file as "unable to open database file";
    // opening it here first gives the real reason.
    if let Err(e) = std::fs::File::open(path) {
        return Err(Problem::Unknown(
            at(&UNREADABLE).with("error", crate::values::io_reason(&e)),
        ));
    }
    let wal = is_wal(path);
    let mut found = Found {
        size: meta.len(),
        wal,
        ..Found::default()
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(uri(path), flags)
        .map_err(|e| classify(&e, path, wal, "open"))?;
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn.get_interrupt_handle());
    conn.busy_timeout(busy)
        .map_err(|e| classify(&e, path, wal, "busy_timeout"))?;
    // Any read proves it is a database (and reads the schema).
    found.journal_mode = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
        .map_err(|e| classify(&e, path, wal, "open"))?;

    if let Some(pragma) = mode.pragma() {
        let mut stmt = conn
            .prepare(&format!("PRAGMA {pragma}({MAX_ERRORS})"))
            .map_err(|e| classify(&e, path, wal, pragma))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| classify(&e, path, wal, pragma))?;
        let mut lines = Vec::new();
        for r in rows {
            match r {
                // One row may hold several messages separated by newlines;
                // the "*** in database main ***" heading says nothing.
                Ok(r) => lines.extend(
                    r.lines()
                        .filter(|l| !l.starts_with("*** in database"))
                        .map(str::to_owned),
                ),
                // SQLite reports what it found, then gives up on the page
                // it cannot read: keep both.
                Err(e) if is_corruption(&e) => {
                    lines.push(sqlite_message(&e));
                    break;
                }
                Err(e) => return Err(classify(&e, path, wal, pragma)),
            }
        }
        if lines.is_empty() {
            lines.push("no result".into());
        }
        found.integrity = Some(lines);
    }
    let corrupt = found
        .integrity
        .as_ref()
        .is_some_and(|l| l.len() != 1 || l[0] != "ok");
    if let (Some(q), false) = (query, corrupt) {
        found.value = Some(run_query(&conn, q, params).map_err(|e| match e {
            QueryError::Sql(e) => classify(&e, path, wal, "query"),
            QueryError::Other(p) => p,
        })?);
    }
    Ok(found)
}

enum QueryError {
    Sql(rusqlite::Error),
    Other(Problem),
}

impl From<rusqlite::Error> for QueryError {
    fn from(e: rusqlite::Error) -> Self {
        QueryError::Sql(e)
    }
}

fn run_query(conn: &Connection, q: &str, p: &Params) -> Result<f64, QueryError> {
    let mut stmt = conn.prepare(q)?;
    if !stmt.readonly() {
        return Err(QueryError::Other(Problem::Unknown(Reason::new(&WRITES))));
    }
    for (name, v) in [
        (":today", rusqlite::types::Value::Text(p.today.clone())),
        (":now", rusqlite::types::Value::Text(p.now.clone())),
        (":now_unix", rusqlite::types::Value::Integer(p.now_unix)),
    ] {
        if let Some(i) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(i, v)?;
        }
    }
    if stmt.parameter_count() > 0 {
        let mut unbound = Vec::new();
        for i in 1..=stmt.parameter_count() {
            match stmt.parameter_name(i) {
                Some(n) if [":today", ":now", ":now_unix"].contains(&n) => {}
                Some(n) => unbound.push(n.to_owned()),
                None => unbound.push(format!("?{i}")),
            }
        }
        if !unbound.is_empty() {
            return Err(QueryError::Other(Problem::Unknown(
                Reason::new(&UNBOUND).with("parameters", unbound),
            )));
        }
    }
    let mut rows = stmt.raw_query();
    let Some(row) = rows.next()? else {
        return Err(QueryError::Other(Problem::Fail(Reason::new(&NO_ROWS))));
    };
    let n = match row.get_ref(0)? {
        ValueRef::Integer(i) => i as f64,
        ValueRef::Real(f) => f,
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            s.trim().parse::<f64>().map_err(|_| {
                QueryError::Other(Problem::Fail(
                    Reason::new(&NOT_A_NUMBER).with("got", s.to_string()),
                ))
            })?
        }
        ValueRef::Null => {
            return Err(QueryError::Other(Problem::Fail(Reason::new(&NULL))));
        }
        ValueRef::Blob(_) => {
            return Err(QueryError::Other(Problem::Fail(Reason::new(&BLOB))));
        }
    };
    Ok(n)
}

/// Interrupts the SQLite work when the check ends early (timeout, or the
/// engine dropping the check), so no thread keeps reading a large file.
struct Interrupter(Arc<Mutex<Option<InterruptHandle>>>);

impl Drop for Interrupter {
    fn drop(&mut self) {
        if let Some(h) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.interrupt();
        }
    }
}

impl Sqlite {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let path: PathBuf =
            std::path::absolute(ctx.path(&self.path)).unwrap_or_else(|_| ctx.path(&self.path));
        let slot = Arc::new(Mutex::new(None));
        let guard = Interrupter(slot.clone());
        let (p, mode, query, params, busy) = (
            path.clone(),
            self.check,
            self.query.clone(),
            Params::from(&ctx.now),
            // SQLite waits for a writer until the deadline, and then says
            // `database is locked` itself (see SETTLE).
            ctx.deadline.remaining(),
        );
        let s = slot.clone();
        let job = tokio::task::spawn_blocking(move || {
            inspect(&p, mode, query.as_deref(), &params, busy, &s)
        });
        let res = tokio::time::timeout(ctx.deadline.remaining() + SETTLE, job).await;
        let step = self.check.pragma().unwrap_or("query");
        let found = match res {
            Ok(Ok(Ok(f))) => {
                // Finished: the connection is closed, nothing to interrupt.
                slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                f
            }
            Ok(Ok(Err(Problem::Fail(r)))) => return Err(Failure::fail(r)),
            Ok(Ok(Err(Problem::Unknown(r)))) => return Err(Failure::unknown(r)),
            Ok(Err(e)) => {
                return Err(Failure::unknown(
                    Reason::new(&FAILED).with("error", e.to_string()),
                ));
            }
            Err(_) => {
                drop(guard);
                let o = super::Overran {
                    after: ctx.deadline.budget(),
                };
                return Err(Failure::fail(
                    o.reason(&TIMEOUT)
                        .with("step", step)
                        .with("path", path.display().to_string()),
                )
                .shown(crate::values::reason::said(
                    &crate::values::reason::common::V_TIMEOUT,
                )));
            }
        };
        drop(guard);
        Ok(self.evaluate(&found, &path))
    }

    fn evaluate(&self, f: &Found, path: &Path) -> Measurement {
        let size = f.size as f64;
        let mut out = Measurement::new(match &f.integrity {
            Some(_) => crate::values::reason::said(&V_OK),
            None => crate::values::reason::said(&V_READABLE),
        });
        let file = if f.wal && f.journal_mode != "wal" {
            &D_FILE_WAL
        } else {
            &D_FILE
        };
        out = out.detail(
            Reason::new(file)
                .with("path", path.display().to_string())
                .with_quantity("size", size, Unit::Bytes)
                .with("mode", &f.journal_mode),
        );
        if f.size == 0 {
            out.observe(
                Status::Warn,
                Reason::new(&EMPTY).with("path", path.display().to_string()),
            );
        }
        if let Some(lines) = &f.integrity {
            let step = self.check.pragma().unwrap_or("check");
            if lines.len() == 1 && lines[0] == "ok" {
                out = out.detail(Reason::new(&D_CHECK_OK).with("step", step));
            } else {
                let shown: Vec<String> = lines.iter().take(3).cloned().collect();
                out.value = crate::values::reason::said(&V_CORRUPT);
                out.observe(
                    Status::Fail,
                    Reason::new(&CORRUPT)
                        .with("step", step)
                        .with("errors", shown),
                );
                out.detail.extend(lines.iter().map(|l| {
                    Reason::new(&D_CHECK_LINE)
                        .with("step", step)
                        .with("line", l)
                        .into()
                }));
                if lines.len() >= MAX_ERRORS {
                    out.detail.push(
                        Reason::new(&D_FIRST_MESSAGES)
                            .with("count", MAX_ERRORS)
                            .into(),
                    );
                }
            }
        }
        if let Some(n) = f.value {
            let spec = self.value.as_ref();
            let label = spec.and_then(|s| s.unit.clone()).unwrap_or_default();
            out.value = format!("{}{label}", trim_float(n, 2));
            if let Some(q) = &self.query {
                out.detail.push(
                    Reason::new(&D_QUERY)
                        .with("query", q)
                        .with("value", trim_float(n, 6))
                        .into(),
                );
            }
            let mut m = Metric::new("value", n, Unit::Number, Direction::HigherIsWorse)
                .says(format!("value {}{label}", trim_float(n, 2)));
            if let Some(spec) = spec {
                m = m.held_to(Threshold {
                    warn: spec.warn.clone(),
                    fail: spec.fail.clone(),
                    unit: Unit::Number,
                });
            }
            out.metrics.push(m);
        }
        out.metric(Metric::new("size", size, Unit::Bytes, Direction::HigherIsWorse).extra())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_escape_reserved_characters() {
        assert_eq!(uri(Path::new("/srv/app.db")), "file:///srv/app.db?mode=ro");
        assert_eq!(
            uri(Path::new("/srv/a?b#c%d.db")),
            "file:///srv/a%3Fb%23c%25d.db?mode=ro"
        );
    }
}
