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

use super::{CheckFuture, Ctx, Kind, sections};
use crate::values::outcome::{Outcome, Status};
use crate::values::threshold::{Direction, Limit, Threshold};
use crate::values::units::{Unit, format_bytes, format_millis, trim_float};

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
    #[serde(default, deserialize_with = "crate::values::threshold::number_limit")]
    warn: Option<Limit>,
    #[serde(default, deserialize_with = "crate::values::threshold::number_limit")]
    fail: Option<Limit>,
    /// Display label (`件`); the metric itself is a plain number.
    unit: Option<String>,
}

impl Kind for Sqlite {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        super::legacy(self.check(ctx))
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
    Fail(String),
    Unknown(String),
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
        return Problem::Fail(format!("{step}: {msg}"));
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match err.code {
        ffi::ErrorCode::ReadOnly if err.extended_code == ffi::SQLITE_READONLY_ROLLBACK => {
            Problem::Unknown(format!(
                "{} has a hot journal ({name}-journal) from an interrupted write; opsrun reads only and will not roll it back — the application will on its next open",
                path.display()
            ))
        }
        ffi::ErrorCode::ReadOnly if wal => Problem::Unknown(format!(
            "{} is a WAL database and this user cannot create {name}-shm in {} (SQLite needs the -shm file even to read): run the check as a user who can write that directory",
            path.display(),
            dir.display()
        )),
        ffi::ErrorCode::CannotOpen
        | ffi::ErrorCode::PermissionDenied
        | ffi::ErrorCode::ReadOnly => {
            Problem::Unknown(format!("cannot open {} read-only: {msg}", path.display()))
        }
        ffi::ErrorCode::OperationInterrupted => Problem::Fail(format!("{step} interrupted")),
        ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked => Problem::Fail(format!(
            "{step}: {msg} (a writer held it for the whole timeout)"
        )),
        _ => Problem::Fail(format!("{step}: {msg}")),
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
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Problem::Fail(format!("{} does not exist", path.display())));
        }
        Err(e) => {
            return Err(Problem::Unknown(format!(
                "cannot stat {}: {}",
                path.display(),
                crate::values::io_reason(&e)
            )));
        }
    };
    if meta.is_dir() {
        return Err(Problem::Fail(format!(
            "{} is a directory, not a database",
            path.display()
        )));
    }
    // SQLite reports an unreadable file as "unable to open database file";
    // opening it here first gives the real reason.
    if let Err(e) = std::fs::File::open(path) {
        return Err(Problem::Unknown(format!(
            "cannot read {}: {}",
            path.display(),
            crate::values::io_reason(&e)
        )));
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
        return Err(QueryError::Other(Problem::Unknown(
            "query would write to the database; opsrun only runs read-only queries (SELECT …)"
                .into(),
        )));
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
            return Err(QueryError::Other(Problem::Unknown(format!(
                "query uses parameter {}; only :today, :now and :now_unix are bound",
                unbound.join(", ")
            ))));
        }
    }
    let mut rows = stmt.raw_query();
    let Some(row) = rows.next()? else {
        return Err(QueryError::Other(Problem::Fail(
            "query returned no rows, expected one number".into(),
        )));
    };
    let n = match row.get_ref(0)? {
        ValueRef::Integer(i) => i as f64,
        ValueRef::Real(f) => f,
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            s.trim().parse::<f64>().map_err(|_| {
                QueryError::Other(Problem::Fail(format!(
                    "query returned {s:?}, expected a number"
                )))
            })?
        }
        ValueRef::Null => {
            return Err(QueryError::Other(Problem::Fail(
                "query returned NULL, expected a number".into(),
            )));
        }
        ValueRef::Blob(_) => {
            return Err(QueryError::Other(Problem::Fail(
                "query returned a blob, expected a number".into(),
            )));
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
    async fn check(&self, ctx: &Ctx) -> Outcome {
        let path: PathBuf =
            std::path::absolute(ctx.path(&self.path)).unwrap_or_else(|_| ctx.path(&self.path));
        let slot = Arc::new(Mutex::new(None));
        let guard = Interrupter(slot.clone());
        let (p, mode, query, params, busy) = (
            path.clone(),
            self.check,
            self.query.clone(),
            Params::from(&ctx.now),
            // Leaves room to report SQLite's own "database is locked"
            // before the check's timeout cuts it short.
            ctx.timeout.mul_f64(0.8),
        );
        let s = slot.clone();
        let job = tokio::task::spawn_blocking(move || {
            inspect(&p, mode, query.as_deref(), &params, busy, &s)
        });
        let res = tokio::time::timeout(ctx.timeout, job).await;
        let step = self.check.pragma().unwrap_or("query");
        let found = match res {
            Ok(Ok(Ok(f))) => {
                // Finished: the connection is closed, nothing to interrupt.
                slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                f
            }
            Ok(Ok(Err(Problem::Fail(m)))) => return Outcome::fail(m),
            Ok(Ok(Err(Problem::Unknown(m)))) => return Outcome::unknown(m),
            Ok(Err(e)) => return Outcome::unknown(format!("sqlite check failed: {e}")),
            Err(_) => {
                drop(guard);
                return Outcome::fail(format!(
                    "{step} on {} timed out after {}",
                    path.display(),
                    format_millis(ctx.timeout.as_secs_f64() * 1000.0)
                ))
                .with_value("timeout");
            }
        };
        drop(guard);
        self.evaluate(&found, &path)
    }

    fn evaluate(&self, f: &Found, path: &Path) -> Outcome {
        let size = f.size as f64;
        let mut out = Outcome::pass(match &f.integrity {
            Some(_) => "ok".to_owned(),
            None => "readable".to_owned(),
        });
        out = out.with_detail(format!(
            "{}: {}, journal_mode {}{}",
            path.display(),
            format_bytes(size),
            f.journal_mode,
            if f.wal && f.journal_mode != "wal" {
                " (WAL header)"
            } else {
                ""
            }
        ));
        if f.size == 0 {
            out.worsen(
                Status::Warn,
                format!("{} is empty (0 bytes): no tables, no data", path.display()),
            );
        }
        if let Some(lines) = &f.integrity {
            let step = self.check.pragma().unwrap_or("check");
            if lines.len() == 1 && lines[0] == "ok" {
                out = out.with_detail(format!("PRAGMA {step}: ok"));
            } else {
                let shown: Vec<&str> = lines.iter().map(String::as_str).take(3).collect();
                out.value = "corrupt".into();
                out.worsen(Status::Fail, format!("{step}: {}", shown.join("; ")));
                out.detail
                    .extend(lines.iter().map(|l| format!("{step}: {l}")));
                if lines.len() >= MAX_ERRORS {
                    out.detail.push(format!("(first {MAX_ERRORS} messages)"));
                }
            }
        }
        if let Some(n) = f.value {
            let spec = self.value.as_ref();
            let label = spec.and_then(|s| s.unit.clone()).unwrap_or_default();
            out.value = format!("{}{label}", trim_float(n, 2));
            let m = crate::values::outcome::Metric::new(n, Unit::Number);
            out.metric = Some(m.clone());
            out.metrics.insert(0, ("value".into(), m));
            if let Some(q) = &self.query {
                out.detail
                    .push(format!("query: {q} → {}", trim_float(n, 6)));
            }
            if let Some(spec) = spec {
                let th = Threshold {
                    warn: spec.warn.clone(),
                    fail: spec.fail.clone(),
                    unit: Unit::Number,
                };
                let v = th.eval(n, Direction::HigherIsWorse);
                out.worsen(
                    v.status,
                    format!("value {}{label} {}", trim_float(n, 2), v.breach),
                );
                out.threshold = Some(th);
            }
        }
        out.with_extra_metric("size", size, Unit::Bytes)
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
