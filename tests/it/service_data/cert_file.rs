//! `cert_file` on real PEM files written by the test (rcgen): one
//! certificate, a certbot-style fullchain where the intermediate expires
//! first, a file with the key before the certificate, expired, not PEM,
//! missing, and unreadable (as `nobody`).

use super::certs::Ca;
use super::{run_json, svm};
use crate::common::{Env, check};

#[test]
fn cert_file_expiry() {
    let env = Env::new();
    let root = Ca::root("opsrun test root");
    let leaf90 = root.leaf(&["www.example.jp"], -10, 90);
    let inter = root.intermediate("Example Intermediate", 10);
    let chained = inter.leaf(&["www.example.jp"], -10, 90);
    env.write("certs/cert.pem", &leaf90.pem);
    env.write(
        "certs/fullchain.pem",
        &format!("{}{}", chained.pem, inter.pem),
    );
    env.write(
        "certs/combined.pem",
        &format!("{}{}", leaf90.key_pem, leaf90.pem),
    );
    env.write("certs/warn.pem", &root.leaf(&["a.example"], -10, 20).pem);
    env.write("certs/expired.pem", &root.leaf(&["a.example"], -60, -3).pem);
    env.write("certs/garbage.pem", "hello\n");
    env.write(
        "certs/broken.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n",
    );
    std::fs::write(env.path().join("certs/cert.der"), &leaf90.der).unwrap();

    let (doc, run) = run_json(
        &env,
        "  - {id: one, cert_file: {path: ../certs/cert.pem}}
  - {id: der, cert_file: {path: ../certs/cert.der}}
  - {id: fullchain, cert_file: {path: ../certs/fullchain.pem}}
  - {id: combined, cert_file: {path: ../certs/combined.pem}}
  - {id: warn, cert_file: {path: ../certs/warn.pem}}
  - {id: custom, cert_file: {path: ../certs/warn.pem, days: {warn: 14, fail: 3}}}
  - {id: expired, cert_file: {path: ../certs/expired.pem}}
  - {id: garbage, cert_file: {path: ../certs/garbage.pem}}
  - {id: broken, cert_file: {path: ../certs/broken.pem}}
  - {id: missing, cert_file: {path: ../certs/nope.pem}}
",
        &[],
        &[],
    );
    assert_eq!(run.code, 2);

    let c = check(&doc, "one");
    assert_eq!(c["status"], "pass");
    assert_eq!(c["value"], "89 days left");
    assert_eq!(c["metrics"]["days_left"]["unit"], "days");
    assert_eq!(c["section"], "セキュリティ");
    let detail = c["detail"].to_string();
    assert!(detail.contains("cert.pem: 1 certificate"), "{detail}");
    assert!(detail.contains("SANs www.example.jp"), "{detail}");
    assert_eq!(svm(&doc, "der").1, "89 days left");
    assert_eq!(svm(&doc, "combined").1, "89 days left");

    let (s, v, m) = svm(&doc, "fullchain");
    assert_eq!((s.as_str(), v.as_str()), ("warn", "9 days left"));
    assert!(
        m.starts_with("certificate #2 CN=Example Intermediate expires in 9 days ≤ warn 30d"),
        "{m}"
    );
    assert!(
        check(&doc, "fullchain")["detail"]
            .to_string()
            .contains("2 certificates")
    );

    assert_eq!(svm(&doc, "warn").0, "warn");
    assert_eq!(svm(&doc, "custom").0, "pass");
    let (s, v, m) = svm(&doc, "expired");
    assert_eq!((s.as_str(), v.as_str()), ("fail", "expired 3 days ago"));
    assert!(m.starts_with("certificate expired 3 days ago"), "{m}");

    let (s, _, m) = svm(&doc, "garbage");
    assert_eq!(s, "fail");
    assert!(
        m.ends_with(
            "garbage.pem: no certificate found (expected PEM `-----BEGIN CERTIFICATE-----` or DER)"
        ),
        "{m}"
    );
    let (s, _, m) = svm(&doc, "broken");
    assert_eq!(s, "fail");
    assert!(m.contains("broken.pem: invalid PEM"), "{m}");
    let (s, v, m) = svm(&doc, "missing");
    assert_eq!((s.as_str(), v.as_str()), ("fail", "missing"));
    assert!(m.ends_with("nope.pem does not exist"), "{m}");
}

#[test]
fn cert_file_unreadable_is_unknown() {
    if !super::is_root() {
        eprintln!("SKIP: needs root to run opsrun as nobody");
        return;
    }
    let env = Env::new();
    let root = Ca::root("opsrun test root");
    let p = env.write("private/cert.pem", &root.leaf(&["a.example"], -10, 90).pem);
    super::chmod(&env.path().join("private"), 0o755);
    super::chmod(&p, 0o600);
    let (doc, run) = super::run_as_nobody(
        &env,
        "  - {id: c, cert_file: {path: ../private/cert.pem}}\n",
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    let (s, _, m) = svm(&doc, "c");
    assert_eq!(s, "unknown");
    assert!(
        m.starts_with("cannot read ") && m.ends_with("Permission denied"),
        "{m}"
    );
}
