//! The fleet as Prometheus sees it (`opsrun fleet report`, SPEC §10.7):
//! every host's latest opsrun results, read from the `opsrun_*` series
//! each host's textfile put there (`output/prometheus.rs` writes them),
//! as typed values. [`fetch`] asks Prometheus; [`Fleet::from_series`]
//! builds the model from what it answered, so the model is tested
//! without a server. No words here: the presentation layer
//! (`output/fleet/`) says it.
//!
//! A host is a scrape target: its `instance` label (as Prometheus sets
//! it, usually relabelled to the host name) with its `job`. A host is
//! stale when the newest of its runbooks' last runs is older than the
//! stale limit (26h by default: a daily runbook that missed a day), and
//! down when Prometheus's `up` is 0 for it — its opsrun series are gone
//! then (Prometheus marks them stale), so a down target is listed only
//! when its job is one whose other targets carry opsrun series.

mod fetch;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};

pub(crate) use fetch::{FetchError, Query, fetch};

use crate::values::outcome::Status;
use crate::values::units::Unit;

/// One fleet report's data.
#[derive(Clone, Debug)]
pub(crate) struct Fleet {
    /// The Prometheus URL asked (userinfo and tokens redacted).
    pub source: String,
    /// The `--match` selector, as given.
    pub matcher: Option<String>,
    /// The report's clock: "now" for ages and staleness.
    pub at: DateTime<FixedOffset>,
    pub stale_after: Duration,
    /// Every host with opsrun series, by instance.
    pub hosts: Vec<Host>,
    /// Scrape targets that are down (`up` 0) in jobs that carry opsrun
    /// series, by instance.
    pub down: Vec<Target>,
}

/// A scrape target: `instance` and `job` labels.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Target {
    pub instance: String,
    pub job: Option<String>,
}

/// One host's latest opsrun results.
#[derive(Clone, Debug)]
pub(crate) struct Host {
    pub target: Target,
    /// By runbook name.
    pub runbooks: Vec<RunbookState>,
}

/// One runbook's latest run on a host.
#[derive(Clone, Debug)]
pub(crate) struct RunbookState {
    pub name: String,
    /// `opsrun_run_status`; without it (a file of an older opsrun), the
    /// worst of its checks.
    pub status: Status,
    pub last_run: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    /// By check id.
    pub checks: Vec<CheckState>,
}

/// One check's latest result on a host.
#[derive(Clone, Debug)]
pub(crate) struct CheckState {
    pub id: String,
    pub kind: Option<String>,
    pub status: Status,
    /// `opsrun_check_value` with its `unit` label.
    pub value: Option<Measure>,
    /// `opsrun_cert_not_after_timestamp_seconds`.
    pub cert_not_after: Option<DateTime<Utc>>,
    /// `opsrun_backup_last_timestamp_seconds`.
    pub backup_last: Option<DateTime<Utc>>,
}

/// A check's headline number. `unit` is `None` for a unit label opsrun
/// does not write (the number is shown bare).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Measure {
    pub value: f64,
    pub unit: Option<Unit>,
}

/// A non-pass check of a host, for the list of problems.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Problem<'a> {
    pub host: &'a Host,
    pub runbook: &'a RunbookState,
    pub check: &'a CheckState,
}

/// One sample of an instant query: its labels and value.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

/// The status a `opsrun_check_status`/`opsrun_run_status` value codes
/// (0 pass, 1 warn, 2 fail, 3 unknown; anything else is unknown).
pub(crate) fn status_of_code(v: f64) -> Status {
    match v {
        0.0 => Status::Pass,
        1.0 => Status::Warn,
        2.0 => Status::Fail,
        _ => Status::Unknown,
    }
}

fn time_of(v: f64) -> Option<DateTime<Utc>> {
    if !v.is_finite() {
        return None;
    }
    DateTime::from_timestamp_millis((v * 1000.0).round() as i64)
}

impl Host {
    /// The newest last run of its runbooks.
    pub fn last_run(&self) -> Option<DateTime<Utc>> {
        self.runbooks.iter().filter_map(|r| r.last_run).max()
    }

    /// The worst status of its runbooks.
    pub fn status(&self) -> Status {
        self.runbooks
            .iter()
            .map(|r| r.status)
            .max()
            .unwrap_or(Status::Pass)
    }

    pub fn runbook(&self, name: &str) -> Option<&RunbookState> {
        self.runbooks.iter().find(|r| r.name == name)
    }
}

