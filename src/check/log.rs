//! `log`: count the lines of a log file (or a glob of rotated files, `.gz`
//! included) that match a regex, optionally only within a time window read
//! from the lines' own timestamps. Replaces the seeds'
//! `sudo tail -1000 /var/log/httpd/error_log | grep -i error` — without the
//! arbitrary 1000 lines: the window is real time.
//!
//! Lines without a timestamp (a stack trace under an error) belong to the
//! last timestamped line above them; lines before the first timestamp of a
//! file cannot be placed in time and are left out of a window.
//!
//! `value: {regex, unit}` reads a number out of each matching line (the
//! group named `v`, else the first group, else the whole match) and
//! `metrics: {count, avg, p50, p95, p99, max, sum}` holds what they add up
//! to, percentiles exact by nearest rank (`histogram::Values`). A line
//! that matches but whose value does not parse is counted (`count`) and
//! said in `-v`, never a value; without `pattern`, the value's regex is
//! what selects the lines. With no value at all, `sum` is 0 and the others
//! are not evaluated (pass, with a `-v` note): nothing happened. Matching
//! lines none of which gave a value is `unknown` (`log.no_value`): the
//! regex, not the log, is most likely wrong.
//!
//! `format: json` reads JSON lines: `pattern`, `value` and `classify` look
//! at the string in `message_field` [message] (a number or boolean there
//! as written), `since` at `timestamp_field` [timestamp] (text in any of
//! the `timestamp:` formats, or epoch seconds — milliseconds from 10^11 up).
//! Each JSON line stands alone: one without a timestamp is left out of a
//! window. A line that is not a JSON object is counted as malformed and
//! skipped (a `-v` line with the first one); a file of nothing else is
//! `unknown` (`log.not_json`), most likely not a JSON log.

use std::path::PathBuf;

use serde::Deserialize;

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::histogram::Values;
use super::logscan::{
    self, Classify, LogFile, ReadStats, ScanError, Span, Stop, Tally, TsFormat, TsParser, Window,
};
use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, Overran, sections};
use crate::values::reason::{Code, Reason};
use crate::values::threshold::{Direction, ScalarText, Threshold, parse_limit};
use crate::values::units::Unit;

/// The reason catalog entries of `log` (docs/reasons.md); reading the
/// files says `logfile.*` (`logscan::CODES`).
/// Display values (`Code::value`).
static V_MATCH: Code = Code::value("value.log.match", "1 match");
static V_MATCHES: Code = Code::value("value.log.matches", "{count} matches");

pub(crate) static CODES: &[&Code] = &[
    &V_MATCH,
    &V_MATCHES,
    &TIMEOUT,
    &NO_TIMESTAMP,
    &SCAN_FAILED,
    &D_READ,
    &D_WINDOW,
    &D_UNDATED,
    &D_LAST,
    &NO_VALUE,
    &NOT_JSON,
    &D_VALUES,
    &D_UNPARSED,
    &D_MALFORMED,
    &D_NOT_EVALUATED,
    &D_UNDATED_JSON,
];

// Detail lines (`-v`).
static D_READ: Code = Code::detail("log.detail.read", "{files}: {read} read, {lines} lines");
static D_WINDOW: Code = Code::detail(
    "log.detail.window",
    "window {window}: from {from} to {to} (timestamps: {format})",
);
static D_UNDATED: Code = Code::detail(
    "log.detail.undated",
    "{count} line(s) before the first timestamp of their file, not counted",
);
static D_LAST: Code = Code::detail("log.detail.last", "last match ([{at} ]{file}): {line}");

