//! The SQLite history store: versioned migrations (`PRAGMA user_version`),
//! WAL with `synchronous=NORMAL`, a busy timeout, and every write in an
//! immediate transaction so that concurrent runs (cron and an operator at
//! the same time) queue up instead of failing or losing rows.
//!
//! rusqlite is blocking: callers use it outside the async runtime.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde_json::{Map, Value, json};

use super::aggregation::Sample;
use super::{ResultRecord, RunRecord};
use crate::runbook::CheckRef;
use crate::values::outcome::Status;

/// How long a writer waits for another one before giving up. A run writes
/// a few dozen rows in milliseconds, so only a stuck process waits this long.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Migrations, in order; `PRAGMA user_version` is how many have been applied.
/// Never edit one that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: runs, check results, incidents.
    "CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        runbook     TEXT NOT NULL,
        title       TEXT NOT NULL,
        system      TEXT,
        host        TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        started_ms  INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        status      TEXT NOT NULL,
        n_pass      INTEGER NOT NULL,
        n_warn      INTEGER NOT NULL,
        n_fail      INTEGER NOT NULL,
        n_unknown   INTEGER NOT NULL,
        n_skip      INTEGER NOT NULL,
        interrupted INTEGER NOT NULL DEFAULT 0,
        opsrun      TEXT NOT NULL
    );
    CREATE INDEX runs_by_time ON runs(started_ms);
    CREATE INDEX runs_by_runbook ON runs(runbook, started_ms);
    CREATE TABLE results (
        run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq         INTEGER NOT NULL,
        check_id    TEXT NOT NULL,
        title       TEXT NOT NULL,
        label       TEXT NOT NULL,
        section     TEXT NOT NULL,
        kind        TEXT NOT NULL,
        hint        TEXT,
        status      TEXT NOT NULL,
        value       TEXT NOT NULL,
        metric      REAL,
        unit        TEXT,
        unit_label  TEXT NOT NULL DEFAULT '',
        metrics     TEXT NOT NULL DEFAULT '{}',
        message     TEXT NOT NULL,
        limit_ja    TEXT,
        warn_limit  REAL,
        fail_limit  REAL,
        duration_ms INTEGER NOT NULL,
        attempts    INTEGER NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX results_by_check ON results(check_id, run_id);
    CREATE TABLE incidents (
        id          INTEGER PRIMARY KEY,
        run_id      INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        level       TEXT NOT NULL,
        name        TEXT,
        runbook     TEXT NOT NULL,
        host        TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        started_ms  INTEGER NOT NULL,
        ended_at    TEXT,
        ended_ms    INTEGER,
        outcome     TEXT NOT NULL,
        summary     TEXT NOT NULL DEFAULT '',
        reporter    TEXT
    );
    CREATE INDEX incidents_by_time ON incidents(started_ms);",
];

/// Why history could not be used; the run itself is not affected.
#[derive(Debug, Clone)]
pub struct HistoryError {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for HistoryError {}

fn reason(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => format!(
            "database is locked: another process kept it busy for more than {}s",
            BUSY_TIMEOUT.as_secs()
        ),
        Some(ErrorCode::NotADatabase) => {
            "not a SQLite database (file is not a database); move it aside to start a new history"
                .into()
        }
        Some(ErrorCode::DatabaseCorrupt) => {
            "database disk image is malformed; move it aside (or `sqlite3 FILE .recover`) to start a new history"
                .into()
        }
        Some(ErrorCode::ReadOnly) => format!("cannot write: {e}"),
        Some(ErrorCode::CannotOpen) => format!("cannot open: {e}"),
        _ => e.to_string(),
    }
}

/// A history run as listed by `opsrun history`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    pub id: i64,
    pub runbook: String,
    pub title: String,
    pub host: String,
    pub started_at: DateTime<FixedOffset>,
    pub duration_ms: u64,
    pub status: Status,
    /// pass, warn, fail, unknown, skip.
    pub counts: [u32; 5],
    pub interrupted: bool,
}

