//! `http` checks against a real server on 127.0.0.1 (common::http_server):
//! 200/503, JSON bodies, basic auth and bearer, slow and hanging answers.

use crate::common::http_server::Server;
use crate::common::{Env, check};

fn one(env: &Env, body: &str) -> (serde_json::Value, crate::common::Run) {
    env.run_checks(body)
}

#[test]
fn ok_json_and_body_expectations_pass() {
    let s = Server::start();
    let env = Env::new();
    let (doc, r) = one(
        &env,
        &format!(
            "  - id: health\n    http:\n      url: {}\n      body_contains: healthy\n      body_regex: '\"ok\":\\s*true'\n      json: {{status: healthy, /db/ok: true, items.1: 2}}\n",
            s.url("/ok")
        ),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let c = check(&doc, "health");
    assert_eq!(c["status"], "pass");
    assert!(c["value"].as_str().unwrap().starts_with("200 OK"));
    assert_eq!(c["metrics"]["latency"]["unit"], "ms");
}

#[test]
fn unexpected_status_fails_with_observed_and_expected() {
    let s = Server::start();
    let env = Env::new();
    let (doc, r) = one(
        &env,
        &format!(
            "  - id: web\n    http: {{url: \"{}\"}}\n",
            s.url("/status/503")
        ),
    );
    assert_eq!(r.code, 2);
    let c = check(&doc, "web");
    assert_eq!(c["status"], "fail");
    assert_eq!(c["message"], "status 503, expected 200");
    // The same as data (SPEC §10.1): code and parameters, in `reason`.
    assert_eq!(
        c["reason"],
        serde_json::json!({"code": "http.status", "params": {"got": 503, "want": [200]}})
    );
    assert_eq!(c["reasons"].as_array().unwrap().len(), 1);
}

#[test]
fn status_lists_and_classes() {
    let s = Server::start();
    let env = Env::new();
    let (doc, r) = one(
        &env,
        &format!(
            "  - id: a\n    http: {{url: \"{}\", status: [200, 404]}}\n  - id: b\n    http: {{url: \"{}\", status: 5xx}}\n  - id: c\n    http: {{url: \"{}\", status: 2xx}}\n",
            s.url("/nothing"),
            s.url("/status/502"),
            s.url("/status/404")
        ),
    );
    assert_eq!(check(&doc, "a")["status"], "pass");
    assert_eq!(check(&doc, "b")["status"], "pass");
    assert_eq!(check(&doc, "c")["message"], "status 404, expected 2xx");
    assert_eq!(r.code, 2);
}

#[test]
fn json_mismatch_names_path_and_values() {
    let s = Server::start();
    let env = Env::new();
    let (doc, _) = one(
        &env,
        &format!(
            "  - id: h\n    http: {{url: \"{}\", json: {{status: ok}}}}\n",
            s.url("/ok")
        ),
    );
    assert_eq!(
        check(&doc, "h")["message"],
        r#"json status = "healthy", expected "ok""#
    );
    let (doc, _) = one(
        &env,
        &format!(
            "  - id: h\n    http: {{url: \"{}\", json: {{/status: ok}}}}\n",
            s.url("/text")
        ),
    );
    assert!(
        check(&doc, "h")["message"]
            .as_str()
            .unwrap()
            .starts_with("body is not JSON")
    );
    let (doc, _) = one(
        &env,
        &format!(
            "  - id: h\n    http: {{url: \"{}\", body_contains: healthy}}\n",
            s.url("/text")
        ),
    );
    assert_eq!(
        check(&doc, "h")["message"],
        r#"body does not contain "healthy""#
    );
}

#[test]
fn basic_auth_and_bearer_from_env_and_file_are_never_printed() {
    let s = Server::start();
    let env = Env::new();
    env.write("secrets/token", "tok-123456\n");
    env.runbook(
        "t.yaml",
        &format!(
            "version: 1\nchecks:\n  - id: basic\n    http: {{url: \"{}\", basic_auth: {{username: user, password_env: WEB_PW}}}}\n  - id: bearer\n    http: {{url: \"{}\", bearer: {{token_file: ../secrets/token}}}}\n  - id: wrong\n    http: {{url: \"{}\", basic_auth: {{username: user, password_env: WRONG_PW}}}}\n",
            s.url("/auth"),
            s.url("/bearer"),
            s.url("/auth")
        ),
    );
    let out = env
        .cmd()
        .args(["run", "t", "-f", "json", "-v"])
        .env("WEB_PW", "hunter2")
        .env("WRONG_PW", "wrong-password-xyz")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(check(&doc, "basic")["status"], "pass");
    assert_eq!(check(&doc, "bearer")["status"], "pass");
    assert_eq!(check(&doc, "wrong")["message"], "status 401, expected 200");
    for secret in ["hunter2", "tok-123456", "wrong-password-xyz"] {
        assert!(!stdout.contains(secret), "{secret} leaked");
        assert!(!String::from_utf8_lossy(&out.stderr).contains(secret));
    }
    // The table with -v too.
    let out = env
        .cmd()
        .args(["run", "t", "-v"])
        .env("WEB_PW", "hunter2")
        .env("WRONG_PW", "wrong-password-xyz")
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        !table.contains("hunter2")
            && !table.contains("tok-123456")
            && !table.contains("wrong-password-xyz")
    );
}

