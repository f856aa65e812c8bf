//! `postgres` and `redis` checks against real servers the tests start:
//! PostgreSQL from Debian's `postgresql` package (initdb in a temp dir, run
//! as the `postgres` user) and `redis-server`. Every run is made twice — JSON
//! and the verbose table — and no password may appear in either.

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::postgres_server::{APP_PASSWORD, PgServer, give_to_postgres};
use crate::common::redis_server::RedisServer;
use crate::common::{Env, Run, check, detail, msg};

const REDIS_PASSWORD: &str = "rd-Secr3t-9902-abc";
const WRONG_PASSWORD: &str = "wrong-Passw0rd-1234";

/// Every secret a test hands to opsrun.
const SECRETS: [&str; 3] = [APP_PASSWORD, REDIS_PASSWORD, WRONG_PASSWORD];

/// Runs `checks` with extra environment `envs` (PG* variables and HOME are
/// cleared first so the host's settings cannot leak in), as JSON and as a
/// verbose table; asserts no secret is printed; returns the JSON and its run.
fn run(env: &Env, checks: &str, envs: &[(&str, &str)]) -> (Value, Run) {
    env.runbook(
        "t.yaml",
        &format!("version: 1\ntitle: databases\nchecks:\n{checks}"),
    );
    let exec = |args: &[&str]| {
        let mut c = env.cmd();
        for v in [
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGPASSWORD",
            "PGPASSFILE",
            "PGSSLMODE",
            "PGSSLROOTCERT",
        ] {
            c.env_remove(v);
        }
        c.env("HOME", env.path());
        for (k, v) in envs {
            c.env(k, v);
        }
        let started = Instant::now();
        let out = c.args(args).output().expect("run opsrun");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    };
    let table = exec(&["run", "t", "-v"]);
    let json_run = exec(&["run", "t", "-f", "json"]);
    for r in [&table, &json_run] {
        for s in SECRETS {
            assert!(
                !r.stdout.contains(s) && !r.stderr.contains(s),
                "secret printed:\n{}\n{}",
                r.stdout,
                r.stderr
            );
        }
    }
    let doc: Value = serde_json::from_str(&json_run.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}\ntable:\n{}",
            json_run.stdout, json_run.stderr, table.stdout
        )
    });
    (doc, json_run)
}