impl Fleet {
    /// Builds the fleet from the opsrun series and the `up` series of the
    /// same selector.
    pub fn from_series(
        source: String,
        matcher: Option<String>,
        at: DateTime<FixedOffset>,
        stale_after: Duration,
        opsrun: &[Sample],
        up: &[Sample],
    ) -> Fleet {
        let mut hosts: BTreeMap<Target, BTreeMap<String, RunbookState>> = BTreeMap::new();
        // Checks first (a runbook's status defaults to its worst check's),
        // then the run-level series.
        let mut ordered: Vec<&Sample> = opsrun.iter().collect();
        ordered.sort_by_key(|s| {
            !s.label("__name__")
                .is_some_and(|n| n.starts_with("opsrun_check_"))
        });
        for s in ordered {
            let (Some(name), Some(rb)) = (s.label("__name__"), s.label("runbook")) else {
                continue;
            };
            let target = Target {
                instance: s.label("instance").unwrap_or("").to_owned(),
                job: s.label("job").map(str::to_owned),
            };
            let runbook = hosts
                .entry(target)
                .or_default()
                .entry(rb.to_owned())
                .or_insert_with(|| RunbookState {
                    name: rb.to_owned(),
                    status: Status::Pass,
                    last_run: None,
                    last_success: None,
                    checks: Vec::new(),
                });
            match name {
                "opsrun_run_status" => runbook.status = status_of_code(s.value),
                "opsrun_run_last_run_timestamp_seconds" => runbook.last_run = time_of(s.value),
                "opsrun_run_last_success_timestamp_seconds" => {
                    runbook.last_success = time_of(s.value)
                }
                _ => {
                    let Some(id) = s.label("check") else {
                        continue;
                    };
                    let check = match runbook.checks.iter().position(|c| c.id == id) {
                        Some(i) => &mut runbook.checks[i],
                        None => {
                            runbook.checks.push(CheckState {
                                id: id.to_owned(),
                                kind: None,
                                status: Status::Pass,
                                value: None,
                                cert_not_after: None,
                                backup_last: None,
                            });
                            runbook.checks.last_mut().expect("just pushed")
                        }
                    };
                    match name {
                        "opsrun_check_status" => {
                            check.status = status_of_code(s.value);
                            check.kind = s.label("kind").map(str::to_owned);
                            runbook.status = runbook.status.max(check.status);
                        }
                        "opsrun_check_value" => {
                            check.value = Some(Measure {
                                value: s.value,
                                unit: Unit::from_symbol(s.label("unit").unwrap_or("")),
                            })
                        }
                        "opsrun_cert_not_after_timestamp_seconds" => {
                            check.cert_not_after = time_of(s.value)
                        }
                        "opsrun_backup_last_timestamp_seconds" => {
                            check.backup_last = time_of(s.value)
                        }
                        _ => {}
                    }
                }
            }
        }
        let hosts: Vec<Host> = hosts
            .into_iter()
            .map(|(target, runbooks)| {
                let mut runbooks: Vec<RunbookState> = runbooks.into_values().collect();
                for r in &mut runbooks {
                    r.checks.sort_by(|a, b| a.id.cmp(&b.id));
                }
                Host { target, runbooks }
            })
            .collect();
        let jobs: Vec<Option<&str>> = hosts.iter().map(|h| h.target.job.as_deref()).collect();
        let mut down: Vec<Target> = up
            .iter()
            .filter(|s| s.value == 0.0 && jobs.contains(&s.label("job")))
            .map(|s| Target {
                instance: s.label("instance").unwrap_or("").to_owned(),
                job: s.label("job").map(str::to_owned),
            })
            .filter(|t| !hosts.iter().any(|h| h.target == *t))
            .collect();
        down.sort();
        down.dedup();
        Fleet {
            source,
            matcher,
            at,
            stale_after,
            hosts,
            down,
        }
    }

    /// Every runbook name seen on any host, sorted: the matrix's columns.
    pub fn runbook_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .hosts
            .iter()
            .flat_map(|h| h.runbooks.iter().map(|r| r.name.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Whether `host`'s newest run is older than the stale limit (a host
    /// with no last-run series is not judged).
    pub fn is_stale(&self, host: &Host) -> bool {
        host.last_run()
            .is_some_and(|t| self.age(t) > self.stale_after)
    }

    /// How long ago `t` was, on the report's clock (zero for a time
    /// ahead of it).
    pub fn age(&self, t: DateTime<Utc>) -> Duration {
        (self.at.with_timezone(&Utc) - t)
            .to_std()
            .unwrap_or_default()
    }

    pub fn stale_hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| self.is_stale(h))
    }

