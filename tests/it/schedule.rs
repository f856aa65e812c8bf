//! The cron and systemd examples work as shipped: `examples/cron/opsrun`
//! is read the way Debian's cron reads `/etc/cron.d` (file name, five time
//! fields, the user, environment lines, `%`), each job runs under `/bin/sh`
//! with only the environment cron gives it, and — where the real `cron`
//! daemon and `unshare` are there — Debian's cron runs the file and mails
//! the output. The systemd units pass `systemd-analyze verify` with no
//! complaint (skipped with a printed reason without systemd-analyze).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where the examples call opsrun; README and the units install it there.
const BIN: &str = "/usr/local/bin/opsrun";

fn example(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(rel)
}

/// One line of a cron.d file.
#[derive(Debug)]
enum Line {
    Env(String, String),
    Job {
        fields: [String; 5],
        user: String,
        command: String,
    },
}

/// Parses a cron.d file as Debian's cron does (`load_entry`): blank lines
/// and `#` comments skipped, `NAME=value` sets the environment, anything
/// else is five time fields, a user and the command (the rest of the line).
fn parse_cron_d(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first = line.split_whitespace().next().unwrap();
        if let Some((name, value)) = line.split_once('=')
            && !first.chars().next().unwrap().is_ascii_digit()
            && first != "*"
            && !name.trim().contains(char::is_whitespace)
        {
            out.push(Line::Env(name.trim().into(), value.trim().into()));
            continue;
        }
        let mut rest = line;
        let mut words = Vec::new();
        for _ in 0..6 {
            rest = rest.trim_start();
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            words.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
        let command = rest.trim().to_owned();
        assert!(
            !command.is_empty(),
            "line {}: five time fields, a user and a command: {raw}",
            n + 1
        );
        let user = words.pop().unwrap();
        let fields: [String; 5] = words.try_into().unwrap();
        for (field, (lo, hi, names)) in fields.iter().zip(RANGES) {
            assert!(
                field_ok(field, lo, hi, names),
                "line {}: `{field}` is not a valid time field ({lo}-{hi}): {raw}",
                n + 1
            );
        }
        out.push(Line::Job {
            fields,
            user,
            command,
        });
    }
    out
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
/// minute, hour, day of month, month, day of week (7 is Sunday too).
const RANGES: [(u32, u32, &[&str]); 5] = [
    (0, 59, &[]),
    (0, 23, &[]),
    (1, 31, &[]),
    (1, 12, MONTHS),
    (0, 7, DAYS),
];

/// `*`, `5`, `1-5`, `*/15`, `1-30/2`, lists of them, and month/day names.
fn field_ok(field: &str, lo: u32, hi: u32, names: &[&str]) -> bool {
    let num = |s: &str| -> Option<u32> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Some(i as u32 + lo);
        }
        s.parse().ok().filter(|v| (lo..=hi).contains(v))
    };
    field.split(',').all(|part| {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        let range_ok = range == "*"
            || match range.split_once('-') {
                Some((a, b)) => matches!((num(a), num(b)), (Some(a), Some(b)) if a <= b),
                None => num(range).is_some(),
            };
        range_ok && step.is_none_or(|s| s.parse::<u32>().is_ok_and(|s| s > 0))
    })
}

#[test]
fn the_cron_parser_here_refuses_what_cron_refuses() {
    assert!(field_ok("*/15", 0, 59, &[]));
    assert!(field_ok("1-5", 0, 7, DAYS));
    assert!(field_ok("mon,fri", 0, 7, DAYS));
    assert!(!field_ok("60", 0, 59, &[]));
    assert!(!field_ok("5-1", 0, 23, &[]));
    assert!(!field_ok("*/0", 0, 59, &[]));
    assert!(!field_ok("0", 1, 31, &[]));
    let lines = parse_cron_d("# c\nMAILTO=a@b\n0 9 * * * root /bin/true x\n");
    assert!(matches!(&lines[0], Line::Env(k, v) if k == "MAILTO" && v == "a@b"));
    assert!(
        matches!(&lines[1], Line::Job { user, command, .. } if user == "root" && command == "/bin/true x")
    );
}

/// `(name, value)` of environment lines; `(time fields, "user\tcommand")` of jobs.
type Pairs = Vec<(String, String)>;

/// The cron file's jobs and environment, checked line by line.
fn cron_example() -> (Pairs, Pairs) {
    let path = example("cron/opsrun");
    let name = path.file_name().unwrap().to_str().unwrap();
    // Debian's cron skips /etc/cron.d files whose name has a dot.
    assert!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{name}: cron ignores it in /etc/cron.d"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.ends_with('\n'),
        "cron drops a last line without newline"
    );
    let mut env = Vec::new();
    let mut jobs = Vec::new();
    for line in parse_cron_d(&text) {
        match line {
            Line::Env(k, v) => env.push((k, v)),
            Line::Job {
                fields,
                user,
                command,
            } => jobs.push((fields.join(" "), format!("{user}\t{command}"))),
        }
    }
    (env, jobs)
}

