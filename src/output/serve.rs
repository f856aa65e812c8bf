//! What `opsrun serve` answers and logs (README "opsrun serve"): the
//! `/healthz` body, the `/metrics` exposition (the runs' textfile format
//! of [`super::prometheus`] plus the server's own counters), the
//! `/api/v1/runs/latest` document (the §5 JSON), and the lines it writes
//! on stderr (the journal, under systemd). Pure functions of what the
//! server holds; the HTTP and the scheduling are the command's.

use std::fmt::Write;
use std::time::Duration;

use serde_json::{Value, json};

use super::RenderCtx;
use crate::engine::RunResult;
use crate::history::period::Period;
use crate::values::PeriodKind;
use crate::values::outcome::Status;

/// One served runbook as the server holds it: its latest finished run
/// (none before the first one ends) and the server's counters.
pub struct Served<'a> {
    pub runbook: &'a str,
    pub run: Option<&'a RunResult>,
    /// Runs finished since the server started.
    pub runs: u64,
    /// Ticks skipped because the previous run was still going.
    pub skipped: u64,
    /// When the runbook last ran with no fail and no unknown (Unix
    /// seconds), so a failing run keeps it as the textfile does.
    pub last_success: Option<f64>,
}

/// What `/healthz` says about the served runbooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// The latest run of every runbook has no fail: 200.
    Ok,
    /// Some latest run has a failing check: 503.
    Fail,
    /// Some runbook has not finished a run yet (and none fails): 503.
    Starting,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Fail => "fail",
            Health::Starting => "starting",
        }
    }
}

/// `/healthz`: whether all is well, and the JSON body that says why —
/// each runbook's latest status and its failing checks (id, title, the
/// one-line message). A warn or an unknown is not a fail (SPEC §10.7: "no
/// fail"); a check held by a maintenance window is `maint`, not a fail.
pub fn health(served: &[Served]) -> (Health, String) {
    let mut health = Health::Ok;
    let mut runbooks = Vec::new();
    for s in served {
        let Some(run) = s.run else {
            if health == Health::Ok {
                health = Health::Starting;
            }
            runbooks.push(json!({
                "runbook": s.runbook,
                "status": Value::Null,
                "started_at": Value::Null,
                "failing": [],
            }));
            continue;
        };
        let failing: Vec<Value> = run
            .results
            .iter()
            .filter(|r| r.outcome.status == Status::Fail)
            .map(|r| {
                json!({
                    "id": r.check.id,
                    "title": r.check.title,
                    "message": r.outcome.message,
                })
            })
            .collect();
        if !failing.is_empty() {
            health = Health::Fail;
        }
        runbooks.push(json!({
            "runbook": s.runbook,
            "status": run.status(),
            "started_at": run.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            "failing": failing,
        }));
    }
    let body = json!({"status": health.as_str(), "runbooks": runbooks});
    (health, pretty(&body))
}