#[test]
fn missing_secret_is_unknown_not_fail() {
    let s = Server::start();
    let env = Env::new();
    let (doc, r) = one(
        &env,
        &format!(
            "  - id: a\n    http: {{url: \"{}\", basic_auth: {{username: u, password_env: OPSRUN_TEST_UNSET_PW}}}}\n",
            s.url("/auth")
        ),
    );
    assert_eq!(r.code, 3);
    let c = check(&doc, "a");
    assert_eq!(c["status"], "unknown");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("OPSRUN_TEST_UNSET_PW is not set")
    );
}

#[test]
fn latency_thresholds_warn_and_fail() {
    let s = Server::start();
    let env = Env::new();
    let (doc, r) = one(
        &env,
        &format!(
            "  - id: slow-warn\n    http: {{url: \"{}\", latency: {{warn: 100ms, fail: 5s}}}}\n  - id: slow-fail\n    http: {{url: \"{}\", latency: {{warn: 50ms, fail: 100ms}}}}\n",
            s.url("/slow/300"),
            s.url("/slow/300")
        ),
    );
    assert_eq!(check(&doc, "slow-warn")["status"], "warn");
    assert!(
        check(&doc, "slow-warn")["message"]
            .as_str()
            .unwrap()
            .contains("≥ warn 100ms")
    );
    assert_eq!(check(&doc, "slow-fail")["status"], "fail");
    assert!(
        check(&doc, "slow-fail")["message"]
            .as_str()
            .unwrap()
            .contains("≥ fail 100ms")
    );
    let reason = &check(&doc, "slow-fail")["reason"];
    assert_eq!(reason["code"], "threshold");
    assert_eq!(reason["params"]["metric"], "latency");
    assert_eq!(reason["params"]["level"], "fail");
    assert_eq!(reason["params"]["op"], "≥");
    assert_eq!(reason["params"]["limit"], 100.0);
    assert!(reason["params"]["value"].as_f64().unwrap() >= 100.0);
    assert_eq!(r.code, 2);
}

#[test]
fn hanging_server_fails_at_the_timeout() {
    let s = Server::start();
    let env = Env::new();
    let (doc, r) = one(
        &env,
        &format!(
            "  - id: hang\n    timeout: 1s\n    http: {{url: \"{}\"}}\n",
            s.url("/hang")
        ),
    );
    let c = check(&doc, "hang");
    assert_eq!(c["status"], "fail");
    assert_eq!(c["message"], "timed out after 1s");
    assert!(r.elapsed.as_secs() < 15, "took {:?}", r.elapsed);
}

#[test]
fn trickling_body_is_bounded_by_the_timeout() {
    let s = Server::start();
    let env = Env::new();
    let (doc, r) = one(
        &env,
        &format!(
            "  - id: t\n    timeout: 2s\n    http: {{url: \"{}\"}}\n",
            s.url("/trickle")
        ),
    );
    let c = check(&doc, "t");
    assert_eq!(c["status"], "fail");
    assert!(c["message"].as_str().unwrap().contains("timed out"), "{c}");
    assert!(r.elapsed.as_secs() < 15);
}

