//! `opsrun incident p1..p4`: the on-call workflow of SPEC §8. Diagnose
//! first (every check of `incident-pN.yaml`), show the recovery plan, run
//! it only with `--execute` (asking y/N per step on a terminal, `--yes`
//! otherwise), re-run `verify` until it passes, then print the 障害報告.
//! Without `--execute` nothing on the host is changed.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use tokio::sync::watch;

use crate::check::Ctx;
use crate::engine::{self, Interrupt, RunResult, RunSettings, Selection};
use crate::runbook::{Action, Level, Runbook, Step};
use crate::values::outcome::Status;
use crate::values::reason::{Code, Reason, common};
use crate::values::units::Unit;

/// The reason catalog entries of recovery actions (docs/reasons.md); a
/// step that overruns its `timeout` says the common `timeout {after}`.
pub mod reasons {
    use super::Code;

    /// `systemctl` ended with a non-zero status; `line` is the last line
    /// it printed, when it printed one.
    pub static EXIT: Code = Code::new("action.exit", "exit {code}[: {line}]");
    /// `systemctl` was killed by a signal.
    pub static KILLED: Code = Code::new("action.killed", "killed by a signal");
    /// The program could not be started.
    pub static SPAWN: Code = Code::new("action.spawn", "cannot run {program}: {error}");
    /// A backup step in an incident runbook (the loader refuses them).
    pub static BACKUP_STEP: Code = Code::new(
        "action.backup_step",
        "backup steps run with `opsrun backup run`",
    );
    /// A check used as a step did not pass; `message` is its own words.
    pub static CHECK: Code = Code::new("action.check", "{message}");

    /// Every entry (docs/reasons.md lists them).
    pub static CODES: &[&Code] = &[&EXIT, &KILLED, &SPAWN, &BACKUP_STEP, &CHECK];
}

/// What happened to one recovery action.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionState {
    Succeeded,
    /// Why, as data (one reason, or a check step's reasons).
    Failed(Vec<Reason>),
    /// Stopped by SIGINT/SIGTERM while it ran.
    Interrupted(Interrupt),
    /// The operator answered no at the prompt.
    Declined,
    /// Its `when:` condition was not met by the diagnosis: not run, and
    /// listed as such (`スキップ（条件不一致）`).
    Unmet,
    /// Not executed (no `--execute`, refused, or stopped after a failure).
    NotRun,
}

#[derive(Clone, Debug)]
pub struct ActionResult {
    pub id: String,
    pub title: String,
    pub describe: String,
    /// A `wait:` step (not something anyone did or has to do).
    pub wait: bool,
    pub state: ActionState,
    pub output: Vec<String>,
    pub duration: Duration,
}

#[derive(Clone, Debug)]
pub struct VerifyResult {
    pub recovered: bool,
    pub attempts: u32,
    pub at: DateTime<FixedOffset>,
    /// The last attempt (what did not pass, when not recovered).
    pub last: RunResult,
}

