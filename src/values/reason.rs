//! Structured reasons: why a check did not pass, as data.
//!
//! Every non-pass outcome carries one or more [`Reason`]s: a stable machine
//! code (`http.status`, `tcp.refused`, `timeout`, `threshold`, …; the table
//! is docs/reasons.md) and named parameters (`got: 503`, `want: [200]`).
//! JSON exposes them as `reason`; people read words rendered from them by
//! the presentation layer (`output::words`).
//!
//! A [`Code`] is one entry of the catalog: the machine code plus the English
//! template of one way of saying it. Several entries may share a code —
//! `tcp` and `postgres` both report `timeout`, each in its own sentence —
//! so the machine contract stays small while today's wording is kept word
//! for word. The English templates are the source catalog (like gettext's
//! msgids): a kind's entries live in the kind's file, so a new kind is one
//! file; another language is one file under `output/words/` that maps
//! codes (or entries, by `key`) to its own templates and falls back to
//! English for what it does not know.
//!
//! Template syntax (rendered by `output::words`): `{name}` is the parameter
//! `name`; `{name:or}` joins a list with " or " (default ", "); `{name:q}`
//! quotes it with escapes; text in `[...]` is dropped when a parameter
//! inside it is missing.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::values::units::Unit;

/// One catalog entry: the machine code and its English words.
#[derive(Debug, PartialEq, Eq)]
pub struct Code {
    /// Unique name of this entry (`tcp.timeout`); a translation may key on it.
    pub key: &'static str,
    /// The stable machine code in JSON `reason.code` (`timeout`).
    pub code: &'static str,
    /// The English template (see the module doc).
    pub en: &'static str,
}

impl Code {
    /// An entry whose key is its code (the common case).
    pub const fn new(code: &'static str, en: &'static str) -> Code {
        Code {
            key: code,
            code,
            en,
        }
    }

    /// An entry that says a shared code in its own words.
    pub const fn variant(key: &'static str, code: &'static str, en: &'static str) -> Code {
        Code { key, code, en }
    }

    /// An entry for a `-v` detail line ([`Detail::Said`]): words for
    /// people, translated like reasons, but no machine contract (JSON
    /// gives detail lines as text), so its code is `detail` and the
    /// reasons table does not list it.
    pub const fn detail(key: &'static str, en: &'static str) -> Code {
        Code {
            key,
            code: DETAIL,
            en,
        }
    }

    /// An entry for a result's display value (`exit 1`, `3 matches`,
    /// `timeout`): words for people in the run's language (`--lang`), like
    /// detail lines no machine contract — JSON has the numbers in
    /// `metrics` — so its code is `value` and the reasons table does not
    /// list it. Observed data in a value (a systemd state, an HTTP reason
    /// phrase, a DNS rcode) is a parameter and stays as observed.
    pub const fn value(key: &'static str, en: &'static str) -> Code {
        Code {
            key,
            code: VALUE,
            en,
        }
    }

    /// Whether this entry words a detail line, not a reason.
    pub fn is_detail(&self) -> bool {
        self.code == DETAIL
    }

    /// Whether this entry words a display value, not a reason.
    pub fn is_value(&self) -> bool {
        self.code == VALUE
    }
}

/// The code of every detail entry.
const DETAIL: &str = "detail";
/// The code of every value entry.
const VALUE: &str = "value";

/// A parameter value of a reason.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
    /// A number in its unit's canonical scale (ms, bytes, percent, days);
    /// words format it with the unit (`5s`, `1.2 GB`, `91.2%`).
    Quantity(f64, Unit),
    List(Vec<Param>),
    Bool(bool),
    /// A reason inside a reason (a note about the password file inside
    /// `postgres.no_password`): words say it in place, JSON nests it.
    Reason(Box<Reason>),
}

impl Param {
    /// The value in JSON: quantities as plain numbers in their canonical
    /// unit (docs/reasons.md names the unit of each parameter).
    pub fn json(&self) -> Value {
        match self {
            Param::Text(s) => json!(s),
            Param::Int(i) => json!(i),
            Param::Quantity(v, _) => serde_json::Number::from_f64(*v)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Param::List(l) => Value::Array(l.iter().map(Param::json).collect()),
            Param::Bool(b) => json!(b),
            Param::Reason(r) => r.json(),
        }
    }
}

