//! Hostile runbooks (SPEC §3 "opsrun never panics on any input file",
//! §9): wrong types, deep nesting, huge strings, include cycles and bombs,
//! includes of directories and devices, non-UTF-8 bytes, alias and
//! variable bombs, 10,000 checks. Each gives a clear one-line error or
//! runs — never a panic, a hang or unbounded memory.
//!
//! Small cases are committed in `tests/fixtures/hostile/`, each starting
//! with `# expect: PHRASE` (`opsrun validate` exits 3 and its first line
//! says PHRASE) or `# expect: runs` (it runs; `# check: ID STATUS PHRASE`
//! lines assert single results). Large ones are generated here into a
//! temp directory. Every run happens under [`guarded`]: a wall-clock
//! bound, a hard memory ceiling (`prlimit --data`) so a regression cannot
//! take the machine down, and the peak RSS measured by GNU time, asserted
//! far below that ceiling.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Env, Run};

/// Wall-clock bound for one run of a hostile runbook (a debug binary, on
/// a loaded 2-core machine; the slowest case takes ~2 s).
const WALL: Duration = Duration::from_secs(60);
/// Hard ceiling on the binary's heap and anonymous mappings.
const CEILING_BYTES: u64 = 1 << 30;
/// What a run may actually use (peak RSS). The largest case, a 7 MB title,
/// peaks near 60 MB in a debug build.
const PEAK_RSS_KB: u64 = 256 * 1024;

/// A run plus its peak resident memory.
pub struct Guarded {
    pub run: Run,
    pub peak_rss_kb: u64,
}

/// Runs the binary in `env` with `args` under `timeout -s KILL`, a
/// `prlimit --data` ceiling, and GNU time measuring the peak RSS, and
/// asserts the bounds: no hang, no crash, bounded memory.
pub fn guarded(env: &Env, args: &[&str]) -> Guarded {
    let rss_file = tempfile::NamedTempFile::new().unwrap();
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(rss_file.path())
        .arg("prlimit")
        .arg(format!("--data={CEILING_BYTES}"))
        .arg("--")
        .arg("timeout")
        .arg("-s")
        .arg("KILL")
        .arg(WALL.as_secs().to_string())
        .arg(env!("CARGO_BIN_EXE_opsrun"))
        .args(args)
        .current_dir(env.path())
        .env_remove("OPSRUN_RUNBOOKS")
        .env("OPSRUN_HISTORY", env.path().join("history.db"))
        .env("XDG_STATE_HOME", env.path().join("state"))
        .output()
        .expect("run /usr/bin/time (Debian package `time`, see .ci/deps)");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    };
    let peak_rss_kb: u64 = std::fs::read_to_string(rss_file.path())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .next_back()
        .unwrap_or_else(|| panic!("no peak RSS from GNU time for {args:?}: {run:?}"));
    assert!(
        run.elapsed < WALL,
        "{args:?} did not finish within {WALL:?}: {run:?}"
    );
    assert!(
        (0..=3).contains(&run.code),
        "{args:?} ended with {} (crash, kill or abort): {}",
        run.code,
        tail(&run.stderr)
    );
    assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
    assert!(
        peak_rss_kb < PEAK_RSS_KB,
        "{args:?} peaked at {peak_rss_kb} kB RSS"
    );
    Guarded { run, peak_rss_kb }
}

