//! TLS for `postgres` over rustls, with libpq's `sslmode` semantics:
//! `prefer`/`require` encrypt without checking the certificate (unless a
//! root certificate is given, which makes `require` act as `verify-ca`),
//! `verify-ca` checks the chain only, `verify-full` the chain and the host
//! name. tokio-postgres has no rustls connector of its own, so this
//! implements its `TlsConnect` over tokio-rustls, for the framed socket of
//! `conn::connect`.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, TlsConnect, TlsStream};

use super::conn::Raw;
use super::framing::Framed;

use crate::values::reason::{Code, Reason};

/// How much of the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verify {
    /// Encryption only (`prefer`, `require`).
    Nothing,
    /// The chain must lead to a trusted root (`verify-ca`).
    Chain,
    /// Chain and host name (`verify-full`).
    Full,
}

/// The bundle of the system's CA certificates on Debian-like hosts, used
/// with the well-known public roots for `sslrootcert: system`.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Trusted roots: a PEM file, or `system` (public roots + the system bundle).
pub(super) fn roots(rootcert: &str, path: &Path) -> Result<RootCertStore, Reason> {
    let mut store = RootCertStore::empty();
    if rootcert == "system" {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Ok(iter) = CertificateDer::pem_file_iter(SYSTEM_BUNDLE) {
            for cert in iter.flatten() {
                let _ = store.add(cert);
            }
        }
        return Ok(store);
    }
    let at = |code: &'static Code| Reason::new(code).with("path", path.display().to_string());
    let pem = crate::read_limit::read(path, crate::read_limit::CERTS)
        .map_err(|e| at(&super::ROOTCERT_READ).with("error", crate::values::io_reason(&e)))?;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| at(&super::ROOTCERT_PEM).with("error", e.to_string()))?;
        store
            .add(cert)
            .map_err(|e| at(&super::ROOTCERT_UNUSABLE).with("error", e.to_string()))?;
    }
    if store.is_empty() {
        return Err(at(&super::ROOTCERT_EMPTY));
    }
    Ok(store)
}

/// A rustls client configuration for `verify` against `roots`.
pub(super) fn client_config(
    verify: Verify,
    roots: Option<RootCertStore>,
) -> Result<Arc<ClientConfig>, Reason> {
    let provider = provider();
    let inner = match roots {
        Some(r) => Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(r), provider.clone())
                .build()
                .map_err(|e| Reason::new(&super::TLS_SETUP_ROOTS).with("error", e.to_string()))?,
        ),
        None if verify == Verify::Nothing => None,
        None => return Err(Reason::new(&super::TLS_SETUP_NO_ROOTS)),
    };
    let verifier = Arc::new(Verifier {
        verify,
        inner,
        provider: provider.clone(),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Reason::new(&super::TLS_SETUP).with("error", e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct Verifier {
    verify: Verify,
    inner: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(inner) = &self.inner else {
            return Ok(ServerCertVerified::assertion());
        };
        match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.verify != Verify::Full => Ok(ServerCertVerified::assertion()),
            other => other,
        }
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

/// The TLS half of tokio-postgres's `connect_raw`: after the server said
/// `S`, the handshake runs on the socket under the framing cap, and the
/// decrypted stream gets a cap of its own.
pub(super) struct RustlsConnect {
    connector: Option<tokio_rustls::TlsConnector>,
    name: Option<ServerName<'static>>,
}

impl RustlsConnect {
    /// For `domain` (empty for a Unix socket, which never uses TLS: the
    /// handshake is refused only if one is actually attempted). Without a
    /// configuration (sslmode disable) no handshake is ever asked for.
    pub(super) fn new(config: Option<Arc<ClientConfig>>, domain: &str) -> RustlsConnect {
        RustlsConnect {
            connector: config.map(tokio_rustls::TlsConnector::from),
            name: ServerName::try_from(domain.to_owned()).ok(),
        }
    }
}

impl TlsConnect<Framed<Raw>> for RustlsConnect {
    type Stream = Framed<RustlsStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Framed<RustlsStream>>> + Send>>;

    fn connect(self, stream: Framed<Raw>) -> Self::Future {
        Box::pin(async move {
            let name = self.name.ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "no host name for TLS")
            })?;
            let connector = self
                .connector
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "TLS is disabled"))?;
            let (raw, trip) = stream.into_parts();
            connector
                .connect(name, raw)
                .await
                .map(|s| Framed::new(RustlsStream(Box::new(s)), trip))
        })
    }
}

pub(super) struct RustlsStream(Box<tokio_rustls::client::TlsStream<Raw>>);

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

impl TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM then runs without channel binding, as libpq does with
        // `channel_binding=prefer` when none is available.
        ChannelBinding::none()
    }
}

/// Turns a rustls failure (the error chain's text) into the reason an
/// operator needs; `at` starts a reason naming the server.
pub(super) fn describe(chain: &str, at: impl Fn(&'static Code) -> Reason) -> Reason {
    let lower = chain.to_ascii_lowercase();
    // BadSignature: an issuer with the right name but another key (a CA
    // regenerated under the same name).
    if lower.contains("unknownissuer")
        || lower.contains("unknown issuer")
        || lower.contains("badsignature")
    {
        at(&super::TLS_UNTRUSTED)
    } else if lower.contains("not valid for name") || lower.contains("notvalidforname") {
        let detail = chain
            .find("certificate not valid")
            .map(|i| chain[i..].to_owned())
            .unwrap_or_else(|| "certificate not valid for this host".into());
        at(&super::TLS_NAME).with("error", detail)
    } else if lower.contains("expired") {
        at(&super::TLS_EXPIRED)
    } else {
        at(&super::TLS).with("error", chain.rsplit(": ").next().unwrap_or(chain))
    }
}
