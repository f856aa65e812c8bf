//! `http`: request a URL and hold the answer against expectations —
//! status, body text/regex, JSON values, latency. Replaces the seeds'
//! `curl -s http://127.0.0.1:8100/health`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::expect::{JsonExpect, check_json};
use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, Overran, sections};
use crate::secret;
use crate::values::Size;
use crate::values::outcome::Status;
use crate::values::reason::{Code, Param, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, format_millis};

/// The reason catalog entries of `http` (docs/reasons.md).
pub(crate) static CODES: &[&Code] = &[
    &STATUS,
    &BODY_CONTAINS,
    &BODY_CONTAINS_CUT,
    &BODY_REGEX,
    &BODY_FAILED,
    &TIMEOUT,
    &REFUSED,
    &RESOLVE,
    &TLS,
    &RESET,
    &CONNECT,
    &ERROR,
    &CA_UNREADABLE,
    &CA_NOT_PEM,
    &CA_EMPTY,
    &CLIENT,
    &METHOD,
    &SECRET,
    &D_RESPONSE,
    &D_RESPONSE_CUT,
    &D_BODY,
    &D_BODY_EMPTY,
];

// Detail lines (`-v`).
static D_RESPONSE: Code = Code::detail("http.detail.response", "{target} → {status} ({size} body)");
static D_RESPONSE_CUT: Code = Code::detail(
    "http.detail.response_cut",
    "{target} → {status} ({size} body, truncated at max_body)",
);
/// `body`: the start of the body, whitespace folded, cut at 120 characters.
static D_BODY: Code = Code::detail("http.detail.body", "body: {body}");
static D_BODY_EMPTY: Code = Code::detail("http.detail.body_empty", "body: (empty)");

static STATUS: Code = Code::new("http.status", "status {got}, expected {want:or}");
static BODY_CONTAINS: Code = Code::new("http.body_contains", "body does not contain {want:q}");
static BODY_CONTAINS_CUT: Code = Code::variant(
    "http.body_contains.max_body",
    "http.body_contains",
    "body does not contain {want:q} (within max_body)",
);
static BODY_REGEX: Code = Code::new("http.body_regex", "body does not match /{regex}/");
static BODY_FAILED: Code = Code::new(
    "http.body_failed",
    "status {got} but the body failed after {read}: {error}",
);
static TIMEOUT: Code = Code::variant("http.timeout", "timeout", "timed out after {after}");
static REFUSED: Code = Code::new("http.refused", "connection refused");
static RESOLVE: Code = Code::new("http.resolve", "cannot resolve host");
static TLS: Code = Code::new("http.tls", "TLS certificate rejected ({error})");
static RESET: Code = Code::new("http.reset", "connection reset by peer");
static CONNECT: Code = Code::new("http.connect", "cannot connect ({error})");
static ERROR: Code = Code::new("http.error", "{error}");
static CA_UNREADABLE: Code = Code::new("http.ca_file", "cannot read ca_file {path}: {error}");
static CA_NOT_PEM: Code = Code::variant(
    "http.ca_file.not_pem",
    "http.ca_file",
    "ca_file {path}: not a PEM certificate bundle ({error})",
);
static CA_EMPTY: Code = Code::variant(
    "http.ca_file.empty",
    "http.ca_file",
    "ca_file {path}: no certificate found",
);
static CLIENT: Code = Code::new("http.client", "cannot build HTTP client: {error}");
static METHOD: Code = Code::new("http.method", "invalid HTTP method `{method}`");
static SECRET: Code = Code::new("http.secret", "{field}: {error}");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    url: String,
    #[serde(default = "default_method")]
    method: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    basic_auth: Option<BasicAuth>,
    bearer: Option<Bearer>,
    #[serde(default)]
    status: StatusSpec,
    body_contains: Option<String>,
    #[serde(default, with = "opt_regex")]
    body_regex: Option<regex::Regex>,
    #[serde(default)]
    json: JsonExpect,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::millis")]
    latency: Option<Threshold>,
    #[serde(default)]
    insecure: bool,
    ca_file: Option<String>,
    #[serde(default = "yes")]
    follow_redirects: bool,
    #[serde(default = "default_max_body")]
    max_body: Size,
}

