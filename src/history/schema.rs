//! The history schema: its migrations (`PRAGMA user_version` counts the
//! applied ones) and the compact encodings the tables use.
//!
//! Version 2 (issue 19) keeps history small and every run-time read
//! O(log n):
//! - `series` names each `(runbook, check id)` once; `check_versions` holds
//!   a check's metadata (title, label, section, kind, hint, units, limits,
//!   metric names) once per version, and every result refers to it.
//! - `results` is clustered by `(series_id, started_ms, run_id, seq)`: a
//!   check's results over a period are one contiguous range, the latest
//!   one is the end of its range, and retention deletes ranges.
//! - `latest` points at each series' newest non-skipped result (what the
//!   next run compares with) and `latest_runs` at each runbook's newest
//!   complete run, so a run reads them directly.
//! - statuses are small integers, a pass result keeps no message, and the
//!   named metrics are a packed blob (see [`encode_vals`]) without the one
//!   that equals the headline metric.
//!
//! Version 4 (issue 14) keeps one row per incident (`incidents`) and one
//! per `opsrun incident` call (`incident_calls`); see `history::incidents`.
//!
//! The views `result_rows` and `run_rows` show results and runs with
//! their names and statuses spelled out, for `sqlite3` users.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::ResultRecord;
use crate::values::outcome::Status;

/// Version 1 (opsrun 0.1.0): one wide row per result.
const V1: &str = "CREATE TABLE runs (
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
    CREATE INDEX incidents_by_time ON incidents(started_ms);";

