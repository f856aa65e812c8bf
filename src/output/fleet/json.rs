//! `fleet report -f json`: the fleet as one object, schema 1 (fields are
//! only ever added). Data, no words: statuses as in a run's JSON
//! (`pass`, `warn`, `fail`, `unknown`), times RFC 3339 in the report's
//! zone, ages in seconds.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::fleet::{Fleet, Host};
use crate::values::Zone;

pub(super) fn render(fleet: &Fleet, tz: Zone) -> String {
    let time = |t: DateTime<Utc>| tz.at(&t).to_rfc3339_opts(SecondsFormat::Secs, false);
    let opt_time = |t: Option<DateTime<Utc>>| t.map(time);
    let host_name = |h: &Host| json!({"instance": h.target.instance, "job": h.target.job});
    let hosts: Vec<Value> = fleet
        .hosts
        .iter()
        .map(|h| {
            let runbooks: Vec<Value> = h
                .runbooks
                .iter()
                .map(|r| {
                    let checks: Vec<Value> = r
                        .checks
                        .iter()
                        .map(|c| {
                            json!({
                                "id": c.id,
                                "kind": c.kind,
                                "status": c.status,
                                "value": c.value.map(|m| finite(m.value)),
                                "unit": c.value.map(|m| m.unit.map_or("", |u| u.symbol())),
                                "cert_not_after": opt_time(c.cert_not_after),
                                "backup_last": opt_time(c.backup_last),
                            })
                        })
                        .collect();
                    json!({
                        "runbook": r.name,
                        "status": r.status,
                        "last_run": opt_time(r.last_run),
                        "last_success": opt_time(r.last_success),
                        "checks": checks,
                    })
                })
                .collect();
            json!({
                "instance": h.target.instance,
                "job": h.target.job,
                "status": h.status(),
                "stale": fleet.is_stale(h),
                "last_run": opt_time(h.last_run()),
                "age_seconds": h.last_run().map(|t| fleet.age(t).as_secs()),
                "runbooks": runbooks,
            })
        })
        .collect();
    let problems: Vec<Value> = fleet
        .problems()
        .iter()
        .map(|p| {
            json!({
                "instance": p.host.target.instance,
                "job": p.host.target.job,
                "runbook": p.runbook.name,
                "check": p.check.id,
                "kind": p.check.kind,
                "status": p.check.status,
                "value": p.check.value.map(|m| finite(m.value)),
                "unit": p.check.value.map(|m| m.unit.map_or("", |u| u.symbol())),
            })
        })
        .collect();
    let stale: Vec<Value> = fleet.stale_hosts().map(host_name).collect();
    let down: Vec<Value> = fleet
        .down
        .iter()
        .map(|t| json!({"instance": t.instance, "job": t.job}))
        .collect();
    let doc = json!({
        "opsrun": env!("CARGO_PKG_VERSION"),
        "schema": 1,
        "prometheus": fleet.source,
        "match": fleet.matcher,
        "at": tz.at(&fleet.at).to_rfc3339_opts(SecondsFormat::Secs, false),
        "stale_after_seconds": fleet.stale_after.as_secs(),
        "status": fleet.status(),
        "summary": {
            "hosts": fleet.hosts.len(),
            "pass": fleet.count(crate::values::outcome::Status::Pass),
            "warn": fleet.count(crate::values::outcome::Status::Warn),
            "fail": fleet.count(crate::values::outcome::Status::Fail),
            "unknown": fleet.count(crate::values::outcome::Status::Unknown),
            "stale": stale.len(),
            "down": down.len(),
        },
        "runbooks": fleet.runbook_names(),
        "hosts": hosts,
        "problems": problems,
        "stale": stale,
        "down": down,
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    )
}

/// JSON has no NaN or infinity: such a value is `null`.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}
