//! The history side of the commands: recording runs, rendering the
//! Japanese formats with the runbook's `report:` block and history,
//! `opsrun history` and `opsrun report`. Kept out of `app.rs` so that file
//! only wires commands together.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};
use comfy_table::{Table, presets};
use serde_json::json;

use super::aggregation;
use super::period::Period;
use super::store::{SampleRow, Store};
use super::summary::{self, PeriodSummary};
use super::{HistoryError, RunRecord, resolve_path};
use crate::cli::{HistoryCmd, HistoryFormat, JaFormat, RecordArgs, ReportCmd};
use crate::exit;
use crate::output::{Format, checklist, report};
use crate::runbook::{CheckRef, ReportSpec, Runbook};
use crate::values::Stat;
use crate::values::units::{format_bytes, format_millis, trim_float};
use crate::values::{PeriodKind, jst};

/// 担当者 when `--reporter` is not given: `$USER`, else `$LOGNAME`, else
/// the effective user's name in /etc/passwd (cron and containers often
/// set neither variable).
pub fn default_reporter() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .or_else(passwd_name)
        .unwrap_or_else(|| "-".into())
}

fn passwd_name() -> Option<String> {
    let uid = rustix::process::geteuid().as_raw().to_string();
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)? == uid).then(|| name.to_owned())
        })
}

/// The outcome of recording a run: the store (kept open for the report),
/// and why recording failed, if it did.
pub struct Recorded {
    pub path: PathBuf,
    pub store: Option<Store>,
    pub error: Option<HistoryError>,
    pub skipped: bool,
}

impl Recorded {
    /// The line printed on stderr when the run could not be recorded.
    pub fn warning(&self) -> Option<String> {
        self.error.as_ref().map(|e| {
            format!("warning: could not record this run in history: {e} (the checks ran and their results above are complete)")
        })
    }
}

/// Records `runs` (after the async runtime is done: rusqlite blocks). A
/// locked or corrupt database does not fail the run: the error is
/// returned for a warning and the caller exits with the checks' status.
pub fn record_runs(args: &RecordArgs, runs: &[RunRecord]) -> Recorded {
    let path = resolve_path(args.path.history.as_deref());
    if args.no_history {
        return Recorded {
            path,
            store: None,
            error: None,
            skipped: true,
        };
    }
    let mut store = match Store::open(&path) {
        Ok(s) => s,
        Err(e) => {
            return Recorded {
                path,
                store: None,
                error: Some(e),
                skipped: false,
            };
        }
    };
    let mut error = None;
    for r in runs {
        if let Err(e) = store.record(r, Some(args.retention)) {
            error = Some(e);
            break;
        }
    }
    Recorded {
        path,
        store: Some(store),
        error,
        skipped: false,
    }
}

/// The report kind a runbook prints: `report.period`, else by its name.
pub fn kind_of(rb: &Runbook) -> PeriodKind {
    rb.report
        .period
        .unwrap_or_else(|| PeriodKind::for_runbook_name(&rb.name))
}

fn tz_of(spec: Option<&ReportSpec>) -> FixedOffset {
    spec.and_then(|s| s.timezone)
        .map(|t| t.0)
        .unwrap_or_else(jst)
}

/// `-f report` / `-f checklist` for runs just made.
pub fn render_ja(
    format: Format,
    runbooks: &[Runbook],
    runs: &[RunRecord],
    recorded: &mut Recorded,
    reporter: Option<&str>,
) -> String {
    let reporter = reporter.map(str::to_owned).unwrap_or_else(default_reporter);
    let mut parts = Vec::new();
    for (rb, run) in runbooks.iter().zip(runs) {
        let kind = kind_of(rb);
        let tz = tz_of(Some(&rb.report));
        let period = Period::current(kind, run.started_at, tz);
        if format == Format::Checklist {
            parts.push(checklist::render(
                Some(run),
                &period,
                Some(&rb.report),
                &reporter,
            ));
            continue;
        }
        let (summary, err) = if kind == PeriodKind::Daily {
            (None, None)
        } else {
            period_summary(recorded, &rb.report, &period, &rb.name)
        };
        parts.push(report::render(
            Some(run),
            &report::ReportCtx {
                period: &period,
                spec: Some(&rb.report),
                summary: summary.as_ref(),
                history_error: err.as_deref(),
            },
        ));
    }
    parts.join("\n")
}

/// History's part of a weekly/monthly report; `(None, None)` when there
/// is no history at all, `(None, Some(why))` when it cannot be read.
fn period_summary(
    recorded: &mut Recorded,
    spec: &ReportSpec,
    period: &Period,
    runbook: &str,
) -> (Option<PeriodSummary>, Option<String>) {
    if recorded.store.is_none() && recorded.error.is_none() {
        match Store::open_existing(&recorded.path) {
            Ok(s) => recorded.store = s,
            Err(e) => return (None, Some(e.reason)),
        }
    }
    match &recorded.store {
        Some(s) => match summary::summarize(s, spec, period, runbook) {
            Ok(sum) => (Some(sum), None),
            Err(e) => (None, Some(e.reason)),
        },
        None => (None, recorded.error.as_ref().map(|e| e.reason.clone())),
    }
}

