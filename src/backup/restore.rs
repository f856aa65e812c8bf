//! `opsrun backup restore-test`: seed 000's monthly バックアップのテスト復旧
//! (`cp -r $LATEST_BACKUP/* /tmp/estimator_restore_test/` then
//! `sqlite3 app.db "PRAGMA integrity_check;"`). The newest generation is
//! copied to a fresh private temporary directory, every SQLite database in
//! the copy is integrity-checked (found by its header, whatever its name)
//! and every tar.gz is read to its end; the temporary directory is removed
//! afterwards — also after an error, a timeout or Ctrl-C/SIGTERM.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::watch;

use super::cancel::Cancel;
use super::error::{Error, rows};
use super::generation::{self, Generation, TempDir};
use super::notes::{self, bytes, count, note};
use super::pg::{self, Stopped};
use super::steps::{SQLITE_MAGIC, check_db, read_archive};
use super::tree;
use crate::check::Ctx;
use crate::engine::Interrupt;
use crate::runbook::{BackupSpec, RestoreTestSpec};
use crate::values::io_reason;
use crate::values::outcome::{Outcome, Status};
use crate::values::reason::{Reason, common};
use crate::values::units::Unit;

/// Bound on a whole restore test that sets no `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);
/// How long a cancelled copy or check may take to notice it.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// One file of the copy that was checked.
#[derive(Debug)]
struct Checked {
    rel: String,
    sqlite: bool,
    result: Result<Verified, Error>,
}

/// What a check of a restored file found when it passed.
#[derive(Debug)]
enum Verified {
    /// The database passed this pragma.
    Integrity(String),
    /// The archive was read to its end: this many entries.
    Entries(u64),
}

#[derive(Debug, Default)]
struct Work {
    copied: String,
    checked: Vec<Checked>,
}

fn is_sqlite(p: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|_| &head == SQLITE_MAGIC)
        .unwrap_or(false)
}

fn is_archive(p: &Path) -> bool {
    let n = p.to_string_lossy();
    n.ends_with(".tar.gz") || n.ends_with(".tgz")
}

/// Copies `src` into `tmp` and checks what it holds. Blocking.
fn work(src: &Path, name: &str, tmp: &Path, pragma: &str, cancel: &Cancel) -> Result<Work, Error> {
    let copy = tmp.join(name);
    let c = tree::copy_path(src, &copy, cancel, None).map_err(|error| {
        if cancel.is_cancelled() {
            Error::Cancelled
        } else {
            Error::Copy {
                from: src.to_path_buf(),
                error,
            }
        }
    })?;
    let mut w = Work {
        copied: note(
            &notes::COPIED_OUT,
            vec![
                ("name", name.into()),
                ("files", count(c.files, &notes::FILE, &notes::FILES).into()),
                ("size", bytes(c.bytes)),
                ("path", tmp.display().to_string().into()),
            ],
        ),
        checked: Vec::new(),
    };
    let files = tree::regular_files(&copy).map_err(|error| Error::Io { error })?;
    for f in files {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let rel = f
            .strip_prefix(&copy)
            .ok()
            .filter(|r| !r.as_os_str().is_empty())
            .unwrap_or(Path::new(name))
            .to_string_lossy()
            .into_owned();
        if is_sqlite(&f) {
            // The copy is ours: open it as an application restoring it would.
            let result = Connection::open_with_flags(
                &f,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|error| Error::DbOpen { error })
            .and_then(|conn| {
                cancel.watch(&conn);
                let r = check_db(&conn, pragma);
                cancel.unwatch();
                r
            });
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            w.checked.push(Checked {
                rel,
                sqlite: true,
                result: result.map(|_| Verified::Integrity(pragma.to_owned())),
            });
        } else if is_archive(&f) {
            let result = read_archive(&f, cancel);
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            w.checked.push(Checked {
                rel,
                sqlite: false,
                result: result.map(Verified::Entries),
            });
        }
    }
    Ok(w)
}

