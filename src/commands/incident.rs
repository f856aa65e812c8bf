//! `opsrun incident p1..p4`: resolve the plan, run the incident workflow
//! (`crate::incident`) with its progress narrated on stdout, record the
//! call in history (joining the system's open incident, see
//! `history::incidents`), print and write the 障害報告 through the
//! presentation pipeline, notify. `incident close` and `incident list`
//! work on history alone.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveTime};

use crate::values::Zone;
use tokio::sync::watch;

use super::cli::{
    DirArg, IncidentAction, IncidentClose, IncidentCmd, IncidentList, LevelArg, RunArgs,
};
use super::plan::Plan;
use super::run::emit;
use super::{Error, Result, spawn_signal_watch, write_stdout};
use crate::exit;
use crate::history::incidents::{CallOutcome, CloseError, IncidentCall, IncidentRecord, Recorded};
use crate::history::listing::{self, Listing};
use crate::history::{RunRecord, Session, Store, stop};
use crate::incident::{self, ActionState, IncidentRun, Progress};
use crate::output::{self, Format, RenderCtx};
use crate::runbook::Runbook;
use crate::values::outcome::Status;

/// `opsrun incident …`: a level runs the workflow; `close` and `list`.
pub(super) fn dispatch(c: &IncidentCmd) -> Result<i32> {
    match (&c.action, c.level) {
        (Some(IncidentAction::Close(cl)), _) => close(cl),
        (Some(IncidentAction::List(l)), _) => list(l),
        (None, Some(level)) => command(level, c),
        // clap requires the level when there is no subcommand.
        (None, None) => Err(Error::Invalid("incident: give a level (p1..p4)".into())),
    }
}

fn command(level: LevelArg, c: &IncidentCmd) -> Result<i32> {
    let (execute, yes, since, args): (bool, bool, Option<&str>, &RunArgs) =
        (c.execute, c.yes, c.since.as_deref(), &c.args);
    let name = match level {
        LevelArg::P1 => "incident-p1",
        LevelArg::P2 => "incident-p2",
        LevelArg::P3 => "incident-p3",
        LevelArg::P4 => "incident-p4",
    };
    let plan = Plan::resolve(&[name], args)?;
    let rb = &plan.runbooks[0];
    if rb.workflow.incident.is_none() {
        return Err(Error::Unusable {
            file: rb.path.clone(),
            what: "no `incident:` block (level, name, scope, …): an incident runbook needs one"
                .into(),
        });
    }
    // Checks run on the invocation's clock like any run (naive log
    // timestamps are local time); the header and the 障害報告 speak the
    // invocation's time zone.
    let given_since = match since.map(|s| parse_since(s, plan.now, plan.tz)) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return Err(Error::Invalid(e)),
    };
    // A later call of an open incident speaks of it from when it began:
    // 発生 and the deadlines are the incident's, not this call's.
    let joining = if c.new {
        None
    } else {
        to_join(&plan, rb.system.as_deref())
    };
    let since = match (given_since, &joining) {
        (Some(t), Some(j)) => t.min(j.opened_at),
        (Some(t), None) => t,
        (None, Some(j)) => j.opened_at,
        (None, None) => plan.now,
    }
    .with_timezone(&plan.tz)
    .fixed_offset();
    let confirm = incident::confirm_mode(execute, yes);
    let refused = matches!(confirm, incident::Confirm::Refuse);
    let narrate = |p: Progress| write_stdout(&output::incident_progress(&p));
    let opts = incident::IncidentOptions {
        confirm,
        since,
        now: plan.now,
        tz: plan.tz,
        reporter: plan.reporter.clone(),
        concurrency: plan.concurrency,
        selection: plan.selection.clone(),
        narrate: (plan.output.format == Format::Table).then_some(&narrate as _),
        prompt: &output::incident_prompt,
        joined: joining.as_ref().map(|j| incident::Joined {
            id: j.id,
            level: j.level.clone(),
            name: j.name.clone(),
            calls: j.calls,
        }),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let inc = rt.block_on(async {
        let (tx, rx) = watch::channel(None);
        spawn_signal_watch(Arc::new(tx));
        incident::run(rb, &opts, rx).await
    });
    // A step stuck past a signal (a `systemctl` that ignores SIGTERM is
    // killed on drop; a y/N prompt's read is left behind) must not hold
    // the process.
    rt.shutdown_timeout(Duration::from_millis(100));
    // From here on a signal stops history work at once; one that
    // interrupted the incident left recording 2 s (history::stop).
    stop::results_ready();
    if refused {
        crate::stdio::say_err!(
            "error: refusing to run recovery actions: no terminal to confirm them (stdin is not a TTY); add --yes to run them unattended"
        );
    }
    // The call goes into history with its diagnostics run: it joins the
    // system's open incident or opens one (history::incidents), so
    // weekly and monthly reports count incidents, not calls — an
    // interrupted call too, as `opsrun run` records an interrupted run.
    let records = [RunRecord::from_run(&inc.diagnostics)];
    let mut session = Session::record(&plan.history, &records);
    let mut recorded = None;
    if let Some(store) = session.store.as_mut() {
        let call = call_of(
            &inc,
            rb,
            &plan,
            given_since,
            c.new,
            session.run_ids.first().copied(),
        );
        match store.record_incident_call(&call) {
            Ok(r) => recorded = Some(r),
            Err(e) => session.error = Some(e),
        }
    }
    let runs = std::slice::from_ref(&inc.diagnostics);
    let mut ctx = RenderCtx {
        runbooks: std::slice::from_ref(rb),
        runs,
        records: &records,
        history: Some(&mut session),
        incident: Some(&inc),
        listing: None,
        reporter: &plan.reporter,
        tz: plan.tz,
    };
    // After the narrated steps, a blank line before the 障害報告.
    let lead = if plan.output.format == Format::Table {
        "\n"
    } else {
        ""
    };
    emit(&plan, &mut ctx, true, lead);
    if let Some(w) = ctx.history.as_deref().and_then(Session::warning) {
        crate::stdio::say_err!("{w}");
    }
    if let Some(r) = &recorded {
        crate::stdio::say_err!("{}", recorded_note(r, plan.tz));
    }
    // Interrupted (or stopped while recording): no notification, the
    // signal's code.
    if let Some(sig) = stop::signal().or(inc.interrupted) {
        return Ok(stop::exit_code(sig));
    }
    plan.notify.send_incident(&mut ctx);
    if refused {
        return Ok(exit::UNKNOWN);
    }
    Ok(exit::for_status(inc.status()))
}

