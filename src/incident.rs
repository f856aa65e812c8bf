//! `opsrun incident p1..p4`: the on-call workflow of SPEC §8. Diagnose
//! first (every check of `incident-pN.yaml`), show the recovery plan, run
//! it only with `--execute` (asking y/N per step on a terminal, `--yes`
//! otherwise), re-run `verify` until it passes, then print the 障害報告.
//! Without `--execute` nothing on the host is changed.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveTime, TimeZone};
use tokio::sync::watch;

use crate::check::Ctx;
use crate::engine::{self, Interrupt, RunResult, RunSettings, Selection};
use crate::runbook::{Action, Level, Runbook, Step};
use crate::values::outcome::Status;
use crate::values::units::format_millis;

/// What happened to one recovery action.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionState {
    Succeeded,
    Failed(String),
    /// The operator answered no at the prompt.
    Declined,
    /// Not executed (no `--execute`, refused, or stopped after a failure).
    NotRun,
}

#[derive(Clone, Debug)]
pub struct ActionResult {
    pub id: String,
    pub title: String,
    pub describe: String,
    pub state: ActionState,
    pub output: Vec<String>,
    pub duration: Duration,
}

#[derive(Clone, Debug)]
pub struct VerifyResult {
    pub recovered: bool,
    pub attempts: u32,
    pub at: DateTime<FixedOffset>,
    /// Why the last attempt did not pass (empty when recovered).
    pub reason: String,
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
}

impl IncidentRun {
    /// The exit code: after a verify, recovered (0) or not (2); otherwise
    /// the diagnostics' worst status.
    pub fn status(&self) -> Status {
        match &self.verify {
            Some(v) if v.recovered => Status::Pass,
            Some(_) => Status::Fail,
            None => self.diagnostics.status(),
        }
    }

    /// One line for history and the monthly インシデントサマリー: what the
    /// diagnostics found failing and what was done, e.g.
    /// `異常: ヘルスチェック、ポート 8100 / 対応: estimatorサービス再起動 → 成功`.
    pub fn summary_line(&self) -> String {
        let failing: Vec<&str> = self
            .diagnostics
            .results
            .iter()
            .filter(|r| r.outcome.status == Status::Fail)
            .map(|r| r.check.label.as_str())
            .collect();
        let mut line = if failing.is_empty() {
            "異常なし".to_owned()
        } else {
            format!("異常: {}", failing.join("、"))
        };
        let done: Vec<String> = self
            .actions
            .iter()
            .filter(|a| !a.describe.starts_with("wait "))
            .filter_map(|a| match &a.state {
                ActionState::Succeeded => Some(format!("{} → 成功", a.title)),
                ActionState::Failed(_) => Some(format!("{} → 失敗", a.title)),
                ActionState::Declined | ActionState::NotRun => None,
            })
            .collect();
        if !done.is_empty() {
            line.push_str(&format!(" / 対応: {}", done.join("、")));
        }
        line
    }
}

/// `--since`: RFC 3339, `HH:MM` in the invocation's time zone `tz` (today,
/// or yesterday if that is in the future), or a duration ago (`15m`).
pub fn parse_since(
    s: &str,
    now: DateTime<FixedOffset>,
    tz: FixedOffset,
) -> Result<DateTime<FixedOffset>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t);
    }
    if let Ok(t) = NaiveTime::parse_from_str(s, "%H:%M") {
        let local = now.with_timezone(&tz);
        let candidate = tz
            .from_local_datetime(&local.date_naive().and_time(t))
            .single()
            .ok_or("invalid local time")?;
        let candidate = if candidate > local {
            candidate - chrono::Duration::days(1)
        } else {
            candidate
        };
        return Ok(candidate.fixed_offset());
    }
    if let Ok(d) = crate::values::units::parse_duration(s) {
        return Ok(now - chrono::Duration::from_std(d).map_err(|e| e.to_string())?);
    }
    Err(format!(
        "invalid --since `{s}`: expected HH:MM (JST), a duration ago like 15m, or RFC 3339"
    ))
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

fn ask(prompt: &str) -> bool {
    let mut err = std::io::stderr();
    let _ = write!(err, "{prompt} [y/N] ");
    let _ = err.flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y" | "yes" | "YES")
}