static TIMEOUT: Code = Code::variant(
    "log.timeout",
    "timeout",
    "timed out after {after} reading {path} ({count} matches so far)",
);
static NO_TIMESTAMP: Code = Code::new(
    "log.no_timestamp",
    "no timestamp ({format}) found in {path}: cannot apply since {since}",
);
static SCAN_FAILED: Code = Code::new("log.scan_failed", "log scan failed");
static NO_VALUE: Code = Code::new(
    "log.no_value",
    "{count} matching line(s) in {path}, but /{regex}/ read no number from any (first: {first})",
);
static NOT_JSON: Code = Code::new(
    "log.not_json",
    "no line of {path} is a JSON object ({malformed} malformed, first: {first})",
);
static D_VALUES: Code = Code::detail(
    "log.detail.values",
    "{values} value(s): avg {avg}, p50 {p50}, p95 {p95}, p99 {p99}, max {max}, sum {sum}",
);
static D_UNPARSED: Code = Code::detail(
    "log.detail.unparsed",
    "{count} matching line(s) gave no number, first: {first}",
);
static D_MALFORMED: Code = Code::detail(
    "log.detail.malformed",
    "{count} line(s) not a JSON object, skipped, first: {first}",
);
static D_UNDATED_JSON: Code = Code::detail(
    "log.detail.undated_json",
    "{count} JSON line(s) without a time in `{field}`, not counted",
);
static D_NOT_EVALUATED: Code = Code::detail(
    "log.detail.not_evaluated",
    "{metric}: no values, not evaluated",
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// A file or a glob (`/var/log/httpd/error_log*`).
    path: String,
    /// Lines to count; every line when absent. `(?i)` for case-insensitive.
    #[serde(default, with = "logscan::opt_bytes_regex")]
    pattern: Option<regex::bytes::Regex>,
    /// Only lines whose timestamp is in this window (default: whole files).
    since: Option<Window>,
    /// How timestamps are written [auto].
    #[serde(default = "auto")]
    timestamp: TsFormat,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::count")]
    count: Option<Threshold>,
    #[serde(default)]
    classify: Classify,
    /// A number read from each matching line.
    value: Option<ValueSpec>,
    #[serde(default)]
    metrics: MetricSpecs,
    #[serde(default)]
    format: LineFormat,
    /// JSON lines: the field holding the time [timestamp].
    timestamp_field: Option<String>,
    /// JSON lines: the field holding the text [message].
    message_field: Option<String>,
}

fn auto() -> TsFormat {
    TsFormat::Auto
}

/// `format:` — plain lines, or one JSON object per line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum LineFormat {
    #[default]
    Text,
    Json,
}

impl<'de> Deserialize<'de> for LineFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LineFormat, D::Error> {
        match String::deserialize(d)?.as_str() {
            "text" => Ok(LineFormat::Text),
            "json" => Ok(LineFormat::Json),
            other => Err(de::Error::custom(format!(
                "unknown format `{other}`: expected text or json"
            ))),
        }
    }
}

/// `value: {regex: 'duration: (?P<v>[0-9.]+) ms', unit: ms}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValueSpec {
    #[serde(with = "logscan::opt_bytes_regex")]
    regex: Option<regex::bytes::Regex>,
    #[serde(default)]
    unit: ValueUnit,
}

impl ValueSpec {
    /// The capture group holding the number: `v`, else the first, else
    /// the whole match (0).
    fn group(&self) -> usize {
        let Some(re) = &self.regex else { return 0 };
        re.capture_names()
            .position(|n| n == Some("v"))
            .unwrap_or(if re.captures_len() > 1 { 1 } else { 0 })
    }
}

/// The unit of the numbers read: times become milliseconds (thresholds are
/// durations: `500ms`, `2s`, `5m`), the rest keep their value.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum ValueUnit {
    Ms,
    S,
    Us,
    Percent,
    Bytes,
    Count,
    #[default]
    Number,
}

impl ValueUnit {
    fn unit(self) -> Unit {
        match self {
            ValueUnit::Ms | ValueUnit::S | ValueUnit::Us => Unit::Millis,
            ValueUnit::Percent => Unit::Percent,
            ValueUnit::Bytes => Unit::Bytes,
            ValueUnit::Count => Unit::Count,
            ValueUnit::Number => Unit::Number,
        }
    }

    /// What one unit read is in the metric's unit.
    fn factor(self) -> f64 {
        match self {
            ValueUnit::S => 1000.0,
            ValueUnit::Us => 0.001,
            _ => 1.0,
        }
    }
}

impl<'de> Deserialize<'de> for ValueUnit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ValueUnit, D::Error> {
        Ok(match String::deserialize(d)?.as_str() {
            "ms" => ValueUnit::Ms,
            "s" => ValueUnit::S,
            "us" | "µs" => ValueUnit::Us,
            "%" => ValueUnit::Percent,
            "B" => ValueUnit::Bytes,
            "count" | "件" => ValueUnit::Count,
            "" | "number" => ValueUnit::Number,
            other => {
                return Err(de::Error::custom(format!(
                    "unknown unit `{other}`: expected ms, s, us, %, B, count (件), or none for a plain number"
                )));
            }
        })
    }
}

