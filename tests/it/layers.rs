//! The layering rule (ARCHITECTURE in README): every module of `src/`
//! belongs to one layer, and imports only from its own layer or the ones
//! below. Read from the source text, so the rule holds for code written
//! after it: a new top-level module must be given a layer here.

use std::path::{Path, PathBuf};

/// Bottom to top. A module may use `crate::X` only when X's layer is at
/// or below its own.
const LAYERS: &[(&str, &[&str])] = &[
    // Units, durations, sizes, thresholds, statuses, outcomes; and the
    // leaf utilities every layer uses (secret redaction, bounded reads,
    // "did you mean", exit codes).
    (
        "values",
        &["values", "secret", "read_limit", "suggest", "exit", "stdio"],
    ),
    // Runbook spec types that involve no kind: report, notify, common
    // check settings, load errors.
    ("spec", &["spec"]),
    // Check kinds and their registry.
    ("kinds", &["check"]),
    // Loading runbook files: dispatches each check's kind key to the
    // registry, so it sits above the kinds.
    ("runbook", &["runbook"]),
    // Running checks, and the workflows built on it.
    ("engine", &["engine", "judge", "incident", "backup"]),
    ("history", &["history"]),
    // The fleet as Prometheus holds it (`opsrun fleet report`): data the
    // presentation layer words, as it does history's.
    ("fleet", &["fleet"]),
    // Formats, reports, 障害報告 — the only place words are chosen.
    ("presentation", &["output"]),
    ("notify", &["notify"]),
    // One module per subcommand; the crate root and the fuzz entry points
    // may reach everything.
    ("commands", &["commands", "lib", "main", "fuzz_api"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The modules a line names after `crate::`, including each of a group
/// (`use crate::{engine::X, history};`).
fn crate_refs(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        // `opsrun_crate::` or `$crate::` are not this crate's paths.
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(std::mem::take(&mut item));
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.push(item);
        } else {
            out.push(rest.to_owned());
        }
    }
    out.iter()
        .map(|s| {
            s.trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|s| !s.is_empty() && s != "self")
        .collect()
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 20, "src/ not found at {}", src.display());
    let mut problems = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        let Some(own) = layer_of(&top) else {
            problems.push(format!(
                "{}: module `{top}` has no layer (add it to LAYERS in tests/it/layers.rs)",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for m in crate_refs(line) {
                match layer_of(&m) {
                    Some(l) if l > own => problems.push(format!(
                        "{}:{}: `{}` ({}) uses `crate::{m}` ({}), a layer above it",
                        rel.display(),
                        n + 1,
                        top,
                        LAYERS[own].0,
                        LAYERS[l].0
                    )),
                    Some(_) => {}
                    None => problems.push(format!(
                        "{}:{}: `crate::{m}` is not in any layer",
                        rel.display(),
                        n + 1
                    )),
                }
            }
        }
    }
    assert!(problems.is_empty(), "layering:\n{}", problems.join("\n"));
}

#[test]
fn the_reference_parser_sees_groups_and_paths() {
    assert_eq!(crate_refs("use crate::engine::RunResult;"), ["engine"]);
    assert_eq!(
        crate_refs("use crate::{history::RunRecord, output::{self, Format}};"),
        ["history", "output"]
    );
    assert_eq!(
        crate_refs("let x = crate::values::jst(); crate::notify::send()"),
        ["values", "notify"]
    );
    assert!(crate_refs("$crate::x").is_empty());
}
