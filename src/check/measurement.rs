//! What a kind returns: a [`Measurement`] (what it saw) or a [`Failure`]
//! (why it could not see it). Kinds do not decide pass/warn/fail from
//! numbers: the engine's judge (`crate::judge`) holds each [`Metric`]
//! against its threshold and applies `severity`, so thresholds are read
//! in one place.
//!
//! # Converting a kind (the pattern)
//!
//! 1. `run` returns `Box::pin(async move { self.check(ctx).await.into() })`
//!    where `check` returns `Result<Measurement, Failure>`.
//! 2. Every wait goes through the deadline: `ctx.deadline.within(step)`
//!    (or `ctx.deadline.remaining()` for an API that takes a timeout).
//!    On overrun return `Failure::fail(o.reason(&TIMEOUT)…)` with the
//!    kind's own `timeout` entry (`Code::variant("tcp.timeout", "timeout",
//!    "…")`), never a second clock and never a fraction of the budget.
//! 3. Each way of failing is a `static` [`Code`](crate::values::reason::Code) in
//!    the kind's file (its English words, today's sentence with `{param}`
//!    holes) plus a [`Reason`] built with its parameters; list the codes
//!    in the kind's registration (`CODES`) and in docs/reasons.md.
//! 4. Numbers become [`Metric`]s: `Metric::new("used", pct, Unit::Percent,
//!    Direction::HigherIsWorse).held(&self.used).says("disk / 91% used")`.
//!    The first metric is the headline (JSON `metric`, history, perfdata)
//!    unless marked `.extra()`;
//!    `held` attaches the user's threshold, `says` is how a breach names
//!    the value. A kind never holds a value against a threshold itself
//!    (`Threshold::breach` is the judge's). Thresholds are read from the
//!    runbook with the helpers of `values::threshold` only: `threshold::hi::percent`
//!    for a `{warn, fail}` mapping, `threshold::switch::hi::percent` for a
//!    measurement switched on by its key, `threshold::limit::count` for a
//!    lone limit.
//! 5. Judgements that are not thresholds (a body that does not match, a
//!    file too old) are [`Observation`]s with a status and a reason; the
//!    judge applies them in order, before the thresholds.
//! 6. `-v` detail lines are data too: a fact is a `Reason` of a
//!    `Code::detail` entry in the kind's file (listed in `CODES`, today's
//!    sentence as its template): `m.detail(Reason::new(&D_FREE).with(…))`;
//!    text quoted exactly as observed (an output line with no words of
//!    ours around it) is `Detail::raw`. Never `format!` a sentence.
//! 7. Test it with `check::harness` (a fake context, no engine): assert on
//!    the measurement and on reason codes and parameters (`harness::said`
//!    for detail lines), not on words; the integration tests keep
//!    asserting the rendered English.

use crate::values::outcome::Status;
use crate::values::reason::{Code, Detail, Param, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::Unit;

/// One measured number of a check.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// Name in JSON, history and Prometheus (`used`, `latency`).
    pub name: String,
    pub value: f64,
    pub unit: Unit,
    pub direction: Direction,
    /// The user's threshold for this value, if any.
    pub threshold: Option<Threshold>,
    /// How a breach names the value (`disk / 91.2% used`); by default the
    /// name and the formatted value (`connections 12`).
    pub subject: Option<String>,
    /// Whether this metric may be the check's headline (the first such
    /// metric is); `extra()` keeps a by-the-way count out of the value
    /// column and history's headline.
    pub headline: bool,
    /// Whether the judge holds the value against `threshold`; off when the
    /// kind already said worse (an expired certificate), while reports
    /// still show the limits.
    pub judged: bool,
    /// Judged after the other metrics (the order of the reasons in the
    /// message), while keeping its place in the list.
    pub late: bool,
    /// A kind's own sentence for a breach of this metric: a `threshold`
    /// entry of its catalog, with the parameters it needs besides the
    /// judge's (`metric`, `value`, `level`, `op`, `limit`, `subject`).
    pub wording: Option<(&'static Code, Vec<(&'static str, Param)>)>,
    /// What the value was counted over (`today`, `1h`), said after the
    /// limit in a breach: `error_rate 7% ≥ fail 5% (today)`.
    pub window: Option<String>,
}

impl Metric {
    pub fn new(name: impl Into<String>, value: f64, unit: Unit, direction: Direction) -> Metric {
        Metric {
            name: name.into(),
            value,
            unit,
            direction,
            threshold: None,
            subject: None,
            headline: true,
            judged: true,
            late: false,
            wording: None,
            window: None,
        }
    }

    /// Judged after the other metrics.
    pub fn late(mut self) -> Metric {
        self.late = true;
        self
    }

    /// Shown with its threshold, never judged against it.
    pub fn not_judged(mut self) -> Metric {
        self.judged = false;
        self
    }

