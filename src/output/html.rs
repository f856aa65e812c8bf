//! `html`: the 日次/週次/月次運用レポート and the 障害報告 as one
//! self-contained HTML file each (SPEC §10.7) — for a manager's browser,
//! a mail's HTML part, a printed A4 page or a phone.
//!
//! Nothing is worded here: the report's lines come from
//! [`report::doc`](super::report::doc) and the 障害報告's from
//! [`incident_report::doc`](super::incident_report::doc), the same data
//! the text formats print, so the two never say different things. This
//! module lays them out: the summary, each ■ section as a table, the
//! check table, and for weekly/monthly reports the charts of
//! [`chart`] (inline SVG). [`page`] holds the pieces other HTML views
//! reuse (page shell and CSS, escaping, tables, badges).

pub(crate) mod chart;
pub(crate) mod page;
pub(crate) mod svg;

pub(crate) use page::{Cell, badge, badge_text, esc, list, section, table};

use super::incident_report::{self, IncidentDoc};
use super::report::{self, Line, ReportCtx, ReportDoc};
use crate::history::{ResultRecord, RunRecord};
use crate::incident::IncidentRun;
use crate::values::outcome::Status;

/// One document's title and body markup, before it is put in a page:
/// several runs of one invocation make one page of several documents.
#[derive(Clone, Debug)]
pub(crate) struct Fragment {
    pub title: String,
    pub body: String,
}

/// One page of `docs`: a single document is titled by its own title,
/// several each get their own `<h1>` in one page.
pub(crate) fn pages(docs: &[Fragment]) -> String {
    match docs {
        [] => String::new(),
        [one] => page::page("ja", &one.title, &one.body),
        _ => {
            let title = docs
                .iter()
                .map(|d| d.title.as_str())
                .collect::<Vec<_>>()
                .join(" / ");
            let body: String = docs
                .iter()
                .map(|d| {
                    format!(
                        "<article>\n<h1>{}</h1>\n{}</article>\n",
                        esc(&d.title),
                        d.body
                    )
                })
                .collect();
            page::document("ja", &title, &body)
        }
    }
}

/// The report of `run` (and, weekly/monthly, of history) as a page.
pub(crate) fn report(run: Option<&RunRecord>, ctx: &ReportCtx) -> String {
    pages(&[report_fragment(run, ctx)])
}

/// The report as a [`Fragment`].
pub(crate) fn report_fragment(run: Option<&RunRecord>, ctx: &ReportCtx) -> Fragment {
    let d: ReportDoc = report::doc(run, ctx);
    let mut body = String::new();
    if let Some(run) = run {
        body.push_str(&run_meta(run));
        body.push_str(&summary(run.results.iter().map(|r| r.status)));
    }
    for s in &d.sections {
        let mut inner = lines(&s.lines);
        // Weekly/monthly: each line's chart beside it.
        let figures = ctx
            .summary
            .map(|sum| chart::for_section(sum, ctx.period, &s.name, &s.lines))
            .unwrap_or_default();
        if !figures.is_empty() {
            inner.push_str("<div class=\"charts\">\n");
            inner.push_str(&figures.concat());
            inner.push_str("</div>\n");
        }
        body.push_str(&section(&format!("■ {}", s.name), &inner));
    }
    let notes: Vec<Cell> = d
        .notes
        .iter()
        .map(|n| {
            Cell::Html(match (&n.tag, n.status) {
                (Some(t), Some(s)) => format!("{} {}", badge_text(s, t), esc(&n.text)),
                (Some(t), None) => format!("[{}] {}", esc(t), esc(&n.text)),
                (None, _) => esc(&n.text),
            })
        })
        .collect();
    body.push_str(&section("■ 特記事項", &list(&notes, NONE)));
    let actions: Vec<Cell> = d.actions.iter().map(Cell::text).collect();
    body.push_str(&section("■ 対応事項", &list(&actions, NONE)));
    if let Some(run) = run {
        body.push_str(&section(
            "■ チェック結果",
            &checks_table(&run.results, ctx.spec),
        ));
    }
    Fragment {
        title: d.title,
        body,
    }
}

/// The 障害報告 of `inc` as a page: its blocks, then the diagnostics.
pub(crate) fn incident(inc: &IncidentRun) -> String {
    let d: IncidentDoc = incident_report::doc(inc);
    let diag = RunRecord::from_run(&inc.diagnostics);
    let mut body = run_meta(&diag);
    body.push_str(&summary(diag.results.iter().map(|r| r.status)));
    let mut kv = String::from("<div class=\"table-wrap\"><table class=\"kv\"><tbody>\n");
    for b in &d.blocks {
        let mut cell = String::new();
        if let Some(i) = &b.inline {
            cell.push_str(&esc(i));
        }
        if !b.items.is_empty() {
            let items: Vec<Cell> = b.items.iter().map(Cell::text).collect();
            cell.push_str(&list(&items, NONE));
        }
        kv.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{cell}</td></tr>\n",
            esc(b.name)
        ));
    }
    kv.push_str("</tbody></table></div>\n");
    body.push_str(&kv);
    body.push_str(&section("■ 診断結果", &checks_table(&diag.results, None)));
    page::page("ja", &d.title, &body)
}

