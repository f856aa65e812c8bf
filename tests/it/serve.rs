//! `opsrun serve` (SPEC §10.7): the real binary on a free 127.0.0.1 port
//! (`--listen 127.0.0.1:0`; the port is read from its first stderr line),
//! real HTTP requests over TCP, real runs of runbooks whose checks the
//! tests change between runs, `promtool check metrics` from Debian's
//! prometheus, real signals. Every wait is bounded (a hang guard, never a
//! speed assertion); a server still running when a test ends is killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::Env;

/// How long any one wait may take before the test fails instead of hanging.
const GUARD: Duration = Duration::from_secs(60);

/// A running `opsrun serve`.
struct Server {
    child: Option<Child>,
    addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `opsrun serve --listen 127.0.0.1:0 ARGS…` in `env` (a
    /// session of its own) and waits for the line that says where it
    /// listens.
    fn start(env: &Env, args: &[&str]) -> Server {
        Server::start_with(env, args, &[])
    }

    /// [`Server::start`] with environment variables.
    fn start_with(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Server {
        let mut child = env
            .session_cmd()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .envs(vars.iter().copied())
            .spawn()
            .expect("start opsrun serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut server = Server {
            child: Some(child),
            addr: String::new(),
            stderr,
        };
        let started = Instant::now();
        while !server.log().contains("listening on http://")
            && server.child.as_mut().unwrap().try_wait().unwrap().is_none()
            && started.elapsed() < GUARD
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        // The line, or the end of a server that did not start.
        std::thread::sleep(Duration::from_millis(20));
        let log = server.log();
        let addr = log
            .split("listening on http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no listening line:\n{log}"));
        server.addr = addr.to_owned();
        server
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (bounded by [`GUARD`]) until `done` holds.
    fn wait(&self, what: &str, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(
                started.elapsed() < GUARD,
                "waited {GUARD:?} for {what}; stderr:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `GET path`: the status code and the body.
    fn get(&self, path: &str) -> (u16, String) {
        request(
            &self.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: opsrun\r\nConnection: close\r\n\r\n"),
        )
    }

    /// Sends `signal` and waits (bounded) for the process to end: its
    /// exit code and everything it said on stderr.
    fn stop(&mut self, signal: i32) -> (Option<i32>, String) {
        let mut child = self.child.take().unwrap();
        crate::common::signal(&child, signal);
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("still running 10 s after signal {signal}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader thread sees the end of the pipe once the process is gone.
        let started = Instant::now();
        while !self.log().contains("finishing what is in flight")
            && started.elapsed() < Duration::from_secs(2)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        (status.code(), self.log())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sends a raw request, reads the whole answer (the server closes: the
/// request says `Connection: close`), returns the status and the body.
fn request(addr: &str, raw: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (code, body.to_owned())
}

/// A daily runbook whose one check fails once `flag` exists.
fn flag_runbook(env: &Env) -> std::path::PathBuf {
    let flag = env.path().join("flag");
    env.runbook(
        "daily.yaml",
        &format!(
            "version: 1\ntitle: 日次点検\nchecks:\n  - id: flag-absent\n    title: flag file\n    command: {{shell: 'test ! -e {}', exit: 0}}\n",
            flag.display()
        ),
    );
    flag
}

#[test]
fn healthz_flips_from_200_to_503_when_a_served_check_starts_failing() {
    let env = Env::new();
    let flag = flag_runbook(&env);
    let server = Server::start(&env, &["--interval", "1s"]);
    server.wait("a passing run", || server.get("/healthz").0 == 200);
    let (_, body) = server.get("/healthz");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["status"], "ok", "{doc:#}");
    assert_eq!(doc["runbooks"][0]["runbook"], "daily");
    assert_eq!(doc["runbooks"][0]["failing"], serde_json::json!([]));

    std::fs::write(&flag, "").unwrap();
    server.wait("a failing run", || server.get("/healthz").0 == 503);
    let (_, body) = server.get("/healthz");
    // The golden of the body (the time redacted).
    let golden = regex::Regex::new(r#""started_at": "[^"]+""#)
        .unwrap()
        .replace_all(&body, r#""started_at": "TIME""#)
        .into_owned();
    insta::assert_snapshot!("serve_healthz_fail", golden);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["status"], "fail", "{doc:#}");
    assert_eq!(doc["runbooks"][0]["status"], "fail");
    assert_eq!(doc["runbooks"][0]["failing"][0]["id"], "flag-absent");
    assert!(
        doc["runbooks"][0]["failing"][0]["message"]
            .as_str()
            .unwrap()
            .contains("exit 1"),
        "{doc:#}"
    );
    // And back.
    std::fs::remove_file(&flag).unwrap();
    server.wait("a passing run again", || server.get("/healthz").0 == 200);
    // The change was logged, once per change. The line may follow the
    // page's flip by a moment (the run stores its result, then logs).
    server.wait("the recovery logged", || {
        server.log().contains("daily: pass (was fail)")
    });
    let log = server.log();
    assert!(log.contains("daily: fail (was pass)"), "{log}");
    assert!(log.contains("daily: pass (was fail)"), "{log}");
}

/// Every served page from one server: /metrics passes promtool, the
/// latest run is the §5 JSON, /report the 日次運用レポート, and runs are
/// in history as any run is.
#[test]
fn pages_serve_the_latest_run_metrics_json_and_report() {
    let env = Env::new();
    let flag = flag_runbook(&env);
    std::fs::write(&flag, "").unwrap();
    let server = Server::start(&env, &["--interval", "1s"]);
    server.wait("two runs", || runs(&server) >= 2);

    let (code, metrics) = server.get("/metrics");
    assert_eq!(code, 200);
    // The golden: durations, times and the run counter (it may have
    // moved on) redacted.
    let mut golden = metrics.clone();
    for (re, with) in [
        (r"(?m)^(opsrun_check_duration_seconds\{[^}]*\}) .*$", "$1 D"),
        (
            r"(?m)^(opsrun_run_last_run_timestamp_seconds\{[^}]*\}) .*$",
            "$1 T",
        ),
        (r"(?m)^(opsrun_serve_runs_total\{[^}]*\}) .*$", "$1 N"),
        // A machine stalled past the 1 s interval skips a tick.
        (
            r"(?m)^(opsrun_serve_skipped_runs_total\{[^}]*\}) .*$",
            "$1 N",
        ),
    ] {
        golden = regex::Regex::new(re)
            .unwrap()
            .replace_all(&golden, with)
            .into_owned();
    }
    insta::assert_snapshot!("serve_metrics", golden);
    for line in [
        "opsrun_check_status{runbook=\"daily\",check=\"flag-absent\",kind=\"command\"} 2",
        "opsrun_run_status{runbook=\"daily\"} 2",
        "# TYPE opsrun_serve_skipped_runs_total counter",
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian `prometheus`, installed by .ci/deps)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{metrics}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let (code, body) = server.get("/api/v1/runs/latest");
    assert_eq!(code, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["runbook"], "daily");
    assert_eq!(doc["title"], "日次点検");
    assert_eq!(doc["status"], "fail");
    assert_eq!(doc["summary"]["fail"], 1);
    assert_eq!(doc["checks"][0]["id"], "flag-absent");
    assert_eq!(doc["checks"][0]["kind"], "command");

    let (code, report) = server.get("/report");
    assert_eq!(code, 200);
    assert!(report.starts_with("【日次運用レポート】"), "{report}");
    assert!(report.contains("flag file"), "{report}");
    assert_eq!(server.get("/report?format=text").1, report);
    // The same report as the self-contained page of `-f html`.
    let (code, page) = server.get("/report?format=html");
    assert_eq!(code, 200, "{page}");
    assert!(
        page.to_ascii_lowercase().starts_with("<!doctype html"),
        "{page}"
    );
    assert!(
        page.contains("日次運用レポート") && page.contains("flag file"),
        "{page}"
    );
    assert!(
        !page.contains("<script") && !page.contains("http://"),
        "{page}"
    );
    let (code, body) = server.get("/report?format=pdf");
    assert_eq!(code, 400);
    assert!(body.contains("unknown report format `pdf`"), "{body}");

    // Unknown pages and other methods.
    assert_eq!(server.get("/").0, 404);
    assert_eq!(server.get("/healthz/x").0, 404);
    let (code, body) = request(
        &server.addr,
        "POST /healthz HTTP/1.1\r\nHost: opsrun\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 405, "{body}");
    let (code, _) = request(
        &server.addr,
        "HEAD /healthz HTTP/1.1\r\nHost: opsrun\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 503);

    // Recorded as any run: `opsrun history` lists the served runs.
    let runs = env.run(&["history", "--runbook", "daily", "-f", "json"]);
    let hist: serde_json::Value = serde_json::from_str(&runs.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", runs.stdout, runs.stderr));
    let recorded = hist.as_array().unwrap();
    assert!(recorded.len() >= 2, "{hist:#}");
    assert!(
        recorded
            .iter()
            .all(|r| r["runbook"] == "daily" && r["status"] == "fail" && r["interrupted"] == false),
        "{hist:#}"
    );
}

/// The number in `opsrun_serve_runs_total{runbook="daily"}`.
fn runs(server: &Server) -> u64 {
    server
        .get("/metrics")
        .1
        .lines()
        .find_map(|l| l.strip_prefix("opsrun_serve_runs_total{runbook=\"daily\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `--notify` sends as `daily --notify` does, but only when the status
/// changes: a check that fails at run after run is one notification, its
/// recovery another (a real webhook receiver counts them).
#[test]
fn notify_sends_on_a_change_of_status_not_at_every_run() {
    let hook = crate::notify::Webhook::start(vec![]);
    let env = Env::new();
    let flag = env.path().join("flag");
    env.runbook(
        "daily.yaml",
        &format!(
            "version: 1\ntitle: 日次点検\nnotify:\n  on: [fail, recovered]\n  slack: {{webhook_env: OPSRUN_SLACK_WEBHOOK}}\nchecks:\n  - id: flag-absent\n    title: flag file\n    command: {{shell: 'test ! -e {}', exit: 0}}\n",
            flag.display()
        ),
    );
    let url = hook.url();
    let server = Server::start_with(
        &env,
        &["--interval", "1s", "--notify"],
        &[("OPSRUN_SLACK_WEBHOOK", url.as_str())],
    );
    server.wait("a passing run", || server.get("/healthz").0 == 200);
    std::fs::write(&flag, "").unwrap();
    server.wait("a failing run", || server.get("/healthz").0 == 503);
    let failing = runs(&server);
    server.wait("three more failing runs", || runs(&server) >= failing + 3);
    server.wait("the notification of the failure", || {
        !hook.requests().is_empty()
    });
    std::fs::remove_file(&flag).unwrap();
    server.wait("a passing run again", || server.get("/healthz").0 == 200);
    server.wait("the notification of the recovery", || {
        hook.requests().len() >= 2
    });
    let passing = runs(&server);
    server.wait("two more passing runs", || runs(&server) >= passing + 2);
    let reqs = hook.requests();
    let texts: Vec<String> = reqs
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            v["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(texts[0].starts_with("[opsrun][異常]"), "{}", texts[0]);
    assert!(texts[0].contains("【日次運用レポート】"), "{}", texts[0]);
    assert!(texts[1].starts_with("[opsrun][復旧]"), "{}", texts[1]);
}

/// Before the first run has finished there is nothing to serve: 503 from
/// /healthz (`starting`), /api/v1/runs/latest and /report; /metrics has
/// the counters only. The run waits for a file the test writes, so
/// "before" is certain.
#[test]
fn before_the_first_run_ends_the_pages_say_starting() {
    let env = Env::new();
    let go = env.path().join("go");
    env.runbook(
        "daily.yaml",
        &format!(
            "version: 1\nchecks:\n  - id: waits\n    timeout: 60s\n    command: {{shell: 'while [ ! -e {} ]; do sleep 0.05; done'}}\n",
            go.display()
        ),
    );
    let server = Server::start(&env, &[]);
    let (code, body) = server.get("/healthz");
    assert_eq!(code, 503, "{body}");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["status"], "starting", "{doc:#}");
    assert_eq!(doc["runbooks"][0]["status"], serde_json::Value::Null);
    assert_eq!(server.get("/api/v1/runs/latest").0, 503);
    assert_eq!(server.get("/report").0, 503);
    let (code, metrics) = server.get("/metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("opsrun_serve_runs_total{runbook=\"daily\"} 0"),
        "{metrics}"
    );
    assert!(!metrics.contains("opsrun_check_status"), "{metrics}");
    std::fs::write(&go, "").unwrap();
    server.wait("the first run", || server.get("/healthz").0 == 200);
}

/// SIGTERM while a run is in progress: the run is interrupted (its
/// command killed, no process left in the session), the server stops,
/// exit 143 — through the graceful path, not the watchdog's.
#[test]
fn sigterm_stops_serving_and_the_run_in_progress() {
    let env = Env::new();
    let started = env.path().join("started");
    env.runbook(
        "daily.yaml",
        &format!(
            "version: 1\nchecks:\n  - id: slow\n    timeout: 60s\n    command: {{shell: 'touch {}; sleep 57'}}\n",
            started.display()
        ),
    );
    let mut server = Server::start(&env, &[]);
    assert!(crate::common::wait_for_file(&started, GUARD));
    // A client in the middle of its request head does not hold the stop.
    let mut half = TcpStream::connect(&server.addr).unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    let sid = server.child.as_ref().unwrap().id();
    let (code, log) = server.stop(15);
    assert_eq!(code, Some(143), "{log}");
    assert!(log.contains("SIGTERM: no new connections or runs"), "{log}");
    assert!(!log.contains("without finishing"), "{log}");
    let left = crate::common::session_after(sid, Duration::from_secs(10));
    assert!(left.is_empty(), "left after SIGTERM: {left:?}");
    // The interrupted run is in history, as `daily`'s would be.
    let db = rusqlite::Connection::open(env.path().join("history.db")).unwrap();
    let interrupted: i64 = db
        .query_row(
            "SELECT count(*) FROM runs WHERE runbook = 'daily' AND interrupted = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(interrupted, 1);
}

/// SIGINT (Ctrl-C on a terminal) stops it the same way, exit 130.
#[test]
fn sigint_stops_serving_with_130() {
    let env = Env::new();
    flag_runbook(&env);
    let mut server = Server::start(&env, &["--interval", "1s"]);
    server.wait("a first run", || server.get("/healthz").0 == 200);
    let (code, log) = server.stop(2);
    assert_eq!(code, Some(130), "{log}");
    assert!(log.contains("SIGINT: no new connections or runs"), "{log}");
    assert!(!log.contains("without finishing"), "{log}");
}

/// A check slower than the interval: runs of the runbook never overlap
/// (each run's start and end, appended to a file by the check itself,
/// alternate), and the ticks that came during a run were skipped and
/// said so.
#[test]
fn runs_of_one_runbook_never_overlap() {
    let env = Env::new();
    let log = env.path().join("runs.log");
    env.runbook(
        "daily.yaml",
        &format!(
            "version: 1\nchecks:\n  - id: slow\n    timeout: 30s\n    command: {{shell: 'echo start >> {0}; sleep 1.5; echo end >> {0}'}}\n",
            log.display()
        ),
    );
    let mut server = Server::start(&env, &["--interval", "1s"]);
    let ends = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == "end")
            .count()
    };
    server.wait("three runs", || ends() >= 3);
    let (_, metrics) = server.get("/metrics");
    let (_, stderr) = server.stop(15);
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    for (i, l) in lines.iter().enumerate() {
        let want = if i % 2 == 0 { "start" } else { "end" };
        assert_eq!(l, want, "line {i} of {lines:?}: two runs overlapped");
    }
    assert!(stderr.contains("daily: run skipped"), "{stderr}");
    let skipped = metrics
        .lines()
        .find_map(|l| l.strip_prefix("opsrun_serve_skipped_runs_total{runbook=\"daily\"} "))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no skipped counter:\n{metrics}"));
    assert!(skipped >= 1, "{metrics}");
}

/// A client that sends half a request head and nothing more is dropped
/// (the head timeout), and while it hangs on, others are answered.
#[test]
fn a_slow_client_is_dropped_and_blocks_nobody() {
    let env = Env::new();
    flag_runbook(&env);
    let server = Server::start(&env, &[]);
    let mut slow = TcpStream::connect(&server.addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: opsrun\r\n")
        .unwrap();
    server.wait("an answer beside the slow client", || {
        server.get("/healthz").0 == 200
    });
    // The server closes the slow connection (EOF or a reset), well before
    // this read's own timeout.
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 256];
    match slow.read(&mut buf) {
        Ok(n) => assert_eq!(
            n,
            0,
            "answered a request it never finished: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) => assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "the slow client was not dropped: {e}"
        ),
    }
}

/// At most 64 connections are served at once: with 64 open that send
/// nothing, a 65th waits (in the kernel's backlog) until the head timeout
/// drops one of them, and is then answered. Nothing here measures speed:
/// the 65th answering early only fails the test while all 64 are
/// demonstrably still open.
#[test]
fn connections_past_the_cap_wait_and_are_then_answered() {
    let env = Env::new();
    flag_runbook(&env);
    let server = Server::start(&env, &[]);
    server.wait("a first run", || server.get("/healthz").0 == 200);
    let held: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    let mut extra = TcpStream::connect(&server.addr).unwrap();
    extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: opsrun\r\nConnection: close\r\n\r\n")
        .unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut buf = [0u8; 64];
    let early = extra.read(&mut buf);
    let all_open = held.iter().all(|c| {
        c.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        let open = matches!(
            (&*c).read(&mut b),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
        );
        c.set_nonblocking(false).unwrap();
        open
    });
    if let Ok(n) = early
        && n > 0
    {
        assert!(
            !all_open,
            "a 65th connection was answered while 64 were open: {:?}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    // Once the idle ones are dropped (the head timeout), it is answered.
    extra
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = buf[..early.unwrap_or(0)].to_vec();
    extra.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(held);
}

#[test]
fn a_bad_listen_address_is_one_error_line_and_exit_3() {
    let env = Env::new();
    flag_runbook(&env);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for (listen, says) in [
        ("nonsense", "expected HOST:PORT"),
        ("example.com:80", "expected HOST:PORT"),
        ("127.0.0.1:99999", "expected HOST:PORT"),
        (addr.as_str(), "in use"),
    ] {
        let r = env.run(&["serve", "--listen", listen]);
        assert_eq!(r.code, 3, "{listen}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{listen}: {}", r.stderr);
        assert!(
            r.stderr.starts_with(&format!("error: --listen {listen}: ")) && r.stderr.contains(says),
            "{listen}: {}",
            r.stderr
        );
    }
    // An interval below a second, and a runbook that is not there: exit 3
    // before anything listens.
    let r = env.run(&["serve", "--listen", "127.0.0.1:0", "--interval", "0s"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("at least 1s"), "{}", r.stderr);
    let r = env.run(&["serve", "--listen", "127.0.0.1:0", "--runbook", "nosuch"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.starts_with("error: no runbook `nosuch`"),
        "{}",
        r.stderr
    );
}
