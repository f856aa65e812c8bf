//! The seed examples' deleting and renewing incident actions, run from
//! the example directories as shipped, with `--var`s pointing at the
//! test's own directories:
//!
//! - seed 003 (`examples/ops-template/incident-p2.yaml`): `delete-old-logs`
//!   and `delete-temp`, when `disk` finds the disk full;
//! - seed 000 (`examples/ai-estimator/incident-p3.yaml`): `vacuum-journal`
//!   (`journalctl --vacuum-time=7d`, the real journalctl on a journal
//!   directory of real archived journal files), when `disk-root` warns;
//! - seed 000 (`examples/ai-estimator/incident-p1.yaml`): `renew-cert` and
//!   `reload-web`, when `ssl-cert` finds the served certificate due.
//!
//! The disk the diagnosis measures is a real tmpfs of 1 MiB, mounted in a
//! private mount namespace (`unshare -m`, root only: skipped otherwise)
//! and filled — or not — by the test, so the `disk` check really warns or
//! passes. Stand-ins, the narrowest seams: `systemctl` (systemd is not PID
//! 1 here) and `certbot` (it would ask a real CA) are stubs on PATH that
//! log their arguments; `journalctl` is the real one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::http_server::Server;
use crate::common::{Env, Run};
use crate::service_data::certs::{Ca, serve};

fn examples(dir: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(dir)
        .display()
        .to_string()
}

