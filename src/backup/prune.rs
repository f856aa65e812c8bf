//! `opsrun backup prune`: seed 000's `find /path/to/backups/estimator
//! -type d -mtime +60 -exec rm -rf {} +`, made safe. Only entries directly
//! inside `dir` whose names match `pattern` are candidates; symlinks are
//! never generations and never deleted (nor followed); the newest
//! `keep_min` generations are kept whatever their age; the rest are
//! deleted when older than `keep_days`. Without `--execute` it only says
//! what it would delete.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, TimeZone};
use serde_json::json;

use super::generation::{self, Generation};
use crate::runbook::{BackupSpec, PruneSpec};
use crate::values::io_reason;

/// What prune decided for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Keep(String),
    Delete,
    /// Matches the pattern but is not a generation prune may touch.
    Skip(String),
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub generation: Generation,
    pub decision: Decision,
    /// After `--execute`: `Err` when the deletion failed.
    pub deleted: Option<Result<(), String>>,
}

/// Decides, for every matching entry (newest first), whether it goes.
pub(crate) fn plan(gens: Vec<Generation>, p: &PruneSpec, now: SystemTime) -> Vec<Entry> {
    let max_age = Duration::from_secs(u64::from(p.keep_days) * 86_400);
    let mut kept = 0u32;
    gens.into_iter()
        .map(|g| {
            let decision = if let Some(target) = &g.symlink {
                Decision::Skip(format!(
                    "symlink to {}: never deleted or followed",
                    target.display()
                ))
            } else if kept < p.keep_min {
                kept += 1;
                Decision::Keep(format!("newest {}", p.keep_min))
            } else {
                kept += 1;
                let age = now.duration_since(g.mtime).unwrap_or_default();
                if age > max_age {
                    Decision::Delete
                } else {
                    Decision::Keep(format!("within {} days", p.keep_days))
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
            Ok(m) if m.file_type().is_symlink() => Err("became a symlink: left alone".to_owned()),
            Ok(m) if m.is_dir() => generation::remove_tree(p).map_err(|e| io_reason(&e)),
            Ok(_) => std::fs::remove_file(p).map_err(|e| io_reason(&e)),
            Err(err) => Err(io_reason(&err)),
        };
        e.deleted = Some(r);
    }
}

fn local(t: SystemTime, offset: &FixedOffset) -> DateTime<FixedOffset> {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    offset
        .timestamp_opt(secs, 0)
        .single()
        .unwrap_or_else(|| offset.timestamp_opt(0, 0).single().expect("epoch"))
}

fn age_days(now: SystemTime, t: SystemTime) -> u64 {
    now.duration_since(t).unwrap_or_default().as_secs() / 86_400
}

/// The plain-text listing.
pub(crate) fn render_text(
    dir: &Path,
    spec: &BackupSpec,
    p: &PruneSpec,
    entries: &[Entry],
    executed: bool,
    now: SystemTime,
    offset: &FixedOffset,
) -> String {
    let mut out = format!(
        "prune {} (pattern {}, keep_days {}, keep_min {}){}\n",
        dir.display(),
        spec.pattern,
        p.keep_days,
        p.keep_min,
        if executed { "" } else { " — dry run" }
    );
    if entries.is_empty() {
        out.push_str("  no generations\n");
    }
    let shown = |e: &Entry| {
        format!(
            "{}{}",
            e.generation.name,
            if e.generation.is_dir { "/" } else { "" }
        )
    };
    let width = entries
        .iter()
        .map(|e| shown(e).chars().count())
        .max()
        .unwrap_or(0);
    for e in entries {
        let when = local(e.generation.mtime, offset).format("%Y-%m-%d %H:%M");
        let days = age_days(now, e.generation.mtime);
        let (word, why) = match (&e.decision, &e.deleted) {
            (Decision::Delete, Some(Ok(()))) => ("deleted", String::new()),
            (Decision::Delete, Some(Err(err))) => ("FAILED", format!("  could not delete: {err}")),
            (Decision::Delete, None) => (
                if executed { "delete" } else { "would delete" },
                format!("  older than {} days", p.keep_days),
            ),
            (Decision::Keep(r), _) => ("keep", format!("  {r}")),
            (Decision::Skip(r), _) => ("skip", format!("  {r}")),
        };
        out.push_str(&format!(
            "  {word:<12} {:<width$}  {when} ({days}日前){why}\n",
            shown(e),
        ));
    }
    let to_delete = entries
        .iter()
        .filter(|e| e.decision == Decision::Delete)
        .count();
    let failed = entries
        .iter()
        .filter(|e| matches!(e.deleted, Some(Err(_))))
        .count();
    let kept = entries
        .iter()
        .filter(|e| matches!(e.decision, Decision::Keep(_)))
        .count();
    if executed {
        out.push_str(&format!(
            "{} deleted, {failed} failed, {kept} kept\n",
            to_delete - failed
        ));
    } else if to_delete > 0 {
        out.push_str(&format!(
            "{to_delete} would be deleted, {kept} kept: run `opsrun backup prune --execute` to delete them\n"
        ));
    } else {
        out.push_str(&format!("nothing to delete, {kept} kept\n"));
    }
    out
}

/// The JSON document for `-f json`.
pub(crate) fn render_json(
    dir: &Path,
    spec: &BackupSpec,
    p: &PruneSpec,
    entries: &[Entry],
    executed: bool,
    offset: &FixedOffset,
) -> String {
    let list: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let (action, reason) = match &e.decision {
                Decision::Delete => ("delete", None),
                Decision::Keep(r) => ("keep", Some(r.clone())),
                Decision::Skip(r) => ("skip", Some(r.clone())),
            };
            json!({
                "name": e.generation.name,
                "mtime": local(e.generation.mtime, offset).to_rfc3339(),
                "dir": e.generation.is_dir,
                "symlink": e.generation.symlink.as_ref().map(|t| t.to_string_lossy().into_owned()),
                "action": action,
                "reason": reason,
                "deleted": e.deleted.as_ref().map(|r| r.is_ok()),
                "error": e.deleted.as_ref().and_then(|r| r.as_ref().err().cloned()),
            })
        })
        .collect();
    let doc = json!({
        "dir": dir.to_string_lossy(),
        "pattern": spec.pattern,
        "keep_days": p.keep_days,
        "keep_min": p.keep_min,
        "execute": executed,
        "generations": list,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
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
        assert!(matches!(d[0], Decision::Keep(_)));
        assert!(matches!(d[1], Decision::Keep(_)));
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
        assert!(matches!(d[0], Decision::Skip(_)));
        assert!(matches!(d[1], Decision::Keep(_)));
        assert_eq!(d[2], Decision::Delete);
    }
}
