//! `redis`: PING a Redis server and read `INFO` — memory against
//! `maxmemory`, connected clients, role, optionally the key count — over a
//! small RESP2 client (AUTH, SELECT, PING, INFO, DBSIZE), so no shell and
//! no `redis-cli` are needed. Replaces seed 004's `docker compose ps redis`
//! with a check of the server itself.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufStream};
use tokio::time::Instant;

use super::{CheckFuture, Ctx, Kind, sections};
use crate::secret;
use crate::values::measure::{self, Measured};
use crate::values::outcome::{Outcome, Status};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, format_bytes, format_millis, trim_float};

/// Longest reply line or bulk string accepted (INFO is a few kB).
const MAX_REPLY: usize = 4 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redis {
    /// `redis://[user[:password]@]host[:port][/db]` or `unix:///path/redis.sock[?db=N]`.
    #[serde(default = "default_url")]
    url: String,
    /// ACL user (Redis 6+); default: the URL's, else none (`default`).
    username: Option<String>,
    password_env: Option<String>,
    password_file: Option<String>,
    #[serde(default, deserialize_with = "crate::values::measure::millis")]
    ping: Option<Threshold>,
    /// `used_memory` as a percentage of `maxmemory` (of the host's memory
    /// when no `maxmemory` is set).
    #[serde(default, deserialize_with = "crate::values::measure::percent")]
    used_memory: Option<Threshold>,
    #[serde(default, deserialize_with = "crate::values::measure::count")]
    connected_clients: Option<Threshold>,
    role: Option<Role>,
    /// Keys in the selected database (`DBSIZE`).
    #[serde(default, deserialize_with = "crate::values::measure::count")]
    key_count: Option<Threshold>,
}

fn default_url() -> String {
    "redis://127.0.0.1:6379".into()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Role {
    #[serde(alias = "primary")]
    Master,
    #[serde(alias = "slave", alias = "standby")]
    Replica,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Master => "master",
            Role::Replica => "replica",
        })
    }
}

/// Where to connect, parsed from `url`.
#[derive(Debug, PartialEq)]
struct Target {
    /// `host:port` or a socket path.
    address: String,
    unix: bool,
    user: Option<String>,
    password: Option<String>,
    db: u32,
}

fn parse_url(url: &str) -> Result<Target, String> {
    let bad = |why: &str| format!("invalid redis url: {why}");
    if url.starts_with("rediss://") {
        return Err("TLS (rediss://) is not supported by the redis check".into());
    }
    if let Some(rest) = url.strip_prefix("unix://") {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if !path.starts_with('/') {
            return Err(bad("unix:// needs an absolute socket path"));
        }
        let mut db = 0;
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            match kv.split_once('=') {
                Some(("db", n)) => db = n.parse().map_err(|_| bad("db must be a number"))?,
                _ => return Err(bad(&format!("unknown parameter `{kv}`"))),
            }
        }
        return Ok(Target {
            address: path.to_owned(),
            unix: true,
            user: None,
            password: None,
            db,
        });
    }
    let rest = url
        .strip_prefix("redis://")
        .ok_or_else(|| bad("expected redis://host:port or unix:///path"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(u) => match u.split_once(':') {
            Some((name, pw)) => (
                Some(name.to_owned()).filter(|n| !n.is_empty()),
                Some(pw.to_owned()).filter(|p| !p.is_empty()),
            ),
            None => (Some(u.to_owned()).filter(|n| !n.is_empty()), None),
        },
    };
    if hostport.is_empty() {
        return Err(bad("no host"));
    }
    // `[::1]:6379`, `host:6379`, `host`.
    let address = if hostport.starts_with('[') {
        if hostport.contains("]:") {
            hostport.to_owned()
        } else {
            format!("{hostport}:6379")
        }
    } else if let Some((h, p)) = hostport.rsplit_once(':') {
        p.parse::<u16>()
            .map_err(|_| bad(&format!("port `{p}` is not a number")))?;
        format!("{h}:{p}")
    } else {
        format!("{hostport}:6379")
    };
    let path = path.split('?').next().unwrap_or("");
    let db = if path.is_empty() {
        0
    } else {
        path.parse()
            .map_err(|_| bad(&format!("database `{path}` is not a number")))?
    };
    Ok(Target {
        address,
        unix: false,
        user,
        password,
        db,
    })
}

