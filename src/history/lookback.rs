//! What a run reads from history before or while it runs: the previous
//! metrics of its checks (deadlocks or restarts since the last run), the
//! previous run's status (recovery notifications), a check's recent
//! statuses and its non-pass streak (`consecutive: N`), and a metric's
//! value nearest to an earlier time (`change: {vs: 7d}`).
//!
//! Every query here is O(log n) in the size of history: it reads the
//! `latest` / `latest_runs` rows or one end of a check's index range (the
//! test below checks each plan on a large database). Reads are read-only
//! and quick: a missing, locked, older or unreadable history gives
//! nothing rather than delaying the run.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::schema::{self, Version};
use super::stop;
use crate::values::outcome::Status;

/// How long a run waits for a writer's lock before going without history.
const QUICK: Duration = Duration::from_millis(200);

pub(crate) const PREVIOUS_METRICS: &str =
    "SELECT s.check_id, v.metrics, v.headline, x.metric, x.vals
     FROM series s
     JOIN latest l ON l.series_id = s.id
     JOIN results x ON x.series_id = l.series_id AND x.started_ms = l.started_ms
                   AND x.run_id = l.run_id AND x.seq = l.seq
     JOIN check_versions v ON v.id = x.version_id
     WHERE s.runbook = ?1";
pub(crate) const LAST_STATUS: &str = "SELECT status FROM latest_runs WHERE runbook = ?1";
pub(crate) const RECENT_STATUSES: &str = "SELECT x.status FROM series s
     JOIN results x ON x.series_id = s.id
     WHERE s.runbook = ?1 AND s.check_id = ?2 AND x.status != 4
     ORDER BY x.started_ms DESC, x.run_id DESC, x.seq DESC LIMIT ?3";
pub(crate) const STREAK: &str = "SELECT l.status, l.nonpass FROM series s
     JOIN latest l ON l.series_id = s.id
     WHERE s.runbook = ?1 AND s.check_id = ?2";
pub(crate) const AT_OR_BEFORE: &str = "SELECT x.started_ms, v.metrics, v.headline, x.metric, x.vals
     FROM series s
     JOIN results x ON x.series_id = s.id
     JOIN check_versions v ON v.id = x.version_id
     WHERE s.runbook = ?1 AND s.check_id = ?2 AND x.started_ms <= ?3 AND x.status != 4
       AND x.metric IS NOT NULL
     ORDER BY x.started_ms DESC, x.run_id DESC, x.seq DESC LIMIT 1";
pub(crate) const AFTER: &str = "SELECT x.started_ms, v.metrics, v.headline, x.metric, x.vals
     FROM series s
     JOIN results x ON x.series_id = s.id
     JOIN check_versions v ON v.id = x.version_id
     WHERE s.runbook = ?1 AND s.check_id = ?2 AND x.started_ms > ?3 AND x.status != 4
       AND x.metric IS NOT NULL
     ORDER BY x.started_ms, x.run_id, x.seq LIMIT 1";

/// A read-only view of history for a run.
pub struct Lookback {
    conn: Connection,
}

/// `(name, value)` of every metric of a stored result.
fn metrics(
    names_json: &str,
    headline: Option<i64>,
    metric: Option<f64>,
    vals: Option<&[u8]>,
) -> Vec<(String, f64)> {
    let v = Version {
        runbook: String::new(),
        check_id: String::new(),
        title: String::new(),
        label: String::new(),
        section: String::new(),
        kind: String::new(),
        hint: None,
        unit: None,
        unit_label: String::new(),
        metrics: serde_json::from_str(names_json).unwrap_or_default(),
        headline: headline.map(|h| h as usize),
        warn_limit: None,
        fail_limit: None,
    };
    v.metrics_of(metric, vals)
        .into_iter()
        .map(|(n, x, _)| (n, x))
        .collect()
}

