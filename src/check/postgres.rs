//! `postgres`: connect to PostgreSQL the way libpq users expect and read
//! typed measurements — connect latency, connections against
//! `max_connections`, long-running queries, deadlocks, replication, database
//! size — plus one scalar query of the user's (seed 001's 日次登録数).
//! Replaces the seeds' `psql -c "SELECT version();"`, `SELECT count(*) FROM
//! pg_stat_activity`, the 5-minute query hunt and `SELECT pg_is_in_recovery();`.
//!
//! Everything after the connection runs in one `READ ONLY` transaction with
//! a `statement_timeout` set to what is left of the check's deadline, over
//! the extended protocol (one statement per query, so `SELECT 1; DELETE …`
//! cannot be smuggled in); the transaction is never committed.
//!
//! A failure before the connection is up is a [`Failure`]. Once connected,
//! what was measured is kept: a step that fails or overruns the deadline
//! adds its reason to the measurement (and the value reads `timeout`), so
//! the connect latency and the server version still show.

pub(crate) mod client;
mod conn;
mod framing;
mod tls;

use std::fmt;

use serde::Deserialize;
use tokio::time::Instant;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{Client, Row};

use self::conn::Resolved;
use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, Overran, sections};
use crate::secret;
use crate::values::Dur;
use crate::values::outcome::Status;
use crate::values::reason::{Code, Detail, Reason};
use crate::values::threshold::{Direction, Limit, Threshold};
use crate::values::units::{Unit, format_millis, one_line, trim_float};

/// The reason catalog entries of `postgres` (docs/reasons.md).
pub(crate) static CODES: &[&Code] = &[
    &URL,
    &PGPORT,
    &NO_USER,
    &PASSWORD,
    &SSLMODE,
    &NEEDS_ROOT,
    &ROOTCERT_READ,
    &ROOTCERT_PEM,
    &ROOTCERT_UNUSABLE,
    &ROOTCERT_EMPTY,
    &TLS_SETUP,
    &TLS_SETUP_ROOTS,
    &TLS_SETUP_NO_ROOTS,
    &PASSFILE_NO_MATCH,
    &PASSFILE_NOT_FILE,
    &PASSFILE_READABLE,
    &PASSFILE_UNREADABLE,
    &TIMEOUT_CONNECT,
    &TIMEOUT,
    &TIMEOUT_STATEMENT,
    &TIMEOUT_IO,
    &AUTH,
    &NO_PASSWORD,
    &SERVER,
    &QUERY_INVALID,
    &STEP_ERROR,
    &REFUSED,
    &NO_SOCKET,
    &NO_TLS,
    &TLS_UNTRUSTED,
    &TLS_NAME,
    &TLS_EXPIRED,
    &TLS,
    &RESOLVE,
    &CLOSED,
    &IO,
    &MESSAGE_TOO_LARGE,
    &QUERY_NO_ROWS,
    &QUERY_COLUMNS,
    &QUERY_NULL,
    &QUERY_TYPE,
    &ROLE_STANDBY,
    &ROLE_PRIMARY,
    &LAG_UNKNOWN,
    &LAG_HIDDEN,
    &D_CONNECTION,
    &D_ENCRYPTED,
    &D_NOT_ENCRYPTED,
    &D_MORE_ROWS,
    &D_QUERY,
    &D_CONNECTIONS,
    &D_DEADLOCKS_RESET,
    &D_DEADLOCKS_CREATED,
    &D_NO_LONG_QUERY,
    &D_OLDEST,
    &D_MORE_LONG,
    &D_HIDDEN_SESSIONS,
    &D_WAL_NOT_RUNNING,
    &D_WAL_STATUS,
    &D_WAL_HIDDEN,
    &D_NOT_REPLAYED,
    &D_PRIMARY_NONE,
    &D_PRIMARY_HIDDEN,
    &D_PRIMARY_ONE,
    &D_PRIMARY_MANY,
    &D_STANDBY,
    &D_STANDBY_HIDDEN,
];

// Detail lines (`-v`).
static D_CONNECTION: Code = Code::detail(
    "postgres.detail.connection",
    "{user}@{address} database {dbname} ([password from {source}, ]sslmode {sslmode})",
);
static D_ENCRYPTED: Code =
    Code::detail("postgres.detail.encrypted", "{version}; encrypted ({tls})");
static D_NOT_ENCRYPTED: Code =
    Code::detail("postgres.detail.not_encrypted", "{version}; not encrypted");
static D_MORE_ROWS: Code = Code::detail(
    "postgres.detail.more_rows",
    "query returned more than one row; the first is used",
);
static D_QUERY: Code = Code::detail("postgres.detail.query", "query → {value} ({query})");
static D_CONNECTIONS: Code = Code::detail(
    "postgres.detail.connections",
    "connections by state: {states} (max_connections {max})",
);
static D_DEADLOCKS_RESET: Code = Code::detail(
    "postgres.detail.deadlocks_reset",
    "deadlocks: {total} in total since the statistics reset at {reset}",
);
static D_DEADLOCKS_CREATED: Code = Code::detail(
    "postgres.detail.deadlocks_created",
    "deadlocks: {total} in total since the statistics were created",
);
static D_NO_LONG_QUERY: Code = Code::detail(
    "postgres.detail.no_long_query",
    "no query running longer than {older_than}",
);
static D_OLDEST: Code = Code::detail(
    "postgres.detail.oldest",
    "oldest: pid {pid} {user}@{dbname} {state} for {running}: {query}",
);
static D_MORE_LONG: Code = Code::detail(
    "postgres.detail.more_long",
    "{more} more running longer than {older_than}",
);
static D_HIDDEN_SESSIONS: Code = Code::detail(
    "postgres.detail.hidden_sessions",
    "{hidden} session(s) of other users are not visible to this user \
     (grant pg_read_all_stats to see them)",
);
static D_WAL_NOT_RUNNING: Code = Code::detail(
    "postgres.detail.wal_not_running",
    "standby; WAL receiver not running",
);
static D_WAL_STATUS: Code = Code::detail(
    "postgres.detail.wal_status",
    "standby; WAL receiver {status}",
);
static D_WAL_HIDDEN: Code = Code::detail(
    "postgres.detail.wal_hidden",
    "standby; WAL receiver running (status hidden: grant pg_monitor)",
);
static D_NOT_REPLAYED: Code = Code::detail(
    "postgres.detail.not_replayed",
    "no transaction replayed yet: lag unknown",
);
static D_PRIMARY_NONE: Code = Code::detail(
    "postgres.detail.primary_none",
    "primary, no standby connected",
);
static D_PRIMARY_HIDDEN: Code = Code::detail(
    "postgres.detail.primary_hidden",
    "primary, {standbys} standby(s) (lag hidden: grant pg_monitor)",
);
static D_PRIMARY_ONE: Code = Code::detail(
    "postgres.detail.primary_one",
    "primary, 1 standby (lag {lag})",
);
static D_PRIMARY_MANY: Code = Code::detail(
    "postgres.detail.primary_many",
    "primary, {standbys} standbys (lag {lag})",
);
static D_STANDBY: Code = Code::detail(
    "postgres.detail.standby",
    "standby {name} ({address}): {state}, replay lag {lag}",
);
static D_STANDBY_HIDDEN: Code = Code::detail(
    "postgres.detail.standby_hidden",
    "standby {name} ({address}): state and lag hidden from this user (grant pg_monitor)",
);

