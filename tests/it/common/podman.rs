//! A real Docker-Engine-compatible API: rootful Podman's
//! `podman system service` on a socket in a temp dir, with containers run
//! by `podman` itself (runc, cgroupfs, host network: what a CI machine
//! without systemd allows; `.ci/deps` installs podman, runc and
//! busybox-static and configures Podman for it). The image is made here,
//! without any registry: a busybox rootfs imported as
//! `localhost/opsrun-bb:1`.
//!
//! Every container a test starts is a [`Ctr`] with a name unique to the
//! test process; dropping it removes the container (`podman rm -f`), on
//! failure too. The API service is a [`Daemon`]: it stops with the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::daemon::Daemon;

pub const IMAGE: &str = "localhost/opsrun-bb:1";
const PODMAN: &str = "/usr/bin/podman";
const RUNC: &str = "/usr/sbin/runc";
const BUSYBOX: &str = "/bin/busybox";

pub struct Podman {
    pub dir: TempDir,
    _service: Daemon,
}

/// A container started by a test, removed when dropped.
pub struct Ctr {
    pub name: String,
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.name]);
    }
}

/// `podman --runtime runc ARGS`.
pub fn podman(args: &[&str]) -> Output {
    Command::new(PODMAN)
        .args(["--runtime", RUNC])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run podman: {e}"))
}

/// `podman ARGS`, which must succeed; its stdout.
pub fn podman_ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "podman {args:?} failed ({}):\n{}\n(.ci/deps installs podman, runc and busybox-static \
         and configures /etc/containers for rootful Podman with cgroupfs)",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A name no other test (in this process or another) uses.
pub fn unique(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "opsrun-it-{}-{}-{what}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Set by `./test` when it runs as a user other than root: the container
/// tests then return at once, and `./test` says before and after the run
/// that they did not run (so a contributor's run is green and says what it
/// left out; CI runs as root and runs them). Without it, a non-root run
/// fails them, saying why: a plain `cargo test` never passes them silently.
pub const SKIP_ROOTFUL: &str = "OPSRUN_TEST_SKIP_ROOTFUL";

/// Fails the test with what to install when Podman cannot run here;
/// `false` when `./test` asked a non-root run to skip the rootful tests.
fn prerequisites() -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root && std::env::var_os(SKIP_ROOTFUL).is_some() {
        eprintln!("SKIP: rootful Podman needs root ({SKIP_ROOTFUL} is set by ./test)");
        return false;
    }
    for (path, pkg) in [
        (PODMAN, "podman"),
        (RUNC, "runc"),
        (BUSYBOX, "busybox-static"),
    ] {
        assert!(
            Path::new(path).exists(),
            "{path} not found: install Debian's `{pkg}` package (.ci/deps does; ./test runs it)"
        );
    }
    assert!(
        root,
        "the container tests run rootful Podman: run them as root (./test as root runs .ci/deps; \
         ./test as a user skips them and says so)"
    );
    true
}

/// The registry-less test image, imported once per test process.
fn image() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if podman(&["image", "exists", IMAGE]).status.success() {
            return;
        }
        let root = tempfile::tempdir().unwrap();
        for d in ["bin", "tmp", "etc", "ctl"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        std::fs::copy(BUSYBOX, root.path().join("bin/busybox")).unwrap();
        for applet in ["sh", "sleep", "true", "false", "cat", "rm", "test", "touch"] {
            std::os::unix::fs::symlink("busybox", root.path().join("bin").join(applet)).unwrap();
        }
        let tar = Command::new("tar")
            .arg("-C")
            .arg(root.path())
            .args(["-cf", "-", "."])
            .output()
            .expect("run tar");
        assert!(tar.status.success(), "tar failed");
        let mut import = Command::new(PODMAN)
            .args(["import", "-", IMAGE])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run podman import");
        use std::io::Write;
        import.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
        let out = import.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "podman import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

impl Podman {
    /// The API service on `DIR/podman.sock`, the image ready; `None` when
    /// `./test` runs as a user and the rootful tests are skipped.
    pub fn start() -> Option<Podman> {
        if !prerequisites() {
            return None;
        }
        image();
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("podman.sock");
        let argv: Vec<String> = vec![
            PODMAN.into(),
            "--runtime".into(),
            RUNC.into(),
            "system".into(),
            "service".into(),
            "--time=0".into(),
            format!("unix://{}", sock.display()),
        ];
        let log = dir.path().join("service.log");
        let mut service = Daemon::spawn(&[], &argv, &log, "TERM", dir.path());
        let until = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            if !service.running() || Instant::now() > until {
                panic!(
                    "podman system service did not start:\n{}",
                    service.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Podman {
            dir,
            _service: service,
        })
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("podman.sock")
    }

    /// `unix://…` for `DOCKER_HOST`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Runs a detached container of the test image: `opts` before the
    /// image (labels, healthcheck, restart policy), then `cmd`.
    pub fn run(&self, what: &str, opts: &[&str], cmd: &[&str]) -> Ctr {
        let ctr = Ctr { name: unique(what) };
        let mut args = vec!["run", "-d", "--network=host", "--name", &ctr.name];
        args.extend(opts);
        args.push(IMAGE);
        args.extend(cmd);
        podman_ok(&args);
        ctr
    }

    /// `podman inspect --format FORMAT NAME`.
    pub fn inspect(&self, ctr: &Ctr, format: &str) -> String {
        podman_ok(&["inspect", "--format", format, &ctr.name])
    }

    /// Waits (up to 60 s) until `inspect`'s `format` prints `want`.
    pub fn wait_for(&self, ctr: &Ctr, format: &str, want: &str) {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.inspect(ctr, format);
            if got == want {
                return;
            }
            assert!(
                Instant::now() < until,
                "{}: {format} is {got:?}, waited for {want:?}",
                ctr.name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