/// The metrics of `metrics:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Name {
    Count,
    Avg,
    P50,
    P95,
    P99,
    Max,
    Sum,
}

const ALL: [Name; 7] = [
    Name::Count,
    Name::Avg,
    Name::P50,
    Name::P95,
    Name::P99,
    Name::Max,
    Name::Sum,
];

impl Name {
    fn as_str(self) -> &'static str {
        match self {
            Name::Count => "count",
            Name::Avg => "avg",
            Name::P50 => "p50",
            Name::P95 => "p95",
            Name::P99 => "p99",
            Name::Max => "max",
            Name::Sum => "sum",
        }
    }
}

/// A limit as written, with where it was written.
type Written = (String, (u64, u64));

/// `{warn, fail}` of one metric kept as written: its unit is the value's
/// (`value.unit`), which serde may meet after `metrics:`, so the limits are
/// read when the check is (`Log::thresholds`).
#[derive(Clone, Debug, Default)]
struct RawLimits {
    warn: Option<Written>,
    fail: Option<Written>,
}

/// `metrics: {p95: {warn: 100ms, fail: 500ms}, count: {}}`, in the order
/// written: the first is the headline.
#[derive(Debug, Default)]
struct MetricSpecs(Vec<(Name, RawLimits)>);

struct LimitText(String);

impl<'de> Deserialize<'de> for LimitText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LimitText, D::Error> {
        d.deserialize_any(ScalarText).map(LimitText)
    }
}

impl<'de> Deserialize<'de> for RawLimits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawLimits, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawLimits;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a threshold like {warn: X, fail: Y}, or {} to measure without limits")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawLimits, E> {
                Ok(RawLimits::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<RawLimits, E> {
                Ok(RawLimits::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawLimits, A::Error> {
                let mut r = RawLimits::default();
                while let Some(key) = map.next_key::<serde_saphyr::Spanned<String>>()? {
                    let v = match key.value.as_str() {
                        "warn" | "fail" => map.next_value::<serde_saphyr::Spanned<LimitText>>()?,
                        other => {
                            let msg = crate::suggest::unknown_key(other, &["warn", "fail"]);
                            return Err(de::Error::custom(crate::values::at(
                                key.referenced.line(),
                                key.referenced.column(),
                                &msg,
                            )));
                        }
                    };
                    let w = (v.value.0, (v.referenced.line(), v.referenced.column()));
                    if key.value == "warn" {
                        r.warn = Some(w);
                    } else {
                        r.fail = Some(w);
                    }
                }
                Ok(r)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for MetricSpecs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MetricSpecs, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MetricSpecs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of metric to threshold, like {p95: {warn: 100ms, fail: 500ms}, count: {}}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MetricSpecs, A::Error> {
                logscan::metric_map(&mut map, &ALL, Name::as_str, |m, _| {
                    m.next_value::<RawLimits>()
                })
                .map(MetricSpecs)
            }
        }
        d.deserialize_map(V)
    }
}

impl Kind for Log {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }
    fn section(&self) -> &'static str {
        sections::LOGS
    }
    fn target(&self) -> String {
        match &self.pattern {
            Some(p) => format!("{} /{}/", self.path, p.as_str()),
            None => self.path.clone(),
        }
    }
    fn validate(&self) -> Result<(), String> {
        if self.since == Some(Window::All) {
            return Err(
                "`since: all` is the default: leave `since` out to read whole files".into(),
            );
        }
        if self.format != LineFormat::Json {
            for (field, set) in [
                ("timestamp_field", self.timestamp_field.is_some()),
                ("message_field", self.message_field.is_some()),
            ] {
                if set {
                    return Err(format!("`{field}` is for `format: json`"));
                }
            }
        }
        if self.value.is_none()
            && let Some((n, _)) = self.metrics.0.iter().find(|(n, _)| *n != Name::Count)
        {
            return Err(format!(
                "metric `{}` needs `value: {{regex, unit}}` to read a number from each line",
                n.as_str()
            ));
        }
        if self.count.is_some() && self.metrics.0.iter().any(|(n, _)| *n == Name::Count) {
            return Err("`count` is given twice: as `count:` and in `metrics:`; keep one".into());
        }
        self.thresholds().map(|_| ())
    }
}

