//! What a check produces: a [`Status`] and an [`Outcome`] carrying the
//! display value, the headline metric and the one-line reason.

use serde::Serialize;

use crate::values::reason::{Detail, Reason, say};
use crate::values::threshold::Threshold;
use crate::values::units::Unit;

/// The status of one check. The derived order is "how bad", used for the
/// exit code: pass/maint/skip < unknown < warn < fail (SPEC §2, §10.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// A non-pass result inside a maintenance window (`maintenance:`,
    /// `opsrun silence`): shown as MAINT / 計画停止, no exit code, no
    /// notification, left out of 稼働率.
    Maint,
    Skip,
    Unknown,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Maint => "maint",
            Status::Skip => "skip",
            Status::Unknown => "unknown",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    /// Table label.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Maint => "MAINT",
            Status::Skip => "SKIP",
            Status::Unknown => "UNKNOWN",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }

    /// Report label (ja).
    pub fn ja(self) -> &'static str {
        match self {
            Status::Pass => "正常",
            Status::Maint => "計画停止",
            Status::Skip => "スキップ",
            Status::Unknown => "不明",
            Status::Warn => "警告",
            Status::Fail => "異常",
        }
    }

    /// Numeric code used by Prometheus and history: 0 pass, 1 warn, 2 fail, 3 unknown.
    pub fn code(self) -> u8 {
        match self {
            Status::Pass | Status::Maint | Status::Skip => 0,
            Status::Warn => 1,
            Status::Fail => 2,
            Status::Unknown => 3,
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "pass" => Status::Pass,
            "maint" => Status::Maint,
            "skip" => Status::Skip,
            "unknown" => Status::Unknown,
            "warn" => Status::Warn,
            "fail" => Status::Fail,
            _ => return None,
        })
    }
}

/// A named number with its unit (`%`, `ms`, `B`, `days`, `count`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metric {
    pub value: f64,
    pub unit: &'static str,
}

impl Metric {
    pub fn new(value: f64, unit: Unit) -> Metric {
        Metric {
            value,
            unit: unit.symbol(),
        }
    }
}

/// The result of one check run (one attempt; the engine adds timing).
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub status: Status,
    /// Short display value: `65%`, `active (running)`, `200 OK 35ms`.
    pub value: String,
    /// Headline metric, if the check measures a number.
    pub metric: Option<Metric>,
    /// Every named measurement, in a stable order.
    pub metrics: Vec<(String, Metric)>,
    /// One line saying why, with observed vs expected; empty on a plain pass.
    /// For a converted kind, the words of `reasons`.
    pub message: String,
    /// Why, as data (JSON `reason`), in the order of `message`.
    pub reasons: Vec<Reason>,
    /// Further lines shown with `-v` and in JSON (data; the presentation
    /// layer words them).
    pub detail: Vec<Detail>,
    /// The threshold the headline metric was held against, for reports and perfdata.
    pub threshold: Option<Threshold>,
    /// A non-pass result that does not count yet (`consecutive:`): the
    /// status is pass, what was seen is kept here.
    pub pending: Option<Pending>,
    /// The maintenance window a non-pass result fell in (status `maint`).
    pub maintenance: Option<InMaintenance>,
}

/// A result inside a maintenance window: what was seen, and the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InMaintenance {
    pub observed: Status,
    pub reason: String,
    /// The window's end, unix ms.
    pub until_ms: i64,
}

/// `consecutive: N` holding back a non-pass result (SPEC §10.4): the
/// `seen`-th non-pass result in a row of `of` needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    pub seen: u32,
    pub of: u32,
    /// The status the check had before it was held.
    pub observed: Status,
}

impl Outcome {
    pub fn new(status: Status, value: impl Into<String>) -> Outcome {
        Outcome {
            status,
            value: value.into(),
            metric: None,
            metrics: Vec::new(),
            message: String::new(),
            reasons: Vec::new(),
            detail: Vec::new(),
            threshold: None,
            pending: None,
            maintenance: None,
        }
    }

    pub fn pass(value: impl Into<String>) -> Outcome {
        Outcome::new(Status::Pass, value)
    }

    /// A failed expectation: `status 503, expected 200`.
    pub fn fail(message: impl Into<String>) -> Outcome {
        Outcome::new(Status::Fail, "").with_message(message)
    }

    /// The check could not be carried out (tool missing, permission denied).
    pub fn unknown(message: impl Into<String>) -> Outcome {
        Outcome::new(Status::Unknown, "").with_message(message)
    }

    pub fn with_message(mut self, m: impl Into<String>) -> Outcome {
        self.message = m.into();
        self
    }

    pub fn with_value(mut self, v: impl Into<String>) -> Outcome {
        self.value = v.into();
        self
    }

    pub fn with_metric(mut self, name: &str, value: f64, unit: Unit) -> Outcome {
        let m = Metric::new(value, unit);
        if self.metric.is_none() {
            self.metric = Some(m.clone());
        }
        self.metrics.push((name.to_owned(), m));
        self
    }

    /// Adds a named measurement that is not the headline.
    pub fn with_extra_metric(mut self, name: &str, value: f64, unit: Unit) -> Outcome {
        self.metrics
            .push((name.to_owned(), Metric::new(value, unit)));
        self
    }

    pub fn with_detail(mut self, line: impl Into<Detail>) -> Outcome {
        self.detail.push(line.into());
        self
    }

    /// [`Outcome::worsen`] with a structured reason: the reason is kept
    /// (and its words added to `message`) exactly when `worsen` would keep
    /// its text.
    pub fn worsen_by(&mut self, s: Status, reason: Reason) {
        if s == Status::Pass || s < self.status || self.reasons.contains(&reason) {
            return;
        }
        if s > self.status {
            self.reasons.insert(0, reason.clone());
        } else {
            self.reasons.push(reason.clone());
        }
        self.worsen(s, say(&reason));
    }

    /// Raises the status to `s` if `s` is worse, keeping the first reason.
    pub fn worsen(&mut self, s: Status, why: impl Into<String>) {
        if s > self.status {
            self.status = s;
            let why = why.into();
            if self.message.is_empty() {
                self.message = why;
            } else {
                self.message = format!("{why}; {}", self.message);
            }
        } else if s != Status::Pass && s == self.status {
            let why = why.into();
            if !why.is_empty() && !self.message.contains(&why) {
                if self.message.is_empty() {
                    self.message = why;
                } else {
                    self.message.push_str("; ");
                    self.message.push_str(&why);
                }
            }
        }
    }
}

/// Worst of a set of statuses (pass when empty).
pub fn worst(statuses: impl IntoIterator<Item = Status>) -> Status {
    statuses.into_iter().max().unwrap_or(Status::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_how_bad() {
        assert!(Status::Fail > Status::Warn);
        assert!(Status::Warn > Status::Unknown);
        assert!(Status::Unknown > Status::Skip);
        assert!(Status::Skip > Status::Maint);
        assert!(Status::Maint > Status::Pass);
        assert_eq!(
            worst([Status::Pass, Status::Unknown, Status::Warn]),
            Status::Warn
        );
        assert_eq!(worst([]), Status::Pass);
    }

    #[test]
    fn worsen_keeps_reasons() {
        let mut o = Outcome::pass("x");
        o.worsen(Status::Warn, "slow");
        o.worsen(Status::Fail, "down");
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.message, "down; slow");
        o.worsen(Status::Warn, "ignored");
        assert_eq!(o.message, "down; slow");
    }
}
