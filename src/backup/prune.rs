//! `opsrun backup prune`: seed 000's `find /path/to/backups/estimator
//! -type d -mtime +60 -exec rm -rf {} +`, made safe. Only entries directly
//! inside `dir` whose names match `pattern` are candidates; symlinks are
//! never generations and never deleted (nor followed); the newest
//! `keep_min` generations are kept whatever their age; the rest are
//! deleted when older than `keep_days`. Without `--execute` it only says
//! what it would delete.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, FixedOffset};

use super::generation::{self, Generation};
use crate::runbook::PruneSpec;

/// What prune decided for one entry (data: `output::prune` words it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Keep(Keep),
    Delete,
    /// Matches the pattern but is a symlink (to `target`): prune never
    /// deletes or follows it.
    Skip {
        target: PathBuf,
    },
}

/// Why a generation is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Among the newest `keep_min`.
    Newest(u32),
    /// Not older than `keep_days`.
    Within(u32),
}

/// Why a planned deletion did not happen.
#[derive(Debug)]
pub(crate) enum NotDeleted {
    /// Swapped for a symlink since it was listed: left alone.
    BecameSymlink,
    /// Removing it failed.
    Io(std::io::Error),
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub generation: Generation,
    pub decision: Decision,
    /// After `--execute`: `Err` when the deletion failed.
    pub deleted: Option<Result<(), NotDeleted>>,
}

/// A prune of one backup directory: the rules, the time it was judged
/// at, and every matching entry (newest first) with its fate.
#[derive(Debug)]
pub(crate) struct Pruned {
    pub dir: PathBuf,
    pub pattern: String,
    pub rules: PruneSpec,
    /// Whether deletions were carried out (`--execute`).
    pub executed: bool,
    pub now: DateTime<FixedOffset>,
    pub entries: Vec<Entry>,
}

impl Pruned {
    /// Whether a deletion failed (the command's exit code).
    pub(crate) fn failed(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e.deleted, Some(Err(_))))
    }
}

/// Decides, for every matching entry (newest first), whether it goes.
pub(crate) fn plan(gens: Vec<Generation>, p: &PruneSpec, now: SystemTime) -> Vec<Entry> {
    let max_age = Duration::from_secs(u64::from(p.keep_days) * 86_400);
    let mut kept = 0u32;
    gens.into_iter()
        .map(|g| {
            let decision = if let Some(target) = &g.symlink {
                Decision::Skip {
                    target: target.clone(),
                }
            } else if kept < p.keep_min {
                kept += 1;
                Decision::Keep(Keep::Newest(p.keep_min))
            } else {
                kept += 1;
                let age = now.duration_since(g.mtime).unwrap_or_default();
                if age > max_age {
                    Decision::Delete
                } else {
                    Decision::Keep(Keep::Within(p.keep_days))
                }
            };
            Entry {
                generation: g,
                decision,
                deleted: None,
            }
        })
        .collect()
}

/// Deletes the planned entries. Each is looked at again just before:
/// something swapped for a symlink in the meantime is left alone.
pub(crate) fn execute(entries: &mut [Entry]) {
    for e in entries
        .iter_mut()
        .filter(|e| e.decision == Decision::Delete)
    {
        let p = &e.generation.path;
        let r = match std::fs::symlink_metadata(p) {
            Ok(m) if m.file_type().is_symlink() => Err(NotDeleted::BecameSymlink),
            Ok(m) if m.is_dir() => generation::remove_tree(p).map_err(NotDeleted::Io),
            Ok(_) => std::fs::remove_file(p).map_err(NotDeleted::Io),
            Err(err) => Err(NotDeleted::Io(err)),
        };
        e.deleted = Some(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn mk(name: &str, days_old: u64, now: SystemTime, symlink: bool) -> Generation {
        Generation {
            name: name.into(),
            path: PathBuf::from(name),
            mtime: now - Duration::from_secs(days_old * 86_400 + 60),
            is_dir: true,
            symlink: symlink.then(|| PathBuf::from("/elsewhere")),
        }
    }

    #[test]
    fn keep_min_wins_over_age() {
        let now = SystemTime::now();
        let gens = vec![
            mk("d", 70, now, false),
            mk("c", 80, now, false),
            mk("b", 90, now, false),
        ];
        let p = PruneSpec {
            keep_days: 60,
            keep_min: 2,
        };
        let d: Vec<_> = plan(gens, &p, now)
            .into_iter()
            .map(|e| e.decision)
            .collect();
        assert_eq!(d[0], Decision::Keep(Keep::Newest(2)));
        assert_eq!(d[1], Decision::Keep(Keep::Newest(2)));
        assert_eq!(d[2], Decision::Delete);
    }

    #[test]
    fn symlinks_are_skipped_and_do_not_count() {
        let now = SystemTime::now();
        let gens = vec![
            mk("link", 1, now, true),
            mk("b", 90, now, false),
            mk("a", 100, now, false),
        ];
        let p = PruneSpec {
            keep_days: 60,
            keep_min: 1,
        };
        let d: Vec<_> = plan(gens, &p, now)
            .into_iter()
            .map(|e| e.decision)
            .collect();
        assert!(matches!(d[0], Decision::Skip { .. }));
        assert!(matches!(d[1], Decision::Keep(_)));
        assert_eq!(d[2], Decision::Delete);
    }
}