/// One recorded result of one check, with what reports say about it.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleRow {
    pub runbook: String,
    pub started_at: DateTime<FixedOffset>,
    pub sample: Sample,
    pub value: String,
    pub message: String,
    pub unit: String,
    pub unit_label: String,
    pub label: String,
    pub section: String,
    pub kind: String,
    pub warn_limit: Option<f64>,
    pub fail_limit: Option<f64>,
}

/// A check seen in history over some span, in order of first appearance.
#[derive(Clone, Debug, PartialEq)]
pub struct SeenCheck {
    pub runbook: String,
    pub check_id: String,
    pub label: String,
    pub section: String,
    pub kind: String,
    pub unit: Option<String>,
}

/// An incident (`opsrun incident`), as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentRecord {
    pub run_id: Option<i64>,
    /// `p1` … `p4`.
    pub level: String,
    /// `緊急`, `重要` …
    pub name: Option<String>,
    pub runbook: String,
    pub host: String,
    pub started_at: DateTime<FixedOffset>,
    pub ended_at: Option<DateTime<FixedOffset>>,
    /// `recovered`, `unresolved`, `diagnosed` (no actions executed).
    pub outcome: String,
    pub summary: String,
    pub reporter: Option<String>,
}

/// An open history database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

fn ms(t: &DateTime<FixedOffset>) -> i64 {
    t.timestamp_millis()
}

fn parse_time(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap_or_default()
}

