//! `opsrun backup [run|verify|restore-test|prune]`: resolve the plan, run
//! the backup workflow (`crate::backup`) on a runtime with Ctrl-C/SIGTERM
//! watched, then present the run like `opsrun run` does.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use super::cli::{BackupAction, RunArgs};
use super::plan::Plan;
use super::run::present;
use super::{Error, Result, spawn_signal_watch, write_stdout};
use crate::backup;
use crate::engine::{Interrupt, RunResult};
use crate::exit;
use crate::output::Format;

pub(super) fn command(action: BackupAction, execute: bool, args: &RunArgs) -> Result<i32> {
    if execute && !matches!(action, BackupAction::Prune | BackupAction::Run) {
        return Err(Error::Invalid(
            "--execute is for `opsrun backup prune` (`backup run` makes a generation without it)"
                .into(),
        ));
    }
    // Notification settings are checked before anything runs, so a broken
    // `notify:` never shows up only after a backup was made.
    let plan = Plan::resolve(&["backup"], args)?;
    let rb = &plan.runbooks[0];
    let need = |what: &str| Error::Unusable {
        file: rb.path.clone(),
        what: format!(
            "no `backup: {{dir: …, pattern: …}}` block: `opsrun backup {what}` needs to know where the generations are"
        ),
    };
    let base_dir = crate::values::io::dir_of(&rb.path).to_path_buf();
    let resolve = |p: &str| {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { base_dir.join(p) }
    };
    let spec = rb.workflow.backup.clone();
    let settings = plan.run_settings(Some(rb));
    let result = match action {
        BackupAction::Verify => with_runtime(|stop| backup::verify(rb, &settings, stop))?,
        BackupAction::Run => {
            let spec = spec.ok_or_else(|| need("run"))?;
            if rb.workflow.actions.is_empty() {
                return Err(Error::Unusable {
                    file: rb.path.clone(),
                    what: "no `actions:`: `opsrun backup run` needs steps such as sqlite_backup, copy or archive".into(),
                });
            }
            let dir = resolve(&spec.dir);
            with_runtime(|stop| backup::make(rb, &spec, &dir, &base_dir, &settings, stop))?
        }
        BackupAction::RestoreTest => {
            let spec = spec.ok_or_else(|| need("restore-test"))?;
            let rt = rb.workflow.restore_test.clone().unwrap_or_default();
            let dir = resolve(&spec.dir);
            with_runtime(|stop| {
                backup::restore_test(rb, &spec, &rt, &dir, &base_dir, plan.tz.at(&plan.now), stop)
            })?
        }
        BackupAction::Prune => {
            let spec = spec.ok_or_else(|| need("prune"))?;
            let Some(p) = rb.workflow.prune else {
                return Err(Error::Unusable {
                    file: rb.path.clone(),
                    what: "no `prune: {keep_days: …, keep_min: …}` block: nothing says what may be deleted".into(),
                });
            };
            let dir = resolve(&spec.dir);
            let json = plan.output.format == Format::Json;
            let pruned =
                backup::prune(&dir, &spec, &p, execute, plan.tz.at(&plan.now)).map_err(|e| {
                    Error::Io {
                        action: "read",
                        path: dir.clone(),
                        reason: crate::values::io_reason(&e),
                    }
                })?;
            write_stdout(&if json {
                crate::output::prune::json(&pruned)
            } else {
                crate::output::prune::text(&pruned)
            });
            return Ok(if pruned.failed() {
                exit::FAIL
            } else {
                exit::OK
            });
        }
    };
    // Recorded in history, printed, written to `--output`, notified — as
    // `opsrun run` does.
    Ok(present(plan, &[result]))
}

/// Runs `f` on a fresh runtime with Ctrl-C/SIGTERM watched. The handlers
/// are installed when opsrun starts (`history::stop`), so a signal in
/// `f`'s first instant already goes through the cleanup (temporary
/// directories) rather than killing the process.
fn with_runtime<F, Fut>(f: F) -> Result<RunResult>
where
    F: FnOnce(watch::Receiver<Option<Interrupt>>) -> Fut,
    Fut: std::future::Future<Output = RunResult>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let r = rt.block_on(async {
        let (tx, rx) = watch::channel(None);
        spawn_signal_watch(std::sync::Arc::new(tx));
        f(rx).await
    });
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(r)
}
