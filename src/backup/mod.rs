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
//! (weekly reports count backup successes from them).

mod cancel;
mod generation;
mod prune;
mod restore;
mod steps;
mod tree;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use tokio::sync::watch;

use crate::app;
use crate::check::{CheckFuture, Ctx, Kind, sections};
use crate::cli::{BackupAction, RunArgs};
use crate::engine::{self, CheckResult, Interrupt, RunResult, RunSettings, Selection};
use crate::exit;
use crate::history;
use crate::output::Format;
use crate::runbook::{Action, BackupSpec, Check, Runbook, Step};
use crate::values::io_reason;
use crate::values::outcome::{Outcome, Status};
use crate::values::units::format_millis;
use cancel::Cancel;
use generation::TempDir;

/// How long a cancelled blocking step may take to notice before its
/// temporary directory is removed anyway.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// `opsrun backup ACTION`: returns the exit code.
pub fn command(action: BackupAction, execute: bool, args: RunArgs) -> anyhow::Result<i32> {
    if execute && !matches!(action, BackupAction::Prune | BackupAction::Run) {
        eprintln!(
            "error: --execute is for `opsrun backup prune` (`backup run` makes a generation without it)"
        );
        return Ok(exit::UNKNOWN);
    }
    // Notification settings are checked before anything runs, so a broken
    // `notify:` never shows up only after a backup was made.
    let Some((runbooks, notify)) = app::prepare(&["backup"], &args) else {
        return Ok(exit::UNKNOWN);
    };
    let rb = &runbooks[0];
    let spec = rb.workflow.backup.clone();
    let need = |what: &str| {
        eprintln!(
            "error: {}: no `backup: {{dir: …, pattern: …}}` block: `opsrun backup {what}` needs to know where the generations are",
            rb.path.display()
        );
        Ok(exit::UNKNOWN)
    };
    let now = args
        .now
        .unwrap_or_else(|| chrono::Local::now().fixed_offset());
    let base_dir = rb
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let args = &args;
    let resolve = |p: &str| {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { base_dir.join(p) }
    };
    match action {
        BackupAction::Verify => {
            let result = with_runtime(|stop| async move {
                let started = Instant::now();
                let mut r = run_checks(rb, args, now, stop).await;
                r.duration = started.elapsed();
                r
            })?;
            Ok(finish(&runbooks, result, args, notify))
        }
        BackupAction::Run => {
            let Some(spec) = spec else { return need("run") };
            if rb.workflow.actions.is_empty() {
                eprintln!(
                    "error: {}: no `actions:`: `opsrun backup run` needs steps such as sqlite_backup, copy or archive",
                    rb.path.display()
                );
                return Ok(exit::UNKNOWN);
            }
            let dir = resolve(&spec.dir);
            let result = with_runtime(|stop| async move {
                let started = Instant::now();
                let mut rows = make_generation(rb, &spec, &dir, &base_dir, now, stop.clone()).await;
                let published = rows.published;
                let mut r = if rows.interrupted.is_none() {
                    run_checks(rb, args, now, stop).await
                } else {
                    empty_run(rb, now)
                };
                if !published {
                    // A `backup` check may still pass on the previous
                    // generation; for this run's record (weekly backup
                    // success) the backup did not happen.
                    for c in r.results.iter_mut().filter(|c| {
                        crate::check::has_role(c.check.kind_name, crate::check::Role::Backup)
                    }) {
                        c.outcome.worsen(
                            Status::Fail,
                            "no new generation from this run (see the generation row)",
                        );
                    }
                }
                rows.rows.append(&mut r.results);
                r.results = rows.rows;
                r.interrupted = r.interrupted.or(rows.interrupted);
                r.duration = started.elapsed();
                r
            })?;
            Ok(finish(&runbooks, result, args, notify))
        }
        BackupAction::RestoreTest => {
            let Some(spec) = spec else {
                return need("restore-test");
            };
            let rt = rb.workflow.restore_test.clone().unwrap_or_default();
            let dir = resolve(&spec.dir);
            let result = with_runtime(|stop| async move {
                let started = Instant::now();
                let outcome = restore::run(&dir, &base_dir, &spec, &rt, stop.clone()).await;
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
            })?;
            Ok(finish(&runbooks, result, args, notify))
        }
        BackupAction::Prune => {
            let Some(spec) = spec else {
                return need("prune");
            };
            let Some(p) = rb.workflow.prune else {
                eprintln!(
                    "error: {}: no `prune: {{keep_days: …, keep_min: …}}` block: nothing says what may be deleted",
                    rb.path.display()
                );
                return Ok(exit::UNKNOWN);
            };
            Ok(run_prune(
                &resolve(&spec.dir),
                &spec,
                &p,
                execute,
                now,
                args,
            ))
        }
    }
}

