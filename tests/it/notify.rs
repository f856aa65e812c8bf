//! Notifications (`--notify`): mail to a real SMTP server (Debian's
//! `python3-aiosmtpd`, started here on 127.0.0.1 — plain with AUTH,
//! STARTTLS and implicit TLS with a private CA), a sendmail program, and a
//! Slack-style webhook receiver written here. The mail's subject and body
//! are decoded with Python's `email` package and compared with the
//! Japanese text; no secret may appear in any output, log or history.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::daemon::{Daemon, free_port};
use crate::common::{Env, Run, hostname};

/// Debian's interpreter, where `python3-aiosmtpd` is installed (a
/// `python3` earlier on PATH, such as pyenv's, would not have it).
const PYTHON: &str = "/usr/bin/python3";
pub(crate) const SMTP_USER: &str = "opsrun-mailer";
pub(crate) const SMTP_PASSWORD: &str = "Smtp-Pw-7f3k-Sekret";
/// The secret part of a Slack webhook URL is its path.
pub(crate) const WEBHOOK_PATH: &str = "/services/T0001/B0002/XyZsecretTOKEN42";

/// An SMTP server (aiosmtpd) that writes each message it accepts to
/// `mailN.eml` with `mailN.json` (envelope, login, TLS, and the message
/// decoded by Python's `email` package).
const SMTP_SERVER: &str = r#"
import email, email.policy, email.utils, json, os, ssl, sys, time

