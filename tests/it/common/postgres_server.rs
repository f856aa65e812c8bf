//! A real PostgreSQL server from Debian's `postgresql` package, in a temp
//! directory: `initdb` + `postgres` run as the unprivileged `postgres` user
//! when the suite runs as root (PostgreSQL refuses to run as root), as the
//! suite's own user otherwise, listening on 127.0.0.1 on a free
//! port and on a Unix socket in the temp directory. Local (socket)
//! connections are trusted, TCP ones need a SCRAM password.
//!
//! If the server binaries are missing the tests fail, saying so: `./test`
//! installs them (through `.ci/deps`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::daemon::{Daemon, free_port};

/// The password of the `app` role (asserted absent from every output).
pub const APP_PASSWORD: &str = "pg-Secr3t-4711-xyz";

pub struct PgServer {
    pub port: u16,
    pub dir: TempDir,
    bin: PathBuf,
    daemon: Option<Daemon>,
}

/// `/usr/lib/postgresql/<newest>/bin`, or a failing test that says what to install.
pub fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: \
             install Debian's `postgresql` package (./test does)"
        ),
    }
}

fn postgres_ids() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with("postgres:"))
        .expect("no `postgres` user: install Debian's `postgresql` package (./test does)");
    let f: Vec<&str> = line.split(':').collect();
    (f[2].parse().unwrap(), f[3].parse().unwrap())
}

/// Gives a file or directory to the `postgres` user (as root; otherwise
/// the server runs as the suite's user, who owns it already).
pub fn give_to_postgres(p: &Path) {
    if !rustix::process::geteuid().is_root() {
        return;
    }
    let (uid, gid) = postgres_ids();
    std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
}

const AS_POSTGRES: [&str; 5] = [
    "setpriv",
    "--reuid=postgres",
    "--regid=postgres",
    "--init-groups",
    "--",
];

/// The argv prefix that runs a server program: `setpriv` to `postgres` as
/// root, nothing for any other user.
fn as_postgres() -> &'static [&'static str] {
    if rustix::process::geteuid().is_root() {
        &AS_POSTGRES
    } else {
        &[]
    }
}

