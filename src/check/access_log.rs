//! `access_log`: request counts, error rate and response-time percentiles
//! of a web server's access log, over a time window, in one streaming pass.
//! Replaces the seeds' `grep "$(date +%d/%b/%Y)" access_log | wc -l` and
//! `awk '{print $NF}' access_log | … sum/count` — exactly, and fast.
//!
//! The built-in formats are parsed by hand (no regex): the client is the
//! first field, the time is the bracketed CLF timestamp, the status follows
//! the quoted request line, and the response time is the last field. Lines
//! outside the window are dropped right after their timestamp is read, and
//! consecutive lines from the same second reuse the parsed time.
//! Percentiles come from an exact microsecond histogram (see `histogram.rs`).

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::histogram::Histogram;
use super::logscan::{self, LogFile, ReadStats, ScanError, Span, Stop, TsFormat, TsParser, Window};
use super::{Attempt, CheckFuture, Ctx, Failure, Kind, Measurement, Metric, Overran, sections};
use crate::values::reason::{Code, Detail, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, format_millis, trim_float};

/// The reason catalog entries of `access_log` (docs/reasons.md); reading
/// the files says `logfile.*` (`logscan::CODES`).
/// Display values (`Code::value`).
static V_REQUEST: Code = Code::value("value.access_log.request", "1 request");
static V_REQUESTS: Code = Code::value("value.access_log.requests", "{count} requests");

pub(crate) static CODES: &[&Code] = &[
    &V_REQUEST,
    &V_REQUESTS,
    &TIMEOUT,
    &NO_LINE_PARSED,
    &SCAN_FAILED,
    &D_READ,
    &D_WINDOW,
    &D_STATUSES,
    &D_TIMES,
    &D_MALFORMED,
    &D_NOT_EVALUATED,
];

// Detail lines (`-v`).
static D_READ: Code = Code::detail(
    "access_log.detail.read",
    "{files}: {read} read, {lines} lines, format {format}",
);
static D_WINDOW: Code = Code::detail(
    "access_log.detail.window",
    "window {window}: from {from} to {to} (in each line's own offset; {outside} lines outside)",
);
static D_STATUSES: Code = Code::detail(
    "access_log.detail.statuses",
    "5xx {e5}, 4xx {e4}, 401 {s401}, clients {clients}",
);
static D_TIMES: Code = Code::detail(
    "access_log.detail.times",
    "response time: avg {avg}, p50 {p50}, p95 {p95}, p99 {p99}, max {max} ({timed} timed)",
);
static D_MALFORMED: Code = Code::detail(
    "access_log.detail.malformed",
    "{count} malformed line(s) skipped, first: {first}",
);
static D_NOT_EVALUATED: Code = Code::detail(
    "access_log.detail.not_evaluated",
    "{metric}: no timed requests in the window, not evaluated",
);

static TIMEOUT: Code = Code::variant(
    "access_log.timeout",
    "timeout",
    "timed out after {after} reading {path} (counts so far: {counts})",
);
static NO_LINE_PARSED: Code = Code::new(
    "access_log.format",
    "no line of {path} is in format {format} ({malformed} malformed, first: {first})",
);
static SCAN_FAILED: Code = Code::new("access_log.scan_failed", "log scan failed");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLog {
    /// A file or a glob (`access_log*` takes the rotated ones too).
    path: String,
    #[serde(default)]
    format: Format,
    #[serde(default = "today")]
    window: Window,
    #[serde(default)]
    metrics: MetricSpecs,
}

fn today() -> Window {
    Window::Today
}

// ---------------------------------------------------------------------------
// Formats

/// `format:` — a built-in name, or a regex with named groups.
#[derive(Clone, Debug, Default)]
enum Format {
    /// combined + Apache `%D` (response time in µs) as the last field.
    #[default]
    CombinedD,
    Combined,
    Common,
    /// nginx combined + `$request_time` (seconds, ms resolution) last.
    NginxRt,
    Custom(Box<Custom>),
}

impl Format {
    fn name(&self) -> &'static str {
        match self {
            Format::CombinedD => "combined_d",
            Format::Combined => "combined",
            Format::Common => "common",
            Format::NginxRt => "nginx_rt",
            Format::Custom(_) => "regex",
        }
    }

    fn timed(&self) -> bool {
        match self {
            Format::CombinedD | Format::NginxRt => true,
            Format::Combined | Format::Common => false,
            Format::Custom(c) => c.dur.is_some(),
        }
    }

    fn has_client(&self) -> bool {
        match self {
            Format::Custom(c) => c.client.is_some(),
            _ => true,
        }
    }
}

/// A regex format: groups `status` (required), `time` (needed unless
/// `window: all`), `client`, and one of `us`/`ms`/`s` for the response time.
#[derive(Clone, Debug)]
struct Custom {
    re: regex::bytes::Regex,
    client: Option<usize>,
    time: Option<usize>,
    status: usize,
    /// Group index and how many µs one unit is.
    dur: Option<(usize, u64)>,
}

const FORMAT_EXPECTED: &str =
    "combined_d, combined, common, nginx_rt, or a regex with named groups like (?P<status>\\d{3})";

impl<'de> Deserialize<'de> for Format {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Format, D::Error> {
        let s = String::deserialize(d)?;
        Format::parse(&s).map_err(de::Error::custom)
    }
}

