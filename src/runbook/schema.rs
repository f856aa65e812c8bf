//! The YAML schema of a runbook file (SPEC §3), as serde types.
//!
//! No `untagged`/`flatten`: they destroy error locations. A check is a
//! mapping read by a hand-written visitor so that its kind key (`http:`,
//! `disk:` …) is dispatched to the kind registry while the common fields
//! are read here; every error keeps the line and column of the key it is about.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::FixedOffset;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use crate::check::{KIND_NAMES, Kind, parse_kind};
use crate::values::threshold::ScalarText;
use crate::values::{Dur, PeriodKind, Stat, Text, parse_timezone};

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
    #[serde(default = "default_interval")]
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

/// `defaults:` applied to every check of the file that does not set its own.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub timeout: Option<Dur>,
    pub retry: Option<Retry>,
    pub severity: Option<Severity>,
}

/// The first pass over a file: just what is needed before interpolation.
#[derive(Debug, Default, Deserialize)]
pub struct Prelude {
    #[serde(default)]
    pub vars: BTreeMap<String, Text>,
}

/// A whole runbook file, second pass (after `${var}` interpolation).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub version: Option<Spanned<u64>>,
    pub title: Option<String>,
    pub system: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    pub vars: BTreeMap<String, Text>,
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub checks: Vec<Spanned<CheckDef>>,
    pub incident: Option<super::workflow::IncidentSpec>,
    #[serde(default)]
    pub actions: Vec<Spanned<super::workflow::ActionDef>>,
    pub verify: Option<super::workflow::VerifySpec>,
    pub backup: Option<Spanned<super::workflow::BackupSpec>>,
    pub restore_test: Option<Spanned<super::workflow::RestoreTestSpec>>,
    pub prune: Option<Spanned<super::workflow::PruneSpec>>,
    pub report: Option<Spanned<ReportSpec>>,
    pub notify: Option<Spanned<crate::runbook::notify::NotifySpec>>,
}

/// `report:` — how the Japanese report and checklist of this runbook are
/// built (SPEC §6). Everything is optional; see docs/reports.md.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// Which report `-f report` prints [weekly.yaml → weekly, monthly.yaml → monthly, else daily].
    pub period: Option<PeriodKind>,
    /// Report timezone, a fixed offset [JST, +09:00].
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

/// A fixed-offset timezone (`+09:00`, `UTC`, `JST`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tz(pub FixedOffset);

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
        if !super::valid_id(id) {
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

/// A limit written in the metric's own unit: `90%`, `500GB`, `30d`, `12`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Amount(pub f64);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
        let s = d.deserialize_any(ScalarText)?;
        let t = s.trim();
        let v = if let Some(p) = t.strip_suffix('%') {
            p.trim().parse::<f64>().ok()
        } else if let Some(days) = t.strip_suffix('d') {
            days.trim().parse::<f64>().ok()
        } else if let Ok(n) = t.parse::<f64>() {
            Some(n)
        } else {
            crate::values::units::parse_size(t).ok().map(|b| b as f64)
        };
        v.filter(|v| v.is_finite()).map(Amount).ok_or_else(|| {
            de::Error::custom(format!(
                "invalid limit `{s}`: expected a value in the metric's unit, like 90%, 500GB, 30d or 12"
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
    /// [the check's recorded fail threshold].
    pub limit: Option<Amount>,
    /// How far ahead a crossing is reported [90d].
    pub horizon: Option<Dur>,
    /// How much history the trend is fitted on [90d].
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

/// The common fields of every check (SPEC §3), in the order users write them.
pub const COMMON_FIELDS: &[&str] = &[
    "id", "title", "section", "label", "tags", "timeout", "retry", "severity", "hint",
];

/// One check as written. Missing `id`/kind are reported by the loader with
/// the check's location, so they are optional here.
#[derive(Debug, Default)]
pub struct CheckDef {
    pub id: Option<Spanned<String>>,
    pub title: Option<String>,
    pub section: Option<String>,
    pub label: Option<String>,
    pub tags: Vec<String>,
    pub timeout: Option<Dur>,
    pub retry: Option<Retry>,
    pub severity: Option<Severity>,
    pub hint: Option<String>,
    pub kind: Option<(&'static str, Box<dyn Kind>)>,
}

impl<'de> Deserialize<'de> for CheckDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CheckDef, D::Error> {
        d.deserialize_map(CheckVisitor)
    }
}

struct CheckVisitor;

impl<'de> Visitor<'de> for CheckVisitor {
    type Value = CheckDef;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a check: a mapping with `id` and one kind key such as `http:` or `disk:`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CheckDef, A::Error> {
        let mut c = CheckDef::default();
        let mut seen: Vec<String> = Vec::new();
        while let Some(spanned) = map.next_key::<Spanned<String>>()? {
            let key = spanned.value;
            let here = spanned.referenced;
            // Errors about a key point at the key, not at the check.
            let at = |msg: String| -> A::Error {
                de::Error::custom(crate::values::at(here.line(), here.column(), &msg))
            };
            if seen.contains(&key) {
                return Err(at(format!("duplicate key `{key}`")));
            }
            seen.push(key.clone());
            match key.as_str() {
                "id" => c.id = Some(map.next_value()?),
                "title" => c.title = Some(map.next_value::<Text>()?.0),
                "section" => c.section = Some(map.next_value::<Text>()?.0),
                "label" => c.label = Some(map.next_value::<Text>()?.0),
                "tags" => c.tags = map.next_value()?,
                "timeout" => c.timeout = Some(map.next_value()?),
                "retry" => c.retry = Some(map.next_value()?),
                "severity" => c.severity = Some(map.next_value()?),
                "hint" => c.hint = Some(map.next_value::<Text>()?.0),
                other => {
                    if let Some((first, _)) = &c.kind
                        && KIND_NAMES.contains(&other)
                    {
                        return Err(at(format!(
                            "a check has exactly one kind, but this one has `{first}` and `{other}`: split it into two checks"
                        )));
                    }
                    match parse_kind(other, &mut map)? {
                        Some((name, k)) => {
                            if let Err(msg) = k.validate() {
                                return Err(at(format!("{other}: {msg}")));
                            }
                            c.kind = Some((name, k));
                        }
                        None => {
                            let mut allowed: Vec<&str> = COMMON_FIELDS.to_vec();
                            allowed.extend_from_slice(KIND_NAMES);
                            let msg = match crate::suggest::closest(other, &allowed) {
                                Some(s) => format!("unknown key `{other}`, did you mean `{s}`?"),
                                None => format!(
                                    "unknown key `{other}`: a check takes {} and one kind key ({})",
                                    COMMON_FIELDS.join(", "),
                                    KIND_NAMES.join(", ")
                                ),
                            };
                            return Err(at(msg));
                        }
                    }
                }
            }
        }
        Ok(c)
    }
}
