//! Secrets (SPEC §3, §9): one run that uses every way opsrun is handed a
//! secret — basic auth and bearer tokens from env and file, URL userinfo
//! and query tokens, PostgreSQL and Redis passwords against real servers,
//! right and wrong — and then scans everything opsrun wrote: every stdout
//! format (with `-v`), `--output` files, stderr with `OPSRUN_LOG=trace`,
//! the history database files byte for byte, and `opsrun history`/`report`
//! read back from it. No secret value may appear anywhere.
//!
//! Notifications are part of the same run (`--notify` on every run): the
//! SMTP password and the Slack webhook URL, whose path is the secret.

use std::path::Path;

use crate::common::http_server::Server;
use crate::common::postgres_server::{APP_PASSWORD, PgServer};
use crate::common::redis_server::RedisServer;
use crate::common::{Env, Run, check};
use crate::notify::{SMTP_PASSWORD, SMTP_USER, SmtpServer, WEBHOOK_PATH, Webhook};

/// The server's basic-auth password (user:hunter2) and bearer token.
const WEB_PASSWORD: &str = "hunter2";
const BEARER_TOKEN: &str = "tok-123456";
const WRONG_WEB_PASSWORD: &str = "wrong-Web-Pw-66120";
const URL_PASSWORD: &str = "url-Pass-93817";
const URL_TOKEN: &str = "qtok-55121-zz";
const REDIS_PASSWORD: &str = "redis-Secr3t-8812";
const WRONG_REDIS_PASSWORD: &str = "redis-Wrong-4410";
const WRONG_PG_PASSWORD: &str = "pg-Wrong-31337";

/// The secret token inside [`WEBHOOK_PATH`].
const WEBHOOK_TOKEN: &str = "XyZsecretTOKEN42";

const SECRETS: [&str; 12] = [
    WEB_PASSWORD,
    BEARER_TOKEN,
    WRONG_WEB_PASSWORD,
    URL_PASSWORD,
    URL_TOKEN,
    APP_PASSWORD,
    REDIS_PASSWORD,
    WRONG_REDIS_PASSWORD,
    WRONG_PG_PASSWORD,
    SMTP_PASSWORD,
    WEBHOOK_PATH,
    WEBHOOK_TOKEN,
];

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        if let Some(i) = text.find(s) {
            let from = text[..i].char_indices().rev().nth(80).map_or(0, |(j, _)| j);
            let to = (i + s.len() + 80).min(text.len());
            let to = (to..=text.len())
                .find(|j| text.is_char_boundary(*j))
                .unwrap_or(text.len());
            panic!("{what}: secret {s:?} leaked: …{}…", &text[from..to]);
        }
    }
}

fn run(env: &Env, args: &[&str], webhook: &str) -> Run {
    let mut c = env.cmd();
    c.env_remove("OPSRUN_CONFIG");
    for v in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGPASSFILE"] {
        c.env_remove(v);
    }
    let out = c
        .env("HOME", env.path())
        .env("OPSRUN_LOG", "trace")
        .env("WEB_PW", WEB_PASSWORD)
        .env("WRONG_WEB_PW", WRONG_WEB_PASSWORD)
        .env("PG_PW", APP_PASSWORD)
        .env("REDIS_PW", REDIS_PASSWORD)
        .env("OPSRUN_SMTP_PASSWORD", SMTP_PASSWORD)
        .env("OPSRUN_SLACK_WEBHOOK", webhook)
        .args(args)
        .output()
        .expect("run opsrun");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: Default::default(),
    }
}

fn file_text(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
}

