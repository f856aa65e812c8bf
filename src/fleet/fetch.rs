//! Asking Prometheus: two instant queries (`GET /api/v1/query`) — the
//! opsrun series the report reads, and `up` — under one deadline
//! (`--timeout`), each answer read up to a bound. Every way it can go
//! wrong is a [`FetchError`], worded once by its `Display` as the
//! command's `error:` line.

use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use super::{Fleet, Sample};

/// The series the report reads (not durations: a fleet of a thousand
/// hosts need not send them).
const SERIES: &str = "opsrun_(check_status|check_value|run_status|run_last_run_timestamp_seconds|\
                      run_last_success_timestamp_seconds|cert_not_after_timestamp_seconds|\
                      backup_last_timestamp_seconds)";

/// The instant-query endpoint, under the server's URL.
const PATH: &str = "/api/v1/query";

/// An answer larger than this is refused rather than held in memory
/// (ten thousand hosts' series fit in a few MiB).
const MAX_ANSWER: usize = 64 << 20;

/// What to ask.
#[derive(Clone, Debug)]
pub(crate) struct Query<'a> {
    /// The server's base URL (`http://prometheus:9090`, or with the path
    /// prefix it is served under).
    pub url: &'a str,
    /// A label selector, `{job="node"}`.
    pub matcher: Option<&'a str>,
    /// For everything, connecting and both answers included.
    pub timeout: Duration,
    pub at: DateTime<FixedOffset>,
    pub stale_after: Duration,
}

/// Why there is no fleet report.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error(
        "--prometheus: expected an http:// or https:// URL like http://127.0.0.1:9090, got `{url}`"
    )]
    NotHttp { url: String },
    #[error("--match: expected a label selector in braces like {{job=\"node\"}}, got `{given}`")]
    BadMatch { given: String },
    #[error("cannot reach Prometheus at {url}: {}", chain(error))]
    Unreachable {
        url: String,
        #[source]
        error: reqwest::Error,
    },
    #[error("Prometheus at {url} did not answer within {} (--timeout)", humantime::format_duration(*after))]
    Timeout { url: String, after: Duration },
    #[error(
        "{url} answered HTTP {status} to {path}: not a Prometheus server's API{}",
        excerpt(body)
    )]
    Http {
        url: String,
        path: &'static str,
        status: u16,
        body: String,
    },
    #[error(
        "{url} answered {path} with something that is not Prometheus's API ({error}): is it the Prometheus server's URL?"
    )]
    NotApi {
        url: String,
        path: &'static str,
        #[source]
        error: serde_json::Error,
    },
    #[error("{url}'s answer is larger than {} MiB", MAX_ANSWER >> 20)]
    TooLarge { url: String },
    #[error(
        "Prometheus refused the query{}: {error} ({error_type}, HTTP {status})",
        matcher.as_ref().map(|m| format!(" of --match {m}")).unwrap_or_default()
    )]
    Refused {
        matcher: Option<String>,
        status: u16,
        error_type: String,
        error: String,
    },
    #[error(
        "no opsrun_* series in Prometheus at {url}{}: is node_exporter's textfile collector reading the file of `opsrun … --output prometheus=PATH`, and is it scraped?",
        matcher.as_ref().map(|m| format!(" matching {m}")).unwrap_or_default()
    )]
    NoSeries {
        url: String,
        matcher: Option<String>,
    },
}

/// An error and its causes, each said once (`error sending request: …:
/// Connection refused`).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    crate::secret::redact(&parts.join(": "))
}

/// The start of a body that is not the API's, on one line.
fn excerpt(body: &str) -> String {
    let line = crate::values::units::one_line(body.trim(), 120);
    if line.is_empty() {
        String::new()
    } else {
        format!(" ({line})")
    }
}

/// The inside of `{…}`, trimmed; `None` for no selector or `{}`.
fn selector(given: Option<&str>) -> Result<Option<String>, FetchError> {
    let Some(g) = given.map(str::trim).filter(|g| !g.is_empty()) else {
        return Ok(None);
    };
    let inner = g
        .strip_prefix('{')
        .and_then(|g| g.strip_suffix('}'))
        .ok_or_else(|| FetchError::BadMatch { given: g.into() })?
        .trim();
    Ok((!inner.is_empty()).then(|| inner.to_owned()))
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(default)]
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct VectorSample {
    metric: std::collections::BTreeMap<String, String>,
    value: (f64, String),
}

