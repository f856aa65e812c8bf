//! `markdown`: the table as Markdown, for Slack, GitHub issues and wikis.

use crate::engine::RunResult;
use crate::values::outcome::Status;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "<br>")
}

pub fn render(run: &RunResult) -> String {
    let mut out = format!(
        "**{}** — {} @ {} · {}\n\n| status | id | title | value | detail |\n|---|---|---|---|---|\n",
        cell(&run.title),
        cell(&run.runbook),
        cell(&run.host),
        run.started_at.format("%Y-%m-%d %H:%M %:z")
    );
    for r in &run.results {
        let o = &r.outcome;
        let status = match o.status {
            Status::Pass | Status::Maint | Status::Skip => o.status.label().to_owned(),
            s => format!("**{}**", s.label()),
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
