//! Generations inside the backup directory: listing them, building a new
//! one under a temporary dot-name and publishing it with one rename, and
//! removing what a crashed run left behind.
//!
//! A generation is an entry directly inside `dir` whose name matches
//! `pattern` (never a dot-name). While being written it is
//! `dir/.NAME.tmp-PID`: the `backup` check, restore-test and prune do not
//! see it, and a run killed half-way leaves nothing that looks like a
//! generation. The rename that publishes it is atomic and refuses to
//! replace an existing entry.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::Error;
use crate::runbook::MATCH_OPTIONS;

/// One entry of the backup directory that matches the pattern.
#[derive(Debug, Clone)]
pub(crate) struct Generation {
    pub name: String,
    pub path: PathBuf,
    /// Modification time (of the link itself for a symlink).
    pub mtime: SystemTime,
    pub is_dir: bool,
    /// A symlink: read through by restore-test, never deleted by prune.
    pub symlink: Option<PathBuf>,
}

/// The entries of `dir` matching `pattern`, newest first (by mtime, then
/// name). Symlinks are listed as such, with the link's own times.
pub(crate) fn list(dir: &Path, pattern: &glob::Pattern) -> std::io::Result<Vec<Generation>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !pattern.matches_with(&name, MATCH_OPTIONS) {
            continue;
        }
        let path = e.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let symlink = meta
            .file_type()
            .is_symlink()
            .then(|| fs::read_link(&path).unwrap_or_default());
        out.push(Generation {
            name,
            mtime: meta.modified().unwrap_or(UNIX_EPOCH),
            is_dir: meta.is_dir(),
            path,
            symlink,
        });
    }
    out.sort_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| b.name.cmp(&a.name)));
    Ok(out)
}

/// `.NAME.tmp-PID`: the temporary name of a generation being written.
pub(crate) fn temp_name(name: &str) -> String {
    format!(".{name}.tmp-{}", std::process::id())
}

/// The PID in a temporary name, if `name` is one.
fn temp_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, pid) = rest.rsplit_once(".tmp-")?;
    pid.parse().ok()
}

/// Removes temporary generations whose process is gone (a run that was
/// killed or lost power); returns their names. One whose process still
/// runs is another backup in progress and is left alone.
pub(crate) fn remove_stale(dir: &Path) -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return removed;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = temp_pid(&name) else { continue };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let p = e.path();
        let gone = match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => remove_tree(&p).is_ok(),
            // A `latest` link being swapped in.
            Ok(m) if m.file_type().is_symlink() => fs::remove_file(&p).is_ok(),
            _ => false,
        };
        if gone {
            removed.push(name);
        }
    }
    removed
}

/// Creates the temporary directory of a new generation, owner-only
/// (a backup holds `.env` and the database).
pub(crate) fn create_private_dir(p: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new().mode(0o700).create(p)
}

/// `remove_dir_all` that also copes with read-only directories copied
/// from the source (a non-root user cannot delete inside them otherwise).
/// Symlinks are removed, never followed.
pub(crate) fn remove_tree(p: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => return fs::remove_file(p),
        Ok(_) => {}
    }
    if fs::remove_dir_all(p).is_ok() {
        return Ok(());
    }
    let mut stack = vec![p.to_owned()];
    while let Some(d) = stack.pop() {
        if let Ok(m) = fs::symlink_metadata(&d)
            && m.is_dir()
        {
            let _ = fs::set_permissions(&d, fs::Permissions::from_mode(0o700));
            if let Ok(rd) = fs::read_dir(&d) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        }
    }
    fs::remove_dir_all(p)
}

/// Removes a directory when dropped, unless disarmed: a failed, timed-out
/// or interrupted step never leaves its temporary directory behind.
pub(crate) struct TempDir {
    pub path: PathBuf,
    armed: bool,
}

impl TempDir {
    pub(crate) fn new(path: PathBuf) -> TempDir {
        TempDir { path, armed: true }
    }

    /// Removes it now, saying why not if that fails.
    pub(crate) fn remove(mut self) -> Result<(), Error> {
        self.armed = false;
        remove_tree(&self.path).map_err(|error| Error::RemoveTemp {
            path: self.path.clone(),
            error,
        })
    }

    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.armed {
            let _ = remove_tree(&self.path);
        }
    }
}

/// Renames `from` to `to` unless `to` exists (an existing generation is
/// never replaced).
pub(crate) fn publish(from: &Path, to: &Path) -> Result<(), Error> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    let exists = || Error::Exists {
        path: to.to_path_buf(),
    };
    let failed = |error| Error::Rename {
        path: to.to_path_buf(),
        error,
    };
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::EXIST) => Err(exists()),
        // A filesystem without RENAME_NOREPLACE: check, then rename (a
        // directory cannot replace a non-empty one anyway).
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            if fs::symlink_metadata(to).is_ok() {
                return Err(exists());
            }
            fs::rename(from, to).map_err(failed)
        }
        Err(e) => Err(failed(std::io::Error::from(e))),
    }
}

/// Points `dir/link` at `target` (a name in `dir`) by renaming a fresh
/// symlink over it; an entry there that is not a symlink is left alone.
pub(crate) fn point_latest(dir: &Path, link: &str, target: &str) -> Result<(), Error> {
    let path = dir.join(link);
    if let Ok(m) = fs::symlink_metadata(&path)
        && !m.file_type().is_symlink()
    {
        return Err(Error::NotSymlink { path });
    }
    let tmp = dir.join(temp_name(link));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .and_then(|_| fs::rename(&tmp, &path))
        .map_err(|error| {
            let _ = fs::remove_file(&tmp);
            Error::UpdateLink { path, error }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names() {
        let n = temp_name("20251021_020000");
        assert!(n.starts_with(".20251021_020000.tmp-"));
        assert_eq!(temp_pid(&n), Some(std::process::id()));
        assert_eq!(temp_pid(".x.tmp-12"), Some(12));
        assert_eq!(temp_pid("x.tmp-12"), None);
        assert_eq!(temp_pid(".x.tmp-"), None);
        assert_eq!(temp_pid(".env"), None);
    }
}
