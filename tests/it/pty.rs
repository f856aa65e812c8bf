//! Ctrl-C typed on a real terminal: `script` (util-linux) gives opsrun a
//! pseudo-terminal, and the test writes `^C` (0x03) to it, so the terminal
//! driver sends SIGINT to the foreground process group — the way a person
//! interrupts, not a `kill` to one pid. (`incident.rs` interrupts at the
//! y/N prompt on a terminal and during an action through pipes.)

use std::io::{Read, Write};
use std::time::Duration;

use crate::common::{Env, NOW};

/// `^C` while an incident's recovery step runs (`--execute --yes` on a
/// terminal): opsrun ends with 130, the step's process group is killed,
/// the later step never runs, and the 障害報告 says 中断.
#[test]
fn ctrl_c_on_a_terminal_during_an_incident_action_ends_with_130() {
    let env = Env::new();
    env.runbook(
        "incident-p2.yaml",
        "version: 1\ntitle: P2 テスト\nsystem: テストシステム\nincident: {level: p2, scope: 一部機能}\n\
         checks:\n  - id: health\n    label: ヘルス\n    command: {run: [\"false\"]}\n\
         actions:\n  - id: slow-fix\n    title: 遅い復旧\n    timeout: 60s\n    command: {shell: 'echo $$ > acting.pid; mv acting.pid acting; exec sleep 63'}\n\
         \x20 - id: after\n    title: 後続手順\n    command: {shell: 'touch after-ran'}\n\
         verify: {checks: [health], attempts: 1, interval: 100ms}\n",
    );
    let cmd = format!(
        "{} incident p2 --now {NOW} --reporter 運用担当者A --execute --yes",
        env!("CARGO_BIN_EXE_opsrun")
    );
    let mut child = std::process::Command::new("setsid")
        .args(["script", "-qec", &cmd, "/dev/null"])
        .current_dir(env.path())
        .env_remove("OPSRUN_RUNBOOKS")
        .env("OPSRUN_HISTORY", env.path().join("history.db"))
        .env("XDG_STATE_HOME", env.path().join("state"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let marker = env.runbooks().join("acting");
    if !crate::common::wait_for_file(&marker, Duration::from_secs(60)) {
        crate::common::signal(&child, 9);
        panic!("the recovery step never started");
    }
    let step_pid: i32 = std::fs::read_to_string(&marker)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // ^C typed on the terminal (script copies its input to the pty).
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"\x03").unwrap();
    stdin.flush().unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    let mut seen = Vec::new();
    while let Ok(chunk) = rx.recv_timeout(Duration::from_secs(10)) {
        seen.extend(chunk);
    }
    let stdout = String::from_utf8_lossy(&seen).replace("\r\n", "\n");
    assert_eq!(status.code(), Some(130), "{stdout}");
    assert!(
        !env.runbooks().join("after-ran").exists(),
        "a later step ran"
    );
    assert!(stdout.contains("【障害報告】"), "{stdout}");
    assert!(stdout.contains("中断"), "{stdout}");
    // The step's process (its own process group) was killed with opsrun's
    // stop, not left running.
    let gone = (0..100).any(|_| {
        let alive = std::path::Path::new(&format!("/proc/{step_pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{step_pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "));
        if alive {
            std::thread::sleep(Duration::from_millis(100));
        }
        !alive
    });
    assert!(gone, "the step's process {step_pid} is still running");
}