impl From<String> for Param {
    fn from(s: String) -> Param {
        Param::Text(s)
    }
}
impl From<&str> for Param {
    fn from(s: &str) -> Param {
        Param::Text(s.to_owned())
    }
}
impl From<&String> for Param {
    fn from(s: &String) -> Param {
        Param::Text(s.clone())
    }
}
impl From<i64> for Param {
    fn from(i: i64) -> Param {
        Param::Int(i)
    }
}
impl From<u16> for Param {
    fn from(i: u16) -> Param {
        Param::Int(i64::from(i))
    }
}
impl From<u32> for Param {
    fn from(i: u32) -> Param {
        Param::Int(i64::from(i))
    }
}
impl From<i32> for Param {
    fn from(i: i32) -> Param {
        Param::Int(i64::from(i))
    }
}
impl From<u64> for Param {
    fn from(i: u64) -> Param {
        Param::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}
impl From<usize> for Param {
    fn from(i: usize) -> Param {
        Param::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}
impl From<bool> for Param {
    fn from(b: bool) -> Param {
        Param::Bool(b)
    }
}
impl From<Reason> for Param {
    fn from(r: Reason) -> Param {
        Param::Reason(Box::new(r))
    }
}
impl<T: Into<Param>> From<Vec<T>> for Param {
    fn from(v: Vec<T>) -> Param {
        Param::List(v.into_iter().map(Into::into).collect())
    }
}

/// Why a check did not pass: a catalog entry and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Reason {
    pub code: &'static Code,
    pub params: Vec<(&'static str, Param)>,
}

impl Reason {
    pub fn new(code: &'static Code) -> Reason {
        Reason {
            code,
            params: Vec::new(),
        }
    }

    /// Adds parameter `name`.
    pub fn with(mut self, name: &'static str, value: impl Into<Param>) -> Reason {
        self.params.push((name, value.into()));
        self
    }

    /// Adds parameter `name` when there is a value.
    pub fn with_opt(self, name: &'static str, value: Option<impl Into<Param>>) -> Reason {
        match value {
            Some(v) => self.with(name, v),
            None => self,
        }
    }

    /// Adds a quantity in `unit`.
    pub fn with_quantity(self, name: &'static str, value: f64, unit: Unit) -> Reason {
        self.with(name, Param::Quantity(value, unit))
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, p)| p)
    }

    /// Rewrites every text parameter (nested ones too) with `f`: secret
    /// redaction.
    pub fn map_text(&mut self, f: &dyn Fn(&str) -> String) {
        fn param(p: &mut Param, f: &dyn Fn(&str) -> String) {
            match p {
                Param::Text(t) => *t = f(t),
                Param::List(l) => l.iter_mut().for_each(|p| param(p, f)),
                Param::Reason(r) => r.map_text(f),
                Param::Int(_) | Param::Quantity(..) | Param::Bool(_) => {}
            }
        }
        self.params.iter_mut().for_each(|(_, p)| param(p, f));
    }

    /// `{"code": "http.status", "params": {"got": 503, "want": [200]}}`.
    pub fn json(&self) -> Value {
        let mut params = Map::new();
        for (n, p) in &self.params {
            params.insert((*n).to_owned(), p.json());
        }
        json!({"code": self.code.code, "params": params})
    }
}

/// One `-v` detail line of a result: either a fact in the catalog's words
/// (a [`Code::detail`] entry and its parameters, said by the presentation
/// layer like a reason) or data quoted exactly as observed (a log line, a
/// command's output line), which no language changes.
#[derive(Clone, Debug, PartialEq)]
pub enum Detail {
    Said(Reason),
    Raw(String),
}

impl Detail {
    /// Observed data, quoted verbatim.
    pub fn raw(text: impl Into<String>) -> Detail {
        Detail::Raw(text.into())
    }

    /// The line in the installed words (see [`say`]).
    pub fn text(&self) -> String {
        match self {
            Detail::Said(r) => say(r),
            Detail::Raw(t) => t.clone(),
        }
    }

    /// Rewrites the quoted text and every text parameter with `f`.
    pub fn map_text(&mut self, f: &dyn Fn(&str) -> String) {
        match self {
            Detail::Said(r) => r.map_text(f),
            Detail::Raw(t) => *t = f(t),
        }
    }
}