impl Kind for Redis {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        super::legacy(self.check(ctx))
    }

    fn section(&self) -> &'static str {
        sections::SERVICES
    }

    fn target(&self) -> String {
        format!("redis {}", secret::redact(&self.url))
    }

    fn validate(&self) -> Result<(), String> {
        parse_url(&self.url)?;
        if self.password_env.is_some() && self.password_file.is_some() {
            return Err("set only one of `password_env` or `password_file`".into());
        }
        Ok(())
    }
}

/// A byte stream to the server, TCP or Unix socket.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One RESP2 reply (arrays are not needed by the commands sent).
#[derive(Debug, PartialEq)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
}

struct Conn {
    stream: BufStream<Box<dyn Io>>,
}

impl Conn {
    async fn call(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&buf).await?;
        self.stream.flush().await?;
        self.read_reply().await
    }

    async fn read_line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        let n = (&mut self.stream)
            .take(MAX_REPLY as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        if !line.ends_with(b"\r\n") {
            return Err(protocol("reply line too long or cut short"));
        }
        line.truncate(line.len() - 2);
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    async fn read_reply(&mut self) -> io::Result<Reply> {
        let line = self.read_line().await?;
        let (kind, rest) = line.split_at(line.chars().next().map_or(0, char::len_utf8));
        match kind {
            "+" => Ok(Reply::Status(rest.to_owned())),
            "-" => Ok(Reply::Error(rest.to_owned())),
            ":" => rest
                .parse()
                .map(Reply::Int)
                .map_err(|_| protocol("bad integer reply")),
            "$" => {
                let len: i64 = rest.parse().map_err(|_| protocol("bad bulk length"))?;
                if len < 0 {
                    return Ok(Reply::Bulk(None));
                }
                let len = len as usize;
                if len > MAX_REPLY {
                    return Err(protocol("bulk reply too large"));
                }
                let mut data = vec![0; len + 2];
                self.stream.read_exact(&mut data).await?;
                data.truncate(len);
                Ok(Reply::Bulk(Some(data)))
            }
            _ => Err(protocol(&format!(
                "unexpected reply `{}` (is this a Redis server?)",
                measure::one_line(&line, 40)
            ))),
        }
    }
}

fn protocol(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_owned())
}

/// Why a step failed: a status and one line.
struct Failure(Status, String);

impl Redis {
    async fn check(&self, ctx: &Ctx) -> Outcome {
        let deadline = Instant::now() + ctx.timeout;
        let target = match parse_url(&self.url) {
            Ok(t) => t,
            Err(e) => return Outcome::unknown(e),
        };
        if let Some(p) = &target.password {
            secret::register(p);
        }
        let password = match (&self.password_env, &self.password_file) {
            (None, None) => target.password.clone(),
            _ => match crate::check::http::read_secret(
                ctx,
                &self.password_env,
                &self.password_file,
                "password",
            ) {
                Ok(p) => Some(p),
                Err(e) => return Outcome::unknown(e),
            },
        };
        let user = self.username.clone().or_else(|| target.user.clone());

        let mut step = "connecting";
        let mut found = Found::default();
        let run = self.talk(&target, user, password, &mut found, &mut step);
        let result = tokio::time::timeout_at(deadline, run).await;
        let timed_out = result.is_err();
        let failure = match result {
            Err(_) => Some(Failure(
                Status::Fail,
                format!(
                    "{}: timed out after {} while {step}",
                    target.address,
                    format_millis(ctx.timeout.as_secs_f64() * 1000.0)
                ),
            )),
            Ok(Err(f)) => Some(f),
            Ok(Ok(())) => None,
        };
        if let Some(Failure(status, why)) = failure {
            let mut o = Outcome::new(status, if timed_out { "timeout" } else { "" })
                .with_message(secret::redact(&why));
            o.detail.append(&mut found.detail);
            return o;
        }
        self.judge(&target, found)
    }