fn tail(s: &str) -> &str {
    let start = s.len().saturating_sub(2000);
    let start = (start..=s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    &s[start..]
}

/// `opsrun validate FILE` must refuse the file with one clear line: exit 3,
/// `error: ` then the phrase, a short stderr, the same refusal from `run`.
fn assert_refused(env: &Env, file: &Path, phrase: &str) {
    let f = file.to_str().unwrap();
    let g = guarded(env, &["validate", f]);
    let r = &g.run;
    let first = r.stderr.lines().next().unwrap_or("");
    assert_eq!(r.code, 3, "{f}: {r:?}");
    assert!(first.starts_with("error: "), "{f}: {first}");
    assert!(
        first.contains(phrase),
        "{f}: expected {phrase:?}, got: {first}"
    );
    // Message + snippet + caret + summary: a few short lines however big the input.
    assert!(
        r.stderr.lines().count() <= 6 && r.stderr.len() < 4096,
        "{f}: stderr of {} bytes:\n{}",
        r.stderr.len(),
        tail(&r.stderr)
    );
    let r = guarded(env, &["run", f]).run;
    assert_eq!(r.code, 3, "{f}: run: {r:?}");
    assert!(r.stdout.is_empty(), "{f}: nothing runs: {}", r.stdout);
}

/// `opsrun run FILE -f json` must run every check: an exit code of 0–3,
/// a JSON document, and each `(id, status, phrase)` as given.
fn assert_runs(env: &Env, file: &Path, checks: &[(String, String, String)]) -> serde_json::Value {
    let f = file.to_str().unwrap();
    let g = guarded(env, &["run", f, "-f", "json", "--no-history"]);
    let doc: serde_json::Value = serde_json::from_str(&g.run.stdout)
        .unwrap_or_else(|e| panic!("{f}: not JSON ({e}): {}", tail(&g.run.stderr)));
    for (id, status, phrase) in checks {
        let c = crate::common::check(&doc, id);
        assert_eq!(c["status"], status.as_str(), "{f}: {c}");
        let m = c["message"].as_str().unwrap_or("");
        assert!(
            m.contains(phrase.as_str()),
            "{f}: {id}: {m:?} lacks {phrase:?}"
        );
        assert!(m.len() < 1000, "{f}: {id}: message of {} bytes", m.len());
    }
    doc
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// The fixture's text for reading its `# expect:` lines (a UTF-16 file
/// carries them in UTF-16).
fn header(bytes: &[u8]) -> String {
    if bytes.starts_with(&[0xff, 0xfe]) {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(bytes).replace('\u{feff}', "")
}

#[test]
fn every_committed_hostile_runbook_is_refused_clearly_or_runs() {
    let env = Env::new();
    let (mut refused, mut ran) = (0, 0);
    for path in fixtures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = header(&std::fs::read(&path).unwrap());
        let expect = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: no `# expect:` line"));
        if expect == "runs" {
            let checks: Vec<(String, String, String)> = text
                .lines()
                .filter_map(|l| l.strip_prefix("# check: "))
                .map(|l| {
                    let mut it = l.splitn(3, ' ');
                    (
                        it.next().unwrap().to_owned(),
                        it.next().unwrap().to_owned(),
                        it.next().unwrap_or("").to_owned(),
                    )
                })
                .collect();
            assert_runs(&env, &path, &checks);
            ran += 1;
        } else {
            assert_refused(&env, &path, expect);
            refused += 1;
        }
    }
    assert!(
        refused + ran >= 30,
        "corpus too small: {refused} refused, {ran} ran"
    );
}

#[test]
fn ten_thousand_checks_load_and_run_in_bounded_memory() {
    let env = Env::new();
    let body: String = (0..10_000)
        .map(|i| format!("  - {{id: c{i}, file: {{path: rb.yaml}}}}\n"))
        .collect();
    let rb = env.write("rb.yaml", &format!("version: 1\nchecks:\n{body}"));
    let g = guarded(&env, &["validate", rb.to_str().unwrap()]);
    assert_eq!(g.run.code, 0);
    assert!(g.run.stdout.contains("(10000 checks)"), "{}", g.run.stdout);
    let doc = assert_runs(&env, &rb, &[]);
    assert_eq!(doc["summary"]["pass"], 10_000);
    // Every output format copes with 10,000 rows.
    for f in [
        "table",
        "report",
        "checklist",
        "junit",
        "nagios",
        "markdown",
        "prometheus",
    ] {
        let g = guarded(
            &env,
            &["run", rb.to_str().unwrap(), "-f", f, "--no-history"],
        );
        assert_eq!(g.run.code, 0, "{f}");
    }
    eprintln!("10,000 checks: peak RSS {} kB", g.peak_rss_kb);
}

#[test]
fn huge_strings_are_carried_or_refused_without_flooding_the_terminal() {
    let env = Env::new();
    let huge = "x".repeat(7_000_000);
    // A 7 MB title is a legal (if silly) runbook.
    let rb = env.write(
        "title.yaml",
        &format!(
            "version: 1\ntitle: \"{huge}\"\nchecks:\n  - {{id: a, command: {{run: [\"true\"]}}}}\n"
        ),
    );
    assert_runs(&env, &rb, &[]);
    // A 7 MB id is refused, and the error quotes only the ends of it.
    let rb = env.write(
        "id.yaml",
        &format!(
            "version: 1\nchecks:\n  - {{id: {}, command: {{run: [\"true\"]}}}}\n",
            "a".repeat(7_000_000)
        ),
    );
    assert_refused(&env, &rb, "invalid check id");
    // A 3.5 MB URL and a 3.5 MB shell command run, and fail with short messages.
    let huge = &huge[..3_500_000];
    let rb = env.write(
        "url.yaml",
        &format!(
            "version: 1\nchecks:\n  - {{id: url, timeout: 5s, http: {{url: \"http://127.0.0.1:9/{huge}\"}}}}\n  - {{id: sh, command: {{shell: \"echo {huge}\"}}}}\n"
        ),
    );
    let doc = assert_runs(&env, &rb, &[]);
    assert_ne!(crate::common::check(&doc, "url")["status"], "pass");
    assert_eq!(crate::common::check(&doc, "sh")["status"], "unknown");
    // Over 8 MiB is refused before parsing; so is a sparse 100 GB file.
    let rb = env.write(
        "big.yaml",
        &format!("version: 1\n# {}\nchecks: []\n", "x".repeat(9_000_000)),
    );
    assert_refused(&env, &rb, "files over 8388608 bytes are refused");
    let sparse = env.path().join("sparse.yaml");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(100_000_000_000)
        .unwrap();
    assert_refused(&env, &sparse, "files over 8388608 bytes are refused");
}

#[test]
fn deep_nesting_is_refused() {
    let env = Env::new();
    let n = 100_000;
    let rb = env.write(
        "seq.yaml",
        &format!("version: 1\nchecks: {}{}\n", "[".repeat(n), "]".repeat(n)),
    );
    assert_refused(&env, &rb, "nested too deeply");
    let rb = env.write(
        "map.yaml",
        &format!(
            "version: 1\ntitle: {}1{}\nchecks: []\n",
            "{a: ".repeat(n),
            "}".repeat(n)
        ),
    );
    assert_refused(&env, &rb, "nested too deeply");
    // Block style, 200 levels of indentation.
    let mut deep = String::from("version: 1\nreport:\n");
    for i in 0..200 {
        deep.push_str(&format!("{}k{i}:\n", " ".repeat(2 * (i + 1))));
    }
    let rb = env.write("block.yaml", &format!("{deep}checks: []\n"));
    assert_refused(&env, &rb, "nested too deeply");
}

/// The error points at the opener that went past 64 levels, however deep
/// the flow collection goes on: past 255 open flow levels the YAML scanner
/// stops on its own, ~190 columns further right, and that place used to be
/// reported.
#[test]
fn deep_nesting_points_at_the_level_that_broke_the_limit() {
    let env = Env::new();
    let at = |name: &str, text: String| {
        let rb = env.write(name, &text);
        let r = env.run(&["validate", rb.to_str().unwrap()]);
        assert_eq!(r.code, 3, "{r:?}");
        let first = r.stderr.lines().next().unwrap().to_owned();
        assert!(first.contains("nested too deeply"), "{first}");
        first
    };
    for n in [100, 255, 256, 300, 100_000] {
        // `checks: ` then `[`s: the top mapping is level 1, so the 64th
        // `[` (column 9 + 63) is level 65.
        let seq = format!("version: 1\nchecks: {}{}\n", "[".repeat(n), "]".repeat(n));
        let first = at("seq.yaml", seq);
        assert!(first.contains("seq.yaml:2:72: "), "{n}: {first}");
    }
    for n in [100, 300] {
        let map = format!(
            "version: 1\ntitle: {}1{}\nchecks: []\n",
            "{a: ".repeat(n),
            "}".repeat(n)
        );
        let first = at("map.yaml", map);
        assert!(first.contains("map.yaml:2:260: "), "{n}: {first}");
    }
    // Inside block nesting (4 levels), after a quoted bracket: the 61st
    // `[ ` is level 65.
    let prefix = "    command: {shell: \"a[b\", env: ";
    let mixed = format!(
        "version: 1\nchecks:\n  - id: a\n{prefix}{}{}}}\n",
        "[ ".repeat(300),
        "]".repeat(300)
    );
    let col = prefix.len() + 1 + 60 * 2;
    let first = at("mixed.yaml", mixed);
    assert!(first.contains(&format!("mixed.yaml:4:{col}: ")), "{first}");
}

#[test]
fn variable_references_cannot_blow_the_runbook_up() {
    let env = Env::new();
    // One 60 kB variable referenced 1,000 times: 60 MB once expanded.
    let refs = "${big}".repeat(1000);
    let rb = env.write(
        "refs.yaml",
        &format!(
            "version: 1\nvars:\n  big: \"{}\"\ntitle: \"{refs}\"\nchecks: []\n",
            "y".repeat(60_000)
        ),
    );
    assert_refused(
        &env,
        &rb,
        "grows over 8388608 bytes once variables are expanded",
    );
    // 300 variables that each take a 60 kB one: 18 MB of variables.
    let many: String = (0..300)
        .map(|i| format!("  v{i}: \"${{big}}\"\n"))
        .collect();
    let rb = env.write(
        "many.yaml",
        &format!(
            "version: 1\nvars:\n  big: \"{}\"\n{many}checks: []\n",
            "y".repeat(60_000)
        ),
    );
    assert_refused(
        &env,
        &rb,
        "variables expand to more than 8388608 bytes in all",
    );
}

#[test]
fn include_bombs_chains_loops_and_special_files() {
    let env = Env::new();
    // Every file includes the next one three times, 15 deep: 3^15 loads
    // if the loader followed them all.
    for i in 0..15 {
        env.write(
            &format!("bomb/f{i}.yaml"),
            &format!(
                "version: 1\ninclude: [f{n}.yaml, f{n}.yaml, f{n}.yaml]\nchecks: []\n",
                n = i + 1
            ),
        );
    }
    env.write("bomb/f15.yaml", "version: 1\nchecks: []\n");
    assert_refused(
        &env,
        &env.path().join("bomb/f0.yaml"),
        "`f15.yaml` is already included (at f14.yaml:2): a file may be included once",
    );
    // A diamond (two files include the same third) is the same refusal.
    env.write(
        "d/top.yaml",
        "version: 1\ninclude: [web.yaml, db.yaml]\nchecks: []\n",
    );
    env.write(
        "d/web.yaml",
        "version: 1\ninclude: [common.yaml]\nchecks: []\n",
    );
    env.write(
        "d/db.yaml",
        "version: 1\ninclude: [common.yaml]\nchecks: []\n",
    );
    env.write("d/common.yaml", "version: 1\nchecks: [{id: a, disk: {}}]\n");
    assert_refused(
        &env,
        &env.path().join("d/top.yaml"),
        "is already included (at web.yaml:2)",
    );
    // A chain deeper than 16 files.
    for i in 0..20 {
        env.write(
            &format!("chain/c{i}.yaml"),
            &format!("version: 1\ninclude: [c{}.yaml]\nchecks: []\n", i + 1),
        );
    }
    env.write("chain/c20.yaml", "version: 1\nchecks: []\n");
    assert_refused(
        &env,
        &env.path().join("chain/c0.yaml"),
        "includes nested deeper than 16 files",
    );
    // A symlink that points at itself, a named pipe nobody writes to.
    std::os::unix::fs::symlink("loop.yaml", env.path().join("loop.yaml")).unwrap();
    let rb = env.write("sym.yaml", "version: 1\ninclude: [loop.yaml]\nchecks: []\n");
    assert_refused(&env, &rb, "cannot include `loop.yaml`");
    mkfifo(&env.path().join("pipe.yaml"));
    let rb = env.write(
        "fifo.yaml",
        "version: 1\ninclude: [pipe.yaml]\nchecks: []\n",
    );
    assert_refused(&env, &rb, "cannot include `pipe.yaml`: not a regular file");
    // 300 distinct included files: over the file limit.
    let list: Vec<String> = (0..300).map(|i| format!("m/{i}.yaml")).collect();
    for f in &list {
        env.write(f, "version: 1\nchecks: []\n");
    }
    let rb = env.write(
        "many.yaml",
        &format!("version: 1\ninclude: [{}]\nchecks: []\n", list.join(", ")),
    );
    assert_refused(&env, &rb, "more than 256 files included");
}

#[test]
fn secret_and_certificate_files_that_never_end_or_never_open() {
    let env = Env::new();
    mkfifo(&env.path().join("pw.fifo"));
    mkfifo(&env.path().join("ca.fifo"));
    let rb = env.write(
        "rb.yaml",
        "version: 1\nchecks:\n  - {id: pw, timeout: 5s, http: {url: \"http://127.0.0.1:9/\", basic_auth: {username: u, password_file: pw.fifo}}}\n  - {id: ca, timeout: 5s, cert_file: {path: ca.fifo}}\n  - {id: rnd, timeout: 5s, cert_file: {path: /dev/urandom}}\n",
    );
    let doc = assert_runs(
        &env,
        &rb,
        &[
            ("pw".into(), "unknown".into(), "is empty".into()),
            ("ca".into(), "fail".into(), "no certificate found".into()),
            (
                "rnd".into(),
                "unknown".into(),
                "larger than 16MiB: refused".into(),
            ),
        ],
    );
    assert!(doc["duration_ms"].as_u64().unwrap() < 5000, "{doc}");
}

fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo").arg(p).status().unwrap().success();
    assert!(ok, "mkfifo {}", p.display());
}

#[test]
fn logs_of_one_endless_line_and_binary_junk_are_read_in_bounded_memory() {
    let env = Env::new();
    // 64 MB without a newline, then 16 MB of pseudo-random bytes.
    let mut data = vec![b'a'; 64 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    data.extend((0..16 << 20).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    std::fs::write(env.path().join("junk.log"), &data).unwrap();
    let rb = env.write(
        "rb.yaml",
        "version: 1\nchecks:\n  - {id: log, timeout: 30s, log: {path: junk.log, pattern: 'ERROR'}}\n  - {id: access, timeout: 30s, access_log: {path: junk.log, window: all}}\n",
    );
    let doc = assert_runs(&env, &rb, &[]);
    for id in ["log", "access"] {
        let c = crate::common::check(&doc, id);
        assert_ne!(c["status"], "fail", "{id}: {c}");
        assert!(!c["message"].as_str().unwrap().contains('\n'), "{c}");
    }
}
