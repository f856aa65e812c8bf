//! Why a notification channel cannot send, or a message was not
//! delivered: data only (the server, the status, the library's error as
//! its source). Each is worded once, by its `Display`, in the one
//! `warning: notification … failed: …` line that reports it (a
//! notification never changes a run's result). A timeout is the shared
//! `timeout {after}` reason, in the presentation layer's words.

use std::path::PathBuf;
use std::time::Duration;

use crate::secret::SecretError;
use crate::values::reason::{Reason, common, say};
use crate::values::units::Unit;

/// A channel that cannot send at all (found before the checks run).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unusable {
    /// Its password or webhook URL cannot be read.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The webhook secret holds something else than an http(s) URL.
    #[error("the webhook ({from}) does not hold an http(s) URL")]
    WebhookNotUrl { from: SecretSource },
    /// `ca_file` cannot be read.
    #[error("cannot read ca_file {}: {}", path.display(), crate::values::io_reason(error))]
    CaFile {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
}

/// Where a secret was read from, for a message that must not show it.
#[derive(Debug)]
pub(crate) enum SecretSource {
    Env(String),
    File(PathBuf),
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Env(n) => write!(f, "environment variable {n}"),
            SecretSource::File(p) => write!(f, "file {}", p.display()),
        }
    }
}

/// A message that was not delivered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// The channel's `notify.timeout` ran out.
    #[error("{}", say(&timeout_reason(*after)))]
    Timeout { after: Duration },
    /// The sending task ended without a result (a bug).
    #[error("internal error: {0}")]
    Internal(String),
    /// Slack: the HTTP request failed (connect, timeout, …); the URL is
    /// never part of the words.
    #[error("{}", request_words(error))]
    Request {
        #[source]
        error: reqwest::Error,
    },
    /// Slack: 429 with a Retry-After past the time limit.
    #[error("rate limited (429), retry after {}s is past the notification time limit", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    /// Slack: the webhook answered something else than 2xx.
    #[error("webhook answered {status}{}: {body}", if *retried { " (after one retry)" } else { "" })]
    Answered {
        status: reqwest::StatusCode,
        retried: bool,
        /// The first line of the answer, bounded.
        body: String,
    },
    /// Email: the message cannot be built (an address lettre refuses).
    #[error("cannot build the message: {0}")]
    Message(#[source] lettre::error::Error),
    /// Email: `ca_file` holds no PEM certificate.
    #[error("ca_file is not a PEM certificate: {0}")]
    NotPem(#[source] lettre::transport::smtp::Error),
    /// Email: the TLS parameters cannot be built.
    #[error("TLS setup failed: {0}")]
    TlsSetup(#[source] lettre::transport::smtp::Error),
    /// Email: the SMTP server refused, timed out, failed TLS …
    #[error("{host}:{port} {}: {}", smtp_what(error), without_internal(&error.to_string()))]
    Smtp {
        host: String,
        port: u16,
        #[source]
        error: lettre::transport::smtp::Error,
    },
    /// Email: the sendmail program failed.
    #[error("{}: {}", program.display(), first_line(&error.to_string()))]
    Sendmail {
        program: PathBuf,
        #[source]
        error: lettre::transport::sendmail::Error,
    },
}

/// The shared `timeout` reason for a notification that ran out of time.
pub(crate) fn timeout_reason(after: Duration) -> Reason {
    Reason::new(&common::TIMEOUT).with_quantity("after", after.as_secs_f64() * 1000.0, Unit::Millis)
}

/// What an SMTP error was.
fn smtp_what(e: &lettre::transport::smtp::Error) -> &'static str {
    if e.is_permanent() || e.is_transient() {
        "refused"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_tls() {
        "TLS failed"
    } else {
        "failed"
    }
}

fn without_internal(e: &str) -> &str {
    e.strip_prefix("internal client error: ").unwrap_or(e)
}

/// The first non-empty line of a sendmail error.
fn first_line(e: &str) -> &str {
    without_internal(e)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("failed")
        .trim()
}

/// reqwest's error without its URL: what failed and the innermost cause
/// (`cannot connect: Connection refused`).
fn request_words(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut root = None;
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        root = Some(s.to_string());
        src = s.source();
    }
    let msg = match root {
        Some(r) => format!("{kind}: {r}"),
        None => kind.to_owned(),
    };
    crate::secret::redact(&msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        crate::output::words::install();
        assert_eq!(
            SendError::Timeout {
                after: Duration::from_secs(2)
            }
            .to_string(),
            "timed out after 2s"
        );
        assert_eq!(
            SendError::Answered {
                status: reqwest::StatusCode::NOT_FOUND,
                retried: true,
                body: "no_service".into()
            }
            .to_string(),
            "webhook answered 404 Not Found (after one retry): no_service"
        );
        assert_eq!(
            Unusable::WebhookNotUrl {
                from: SecretSource::Env("SLACK_URL".into())
            }
            .to_string(),
            "the webhook (environment variable SLACK_URL) does not hold an http(s) URL"
        );
    }
}