    /// Talks to the server; fills `found` as it goes.
    async fn talk(
        &self,
        target: &Target,
        user: Option<String>,
        password: Option<String>,
        found: &mut Found,
        step: &mut &'static str,
    ) -> Result<(), Failure> {
        let addr = &target.address;
        let io_fail = |step: &str, e: io::Error| {
            let why = match e.kind() {
                io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                io::ErrorKind::NotFound if target.unix => {
                    "no server socket there (is Redis running?)".to_owned()
                }
                io::ErrorKind::UnexpectedEof => {
                    format!("the server closed the connection while {step}")
                }
                _ => format!("{step}: {}", crate::values::io_reason(&e)),
            };
            Failure(Status::Fail, format!("{addr}: {why}"))
        };
        let stream: Box<dyn Io> = if target.unix {
            Box::new(
                tokio::net::UnixStream::connect(addr)
                    .await
                    .map_err(|e| io_fail(step, e))?,
            )
        } else {
            Box::new(
                tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(|e| io_fail(step, e))?,
            )
        };
        let mut conn = Conn {
            stream: BufStream::new(stream),
        };

        if let Some(pw) = &password {
            *step = "authenticating";
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(u) = &user {
                args.push(u.as_bytes());
            }
            args.push(pw.as_bytes());
            match conn.call(&args).await.map_err(|e| io_fail(step, e))? {
                Reply::Status(_) => {}
                // The server has no password: say so, and carry on.
                Reply::Error(e) if e.contains("without any password configured") => {
                    found.detail.push(
                        "a password was given but the server requires none (AUTH ignored)".into(),
                    );
                }
                Reply::Error(e) => {
                    let code = e.split_whitespace().next().unwrap_or("");
                    return Err(Failure(
                        Status::Fail,
                        format!(
                            "{addr}: authentication failed ({code}, {})",
                            self.password_source()
                        ),
                    ));
                }
                other => return Err(unexpected(addr, step, other)),
            }
        }
        if target.db != 0 {
            *step = "selecting the database";
            let db = target.db.to_string();
            match conn
                .call(&[b"SELECT", db.as_bytes()])
                .await
                .map_err(|e| io_fail(step, e))?
            {
                Reply::Status(_) => {}
                Reply::Error(e) => {
                    return Err(server_error(addr, step, &e, password.is_some()));
                }
                other => return Err(unexpected(addr, step, other)),
            }
        }

        *step = "waiting for PONG";
        let started = Instant::now();
        match conn.call(&[b"PING"]).await.map_err(|e| io_fail(step, e))? {
            Reply::Status(s) if s == "PONG" => {}
            Reply::Error(e) => return Err(server_error(addr, step, &e, password.is_some())),
            other => return Err(unexpected(addr, step, other)),
        }
        found.ping_ms = Some(started.elapsed().as_secs_f64() * 1000.0);

        *step = "reading INFO";
        match conn.call(&[b"INFO"]).await.map_err(|e| io_fail(step, e))? {
            Reply::Bulk(Some(text)) => found.info = parse_info(&String::from_utf8_lossy(&text)),
            Reply::Error(e) => return Err(server_error(addr, step, &e, password.is_some())),
            other => return Err(unexpected(addr, step, other)),
        }

        if self.key_count.is_some() {
            *step = "counting keys";
            match conn
                .call(&[b"DBSIZE"])
                .await
                .map_err(|e| io_fail(step, e))?
            {
                Reply::Int(n) => found.keys = Some(n),
                Reply::Error(e) => return Err(server_error(addr, step, &e, password.is_some())),
                other => return Err(unexpected(addr, step, other)),
            }
        }
        // Say goodbye so the server does not count an aborted client;
        // its answer does not matter.
        let _ = tokio::time::timeout(Duration::from_millis(200), conn.call(&[b"QUIT"])).await;
        Ok(())
    }

