//! `aws_alb`: the targets of an ELBv2 target group (ALB or NLB) —
//! DescribeTargetHealth — as the count of healthy targets against
//! `healthy` (default `{fail: "< 1"}`), and every target that is not
//! healthy listed with its state and AWS's reason (`warn` when there is
//! one and the count holds). `target_group` is a name (looked up with
//! DescribeTargetGroups) or an ARN.

use serde::Deserialize;

use super::Conn;
use crate::check::{CheckFuture, Ctx, Failure, Kind, Measurement, sections};
use crate::values::reason::Code;
#[cfg(feature = "aws")]
use crate::values::reason::Reason;
use crate::values::threshold::Threshold;

/// The reason catalog entries of `aws_alb` (docs/reasons.md).
pub(crate) static CODES: &[&Code] = &[&V_HEALTHY, &NOT_FOUND, &UNHEALTHY, &D_TARGET];

static V_HEALTHY: Code = Code::value("value.aws_alb", "{healthy} of {total} healthy");

static D_TARGET: Code = Code::detail(
    "aws_alb.detail.target",
    "target {target}: {state}[ ({reason})][: {description}]",
);

static NOT_FOUND: Code = Code::new("aws_alb.not_found", "no target group {target_group}");
static UNHEALTHY: Code = Code::new(
    "aws_alb.unhealthy",
    "{count} of {total} targets not healthy: {targets}",
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsAlb {
    target_group: String,
    // Read only by the SDK side: a build without the `aws` feature loads it
    // (so a runbook validates the same) and says `aws.not_built`.
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    #[serde(default, deserialize_with = "crate::values::threshold::lo::count")]
    healthy: Option<Threshold>,
    region: Option<String>,
    profile: Option<String>,
    endpoint_url: Option<String>,
}

impl AwsAlb {
    fn conn(&self) -> Conn {
        Conn {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

impl Kind for AwsAlb {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }

    fn section(&self) -> &'static str {
        sections::SERVICES
    }

    fn target(&self) -> String {
        format!("target group {}{}", self.target_group, self.conn().suffix())
    }

    fn validate(&self) -> Result<(), String> {
        self.conn().validate()?;
        if self.target_group.trim().is_empty() {
            return Err("`target_group` is empty".into());
        }
        Ok(())
    }
}

#[cfg(not(feature = "aws"))]
impl AwsAlb {
    async fn check(&self, _ctx: &Ctx) -> Result<Measurement, Failure> {
        Err(super::not_built())
    }
}

#[cfg(feature = "aws")]
impl AwsAlb {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        use super::sdk;
        use crate::check::Metric;
        use crate::values::outcome::Status;
        use crate::values::threshold::{Direction, parse_limit};
        use crate::values::units::Unit;

        const SERVICE: &str = "ELBv2";
        let config = sdk::config(ctx, &self.conn()).await?;
        let client = aws_sdk_elasticloadbalancingv2::Client::new(&config);
        let not_found = || {
            Failure::fail(Reason::new(&NOT_FOUND).with("target_group", &self.target_group))
                .detail(sdk::endpoint(&config, SERVICE))
        };
        let arn = if self.target_group.starts_with("arn:") {
            self.target_group.clone()
        } else {
            const OP: &str = "DescribeTargetGroups";
            let req = client.describe_target_groups().names(&self.target_group);
            let out = match sdk::call(ctx, &config, SERVICE, OP, req.send()).await? {
                Ok(o) => o,
                Err(e)
                    if matches!(
                        sdk::code(&e),
                        Some("TargetGroupNotFound" | "TargetGroupNotFoundException")
                    ) =>
                {
                    return Err(not_found());
                }
                Err(e) => return Err(sdk::failure(&config, SERVICE, OP, e)),
            };
            match out
                .target_groups()
                .first()
                .and_then(|t| t.target_group_arn())
            {
                Some(a) => a.to_owned(),
                None => return Err(not_found()),
            }
        };
        const OP: &str = "DescribeTargetHealth";
        let req = client.describe_target_health().target_group_arn(&arn);
        let out = match sdk::call(ctx, &config, SERVICE, OP, req.send()).await? {
            Ok(o) => o,
            Err(e)
                if matches!(
                    sdk::code(&e),
                    Some("TargetGroupNotFound" | "TargetGroupNotFoundException")
                ) =>
            {
                return Err(not_found());
            }
            Err(e) => return Err(sdk::failure(&config, SERVICE, OP, e)),
        };
        let targets = out.target_health_descriptions();
        let total = targets.len() as i64;
        let mut healthy = 0i64;
        let mut bad = Vec::new();
        let mut details = Vec::new();
        for t in targets {
            let id = t.target().and_then(|x| x.id()).unwrap_or("?");
            let name = match t.target().and_then(|x| x.port()) {
                Some(p) => format!("{id}:{p}"),
                None => id.to_owned(),
            };
            let health = t.target_health();
            let state = health
                .and_then(|h| h.state())
                .map(|s| s.as_str())
                .unwrap_or("unknown");
            if state == "healthy" {
                healthy += 1;
                continue;
            }
            let reason = health
                .and_then(|h| h.reason())
                .map(|r| r.as_str().to_owned());
            bad.push(match &reason {
                Some(r) => format!("{name} {state} ({r})"),
                None => format!("{name} {state}"),
            });
            details.push(
                Reason::new(&D_TARGET)
                    .with("target", name)
                    .with("state", state)
                    .with_opt("reason", reason)
                    .with_opt("description", health.and_then(|h| h.description())),
            );
        }
        let th = self.healthy.clone().unwrap_or_else(|| {
            Threshold::of_limits(Unit::Count, None, parse_limit("< 1", Unit::Count).ok())
        });
        let display = crate::values::reason::say(
            &Reason::new(&V_HEALTHY)
                .with("healthy", healthy)
                .with("total", total),
        );
        let mut m = Measurement::new(display)
            .metric(
                Metric::new(
                    "healthy",
                    healthy as f64,
                    Unit::Count,
                    Direction::LowerIsWorse,
                )
                .held_to(th)
                .says(format!("{healthy} healthy targets")),
            )
            .metric(
                Metric::new(
                    "unhealthy",
                    bad.len() as f64,
                    Unit::Count,
                    Direction::HigherIsWorse,
                )
                .extra(),
            );
        if !bad.is_empty() {
            m.observe_late(
                Status::Warn,
                Reason::new(&UNHEALTHY)
                    .with("count", bad.len() as i64)
                    .with("total", total)
                    .with("targets", bad),
            );
        }
        for d in details {
            m = m.detail(d);
        }
        Ok(m.detail(sdk::endpoint(&config, SERVICE)))
    }
}