async fn run_systemctl(action: &str, unit: &str, timeout: Duration) -> (bool, Vec<String>, String) {
    let mut cmd = tokio::process::Command::new("systemctl");
    cmd.args([action, unit, "--no-pager"])
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(timeout, cmd.output()).await {
        Err(_) => (
            false,
            vec![],
            format!(
                "timed out after {}",
                format_millis(timeout.as_secs_f64() * 1000.0)
            ),
        ),
        Ok(Err(e)) => (
            false,
            vec![],
            format!("cannot run systemctl: {}", crate::values::io_reason(&e)),
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
                Some(0) => String::new(),
                Some(c) => format!(
                    "exit {c}{}",
                    lines.last().map(|l| format!(": {l}")).unwrap_or_default()
                ),
                None => "killed by a signal".into(),
            };
            (o.status.success(), lines, why)
        }
    }
}

async fn run_action(
    a: &Action,
    rb: &Runbook,
    now: DateTime<FixedOffset>,
) -> (ActionState, Vec<String>) {
    match &a.step {
        Step::Systemctl(s) => {
            let (ok, lines, why) = run_systemctl(s.action.as_str(), &s.unit, a.timeout).await;
            (
                if ok {
                    ActionState::Succeeded
                } else {
                    ActionState::Failed(why)
                },
                lines,
            )
        }
        Step::Wait(d) => {
            tokio::time::sleep(*d).await;
            (ActionState::Succeeded, vec![])
        }
        // The loader refuses these without a `backup:` block, and a runbook
        // cannot have both `backup:` and `incident:`.
        Step::SqliteBackup(_) | Step::Copy(_) | Step::Archive(_) => (
            ActionState::Failed("backup steps run with `opsrun backup run`".into()),
            vec![],
        ),
        Step::Check(_, kind) => {
            let base_dir = rb
                .path
                .parent()
                .map(|p| p.to_path_buf())
                .unwrap_or_default();
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
                (
                    ActionState::Failed(crate::secret::redact(&o.message)),
                    lines,
                )
            }
        }
    }
}

