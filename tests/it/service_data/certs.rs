//! Test certificates (rcgen) dated relative to the real current day —
//! rustls and `check_http` both judge expiry by the real clock — and a real
//! TLS server on 127.0.0.1 presenting a chosen chain.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, Utc};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// (year, month, day) of today ± `days`, UTC.
fn ymd(days: i64) -> (i32, u8, u8) {
    let d = Utc::now().date_naive() + chrono::Duration::days(days);
    (d.year(), d.month() as u8, d.day() as u8)
}

fn dates(p: &mut CertificateParams, from: i64, to: i64) {
    let (y, m, d) = ymd(from);
    p.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = ymd(to);
    p.not_after = rcgen::date_time_ymd(y, m, d);
}

/// A CA able to sign (a root, or an intermediate with its own issuer).
pub struct Ca {
    pub pem: String,
    pub der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A leaf certificate with its key, and the chain to present after it.
pub struct Leaf {
    pub pem: String,
    pub der: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
    pub key_pem: String,
}

fn ca_params(cn: &str, from: i64, to: i64) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    dates(&mut p, from, to);
    p
}

impl Ca {
    /// A self-signed root valid from 400 days ago to 3650 days ahead.
    pub fn root(cn: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(cn, -400, 3650);
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// An intermediate signed by `self`, valid until today + `days`.
    pub fn intermediate(&self, cn: &str, days: i64) -> Ca {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(cn, -200, days);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Ca {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names`, valid from today + `from` to today + `to` days.
    pub fn leaf(&self, names: &[&str], from: i64, to: i64) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.distinguished_name.push(DnType::CommonName, names[0]);
        dates(&mut p, from, to);
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            pem: cert.pem(),
            der: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            key_pem: key.serialize_pem(),
        }
    }
}

/// A TLS server on 127.0.0.1 presenting `chain` (leaf first). Each
/// connection completes the handshake, answers one HTTP request if one
/// comes, and closes. The thread lives as long as the test process.
pub fn serve(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> u16 {
    serve_versions(chain, key, rustls::DEFAULT_VERSIONS)
}

/// As [`serve`], speaking only the given TLS versions.
pub fn serve_versions(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> u16 {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let config = Arc::new(config);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for sock in l.incoming() {
            let Ok(sock) = sock else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = sock.set_write_timeout(Some(Duration::from_secs(5)));
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(conn, sock);
                let mut buf = [0u8; 4096];
                // Reading drives the handshake; a client that only checks
                // the certificate closes here.
                if let Ok(n) = tls.read(&mut buf)
                    && n > 0
                {
                    let _ = tls.write_all(
                        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    );
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
            });
        }
    });
    port
}
