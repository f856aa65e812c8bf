//! The command line: help, version, argument errors (exit 3, not clap's 2).

use crate::common::Env;

#[test]
fn help_and_version_exit_zero() {
    let env = Env::new();
    let r = env.run(&["--help"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("daily"));
    let r = env.run(&["--version"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("opsrun "));
}

#[test]
fn argument_errors_exit_three() {
    let env = Env::new();
    for args in [
        &["daily", "--bogus"][..],
        &["daily", "--format", "yaml"],
        &["daily", "--concurrency", "0"],
        &["daily", "--var", "novalue"],
        &["nosuchcommand"],
        &[],
    ] {
        let r = env.run(args);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
    }
}

#[test]
fn missing_runbook_names_the_directory() {
    let env = Env::new();
    let r = env.run(&["daily"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("no runbook `daily`"), "{}", r.stderr);
}

#[test]
fn unknown_only_id_is_an_error_with_suggestion() {
    let env = Env::new();
    env.runbook(
        "daily.yaml",
        "version: 1\nchecks:\n  - id: disk-root\n    disk: {}\n",
    );
    let r = env.run(&["daily", "--only", "disk-rot"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("did you mean `disk-root`"),
        "{}",
        r.stderr
    );
}

#[test]
fn completions_and_man() {
    let env = Env::new();
    for sh in ["bash", "zsh", "fish"] {
        let r = env.run(&["completions", sh]);
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains("opsrun"));
    }
    let r = env.run(&["man"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains(".TH"));
}

/// `opsrun -C DIR daily`, as `git -C` and `make -C` are written (issue 15).
#[test]
fn the_runbook_directory_may_come_before_the_subcommand() {
    let env = crate::common::Env::new();
    std::fs::create_dir_all(env.path().join("elsewhere")).unwrap();
    env.write(
        "elsewhere/daily.yaml",
        "version: 1\ntitle: d\nchecks:\n  - id: ok\n    command: {run: [\"true\"]}\n",
    );
    for args in [
        &["-C", "elsewhere", "daily", "-f", "json"][..],
        &["--runbooks=elsewhere", "daily", "-f", "json"],
        &["daily", "-C", "elsewhere", "-f", "json"],
    ] {
        let r = env.run(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(r.stdout.contains("\"runbook\": \"daily\""), "{args:?}");
    }
}
