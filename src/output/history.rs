//! `opsrun history`: the recent runs, or one check's results over time with
//! a sparkline, as a table or JSON, rendered from a
//! [`history::listing::Listing`](crate::history::listing::Listing).
//! English words and units (`65%`, `350ms`, `48.2MB`, `45d`) as in the
//! run table. Times are shown in the invocation's time zone (SPEC §10.1),
//! whatever offset the recording host had.

use comfy_table::{Table, presets};
use serde_json::json;

use super::Format;
use crate::history::aggregation;
use crate::history::listing::{Listing, Runs, Series};
use crate::values::Zone;
use crate::values::outcome::Status;
use crate::values::units::{format_bytes, format_millis, trim_float};

/// The listing in `format`: JSON for `Format::Json`, else the table.
pub(super) fn render(format: Format, listing: &Listing, tz: Zone) -> String {
    match (listing, format == Format::Json) {
        (Listing::Runs(r), false) => runs_table(r, tz),
        (Listing::Runs(r), true) => runs_json(r, tz),
        (Listing::Series(s), false) => series_table(s, tz),
        (Listing::Series(s), true) => series_json(s, tz),
        (Listing::Incidents(i), json) => super::incident_list::render(i, json, tz),
    }
}

/// A recorded time in RFC 3339, in the zone.
fn rfc3339(t: &chrono::DateTime<chrono::FixedOffset>, tz: Zone) -> String {
    tz.at(t).to_rfc3339()
}

/// A recorded time as the table shows it, in the zone.
fn shown(t: &chrono::DateTime<chrono::FixedOffset>, tz: Zone) -> String {
    tz.at(t).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// What to say on stderr when the listing shows nothing (the table of no
/// runs is not printed).
pub fn empty_note(listing: &Listing) -> Option<String> {
    match listing {
        Listing::Runs(r) if r.runs.is_empty() => Some(format!(
            "no runs{} in the last {} ({})",
            r.runbook
                .as_ref()
                .map(|n| format!(" of `{n}`"))
                .unwrap_or_default(),
            format_millis(r.since.as_millis() as f64),
            r.path.display()
        )),
        Listing::Incidents(i) if i.incidents.is_empty() => Some(format!(
            "no incidents in the last {} and none open ({})",
            format_millis(i.since.as_millis() as f64),
            i.path.display()
        )),
        _ => None,
    }
}

/// A metric in the CLI's (English) units: `65%`, `350ms`, `48.2MB`, `45d`.
fn fmt_metric(v: f64, unit: &str, label: &str) -> String {
    match unit {
        "%" => format!("{}%", crate::values::units::percent_text(v)),
        "ms" => format_millis(v),
        "s" => format_millis(v * 1000.0),
        "B" => format_bytes(v),
        "days" => format!("{}d", trim_float(v, 1)),
        _ => format!("{}{label}", trim_float(v, 2)),
    }
}

fn table() -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    t.force_no_tty();
    t
}

fn pretty(v: &serde_json::Value) -> String {
    format!("{}\n", serde_json::to_string_pretty(v).unwrap_or_default())
}

fn runs_json(r: &Runs, tz: Zone) -> String {
    let v: Vec<_> = r
        .runs
        .iter()
        .map(|r| {
            let mut v = json!({
                "id": r.id, "runbook": r.runbook, "title": r.title, "host": r.host,
                "started_at": rfc3339(&r.started_at, tz), "duration_ms": r.duration_ms,
                "status": r.status, "interrupted": r.interrupted,
                "summary": {"pass": r.counts[0], "warn": r.counts[1], "fail": r.counts[2],
                            "unknown": r.counts[3], "skip": r.counts[4]},
            });
            // The diagnostics run of an incident call says where the
            // incident stands (`status` stays the diagnostics' own).
            if let (Some((id, state)), Some(o)) = (r.incident, v.as_object_mut()) {
                o.insert("incident".into(), json!({"id": id, "state": state}));
            }
            v
        })
        .collect();
    pretty(&serde_json::Value::Array(v))
}

fn runs_table(r: &Runs, tz: Zone) -> String {
    if r.runs.is_empty() {
        return String::new();
    }
    let mut t = table();
    t.set_header(vec![
        "TIME", "RUNBOOK", "STATUS", "PASS", "WARN", "FAIL", "UNKNOWN", "SKIP", "DURATION",
    ]);
    for run in &r.runs {
        // An incident's diagnostics failed by definition: the row says
        // where the incident stands instead (`RECOVERED #3`).
        let status = match run.incident {
            Some((id, state)) => format!("{} #{id}", state.as_str().to_uppercase()),
            None => run.status.label().to_owned(),
        };
        let status = if run.interrupted {
            format!("{status} (interrupted)")
        } else {
            status
        };
        let mut row = vec![shown(&run.started_at, tz), run.runbook.clone(), status];
        row.extend(run.counts.iter().map(u32::to_string));
        row.push(format_millis(run.duration_ms as f64));
        t.add_row(row);
    }
    format!("{t}\n{} runs shown ({})\n", r.runs.len(), r.path.display())
}

