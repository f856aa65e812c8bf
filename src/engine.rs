//! The engine: runs a runbook's checks concurrently (bounded by
//! `--concurrency`), each attempt under a hard timeout, with retries, and
//! stops cleanly on Ctrl-C/SIGTERM. Results come back in runbook order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::check::{Attempt, Ctx, Failure, Kind, Overran};
use crate::judge;
use crate::runbook::{Check, Runbook};
use crate::secret;
use crate::values::outcome::{Outcome, Status, worst};
use crate::values::reason::{Reason, common};

/// Extra time the engine allows past a check's own deadline before it
/// drops the check: kinds bound their steps by the deadline and explain
/// which step was slow; this margin lets them say so.
const GRACE: Duration = Duration::from_millis(500);

/// Which checks of a runbook to run.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub only: Vec<String>,
    pub skip: Vec<String>,
    pub tags: Vec<String>,
}

impl Selection {
    /// Why a check is not selected, or `None` if it runs.
    pub fn excludes(&self, c: &Check) -> Option<Reason> {
        let (code, by) = if !self.only.is_empty() && !self.only.contains(&c.id) {
            (&common::NOT_ONLY, "--only")
        } else if self.skip.contains(&c.id) {
            (&common::SKIPPED, "--skip")
        } else if !self.tags.is_empty() && !c.tags.iter().any(|t| self.tags.contains(t)) {
            (&common::NOT_TAGGED, "--tag")
        } else {
            return None;
        };
        Some(Reason::new(code).with("by", by))
    }
}

/// The result of one check in a run.
#[derive(Clone, Debug)]
pub struct CheckResult {
    pub check: Arc<Check>,
    pub outcome: Outcome,
    pub duration: Duration,
    pub attempts: u32,
}

/// Why a run stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    Sigint,
    Sigterm,
}

/// A finished (or interrupted) run of one runbook.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub runbook: String,
    pub title: String,
    pub system: Option<String>,
    pub host: String,
    pub started_at: DateTime<FixedOffset>,
    pub duration: Duration,
    pub results: Vec<CheckResult>,
    pub interrupted: Option<Interrupt>,
}

impl RunResult {
    /// The run's status: the worst check status, where skipped checks
    /// count as passing (SPEC §2).
    pub fn status(&self) -> Status {
        match worst(self.results.iter().map(|r| r.outcome.status)) {
            Status::Skip | Status::Maint => Status::Pass,
            s => s,
        }
    }

    pub fn count(&self, s: Status) -> usize {
        self.results
            .iter()
            .filter(|r| r.outcome.status == s)
            .count()
    }
}

/// Settings for one run.
#[derive(Clone, Debug)]
pub struct RunSettings {
    /// Each check's metrics from its previous run (from history), by check id.
    pub previous: Arc<std::collections::HashMap<String, std::collections::HashMap<String, f64>>>,
    /// For checks with `consecutive: N`: how many non-pass results in a
    /// row history holds just before this run, by check id.
    pub streaks: Arc<std::collections::HashMap<String, u32>>,
    /// For checks with `change:`: the earlier sample each compares with,
    /// `(unix ms, headline value)`, by check id (absent: none in reach).
    /// `None` where history is not consulted (an incident's diagnosis and
    /// verify): `change:` is not judged there.
    pub baselines: Option<Arc<std::collections::HashMap<String, (i64, f64)>>>,
    /// Maintenance windows (runbook, config.yaml, silences) that may
    /// cover this run.
    pub maintenance: Arc<Vec<crate::spec::maintenance::Window>>,
    pub concurrency: usize,
    /// The invocation's clock in its own offset: what the checks read.
    pub now: DateTime<FixedOffset>,
    /// The zone people read the run's time in ([`RunResult::started_at`]).
    pub tz: crate::values::Zone,
    pub selection: Selection,
}

