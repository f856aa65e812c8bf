//! The workflow parts of a runbook beyond its checks: the `incident:`
//! header, recovery `actions:` and the `verify:` loop, and the backup
//! blocks `backup:`, `restore_test:` and `prune:` (SPEC §8). Actions are
//! the only steps that change the host: incident actions run only when the
//! operator says `--execute`; backup actions write only into a new
//! generation under `backup.dir` (`opsrun backup run`).

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use crate::check::{KIND_NAMES, Kind, PgConn, parse_kind};
use crate::values::{Dur, Positive, Text};

/// `incident: {level: p1, name: 緊急, scope: …, response: …, escalation: …, deadlines: {…}}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentSpec {
    pub level: Level,
    /// `緊急`, `重要`, `通常`, `軽微`.
    pub name: Option<String>,
    /// 影響範囲: `サービス全停止`.
    pub scope: Option<String>,
    /// 対応時間: `即時`, `30分以内`.
    pub response: Option<String>,
    /// エスカレーション: `即座に上位者`.
    pub escalation: Option<String>,
    #[serde(default)]
    pub deadlines: Deadlines,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    P1,
    P2,
    P3,
    P4,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::P1 => "P1",
            Level::P2 => "P2",
            Level::P3 => "P3",
            Level::P4 => "P4",
        }
    }

    /// The seed's default names (障害レベル定義).
    pub fn default_name(self) -> &'static str {
        match self {
            Level::P1 => "緊急",
            Level::P2 => "重要",
            Level::P3 => "通常",
            Level::P4 => "軽微",
        }
    }
}

/// Deadlines counted from the incident's start: `initial` (初動対応),
/// `investigation` (原因調査), `recovery` (復旧), `escalation` (上位者へ).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    pub initial: Option<Dur>,
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    pub investigation: Option<Dur>,
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    pub recovery: Option<Dur>,
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    pub escalation: Option<Dur>,
}

impl Deadlines {
    /// (Japanese label, offset) in the order an incident meets them.
    pub fn list(&self) -> Vec<(&'static str, Duration)> {
        [
            ("初動対応期限", self.initial),
            ("原因調査期限", self.investigation),
            ("エスカレーション期限", self.escalation),
            ("復旧目標", self.recovery),
        ]
        .into_iter()
        .filter_map(|(l, d)| d.map(|d| (l, d.0)))
        .collect()
    }
}

/// `verify: {checks: [health-local], attempts: 5, interval: 10s}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySpec {
    pub checks: Vec<Spanned<String>>,
    #[serde(default = "five")]
    pub attempts: u32,
    #[serde(default = "ten_seconds", deserialize_with = "Dur::positive")]
    pub interval: Dur,
}

fn five() -> u32 {
    5
}
fn ten_seconds() -> Dur {
    Dur(Duration::from_secs(10))
}

/// `systemctl: {action: restart, unit: estimator}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemctlAction {
    pub action: UnitAction,
    pub unit: String,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UnitAction {
    Restart,
    Start,
    Stop,
    Reload,
}

impl UnitAction {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitAction::Restart => "restart",
            UnitAction::Start => "start",
            UnitAction::Stop => "stop",
            UnitAction::Reload => "reload",
        }
    }

    pub fn ja(self) -> &'static str {
        match self {
            UnitAction::Restart => "再起動",
            UnitAction::Start => "起動",
            UnitAction::Stop => "停止",
            UnitAction::Reload => "再読み込み",
        }
    }
}

