//! Email notifications with lettre: SMTP (STARTTLS, implicit TLS, or
//! plain to a local relay; optional login) or a local sendmail program.
//! lettre writes the Japanese subject as RFC 2047 encoded words and the
//! body as UTF-8 in a 7-bit-safe transfer encoding.
//!
//! Every message carries `Date`, `MIME-Version: 1.0` and a `Message-ID`,
//! whichever the transport: lettre's builder adds only `Date` to a plain
//! body (`MIME-Version` only to its MIME bodies, `Message-ID` never), and
//! neither the SMTP client nor sendmail adds the others — an MTA may, but
//! one that does not leaves a mail that spam filters mark down and that
//! threads badly. So the two are set here.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::{self, ContentType};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSendmailTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::error::{SendError, Unusable};
use crate::output::notify::Delivery;
use crate::runbook::notify::{EmailSpec, SmtpSpec, TlsMode, Transport};

/// An email channel with its secrets read, ready to send.
#[derive(Clone)]
pub(crate) struct Mailer {
    to: Vec<Mailbox>,
    from: Option<Mailbox>,
    /// `email.html: true`: send the HTML page beside the text.
    pub(crate) html: bool,
    how: How,
}

#[derive(Clone)]
enum How {
    Smtp {
        spec: SmtpSpec,
        password: Option<String>,
        ca_pem: Option<Vec<u8>>,
    },
    Sendmail(PathBuf),
}

impl Mailer {
    /// Reads the password and CA file now, so a missing secret is known
    /// (and the password registered for redaction) before anything runs.
    pub(crate) fn new(spec: &EmailSpec) -> Result<Mailer, Unusable> {
        let how = match &spec.transport {
            Transport::Smtp(s) => How::Smtp {
                password: s.password.as_ref().map(|p| p.read()).transpose()?,
                ca_pem: s
                    .ca_file
                    .as_ref()
                    .map(|p| {
                        crate::read_limit::read(p, crate::read_limit::CERTS).map_err(|error| {
                            Unusable::CaFile {
                                path: p.clone(),
                                error,
                            }
                        })
                    })
                    .transpose()?,
                spec: s.clone(),
            },
            Transport::Sendmail(p) => How::Sendmail(p.clone()),
        };
        Ok(Mailer {
            to: spec.to.clone(),
            from: spec.from.clone(),
            html: spec.html,
            how,
        })
    }

    /// The recipients' addresses, for `-v`.
    fn recipients(&self) -> Vec<String> {
        self.to.iter().map(|m| m.email.to_string()).collect()
    }

    /// Sends one message; `host` gives the default sender `opsrun@host`.
    /// With `html` (the page of `-f html`), the message is
    /// `multipart/alternative`: the text first, the HTML last, so a
    /// reader that shows HTML shows the page and any other the text.
    pub(crate) async fn send(
        self,
        subject: String,
        body: String,
        html: Option<String>,
        host: String,
        timeout: Duration,
    ) -> Result<Delivery, SendError> {
        let from = self.from.clone().unwrap_or_else(|| default_from(&host));
        let mut b = Message::builder()
            .from(from)
            .subject(subject)
            .header(header::MIME_VERSION_1_0)
            .message_id(Some(message_id(&host)));
        for t in &self.to {
            b = b.to(t.clone());
        }
        let msg = match html {
            Some(page) => b.multipart(MultiPart::alternative_plain_html(body, page)),
            None => b.header(ContentType::TEXT_PLAIN).body(body),
        }
        .map_err(SendError::Message)?;
        match &self.how {
            How::Smtp {
                spec,
                password,
                ca_pem,
            } => {
                let transport =
                    smtp_transport(spec, password.as_deref(), ca_pem.as_deref(), timeout)?;
                let answer = transport.send(msg).await.map_err(|error| SendError::Smtp {
                    host: spec.host.clone(),
                    port: spec.port,
                    error,
                })?;
                let text: Vec<&str> = answer.message().collect();
                Ok(Delivery::Smtp {
                    to: self.recipients(),
                    host: spec.host.clone(),
                    port: spec.port,
                    tls: spec.tls,
                    code: answer.code().to_string(),
                    text: text.join(" "),
                })
            }
            How::Sendmail(path) => {
                let t = AsyncSendmailTransport::<Tokio1Executor>::new_with_command(path);
                t.send(msg).await.map_err(|error| SendError::Sendmail {
                    program: path.clone(),
                    error,
                })?;
                Ok(Delivery::Sendmail {
                    to: self.recipients(),
                    program: path.display().to_string(),
                })
            }
        }
    }
}

/// `<opsrun.1764658800123456789.4242.7@web01>`: unique per message (time,
/// process, a counter), at the host that sent it; a host name that is not
/// a plain domain is replaced by `localhost`.
fn message_id(host: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let domain = if !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        host
    } else {
        "localhost"
    };
    format!(
        "<opsrun.{nanos}.{}.{}@{domain}>",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

fn default_from(host: &str) -> Mailbox {
    format!("opsrun <opsrun@{host}>")
        .parse()
        .unwrap_or_else(|_| "opsrun <opsrun@localhost>".parse().expect("valid address"))
}

fn smtp_transport(
    spec: &SmtpSpec,
    password: Option<&str>,
    ca_pem: Option<&[u8]>,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let tls = if spec.tls == TlsMode::None {
        Tls::None
    } else {
        let mut p = TlsParameters::builder(spec.host.clone());
        if let Some(pem) = ca_pem {
            let cert = Certificate::from_pem(pem).map_err(SendError::NotPem)?;
            p = p.add_root_certificate(cert);
        }
        let p = p.build_rustls().map_err(SendError::TlsSetup)?;
        match spec.tls {
            TlsMode::Implicit => Tls::Wrapper(p),
            _ => Tls::Required(p),
        }
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(spec.host.clone())
        .port(spec.port)
        .tls(tls)
        .timeout(Some(timeout));
    if let Some(user) = &spec.username {
        b = b.credentials(Credentials::new(
            user.clone(),
            password.unwrap_or_default().to_owned(),
        ));
    }
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_sender_is_opsrun_at_host() {
        assert_eq!(
            default_from("web01").email.to_string(),
            "opsrun@web01".to_owned()
        );
        assert_eq!(
            default_from("bad host!").email.to_string(),
            "opsrun@localhost".to_owned()
        );
    }

    #[test]
    fn message_ids_are_unique_and_name_a_plain_domain() {
        let a = message_id("web01.example.com");
        let b = message_id("web01.example.com");
        assert_ne!(a, b);
        assert!(
            a.starts_with("<opsrun.") && a.ends_with("@web01.example.com>"),
            "{a}"
        );
        assert!(message_id("ホスト").ends_with("@localhost>"));
        assert!(message_id("").ends_with("@localhost>"));
    }
}
