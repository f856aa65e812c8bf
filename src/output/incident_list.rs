//! `opsrun incident list`: the incidents in history, as a table or JSON,
//! from a [`history::listing::Incidents`](crate::history::listing::Incidents).
//! The table's words are English like `opsrun history`'s; what the
//! diagnostics found and what was done are quoted as recorded.

use comfy_table::{Table, presets};
use serde_json::json;

use crate::history::incidents::IncidentRecord;
use crate::history::listing::Incidents;
use crate::values::Zone;

/// The listing: JSON (every field) or the table.
pub(super) fn render(l: &Incidents, json: bool, tz: Zone) -> String {
    if json {
        return to_json(l, tz);
    }
    if l.incidents.is_empty() {
        return String::new();
    }
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    t.force_no_tty();
    t.set_header(vec![
        "ID",
        "LEVEL",
        "SYSTEM",
        "OPENED",
        "STATE",
        "RECOVERED IN",
        "CALLS",
        "SUMMARY",
    ]);
    for i in &l.incidents {
        let time = |d: &chrono::DateTime<chrono::FixedOffset>| {
            tz.at(d).format("%Y-%m-%d %H:%M").to_string()
        };
        let state = match &i.closed_at {
            Some(c) => format!("closed {}", time(c)),
            None => i.state().as_str().to_owned(),
        };
        t.add_row(vec![
            format!("#{}", i.id),
            i.level.to_uppercase(),
            system(i).to_owned(),
            time(&i.opened_at),
            state,
            i.time_to_recover()
                .map(|d| hours_minutes(d.num_seconds()))
                .unwrap_or_else(|| "-".into()),
            i.calls.to_string(),
            summary(i),
        ]);
    }
    format!(
        "{t}\n{} incidents shown ({})\n",
        l.incidents.len(),
        l.path.display()
    )
}

fn system(i: &IncidentRecord) -> &str {
    i.system.as_deref().unwrap_or(&i.runbook)
}

/// Findings, what was done, and the closing note.
fn summary(i: &IncidentRecord) -> String {
    let mut parts = Vec::new();
    if !i.summary.is_empty() {
        parts.push(i.summary.clone());
    }
    if !i.actions.is_empty() {
        parts.push(format!("対応: {}", i.actions));
    }
    if let Some(n) = &i.note {
        parts.push(format!("メモ: {n}"));
    }
    parts.join(" / ")
}

/// `13m`, `1h31m`, `2d3h`.
fn hours_minutes(secs: i64) -> String {
    let m = (secs as f64 / 60.0).round() as i64;
    match (m / 1440, m / 60 % 24, m % 60) {
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h{m:02}m"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

fn to_json(l: &Incidents, tz: Zone) -> String {
    let time = |d: &chrono::DateTime<chrono::FixedOffset>| tz.at(d).to_rfc3339();
    let v: Vec<_> = l
        .incidents
        .iter()
        .map(|i| {
            json!({
                "id": i.id, "level": i.level, "name": i.name, "system": i.system,
                "runbook": i.runbook, "host": i.host, "state": i.state(),
                "opened_at": time(&i.opened_at),
                "recovered_at": i.recovered_at.as_ref().map(time),
                "closed_at": i.closed_at.as_ref().map(time),
                "time_to_recover_s": i.time_to_recover().map(|d| d.num_seconds()),
                "calls": i.calls, "last_call_at": time(&i.last_at),
                "summary": i.summary, "actions": i.actions, "note": i.note,
                "reporter": i.reporter,
            })
        })
        .collect();
    format!(
        "{}\n",
        serde_json::to_string_pretty(&serde_json::Value::Array(v)).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn recovery_times_read_short() {
        use super::hours_minutes;
        assert_eq!(hours_minutes(13 * 60), "13m");
        assert_eq!(hours_minutes(91 * 60), "1h31m");
        assert_eq!(hours_minutes(60 * 60), "1h00m");
        assert_eq!(hours_minutes(51 * 3600), "2d3h");
    }
}
