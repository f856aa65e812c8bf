//! `json`: the machine-readable run (SPEC §5). Schema 1; fields are only
//! ever added, never renamed or removed.

use serde_json::{Map, Value, json};

use crate::engine::RunResult;
use crate::values::outcome::Status;

pub fn value(run: &RunResult) -> Value {
    let checks: Vec<Value> = run
        .results
        .iter()
        .map(|r| {
            let o = &r.outcome;
            let mut metrics = Map::new();
            for (name, m) in &o.metrics {
                metrics.insert(
                    name.clone(),
                    json!({"value": finite(m.value), "unit": m.unit}),
                );
            }
            let mut check = json!({
                "id": r.check.id,
                "title": r.check.title,
                "kind": r.check.kind_name,
                "section": r.check.section,
                "status": o.status,
                "value": o.value,
                "metric": o.metric.as_ref().map(|m| finite(m.value)),
                "unit": o.metric.as_ref().map(|m| m.unit),
                "metrics": metrics,
                "message": o.message,
                "reason": o.reasons.first().map(|r| r.json()),
                "reasons": o.reasons.iter().map(|r| r.json()).collect::<Vec<_>>(),
                "hint": r.check.hint,
                "duration_ms": r.duration.as_millis() as u64,
                "attempts": r.attempts,
                "detail": super::words::details(&o.detail),
            });
            // Only on a held result (`consecutive:`): `"pending": "1/3"`
            // and what was seen, so a consumer can tell it from a pass.
            if let (Some(p), Value::Object(m)) = (&o.pending, &mut check) {
                m.insert("pending".into(), json!(format!("{}/{}", p.seen, p.of)));
                m.insert("observed".into(), json!(p.observed));
            }
            // Only inside a maintenance window: status `maint`, and why.
            if let (Some(w), Value::Object(m)) = (&o.maintenance, &mut check) {
                m.insert("observed".into(), json!(w.observed));
                m.insert(
                    "maintenance".into(),
                    json!({
                        "reason": w.reason,
                        "until": chrono::DateTime::from_timestamp_millis(w.until_ms)
                            .map(|t| t.with_timezone(run.started_at.offset())
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)),
                    }),
                );
            }
            check
        })
        .collect();
    let mut doc = json!({
        "opsrun": env!("CARGO_PKG_VERSION"),
        "schema": 1,
        "runbook": run.runbook,
        "title": run.title,
        "system": run.system,
        "host": run.host,
        "started_at": run.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        "duration_ms": run.duration.as_millis() as u64,
        "status": run.status(),
        "interrupted": run.interrupted.is_some(),
        "summary": {
            "pass": run.count(Status::Pass),
            "warn": run.count(Status::Warn),
            "fail": run.count(Status::Fail),
            "unknown": run.count(Status::Unknown),
            "skip": run.count(Status::Skip),
        },
        "checks": checks,
    });
    // Only when a maintenance window held results: older consumers see
    // the summary they know.
    let maint = run.count(Status::Maint);
    if maint > 0
        && let Some(s) = doc.get_mut("summary").and_then(Value::as_object_mut)
    {
        s.insert("maint".into(), json!(maint));
    }
    doc
}

/// JSON has no NaN/inf: such a value is null.
fn finite(v: f64) -> Value {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

pub fn render(run: &RunResult) -> String {
    let mut s = serde_json::to_string_pretty(&value(run)).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}
