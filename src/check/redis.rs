//! `redis`: PING a Redis server and read `INFO` — memory against
//! `maxmemory`, connected clients, role, optionally the key count — so no
//! shell and no `redis-cli` are needed. Replaces seed 004's
//! `docker compose ps redis` with a check of the server itself.
//!
//! The protocol is the maintained `redis` crate's (1.8, `tokio-comp` only):
//! its RESP framing, reply parser and error codes, through
//! `aio::MultiplexedConnection::new_with_config` over a stream opsrun opens
//! itself. What was found in the crate, and why it is used this way:
//!
//! - The crate's own connect (`Client::get_multiplexed_async_connection`)
//!   runs TCP connect, TLS, `AUTH` and `SELECT` as one call, and its setup
//!   folds every `AUTH` error into "Password authentication failed": the
//!   server's code (`WRONGPASS`) and "AUTH called without any password
//!   configured" are lost, and so is the step a failure happened in. So the
//!   connection info carries no password and no database (the setup then
//!   sends nothing; `set_skip_set_lib_name` drops its `CLIENT SETINFO`), and
//!   this file sends `AUTH` and `SELECT` itself: every step keeps its name
//!   (`connecting`, `negotiating TLS`, `authenticating`, `selecting the
//!   database`, `waiting for PONG`, `reading INFO`, `counting keys`).
//! - TLS (`rediss://`) is tokio-rustls with aws-lc-rs, as for the `tls`,
//!   `http` and `postgres` kinds, and the same roots (`tls::roots`: `ca_file`
//!   alone when given, else the system bundle, else webpki-roots), with the
//!   host name verified. The crate's `tokio-rustls-comp` would add
//!   rustls-native-certs, fail the connection on any unreadable system
//!   certificate, and return handshake errors inside a `RedisError` whose I/O
//!   cause cannot be reached (`as_io_error` is private), so an untrusted CA
//!   and a wrong name could not be told apart.
//! - The default `AsyncConnectionConfig` has a response timeout (500 ms)
//!   of its own; it is turned off: the check's deadline bounds every step.
//! - The crate has no limit on a reply's size (a bulk string of any length
//!   is buffered). The stream handed to it is [`Budgeted`]: at most
//!   [`MAX_REPLY`] bytes are read from the server over the whole
//!   conversation (INFO is a few kB), then the read fails, as the
//!   hand-written client's per-reply cap did.
//! - The connection's driver future must be polled: it is spawned and
//!   aborted when the check ends ([`Driver`]).

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisConnectionInfo, RedisError, Value};
use rustls::pki_types::ServerName;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::secret;
use crate::values::outcome::Status;
use crate::values::reason::{Code, Detail, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, format_bytes, one_line, trim_float};

/// The reason catalog entries of `redis` (docs/reasons.md).
/// Display values (`Code::value`); `role` is the server's own word.
static V_PONG: Code = Code::value("value.redis.pong", "PONG {latency} ({role})");
static V_CLIENTS: Code = Code::value("value.redis.clients", "{count} clients");
static V_KEYS: Code = Code::value("value.redis.keys", "{count} keys");
static V_OF_MAX: Code = Code::value("value.redis.of_max", "{pct} of maxmemory");
static V_OF_SYSTEM: Code = Code::value(
    "value.redis.of_system",
    "{pct} of system memory (no maxmemory set)",
);

