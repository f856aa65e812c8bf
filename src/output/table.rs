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
    let mut header = vec!["STATUS", "ID", "TITLE", "VALUE", "DETAIL"];
    if narrow {
        header.remove(2);
    }
    t.set_header(header);
    for r in &run.results {
        let o = &r.outcome;
        let mut status = Cell::new(o.status.label()).set_alignment(CellAlignment::Left);
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
            detail.push(format!(
                "{} · {:.0}ms · {} attempt{}",
                r.check.kind_name,
                r.duration.as_secs_f64() * 1000.0,
                r.attempts,
                if r.attempts == 1 { "" } else { "s" }
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
        out.push_str(&format!(
            "interrupted by {}: unfinished checks are unknown\n",
            match i {
                crate::engine::Interrupt::Sigint => "SIGINT",
                crate::engine::Interrupt::Sigterm => "SIGTERM",
            }
        ));
    }
    out
}

/// `12 pass · 1 warn · 0 fail · 0 unknown · 0 skip  (1.24s)`, with
/// `· 2 maint` before the time when a maintenance window held results.
pub fn summary(run: &RunResult) -> String {
    let maint = match run.count(Status::Maint) {
        0 => String::new(),
        n => format!(" · {n} maint"),
    };
    format!(
        "{} pass · {} warn · {} fail · {} unknown · {} skip{maint}  ({:.2}s)",
        run.count(Status::Pass),
        run.count(Status::Warn),
        run.count(Status::Fail),
        run.count(Status::Unknown),
        run.count(Status::Skip),
        run.duration.as_secs_f64()
    )
}
