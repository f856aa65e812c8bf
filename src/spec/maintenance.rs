//! Maintenance windows (SPEC §10.4): `maintenance:` in a runbook or in
//! `config.yaml`, and the silences `opsrun silence add` records in
//! history. Inside a window a matching non-pass result is `maint`
//! (MAINT / 計画停止): no exit code, no notification, out of 稼働率.

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::{Deserialize, Deserializer, de};

use crate::values::Zone;

/// One `maintenance:` entry as written.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(try_from = "RawWindow")]
pub struct WindowSpec {
    pub from: When,
    pub to: When,
    /// `None`: every check (`checks: all`, or no `checks:`).
    pub checks: Option<Vec<String>>,
    pub reason: String,
}

/// A window's start or end: an instant (`2026-12-05T02:00:00+09:00`), or
/// a wall-clock time (`2026-12-05 02:00`) read in the run's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    At(DateTime<FixedOffset>),
    Local(NaiveDateTime),
}

impl When {
    pub(crate) fn parse(s: &str) -> Result<When, String> {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(When::At(t));
        }
        for f in [
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%dT%H:%M:%S",
        ] {
            if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                return Ok(When::Local(t));
            }
        }
        Err(format!(
            "`{s}` is not a time: expected `2026-12-05 02:00` (in the run's time zone) or RFC 3339 like `2026-12-05T02:00:00+09:00`"
        ))
    }

    /// The instant, reading a wall-clock time in `zone`.
    pub fn instant(self, zone: Zone) -> DateTime<FixedOffset> {
        match self {
            When::At(t) => t,
            When::Local(t) => zone.local(t),
        }
    }
}

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<When, D::Error> {
        let s = String::deserialize(d)?;
        When::parse(&s).map_err(de::Error::custom)
    }
}

/// `checks: all` or `checks: [id, …]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawChecks {
    Word(String),
    Ids(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    from: When,
    to: When,
    checks: Option<RawChecks>,
    #[serde(default)]
    reason: String,
}

impl TryFrom<RawWindow> for WindowSpec {
    type Error = String;
    fn try_from(r: RawWindow) -> Result<WindowSpec, String> {
        let checks = match r.checks {
            None => None,
            Some(RawChecks::Word(w)) if w == "all" => None,
            Some(RawChecks::Word(w)) => {
                return Err(format!(
                    "maintenance checks: `{w}`: expected `all` or a list of check ids"
                ));
            }
            Some(RawChecks::Ids(ids)) if ids.is_empty() => {
                return Err(
                    "maintenance checks: an empty list silences nothing; write `all` or ids".into(),
                );
            }
            Some(RawChecks::Ids(ids)) => Some(ids),
        };
        // Both ends written the same way compare without a zone; a mixed
        // pair is checked when the run knows its zone (an empty window
        // then simply never matches).
        let backwards = match (r.from, r.to) {
            (When::At(a), When::At(b)) => b <= a,
            (When::Local(a), When::Local(b)) => b <= a,
            _ => false,
        };
        if backwards {
            return Err(
                "maintenance window ends before it starts (`to` must be after `from`)".into(),
            );
        }
        Ok(WindowSpec {
            from: r.from,
            to: r.to,
            checks,
            reason: r.reason,
        })
    }
}

/// A window as the engine applies it: instants, the checks it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
    /// `None`: every check of the run.
    pub checks: Option<Vec<String>>,
    /// Only this runbook's checks (a silence given `--runbook`).
    pub runbook: Option<String>,
    pub reason: String,
}

impl WindowSpec {
    /// This window in `zone`.
    pub fn window(&self, zone: Zone) -> Window {
        Window {
            from_ms: self.from.instant(zone).timestamp_millis(),
            to_ms: self.to.instant(zone).timestamp_millis(),
            checks: self.checks.clone(),
            runbook: None,
            reason: self.reason.clone(),
        }
    }
}

impl Window {
    /// Whether the window covers check `id` of `runbook` at `now_ms`.
    pub fn covers(&self, runbook: &str, id: &str, now_ms: i64) -> bool {
        self.from_ms <= now_ms
            && now_ms < self.to_ms
            && self.runbook.as_deref().is_none_or(|r| r == runbook)
            && self
                .checks
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|c| c == id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Result<WindowSpec, String> {
        serde_saphyr::from_str::<WindowSpec>(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn windows_read_local_and_absolute_times() {
        let w = spec("{from: '2026-12-05 02:00', to: '2026-12-05 04:00', reason: DB移行}").unwrap();
        let w = w.window(Zone::default());
        assert_eq!(w.to_ms - w.from_ms, 2 * 3_600_000);
        assert!(w.covers("daily", "x", w.from_ms));
        assert!(!w.covers("daily", "x", w.to_ms));
        let w = spec(
            "{from: '2026-12-05T02:00:00+09:00', to: '2026-12-05T03:00:00+09:00', checks: [api]}",
        )
        .unwrap()
        .window(Zone::default());
        assert!(w.covers("daily", "api", w.from_ms + 1));
        assert!(!w.covers("daily", "db", w.from_ms + 1));
    }

    #[test]
    fn bad_windows_are_refused() {
        assert!(
            spec("{from: '2026-12-05 04:00', to: '2026-12-05 02:00'}")
                .unwrap_err()
                .contains("ends before it starts")
        );
        assert!(
            spec("{from: tomorrow, to: '2026-12-05 02:00'}")
                .unwrap_err()
                .contains("is not a time")
        );
        assert!(
            spec("{from: '2026-12-05 02:00', to: '2026-12-05 04:00', checks: some}")
                .unwrap_err()
                .contains("expected `all`")
        );
        assert!(spec("{from: '2026-12-05 02:00', to: '2026-12-05 04:00', checks: []}").is_err());
        assert!(spec("{from: '2026-12-05 02:00', to: '2026-12-05 04:00', until: x}").is_err());
    }
}
