//! PostgreSQL in `opsrun backup` (SPEC §10.6): the `pg_dump` action
//! (custom format, into the new generation) and `restore_test: {postgres:
//! …}`, which restores every `*.dump` of the newest generation into a
//! scratch database `opsrun_restore_<unix time>_<random>` on that server,
//! reads every table, runs `verify_query`, and drops the database — also
//! after an error, a timeout or Ctrl-C/SIGTERM (within the 2.5 s the
//! watchdog allows).
//!
//! The connection is the `postgres` check's (`check::PgConn`): opsrun
//! itself connects to read the server's version and to create, read and
//! drop the scratch database. `pg_dump` and `pg_restore` are the real
//! tools, run with the same server in `PG*` variables and the password in
//! a password file (mode 0600, removed afterwards) — never in their
//! arguments, which every user of the host can read in `ps`.
//!
//! Which tools: `bin_dir` when the runbook gives one; otherwise every
//! `/usr/lib/postgresql/*/bin` (Debian and Ubuntu install versions side by
//! side there) and `PATH` are asked for `--version`, and the one of the
//! server's major version is taken, else the closest newer one, else the
//! newest there is. `pg_dump` refuses a server newer than itself, so that
//! is said in one line before it runs; an older `pg_restore` is tried
//! (it reads dumps of its own and older versions).
//!
//! A scratch database that cannot be dropped (the server went away) is
//! said in the row. A later restore test on the same server drops those
//! left more than [`LEFTOVER_AGE`] ago: their name carries the time they
//! were made, and no restore test runs that long by default.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tokio::time::Instant;

use super::notes::{bytes, note};
use super::steps::Done;
use crate::check::{Ctx, PgSession, PgTarget};
use crate::engine::Interrupt;
use crate::runbook::{PgDumpStep, PgRestoreSpec};
use crate::values::io_reason;
use crate::values::outcome::Status;
use crate::values::reason::{Code, Reason, say};

/// Scratch databases made longer ago than this by a restore test that
/// could not drop them are dropped by the next one.
const LEFTOVER_AGE: Duration = Duration::from_secs(24 * 3600);
/// How long dropping the scratch database may take after Ctrl-C (the
/// watchdog ends the process 2.5 s after the signal).
const DROP_AFTER_SIGNAL: Duration = Duration::from_millis(1500);
/// How long dropping it may take otherwise.
const DROP_BUDGET: Duration = Duration::from_secs(60);
/// Bound on `TOOL --version`.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);
/// Kept of a tool's stderr (its last lines say what went wrong).
const KEEP_STDERR: usize = 16 * 1024;

// Reasons (docs/reasons.md).
static NO_TOOL: Code = Code::new(
    "backup.pg.no_tool",
    "{tool} not found (looked in {where}): install the PostgreSQL client programs",
);
static TOOL_UNUSABLE: Code = Code::new("backup.pg.tool_unusable", "cannot run {path}: {error}");
static TOO_OLD: Code = Code::new(
    "backup.pg.too_old",
    "{tool} {have} cannot dump a PostgreSQL {server} server ({tool} {server} or newer is needed)",
);
static RESTORE_TOO_OLD: Code = Code::variant(
    "backup.pg.restore_too_old",
    "backup.pg.too_old",
    "{tool} {have} cannot read {file}: it was made by a newer pg_dump ({error})",
);
static TOOL_FAILED: Code = Code::new("backup.pg.failed", "{tool} failed[ (exit {code})]: {error}");
static RESTORE_FAILED: Code = Code::variant(
    "backup.pg.restore_failed",
    "backup.restore_test.file",
    "{file}: pg_restore failed: {error}",
);
static NOT_A_DUMP: Code = Code::new(
    "backup.pg.not_a_dump",
    "{name} is not a custom-format dump (no PGDMP header)",
);
static PASSFILE: Code = Code::new(
    "backup.pg.passfile",
    "cannot write a password file for {tool} in {dir}: {error}",
);
static CREATE_DB: Code = Code::new(
    "backup.pg.create_db",
    "cannot create the scratch database {db}: {error}",
);
static TABLE: Code = Code::variant(
    "backup.pg.table",
    "backup.restore_test.file",
    "{file}: table {table} cannot be read: {error}",
);
static VERIFY_FALSE: Code = Code::variant(
    "backup.pg.verify_false",
    "backup.pg.verify",
    "{file}: verify_query returned {value}, expected true or a number above 0",
);
static VERIFY_ERROR: Code = Code::variant(
    "backup.pg.verify_error",
    "backup.pg.verify",
    "{file}: verify_query: {error}",
);
static NOT_DROPPED: Code = Code::new(
    "backup.pg.not_dropped",
    "the scratch database {db} could not be dropped ({error}): drop it with DROP DATABASE {db}, \
     or a restore test on this server drops it after 24 hours",
);
static NO_DUMP: Code = Code::new(
    "backup.pg.no_dump",
    "no *.dump in {name}: nothing to restore on PostgreSQL",
);