fn default_method() -> String {
    "GET".into()
}
fn yes() -> bool {
    true
}
fn default_max_body() -> Size {
    Size(1024 * 1024)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicAuth {
    username: String,
    password_env: Option<String>,
    password_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bearer {
    token_env: Option<String>,
    token_file: Option<String>,
}

/// Reads a secret named by `*_env` or `*_file`, exactly one of which is
/// set; why it cannot is a reason (`secret.*`) the caller nests in its own.
pub(crate) fn read_secret(
    ctx: &Ctx,
    env: &Option<String>,
    file: &Option<String>,
    what: &'static str,
) -> Result<String, Reason> {
    match (env, file) {
        (Some(e), None) => secret::from_env(e).map_err(|e| e.reason()),
        (None, Some(f)) => secret::from_file(&ctx.path(f)).map_err(|e| e.reason()),
        _ => Err(Reason::new(&secret::NOT_ONE).with("field", what)),
    }
}

/// Serde helper: a regex field compiled at load time so a bad pattern is a
/// load error with its location.
pub(crate) mod opt_regex {
    use serde::{Deserialize, Deserializer, de};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<regex::Regex>, D::Error> {
        let s = String::deserialize(d)?;
        regex::RegexBuilder::new(&s)
            .size_limit(1 << 20)
            .build()
            .map(Some)
            .map_err(|e| {
                de::Error::custom(format!(
                    "invalid regex `{s}`: {}",
                    first_line(&e.to_string())
                ))
            })
    }

    fn first_line(s: &str) -> String {
        let l = s.lines().last().unwrap_or(s).trim();
        l.strip_prefix("error: ").unwrap_or(l).to_owned()
    }
}

/// Accepted HTTP statuses: `200`, `[200, 204]`, `2xx`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StatusSpec(Vec<StatusPat>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StatusPat {
    Exact(u16),
    Class(u16),
}

impl Default for StatusSpec {
    fn default() -> Self {
        StatusSpec(vec![StatusPat::Exact(200)])
    }
}

impl StatusSpec {
    fn accepts(&self, code: u16) -> bool {
        self.0.iter().any(|p| match p {
            StatusPat::Exact(c) => *c == code,
            StatusPat::Class(c) => code / 100 == *c,
        })
    }
}

impl StatusSpec {
    /// The accepted statuses as reason parameters: codes as numbers,
    /// classes as text (`[200, "2xx"]`).
    fn param(&self) -> Param {
        Param::List(
            self.0
                .iter()
                .map(|p| match p {
                    StatusPat::Exact(c) => Param::from(*c),
                    StatusPat::Class(c) => Param::from(format!("{c}xx")),
                })
                .collect(),
        )
    }
}

impl fmt::Display for StatusSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|p| match p {
                StatusPat::Exact(c) => c.to_string(),
                StatusPat::Class(c) => format!("{c}xx"),
            })
            .collect();
        f.write_str(&parts.join(" or "))
    }
}

fn parse_status_pat<E: de::Error>(s: &str) -> Result<StatusPat, E> {
    let t = s.trim();
    let bad = || {
        E::custom(format!(
            "invalid status `{s}`: expected a code like 200, a class like 2xx, or a list"
        ))
    };
    if let Some(c) = t.strip_suffix("xx").or_else(|| t.strip_suffix("XX")) {
        let c: u16 = c.parse().map_err(|_| bad())?;
        if (1..=5).contains(&c) {
            return Ok(StatusPat::Class(c));
        }
        return Err(bad());
    }
    let c: u16 = t.parse().map_err(|_| bad())?;
    if (100..=599).contains(&c) {
        Ok(StatusPat::Exact(c))
    } else {
        Err(bad())
    }
}