/// The newest generation by modification time, symlinks followed (as the
/// `backup` check sees it).
fn newest(dir: &Path, pattern: &glob::Pattern) -> std::io::Result<Option<Generation>> {
    let mut gens = generation::list(dir, pattern)?;
    let followed = |g: &Generation| {
        std::fs::metadata(&g.path)
            .and_then(|m| m.modified())
            .unwrap_or(UNIX_EPOCH)
    };
    gens.retain(|g| std::fs::metadata(&g.path).is_ok());
    gens.sort_by(|a, b| {
        followed(b)
            .cmp(&followed(a))
            .then_with(|| b.name.cmp(&a.name))
    });
    Ok(gens.into_iter().next())
}

fn temp_path(base: &Path) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base.join(format!(
        "opsrun-restore-test-{}-{nanos:08x}",
        std::process::id()
    ))
}

/// Runs the restore test; the outcome is the `restore-test` row.
pub(crate) async fn run(
    dir: &Path,
    base_dir: &Path,
    spec: &BackupSpec,
    rt: &RestoreTestSpec,
    now: DateTime<FixedOffset>,
    mut stop: watch::Receiver<Option<Interrupt>>,
) -> Outcome {
    let started = tokio::time::Instant::now();
    let pattern = spec.glob();
    let g = match newest(dir, &pattern) {
        Ok(Some(g)) => g,
        Ok(None) => {
            return failed(
                Status::Fail,
                Reason::new(&rows::RESTORE_NONE)
                    .with("pattern", &spec.pattern)
                    .with("dir", dir.display().to_string()),
            )
            .with_value("none");
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return failed(
                Status::Fail,
                Reason::new(&rows::RESTORE_NO_DIR).with("dir", dir.display().to_string()),
            )
            .with_value("none");
        }
        Err(e) => {
            return failed(
                Status::Unknown,
                Reason::new(&rows::RESTORE_UNREADABLE)
                    .with("dir", dir.display().to_string())
                    .with("error", io_reason(&e)),
            );
        }
    };
    let base = match &rt.temp_dir {
        Some(t) if Path::new(t).is_absolute() => PathBuf::from(t),
        Some(t) => base_dir.join(t),
        None => std::env::temp_dir(),
    };
    let tmp = temp_path(&base);
    if let Err(e) = generation::create_private_dir(&tmp) {
        return failed(
            Status::Unknown,
            Reason::new(&rows::RESTORE_TEMP_DIR)
                .with("path", base.display().to_string())
                .with("error", io_reason(&e)),
        );
    }
    let guard = TempDir::new(tmp.clone());
    let timeout = rt.timeout.map(|t| t.0).unwrap_or(DEFAULT_TIMEOUT);
    let cancel = Arc::new(Cancel::default());
    let pragma = rt.check.pragma().unwrap_or("integrity_check");
    let job = {
        let (src, name, tmp, cancel) =
            (g.path.clone(), g.name.clone(), tmp.clone(), cancel.clone());
        tokio::task::spawn_blocking(move || work(&src, &name, &tmp, pragma, &cancel))
    };
    tokio::pin!(job);
    let mut stopped = None;
    let result = tokio::select! {
        r = &mut job => Some(r),
        _ = tokio::time::sleep(timeout) => { stopped = Some(Stopped::Timeout); None }
        _ = stop.wait_for(|s| s.is_some()) => { stopped = Some(Stopped::Interrupted); None }
    };
    if stopped.is_some() {
        cancel.cancel();
        // Let the copy or the check notice, so nothing writes into the
        // directory while it is removed.
        let _ = tokio::time::timeout(STOP_GRACE, &mut job).await;
    }
    // PostgreSQL dumps are restored from the copy, once it is complete.
    let mut restored = None;
    if let (None, Some(pg), Some(Ok(Ok(_)))) = (stopped, &rt.postgres, &result) {
        let ctx = Ctx::new(
            now,
            timeout.saturating_sub(started.elapsed()),
            base_dir.to_path_buf(),
        );
        let r = pg::restore_test(
            pg,
            &tmp.join(&g.name),
            &g.name,
            &ctx,
            started + timeout,
            &mut stop,
        )
        .await;
        stopped = r.stopped;
        restored = Some(r);
    }
    let removed = guard.remove();

    let mut out = match (stopped, result) {
        (None, Some(Ok(Ok(w)))) => evaluate(&g.name, &w, restored.as_ref()),
        (Some(Stopped::Timeout), _) => failed(
            Status::Fail,
            Reason::new(&rows::RESTORE_TIMEOUT)
                .with("name", &g.name)
                .with_quantity("after", timeout.as_secs_f64() * 1000.0, Unit::Millis),
        ),
        (Some(Stopped::Interrupted), _) => failed(
            Status::Unknown,
            Reason::new(&rows::RESTORE_INTERRUPTED).with("name", &g.name),
        ),
        (None, Some(Ok(Err(e)))) => failed(Status::Fail, e.in_restore(&g.name, None)),
        (None, Some(Err(e))) => failed(
            Status::Fail,
            Reason::new(&rows::STEP_FAILED).with("error", e.to_string()),
        ),
        (None, None) => failed(Status::Unknown, Reason::new(&common::UNFINISHED)),
    };
    if let Some(r) = restored {
        for d in r.detail {
            out = out.with_detail(d);
        }
        for (status, why) in r.problems {
            // A scratch database left behind is said even when the row
            // already fails for a worse reason (the server went away).
            out.worsen_by(status.max(out.status), why);
        }
    }
    if out.value.is_empty() {
        out.value.clone_from(&g.name);
    }
    match removed {
        Ok(()) => {
            out = out.with_detail(note(
                &notes::TEMP_REMOVED,
                vec![("path", tmp.display().to_string().into())],
            ))
        }
        Err(e) => out.worsen_by(Status::Warn, e.reason()),
    }
    out
}

