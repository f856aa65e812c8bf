//! `process` against real child processes: copies of `sleep` under unique
//! names (one longer than the kernel's 15-byte `comm`), several instances,
//! one running as `nobody`, and a zombie.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use super::{run_json, svm};
use crate::common::{Env, check};

/// Child processes killed and reaped when the test ends, pass or fail.
struct Kids(Vec<Child>);

impl Drop for Kids {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Copies `/bin/<prog>` to `dir/<name>` (world-executable).
fn program(dir: &Path, prog: &str, name: &str) -> PathBuf {
    let src = ["/bin", "/usr/bin"]
        .iter()
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.exists())
        .unwrap();
    let dst = dir.join(name);
    std::fs::copy(src, &dst).unwrap();
    super::chmod(&dst, 0o755);
    dst
}

/// A short tag unique to this test process, so parallel runs never count
/// each other's children.
fn tag() -> String {
    format!("{:x}", std::process::id() % 0xfffff)
}

/// The name of the user the suite runs as (its children run as it too).
fn current_user() -> String {
    let uid = rustix::process::geteuid().as_raw().to_string();
    std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.get(2) == Some(&uid.as_str()))
        .map(|f| f[0].to_string())
        .expect("the suite's user in /etc/passwd")
}

#[test]
fn process_counts_real_children() {
    let env = Env::new();
    let me = current_user();
    super::chmod(env.path(), 0o755);
    let t = tag();
    let short = format!("ors{t}"); // ≤ 15 bytes: comm is the whole name
    let long = format!("opsrun-it-long-process-name-{t}"); // comm is cut to 15
    let trio = format!("ort{t}");
    let zombie = format!("orz{t}");
    let bin_short = program(env.path(), "sleep", &short);
    let bin_long = program(env.path(), "sleep", &long);
    let bin_trio = program(env.path(), "sleep", &trio);
    let bin_zombie = program(env.path(), "true", &zombie);

    let mut kids = Kids(Vec::new());
    kids.0
        .push(Command::new(&bin_short).arg("300").spawn().unwrap());
    kids.0
        .push(Command::new(&bin_long).args(["300", "0"]).spawn().unwrap());
    for _ in 0..3 {
        kids.0
            .push(Command::new(&bin_trio).arg("300").spawn().unwrap());
    }
    // Exits at once and stays a zombie until reaped (we do not wait for it).
    kids.0.push(Command::new(&bin_zombie).spawn().unwrap());
    if super::is_root() {
        kids.0.push(
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(&bin_short)
                .arg("301")
                .spawn()
                .unwrap(),
        );
    }
    // Let every child exec (and the zombie exit) before looking.
    let ready = |pid: u32, want_comm: &str| {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        comm.trim() == want_comm
    };
    let zombie_pid = kids.0[5].id();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status =
            std::fs::read_to_string(format!("/proc/{zombie_pid}/status")).unwrap_or_default();
        let all_exec = ready(kids.0[0].id(), &short)
            && ready(kids.0[1].id(), &long[..15])
            && kids.0[2..5].iter().all(|k| ready(k.id(), &trio))
            && kids.0.get(6).is_none_or(|k| ready(k.id(), &short));
        if all_exec && status.contains("State:\tZ") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "children did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", kids.0[1].id())).unwrap();
    assert_eq!(comm.trim(), &long[..15], "the kernel cuts comm to 15 bytes");

    let (doc, _) = run_json(
        &env,
        &format!(
            "  - {{id: short, process: {{name: {short}, user: {me}}}}}
  - {{id: long, process: {{name: {long}}}}}
  - {{id: regex, process: {{cmdline: 'long-process-name-{t} 300 0$'}}}}
  - {{id: trio, process: {{name: {trio}}}}}
  - {{id: trio-warn, process: {{name: {trio}, count: {{warn: 3, fail: 1}}}}}}
  - {{id: trio-too-many, process: {{name: {trio}, count: {{fail: '> 2'}}}}}}
  - {{id: zombie, process: {{name: {zombie}}}}}
  - {{id: absent, process: {{name: nosuch{t}}}}}
  - {{id: absent-ok, process: {{name: nosuch{t}, count: {{fail: '> 0'}}}}}}
  - {{id: no-user, process: {{name: {short}, user: no-such-user-{t}}}}}
  - {{id: nobody, process: {{name: {short}, user: nobody}}}}
"
        ),
        &[],
        &[],
    );

    let c = check(&doc, "short");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(c["value"], "1 process");
    assert_eq!(c["metric"], 1.0);
    assert_eq!(c["unit"], "count");
    assert_eq!(c["section"], "サービス稼働状況");
    let d = c["detail"][0].as_str().unwrap();
    assert_eq!(
        d,
        format!("pid {} ({me}): {} 300", kids.0[0].id(), bin_short.display())
    );

    let (s, v, _) = svm(&doc, "long");
    assert_eq!((s.as_str(), v.as_str()), ("pass", "1 process"));
    assert_eq!(svm(&doc, "regex").1, "1 process");
    assert_eq!(svm(&doc, "trio").1, "3 processes");
    let (s, _, m) = svm(&doc, "trio-warn");
    assert_eq!(s, "warn");
    assert_eq!(m, format!("process {trio}: 3 running ≤ warn 3"));
    let (s, _, m) = svm(&doc, "trio-too-many");
    assert_eq!(s, "fail");
    assert_eq!(m, format!("process {trio}: 3 running > fail 2"));

    // A zombie is not a running process.
    let (s, v, m) = svm(&doc, "zombie");
    assert_eq!((s.as_str(), v.as_str()), ("fail", "none"));
    assert_eq!(m, format!("process {zombie}: 0 running ≤ fail 0"));

    assert_eq!(svm(&doc, "absent").0, "fail");
    assert_eq!(svm(&doc, "absent-ok").0, "pass");
    let (s, _, m) = svm(&doc, "no-user");
    assert_eq!(s, "unknown");
    assert_eq!(
        m,
        format!("no user `no-such-user-{t}` on this host (/etc/passwd)")
    );

    if super::is_root() {
        let c = check(&doc, "nobody");
        assert_eq!(c["status"], "pass", "{c:#}");
        assert!(
            c["detail"][0].as_str().unwrap().contains("(nobody)"),
            "{c:#}"
        );
        assert!(c["detail"][0].as_str().unwrap().ends_with(" 301"), "{c:#}");
    }
    drop(kids);
}

#[test]
fn process_bad_fields_are_load_errors() {
    let env = Env::new();
    for (yaml, want) in [
        ("{user: root}", "exactly one of `name`"),
        ("{name: a, cmdline: b}", "exactly one of `name`"),
        ("{name: /usr/bin/a}", "expected a program name like uvicorn"),
        ("{cmdline: '(unclosed'}", "invalid regex `(unclosed`"),
        ("{name: a, count: {warn: many}}", "expected a count like 5"),
    ] {
        env.runbook(
            "t.yaml",
            &format!("version: 1\nchecks:\n  - id: c\n    process: {yaml}\n"),
        );
        let r = env.run(&["validate", "runbooks/t.yaml"]);
        assert_eq!(r.code, 3, "{yaml}");
        assert!(r.stderr.contains(want), "{yaml}: {}", r.stderr);
    }
}