impl Store {
    /// Opens (creating it and its directory if needed) and migrates.
    pub fn open(path: &Path) -> Result<Store, HistoryError> {
        let err = |reason: String| HistoryError {
            path: path.to_owned(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                err(format!(
                    "cannot create directory {}: {}",
                    dir.display(),
                    crate::values::io_reason(&e)
                ))
            })?;
        }
        if path.is_dir() {
            return Err(err(
                "is a directory, expected a history database file".into()
            ));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| err(reason(&e)))?;
        Store::setup(conn, path)
    }

    /// Opens an existing database for reading reports; `None` when there is
    /// no history file yet.
    pub fn open_existing(path: &Path) -> Result<Option<Store>, HistoryError> {
        if !path.exists() {
            return Ok(None);
        }
        Store::open(path).map(Some)
    }

    fn setup(mut conn: Connection, path: &Path) -> Result<Store, HistoryError> {
        let err = |e: rusqlite::Error| HistoryError {
            path: path.to_owned(),
            reason: reason(&e),
        };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // A newer opsrun's database is left exactly as it is.
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if v > MIGRATIONS.len() as i64 {
            return Err(HistoryError {
                path: path.to_owned(),
                reason: newer(v),
            });
        }
        // Switching to WAL needs a moment of exclusive access; several
        // processes creating the file at once wait for each other here.
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::debug!("history journal mode is {mode}, not wal");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        migrate(&mut conn).map_err(|e| match e {
            MigrateError::Sql(e) => err(e),
            MigrateError::Newer(v) => HistoryError {
                path: path.to_owned(),
                reason: newer(v),
            },
        })?;
        Ok(Store {
            conn,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> HistoryError {
        HistoryError {
            path: self.path.clone(),
            reason: reason(&e),
        }
    }

    /// Records a run and its results in one immediate transaction, and
    /// drops what is older than `retention` before the run's time.
    pub fn record(
        &mut self,
        run: &RunRecord,
        retention: Option<Duration>,
    ) -> Result<i64, HistoryError> {
        self.record_inner(run, retention).map_err(|e| self.err(e))
    }

    fn record_inner(
        &mut self,
        run: &RunRecord,
        retention: Option<Duration>,
    ) -> rusqlite::Result<i64> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let c = |s| run.count(s) as i64;
        tx.execute(
            "INSERT INTO runs (runbook, title, system, host, started_at, started_ms, duration_ms,
                status, n_pass, n_warn, n_fail, n_unknown, n_skip, interrupted, opsrun)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                run.runbook,
                run.title,
                run.system,
                run.host,
                run.started_at.to_rfc3339(),
                ms(&run.started_at),
                run.duration_ms as i64,
                run.status().as_str(),
                c(Status::Pass),
                c(Status::Warn),
                c(Status::Fail),
                c(Status::Unknown),
                c(Status::Skip),
                run.interrupted,
                env!("CARGO_PKG_VERSION"),
            ],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO results (run_id, seq, check_id, title, label, section, kind, hint,
                    status, value, metric, unit, unit_label, metrics, message, limit_ja,
                    warn_limit, fail_limit, duration_ms, attempts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                    ?17, ?18, ?19, ?20)",
            )?;
            for (seq, r) in run.results.iter().enumerate() {
                let mut metrics = Map::new();
                for (name, v, unit) in &r.metrics {
                    metrics.insert(name.clone(), json!({"value": v, "unit": unit}));
                }
                stmt.execute(params![
                    id,
                    seq as i64,
                    r.check_id,
                    r.title,
                    r.label,
                    r.section,
                    r.kind,
                    r.hint,
                    r.status.as_str(),
                    r.value,
                    r.metric,
                    r.unit,
                    r.unit_label,
                    Value::Object(metrics).to_string(),
                    r.message,
                    r.limit_ja,
                    r.warn_limit,
                    r.fail_limit,
                    r.duration_ms as i64,
                    r.attempts as i64,
                ])?;
            }
        }
        if let Some(keep) = retention {
            let cutoff = ms(&run.started_at) - keep.as_millis() as i64;
            tx.execute(
                "DELETE FROM results WHERE run_id IN (SELECT id FROM runs WHERE started_ms < ?1)",
                [cutoff],
            )?;
            tx.execute(
                "UPDATE incidents SET run_id = NULL
                 WHERE run_id IN (SELECT id FROM runs WHERE started_ms < ?1)",
                [cutoff],
            )?;
            tx.execute("DELETE FROM runs WHERE started_ms < ?1", [cutoff])?;
            tx.execute("DELETE FROM incidents WHERE started_ms < ?1", [cutoff])?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// Records an incident (for `opsrun incident`).
    pub fn record_incident(&mut self, inc: &IncidentRecord) -> Result<i64, HistoryError> {
        let r = (|| -> rusqlite::Result<i64> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO incidents (run_id, level, name, runbook, host, started_at, started_ms,
                    ended_at, ended_ms, outcome, summary, reporter)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    inc.run_id,
                    inc.level,
                    inc.name,
                    inc.runbook,
                    inc.host,
                    inc.started_at.to_rfc3339(),
                    ms(&inc.started_at),
                    inc.ended_at.map(|t| t.to_rfc3339()),
                    inc.ended_at.as_ref().map(ms),
                    inc.outcome,
                    crate::secret::redact(&inc.summary),
                    inc.reporter,
                ],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(id)
        })();
        r.map_err(|e| self.err(e))
    }

    /// The latest `limit` runs in `[from, to)`, oldest first.
    pub fn runs(
        &self,
        runbook: Option<&str>,
        from: &DateTime<FixedOffset>,
        to: &DateTime<FixedOffset>,
        limit: usize,
    ) -> Result<Vec<RunRow>, HistoryError> {
        let r = (|| -> rusqlite::Result<Vec<RunRow>> {
            let mut stmt = self.conn.prepare(
                "SELECT id, runbook, title, host, started_at, duration_ms, status,
                        n_pass, n_warn, n_fail, n_unknown, n_skip, interrupted
                 FROM runs
                 WHERE (?1 IS NULL OR runbook = ?1) AND started_ms >= ?2 AND started_ms < ?3
                 ORDER BY started_ms DESC, id DESC LIMIT ?4",
            )?;
            let mut rows: Vec<RunRow> = stmt
                .query_map(params![runbook, ms(from), ms(to), limit as i64], |r| {
                    Ok(RunRow {
                        id: r.get(0)?,
                        runbook: r.get(1)?,
                        title: r.get(2)?,
                        host: r.get(3)?,
                        started_at: parse_time(&r.get::<_, String>(4)?),
                        duration_ms: r.get::<_, i64>(5)? as u64,
                        status: Status::parse(&r.get::<_, String>(6)?).unwrap_or(Status::Unknown),
                        counts: [r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?],
                        interrupted: r.get(12)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows.reverse();
            Ok(rows)
        })();
        r.map_err(|e| self.err(e))
    }

    /// The latest run of `runbook` in `[from, to)`, with its results.
    pub fn latest_run(
        &self,
        runbook: &str,
        from: &DateTime<FixedOffset>,
        to: &DateTime<FixedOffset>,
    ) -> Result<Option<RunRecord>, HistoryError> {
        self.latest_run_inner(runbook, from, to)
            .map_err(|e| self.err(e))
    }

    fn latest_run_inner(
        &self,
        runbook: &str,
        from: &DateTime<FixedOffset>,
        to: &DateTime<FixedOffset>,
    ) -> rusqlite::Result<Option<RunRecord>> {
        let head = self
            .conn
            .query_row(
                "SELECT id, runbook, title, system, host, started_at, duration_ms, interrupted
                 FROM runs WHERE runbook = ?1 AND started_ms >= ?2 AND started_ms < ?3
                 ORDER BY started_ms DESC, id DESC LIMIT 1",
                params![runbook, ms(from), ms(to)],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        RunRecord {
                            runbook: r.get(1)?,
                            title: r.get(2)?,
                            system: r.get(3)?,
                            host: r.get(4)?,
                            started_at: parse_time(&r.get::<_, String>(5)?),
                            duration_ms: r.get::<_, i64>(6)? as u64,
                            interrupted: r.get(7)?,
                            results: Vec::new(),
                        },
                    ))
                },
            )
            .optional()?;
        let Some((id, mut run)) = head else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare(
            "SELECT check_id, title, label, section, kind, hint, status, value, metric, unit,
                    unit_label, metrics, message, limit_ja, warn_limit, fail_limit, duration_ms,
                    attempts
             FROM results WHERE run_id = ?1 ORDER BY seq",
        )?;
        run.results = stmt
            .query_map([id], |r| {
                Ok(ResultRecord {
                    check_id: r.get(0)?,
                    title: r.get(1)?,
                    label: r.get(2)?,
                    section: r.get(3)?,
                    kind: r.get(4)?,
                    hint: r.get(5)?,
                    status: Status::parse(&r.get::<_, String>(6)?).unwrap_or(Status::Unknown),
                    value: r.get(7)?,
                    metric: r.get(8)?,
                    unit: r.get(9)?,
                    unit_label: r.get(10)?,
                    metrics: parse_metrics(&r.get::<_, String>(11)?),
                    message: r.get(12)?,
                    limit_ja: r.get(13)?,
                    warn_limit: r.get(14)?,
                    fail_limit: r.get(15)?,
                    duration_ms: r.get::<_, i64>(16)? as u64,
                    attempts: r.get::<_, i64>(17)? as u32,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Some(run))
    }

    /// Every recorded (not skipped) result of `check` in `[from, to)`,
    /// oldest first; the value is the named `metric` or the headline one.
    pub fn samples(
        &self,
        check: &CheckRef,
        metric: Option<&str>,
        from: &DateTime<FixedOffset>,
        to: &DateTime<FixedOffset>,
    ) -> Result<Vec<SampleRow>, HistoryError> {
        self.samples_inner(check, metric, ms(from), ms(to))
            .map_err(|e| self.err(e))
    }

    fn samples_inner(
        &self,
        check: &CheckRef,
        metric: Option<&str>,
        from: i64,
        to: i64,
    ) -> rusqlite::Result<Vec<SampleRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.runbook, r.started_at, r.started_ms, x.status, x.metric, x.unit,
                    x.unit_label, x.metrics, x.label, x.section, x.kind, x.warn_limit,
                    x.fail_limit, x.value, x.message
             FROM results x JOIN runs r ON r.id = x.run_id
             WHERE x.check_id = ?1 AND (?2 IS NULL OR r.runbook = ?2)
               AND r.started_ms >= ?3 AND r.started_ms < ?4 AND x.status != 'skip'
             ORDER BY r.started_ms, r.id",
        )?;
        let rows = stmt.query_map(params![check.id, check.runbook, from, to], |r| {
            let headline: Option<f64> = r.get(4)?;
            let unit: Option<String> = r.get(5)?;
            let metrics_json: String = r.get(7)?;
            let (value, unit) = match metric {
                None => (headline, unit.unwrap_or_default()),
                Some(name) => parse_metrics(&metrics_json)
                    .into_iter()
                    .find(|(n, _, _)| n == name)
                    .map(|(_, v, u)| (Some(v), u))
                    .unwrap_or((None, String::new())),
            };
            Ok(SampleRow {
                runbook: r.get(0)?,
                started_at: parse_time(&r.get::<_, String>(1)?),
                sample: Sample {
                    ms: r.get(2)?,
                    status: Status::parse(&r.get::<_, String>(3)?).unwrap_or(Status::Unknown),
                    value,
                },
                unit,
                unit_label: r.get(6)?,
                label: r.get(8)?,
                section: r.get(9)?,
                kind: r.get(10)?,
                warn_limit: r.get(11)?,
                fail_limit: r.get(12)?,
                value: r.get(13)?,
                message: r.get(14)?,
            })
        })?;
        rows.collect()
    }

    /// The latest sample of `check` before `before` (for uptime carried
    /// into a period).
    pub fn sample_before(
        &self,
        check: &CheckRef,
        before: &DateTime<FixedOffset>,
        lookback: Duration,
    ) -> Result<Option<SampleRow>, HistoryError> {
        let to = ms(before);
        let from = to - lookback.as_millis() as i64;
        // The lookback is short (one max_gap), so this reads few rows.
        self.samples_inner(check, None, from, to)
            .map(|mut v| v.pop())
            .map_err(|e| self.err(e))
    }

    /// Checks recorded in `[from, to)`, by first appearance, with their
    /// latest label, section, kind and unit.
    pub fn checks_seen(
        &self,
        from: &DateTime<FixedOffset>,
        to: &DateTime<FixedOffset>,
    ) -> Result<Vec<SeenCheck>, HistoryError> {
        let r = (|| -> rusqlite::Result<Vec<SeenCheck>> {
            let mut stmt = self.conn.prepare(
                "SELECT r.runbook, x.check_id, MAX(x.run_id)
                 FROM results x JOIN runs r ON r.id = x.run_id
                 WHERE r.started_ms >= ?1 AND r.started_ms < ?2 AND x.status != 'skip'
                 GROUP BY r.runbook, x.check_id
                 ORDER BY MIN(r.started_ms), MIN(x.seq)",
            )?;
            let keys: Vec<(String, String, i64)> = stmt
                .query_map(params![ms(from), ms(to)], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut info = self.conn.prepare_cached(
                "SELECT label, section, kind, unit FROM results WHERE run_id = ?1 AND check_id = ?2",
            )?;
            keys.into_iter()
                .map(|(runbook, check_id, run_id)| {
                    info.query_row(params![run_id, check_id], |r| {
                        Ok(SeenCheck {
                            runbook: runbook.clone(),
                            check_id: check_id.clone(),
                            label: r.get(0)?,
                            section: r.get(1)?,
                            kind: r.get(2)?,
                            unit: r.get(3)?,
                        })
                    })
                })
                .collect()
        })();
        r.map_err(|e| self.err(e))
    }

    /// Incidents that started in `[from, to)`, oldest first.
    pub fn incidents(
        &self,
        from: &DateTime<FixedOffset>,
        to: &DateTime<FixedOffset>,
    ) -> Result<Vec<IncidentRecord>, HistoryError> {
        let r = (|| -> rusqlite::Result<Vec<IncidentRecord>> {
            let mut stmt = self.conn.prepare(
                "SELECT run_id, level, name, runbook, host, started_at, ended_at, outcome,
                        summary, reporter
                 FROM incidents WHERE started_ms >= ?1 AND started_ms < ?2
                 ORDER BY started_ms, id",
            )?;
            stmt.query_map(params![ms(from), ms(to)], |r| {
                Ok(IncidentRecord {
                    run_id: r.get(0)?,
                    level: r.get(1)?,
                    name: r.get(2)?,
                    runbook: r.get(3)?,
                    host: r.get(4)?,
                    started_at: parse_time(&r.get::<_, String>(5)?),
                    ended_at: r.get::<_, Option<String>>(6)?.map(|s| parse_time(&s)),
                    outcome: r.get(7)?,
                    summary: r.get(8)?,
                    reporter: r.get(9)?,
                })
            })?
            .collect()
        })();
        r.map_err(|e| self.err(e))
    }
}

fn newer(v: i64) -> String {
    format!(
        "written by a newer opsrun (schema version {v}; this one knows up to {}); it is left untouched",
        MIGRATIONS.len()
    )
}

/// The metrics each check of `runbook` recorded in its latest non-skipped
/// result, for kinds that report a change since the previous run
/// (`postgres` deadlocks). Read-only and quick: a locked or unreadable
/// history gives an empty map rather than delaying the run.
pub fn previous_metrics(path: &Path, runbook: &str) -> HashMap<String, HashMap<String, f64>> {
    let mut out = HashMap::new();
    if !path.exists() {
        return out;
    }
    let Ok(conn) = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) else {
        return out;
    };
    let _ = conn.busy_timeout(std::time::Duration::from_millis(200));
    let sql = "SELECT r.check_id, r.metrics FROM results r JOIN runs u ON u.id = r.run_id
               WHERE u.runbook = ?1 AND r.status != 'skip'
                 AND u.id = (SELECT MAX(u2.id) FROM runs u2 JOIN results r2 ON r2.run_id = u2.id
                             WHERE u2.runbook = ?1 AND r2.check_id = r.check_id AND r2.status != 'skip')";
    let Ok(mut stmt) = conn.prepare(sql) else {
        return out;
    };
    let rows = stmt.query_map([runbook], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    });
    if let Ok(rows) = rows {
        for (id, metrics) in rows.flatten() {
            let m: HashMap<String, f64> = parse_metrics(&metrics)
                .into_iter()
                .map(|(n, v, _)| (n, v))
                .collect();
            out.insert(id, m);
        }
    }
    out
}

