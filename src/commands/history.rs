//! `opsrun history`: recent runs, or one check's results over time with a
//! sparkline, from the history database alone.

use chrono::{DateTime, FixedOffset};
use comfy_table::{Table, presets};
use serde_json::json;

use super::cli::{HistoryCmd, HistoryFormat};
use super::plan::clock;
use super::{Error, Result, write_stdout};
use crate::exit;
use crate::history::aggregation;
use crate::history::store::{SampleRow, Store};
use crate::history::{HistoryError, resolve_path};
use crate::runbook::CheckRef;
use crate::values::Stat;
use crate::values::units::{format_bytes, format_millis, trim_float};

/// A metric in the CLI's (English) units: `65%`, `350ms`, `48.2MB`, `45d`.
fn fmt_metric(v: f64, unit: &str, label: &str) -> String {
    match unit {
        "%" => format!("{}%", trim_float(v, 1)),
        "ms" => format_millis(v),
        "s" => format_millis(v * 1000.0),
        "B" => format_bytes(v),
        "days" => format!("{}d", trim_float(v, 1)),
        _ => format!("{}{label}", trim_float(v, 2)),
    }
}

/// `opsrun history`: recent runs, or one check's series with a sparkline.
pub(super) fn command(cmd: &HistoryCmd) -> Result<i32> {
    let path = resolve_path(cmd.path.history.as_deref());
    let store = match Store::open_existing(&path).map_err(Error::History)? {
        Some(s) => s,
        None => {
            eprintln!("no history yet at {}", path.display());
            return Ok(exit::OK);
        }
    };
    let now = clock(cmd.now);
    let to = now + chrono::Duration::milliseconds(1);
    let from = now - chrono::Duration::milliseconds(cmd.since.as_millis() as i64);
    match &cmd.check {
        None => runs_listing(&store, cmd, &from, &to),
        Some(id) => check_series(&store, cmd, id, &from, &to),
    }
    .map_err(Error::History)
}

fn table() -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    t.force_no_tty();
    t
}

fn runs_listing(
    store: &Store,
    cmd: &HistoryCmd,
    from: &DateTime<FixedOffset>,
    to: &DateTime<FixedOffset>,
) -> std::result::Result<i32, HistoryError> {
    let runs = store.runs(cmd.runbook.as_deref(), from, to, cmd.limit)?;
    if cmd.format == HistoryFormat::Json {
        let v: Vec<_> = runs
            .iter()
            .map(|r| {
                json!({
                    "id": r.id, "runbook": r.runbook, "title": r.title, "host": r.host,
                    "started_at": r.started_at.to_rfc3339(), "duration_ms": r.duration_ms,
                    "status": r.status, "interrupted": r.interrupted,
                    "summary": {"pass": r.counts[0], "warn": r.counts[1], "fail": r.counts[2],
                                "unknown": r.counts[3], "skip": r.counts[4]},
                })
            })
            .collect();
        write_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        ));
        return Ok(exit::OK);
    }
    if runs.is_empty() {
        eprintln!(
            "no runs{} in the last {} ({})",
            cmd.runbook
                .as_ref()
                .map(|r| format!(" of `{r}`"))
                .unwrap_or_default(),
            format_millis(cmd.since.as_millis() as f64),
            store.path().display()
        );
        return Ok(exit::OK);
    }
    let mut t = table();
    t.set_header(vec![
        "TIME", "RUNBOOK", "STATUS", "PASS", "WARN", "FAIL", "UNKNOWN", "SKIP", "DURATION",
    ]);
    for r in &runs {
        let status = if r.interrupted {
            format!("{} (interrupted)", r.status.label())
        } else {
            r.status.label().to_owned()
        };
        let mut row = vec![
            r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.runbook.clone(),
            status,
        ];
        row.extend(r.counts.iter().map(u32::to_string));
        row.push(format_millis(r.duration_ms as f64));
        t.add_row(row);
    }
    write_stdout(&format!(
        "{t}\n{} runs shown ({})\n",
        runs.len(),
        store.path().display()
    ));
    Ok(exit::OK)
}

