//! The presentation layer: one file per format, each a function of a
//! [`RenderCtx`] to text, so every format can be golden-tested. Words are
//! chosen here, never in the layers below: results are data (statuses,
//! values, reasons) and the words a person reads for them — English for
//! table/markdown/nagios/JSON `message`, Japanese for the reports — are
//! rendered by the modules of this directory (reason wording goes in a
//! module of its own here, beside the formats that use it).

pub mod checklist;
pub mod fleet;
mod history;
pub(crate) mod html;
mod incident_list;
mod incident_progress;
mod incident_report;
mod ja;
pub(crate) use ja::{heading, render_period};
mod json;
pub(crate) mod junit;
mod markdown;
mod nagios;
pub(crate) mod notify;
pub(crate) mod prometheus;
pub(crate) mod prune;
pub mod report;
pub(crate) mod serve;
pub(crate) mod silence;
pub(crate) mod table;
pub mod words;

use crate::values::Zone;

use crate::engine::RunResult;
use crate::history::listing::Listing;
use crate::history::{RunRecord, Session};
use crate::incident::IncidentRun;
use crate::runbook::Runbook;

pub use history::empty_note as history_empty_note;
pub use incident_progress::{
    actions_done as incident_actions, findings as incident_findings, progress as incident_progress,
    prompt as incident_prompt, summary_line as incident_summary,
};
pub use incident_report::render as incident_report;
pub use json::value as json_value;
pub use junit::WarnAs;
pub use prometheus::PromContext;

/// A stdout/`--output` format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Pass/warn/fail table (plain without a TTY)
    Table,
    /// The Japanese report (日次/週次/月次運用レポート)
    Report,
    /// The Japanese checklist (運用チェックリスト), each item ticked
    Checklist,
    /// One JSON object per run (schema 1; an array for several runbooks)
    Json,
    /// JUnit XML: one testsuite per run, one testcase per check
    Junit,
    /// node_exporter textfile format (written atomically with --output)
    Prometheus,
    /// Nagios plugin line with perfdata, then one line per problem
    Nagios,
    /// The table as Markdown (Slack, GitHub)
    Markdown,
    /// The report (or 障害報告) as one self-contained HTML page, with charts for weekly/monthly
    Html,
}

/// How formats are rendered.
#[derive(Clone, Debug, Default)]
pub struct RenderOpts {
    pub color: bool,
    /// The terminal's width in columns for the table (`COLUMNS`, else the
    /// terminal's size); `None` (a pipe, cron, a terminal that reports
    /// 0×0): the table is laid out without a width and never wrapped.
    pub width: Option<u16>,
    pub verbose: bool,
    pub junit_warn: WarnAs,
    pub prom: PromContext,
}

/// Everything a format may be rendered from: the runs of this invocation,
/// the runbooks they came from (their `report:` blocks), history (weekly
/// and monthly summaries), the incident when the command was `incident`,
/// `opsrun history`'s listing, and the invocation's reporter and time zone. Stdout and every
/// `--output` file are rendered from the same context by [`render`].
pub struct RenderCtx<'a> {
    pub runbooks: &'a [Runbook],
    pub runs: &'a [RunResult],
    /// The runs as history records them (what the Japanese formats read).
    pub records: &'a [RunRecord],
    /// This invocation's history; `None` renders without history.
    pub history: Option<&'a mut Session>,
    pub incident: Option<&'a IncidentRun>,
    /// What `opsrun history` shows, when the command was `history`.
    pub listing: Option<&'a Listing>,
    pub reporter: &'a str,
    pub tz: Zone,
}

impl<'a> RenderCtx<'a> {
    /// The context of a history listing (`opsrun history`, `incident
    /// list`): no run, no session, only what the listing shows.
    pub fn of_listing(
        runbooks: &'a [Runbook],
        listing: &'a Listing,
        reporter: &'a str,
        tz: Zone,
    ) -> RenderCtx<'a> {
        RenderCtx {
            runbooks,
            runs: &[],
            records: &[],
            history: None,
            incident: None,
            listing: Some(listing),
            reporter,
            tz,
        }
    }
}

/// Renders the context in `format`: the one path for stdout and
/// `--output`. Formats that describe one run print one block per run; the
/// machine formats combine all runs in one document. For an incident, the
/// table and the report are the 障害報告; the machine formats describe
/// its diagnostics run. A history listing is JSON with `-f json` and its
/// table otherwise (`opsrun history` offers only those two).
///
/// Every format's text goes through `values::text::printable` here, once:
/// control bytes from a check's output (escape sequences, BEL, NUL) are
/// shown escaped, never sent to the terminal. The coloured table is the
/// one exception — its own colours are escape sequences — so it escapes
/// each cell it is given instead.
pub fn render(format: Format, ctx: &mut RenderCtx, opts: &RenderOpts) -> String {
    let colored_table =
        format == Format::Table && opts.color && ctx.listing.is_none() && ctx.incident.is_none();
    let text = render_raw(format, ctx, opts);
    if colored_table {
        return text;
    }
    match crate::values::text::printable(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(clean) => clean,
    }
}

fn render_raw(format: Format, ctx: &mut RenderCtx, opts: &RenderOpts) -> String {
    if let Some(l) = ctx.listing {
        return history::render(format, l, ctx.tz);
    }
    if let Some(inc) = ctx.incident {
        match format {
            Format::Table | Format::Report => return incident_report::render(inc),
            Format::Html => return html::incident(inc),
            _ => {}
        }
    }
    let runs: Vec<&RunResult> = ctx.runs.iter().collect();
    let each =
        |f: &dyn Fn(&RunResult) -> String| runs.iter().map(|r| f(r)).collect::<Vec<_>>().join("\n");
    match format {
        Format::Table => each(&|r| table::render(r, opts)),
        Format::Markdown => each(&|r| markdown::render(r)),
        Format::Report | Format::Checklist | Format::Html => ja::render(format, ctx),
        Format::Json if runs.len() == 1 => json::render(runs[0]),
        Format::Json => {
            let arr: Vec<serde_json::Value> = runs.iter().map(|r| json::value(r)).collect();
            format!(
                "{}\n",
                serde_json::to_string_pretty(&arr).unwrap_or_default()
            )
        }
        Format::Junit => junit::render(&runs, opts.junit_warn),
        Format::Prometheus => prometheus::render(&runs, &opts.prom),
        Format::Nagios => nagios::render(&runs),
    }
}