// The connection settings (`conn.rs`, `tls.rs`): the check cannot be carried out.
static URL: Code = Code::new("postgres.url", "invalid `url`: {error}");
static PGPORT: Code = Code::new("postgres.pgport", "PGPORT `{value}` is not a port number");
static NO_USER: Code = Code::new(
    "postgres.no_user",
    "no user: set `user`, PGUSER, or run as a user with a name",
);
static PASSWORD: Code = Code::new("postgres.password", "{error}");
static SSLMODE: Code = Code::new(
    "postgres.sslmode",
    "[{source}: ]invalid sslmode `{value}`: expected one of disable, prefer, require, verify-ca, verify-full",
);
static NEEDS_ROOT: Code = Code::new(
    "postgres.needs_root",
    "sslmode {sslmode} needs a root certificate: set `sslrootcert` to a PEM file \
     (or `system` for the well-known public CAs), or use sslmode require",
);
static ROOTCERT_READ: Code = Code::variant(
    "postgres.sslrootcert.read",
    "postgres.sslrootcert",
    "cannot read sslrootcert {path}: {error}",
);
static ROOTCERT_PEM: Code = Code::variant(
    "postgres.sslrootcert.pem",
    "postgres.sslrootcert",
    "sslrootcert {path}: not a PEM certificate ({error})",
);
static ROOTCERT_UNUSABLE: Code = Code::variant(
    "postgres.sslrootcert.unusable",
    "postgres.sslrootcert",
    "sslrootcert {path}: unusable certificate ({error})",
);
static ROOTCERT_EMPTY: Code = Code::variant(
    "postgres.sslrootcert.empty",
    "postgres.sslrootcert",
    "sslrootcert {path}: no certificate found",
);
static TLS_SETUP: Code = Code::new("postgres.tls_setup", "cannot set up TLS: {error}");
static TLS_SETUP_ROOTS: Code = Code::variant(
    "postgres.tls_setup.roots",
    "postgres.tls_setup",
    "cannot use the root certificates: {error}",
);
static TLS_SETUP_NO_ROOTS: Code = Code::variant(
    "postgres.tls_setup.no_roots",
    "postgres.tls_setup",
    "certificate verification needs root certificates",
);

// Notes about the password file, said inside `postgres.auth` and
// `postgres.no_password` (parameter `note`).
static PASSFILE_NO_MATCH: Code = Code::variant(
    "postgres.passfile.no_match",
    "postgres.passfile",
    "no matching line in {passfile}",
);
static PASSFILE_NOT_FILE: Code = Code::variant(
    "postgres.passfile.not_file",
    "postgres.passfile",
    "{passfile} ignored: not a plain file",
);
static PASSFILE_READABLE: Code = Code::variant(
    "postgres.passfile.readable",
    "postgres.passfile",
    "{passfile} ignored: group or world can read it (chmod 600 {passfile})",
);
static PASSFILE_UNREADABLE: Code = Code::variant(
    "postgres.passfile.unreadable",
    "postgres.passfile",
    "{passfile} unreadable: {error}",
);

// Talking to the server.
static TIMEOUT_CONNECT: Code = Code::variant(
    "postgres.timeout.connect",
    "timeout",
    "timed out after {after} while connecting to {address}",
);
static TIMEOUT: Code = Code::variant(
    "postgres.timeout",
    "timeout",
    "timed out after {after} while {step}",
);
static TIMEOUT_STATEMENT: Code = Code::variant(
    "postgres.timeout.statement",
    "timeout",
    "timed out after {after} while {step} (statement_timeout)",
);
static TIMEOUT_IO: Code = Code::variant(
    "postgres.timeout.io",
    "timeout",
    "{address}: timed out while {step}",
);
static AUTH: Code = Code::new(
    "postgres.auth",
    "{address}: {error}[ (password from {source})][; {note}]",
);
static NO_PASSWORD: Code = Code::new(
    "postgres.no_password",
    "{address}: the server asks for a password and none was given \
     (set password_env or password_file, PGPASSWORD, or a ~/.pgpass line)[; {note}]",
);
static SERVER: Code = Code::new("postgres.server", "{address}: {error}");
static QUERY_INVALID: Code = Code::new("postgres.query_invalid", "{step}: {error}");
static STEP_ERROR: Code = Code::new("postgres.error", "{step}: {error}");
static REFUSED: Code = Code::new("postgres.refused", "{address}: connection refused");
static NO_SOCKET: Code = Code::new(
    "postgres.no_socket",
    "{address}: no server socket there (is PostgreSQL running?)",
);
static NO_TLS: Code = Code::new(
    "postgres.no_tls",
    "{address}: the server does not support TLS, expected sslmode {sslmode}",
);
static TLS_UNTRUSTED: Code = Code::new(
    "postgres.tls_untrusted",
    "{address}: TLS: server certificate is not signed by a trusted root (sslrootcert)",
);
static TLS_NAME: Code = Code::new("postgres.tls_name", "{address}: TLS: {error}");
static TLS_EXPIRED: Code = Code::new(
    "postgres.tls_expired",
    "{address}: TLS: server certificate has expired",
);
static TLS: Code = Code::new("postgres.tls", "{address}: TLS handshake failed: {error}");
static RESOLVE: Code = Code::new("postgres.resolve", "{address}: cannot resolve host");
static CLOSED: Code = Code::new(
    "postgres.closed",
    "{address}: the server closed the connection while {step}",
);
static IO: Code = Code::new("postgres.io", "{address}: {step}: {error}");
static MESSAGE_TOO_LARGE: Code = Code::new(
    "postgres.message_too_large",
    "{address}: the server sent a protocol message of {size} while {step}, more than the {limit} opsrun accepts",
);

