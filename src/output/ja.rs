//! `-f report` / `-f checklist` of runs just made: each runbook's
//! `report:` block, its period in the invocation's time zone, and (weekly,
//! monthly) what history says about the period.

use super::{Format, RenderCtx, checklist, html, report};
use crate::history::RunRecord;
use crate::history::period::Period;
use crate::history::summary::PeriodSummary;
use crate::runbook::{ReportSpec, Runbook};
use crate::values::PeriodKind;

/// The report kind a runbook prints: `report.period`, else by its name.
pub(crate) fn kind_of(rb: &Runbook) -> PeriodKind {
    rb.report
        .period
        .unwrap_or_else(|| PeriodKind::for_runbook_name(&rb.name))
}

/// The document's name before レポート/チェックリスト (SPEC §10.2):
/// `日次運用`/`週次運用`/`月次運用` for the runbooks named daily, weekly
/// and monthly and for one whose `report.period` (`report.kind`) says
/// which; `障害対応` for an incident runbook; else the runbook's `title:`
/// (`run slow.yaml -f report` is 【slowレポート】, not a 日次運用レポート).
/// No runbook (`opsrun report` from history alone): the period's.
pub(crate) fn heading(rb: Option<&Runbook>, kind: PeriodKind) -> String {
    let period_word = format!("{}運用", kind.ja());
    let Some(rb) = rb else {
        return period_word;
    };
    if rb.workflow.incident.is_some() {
        return "障害対応".into();
    }
    if rb.report.period.is_some() || matches!(rb.name.as_str(), "daily" | "weekly" | "monthly") {
        return period_word;
    }
    rb.title.clone()
}

pub(super) fn render(format: Format, ctx: &mut RenderCtx) -> String {
    let mut parts = Vec::new();
    let mut pages = Vec::new();
    for (i, run) in ctx.records.iter().enumerate() {
        let rb = ctx.runbooks.get(i);
        let kind = rb.map(kind_of).unwrap_or(PeriodKind::Daily);
        let spec = rb.map(|r| &r.report);
        let period = Period::current(kind, run.started_at, ctx.tz);
        let history = match (rb, ctx.history.as_deref_mut()) {
            (Some(rb), Some(h))
                if matches!(format, Format::Report | Format::Html) && kind != PeriodKind::Daily =>
            {
                h.period_summary(&rb.report, &period, &rb.name, rb.system.as_deref())
            }
            _ => (None, None),
        };
        if format == Format::Html {
            // Several runs make one page, not pages end to end.
            pages.push(html::report_fragment(
                Some(run),
                &report::ReportCtx {
                    period: &period,
                    heading: &heading(rb, kind),
                    spec,
                    summary: history.0.as_ref(),
                    history_error: history.1.as_deref(),
                },
            ));
            continue;
        }
        parts.push(render_period(
            format,
            Some(run),
            spec,
            &period,
            &history,
            ctx.reporter,
            &heading(rb, kind),
        ));
    }
    if format == Format::Html {
        return html::pages(&pages);
    }
    parts.join("\n")
}

/// The report or checklist of `period`: the one renderer of the Japanese
/// formats, for runs just made and for `opsrun report` (past periods from
/// history). `history` is the period's summary, or why it cannot be read.
pub(crate) fn render_period(
    format: Format,
    run: Option<&RunRecord>,
    spec: Option<&ReportSpec>,
    period: &Period,
    history: &(Option<PeriodSummary>, Option<String>),
    reporter: &str,
    heading: &str,
) -> String {
    if format == Format::Checklist {
        return checklist::render(run, period, spec, reporter, heading);
    }
    let ctx = report::ReportCtx {
        period,
        heading,
        spec,
        summary: history.0.as_ref(),
        history_error: history.1.as_deref(),
    };
    if format == Format::Html {
        return html::report(run, &ctx);
    }
    report::render(run, &ctx)
}