impl From<Reason> for Detail {
    fn from(r: Reason) -> Detail {
        Detail::Said(r)
    }
}

/// Text handed over as a detail is quoted as is: what a workflow step
/// observed (its output, a path it wrote). A sentence of opsrun's own is a
/// `Reason` with a `Code::detail` entry instead.
impl From<String> for Detail {
    fn from(t: String) -> Detail {
        Detail::Raw(t)
    }
}

/// How reasons read: installed once at start-up by the presentation layer
/// (`output::words`), the way `log::set_logger` installs a logger — the
/// layers below produce reasons and call [`say`] without knowing the
/// language, and no layer imports from above.
pub type Words = fn(&Reason) -> String;

static WORDS: OnceLock<Words> = OnceLock::new();

/// Installs the words for [`say`]; the first call wins.
pub fn install_words(words: Words) {
    let _ = WORDS.set(words);
}

static WORDS_JA: OnceLock<Words> = OnceLock::new();

/// Installs the Japanese words for [`say_ja`]; the first call wins.
pub fn install_words_ja(words: Words) {
    let _ = WORDS_JA.set(words);
}

/// The reason in the installed words; without any installed (a library
/// user, a unit test), the code and its parameters.
pub fn say(r: &Reason) -> String {
    match WORDS.get() {
        Some(w) => w(r),
        None => bare(r),
    }
}

/// The reason in Japanese, for the Japanese documents (report, checklist,
/// 障害報告, mail), whatever `--lang` the run's messages use.
pub fn say_ja(r: &Reason) -> String {
    match WORDS_JA.get() {
        Some(w) => w(r),
        None => bare(r),
    }
}

/// A value entry with no parameters, in the installed words.
pub fn said(code: &'static Code) -> String {
    say(&Reason::new(code))
}

/// Reasons in Japanese, each once, joined by 、 (the Japanese `message`).
pub fn message_ja(reasons: &[Reason]) -> String {
    let mut words: Vec<String> = Vec::new();
    for r in reasons {
        let w = say_ja(r);
        if !words.contains(&w) {
            words.push(w);
        }
    }
    words.join("、")
}

fn bare(r: &Reason) -> String {
    let params: Vec<String> = r
        .params
        .iter()
        .map(|(n, p)| format!("{n}={}", p.json()))
        .collect();
    // A value or detail entry has no code of its own: its key says which.
    let name = if r.code.is_value() || r.code.is_detail() {
        r.code.key
    } else {
        r.code.code
    };
    format!("{name} {{{}}}", params.join(", "))
}

/// Catalog entries every kind may use.
pub mod common {
    use super::Code;

    /// The engine stopped a check that overran its timeout.
    pub static TIMEOUT: Code = Code::new("timeout", "timed out after {after}");
    /// A metric breached its threshold; `subject` is how the kind names the
    /// measured value (`disk / 91.2% used`), `window` what it was counted
    /// over, when the kind says.
    pub static THRESHOLD: Code =
        Code::new("threshold", "{subject} {op} {level} {limit}[ ({window})]");
    /// A run stopped before the check finished.
    pub static INTERRUPTED: Code = Code::new("interrupted", "interrupted");
    /// The check was not selected (`--only`, `--skip`, `--tag`).
    pub static NOT_ONLY: Code = Code::variant("skip.only", "skipped", "not selected by --only");
    pub static SKIPPED: Code = Code::variant("skip.skip", "skipped", "skipped by --skip");
    pub static NOT_TAGGED: Code = Code::variant("skip.tag", "skipped", "not selected by --tag");
    /// The check's task ended without a result (a bug, reported not hidden).
    pub static UNFINISHED: Code = Code::new("unfinished", "check did not finish");
    /// A non-pass result inside a maintenance window (`maint`).
    pub static MAINTENANCE: Code =
        Code::new("maintenance", "maintenance until {until}[: {reason}]");
    /// `consecutive: N`: a non-pass result held back until N in a row.
    pub static PENDING: Code =
        Code::new("pending", "{status} {seen}/{of} in a row, not counted yet");

