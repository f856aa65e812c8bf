//! `systemd` against a stub `systemctl` on PATH — the narrowest seam, as
//! this machine (like CI containers) has no systemd running. The stub prints
//! what `systemctl show --property=…` prints on systemd 252 (Debian 12) for
//! each situation; the "not booted" error is the exact text this host's real
//! `systemctl` prints. The stub also asserts the invocation: `show`,
//! `--no-pager`, the property list and `LC_ALL=C`.

use super::{run_json, svm};
use crate::common::Env;

const STUB: &str = r#"#!/bin/sh
# Refuse anything but the documented invocation.
[ "$LC_ALL" = "C" ] || { echo "stub: LC_ALL=$LC_ALL, expected C" >&2; exit 99; }
[ "$1" = "show" ] || { echo "stub: expected show, got $1" >&2; exit 99; }
case "$*" in *--no-pager*) ;; *) echo "stub: no --no-pager" >&2; exit 99;; esac
case "$*" in *--property=*ActiveState*) ;; *) echo "stub: no --property" >&2; exit 99;; esac
for last; do :; done
case "$last" in
estimator.service)
cat <<'EOF'
Result=success
NRestarts=0
MainPID=812
ExecMainStatus=0
Id=estimator.service
Description=AI Estimator API (uvicorn)
LoadState=loaded
ActiveState=active
SubState=running
UnitFileState=enabled
StateChangeTimestamp=Tue 2025-10-21 02:00:01 JST
EOF
;;
starting.service)
cat <<'EOF'
Result=exit-code
NRestarts=5
MainPID=0
ExecMainStatus=1
Id=starting.service
Description=Crash-looping service
LoadState=loaded
ActiveState=activating
SubState=auto-restart
UnitFileState=enabled
StateChangeTimestamp=Tue 2025-10-21 08:59:55 JST
EOF
;;
broken.service)
cat <<'EOF'
Result=exit-code
NRestarts=3
MainPID=0
ExecMainStatus=1
Id=broken.service
Description=Broken service
LoadState=loaded
ActiveState=failed
SubState=failed
UnitFileState=enabled
StateChangeTimestamp=Tue 2025-10-21 08:30:00 JST
EOF
;;
stopped.service)
cat <<'EOF'
Result=success
NRestarts=0
MainPID=0
ExecMainStatus=0
Id=stopped.service
Description=Stopped service
LoadState=loaded
ActiveState=inactive
SubState=dead
UnitFileState=disabled
StateChangeTimestamp=Mon 2025-10-20 18:00:00 JST
EOF
;;
*)
cat <<EOF
Result=success
NRestarts=0
MainPID=0
ExecMainStatus=0
Id=$last
Description=$last
LoadState=not-found
ActiveState=inactive
SubState=dead
UnitFileState=
StateChangeTimestamp=n/a
LoadError=org.freedesktop.systemd1.NoSuchUnit "Unit $last not found."
EOF
;;
esac
"#;

/// Captured from this host's real `systemctl` (no systemd as PID 1).
const NOT_BOOTED: &str = r#"#!/bin/sh
echo "System has not been booted with systemd as init system (PID 1). Can't operate." >&2
echo "Failed to connect to bus: Host is down" >&2
exit 1
"#;

