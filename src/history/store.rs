//! The SQLite history store: versioned migrations (`PRAGMA user_version`,
//! see `schema.rs`), WAL with `synchronous=NORMAL`, a busy timeout, and
//! every write in an immediate transaction so that concurrent runs (cron
//! and an operator at the same time) queue up instead of failing or
//! losing rows.
//!
//! Every read is a range of an index: a check's results over a period
//! (`results` is clustered by series and time), a runbook's runs by time,
//! a run's results by `(series, time, run)`. Retention deletes in short
//! batches after the run is committed, and incremental vacuum gives the
//! freed pages back to the file system.
//!
//! rusqlite is blocking: callers use it outside the async runtime.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, TimeZone};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::aggregation::{FitSums, Sample, Tally};
use super::schema::{self, Ids, Version};
use super::{ResultRecord, RunRecord, stop};
use crate::runbook::CheckRef;
use crate::values::outcome::Status;

pub use super::incidents::IncidentRecord;
pub use super::lookback::{last_status, previous_metrics};

/// How long a writer waits for another one before giving up. A run writes
/// a few dozen rows in milliseconds, so only a stuck process waits this long.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Retention deletes at most this many runs (and their results) per
/// transaction, so other writers wait milliseconds, not seconds…
const PRUNE_BATCH: i64 = 500;
/// …and stops after this long; the rest goes with the next runs.
const PRUNE_BUDGET: Duration = Duration::from_millis(250);
/// Free pages given back to the file system per run (16 MiB at 4 KiB).
const VACUUM_PAGES: i64 = 4096;

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

pub(crate) fn reason(e: &rusqlite::Error) -> String {
    let code = e.sqlite_error_code();
    if stop::requested()
        && matches!(
            code,
            Some(
                ErrorCode::OperationInterrupted
                    | ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
            )
        )
    {
        return "interrupted by a signal before it was written".into();
    }
    match code {
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
    /// The incident this run diagnosed (`opsrun incident`), and where it
    /// stands now: a recovered incident's first diagnosis failed, but the
    /// listing says recovered.
    pub incident: Option<(i64, super::incidents::State)>,
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

/// How a check's numbers over a span read for a report: the samples, and
/// what the check was called and measured in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    pub samples: Vec<Sample>,
    /// Of the latest sample with a value.
    pub last_valued: Option<Meta>,
    /// Of the latest sample.
    pub last: Option<Meta>,
}

/// A check's [`Tally`] per day of a span, and what it was called.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tallied {
    pub days: Vec<Tally>,
    /// Of the latest result with a value.
    pub last_valued: Option<Meta>,
    /// Of the latest result.
    pub last: Option<Meta>,
}

/// A check's words and units, from its version.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    pub label: String,
    pub unit: String,
    pub unit_label: String,
    pub warn_limit: Option<f64>,
    pub fail_limit: Option<f64>,
}

/// An open history database.
pub struct Store {
    pub(super) conn: Connection,
    path: PathBuf,
    ids: Ids,
    versions: RefCell<HashMap<i64, Arc<Version>>>,
}

pub(super) fn ms(t: &DateTime<FixedOffset>) -> i64 {
    t.timestamp_millis()
}

/// The instant `ms` as seen at `offset` seconds east of UTC.
pub(super) fn at(ms: i64, offset: i64) -> DateTime<FixedOffset> {
    let tz = FixedOffset::east_opt(offset as i32)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
    tz.timestamp_millis_opt(ms).single().unwrap_or_default()
}

// The queries reports and `opsrun history` run; each is checked for its
// plan in `lookback.rs`'s tests.
pub(crate) const SERIES_OF: &str = "SELECT id, runbook FROM series WHERE check_id = ?1 AND (?2 IS NULL OR runbook = ?2) ORDER BY id";
pub(crate) const SAMPLES: &str =
    "SELECT started_ms, status, metric, vals, version_id, maint_until_ms
     FROM results
     WHERE series_id = ?1 AND started_ms >= ?2 AND started_ms < ?3 AND status != 4
     ORDER BY started_ms, run_id, seq";
pub(crate) const SAMPLE_ROWS: &str =
    "SELECT x.started_ms, x.status, x.metric, x.vals, x.version_id,
        x.value, x.message, r.utc_offset, x.maint_until_ms
     FROM results x JOIN runs r ON r.id = x.run_id
     WHERE x.series_id = ?1 AND x.started_ms >= ?2 AND x.started_ms < ?3 AND x.status != 4
     ORDER BY x.started_ms, x.run_id, x.seq";
pub(crate) const SAMPLE_BEFORE: &str =
    "SELECT started_ms, status, metric, vals, version_id, maint_until_ms FROM results
     WHERE series_id = ?1 AND started_ms >= ?2 AND started_ms < ?3 AND status != 4
     ORDER BY started_ms DESC, run_id DESC, seq DESC LIMIT 1";
pub(crate) const FIRST_IN: &str = "SELECT started_ms, seq FROM results
     WHERE series_id = ?1 AND started_ms >= ?2 AND started_ms < ?3 AND status != 4
     ORDER BY started_ms, run_id, seq LIMIT 1";