def decode(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    return {
        "subject": str(msg["subject"]),
        "raw_subject": next((l[9:] for l in head.split("\r\n") if l.startswith("Subject: ")), None),
        "from": str(msg["from"]),
        "to": str(msg["to"]),
        "content_type": msg.get_content_type(),
        "charset": msg.get_content_charset(),
        "cte": str(msg.get("content-transfer-encoding")),
        "body": msg.get_body(preferencelist=("plain",)).get_content() if msg.is_multipart() else msg.get_content(),
        "html": msg.get_body(preferencelist=("html",)).get_content() if msg.is_multipart() else None,
        "parts": [p.get_content_type() for p in msg.iter_parts()] if msg.is_multipart() else [],
        "seven_bit": all(b < 128 for b in raw),
        "mime_version": msg.get("mime-version"),
        "message_id": msg.get("message-id"),
        "date": msg.get("date"),
        "date_parsed": email.utils.parsedate_to_datetime(msg["date"]).isoformat() if msg.get("date") else None,
    }

if sys.argv[1] == "--decode":
    print(json.dumps(decode(open(sys.argv[2], "rb").read())))
    sys.exit(0)

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, outdir, mode, user, pw, cert, key = sys.argv[1:8]

class Handler:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        base = os.path.join(outdir, "mail%d" % Handler.n)
        raw = envelope.original_content
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        meta = decode(raw)
        meta.update({
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": session.auth_data if isinstance(session.auth_data, str) else None,
            "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
        })
        with open(base + ".tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".tmp", base + ".json")
        return "250 2.0.0 queued as test%d" % Handler.n

def authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == pw.encode():
        return AuthResult(success=True, auth_data=user)
    return AuthResult(success=False, handled=False)

kw = {}
if user:
    kw.update(authenticator=authenticator, auth_required=True, auth_require_tls=(mode != "none"))
ctx = None
if mode != "none":
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
if mode == "starttls":
    kw.update(tls_context=ctx, require_starttls=True)
    c = Controller(Handler(), hostname="127.0.0.1", port=int(port), **kw)
elif mode == "implicit":
    # aiosmtpd only counts STARTTLS as TLS when deciding to offer AUTH;
    # this connection is TLS from the first byte.
    kw["auth_require_tls"] = False
    c = Controller(Handler(), hostname="127.0.0.1", port=int(port), ssl_context=ctx, server_hostname="127.0.0.1", **kw)
else:
    c = Controller(Handler(), hostname="127.0.0.1", port=int(port), **kw)
c.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;

pub(crate) struct SmtpServer {
    pub(crate) port: u16,
    dir: tempfile::TempDir,
    _daemon: Daemon,
}

impl SmtpServer {
    /// `mode`: none, starttls or implicit (the latter two need `cert`).
    pub(crate) fn start(mode: &str, login: bool, cert: Option<(&Path, &Path)>) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("smtp_server.py");
        std::fs::write(&script, SMTP_SERVER).unwrap();
        let port = free_port();
        let (c, k) = cert
            .map(|(c, k)| (c.display().to_string(), k.display().to_string()))
            .unwrap_or_default();
        let (u, p) = if login {
            (SMTP_USER, SMTP_PASSWORD)
        } else {
            ("", "")
        };
        let argv: Vec<String> = [
            PYTHON,
            &script.display().to_string(),
            &port.to_string(),
            &dir.path().display().to_string(),
            mode,
            u,
            p,
            &c,
            &k,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let log = dir.path().join("server.log");
        let mut daemon = Daemon::spawn(&[], &argv, &log, "TERM", dir.path());
        let until = Instant::now() + Duration::from_secs(30);
        while !daemon.log_text().contains("ready") {
            if !daemon.running() || Instant::now() > until {
                panic!("aiosmtpd did not start:\n{}", daemon.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer {
            port,
            dir,
            _daemon: daemon,
        }
    }

    /// The messages received so far, in order.
    pub(crate) fn mails(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for n in 1.. {
            let p = self.dir.path().join(format!("mail{n}.json"));
            let Ok(t) = std::fs::read_to_string(&p) else {
                break;
            };
            out.push(serde_json::from_str(&t).unwrap());
        }
        out
    }
}

/// `MIME-Version`, `Message-ID` and `Date` are on every message, whatever
/// the transport (lettre adds only `Date` to a plain body by itself).
fn assert_standard_headers(m: &Value) {
    assert_eq!(m["mime_version"], "1.0", "{m}");
    let id = m["message_id"].as_str().unwrap_or_default();
    assert!(
        id.starts_with("<opsrun.") && id.ends_with('>') && id.contains('@'),
        "Message-ID {id:?}"
    );
    assert!(m["date_parsed"].is_string(), "Date {:?}", m["date"]);
}

/// Decodes a message file with Python's `email` package.
pub(crate) fn decode_mail(path: &Path) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("decode.py");
    std::fs::write(&script, SMTP_SERVER).unwrap();
    let out = std::process::Command::new(PYTHON)
        .arg(&script)
        .arg("--decode")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A request the webhook receiver got.
#[derive(Clone, Debug)]
pub(crate) struct Req {
    pub(crate) path: String,
    pub(crate) content_type: String,
    pub(crate) body: String,
}

/// A scripted answer: status, extra header lines, body.
pub(crate) type Answer = (u16, &'static str, &'static str);

/// A webhook receiver on 127.0.0.1: answers each request with the next
/// scripted response (`(status, extra header lines, body)`), then `200 ok`.
pub(crate) struct Webhook {
    port: u16,
    reqs: Arc<Mutex<Vec<Req>>>,
}

impl Webhook {
    pub(crate) fn start(script: Vec<Answer>) -> Webhook {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let reqs = Arc::new(Mutex::new(Vec::new()));
        let r = reqs.clone();
        let script = Arc::new(Mutex::new(script));
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(conn) = conn else { continue };
                let r = r.clone();
                let script = script.clone();
                std::thread::spawn(move || handle_hook(conn, r, script));
            }
        });
        Webhook { port, reqs }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}{WEBHOOK_PATH}", self.port)
    }

    pub(crate) fn requests(&self) -> Vec<Req> {
        self.reqs.lock().unwrap().clone()
    }
}

fn handle_hook(stream: TcpStream, reqs: Arc<Mutex<Vec<Req>>>, script: Arc<Mutex<Vec<Answer>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let (mut len, mut ctype) = (0usize, String::new());
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if let Some(v) = lower.strip_prefix("content-type:") {
            ctype = v.trim().to_owned();
        }
    }
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    reqs.lock().unwrap().push(Req {
        path,
        content_type: ctype,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let (code, extra, text) = {
        let mut s = script.lock().unwrap();
        if s.is_empty() {
            (200, "", "ok")
        } else {
            s.remove(0)
        }
    };
    let mut s = &stream;
    let _ = write!(
        s,
        "HTTP/1.1 {code} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = s.flush();
}

/// A daily runbook with one warn (a command printing 85 against warn 80)
/// and one pass, and `notify` as its `notify:` block (may be empty).
fn daily(env: &Env, notify: &str) -> PathBuf {
    env.runbook(
        "daily.yaml",
        &format!(
            r#"version: 1
title: 日次点検
system: AI見積りシステム
checks:
  - id: disk-like
    title: ディスク使用率
    section: リソース使用状況
    command: {{shell: "echo 85", value: {{warn: 80, fail: 90, unit: "%"}}}}
  - id: runbook-present
    title: 設定ファイル
    section: サービス稼働状況
    file: {{path: daily.yaml}}
{notify}"#
        ),
    )
}

/// Runs opsrun in `env` with extra environment variables.
fn run_with(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut c = env.cmd();
    c.env_remove("OPSRUN_CONFIG");
    for (k, v) in vars {
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
}

/// Asserts that none of `secrets` is in the run's output or in the history
/// database (and its WAL).
fn assert_no_secret(env: &Env, runs: &[&Run], secrets: &[&str]) {
    let mut history = Vec::new();
    for f in ["history.db", "history.db-wal"] {
        history.extend(std::fs::read(env.path().join(f)).unwrap_or_default());
    }
    let history = String::from_utf8_lossy(&history);
    for s in secrets {
        for r in runs {
            assert!(!r.stdout.contains(s), "secret {s} in stdout:\n{}", r.stdout);
            assert!(!r.stderr.contains(s), "secret {s} in stderr:\n{}", r.stderr);
        }
        assert!(!history.contains(s), "secret {s} in the history database");
    }
}

#[test]
fn email_over_smtp_with_login_has_the_japanese_subject_and_report() {
    let server = SmtpServer::start("none", true, None);
    let env = Env::new();
    daily(
        &env,
        &format!(
            r#"notify:
  email:
    to: [運用チーム <ops@example.com>, oncall@example.com]
    from: opsrun 監視 <opsrun@example.com>
    smtp: {{host: 127.0.0.1, port: {}, tls: none, username: {SMTP_USER}, password_env: OPSRUN_SMTP_PASSWORD}}
"#,
            server.port
        ),
    );
    let pw = [
        ("OPSRUN_SMTP_PASSWORD", SMTP_PASSWORD),
        ("OPSRUN_LOG", "debug"),
    ];
    let r = run_with(&env, &["daily", "-f", "report", "--notify", "-v"], &pw);
    // The warn run's exit code, the report on stdout, `-v` says it was sent.
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.starts_with("【日次運用レポート】"), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("notify: email sent: to ops@example.com, oncall@example.com via 127.0.0.1:"),
        "{}",
        r.stderr
    );
    let mails = server.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0];
    assert_eq!(
        m["subject"],
        format!(
            "[opsrun][警告] AI見積りシステム {} 日次点検: 警告1件 異常0件",
            hostname()
        )
    );
    // The subject is RFC 2047 encoded and the whole message is 7-bit.
    let raw_subject = m["raw_subject"].as_str().unwrap();
    assert!(raw_subject.starts_with("=?utf-8?"), "{raw_subject}");
    assert_eq!(m["seven_bit"], true);
    assert_eq!(m["content_type"], "text/plain");
    assert_eq!(m["charset"], "utf-8");
    // Body = the report printed on stdout, byte for byte.
    // Mail lines end in CRLF (RFC 5322); otherwise the same text.
    assert_eq!(m["body"].as_str().unwrap().replace("\r\n", "\n"), r.stdout);
    assert!(
        m["body"]
            .as_str()
            .unwrap()
            .contains("- [警告] ディスク使用率 85%")
    );
    assert_eq!(m["from"], "opsrun 監視 <opsrun@example.com>");
    assert_standard_headers(m);
    assert_eq!(m["mail_from"], "opsrun@example.com");
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["ops@example.com", "oncall@example.com"])
    );
    // The server required AUTH and it was given.
    assert_eq!(m["login"], SMTP_USER);

    // A wrong password: the server's refusal as a warning, the exit code
    // of the checks, and neither password printed.
    let wrong = [("OPSRUN_SMTP_PASSWORD", "Wrong-Pw-0000-xyz")];
    let bad = run_with(&env, &["daily", "--notify"], &wrong);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(
        bad.stderr.contains(&format!(
            "warning: notification email failed: 127.0.0.1:{} refused: permanent error (535)",
            server.port
        )),
        "{}",
        bad.stderr
    );
    assert_eq!(server.mails().len(), 1);
    assert_no_secret(&env, &[&r, &bad], &[SMTP_PASSWORD, "Wrong-Pw-0000-xyz"]);

    // `tls: starttls` (the default) never falls back to plain text.
    daily(
        &env,
        &format!(
            "notify:\n  email: {{to: ops@example.com, smtp: {{host: 127.0.0.1, port: {}}}}}\n",
            server.port
        ),
    );
    let plain = run_with(&env, &["daily", "--notify"], &[]);
    assert_eq!(plain.code, 1, "{plain:?}");
    assert!(
        plain.stderr.contains("STARTTLS is not supported"),
        "{}",
        plain.stderr
    );
    assert_eq!(server.mails().len(), 1);
}

