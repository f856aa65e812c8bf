//! The workflow parts of a runbook beyond its checks: the `incident:`
//! header, recovery `actions:` and the `verify:` loop (SPEC §8). Actions
//! are the only steps that change the host, and they run only when the
//! operator says `--execute`.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use super::schema::{Dur, Text};
use crate::check::{KIND_NAMES, Kind, parse_kind};

/// `incident: {level: p1, name: 緊急, scope: …, response: …, escalation: …, deadlines: {…}}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentSpec {
    pub level: Level,
    /// `緊急`, `重要`, `通常`, `軽微`.
    pub name: Option<String>,
    /// 影響範囲: `サービス全停止`.
    pub scope: Option<String>,
    /// 対応時間: `即時`, `30分以内`.
    pub response: Option<String>,
    /// エスカレーション: `即座に上位者`.
    pub escalation: Option<String>,
    #[serde(default)]
    pub deadlines: Deadlines,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    P1,
    P2,
    P3,
    P4,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::P1 => "P1",
            Level::P2 => "P2",
            Level::P3 => "P3",
            Level::P4 => "P4",
        }
    }

    /// The seed's default names (障害レベル定義).
    pub fn default_name(self) -> &'static str {
        match self {
            Level::P1 => "緊急",
            Level::P2 => "重要",
            Level::P3 => "通常",
            Level::P4 => "軽微",
        }
    }
}

/// Deadlines counted from the incident's start: `initial` (初動対応),
/// `investigation` (原因調査), `recovery` (復旧), `escalation` (上位者へ).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    pub initial: Option<Dur>,
    pub investigation: Option<Dur>,
    pub recovery: Option<Dur>,
    pub escalation: Option<Dur>,
}

impl Deadlines {
    /// (Japanese label, offset) in the order an incident meets them.
    pub fn list(&self) -> Vec<(&'static str, Duration)> {
        [
            ("初動対応期限", self.initial),
            ("原因調査期限", self.investigation),
            ("エスカレーション期限", self.escalation),
            ("復旧目標", self.recovery),
        ]
        .into_iter()
        .filter_map(|(l, d)| d.map(|d| (l, d.0)))
        .collect()
    }
}

/// `verify: {checks: [health-local], attempts: 5, interval: 10s}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySpec {
    pub checks: Vec<Spanned<String>>,
    #[serde(default = "five")]
    pub attempts: u32,
    #[serde(default = "ten_seconds")]
    pub interval: Dur,
}

fn five() -> u32 {
    5
}
fn ten_seconds() -> Dur {
    Dur(Duration::from_secs(10))
}

/// `systemctl: {action: restart, unit: estimator}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemctlAction {
    pub action: UnitAction,
    pub unit: String,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UnitAction {
    Restart,
    Start,
    Stop,
    Reload,
}

impl UnitAction {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitAction::Restart => "restart",
            UnitAction::Start => "start",
            UnitAction::Stop => "stop",
            UnitAction::Reload => "reload",
        }
    }

    pub fn ja(self) -> &'static str {
        match self {
            UnitAction::Restart => "再起動",
            UnitAction::Start => "起動",
            UnitAction::Stop => "停止",
            UnitAction::Reload => "再読み込み",
        }
    }
}

/// What one recovery step does.
#[derive(Debug)]
pub enum Step {
    Systemctl(SystemctlAction),
    Wait(Duration),
    /// Any check kind used as a step (`command:` runs a program; `http:`
    /// confirms something mid-way). The step succeeds when the check passes.
    Check(&'static str, Box<dyn Kind>),
}

/// One recovery action as written.
#[derive(Debug, Default)]
pub struct ActionDef {
    pub id: Option<Spanned<String>>,
    pub title: Option<String>,
    pub timeout: Option<Dur>,
    pub step: Option<Step>,
}

const ACTION_FIELDS: &[&str] = &["id", "title", "timeout", "systemctl", "wait"];

impl<'de> Deserialize<'de> for ActionDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ActionDef, D::Error> {
        d.deserialize_map(ActionVisitor)
    }
}

struct ActionVisitor;

impl<'de> Visitor<'de> for ActionVisitor {
    type Value = ActionDef;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "an action: `id`, `title` and one of `systemctl:`, `wait:`, `command:` or a check kind",
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ActionDef, A::Error> {
        let mut a = ActionDef::default();
        while let Some(spanned) = map.next_key::<Spanned<String>>()? {
            let key = spanned.value;
            let here = spanned.referenced;
            let at = |msg: String| -> A::Error {
                de::Error::custom(super::error::at(here.line(), here.column(), &msg))
            };
            if a.step.is_some()
                && (key == "systemctl" || key == "wait" || KIND_NAMES.contains(&key.as_str()))
            {
                return Err(at(format!(
                    "an action has exactly one step, but `{key}` is a second one: split it into two actions"
                )));
            }
            match key.as_str() {
                "id" => a.id = Some(map.next_value()?),
                "title" => a.title = Some(map.next_value::<Text>()?.0),
                "timeout" => a.timeout = Some(map.next_value()?),
                "systemctl" => a.step = Some(Step::Systemctl(map.next_value()?)),
                "wait" => a.step = Some(Step::Wait(map.next_value::<Dur>()?.0)),
                other => match parse_kind(other, &mut map)? {
                    Some(k) => {
                        if let Err(msg) = k.validate() {
                            return Err(at(format!("{other}: {msg}")));
                        }
                        let name = KIND_NAMES
                            .iter()
                            .find(|n| **n == other)
                            .copied()
                            .unwrap_or("");
                        a.step = Some(Step::Check(name, k));
                    }
                    None => {
                        let mut allowed = ACTION_FIELDS.to_vec();
                        allowed.extend_from_slice(KIND_NAMES);
                        return Err(at(crate::suggest::unknown_key(other, &allowed)));
                    }
                },
            }
        }
        Ok(a)
    }
}

/// A recovery action ready to run.
#[derive(Debug)]
pub struct Action {
    pub id: String,
    pub title: String,
    pub timeout: Duration,
    pub step: Step,
}

impl Action {
    /// What the step will do, for the plan and the prompt.
    pub fn describe(&self) -> String {
        match &self.step {
            Step::Systemctl(s) => format!("systemctl {} {}", s.action.as_str(), s.unit),
            Step::Wait(d) => format!(
                "wait {}",
                crate::units::format_millis(d.as_secs_f64() * 1000.0)
            ),
            Step::Check(kind, k) => format!("{kind}: {}", k.target()),
        }
    }
}

/// The workflow parts of a loaded runbook.
#[derive(Debug, Default)]
pub struct Workflow {
    pub incident: Option<IncidentSpec>,
    pub actions: Vec<Action>,
    /// Ids of the checks to re-run after the actions, with attempts and interval.
    pub verify: Option<(Vec<String>, u32, Duration)>,
}
