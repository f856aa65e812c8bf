//! `opsrun backup [run|verify|restore-test|prune]` (SPEC §8), driven by
//! `backup.yaml` — seed 000's backup script, its weekly バックアップ確認,
//! its monthly テスト復旧 and its `find -mtime +60 -exec rm -rf` cleanup.
//!
//! - `run`: the `actions` build a new generation in `dir/.NAME.tmp-PID`
//!   (sources are only read), which one rename publishes as `dir/NAME`;
//!   on any failure, timeout or Ctrl-C the temporary directory is removed
//!   and nothing is published. Then the `checks` run.
//! - `verify` (default): the `checks` only.
//! - `restore-test`: see [`restore`].
//! - `prune`: see [`prune`]; deletes only with `--execute`.
//!
//! `run`, `verify` and `restore-test` are recorded in history like any run
//! (weekly reports count backup successes from them). This module is the
//! workflow; `commands/backup.rs` resolves the invocation and presents it.

mod cancel;
mod error;
mod generation;
mod notes;
mod pg;
mod prune;
mod restore;
mod steps;
mod tree;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use tokio::sync::watch;

use crate::check::{Attempt, CheckFuture, Ctx, Failure, Kind, sections};
use crate::engine::{self, CheckResult, Interrupt, RunResult, RunSettings};
use crate::runbook::{Action, BackupSpec, Check, PruneSpec, RestoreTestSpec, Runbook, Step};
use crate::values::io_reason;
use crate::values::outcome::{Outcome, Status};
use crate::values::reason::{Reason, common};
use crate::values::units::Unit;
use cancel::Cancel;
use error::rows;
use generation::TempDir;
use notes::note;
pub(crate) use prune::{Decision, Entry, Keep, NotDeleted, Pruned};

/// Every catalog entry of the backup workflow (its errors and notes), for
/// the words' completeness tests.
#[cfg(test)]
pub(crate) fn codes() -> impl Iterator<Item = &'static crate::values::reason::Code> {
    error::CODES
        .iter()
        .chain(notes::NOTES.iter())
        .chain(pg::CODES.iter())
        .chain(pg::NOTES.iter())
        .copied()
}

/// How long a cancelled blocking step may take to notice before its
/// temporary directory is removed anyway.
const STOP_GRACE: Duration = Duration::from_secs(10);

fn empty_run(rb: &Runbook, now: DateTime<FixedOffset>) -> RunResult {
    RunResult {
        runbook: rb.name.clone(),
        title: rb.title.clone(),
        system: rb.system.clone(),
        host: engine::hostname(),
        started_at: now,
        duration: Duration::ZERO,
        results: Vec::new(),
        interrupted: None,
    }
}

/// `backup verify`: the runbook's checks, as `opsrun run backup` would
/// run them.
pub(crate) async fn verify(
    rb: &Runbook,
    settings: &RunSettings,
    stop: watch::Receiver<Option<Interrupt>>,
) -> RunResult {
    let started = Instant::now();
    let mut r = engine::run(rb, settings, stop).await;
    r.duration = started.elapsed();
    r
}

/// `backup run`: the `actions` make a new generation in `dir`, then the
/// checks run. A `backup` check of a run that published nothing fails.
pub(crate) async fn make(
    rb: &Runbook,
    spec: &BackupSpec,
    dir: &Path,
    base_dir: &Path,
    settings: &RunSettings,
    stop: watch::Receiver<Option<Interrupt>>,
) -> RunResult {
    let now = settings.now;
    let started = Instant::now();
    let mut rows = make_generation(rb, spec, dir, base_dir, now, stop.clone()).await;
    let published = rows.published;
    let mut r = if rows.interrupted.is_none() {
        engine::run(rb, settings, stop).await
    } else {
        empty_run(rb, settings.tz.at(&now))
    };
    if !published {
        // A `backup` check may still pass on the previous
        // generation; for this run's record (weekly backup
        // success) the backup did not happen.
        for c in r
            .results
            .iter_mut()
            .filter(|c| crate::check::has_role(c.check.kind_name, crate::check::Role::Backup))
        {
            c.outcome
                .worsen_by(Status::Fail, Reason::new(&rows::NO_NEW_GENERATION));
        }
    }
    rows.rows.append(&mut r.results);
    r.results = rows.rows;
    r.interrupted = r.interrupted.or(rows.interrupted);
    r.duration = started.elapsed();
    r
}

