//! A real HTTP/1.1 server on 127.0.0.1 for tests, with routes that answer
//! normally, slowly, with errors, behind basic auth, or never.
//!
//! Routes:
//! - `/ok` → 200 `{"status":"healthy","db":{"ok":true},"items":[1,2]}`
//! - `/status/NNN` → that status, body `status NNN`
//! - `/slow/MS` → 200 after MS milliseconds
//! - `/hang` → accepts, reads the request, never answers
//! - `/trickle` → headers, then one body byte per second forever
//! - `/big` → 200 with an endless body
//! - `/auth` → 200 with `Authorization: Basic dXNlcjpodW50ZXIy` (user:hunter2), else 401
//! - `/bearer` → 200 with `Authorization: Bearer tok-123456`, else 401
//! - `/text` → 200 `hello world`
//! - `/flaky/N` → 503 for the first N requests, then 200
//! - `/whenfile/ABS/PATH` → 200 `{"status":"healthy"}` once that file exists, else 503
//! - anything else → 404

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

pub struct Server {
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
}

impl Server {
    pub fn start() -> Server {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(conn) = conn else { continue };
                let h = h.clone();
                thread::spawn(move || handle(conn, h));
            }
        });
        Server { port, hits }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

fn respond(mut s: &TcpStream, code: u16, reason: &str, ctype: &str, body: &str) {
    let _ = write!(
        s,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.flush();
}

fn handle(stream: TcpStream, hits: Arc<AtomicUsize>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut auth = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line
            .strip_prefix("Authorization: ")
            .or_else(|| line.strip_prefix("authorization: "))
        {
            auth = v.trim().to_owned();
        }
    }
    let n = hits.fetch_add(1, Ordering::SeqCst) + 1;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    let s = &stream;
    match path.as_str() {
        "/ok" => respond(
            s,
            200,
            "OK",
            "application/json",
            r#"{"status":"healthy","db":{"ok":true},"items":[1,2]}"#,
        ),
        "/text" => respond(s, 200, "OK", "text/plain", "hello world"),
        "/hang" => thread::sleep(Duration::from_secs(3600)),
        "/trickle" => {
            let mut s = s;
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
            for _ in 0..3600 {
                if s.write_all(b"x").is_err() {
                    return;
                }
                thread::sleep(Duration::from_secs(1));
            }
        }
        "/big" => {
            let mut s = s;
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
            let chunk = vec![b'a'; 64 * 1024];
            // ~1 GiB at most; the client stops reading long before.
            for _ in 0..16384 {
                if s.write_all(&chunk).is_err() {
                    return;
                }
            }
        }
        "/auth" if auth == "Basic dXNlcjpodW50ZXIy" => {
            respond(s, 200, "OK", "text/plain", "welcome")
        }
        "/auth" => respond(s, 401, "Unauthorized", "text/plain", "who are you"),
        "/bearer" if auth == "Bearer tok-123456" => respond(s, 200, "OK", "text/plain", "welcome"),
        "/bearer" => respond(s, 401, "Unauthorized", "text/plain", "no token"),
        p if p.starts_with("/status/") => {
            let code: u16 = p[8..].parse().unwrap_or(500);
            respond(s, code, "Status", "text/plain", &format!("status {code}"));
        }
        // Healthy only once the file exists (a stub `systemctl restart` creates it).
        p if p.starts_with("/whenfile/") => {
            if std::path::Path::new(&p[9..]).exists() {
                respond(s, 200, "OK", "application/json", r#"{"status":"healthy"}"#);
            } else {
                respond(
                    s,
                    503,
                    "Service Unavailable",
                    "application/json",
                    r#"{"status":"down"}"#,
                );
            }
        }
        p if p.starts_with("/slow/") => {
            let ms: u64 = p[6..].parse().unwrap_or(1000);
            thread::sleep(Duration::from_millis(ms));
            respond(s, 200, "OK", "text/plain", "slow ok");
        }
        p if p.starts_with("/flaky/") => {
            let fails: usize = p[7..].parse().unwrap_or(1);
            if n <= fails {
                respond(s, 503, "Service Unavailable", "text/plain", "not yet");
            } else {
                respond(s, 200, "OK", "text/plain", "ready");
            }
        }
        _ => respond(s, 404, "Not Found", "text/plain", "no such route"),
    }
}
