//! `opsrun backup prune`: the listing (text) and the JSON document of a
//! prune, from its data (`backup::Pruned`): every matching entry with
//! what was decided for it and, after `--execute`, whether it went.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, TimeZone};
use serde_json::json;

use crate::backup::{Decision, Entry, Keep, NotDeleted, Pruned};
use crate::values::io_reason;

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

fn age_days(now: &DateTime<FixedOffset>, t: SystemTime) -> u64 {
    let now = UNIX_EPOCH + std::time::Duration::from_secs(now.timestamp().max(0) as u64);
    now.duration_since(t).unwrap_or_default().as_secs() / 86_400
}

/// Why an entry is kept or skipped, in words (`None` for a deletion).
fn why(d: &Decision) -> Option<String> {
    match d {
        Decision::Keep(Keep::Newest(n)) => Some(format!("newest {n}")),
        Decision::Keep(Keep::Within(days)) => Some(format!("within {days} days")),
        Decision::Skip { target } => Some(format!(
            "symlink to {}: never deleted or followed",
            target.display()
        )),
        Decision::Delete => None,
    }
}

fn not_deleted(e: &NotDeleted) -> String {
    match e {
        NotDeleted::BecameSymlink => "became a symlink: left alone".to_owned(),
        NotDeleted::Io(e) => io_reason(e),
    }
}

/// The plain-text listing.
pub(crate) fn text(p: &Pruned) -> String {
    let executed = p.executed;
    let mut out = format!(
        "prune {} (pattern {}, keep_days {}, keep_min {}){}\n",
        p.dir.display(),
        p.pattern,
        p.rules.keep_days,
        p.rules.keep_min,
        if executed { "" } else { " — dry run" }
    );
    let entries = &p.entries;
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
        let when = local(e.generation.mtime, p.now.offset()).format("%Y-%m-%d %H:%M");
        let days = age_days(&p.now, e.generation.mtime);
        let (word, why) = match (&e.decision, &e.deleted) {
            (Decision::Delete, Some(Ok(()))) => ("deleted", String::new()),
            (Decision::Delete, Some(Err(err))) => (
                "FAILED",
                format!("  could not delete: {}", not_deleted(err)),
            ),
            (Decision::Delete, None) => (
                if executed { "delete" } else { "would delete" },
                format!("  older than {} days", p.rules.keep_days),
            ),
            (Decision::Keep(_), _) => (
                "keep",
                format!("  {}", why(&e.decision).unwrap_or_default()),
            ),
            (Decision::Skip { .. }, _) => (
                "skip",
                format!("  {}", why(&e.decision).unwrap_or_default()),
            ),
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
pub(crate) fn json(p: &Pruned) -> String {
    let list: Vec<serde_json::Value> = p
        .entries
        .iter()
        .map(|e| {
            let action = match &e.decision {
                Decision::Delete => "delete",
                Decision::Keep(_) => "keep",
                Decision::Skip { .. } => "skip",
            };
            json!({
                "name": e.generation.name,
                "mtime": local(e.generation.mtime, p.now.offset()).to_rfc3339(),
                "dir": e.generation.is_dir,
                "symlink": e.generation.symlink.as_ref().map(|t| t.to_string_lossy().into_owned()),
                "action": action,
                "reason": why(&e.decision),
                "deleted": e.deleted.as_ref().map(|r| r.is_ok()),
                "error": e.deleted.as_ref().and_then(|r| r.as_ref().err().map(not_deleted)),
            })
        })
        .collect();
    let doc = json!({
        "dir": p.dir.to_string_lossy(),
        "pattern": p.pattern,
        "keep_days": p.rules.keep_days,
        "keep_min": p.rules.keep_min,
        "execute": p.executed,
        "generations": list,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
