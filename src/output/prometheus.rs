//! `prometheus`: the node_exporter textfile-collector format (SPEC §5).
//! Every host writes its file from a timer; Prometheus scrapes
//! node_exporter and Alertmanager aggregates the fleet. No timestamps
//! (the collector forbids them); labels are bounded: runbook, check, kind,
//! unit — never a message or a value.

use std::fmt::Write;

use crate::engine::RunResult;
use crate::values::outcome::Status;

/// What the file needs beyond the runs: the previous last-success time of
/// each runbook, so a failing run does not reset it.
#[derive(Clone, Debug, Default)]
pub struct PromContext {
    pub previous_success: Vec<(String, f64)>,
}

pub(crate) fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            samples: Vec::new(),
        }
    }
    fn add(&mut self, labels: &[(&str, &str)], v: f64) {
        let l: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
            .collect();
        self.samples.push((format!("{{{}}}", l.join(",")), v));
    }
}

/// A run counts as a success when nothing failed and nothing was unknown
/// (warnings still need a look, but the runbook did its job).
pub fn succeeded(run: &RunResult) -> bool {
    run.status() <= Status::Warn && run.status() != Status::Unknown && run.interrupted.is_none()
}

pub fn render(runs: &[&RunResult], ctx: &PromContext) -> String {
    let mut status = Family::new(
        "opsrun_check_status",
        "Check status: 0 pass, 1 warn, 2 fail, 3 unknown.",
    );
    let mut value = Family::new(
        "opsrun_check_value",
        "Headline measurement of a check, in the unit label.",
    );
    let mut duration = Family::new(
        "opsrun_check_duration_seconds",
        "Wall time of a check including retries.",
    );
    let mut last_run = Family::new(
        "opsrun_run_last_run_timestamp_seconds",
        "Unix time the runbook last ran.",
    );
    let mut last_ok = Family::new(
        "opsrun_run_last_success_timestamp_seconds",
        "Unix time the runbook last ran with no fail and no unknown.",
    );
    let mut run_status = Family::new(
        "opsrun_run_status",
        "Worst status of the run: 0 pass, 1 warn, 2 fail, 3 unknown.",
    );
    let mut cert = Family::new(
        "opsrun_cert_not_after_timestamp_seconds",
        "notAfter of the earliest-expiring certificate a check saw.",
    );
    let mut backup = Family::new(
        "opsrun_backup_last_timestamp_seconds",
        "Modification time of the newest backup generation.",
    );
    for run in runs {
        let rb = run.runbook.as_str();
        let started = run.started_at.timestamp() as f64;
        last_run.add(&[("runbook", rb)], started);
        run_status.add(&[("runbook", rb)], run.status().code() as f64);
        let ok = if succeeded(run) {
            Some(started)
        } else {
            ctx.previous_success
                .iter()
                .find(|(r, _)| r == rb)
                .map(|(_, t)| *t)
        };
        if let Some(t) = ok {
            last_ok.add(&[("runbook", rb)], t);
        }
        for r in &run.results {
            if r.outcome.status == Status::Skip {
                continue;
            }
            let id = r.check.id.as_str();
            status.add(
                &[("runbook", rb), ("check", id), ("kind", r.check.kind_name)],
                r.outcome.status.code() as f64,
            );
            duration.add(&[("runbook", rb), ("check", id)], r.duration.as_secs_f64());
            if let Some(m) = &r.outcome.metric {
                value.add(&[("runbook", rb), ("check", id), ("unit", m.unit)], m.value);
            }
            for (name, m) in &r.outcome.metrics {
                match name.as_str() {
                    "not_after" => cert.add(&[("runbook", rb), ("check", id)], m.value),
                    "last_backup" => backup.add(&[("runbook", rb), ("check", id)], m.value),
                    _ => {}
                }
            }
        }
    }
    let mut out = String::new();
    for f in [
        status, value, duration, run_status, last_run, last_ok, cert, backup,
    ] {
        if f.samples.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} gauge", f.name);
        for (labels, v) in f.samples {
            let _ = writeln!(out, "{}{labels} {}", f.name, num(v));
        }
    }
    out
}

/// Reads `opsrun_run_last_success_timestamp_seconds` samples from a
/// previous textfile, so the value survives failing runs.
pub fn previous_success(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("opsrun_run_last_success_timestamp_seconds{runbook=\"")?;
            let (rb, tail) = rest.split_once("\"}")?;
            Some((
                rb.replace("\\\"", "\"").replace("\\\\", "\\"),
                tail.trim().parse().ok()?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_numbers() {
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(num(3.0), "3");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(f64::NAN), "NaN");
    }

    #[test]
    fn previous_success_roundtrip() {
        let t =
            "# HELP x\nopsrun_run_last_success_timestamp_seconds{runbook=\"daily\"} 1761004800\n";
        assert_eq!(
            previous_success(t),
            vec![("daily".to_string(), 1761004800.0)]
        );
    }
}
