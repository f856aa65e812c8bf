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

use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::secret;
use crate::values::outcome::Status;
use crate::values::reason::{Code, Detail, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, format_bytes, format_millis, one_line, trim_float};

/// The reason catalog entries of `redis` (docs/reasons.md).
pub(crate) static CODES: &[&Code] = &[
    &URL,
    &PASSWORD,
    &REFUSED,
    &NO_SOCKET,
    &CLOSED,
    &IO,
    &TIMEOUT,
    &AUTH,
    &NOAUTH,
    &LOADING,
    &SERVER,
    &UNEXPECTED,
    &MEMORY_LIMIT,
    &NO_USED_MEMORY,
    &REPLICA_LINK,
    &ROLE,
    &D_NO_PASSWORD_NEEDED,
    &D_SERVER,
    &D_MEMORY_MAX,
    &D_MEMORY_SYSTEM,
    &D_CLIENTS,
    &D_KEYS,
    &D_REPLICA,
];

// Detail lines (`-v`).
static D_NO_PASSWORD_NEEDED: Code = Code::detail(
    "redis.detail.no_password_needed",
    "a password was given but the server requires none (AUTH ignored)",
);
static D_SERVER: Code = Code::detail(
    "redis.detail.server",
    "Redis {version} at {address}[ db {db}], role {role}",
);
static D_MEMORY_MAX: Code = Code::detail(
    "redis.detail.memory_max",
    "used_memory {used} of maxmemory {limit} ({pct})",
);
static D_MEMORY_SYSTEM: Code = Code::detail(
    "redis.detail.memory_system",
    "used_memory {used} of system memory (no maxmemory set) {limit} ({pct})",
);
static D_CLIENTS: Code = Code::detail("redis.detail.clients", "connected_clients {clients}");
static D_KEYS: Code = Code::detail("redis.detail.keys", "key_count {keys}");
static D_REPLICA: Code = Code::detail("redis.detail.replica", "replica of {master}, link {link}");

static URL: Code = Code::new("redis.url", "{error}");
static PASSWORD: Code = Code::new("redis.password", "{error}");
static REFUSED: Code = Code::new("redis.refused", "{address}: connection refused");
static NO_SOCKET: Code = Code::new(
    "redis.no_socket",
    "{address}: no server socket there (is Redis running?)",
);
static CLOSED: Code = Code::new(
    "redis.closed",
    "{address}: the server closed the connection while {step}",
);
static IO: Code = Code::new("redis.io", "{address}: {step}: {error}");
static TIMEOUT: Code = Code::variant(
    "redis.timeout",
    "timeout",
    "{address}: timed out after {after} while {step}",
);
static AUTH: Code = Code::new(
    "redis.auth",
    "{address}: authentication failed ({error}, password from {source})",
);
static NOAUTH: Code = Code::new(
    "redis.noauth",
    "{address}: the server requires a password and none was given \
     (set password_env or password_file)",
);
static LOADING: Code = Code::new(
    "redis.loading",
    "{address}: the server is loading its dataset into memory",
);
static SERVER: Code = Code::new("redis.error", "{address}: {step}: {error}");
static UNEXPECTED: Code = Code::new(
    "redis.unexpected",
    "{address}: unexpected reply while {step}: {reply}",
);
static MEMORY_LIMIT: Code = Code::new(
    "redis.memory_limit",
    "used_memory: neither maxmemory nor the system memory is known",
);
static NO_USED_MEMORY: Code = Code::new("redis.no_used_memory", "INFO has no used_memory");
static REPLICA_LINK: Code = Code::new(
    "redis.replica_link",
    "replica's link to its master {master} is {link}, expected up",
);
static ROLE: Code = Code::new("redis.role", "role {role}, expected {want}");

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
    #[serde(
        default,
        deserialize_with = "crate::values::threshold::switch::hi::millis"
    )]
    ping: Option<Threshold>,
    /// `used_memory` as a percentage of `maxmemory` (of the host's memory
    /// when no `maxmemory` is set).
    #[serde(
        default,
        deserialize_with = "crate::values::threshold::switch::hi::percent"
    )]
    used_memory: Option<Threshold>,
    #[serde(
        default,
        deserialize_with = "crate::values::threshold::switch::hi::count"
    )]
    connected_clients: Option<Threshold>,
    role: Option<Role>,
    /// Keys in the selected database (`DBSIZE`).
    #[serde(
        default,
        deserialize_with = "crate::values::threshold::switch::hi::count"
    )]
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
        Box::pin(async move { self.check(ctx).await.into() })
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
                one_line(&line, 40)
            ))),
        }
    }
}

