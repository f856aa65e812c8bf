//! Silences (SPEC §10.4): maintenance windows an operator opens from the
//! command line (`opsrun silence add --for 2h --reason …`), kept in the
//! history database so every later run on the host sees them — a cron
//! run, the timer, another operator's `opsrun daily`.

use std::path::Path;

use rusqlite::params;

use super::store::{HistoryError, Store};
use crate::spec::maintenance::Window;

/// One recorded silence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Silence {
    pub id: i64,
    pub created_ms: i64,
    pub window: Window,
    pub author: String,
}

fn err(path: &Path, e: rusqlite::Error) -> HistoryError {
    HistoryError {
        path: path.to_owned(),
        reason: super::store::reason(&e),
    }
}

/// Records a silence and returns its id.
pub fn add(path: &Path, w: &Window, author: &str, now_ms: i64) -> Result<i64, HistoryError> {
    let store = Store::open(path)?;
    let checks = w.checks.as_ref().map(|c| c.join(","));
    store
        .conn
        .execute(
            "INSERT INTO silences (created_ms, from_ms, to_ms, runbook, checks, reason, author)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                now_ms, w.from_ms, w.to_ms, w.runbook, checks, w.reason, author
            ],
        )
        .map_err(|e| err(path, e))?;
    Ok(store.conn.last_insert_rowid())
}

/// Removes silence `id`; `false` when there is none with that id.
pub fn remove(path: &Path, id: i64) -> Result<bool, HistoryError> {
    let Some(store) = Store::open_existing(path)? else {
        return Ok(false);
    };
    let n = store
        .conn
        .execute("DELETE FROM silences WHERE id = ?1", [id])
        .map_err(|e| err(path, e))?;
    Ok(n > 0)
}

/// Silences that have not ended at `now_ms` (with `all`, every one),
/// oldest first.
pub fn list(path: &Path, now_ms: i64, all: bool) -> Result<Vec<Silence>, HistoryError> {
    let Some(store) = Store::open_existing(path)? else {
        return Ok(Vec::new());
    };
    let mut stmt = store
        .conn
        .prepare(
            "SELECT id, created_ms, from_ms, to_ms, runbook, checks, reason, author
             FROM silences WHERE ?1 OR to_ms > ?2 ORDER BY from_ms, id",
        )
        .map_err(|e| err(path, e))?;
    let rows = stmt
        .query_map(params![all, now_ms], |r| {
            Ok(Silence {
                id: r.get(0)?,
                created_ms: r.get(1)?,
                window: Window {
                    from_ms: r.get(2)?,
                    to_ms: r.get(3)?,
                    runbook: r.get(4)?,
                    checks: r
                        .get::<_, Option<String>>(5)?
                        .map(|c| c.split(',').map(str::to_owned).collect()),
                    reason: r.get(6)?,
                },
                author: r.get(7)?,
            })
        })
        .map_err(|e| err(path, e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| err(path, e))
}

/// The windows of the silences in force at `now_ms`, for a run: one
/// read-only query (a run must not pay for opening the store twice). A
/// history that cannot be read, or predates silences, silences nothing.
pub fn active(path: &Path, now_ms: i64) -> Vec<Window> {
    if !path.exists() {
        return Vec::new();
    }
    let read = || -> rusqlite::Result<Vec<Window>> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_millis(500))?;
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if v < 5 {
            return Ok(Vec::new());
        }
        let mut stmt = conn.prepare(
            "SELECT from_ms, to_ms, runbook, checks, reason FROM silences
             WHERE from_ms <= ?1 AND to_ms > ?1",
        )?;
        stmt.query_map([now_ms], |r| {
            Ok(Window {
                from_ms: r.get(0)?,
                to_ms: r.get(1)?,
                runbook: r.get(2)?,
                checks: r
                    .get::<_, Option<String>>(3)?
                    .map(|c| c.split(',').map(str::to_owned).collect()),
                reason: r.get(4)?,
            })
        })?
        .collect()
    };
    read().unwrap_or_default()
}
