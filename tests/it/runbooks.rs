//! Every runbook shipped in runbooks/ and examples/ loads, and the
//! bundled daily runbook really runs on this machine.

use std::path::{Path, PathBuf};

use crate::common::Env;

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

#[test]
fn every_shipped_runbook_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    yaml_files(&root.join("runbooks"), &mut files);
    // examples/ also holds non-runbook YAML (Prometheus rules): those live
    // under examples/prometheus and are checked elsewhere.
    let mut ex = Vec::new();
    yaml_files(&root.join("examples"), &mut ex);
    files.extend(
        ex.into_iter()
            .filter(|p| !p.components().any(|c| c.as_os_str() == "prometheus")),
    );
    assert!(files.len() >= 3);
    let env = Env::new();
    for f in files {
        let r = env.run(&["validate", f.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}: {}", f.display(), r.stderr);
    }
}

#[test]
fn bundled_daily_runs_here() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = Env::new();
    let r = env.run(&[
        "daily",
        "-C",
        root.join("runbooks").to_str().unwrap(),
        "-f",
        "json",
    ]);
    let doc: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"));
    assert_eq!(doc["runbook"], "daily");
    // Whatever this machine's state, every check of the generic runbook
    // can be carried out on Linux.
    assert_eq!(doc["summary"]["unknown"], 0, "{doc:#}");
    assert!(doc["checks"].as_array().unwrap().len() >= 5);
}

#[test]
fn list_shows_runbooks_and_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = Env::new();
    let r = env.run(&["list", "-C", root.join("runbooks").to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("daily — 日次点検"));
    assert!(r.stdout.contains("disk-root"));
}

/// Each seed example's README maps every seed item to a check (rows
/// numbered 1..M, automated ones ending in ✔) and states "Coverage: N of M
/// items automated"; docs/examples.md repeats N of M. Both must agree with
/// the table, so a row added or changed cannot leave a stale number.
#[test]
fn example_readmes_coverage_matches_their_tables() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let overview = std::fs::read_to_string(root.join("docs/examples.md")).unwrap();
    for dir in [
        "ai-estimator",
        "member-form",
        "ops-design",
        "ops-template",
        "smart-office",
    ] {
        let text = std::fs::read_to_string(root.join("examples").join(dir).join("README.md"))
            .unwrap_or_else(|e| panic!("{dir}: {e}"));
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.strip_prefix("| ")
                    .and_then(|r| r.split(' ').next())
                    .is_some_and(|n| n.parse::<u32>().is_ok())
            })
            .collect();
        let numbers: Vec<u32> = rows
            .iter()
            .map(|l| l[2..].split(' ').next().unwrap().parse().unwrap())
            .collect();
        let expected: Vec<u32> = (1..=rows.len() as u32).collect();
        assert_eq!(numbers, expected, "{dir}: rows must be numbered 1..M");
        let automated = rows
            .iter()
            .filter(|l| l.trim_end().ends_with("| ✔ |"))
            .count();
        let line = format!("**Coverage: {automated} of {} items automated", rows.len());
        assert!(text.contains(&line), "{dir}: README should say `{line}`");
        let cell = format!("| {automated} of {} (", rows.len());
        assert!(
            overview
                .lines()
                .any(|l| l.contains(&format!("examples/{dir}")) && l.contains(&cell)),
            "docs/examples.md: the {dir} row should say `{cell}`"
        );
    }
}

/// The README's YAML examples of checks load (wrapped in a runbook), so the
/// front door never shows a field that does not exist.
#[test]
fn readme_check_examples_validate() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let env = Env::new();
    let mut n = 0;
    for block in readme.split("```yaml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        if !block.contains("- id:") || block.contains("version:") || block.contains("checks: [...]")
        {
            continue;
        }
        let body: String = block.lines().map(|l| format!("  {l}\n")).collect();
        let path = env.runbook(
            &format!("readme{n}.yaml"),
            &format!("version: 1\nchecks:\n{body}"),
        );
        let r = env.run(&["validate", path.to_str().unwrap()]);
        assert_eq!(r.code, 0, "README example {n}:\n{block}\n{}", r.stderr);
        n += 1;
    }
    assert!(n >= 1, "no check examples found in README.md");
}