fn protocol(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_owned())
}

impl Redis {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let target = parse_url(&self.url)
            .map_err(|e| Failure::unknown(Reason::new(&URL).with("error", e)))?;
        if let Some(p) = &target.password {
            secret::register(p);
        }
        let password = match (&self.password_env, &self.password_file) {
            (None, None) => target.password.clone(),
            _ => Some(
                crate::check::http::read_secret(
                    ctx,
                    &self.password_env,
                    &self.password_file,
                    "password",
                )
                .map_err(|e| Failure::unknown(Reason::new(&PASSWORD).with("error", e)))?,
            ),
        };
        let user = self.username.clone().or_else(|| target.user.clone());

        let mut step = "connecting";
        let mut found = Found::default();
        let run = self.talk(ctx, &target, user, password, &mut found, &mut step);
        let failure = match ctx.deadline.within(run).await {
            Err(o) => Some(
                Failure::fail(
                    o.reason(&TIMEOUT)
                        .with("address", &target.address)
                        .with("step", step),
                )
                .shown(crate::values::reason::said(
                    &crate::values::reason::common::V_TIMEOUT,
                )),
            ),
            Ok(Err(f)) => Some(f),
            Ok(Ok(())) => None,
        };
        if let Some(mut f) = failure {
            f.detail.append(&mut found.detail);
            return Err(f);
        }
        Ok(self.measure(&target, found))
    }

    /// Talks to the server; fills `found` as it goes.
    async fn talk(
        &self,
        ctx: &Ctx,
        target: &Target,
        user: Option<String>,
        password: Option<String>,
        found: &mut Found,
        step: &mut &'static str,
    ) -> Result<(), Failure> {
        let addr = &target.address;
        let at = |code| Reason::new(code).with("address", addr);
        let io_fail = |step: &'static str, e: io::Error| {
            Failure::fail(match e.kind() {
                io::ErrorKind::ConnectionRefused => at(&REFUSED),
                io::ErrorKind::NotFound if target.unix => at(&NO_SOCKET),
                io::ErrorKind::UnexpectedEof => at(&CLOSED).with("step", step),
                _ => at(&IO)
                    .with("step", step)
                    .with("error", crate::values::io_reason(&e)),
            })
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
                    found.detail.push(Reason::new(&D_NO_PASSWORD_NEEDED).into());
                }
                Reply::Error(e) => {
                    let code = e.split_whitespace().next().unwrap_or("");
                    return Err(Failure::fail(
                        at(&AUTH)
                            .with("error", code)
                            .with("source", self.password_source()),
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
        // Say goodbye so the server does not count an aborted client; its
        // answer does not matter, so it gets a moment (never past the
        // deadline), not the rest of the budget.
        let quit = tokio::time::timeout(Duration::from_millis(200), conn.call(&[b"QUIT"]));
        let _ = ctx.deadline.within(quit).await;
        Ok(())
    }

    /// Where the password came from, for an authentication failure.
    fn password_source(&self) -> String {
        match (&self.password_env, &self.password_file) {
            (Some(e), _) => format!("password_env {e}"),
            (_, Some(f)) => format!("password_file {f}"),
            _ => "the url".into(),
        }
    }

    /// What the server said, as metrics (held against the check's
    /// thresholds by the judge) and the role judgements.
    fn measure(&self, target: &Target, found: Found) -> Measurement {
        let info = &found.info;
        let num = |k: &str| info.get(k).and_then(|v| v.parse::<f64>().ok());
        let ping = found.ping_ms.unwrap_or(0.0);
        let role = info.get("role").map(String::as_str).unwrap_or("unknown");
        let version = info.get("redis_version").map(String::as_str).unwrap_or("?");

        let mut metrics = Vec::new();
        let used = num("used_memory");
        let maxmemory = num("maxmemory").filter(|m| *m > 0.0);
        let system = num("total_system_memory").filter(|m| *m > 0.0);
        let mut detail: Vec<Detail> = vec![
            Reason::new(&D_SERVER)
                .with("version", version)
                .with("address", &target.address)
                .with_opt("db", (target.db != 0).then_some(target.db))
                .with("role", role)
                .into(),
        ];
        let mut observed: Vec<(Status, Reason)> = Vec::new();
        if let Some(used) = used {
            match maxmemory.or(system) {
                Some(limit) => {
                    let pct = used * 100.0 / limit;
                    let of = if maxmemory.is_some() {
                        "maxmemory"
                    } else {
                        "system memory (no maxmemory set)"
                    };
                    let said = if maxmemory.is_some() {
                        &D_MEMORY_MAX
                    } else {
                        &D_MEMORY_SYSTEM
                    };
                    detail.push(
                        Reason::new(said)
                            .with_quantity("used", used, Unit::Bytes)
                            .with_quantity("limit", limit, Unit::Bytes)
                            .with_quantity("pct", pct, Unit::Percent)
                            .into(),
                    );
                    metrics.push((
                        Metric::new(
                            "used_memory_pct",
                            pct,
                            Unit::Percent,
                            Direction::HigherIsWorse,
                        )
                        .held(&self.used_memory),
                        format!("{}% of {of}", trim_float(pct, 1)),
                    ));
                }
                None if self.used_memory.is_some() => {
                    observed.push((Status::Unknown, Reason::new(&MEMORY_LIMIT)));
                }
                None => {}
            }
        } else if self.used_memory.is_some() {
            observed.push((Status::Unknown, Reason::new(&NO_USED_MEMORY)));
        }
        if let Some(c) = num("connected_clients") {
            metrics.push((
                Metric::new(
                    "connected_clients",
                    c,
                    Unit::Count,
                    Direction::HigherIsWorse,
                )
                .held(&self.connected_clients),
                format!("{} clients", trim_float(c, 0)),
            ));
            detail.push(
                Reason::new(&D_CLIENTS)
                    .with("clients", trim_float(c, 0))
                    .into(),
            );
        }
        if let Some(k) = found.keys {
            metrics.push((
                Metric::new("key_count", k as f64, Unit::Count, Direction::HigherIsWorse)
                    .held(&self.key_count),
                format!("{k} keys"),
            ));
            detail.push(Reason::new(&D_KEYS).with("keys", k).into());
        }
        let ping_at = metrics.len();
        metrics.push((
            Metric::new("ping", ping, Unit::Millis, Direction::HigherIsWorse).held(&self.ping),
            format!("PONG {} ({role})", format_millis(ping)),
        ));
        if let Some(used) = used {
            metrics.push((
                Metric::new("used_memory", used, Unit::Bytes, Direction::HigherIsWorse),
                format_bytes(used),
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
            detail.push(
                Reason::new(&D_REPLICA)
                    .with("master", &master)
                    .with("link", link)
                    .into(),
            );
            if link != "up" {
                observed.push((
                    Status::Fail,
                    Reason::new(&REPLICA_LINK)
                        .with("master", master)
                        .with("link", link),
                ));
            }
        }
        if let Some(want) = self.role
            && actual != Some(want)
        {
            observed.push((
                Status::Fail,
                Reason::new(&ROLE)
                    .with("role", role)
                    .with("want", want.to_string()),
            ));
        }

        let mut m = Measurement::headline(metrics, ping_at);
        m.detail = detail;
        m.detail.extend(found.detail.iter().cloned());
        for (status, reason) in observed {
            m.observe(status, reason);
        }
        m
    }
}

/// What the conversation produced.
#[derive(Default)]
struct Found {
    ping_ms: Option<f64>,
    info: BTreeMap<String, String>,
    keys: Option<i64>,
    detail: Vec<Detail>,
}

fn parse_info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn unexpected(addr: &str, step: &str, r: Reply) -> Failure {
    Failure::fail(
        Reason::new(&UNEXPECTED)
            .with("address", addr)
            .with("step", step)
            .with("reply", format!("{r:?}")),
    )
}

/// A `-ERR …` reply: NOAUTH means a password is needed.
fn server_error(addr: &str, step: &str, e: &str, had_password: bool) -> Failure {
    let at = |code| Reason::new(code).with("address", addr);
    if e.starts_with("NOAUTH") && !had_password {
        return Failure::unknown(at(&NOAUTH));
    }
    if e.starts_with("LOADING") {
        return Failure::fail(at(&LOADING));
    }
    Failure::fail(
        at(&SERVER)
            .with("step", step)
            .with("error", one_line(e, 200)),
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

    /// A scripted RESP server on 127.0.0.1 for the kind's own rules (the
    /// integration tests run a real redis-server): it answers each command
    /// by its name from `replies`, and never answers one it has no reply for.
    fn scripted(replies: &'static [(&'static str, &'static str)]) -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        tokio::spawn(async move {
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut s = BufStream::new(s);
                    loop {
                        let mut line = String::new();
                        if s.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let n: usize = line.trim()[1..].parse().unwrap();
                        let mut args = Vec::new();
                        for _ in 0..n {
                            line.clear();
                            s.read_line(&mut line).await.unwrap();
                            line.clear();
                            s.read_line(&mut line).await.unwrap();
                            args.push(line.trim().to_owned());
                        }
                        match replies.iter().find(|(c, _)| *c == args[0]) {
                            Some((_, r)) => {
                                s.write_all(r.as_bytes()).await.unwrap();
                                s.flush().await.unwrap();
                            }
                            None => std::future::pending().await,
                        }
                    }
                });
            }
        });
        port
    }

    const REPLICA_INFO: &str = "$113\r\n# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\n\
                                master_port:6379\r\nmaster_link_status:down\r\n\
                                connected_clients:4\r\n\r\n";

    #[tokio::test]
    async fn reasons_and_metrics() {
        use super::super::harness::{kind, run};
        let t = Duration::from_secs(5);
        let port = scripted(&[
            ("PING", "+PONG\r\n"),
            ("INFO", REPLICA_INFO),
            ("QUIT", "+OK\r\n"),
        ]);
        let r: Redis = kind(&format!(
            "url: redis://127.0.0.1:{port}\nrole: master\nconnected_clients: {{warn: 3}}"
        ))
        .unwrap();
        let m = run(&r, t).await.unwrap();
        assert_eq!(m.value, "4 clients");
        assert_eq!(m.metrics[0].name, "connected_clients");
        assert_eq!(m.metrics[0].value, 4.0);
        assert!(m.metrics[0].threshold.is_some());
        assert_eq!(m.metrics[1].name, "ping");
        let codes: Vec<_> = m.observations.iter().map(|o| o.reason.code.code).collect();
        assert_eq!(codes, ["redis.replica_link", "redis.role"]);
        let link = &m.observations[0].reason;
        assert_eq!(link.param("master"), Some(&"10.0.0.1:6379".into()));
        assert_eq!(link.param("link"), Some(&"down".into()));
        let role = &m.observations[1].reason;
        assert_eq!(role.param("role"), Some(&"slave".into()));
        assert_eq!(role.param("want"), Some(&"master".into()));

        // A password is needed and none was given: the check cannot run.
        let port = scripted(&[("PING", "-NOAUTH Authentication required.\r\n")]);
        let r: Redis = kind(&format!("url: redis://127.0.0.1:{port}")).unwrap();
        let f = run(&r, t).await.unwrap_err();
        assert_eq!(f.status, Status::Unknown);
        assert_eq!(f.reason.code.code, "redis.noauth");

        // INFO is never answered: a timeout that names the step.
        let port = scripted(&[("PING", "+PONG\r\n")]);
        let r: Redis = kind(&format!("url: redis://127.0.0.1:{port}")).unwrap();
        let f = run(&r, Duration::from_millis(300)).await.unwrap_err();
        assert_eq!(f.reason.code.code, "timeout");
        assert_eq!(f.reason.param("step"), Some(&"reading INFO".into()));
        assert_eq!(f.value, "value.timeout {}");

        // Nobody listens.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let r: Redis = kind(&format!("url: redis://127.0.0.1:{port}")).unwrap();
        let f = run(&r, t).await.unwrap_err();
        assert_eq!(f.reason.code.code, "redis.refused");
        assert_eq!(
            f.reason.param("address"),
            Some(&format!("127.0.0.1:{port}").into())
        );
    }
}
