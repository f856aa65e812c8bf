//! `backup` on generated generations (directories and files, sizes made
//! with sparse files, mtimes set explicitly) under the fixed run clock
//! 2025-10-21 09:00 JST: fresh, stale, missing a required file, shrunk,
//! none at all, and the optional size/count limits.

use std::path::Path;
use std::time::SystemTime;

use chrono::DateTime;

use super::{run_json, svm};
use crate::common::{Env, check};

const NOW: &[&str] = &["--now", "2025-10-21T09:00:00+09:00"];

fn at(rfc3339: &str) -> SystemTime {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().into()
}

/// A generation directory `dir/name` holding `files` (path, size), written at `when`.
fn generation(dir: &Path, name: &str, when: &str, files: &[(&str, u64)]) {
    let g = dir.join(name);
    std::fs::create_dir_all(&g).unwrap();
    for (rel, size) in files {
        let p = g.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(*size).unwrap(); // sparse: the size without the disk
        f.set_modified(at(when)).unwrap();
    }
    // Last, since creating entries updates a directory's mtime.
    for sub in files
        .iter()
        .filter_map(|(rel, _)| Path::new(rel).parent())
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::File::open(g.join(sub))
            .unwrap()
            .set_modified(at(when))
            .unwrap();
    }
    std::fs::File::open(&g)
        .unwrap()
        .set_modified(at(when))
        .unwrap();
}

fn estimator(db: u64) -> Vec<(&'static str, u64)> {
    vec![("app.db", db), (".env", 100), ("uploads/a.pdf", 0)]
}

#[test]
fn backup_generations() {
    let env = Env::new();
    let root = env.path().join("backups");

    // fresh: three nightly generations, a dot-named one in progress, and a stray file.
    let fresh = root.join("fresh");
    generation(
        &fresh,
        "20251019_020000",
        "2025-10-19T02:00:00+09:00",
        &estimator(48_000_000),
    );
    generation(
        &fresh,
        "20251020_020000",
        "2025-10-20T02:00:00+09:00",
        &estimator(48_100_000),
    );
    generation(
        &fresh,
        "20251021_020000",
        "2025-10-21T02:00:00+09:00",
        &estimator(48_199_900),
    );
    generation(
        &fresh,
        ".20251021_083000.tmp",
        "2025-10-21T08:30:00+09:00",
        &[],
    );
    env.write("backups/fresh/README", "not a generation");

    let stale = root.join("stale");
    generation(
        &stale,
        "20251018_020000",
        "2025-10-18T02:00:00+09:00",
        &estimator(48_000_000),
    );
    generation(
        &stale,
        "20251019_020000",
        "2025-10-19T02:00:00+09:00",
        &estimator(48_000_000),
    );

    let lacking = root.join("lacking");
    generation(
        &lacking,
        "20251020_020000",
        "2025-10-20T02:00:00+09:00",
        &estimator(48_000_000),
    );
    generation(
        &lacking,
        "20251021_020000",
        "2025-10-21T02:00:00+09:00",
        &[("app.db", 48_000_000)],
    );

    let shrunk = root.join("shrunk");
    generation(
        &shrunk,
        "20251020_020000",
        "2025-10-20T02:00:00+09:00",
        &[("app.db", 100_000_000)],
    );
    generation(
        &shrunk,
        "20251021_020000",
        "2025-10-21T02:00:00+09:00",
        &[("app.db", 40_000_000)],
    );

    let dipped = root.join("dipped");
    generation(
        &dipped,
        "20251020_020000",
        "2025-10-20T02:00:00+09:00",
        &[("app.db", 100_000_000)],
    );
    generation(
        &dipped,
        "20251021_020000",
        "2025-10-21T02:00:00+09:00",
        &[("app.db", 75_000_000)],
    );

    std::fs::create_dir_all(root.join("empty")).unwrap();
    env.write("backups/empty/notes.txt", "");

    // Generations as files, like pg_dump's nightly dumps.
    let files = root.join("files");
    std::fs::create_dir_all(&files).unwrap();
    for (name, when, size) in [
        (
            "app-20251020.sql.gz",
            "2025-10-20T02:00:00+09:00",
            5_000_000u64,
        ),
        (
            "app-20251021.sql.gz",
            "2025-10-21T02:00:00+09:00",
            5_100_000,
        ),
    ] {
        let f = std::fs::File::create(files.join(name)).unwrap();
        f.set_len(size).unwrap();
        f.set_modified(at(when)).unwrap();
    }

    let (doc, run) = run_json(
        &env,
        "  - {id: fresh, backup: {dir: ../backups/fresh, pattern: '20*', require: [app.db, .env, uploads]}}
  - {id: stale, backup: {dir: ../backups/stale, pattern: '20*'}}
  - {id: lacking, backup: {dir: ../backups/lacking, require: [app.db, .env, uploads/]}}
  - {id: shrunk, backup: {dir: ../backups/shrunk}}
  - {id: dipped, backup: {dir: ../backups/dipped}}
  - {id: dipped-ok, backup: {dir: ../backups/dipped, shrink: {fail: 50%}}}
  - {id: empty, backup: {dir: ../backups/empty, pattern: '20*'}}
  - {id: no-dir, backup: {dir: ../backups/nope}}
  - {id: files, backup: {dir: ../backups/files, pattern: 'app-*.sql.gz', min_size: 1MB}}
  - {id: small, backup: {dir: ../backups/fresh, pattern: '20*', min_size: 100MB}}
  - {id: few, backup: {dir: ../backups/fresh, pattern: '20*', generations: {warn: 3, fail: 1}}}
  - {id: file-require, backup: {dir: ../backups/files, pattern: 'app-*', require: [app.db]}}
",
        &[],
        NOW,
    );
    assert_eq!(run.code, 2);

    let c = check(&doc, "fresh");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(c["value"], "2025-10-21 02:00 (7h ago, 48.2MB)");
    assert_eq!(c["section"], "データ・バックアップ");
    assert_eq!(c["metric"], 7.0 * 3_600_000.0);
    assert_eq!(c["unit"], "ms");
    let m = &c["metrics"];
    assert_eq!(m["age"]["value"], 25_200_000.0);
    assert_eq!(m["last_backup"]["value"], 1_760_979_600.0);
    assert_eq!(m["size"]["value"], 48_200_000.0);
    assert_eq!(m["generations"]["value"], 3.0);
    assert_eq!(m["shrink"]["value"], 0.0);
    let detail = c["detail"].to_string();
    assert!(
        detail.contains("newest: 20251021_020000/ (2025-10-21 02:00:00 +09:00, 48.2MB)"),
        "{detail}"
    );
    assert!(
        detail.contains("previous: 20251020_020000 (48.1MB)"),
        "{detail}"
    );
    assert!(
        detail.contains("present: app.db, .env, uploads"),
        "{detail}"
    );

    let (s, v, msg) = svm(&doc, "stale");
    assert_eq!(s, "fail");
    assert_eq!(v, "2025-10-19 02:00 (2d ago, 48MB)");
    assert_eq!(
        msg,
        "newest backup 20251019_020000 is 2.3d old, expected within 26h"
    );

    let (s, _, msg) = svm(&doc, "lacking");
    assert_eq!(s, "fail");
    assert_eq!(msg, "newest backup 20251021_020000 lacks .env, uploads/");

    let (s, _, msg) = svm(&doc, "shrunk");
    assert_eq!(s, "fail");
    assert_eq!(
        msg,
        "newest backup 20251021_020000 shrank 60% vs 20251020_020000 (100MB → 40MB) ≥ fail 50%"
    );
    assert_eq!(check(&doc, "shrunk")["metrics"]["shrink"]["value"], 60.0);
    let (s, _, msg) = svm(&doc, "dipped");
    assert_eq!(s, "warn");
    assert_eq!(
        msg,
        "newest backup 20251021_020000 shrank 25% vs 20251020_020000 (100MB → 75MB) ≥ warn 20%"
    );
    assert_eq!(svm(&doc, "dipped-ok").0, "pass");

    let (s, v, msg) = svm(&doc, "empty");
    assert_eq!((s.as_str(), v.as_str()), ("fail", "none"));
    assert!(
        msg.starts_with("no backup matching `20*` in ") && msg.ends_with("backups/empty"),
        "{msg}"
    );
    let (s, _, msg) = svm(&doc, "no-dir");
    assert_eq!(s, "fail");
    assert!(
        msg.starts_with("backup directory ") && msg.ends_with("backups/nope does not exist"),
        "{msg}"
    );

    let (s, v, _) = svm(&doc, "files");
    assert_eq!(
        (s.as_str(), v.as_str()),
        ("pass", "2025-10-21 02:00 (7h ago, 5.1MB)")
    );
    let (s, _, msg) = svm(&doc, "small");
    assert_eq!(s, "fail");
    assert_eq!(
        msg,
        "newest backup 20251021_020000 is 48.2MB, expected at least 100MB"
    );
    let (s, _, msg) = svm(&doc, "few");
    assert_eq!(s, "warn");
    assert_eq!(msg, "3 backup generations ≤ warn 3");
    let (s, _, msg) = svm(&doc, "file-require");
    assert_eq!(s, "fail");
    assert_eq!(
        msg,
        "newest backup app-20251021.sql.gz is a file, but require lists app.db"
    );
}

