//! The fleet story end to end: opsrun writes its textfile, a real
//! node_exporter (Debian `prometheus-node-exporter`, installed by
//! .ci/deps) serves it, and the scrape has our metrics and no textfile
//! error.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::common::Env;

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scrape(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn node_exporter_serves_the_textfile() {
    assert!(
        std::path::Path::new(NODE_EXPORTER).exists(),
        "{NODE_EXPORTER} missing: install Debian prometheus-node-exporter (.ci/deps does)"
    );
    let env = Env::new();
    let dir = env.path().join("textfile");
    std::fs::create_dir_all(&dir).unwrap();
    env.runbook(
        "daily.yaml",
        "version: 1\nchecks:\n  - id: good\n    command: {shell: 'echo 12', value: {warn: 50, unit: 件}}\n  - id: bad\n    command: {run: [\"false\"]}\n",
    );
    let r = env.run(&[
        "daily",
        "-q",
        "--output",
        &format!("prometheus={}", dir.join("opsrun.prom").display()),
    ]);
    assert_eq!(r.code, 2);

    let port = free_port();
    let _ne = Kill(
        std::process::Command::new(NODE_EXPORTER)
            .args([
                &format!("--web.listen-address=127.0.0.1:{port}"),
                "--collector.disable-defaults",
                "--collector.textfile",
                &format!("--collector.textfile.directory={}", dir.display()),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    let page = loop {
        if let Some(p) = scrape(port).filter(|p| p.contains("opsrun_")) {
            break p;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "node_exporter did not serve metrics"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(page.contains("node_textfile_scrape_error 0"), "{page}");
    assert!(
        page.contains(r#"opsrun_check_status{check="good",kind="command",runbook="daily"} 0"#),
        "{page}"
    );
    assert!(
        page.contains(r#"opsrun_check_status{check="bad",kind="command",runbook="daily"} 2"#),
        "{page}"
    );
    assert!(
        page.contains(r#"opsrun_check_value{check="good",runbook="daily",unit="count"} 12"#),
        "{page}"
    );
    assert!(
        page.contains("opsrun_run_last_run_timestamp_seconds{runbook=\"daily\"}"),
        "{page}"
    );
    // A failed run has no success time yet.
    assert!(
        !page.contains("opsrun_run_last_success_timestamp_seconds{runbook=\"daily\"}"),
        "{page}"
    );
}
