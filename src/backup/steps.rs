//! The data steps of a backup run — `sqlite_backup`, `copy`, `archive` —
//! each writing into the new generation's temporary directory. Blocking
//! (run them in `spawn_blocking`), cancellable through [`Cancel`].

use std::fs::{self, File};
use std::io::{BufWriter, Read};
use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::cancel::Cancel;
use super::error::{Error, sqlite_msg};
use super::notes::{self, bytes, count, note};
use super::tree::{self, Copied};
use crate::runbook::SqliteCheck;

/// What a step produced: a short value for the table and detail lines.
#[derive(Debug, Default)]
pub(crate) struct Done {
    pub value: String,
    pub bytes: u64,
    pub detail: Vec<String>,
}

/// Pages copied per backup step: small steps keep each read lock short.
const PAGES_PER_STEP: i32 = 512;
/// Pause between steps, so the application's writers get the database.
const PAUSE: Duration = Duration::from_millis(5);
/// Restarts (a writer committed between steps of a rollback-journal
/// database) before the rest is copied in one step.
const MAX_RESTARTS: u32 = 3;

/// The first 16 bytes of every SQLite database file.
pub(crate) const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// `file:` URI opening `path` read-only (reserved characters escaped).
fn ro_uri(path: &Path) -> String {
    let mut s = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => s.push_str(&format!("%{:02X}", c as u32)),
            c => s.push(c),
        }
    }
    s.push_str("?mode=ro");
    s
}

fn source_error(error: std::io::Error, path: &Path) -> Error {
    let path = path.to_path_buf();
    if error.kind() == std::io::ErrorKind::NotFound {
        Error::SourceMissing { path }
    } else {
        Error::SourceUnreadable { path, error }
    }
}

/// Refuses a destination that is already there (two steps writing the same
/// name would silently lose one of them).
pub(super) fn fresh(dest: &Path, name: &str) -> Result<(), Error> {
    if fs::symlink_metadata(dest).is_ok() {
        return Err(Error::NameTaken {
            name: name.to_owned(),
        });
    }
    {
        let p = crate::values::io::dir_of(dest);
        fs::create_dir_all(p).map_err(|error| Error::Create {
            path: p.to_path_buf(),
            error,
        })?;
    }
    Ok(())
}

/// Runs `PRAGMA integrity_check`/`quick_check` on `conn`: `Ok(())` for
/// `ok`, else the first messages.
pub(crate) fn check_db(conn: &Connection, pragma: &str) -> Result<(), Error> {
    let failed = |problems: Vec<String>| Error::Integrity {
        pragma: pragma.to_owned(),
        problems,
    };
    let mut stmt = conn
        .prepare(&format!("PRAGMA {pragma}(10)"))
        .map_err(|e| failed(vec![sqlite_msg(&e)]))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| failed(vec![sqlite_msg(&e)]))?;
    let mut lines = Vec::new();
    for r in rows {
        match r {
            Ok(s) => lines.extend(
                s.lines()
                    .filter(|l| !l.starts_with("*** in database"))
                    .map(str::to_owned),
            ),
            Err(e) => {
                lines.push(sqlite_msg(&e));
                break;
            }
        }
    }
    if lines.len() == 1 && lines[0] == "ok" {
        Ok(())
    } else {
        Err(failed(lines))
    }
}