/// What one recovery step does.
#[derive(Debug)]
pub enum Step {
    Systemctl(SystemctlAction),
    Wait(Duration),
    /// A consistent copy of a live SQLite database into the new backup
    /// generation (SQLite's online backup API).
    SqliteBackup(SqliteBackupStep),
    /// A file or directory copied into the new backup generation.
    Copy(CopyStep),
    /// A file or directory stored as a tar.gz in the new backup generation.
    Archive(ArchiveStep),
    /// A PostgreSQL database dumped by `pg_dump` (custom format) into the
    /// new backup generation.
    PgDump(PgDumpStep),
    /// Any check kind used as a step (`command:` runs a program; `http:`
    /// confirms something mid-way). The step succeeds when the check passes.
    Check(&'static str, Box<dyn Kind>),
}

/// `when: {check: ID, status: [fail]}`: an incident action runs only
/// when the diagnosis check `check` ended with one of `status`
/// [`[fail]`]; otherwise it is skipped and listed as
/// `スキップ（条件不一致）` (SPEC §10.6).
#[derive(Clone, Debug, PartialEq)]
pub struct When {
    pub check: String,
    pub status: Vec<crate::values::outcome::Status>,
    /// Line and column of the check id, for the loader's error when no
    /// check of the runbook has it.
    pub at: (usize, usize),
}

impl When {
    /// Whether a diagnosis that ended with `status` meets the condition.
    pub fn met_by(&self, status: crate::values::outcome::Status) -> bool {
        self.status.contains(&status)
    }
}

/// The statuses `when.status` accepts (maint never reaches an incident's
/// diagnosis: maintenance windows do not apply there).
const WHEN_STATUSES: &[&str] = &["pass", "warn", "fail", "unknown", "skip"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    check: Option<Spanned<String>>,
    status: Option<Vec<Spanned<String>>>,
}

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<When, D::Error> {
        let raw = Spanned::<RawWhen>::deserialize(d)?;
        let here = raw.referenced;
        let err = |l: u64, c: u64, msg: String| -> D::Error {
            de::Error::custom(crate::values::at(l, c, &msg))
        };
        let Some(check) = raw.value.check else {
            return Err(err(
                here.line(),
                here.column(),
                "when: missing `check:` (the id of a diagnosis check, e.g. `when: {check: health, status: [fail]}`)".into(),
            ));
        };
        let mut status = Vec::new();
        for s in raw.value.status.unwrap_or_default() {
            let v = s.value.trim();
            match crate::values::outcome::Status::parse(v) {
                Some(st) if WHEN_STATUSES.contains(&v) => status.push(st),
                _ => {
                    let hint = crate::suggest::closest(v, WHEN_STATUSES)
                        .map(|x| format!(", did you mean `{x}`?"))
                        .unwrap_or_default();
                    return Err(err(
                        s.referenced.line(),
                        s.referenced.column(),
                        format!(
                            "when.status: unknown status `{v}`{hint} (expected some of {})",
                            WHEN_STATUSES.join(", ")
                        ),
                    ));
                }
            }
        }
        if status.is_empty() {
            status.push(crate::values::outcome::Status::Fail);
        }
        Ok(When {
            check: check.value,
            status,
            at: (
                check.referenced.line() as usize,
                check.referenced.column() as usize,
            ),
        })
    }
}

/// One recovery action as written.
#[derive(Debug, Default)]
pub struct ActionDef {
    pub id: Option<Spanned<String>>,
    pub title: Option<String>,
    pub timeout: Option<Dur>,
    /// `when:` (incident runbooks only).
    pub when: Option<When>,
    /// Line and column of the `when` key, for errors about it.
    pub when_at: (usize, usize),
    pub step: Option<Step>,
    /// Line and column of the step's key, for errors about the step.
    pub step_at: (usize, usize),
}

const ACTION_FIELDS: &[&str] = &[
    "id",
    "title",
    "timeout",
    "when",
    "systemctl",
    "wait",
    "sqlite_backup",
    "copy",
    "archive",
    "pg_dump",
];

/// Step keys besides the check kinds.
const STEP_KEYS: &[&str] = &[
    "systemctl",
    "wait",
    "sqlite_backup",
    "copy",
    "archive",
    "pg_dump",
];

impl<'de> Deserialize<'de> for ActionDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ActionDef, D::Error> {
        d.deserialize_map(ActionVisitor)
    }
}

struct ActionVisitor;

