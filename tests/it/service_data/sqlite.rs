//! `sqlite` on real database files: healthy (WAL and rollback journal),
//! corrupted b-tree page, not a database, missing, empty, read-only
//! directory and unreadable file (as `nobody`), and under a concurrent
//! writer holding a write transaction. After every check the file's bytes
//! and mtime are unchanged (SPEC §9).

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::{run_json, snapshot, svm};
use crate::common::{Env, check};

const NOW: &[&str] = &["--now", "2025-10-21T09:00:00+09:00"];

/// An app.db like seed 000's: 45 tasks today (JST), 30 yesterday, and
/// enough rows to span many b-tree pages.
fn make_db(path: &Path, wal: bool) {
    let c = Connection::open(path).unwrap();
    if wal {
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
    }
    c.execute_batch(
        "CREATE TABLE tasks (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, body TEXT);
         CREATE INDEX tasks_created ON tasks(created_at);",
    )
    .unwrap();
    let tx = c.unchecked_transaction().unwrap();
    for i in 0..45 {
        tx.execute(
            "INSERT INTO tasks (created_at, body) VALUES (?1, ?2)",
            (format!("2025-10-21 08:{:02}:00", i), "見積り".repeat(40)),
        )
        .unwrap();
    }
    for i in 0..1000 {
        tx.execute(
            "INSERT INTO tasks (created_at, body) VALUES (?1, ?2)",
            (
                format!("2025-10-20 {:02}:00:00", i % 24),
                format!("old task {i} {}", "x".repeat(200)),
            ),
        )
        .unwrap();
    }
    tx.commit().unwrap();
    // Leave no -wal behind: the file alone is the database.
    if wal {
        c.pragma_update(None, "wal_checkpoint", "TRUNCATE").unwrap();
    }
}

fn db(env: &Env, name: &str, wal: bool) -> PathBuf {
    let p = env.path().join("data").join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    make_db(&p, wal);
    p
}

#[test]
fn sqlite_healthy_and_query() {
    let env = Env::new();
    let rollback = db(&env, "app.db", false);
    let wal = db(&env, "wal.db", true);
    let before = (snapshot(&rollback), snapshot(&wal));
    let (doc, run) = run_json(
        &env,
        "  - {id: integrity, sqlite: {path: ../data/app.db}}
  - {id: wal, sqlite: {path: ../data/wal.db, check: quick}}
  - id: estimates
    title: 見積り作成数
    section: 本日の実績
    sqlite:
      path: ../data/app.db
      check: none
      query: SELECT count(*) FROM tasks WHERE substr(created_at, 1, 10) = :today
      value: {warn: '< 10', fail: '< 1', unit: 件}
  - id: few
    sqlite:
      path: ../data/wal.db
      query: SELECT count(*) FROM tasks WHERE created_at >= :today
      value: {warn: '< 50', unit: 件}
  - {id: avg, sqlite: {path: ../data/app.db, check: none, query: 'SELECT avg(length(body)) FROM tasks WHERE id <= 2'}}
",
        &[],
        NOW,
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        before,
        (snapshot(&rollback), snapshot(&wal)),
        "a check changed a database"
    );

    let c = check(&doc, "integrity");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(c["value"], "ok");
    assert_eq!(c["section"], "データ・バックアップ");
    assert!(c["metric"].is_null());
    let size = std::fs::metadata(&rollback).unwrap().len() as f64;
    assert_eq!(c["metrics"]["size"]["value"], size);
    assert_eq!(c["metrics"]["size"]["unit"], "B");
    assert!(
        c["detail"].to_string().contains("journal_mode delete"),
        "{c:#}"
    );
    assert!(
        c["detail"]
            .to_string()
            .contains("PRAGMA integrity_check: ok"),
        "{c:#}"
    );

    let c = check(&doc, "wal");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(
        c["detail"].to_string().contains("journal_mode wal"),
        "{c:#}"
    );
    assert!(
        c["detail"].to_string().contains("PRAGMA quick_check: ok"),
        "{c:#}"
    );

    // Seed 000's 本日の見積り作成数, from the run clock's date (JST).
    let c = check(&doc, "estimates");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(c["value"], "45件");
    assert_eq!(c["metric"], 45.0);
    assert_eq!(c["metrics"]["value"]["value"], 45.0);

    let (s, v, m) = svm(&doc, "few");
    assert_eq!(
        (s.as_str(), v.as_str(), m.as_str()),
        ("warn", "45件", "value 45件 < warn 50")
    );
    assert_eq!(svm(&doc, "avg").1, "120");
}

