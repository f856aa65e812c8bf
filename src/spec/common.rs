//! Settings every check may carry (`retry:`, `severity:`,
//! `consecutive:`) and the `defaults:` block that gives them to every
//! check of a file.

use std::time::Duration;

use serde::Deserialize;

use crate::values::Dur;

/// `retry: {attempts: 5, interval: 10s}`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, try_from = "RawRetry")]
pub struct Retry {
    pub attempts: u32,
    pub interval: Dur,
}

/// Retries multiply a check's run time: past these a run would not end
/// in any useful time (SPEC §9: runs are bounded), so they are refused.
const MAX_ATTEMPTS: u32 = 100;
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    attempts: u32,
    #[serde(default = "default_interval", deserialize_with = "Dur::positive")]
    interval: Dur,
}

impl TryFrom<RawRetry> for Retry {
    type Error = String;
    fn try_from(r: RawRetry) -> Result<Retry, String> {
        if r.attempts > MAX_ATTEMPTS {
            return Err(format!(
                "retry.attempts {} is over the limit of {MAX_ATTEMPTS}",
                r.attempts
            ));
        }
        if r.interval.0 > MAX_INTERVAL {
            return Err(format!(
                "retry.interval {} is over the limit of 1h",
                crate::values::units::format_millis(r.interval.0.as_secs_f64() * 1000.0)
            ));
        }
        Ok(Retry {
            attempts: r.attempts,
            interval: r.interval,
        })
    }
}

fn default_interval() -> Dur {
    Dur(Duration::from_secs(5))
}

/// `severity: warn` caps a failure of the check at warn.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warn,
    Fail,
}

/// `consecutive: N` (SPEC §10.4): a non-pass result counts only when the
/// last N results of the check (history, this one included) are all
/// non-pass; before that the check passes, marked pending (`1/3`).
/// 1 (the default) is every result counting at once.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(try_from = "u32")]
pub struct Consecutive(pub u32);

/// A streak longer than this is no longer an alarm (a check run every
/// minute would stay quiet for hours): refused, like long retries.
const MAX_CONSECUTIVE: u32 = 100;

impl TryFrom<u32> for Consecutive {
    type Error = String;
    fn try_from(n: u32) -> Result<Consecutive, String> {
        match n {
            0 => Err("consecutive: 0 would never report anything; 1 reports every result".into()),
            n if n > MAX_CONSECUTIVE => Err(format!(
                "consecutive: {n} is over the limit of {MAX_CONSECUTIVE}"
            )),
            n => Ok(Consecutive(n)),
        }
    }
}

/// `defaults:` applied to every check of the file that does not set its own.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    pub timeout: Option<Dur>,
    pub retry: Option<Retry>,
    pub severity: Option<Severity>,
    pub consecutive: Option<Consecutive>,
}

/// What `change:` compares with: the sample nearest to this long ago, or
/// the previous result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vs {
    /// The latest earlier result with a value.
    Previous,
    /// The result nearest to `now − d`, within a quarter of `d` either
    /// way (`history::lookback::baseline`).
    Ago(Duration),
}

impl Vs {
    /// As written: `previous`, `1d`, `7d`, `30d`, `12h`.
    pub fn as_text(self) -> String {
        match self {
            Vs::Previous => "previous".into(),
            Vs::Ago(d) => crate::values::units::format_millis(d.as_secs_f64() * 1000.0),
        }
    }
}

/// `change: {vs: 1d|7d|30d|previous, warn, fail}` (SPEC §10.6): the
/// relative change of the check's headline metric against history,
/// `(now − then) / |then|`, held against `warn`/`fail` — signed
/// percentages where a plain value is an increase of at least that much
/// and a decrease is written with its operator (`"<= -20%"`).
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub vs: Vs,
    /// In percent of the earlier value.
    pub threshold: crate::values::threshold::Threshold,
}

impl<'de> Deserialize<'de> for Change {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Change, D::Error> {
        d.deserialize_map(ChangeVisitor)
    }
}

struct ChangeVisitor;

impl<'de> serde::de::Visitor<'de> for ChangeVisitor {
    type Value = Change;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a change like {vs: 30d, warn: 20%, fail: 50%}")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Change, A::Error> {
        use crate::values::threshold::{Direction, LimitText, Threshold};
        use serde::de::Error;
        use serde_saphyr::Spanned;
        let at = |l: u64, c: u64, msg: &str| A::Error::custom(crate::values::at(l, c, msg));
        let (mut vs, mut warn, mut fail) = (None, None, None);
        let mut warn_at = (0, 0);
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            match key.value.as_str() {
                "vs" => {
                    let v = map.next_value::<Spanned<String>>()?;
                    let (l, c) = (v.referenced.line(), v.referenced.column());
                    let t = v.value.trim();
                    vs = Some(if t == "previous" {
                        Vs::Previous
                    } else {
                        match crate::values::units::parse_duration(t) {
                            Ok(d) if !d.is_zero() => Vs::Ago(d),
                            _ => {
                                return Err(at(
                                    l,
                                    c,
                                    &format!(
                                        "change.vs: invalid `{t}`: expected `previous` or a distance like 1d, 7d, 30d"
                                    ),
                                ));
                            }
                        }
                    });
                }
                "warn" => {
                    let v = map.next_value::<Spanned<LimitText>>()?;
                    warn_at = (v.referenced.line(), v.referenced.column());
                    warn = Some(v.value.change_limit(warn_at)?);
                }
                "fail" => {
                    let v = map.next_value::<Spanned<LimitText>>()?;
                    let p = (v.referenced.line(), v.referenced.column());
                    fail = Some(v.value.change_limit(p)?);
                }
                other => {
                    let msg = crate::suggest::unknown_key(other, &["vs", "warn", "fail"]);
                    return Err(at(key.referenced.line(), key.referenced.column(), &msg));
                }
            }
        }
        let Some(vs) = vs else {
            return Err(A::Error::custom(
                "change: missing `vs:` (what to compare with: 1d, 7d, 30d or previous)",
            ));
        };
        if warn.is_none() && fail.is_none() {
            return Err(A::Error::custom(
                "change: add `warn:` and/or `fail:` (e.g. `change: {vs: 30d, warn: 20%}`)",
            ));
        }
        let threshold = Threshold::of_limits(crate::values::units::Unit::Percent, warn, fail);
        if let Some(msg) = threshold.unreachable_warn(Direction::HigherIsWorse) {
            return Err(at(warn_at.0, warn_at.1, &msg));
        }
        Ok(Change { vs, threshold })
    }
}
