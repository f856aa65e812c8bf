//! `tls` against real TLS servers presenting rcgen certificates: expiry
//! thresholds, expired and untrusted chains reported as such (not as
//! handshake errors), host name mismatch, an intermediate expiring first,
//! `verify: false` and `ca_file`. Also side by side with monitoring-plugins'
//! `check_http -C 30,7`, the tool operators run today.

use std::path::Path;

use super::certs::{Ca, serve};
use super::{run_json, svm};
use crate::common::{Env, check};

/// A server presenting `leaf` (and `extra` after it), and the root's PEM in `ca.pem`.
fn site(env: &Env, root: &Ca, leaf: &super::certs::Leaf, extra: &[&Ca]) -> u16 {
    env.write("ca.pem", &root.pem);
    let mut chain = vec![leaf.der.clone()];
    chain.extend(extra.iter().map(|c| c.der.clone()));
    serve(chain, leaf.key.clone_key())
}

fn days(doc: &serde_json::Value, id: &str) -> i64 {
    check(doc, id)["metrics"]["days_left"]["value"]
        .as_f64()
        .unwrap() as i64
}

#[test]
fn tls_expiry_thresholds() {
    let env = Env::new();
    let root = Ca::root("opsrun test root");
    let p90 = site(&env, &root, &root.leaf(&["localhost"], -10, 90), &[]);
    let p20 = site(&env, &root, &root.leaf(&["localhost"], -10, 20), &[]);
    let p3 = site(&env, &root, &root.leaf(&["localhost"], -10, 3), &[]);
    let pexp = site(&env, &root, &root.leaf(&["localhost"], -60, -3), &[]);
    let old_leaf = root.leaf(&["localhost"], -10, 90);
    let p12 = super::certs::serve_versions(
        vec![old_leaf.der.clone()],
        old_leaf.key.clone_key(),
        &[&rustls::version::TLS12],
    );
    let (doc, run) = run_json(
        &env,
        &format!(
            "  - {{id: d90, tls: {{host: localhost, port: {p90}, ca_file: ../ca.pem}}}}
  - {{id: d20, tls: {{host: 127.0.0.1, server_name: localhost, port: {p20}, ca_file: ../ca.pem}}}}
  - {{id: d3, tls: {{host: localhost, port: {p3}, ca_file: ../ca.pem}}}}
  - {{id: expired, tls: {{host: localhost, port: {pexp}, ca_file: ../ca.pem}}}}
  - {{id: custom, tls: {{host: localhost, port: {p20}, ca_file: ../ca.pem, days: {{warn: 10, fail: 5}}}}}}
  - {{id: tls12, tls: {{host: localhost, port: {p12}, ca_file: ../ca.pem}}}}
"
        ),
        &[],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);

    // notAfter is 00:00 UTC on today+N: N-1 whole days remain.
    let c = check(&doc, "d90");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(days(&doc, "d90"), 89);
    assert_eq!(c["value"], "89 days left");
    assert_eq!(c["unit"], "days");
    assert_eq!(c["section"], "セキュリティ");
    let not_after = c["metrics"]["not_after"]["value"].as_f64().unwrap() as i64;
    let now = chrono::Utc::now().timestamp();
    assert!(not_after > now + 89 * 86400 && not_after <= now + 90 * 86400);
    let detail = c["detail"].to_string();
    for want in [
        "notAfter ",
        "subject CN=localhost",
        "issuer CN=opsrun test root",
        "SANs localhost",
        "trust: ca_file",
        "TLSv1_3",
    ] {
        assert!(detail.contains(want), "{want} not in {detail}");
    }

    let (s, v, m) = svm(&doc, "d20");
    assert_eq!((s.as_str(), v.as_str()), ("warn", "19 days left"));
    assert!(
        m.starts_with("certificate expires in 19 days ≤ warn 30d (notAfter "),
        "{m}"
    );

    let (s, v, m) = svm(&doc, "d3");
    assert_eq!((s.as_str(), v.as_str()), ("fail", "2 days left"));
    assert!(
        m.starts_with("certificate expires in 2 days ≤ fail 7d"),
        "{m}"
    );

    // Expired: reported as expired with negative days, not a handshake error.
    let (s, v, m) = svm(&doc, "expired");
    assert_eq!((s.as_str(), v.as_str()), ("fail", "expired 3 days ago"));
    assert!(
        m.starts_with("certificate expired 3 days ago (notAfter "),
        "{m}"
    );
    assert!(!m.contains("handshake"), "{m}");
    assert_eq!(days(&doc, "expired"), -3);

    assert_eq!(svm(&doc, "custom").0, "pass");

    // A TLS 1.2-only server verifies the same way.
    let c = check(&doc, "tls12");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(
        c["detail"][0].as_str().unwrap().contains("TLSv1_2"),
        "{c:#}"
    );
}