#[test]
fn the_cron_example_is_a_valid_cron_d_file_whose_jobs_run_under_crons_environment() {
    let (env, jobs) = cron_example();
    let var = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert!(var("MAILTO").is_some_and(|m| m.contains('@')), "{env:?}");
    let path = var("PATH").expect("a PATH line");
    assert!(
        path.split(':').any(|d| d == "/usr/bin") && path.split(':').any(|d| d == "/usr/sbin"),
        "{path}"
    );
    assert!(var("CRON_TZ").is_none(), "Debian's cron has no CRON_TZ");
    assert!(jobs.len() >= 4, "{jobs:?}");

    let tmp = tempfile::tempdir().unwrap();
    let runbooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    for (when, job) in &jobs {
        let (user, command) = job.split_once('\t').unwrap();
        assert_eq!(user, "root", "{when} {command}");
        // `%` is a newline to cron: none may be in a command.
        assert!(!command.contains('%'), "{command}");
        // cron's own PATH is /usr/bin:/bin, where `opsrun` is not: the
        // command names the binary by its full path.
        assert!(
            command.starts_with(&format!("{BIN} ")),
            "{command}: call {BIN} by its full path"
        );
        // The job under /bin/sh with cron's environment only, the binary
        // and the places it writes moved into this test's directory.
        let command = command.replace(BIN, env!("CARGO_BIN_EXE_opsrun")).replace(
            "/var/lib/prometheus/node-exporter",
            tmp.path().to_str().unwrap(),
        );
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(&command).env_clear();
        c.env("SHELL", "/bin/sh")
            .env("HOME", tmp.path())
            .env("LOGNAME", "root");
        for (k, v) in &env {
            c.env(k, v);
        }
        c.env("OPSRUN_RUNBOOKS", &runbooks)
            .env("OPSRUN_HISTORY", tmp.path().join("history.db"))
            .current_dir(tmp.path());
        let out = c.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code().unwrap_or(-1);
        // The checks judge this host (0-3: a check may be unknown on a
        // host without systemd); a usage or setup error would be an
        // `error:` line, a command cron cannot find 127 and `not found`.
        assert!(
            (0..=3).contains(&code),
            "{when} {command}: exit {code}\n{stdout}{stderr}"
        );
        assert!(
            !stderr.contains("not found") && !stderr.contains("error:"),
            "{when} {command}: {stderr}"
        );
        if command.contains(" -q ") {
            // Quiet: a passing run prints nothing (no mail), any other prints the report.
            assert_eq!(stdout.is_empty(), code == 0, "{command}: {stdout}");
        } else {
            assert!(stdout.starts_with('【'), "{command}: {stdout}");
        }
    }
    assert!(tmp.path().join("opsrun.prom").is_file());
}

/// `systemd-analyze verify` of the units, with the binary at a path that
/// exists here (verify refuses an ExecStart that is not executable) and
/// without the man page lookup (`--man=no`: `Documentation=man:opsrun(1)`
/// is found once `opsrun man --dir` has installed it). Any line it prints
/// — an unknown key, a bad calendar — fails the test.
#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    let Ok(v) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("SKIP: systemd-analyze is not installed (Debian package systemd)");
        return;
    };
    assert!(v.status.success());
    let tmp = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    for name in [
        "opsrun-daily.service",
        "opsrun-daily.timer",
        "opsrun-serve.service",
    ] {
        let text = std::fs::read_to_string(example(&format!("systemd/{name}"))).unwrap();
        if name.ends_with(".service") {
            let exec = text
                .lines()
                .find(|l| l.starts_with("ExecStart="))
                .expect("ExecStart");
            assert!(
                exec.starts_with(&format!("ExecStart={BIN} ")),
                "{exec}: the unit calls {BIN}, where the README installs it"
            );
        }
        let p = tmp.path().join(name);
        std::fs::write(&p, text.replace(BIN, env!("CARGO_BIN_EXE_opsrun"))).unwrap();
        units.push(p);
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&units)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
    // The timer's calendar is one systemd reads, in Tokyo time.
    let out = Command::new("systemd-analyze")
        .args(["calendar", "*-*-* 09:00:00 Asia/Tokyo"])
        .output()
        .unwrap();
    assert!(out.status.success());
}