/// A consistent copy of the live database `source` at `dest` through
/// SQLite's online backup API, then checked with `check`.
///
/// WAL database: the copy is made inside one read transaction, so every
/// step sees the same snapshot while the application keeps writing (WAL
/// readers do not block writers). Rollback-journal database: each step
/// holds the shared lock only for its pages; a commit in between restarts
/// the copy, and after a few restarts the rest is copied in one step
/// (writers wait on their busy timeout for that long) so a busy database
/// cannot keep the backup from finishing.
pub(crate) fn sqlite_backup(
    source: &Path,
    dest: &Path,
    dest_name: &str,
    check: SqliteCheck,
    cancel: &Cancel,
) -> Result<Done, Error> {
    let meta = fs::metadata(source).map_err(|e| source_error(e, source))?;
    if !meta.is_file() {
        return Err(Error::NotDatabase {
            path: source.to_path_buf(),
        });
    }
    File::open(source).map_err(|e| source_error(e, source))?;
    fresh(dest, dest_name)?;
    let src = Connection::open_with_flags(
        ro_uri(source),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|error| Error::SqliteOpen {
        path: source.to_path_buf(),
        error,
    })?;
    let _ = src.busy_timeout(Duration::from_secs(5));
    let read_error = |error| Error::SqliteRead {
        path: source.to_path_buf(),
        error,
    };
    let mode: String = src
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(read_error)?;
    let wal = mode.eq_ignore_ascii_case("wal");
    if wal {
        // Pins one snapshot for the whole copy (see above).
        src.execute_batch("BEGIN")
            .and_then(|_| src.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())))
            .map_err(read_error)?;
    }
    let mut dst = Connection::open(dest).map_err(|error| Error::SqliteCreate {
        name: dest_name.to_owned(),
        error,
    })?;
    let mut restarts = 0u32;
    let pages;
    {
        let b = Backup::new(&src, &mut dst).map_err(|error| Error::SqliteStart { error })?;
        let mut last_remaining = i32::MAX;
        let mut whole = false;
        loop {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let r = b
                .step(if whole { -1 } else { PAGES_PER_STEP })
                .map_err(|error| Error::SqliteCopy {
                    path: source.to_path_buf(),
                    error,
                })?;
            match r {
                StepResult::Done => break,
                StepResult::More => {
                    let remaining = b.progress().remaining;
                    if remaining > last_remaining {
                        restarts += 1;
                        whole = restarts >= MAX_RESTARTS;
                    }
                    last_remaining = remaining;
                    std::thread::sleep(PAUSE);
                }
                // A writer holds the lock right now: wait a little.
                StepResult::Busy | StepResult::Locked => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                // rusqlite's enum is non-exhaustive.
                #[allow(unreachable_patterns)]
                _ => std::thread::sleep(PAUSE),
            }
        }
        pages = b.progress().pagecount;
    }
    if wal {
        let _ = src.execute_batch("COMMIT");
    }
    drop(src);
    // The copy carries the source's WAL flag in its header; a backup should
    // be one self-contained file, so switch it to a rollback journal.
    dst.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(()))
        .map_err(|error| Error::SqliteFinish {
            name: dest_name.to_owned(),
            error,
        })?;
    let mut copied = vec![
        ("from", source.display().to_string().into()),
        ("name", dest_name.into()),
        ("pages", i64::from(pages).into()),
        ("mode", mode.into()),
    ];
    if restarts > 0 {
        copied.push(("restarts", u64::from(restarts).into()));
    }
    let mut detail = vec![note(&notes::SQLITE_COPIED, copied)];
    let verdict = match check.pragma() {
        Some(p) => {
            cancel.watch(&dst);
            let r = check_db(&dst, p);
            cancel.unwatch();
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            r.map_err(|e| match e {
                Error::Integrity { pragma, problems } => Error::CopyCheck {
                    name: dest_name.to_owned(),
                    pragma,
                    problems,
                },
                other => other,
            })?;
            Some(p)
        }
        None => None,
    };
    drop(dst);
    let size = fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    if let Ok(f) = File::open(dest) {
        let _ = f.sync_all();
    }
    let mut said = vec![("size", self::bytes(size))];
    if let Some(p) = verdict {
        said.push(("pragma", p.into()));
    }
    let mut with_name = vec![("name", dest_name.into())];
    with_name.extend(said.iter().cloned());
    detail.push(note(&notes::FILE_SIZE_CHECKED, with_name));
    Ok(Done {
        value: note(&notes::SIZE_CHECKED, said),
        bytes: size,
        detail,
    })
}

/// `3 files, 1 dir, 12.3kB`.
fn describe(c: &Copied) -> String {
    let mut parts = vec![count(c.files, &notes::FILE, &notes::FILES)];
    if c.dirs > 0 {
        parts.push(count(c.dirs, &notes::DIR, &notes::DIRS));
    }
    if c.symlinks > 0 {
        parts.push(count(c.symlinks, &notes::SYMLINK, &notes::SYMLINKS));
    }
    note(
        &notes::TREE,
        vec![("parts", parts.into()), ("size", bytes(c.bytes))],
    )
}

/// Fails when `from` cannot be read at all.
fn readable(from: &Path) -> Result<fs::Metadata, Error> {
    let meta = fs::metadata(from).map_err(|e| source_error(e, from))?;
    let r = if meta.is_dir() {
        fs::read_dir(from).map(drop)
    } else {
        File::open(from).map(drop)
    };
    r.map_err(|e| source_error(e, from))?;
    Ok(meta)
}

/// `copy`: a file or directory tree into the generation.
pub(crate) fn copy(
    from: &Path,
    dest: &Path,
    dest_name: &str,
    cancel: &Cancel,
    exclude: tree::Exclude,
) -> Result<Done, Error> {
    readable(from)?;
    fresh(dest, dest_name)?;
    let c = tree::copy_path(from, dest, cancel, exclude).map_err(|error| {
        if cancel.is_cancelled() {
            Error::Cancelled
        } else {
            Error::Copy {
                from: from.to_path_buf(),
                error,
            }
        }
    })?;
    let mut detail = vec![note(
        &notes::COPIED,
        vec![
            ("from", from.display().to_string().into()),
            ("name", dest_name.into()),
            ("what", describe(&c).into()),
        ],
    )];
    detail.extend(c.skipped.iter().cloned());
    Ok(Done {
        value: describe(&c),
        bytes: c.bytes,
        detail,
    })
}

/// Reads exactly `size` bytes of a file for a tar entry whose header
/// already says `size`: a file that shrank while being read is padded with
/// zeros and one that grew is cut (as GNU tar does), so the archive stays
/// readable; either is reported.
struct EntryReader<'a> {
    inner: std::io::Take<File>,
    left: u64,
    short: bool,
    cancel: &'a Cancel,
}

