//! History (SPEC §7): every run and check result in a SQLite database, so
//! weekly and monthly reports can speak about uptime, trends and capacity,
//! and `opsrun history` / `opsrun report` can look back.
//!
//! [`RunRecord`] is a run as stored (and as the Japanese reports read it,
//! whether it comes from the run just made or from the database).

pub mod aggregation;
pub mod incidents;
pub mod listing;
pub mod lookback;
pub mod period;
pub mod schema;
pub mod session;
pub mod silence;
pub mod stop;
pub mod store;
pub mod summary;

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};

use crate::engine::RunResult;
use crate::secret;
use crate::values::outcome::Status;
use crate::values::units::trim_float;

pub use session::{HistorySettings, Session};
pub use store::{HistoryError, Store};
pub use summary::PeriodSummary;

/// A run as history keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    pub runbook: String,
    pub title: String,
    pub system: Option<String>,
    pub host: String,
    pub started_at: DateTime<FixedOffset>,
    pub duration_ms: u64,
    pub interrupted: bool,
    pub results: Vec<ResultRecord>,
}

/// One check's result as history keeps it: what the reports need, and
/// nothing secret (value and message are redacted before they are stored).
#[derive(Clone, Debug, PartialEq)]
pub struct ResultRecord {
    pub check_id: String,
    pub title: String,
    pub label: String,
    pub section: String,
    pub kind: String,
    pub hint: Option<String>,
    pub status: Status,
    pub value: String,
    /// Headline metric and its unit (`%`, `ms`, `B`, `days`, `count`, ``).
    pub metric: Option<f64>,
    pub unit: Option<String>,
    /// The display suffix of a unitless value (`件` for `value: {unit: 件}`).
    pub unit_label: String,
    pub metrics: Vec<(String, f64, String)>,
    pub message: String,
    /// The message in Japanese (the reasons in the Japanese words), for
    /// the Japanese documents; empty when there is none (a pass, or a run
    /// recorded before issue 14: the documents fall back to `message`).
    pub message_ja: String,
    /// `警告閾値 80%` when the status came with a threshold.
    pub limit_ja: Option<String>,
    pub warn_limit: Option<f64>,
    pub fail_limit: Option<f64>,
    pub duration_ms: u64,
    pub attempts: u32,
    /// What was seen when `consecutive:` held the result back (`status`
    /// is then pass): the streak of non-pass results counts this.
    pub observed: Option<Status>,
    /// `consecutive:`'s count when the result was held back: the `seen`-th
    /// non-pass result of the `of` that count. Only for this run's
    /// results (history keeps `observed`, not the count).
    pub pending: Option<(u32, u32)>,
    /// For a `maint` result: when its maintenance window ends (unix ms).
    /// Uptime counts the result's time as 計画停止 only until then; what
    /// follows, until the next result, is 欠測 (nothing measured it).
    pub maint_until_ms: Option<i64>,
}

impl RunRecord {
    pub fn from_run(run: &RunResult) -> RunRecord {
        RunRecord {
            runbook: run.runbook.clone(),
            title: run.title.clone(),
            system: run.system.clone(),
            host: run.host.clone(),
            started_at: run.started_at,
            duration_ms: run.duration.as_millis() as u64,
            interrupted: run.interrupted.is_some(),
            results: run
                .results
                .iter()
                .map(|r| {
                    let o = &r.outcome;
                    let th = o.threshold.as_ref();
                    ResultRecord {
                        check_id: r.check.id.clone(),
                        title: r.check.title.clone(),
                        label: r.check.label.clone(),
                        section: r.check.section.clone(),
                        kind: r.check.kind_name.to_owned(),
                        hint: r.check.hint.clone(),
                        status: o.status,
                        value: secret::redact(&o.value),
                        metric: o.metric.as_ref().map(|m| m.value).filter(|v| v.is_finite()),
                        unit: o.metric.as_ref().map(|m| m.unit.to_owned()),
                        unit_label: o
                            .metric
                            .as_ref()
                            .filter(|m| m.unit.is_empty())
                            .map(|m| unit_label(&o.value, m.value))
                            .unwrap_or_default(),
                        metrics: o
                            .metrics
                            .iter()
                            .filter(|(_, m)| m.value.is_finite())
                            .map(|(n, m)| (n.clone(), m.value, m.unit.to_owned()))
                            .collect(),
                        message: secret::redact(&o.message),
                        message_ja: secret::redact(&crate::values::reason::message_ja(&o.reasons)),
                        limit_ja: th.and_then(|t| t.ja_limit(o.status)),
                        warn_limit: th.and_then(|t| t.warn.as_ref()).map(|l| l.value),
                        fail_limit: th.and_then(|t| t.fail.as_ref()).map(|l| l.value),
                        duration_ms: r.duration.as_millis() as u64,
                        attempts: r.attempts,
                        observed: o.pending.map(|p| p.observed),
                        pending: o.pending.map(|p| (p.seen, p.of)),
                        maint_until_ms: o.maintenance.as_ref().map(|m| m.until_ms),
                    }
                })
                .collect(),
        }
    }

    pub fn status(&self) -> Status {
        crate::values::outcome::worst(self.results.iter().map(|r| r.status))
    }

    pub fn count(&self, s: Status) -> usize {
        self.results.iter().filter(|r| r.status == s).count()
    }
}

/// `5件` for a value of 5 → `件`: a `command` value's unit label lives only
/// in its display text.
fn unit_label(display: &str, v: f64) -> String {
    let num = trim_float(v, 2);
    display
        .strip_prefix(num.as_str())
        .map(|s| s.trim().to_owned())
        .filter(|s| s.chars().count() <= 8)
        .unwrap_or_default()
}

/// Where history lives when neither `--history` nor `OPSRUN_HISTORY` says:
/// `/var/lib/opsrun/history.db` for root, else
/// `$XDG_STATE_HOME/opsrun/history.db` (`~/.local/state/…`).
pub fn default_path() -> PathBuf {
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/var/lib/opsrun/history.db");
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| Path::new(&h).join(".local/state"))
        })
        .unwrap_or_else(|| PathBuf::from("."));
    state.join("opsrun/history.db")
}

/// The history path from `--history`/`OPSRUN_HISTORY` (an empty value
/// counts as unset), else the default.
pub fn resolve_path(given: Option<&Path>) -> PathBuf {
    given
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(default_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_path_resolution() {
        assert_eq!(
            resolve_path(Some(Path::new("/x/h.db"))),
            PathBuf::from("/x/h.db")
        );
        // An empty OPSRUN_HISTORY is unset, not the current directory.
        assert_eq!(resolve_path(Some(Path::new(""))), default_path());
        if rustix::process::geteuid().is_root() {
            assert_eq!(default_path(), PathBuf::from("/var/lib/opsrun/history.db"));
        } else {
            assert!(default_path().ends_with("opsrun/history.db"));
        }
    }

    #[test]
    fn unit_labels_come_from_the_display() {
        assert_eq!(unit_label("5件", 5.0), "件");
        assert_eq!(unit_label("65.5%", 65.5), "%");
        assert_eq!(unit_label("12", 12.0), "");
        assert_eq!(unit_label("exit 0", 3.0), "");
    }
}
