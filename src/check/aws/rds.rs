//! `aws_rds`: an RDS instance's status (DescribeDBInstances) — anything
//! but `available` is `fail` — and, when `free_storage: {warn, fail}` is
//! written, its free storage: CloudWatch's `AWS/RDS FreeStorageSpace`, the
//! minimum of the latest 5-minute period of the last 15 minutes (RDS does
//! not report free space itself). No such datapoint is `unknown`.

use serde::Deserialize;

use super::Conn;
use crate::check::{CheckFuture, Ctx, Failure, Kind, Measurement, sections};
use crate::values::reason::Code;
#[cfg(feature = "aws")]
use crate::values::reason::Reason;
use crate::values::threshold::Threshold;

/// The reason catalog entries of `aws_rds` (docs/reasons.md).
pub(crate) static CODES: &[&Code] = &[&V_FREE, &NOT_FOUND, &STATUS, &NO_FREE_STORAGE, &D_INSTANCE];

/// Display value with free storage; without it the value is the status
/// as RDS says it.
static V_FREE: Code = Code::value("value.aws_rds.free", "{status}, {free} free");

static D_INSTANCE: Code = Code::detail(
    "aws_rds.detail.instance",
    "{instance}: {status}[, {engine}][ {class}][, {allocated} allocated]",
);

static NOT_FOUND: Code = Code::new("aws_rds.not_found", "no DB instance {instance}");
static STATUS: Code = Code::new(
    "aws_rds.status",
    "{instance} is {status} (expected available)",
);
static NO_FREE_STORAGE: Code = Code::new(
    "aws_rds.no_free_storage",
    "no FreeStorageSpace datapoints for {instance} in the last 15m",
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsRds {
    instance: String,
    // Read only by the SDK side: a build without the `aws` feature loads it
    // (so a runbook validates the same) and says `aws.not_built`.
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    #[serde(default, deserialize_with = "crate::values::threshold::lo::bytes")]
    free_storage: Option<Threshold>,
    region: Option<String>,
    profile: Option<String>,
    endpoint_url: Option<String>,
}

impl AwsRds {
    fn conn(&self) -> Conn {
        Conn {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

impl Kind for AwsRds {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }

    fn section(&self) -> &'static str {
        sections::SERVICES
    }

    fn target(&self) -> String {
        format!("{}{}", self.instance, self.conn().suffix())
    }

    fn validate(&self) -> Result<(), String> {
        self.conn().validate()?;
        if self.instance.trim().is_empty() {
            return Err("`instance` is empty".into());
        }
        Ok(())
    }
}

#[cfg(not(feature = "aws"))]
impl AwsRds {
    async fn check(&self, _ctx: &Ctx) -> Result<Measurement, Failure> {
        Err(super::not_built())
    }
}

#[cfg(feature = "aws")]
impl AwsRds {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        use aws_sdk_cloudwatch::primitives::DateTime;
        use aws_sdk_cloudwatch::types::{Dimension, Statistic};

        use super::sdk;
        use crate::check::Metric;
        use crate::values::outcome::Status;
        use crate::values::threshold::Direction;
        use crate::values::units::Unit;

        const SERVICE: &str = "RDS";
        const OP: &str = "DescribeDBInstances";
        let config = sdk::config(ctx, &self.conn()).await?;
        let client = aws_sdk_rds::Client::new(&config);
        let req = client
            .describe_db_instances()
            .db_instance_identifier(&self.instance);
        let not_found = || {
            Failure::fail(Reason::new(&NOT_FOUND).with("instance", &self.instance))
                .detail(sdk::endpoint(&config, SERVICE))
        };
        let out = match sdk::call(ctx, &config, SERVICE, OP, req.send()).await? {
            Ok(o) => o,
            Err(e)
                if matches!(
                    sdk::code(&e),
                    Some("DBInstanceNotFound" | "DBInstanceNotFoundFault")
                ) =>
            {
                return Err(not_found());
            }
            Err(e) => return Err(sdk::failure(&config, SERVICE, OP, e)),
        };
        let Some(db) = out.db_instances().first() else {
            return Err(not_found());
        };
        let status = db.db_instance_status().unwrap_or("?").to_owned();
        let detail = Reason::new(&D_INSTANCE)
            .with("instance", &self.instance)
            .with("status", status.clone())
            .with_opt("engine", db.engine())
            .with_opt("class", db.db_instance_class())
            // RDS allocates in GiB; said as RDS says it.
            .with_opt(
                "allocated",
                db.allocated_storage().map(|gib| format!("{gib} GiB")),
            );
        let mut m = Measurement::new(status.clone()).detail(detail);
        if status != "available" {
            m.observe(
                Status::Fail,
                Reason::new(&STATUS)
                    .with("instance", &self.instance)
                    .with("status", status.clone()),
            );
        }
        if let Some(th) = &self.free_storage {
            const CW: &str = "CloudWatch";
            const CW_OP: &str = "GetMetricStatistics";
            let cw = aws_sdk_cloudwatch::Client::new(&config);
            let end = ctx.now.timestamp();
            let req = cw
                .get_metric_statistics()
                .namespace("AWS/RDS")
                .metric_name("FreeStorageSpace")
                .dimensions(
                    Dimension::builder()
                        .name("DBInstanceIdentifier")
                        .value(&self.instance)
                        .build(),
                )
                .start_time(DateTime::from_secs(end - 900))
                .end_time(DateTime::from_secs(end))
                .period(300)
                .statistics(Statistic::Minimum);
            let stats = sdk::call(ctx, &config, CW, CW_OP, req.send())
                .await?
                .map_err(|e| sdk::failure(&config, CW, CW_OP, e))?;
            let latest = stats
                .datapoints()
                .iter()
                .filter_map(|d| Some((d.timestamp()?.secs(), d.minimum()?)))
                .max_by_key(|(t, _)| *t);
            match latest {
                Some((_, free)) => {
                    m.value = crate::values::reason::say(
                        &Reason::new(&V_FREE).with("status", status).with_quantity(
                            "free",
                            free,
                            Unit::Bytes,
                        ),
                    );
                    m = m.metric(
                        Metric::new("free_storage", free, Unit::Bytes, Direction::LowerIsWorse)
                            .held_to(th.clone())
                            .says(format!(
                                "{} free storage {}",
                                self.instance,
                                crate::values::units::format_bytes(free)
                            )),
                    );
                }
                None => m.observe(
                    Status::Unknown,
                    Reason::new(&NO_FREE_STORAGE).with("instance", &self.instance),
                ),
            }
        }
        Ok(m.detail(sdk::endpoint(&config, SERVICE)))
    }
}
