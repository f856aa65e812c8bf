//! Scalar runbook values that are more than their YAML text: durations,
//! sizes, and any scalar kept as text. Their parsers are in [`super::units`].

use serde::Deserialize;
use serde::de::{self, Deserializer};
use std::time::Duration;

use super::threshold::ScalarText;
use super::units::{parse_duration, parse_size};

/// A duration field (`30s`, `5m`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        let s = d.deserialize_any(ScalarText)?;
        parse_duration(&s).map(Dur).map_err(de::Error::custom)
    }
}

impl Dur {
    /// `deserialize_with` for a duration that must be longer than zero (a
    /// sample or window of `0s` measures nothing, so it is refused at
    /// load time rather than giving a meaningless number).
    pub(crate) fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        let s = d.deserialize_any(ScalarText)?;
        let dur = parse_duration(&s).map_err(de::Error::custom)?;
        if dur.is_zero() {
            return Err(de::Error::custom(format!(
                "`{}` is zero: expected a duration longer than 0s, like 1s or 5m",
                s.trim()
            )));
        }
        Ok(Dur(dur))
    }

    /// [`Dur::positive`] for an optional field.
    ///
    /// Every duration that bounds or spaces something is positive:
    /// timeouts (a `0s` budget can only time out), `retry.interval` and
    /// `verify.interval` (retrying in the same instant cannot wait out the
    /// transient fault a retry is for; write `100ms` for a quick one),
    /// incident deadlines, `max_age`, `max_gap`, samples and windows. Only
    /// an action's `wait:` may be `0s` (a wait that does nothing is
    /// harmless).
    pub(crate) fn positive_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Dur>, D::Error> {
        Dur::positive(d).map(Some)
    }
}

/// A duration longer than zero, for hand-written map visitors
/// (`map.next_value::<Positive>()`); derived fields use
/// `deserialize_with = "Dur::positive"`.
#[derive(Clone, Copy, Debug)]
pub struct Positive(pub Dur);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Positive, D::Error> {
        Dur::positive(d).map(Positive)
    }
}

/// A size field (`100MB`, `1GiB`), in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        let s = d.deserialize_any(ScalarText)?;
        parse_size(&s).map(Size).map_err(de::Error::custom)
    }
}

/// Any scalar kept as text (`vars` values may be numbers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        d.deserialize_any(ScalarText).map(Text)
    }
}
