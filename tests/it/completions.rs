//! Shell completion (SPEC §10.7) through real bash, zsh and fish: the
//! script `opsrun completions SHELL` prints is sourced into the shell,
//! which calls the real binary back for candidates. Only zsh's completion
//! widgets (`compdef`, `_describe`) are stubbed: they need an interactive
//! line editor; the script's own code and the binary run for real.

use std::path::Path;
use std::process::Command;

use crate::common::Env;

/// A runbook directory with two runbooks whose ids and tags differ.
fn fixture() -> Env {
    let env = Env::new();
    env.runbook(
        "daily.yaml",
        "version: 1\ntitle: 日次点検\nchecks:\n  - id: disk-root\n    title: ディスク\n    tags: [resources]\n    disk: {path: /}\n  - id: web\n    tags: [services]\n    tcp: {address: \"127.0.0.1:9\"}\n",
    );
    env.runbook(
        "probe.yaml",
        "version: 1\ntitle: 外形監視\nchecks:\n  - id: api-health\n    tags: [edge]\n    tcp: {address: \"127.0.0.1:9\"}\n",
    );
    env
}

/// A directory holding only an `opsrun` link to the binary under test, so
/// the shell finds it on PATH as an installed one would be.
fn path_with_opsrun(env: &Env) -> String {
    let bin = env.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("opsrun");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_opsrun"), &link).unwrap();
    }
    format!("{}:/usr/bin:/bin", bin.display())
}

fn shell(env: &Env, program: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(program)
        .args(args)
        .current_dir(env.path())
        .env("PATH", path_with_opsrun(env))
        .env("OPSRUN_RUNBOOKS", env.runbooks())
        .env_remove("COMPLETE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn have(program: &str) -> bool {
    ["/usr/bin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(program).exists())
}

/// Candidates bash offers for `line` (the cursor at its end).
fn bash(env: &Env, line: &str) -> Vec<String> {
    let mut words: Vec<String> = line.split(' ').map(|w| format!("'{w}'")).collect();
    if line.ends_with(' ') {
        words.pop();
        words.push("''".into());
    }
    let script = format!(
        "source <(opsrun completions bash) || exit 9\n\
         COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_TYPE=9\n\
         _clap_complete_opsrun opsrun \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = words.join(" "),
        cword = words.len() - 1,
    );
    let (code, out, err) = shell(env, "bash", &["--norc", "--noprofile", "-c", &script]);
    assert_eq!(code, 0, "bash: {err}");
    out.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_check_ids_tags_and_runbook_names_from_the_directory() {
    let env = fixture();
    assert_eq!(bash(&env, "opsrun daily --only "), ["disk-root", "web"]);
    // The ids of the runbook the line names, not of every runbook.
    assert_eq!(bash(&env, "opsrun run probe --skip "), ["api-health"]);
    // A comma-separated list completes its last item.
    assert_eq!(
        bash(&env, "opsrun daily --only disk-root,w"),
        ["disk-root,web"]
    );
    assert_eq!(bash(&env, "opsrun daily --tag "), ["resources", "services"]);
    let run = bash(&env, "opsrun run ");
    assert!(
        run.contains(&"daily".to_owned()) && run.contains(&"probe".to_owned()),
        "{run:?}"
    );
    // `-C DIR` on the line wins over OPSRUN_RUNBOOKS.
    std::fs::create_dir_all(env.path().join("other")).unwrap();
    env.write(
        "other/daily.yaml",
        "version: 1\ntitle: t\nchecks:\n  - id: elsewhere\n    tcp: {address: \"127.0.0.1:9\"}\n",
    );
    assert_eq!(bash(&env, "opsrun daily -C other --only "), ["elsewhere"]);
}

/// `opsrun serve --runbook` offers the runbook names, and serve's options
/// are offered as any command's.
#[test]
fn bash_completes_serve_runbooks_and_options() {
    let env = fixture();
    let offered = bash(&env, "opsrun serve --runbook ");
    assert!(
        offered.contains(&"daily".to_owned()) && offered.contains(&"probe".to_owned()),
        "{offered:?}"
    );
    let offered = bash(&env, "opsrun serve --");
    for o in ["--listen", "--runbook", "--interval", "--notify"] {
        assert!(offered.contains(&o.to_owned()), "{o}: {offered:?}");
    }
    let offered = bash(&env, "opsrun s");
    assert!(offered.contains(&"serve".to_owned()), "{offered:?}");
}

#[test]
fn hidden_options_are_never_offered() {
    let env = fixture();
    let offered = bash(&env, "opsrun daily --n");
    assert!(offered.contains(&"--notify".to_owned()), "{offered:?}");
    assert!(!offered.iter().any(|o| o == "--now"), "{offered:?}");
    let offered = bash(&env, "opsrun history --");
    assert!(!offered.iter().any(|o| o == "--now"), "{offered:?}");
}

#[test]
fn a_runbook_that_does_not_load_offers_nothing_and_breaks_nothing() {
    let env = Env::new();
    env.runbook("daily.yaml", "version: 1\nchecks: [ {\n");
    assert!(bash(&env, "opsrun daily --only ").is_empty());
}

#[test]
fn a_stray_complete_variable_does_not_hijack_a_run() {
    let env = fixture();
    let out = env
        .cmd()
        .env("COMPLETE", "1")
        .args(["validate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok:"));
}

#[test]
fn zsh_completes_check_ids() {
    assert!(
        have("zsh"),
        "install Debian's `zsh` package (.ci/deps does)"
    );
    let env = fixture();
    let script = "compdef() { :; }\n\
         _describe() { print -l -- \"${(@P)3}\"; }\n\
         source <(opsrun completions zsh) || exit 9\n\
         words=(opsrun daily --only ''); CURRENT=4\n\
         _clap_dynamic_completer_opsrun";
    let (code, out, err) = shell(&env, "zsh", &["-f", "-c", script]);
    assert_eq!(code, 0, "zsh: {err}");
    let ids: Vec<&str> = out.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(ids, ["disk-root", "web"], "{out}");
    // The check's title is the description zsh shows beside the id.
    assert!(out.contains("disk-root:ディスク"), "{out}");
}

#[test]
fn fish_completes_check_ids_and_runbook_names() {
    assert!(
        have("fish"),
        "install Debian's `fish` package (.ci/deps does)"
    );
    let env = fixture();
    let script = "opsrun completions fish | source; \
                  complete -C 'opsrun daily --only '; \
                  echo ---; complete -C 'opsrun run p'";
    let (code, out, err) = shell(&env, "fish", &["--no-config", "-c", script]);
    assert_eq!(code, 0, "fish: {err}");
    let (ids, runs) = out.split_once("---\n").unwrap();
    let ids: Vec<&str> = ids.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(ids, ["disk-root", "web"], "{out}");
    assert!(runs.lines().any(|l| l.starts_with("probe")), "{out}");
    assert!(!out.contains("--now"), "{out}");
}

#[test]
fn fleet_report_and_its_options_are_offered() {
    let env = fixture();
    assert_eq!(bash(&env, "opsrun fl"), ["fleet"]);
    assert!(bash(&env, "opsrun fleet ").contains(&"report".to_owned()));
    let offered = bash(&env, "opsrun fleet report --");
    for o in [
        "--prometheus",
        "--match",
        "--format",
        "--timeout",
        "--stale",
    ] {
        assert!(offered.iter().any(|x| x == o), "{o}: {offered:?}");
    }
    assert!(!offered.iter().any(|o| o == "--now"), "{offered:?}");
    assert_eq!(
        bash(&env, "opsrun fleet report -f "),
        ["text", "json", "markdown", "html"]
    );
}