/// `email.html: true`: one `multipart/alternative` message, the report
/// as text and the page of `-f html` (the very page `--output html=`
/// wrote in the same run), both 7-bit encoded.
#[test]
fn email_html_sends_the_text_and_the_page_as_alternatives() {
    let server = SmtpServer::start("none", false, None);
    let env = Env::new();
    daily(
        &env,
        &format!(
            "notify:\n  email: {{to: ops@example.com, html: true, smtp: {{host: 127.0.0.1, port: {}, tls: none}}}}\n",
            server.port
        ),
    );
    let page = env.path().join("daily.html");
    let output = format!("html={}", page.display());
    let r = run_with(
        &env,
        &["daily", "-f", "report", "--output", &output, "--notify"],
        &[],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let mails = server.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0];
    assert_eq!(m["content_type"], "multipart/alternative", "{m}");
    assert_eq!(m["parts"], serde_json::json!(["text/plain", "text/html"]));
    assert_eq!(m["body"].as_str().unwrap().replace("\r\n", "\n"), r.stdout);
    let html = m["html"].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(html, std::fs::read_to_string(&page).unwrap());
    assert!(html.contains("<h1>【日次運用レポート】"), "{html}");
    assert_eq!(m["seven_bit"], true);
    assert_standard_headers(m);

    // Without `html:` the mail stays one text/plain part.
    daily(
        &env,
        &format!(
            "notify:\n  email: {{to: ops@example.com, smtp: {{host: 127.0.0.1, port: {}, tls: none}}}}\n",
            server.port
        ),
    );
    let r = run_with(&env, &["daily", "--notify"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    let m = &server.mails()[1];
    assert_eq!(m["content_type"], "text/plain", "{m}");
    assert!(m["html"].is_null(), "{m}");

    // The 障害報告 of `opsrun incident --notify` too: text and page.
    env.runbook(
        "incident-p1.yaml",
        &format!(
            "version: 1\ntitle: 全停止\nsystem: AI見積りシステム\nincident: {{level: p1, name: 緊急}}\nchecks:\n  - {{id: health, title: ヘルスチェック, file: {{path: missing}}}}\nnotify:\n  email: {{to: ops@example.com, html: true, smtp: {{host: 127.0.0.1, port: {}, tls: none}}}}\n",
            server.port
        ),
    );
    let r = run_with(&env, &["incident", "p1", "-f", "report", "--notify"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    let m = &server.mails()[2];
    assert_eq!(m["parts"], serde_json::json!(["text/plain", "text/html"]));
    assert_eq!(m["body"].as_str().unwrap().replace("\r\n", "\n"), r.stdout);
    let html = m["html"].as_str().unwrap();
    assert!(
        html.contains("<h1>【障害報告】AI見積りシステム</h1>"),
        "{html}"
    );
}

#[test]
fn email_over_starttls_and_implicit_tls_verifies_the_server() {
    let root = crate::service_data::certs::Ca::root("opsrun test mail CA");
    let leaf = root.leaf(&["127.0.0.1", "localhost"], -1, 90);
    let certs = tempfile::tempdir().unwrap();
    let cert = certs.path().join("cert.pem");
    let key = certs.path().join("key.pem");
    std::fs::write(&cert, &leaf.pem).unwrap();
    std::fs::write(&key, &leaf.key_pem).unwrap();
    for mode in ["starttls", "implicit"] {
        let server = SmtpServer::start(mode, true, Some((&cert, &key)));
        let env = Env::new();
        env.write("runbooks/ca.pem", &root.pem);
        env.write(
            "runbooks/secret/smtp-password",
            &format!("{SMTP_PASSWORD}\n"),
        );
        let block = |ca: &str| {
            format!(
                r#"notify:
  email:
    to: ops@example.com
    from: opsrun@example.com
    smtp: {{host: 127.0.0.1, port: {}, tls: {mode}, username: {SMTP_USER}, password_file: secret/smtp-password{ca}}}
"#,
                server.port
            )
        };
        daily(&env, &block(", ca_file: ca.pem"));
        let r = run_with(&env, &["daily", "--notify", "-v"], &[]);
        assert_eq!(r.code, 1, "{mode}: {r:?}");
        assert!(!r.stderr.contains("warning:"), "{mode}: {}", r.stderr);
        let mails = server.mails();
        assert_eq!(mails.len(), 1, "{mode}: {r:?}");
        assert_eq!(mails[0]["tls"], true, "{mode}");
        assert_eq!(mails[0]["login"], SMTP_USER, "{mode}");
        assert!(
            mails[0]["subject"]
                .as_str()
                .unwrap()
                .starts_with("[opsrun][警告]")
        );

        // Without the private CA the server is not trusted: nothing is
        // sent, a warning says why, the exit code is the checks'.
        daily(&env, &block(""));
        let bad = run_with(&env, &["daily", "--notify"], &[]);
        assert_eq!(bad.code, 1, "{mode}: {bad:?}");
        assert!(
            bad.stderr
                .contains("warning: notification email failed: 127.0.0.1:")
                && bad.stderr.to_lowercase().contains("certificate"),
            "{mode}: {}",
            bad.stderr
        );
        assert_eq!(server.mails().len(), 1, "{mode}");
        assert_no_secret(&env, &[&r, &bad], &[SMTP_PASSWORD]);
    }
}

#[test]
fn an_email_that_cannot_be_sent_is_a_warning_and_keeps_the_exit_code() {
    let env = Env::new();
    // Nothing listens on this port: connection refused.
    let port = free_port();
    daily(
        &env,
        &format!(
            "notify:\n  email: {{to: ops@example.com, smtp: {{host: 127.0.0.1, port: {port}, tls: none}}}}\n"
        ),
    );
    let r = run_with(&env, &["daily", "--notify"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("WARN"), "{}", r.stdout);
    let warnings: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", r.stderr);
    assert!(
        warnings[0].starts_with(&format!(
            "warning: notification email failed: 127.0.0.1:{port}"
        )) && warnings[0].to_lowercase().contains("refused"),
        "{}",
        r.stderr
    );

    // A server that accepts and never greets: bounded by notify.timeout.
    let hang = TcpListener::bind("127.0.0.1:0").unwrap();
    let hport = hang.local_addr().unwrap().port();
    daily(
        &env,
        &format!(
            "notify:\n  timeout: 2s\n  email: {{to: ops@example.com, smtp: {{host: 127.0.0.1, port: {hport}, tls: none}}}}\n"
        ),
    );
    let r = run_with(&env, &["daily", "--notify"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("warning: notification email failed:"),
        "{}",
        r.stderr
    );
    assert!(r.elapsed < Duration::from_secs(20), "{:?}", r.elapsed);
    drop(hang);

    // A secret that cannot be read is said on every --notify run.
    daily(
        &env,
        "notify:\n  email: {to: ops@example.com, smtp: {host: 127.0.0.1, tls: none, username: u, password_env: OPSRUN_TEST_UNSET_PW}}\n",
    );
    let r = run_with(&env, &["daily", "--notify"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("warning: notification email cannot be sent: environment variable OPSRUN_TEST_UNSET_PW is not set"),
        "{}",
        r.stderr
    );
}

#[test]
fn sendmail_program_gets_the_encoded_message() {
    let env = Env::new();
    // No MTA on the test host: a stub at the narrowest seam, the sendmail
    // program, records its arguments and the message it is given.
    let stub = env.write(
        "runbooks/bin/sendmail",
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$(dirname \"$0\")/args\"\ncat > \"$(dirname \"$0\")/message.eml\"\n",
    );
    std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    daily(
        &env,
        "notify:\n  email: {to: ops@example.com, from: opsrun@example.com, sendmail: bin/sendmail}\n",
    );
    let r = run_with(&env, &["daily", "-f", "report", "--notify"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    let args = std::fs::read_to_string(env.runbooks().join("bin/args")).unwrap();
    assert_eq!(args, "-i\n-f\nopsrun@example.com\n--\nops@example.com\n");
    let m = decode_mail(&env.runbooks().join("bin/message.eml"));
    assert_standard_headers(&m);
    assert_eq!(
        m["subject"],
        format!(
            "[opsrun][警告] AI見積りシステム {} 日次点検: 警告1件 異常0件",
            hostname()
        )
    );
    assert_eq!(m["body"].as_str().unwrap().replace("\r\n", "\n"), r.stdout);

    // A sendmail that fails: its message, as a warning.
    std::fs::write(
        &stub,
        "#!/bin/sh\ncat >/dev/null\necho 'sendmail: queue is full' >&2\nexit 75\n",
    )
    .unwrap();
    let r = run_with(&env, &["daily", "--notify"], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("warning: notification email failed: ")
            && r.stderr.contains("sendmail: queue is full"),
        "{}",
        r.stderr
    );
}

#[test]
fn slack_webhook_gets_the_report_and_its_url_is_never_shown() {
    let hook = Webhook::start(vec![]);
    let env = Env::new();
    daily(
        &env,
        "notify:\n  slack: {webhook_env: OPSRUN_SLACK_WEBHOOK}\n",
    );
    let url = hook.url();
    let vars = [
        ("OPSRUN_SLACK_WEBHOOK", url.as_str()),
        ("OPSRUN_LOG", "trace"),
    ];
    let r = run_with(&env, &["daily", "-f", "report", "--notify", "-v"], &vars);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("notify: slack sent: webhook answered 200 OK ok"),
        "{}",
        r.stderr
    );
    let reqs = hook.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, WEBHOOK_PATH);
    assert_eq!(reqs[0].content_type, "application/json");
    let payload: Value = serde_json::from_str(&reqs[0].body).unwrap();
    let text = payload["text"].as_str().unwrap();
    let subject = format!(
        "[opsrun][警告] AI見積りシステム {} 日次点検: 警告1件 異常0件",
        hostname()
    );
    assert_eq!(text, format!("{subject}\n\n{}", r.stdout));
    // The same run as JSON and as the verbose table: no URL either.
    let json = run_with(&env, &["daily", "-f", "json", "--notify"], &vars);
    let table = run_with(&env, &["daily", "-vv", "--notify"], &vars);
    assert_no_secret(
        &env,
        &[&r, &json, &table],
        &[WEBHOOK_PATH, "XyZsecretTOKEN42"],
    );
}

#[test]
fn slack_rate_limit_is_retried_once_and_errors_are_warnings() {
    let hook = Webhook::start(vec![(429, "Retry-After: 1\r\n", "rate_limited")]);
    let env = Env::new();
    env.write("runbooks/slack-url", &format!("{}\n", hook.url()));
    daily(&env, "notify:\n  slack: {webhook_file: slack-url}\n");
    let r = run_with(&env, &["daily", "--notify"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stderr, "", "{r:?}");
    assert_eq!(hook.requests().len(), 2);

    let hook = Webhook::start(vec![(404, "", "no_service")]);
    env.write("runbooks/slack-url", &format!("{}\n", hook.url()));
    let r = run_with(&env, &["daily", "--notify"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "warning: notification slack failed: webhook answered 404 Not Found: no_service"
        ),
        "{}",
        r.stderr
    );
    let unreachable = format!("http://127.0.0.1:{}{WEBHOOK_PATH}", free_port());
    env.write("runbooks/slack-url", &unreachable);
    let r2 = run_with(&env, &["daily", "--notify"], &[]);
    assert_eq!(r2.code, 1, "{r2:?}");
    assert!(
        r2.stderr
            .contains("warning: notification slack failed: cannot connect"),
        "{}",
        r2.stderr
    );
    assert_no_secret(&env, &[&r, &r2], &[WEBHOOK_PATH]);
}

/// A webhook that accepts the connection and never answers: the
/// notification gives up after `notify.timeout` with a warning (the run's
/// exit code is kept), and its URL is not shown.
#[test]
fn a_webhook_that_never_answers_times_out() {
    let hang = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hang.local_addr().unwrap().port();
    let env = Env::new();
    env.write(
        "runbooks/slack-url",
        &format!("http://127.0.0.1:{port}{WEBHOOK_PATH}\n"),
    );
    daily(
        &env,
        "notify:\n  timeout: 1s\n  slack: {webhook_file: slack-url}\n",
    );
    let r = run_with(&env, &["daily", "--notify"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    let warnings: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", r.stderr);
    // Either clock may stop it first: ours (`timed out after 1s`) or the
    // HTTP client's (`timed out: …`), both bounded by the same timeout.
    assert!(
        warnings[0].starts_with("warning: notification slack failed: timed out"),
        "{}",
        r.stderr
    );
    assert!(r.elapsed < Duration::from_secs(20), "{:?}", r.elapsed);
    assert_no_secret(&env, &[&r], &[WEBHOOK_PATH]);
    drop(hang);
}

#[test]
fn shared_config_on_list_and_recovery() {
    let hook = Webhook::start(vec![]);
    let env = Env::new();
    // The shared configuration in the runbook directory (-C).
    env.write(
        "runbooks/config.yaml",
        "version: 1\nnotify:\n  on: [fail, recovered]\n  slack: {webhook_env: OPSRUN_SLACK_WEBHOOK}\n",
    );
    env.runbook(
        "app.yaml",
        "version: 1\ntitle: アプリ点検\nchecks:\n  - {id: flag, title: 稼働フラグ, file: {path: flag}}\n",
    );
    let url = hook.url();
    let vars = [("OPSRUN_SLACK_WEBHOOK", url.as_str())];
    let subjects = || -> Vec<String> {
        hook.requests()
            .iter()
            .map(|r| {
                let v: Value = serde_json::from_str(&r.body).unwrap();
                v["text"]
                    .as_str()
                    .unwrap()
                    .lines()
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let host = hostname();
    // Fails without --notify: nothing is sent.
    let r = run_with(&env, &["run", "app"], &vars);
    assert_eq!(r.code, 2);
    assert!(subjects().is_empty());
    // Fails with --notify: 異常.
    let r = run_with(&env, &["run", "app", "--notify"], &vars);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        subjects(),
        [format!(
            "[opsrun][異常] app {host} アプリ点検: 警告0件 異常1件"
        )]
    );
    // Passes after a failure: 復旧. Passes again: nothing.
    env.write("runbooks/flag", "up");
    let r = run_with(&env, &["run", "app", "--notify", "-v"], &vars);
    assert_eq!(r.code, 0, "{r:?}");
    let r2 = run_with(&env, &["run", "app", "--notify", "-v"], &vars);
    assert_eq!(r2.code, 0);
    assert!(
        r2.stderr
            .contains("notify: slack not sent (run is pass; on: [fail, recovered])"),
        "{}",
        r2.stderr
    );
    assert_eq!(subjects().len(), 2);
    assert_eq!(
        subjects()[1],
        format!("[opsrun][復旧] app {host} アプリ点検: 警告0件 異常0件")
    );

    // The runbook's own block wins key by key: `on: [pass]` here, the
    // channel still from config.yaml.
    env.runbook(
        "app.yaml",
        "version: 1\ntitle: アプリ点検\nchecks:\n  - {id: flag, title: 稼働フラグ, file: {path: flag}}\nnotify:\n  on: [pass]\n",
    );
    run_with(&env, &["run", "app", "--notify"], &vars);
    assert_eq!(subjects().len(), 3);
    assert_eq!(
        subjects()[2],
        format!("[opsrun][正常] app {host} アプリ点検: 警告0件 異常0件")
    );
    // `on: []` in the runbook silences it.
    env.runbook(
        "app.yaml",
        "version: 1\ntitle: アプリ点検\nchecks:\n  - {id: flag, title: 稼働フラグ, file: {path: missing}}\nnotify: {on: []}\n",
    );
    assert_eq!(run_with(&env, &["run", "app", "--notify"], &vars).code, 2);
    assert_eq!(subjects().len(), 3);

    // config.yaml is not a runbook: `list` skips it, `validate` checks it.
    let l = run_with(&env, &["list"], &[]);
    assert_eq!(l.code, 0, "{l:?}");
    assert!(!l.stdout.contains("config"), "{}", l.stdout);
    let v = run_with(&env, &["validate"], &[]);
    assert_eq!(v.code, 0, "{v:?}");
    assert!(
        v.stdout.contains("config.yaml (configuration)"),
        "{}",
        v.stdout
    );
}

#[test]
fn notification_settings_errors() {
    let env = Env::new();
    daily(&env, "");
    // --notify with nowhere to send: a configuration error, nothing runs.
    let r = run_with(&env, &["daily", "--notify"], &[]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .starts_with("error: --notify: nowhere to send: no `notify:` block in"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "");
    // OPSRUN_CONFIG names the shared file; a broken one says where.
    let cfg = env.write(
        "etc/config.yaml",
        "notify:\n  slack: {webhook_env: X}\n  emial: {to: a@example.com}\n",
    );
    let cfgs = cfg.display().to_string();
    let r = run_with(
        &env,
        &["daily", "--notify"],
        &[("OPSRUN_CONFIG", cfgs.as_str())],
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .contains("config.yaml:3:3: unknown key `emial`, did you mean `email`?"),
        "{}",
        r.stderr
    );
    let r = run_with(&env, &["validate", &cfgs], &[]);
    assert_eq!(r.code, 3, "{r:?}");
    // A block with no channel.
    daily(&env, "notify:\n  on: [fail]\n");
    let r = run_with(&env, &["daily", "--notify"], &[]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("has no channel: add `email:`, `slack:` or `routes:`"),
        "{}",
        r.stderr
    );
    // A webhook URL written into the runbook is refused and never echoed,
    // even in the error's source line.
    daily(
        &env,
        &format!("notify:\n  slack:\n    webhook: https://hooks.slack.com{WEBHOOK_PATH}\n"),
    );
    let r = run_with(&env, &["validate"], &[]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("the webhook URL is a secret and never goes in YAML"),
        "{}",
        r.stderr
    );
    assert_no_secret(&env, &[&r], &[WEBHOOK_PATH]);
    // `notify:` in an included file.
    env.runbook("common.yaml", "checks: []\nnotify: {on: [fail]}\n");
    env.runbook(
        "inc.yaml",
        "version: 1\ninclude: [common.yaml]\nchecks:\n  - {id: f, file: {path: inc.yaml}}\n",
    );
    let r = run_with(&env, &["validate", "runbooks/inc.yaml"], &[]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("common.yaml:2:9: `notify:` belongs in the runbook that is run"),
        "{}",
        r.stderr
    );
}

#[test]
fn incident_sends_the_escalation_report_to_every_channel() {
    let hook = Webhook::start(vec![]);
    let env = Env::new();
    // `on: [recovered]` would not match a failing routine run; an incident
    // with --notify is sent anyway.
    env.runbook(
        "incident-p1.yaml",
        "version: 1\ntitle: 全停止\nsystem: AI見積りシステム\nincident: {level: p1, name: 緊急}\nchecks:\n  - {id: health, title: ヘルスチェック, file: {path: missing}}\nnotify:\n  on: [recovered]\n  slack: {webhook_env: OPSRUN_SLACK_WEBHOOK}\n",
    );
    let url = hook.url();
    let vars = [("OPSRUN_SLACK_WEBHOOK", url.as_str())];
    let r = run_with(&env, &["incident", "p1", "-f", "report", "--notify"], &vars);
    assert_eq!(r.code, 2, "{r:?}");
    let reqs = hook.requests();
    assert_eq!(reqs.len(), 1, "{r:?}");
    let v: Value = serde_json::from_str(&reqs[0].body).unwrap();
    let subject = format!(
        "[opsrun][異常] {} 【障害報告】AI見積りシステム P1（緊急）",
        hostname()
    );
    assert_eq!(v["text"], format!("{subject}\n\n{}", r.stdout));
    assert!(r.stdout.starts_with("【障害報告】AI見積りシステム"));
    // Without --notify, nothing.
    run_with(&env, &["incident", "p1"], &vars);
    assert_eq!(hook.requests().len(), 1);
    // A P3 call joins the open P1 incident of the system: the mail names
    // the incident's level, as its 障害報告 does, not the call's.
    env.runbook(
        "incident-p3.yaml",
        "version: 1\ntitle: 一部機能停止\nsystem: AI見積りシステム\nincident: {level: p3, name: 中}\nchecks:\n  - {id: health, title: ヘルスチェック, file: {path: missing}}\nnotify:\n  slack: {webhook_env: OPSRUN_SLACK_WEBHOOK}\n",
    );
    let r = run_with(&env, &["incident", "p3", "-f", "report", "--notify"], &vars);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stdout.contains("■ 障害レベル: P1（緊急）"),
        "{}",
        r.stdout
    );
    let reqs = hook.requests();
    assert_eq!(reqs.len(), 2, "{r:?}");
    let v: Value = serde_json::from_str(&reqs[1].body).unwrap();
    let subject = format!(
        "[opsrun][異常] {} 【障害報告】AI見積りシステム P1（緊急）",
        hostname()
    );
    assert!(
        v["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{subject}\n")),
        "{v}"
    );
}

#[test]
fn docs_examples_validate() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/notify.md")).unwrap();
    let env = Env::new();
    let mut n = 0;
    for block in text.split("```yaml\n").skip(1) {
        let yaml = block.split("```").next().unwrap();
        let p = env.write("etc/config.yaml", yaml);
        let r = run_with(&env, &["validate", p.to_str().unwrap()], &[]);
        assert_eq!(r.code, 0, "{yaml}\n{}", r.stderr);
        n += 1;
    }
    assert_eq!(n, 3, "docs/notify.md should hold three YAML examples");
}

/// `notify.routes` (SPEC §10.6): each route is one channel with its own
/// `on:` — here two mail recipients on a real SMTP server (the lead on
/// fail only, the developers on warn and fail) and a Slack webhook on
/// `always` (seed 002's 情報 → #monitoring), beside the single-channel
/// `email:` form, which is a route of one.
#[test]
fn routes_send_each_channel_on_its_own_statuses() {
    let server = SmtpServer::start("none", false, None);
    let hook = Webhook::start(vec![]);
    let env = Env::new();
    let notify = |shell: &str| {
        let path = daily(
            &env,
            &format!(
                r#"notify:
  on: [fail]
  routes:
    - on: [fail, recovered]
      email: {{to: 運用責任者 <lead@example.com>, from: opsrun@example.com, smtp: {{host: 127.0.0.1, port: {port}, tls: none}}}}
    - on: [warn, fail]
      email: {{to: dev@example.com, from: opsrun@example.com, smtp: {{host: 127.0.0.1, port: {port}, tls: none}}}}
    - on: [always]
      slack: {{webhook_env: OPSRUN_SLACK_WEBHOOK}}
"#,
                port = server.port
            ),
        );
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("echo 85", shell);
        std::fs::write(&path, text).unwrap();
    };
    let url = hook.url();
    let vars = [("OPSRUN_SLACK_WEBHOOK", url.as_str())];
    let host = hostname();
    let subject = |word: &str, warn: u32, fail: u32| {
        format!("[opsrun][{word}] AI見積りシステム {host} 日次点検: 警告{warn}件 異常{fail}件")
    };
    let slack_subjects = || -> Vec<String> {
        hook.requests()
            .iter()
            .map(|r| {
                let v: Value = serde_json::from_str(&r.body).unwrap();
                v["text"]
                    .as_str()
                    .unwrap()
                    .lines()
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };

    // A warn run: the developers' route and #monitoring; not the lead.
    notify("echo 85");
    let r = run_with(&env, &["daily", "--notify", "-v"], &vars);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("notify: routes[0].email not sent (run is warn; on: [fail, recovered])"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("notify: routes[1].email sent: to dev@example.com via 127.0.0.1:"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("notify: routes[2].slack sent: webhook answered 200"),
        "{}",
        r.stderr
    );
    let mails = server.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["rcpt_tos"], serde_json::json!(["dev@example.com"]));
    assert_eq!(mails[0]["subject"], subject("警告", 1, 0));
    assert_eq!(slack_subjects(), [subject("警告", 1, 0)]);

    // A fail run: both recipients, each its own message; and #monitoring.
    notify("echo 95");
    let r = run_with(&env, &["daily", "--notify"], &vars);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.stderr, "", "{r:?}");
    let mails = server.mails();
    assert_eq!(mails.len(), 3, "{mails:?}");
    let mut to: Vec<String> = mails[1..]
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap().to_owned())
        .collect();
    to.sort();
    assert_eq!(to, ["dev@example.com", "lead@example.com"]);
    assert!(
        mails[1..]
            .iter()
            .all(|m| m["subject"] == subject("異常", 0, 1))
    );
    assert_eq!(slack_subjects().len(), 2);

    // A pass run: `always` sends the day's report to #monitoring; the lead
    // gets the all-clear (recovered); the developers' route nothing.
    notify("echo 50");
    let r = run_with(&env, &["daily", "--notify"], &vars);
    assert_eq!(r.code, 0, "{r:?}");
    let mails = server.mails();
    assert_eq!(mails.len(), 4, "{mails:?}");
    assert_eq!(
        mails[3]["rcpt_tos"],
        serde_json::json!(["lead@example.com"])
    );
    assert_eq!(mails[3]["subject"], subject("復旧", 0, 0));
    assert_eq!(slack_subjects()[2], subject("正常", 0, 0));
    // Passing again: only `always`.
    let r = run_with(&env, &["daily", "--notify"], &vars);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(server.mails().len(), 4);
    assert_eq!(slack_subjects().len(), 4);
    assert_no_secret(&env, &[&r], &[WEBHOOK_PATH]);
}

/// A route that cannot deliver does not stop the others, and is reported
/// by its name; the exit code stays the checks'.
#[test]
fn a_failing_route_does_not_stop_the_others() {
    let server = SmtpServer::start("none", false, None);
    let env = Env::new();
    let unreachable = format!("http://127.0.0.1:{}{WEBHOOK_PATH}", free_port());
    env.write("runbooks/slack-url", &format!("{unreachable}\n"));
    daily(
        &env,
        &format!(
            r#"notify:
  routes:
    - on: [always]
      slack: {{webhook_file: slack-url}}
    - on: [warn]
      email: {{to: dev@example.com, smtp: {{host: 127.0.0.1, port: {}, tls: none}}}}
"#,
            server.port
        ),
    );
    let r = run_with(&env, &["daily", "--notify"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    let warnings: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", r.stderr);
    assert!(
        warnings[0].starts_with("warning: notification routes[0].slack failed: cannot connect"),
        "{}",
        r.stderr
    );
    assert_eq!(server.mails().len(), 1);
    assert_no_secret(&env, &[&r], &[WEBHOOK_PATH]);
}

#[test]
fn route_settings_errors() {
    let env = Env::new();
    daily(
        &env,
        "notify:\n  routes:\n    - on: [always]\n      slack: {webhook_env: W}\n      email: {to: a@example.com, sendmail: /usr/sbin/sendmail}\n",
    );
    let r = run_with(&env, &["validate", "runbooks/daily.yaml"], &[]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .contains("routes: a route has one channel, `email:` or `slack:`: write two routes"),
        "{}",
        r.stderr
    );
    daily(&env, "notify:\n  routes:\n    - on: [always]\n");
    let r = run_with(&env, &["validate", "runbooks/daily.yaml"], &[]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .contains("daily.yaml:15:7: routes: a route needs a channel"),
        "{}",
        r.stderr
    );
    daily(
        &env,
        "notify:\n  routes:\n    - on: [allways]\n      slack: {webhook_env: W}\n",
    );
    let r = run_with(&env, &["validate", "runbooks/daily.yaml"], &[]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("allways"), "{}", r.stderr);
    // No channel at all, routes empty: --notify is a configuration error.
    daily(&env, "notify:\n  routes: []\n");
    let r = run_with(&env, &["daily", "--notify"], &[]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .contains("has no channel: add `email:`, `slack:` or `routes:`"),
        "{}",
        r.stderr
    );
}
