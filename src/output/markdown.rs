//! `markdown`: the table as Markdown, for Slack, GitHub issues and wikis.

use crate::engine::RunResult;
use crate::values::outcome::Status;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "<br>")
}

pub fn render(run: &RunResult) -> String {
    let lang = super::words::lang();
    let mut out = format!(
        "**{}** — {} @ {} · {}\n\n| {} |\n|---|---|---|---|---|\n",
        cell(&run.title),
        cell(&run.runbook),
        cell(&run.host),
        run.started_at.format("%Y-%m-%d %H:%M %:z"),
        super::words::ui::markdown_headers(lang).join(" | ")
    );
    for r in &run.results {
        let o = &r.outcome;
        let status = match o.status {
            Status::Pass | Status::Maint | Status::Skip => {
                super::words::ui::status(o.status, lang).to_owned()
            }
            s => format!("**{}**", super::words::ui::status(s, lang)),
        };
        let mut detail = o.message.clone();
        if !matches!(o.status, Status::Pass | Status::Skip)
            && let Some(h) = &r.check.hint
        {
            detail.push_str(&format!(" → {h}"));
        }
        out.push_str(&format!(
            "| {status} | `{}` | {} | {} | {} |\n",
            r.check.id,
            cell(&r.check.title),
            cell(&o.value),
            cell(detail.trim())
        ));
    }
    out.push_str(&format!("\n{}\n", super::table::summary(run)));
    out
}