    fn password_source(&self) -> String {
        match (&self.password_env, &self.password_file) {
            (Some(e), _) => format!("password from password_env {e}"),
            (_, Some(f)) => format!("password from password_file {f}"),
            _ => "password from the url".into(),
        }
    }

    /// Holds what the server said against the check's settings.
    fn judge(&self, target: &Target, found: Found) -> Outcome {
        let info = &found.info;
        let num = |k: &str| info.get(k).and_then(|v| v.parse::<f64>().ok());
        let ping = found.ping_ms.unwrap_or(0.0);
        let role = info.get("role").map(String::as_str).unwrap_or("unknown");
        let version = info.get("redis_version").map(String::as_str).unwrap_or("?");

        let mut measured = Vec::new();
        let used = num("used_memory");
        let maxmemory = num("maxmemory").filter(|m| *m > 0.0);
        let system = num("total_system_memory").filter(|m| *m > 0.0);
        let mut detail = vec![format!(
            "Redis {version} at {}{}, role {role}",
            target.address,
            if target.db != 0 {
                format!(" db {}", target.db)
            } else {
                String::new()
            }
        )];
        let mut verdicts: Vec<(Status, String)> = Vec::new();
        if let Some(used) = used {
            match maxmemory.or(system) {
                Some(limit) => {
                    let pct = used * 100.0 / limit;
                    let of = if maxmemory.is_some() {
                        "maxmemory"
                    } else {
                        "system memory (no maxmemory set)"
                    };
                    detail.push(format!(
                        "used_memory {} of {of} {} ({}%)",
                        format_bytes(used),
                        format_bytes(limit),
                        trim_float(pct, 1)
                    ));
                    measured.push(
                        Measured::new(
                            "used_memory_pct",
                            pct,
                            Unit::Percent,
                            Direction::HigherIsWorse,
                        )
                        .held(&self.used_memory)
                        .shown(format!("{}% of {of}", trim_float(pct, 1))),
                    );
                }
                None if self.used_memory.is_some() => verdicts.push((
                    Status::Unknown,
                    "used_memory: neither maxmemory nor the system memory is known".into(),
                )),
                None => {}
            }
        } else if self.used_memory.is_some() {
            verdicts.push((Status::Unknown, "INFO has no used_memory".into()));
        }
        if let Some(c) = num("connected_clients") {
            measured.push(
                Measured::new(
                    "connected_clients",
                    c,
                    Unit::Count,
                    Direction::HigherIsWorse,
                )
                .held(&self.connected_clients)
                .shown(format!("{} clients", trim_float(c, 0))),
            );
            detail.push(format!("connected_clients {}", trim_float(c, 0)));
        }
        if let Some(k) = found.keys {
            measured.push(
                Measured::new("key_count", k as f64, Unit::Count, Direction::HigherIsWorse)
                    .held(&self.key_count)
                    .shown(format!("{k} keys")),
            );
            detail.push(format!("key_count {k}"));
        }
        let ping_at = measured.len();
        measured.push(
            Measured::new("ping", ping, Unit::Millis, Direction::HigherIsWorse)
                .held(&self.ping)
                .shown(format!("PONG {} ({role})", format_millis(ping))),
        );
        if let Some(used) = used {
            measured.push(Measured::new(
                "used_memory",
                used,
                Unit::Bytes,
                Direction::HigherIsWorse,
            ));
        }

        // Roles: INFO says master/slave.
        let actual = match role {
            "master" => Some(Role::Master),
            "slave" | "replica" => Some(Role::Replica),
            _ => None,
        };
        if actual == Some(Role::Replica) {
            let link = info
                .get("master_link_status")
                .map(String::as_str)
                .unwrap_or("unknown");
            let master = format!(
                "{}:{}",
                info.get("master_host").map(String::as_str).unwrap_or("?"),
                info.get("master_port").map(String::as_str).unwrap_or("?")
            );
            detail.push(format!("replica of {master}, link {link}"));
            if link != "up" {
                verdicts.push((
                    Status::Fail,
                    format!("replica's link to its master {master} is {link}, expected up"),
                ));
            }
        }
        if let Some(want) = self.role
            && actual != Some(want)
        {
            verdicts.push((Status::Fail, format!("role {role}, expected {want}")));
        }

        let mut out = measure::outcome(&measured, ping_at);
        let mut extra = found.detail;
        out.detail.append(&mut detail);
        out.detail.append(&mut extra);
        for (s, why) in verdicts {
            out.worsen(s, why);
        }
        out
    }
}