/// The open incident this call would join, read before anything runs
/// (the header shows when it began). History that cannot be read is left
/// to the recording, which warns.
fn to_join(plan: &Plan, system: Option<&str>) -> Option<IncidentRecord> {
    let store = Store::open_existing(&plan.history.path).ok()??;
    store.incident_to_join(system, &plan.now).ok()?
}

/// The call as history records it.
fn call_of(
    inc: &IncidentRun,
    rb: &crate::runbook::Runbook,
    plan: &Plan,
    since: Option<chrono::DateTime<FixedOffset>>,
    force_new: bool,
    run_id: Option<i64>,
) -> IncidentCall {
    let diag = &inc.diagnostics;
    let interrupted = diag.interrupted.is_some();
    // A check the signal stopped is `unknown` without being a finding.
    let trouble = diag.results.iter().any(|r| match r.outcome.status {
        Status::Warn | Status::Fail => true,
        Status::Unknown => !interrupted,
        Status::Pass | Status::Maint | Status::Skip => false,
    });
    let selected_all = plan.selection.only.is_empty()
        && plan.selection.skip.is_empty()
        && plan.selection.tags.is_empty();
    let executed = inc.actions.iter().any(|a| {
        matches!(
            a.state,
            ActionState::Succeeded | ActionState::Failed(_) | ActionState::Interrupted(_)
        )
    });
    let verified = inc.verify.as_ref().filter(|v| v.recovered);
    IncidentCall {
        run_id,
        level: inc.level.as_str().to_ascii_lowercase(),
        name: Some(inc.level_name.clone()),
        system: rb.system.clone(),
        runbook: rb.name.clone(),
        host: diag.host.clone(),
        at: plan.now,
        since,
        outcome: if inc.interrupted.is_some() {
            CallOutcome::Interrupted
        } else if verified.is_some() {
            CallOutcome::Recovered
        } else if executed {
            CallOutcome::Unresolved
        } else {
            CallOutcome::Diagnosed
        },
        trouble,
        executed,
        healthy: !interrupted && selected_all && !trouble && diag.status() == Status::Pass,
        verified_at: verified.map(|v| v.at),
        findings: output::incident_findings(inc),
        actions: output::incident_actions(inc),
        line: output::incident_summary(inc),
        reporter: Some(inc.reporter.clone()),
        force_new,
    }
}

/// The stderr line that says what the call did to the incidents: its
/// number is what `opsrun incident close` takes.
fn recorded_note(r: &Recorded, tz: Zone) -> String {
    let about = |i: &IncidentRecord| {
        format!(
            "{}, {}, opened {}{}",
            i.level.to_uppercase(),
            i.system.as_deref().unwrap_or(&i.runbook),
            tz.at(&i.opened_at).format("%Y-%m-%d %H:%M"),
            if i.recovered_at.is_some() {
                ", recovered"
            } else {
                ""
            }
        )
    };
    match r {
        Recorded::Opened(i) => format!(
            "incident #{} opened ({}); later calls join it until `opsrun incident close {}`",
            i.id,
            about(i),
            i.id
        ),
        Recorded::Joined(i) => format!(
            "incident #{} joined ({}; call {}); close it with `opsrun incident close {}`",
            i.id,
            about(i),
            i.calls,
            i.id
        ),
        Recorded::Nothing => {
            "no incident recorded: every diagnostic passed and none is open (--new opens one)"
                .into()
        }
    }
}