// What the server said that is not a threshold.
static QUERY_NO_ROWS: Code = Code::new(
    "postgres.query_no_rows",
    "query returned no rows, expected one number",
);
static QUERY_COLUMNS: Code = Code::new(
    "postgres.query_columns",
    "query returned {columns} columns, expected one number",
);
static QUERY_NULL: Code = Code::new(
    "postgres.query_null",
    "query returned NULL, expected a number",
);
static QUERY_TYPE: Code = Code::new(
    "postgres.query_type",
    "query returned a value of type {type}, expected a number",
);
static ROLE_STANDBY: Code = Code::variant(
    "postgres.role.standby",
    "postgres.role",
    "server is a {role} (in recovery), expected {want}",
);
static ROLE_PRIMARY: Code = Code::variant(
    "postgres.role.primary",
    "postgres.role",
    "server is a {role} (not in recovery), expected {want}",
);
static LAG_UNKNOWN: Code = Code::new(
    "postgres.lag_unknown",
    "replication lag unknown: no transaction replayed yet",
);
static LAG_HIDDEN: Code = Code::new(
    "postgres.lag_hidden",
    "replication lag of {hidden} standby(s) is hidden from this user (grant pg_monitor)",
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Postgres {
    /// `postgres://user@host:5432/db?sslmode=verify-full` (a password in it
    /// is accepted and redacted, but `password_env` is the place for it).
    url: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    dbname: Option<String>,
    password_env: Option<String>,
    password_file: Option<String>,
    sslmode: Option<SslMode>,
    /// PEM file of trusted roots, or `system`.
    sslrootcert: Option<String>,
    /// Connection latency threshold (it is always measured).
    #[serde(
        default,
        deserialize_with = "crate::values::threshold::switch::hi::millis"
    )]
    connect: Option<Threshold>,
    #[serde(
        default,
        deserialize_with = "crate::values::threshold::switch::hi::count"
    )]
    connections: Option<Threshold>,
    #[serde(
        default,
        deserialize_with = "crate::values::threshold::switch::hi::percent"
    )]
    connections_pct: Option<Threshold>,
    #[serde(default, deserialize_with = "crate::values::threshold::switch::on")]
    long_queries: Option<LongQueries>,
    #[serde(
        default,
        deserialize_with = "crate::values::threshold::switch::hi::count"
    )]
    deadlocks: Option<Threshold>,
    #[serde(default, deserialize_with = "crate::values::threshold::switch::on")]
    replication: Option<Replication>,
    #[serde(
        default,
        deserialize_with = "crate::values::threshold::switch::hi::bytes"
    )]
    database_size: Option<Threshold>,
    /// One scalar SQL query whose result becomes the `value` metric.
    query: Option<String>,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::number")]
    value: Option<Threshold>,
}

/// libpq's `sslmode` values (`allow` is not offered: it is `prefer` backwards).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    const ALL: [SslMode; 5] = [
        SslMode::Disable,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(s: &str) -> Result<SslMode, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "invalid sslmode `{s}`: expected one of disable, prefer, require, verify-ca, verify-full"
                )
            })
    }
}

/// `long_queries: {older_than: 5m, warn: 1, fail: 3}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LongQueries {
    #[serde(default = "five_minutes", deserialize_with = "Dur::positive")]
    older_than: Dur,
    #[serde(default, deserialize_with = "crate::values::threshold::limit::count")]
    warn: Option<Limit>,
    #[serde(default, deserialize_with = "crate::values::threshold::limit::count")]
    fail: Option<Limit>,
}

fn five_minutes() -> Dur {
    Dur(std::time::Duration::from_secs(300))
}

impl Default for LongQueries {
    fn default() -> Self {
        LongQueries {
            older_than: five_minutes(),
            warn: None,
            fail: None,
        }
    }
}

impl LongQueries {
    /// Without limits, one long query is already worth a warning (the
    /// seeds treat any query over 5 minutes as something to look at).
    fn threshold(&self) -> Threshold {
        if self.warn.is_none() && self.fail.is_none() {
            Threshold::new(Unit::Count, Some(1.0), None)
        } else {
            Threshold::of_limits(Unit::Count, self.warn.clone(), self.fail.clone())
        }
    }
}

/// `replication: {role: primary, lag: {warn: 10s, fail: 1m}, standbys: {fail: 0}}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Replication {
    role: Option<Role>,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::millis")]
    lag: Option<Threshold>,
    /// Standbys connected to a primary (lower is worse).
    #[serde(default, deserialize_with = "crate::values::threshold::lo::count")]
    standbys: Option<Threshold>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Role {
    Primary,
    #[serde(alias = "replica")]
    Standby,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Primary => "primary",
            Role::Standby => "standby",
        })
    }
}

impl Kind for Postgres {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }

    fn section(&self) -> &'static str {
        // A business number (日次登録数) belongs with the day's results;
        // the server's health with the services.
        if self.query.is_some() {
            sections::RESULTS
        } else {
            sections::SERVICES
        }
    }

    fn target(&self) -> String {
        match &self.url {
            Some(u) => format!("postgres {}", secret::redact(u)),
            None => format!(
                "postgres {}@{}:{}/{}",
                self.user.as_deref().unwrap_or("$PGUSER"),
                self.host.as_deref().unwrap_or("$PGHOST"),
                self.port
                    .map(|p| p.to_string())
                    .as_deref()
                    .unwrap_or("5432"),
                self.dbname.as_deref().unwrap_or("$PGDATABASE"),
            ),
        }
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(l) = &self.long_queries {
            super::unreachable_warn(&l.warn, &l.fail)?;
        }
        if let Some(url) = &self.url {
            conn::check_url(url)?;
            for (key, set) in [
                ("host", self.host.is_some()),
                ("port", self.port.is_some()),
                ("user", self.user.is_some()),
                ("dbname", self.dbname.is_some()),
            ] {
                if set {
                    return Err(format!(
                        "`url` already names the server; drop `{key}` or drop `url`"
                    ));
                }
            }
        }
        if self.password_env.is_some() && self.password_file.is_some() {
            return Err("set only one of `password_env` or `password_file`".into());
        }
        if self.value.is_some() && self.query.is_none() {
            return Err("`value` holds the result of `query`; add a `query`".into());
        }
        if let Some(q) = &self.query {
            check_query(q)?;
        }
        Ok(())
    }
}

/// A query must read: the read-only transaction would refuse a write
/// anyway, but saying so at load time is clearer.
fn check_query(q: &str) -> Result<(), String> {
    let mut rest = q.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r
                .split_once('\n')
                .map(|(_, r)| r)
                .unwrap_or("")
                .trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r
                .split_once("*/")
                .map(|(_, r)| r)
                .unwrap_or("")
                .trim_start();
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    match word.as_str() {
        "SELECT" | "WITH" | "VALUES" | "TABLE" => Ok(()),
        "" => Err("`query` is empty: give one SELECT returning one number".into()),
        w => Err(format!(
            "`query` starts with {w}: only a reading query (SELECT, WITH, VALUES, TABLE) is run"
        )),
    }
}

/// Client sessions in `pg_stat_activity`. Without pg_read_all_stats (or
/// pg_monitor) other users' rows hide `backend_type` and `state`; a hidden
/// row with a database and a user is a client session too.
const CLIENT: &str = "(backend_type = 'client backend' \
     OR (backend_type IS NULL AND datid IS NOT NULL AND usesysid IS NOT NULL))";

