//! What `opsrun history` shows, as data read from the store: the recent
//! runs, or one check's results over a window with their statistics. The
//! presentation layer (`output::history`) turns a [`Listing`] into the
//! table or JSON; the command layer only asks for it.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use super::HistoryError;
use super::aggregation;
use super::store::{RunRow, SampleRow, Store};
use crate::runbook::CheckRef;
use crate::values::Stat;

/// One `opsrun history` answer.
#[derive(Clone, Debug)]
pub enum Listing {
    Runs(Runs),
    Series(Series),
    Incidents(Incidents),
}

/// `opsrun incident list`: incidents opened in the window and every one
/// still open, oldest first.
#[derive(Clone, Debug)]
pub struct Incidents {
    pub incidents: Vec<super::incidents::IncidentRecord>,
    /// How far back the window reaches (`--since`).
    pub since: Duration,
    /// The database read.
    pub path: PathBuf,
}

/// Incidents opened in the `since` before `now`, and every one still open.
pub fn incidents(
    store: &Store,
    now: DateTime<FixedOffset>,
    since: Duration,
) -> Result<Incidents, HistoryError> {
    let (from, to) = window(now, since);
    Ok(Incidents {
        incidents: store.incidents_between(&from, &to, true)?,
        since,
        path: store.path().to_owned(),
    })
}

/// The latest runs in the window, oldest first.
#[derive(Clone, Debug)]
pub struct Runs {
    pub runs: Vec<RunRow>,
    /// `--runbook`, when the runs are of one runbook.
    pub runbook: Option<String>,
    /// How far back the window reaches (`--since`).
    pub since: Duration,
    /// The database read.
    pub path: PathBuf,
}

/// Every recorded result of one check in the window, oldest first.
#[derive(Clone, Debug)]
pub struct Series {
    pub check: CheckRef,
    /// Not empty (an empty series is [`SeriesError::NoResults`]).
    pub rows: Vec<SampleRow>,
    /// Where the window starts.
    pub from: DateTime<FixedOffset>,
    /// Rows shown at most in the table (the newest); JSON has them all.
    pub limit: usize,
    /// Min, avg and max of the numeric results, when there are any.
    pub stats: Option<Stats>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
    /// How many results had a number.
    pub count: usize,
}

impl Series {
    /// The numeric results, oldest first.
    pub fn values(&self) -> Vec<f64> {
        self.rows.iter().filter_map(|r| r.sample.value).collect()
    }

    /// The latest row (the check's current label and unit).
    pub fn last(&self) -> &SampleRow {
        self.rows.last().expect("a series is not empty")
    }
}

/// Why a check has no series.
#[derive(Debug)]
pub enum SeriesError {
    History(HistoryError),
    /// No result of the check in the window; `seen` are the check ids
    /// recorded in it (for a "did you mean").
    NoResults {
        seen: Vec<String>,
    },
}

impl From<HistoryError> for SeriesError {
    fn from(e: HistoryError) -> SeriesError {
        SeriesError::History(e)
    }
}

/// The window `[now - since, now]`.
pub fn window(
    now: DateTime<FixedOffset>,
    since: Duration,
) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
    let to = now + chrono::Duration::milliseconds(1);
    let from = now - chrono::Duration::milliseconds(since.as_millis() as i64);
    (from, to)
}

/// The latest `limit` runs (of `runbook`, if given) in the `since` before `now`.
pub fn runs(
    store: &Store,
    runbook: Option<&str>,
    now: DateTime<FixedOffset>,
    since: Duration,
    limit: usize,
) -> Result<Runs, HistoryError> {
    let (from, to) = window(now, since);
    Ok(Runs {
        runs: store.runs(runbook, &from, &to, limit)?,
        runbook: runbook.map(str::to_owned),
        since,
        path: store.path().to_owned(),
    })
}

/// One check's results in the `since` before `now`.
pub fn series(
    store: &Store,
    check: CheckRef,
    now: DateTime<FixedOffset>,
    since: Duration,
    limit: usize,
) -> Result<Series, SeriesError> {
    let (from, to) = window(now, since);
    let rows = store.samples(&check, None, &from, &to)?;
    if rows.is_empty() {
        let mut seen: Vec<String> = store
            .checks_seen(&from, &to)?
            .into_iter()
            .map(|c| c.check_id)
            .collect();
        seen.dedup();
        return Err(SeriesError::NoResults { seen });
    }
    let samples: Vec<_> = rows.iter().map(|r| r.sample.clone()).collect();
    let count = samples.iter().filter(|s| s.value.is_some()).count();
    let stats = (count > 0).then(|| Stats {
        min: aggregation::stat(&samples, Stat::Min, &[]).unwrap_or(0.0),
        avg: aggregation::stat(&samples, Stat::Avg, &[]).unwrap_or(0.0),
        max: aggregation::stat(&samples, Stat::Max, &[]).unwrap_or(0.0),
        count,
    });
    Ok(Series {
        check,
        rows,
        from,
        limit,
        stats,
    })
}