/// What one pass found.
struct Found {
    count: u64,
    /// The newest matching line, with its file and time.
    last: Option<(PathBuf, Option<i64>, String)>,
    tally: Tally,
    stats: ReadStats,
    /// Lines that could not be placed in time (no timestamp above them).
    undated: u64,
    files: Vec<PathBuf>,
    skipped_old: usize,
    error: Option<ScanError>,
    format_seen: Option<TsFormat>,
    /// The numbers `value:` read, in the metric's unit.
    values: Values,
    /// Matching lines that gave no number, and the first of them.
    unparsed: u64,
    first_unparsed: Option<String>,
    /// JSON lines that are not an object, and the first of them.
    malformed: u64,
    first_malformed: Option<String>,
    /// Some JSON line had a time in its timestamp field.
    json_dated: bool,
}

/// `value:` as the scan uses it.
struct Extract {
    regex: regex::bytes::Regex,
    group: usize,
    factor: f64,
}

impl Extract {
    /// `None`: the regex does not match; `Some(None)`: it matches but the
    /// group is not a number.
    fn read(&self, text: &[u8]) -> Option<Option<f64>> {
        let c = self.regex.captures(text)?;
        let raw = c.get(self.group).or_else(|| c.get(0))?.as_bytes();
        let n = std::str::from_utf8(raw)
            .ok()
            .map(|t| t.trim().replace(',', ""))
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|v| v.is_finite());
        Some(n.map(|v| v * self.factor))
    }
}

/// `format: json`'s fields.
struct JsonFields {
    timestamp: String,
    message: String,
}

/// The scan's configuration, moved to the blocking thread.
struct Job {
    pattern: Option<regex::bytes::Regex>,
    classify: Classify,
    timestamp: TsFormat,
    span: Option<Span>,
    value: Option<Extract>,
    json: Option<JsonFields>,
}

