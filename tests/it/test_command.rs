//! The README's test command, `./test`, and the `.ci/deps` it calls.
//!
//! Narrow seams, said here: `cargo` and `apt-get` are fake scripts first on
//! PATH (they print or log their arguments), and
//! `OPSRUN_DEPS_ASSUME_MISSING` makes `.ci/deps` count a made-up package as
//! missing, so both branches run without installing anything on the host.
//! The real thing (a bare debootstrap chroot, as root and as a user) is in
//! docs/testing.md. The scripts are copied into a temp directory so that
//! `nobody` can run them wherever the clone lives (e.g. under /root).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::service_data::{chmod, is_root};

const FAKE_PKG: &str = "opsrun-test-fake-pkg";

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join(".ci")).unwrap();
        std::fs::copy(root.join("test"), repo.join("test")).unwrap();
        std::fs::copy(root.join(".ci/deps"), repo.join(".ci/deps")).unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let log = dir.path().join("log");
        std::fs::create_dir_all(&log).unwrap();
        std::fs::write(
            bin.join("cargo"),
            "#!/bin/sh\necho \"fake cargo ran: $*${OPSRUN_TEST_SKIP_ROOTFUL:+ (skip rootful)}\"\n",
        )
        .unwrap();
        std::fs::write(
            bin.join("apt-get"),
            format!(
                "#!/bin/sh\necho \"apt-get $*\" >> {}\n",
                log.join("apt-get").display()
            ),
        )
        .unwrap();
        for (p, mode) in [
            (dir.path(), 0o755),
            (&repo, 0o755),
            (&repo.join(".ci"), 0o755),
            (&repo.join("test"), 0o755),
            (&repo.join(".ci/deps"), 0o755),
            (&bin, 0o755),
            (&bin.join("cargo"), 0o755),
            (&bin.join("apt-get"), 0o755),
            (&log, 0o777),
        ] {
            chmod(p, mode);
        }
        Sandbox { dir }
    }

    fn script(&self) -> PathBuf {
        self.dir.path().join("repo/test")
    }

    fn path_env(&self) -> String {
        format!(
            "{}:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
            self.dir.path().join("bin").display()
        )
    }

    /// What the fake apt-get was asked to do.
    fn apt_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/apt-get")).unwrap_or_default()
    }

    /// Runs `./test ARGS` as root (the test process) or, with `nobody`, as
    /// uid/gid 65534 — or as the test process's own user if that is not
    /// root already.
    fn run(&self, nobody: bool, missing: Option<&str>, args: &[&str]) -> Out {
        let mut cmd = if nobody && is_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
            c.arg(self.script());
            c
        } else {
            Command::new(self.script())
        };
        cmd.args(args)
            .env("PATH", self.path_env())
            .env_remove("OPSRUN_DEPS_ASSUME_MISSING")
            .current_dir(self.dir.path());
        if let Some(m) = missing {
            cmd.env("OPSRUN_DEPS_ASSUME_MISSING", m);
        }
        let out = cmd.output().expect("run ./test");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A user without root and a package missing: told exactly what to
