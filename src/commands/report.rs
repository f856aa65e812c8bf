//! `opsrun report daily|weekly|monthly`: the report of a past period from
//! history alone, rendered by the presentation layer's one Japanese
//! renderer. Exit 0 once rendered; 3 when it cannot be.

use super::cli::ReportCmd;
use super::plan::Plan;
use super::{Error, Result, write_stdout};
use crate::exit;
use crate::history::period::Period;
use crate::history::{Store, summary};
use crate::output::{Format, render_period};
use crate::runbook::ReportSpec;
use crate::values::PeriodKind;

pub(super) fn command(cmd: &ReportCmd) -> Result<i32> {
    let name = cmd.runbook.clone().unwrap_or_else(|| {
        match cmd.period {
            PeriodKind::Daily => "daily",
            PeriodKind::Weekly => "weekly",
            PeriodKind::Monthly => "monthly",
        }
        .to_owned()
    });
    let plan = Plan::for_report(&name, cmd)?;
    let default_spec = ReportSpec::default();
    let spec = plan.runbooks.first().map_or(&default_spec, |rb| &rb.report);
    let (tz, now) = (plan.tz, plan.now);
    let period = match (cmd.period, cmd.date, cmd.month) {
        (PeriodKind::Daily, Some(d), None) => Period::day(d, tz, now),
        (PeriodKind::Weekly, Some(d), None) => Period::week(d, tz, now),
        (PeriodKind::Monthly, None, Some((y, m))) => Period::month(y, m, tz, now)
            .ok_or_else(|| Error::Invalid(format!("--month: no such month {y}-{m:02}")))?,
        (PeriodKind::Monthly, Some(d), None) => {
            use chrono::Datelike;
            Period::month(d.year(), d.month(), tz, now).expect("a date's month exists")
        }
        (k, None, None) => Period::current(k, now, tz),
        (_, None, Some(_)) => {
            return Err(Error::Invalid(
                "--month is for monthly reports; use --date YYYY-MM-DD".into(),
            ));
        }
        (_, Some(_), Some(_)) => unreachable!("clap: --date conflicts with --month"),
    };
    if period.start > now {
        return Err(Error::Invalid(format!(
            "{} is in the future (now is {})",
            period.label(),
            now.format("%Y-%m-%d %H:%M %:z")
        )));
    }
    let path = &plan.history.path;
    let store = Store::open_existing(path).map_err(Error::History)?;
    let (from, to) = period.run_window();
    let run = match &store {
        Some(s) => s.latest_run(&name, &from, &to).map_err(Error::History)?,
        None => None,
    };
    if cmd.period == PeriodKind::Daily && run.is_none() {
        return Err(Error::Invalid(format!(
            "no run of `{name}` recorded on {} in {}{}",
            period.label(),
            path.display(),
            if store.is_none() {
                " (no history file yet)"
            } else {
                ""
            }
        )));
    }
    let format = plan.output.format;
    let history = match (&store, cmd.period) {
        (Some(s), PeriodKind::Weekly | PeriodKind::Monthly)
            if matches!(format, Format::Report | Format::Html) =>
        {
            // The report runbook's system; without its file, the one
            // history recorded with its latest run.
            let system = match plan.runbooks.first() {
                Some(rb) => rb.system.clone(),
                None => s.system_of(&name).unwrap_or_default(),
            };
            match summary::summarize(s, spec, &period, &name, system.as_deref()) {
                Ok(sum) => (Some(sum), None),
                Err(e) => (None, Some(e.reason)),
            }
        }
        _ => (None, None),
    };
    write_stdout(&render_period(
        format,
        run.as_ref(),
        Some(spec),
        &period,
        &history,
        &plan.reporter,
        // `opsrun report weekly` asks for a period's report by name: its
        // title is the period's (an incident runbook's stays 障害対応).
        &crate::output::heading(
            plan.runbooks
                .first()
                .filter(|rb| rb.workflow.incident.is_some()),
            cmd.period,
        ),
    ));
    Ok(exit::OK)
}
