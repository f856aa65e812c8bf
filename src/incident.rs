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

/// JST, the seeds' timezone, unless the runbook says otherwise.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("valid offset")
}

/// `--since`: RFC 3339, `HH:MM` (today, or yesterday if that is in the
/// future), or a duration ago (`15m`).
pub fn parse_since(s: &str, now: DateTime<FixedOffset>) -> Result<DateTime<FixedOffset>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t);
    }
    if let Ok(t) = NaiveTime::parse_from_str(s, "%H:%M") {
        let local = now.with_timezone(&jst());
        let candidate = jst()
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

fn minutes(d: chrono::Duration) -> i64 {
    (d.num_seconds() as f64 / 60.0).round() as i64
}

/// The level header, elapsed time and deadlines.
pub fn header(inc: &IncidentRun) -> String {
    let mut out = format!(
        "【{}（{}）】{} — {}\n",
        inc.level.as_str(),
        inc.level_name,
        inc.scope.as_deref().unwrap_or(&inc.title),
        inc.system.as_deref().unwrap_or(&inc.title)
    );
    let mut facts = Vec::new();
    if let Some(s) = &inc.scope {
        facts.push(format!("影響範囲: {s}"));
    }
    if let Some(r) = &inc.response {
        facts.push(format!("対応時間: {r}"));
    }
    if let Some(e) = &inc.escalation {
        facts.push(format!("エスカレーション: {e}"));
    }
    if !facts.is_empty() {
        out.push_str(&facts.join(" · "));
        out.push('\n');
    }
    out.push_str(&format!(
        "発生: {} (発生から{}分)\n",
        inc.since.format("%Y-%m-%d %H:%M"),
        minutes(inc.now - inc.since).max(0)
    ));
    let parts: Vec<String> = inc
        .deadlines
        .iter()
        .map(|(label, due)| {
            let left = minutes(*due - inc.now);
            if left >= 0 {
                format!("{label} {} (残り{left}分)", due.format("%H:%M"))
            } else {
                format!("{label} {} ({}分超過)", due.format("%H:%M"), -left)
            }
        })
        .collect();
    if !parts.is_empty() {
        out.push_str(&parts.join(" · "));
        out.push('\n');
    }
    out
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
            let lines: Vec<String> = o.detail.iter().map(|d| crate::secret::redact(d)).collect();
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

/// Options for one incident run.
pub struct IncidentOptions {
    pub confirm: Confirm,
    pub since: DateTime<FixedOffset>,
    /// The clock the header and the 障害報告 show (JST).
    pub now: DateTime<FixedOffset>,
    /// The same instant in the offset the checks run with: the host's own,
    /// as for every other run (or `--now` as given), because logs without
    /// an offset in their lines (nginx/Apache error logs, syslog) are
    /// written in the host's local time and read in the check clock's.
    pub check_now: DateTime<FixedOffset>,
    pub reporter: String,
    pub concurrency: usize,
    /// Print progress (header, diagnostics, steps) as it happens.
    pub narrate: bool,
}

/// Runs the incident workflow. Progress is printed to stdout as it happens
/// when `narrate` is set (the on-call engineer reads along).
pub async fn run(
    rb: &Runbook,
    opts: &IncidentOptions,
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
        now: opts.now,
        deadlines,
        diagnostics: RunResult {
            runbook: rb.name.clone(),
            title: rb.title.clone(),
            system: rb.system.clone(),
            host: engine::hostname(),
            started_at: opts.now,
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
    let say = |s: &str| {
        if opts.narrate {
            crate::app::write_stdout(s);
        }
    };
    let run_started = Instant::now();
    say(&header(&inc));
    say("\n■ 診断\n");
    let settings = RunSettings {
        previous: Default::default(),
        concurrency: opts.concurrency,
        now: opts.check_now,
        selection: Selection::default(),
    };
    inc.diagnostics = engine::run(rb, &settings, stop.clone()).await;
    say(&crate::output::render(
        crate::output::Format::Table,
        &[&inc.diagnostics],
        &Default::default(),
    ));
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
            r = run_action(a, rb, opts.check_now) => r,
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
            now: opts.check_now,
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
                opts.now + chrono::Duration::from_std(run_started.elapsed()).unwrap_or_default();
            let interrupted = r.interrupted.is_some();
            inc.verify = Some(VerifyResult {
                recovered: ok,
                attempts: n,
                at: at.with_timezone(&jst()).fixed_offset(),
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
            parse_since("10:23", now).unwrap().to_rfc3339(),
            "2025-10-21T10:23:00+09:00"
        );
        assert_eq!(
            parse_since("23:50", now).unwrap().to_rfc3339(),
            "2025-10-20T23:50:00+09:00"
        );
        assert_eq!(
            parse_since("15m", now).unwrap().to_rfc3339(),
            "2025-10-21T10:11:00+09:00"
        );
        assert!(parse_since("yesterday", now).is_err());
    }
}
