//! PostgreSQL in `opsrun backup` (SPEC §10.6) against the real server the
//! database tests start (`common::postgres_server`): a `pg_dump` action and
//! `restore_test: {postgres: …}` over TCP with a SCRAM password, a
//! corrupted dump, a `pg_dump` older than the server, Ctrl-C during a
//! restore and the server going away mid-restore. After every one of them
//! no `opsrun_restore_*` scratch database is left (the one the vanished
//! server kept is dropped by a later restore test).
//!
//! The password never reaches a command line: `pg_dump` and `pg_restore`
//! are reached through `bin_dir`, a directory of wrappers that write their
//! argv and whether `PGPASSWORD`/`PGPASSFILE` are set into a log, then
//! exec the real tool; the log is searched for the password.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::postgres_server::{APP_PASSWORD, PgServer, bin_dir};
use crate::common::{Env, Run, check};

/// A server with the `app` fixture, `app` allowed to create databases
/// (the scratch ones).
fn server() -> PgServer {
    let s = PgServer::start().with_app();
    s.psql("postgres", "ALTER ROLE app CREATEDB");
    s
}

/// Scratch databases on `s`.
fn scratch(s: &PgServer) -> String {
    s.psql(
        "postgres",
        "SELECT coalesce(string_agg(datname, ','), '') FROM pg_database \
         WHERE datname LIKE 'opsrun\\_restore\\_%'",
    )
}