impl<'de> Visitor<'de> for ActionVisitor {
    type Value = ActionDef;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "an action: `id`, `title` and one of `systemctl:`, `wait:`, `command:` or a check kind",
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ActionDef, A::Error> {
        let mut a = ActionDef::default();
        while let Some(spanned) = map.next_key::<Spanned<String>>()? {
            let key = spanned.value;
            let here = spanned.referenced;
            let at = |msg: String| -> A::Error {
                de::Error::custom(crate::values::at(here.line(), here.column(), &msg))
            };
            let is_step = STEP_KEYS.contains(&key.as_str()) || KIND_NAMES.contains(&key.as_str());
            if a.step.is_some() && is_step {
                return Err(at(format!(
                    "an action has exactly one step, but `{key}` is a second one: split it into two actions"
                )));
            }
            if is_step {
                a.step_at = (here.line() as usize, here.column() as usize);
            }
            match key.as_str() {
                "id" => a.id = Some(map.next_value()?),
                "title" => a.title = Some(map.next_value::<Text>()?.0),
                "timeout" => a.timeout = Some(map.next_value::<Positive>()?.0),
                "when" => {
                    a.when_at = (here.line() as usize, here.column() as usize);
                    a.when = Some(map.next_value()?);
                }
                "systemctl" => a.step = Some(Step::Systemctl(map.next_value()?)),
                "wait" => a.step = Some(Step::Wait(map.next_value::<Dur>()?.0)),
                "sqlite_backup" => {
                    let st: SqliteBackupStep = map.next_value()?;
                    inside_generation("dest", st.dest.as_deref()).map_err(at)?;
                    a.step = Some(Step::SqliteBackup(st));
                }
                "copy" => {
                    let st: CopyStep = map.next_value()?;
                    inside_generation("to", st.to.as_deref()).map_err(at)?;
                    a.step = Some(Step::Copy(st));
                }
                "archive" => {
                    let st: ArchiveStep = map.next_value()?;
                    inside_generation("to", st.to.as_deref()).map_err(at)?;
                    a.step = Some(Step::Archive(st));
                }
                "pg_dump" => {
                    let st: PgDumpStep = map.next_value()?;
                    inside_generation("dest", st.dest.as_deref()).map_err(at)?;
                    st.conn()
                        .validate()
                        .map_err(|m| at(format!("pg_dump: {m}")))?;
                    a.step = Some(Step::PgDump(st));
                }
                other => match parse_kind(other, &mut map)? {
                    Some((name, k)) => {
                        if let Err(msg) = k.validate() {
                            return Err(at(format!("{other}: {msg}")));
                        }
                        a.step = Some(Step::Check(name, k));
                    }
                    None => {
                        let mut allowed = ACTION_FIELDS.to_vec();
                        allowed.extend_from_slice(KIND_NAMES);
                        return Err(at(crate::suggest::unknown_key(other, &allowed)));
                    }
                },
            }
        }
        Ok(a)
    }
}

/// A recovery action ready to run.
#[derive(Debug)]
pub struct Action {
    pub id: String,
    pub title: String,
    pub timeout: Duration,
    /// Runs only when a diagnosis check ended with one of these statuses.
    pub when: Option<When>,
    pub step: Step,
}

impl Action {
    /// What the step will do, for the plan and the prompt.
    pub fn describe(&self) -> String {
        match &self.step {
            Step::Systemctl(s) => format!("systemctl {} {}", s.action.as_str(), s.unit),
            Step::Wait(d) => format!(
                "wait {}",
                crate::values::units::format_millis(d.as_secs_f64() * 1000.0)
            ),
            Step::Check(kind, k) => format!("{kind}: {}", k.target()),
            Step::SqliteBackup(s) => format!("sqlite_backup {} → {}", s.source, s.dest_name()),
            Step::Copy(s) => format!("copy {} → {}", s.from, s.to_name()),
            Step::Archive(s) => format!("archive {} → {}", s.from, s.to_name()),
            Step::PgDump(s) => format!("pg_dump {} → {}", s.source(), s.dest_name()),
        }
    }

    /// Whether the step writes into a backup generation.
    pub fn is_backup_step(&self) -> bool {
        matches!(
            self.step,
            Step::SqliteBackup(_) | Step::Copy(_) | Step::Archive(_) | Step::PgDump(_)
        )
    }
}

/// The workflow parts of a loaded runbook.
#[derive(Debug, Default)]
pub struct Workflow {
    pub incident: Option<IncidentSpec>,
    pub actions: Vec<Action>,
    /// Ids of the checks to re-run after the actions, with attempts and interval.
    pub verify: Option<(Vec<String>, u32, Duration)>,
    /// Where `opsrun backup` keeps its generations.
    pub backup: Option<BackupSpec>,
    pub restore_test: Option<RestoreTestSpec>,
    pub prune: Option<PruneSpec>,
}

/// A path inside the new generation: relative, without `..`.
fn inside_generation(field: &str, p: Option<&str>) -> Result<(), String> {
    let Some(p) = p else { return Ok(()) };
    let path = std::path::Path::new(p);
    if p.trim().is_empty()
        || path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "invalid {field} `{p}`: expected a path inside the new generation, like app.db or files/.env"
        ));
    }
    Ok(())
}

/// The last component of a source path, the default name in the generation.
fn base_name(p: &str) -> String {
    std::path::Path::new(p.trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into())
}

/// How a database is checked after it is copied (`check:` of
/// `sqlite_backup`, `restore_test`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SqliteCheck {
    #[default]
    Integrity,
    Quick,
    None,
}

