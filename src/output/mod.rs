//! Output formats: one file per format, each a pure function of a
//! [`RunResult`] to text, so every format can be golden-tested.

mod json;
mod table;

use crate::engine::RunResult;

/// A stdout/`--output` format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Pass/warn/fail table (plain without a TTY).
    Table,
    /// One JSON object per run (schema 1, fields only ever added).
    Json,
}

/// How a format is rendered.
#[derive(Clone, Copy, Debug, Default)]
pub struct RenderOpts {
    pub color: bool,
    pub verbose: bool,
}

/// Renders `run` in `format`.
pub use json::value as json_value;

/// Renders `run` in `format`.
pub fn render(format: Format, run: &RunResult, opts: &RenderOpts) -> String {
    match format {
        Format::Table => table::render(run, opts),
        Format::Json => json::render(run),
    }
}
