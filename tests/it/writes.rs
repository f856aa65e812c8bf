//! Hardening, second round (issue 15): everything opsrun writes. stdout to
//! a pipe whose reader is gone and to a full device, `--output` onto a
//! device node, a FIFO and symlinks, control bytes from a check's output
//! through every text format, Nagios perfdata read by a real consumer
//! (the `nagiosplugin` Python package), and a runbook named by a bare
//! file name.

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Env, NOW};

/// The real binary with `env`'s directory and environment, for tests that
/// need their own stdio.
fn opsrun(env: &Env, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_opsrun"));
    c.current_dir(env.path())
        .args(args)
        .env_remove("OPSRUN_RUNBOOKS")
        .env("OPSRUN_HISTORY", env.path().join("history.db"))
        .env("XDG_STATE_HOME", env.path().join("state"))
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Waits for `child` (a hang guard, not a timing assertion) and returns
/// its exit code and stderr.
fn finish(mut child: Child, what: &str) -> (i32, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{what}: still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A runbook directory with one passing runbook `t` and `n` more files.
fn setup(n: usize) -> Env {
    let env = Env::new();
    env.runbook(
        "t.yaml",
        "version: 1\ntitle: t\nchecks:\n  - id: ok\n    command: {shell: \"echo 5\", value: {warn: 80, fail: 90}}\n",
    );
    for i in 0..n {
        env.runbook(
            &format!("r{i:03}.yaml"),
            "version: 1\ntitle: r\nchecks:\n  - id: a\n    command: {run: [\"true\"]}\n",
        );
    }
    env
}

/// Every subcommand that prints, as the issue found them and more.
fn printing_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec!["validate", "-C", "runbooks"],
        vec!["list", "-C", "runbooks"],
        vec!["completions", "bash"],
        vec!["completions", "zsh"],
        vec!["completions", "fish"],
        vec!["man"],
        vec!["run", "t", "-C", "runbooks", "--now", NOW],
        vec!["run", "t", "-C", "runbooks", "--now", NOW, "-f", "json"],
        vec!["run", "t", "-C", "runbooks", "--now", NOW, "-f", "report"],
        vec!["history", "--now", NOW],
        vec!["report", "weekly", "-C", "runbooks", "--now", NOW],
    ]
}

#[test]
fn a_closed_stdout_ends_quietly_for_every_subcommand() {
    let env = setup(400);
    // Validate every file by name too: 400 lines for `| head -1`.
    let files: Vec<String> = (0..400).map(|i| format!("runbooks/r{i:03}.yaml")).collect();
    let mut commands = printing_commands();
    let mut validate_all = vec!["validate"];
    validate_all.extend(files.iter().map(String::as_str));
    commands.push(validate_all);
    for args in &commands {
        // The code with a reader, to compare with.
        let normal = opsrun(&env, args)
            .stdout(Stdio::null())
            .output()
            .unwrap()
            .status
            .code();
        // A pipe whose read end is closed before opsrun writes a byte.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let child = opsrun(&env, args).stdout(writer).spawn().unwrap();
        let (code, err) = finish(child, &args.join(" "));
        assert!(
            !err.contains("panicked") && code != 101,
            "{args:?}: {code}\n{err}"
        );
        assert_eq!(
            Some(code),
            normal,
            "{args:?}: a closed pipe changed the exit code\n{err}"
        );
        assert!(
            !err.contains("cannot write to stdout"),
            "{args:?}: a closed pipe is not an error\n{err}"
        );
    }
}

