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

use rusqlite::{Connection, OpenFlags};
use tokio::sync::watch;

use super::cancel::Cancel;
use super::generation::{self, Generation, TempDir};
use super::steps::{SQLITE_MAGIC, check_db, read_archive};
use super::tree;
use crate::engine::Interrupt;
use crate::runbook::{BackupSpec, RestoreTestSpec};
use crate::values::io_reason;
use crate::values::outcome::{Outcome, Status};
use crate::values::units::{format_bytes, format_millis};

/// Bound on a whole restore test that sets no `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);
/// How long a cancelled copy or check may take to notice it.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// One file of the copy that was checked.
#[derive(Debug)]
struct Checked {
    rel: String,
    sqlite: bool,
    result: Result<String, String>,
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
fn work(src: &Path, name: &str, tmp: &Path, pragma: &str, cancel: &Cancel) -> Result<Work, String> {
    let copy = tmp.join(name);
    let c = tree::copy_path(src, &copy, cancel, None).map_err(|e| {
        if cancel.is_cancelled() {
            "cancelled".to_owned()
        } else {
            format!("copy of {} failed: {}", src.display(), io_reason(&e))
        }
    })?;
    let mut w = Work {
        copied: format!(
            "copied {name} ({} file{}, {}) to {}",
            c.files,
            if c.files == 1 { "" } else { "s" },
            format_bytes(c.bytes as f64),
            tmp.display()
        ),
        checked: Vec::new(),
    };
    let files = tree::regular_files(&copy).map_err(|e| io_reason(&e))?;
    for f in files {
        if cancel.is_cancelled() {
            return Err("cancelled".into());
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
            .map_err(|e| e.to_string())
            .and_then(|conn| {
                cancel.watch(&conn);
                let r = check_db(&conn, pragma);
                cancel.unwatch();
                r
            });
            if cancel.is_cancelled() {
                return Err("cancelled".into());
            }
            w.checked.push(Checked {
                rel,
                sqlite: true,
                result: result.map(|_| format!("{pragma} ok")),
            });
        } else if is_archive(&f) {
            let result = read_archive(&f, cancel);
            if cancel.is_cancelled() {
                return Err("cancelled".into());
            }
            w.checked.push(Checked {
                rel,
                sqlite: false,
                result: result.map(|n| format!("{n} entries read")),
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
    mut stop: watch::Receiver<Option<Interrupt>>,
) -> Outcome {
    let pattern = spec.glob();
    let g = match newest(dir, &pattern) {
        Ok(Some(g)) => g,
        Ok(None) => {
            return Outcome::fail(format!(
                "no backup matching `{}` in {}: nothing to restore",
                spec.pattern,
                dir.display()
            ))
            .with_value("none");
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Outcome::fail(format!("backup directory {} does not exist", dir.display()))
                .with_value("none");
        }
        Err(e) => {
            return Outcome::unknown(format!("cannot read {}: {}", dir.display(), io_reason(&e)));
        }
    };
    let base = match &rt.temp_dir {
        Some(t) if Path::new(t).is_absolute() => PathBuf::from(t),
        Some(t) => base_dir.join(t),
        None => std::env::temp_dir(),
    };
    let tmp = temp_path(&base);
    if let Err(e) = generation::create_private_dir(&tmp) {
        return Outcome::unknown(format!(
            "cannot create a temporary directory in {}: {}",
            base.display(),
            io_reason(&e)
        ));
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
    let stopped: Option<String>;
    let result = tokio::select! {
        r = &mut job => { stopped = None; r.unwrap_or_else(|e| Err(e.to_string())) }
        _ = tokio::time::sleep(timeout) => {
            stopped = Some(format!("timed out after {}", format_millis(timeout.as_secs_f64() * 1000.0)));
            Err(String::new())
        }
        _ = stop.wait_for(|s| s.is_some()) => { stopped = Some("interrupted".into()); Err(String::new()) }
    };
    if stopped.is_some() {
        cancel.cancel();
        // Let the copy or the check notice, so nothing writes into the
        // directory while it is removed.
        let _ = tokio::time::timeout(STOP_GRACE, &mut job).await;
    }
    let removed = guard.remove();

    let mut out = match (stopped, result) {
        (Some(why), _) => Outcome::new(
            if why == "interrupted" {
                Status::Unknown
            } else {
                Status::Fail
            },
            "",
        )
        .with_message(format!("restore test of {} {why}", g.name))
        .with_value(g.name.clone()),
        (None, Err(e)) => {
            Outcome::fail(format!("restore test of {}: {e}", g.name)).with_value(g.name.clone())
        }
        (None, Ok(w)) => evaluate(&g.name, &w),
    };
    match removed {
        Ok(()) => out = out.with_detail(format!("temporary copy {} removed", tmp.display())),
        Err(e) => out.worsen(Status::Warn, e),
    }
    out
}

fn evaluate(name: &str, w: &Work) -> Outcome {
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
        parts.push(format!("SQLite {ok}/{dbs} ok"));
    }
    if archives > 0 {
        let ok = w
            .checked
            .iter()
            .filter(|c| !c.sqlite && c.result.is_ok())
            .count();
        parts.push(format!("archives {ok}/{archives} ok"));
    }
    let value = if parts.is_empty() {
        name.to_owned()
    } else {
        format!("{name}: {}", parts.join(", "))
    };
    let mut out = Outcome::pass(value).with_detail(w.copied.clone());
    for c in &w.checked {
        out = out.with_detail(match &c.result {
            Ok(m) => format!("{}: {m}", c.rel),
            Err(e) => format!("{}: {e}", c.rel),
        });
    }
    for c in &bad {
        out.worsen(
            Status::Fail,
            format!(
                "{name}/{}: {}",
                c.rel,
                c.result.as_ref().err().map(String::as_str).unwrap_or("")
            ),
        );
    }
    if dbs == 0 {
        out.worsen(
            Status::Warn,
            format!("no SQLite database in {name}: nothing to integrity-check"),
        );
    }
    out
}