impl SqliteCheck {
    /// The PRAGMA that does the check.
    pub fn pragma(self) -> Option<&'static str> {
        match self {
            SqliteCheck::Integrity => Some("integrity_check"),
            SqliteCheck::Quick => Some("quick_check"),
            SqliteCheck::None => None,
        }
    }
}

/// `sqlite_backup: {source: /srv/app/app.db, dest: app.db, check: integrity}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqliteBackupStep {
    /// The live database (relative: to the runbook's directory).
    pub source: String,
    /// Path inside the generation [the source's file name].
    pub dest: Option<String>,
    /// Checked in the generation before it is published [integrity].
    #[serde(default)]
    pub check: SqliteCheck,
}

impl SqliteBackupStep {
    pub fn dest_name(&self) -> String {
        self.dest.clone().unwrap_or_else(|| base_name(&self.source))
    }
}

/// `copy: {from: /srv/app/.env, to: .env}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyStep {
    /// A file or a directory (relative: to the runbook's directory).
    pub from: String,
    /// Path inside the generation [the source's name].
    pub to: Option<String>,
}

impl CopyStep {
    pub fn to_name(&self) -> String {
        self.to.clone().unwrap_or_else(|| base_name(&self.from))
    }
}

/// `archive: {from: /srv/app/uploads, to: uploads.tar.gz}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveStep {
    /// A directory (or file) to pack (relative: to the runbook's directory).
    pub from: String,
    /// Path of the .tar.gz inside the generation [NAME.tar.gz].
    pub to: Option<String>,
}

impl ArchiveStep {
    pub fn to_name(&self) -> String {
        self.to
            .clone()
            .unwrap_or_else(|| format!("{}.tar.gz", base_name(&self.from)))
    }
}

/// `pg_dump: {url: postgres://app@db/appdb, password_env: PGPASS, dest: app.dump}`:
/// the connection fields of the `postgres` check, where the dump goes, and
/// where `pg_dump` is (else the best match for the server among
/// `/usr/lib/postgresql/*/bin` and `PATH`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgDumpStep {
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub dbname: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
    /// Path inside the generation [DBNAME.dump].
    pub dest: Option<String>,
    /// The directory holding `pg_dump`.
    pub bin_dir: Option<String>,
}

impl PgDumpStep {
    pub fn conn(&self) -> PgConn {
        PgConn {
            url: self.url.clone(),
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            dbname: self.dbname.clone(),
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
            sslmode: self.sslmode.clone(),
            sslrootcert: self.sslrootcert.clone(),
        }
    }

    /// The database as written (the URL without its password).
    pub fn source(&self) -> String {
        match &self.url {
            Some(u) => crate::secret::redact(u),
            None => format!(
                "{}:{}/{}",
                self.host.as_deref().unwrap_or("$PGHOST"),
                self.port
                    .map(|p| p.to_string())
                    .as_deref()
                    .unwrap_or("5432"),
                self.dbname.as_deref().unwrap_or("$PGDATABASE")
            ),
        }
    }

    pub fn dest_name(&self) -> String {
        if let Some(d) = &self.dest {
            return d.clone();
        }
        let db = self.dbname.clone().or_else(|| {
            let u = self.url.as_deref()?;
            let path = u.split_once("://")?.1.split_once('/')?.1;
            let db = path.split(['?', '#']).next()?;
            (!db.is_empty()).then(|| db.to_owned())
        });
        format!("{}.dump", db.as_deref().unwrap_or("postgres"))
    }
}

/// `restore_test: {postgres: {url: …, password_env: …, verify_query: …}}`:
/// the server (and the database connected to for `CREATE DATABASE`
/// [postgres]) each dump is restored on, as a scratch database.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgRestoreSpec {
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub dbname: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
    /// Run in each restored database; passes when its first value is
    /// true or a number above 0.
    pub verify_query: Option<String>,
    /// The directory holding `pg_restore`.
    pub bin_dir: Option<String>,
}

impl PgRestoreSpec {
    pub fn conn(&self) -> PgConn {
        let url_names_db = self.url.as_deref().is_some_and(|u| {
            u.split_once("://")
                .and_then(|(_, rest)| rest.split_once('/'))
                .is_some_and(|(_, db)| !db.is_empty() && !db.starts_with('?'))
        });
        PgConn {
            url: self.url.clone(),
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            // `CREATE DATABASE` is run from the maintenance database.
            dbname: self
                .dbname
                .clone()
                .or_else(|| (!url_names_db).then(|| "postgres".to_owned())),
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
            sslmode: self.sslmode.clone(),
            sslrootcert: self.sslrootcert.clone(),
        }
    }
}