#[test]
fn sqlite_broken_files_fail_with_sqlites_words() {
    let env = Env::new();
    let corrupt = db(&env, "corrupt.db", false);
    // Overwrite the middle of a leaf page of the tasks b-tree (page 10)
    // with garbage: the file still opens, integrity_check finds it.
    {
        use std::io::{Seek, SeekFrom, Write};
        let page = 4096u64;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&corrupt)
            .unwrap();
        f.seek(SeekFrom::Start(9 * page)).unwrap();
        f.write_all(&[0xA5; 64]).unwrap();
        f.seek(SeekFrom::Start(9 * page + 1500)).unwrap();
        f.write_all(&[0xFF; 200]).unwrap();
    }
    env.write(
        "data/text.db",
        "this is not a database, just text\n".repeat(20).as_str(),
    );
    env.write("data/empty.db", "");
    let files = ["corrupt.db", "text.db", "empty.db"].map(|f| env.path().join("data").join(f));
    let before: Vec<_> = files.iter().map(|f| snapshot(f)).collect();
    let (doc, run) = run_json(
        &env,
        "  - {id: corrupt, sqlite: {path: ../data/corrupt.db}}
  - {id: corrupt-quick, sqlite: {path: ../data/corrupt.db, check: quick}}
  - {id: text, sqlite: {path: ../data/text.db}}
  - {id: text-none, sqlite: {path: ../data/text.db, check: none}}
  - {id: missing, sqlite: {path: ../data/missing.db}}
  - {id: empty, sqlite: {path: ../data/empty.db}}
  - {id: dir, sqlite: {path: ../data}}
  - {id: writes, sqlite: {path: ../data/corrupt.db, check: none, query: DELETE FROM tasks}}
  - {id: no-rows, sqlite: {path: ../data/text.db, check: none, query: SELECT 1 WHERE 0}}
",
        &[],
        NOW,
    );
    assert_eq!(run.code, 2);
    let after: Vec<_> = files.iter().map(|f| snapshot(f)).collect();
    assert!(before == after, "a check changed a file");
    assert!(
        !env.path().join("data/missing.db").exists(),
        "a check created a database"
    );

    let c = check(&doc, "corrupt");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(c["value"], "corrupt");
    let m = c["message"].as_str().unwrap();
    assert!(m.starts_with("integrity_check: "), "{m}");
    // SQLite's own words (bundled SQLite: "Tree 2 page 10: …"), first ones first.
    assert!(m.starts_with("integrity_check: "), "{m}");
    assert!(
        m.to_lowercase()
            .contains("page 10: btreeinitpage() returns error code 11"),
        "{m}"
    );
    assert!(m.ends_with("database disk image is malformed"), "{m}");
    assert_eq!(svm(&doc, "corrupt-quick").0, "fail");

    assert_eq!(
        svm(&doc, "text"),
        (
            "fail".into(),
            "".into(),
            "open: file is not a database".into()
        )
    );
    assert_eq!(svm(&doc, "text-none").2, "open: file is not a database");
    let (s, _, m) = svm(&doc, "missing");
    assert_eq!(s, "fail");
    assert!(m.ends_with("data/missing.db does not exist"), "{m}");
    let (s, _, m) = svm(&doc, "empty");
    assert_eq!(s, "warn");
    assert!(
        m.ends_with("empty.db is empty (0 bytes): no tables, no data"),
        "{m}"
    );
    let (s, _, m) = svm(&doc, "dir");
    assert_eq!(s, "fail");
    assert!(m.ends_with("is a directory, not a database"), "{m}");
    let (s, _, m) = svm(&doc, "writes");
    assert_eq!(s, "unknown");
    assert_eq!(
        m,
        "query would write to the database; opsrun only runs read-only queries (SELECT …)"
    );
    assert_eq!(svm(&doc, "no-rows").2, "open: file is not a database");
}