/// Version 2's tables (created by [`migrate_v2`]).
const V2: &str = "CREATE TABLE run_contexts (
        id      INTEGER PRIMARY KEY,
        title   TEXT NOT NULL,
        system  TEXT,
        host    TEXT NOT NULL,
        opsrun  TEXT NOT NULL
    );
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        runbook     TEXT NOT NULL,
        context_id  INTEGER NOT NULL,
        started_ms  INTEGER NOT NULL,
        utc_offset  INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        status      INTEGER NOT NULL,
        n_pass      INTEGER NOT NULL,
        n_warn      INTEGER NOT NULL,
        n_fail      INTEGER NOT NULL,
        n_unknown   INTEGER NOT NULL,
        n_skip      INTEGER NOT NULL,
        interrupted INTEGER NOT NULL
    );
    CREATE INDEX runs_by_time ON runs(started_ms);
    CREATE INDEX runs_by_runbook ON runs(runbook, started_ms);
    CREATE TABLE series (
        id       INTEGER PRIMARY KEY,
        runbook  TEXT NOT NULL,
        check_id TEXT NOT NULL,
        UNIQUE (runbook, check_id)
    );
    CREATE TABLE check_versions (
        id         INTEGER PRIMARY KEY,
        series_id  INTEGER NOT NULL,
        title      TEXT NOT NULL,
        label      TEXT NOT NULL,
        section    TEXT NOT NULL,
        kind       TEXT NOT NULL,
        hint       TEXT,
        unit       TEXT,
        unit_label TEXT NOT NULL,
        metrics    TEXT NOT NULL,
        headline   INTEGER,
        warn_limit REAL,
        fail_limit REAL
    );
    CREATE INDEX check_versions_by_series ON check_versions(series_id);
    CREATE TABLE results (
        series_id   INTEGER NOT NULL,
        started_ms  INTEGER NOT NULL,
        run_id      INTEGER NOT NULL,
        seq         INTEGER NOT NULL,
        version_id  INTEGER NOT NULL,
        status      INTEGER NOT NULL,
        value       TEXT NOT NULL,
        metric      REAL,
        vals        BLOB,
        message     TEXT,
        limit_ja    TEXT,
        duration_ms INTEGER NOT NULL,
        attempts    INTEGER NOT NULL,
        PRIMARY KEY (series_id, started_ms, run_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE latest (
        series_id  INTEGER PRIMARY KEY,
        started_ms INTEGER NOT NULL,
        run_id     INTEGER NOT NULL,
        seq        INTEGER NOT NULL,
        status     INTEGER NOT NULL,
        nonpass    INTEGER NOT NULL
    );
    CREATE TABLE latest_runs (
        runbook    TEXT PRIMARY KEY,
        run_id     INTEGER NOT NULL,
        started_ms INTEGER NOT NULL,
        status     INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE VIEW result_rows AS
        SELECT x.run_id, s.runbook, s.check_id, x.started_ms, x.seq,
               CASE x.status WHEN 0 THEN 'pass' WHEN 1 THEN 'warn' WHEN 2 THEN 'fail'
                             WHEN 3 THEN 'unknown' ELSE 'skip' END AS status,
               x.value, x.metric, v.unit, coalesce(x.message, '') AS message, x.limit_ja,
               v.title, v.label, v.section, v.kind, v.hint, x.duration_ms, x.attempts
        FROM results x JOIN series s ON s.id = x.series_id
             JOIN check_versions v ON v.id = x.version_id;
    CREATE VIEW run_rows AS
        SELECT r.id, r.runbook, c.title, c.system, c.host, r.started_ms, r.utc_offset,
               r.duration_ms,
               CASE r.status WHEN 0 THEN 'pass' WHEN 1 THEN 'warn' WHEN 2 THEN 'fail'
                             WHEN 3 THEN 'unknown' ELSE 'skip' END AS status,
               r.n_pass, r.n_warn, r.n_fail, r.n_unknown, r.n_skip, r.interrupted, c.opsrun
        FROM runs r JOIN run_contexts c ON c.id = r.context_id;";

/// Version 3 (issue 14): each run's report scope, its runbook's
/// `system:` (NULL: the runbook is a scope of its own), so a report reads
/// only its own system's rows (SPEC §10.2). Runs recorded before take the
/// system their context recorded.
const V3: &str = "ALTER TABLE runs ADD COLUMN scope TEXT;
    UPDATE runs SET scope = (SELECT c.system FROM run_contexts c WHERE c.id = runs.context_id);
    CREATE INDEX runs_by_scope ON runs(scope, runbook);";

/// Version 5 (issue 14): silences (`opsrun silence add`), maintenance
/// windows kept in history; the `maint` status (5) spelled in the view.
const V5: &str = "CREATE TABLE silences (
        id         INTEGER PRIMARY KEY,
        created_ms INTEGER NOT NULL,
        from_ms    INTEGER NOT NULL,
        to_ms      INTEGER NOT NULL,
        runbook    TEXT,
        checks     TEXT,
        reason     TEXT NOT NULL,
        author     TEXT NOT NULL
    );
    DROP VIEW result_rows;
    CREATE VIEW result_rows AS
        SELECT x.run_id, s.runbook, s.check_id, x.started_ms, x.seq,
               CASE x.status WHEN 0 THEN 'pass' WHEN 1 THEN 'warn' WHEN 2 THEN 'fail'
                             WHEN 3 THEN 'unknown' WHEN 5 THEN 'maint' ELSE 'skip' END AS status,
               x.value, x.metric, v.unit, coalesce(x.message, '') AS message, x.limit_ja,
               v.title, v.label, v.section, v.kind, v.hint, x.duration_ms, x.attempts
        FROM results x JOIN series s ON s.id = x.series_id
             JOIN check_versions v ON v.id = x.version_id;";

/// Version 6 (issue 14): each non-pass result's message in Japanese, so
/// a report rendered later from history (`opsrun report daily`) is as
/// Japanese as one printed by the run. Older results have none: their
/// documents show the recorded message.
const V6: &str = "ALTER TABLE results ADD COLUMN message_ja TEXT;";

/// Version 7: a `maint` result keeps when its maintenance window ends, so
/// uptime counts 計画停止 until then and not until the next result (a
/// once-a-day check in a one-hour window is not a day of planned stop).
/// Older `maint` results have none and hold until the next result, as
/// before.
const V7: &str = "ALTER TABLE results ADD COLUMN maint_until_ms INTEGER;";

/// One migration step.
enum Step {
    Sql(&'static str),
    Code(fn(&Transaction) -> rusqlite::Result<()>),
}

/// Migrations, in order; `PRAGMA user_version` is how many have been
/// applied. Never edit one that has shipped: append a new one.
const MIGRATIONS: &[Step] = &[
    // 1: runs, check results, incidents (opsrun 0.1.0).
    Step::Sql(V1),
    // 2: compact storage and direct "latest" reads (issue 19).
    Step::Code(migrate_v2),
    // 3: runs carry their report scope (issue 14).
    Step::Sql(V3),
    // 4: one row per incident, whatever number of calls (issue 14).
    Step::Code(migrate_v4),
    // 5: silences; `maint` in the result view (issue 14).
    Step::Sql(V5),
    // 6: results keep their Japanese message (issue 14).
    Step::Sql(V6),
    // 7: a maintenance result keeps its window's end.
    Step::Sql(V7),
];

/// The schema version this opsrun writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies migrations `from..` inside `tx`.
pub(crate) fn apply(tx: &Transaction, from: i64) -> rusqlite::Result<()> {
    apply_until(tx, from, VERSION)
}

/// Applies migrations `from..to` inside `tx` (tests build an older
/// schema with it).
pub(crate) fn apply_until(tx: &Transaction, from: i64, to: i64) -> rusqlite::Result<()> {
    for step in &MIGRATIONS[from as usize..to as usize] {
        match step {
            Step::Sql(sql) => tx.execute_batch(sql)?,
            Step::Code(f) => f(tx)?,
        }
    }
    Ok(())
}

/// Status codes as stored (`results.status`, `runs.status`).
pub fn status_code(s: Status) -> i64 {
    match s {
        Status::Pass => 0,
        Status::Warn => 1,
        Status::Fail => 2,
        Status::Unknown => 3,
        Status::Skip => 4,
        Status::Maint => 5,
    }
}

pub const SKIP: i64 = 4;

pub fn status_from(code: i64) -> Status {
    match code {
        0 => Status::Pass,
        1 => Status::Warn,
        2 => Status::Fail,
        4 => Status::Skip,
        5 => Status::Maint,
        _ => Status::Unknown,
    }
}

/// Packs metric values: an integral value (within ±2^53) as a LEB128
/// varint of its zigzag encoding shifted left by one (so even), any other
/// as the byte 0x01 and 8 little-endian bytes of the f64. `free` disk
/// bytes take 5 bytes instead of 20 characters of JSON.
pub fn encode_vals(vals: &[f64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(vals.len() * 4);
    for &v in vals {
        if v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_992.0 {
            let i = v as i64;
            let mut z = (((i << 1) ^ (i >> 63)) as u64) << 1;
            loop {
                let b = (z & 0x7f) as u8;
                z >>= 7;
                if z == 0 {
                    out.push(b);
                    break;
                }
                out.push(b | 0x80);
            }
        } else {
            out.push(0x01);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// The values [`encode_vals`] packed; a truncated blob ends the list.
pub fn decode_vals(mut b: &[u8]) -> Vec<f64> {
    let mut out = Vec::new();
    while let Some(&first) = b.first() {
        if first == 0x01 {
            let Some(bytes) = b.get(1..9) else { break };
            out.push(f64::from_le_bytes(bytes.try_into().expect("8 bytes")));
            b = &b[9..];
            continue;
        }
        let mut z: u64 = 0;
        let mut shift = 0;
        let mut used = 0;
        for &byte in b {
            used += 1;
            if shift < 64 {
                z |= u64::from(byte & 0x7f) << shift;
            }
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        b = &b[used..];
        let z = z >> 1;
        out.push(((z >> 1) as i64 ^ -((z & 1) as i64)) as f64);
    }
    out
}

/// A check version's identity: everything about a result that is the
/// check's, not the measurement's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct VersionKey {
    pub series_id: i64,
    pub title: String,
    pub label: String,
    pub section: String,
    pub kind: String,
    pub hint: Option<String>,
    pub unit: Option<String>,
    pub unit_label: String,
    /// JSON `[[name, unit], …]`.
    pub metrics: String,
    /// Which of `metrics` the headline metric is stored as (the result's
    /// `metric` column; left out of `vals`).
    pub headline: Option<i64>,
    pub warn_limit: Option<u64>,
    pub fail_limit: Option<u64>,
}

/// How one result is stored: its version's key and its own columns.
pub(crate) struct Encoded {
    pub key: VersionKey,
    pub vals: Option<Vec<u8>>,
    pub message: Option<String>,
    pub message_ja: Option<String>,
}

pub(crate) fn encode(series_id: i64, r: &ResultRecord) -> Encoded {
    let headline = r.metric.and_then(|m| {
        r.metrics
            .iter()
            .position(|(_, v, u)| *v == m && Some(u) == r.unit.as_ref())
    });
    let names: Vec<(&str, &str)> = r
        .metrics
        .iter()
        .map(|(n, _, u)| (n.as_str(), u.as_str()))
        .collect();
    let rest: Vec<f64> = r
        .metrics
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != headline)
        .map(|(_, (_, v, _))| *v)
        .collect();
    Encoded {
        key: VersionKey {
            series_id,
            title: r.title.clone(),
            label: r.label.clone(),
            section: r.section.clone(),
            kind: r.kind.clone(),
            hint: r.hint.clone(),
            unit: r.unit.clone(),
            unit_label: r.unit_label.clone(),
            metrics: serde_json::to_string(&names).unwrap_or_else(|_| "[]".into()),
            headline: headline.map(|i| i as i64),
            warn_limit: r.warn_limit.map(f64::to_bits),
            fail_limit: r.fail_limit.map(f64::to_bits),
        },
        vals: (!rest.is_empty()).then(|| encode_vals(&rest)),
        // A pass result's message says nothing the status does not.
        message: (r.status != Status::Pass && !r.message.is_empty()).then(|| r.message.clone()),
        message_ja: (r.status != Status::Pass && !r.message_ja.is_empty())
            .then(|| r.message_ja.clone()),
    }
}

/// A check version as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    pub runbook: String,
    pub check_id: String,
    pub title: String,
    pub label: String,
    pub section: String,
    pub kind: String,
    pub hint: Option<String>,
    pub unit: Option<String>,
    pub unit_label: String,
    pub metrics: Vec<(String, String)>,
    pub headline: Option<usize>,
    pub warn_limit: Option<f64>,
    pub fail_limit: Option<f64>,
}

impl Version {
    /// Every named metric's value of a result: the headline fills its
    /// slot, `vals` the others (NaN where a value is missing).
    pub fn metric_values(&self, metric: Option<f64>, vals: Option<&[u8]>) -> Vec<f64> {
        let mut rest = vals.map(decode_vals).unwrap_or_default().into_iter();
        (0..self.metrics.len())
            .map(|i| {
                if Some(i) == self.headline {
                    metric.unwrap_or(f64::NAN)
                } else {
                    rest.next().unwrap_or(f64::NAN)
                }
            })
            .collect()
    }

    /// `(name, value, unit)` of every named metric.
    pub fn metrics_of(
        &self,
        metric: Option<f64>,
        vals: Option<&[u8]>,
    ) -> Vec<(String, f64, String)> {
        self.metric_values(metric, vals)
            .into_iter()
            .zip(&self.metrics)
            .filter(|(v, _)| v.is_finite())
            .map(|(v, (n, u))| (n.clone(), v, u.clone()))
            .collect()
    }
}

pub(crate) const VERSION_SQL: &str = "SELECT s.runbook, s.check_id, v.title, v.label, v.section,
        v.kind, v.hint, v.unit, v.unit_label, v.metrics, v.headline, v.warn_limit, v.fail_limit
     FROM check_versions v JOIN series s ON s.id = v.series_id WHERE v.id = ?1";

pub(crate) fn read_version(conn: &Connection, id: i64) -> rusqlite::Result<Option<Version>> {
    conn.prepare_cached(VERSION_SQL)?
        .query_row([id], |r| {
            let metrics: String = r.get(9)?;
            Ok(Version {
                runbook: r.get(0)?,
                check_id: r.get(1)?,
                title: r.get(2)?,
                label: r.get(3)?,
                section: r.get(4)?,
                kind: r.get(5)?,
                hint: r.get(6)?,
                unit: r.get(7)?,
                unit_label: r.get(8)?,
                metrics: serde_json::from_str(&metrics).unwrap_or_default(),
                headline: r.get::<_, Option<i64>>(10)?.map(|h| h as usize),
                warn_limit: r.get(11)?,
                fail_limit: r.get(12)?,
            })
        })
        .optional()
}

/// Ids already looked up or created in this connection: a run of ten
/// checks then writes its rows without looking anything up again.
#[derive(Default)]
pub(crate) struct Ids {
    series: HashMap<(String, String), i64>,
    versions: HashMap<VersionKey, i64>,
    contexts: HashMap<(String, Option<String>, String, String), i64>,
}

impl Ids {
    pub fn series(
        &mut self,
        tx: &Connection,
        runbook: &str,
        check_id: &str,
    ) -> rusqlite::Result<i64> {
        let key = (runbook.to_owned(), check_id.to_owned());
        if let Some(id) = self.series.get(&key) {
            return Ok(*id);
        }
        let found = tx
            .prepare_cached("SELECT id FROM series WHERE runbook = ?1 AND check_id = ?2")?
            .query_row(params![runbook, check_id], |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => {
                tx.prepare_cached("INSERT INTO series (runbook, check_id) VALUES (?1, ?2)")?
                    .execute(params![runbook, check_id])?;
                tx.last_insert_rowid()
            }
        };
        self.series.insert(key, id);
        Ok(id)
    }

    pub fn version(&mut self, tx: &Connection, k: &VersionKey) -> rusqlite::Result<i64> {
        if let Some(id) = self.versions.get(k) {
            return Ok(*id);
        }
        let (warn, fail) = (
            k.warn_limit.map(f64::from_bits),
            k.fail_limit.map(f64::from_bits),
        );
        // The same twelve values look the version up and insert it.
        let values = params![
            k.series_id,
            k.title,
            k.label,
            k.section,
            k.kind,
            k.hint,
            k.unit,
            k.unit_label,
            k.metrics,
            k.headline,
            warn,
            fail
        ];
        let found = tx
            .prepare_cached(
                "SELECT id FROM check_versions
                 WHERE series_id = ?1 AND title = ?2 AND label = ?3 AND section = ?4
                   AND kind = ?5 AND hint IS ?6 AND unit IS ?7 AND unit_label = ?8
                   AND metrics = ?9 AND headline IS ?10 AND warn_limit IS ?11
                   AND fail_limit IS ?12
                 ORDER BY id LIMIT 1",
            )?
            .query_row(values, |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => {
                tx.prepare_cached(
                    "INSERT INTO check_versions (series_id, title, label, section, kind, hint,
                        unit, unit_label, metrics, headline, warn_limit, fail_limit)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )?
                .execute(values)?;
                tx.last_insert_rowid()
            }
        };
        self.versions.insert(k.clone(), id);
        Ok(id)
    }

    pub fn context(
        &mut self,
        tx: &Connection,
        title: &str,
        system: Option<&str>,
        host: &str,
        opsrun: &str,
    ) -> rusqlite::Result<i64> {
        let key = (
            title.to_owned(),
            system.map(str::to_owned),
            host.to_owned(),
            opsrun.to_owned(),
        );
        if let Some(id) = self.contexts.get(&key) {
            return Ok(*id);
        }
        let found = tx
            .prepare_cached(
                "SELECT id FROM run_contexts
                 WHERE title = ?1 AND system IS ?2 AND host = ?3 AND opsrun = ?4
                 ORDER BY id LIMIT 1",
            )?
            .query_row(params![title, system, host, opsrun], |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => {
                tx.prepare_cached(
                    "INSERT INTO run_contexts (title, system, host, opsrun) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![title, system, host, opsrun])?;
                tx.last_insert_rowid()
            }
        };
        self.contexts.insert(key, id);
        Ok(id)
    }
}

/// Which `results` columns exist: the version 2 migration writes into
/// version 2's table, which has no `message_ja` yet (version 6 adds it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResultColumns {
    V2,
    Current,
}

/// Writes one run's results (and moves `latest` forward). Shared by
/// [`super::Store::record`] and the version 2 migration.
pub(crate) fn insert_results<'r>(
    tx: &Connection,
    ids: &mut Ids,
    run_id: i64,
    runbook: &str,
    started_ms: i64,
    results: impl Iterator<Item = (usize, &'r ResultRecord)>,
    columns: ResultColumns,
) -> rusqlite::Result<()> {
    for (seq, r) in results {
        let series = ids.series(tx, runbook, &r.check_id)?;
        let enc = encode(series, r);
        let version = ids.version(tx, &enc.key)?;
        let status = status_code(r.status);
        let (seq, duration, attempts) = (seq as i64, r.duration_ms as i64, r.attempts as i64);
        let message_ja = match columns {
            ResultColumns::Current => enc.message_ja,
            ResultColumns::V2 => None,
        };
        tx.prepare_cached(match columns {
            ResultColumns::Current => {
                "INSERT OR REPLACE INTO results (series_id, started_ms, run_id, seq, version_id,
                    status, value, metric, vals, message, limit_ja, duration_ms, attempts, message_ja,
                    maint_until_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
            }
            ResultColumns::V2 => {
                "INSERT OR REPLACE INTO results (series_id, started_ms, run_id, seq, version_id,
                    status, value, metric, vals, message, limit_ja, duration_ms, attempts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            }
        })?
        .execute({
            let mut args: Vec<&dyn rusqlite::ToSql> = params![
                series,
                started_ms,
                run_id,
                seq,
                version,
                status,
                r.value,
                r.metric,
                enc.vals,
                enc.message,
                r.limit_ja,
                duration,
                attempts,
            ]
            .to_vec();
            if columns == ResultColumns::Current {
                args.push(&message_ja);
                args.push(&r.maint_until_ms);
            }
            args
        }
        .as_slice())?;
        if r.status == Status::Skip {
            continue;
        }
        let prev: Option<(i64, i64, i64)> = tx
            .prepare_cached("SELECT started_ms, run_id, nonpass FROM latest WHERE series_id = ?1")?
            .query_row([series], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        if prev.is_some_and(|(ms, id, _)| (ms, id) > (started_ms, run_id)) {
            // An older result recorded late (`--now` in the past) is not
            // what the next run compares with.
            continue;
        }
        // A result `consecutive:` held back (stored as pass) still
        // lengthens the streak: the next run counts it.
        let nonpass = if r.observed.unwrap_or(r.status) == Status::Pass {
            0
        } else {
            prev.map(|p| p.2).unwrap_or(0) + 1
        };
        tx.prepare_cached(
            "INSERT OR REPLACE INTO latest (series_id, started_ms, run_id, seq, status, nonpass)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![series, started_ms, run_id, seq, status, nonpass])?;
    }
    Ok(())
}

/// Moves `latest_runs` forward for a complete run.
pub(crate) fn note_run(
    tx: &Connection,
    runbook: &str,
    run_id: i64,
    started_ms: i64,
    status: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO latest_runs (runbook, run_id, started_ms, status) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (runbook) DO UPDATE SET run_id = ?2, started_ms = ?3, status = ?4
         WHERE (latest_runs.started_ms, latest_runs.run_id) <= (?3, ?2)",
    )?
    .execute(params![runbook, run_id, started_ms, status])?;
    Ok(())
}

fn offset_of(started_at: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(started_at)
        .map(|t| i64::from(t.offset().local_minus_utc()))
        .unwrap_or(0)
}

fn parse_v1_metrics(s: &str) -> Vec<(String, f64, String)> {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(s) else {
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

/// Version 1 → 2: the same runs (same ids, so incidents keep theirs) and
/// results, written the way [`super::Store::record`] writes them.
fn migrate_v2(tx: &Transaction) -> rusqlite::Result<()> {
    // Renaming must not rewrite `incidents`' reference to `runs`: the new
    // `runs` keeps the ids it points at.
    tx.execute_batch(
        "PRAGMA legacy_alter_table = ON;
         DROP INDEX runs_by_time; DROP INDEX runs_by_runbook; DROP INDEX results_by_check;
         ALTER TABLE runs RENAME TO runs_v1;
         ALTER TABLE results RENAME TO results_v1;
         PRAGMA legacy_alter_table = OFF;",
    )?;
    tx.execute_batch(V2)?;
    let mut ids = Ids::default();
    {
        let mut read = tx.prepare(
            "SELECT id, runbook, title, system, host, started_at, started_ms, duration_ms,
                    status, n_pass, n_warn, n_fail, n_unknown, n_skip, interrupted, opsrun
             FROM runs_v1 ORDER BY id",
        )?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let context = ids.context(
                tx,
                &r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?.as_deref(),
                &r.get::<_, String>(4)?,
                &r.get::<_, String>(15)?,
            )?;
            let status =
                status_code(Status::parse(&r.get::<_, String>(8)?).unwrap_or(Status::Unknown));
            tx.prepare_cached(
                "INSERT INTO runs (id, runbook, context_id, started_ms, utc_offset, duration_ms,
                    status, n_pass, n_warn, n_fail, n_unknown, n_skip, interrupted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                context,
                r.get::<_, i64>(6)?,
                offset_of(&r.get::<_, String>(5)?),
                r.get::<_, i64>(7)?,
                status,
                r.get::<_, i64>(9)?,
                r.get::<_, i64>(10)?,
                r.get::<_, i64>(11)?,
                r.get::<_, i64>(12)?,
                r.get::<_, i64>(13)?,
                r.get::<_, i64>(14)?,
            ])?;
        }
    }
    {
        let mut read = tx.prepare(
            "SELECT x.run_id, x.seq, x.check_id, x.title, x.label, x.section, x.kind, x.hint,
                    x.status, x.value, x.metric, x.unit, x.unit_label, x.metrics, x.message,
                    x.limit_ja, x.warn_limit, x.fail_limit, x.duration_ms, x.attempts,
                    r.runbook, r.started_ms
             FROM results_v1 x JOIN runs_v1 r ON r.id = x.run_id
             ORDER BY x.run_id, x.seq",
        )?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let rec = ResultRecord {
                check_id: r.get(2)?,
                title: r.get(3)?,
                label: r.get(4)?,
                section: r.get(5)?,
                kind: r.get(6)?,
                hint: r.get(7)?,
                status: Status::parse(&r.get::<_, String>(8)?).unwrap_or(Status::Unknown),
                value: r.get(9)?,
                metric: r.get(10)?,
                unit: r.get(11)?,
                unit_label: r.get(12)?,
                metrics: parse_v1_metrics(&r.get::<_, String>(13)?),
                message: r.get(14)?,
                message_ja: String::new(),
                limit_ja: r.get(15)?,
                warn_limit: r.get(16)?,
                fail_limit: r.get(17)?,
                duration_ms: r.get::<_, i64>(18)? as u64,
                attempts: r.get::<_, i64>(19)? as u32,
                observed: None,
                pending: None,
                maint_until_ms: None,
            };
            let seq = r.get::<_, i64>(1)? as usize;
            insert_results(
                tx,
                &mut ids,
                r.get(0)?,
                &r.get::<_, String>(20)?,
                r.get(21)?,
                std::iter::once((seq, &rec)),
                ResultColumns::V2,
            )?;
        }
    }
    tx.execute_batch(
        "INSERT INTO latest_runs (runbook, run_id, started_ms, status)
             SELECT runbook, id, MAX(started_ms), status FROM runs
             WHERE interrupted = 0 GROUP BY runbook;
         DROP TABLE results_v1;
         DROP TABLE runs_v1;",
    )?;
    Ok(())
}

/// Version 4's incidents: one row per incident (SPEC §10.3), and one per
/// `opsrun incident` call that joined it (with the run of its diagnostics).
const V4: &str = "CREATE TABLE incidents (
        id           INTEGER PRIMARY KEY,
        level        TEXT NOT NULL,
        name         TEXT,
        system       TEXT,
        runbook      TEXT NOT NULL,
        host         TEXT NOT NULL,
        opened_ms    INTEGER NOT NULL,
        utc_offset   INTEGER NOT NULL,
        recovered_ms INTEGER,
        closed_ms    INTEGER,
        note         TEXT,
        summary      TEXT NOT NULL,
        actions      TEXT NOT NULL,
        reporter     TEXT,
        last_ms      INTEGER NOT NULL
    );
    CREATE INDEX incidents_by_time ON incidents(opened_ms);
    CREATE INDEX incidents_open ON incidents(system, closed_ms);
    CREATE TABLE incident_calls (
        id          INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        run_id      INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        at_ms       INTEGER NOT NULL,
        level       TEXT NOT NULL,
        outcome     TEXT NOT NULL,
        summary     TEXT NOT NULL,
        reporter    TEXT
    );
    CREATE INDEX incident_calls_by_incident ON incident_calls(incident_id);
    CREATE INDEX incident_calls_by_run ON incident_calls(run_id);";

/// Version 3 → 4: every old incident row (one per `opsrun incident` call)
/// becomes an incident of its own with that call. They are closed (at
/// their recovery, else when they began): an old call must not be joined
/// by the next outage. The system and the diagnostics run, which version
/// 2 did not keep with the incident, are those of the first run of its
/// runbook at or after it began.
fn migrate_v4(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE incidents RENAME TO incidents_v2;
         DROP INDEX incidents_by_time;",
    )?;
    tx.execute_batch(V4)?;
    let mut read = tx.prepare(
        "SELECT id, level, name, runbook, host, started_at, started_ms, ended_ms, outcome,
                summary, reporter
         FROM incidents_v2 ORDER BY id",
    )?;
    let mut rows = read.query([])?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let level: String = r.get(1)?;
        let runbook: String = r.get(3)?;
        let started_ms: i64 = r.get(6)?;
        let ended_ms: Option<i64> = r.get(7)?;
        let outcome: String = r.get(8)?;
        let summary: String = r.get(9)?;
        let reporter: Option<String> = r.get(10)?;
        let run: Option<(i64, i64, Option<String>)> = tx
            .prepare_cached(
                "SELECT r.id, r.started_ms, c.system FROM runs r
                 JOIN run_contexts c ON c.id = r.context_id
                 WHERE r.runbook = ?1 AND r.started_ms >= ?2
                 ORDER BY r.started_ms, r.id LIMIT 1",
            )?
            .query_row(params![runbook, started_ms], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let recovered_ms = ended_ms.filter(|_| outcome == "recovered");
        tx.prepare_cached(
            "INSERT INTO incidents (id, level, name, system, runbook, host, opened_ms,
                utc_offset, recovered_ms, closed_ms, note, summary, actions, reporter, last_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, ?11, '', ?12, ?13)",
        )?
        .execute(params![
            id,
            level,
            r.get::<_, Option<String>>(2)?,
            run.as_ref().and_then(|x| x.2.clone()),
            runbook,
            r.get::<_, String>(4)?,
            started_ms,
            offset_of(&r.get::<_, String>(5)?),
            recovered_ms,
            recovered_ms.unwrap_or(started_ms),
            summary,
            reporter,
            run.as_ref().map_or(started_ms, |x| x.1),
        ])?;
        tx.prepare_cached(
            "INSERT INTO incident_calls (incident_id, run_id, at_ms, level, outcome, summary,
                reporter)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            id,
            run.as_ref().map(|x| x.0),
            run.as_ref().map_or(started_ms, |x| x.1),
            level,
            outcome,
            summary,
            reporter,
        ])?;
    }
    drop(rows);
    drop(read);
    tx.execute_batch("DROP TABLE incidents_v2;")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vals_round_trip_compactly() {
        let xs = [
            0.0,
            1.0,
            -1.0,
            65.0,
            68_122_476_544.0,
            30.182_887_102_862_495,
            -0.25,
            f64::MAX,
            9_007_199_254_740_993.0,
            -9_007_199_254_740_992.0,
        ];
        let b = encode_vals(&xs);
        assert_eq!(decode_vals(&b), xs);
        assert_eq!(encode_vals(&[65.0]).len(), 2);
        assert_eq!(encode_vals(&[68_122_476_544.0]).len(), 6);
        assert_eq!(encode_vals(&[0.5]).len(), 9);
        // A truncated blob ends the list rather than panicking.
        assert_eq!(decode_vals(&[0x01, 0, 0]), Vec::<f64>::new());
        assert_eq!(decode_vals(&[0x80]).len(), 1);
    }

    /// A version 2 history (opsrun 0.2, one incident row per call, four
    /// calls of one outage among them) opens as version 3: every old row
    /// is an incident of its own (which calls were one outage is not
    /// guessed), closed, with its call, the run of its diagnostics and
    /// that run's system; the recovered one keeps its recovery time; the
    /// next call opens a new incident instead of joining an old one.
    #[test]
    fn version_2_incident_rows_become_closed_incidents() {
        use crate::history::incidents::{CallOutcome, IncidentCall, Recorded, State};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.db");
        let t0: i64 = 1_761_009_780_000; // 2025-10-21T10:23:00+09:00
        {
            let mut c = Connection::open(&p).unwrap();
            // As `Store::open` migrates: without foreign keys.
            c.pragma_update(None, "foreign_keys", "OFF").unwrap();
            let tx = c.transaction().unwrap();
            tx.execute_batch(V1).unwrap();
            migrate_v2(&tx).unwrap();
            tx.execute_batch(
                "INSERT INTO run_contexts (id, title, system, host, opsrun)
                     VALUES (1, 'P1', 'AI見積りシステム', 'web01', '0.2.0');",
            )
            .unwrap();
            for (i, (run_at, ended, outcome)) in [
                (3, None, "diagnosed"),
                (5, None, "diagnosed"),
                (8, None, "unresolved"),
                (12, Some(14), "recovered"),
            ]
            .into_iter()
            .enumerate()
            {
                let run_ms = t0 + run_at * 60_000;
                tx.execute(
                    "INSERT INTO runs (id, runbook, context_id, started_ms, utc_offset,
                        duration_ms, status, n_pass, n_warn, n_fail, n_unknown, n_skip, interrupted)
                     VALUES (?1, 'incident-p1', 1, ?2, 32400, 10, 2, 0, 0, 1, 0, 0, 0)",
                    params![i as i64 + 1, run_ms],
                )
                .unwrap();
                let ended_ms = ended.map(|m| t0 + m * 60_000);
                tx.execute(
                    "INSERT INTO incidents (run_id, level, name, runbook, host, started_at,
                        started_ms, ended_at, ended_ms, outcome, summary, reporter)
                     VALUES (NULL, 'p1', '緊急', 'incident-p1', 'web01', ?1, ?2, ?3, ?4, ?5,
                        '異常: ヘルスチェック', '運用担当者A')",
                    params![
                        chrono::DateTime::from_timestamp_millis(run_ms)
                            .unwrap()
                            .with_timezone(&crate::values::jst())
                            .to_rfc3339(),
                        run_ms,
                        ended_ms.map(|m| chrono::DateTime::from_timestamp_millis(m)
                            .unwrap()
                            .with_timezone(&crate::values::jst())
                            .to_rfc3339()),
                        ended_ms,
                        outcome
                    ],
                )
                .unwrap();
            }
            tx.pragma_update(None, "user_version", 2).unwrap();
            tx.commit().unwrap();
        }
        let mut s = crate::history::Store::open(&p).unwrap();
        let t = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .unwrap()
                .with_timezone(&crate::values::jst())
                .fixed_offset()
        };
        let all = s
            .incidents_between(&t(0), &t(t0 + 86_400_000), true)
            .unwrap();
        assert_eq!(all.len(), 4);
        for (n, i) in all.iter().enumerate() {
            assert_eq!(i.id, n as i64 + 1);
            assert_eq!(i.state(), State::Closed);
            assert_eq!(i.system.as_deref(), Some("AI見積りシステム"));
            assert_eq!(i.calls, 1);
            assert_eq!(
                i.opened_at.to_rfc3339(),
                t(i.opened_at.timestamp_millis()).to_rfc3339()
            );
        }
        assert_eq!(all[3].time_to_recover(), Some(chrono::Duration::minutes(2)));
        assert_eq!(all[0].time_to_recover(), None);
        let runs: Vec<(i64, i64)> = {
            let c = Connection::open(&p).unwrap();
            let mut st = c
                .prepare("SELECT incident_id, run_id FROM incident_calls ORDER BY id")
                .unwrap();
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        assert_eq!(runs, vec![(1, 1), (2, 2), (3, 3), (4, 4)]);
        let call = IncidentCall {
            run_id: None,
            level: "p1".into(),
            name: None,
            system: Some("AI見積りシステム".into()),
            runbook: "incident-p1".into(),
            host: "web01".into(),
            at: t(t0 + 20 * 60_000),
            since: None,
            outcome: CallOutcome::Diagnosed,
            trouble: true,
            executed: false,
            healthy: false,
            verified_at: None,
            findings: "異常: ヘルスチェック".into(),
            actions: String::new(),
            line: String::new(),
            reporter: None,
            force_new: false,
        };
        assert!(matches!(
            s.record_incident_call(&call).unwrap(),
            Recorded::Opened(i) if i.id == 5
        ));
    }

    #[test]
    fn status_codes_round_trip() {
        for s in [
            Status::Pass,
            Status::Warn,
            Status::Fail,
            Status::Unknown,
            Status::Skip,
            Status::Maint,
        ] {
            assert_eq!(status_from(status_code(s)), s);
        }
    }
}