impl Format {
    fn parse(s: &str) -> Result<Format, String> {
        Ok(match s {
            "combined_d" => Format::CombinedD,
            "combined" => Format::Combined,
            "common" => Format::Common,
            "nginx_rt" => Format::NginxRt,
            _ if s.contains("(?P<") || s.contains("(?<") => {
                let re = logscan::bytes_regex(s)?;
                let idx = |n: &str| re.capture_names().position(|g| g == Some(n));
                let status = idx("status").ok_or_else(|| {
                    format!(
                        "format regex `{s}` has no `status` group: name it (?P<status>\\d{{3}})"
                    )
                })?;
                let durs: Vec<(usize, u64)> = [("us", 1), ("ms", 1000), ("s", 1_000_000)]
                    .into_iter()
                    .filter_map(|(n, scale)| idx(n).map(|i| (i, scale)))
                    .collect();
                if durs.len() > 1 {
                    return Err(format!(
                        "format regex `{s}` names more than one of the response-time groups us, ms, s"
                    ));
                }
                Format::Custom(Box::new(Custom {
                    client: idx("client"),
                    time: idx("time"),
                    status,
                    dur: durs.first().copied(),
                    re,
                }))
            }
            _ => return Err(format!("unknown format `{s}`: expected {FORMAT_EXPECTED}")),
        })
    }
}

// ---------------------------------------------------------------------------
// Metrics

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Name {
    Requests,
    Errors5xx,
    Errors4xx,
    Status401,
    ErrorRate,
    Avg,
    P95,
    P99,
    UniqueClients,
    Malformed,
}

const ALL: [Name; 10] = [
    Name::Requests,
    Name::Errors5xx,
    Name::Errors4xx,
    Name::Status401,
    Name::ErrorRate,
    Name::Avg,
    Name::P95,
    Name::P99,
    Name::UniqueClients,
    Name::Malformed,
];

impl Name {
    fn as_str(self) -> &'static str {
        match self {
            Name::Requests => "requests",
            Name::Errors5xx => "errors_5xx",
            Name::Errors4xx => "errors_4xx",
            Name::Status401 => "status_401",
            Name::ErrorRate => "error_rate",
            Name::Avg => "avg",
            Name::P95 => "p95",
            Name::P99 => "p99",
            Name::UniqueClients => "unique_clients",
            Name::Malformed => "malformed",
        }
    }

    fn unit(self) -> Unit {
        match self {
            Name::ErrorRate => Unit::Percent,
            Name::Avg | Name::P95 | Name::P99 => Unit::Millis,
            _ => Unit::Count,
        }
    }

    /// Fewer requests or clients than expected is the alarm (traffic
    /// dropped); for everything else more is worse.
    fn direction(self) -> Direction {
        match self {
            Name::Requests | Name::UniqueClients => Direction::LowerIsWorse,
            _ => Direction::HigherIsWorse,
        }
    }

    fn timed(self) -> bool {
        matches!(self, Name::Avg | Name::P95 | Name::P99)
    }

    fn show(self, v: f64) -> String {
        match self.unit() {
            Unit::Percent => format!("{}%", trim_float(v, 2)),
            Unit::Millis => format_millis(v),
            _ => trim_float(v, 0),
        }
    }
}

/// `metrics: {requests: {}, error_rate: {warn: 1%, fail: 5%}}`, in the
/// order written: the first is the headline.
#[derive(Debug, Default)]
struct MetricSpecs(Vec<(Name, Threshold)>);

impl<'de> Deserialize<'de> for MetricSpecs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MetricSpecs, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MetricSpecs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a mapping of metric to threshold, like {requests: {}, error_rate: {warn: 1%, fail: 5%}}",
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MetricSpecs, A::Error> {
                logscan::metric_map(&mut map, &ALL, Name::as_str, |m, n| {
                    m.next_value_seed(ThresholdOf(n.unit(), n.direction()))
                })
                .map(MetricSpecs)
            }
        }
        d.deserialize_map(V)
    }
}

struct ThresholdOf(Unit, Direction);

impl<'de> de::DeserializeSeed<'de> for ThresholdOf {
    type Value = Threshold;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Threshold, D::Error> {
        use crate::values::threshold as t;
        let th = match (self.0, self.1) {
            (Unit::Percent, Direction::HigherIsWorse) => t::hi::percent(d),
            (Unit::Percent, Direction::LowerIsWorse) => t::lo::percent(d),
            (Unit::Millis, Direction::HigherIsWorse) => t::hi::millis(d),
            (Unit::Millis, Direction::LowerIsWorse) => t::lo::millis(d),
            (_, Direction::HigherIsWorse) => t::hi::count(d),
            (_, Direction::LowerIsWorse) => t::lo::count(d),
        }?;
        Ok(th.unwrap_or_else(|| Threshold::new(self.0, None, None)))
    }
}

// ---------------------------------------------------------------------------
// The kind

