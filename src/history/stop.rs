//! Stopping while history is read or written (issue 19): a SIGTERM or
//! SIGINT that arrives after the checks ran (while the run is recorded,
//! history migrated, old rows pruned, or a report reads history) ends the
//! process within 3 s, whatever SQLite is doing.
//!
//! Every history connection gets a progress handler and a busy handler
//! that give up once a stop is requested, so a running statement returns
//! `SQLITE_INTERRUPT` and a wait for another writer's lock ends at once;
//! the caller then prints what it has (the run's results are printed
//! before history is written, see `app::present`) and exits 130/143. A
//! watchdog ends the process 2.5 s after the signal in case something
//! else (a hung disk under `fsync`) holds it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::engine::Interrupt;
use crate::exit;

/// How long after the signal the watchdog ends the process.
const WATCHDOG: Duration = Duration::from_millis(2500);

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// When history work must stop, in ms after [`base`] plus one; 0: never.
static DEADLINE: AtomicU64 = AtomicU64::new(0);
/// The signal that asked: 0 none, 1 SIGINT, 2 SIGTERM.
static SIGNAL: AtomicU8 = AtomicU8::new(0);

/// Asks history work to stop `after` from now (an earlier request stands).
pub fn request_after(after: Duration) {
    let at = (base().elapsed() + after).as_millis() as u64 + 1;
    let _ = DEADLINE.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| {
        (d == 0 || at < d).then_some(at)
    });
}

/// Whether history work should stop now.
pub fn requested() -> bool {
    let d = DEADLINE.load(Ordering::Relaxed);
    d != 0 && base().elapsed().as_millis() as u64 + 1 >= d
}

/// The signal received after the checks ran, if any.
pub fn signal() -> Option<Interrupt> {
    match SIGNAL.load(Ordering::SeqCst) {
        1 => Some(Interrupt::Sigint),
        2 => Some(Interrupt::Sigterm),
        _ => None,
    }
}

/// Starts listening for SIGINT/SIGTERM on a thread of its own (the
/// checks' runtime is gone by now). On a signal, history work stops and a
/// watchdog ends the process if it is still there 2.5 s later.
pub fn watch_signals() {
    static STARTED: OnceLock<()> = OnceLock::new();
    if STARTED.set(()).is_err() {
        return;
    }
    let _ = base();
    let spawned = std::thread::Builder::new()
        .name("opsrun-stop".into())
        .spawn(|| {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            else {
                return;
            };
            let which = rt.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    return None;
                };
                tokio::select! {
                    _ = int.recv() => Some(Interrupt::Sigint),
                    _ = term.recv() => Some(Interrupt::Sigterm),
                }
            });
            let Some(which) = which else { return };
            SIGNAL.store(
                if which == Interrupt::Sigint { 1 } else { 2 },
                Ordering::SeqCst,
            );
            request_after(Duration::ZERO);
            std::thread::sleep(WATCHDOG);
            std::process::exit(if which == Interrupt::Sigint {
                exit::SIGINT
            } else {
                exit::SIGTERM
            });
        });
    if let Err(e) = spawned {
        tracing::debug!("no signal watch for history: {e}");
    }
}

/// Makes `conn` give up when a stop is requested: statements are
/// interrupted, and waits for a lock end after `busy` or at the stop.
pub(crate) fn guard(conn: &mut Connection, busy: Duration) -> rusqlite::Result<()> {
    guard_with(conn, busy, requested)
}

fn guard_with<F>(conn: &mut Connection, busy: Duration, stop: F) -> rusqlite::Result<()>
where
    F: Fn() -> bool + Clone + Send + std::panic::RefUnwindSafe + 'static,
{
    let mut since = Instant::now();
    let stop_wait = stop.clone();
    conn.busy_handler(Some(move |count: i32| {
        if count == 0 {
            since = Instant::now();
        }
        if stop_wait() || since.elapsed() >= busy {
            return false;
        }
        std::thread::sleep(Duration::from_millis(if count < 10 { 2 } else { 10 }));
        true
    }))?;
    conn.progress_handler(1000, Some(stop))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_interrupts_a_long_statement() {
        // A flag of its own: the process-wide one would stop the other
        // tests' history connections.
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f = flag.clone();
        let mut c = Connection::open_in_memory().unwrap();
        guard_with(&mut c, Duration::from_secs(5), move || {
            f.load(Ordering::SeqCst)
        })
        .unwrap();
        let f = flag.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            f.store(true, Ordering::SeqCst);
        });
        let t = Instant::now();
        let r: rusqlite::Result<i64> = c.query_row(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n",
            [],
            |r| r.get(0),
        );
        let e = r.unwrap_err();
        assert_eq!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::OperationInterrupted),
            "{e}"
        );
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_stop_ends_a_wait_for_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.db");
        let holder = Connection::open(&p).unwrap();
        holder
            .execute_batch("CREATE TABLE t (x); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            .unwrap();
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f = flag.clone();
        let mut c = Connection::open(&p).unwrap();
        guard_with(&mut c, Duration::from_secs(60), move || {
            f.load(Ordering::SeqCst)
        })
        .unwrap();
        let f = flag.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            f.store(true, Ordering::SeqCst);
        });
        let t = Instant::now();
        let e = c.execute("INSERT INTO t VALUES (2)", []).unwrap_err();
        assert_eq!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy),
            "{e}"
        );
        assert!(t.elapsed() < Duration::from_secs(30));
    }
}
