//! `checklist`: the seed's 日次/週次/月次運用チェックリスト with every item
//! ticked from the run (☑ pass, ⚠ warn, ☒ fail, ？ unknown), 日付 and 担当者
//! filled, and 特記事項 listing why anything did not pass.
//!
//! Items come from `report.checklist` (each item names the checks that
//! tick it; an item with none is left □ for the operator, like
//! 日次レポート作成・送信), or by default one item per report section,
//! `サービス稼働状況（httpd/estimator）`.

use crate::history::RunRecord;
use crate::history::period::Period;
use crate::runbook::ReportSpec;
use crate::values::PeriodKind;
use crate::values::outcome::{Status, worst};

/// The tick of an item from the worst status of its checks; `□` when none ran.
fn tick(statuses: &[Status]) -> &'static str {
    let ran: Vec<Status> = statuses
        .iter()
        .copied()
        .filter(|s| *s != Status::Skip)
        .collect();
    if ran.is_empty() {
        return "□";
    }
    match worst(ran) {
        Status::Pass | Status::Maint | Status::Skip => "☑",
        Status::Warn => "⚠",
        Status::Fail => "☒",
        Status::Unknown => "？",
    }
}

/// Renders the checklist for `run` (`None`: nothing recorded, every item □),
/// titled 【{heading}チェックリスト】 (`ja::heading`).
pub fn render(
    run: Option<&RunRecord>,
    period: &Period,
    spec: Option<&ReportSpec>,
    reporter: &str,
    heading: &str,
) -> String {
    let (date_word, date) = match period.kind {
        PeriodKind::Daily => ("日付", period.label()),
        PeriodKind::Weekly => ("週", period.label()),
        PeriodKind::Monthly => ("月", period.label()),
    };
    let mut out =
        format!("【{heading}チェックリスト】\n\n{date_word}: {date}\n担当者: {reporter}\n\n");
    let status_of = |id: &str| -> Option<Status> {
        run.and_then(|r| r.results.iter().find(|x| x.check_id == id))
            .map(|x| x.status)
    };
    match spec.and_then(|s| s.checklist.as_ref()) {
        Some(items) => {
            for i in items {
                let st: Vec<Status> = i
                    .checks
                    .iter()
                    .filter_map(|c| status_of(&c.value))
                    .collect();
                out.push_str(&format!("{} {}\n", tick(&st), i.item));
            }
        }
        None => {
            let mut groups: Vec<(String, Vec<String>, Vec<Status>)> = Vec::new();
            for r in run.map(|r| r.results.as_slice()).unwrap_or_default() {
                match groups.iter_mut().find(|(s, _, _)| *s == r.section) {
                    Some((_, labels, st)) => {
                        labels.push(r.label.clone());
                        st.push(r.status);
                    }
                    None => groups.push((r.section.clone(), vec![r.label.clone()], vec![r.status])),
                }
            }
            for (section, labels, st) in groups {
                out.push_str(&format!(
                    "{} {section}（{}）\n",
                    tick(&st),
                    labels.join("/")
                ));
            }
        }
    }
    out.push_str("\n特記事項:\n");
    let notes = run.map(super::report::notes).unwrap_or_default();
    if notes.is_empty() {
        out.push_str("- 特になし\n");
    } else {
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks() {
        assert_eq!(tick(&[Status::Pass, Status::Pass]), "☑");
        assert_eq!(tick(&[Status::Pass, Status::Warn]), "⚠");
        assert_eq!(tick(&[Status::Unknown, Status::Warn, Status::Fail]), "☒");
        assert_eq!(tick(&[Status::Unknown, Status::Pass]), "？");
        assert_eq!(tick(&[Status::Skip]), "□");
        assert_eq!(tick(&[]), "□");
    }
}