impl Kind for AccessLog {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }
    fn section(&self) -> &'static str {
        sections::RESULTS
    }
    fn target(&self) -> String {
        format!(
            "{} ({}, {})",
            self.path,
            self.format.name(),
            self.window.describe()
        )
    }
    fn validate(&self) -> Result<(), String> {
        if let Format::Custom(c) = &self.format
            && c.time.is_none()
            && self.window != Window::All
        {
            return Err(format!(
                "window `{}` needs a `time` group in the format regex, or `window: all`",
                self.window.describe()
            ));
        }
        for (n, _) in &self.metrics.0 {
            if n.timed() && !self.format.timed() {
                return Err(format!(
                    "metric `{}` needs response times, and format `{}` has none: use combined_d (Apache %D), nginx_rt ($request_time) or a regex with a us/ms/s group",
                    n.as_str(),
                    self.format.name()
                ));
            }
            if *n == Name::UniqueClients && !self.format.has_client() {
                return Err(
                    "metric `unique_clients` needs a `client` group in the format regex".into(),
                );
            }
        }
        Ok(())
    }
}

/// What one pass over the files found.
#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    e5: u64,
    e4: u64,
    s401: u64,
    malformed: u64,
    outside: u64,
    hist: Histogram,
    clients: Clients,
    first_malformed: Option<String>,
}

impl Tally {
    #[cold]
    fn bad(&mut self, line: &[u8]) {
        self.malformed += 1;
        if self.first_malformed.is_none() {
            self.first_malformed = Some(logscan::show_line(line));
        }
    }

    #[inline]
    fn hit(&mut self, status: u16) {
        self.requests += 1;
        match status {
            500..=599 => self.e5 += 1,
            400..=499 => {
                self.e4 += 1;
                if status == 401 {
                    self.s401 += 1;
                }
            }
            _ => {}
        }
    }
}

struct Scanned {
    tally: Tally,
    stats: ReadStats,
    files: Vec<PathBuf>,
    skipped_old: usize,
    error: Option<ScanError>,
}