/// What the conversation produced.
#[derive(Default)]
struct Found {
    ping_ms: Option<f64>,
    info: BTreeMap<String, String>,
    keys: Option<i64>,
    detail: Vec<String>,
}

fn parse_info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn unexpected(addr: &str, step: &str, r: Reply) -> Failure {
    Failure(
        Status::Fail,
        format!("{addr}: unexpected reply while {step}: {r:?}"),
    )
}

/// A `-ERR …` reply in words: NOAUTH means a password is needed.
fn server_error(addr: &str, step: &str, e: &str, had_password: bool) -> Failure {
    if e.starts_with("NOAUTH") && !had_password {
        return Failure(
            Status::Unknown,
            format!(
                "{addr}: the server requires a password and none was given \
                 (set password_env or password_file)"
            ),
        );
    }
    if e.starts_with("LOADING") {
        return Failure(
            Status::Fail,
            format!("{addr}: the server is loading its dataset into memory"),
        );
    }
    Failure(
        Status::Fail,
        format!("{addr}: {step}: {}", measure::one_line(e, 200)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("redis://:pw@127.0.0.1:6390/2").unwrap();
        assert_eq!(t.address, "127.0.0.1:6390");
        assert_eq!(t.password.as_deref(), Some("pw"));
        assert_eq!(t.user, None);
        assert_eq!(t.db, 2);
        let t = parse_url("redis://app:pw@cache").unwrap();
        assert_eq!(t.address, "cache:6379");
        assert_eq!(t.user.as_deref(), Some("app"));
        let t = parse_url("redis://[::1]:7000").unwrap();
        assert_eq!(t.address, "[::1]:7000");
        let t = parse_url("unix:///run/redis/redis.sock?db=1").unwrap();
        assert!(t.unix);
        assert_eq!(t.db, 1);
        assert!(parse_url("rediss://h").unwrap_err().contains("TLS"));
        assert!(parse_url("http://h").is_err());
        assert!(parse_url("redis://h:port").unwrap_err().contains("port"));
        assert!(parse_url("redis://h/x").unwrap_err().contains("database"));
    }

    #[test]
    fn info_parsing() {
        let i = parse_info(
            "# Server\r\nredis_version:7.0.15\r\n\r\n# Clients\r\nconnected_clients:3\r\n",
        );
        assert_eq!(i["redis_version"], "7.0.15");
        assert_eq!(i["connected_clients"], "3");
    }

    #[tokio::test]
    async fn resp_replies() {
        let (a, mut b) = tokio::io::duplex(1024);
        let mut c = Conn {
            stream: BufStream::new(Box::new(a)),
        };
        b.write_all(b"+PONG\r\n-ERR bad\r\n:42\r\n$5\r\nhello\r\n$-1\r\n")
            .await
            .unwrap();
        assert_eq!(c.read_reply().await.unwrap(), Reply::Status("PONG".into()));
        assert_eq!(
            c.read_reply().await.unwrap(),
            Reply::Error("ERR bad".into())
        );
        assert_eq!(c.read_reply().await.unwrap(), Reply::Int(42));
        assert_eq!(
            c.read_reply().await.unwrap(),
            Reply::Bulk(Some(b"hello".to_vec()))
        );
        assert_eq!(c.read_reply().await.unwrap(), Reply::Bulk(None));
        b.write_all(b"HTTP/1.1 400\r\n").await.unwrap();
        assert!(c.read_reply().await.is_err());
    }
}