/// install and how, exit 1, and nothing is built, run or installed.
#[test]
fn as_a_user_with_packages_missing_it_says_what_to_install_and_runs_nothing() {
    let sb = Sandbox::new();
    let missing = format!("{FAKE_PKG} {FAKE_PKG}-two");
    let r = sb.run(true, Some(&missing), &["outputs"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "sudo apt-get update && sudo apt-get install --no-install-recommends {FAKE_PKG} {FAKE_PKG}-two\n"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("Nothing was built or run."),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("fake cargo ran"), "{r:?}");
    assert_eq!(sb.apt_log(), "");
    // --setup refuses the same way; --check only reports.
    let r = sb.run(true, Some(FAKE_PKG), &["--setup"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("sudo apt-get update"), "{}", r.stderr);
    let r = sb.run(true, Some(FAKE_PKG), &["--check"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.stderr,
        format!("./test: missing Debian packages: {FAKE_PKG}\n")
    );
    assert_eq!(sb.apt_log(), "");
}

/// podman and python3-venv also stand for what `.ci/deps` does after
/// apt-get (podman's drop-in, the moto venv): the line a user is given runs
/// it too, or following it would leave them missing for ever.
#[test]
fn as_a_user_missing_podman_or_the_moto_venv_the_line_also_runs_ci_deps() {
    let sb = Sandbox::new();
    let deps = sb.dir.path().join("repo/.ci/deps");
    for pkg in ["podman", "python3-venv"] {
        let r = sb.run(true, Some(pkg), &[]);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr.contains(&format!(
                "sudo apt-get install --no-install-recommends {pkg} && sudo {}\n",
                deps.display()
            )),
            "{}",
            r.stderr
        );
    }
    // Other packages: the apt-get line alone (the test above).
    assert_eq!(sb.apt_log(), "");
}

/// A user on a provisioned machine: straight to `cargo test --locked`,
/// arguments passed through, the rootful container tests skipped and said
/// to be, before and after.
#[test]
fn as_a_user_on_a_provisioned_machine_it_runs_the_suite() {
    let sb = Sandbox::new();
    let r = sb.run(true, None, &["--check"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (0, "./test: nothing missing\n"),
        "this machine lacks packages the suite needs: run ./test as root"
    );
    let r = sb.run(true, None, &["outputs", "--", "--nocapture"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(sb.apt_log(), "");
    assert_eq!(
        r.stdout,
        "fake cargo ran: test --locked outputs -- --nocapture (skip rootful)\n"
    );
    let skipped = "./test: the container:: tests (rootful Podman) are skipped: not root. \
                   Run ./test as root to include them.\n";
    assert_eq!(
        r.stderr,
        format!("{skipped}./test: running: cargo test --locked outputs -- --nocapture\n{skipped}")
    );
}

/// Root on a provisioned machine: the whole suite, nothing skipped.
#[test]
fn as_root_on_a_provisioned_machine_nothing_is_skipped() {
    if !is_root() {
        eprintln!("SKIP: the root branch needs the suite to run as root");
        return;
    }
    let sb = Sandbox::new();
    let r = sb.run(false, None, &["outputs"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "fake cargo ran: test --locked outputs\n");
    assert_eq!(r.stderr, "./test: running: cargo test --locked outputs\n");
}

/// Root with a package missing: says what it installs, installs it through
/// `.ci/deps` (apt-get update, then install), and if apt-get did not
/// deliver, stops before building anything.
#[test]
fn as_root_it_installs_what_is_missing_first() {
    if !is_root() {
        eprintln!("SKIP: the root branch needs the suite to run as root");
        return;
    }
    let sb = Sandbox::new();
    let r = sb.run(false, Some(FAKE_PKG), &[]);
    assert!(
        r.stderr.contains(&format!(
            "./test: installing the missing Debian packages with apt-get (.ci/deps): {FAKE_PKG}\n"
        )),
        "{r:?}"
    );
    assert_eq!(
        sb.apt_log(),
        format!("apt-get update -qq\napt-get install -y -qq --no-install-recommends {FAKE_PKG}\n")
    );
    // The fake apt-get installs nothing, so the package is still missing.
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "still missing after apt-get: {FAKE_PKG}. Nothing was run."
        )),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("fake cargo ran"), "{r:?}");
    // Provisioned: no apt-get at all, --setup runs nothing, the suite runs.
    let sb = Sandbox::new();
    let r = sb.run(false, None, &["--setup"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{r:?}");
    let r = sb.run(false, None, &[]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "fake cargo ran: test --locked\n")
    );
    assert_eq!(sb.apt_log(), "");
}

/// No Rust toolchain: one line saying so, before looking at anything else.
#[test]
fn without_cargo_it_says_to_install_the_toolchain() {
    let sb = Sandbox::new();
    let out = Command::new("/bin/bash")
        .arg(sb.script())
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("./test: cargo not found: install the Rust toolchain"),
        "{err}"
    );
}

/// `.ci/run` (CI) runs the same command, and the README gives it.
#[test]
fn ci_and_readme_use_the_same_test_command() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l == "./test"), "{ci}");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    // The very line CI runs, on a line of its own in the README.
    assert!(
        readme.lines().any(|l| l == "./test"),
        "README must give `./test` as CI runs it"
    );
}