impl AccessLog {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let pattern = ctx.path(&self.path);
        let files = logscan::expand(&pattern).map_err(Failure::unknown)?;
        let format = self.format.clone();
        let span = self.window.span(ctx.now);
        let now = ctx.now;
        let Some(scanned) =
            logscan::blocking(ctx, move |stop| scan(files, format, span, now, &stop)).await
        else {
            return Err(Failure::unknown(Reason::new(&SCAN_FAILED)));
        };
        self.measure(ctx, scanned)
    }

    fn measure(&self, ctx: &Ctx, s: Scanned) -> Result<Measurement, Failure> {
        let t = &s.tally;
        let timed = self.format.timed() && t.hist.count() > 0;
        let pct = t.hist.percentiles(&[95, 99]);
        let value_of = |n: Name| -> Option<f64> {
            Some(match n {
                Name::Requests => t.requests as f64,
                Name::Errors5xx => t.e5 as f64,
                Name::Errors4xx => t.e4 as f64,
                Name::Status401 => t.s401 as f64,
                Name::ErrorRate => {
                    if t.requests == 0 {
                        0.0
                    } else {
                        t.e5 as f64 / t.requests as f64 * 100.0
                    }
                }
                Name::Avg if timed => t.hist.mean()? / 1000.0,
                Name::P95 if timed => pct[0]? as f64 / 1000.0,
                Name::P99 if timed => pct[1]? as f64 / 1000.0,
                Name::UniqueClients if self.format.has_client() => t.clients.len() as f64,
                Name::Malformed => t.malformed as f64,
                _ => return None,
            })
        };
        let headline = self
            .metrics
            .0
            .first()
            .map(|(n, _)| *n)
            .unwrap_or(Name::Requests);

        // Value: the headline numbers, plus the headline metric itself.
        let mut shown = vec![
            logscan::counted(t.requests, &V_REQUEST, &V_REQUESTS),
            format!(
                "5xx {} ({})",
                t.e5,
                Name::ErrorRate.show(value_of(Name::ErrorRate).unwrap_or(0.0))
            ),
        ];
        if timed {
            for n in [Name::Avg, Name::P95] {
                if let Some(v) = value_of(n) {
                    shown.push(format!("{} {}", n.as_str(), n.show(v)));
                }
            }
        }
        if !matches!(
            headline,
            Name::Requests | Name::Errors5xx | Name::ErrorRate | Name::Avg | Name::P95
        ) && let Some(v) = value_of(headline)
        {
            shown.push(format!("{} {}", headline.as_str(), headline.show(v)));
        }
        let mut m = Measurement::new(shown.join(", "));
        m.detail = self.detail(ctx, &s);

        if let Some(e) = &s.error {
            let failure = match e.reason() {
                Some(r) => Failure::unknown(r),
                None => Failure::fail(
                    Overran {
                        after: ctx.deadline.budget(),
                    }
                    .reason(&TIMEOUT)
                    .with("path", &self.path)
                    .with("counts", m.value.clone()),
                ),
            };
            return Err(Failure {
                detail: m.detail,
                ..failure.shown(crate::values::reason::said(
                    &crate::values::reason::common::V_INCOMPLETE,
                ))
            });
        }
        if s.stats.lines > 0 && t.malformed == s.stats.lines {
            // Most likely the wrong `format:`; the counts mean nothing, so
            // no metrics and no thresholds.
            return Err(Failure {
                detail: m.detail,
                ..Failure::unknown(
                    Reason::new(&NO_LINE_PARSED)
                        .with("path", &self.path)
                        .with("format", self.format.name())
                        .with("malformed", t.malformed)
                        .with("first", t.first_malformed.clone().unwrap_or_default()),
                )
            });
        }

        // Metrics: headline first, then the rest in a fixed order; each
        // configured one held against its threshold over the window.
        let mut order = vec![headline];
        order.extend(ALL.iter().copied().filter(|n| *n != headline));
        for n in order {
            let Some(v) = value_of(n) else {
                continue;
            };
            let mut metric = Metric::new(n.as_str(), v, n.unit(), n.direction())
                .says(format!("{} {}", n.as_str(), n.show(v)))
                .over(self.window.describe());
            if let Some((_, th)) = self.metrics.0.iter().find(|(c, _)| *c == n) {
                metric = metric.held_to(th.clone());
            }
            m.metrics.push(metric);
        }
        for (n, _) in &self.metrics.0 {
            if value_of(*n).is_none() {
                m.detail.push(
                    Reason::new(&D_NOT_EVALUATED)
                        .with("metric", n.as_str())
                        .into(),
                );
            }
        }
        Ok(m)
    }

    fn detail(&self, ctx: &Ctx, s: &Scanned) -> Vec<Detail> {
        let t = &s.tally;
        let mut d = Vec::new();
        let files: Vec<String> = s.files.iter().map(|p| p.display().to_string()).collect();
        d.push(
            Reason::new(&D_READ)
                .with("files", files)
                .with_quantity("read", s.stats.bytes as f64, Unit::Bytes)
                .with("lines", s.stats.lines)
                .with("format", self.format.name())
                .into(),
        );
        let mut span = self.window.span(ctx.now);
        if !span.is_all() {
            let off = *ctx.now.offset();
            let since = span
                .local_start()
                .map(|t| logscan::show_time(t, off))
                .unwrap_or_default();
            d.push(
                Reason::new(&D_WINDOW)
                    .with("window", self.window.describe())
                    .with("from", since)
                    .with("to", logscan::show_time(span.end(), off))
                    .with("outside", t.outside)
                    .into(),
            );
        }
        if s.skipped_old > 0 {
            d.push(logscan::old_skipped(s.skipped_old));
        }
        d.push(
            Reason::new(&D_STATUSES)
                .with("e5", t.e5)
                .with("e4", t.e4)
                .with("s401", t.s401)
                .with(
                    "clients",
                    if self.format.has_client() {
                        t.clients.len().to_string()
                    } else {
                        "-".into()
                    },
                )
                .into(),
        );
        if self.format.timed() {
            let p = t.hist.percentiles(&[50, 95, 99, 100]);
            let ms = |v: Option<u64>| v.map(|v| format_millis(v as f64 / 1000.0));
            if let (Some(avg), Some(p50), Some(p95), Some(p99), Some(max)) =
                (t.hist.mean(), ms(p[0]), ms(p[1]), ms(p[2]), ms(p[3]))
            {
                d.push(
                    Reason::new(&D_TIMES)
                        .with_quantity("avg", avg / 1000.0, Unit::Millis)
                        .with("p50", p50)
                        .with("p95", p95)
                        .with("p99", p99)
                        .with("max", max)
                        .with("timed", t.hist.count())
                        .into(),
                );
            }
        }
        if t.malformed > 0 {
            d.push(
                Reason::new(&D_MALFORMED)
                    .with("count", t.malformed)
                    .with("first", t.first_malformed.as_deref().unwrap_or(""))
                    .into(),
            );
        }
        if s.stats.vanished > 0 {
            d.push(logscan::vanished(s.stats.vanished));
        }
        if s.stats.overlong > 0 {
            d.push(logscan::overlong(s.stats.overlong));
        }
        d
    }
}