fn run_as_postgres(cwd: &Path, argv: &[&str]) {
    let full: Vec<&str> = as_postgres().iter().chain(argv).copied().collect();
    let out = Command::new(full[0])
        .args(&full[1..])
        .current_dir(cwd)
        .env("LC_ALL", "C")
        .output()
        .expect("run setpriv");
    assert!(
        out.status.success(),
        "{argv:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PgServer {
    /// A fresh cluster; `conf` lines are appended to postgresql.conf.
    pub fn start_with(conf: &[String]) -> PgServer {
        let bin = bin_dir();
        let dir = tempfile::tempdir().unwrap();
        give_to_postgres(dir.path());
        let data = dir.path().join("data");
        run_as_postgres(
            dir.path(),
            &[
                bin.join("initdb").to_str().unwrap(),
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        let mut text = String::from(
            "\nshared_buffers = 16MB\nmax_connections = 20\nfsync = off\n\
             synchronous_commit = off\nfull_page_writes = off\ndeadlock_timeout = 100ms\n",
        );
        for line in conf {
            text.push_str(line);
            text.push('\n');
        }
        let conf_path = data.join("postgresql.conf");
        let mut all = std::fs::read_to_string(&conf_path).unwrap();
        all.push_str(&text);
        std::fs::write(&conf_path, all).unwrap();
        let mut s = PgServer {
            port: free_port(),
            dir,
            bin,
            daemon: None,
        };
        s.launch();
        s
    }

    pub fn start() -> PgServer {
        Self::start_with(&[])
    }

    /// A streaming standby of `primary`, made with `pg_basebackup -R`.
    pub fn standby_of(primary: &PgServer) -> PgServer {
        let bin = bin_dir();
        let dir = tempfile::tempdir().unwrap();
        give_to_postgres(dir.path());
        let data = dir.path().join("data");
        run_as_postgres(
            dir.path(),
            &[
                bin.join("pg_basebackup").to_str().unwrap(),
                "-h",
                primary.sock().to_str().unwrap(),
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
                "-D",
                data.to_str().unwrap(),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
        );
        let mut s = PgServer {
            port: free_port(),
            dir,
            bin,
            daemon: None,
        };
        s.launch();
        s
    }

    fn launch(&mut self) {
        let data = self.data();
        let argv = vec![
            self.bin.join("postgres").display().to_string(),
            "-D".into(),
            data.display().to_string(),
            "-c".into(),
            format!("port={}", self.port),
            "-c".into(),
            "listen_addresses=127.0.0.1".into(),
            "-c".into(),
            format!("unix_socket_directories={}", self.sock().display()),
        ];
        let log = self.dir.path().join("server.log");
        self.daemon = Some(Daemon::spawn(
            as_postgres(),
            &argv,
            &log,
            "QUIT",
            self.dir.path(),
        ));
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-t", "1", "-h"])
                .arg(self.sock())
                .args(["-p", &self.port.to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                return;
            }
            let d = self.daemon.as_mut().unwrap();
            if !d.running() || Instant::now() > until {
                panic!("PostgreSQL did not start:\n{}", d.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server at once (SIGQUIT, as [`Drop`] does) and waits
    /// until the postmaster has gone.
    pub fn stop(&mut self) {
        drop(self.daemon.take());
        let pid_file = self.data().join("postmaster.pid");
        let until = Instant::now() + Duration::from_secs(10);
        while pid_file.exists() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a stopped server again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The Unix socket directory.
    pub fn sock(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// A `psql` command as the superuser over the socket, for `db`.
    pub fn psql_cmd(&self, db: &str, sql: &str) -> Command {
        let mut c = Command::new(self.bin.join("psql"));
        c.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.sock())
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
                "-c",
                sql,
            ]);
        c
    }

    /// Runs `sql` as the superuser and returns its trimmed output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self.psql_cmd(db, sql).output().expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Polls `sql` until it prints `want` (or panics after `secs`).
    pub fn wait_for(&self, db: &str, sql: &str, want: &str, secs: u64) {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.psql(db, sql);
            if got == want {
                return;
            }
            assert!(
                Instant::now() < until,
                "{sql:?} still prints {got:?}, waited for {want:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The usual fixture: role `app` (password [`APP_PASSWORD`]) owning
    /// database `appdb` with a `users` table (5 rows created today, 3
    /// yesterday) and a two-row table `t` for deadlocks.
    pub fn with_app(self) -> PgServer {
        self.psql(
            "postgres",
            &format!("CREATE ROLE app LOGIN PASSWORD '{APP_PASSWORD}'"),
        );
        self.psql("postgres", "CREATE DATABASE appdb OWNER app");
        self.psql(
            "appdb",
            "SET ROLE app; \
             CREATE TABLE users (id serial PRIMARY KEY, email text, created_at timestamptz NOT NULL DEFAULT now()); \
             INSERT INTO users (email) SELECT 'u' || i || '@example.com' FROM generate_series(1, 5) i; \
             INSERT INTO users (email, created_at) SELECT 'old' || i || '@example.com', now() - interval '1 day' FROM generate_series(1, 3) i; \
             CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL); \
             INSERT INTO t VALUES (1, 0), (2, 0);",
        );
        self
    }

    /// Writes `content` into the temp dir as a file only `postgres` can read.
    pub fn private_file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        give_to_postgres(&p);
        p
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        drop(self.daemon.take());
        // Immediate shutdown: wait until the postmaster has gone before the
        // temp dir is removed under it.
        let pid_file = self.data().join("postmaster.pid");
        let until = Instant::now() + Duration::from_secs(10);
        while pid_file.exists() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