/// Everything the 障害報告 and history need about one incident run.
#[derive(Clone, Debug)]
pub struct IncidentRun {
    pub level: Level,
    pub level_name: String,
    pub title: String,
    pub system: Option<String>,
    pub scope: Option<String>,
    pub response: Option<String>,
    pub escalation: Option<String>,
    pub since: DateTime<FixedOffset>,
    pub now: DateTime<FixedOffset>,
    /// (label, due time), from the runbook's deadlines.
    pub deadlines: Vec<(&'static str, DateTime<FixedOffset>)>,
    pub diagnostics: RunResult,
    pub executed: bool,
    pub actions: Vec<ActionResult>,
    pub verify: Option<VerifyResult>,
    pub reporter: String,
    /// A signal stopped the workflow (diagnostics, an action, or verify).
    pub interrupted: Option<Interrupt>,
    /// The open incident this call joins, when it joins one.
    pub joined: Option<Joined>,
}

/// The open incident of the system a call joins (history has it; the
/// command reads it before anything runs). Its start is the call's
/// `since`.
#[derive(Clone, Debug, PartialEq)]
pub struct Joined {
    pub id: i64,
    /// Its level before this call (`p1` … `p4`) and that level's name.
    pub level: String,
    pub name: Option<String>,
    /// The calls it had before this one.
    pub calls: u32,
}

impl IncidentRun {
    /// The level the incident has with this call: the joined incident's
    /// when that is higher (a P3 call does not lower a P1 incident), and
    /// its name.
    pub fn incident_level(&self) -> (String, String) {
        match &self.joined {
            Some(j) if j.level.to_ascii_uppercase().as_str() < self.level.as_str() => (
                j.level.to_ascii_uppercase(),
                j.name.clone().unwrap_or_default(),
            ),
            _ => (self.level.as_str().to_owned(), self.level_name.clone()),
        }
    }
}

impl IncidentRun {
    /// The exit code: after a verify, recovered (0) or not (2); otherwise
    /// the diagnostics' worst status. Recovered after a step that failed
    /// is a warning (1): the service answers, but the plan stopped at that
    /// step and the steps after it never ran, so someone must look.
    pub fn status(&self) -> Status {
        let failed_step = self
            .actions
            .iter()
            .any(|a| matches!(a.state, ActionState::Failed(_)));
        match &self.verify {
            Some(v) if v.recovered && failed_step => Status::Warn,
            Some(v) if v.recovered => Status::Pass,
            Some(_) => Status::Fail,
            None => self.diagnostics.status(),
        }
    }
}

/// How the operator is asked before each action.
pub enum Confirm {
    /// No `--execute`: show the plan only.
    PlanOnly,
    /// `--execute` on a terminal: ask y/N per step.
    Ask,
    /// `--execute --yes`.
    Yes,
    /// `--execute` without a terminal and without `--yes`.
    Refuse,
}

pub fn confirm_mode(execute: bool, yes: bool) -> Confirm {
    match (execute, yes) {
        (false, _) => Confirm::PlanOnly,
        (true, true) => Confirm::Yes,
        (true, false) if std::io::stdin().is_terminal() => Confirm::Ask,
        (true, false) => Confirm::Refuse,
    }
}

/// Shows `prompt` on stderr and reads y/N from stdin, on a blocking
/// thread so a signal at the prompt is not held by the read.
async fn ask(prompt: String, stop: &mut watch::Receiver<Option<Interrupt>>) -> Option<bool> {
    let read = tokio::task::spawn_blocking(move || {
        let mut err = std::io::stderr();
        let _ = write!(err, "{prompt} [y/N] ");
        let _ = err.flush();
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).is_err() {
            return false;
        }
        matches!(line.trim(), "y" | "Y" | "yes" | "YES")
    });
    tokio::select! {
        r = read => Some(r.unwrap_or(false)),
        _ = stop.wait_for(Option::is_some) => None,
    }
}

async fn run_systemctl(
    action: &str,
    unit: &str,
    timeout: Duration,
) -> (Vec<String>, Option<Reason>) {
    let mut cmd = tokio::process::Command::new("systemctl");
    cmd.args([action, unit, "--no-pager"])
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(timeout, cmd.output()).await {
        Err(_) => (
            vec![],
            Some(Reason::new(&common::TIMEOUT).with_quantity(
                "after",
                timeout.as_secs_f64() * 1000.0,
                Unit::Millis,
            )),
        ),
        Ok(Err(e)) => (
            vec![],
            Some(
                Reason::new(&reasons::SPAWN)
                    .with("program", "systemctl")
                    .with("error", crate::values::io_reason(&e)),
            ),
        ),
        Ok(Ok(o)) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            let lines: Vec<String> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect();
            let why = match o.status.code() {
                Some(0) => None,
                Some(c) => Some(
                    Reason::new(&reasons::EXIT)
                        .with("code", i64::from(c))
                        .with_opt("line", lines.last()),
                ),
                None => Some(Reason::new(&reasons::KILLED)),
            };
            (lines, why)
        }
    }
}