/// Every reason of this file.
#[cfg(test)]
pub(crate) static CODES: &[&Code] = &[
    &NO_TOOL,
    &TOOL_UNUSABLE,
    &TOO_OLD,
    &RESTORE_TOO_OLD,
    &TOOL_FAILED,
    &RESTORE_FAILED,
    &NOT_A_DUMP,
    &PASSFILE,
    &CREATE_DB,
    &TABLE,
    &VERIFY_FALSE,
    &VERIFY_ERROR,
    &NOT_DROPPED,
    &NO_DUMP,
];

// Notes (value column and detail lines).
static DUMPED: Code = Code::new(
    "backup.note.pg_dumped",
    "{name}: {size}, PostgreSQL {server}",
);
static TOOL_USED: Code = Code::new("backup.note.pg_tool", "{tool} {version} ({path})");
static RESTORED: Code = Code::new(
    "backup.note.pg_restored",
    "{file}: restored into {db} on {address}: {tables} tables, {rows} rows read[, verify_query {verify}]",
);
static DROPPED: Code = Code::new("backup.note.pg_dropped", "scratch database {db} dropped");
static LEFTOVER_DROPPED: Code = Code::new(
    "backup.note.pg_leftover_dropped",
    "dropped {db}, left by an earlier restore test",
);
static LEFTOVER_KEPT: Code = Code::new(
    "backup.note.pg_leftover_kept",
    "could not drop {db}, left by an earlier restore test: {error}",
);
static PG_OK: Code = Code::new("backup.note.pg_ok", "PostgreSQL {ok}/{n} ok");

/// Every note of this file.
#[cfg(test)]
pub(crate) static NOTES: &[&Code] = &[
    &DUMPED,
    &TOOL_USED,
    &RESTORED,
    &DROPPED,
    &LEFTOVER_DROPPED,
    &LEFTOVER_KEPT,
    &PG_OK,
];

/// The part of the value column a restore test on PostgreSQL adds.
pub(super) fn ok_part(ok: usize, n: usize) -> String {
    note(&PG_OK, vec![("ok", ok.into()), ("n", n.into())])
}

/// `15` for 15.x, `906` for 9.6 (before 10 the major version had two parts).
fn major_of_num(num: u32) -> u32 {
    if num >= 100_000 {
        num / 10_000
    } else {
        num / 100
    }
}

/// The major version of a version string (`15.18`, `9.6.24`, `17beta1`).
fn major_of(v: &str) -> Option<u32> {
    let mut parts = v.split('.');
    let lead = |s: &str| -> Option<u32> {
        let d: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
        d.parse().ok()
    };
    let first = lead(parts.next()?)?;
    if first >= 10 {
        Some(first)
    } else {
        Some(first * 100 + parts.next().and_then(lead).unwrap_or(0))
    }
}