impl Log {
    /// Each metric of `metrics:` with its limits read in its unit
    /// (`count` in counts, the others in the value's unit); a limit that
    /// does not read, or a warn that can never fire, is a load error.
    fn thresholds(&self) -> Result<Vec<(Name, Threshold)>, String> {
        let value_unit = self.value.as_ref().map_or(Unit::Number, |v| v.unit.unit());
        self.metrics
            .0
            .iter()
            .map(|(n, raw)| {
                let unit = if *n == Name::Count {
                    Unit::Count
                } else {
                    value_unit
                };
                let read = |w: &Option<Written>| -> Result<_, String> {
                    w.as_ref()
                        .map(|(t, _)| {
                            parse_limit(t, unit).map_err(|e| format!("metrics.{}: {e}", n.as_str()))
                        })
                        .transpose()
                };
                let th = Threshold::of_limits(unit, read(&raw.warn)?, read(&raw.fail)?);
                if let Some(msg) = th.unreachable_warn(Direction::HigherIsWorse) {
                    return Err(format!("metrics.{}: {msg}", n.as_str()));
                }
                Ok((*n, th))
            })
            .collect()
    }

    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let pattern = ctx.path(&self.path);
        let files = logscan::expand(&pattern).map_err(Failure::unknown)?;
        let job = Job {
            pattern: self.pattern.clone(),
            classify: self.classify.clone(),
            timestamp: self.timestamp,
            span: self.since.map(|w| w.span(ctx.now)),
            value: self.value.as_ref().and_then(|v| {
                Some(Extract {
                    regex: v.regex.clone()?,
                    group: v.group(),
                    factor: v.unit.factor(),
                })
            }),
            json: (self.format == LineFormat::Json).then(|| JsonFields {
                timestamp: self.timestamp_field(),
                message: self
                    .message_field
                    .clone()
                    .unwrap_or_else(|| "message".into()),
            }),
        };
        let now = ctx.now;
        let Some(found) = logscan::blocking(ctx, move |stop| scan(files, job, now, &stop)).await
        else {
            return Err(Failure::unknown(Reason::new(&SCAN_FAILED)));
        };
        self.measure(ctx, found)
    }

    fn timestamp_field(&self) -> String {
        self.timestamp_field
            .clone()
            .unwrap_or_else(|| "timestamp".into())
    }

    fn measure(&self, ctx: &Ctx, f: Found) -> Result<Measurement, Failure> {
        let off = *ctx.now.offset();
        let what = self.since.unwrap_or(Window::All).phrase();
        let mut detail = Vec::new();
        let files: Vec<String> = f.files.iter().map(|p| p.display().to_string()).collect();
        detail.push(
            Reason::new(&D_READ)
                .with(
                    "files",
                    if files.is_empty() {
                        vec![self.path.clone()]
                    } else {
                        files
                    },
                )
                .with_quantity("read", f.stats.bytes as f64, Unit::Bytes)
                .with("lines", f.stats.lines)
                .into(),
        );
        let ts_name = match self.format {
            LineFormat::Json => format!("json {}", self.timestamp_field()),
            LineFormat::Text => f.format_seen.unwrap_or(self.timestamp).name().to_owned(),
        };
        if let Some(mut span) = self.since.map(|w| w.span(ctx.now)) {
            let from = span
                .local_start()
                .map(|t| logscan::show_time(t, off))
                .unwrap_or_default();
            detail.push(
                Reason::new(&D_WINDOW)
                    .with(
                        "window",
                        self.since.map(|w| w.describe()).unwrap_or_default(),
                    )
                    .with("from", from)
                    .with("to", logscan::show_time(span.end(), off))
                    .with("format", ts_name.as_str())
                    .into(),
            );
            if f.undated > 0 {
                detail.push(match self.format {
                    LineFormat::Text => Reason::new(&D_UNDATED).with("count", f.undated).into(),
                    LineFormat::Json => Reason::new(&D_UNDATED_JSON)
                        .with("count", f.undated)
                        .with("field", self.timestamp_field())
                        .into(),
                });
            }
        }
        if f.skipped_old > 0 {
            detail.push(logscan::old_skipped(f.skipped_old));
        }
        if f.malformed > 0 {
            detail.push(
                Reason::new(&D_MALFORMED)
                    .with("count", f.malformed)
                    .with("first", f.first_malformed.clone().unwrap_or_default())
                    .into(),
            );
        }
        detail.extend(f.tally.detail(&self.classify));
        if let Some((file, t, line)) = &f.last {
            detail.push(
                Reason::new(&D_LAST)
                    .with_opt("at", t.map(|t| logscan::show_time(t, off)))
                    .with("file", file.display().to_string())
                    .with("line", line)
                    .into(),
            );
        }
        if f.stats.vanished > 0 {
            detail.push(logscan::vanished(f.stats.vanished));
        }
        if f.stats.overlong > 0 {
            detail.push(logscan::overlong(f.stats.overlong));
        }
        if let Some(e) = &f.error {
            let failure = match e.reason() {
                Some(r) => Failure::unknown(r),
                None => Failure::fail(
                    Overran {
                        after: ctx.deadline.budget(),
                    }
                    .reason(&TIMEOUT)
                    .with("path", &self.path)
                    .with("count", f.count),
                ),
            };
            return Err(Failure {
                detail,
                ..failure.shown(crate::values::reason::said(
                    &crate::values::reason::common::V_INCOMPLETE,
                ))
            });
        }
        if self.format == LineFormat::Json && f.stats.lines > 0 && f.malformed == f.stats.lines {
            // Most likely not a JSON log: a count of 0 would be a lie.
            return Err(Failure {
                detail,
                ..Failure::unknown(
                    Reason::new(&NOT_JSON)
                        .with("path", &self.path)
                        .with("malformed", f.malformed)
                        .with("first", f.first_malformed.clone().unwrap_or_default()),
                )
            });
        }
        let dated = match self.format {
            LineFormat::Json => f.json_dated,
            LineFormat::Text => f.format_seen.is_some(),
        };
        if self.since.is_some() && f.stats.lines > f.malformed && !dated {
            // The window cannot be applied: a count of 0 would be a lie.
            return Err(Failure {
                detail,
                ..Failure::unknown(
                    Reason::new(&NO_TIMESTAMP)
                        .with(
                            "format",
                            match self.format {
                                LineFormat::Json => ts_name.clone(),
                                LineFormat::Text => self.timestamp.name().to_owned(),
                            },
                        )
                        .with("path", &self.path)
                        .with(
                            "since",
                            self.since.map(|w| w.describe()).unwrap_or_default(),
                        ),
                )
            });
        }
        let thresholds = self.thresholds().map_err(|_| {
            // Refused at load time (`validate`); not reached.
            Failure::unknown(Reason::new(&SCAN_FAILED))
        })?;
        let values = self.value.as_ref().map(|v| (v, &f.values));
        if let Some((v, vals)) = values {
            if f.unparsed > 0 {
                detail.push(
                    Reason::new(&D_UNPARSED)
                        .with("count", f.unparsed)
                        .with("first", f.first_unparsed.clone().unwrap_or_default())
                        .into(),
                );
            }
            if f.count > 0 && vals.count() == 0 {
                return Err(Failure {
                    detail,
                    ..Failure::unknown(
                        Reason::new(&NO_VALUE)
                            .with("count", f.count)
                            .with("path", &self.path)
                            .with("regex", v.regex.as_ref().map(|r| r.as_str()).unwrap_or(""))
                            .with("first", f.first_unparsed.clone().unwrap_or_default()),
                    )
                });
            }
        }
        let unit = self.value.as_ref().map_or(Unit::Number, |v| v.unit.unit());
        let pct = f.values.percentiles(&[50, 95, 99]);
        let value_of = |n: Name| -> Option<f64> {
            match n {
                Name::Count => Some(f.count as f64),
                _ if self.value.is_none() => None,
                Name::Sum => Some(f.values.sum()),
                Name::Avg => f.values.mean(),
                Name::P50 => pct[0],
                Name::P95 => pct[1],
                Name::P99 => pct[2],
                Name::Max => f.values.max(),
            }
        };
        let show = |n: Name, v: f64| match n {
            Name::Count => crate::values::units::trim_float(v, 0),
            _ => unit.format(v),
        };
        if self.value.is_some() && f.values.count() > 0 {
            let said = |n: Name| value_of(n).map(|v| show(n, v)).unwrap_or_default();
            detail.push(
                Reason::new(&D_VALUES)
                    .with("values", f.values.count())
                    .with("avg", said(Name::Avg))
                    .with("p50", said(Name::P50))
                    .with("p95", said(Name::P95))
                    .with("p99", said(Name::P99))
                    .with("max", said(Name::Max))
                    .with("sum", said(Name::Sum))
                    .into(),
            );
        }

        // Without any threshold on the count, and no values to measure,
        // any match warns (the kind's first use: counting errors).
        let count_th = self.count.clone().or_else(|| {
            (self.value.is_none() && self.metrics.0.is_empty())
                .then(|| Threshold::new(Unit::Count, Some(1.0), None))
        });
        let pat = self
            .pattern
            .as_ref()
            .map(|p| format!(" /{}/", p.as_str()))
            .unwrap_or_default();
        let matches = logscan::counted(f.count, &V_MATCH, &V_MATCHES);
        let headline = thresholds.first().map_or(Name::Count, |(n, _)| *n);
        let mut shown = vec![matches.clone()];
        for n in [Name::Avg, Name::P95, Name::Max] {
            if let Some(v) = value_of(n).filter(|_| f.values.count() > 0) {
                shown.push(format!("{} {}", n.as_str(), show(n, v)));
            }
        }
        if !matches!(headline, Name::Count | Name::Avg | Name::P95 | Name::Max)
            && let Some(v) = value_of(headline).filter(|_| f.values.count() > 0)
        {
            shown.push(format!("{} {}", headline.as_str(), show(headline, v)));
        }
        let mut m = Measurement::new(shown.join(", "));
        let mut order = vec![headline];
        order.extend(ALL.iter().copied().filter(|n| *n != headline));
        for n in order {
            // Percentiles, mean and max of no value at all are not a number.
            let Some(v) =
                value_of(n).filter(|_| n == Name::Count || n == Name::Sum || f.values.count() > 0)
            else {
                continue;
            };
            let metric_unit = if n == Name::Count { Unit::Count } else { unit };
            let mut metric = Metric::new(n.as_str(), v, metric_unit, Direction::HigherIsWorse);
            metric = if n == Name::Count {
                metric.says(format!("{}{pat}: {matches} {what}", self.path))
            } else {
                metric.says(format!("{}{pat}: {} {}", self.path, n.as_str(), show(n, v)))
            };
            // The count's words already say the window (`in the last 24h`).
            if let Some(w) = self.since.filter(|_| n != Name::Count) {
                metric = metric.over(w.describe());
            }
            let th = thresholds
                .iter()
                .find(|(c, _)| *c == n)
                .map(|(_, t)| t.clone())
                .or_else(|| (n == Name::Count).then(|| count_th.clone()).flatten());
            if let Some(th) = th {
                metric = metric.held_to(th);
            }
            m.metrics.push(metric);
        }
        for (n, _) in &thresholds {
            if !m.metrics.iter().any(|x| x.name == n.as_str()) {
                detail.push(
                    Reason::new(&D_NOT_EVALUATED)
                        .with("metric", n.as_str())
                        .into(),
                );
            }
        }
        m.detail = detail;
        Ok(m)
    }
}

