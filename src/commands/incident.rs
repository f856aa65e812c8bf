//! `opsrun incident p1..p4`: resolve the plan, run the incident workflow
//! (`crate::incident`) with its progress narrated on stdout, record it,
//! print and write the 障害報告 through the presentation pipeline, notify.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveTime};

use crate::values::Zone;
use tokio::sync::watch;

use super::cli::{LevelArg, RunArgs};
use super::plan::Plan;
use super::run::emit;
use super::{Error, Result, spawn_signal_watch, write_stdout};
use crate::exit;
use crate::history::{RunRecord, Session, stop};
use crate::incident::{self, Progress};
use crate::output::{self, Format, RenderCtx};

pub(super) fn command(
    level: LevelArg,
    execute: bool,
    yes: bool,
    since: Option<&str>,
    args: &RunArgs,
) -> Result<i32> {
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
    let since = match since.map(|s| parse_since(s, plan.now, plan.tz)) {
        None => plan.now,
        Some(Ok(t)) => t,
        Some(Err(e)) => return Err(Error::Invalid(e)),
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
    // The incident goes into history with its diagnostics run, so weekly
    // and monthly reports count インシデント数 and its duration — an
    // interrupted one too, as `opsrun run` records an interrupted run.
    let records = [RunRecord::from_run(&inc.diagnostics)];
    let mut session = Session::record(&plan.history, &records);
    if let Some(store) = session.store.as_mut() {
        let rec = crate::history::store::IncidentRecord {
            run_id: None,
            level: inc.level.as_str().to_ascii_lowercase(),
            name: Some(inc.level_name.clone()),
            runbook: rb.name.clone(),
            host: inc.diagnostics.host.clone(),
            started_at: inc.since,
            ended_at: inc.verify.as_ref().filter(|v| v.recovered).map(|v| v.at),
            outcome: match (&inc.verify, inc.executed) {
                (Some(v), _) if v.recovered => "recovered",
                (_, true) => "unresolved",
                _ => "diagnosed",
            }
            .to_owned(),
            summary: output::incident_summary(&inc),
            reporter: Some(inc.reporter.clone()),
        };
        if let Err(e) = store.record_incident(&rec) {
            session.error = Some(e);
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
