//! A real implementation of the AWS APIs for the `aws_*` kinds: moto's
//! server (PyPI `moto[server]`, in the venv `.ci/deps` makes at
//! /opt/opsrun-moto, or `$OPSRUN_MOTO`) on 127.0.0.1 on a free port, one per
//! test, seeded through its API with boto3 from the same venv. opsrun talks
//! to it through `aws_proxy.py` (beside this file), which only translates
//! CloudWatch's CBOR protocol to the JSON one moto serves and throttles on
//! demand — moto answers everything.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::daemon::{Daemon, free_port};

/// The fake account's keys (moto accepts any unless auth is switched on).
pub const KEY_ID: &str = "AKIAOPSRUNTESTKEY000";
pub const SECRET: &str = "opsrun-test-secret-key-not-real";
pub const REGION: &str = "us-east-1";

pub struct Moto {
    /// moto itself (seeding goes here).
    pub port: u16,
    /// The proxy opsrun is pointed at (`endpoint_url`).
    pub proxy_port: u16,
    pub dir: TempDir,
    // The proxy first: it stops before moto.
    _proxy: Daemon,
    _moto: Daemon,
}

/// The venv holding moto, boto3 and cbor2.
pub fn venv() -> PathBuf {
    let dir = std::env::var_os("OPSRUN_MOTO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/opsrun-moto"));
    assert!(
        dir.join("bin/moto_server").exists(),
        "moto's server not found in {}: run .ci/deps as root (./test does), which makes that venv \
         (moto[server], boto3, cbor2 from PyPI), or point OPSRUN_MOTO at such a venv",
        dir.display()
    );
    dir
}

fn wait_for(port: u16, daemon: &mut Daemon, what: &str) {
    let until = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if !daemon.running() || Instant::now() > until {
            panic!("{what} did not start:\n{}", daemon.log_text());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// moto with extra environment (`INITIAL_NO_AUTH_ACTION_COUNT=0`
    /// switches its credential checks on).
    pub fn start_with(env: &[&str]) -> Moto {
        let venv = venv();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut prefix = vec!["env"];
        prefix.extend(env);
        let mut moto = Daemon::spawn(
            &prefix,
            &[
                venv.join("bin/moto_server").display().to_string(),
                "-H".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ],
            &dir.path().join("moto.log"),
            "TERM",
            dir.path(),
        );
        wait_for(port, &mut moto, "moto_server");
        let proxy_port = free_port();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/common/aws_proxy.py");
        let mut proxy = Daemon::spawn(
            &[],
            &[
                venv.join("bin/python").display().to_string(),
                script.display().to_string(),
                proxy_port.to_string(),
                format!("http://127.0.0.1:{port}"),
            ],
            &dir.path().join("proxy.log"),
            "TERM",
            dir.path(),
        );
        wait_for(proxy_port, &mut proxy, "aws_proxy.py");
        Moto {
            port,
            proxy_port,
            dir,
            _proxy: proxy,
            _moto: moto,
        }
    }

    /// What opsrun's `endpoint_url` is.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.proxy_port)
    }

    /// Runs `script` (Python) with boto3 against moto directly: `client(name)`
    /// makes a client, `now` is the current UTC time, `ago(minutes)` a
    /// time before it. Panics with the script's output when it fails.
    pub fn seed(&self, script: &str) -> String {
        let prelude = format!(
            r#"
import datetime, boto3
now = datetime.datetime.now(datetime.timezone.utc)
def ago(minutes):
    return now - datetime.timedelta(minutes=minutes)
def client(name):
    return boto3.client(name, endpoint_url="http://127.0.0.1:{port}", region_name="{REGION}",
                        aws_access_key_id="{KEY_ID}", aws_secret_access_key="{SECRET}")
"#,
            port = self.port
        );
        let out = Command::new(venv().join("bin/python"))
            .arg("-c")
            .arg(format!("{prelude}\n{script}"))
            .output()
            .expect("run the venv's python");
        assert!(
            out.status.success(),
            "seeding moto failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn control(&self, path: &str, body: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.proxy_port)).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: proxy\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()
    }

    /// The proxy answers the next `n` AWS requests with a throttling
    /// error (`-1`: every request from now on).
    pub fn throttle(&self, n: i64) {
        self.control("/__throttle", &n.to_string());
    }

    /// AWS requests the proxy has seen so far.
    pub fn requests(&self) -> u64 {
        self.control("/__count", "").trim().parse().unwrap()
    }

    /// moto's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("proxy.log")).unwrap_or_default()
    }
}

/// Sets the environment of an opsrun command for the AWS tests: the
/// test's keys (or none), no profile files, no instance metadata, and
/// nothing from the host's AWS settings.
pub fn aws_env(c: &mut assert_cmd::Command, home: &std::path::Path, keys: bool) {
    for v in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        c.env_remove(v);
    }
    c.env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    if keys {
        c.env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET);
    }
}