fn check_series(
    store: &Store,
    cmd: &HistoryCmd,
    id: &str,
    from: &DateTime<FixedOffset>,
    to: &DateTime<FixedOffset>,
) -> std::result::Result<i32, HistoryError> {
    let cref = CheckRef {
        runbook: cmd.runbook.clone(),
        id: id.to_owned(),
    };
    let rows: Vec<SampleRow> = store.samples(&cref, None, from, to)?;
    if rows.is_empty() {
        let seen = store.checks_seen(from, to)?;
        let ids: Vec<&str> = seen.iter().map(|c| c.check_id.as_str()).collect();
        let hint = match crate::suggest::closest(id, &ids) {
            Some(s) => format!(", did you mean `{s}`?"),
            None if ids.is_empty() => String::new(),
            None => format!(" (checks recorded: {})", {
                let mut v = ids.clone();
                v.dedup();
                v.join(", ")
            }),
        };
        eprintln!(
            "error: no results for check `{cref}` in the last {}{hint}",
            format_millis(cmd.since.as_millis() as f64)
        );
        return Ok(exit::UNKNOWN);
    }
    let last = rows.last().expect("not empty");
    let values: Vec<f64> = rows.iter().filter_map(|r| r.sample.value).collect();
    let unit = last.unit.clone();
    let label = last.unit_label.clone();
    let samples: Vec<_> = rows.iter().map(|r| r.sample.clone()).collect();
    let stats = (!values.is_empty()).then(|| {
        (
            aggregation::stat(&samples, Stat::Min, &[]).unwrap_or(0.0),
            aggregation::stat(&samples, Stat::Avg, &[]).unwrap_or(0.0),
            aggregation::stat(&samples, Stat::Max, &[]).unwrap_or(0.0),
        )
    });
    let spark = aggregation::sparkline(&aggregation::resample(&values, 60));
    let count = |s| rows.iter().filter(|r| r.sample.status == s).count();
    use crate::values::outcome::Status;
    if cmd.format == HistoryFormat::Json {
        let v = json!({
            "check": id,
            "runbook": cmd.runbook,
            "label": last.label,
            "unit": if unit.is_empty() && values.is_empty() { None } else { Some(&unit) },
            "stats": stats.map(|(mn, av, mx)| json!({"min": mn, "avg": av, "max": mx, "count": values.len()})),
            "samples": rows.iter().map(|r| json!({
                "time": r.started_at.to_rfc3339(), "runbook": r.runbook,
                "status": r.sample.status, "value": r.value, "metric": r.sample.value,
                "message": r.message,
            })).collect::<Vec<_>>(),
        });
        write_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        ));
        return Ok(exit::OK);
    }
    let mut out = format!(
        "{id} — {} · {} results since {}\n",
        last.label,
        rows.len(),
        from.format("%Y-%m-%d %H:%M")
    );
    out.push_str(&format!(
        "status: {} pass · {} warn · {} fail · {} unknown\n",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Unknown)
    ));
    if let Some((mn, av, mx)) = stats {
        out.push_str(&format!(
            "{spark}  min {} · avg {} · max {}\n",
            fmt_metric(mn, &unit, &label),
            fmt_metric(av, &unit, &label),
            fmt_metric(mx, &unit, &label)
        ));
    }
    let mut t = table();
    t.set_header(vec!["TIME", "RUNBOOK", "STATUS", "VALUE", "DETAIL"]);
    let shown = rows.len().saturating_sub(cmd.limit);
    for r in &rows[shown..] {
        t.add_row(vec![
            r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.runbook.clone(),
            r.sample.status.label().to_owned(),
            r.value.clone(),
            r.message.clone(),
        ]);
    }
    out.push_str(&format!("{t}\n"));
    if shown > 0 {
        out.push_str(&format!(
            "(the {} newest of {} results; --limit N for more)\n",
            rows.len() - shown,
            rows.len()
        ));
    }
    write_stdout(&out);
    Ok(exit::OK)
}