/// `bin/NAME`: a stub that appends its arguments to `NAME.log`.
fn stub(env: &Env, name: &str) -> PathBuf {
    let log = env.path().join(format!("{name}.log"));
    let p = env.write(
        &format!("bin/{name}"),
        &format!("#!/bin/sh\necho \"$*\" >> '{}'\nexit 0\n", log.display()),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    log
}

fn path_with_stubs(env: &Env) -> String {
    format!(
        "{}:{}",
        env.path().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Sets `p`'s modification time to `ago` before now (`touch -d @…`, which
/// does not follow a symlink with `-h`).
fn age(p: &Path, ago: Duration) {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() - ago;
    let ok = Command::new("touch")
        .args(["-h", "-d", &format!("@{}", t.as_secs())])
        .arg(p)
        .status()
        .unwrap()
        .success();
    assert!(ok, "touch {}", p.display());
}

const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3600);

/// Whether a private mount namespace with a tmpfs can be had here.
fn tmpfs_possible() -> bool {
    if !crate::service_data::is_root() {
        eprintln!("SKIP: needs root to mount a tmpfs in a private mount namespace");
        return false;
    }
    let probe = Command::new("unshare")
        .args(["-m", "--propagation", "private", "true"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIP: unshare -m is not permitted here");
        return false;
    }
    true
}

/// Runs opsrun with `args` in a private mount namespace where `mnt` is a
/// fresh 1 MiB tmpfs holding `fill_kib` KiB (gone again when opsrun exits).
fn opsrun_on_tmpfs(env: &Env, mnt: &Path, fill_kib: u32, args: &[String]) -> Run {
    std::fs::create_dir_all(mnt).unwrap();
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(
            "set -e; mnt=$1; kib=$2; shift 2; mount -t tmpfs -o size=1024k opsrun-test \"$mnt\"; \
             [ \"$kib\" -eq 0 ] || head -c $((kib * 1024)) /dev/zero > \"$mnt/fill\"; exec \"$@\"",
        )
        .arg("sh")
        .arg(mnt)
        .arg(fill_kib.to_string())
        .arg(env!("CARGO_BIN_EXE_opsrun"))
        .args(args)
        .current_dir(env.path())
        .env_remove("OPSRUN_RUNBOOKS")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8")
        .env("OPSRUN_HISTORY", env.path().join("history.db"))
        .env("XDG_STATE_HOME", env.path().join("state"))
        .env("PATH", path_with_stubs(env))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: Duration::ZERO,
    }
}

fn args(list: &[&str], vars: &[(&str, String)]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    for (k, val) in vars {
        v.push("--var".into());
        v.push(format!("{k}={val}"));
    }
    v
}

/// Every file (and symlink) under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Seed 003's log directory and /tmp: what `delete-old-logs` and
/// `delete-temp` may delete (old, matching) and what they must leave.
fn seed_003_files(env: &Env) -> (PathBuf, PathBuf) {
    let logs = env.path().join("log");
    let tmp = env.path().join("tmp");
    let old = 40 * DAY;
    for (rel, ago) in [
        // rotated logs older than 30 days: deleted
        ("log/app.log.2.gz", old),
        ("log/error.log.31", old),
        ("log/archive/audit.log.7", old),
        // the live logs, however old, and rotated ones of the last 30 days
        ("log/app.log", old),
        ("log/error.log.1", DAY),
        ("log/app.log.29", 29 * DAY),
        // not the seed's pattern
        ("log/notes.txt", old),
        // the application's temp files not touched for an hour: deleted
        ("tmp/mirai-upload-1", 2 * HOUR),
        ("tmp/mirai-work/part-1", 2 * HOUR),
        // a temp file in use (written a minute ago), another program's
        ("tmp/mirai-upload-2", Duration::from_secs(60)),
        ("tmp/mirai-work/part-2", Duration::from_secs(60)),
        ("tmp/other-app.tmp", 2 * HOUR),
    ] {
        let p = env.write(rel, "x");
        age(&p, ago);
    }
    // A symlink into the logs of something else: never followed, and
    // not a regular file.
    let target = env.write("elsewhere/precious.log.1", "keep");
    age(&target, old);
    let link = logs.join("link.log.3");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    age(&link, old);
    (logs, tmp)
}

const SEED_003_KEPT: &[&str] = &[
    "log/app.log",
    "log/app.log.29",
    "log/error.log.1",
    "log/link.log.3",
    "log/notes.txt",
    "tmp/mirai-upload-2",
    "tmp/mirai-work/part-2",
    "tmp/other-app.tmp",
];
const SEED_003_DELETED: &[&str] = &[
    "log/app.log.2.gz",
    "log/archive/audit.log.7",
    "log/error.log.31",
    "tmp/mirai-upload-1",
    "tmp/mirai-work/part-1",
];

fn seed_003_now(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = ["log", "tmp"]
        .iter()
        .flat_map(|d| {
            files(&env.path().join(d))
                .into_iter()
                .map(move |f| format!("{d}/{f}"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn seed_003_disk_full_deletes_only_old_rotated_logs_and_old_temp_files() {
    if !tmpfs_possible() {
        return;
    }
    let env = Env::new();
    let systemctl = stub(&env, "systemctl");
    let server = Server::start();
    let (logs, tmp) = seed_003_files(&env);
    let vol = env.path().join("vol");
    let vars = [
        ("app_root", vol.display().to_string()),
        ("log_dir", logs.display().to_string()),
        ("tmp_dir", tmp.display().to_string()),
        ("app_port", server.port.to_string()),
        ("settle", "100ms".into()),
        ("verify_attempts", "1".into()),
        ("verify_interval", "100ms".into()),
    ];
    let all: Vec<String> = {
        let mut v: Vec<String> = SEED_003_KEPT
            .iter()
            .chain(SEED_003_DELETED)
            .map(|s| s.to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(seed_003_now(&env), all);
    let cmd = [
        "incident",
        "p2",
        "-C",
        &examples("ops-template"),
        "--only",
        "disk,health",
    ];

    // 950 KiB of 1 MiB: 危険. Without --execute the plan lists both
    // deletions as steps to run (the reload, for a high CPU, as skipped),
    // and nothing is deleted.
    let plan = opsrun_on_tmpfs(&env, &vol, 950, &args(&cmd, &vars));
    for step in ["1. 古いログ削除（30日以前）", "2. 一時ファイル削除"] {
        let line = step_line(&plan.stdout, step);
        assert!(!line.contains("スキップ"), "{line}\n{}", plan.stderr);
    }
    assert!(
        step_line(&plan.stdout, "3. グレースフルリスタート").ends_with("→ スキップ（条件不一致）"),
        "{}",
        plan.stdout
    );
    assert_eq!(seed_003_now(&env), all, "deleted without --execute");
    assert!(!systemctl.exists());

    // With --execute: only the old matching files are gone.
    let mut exec = cmd.to_vec();
    exec.extend(["--execute", "--yes"]);
    let r = opsrun_on_tmpfs(&env, &vol, 950, &args(&exec, &vars));
    let want: Vec<String> = SEED_003_KEPT.iter().map(|s| s.to_string()).collect();
    assert_eq!(seed_003_now(&env), want, "{}{}", r.stdout, r.stderr);
    assert!(
        step_line(&r.stdout, "[1/4] 古いログ削除（30日以前）").ends_with("→ 成功"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("以降の手順は未実行"),
        "a step failed: {}{}",
        r.stdout,
        r.stderr
    );
    assert_eq!(
        std::fs::read_to_string(env.path().join("elsewhere/precious.log.1")).unwrap(),
        "keep"
    );
    // The reload is for a high CPU, which this diagnosis (--only disk,health)
    // did not find: the service was neither reloaded nor stopped.
    assert!(
        step_line(&r.stdout, "[3/4]").ends_with("→ スキップ（条件不一致）"),
        "{}",
        r.stdout
    );
    assert!(!systemctl.exists());

    // Twice is once: nothing more to delete, and the steps succeed.
    let again = opsrun_on_tmpfs(&env, &vol, 950, &args(&exec, &vars));
    assert_eq!(seed_003_now(&env), want, "{}{}", again.stdout, again.stderr);
    assert!(
        !again.stdout.contains("以降の手順は未実行"),
        "{}",
        again.stdout
    );

    // An empty directory variable deletes nothing: the step fails with
    // why, and the steps after it do not run.
    for f in SEED_003_DELETED {
        let p = env.write(f, "x");
        age(&p, 40 * DAY);
    }
    let mut empty = vars.to_vec();
    empty[1] = ("log_dir", String::new());
    let r = opsrun_on_tmpfs(&env, &vol, 950, &args(&exec, &empty));
    assert!(
        r.stdout
            .contains("log_dir must be an absolute path other than /: nothing deleted"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert!(r.stdout.contains("以降の手順は未実行"), "{}", r.stdout);
    assert_eq!(seed_003_now(&env), all);

    // A disk that is not full: both deletions are skipped, and so is the
    // reload (the CPU was not diagnosed high).
    let r = opsrun_on_tmpfs(&env, &vol, 0, &args(&exec, &vars));
    assert_eq!(seed_003_now(&env), all, "{}{}", r.stdout, r.stderr);
    for step in [
        "[1/4] 古いログ削除（30日以前）",
        "[2/4] 一時ファイル削除",
        "[3/4] グレースフルリスタート",
    ] {
        let line = step_line(&r.stdout, step);
        assert!(line.ends_with("→ スキップ（条件不一致）"), "{line}");
    }
    assert!(!systemctl.exists());
}

/// The progress line of a step (`  [1/4] title (…) → state`).
fn step_line<'a>(stdout: &'a str, step: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.trim_start().starts_with(step))
        .unwrap_or_else(|| panic!("no step {step}:\n{stdout}"))
}

/// A real journal file of one entry logged `ago` before now (export
/// format through systemd-journal-remote), at `dir/name`.
fn journal_file(env: &Env, dir: &Path, name: &str, ago: Duration) -> PathBuf {
    let t = (SystemTime::now().duration_since(UNIX_EPOCH).unwrap() - ago).as_micros();
    let export = env.write(
        &format!("{name}.export"),
        &format!(
            "__REALTIME_TIMESTAMP={t}\n__MONOTONIC_TIMESTAMP=1000000\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_SYSTEMD_UNIT=estimator.service\nPRIORITY=6\nMESSAGE=タスク作成\n\n"
        ),
    );
    let tmp = env.path().join(format!("{name}.journal"));
    let out = Command::new("/lib/systemd/systemd-journal-remote")
        .arg(format!("--output={}", tmp.display()))
        .arg(&export)
        .output()
        .unwrap();
    assert!(out.status.success(), "journal-remote: {out:?}");
    // An archived file is named by journald as
    // `system@SEQNUM_ID-HEAD_SEQNUM-HEAD_REALTIME.journal` (hex); vacuuming
    // reads its age from that name. The active file is `system.journal`.
    let dest = dir.join(name.replace("{t}", &format!("{t:016x}")));
    std::fs::create_dir_all(dir).unwrap();
    std::fs::rename(&tmp, &dest).unwrap();
    dest
}

#[test]
fn seed_000_disk_warning_vacuums_only_journal_files_older_than_7_days() {
    if !tmpfs_possible() {
        return;
    }
    let env = Env::new();
    let systemctl = stub(&env, "systemctl");
    let server = Server::start();
    let journal = env.path().join("journal");
    let archived = |ago: Duration, id: &str| {
        journal_file(
            &env,
            &journal,
            &format!("system@{id:0>32}-0000000000000001-{{t}}.journal"),
            ago,
        )
    };
    let old = archived(10 * DAY, "1");
    let recent = archived(HOUR, "2");
    // The active file: never vacuumed, however old its entries.
    let active = journal_file(&env, &journal, "system.journal", 10 * DAY);
    let vol = env.path().join("root");
    let vars = [
        ("disk_path", vol.display().to_string()),
        ("journal_dir", journal.display().to_string()),
        ("health_url", server.url("/ok")),
        ("settle", "100ms".into()),
        ("verify_attempts", "1".into()),
        ("verify_interval", "100ms".into()),
    ];
    let cmd = [
        "incident",
        "p3",
        "-C",
        &examples("ai-estimator"),
        "--only",
        "disk-root,health-latency",
    ];
    let names = || files(&journal);
    let all = names();
    assert_eq!(all.len(), 3);

    // 850 KiB of 1 MiB: 警告. The plan only.
    let plan = opsrun_on_tmpfs(&env, &vol, 850, &args(&cmd, &vars));
    let line = step_line(&plan.stdout, "3. ジャーナル削除（7日以前）");
    assert!(
        line.contains("--vacuum-time=7d") && !line.contains("スキップ"),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
    assert_eq!(names(), all, "deleted without --execute");

    let mut exec = cmd.to_vec();
    exec.extend(["--execute", "--yes"]);
    let r = opsrun_on_tmpfs(&env, &vol, 850, &args(&exec, &vars));
    assert!(
        step_line(&r.stdout, "[3/4] ジャーナル削除（7日以前）").ends_with("→ 成功"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert!(!old.exists(), "{}", r.stdout);
    assert!(recent.exists() && active.exists(), "{}", r.stdout);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // drop-caches is for memory, which this diagnosis did not look at.
    assert!(step_line(&r.stdout, "[2/4]").ends_with("→ スキップ（条件不一致）"));
    assert_eq!(
        std::fs::read_to_string(&systemctl).unwrap(),
        "restart estimator --no-pager\n"
    );

    // Twice is once.
    let left = names();
    let again = opsrun_on_tmpfs(&env, &vol, 850, &args(&exec, &vars));
    assert!(
        step_line(&again.stdout, "[3/4]").ends_with("→ 成功"),
        "{}",
        again.stdout
    );
    assert_eq!(names(), left);

    // A disk below 80%: the journal is left alone.
    let old = archived(10 * DAY, "3");
    let r = opsrun_on_tmpfs(&env, &vol, 0, &args(&exec, &vars));
    assert!(
        step_line(&r.stdout, "[3/4]").ends_with("→ スキップ（条件不一致）"),
        "{}",
        r.stdout
    );
    assert!(old.exists());
}

/// A TLS server on localhost presenting a certificate with `days` left,
/// its root in `ca.pem` (opsrun trusts it through `SSL_CERT_FILE`).
fn site(env: &Env, days: i64) -> u16 {
    let root = Ca::root("opsrun remedies root");
    env.write("ca.pem", &root.pem);
    let leaf = root.leaf(&["localhost"], -60, days);
    serve(vec![leaf.der.clone()], leaf.key.clone_key())
}

fn seed_000_p1(env: &Env, port: u16, server: &Server, execute: bool) -> Run {
    let mut a = args(
        &[
            "incident",
            "p1",
            "-C",
            &examples("ai-estimator"),
            "--only",
            "ssl-cert,health-local",
        ],
        &[
            ("domain", "localhost".into()),
            ("https_port", port.to_string()),
            ("health_url", server.url("/ok")),
            ("settle", "100ms".into()),
            ("verify_attempts", "1".into()),
            ("verify_interval", "100ms".into()),
        ],
    );
    if execute {
        a.extend(["--execute".into(), "--yes".into()]);
    }
    let out = env
        .cmd()
        .args(&a)
        .env("PATH", path_with_stubs(env))
        .env("SSL_CERT_FILE", env.path().join("ca.pem"))
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: Duration::ZERO,
    }
}

#[test]
fn seed_000_certificate_due_is_renewed_and_apache_reloaded_only_then() {
    let env = Env::new();
    let systemctl = stub(&env, "systemctl");
    let certbot = stub(&env, "certbot");
    let server = Server::start();

    // 20 days left: 警告 (30日以内).
    let due = site(&env, 20);
    let plan = seed_000_p1(&env, due, &server, false);
    assert!(
        step_line(&plan.stdout, "3. SSL証明書更新")
            .contains("certbot renew --non-interactive --no-random-sleep-on-renew"),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
    assert!(!certbot.exists() && !systemctl.exists());

    let r = seed_000_p1(&env, due, &server, true);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        std::fs::read_to_string(&certbot).unwrap(),
        "renew --non-interactive --no-random-sleep-on-renew\n"
    );
    // Renewed after Apache's restart, then reloaded (not stopped).
    assert_eq!(
        std::fs::read_to_string(&systemctl).unwrap(),
        "restart estimator --no-pager\nrestart httpd --no-pager\nreload httpd --no-pager\n"
    );

    // 90 days left: certbot is not called, Apache not reloaded.
    std::fs::remove_file(&certbot).unwrap();
    std::fs::remove_file(&systemctl).unwrap();
    let fine = site(&env, 90);
    let r = seed_000_p1(&env, fine, &server, true);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!certbot.exists(), "{}", r.stdout);
    assert_eq!(
        std::fs::read_to_string(&systemctl).unwrap(),
        "restart estimator --no-pager\nrestart httpd --no-pager\n"
    );
    for step in ["[3/5] SSL証明書更新", "[4/5] httpd設定リロード"] {
        assert!(
            step_line(&r.stdout, step).ends_with("→ スキップ（条件不一致）"),
            "{}",
            r.stdout
        );
    }
}
