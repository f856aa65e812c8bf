//! Output formats: one file per format, each a pure function of the runs
//! to text, so every format can be golden-tested.

pub mod checklist;
mod incident_report;
mod json;
pub(crate) mod junit;
mod markdown;
mod nagios;
pub(crate) mod prometheus;
pub mod report;
pub(crate) mod table;
pub mod words;

use crate::engine::RunResult;

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
}

/// How formats are rendered.
#[derive(Clone, Debug, Default)]
pub struct RenderOpts {
    pub color: bool,
    pub verbose: bool,
    pub junit_warn: WarnAs,
    pub prom: PromContext,
}

/// Renders `runs` in `format`. Formats that describe one run print one
/// block per run; the machine formats combine all runs in one document.
///
/// The Japanese formats rendered here are the daily ones for the run's day
/// in JST with no history; `opsrun` itself renders them with the runbook's
/// `report:` block and history (see `history::commands::render_ja`).
pub fn render(format: Format, runs: &[&RunResult], opts: &RenderOpts) -> String {
    let each =
        |f: &dyn Fn(&RunResult) -> String| runs.iter().map(|r| f(r)).collect::<Vec<_>>().join("\n");
    match format {
        Format::Table => each(&|r| table::render(r, opts)),
        Format::Markdown => each(&|r| markdown::render(r)),
        Format::Report | Format::Checklist => each(&|r| daily_ja(format, r)),
        Format::Json if runs.len() == 1 => json::render(runs[0]),
        Format::Json => {
            let arr: Vec<serde_json::Value> = runs.iter().map(|r| json::value(r)).collect();
            format!(
                "{}\n",
                serde_json::to_string_pretty(&arr).unwrap_or_default()
            )
        }
        Format::Junit => junit::render(runs, opts.junit_warn),
        Format::Prometheus => prometheus::render(runs, &opts.prom),
        Format::Nagios => nagios::render(runs),
    }
}

fn daily_ja(format: Format, run: &RunResult) -> String {
    let rec = crate::history::RunRecord::from_run(run);
    let tz = crate::values::jst();
    let period = crate::history::period::Period::day(
        rec.started_at.with_timezone(&tz).date_naive(),
        tz,
        rec.started_at,
    );
    if format == Format::Report {
        report::render(
            Some(&rec),
            &report::ReportCtx {
                period: &period,
                spec: None,
                summary: None,
                history_error: None,
            },
        )
    } else {
        checklist::render(
            Some(&rec),
            &period,
            None,
            &crate::history::commands::default_reporter(),
        )
    }
}