/// `/metrics`: the latest runs in the textfile format of SPEC §5 (the
/// same families `--output prometheus=…` writes), then the server's
/// counters. Before any run has finished, only the counters.
pub fn metrics(served: &[Served]) -> String {
    let runs: Vec<&RunResult> = served.iter().filter_map(|s| s.run).collect();
    let ctx = super::prometheus::PromContext {
        previous_success: served
            .iter()
            .filter_map(|s| Some((s.runbook.to_owned(), s.last_success?)))
            .collect(),
    };
    let mut out = super::prometheus::render(&runs, &ctx);
    for (name, help, count) in [
        (
            "opsrun_serve_runs_total",
            "Runs finished by this opsrun serve since it started.",
            (|s: &Served| s.runs) as fn(&Served) -> u64,
        ),
        (
            "opsrun_serve_skipped_runs_total",
            "Runs not started because the runbook's previous run was still going.",
            |s: &Served| s.skipped,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        for s in served {
            let _ = writeln!(
                out,
                "{name}{{runbook=\"{}\"}} {}",
                super::prometheus::esc(s.runbook),
                count(s)
            );
        }
    }
    out
}

/// `/api/v1/runs/latest`: the §5 JSON of the latest run — one object
/// when one runbook is served, an array (in `--runbook` order) of those
/// that have finished a run when several are, as `-f json` prints one or
/// several runs. `None` before any run has finished.
pub fn latest_json(served: &[Served]) -> Option<String> {
    let runs: Vec<&RunResult> = served.iter().filter_map(|s| s.run).collect();
    match (served.len(), runs.as_slice()) {
        (_, []) => None,
        (1, [one]) => Some(super::json::render(one)),
        _ => Some(pretty(&Value::Array(
            runs.iter().map(|r| super::json::value(r)).collect(),
        ))),
    }
}

/// The latest report of one run as HTML (`/report?format=html`), kept
/// as a fragment so several served runbooks make one page
/// ([`report_page`]), as `-f html` puts several runs in one page. `ctx`
/// holds the one run, its runbook and its history session (weekly and
/// monthly reports read the period from it), as for `-f html`.
pub fn report_fragment(ctx: &mut RenderCtx) -> Option<super::html::Fragment> {
    let run = ctx.records.first()?;
    let rb = ctx.runbooks.first();
    let kind = rb.map(super::ja::kind_of).unwrap_or(PeriodKind::Daily);
    let period = Period::current(kind, run.started_at, ctx.tz);
    let history = match (rb, ctx.history.as_deref_mut()) {
        (Some(rb), Some(h)) if kind != PeriodKind::Daily => {
            h.period_summary(&rb.report, &period, &rb.name, rb.system.as_deref())
        }
        _ => (None, None),
    };
    Some(super::html::report_fragment(
        Some(run),
        &super::report::ReportCtx {
            period: &period,
            heading: &super::ja::heading(rb, kind),
            spec: rb.map(|r| &r.report),
            summary: history.0.as_ref(),
            history_error: history.1.as_deref(),
        },
    ))
}

/// The page of the latest reports' fragments (one document, or several
/// in one page).
pub fn report_page(fragments: &[super::html::Fragment]) -> String {
    super::html::pages(fragments)
}

/// The body of a 503 from `/api/v1/runs/latest` or `/report` before the
/// first run has finished.
pub fn no_run_yet(json: bool) -> String {
    if json {
        pretty(&json!({"error": "no run has finished yet", "status": "starting"}))
    } else {
        "no run has finished yet\n".into()
    }
}

pub fn not_found(path: &str) -> String {
    format!(
        "no such page: {path} (opsrun serve has /healthz, /metrics, /api/v1/runs/latest, /report)\n"
    )
}

pub fn method_not_allowed(method: &str) -> String {
    format!("method {method} not allowed: opsrun serve answers GET and HEAD\n")
}

pub fn bad_report_format(given: &str, known: &[&str]) -> String {
    format!(
        "unknown report format `{given}` (one of: {})\n",
        known.join(", ")
    )
}

/// The first line on stderr: where it listens, what it runs, how often.
pub fn listening(addr: &std::net::SocketAddr, runbooks: &[String], every: Duration) -> String {
    format!(
        "opsrun serve: listening on http://{addr} (runbooks: {}; every {})",
        runbooks.join(", "),
        humantime::format_duration(every)
    )
}

/// A tick that came while the runbook's previous run was still going.
pub fn skipped(runbook: &str, every: Duration) -> String {
    format!(
        "opsrun serve: {runbook}: run skipped: the previous run is still going (longer than the interval, {})",
        humantime::format_duration(every)
    )
}

/// A run whose status differs from the previous one's (or the first).
pub fn status_changed(run: &RunResult, previous: Option<Status>) -> String {
    let was = previous.map(|p| format!(" (was {})", p.as_str()));
    format!(
        "opsrun serve: {}: {}{} — {}",
        run.runbook,
        run.status().as_str(),
        was.unwrap_or_default(),
        super::table::summary(run)
    )
}

/// Settings that could not be read again before a run (config.yaml,
/// a secret): the run goes ahead with what was read before.
pub fn renew_failed(runbook: &str, why: &str) -> String {
    format!("opsrun serve: {runbook}: warning: {why}; this run uses the settings read before")
}

pub fn stopping(signal: &str) -> String {
    format!("opsrun serve: {signal}: no new connections or runs; finishing what is in flight")
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}