pub(crate) const RUNS_ALL: &str =
    "SELECT r.id, r.runbook, c.title, c.host, r.started_ms, r.utc_offset,
        r.duration_ms, r.status, r.n_pass, r.n_warn, r.n_fail, r.n_unknown, r.n_skip, r.interrupted,
        i.id, i.recovered_ms, i.closed_ms
     FROM runs r JOIN run_contexts c ON c.id = r.context_id
          LEFT JOIN incident_calls k ON k.run_id = r.id
          LEFT JOIN incidents i ON i.id = k.incident_id
     WHERE r.started_ms >= ?2 AND r.started_ms < ?3
     ORDER BY r.started_ms DESC, r.id DESC LIMIT ?4";
pub(crate) const RUNS_OF: &str =
    "SELECT r.id, r.runbook, c.title, c.host, r.started_ms, r.utc_offset,
        r.duration_ms, r.status, r.n_pass, r.n_warn, r.n_fail, r.n_unknown, r.n_skip, r.interrupted,
        i.id, i.recovered_ms, i.closed_ms
     FROM runs r JOIN run_contexts c ON c.id = r.context_id
          LEFT JOIN incident_calls k ON k.run_id = r.id
          LEFT JOIN incidents i ON i.id = k.incident_id
     WHERE r.runbook = ?1 AND r.started_ms >= ?2 AND r.started_ms < ?3
     ORDER BY r.started_ms DESC, r.id DESC LIMIT ?4";
pub(crate) const LATEST_RUN: &str = "SELECT r.id, r.started_ms, r.utc_offset, r.duration_ms,
        r.interrupted, c.title, c.system, c.host
     FROM runs r JOIN run_contexts c ON c.id = r.context_id
     WHERE r.runbook = ?1 AND r.started_ms >= ?2 AND r.started_ms < ?3
     ORDER BY r.started_ms DESC, r.id DESC LIMIT 1";
pub(crate) const RUN_RESULTS: &str =
    "SELECT x.seq, x.version_id, x.status, x.value, x.metric, x.vals,
        x.message, x.limit_ja, x.duration_ms, x.attempts, x.message_ja
     FROM series s JOIN results x
          ON x.series_id = s.id AND x.started_ms = ?2 AND x.run_id = ?3
     WHERE s.runbook = ?1";
/// One day of a check's headline numbers, added up by SQLite over the
/// day's index range (reports read 30 rows a month, not 43,000 samples).
/// Status codes: 0 pass, 1 warn, 2 fail, 3 unknown, 4 skip.
pub(crate) const DAY_TALLY: &str =
    "SELECT COUNT(metric), TOTAL(metric), MIN(metric), MAX(metric), TOTAL(status < 2), TOTAL(status < 3)
     FROM results WHERE series_id = ?1 AND started_ms >= ?2 AND started_ms < ?3 AND status != 4";
/// The latest result with a headline value in a span.
pub(crate) const LAST_VALUED: &str = "SELECT started_ms, metric, version_id FROM results
     WHERE series_id = ?1 AND started_ms >= ?2 AND started_ms < ?3 AND status != 4
       AND metric IS NOT NULL
     ORDER BY started_ms DESC, run_id DESC, seq DESC LIMIT 1";
/// The sums of a least-squares line through a span's headline values,
/// `x` in days from `?4`.
pub(crate) const FIT_SUMS: &str =
    "SELECT COUNT(*), TOTAL(x), TOTAL(metric), TOTAL(x * x), TOTAL(x * metric), MIN(started_ms)
     FROM (SELECT (started_ms - ?4) / 86400000.0 AS x, metric, started_ms FROM results
           WHERE series_id = ?1 AND started_ms >= ?2 AND started_ms < ?3 AND status != 4
             AND metric IS NOT NULL)";
const ALL_SERIES: &str = "SELECT id, runbook, check_id FROM series ORDER BY id";