/// `bin/` with `pg_dump` and `pg_restore` wrappers that log their argv
/// and password environment to `tools.log`, then run the real tool.
fn wrappers(env: &Env) -> PathBuf {
    let bin = env.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = env.path().join("tools.log");
    for tool in ["pg_dump", "pg_restore"] {
        let real = bin_dir().join(tool);
        let p = bin.join(tool);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\n\
                 {{ echo \"{tool} argv: $*\"; \
                 echo \"{tool} PGPASSWORD=${{PGPASSWORD:-unset}} PGPASSFILE=${{PGPASSFILE:+set}}\"; }} >> '{log}'\n\
                 exec '{real}' \"$@\"\n",
                log = log.display(),
                real = real.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// `runbooks/backup.yaml`: `pg_dump` of `appdb` as `app` over TCP into
/// `backups/`, and a restore test on the same server.
fn runbook(env: &Env, s: &PgServer, bin: &Path, restore_extra: &str) {
    env.runbook(
        "backup.yaml",
        &format!(
            r#"version: 1
title: バックアップ
backup: {{dir: {backups}, pattern: "20*", name: "%Y%m%d_%H%M%S"}}
actions:
  - {{id: db, pg_dump: {{host: 127.0.0.1, port: {port}, user: app, dbname: appdb, password_env: APP_PG_PASSWORD, sslmode: disable, dest: app.dump, bin_dir: {bin}}}}}
restore_test:
  postgres: {{url: "postgres://app@127.0.0.1:{port}/postgres?sslmode=disable", password_env: APP_PG_PASSWORD, bin_dir: {bin}{restore_extra}}}
"#,
            backups = env.path().join("backups").display(),
            port = s.port,
            bin = bin.display(),
        ),
    );
}

fn tmpdir(env: &Env) -> PathBuf {
    let t = env.path().join("tmp");
    std::fs::create_dir_all(&t).unwrap();
    t
}

/// Runs opsrun with the app's password in the environment and no PG*
/// settings of the host.
fn run(env: &Env, args: &[&str]) -> Run {
    let mut c = env.cmd();
    for v in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGPASSFILE",
    ] {
        c.env_remove(v);
    }
    let out = c
        .args(args)
        .env("APP_PG_PASSWORD", APP_PASSWORD)
        .env("TMPDIR", tmpdir(env))
        .output()
        .unwrap();
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: Duration::ZERO,
    };
    assert!(
        !r.stdout.contains(APP_PASSWORD) && !r.stderr.contains(APP_PASSWORD),
        "password printed:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    r
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr: {}", r.stdout, r.stderr))
}

/// The one generation in `backups/`.
fn generation(env: &Env) -> PathBuf {
    let mut g: Vec<PathBuf> = std::fs::read_dir(env.path().join("backups"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("20"))
        .collect();
    assert_eq!(g.len(), 1, "{g:?}");
    g.pop().unwrap()
}

fn tmp_is_empty(env: &Env) -> bool {
    std::fs::read_dir(tmpdir(env)).unwrap().next().is_none()
}

#[test]
fn pg_dump_and_restore_test_round_trip_without_the_password_on_a_command_line() {
    let env = Env::new();
    let s = server();
    let bin = wrappers(&env);
    runbook(
        &env,
        &s,
        &bin,
        ", verify_query: \"SELECT count(*) FROM users WHERE email LIKE '%@example.com'\"",
    );

    let r = run(&env, &["backup", "run", "-f", "json", "-v"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    let db = check(&doc, "db");
    assert_eq!(db["status"], "pass", "{db}");
    assert!(
        db["value"].as_str().unwrap().starts_with("app.dump: ")
            && db["value"].as_str().unwrap().contains("PostgreSQL 15"),
        "{db}"
    );
    let dump = generation(&env).join("app.dump");
    let head = std::fs::read(&dump).unwrap();
    assert_eq!(&head[..5], b"PGDMP", "not a custom-format dump");
    assert!(tmp_is_empty(&env), "password file left in TMPDIR");

    let r = run(&env, &["backup", "restore-test", "-f", "json", "-v"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    let row = check(&doc, "restore-test");
    assert_eq!(row["status"], "pass", "{row}");
    assert!(
        row["value"].as_str().unwrap().contains("PostgreSQL 1/1 ok"),
        "{row}"
    );
    let detail = row["detail"].to_string();
    assert!(
        detail.contains("/app.dump: restored into opsrun_restore_")
            && detail.contains("2 tables, 10 rows read, verify_query 8")
            && detail.contains("dropped"),
        "{detail}"
    );
    assert_eq!(scratch(&s), "", "scratch database left");
    assert!(tmp_is_empty(&env), "temporary copy or password file left");

    // The wrappers saw no password in argv, none in PGPASSWORD, and a
    // password file each time.
    let log = std::fs::read_to_string(env.path().join("tools.log")).unwrap();
    assert!(!log.contains(APP_PASSWORD), "{log}");
    assert!(log.contains("pg_dump argv: --format=custom"), "{log}");
    assert!(log.contains("pg_restore argv: --no-owner"), "{log}");
    for tool in ["pg_dump", "pg_restore"] {
        assert!(
            log.contains(&format!("{tool} PGPASSWORD=unset PGPASSFILE=set")),
            "{log}"
        );
    }
}

#[test]
fn a_corrupted_dump_fails_the_restore_test_in_one_line_and_leaves_no_database() {
    let env = Env::new();
    let s = server();
    let bin = wrappers(&env);
    runbook(&env, &s, &bin, "");
    assert_eq!(run(&env, &["backup", "run"]).code, 0);
    let dump = generation(&env).join("app.dump");
    let bytes = std::fs::read(&dump).unwrap();
    std::fs::write(&dump, &bytes[..bytes.len() / 2]).unwrap();

    let r = run(&env, &["backup", "restore-test", "-f", "json", "-v"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    let row = check(&doc, "restore-test");
    assert_eq!(row["status"], "fail", "{row}");
    assert_eq!(row["reason"]["code"], "backup.restore_test.file", "{row}");
    let msg = row["message"].as_str().unwrap();
    assert!(
        msg.contains("/app.dump: pg_restore failed: ") && !msg.contains('\n'),
        "{msg}"
    );
    assert_eq!(scratch(&s), "", "scratch database left");

    // Garbage from the first byte: pg_restore says it is not an archive.
    std::fs::write(&dump, "not a dump at all\n").unwrap();
    let r = run(&env, &["backup", "restore-test", "-f", "json"]);
    let row = check(&json(&r), "restore-test").clone();
    assert_eq!(row["status"], "fail", "{row}");
    assert!(
        row["message"]
            .as_str()
            .unwrap()
            .contains("pg_restore failed: input file does not appear to be a valid archive"),
        "{row}"
    );
    assert_eq!(scratch(&s), "", "scratch database left");
}

#[test]
fn a_pg_dump_older_than_the_server_is_refused_in_one_clear_line() {
    let env = Env::new();
    let s = server();
    let bin = env.path().join("old");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("pg_dump");
    std::fs::write(
        &fake,
        "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'pg_dump (PostgreSQL) 14.9'; exit 0; }\n\
         echo ran >> \"$(dirname \"$0\")/ran\"\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    runbook(&env, &s, &bin, "");

    let r = run(&env, &["backup", "run", "-f", "json"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let row = check(&json(&r), "db").clone();
    assert_eq!(row["reason"]["code"], "backup.pg.too_old", "{row}");
    assert_eq!(
        row["message"],
        "pg_dump 14 cannot dump a PostgreSQL 15 server (pg_dump 15 or newer is needed)",
        "{row}"
    );
    assert!(!bin.join("ran").exists(), "the old pg_dump was run");
    let r = run(&env, &["backup", "run", "--lang", "ja"]);
    assert!(
        r.stdout.contains(
            "pg_dump 14 は PostgreSQL 15 のサーバーをダンプできません（pg_dump 15 以上が必要）"
        ),
        "{}",
        r.stdout
    );
}

/// A table whose CHECK constraint sleeps 50 ms per row, but only inside a
/// scratch database: dumping is quick, restoring its 600 rows takes 30 s.
fn slow_table(s: &PgServer) {
    s.psql(
        "appdb",
        "SET ROLE app; \
         CREATE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS \
         $$SELECT true FROM pg_sleep(CASE WHEN current_database() LIKE 'opsrun%' THEN 0.05 ELSE 0 END)$$; \
         CREATE TABLE slow (id int CHECK (slow_ok(id))); \
         INSERT INTO slow SELECT generate_series(1, 600);",
    );
}

fn spawn(env: &Env, args: &[&str]) -> Child {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_opsrun"));
    for v in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGPASSFILE",
    ] {
        c.env_remove(v);
    }
    c.args(args)
        .current_dir(env.path())
        .env_remove("OPSRUN_RUNBOOKS")
        .env("LANG", "C.UTF-8")
        .env("OPSRUN_HISTORY", env.path().join("history.db"))
        .env("APP_PG_PASSWORD", APP_PASSWORD)
        .env("TMPDIR", tmpdir(env))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn().unwrap()
}

/// Waits until pg_restore is loading rows into a scratch database.
fn wait_for_restore(s: &PgServer) {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let n = s.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname LIKE 'opsrun\\_restore\\_%' AND query LIKE 'COPY%'",
        );
        if n != "0" {
            return;
        }
        assert!(Instant::now() < until, "pg_restore never started its COPY");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for `child` (at most a minute: a hang fails the test).
fn finish(mut child: Child) -> (i32, String) {
    let until = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("opsrun did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn ctrl_c_during_a_restore_drops_the_scratch_database() {
    let env = Env::new();
    let s = server();
    slow_table(&s);
    let bin = wrappers(&env);
    runbook(&env, &s, &bin, "");
    assert_eq!(run(&env, &["backup", "run"]).code, 0);

    let child = spawn(&env, &["backup", "restore-test", "-f", "json", "-v"]);
    wait_for_restore(&s);
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let (code, stdout) = finish(child);
    assert_eq!(code, 130, "{stdout}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let row = check(&doc, "restore-test");
    assert_eq!(row["reason"]["code"], "interrupted", "{row}");
    assert!(row["detail"].to_string().contains("dropped"), "{row}");
    assert_eq!(scratch(&s), "", "scratch database left after Ctrl-C");
    assert!(tmp_is_empty(&env), "temporary copy or password file left");
}

#[test]
fn a_server_gone_mid_restore_is_a_clear_failure_and_a_later_test_drops_the_leftover() {
    let env = Env::new();
    let mut s = server();
    slow_table(&s);
    let bin = wrappers(&env);
    runbook(&env, &s, &bin, "");
    assert_eq!(run(&env, &["backup", "run"]).code, 0);

    let child = spawn(&env, &["backup", "restore-test", "-f", "json", "-v"]);
    wait_for_restore(&s);
    s.stop();
    let (code, stdout) = finish(child);
    assert_eq!(code, 2, "{stdout}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let row = check(&doc, "restore-test");
    assert_eq!(row["status"], "fail", "{row}");
    let msg = row["message"].as_str().unwrap();
    assert!(
        msg.contains("pg_restore failed: ") && msg.contains("could not be dropped"),
        "{msg}"
    );

    // Back up: the scratch database is still there. A restore test a day
    // later drops it (its name says when it was made); one made now stays.
    s.restart();
    let left = scratch(&s);
    assert!(left.starts_with("opsrun_restore_"), "{left:?}");
    s.psql("appdb", "DROP TABLE slow");
    // A new dump without the slow table. The first generation goes first:
    // generations are named to the second, and this whole test can take
    // less than one, so a second `backup run` would meet "generation …
    // already exists" (as it should) and this test would flake.
    std::fs::remove_dir_all(generation(&env)).unwrap();
    assert_eq!(run(&env, &["backup", "run"]).code, 0);
    let r = run(&env, &["backup", "restore-test", "-f", "json", "-v"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(scratch(&s), left, "a fresh leftover must stay");
    let later = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let r = run(
        &env,
        &[
            "backup",
            "restore-test",
            "-f",
            "json",
            "-v",
            "--now",
            &later,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let row = check(&json(&r), "restore-test").clone();
    assert!(
        row["detail"]
            .to_string()
            .contains(&format!("dropped {left}, left by an earlier restore test")),
        "{row}"
    );
    assert_eq!(scratch(&s), "", "leftover not dropped");
}

/// A password file left by an opsrun killed with SIGKILL (no cleanup can
/// run) is removed by the next run that writes one; a live process's stays.
#[test]
fn a_password_file_left_by_a_killed_run_is_swept_by_the_next() {
    let env = Env::new();
    let s = server();
    let bin = wrappers(&env);
    runbook(&env, &s, &bin, "");
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let stale = tmpdir(&env).join(format!("opsrun-pgpass-{dead}-00000000deadbeef"));
    let live = tmpdir(&env).join(format!(
        "opsrun-pgpass-{}-00000000cafebabe",
        std::process::id()
    ));
    for p in [&stale, &live] {
        std::fs::write(p, "*:*:*:*:old-secret\n").unwrap();
    }
    assert_eq!(run(&env, &["backup", "run"]).code, 0);
    assert!(
        !stale.exists(),
        "the dead run's password file is still there"
    );
    assert!(live.exists(), "a live process's password file was removed");
}
