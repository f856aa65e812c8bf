//! 障害報告: the escalation template of seed 000, filled from the incident
//! run — ready to paste into Slack or mail.

use super::incident_progress::{UNMET, because, message_ja, signal_name, unmet};
use crate::incident::{ActionState, IncidentRun};
use crate::values::outcome::Status;

fn hm(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    t.format("%H:%M").to_string()
}

/// A time as the 障害報告 shows it next to `now`: `08:39` on the same
/// day, `10/22 08:39` on another (SPEC §10.1: a deadline tomorrow is not
/// a time of today). Both are already in the report's zone.
fn when(
    t: &chrono::DateTime<chrono::FixedOffset>,
    now: &chrono::DateTime<chrono::FixedOffset>,
) -> String {
    let local = t.with_timezone(now.offset());
    if local.date_naive() == now.date_naive() {
        hm(&local)
    } else {
        local.format("%m/%d %H:%M").to_string()
    }
}

/// Minutes as people say them: `45分`, `2時間14分`, `30時間`, `2日3時間`.
pub(super) fn elapsed(min: i64) -> String {
    if min < 60 {
        format!("{min}分")
    } else if min < 48 * 60 {
        match min % 60 {
            0 => format!("{}時間", min / 60),
            m => format!("{}時間{m}分", min / 60),
        }
    } else {
        match (min % 1440) / 60 {
            0 => format!("{}日", min / 1440),
            h => format!("{}日{h}時間", min / 1440),
        }
    }
}

/// The 障害報告 as data: its title and its ■ blocks, for the text and
/// the HTML formats.
#[derive(Clone, Debug, Default)]
pub(crate) struct IncidentDoc {
    /// `【障害報告】AI見積りシステム`.
    pub title: String,
    pub blocks: Vec<Block>,
}

/// `■ {name}: {inline}` and then `- {item}` lines.
#[derive(Clone, Debug, Default)]
pub(crate) struct Block {
    pub name: &'static str,
    pub inline: Option<String>,
    pub items: Vec<String>,
}

impl Block {
    fn inline(name: &'static str, text: String) -> Block {
        Block {
            name,
            inline: Some(text),
            items: Vec::new(),
        }
    }
}

pub fn render(inc: &IncidentRun) -> String {
    let d = doc(inc);
    let blocks: Vec<String> = d
        .blocks
        .iter()
        .map(|b| {
            let mut s = format!("■ {}:", b.name);
            if let Some(i) = &b.inline {
                s.push(' ');
                s.push_str(i);
            }
            s.push('\n');
            for i in &b.items {
                s.push_str(&format!("- {i}\n"));
            }
            s
        })
        .collect();
    format!("{}\n\n{}", d.title, blocks.join("\n"))
}