/// The attempt for access-log text `data` in `format` (a built-in name or
/// a regex) over `window`, with every metric thresholded: the hand-written
/// line parser on untrusted text, for fuzzing and property tests.
pub(crate) fn attempt_from_text(
    format: &str,
    window: &str,
    data: &[u8],
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<Attempt, String> {
    let check: AccessLog = serde_json::from_value(serde_json::json!({
        "path": "access_log",
        "format": format,
        "window": window,
        "metrics": {
            "requests": {"warn": "< 1"}, "errors_5xx": {"warn": 1}, "errors_4xx": {"warn": 10},
            "status_401": {"warn": 5}, "error_rate": {"warn": "1%", "fail": "5%"},
            "avg": {"warn": "500ms"}, "p95": {"warn": "1s"}, "p99": {"fail": "3s"},
            "unique_clients": {"warn": "< 1"},
        },
    }))
    .map_err(|e| e.to_string())?;
    let mut p = Parser {
        format: check.format.clone(),
        span: check.window.span(now),
        ts: ClfCache::default(),
        iso: TsParser::new(TsFormat::Auto, now),
        locs: None,
        tally: Tally::default(),
    };
    if let Format::Custom(c) = &p.format {
        p.locs = Some(c.re.capture_locations());
    }
    // Lines as `logscan::scan_file` gives them: no `\n` or `\r\n`, no
    // empty line after the last newline.
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    let mut stats = ReadStats {
        bytes: data.len() as u64,
        ..ReadStats::default()
    };
    for l in data.split(|b| *b == b'\n') {
        if data.is_empty() {
            break;
        }
        stats.lines += 1;
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        match p.format {
            Format::CombinedD => p.builtin::<D_US>(l),
            Format::NginxRt => p.builtin::<D_SECS>(l),
            Format::Combined | Format::Common => p.builtin::<D_NONE>(l),
            Format::Custom(_) => p.custom(l),
        }
    }
    let ctx = Ctx::new(now, std::time::Duration::from_secs(10), PathBuf::from("/"));
    let scanned = Scanned {
        tally: p.tally,
        stats,
        files: Vec::new(),
        skipped_old: 0,
        error: None,
    };
    Ok(check.measure(&ctx, scanned).into())
}

// ---------------------------------------------------------------------------
// The pass

fn scan(
    files: Vec<LogFile>,
    format: Format,
    span: Span,
    now: chrono::DateTime<chrono::FixedOffset>,
    stop: &Stop,
) -> Scanned {
    let mut p = Parser {
        format,
        span,
        ts: ClfCache::default(),
        iso: TsParser::new(TsFormat::Auto, now),
        locs: None,
        tally: Tally::default(),
    };
    if let Format::Custom(c) = &p.format {
        p.locs = Some(c.re.capture_locations());
    }
    let since = p.span.earliest_start();
    let mut stats = ReadStats::default();
    let mut seen = Vec::new();
    let mut skipped_old = 0;
    let mut error = None;
    for f in files {
        if logscan::older_than(&f, since) {
            skipped_old += 1;
            continue;
        }
        p.iso.reset();
        let r = match p.format {
            Format::CombinedD => {
                logscan::scan_file(&f.path, stop, &mut stats, |l| p.builtin::<D_US>(l))
            }
            Format::NginxRt => {
                logscan::scan_file(&f.path, stop, &mut stats, |l| p.builtin::<D_SECS>(l))
            }
            Format::Combined | Format::Common => {
                logscan::scan_file(&f.path, stop, &mut stats, |l| p.builtin::<D_NONE>(l))
            }
            Format::Custom(_) => logscan::scan_file(&f.path, stop, &mut stats, |l| p.custom(l)),
        };
        // `Ok(false)`: gone before it was read, counted in `stats.vanished`.
        if !matches!(r, Ok(false)) {
            seen.push(f.path);
        }
        if let Err(e) = r {
            error = Some(e);
            break;
        }
    }
    Scanned {
        tally: p.tally,
        stats,
        files: seen,
        skipped_old,
        error,
    }
}

/// How the last field holds the response time, as a const generic so each
/// built-in format gets its own specialised loop.
const D_NONE: u8 = 0;
const D_US: u8 = 1;
const D_SECS: u8 = 2;

struct Parser {
    format: Format,
    span: Span,
    ts: ClfCache,
    iso: TsParser,
    locs: Option<regex::bytes::CaptureLocations>,
    tally: Tally,
}

impl Parser {
    /// One line of a built-in format:
    /// `client ident user [time] "request" status bytes …[ last]`.
    #[inline(always)]
    fn builtin<const DUR: u8>(&mut self, l: &[u8]) {
        let Some(sp) = space_forward(l) else {
            return self.tally.bad(l);
        };
        // `client - - [` nearly always; a user name in between is searched for.
        let lb = if l.get(sp..sp + 5) == Some(b" - - [") {
            sp + 4
        } else {
            match memchr::memchr(b'[', &l[sp..]) {
                Some(i) => sp + i,
                None => return self.tally.bad(l),
            }
        };
        let (Some(tsb), Some(b"] \"")) = (l.get(lb + 1..lb + 27), l.get(lb + 27..lb + 30)) else {
            return self.tally.bad(l);
        };
        let Some((t, off)) = self.ts.parse(tsb) else {
            return self.tally.bad(l);
        };
        if !self.span.contains(t, off) {
            self.tally.outside += 1;
            return;
        }
        // The request line may hold escaped quotes (\"): its end is the
        // quote followed by ` NNN` and a space or the end of the line.
        let mut p = lb + 30;
        let status = loop {
            let Some(q) = memchr::memchr(b'"', &l[p..]).map(|i| p + i) else {
                return self.tally.bad(l);
            };
            if let Some(&[b' ', a, b, c]) = l.get(q + 1..q + 5)
                && matches!(l.get(q + 5), None | Some(b' '))
                && let Some(s) = status3(a, b, c)
            {
                break s;
            }
            p = q + 1;
        };
        let dur = match DUR {
            D_US | D_SECS => {
                let last = match space_backward(l) {
                    Some(i) => &l[i + 1..],
                    None => return self.tally.bad(l),
                };
                let v = if DUR == D_US {
                    parse_us(last, 1)
                } else {
                    parse_us(last, 1_000_000)
                };
                match v {
                    Some(v) => Some(v),
                    None => return self.tally.bad(l),
                }
            }
            _ => None,
        };
        self.tally.hit(status);
        if let Some(v) = dur {
            self.tally.hist.record(v);
        }
        self.tally.clients.add(&l[..sp]);
    }

    /// One line of a regex format.
    fn custom(&mut self, l: &[u8]) {
        let Format::Custom(c) = &self.format else {
            return;
        };
        let Some(locs) = self.locs.as_mut() else {
            return;
        };
        if c.re.captures_read(locs, l).is_none() {
            return self.tally.bad(l);
        }
        let group = |i: usize| locs.get(i).map(|(a, b)| &l[a..b]);
        if let Some(ti) = c.time {
            let Some(tb) = group(ti) else {
                return self.tally.bad(l);
            };
            let tb = tb.strip_prefix(b"[").unwrap_or(tb);
            let tb = tb.strip_suffix(b"]").unwrap_or(tb);
            let parsed = if tb.len() == 26 {
                self.ts.parse(tb)
            } else {
                self.iso.parse(tb)
            };
            let Some((t, off)) = parsed else {
                return self.tally.bad(l);
            };
            if !self.span.contains(t, off) {
                self.tally.outside += 1;
                return;
            }
        }
        let Some(status) = group(c.status).and_then(|s| match s {
            [a, b, c] => status3(*a, *b, *c),
            _ => None,
        }) else {
            return self.tally.bad(l);
        };
        let dur = match c.dur {
            Some((i, scale)) => match group(i).and_then(|v| parse_us(v, scale)) {
                Some(v) => Some(v),
                None => return self.tally.bad(l),
            },
            None => None,
        };
        let client = c.client.and_then(group);
        self.tally.hit(status);
        if let Some(v) = dur {
            self.tally.hist.record(v);
        }
        if let Some(cl) = client {
            self.tally.clients.add(cl);
        }
    }
}

// Short searches, eight bytes at a time: the client and the response time
// are a few bytes from the line's ends, where a SIMD memchr call costs more
// than it saves.

const SPACES: u64 = 0x2020_2020_2020_2020;

/// A byte with its high bit set for every zero byte of `x` (exact: no false
/// positives, so it also finds the last zero byte).
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    const L: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & L).wrapping_add(L)) | x | L)
}

