//! Slack notifications: POST `{"text": …}` to an incoming webhook. The
//! webhook URL is a secret: it is registered for redaction when read, and
//! no error or log line built here contains it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::error::{SecretSource, SendError, Unusable};
use crate::output::notify::Delivery;
use crate::runbook::notify::SlackSpec;

/// A Retry-After longer than this is not waited for: the run has ended
/// and cron is waiting on us.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub(crate) struct Hook {
    url: String,
}

impl Hook {
    /// Reads the webhook URL (and registers it for redaction).
    pub(crate) fn new(spec: &SlackSpec) -> Result<Hook, Unusable> {
        let url = spec.webhook.read()?.trim().to_owned();
        crate::secret::register(&url);
        // The token is the path (`/services/T…/B…/…`): a log line that
        // prints only the path must not show it either.
        if let Some(rest) = url.split_once("://").map(|(_, r)| r)
            && let Some(i) = rest.find('/')
            && rest.len() - i > 8
        {
            crate::secret::register(&rest[i..]);
        }
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Unusable::WebhookNotUrl { from: source(spec) });
        }
        Ok(Hook { url })
    }

    /// Posts `text`; success is a 2xx answer (Slack says `200 ok`). A 429
    /// is retried once after its Retry-After.
    pub(crate) async fn send(self, text: String, timeout: Duration) -> Result<Delivery, SendError> {
        let deadline = Instant::now() + timeout;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            // A redirect would carry the request elsewhere, and its error
            // would name the URL.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("opsrun/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| SendError::Request { error })?;
        let payload = serde_json::json!({ "text": escape(&text) });
        let mut retried = false;
        loop {
            let resp = client
                .post(&self.url)
                .json(&payload)
                .send()
                .await
                .map_err(|error| SendError::Request { error })?;
            let status = resp.status();
            let wait = retry_after(resp.headers());
            let body = resp.text().await.unwrap_or_default();
            if status.is_success() {
                return Ok(Delivery::Webhook {
                    status: status.to_string(),
                    body: short(&body),
                });
            }
            if status == StatusCode::TOO_MANY_REQUESTS && !retried {
                let wait = wait.unwrap_or(Duration::from_secs(1));
                let left = deadline.saturating_duration_since(Instant::now());
                if wait <= MAX_RETRY_AFTER && wait < left {
                    tokio::time::sleep(wait).await;
                    retried = true;
                    continue;
                }
                return Err(SendError::RateLimited { retry_after: wait });
            }
            return Err(SendError::Answered {
                status,
                retried,
                body: short(&body),
            });
        }
    }
}

fn source(spec: &SlackSpec) -> SecretSource {
    match &spec.webhook {
        crate::runbook::notify::Secret::Env(n) => SecretSource::Env(n.clone()),
        crate::runbook::notify::Secret::File(p) => SecretSource::File(p.clone()),
    }
}

fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    h.get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The first line of an answer body, bounded (Slack answers `no_service`,
/// `invalid_payload` …).
fn short(body: &str) -> String {
    let line = body.lines().next().unwrap_or("").trim();
    let mut s: String = line.chars().take(200).collect();
    if s.len() < line.len() {
        s.push('…');
    }
    if s.is_empty() {
        "(empty body)".into()
    } else {
        s
    }
}

/// Slack reads `&`, `<` and `>` as markup; they must be escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(escape("a < b & c > d"), "a &lt; b &amp; c &gt; d");
    }

    #[test]
    fn short_bodies() {
        assert_eq!(short("no_service\n"), "no_service");
        assert_eq!(short(""), "(empty body)");
        assert_eq!(short(&"x".repeat(300)).chars().count(), 201);
    }
}
