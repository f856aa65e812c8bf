//! `opsrun history`: recent runs, or one check's results over time with a
//! sparkline, from the history database alone. The listing is read here
//! (`history::listing`) and rendered by the presentation pipeline like
//! every other output.

use super::cli::HistoryCmd;
use super::plan::Plan;
use super::run::emit;
use super::{Error, Result};
use crate::exit;
use crate::history::Store;
use crate::history::listing::{self, Listing, SeriesError};
use crate::output::{self, RenderCtx};
use crate::runbook::CheckRef;
use crate::values::units::format_millis;

/// `opsrun history`: recent runs, or one check's series with a sparkline.
pub(super) fn command(cmd: &HistoryCmd) -> Result<i32> {
    let plan = Plan::for_history(cmd)?;
    let path = &plan.history.path;
    let Some(store) = Store::open_existing(path).map_err(Error::History)? else {
        crate::stdio::say_err!("no history yet at {}", path.display());
        return Ok(exit::OK);
    };
    let listing = match &cmd.check {
        None => Listing::Runs(
            listing::runs(
                &store,
                cmd.runbook.as_deref(),
                plan.now,
                cmd.since,
                cmd.limit,
            )
            .map_err(Error::History)?,
        ),
        Some(id) => {
            let check = CheckRef {
                runbook: cmd.runbook.clone(),
                id: id.clone(),
            };
            match listing::series(&store, check.clone(), plan.now, cmd.since, cmd.limit) {
                Ok(s) => Listing::Series(s),
                Err(SeriesError::History(e)) => return Err(Error::History(e)),
                Err(SeriesError::NoResults { seen }) => {
                    let ids: Vec<&str> = seen.iter().map(String::as_str).collect();
                    return Err(Error::NoResults {
                        check,
                        since: format_millis(cmd.since.as_millis() as f64),
                        hint: crate::suggest::closest(id, &ids).map(str::to_owned),
                        seen,
                    });
                }
            }
        }
    };
    Ok(emit_listing(&plan, &listing))
}

/// Prints a history listing (`history`, `incident list`) and writes its
/// `--output` files. Nothing to list is a note on stderr, not an empty
/// table (JSON says `[]`); `--output` files are written either way.
pub(super) fn emit_listing(plan: &Plan, listing: &Listing) -> i32 {
    let mut ctx = RenderCtx::of_listing(&plan.runbooks, listing, &plan.reporter, plan.tz);
    let note = (plan.output.format != output::Format::Json)
        .then(|| output::history_empty_note(listing))
        .flatten();
    emit(plan, &mut ctx, note.is_none(), "");
    if let Some(n) = note {
        crate::stdio::say_err!("{n}");
    }
    exit::OK
}