/// Keeps the connection's driver task from outliving the check.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A failed step: what was being done, and the server's answer.
struct StepError {
    step: &'static str,
    error: tokio_postgres::Error,
}

type StepResult<T> = Result<T, StepError>;

fn at<T>(step: &'static str, r: Result<T, tokio_postgres::Error>) -> StepResult<T> {
    r.map_err(|error| StepError { step, error })
}

/// What the measurement phase produced.
#[derive(Default)]
struct Findings {
    /// Each metric with what the value column shows when it is the headline.
    metrics: Vec<(Metric, String)>,
    detail: Vec<Detail>,
    /// Judgements beyond thresholds (wrong role, a query without a number).
    verdicts: Vec<(Status, Reason)>,
    /// `15.18`, once read.
    version: Option<String>,
}

impl Findings {
    fn metric(&mut self, m: Metric, shown: impl Into<String>) {
        self.metrics.push((m, shown.into()));
    }
}

impl Postgres {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let r = conn::resolve(self, ctx, &conn::real_env).map_err(Failure::unknown)?;
        let started = Instant::now();
        let (client, mut driver) = match ctx.deadline.within(conn::connect(&r)).await {
            Err(o) => {
                return Err(
                    Failure::fail(o.reason(&TIMEOUT_CONNECT).with("address", &r.address)).shown(
                        crate::values::reason::said(&crate::values::reason::common::V_TIMEOUT),
                    ),
                );
            }
            Ok(Err(e)) => {
                let (status, reason) = describe_error(e.cause(), &r, "connecting");
                return Err(Failure {
                    status,
                    ..Failure::fail(reason)
                });
            }
            Ok(Ok(c)) => c,
        };
        let connect_ms = started.elapsed().as_secs_f64() * 1000.0;

        let mut found = Findings::default();
        let mut step = "starting the read-only transaction";
        let measured = ctx
            .deadline
            .within(self.measure(&client, ctx, &mut found, &mut step))
            .await;

        // Close politely (Terminate), so the server does not log an
        // unexpected EOF; the transaction ends with the session. Its answer
        // does not matter: a moment, never past the deadline.
        drop(client);
        let close = tokio::time::timeout(std::time::Duration::from_millis(200), &mut driver.0);
        let _ = ctx.deadline.within(close).await;
        drop(driver);

        // Connect comes last: the headline only when nothing else is asked.
        let connected = match &found.version {
            Some(v) => format!("PostgreSQL {v} ({})", format_millis(connect_ms)),
            None => format!("connected ({})", format_millis(connect_ms)),
        };
        found.metric(
            Metric::new(
                "connect",
                connect_ms,
                Unit::Millis,
                Direction::HigherIsWorse,
            )
            .held(&self.connect),
            connected,
        );
        let fallback = found.metrics.len() - 1;
        let mut m = Measurement::headline(found.metrics, fallback);
        m.detail.push(
            Reason::new(&D_CONNECTION)
                .with("user", &r.user)
                .with("address", &r.address)
                .with("dbname", &r.dbname)
                .with_opt("source", r.password_from.clone())
                .with("sslmode", r.sslmode.as_str())
                .into(),
        );
        m.detail.append(&mut found.detail);
        // The findings' judgements follow the thresholds, and a step that
        // did not finish comes last.
        for (status, reason) in found.verdicts {
            m.observe_late(status, reason);
        }
        match measured {
            Err(o) => {
                m.value = "timeout".into();
                m.observe_late(Status::Fail, o.reason(&TIMEOUT).with("step", step));
            }
            Ok(Err(StepError { step, error })) => {
                // The server's statement_timeout and the deadline race;
                // either way it is the same timeout.
                let (status, reason) = if error.code() == Some(&SqlState::QUERY_CANCELED) {
                    m.value = "timeout".into();
                    let o = Overran {
                        after: ctx.deadline.budget(),
                    };
                    (
                        Status::Fail,
                        o.reason(&TIMEOUT_STATEMENT).with("step", step),
                    )
                } else {
                    describe_error(&error, &r, step)
                };
                m.observe_late(status, reason);
            }
            Ok(Ok(())) => {}
        }
        Ok(m)
    }

    /// Runs every configured measurement in one read-only transaction.
    async fn measure(
        &self,
        client: &Client,
        ctx: &Ctx,
        found: &mut Findings,
        step: &mut &'static str,
    ) -> StepResult<()> {
        // The server gives up when the check would: at the deadline.
        let left = ctx.deadline.remaining().as_millis().max(1);
        at(
            step,
            client
                .batch_execute(&format!(
                    "BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = {left}"
                ))
                .await,
        )?;

        *step = "reading the server version";
        let row = one(
            client,
            step,
            "SELECT current_setting('server_version'), version(), \
             (SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl)",
            &[],
        )
        .await?;
        let short_version: String = row.get(0);
        let short_version = short_version
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_owned();
        found.version = Some(short_version);
        let long_version: String = row.get(1);
        let tls: Option<String> = row.get(2);
        found.detail.push(
            match tls {
                Some(v) => Reason::new(&D_ENCRYPTED).with("tls", v),
                None => Reason::new(&D_NOT_ENCRYPTED),
            }
            .with("version", long_version)
            .into(),
        );

        // Order = headline priority: the user's query first, connect last.
        if let Some(sql) = &self.query {
            *step = "running the query";
            self.run_query(client, sql, found).await?;
        }
        if self.connections.is_some() || self.connections_pct.is_some() {
            *step = "counting connections";
            self.count_connections(client, found).await?;
        }
        if let Some(lq) = &self.long_queries {
            *step = "looking for long queries";
            long_queries(client, lq, found).await?;
        }
        if self.deadlocks.is_some() {
            *step = "reading deadlocks";
            self.read_deadlocks(client, ctx, found).await?;
        }
        if let Some(rep) = &self.replication {
            *step = "reading replication state";
            replication(client, rep, found).await?;
        }
        if self.database_size.is_some() {
            *step = "reading the database size";
            let row = one(
                client,
                step,
                "SELECT pg_database_size(current_database())",
                &[],
            )
            .await?;
            let size: i64 = row.get(0);
            found.metric(
                Metric::new(
                    "database_size",
                    size as f64,
                    Unit::Bytes,
                    Direction::HigherIsWorse,
                )
                .held(&self.database_size),
                Unit::Bytes.format(size as f64),
            );
        }
        Ok(())
    }

    async fn run_query(&self, client: &Client, sql: &str, found: &mut Findings) -> StepResult<()> {
        let step = "running the query";
        let sql = sql.trim().trim_end_matches(';');
        // Through a cursor, so a query that returns a whole table by
        // mistake costs two rows of memory, not the table.
        at(
            step,
            client
                .query_typed(
                    &format!("DECLARE opsrun_query NO SCROLL CURSOR FOR {sql}"),
                    &[],
                )
                .await,
        )?;
        let rows = all(client, step, "FETCH 2 FROM opsrun_query", &[]).await?;
        let Some(first) = rows.first() else {
            found
                .verdicts
                .push((Status::Unknown, Reason::new(&QUERY_NO_ROWS)));
            return Ok(());
        };
        if rows.len() > 1 {
            found.detail.push(Reason::new(&D_MORE_ROWS).into());
        }
        if first.len() != 1 {
            found.verdicts.push((
                Status::Unknown,
                Reason::new(&QUERY_COLUMNS).with("columns", first.len()),
            ));
            return Ok(());
        }
        let ty = first.columns()[0].type_().clone();
        match first.try_get::<_, Num>(0) {
            Ok(Num(Some(v))) => {
                let unit = if [Type::INT2, Type::INT4, Type::INT8].contains(&ty) {
                    Unit::Count
                } else {
                    Unit::Number
                };
                found.detail.push(
                    Reason::new(&D_QUERY)
                        .with("value", trim_float(v, 6))
                        .with("query", one_line(sql, 100))
                        .into(),
                );
                found.metric(
                    Metric::new("value", v, unit, Direction::HigherIsWorse).held(&Some(
                        self.value
                            .clone()
                            .unwrap_or_else(|| Threshold::new(Unit::Number, None, None)),
                    )),
                    trim_float(v, 2),
                );
            }
            Ok(Num(None)) => found
                .verdicts
                .push((Status::Unknown, Reason::new(&QUERY_NULL))),
            Err(_) => found.verdicts.push((
                Status::Unknown,
                Reason::new(&QUERY_TYPE).with("type", ty.to_string()),
            )),
        }
        Ok(())
    }

    async fn count_connections(&self, client: &Client, found: &mut Findings) -> StepResult<()> {
        let step = "counting connections";
        let rows = all(
            client,
            step,
            &format!(
                "SELECT coalesce(state, 'hidden'), count(*) FROM pg_stat_activity \
                 WHERE {CLIENT} GROUP BY 1 ORDER BY 2 DESC, 1"
            ),
            &[],
        )
        .await?;
        let max: i64 = one(
            client,
            step,
            "SELECT current_setting('max_connections')::int8",
            &[],
        )
        .await?
        .get(0);
        let by_state: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let total: i64 = by_state.iter().map(|(_, n)| n).sum();
        let pct = if max > 0 {
            total as f64 * 100.0 / max as f64
        } else {
            0.0
        };
        found.detail.push(
            Reason::new(&D_CONNECTIONS)
                .with(
                    "states",
                    by_state
                        .iter()
                        .map(|(s, n)| format!("{s} {n}"))
                        .collect::<Vec<_>>(),
                )
                .with("max", max)
                .into(),
        );
        let shown = format!(
            "{total} connection{} ({}% of {max})",
            if total == 1 { "" } else { "s" },
            trim_float(pct, 1)
        );
        found.metric(
            Metric::new(
                "connections",
                total as f64,
                Unit::Count,
                Direction::HigherIsWorse,
            )
            .held(&self.connections),
            shown.clone(),
        );
        found.metric(
            Metric::new(
                "connections_pct",
                pct,
                Unit::Percent,
                Direction::HigherIsWorse,
            )
            .held(&self.connections_pct),
            shown,
        );
        Ok(())
    }

    async fn read_deadlocks(
        &self,
        client: &Client,
        ctx: &Ctx,
        found: &mut Findings,
    ) -> StepResult<()> {
        let row = one(
            client,
            "reading deadlocks",
            "SELECT deadlocks, stats_reset::text FROM pg_stat_database \
             WHERE datname = current_database()",
            &[],
        )
        .await?;
        let total: i64 = row.get(0);
        let reset: Option<String> = row.get(1);
        let total = total as f64;
        let since = reset
            .as_ref()
            .map(|r| format!("since the statistics reset at {r}"))
            .unwrap_or_else(|| "since the statistics were created".into());
        let (value, shown) = deadlocks_since(total, ctx.previous.metric("deadlocks_total"), &since);
        let said = match reset {
            Some(r) => Reason::new(&D_DEADLOCKS_RESET).with("reset", r),
            None => Reason::new(&D_DEADLOCKS_CREATED),
        };
        found.detail.push(said.with("total", total as i64).into());
        found.metric(
            Metric::new("deadlocks", value, Unit::Count, Direction::HigherIsWorse)
                .held(&self.deadlocks),
            shown,
        );
        found.metric(
            Metric::new(
                "deadlocks_total",
                total,
                Unit::Count,
                Direction::HigherIsWorse,
            ),
            Unit::Count.format(total),
        );
        Ok(())
    }
}

