//! `fleet report -f html`: the fleet report as one self-contained page,
//! built from the HTML pieces every opsrun page shares
//! (`output::html::page`: shell and style sheet, escaping, tables,
//! badges) — the same sections as the text, with each status a badge.

use super::Words;
use crate::fleet::Fleet;
use crate::output::html::{Cell, badge_text, esc, list, section, table};
use crate::values::outcome::Status;

fn badge(w: &Words, s: Status) -> String {
    badge_text(s, w.status(s))
}

/// A host name kept on one line (`batch-01` would break at its hyphen
/// in a phone's narrow column).
fn nowrap(text: &str) -> String {
    format!(r#"<span style="white-space:nowrap">{}</span>"#, esc(text))
}

pub(super) fn render(fleet: &Fleet, w: &Words) -> String {
    let title = format!("【{}】{}", w.title(), w.heading_time(fleet));
    let mut body = format!(
        "<p class=\"meta\"><span>Prometheus: {}</span>{}</p>\n",
        esc(&fleet.source),
        fleet
            .matcher
            .as_ref()
            .map(|m| format!(" · <span>{} {}</span>", w.pick("対象:", "match:"), esc(m)))
            .unwrap_or_default()
    );

    // One badge per host status that occurs, then stale and down.
    let stale: Vec<_> = fleet.stale_hosts().collect();
    let mut badges = vec![badge_text(
        fleet.status(),
        &format!("{} {}", w.pick("判定", "status"), w.status(fleet.status())),
    )];
    for s in [Status::Fail, Status::Warn, Status::Unknown, Status::Pass] {
        let n = fleet.count(s);
        if n > 0 {
            badges.push(badge_text(s, &format!("{} {n}", w.status(s))));
        }
    }
    if !stale.is_empty() {
        badges.push(badge_text(
            Status::Fail,
            &format!("{} {}", w.pick("古い", "stale"), stale.len()),
        ));
    }
    if !fleet.down.is_empty() {
        badges.push(badge_text(
            Status::Fail,
            &format!("{} {}", w.pick("取得不可", "down"), fleet.down.len()),
        ));
    }
    body.push_str(&format!(
        "<div class=\"summary\">{}</div>\n",
        badges.join(" ")
    ));

    let names = fleet.runbook_names();
    let mut head = vec![w.pick("ホスト", "Host")];
    head.extend(names.iter().copied());
    head.push(w.pick("最終実行", "Last run"));
    let rows: Vec<Vec<Cell>> = fleet
        .hosts
        .iter()
        .map(|h| {
            let mut row = vec![Cell::Html(nowrap(&w.host(fleet, h)))];
            for n in &names {
                row.push(match h.runbook(n) {
                    Some(r) => Cell::Html(badge(w, r.status)),
                    None => Cell::text("-"),
                });
            }
            row.push(match h.last_run() {
                // The badge says it is stale; the text how long ago.
                Some(t) if fleet.is_stale(h) => Cell::Html(format!(
                    "{} {}",
                    esc(&if w.ja() {
                        format!("{}（{}）", w.when(fleet, t), w.ago(fleet, t))
                    } else {
                        format!("{} ({})", w.when(fleet, t), w.ago(fleet, t))
                    }),
                    badge_text(Status::Fail, w.pick("古い", "stale"))
                )),
                _ => Cell::text(w.last_run(fleet, h)),
            });
            row
        })
        .collect();
    body.push_str(&section(
        &format!("■ {}", w.pick("ホスト別状況", "Hosts × runbooks")),
        &table("matrix", &head, &rows),
    ));

    let problems = fleet.problems();
    let problems_body = if problems.is_empty() {
        list(&[], w.none())
    } else {
        let rows: Vec<Vec<Cell>> = problems
            .iter()
            .map(|p| {
                let mut said = w.observed(fleet, p.check);
                if fleet.is_stale(p.host)
                    && let Some(t) = p.runbook.last_run
                {
                    said.push(if w.ja() {
                        format!("（{}の結果）", w.when(fleet, t))
                    } else {
                        format!("(as of {})", w.when(fleet, t))
                    });
                }
                vec![
                    Cell::Html(badge(w, p.check.status)),
                    Cell::Html(nowrap(&w.host(fleet, p.host))),
                    Cell::text(format!("{}/{}", p.runbook.name, p.check.id)),
                    Cell::text(said.join(" ")),
                    Cell::text(p.check.kind.clone().unwrap_or_default()),
                ]
            })
            .collect();
        table(
            "checks",
            // What a phone shows first: status, host, check, value.
            &[
                w.pick("状態", "Status"),
                w.pick("ホスト", "Host"),
                w.pick("チェック", "Check"),
                w.pick("値", "Value"),
                w.pick("種別", "Kind"),
            ],
            &rows,
        )
    };
    body.push_str(&section(
        &format!(
            "■ {}",
            w.pick("異常・警告のあるチェック", "Checks not passing")
        ),
        &problems_body,
    ));

    let stale_items: Vec<Cell> = stale
        .iter()
        .filter_map(|h| {
            let t = h.last_run()?;
            Some(Cell::text(if w.ja() {
                format!(
                    "{}: 最終実行 {}（{}）",
                    w.host(fleet, h),
                    w.when(fleet, t),
                    w.ago(fleet, t)
                )
            } else {
                format!(
                    "{}: last run {} ({})",
                    w.host(fleet, h),
                    w.when(fleet, t),
                    w.ago(fleet, t)
                )
            }))
        })
        .collect();
    body.push_str(&section(
        &if w.ja() {
            format!("■ 古いホスト（最終実行から{}超）", w.limit(fleet))
        } else {
            format!("■ Stale hosts (last run over {} ago)", w.limit(fleet))
        },
        &list(&stale_items, w.none()),
    ));

    let down: Vec<Cell> = fleet
        .down
        .iter()
        .map(|t| {
            Cell::text(format!(
                "{}{}",
                t.instance,
                t.job
                    .as_ref()
                    .map(|j| format!(" (job {j})"))
                    .unwrap_or_default()
            ))
        })
        .collect();
    body.push_str(&section(
        &format!(
            "■ {}",
            w.pick(
                "取得できないホスト（スクレイプ失敗）",
                "Hosts down (scrape failing)"
            )
        ),
        &list(&down, w.none()),
    ));
    crate::output::html::page::page(w.pick("ja", "en"), &title, &body)
}