impl Lookback {
    /// `None` when there is no history, it cannot be read now, or it has
    /// not been migrated to this opsrun's schema yet (the run's own record
    /// migrates it; the next run reads it).
    pub fn open(path: &Path) -> Option<Lookback> {
        if !path.exists() || stop::requested() {
            return None;
        }
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        stop::guard(&mut conn, QUICK).ok()?;
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .ok()?;
        (v == schema::VERSION).then_some(Lookback { conn })
    }

    /// The metrics each check of `runbook` recorded in its latest
    /// non-skipped result.
    pub fn previous_metrics(&self, runbook: &str) -> HashMap<String, HashMap<String, f64>> {
        let r = (|| -> rusqlite::Result<HashMap<String, HashMap<String, f64>>> {
            let mut stmt = self.conn.prepare_cached(PREVIOUS_METRICS)?;
            let mut rows = stmt.query([runbook])?;
            let mut out = HashMap::new();
            while let Some(r) = rows.next()? {
                let m = metrics(
                    r.get_ref(1)?.as_str()?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get_ref(4)?.as_blob_or_null()?,
                );
                out.insert(r.get(0)?, m.into_iter().collect());
            }
            Ok(out)
        })();
        r.unwrap_or_default()
    }

    /// The status of the latest complete (not interrupted) run of `runbook`.
    pub fn last_status(&self, runbook: &str) -> Option<Status> {
        self.conn
            .prepare_cached(LAST_STATUS)
            .and_then(|mut s| s.query_row([runbook], |r| r.get(0)).optional())
            .ok()
            .flatten()
            .map(schema::status_from)
    }

    /// The statuses of the latest `n` non-skipped results of a check,
    /// newest first.
    pub fn recent_statuses(&self, runbook: &str, check_id: &str, n: usize) -> Vec<Status> {
        let r = (|| -> rusqlite::Result<Vec<Status>> {
            self.conn
                .prepare_cached(RECENT_STATUSES)?
                .query_map(params![runbook, check_id, n as i64], |r| {
                    r.get(0).map(schema::status_from)
                })?
                .collect()
        })();
        r.unwrap_or_default()
    }

    /// The latest result's status and how many results in a row, up to
    /// it, were not pass (0 when it passed).
    pub fn streak(&self, runbook: &str, check_id: &str) -> Option<(Status, u32)> {
        self.conn
            .prepare_cached(STREAK)
            .and_then(|mut s| {
                s.query_row(params![runbook, check_id], |r| {
                    Ok((schema::status_from(r.get(0)?), r.get::<_, i64>(1)? as u32))
                })
                .optional()
            })
            .ok()
            .flatten()
    }

    /// The value of a check's `metric` (or its headline) in the sample
    /// nearest to `at_ms`: `(sample time, value)`. Samples without a
    /// headline value (a check that could not measure) do not count.
    pub fn value_near(
        &self,
        runbook: &str,
        check_id: &str,
        metric: Option<&str>,
        at_ms: i64,
    ) -> Option<(i64, f64)> {
        match (
            self.sample(AT_OR_BEFORE, runbook, check_id, metric, at_ms),
            self.sample(AFTER, runbook, check_id, metric, at_ms),
        ) {
            (Some(a), Some(b)) => Some(if at_ms - a.0 <= b.0 - at_ms { a } else { b }),
            (a, b) => a.or(b),
        }
    }

    /// The latest sample (with a headline value) strictly before `at_ms`.
    pub fn value_before(
        &self,
        runbook: &str,
        check_id: &str,
        metric: Option<&str>,
        at_ms: i64,
    ) -> Option<(i64, f64)> {
        self.sample(AT_OR_BEFORE, runbook, check_id, metric, at_ms - 1)
    }

