//! `tls`: connect to `host:port`, verify the certificate chain and the host
//! name, and report days left on the chain the server presents — what the
//! seeds do with `openssl s_client | openssl x509 -noout -dates`.
//!
//! Verification is wrapped so that the presented chain and rustls's real
//! verdict are recorded, and the handshake then completes anyway: an
//! expired or untrusted certificate is reported as what it is ("expired 3
//! days ago", "certificate for other.example, not host") instead of as a
//! handshake error. No application data is ever sent on the connection;
//! opsrun closes it right after the handshake.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::cert_file::read_certs;
use super::x509::{CertInfo, default_days, expiry};
use super::{CheckFuture, Ctx, Failure, Kind, Measurement, sections};
use crate::values::outcome::Status;
use crate::values::reason::{Code, Reason};
use crate::values::threshold::Threshold;

/// The reason catalog entries of `tls` (docs/reasons.md); expiry reasons
/// are `x509`'s.
pub(crate) static CODES: &[&Code] = &[
    &SERVER_NAME,
    &TRUST,
    &VERIFIER,
    &CONFIG,
    &RESOLVE,
    &RESOLVE_TIMEOUT,
    &REFUSED,
    &CONNECT,
    &CONNECT_TIMEOUT,
    &HANDSHAKE,
    &HANDSHAKE_AFTER,
    &HANDSHAKE_AFTER_TIMEOUT,
    &HANDSHAKE_TIMEOUT,
    &BAD_CERT,
    &NAME,
    &NAME_UNKNOWN,
    &SELF_SIGNED,
    &UNTRUSTED,
    &UNTRUSTED_UNKNOWN,
    &BAD_SIGNATURE,
    &PURPOSE,
    &REVOKED,
    &MALFORMED,
    &REJECTED,
    &D_NO_VERIFY,
    &D_TRUST_CA_FILE,
    &D_TRUST_BUNDLE,
    &D_TRUST_WEBPKI,
    &D_PEER,
    &D_CHAIN_ONE,
    &D_CHAIN,
    &D_CHAIN_CERT,
];

// Detail lines (`-v`).
static D_NO_VERIFY: Code = Code::detail(
    "tls.detail.no_verify",
    "verify: false (chain and host name not checked)",
);
static D_TRUST_CA_FILE: Code = Code::detail(
    "tls.detail.trust_ca_file",
    "trust: ca_file {path} ({roots})",
);
static D_TRUST_BUNDLE: Code =
    Code::detail("tls.detail.trust_bundle", "trust: {path} ({roots} roots)");
static D_TRUST_WEBPKI: Code = Code::detail(
    "tls.detail.trust_webpki",
    "trust: webpki-roots (no system CA bundle found)",
);
static D_PEER: Code = Code::detail("tls.detail.peer", "{target}[ ({peer})][, {session}]");
static D_CHAIN_ONE: Code = Code::detail("tls.detail.chain_one", "chain: 1 certificate presented");
static D_CHAIN: Code = Code::detail("tls.detail.chain", "chain: {count} certificates presented");
static D_CHAIN_CERT: Code = Code::detail(
    "tls.detail.chain_cert",
    "  {role} {name}, notAfter {not_after}",
);

static SERVER_NAME: Code = Code::new(
    "tls.server_name",
    "invalid server name `{name}`: expected a DNS name or an IP address",
);
static TRUST: Code = Code::new("tls.trust", "{error}");
static VERIFIER: Code = Code::new("tls.verifier", "cannot build TLS verifier: {error}");
static CONFIG: Code = Code::new("tls.config", "cannot configure TLS: {error}");
static RESOLVE: Code = Code::new("tls.resolve", "cannot resolve host {host}");
static RESOLVE_TIMEOUT: Code = Code::variant(
    "tls.resolve.timeout",
    "timeout",
    "timed out after {after} resolving {host}",
);
static REFUSED: Code = Code::new("tls.refused", "{target}: connection refused");
static CONNECT: Code = Code::new("tls.connect", "{target}: cannot connect ({error})");
static CONNECT_TIMEOUT: Code = Code::variant(
    "tls.connect.timeout",
    "timeout",
    "{target}: timed out after {after} connecting",
);
static HANDSHAKE: Code = Code::new("tls.handshake", "{target}: TLS handshake failed: {error}");
static HANDSHAKE_AFTER: Code = Code::variant(
    "tls.handshake.after_certificate",
    "tls.handshake",
    "TLS handshake failed after the certificate: {error}",
);
static HANDSHAKE_AFTER_TIMEOUT: Code = Code::variant(
    "tls.handshake.after_certificate.timeout",
    "timeout",
    "TLS handshake failed after the certificate: timed out after {after} in the TLS handshake",
);
static HANDSHAKE_TIMEOUT: Code = Code::variant(
    "tls.handshake.timeout",
    "timeout",
    "{target}: TLS handshake failed: timed out after {after} in the TLS handshake",
);
static BAD_CERT: Code = Code::new(
    "tls.bad_certificate",
    "{target}: presented certificate #{index} is {error}",
);
static NAME: Code = Code::new("tls.name", "certificate for {names}, not {name}");
static NAME_UNKNOWN: Code = Code::variant(
    "tls.name.unknown",
    "tls.name",
    "certificate not valid for {name}",
);
static SELF_SIGNED: Code = Code::variant(
    "tls.untrusted.self_signed",
    "tls.untrusted",
    "self-signed certificate {certificate} is not trusted",
);
static UNTRUSTED: Code = Code::new(
    "tls.untrusted",
    "certificate not trusted: issuer {issuer} is not a known CA",
);
static UNTRUSTED_UNKNOWN: Code = Code::variant(
    "tls.untrusted.unknown",
    "tls.untrusted",
    "certificate not trusted: unknown issuer",
);
static BAD_SIGNATURE: Code =
    Code::new("tls.bad_signature", "certificate chain has a bad signature");
