//! `fleet report -f markdown`: the fleet report for Slack, GitHub issues
//! and wikis — the matrix and the problems as Markdown tables, a status
//! other than pass in bold.

use super::Words;
use crate::fleet::Fleet;
use crate::values::outcome::Status;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "<br>")
}

fn status(w: &Words, s: Status) -> String {
    match s {
        Status::Pass | Status::Maint | Status::Skip => w.status(s).to_owned(),
        s => format!("**{}**", w.status(s)),
    }
}

pub(super) fn render(fleet: &Fleet, w: &Words) -> String {
    let mut out = format!(
        "## {} {}\n\nPrometheus: `{}`{} · **{}**\n",
        w.title(),
        w.heading_time(fleet),
        fleet.source,
        fleet
            .matcher
            .as_ref()
            .map(|m| format!(" · `{m}`"))
            .unwrap_or_default(),
        w.status(fleet.status()),
    );
    let stale: Vec<_> = fleet.stale_hosts().collect();
    out.push_str(&format!(
        "\n{}: {} · {}: {} · {}: {}\n",
        w.pick("ホスト数", "Hosts"),
        w.host_counts(fleet),
        w.pick("古いホスト", "stale"),
        stale.len(),
        w.pick("取得できないホスト", "down"),
        fleet.down.len(),
    ));

    let names = fleet.runbook_names();
    out.push_str(&format!(
        "\n### {}\n\n| {} |",
        w.pick("ホスト別状況", "Hosts × runbooks"),
        w.pick("ホスト", "host")
    ));
    for n in &names {
        out.push_str(&format!(" {} |", cell(n)));
    }
    out.push_str(&format!(" {} |\n|---|", w.pick("最終実行", "last run")));
    for _ in &names {
        out.push_str("---|");
    }
    out.push_str("---|\n");
    for h in &fleet.hosts {
        out.push_str(&format!("| {} |", cell(&w.host(fleet, h))));
        for n in &names {
            let s = h.runbook(n).map_or("-".to_owned(), |r| status(w, r.status));
            out.push_str(&format!(" {s} |"));
        }
        out.push_str(&format!(" {} |\n", cell(&w.last_run(fleet, h))));
    }

    out.push_str(&format!(
        "\n### {}\n\n",
        w.pick("異常・警告のあるチェック", "Checks not passing")
    ));
    let problems = fleet.problems();
    if problems.is_empty() {
        out.push_str(&format!("{}\n", w.none()));
    } else {
        out.push_str(w.pick(
            "| 状態 | ホスト | ランブック | チェック | 種別 | 値 |\n",
            "| status | host | runbook | check | kind | value |\n",
        ));
        out.push_str("|---|---|---|---|---|---|\n");
        for p in problems {
            out.push_str(&format!(
                "| {} | {} | {} | `{}` | {} | {} |\n",
                status(w, p.check.status),
                cell(&w.host(fleet, p.host)),
                cell(&p.runbook.name),
                p.check.id.replace('`', "'"),
                cell(p.check.kind.as_deref().unwrap_or("")),
                cell(&w.observed(fleet, p.check).join(" ")),
            ));
        }
    }

    out.push_str(&format!(
        "\n### {}\n\n",
        if w.ja() {
            format!("古いホスト（最終実行から{}超）", w.limit(fleet))
        } else {
            format!("Stale hosts (last run over {} ago)", w.limit(fleet))
        }
    ));
    if stale.is_empty() {
        out.push_str(&format!("{}\n", w.none()));
    }
    for h in stale {
        out.push_str(&format!(
            "- {}: {}\n",
            cell(&w.host(fleet, h)),
            cell(&w.last_run(fleet, h))
        ));
    }

    out.push_str(&format!(
        "\n### {}\n\n",
        w.pick("取得できないホスト", "Hosts down")
    ));
    if fleet.down.is_empty() {
        out.push_str(&format!("{}\n", w.none()));
    }
    for t in &fleet.down {
        out.push_str(&format!(
            "- {}{}\n",
            cell(&t.instance),
            t.job
                .as_ref()
                .map(|j| format!(" (job {})", cell(j)))
                .unwrap_or_default()
        ));
    }
    out
}