    /// Says a breach with `code` (code `threshold`) and extra `params`.
    pub fn worded(mut self, code: &'static Code, params: Vec<(&'static str, Param)>) -> Metric {
        self.wording = Some((code, params));
        self
    }

    /// Reported along the way, never the headline.
    pub fn extra(mut self) -> Metric {
        self.headline = false;
        self
    }

    /// Holds the value against `threshold` (when the user set one).
    pub fn held(mut self, threshold: &Option<Threshold>) -> Metric {
        self.threshold = threshold.clone();
        self
    }

    /// Holds the value against `threshold`.
    pub fn held_to(mut self, threshold: Threshold) -> Metric {
        self.threshold = Some(threshold);
        self
    }

    pub fn says(mut self, subject: impl Into<String>) -> Metric {
        self.subject = Some(subject.into());
        self
    }

    /// Names the window the value was counted over.
    pub fn over(mut self, window: impl Into<String>) -> Metric {
        self.window = Some(window.into());
        self
    }

    /// The words that name this value in a breach.
    pub fn subject(&self) -> String {
        self.subject
            .clone()
            .unwrap_or_else(|| format!("{} {}", self.name, self.unit.format(self.value)))
    }
}

/// A judgement the kind made itself (not a threshold): a body that does
/// not contain the expected text, a file older than `max_age`.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub status: Status,
    pub reason: Reason,
    /// Judged after the thresholds (a `tls` chain problem follows the
    /// expiry verdict in the message).
    pub late: bool,
}

/// What a kind saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measurement {
    /// Short display value (`65%`, `200 OK 35ms`, `active (running)`).
    pub value: String,
    /// Measured numbers, the headline first.
    pub metrics: Vec<Metric>,
    /// The kind's own judgements, applied before the thresholds.
    pub observations: Vec<Observation>,
    /// Further lines shown with `-v` and in JSON: facts in the catalog's
    /// words (`Code::detail` entries) or raw data (a log line).
    pub detail: Vec<Detail>,
}

impl Measurement {
    pub fn new(value: impl Into<String>) -> Measurement {
        Measurement {
            value: value.into(),
            ..Default::default()
        }
    }

    pub fn metric(mut self, m: Metric) -> Measurement {
        self.metrics.push(m);
        self
    }

    pub fn detail(mut self, line: impl Into<Detail>) -> Measurement {
        self.detail.push(line.into());
        self
    }

    /// For kinds whose measurements are switched on by writing their key
    /// (`postgres`, `redis`): each metric with what the value column shows
    /// when it is the headline. The headline is the first metric the user
    /// configured (a threshold held, even one without limits), else the
    /// one at `fallback`; it moves to the front and its display becomes
    /// the value, the others keep their order.
    pub fn headline(mut metrics: Vec<(Metric, String)>, fallback: usize) -> Measurement {
        let Some(last) = metrics.len().checked_sub(1) else {
            return Measurement::default();
        };
        let head = metrics
            .iter()
            .position(|(m, _)| m.threshold.is_some())
            .unwrap_or(fallback)
            .min(last);
        let (h, shown) = metrics.remove(head);
        let mut m = Measurement::new(shown).metric(h);
        m.metrics.extend(metrics.into_iter().map(|(m, _)| m));
        m
    }

    /// Records a judgement of the kind's own.
    pub fn observe(&mut self, status: Status, reason: Reason) {
        self.observations.push(Observation {
            status,
            reason,
            late: false,
        });
    }

    /// Records a judgement to apply after the thresholds.
    pub fn observe_late(&mut self, status: Status, reason: Reason) {
        self.observations.push(Observation {
            status,
            reason,
            late: true,
        });
    }
}

/// Why a kind could not measure, or what it found that ends the check
/// (`connection refused`, `NXDOMAIN`).
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// `Fail` (the target is wrong) or `Unknown` (the check could not be
    /// carried out: tool missing, permission denied).
    pub status: Status,
    pub reason: Reason,
    /// Display value (`closed`, `timeout`); empty by default.
    pub value: String,
    pub detail: Vec<Detail>,
}

impl Failure {
    pub fn fail(reason: Reason) -> Failure {
        Failure {
            status: Status::Fail,
            reason,
            value: String::new(),
            detail: Vec::new(),
        }
    }

    pub fn unknown(reason: Reason) -> Failure {
        Failure {
            status: Status::Unknown,
            ..Failure::fail(reason)
        }
    }

    pub fn shown(mut self, value: impl Into<String>) -> Failure {
        self.value = value.into();
        self
    }

    pub fn detail(mut self, line: impl Into<Detail>) -> Failure {
        self.detail.push(line.into());
        self
    }
}

/// One attempt's result as the engine receives it.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempt {
    Measured(Measurement),
    Failed(Failure),
}

impl From<Result<Measurement, Failure>> for Attempt {
    fn from(r: Result<Measurement, Failure>) -> Attempt {
        match r {
            Ok(m) => Attempt::Measured(m),
            Err(f) => Attempt::Failed(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headline_is_the_first_configured() {
        let count = |name: &str, v| Metric::new(name, v, Unit::Count, Direction::HigherIsWorse);
        let m = Measurement::headline(
            vec![
                (count("a", 1.0), "one a".into()),
                (
                    count("b", 2.0).held_to(Threshold::new(Unit::Count, None, None)),
                    "two b".into(),
                ),
                (count("c", 3.0), "three c".into()),
            ],
            2,
        );
        assert_eq!(m.value, "two b");
        let names: Vec<_> = m.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["b", "a", "c"]);
        let m = Measurement::headline(vec![(count("a", 1.0), "one a".into())], 5);
        assert_eq!(m.value, "one a");
        assert_eq!(Measurement::headline(Vec::new(), 0), Measurement::default());
    }
}
