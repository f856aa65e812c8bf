//! The YAML schema of a runbook file (SPEC §3), as serde types.
//!
//! No `untagged`/`flatten`: they destroy error locations. A check is a
//! mapping read by a hand-written visitor so that its kind key (`http:`,
//! `disk:` …) is dispatched to the kind registry while the common fields
//! are read here; every error keeps the line and column of the key it is about.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use crate::check::{KIND_NAMES, Kind, parse_kind};
use crate::spec::{Defaults, ReportSpec, Retry, Severity};
use crate::values::{Dur, Positive, Text};

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
    #[serde(default)]
    pub maintenance: Vec<Spanned<crate::spec::maintenance::WindowSpec>>,
}

/// The common fields of every check (SPEC §3), in the order users write them.
pub const COMMON_FIELDS: &[&str] = &[
    "id",
    "title",
    "section",
    "label",
    "tags",
    "timeout",
    "retry",
    "severity",
    "consecutive",
    "change",
    "hint",
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
    pub consecutive: Option<crate::spec::common::Consecutive>,
    pub change: Option<crate::spec::common::Change>,
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
                "timeout" => c.timeout = Some(map.next_value::<Positive>()?.0),
                "retry" => c.retry = Some(map.next_value()?),
                "severity" => c.severity = Some(map.next_value()?),
                "consecutive" => c.consecutive = Some(map.next_value()?),
                "change" => c.change = Some(map.next_value()?),
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