/// The deadlocks to report: the cumulative count is turned into what
/// happened since the previous run when one is on record; a smaller total
/// than last time means the statistics were reset, and the total is then
/// all there is.
fn deadlocks_since(total: f64, previous: Option<f64>, since: &str) -> (f64, String) {
    match previous {
        Some(prev) if total >= prev => (
            total - prev,
            format!(
                "{} deadlock(s) since the previous run",
                trim_float(total - prev, 0)
            ),
        ),
        _ => (
            total,
            format!("{} deadlock(s) {since}", trim_float(total, 0)),
        ),
    }
}

async fn long_queries(client: &Client, lq: &LongQueries, found: &mut Findings) -> StepResult<()> {
    let step = "looking for long queries";
    let secs = lq.older_than.0.as_secs_f64();
    let rows = all(
        client,
        step,
        &format!(
            "SELECT pid, coalesce(usename, ''), coalesce(datname, ''), state, \
         (extract(epoch FROM clock_timestamp() - query_start) * 1000)::float8, \
         coalesce(query, '') \
         FROM pg_stat_activity \
         WHERE {CLIENT} AND pid <> pg_backend_pid() \
         AND state IS NOT NULL AND state <> 'idle' \
         AND query_start < clock_timestamp() - make_interval(secs => $1) \
         ORDER BY query_start"
        ),
        &[(&secs, Type::FLOAT8)],
    )
    .await?;
    let hidden: i64 = one(
        client,
        step,
        &format!(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE {CLIENT} AND state IS NULL AND pid <> pg_backend_pid()"
        ),
        &[],
    )
    .await?
    .get(0);
    let older = format_millis(secs * 1000.0);
    let count = rows.len();
    let shown = match rows.first() {
        None => {
            found.detail.push(
                Reason::new(&D_NO_LONG_QUERY)
                    .with_quantity("older_than", secs * 1000.0, Unit::Millis)
                    .into(),
            );
            format!("no query running longer than {older}")
        }
        Some(r) => {
            let pid: i32 = r.get(0);
            let user: String = r.get(1);
            let db: String = r.get(2);
            let state: String = r.get(3);
            let ms: f64 = r.get(4);
            let query: String = r.get(5);
            found.detail.push(
                Reason::new(&D_OLDEST)
                    .with("pid", pid)
                    .with("user", user)
                    .with("dbname", db)
                    .with("state", state)
                    .with_quantity("running", ms, Unit::Millis)
                    .with("query", one_line(&query, 100))
                    .into(),
            );
            if count > 1 {
                found.detail.push(
                    Reason::new(&D_MORE_LONG)
                        .with("more", count - 1)
                        .with_quantity("older_than", secs * 1000.0, Unit::Millis)
                        .into(),
                );
            }
            format!(
                "{count} long quer{} (oldest {})",
                if count == 1 { "y" } else { "ies" },
                format_millis(ms)
            )
        }
    };
    if hidden > 0 {
        found.detail.push(
            Reason::new(&D_HIDDEN_SESSIONS)
                .with("hidden", hidden)
                .into(),
        );
    }
    found.metric(
        Metric::new(
            "long_queries",
            count as f64,
            Unit::Count,
            Direction::HigherIsWorse,
        )
        .held(&Some(lq.threshold())),
        shown,
    );
    Ok(())
}

