//! The malformed-runbook corpus (tests/fixtures/malformed): each file
//! starts with `# expect: LINE:COL phrase`; `opsrun validate` must exit 3
//! and report that file, line, column and phrase, and show the line.

use std::path::Path;

use crate::common::Env;

fn fixtures() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/malformed");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn every_malformed_runbook_names_file_line_column_and_reason() {
    let env = Env::new();
    let mut checked = 0;
    for path in fixtures() {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = String::from_utf8_lossy(&bytes);
        let Some(expect) = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
        else {
            continue;
        };
        let (pos, phrase) = expect.split_once(' ').unwrap();
        let r = env.run(&["validate", path.to_str().unwrap()]);
        assert_eq!(r.code, 3, "{name}: {r:?}");
        let first = r.stderr.lines().next().unwrap_or("");
        assert!(
            first.contains(&format!("{name}:{pos}: ")),
            "{name}: expected at {pos}, got: {first}"
        );
        assert!(
            first.contains(phrase),
            "{name}: expected {phrase:?}, got: {first}"
        );
        // The offending line is shown under the message, with a caret.
        let line_no: usize = pos.split(':').next().unwrap().parse().unwrap();
        let src = text.lines().nth(line_no - 1).unwrap();
        assert!(
            r.stderr.contains(&format!("{line_no} | {src}")),
            "{name}: source line not shown:\n{}",
            r.stderr
        );
        assert!(r.stderr.contains('^'), "{name}: no caret");
        assert!(!r.stderr.contains("panicked"), "{name}");
        checked += 1;
    }
    assert!(checked >= 15, "corpus too small: {checked}");
}

#[test]
fn empty_and_non_utf8_files() {
    let env = Env::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/malformed");
    let r = env.run(&["validate", dir.join("empty.yaml").to_str().unwrap()]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("empty.yaml:1:1: empty runbook"),
        "{}",
        r.stderr
    );
    let r = env.run(&["validate", dir.join("non-utf8.yaml").to_str().unwrap()]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("non-utf8.yaml:2:8: invalid UTF-8"),
        "{}",
        r.stderr
    );
}

#[test]
fn running_a_malformed_runbook_runs_nothing_and_exits_3() {
    let env = Env::new();
    env.runbook(
        "daily.yaml",
        "version: 1\nchecks:\n  - id: a\n    tiemout: 5s\n    command: {run: [touch, ran]}\n",
    );
    let r = env.run(&["daily"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("daily.yaml:4:5: unknown key `tiemout`"),
        "{}",
        r.stderr
    );
    assert!(!env.path().join("runbooks/ran").exists());
    assert_eq!(r.stdout, "");
}

#[test]
fn include_cycles_across_files_and_directories() {
    let env = Env::new();
    env.runbook("a.yaml", "version: 1\ninclude: [b.yaml]\nchecks: []\n");
    env.runbook("b.yaml", "version: 1\ninclude: [a.yaml]\nchecks: []\n");
    let r = env.run(&["validate", "runbooks/a.yaml"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("include cycle: a.yaml → b.yaml → a.yaml"),
        "{}",
        r.stderr
    );
    std::fs::create_dir_all(env.path().join("runbooks/common")).unwrap();
    env.runbook("c.yaml", "version: 1\ninclude: [common]\nchecks: []\n");
    let r = env.run(&["validate", "runbooks/c.yaml"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("c.yaml:2:11: cannot include"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
}

#[test]
fn includes_vars_and_defaults_apply() {
    let env = Env::new();
    env.runbook(
        "common/services.yaml",
        "version: 1\ndefaults: {timeout: 3s}\nchecks:\n  - id: shared\n    command: {shell: 'test \"${greeting}\" = hello'}\n",
    );
    env.runbook(
        "main.yaml",
        "version: 1\nvars: {greeting: hello}\ninclude: [common/services.yaml]\nchecks:\n  - id: own\n    command: {shell: 'test \"${greeting}\" = ${env:OPSRUN_TEST_WORD}'}\n",
    );
    let r = env
        .cmd()
        .args(["run", "main", "-f", "json"])
        .env("OPSRUN_TEST_WORD", "hello")
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(doc["summary"]["pass"], 2, "{doc:#}");
    // --var overrides the file's value everywhere.
    let r = env
        .cmd()
        .args(["run", "main", "-f", "json", "--var", "greeting=bye"])
        .env("OPSRUN_TEST_WORD", "hello")
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(doc["summary"]["fail"], 2, "{doc:#}");
}