/// The status of the latest completed (not interrupted) run of `runbook`,
/// for "recovered" notifications. Read-only and quick like
/// [`previous_metrics`]: a missing, locked or unreadable history is `None`.
pub fn last_status(path: &Path, runbook: &str) -> Option<Status> {
    if !path.exists() {
        return None;
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    let _ = conn.busy_timeout(std::time::Duration::from_millis(200));
    conn.query_row(
        "SELECT status FROM runs WHERE runbook = ?1 AND interrupted = 0 ORDER BY id DESC LIMIT 1",
        [runbook],
        |r| r.get::<_, String>(0),
    )
    .ok()
    .and_then(|s| Status::parse(&s))
}

fn parse_metrics(s: &str) -> Vec<(String, f64, String)> {
    let Ok(Value::Object(m)) = serde_json::from_str::<Value>(s) else {
        return Vec::new();
    };
    m.into_iter()
        .filter_map(|(k, v)| {
            Some((
                k,
                v.get("value")?.as_f64()?,
                v.get("unit")?.as_str().unwrap_or("").to_owned(),
            ))
        })
        .collect()
}

enum MigrateError {
    Sql(rusqlite::Error),
    Newer(i64),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sql(e)
    }
}

/// Applies the migrations not yet applied. The version is read again
/// inside the write transaction: another process may have migrated while
/// this one waited for the lock.
fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    let latest = MIGRATIONS.len() as i64;
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if v == latest {
        return Ok(());
    }
    if v > latest {
        return Err(MigrateError::Newer(v));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let v: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if v > latest {
        return Err(MigrateError::Newer(v));
    }
    for sql in &MIGRATIONS[v as usize..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", latest)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(at: &str, status: Status, metric: Option<f64>) -> RunRecord {
        RunRecord {
            runbook: "daily".into(),
            title: "日次点検".into(),
            system: None,
            host: "h".into(),
            started_at: DateTime::parse_from_rfc3339(at).unwrap(),
            duration_ms: 12,
            interrupted: false,
            results: vec![ResultRecord {
                check_id: "disk".into(),
                title: "ディスク".into(),
                label: "ディスク使用率".into(),
                section: "リソース使用状況".into(),
                kind: "disk".into(),
                hint: None,
                status,
                value: "65%".into(),
                metric,
                unit: Some("%".into()),
                unit_label: String::new(),
                metrics: vec![("used".into(), metric.unwrap_or(0.0), "%".into())],
                message: String::new(),
                limit_ja: None,
                warn_limit: Some(80.0),
                fail_limit: Some(90.0),
                duration_ms: 3,
                attempts: 1,
            }],
        }
    }

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn last_status_skips_interrupted_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        assert_eq!(last_status(&path, "daily"), None);
        let mut s = Store::open(&path).unwrap();
        s.record(&run("2025-10-21T09:00:00+09:00", Status::Fail, None), None)
            .unwrap();
        let mut cut = run("2025-10-21T10:00:00+09:00", Status::Pass, None);
        cut.interrupted = true;
        s.record(&cut, None).unwrap();
        assert_eq!(last_status(&path, "daily"), Some(Status::Fail));
        assert_eq!(last_status(&path, "weekly"), None);
    }

    #[test]
    fn record_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/h.db");
        let mut s = Store::open(&path).unwrap();
        let r = run("2025-10-21T09:00:00+09:00", Status::Pass, Some(65.0));
        s.record(&r, None).unwrap();
        s.record(
            &run("2025-10-22T09:00:00+09:00", Status::Warn, Some(85.0)),
            None,
        )
        .unwrap();
        let from = t("2025-10-01T00:00:00+09:00");
        let to = t("2025-11-01T00:00:00+09:00");
        let got = s.latest_run("daily", &from, &to).unwrap().unwrap();
        assert_eq!(got.results[0].metric, Some(85.0));
        let got = s
            .latest_run("daily", &from, &t("2025-10-22T00:00:00+09:00"))
            .unwrap()
            .unwrap();
        assert_eq!(got, r);
        let cr = CheckRef::parse("daily/disk").unwrap();
        let xs = s.samples(&cr, Some("used"), &from, &to).unwrap();
        assert_eq!(xs.len(), 2);
        assert_eq!(xs[1].sample.value, Some(85.0));
        assert_eq!(xs[1].sample.status, Status::Warn);
        assert_eq!(s.runs(None, &from, &to, 1).unwrap().len(), 1);
        assert_eq!(
            s.checks_seen(&from, &to).unwrap()[0].label,
            "ディスク使用率"
        );
        // Opening again does not migrate twice.
        drop(s);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.runs(Some("daily"), &from, &to, 10).unwrap().len(), 2);
    }

    #[test]
    fn retention_drops_old_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("h.db")).unwrap();
        let keep = Some(Duration::from_secs(400 * 86400));
        s.record(
            &run("2024-01-01T09:00:00+09:00", Status::Pass, Some(1.0)),
            keep,
        )
        .unwrap();
        s.record(
            &run("2025-10-21T09:00:00+09:00", Status::Pass, Some(2.0)),
            keep,
        )
        .unwrap();
        let all = s
            .runs(
                None,
                &t("2000-01-01T00:00:00Z"),
                &t("2100-01-01T00:00:00Z"),
                100,
            )
            .unwrap();
        assert_eq!(all.len(), 1);
        let n: i64 = s
            .conn
            .query_row("SELECT COUNT(*) FROM results", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn incidents_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("h.db")).unwrap();
        let inc = IncidentRecord {
            run_id: None,
            level: "p2".into(),
            name: Some("重要".into()),
            runbook: "incident-p2".into(),
            host: "h".into(),
            started_at: t("2025-10-15T10:23:00+09:00"),
            ended_at: Some(t("2025-10-15T10:36:00+09:00")),
            outcome: "recovered".into(),
            summary: "OpenAI APIタイムアウト".into(),
            reporter: Some("運用担当者A".into()),
        };
        s.record_incident(&inc).unwrap();
        let got = s
            .incidents(
                &t("2025-10-01T00:00:00+09:00"),
                &t("2025-11-01T00:00:00+09:00"),
            )
            .unwrap();
        assert_eq!(got, vec![inc]);
    }

    #[test]
    fn newer_schema_and_garbage_are_refused_with_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.db");
        drop(Store::open(&p).unwrap());
        let c = Connection::open(&p).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let e = Store::open(&p).err().unwrap();
        assert!(e.reason.contains("newer opsrun"), "{e}");
        let g = dir.path().join("g.db");
        std::fs::write(&g, vec![b'x'; 8192]).unwrap();
        let e = Store::open(&g).err().unwrap();
        assert!(e.reason.contains("not a SQLite database"), "{e}");
    }
}
