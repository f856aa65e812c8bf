//! `container`: one container (by `name`) or a compose service's
//! containers (`compose: {project, service}`, by the labels Compose puts
//! on them) as the Docker Engine API reports them — state, health, restart
//! count growth since the previous run, image — so no `docker` CLI and no
//! shell are needed. Works with Docker and with Podman's compatible API
//! (`podman system service`), which is what the tests run.
//!
//! The daemon is `host:` if written, else `DOCKER_HOST`, else
//! `unix:///var/run/docker.sock`; `unix://` and plain `tcp://` are spoken.
//! TLS to the daemon (`DOCKER_TLS_VERIFY`, usually `tcp://…:2376`), `ssh://`
//! and `npipe://` are not: such a check is `unknown` with a reason naming
//! the setting (use the daemon's unix socket on the host itself).
//!
//! Why hyper and not bollard: hyper 1 with its `client` and `http1`
//! features and hyper-util are already in the build (reqwest's client, the
//! `serve` command), so this kind adds no crate; bollard 0.21 (measured
//! with `cargo tree`, `default-features = false, features = ["pipe"]`)
//! would add seven (bollard, bollard-stubs, hyperlocal, serde_repr,
//! serde_urlencoded, hex, futures-macro), among them ~36,000 lines of
//! generated API types, for two GET requests whose few fields are read
//! here. Doing it by hand also keeps what the other kinds have: every read
//! is bounded ([`MAX_BODY`] per answer, through `http_body_util::Limited`;
//! bollard buffers a body of any size), the whole conversation is bounded
//! by the check's deadline, and each way of failing keeps its own reason
//! (no socket, refused, permission, an API error's own message).
//!
//! The requests use the unversioned paths (`/containers/json`), which
//! Docker and Podman both serve at their current API version: a pinned
//! `/v1.40/` is refused by Docker 29 (minimum 1.44). The fields read
//! (`State.Status`, `State.Health.Status`, `RestartCount`, `State.StartedAt`,
//! `Config.Image`) have been the same since API 1.25.
//!
//! Restart growth needs the previous run's count: the kind records the
//! total (`restarts_total`) as a metric, and reads it back next run
//! through `Ctx::previous` (the seam `postgres` deadlocks use), so the
//! kind never touches history. A total smaller than last time means the
//! container was recreated: the total is then all there is.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::values::outcome::Status;
use crate::values::reason::{Code, Detail, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, one_line};

// Display values.
static V_STATE: Code = Code::value("value.container.state", "{state}[ ({health})][, {uptime}]");
static V_EXITED: Code = Code::value("value.container.exited", "{state} ({exit_code})");
static V_REPLICAS: Code = Code::value(
    "value.container.replicas",
    "{running} of {total} containers running",
);

// Detail lines (`-v`).
static D_CONTAINER: Code = Code::detail(
    "container.detail.container",
    "{container} ({id}): {state}[ ({health})], image {image}[, started {started}]",
);
static D_RESTARTS: Code = Code::detail(
    "container.detail.restarts",
    "restarted {restarts} times since the previous run ({total} in total)",
);
static D_RESTARTS_CREATED: Code = Code::detail(
    "container.detail.restarts_created",
    "restarted {total} times since created (no previous run on record)",
);
static D_HEALTH_LOG: Code = Code::detail(
    "container.detail.health_log",
    "last healthcheck of {container}: exit {exit_code}",
);

static NOT_FOUND: Code = Code::new("container.not_found", "no container named {name}");
static COMPOSE_NOT_FOUND: Code = Code::variant(
    "container.not_found.compose",
    "container.not_found",
    "no container of compose service {service} in project {project}",
);
static STATE: Code = Code::new(
    "container.state",
    "{container} is {state}, expected {want}[ (exit code {exit_code})][, restarted {restarts} times]",
);
static UNHEALTHY: Code = Code::new(
    "container.unhealthy",
    "{container} is unhealthy[ ({streak} failed healthchecks in a row)]",
);
static HEALTH_STARTING: Code = Code::variant(
    "container.health.starting",
    "container.health",
    "{container}'s healthcheck has not passed yet (starting)",
);
static NO_HEALTHCHECK: Code = Code::variant(
    "container.health.none",
    "container.health",
    "{container} has no healthcheck, expected healthy",
);
static IMAGE: Code = Code::new(
    "container.image",
    "{container} runs image {image}, expected {want}",
);
static RESTARTS: Code = Code::variant(
    "container.restarts",
    "threshold",
    "{container} restarted {value} times since the previous run {op} {level} {limit}",
);
static RESTARTS_CREATED: Code = Code::variant(
    "container.restarts.created",
    "threshold",
    "{container} restarted {value} times since created {op} {level} {limit}",
);
static NO_SOCKET: Code = Code::new(
    "container.no_daemon",
    "no Docker daemon: {address} does not exist (is Docker or Podman's API service running? set DOCKER_HOST)",
);
static REFUSED: Code = Code::variant(
    "container.no_daemon.refused",
    "container.no_daemon",
    "no Docker daemon: {address} refused the connection",
);
static PERMISSION: Code = Code::new(
    "container.permission",
    "{address}: permission denied (run as root or as a member of the docker group)",
);
static HOST: Code = Code::new("container.host", "{setting} {value}: {error}");
static TLS_UNSUPPORTED: Code = Code::variant(
    "container.host.tls",
    "container.host",
    "DOCKER_TLS_VERIFY is set: TLS to the Docker daemon is not supported (use its unix socket)",
);
static IO: Code = Code::new("container.io", "{address}: {error}");
static TOO_BIG: Code = Code::variant(
    "container.io.too_big",
    "container.io",
    "{address}: an answer of the Engine API exceeds {limit}",
);
static API: Code = Code::new(
    "container.api",
    "{address}: the Engine API answered {status}[: {message}]",
);
static NOT_API: Code = Code::new(
    "container.not_api",
    "{address}: not an answer of the Docker Engine API ({error})",
);
static TIMEOUT: Code = Code::variant(
    "container.timeout",
    "timeout",
    "{address}: the Engine API did not answer within {after}",
);