impl<'de> Deserialize<'de> for StatusSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StatusSpec, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatusSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status like 200, a class like 2xx, or a list like [200, 204]")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusSpec, E> {
                Ok(StatusSpec(vec![parse_status_pat(&v.to_string())?]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusSpec, E> {
                Ok(StatusSpec(vec![parse_status_pat(&v.to_string())?]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusSpec, E> {
                Ok(StatusSpec(vec![parse_status_pat(v)?]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<StatusSpec, A::Error> {
                let mut out = Vec::new();
                while let Some(t) = s.next_element::<crate::values::Text>()? {
                    out.push(parse_status_pat(&t.0)?);
                }
                if out.is_empty() {
                    return Err(de::Error::custom("an empty status list accepts nothing"));
                }
                Ok(StatusSpec(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl Kind for Http {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }

    fn section(&self) -> &'static str {
        sections::SERVICES
    }

    fn target(&self) -> String {
        format!("{} {}", self.method, secret::redact(&self.url))
    }
}

impl Http {
    fn client(&self, ctx: &Ctx) -> Result<reqwest::Client, Failure> {
        let mut b = reqwest::Client::builder()
            .timeout(ctx.deadline.remaining())
            .connect_timeout(ctx.deadline.remaining())
            .user_agent(concat!("opsrun/", env!("CARGO_PKG_VERSION")))
            .tls_danger_accept_invalid_certs(self.insecure)
            .redirect(if self.follow_redirects {
                reqwest::redirect::Policy::limited(10)
            } else {
                reqwest::redirect::Policy::none()
            });
        if let Some(ca) = &self.ca_file {
            let path = ctx.path(ca);
            let at = |code| Reason::new(code).with("path", path.display().to_string());
            let pem = crate::read_limit::read(&path, crate::read_limit::CERTS).map_err(|e| {
                Failure::unknown(at(&CA_UNREADABLE).with("error", crate::values::io_reason(&e)))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Failure::unknown(at(&CA_NOT_PEM).with("error", e.to_string())))?;
            if certs.is_empty() {
                return Err(Failure::unknown(at(&CA_EMPTY)));
            }
            b = b.tls_certs_only(certs);
        }
        b.build()
            .map_err(|e| Failure::unknown(Reason::new(&CLIENT).with("error", error_chain(&e))))
    }

    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let client = self.client(ctx)?;
        let method = reqwest::Method::from_bytes(self.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| Failure::unknown(Reason::new(&METHOD).with("method", &self.method)))?;
        let mut req = client.request(method, &self.url);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        if let Some(b) = &self.body {
            req = req.body(b.clone());
        }
        let secret_failure = |field: &str, e: Reason| {
            Failure::unknown(Reason::new(&SECRET).with("field", field).with("error", e))
        };
        if let Some(a) = &self.basic_auth {
            let p = read_secret(ctx, &a.password_env, &a.password_file, "password")
                .map_err(|e| secret_failure("basic_auth", e))?;
            req = req.basic_auth(&a.username, Some(p));
        }
        if let Some(t) = &self.bearer {
            let tok = read_secret(ctx, &t.token_env, &t.token_file, "token")
                .map_err(|e| secret_failure("bearer", e))?;
            req = req.bearer_auth(tok);
        }

        let started = Instant::now();
        let mut resp = req
            .send()
            .await
            .map_err(|e| Failure::fail(describe_error(&e, ctx)))?;
        let code = resp.status();
        let mut body = Vec::new();
        let mut truncated = false;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    let room = (self.max_body.0 as usize).saturating_sub(body.len());
                    if chunk.len() > room {
                        body.extend_from_slice(&chunk[..room]);
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    let cause = describe_error(&e, ctx);
                    return Err(Failure::fail(
                        Reason::new(&BODY_FAILED)
                            .with("got", code.as_u16())
                            .with_quantity("read", body.len() as f64, Unit::Bytes)
                            .with("error", crate::values::reason::say(&cause)),
                    ));
                }
            }
        }
        let ms = started.elapsed().as_secs_f64() * 1000.0;

        let reason = code.canonical_reason().unwrap_or("");
        let value = format!("{} {reason} {}", code.as_u16(), format_millis(ms)).replace("  ", " ");
        let mut m = Measurement::new(value)
            .metric(
                Metric::new("latency", ms, Unit::Millis, Direction::HigherIsWorse)
                    .held(&self.latency)
                    .says(format!("latency {}", format_millis(ms))),
            )
            .detail(
                Reason::new(if truncated {
                    &D_RESPONSE_CUT
                } else {
                    &D_RESPONSE
                })
                .with("target", self.target())
                .with("status", code.to_string())
                .with_quantity("size", body.len() as f64, Unit::Bytes),
            );

        if !self.status.accepts(code.as_u16()) {
            // A wrong status says it all: the body is shown, not judged,
            // and the latency is not held against its threshold.
            m.observe(
                Status::Fail,
                Reason::new(&STATUS)
                    .with("got", code.as_u16())
                    .with("want", self.status.param()),
            );
            m.metrics[0].threshold = None;
            return Ok(m.detail(snippet(&body)));
        }
        let text = String::from_utf8_lossy(&body);
        if let Some(want) = &self.body_contains
            && !text.contains(want.as_str())
        {
            let code = if truncated {
                &BODY_CONTAINS_CUT
            } else {
                &BODY_CONTAINS
            };
            m.observe(Status::Fail, Reason::new(code).with("want", want));
            m = m.detail(snippet(&body));
        }
        if let Some(re) = &self.body_regex
            && !re.is_match(&text)
        {
            m.observe(
                Status::Fail,
                Reason::new(&BODY_REGEX).with("regex", re.as_str()),
            );
            m = m.detail(snippet(&body));
        }
        if let Some(why) = check_json(&body, &self.json) {
            m.observe(Status::Fail, why);
        }
        Ok(m)
    }
}

fn snippet(body: &[u8]) -> Reason {
    let t = String::from_utf8_lossy(body);
    let one: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.is_empty() {
        return Reason::new(&D_BODY_EMPTY);
    }
    let body = if one.chars().count() > 120 {
        format!("{}…", one.chars().take(120).collect::<String>())
    } else {
        one
    };
    Reason::new(&D_BODY).with("body", body)
}

/// Every message in an error's source chain, without repeats.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// Turns a reqwest error into the reason an on-call engineer needs.
fn describe_error(e: &reqwest::Error, ctx: &Ctx) -> Reason {
    let chain = error_chain(e);
    let lower = chain.to_ascii_lowercase();
    let last = || secret::redact(chain.rsplit(": ").next().unwrap_or(""));
    if e.is_timeout() || lower.contains("timed out") {
        Overran {
            after: ctx.deadline.budget(),
        }
        .reason(&TIMEOUT)
    } else if lower.contains("connection refused") {
        Reason::new(&REFUSED)
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
    {
        Reason::new(&RESOLVE)
    } else if lower.contains("certificate") || lower.contains("invalidcertificate") {
        Reason::new(&TLS).with("error", last())
    } else if lower.contains("connection reset") {
        Reason::new(&RESET)
    } else if e.is_connect() {
        Reason::new(&CONNECT).with("error", last())
    } else {
        let l = last();
        Reason::new(&ERROR).with(
            "error",
            if l.is_empty() {
                "request failed".into()
            } else {
                l
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_spec() {
        let s: StatusSpec = serde_saphyr::from_str("[200, 2xx, \"301\"]").unwrap();
        assert!(s.accepts(204));
        assert!(s.accepts(301));
        assert!(!s.accepts(404));
        let s: StatusSpec = serde_saphyr::from_str("503").unwrap();
        assert!(s.accepts(503));
        assert!(serde_saphyr::from_str::<StatusSpec>("700").is_err());
        assert!(serde_saphyr::from_str::<StatusSpec>("6xx").is_err());
        assert_eq!(StatusSpec::default().to_string(), "200");
    }
}