#[test]
fn tls_chain_and_name_problems() {
    let env = Env::new();
    let root = Ca::root("opsrun test root");
    let other_root = Ca::root("Unknown Test CA");
    let wrong = site(&env, &root, &root.leaf(&["other.example"], -10, 90), &[]);
    let untrusted_leaf = other_root.leaf(&["localhost"], -10, 90);
    let untrusted2 = serve(
        vec![untrusted_leaf.der.clone()],
        untrusted_leaf.key.clone_key(),
    );
    let inter = root.intermediate("opsrun test intermediate", 10);
    let chained_leaf = inter.leaf(&["localhost"], -10, 90);
    let chained = site(&env, &root, &chained_leaf, &[&inter]);
    let expired_untrusted_leaf = other_root.leaf(&["localhost"], -60, -3);
    let expired_untrusted = serve(
        vec![expired_untrusted_leaf.der.clone()],
        expired_untrusted_leaf.key.clone_key(),
    );

    let (doc, _) = run_json(
        &env,
        &format!(
            "  - {{id: wrong-name, tls: {{host: 127.0.0.1, server_name: localhost, port: {wrong}, ca_file: ../ca.pem}}}}
  - {{id: unknown-ca, tls: {{host: localhost, port: {untrusted2}}}}}
  - {{id: unknown-ca-ca-file, tls: {{host: localhost, port: {untrusted2}, ca_file: ../ca.pem}}}}
  - {{id: no-verify, tls: {{host: localhost, port: {untrusted2}, verify: false}}}}
  - {{id: no-verify-name, tls: {{host: localhost, port: {wrong}, verify: false}}}}
  - {{id: intermediate-first, tls: {{host: localhost, port: {chained}, ca_file: ../ca.pem}}}}
  - {{id: expired-untrusted, tls: {{host: localhost, port: {expired_untrusted}, ca_file: ../ca.pem}}}}
  - {{id: expired-no-verify, tls: {{host: localhost, port: {expired_untrusted}, verify: false}}}}
"
        ),
        &[],
        &[],
    );

    let (s, v, m) = svm(&doc, "wrong-name");
    assert_eq!((s.as_str(), v.as_str()), ("fail", "89 days left"));
    assert_eq!(m, "certificate for other.example, not localhost");

    // No ca_file: system roots (or webpki-roots) do not know this CA.
    let (s, _, m) = svm(&doc, "unknown-ca");
    assert_eq!(s, "fail");
    assert_eq!(
        m,
        "certificate not trusted: issuer CN=Unknown Test CA is not a known CA"
    );
    let (s, _, m) = svm(&doc, "unknown-ca-ca-file");
    assert_eq!(s, "fail");
    assert_eq!(
        m,
        "certificate not trusted: issuer CN=Unknown Test CA is not a known CA"
    );

    // verify: false checks expiry only.
    assert_eq!(svm(&doc, "no-verify").0, "pass");
    assert_eq!(svm(&doc, "no-verify-name").0, "pass");
    assert!(
        check(&doc, "no-verify")["detail"]
            .to_string()
            .contains("verify: false")
    );

    // The intermediate expires in 9 days, the leaf in 89: the chain breaks first.
    let c = check(&doc, "intermediate-first");
    assert_eq!(c["status"], "warn", "{c:#}");
    assert_eq!(c["value"], "9 days left");
    let m = c["message"].as_str().unwrap();
    assert!(
        m.starts_with("intermediate CN=opsrun test intermediate expires in 9 days ≤ warn 30d"),
        "{m}"
    );
    assert!(m.ends_with("before the certificate (89 days)"), "{m}");
    let detail = c["detail"].to_string();
    assert!(detail.contains("notAfter"), "{detail}");
    assert!(detail.contains("(89 days left)"), "{detail}");
    assert!(
        detail.contains("earliest expiry: intermediate CN=opsrun test intermediate"),
        "{detail}"
    );
    assert!(
        detail.contains("chain: 2 certificates presented"),
        "{detail}"
    );

    // Expired and untrusted: both reasons, expiry first.
    let (s, v, m) = svm(&doc, "expired-untrusted");
    assert_eq!((s.as_str(), v.as_str()), ("fail", "expired 3 days ago"));
    assert!(m.starts_with("certificate expired 3 days ago"), "{m}");
    assert!(
        m.contains("issuer CN=Unknown Test CA is not a known CA"),
        "{m}"
    );
    let (s, _, m) = svm(&doc, "expired-no-verify");
    assert_eq!(s, "fail");
    assert!(m.starts_with("certificate expired 3 days ago"), "{m}");
    assert!(!m.contains("not a known CA"), "{m}");
}

