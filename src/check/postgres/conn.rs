//! Where and as whom `postgres` connects, resolved the way libpq users
//! expect: the check's fields (or its `url`), then the `PG*` environment,
//! then libpq's defaults. The password comes from `password_env` /
//! `password_file`, else the URL, else `PGPASSWORD`, else the password file
//! (`passfile` in the URL, `PGPASSFILE`, or `~/.pgpass`), which — as libpq
//! does — is ignored when group or world can read it.
//!
//! [`connect`] opens the socket itself and hands it to tokio-postgres's
//! `connect_raw` under the message-size cap of `framing.rs` (tokio-postgres's
//! own `connect` would own the socket, leaving nothing to put under it).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::config::{Host, LoadBalanceHosts, SslMode as PgSslMode, TargetSessionAttrs};
use tokio_postgres::{Client, SimpleQueryMessage};

use super::AbortOnDrop;
use super::framing::{Framed, Tripwire};
use super::tls::{self, RustlsConnect, Verify};
use super::{Postgres, SslMode};
use crate::check::Ctx;
use crate::secret;
use crate::values::reason::{Code, Reason};

/// Reads an environment variable (injectable for tests).
pub(super) type EnvFn<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(super) fn real_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Everything needed to open the connection.
pub(super) struct Resolved {
    pub config: tokio_postgres::Config,
    /// `127.0.0.1:5432` or `/var/run/postgresql/.s.PGSQL.5432`.
    pub address: String,
    pub user: String,
    pub dbname: String,
    /// Where the password came from (never the password itself).
    pub password_from: Option<String>,
    /// What is worth knowing when authentication fails: why the password
    /// file gave no password (a `postgres.passfile` reason).
    pub note: Option<Reason>,
    pub sslmode: SslMode,
    /// Set when TLS may be used (TCP and sslmode other than disable).
    pub tls: Option<Arc<ClientConfig>>,
    /// The root certificates' file as resolved (or `system`), for a child
    /// program that connects to the same server.
    pub rootcert: Option<String>,
    /// Set when the server sent a message over the size cap.
    pub oversize: Tripwire,
}

/// Settings written in the URL that tokio-postgres does not parse itself.
#[derive(Default, Debug, PartialEq)]
struct UrlExtras {
    sslmode: Option<String>,
    sslrootcert: Option<String>,
    passfile: Option<String>,
}

/// Removes `sslmode`, `sslrootcert` and `passfile` from a URL's query so
/// tokio-postgres (which knows only disable/prefer/require) can parse the rest.
fn split_url(url: &str) -> (String, UrlExtras) {
    let mut extras = UrlExtras::default();
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), extras);
    };
    let mut kept = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let v = percent_decode(v);
        match k {
            "sslmode" => extras.sslmode = Some(v),
            "sslrootcert" => extras.sslrootcert = Some(v),
            "passfile" => extras.passfile = Some(v),
            _ => kept.push(kv),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, extras)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks a `url` at load time; the message says what is wrong with it.
pub(super) fn check_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("`url` must start with postgres:// or postgresql://".into());
    }
    let (rest, extras) = split_url(url);
    if let Some(m) = &extras.sslmode {
        SslMode::parse(m)?;
    }
    tokio_postgres::Config::from_str(&rest)
        .map(|_| ())
        .map_err(|e| format!("invalid `url`: {}", secret::redact(&error_text(&e))))
}

fn error_text(e: &tokio_postgres::Error) -> String {
    crate::check::http::error_chain(e)
        .trim_start_matches("invalid configuration: ")
        .to_owned()
}

/// The OS user name, libpq's default user.
fn os_user() -> Option<String> {
    let uid = rustix::process::geteuid().as_raw();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[2].parse() == Ok(uid))
        .map(|f| f[0].to_owned())
        .or_else(|| real_env("USER"))
}

