//! The judge: the one place where measurements become pass/warn/fail.
//! It holds every metric against its threshold (one threshold type, one
//! parser: `values::threshold`), applies a kind's own observations, and
//! applies `severity`. Kinds only measure (see `check::measurement`).

use crate::check::{Attempt, Metric};
use crate::runbook::Severity;
use crate::values::outcome::{Outcome, Status};
use crate::values::reason::{Reason, common};

/// The outcome of one attempt.
pub fn judge(attempt: Attempt) -> Outcome {
    match attempt {
        Attempt::Failed(f) => {
            let mut o = Outcome::new(Status::Pass, f.value);
            o.worsen_by(f.status, f.reason);
            o.detail = f.detail;
            o
        }
        Attempt::Measured(m) => {
            let mut o = Outcome::pass(m.value);
            let head = m.metrics.iter().position(|x| x.headline);
            for (i, metric) in m.metrics.iter().enumerate() {
                o = if Some(i) == head {
                    o.with_metric(&metric.name, metric.value, metric.unit)
                } else {
                    o.with_extra_metric(&metric.name, metric.value, metric.unit)
                };
            }
            o.threshold = head
                .and_then(|h| {
                    let t = m.metrics[h].threshold.clone()?;
                    Some(t.resolved(m.metrics[h].direction))
                })
                .filter(|t| t.warn.is_some() || t.fail.is_some());
            o.detail = m.detail;
            let (late, early): (Vec<_>, Vec<_>) = m.observations.into_iter().partition(|x| x.late);
            for obs in early {
                o.worsen_by(obs.status, obs.reason);
            }
            let (late_metrics, metrics): (Vec<_>, Vec<_>) = m.metrics.iter().partition(|x| x.late);
            for metric in metrics.into_iter().chain(late_metrics) {
                if let Some((status, reason)) = breach(metric) {
                    o.worsen_by(status, reason);
                }
            }
            for obs in late {
                o.worsen_by(obs.status, obs.reason);
            }
            o
        }
    }
}

/// `severity: warn`: a failure counts as a warning (after the retries,
/// and again after `change:`, which may add a failure).
pub fn apply_severity(o: &mut Outcome, severity: Option<Severity>) {
    if severity == Some(Severity::Warn) && o.status == Status::Fail {
        o.status = Status::Warn;
        let note = crate::values::reason::Detail::from(Reason::new(&common::SEVERITY_WARN));
        if !o.detail.contains(&note) {
            o.detail.push(note);
        }
    }
}

/// `change: {vs, warn, fail}` (SPEC §10.6): the headline metric's
/// relative change against `then` (`(unix ms, value)`, the sample history
/// gave), `(now − then) / |then|` in percent, held against the change's
/// limits; the worse of the check's own status and the change's wins.
/// Nothing to compare with (no sample in reach, an earlier value of 0, no
/// value measured now) leaves the status as it is, with a `-v` note.
pub fn change(
    o: &mut Outcome,
    spec: &crate::spec::common::Change,
    then: Option<(i64, f64)>,
    tz: &crate::values::Zone,
) {
    use crate::spec::common::Vs;
    use crate::values::threshold::Direction;
    use crate::values::units::{Unit, percent_text};
    let ago = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let Some(metric) = o.metric.clone() else {
        if o.status != Status::Skip {
            o.detail.push(Reason::new(&common::CHANGE_NO_METRIC).into());
        }
        return;
    };
    let unit = Unit::from_symbol(metric.unit).unwrap_or(Unit::Number);
    let Some((at_ms, before)) = then else {
        let note = match spec.vs {
            Vs::Previous => Reason::new(&common::CHANGE_NO_PREVIOUS),
            Vs::Ago(d) => {
                Reason::new(&common::CHANGE_NO_SAMPLE).with_quantity("ago", ago(d), Unit::Millis)
            }
        };
        o.detail.push(note.into());
        return;
    };
    let at = chrono::DateTime::from_timestamp_millis(at_ms)
        .map(|t| tz.at(&t).format("%m/%d %H:%M").to_string())
        .unwrap_or_default();
    if before == 0.0 && metric.value != 0.0 {
        o.detail.push(
            Reason::new(&common::CHANGE_FROM_ZERO)
                .with("at", at)
                .with_quantity("now", metric.value, unit)
                .into(),
        );
        return;
    }
    let pct = if before == 0.0 {
        0.0
    } else {
        (metric.value - before) / before.abs() * 100.0
    };
    let words = percent_text(pct);
    let change = if pct > 0.0 && words != "0" {
        format!("+{words}%")
    } else {
        format!("{words}%")
    };
    o.detail.push(
        Reason::new(&common::CHANGE_COMPARED)
            .with("at", at.clone())
            .with_quantity("then", before, unit)
            .with_quantity("now", metric.value, unit)
            .with("change", change.clone())
            .into(),
    );
    let Some((status, level, limit)) = spec.threshold.breach(pct, Direction::HigherIsWorse) else {
        return;
    };
    let code = match spec.vs {
        Vs::Previous => &common::CHANGE_PREVIOUS,
        Vs::Ago(d) if d.as_secs() == 86_400 => &common::CHANGE_DAY,
        Vs::Ago(d) if d.as_secs() == 7 * 86_400 => &common::CHANGE_WEEK,
        Vs::Ago(d) if d.as_secs() == 30 * 86_400 => &common::CHANGE_MONTH,
        Vs::Ago(_) => &common::CHANGE_AGO,
    };
    let mut r = Reason::new(code)
        .with("change", change)
        .with_quantity("pct", pct, Unit::Percent)
        .with("level", level)
        .with_opt("op", limit.op.map(|op| op.symbol()))
        .with_quantity("limit", limit.value, Unit::Percent)
        .with("vs", spec.vs.as_text())
        .with_quantity("then", before, unit)
        .with_quantity("now", metric.value, unit)
        .with("at", at);
    if let Vs::Ago(d) = spec.vs {
        r = r.with_quantity("ago", ago(d), Unit::Millis);
    }
    o.worsen_by(status, r);
}