/// `backup restore-test`: see [`restore`]; one row.
pub(crate) async fn restore_test(
    rb: &Runbook,
    spec: &BackupSpec,
    rt: &RestoreTestSpec,
    dir: &Path,
    base_dir: &Path,
    now: DateTime<FixedOffset>,
    stop: watch::Receiver<Option<Interrupt>>,
) -> RunResult {
    let started = Instant::now();
    let outcome = restore::run(dir, base_dir, spec, rt, now, stop.clone()).await;
    let mut r = empty_run(rb, now);
    r.results.push(row(
        rb,
        "restore-test",
        "バックアップ復旧テスト",
        "restore_test",
        &dir.display().to_string(),
        outcome,
        started.elapsed(),
    ));
    r.interrupted = *stop.borrow();
    r.duration = started.elapsed();
    r
}

/// `backup prune`: what is (or with `execute`, was) deleted, as data
/// (`output::prune` presents it). An unreadable `dir` is an error.
pub(crate) fn prune(
    dir: &Path,
    spec: &BackupSpec,
    p: &PruneSpec,
    execute: bool,
    now: DateTime<FixedOffset>,
) -> std::io::Result<Pruned> {
    let gens = generation::list(dir, &spec.glob())?;
    let now_sys = std::time::UNIX_EPOCH + Duration::from_secs(now.timestamp().max(0) as u64);
    let mut entries = prune::plan(gens, p, now_sys);
    if execute {
        prune::execute(&mut entries);
    }
    Ok(Pruned {
        dir: dir.to_path_buf(),
        pattern: spec.pattern.clone(),
        rules: *p,
        executed: execute,
        now,
        entries,
    })
}

/// Stands in for a check kind in rows that are not checks (the actions,
/// the generation, the restore test): the row only carries their result.
#[derive(Debug)]
struct Row(String);

impl Kind for Row {
    fn run<'a>(&'a self, _ctx: &'a Ctx) -> CheckFuture<'a> {
        // Never run: its row is built from the step's own result.
        Box::pin(async { Attempt::Failed(Failure::unknown(Reason::new(&common::UNFINISHED))) })
    }
    fn section(&self) -> &'static str {
        sections::DATA
    }
    fn target(&self) -> String {
        self.0.clone()
    }
}

fn row(
    rb: &Runbook,
    id: &str,
    title: &str,
    kind_name: &'static str,
    target: &str,
    outcome: Outcome,
    duration: Duration,
) -> CheckResult {
    let mut outcome = outcome;
    outcome.value = crate::secret::redact(&outcome.value);
    outcome.message = crate::secret::redact(&outcome.message);
    for d in &mut outcome.detail {
        d.map_text(&crate::secret::redact);
    }
    CheckResult {
        check: Arc::new(Check {
            id: id.to_owned(),
            title: title.to_owned(),
            section: sections::DATA.to_owned(),
            label: title.to_owned(),
            tags: Vec::new(),
            timeout: Duration::ZERO,
            retry: None,
            severity: None,
            consecutive: 1,
            change: None,
            hint: None,
            kind_name,
            kind: Box::new(Row(target.to_owned())),
            file: rb.path.clone(),
            line: 0,
        }),
        outcome,
        duration,
        attempts: u32::from(duration > Duration::ZERO),
    }
}

