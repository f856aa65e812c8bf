//! `http`: request a URL and hold the answer against expectations —
//! status, body text/regex, JSON values, latency. Replaces the seeds'
//! `curl -s http://127.0.0.1:8100/health`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::expect::{JsonExpect, check_json};
use super::{CheckFuture, Ctx, Kind, sections};
use crate::secret;
use crate::values::Size;
use crate::values::outcome::{Outcome, Status};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, format_bytes, format_millis};

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
    #[serde(default, deserialize_with = "crate::values::threshold::millis")]
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

/// Reads a secret named by `*_env` or `*_file`, exactly one of which is set.
pub(crate) fn read_secret(
    ctx: &Ctx,
    env: &Option<String>,
    file: &Option<String>,
    what: &str,
) -> Result<String, String> {
    match (env, file) {
        (Some(e), None) => secret::from_env(e),
        (None, Some(f)) => secret::from_file(&ctx.path(f)),
        _ => Err(format!(
            "{what}: set exactly one of `{what}_env` or `{what}_file`"
        )),
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
        super::legacy(self.check(ctx))
    }

    fn section(&self) -> &'static str {
        sections::SERVICES
    }

    fn target(&self) -> String {
        format!("{} {}", self.method, secret::redact(&self.url))
    }
}

impl Http {
    fn client(&self, ctx: &Ctx) -> Result<reqwest::Client, String> {
        let mut b = reqwest::Client::builder()
            .timeout(ctx.timeout)
            .connect_timeout(ctx.timeout)
            .user_agent(concat!("opsrun/", env!("CARGO_PKG_VERSION")))
            .tls_danger_accept_invalid_certs(self.insecure)
            .redirect(if self.follow_redirects {
                reqwest::redirect::Policy::limited(10)
            } else {
                reqwest::redirect::Policy::none()
            });
        if let Some(ca) = &self.ca_file {
            let path = ctx.path(ca);
            let pem = crate::read_limit::read(&path, crate::read_limit::CERTS).map_err(|e| {
                format!(
                    "cannot read ca_file {}: {}",
                    path.display(),
                    crate::values::io_reason(&e)
                )
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                format!(
                    "ca_file {}: not a PEM certificate bundle ({e})",
                    path.display()
                )
            })?;
            if certs.is_empty() {
                return Err(format!("ca_file {}: no certificate found", path.display()));
            }
            b = b.tls_certs_only(certs);
        }
        b.build()
            .map_err(|e| format!("cannot build HTTP client: {}", error_chain(&e)))
    }

    async fn check(&self, ctx: &Ctx) -> Outcome {
        let client = match self.client(ctx) {
            Ok(c) => c,
            Err(e) => return Outcome::unknown(e),
        };
        let method = match reqwest::Method::from_bytes(self.method.to_ascii_uppercase().as_bytes())
        {
            Ok(m) => m,
            Err(_) => return Outcome::unknown(format!("invalid HTTP method `{}`", self.method)),
        };
        let mut req = client.request(method, &self.url);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        if let Some(b) = &self.body {
            req = req.body(b.clone());
        }
        if let Some(a) = &self.basic_auth {
            match read_secret(ctx, &a.password_env, &a.password_file, "password") {
                Ok(p) => req = req.basic_auth(&a.username, Some(p)),
                Err(e) => return Outcome::unknown(format!("basic_auth: {e}")),
            }
        }
        if let Some(t) = &self.bearer {
            match read_secret(ctx, &t.token_env, &t.token_file, "token") {
                Ok(tok) => req = req.bearer_auth(tok),
                Err(e) => return Outcome::unknown(format!("bearer: {e}")),
            }
        }

        let started = Instant::now();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Outcome::fail(describe_error(&e, ctx)),
        };
        let code = resp.status();
        let mut body = Vec::new();
        let mut truncated = false;
        let mut resp = resp;
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
                    return Outcome::fail(format!(
                        "status {} but the body failed after {}: {}",
                        code.as_u16(),
                        format_bytes(body.len() as f64),
                        describe_error(&e, ctx)
                    ));
                }
            }
        }
        let ms = started.elapsed().as_secs_f64() * 1000.0;

        let reason = code.canonical_reason().unwrap_or("");
        let value = format!("{} {reason} {}", code.as_u16(), format_millis(ms)).replace("  ", " ");
        let mut out = Outcome::pass(value).with_metric("latency", ms, Unit::Millis);
        out = out.with_detail(format!(
            "{} → {} ({} body{})",
            self.target(),
            code,
            format_bytes(body.len() as f64),
            if truncated {
                ", truncated at max_body"
            } else {
                ""
            }
        ));

        if !self.status.accepts(code.as_u16()) {
            out.worsen(
                Status::Fail,
                format!("status {}, expected {}", code.as_u16(), self.status),
            );
            out.detail.push(format!("body: {}", snippet(&body)));
            return out;
        }
        let text = String::from_utf8_lossy(&body);
        if let Some(want) = &self.body_contains
            && !text.contains(want.as_str())
        {
            out.worsen(
                Status::Fail,
                format!(
                    "body does not contain {want:?}{}",
                    if truncated { " (within max_body)" } else { "" }
                ),
            );
            out.detail.push(format!("body: {}", snippet(&body)));
        }
        if let Some(re) = &self.body_regex
            && !re.is_match(&text)
        {
            out.worsen(
                Status::Fail,
                format!("body does not match /{}/", re.as_str()),
            );
            out.detail.push(format!("body: {}", snippet(&body)));
        }
        if let Some(why) = check_json(&body, &self.json) {
            out.worsen(Status::Fail, why);
        }
        if let Some(th) = &self.latency {
            let v = th.eval(ms, Direction::HigherIsWorse);
            if v.status != Status::Pass {
                out.worsen(
                    v.status,
                    format!("latency {} {}", format_millis(ms), v.breach),
                );
            }
            out.threshold = Some(th.clone());
        }
        out
    }
}

fn snippet(body: &[u8]) -> String {
    let t = String::from_utf8_lossy(body);
    let one: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 120 {
        format!("{}…", one.chars().take(120).collect::<String>())
    } else if one.is_empty() {
        "(empty)".into()
    } else {
        one
    }
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

/// Turns a reqwest error into the phrase an on-call engineer needs.
fn describe_error(e: &reqwest::Error, ctx: &Ctx) -> String {
    let chain = error_chain(e);
    let lower = chain.to_ascii_lowercase();
    let phrase = if e.is_timeout() || lower.contains("timed out") {
        format!(
            "timed out after {}",
            format_millis(ctx.timeout.as_secs_f64() * 1000.0)
        )
    } else if lower.contains("connection refused") {
        "connection refused".to_owned()
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
    {
        "cannot resolve host".to_owned()
    } else if lower.contains("certificate") || lower.contains("invalidcertificate") {
        let detail = chain.rsplit(": ").next().unwrap_or("").to_owned();
        format!("TLS certificate rejected ({detail})")
    } else if lower.contains("connection reset") {
        "connection reset by peer".to_owned()
    } else if e.is_connect() {
        format!(
            "cannot connect ({})",
            chain.rsplit(": ").next().unwrap_or("")
        )
    } else {
        chain
            .rsplit(": ")
            .next()
            .unwrap_or("request failed")
            .to_owned()
    };
    secret::redact(&phrase)
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
