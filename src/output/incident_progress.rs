//! The words of an incident while it runs (SPEC §8): what the on-call
//! engineer reads along on stdout (the diagnosis, the recovery plan, each
//! step's result, each verify attempt), the y/N question before a step,
//! and the one-line summary history keeps for the monthly
//! インシデントサマリー. The workflow (`crate::incident`) only reports
//! events and states; every sentence is made here.

use super::{RenderOpts, table};
use crate::engine::{Interrupt, RunResult};
use crate::incident::{ActionResult, ActionState, IncidentRun, Progress};
use crate::values::outcome::Status;
use crate::values::reason::Reason;

/// An action whose `when:` the diagnosis did not meet.
pub(super) const UNMET: &str = "スキップ（条件不一致）";

/// One progress event as the lines printed for it.
pub fn progress(p: &Progress) -> String {
    match p {
        Progress::Started(inc) => format!("{}\n■ 診断\n", super::incident_report::header(inc)),
        Progress::Diagnosed(run) => table::render(run, &RenderOpts::default()),
        Progress::Planned(actions) => {
            let mut out = String::from("\n■ 復旧手順\n");
            for (i, a) in actions.iter().enumerate() {
                let skip = if a.state == ActionState::Unmet {
                    format!(" → {UNMET}")
                } else {
                    String::new()
                };
                out.push_str(&format!(
                    "  {}. {} ({}){skip}\n",
                    i + 1,
                    a.title,
                    brief(&a.describe)
                ));
            }
            out.push_str("  (未実行: 実行するには --execute。端末がなければ --yes も必要)\n");
            out
        }
        Progress::Refused | Progress::Executing => "\n■ 復旧手順\n".to_owned(),
        Progress::Step {
            index,
            total,
            action,
        } => {
            let line = step_line(*index, *total, action, false);
            let verdict = match &action.state {
                ActionState::Declined => "スキップ".to_owned(),
                ActionState::Unmet => UNMET.to_owned(),
                ActionState::Succeeded => "成功".to_owned(),
                ActionState::Failed(why) => format!("失敗 ({})", because(why)),
                ActionState::Interrupted(sig) => format!("中断 ({})", signal_name(*sig)),
                ActionState::NotRun => String::new(),
            };
            let mut out = format!("{line} → {verdict}\n");
            for l in action.output.iter().rev().take(5).rev() {
                out.push_str(&format!("      {l}\n"));
            }
            out
        }
        Progress::Halted(ActionState::Interrupted(_)) => {
            "  以降の手順は未実行（中断したため停止）\n".to_owned()
        }
        Progress::Halted(_) => "  以降の手順は未実行（失敗したため停止）\n".to_owned(),
        Progress::Verifying => "\n■ 復旧確認\n".to_owned(),
        Progress::Verified {
            n,
            attempts,
            recovered,
            run,
        } => format!(
            "  確認 {n}/{attempts}回目: {}\n",
            if *recovered {
                "正常".to_owned()
            } else {
                format!("未復旧 — {}", unmet(run))
            }
        ),
    }
}

/// The question before step `index` (from 0) of `total`.
/// The question shows the step in full: what is approved is what is seen.
pub fn prompt(index: usize, total: usize, action: &ActionResult) -> String {
    format!("{} を実行しますか?", step_line(index, total, action, true))
}

fn step_line(index: usize, total: usize, a: &ActionResult, full: bool) -> String {
    let what = if full {
        a.describe.clone()
    } else {
        brief(&a.describe)
    };
    format!("  [{}/{total}] {} ({what})", index + 1, a.title)
}

/// The longest step text the plan, the progress lines and the 障害報告
/// show; the y/N prompt shows all of it.
const BRIEF_CHARS: usize = 72;

