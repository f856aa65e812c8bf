//! `cert_file`: days left on the certificates in a file (certbot's
//! `fullchain.pem`, an internal CA bundle) — what the seeds read from
//! `sudo certbot certificates`. Every certificate in the file counts and the
//! earliest expiry decides, since a chain breaks when any link expires.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;

use super::x509::{CertInfo, default_days, expiry_outcome};
use super::{CheckFuture, Ctx, Kind, sections};
use crate::values::outcome::Outcome;
use crate::values::threshold::Threshold;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertFile {
    path: String,
    #[serde(default, deserialize_with = "crate::values::threshold::days")]
    days: Option<Threshold>,
}

impl Kind for CertFile {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        super::legacy(self.check(ctx))
    }
    fn section(&self) -> &'static str {
        sections::SECURITY
    }
    fn target(&self) -> String {
        self.path.clone()
    }
}

/// The DER certificates in a PEM file (other blocks such as keys are
/// skipped), or the file itself if it is a single DER certificate.
pub(crate) fn read_certs(data: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(data) {
        match item {
            Ok(c) => certs.push(c),
            Err(e) => return Err(format!("invalid PEM ({e})")),
        }
    }
    if certs.is_empty() && data.first() == Some(&0x30) {
        certs.push(CertificateDer::from(data.to_vec()));
    }
    if certs.is_empty() {
        return Err(
            "no certificate found (expected PEM `-----BEGIN CERTIFICATE-----` or DER)".into(),
        );
    }
    Ok(certs)
}

impl CertFile {
    async fn check(&self, ctx: &Ctx) -> Outcome {
        let path = ctx.path(&self.path);
        let p = path.clone();
        let read = tokio::task::spawn_blocking(move || {
            crate::read_limit::read(&p, crate::read_limit::CERTS)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        let data = match read {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Outcome::fail(format!("{} does not exist", path.display()))
                    .with_value("missing");
            }
            Err(e) => {
                return Outcome::unknown(format!(
                    "cannot read {}: {}",
                    path.display(),
                    crate::values::io_reason(&e)
                ));
            }
        };
        let ders = match read_certs(&data) {
            Ok(d) => d,
            Err(e) => return Outcome::fail(format!("{}: {e}", path.display())),
        };
        let many = ders.len() > 1;
        let mut certs = Vec::new();
        for (i, der) in ders.iter().enumerate() {
            match CertInfo::parse(der) {
                Ok(mut c) => {
                    if many {
                        c.role = format!("certificate #{}", i + 1);
                    }
                    certs.push(c);
                }
                Err(e) => {
                    return Outcome::fail(format!(
                        "{}: certificate #{} is {e}",
                        path.display(),
                        i + 1
                    ));
                }
            }
        }
        let th = self.days.clone().unwrap_or_else(default_days);
        let mut out = expiry_outcome(&certs, &ctx.now, &th);
        out.detail.insert(
            0,
            format!(
                "{}: {} certificate{}",
                path.display(),
                certs.len(),
                if many { "s" } else { "" }
            ),
        );
        out
    }
}