/// The 障害報告 of `inc` as data: the one place its words are chosen.
pub(crate) fn doc(inc: &IncidentRun) -> IncidentDoc {
    let mut blocks = Vec::new();
    let system = inc.system.as_deref().unwrap_or(&inc.title);
    let title = format!("【障害報告】{system}");
    let (level, level_name) = inc.incident_level();
    blocks.push(Block::inline(
        "障害レベル",
        format!("{level}（{level_name}）"),
    ));
    blocks.push(Block::inline(
        "発生時刻",
        inc.since.format("%Y-%m-%d %H:%M").to_string(),
    ));
    let failing: Vec<_> = inc
        .diagnostics
        .results
        .iter()
        .filter(|r| {
            matches!(
                r.outcome.status,
                Status::Fail | Status::Warn | Status::Unknown
            )
        })
        .collect();
    let situation = match &inc.verify {
        Some(v) if v.recovered => format!("復旧済み（{} 確認）", hm(&v.at)),
        // Stopped by a signal: where, and that nobody confirmed recovery.
        _ if inc.interrupted.is_some() => {
            let sig = inc.interrupted.expect("checked");
            let during = if inc
                .actions
                .iter()
                .any(|a| matches!(a.state, ActionState::Interrupted(_)))
                || (inc.executed && inc.verify.is_none())
            {
                "復旧手順"
            } else if inc.verify.is_some() {
                "復旧確認"
            } else {
                "診断"
            };
            format!(
                "中断（{during}の途中で {} により停止、復旧未確認）",
                signal_name(sig)
            )
        }
        Some(v) => format!(
            "継続中（復旧確認 {}回失敗: {}）",
            v.attempts,
            unmet(&v.last)
        ),
        None if failing.is_empty() => "異常なし（診断チェックはすべて正常）".to_string(),
        None => format!("継続中（{}件の異常）", failing.len()),
    };
    blocks.push(Block::inline("現在の状況", situation));
    blocks.push(Block::inline(
        "影響範囲",
        inc.scope.as_deref().unwrap_or("調査中").to_owned(),
    ));

    blocks.push(Block {
        name: "原因",
        inline: Some(if failing.is_empty() {
            "調査中".into()
        } else {
            "調査中（以下の異常を検知）".into()
        }),
        items: failing
            .iter()
            .map(|r| {
                format!(
                    "{}: {} — {}",
                    r.check.label,
                    r.outcome.status.ja(),
                    message_ja(&r.outcome)
                )
            })
            .collect(),
    });

    let mut items = Vec::new();
    // A finished `wait` is not something anyone did.
    let done: Vec<_> = inc
        .actions
        .iter()
        .filter(|a| {
            matches!(
                a.state,
                ActionState::Succeeded | ActionState::Failed(_) | ActionState::Interrupted(_)
            ) && !a.wait
        })
        .collect();
    if done.is_empty() {
        items.push("診断チェック実施（復旧操作は未実施）".to_owned());
    }
    for a in &done {
        let verdict = match &a.state {
            ActionState::Succeeded => "成功".to_string(),
            ActionState::Failed(why) => format!("失敗（{}）", because(why)),
            ActionState::Interrupted(sig) => format!("中断（{}）", signal_name(*sig)),
            ActionState::Declined | ActionState::NotRun | ActionState::Unmet => {
                unreachable!("filtered above")
            }
        };
        items.push(format!("{}実施 → {verdict}", a.title));
    }
    // A step whose `when:` the diagnosis did not meet was decided, not
    // forgotten: it is listed, and it is not a next action.
    for a in inc.actions.iter().filter(|a| a.state == ActionState::Unmet) {
        items.push(format!("{} → {UNMET}", a.title));
    }
    blocks.push(Block {
        name: "初期対応",
        inline: None,
        items,
    });

    let mut items = Vec::new();
    let pending: Vec<_> = inc
        .actions
        .iter()
        // A pending `wait` is not an action anyone needs to be told about;
        // an interrupted step has still to be done.
        .filter(|a| {
            matches!(
                a.state,
                ActionState::NotRun | ActionState::Declined | ActionState::Interrupted(_)
            ) && !a.wait
        })
        .collect();
    let recovered = inc.verify.as_ref().is_some_and(|v| v.recovered);
    if recovered {
        // Recovered although the plan stopped at a failed step: that step
        // and the ones it held back are still someone's to look at.
        for a in inc
            .actions
            .iter()
            .filter(|a| matches!(a.state, ActionState::Failed(_)))
        {
            items.push(format!(
                "失敗した手順の確認: {}（{}）",
                a.title,
                super::incident_progress::brief(&a.describe)
            ));
        }
        if inc
            .actions
            .iter()
            .any(|a| matches!(a.state, ActionState::Failed(_)))
        {
            for a in &pending {
                items.push(format!(
                    "未実行の手順の要否判断: {}（{}）",
                    a.title,
                    super::incident_progress::brief(&a.describe)
                ));
            }
        }
        items.push("経過観察、原因調査と再発防止策の検討".to_owned());
    } else {
        for a in &pending {
            items.push(format!(
                "{}（{}）",
                a.title,
                super::incident_progress::brief(&a.describe)
            ));
        }
        if let Some(e) = &inc.escalation {
            items.push(format!("エスカレーション: {e}"));
        }
        if pending.is_empty() && inc.escalation.is_none() {
            items.push("原因調査を継続".to_owned());
        }
    }
    blocks.push(Block {
        name: "次のアクション",
        inline: None,
        items,
    });

    let eta = if recovered {
        "復旧済み".to_string()
    } else {
        match inc.deadlines.iter().find(|(l, _)| *l == "復旧目標") {
            Some((_, due)) => format!("{}（目標）", when(due, &inc.now)),
            None => "未定（調査中）".to_string(),
        }
    };
    blocks.push(Block::inline("復旧見込み", eta));
    blocks.push(Block::inline("報告者", inc.reporter.clone()));
    IncidentDoc { title, blocks }
}

fn minutes(d: chrono::Duration) -> i64 {
    (d.num_seconds() as f64 / 60.0).round() as i64
}

/// The level header, elapsed time and deadlines.
pub(super) fn header(inc: &IncidentRun) -> String {
    let mut out = format!(
        "【{}（{}）】{} — {}\n",
        inc.level.as_str(),
        inc.level_name,
        inc.scope.as_deref().unwrap_or(&inc.title),
        inc.system.as_deref().unwrap_or(&inc.title)
    );
    if let Some(j) = &inc.joined {
        // A later call of an open incident: which one, and which call.
        out.push_str(&format!(
            "インシデント #{} に合流（{}回目、{}）\n",
            j.id,
            j.calls + 1,
            inc.incident_level().0
        ));
    }
    let mut facts = Vec::new();
    if let Some(s) = &inc.scope {
        facts.push(format!("影響範囲: {s}"));
    }
    if let Some(r) = &inc.response {
        facts.push(format!("対応時間: {r}"));
    }
    if let Some(e) = &inc.escalation {
        facts.push(format!("エスカレーション: {e}"));
    }
    if !facts.is_empty() {
        out.push_str(&facts.join(" · "));
        out.push('\n');
    }
    out.push_str(&format!(
        "発生: {} (発生から{})\n",
        inc.since.format("%Y-%m-%d %H:%M"),
        elapsed(minutes(inc.now - inc.since).max(0))
    ));
    let parts: Vec<String> = inc
        .deadlines
        .iter()
        .map(|(label, due)| {
            let left = minutes(*due - inc.now);
            let at = when(due, &inc.now);
            if left >= 0 {
                format!("{label} {at} (残り{})", elapsed(left))
            } else {
                format!("{label} {at} ({}超過)", elapsed(-left))
            }
        })
        .collect();
    if !parts.is_empty() {
        out.push_str(&parts.join(" · "));
        out.push('\n');
    }
    out
}