/// Debian's real `cron` daemon runs the example file. In a private mount
/// namespace (`unshare -m`, root only) the test's directories stand in for
/// `/etc/cron.d`, `/etc/crontab`, the user crontabs, `/run` (cron's pid
/// file), `/usr/local/bin` (holding opsrun) and `/usr/sbin` (holding cron
/// and a `sendmail` that keeps what cron mails); the host's own cron
/// configuration is never touched. The file's first job is moved to every
/// minute and its runbook directory to one holding a failing daily
/// runbook; everything else is the file as shipped. Waits for the next minute (up to ~2 minutes).
#[test]
fn debians_cron_daemon_runs_the_example_and_mails_its_report() {
    let cron = Path::new("/usr/sbin/cron");
    if !cron.exists() {
        eprintln!("SKIP: no /usr/sbin/cron (Debian package cron)");
        return;
    }
    if !crate::service_data::is_root() {
        eprintln!("SKIP: needs root for a private mount namespace");
        return;
    }
    let probe = Command::new("unshare")
        .args(["-m", "--propagation", "private", "true"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIP: unshare -m is not permitted here");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for sub in ["cron.d", "spool", "run", "bin", "sbin", "mail", "prom"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("crontab"), "").unwrap();
    std::fs::copy(cron, d.join("sbin/cron")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_opsrun"), d.join("bin/opsrun")).unwrap();
    let mail = d.join("mail");
    std::fs::write(
        d.join("sbin/sendmail"),
        format!(
            "#!/bin/sh\nn=$$\nprintf '%s\\n' \"$@\" > {m}/args.$n\ncat > {m}/mail.$n.tmp && mv {m}/mail.$n.tmp {m}/mail.$n\n",
            m = mail.display()
        ),
    )
    .unwrap();
    let exe = |p: &Path| {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap()
    };
    exe(&d.join("sbin/sendmail"));
    exe(&d.join("bin/opsrun"));

    // The example as shipped, but: only the first job (the 09:00 daily run
    // with the textfile), due every minute; history and textfile in the
    // test's directory.
    let text = std::fs::read_to_string(example("cron/opsrun")).unwrap();
    // A daily runbook that fails wherever the test runs, so `-q` prints
    // the report and cron has something to mail.
    let runbooks = d.join("runbooks");
    std::fs::create_dir_all(&runbooks).unwrap();
    std::fs::write(
        runbooks.join("daily.yaml"),
        "version: 1\ntitle: 日次点検\nchecks:\n  - id: marker\n    title: 稼働フラグ\n    file: {path: /nonexistent/opsrun-cron-test}\n",
    )
    .unwrap();
    let mut file = String::new();
    let mut jobs = 0;
    for line in text.lines() {
        if line.starts_with("OPSRUN_RUNBOOKS=") {
            file.push_str(&format!(
                "OPSRUN_RUNBOOKS={}\nOPSRUN_HISTORY={}\n",
                runbooks.display(),
                d.join("history.db").display()
            ));
        } else if line.starts_with(|c: char| c.is_ascii_digit()) {
            if jobs == 0 {
                let rest: Vec<&str> = line.split_whitespace().skip(5).collect();
                let job = rest.join(" ").replace(
                    "/var/lib/prometheus/node-exporter",
                    d.join("prom").to_str().unwrap(),
                );
                file.push_str(&format!("* * * * * {job}\n"));
            }
            jobs += 1;
        } else {
            file.push_str(line);
            file.push('\n');
        }
    }
    std::fs::write(d.join("cron.d/opsrun"), &file).unwrap();

    let script = format!(
        "set -e
mount --bind {d}/cron.d /etc/cron.d
mount --bind {d}/crontab /etc/crontab
[ -d /var/spool/cron/crontabs ] && mount --bind {d}/spool /var/spool/cron/crontabs
mount --bind {d}/run /run
mount --bind {d}/bin /usr/local/bin
mount --bind {d}/sbin /usr/sbin
exec /usr/sbin/cron -f -L 15",
        d = d.display()
    );
    let mut child = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The first minute boundary after cron has read the file, the job's
    // run, and its mail: at most a little over two minutes.
    let until = Instant::now() + Duration::from_secs(150);
    let found = loop {
        let done: Vec<PathBuf> = std::fs::read_dir(&mail)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("mail.") && !n.ends_with(".tmp"))
            })
            .collect();
        if let Some(p) = done.into_iter().next() {
            break Some(p);
        }
        if Instant::now() > until || child.try_wait().unwrap().is_some() {
            break None;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let _ = child.kill();
    let _ = child.wait();
    let Some(found) = found else {
        panic!(
            "cron mailed nothing within 150 s (cron.d file:\n{file})\nprom dir: {:?}",
            std::fs::read_dir(d.join("prom")).map(|r| r.count())
        );
    };
    let message = std::fs::read_to_string(&found).unwrap();
    let n = found.extension().unwrap().to_str().unwrap();
    let args = std::fs::read_to_string(mail.join(format!("args.{n}"))).unwrap_or_default();
    // cron's mail: to MAILTO, its subject the command line (no status in
    // it, as the file's comment says), the body the report opsrun printed.
    assert!(
        message.contains("To: ops@example.com") || args.contains("ops@example.com"),
        "{args}\n{message}"
    );
    let subject = message
        .lines()
        .find(|l| l.starts_with("Subject: "))
        .unwrap_or_default();
    assert!(
        subject.starts_with("Subject: Cron <root@")
            && subject.contains("/usr/local/bin/opsrun daily -q -f report"),
        "{message}"
    );
    assert!(message.contains("【日次運用レポート】"), "{message}");
    assert!(!message.contains("not found"), "{message}");
    assert!(d.join("prom/opsrun.prom").is_file());
}
