//! README.md's samples and claims, kept true.
//!
//! Every output sample sits right under a marker naming the golden it is
//! copied from:
//!
//! ```text
//! <!-- golden: tests/it/snapshots/it__outputs__nagios.snap -->
//! <!-- golden: tests/it/snapshots/it__outputs__json.snap lines=1-20 -->
//! <!-- golden: tests/it/snapshots/it__outputs__json.snap through=2:"    }," -->
//! ```
//!
//! followed by a fenced block (indented like the marker, e.g. inside a list
//! item). The block must equal the golden — for an insta `.snap`, its body
//! after the `---` header — or an excerpt ending in a `…` line when it
//! stops early: `lines=A-B` (those lines), or `through=K:"TEXT"` (from the
//! top through the K-th line that is exactly TEXT, so the excerpt survives
//! fields added above its end, e.g. `through=2:"    },"` = two JSON checks). `UPDATE_README=1 cargo test --test
//! it readme` rewrites the blocks from the goldens instead of failing. A
//! golden that moves only needs its marker's path updated.
//!
//! The `daily` table at the top is a real run on a real host, so it cannot
//! be a golden; it must list the bundled daily runbook's checks, in order.

use std::path::Path;

use crate::common::Env;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// One `<!-- golden: … -->` marker and the fenced block under it.
#[derive(Debug)]
struct Sample {
    /// 0-based index of the marker line in README.md.
    marker: usize,
    indent: String,
    path: String,
    lines: Option<(usize, usize)>,
    through: Option<(usize, String)>,
    /// Line indices of the block's content (between the fences).
    body: std::ops::Range<usize>,
}

fn samples(lines: &[&str]) -> Vec<Sample> {
    let re = regex::Regex::new(
        r#"^(\s*)<!-- golden: (\S+)(?: lines=(\d+)-(\d+)| through=(\d+):"([^"]*)")? -->\s*$"#,
    )
    .unwrap();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.contains("<!-- golden:") {
            continue;
        }
        let c = re
            .captures(line)
            .unwrap_or_else(|| panic!("README.md:{}: malformed marker: {line}", i + 1));
        let indent = c[1].to_string();
        let open = lines.get(i + 1).copied().unwrap_or_default();
        assert!(
            open.strip_prefix(indent.as_str())
                .is_some_and(|f| f.starts_with("```")),
            "README.md:{}: a golden marker must be followed by a fenced block at its indentation",
            i + 1
        );
        let fence = format!("{indent}```");
        let close = (i + 2..lines.len())
            .find(|&j| lines[j] == fence)
            .unwrap_or_else(|| panic!("README.md:{}: unclosed block", i + 2));
        out.push(Sample {
            marker: i,
            indent,
            path: c[2].to_string(),
            lines: c
                .get(3)
                .map(|a| (a.as_str().parse().unwrap(), c[4].parse().unwrap())),
            through: c
                .get(5)
                .map(|k| (k.as_str().parse().unwrap(), c[6].to_string())),
            body: i + 2..close,
        });
    }
    out
}

/// The text a golden holds: a `.snap`'s body after its `---` header, else
/// the whole file; without its trailing newline.
fn golden_text(path: &str) -> String {
    let full = root().join(path);
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| {
        panic!("README.md names golden {path}, which cannot be read ({e}); fix the marker's path")
    });
    let body = if path.ends_with(".snap") {
        let rest = text
            .strip_prefix("---\n")
            .unwrap_or_else(|| panic!("{path}: an insta snapshot starts with a `---` header"));
        let end = rest
            .find("\n---\n")
            .unwrap_or_else(|| panic!("{path}: no end of the `---` header"));
        rest[end + 5..].to_string()
    } else {
        text
    };
    body.trim_end_matches('\n').to_string()
}

/// The block a sample should hold, indented.
fn expected(s: &Sample) -> Vec<String> {
    let text = golden_text(&s.path);
    let all: Vec<&str> = text.lines().collect();
    let range = match (&s.lines, &s.through) {
        (Some(r), _) => Some(*r),
        (None, Some((k, text))) => {
            let end = all
                .iter()
                .enumerate()
                .filter(|(_, l)| *l == text)
                .nth(k - 1)
                .unwrap_or_else(|| {
                    panic!("README marker {}: no {k} lines equal to {text:?}", s.path)
                })
                .0;
            Some((1, end + 1))
        }
        (None, None) => None,
    };
    let mut want: Vec<&str> = match range {
        None => all.clone(),
        Some((a, b)) => {
            assert!(
                a >= 1 && a <= b && b <= all.len(),
                "README marker {} lines={a}-{b}: the golden has {} lines",
                s.path,
                all.len()
            );
            all[a - 1..b].to_vec()
        }
    };
    if matches!(range, Some((_, b)) if b < all.len()) {
        want.push("…");
    }
    want.iter()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{}{l}", s.indent)
            }
        })
        .collect()
}