/// `/dev/full`, made in the test's directory where `mknod` is permitted.
fn full_device(dir: &Path) -> Option<PathBuf> {
    let p = dir.join("full");
    let made = Command::new("mknod")
        .arg(&p)
        .args(["c", "1", "7"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if made {
        return Some(p);
    }
    let sys = PathBuf::from("/dev/full");
    sys.metadata()
        .is_ok_and(|m| m.file_type().is_char_device())
        .then_some(sys)
}

#[test]
fn a_full_stdout_is_one_error_line_and_never_a_zero() {
    let env = setup(3);
    let Some(full) = full_device(env.path()) else {
        eprintln!("skipped: no /dev/full and mknod is not permitted here");
        return;
    };
    for args in printing_commands() {
        let out = std::fs::OpenOptions::new().write(true).open(&full).unwrap();
        let child = opsrun(&env, &args).stdout(out).spawn().unwrap();
        let (code, err) = finish(child, &args.join(" "));
        assert!(
            !err.contains("panicked") && code != 101,
            "{args:?}: {code}\n{err}"
        );
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("error: cannot write to stdout"))
            .collect();
        assert_eq!(
            lines,
            ["error: cannot write to stdout: No space left on device"],
            "{args:?}\n{err}"
        );
        // Everything passed, yet the report was lost: unknown, not 0.
        assert_eq!(code, 3, "{args:?}\n{err}");
    }
}

#[test]
fn output_replaces_regular_files_only() {
    let env = setup(0);
    let dir = env.path();
    let run = |target: &Path, format: &str| {
        let spec = format!("{format}={}", target.display());
        let child = opsrun(
            &env,
            &[
                "run", "t", "-C", "runbooks", "--now", NOW, "--output", &spec,
            ],
        )
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
        finish(child, &spec)
    };

    // A device node (the test's own /dev/null, where mknod is permitted).
    let null = dir.join("null");
    let made = Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if made {
        for format in ["json", "prometheus", "table"] {
            let (code, err) = run(&null, format);
            assert!(
                std::fs::symlink_metadata(&null)
                    .unwrap()
                    .file_type()
                    .is_char_device(),
                "{format}: the device node was replaced"
            );
            assert_eq!(code, 3, "{format}\n{err}");
            assert!(
                err.contains("is a character device, not a regular file"),
                "{format}\n{err}"
            );
        }
    } else {
        eprintln!("device-node part skipped: mknod is not permitted here");
    }

    // A FIFO: never opened (it would block until a reader came), never replaced.
    let fifo = dir.join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for format in ["json", "prometheus"] {
        let (code, err) = run(&fifo, format);
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert_eq!(code, 3, "{err}");
        assert!(err.contains("is a FIFO, not a regular file"), "{err}");
    }

    // A directory.
    let (code, err) = run(&env.runbooks(), "json");
    assert_eq!(code, 3);
    assert!(err.contains("is a directory, not a regular file"), "{err}");

    // A symlink to a file: the file is replaced, the link stays.
    let real = dir.join("real.json");
    std::fs::write(&real, "old").unwrap();
    let link = dir.join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (code, err) = run(&link, "json");
    assert_eq!(code, 0, "{err}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.contains("\"runbook\": \"t\""), "{text}");

    // A symlink to nothing: refused rather than guessed at.
    let dangling = dir.join("dangling.json");
    std::os::unix::fs::symlink(dir.join("missing/x.json"), &dangling).unwrap();
    let (code, err) = run(&dangling, "json");
    assert_eq!(code, 3);
    assert!(err.contains("a symlink to a missing file"), "{err}");
    assert!(
        std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn control_bytes_from_a_check_are_escaped_in_every_text_format() {
    let env = Env::new();
    env.runbook(
        "evil.yaml",
        r#"version: 1
title: "evil\u001b[2J"
checks:
  - id: evil
    title: "title\u0007"
    command: {shell: "printf '\\033]0;pwned\\007\\033[2J\\000x\\r\\342\\200\\256y\\n'; exit 1"}
  - id: value
    command: {shell: "printf '\\033[31m7\\n'", value: {warn: 80}}
"#,
    );
    for format in [
        "table",
        "markdown",
        "report",
        "checklist",
        "nagios",
        "junit",
        "json",
        "prometheus",
    ] {
        for verbose in [false, true] {
            let mut args = vec!["run", "evil", "--now", NOW, "-f", format];
            if verbose {
                args.push("-v");
            }
            let r = env.run(&args);
            let bad: Vec<char> = r
                .stdout
                .chars()
                .filter(|c| (c.is_control() && *c != '\n' && *c != '\t') || *c == '\u{202E}')
                .collect();
            assert!(
                bad.is_empty(),
                "{format} -v={verbose}: {bad:?}\n{}",
                r.stdout
            );
            assert!(
                r.code == 2 || r.code == 3,
                "{format}: {}\n{}",
                r.code,
                r.stderr
            );
        }
    }
    // Shown, not dropped: the operator sees what the command printed.
    let r = env.run(&["run", "evil", "--now", NOW]);
    assert!(r.stdout.contains(r"\u{1b}]0;pwned\u{7}"), "{}", r.stdout);
}

/// Whether a value is fine by a monitoring-plugins range, as Python's
/// `nagiosplugin` (a real perfdata consumer) reads it.
fn nagiosplugin_verdicts(perf: &[(String, f64, String, String)]) -> Vec<String> {
    let mut script = String::from(
        "import nagiosplugin as n\nR = n.Range\ndef v(x, w, c):\n    if c and not R(c).match(x): return 'fail'\n    if w and not R(w).match(x): return 'warn'\n    return 'pass'\n",
    );
    for (_, value, w, c) in perf {
        script.push_str(&format!("print(v({value}, {w:?}, {c:?}))\n"));
    }
    let out = Command::new("/usr/bin/python3")
        .args(["-c", &script])
        .output()
        .expect("python3 (installed by .ci/deps)");
    assert!(
        out.status.success(),
        "nagiosplugin (Debian python3-nagiosplugin, installed by .ci/deps): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn nagios_perfdata_reads_as_opsrun_judged_by_a_real_consumer() {
    let env = Env::new();
    env.runbook(
        "p.yaml",
        r#"version: 1
title: perf
checks:
  - id: hi-pass
    command: {shell: "echo 50", value: {warn: 80, fail: 90}}
  - id: hi-warn
    command: {shell: "echo 85", value: {warn: 80, fail: 90}}
  - id: hi-fail
    command: {shell: "echo 95", value: {warn: 80, fail: 90}}
  - id: hi-at-warn
    command: {shell: "echo 8", value: {warn: 8, fail: 10}}
  - id: gt-at-limit
    command: {shell: "echo 80", value: {warn: "> 80", fail: "> 90"}}
  - id: low
    command: {shell: "echo 3", value: {warn: "< 10", fail: "< 2"}}
  - id: low-fail
    command: {shell: "echo 1", value: {warn: "<= 10", fail: "<= 2"}}
  - id: procs
    process: {name: no-such-process-opsrun}
  - id: procs-warn
    process: {name: no-such-process-opsrun, count: {warn: 1, fail: "< 0"}}
"#,
    );
    let json = env.path().join("p.json");
    let r = env.run(&[
        "run",
        "p",
        "--now",
        NOW,
        "-f",
        "nagios",
        "--output",
        &format!("json={}", json.display()),
    ]);
    let text = std::fs::read_to_string(&json)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let first = r.stdout.lines().next().unwrap();
    let (_, perfdata) = first.split_once(" | ").expect(first);
    let perf: Vec<(String, f64, String, String)> = perfdata
        .split(' ')
        .map(|p| {
            let (label, rest) = p.split_once('=').unwrap();
            let f: Vec<&str> = rest.split(';').collect();
            let value: f64 = f[0]
                .trim_end_matches(|c: char| c.is_alphabetic() || c == '%')
                .parse()
                .unwrap();
            (
                label.trim_matches('\'').to_owned(),
                value,
                f[1].to_owned(),
                f[2].to_owned(),
            )
        })
        .collect();
    assert_eq!(perf.len(), 9, "{first}");
    let verdicts = nagiosplugin_verdicts(&perf);
    for ((label, value, w, c), verdict) in perf.iter().zip(&verdicts) {
        let status = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == label.as_str())
            .unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            &status, verdict,
            "{label}={value};{w};{c}: opsrun says {status}, nagiosplugin {verdict}"
        );
    }
    // The cases the issue quoted, as a consumer now reads them.
    assert!(first.contains("'hi-at-warn'=8;@8:;@10:;;"), "{first}");
    assert!(first.contains("'low'=3;10:;2:;;"), "{first}");
    assert!(first.contains("'procs'=0;;@~:0;;"), "{first}");
}

#[test]
fn a_runbook_named_by_a_bare_file_name_runs_in_its_own_directory() {
    let env = Env::new();
    env.write(
        "d/a.yaml",
        "version: 1\ntitle: a\nchecks:\n  - id: t\n    command: {run: [\"true\"]}\n  - id: here\n    command: {run: [\"test\", \"-f\", \"a.yaml\"]}\n",
    );
    let out = env
        .cmd()
        .current_dir(env.path().join("d"))
        .args(["run", "a.yaml", "--now", NOW, "-f", "json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    for r in doc["checks"].as_array().unwrap() {
        assert_eq!(r["status"], "pass", "{r:#}");
    }
}

const LONG: &str = r#"version: 1
title: layout
checks:
  - id: backup-verification-nightly-long-id
    title: A rather long title that describes the nightly backup verification
    command: {shell: "echo 'the nightly backup could not be verified because the archive is missing from the expected directory' >&2; exit 1"}
  - id: ok
    title: short
    command: {run: ["true"]}
"#;

#[test]
fn the_table_fits_a_narrow_terminal_without_breaking_ids() {
    let env = Env::new();
    env.runbook("l.yaml", LONG);
    let wide = env.run(&["run", "l", "--now", NOW]);
    let narrow = env
        .cmd()
        .env("COLUMNS", "80")
        .args(["run", "l", "--now", NOW])
        .output()
        .unwrap();
    let narrow = String::from_utf8_lossy(&narrow.stdout).into_owned();
    // Below 100 columns TITLE goes; the id stays whole on one line.
    assert!(!narrow.contains("TITLE"), "{narrow}");
    assert!(
        narrow.contains("backup-verification-nightly-long-id"),
        "{narrow}"
    );
    let table: Vec<&str> = narrow
        .lines()
        .filter(|l| l.starts_with(['┌', '│', '╞', '├', '└']))
        .collect();
    for l in &table {
        assert!(
            l.chars().count() <= 80,
            "{} columns: {l}\n{narrow}",
            l.chars().count()
        );
    }
    // Without a width (a pipe, cron mail) nothing wraps: one line per row.
    assert!(wide.stdout.contains("TITLE"), "{}", wide.stdout);
    assert!(
        wide.stdout
            .contains("the nightly backup could not be verified because the archive is missing")
    );
    // A width of 0 is no width.
    let zero = env
        .cmd()
        .env("COLUMNS", "0")
        .args(["run", "l", "--now", NOW])
        .output()
        .unwrap();
    let strip = |s: &str| {
        regex::Regex::new(r"\(\d+\.\d+s\)")
            .unwrap()
            .replace_all(s, "")
            .into_owned()
    };
    assert_eq!(
        strip(&String::from_utf8_lossy(&zero.stdout)),
        strip(&wide.stdout)
    );
}

/// A real pseudo-terminal (util-linux `script`) that reports 0×0, as some
/// serial consoles and CI ptys do: laid out as if there were no terminal,
/// not one character per column.
#[test]
fn a_terminal_of_zero_columns_is_no_terminal() {
    let env = Env::new();
    env.runbook("l.yaml", LONG);
    let bin = env!("CARGO_BIN_EXE_opsrun");
    let inner = format!("stty cols 0 rows 0; {bin} run l --now {NOW}");
    let out = Command::new("script")
        .current_dir(env.path())
        .env("OPSRUN_HISTORY", env.path().join("history.db"))
        .env_remove("COLUMNS")
        .env_remove("OPSRUN_RUNBOOKS")
        .args(["-qec", &inner, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux, installed by .ci/deps)");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(
        text.contains("backup-verification-nightly-long-id"),
        "{text}"
    );
    assert!(text.contains("TITLE"), "{text}");
}

/// A server that answers a TLS ClientHello with garbage: the check fails
/// with its reason in the table, and no dependency's log line (rustls
/// `WARN …` with a timestamp) reaches stderr, which cron mails.
#[test]
fn a_garbage_tls_peer_prints_no_library_log_lines() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 512];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let _ = std::io::Write::write_all(
                &mut s,
                b"\x16\x03\x03\x00\x05\xff\xff\xff\xff\xff garbage",
            );
        }
    });
    let env = Env::new();
    env.runbook(
        "g.yaml",
        &format!(
            "version: 1\ntitle: g\nchecks:\n  - id: web\n    timeout: 5s\n    http: {{url: \"https://127.0.0.1:{port}/\"}}\n  - id: cert\n    timeout: 5s\n    tls: {{host: 127.0.0.1, port: {port}}}\n"
        ),
    );
    let r = env.run(&["run", "g", "--now", NOW]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        !r.stderr.contains("WARN") && !r.stderr.contains("rustls"),
        "{}",
        r.stderr
    );
}