    /// `change: {vs, warn, fail}`: the headline metric's relative change
    /// against an earlier sample breached a limit. `change` is the change
    /// as words (`+25.3%`), `pct` the same number; `op` is given only when
    /// the limit was written with one (`"<= -20%"`). One entry per way of
    /// naming the distance (前日比, 前週比, 前月比, 前回比, N日前比).
    pub static CHANGE_DAY: Code = Code::variant(
        "change.day",
        "change",
        "{change} vs a day ago ({level}[ {op}] {limit})",
    );
    pub static CHANGE_WEEK: Code = Code::variant(
        "change.week",
        "change",
        "{change} vs a week ago ({level}[ {op}] {limit})",
    );
    pub static CHANGE_MONTH: Code = Code::variant(
        "change.month",
        "change",
        "{change} vs a month ago ({level}[ {op}] {limit})",
    );
    pub static CHANGE_PREVIOUS: Code = Code::variant(
        "change.previous",
        "change",
        "{change} vs the previous result ({level}[ {op}] {limit})",
    );
    pub static CHANGE_AGO: Code = Code::variant(
        "change.ago",
        "change",
        "{change} vs {ago} ago ({level}[ {op}] {limit})",
    );
    /// `-v` lines of `change:`: what was compared, or why nothing was.
    pub static CHANGE_COMPARED: Code = Code::detail(
        "change.detail.compared",
        "change: {then} at {at} → {now} now ({change})",
    );
    pub static CHANGE_NO_SAMPLE: Code = Code::detail(
        "change.detail.no_sample",
        "change: no sample about {ago} ago to compare with, not judged",
    );
    pub static CHANGE_NO_PREVIOUS: Code = Code::detail(
        "change.detail.no_previous",
        "change: no earlier result to compare with, not judged",
    );
    pub static CHANGE_FROM_ZERO: Code = Code::detail(
        "change.detail.from_zero",
        "change: the value at {at} was 0, so there is no relative change ({now} now), not judged",
    );
    pub static CHANGE_NO_METRIC: Code = Code::detail(
        "change.detail.no_metric",
        "change: no value was measured, not judged",
    );

    /// Detail lines the engine adds: retries, `severity: warn`.
    pub static RETRY_PASSED: Code =
        Code::detail("retry.passed", "passed after {attempts} attempts");
    pub static RETRY_STILL: Code =
        Code::detail("retry.still", "still {status} after {attempts} attempts");
    pub static SEVERITY_WARN: Code =
        Code::detail("severity.warn", "failure counted as warn (severity: warn)");

    /// Display values every kind may show.
    pub static V_TIMEOUT: Code = Code::value("value.timeout", "timeout");
    pub static V_MISSING: Code = Code::value("value.missing", "missing");
    pub static V_NONE: Code = Code::value("value.none", "none");
    pub static V_INCOMPLETE: Code = Code::value("value.incomplete", "incomplete");

    /// Every common entry (docs/reasons.md lists them).
    pub static CODES: &[&Code] = &[
        &V_TIMEOUT,
        &V_MISSING,
        &V_NONE,
        &V_INCOMPLETE,
        &RETRY_PASSED,
        &RETRY_STILL,
        &SEVERITY_WARN,
        &TIMEOUT,
        &THRESHOLD,
        &INTERRUPTED,
        &NOT_ONLY,
        &SKIPPED,
        &NOT_TAGGED,
        &UNFINISHED,
        &PENDING,
        &MAINTENANCE,
        &CHANGE_DAY,
        &CHANGE_WEEK,
        &CHANGE_MONTH,
        &CHANGE_PREVIOUS,
        &CHANGE_AGO,
        &CHANGE_COMPARED,
        &CHANGE_NO_SAMPLE,
        &CHANGE_NO_PREVIOUS,
        &CHANGE_FROM_ZERO,
        &CHANGE_NO_METRIC,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    static C: Code = Code::new("x.y", "{a}");

    #[test]
    fn json_shape() {
        let r = Reason::new(&C)
            .with("got", 503u16)
            .with("want", vec![200u16])
            .with_quantity("after", 5000.0, Unit::Millis);
        assert_eq!(
            r.json(),
            json!({"code": "x.y", "params": {"got": 503, "want": [200], "after": 5000.0}})
        );
        assert_eq!(r.param("got"), Some(&Param::Int(503)));
    }
}