static PURPOSE: Code = Code::new(
    "tls.purpose",
    "certificate is not for TLS server authentication",
);
static REVOKED: Code = Code::new("tls.revoked", "certificate revoked");
static MALFORMED: Code = Code::new("tls.malformed", "certificate is malformed");
static REJECTED: Code = Code::new("tls.rejected", "certificate rejected: {error}");

/// CA bundles of the common distributions, first one found wins
/// (`SSL_CERT_FILE` before all). Without any, webpki-roots (Mozilla's
/// list compiled in) is used, so a bare container still verifies.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    host: String,
    #[serde(default = "https_port")]
    port: u16,
    server_name: Option<String>,
    #[serde(default, deserialize_with = "crate::values::threshold::lo::days")]
    days: Option<Threshold>,
    #[serde(default = "yes")]
    verify: bool,
    ca_file: Option<String>,
}

fn https_port() -> u16 {
    443
}
fn yes() -> bool {
    true
}

impl Kind for Tls {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }

    fn section(&self) -> &'static str {
        sections::SECURITY
    }

    fn target(&self) -> String {
        let host = self.host();
        let addr = if host.contains(':') {
            format!("[{host}]:{}", self.port)
        } else {
            format!("{host}:{}", self.port)
        };
        match &self.server_name {
            Some(sn) if sn != host => format!("{addr} (SNI {sn})"),
            _ => addr,
        }
    }

    fn validate(&self) -> Result<(), String> {
        let h = self.host();
        if h.is_empty() {
            return Err("`host` is empty: expected a host name like example.com".into());
        }
        if h.contains('/') {
            return Err(format!(
                "invalid host `{}`: expected a host name, not a URL",
                self.host
            ));
        }
        if h.contains(':') && h.parse::<IpAddr>().is_err() {
            return Err(format!(
                "invalid host `{}`: give the port separately, e.g. host: example.com, port: 8443",
                self.host
            ));
        }
        if self.port == 0 {
            return Err("`port` 0 is not a port".into());
        }
        if let Some(sn) = &self.server_name
            && ServerName::try_from(sn.as_str()).is_err()
        {
            return Err(format!(
                "invalid server_name `{sn}`: expected a DNS name or an IP address"
            ));
        }
        Ok(())
    }
}

/// What the verifier saw during the handshake.
#[derive(Debug, Default)]
struct Seen {
    chain: Vec<CertificateDer<'static>>,
    /// rustls's verdict at the run's time, if verification is on.
    verdict: Option<Result<(), rustls::Error>>,
    /// When the verdict was about time (expired / not yet valid): the
    /// verdict at a moment every presented certificate was valid, which
    /// tells whether the chain and name are otherwise good.
    verdict_in_window: Option<Result<(), rustls::Error>>,
}

/// Records the chain and the real verdict, and lets the handshake finish.
#[derive(Debug)]
struct Recorder {
    inner: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    now: UnixTime,
    seen: Arc<Mutex<Seen>>,
}

fn time_error(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. }
        )
    )
}

