//! `table`: one row per check — status, id, title, value, why — and a
//! summary line. Japanese text aligns (comfy-table measures display width).

use comfy_table::{
    Cell, CellAlignment, Color, ColumnConstraint, ContentArrangement, Table, presets,
};

use super::RenderOpts;
use crate::engine::RunResult;
use crate::values::outcome::Status;
use crate::values::text::printable;

fn color(s: Status) -> Color {
    match s {
        Status::Pass => Color::Green,
        Status::Warn => Color::Yellow,
        Status::Fail => Color::Red,
        Status::Unknown => Color::Magenta,
        Status::Skip => Color::DarkGrey,
        Status::Maint => Color::Blue,
    }
}

/// Below this width the TITLE column is left out (the id names the check;
/// the title would squeeze DETAIL into a few characters per line).
const NARROW: u16 = 100;

pub fn render(run: &RunResult, opts: &RenderOpts) -> String {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    t.force_no_tty();
    if opts.color {
        t.enforce_styling();
    }
    let narrow = opts.width.is_some_and(|w| w < NARROW);
    match opts.width {
        // Fit the terminal, wrapping VALUE and DETAIL (and TITLE) at
        // word boundaries; STATUS and ID are never broken.
        Some(w) => {
            t.set_width(w);
            t.set_content_arrangement(ContentArrangement::Dynamic);
        }
        None => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    let lang = super::words::lang();
    let mut header = super::words::ui::headers(lang).to_vec();
    if narrow {
        header.remove(2);
    }
    t.set_header(header);
    for r in &run.results {
        let o = &r.outcome;
        let mut status =
            Cell::new(super::words::ui::status(o.status, lang)).set_alignment(CellAlignment::Left);
        if opts.color {
            status = status.fg(color(o.status));
        }
        let mut detail: Vec<String> = Vec::new();
        if !o.message.is_empty() {
            detail.push(o.message.clone());
        }
        if o.status != Status::Pass
            && o.status != Status::Skip
            && let Some(h) = &r.check.hint
        {
            detail.push(format!("→ {h}"));
        }
        if opts.verbose && o.status != Status::Skip {
            detail.extend(super::words::details(&o.detail));
            detail.push(super::words::ui::ran(
                r.check.kind_name,
                r.duration.as_secs_f64() * 1000.0,
                r.attempts,
                lang,
            ));
        }
        // Escaped here, cell by cell: the coloured table skips the final
        // pass in `output::render` (its colours are escape sequences).
        let mut row = vec![
            status,
            Cell::new(printable(&r.check.id)),
            Cell::new(printable(&r.check.title)),
            Cell::new(printable(&o.value)),
            Cell::new(printable(&detail.join("\n"))),
        ];
        if narrow {
            row.remove(2);
        }
        t.add_row(row);
    }
    for i in [0, 1] {
        if let Some(c) = t.column_mut(i) {
            c.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    let mut out = format!(
        "{} — {} @ {} · {}\n",
        printable(&run.title),
        printable(&run.runbook),
        printable(&run.host),
        run.started_at.format("%Y-%m-%d %H:%M:%S %:z")
    );
    out.push_str(&t.to_string());
    out.push('\n');
    out.push_str(&summary(run));
    out.push('\n');
    if let Some(i) = run.interrupted {
        let signal = match i {
            crate::engine::Interrupt::Sigint => "SIGINT",
            crate::engine::Interrupt::Sigterm => "SIGTERM",
        };
        out.push_str(&super::words::ui::interrupted(signal, lang));
        out.push('\n');
    }
    out
}

/// `12 pass · 1 warn · 0 fail · 0 unknown · 0 skip  (1.24s)`, with
/// `· 2 maint` before the time when a maintenance window held results;
/// in Japanese with `--lang ja`.
pub fn summary(run: &RunResult) -> String {
    let c = super::words::ui::Counts {
        pass: run.count(Status::Pass),
        warn: run.count(Status::Warn),
        fail: run.count(Status::Fail),
        unknown: run.count(Status::Unknown),
        skip: run.count(Status::Skip),
        maint: run.count(Status::Maint),
        secs: run.duration.as_secs_f64(),
    };
    super::words::ui::summary(&c, super::words::lang())
}