/// A row that did not pass, for `reason`.
fn failed(status: Status, reason: Reason) -> Outcome {
    let mut o = Outcome::new(Status::Pass, "");
    o.worsen_by(status, reason);
    o
}

fn evaluate(name: &str, w: &Work, pg: Option<&pg::Restored>) -> Outcome {
    let dbs = w.checked.iter().filter(|c| c.sqlite).count();
    let archives = w.checked.len() - dbs;
    let bad: Vec<&Checked> = w.checked.iter().filter(|c| c.result.is_err()).collect();
    let mut parts = Vec::new();
    if dbs > 0 {
        let ok = w
            .checked
            .iter()
            .filter(|c| c.sqlite && c.result.is_ok())
            .count();
        parts.push(note(
            &notes::SQLITE_OK,
            vec![("ok", ok.into()), ("n", dbs.into())],
        ));
    }
    if archives > 0 {
        let ok = w
            .checked
            .iter()
            .filter(|c| !c.sqlite && c.result.is_ok())
            .count();
        parts.push(note(
            &notes::ARCHIVES_OK,
            vec![("ok", ok.into()), ("n", archives.into())],
        ));
    }
    if let Some(p) = pg.filter(|p| p.n > 0) {
        parts.push(pg::ok_part(p.ok, p.n));
    }
    let value = if parts.is_empty() {
        name.to_owned()
    } else {
        note(
            &notes::RESTORED,
            vec![("name", name.into()), ("parts", parts.into())],
        )
    };
    let mut out = Outcome::pass(value).with_detail(w.copied.clone());
    for c in &w.checked {
        out = out.with_detail(match &c.result {
            Ok(Verified::Integrity(p)) => note(
                &notes::FILE_INTEGRITY_OK,
                vec![("file", (&c.rel).into()), ("pragma", p.into())],
            ),
            Ok(Verified::Entries(n)) => note(
                &notes::FILE_ENTRIES,
                vec![("file", (&c.rel).into()), ("n", (*n).into())],
            ),
            Err(e) => note(
                &notes::FILE_FAILED,
                vec![("file", (&c.rel).into()), ("error", e.to_string().into())],
            ),
        });
    }
    for c in &bad {
        if let Err(e) = &c.result {
            out.worsen_by(Status::Fail, e.in_restore(name, Some(&c.rel)));
        }
    }
    // With `postgres:`, a generation of dumps only is not worth a warning
    // (a missing dump is: `backup.pg.no_dump`).
    if dbs == 0 && pg.is_none() {
        out.worsen_by(
            Status::Warn,
            Reason::new(&rows::NO_DATABASE).with("name", name),
        );
    }
    out
}
