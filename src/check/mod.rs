//! Check kinds. Each kind lives in its own file and implements [`Kind`];
//! the [`kinds!`] registry at the bottom is the one line a new kind adds:
//! its name, its type, its [`Role`]s and its reason codes.
//!
//! A kind measures and reports what it saw ([`Measurement`]) or why it
//! could not ([`Failure`]); the engine's judge turns that into pass, warn
//! or fail. How to convert a kind written the old way (judging itself,
//! writing English) is in [`measurement`]'s module doc.

mod deadline;
#[cfg(test)]
pub(crate) mod harness;
pub(crate) mod measurement;

mod access_log;
mod aws;
mod backup;
mod cert_file;
mod command;
mod container;
mod cpu;
mod disk;
mod diskio;
mod dns;
pub(crate) mod expect;
mod file;
mod histogram;
mod http;
mod journal;
mod log;
mod logscan;
mod memory;
mod postgres;
mod process;
mod redis;
mod sqlite;
mod systemd;
mod tcp;
mod tls;
pub(crate) mod x509;

pub(crate) use access_log::attempt_from_text as access_log_attempt;
pub(crate) use cert_file::read_certs;
pub(crate) use journal::Journal;
pub(crate) use postgres::client::{PgConn, Session as PgSession, Target as PgTarget};
pub(crate) use systemd::outcome_from_show;

pub use deadline::{Deadline, Overran};
pub use measurement::{Attempt, Failure, Measurement, Metric, Observation};

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde::de::MapAccess;

use crate::values::reason::Code;

/// A boxed future returned by [`Kind::run`]; kinds write
/// `Box::pin(async move { self.check(ctx).await.into() })`.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Attempt> + Send + 'a>>;

/// Everything a running check may need from the run.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The run's clock (fixed by `--now`).
    pub now: DateTime<FixedOffset>,
    /// This check's timeout (the deadline's budget); kinds not converted
    /// yet bound their inner waits by it.
    pub timeout: Duration,
    /// This attempt's deadline: every step of a kind shares it.
    pub deadline: Deadline,
    /// Directory of the runbook file the check came from (relative paths).
    pub base_dir: PathBuf,
    /// This check's metrics from its previous run, for kinds that report a
    /// change since then (`postgres` deadlocks).
    pub previous: Previous,
}

/// Looks up a metric (by name) recorded by the previous run of the same
/// check. Empty until the history store supplies a lookup.
#[derive(Clone, Default)]
pub struct Previous(Option<Arc<MetricLookup>>);

/// Metric name → the value it had in the previous run.
pub type MetricLookup = dyn Fn(&str) -> Option<f64> + Send + Sync;

impl Previous {
    /// A lookup backed by `f` (metric name → last recorded value).
    pub fn new(f: impl Fn(&str) -> Option<f64> + Send + Sync + 'static) -> Previous {
        Previous(Some(Arc::new(f)))
    }

    /// The value `metric` had in the previous run, if one was recorded.
    pub fn metric(&self, metric: &str) -> Option<f64> {
        self.0.as_ref().and_then(|f| f(metric))
    }
}

impl fmt::Debug for Previous {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Previous(lookup)"
        } else {
            "Previous(none)"
        })
    }
}

impl Ctx {
    /// A context for one attempt of a check with `timeout`, starting now.
    pub fn new(now: DateTime<FixedOffset>, timeout: Duration, base_dir: PathBuf) -> Ctx {
        Ctx {
            now,
            timeout,
            deadline: Deadline::start(timeout),
            base_dir,
            previous: Previous::default(),
        }
    }

    /// Resolves a path written in a runbook relative to the runbook's directory.
    pub fn path(&self, p: &str) -> PathBuf {
        let p = PathBuf::from(p);
        let joined = if p.is_absolute() {
            p
        } else {
            self.base_dir.join(p)
        };
        normalize(&joined)
    }
}

