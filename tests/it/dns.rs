//! `dns` against a real DNS server: Debian's `dnsmasq` on 127.0.0.1 on a
//! free port, serving only the records the test gives it (no upstream, no
//! /etc/hosts), and a UDP socket that never answers.

use std::time::{Duration, Instant};

use crate::common::daemon::{Daemon, free_port};
use crate::common::{Env, check};

struct Dnsmasq {
    port: u16,
    _dir: tempfile::TempDir,
    _daemon: Daemon,
}

impl Dnsmasq {
    fn start() -> Dnsmasq {
        let bin = std::path::Path::new("/usr/sbin/dnsmasq");
        assert!(
            bin.exists(),
            "dnsmasq not found: install Debian's `dnsmasq-base` package (.ci/deps does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let argv: Vec<String> = [
            "/usr/sbin/dnsmasq",
            "--no-daemon",
            "--conf-file=/dev/null",
            &format!("--port={port}"),
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--pid-file=",
            "--log-facility=-",
            "--user=root",
            // x.test is ours: any name in it that is not below is NXDOMAIN.
            "--local=/x.test/",
            "--host-record=www.x.test,127.0.0.10,fd00::10",
            "--host-record=multi.x.test,10.0.0.1",
            "--host-record=multi.x.test,10.0.0.2",
            "--cname=alias.x.test,www.x.test",
            "--mx-host=x.test,mail.x.test,10",
            "--txt-record=x.test,v=spf1 -all",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let log = dir.path().join("dnsmasq.log");
        let mut daemon = Daemon::spawn(&[], &argv, &log, "TERM", dir.path());
        // dnsmasq also answers on TCP: a connect means it is serving.
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if !daemon.running() || Instant::now() > until {
                panic!("dnsmasq did not start:\n{}", daemon.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Dnsmasq {
            port,
            _dir: dir,
            _daemon: daemon,
        }
    }
}

#[test]
fn records_nxdomain_and_expectations() {
    let d = Dnsmasq::start();
    let s = format!("127.0.0.1:{}", d.port);
    let env = Env::new();
    let (doc, run) = env.run_checks(&format!(
        r#"
  - id: a
    dns: {{name: www.x.test, server: "{s}", expect: [127.0.0.10], latency: {{warn: 1h}}}}
  - id: aaaa
    dns: {{name: www.x.test, type: AAAA, server: "{s}", expect: ["fd00:0::10"]}}
  - id: cname
    dns: {{name: alias.x.test, type: CNAME, server: "{s}", expect: [WWW.x.test.]}}
  - id: mx
    dns: {{name: x.test, type: MX, server: "{s}", expect: [mail.x.test]}}
  - id: txt
    dns: {{name: x.test, type: TXT, server: "{s}", expect: ["v=spf1 -all"]}}
  - id: multi
    dns: {{name: multi.x.test, server: "{s}", expect: [10.0.0.2]}}
  - id: nx
    dns: {{name: nope.x.test, server: "{s}"}}
  - id: wrong
    dns: {{name: multi.x.test, server: "{s}", expect: [10.0.0.1, 10.0.0.9]}}
  - id: notype
    dns: {{name: www.x.test, type: MX, server: "{s}"}}
  - id: refused
    dns: {{name: www.elsewhere.example, server: "{s}"}}
"#
    ));
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    for id in ["a", "aaaa", "cname", "mx", "txt", "multi"] {
        assert_eq!(check(&doc, id)["status"], "pass", "{id}: {doc:#}");
        assert_eq!(check(&doc, id)["reason"], serde_json::Value::Null);
    }
    let a = check(&doc, "a");
    assert!(
        a["value"].as_str().unwrap().starts_with("127.0.0.10 "),
        "{a}"
    );
    assert_eq!(a["unit"], "ms");
    assert_eq!(a["metrics"]["answers"]["value"], 1.0);
    assert!(
        check(&doc, "aaaa")["value"]
            .as_str()
            .unwrap()
            .starts_with("fd00::10 ")
    );
    assert!(
        check(&doc, "cname")["value"]
            .as_str()
            .unwrap()
            .starts_with("www.x.test ")
    );
    assert!(
        check(&doc, "mx")["value"]
            .as_str()
            .unwrap()
            .starts_with("10 mail.x.test ")
    );
    assert!(
        check(&doc, "txt")["value"]
            .as_str()
            .unwrap()
            .starts_with("v=spf1 -all ")
    );
    assert_eq!(check(&doc, "multi")["metrics"]["answers"]["value"], 2.0);

    let nx = check(&doc, "nx");
    assert_eq!(nx["status"], "fail");
    assert_eq!(nx["value"], "NXDOMAIN");
    assert_eq!(
        nx["message"],
        format!("nope.x.test: no such name (NXDOMAIN) at {s}")
    );
    assert_eq!(nx["reason"]["code"], "dns.nxdomain");
    assert_eq!(nx["reason"]["params"]["name"], "nope.x.test");
    assert_eq!(nx["reason"]["params"]["type"], "A");
    assert_eq!(nx["reason"]["params"]["server"], s);

    let wrong = check(&doc, "wrong");
    assert_eq!(wrong["status"], "fail");
    assert_eq!(
        wrong["message"],
        "A multi.x.test: expected 10.0.0.9 among the answers, got 10.0.0.1, 10.0.0.2"
    );
    assert_eq!(wrong["reason"]["code"], "dns.expect");
    assert_eq!(
        wrong["reason"]["params"]["missing"],
        serde_json::json!(["10.0.0.9"])
    );

    let notype = check(&doc, "notype");
    assert_eq!(notype["status"], "fail");
    assert_eq!(notype["reason"]["code"], "dns.no_records");
    assert_eq!(
        notype["message"],
        format!("www.x.test has no MX record at {s}")
    );

    // No upstream: dnsmasq refuses names outside its zones.
    let refused = check(&doc, "refused");
    assert_eq!(refused["status"], "fail");
    assert_eq!(refused["reason"]["code"], "dns.rcode");
    assert_eq!(refused["reason"]["params"]["rcode"], "REFUSED");
}

#[test]
fn latency_threshold_is_judged() {
    let d = Dnsmasq::start();
    let env = Env::new();
    let (doc, _) = env.run_checks(&format!(
        "  - id: slow\n    dns: {{name: www.x.test, server: \"127.0.0.1:{}\", latency: {{warn: 0ms}}}}\n",
        d.port
    ));
    let c = check(&doc, "slow");
    assert_eq!(c["status"], "warn", "{c}");
    assert_eq!(c["reason"]["code"], "threshold");
    assert_eq!(c["reason"]["params"]["level"], "warn");
    assert_eq!(c["reason"]["params"]["metric"], "latency");
    assert!(
        c["message"].as_str().unwrap().starts_with("latency "),
        "{c}"
    );
    assert!(
        c["message"].as_str().unwrap().ends_with(" ≥ warn 0ms"),
        "{c}"
    );
}

#[test]
fn a_server_that_never_answers_fails_at_the_deadline() {
    // Bound on UDP and TCP, never read, never accepted: queries go nowhere.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    let _tcp = std::net::TcpListener::bind(("127.0.0.1", port)).ok();
    let env = Env::new();
    let (doc, run) = env.run_checks(&format!(
        "  - id: silent\n    timeout: 1s\n    dns: {{name: www.x.test, server: \"127.0.0.1:{port}\"}}\n"
    ));
    assert_eq!(run.code, 2);
    let c = check(&doc, "silent");
    assert_eq!(c["status"], "fail");
    assert_eq!(c["value"], "timeout");
    assert_eq!(
        c["message"],
        format!("timed out after 1s resolving www.x.test at 127.0.0.1:{port}")
    );
    assert_eq!(c["reason"]["code"], "timeout");
    assert_eq!(c["reason"]["params"]["after"], 1000.0);
    drop(udp);
}

#[test]
fn bad_dns_checks_are_load_errors() {
    let env = Env::new();
    for (yaml, want) in [
        ("{name: x.test, type: SRV}", "unknown variant"),
        (
            "{name: x.test, server: resolver.example}",
            "invalid server `resolver.example`",
        ),
        (
            "{name: x.test, expect: [mail.x.test]}",
            "is not an IP address",
        ),
        ("{name: \"bad..name\"}", "invalid name"),
        ("{nmae: x.test}", "nmae"),
    ] {
        env.runbook(
            "t.yaml",
            &format!("version: 1\ntitle: t\nchecks:\n  - id: d\n    dns: {yaml}\n"),
        );
        let r = env.run(&["run", "t"]);
        assert_eq!(r.code, 3, "{yaml}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(want), "{yaml}: {}", r.stderr);
    }
}
