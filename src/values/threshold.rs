//! Thresholds: `{warn: X, fail: Y}` with a per-metric direction.
//!
//! Higher-is-worse metrics (usage %, latency, error counts) breach at
//! `value >= limit`; lower-is-worse metrics (days left, free bytes, process
//! count) breach at `value <= limit`. A limit written as a string with an
//! operator (`"> 100"`, `"<= 1"`) overrides the direction. Fail is checked
//! before warn, and every boundary is inclusive as written.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::values::outcome::Status;
use crate::values::units::Unit;

/// Which way a metric gets worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    HigherIsWorse,
    LowerIsWorse,
}

/// A comparison operator written explicitly in a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    /// As written in messages: `>`, `≥`, `<`, `≤`.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => "≥",
            Op::Lt => "<",
            Op::Le => "≤",
        }
    }

    fn holds(self, v: f64, limit: f64) -> bool {
        match self {
            Op::Gt => v > limit,
            Op::Ge => v >= limit,
            Op::Lt => v < limit,
            Op::Le => v <= limit,
        }
    }
}

/// One side of a threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Limit {
    /// Explicit operator, or `None` to follow the metric's direction.
    pub op: Option<Op>,
    /// In the canonical unit (percent, ms, bytes, count, days).
    pub value: f64,
}

impl Limit {
    /// The comparison this limit applies for a metric going `dir`.
    pub fn op_for(&self, dir: Direction) -> Op {
        self.op.unwrap_or(match dir {
            Direction::HigherIsWorse => Op::Ge,
            Direction::LowerIsWorse => Op::Le,
        })
    }

    pub fn breached(&self, v: f64, dir: Direction) -> bool {
        self.op_for(dir).holds(v, self.value)
    }
}

/// `{warn, fail}` for one metric, in one unit.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    pub warn: Option<Limit>,
    pub fail: Option<Limit>,
    pub unit: Unit,
}

/// The result of holding a value against a threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub status: Status,
    /// `≥ fail 90%` — empty when the value passes.
    pub breach: String,
}

impl Threshold {
    pub fn new(unit: Unit, warn: Option<f64>, fail: Option<f64>) -> Threshold {
        let lim = |v: Option<f64>| v.map(|value| Limit { op: None, value });
        Threshold {
            warn: lim(warn),
            fail: lim(fail),
            unit,
        }
    }

    /// The worst limit `v` breaches: fail is checked before warn, and every
    /// boundary is inclusive as written. The one place a value is held
    /// against a threshold (the engine's judge uses it).
    pub fn breach(&self, v: f64, dir: Direction) -> Option<(Status, &'static str, &Limit)> {
        [
            (Status::Fail, "fail", &self.fail),
            (Status::Warn, "warn", &self.warn),
        ]
        .into_iter()
        .find_map(|(status, name, limit)| {
            limit
                .as_ref()
                .filter(|l| l.breached(v, dir))
                .map(|l| (status, name, l))
        })
    }

    pub fn eval(&self, v: f64, dir: Direction) -> Verdict {
        match self.breach(v, dir) {
            Some((status, name, l)) => Verdict {
                status,
                breach: format!(
                    "{} {name} {}",
                    l.op_for(dir).symbol(),
                    self.unit.format(l.value)
                ),
            },
            None => Verdict {
                status: Status::Pass,
                breach: String::new(),
            },
        }
    }

    /// The limit that was breached, in the Japanese report's words:
    /// `警告閾値 80%` / `異常閾値 90%`.
    pub fn ja_limit(&self, status: Status) -> Option<String> {
        let (label, l) = match status {
            Status::Fail => ("異常閾値", self.fail.as_ref()?),
            Status::Warn => ("警告閾値", self.warn.as_ref()?),
            _ => return None,
        };
        Some(format!("{label} {}", self.unit.format(l.value)))
    }

    /// `warn;crit` values for Nagios perfdata.
    pub fn nagios_pair(&self) -> (Option<f64>, Option<f64>) {
        (
            self.warn.as_ref().map(|l| l.value),
            self.fail.as_ref().map(|l| l.value),
        )
    }
}