fn step_kind(a: &Action) -> &'static str {
    match &a.step {
        Step::SqliteBackup(_) => "sqlite_backup",
        Step::Copy(_) => "copy",
        Step::Archive(_) => "archive",
        Step::PgDump(_) => "pg_dump",
        Step::Wait(_) => "wait",
        Step::Systemctl(_) => "systemctl",
        Step::Check(k, _) => k,
    }
}

/// The rows of the generation-making part of `backup run`.
struct Made {
    rows: Vec<CheckResult>,
    published: bool,
    interrupted: Option<Interrupt>,
}

async fn make_generation(
    rb: &Runbook,
    spec: &BackupSpec,
    dir: &Path,
    base_dir: &Path,
    now: DateTime<FixedOffset>,
    mut stop: watch::Receiver<Option<Interrupt>>,
) -> Made {
    let started = Instant::now();
    let mut made = Made {
        rows: Vec::new(),
        published: false,
        interrupted: None,
    };
    let gen_row = |outcome: Outcome, d: Duration| {
        row(
            rb,
            "generation",
            "バックアップ世代",
            "generation",
            &dir.display().to_string(),
            outcome,
            d,
        )
    };
    let not_run = |a: &Action, why: Reason| {
        row(
            rb,
            &a.id,
            &a.title,
            step_kind(a),
            &a.describe(),
            reasoned(Status::Skip, why),
            Duration::ZERO,
        )
    };
    // Preflight: where the generation goes.
    let Some(name) = spec.name_at(&now) else {
        let why = Reason::new(&rows::BAD_NAME).with("name", &spec.name);
        made.rows
            .push(gen_row(reasoned(Status::Fail, why), started.elapsed()));
        return made;
    };
    let preflight = (|| -> Result<Vec<String>, Reason> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Reason::new(&rows::CREATE_DIR)
                .with("path", dir.display().to_string())
                .with("error", io_reason(&e))
        })?;
        let stale = generation::remove_stale(dir);
        if std::fs::symlink_metadata(dir.join(&name)).is_ok() {
            return Err(Reason::new(&rows::GENERATION_EXISTS)
                .with("name", &name)
                .with("dir", dir.display().to_string()));
        }
        let tmp = dir.join(generation::temp_name(&name));
        generation::create_private_dir(&tmp).map_err(|error| {
            error::Error::Create {
                path: tmp.clone(),
                error,
            }
            .reason()
        })?;
        Ok(stale)
    })();
    let stale = match preflight {
        Ok(s) => s,
        Err(why) => {
            for a in &rb.workflow.actions {
                made.rows
                    .push(not_run(a, Reason::new(&rows::NOT_RUN_NO_GENERATION)));
            }
            made.rows.push(gen_row(
                reasoned(Status::Fail, why).with_value("none"),
                started.elapsed(),
            ));
            return made;
        }
    };
    let tmp = TempDir::new(dir.join(generation::temp_name(&name)));
    let exclude = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
    };

    // The id of the action that failed.
    let mut failed: Option<String> = None;
    for a in &rb.workflow.actions {
        if let Some(f) = &failed {
            made.rows.push(not_run(
                a,
                Reason::new(&rows::NOT_RUN_ACTION).with("action", f),
            ));
            continue;
        }
        if let Some(sig) = *stop.borrow() {
            made.interrupted = Some(sig);
        }
        if made.interrupted.is_some() {
            made.rows.push(row(
                rb,
                &a.id,
                &a.title,
                step_kind(a),
                &a.describe(),
                reasoned(Status::Unknown, Reason::new(&common::INTERRUPTED)),
                Duration::ZERO,
            ));
            continue;
        }
        let t0 = Instant::now();
        let (outcome, interrupted) =
            run_action(a, &tmp.path, base_dir, exclude, now, &mut stop).await;
        if interrupted.is_some() {
            made.interrupted = interrupted;
        } else if outcome.status != Status::Pass {
            failed = Some(a.id.clone());
        }
        made.rows.push(row(
            rb,
            &a.id,
            &a.title,
            step_kind(a),
            &a.describe(),
            outcome,
            t0.elapsed(),
        ));
    }

    let final_path = dir.join(&name);
    let not_published = |status: Status, why: Reason, tmp: TempDir| {
        let mut o = reasoned(status, why).with_value("none");
        let cleanup = match tmp.remove() {
            Ok(()) => Reason::new(&rows::CLEANED_UP),
            Err(e) => e.reason(),
        };
        o.worsen_by(status, cleanup);
        o
    };
    let mut outcome = if let Some(f) = failed {
        let why = Reason::new(&rows::NOT_PUBLISHED_ACTION)
            .with("name", &name)
            .with("action", f);
        not_published(Status::Fail, why, tmp)
    } else if made.interrupted.is_some() {
        let why = Reason::new(&rows::NOT_PUBLISHED_INTERRUPTED).with("name", &name);
        not_published(Status::Unknown, why, tmp)
    } else {
        tree::sync_dir(&tmp.path);
        match generation::publish(&tmp.path, &final_path) {
            Ok(()) => {
                tmp.disarm();
                tree::sync_dir(dir);
                made.published = true;
                let size = tree::tree_bytes(&final_path);
                let mut o = Outcome::pass(note(
                    &notes::GENERATION,
                    vec![("name", (&name).into()), ("size", notes::bytes(size))],
                ))
                .with_detail(note(
                    &notes::PUBLISHED,
                    vec![("path", final_path.display().to_string().into())],
                ));
                if let Some(l) = &spec.latest {
                    match generation::point_latest(dir, l, &name) {
                        Ok(()) => {
                            o = o.with_detail(note(
                                &notes::LATEST,
                                vec![("link", l.into()), ("name", (&name).into())],
                            ))
                        }
                        Err(e) => o.worsen_by(Status::Warn, e.reason()),
                    }
                }
                o
            }
            Err(e) => {
                let _ = tmp.remove();
                let why = match e {
                    error::Error::Rename { path, error } => {
                        Reason::new(&rows::NOT_PUBLISHED_RENAME)
                            .with("path", path.display().to_string())
                            .with("error", io_reason(&error))
                    }
                    error::Error::Exists { path } => Reason::new(&rows::NOT_PUBLISHED_EXISTS)
                        .with("path", path.display().to_string()),
                    other => other.reason(),
                };
                let mut r = why.clone();
                r.params.insert(0, ("name", name.clone().into()));
                reasoned(Status::Fail, r).with_value("none")
            }
        }
    };
    for s in stale {
        outcome = outcome.with_detail(note(&notes::STALE_REMOVED, vec![("name", s.into())]));
    }
    made.rows.push(gen_row(outcome, started.elapsed()));
    made
}