fn stub_env(script: &str) -> (Env, String) {
    let env = Env::new();
    let p = env.write("stub/systemctl", script);
    super::chmod(&p, 0o755);
    let path = format!(
        "{}:{}",
        env.path().join("stub").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (env, path)
}

const NOW: &[&str] = &["--now", "2025-10-21T09:00:00+09:00"];

#[test]
fn systemd_states_map_to_statuses() {
    let (env, path) = stub_env(STUB);
    let (doc, run) = run_json(
        &env,
        "  - {id: running, systemd: {unit: estimator.service, enabled: true}}
  - {id: starting, systemd: {unit: starting.service}}
  - {id: failed, systemd: {unit: broken.service}}
  - {id: inactive, systemd: {unit: stopped.service}}
  - {id: missing, systemd: {unit: nosuch.service}}
  - {id: must-be-stopped, systemd: {unit: stopped.service, state: inactive, enabled: false}}
  - {id: disabled, systemd: {unit: stopped.service, state: inactive, enabled: true}}
",
        &[("PATH", &path)],
        NOW,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);

    let c = crate::common::check(&doc, "running");
    assert_eq!(c["status"], "pass");
    assert_eq!(c["value"], "active (running)");
    assert_eq!(c["section"], "サービス稼働状況");
    let detail: Vec<&str> = c["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(
        detail.contains(&"estimator.service (AI Estimator API (uvicorn)): active (running)"),
        "{detail:?}"
    );
    assert!(
        detail.contains(&"since Tue 2025-10-21 02:00:01 JST (7h ago)"),
        "{detail:?}"
    );
    assert!(detail.contains(&"main pid 812, NRestarts=0"), "{detail:?}");
    assert_eq!(c["metrics"]["restarts"]["value"], 0.0);

    assert_eq!(
        svm(&doc, "starting"),
        (
            "warn".into(),
            "activating (auto-restart)".into(),
            "starting.service is activating (auto-restart), expected active, result exit-code, exit status 1, restarted 5 times".into()
        )
    );
    assert_eq!(
        svm(&doc, "failed"),
        (
            "fail".into(),
            "failed (failed)".into(),
            "broken.service is failed (failed), expected active, result exit-code, exit status 1, restarted 3 times".into()
        )
    );
    assert_eq!(
        svm(&doc, "inactive"),
        (
            "fail".into(),
            "inactive (dead)".into(),
            "stopped.service is inactive (dead), expected active".into()
        )
    );
    assert_eq!(
        svm(&doc, "missing"),
        (
            "fail".into(),
            "not-found".into(),
            "unit nosuch.service not found, expected active".into()
        )
    );
    assert_eq!(svm(&doc, "must-be-stopped").0, "pass");
    assert_eq!(
        svm(&doc, "disabled"),
        (
            "fail".into(),
            "inactive (dead)".into(),
            "stopped.service UnitFileState disabled, expected enabled".into()
        )
    );
}

#[test]
fn systemd_not_booted_is_unknown() {
    let (env, path) = stub_env(NOT_BOOTED);
    let (doc, run) = run_json(
        &env,
        "  - {id: svc, systemd: {unit: estimator}}\n",
        &[("PATH", &path)],
        &[],
    );
    assert_eq!(run.code, 3);
    assert_eq!(
        svm(&doc, "svc"),
        (
            "unknown".into(),
            "".into(),
            "no systemd on this host (System has not been booted with systemd as init system (PID 1). Can't operate.)".into()
        )
    );
}

#[test]
fn systemd_without_systemctl_is_unknown() {
    let env = Env::new();
    std::fs::create_dir_all(env.path().join("empty")).unwrap();
    let path = env.path().join("empty").display().to_string();
    let (doc, run) = run_json(
        &env,
        "  - {id: svc, systemd: {unit: estimator}}\n",
        &[("PATH", &path)],
        &[],
    );
    assert_eq!(run.code, 3);
    assert_eq!(
        svm(&doc, "svc"),
        (
            "unknown".into(),
            "".into(),
            "systemctl not found: no systemd on this host".into()
        )
    );
}

#[test]
fn systemd_bad_fields_are_load_errors() {
    let env = Env::new();
    env.runbook(
        "t.yaml",
        "version: 1\nchecks:\n  - id: svc\n    systemd: {unit: x, state: runing}\n",
    );
    let r = env.run(&["validate", "runbooks/t.yaml"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("unknown state `runing`: expected one of active, reloading"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("t.yaml:4"), "{}", r.stderr);

    env.runbook(
        "t.yaml",
        "version: 1\nchecks:\n  - id: svc\n    systemd: {unit: x, state: activ}\n",
    );
    let r = env.run(&["validate", "runbooks/t.yaml"]);
    assert!(
        r.stderr
            .contains("unknown state `activ`, did you mean `active`?"),
        "{}",
        r.stderr
    );

    env.runbook(
        "t.yaml",
        "version: 1\nchecks:\n  - id: svc\n    systemd: {unit: x, state: running}\n",
    );
    let r = env.run(&["validate", "runbooks/t.yaml"]);
    assert!(r.stderr.contains("`running` is a SubState"), "{}", r.stderr);

    env.runbook(
        "t.yaml",
        "version: 1\nchecks:\n  - id: svc\n    systemd: {unit: x, enable: true}\n",
    );
    let r = env.run(&["validate", "runbooks/t.yaml"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("enable"), "{}", r.stderr);
}

/// A `systemctl` that hangs (PID 1 not answering): fail at the timeout,
/// not a hang and not unknown.
#[test]
fn systemd_hanging_systemctl_fails_at_the_timeout() {
    let (env, path) = stub_env("#!/bin/sh\nexec sleep 30\n");
    let (doc, run) = run_json(
        &env,
        "  - {id: svc, timeout: 1s, systemd: {unit: estimator}}\n",
        &[("PATH", &path)],
        &[],
    );
    assert!(run.elapsed.as_secs() < 20, "took {:?}", run.elapsed);
    assert_eq!(run.code, 2);
    assert_eq!(
        svm(&doc, "svc"),
        (
            "fail".into(),
            "".into(),
            "systemctl show did not answer within 1s".into()
        )
    );
}
