//! Copying files and directory trees into a generation (and out of one,
//! for the restore test). Blocking; cancellable between 1 MiB chunks.
//!
//! Inside a tree, symlinks are recreated as symlinks and never followed,
//! so a link pointing outside the source cannot pull foreign files into a
//! backup (or, restored, write outside the target). Sockets, FIFOs and
//! devices are skipped and listed. Modes and modification times are kept.

use std::fs::{self, File, FileTimes, Metadata};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::cancel::Cancel;
use super::error::Error;
use super::notes::{self, note};

/// What a copy wrote.
#[derive(Debug, Default)]
pub(crate) struct Copied {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub bytes: u64,
    /// Entries not copied (special files), with why.
    pub skipped: Vec<String>,
}

const CHUNK: usize = 1 << 20;

/// A directory never copied or archived, by (device, inode): the backup
/// directory itself, when it lies inside a tree being backed up (it would
/// otherwise copy the generation being written into itself).
pub(crate) type Exclude = Option<(u64, u64)>;

pub(crate) fn is_excluded(m: &Metadata, exclude: Exclude) -> bool {
    m.is_dir() && exclude == Some((m.dev(), m.ino()))
}

/// The error with the path it is about (`…/x: Permission denied`).
pub(crate) fn at(p: &Path) -> impl Fn(std::io::Error) -> std::io::Error + '_ {
    move |e| {
        if e.kind() == std::io::ErrorKind::Interrupted {
            return e;
        }
        std::io::Error::new(
            e.kind(),
            format!("{}: {}", p.display(), crate::values::io_reason(&e)),
        )
    }
}

/// Copies one regular file's bytes, mode and mtime; refuses to overwrite.
pub(crate) fn copy_file(
    from: &Path,
    to: &Path,
    meta: &Metadata,
    cancel: &Cancel,
) -> std::io::Result<u64> {
    let mut src = File::open(from).map_err(at(from))?;
    let mut dst = File::options()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(at(to))?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        cancel.check()?;
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(at(from)(e)),
        };
        dst.write_all(&buf[..n]).map_err(at(to))?;
        total += n as u64;
    }
    dst.set_permissions(fs::Permissions::from_mode(
        meta.permissions().mode() & 0o7777,
    ))?;
    if let Ok(m) = meta.modified() {
        let _ = dst.set_times(FileTimes::new().set_modified(m));
    }
    dst.sync_all()?;
    Ok(total)
}

/// Copies `from` (a file or a directory, followed if it is itself a
/// symlink: the operator named it) to `to`, which must not exist.
pub(crate) fn copy_path(
    from: &Path,
    to: &Path,
    cancel: &Cancel,
    exclude: Exclude,
) -> std::io::Result<Copied> {
    let meta = fs::metadata(from).map_err(at(from))?;
    if is_excluded(&meta, exclude) {
        return Err(std::io::Error::other(Error::BackupDirItself {
            path: from.to_path_buf(),
        }));
    }
    let mut c = Copied::default();
    {
        let parent = crate::values::io::dir_of(to);
        fs::create_dir_all(parent).map_err(at(parent))?;
    }
    if meta.is_dir() {
        copy_dir(from, to, &meta, cancel, exclude, &mut c)?;
    } else if meta.is_file() {
        c.bytes += copy_file(from, to, &meta, cancel)?;
        c.files += 1;
    } else {
        return Err(std::io::Error::other(Error::NotFileOrDir {
            path: from.to_path_buf(),
        }));
    }
    Ok(c)
}

fn copy_dir(
    from: &Path,
    to: &Path,
    meta: &Metadata,
    cancel: &Cancel,
    exclude: Exclude,
    c: &mut Copied,
) -> std::io::Result<()> {
    fs::create_dir(to).map_err(at(to))?;
    c.dirs += 1;
    // Directories are walked with an explicit stack: deep trees must not
    // exhaust the (small) blocking thread's stack.
    let mut stack: Vec<(PathBuf, PathBuf, Metadata)> = vec![(from.into(), to.into(), meta.clone())];
    let mut dirs_done = Vec::new();
    while let Some((src_dir, dst_dir, dmeta)) = stack.pop() {
        let mut entries: Vec<_> = fs::read_dir(&src_dir)
            .and_then(|rd| rd.collect::<Result<_, _>>())
            .map_err(at(&src_dir))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            cancel.check()?;
            let src = e.path();
            let dst = dst_dir.join(e.file_name());
            let m = fs::symlink_metadata(&src).map_err(at(&src))?;
            let ft = m.file_type();
            if ft.is_symlink() {
                let target = fs::read_link(&src).map_err(at(&src))?;
                std::os::unix::fs::symlink(target, &dst).map_err(at(&dst))?;
                c.symlinks += 1;
            } else if is_excluded(&m, exclude) {
                c.skipped.push(note(
                    &notes::SKIPPED_BACKUP_DIR,
                    vec![("path", src.display().to_string().into())],
                ));
            } else if ft.is_dir() {
                fs::create_dir(&dst).map_err(at(&dst))?;
                c.dirs += 1;
                stack.push((src, dst, m));
            } else if ft.is_file() {
                c.bytes += copy_file(&src, &dst, &m, cancel)?;
                c.files += 1;
            } else {
                let what = if ft.is_fifo() {
                    &notes::SKIPPED_FIFO
                } else if ft.is_socket() {
                    &notes::SKIPPED_SOCKET
                } else {
                    &notes::SKIPPED_DEVICE
                };
                c.skipped
                    .push(note(what, vec![("path", src.display().to_string().into())]));
            }
        }
        dirs_done.push((dst_dir, dmeta));
    }
    // Modes and times last: a read-only directory must be filled first.
    for (d, m) in dirs_done.into_iter().rev() {
        fs::set_permissions(
            &d,
            fs::Permissions::from_mode(m.permissions().mode() & 0o7777),
        )?;
        if let (Ok(t), Ok(f)) = (m.modified(), File::open(&d)) {
            let _ = f.set_times(FileTimes::new().set_modified(t));
        }
    }
    Ok(())
}

/// Total bytes of regular files under `p` (symlinks not followed).
pub(crate) fn tree_bytes(p: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    let mut total = 0;
    let mut stack = vec![p.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            match e.path().symlink_metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) if m.is_file() => total += m.len(),
                _ => {}
            }
        }
    }
    total
}

/// Every regular file under `root` (symlinks not followed), sorted.
pub(crate) fn regular_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let meta = fs::symlink_metadata(root)?;
    if meta.is_file() {
        return Ok(vec![root.to_owned()]);
    }
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d)? {
            let e = e?;
            let m = e.path().symlink_metadata()?;
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Flushes a directory entry (a rename or a new file in it) to disk.
pub(crate) fn sync_dir(p: &Path) {
    if let Ok(f) = File::open(p) {
        let _ = f.sync_all();
    }
}
