//! Test harness: a temp directory with runbooks, the real binary, and
//! helpers to read its output.

#![allow(dead_code)]

pub mod daemon;
pub mod http_server;
pub mod moto;
pub mod outage;
pub mod podman;
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
            .env_remove("COLUMNS")
            // English messages unless a test asks (`--lang`, LANG=ja_JP…).
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env("LANG", "C.UTF-8")
            .env("OPSRUN_HISTORY", self.dir.path().join("history.db"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .timeout(Duration::from_secs(120));
        c
    }

    /// The real binary started in a session of its own (util-linux
    /// `setsid`, which execs it: the child's pid is opsrun's and the
    /// session's id), with [`Env::cmd`]'s directory and environment.
    /// Everything opsrun starts stays in that session, so a test finds
    /// its leftovers with [`session_processes`] — and never another
    /// test's processes.
    pub fn session_cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new("setsid");
        c.arg(env!("CARGO_BIN_EXE_opsrun"))
            .current_dir(self.dir.path())
            .env_remove("OPSRUN_RUNBOOKS")
            .env_remove("NO_COLOR")
            .env_remove("COLUMNS")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env("LANG", "C.UTF-8")
            .env("OPSRUN_HISTORY", self.dir.path().join("history.db"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
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

/// A check's status in a JSON document (`""` when absent).
pub fn status(c: &serde_json::Value) -> &str {
    c["status"].as_str().unwrap_or("")
}

/// A check's reason code (`""` when it has none).
pub fn code(c: &serde_json::Value) -> &str {
    c["reason"]["code"].as_str().unwrap_or("")
}

/// A check's message (`""` when it has none).
pub fn msg(c: &serde_json::Value) -> &str {
    c["message"].as_str().unwrap_or("")
}

/// A check's detail lines, joined by newlines (`""` when it has none).
pub fn detail(c: &serde_json::Value) -> String {
    c["detail"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(serde_json::Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The live (not zombie) processes of session `sid`: (pid, command line).
pub fn session_processes(sid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // After the command name in parentheses: state ppid pgrp session …
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() < 4 || f[0] == "Z" || f[3].parse::<u32>() != Ok(sid) {
            continue;
        }
        let cmd = std::fs::read(e.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        out.push((pid, cmd));
    }
    out
}

/// The processes descended from `pid` (by parent, now).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            if let Some(pp) = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|pp| pp.parse::<u32>().ok())
            {
                parent_of.push((p, pp));
            }
        }
    }
    let mut out = vec![];
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for (c, _) in parent_of.iter().filter(|(_, pp)| *pp == p) {
            out.push(*c);
            frontier.push(*c);
        }
    }
    out
}

/// Waits (at most `limit`, a hang guard) for session `sid` to empty;
/// returns what is still there.
pub fn session_after(sid: u32, limit: Duration) -> Vec<(u32, String)> {
    let started = Instant::now();
    loop {
        let left = session_processes(sid);
        if left.is_empty() || started.elapsed() >= limit {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `signal` (2, 15, …) to `child`.
pub fn signal(child: &std::process::Child, signal: i32) {
    rustix::process::kill_process(
        rustix::process::Pid::from_child(child),
        rustix::process::Signal::from_named_raw(signal).unwrap(),
    )
    .unwrap();
}

/// Waits (at most `limit`, a hang guard) until process `pid` catches
/// `signal` (its handler is installed: `SigCgt` in /proc/PID/status).
pub fn wait_for_handler(pid: u32, signal: u32, limit: Duration) -> bool {
    let started = Instant::now();
    loop {
        let caught = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("SigCgt:"))
                    .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            })
            .is_some_and(|mask| mask & (1 << (signal - 1)) != 0);
        if caught {
            return true;
        }
        if started.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits (at most `limit`, a hang guard) until `path` exists.
pub fn wait_for_file(path: &Path, limit: Duration) -> bool {
    let started = Instant::now();
    while !path.exists() {
        if started.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Replaces run-dependent numbers (durations, timings, host) for golden files.
pub fn redact(s: &str, host: &str) -> String {
    let mut out = s.replace(host, "HOST");
    for (re, with) in [
        (r"\(\d+\.\d+(s|秒)\)", "(DURATION)"),
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