fn now_or(now: Option<DateTime<FixedOffset>>) -> DateTime<FixedOffset> {
    now.unwrap_or_else(|| chrono::Local::now().fixed_offset())
}

/// `opsrun report daily|weekly|monthly`: the report of a past period from
/// history alone. Exit 0 once rendered; 3 when it cannot be.
pub fn report_cmd(cmd: ReportCmd) -> i32 {
    let name = cmd.runbook.clone().unwrap_or_else(|| {
        match cmd.period {
            PeriodKind::Daily => "daily",
            PeriodKind::Weekly => "weekly",
            PeriodKind::Monthly => "monthly",
        }
        .to_owned()
    });
    // The runbook only lends its `report:` block; without one the
    // defaults apply and history alone speaks.
    let dir = crate::app::runbook_dir(&cmd.dir);
    let spec = match ["yaml", "yml"]
        .iter()
        .map(|e| dir.join(format!("{name}.{e}")))
        .find(|p| p.is_file())
    {
        Some(p) => match crate::runbook::load(&p, &BTreeMap::new()) {
            Ok(rb) => rb.report,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::UNKNOWN;
            }
        },
        None => ReportSpec::default(),
    };
    let tz = tz_of(Some(&spec));
    let now = now_or(cmd.now);
    let period = match (cmd.period, cmd.date, cmd.month) {
        (PeriodKind::Daily, Some(d), None) => Period::day(d, tz, now),
        (PeriodKind::Weekly, Some(d), None) => Period::week(d, tz, now),
        (PeriodKind::Monthly, None, Some((y, m))) => match Period::month(y, m, tz, now) {
            Some(p) => p,
            None => {
                eprintln!("error: --month: no such month {y}-{m:02}");
                return exit::UNKNOWN;
            }
        },
        (PeriodKind::Monthly, Some(d), None) => {
            use chrono::Datelike;
            Period::month(d.year(), d.month(), tz, now).expect("a date's month exists")
        }
        (k, None, None) => Period::current(k, now, tz),
        (_, None, Some(_)) => {
            eprintln!("error: --month is for monthly reports; use --date YYYY-MM-DD");
            return exit::UNKNOWN;
        }
        (_, Some(_), Some(_)) => unreachable!("clap: --date conflicts with --month"),
    };
    if period.start > now {
        eprintln!(
            "error: {} is in the future (now is {})",
            period.label(),
            now.format("%Y-%m-%d %H:%M %:z")
        );
        return exit::UNKNOWN;
    }
    let path = resolve_path(cmd.path.history.as_deref());
    let store = match Store::open_existing(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read history: {e}");
            return exit::UNKNOWN;
        }
    };
    let (from, to) = period.run_window();
    let run = match &store {
        Some(s) => match s.latest_run(&name, &from, &to) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: cannot read history: {e}");
                return exit::UNKNOWN;
            }
        },
        None => None,
    };
    if cmd.period == PeriodKind::Daily && run.is_none() {
        eprintln!(
            "error: no run of `{name}` recorded on {} in {}{}",
            period.label(),
            path.display(),
            if store.is_none() {
                " (no history file yet)"
            } else {
                ""
            }
        );
        return exit::UNKNOWN;
    }
    let text = match cmd.format {
        JaFormat::Checklist => checklist::render(
            run.as_ref(),
            &period,
            Some(&spec),
            &cmd.reporter.clone().unwrap_or_else(default_reporter),
        ),
        JaFormat::Report => {
            let (summary, err) = match (&store, cmd.period) {
                (_, PeriodKind::Daily) | (None, _) => (None, None),
                (Some(s), _) => match summary::summarize(s, &spec, &period, &name) {
                    Ok(sum) => (Some(sum), None),
                    Err(e) => (None, Some(e.reason)),
                },
            };
            report::render(
                run.as_ref(),
                &report::ReportCtx {
                    period: &period,
                    spec: Some(&spec),
                    summary: summary.as_ref(),
                    history_error: err.as_deref(),
                },
            )
        }
    };
    crate::app::write_stdout(&text);
    exit::OK
}

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
pub fn history_cmd(cmd: HistoryCmd) -> i32 {
    let path = resolve_path(cmd.path.history.as_deref());
    let store = match Store::open_existing(&path) {
        Ok(Some(s)) => s,
        Ok(None) => {
            eprintln!("no history yet at {}", path.display());
            return exit::OK;
        }
        Err(e) => {
            eprintln!("error: cannot read history: {e}");
            return exit::UNKNOWN;
        }
    };
    let now = now_or(cmd.now);
    let to = now + chrono::Duration::milliseconds(1);
    let from = now - chrono::Duration::milliseconds(cmd.since.as_millis() as i64);
    let r = match &cmd.check {
        None => runs_listing(&store, &cmd, &from, &to),
        Some(id) => check_series(&store, &cmd, id, &from, &to),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: cannot read history: {e}");
            exit::UNKNOWN
        }
    }
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
) -> Result<i32, HistoryError> {
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
        crate::app::write_stdout(&format!(
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
    crate::app::write_stdout(&format!(
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
) -> Result<i32, HistoryError> {
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
        crate::app::write_stdout(&format!(
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
    crate::app::write_stdout(&out);
    Ok(exit::OK)
}
