//! 障害報告: the escalation template of seed 000, filled from the incident
//! run — ready to paste into Slack or mail.

use super::incident_progress::{because, message_ja, signal_name, unmet};
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

pub fn render(inc: &IncidentRun) -> String {
    let mut out = String::new();
    let system = inc.system.as_deref().unwrap_or(&inc.title);
    out.push_str(&format!("【障害報告】{system}\n\n"));
    let (level, level_name) = inc.incident_level();
    out.push_str(&format!("■ 障害レベル: {level}（{level_name}）\n\n"));
    out.push_str(&format!(
        "■ 発生時刻: {}\n\n",
        inc.since.format("%Y-%m-%d %H:%M")
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
    out.push_str(&format!("■ 現在の状況: {situation}\n\n"));
    out.push_str(&format!(
        "■ 影響範囲: {}\n\n",
        inc.scope.as_deref().unwrap_or("調査中")
    ));

    out.push_str("■ 原因:");
    if failing.is_empty() {
        out.push_str(" 調査中\n\n");
    } else {
        out.push_str(" 調査中（以下の異常を検知）\n");
        for r in &failing {
            out.push_str(&format!(
                "- {}: {} — {}\n",
                r.check.label,
                r.outcome.status.ja(),
                message_ja(&r.outcome)
            ));
        }
        out.push('\n');
    }

    out.push_str("■ 初期対応:\n");
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
        out.push_str("- 診断チェック実施（復旧操作は未実施）\n");
    }
    for a in &done {
        let verdict = match &a.state {
            ActionState::Succeeded => "成功".to_string(),
            ActionState::Failed(why) => format!("失敗（{}）", because(why)),
            ActionState::Interrupted(sig) => format!("中断（{}）", signal_name(*sig)),
            ActionState::Declined | ActionState::NotRun => unreachable!("filtered above"),
        };
        out.push_str(&format!("- {}実施 → {verdict}\n", a.title));
    }
    out.push('\n');

    out.push_str("■ 次のアクション:\n");
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
        out.push_str("- 経過観察、原因調査と再発防止策の検討\n");
    } else {
        for a in &pending {
            out.push_str(&format!("- {}（{}）\n", a.title, a.describe));
        }
        if let Some(e) = &inc.escalation {
            out.push_str(&format!("- エスカレーション: {e}\n"));
        }
        if pending.is_empty() && inc.escalation.is_none() {
            out.push_str("- 原因調査を継続\n");
        }
    }
    out.push('\n');

    let eta = if recovered {
        "復旧済み".to_string()
    } else {
        match inc.deadlines.iter().find(|(l, _)| *l == "復旧目標") {
            Some((_, due)) => format!("{}（目標）", when(due, &inc.now)),
            None => "未定（調査中）".to_string(),
        }
    };
    out.push_str(&format!("■ 復旧見込み: {eta}\n\n"));
    out.push_str(&format!("■ 報告者: {}\n", inc.reporter));
    out
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