/// The incident runbooks in the runbook directory: their systems are
/// what `incident close` without an ID looks for, their time zone the one
/// times are shown in.
fn incident_runbooks(dir: &DirArg) -> Result<Vec<Runbook>> {
    let dir = super::plan::runbook_dir(dir);
    let mut out = Vec::new();
    for n in ["incident-p1", "incident-p2", "incident-p3", "incident-p4"] {
        if let Some(p) = ["yaml", "yml"]
            .iter()
            .map(|e| dir.join(format!("{n}.{e}")))
            .find(|p| p.is_file())
        {
            out.push(crate::runbook::load(&p, &Default::default())?);
        }
    }
    Ok(out)
}

/// `opsrun incident close [ID] [--note TEXT]`.
fn close(c: &IncidentClose) -> Result<i32> {
    let runbooks = incident_runbooks(&c.at.dir)?;
    let mut systems: Vec<Option<String>> = Vec::new();
    for rb in &runbooks {
        if !systems.contains(&rb.system) {
            systems.push(rb.system.clone());
        }
    }
    let plan = Plan::for_incidents(&c.at.dir, &c.at.path, c.at.now, runbooks, None)?;
    let path = &plan.history.path;
    let Some(mut store) = Store::open_existing(path).map_err(Error::History)? else {
        return Err(Error::Invalid(format!(
            "no incident to close: no history yet at {}",
            path.display()
        )));
    };
    let systems = if c.id.is_some() { vec![] } else { systems };
    match store.close_incident(c.id, &systems, &plan.now, c.note.as_deref()) {
        Ok(i) => {
            write_stdout(&format!(
                "incident #{} closed ({}, {}, opened {}, {})\n",
                i.id,
                i.level.to_uppercase(),
                i.system.as_deref().unwrap_or(&i.runbook),
                plan.tz.at(&i.opened_at).format("%Y-%m-%d %H:%M"),
                match i.time_to_recover() {
                    Some(d) => format!("recovered after {}m", (d.num_seconds() + 30) / 60),
                    None => "no recovery recorded".into(),
                }
            ));
            Ok(exit::OK)
        }
        Err(CloseError::History(e)) => Err(Error::History(e)),
        Err(e) => Err(Error::Invalid(e.to_string())),
    }
}

/// `opsrun incident list [--since 30d]`.
fn list(l: &IncidentList) -> Result<i32> {
    let runbooks = incident_runbooks(&l.at.dir)?;
    let plan = Plan::for_incidents(
        &l.at.dir,
        &l.at.path,
        l.at.now,
        runbooks,
        Some((l.format, &l.outputs)),
    )?;
    let path = &plan.history.path;
    let Some(store) = Store::open_existing(path).map_err(Error::History)? else {
        crate::stdio::say_err!("no history yet at {}", path.display());
        return Ok(exit::OK);
    };
    let listing =
        Listing::Incidents(listing::incidents(&store, plan.now, l.since).map_err(Error::History)?);
    Ok(super::history::emit_listing(&plan, &listing))
}

/// `--since`: RFC 3339, `HH:MM` in the invocation's time zone `tz` (today,
/// or yesterday if that is in the future), or a duration ago (`15m`).
fn parse_since(
    s: &str,
    now: DateTime<FixedOffset>,
    tz: Zone,
) -> std::result::Result<DateTime<FixedOffset>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t);
    }
    if let Ok(t) = NaiveTime::parse_from_str(s, "%H:%M") {
        let local = now.with_timezone(&tz);
        let on = |d: chrono::NaiveDate| tz.local(d.and_time(t));
        let candidate = on(local.date_naive());
        let candidate = if candidate > local {
            on(local.date_naive() - chrono::Duration::days(1))
        } else {
            candidate
        };
        return Ok(candidate);
    }
    if let Ok(d) = crate::values::units::parse_duration(s) {
        return Ok(now - chrono::Duration::from_std(d).map_err(|e| e.to_string())?);
    }
    Err(format!(
        "invalid --since `{s}`: expected HH:MM (in the report time zone), a duration ago like 15m, or RFC 3339"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms() {
        let now = DateTime::parse_from_rfc3339("2025-10-21T10:26:00+09:00").unwrap();
        let jst = crate::values::Zone::default();
        assert_eq!(
            parse_since("10:23", now, jst).unwrap().to_rfc3339(),
            "2025-10-21T10:23:00+09:00"
        );
        assert_eq!(
            parse_since("23:50", now, jst).unwrap().to_rfc3339(),
            "2025-10-20T23:50:00+09:00"
        );
        assert_eq!(
            parse_since("15m", now, jst).unwrap().to_rfc3339(),
            "2025-10-21T10:11:00+09:00"
        );
        assert!(parse_since("yesterday", now, jst).is_err());
    }
}
