//! Output formats: one file per format, each a pure function of the runs
//! to text, so every format can be golden-tested.

mod incident_report;
mod json;
pub(crate) mod junit;
mod markdown;
mod nagios;
pub(crate) mod prometheus;
pub(crate) mod table;

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
pub fn render(format: Format, runs: &[&RunResult], opts: &RenderOpts) -> String {
    let each =
        |f: &dyn Fn(&RunResult) -> String| runs.iter().map(|r| f(r)).collect::<Vec<_>>().join("\n");
    match format {
        Format::Table => each(&|r| table::render(r, opts)),
        Format::Markdown => each(&|r| markdown::render(r)),
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