fn run_prune(
    dir: &Path,
    spec: &BackupSpec,
    p: &crate::runbook::PruneSpec,
    execute: bool,
    now: DateTime<FixedOffset>,
    args: &RunArgs,
) -> i32 {
    let gens = match generation::list(dir, &spec.glob()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: cannot read {}: {}", dir.display(), io_reason(&e));
            return exit::UNKNOWN;
        }
    };
    let now_sys = std::time::UNIX_EPOCH + Duration::from_secs(now.timestamp().max(0) as u64);
    let mut entries = prune::plan(gens, p, now_sys);
    if execute {
        prune::execute(&mut entries);
    }
    let text = match args.format {
        Format::Json => prune::render_json(dir, spec, p, &entries, execute, now.offset()),
        _ => prune::render_text(dir, spec, p, &entries, execute, now_sys, now.offset()),
    };
    app::write_stdout(&text);
    if entries.iter().any(|e| matches!(e.deleted, Some(Err(_)))) {
        exit::FAIL
    } else {
        exit::OK
    }
}

/// Runs `f` on a fresh runtime with Ctrl-C/SIGTERM watched. The handlers
/// are installed before `f` starts, so a signal in its first instant
/// already goes through the cleanup (temporary directories) rather than
/// killing the process.
fn with_runtime<F, Fut>(f: F) -> anyhow::Result<RunResult>
where
    F: FnOnce(watch::Receiver<Option<Interrupt>>) -> Fut,
    Fut: std::future::Future<Output = RunResult>,
{
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let r = rt.block_on(async {
        let (tx, rx) = watch::channel(None);
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            let which = tokio::select! {
                _ = int.recv() => Interrupt::Sigint,
                _ = term.recv() => Interrupt::Sigterm,
            };
            let _ = tx.send(Some(which));
        });
        anyhow::Ok(f(rx).await)
    })?;
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(r)
}

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

/// The runbook's checks, as `opsrun run backup` would run them.
async fn run_checks(
    rb: &Runbook,
    args: &RunArgs,
    now: DateTime<FixedOffset>,
    stop: watch::Receiver<Option<Interrupt>>,
) -> RunResult {
    let previous = if args.record.no_history {
        Default::default()
    } else {
        history::store::previous_metrics(
            &history::resolve_path(args.record.path.history.as_deref()),
            &rb.name,
        )
    };
    let settings = RunSettings {
        previous: Arc::new(previous),
        concurrency: args.concurrency as usize,
        now,
        selection: Selection {
            only: args.only.clone(),
            skip: args.skip.clone(),
            tags: args.tag.clone(),
        },
    };
    engine::run(rb, &settings, stop).await
}

/// Stands in for a check kind in rows that are not checks (the actions,
/// the generation, the restore test): the row only carries their result.
#[derive(Debug)]
struct Row(String);