/// `backup: {dir: /path/to/backups/estimator, pattern: "20*", name: "%Y%m%d_%H%M%S"}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSpec {
    /// The directory holding one entry per generation.
    pub dir: String,
    /// Which names directly inside `dir` are generations [20*].
    #[serde(default = "default_pattern")]
    pub pattern: String,
    /// strftime format of a new generation's name, local time [%Y%m%d_%H%M%S].
    #[serde(default = "default_name")]
    pub name: String,
    /// A symlink in `dir` pointed at the newest generation after each run
    /// (e.g. `latest`), so checks can name files in it.
    pub latest: Option<String>,
}

fn default_pattern() -> String {
    "20*".into()
}

fn default_name() -> String {
    "%Y%m%d_%H%M%S".into()
}

/// How names inside the backup directory are matched: `*` never matches a
/// leading dot, so temporary `.NAME.tmp-PID` directories are never generations.
pub const MATCH_OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: true,
};

impl BackupSpec {
    /// The glob of generation names (validated at load).
    pub fn glob(&self) -> glob::Pattern {
        glob::Pattern::new(&self.pattern)
            .unwrap_or_else(|_| glob::Pattern::new("20*").expect("static"))
    }

    /// The name of a generation made at `t`; `None` when `name` is not a
    /// strftime format (refused at load).
    pub fn name_at(&self, t: &chrono::DateTime<chrono::FixedOffset>) -> Option<String> {
        use std::fmt::Write;
        let mut out = String::new();
        write!(out, "{}", t.format(&self.name)).ok()?;
        Some(out)
    }

    /// Rules across fields, checked at load: a new generation's name must
    /// be a plain name the pattern matches, or `verify` and `prune` would
    /// never see it.
    pub fn validate(&self) -> Result<(), String> {
        if self.dir.trim().is_empty() {
            return Err(
                "backup: `dir` is empty: expected the directory holding the generations".into(),
            );
        }
        if self.pattern.contains('/') {
            return Err(format!(
                "backup: invalid pattern `{}`: it matches names directly inside `dir`, so it cannot contain `/`",
                self.pattern
            ));
        }
        let pattern = glob::Pattern::new(&self.pattern)
            .map_err(|e| format!("backup: invalid pattern `{}`: {}", self.pattern, e.msg))?;
        let sample =
            chrono::DateTime::parse_from_rfc3339("2025-10-21T02:00:00+09:00").expect("static time");
        let name = self.name_at(&sample).ok_or_else(|| {
            format!(
                "backup: invalid name `{}`: expected a strftime format like %Y%m%d_%H%M%S",
                self.name
            )
        })?;
        if name.is_empty() || name.contains('/') || name.starts_with('.') || name.contains('\0') {
            return Err(format!(
                "backup: name `{}` gives `{name}`: expected a plain file name, not starting with `.`",
                self.name
            ));
        }
        if !pattern.matches_with(&name, MATCH_OPTIONS) {
            return Err(format!(
                "backup: name `{}` gives `{name}`, which pattern `{}` does not match: verify, restore-test and prune would never see the new generations",
                self.name, self.pattern
            ));
        }
        if let Some(l) = &self.latest {
            if l.is_empty() || l.contains('/') || l.starts_with('.') {
                return Err(format!(
                    "backup: invalid latest `{l}`: expected a plain name like latest"
                ));
            }
            if pattern.matches_with(l, MATCH_OPTIONS) {
                return Err(format!(
                    "backup: latest `{l}` matches pattern `{}`: it would count as a generation",
                    self.pattern
                ));
            }
        }
        Ok(())
    }
}

/// `restore_test: {}` — copy the newest generation to a temporary
/// directory, check every SQLite database and archive in it, remove it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreTestSpec {
    /// integrity or quick [integrity].
    #[serde(default)]
    pub check: SqliteCheck,
    /// Where the temporary copy is made [$TMPDIR, else /tmp].
    pub temp_dir: Option<String>,
    /// Bound on the whole test [1h].
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    pub timeout: Option<Dur>,
    /// Restore every `*.dump` of the generation on this PostgreSQL server.
    pub postgres: Option<PgRestoreSpec>,
}

/// `prune: {keep_days: 60, keep_min: 7}`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneSpec {
    /// Generations older than this many days may be deleted.
    pub keep_days: u32,
    /// The newest this-many generations are never deleted, whatever their age.
    pub keep_min: u32,
}