/// The reason catalog entries of `container` (docs/reasons.md).
pub(crate) static CODES: &[&Code] = &[
    &V_STATE,
    &V_EXITED,
    &V_REPLICAS,
    &D_CONTAINER,
    &D_RESTARTS,
    &D_RESTARTS_CREATED,
    &D_HEALTH_LOG,
    &NOT_FOUND,
    &COMPOSE_NOT_FOUND,
    &STATE,
    &UNHEALTHY,
    &HEALTH_STARTING,
    &NO_HEALTHCHECK,
    &IMAGE,
    &RESTARTS,
    &RESTARTS_CREATED,
    &NO_SOCKET,
    &REFUSED,
    &PERMISSION,
    &HOST,
    &TLS_UNSUPPORTED,
    &IO,
    &TOO_BIG,
    &API,
    &NOT_API,
    &TIMEOUT,
];

/// Most bytes read in one answer of the API (a container's inspect is a
/// few kB; the list is filtered to the check's containers).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The daemon when neither `host:` nor `DOCKER_HOST` says.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Every state the Engine API reports (`state:` must be one of them).
const STATES: &[&str] = &[
    "created",
    "running",
    "paused",
    "restarting",
    "removing",
    "exited",
    "dead",
];

/// The labels Compose puts on a service's containers.
const PROJECT_LABEL: &str = "com.docker.compose.project";
const SERVICE_LABEL: &str = "com.docker.compose.service";
const ONEOFF_LABEL: &str = "com.docker.compose.oneoff";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// The container's name (`docker ps`'s NAMES).
    name: Option<String>,
    /// A compose service's containers, by their labels.
    compose: Option<Compose>,
    #[serde(default = "running")]
    state: String,
    /// `healthy`: a healthcheck is required and must pass; `ignore`: not
    /// looked at. Unset: must pass when the container has one.
    health: Option<HealthWant>,
    /// Restart count growth since the previous run.
    #[serde(default, deserialize_with = "crate::values::threshold::hi::count")]
    restarts: Option<Threshold>,
    /// The image the container must run (`redis:7`, `ghcr.io/x/y:1.2`; a
    /// reference without a tag matches any tag of that repository).
    image: Option<String>,
    /// The daemon's address (`unix:///run/podman/podman.sock`,
    /// `tcp://10.0.0.5:2375`); default `DOCKER_HOST`, else the Docker socket.
    host: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Compose {
    project: String,
    service: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum HealthWant {
    Healthy,
    Ignore,
}

fn running() -> String {
    "running".into()
}

/// Where the daemon listens.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Endpoint {
    Unix(PathBuf),
    /// `host:port`.
    Tcp(String),
}

impl Endpoint {
    /// How reasons name it.
    fn address(&self) -> String {
        match self {
            Endpoint::Unix(p) => p.display().to_string(),
            Endpoint::Tcp(a) => a.clone(),
        }
    }
}

/// Why a daemon address cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
enum HostError {
    #[error("the {0}:// scheme is not supported (use unix:///path or tcp://host:port)")]
    Scheme(String),
    #[error("expected unix:///path/to/socket or tcp://host:port")]
    Malformed,
}

fn parse_host(s: &str) -> Result<Endpoint, HostError> {
    if let Some(path) = s.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(HostError::Malformed);
        }
        return Ok(Endpoint::Unix(PathBuf::from(path)));
    }
    if let Some(rest) = s.strip_prefix("tcp://") {
        let hostport = rest.trim_end_matches('/');
        let (host, port) = hostport.rsplit_once(':').ok_or(HostError::Malformed)?;
        if host.is_empty() || hostport.contains('/') || port.parse::<u16>().is_err() {
            return Err(HostError::Malformed);
        }
        return Ok(Endpoint::Tcp(hostport.to_owned()));
    }
    match s.split_once("://") {
        Some((scheme, _)) => Err(HostError::Scheme(scheme.to_owned())),
        None => Err(HostError::Malformed),
    }
}