/// What the workflow has to say while it runs; the caller decides how it
/// is shown (the command layer renders it on stdout).
pub enum Progress<'a> {
    /// The incident as known before anything ran (level, deadlines).
    Started(&'a IncidentRun),
    /// The diagnostics run is complete.
    Diagnosed(&'a RunResult),
    /// A line of the recovery plan, a step's result, a verify attempt.
    Line(&'a str),
}

/// Options for one incident run.
pub struct IncidentOptions<'a> {
    pub confirm: Confirm,
    pub since: DateTime<FixedOffset>,
    /// The invocation's clock, as given (`--now`) or the host's own: the
    /// checks read logs without an offset in their lines (nginx/Apache
    /// error logs, syslog) in this clock's offset.
    pub now: DateTime<FixedOffset>,
    /// The time zone the header and the 障害報告 speak (JST by default).
    pub tz: FixedOffset,
    pub reporter: String,
    pub concurrency: usize,
    /// `--only/--skip/--tag` for the diagnostics.
    pub selection: Selection,
    /// Where progress goes as it happens (the on-call engineer reads
    /// along); `None` runs silently.
    pub narrate: Option<&'a (dyn Fn(Progress) + Sync)>,
}

/// Runs the incident workflow. Progress is printed to stdout as it happens
/// when `narrate` is set (the on-call engineer reads along).
pub async fn run(
    rb: &Runbook,
    opts: &IncidentOptions<'_>,
    stop: watch::Receiver<Option<Interrupt>>,
) -> IncidentRun {
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
    let mut inc = IncidentRun {
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
                state: ActionState::NotRun,
                output: vec![],
                duration: Duration::ZERO,
            })
            .collect(),
        verify: None,
        reporter: opts.reporter.clone(),
    };
    let tell = |p: Progress| {
        if let Some(n) = opts.narrate {
            n(p);
        }
    };
    let say = |s: &str| tell(Progress::Line(s));
    let run_started = Instant::now();
    tell(Progress::Started(&inc));
    say("\n■ 診断\n");
    let settings = RunSettings {
        previous: Default::default(),
        concurrency: opts.concurrency,
        now: opts.now,
        selection: opts.selection.clone(),
    };
    inc.diagnostics = engine::run(rb, &settings, stop.clone()).await;
    tell(Progress::Diagnosed(&inc.diagnostics));
    if inc.diagnostics.interrupted.is_some() || rb.workflow.actions.is_empty() {
        return inc;
    }

    say("\n■ 復旧手順\n");
    match opts.confirm {
        Confirm::PlanOnly => {
            for (i, a) in rb.workflow.actions.iter().enumerate() {
                say(&format!("  {}. {} ({})\n", i + 1, a.title, a.describe()));
            }
            say("  (未実行: 実行するには --execute。端末がなければ --yes も必要)\n");
            return inc;
        }
        Confirm::Refuse => {
            eprintln!(
                "error: refusing to run recovery actions: no terminal to confirm them (stdin is not a TTY); add --yes to run them unattended"
            );
            return inc;
        }
        Confirm::Ask | Confirm::Yes => {}
    }
    inc.executed = true;
    let total = rb.workflow.actions.len();
    for (i, a) in rb.workflow.actions.iter().enumerate() {
        if stop.borrow().is_some() {
            break;
        }
        let line = format!("  [{}/{total}] {} ({})", i + 1, a.title, a.describe());
        if matches!(opts.confirm, Confirm::Ask)
            && !matches!(a.step, Step::Wait(_))
            && !ask(&format!("{line} を実行しますか?"))
        {
            inc.actions[i].state = ActionState::Declined;
            say(&format!("{line} → スキップ\n"));
            continue;
        }
        let started = Instant::now();
        let mut stop_rx = stop.clone();
        let (state, output) = tokio::select! {
            r = run_action(a, rb, opts.now) => r,
            _ = stop_rx.wait_for(|s| s.is_some()) => (ActionState::Failed("interrupted".into()), vec![]),
        };
        let verdict = match &state {
            ActionState::Succeeded => "成功".to_string(),
            ActionState::Failed(w) => format!("失敗 ({w})"),
            _ => String::new(),
        };
        say(&format!("{line} → {verdict}\n"));
        for l in output.iter().rev().take(5).rev() {
            say(&format!("      {l}\n"));
        }
        let failed = matches!(state, ActionState::Failed(_));
        inc.actions[i].state = state;
        inc.actions[i].output = output;
        inc.actions[i].duration = started.elapsed();
        if failed {
            // Later steps assume this one worked (restart, then check):
            // stop and let the operator decide.
            say("  以降の手順は未実行（失敗したため停止）\n");
            break;
        }
    }

    if let Some((ids, attempts, interval)) = &rb.workflow.verify
        && stop.borrow().is_none()
    {
        say("\n■ 復旧確認\n");
        let selection = Selection {
            only: ids.clone(),
            ..Default::default()
        };
        let settings = RunSettings {
            previous: Default::default(),
            concurrency: opts.concurrency,
            now: opts.now,
            selection,
        };
        // After a failed step the plan stopped: look once at where things
        // stand instead of waiting out every attempt in the middle of a P1.
        let any_failed = inc
            .actions
            .iter()
            .any(|a| matches!(a.state, ActionState::Failed(_)));
        let attempts = if any_failed { &1 } else { attempts };
        for n in 1..=*attempts {
            let r = engine::run(rb, &settings, stop.clone()).await;
            let ok = r.status() == Status::Pass && r.interrupted.is_none();
            let reason = r
                .results
                .iter()
                .filter(|x| !matches!(x.outcome.status, Status::Pass | Status::Skip))
                .map(|x| format!("{}: {}", x.check.id, x.outcome.message))
                .collect::<Vec<_>>()
                .join("; ");
            say(&format!(
                "  verify {n}/{attempts}: {}\n",
                if ok {
                    "正常".to_string()
                } else {
                    format!("未復旧 — {reason}")
                }
            ));
            // The run's clock plus the wall time spent so far.
            let at =
                shown_now + chrono::Duration::from_std(run_started.elapsed()).unwrap_or_default();
            let interrupted = r.interrupted.is_some();
            inc.verify = Some(VerifyResult {
                recovered: ok,
                attempts: n,
                at,
                reason,
                last: r,
            });
            if ok || interrupted || n == *attempts {
                break;
            }
            let mut stop_rx = stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(*interval) => {},
                _ = stop_rx.wait_for(|s| s.is_some()) => break,
            }
        }
    }
    inc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms() {
        let now = DateTime::parse_from_rfc3339("2025-10-21T10:26:00+09:00").unwrap();
        assert_eq!(
            parse_since("10:23", now, crate::values::jst())
                .unwrap()
                .to_rfc3339(),
            "2025-10-21T10:23:00+09:00"
        );
        assert_eq!(
            parse_since("23:50", now, crate::values::jst())
                .unwrap()
                .to_rfc3339(),
            "2025-10-20T23:50:00+09:00"
        );
        assert_eq!(
            parse_since("15m", now, crate::values::jst())
                .unwrap()
                .to_rfc3339(),
            "2025-10-21T10:11:00+09:00"
        );
        assert!(parse_since("yesterday", now, crate::values::jst()).is_err());
    }
}