#[test]
fn readme_samples_are_the_goldens() {
    let text = readme();
    let lines: Vec<&str> = text.lines().collect();
    let found = samples(&lines);
    let update = std::env::var_os("UPDATE_README").is_some();
    let mut rebuilt: Vec<String> = Vec::new();
    let mut next = 0;
    let mut stale = Vec::new();
    for s in &found {
        let want = expected(s);
        let have: Vec<String> = lines[s.body.clone()]
            .iter()
            .map(|l| l.to_string())
            .collect();
        if have != want {
            let at = have
                .iter()
                .zip(&want)
                .position(|(h, w)| h != w)
                .unwrap_or(have.len().min(want.len()));
            stale.push(format!(
                "README.md:{} ({}): line {} of the block differs:\n  README: {:?}\n  golden: {:?}",
                s.marker + 1,
                s.path,
                at + 1,
                have.get(at),
                want.get(at)
            ));
        }
        rebuilt.extend(lines[next..s.body.start].iter().map(|l| l.to_string()));
        rebuilt.extend(want);
        next = s.body.end;
    }
    rebuilt.extend(lines[next..].iter().map(|l| l.to_string()));
    if update {
        if !stale.is_empty() {
            std::fs::write(root().join("README.md"), rebuilt.join("\n") + "\n").unwrap();
        }
        return;
    }
    assert!(
        stale.is_empty(),
        "README samples differ from their goldens (UPDATE_README=1 cargo test --test it readme rewrites them):\n{}",
        stale.join("\n")
    );
}

/// Every format has a sample, each from a golden.
#[test]
fn readme_has_a_golden_sample_of_every_format() {
    let text = readme();
    let lines: Vec<&str> = text.lines().collect();
    let paths: Vec<String> = samples(&lines).into_iter().map(|s| s.path).collect();
    for format in [
        "table",
        "json",
        "junit",
        "markdown",
        "prometheus",
        "nagios",
        "daily_problems",
        "weekly_report",
    ] {
        assert!(
            paths.iter().any(|p| p.contains(format)),
            "README.md has no `<!-- golden: … -->` sample whose golden path names `{format}`: {paths:?}"
        );
    }
}

/// The real `daily` table at the top lists exactly the checks of the
/// bundled runbooks/daily.yaml, in order, and its summary counts them.
#[test]
fn readme_daily_sample_lists_the_bundled_daily_checks() {
    let env = Env::new();
    let r = env.run(&["list", "-C", root().join("runbooks").to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    let split = regex::Regex::new(r"\s{2,}").unwrap();
    let want: Vec<(String, String)> = r
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("daily — "))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let f: Vec<&str> = split.split(l.trim()).collect();
            (f[0].to_string(), f[2].to_string())
        })
        .collect();
    assert!(!want.is_empty(), "{}", r.stdout);

    let text = readme();
    let block = text
        .split("<!-- sample: cargo run --release -- daily -->\n```\n")
        .nth(1)
        .expect("README.md: no `<!-- sample: cargo run --release -- daily -->` block")
        .split("\n```")
        .next()
        .unwrap();
    let have: Vec<(String, String)> = block
        .lines()
        .filter(|l| l.starts_with('│') && !l.contains("STATUS"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('│').split('┆').map(str::trim).collect();
            (!cells[1].is_empty()).then(|| (cells[1].to_string(), cells[2].to_string()))
        })
        .collect();
    assert_eq!(have, want, "README's daily sample vs runbooks/daily.yaml");
    let summary = block
        .lines()
        .find(|l| l.contains(" pass · "))
        .expect("summary line");
    let total: usize = regex::Regex::new(r"(\d+) (?:pass|warn|fail|unknown|skip)")
        .unwrap()
        .captures_iter(summary)
        .map(|c| c[1].parse::<usize>().unwrap())
        .sum();
    assert_eq!(total, want.len(), "{summary}");
}

/// What README says of seed 000's 日次運用レポート is the exact difference
/// between the seed's template (tests/fixtures/seeds/000_daily_report.txt,
/// copied from the seed) and the golden of the seed's runbook.
#[test]
fn readme_seed_000_comparison_is_exact() {
    let seed =
        std::fs::read_to_string(root().join("tests/fixtures/seeds/000_daily_report.txt")).unwrap();
    let golden = golden_text("tests/it/snapshots/it__history__daily_pass.snap");
    let seed: Vec<&str> = seed.lines().collect();
    let ours: Vec<&str> = golden.lines().collect();
    let added: Vec<&str> = ours
        .iter()
        .filter(|l| !l.is_empty() && !seed.contains(l))
        .copied()
        .collect();
    let dropped: Vec<&str> = seed
        .iter()
        .filter(|l| !l.is_empty() && !ours.contains(l))
        .copied()
        .collect();
    // The common lines keep the seed's order.
    let common = |a: &[&str], b: &[&str]| -> Vec<String> {
        a.iter()
            .filter(|l| !l.is_empty() && b.contains(l))
            .map(|l| l.to_string())
            .collect()
    };
    let (common_seed, common_ours) = (common(&seed, &ours), common(&ours, &seed));
    assert_eq!(common_seed, common_ours);
    assert_eq!(
        (added.as_slice(), dropped.as_slice()),
        (
            &[
                "■ データ・バックアップ",
                "- 定期バックアップ: 正常",
                "- DBサイズ: 48.2MB"
            ][..],
            &["- 見積り作成数: 45件"][..]
        ),
        "the difference changed: update README.md's sentence and this test"
    );
    let text = readme().replace('\n', " ");
    for claim in [
        "`■ データ・バックアップ` section (`- 定期バックアップ: 正常`, `- DBサイズ: 48.2MB`)",
        "no `- 見積り作成数: 45件` line",
    ] {
        assert!(text.contains(claim), "README.md should say: {claim}");
    }
}