/// A step as one short line: a guarded `sh -c` script of several hundred
/// characters would otherwise fill the plan and the report an on-call
/// engineer reads (the title already says what it does; the runbook and
/// the prompt have the full text). The middle goes: a script's guards come
/// first and the command that acts last (`… --vacuum-time=7d"`), and the
/// start says what runs it (`sh -c`, `systemctl`).
pub(super) fn brief(describe: &str) -> String {
    let chars: Vec<char> = describe.chars().collect();
    if chars.len() <= BRIEF_CHARS {
        return describe.to_owned();
    }
    const HEAD: usize = 20;
    let tail = BRIEF_CHARS - HEAD - 1;
    let head: String = chars[..HEAD].iter().collect();
    let end: String = chars[chars.len() - tail..].iter().collect();
    format!("{head}…{end}")
}

/// Why a step failed, in words: its reasons, joined as a check's message.
pub(super) fn because(reasons: &[Reason]) -> String {
    crate::values::reason::message_ja(reasons)
}

/// A result's message in Japanese: its reasons in the Japanese words, else
/// the message as recorded.
pub(super) fn message_ja(o: &crate::values::Outcome) -> String {
    if o.reasons.is_empty() {
        o.message.clone()
    } else {
        because(&o.reasons)
    }
}

pub(super) fn signal_name(sig: Interrupt) -> &'static str {
    match sig {
        Interrupt::Sigint => "SIGINT",
        Interrupt::Sigterm => "SIGTERM",
    }
}

/// What a verify attempt found not passing: `id: message; …`.
pub(super) fn unmet(run: &RunResult) -> String {
    run.results
        .iter()
        .filter(|x| !matches!(x.outcome.status, Status::Pass | Status::Skip))
        .map(|x| format!("{}: {}", x.check.id, message_ja(&x.outcome)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the diagnostics found failing, for history and the monthly
/// インシデントサマリー: `異常: ヘルスチェック、ポート 8100`, or empty.
pub fn findings(inc: &IncidentRun) -> String {
    let failing: Vec<&str> = inc
        .diagnostics
        .results
        .iter()
        .filter(|r| r.outcome.status == Status::Fail)
        .map(|r| r.check.label.as_str())
        .collect();
    if failing.is_empty() {
        String::new()
    } else {
        format!("異常: {}", failing.join("、"))
    }
}

/// What was done and how it ended: `estimatorサービス再起動 → 成功、…`, or
/// empty when no action ran.
pub fn actions_done(inc: &IncidentRun) -> String {
    let done: Vec<String> = inc
        .actions
        .iter()
        .filter(|a| !a.wait)
        .filter_map(|a| match &a.state {
            ActionState::Succeeded => Some(format!("{} → 成功", a.title)),
            ActionState::Failed(_) => Some(format!("{} → 失敗", a.title)),
            ActionState::Interrupted(_) => Some(format!("{} → 中断", a.title)),
            ActionState::Declined | ActionState::NotRun | ActionState::Unmet => None,
        })
        .collect();
    done.join("、")
}

/// One line for one call: what the diagnostics found and what was done,
/// e.g. `異常: ヘルスチェック、ポート 8100 / 対応: estimatorサービス再起動 → 成功`.
pub fn summary_line(inc: &IncidentRun) -> String {
    let mut line = findings(inc);
    if line.is_empty() {
        line = "異常なし".to_owned();
    }
    let done = actions_done(inc);
    if !done.is_empty() {
        line.push_str(&format!(" / 対応: {done}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::brief;

    #[test]
    fn long_steps_are_cut_short_steps_kept() {
        assert_eq!(
            brief("systemctl restart estimator"),
            "systemctl restart estimator"
        );
        let long = format!("sh -c \"{}\"", "x".repeat(200));
        let b = brief(&long);
        assert_eq!(b.chars().count(), 72);
        assert!(b.starts_with("sh -c \"xxx") && b.ends_with("xxx\""), "{b}");
        assert_eq!(b.chars().nth(20), Some('…'), "{b}");
        // Characters, not bytes: a Japanese script is cut between characters.
        assert_eq!(brief(&"あ".repeat(100)).chars().count(), 72);
    }
}