/// libpq's default server when no host is given: Debian's socket directory
/// if there is one, else `/tmp` if a server socket is there, else localhost.
fn default_host(port: u16) -> String {
    if Path::new("/var/run/postgresql").is_dir() {
        "/var/run/postgresql".into()
    } else if Path::new(&format!("/tmp/.s.PGSQL.{port}")).exists() {
        "/tmp".into()
    } else {
        "localhost".into()
    }
}

fn host_text(h: &Host) -> String {
    match h {
        Host::Tcp(s) => s.clone(),
        Host::Unix(p) => p.display().to_string(),
    }
}

/// Resolves the connection of `pg`; `Err` is a reason the check cannot be
/// carried out (a secret that cannot be read, an unusable root certificate).
pub(super) fn resolve(pg: &Postgres, ctx: &Ctx, env: EnvFn) -> Result<Resolved, Reason> {
    let (mut config, extras) = match &pg.url {
        Some(url) => {
            let (rest, extras) = split_url(url);
            let config = tokio_postgres::Config::from_str(&rest).map_err(|e| {
                Reason::new(&super::URL).with("error", secret::redact(&error_text(&e)))
            })?;
            (config, extras)
        }
        None => (tokio_postgres::Config::new(), UrlExtras::default()),
    };

    // Port first: the default host depends on it.
    if let Some(p) = pg.port {
        config.port(p);
    } else if config.get_ports().is_empty() {
        let p = match env("PGPORT") {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| Reason::new(&super::PGPORT).with("value", &p))?,
            None => 5432,
        };
        config.port(p);
    }
    let port = config.get_ports().first().copied().unwrap_or(5432);
    if let Some(h) = &pg.host {
        config.host(h);
    } else if config.get_hosts().is_empty() {
        match env("PGHOST") {
            Some(hs) => {
                for h in hs.split(',').filter(|h| !h.trim().is_empty()) {
                    config.host(h.trim());
                }
            }
            None => {
                config.host(default_host(port));
            }
        }
    }
    let user = match (&pg.user, config.get_user()) {
        (Some(u), _) => u.clone(),
        (None, Some(u)) => u.to_owned(),
        (None, None) => env("PGUSER")
            .or_else(os_user)
            .ok_or_else(|| Reason::new(&super::NO_USER))?,
    };
    config.user(&user);
    let dbname = match (&pg.dbname, config.get_dbname()) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => d.to_owned(),
        (None, None) => env("PGDATABASE").unwrap_or_else(|| user.clone()),
    };
    config.dbname(&dbname);
    // No connect_timeout: the check's own deadline bounds the whole
    // conversation and says which step was slow.
    config.application_name("opsrun");

    let first_host = config
        .get_hosts()
        .first()
        .map(host_text)
        .unwrap_or_default();
    let is_socket = |h: &Host| matches!(h, Host::Unix(_));
    let all_sockets = config.get_hosts().iter().all(is_socket);
    let address = if all_sockets {
        format!("{first_host}/.s.PGSQL.{port}")
    } else if first_host.contains(':') {
        format!("[{first_host}]:{port}")
    } else {
        format!("{first_host}:{port}")
    };

    let mut note = None;
    let password_from = match (&pg.password_env, &pg.password_file) {
        (Some(_), _) | (_, Some(_)) => {
            let p = crate::check::http::read_secret(
                ctx,
                &pg.password_env,
                &pg.password_file,
                "password",
            )
            .map_err(|e| Reason::new(&super::PASSWORD).with("error", e))?;
            config.password(p);
            Some(match (&pg.password_env, &pg.password_file) {
                (Some(e), _) => format!("password_env {e}"),
                (_, Some(f)) => format!("password_file {f}"),
                _ => unreachable!(),
            })
        }
        _ if config.get_password().is_some() => {
            if let Some(p) = config.get_password() {
                secret::register(&String::from_utf8_lossy(p));
            }
            Some("the url".to_owned())
        }
        _ => {
            if let Some(p) = env("PGPASSWORD") {
                secret::register(&p);
                config.password(p);
                Some("PGPASSWORD".to_owned())
            } else {
                let (path, shown) = match extras.passfile.clone().or_else(|| env("PGPASSFILE")) {
                    Some(p) => (ctx.path(&p), p),
                    None => match env("HOME") {
                        Some(home) => (PathBuf::from(home).join(".pgpass"), "~/.pgpass".into()),
                        None => (PathBuf::new(), String::new()),
                    },
                };
                match read_passfile(&path, &shown) {
                    Ok(Some(text)) => {
                        match pgpass_lookup(&text, &first_host, port, &dbname, &user) {
                            Some(p) => {
                                secret::register(&p);
                                config.password(p);
                                Some(shown)
                            }
                            None => {
                                note = Some(
                                    Reason::new(&super::PASSFILE_NO_MATCH).with("passfile", shown),
                                );
                                None
                            }
                        }
                    }
                    Ok(None) => None,
                    Err(why) => {
                        note = Some(why);
                        None
                    }
                }
            }
        }
    };

    let sslmode = match (pg.sslmode, &extras.sslmode, env("PGSSLMODE")) {
        (Some(m), _, _) => m,
        (None, Some(m), _) => {
            SslMode::parse(m).map_err(|_| Reason::new(&super::SSLMODE).with("value", m.as_str()))?
        }
        (None, None, Some(m)) => SslMode::parse(&m).map_err(|_| {
            Reason::new(&super::SSLMODE)
                .with("source", "PGSSLMODE")
                .with("value", m.as_str())
        })?,
        (None, None, None) => SslMode::Prefer,
    };
    // libpq never uses TLS over a Unix socket, whatever sslmode says.
    let effective = if all_sockets {
        SslMode::Disable
    } else {
        sslmode
    };
    let rootcert = pg
        .sslrootcert
        .clone()
        .or(extras.sslrootcert)
        .or_else(|| env("PGSSLROOTCERT"));
    let default_root = env("HOME").map(|h| PathBuf::from(h).join(".postgresql").join("root.crt"));
    let tls = match effective {
        SslMode::Disable => None,
        mode => {
            let roots = match (&rootcert, &default_root) {
                (Some(r), _) => Some(tls::roots(r, &ctx.path(r))?),
                (None, Some(d)) if d.is_file() => Some(tls::roots(&d.display().to_string(), d)?),
                _ => None,
            };
            let verify = match mode {
                SslMode::VerifyFull => Verify::Full,
                SslMode::VerifyCa => Verify::Chain,
                // libpq: with a root certificate at hand, `require`
                // verifies the chain.
                SslMode::Require if roots.is_some() => Verify::Chain,
                _ => Verify::Nothing,
            };
            if verify != Verify::Nothing && roots.is_none() {
                return Err(Reason::new(&super::NEEDS_ROOT).with("sslmode", mode.as_str()));
            }
            Some(tls::client_config(verify, roots)?)
        }
    };
    config.ssl_mode(match effective {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        _ => PgSslMode::Require,
    });

    Ok(Resolved {
        config,
        address,
        user,
        dbname,
        password_from,
        note,
        sslmode: effective,
        tls,
        rootcert: rootcert.map(|r| {
            if r == "system" {
                r
            } else {
                ctx.path(&r).display().to_string()
            }
        }),
        oversize: Tripwire::default(),
    })
}

