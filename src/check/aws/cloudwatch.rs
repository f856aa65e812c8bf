//! `aws_cloudwatch`: one statistic of one CloudWatch metric, the latest
//! datapoint of the last `window` in `period` buckets (GetMetricStatistics),
//! held against `warn`/`fail`. No datapoint in the window is `unknown`:
//! CloudWatch has nothing to say (the metric is not published, or its
//! dimensions are wrong), which is not a pass.
//!
//! `stat` is one of CloudWatch's statistics (`Average`, `Sum`, `Minimum`,
//! `Maximum`, `SampleCount`) or a percentile (`p99`, `p99.9`, asked as an
//! extended statistic). Limits are numbers in the metric's own unit, with
//! an operator when lower is worse (`fail: "< 10"`).
//!
//! The metric keeps CloudWatch's unit where opsrun has the same one
//! (`Percent`, `Bytes`, `Count`, `Milliseconds`): history and the reports
//! then print `45%` and `12 GB`. Any other (`Seconds`, `Count/Second`,
//! `None`) is a plain number in CloudWatch's unit, as the limits are written.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Conn;
use crate::check::{CheckFuture, Ctx, Failure, Kind, Measurement, sections};
use crate::values::Dur;
use crate::values::reason::Code;
#[cfg(feature = "aws")]
use crate::values::reason::Reason;
use crate::values::threshold::Limit;

/// The reason catalog entries of `aws_cloudwatch` (docs/reasons.md).
pub(crate) static CODES: &[&Code] = &[&V_VALUE, &NO_DATAPOINTS, &D_DATAPOINT];

/// Display value: the number, CloudWatch's unit unless `None`, the stat.
static V_VALUE: Code = Code::value("value.aws_cloudwatch", "{value}[ {unit}] ({stat})");

static D_DATAPOINT: Code = Code::detail(
    "aws_cloudwatch.detail.datapoint",
    "{namespace} {metric} {stat} = {value}[ {unit}] at {time} ({count} datapoints of {period} in the last {window})",
);

static NO_DATAPOINTS: Code = Code::new(
    "aws_cloudwatch.no_datapoints",
    "no datapoints for {namespace} {metric}[ {dimensions}] in the last {window}",
);

