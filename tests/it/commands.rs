//! `command` checks with real child processes: exit codes, JSON output,
//! value extraction, hangs, and a command that ignores SIGTERM while
//! forking children — all bounded by the timeout, no process left behind.

use std::time::Duration;

use crate::common::{Env, check};

#[test]
fn exit_codes_and_output_matchers() {
    let env = Env::new();
    let (doc, r) = env.run_checks(
        "  - id: ok\n    command: {run: [\"true\"]}\n  - id: nonzero\n    command: {shell: 'echo boom >&2; exit 3'}\n  - id: allowed\n    command: {shell: 'exit 1', exit: [0, 1]}\n  - id: contains\n    command: {run: [echo, hello world], stdout_contains: world}\n  - id: regex-miss\n    command: {run: [echo, hello], stdout_regex: '^bye'}\n",
    );
    assert_eq!(r.code, 2);
    assert_eq!(check(&doc, "ok")["status"], "pass");
    assert_eq!(
        check(&doc, "nonzero")["message"],
        "exit 3, expected exit 0 — boom"
    );
    assert_eq!(check(&doc, "allowed")["status"], "pass");
    assert_eq!(check(&doc, "contains")["status"], "pass");
    assert_eq!(
        check(&doc, "regex-miss")["message"],
        "stdout does not match /^bye/"
    );
}

#[test]
fn json_output_expectations() {
    let env = Env::new();
    let (doc, _) = env.run_checks(
        "  - id: aws\n    command:\n      shell: 'echo ''{\"Stacks\":[{\"StackStatus\":\"UPDATE_COMPLETE\"}]}'''\n      json: {Stacks.0.StackStatus: UPDATE_COMPLETE}\n  - id: aws-bad\n    command:\n      shell: 'echo ''{\"Stacks\":[{\"StackStatus\":\"ROLLBACK\"}]}'''\n      json: {/Stacks/0/StackStatus: UPDATE_COMPLETE}\n",
    );
    assert_eq!(check(&doc, "aws")["status"], "pass");
    assert_eq!(
        check(&doc, "aws-bad")["message"],
        r#"json /Stacks/0/StackStatus = "ROLLBACK", expected "UPDATE_COMPLETE""#
    );
}

#[test]
fn value_regex_becomes_a_thresholded_metric() {
    let env = Env::new();
    let (doc, r) = env.run_checks(
        "  - id: count\n    command:\n      shell: 'echo \"tasks: 45 created\"'\n      value: {regex: 'tasks: (\\d+)', warn: 40, fail: 100, unit: 件}\n  - id: nomatch\n    command:\n      run: [echo, nothing]\n      value: {regex: 'tasks: (\\d+)'}\n",
    );
    let c = check(&doc, "count");
    assert_eq!(c["status"], "warn");
    assert_eq!(c["value"], "45件");
    assert_eq!(c["metric"], 45.0);
    assert_eq!(c["message"], "value 45件 ≥ warn 40");
    assert_eq!(
        check(&doc, "nomatch")["message"],
        "no value found in stdout"
    );
    assert_eq!(r.code, 2);
}

#[test]
fn missing_program_is_unknown() {
    let env = Env::new();
    let (doc, r) = env.run_checks("  - id: gone\n    command: {run: [/nonexistent/tool, -x]}\n");
    assert_eq!(r.code, 3);
    assert_eq!(
        check(&doc, "gone")["message"],
        "cannot run /nonexistent/tool: No such file or directory"
    );
}

#[test]
fn env_and_cwd() {
    let env = Env::new();
    let (doc, _) = env.run_checks(
        "  - id: e\n    command: {shell: 'test \"$GREETING\" = hi && test -d runbooks -o -f t.yaml', env: {GREETING: hi}}\n",
    );
    assert_eq!(check(&doc, "e")["status"], "pass", "{doc:#}");
}

fn pids_with_marker(marker: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .contains(marker)
        {
            out.push(name);
        }
    }
    out
}

#[test]
fn hanging_command_that_ignores_sigterm_and_forks_is_killed_whole() {
    let env = Env::new();
    let marker = format!("opsrun-test-marker-{}", std::process::id());
    // The shell ignores TERM and leaves two sleeping children behind.
    let (doc, r) = env.run_checks(&format!(
        "  - id: stuck\n    timeout: 1s\n    command: {{shell: \"trap '' TERM; sleep 300 & sleep 301 & echo started; exec sleep 302 # {marker}\"}}\n"
    ));
    let c = check(&doc, "stuck");
    assert_eq!(c["status"], "fail");
    assert_eq!(
        c["message"],
        "timed out after 1s, killed with its process group"
    );
    assert!(r.elapsed < Duration::from_secs(15), "{:?}", r.elapsed);
    std::thread::sleep(Duration::from_millis(300));
    // `exec sleep 302 # marker` keeps the marker only in the shell's argv;
    // children are found by their sleep durations under our session instead.
    let left: Vec<String> = pids_with_marker(&marker);
    assert!(left.is_empty(), "left behind: {left:?}");
    for secs in ["sleep 300", "sleep 301", "sleep 302"] {
        let still: Vec<String> = pids_with_marker(secs)
            .into_iter()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/stat"))
                    .is_ok_and(|s| !s.contains(") Z "))
            })
            .collect();
        assert!(still.is_empty(), "{secs} survived: {still:?}");
    }
}

#[test]
fn children_left_running_after_exit_do_not_hold_the_check() {
    let env = Env::new();
    let (doc, r) = env.run_checks(
        "  - id: bg\n    timeout: 20s\n    command: {shell: 'sleep 303 & echo done'}\n",
    );
    assert_eq!(check(&doc, "bg")["status"], "pass");
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
    std::thread::sleep(Duration::from_millis(200));
    assert!(pids_with_marker("sleep 303").is_empty());
}