/// Parses one limit: a plain value in `unit`, or an operator then a value.
pub fn parse_limit(s: &str, unit: Unit) -> Result<Limit, String> {
    let t = s.trim();
    let (op, rest) = if let Some(r) = t.strip_prefix(">=") {
        (Some(Op::Ge), r)
    } else if let Some(r) = t.strip_prefix("<=") {
        (Some(Op::Le), r)
    } else if let Some(r) = t.strip_prefix('>') {
        (Some(Op::Gt), r)
    } else if let Some(r) = t.strip_prefix('<') {
        (Some(Op::Lt), r)
    } else if let Some(r) = t.strip_prefix('≥') {
        (Some(Op::Ge), r)
    } else if let Some(r) = t.strip_prefix('≤') {
        (Some(Op::Le), r)
    } else {
        (None, t)
    };
    let value = unit.parse(rest.trim()).map_err(|e| {
        if op.is_some() {
            format!("{e} after the operator")
        } else {
            e
        }
    })?;
    Ok(Limit { op, value })
}

/// A YAML scalar read as text whatever its type (`80`, `80%`, `0.5`).
pub(crate) struct ScalarText;

impl<'de> Visitor<'de> for ScalarText {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// A single limit in `unit`, read from any scalar (`80`, `80%`, `"> 5"`).
pub(crate) struct LimitSeed(pub Unit);

impl<'de> DeserializeSeed<'de> for LimitSeed {
    type Value = Limit;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Limit, D::Error> {
        let text = d.deserialize_any(ScalarText)?;
        parse_limit(&text, self.0).map_err(de::Error::custom)
    }
}

struct ThresholdVisitor(Unit);

impl<'de> Visitor<'de> for ThresholdVisitor {
    type Value = Threshold;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "a threshold like {{warn: X, fail: Y}} where X and Y are {}",
            self.0.expected()
        )
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Threshold, A::Error> {
        read_map(map, self.0)
    }
}

/// The one reader of `{warn, fail}` (every threshold of every kind, and
/// the measurement switches of `values::measure`): each limit in `unit`,
/// an unknown key pointing at the key.
pub(crate) fn read_map<'de, A: MapAccess<'de>>(
    mut map: A,
    unit: Unit,
) -> Result<Threshold, A::Error> {
    let mut t = Threshold {
        warn: None,
        fail: None,
        unit,
    };
    while let Some(key) = map.next_key::<serde_saphyr::Spanned<String>>()? {
        match key.value.as_str() {
            "warn" => t.warn = Some(map.next_value_seed(LimitSeed(unit))?),
            "fail" => t.fail = Some(map.next_value_seed(LimitSeed(unit))?),
            other => {
                let msg = crate::suggest::unknown_key(other, &["warn", "fail"]);
                let (l, c) = (key.referenced.line(), key.referenced.column());
                return Err(de::Error::custom(crate::values::at(l, c, &msg)));
            }
        }
    }
    Ok(t)
}

/// A single limit in plain numbers (`value: {warn: 10, fail: "> 20"}`).
pub(crate) fn number_limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Limit>, D::Error> {
    LimitSeed(Unit::Number).deserialize(d).map(Some)
}

/// `deserialize_with` helpers, one per unit.
macro_rules! threshold_fns {
    ($($name:ident => $unit:expr),* $(,)?) => {$(
        #[allow(dead_code)] // not every unit has a kind using it yet
        pub(crate) fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Threshold>, D::Error> {
            d.deserialize_map(ThresholdVisitor($unit)).map(Some)
        }
    )*};
}