/// A moment inside every presented certificate's validity, if there is one.
fn window(chain: &[CertificateDer<'_>]) -> Option<UnixTime> {
    let infos: Vec<CertInfo> = chain
        .iter()
        .filter_map(|c| CertInfo::parse(c).ok())
        .collect();
    let start = infos.iter().map(|c| c.not_before).max()?;
    let end = infos.iter().map(|c| c.not_after).min()?;
    (start < end && start >= 0).then(|| {
        UnixTime::since_unix_epoch(Duration::from_secs((start + (end - start) / 2) as u64))
    })
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        let mut seen = Seen::default();
        if let Some(inner) = &self.inner {
            // Verified at the run's clock (`--now`), like the days left.
            let v = inner
                .verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    self.now,
                )
                .map(|_| ());
            if let Err(e) = &v
                && time_error(e)
                && let Some(t) = window(&chain)
            {
                seen.verdict_in_window = Some(
                    inner
                        .verify_server_cert(
                            end_entity,
                            intermediates,
                            server_name,
                            ocsp_response,
                            t,
                        )
                        .map(|_| ()),
                );
            }
            seen.verdict = Some(v);
        }
        seen.chain = chain;
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = seen;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The trust anchors: `ca_file` alone when given (like `curl --cacert`),
/// else the system bundle, else webpki-roots. Returns them with a note
/// saying where they came from.
pub(super) fn roots(ctx: &Ctx, ca_file: Option<&str>) -> Result<(RootCertStore, Reason), String> {
    let mut store = RootCertStore::empty();
    if let Some(ca) = ca_file {
        let path = ctx.path(ca);
        let data = crate::read_limit::read(&path, crate::read_limit::CERTS).map_err(|e| {
            format!(
                "cannot read ca_file {}: {}",
                path.display(),
                crate::values::io_reason(&e)
            )
        })?;
        let certs = read_certs(&data).map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        let (added, _) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "ca_file {}: no usable CA certificate",
                path.display()
            ));
        }
        return Ok((
            store,
            Reason::new(&D_TRUST_CA_FILE)
                .with("path", path.display().to_string())
                .with("roots", added),
        ));
    }
    let env = std::env::var("SSL_CERT_FILE").ok();
    for f in env
        .iter()
        .map(String::as_str)
        .chain(SYSTEM_BUNDLES.iter().copied())
    {
        let Ok(data) = crate::read_limit::read(std::path::Path::new(f), crate::read_limit::CERTS)
        else {
            continue;
        };
        let Ok(certs) = read_certs(&data) else {
            continue;
        };
        let (added, _) = store.add_parsable_certificates(certs);
        if added > 0 {
            return Ok((
                store,
                Reason::new(&D_TRUST_BUNDLE)
                    .with("path", f)
                    .with("roots", added),
            ));
        }
    }
    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok((store, Reason::new(&D_TRUST_WEBPKI)))
}

/// The reason a verified-at-a-good-time chain is still rejected.
fn describe(
    e: &rustls::Error,
    leaf: Option<&CertInfo>,
    last: Option<&CertInfo>,
    name: &str,
) -> Reason {
    use CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::NotValidForName | C::NotValidForNameContext { .. } => match leaf {
                Some(l) => Reason::new(&NAME)
                    .with("names", l.names())
                    .with("name", name),
                None => Reason::new(&NAME_UNKNOWN).with("name", name),
            },
            C::UnknownIssuer => match last {
                Some(l) if l.self_signed() => {
                    Reason::new(&SELF_SIGNED).with("certificate", l.short_name())
                }
                Some(l) => Reason::new(&UNTRUSTED).with(
                    "issuer",
                    if l.issuer.is_empty() {
                        "(empty)".to_owned()
                    } else {
                        l.issuer.clone()
                    },
                ),
                None => Reason::new(&UNTRUSTED_UNKNOWN),
            },
            C::BadSignature => Reason::new(&BAD_SIGNATURE),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => Reason::new(&PURPOSE),
            C::Revoked => Reason::new(&REVOKED),
            C::BadEncoding => Reason::new(&MALFORMED),
            other => Reason::new(&REJECTED).with("error", format!("{other:?}")),
        },
        other => Reason::new(&REJECTED).with("error", other.to_string()),
    }
}