async fn replication(client: &Client, rep: &Replication, found: &mut Findings) -> StepResult<()> {
    let step = "reading replication state";
    let in_recovery: bool = one(client, step, "SELECT pg_is_in_recovery()", &[])
        .await?
        .get(0);
    let role = if in_recovery {
        Role::Standby
    } else {
        Role::Primary
    };
    if let Some(want) = rep.role
        && want != role
    {
        let code = if in_recovery {
            &ROLE_STANDBY
        } else {
            &ROLE_PRIMARY
        };
        found.verdicts.push((
            Status::Fail,
            Reason::new(code)
                .with("role", role.to_string())
                .with("want", want.to_string()),
        ));
    }
    let lag_threshold = Some(
        rep.lag
            .clone()
            .unwrap_or_else(|| Threshold::new(Unit::Millis, None, None)),
    );
    if in_recovery {
        let row = one(
            client,
            step,
            "SELECT EXISTS (SELECT FROM pg_stat_wal_receiver), \
             (SELECT status FROM pg_stat_wal_receiver LIMIT 1), \
             coalesce(pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), false), \
             (extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8",
            &[],
        )
        .await?;
        let receiving: bool = row.get(0);
        let status: Option<String> = row.get(1);
        let caught_up: bool = row.get(2);
        let replay_age: Option<f64> = row.get(3);
        // Its status is hidden from roles without pg_read_all_stats; a
        // running receiver is then taken to be receiving.
        let streaming = receiving && status.as_deref().is_none_or(|s| s == "streaming");
        found.detail.push(
            match (receiving, &status) {
                (false, _) => Reason::new(&D_WAL_NOT_RUNNING),
                (true, Some(s)) => Reason::new(&D_WAL_STATUS).with("status", s),
                (true, None) => Reason::new(&D_WAL_HIDDEN),
            }
            .into(),
        );
        // Everything received is replayed and the stream is up: no lag,
        // however long ago the primary last wrote.
        let lag = if streaming && caught_up {
            Some(0.0)
        } else {
            replay_age.map(|a| a.max(0.0))
        };
        match lag {
            Some(ms) => found.metric(
                Metric::new(
                    "replication_lag",
                    ms,
                    Unit::Millis,
                    Direction::HigherIsWorse,
                )
                .held(&lag_threshold),
                format!("standby, lag {}", format_millis(ms)),
            ),
            None => {
                found.detail.push(Reason::new(&D_NOT_REPLAYED).into());
                if rep.lag.is_some() {
                    found
                        .verdicts
                        .push((Status::Unknown, Reason::new(&LAG_UNKNOWN)));
                }
            }
        }
    } else {
        let rows = all(
            client,
            step,
            "SELECT coalesce(application_name, ''), coalesce(client_addr::text, 'local'), \
             state, (extract(epoch FROM replay_lag) * 1000)::float8 \
             FROM pg_stat_replication ORDER BY 1",
            &[],
        )
        .await?;
        let mut max_lag: Option<f64> = None;
        let mut hidden = 0usize;
        let mut lines = Vec::new();
        for r in &rows {
            let name: String = r.get(0);
            let addr: String = r.get(1);
            let state: Option<String> = r.get(2);
            // NULL lag on a visible row: caught up and idle.
            let lag: f64 = r.get::<_, Option<f64>>(3).unwrap_or(0.0);
            match state {
                Some(state) => {
                    max_lag = Some(max_lag.map_or(lag, |m: f64| m.max(lag)));
                    lines.push(
                        Reason::new(&D_STANDBY)
                            .with("name", name)
                            .with("address", addr)
                            .with("state", state)
                            .with_quantity("lag", lag, Unit::Millis)
                            .into(),
                    );
                }
                None => {
                    hidden += 1;
                    lines.push(
                        Reason::new(&D_STANDBY_HIDDEN)
                            .with("name", name)
                            .with("address", addr)
                            .into(),
                    );
                }
            }
        }
        if hidden > 0 && rep.lag.is_some() {
            found.verdicts.push((
                Status::Unknown,
                Reason::new(&LAG_HIDDEN).with("hidden", hidden),
            ));
        }
        let n = rows.len();
        let shown = match max_lag {
            Some(l) => format!(
                "primary, {n} standby{} (lag {})",
                if n == 1 { "" } else { "s" },
                format_millis(l)
            ),
            None if n == 0 => "primary, no standby connected".into(),
            // Connected, but this user cannot see their state or lag.
            None => format!("primary, {n} standby(s) (lag hidden: grant pg_monitor)"),
        };
        found.detail.push(
            match max_lag {
                None if n == 0 => Reason::new(&D_PRIMARY_NONE),
                None => Reason::new(&D_PRIMARY_HIDDEN).with("standbys", n),
                Some(l) if n == 1 => {
                    Reason::new(&D_PRIMARY_ONE).with_quantity("lag", l, Unit::Millis)
                }
                Some(l) => Reason::new(&D_PRIMARY_MANY)
                    .with("standbys", n)
                    .with_quantity("lag", l, Unit::Millis),
            }
            .into(),
        );
        found.detail.append(&mut lines);
        if let Some(l) = max_lag {
            found.metric(
                Metric::new("replication_lag", l, Unit::Millis, Direction::HigherIsWorse)
                    .held(&rep.lag.clone().or(lag_threshold.clone())),
                shown.clone(),
            );
        }
        found.metric(
            Metric::new("standbys", n as f64, Unit::Count, Direction::LowerIsWorse).held(&Some(
                rep.standbys
                    .clone()
                    .unwrap_or_else(|| Threshold::new(Unit::Count, None, None)),
            )),
            shown,
        );
    }
    Ok(())
}

async fn all(
    client: &Client,
    step: &'static str,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
) -> StepResult<Vec<Row>> {
    at(step, client.query_typed(sql, params).await)
}

