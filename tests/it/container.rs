//! The `container` kind against a real Docker-Engine-compatible API:
//! rootful Podman's `podman system service` (tests/it/common/podman.rs),
//! with real containers — running, stopped, missing, healthy and
//! unhealthy (`podman healthcheck run`), restarted by their restart
//! policy, labelled as a compose service — and with no daemon at all.

use serde_json::Value;

use crate::common::podman::{IMAGE, Podman};
use crate::common::{Env, check, code, detail, msg};

/// Runs the checks (a runbook body) as JSON with `DOCKER_HOST` set, and
/// `extra` arguments; the document and the exit code.
fn run(env: &Env, docker_host: &str, checks: &str, extra: &[&str]) -> (Value, i32) {
    env.runbook(
        "t.yaml",
        &format!("version: 1\ntitle: test\nchecks:\n{checks}"),
    );
    let out = env
        .cmd()
        .args(["run", "t", "-f", "json", "-v"])
        .args(extra)
        .env("DOCKER_HOST", docker_host)
        .env_remove("DOCKER_TLS_VERIFY")
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (doc, out.status.code().unwrap_or(-1))
}

fn value(c: &Value) -> &str {
    c["value"].as_str().unwrap_or("")
}

fn metric(c: &Value, name: &str) -> f64 {
    c["metrics"][name]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no metric {name} in {c:#}"))
}

#[test]
fn running_stopped_missing_and_the_image() {
    let Some(pm) = Podman::start() else {
        return;
    };
    let web = pm.run("web", &[], &["sleep", "600"]);
    let job = pm.run("job", &[], &["sh", "-c", "exit 3"]);
    pm.wait_for(&job, "{{.State.Status}}", "exited");
    let done = pm.run("done", &[], &["true"]);
    pm.wait_for(&done, "{{.State.Status}}", "exited");
    let env = Env::new();
    let checks = format!(
        "  - id: web\n    container: {{name: {web}, image: {IMAGE}}}\n\
         \x20 - id: by-repo\n    container: {{name: {web}, image: localhost/opsrun-bb}}\n\
         \x20 - id: other-image\n    container: {{name: {web}, image: 'localhost/opsrun-bb:2'}}\n\
         \x20 - id: job\n    container: {{name: {job}}}\n\
         \x20 - id: done\n    container: {{name: {done}, state: exited}}\n\
         \x20 - id: missing\n    container: {{name: {web}-gone}}\n\
         \x20 - id: prefix\n    container: {{name: opsrun-it}}\n",
        web = web.name,
        job = job.name,
        done = done.name,
    );
    let (doc, exit) = run(&env, &pm.docker_host(), &checks, &[]);
    assert_eq!(exit, 2, "{doc:#}");

    let c = check(&doc, "web");
    assert_eq!(c["status"], "pass", "{c:#}");
    // `running, 350ms` / `running, 2s`: the state and the uptime.
    assert!(value(c).starts_with("running, "), "{c:#}");
    let d = detail(c);
    assert!(d.contains(&web.name), "{d}");
    assert!(
        d.contains(&format!("): running, image {IMAGE}, started 20")),
        "{d}"
    );
    assert!(d.contains("restarted 0 times since created"), "{d}");
    assert_eq!(metric(c, "restarts"), 0.0);
    assert_eq!(check(&doc, "by-repo")["status"], "pass");

    let c = check(&doc, "other-image");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(code(c), "container.image");
    assert_eq!(
        msg(c),
        format!(
            "{} runs image {IMAGE}, expected localhost/opsrun-bb:2",
            web.name
        )
    );

    let c = check(&doc, "job");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(code(c), "container.state");
    assert_eq!(value(c), "exited (3)");
    assert_eq!(
        msg(c),
        format!("{} is exited, expected running (exit code 3)", job.name)
    );
    assert_eq!(c["reason"]["params"]["exit_code"], 3);

    assert_eq!(check(&doc, "done")["status"], "pass");

    let c = check(&doc, "missing");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(code(c), "container.not_found");
    assert_eq!(msg(c), format!("no container named {}-gone", web.name));
    // The daemon's name filter matches parts of names; the check does not.
    let c = check(&doc, "prefix");
    assert_eq!(code(c), "container.not_found", "{c:#}");

    // The same through `host:` instead of DOCKER_HOST, in Japanese.
    let checks = format!(
        "  - id: job\n    container: {{name: {}, host: '{}'}}\n",
        job.name,
        pm.docker_host()
    );
    let (doc, _) = run(&env, "tcp://127.0.0.1:1", &checks, &["--lang", "ja"]);
    let c = check(&doc, "job");
    assert_eq!(
        msg(c),
        format!(
            "{} の状態は exited（期待値 running）、終了コード 3",
            job.name
        )
    );
}

#[test]
fn health_from_real_healthchecks() {
    let Some(pm) = Podman::start() else {
        return;
    };
    // No systemd timers here: the tests run each healthcheck themselves.
    let ok = pm.run("ok", &["--health-cmd", "true"], &["sleep", "600"]);
    let bad = pm.run(
        "bad",
        &[
            "--health-cmd",
            "echo db down; false",
            "--health-retries",
            "1",
        ],
        &["sleep", "600"],
    );
    let new = pm.run("new", &["--health-cmd", "true"], &["sleep", "600"]);
    let plain = pm.run("plain", &[], &["sleep", "600"]);
    let hc = |name: &str| crate::common::podman::podman(&["healthcheck", "run", name]);
    assert!(hc(&ok.name).status.success());
    assert!(!hc(&bad.name).status.success());
    pm.wait_for(&ok, "{{.State.Health.Status}}", "healthy");
    pm.wait_for(&bad, "{{.State.Health.Status}}", "unhealthy");

    let env = Env::new();
    let checks = format!(
        "  - id: ok\n    container: {{name: {}}}\n\
         \x20 - id: bad\n    container: {{name: {}}}\n\
         \x20 - id: bad-ignored\n    container: {{name: {}, health: ignore}}\n\
         \x20 - id: new\n    container: {{name: {}}}\n\
         \x20 - id: plain\n    container: {{name: {}}}\n\
         \x20 - id: plain-required\n    container: {{name: {}, health: healthy}}\n",
        ok.name, bad.name, bad.name, new.name, plain.name, plain.name
    );
    let (doc, exit) = run(&env, &pm.docker_host(), &checks, &[]);
    assert_eq!(exit, 2, "{doc:#}");

    let c = check(&doc, "ok");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(value(c).starts_with("running (healthy), "), "{c:#}");

    let c = check(&doc, "bad");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(code(c), "container.unhealthy");
    assert_eq!(
        msg(c),
        format!("{} is unhealthy (1 failed healthchecks in a row)", bad.name)
    );
    assert!(value(c).starts_with("running (unhealthy), "), "{c:#}");
    // The last healthcheck's own output, as observed.
    assert!(detail(c).contains("db down"), "{c:#}");
    assert_eq!(check(&doc, "bad-ignored")["status"], "pass");

    let c = check(&doc, "new");
    assert_eq!(c["status"], "warn", "{c:#}");
    assert_eq!(code(c), "container.health");

    assert_eq!(check(&doc, "plain")["status"], "pass");
    let c = check(&doc, "plain-required");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(
        msg(c),
        format!("{} has no healthcheck, expected healthy", plain.name)
    );

    // SPEC §10.6's value, in Japanese: `running (healthy), 3時間`.
    let checks = format!("  - id: ok\n    container: {{name: {}}}\n", ok.name);
    let (doc, _) = run(&env, &pm.docker_host(), &checks, &["--lang", "ja"]);
    let v = value(check(&doc, "ok")).to_owned();
    assert!(v.starts_with("running (healthy), "), "{v}");
    assert!(
        ["ms", "秒", "分"].iter().any(|u| v.ends_with(u)),
        "{v}: the uptime in Japanese units"
    );
}

#[test]
fn restarts_are_counted_since_the_previous_run() {
    let Some(pm) = Podman::start() else {
        return;
    };
    // Crashes (exit 1) each time the test creates /ctl/crash; the restart
    // policy starts it again.
    let ctl = tempfile::tempdir().unwrap();
    let mount = format!("{}:/ctl", ctl.path().display());
    let flaky = pm.run(
        "flaky",
        &["--restart=always", "-v", &mount],
        &[
            "sh",
            "-c",
            "while [ ! -e /ctl/crash ]; do sleep 0.1; done; rm /ctl/crash; exit 1",
        ],
    );
    let env = Env::new();
    let checks = format!(
        "  - id: flaky\n    container: {{name: {}, restarts: {{warn: 1, fail: 3}}}}\n",
        flaky.name
    );
    // First run: no previous count on record; nothing restarted.
    let (doc, exit) = run(&env, &pm.docker_host(), &checks, &[]);
    assert_eq!(exit, 0, "{doc:#}");
    let c = check(&doc, "flaky");
    assert_eq!(metric(c, "restarts_total"), 0.0);

    std::fs::write(ctl.path().join("crash"), "").unwrap();
    pm.wait_for(&flaky, "{{.RestartCount}} {{.State.Status}}", "1 running");
    let (doc, exit) = run(&env, &pm.docker_host(), &checks, &[]);
    assert_eq!(exit, 1, "{doc:#}");
    let c = check(&doc, "flaky");
    assert_eq!(c["status"], "warn", "{c:#}");
    assert_eq!(metric(c, "restarts"), 1.0);
    assert_eq!(metric(c, "restarts_total"), 1.0);
    assert_eq!(
        msg(c),
        format!(
            "{} restarted 1 times since the previous run ≥ warn 1",
            flaky.name
        )
    );
    assert!(
        detail(c).contains("restarted 1 times since the previous run (1 in total)"),
        "{c:#}"
    );

    // Nothing since: passes again, the total stays on record.
    let (doc, exit) = run(&env, &pm.docker_host(), &checks, &[]);
    assert_eq!(exit, 0, "{doc:#}");
    let c = check(&doc, "flaky");
    assert_eq!(metric(c, "restarts"), 0.0);
    assert_eq!(metric(c, "restarts_total"), 1.0);

    // Without history, the total since the container was created counts.
    let (doc, _) = run(&env, &pm.docker_host(), &checks, &["--no-history"]);
    let c = check(&doc, "flaky");
    assert_eq!(c["status"], "warn", "{c:#}");
    assert_eq!(
        msg(c),
        format!("{} restarted 1 times since created ≥ warn 1", flaky.name)
    );
}

#[test]
fn compose_services_by_their_labels() {
    let Some(pm) = Podman::start() else {
        return;
    };
    let project = crate::common::podman::unique("shop");
    let label = |k: &str, v: &str| format!("--label=com.docker.compose.{k}={v}");
    let (p, web, db) = (
        label("project", &project),
        label("service", "web"),
        label("service", "db"),
    );
    let _web1 = pm.run("web-1", &[&p, &web], &["sleep", "600"]);
    let _web2 = pm.run("web-2", &[&p, &web], &["sleep", "600"]);
    // A one-off `docker compose run web …` that ended: not the service.
    let oneoff = pm.run(
        "web-run",
        &[&p, &web, "--label=com.docker.compose.oneoff=True"],
        &["true"],
    );
    pm.wait_for(&oneoff, "{{.State.Status}}", "exited");
    let db1 = pm.run("db-1", &[&p, &db], &["sh", "-c", "exit 1"]);
    pm.wait_for(&db1, "{{.State.Status}}", "exited");

    let env = Env::new();
    let checks = format!(
        "  - id: web\n    container: {{compose: {{project: {project}, service: web}}}}\n\
         \x20 - id: db\n    container: {{compose: {{project: {project}, service: db}}}}\n\
         \x20 - id: cache\n    container: {{compose: {{project: {project}, service: cache}}}}\n"
    );
    let (doc, exit) = run(&env, &pm.docker_host(), &checks, &[]);
    assert_eq!(exit, 2, "{doc:#}");
    let c = check(&doc, "web");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(value(c), "2 of 2 containers running");
    let d = detail(c);
    assert!(d.contains("web-1") && d.contains("web-2"), "{d}");
    assert!(!d.contains("web-run"), "{d}");

    let c = check(&doc, "db");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(code(c), "container.state");
    assert_eq!(value(c), "exited (1)");

    let c = check(&doc, "cache");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(code(c), "container.not_found");
    assert_eq!(
        msg(c),
        format!("no container of compose service cache in project {project}")
    );
}

/// No daemon is `unknown` (the check could not be carried out), not a
/// failed container; nor is an address opsrun does not speak. Needs no
/// Podman.
#[test]
fn no_daemon_is_unknown() {
    let env = Env::new();
    let checks = "  - id: c\n    container: {name: web}\n";
    let sock = env.path().join("docker.sock");
    let (doc, exit) = run(&env, &format!("unix://{}", sock.display()), checks, &[]);
    assert_eq!(exit, 3, "{doc:#}");
    let c = check(&doc, "c");
    assert_eq!(c["status"], "unknown", "{c:#}");
    assert_eq!(code(c), "container.no_daemon");
    assert!(msg(c).starts_with(&format!("no Docker daemon: {}", sock.display())));

    let (doc, _) = run(&env, "ssh://db1", checks, &["--lang", "ja"]);
    let c = check(&doc, "c");
    assert_eq!(c["status"], "unknown", "{c:#}");
    assert_eq!(code(c), "container.host");
    assert!(msg(c).starts_with("DOCKER_HOST ssh://db1: 「"), "{c:#}");

    // An empty DOCKER_HOST is Docker's default socket.
    if !std::path::Path::new("/var/run/docker.sock").exists() {
        let (doc, _) = run(&env, "", checks, &[]);
        let c = check(&doc, "c");
        assert_eq!(code(c), "container.no_daemon", "{c:#}");
        assert!(msg(c).contains("/var/run/docker.sock"), "{c:#}");
    }
}