/// `consecutive: of` (SPEC §10.4): a warn, fail or unknown result that
/// is not yet the `of`-th non-pass result in a row — `before` such
/// results came just before it (history) — passes, marked pending, its
/// words prefixed with `fail 1/3 in a row`. The reasons stay: they say
/// what was seen.
pub fn hold_pending(o: &mut Outcome, before: u32, of: u32) {
    let seen = before.saturating_add(1);
    if of <= 1 || seen >= of || !matches!(o.status, Status::Warn | Status::Fail | Status::Unknown) {
        return;
    }
    let note = Reason::new(&common::PENDING)
        .with("status", o.status.as_str())
        .with("seen", seen)
        .with("of", of);
    let words = crate::values::reason::say(&note);
    o.message = if o.message.is_empty() {
        words
    } else {
        format!("{words}: {}", o.message)
    };
    o.pending = Some(crate::values::outcome::Pending {
        seen,
        of,
        observed: o.status,
    });
    o.status = Status::Pass;
}

/// A warn, fail or unknown result inside a maintenance window (SPEC
/// §10.4) becomes `maint`: its words are prefixed with the window
/// (`maintenance until 04:00: DB移行`), what was seen stays in the reasons.
pub fn hold_maintenance(o: &mut Outcome, w: &crate::spec::maintenance::Window, until: &str) {
    if !matches!(o.status, Status::Warn | Status::Fail | Status::Unknown) {
        return;
    }
    let note = Reason::new(&common::MAINTENANCE)
        .with("until", until)
        .with_opt("reason", (!w.reason.is_empty()).then(|| w.reason.clone()));
    let words = crate::values::reason::say(&note);
    o.message = if o.message.is_empty() {
        words
    } else {
        format!("{words}: {}", o.message)
    };
    o.maintenance = Some(crate::values::outcome::InMaintenance {
        observed: o.status,
        reason: w.reason.clone(),
        until_ms: w.to_ms,
    });
    o.status = Status::Maint;
}

/// The worst limit `metric` breaches, as a `threshold` reason.
pub fn breach(metric: &Metric) -> Option<(Status, Reason)> {
    if !metric.judged {
        return None;
    }
    let th = metric.threshold.as_ref()?;
    let (status, level, limit) = th.breach(metric.value, metric.direction)?;
    let op = limit.op_for(metric.direction).symbol();
    let (code, extra) = match &metric.wording {
        Some((code, extra)) => (*code, extra.clone()),
        None => (&common::THRESHOLD, Vec::new()),
    };
    let mut r = Reason::new(code)
        .with("metric", metric.name.clone())
        .with_quantity("value", metric.value, metric.unit)
        .with("level", level)
        .with("op", op)
        .with_quantity("limit", limit.value, th.unit)
        .with("subject", metric.subject())
        .with_opt("window", metric.window.clone());
    r.params.extend(extra);
    Some((status, r))
}