#[inline(always)]
fn word(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// Index of the first space.
#[inline(always)]
fn space_forward(l: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 8 <= l.len() && i < 32 {
        let m = zero_bytes(word(&l[i..]) ^ SPACES);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    memchr::memchr(b' ', &l[i..]).map(|j| i + j)
}

/// Index of the last space.
#[inline(always)]
fn space_backward(l: &[u8]) -> Option<usize> {
    let mut end = l.len();
    while end >= 8 && l.len() - end < 32 {
        let m = zero_bytes(word(&l[end - 8..]) ^ SPACES);
        if m != 0 {
            return Some(end - 8 + 7 - (m.leading_zeros() / 8) as usize);
        }
        end -= 8;
    }
    memchr::memrchr(b' ', &l[..end])
}

#[inline]
fn status3(a: u8, b: u8, c: u8) -> Option<u16> {
    let (a, b, c) = (
        a.wrapping_sub(b'0'),
        b.wrapping_sub(b'0'),
        c.wrapping_sub(b'0'),
    );
    (a <= 9 && b <= 9 && c <= 9).then(|| a as u16 * 100 + b as u16 * 10 + c as u16)
}

/// A decimal number of units of `scale` µs each (`1234` µs, `0.123` s) →
/// integer µs. Digits beyond 1 µs are dropped (no format writes them).
#[inline]
fn parse_us(b: &[u8], scale: u64) -> Option<u64> {
    let (int, frac) = match memchr::memchr(b'.', b) {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    if int.is_empty() || int.len() > 12 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in int {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u64;
    }
    v = v.checked_mul(scale)?;
    if let Some(f) = frac {
        if f.is_empty() || scale == 1 {
            return None;
        }
        let mut unit = scale;
        for &c in f {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            unit /= 10;
            v += d as u64 * unit;
        }
    }
    Some(v)
}

/// CLF timestamps with a cache: most lines share the previous line's
/// second, nearly all share its day.
#[derive(Default)]
struct ClfCache {
    last: [u8; 26],
    last_val: Option<(i64, i32)>,
    /// `21/Oct/2025` + ` +0900` of the cached day, and that day's midnight.
    day: [u8; 17],
    day_base: Option<(i64, i32)>,
}

impl ClfCache {
    #[inline(always)]
    fn parse(&mut self, b: &[u8]) -> Option<(i64, i32)> {
        if let Some(v) = self.last_val
            && b == self.last
        {
            return Some(v);
        }
        let v = match self.day_base {
            Some((base, off))
                if b.len() == 26 && b[..11] == self.day[..11] && b[20..] == self.day[11..] =>
            {
                if b[11] != b':' {
                    return None;
                }
                let (h, m, s) = logscan::hms(&b[12..20])?;
                if h > 23 || m > 59 || s > 60 {
                    return None;
                }
                (base + (h * 3600 + m * 60 + s) as i64, off)
            }
            _ => {
                let (t, off) = logscan::parse_clf(b)?;
                let (h, m, s) = logscan::hms(&b[12..20])?;
                self.day[..11].copy_from_slice(&b[..11]);
                self.day[11..].copy_from_slice(&b[20..]);
                self.day_base = Some((t - (h * 3600 + m * 60 + s) as i64, off));
                (t, off)
            }
        };
        self.last.copy_from_slice(b);
        self.last_val = Some(v);
        Some(v)
    }
}

/// Distinct clients, exactly. IPv4 addresses (the common case) go into
/// pages of one /16 each: a sorted list of the low 16 bits while the page
/// is sparse, a 64 Kibit bitmap (8 KiB) once it holds more than 256
/// addresses. Memory stays at a few bytes per distinct client and a lookup
/// touches one small page instead of a hash table as large as the client
/// set. Anything else (IPv6, host names) goes into a hash set.
#[derive(Debug, Default)]
struct Clients {
    v4: Vec<Option<Box<V4Page>>>,
    v4_count: usize,
    other: HashSet<Box<[u8]>>,
    last: Option<u32>,
}

#[derive(Debug)]
enum V4Page {
    Sparse(Vec<u16>),
    Dense(Box<[u64; 1024]>),
}

/// A sparse /16 page turns into a bitmap past this many addresses.
const V4_SPARSE_MAX: usize = 256;

impl Clients {
    #[inline(always)]
    fn add(&mut self, c: &[u8]) {
        match parse_v4(c) {
            Some(ip) => {
                if self.last != Some(ip) {
                    self.last = Some(ip);
                    self.add_v4(ip);
                }
            }
            None => {
                if !self.other.contains(c) {
                    self.other.insert(c.into());
                }
            }
        }
    }

    #[inline]
    fn add_v4(&mut self, ip: u32) {
        if self.v4.is_empty() {
            self.v4.resize_with(1 << 16, || None);
        }
        let (hi, lo) = ((ip >> 16) as usize, ip as u16);
        let page = &mut self.v4[hi];
        match page.as_deref_mut() {
            Some(V4Page::Dense(bits)) => {
                let (w, b) = ((lo >> 6) as usize, 1u64 << (lo & 63));
                if bits[w] & b == 0 {
                    bits[w] |= b;
                    self.v4_count += 1;
                }
            }
            Some(V4Page::Sparse(list)) => {
                if let Err(at) = list.binary_search(&lo) {
                    self.v4_count += 1;
                    if list.len() < V4_SPARSE_MAX {
                        list.insert(at, lo);
                    } else {
                        let mut bits = Box::new([0u64; 1024]);
                        for &x in list.iter().chain([&lo]) {
                            bits[(x >> 6) as usize] |= 1 << (x & 63);
                        }
                        *page = Some(Box::new(V4Page::Dense(bits)));
                    }
                }
            }
            None => {
                self.v4_count += 1;
                *page = Some(Box::new(V4Page::Sparse(vec![lo])));
            }
        }
    }

    fn len(&self) -> usize {
        self.v4_count + self.other.len()
    }
}

#[inline]
fn parse_v4(b: &[u8]) -> Option<u32> {
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    let mut ip = 0u32;
    let mut part = 0u32;
    let mut digits = 0;
    let mut dots = 0;
    for &c in b {
        if c == b'.' {
            if digits == 0 || part > 255 {
                return None;
            }
            ip = ip << 8 | part;
            part = 0;
            digits = 0;
            dots += 1;
        } else {
            let d = c.wrapping_sub(b'0');
            if d > 9 || digits == 3 {
                return None;
            }
            part = part * 10 + d as u32;
            digits += 1;
        }
    }
    if dots != 3 || digits == 0 || part > 255 {
        return None;
    }
    Some(ip << 8 | part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_time_fields() {
        assert_eq!(parse_us(b"123456", 1), Some(123_456));
        assert_eq!(parse_us(b"0.123", 1_000_000), Some(123_000));
        assert_eq!(parse_us(b"12", 1_000_000), Some(12_000_000));
        assert_eq!(parse_us(b"1.5", 1000), Some(1500));
        assert_eq!(parse_us(b"0.0000019", 1_000_000), Some(1));
        for bad in [&b""[..], b"-", b"1.", b".5", b"12a", b"\"Mozilla\"", b"1.5"] {
            assert_eq!(parse_us(bad, 1), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn word_at_a_time_space_search() {
        for len in 0..80 {
            for a in 0..len {
                for b in a..len {
                    let mut l = vec![b'x'; len];
                    l[a] = b' ';
                    l[b] = b' ';
                    assert_eq!(space_forward(&l), Some(a), "{len} {a} {b}");
                    assert_eq!(space_backward(&l), Some(b), "{len} {a} {b}");
                }
            }
            let l = vec![0xa0u8; len];
            assert_eq!(space_forward(&l), None);
            assert_eq!(space_backward(&l), None);
        }
    }

    #[test]
    fn ipv4_keys() {
        assert_eq!(parse_v4(b"10.0.0.1"), Some(0x0a00_0001));
        assert_eq!(parse_v4(b"255.255.255.255"), Some(u32::MAX));
        for bad in [
            &b"256.1.1.1"[..],
            b"1.2.3",
            b"1.2.3.4.5",
            b"::1",
            b"a.b.c.d",
            b"1..2.3",
        ] {
            assert_eq!(parse_v4(bad), None);
        }
        let mut c = Clients::default();
        for ip in [
            &b"1.2.3.4"[..],
            b"1.2.3.4",
            b"5.6.7.8",
            b"::1",
            b"::1",
            b"1.2.3.4",
        ] {
            c.add(ip);
        }
        assert_eq!(c.len(), 3);
        // Past the sparse limit a page becomes a bitmap; the count stays exact.
        let mut c = Clients::default();
        for round in 0..2 {
            for i in 0..2000u32 {
                c.add(format!("10.{}.{}.{}", i % 3, (i / 3) % 256, i % 251).as_bytes());
            }
            let want: HashSet<String> = (0..2000u32)
                .map(|i| format!("10.{}.{}.{}", i % 3, (i / 3) % 256, i % 251))
                .collect();
            assert_eq!(c.len(), want.len(), "round {round}");
        }
    }

    #[test]
    fn clf_cache_agrees_with_full_parse() {
        let mut c = ClfCache::default();
        for s in [
            "21/Oct/2025:09:00:00 +0900",
            "21/Oct/2025:09:00:00 +0900",
            "21/Oct/2025:23:59:59 +0900",
            "21/Oct/2025:10:00:00 +0000",
            "22/Oct/2025:00:00:00 +0900",
            "22/Oct/2025:00:00:01 -0530",
        ] {
            assert_eq!(
                c.parse(s.as_bytes()),
                logscan::parse_clf(s.as_bytes()),
                "{s}"
            );
        }
        assert_eq!(c.parse(b"22/Oct/2025:00:0x:01 -0530"), None);
    }

    #[test]
    fn formats_parse() {
        assert!(matches!(Format::parse("combined_d"), Ok(Format::CombinedD)));
        let e = Format::parse("combined_x").unwrap_err();
        assert!(e.contains("expected combined_d"), "{e}");
        let e = Format::parse(r"(?P<code>\d+)").unwrap_err();
        assert!(e.contains("no `status` group"), "{e}");
        let Ok(Format::Custom(c)) =
            Format::parse(r"^(?P<client>\S+) \[(?P<time>[^\]]+)\] (?P<status>\d{3}) (?P<ms>\S+)$")
        else {
            panic!()
        };
        assert_eq!(c.dur.map(|d| d.1), Some(1000));
    }
}

#[cfg(test)]
mod kind_tests {
    use std::time::Duration;

    use super::super::harness::{ctx_in, kind, run_in};
    use super::*;
    use crate::values::outcome::Status;

    const LOG: &str = "\
10.0.0.1 - - [21/Oct/2025:08:00:00 +0900] \"GET / HTTP/1.1\" 200 512 \"-\" \"ua\" 100000
10.0.0.2 - - [21/Oct/2025:08:00:01 +0900] \"GET / HTTP/1.1\" 503 512 \"-\" \"ua\" 300000
10.0.0.2 - - [21/Oct/2025:08:00:02 +0900] \"GET /x HTTP/1.1\" 401 512 \"-\" \"ua\" 200000
";

    #[tokio::test]
    async fn metrics_and_reasons() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("access_log"), LOG).unwrap();
        std::fs::write(dir.path().join("garbage_log"), "not a log line\n").unwrap();
        let ctx = || ctx_in(dir.path(), Duration::from_secs(10));

        let a: AccessLog =
            kind("path: access_log\nmetrics: {error_rate: {warn: 1%, fail: 50%}, requests: {}}")
                .unwrap();
        let m = run_in(&a, &ctx()).await.unwrap();
        assert_eq!(
            m.value,
            "value.access_log.requests {count=3}, 5xx 1 (33.33%), avg 200ms, p95 300ms"
        );
        let names: Vec<_> = m.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names[..3], ["error_rate", "requests", "errors_5xx"]);
        let rate = &m.metrics[0];
        assert_eq!(rate.unit, Unit::Percent);
        assert_eq!(rate.window.as_deref(), Some("today"));
        assert_eq!(rate.subject(), "error_rate 33.33%");
        let th = rate.threshold.as_ref().unwrap();
        assert_eq!(th.fail.as_ref().map(|l| l.value), Some(50.0));
        // `requests: {}` is shown, held against no limit; others are not held.
        assert!(m.metrics[1].threshold.is_some());
        assert!(m.metrics[2].threshold.is_none());
        let requests = &m.metrics[1];
        assert_eq!(requests.direction, Direction::LowerIsWorse);

        // The wrong format: every line malformed, nothing to measure.
        let a: AccessLog = kind("path: garbage_log\nwindow: all").unwrap();
        let f = run_in(&a, &ctx()).await.unwrap_err();
        assert_eq!(f.status, Status::Unknown);
        assert_eq!(f.reason.code.code, "access_log.format");
        assert_eq!(f.reason.param("malformed"), Some(&1u64.into()));
        assert_eq!(f.reason.param("format"), Some(&"combined_d".into()));

        let a: AccessLog = kind("path: nothing_log").unwrap();
        let f = run_in(&a, &ctx()).await.unwrap_err();
        assert_eq!(f.reason.code.code, "logfile.no_match");

        // A deadline already passed: the scan stops at once.
        let a: AccessLog = kind("path: access_log").unwrap();
        let f = run_in(&a, &ctx_in(dir.path(), Duration::ZERO))
            .await
            .unwrap_err();
        assert_eq!(f.reason.code.code, "timeout");
        assert_eq!(f.reason.param("path"), Some(&"access_log".into()));
        assert_eq!(f.value, "value.incomplete {}");
    }
}