#[test]
fn tls_connection_problems_fail_fast() {
    let env = Env::new();
    // A port with nothing listening, and one that accepts but never speaks TLS.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let plain = crate::common::http_server::Server::start();
    env.write("bad.pem", "not a certificate\n");
    let (doc, run) = run_json(
        &env,
        &format!(
            "  - {{id: refused, tls: {{host: 127.0.0.1, port: {closed}}}}}
  - {{id: silent, timeout: 1s, tls: {{host: 127.0.0.1, port: {silent_port}}}}}
  - {{id: plain-http, tls: {{host: 127.0.0.1, port: {}}}}}
  - {{id: no-such-host, timeout: 3s, tls: {{host: no-such-host.invalid}}}}
  - {{id: bad-ca-file, tls: {{host: 127.0.0.1, port: {closed}, ca_file: ../bad.pem}}}}
  - {{id: missing-ca-file, tls: {{host: 127.0.0.1, port: {closed}, ca_file: ../nope.pem}}}}
",
            plain.port
        ),
        &[],
        &[],
    );
    assert!(run.elapsed.as_secs() < 20, "took {:?}", run.elapsed);
    let (s, _, m) = svm(&doc, "refused");
    assert_eq!(s, "fail");
    assert_eq!(m, format!("127.0.0.1:{closed}: connection refused"));
    let (s, _, m) = svm(&doc, "silent");
    assert_eq!(s, "fail");
    assert_eq!(
        m,
        format!(
            "127.0.0.1:{silent_port}: TLS handshake failed: timed out after 1s in the TLS handshake"
        )
    );
    let (s, _, m) = svm(&doc, "plain-http");
    assert_eq!(s, "fail");
    assert!(m.contains("TLS handshake failed"), "{m}");
    let (s, _, m) = svm(&doc, "no-such-host");
    assert_eq!(s, "fail");
    // NXDOMAIN, or a resolver that never answers in a sandbox.
    assert!(
        m == "cannot resolve host no-such-host.invalid"
            || m == "timed out after 3s resolving no-such-host.invalid",
        "{m}"
    );
    let (s, _, m) = svm(&doc, "bad-ca-file");
    assert_eq!(s, "unknown");
    assert!(m.contains("bad.pem: no certificate found"), "{m}");
    let (s, _, m) = svm(&doc, "missing-ca-file");
    assert_eq!(s, "unknown");
    assert!(
        m.contains("cannot read ca_file") && m.contains("No such file or directory"),
        "{m}"
    );
    drop(silent);
}

