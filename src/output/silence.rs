//! `opsrun silence list|add|remove`: the recorded silences as a table or
//! JSON, and the one line `add`/`remove` print. Times in the invocation's
//! time zone (SPEC §10.1).

use comfy_table::{Table, presets};
use serde_json::json;

use crate::history::silence::Silence;
use crate::spec::maintenance::Window;
use crate::values::Zone;

fn at(ms: i64, tz: Zone) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| tz.at(&t))
}

fn shown(ms: i64, tz: Zone) -> String {
    at(ms, tz)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn checks(w: &Window) -> String {
    w.checks
        .as_ref()
        .map_or_else(|| "all".to_owned(), |c| c.join(","))
}

/// The silences as a table (`none` on a line of its own when empty).
pub fn table(list: &[Silence], tz: Zone, now_ms: i64) -> String {
    if list.is_empty() {
        return "no silences in force or to come\n".into();
    }
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    t.set_header([
        "ID", "FROM", "TO", "RUNBOOK", "CHECKS", "REASON", "BY", "STATE",
    ]);
    for s in list {
        let w = &s.window;
        let state = if w.to_ms <= now_ms {
            "ended"
        } else if w.from_ms > now_ms {
            "scheduled"
        } else {
            "active"
        };
        t.add_row([
            s.id.to_string(),
            shown(w.from_ms, tz),
            shown(w.to_ms, tz),
            w.runbook.clone().unwrap_or_else(|| "all".into()),
            checks(w),
            w.reason.clone(),
            s.author.clone(),
            state.into(),
        ]);
    }
    format!("{t}\n")
}

/// The silences as JSON.
pub fn json(list: &[Silence], tz: Zone) -> String {
    let rows: Vec<_> = list
        .iter()
        .map(|s| {
            let rfc = |ms| at(ms, tz).map(|t| t.to_rfc3339());
            json!({
                "id": s.id,
                "from": rfc(s.window.from_ms),
                "to": rfc(s.window.to_ms),
                "runbook": s.window.runbook,
                "checks": s.window.checks,
                "reason": s.window.reason,
                "author": s.author,
                "created": rfc(s.created_ms),
            })
        })
        .collect();
    format!(
        "{}\n",
        serde_json::to_string_pretty(&json!({ "silences": rows })).unwrap_or_default()
    )
}

/// What `silence add` prints: the id to remove it by, and what it covers.
pub fn added(id: i64, w: &Window, tz: Zone) -> String {
    format!(
        "silence {id}: {} of {} from {} until {} ({}); `opsrun silence remove {id}` ends it\n",
        match &w.checks {
            None => "every check".to_owned(),
            Some(c) => format!("check {}", c.join(", ")),
        },
        w.runbook.as_deref().unwrap_or("every runbook"),
        shown(w.from_ms, tz),
        shown(w.to_ms, tz),
        w.reason
    )
}