impl Store {
    /// Opens (creating it and its directory if needed) and migrates.
    pub fn open(path: &Path) -> Result<Store, HistoryError> {
        let err = |reason: String| HistoryError {
            path: path.to_owned(),
            reason,
        };
        let dir = crate::values::io::dir_of(path);
        if !dir.is_dir() {
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
        if stop::requested() {
            return Err(HistoryError {
                path: path.to_owned(),
                reason: "interrupted".into(),
            });
        }
        stop::guard(&mut conn, BUSY_TIMEOUT).map_err(err)?;
        // A newer opsrun's database is left exactly as it is.
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if v > schema::VERSION {
            return Err(HistoryError {
                path: path.to_owned(),
                reason: newer(v),
            });
        }
        if v == 0 {
            // Only a database without tables takes this; older ones get it
            // by the VACUUM after their migration.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(err)?;
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
        // The last connection to close would otherwise checkpoint the WAL
        // into the database and delete it: two fsyncs and a directory
        // fsync to create it again, on every cron probe — most of what
        // history added to a run. SQLite still checkpoints when the WAL
        // reaches 1000 pages (`wal_autocheckpoint`), once every few dozen
        // runs; the `-wal` file stays beside the database (copy the
        // history with `sqlite3 history.db .backup`, not `cp`).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(err)?;
        // Migrations run without foreign keys (SQLite's rule for
        // rebuilding tables): renaming `runs` must not rewrite the
        // reference `incidents` has to it.
        conn.pragma_update(None, "foreign_keys", "OFF")
            .map_err(err)?;
        let migrated_from = migrate(&mut conn).map_err(|e| match e {
            MigrateError::Sql(e) => err(e),
            MigrateError::Newer(v) => HistoryError {
                path: path.to_owned(),
                reason: newer(v),
            },
        })?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        if migrated_from.is_some_and(|v| v > 0) {
            compact(&conn);
        }
        Ok(Store {
            conn,
            path: path.to_owned(),
            ids: Ids::default(),
            versions: RefCell::new(HashMap::new()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn err(&self, e: rusqlite::Error) -> HistoryError {
        HistoryError {
            path: self.path.clone(),
            reason: reason(&e),
        }
    }

    /// Records a run and its results in one immediate transaction; then,
    /// outside it, drops what is older than `retention` before the run's
    /// time (in short batches, see [`Store::prune`]).
    pub fn record(
        &mut self,
        run: &RunRecord,
        retention: Option<Duration>,
    ) -> Result<i64, HistoryError> {
        let id = self
            .record_all(std::slice::from_ref(run))
            .map_err(|e| self.err(e))?[0];
        if let Some(keep) = retention {
            let cutoff = ms(&run.started_at) - keep.as_millis() as i64;
            if let Err(e) = self.prune(cutoff) {
                // The run is recorded; what is left goes with the next one.
                tracing::debug!("history retention: {e}");
            }
        }
        Ok(id)
    }

    /// Records `runs` in one immediate transaction; their ids.
    pub fn record_all(&mut self, runs: &[RunRecord]) -> rusqlite::Result<Vec<i64>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut out = Vec::with_capacity(runs.len());
        for run in runs {
            let c = |s| run.count(s) as i64;
            let context = self.ids.context(
                &tx,
                &run.title,
                run.system.as_deref(),
                &run.host,
                env!("CARGO_PKG_VERSION"),
            )?;
            let started = ms(&run.started_at);
            let status = schema::status_code(run.status());
            tx.prepare_cached(
                "INSERT INTO runs (runbook, context_id, started_ms, utc_offset, duration_ms,
                    status, n_pass, n_warn, n_fail, n_unknown, n_skip, interrupted, scope)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                run.runbook,
                context,
                started,
                i64::from(run.started_at.offset().local_minus_utc()),
                run.duration_ms as i64,
                status,
                c(Status::Pass),
                c(Status::Warn),
                c(Status::Fail),
                c(Status::Unknown),
                c(Status::Skip),
                run.interrupted,
                run.system,
            ])?;
            let id = tx.last_insert_rowid();
            schema::insert_results(
                &tx,
                &mut self.ids,
                id,
                &run.runbook,
                started,
                run.results.iter().enumerate(),
                schema::ResultColumns::Current,
            )?;
            if !run.interrupted {
                schema::note_run(&tx, &run.runbook, id, started, status)?;
            }
            out.push(id);
        }
        tx.commit()?;
        Ok(out)
    }

    /// Deletes runs, results and incidents that started before `cutoff`
    /// (unix ms): at most [`PRUNE_BATCH`] runs per transaction and for at
    /// most [`PRUNE_BUDGET`], then gives up to [`VACUUM_PAGES`] free pages
    /// back. Returns how many runs went.
    pub fn prune(&mut self, cutoff: i64) -> rusqlite::Result<usize> {
        let started = Instant::now();
        let mut total = 0;
        let series: Vec<i64> = self
            .conn
            .prepare_cached("SELECT id FROM series")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        loop {
            if stop::requested() || started.elapsed() >= PRUNE_BUDGET {
                break;
            }
            let bound: Option<i64> = self
                .conn
                .prepare_cached(
                    "SELECT started_ms FROM runs WHERE started_ms < ?1
                     ORDER BY started_ms LIMIT 1 OFFSET ?2",
                )?
                .query_row(params![cutoff, PRUNE_BATCH - 1], |r| r.get(0))
                .optional()?;
            let cut = bound.map(|b| (b + 1).min(cutoff)).unwrap_or(cutoff);
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            for s in &series {
                tx.prepare_cached("DELETE FROM results WHERE series_id = ?1 AND started_ms < ?2")?
                    .execute(params![s, cut])?;
            }
            let n = tx
                .prepare_cached("DELETE FROM runs WHERE started_ms < ?1")?
                .execute([cut])?;
            tx.prepare_cached("DELETE FROM latest WHERE started_ms < ?1")?
                .execute([cut])?;
            tx.prepare_cached("DELETE FROM latest_runs WHERE started_ms < ?1")?
                .execute([cut])?;
            // An incident still open stays, however old.
            tx.prepare_cached(
                "DELETE FROM incident_calls WHERE incident_id IN
                    (SELECT id FROM incidents WHERE opened_ms < ?1 AND closed_ms IS NOT NULL)",
            )?
            .execute([cut])?;
            tx.prepare_cached(
                "DELETE FROM incidents WHERE opened_ms < ?1 AND closed_ms IS NOT NULL",
            )?
            .execute([cut])?;
            tx.commit()?;
            total += n;
            if bound.is_none() {
                break;
            }
        }
        let free: i64 = self
            .conn
            .pragma_query_value(None, "freelist_count", |r| r.get(0))?;
        if free > 0 && !stop::requested() {
            self.conn.execute_batch(&format!(
                "PRAGMA incremental_vacuum({})",
                free.min(VACUUM_PAGES)
            ))?;
        }
        Ok(total)
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
            let mut stmt = self
                .conn
                .prepare(if runbook.is_some() { RUNS_OF } else { RUNS_ALL })?;
            let mut rows: Vec<RunRow> = stmt
                .query_map(params![runbook, ms(from), ms(to), limit as i64], |r| {
                    Ok(RunRow {
                        id: r.get(0)?,
                        runbook: r.get(1)?,
                        title: r.get(2)?,
                        host: r.get(3)?,
                        started_at: at(r.get(4)?, r.get(5)?),
                        duration_ms: r.get::<_, i64>(6)? as u64,
                        status: schema::status_from(r.get(7)?),
                        counts: [r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?],
                        interrupted: r.get(13)?,
                        incident: r.get::<_, Option<i64>>(14)?.map(|id| {
                            use super::incidents::State;
                            let state =
                                match (r.get::<_, Option<i64>>(15), r.get::<_, Option<i64>>(16)) {
                                    (_, Ok(Some(_))) => State::Closed,
                                    (Ok(Some(_)), _) => State::Recovered,
                                    _ => State::Open,
                                };
                            (id, state)
                        }),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows.reverse();
            Ok(rows)
        })();
        r.map_err(|e| self.err(e))
    }

    /// A check version, read once per store.
    fn version(&self, id: i64) -> rusqlite::Result<Arc<Version>> {
        if let Some(v) = self.versions.borrow().get(&id) {
            return Ok(v.clone());
        }
        let v = Arc::new(
            schema::read_version(&self.conn, id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?,
        );
        self.versions.borrow_mut().insert(id, v.clone());
        Ok(v)
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
            .query_row(LATEST_RUN, params![runbook, ms(from), ms(to)], |r| {
                let started: i64 = r.get(1)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    started,
                    RunRecord {
                        runbook: runbook.to_owned(),
                        title: r.get(5)?,
                        system: r.get(6)?,
                        host: r.get(7)?,
                        started_at: at(started, r.get(2)?),
                        duration_ms: r.get::<_, i64>(3)? as u64,
                        interrupted: r.get(4)?,
                        results: Vec::new(),
                    },
                ))
            })
            .optional()?;
        let Some((id, started, mut run)) = head else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(RUN_RESULTS)?;
        let mut rows = stmt.query(params![runbook, started, id])?;
        let mut results = Vec::new();
        while let Some(r) = rows.next()? {
            let v = self.version(r.get(1)?)?;
            let metric: Option<f64> = r.get(4)?;
            let vals: Option<Vec<u8>> = r.get(5)?;
            let status = schema::status_from(r.get(2)?);
            results.push((
                r.get::<_, i64>(0)?,
                ResultRecord {
                    check_id: v.check_id.clone(),
                    title: v.title.clone(),
                    label: v.label.clone(),
                    section: v.section.clone(),
                    kind: v.kind.clone(),
                    hint: v.hint.clone(),
                    status,
                    value: r.get(3)?,
                    metric,
                    unit: v.unit.clone(),
                    unit_label: v.unit_label.clone(),
                    metrics: v.metrics_of(metric, vals.as_deref()),
                    message: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                    message_ja: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                    limit_ja: r.get(7)?,
                    warn_limit: v.warn_limit,
                    fail_limit: v.fail_limit,
                    duration_ms: r.get::<_, i64>(8)? as u64,
                    attempts: r.get::<_, i64>(9)? as u32,
                    // Not stored: the message says what a held result saw.
                    observed: None,
                    pending: None,
                    maint_until_ms: None,
                },
            ));
        }
        results.sort_by_key(|(seq, _)| *seq);
        run.results = results.into_iter().map(|(_, r)| r).collect();
        Ok(Some(run))
    }

    /// The series a check reference names: `(id, runbook)`.
    fn series_of(&self, check: &CheckRef) -> rusqlite::Result<Vec<(i64, String)>> {
        self.conn
            .prepare_cached(SERIES_OF)?
            .query_map(params![check.id, check.runbook], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect()
    }

    /// The value a sample reads: the named `metric`, or the headline one;
    /// and its unit.
    fn value_of(
        v: &Version,
        metric_name: Option<&str>,
        metric: Option<f64>,
        vals: Option<&[u8]>,
    ) -> (Option<f64>, String) {
        match metric_name {
            None => (metric, v.unit.clone().unwrap_or_default()),
            Some(name) => match v.metrics.iter().position(|(n, _)| n == name) {
                Some(i) => {
                    let x = v.metric_values(metric, vals)[i];
                    (x.is_finite().then_some(x), v.metrics[i].1.clone())
                }
                None => (None, String::new()),
            },
        }
    }

    /// The words and unit of version `vid`, for the named `metric` or the
    /// headline one.
    fn meta_of(&self, vid: i64, metric: Option<&str>) -> rusqlite::Result<Meta> {
        let v = self.version(vid)?;
        let (_, unit) = Self::value_of(&v, metric, None, None);
        Ok(Self::meta(&v, unit))
    }

    fn meta(v: &Version, unit: String) -> Meta {
        Meta {
            label: v.label.clone(),
            unit,
            unit_label: v.unit_label.clone(),
            warn_limit: v.warn_limit,
            fail_limit: v.fail_limit,
        }
    }

    /// Every recorded (not skipped) result of `check` in `[from, to)`,
    /// oldest first, as numbers: one pass over the check's index range.
    pub fn series(
        &self,
        check: &CheckRef,
        metric: Option<&str>,
        from: &DateTime<FixedOffset>,
        to: &DateTime<FixedOffset>,
    ) -> Result<Series, HistoryError> {
        self.series_inner(check, metric, ms(from), ms(to))
            .map_err(|e| self.err(e))
    }

    fn series_inner(
        &self,
        check: &CheckRef,
        metric: Option<&str>,
        from: i64,
        to: i64,
    ) -> rusqlite::Result<Series> {
        let ids = self.series_of(check)?;
        let mut rows: Vec<(Sample, i64)> = Vec::new();
        let mut stmt = self.conn.prepare_cached(SAMPLES)?;
        let mut last_version: Option<(i64, Arc<Version>)> = None;
        for (sid, _) in &ids {
            let mut q = stmt.query(params![sid, from, to])?;
            while let Some(r) = q.next()? {
                let vid: i64 = r.get(4)?;
                let v = match &last_version {
                    Some((id, v)) if *id == vid => v.clone(),
                    _ => {
                        let v = self.version(vid)?;
                        last_version = Some((vid, v.clone()));
                        v
                    }
                };
                let vals = r.get_ref(3)?.as_blob_or_null()?;
                let (value, _) = Self::value_of(&v, metric, r.get(2)?, vals);
                rows.push((
                    Sample {
                        ms: r.get(0)?,
                        status: schema::status_from(r.get(1)?),
                        value,
                        until: r.get(5)?,
                    },
                    vid,
                ));
            }
        }
        if ids.len() > 1 {
            rows.sort_by_key(|(s, _)| s.ms);
        }
        let meta_of = |vid: i64| self.meta_of(vid, metric);
        let last_valued = rows
            .iter()
            .rev()
            .find(|(s, _)| s.value.is_some())
            .map(|(_, vid)| meta_of(*vid))
            .transpose()?;
        let last = rows.last().map(|(_, vid)| meta_of(*vid)).transpose()?;
        Ok(Series {
            samples: rows.into_iter().map(|(s, _)| s).collect(),
            last_valued,
            last,
        })
    }

    /// Each `[start, end)` bound's [`Tally`] of `check` (the named
    /// `metric` or the headline one), with what the check was called.
    /// The headline is added up in SQL, day by day; a named metric lives
    /// in each result's blob, so its samples are folded here instead.
    pub fn tallies(
        &self,
        check: &CheckRef,
        metric: Option<&str>,
        bounds: &[(i64, i64)],
    ) -> Result<Tallied, HistoryError> {
        self.tallies_inner(check, metric, bounds)
            .map_err(|e| self.err(e))
    }

    fn tallies_inner(
        &self,
        check: &CheckRef,
        metric: Option<&str>,
        bounds: &[(i64, i64)],
    ) -> rusqlite::Result<Tallied> {
        let (Some(from), Some(to)) = (bounds.first().map(|b| b.0), bounds.last().map(|b| b.1))
        else {
            return Ok(Tallied::default());
        };
        if metric.is_some() {
            let series = self.series_inner(check, metric, from, to)?;
            return Ok(Tallied {
                days: super::aggregation::tally_days(&series.samples, bounds),
                last_valued: series.last_valued,
                last: series.last,
            });
        }
        let mut days = vec![Tally::default(); bounds.len()];
        // (ms, version) of the latest valued result, over every series.
        let mut last_valued: Option<(i64, i64)> = None;
        let mut tally = self.conn.prepare_cached(DAY_TALLY)?;
        let mut lastq = self.conn.prepare_cached(LAST_VALUED)?;
        for (sid, _) in self.series_of(check)? {
            for (day, (a, b)) in days.iter_mut().zip(bounds) {
                let mut t = tally.query_row(params![sid, a, b], |r| {
                    Ok(Tally {
                        n: r.get::<_, i64>(0)? as u64,
                        sum: r.get(1)?,
                        min: r.get(2)?,
                        max: r.get(3)?,
                        last: None,
                        ok: r.get::<_, f64>(4)? as u64,
                        counted: r.get::<_, f64>(5)? as u64,
                    })
                })?;
                if t.n > 0 {
                    let (ms, v, vid): (i64, f64, i64) = lastq
                        .query_row(params![sid, a, b], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })?;
                    t.last = Some((ms, v));
                    if last_valued.is_none_or(|(m, _)| ms >= m) {
                        last_valued = Some((ms, vid));
                    }
                }
                day.merge(&t);
            }
        }
        let meta_of = |vid: i64| self.meta_of(vid, None);
        let last = self
            .latest_in(check, from, to)?
            .map(|(_, vid)| meta_of(vid))
            .transpose()?;
        Ok(Tallied {
            days,
            last_valued: last_valued.map(|(_, vid)| meta_of(vid)).transpose()?,
            last,
        })
    }

    /// `(ms, version)` of the latest recorded result of `check` in `[from, to)`.
    fn latest_in(
        &self,
        check: &CheckRef,
        from: i64,
        to: i64,
    ) -> rusqlite::Result<Option<(i64, i64)>> {
        let mut best: Option<(i64, i64)> = None;
        let mut q = self.conn.prepare_cached(SAMPLE_BEFORE)?;
        for (sid, _) in self.series_of(check)? {
            let row = q
                .query_row(params![sid, from, to], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(4)?))
                })
                .optional()?;
            if let Some((ms, vid)) = row
                && best.is_none_or(|(b, _)| ms > b)
            {
                best = Some((ms, vid));
            }
        }
        Ok(best)
    }

    /// The least-squares sums of `check`'s values in `[from, to)` about
    /// `ref_ms` (the named `metric` or the headline one), and what the
    /// latest valued result was called: a capacity forecast over 90 days
    /// of minutely samples reads one row per series.
    pub fn fit_sums(
        &self,
        check: &CheckRef,
        metric: Option<&str>,
        from: &DateTime<FixedOffset>,
        to: &DateTime<FixedOffset>,
        ref_ms: i64,
    ) -> Result<(FitSums, Option<Meta>), HistoryError> {
        self.fit_sums_inner(check, metric, ms(from), ms(to), ref_ms)
            .map_err(|e| self.err(e))
    }

    fn fit_sums_inner(
        &self,
        check: &CheckRef,
        metric: Option<&str>,
        from: i64,
        to: i64,
        ref_ms: i64,
    ) -> rusqlite::Result<(FitSums, Option<Meta>)> {
        if metric.is_some() {
            let series = self.series_inner(check, metric, from, to)?;
            let points: Vec<(i64, f64)> = series
                .samples
                .iter()
                .filter_map(|s| Some((s.ms, s.value?)))
                .collect();
            return Ok((FitSums::of(&points, ref_ms), series.last_valued));
        }
        let mut f = FitSums::default();
        let mut last: Option<(i64, f64, i64)> = None;
        let mut sums = self.conn.prepare_cached(FIT_SUMS)?;
        let mut lastq = self.conn.prepare_cached(LAST_VALUED)?;
        for (sid, _) in self.series_of(check)? {
            let (n, sx, sy, sxx, sxy, first): (i64, f64, f64, f64, f64, Option<i64>) = sums
                .query_row(params![sid, from, to, ref_ms], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?;
            if n == 0 {
                continue;
            }
            f.n += n as f64;
            f.sx += sx;
            f.sy += sy;
            f.sxx += sxx;
            f.sxy += sxy;
            if let Some(fm) = first {
                f.first_ms = Some(f.first_ms.map_or(fm, |m| m.min(fm)));
            }
            let row: Option<(i64, f64, i64)> = lastq
                .query_row(params![sid, from, to], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            if let Some((ms, v, vid)) = row
                && last.is_none_or(|(m, _, _)| ms >= m)
            {
                last = Some((ms, v, vid));
            }
        }
        f.last = last.map(|(ms, v, _)| (ms, v));
        let meta = last
            .map(|(_, _, vid)| self.meta_of(vid, None))
            .transpose()?;
        Ok((f, meta))
    }

    /// Every recorded (not skipped) result of `check` in `[from, to)`,
    /// oldest first, with its words; the value is the named `metric` or
    /// the headline one. For `opsrun history --check`.
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
        let ids = self.series_of(check)?;
        let mut out = Vec::new();
        let mut stmt = self.conn.prepare_cached(SAMPLE_ROWS)?;
        for (sid, runbook) in &ids {
            let mut q = stmt.query(params![sid, from, to])?;
            while let Some(r) = q.next()? {
                let v = self.version(r.get(4)?)?;
                let vals = r.get_ref(3)?.as_blob_or_null()?;
                let (value, unit) = Self::value_of(&v, metric, r.get(2)?, vals);
                let ms: i64 = r.get(0)?;
                out.push(SampleRow {
                    runbook: runbook.clone(),
                    started_at: at(ms, r.get(7)?),
                    sample: Sample {
                        ms,
                        status: schema::status_from(r.get(1)?),
                        value,
                        until: r.get(8)?,
                    },
                    value: r.get(5)?,
                    message: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                    unit,
                    unit_label: v.unit_label.clone(),
                    label: v.label.clone(),
                    section: v.section.clone(),
                    kind: v.kind.clone(),
                    warn_limit: v.warn_limit,
                    fail_limit: v.fail_limit,
                });
            }
        }
        if ids.len() > 1 {
            out.sort_by_key(|r| r.sample.ms);
        }
        Ok(out)
    }

    /// The latest sample of `check` in `[before - lookback, before)`, with
    /// its words (for uptime carried into a period).
    pub fn sample_before(
        &self,
        check: &CheckRef,
        before: &DateTime<FixedOffset>,
        lookback: Duration,
    ) -> Result<Option<(Sample, Meta)>, HistoryError> {
        let r = (|| -> rusqlite::Result<Option<(Sample, Meta)>> {
            let to = ms(before);
            let from = to - lookback.as_millis() as i64;
            let mut best: Option<(Sample, Meta)> = None;
            for (sid, _) in self.series_of(check)? {
                let row = self
                    .conn
                    .prepare_cached(SAMPLE_BEFORE)?
                    .query_row(params![sid, from, to], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, Option<f64>>(2)?,
                            r.get::<_, Option<Vec<u8>>>(3)?,
                            r.get::<_, i64>(4)?,
                            r.get::<_, Option<i64>>(5)?,
                        ))
                    })
                    .optional()?;
                let Some((ms, status, metric, vals, vid, until)) = row else {
                    continue;
                };
                if best.as_ref().is_some_and(|(b, _)| b.ms >= ms) {
                    continue;
                }
                let v = self.version(vid)?;
                let (value, unit) = Self::value_of(&v, None, metric, vals.as_deref());
                best = Some((
                    Sample {
                        ms,
                        status: schema::status_from(status),
                        value,
                        until,
                    },
                    Self::meta(&v, unit),
                ));
            }
            Ok(best)
        })();
        r.map_err(|e| self.err(e))
    }

    /// Checks recorded in `[from, to)`, by first appearance, with their
    /// latest label, section, kind and unit.
    pub fn checks_seen(
        &self,
        from: &DateTime<FixedOffset>,
        to: &DateTime<FixedOffset>,
    ) -> Result<Vec<SeenCheck>, HistoryError> {
        let r = (|| -> rusqlite::Result<Vec<SeenCheck>> {
            let all: Vec<(i64, String, String)> = self
                .conn
                .prepare_cached(ALL_SERIES)?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut seen = Vec::new();
            for (sid, runbook, check_id) in all {
                let first: Option<(i64, i64)> = self
                    .conn
                    .prepare_cached(FIRST_IN)?
                    .query_row(params![sid, ms(from), ms(to)], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                let Some(first) = first else { continue };
                let vid: i64 = self
                    .conn
                    .prepare_cached(SAMPLE_BEFORE)?
                    .query_row(params![sid, ms(from), ms(to)], |r| r.get(4))?;
                let v = self.version(vid)?;
                seen.push((
                    first,
                    SeenCheck {
                        runbook,
                        check_id,
                        label: v.label.clone(),
                        section: v.section.clone(),
                        kind: v.kind.clone(),
                        unit: v.unit.clone(),
                    },
                ));
            }
            seen.sort_by_key(|(first, _)| *first);
            Ok(seen.into_iter().map(|(_, c)| c).collect())
        })();
        r.map_err(|e| self.err(e))
    }

    /// The runbooks recorded with `system:` equal to `system` (their runs'
    /// scope), in the order they first ran.
    pub fn runbooks_of_system(&self, system: &str) -> Result<Vec<String>, HistoryError> {
        let r = (|| -> rusqlite::Result<Vec<String>> {
            self.conn
                .prepare_cached(
                    "SELECT runbook FROM runs WHERE scope = ?1 GROUP BY runbook ORDER BY min(id)",
                )?
                .query_map(params![system], |r| r.get(0))?
                .collect()
        })();
        r.map_err(|e| self.err(e))
    }

    /// The `system:` recorded with `runbook`'s latest run (`None`: none
    /// recorded, or the runbook has no system).
    pub fn system_of(&self, runbook: &str) -> Result<Option<String>, HistoryError> {
        let r = (|| -> rusqlite::Result<Option<String>> {
            Ok(self
                .conn
                .prepare_cached(
                    "SELECT scope FROM runs WHERE runbook = ?1 ORDER BY started_ms DESC, id DESC LIMIT 1",
                )?
                .query_row(params![runbook], |r| r.get::<_, Option<String>>(0))
                .optional()?
                .flatten())
        })();
        r.map_err(|e| self.err(e))
    }

    /// The runbooks holding a check with id `check_id`, oldest series first.
    pub fn runbooks_with_check(&self, check_id: &str) -> Result<Vec<String>, HistoryError> {
        let check = CheckRef {
            runbook: None,
            id: check_id.to_owned(),
        };
        self.series_of(&check)
            .map(|v| v.into_iter().map(|(_, rb)| rb).collect())
            .map_err(|e| self.err(e))
    }
}