/// A connected socket, before TLS.
pub(crate) enum Raw {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl AsyncRead for Raw {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Raw::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Raw::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Raw {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Raw::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Raw::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Raw::Tcp(s) => Pin::new(s).poll_flush(cx),
            Raw::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Raw::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Raw::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Why no connection came up: the socket, or the PostgreSQL conversation.
#[derive(Debug, thiserror::Error)]
pub(super) enum ConnectError {
    #[error("error connecting to server")]
    Socket(#[source] io::Error),
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
}

impl ConnectError {
    /// The error to describe: tokio-postgres's own, so a server's answer
    /// (a `DbError`) can be found in it.
    pub(super) fn cause(&self) -> &(dyn std::error::Error + 'static) {
        match self {
            ConnectError::Socket(_) => self,
            ConnectError::Postgres(e) => e,
        }
    }
}

fn invalid(msg: String) -> ConnectError {
    ConnectError::Socket(io::Error::new(io::ErrorKind::InvalidInput, msg))
}

/// Connects as tokio-postgres's `Config::connect` does — each host in turn
/// (in random order with `load_balance_hosts=random`), `hostaddr` for the
/// address and `host` for TLS, every address a name resolves to, then
/// `target_session_attrs` — with each socket under the message-size cap.
/// The connection's task runs until the returned guard is dropped.
pub(super) async fn connect(r: &Resolved) -> Result<(Client, AbortOnDrop), ConnectError> {
    let config = &r.config;
    let hosts = config.get_hosts();
    let hostaddrs = config.get_hostaddrs();
    let ports = config.get_ports();
    if !hosts.is_empty() && !hostaddrs.is_empty() && hosts.len() != hostaddrs.len() {
        return Err(invalid(format!(
            "number of hosts ({}) is different from number of hostaddrs ({})",
            hosts.len(),
            hostaddrs.len()
        )));
    }
    let count = hosts.len().max(hostaddrs.len());
    if count == 0 {
        return Err(invalid("both host and hostaddr are missing".into()));
    }
    if ports.len() > 1 && ports.len() != count {
        return Err(invalid("invalid number of ports".into()));
    }
    let mut order: Vec<usize> = (0..count).collect();
    if config.get_load_balance_hosts() == LoadBalanceHosts::Random {
        shuffle(&mut order);
    }
    let mut last = None;
    for i in order {
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        // The host name is for TLS; a Unix socket has none.
        let hostname = match hosts.get(i) {
            Some(Host::Tcp(h)) => h.clone(),
            _ => String::new(),
        };
        let target = match (hostaddrs.get(i), hosts.get(i)) {
            (Some(ip), _) => Host::Tcp(ip.to_string()),
            (None, Some(h)) => h.clone(),
            (None, None) => continue,
        };
        match connect_host(r, &target, &hostname, port).await {
            Ok(c) => return Ok(c),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| invalid("no host to connect to".into())))
}

async fn connect_host(
    r: &Resolved,
    target: &Host,
    hostname: &str,
    port: u16,
) -> Result<(Client, AbortOnDrop), ConnectError> {
    match target {
        Host::Tcp(host) => {
            let addrs = tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(ConnectError::Socket)?;
            let mut last = None;
            for addr in addrs {
                let attempt = async {
                    let s = TcpStream::connect(addr)
                        .await
                        .map_err(ConnectError::Socket)?;
                    s.set_nodelay(true).map_err(ConnectError::Socket)?;
                    start(r, Raw::Tcp(s), hostname).await
                };
                match attempt.await {
                    Ok(c) => return Ok(c),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| invalid("could not resolve any addresses".into())))
        }
        Host::Unix(dir) => {
            let path = dir.join(format!(".s.PGSQL.{port}"));
            let s = UnixStream::connect(path)
                .await
                .map_err(ConnectError::Socket)?;
            start(r, Raw::Unix(s), hostname).await
        }
    }
}

/// The PostgreSQL conversation on a connected socket.
async fn start(
    r: &Resolved,
    raw: Raw,
    hostname: &str,
) -> Result<(Client, AbortOnDrop), ConnectError> {
    let stream = Framed::new(raw, r.oversize.clone());
    let tls = RustlsConnect::new(r.tls.clone(), hostname);
    let (client, connection) = r.config.connect_raw(stream, tls).await?;
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let wanted = r.config.get_target_session_attrs();
    if wanted != TargetSessionAttrs::Any {
        let rows = client.simple_query("SHOW transaction_read_only").await?;
        let read_only = rows.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(|v| v == "on"),
            _ => None,
        });
        let refused = match (wanted, read_only) {
            (TargetSessionAttrs::ReadWrite, Some(true)) => Some("database does not allow writes"),
            (TargetSessionAttrs::ReadOnly, Some(false)) => Some("database is not read only"),
            _ => None,
        };
        if let Some(why) = refused {
            return Err(ConnectError::Socket(io::Error::new(
                io::ErrorKind::PermissionDenied,
                why,
            )));
        }
    }
    Ok((client, driver))
}

/// Fisher–Yates with a seed from the standard library's random hasher keys
/// (no random-number crate for one shuffle).
fn shuffle(v: &mut [usize]) {
    use std::hash::{BuildHasher, Hasher};
    let mut seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        | 1;
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

/// Reads the password file; `Ok(None)` when there is none, `Err(note)`
/// when it exists but is ignored.
fn read_passfile(path: &Path, shown: &str) -> Result<Option<String>, Reason> {
    let note = |code: &'static Code| Reason::new(code).with("passfile", shown);
    if shown.is_empty() {
        return Ok(None);
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Err(note(&super::PASSFILE_NOT_FILE));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(note(&super::PASSFILE_READABLE));
    }
    std::fs::read_to_string(path)
        .map(Some)
        .map_err(|e| note(&super::PASSFILE_UNREADABLE).with("error", crate::values::io_reason(&e)))
}

/// Splits a `.pgpass` line on unescaped colons, undoing `\:` and `\\`.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().expect("non-empty").push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("non-empty").push(c),
        }
    }
    fields
}