    /// One sample of `sql` (`AT_OR_BEFORE` or `AFTER`): `(time, value)`.
    fn sample(
        &self,
        sql: &str,
        runbook: &str,
        check_id: &str,
        metric: Option<&str>,
        at_ms: i64,
    ) -> Option<(i64, f64)> {
        let read = |sql: &str| -> Option<(i64, f64)> {
            self.conn
                .prepare_cached(sql)
                .ok()?
                .query_row(params![runbook, check_id, at_ms], |r| {
                    let value = match metric {
                        None => r.get::<_, Option<f64>>(3)?,
                        Some(name) => metrics(
                            r.get_ref(1)?.as_str()?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get_ref(4)?.as_blob_or_null()?,
                        )
                        .into_iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v),
                    };
                    let when: i64 = r.get(0)?;
                    Ok(value.map(|v| (when, v)))
                })
                .ok()
                .flatten()
        };
        read(sql)
    }
}

/// The sample a `change:` compares with, `(time, value)`, for each check
/// `(id, vs)` of `runbook` at `now_ms`: for `previous` the latest earlier
/// result with a value; for a distance `d` the result nearest to
/// `now − d`, taken only within `d / 4` of it (so `30d` reads a sample
/// 22.5–37.5 days old, `1d` one 18–30 hours old: a month-over-month figure
/// is never made from last week's sample). Checks with none are absent.
pub fn baselines(
    path: &Path,
    runbook: &str,
    checks: &[(&str, crate::spec::common::Vs)],
    now_ms: i64,
) -> HashMap<String, (i64, f64)> {
    use crate::spec::common::Vs;
    let Some(l) = Lookback::open(path) else {
        return HashMap::new();
    };
    checks
        .iter()
        .filter_map(|(id, vs)| {
            let found = match vs {
                Vs::Previous => l.value_before(runbook, id, None, now_ms),
                Vs::Ago(d) => {
                    let d = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
                    let at = now_ms.saturating_sub(d);
                    l.value_near(runbook, id, None, at)
                        .filter(|(when, _)| (when - at).abs() <= d / 4)
                }
            };
            Some((id.to_string(), found?))
        })
        .collect()
}

/// [`Lookback::previous_metrics`] of the history at `path`.
pub fn previous_metrics(path: &Path, runbook: &str) -> HashMap<String, HashMap<String, f64>> {
    Lookback::open(path)
        .map(|l| l.previous_metrics(runbook))
        .unwrap_or_default()
}

/// For `consecutive:` checks: the non-pass results in a row that history
/// holds for each of `ids` of `runbook` (held-back results included: the
/// streak counts what was seen).
pub fn streaks(path: &Path, runbook: &str, ids: &[&str]) -> HashMap<String, u32> {
    let Some(l) = Lookback::open(path) else {
        return HashMap::new();
    };
    ids.iter()
        .filter_map(|id| Some((id.to_string(), l.streak(runbook, id)?.1)))
        .collect()
}