fn major_text(m: u32) -> String {
    if m >= 100 {
        format!("{}.{}", m / 100, m % 100)
    } else {
        m.to_string()
    }
}

/// A PostgreSQL client program and its version.
#[derive(Clone, Debug)]
struct Tool {
    name: &'static str,
    path: PathBuf,
    /// `15.18`.
    version: String,
    major: u32,
}

impl Tool {
    fn used(&self) -> String {
        note(
            &TOOL_USED,
            vec![
                ("tool", self.name.into()),
                ("version", (&self.version).into()),
                ("path", self.path.display().to_string().into()),
            ],
        )
    }
}

/// Where `name` may be: `bin_dir`, else Debian's versioned directories
/// and `PATH`.
fn candidates(name: &str, bin_dir: Option<&Path>) -> (Vec<PathBuf>, String) {
    if let Some(d) = bin_dir {
        return (vec![d.join(name)], d.display().to_string());
    }
    let mut found = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut dirs: Vec<PathBuf> = rd.flatten().map(|e| e.path().join("bin")).collect();
        dirs.sort();
        found.extend(dirs.into_iter().map(|d| d.join(name)));
    }
    if let Some(path) = std::env::var_os("PATH") {
        found.extend(std::env::split_paths(&path).map(|d| d.join(name)));
    }
    found.retain(|p| p.is_file());
    (found, "/usr/lib/postgresql/*/bin and PATH".to_owned())
}

/// `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` → `15.18`.
fn parse_version(out: &str) -> Option<String> {
    let line = out.lines().next()?;
    let after = line.split_once(')').map(|(_, r)| r).unwrap_or(line);
    after
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_owned)
}

async fn version_of(name: &'static str, path: &Path) -> Result<Tool, Reason> {
    let unusable = |e: String| {
        Reason::new(&TOOL_UNUSABLE)
            .with("path", path.display().to_string())
            .with("error", e)
    };
    let run = tokio::process::Command::new(path)
        .arg("--version")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(VERSION_TIMEOUT, run).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Err(unusable(io_reason(&e))),
        Err(_) => return Err(unusable("--version did not answer".into())),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let version = parse_version(&text)
        .filter(|_| out.status.success())
        .ok_or_else(|| unusable(format!("unexpected --version output `{}`", text.trim())))?;
    let major = major_of(&version).ok_or_else(|| unusable(format!("version `{version}`")))?;
    Ok(Tool {
        name,
        path: path.to_path_buf(),
        version,
        major,
    })
}

/// The tool that suits a server of major version `server`: the same major
/// version, else the closest newer one, else the newest found.
async fn pick(name: &'static str, bin_dir: Option<&Path>, server: u32) -> Result<Tool, Reason> {
    let (paths, looked) = candidates(name, bin_dir);
    let mut tools = Vec::new();
    let mut last_error = None;
    for p in &paths {
        match version_of(name, p).await {
            Ok(t) => tools.push(t),
            Err(r) => last_error = Some(r),
        }
    }
    if tools.is_empty() {
        return Err(last_error.unwrap_or_else(|| {
            Reason::new(&NO_TOOL)
                .with("tool", name)
                .with("where", looked)
        }));
    }
    // Stable: among equals the first found (the versioned directories
    // before PATH, whose pg_dump on Debian is a wrapper).
    let exact = tools.iter().find(|t| t.major == server);
    let newer = tools
        .iter()
        .filter(|t| t.major > server)
        .min_by_key(|t| t.major);
    let newest = tools.iter().max_by_key(|t| t.major);
    Ok(exact.or(newer).or(newest).cloned().expect("non-empty"))
}

/// A password file only this user can read, removed when dropped.
struct PassFile(Option<PathBuf>);