/// Reads the fleet: the opsrun series and `up` of the selector.
pub(crate) async fn fetch(q: &Query<'_>) -> Result<Fleet, FetchError> {
    let shown = crate::secret::redact(q.url.trim_end_matches('/'));
    if !(q.url.starts_with("http://") || q.url.starts_with("https://")) {
        return Err(FetchError::NotHttp { url: shown });
    }
    let inner = selector(q.matcher)?;
    let base = q
        .url
        .trim_end_matches('/')
        .trim_end_matches(PATH)
        .trim_end_matches('/');
    let endpoint = reqwest::Url::parse(&format!("{base}{PATH}"))
        .map_err(|_| FetchError::NotHttp { url: shown.clone() })?;
    let deadline = Instant::now() + q.timeout;
    let client = reqwest::Client::builder()
        .timeout(q.timeout)
        .connect_timeout(q.timeout)
        .user_agent(concat!("opsrun/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| FetchError::Unreachable {
            url: shown.clone(),
            error,
        })?;
    let extra = inner
        .as_deref()
        .map(|i| format!(",{i}"))
        .unwrap_or_default();
    let opsrun_query = format!("{{__name__=~\"{SERIES}\"{extra}}}");
    let up_query = format!("up{{{}}}", inner.as_deref().unwrap_or(""));
    let ask = |query: String| {
        let client = &client;
        let endpoint = &endpoint;
        let shown = &shown;
        async move {
            instant(
                client,
                endpoint,
                shown,
                &query,
                q.matcher.map(str::trim),
                deadline,
                q.timeout,
            )
            .await
        }
    };
    let opsrun = ask(opsrun_query).await?;
    if opsrun.is_empty() {
        return Err(FetchError::NoSeries {
            url: shown,
            matcher: q.matcher.map(|m| m.trim().to_owned()),
        });
    }
    let up = ask(up_query).await?;
    Ok(Fleet::from_series(
        shown,
        q.matcher.map(|m| m.trim().to_owned()),
        q.at,
        q.stale_after,
        &opsrun,
        &up,
    ))
}

/// One instant query, within what is left of the deadline.
async fn instant(
    client: &reqwest::Client,
    endpoint: &reqwest::Url,
    shown: &str,
    query: &str,
    matcher: Option<&str>,
    deadline: Instant,
    timeout: Duration,
) -> Result<Vec<Sample>, FetchError> {
    let timed_out = || FetchError::Timeout {
        url: shown.to_owned(),
        after: timeout,
    };
    let left = deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(timed_out)?;
    let mut url = endpoint.clone();
    url.query_pairs_mut().append_pair("query", query);
    let sent = client.get(url).timeout(left).send();
    let mut resp = match tokio::time::timeout(left, sent).await {
        Err(_) => return Err(timed_out()),
        Ok(Err(e)) if e.is_timeout() => return Err(timed_out()),
        Ok(Err(error)) => {
            return Err(FetchError::Unreachable {
                url: shown.to_owned(),
                // The URL is in the line already, with its secrets redacted.
                error: error.without_url(),
            });
        }
        Ok(Ok(r)) => r,
    };
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .ok_or_else(timed_out)?;
        match tokio::time::timeout(left, resp.chunk()).await {
            Err(_) => return Err(timed_out()),
            Ok(Err(e)) if e.is_timeout() => return Err(timed_out()),
            Ok(Err(error)) => {
                return Err(FetchError::Unreachable {
                    url: shown.to_owned(),
                    error: error.without_url(),
                });
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(c))) => {
                if body.len() + c.len() > MAX_ANSWER {
                    return Err(FetchError::TooLarge {
                        url: shown.to_owned(),
                    });
                }
                body.extend_from_slice(&c);
            }
        }
    }
    let answer: Answer = match serde_json::from_slice(&body) {
        Ok(a) => a,
        // Prometheus answers every API call in its JSON, errors included;
        // anything else (a 404 page, a proxy's login form) is not it.
        Err(_) if status != 200 => {
            return Err(FetchError::Http {
                url: shown.to_owned(),
                path: PATH,
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        Err(error) => {
            return Err(FetchError::NotApi {
                url: shown.to_owned(),
                path: PATH,
                error,
            });
        }
    };
    if answer.status != "success" {
        return Err(FetchError::Refused {
            matcher: matcher.map(str::to_owned),
            status,
            error_type: answer.error_type.unwrap_or_else(|| "error".into()),
            error: answer.error.unwrap_or_default(),
        });
    }
    let data = answer.data.ok_or_else(|| FetchError::NotApi {
        url: shown.to_owned(),
        path: PATH,
        error: serde::de::Error::missing_field("data"),
    })?;
    if data.result_type != "vector" {
        return Err(FetchError::NotApi {
            url: shown.to_owned(),
            path: PATH,
            error: serde::de::Error::custom(format!(
                "resultType {} where an instant query gives vector",
                data.result_type
            )),
        });
    }
    let samples: Vec<VectorSample> =
        serde_json::from_value(data.result).map_err(|error| FetchError::NotApi {
            url: shown.to_owned(),
            path: PATH,
            error,
        })?;
    Ok(samples
        .into_iter()
        .map(|s| Sample {
            // Prometheus writes NaN and ±Inf as "NaN", "+Inf", "-Inf".
            value: s.value.1.parse().unwrap_or(f64::NAN),
            labels: s.metric,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        assert_eq!(selector(None).unwrap(), None);
        assert_eq!(selector(Some(" {} ")).unwrap(), None);
        assert_eq!(
            selector(Some("{job=\"node\"}")).unwrap().as_deref(),
            Some("job=\"node\"")
        );
        assert!(matches!(
            selector(Some("job=\"node\"")),
            Err(FetchError::BadMatch { .. })
        ));
    }

    #[test]
    fn prometheus_numbers() {
        assert!("NaN".parse::<f64>().unwrap().is_nan());
        assert_eq!("+Inf".parse::<f64>().unwrap(), f64::INFINITY);
        assert_eq!("1.5e3".parse::<f64>().unwrap(), 1500.0);
    }
}
