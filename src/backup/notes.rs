//! What `opsrun backup` says about work that went well: the value column
//! and the `-v`/JSON `detail` lines of its rows (what a step copied, where
//! the generation was published, what a restore test read). Like the
//! reasons in `error.rs`, each sentence is a catalog entry (its English
//! template and a key a translation maps) filled with data and worded by
//! the presentation layer (`output::words`, reached through
//! [`say`]); nothing here builds a sentence by hand.

use crate::values::reason::{Code, Param, Reason, say};
use crate::values::units::Unit;

/// The entry `code` with `params`, in the installed words.
pub(crate) fn note(code: &'static Code, params: Vec<(&'static str, Param)>) -> String {
    say(&Reason { code, params })
}

/// A size in bytes, as a parameter.
pub(crate) fn bytes(b: u64) -> Param {
    Param::Quantity(b as f64, Unit::Bytes)
}

/// `1 file` / `3 files` (and dirs, symlinks).
pub(crate) fn count(n: u64, one: &'static Code, many: &'static Code) -> String {
    note(if n == 1 { one } else { many }, vec![("n", n.into())])
}

const fn n(key: &'static str, en: &'static str) -> Code {
    Code::new(key, en)
}

// Counting what a copy holds.
pub(crate) static FILE: Code = n("backup.note.file", "{n} file");
pub(crate) static FILES: Code = n("backup.note.files", "{n} files");
pub(crate) static DIR: Code = n("backup.note.dir", "{n} dir");
pub(crate) static DIRS: Code = n("backup.note.dirs", "{n} dirs");
pub(crate) static SYMLINK: Code = n("backup.note.symlink", "{n} symlink");
pub(crate) static SYMLINKS: Code = n("backup.note.symlinks", "{n} symlinks");
/// `3 files, 1 dir, 12.3kB`.
pub(crate) static TREE: Code = n("backup.note.tree", "{parts}, {size}");

// The data steps.
pub(crate) static SQLITE_COPIED: Code = n(
    "backup.note.sqlite",
    "{from} → {name}: {pages} pages, source journal_mode {mode}[, restarted {restarts}× by concurrent writes]",
);
pub(crate) static SIZE_CHECKED: Code = n("backup.note.size_checked", "{size}[, {pragma} ok]");
pub(crate) static FILE_SIZE_CHECKED: Code = n(
    "backup.note.file_size_checked",
    "{name}: {size}[, {pragma} ok]",
);
pub(crate) static COPIED: Code = n("backup.note.copied", "{from} → {name}: {what}");
pub(crate) static ARCHIVE_VALUE: Code =
    n("backup.note.archive_value", "{what} ({size} compressed)");
pub(crate) static ARCHIVED: Code = n(
    "backup.note.archived",
    "{from} → {name}: {what} ({size} compressed)",
);
pub(crate) static CHANGED: Code = n("backup.note.changed", "{path} changed while being archived");
pub(crate) static SKIPPED_BACKUP_DIR: Code = n(
    "backup.note.skipped.backup_dir",
    "{path} (the backup directory, skipped)",
);
pub(crate) static SKIPPED_FIFO: Code = n("backup.note.skipped.fifo", "{path} (FIFO, skipped)");
pub(crate) static SKIPPED_SOCKET: Code =
    n("backup.note.skipped.socket", "{path} (socket, skipped)");
pub(crate) static SKIPPED_DEVICE: Code =
    n("backup.note.skipped.device", "{path} (device, skipped)");
pub(crate) static SKIPPED_SPECIAL: Code = n(
    "backup.note.skipped.special",
    "{path} (special file, skipped)",
);
pub(crate) static WAITED: Code = n("backup.note.waited", "waited");

// The generation row.
pub(crate) static GENERATION: Code = n("backup.note.generation", "{name} ({size})");
pub(crate) static PUBLISHED: Code = n("backup.note.published", "published {path}");
pub(crate) static LATEST: Code = n("backup.note.latest", "{link} → {name}");
pub(crate) static STALE_REMOVED: Code = n(
    "backup.note.stale_removed",
    "removed {name}, left by a run that no longer exists",
);

// The restore test.
pub(crate) static COPIED_OUT: Code = n(
    "backup.note.copied_out",
    "copied {name} ({files}, {size}) to {path}",
);
pub(crate) static FILE_INTEGRITY_OK: Code = n("backup.note.integrity_ok", "{file}: {pragma} ok");
pub(crate) static FILE_ENTRIES: Code = n("backup.note.entries", "{file}: {n} entries read");
pub(crate) static FILE_FAILED: Code = n("backup.note.file_failed", "{file}: {error}");
pub(crate) static SQLITE_OK: Code = n("backup.note.sqlite_ok", "SQLite {ok}/{n} ok");
pub(crate) static ARCHIVES_OK: Code = n("backup.note.archives_ok", "archives {ok}/{n} ok");
pub(crate) static RESTORED: Code = n("backup.note.restored", "{name}: {parts}");
pub(crate) static TEMP_REMOVED: Code =
    n("backup.note.temp_removed", "temporary copy {path} removed");

/// Every note entry (their keys are unique among all catalog entries).
#[cfg(test)]
pub(crate) static NOTES: &[&Code] = &[
    &FILE,
    &FILES,
    &DIR,
    &DIRS,
    &SYMLINK,
    &SYMLINKS,
    &TREE,
    &SQLITE_COPIED,
    &SIZE_CHECKED,
    &FILE_SIZE_CHECKED,
    &COPIED,
    &ARCHIVE_VALUE,
    &ARCHIVED,
    &CHANGED,
    &SKIPPED_BACKUP_DIR,
    &SKIPPED_FIFO,
    &SKIPPED_SOCKET,
    &SKIPPED_DEVICE,
    &SKIPPED_SPECIAL,
    &WAITED,
    &GENERATION,
    &PUBLISHED,
    &LATEST,
    &STALE_REMOVED,
    &COPIED_OUT,
    &FILE_INTEGRITY_OK,
    &FILE_ENTRIES,
    &FILE_FAILED,
    &SQLITE_OK,
    &ARCHIVES_OK,
    &RESTORED,
    &TEMP_REMOVED,
];