impl PassFile {
    fn write(password: Option<&[u8]>, tool: &str) -> Result<PassFile, Reason> {
        let Some(pw) = password else {
            return Ok(PassFile(None));
        };
        use std::os::unix::fs::OpenOptionsExt;
        let dir = std::env::temp_dir();
        sweep_stale(&dir);
        let path = dir.join(format!(
            "opsrun-pgpass-{}-{:016x}",
            std::process::id(),
            random()
        ));
        let mut line = b"*:*:*:*:".to_vec();
        for &b in pw {
            if b == b':' || b == b'\\' {
                line.push(b'\\');
            }
            line.push(b);
        }
        line.push(b'\n');
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(&line));
        let file = PassFile(Some(path));
        written.map_err(|e| {
            Reason::new(&PASSFILE)
                .with("tool", tool)
                .with("dir", dir.display().to_string())
                .with("error", io_reason(&e))
        })?;
        Ok(file)
    }

    fn path(&self) -> Option<&Path> {
        self.0.as_deref()
    }
}

/// Removes password files left by an opsrun that could not clean up (a
/// SIGKILL, a power cut): `opsrun-pgpass-PID-…` whose process is gone. A
/// file of a live process stays, whichever program now has that PID: its
/// owner may still need it, and leaving one is the safe mistake.
fn sweep_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("opsrun-pgpass-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = Path::new("/proc").join(pid.to_string()).exists();
        // Only regular files: a symlink planted under that name is not ours.
        let regular = e.file_type().is_ok_and(|t| t.is_file());
        if !alive && regular {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

impl Drop for PassFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A random number without a random-number crate (names only need to
/// differ between runs).
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

/// Kills the tool's process group when dropped (a timeout or Ctrl-C drops
/// the future running it).
struct GroupGuard(Option<i32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take().and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

/// How a tool failed: its exit code and the line that says why.
struct ToolFailure {
    code: Option<i32>,
    line: String,
}

/// The line of a tool's stderr that says what went wrong: the first
/// `error:` line (pg_restore prints context lines before it), else the
/// last line, without the `pg_dump: error: ` prefix.
fn summary(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let line = lines
        .iter()
        .find(|l| l.contains("error:"))
        .or(lines.last())
        .copied()
        .unwrap_or("no message");
    let line = line
        .split_once("error: ")
        .map(|(_, r)| r)
        .unwrap_or(line)
        .trim();
    let line = crate::secret::redact(line);
    if line.chars().count() > 300 {
        format!("{}…", line.chars().take(300).collect::<String>())
    } else {
        line
    }
}

async fn run_tool(
    tool: &Tool,
    args: &[OsString],
    env: &[(&'static str, Option<OsString>)],
) -> Result<(), ToolFailure> {
    let mut cmd = tokio::process::Command::new(&tool.path);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let mut child = cmd.spawn().map_err(|e| ToolFailure {
        code: None,
        line: format!("cannot run {}: {}", tool.path.display(), io_reason(&e)),
    })?;
    let _guard = GroupGuard(child.id().map(|p| p as i32));
    let mut err = child.stderr.take().expect("piped stderr");
    let read = async {
        let mut keep = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            match err.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    keep.extend_from_slice(&buf[..n]);
                    if keep.len() > 2 * KEEP_STDERR {
                        keep.drain(..keep.len() - KEEP_STDERR);
                    }
                }
            }
        }
        keep
    };
    let (stderr, status) = tokio::join!(read, child.wait());
    let stderr = String::from_utf8_lossy(&stderr);
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(ToolFailure {
            code: s.code(),
            line: summary(&stderr),
        }),
        Err(e) => Err(ToolFailure {
            code: None,
            line: io_reason(&e),
        }),
    }
}

/// The `pg_dump` action: dumps the database into `gen_dir/dest`.
pub(super) async fn dump(step: &PgDumpStep, gen_dir: &Path, ctx: &Ctx) -> Result<Done, Reason> {
    let name = step.dest_name();
    let dest = gen_dir.join(&name);
    super::steps::fresh(&dest, &name).map_err(|e| e.reason())?;
    let target = step.conn().resolve(ctx)?;
    let session = target.connect(None).await?;
    let (server, server_num) = (session.version.clone(), session.version_num);
    session.close().await;
    let server_major = major_of_num(server_num);
    let bin_dir = step.bin_dir.as_deref().map(|d| ctx.path(d));
    let tool = pick("pg_dump", bin_dir.as_deref(), server_major).await?;
    if tool.major < server_major {
        return Err(Reason::new(&TOO_OLD)
            .with("tool", "pg_dump")
            .with("have", major_text(tool.major))
            .with("server", major_text(server_major)));
    }
    let pass = PassFile::write(target.password(), "pg_dump")?;
    let args: Vec<OsString> = vec!["--format=custom".into(), "--no-password".into(), {
        let mut f = OsString::from("--file=");
        f.push(&dest);
        f
    }];
    let env = target.child_env(target.dbname(), pass.path());
    if let Err(f) = run_tool(&tool, &args, &env).await {
        let _ = std::fs::remove_file(&dest);
        return Err(Reason::new(&TOOL_FAILED)
            .with("tool", "pg_dump")
            .with_opt("code", f.code)
            .with("error", f.line));
    }
    drop(pass);
    let head = {
        use std::io::Read;
        let mut h = [0u8; 5];
        std::fs::File::open(&dest)
            .and_then(|mut f| f.read_exact(&mut h))
            .map(|_| h)
    };
    if !matches!(head, Ok(h) if &h == b"PGDMP") {
        return Err(Reason::new(&NOT_A_DUMP).with("name", &name));
    }
    let size = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
    Ok(Done {
        value: note(
            &DUMPED,
            vec![
                ("name", (&name).into()),
                ("size", bytes(size)),
                ("server", server.into()),
            ],
        ),
        bytes: size,
        detail: vec![tool.used()],
    })
}

/// How the PostgreSQL part of a restore test ended early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stopped {
    Timeout,
    Interrupted,
}

/// What the PostgreSQL part of a restore test found.
#[derive(Default)]
pub(super) struct Restored {
    /// Dumps restored and checked / dumps found.
    pub ok: usize,
    pub n: usize,
    pub detail: Vec<String>,
    pub problems: Vec<(Status, Reason)>,
    pub stopped: Option<Stopped>,
}

impl Restored {
    fn problem(&mut self, s: Status, r: Reason) {
        self.problems.push((s, r));
    }
}

/// `opsrun_restore_<unix seconds>_<random>`.
fn scratch_name(now: &DateTime<FixedOffset>) -> String {
    format!(
        "opsrun_restore_{}_{:08x}",
        now.timestamp().max(0),
        random() as u32
    )
}

/// When a scratch database of ours was made, from its name.
fn made_at(db: &str) -> Option<i64> {
    let rest = db.strip_prefix("opsrun_restore_")?;
    let (secs, hex) = rest.split_once('_')?;
    if secs.is_empty()
        || !secs.bytes().all(|b| b.is_ascii_digit())
        || hex.is_empty()
        || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    secs.parse().ok()
}

/// Runs `f` unless the deadline passes or a signal comes first.
async fn bounded<T>(
    f: impl std::future::Future<Output = T>,
    deadline: Instant,
    stop: &mut watch::Receiver<Option<Interrupt>>,
) -> Result<T, Stopped> {
    tokio::select! {
        r = f => Ok(r),
        _ = tokio::time::sleep_until(deadline) => Err(Stopped::Timeout),
        _ = stop.wait_for(|s| s.is_some()) => Err(Stopped::Interrupted),
    }
}

/// The restore test's PostgreSQL part on the copy of the newest
/// generation at `copy` (named `gen`).
pub(super) async fn restore_test(
    spec: &PgRestoreSpec,
    copy: &Path,
    generation: &str,
    ctx: &Ctx,
    deadline: Instant,
    stop: &mut watch::Receiver<Option<Interrupt>>,
) -> Restored {
    let mut out = Restored::default();
    let mut dumps: Vec<PathBuf> = super::tree::regular_files(copy)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "dump"))
        .collect();
    dumps.sort();
    out.n = dumps.len();
    if dumps.is_empty() {
        out.problem(Status::Warn, Reason::new(&NO_DUMP).with("name", generation));
        return out;
    }
    let target = match spec.conn().resolve(ctx) {
        Ok(t) => t,
        Err(r) => {
            out.problem(Status::Fail, r);
            return out;
        }
    };
    let admin = match bounded(target.connect(None), deadline, stop).await {
        Ok(Ok(s)) => s,
        Ok(Err(r)) => {
            out.problem(Status::Fail, r);
            return out;
        }
        Err(s) => {
            out.stopped = Some(s);
            return out;
        }
    };
    let major = major_of_num(admin.version_num);
    if let Err(s) = bounded(
        drop_leftovers(&target, &admin, ctx.now, &mut out.detail),
        deadline,
        stop,
    )
    .await
    {
        out.stopped = Some(s);
        admin.close().await;
        return out;
    }
    let bin_dir = spec.bin_dir.as_deref().map(|d| ctx.path(d));
    let tool = match bounded(
        pick("pg_restore", bin_dir.as_deref(), major),
        deadline,
        stop,
    )
    .await
    {
        Ok(Ok(t)) => t,
        Ok(Err(r)) => {
            out.problem(Status::Fail, r);
            admin.close().await;
            return out;
        }
        Err(s) => {
            out.stopped = Some(s);
            admin.close().await;
            return out;
        }
    };
    out.detail.push(tool.used());
    let pass = match PassFile::write(target.password(), "pg_restore") {
        Ok(p) => p,
        Err(r) => {
            out.problem(Status::Fail, r);
            admin.close().await;
            return out;
        }
    };
    let mut admin = Some(admin);
    for dump in &dumps {
        let rel = dump
            .strip_prefix(copy)
            .unwrap_or(dump)
            .to_string_lossy()
            .into_owned();
        let file = format!("{generation}/{rel}");
        let db = scratch_name(&ctx.now);
        let Some(a) = admin.as_ref() else { break };
        // Recorded before it exists: a signal during CREATE DATABASE
        // still drops it.
        let created = Mutex::new(false);
        let work = async {
            a.simple(
                &target,
                &format!("CREATE DATABASE \"{db}\""),
                "creating the scratch database",
            )
            .await
            .map_err(|r| {
                Reason::new(&CREATE_DB)
                    .with("db", &db)
                    .with("error", say(&r))
            })?;
            *created.lock().unwrap_or_else(|e| e.into_inner()) = true;
            restore_one(&tool, &target, &db, dump, &file, spec, pass.path()).await
        };
        let ended = bounded(work, deadline, stop).await;
        let was_created = *created.lock().unwrap_or_else(|e| e.into_inner());
        match ended {
            Ok(Ok(line)) => {
                out.ok += 1;
                out.detail.push(line);
            }
            Ok(Err(r)) => out.problem(Status::Fail, r),
            Err(s) => out.stopped = Some(s),
        }
        // A CREATE DATABASE cut short may still have committed: drop
        // whenever it was sent.
        if was_created || out.stopped.is_some() {
            let budget = if out.stopped == Some(Stopped::Interrupted) {
                DROP_AFTER_SIGNAL
            } else {
                DROP_BUDGET
            };
            let dropped = drop_scratch(&target, &mut admin, &db, major, budget).await;
            match dropped {
                Ok(()) => out.detail.push(note(&DROPPED, vec![("db", (&db).into())])),
                Err(e) if was_created => out.problem(
                    Status::Warn,
                    Reason::new(&NOT_DROPPED).with("db", &db).with("error", e),
                ),
                Err(_) => {}
            }
        }
        if out.stopped.is_some() {
            break;
        }
    }
    if let Some(a) = admin {
        a.close().await;
    }
    out
}