threshold_fns! {
    percent => Unit::Percent,
    millis => Unit::Millis,
    bytes => Unit::Bytes,
    count => Unit::Count,
    days => Unit::Days,
    number => Unit::Number,
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::*;

    fn t(unit: Unit, warn: &str, fail: &str) -> Threshold {
        Threshold {
            warn: Some(parse_limit(warn, unit).unwrap()),
            fail: Some(parse_limit(fail, unit).unwrap()),
            unit,
        }
    }

    #[test]
    fn higher_is_worse_boundaries_are_inclusive() {
        let th = t(Unit::Percent, "80%", "90%");
        assert_eq!(th.eval(79.99, HigherIsWorse).status, Status::Pass);
        assert_eq!(th.eval(80.0, HigherIsWorse).status, Status::Warn);
        assert_eq!(th.eval(89.99, HigherIsWorse).status, Status::Warn);
        assert_eq!(th.eval(90.0, HigherIsWorse).status, Status::Fail);
        assert_eq!(th.eval(100.0, HigherIsWorse).status, Status::Fail);
        assert_eq!(th.eval(91.2, HigherIsWorse).breach, "≥ fail 90%");
        assert_eq!(th.eval(85.0, HigherIsWorse).breach, "≥ warn 80%");
    }

    #[test]
    fn lower_is_worse_boundaries_are_inclusive() {
        let th = t(Unit::Days, "30", "7");
        assert_eq!(th.eval(31.0, LowerIsWorse).status, Status::Pass);
        assert_eq!(th.eval(30.0, LowerIsWorse).status, Status::Warn);
        assert_eq!(th.eval(8.0, LowerIsWorse).status, Status::Warn);
        assert_eq!(th.eval(7.0, LowerIsWorse).status, Status::Fail);
        assert_eq!(th.eval(-3.0, LowerIsWorse).status, Status::Fail);
        assert_eq!(th.eval(7.0, LowerIsWorse).breach, "≤ fail 7d");
    }

    #[test]
    fn explicit_operators_override_direction() {
        let th = t(Unit::Count, "> 100", "> 1000");
        assert_eq!(th.eval(100.0, LowerIsWorse).status, Status::Pass);
        assert_eq!(th.eval(101.0, LowerIsWorse).status, Status::Warn);
        assert_eq!(th.eval(1000.0, LowerIsWorse).status, Status::Warn);
        assert_eq!(th.eval(1001.0, LowerIsWorse).status, Status::Fail);
        let th = t(Unit::Millis, ">= 2s", ">=5s");
        assert_eq!(th.eval(1999.0, HigherIsWorse).status, Status::Pass);
        assert_eq!(th.eval(2000.0, HigherIsWorse).status, Status::Warn);
        assert_eq!(th.eval(5000.0, HigherIsWorse).status, Status::Fail);
        let th = t(Unit::Days, "< 30d", "<= 1");
        assert_eq!(th.eval(30.0, HigherIsWorse).status, Status::Pass);
        assert_eq!(th.eval(29.0, HigherIsWorse).status, Status::Warn);
        assert_eq!(th.eval(1.0, HigherIsWorse).status, Status::Fail);
    }

    #[test]
    fn fail_is_checked_before_warn() {
        // A mis-ordered threshold still reports the worse status.
        let th = t(Unit::Percent, "90%", "80%");
        assert_eq!(th.eval(85.0, HigherIsWorse).status, Status::Fail);
    }

    #[test]
    fn one_sided_thresholds() {
        let th = Threshold::new(Unit::Count, None, Some(0.0));
        assert_eq!(th.eval(0.0, LowerIsWorse).status, Status::Fail);
        assert_eq!(th.eval(1.0, LowerIsWorse).status, Status::Pass);
        let th = Threshold::new(Unit::Count, Some(1.0), None);
        assert_eq!(th.eval(1.0, HigherIsWorse).status, Status::Warn);
        assert_eq!(th.eval(0.0, HigherIsWorse).status, Status::Pass);
    }

    #[test]
    fn limit_parse_errors_say_what_was_expected() {
        let e = parse_limit("> abc", Unit::Millis).unwrap_err();
        assert!(e.contains("expected a duration like"), "{e}");
        let e = parse_limit("lots", Unit::Percent).unwrap_err();
        assert!(e.contains("expected a percentage like 80%"), "{e}");
        assert_eq!(parse_limit("100MB", Unit::Bytes).unwrap().value, 1e8);
        assert_eq!(
            parse_limit("100MiB", Unit::Bytes).unwrap().value,
            104857600.0
        );
    }

    #[test]
    fn japanese_limits() {
        let th = t(Unit::Percent, "80%", "90%");
        assert_eq!(th.ja_limit(Status::Warn).unwrap(), "警告閾値 80%");
        assert_eq!(th.ja_limit(Status::Fail).unwrap(), "異常閾値 90%");
        assert_eq!(th.ja_limit(Status::Pass), None);
    }
}
