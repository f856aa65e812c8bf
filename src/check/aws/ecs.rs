//! `aws_ecs`: an ECS service's running tasks against its desired count,
//! and its rollout (DescribeServices). Fewer running than desired is
//! `fail`; a rollout in progress (the primary deployment's `rolloutState`,
//! or more than one deployment) is `warn`; a rollout that failed is
//! `fail`. A service that is not there, or not ACTIVE, is `fail`.

use serde::Deserialize;

use super::Conn;
use crate::check::{CheckFuture, Ctx, Failure, Kind, Measurement, sections};
use crate::values::reason::Code;
#[cfg(feature = "aws")]
use crate::values::reason::Reason;

/// The reason catalog entries of `aws_ecs` (docs/reasons.md).
pub(crate) static CODES: &[&Code] = &[
    &V_RUNNING,
    &NOT_FOUND,
    &INACTIVE,
    &BELOW_DESIRED,
    &ROLLOUT,
    &ROLLOUT_FAILED,
    &D_DEPLOYMENT,
];

static V_RUNNING: Code = Code::value("value.aws_ecs", "{running}/{desired} running");

static D_DEPLOYMENT: Code = Code::detail(
    "aws_ecs.detail.deployment",
    "deployment {id} ({status}): {running}/{desired} running, {pending} pending[, rollout {rollout}][, task definition {task}]",
);

static NOT_FOUND: Code = Code::new(
    "aws_ecs.not_found",
    "no service {service} in cluster {cluster}[ ({error})]",
);
static INACTIVE: Code = Code::new("aws_ecs.inactive", "service {service} is {status}");
static BELOW_DESIRED: Code = Code::new(
    "aws_ecs.below_desired",
    "{running} of {desired} tasks running[ ({pending} pending)]",
);
static ROLLOUT: Code = Code::new("aws_ecs.rollout", "rollout in progress[: {reason}]");
static ROLLOUT_FAILED: Code = Code::new("aws_ecs.rollout_failed", "rollout failed[: {reason}]");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsEcs {
    cluster: String,
    service: String,
    region: Option<String>,
    profile: Option<String>,
    endpoint_url: Option<String>,
}

impl AwsEcs {
    fn conn(&self) -> Conn {
        Conn {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

impl Kind for AwsEcs {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }

    fn section(&self) -> &'static str {
        sections::SERVICES
    }

    fn target(&self) -> String {
        format!("{}/{}{}", self.cluster, self.service, self.conn().suffix())
    }

    fn validate(&self) -> Result<(), String> {
        self.conn().validate()?;
        for (key, v) in [("cluster", &self.cluster), ("service", &self.service)] {
            if v.trim().is_empty() {
                return Err(format!("`{key}` is empty"));
            }
        }
        Ok(())
    }
}

#[cfg(not(feature = "aws"))]
impl AwsEcs {
    async fn check(&self, _ctx: &Ctx) -> Result<Measurement, Failure> {
        Err(super::not_built())
    }
}

#[cfg(feature = "aws")]
impl AwsEcs {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        use super::sdk;
        use crate::check::Metric;
        use crate::values::outcome::Status;
        use crate::values::threshold::Direction;
        use crate::values::units::Unit;

        const SERVICE: &str = "ECS";
        const OP: &str = "DescribeServices";
        let config = sdk::config(ctx, &self.conn()).await?;
        let client = aws_sdk_ecs::Client::new(&config);
        let req = client
            .describe_services()
            .cluster(&self.cluster)
            .services(&self.service);
        let not_found = |error: Option<String>| {
            Failure::fail(
                Reason::new(&NOT_FOUND)
                    .with("service", &self.service)
                    .with("cluster", &self.cluster)
                    .with_opt("error", error),
            )
            .detail(sdk::endpoint(&config, SERVICE))
        };
        let out = match sdk::call(ctx, &config, SERVICE, OP, req.send()).await? {
            Ok(o) => o,
            // A cluster that is not there is an error of its own.
            Err(e) if sdk::code(&e) == Some("ClusterNotFoundException") => {
                return Err(not_found(
                    aws_smithy_types::error::metadata::ProvideErrorMetadata::message(&e)
                        .map(str::to_owned),
                ));
            }
            Err(e) => return Err(sdk::failure(&config, SERVICE, OP, e)),
        };
        let Some(svc) = out.services().iter().find(|s| {
            s.service_name() == Some(self.service.as_str())
                || s.service_arn() == Some(self.service.as_str())
        }) else {
            let why = out
                .failures()
                .first()
                .and_then(|f| f.reason())
                .map(str::to_owned);
            return Err(not_found(why));
        };
        let status = svc.status().unwrap_or("");
        if status != "ACTIVE" {
            return Err(Failure::fail(
                Reason::new(&INACTIVE)
                    .with("service", &self.service)
                    .with("status", status),
            )
            .shown(status)
            .detail(sdk::endpoint(&config, SERVICE)));
        }
        let (running, desired, pending) = (
            i64::from(svc.running_count()),
            i64::from(svc.desired_count()),
            i64::from(svc.pending_count()),
        );
        let display = crate::values::reason::say(
            &Reason::new(&V_RUNNING)
                .with("running", running)
                .with("desired", desired),
        );
        let mut m = Measurement::new(display)
            .metric(Metric::new(
                "running",
                running as f64,
                Unit::Count,
                Direction::LowerIsWorse,
            ))
            .metric(
                Metric::new(
                    "desired",
                    desired as f64,
                    Unit::Count,
                    Direction::LowerIsWorse,
                )
                .extra(),
            );
        if running < desired {
            m.observe(
                Status::Fail,
                Reason::new(&BELOW_DESIRED)
                    .with("running", running)
                    .with("desired", desired)
                    .with_opt("pending", (pending > 0).then_some(pending)),
            );
        }
        let deployments = svc.deployments();
        let primary = deployments
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .or(deployments.first());
        let rollout = primary.and_then(|d| d.rollout_state()).map(|r| r.as_str());
        let why = primary
            .and_then(|d| d.rollout_state_reason())
            .map(str::to_owned);
        if rollout == Some("FAILED") {
            m.observe(
                Status::Fail,
                Reason::new(&ROLLOUT_FAILED).with_opt("reason", why),
            );
        } else if rollout == Some("IN_PROGRESS") || deployments.len() > 1 {
            m.observe(Status::Warn, Reason::new(&ROLLOUT).with_opt("reason", why));
        }
        for d in deployments {
            m = m.detail(
                Reason::new(&D_DEPLOYMENT)
                    .with("id", d.id().unwrap_or("?"))
                    .with("status", d.status().unwrap_or("?"))
                    .with("running", i64::from(d.running_count()))
                    .with("desired", i64::from(d.desired_count()))
                    .with("pending", i64::from(d.pending_count()))
                    .with_opt("rollout", d.rollout_state().map(|r| r.as_str().to_owned()))
                    .with_opt("task", d.task_definition()),
            );
        }
        Ok(m.detail(sdk::endpoint(&config, SERVICE)))
    }
}