/// Restores `dump` into the new database `db`, reads every table and runs
/// `verify_query`; the detail line when all is well.
async fn restore_one(
    tool: &Tool,
    target: &PgTarget,
    db: &str,
    dump: &Path,
    file: &str,
    spec: &PgRestoreSpec,
    passfile: Option<&Path>,
) -> Result<String, Reason> {
    let args: Vec<OsString> = vec![
        "--no-owner".into(),
        "--no-privileges".into(),
        "--exit-on-error".into(),
        "--no-password".into(),
        format!("--dbname={db}").into(),
        dump.as_os_str().to_owned(),
    ];
    let env = target.child_env(db, passfile);
    if let Err(f) = run_tool(tool, &args, &env).await {
        if f.line.contains("unsupported version") {
            return Err(Reason::new(&RESTORE_TOO_OLD)
                .with("tool", "pg_restore")
                .with("have", &tool.version)
                .with("file", file)
                .with("error", f.line));
        }
        return Err(Reason::new(&RESTORE_FAILED)
            .with("file", file)
            .with("error", f.line));
    }
    let s = target.connect(Some(db)).await?;
    let checked = read_tables(target, &s, file, spec).await;
    s.close().await;
    let (tables, rows, verify) = checked?;
    let mut params = vec![
        ("file", file.into()),
        ("db", db.into()),
        ("address", target.address().into()),
        ("tables", tables.into()),
        ("rows", rows.into()),
    ];
    if let Some(v) = verify {
        params.push(("verify", v.into()));
    }
    Ok(note(&RESTORED, params))
}