impl Kind for Row {
    fn run<'a>(&'a self, _ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async { Outcome::unknown("not a check").into() })
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
        *d = crate::secret::redact(d);
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
    let not_run = |a: &Action, why: &str| {
        row(
            rb,
            &a.id,
            &a.title,
            step_kind(a),
            &a.describe(),
            Outcome::new(Status::Skip, "").with_message(why.to_owned()),
            Duration::ZERO,
        )
    };
    // Preflight: where the generation goes.
    let name = match spec.name_at(&now) {
        Ok(n) => n,
        Err(e) => {
            made.rows.push(gen_row(Outcome::fail(e), started.elapsed()));
            return made;
        }
    };
    let preflight = (|| -> Result<Vec<String>, String> {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create backup directory {}: {}",
                dir.display(),
                io_reason(&e)
            )
        })?;
        let stale = generation::remove_stale(dir);
        if std::fs::symlink_metadata(dir.join(&name)).is_ok() {
            return Err(format!(
                "generation {name} already exists in {}: not replaced (two runs in the same second?)",
                dir.display()
            ));
        }
        let tmp = dir.join(generation::temp_name(&name));
        generation::create_private_dir(&tmp)
            .map_err(|e| format!("cannot create {}: {}", tmp.display(), io_reason(&e)))?;
        Ok(stale)
    })();
    let stale = match preflight {
        Ok(s) => s,
        Err(e) => {
            for a in &rb.workflow.actions {
                made.rows
                    .push(not_run(a, "not run: no generation to write into"));
            }
            made.rows.push(gen_row(
                Outcome::fail(e).with_value("none"),
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

    let mut failed: Option<String> = None;
    for a in &rb.workflow.actions {
        if let Some(f) = &failed {
            made.rows.push(not_run(a, &format!("not run: {f}")));
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
                Outcome::unknown("interrupted"),
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
            failed = Some(format!("action `{}` failed", a.id));
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
    let mut outcome = if let Some(f) = failed {
        let why = match tmp.remove() {
            Ok(()) => format!("{name} not published: {f}; its temporary directory was removed"),
            Err(e) => format!("{name} not published: {f}; {e}"),
        };
        Outcome::fail(why).with_value("none")
    } else if made.interrupted.is_some() {
        let why = match tmp.remove() {
            Ok(()) => {
                format!("{name} not published: interrupted; its temporary directory was removed")
            }
            Err(e) => format!("{name} not published: interrupted; {e}"),
        };
        Outcome::unknown(why).with_value("none")
    } else {
        tree::sync_dir(&tmp.path);
        match generation::publish(&tmp.path, &final_path) {
            Ok(()) => {
                tmp.disarm();
                tree::sync_dir(dir);
                made.published = true;
                let bytes = tree::tree_bytes(&final_path);
                let mut o = Outcome::pass(format!(
                    "{name} ({})",
                    crate::values::units::format_bytes(bytes as f64)
                ))
                .with_detail(format!("published {}", final_path.display()));
                if let Some(l) = &spec.latest {
                    match generation::point_latest(dir, l, &name) {
                        Ok(()) => o = o.with_detail(format!("{l} → {name}")),
                        Err(e) => o.worsen(Status::Warn, e),
                    }
                }
                o
            }
            Err(e) => {
                let _ = tmp.remove();
                Outcome::fail(format!("{name} not published: {e}")).with_value("none")
            }
        }
    };
    for s in stale {
        outcome = outcome.with_detail(format!("removed {s}, left by a run that no longer exists"));
    }
    made.rows.push(gen_row(outcome, started.elapsed()));
    made
}

/// A data step, ready to run on a blocking thread.
type BlockingStep = Box<dyn FnOnce(&Cancel) -> Result<steps::Done, String> + Send>;

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
        Outcome::fail(format!(
            "timed out after {}",
            format_millis(a.timeout.as_secs_f64() * 1000.0)
        ))
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
                _ = tokio::time::sleep(*d) => (Outcome::pass("waited"), None),
                w = stop.wait_for(|s| s.is_some()) => (Outcome::unknown("interrupted"), w.ok().and_then(|v| *v)),
            };
        }
        // Refused by the loader in a runbook with `backup:`.
        Step::Systemctl(_) => {
            return (
                Outcome::unknown("systemctl steps are not run by `opsrun backup`"),
                None,
            );
        }
        Step::Check(_, kind) => {
            // Relative paths of a check used as a step (a command's working
            // directory, a `file:` path) are inside the new generation.
            let ctx = Ctx::new(now, a.timeout, gen_dir.to_path_buf());
            return tokio::select! {
                o = crate::engine::attempt(kind.as_ref(), &ctx) => (o, None),
                // Dropping the step's future kills a command's process group.
                w = stop.wait_for(|s| s.is_some()) => (Outcome::unknown("interrupted"), w.ok().and_then(|v| *v)),
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
                Ok(Ok(done)) => {
                    let mut o = Outcome::pass(done.value).with_extra_metric(
                        "bytes",
                        done.bytes as f64,
                        crate::values::units::Unit::Bytes,
                    );
                    for d in done.detail {
                        o = o.with_detail(d);
                    }
                    o
                }
                Ok(Err(e)) => Outcome::fail(e),
                Err(e) => Outcome::unknown(format!("step failed: {e}")),
            };
            return (o, None);
        }
        _ = tokio::time::sleep(a.timeout) => (timed_out(), None),
        w = stop.wait_for(|s| s.is_some()) => (Outcome::unknown("interrupted"), w.ok().and_then(|v| *v)),
    };
    // Stopped from outside: let the blocking step notice before the
    // caller removes the directory it writes into.
    cancel.cancel();
    let _ = tokio::time::timeout(STOP_GRACE, &mut job).await;
    (outcome, interrupted)
}

/// Records the run in history, prints it in the chosen format, writes
/// `--output` files, notifies (`--notify`) and returns the exit code — as
/// `opsrun run` does.
fn finish(
    runbooks: &[Runbook],
    result: RunResult,
    args: &RunArgs,
    notify: crate::notify::Plan,
) -> i32 {
    app::present(runbooks, &[result], args, Some(notify))
}