async fn run_action(
    a: &Action,
    rb: &Runbook,
    now: DateTime<FixedOffset>,
) -> (ActionState, Vec<String>) {
    let state = |why: Option<Reason>| match why {
        None => ActionState::Succeeded,
        Some(r) => ActionState::Failed(vec![r]),
    };
    match &a.step {
        Step::Systemctl(s) => {
            let (lines, why) = run_systemctl(s.action.as_str(), &s.unit, a.timeout).await;
            (state(why), lines)
        }
        Step::Wait(d) => {
            tokio::time::sleep(*d).await;
            (ActionState::Succeeded, vec![])
        }
        // The loader refuses these without a `backup:` block, and a runbook
        // cannot have both `backup:` and `incident:`.
        Step::SqliteBackup(_) | Step::Copy(_) | Step::Archive(_) | Step::PgDump(_) => {
            (state(Some(Reason::new(&reasons::BACKUP_STEP))), vec![])
        }
        Step::Check(_, kind) => {
            let base_dir = crate::values::io::dir_of(&rb.path).to_path_buf();
            let o =
                crate::engine::attempt(kind.as_ref(), &Ctx::new(now, a.timeout, base_dir)).await;
            let lines: Vec<String> = o
                .detail
                .iter()
                .map(|d| crate::secret::redact(&d.text()))
                .collect();
            if o.status == Status::Pass {
                (ActionState::Succeeded, lines)
            } else {
                // The check's own words (already rendered from its
                // reasons, redacted), carried as one reason.
                let why =
                    Reason::new(&reasons::CHECK).with("message", crate::secret::redact(&o.message));
                (ActionState::Failed(vec![why]), lines)
            }
        }
    }
}