/// Counts the rows of every table of the restored database and runs
/// `verify_query`: (tables, rows, what verify_query returned).
async fn read_tables(
    target: &PgTarget,
    s: &PgSession,
    file: &str,
    spec: &PgRestoreSpec,
) -> Result<(u64, u64, Option<String>), Reason> {
    let tables = s
        .simple(
            target,
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' \
             AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1",
            "listing the restored tables",
        )
        .await?;
    let mut rows = 0u64;
    let mut n = 0u64;
    for t in tables.iter().filter_map(|r| r.first().cloned().flatten()) {
        let counted = s
            .simple(
                target,
                &format!("SELECT count(*) FROM {t}"),
                "reading a restored table",
            )
            .await
            .map_err(|r| {
                Reason::new(&TABLE)
                    .with("file", file)
                    .with("table", &t)
                    .with("error", say(&r))
            })?;
        n += 1;
        rows += counted
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    let verify = match &spec.verify_query {
        None => None,
        Some(q) => {
            let got = s
                .simple(target, q, "running verify_query")
                .await
                .map_err(|r| {
                    Reason::new(&VERIFY_ERROR)
                        .with("file", file)
                        .with("error", say(&r))
                })?;
            let first = got.first().and_then(|r| r.first().cloned()).flatten();
            let shown = first.clone().unwrap_or_else(|| "NULL".into());
            if !verified(first.as_deref()) {
                let shown = if got.is_empty() {
                    "no rows".into()
                } else {
                    shown
                };
                return Err(Reason::new(&VERIFY_FALSE)
                    .with("file", file)
                    .with("value", shown));
            }
            Some(shown)
        }
    };
    Ok((n, rows, verify))
}

/// Whether `verify_query`'s first value says yes: true, or a number above 0.
fn verified(v: Option<&str>) -> bool {
    match v.map(str::trim) {
        None => false,
        Some("t" | "true") => true,
        Some(s) => s.parse::<f64>().is_ok_and(|n| n > 0.0),
    }
}

/// Drops `db`, on the open session when it still works, else on a new
/// one; the error (as said) when neither could.
async fn drop_scratch(
    target: &PgTarget,
    admin: &mut Option<PgSession>,
    db: &str,
    major: u32,
    budget: Duration,
) -> Result<(), String> {
    // FORCE (13+) ends pg_restore's session if it is still there.
    let sql = if major >= 13 {
        format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)")
    } else {
        format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'; \
             DROP DATABASE IF EXISTS \"{db}\""
        )
    };
    let attempt = async {
        let first = match admin.as_ref() {
            Some(a) => {
                a.simple(target, &sql, "dropping the scratch database")
                    .await
            }
            None => Err(Reason::new(&crate::values::reason::common::UNFINISHED)),
        };
        match first {
            Ok(_) => Ok(()),
            Err(_) => {
                // The session may have died with the server's restart.
                if let Some(a) = admin.take() {
                    a.close().await;
                }
                let s = target.connect(None).await.map_err(|r| say(&r))?;
                let r = s
                    .simple(target, &sql, "dropping the scratch database")
                    .await
                    .map(|_| ())
                    .map_err(|r| say(&r));
                *admin = Some(s);
                r
            }
        }
    };
    match tokio::time::timeout(budget, attempt).await {
        Ok(r) => r,
        Err(_) => Err(say(&Reason::new(&crate::values::reason::common::TIMEOUT)
            .with_quantity(
                "after",
                budget.as_secs_f64() * 1000.0,
                crate::values::units::Unit::Millis,
            ))),
    }
}

