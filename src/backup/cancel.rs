//! A cancellation token for blocking backup work: the async side sets it
//! at a timeout or on Ctrl-C/SIGTERM; the blocking side checks it between
//! chunks and pages, and a running SQLite statement is interrupted.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{Connection, InterruptHandle};

#[derive(Default)]
pub(crate) struct Cancel {
    flag: AtomicBool,
    sqlite: Mutex<Option<InterruptHandle>>,
}

impl Cancel {
    /// Stops the work: later checks fail, and the SQLite statement in
    /// progress (an integrity check on a large file) is interrupted.
    pub(crate) fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        if let Some(h) = self.lock().as_ref() {
            h.interrupt();
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// `Err(Interrupted)` once cancelled, for `?` in copy loops.
    pub(crate) fn check(&self) -> std::io::Result<()> {
        if self.is_cancelled() {
            Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "cancelled",
            ))
        } else {
            Ok(())
        }
    }

    /// Makes `cancel()` interrupt statements on `conn` until `unwatch`.
    pub(crate) fn watch(&self, conn: &Connection) {
        *self.lock() = Some(conn.get_interrupt_handle());
        // A cancel that came before the handle was registered still counts.
        if self.is_cancelled() {
            conn.get_interrupt_handle().interrupt();
        }
    }

    pub(crate) fn unwatch(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<InterruptHandle>> {
        self.sqlite.lock().unwrap_or_else(|e| e.into_inner())
    }
}