pub(crate) static CODES: &[&Code] = &[
    &V_PONG,
    &V_CLIENTS,
    &V_KEYS,
    &V_OF_MAX,
    &V_OF_SYSTEM,
    &URL,
    &PASSWORD,
    &CA_FILE,
    &REFUSED,
    &NO_SOCKET,
    &CLOSED,
    &CLOSED_FIRST,
    &IO,
    &TIMEOUT,
    &TIMEOUT_TLS,
    &TLS,
    &TLS_PLAIN,
    &TLS_NAME,
    &TLS_UNTRUSTED,
    &TLS_UNTRUSTED_SYSTEM,
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
static CA_FILE: Code = Code::new("redis.ca_file", "{error}");
static REFUSED: Code = Code::new("redis.refused", "{address}: connection refused");
static NO_SOCKET: Code = Code::new(
    "redis.no_socket",
    "{address}: no server socket there (is Redis running?)",
);
static CLOSED: Code = Code::new(
    "redis.closed",
    "{address}: the server closed the connection while {step}",
);
static CLOSED_FIRST: Code = Code::variant(
    "redis.closed.first",
    "redis.closed",
    "{address}: the server closed the connection while {step} \
     (a TLS port? then use rediss://)",
);
static IO: Code = Code::new("redis.io", "{address}: {step}: {error}");
static TIMEOUT: Code = Code::variant(
    "redis.timeout",
    "timeout",
    "{address}: timed out after {after} while {step}",
);
static TIMEOUT_TLS: Code = Code::variant(
    "redis.timeout.tls",
    "timeout",
    "{address}: timed out after {after} while negotiating TLS \
     (no TLS answer: is this a plain, non-TLS port?)",
);
static TLS: Code = Code::new("redis.tls", "{address}: TLS handshake failed: {error}");
static TLS_PLAIN: Code = Code::variant(
    "redis.tls.plain",
    "redis.tls",
    "{address}: the server did not answer in TLS (is this a plain, non-TLS port?)",
);
static TLS_NAME: Code = Code::new(
    "redis.tls.name",
    "{address}: the server's certificate is not valid for {name}[ (it names {names})]",
);
static TLS_UNTRUSTED: Code = Code::new(
    "redis.tls.untrusted",
    "{address}: the server's certificate is not signed by the CA in ca_file {path}",
);
static TLS_UNTRUSTED_SYSTEM: Code = Code::variant(
    "redis.tls.untrusted.system",
    "redis.tls.untrusted",
    "{address}: the server's certificate is not signed by a CA the system trusts \
     (set ca_file for a private CA)",
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

/// The step of the TLS handshake.
const STEP_TLS: &str = "negotiating TLS";

/// Most bytes read from the server in one check (INFO is a few kB).
const MAX_REPLY: usize = 4 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redis {
    /// `redis://[user[:password]@]host[:port][/db]`, `rediss://…` (TLS) or
    /// `unix:///path/redis.sock[?db=N]`.
    #[serde(default = "default_url")]
    url: String,
    /// ACL user (Redis 6+); default: the URL's, else none (`default`).
    username: Option<String>,
    password_env: Option<String>,
    password_file: Option<String>,
    /// PEM CA certificate(s) for `rediss://` (relative to the runbook's
    /// directory); without it the system's roots.
    ca_file: Option<String>,
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
    /// The host name (or IP address) the TLS certificate must be valid for.
    host: String,
    unix: bool,
    tls: bool,
    user: Option<String>,
    password: Option<String>,
    db: u32,
}

fn parse_url(url: &str) -> Result<Target, String> {
    let bad = |why: &str| format!("invalid redis url: {why}");
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
            host: String::new(),
            unix: true,
            tls: false,
            user: None,
            password: None,
            db,
        });
    }
    let (rest, tls) = match (url.strip_prefix("redis://"), url.strip_prefix("rediss://")) {
        (Some(r), _) => (r, false),
        (_, Some(r)) => (r, true),
        _ => {
            return Err(bad(
                "expected redis://host:port, rediss://host:port or unix:///path",
            ));
        }
    };
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
    let (address, host) = if let Some(v6) = hostport.strip_prefix('[') {
        let host = v6.split(']').next().unwrap_or("").to_owned();
        if hostport.contains("]:") {
            (hostport.to_owned(), host)
        } else {
            (format!("{hostport}:6379"), host)
        }
    } else if let Some((h, p)) = hostport.rsplit_once(':') {
        p.parse::<u16>()
            .map_err(|_| bad(&format!("port `{p}` is not a number")))?;
        (format!("{h}:{p}"), h.to_owned())
    } else {
        (format!("{hostport}:6379"), hostport.to_owned())
    };
    if tls && ServerName::try_from(host.as_str()).is_err() {
        return Err(bad(&format!(
            "`{host}` is not a host name or IP address a certificate can name"
        )));
    }
    let path = path.split('?').next().unwrap_or("");
    let db = if path.is_empty() {
        0
    } else {
        path.parse()
            .map_err(|_| bad(&format!("database `{path}` is not a number")))?
    };
    Ok(Target {
        address,
        host,
        unix: false,
        tls,
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
        let target = parse_url(&self.url)?;
        if self.password_env.is_some() && self.password_file.is_some() {
            return Err("set only one of `password_env` or `password_file`".into());
        }
        if self.ca_file.is_some() && !target.tls {
            return Err("`ca_file` is for TLS: use a rediss:// url, or drop `ca_file`".into());
        }
        Ok(())
    }
}