#[test]
fn huge_body_is_read_only_up_to_max_body() {
    let s = Server::start();
    let env = Env::new();
    let (doc, _) = one(
        &env,
        &format!(
            "  - id: big\n    timeout: 20s\n    http: {{url: \"{}\", max_body: 64KiB, body_contains: zzz}}\n",
            s.url("/big")
        ),
    );
    let c = check(&doc, "big");
    assert_eq!(c["status"], "fail");
    assert_eq!(
        c["message"],
        r#"body does not contain "zzz" (within max_body)"#
    );
}

#[test]
fn refused_connection_is_fail() {
    // Bind then drop to find a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = Env::new();
    let (doc, r) = one(
        &env,
        &format!("  - id: down\n    http: {{url: \"http://127.0.0.1:{port}/health\"}}\n"),
    );
    assert_eq!(r.code, 2);
    assert_eq!(check(&doc, "down")["message"], "connection refused");
    assert_eq!(check(&doc, "down")["reason"]["code"], "http.refused");
}

#[test]
fn unresolvable_host_is_fail() {
    let env = Env::new();
    let (doc, _) = one(
        &env,
        "  - id: dns\n    timeout: 5s\n    http: {url: \"http://no-such-host.invalid/\"}\n",
    );
    let c = check(&doc, "dns");
    assert_eq!(c["status"], "fail");
    assert_eq!(c["message"], "cannot resolve host");
}

#[test]
fn retry_passes_after_attempts() {
    let s = Server::start();
    let env = Env::new();
    let (doc, r) = one(
        &env,
        &format!(
            "  - id: flaky\n    retry: {{attempts: 5, interval: 100ms}}\n    http: {{url: \"{}\"}}\n",
            s.url("/flaky/2")
        ),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let c = check(&doc, "flaky");
    assert_eq!(c["attempts"], 3);
    assert!(
        c["detail"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "passed after 3 attempts")
    );
}

#[test]
fn url_credentials_are_redacted() {
    let s = Server::start();
    let env = Env::new();
    let url = s
        .url("/status/500")
        .replace("http://", "http://admin:pa55word@");
    let (_, r) = one(
        &env,
        &format!("  - id: a\n    http: {{url: \"{url}?token=abcdef\"}}\n"),
    );
    assert!(
        !r.stdout.contains("pa55word") && !r.stdout.contains("abcdef"),
        "{}",
        r.stdout
    );
}

/// HTTPS with a private CA: verified against `ca_file`, rejected without it
/// (the system roots do not know the CA), accepted with `insecure: true`.
#[test]
fn https_ca_file_and_insecure() {
    use crate::service_data::certs::{Ca, serve};
    let ca = Ca::root("opsrun test CA");
    let leaf = ca.leaf(&["localhost"], -1, 90);
    let port = serve(vec![leaf.der.clone()], leaf.key.clone_key());
    let env = Env::new();
    env.write("ca.pem", &ca.pem);
    let url = format!("https://localhost:{port}/");
    let (doc, _) = one(
        &env,
        &format!(
            "  - id: with-ca\n    http: {{url: \"{url}\", ca_file: ../ca.pem, body_contains: ok}}\n  - id: no-ca\n    http: {{url: \"{url}\"}}\n  - id: insecure\n    http: {{url: \"{url}\", insecure: true}}\n  - id: bad-ca-file\n    http: {{url: \"{url}\", ca_file: ../missing.pem}}\n"
        ),
    );
    assert_eq!(check(&doc, "with-ca")["status"], "pass", "{doc:#}");
    let no_ca = check(&doc, "no-ca");
    assert_eq!(no_ca["status"], "fail");
    assert!(
        no_ca["message"]
            .as_str()
            .unwrap()
            .starts_with("TLS certificate rejected"),
        "{no_ca:#}"
    );
    assert_eq!(check(&doc, "insecure")["status"], "pass");
    let bad = check(&doc, "bad-ca-file");
    assert_eq!(bad["status"], "unknown");
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("cannot read ca_file"),
        "{bad:#}"
    );
}
