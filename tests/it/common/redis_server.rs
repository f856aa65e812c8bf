//! A real `redis-server` (Debian's `redis-server` package) on 127.0.0.1 on
//! a free port, nothing persisted, started with the arguments a test gives
//! (`--requirepass`, `--maxmemory`, `--replicaof` …).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::daemon::{Daemon, free_port};

pub struct RedisServer {
    pub port: u16,
    pub dir: TempDir,
    _daemon: Daemon,
}

fn binary(name: &str) -> PathBuf {
    let p = PathBuf::from("/usr/bin").join(name);
    assert!(
        p.exists(),
        "{} not found: install Debian's `redis-server` package (./test does)",
        p.display()
    );
    p
}

impl RedisServer {
    pub fn start(args: &[&str]) -> RedisServer {
        let bin = binary("redis-server");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut argv = vec![
            bin.display().to_string(),
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            "no".into(),
            "--dir".into(),
            dir.path().display().to_string(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        let log = dir.path().join("redis.log");
        let mut daemon = Daemon::spawn(&[], &argv, &log, "TERM", dir.path());
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if !daemon.running() || Instant::now() > until {
                panic!("redis-server did not start:\n{}", daemon.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer {
            port,
            dir,
            _daemon: daemon,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli` against this server (with `password` if given).
    pub fn cli(&self, password: Option<&str>, args: &[&str]) -> String {
        let mut c = Command::new(binary("redis-cli"));
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(p) = password {
            c.env("REDISCLI_AUTH", p);
        }
        let out = c.args(args).output().expect("run redis-cli");
        assert!(out.status.success(), "redis-cli {args:?} failed");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}