impl Kind for Container {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }

    fn section(&self) -> &'static str {
        sections::SERVICES
    }

    fn target(&self) -> String {
        match (&self.name, &self.compose) {
            (Some(n), _) => format!("container {n}"),
            (_, Some(c)) => format!("compose {}/{}", c.project, c.service),
            _ => "container".into(),
        }
    }

    fn validate(&self) -> Result<(), String> {
        match (&self.name, &self.compose) {
            (Some(_), Some(_)) => return Err("set only one of `name` or `compose`".into()),
            (None, None) => {
                return Err(
                    "set `name` (a container name) or `compose: {project, service}`".into(),
                );
            }
            (Some(n), None) if n.trim().is_empty() || n.contains(char::is_whitespace) => {
                return Err(format!("invalid container name `{n}`"));
            }
            (None, Some(c)) if c.project.trim().is_empty() || c.service.trim().is_empty() => {
                return Err("`compose` needs a non-empty `project` and `service`".into());
            }
            _ => {}
        }
        if !STATES.contains(&self.state.as_str()) {
            let hint = crate::suggest::closest(&self.state, STATES)
                .map(|s| format!(", did you mean `{s}`?"))
                .unwrap_or_else(|| format!(": expected one of {}", STATES.join(", ")));
            return Err(format!("unknown state `{}`{hint}", self.state));
        }
        if self.health == Some(HealthWant::Healthy) && self.state != "running" {
            return Err("`health: healthy` needs `state: running`".into());
        }
        if let Some(h) = &self.host {
            parse_host(h).map_err(|e| format!("invalid host `{h}`: {e}"))?;
        }
        if self.image.as_deref().is_some_and(|i| i.trim().is_empty()) {
            return Err("`image` is empty".into());
        }
        Ok(())
    }
}

