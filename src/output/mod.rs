//! Output formats: one file per format, each a pure function of a
//! [`RunResult`] to text, so every format can be golden-tested.

pub mod checklist;
mod json;
pub mod report;
mod table;

use crate::engine::RunResult;

/// A stdout/`--output` format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Pass/warn/fail table (plain without a TTY).
    Table,
    /// One JSON object per run (schema 1, fields only ever added).
    Json,
    /// The Japanese report (日次/週次/月次運用レポート).
    Report,
    /// The Japanese checklist (運用チェックリスト), each item ticked.
    Checklist,
}

/// How a format is rendered.
#[derive(Clone, Copy, Debug, Default)]
pub struct RenderOpts {
    pub color: bool,
    pub verbose: bool,
}

/// Renders `run` in `format`.
pub use json::value as json_value;

/// Renders `run` in `format`. The Japanese formats rendered here are the
/// daily ones for the run's day in JST; `opsrun` itself renders them with
/// the runbook's `report:` block and history (see `history::commands`).
pub fn render(format: Format, run: &RunResult, opts: &RenderOpts) -> String {
    match format {
        Format::Table => table::render(run, opts),
        Format::Json => json::render(run),
        Format::Report | Format::Checklist => {
            let rec = crate::history::RunRecord::from_run(run);
            let tz = crate::history::period::jst();
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
    }
}
