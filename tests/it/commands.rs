//! `command` checks with real child processes: exit codes, JSON output,
//! value extraction, hangs, and a command that ignores SIGTERM while
//! forking children — all bounded by the timeout, no process left behind.

use std::time::{Duration, Instant};

use crate::common::{Env, Run, check};

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

/// A size (`unit: B`) reads as sizes do elsewhere (`4.1kB`), its threshold too.
#[test]
fn a_size_value_is_shown_scaled() {
    let env = Env::new();
    let (doc, _) = env.run_checks(
        "  - id: size\n    command:\n      shell: 'echo 4099'\n      value: {warn: 1000, unit: B}\n",
    );
    let c = check(&doc, "size");
    assert_eq!(c["value"], "4.1kB", "{c}");
    assert_eq!(c["metric"], 4099.0);
    assert_eq!(c["message"], "value 4.1kB ≥ warn 1kB", "{c}");
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

/// Runs the one-off runbook `checks_yaml` as JSON in a session of its
/// own; returns the document, the run, and what is left in the session.
fn run_in_session(env: &Env, checks_yaml: &str) -> (serde_json::Value, Run, Vec<(u32, String)>) {
    env.runbook(
        "t.yaml",
        &format!("version: 1\ntitle: test\nchecks:\n{checks_yaml}"),
    );
    let started = Instant::now();
    let child = env
        .session_cmd()
        .args(["run", "t", "-f", "json"])
        .spawn()
        .unwrap();
    let session = child.id();
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    };
    let doc =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {run:?}"));
    // Killed processes may take a moment to go; orphans keep the session.
    let left = crate::common::session_after(session, Duration::from_secs(10));
    (doc, run, left)
}

#[test]
fn hanging_command_that_ignores_sigterm_and_forks_is_killed_whole() {
    let env = Env::new();
    // The shell ignores TERM and leaves two sleeping children behind.
    let (doc, r, left) = run_in_session(
        &env,
        "  - id: stuck\n    timeout: 1s\n    command: {shell: \"trap '' TERM; sleep 300 & sleep 301 & echo started; exec sleep 302\"}\n",
    );
    let c = check(&doc, "stuck");
    assert_eq!(c["status"], "fail");
    assert_eq!(
        c["message"],
        "timed out after 1s, killed with its process group"
    );
    assert!(r.elapsed < Duration::from_secs(15), "{:?}", r.elapsed);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn children_left_running_after_exit_do_not_hold_the_check() {
    let env = Env::new();
    let (doc, r, left) = run_in_session(
        &env,
        "  - id: bg\n    timeout: 20s\n    command: {shell: 'sleep 303 & echo done'}\n",
    );
    assert_eq!(check(&doc, "bg")["status"], "pass");
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
    assert!(left.is_empty(), "left behind: {left:?}");
}
