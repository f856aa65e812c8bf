//! The history of one invocation: where the database is, whether this run
//! is recorded, and the store kept open afterwards so the reports of the
//! same invocation read what was just written.

use std::path::PathBuf;
use std::time::Duration;

use super::period::Period;
use super::store::Store;
use super::summary::{self, PeriodSummary};
use super::{HistoryError, RunRecord};
use crate::runbook::ReportSpec;

/// How this invocation uses history (resolved once from the command line).
#[derive(Clone, Debug)]
pub struct HistorySettings {
    /// The database (`--history`, `OPSRUN_HISTORY`, else the default).
    pub path: PathBuf,
    /// `false` with `--no-history`: nothing is written, reports still read.
    pub record: bool,
    /// History older than this is dropped when recording.
    pub retention: Duration,
}

/// The outcome of recording a run: the store (kept open for the report),
/// and why recording failed, if it did.
pub struct Session {
    pub path: PathBuf,
    pub store: Option<Store>,
    pub error: Option<HistoryError>,
    pub skipped: bool,
    /// The ids `runs` were recorded under, in order.
    pub run_ids: Vec<i64>,
}

impl Session {
    /// Records `runs` (after the async runtime is done: rusqlite blocks). A
    /// locked or corrupt database does not fail the run: the error is
    /// kept for a warning and the caller exits with the checks' status.
    pub fn record(settings: &HistorySettings, runs: &[RunRecord]) -> Session {
        let path = settings.path.clone();
        if !settings.record {
            return Session {
                path,
                store: None,
                error: None,
                skipped: true,
                run_ids: vec![],
            };
        }
        let mut store = match Store::open(&path) {
            Ok(s) => s,
            Err(e) => {
                return Session {
                    path,
                    store: None,
                    error: Some(e),
                    skipped: false,
                    run_ids: vec![],
                };
            }
        };
        let mut error = None;
        let mut run_ids = Vec::with_capacity(runs.len());
        for r in runs {
            match store.record(r, Some(settings.retention)) {
                Ok(id) => run_ids.push(id),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        Session {
            path,
            store: Some(store),
            error,
            skipped: false,
            run_ids,
        }
    }

    /// A session that has not recorded (yet): nothing written, nothing open.
    pub fn unrecorded(settings: &HistorySettings) -> Session {
        Session {
            path: settings.path.clone(),
            store: None,
            error: None,
            skipped: true,
            run_ids: vec![],
        }
    }

    /// The line printed on stderr when the run could not be recorded.
    pub fn warning(&self) -> Option<String> {
        self.error.as_ref().map(|e| {
            format!("warning: could not record this run in history: {e} (the checks ran and their results above are complete)")
        })
    }

    /// History's part of a weekly/monthly report; `(None, None)` when there
    /// is no history at all, `(None, Some(why))` when it cannot be read.
    pub fn period_summary(
        &mut self,
        spec: &ReportSpec,
        period: &Period,
        runbook: &str,
        system: Option<&str>,
    ) -> (Option<PeriodSummary>, Option<String>) {
        if self.store.is_none() && self.error.is_none() {
            match Store::open_existing(&self.path) {
                Ok(s) => self.store = s,
                Err(e) => return (None, Some(e.reason)),
            }
        }
        match &self.store {
            Some(s) => match summary::summarize(s, spec, period, runbook, system) {
                Ok(sum) => (Some(sum), None),
                Err(e) => (None, Some(e.reason)),
            },
            None => (None, self.error.as_ref().map(|e| e.reason.clone())),
        }
    }
}
