//! `opsrun silence add|list|remove` (SPEC §10.4): maintenance windows
//! opened from the command line and kept in history, so every later run
//! on the host honours them until they end.

use super::cli::{SilenceAction, SilenceCmd, SilenceFormat};
use super::plan::Plan;
use super::{Error, Result, write_stdout};
use crate::exit;
use crate::history::silence;
use crate::spec::maintenance::{When, Window};

/// A silence longer than this is a decommission, not maintenance: say so
/// in the runbook (remove the check) rather than mute it for months.
const LONGEST: std::time::Duration = std::time::Duration::from_secs(31 * 86_400);

pub(super) fn command(cmd: &SilenceCmd) -> Result<i32> {
    let plan = Plan::for_silence(cmd)?;
    let path = &plan.history.path;
    let now_ms = plan.now.timestamp_millis();
    let history_error = Error::History;
    match &cmd.action {
        SilenceAction::Add {
            r#for,
            from,
            check,
            runbook,
            reason,
            ..
        } => {
            if r#for.is_zero() || *r#for > LONGEST {
                return Err(Error::Invalid(format!(
                    "--for {}: a silence lasts more than 0s and at most 31d",
                    crate::values::units::format_millis(r#for.as_secs_f64() * 1000.0)
                )));
            }
            if reason.trim().is_empty() {
                return Err(Error::Invalid(
                    "--reason: say why (it is shown in every run and report it silences)".into(),
                ));
            }
            let from_ms = match from {
                None => now_ms,
                Some(s) => start(s, &plan)?,
            };
            let w = Window {
                from_ms,
                to_ms: from_ms + r#for.as_millis() as i64,
                checks: (!check.is_empty()).then(|| check.clone()),
                runbook: runbook.clone(),
                reason: reason.trim().to_owned(),
            };
            let id = silence::add(path, &w, &plan.reporter, now_ms).map_err(history_error)?;
            write_stdout(&crate::output::silence::added(id, &w, plan.tz));
            Ok(exit::OK)
        }
        SilenceAction::List { all, format, .. } => {
            let list = silence::list(path, now_ms, *all).map_err(history_error)?;
            write_stdout(&match format {
                SilenceFormat::Table => crate::output::silence::table(&list, plan.tz, now_ms),
                SilenceFormat::Json => crate::output::silence::json(&list, plan.tz),
            });
            Ok(exit::OK)
        }
        SilenceAction::Remove { id, .. } => {
            if silence::remove(path, *id).map_err(history_error)? {
                write_stdout(&format!("silence {id} removed\n"));
                Ok(exit::OK)
            } else {
                Err(Error::Invalid(format!(
                    "no silence {id} in {} (`opsrun silence list --all` shows them)",
                    path.display()
                )))
            }
        }
    }
}

/// `--from`: `HH:MM` today, `YYYY-MM-DD HH:MM`, or RFC 3339, in the run's
/// time zone.
fn start(s: &str, plan: &Plan) -> Result<i64> {
    if let Ok(t) = chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M") {
        let today = plan.tz.at(&plan.now).date_naive();
        return Ok(plan.tz.local(today.and_time(t)).timestamp_millis());
    }
    When::parse(s)
        .map(|w| w.instant(plan.tz).timestamp_millis())
        .map_err(|e| Error::Invalid(format!("--from: {e}")))
}
