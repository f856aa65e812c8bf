//! SIGINT and SIGTERM for the whole process (issues 15 and 19), and
//! stopping while history is read or written.
//!
//! [`install`] runs first in `main_entry`, before any runbook is loaded,
//! so a signal at any moment is caught. What a signal does depends on the
//! command:
//! - a command that does not run checks ([`abrupt`]: `validate`,
//!   `report`, …) ends at once with 130/143 and one line on stderr;
//! - a command that runs checks (`run`, `daily`…, `incident`, `backup`;
//!   also while the command line is parsed and the runbooks load) is told
//!   through [`subscribe`]: the engine stops
//!   the checks (their process groups are killed), the results so far are
//!   printed and history gets 2 s to record them; a signal once the
//!   results are out ([`results_ready`]) stops history work at once.
//!   Either way a watchdog ends the process 2.5 s after the signal, so
//!   nothing (a hung disk under `fsync`, a child that ignores SIGTERM)
//!   holds it longer.
//!
//! Every history connection gets a progress handler and a busy handler
//! that give up once a stop is requested, so a running statement returns
//! `SQLITE_INTERRUPT` and a wait for another writer's lock ends at once;
//! the caller then prints what it has and exits 130/143.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::watch;

use crate::engine::Interrupt;
use crate::exit;

/// How long after the signal the watchdog ends the process.
const WATCHDOG: Duration = Duration::from_millis(2500);
/// How long history may still record a run the signal interrupted.
const RECORD_GRACE: Duration = Duration::from_secs(2);

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// When history work must stop, in ms after [`base`] plus one; 0: never.
static DEADLINE: AtomicU64 = AtomicU64::new(0);
/// The signal that asked: 0 none, 1 SIGINT, 2 SIGTERM.
static SIGNAL: AtomicU8 = AtomicU8::new(0);
/// A signal is passed on and the command stops cleanly; until a command
/// says otherwise ([`abrupt`]), so a signal while the command line is
/// parsed or the runbooks load is not lost.
static COOPERATIVE: AtomicBool = AtomicBool::new(true);
/// The results are out ([`results_ready`]).
static PRESENTING: AtomicBool = AtomicBool::new(false);

fn channel() -> &'static watch::Sender<Option<Interrupt>> {
    static TX: OnceLock<watch::Sender<Option<Interrupt>>> = OnceLock::new();
    TX.get_or_init(|| watch::channel(None).0)
}

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

/// The signal received, if any.
pub fn signal() -> Option<Interrupt> {
    match SIGNAL.load(Ordering::SeqCst) {
        1 => Some(Interrupt::Sigint),
        2 => Some(Interrupt::Sigterm),
        _ => None,
    }
}

/// The exit code for an interruption: 130 (SIGINT) or 143 (SIGTERM).
pub fn exit_code(i: Interrupt) -> i32 {
    match i {
        Interrupt::Sigint => exit::SIGINT,
        Interrupt::Sigterm => exit::SIGTERM,
    }
}

/// This command has nothing to stop cleanly (it runs no check): a signal
/// ends it at once, one that came already too.
pub fn abrupt() {
    COOPERATIVE.store(false, Ordering::SeqCst);
    if let Some(which) = signal() {
        exit_now(which);
    }
}

fn exit_now(which: Interrupt) -> ! {
    crate::stdio::say_err!("opsrun: interrupted by {}", name(which));
    std::process::exit(exit_code(which));
}

fn name(which: Interrupt) -> &'static str {
    match which {
        Interrupt::Sigint => "SIGINT",
        Interrupt::Sigterm => "SIGTERM",
    }
}

/// The results are printed (or being printed): a signal from now on stops
/// history work at once.
pub fn results_ready() {
    PRESENTING.store(true, Ordering::SeqCst);
}

/// The signal as it arrives (`None` until then; a receiver made after the
/// signal sees it at once with `wait_for`).
pub fn subscribe() -> watch::Receiver<Option<Interrupt>> {
    channel().subscribe()
}

/// Installs the SIGINT/SIGTERM handlers; returns once they are in place.
///
/// The handlers are registered here, on the calling thread; they only
/// note the signal and wake a thread of its own, which acts
/// ([`on_signal`]). Nothing waits for that thread to start: a signal that
/// comes first waits for it. (The handlers used to be tokio's, made on
/// that thread's own runtime while `main` waited for it: a runtime and a
/// hand-over before every command, `--version` included.)
pub fn install() {
    static STARTED: OnceLock<()> = OnceLock::new();
    if STARTED.set(()).is_err() {
        return;
    }
    let _ = base();
    let _ = channel();
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!("no signal handlers: {e}");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("opsrun-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                on_signal(if sig == SIGINT {
                    Interrupt::Sigint
                } else {
                    Interrupt::Sigterm
                });
            }
        });
    if let Err(e) = spawned {
        tracing::debug!("no signal listener: {e}");
    }
}

fn on_signal(which: Interrupt) {
    SIGNAL.store(
        if which == Interrupt::Sigint { 1 } else { 2 },
        Ordering::SeqCst,
    );
    if !COOPERATIVE.load(Ordering::SeqCst) {
        exit_now(which);
    }
    request_after(if PRESENTING.load(Ordering::SeqCst) {
        Duration::ZERO
    } else {
        RECORD_GRACE
    });
    channel().send_replace(Some(which));
    std::thread::sleep(WATCHDOG);
    crate::stdio::say_err!(
        "opsrun: interrupted by {}; stopped {:.1} s later without finishing",
        name(which),
        WATCHDOG.as_secs_f64()
    );
    std::process::exit(exit_code(which));
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
