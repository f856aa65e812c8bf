//! Why a backup step, a generation or a restore test did not succeed:
//! data only (what failed, on which path, the I/O or SQLite error as its
//! source). A failure becomes part of a row's result as a structured
//! [`Reason`] (`Error::reason`); its words are the catalog entries below,
//! rendered by the presentation layer (`output::words`) — `Display` goes
//! through the same words, so nothing here is worded twice.
//!
//! The catalog also holds the sentences of the rows `opsrun backup` adds
//! (the generation, skipped actions, the restore test); every entry is in
//! [`CODES`] and docs/reasons.md.

use std::io;
use std::path::{Path, PathBuf};

use crate::values::io_reason;
use crate::values::reason::{Code, Reason, say};

/// One failure of a data step (`sqlite_backup`, `copy`, `archive`), of
/// publishing a generation, or of the restore test's checks.
#[derive(Debug, thiserror::Error)]
#[error("{}", say(&self.reason()))]
pub(crate) enum Error {
    /// The source named by the step is not there.
    SourceMissing { path: PathBuf },
    /// The source cannot be read (permissions, I/O).
    SourceUnreadable {
        path: PathBuf,
        #[source]
        error: io::Error,
    },
    /// `sqlite_backup` from something that is not a file.
    NotDatabase { path: PathBuf },
    /// `archive` (or `copy`) of the backup directory itself.
    BackupDirItself { path: PathBuf },
    /// A source that is neither a regular file nor a directory.
    NotFileOrDir { path: PathBuf },
    /// Two steps write the same name into the generation.
    NameTaken { name: String },
    /// A directory (or file) cannot be created.
    Create {
        path: PathBuf,
        #[source]
        error: io::Error,
    },
    /// The live database cannot be opened read-only.
    SqliteOpen {
        path: PathBuf,
        #[source]
        error: rusqlite::Error,
    },
    /// The live database cannot be read (its journal mode, a snapshot).
    SqliteRead {
        path: PathBuf,
        #[source]
        error: rusqlite::Error,
    },
    /// The copy cannot be created in the generation.
    SqliteCreate {
        name: String,
        #[source]
        error: rusqlite::Error,
    },
    /// SQLite refused to start the online backup.
    SqliteStart {
        #[source]
        error: rusqlite::Error,
    },
    /// A step of the online backup failed.
    SqliteCopy {
        path: PathBuf,
        #[source]
        error: rusqlite::Error,
    },
    /// The copy cannot be switched to a rollback journal.
    SqliteFinish {
        name: String,
        #[source]
        error: rusqlite::Error,
    },
    /// `PRAGMA integrity_check`/`quick_check` did not say `ok`.
    Integrity {
        pragma: String,
        /// The first messages (or the SQLite error).
        problems: Vec<String>,
    },
    /// The copy made by `sqlite_backup` failed its check.
    CopyCheck {
        name: String,
        pragma: String,
        problems: Vec<String>,
    },
    /// `copy` failed part-way.
    Copy {
        from: PathBuf,
        #[source]
        error: io::Error,
    },
    /// `archive` failed part-way.
    Archive {
        from: PathBuf,
        #[source]
        error: io::Error,
    },
    /// A tar.gz that cannot be read to its end.
    ArchiveRead {
        #[source]
        error: io::Error,
    },
    /// A restored database that cannot be opened.
    DbOpen {
        #[source]
        error: rusqlite::Error,
    },
    /// Any other I/O error (listing a restored copy).
    Io {
        #[source]
        error: io::Error,
    },
    /// The step was stopped (timeout, Ctrl-C) and noticed.
    Cancelled,
    /// Publishing: an entry of that name is already there.
    Exists { path: PathBuf },
    /// Publishing: the rename failed.
    Rename {
        path: PathBuf,
        #[source]
        error: io::Error,
    },
    /// `latest` is there and is not a symlink.
    NotSymlink { path: PathBuf },
    /// `latest` cannot be updated.
    UpdateLink {
        path: PathBuf,
        #[source]
        error: io::Error,
    },
    /// A temporary directory cannot be removed.
    RemoveTemp {
        path: PathBuf,
        #[source]
        error: io::Error,
    },
}

