//! The AWS kinds (`aws_cloudwatch`, `aws_ecs`, `aws_rds`, `aws_alb`) and
//! what they share: the common fields (`region`, `profile`,
//! `endpoint_url`), one SDK configuration per region/profile/endpoint for
//! the whole run, the deadline around every call, and the words for the
//! ways a call to AWS fails.
//!
//! The SDK is the official one (`aws-config` and the service crates),
//! behind the default-on cargo feature `aws` (README, "AWS": what it adds to
//! the build). Built without it, the kinds still load (a runbook stays
//! valid) and every check says so as `unknown`.
//!
//! - Credentials come from the SDK's standard chain only: environment,
//!   the shared config/credentials files (`profile:` picks a profile; SSO
//!   and `credential_process` included), web identity, the ECS task role,
//!   the EC2 instance role. A runbook holds none (SPEC §10.6).
//! - The configuration (its credentials cache and its HTTP client) is
//!   loaded once per (region, profile, endpoint_url) and shared by every
//!   check of the run that names the same three ([`sdk::config`]).
//! - Every call runs inside the check's deadline (`Deadline::within`): the
//!   SDK's own retries — throttling and transient errors, standard mode,
//!   up to [`sdk::MAX_ATTEMPTS`] attempts with its jittered backoff — happen
//!   within it, and a call still retrying when the deadline comes is
//!   stopped there.
//! - A call that could not be made or answered (no credentials, refused
//!   credentials, throttled to the end, endpoint unreachable, timed out) is
//!   `unknown`: nothing was learnt about the resource. A resource that
//!   does not exist is the kind's `fail`.

mod alb;
mod cloudwatch;
mod ecs;
mod rds;

pub(crate) use alb::AwsAlb;
pub(crate) use cloudwatch::AwsCloudwatch;
pub(crate) use ecs::AwsEcs;
pub(crate) use rds::AwsRds;

pub(crate) use alb::CODES as ALB_CODES;
pub(crate) use cloudwatch::CODES as CLOUDWATCH_CODES;
pub(crate) use ecs::CODES as ECS_CODES;
pub(crate) use rds::CODES as RDS_CODES;

#[cfg(feature = "aws")]
use super::Ctx;
use super::Failure;
use crate::values::reason::{Code, Reason};

/// Catalog entries shared by the four kinds (docs/reasons.md).
pub(crate) static CODES: &[&Code] = &[
    &NOT_BUILT,
    &NO_REGION,
    &CREDENTIALS,
    &AUTH,
    &THROTTLED,
    &UNREACHABLE,
    &TIMEOUT,
    &TIMEOUT_CONFIG,
    &API,
    &D_ENDPOINT,
];

static D_ENDPOINT: Code = Code::detail(
    "aws.detail.endpoint",
    "{service} in {region}[ via {endpoint}]",
);

static NOT_BUILT: Code = Code::new(
    "aws.not_built",
    "this opsrun was built without the `aws` feature (cargo build --features aws)",
);
static NO_REGION: Code = Code::new(
    "aws.no_region",
    "no AWS region: set `region:`, AWS_REGION, or the profile's region",
);
static CREDENTIALS: Code = Code::new("aws.credentials", "no usable AWS credentials: {error}");
static AUTH: Code = Code::new(
    "aws.auth",
    "{service} refused the credentials (HTTP {status}[ {code}]): {error}",
);
static THROTTLED: Code = Code::new(
    "aws.throttled",
    "{service} throttled {operation}[ ({code})] on every attempt",
);
static UNREACHABLE: Code = Code::new("aws.unreachable", "cannot reach {service}: {error}");
static TIMEOUT: Code = Code::variant(
    "aws.timeout",
    "timeout",
    "{service} {operation}: no answer within {after}",
);
static TIMEOUT_CONFIG: Code = Code::variant(
    "aws.timeout.config",
    "timeout",
    "loading the AWS configuration (profile, region): no answer within {after}",
);
static API: Code = Code::new(
    "aws.api",
    "{service} {operation} failed[ ({code})]: {error}",
);

