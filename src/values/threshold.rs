//! Thresholds: `{warn: X, fail: Y}` with a per-metric direction.
//!
//! Higher-is-worse metrics (usage %, latency, error counts) breach at
//! `value >= limit`; lower-is-worse metrics (days left, free bytes, process
//! count) breach at `value <= limit`. A limit written as a string with an
//! operator (`"> 100"`, `"<= 1"`) overrides the direction. Fail is checked
//! before warn, and every boundary is inclusive as written.
//!
//! This file is the one reader of thresholds and limits in runbooks:
//! [`parse_limit`] reads one limit, [`read_map`] one `{warn, fail}`, and
//! the `deserialize_with` helpers below (plain thresholds, measurement
//! switches in [`switch`], lone limits) all go through them. Holding a
//! value against a threshold is [`Threshold::breach`], called by the
//! engine's judge only.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
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

impl Threshold {
    pub fn new(unit: Unit, warn: Option<f64>, fail: Option<f64>) -> Threshold {
        let lim = |v: Option<f64>| v.map(|value| Limit { op: None, value });
        Threshold {
            warn: lim(warn),
            fail: lim(fail),
            unit,
        }
    }

    /// A threshold from two limits read on their own (`long_queries:
    /// {older_than: 5m, warn: 1}` keeps its limits beside other settings).
    pub fn of_limits(unit: Unit, warn: Option<Limit>, fail: Option<Limit>) -> Threshold {
        Threshold { warn, fail, unit }
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

    /// Why the warn limit can never fire for a metric going `dir` (every
    /// value that breaches warn also breaches fail, which is checked
    /// first): `{warn: 90%, fail: 80%}` on a higher-is-worse metric.
    /// `None` when warn can fire, or either side is missing, or the two
    /// compare in opposite senses (a band, which is the writer's choice).
    pub fn unreachable_warn(&self, dir: Direction) -> Option<String> {
        let (w, f) = (self.warn.as_ref()?, self.fail.as_ref()?);
        let (wo, fo) = (w.op_for(dir), f.op_for(dir));
        let up = |o: Op| matches!(o, Op::Gt | Op::Ge);
        if up(wo) != up(fo) {
            return None;
        }
        // Warn's region lies inside fail's when warn starts at or beyond
        // fail; at the same value only a strict fail leaves room for warn.
        let beyond = if up(wo) {
            w.value > f.value
        } else {
            w.value < f.value
        };
        let same = w.value == f.value
            && !(wo == Op::Ge && fo == Op::Gt)
            && !(wo == Op::Le && fo == Op::Lt);
        if !(beyond || same) {
            return None;
        }
        let worse = if up(wo) { "higher" } else { "lower" };
        Some(format!(
            "warn {} is at or beyond fail {} on a metric where {worse} is worse, so warn can never fire; warn must come before fail (e.g. {{warn: {}, fail: {}}})",
            self.unit.format(w.value),
            self.unit.format(f.value),
            self.unit.format(f.value),
            self.unit.format(w.value),
        ))
    }

    /// The same limits with each comparison written out for a metric
    /// going `dir`, so the threshold alone says which side is bad (Nagios
    /// perfdata, read without the metric, needs it).
    pub fn resolved(mut self, dir: Direction) -> Threshold {
        for l in [&mut self.warn, &mut self.fail].into_iter().flatten() {
            l.op = Some(l.op_for(dir));
        }
        self
    }
}

/// Parses one limit: a plain value in `unit`, or an operator then a value.
pub fn parse_limit(s: &str, unit: Unit) -> Result<Limit, String> {
    let (op, rest) = split_op(s.trim());
    let value = unit.parse(rest.trim()).map_err(|e| {
        if op.is_some() {
            format!("{e} after the operator")
        } else {
            e
        }
    })?;
    Ok(Limit { op, value })
}

/// Parses one limit of a relative change (`change: {warn: 20%}`): a
/// signed percentage with no upper bound (`20%`, `150%`, `"<= -20%"`). A
/// plain value is an increase of at least that much; a decrease needs its
/// operator, so a bare negative number (which would fire on almost every
/// value) is refused.
pub fn parse_change_limit(s: &str) -> Result<Limit, String> {
    let t = s.trim();
    let (op, rest) = split_op(t);
    let n = rest.trim();
    let n = n.strip_suffix('%').unwrap_or(n).trim();
    let n = n.strip_prefix('+').unwrap_or(n);
    let bad = || {
        format!(
            "invalid change `{s}`: expected a percentage like 20% (an increase), or with an operator like \"<= -20%\" (a decrease)"
        )
    };
    let value: f64 = n.parse().map_err(|_| bad())?;
    if !value.is_finite() {
        return Err(bad());
    }
    if op.is_none() && value < 0.0 {
        return Err(format!(
            "invalid change `{s}`: a decrease is written with its operator, like \"<= {s}\" (a plain value is an increase of at least that much)"
        ));
    }
    Ok(Limit { op, value })
}

/// The operator at the start of a limit, if any, and the rest.
fn split_op(t: &str) -> (Option<Op>, &str) {
    if let Some(r) = t.strip_prefix(">=") {
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
    }
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

/// Reads `{warn, fail}` in one unit; a measurement switch (`switch`) also
/// takes `true` or an empty value (measured without limits) and `false`
/// (not measured).
struct ThresholdVisitor {
    unit: Unit,
    dir: Direction,
    switch: bool,
}

impl<'de> Visitor<'de> for ThresholdVisitor {
    type Value = Option<Threshold>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.switch {
            f.write_str("true, or ")?;
        }
        write!(
            f,
            "a threshold like {{warn: X, fail: Y}} where X and Y are {}",
            self.unit.expected()
        )
    }

    fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
        if !self.switch {
            return Err(de::Error::invalid_type(de::Unexpected::Bool(on), &self));
        }
        Ok(on.then(|| Threshold::new(self.unit, None, None)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        if !self.switch {
            return Err(de::Error::invalid_type(de::Unexpected::Unit, &self));
        }
        Ok(Some(Threshold::new(self.unit, None, None)))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        read_map(map, self.unit, self.dir).map(Some)
    }
}

/// The one reader of `{warn, fail}` (every threshold of every kind, and
/// the measurement switches): each limit in `unit`, an unknown key
/// pointing at the key, and a warn that can never fire for a metric going
/// `dir` refused pointing at the warn value.
pub(crate) fn read_map<'de, A: MapAccess<'de>>(
    mut map: A,
    unit: Unit,
    dir: Direction,
) -> Result<Threshold, A::Error> {
    let mut t = Threshold {
        warn: None,
        fail: None,
        unit,
    };
    let mut warn_at = (0, 0);
    while let Some(key) = map.next_key::<serde_saphyr::Spanned<String>>()? {
        match key.value.as_str() {
            "warn" => {
                let v = map.next_value::<serde_saphyr::Spanned<LimitText>>()?;
                warn_at = (v.referenced.line(), v.referenced.column());
                t.warn = Some(v.value.limit(unit, warn_at)?);
            }
            "fail" => {
                let v = map.next_value::<serde_saphyr::Spanned<LimitText>>()?;
                let at = (v.referenced.line(), v.referenced.column());
                t.fail = Some(v.value.limit(unit, at)?);
            }
            other => {
                let msg = crate::suggest::unknown_key(other, &["warn", "fail"]);
                let (l, c) = (key.referenced.line(), key.referenced.column());
                return Err(de::Error::custom(crate::values::at(l, c, &msg)));
            }
        }
    }
    if let Some(msg) = t.unreachable_warn(dir) {
        return Err(de::Error::custom(crate::values::at(
            warn_at.0, warn_at.1, &msg,
        )));
    }
    Ok(t)
}

/// A limit's text as written, kept with its position so a bad limit
/// points at the value.
pub(crate) struct LimitText(String);

impl<'de> Deserialize<'de> for LimitText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LimitText, D::Error> {
        d.deserialize_any(ScalarText).map(LimitText)
    }
}

impl LimitText {
    fn limit<E: de::Error>(self, unit: Unit, (l, c): (u64, u64)) -> Result<Limit, E> {
        parse_limit(&self.0, unit).map_err(|e| de::Error::custom(crate::values::at(l, c, &e)))
    }