/// The byte stream given to the crate, with a budget: after [`MAX_REPLY`]
/// bytes read from the server, reads fail (the crate buffers a reply of any
/// size). It also notes an end of stream, so a failure the crate reports
/// as a broken pipe can be said as "the server closed the connection".
struct Budgeted<S> {
    inner: S,
    left: usize,
    seen: Arc<Seen>,
}

#[derive(Default)]
struct Seen {
    eof: AtomicBool,
    over: AtomicBool,
}

impl<S: AsyncRead + Unpin> AsyncRead for Budgeted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if this.left == 0 {
            this.seen.over.store(true, Ordering::Relaxed);
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the server's replies exceed 4 MiB",
            )));
        }
        let n = if buf.remaining() <= this.left {
            let before = buf.filled().len();
            match Pin::new(&mut this.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => buf.filled().len() - before,
                other => return other,
            }
        } else {
            // Read no more than the budget: through a buffer of its size.
            let mut tmp = vec![0; this.left];
            let mut small = ReadBuf::new(&mut tmp);
            match Pin::new(&mut this.inner).poll_read(cx, &mut small) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            buf.put_slice(small.filled());
            small.filled().len()
        };
        if n == 0 {
            this.seen.eof.store(true, Ordering::Relaxed);
        }
        this.left -= n;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Budgeted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The connection's driver task (it moves replies from the socket to the
/// callers), ended with the check whichever way the check ends.
struct Driver(tokio::task::JoinHandle<()>);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One open conversation.
struct Conn {
    con: MultiplexedConnection,
    seen: Arc<Seen>,
    /// Commands sent so far.
    calls: u32,
    _driver: Driver,
}

impl Conn {
    /// Hands `stream` to the crate. The connection info has no password and
    /// no database, and no `CLIENT SETINFO`: the setup sends nothing.
    async fn new<S>(stream: S) -> Result<Conn, RedisError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let seen = Arc::new(Seen::default());
        let stream = Budgeted {
            inner: stream,
            left: MAX_REPLY,
            seen: seen.clone(),
        };
        let info = RedisConnectionInfo::default().set_skip_set_lib_name();
        let config = AsyncConnectionConfig::new().set_response_timeout(None);
        let (con, driver) = MultiplexedConnection::new_with_config(&info, stream, config).await?;
        Ok(Conn {
            con,
            seen,
            calls: 0,
            _driver: Driver(tokio::spawn(driver)),
        })
    }

    async fn call(&mut self, cmd: &redis::Cmd) -> Result<Value, RedisError> {
        self.calls += 1;
        cmd.query_async(&mut self.con).await
    }
}

