//! `opsrun fleet report` against a real Prometheus (Debian `prometheus`,
//! temp storage, 1 s scrapes) scraping three real node_exporters, each
//! serving the textfile the real `opsrun` wrote for its host: web-01
//! passes, db-01 fails and warns, batch-01 last ran three days ago
//! (`--now`), and a fourth target, gone-01, has nothing listening. The
//! hosts are named by an `instance` label in the scrape config, as a
//! fleet names them. Every server runs under `common::daemon` (its
//! process group is stopped on drop, and if the test process dies).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::Env;
use crate::common::daemon::{Daemon, free_port};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// The most a test waits for a server or a scrape (never hangs).
const WAIT: Duration = Duration::from_secs(30);

/// `GET path` on 127.0.0.1:port: (status, body); `None` when nothing
/// answers yet.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// `query` percent-encoded for a URL's query string.
fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The samples of an instant query, once Prometheus answers it.
fn samples(port: u16, query: &str) -> Vec<serde_json::Value> {
    get(port, &format!("/api/v1/query?query={}", encode(query)))
        .filter(|(s, _)| *s == 200)
        .and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(&b).ok())
        .and_then(|v| v["data"]["result"].as_array().cloned())
        .unwrap_or_default()
}

/// Polls until `ready` holds, for at most [`WAIT`]; the daemons' logs
/// in the failure message.
fn wait_for(what: &str, daemons: &mut [&mut Daemon], mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        let logs: Vec<String> = daemons.iter().map(|d| d.log_text()).collect();
        assert!(
            daemons.iter_mut().all(|d| d.running()),
            "a server stopped while waiting for {what}:\n{}",
            logs.join("\n---\n")
        );
        assert!(
            started.elapsed() < WAIT,
            "no {what} within {WAIT:?}:\n{}",
            logs.join("\n---\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn node_exporter(dir: &Path, textfiles: &Path, name: &str) -> (Daemon, u16) {
    let port = free_port();
    let argv = [
        NODE_EXPORTER.to_owned(),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--collector.disable-defaults".into(),
        "--collector.textfile".into(),
        format!("--collector.textfile.directory={}", textfiles.display()),
    ];
    let log = dir.join(format!("{name}.log"));
    (Daemon::spawn(&[], &argv, &log, "TERM", dir), port)
}

/// A Prometheus scraping `targets` (address, instance name) every second
/// as job `node`, with its storage under `dir`.
fn prometheus(dir: &Path, targets: &[(String, &str)]) -> (Daemon, u16) {
    let mut config = String::from(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
    );
    if !targets.is_empty() {
        config.push_str("  - job_name: node\n    static_configs:\n");
        for (addr, name) in targets {
            config.push_str(&format!(
                "      - targets: ['{addr}']\n        labels: {{instance: '{name}'}}\n"
            ));
        }
    }
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, config).unwrap();
    let port = free_port();
    let argv = [
        PROMETHEUS.to_owned(),
        format!("--config.file={}", path.display()),
        format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    let mut d = Daemon::spawn(&[], &argv, &dir.join("prometheus.log"), "TERM", dir);
    wait_for("a ready Prometheus", &mut [&mut d], || {
        get(port, "/-/ready").is_some_and(|(s, _)| s == 200)
    });
    (d, port)
}

fn installed() {
    for bin in [PROMETHEUS, NODE_EXPORTER] {
        assert!(
            Path::new(bin).exists(),
            "{bin} missing: install Debian prometheus and prometheus-node-exporter (.ci/deps does)"
        );
    }
}

/// One host: its runbooks and its textfile directory.
fn host(env: &Env, name: &str, runbooks: &[(&str, &str)]) -> (PathBuf, PathBuf) {
    for (file, yaml) in runbooks {
        env.write(&format!("{name}/runbooks/{file}"), yaml);
    }
    let textfiles = env.path().join(name).join("textfile");
    std::fs::create_dir_all(&textfiles).unwrap();
    (env.path().join(name).join("runbooks"), textfiles)
}

const DAILY_OK: &str = "version: 1\ntitle: 日次点検\nchecks:\n  - id: disk\n    title: ディスク使用率\n    command: {shell: 'echo 42', value: {warn: 80, fail: 90, unit: '%'}}\n  - id: web\n    command: {run: ['true']}\n";
const HOURLY_OK: &str = "version: 1\ntitle: 毎時点検\nchecks:\n  - id: queue\n    command: {shell: 'echo 3', value: {warn: 100, unit: 件}}\n";
const DAILY_BAD: &str = "version: 1\ntitle: 日次点検\nchecks:\n  - id: disk\n    title: ディスク使用率\n    command: {shell: 'echo 95', value: {warn: 80, fail: 90, unit: '%'}}\n  - id: memory\n    command: {shell: 'echo 85', value: {warn: 80, fail: 90, unit: '%'}}\n  - id: web\n    command: {run: ['false']}\n";

/// The servers of the fleet and the report's view of them.
/// Fields drop in order: the servers stop before their directory goes.
struct Fleet {
    // Held for its drop (the server stops).
    _prometheus: Daemon,
    exporters: Vec<(Daemon, u16)>,
    port: u16,
    env: Env,
}

impl Fleet {
    fn start() -> Fleet {
        installed();
        let env = Env::new();
        let prom =
            |textfiles: &Path| format!("prometheus={}", textfiles.join("opsrun.prom").display());
        // web-01: two runbooks, every check passes.
        let (rb, tf) = host(
            &env,
            "web-01",
            &[("daily.yaml", DAILY_OK), ("hourly.yaml", HOURLY_OK)],
        );
        let r = env.run(&[
            "run",
            "daily",
            "hourly",
            "-C",
            rb.to_str().unwrap(),
            "-q",
            "--no-history",
            "--output",
            &prom(&tf),
        ]);
        assert_eq!(r.code, 0, "{r:?}");
        // db-01: a fail and a warn.
        let (rb, tf) = host(&env, "db-01", &[("daily.yaml", DAILY_BAD)]);
        let r = env.run(&[
            "run",
            "daily",
            "-C",
            rb.to_str().unwrap(),
            "-q",
            "--no-history",
            "--output",
            &prom(&tf),
        ]);
        assert_eq!(r.code, 2, "{r:?}");
        // batch-01: passes, but its last run was three days ago.
        let (rb, tf) = host(&env, "batch-01", &[("daily.yaml", DAILY_OK)]);
        let three_days_ago = (chrono::Local::now() - chrono::Duration::days(3))
            .fixed_offset()
            .to_rfc3339();
        let r = env.run(&[
            "run",
            "daily",
            "-C",
            rb.to_str().unwrap(),
            "-q",
            "--no-history",
            "--now",
            &three_days_ago,
            "--output",
            &prom(&tf),
        ]);
        assert_eq!(r.code, 0, "{r:?}");

        let mut exporters = Vec::new();
        for name in ["web-01", "db-01", "batch-01"] {
            exporters.push(node_exporter(
                env.path(),
                &env.path().join(name).join("textfile"),
                name,
            ));
        }
        let mut targets: Vec<(String, &str)> = exporters
            .iter()
            .zip(["web-01", "db-01", "batch-01"])
            .map(|((_, port), name)| (format!("127.0.0.1:{port}"), name))
            .collect();
        // Nothing listens there: its scrape fails (`up` 0).
        targets.push((format!("127.0.0.1:{}", free_port()), "gone-01"));
        let dir = env.path().join("prometheus");
        std::fs::create_dir_all(&dir).unwrap();
        let (mut prometheus, port) = prometheus(&dir, &targets);
        // Every host's runs scraped, and the missing one seen down.
        let mut all: Vec<&mut Daemon> = exporters.iter_mut().map(|(d, _)| d).collect();
        all.push(&mut prometheus);
        wait_for("the three hosts' series and gone-01 down", &mut all, || {
            samples(port, "opsrun_run_last_run_timestamp_seconds").len() == 4
                && samples(port, "up == 0").len() == 1
        });
        Fleet {
            _prometheus: prometheus,
            exporters,
            port,
            env,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn report(&self, args: &[&str]) -> crate::common::Run {
        let url = self.url();
        let mut all = vec!["fleet", "report", "--prometheus", url.as_str()];
        all.extend_from_slice(args);
        self.env.run(&all)
    }
}

/// Goldens: the Prometheus port and every time (the hosts ran at the
/// real clock's now) redacted.
fn redacted(text: &str) -> String {
    let rules = [
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", "[time]"),
        (r#""age_seconds": \d+"#, r#""age_seconds": "[age]""#),
        (r"】\d{4}-\d\d-\d\d \d\d:\d\d", "】[now]"),
        (r"## (.*) \d{4}-\d\d-\d\d \d\d:\d\d", "## $1 [now]"),
        (r"(\d{4}/)?(\d\d/\d\d )?\d\d:\d\d", "[time]"),
    ];
    let mut out = text.to_owned();
    for (re, with) in rules {
        out = regex::Regex::new(re)
            .unwrap()
            .replace_all(&out, with)
            .into_owned();
    }
    out
}

#[test]
fn fleet_report_from_a_real_prometheus() {
    let f = Fleet::start();

    // The text report: Japanese by default, whatever LANG says.
    let r = f.report(&[]);
    assert_eq!(r.code, 2, "a failing check and a stale host exit 2: {r:?}");
    assert!(r.stderr.is_empty(), "{r:?}");
    let out = &r.stdout;
    assert!(out.starts_with("【フリート運用レポート】"), "{out}");
    assert!(
        out.contains("- [異常] db-01 daily/disk (command) 95%"),
        "{out}"
    );
    assert!(out.contains("- [異常] db-01 daily/web (command)"), "{out}");
    assert!(
        out.contains("- [警告] db-01 daily/memory (command) 85%"),
        "{out}"
    );
    assert!(out.contains("- batch-01: 最終実行 "), "{out}");
    assert!(out.contains("（3日前）"), "{out}");
    assert!(out.contains("- gone-01 (job node)"), "{out}");
    assert!(!out.contains("web-01 daily/"), "web-01 passes: {out}");
    insta::assert_snapshot!("fleet_text", redacted(out));

    // --match narrows to the selector's series.
    let r = f.report(&["--match", r#"{instance=~"web-01|batch-01"}"#, "-f", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let hosts: Vec<&str> = doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["instance"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["batch-01", "web-01"], "{doc:#}");
    assert_eq!(r.code, 2, "batch-01 is stale: {r:?}");
    let r = f.report(&["--match", r#"{instance="web-01"}"#]);
    assert_eq!(r.code, 0, "web-01 alone passes: {r:?}");

    let r = f.report(&["-f", "json"]);
    assert_eq!(r.code, 2);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["status"], "fail");
    assert_eq!(doc["stale"][0]["instance"], "batch-01");
    assert_eq!(doc["down"][0]["instance"], "gone-01");
    assert_eq!(doc["problems"].as_array().unwrap().len(), 3, "{doc:#}");
    insta::assert_snapshot!("fleet_json", redacted(&r.stdout));

    let r = f.report(&["-f", "markdown"]);
    assert_eq!(r.code, 2);
    insta::assert_snapshot!("fleet_markdown", redacted(&r.stdout));

    // HTML: the page of the shared HTML pieces, drawn by Chromium.
    let r = f.report(&["-f", "html"]);
    assert_eq!(r.code, 2);
    let html = &r.stdout;
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(
        html.contains(">db-01</span></td><td>daily/disk</td><td>95%</td><td>command</td>"),
        "{html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("src="),
        "{html}"
    );
    insta::assert_snapshot!("fleet_html", redacted(&crate::html::golden_html(html)));
    crate::html::assert_renders("fleet", html);

    let r = f.report(&["--lang", "en"]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.starts_with("【Fleet report】"), "{}", r.stdout);
    assert!(
        r.stdout.contains("- [FAIL] db-01 daily/disk (command) 95%"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("3d ago"), "{}", r.stdout);

    // A longer stale limit: batch-01 is fresh, the fail still counts.
    let r = f.report(&["--stale", "4d", "-f", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["stale"], serde_json::json!([]), "{doc:#}");
    assert_eq!(r.code, 2);

    // A selector Prometheus cannot parse: its own error, one line, exit 3.
    let r = f.report(&["--match", "{job=node}"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    assert!(
        r.stderr
            .starts_with("error: Prometheus refused the query of --match {job=node}: ")
            && r.stderr.contains("bad_data, HTTP 400"),
        "{r:?}"
    );
    // Not a selector at all: said before asking.
    let r = f.report(&["--match", "job=\"node\""]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .contains("--match: expected a label selector in braces"),
        "{r:?}"
    );
    // A selector that matches nothing.
    let r = f.report(&["--match", r#"{job="nope"}"#]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .starts_with("error: no opsrun_* series in Prometheus at "),
        "{r:?}"
    );

    // A URL that is a server but not Prometheus (node_exporter's own).
    let ne = format!("http://127.0.0.1:{}", f.exporters[0].1);
    let r = f.env.run(&["fleet", "report", "--prometheus", &ne]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("is it the Prometheus server's URL?"),
        "{r:?}"
    );
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
}

#[test]
fn a_prometheus_without_opsrun_series() {
    installed();
    let env = Env::new();
    let dir = env.path().join("prometheus");
    std::fs::create_dir_all(&dir).unwrap();
    let (_prometheus, port) = prometheus(&dir, &[]);
    let r = env.run(&[
        "fleet",
        "report",
        "--prometheus",
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert_eq!(
        r.stderr,
        format!(
            "error: no opsrun_* series in Prometheus at http://127.0.0.1:{port}: is node_exporter's \
             textfile collector reading the file of `opsrun … --output prometheus=PATH`, and is it scraped?\n"
        )
    );
}

#[test]
fn an_unreachable_or_silent_prometheus() {
    let env = Env::new();
    // Nothing listens.
    let port = free_port();
    let r = env.run(&[
        "fleet",
        "report",
        "--prometheus",
        &format!("http://user:pw@127.0.0.1:{port}"),
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(
        r.stderr.starts_with(&format!(
            "error: cannot reach Prometheus at http://***@127.0.0.1:{port}: "
        )) && r.stderr.contains("Connection refused"),
        "{r:?}"
    );
    assert!(
        !r.stderr.contains("pw"),
        "the password is never shown: {r:?}"
    );
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");

    // A server that takes the connection and never answers: --timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let r = env.run(&[
        "fleet",
        "report",
        "--prometheus",
        &format!("http://127.0.0.1:{port}"),
        "--timeout",
        "1s",
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(
        r.stderr,
        format!(
            "error: Prometheus at http://127.0.0.1:{port} did not answer within 1s (--timeout)\n"
        )
    );
    drop(silent);

    // Not a URL Prometheus could have.
    let r = env.run(&["fleet", "report", "--prometheus", "prometheus:9090"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .starts_with("error: --prometheus: expected an http:// or https:// URL"),
        "{r:?}"
    );
    let r = env.run(&[
        "fleet",
        "report",
        "--prometheus",
        "http://x",
        "--timeout",
        "0s",
    ]);
    assert_eq!(r.code, 3, "{r:?}");
}