const STATS: &[&str] = &["Average", "Sum", "Minimum", "Maximum", "SampleCount"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsCloudwatch {
    namespace: String,
    metric: String,
    #[serde(default)]
    dimensions: BTreeMap<String, String>,
    #[serde(default = "average")]
    stat: String,
    #[serde(default = "five_minutes", deserialize_with = "Dur::positive")]
    period: Dur,
    #[serde(default = "fifteen_minutes", deserialize_with = "Dur::positive")]
    window: Dur,
    #[serde(default, deserialize_with = "crate::values::threshold::limit::number")]
    warn: Option<Limit>,
    #[serde(default, deserialize_with = "crate::values::threshold::limit::number")]
    fail: Option<Limit>,
    region: Option<String>,
    profile: Option<String>,
    endpoint_url: Option<String>,
}

fn average() -> String {
    "Average".into()
}

fn five_minutes() -> Dur {
    Dur(std::time::Duration::from_secs(300))
}

fn fifteen_minutes() -> Dur {
    Dur(std::time::Duration::from_secs(900))
}

/// opsrun's unit for CloudWatch's, when they mean the same numbers (no
/// scaling: a limit is written in CloudWatch's unit either way).
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
fn unit_of(cloudwatch: Option<&str>) -> crate::values::units::Unit {
    use crate::values::units::Unit;
    match cloudwatch {
        Some("Percent") => Unit::Percent,
        Some("Bytes") => Unit::Bytes,
        Some("Count") => Unit::Count,
        Some("Milliseconds") => Unit::Millis,
        _ => Unit::Number,
    }
}

/// `p99`, `p99.9`: a percentile, asked as an extended statistic.
fn percentile(stat: &str) -> bool {
    stat.strip_prefix('p')
        .and_then(|n| n.parse::<f64>().ok())
        .is_some_and(|n| (0.0..=100.0).contains(&n))
}

impl AwsCloudwatch {
    fn conn(&self) -> Conn {
        Conn {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }

    /// `Name=value,…` as the AWS CLI writes dimensions.
    fn dimensions_text(&self) -> String {
        self.dimensions
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Kind for AwsCloudwatch {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }

    fn section(&self) -> &'static str {
        sections::RESOURCES
    }

    fn target(&self) -> String {
        let dims = self.dimensions_text();
        let dims = if dims.is_empty() {
            dims
        } else {
            format!(" {dims}")
        };
        format!(
            "{} {}{dims} {}{}",
            self.namespace,
            self.metric,
            self.stat,
            self.conn().suffix()
        )
    }

    fn validate(&self) -> Result<(), String> {
        self.conn().validate()?;
        if !(STATS.contains(&self.stat.as_str()) || percentile(&self.stat)) {
            return Err(format!(
                "invalid stat `{}`: expected {} or a percentile like p99",
                self.stat,
                STATS.join(", ")
            ));
        }
        if self.window.0 < self.period.0 {
            return Err(format!(
                "window {} is shorter than period {}: the window must hold at least one period",
                humantime::format_duration(self.window.0),
                humantime::format_duration(self.period.0)
            ));
        }
        if self.period.0.subsec_nanos() != 0 {
            return Err("period must be whole seconds (CloudWatch periods are 1s, 5s, 10s, 30s or a multiple of 60s)".into());
        }
        super::super::unreachable_warn(&self.warn, &self.fail)
    }
}

#[cfg(not(feature = "aws"))]
impl AwsCloudwatch {
    async fn check(&self, _ctx: &Ctx) -> Result<Measurement, Failure> {
        Err(super::not_built())
    }
}

#[cfg(feature = "aws")]
impl AwsCloudwatch {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        use aws_sdk_cloudwatch::primitives::DateTime;
        use aws_sdk_cloudwatch::types::{Datapoint, Dimension, Statistic};

        use super::sdk;
        use crate::check::Metric;
        use crate::values::threshold::{Direction, Threshold};
        use crate::values::units::trim_float;

        const SERVICE: &str = "CloudWatch";
        const OP: &str = "GetMetricStatistics";
        let config = sdk::config(ctx, &self.conn()).await?;
        let client = aws_sdk_cloudwatch::Client::new(&config);
        let end = ctx.now.timestamp();
        let start = end - self.window.0.as_secs() as i64;
        let mut req = client
            .get_metric_statistics()
            .namespace(&self.namespace)
            .metric_name(&self.metric)
            .start_time(DateTime::from_secs(start))
            .end_time(DateTime::from_secs(end))
            .period(i32::try_from(self.period.0.as_secs()).unwrap_or(i32::MAX));
        for (name, value) in &self.dimensions {
            req = req.dimensions(Dimension::builder().name(name).value(value).build());
        }
        let extended = percentile(&self.stat);
        req = if extended {
            req.extended_statistics(&self.stat)
        } else {
            req.statistics(Statistic::from(self.stat.as_str()))
        };
        let out = sdk::call(ctx, &config, SERVICE, OP, req.send())
            .await?
            .map_err(|e| sdk::failure(&config, SERVICE, OP, e))?;
        let pick = |d: &Datapoint| -> Option<f64> {
            if extended {
                d.extended_statistics()
                    .and_then(|m| m.get(&self.stat))
                    .copied()
            } else {
                match self.stat.as_str() {
                    "Average" => d.average(),
                    "Sum" => d.sum(),
                    "Minimum" => d.minimum(),
                    "Maximum" => d.maximum(),
                    _ => d.sample_count(),
                }
            }
        };
        let points: Vec<_> = out
            .datapoints()
            .iter()
            .filter_map(|d| Some((d.timestamp()?.secs(), pick(d)?, d)))
            .collect();
        let window = humantime::format_duration(self.window.0).to_string();
        let Some(&(at, value, latest)) = points.iter().max_by_key(|(t, _, _)| *t) else {
            let dims = self.dimensions_text();
            return Err(Failure::unknown(
                Reason::new(&NO_DATAPOINTS)
                    .with("namespace", &self.namespace)
                    .with("metric", &self.metric)
                    .with_opt("dimensions", (!dims.is_empty()).then_some(dims))
                    .with("window", window),
            )
            .detail(sdk::endpoint(&config, SERVICE)));
        };
        let unit = latest
            .unit()
            .map(|u| u.as_str().to_owned())
            .filter(|u| u != "None");
        let shown = trim_float(value, 2);
        let time = chrono::DateTime::from_timestamp(at, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        let kind = unit_of(unit.as_deref());
        let th = Threshold::of_limits(kind, self.warn.clone(), self.fail.clone());
        let display = crate::values::reason::say(
            &Reason::new(&V_VALUE)
                .with("value", shown.clone())
                .with_opt("unit", unit.clone())
                .with("stat", &self.stat),
        );
        Ok(Measurement::new(display)
            .metric(
                Metric::new("value", value, kind, Direction::HigherIsWorse)
                    .held_to(th)
                    .says(format!("{} {} {shown}", self.metric, self.stat)),
            )
            .detail(
                Reason::new(&D_DATAPOINT)
                    .with("namespace", &self.namespace)
                    .with("metric", &self.metric)
                    .with("stat", &self.stat)
                    .with("value", shown)
                    .with_opt("unit", unit)
                    .with("time", time)
                    .with("count", points.len() as i64)
                    .with(
                        "period",
                        humantime::format_duration(self.period.0).to_string(),
                    )
                    .with("window", window),
            )
            .detail(sdk::endpoint(&config, SERVICE)))
    }
}
