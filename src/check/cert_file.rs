//! `cert_file`: days left on the certificates in a file (certbot's
//! `fullchain.pem`, an internal CA bundle) — what the seeds read from
//! `sudo certbot certificates`. Every certificate in the file counts and the
//! earliest expiry decides, since a chain breaks when any link expires.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;

use super::x509::{CertInfo, default_days, expiry};
use super::{CheckFuture, Ctx, Failure, Kind, Measurement, sections};
use crate::values::reason::{Code, Reason};
use crate::values::threshold::Threshold;

/// The reason catalog entries of `cert_file` (docs/reasons.md); expiry
/// reasons are `x509`'s.
pub(crate) static CODES: &[&Code] = &[
    &MISSING,
    &UNREADABLE,
    &NOT_CERTS,
    &BAD_CERT,
    &D_FILE_ONE,
    &D_FILE_MANY,
];

// Detail lines (`-v`).
static D_FILE_ONE: Code = Code::detail("cert_file.detail.file_one", "{path}: 1 certificate");
static D_FILE_MANY: Code =
    Code::detail("cert_file.detail.file_many", "{path}: {count} certificates");

static MISSING: Code = Code::new("cert_file.missing", "{path} does not exist");
static UNREADABLE: Code = Code::new("cert_file.unreadable", "cannot read {path}: {error}");
static NOT_CERTS: Code = Code::new("cert_file.invalid", "{path}: {error}");
static BAD_CERT: Code = Code::variant(
    "cert_file.invalid.cert",
    "cert_file.invalid",
    "{path}: certificate #{index} is {error}",
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertFile {
    path: String,
    #[serde(default, deserialize_with = "crate::values::threshold::lo::days")]
    days: Option<Threshold>,
}

impl Kind for CertFile {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
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
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let path = ctx.path(&self.path);
        let at = |code| Reason::new(code).with("path", path.display().to_string());
        let p = path.clone();
        let read = tokio::task::spawn_blocking(move || {
            crate::read_limit::read(&p, crate::read_limit::CERTS)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        let data = match read {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(
                    Failure::fail(at(&MISSING)).shown(crate::values::reason::said(
                        &crate::values::reason::common::V_MISSING,
                    )),
                );
            }
            Err(e) => {
                return Err(Failure::unknown(
                    at(&UNREADABLE).with("error", crate::values::io_reason(&e)),
                ));
            }
        };
        let ders = read_certs(&data).map_err(|e| Failure::fail(at(&NOT_CERTS).with("error", e)))?;
        let many = ders.len() > 1;
        let mut certs = Vec::new();
        for (i, der) in ders.iter().enumerate() {
            let mut c = CertInfo::parse(der)
                .map_err(|e| Failure::fail(at(&BAD_CERT).with("index", i + 1).with("error", e)))?;
            if many {
                c.role = format!("certificate #{}", i + 1);
            }
            certs.push(c);
        }
        let th = self.days.clone().unwrap_or_else(default_days);
        let mut out = expiry(&certs, &ctx.now, &th)?;
        let said = if many {
            Reason::new(&D_FILE_MANY).with("count", certs.len())
        } else {
            Reason::new(&D_FILE_ONE)
        };
        out.detail
            .insert(0, said.with("path", path.display().to_string()).into());
        Ok(out)
    }
}