impl Tls {
    fn host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }

    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let host = self.host();
        let sni = self.server_name.clone().unwrap_or_else(|| host.to_owned());
        let server_name = ServerName::try_from(sni.clone())
            .map_err(|_| Failure::unknown(Reason::new(&SERVER_NAME).with("name", &sni)))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut trust_note = Reason::new(&D_NO_VERIFY);
        let inner = if self.verify {
            let (store, note) = roots(ctx, self.ca_file.as_deref())
                .map_err(|e| Failure::unknown(Reason::new(&TRUST).with("error", e)))?;
            trust_note = note;
            match WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
            {
                Ok(v) => Some(v),
                Err(e) => {
                    return Err(Failure::unknown(
                        Reason::new(&VERIFIER).with("error", e.to_string()),
                    ));
                }
            }
        } else {
            None
        };
        let seen = Arc::new(Mutex::new(Seen::default()));
        let now =
            UnixTime::since_unix_epoch(Duration::from_secs(ctx.now.timestamp().max(0) as u64));
        let recorder = Arc::new(Recorder {
            inner,
            provider: provider.clone(),
            now,
            seen: seen.clone(),
        });
        let config = match rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
        {
            Ok(b) => b
                .dangerous()
                .with_custom_certificate_verifier(recorder)
                .with_no_client_auth(),
            Err(e) => {
                return Err(Failure::unknown(
                    Reason::new(&CONFIG).with("error", e.to_string()),
                ));
            }
        };

        let deadline = ctx.deadline;
        let target = self.target();
        let at_target = |code| Reason::new(code).with("target", target.clone());
        let addrs: Vec<std::net::SocketAddr> = match deadline
            .within(tokio::net::lookup_host((host, self.port)))
            .await
        {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(_)) => return Err(Failure::fail(Reason::new(&RESOLVE).with("host", host))),
            Err(o) => {
                return Err(Failure::fail(o.reason(&RESOLVE_TIMEOUT).with("host", host)));
            }
        };
        let tcp = match deadline
            .within(tokio::net::TcpStream::connect(&addrs[..]))
            .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(Failure::fail(at_target(&REFUSED)));
            }
            Ok(Err(e)) => {
                return Err(Failure::fail(
                    at_target(&CONNECT).with("error", crate::values::io_reason(&e)),
                ));
            }
            Err(o) => {
                return Err(Failure::fail(
                    o.reason(&CONNECT_TIMEOUT).with("target", target.clone()),
                ));
            }
        };
        let peer = tcp.peer_addr().ok();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let handshake = deadline.within(connector.connect(server_name, tcp)).await;
        let mut handshake_error: Option<Reason> = None;
        let mut session = Vec::new();
        match handshake {
            Ok(Ok(mut stream)) => {
                let (_, conn) = stream.get_ref();
                if let Some(v) = conn.protocol_version() {
                    session.push(format!("{v:?}"));
                }
                if let Some(s) = conn.negotiated_cipher_suite() {
                    session.push(format!("{:?}", s.suite()));
                }
                // close_notify and go; nothing else is ever sent.
                let _ = tokio::time::timeout(Duration::from_millis(500), stream.shutdown()).await;
            }
            Ok(Err(e)) => {
                handshake_error = Some(at_target(&HANDSHAKE).with("error", e.to_string()))
            }
            Err(o) => {
                handshake_error = Some(o.reason(&HANDSHAKE_TIMEOUT).with("target", target.clone()))
            }
        }
        let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
        if seen.chain.is_empty() {
            return Err(Failure::fail(handshake_error.unwrap_or_else(|| {
                at_target(&HANDSHAKE).with("error", "no certificate presented")
            })));
        }

        let mut infos = Vec::new();
        for (i, der) in seen.chain.iter().enumerate() {
            match CertInfo::parse(der) {
                Ok(mut c) => {
                    if i > 0 {
                        c.role = if c.is_ca {
                            "intermediate".into()
                        } else {
                            format!("chain certificate #{}", i + 1)
                        };
                    }
                    infos.push(c);
                }
                Err(e) => {
                    return Err(Failure::fail(
                        at_target(&BAD_CERT).with("index", i + 1).with("error", e),
                    ));
                }
            }
        }
        let th = self.days.clone().unwrap_or_else(default_days);
        let mut out = expiry(&infos, &ctx.now, &th)?;

        // Chain and name problems, separated from time problems.
        let problem = match (&seen.verdict, &seen.verdict_in_window) {
            (Some(Err(e)), None) if !time_error(e) => Some(e),
            (Some(Err(_)), Some(Err(e))) => Some(e),
            _ => None,
        };
        // Said after the expiry verdict, as always.
        if let Some(e) = problem {
            out.observe_late(Status::Fail, describe(e, infos.first(), infos.last(), &sni));
        }
        if let Some(e) = handshake_error {
            let code = if e.code.code == "timeout" {
                &HANDSHAKE_AFTER_TIMEOUT
            } else {
                &HANDSHAKE_AFTER
            };
            let mut r = Reason::new(code);
            r.params = e
                .params
                .into_iter()
                .filter(|(n, _)| *n != "target")
                .collect();
            out.observe_late(Status::Fail, r);
        }

        out.detail.insert(
            0,
            Reason::new(&D_PEER)
                .with("target", target.to_string())
                .with_opt("peer", peer.map(|p| p.to_string()))
                .with_opt("session", (!session.is_empty()).then(|| session.join(" ")))
                .into(),
        );
        let chain = if infos.len() == 1 {
            Reason::new(&D_CHAIN_ONE)
        } else {
            Reason::new(&D_CHAIN).with("count", infos.len())
        };
        out.detail.push(chain.into());
        for c in infos.iter().skip(1) {
            out.detail.push(
                Reason::new(&D_CHAIN_CERT)
                    .with("role", &c.role)
                    .with("name", c.short_name())
                    .with("not_after", super::x509::utc(c.not_after))
                    .into(),
            );
        }
        out.detail.push(trust_note.into());
        Ok(out)
    }
}