/// [`Lookback::last_status`] of the history at `path`, for "recovered"
/// notifications.
pub fn last_status(path: &Path, runbook: &str) -> Option<Status> {
    Lookback::open(path)?.last_status(runbook)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::store::{self, Store};
    use crate::history::{ResultRecord, RunRecord};
    use chrono::DateTime;

    const CHECKS: usize = 10;

    fn run(i: i64) -> RunRecord {
        let t0 = DateTime::parse_from_rfc3339("2025-01-01T00:00:00+09:00").unwrap();
        RunRecord {
            runbook: if i % 50 == 0 { "daily" } else { "probe" }.into(),
            title: "死活監視".into(),
            system: None,
            host: "h".into(),
            started_at: t0 + chrono::Duration::minutes(i),
            duration_ms: 5,
            interrupted: i % 97 == 0,
            results: (0..CHECKS)
                .map(|c| {
                    let status = match (i + c as i64) % 13 {
                        0 => Status::Fail,
                        1 => Status::Skip,
                        _ => Status::Pass,
                    };
                    let v = (i % 100) as f64 + c as f64 / 3.0;
                    ResultRecord {
                        check_id: format!("c{c}"),
                        title: format!("check {c}"),
                        label: format!("確認{c}"),
                        section: "リソース使用状況".into(),
                        kind: "disk".into(),
                        hint: None,
                        status,
                        value: format!("{v:.1}%"),
                        metric: Some(v),
                        unit: Some("%".into()),
                        unit_label: String::new(),
                        metrics: vec![
                            ("used".into(), v, "%".into()),
                            ("free".into(), 1e9 - i as f64, "B".into()),
                        ],
                        message: if status == Status::Pass {
                            String::new()
                        } else {
                            "value over the limit".into()
                        },
                        message_ja: String::new(),
                        limit_ja: None,
                        warn_limit: Some(80.0),
                        fail_limit: Some(90.0),
                        duration_ms: 1,
                        attempts: 1,
                        observed: None,
                        pending: None,
                        maint_until_ms: None,
                    }
                })
                .collect(),
        }
    }

    /// `EXPLAIN QUERY PLAN` of `sql`, one line per step.
    fn plan(conn: &Connection, sql: &str, n: usize) -> Vec<String> {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let params: Vec<rusqlite::types::Value> = (0..n)
            .map(|i| match i {
                0 => rusqlite::types::Value::Text("probe".into()),
                1 => rusqlite::types::Value::Text("c3".into()),
                _ => rusqlite::types::Value::Integer(1_735_700_000_000),
            })
            .collect();
        stmt.query_map(rusqlite::params_from_iter(params), |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    /// How many VM steps a query takes, and whether it scanned a table.
    fn cost(conn: &Connection, sql: &str, params: &[&dyn rusqlite::ToSql]) -> (i32, i32) {
        let mut stmt = conn.prepare(sql).unwrap();
        {
            let mut rows = stmt.query(params).unwrap();
            while rows.next().unwrap().is_some() {}
        }
        (
            stmt.get_status(rusqlite::StatementStatus::VmStep),
            stmt.get_status(rusqlite::StatementStatus::FullscanStep),
        )
    }

    /// Every query a run makes, and every one a report makes, reads an
    /// index range: no table scan, no sort of the whole history, and a
    /// number of steps that does not grow with history (10,000 runs of ten
    /// checks here: a scan would take 100,000 steps or more).
    #[test]
    fn every_history_query_is_an_index_lookup_on_a_large_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let mut s = Store::open(&path).unwrap();
        let runs: Vec<RunRecord> = (0..10_000).map(run).collect();
        for chunk in runs.chunks(2_000) {
            s.record_all(chunk).unwrap();
        }
        drop(s);
        // opsrun never runs ANALYZE: the plans are the planner's own.
        let conn = Connection::open(&path).unwrap();
        let run_time: &[(&str, &str, usize)] = &[
            ("previous metrics", PREVIOUS_METRICS, 1),
            ("last status", LAST_STATUS, 1),
            ("recent statuses", RECENT_STATUSES, 3),
            ("non-pass streak", STREAK, 2),
            ("value at or before", AT_OR_BEFORE, 3),
            ("value after", AFTER, 3),
        ];
        let reports: &[(&str, &str, usize)] = &[
            ("series of a check", store::SERIES_OF, 2),
            ("samples", store::SAMPLES, 3),
            ("sample rows", store::SAMPLE_ROWS, 3),
            ("sample before", store::SAMPLE_BEFORE, 3),
            ("first in period", store::FIRST_IN, 3),
            ("day tally", store::DAY_TALLY, 3),
            ("last valued", store::LAST_VALUED, 3),
            ("fit sums", store::FIT_SUMS, 4),
            ("runs", store::RUNS_ALL, 4),
            ("runs of a runbook", store::RUNS_OF, 4),
            ("latest run", store::LATEST_RUN, 3),
            ("a run's results", store::RUN_RESULTS, 3),
            ("check version", schema::VERSION_SQL, 1),
        ];
        for (name, sql, n) in run_time.iter().chain(reports) {
            let p = plan(&conn, sql, *n);
            for line in &p {
                // `series` has a row per check, not per result.
                let scans_history = line.starts_with("SCAN") && line != "SCAN series";
                assert!(
                    !scans_history && !line.contains("TEMP B-TREE"),
                    "{name}: {line}\n{p:#?}"
                );
            }
        }
        // Run-time queries: few steps, no full scan, on 100,000 results.
        let steps: Vec<(&str, (i32, i32))> = vec![
            (
                "previous metrics",
                cost(&conn, PREVIOUS_METRICS, &[&"probe"]),
            ),
            ("last status", cost(&conn, LAST_STATUS, &[&"probe"])),
            (
                "recent statuses",
                cost(&conn, RECENT_STATUSES, &[&"probe", &"c3", &5]),
            ),
            ("streak", cost(&conn, STREAK, &[&"probe", &"c3"])),
            (
                "value at or before",
                cost(
                    &conn,
                    AT_OR_BEFORE,
                    &[&"probe", &"c3", &1_735_700_000_000_i64],
                ),
            ),
            (
                "value after",
                cost(&conn, AFTER, &[&"probe", &"c3", &1_735_700_000_000_i64]),
            ),
        ];
        for (name, (vm, full)) in steps {
            assert_eq!(full, 0, "{name} scanned a table");
            assert!(vm < 1_000, "{name}: {vm} VM steps");
        }
        // And they answer.
        let l = Lookback::open(&path).unwrap();
        let prev = l.previous_metrics("probe");
        assert_eq!(prev.len(), CHECKS);
        assert!(prev["c0"].contains_key("free"));
        // Run 9,999: (9999 + c) % 13 is 2..=11, all pass.
        assert_eq!(l.last_status("probe"), Some(Status::Pass));
        assert_eq!(l.recent_statuses("probe", "c3", 4).len(), 4);
        assert!(l.streak("probe", "c3").is_some());
        let t = DateTime::parse_from_rfc3339("2025-01-02T00:00:30+09:00")
            .unwrap()
            .timestamp_millis();
        let (when, v) = l.value_near("probe", "c0", Some("used"), t).unwrap();
        assert!((when - t).abs() <= 60_000, "{when} {t}");
        assert!(v >= 0.0);
    }

    #[test]
    fn previous_metrics_streaks_and_nearest_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        assert!(previous_metrics(&path, "probe").is_empty());
        let mut s = Store::open(&path).unwrap();
        // Minutes 1..=6 of probe (runs 97 and 0 excluded: interrupted / daily).
        for i in 1..=6 {
            s.record(&run(i), None).unwrap();
        }
        let l = Lookback::open(&path).unwrap();
        // Statuses follow (minute + check) % 13: 0 fail, 1 skip. Check c9: i=4 → 13 → fail, i=5 → skip (ignored), i=6 → pass.
        assert_eq!(
            l.recent_statuses("probe", "c9", 3),
            vec![Status::Pass, Status::Fail, Status::Pass]
        );
        assert_eq!(l.streak("probe", "c9"), Some((Status::Pass, 0)));
        // c7: i=6 → 13 → fail: a streak of one.
        assert_eq!(l.streak("probe", "c7"), Some((Status::Fail, 1)));
        let prev = l.previous_metrics("probe");
        assert_eq!(prev["c1"]["used"], 6.0 + 1.0 / 3.0);
        assert_eq!(prev["c1"]["free"], 1e9 - 6.0);
        // c8 was skipped at minute 6 (6 + 8 = 14 → 1): its previous is minute 5.
        assert_eq!(prev["c8"]["free"], 1e9 - 5.0);
        assert_eq!(last_status(&path, "probe"), Some(Status::Fail));
        assert_eq!(last_status(&path, "other"), None);
    }
}