/// A JSON line's time: text in the `timestamp:` formats, or epoch seconds
/// (milliseconds from 10^11 up: 10^11 s is the year 5138).
fn json_time(v: &serde_json::Value, ts: &mut TsParser) -> Option<(i64, i32)> {
    match v {
        serde_json::Value::String(s) => ts.parse(s.as_bytes()),
        serde_json::Value::Number(n) => {
            let x = n.as_f64()?;
            let secs = if x.abs() >= 1e11 { x / 1000.0 } else { x };
            secs.is_finite().then_some((secs.floor() as i64, 0))
        }
        _ => None,
    }
}

/// A JSON line's text: the message field's string, or a number or
/// boolean as written; empty when the line has none.
fn json_text(v: Option<&serde_json::Value>) -> Vec<u8> {
    match v {
        Some(serde_json::Value::String(s)) => s.as_bytes().to_vec(),
        Some(x @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
            x.to_string().into_bytes()
        }
        _ => Vec::new(),
    }
}

fn scan(
    files: Vec<LogFile>,
    job: Job,
    now: chrono::DateTime<chrono::FixedOffset>,
    stop: &Stop,
) -> Found {
    let mut f = Found {
        count: 0,
        last: None,
        tally: Tally::new(&job.classify),
        stats: ReadStats::default(),
        undated: 0,
        files: Vec::new(),
        skipped_old: 0,
        error: None,
        format_seen: None,
        values: Values::default(),
        unparsed: 0,
        first_unparsed: None,
        malformed: 0,
        first_malformed: None,
        json_dated: false,
    };
    let mut ts = TsParser::new(job.timestamp, now);
    let since = job.span.as_ref().and_then(Span::earliest_start);
    let windowed = job.span.is_some();
    let mut span = job.span;
    for file in files {
        if logscan::older_than(&file, since) {
            f.skipped_old += 1;
            continue;
        }
        ts.reset();
        // The time of the last timestamped line of this file.
        let mut current: Option<(i64, i32)> = None;
        let mut last_in_file: Option<Option<i64>> = None;
        let mut last_line = logscan::LastLine::default();
        let r = logscan::scan_file(&file.path, stop, &mut f.stats, |line| {
            let json_line;
            let (when, text): (Option<i64>, &[u8]) = if let Some(fields) = &job.json {
                if line.trim_ascii().is_empty() {
                    return;
                }
                let obj = match serde_json::from_slice::<serde_json::Value>(line) {
                    Ok(serde_json::Value::Object(o)) => o,
                    _ => {
                        f.malformed += 1;
                        if f.first_malformed.is_none() {
                            f.first_malformed = Some(logscan::show_line(line));
                        }
                        return;
                    }
                };
                let when = match span.as_mut() {
                    Some(span) => match obj
                        .get(&fields.timestamp)
                        .and_then(|v| json_time(v, &mut ts))
                    {
                        Some((t, off)) => {
                            f.json_dated = true;
                            if !span.contains(t, off) {
                                return;
                            }
                            Some(t)
                        }
                        None => {
                            f.undated += 1;
                            return;
                        }
                    },
                    None => None,
                };
                json_line = json_text(obj.get(&fields.message));
                (when, &json_line)
            } else if let Some(span) = span.as_mut() {
                if let Some(t) = ts.parse(line) {
                    current = Some(t);
                }
                match current {
                    Some((t, off)) => {
                        if !span.contains(t, off) {
                            return;
                        }
                        (Some(t), line)
                    }
                    None => {
                        f.undated += 1;
                        return;
                    }
                }
            } else {
                (None, line)
            };
            if let Some(p) = &job.pattern
                && !p.is_match(text)
            {
                return;
            }
            if let Some(x) = &job.value {
                match x.read(text) {
                    Some(Some(v)) => f.values.record(v),
                    // Without `pattern`, the value's regex picks the lines.
                    None if job.pattern.is_none() => return,
                    _ => {
                        f.unparsed += 1;
                        if f.first_unparsed.is_none() {
                            f.first_unparsed = Some(logscan::show_line(text));
                        }
                    }
                }
            }
            f.count += 1;
            f.tally.add(&job.classify, text, text);
            last_in_file = Some(when);
            last_line.set(line);
        });
        if let (Some(t), Some(l)) = (last_in_file, last_line.shown()) {
            f.last = Some((file.path.clone(), t, l));
        }
        if f.format_seen.is_none() && windowed {
            f.format_seen = ts.detected();
        }
        // `Ok(false)`: gone before it was read, counted in `stats.vanished`.
        if !matches!(r, Ok(false)) {
            f.files.push(file.path);
        }
        if let Err(e) = r {
            f.error = Some(e);
            break;
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::harness::{ctx_in, kind, run_in};
    use super::*;
    use crate::values::outcome::Status;
    use crate::values::reason::Param;

    #[tokio::test]
    async fn counts_reasons_and_thresholds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("app.log"),
            "ok\nERROR one\nok\nERROR two\nERROR three\n",
        )
        .unwrap();
        let ctx = || ctx_in(dir.path(), Duration::from_secs(10));

        // Without `count`, any match is held against warn 1.
        let l: Log = kind("path: app.log\npattern: ERROR").unwrap();
        let m = run_in(&l, &ctx()).await.unwrap();
        assert_eq!(m.value, "value.log.matches {count=3}");
        let c = &m.metrics[0];
        assert_eq!((c.name.as_str(), c.value), ("count", 3.0));
        let th = c.threshold.as_ref().unwrap();
        assert_eq!(th.warn.as_ref().map(|l| l.value), Some(1.0));
        assert_eq!(
            c.subject(),
            "app.log /ERROR/: value.log.matches {count=3} in whole file"
        );
        assert!(th.fail.is_none());

        let l: Log = kind("path: app.log\npattern: ERROR\ncount: {fail: 5}").unwrap();
        let m = run_in(&l, &ctx()).await.unwrap();
        let th = m.metrics[0].threshold.as_ref().unwrap();
        assert_eq!(th.fail.as_ref().map(|l| l.value), Some(5.0));
        assert!(th.warn.is_none());

        // A window needs timestamps: none found is unknown, not 0 matches.
        let l: Log = kind("path: app.log\nsince: 1h").unwrap();
        let f = run_in(&l, &ctx()).await.unwrap_err();
        assert_eq!(f.status, Status::Unknown);
        assert_eq!(f.reason.code.code, "log.no_timestamp");
        assert_eq!(f.reason.param("since"), Some(&"1h".into()));
        assert_eq!(f.reason.param("path"), Some(&"app.log".into()));

        // No file, a directory.
        let l: Log = kind("path: missing-*.log").unwrap();
        let f = run_in(&l, &ctx()).await.unwrap_err();
        assert_eq!(f.reason.code.code, "logfile.no_match");
        let l: Log = kind("path: .").unwrap();
        let f = run_in(&l, &ctx()).await.unwrap_err();
        assert_eq!(f.reason.code.code, "logfile.directory");

        // A deadline already passed: the scan stops at once, a timeout.
        let l: Log = kind("path: app.log").unwrap();
        let f = run_in(&l, &ctx_in(dir.path(), Duration::ZERO))
            .await
            .unwrap_err();
        assert_eq!(f.reason.code.code, "timeout");
        assert_eq!(
            f.reason.param("after"),
            Some(&Param::Quantity(0.0, Unit::Millis))
        );
        assert_eq!(f.value, "value.incomplete {}");
    }
}
