//! `opsrun fleet report`: every host's latest opsrun results, read from
//! Prometheus (`crate::fleet`), as one report (`output::fleet`). The exit
//! code is a run's (SPEC §2) over the whole fleet: 2 when a check fails
//! or a host is stale or down, 1 when one warns, 3 when one is unknown;
//! a Prometheus that cannot give the fleet is an `error:` line and 3.

use super::cli::{FleetAction, FleetCmd};
use super::{Error, Result, write_stdout};
use crate::exit;
use crate::fleet::Query;
use crate::output::words::Lang;

pub(super) fn command(cmd: &FleetCmd, lang: Option<Lang>) -> Result<i32> {
    let FleetAction::Report(args) = &cmd.action;
    let (tz, now) = super::plan::zone_and_clock(&args.dir, args.now)?;
    let query = Query {
        url: &args.prometheus,
        matcher: args.matcher.as_deref(),
        timeout: args.timeout,
        at: now,
        stale_after: args.stale,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let fleet = rt
        .block_on(crate::fleet::fetch(&query))
        .map_err(Error::Fleet)?;
    // A report: Japanese unless `--lang en` asks otherwise (the
    // locale's language is for the table and messages, not reports).
    let lang = lang.unwrap_or(Lang::Ja);
    write_stdout(&crate::output::fleet::render(args.format, &fleet, lang, tz));
    Ok(exit::for_status(fleet.status()))
}
