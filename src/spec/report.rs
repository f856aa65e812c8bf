//! `report:` — how the Japanese report and checklist of a runbook are
//! built (SPEC §6), and the check references history is queried with.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_saphyr::Spanned;

use crate::values::threshold::ScalarText;
use crate::values::{Dur, PeriodKind, Stat, Zone, parse_timezone};

/// `report:` — how the Japanese report and checklist of this runbook are
/// built (SPEC §6). Everything is optional; see docs/reports.md.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// Which report `-f report` prints [weekly.yaml → weekly, monthly.yaml → monthly, else daily].
    /// `kind:` is the same key; a runbook that sets it to `daily` is titled 【日次運用レポート】.
    #[serde(alias = "kind")]
    pub period: Option<PeriodKind>,
    /// The runbooks whose history a weekly/monthly report reads, exactly
    /// [every runbook with this runbook's `system:`; without one, this runbook].
    pub from: Option<Vec<String>>,
    /// The zone every time is read in: an IANA name or a fixed offset [config.yaml's `timezone:`, else Asia/Tokyo].
    pub timezone: Option<Tz>,
    /// Checks whose line shows the measured value (`65%`) rather than 正常/警告.
    #[serde(default)]
    pub show_value: Vec<Spanned<String>>,
    /// Checks whose line shows 正常/警告/異常/不明 rather than the value.
    #[serde(default)]
    pub show_status: Vec<Spanned<String>>,
    /// The health check whose samples give 稼働率 and ダウンタイム.
    pub uptime: Option<UptimeSpec>,
    /// Weekly/monthly lines computed from history, by section.
    #[serde(default)]
    pub sections: Vec<SectionSpec>,
    /// Automatic lines for every other numeric check in history [true unless `sections` is given].
    pub trends: Option<bool>,
    /// Monthly capacity forecasts [every `disk` check in history].
    pub forecast: Option<Vec<ForecastSpec>>,
    /// The checklist's items [one per report section].
    pub checklist: Option<Vec<ChecklistItem>>,
}

/// `timezone:` — an IANA zone (`Asia/Tokyo`, `Europe/Berlin`) or a fixed
/// offset (`+09:00`, `UTC`, `JST`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tz(pub Zone);

impl<'de> Deserialize<'de> for Tz {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let s = d.deserialize_any(ScalarText)?;
        parse_timezone(&s).map(Tz).map_err(de::Error::custom)
    }
}

/// A check in history: `health` (any runbook) or `daily/health` (that runbook's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckRef {
    pub runbook: Option<String>,
    pub id: String,
}

impl fmt::Display for CheckRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.runbook {
            Some(r) => write!(f, "{r}/{}", self.id),
            None => f.write_str(&self.id),
        }
    }
}

impl CheckRef {
    pub fn parse(s: &str) -> Result<CheckRef, String> {
        let (runbook, id) = match s.rsplit_once('/') {
            Some((r, i)) if !r.is_empty() => (Some(r.to_owned()), i),
            Some(_) => {
                return Err(format!(
                    "invalid check reference `{s}`: expected `ID` or `RUNBOOK/ID`"
                ));
            }
            None => (None, s),
        };
        if !valid_id(id) {
            return Err(format!(
                "invalid check reference `{s}`: expected `ID` or `RUNBOOK/ID` with a check id like disk-root"
            ));
        }
        Ok(CheckRef {
            runbook,
            id: id.to_owned(),
        })
    }
}

impl<'de> Deserialize<'de> for CheckRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CheckRef, D::Error> {
        let s = d.deserialize_any(ScalarText)?;
        CheckRef::parse(&s).map_err(de::Error::custom)
    }
}

/// A limit written in the metric's own unit: `90%`, `500GB`, `30d`, `12`;
/// `< 10GB` when a lower value is the bad side (free space, days left),
/// `> 90%` when a higher one is. Without the sign, the check's recorded
/// warn and fail limits say which side is bad (a warning above the failure
/// means lower is worse), and with neither, higher is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Amount {
    pub value: f64,
    /// `Some(true)`: `<` (lower is worse); `Some(false)`: `>`; `None`: no sign.
    pub below: Option<bool>,
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
        let s = d.deserialize_any(ScalarText)?;
        let t = s.trim();
        let (below, t) = match t.chars().next() {
            Some('<') => (Some(true), t[1..].trim_start_matches('=')),
            Some('>') => (Some(false), t[1..].trim_start_matches('=')),
            _ => (None, t),
        };
        let t = t.trim();
        let v = if let Some(p) = t.strip_suffix('%') {
            p.trim().parse::<f64>().ok()
        } else if let Some(days) = t.strip_suffix('d') {
            days.trim().parse::<f64>().ok()
        } else if let Ok(n) = t.parse::<f64>() {
            Some(n)
        } else {
            crate::values::units::parse_size(t).ok().map(|b| b as f64)
        };
        v.filter(|v| v.is_finite())
            .map(|value| Amount { value, below })
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "invalid limit `{s}`: expected a value in the metric's unit, like 90%, 500GB, 30d or 12, \
                     with `<` in front when lower is worse (`< 10GB`)"
                ))
            })
    }
}

/// `uptime: {check: daily/health-local, max_gap: 30m}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UptimeSpec {
    pub check: CheckRef,
    /// How long one sample speaks for [twice the usual interval between samples].
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    pub max_gap: Option<Dur>,
}

/// `sections: [{name: パフォーマンス, lines: [...]}]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionSpec {
    pub name: String,
    pub lines: Vec<LineSpec>,
}

/// One history line: `{check: daily/cpu, stat: avg, label: 平均CPU使用率}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineSpec {
    pub check: CheckRef,
    /// A named metric of the check (`p95`) [the headline metric].
    pub metric: Option<String>,
    /// avg, max, min, last, sum, success [by unit].
    pub stat: Option<Stat>,
    /// [`平均` + the check's label for avg, and so on].
    pub label: Option<String>,
}

/// `forecast: [{check: daily/disk-root, limit: 90%, horizon: 90d}]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastSpec {
    pub check: CheckRef,
    pub metric: Option<String>,
    pub label: Option<String>,
    /// [the check's recorded fail threshold]; `< 10GB`: lower is worse.
    pub limit: Option<Amount>,
    /// How far ahead a crossing is reported [90d].
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    pub horizon: Option<Dur>,
    /// How much history the trend is fitted on [90d].
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    pub window: Option<Dur>,
}

/// `checklist: [{item: サービス稼働確認（httpd/estimator）, checks: [httpd, estimator]}]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItem {
    pub item: String,
    /// Checks of this runbook that tick the item; none: left □ for the operator.
    #[serde(default)]
    pub checks: Vec<Spanned<String>>,
}

/// A check id: lowercase letters, digits, `-` and `_`, at most 128 bytes.
pub(crate) fn valid_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && s.len() <= 128
}
