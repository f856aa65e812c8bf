//! Named measurements shared by the service kinds (`postgres`, `redis`): a
//! measurement is switched on by writing its key, with or without a
//! threshold (`connections: true`, `connections: {warn: 50, fail: 80}`), and
//! every measured value becomes a metric of the check. The first configured
//! measurement is the check's headline.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::threshold::{Limit, LimitSeed, Threshold};
use crate::values::units::Unit;

/// `deserialize_with` helpers: a measurement switch with an optional
/// threshold in one unit. `true` or an empty value switches it on without
/// limits, `false` leaves it off, a mapping gives `{warn, fail}`.
macro_rules! toggle_fns {
    ($($name:ident => $unit:expr),* $(,)?) => {$(
        #[allow(dead_code)] // not every unit has a kind using it yet
        pub(crate) fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Threshold>, D::Error> {
            d.deserialize_any(ThresholdToggle($unit))
        }
    )*};
}

toggle_fns! {
    percent => Unit::Percent,
    millis => Unit::Millis,
    bytes => Unit::Bytes,
    count => Unit::Count,
    number => Unit::Number,
}

/// `deserialize_with` for a count limit inside a measurement's own mapping
/// (`long_queries: {older_than: 5m, warn: 1}`).
pub(crate) fn count_limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Limit>, D::Error> {
    LimitSeed(Unit::Count).deserialize(d).map(Some)
}

struct ThresholdToggle(Unit);

impl<'de> Visitor<'de> for ThresholdToggle {
    type Value = Option<Threshold>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "true, or a threshold like {{warn: X, fail: Y}} where X and Y are {}",
            self.0.expected()
        )
    }

    fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
        Ok(on.then(|| Threshold::new(self.0, None, None)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Some(Threshold::new(self.0, None, None)))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        super::threshold::read_map(map, self.0).map(Some)
    }
}

/// `deserialize_with` for a measurement whose settings are a struct `T`:
/// `true`/empty → `T::default()`, `false` → off, a mapping → `T`.
pub(crate) fn toggle<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    d.deserialize_any(StructToggle(PhantomData))
}

struct StructToggle<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for StructToggle<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("true, or a mapping of settings")
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

/// A threshold from two optional limits of a measurement's own mapping.
pub(crate) fn threshold(unit: Unit, warn: &Option<Limit>, fail: &Option<Limit>) -> Threshold {
    Threshold {
        warn: warn.clone(),
        fail: fail.clone(),
        unit,
    }
}

/// One line of text cut to `max` characters, whitespace runs folded.
pub(crate) fn one_line(s: &str, max: usize) -> String {
    let folded = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() > max {
        format!("{}…", folded.chars().take(max).collect::<String>())
    } else {
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct T {
        #[serde(default, deserialize_with = "count")]
        a: Option<Threshold>,
        #[serde(default, deserialize_with = "percent")]
        b: Option<Threshold>,
    }

    #[test]
    fn toggles() {
        let t: T = serde_saphyr::from_str("a: true\nb: {warn: 80%, fail: 90%}").unwrap();
        assert_eq!(t.a, Some(Threshold::new(Unit::Count, None, None)));
        assert_eq!(
            t.b,
            Some(Threshold::new(Unit::Percent, Some(80.0), Some(90.0)))
        );
        let t: T = serde_saphyr::from_str("a: false\nb:\n").unwrap();
        assert_eq!(t.a, None);
        assert_eq!(t.b, Some(Threshold::new(Unit::Percent, None, None)));
        let e = serde_saphyr::from_str::<T>("a: {wran: 1}").unwrap_err();
        assert!(e.to_string().contains("did you mean `warn`"), "{e}");
        let e = serde_saphyr::from_str::<T>("b: {warn: lots}").unwrap_err();
        assert!(e.to_string().contains("expected a percentage"), "{e}");
    }

    #[test]
    fn one_line_folds_and_cuts() {
        assert_eq!(one_line("SELECT  *\n  FROM t", 100), "SELECT * FROM t");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