/// The host name, for reports and metrics.
pub fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// Runs every selected check of `rb`. `stop` turning `Some` interrupts the run.
pub async fn run(
    rb: &Runbook,
    settings: &RunSettings,
    mut stop: watch::Receiver<Option<Interrupt>>,
) -> RunResult {
    let started = Instant::now();
    let sem = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let mut slots: Vec<Option<CheckResult>> = vec![None; rb.checks.len()];
    let mut set = JoinSet::new();
    // A signal before the run began (while the runbooks loaded): nothing
    // starts, every selected check reads `interrupted`.
    let mut interrupted = *stop.borrow_and_update();
    for (i, check) in rb.checks.iter().enumerate() {
        if let Some(why) = settings.selection.excludes(check) {
            slots[i] = Some(CheckResult {
                check: check.clone(),
                outcome: {
                    let mut o = Outcome::new(Status::Skip, "");
                    o.worsen_by(Status::Skip, why);
                    o
                },
                duration: Duration::ZERO,
                attempts: 0,
            });
            continue;
        }
        if interrupted.is_some() {
            continue;
        }
        let check = check.clone();
        let sem = sem.clone();
        let now = settings.now;
        let previous = match settings.previous.get(&check.id) {
            Some(m) => {
                let m = m.clone();
                crate::check::Previous::new(move |name| m.get(name).copied())
            }
            None => Default::default(),
        };
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let r = run_check(check, now, previous).await;
            (i, r)
        });
    }

    while interrupted.is_none() {
        tokio::select! {
            joined = set.join_next() => match joined {
                Some(Ok((i, r))) => slots[i] = Some(r),
                Some(Err(e)) => tracing::error!("check task failed: {e}"),
                None => break,
            },
            changed = stop.changed() => {
                // Copied out: the channel's read guard must not live across
                // the awaits below (`opsrun serve` spawns runs, which must
                // be `Send`).
                let signal = *stop.borrow();
                if changed.is_ok() && let Some(sig) = signal {
                    interrupted = Some(sig);
                    // Dropping the tasks drops their futures: command checks
                    // kill their process groups in Drop.
                    set.abort_all();
                    while let Some(j) = set.join_next().await {
                        if let Ok((i, r)) = j { slots[i] = Some(r); }
                    }
                    break;
                }
            }
        }
    }

    let mut results: Vec<CheckResult> = slots
        .into_iter()
        .zip(rb.checks.iter())
        .map(|(slot, check)| {
            slot.unwrap_or_else(|| CheckResult {
                check: check.clone(),
                outcome: judge::judge(Attempt::Failed(Failure::unknown(Reason::new(
                    if interrupted.is_some() {
                        &common::INTERRUPTED
                    } else {
                        &common::UNFINISHED
                    },
                )))),
                duration: Duration::ZERO,
                attempts: 0,
            })
        })
        .collect();
    // `change:` first (a change past its limit is a non-pass result like
    // any other: `consecutive:` and maintenance then apply to it), on a
    // completed result only.
    if interrupted.is_none()
        && let Some(baselines) = &settings.baselines
    {
        for r in &mut results {
            if let Some(change) = &r.check.change {
                let then = baselines.get(&r.check.id).copied();
                judge::change(&mut r.outcome, change, then, &settings.tz);
                judge::apply_severity(&mut r.outcome, r.check.severity);
            }
        }
    }
    // `consecutive: N`: a completed non-pass result counts only as the
    // N-th in a row (an interrupted check has no result to hold).
    if interrupted.is_none() {
        for r in &mut results {
            if r.check.consecutive > 1 {
                let before = settings.streaks.get(&r.check.id).copied().unwrap_or(0);
                judge::hold_pending(&mut r.outcome, before, r.check.consecutive);
            }
        }
        // A planned stop: what fails inside a window is `maint`.
        let now_ms = settings.now.timestamp_millis();
        for r in &mut results {
            if let Some(w) = settings
                .maintenance
                .iter()
                .find(|w| w.covers(&rb.name, &r.check.id, now_ms))
            {
                let until = chrono::DateTime::from_timestamp_millis(w.to_ms)
                    .map(|t| settings.tz.at(&t).format("%m/%d %H:%M").to_string())
                    .unwrap_or_default();
                judge::hold_maintenance(&mut r.outcome, w, &until);
            }
        }
    }
    // A check may print a secret that another check reads only later
    // (`echo $TOKEN` before the `token_env` check): every secret is known
    // now, so redact all results again before anything is shown or stored.
    for r in &mut results {
        redact_outcome(&mut r.outcome);
    }
    RunResult {
        runbook: rb.name.clone(),
        title: rb.title.clone(),
        system: rb.system.clone(),
        host: hostname(),
        started_at: settings.tz.at(&settings.now),
        duration: started.elapsed(),
        results,
        interrupted,
    }
}

/// Runs one check with its retries; every attempt is bounded by its own
/// deadline, and the judge decides each attempt's status.
pub async fn run_check(
    check: Arc<Check>,
    now: DateTime<FixedOffset>,
    previous: crate::check::Previous,
) -> CheckResult {
    let started = Instant::now();
    let max = check.retry.map(|r| r.attempts.max(1)).unwrap_or(1);
    let mut attempts = 0;
    let mut outcome;
    loop {
        attempts += 1;
        let mut ctx = Ctx::new(now, check.timeout, check.base_dir());
        ctx.previous = previous.clone();
        outcome = attempt(check.kind.as_ref(), &ctx).await;
        if outcome.status == Status::Pass || attempts >= max {
            break;
        }
        if let Some(r) = check.retry {
            tokio::time::sleep(r.interval.0).await;
        }
    }
    if attempts > 1 && outcome.status == Status::Pass {
        outcome.detail.push(
            Reason::new(&common::RETRY_PASSED)
                .with("attempts", attempts)
                .into(),
        );
    } else if attempts > 1 {
        outcome.detail.push(
            Reason::new(&common::RETRY_STILL)
                .with("status", outcome.status.as_str())
                .with("attempts", attempts)
                .into(),
        );
    }
    judge::apply_severity(&mut outcome, check.severity);
    redact_outcome(&mut outcome);
    CheckResult {
        check,
        outcome,
        duration: started.elapsed(),
        attempts,
    }
}

/// One attempt of `kind` in `ctx`, judged. A kind that overruns its
/// deadline by more than the grace period is dropped (a command's process
/// group is killed on drop) and fails with `timeout`. Checks used as steps
/// (incident actions, backup steps) run through here too.
pub async fn attempt(kind: &dyn Kind, ctx: &Ctx) -> Outcome {
    let budget = ctx.deadline.budget();
    let a = match tokio::time::timeout(budget + GRACE, kind.run(ctx)).await {
        Ok(a) => a,
        Err(_) => Attempt::Failed(
            Failure::fail(Overran { after: budget }.reason(&common::TIMEOUT))
                .shown(crate::values::reason::said(&common::V_TIMEOUT)),
        ),
    };
    judge::judge(a)
}

fn redact_outcome(o: &mut Outcome) {
    o.value = secret::redact(&o.value);
    o.message = secret::redact(&o.message);
    for d in &mut o.detail {
        d.map_text(&secret::redact);
    }
    for r in &mut o.reasons {
        r.map_text(&secret::redact);
    }
}