#[test]
fn backup_unreadable_dir_is_unknown() {
    if !super::is_root() {
        eprintln!("SKIP: needs root to run opsrun as nobody");
        return;
    }
    let env = Env::new();
    let dir = env.path().join("backups");
    generation(
        &dir,
        "20251021_020000",
        "2025-10-21T02:00:00+09:00",
        &[("app.db", 10)],
    );
    super::chmod(&dir, 0o700);
    let (doc, run) = super::run_as_nobody(&env, "  - {id: b, backup: {dir: ../backups}}\n");
    assert_eq!(run.code, 3, "{}", run.stdout);
    let (s, _, m) = svm(&doc, "b");
    assert_eq!(s, "unknown");
    assert!(
        m.starts_with("cannot read ") && m.ends_with("backups: Permission denied"),
        "{m}"
    );
}

#[test]
fn backup_bad_fields_are_load_errors() {
    let env = Env::new();
    for (yaml, want) in [
        ("{dir: b, pattern: 'a/b'}", "cannot contain `/`"),
        (
            "{dir: b, pattern: '[unclosed'}",
            "invalid pattern `[unclosed`",
        ),
        (
            "{dir: b, require: [/etc/passwd]}",
            "invalid require `/etc/passwd`",
        ),
        ("{dir: b, require: [../x]}", "invalid require `../x`"),
        ("{dir: b, max_age: 26}", "expected a duration like"),
        ("{dir: b, min_size: big}", "expected a size like 100MB"),
        ("{dir: b, shrink: {warn: 120%}}", "between 0% and 100%"),
    ] {
        env.runbook(
            "t.yaml",
            &format!("version: 1\nchecks:\n  - id: c\n    backup: {yaml}\n"),
        );
        let r = env.run(&["validate", "runbooks/t.yaml"]);
        assert_eq!(r.code, 3, "{yaml}");
        assert!(r.stderr.contains(want), "{yaml}: {}", r.stderr);
    }
}