/// How a step of the conversation went wrong.
enum Trouble {
    /// The server answered with an error (`code`, then the rest).
    Server(String),
    /// Anything else, already a reason.
    Failed(Failure),
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
        let mut found = Found::default();
        let tls = if target.tls {
            let (roots, note) = super::tls::roots(ctx, self.ca_file.as_deref())
                .map_err(|e| Failure::unknown(Reason::new(&CA_FILE).with("error", e)))?;
            found.detail.push(note.into());
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| Failure::unknown(Reason::new(&CA_FILE).with("error", e.to_string())))?
            .with_root_certificates(roots)
            .with_no_client_auth();
            Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
        } else {
            None
        };

        let mut step = "connecting";
        let run = self.talk(ctx, &target, tls, user, password, &mut found, &mut step);
        let failure = match ctx.deadline.within(run).await {
            Err(o) => Some(
                Failure::fail(
                    // A plain Redis port given a ClientHello waits for a
                    // newline that may never come: say what it likely is.
                    o.reason(if step == STEP_TLS {
                        &TIMEOUT_TLS
                    } else {
                        &TIMEOUT
                    })
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

    /// Opens the stream: TCP or Unix socket, then TLS for `rediss://`.
    async fn open(
        &self,
        target: &Target,
        tls: Option<tokio_rustls::TlsConnector>,
        step: &mut &'static str,
    ) -> Result<Conn, Failure> {
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
        let opened = |e: RedisError| {
            Failure::fail(
                at(&IO)
                    .with("step", "connecting")
                    .with("error", one_line(&e.to_string(), 200)),
            )
        };
        if target.unix {
            let s = tokio::net::UnixStream::connect(addr)
                .await
                .map_err(|e| io_fail(step, e))?;
            return Conn::new(s).await.map_err(opened);
        }
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| io_fail(step, e))?;
        let Some(tls) = tls else {
            return Conn::new(tcp).await.map_err(opened);
        };
        *step = STEP_TLS;
        let name = ServerName::try_from(target.host.clone())
            .map_err(|e| Failure::unknown(Reason::new(&URL).with("error", e.to_string())))?;
        let s = tls.connect(name, tcp).await.map_err(|e| {
            match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(r) => Failure::fail(self.tls_reason(target, r)),
                None => io_fail(step, e),
            }
        })?;
        Conn::new(s).await.map_err(opened)
    }

    /// A refused TLS handshake, said for what the user can fix.
    fn tls_reason(&self, target: &Target, e: &rustls::Error) -> Reason {
        use rustls::CertificateError as C;
        let at = |code| Reason::new(code).with("address", &target.address);
        match e {
            rustls::Error::InvalidCertificate(C::NotValidForName) => {
                at(&TLS_NAME).with("name", &target.host)
            }
            rustls::Error::InvalidCertificate(C::NotValidForNameContext { presented, .. }) => {
                at(&TLS_NAME)
                    .with("name", &target.host)
                    .with_opt("names", (!presented.is_empty()).then(|| names(presented)))
            }
            rustls::Error::InvalidCertificate(C::UnknownIssuer) => match &self.ca_file {
                Some(ca) => at(&TLS_UNTRUSTED).with("path", ca),
                None => at(&TLS_UNTRUSTED_SYSTEM),
            },
            rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
                at(&TLS_PLAIN)
            }
            other => at(&TLS).with("error", one_line(&other.to_string(), 200)),
        }
    }

    /// Talks to the server; fills `found` as it goes.
    #[allow(clippy::too_many_arguments)]
    async fn talk(
        &self,
        ctx: &Ctx,
        target: &Target,
        tls: Option<tokio_rustls::TlsConnector>,
        user: Option<String>,
        password: Option<String>,
        found: &mut Found,
        step: &mut &'static str,
    ) -> Result<(), Failure> {
        let addr = &target.address;
        let mut conn = self.open(target, tls, step).await?;
        let had_password = password.is_some();
        // A failed call, as a reason naming its step.
        let fail = |conn: &Conn, step: &'static str, e: RedisError| -> Trouble {
            let at = |code| Reason::new(code).with("address", addr);
            if let Some(code) = e.code() {
                return Trouble::Server(match e.detail() {
                    Some(d) => format!("{code} {d}"),
                    None => code.to_owned(),
                });
            }
            Trouble::Failed(Failure::fail(if conn.seen.over.load(Ordering::Relaxed) {
                at(&IO).with("step", step).with(
                    "error",
                    "the server's replies exceed 4 MiB, the most read in one check",
                )
            } else if conn.seen.eof.load(Ordering::Relaxed) || e.is_connection_dropped() {
                // A TLS-only port resets a plain client at its first command.
                let first = conn.calls == 1 && !target.tls;
                at(if first { &CLOSED_FIRST } else { &CLOSED }).with("step", step)
            } else if e.kind() == redis::ErrorKind::Parse {
                at(&IO)
                    .with("step", step)
                    .with("error", "not a Redis reply (is this a Redis server?)")
            } else {
                let text = e.to_string();
                let text = text.split(" (os error").next().unwrap_or(&text);
                at(&IO)
                    .with("step", step)
                    .with("error", one_line(text, 200))
            }))
        };
        let server = |step: &'static str, t: Trouble| match t {
            Trouble::Server(e) => server_error(addr, step, &e, had_password),
            Trouble::Failed(f) => f,
        };

        if let Some(pw) = &password {
            *step = "authenticating";
            let mut auth = redis::cmd("AUTH");
            if let Some(u) = &user {
                auth.arg(u);
            }
            auth.arg(pw);
            match conn.call(&auth).await.map_err(|e| fail(&conn, step, e)) {
                Ok(_) => {}
                // The server has no password: say so, and carry on.
                Err(Trouble::Server(e)) if e.contains("without any password configured") => {
                    found.detail.push(Reason::new(&D_NO_PASSWORD_NEEDED).into());
                }
                Err(Trouble::Server(e)) => {
                    let code = e.split_whitespace().next().unwrap_or("");
                    return Err(Failure::fail(
                        Reason::new(&AUTH)
                            .with("address", addr)
                            .with("error", code)
                            .with("source", self.password_source()),
                    ));
                }
                Err(Trouble::Failed(f)) => return Err(f),
            }
        }
        if target.db != 0 {
            *step = "selecting the database";
            let mut select = redis::cmd("SELECT");
            select.arg(target.db);
            conn.call(&select)
                .await
                .map_err(|e| server(step, fail(&conn, step, e)))?;
        }

        *step = "waiting for PONG";
        let started = Instant::now();
        match conn
            .call(&redis::cmd("PING"))
            .await
            .map_err(|e| server(step, fail(&conn, step, e)))?
        {
            Value::SimpleString(s) if s == "PONG" => {}
            other => return Err(unexpected(addr, step, &other)),
        }
        found.ping_ms = Some(started.elapsed().as_secs_f64() * 1000.0);

        *step = "reading INFO";
        match conn
            .call(&redis::cmd("INFO"))
            .await
            .map_err(|e| server(step, fail(&conn, step, e)))?
        {
            Value::BulkString(text) => found.info = parse_info(&String::from_utf8_lossy(&text)),
            Value::VerbatimString { text, .. } => found.info = parse_info(&text),
            other => return Err(unexpected(addr, step, &other)),
        }

        if self.key_count.is_some() {
            *step = "counting keys";
            match conn
                .call(&redis::cmd("DBSIZE"))
                .await
                .map_err(|e| server(step, fail(&conn, step, e)))?
            {
                Value::Int(n) => found.keys = Some(n),
                other => return Err(unexpected(addr, step, &other)),
            }
        }
        // Say goodbye so the server does not count an aborted client; its
        // answer does not matter, so it gets a moment (never past the
        // deadline), not the rest of the budget.
        let quit = redis::cmd("QUIT");
        let quit = tokio::time::timeout(Duration::from_millis(200), conn.call(&quit));
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
                        crate::values::reason::say(
                            &Reason::new(if maxmemory.is_some() {
                                &V_OF_MAX
                            } else {
                                &V_OF_SYSTEM
                            })
                            .with_quantity("pct", pct, Unit::Percent),
                        ),
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
                crate::values::reason::say(
                    &Reason::new(&V_CLIENTS).with("count", trim_float(c, 0)),
                ),
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
                crate::values::reason::say(&Reason::new(&V_KEYS).with("count", k)),
            ));
            detail.push(Reason::new(&D_KEYS).with("keys", k).into());
        }
        let ping_at = metrics.len();
        metrics.push((
            Metric::new("ping", ping, Unit::Millis, Direction::HigherIsWorse).held(&self.ping),
            crate::values::reason::say(
                &Reason::new(&V_PONG)
                    .with_quantity("latency", ping, Unit::Millis)
                    .with("role", role),
            ),
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

/// rustls's presented names, `DnsName("a")`, `IpAddress(…)`, as `a, …`.
fn names(presented: &[String]) -> String {
    presented
        .iter()
        .map(|p| p.split('"').nth(1).unwrap_or(p))
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn unexpected(addr: &str, step: &str, v: &Value) -> Failure {
    Failure::fail(
        Reason::new(&UNEXPECTED)
            .with("address", addr)
            .with("step", step)
            .with("reply", one_line(&format!("{v:?}"), 80)),
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
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};

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
        let t = parse_url("rediss://cache.internal:6380/3").unwrap();
        assert!(t.tls);
        assert_eq!(t.host, "cache.internal");
        assert_eq!(t.db, 3);
        let t = parse_url("rediss://[::1]").unwrap();
        assert_eq!((t.address.as_str(), t.host.as_str()), ("[::1]:6379", "::1"));
        assert!(
            parse_url("rediss://bad_host!:1")
                .unwrap_err()
                .contains("certificate")
        );
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
    async fn replies_are_bounded() {
        // A bulk string larger than the budget: the read fails, nothing
        // past the budget is buffered.
        let (a, mut b) = tokio::io::duplex(64 * 1024);
        let mut c = Conn::new(a).await.unwrap();
        let big = MAX_REPLY + 10;
        tokio::spawn(async move {
            let mut buf = vec![0; 64];
            let _ = b.read(&mut buf).await;
            let _ = b.write_all(format!("${big}\r\n").as_bytes()).await;
            let chunk = vec![b'x'; 64 * 1024];
            while b.write_all(&chunk).await.is_ok() {}
        });
        let e = c.call(&redis::cmd("INFO")).await.unwrap_err();
        assert!(c.seen.over.load(Ordering::Relaxed), "{e}");
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
        assert_eq!(m.value, "value.redis.clients {count=\"4\"}");
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