const NONE: &str = "特になし";

/// `システム: … · ホスト: web01 · 実行: 2025-10-21 09:00`.
fn run_meta(run: &RunRecord) -> String {
    let mut parts = Vec::new();
    if let Some(s) = &run.system {
        parts.push(format!("システム: {}", esc(s)));
    }
    parts.push(format!("ホスト: {}", esc(&run.host)));
    parts.push(format!("実行: {}", run.started_at.format("%Y-%m-%d %H:%M")));
    let parts: Vec<String> = parts.iter().map(|p| format!("<span>{p}</span>")).collect();
    format!("<p class=\"meta\">{}</p>\n", parts.join(" · "))
}

/// One badge per status that occurred, with its count: `正常 10` `警告 2`.
fn summary(statuses: impl Iterator<Item = Status>) -> String {
    let order = [
        Status::Fail,
        Status::Warn,
        Status::Unknown,
        Status::Maint,
        Status::Pass,
        Status::Skip,
    ];
    let all: Vec<Status> = statuses.collect();
    let badges: Vec<String> = order
        .iter()
        .filter_map(|s| {
            let n = all.iter().filter(|x| *x == s).count();
            (n > 0).then(|| badge_text(*s, &format!("{} {n}", s.ja())))
        })
        .collect();
    format!("<div class=\"summary\">{}</div>\n", badges.join(" "))
}

/// A section's lines: `label: value` lines as a two-column table, the
/// others (the numbered incident summary) as a list.
fn lines(ls: &[Line]) -> String {
    let (kv, plain): (Vec<&Line>, Vec<&Line>) = ls.iter().partition(|l| !l.label.is_empty());
    let mut out = String::new();
    if !kv.is_empty() {
        out.push_str("<div class=\"table-wrap\"><table class=\"kv\"><tbody>\n");
        for l in kv {
            out.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td></tr>\n",
                esc(&l.label),
                value(&l.value, l.status)
            ));
        }
        out.push_str("</tbody></table></div>\n");
    }
    if !plain.is_empty() {
        let items: Vec<Cell> = plain.iter().map(|l| Cell::text(l.value.clone())).collect();
        out.push_str(&list(&items, NONE));
    }
    out
}

/// A value with its status: a status word alone is its badge; a number
/// of a check that did not pass is coloured and followed by the badge.
fn value(v: &str, status: Option<Status>) -> String {
    match status {
        Some(s) if v == s.ja() => badge(s),
        Some(s @ (Status::Warn | Status::Fail | Status::Unknown | Status::Maint)) => format!(
            "<span class=\"value {}\">{}</span> {}",
            page::status_class(s),
            esc(v),
            badge(s)
        ),
        _ => esc(v),
    }
}

/// The check table: 状態, 項目, 値, 詳細 (the reason in Japanese, the
/// threshold breached, or what was observed).
fn checks_table(results: &[ResultRecord], spec: Option<&crate::runbook::ReportSpec>) -> String {
    let rows: Vec<Vec<Cell>> = results
        .iter()
        .map(|r| {
            // A number in the report's words; a status-only check's
            // value is its badge already.
            let mut value = report::shown(r, spec);
            if value == r.status.ja() {
                value.clear();
            }
            let mut detail = if !r.message_ja.is_empty() {
                r.message_ja.clone()
            } else {
                r.message.clone()
            };
            if let Some(l) = &r.limit_ja
                && !detail.contains(l.as_str())
            {
                if !detail.is_empty() {
                    detail.push_str(" · ");
                }
                detail.push_str(l);
            }
            vec![
                Cell::Html(badge(r.status)),
                Cell::text(r.label.clone()),
                Cell::text(value),
                Cell::Detail(detail),
            ]
        })
        .collect();
    // A table without a single value (a 障害報告's diagnosis: statuses and
    // reasons) drops the column rather than print an empty one.
    if rows
        .iter()
        .all(|r| matches!(&r[2], Cell::Text(v) if v.is_empty()))
    {
        let rows: Vec<Vec<Cell>> = rows
            .into_iter()
            .map(|mut r| {
                r.remove(2);
                r
            })
            .collect();
        return table("checks novalue", &["状態", "項目", "詳細"], &rows);
    }
    table("checks", &["状態", "項目", "値", "詳細"], &rows)
}