impl Read for EntryReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.cancel.check()?;
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left.min(1 << 20) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        let n = if n == 0 {
            self.short = true;
            buf[..want].fill(0);
            want
        } else {
            n
        };
        self.left -= n as u64;
        Ok(n)
    }
}

/// `archive`: `from` as a tar.gz at `dest`, entries under `from`'s own
/// name (`uploads/…`, like `tar czf uploads.tar.gz -C /srv/app uploads`).
/// Symlinks are stored as symlinks, never followed.
pub(crate) fn archive(
    from: &Path,
    dest: &Path,
    dest_name: &str,
    cancel: &Cancel,
    exclude: tree::Exclude,
) -> Result<Done, Error> {
    let meta = readable(from)?;
    if tree::is_excluded(&meta, exclude) {
        return Err(Error::BackupDirItself {
            path: from.to_path_buf(),
        });
    }
    fresh(dest, dest_name)?;
    let top = from
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    let mut changed = Vec::new();
    let mut excluded = Vec::new();
    let mut c = Copied::default();
    let result = (|| -> std::io::Result<()> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(dest)
            .map_err(tree::at(dest))?;
        let gz =
            flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        tar.follow_symlinks(false);
        let mut add = |tar: &mut tar::Builder<_>,
                       path: &Path,
                       name: &Path,
                       m: &fs::Metadata|
         -> std::io::Result<()> {
            cancel.check()?;
            let mut h = tar::Header::new_gnu();
            h.set_metadata_in_mode(m, tar::HeaderMode::Complete);
            let ft = m.file_type();
            if ft.is_symlink() {
                h.set_size(0);
                tar.append_link(&mut h, name, fs::read_link(path).map_err(tree::at(path))?)?;
                c.symlinks += 1;
            } else if ft.is_dir() {
                h.set_size(0);
                tar.append_data(&mut h, name, std::io::empty())?;
                c.dirs += 1;
            } else if ft.is_file() {
                let size = m.len();
                let mut r = EntryReader {
                    inner: File::open(path).map_err(tree::at(path))?.take(size),
                    left: size,
                    short: false,
                    cancel,
                };
                tar.append_data(&mut h, name, &mut r)?;
                let grew = fs::metadata(path).map(|n| n.len() > size).unwrap_or(false);
                if r.short || grew {
                    changed.push(note(
                        &notes::CHANGED,
                        vec![("path", path.display().to_string().into())],
                    ));
                }
                c.files += 1;
                c.bytes += size;
            } else {
                c.skipped.push(note(
                    &notes::SKIPPED_SPECIAL,
                    vec![("path", path.display().to_string().into())],
                ));
            }
            Ok(())
        };
        add(&mut tar, from, Path::new(&top), &meta)?;
        if meta.is_dir() {
            let mut stack = vec![(from.to_path_buf(), std::path::PathBuf::from(&top))];
            while let Some((dir, name)) = stack.pop() {
                let mut entries: Vec<_> = fs::read_dir(&dir)
                    .and_then(|rd| rd.collect::<Result<_, _>>())
                    .map_err(tree::at(&dir))?;
                entries.sort_by_key(|e| e.file_name());
                for e in entries {
                    let p = e.path();
                    let n = name.join(e.file_name());
                    let m = fs::symlink_metadata(&p).map_err(tree::at(&p))?;
                    if tree::is_excluded(&m, exclude) {
                        excluded.push(note(
                            &notes::SKIPPED_BACKUP_DIR,
                            vec![("path", p.display().to_string().into())],
                        ));
                        continue;
                    }
                    add(&mut tar, &p, &n, &m)?;
                    if m.is_dir() {
                        stack.push((p, n));
                    }
                }
            }
        }
        let gz = tar.into_inner()?;
        let file = gz.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    })();
    if let Err(error) = result {
        return Err(if cancel.is_cancelled() {
            Error::Cancelled
        } else {
            Error::Archive {
                from: from.to_path_buf(),
                error,
            }
        });
    }
    let size = fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    let what = describe(&c);
    let mut detail = vec![note(
        &notes::ARCHIVED,
        vec![
            ("from", from.display().to_string().into()),
            ("name", dest_name.into()),
            ("what", what.clone().into()),
            ("size", bytes(size)),
        ],
    )];
    detail.extend(changed);
    detail.extend(excluded);
    detail.extend(c.skipped.iter().cloned());
    Ok(Done {
        value: note(
            &notes::ARCHIVE_VALUE,
            vec![("what", what.into()), ("size", bytes(size))],
        ),
        bytes: size,
        detail,
    })
}

/// Reads a tar.gz to its end: a truncated or corrupt archive is an error.
pub(crate) fn read_archive(path: &Path, cancel: &Cancel) -> Result<u64, Error> {
    let broken = |error| Error::ArchiveRead { error };
    let f = File::open(path).map_err(broken)?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(f)));
    let mut n = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    for e in ar.entries().map_err(broken)? {
        let mut e = e.map_err(broken)?;
        loop {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            match e.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(err) => return Err(broken(err)),
            }
        }
        n += 1;
    }
    Ok(n)
}