    /// Every non-pass check, host by host, runbook by runbook.
    pub fn problems(&self) -> Vec<Problem<'_>> {
        let mut out = Vec::new();
        for host in &self.hosts {
            for runbook in &host.runbooks {
                for check in &runbook.checks {
                    if check.status != Status::Pass {
                        out.push(Problem {
                            host,
                            runbook,
                            check,
                        });
                    }
                }
            }
        }
        out
    }

    /// The fleet's status, ordered as a run's: the worst check of any
    /// host; a stale host or a down target counts as `fail` (a runbook
    /// that stopped running is as a backup past `max_age`, a target that
    /// does not answer as a refused connection: SPEC §2).
    pub fn status(&self) -> Status {
        let worst = self
            .hosts
            .iter()
            .map(Host::status)
            .max()
            .unwrap_or(Status::Pass);
        if self.down.is_empty() && self.stale_hosts().next().is_none() {
            worst
        } else {
            Status::Fail
        }
    }

    /// Hosts by their own status (stale and down counted apart).
    pub fn count(&self, status: Status) -> usize {
        self.hosts.iter().filter(|h| h.status() == status).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> Sample {
        let mut l: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.insert("__name__".into(), name.into());
        Sample { labels: l, value }
    }

    /// `--stale`'s default (SPEC §10.7).
    const STALE_AFTER: Duration = Duration::from_secs(26 * 3600);

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn hosts_runbooks_checks_and_staleness() {
        let web = [("instance", "web1"), ("job", "node")];
        let db = [("instance", "db1"), ("job", "node")];
        let with = |base: &[(&'static str, &'static str)],
                    more: &[(&'static str, &'static str)]| {
            let mut v = base.to_vec();
            v.extend_from_slice(more);
            v
        };
        let now = at("2025-10-21T10:00:00+09:00");
        let t = now.timestamp() as f64;
        let series = vec![
            sample(
                "opsrun_check_status",
                &with(
                    &web,
                    &[("runbook", "daily"), ("check", "disk"), ("kind", "disk")],
                ),
                0.0,
            ),
            sample(
                "opsrun_check_value",
                &with(
                    &web,
                    &[("runbook", "daily"), ("check", "disk"), ("unit", "%")],
                ),
                42.0,
            ),
            sample(
                "opsrun_run_last_run_timestamp_seconds",
                &with(&web, &[("runbook", "daily")]),
                t - 3600.0,
            ),
            sample(
                "opsrun_check_status",
                &with(
                    &db,
                    &[("runbook", "daily"), ("check", "web"), ("kind", "http")],
                ),
                2.0,
            ),
            sample(
                "opsrun_run_last_run_timestamp_seconds",
                &with(&db, &[("runbook", "daily")]),
                t - 27.0 * 3600.0,
            ),
        ];
        let up = vec![
            sample("up", &web, 1.0),
            sample("up", &db, 1.0),
            sample("up", &[("instance", "gone"), ("job", "node")], 0.0),
            sample("up", &[("instance", "other"), ("job", "blackbox")], 0.0),
        ];
        let f = Fleet::from_series("u".into(), None, now, STALE_AFTER, &series, &up);
        assert_eq!(f.hosts.len(), 2);
        assert_eq!(f.hosts[0].target.instance, "db1");
        assert_eq!(f.hosts[0].status(), Status::Fail);
        assert_eq!(f.hosts[1].status(), Status::Pass);
        let disk = &f.hosts[1].runbooks[0].checks[0];
        assert_eq!(
            disk.value,
            Some(Measure {
                value: 42.0,
                unit: Some(Unit::Percent)
            })
        );
        assert_eq!(disk.kind.as_deref(), Some("disk"));
        let stale: Vec<_> = f
            .stale_hosts()
            .map(|h| h.target.instance.as_str())
            .collect();
        assert_eq!(stale, ["db1"]);
        assert_eq!(f.problems().len(), 1);
        // Only the down target of a job with opsrun series.
        assert_eq!(
            f.down,
            [Target {
                instance: "gone".into(),
                job: Some("node".into())
            }]
        );
        assert_eq!(f.status(), Status::Fail);
        assert_eq!(f.runbook_names(), ["daily"]);
    }

    #[test]
    fn a_run_status_series_wins_over_the_checks() {
        let l = [("instance", "a"), ("runbook", "daily")];
        let f = Fleet::from_series(
            "u".into(),
            None,
            at("2025-10-21T10:00:00+09:00"),
            STALE_AFTER,
            &[
                sample("opsrun_run_status", &l, 1.0),
                sample(
                    "opsrun_check_status",
                    &[("instance", "a"), ("runbook", "daily"), ("check", "x")],
                    0.0,
                ),
            ],
            &[],
        );
        assert_eq!(f.hosts[0].status(), Status::Warn);
        assert_eq!(f.status(), Status::Warn);
        assert_eq!(status_of_code(7.0), Status::Unknown);
    }
}