/// Removes `.` and resolves `..` lexically, so messages show
/// `/srv/app/data/app.db` rather than `/srv/app/runbooks/../data/app.db`.
/// (Lexical is right here: the path is shown to people and opened as is;
/// a symlinked directory followed by `..` is rare in runbooks.)
fn normalize(p: &std::path::Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// One kind of check (`http`, `disk`, …): its YAML fields are the struct's
/// fields, deserialized with `deny_unknown_fields`.
pub trait Kind: Send + Sync + fmt::Debug {
    /// Runs one attempt. Must not block the async runtime: blocking work goes
    /// through `tokio::task::spawn_blocking`.
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a>;

    /// The report section (■ …) used when the check does not name one.
    fn section(&self) -> &'static str;

    /// A short description of the target for `opsrun list` and `-v`.
    fn target(&self) -> String;

    /// Rules across fields that serde cannot express (one of two keys,
    /// ranges); an error here is a load error.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A kind's `validate` for lone `warn`/`fail` limits kept beside other
/// settings (`value: {regex, warn, fail}`), which the threshold reader does
/// not see as a pair: refuses a warn that can never fire on a metric where
/// higher is worse (all such metrics so far). The mapping readers do the
/// same at the value itself ([`crate::values::threshold::read_map`]).
pub(crate) fn unreachable_warn(
    warn: &Option<crate::values::threshold::Limit>,
    fail: &Option<crate::values::threshold::Limit>,
) -> Result<(), String> {
    use crate::values::threshold::{Direction, Threshold};
    use crate::values::units::Unit;
    let th = Threshold::of_limits(Unit::Number, warn.clone(), fail.clone());
    th.unreachable_warn(Direction::HigherIsWorse)
        .map_or(Ok(()), Err)
}

/// What a kind is for. Reports and history read roles, never kind names,
/// so a new kind declares its roles in its registry line and touches
/// nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Says whether something is up, not how much: reports show its
    /// status rather than its number, it feeds 稼働率 when chosen, and it
    /// gets no trend line of its own by default.
    Liveness,
    /// A request to the service itself: without a configured `uptime`
    /// check, the first check of this role seen is the 稼働率 source.
    HealthEndpoint,
    /// Its headline number is worth a trend line (usage, latency, counts).
    Measurement,
    /// Its headline fills up toward a limit: without a `forecast` list,
    /// monthly reports forecast when it reaches 100%.
    Capacity,
    /// Checks backups: the reports show its success rate.
    Backup,
    /// Checks a certificate's expiry.
    Certificate,
}

/// A registered kind: its name, roles and reason catalog entries.
#[derive(Debug)]
pub struct KindInfo {
    pub name: &'static str,
    pub roles: &'static [Role],
    /// Every catalog entry the kind reports (docs/reasons.md lists them).
    pub codes: &'static [&'static Code],
}

/// Catalog entries shared by several kinds (JSON expectations,
/// certificate expiry, log files, AWS, secrets read by several kinds).
pub static SHARED_CODES: &[&[&Code]] = &[
    expect::CODES,
    x509::CODES,
    logscan::CODES,
    aws::CODES,
    crate::secret::CODES,
];

/// The roles of the kind named `kind` (empty for a name not registered,
/// such as a kind that history recorded and a later release dropped).
pub fn roles(kind: &str) -> &'static [Role] {
    KINDS
        .iter()
        .find(|k| k.name == kind)
        .map(|k| k.roles)
        .unwrap_or(&[])
}

/// Whether the kind named `kind` has `role`.
pub fn has_role(kind: &str, role: Role) -> bool {
    roles(kind).contains(&role)
}

/// Builds the registry: the kinds with their roles and reasons, and the
/// function that deserializes a kind's value from a runbook mapping.
macro_rules! kinds {
    ($($name:literal => $ty:ty, [$($role:ident),*], $codes:expr;)*) => {
        /// Every kind, in the order of the registry.
        pub static KINDS: &[KindInfo] = &[$(KindInfo {
            name: $name,
            roles: &[$(Role::$role),*],
            codes: $codes,
        }),*];

        /// Every kind name, in the order of the registry.
        pub const KIND_NAMES: &[&str] = &[$($name),*];

        /// Deserializes the value of kind key `name`, returning the kind's
        /// registered (static) name with it, or `None` if no kind has that name.
        pub(crate) fn parse_kind<'de, A: MapAccess<'de>>(
            name: &str,
            map: &mut A,
        ) -> Result<Option<(&'static str, Box<dyn Kind>)>, A::Error> {
            Ok(Some(match name {
                $($name => ($name, Box::new(map.next_value::<$ty>()?) as Box<dyn Kind>),)*
                _ => return Ok(None),
            }))
        }
    };
}

