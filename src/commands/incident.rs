//! `opsrun incident p1..p4`: resolve the plan, run the incident workflow
//! (`crate::incident`) with its progress narrated on stdout, record it,
//! print and write the 障害報告 through the presentation pipeline, notify.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::cli::{LevelArg, RunArgs};
use super::plan::Plan;
use super::run::emit;
use super::{Error, Result, spawn_signal_watch, write_stdout};
use crate::engine::Interrupt;
use crate::exit;
use crate::history::{RunRecord, Session};
use crate::incident::{self, Progress};
use crate::output::{self, Format, RenderCtx, RenderOpts};

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
    let since = match since.map(|s| incident::parse_since(s, plan.now, plan.tz)) {
        None => plan.now,
        Some(Ok(t)) => t,
        Some(Err(e)) => return Err(Error::Invalid(e)),
    }
    .with_timezone(&plan.tz)
    .fixed_offset();
    let confirm = incident::confirm_mode(execute, yes);
    let refused = matches!(confirm, incident::Confirm::Refuse);
    let narrate = |p: Progress| match p {
        Progress::Started(inc) => write_stdout(&output::incident_header(inc)),
        Progress::Diagnosed(run) => write_stdout(&output::render(
            Format::Table,
            &mut RenderCtx {
                runbooks: std::slice::from_ref(rb),
                runs: std::slice::from_ref(run),
                records: &[],
                history: None,
                incident: None,
                listing: None,
                reporter: &plan.reporter,
                tz: plan.tz,
            },
            &RenderOpts::default(),
        )),
        Progress::Line(s) => write_stdout(s),
    };
    let opts = incident::IncidentOptions {
        confirm,
        since,
        now: plan.now,
        tz: plan.tz,
        reporter: plan.reporter.clone(),
        concurrency: plan.concurrency,
        selection: plan.selection.clone(),
        narrate: (plan.output.format == Format::Table).then_some(&narrate as _),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let inc = rt.block_on(async {
        let (tx, rx) = watch::channel(None);
        spawn_signal_watch(Arc::new(tx));
        incident::run(rb, &opts, rx).await
    });
    rt.shutdown_timeout(Duration::from_millis(100));
    // The incident goes into history with its diagnostics run, so weekly
    // and monthly reports count インシデント数 and its duration.
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
            summary: inc.summary_line(),
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
        eprintln!("{w}");
    }
    plan.notify.send_incident(&mut ctx);
    if let Some(i) = inc.diagnostics.interrupted {
        return Ok(if i == Interrupt::Sigint {
            exit::SIGINT
        } else {
            exit::SIGTERM
        });
    }
    if refused {
        return Ok(exit::UNKNOWN);
    }
    Ok(exit::for_status(inc.status()))
}