/// A data step, ready to run on a blocking thread.
type BlockingStep = Box<dyn FnOnce(&Cancel) -> Result<steps::Done, error::Error> + Send>;

/// An outcome of `status` for `reason` (its words are the message).
fn reasoned(status: Status, reason: Reason) -> Outcome {
    let mut o = Outcome::new(Status::Pass, "");
    o.worsen_by(status, reason);
    o
}

/// The outcome of a step that did its work.
fn done(d: steps::Done) -> Outcome {
    let mut o = Outcome::pass(d.value).with_extra_metric("bytes", d.bytes as f64, Unit::Bytes);
    for line in d.detail {
        o = o.with_detail(line);
    }
    o
}

fn interrupted() -> Outcome {
    reasoned(Status::Unknown, Reason::new(&common::INTERRUPTED))
}

/// Runs one action into the generation at `gen_dir`; the second value is
/// set when a signal stopped it.
async fn run_action(
    a: &Action,
    gen_dir: &Path,
    base_dir: &Path,
    exclude: tree::Exclude,
    now: DateTime<FixedOffset>,
    stop: &mut watch::Receiver<Option<Interrupt>>,
) -> (Outcome, Option<Interrupt>) {
    let timed_out = || {
        let after = a.timeout.as_secs_f64() * 1000.0;
        reasoned(
            Status::Fail,
            Reason::new(&common::TIMEOUT).with_quantity("after", after, Unit::Millis),
        )
        .with_value("timeout")
    };
    let source = |p: &str| {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { base_dir.join(p) }
    };
    let blocking: BlockingStep = match &a.step {
        Step::SqliteBackup(s) => {
            let (src, name, check) = (source(&s.source), s.dest_name(), s.check);
            let dest = gen_dir.join(&name);
            Box::new(move |c: &Cancel| steps::sqlite_backup(&src, &dest, &name, check, c))
        }
        Step::Copy(s) => {
            let (src, name) = (source(&s.from), s.to_name());
            let dest = gen_dir.join(&name);
            Box::new(move |c: &Cancel| steps::copy(&src, &dest, &name, c, exclude))
        }
        Step::Archive(s) => {
            let (src, name) = (source(&s.from), s.to_name());
            let dest = gen_dir.join(&name);
            Box::new(move |c: &Cancel| steps::archive(&src, &dest, &name, c, exclude))
        }
        Step::Wait(d) => {
            return tokio::select! {
                _ = tokio::time::sleep(*d) => (Outcome::pass(note(&notes::WAITED, Vec::new())), None),
                w = stop.wait_for(|s| s.is_some()) => (interrupted(), w.ok().and_then(|v| *v)),
            };
        }
        // Refused by the loader in a runbook with `backup:`.
        Step::Systemctl(_) => {
            return (
                reasoned(Status::Unknown, Reason::new(&rows::SYSTEMCTL)),
                None,
            );
        }
        Step::PgDump(s) => {
            let ctx = Ctx::new(now, a.timeout, base_dir.to_path_buf());
            // Dropping the dump's future kills pg_dump's process group.
            return tokio::select! {
                r = pg::dump(s, gen_dir, &ctx) => (match r {
                    Ok(d) => done(d),
                    Err(why) => reasoned(Status::Fail, why),
                }, None),
                _ = tokio::time::sleep(a.timeout) => (timed_out(), None),
                w = stop.wait_for(|s| s.is_some()) => (interrupted(), w.ok().and_then(|v| *v)),
            };
        }
        Step::Check(_, kind) => {
            // Relative paths of a check used as a step (a command's working
            // directory, a `file:` path) are inside the new generation.
            let ctx = Ctx::new(now, a.timeout, gen_dir.to_path_buf());
            return tokio::select! {
                o = crate::engine::attempt(kind.as_ref(), &ctx) => (o, None),
                // Dropping the step's future kills a command's process group.
                w = stop.wait_for(|s| s.is_some()) => (interrupted(), w.ok().and_then(|v| *v)),
            };
        }
    };
    let cancel = Arc::new(Cancel::default());
    let c = cancel.clone();
    let job = tokio::task::spawn_blocking(move || blocking(&c));
    tokio::pin!(job);
    let (outcome, interrupted) = tokio::select! {
        r = &mut job => {
            let o = match r {
                Ok(Ok(d)) => done(d),
                Ok(Err(e)) => reasoned(Status::Fail, e.reason()),
                Err(e) => reasoned(
                    Status::Unknown,
                    Reason::new(&rows::STEP_FAILED).with("error", e.to_string()),
                ),
            };
            return (o, None);
        }
        _ = tokio::time::sleep(a.timeout) => (timed_out(), None),
        w = stop.wait_for(|s| s.is_some()) => (interrupted(), w.ok().and_then(|v| *v)),
    };
    // Stopped from outside: let the blocking step notice before the
    // caller removes the directory it writes into.
    cancel.cancel();
    let _ = tokio::time::timeout(STOP_GRACE, &mut job).await;
    (outcome, interrupted)
}
