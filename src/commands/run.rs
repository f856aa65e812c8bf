//! `opsrun run`, `daily`, `weekly`, `monthly`: run runbooks, then
//! [`present`] the results — shared with `backup`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::cli::RunArgs;
use super::plan::Plan;
use super::{Progress, Result, spawn_signal_watch, write_stdout_styled};
use crate::engine::{self, RunResult};
use crate::exit;
use crate::history::{RunRecord, Session, stop};
use crate::output::{self, Format, RenderCtx, RenderOpts};
use crate::values::outcome::{Status, worst};

pub(super) fn command(names: &[&str], args: &RunArgs) -> Result<i32> {
    let plan = Plan::resolve(names, args)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let results = rt.block_on(run_runbooks(&plan));
    // Blocking probes stuck past their timeout (a hung NFS statvfs) must not
    // hold the process: leave them behind.
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(present(plan, &results))
}

async fn run_runbooks(plan: &Plan) -> Vec<RunResult> {
    let (tx, rx) = watch::channel(None);
    spawn_signal_watch(Arc::new(tx));
    let progress = Progress::start(!plan.output.quiet);
    let mut out = Vec::new();
    for rb in &plan.runbooks {
        // What each runbook reads from history (previous metrics,
        // `consecutive:` streaks, `change:` samples) is its own: with
        // several runbooks in one run, each is resolved for its runbook.
        let settings = plan.run_settings(Some(rb));
        let r = engine::run(rb, &settings, rx.clone()).await;
        let stop = r.interrupted.is_some();
        out.push(r);
        if stop {
            break;
        }
    }
    progress.finish();
    out
}

/// Everything after the checks ran, shared by every command that runs a
/// runbook: record in history, write `--output` files, print stdout (`-q`
/// prints nothing when all pass), send notifications, and return the exit
/// code (worst status, or 130/143 when interrupted).
pub(super) fn present(plan: Plan, results: &[RunResult]) -> i32 {
    let records: Vec<RunRecord> = results.iter().map(RunRecord::from_run).collect();
    // A signal from here on stops history work at once and ends the
    // process within 3 s (history::stop); one that interrupted the checks
    // left recording 2 s.
    stop::results_ready();
    let interrupted = results.iter().find_map(|r| r.interrupted);
    // History is written here, after the runtime: rusqlite blocks. The
    // results are printed first, unless a format reads history (a
    // weekly report includes this run), so a slow or locked history never
    // holds them back.
    let reads_history = std::iter::once(plan.output.format)
        .chain(plan.output.outputs.iter().map(|(f, _)| *f))
        .any(|f| matches!(f, Format::Report | Format::Checklist));
    let mut session = if reads_history {
        Session::record(&plan.history, &records)
    } else {
        Session::unrecorded(&plan.history)
    };
    let worst = worst(results.iter().map(RunResult::status));
    let all_pass = worst <= Status::Skip;
    let mut ctx = RenderCtx {
        runbooks: &plan.runbooks,
        runs: results,
        records: &records,
        history: Some(&mut session),
        incident: None,
        listing: None,
        reporter: &plan.reporter,
        tz: plan.tz,
    };
    let show = !(plan.output.quiet && all_pass && interrupted.is_none());
    emit(&plan, &mut ctx, show, "");
    if let Some(session) = ctx.history.as_deref_mut() {
        if !reads_history {
            *session = Session::record(&plan.history, &records);
        }
        if let Some(w) = session.warning() {
            crate::stdio::say_err!("{w}");
        }
    }
    // After the run is printed and recorded; never changes the exit code.
    if let Some(sig) = stop::signal().or(interrupted) {
        // Interrupted, or stopped while recording: no notification, the
        // signal's code.
        return stop::exit_code(sig);
    }
    plan.notify.send(&mut ctx);
    exit::for_status(worst)
}

/// Writes the `--output` files, then stdout (when `show`, after `lead`),
/// all rendered from `ctx` by the one presentation pipeline. Files are
/// never coloured.
pub(super) fn emit(plan: &Plan, ctx: &mut RenderCtx, show: bool, lead: &str) {
    let mut opts = plan.output.opts.clone();
    for (format, path) in &plan.output.outputs {
        if *format == Format::Prometheus {
            opts.prom.previous_success = crate::stdio::read_previous(path)
                .map(|t| output::prometheus::previous_success(&t))
                .unwrap_or_default();
        }
        let plain = RenderOpts {
            color: false,
            ..opts.clone()
        };
        if let Err(e) = crate::stdio::replace_file(path, &output::render(*format, ctx, &plain)) {
            crate::stdio::failed(&format!("--output {}: {e}", path.display()));
        }
    }
    if show {
        // Rendered text is already escaped (`output::render`); the
        // coloured table carries its own escape sequences.
        write_stdout_styled(&format!(
            "{lead}{}",
            output::render(plan.output.format, ctx, &opts)
        ));
    }
}
