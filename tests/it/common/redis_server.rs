//! A real `redis-server` (Debian's `redis-server` package) on 127.0.0.1 on
//! a free port, nothing persisted, started with the arguments a test gives
//! (`--requirepass`, `--maxmemory`, `--replicaof` …), or TLS-only with the
//! test's certificate (`start_tls`).

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
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Self::launch(|port, _| {
            let mut v = vec!["--port".to_owned(), port.to_string()];
            v.extend(args);
            v
        })
    }

    /// TLS only (no plain port): `port` is the TLS port, serving
    /// `cert_pem` (with `key_pem`); clients are not asked for certificates.
    pub fn start_tls(cert_pem: &str, key_pem: &str, ca_pem: &str) -> RedisServer {
        Self::launch(|port, dir| {
            let mut v = vec!["--port".to_owned(), "0".to_owned()];
            v.extend(["--tls-port".to_owned(), port.to_string()]);
            for (flag, file, pem) in [
                ("--tls-cert-file", "server.crt", cert_pem),
                ("--tls-key-file", "server.key", key_pem),
                ("--tls-ca-cert-file", "ca.crt", ca_pem),
            ] {
                let path = dir.join(file);
                std::fs::write(&path, pem).unwrap();
                v.extend([flag.to_owned(), path.display().to_string()]);
            }
            v.extend(["--tls-auth-clients".to_owned(), "no".to_owned()]);
            v
        })
    }

    /// Starts the server with the listening arguments `listen` gives for a
    /// free port and the server's directory.
    fn launch(listen: impl FnOnce(u16, &std::path::Path) -> Vec<String>) -> RedisServer {
        let bin = binary("redis-server");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut argv = vec![
            bin.display().to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            "no".into(),
            "--dir".into(),
            dir.path().display().to_string(),
        ];
        argv.extend(listen(port, dir.path()));
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