async fn one(
    client: &Client,
    step: &'static str,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
) -> StepResult<Row> {
    at(step, client.query_typed_one(sql, params).await)
}

/// Turns a connection or query error into a status and a reason. The
/// password is never part of it: only where it came from.
fn describe_error(
    e: &(dyn std::error::Error + 'static),
    r: &Resolved,
    step: &'static str,
) -> (Status, Reason) {
    let at = |code: &'static Code| Reason::new(code).with("address", &r.address);
    let note = |reason: Reason| match &r.note {
        Some(n) => reason.with("note", n.clone()),
        None => reason,
    };
    // Whatever the client library made of it ("connection closed" to the
    // query that was waiting), the cause is the refused message.
    if let Some(size) = r.oversize.tripped() {
        return (
            Status::Fail,
            at(&MESSAGE_TOO_LARGE)
                .with("step", step)
                .with_quantity("size", size as f64, Unit::Bytes)
                .with_quantity("limit", f64::from(framing::MAX_MESSAGE), Unit::Bytes),
        );
    }
    let db = e
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(|e| e.as_db_error());
    if let Some(db) = db {
        let msg = secret::redact(db.message());
        let code = db.code();
        let sqlstate = code.code();
        if *code == SqlState::INVALID_PASSWORD {
            let reason = at(&AUTH)
                .with("error", msg)
                .with("sqlstate", sqlstate)
                .with_opt("source", r.password_from.clone());
            return (Status::Fail, note(reason));
        }
        if step == "connecting" {
            return (
                Status::Fail,
                at(&SERVER).with("error", msg).with("sqlstate", sqlstate),
            );
        }
        // A query that cannot run as written (syntax, missing table or
        // privilege, an attempted write) is a check that could not be
        // carried out; anything else the server says is a failure.
        let invalid = sqlstate.starts_with("42")
            || *code == SqlState::READ_ONLY_SQL_TRANSACTION
            || *code == SqlState::FEATURE_NOT_SUPPORTED;
        let (status, entry) = if invalid {
            (Status::Unknown, &QUERY_INVALID)
        } else {
            (Status::Fail, &STEP_ERROR)
        };
        return (
            status,
            Reason::new(entry)
                .with("step", step)
                .with("error", msg)
                .with("sqlstate", sqlstate),
        );
    }
    let chain = secret::redact(&crate::check::http::error_chain(e));
    let lower = chain.to_ascii_lowercase();
    if lower.contains("password missing") {
        (Status::Unknown, note(at(&NO_PASSWORD)))
    } else if lower.contains("connection refused") {
        (Status::Fail, at(&REFUSED))
    } else if lower.contains("no such file") && r.address.contains("/.s.PGSQL.") {
        (Status::Fail, at(&NO_SOCKET))
    } else if lower.contains("server does not support tls") {
        (
            Status::Fail,
            at(&NO_TLS).with("sslmode", r.sslmode.as_str()),
        )
    } else if lower.contains("tls") || lower.contains("certificate") {
        (Status::Fail, tls::describe(&chain, at))
    } else if lower.contains("timed out") || lower.contains("timeout") {
        (Status::Fail, at(&TIMEOUT_IO).with("step", step))
    } else if lower.contains("failed to lookup")
        || lower.contains("name or service not known")
        || lower.contains("could not resolve")
    {
        (Status::Fail, at(&RESOLVE))
    } else if lower.contains("connection reset") || lower.contains("closed") {
        (Status::Fail, at(&CLOSED).with("step", step))
    } else {
        (
            Status::Fail,
            at(&IO).with("step", step).with("error", chain),
        )
    }
}

/// Any numeric SQL value as `f64` (NULL → `None`). NUMERIC is decoded from
/// its binary form; text that parses as a number is accepted too.
struct Num(Option<f64>);

impl<'a> FromSql<'a> for Num {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Num, Box<dyn std::error::Error + Sync + Send>> {
        let v = match *ty {
            Type::INT2 => i16::from_sql(ty, raw)? as f64,
            Type::INT4 => i32::from_sql(ty, raw)? as f64,
            Type::INT8 => i64::from_sql(ty, raw)? as f64,
            Type::OID => u32::from_sql(ty, raw)? as f64,
            Type::FLOAT4 => f32::from_sql(ty, raw)? as f64,
            Type::FLOAT8 => f64::from_sql(ty, raw)?,
            Type::BOOL => {
                if bool::from_sql(ty, raw)? {
                    1.0
                } else {
                    0.0
                }
            }
            Type::NUMERIC => numeric(raw).ok_or("malformed numeric")?,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                let s = <&str>::from_sql(ty, raw)?;
                s.trim().parse::<f64>().map_err(|_| "not a number")?
            }
            _ => return Err("not a number".into()),
        };
        Ok(Num(Some(v)))
    }

    fn from_sql_null(_: &Type) -> Result<Num, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Num(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Decodes PostgreSQL's binary NUMERIC: ndigits, weight, sign, dscale,
/// then base-10000 digits.
fn numeric(raw: &[u8]) -> Option<f64> {
    let word =
        |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*raw.get(i)?, *raw.get(i + 1)?])) };
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i16 as i32;
    let sign = word(4)?;
    match sign {
        0xC000 => return Some(f64::NAN),
        0xD000 => return Some(f64::INFINITY),
        0xF000 => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let mut v = 0f64;
    for i in 0..ndigits {
        let d = word(8 + 2 * i)? as f64;
        v += d * 10000f64.powi(weight - i as i32);
    }
    Some(if sign == 0x4000 { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_must_read() {
        assert!(check_query("SELECT 1").is_ok());
        assert!(check_query("  -- 日次登録数\n  select count(*) from users").is_ok());
        assert!(check_query("/* x */ WITH a AS (SELECT 1) SELECT * FROM a").is_ok());
        let e = check_query("DELETE FROM users").unwrap_err();
        assert!(e.contains("starts with DELETE"), "{e}");
        assert!(check_query("  ").unwrap_err().contains("empty"));
    }

    #[test]
    fn numeric_decoding() {
        // 12345.678 = digits [1, 2345, 6780], weight 1, dscale 3
        let raw = [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1A, 0x7C];
        assert!((numeric(&raw).unwrap() - 12345.678).abs() < 1e-9);
        let neg = [0, 1, 0, 0, 0x40, 0, 0, 0, 0, 42];
        assert_eq!(numeric(&neg), Some(-42.0));
        let zero = [0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(numeric(&zero), Some(0.0));
        assert_eq!(numeric(&[0, 1]), None);
    }

    #[test]
    fn deadlocks_are_a_delta_when_the_previous_total_is_known() {
        let since = "since the statistics were created";
        assert_eq!(
            deadlocks_since(7.0, None, since),
            (7.0, format!("7 deadlock(s) {since}"))
        );
        assert_eq!(
            deadlocks_since(7.0, Some(5.0), since),
            (2.0, "2 deadlock(s) since the previous run".into())
        );
        // Statistics reset between runs.
        assert_eq!(deadlocks_since(1.0, Some(5.0), since).0, 1.0);
        let p = crate::check::Previous::new(|m| (m == "deadlocks_total").then_some(3.0));
        assert_eq!(
            deadlocks_since(4.0, p.metric("deadlocks_total"), since).0,
            1.0
        );
    }

    #[test]
    fn sslmodes() {
        assert_eq!(SslMode::parse("verify-full"), Ok(SslMode::VerifyFull));
        assert!(SslMode::parse("allow").is_err());
        let m: SslMode = serde_saphyr::from_str("verify-ca").unwrap();
        assert_eq!(m, SslMode::VerifyCa);
    }

    #[test]
    fn fields_are_validated() {
        let p: Postgres = serde_saphyr::from_str("url: postgres://u@h/db\nhost: other").unwrap();
        assert!(p.validate().unwrap_err().contains("drop `host`"));
        let p: Postgres = serde_saphyr::from_str("value: {warn: 1}").unwrap();
        assert!(p.validate().unwrap_err().contains("add a `query`"));
        let p: Postgres =
            serde_saphyr::from_str("long_queries: {older_than: 1s, fail: 2}\nconnections: true")
                .unwrap();
        assert!(p.validate().is_ok());
        let lq = p.long_queries.unwrap();
        assert_eq!(lq.older_than.0.as_secs(), 1);
        assert_eq!(lq.threshold().fail.unwrap().value, 2.0);
        assert_eq!(LongQueries::default().threshold().warn.unwrap().value, 1.0);
    }

    /// A server on 127.0.0.1 that reads the startup message and answers it
    /// with an ErrorResponse (`code`, `message`), the narrowest stand-in
    /// for a PostgreSQL that refuses the login (the integration tests run
    /// a real server).
    fn refusing(code: &'static str, message: &'static str) -> u16 {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let Ok((mut s, _)) = l.accept() else { return };
            let mut len = [0u8; 4];
            s.read_exact(&mut len).unwrap();
            let mut startup = vec![0u8; u32::from_be_bytes(len) as usize - 4];
            s.read_exact(&mut startup).unwrap();
            let mut body = Vec::new();
            for (field, text) in [
                (b'S', "FATAL"),
                (b'V', "FATAL"),
                (b'C', code),
                (b'M', message),
            ] {
                body.push(field);
                body.extend_from_slice(text.as_bytes());
                body.push(0);
            }
            body.push(0);
            let mut msg = vec![b'E'];
            msg.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
            msg.extend_from_slice(&body);
            s.write_all(&msg).unwrap();
            let _ = s.read(&mut [0u8; 64]);
        });
        port
    }

    #[tokio::test]
    async fn reasons_before_and_while_connecting() {
        use super::super::harness::{ctx_in, kind, run, run_in};
        use crate::values::reason::Param;
        use std::time::Duration;
        let t = Duration::from_secs(5);
        let at = |port: u16, extra: &str| {
            format!(
                "{{host: 127.0.0.1, port: {port}, user: app, dbname: appdb, sslmode: disable{extra}}}"
            )
        };

        // The password is refused: the server's words, where the password came from.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "not-the-password\n").unwrap();
        let port = refusing("28P01", "password authentication failed for user \"app\"");
        let pg: Postgres = kind(&at(port, ", password_file: pw")).unwrap();
        let f = run_in(&pg, &ctx_in(dir.path(), t)).await.unwrap_err();
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.reason.code.key, "postgres.auth");
        let p = |name| f.reason.param(name).cloned();
        assert_eq!(p("address"), Some(format!("127.0.0.1:{port}").into()));
        assert_eq!(p("sqlstate"), Some("28P01".into()));
        assert_eq!(p("source"), Some("password_file pw".into()));
        assert_eq!(
            p("error"),
            Some("password authentication failed for user \"app\"".into())
        );

        // Another refusal at connect time is the server's reason, a failure.
        let port = refusing("3D000", "database \"appdb\" does not exist");
        let pg: Postgres = kind(&at(port, ", password_file: pw")).unwrap();
        let f = run_in(&pg, &ctx_in(dir.path(), t)).await.unwrap_err();
        assert_eq!(f.reason.code.key, "postgres.server");
        assert_eq!(f.reason.param("sqlstate"), Some(&"3D000".into()));

        // Nobody listens.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let pg: Postgres = kind(&at(port, "")).unwrap();
        let f = run(&pg, t).await.unwrap_err();
        assert_eq!(f.reason.code.key, "postgres.refused");

        // A listener that never answers: the deadline, naming the address.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let pg: Postgres = kind(&at(port, "")).unwrap();
        let f = run(&pg, Duration::from_millis(300)).await.unwrap_err();
        assert_eq!(f.reason.code.key, "postgres.timeout.connect");
        assert_eq!(f.reason.code.code, "timeout");
        assert_eq!(
            f.reason.param("after"),
            Some(&Param::Quantity(300.0, Unit::Millis))
        );
        assert_eq!(f.value, "value.timeout {}");
        drop(silent);

        // Settings that cannot work: the check cannot be carried out.
        let pg: Postgres = kind(&at(port, ", password_env: OPSRUN_TEST_NOT_SET_ANYWHERE")).unwrap();
        let f = run(&pg, t).await.unwrap_err();
        assert_eq!(f.status, Status::Unknown);
        assert_eq!(f.reason.code.key, "postgres.password");
        let pg: Postgres = kind(
            "{host: 127.0.0.1, port: 1, user: app, dbname: appdb, sslmode: verify-ca, \
             sslrootcert: /nonexistent/ca.pem}",
        )
        .unwrap();
        let f = run(&pg, t).await.unwrap_err();
        assert_eq!(f.status, Status::Unknown);
        assert_eq!(f.reason.code.key, "postgres.sslrootcert.read");
        assert_eq!(f.reason.param("path"), Some(&"/nonexistent/ca.pem".into()));
    }

    #[test]
    fn tls_failures_are_told_apart() {
        let at = |code: &'static Code| Reason::new(code).with("address", "db:5432");
        let key = |chain: &str| tls::describe(chain, at).code.key;
        assert_eq!(
            key("error performing TLS handshake: invalid peer certificate: UnknownIssuer"),
            "postgres.tls_untrusted"
        );
        let r = tls::describe(
            "invalid peer certificate: certificate not valid for name \"10.0.0.5\"; x",
            at,
        );
        assert_eq!(r.code.key, "postgres.tls_name");
        assert_eq!(
            r.param("error"),
            Some(&"certificate not valid for name \"10.0.0.5\"; x".into())
        );
        assert_eq!(
            key("invalid peer certificate: Expired"),
            "postgres.tls_expired"
        );
        assert_eq!(
            key("TLS: received fatal alert: HandshakeFailure"),
            "postgres.tls"
        );
    }
}