/// Drops the scratch databases earlier restore tests could not drop, made
/// more than [`LEFTOVER_AGE`] ago; says what it did in `detail`.
async fn drop_leftovers(
    target: &PgTarget,
    admin: &PgSession,
    now: DateTime<FixedOffset>,
    detail: &mut Vec<String>,
) {
    let Ok(rows) = admin
        .simple(
            target,
            "SELECT datname FROM pg_database WHERE datname LIKE 'opsrun\\_restore\\_%' ORDER BY 1",
            "listing earlier scratch databases",
        )
        .await
    else {
        return;
    };
    let limit = now.timestamp() - LEFTOVER_AGE.as_secs() as i64;
    for db in rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
    {
        if made_at(&db).is_none_or(|t| t >= limit) {
            continue;
        }
        match admin
            .simple(
                target,
                &format!("DROP DATABASE IF EXISTS \"{db}\""),
                "dropping an earlier scratch database",
            )
            .await
        {
            Ok(_) => detail.push(note(&LEFTOVER_DROPPED, vec![("db", db.into())])),
            Err(r) => detail.push(note(
                &LEFTOVER_KEPT,
                vec![("db", db.into()), ("error", say(&r).into())],
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_majors() {
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n").as_deref(),
            Some("15.18")
        );
        assert_eq!(
            parse_version("pg_restore (PostgreSQL) 17beta1").as_deref(),
            Some("17beta1")
        );
        assert_eq!(major_of("15.18"), Some(15));
        assert_eq!(major_of("17beta1"), Some(17));
        assert_eq!(major_of("9.6.24"), Some(906));
        assert_eq!(major_of_num(150018), 15);
        assert_eq!(major_of_num(90624), 906);
        assert_eq!(major_text(906), "9.6");
        assert_eq!(major_text(16), "16");
    }

    #[test]
    fn scratch_names_carry_their_time() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T10:00:00+09:00").unwrap();
        let n = scratch_name(&now);
        assert!(n.starts_with("opsrun_restore_"), "{n}");
        assert_eq!(made_at(&n), Some(now.timestamp()));
        assert_eq!(made_at("opsrun_restore_x"), None);
        assert_eq!(made_at("opsrun_restore_12_zz"), None);
        assert_eq!(made_at("appdb"), None);
    }

    #[test]
    fn verify_query_answers() {
        assert!(verified(Some("t")));
        assert!(verified(Some("42")));
        assert!(!verified(Some("0")));
        assert!(!verified(Some("f")));
        assert!(!verified(None));
    }

    #[test]
    fn tool_errors_are_one_line() {
        let e = "pg_restore: while PROCESSING TOC:\n\
                 pg_restore: error: could not read from input file: end of file\n";
        assert_eq!(summary(e), "could not read from input file: end of file");
        assert_eq!(summary(""), "no message");
    }
}