fn newer(v: i64) -> String {
    format!(
        "written by a newer opsrun (schema version {v}; this one knows up to {}); it is left untouched",
        schema::VERSION
    )
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

/// Applies the migrations not yet applied; the version it started from
/// when it did. The version is read again inside the write transaction:
/// another process may have migrated while this one waited for the lock.
fn migrate(conn: &mut Connection) -> Result<Option<i64>, MigrateError> {
    let latest = schema::VERSION;
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if v == latest {
        return Ok(None);
    }
    if v > latest {
        return Err(MigrateError::Newer(v));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let v: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if v > latest {
        return Err(MigrateError::Newer(v));
    }
    if v == latest {
        return Ok(None);
    }
    schema::apply(&tx, v)?;
    tx.pragma_update(None, "user_version", latest)?;
    tx.commit()?;
    Ok(Some(v))
}

/// After migrating an older database: incremental auto-vacuum (which a
/// database only takes through VACUUM) and the space of the old tables
/// given back. Best effort: a database that stays as it is still works.
fn compact(conn: &Connection) {
    let r = conn
        .pragma_update(None, "auto_vacuum", "INCREMENTAL")
        .and_then(|_| conn.execute_batch("VACUUM"));
    if let Err(e) = r {
        tracing::debug!("history: VACUUM after migration: {e}");
    }
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
                message_ja: String::new(),
                limit_ja: None,
                warn_limit: Some(80.0),
                fail_limit: Some(90.0),
                duration_ms: 3,
                attempts: 1,
                observed: None,
                pending: None,
                maint_until_ms: None,
            }],
        }
    }

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    /// A database of the previous schema (version 2, made here with its
    /// own SQL, as opsrun before issue 14 wrote it) migrates: every old run
    /// gets its scope (the system recorded with it), and a report's scope
    /// reads it.
    #[test]
    fn a_version_2_database_gets_run_scopes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        {
            let mut c = Connection::open(&path).unwrap();
            let tx = c.transaction().unwrap();
            schema::apply_until(&tx, 0, 2).unwrap();
            tx.execute_batch(
                "INSERT INTO run_contexts (id, title, system, host, opsrun) VALUES
                    (1, '日次点検', 'AI見積りシステム', 'web01', '0.1.0'),
                    (2, '会員フォーム', '会員フォーム', 'web01', '0.1.0'),
                    (3, '単独', NULL, 'web01', '0.1.0');
                 INSERT INTO runs (runbook, context_id, started_ms, utc_offset, duration_ms,
                    status, n_pass, n_warn, n_fail, n_unknown, n_skip, interrupted) VALUES
                    ('daily', 1, 1000, 32400, 5, 0, 1, 0, 0, 0, 0, 0),
                    ('probe', 1, 2000, 32400, 5, 0, 1, 0, 0, 0, 0, 0),
                    ('form', 2, 3000, 32400, 5, 0, 1, 0, 0, 0, 0, 0),
                    ('alone', 3, 4000, 32400, 5, 0, 1, 0, 0, 0, 0, 0);",
            )
            .unwrap();
            tx.pragma_update(None, "user_version", 2).unwrap();
            tx.commit().unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        let v: i64 = s
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, schema::VERSION);
        assert_eq!(
            s.runbooks_of_system("AI見積りシステム").unwrap(),
            ["daily", "probe"]
        );
        assert_eq!(s.runbooks_of_system("会員フォーム").unwrap(), ["form"]);
        assert_eq!(s.system_of("alone").unwrap(), None);
        assert_eq!(
            s.system_of("probe").unwrap().as_deref(),
            Some("AI見積りシステム")
        );
        // New runs record theirs.
        let mut r = run("2025-10-21T09:00:00+09:00", Status::Pass, Some(1.0));
        r.runbook = "weekly".into();
        r.system = Some("会員フォーム".into());
        s.record_all(&[r]).unwrap();
        assert_eq!(
            s.runbooks_of_system("会員フォーム").unwrap(),
            ["form", "weekly"]
        );
    }

    /// The SQL tallies and least-squares sums say what folding the samples
    /// says: mixed statuses, results without a value, empty days, the
    /// headline and a named metric (which takes the fold path).
    #[test]
    fn sql_tallies_and_sums_match_the_samples() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("h.db")).unwrap();
        let statuses = [
            Status::Pass,
            Status::Warn,
            Status::Fail,
            Status::Unknown,
            Status::Skip,
        ];
        let mut runs = Vec::new();
        for i in 0..200_i64 {
            let at = t("2025-10-01T00:00:00+09:00") + chrono::Duration::minutes(i * 37);
            let metric = (i % 7 != 3).then_some(40.0 + (i % 23) as f64 * 1.5);
            runs.push(run(&at.to_rfc3339(), statuses[(i % 5) as usize], metric));
        }
        s.record_all(&runs).unwrap();
        let day = 86_400_000;
        let start = ms(&t("2025-10-01T00:00:00+09:00"));
        // Seven days: five with samples, two after the last one.
        let bounds: Vec<(i64, i64)> = (0..7)
            .map(|d| (start + d * day, start + (d + 1) * day))
            .collect();
        let check = CheckRef {
            runbook: Some("daily".into()),
            id: "disk".into(),
        };
        for metric in [None, Some("used")] {
            let sql = s.tallies(&check, metric, &bounds).unwrap();
            let series = s
                .series_inner(&check, metric, bounds[0].0, bounds[6].1)
                .unwrap();
            let folded = crate::history::aggregation::tally_days(&series.samples, &bounds);
            assert_eq!(sql.days.len(), 7);
            for (a, b) in sql.days.iter().zip(&folded) {
                assert_eq!(
                    (a.n, a.ok, a.counted, a.min, a.max, a.last),
                    (b.n, b.ok, b.counted, b.min, b.max, b.last)
                );
                assert!((a.sum - b.sum).abs() < 1e-6, "{a:?} {b:?}");
            }
            assert!(sql.days[6].last.is_none() && sql.days[0].n > 0);
            assert_eq!(sql.last_valued, series.last_valued);
            assert_eq!(sql.last, series.last);
            let ref_ms = bounds[6].1;
            let (sums, meta) = s
                .fit_sums(
                    &check,
                    metric,
                    &t("2025-10-01T00:00:00+09:00"),
                    &t("2025-10-08T00:00:00+09:00"),
                    ref_ms,
                )
                .unwrap();
            let points: Vec<(i64, f64)> = series
                .samples
                .iter()
                .filter_map(|x| Some((x.ms, x.value?)))
                .collect();
            let want = FitSums::of(&points, ref_ms);
            assert_eq!(
                (sums.n, sums.first_ms, sums.last),
                (want.n, want.first_ms, want.last)
            );
            let (a, b) = (sums.line().unwrap(), want.line().unwrap());
            assert!(
                (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-6,
                "{a:?} {b:?}"
            );
            assert_eq!(meta, series.last_valued);
        }
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