// What the API says (only the fields read; the rest is ignored).

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Listed {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspect {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    restart_count: i64,
    state: InspectState,
    #[serde(default)]
    config: Option<InspectConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectState {
    #[serde(default)]
    status: String,
    #[serde(default)]
    exit_code: Option<i64>,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    health: Option<InspectHealth>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectHealth {
    #[serde(default)]
    status: String,
    #[serde(default)]
    failing_streak: i64,
    #[serde(default)]
    log: Option<Vec<HealthLog>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthLog {
    #[serde(default)]
    exit_code: i64,
    #[serde(default)]
    output: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectConfig {
    #[serde(default)]
    image: Option<String>,
}

impl Inspect {
    /// The name without Docker's leading `/`.
    fn display_name(&self) -> &str {
        let n = self.name.trim_start_matches('/');
        if n.is_empty() { short_id(&self.id) } else { n }
    }

    /// The health status when the container has a healthcheck (Docker
    /// leaves `Health` out without one, Podman sends an empty status).
    fn health(&self) -> Option<&str> {
        self.state
            .health
            .as_ref()
            .map(|h| h.status.as_str())
            .filter(|s| !s.is_empty() && *s != "none")
    }

    fn image(&self) -> &str {
        self.config
            .as_ref()
            .and_then(|c| c.image.as_deref())
            .unwrap_or("")
    }

    fn started(&self) -> Option<DateTime<FixedOffset>> {
        let t = DateTime::parse_from_rfc3339(self.state.started_at.as_deref()?).ok()?;
        // `0001-01-01T00:00:00Z`: never started.
        (t.timestamp() > 0).then_some(t)
    }
}

/// How talking to the API went wrong.
#[derive(Debug, thiserror::Error)]
enum ApiError {
    #[error("connecting: {0}")]
    Connect(#[source] io::Error),
    #[error("HTTP: {0}")]
    Http(#[source] hyper::Error),
    #[error("the answer exceeds {MAX_BODY} bytes")]
    TooBig,
    #[error("reading the answer: {0}")]
    Body(String),
    #[error("status {status}")]
    Status {
        status: u16,
        message: Option<String>,
    },
    #[error("JSON: {0}")]
    Json(#[source] serde_json::Error),
}

/// One HTTP/1 connection to the daemon. The connection's task is aborted
/// when this is dropped, whichever way the check ends.
struct Api {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    host_header: String,
    conn: tokio::task::JoinHandle<()>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

impl Api {
    async fn connect(ep: &Endpoint) -> Result<Api, ApiError> {
        match ep {
            Endpoint::Unix(p) => {
                let s = tokio::net::UnixStream::connect(p)
                    .await
                    .map_err(ApiError::Connect)?;
                // Docker's own client sends this name over a socket.
                Api::handshake(s, "docker".into()).await
            }
            Endpoint::Tcp(a) => {
                let s = tokio::net::TcpStream::connect(a.as_str())
                    .await
                    .map_err(ApiError::Connect)?;
                Api::handshake(s, a.clone()).await
            }
        }
    }

    async fn handshake<S>(stream: S, host_header: String) -> Result<Api, ApiError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(ApiError::Http)?;
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Api {
            sender,
            host_header,
            conn,
        })
    }

    /// GETs `path` and parses the JSON answer; a non-2xx status is an
    /// error with the API's own message (`{"message": "…"}`).
    async fn get<T: serde::de::DeserializeOwned>(&mut self, path: &str) -> Result<T, ApiError> {
        self.sender.ready().await.map_err(ApiError::Http)?;
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, &self.host_header)
            .header(hyper::header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|e| ApiError::Body(e.to_string()))?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(ApiError::Http)?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    ApiError::TooBig
                } else {
                    ApiError::Body(e.to_string())
                }
            })?
            .to_bytes();
        if !status.is_success() {
            #[derive(Deserialize)]
            struct Message {
                message: String,
            }
            let message = serde_json::from_slice::<Message>(&body)
                .map(|m| m.message)
                .ok()
                .or_else(|| {
                    let t = String::from_utf8_lossy(&body);
                    (!t.trim().is_empty()).then(|| t.into_owned())
                })
                .map(|m| one_line(&m, 200));
            return Err(ApiError::Status {
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_slice(&body).map_err(ApiError::Json)
    }
}

/// `s` percent-encoded for a query string (everything but RFC 3986's
/// unreserved characters).
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Container {
    /// The daemon to ask, and how to name where it came from.
    fn endpoint(&self) -> Result<Endpoint, Failure> {
        let (setting, value) = match &self.host {
            Some(h) => ("host", h.clone()),
            None => match std::env::var("DOCKER_HOST") {
                Ok(v) if !v.trim().is_empty() => ("DOCKER_HOST", v.trim().to_owned()),
                _ => ("default", DEFAULT_HOST.to_owned()),
            },
        };
        let ep = parse_host(&value).map_err(|e| {
            Failure::unknown(
                Reason::new(&HOST)
                    .with("setting", setting)
                    .with("value", &value)
                    .with("error", e.to_string()),
            )
        })?;
        // The Docker CLI speaks TLS to a tcp:// daemon when this is set.
        let tls = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty());
        if tls && matches!(ep, Endpoint::Tcp(_)) {
            return Err(Failure::unknown(Reason::new(&TLS_UNSUPPORTED)));
        }
        Ok(ep)
    }

    /// The list request: containers of every state, filtered by the
    /// daemon to (a superset of) the check's.
    fn list_path(&self) -> String {
        let filters = match (&self.name, &self.compose) {
            (Some(n), _) => serde_json::json!({"name": [n.trim_start_matches('/')]}),
            (_, Some(c)) => serde_json::json!({"label": [
                format!("{PROJECT_LABEL}={}", c.project),
                format!("{SERVICE_LABEL}={}", c.service),
            ]}),
            _ => serde_json::json!({}),
        };
        format!(
            "/containers/json?all=1&filters={}",
            query_escape(&filters.to_string())
        )
    }

    /// The check's containers among those listed: the daemon's name
    /// filter matches parts of names, so the name is compared whole here;
    /// a compose service's one-off containers (`compose run`) are not its
    /// service.
    fn chosen(&self, listed: Vec<Listed>) -> Vec<Listed> {
        let mut out: Vec<Listed> = listed
            .into_iter()
            .filter(|c| match (&self.name, &self.compose) {
                (Some(n), _) => {
                    let n = n.trim_start_matches('/');
                    c.names.iter().any(|x| x.trim_start_matches('/') == n)
                }
                (_, Some(comp)) => {
                    let labels = c.labels.clone().unwrap_or_default();
                    labels.get(PROJECT_LABEL) == Some(&comp.project)
                        && labels.get(SERVICE_LABEL) == Some(&comp.service)
                        && !labels
                            .get(ONEOFF_LABEL)
                            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
                }
                _ => false,
            })
            .collect();
        out.sort_by(|a, b| a.names.first().cmp(&b.names.first()));
        out
    }

    fn not_found(&self) -> Failure {
        let r = match (&self.name, &self.compose) {
            (Some(n), _) => Reason::new(&NOT_FOUND).with("name", n.trim_start_matches('/')),
            (_, Some(c)) => Reason::new(&COMPOSE_NOT_FOUND)
                .with("project", &c.project)
                .with("service", &c.service),
            _ => Reason::new(&NOT_FOUND).with("name", ""),
        };
        Failure::fail(r).shown(crate::values::reason::said(
            &crate::values::reason::common::V_MISSING,
        ))
    }

    async fn talk(&self, ep: &Endpoint) -> Result<Vec<Inspect>, ApiError> {
        let mut api = Api::connect(ep).await?;
        let listed: Vec<Listed> = api.get(&self.list_path()).await?;
        let mut out = Vec::new();
        for c in self.chosen(listed) {
            match api
                .get::<Inspect>(&format!("/containers/{}/json", query_escape(&c.id)))
                .await
            {
                Ok(i) => out.push(i),
                // Removed between the list and now: as if never listed.
                Err(ApiError::Status { status: 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let ep = self.endpoint()?;
        let address = ep.address();
        let found = match ctx.deadline.within(self.talk(&ep)).await {
            Err(o) => {
                return Err(
                    Failure::fail(o.reason(&TIMEOUT).with("address", &address)).shown(
                        crate::values::reason::said(&crate::values::reason::common::V_TIMEOUT),
                    ),
                );
            }
            Ok(Err(e)) => return Err(api_failure(&address, e)),
            Ok(Ok(found)) => found,
        };
        if found.is_empty() {
            return Err(self.not_found());
        }
        let previous = ctx.previous.metric("restarts_total");
        Ok(self.evaluate(&found, previous, &ctx.now))
    }

    /// What the containers' inspection says, judged against the check.
    fn evaluate(
        &self,
        found: &[Inspect],
        previous: Option<f64>,
        now: &DateTime<FixedOffset>,
    ) -> Measurement {
        let mut m = Measurement::new(if found.len() == 1 {
            value_of(&found[0], now)
        } else {
            let running = found.iter().filter(|c| c.state.status == "running").count();
            crate::values::reason::say(
                &Reason::new(&V_REPLICAS)
                    .with("running", running)
                    .with("total", found.len()),
            )
        });
        for c in found {
            let name = c.display_name();
            m.detail.push(
                Reason::new(&D_CONTAINER)
                    .with("container", name)
                    .with("id", short_id(&c.id))
                    .with("state", &c.state.status)
                    .with_opt("health", c.health())
                    .with("image", c.image())
                    .with_opt(
                        "started",
                        c.state
                            .started_at
                            .as_deref()
                            .filter(|_| c.started().is_some()),
                    )
                    .into(),
            );
            self.judge_one(c, &mut m);
        }

        let total: i64 = found.iter().map(|c| c.restart_count.max(0)).sum();
        let total = total as f64;
        let (growth, since_previous) = match previous {
            Some(p) if total >= p => (total - p, true),
            _ => (total, false),
        };
        let who = if found.len() == 1 {
            found[0].display_name().to_owned()
        } else {
            match &self.compose {
                Some(c) => format!("{}/{}", c.project, c.service),
                None => found[0].display_name().to_owned(),
            }
        };
        m.detail.push(
            if since_previous {
                Reason::new(&D_RESTARTS).with("restarts", growth as i64)
            } else {
                Reason::new(&D_RESTARTS_CREATED)
            }
            .with("total", total as i64)
            .into(),
        );
        m = m
            .metric(
                Metric::new("restarts", growth, Unit::Count, Direction::HigherIsWorse)
                    .held(&self.restarts)
                    .extra()
                    .worded(
                        if since_previous {
                            &RESTARTS
                        } else {
                            &RESTARTS_CREATED
                        },
                        vec![("container", who.into())],
                    ),
            )
            .metric(
                Metric::new(
                    "restarts_total",
                    total,
                    Unit::Count,
                    Direction::HigherIsWorse,
                )
                .extra(),
            );
        m
    }

    /// One container's state, health and image against the check.
    fn judge_one(&self, c: &Inspect, m: &mut Measurement) {
        let name = c.display_name();
        let state = c.state.status.as_str();
        if state != self.state {
            let r = Reason::new(&STATE)
                .with("container", name)
                .with("state", state)
                .with("want", &self.state)
                .with_opt(
                    "exit_code",
                    c.state
                        .exit_code
                        .filter(|x| *x != 0 && matches!(state, "exited" | "dead")),
                )
                .with_opt(
                    "restarts",
                    (state == "restarting" && c.restart_count > 0).then_some(c.restart_count),
                );
            m.observe(Status::Fail, r);
        } else if state == "running" && self.health != Some(HealthWant::Ignore) {
            match c.health() {
                Some("healthy") => {}
                Some("starting") => m.observe(
                    Status::Warn,
                    Reason::new(&HEALTH_STARTING).with("container", name),
                ),
                Some(_) => {
                    let h = c.state.health.as_ref();
                    let streak = h.map(|h| h.failing_streak).filter(|s| *s > 0);
                    m.observe(
                        Status::Fail,
                        Reason::new(&UNHEALTHY)
                            .with("container", name)
                            .with_opt("streak", streak),
                    );
                    if let Some(last) = h.and_then(|h| h.log.as_ref()).and_then(|l| l.last()) {
                        m.detail.push(
                            Reason::new(&D_HEALTH_LOG)
                                .with("container", name)
                                .with("exit_code", last.exit_code)
                                .into(),
                        );
                        let out = one_line(&last.output, 200);
                        if !out.is_empty() {
                            m.detail.push(Detail::raw(out));
                        }
                    }
                }
                None if self.health == Some(HealthWant::Healthy) => m.observe(
                    Status::Fail,
                    Reason::new(&NO_HEALTHCHECK).with("container", name),
                ),
                None => {}
            }
        }
        if let Some(want) = &self.image
            && !image_matches(want, c.image())
        {
            m.observe(
                Status::Fail,
                Reason::new(&IMAGE)
                    .with("container", name)
                    .with("image", c.image())
                    .with("want", want),
            );
        }
    }
}

/// An id as `docker ps` shows it (12 characters).
fn short_id(id: &str) -> &str {
    id.char_indices().nth(12).map_or(id, |(i, _)| &id[..i])
}

/// What the value column shows for one container.
fn value_of(c: &Inspect, now: &DateTime<FixedOffset>) -> String {
    let state = c.state.status.as_str();
    let r = match (state, c.state.exit_code) {
        ("exited" | "dead", Some(code)) => Reason::new(&V_EXITED)
            .with("state", state)
            .with("exit_code", code),
        _ => {
            let uptime = (state == "running")
                .then(|| c.started())
                .flatten()
                .map(|t| (*now - t).num_milliseconds())
                .filter(|ms| *ms >= 0)
                .map(|ms| rounded_uptime(ms as f64));
            let mut r = Reason::new(&V_STATE)
                .with("state", state)
                .with_opt("health", c.health());
            if let Some(ms) = uptime {
                r = r.with_quantity("uptime", ms, Unit::Millis);
            }
            r
        }
    };
    crate::values::reason::say(&r)
}

/// An uptime to its largest whole unit (`3h`, not `3.2h`), as `docker ps`
/// says `Up 3 hours`.
fn rounded_uptime(ms: f64) -> f64 {
    let unit = [86_400_000.0, 3_600_000.0, 60_000.0, 1000.0]
        .into_iter()
        .find(|u| ms >= *u)
        .unwrap_or(1.0);
    (ms / unit).floor() * unit
}

/// Splits a reference into its repository and its tag or digest (either
/// may be absent), normalized the way Docker does: `docker.io/` and
/// `library/` left out, so `redis`, `library/redis` and
/// `docker.io/library/redis` are one repository.
fn split_image(reference: &str) -> (String, Option<String>) {
    let r = reference.trim();
    let (name, digest) = match r.split_once('@') {
        Some((n, d)) => (n, Some(format!("@{d}"))),
        None => (r, None),
    };
    // A tag is after the last `:` that comes after the last `/`
    // (`registry:5000/app` has a port, not a tag).
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[slash..].rfind(':') {
        Some(i) => (&name[..slash + i], Some(name[slash + i + 1..].to_owned())),
        None => (name, None),
    };
    let repo = repo.strip_prefix("docker.io/").unwrap_or(repo);
    let repo = repo.strip_prefix("index.docker.io/").unwrap_or(repo);
    let repo = repo.strip_prefix("library/").unwrap_or(repo);
    // With both (`redis:7@sha256:…`), the digest decides.
    (repo.to_owned(), digest.or(tag))
}

/// Whether the container's image reference `have` is the `want` of the
/// check: the same repository, and the same tag or digest when `want`
/// names one (`latest` when neither does).
fn image_matches(want: &str, have: &str) -> bool {
    let (want_repo, want_tag) = split_image(want);
    let (have_repo, have_tag) = split_image(have);
    if want_repo != have_repo {
        return false;
    }
    match want_tag {
        None => true,
        Some(t) => have_tag.unwrap_or_else(|| "latest".into()) == t,
    }
}

/// A failed conversation, as the check's result: no daemon, or one that
/// cannot be asked, is `unknown` (the check could not be carried out).
fn api_failure(address: &str, e: ApiError) -> Failure {
    let at = |code| Reason::new(code).with("address", address);
    Failure::unknown(match e {
        ApiError::Connect(e) => match e.kind() {
            io::ErrorKind::NotFound => at(&NO_SOCKET),
            io::ErrorKind::ConnectionRefused => at(&REFUSED),
            io::ErrorKind::PermissionDenied => at(&PERMISSION),
            _ => at(&IO).with("error", crate::values::io_reason(&e)),
        },
        ApiError::TooBig => at(&TOO_BIG).with_quantity("limit", MAX_BODY as f64, Unit::Bytes),
        ApiError::Status { status, message } => {
            at(&API).with("status", status).with_opt("message", message)
        }
        ApiError::Json(e) => at(&NOT_API).with("error", one_line(&e.to_string(), 200)),
        e @ (ApiError::Http(_) | ApiError::Body(_)) => {
            at(&IO).with("error", one_line(&e.to_string(), 200))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::harness::{kind, now, said, status};
    use crate::values::reason::Param;

    fn inspect(json: &str) -> Inspect {
        serde_json::from_str(json).unwrap()
    }

    /// A container as Podman's compat API inspects it.
    fn running_podman(health: &str, restarts: i64) -> Inspect {
        inspect(&format!(
            r#"{{"Id": "4728d57bf154fd0e80c76d2c0b04f8", "Name": "/web", "RestartCount": {restarts},
                "State": {{"Status": "running", "ExitCode": 0,
                          "StartedAt": "2025-10-21T02:59:48.259845132+09:00",
                          "Health": {{"Status": "{health}", "FailingStreak": 2,
                                     "Log": [{{"ExitCode": 1, "Output": "curl: (7) refused\n"}}]}}}},
                "Config": {{"Image": "localhost/bb:1", "Labels": {{}}}}}}"#
        ))
    }

    fn c(yaml: &str) -> Container {
        kind(yaml).unwrap()
    }

    #[test]
    fn loads_and_refuses() {
        assert!(kind::<Container>("name: web").is_ok());
        assert!(kind::<Container>("compose: {project: shop, service: web}").is_ok());
        let e = kind::<Container>("{}").unwrap_err();
        assert!(e.contains("`name`"), "{e}");
        let e = kind::<Container>("name: a\ncompose: {project: p, service: s}").unwrap_err();
        assert!(e.contains("only one"), "{e}");
        let e = kind::<Container>("name: a\nstate: runing").unwrap_err();
        assert!(e.contains("did you mean `running`"), "{e}");
        let e = kind::<Container>("name: a\nhost: ssh://me@box").unwrap_err();
        assert!(e.contains("ssh:// scheme is not supported"), "{e}");
        let e = kind::<Container>("name: a\nhealth: yes").unwrap_err();
        assert!(e.contains("healthy"), "{e}");
        let e = kind::<Container>("name: a\nstate: exited\nhealth: healthy").unwrap_err();
        assert!(e.contains("state: running"), "{e}");
        let e = kind::<Container>("name: a\nrestarts: {warn: 5, fail: 1}").unwrap_err();
        assert!(e.contains("warn"), "{e}");
    }

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("unix:///run/podman/podman.sock"),
            Ok(Endpoint::Unix("/run/podman/podman.sock".into()))
        );
        assert_eq!(
            parse_host("tcp://10.0.0.5:2375"),
            Ok(Endpoint::Tcp("10.0.0.5:2375".into()))
        );
        assert_eq!(
            parse_host("tcp://[::1]:2375/"),
            Ok(Endpoint::Tcp("[::1]:2375".into()))
        );
        assert_eq!(
            parse_host("npipe:////./pipe/docker_engine"),
            Err(HostError::Scheme("npipe".into()))
        );
        assert_eq!(parse_host("tcp://host"), Err(HostError::Malformed));
        assert_eq!(parse_host("unix://relative"), Err(HostError::Malformed));
        assert_eq!(
            parse_host("/var/run/docker.sock"),
            Err(HostError::Malformed)
        );
    }

    #[test]
    fn the_list_filter_is_escaped_and_names_compared_whole() {
        let k = c("name: web");
        assert_eq!(
            k.list_path(),
            "/containers/json?all=1&filters=%7B%22name%22%3A%5B%22web%22%5D%7D"
        );
        let listed: Vec<Listed> = serde_json::from_str(
            r#"[{"Id": "b", "Names": ["/web-2"]}, {"Id": "a", "Names": ["/web"]}]"#,
        )
        .unwrap();
        let ids: Vec<_> = k.chosen(listed).into_iter().map(|l| l.id).collect();
        assert_eq!(ids, ["a"]);

        let k = c("compose: {project: shop, service: web}");
        let listed: Vec<Listed> = serde_json::from_str(
            r#"[{"Id": "r", "Names": ["/shop-web-run-1"], "Labels": {"com.docker.compose.project": "shop",
                 "com.docker.compose.service": "web", "com.docker.compose.oneoff": "True"}},
                {"Id": "2", "Names": ["/shop-web-2"], "Labels": {"com.docker.compose.project": "shop",
                 "com.docker.compose.service": "web"}},
                {"Id": "1", "Names": ["/shop-web-1"], "Labels": {"com.docker.compose.project": "shop",
                 "com.docker.compose.service": "web", "com.docker.compose.oneoff": "False"}}]"#,
        )
        .unwrap();
        let ids: Vec<_> = k.chosen(listed).into_iter().map(|l| l.id).collect();
        assert_eq!(ids, ["1", "2"]);
    }

    #[test]
    fn running_and_healthy_passes_with_uptime() {
        let k = c("name: web");
        let m = k.evaluate(&[running_podman("healthy", 0)], None, &now());
        assert_eq!(status(&m), Status::Pass);
        // No words installed in unit tests: the value's code and params.
        assert!(m.value.starts_with("value.container.state"), "{}", m.value);
        assert!(m.value.contains("health=\"healthy\""), "{}", m.value);
        // 02:59:48 → 09:00:00 is 6h 0m 12s: whole hours.
        assert!(m.value.contains("uptime=21600000"), "{}", m.value);
        assert_eq!(Unit::Millis.format(rounded_uptime(21_612_000.0)), "6h");
        assert_eq!(Unit::Millis.format(rounded_uptime(150_000.0)), "2m");
        let r = said(&m.detail, "container.detail.container").unwrap();
        assert_eq!(r.param("image"), Some(&"localhost/bb:1".into()));
        assert_eq!(m.metrics[0].name, "restarts");
        assert!(!m.metrics[0].headline);
    }

    #[test]
    fn health_rules() {
        let k = c("name: web");
        let m = k.evaluate(&[running_podman("unhealthy", 0)], None, &now());
        assert_eq!(status(&m), Status::Fail);
        let r = &m.observations[0].reason;
        assert_eq!(r.code.code, "container.unhealthy");
        assert_eq!(r.param("streak"), Some(&Param::Int(2)));
        assert!(m.detail.contains(&Detail::raw("curl: (7) refused")));

        let m = k.evaluate(&[running_podman("starting", 0)], None, &now());
        assert_eq!(status(&m), Status::Warn);

        // No healthcheck (Podman's empty status): fine unless required.
        let m = k.evaluate(&[running_podman("", 0)], None, &now());
        assert_eq!(status(&m), Status::Pass);
        let strict = c("name: web\nhealth: healthy");
        let m = strict.evaluate(&[running_podman("", 0)], None, &now());
        assert_eq!(m.observations[0].reason.code.key, "container.health.none");
        let lax = c("name: web\nhealth: ignore");
        let m = lax.evaluate(&[running_podman("unhealthy", 0)], None, &now());
        assert_eq!(status(&m), Status::Pass);
    }

    #[test]
    fn state_rules() {
        let exited = inspect(
            r#"{"Id": "abc", "Name": "/job", "RestartCount": 0,
                "State": {"Status": "exited", "ExitCode": 3, "StartedAt": "0001-01-01T00:00:00Z"},
                "Config": {"Image": "busybox"}}"#,
        );
        let m = c("name: job").evaluate(&[exited], None, &now());
        assert_eq!(status(&m), Status::Fail);
        let r = &m.observations[0].reason;
        assert_eq!(r.code.code, "container.state");
        assert_eq!(r.param("exit_code"), Some(&Param::Int(3)));
        assert!(m.value.starts_with("value.container.exited"), "{}", m.value);
        let exited = inspect(
            r#"{"Id": "abc", "Name": "/job", "State": {"Status": "exited", "ExitCode": 0}}"#,
        );
        let m = c("name: job\nstate: exited").evaluate(&[exited], None, &now());
        assert_eq!(status(&m), Status::Pass);
    }

    #[test]
    fn restarts_grow_since_the_previous_run() {
        let k = c("name: web\nrestarts: {warn: 1, fail: 3}");
        // Previous total 2, now 5: 3 since then.
        let m = k.evaluate(&[running_podman("", 5)], Some(2.0), &now());
        assert_eq!(status(&m), Status::Fail);
        let (growth, total) = (&m.metrics[0], &m.metrics[1]);
        assert_eq!((growth.name.as_str(), growth.value), ("restarts", 3.0));
        assert_eq!(growth.wording.as_ref().unwrap().0.key, "container.restarts");
        assert_eq!((total.name.as_str(), total.value), ("restarts_total", 5.0));
        assert!(total.threshold.is_none());
        // Unchanged: nothing since the previous run.
        let m = k.evaluate(&[running_podman("", 5)], Some(5.0), &now());
        assert_eq!(status(&m), Status::Pass);
        // Recreated (the count went down) or no previous run: the total.
        let m = k.evaluate(&[running_podman("", 1)], Some(5.0), &now());
        assert_eq!(m.metrics[0].value, 1.0);
        assert_eq!(
            m.metrics[0].wording.as_ref().unwrap().0.key,
            "container.restarts.created"
        );
        assert_eq!(status(&m), Status::Warn);
    }

    #[test]
    fn images() {
        assert!(image_matches("redis", "docker.io/library/redis:7-alpine"));
        assert!(image_matches("redis:7-alpine", "redis:7-alpine"));
        assert!(image_matches(
            "library/redis:7",
            "docker.io/library/redis:7"
        ));
        assert!(!image_matches("redis:7", "redis:6"));
        assert!(image_matches("redis:latest", "redis"));
        assert!(image_matches("registry:5000/app", "registry:5000/app:1.2"));
        assert!(!image_matches(
            "registry:5000/app:1.3",
            "registry:5000/app:1.2"
        ));
        assert!(!image_matches("postgres", "redis"));
        assert!(image_matches("app@sha256:ab", "app:1@sha256:ab"));
        let k = c("name: web\nimage: localhost/bb:2");
        let m = k.evaluate(&[running_podman("", 0)], None, &now());
        let r = &m.observations[0].reason;
        assert_eq!(r.code.code, "container.image");
        assert_eq!(r.param("image"), Some(&"localhost/bb:1".into()));
    }

    #[tokio::test]
    async fn no_daemon_is_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("none.sock");
        let k = c(&format!("name: web\nhost: unix://{}", sock.display()));
        let f = crate::check::harness::run(&k, std::time::Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(f.status, Status::Unknown);
        assert_eq!(f.reason.code.key, "container.no_daemon");
        // A socket nobody listens on any more.
        let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        drop(l);
        let f = crate::check::harness::run(&k, std::time::Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(f.reason.code.key, "container.no_daemon.refused");
    }

    #[tokio::test]
    async fn answers_are_bounded_and_api_errors_quoted() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("api.sock");
        let l = tokio::net::UnixListener::bind(&sock).unwrap();
        // First connection: an endless body; second: a 500 with a message;
        // third: never answers.
        tokio::spawn(async move {
            let mut n = 0;
            while let Ok((mut s, _)) = l.accept().await {
                n += 1;
                let mut buf = vec![0; 4096];
                let _ = s.read(&mut buf).await;
                match n {
                    1 => {
                        let _ = s
                            .write_all(
                                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[",
                            )
                            .await;
                        let chunk = vec![b' '; 64 * 1024];
                        while s.write_all(&chunk).await.is_ok() {}
                    }
                    2 => {
                        let body = r#"{"message":"page not found"}"#;
                        let _ = s
                            .write_all(
                                format!(
                                    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\n\r\n{body}",
                                    body.len()
                                )
                                .as_bytes(),
                            )
                            .await;
                        let _ = s.read(&mut buf).await;
                    }
                    _ => std::future::pending::<()>().await,
                }
            }
        });
        let k = c(&format!("name: web\nhost: unix://{}", sock.display()));
        let t = std::time::Duration::from_secs(10);
        let f = crate::check::harness::run(&k, t).await.unwrap_err();
        assert_eq!(f.reason.code.key, "container.io.too_big");
        let f = crate::check::harness::run(&k, t).await.unwrap_err();
        assert_eq!(f.reason.code.code, "container.api");
        assert_eq!(f.reason.param("status"), Some(&Param::Int(500)));
        assert_eq!(f.reason.param("message"), Some(&"page not found".into()));
        let f = crate::check::harness::run(&k, std::time::Duration::from_millis(300))
            .await
            .unwrap_err();
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.reason.code.key, "container.timeout");
    }
}
