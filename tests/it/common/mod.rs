//! Test harness: a temp directory with runbooks, the real binary, and
//! helpers to read its output.

#![allow(dead_code)]

pub mod daemon;
pub mod http_server;
pub mod postgres_server;
pub mod redis_server;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The fixed clock used by golden tests.
pub const NOW: &str = "2025-10-21T09:00:00+09:00";

/// A temp directory holding a `runbooks/` dir, and a way to run opsrun in it.
pub struct Env {
    pub dir: TempDir,
}

/// What a run printed, its exit code and how long it took.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("runbooks")).unwrap();
        Env { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn runbooks(&self) -> PathBuf {
        self.dir.path().join("runbooks")
    }

    /// Writes `runbooks/<name>` and returns its path.
    pub fn runbook(&self, name: &str, yaml: &str) -> PathBuf {
        self.write(&format!("runbooks/{name}"), yaml)
    }

    /// Writes a file relative to the temp dir.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    /// A command for the real binary, run in the temp dir with a clean
    /// environment for colour and history.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_opsrun"));
        c.current_dir(self.dir.path())
            .env_remove("OPSRUN_RUNBOOKS")
            .env_remove("NO_COLOR")
            .env("OPSRUN_HISTORY", self.dir.path().join("history.db"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .timeout(Duration::from_secs(120));
        c
    }

    /// Runs opsrun with `args` and collects the result.
    pub fn run(&self, args: &[&str]) -> Run {
        let started = Instant::now();
        let out = self.cmd().args(args).output().expect("run opsrun");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }

    /// Runs a one-off runbook body (checks only) as JSON and returns the
    /// parsed document with the run.
    pub fn run_checks(&self, checks_yaml: &str) -> (serde_json::Value, Run) {
        self.runbook(
            "t.yaml",
            &format!("version: 1\ntitle: test\nchecks:\n{checks_yaml}"),
        );
        let r = self.run(&["run", "t", "-f", "json"]);
        let v = serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}):\nstdout: {}\nstderr: {}",
                r.stdout, r.stderr
            )
        });
        (v, r)
    }
}

/// The check with `id` in a JSON run.
pub fn check<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {doc:#}"))
}

/// Replaces run-dependent numbers (durations, timings, host) for golden files.
pub fn redact(s: &str, host: &str) -> String {
    let mut out = s.replace(host, "HOST");
    for (re, with) in [
        (r"\(\d+\.\d+s\)", "(DURATION)"),
        (r#""duration_ms": \d+"#, r#""duration_ms": 0"#),
        (r"\d+(\.\d+)?ms", "Nms"),
    ] {
        out = regex::Regex::new(re)
            .unwrap()
            .replace_all(&out, with)
            .into_owned();
    }
    out
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_owned()
}