#[test]
fn sqlite_query_problems() {
    let env = Env::new();
    let p = db(&env, "app.db", false);
    let before = snapshot(&p);
    let (doc, _) = run_json(
        &env,
        "  - {id: no-rows, sqlite: {path: ../data/app.db, check: none, query: SELECT 1 WHERE 0}}
  - {id: returns-null, sqlite: {path: ../data/app.db, check: none, query: SELECT NULL}}
  - {id: text, sqlite: {path: ../data/app.db, check: none, query: SELECT 'abc'}}
  - {id: bad-sql, sqlite: {path: ../data/app.db, check: none, query: SELECT count(*) FROM nosuch}}
  - {id: param, sqlite: {path: ../data/app.db, check: none, query: SELECT :other}}
  - {id: attach, sqlite: {path: ../data/app.db, check: none, query: \"ATTACH '../data/x.db' AS x\"}}
",
        &[],
        NOW,
    );
    assert_eq!(snapshot(&p), before);
    assert_eq!(
        svm(&doc, "no-rows").2,
        "query returned no rows, expected one number"
    );
    assert_eq!(
        svm(&doc, "returns-null").2,
        "query returned NULL, expected a number"
    );
    assert_eq!(
        svm(&doc, "text").2,
        "query returned \"abc\", expected a number"
    );
    assert_eq!(svm(&doc, "bad-sql").2, "query: no such table: nosuch");
    let (s, _, m) = svm(&doc, "param");
    assert_eq!(s, "unknown");
    assert_eq!(
        m,
        "query uses parameter :other; only :today, :now and :now_unix are bound"
    );
    assert_ne!(svm(&doc, "attach").0, "pass");
    assert!(!env.path().join("data/x.db").exists());
}

/// A writer (this test process) holds an open write transaction while
/// opsrun checks the same file: the check passes, sees only committed
/// data, leaves the file as it was, and the writer commits afterwards.
#[test]
fn sqlite_under_a_concurrent_writer() {
    for wal in [false, true] {
        let env = Env::new();
        let p = db(&env, "app.db", wal);
        let writer = Connection::open(&p).unwrap();
        writer.execute_batch("BEGIN IMMEDIATE; INSERT INTO tasks (created_at, body) VALUES ('2025-10-21 08:59:00', 'uncommitted');").unwrap();
        let before = snapshot(&p);
        let (doc, run) = run_json(
            &env,
            "  - {id: integrity, timeout: 5s, sqlite: {path: ../data/app.db}}
  - {id: today, timeout: 5s, sqlite: {path: ../data/app.db, check: none, query: 'SELECT count(*) FROM tasks WHERE created_at >= :today'}}
",
            &[],
            NOW,
        );
        assert_eq!(run.code, 0, "wal={wal}: {}", run.stdout);
        assert_eq!(svm(&doc, "integrity").1, "ok");
        assert_eq!(
            svm(&doc, "today").1,
            "45",
            "wal={wal}: the uncommitted row is not seen"
        );
        assert!(
            snapshot(&p) == before,
            "wal={wal}: the check changed the file"
        );
        writer.execute_batch("COMMIT").unwrap();
        let n: i64 = writer
            .query_row(
                "SELECT count(*) FROM tasks WHERE body = 'uncommitted'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "wal={wal}: the writer's commit went through");
    }
}

/// An exclusive lock held past the timeout: the check waits, then fails in
/// bounded time instead of hanging.
#[test]
fn sqlite_locked_past_the_timeout_fails_in_time() {
    let env = Env::new();
    let p = db(&env, "app.db", false);
    let writer = Connection::open(&p).unwrap();
    writer
        .execute_batch("BEGIN EXCLUSIVE; DELETE FROM tasks WHERE id = 1;")
        .unwrap();
    let (doc, run) = run_json(
        &env,
        "  - {id: locked, timeout: 1s, sqlite: {path: ../data/app.db}}\n",
        &[],
        &[],
    );
    assert!(run.elapsed.as_secs() < 20, "took {:?}", run.elapsed);
    let (s, _, m) = svm(&doc, "locked");
    assert_eq!(s, "fail");
    assert!(
        m.contains("database is locked") || m.contains("timed out after 1s"),
        "{m}"
    );
    writer.execute_batch("ROLLBACK").unwrap();
}

/// Permission problems, seen as an unprivileged user: a rollback-journal
/// database in a directory `nobody` cannot write is fine to read; a WAL
/// one cannot be read there (SQLite needs the -shm file) and says so; an
/// unreadable file is `unknown` with the OS reason.
#[test]
fn sqlite_read_only_directory_as_nobody() {
    if !super::is_root() {
        eprintln!("SKIP: needs root to run opsrun as nobody");
        return;
    }
    let env = Env::new();
    let rollback = db(&env, "app.db", false);
    let wal = db(&env, "wal.db", true);
    let secret = db(&env, "secret.db", false);
    let data = env.path().join("data");
    for f in [&rollback, &wal] {
        super::chmod(f, 0o644);
    }
    super::chmod(&secret, 0o600);
    super::chmod(&data, 0o755); // root's directory: nobody cannot create files in it
    let before: Vec<_> = [&rollback, &wal, &secret]
        .iter()
        .map(|f| snapshot(f))
        .collect();
    let (doc, run) = super::run_as_nobody(
        &env,
        "  - {id: rollback, sqlite: {path: ../data/app.db}}
  - {id: wal, sqlite: {path: ../data/wal.db}}
  - {id: secret, sqlite: {path: ../data/secret.db}}
",
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    let after: Vec<_> = [&rollback, &wal, &secret]
        .iter()
        .map(|f| snapshot(f))
        .collect();
    assert!(before == after);

    assert_eq!(svm(&doc, "rollback").0, "pass", "{doc:#}");
    let (s, _, m) = svm(&doc, "wal");
    assert_eq!(s, "unknown");
    assert!(
        m.ends_with(&format!(
            "wal.db is a WAL database and this user cannot create wal.db-shm in {} (SQLite needs the -shm file even to read): run the check as a user who can write that directory",
            env.path().join("data").display()
        )),
        "{m}"
    );
    let (s, _, m) = svm(&doc, "secret");
    assert_eq!(s, "unknown");
    assert!(
        m.starts_with("cannot read ") && m.ends_with("secret.db: Permission denied"),
        "{m}"
    );
}

#[test]
fn sqlite_bad_fields_are_load_errors() {
    let env = Env::new();
    for (yaml, want) in [
        ("{path: a.db, check: full}", "unknown variant `full`"),
        (
            "{path: a.db, value: {warn: 1}}",
            "`value` thresholds need a `query`",
        ),
        ("{path: a.db, query: ' '}", "`query` is empty"),
        (
            "{path: a.db, query: SELECT 1, value: {warn: lots}}",
            "expected a number like 42",
        ),
    ] {
        env.runbook(
            "t.yaml",
            &format!("version: 1\nchecks:\n  - id: c\n    sqlite: {yaml}\n"),
        );
        let r = env.run(&["validate", "runbooks/t.yaml"]);
        assert_eq!(r.code, 3, "{yaml}");
        assert!(r.stderr.contains(want), "{yaml}: {}", r.stderr);
    }
}