fn metric(c: &Value, name: &str) -> f64 {
    c["metrics"][name]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no metric {name} in {c:#}"))
}

fn unit(c: &Value, name: &str) -> String {
    c["metrics"][name]["unit"].as_str().unwrap_or("").to_owned()
}

/// `postgres:` connecting to `pg` over TCP as `app` to `appdb`, plus `extra` fields.
fn pg_tcp(pg: &PgServer, extra: &str) -> String {
    format!(
        "{{host: 127.0.0.1, port: {}, user: app, dbname: appdb, password_env: APP_PW{extra}}}",
        pg.port
    )
}

/// Kills a background `psql` when the test ends, however it ends.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn postgres_connects_and_reports_version_and_latency() {
    let pg = PgServer::start().with_app();
    let env = Env::new();
    let (doc, r) = run(
        &env,
        &format!(
            "  - id: db\n    title: データベース接続確認\n    postgres: {}\n",
            pg_tcp(&pg, "")
        ),
        &[("APP_PW", APP_PASSWORD)],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let c = check(&doc, "db");
    assert_eq!(c["kind"], "postgres");
    assert_eq!(c["status"], "pass");
    assert!(
        c["value"].as_str().unwrap().starts_with("PostgreSQL 1"),
        "{c:#}"
    );
    assert_eq!(c["unit"], "ms");
    assert_eq!(unit(c, "connect"), "ms");
    let d = detail(c);
    assert!(
        d.contains("app@127.0.0.1:") && d.contains("password from password_env APP_PW"),
        "{d}"
    );
    assert!(d.contains("not encrypted"), "{d}");
}

#[test]
fn postgres_builtin_measurements_and_thresholds() {
    let pg = PgServer::start().with_app();
    let env = Env::new();
    let checks = format!(
        "  - id: conns\n    postgres: {}\n\
         \x20 - id: pct\n    postgres: {}\n\
         \x20 - id: everything\n    postgres: {}\n",
        pg_tcp(&pg, ", connections: {warn: 1, fail: 50}"),
        pg_tcp(&pg, ", connections_pct: {warn: 5%}"),
        pg_tcp(
            &pg,
            ", connections: true, long_queries: true, deadlocks: true, \
             replication: {role: primary}, database_size: {warn: 1GB}, connect: {fail: 10s}"
        ),
    );
    let (doc, r) = run(&env, &checks, &[("APP_PW", APP_PASSWORD)]);
    assert_eq!(r.code, 1, "{}", r.stdout);

    // Our own session is a connection: at least 1, which is ≥ warn 1.
    let c = check(&doc, "conns");
    assert_eq!(c["status"], "warn", "{c:#}");
    let n = metric(c, "connections");
    assert!((1.0..20.0).contains(&n), "{c:#}");
    assert_eq!(msg(c), format!("connections {n} ≥ warn 1"));
    assert_eq!(c["unit"], "count");
    assert!(c["value"].as_str().unwrap().contains("of 20)"), "{c:#}");
    assert!(detail(c).contains("max_connections 20"), "{c:#}");

    // max_connections is 20: one connection is 5%.
    let c = check(&doc, "pct");
    assert_eq!(c["status"], "warn", "{c:#}");
    let pct = metric(c, "connections_pct");
    assert_eq!(pct, metric(c, "connections") * 100.0 / 20.0);
    assert_eq!(c["unit"], "%");
    assert!(msg(c).starts_with("connections_pct "), "{c:#}");

    let c = check(&doc, "everything");
    assert_eq!(c["status"], "pass", "{c:#}");
    for (name, u) in [
        ("connections", "count"),
        ("connections_pct", "%"),
        ("long_queries", "count"),
        ("deadlocks", "count"),
        ("deadlocks_total", "count"),
        ("standbys", "count"),
        ("database_size", "B"),
        ("connect", "ms"),
    ] {
        assert_eq!(unit(c, name), u, "{name} in {c:#}");
    }
    assert_eq!(metric(c, "long_queries"), 0.0);
    assert_eq!(metric(c, "deadlocks"), 0.0);
    assert_eq!(metric(c, "standbys"), 0.0);
    assert!(metric(c, "database_size") > 1e6, "{c:#}");
    let d = detail(c);
    assert!(d.contains("no query running longer than 5m"), "{d}");
    assert!(d.contains("primary, no standby connected"), "{d}");
}

#[test]
fn postgres_query_gives_a_metric_seed_001_daily_registrations() {
    let pg = PgServer::start().with_app();
    let env = Env::new();
    let checks = format!(
        "  - id: registrations\n    title: 日次登録数\n    postgres: {}\n\
         \x20 - id: rate\n    postgres: {}\n\
         \x20 - id: is-null\n    postgres: {}\n\
         \x20 - id: text\n    postgres: {}\n\
         \x20 - id: columns\n    postgres: {}\n\
         \x20 - id: none\n    postgres: {}\n\
         \x20 - id: typo\n    postgres: {}\n",
        pg_tcp(
            &pg,
            ", query: \"-- 日次登録数\\nSELECT count(*) FROM users WHERE created_at >= CURRENT_DATE;\", \
             value: {warn: \"< 10\", fail: \"< 1\"}"
        ),
        pg_tcp(
            &pg,
            ", query: \"SELECT round(count(*) FILTER (WHERE created_at >= CURRENT_DATE) * 100.0 / count(*), 2) FROM users\""
        ),
        pg_tcp(&pg, ", query: \"SELECT max(id) FROM users WHERE false\""),
        pg_tcp(&pg, ", query: \"SELECT 'many'\""),
        pg_tcp(&pg, ", query: \"SELECT 1, 2\""),
        pg_tcp(&pg, ", query: \"SELECT 1 WHERE false\""),
        pg_tcp(&pg, ", query: \"SELECT count(*) FROM userz\""),
    );
    let (doc, r) = run(&env, &checks, &[("APP_PW", APP_PASSWORD)]);
    // warn outranks unknown in the exit code (SPEC §2).
    assert_eq!(r.code, 1, "{}", r.stdout);

    let c = check(&doc, "registrations");
    assert_eq!(c["status"], "warn", "{c:#}");
    assert_eq!(c["value"], "5");
    assert_eq!(c["metric"], 5.0);
    assert_eq!(c["unit"], "count");
    assert_eq!(msg(c), "value 5 < warn 10");

    // numeric(…, 2) is decoded: 5 of 8 rows = 62.50.
    let c = check(&doc, "rate");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(c["metric"], 62.5);

    for (id, why) in [
        ("is-null", "query returned NULL, expected a number"),
        (
            "text",
            "query returned a value of type text, expected a number",
        ),
        ("columns", "query returned 2 columns, expected one number"),
        ("none", "query returned no rows, expected one number"),
        (
            "typo",
            "running the query: relation \"userz\" does not exist",
        ),
    ] {
        let c = check(&doc, id);
        assert_eq!(c["status"], "unknown", "{c:#}");
        assert_eq!(msg(c), why, "{id}");
    }
}

#[test]
fn postgres_never_writes() {
    let pg = PgServer::start().with_app();
    // A function that writes, callable from a plain SELECT.
    pg.psql(
        "appdb",
        "CREATE FUNCTION bump() RETURNS bigint LANGUAGE sql AS \
         $$ INSERT INTO users (email) VALUES ('bump') RETURNING id $$",
    );
    let env = Env::new();
    let checks = format!(
        "  - id: cte\n    postgres: {}\n\
         \x20 - id: sequence\n    postgres: {}\n\
         \x20 - id: smuggled\n    postgres: {}\n\
         \x20 - id: function\n    postgres: {}\n",
        pg_tcp(
            &pg,
            ", query: \"WITH x AS (INSERT INTO users (email) VALUES ('evil') RETURNING id) SELECT count(*) FROM x\""
        ),
        pg_tcp(&pg, ", query: \"SELECT nextval('users_id_seq')\""),
        pg_tcp(&pg, ", query: \"SELECT 1; DELETE FROM users\""),
        pg_tcp(&pg, ", query: \"SELECT bump()\""),
    );
    let (doc, _) = run(&env, &checks, &[("APP_PW", APP_PASSWORD)]);
    let c = check(&doc, "cte");
    assert_eq!(c["status"], "unknown", "{c:#}");
    assert_eq!(
        msg(c),
        "running the query: DECLARE CURSOR must not contain data-modifying statements in WITH"
    );
    let c = check(&doc, "function");
    assert_eq!(c["status"], "unknown", "{c:#}");
    assert_eq!(
        msg(c),
        "running the query: cannot execute INSERT in a read-only transaction"
    );
    let c = check(&doc, "sequence");
    assert_eq!(c["status"], "unknown", "{c:#}");
    assert!(msg(c).contains("read-only transaction"), "{c:#}");
    let c = check(&doc, "smuggled");
    assert_eq!(c["status"], "unknown", "{c:#}");
    assert!(msg(c).contains("cannot insert multiple commands"), "{c:#}");
    // Nothing changed, though each check ran twice.
    assert_eq!(pg.psql("appdb", "SELECT count(*) FROM users"), "8");
    assert_eq!(pg.psql("appdb", "SELECT last_value FROM users_id_seq"), "8");

    // A writing statement is refused before anything runs.
    env.runbook(
        "w.yaml",
        "version: 1\ntitle: w\nchecks:\n  - id: w\n    postgres: {query: \"DELETE FROM users\"}\n",
    );
    let r = env.run(&["validate", "runbooks/w.yaml"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("`query` starts with DELETE"),
        "{}",
        r.stderr
    );
}

#[test]
fn postgres_long_queries_seed_001_five_minute_hunt() {
    let pg = PgServer::start().with_app();
    let env = Env::new();
    // A slow query held open by the application's role over TCP.
    let sleeper = Background(
        pg.psql_cmd("appdb", "SELECT pg_sleep(60) /* opsrun-sleeper */")
            .args(["-h", "127.0.0.1", "-U", "app"])
            .env("PGPASSWORD", APP_PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    pg.wait_for(
        "postgres",
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%opsrun-sleeper%' \
         AND pid <> pg_backend_pid() AND query_start < clock_timestamp() - interval '1.2s'",
        "1",
        20,
    );
    let checks = format!(
        "  - id: slow\n    postgres: {}\n\
         \x20 - id: default\n    postgres: {}\n",
        pg_tcp(&pg, ", long_queries: {older_than: 1s, fail: 1}"),
        pg_tcp(&pg, ", long_queries: true"),
    );
    let (doc, r) = run(&env, &checks, &[("APP_PW", APP_PASSWORD)]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let c = check(&doc, "slow");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(c["metric"], 1.0);
    assert_eq!(msg(c), "long_queries 1 ≥ fail 1");
    assert!(
        c["value"]
            .as_str()
            .unwrap()
            .starts_with("1 long query (oldest "),
        "{c:#}"
    );
    let d = detail(c);
    assert!(
        d.contains("oldest: pid ")
            && d.contains("app@appdb active for ")
            && d.contains(": SELECT pg_sleep(60) /* opsrun-sleeper */"),
        "{d}"
    );
    // The seed's threshold, 5 minutes: nothing that old.
    let c = check(&doc, "default");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(c["value"], "no query running longer than 5m");
    drop(sleeper);
}

#[test]
fn postgres_long_query_text_is_cut_at_100_chars() {
    let pg = PgServer::start().with_app();
    let env = Env::new();
    let long = format!("SELECT pg_sleep(60) /* {} */", "x".repeat(200));
    let _sleeper = Background(
        pg.psql_cmd("appdb", &long)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    pg.wait_for(
        "postgres",
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%xxxxxxxx%' \
         AND pid <> pg_backend_pid() AND query_start < clock_timestamp() - interval '1.2s'",
        "1",
        20,
    );
    // The sleeper runs as the superuser: `app` cannot see its text, and
    // the detail says so; the superuser (over the socket) can.
    let checks = format!(
        "  - id: as_app\n    postgres: {}\n\
         \x20 - id: as_super\n    postgres: {{host: {}, port: {}, user: postgres, dbname: appdb, long_queries: {{older_than: 1s}}}}\n",
        pg_tcp(&pg, ", long_queries: {older_than: 1s}"),
        pg.sock().display(),
        pg.port,
    );
    let (doc, _) = run(&env, &checks, &[("APP_PW", APP_PASSWORD)]);
    let c = check(&doc, "as_app");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(
        detail(c).contains("session(s) of other users are not visible to this user"),
        "{c:#}"
    );
    let c = check(&doc, "as_super");
    assert_eq!(c["status"], "warn", "{c:#}");
    assert_eq!(msg(c), "long_queries 1 ≥ warn 1");
    let d = detail(c);
    let oldest = d.lines().find(|l| l.starts_with("oldest:")).unwrap();
    assert!(
        oldest.contains("postgres@appdb active for ")
            && oldest.ends_with(&format!(": {}…", &long[..100])),
        "{d}"
    );
}

#[test]
fn postgres_deadlocks_are_counted() {
    let pg = PgServer::start().with_app();
    let env = Env::new();
    // Two sessions take the same two row locks in opposite order.
    let a = pg
        .psql_cmd(
            "appdb",
            "BEGIN; UPDATE t SET v = v + 1 WHERE id = 1; SELECT pg_sleep(0.5); \
             UPDATE t SET v = v + 1 WHERE id = 2; COMMIT;",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = pg
        .psql_cmd(
            "appdb",
            "BEGIN; UPDATE t SET v = v + 1 WHERE id = 2; SELECT pg_sleep(0.5); \
             UPDATE t SET v = v + 1 WHERE id = 1; COMMIT;",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut errors = String::new();
    for mut child in [a, b] {
        child.wait().unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut errors)
            .unwrap();
    }
    assert!(errors.contains("deadlock detected"), "{errors}");
    pg.wait_for(
        "postgres",
        "SELECT deadlocks FROM pg_stat_database WHERE datname = 'appdb'",
        "1",
        20,
    );
    let checks = format!(
        "  - id: deadlocks\n    postgres: {}\n",
        pg_tcp(&pg, ", deadlocks: {warn: 1, fail: 4}")
    );
    // `run` runs twice (table, then JSON); with history the second run would
    // see the first one's total, so this part runs without history.
    let (doc, _) = run(&env, &checks, &[("APP_PW", APP_PASSWORD)]);
    let no_history = |env: &Env| {
        let out = env
            .cmd()
            .args(["run", "t", "-f", "json", "--no-history"])
            .env("APP_PW", APP_PASSWORD)
            .env("HOME", env.path())
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (v, out.status.code().unwrap_or(-1))
    };
    // With history: the table run recorded total 1, so the JSON run's delta is 0.
    assert_eq!(
        metric(check(&doc, "deadlocks"), "deadlocks"),
        0.0,
        "{doc:#}"
    );
    assert_eq!(metric(check(&doc, "deadlocks"), "deadlocks_total"), 1.0);
    assert_eq!(check(&doc, "deadlocks")["status"], "pass");
    let (doc, code) = no_history(&env);
    assert_eq!(code, 1, "{doc:#}");
    let c = check(&doc, "deadlocks");
    assert_eq!(c["status"], "warn", "{c:#}");
    assert_eq!(metric(c, "deadlocks"), 1.0);
    assert_eq!(metric(c, "deadlocks_total"), 1.0);
    assert_eq!(msg(c), "deadlocks 1 ≥ warn 1");
    // Without history the total is what is reported, and it says since when.
    assert!(
        c["value"]
            .as_str()
            .unwrap()
            .starts_with("1 deadlock(s) since the statistics"),
        "{c:#}"
    );
}

#[test]
fn postgres_replication_primary_and_streaming_standby_seed_004() {
    let primary = PgServer::start().with_app();
    // The monitoring role sees replication details with pg_monitor;
    // `plain` has no such grant.
    primary.psql("postgres", "GRANT pg_monitor TO app");
    primary.psql(
        "postgres",
        &format!("CREATE ROLE plain LOGIN PASSWORD '{APP_PASSWORD}'"),
    );
    let standby = PgServer::standby_of(&primary);
    standby.wait_for(
        "postgres",
        "SELECT status FROM pg_stat_wal_receiver",
        "streaming",
        30,
    );
    primary.wait_for(
        "postgres",
        "SELECT count(*) FROM pg_stat_replication",
        "1",
        30,
    );
    let env = Env::new();
    let checks = format!(
        "  - id: primary\n    postgres: {}\n\
         \x20 - id: standby\n    postgres: {}\n\
         \x20 - id: not-primary\n    postgres: {}\n\
         \x20 - id: not-standby\n    postgres: {}\n\
         \x20 - id: plain-primary\n    postgres: {{host: 127.0.0.1, port: {}, user: plain, dbname: appdb, password_env: APP_PW, replication: {{lag: {{fail: 1m}}}}}}\n\
         \x20 - id: plain-standby\n    postgres: {{host: 127.0.0.1, port: {}, user: plain, dbname: appdb, password_env: APP_PW, replication: {{role: standby}}}}\n",
        pg_tcp(
            &primary,
            ", replication: {role: primary, standbys: {fail: \"< 1\"}, lag: {fail: 1m}}"
        ),
        pg_tcp(&standby, ", replication: {role: standby, lag: {fail: 1h}}"),
        pg_tcp(&standby, ", replication: {role: primary}"),
        pg_tcp(&primary, ", replication: {role: replica}"),
        primary.port,
        standby.port,
    );
    let (doc, r) = run(&env, &checks, &[("APP_PW", APP_PASSWORD)]);
    assert_eq!(r.code, 2, "{}", r.stdout);

    let c = check(&doc, "primary");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(metric(c, "standbys"), 1.0);
    assert_eq!(unit(c, "replication_lag"), "ms");
    assert!(
        c["value"]
            .as_str()
            .unwrap()
            .starts_with("primary, 1 standby (lag "),
        "{c:#}"
    );
    assert!(detail(c).contains("streaming, replay lag"), "{c:#}");

    let c = check(&doc, "standby");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(unit(c, "replication_lag"), "ms");
    assert!(
        c["value"].as_str().unwrap().starts_with("standby, lag "),
        "{c:#}"
    );
    assert!(detail(c).contains("WAL receiver streaming"), "{c:#}");

    let c = check(&doc, "not-primary");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(
        msg(c),
        "server is a standby (in recovery), expected primary"
    );
    let c = check(&doc, "not-standby");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(
        msg(c),
        "server is a primary (not in recovery), expected standby"
    );

    // Without pg_monitor the lag cannot be seen: unknown, and why.
    let c = check(&doc, "plain-primary");
    assert_eq!(c["status"], "unknown", "{c:#}");
    assert_eq!(
        msg(c),
        "replication lag of 1 standby(s) is hidden from this user (grant pg_monitor)"
    );
    // The standby is connected; only its lag is hidden (it once read
    // "no standby connected").
    assert_eq!(
        c["value"], "primary, 1 standby(s) (lag hidden: grant pg_monitor)",
        "{c:#}"
    );
    assert_eq!(metric(c, "standbys"), 1.0);
    let c = check(&doc, "plain-standby");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(
        detail(c).contains("WAL receiver running (status hidden: grant pg_monitor)"),
        "{c:#}"
    );
}

#[test]
fn postgres_refused_bad_password_unknown_database() {
    let pg = PgServer::start().with_app();
    let env = Env::new();
    let closed = crate::common::daemon::free_port();
    let checks = format!(
        "  - id: badpw\n    postgres: {{host: 127.0.0.1, port: {p}, user: app, dbname: appdb, password_env: WRONG}}\n\
         \x20 - id: nodb\n    postgres: {{host: 127.0.0.1, port: {p}, user: app, dbname: nope, password_env: APP_PW}}\n\
         \x20 - id: refused\n    postgres: {{host: 127.0.0.1, port: {closed}, user: app, dbname: appdb, password_env: APP_PW}}\n\
         \x20 - id: nosocket\n    postgres: {{host: /nonexistent/dir, port: {p}, user: app, dbname: appdb}}\n\
         \x20 - id: nopw\n    postgres: {{host: 127.0.0.1, port: {p}, user: app, dbname: appdb}}\n\
         \x20 - id: unset\n    postgres: {{host: 127.0.0.1, port: {p}, user: app, dbname: appdb, password_env: NOT_SET_ANYWHERE}}\n\
         \x20 - id: nouser\n    postgres: {{host: 127.0.0.1, port: {p}, user: ghost, dbname: appdb, password_env: APP_PW}}\n",
        p = pg.port
    );
    let (doc, r) = run(
        &env,
        &checks,
        &[("APP_PW", APP_PASSWORD), ("WRONG", WRONG_PASSWORD)],
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    let addr = format!("127.0.0.1:{}", pg.port);
    for (id, status, why) in [
        (
            "badpw",
            "fail",
            format!(
                "{addr}: password authentication failed for user \"app\" (password from password_env WRONG)"
            ),
        ),
        (
            "nodb",
            "fail",
            format!("{addr}: database \"nope\" does not exist"),
        ),
        (
            "refused",
            "fail",
            format!("127.0.0.1:{closed}: connection refused"),
        ),
        (
            "nosocket",
            "fail",
            format!(
                "/nonexistent/dir/.s.PGSQL.{}: no server socket there (is PostgreSQL running?)",
                pg.port
            ),
        ),
        (
            "nopw",
            "unknown",
            format!(
                "{addr}: the server asks for a password and none was given \
                 (set password_env or password_file, PGPASSWORD, or a ~/.pgpass line)"
            ),
        ),
        (
            "unset",
            "unknown",
            "environment variable NOT_SET_ANYWHERE is not set".into(),
        ),
        (
            "nouser",
            "fail",
            format!(
                "{addr}: password authentication failed for user \"ghost\" (password from password_env APP_PW)"
            ),
        ),
    ] {
        let c = check(&doc, id);
        assert_eq!(c["status"], status, "{id}: {c:#}");
        assert_eq!(msg(c), why, "{id}");
    }
}

#[test]
fn postgres_is_bounded_by_the_check_timeout() {
    let pg = PgServer::start().with_app();
    // A server that accepts and then says nothing (a hung listener): the
    // narrowest stand-in for a PostgreSQL that stopped answering.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let env = Env::new();
    let checks = format!(
        "  - id: slow\n    timeout: 2s\n    postgres: {}\n\
         \x20 - id: hung\n    timeout: 1s\n    postgres: {{host: 127.0.0.1, port: {silent_port}, user: app, dbname: appdb, password_env: APP_PW}}\n",
        pg_tcp(&pg, ", query: \"SELECT count(*) FROM pg_sleep(30)\""),
    );
    let (doc, r) = run(&env, &checks, &[("APP_PW", APP_PASSWORD)]);
    assert!(r.elapsed < Duration::from_secs(20), "{:?}", r.elapsed);
    let c = check(&doc, "slow");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(c["value"], "timeout");
    assert!(
        msg(c).starts_with("timed out after 2s while running the query"),
        "{c:#}"
    );
    let c = check(&doc, "hung");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(
        msg(c),
        format!("timed out after 1s while connecting to 127.0.0.1:{silent_port}")
    );
    // The server gave up on the query too (statement_timeout): nothing left running.
    pg.wait_for(
        "postgres",
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()",
        "0",
        10,
    );
    drop(silent);
}

#[test]
fn postgres_libpq_environment_url_pgpass_and_socket() {
    let pg = PgServer::start().with_app();
    let env = Env::new();
    let port = pg.port.to_string();

    // PG* variables alone.
    let (doc, _) = run(
        &env,
        "  - id: env\n    postgres: {}\n",
        &[
            ("PGHOST", "127.0.0.1"),
            ("PGPORT", &port),
            ("PGUSER", "app"),
            ("PGDATABASE", "appdb"),
            ("PGPASSWORD", APP_PASSWORD),
        ],
    );
    let c = check(&doc, "env");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(detail(c).contains("password from PGPASSWORD"), "{c:#}");

    // A URL, with the password from a file, and with the password in it.
    let pwfile = env.write("secrets/pg", &format!("{APP_PASSWORD}\n"));
    let checks = format!(
        "  - id: url\n    postgres: {{url: \"postgresql://app@127.0.0.1:{port}/appdb?sslmode=disable\", password_file: {}}}\n\
         \x20 - id: url-pw\n    postgres: {{url: \"postgres://app:{APP_PASSWORD}@127.0.0.1:{port}/appdb\"}}\n",
        pwfile.display()
    );
    // The second check has the secret in the runbook itself: it is
    // registered at run time and redacted from every output.
    let (doc, _) = run(&env, &checks, &[]);
    let c = check(&doc, "url");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(detail(c).contains("sslmode disable"), "{c:#}");
    let c = check(&doc, "url-pw");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(detail(c).contains("password from the url"), "{c:#}");

    // ~/.pgpass (HOME is the test's temp dir).
    let home_pgpass = env.write(
        ".pgpass",
        &format!("127.0.0.1:{port}:appdb:app:{APP_PASSWORD}\n"),
    );
    std::fs::set_permissions(&home_pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let checks = format!(
        "  - id: pgpass\n    postgres: {{host: 127.0.0.1, port: {port}, user: app, dbname: appdb}}\n"
    );
    let (doc, _) = run(&env, &checks, &[]);
    let c = check(&doc, "pgpass");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(detail(c).contains("password from ~/.pgpass"), "{c:#}");

    // PGPASSFILE wins over ~/.pgpass (which now holds a wrong password).
    std::fs::write(&home_pgpass, format!("*:*:*:*:{WRONG_PASSWORD}\n")).unwrap();
    let other = env.write(
        "other.pgpass",
        &format!("# mine\n*:*:*:app:{APP_PASSWORD}\n"),
    );
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (doc, _) = run(&env, &checks, &[("PGPASSFILE", other.to_str().unwrap())]);
    let c = check(&doc, "pgpass");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(
        detail(c).contains(&format!("password from {}", other.display())),
        "{c:#}"
    );

    // libpq ignores a password file others can read; so does opsrun, and says so.
    std::fs::write(&home_pgpass, format!("*:*:*:*:{APP_PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&home_pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (doc, _) = run(&env, &checks, &[]);
    let c = check(&doc, "pgpass");
    assert_eq!(c["status"], "unknown", "{c:#}");
    assert!(
        msg(c).ends_with("~/.pgpass ignored: group or world can read it (chmod 600 ~/.pgpass)"),
        "{c:#}"
    );

    // A Unix socket (trusted locally), where sslmode does not apply, as in libpq.
    let checks = format!(
        "  - id: socket\n    postgres: {{host: {}, port: {port}, user: app, dbname: appdb, sslmode: require}}\n",
        pg.sock().display()
    );
    let (doc, _) = run(&env, &checks, &[]);
    let c = check(&doc, "socket");
    assert_eq!(c["status"], "pass", "{c:#}");
    let d = detail(c);
    assert!(
        d.contains(&format!("app@{}/.s.PGSQL.{port}", pg.sock().display()))
            && d.contains("sslmode disable"),
        "{d}"
    );
}

/// A CA and a server certificate for `localhost` signed by it (PEM), plus
/// the server key.
fn test_ca(name: &str) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_pem = leaf.signed_by(&leaf_key, &issuer).unwrap().pem();
    (ca_pem, leaf_pem, leaf_key.serialize_pem())
}

#[test]
fn postgres_tls_sslmodes() {
    let (ca, cert, key) = test_ca("opsrun test CA");
    let (other_ca, _, _) = test_ca("another CA");
    // The same name with another key: a CA regenerated since.
    let (same_name_ca, _, _) = test_ca("opsrun test CA");
    // The certificate files must exist before the server reads its
    // configuration: initdb first, then TLS on, then a restart.
    let plain = PgServer::start().with_app();
    let tls_dir = tempfile::tempdir().unwrap();
    give_to_postgres(tls_dir.path());
    let cert_path = tls_dir.path().join("server.crt");
    let key_path = tls_dir.path().join("server.key");
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    give_to_postgres(&cert_path);
    give_to_postgres(&key_path);
    let pg = PgServer::start_with(&[
        "ssl = on".into(),
        format!("ssl_cert_file = '{}'", cert_path.display()),
        format!("ssl_key_file = '{}'", key_path.display()),
    ])
    .with_app();

    let env = Env::new();
    let ca_file = env.write("ca.pem", &ca);
    let other_file = env.write("other-ca.pem", &other_ca);
    let same_name_file = env.write("same-name-ca.pem", &same_name_ca);
    let p = pg.port;
    let base = |host: &str, rest: &str| {
        format!("{{host: {host}, port: {p}, user: app, dbname: appdb, password_env: APP_PW{rest}}}")
    };
    let checks = format!(
        "  - id: require\n    postgres: {}\n\
         \x20 - id: full\n    postgres: {}\n\
         \x20 - id: full-by-ip\n    postgres: {}\n\
         \x20 - id: ca-by-ip\n    postgres: {}\n\
         \x20 - id: wrong-ca\n    postgres: {}\n\
         \x20 - id: same-name-ca\n    postgres: {}\n\
         \x20 - id: no-root\n    postgres: {}\n\
         \x20 - id: plain-require\n    postgres: {{host: 127.0.0.1, port: {}, user: app, dbname: appdb, password_env: APP_PW, sslmode: require}}\n\
         \x20 - id: plain-prefer\n    postgres: {{host: 127.0.0.1, port: {}, user: app, dbname: appdb, password_env: APP_PW}}\n",
        base("127.0.0.1", ", sslmode: require"),
        base(
            "localhost",
            &format!(", sslmode: verify-full, sslrootcert: {}", ca_file.display())
        ),
        base(
            "127.0.0.1",
            &format!(", sslmode: verify-full, sslrootcert: {}", ca_file.display())
        ),
        base(
            "127.0.0.1",
            &format!(", sslmode: verify-ca, sslrootcert: {}", ca_file.display())
        ),
        base(
            "localhost",
            &format!(
                ", sslmode: verify-full, sslrootcert: {}",
                other_file.display()
            )
        ),
        base(
            "localhost",
            &format!(
                ", sslmode: verify-full, sslrootcert: {}",
                same_name_file.display()
            )
        ),
        base("localhost", ", sslmode: verify-full"),
        plain.port,
        plain.port,
    );
    let (doc, _) = run(&env, &checks, &[("APP_PW", APP_PASSWORD)]);
    for id in ["require", "full", "ca-by-ip"] {
        let c = check(&doc, id);
        assert_eq!(c["status"], "pass", "{id}: {c:#}");
        assert!(detail(c).contains("encrypted (TLSv1."), "{id}: {c:#}");
    }
    let c = check(&doc, "full-by-ip");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert!(
        msg(c).starts_with(&format!(
            "127.0.0.1:{p}: TLS: certificate not valid for name \"127.0.0.1\""
        )),
        "{c:#}"
    );
    let c = check(&doc, "wrong-ca");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(
        msg(c),
        format!(
            "localhost:{p}: TLS: server certificate is not signed by a trusted root (sslrootcert)"
        )
    );
    let c = check(&doc, "no-root");
    assert_eq!(c["status"], "unknown", "{c:#}");
    assert!(
        msg(c).starts_with("sslmode verify-full needs a root certificate"),
        "{c:#}"
    );
    let c = check(&doc, "plain-require");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(
        msg(c),
        format!(
            "127.0.0.1:{}: the server does not support TLS, expected sslmode require",
            plain.port
        )
    );
    let c = check(&doc, "plain-prefer");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(detail(c).contains("not encrypted"), "{c:#}");
}

#[test]
fn postgres_and_redis_load_errors_name_the_field() {
    let env = Env::new();
    for (yaml, want) in [
        (
            "postgres: {url: \"postgres://h/db\", host: x}",
            "`url` already names the server; drop `host` or drop `url`",
        ),
        ("postgres: {sslmode: sometimes}", "sometimes"),
        (
            "postgres: {url: \"postgres://h/db?sslmode=sometimes\"}",
            "invalid sslmode `sometimes`",
        ),
        ("postgres: {connections: {wran: 1}}", "did you mean `warn`"),
        (
            "postgres: {long_queries: {older_than: 5 minutes}}",
            "expected a duration like",
        ),
        (
            "postgres: {query: \"UPDATE users SET x = 1\"}",
            "`query` starts with UPDATE",
        ),
        (
            "postgres: {value: {warn: 1}}",
            "`value` holds the result of `query`; add a `query`",
        ),
        (
            "postgres: {password_env: A, password_file: b}",
            "set only one of `password_env` or `password_file`",
        ),
        ("postgres: {replication: {role: leader}}", "leader"),
        (
            "redis: {url: \"redis://h\", ca_file: ca.pem}",
            "`ca_file` is for TLS: use a rediss:// url",
        ),
        (
            "redis: {url: \"rediss://bad_host!:6380\"}",
            "`bad_host!` is not a host name or IP address",
        ),
        ("redis: {url: \"redis://h\", ca_fil: ca.pem}", "ca_file"),
        (
            "redis: {url: \"redis://h:port\"}",
            "port `port` is not a number",
        ),
        ("redis: {used_memory: {warn: 180%}}", "between 0% and 100%"),
        ("redis: {role: leader}", "leader"),
        ("redis: {pong: true}", "unknown"),
    ] {
        env.runbook(
            "bad.yaml",
            &format!("version: 1\ntitle: bad\nchecks:\n  - id: x\n    {yaml}\n"),
        );
        let r = env.run(&["validate", "runbooks/bad.yaml"]);
        assert_eq!(r.code, 3, "{yaml}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{yaml}: {}", r.stderr);
        assert!(r.stderr.contains("bad.yaml:"), "{yaml}: {}", r.stderr);
    }
}

#[test]
fn redis_ping_memory_clients_role_keys() {
    let rs = RedisServer::start(&["--requirepass", REDIS_PASSWORD, "--maxmemory", "2mb"]);
    for k in ["a", "b", "c"] {
        rs.cli(Some(REDIS_PASSWORD), &["SET", k, "1"]);
    }
    let env = Env::new();
    let url = rs.url();
    let pwfile = env.write("secrets/redis", &format!("{REDIS_PASSWORD}\n"));
    let checks = format!(
        "  - id: ping\n    redis: {{url: \"{url}\", password_env: RPW, role: master}}\n\
         \x20 - id: memory\n    redis: {{url: \"{url}\", password_file: {pw}, used_memory: {{warn: 10%, fail: 99%}}}}\n\
         \x20 - id: keys\n    redis: {{url: \"{url}\", password_env: RPW, key_count: {{fail: \"< 5\"}}}}\n\
         \x20 - id: clients\n    redis: {{url: \"{url}\", password_env: RPW, connected_clients: {{warn: 1}}}}\n\
         \x20 - id: db1\n    redis: {{url: \"{url}/1\", password_env: RPW, key_count: true}}\n",
        pw = pwfile.display()
    );
    let (doc, r) = run(&env, &checks, &[("RPW", REDIS_PASSWORD)]);
    assert_eq!(r.code, 2, "{}", r.stdout);

    let c = check(&doc, "ping");
    assert_eq!(c["kind"], "redis");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(
        c["value"].as_str().unwrap().starts_with("PONG ")
            && c["value"].as_str().unwrap().ends_with("(master)"),
        "{c:#}"
    );
    assert_eq!(c["unit"], "ms");
    for (name, u) in [
        ("ping", "ms"),
        ("used_memory_pct", "%"),
        ("used_memory", "B"),
        ("connected_clients", "count"),
    ] {
        assert_eq!(unit(c, name), u, "{name}: {c:#}");
    }
    assert!(c["metrics"].get("key_count").is_none(), "{c:#}");
    assert!(detail(c).contains("of maxmemory 2.1MB"), "{c:#}");

    // An empty Redis 7 uses about 1MB: 2mb maxmemory puts it near half.
    let c = check(&doc, "memory");
    assert_eq!(c["status"], "warn", "{c:#}");
    assert_eq!(c["unit"], "%");
    let pct = metric(c, "used_memory_pct");
    assert!((10.0..99.0).contains(&pct), "{c:#}");
    assert!(
        regex::Regex::new(r"^used_memory_pct \d+(\.\d)?% ≥ warn 10%$")
            .unwrap()
            .is_match(msg(c)),
        "{c:#}"
    );
    assert!(
        (metric(c, "used_memory") * 100.0 / 2_097_152.0 - pct).abs() < 0.01,
        "{c:#}"
    );

    let c = check(&doc, "keys");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(c["value"], "3 keys");
    assert_eq!(msg(c), "key_count 3 < fail 5");

    let c = check(&doc, "clients");
    assert_eq!(c["status"], "warn", "{c:#}");
    assert!(metric(c, "connected_clients") >= 1.0);
    assert!(msg(c).starts_with("connected_clients "), "{c:#}");

    let c = check(&doc, "db1");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(metric(c, "key_count"), 0.0);
}

#[test]
fn redis_authentication_and_secrets() {
    let rs = RedisServer::start(&["--requirepass", REDIS_PASSWORD]);
    let open = RedisServer::start(&[]);
    let env = Env::new();
    let port = rs.port;
    let checks = format!(
        "  - id: wrong\n    redis: {{url: \"redis://127.0.0.1:{port}\", password_env: WRONG}}\n\
         \x20 - id: missing\n    redis: {{url: \"redis://127.0.0.1:{port}\"}}\n\
         \x20 - id: in-url\n    redis: {{url: \"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0\"}}\n\
         \x20 - id: acl-user\n    redis: {{url: \"redis://127.0.0.1:{port}\", username: default, password_env: RPW}}\n\
         \x20 - id: not-needed\n    redis: {{url: \"{}\", password_env: RPW}}\n",
        open.url()
    );
    let (doc, r) = run(
        &env,
        &checks,
        &[("RPW", REDIS_PASSWORD), ("WRONG", WRONG_PASSWORD)],
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    let c = check(&doc, "wrong");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(
        msg(c),
        format!(
            "127.0.0.1:{port}: authentication failed (WRONGPASS, password from password_env WRONG)"
        )
    );
    let c = check(&doc, "missing");
    assert_eq!(c["status"], "unknown", "{c:#}");
    assert_eq!(
        msg(c),
        format!(
            "127.0.0.1:{port}: the server requires a password and none was given \
             (set password_env or password_file)"
        )
    );
    for id in ["in-url", "acl-user"] {
        assert_eq!(check(&doc, id)["status"], "pass", "{id}: {doc:#}");
    }
    let c = check(&doc, "not-needed");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(
        detail(c).contains("the server requires none (AUTH ignored)"),
        "{c:#}"
    );
}

#[test]
fn redis_replica_role_and_link() {
    let master = RedisServer::start(&["--requirepass", REDIS_PASSWORD]);
    let port = master.port.to_string();
    let replica = RedisServer::start(&[
        "--requirepass",
        REDIS_PASSWORD,
        "--masterauth",
        REDIS_PASSWORD,
        "--replicaof",
        "127.0.0.1",
        &port,
    ]);
    let until = Instant::now() + Duration::from_secs(30);
    while !replica
        .cli(Some(REDIS_PASSWORD), &["INFO", "replication"])
        .contains("master_link_status:up")
    {
        assert!(Instant::now() < until, "replica never linked");
        std::thread::sleep(Duration::from_millis(50));
    }
    let env = Env::new();
    let checks = format!(
        "  - id: replica\n    redis: {{url: \"{r}\", password_env: RPW, role: replica}}\n\
         \x20 - id: wrong-role\n    redis: {{url: \"{r}\", password_env: RPW, role: master}}\n\
         \x20 - id: master\n    redis: {{url: \"{m}\", password_env: RPW, role: primary}}\n",
        r = replica.url(),
        m = master.url()
    );
    let (doc, _) = run(&env, &checks, &[("RPW", REDIS_PASSWORD)]);
    let c = check(&doc, "replica");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(c["value"].as_str().unwrap().ends_with("(slave)"), "{c:#}");
    assert!(
        detail(c).contains(&format!("replica of 127.0.0.1:{port}, link up")),
        "{c:#}"
    );
    let c = check(&doc, "wrong-role");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(msg(c), "role slave, expected master");
    assert_eq!(check(&doc, "master")["status"], "pass");

    // The master goes away: the replica's link is down, which fails.
    drop(master);
    let until = Instant::now() + Duration::from_secs(30);
    while !replica
        .cli(Some(REDIS_PASSWORD), &["INFO", "replication"])
        .contains("master_link_status:down")
    {
        assert!(Instant::now() < until, "link never went down");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (doc, _) = run(&env, &checks, &[("RPW", REDIS_PASSWORD)]);
    let c = check(&doc, "replica");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(
        msg(c),
        format!("replica's link to its master 127.0.0.1:{port} is down, expected up")
    );
}

#[test]
fn redis_refused_timeout_and_no_maxmemory() {
    let rs = RedisServer::start(&["--enable-debug-command", "yes"]);
    let env = Env::new();
    let closed = crate::common::daemon::free_port();
    // No maxmemory: memory is held against the host's memory, and the detail says so.
    let checks = format!(
        "  - id: refused\n    redis: {{url: \"redis://127.0.0.1:{closed}\"}}\n\
         \x20 - id: sysmem\n    redis: {{url: \"{}\", used_memory: {{fail: 99%}}}}\n",
        rs.url()
    );
    let (doc, _) = run(&env, &checks, &[]);
    let c = check(&doc, "refused");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(msg(c), format!("127.0.0.1:{closed}: connection refused"));
    let c = check(&doc, "sysmem");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(
        c["value"].as_str().unwrap().split_once(" of ").unwrap().1,
        "system memory (no maxmemory set)"
    );

    // DEBUG SLEEP blocks the real server: the check gives up at its timeout.
    let mut sleeper = std::process::Command::new("redis-cli")
        .args(["-p", &rs.port.to_string(), "DEBUG", "SLEEP", "5"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let checks = format!(
        "  - id: blocked\n    timeout: 1s\n    redis: {{url: \"{}\"}}\n",
        rs.url()
    );
    env.runbook(
        "t.yaml",
        &format!("version: 1\ntitle: databases\nchecks:\n{checks}"),
    );
    let r = env.run(&["run", "t", "-f", "json"]);
    assert!(r.elapsed < Duration::from_millis(4500), "{:?}", r.elapsed);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let c = check(&doc, "blocked");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(c["value"], "timeout");
    assert_eq!(
        msg(c),
        format!(
            "127.0.0.1:{}: timed out after 1s while waiting for PONG",
            rs.port
        )
    );
    let _ = sleeper.wait();
}

#[test]
fn redis_tls_ca_file_and_host_name() {
    // The server's certificate names `localhost`, signed by the test CA.
    let (ca, cert, key) = test_ca("opsrun redis CA");
    let (other_ca, _, _) = test_ca("another CA");
    let rs = RedisServer::start_tls(&cert, &key, &ca);
    let plain = RedisServer::start(&[]);
    let env = Env::new();
    // ca_file is relative to the runbook's directory.
    env.write("runbooks/certs/ca.pem", &ca);
    env.write("runbooks/certs/other.pem", &other_ca);
    let p = rs.port;
    let checks = format!(
        "  - id: trusted\n    redis: {{url: \"rediss://localhost:{p}/2\", ca_file: certs/ca.pem, key_count: true}}\n\
         \x20 - id: system\n    redis: {{url: \"rediss://localhost:{p}\"}}\n\
         \x20 - id: other-ca\n    redis: {{url: \"rediss://localhost:{p}\", ca_file: certs/other.pem}}\n\
         \x20 - id: wrong-name\n    redis: {{url: \"rediss://127.0.0.1:{p}\", ca_file: certs/ca.pem}}\n\
         \x20 - id: plain-port\n    timeout: 2s\n    redis: {{url: \"rediss://localhost:{}\", ca_file: certs/ca.pem}}\n\
         \x20 - id: no-ca\n    redis: {{url: \"rediss://localhost:{p}\", ca_file: certs/missing.pem}}\n\
         \x20 - id: tls-port-plain\n    timeout: 2s\n    redis: {{url: \"redis://localhost:{p}\"}}\n",
        plain.port
    );
    let (doc, r) = run(&env, &checks, &[]);
    assert_eq!(r.code, 2, "{}", r.stdout);

    let c = check(&doc, "trusted");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(c["value"], "0 keys", "{c:#}");
    assert_eq!(metric(c, "key_count"), 0.0);
    assert!(
        detail(c).contains("trust: ca_file ") && detail(c).contains("certs/ca.pem (1)"),
        "{c:#}"
    );

    let c = check(&doc, "system");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(
        msg(c),
        format!(
            "localhost:{p}: the server's certificate is not signed by a CA the system trusts \
             (set ca_file for a private CA)"
        )
    );
    assert_eq!(c["reason"]["code"], "redis.tls.untrusted", "{c:#}");

    let c = check(&doc, "other-ca");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(
        msg(c),
        format!(
            "localhost:{p}: the server's certificate is not signed by the CA in ca_file certs/other.pem"
        )
    );

    let c = check(&doc, "wrong-name");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(c["reason"]["code"], "redis.tls.name", "{c:#}");
    assert_eq!(
        msg(c),
        format!(
            "127.0.0.1:{p}: the server's certificate is not valid for 127.0.0.1 (it names localhost)"
        )
    );

    // A TLS url against a plain port: Redis answers the ClientHello only
    // if its random bytes hold a newline, else it waits for one. Either
    // way the check ends (at its deadline at most) and says why.
    let c = check(&doc, "plain-port");
    assert_eq!(c["status"], "fail", "{c:#}");
    let m = msg(c);
    assert!(
        m == format!(
            "localhost:{}: the server did not answer in TLS (is this a plain, non-TLS port?)",
            plain.port
        ) || m
            == format!(
                "localhost:{}: timed out after 2s while negotiating TLS \
                 (no TLS answer: is this a plain, non-TLS port?)",
                plain.port
            ),
        "{c:#}"
    );

    let c = check(&doc, "no-ca");
    assert_eq!(c["status"], "unknown", "{c:#}");
    assert!(
        msg(c).starts_with("cannot read ca_file ")
            && msg(c).ends_with("certs/missing.pem: No such file or directory"),
        "{c:#}"
    );

    // A plain url against the TLS port: a clear failure, not a hang.
    let c = check(&doc, "tls-port-plain");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(
        msg(c),
        format!(
            "localhost:{p}: the server closed the connection while waiting for PONG \
             (a TLS port? then use rediss://)"
        )
    );
}

#[test]
fn docs_examples_validate() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/databases.md")).unwrap();
    let env = Env::new();
    let mut n = 0;
    for block in text.split("```yaml\n").skip(1) {
        let yaml = block.split("```").next().unwrap();
        env.runbook("doc.yaml", &format!("version: 1\ntitle: doc\n{yaml}"));
        let r = env.run(&["validate", "runbooks/doc.yaml"]);
        assert_eq!(r.code, 0, "{yaml}\n{}", r.stderr);
        n += 1;
    }
    assert_eq!(n, 2, "docs/databases.md should hold two YAML examples");
}
