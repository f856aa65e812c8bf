//! Service and data checks (issue 3): systemd, process, sqlite, tls,
//! cert_file, backup — each against real things the tests create: a stub
//! `systemctl` printing systemd's own output, child processes, SQLite
//! files, TLS servers with rcgen certificates, backup generations.

mod backup;
mod cert_file;
pub(crate) mod certs;
mod process;
mod sqlite;
mod systemd;
mod tls;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::common::{Env, Run};

/// Runs `opsrun run t -f json` on a runbook holding `checks_yaml`, with
/// extra environment variables and arguments, and returns the JSON.
pub fn run_json(
    env: &Env,
    checks_yaml: &str,
    vars: &[(&str, &str)],
    args: &[&str],
) -> (serde_json::Value, Run) {
    env.runbook(
        "t.yaml",
        &format!("version: 1\ntitle: test\nchecks:\n{checks_yaml}"),
    );
    let started = Instant::now();
    let mut cmd = env.cmd();
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd
        .args(["run", "t", "-f", "json"])
        .args(args)
        .output()
        .expect("run opsrun");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    };
    let v = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\nstdout: {}\nstderr: {}",
            run.stdout, run.stderr
        )
    });
    (v, run)
}

/// `status`, `value`, `message` of check `id`, for compact assertions.
pub fn svm(doc: &serde_json::Value, id: &str) -> (String, String, String) {
    let c = crate::common::check(doc, id);
    (
        c["status"].as_str().unwrap_or("").to_owned(),
        c["value"].as_str().unwrap_or("").to_owned(),
        c["message"].as_str().unwrap_or("").to_owned(),
    )
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Runs the real binary as `nobody` (uid/gid 65534) via `setpriv`, so
/// permission tests mean something although the suite runs as root. The
/// binary is copied into the test directory because the build directory
/// may not be reachable by `nobody` (e.g. under /root).
pub fn run_as_nobody(env: &Env, checks_yaml: &str) -> (serde_json::Value, Run) {
    env.runbook(
        "t.yaml",
        &format!("version: 1\ntitle: test\nchecks:\n{checks_yaml}"),
    );
    let bin = env.path().join("opsrun-copy");
    if !bin.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_opsrun"), &bin).unwrap();
    }
    chmod(&bin, 0o755);
    chmod(env.path(), 0o755);
    chmod(&env.runbooks(), 0o755);
    chmod(&env.runbooks().join("t.yaml"), 0o644);
    let state = env.path().join("nobody-state");
    std::fs::create_dir_all(&state).unwrap();
    chmod(&state, 0o777);
    let started = Instant::now();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .args(["run", "t", "-f", "json"])
        .current_dir(env.path())
        .env_remove("OPSRUN_RUNBOOKS")
        .env("OPSRUN_HISTORY", state.join("history.db"))
        .env("XDG_STATE_HOME", &state)
        .env("HOME", &state)
        .output()
        .expect("setpriv");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    };
    let v = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\nstdout: {}\nstderr: {}",
            run.stdout, run.stderr
        )
    });
    (v, run)
}

pub fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A file's bytes and mtime, to prove a check did not touch it.
pub fn snapshot(p: &Path) -> (Vec<u8>, std::time::SystemTime) {
    (
        std::fs::read(p).unwrap(),
        std::fs::metadata(p).unwrap().modified().unwrap(),
    )
}

/// The repository root (for the default runbooks).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The default runbooks this issue touched load and validate.
#[test]
fn default_runbooks_validate() {
    let env = Env::new();
    for name in ["daily.yaml", "weekly.yaml", "monthly.yaml"] {
        let p = repo().join("runbooks").join(name);
        let r = env.run(&["validate", p.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{name}: {}{}", r.stdout, r.stderr);
        // The commented-out examples (`#  - id: …`) are valid once uncommented.
        let text = std::fs::read_to_string(&p).unwrap();
        if text.contains("\n#  - id:") {
            let uncommented: String = text
                .lines()
                .map(|l| match l.strip_prefix('#') {
                    Some(rest) if rest.starts_with("  ") || rest.is_empty() => rest,
                    _ => l,
                })
                .collect::<Vec<_>>()
                .join("\n");
            let q = env.write(&format!("runbooks/uncommented-{name}"), &uncommented);
            let r = env.run(&["validate", q.to_str().unwrap()]);
            assert_eq!(r.code, 0, "{name} uncommented: {}{}", r.stdout, r.stderr);
            assert!(r.stdout.contains("checks"), "{}", r.stdout);
        }
    }
}

/// Every kind's YAML example in docs/service-data.md loads.
#[test]
fn docs_examples_validate() {
    let env = Env::new();
    let doc = std::fs::read_to_string(repo().join("docs/service-data.md")).unwrap();
    let mut n = 0;
    for block in doc.split("```yaml").skip(1) {
        let yaml = block.split("```").next().unwrap();
        if !yaml.contains("checks:") {
            continue;
        }
        n += 1;
        let p = env.write(&format!("runbooks/doc{n}.yaml"), yaml);
        let r = env.run(&["validate", p.to_str().unwrap()]);
        assert_eq!(r.code, 0, "example {n}:\n{yaml}\n{}{}", r.stdout, r.stderr);
    }
    assert!(n >= 6, "expected an example per kind, found {n}");
}