kinds! {
    "http" => http::Http, [Liveness, HealthEndpoint], http::CODES;
    "tcp" => tcp::Tcp, [Liveness], tcp::CODES;
    "disk" => disk::Disk, [Measurement, Capacity], disk::CODES;
    "memory" => memory::Memory, [Measurement], memory::CODES;
    "cpu" => cpu::Cpu, [Measurement], cpu::CODES;
    "diskio" => diskio::DiskIo, [Measurement], diskio::CODES;
    "file" => file::File, [Liveness], file::CODES;
    "command" => command::Command, [Measurement], command::CODES;
    "systemd" => systemd::Systemd, [Liveness], systemd::CODES;
    "process" => process::Process, [Liveness], process::CODES;
    "sqlite" => sqlite::Sqlite, [Measurement], sqlite::CODES;
    "tls" => tls::Tls, [Certificate, Measurement], tls::CODES;
    "cert_file" => cert_file::CertFile, [Certificate, Measurement], cert_file::CODES;
    "backup" => backup::Backup, [Backup], backup::CODES;
    "postgres" => postgres::Postgres, [Measurement], postgres::CODES;
    "redis" => redis::Redis, [Measurement], redis::CODES;
    "journal" => journal::Journal, [Measurement], journal::CODES;
    "log" => log::Log, [Measurement], log::CODES;
    "access_log" => access_log::AccessLog, [Measurement], access_log::CODES;
    "dns" => dns::Dns, [Liveness], dns::CODES;
    "container" => container::Container, [Liveness], container::CODES;
    "aws_cloudwatch" => aws::AwsCloudwatch, [Measurement], aws::CLOUDWATCH_CODES;
    "aws_ecs" => aws::AwsEcs, [Liveness], aws::ECS_CODES;
    "aws_rds" => aws::AwsRds, [Liveness], aws::RDS_CODES;
    "aws_alb" => aws::AwsAlb, [Liveness], aws::ALB_CODES;
}

/// Section names used by several kinds (the seeds' ■ headings).
pub mod sections {
    pub const SERVICES: &str = "サービス稼働状況";
    pub const RESOURCES: &str = "リソース使用状況";
    pub const LOGS: &str = "ログ確認";
    pub const DATA: &str = "データ・バックアップ";
    pub const SECURITY: &str = "セキュリティ";
    pub const RESULTS: &str = "本日の実績";
    pub const OTHER: &str = "その他";
}

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn paths_are_normalized() {
        assert_eq!(
            normalize(std::path::Path::new("/a/runbooks/../data/./x.db")),
            PathBuf::from("/a/data/x.db")
        );
        assert_eq!(
            normalize(std::path::Path::new("runbooks/../x")),
            PathBuf::from("x")
        );
        assert_eq!(
            normalize(std::path::Path::new("../x")),
            PathBuf::from("../x")
        );
    }
}

#[cfg(test)]
mod registry_tests {
    use super::*;
    use crate::values::reason::common;

    /// Every reason entry is documented in docs/reasons.md, and no two
    /// entries (detail lines included) share a key.
    #[test]
    fn reasons_are_documented() {
        let doc = include_str!("../../docs/reasons.md");
        let mut keys = std::collections::BTreeSet::new();
        let all = common::CODES
            .iter()
            .chain(SHARED_CODES.iter().flat_map(|c| c.iter()))
            .chain(KINDS.iter().flat_map(|k| k.codes.iter()));
        for c in all {
            assert!(keys.insert(c.key), "catalog key {} twice", c.key);
            // Detail lines are words for people, not a contract: the
            // reasons table does not list them (docs/reasons.md says so).
            if c.is_detail() || c.is_value() {
                continue;
            }
            assert!(
                doc.contains(&format!("`{}`", c.key)) && doc.contains(&format!("| `{}` |", c.code)),
                "docs/reasons.md does not list {} ({})",
                c.key,
                c.code
            );
        }
    }

    /// Kinds measure and hand over data: no kind builds a detail line
    /// with `format!` (a fact is a `Code::detail` reason, observed text is
    /// `Detail::raw`) or holds a value against a threshold itself.
    #[test]
    fn kinds_hand_over_data_not_sentences() {
        fn files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    files(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let mut all = Vec::new();
        files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/check"),
            &mut all,
        );
        assert!(all.len() > 20, "{all:?}");
        // Split so this file does not match itself; compared without
        // whitespace, so a call rustfmt wrapped still matches.
        let banned = [
            ["detail(", "format!("].concat(),
            ["detail.push(", "format!("].concat(),
            ["detail.insert(0,", "format!("].concat(),
            [".ev", "al("].concat(),
        ];
        for f in all {
            let text = std::fs::read_to_string(&f).unwrap();
            let bare: String = text.split_whitespace().collect();
            for b in &banned {
                assert!(!bare.contains(b.as_str()), "{} contains `{b}`", f.display());
            }
        }
    }

    #[test]
    fn roles_are_read_by_name() {
        assert!(has_role("http", Role::HealthEndpoint));
        assert!(has_role("tcp", Role::Liveness));
        assert!(!has_role("disk", Role::Liveness));
        assert!(has_role("backup", Role::Backup));
        assert!(roles("no-such-kind").is_empty());
    }
}