fn series_json(s: &Series, tz: Zone) -> String {
    let last = s.last();
    let unit = (!(last.unit.is_empty() && s.stats.is_none())).then_some(&last.unit);
    pretty(&json!({
        "check": s.check.id,
        "runbook": s.check.runbook,
        "label": last.label,
        "unit": unit,
        "stats": s.stats.map(|st| json!({"min": st.min, "avg": st.avg, "max": st.max, "count": st.count})),
        "samples": s.rows.iter().map(|r| json!({
            "time": rfc3339(&r.started_at, tz), "runbook": r.runbook,
            "status": r.sample.status, "value": r.value, "metric": r.sample.value,
            "message": r.message,
        })).collect::<Vec<_>>(),
    }))
}

fn series_table(s: &Series, tz: Zone) -> String {
    let last = s.last();
    let count = |st| s.rows.iter().filter(|r| r.sample.status == st).count();
    let mut out = format!(
        "{} — {} · {} results since {}\n",
        s.check.id,
        last.label,
        s.rows.len(),
        tz.at(&s.from).format("%Y-%m-%d %H:%M")
    );
    out.push_str(&format!(
        "status: {} pass · {} warn · {} fail · {} unknown\n",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Unknown)
    ));
    if let Some(st) = s.stats {
        let spark = aggregation::sparkline(&aggregation::resample(&s.values(), 60));
        let m = |v| fmt_metric(v, &last.unit, &last.unit_label);
        out.push_str(&format!(
            "{spark}  min {} · avg {} · max {}\n",
            m(st.min),
            m(st.avg),
            m(st.max)
        ));
    }
    let mut t = table();
    t.set_header(vec!["TIME", "RUNBOOK", "STATUS", "VALUE", "DETAIL"]);
    let hidden = s.rows.len().saturating_sub(s.limit);
    for r in &s.rows[hidden..] {
        t.add_row(vec![
            shown(&r.started_at, tz),
            r.runbook.clone(),
            r.sample.status.label().to_owned(),
            r.value.clone(),
            r.message.clone(),
        ]);
    }
    out.push_str(&format!("{t}\n"));
    if hidden > 0 {
        out.push_str(&format!(
            "(the {} newest of {} results; --limit N for more)\n",
            s.rows.len() - hidden,
            s.rows.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::store::RunRow;
    use std::time::Duration;

    fn run(day: u32, status: Status, counts: [u32; 5], interrupted: bool) -> RunRow {
        RunRow {
            id: i64::from(day),
            runbook: "daily".into(),
            title: "日次点検".into(),
            host: "web01".into(),
            started_at: chrono::DateTime::parse_from_rfc3339(&format!(
                "2025-10-{day:02}T09:00:00+09:00"
            ))
            .unwrap(),
            duration_ms: 1234,
            status,
            counts,
            interrupted,
            incident: None,
        }
    }

    #[test]
    fn runs_table_and_empty_note() {
        let mut l = Runs {
            runs: vec![
                run(20, Status::Pass, [5, 0, 0, 0, 1], false),
                run(21, Status::Fail, [3, 1, 1, 0, 0], true),
            ],
            runbook: None,
            since: Duration::from_secs(30 * 86400),
            path: "/var/lib/opsrun/history.db".into(),
        };
        insta::assert_snapshot!(render(Format::Table, &Listing::Runs(l.clone()), Zone::default()), @r"
        ┌─────────────────────┬─────────┬────────────────────┬──────┬──────┬──────┬─────────┬──────┬──────────┐
        │ TIME                ┆ RUNBOOK ┆ STATUS             ┆ PASS ┆ WARN ┆ FAIL ┆ UNKNOWN ┆ SKIP ┆ DURATION │
        ╞═════════════════════╪═════════╪════════════════════╪══════╪══════╪══════╪═════════╪══════╪══════════╡
        │ 2025-10-20 09:00:00 ┆ daily   ┆ PASS               ┆ 5    ┆ 0    ┆ 0    ┆ 0       ┆ 1    ┆ 1.23s    │
        │ 2025-10-21 09:00:00 ┆ daily   ┆ FAIL (interrupted) ┆ 3    ┆ 1    ┆ 1    ┆ 0       ┆ 0    ┆ 1.23s    │
        └─────────────────────┴─────────┴────────────────────┴──────┴──────┴──────┴─────────┴──────┴──────────┘
        2 runs shown (/var/lib/opsrun/history.db)
        ");
        // Another zone: the same instants, read there.
        let utc = crate::values::parse_timezone("UTC").unwrap();
        let shown = render(Format::Json, &Listing::Runs(l.clone()), utc);
        assert!(shown.contains("\"2025-10-20T00:00:00+00:00\""), "{shown}");
        assert_eq!(empty_note(&Listing::Runs(l.clone())), None);
        l.runs.clear();
        l.runbook = Some("daily".into());
        assert_eq!(
            empty_note(&Listing::Runs(l)).as_deref(),
            Some("no runs of `daily` in the last 30d (/var/lib/opsrun/history.db)")
        );
    }
}