/// The password of the first `.pgpass` line matching the connection
/// (`hostname:port:database:username:password`, `*` matches anything; a
/// socket directory also matches `localhost`, as libpq does).
fn pgpass_lookup(text: &str, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let port = port.to_string();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f = pgpass_fields(line);
        if f.len() != 5 {
            continue;
        }
        let host_ok = f[0] == "*" || f[0] == host || (host.starts_with('/') && f[0] == "localhost");
        if host_ok
            && (f[1] == "*" || f[1] == port)
            && (f[2] == "*" || f[2] == db)
            && (f[3] == "*" || f[3] == user)
        {
            return Some(f[4].clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_matching() {
        let text = "# comment\n\
                    db1:5432:app:alice:one\n\
                    *:*:*:bob:two\n\
                    localhost:5432:*:carol:th\\:ree\n\
                    bad line\n";
        assert_eq!(
            pgpass_lookup(text, "db1", 5432, "app", "alice").as_deref(),
            Some("one")
        );
        assert_eq!(pgpass_lookup(text, "db1", 5433, "app", "alice"), None);
        assert_eq!(
            pgpass_lookup(text, "anything", 1, "x", "bob").as_deref(),
            Some("two")
        );
        assert_eq!(
            pgpass_lookup(text, "/var/run/postgresql", 5432, "x", "carol").as_deref(),
            Some("th:ree")
        );
        assert_eq!(pgpass_lookup(text, "db2", 5432, "x", "carol"), None);
    }

    #[test]
    fn url_extras_are_split_off() {
        let (rest, x) = split_url(
            "postgres://u@h:5/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fca.pem",
        );
        assert_eq!(rest, "postgres://u@h:5/db?application_name=x");
        assert_eq!(x.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(x.sslrootcert.as_deref(), Some("/ca.pem"));
        let (rest, x) = split_url("postgres://h/db");
        assert_eq!(rest, "postgres://h/db");
        assert_eq!(x, UrlExtras::default());
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("postgres://u@h:5432/db?sslmode=verify-ca").is_ok());
        assert!(check_url("mysql://h/db").is_err());
        let e = check_url("postgres://h/db?sslmode=sometimes").unwrap_err();
        assert!(e.contains("verify-full"), "{e}");
        let e = check_url("postgres://h/db?bogus=1").unwrap_err();
        assert!(e.contains("bogus"), "{e}");
    }
}