/// What the workflow reports while it runs, as data; the command layer
/// has the presentation layer say it (`output::incident_progress`).
pub enum Progress<'a> {
    /// The incident as known before anything ran (level, deadlines); the
    /// diagnostics start.
    Started(&'a IncidentRun),
    /// The diagnostics run is complete (or was interrupted).
    Diagnosed(&'a RunResult),
    /// Without `--execute`: the recovery plan, nothing run.
    Planned(&'a [ActionResult]),
    /// `--execute` without a terminal or `--yes`: the steps are not run.
    Refused,
    /// With `--execute`: the recovery steps start.
    Executing,
    /// Step `index` (from 0) of `total` ended (or was declined).
    Step {
        index: usize,
        total: usize,
        action: &'a ActionResult,
    },
    /// The steps after this one are not run (it failed or was interrupted).
    Halted(&'a ActionState),
    /// Verification starts.
    Verifying,
    /// Verification attempt `n` of `attempts`.
    Verified {
        n: u32,
        attempts: u32,
        recovered: bool,
        run: &'a RunResult,
    },
}

/// Options for one incident run.
pub struct IncidentOptions<'a> {
    pub confirm: Confirm,
    pub since: DateTime<FixedOffset>,
    /// The invocation's clock, as given (`--now`) or the host's own: the
    /// checks read logs without an offset in their lines (nginx/Apache
    /// error logs, syslog) in this clock's offset.
    pub now: DateTime<FixedOffset>,
    /// The time zone the header and the 障害報告 speak (Asia/Tokyo by default).
    pub tz: crate::values::Zone,
    pub reporter: String,
    pub concurrency: usize,
    /// `--only/--skip/--tag` for the diagnostics.
    pub selection: Selection,
    /// Where progress goes as it happens (the on-call engineer reads
    /// along); `None` runs silently.
    pub narrate: Option<&'a (dyn Fn(Progress) + Sync)>,
    /// The y/N question for step `index` of `total` (with `Confirm::Ask`).
    pub prompt: &'a (dyn Fn(usize, usize, &ActionResult) -> String + Sync),
    /// The open incident this call joins.
    pub joined: Option<Joined>,
}

/// Runs the incident workflow. A signal (`stop`) ends it where it is:
/// the diagnostics so far, the action that was running marked
/// interrupted, no verify.
pub async fn run(
    rb: &Runbook,
    opts: &IncidentOptions<'_>,
    mut stop: watch::Receiver<Option<Interrupt>>,
) -> IncidentRun {
    let mut inc = begin(rb, opts);
    let tell = |p: Progress| {
        if let Some(n) = opts.narrate {
            n(p);
        }
    };
    let run_started = Instant::now();
    tell(Progress::Started(&inc));
    // No `consecutive:` hold in an incident: the on-call sees every
    // non-pass result the moment it happens.
    let settings = RunSettings {
        previous: Default::default(),
        streaks: Default::default(),
        baselines: None,
        maintenance: Default::default(),
        concurrency: opts.concurrency,
        now: opts.now,
        tz: opts.tz,
        selection: opts.selection.clone(),
    };
    inc.diagnostics = engine::run(rb, &settings, stop.clone()).await;
    inc.interrupted = inc.diagnostics.interrupted;
    tell(Progress::Diagnosed(&inc.diagnostics));
    // `when:` is decided once, on this diagnosis, so the plan shown and
    // the steps run agree.
    for (a, r) in rb.workflow.actions.iter().zip(inc.actions.iter_mut()) {
        if let Some(w) = &a.when
            && !condition_met(w, &inc.diagnostics)
        {
            r.state = ActionState::Unmet;
        }
    }
    if inc.interrupted.is_some() || rb.workflow.actions.is_empty() {
        return inc;
    }

    match opts.confirm {
        Confirm::PlanOnly => {
            tell(Progress::Planned(&inc.actions));
            return inc;
        }
        // The command says why (an error line); nothing runs.
        Confirm::Refuse => {
            tell(Progress::Refused);
            return inc;
        }
        Confirm::Ask | Confirm::Yes => {}
    }
    tell(Progress::Executing);
    inc.executed = true;
    let total = rb.workflow.actions.len();
    for (i, a) in rb.workflow.actions.iter().enumerate() {
        if stop.borrow().is_some() {
            break;
        }
        if inc.actions[i].state == ActionState::Unmet {
            tell(Progress::Step {
                index: i,
                total,
                action: &inc.actions[i],
            });
            continue;
        }
        if matches!(opts.confirm, Confirm::Ask) && !matches!(a.step, Step::Wait(_)) {
            match ask((opts.prompt)(i, total, &inc.actions[i]), &mut stop).await {
                Some(true) => {}
                Some(false) => {
                    inc.actions[i].state = ActionState::Declined;
                    tell(Progress::Step {
                        index: i,
                        total,
                        action: &inc.actions[i],
                    });
                    continue;
                }
                // A signal at the prompt: the step never started.
                None => break,
            }
        }
        let started = Instant::now();
        let mut stop_rx = stop.clone();
        let (state, output) = tokio::select! {
            r = run_action(a, rb, opts.now) => r,
            s = stop_rx.wait_for(Option::is_some) => match s.ok().and_then(|s| *s) {
                Some(sig) => (ActionState::Interrupted(sig), vec![]),
                None => (ActionState::Interrupted(Interrupt::Sigterm), vec![]),
            },
        };
        let halt = matches!(state, ActionState::Failed(_) | ActionState::Interrupted(_));
        inc.actions[i].state = state;
        inc.actions[i].output = output;
        inc.actions[i].duration = started.elapsed();
        tell(Progress::Step {
            index: i,
            total,
            action: &inc.actions[i],
        });
        if halt {
            // Later steps assume this one worked (restart, then check):
            // stop and let the operator decide.
            tell(Progress::Halted(&inc.actions[i].state));
            break;
        }
    }

    if let Some((ids, attempts, interval)) = &rb.workflow.verify
        && stop.borrow().is_none()
    {
        tell(Progress::Verifying);
        let selection = Selection {
            only: ids.clone(),
            ..Default::default()
        };
        let settings = RunSettings {
            previous: Default::default(),
            streaks: Default::default(),
            baselines: None,
            maintenance: Default::default(),
            concurrency: opts.concurrency,
            now: opts.now,
            tz: opts.tz,
            selection,
        };
        // After a failed step the plan stopped: look once at where things
        // stand instead of waiting out every attempt in the middle of a P1.
        let any_failed = inc
            .actions
            .iter()
            .any(|a| matches!(a.state, ActionState::Failed(_)));
        let attempts = if any_failed { 1 } else { *attempts };
        let shown_now = inc.now;
        for n in 1..=attempts {
            let r = engine::run(rb, &settings, stop.clone()).await;
            let ok = r.status() == Status::Pass && r.interrupted.is_none();
            tell(Progress::Verified {
                n,
                attempts,
                recovered: ok,
                run: &r,
            });
            // The run's clock plus the wall time spent so far.
            let at =
                shown_now + chrono::Duration::from_std(run_started.elapsed()).unwrap_or_default();
            let interrupted = r.interrupted.is_some();
            inc.verify = Some(VerifyResult {
                recovered: ok,
                attempts: n,
                at,
                last: r,
            });
            if ok || interrupted || n == attempts {
                break;
            }
            let mut stop_rx = stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(*interval) => {},
                _ = stop_rx.wait_for(Option::is_some) => break,
            }
        }
    }
    inc.interrupted = *stop.borrow();
    inc
}

/// Whether the diagnosis meets an action's `when:`: the check's status is
/// one of those listed. A check the diagnosis did not run (`--only`,
/// `--skip`) has the status `skip`.
fn condition_met(w: &crate::runbook::When, diagnostics: &RunResult) -> bool {
    diagnostics
        .results
        .iter()
        .find(|r| r.check.id == w.check)
        .is_some_and(|r| w.met_by(r.outcome.status))
}

/// The incident before anything ran: its level, deadlines and the plan,
/// every action not run yet.
fn begin(rb: &Runbook, opts: &IncidentOptions) -> IncidentRun {
    let spec = rb
        .workflow
        .incident
        .clone()
        .expect("caller checked the incident block");
    let deadlines = spec
        .deadlines
        .list()
        .into_iter()
        .map(|(l, d)| {
            (
                l,
                opts.since + chrono::Duration::from_std(d).unwrap_or_default(),
            )
        })
        .collect();
    let shown_now = opts.now.with_timezone(&opts.tz).fixed_offset();
    IncidentRun {
        level: spec.level,
        level_name: spec
            .name
            .clone()
            .unwrap_or_else(|| spec.level.default_name().to_owned()),
        title: rb.title.clone(),
        system: rb.system.clone(),
        scope: spec.scope.clone(),
        response: spec.response.clone(),
        escalation: spec.escalation.clone(),
        since: opts.since,
        now: shown_now,
        deadlines,
        diagnostics: RunResult {
            runbook: rb.name.clone(),
            title: rb.title.clone(),
            system: rb.system.clone(),
            host: engine::hostname(),
            started_at: shown_now,
            duration: Duration::ZERO,
            results: vec![],
            interrupted: None,
        },
        executed: false,
        actions: rb
            .workflow
            .actions
            .iter()
            .map(|a| ActionResult {
                id: a.id.clone(),
                title: a.title.clone(),
                describe: a.describe(),
                wait: matches!(a.step, Step::Wait(_)),
                state: ActionState::NotRun,
                output: vec![],
                duration: Duration::ZERO,
            })
            .collect(),
        verify: None,
        reporter: opts.reporter.clone(),
        interrupted: None,
        joined: opts.joined.clone(),
    }
}

#[cfg(test)]
mod tests {
    /// Every action entry is documented in docs/reasons.md.
    #[test]
    fn action_reasons_are_documented() {
        let doc = include_str!("../docs/reasons.md");
        for c in super::reasons::CODES {
            assert!(
                doc.contains(&format!("`{}`", c.key)),
                "docs/reasons.md does not list {}",
                c.key
            );
        }
    }
}