#[test]
fn tls_bad_fields_are_load_errors() {
    let env = Env::new();
    for (yaml, want) in [
        ("{host: 'example.com:443'}", "give the port separately"),
        (
            "{host: 'https://example.com'}",
            "expected a host name, not a URL",
        ),
        (
            "{host: example.com, days: {warn: soon}}",
            "expected a number of days like 30 or 30d",
        ),
        ("{host: example.com, port: 70000}", "t.yaml:4"),
        ("{host: example.com, verfy: false}", "verfy"),
    ] {
        env.runbook(
            "t.yaml",
            &format!("version: 1\nchecks:\n  - id: c\n    tls: {yaml}\n"),
        );
        let r = env.run(&["validate", "runbooks/t.yaml"]);
        assert_eq!(r.code, 3, "{yaml}");
        assert!(r.stderr.contains(want), "{yaml}: {}", r.stderr);
    }
}

/// Side by side: monitoring-plugins' `check_http -C 30,7` (Debian
/// monitoring-plugins-standard; installed by .ci/deps) and opsrun agree on
/// the verdict and the days left for the same certificates.
#[test]
fn tls_agrees_with_check_http() {
    let check_http = Path::new("/usr/lib/nagios/plugins/check_http");
    if !check_http.exists() {
        eprintln!(
            "SKIP: {} not installed (apt-get install monitoring-plugins-standard)",
            check_http.display()
        );
        return;
    }
    let env = Env::new();
    let root = Ca::root("opsrun test root");
    let mut yaml = String::new();
    let mut cases = Vec::new();
    for (i, n) in [400i64, 90, 31, 30, 20, 8, 7, 3, 1, -3, -40]
        .into_iter()
        .enumerate()
    {
        let from = if n > 0 { -10 } else { n - 60 };
        let port = site(&env, &root, &root.leaf(&["localhost"], from, n), &[]);
        yaml.push_str(&format!(
            "  - {{id: c{i}, tls: {{host: localhost, port: {port}, ca_file: ../ca.pem}}}}\n"
        ));
        cases.push((i, n, port));
    }
    let (doc, _) = run_json(&env, &yaml, &[], &[]);
    let days_re = regex::Regex::new(r"expires in (\d+) day").unwrap();
    for (i, n, port) in cases {
        let out = std::process::Command::new(check_http)
            .args([
                "-H",
                "localhost",
                "-I",
                "127.0.0.1",
                "--sni",
                "-C",
                "30,7",
                "-p",
                &port.to_string(),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let theirs = match out.status.code() {
            Some(0) => "pass",
            Some(1) => "warn",
            Some(2) => "fail",
            other => panic!("check_http exit {other:?}: {text}"),
        };
        let id = format!("c{i}");
        let ours = check(&doc, &id);
        // Shown with --nocapture: the side-by-side table.
        eprintln!(
            "valid {n:>4}d  check_http {theirs:<4} | opsrun {:<4} {:<12} | {}",
            ours["status"].as_str().unwrap_or(""),
            ours["value"].as_str().unwrap_or(""),
            text.trim()
        );
        assert_eq!(
            ours["status"], theirs,
            "cert valid {n} days: check_http said {text}; opsrun {ours:#}"
        );
        if let Some(c) = days_re.captures(&text) {
            let d: i64 = c[1].parse().unwrap();
            assert_eq!(days(&doc, &id), d, "days left for {n}: check_http {text}");
        }
        if n < 0 {
            assert!(text.contains("expired"), "{text}");
            assert!(days(&doc, &id) < 0);
        }
    }
}