#[test]
fn no_secret_appears_in_any_output_log_or_history() {
    let web = Server::start();
    let pg = PgServer::start().with_app();
    let redis = RedisServer::start(&["--requirepass", REDIS_PASSWORD]);
    let smtp = SmtpServer::start("none", true, None);
    let hook = Webhook::start(vec![]);
    let hook_url = hook.url();
    let env = Env::new();
    env.write("secrets/token", &format!("{BEARER_TOKEN}\n"));
    env.write("secrets/redis", &format!("{REDIS_PASSWORD}\n"));
    let url_creds = web
        .url("/status/500")
        .replace("http://", &format!("http://admin:{URL_PASSWORD}@"));
    let rport = redis.port;
    let pport = pg.port;
    env.runbook(
        "daily.yaml",
        &format!(
            r#"version: 1
title: secrets
system: secret-system
checks:
  - {{id: basic, http: {{url: "{auth}", basic_auth: {{username: user, password_env: WEB_PW}}}}}}
  - {{id: basic-wrong, hint: check the password, http: {{url: "{auth}", basic_auth: {{username: user, password_env: WRONG_WEB_PW}}}}}}
  - {{id: bearer, http: {{url: "{bearer}", bearer: {{token_file: ../secrets/token}}}}}}
  - {{id: url-creds, http: {{url: "{url_creds}?token={URL_TOKEN}&page=2"}}}}
  - {{id: url-in-output, command: {{shell: 'echo "GET {url_creds}?token={URL_TOKEN} failed" >&2; exit 1'}}}}
  - {{id: pg, postgres: {{host: 127.0.0.1, port: {pport}, user: app, dbname: appdb, password_env: PG_PW}}}}
  - {{id: pg-wrong, postgres: {{url: "postgres://app:{WRONG_PG_PASSWORD}@127.0.0.1:{pport}/appdb"}}}}
  - {{id: redis, redis: {{url: "redis://127.0.0.1:{rport}", password_file: ../secrets/redis}}}}
  - {{id: redis-env, redis: {{url: "redis://127.0.0.1:{rport}", password_env: REDIS_PW}}}}
  - {{id: redis-wrong, redis: {{url: "redis://:{WRONG_REDIS_PASSWORD}@127.0.0.1:{rport}"}}}}
notify:
  email:
    to: ops@example.com
    smtp: {{host: 127.0.0.1, port: {sport}, tls: none, username: {SMTP_USER}, password_env: OPSRUN_SMTP_PASSWORD}}
  slack: {{webhook_env: OPSRUN_SLACK_WEBHOOK}}
"#,
            sport = smtp.port,
            auth = web.url("/auth"),
            bearer = web.url("/bearer"),
        ),
    );

    // The checks did what they should: the right secrets were used.
    let r = run(&env, &["daily", "-f", "json", "--notify"], &hook_url);
    assert_clean("json stdout", &r.stdout);
    assert_clean("json stderr (trace log)", &r.stderr);
    assert!(
        r.stderr.contains("TRACE"),
        "trace logging is on: {}",
        r.stderr
    );
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for (id, status) in [
        ("basic", "pass"),
        ("basic-wrong", "fail"),
        ("bearer", "pass"),
        ("url-creds", "fail"),
        ("url-in-output", "fail"),
        ("pg", "pass"),
        ("pg-wrong", "fail"),
        ("redis", "pass"),
        ("redis-env", "pass"),
        ("redis-wrong", "fail"),
    ] {
        assert_eq!(
            check(&doc, id)["status"],
            status,
            "{id}: {}",
            check(&doc, id)
        );
    }
    // The redacted forms are there, so the scan is looking at the right text.
    let all = r.stdout.clone();
    assert!(all.contains("http://***@127.0.0.1"), "{all}");
    assert!(all.contains("token=***&page=2"), "{all}");
    // Both notifications went out, with the secrets they need.
    assert_eq!(smtp.mails().len(), 1, "{}", r.stderr);
    assert_eq!(smtp.mails()[0]["login"], SMTP_USER);
    assert_eq!(hook.requests().len(), 1, "{}", r.stderr);
    for m in smtp.mails() {
        assert_clean("the mail sent", &m.to_string());
    }

    // Every format on stdout, verbose, and --output files.
    let out_dir = env.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    for format in [
        "table",
        "json",
        "report",
        "checklist",
        "junit",
        "nagios",
        "markdown",
        "prometheus",
    ] {
        let file = out_dir.join(format!("out.{format}"));
        let spec = format!("{format}={}", file.display());
        let r = run(
            &env,
            &["daily", "-f", format, "-v", "--notify", "--output", &spec],
            &hook_url,
        );
        assert!(!r.stdout.is_empty(), "{format}: empty output");
        assert_clean(&format!("{format} stdout"), &r.stdout);
        assert_clean(&format!("{format} stderr"), &r.stderr);
        assert_clean(&format!("--output {format}"), &file_text(&file));
    }

    // Read back from history: listings, per-check trends, reports.
    for args in [
        &["history"][..],
        &["history", "--check", "pg-wrong"][..],
        &["history", "--check", "url-creds"][..],
        &["report", "daily"][..],
    ] {
        let r = run(&env, args, &hook_url);
        assert_clean(&format!("{args:?} stdout"), &r.stdout);
        assert_clean(&format!("{args:?} stderr"), &r.stderr);
    }

    // The history database, every byte of every file SQLite keeps.
    let mut stored = String::new();
    for f in ["history.db", "history.db-wal", "history.db-shm"] {
        stored.push_str(&file_text(&env.path().join(f)));
    }
    assert!(stored.contains("basic-wrong"), "history holds the runs");
    assert_clean("history database", &stored);
    // Every notification sent in all those runs.
    for m in smtp.mails() {
        assert_clean("a mail sent", &m.to_string());
    }
    for req in hook.requests() {
        assert_clean("a webhook payload", &req.body);
    }
}

/// A check that prints a secret before the check that reads it has run
/// (here forced with `--concurrency 1`) is still redacted in what is printed
/// and stored: the run redacts every result again once all have finished.
#[test]
fn a_secret_printed_before_it_is_read_is_still_redacted() {
    let web = Server::start();
    let env = Env::new();
    env.runbook(
        "t.yaml",
        &format!(
            "version: 1\nchecks:\n  - {{id: early, command: {{shell: 'echo \"denied for $WEB_PW\" >&2; exit 1'}}}}\n  - {{id: reader, timeout: 5s, http: {{url: \"{}\", basic_auth: {{username: user, password_env: WEB_PW}}}}}}\n",
            web.url("/slow/200")
        ),
    );
    let r = run(&env, &["run", "t", "-f", "json", "--concurrency", "1"], "");
    assert_clean("json", &r.stdout);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        check(&doc, "early")["message"],
        "exit 1, expected exit 0 — denied for ***"
    );
    let stored =
        file_text(&env.path().join("history.db")) + &file_text(&env.path().join("history.db-wal"));
    assert_clean("history database", &stored);
}