/// The fields every AWS kind takes besides its own (SPEC §10.6). All three
/// may be left out: the standard chain then says the region (AWS_REGION,
/// the profile's `region`) and the default profile is used.
#[derive(Debug, Default, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Conn {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Another endpoint for every service (a VPC endpoint, LocalStack,
    /// moto in the tests).
    pub endpoint_url: Option<String>,
}

impl Conn {
    fn validate(&self) -> Result<(), String> {
        for (key, v) in [("region", &self.region), ("profile", &self.profile)] {
            if v.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(format!("`{key}` is empty"));
            }
        }
        if let Some(u) = &self.endpoint_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(format!(
                "invalid endpoint_url `{u}`: expected an http:// or https:// URL"
            ));
        }
        Ok(())
    }

    /// `(profile ops)` after a target, when one is named.
    fn suffix(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = &self.region {
            parts.push(r.clone());
        }
        if let Some(p) = &self.profile {
            parts.push(format!("profile {p}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        }
    }
}

/// A check of a kind that this build cannot run.
#[cfg(not(feature = "aws"))]
fn not_built() -> Failure {
    Failure::unknown(Reason::new(&NOT_BUILT))
}

#[cfg(feature = "aws")]
pub(crate) mod sdk {
    //! The SDK side: the shared configurations and the one reading of the
    //! SDK's errors.

    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, Mutex};

    use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_types::error::display::DisplayErrorContext;
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;

    use super::{
        API, AUTH, CREDENTIALS, Conn, Ctx, D_ENDPOINT, Failure, NO_REGION, Reason, THROTTLED,
        TIMEOUT, TIMEOUT_CONFIG, UNREACHABLE,
    };
    use crate::values::reason::Detail;

    /// Attempts per call (the SDK's standard mode says 3): throttling gets
    /// a few more chances, the check's deadline bounds them all.
    pub const MAX_ATTEMPTS: u32 = 5;

    /// The first retry's backoff ceiling (the SDK's is 1 s), doubling per
    /// attempt, jittered: five attempts fit in a few seconds, so a check
    /// still hears why the last one failed (refused, throttled) before its
    /// deadline rather than only that the deadline passed.
    pub const INITIAL_BACKOFF: std::time::Duration = std::time::Duration::from_millis(200);

    type Slot = Arc<tokio::sync::OnceCell<SdkConfig>>;

    /// One configuration per (region, profile, endpoint) for the process
    /// (a run, or `opsrun serve`'s life: the credentials cache inside it
    /// refreshes expiring credentials itself).
    static CONFIGS: LazyLock<Mutex<HashMap<Conn, Slot>>> = LazyLock::new(Default::default);

    /// The shared configuration for `conn`, loaded by the first check that
    /// needs it (the others wait for that load), within the deadline.
    pub async fn config(ctx: &Ctx, conn: &Conn) -> Result<SdkConfig, Failure> {
        let slot = {
            let mut map = CONFIGS.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(conn.clone()).or_default().clone()
        };
        // Loading reads the profile files and may ask the instance
        // metadata service for a region: bounded like a call.
        let config = ctx
            .deadline
            .within(slot.get_or_init(|| load(conn)))
            .await
            .map_err(|o| Failure::unknown(o.reason(&TIMEOUT_CONFIG)))?
            .clone();
        if config.region().is_none() {
            return Err(Failure::unknown(Reason::new(&NO_REGION)));
        }
        Ok(config)
    }

    async fn load(conn: &Conn) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(INITIAL_BACKOFF),
        );
        if let Some(p) = &conn.profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &conn.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(e) = &conn.endpoint_url {
            loader = loader.endpoint_url(e);
        }
        loader.load().await
    }

    /// The `-v` line naming where a check asked.
    pub fn endpoint(config: &SdkConfig, service: &'static str) -> Detail {
        Reason::new(&D_ENDPOINT)
            .with("service", service)
            .with(
                "region",
                config.region().map(|r| r.to_string()).unwrap_or_default(),
            )
            .with_opt("endpoint", config.endpoint_url())
            .into()
    }

    /// Runs one SDK call within the deadline; an error becomes the
    /// matching `unknown` (the kind handles its own not-found first, see
    /// [`code`]).
    pub async fn call<T, E, F>(
        ctx: &Ctx,
        config: &SdkConfig,
        service: &'static str,
        operation: &'static str,
        fut: F,
    ) -> Result<Result<T, SdkError<E, HttpResponse>>, Failure>
    where
        F: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    {
        ctx.deadline.within(fut).await.map_err(|o| {
            Failure::unknown(
                o.reason(&TIMEOUT)
                    .with("service", service)
                    .with("operation", operation),
            )
            .detail(endpoint(config, service))
        })
    }

    /// The service's error code, when the service answered with one.
    pub fn code<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
        match err {
            SdkError::ServiceError(e) => e.err().code(),
            _ => None,
        }
    }

    /// Codes AWS services use for "slow down" (the SDK retries them).
    fn throttling(code: &str) -> bool {
        matches!(
            code,
            "Throttling"
                | "ThrottlingException"
                | "ThrottledException"
                | "RequestThrottled"
                | "RequestThrottledException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "SlowDown"
                | "PriorRequestNotComplete"
        )
    }

    /// Whether `err`, or an error it was caused by, is a credentials
    /// provider's (nothing in the chain, a profile that is not there, an
    /// SSO session expired).
    fn credentials_error(err: &(dyn std::error::Error + 'static)) -> bool {
        let mut e: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(x) = e {
            if x.is::<aws_credential_types::provider::error::CredentialsError>() {
                return true;
            }
            e = x.source();
        }
        false
    }

    /// Why the call failed, as the `unknown` it is.
    pub fn failure<E>(
        config: &SdkConfig,
        service: &'static str,
        operation: &'static str,
        err: SdkError<E, HttpResponse>,
    ) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        classify(service, operation, err).detail(endpoint(config, service))
    }

    fn classify<E>(
        service: &'static str,
        operation: &'static str,
        err: SdkError<E, HttpResponse>,
    ) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let text = crate::values::units::one_line(&DisplayErrorContext(&err).to_string(), 400);
        if credentials_error(&err) {
            return Failure::unknown(Reason::new(&CREDENTIALS).with("error", text));
        }
        let status = err.raw_response().map(|r| r.status().as_u16());
        let (code, message) = match &err {
            SdkError::ServiceError(e) => (
                e.err().code().map(str::to_owned),
                e.err().message().map(str::to_owned),
            ),
            _ => (None, None),
        };
        // An error body the SDK could not read (an emulator's, a proxy's
        // HTML page): its own words say more than the parse error.
        let body = match &err {
            SdkError::ResponseError(_) | SdkError::ServiceError(_) => err
                .raw_response()
                .and_then(|r| r.body().bytes())
                .map(|b| crate::values::units::one_line(&String::from_utf8_lossy(b), 300))
                .filter(|b| !b.trim().is_empty()),
            _ => None,
        };
        let error = message.or(body).unwrap_or(text);
        if code.as_deref().is_some_and(throttling) || status == Some(429) {
            return Failure::unknown(
                Reason::new(&THROTTLED)
                    .with("service", service)
                    .with("operation", operation)
                    .with_opt("code", code),
            );
        }
        // Refused credentials: by the HTTP status, not the code string
        // (services and emulators word the code differently).
        if let Some(s @ (401 | 403)) = status {
            return Failure::unknown(
                Reason::new(&AUTH)
                    .with("service", service)
                    .with("status", i64::from(s))
                    .with_opt("code", code)
                    .with("error", error),
            );
        }
        match err {
            SdkError::DispatchFailure(_) => Failure::unknown(
                Reason::new(&UNREACHABLE)
                    .with("service", service)
                    .with("error", error),
            ),
            SdkError::TimeoutError(_) => Failure::unknown(
                Reason::new(&UNREACHABLE)
                    .with("service", service)
                    .with("error", error),
            ),
            _ => Failure::unknown(
                Reason::new(&API)
                    .with("service", service)
                    .with("operation", operation)
                    .with_opt("code", code)
                    .with("error", error),
            ),
        }
    }
}