    /// The limit of a relative change ([`parse_change_limit`]), an error
    /// pointing at `(line, column)`.
    pub(crate) fn change_limit<E: de::Error>(self, (l, c): (u64, u64)) -> Result<Limit, E> {
        parse_change_limit(&self.0).map_err(|e| de::Error::custom(crate::values::at(l, c, &e)))
    }
}

/// `deserialize_with` helpers, one per direction and unit: a threshold
/// mapping (`threshold::hi::percent` for a higher-is-worse percentage,
/// `threshold::lo::days` for a lower-is-worse count of days), a
/// measurement switch (`threshold::switch::hi::percent`) and a lone limit
/// (`threshold::limit::count`, for a limit kept beside other settings; its
/// kind's `validate` checks the pair with [`Threshold::unreachable_warn`]).
/// The direction is part of the path so a threshold is checked at load
/// time against the way its metric gets worse.
macro_rules! threshold_fns {
    ($($name:ident => $unit:expr),* $(,)?) => {
        threshold_fns!(@dir hi, HigherIsWorse, "higher", $($name => $unit),*);
        threshold_fns!(@dir lo, LowerIsWorse, "lower", $($name => $unit),*);

        /// Measurement switches: a measurement runs when its key is
        /// written — `true` or empty to measure without limits, a
        /// `{warn, fail}` mapping to hold it, `false` to leave it off.
        pub(crate) mod switch {
            use super::*;

            threshold_fns!(@switch hi, HigherIsWorse, "higher", $($name => $unit),*);
            threshold_fns!(@switch lo, LowerIsWorse, "lower", $($name => $unit),*);

            /// A measurement whose settings are a struct `T`: `true`/empty
            /// → `T::default()`, `false` → off, a mapping → `T`.
            pub(crate) fn on<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
            where
                D: Deserializer<'de>,
                T: Deserialize<'de> + Default,
            {
                d.deserialize_any(StructSwitch(PhantomData))
            }
        }

        /// Lone limits (`value: {warn: 10, fail: "> 20"}` keeps its limits
        /// in the check's own mapping).
        pub(crate) mod limit {
            use super::*;

            $(
                #[allow(dead_code)] // not every unit has a kind using it yet
                pub(crate) fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Limit>, D::Error> {
                    LimitSeed($unit).deserialize(d).map(Some)
                }
            )*
        }
    };
    (@dir $m:ident, $dir:ident, $worse:literal, $($name:ident => $unit:expr),*) => {
        #[doc = concat!("Thresholds of metrics where ", $worse, " is worse.")]
        pub(crate) mod $m {
            use super::*;

            $(
                #[allow(dead_code)] // not every unit has a kind using it yet
                pub(crate) fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Threshold>, D::Error> {
                    d.deserialize_map(ThresholdVisitor { unit: $unit, dir: Direction::$dir, switch: false })
                }
            )*
        }
    };
    (@switch $m:ident, $dir:ident, $worse:literal, $($name:ident => $unit:expr),*) => {
        #[doc = concat!("Switches of metrics where ", $worse, " is worse.")]
        pub(crate) mod $m {
            use super::*;

            $(
                #[allow(dead_code)] // not every unit has a kind using it yet
                pub(crate) fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Threshold>, D::Error> {
                    d.deserialize_any(ThresholdVisitor { unit: $unit, dir: Direction::$dir, switch: true })
                }
            )*
        }
    };
}

threshold_fns! {
    percent => Unit::Percent,
    millis => Unit::Millis,
    bytes => Unit::Bytes,
    count => Unit::Count,
    days => Unit::Days,
    number => Unit::Number,
}

struct StructSwitch<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for StructSwitch<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("true, false, or a mapping of settings")
    }

    fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
        Ok(on.then(T::default))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Some(T::default()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::*;

    /// The status `v` gets against `th`.
    fn status(th: &Threshold, v: f64, dir: Direction) -> Status {
        th.breach(v, dir).map_or(Status::Pass, |(s, _, _)| s)
    }

    /// The breach as the message says it: `≥ fail 90%`.
    fn says(th: &Threshold, v: f64, dir: Direction) -> String {
        let (_, level, l) = th.breach(v, dir).unwrap();
        format!(
            "{} {level} {}",
            l.op_for(dir).symbol(),
            th.unit.format(l.value)
        )
    }

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
        assert_eq!(status(&th, 79.99, HigherIsWorse), Status::Pass);
        assert_eq!(status(&th, 80.0, HigherIsWorse), Status::Warn);
        assert_eq!(status(&th, 89.99, HigherIsWorse), Status::Warn);
        assert_eq!(status(&th, 90.0, HigherIsWorse), Status::Fail);
        assert_eq!(status(&th, 100.0, HigherIsWorse), Status::Fail);
        assert_eq!(says(&th, 91.2, HigherIsWorse), "≥ fail 90%");
        assert_eq!(says(&th, 85.0, HigherIsWorse), "≥ warn 80%");
    }

    #[test]
    fn lower_is_worse_boundaries_are_inclusive() {
        let th = t(Unit::Days, "30", "7");
        assert_eq!(status(&th, 31.0, LowerIsWorse), Status::Pass);
        assert_eq!(status(&th, 30.0, LowerIsWorse), Status::Warn);
        assert_eq!(status(&th, 8.0, LowerIsWorse), Status::Warn);
        assert_eq!(status(&th, 7.0, LowerIsWorse), Status::Fail);
        assert_eq!(status(&th, -3.0, LowerIsWorse), Status::Fail);
        assert_eq!(says(&th, 7.0, LowerIsWorse), "≤ fail 7d");
    }

    #[test]
    fn explicit_operators_override_direction() {
        let th = t(Unit::Count, "> 100", "> 1000");
        assert_eq!(status(&th, 100.0, LowerIsWorse), Status::Pass);
        assert_eq!(status(&th, 101.0, LowerIsWorse), Status::Warn);
        assert_eq!(status(&th, 1000.0, LowerIsWorse), Status::Warn);
        assert_eq!(status(&th, 1001.0, LowerIsWorse), Status::Fail);
        let th = t(Unit::Millis, ">= 2s", ">=5s");
        assert_eq!(status(&th, 1999.0, HigherIsWorse), Status::Pass);
        assert_eq!(status(&th, 2000.0, HigherIsWorse), Status::Warn);
        assert_eq!(status(&th, 5000.0, HigherIsWorse), Status::Fail);
        let th = t(Unit::Days, "< 30d", "<= 1");
        assert_eq!(status(&th, 30.0, HigherIsWorse), Status::Pass);
        assert_eq!(status(&th, 29.0, HigherIsWorse), Status::Warn);
        assert_eq!(status(&th, 1.0, HigherIsWorse), Status::Fail);
    }

    #[test]
    fn fail_is_checked_before_warn() {
        // A mis-ordered threshold still reports the worse status.
        let th = t(Unit::Percent, "90%", "80%");
        assert_eq!(status(&th, 85.0, HigherIsWorse), Status::Fail);
    }

    #[test]
    fn a_warn_that_can_never_fire_is_named() {
        let never = |w: &str, f: &str, u: Unit, d: Direction| t(u, w, f).unreachable_warn(d);
        assert!(never("90%", "80%", Unit::Percent, HigherIsWorse).is_some());
        assert!(never("80%", "80%", Unit::Percent, HigherIsWorse).is_some());
        assert!(never("80%", "90%", Unit::Percent, HigherIsWorse).is_none());
        assert!(never("7", "30", Unit::Days, LowerIsWorse).is_some());
        assert!(never("30", "7", Unit::Days, LowerIsWorse).is_none());
        // Operators decide, whatever the metric's direction.
        assert!(never("< 10", "< 20", Unit::Count, HigherIsWorse).is_some());
        assert!(never(">= 5", "> 5", Unit::Count, LowerIsWorse).is_none());
        // Opposite senses make a band: the writer's choice.
        assert!(never("> 100", "< 1", Unit::Count, HigherIsWorse).is_none());
        let one_sided = Threshold::new(Unit::Count, Some(5.0), None);
        assert!(one_sided.unreachable_warn(HigherIsWorse).is_none());
    }

    #[test]
    fn one_sided_thresholds() {
        let th = Threshold::new(Unit::Count, None, Some(0.0));
        assert_eq!(status(&th, 0.0, LowerIsWorse), Status::Fail);
        assert_eq!(status(&th, 1.0, LowerIsWorse), Status::Pass);
        let th = Threshold::new(Unit::Count, Some(1.0), None);
        assert_eq!(status(&th, 1.0, HigherIsWorse), Status::Warn);
        assert_eq!(status(&th, 0.0, HigherIsWorse), Status::Pass);
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
    fn change_limits_are_signed_percentages() {
        let l = parse_change_limit("20%").unwrap();
        assert_eq!((l.op, l.value), (None, 20.0));
        assert_eq!(parse_change_limit("150").unwrap().value, 150.0);
        assert_eq!(parse_change_limit("+5%").unwrap().value, 5.0);
        let l = parse_change_limit("<= -20%").unwrap();
        assert_eq!((l.op, l.value), (Some(Op::Le), -20.0));
        let e = parse_change_limit("-20%").unwrap_err();
        assert!(e.contains("written with its operator"), "{e}");
        let e = parse_change_limit("lots").unwrap_err();
        assert!(e.contains("expected a percentage like 20%"), "{e}");
        // Held like any limit: an increase of 20% or more.
        let th = Threshold::of_limits(
            Unit::Percent,
            Some(parse_change_limit("20%").unwrap()),
            Some(parse_change_limit("50%").unwrap()),
        );
        assert_eq!(status(&th, 19.9, HigherIsWorse), Status::Pass);
        assert_eq!(status(&th, 20.0, HigherIsWorse), Status::Warn);
        assert_eq!(status(&th, 60.0, HigherIsWorse), Status::Fail);
        assert_eq!(status(&th, -60.0, HigherIsWorse), Status::Pass);
    }

    #[test]
    fn japanese_limits() {
        let th = t(Unit::Percent, "80%", "90%");
        assert_eq!(th.ja_limit(Status::Warn).unwrap(), "警告閾値 80%");
        assert_eq!(th.ja_limit(Status::Fail).unwrap(), "異常閾値 90%");
        assert_eq!(th.ja_limit(Status::Pass), None);
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct T {
        #[serde(default, deserialize_with = "switch::lo::count")]
        a: Option<Threshold>,
        #[serde(default, deserialize_with = "switch::hi::percent")]
        b: Option<Threshold>,
        #[serde(default, deserialize_with = "hi::millis")]
        c: Option<Threshold>,
        #[serde(default, deserialize_with = "limit::count")]
        d: Option<Limit>,
    }

    #[test]
    fn switches_thresholds_and_limits_read_alike() {
        let t: T = serde_saphyr::from_str(
            "a: true
b: {warn: 80%, fail: 90%}",
        )
        .unwrap();
        assert_eq!(t.a, Some(Threshold::new(Unit::Count, None, None)));
        assert_eq!(
            t.b,
            Some(Threshold::new(Unit::Percent, Some(80.0), Some(90.0)))
        );
        let t: T = serde_saphyr::from_str(
            "a: false
b:
",
        )
        .unwrap();
        assert_eq!(t.a, None);
        assert_eq!(t.b, Some(Threshold::new(Unit::Percent, None, None)));
        let e = serde_saphyr::from_str::<T>("a: {wran: 1}").unwrap_err();
        assert!(e.to_string().contains("did you mean `warn`"), "{e}");
        let e = serde_saphyr::from_str::<T>("b: {warn: lots}").unwrap_err();
        assert!(e.to_string().contains("expected a percentage"), "{e}");
        // A plain threshold is a mapping, not a switch.
        let t: T = serde_saphyr::from_str(
            "c: {fail: 2s}
d: \"> 3\"",
        )
        .unwrap();
        assert_eq!(t.c, Some(Threshold::new(Unit::Millis, None, Some(2000.0))));
        assert_eq!(
            t.d,
            Some(Limit {
                op: Some(Op::Gt),
                value: 3.0
            })
        );
        let e = serde_saphyr::from_str::<T>("c: true").unwrap_err();
        assert!(e.to_string().contains("expected mapping"), "{e}");
        let e = serde_saphyr::from_str::<T>("c: {warn: 1x}").unwrap_err();
        assert!(e.to_string().contains("expected a duration"), "{e}");
    }
}