/// The message of a SQLite error without rusqlite's prefix.
pub(crate) fn sqlite_msg(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        other => other.to_string(),
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

impl Error {
    /// The failure as a reason.
    pub(crate) fn reason(&self) -> Reason {
        use Error::*;
        match self {
            SourceMissing { path: p } => Reason::new(&SOURCE_MISSING).with("path", path(p)),
            SourceUnreadable { path: p, error } => Reason::new(&SOURCE_UNREADABLE)
                .with("path", path(p))
                .with("error", io_reason(error)),
            NotDatabase { path: p } => Reason::new(&NOT_DATABASE).with("path", path(p)),
            BackupDirItself { path: p } => Reason::new(&BACKUP_DIR_ITSELF).with("path", path(p)),
            NotFileOrDir { path: p } => Reason::new(&NOT_FILE_OR_DIR).with("path", path(p)),
            NameTaken { name } => Reason::new(&NAME_TAKEN).with("name", name),
            Create { path: p, error } => Reason::new(&CREATE)
                .with("path", path(p))
                .with("error", io_reason(error)),
            SqliteOpen { path: p, error } => Reason::new(&SQLITE_OPEN)
                .with("path", path(p))
                .with("error", sqlite_msg(error)),
            SqliteRead { path: p, error } => Reason::new(&SQLITE_READ)
                .with("path", path(p))
                .with("error", sqlite_msg(error)),
            SqliteCreate { name, error } => Reason::new(&SQLITE_CREATE)
                .with("path", name)
                .with("error", sqlite_msg(error)),
            SqliteStart { error } => Reason::new(&SQLITE_START).with("error", sqlite_msg(error)),
            SqliteCopy { path: p, error } => Reason::new(&SQLITE_COPY)
                .with("path", path(p))
                .with("error", sqlite_msg(error)),
            SqliteFinish { name, error } => Reason::new(&SQLITE_FINISH)
                .with("name", name)
                .with("error", sqlite_msg(error)),
            Integrity { pragma, problems } => Reason::new(&INTEGRITY)
                .with("pragma", pragma)
                .with("problems", problems.clone()),
            CopyCheck {
                name,
                pragma,
                problems,
            } => Reason::new(&COPY_CHECK)
                .with("name", name)
                .with("pragma", pragma)
                .with("problems", problems.clone()),
            Copy { from, error } => Reason::new(&COPY)
                .with("path", path(from))
                .with("error", io_reason(error)),
            Archive { from, error } => Reason::new(&ARCHIVE)
                .with("path", path(from))
                .with("error", io_reason(error)),
            ArchiveRead { error } => Reason::new(&ARCHIVE_READ).with("error", io_reason(error)),
            DbOpen { error } => Reason::new(&DB_OPEN).with("error", error.to_string()),
            Io { error } => Reason::new(&IO).with("error", io_reason(error)),
            Cancelled => Reason::new(&CANCELLED),
            Exists { path: p } => Reason::new(&EXISTS).with("path", path(p)),
            Rename { path: p, error } => Reason::new(&RENAME)
                .with("path", path(p))
                .with("error", io_reason(error)),
            NotSymlink { path: p } => Reason::new(&NOT_SYMLINK).with("path", path(p)),
            UpdateLink { path: p, error } => Reason::new(&UPDATE_LINK)
                .with("path", path(p))
                .with("error", io_reason(error)),
            RemoveTemp { path: p, error } => Reason::new(&REMOVE_TEMP)
                .with("path", path(p))
                .with("error", io_reason(error)),
        }
    }

    /// The same failure said as part of a restore test of generation
    /// `name` (`restore test of NAME: …`, `NAME/app.db: …`).
    pub(crate) fn in_restore(&self, name: &str, file: Option<&str>) -> Reason {
        let r = self.reason();
        match file {
            Some(f) => {
                let at = format!("{name}/{f}");
                let code = match self {
                    Error::Integrity { .. } => &RESTORE_INTEGRITY,
                    _ => &RESTORE_FILE,
                };
                let mut out = Reason::new(code).with("file", at);
                out.params.extend(r.params);
                out
            }
            None => match self {
                Error::Copy { .. } => {
                    let mut out = Reason::new(&RESTORE_COPY).with("name", name);
                    out.params.extend(r.params);
                    out
                }
                _ => Reason::new(&RESTORE_FAILED)
                    .with("name", name)
                    .with("error", say(&r)),
            },
        }
    }
}

// Failures of the data steps.
static SOURCE_MISSING: Code = Code::new("backup.source.missing", "source {path} does not exist");
static SOURCE_UNREADABLE: Code = Code::new(
    "backup.source.unreadable",
    "cannot read source {path}: {error}",
);
static NOT_DATABASE: Code = Code::new(
    "backup.source.not_database",
    "source {path} is not a database file",
);
static BACKUP_DIR_ITSELF: Code = Code::new(
    "backup.source.backup_dir",
    "{path} is the backup directory itself",
);
static NOT_FILE_OR_DIR: Code = Code::new(
    "backup.source.not_file",
    "{path} is not a regular file or directory",
);
static NAME_TAKEN: Code = Code::new(
    "backup.name_taken",
    "{name} already exists in the new generation: two steps write the same name",
);
static CREATE: Code = Code::new("backup.create", "cannot create {path}: {error}");
static SQLITE_OPEN: Code = Code::variant(
    "backup.sqlite.open",
    "backup.sqlite",
    "cannot open {path} read-only: {error}",
);
static SQLITE_READ: Code = Code::variant("backup.sqlite.read", "backup.sqlite", "{path}: {error}");
static SQLITE_CREATE: Code = Code::variant(
    "backup.sqlite.create",
    "backup.create",
    "cannot create {path}: {error}",
);
static SQLITE_START: Code = Code::variant(
    "backup.sqlite.start",
    "backup.sqlite",
    "cannot start the backup: {error}",
);
static SQLITE_COPY: Code = Code::variant(
    "backup.sqlite.copy",
    "backup.sqlite",
    "backup of {path} failed: {error}",
);
static SQLITE_FINISH: Code =
    Code::variant("backup.sqlite.finish", "backup.sqlite", "{name}: {error}");
static INTEGRITY: Code = Code::new("backup.integrity", "{pragma}: {problems:semi}");
static COPY_CHECK: Code = Code::variant(
    "backup.integrity.copy",
    "backup.integrity",
    "the copy {name} failed {pragma}: {problems:semi}",
);
static COPY: Code = Code::new("backup.copy", "copy of {path} failed: {error}");
static ARCHIVE: Code = Code::new("backup.archive", "archive of {path} failed: {error}");
static ARCHIVE_READ: Code = Code::new("backup.archive.read", "{error}");
static DB_OPEN: Code = Code::new("backup.db_open", "{error}");
static IO: Code = Code::new("backup.io", "{error}");
static CANCELLED: Code = Code::new("backup.cancelled", "cancelled");
// Publishing the generation and `latest`.
static EXISTS: Code = Code::new("backup.exists", "{path} already exists");
static RENAME: Code = Code::new("backup.rename", "cannot rename to {path}: {error}");
static NOT_SYMLINK: Code = Code::new(
    "backup.latest.not_symlink",
    "{path} exists and is not a symlink: left alone",
);
static UPDATE_LINK: Code = Code::new("backup.latest.update", "cannot update {path}: {error}");
static REMOVE_TEMP: Code = Code::variant(
    "backup.cleanup.failed",
    "backup.cleanup",
    "could not remove {path}: {error}",
);
// The restore test's failures.
static RESTORE_COPY: Code = Code::variant(
    "backup.restore_test.copy",
    "backup.restore_test.failed",
    "restore test of {name}: copy of {path} failed: {error}",
);
static RESTORE_FAILED: Code = Code::new(
    "backup.restore_test.failed",
    "restore test of {name}: {error}",
);
static RESTORE_INTEGRITY: Code = Code::variant(
    "backup.restore_test.integrity",
    "backup.integrity",
    "{file}: {pragma}: {problems:semi}",
);
static RESTORE_FILE: Code = Code::variant(
    "backup.restore_test.file",
    "backup.restore_test.file",
    "{file}: {error}",
);

/// Rows of `opsrun backup` (the generation, actions not run, the restore
/// test) and what `backup run` adds to its checks.
pub(crate) mod rows {
    use crate::values::reason::Code;

    pub(crate) static BAD_NAME: Code = Code::new(
        "backup.bad_name",
        "invalid name `{name}`: expected a strftime format like %Y%m%d_%H%M%S",
    );
    pub(crate) static CREATE_DIR: Code = Code::variant(
        "backup.create.dir",
        "backup.create",
        "cannot create backup directory {path}: {error}",
    );
    pub(crate) static GENERATION_EXISTS: Code = Code::variant(
        "backup.exists.generation",
        "backup.exists",
        "generation {name} already exists in {dir}: not replaced (two runs in the same second?)",
    );
    pub(crate) static NOT_RUN_NO_GENERATION: Code = Code::variant(
        "backup.not_run.no_generation",
        "backup.not_run",
        "not run: no generation to write into",
    );
    pub(crate) static NOT_RUN_ACTION: Code = Code::variant(
        "backup.not_run.action",
        "backup.not_run",
        "not run: action `{action}` failed",
    );
    pub(crate) static NOT_PUBLISHED_ACTION: Code = Code::variant(
        "backup.not_published.action",
        "backup.not_published",
        "{name} not published: action `{action}` failed",
    );
    pub(crate) static NOT_PUBLISHED_INTERRUPTED: Code = Code::variant(
        "backup.not_published.interrupted",
        "backup.not_published",
        "{name} not published: interrupted",
    );
    pub(crate) static NOT_PUBLISHED_EXISTS: Code = Code::variant(
        "backup.not_published.exists",
        "backup.not_published",
        "{name} not published: {path} already exists",
    );
    pub(crate) static NOT_PUBLISHED_RENAME: Code = Code::variant(
        "backup.not_published.rename",
        "backup.not_published",
        "{name} not published: cannot rename to {path}: {error}",
    );
    pub(crate) static CLEANED_UP: Code = Code::variant(
        "backup.cleanup.removed",
        "backup.cleanup",
        "its temporary directory was removed",
    );
    pub(crate) static NO_NEW_GENERATION: Code = Code::new(
        "backup.no_new_generation",
        "no new generation from this run (see the generation row)",
    );
    pub(crate) static SYSTEMCTL: Code = Code::new(
        "backup.systemctl",
        "systemctl steps are not run by `opsrun backup`",
    );
    pub(crate) static STEP_FAILED: Code =
        Code::variant("backup.step_failed", "unfinished", "step failed: {error}");
    pub(crate) static RESTORE_NONE: Code = Code::variant(
        "backup.restore_test.none",
        "backup.none",
        "no backup matching `{pattern}` in {dir}: nothing to restore",
    );
    pub(crate) static RESTORE_NO_DIR: Code = Code::variant(
        "backup.restore_test.no_dir",
        "backup.no_dir",
        "backup directory {dir} does not exist",
    );
    pub(crate) static RESTORE_UNREADABLE: Code = Code::variant(
        "backup.restore_test.unreadable",
        "backup.unreadable",
        "cannot read {dir}: {error}",
    );
    pub(crate) static RESTORE_TEMP_DIR: Code = Code::variant(
        "backup.restore_test.temp_dir",
        "backup.create",
        "cannot create a temporary directory in {path}: {error}",
    );
    pub(crate) static RESTORE_TIMEOUT: Code = Code::variant(
        "backup.restore_test.timeout",
        "timeout",
        "restore test of {name} timed out after {after}",
    );
    pub(crate) static RESTORE_INTERRUPTED: Code = Code::variant(
        "backup.restore_test.interrupted",
        "interrupted",
        "restore test of {name} interrupted",
    );
    pub(crate) static NO_DATABASE: Code = Code::new(
        "backup.restore_test.no_database",
        "no SQLite database in {name}: nothing to integrity-check",
    );
}

/// Every catalog entry of `opsrun backup` (docs/reasons.md lists them).
#[cfg(test)]
pub(crate) static CODES: &[&Code] = &[
    &SOURCE_MISSING,
    &SOURCE_UNREADABLE,
    &NOT_DATABASE,
    &BACKUP_DIR_ITSELF,
    &NOT_FILE_OR_DIR,
    &NAME_TAKEN,
    &CREATE,
    &SQLITE_OPEN,
    &SQLITE_READ,
    &SQLITE_CREATE,
    &SQLITE_START,
    &SQLITE_COPY,
    &SQLITE_FINISH,
    &INTEGRITY,
    &COPY_CHECK,
    &COPY,
    &ARCHIVE,
    &ARCHIVE_READ,
    &DB_OPEN,
    &IO,
    &CANCELLED,
    &EXISTS,
    &RENAME,
    &NOT_SYMLINK,
    &UPDATE_LINK,
    &REMOVE_TEMP,
    &RESTORE_COPY,
    &RESTORE_FAILED,
    &RESTORE_INTEGRITY,
    &RESTORE_FILE,
    &rows::BAD_NAME,
    &rows::CREATE_DIR,
    &rows::GENERATION_EXISTS,
    &rows::NOT_RUN_NO_GENERATION,
    &rows::NOT_RUN_ACTION,
    &rows::NOT_PUBLISHED_ACTION,
    &rows::NOT_PUBLISHED_INTERRUPTED,
    &rows::NOT_PUBLISHED_EXISTS,
    &rows::NOT_PUBLISHED_RENAME,
    &rows::CLEANED_UP,
    &rows::NO_NEW_GENERATION,
    &rows::SYSTEMCTL,
    &rows::STEP_FAILED,
    &rows::RESTORE_NONE,
    &rows::RESTORE_NO_DIR,
    &rows::RESTORE_UNREADABLE,
    &rows::RESTORE_TEMP_DIR,
    &rows::RESTORE_TIMEOUT,
    &rows::RESTORE_INTERRUPTED,
    &rows::NO_DATABASE,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::reason::Param;

    /// Every entry is in docs/reasons.md, and no key is used twice here
    /// or by a kind.
    #[test]
    fn reasons_are_documented() {
        let doc = include_str!("../../docs/reasons.md");
        let mut keys: std::collections::BTreeSet<&str> = crate::values::reason::common::CODES
            .iter()
            .chain(crate::check::SHARED_CODES.iter().flat_map(|c| c.iter()))
            .chain(crate::check::KINDS.iter().flat_map(|k| k.codes.iter()))
            .map(|c| c.key)
            .collect();
        for c in super::super::notes::NOTES
            .iter()
            .chain(super::super::pg::NOTES)
        {
            assert!(keys.insert(c.key), "catalog key {} twice", c.key);
        }
        for c in CODES.iter().chain(super::super::pg::CODES) {
            assert!(keys.insert(c.key), "catalog key {} twice", c.key);
            assert!(
                doc.contains(&format!("`{}`", c.key)) && doc.contains(&format!("| `{}` |", c.code)),
                "docs/reasons.md does not list {} ({})",
                c.key,
                c.code
            );
        }
    }

    #[test]
    fn failures_are_reasons_with_their_facts() {
        let e = Error::SourceUnreadable {
            path: "/srv/app/app.db".into(),
            error: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        let r = e.reason();
        assert_eq!(r.code.code, "backup.source.unreadable");
        assert_eq!(
            r.param("path"),
            Some(&Param::Text("/srv/app/app.db".into()))
        );
        assert_eq!(
            r.param("error"),
            Some(&Param::Text("permission denied".into()))
        );
        let e = Error::Integrity {
            pragma: "integrity_check".into(),
            problems: vec!["a".into(), "b".into()],
        };
        let r = e.in_restore("20251021_020000", Some("app.db"));
        assert_eq!(r.code.code, "backup.integrity");
        assert_eq!(
            r.param("file"),
            Some(&Param::Text("20251021_020000/app.db".into()))
        );
        let r = Error::Copy {
            from: "/b/x".into(),
            error: io::Error::other("boom"),
        }
        .in_restore("x", None);
        assert_eq!(r.code.key, "backup.restore_test.copy");
        assert_eq!(r.param("name"), Some(&Param::Text("x".into())));
    }
}
