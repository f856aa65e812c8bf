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

/// Each seed example's README maps every seed item to a row (numbered
/// 1..M) whose last cell says who does it: `✔` (an opsrun check, action or
/// report), `人 (judgment|person|change, …)` (it stays with people, and the
/// opsrun cell says why after `— `), or `lacks` (opsrun cannot do it yet:
/// the row is named as `#N` under the README's "What opsrun lacks"). The
/// README's coverage line gives the counts and the share, and
/// docs/examples.md and the top README repeat them; all must agree with the
/// table, so a row added or changed cannot leave a stale number.
#[test]
fn example_readmes_coverage_matches_their_tables() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let overview = std::fs::read_to_string(root.join("docs/examples.md")).unwrap();
    let front = std::fs::read_to_string(root.join("README.md")).unwrap();
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
        let lacks_section = text
            .split_once("## What opsrun lacks")
            .map_or("", |(_, rest)| rest);
        let (mut automated, mut people, mut lacks) = (0, 0, 0);
        for (n, row) in numbers.iter().zip(&rows) {
            let cells = table_cells(row);
            assert_eq!(cells.len(), 4, "{dir} #{n}: four cells expected: {row}");
            let (opsrun, last) = (cells[2], cells[3]);
            if last == "✔" {
                automated += 1;
                continue;
            }
            let why = opsrun.strip_prefix("— ").unwrap_or("");
            assert!(
                why.chars().count() >= 8,
                "{dir} #{n}: a row not automated says why, after `— `: {row}"
            );
            if last == "lacks" {
                lacks += 1;
                assert!(
                    lacks_section.contains(&format!("#{n}")),
                    "{dir} #{n}: a `lacks` row is named under \"What opsrun lacks\""
                );
                // Issue 16 left only the AWS kinds (issue 17) missing, and
                // only the AWS seeds need them.
                assert!(
                    matches!(dir, "member-form" | "ops-design") && why.contains("AWS"),
                    "{dir} #{n}: only an AWS row of seed 001/002 may wait for a feature: {row}"
                );
                continue;
            }
            let reasons = last
                .strip_prefix("人 (")
                .and_then(|r| r.strip_suffix(')'))
                .unwrap_or_else(|| {
                    panic!("{dir} #{n}: the last cell is ✔, `人 (reason, …)` or `lacks`: {row}")
                });
            for r in reasons.split(", ") {
                assert!(
                    ["judgment", "person", "change"].contains(&r),
                    "{dir} #{n}: `{r}` is not judgment, person or change"
                );
            }
            people += 1;
        }
        let m = rows.len();
        let pct = (automated * 100 + m / 2) / m;
        let line = if lacks == 0 {
            format!(
                "**Coverage: {automated} of {m} items automated ({pct}%); the other {people} \
                 stay with people (judgment, person, change).**"
            )
        } else {
            format!(
                "**Coverage: {automated} of {m} items automated ({pct}%); {people} stay with \
                 people (judgment, person, change), {lacks} wait for what opsrun lacks.**"
            )
        };
        assert!(text.contains(&line), "{dir}: README should say `{line}`");
        let cell = format!("| {automated} of {m} ({pct}%) | {people} | {lacks} |");
        for (name, doc) in [("docs/examples.md", &overview), ("README.md", &front)] {
            assert!(
                doc.lines()
                    .any(|l| l.contains(&format!("examples/{dir}/)")) && l.ends_with(&cell)),
                "{name}: the {dir} row should end with `{cell}`"
            );
        }
    }
}

/// docs/examples.md's "What opsrun lacks for the seeds" is down to what
/// the AWS kinds (issue 17) add: every other gap the examples found was
/// closed by issue 16, and a new one must be written down as such.
#[test]
fn examples_lack_only_the_aws_kinds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let overview = std::fs::read_to_string(root.join("docs/examples.md")).unwrap();
    let section = overview
        .split_once("## What opsrun lacks for the seeds")
        .and_then(|(_, rest)| rest.split("\n## ").next())
        .expect("docs/examples.md has a \"What opsrun lacks for the seeds\" section");
    let bullets: Vec<&str> = section.split("\n- ").skip(1).collect();
    assert!(!bullets.is_empty(), "{section}");
    for b in bullets {
        assert!(b.contains("AWS"), "a lack that is not the AWS kinds: - {b}");
    }
}

/// The cells of a Markdown table row (`\|` inside a cell is not a border).
fn table_cells(row: &str) -> Vec<&str> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let mut start = 0;
    let bytes = inner.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'|' && (i == 0 || bytes[i - 1] != b'\\') {
            cells.push(inner[start..i].trim());
            start = i + 1;
        }
    }
    cells.push(inner[start..].trim());
    cells
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
