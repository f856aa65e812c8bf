//! `fleet report -f text`: the fleet report in the shape of the other
//! reports (【…レポート】, ■ sections, `- ` lines, 特になし), with the
//! hosts × runbooks matrix as an aligned table (comfy-table measures
//! full-width text).

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

use super::Words;
use crate::fleet::Fleet;

pub(super) fn render(fleet: &Fleet, w: &Words) -> String {
    let mut out = format!("【{}】{}\n", w.title(), w.heading_time(fleet));
    out.push_str(&format!(
        "Prometheus: {}{}\n",
        fleet.source,
        fleet
            .matcher
            .as_ref()
            .map(|m| format!("  {} {m}", w.pick("対象:", "match:")))
            .unwrap_or_default()
    ));

    let stale: Vec<_> = fleet.stale_hosts().collect();
    section(&mut out, w.pick("概要", "Summary"));
    line(&mut out, w.pick("ホスト数", "Hosts"), &w.host_counts(fleet));
    line(
        &mut out,
        w.pick("古いホスト", "Stale hosts"),
        &count(w, stale.len()),
    );
    line(
        &mut out,
        w.pick("取得できないホスト", "Hosts down"),
        &count(w, fleet.down.len()),
    );
    line(&mut out, w.pick("判定", "Status"), w.status(fleet.status()));

    section(&mut out, w.pick("ホスト別状況", "Hosts × runbooks"));
    out.push_str(&matrix(fleet, w));

    section(
        &mut out,
        w.pick("異常・警告のあるチェック", "Checks not passing"),
    );
    let problems = fleet.problems();
    if problems.is_empty() {
        out.push_str(&format!("- {}\n", w.none()));
    }
    for p in problems {
        let mut said = w.observed(fleet, p.check);
        if let Some(k) = &p.check.kind {
            said.insert(0, format!("({k})"));
        }
        if fleet.is_stale(p.host)
            && let Some(t) = p.runbook.last_run
        {
            said.push(if w.ja() {
                format!("（{}の結果）", w.when(fleet, t))
            } else {
                format!("(as of {})", w.when(fleet, t))
            });
        }
        out.push_str(&format!(
            "- [{}] {} {}/{}{}{}\n",
            w.status(p.check.status),
            w.host(fleet, p.host),
            p.runbook.name,
            p.check.id,
            if said.is_empty() { "" } else { " " },
            said.join(" ")
        ));
    }

    section(
        &mut out,
        &if w.ja() {
            format!("古いホスト（最終実行から{}超）", w.limit(fleet))
        } else {
            format!("Stale hosts (last run over {} ago)", w.limit(fleet))
        },
    );
    if stale.is_empty() {
        out.push_str(&format!("- {}\n", w.none()));
    }
    // A stale host has a last run (that is how it is stale).
    for (h, t) in stale.iter().filter_map(|h| Some((h, h.last_run()?))) {
        out.push_str(&format!(
            "- {}: {} {}{}\n",
            w.host(fleet, h),
            w.pick("最終実行", "last run"),
            w.when(fleet, t),
            if w.ja() {
                format!("（{}）", w.ago(fleet, t))
            } else {
                format!(" ({})", w.ago(fleet, t))
            }
        ));
    }

    section(
        &mut out,
        w.pick(
            "取得できないホスト（スクレイプ失敗）",
            "Hosts down (scrape failing)",
        ),
    );
    if fleet.down.is_empty() {
        out.push_str(&format!("- {}\n", w.none()));
    }
    for t in &fleet.down {
        out.push_str(&format!(
            "- {}{}\n",
            t.instance,
            t.job
                .as_ref()
                .map(|j| format!(" (job {j})"))
                .unwrap_or_default()
        ));
    }
    out
}

fn section(out: &mut String, name: &str) {
    out.push_str(&format!("\n■ {name}\n"));
}

fn line(out: &mut String, label: &str, value: &str) {
    out.push_str(&format!("- {label}: {value}\n"));
}

fn count(w: &Words, n: usize) -> String {
    if w.ja() {
        format!("{n}台")
    } else {
        n.to_string()
    }
}

/// ホスト | each runbook | 最終実行: a runbook a host does not run is `-`.
fn matrix(fleet: &Fleet, w: &Words) -> String {
    let names = fleet.runbook_names();
    let mut t = Table::new();
    t.load_style(presets::NOTHING);
    t.force_no_tty();
    t.set_content_arrangement(ContentArrangement::Disabled);
    let mut header = vec![w.pick("ホスト", "HOST").to_owned()];
    header.extend(names.iter().map(|n| n.to_string()));
    header.push(w.pick("最終実行", "LAST RUN").to_owned());
    t.set_header(header);
    for h in &fleet.hosts {
        let mut row = vec![w.host(fleet, h)];
        for n in &names {
            row.push(
                h.runbook(n)
                    .map_or("-".to_owned(), |r| w.status(r.status).to_owned()),
            );
        }
        row.push(w.last_run(fleet, h));
        t.add_row(row);
    }
    for c in t.column_iter_mut() {
        c.set_cell_alignment(CellAlignment::Left);
    }
    // NOTHING pads each cell with a blank on both sides: the table's
    // lines start with one and may end with some.
    let mut out = String::new();
    for l in t.to_string().lines() {
        out.push_str(l.strip_prefix(' ').unwrap_or(l).trim_end());
        out.push('\n');
    }
    out
}
