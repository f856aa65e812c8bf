//! `backup`: the newest generation of a backup directory is recent, holds
//! what it must, and did not shrink — seed 000's weekly `ls -lht backups/ |
//! head`, "app.db と .env が存在", "バックアップサイズが妥当（過去と比較）".
//!
//! A generation is an entry of `dir` (directory or file) whose name matches
//! `pattern`; names starting with `.` never match, so a generation still
//! being written under a temporary dot-name is not mistaken for the newest.
//! Generations are ordered by modification time, like `ls -t`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, TimeZone};
use serde::Deserialize;

use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::values::outcome::Status;
use crate::values::reason::{Code, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, format_bytes, format_millis, trim_float};
use crate::values::{Dur, Size};

/// The reason catalog entries of `backup` (docs/reasons.md).
/// Display values (`Code::value`).
static V_NEWEST: Code = Code::value("value.backup.newest", "{when} ({ago}, {size})");
static V_NOW: Code = Code::value("value.backup.just_now", "just now");
static V_MINUTES: Code = Code::value("value.backup.minutes_ago", "{n}m ago");
static V_HOURS: Code = Code::value("value.backup.hours_ago", "{n}h ago");
static V_DAYS: Code = Code::value("value.backup.days_ago", "{n}d ago");

pub(crate) static CODES: &[&Code] = &[
    &V_NEWEST,
    &V_NOW,
    &V_MINUTES,
    &V_HOURS,
    &V_DAYS,
    &NO_DIR,
    &UNREADABLE,
    &SCAN,
    &NONE,
    &STALE,
    &LACKS,
    &NOT_A_DIR,
    &TOO_SMALL,
    &D_NEWEST,
    &D_PRESENT,
    &D_PREVIOUS,
    &D_PREVIOUS_SMALLER,
    &D_GENERATIONS_ONE,
    &D_GENERATIONS,
];

// Detail lines (`-v`).
static D_NEWEST: Code = Code::detail("backup.detail.newest", "newest: {name} ({at}, {size})");
static D_PRESENT: Code = Code::detail("backup.detail.present", "present: {names}");
static D_PREVIOUS: Code = Code::detail("backup.detail.previous", "previous: {name} ({size})");
static D_PREVIOUS_SMALLER: Code = Code::detail(
    "backup.detail.previous_smaller",
    "previous: {name} ({size}), {shrink} smaller now",
);
static D_GENERATIONS_ONE: Code = Code::detail("backup.detail.generations_one", "1 generation");
static D_GENERATIONS: Code = Code::detail("backup.detail.generations", "{count} generations");

static NO_DIR: Code = Code::new("backup.no_dir", "backup directory {dir} does not exist");
static UNREADABLE: Code = Code::new("backup.unreadable", "cannot read {dir}: {error}");
static SCAN: Code = Code::new("backup.scan", "backup scan failed: {error}");
static NONE: Code = Code::new("backup.none", "no backup matching `{pattern}` in {dir}");
static STALE: Code = Code::new(
    "backup.stale",
    "newest backup {name} is {age} old, expected within {max_age_written}",
);
static LACKS: Code = Code::new("backup.missing", "newest backup {name} lacks {missing}");
static NOT_A_DIR: Code = Code::variant(
    "backup.missing.file",
    "backup.missing",
    "newest backup {name} is a file, but require lists {missing}",
);
static TOO_SMALL: Code = Code::new(
    "backup.too_small",
    "newest backup {name} is {size}, expected at least {min_size}",
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    dir: String,
    #[serde(default = "star", with = "glob_pattern")]
    pattern: glob::Pattern,
    #[serde(default = "day_and_a_bit", deserialize_with = "Dur::positive")]
    max_age: Dur,
    #[serde(default)]
    require: Vec<String>,
    min_size: Option<Size>,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::percent")]
    shrink: Option<Threshold>,
    #[serde(default, deserialize_with = "crate::values::threshold::lo::count")]
    generations: Option<Threshold>,
}

fn star() -> glob::Pattern {
    glob::Pattern::new("*").expect("static pattern")
}

/// 26h: a nightly backup plus slack for a slow night.
fn day_and_a_bit() -> Dur {
    Dur(std::time::Duration::from_secs(26 * 3600))
}

mod glob_pattern {
    use serde::{Deserialize, Deserializer, de};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<glob::Pattern, D::Error> {
        let s = String::deserialize(d)?;
        if s.contains('/') {
            return Err(de::Error::custom(format!(
                "invalid pattern `{s}`: it matches names inside `dir`, so it cannot contain `/`"
            )));
        }
        glob::Pattern::new(&s)
            .map_err(|e| de::Error::custom(format!("invalid pattern `{s}`: {}", e.msg)))
    }
}

impl Kind for Backup {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }

    fn section(&self) -> &'static str {
        sections::DATA
    }

    fn target(&self) -> String {
        format!(
            "{}/{}",
            self.dir.trim_end_matches('/'),
            self.pattern.as_str()
        )
    }

    fn validate(&self) -> Result<(), String> {
        for r in &self.require {
            let p = Path::new(r);
            if r.is_empty()
                || p.is_absolute()
                || p.components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err(format!(
                    "invalid require `{r}`: expected a path inside the generation, like app.db or uploads/"
                ));
            }
        }
        Ok(())
    }
}

/// One generation: its path, when it was written and how big it is.
#[derive(Debug, Clone)]
struct Generation {
    name: String,
    path: PathBuf,
    mtime: SystemTime,
    is_dir: bool,
}

/// Total size of the files under `p` (symlinks are not followed).
fn tree_size(p: &Path) -> std::io::Result<u64> {
    let meta = std::fs::symlink_metadata(p)?;
    if !meta.is_dir() {
        return Ok(meta.len());
    }
    let mut total = 0;
    let mut stack = vec![p.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let m = e.path().symlink_metadata()?;
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.len();
            }
        }
    }
    Ok(total)
}

/// What the blocking scan found.
#[derive(Debug)]
struct Scan {
    /// Newest first.
    gens: Vec<Generation>,
    newest_size: Option<u64>,
    previous_size: Option<u64>,
    missing: Vec<String>,
}

fn scan(dir: &Path, pattern: &glob::Pattern, require: &[String]) -> Result<Scan, std::io::Error> {
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let mut gens = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !pattern.matches_with(&name, opts) {
            continue;
        }
        // Follows symlinks: a `latest -> 2025…` link is as old as its target.
        let Ok(meta) = std::fs::metadata(e.path()) else {
            continue;
        };
        gens.push(Generation {
            name,
            path: e.path(),
            mtime: meta.modified().unwrap_or(UNIX_EPOCH),
            is_dir: meta.is_dir(),
        });
    }
    // Newest first; the name breaks ties so the order is stable.
    gens.sort_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| b.name.cmp(&a.name)));
    let newest_size = gens.first().map(|g| tree_size(&g.path)).transpose()?;
    let previous_size = gens.get(1).map(|g| tree_size(&g.path)).transpose()?;
    let missing = match gens.first() {
        Some(g) => require
            .iter()
            .filter(|r| std::fs::symlink_metadata(g.path.join(r)).is_err())
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    Ok(Scan {
        gens,
        newest_size,
        previous_size,
        missing,
    })
}

/// How long ago, in whole units: `6h ago` (`6時間前`), `3d ago`, `12m
/// ago`, `just now` — hours up to two days, as people count backups.
fn ago(ms: f64) -> Reason {
    let mins = (ms / 60_000.0).floor() as i64;
    if mins < 1 {
        Reason::new(&V_NOW)
    } else if mins < 60 {
        Reason::new(&V_MINUTES).with("n", mins)
    } else if mins < 48 * 60 {
        Reason::new(&V_HOURS).with("n", mins / 60)
    } else {
        Reason::new(&V_DAYS).with("n", mins / (24 * 60))
    }
}

/// A duration as a runbook would write it (`26h`, `2d`, `90m`), for limits.
fn as_written(ms: f64) -> String {
    for (unit, size) in [
        ("d", 86_400_000.0),
        ("h", 3_600_000.0),
        ("m", 60_000.0),
        ("s", 1000.0),
    ] {
        if ms >= size && (ms % size) == 0.0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format_millis(ms)
}

fn unix_secs(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

fn local(t: SystemTime, offset: &FixedOffset) -> DateTime<FixedOffset> {
    let secs = unix_secs(t);
    offset
        .timestamp_opt(secs.floor() as i64, 0)
        .single()
        .unwrap_or_else(|| offset.timestamp_opt(0, 0).single().expect("epoch"))
}

impl Backup {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let dir = ctx.path(&self.dir);
        let d = dir.clone();
        let pattern = self.pattern.clone();
        let require = self.require.clone();
        let at = |code| Reason::new(code).with("dir", dir.display().to_string());
        // Walking a large generation is disk work: off the runtime.
        let scanned = tokio::task::spawn_blocking(move || scan(&d, &pattern, &require)).await;
        let scan = match scanned {
            Ok(Ok(s)) => s,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(
                    Failure::fail(at(&NO_DIR)).shown(crate::values::reason::said(
                        &crate::values::reason::common::V_NONE,
                    )),
                );
            }
            Ok(Err(e)) => {
                return Err(Failure::unknown(
                    at(&UNREADABLE).with("error", crate::values::io_reason(&e)),
                ));
            }
            Err(e) => {
                return Err(Failure::unknown(
                    Reason::new(&SCAN).with("error", e.to_string()),
                ));
            }
        };
        Ok(self.evaluate(&scan, &dir, &ctx.now))
    }

    fn evaluate(&self, scan: &Scan, dir: &Path, now: &DateTime<FixedOffset>) -> Measurement {
        let count = scan.gens.len();
        let generations = |count: usize| {
            Metric::new(
                "generations",
                count as f64,
                Unit::Count,
                Direction::LowerIsWorse,
            )
            .held(&self.generations)
            .says(format!("{count} backup generations"))
            .extra()
        };
        let Some(newest) = scan.gens.first() else {
            let mut m = Measurement::new(crate::values::reason::said(
                &crate::values::reason::common::V_NONE,
            ))
            .metric(generations(0).not_judged());
            m.observe(
                Status::Fail,
                Reason::new(&NONE)
                    .with("pattern", self.pattern.as_str())
                    .with("dir", dir.display().to_string()),
            );
            return m;
        };
        let now_secs = now.timestamp() as f64 + f64::from(now.timestamp_subsec_millis()) / 1000.0;
        let age_ms = ((now_secs - unix_secs(newest.mtime)) * 1000.0).max(0.0);
        let size = scan.newest_size.unwrap_or(0) as f64;
        let when = local(newest.mtime, now.offset());
        let value = crate::values::reason::say(
            &Reason::new(&V_NEWEST)
                .with("when", when.format("%Y-%m-%d %H:%M").to_string())
                .with("ago", ago(age_ms))
                .with_quantity("size", size, Unit::Bytes),
        );
        let max_ms = self.max_age.0.as_secs_f64() * 1000.0;
        let name = || Reason::new(&STALE).with("name", newest.name.clone());
        let mut out = Measurement::new(value)
            // `max_age` is a strict limit (older than, not as old as): the
            // observation below judges it; the threshold is for reports.
            .metric(
                Metric::new("age", age_ms, Unit::Millis, Direction::HigherIsWorse)
                    .held_to(Threshold::new(Unit::Millis, None, Some(max_ms)))
                    .not_judged(),
            )
            .metric(
                Metric::new(
                    "last_backup",
                    unix_secs(newest.mtime).floor(),
                    Unit::Number,
                    Direction::HigherIsWorse,
                )
                .extra(),
            )
            .metric(Metric::new("size", size, Unit::Bytes, Direction::LowerIsWorse).extra())
            // Judged after the shrink, as the reasons were always listed.
            .metric(generations(count).late())
            .detail(
                Reason::new(&D_NEWEST)
                    .with(
                        "name",
                        format!("{}{}", newest.name, if newest.is_dir { "/" } else { "" }),
                    )
                    .with("at", when.format("%Y-%m-%d %H:%M:%S %:z").to_string())
                    .with_quantity("size", size, Unit::Bytes),
            );

        if age_ms > max_ms {
            out.observe(
                Status::Fail,
                name()
                    .with_quantity("age", age_ms, Unit::Millis)
                    .with_quantity("max_age", max_ms, Unit::Millis)
                    .with("max_age_written", as_written(max_ms)),
            );
        }
        if !scan.missing.is_empty() {
            let code = if newest.is_dir { &LACKS } else { &NOT_A_DIR };
            out.observe(
                Status::Fail,
                Reason::new(code)
                    .with("name", newest.name.clone())
                    .with("missing", scan.missing.clone()),
            );
        } else if !self.require.is_empty() {
            out = out.detail(Reason::new(&D_PRESENT).with("names", self.require.clone()));
        }
        if let Some(min) = self.min_size
            && size < min.0 as f64
        {
            out.observe(
                Status::Fail,
                Reason::new(&TOO_SMALL)
                    .with("name", newest.name.clone())
                    .with_quantity("size", size, Unit::Bytes)
                    .with_quantity("min_size", min.0 as f64, Unit::Bytes),
            );
        }
        if let (Some(prev), Some(prev_size)) = (scan.gens.get(1), scan.previous_size) {
            let prev_size = prev_size as f64;
            let shrink = if prev_size > 0.0 && size < prev_size {
                (prev_size - size) / prev_size * 100.0
            } else {
                0.0
            };
            let th = self
                .shrink
                .clone()
                .unwrap_or_else(|| Threshold::new(Unit::Percent, Some(20.0), Some(50.0)));
            out = out
                .metric(
                    Metric::new("shrink", shrink, Unit::Percent, Direction::HigherIsWorse)
                        .held_to(th)
                        .says(format!(
                            "newest backup {} shrank {}% vs {} ({} → {})",
                            newest.name,
                            trim_float(shrink, 1),
                            prev.name,
                            format_bytes(prev_size),
                            format_bytes(size),
                        ))
                        .extra(),
                )
                .detail(if shrink > 0.0 {
                    Reason::new(&D_PREVIOUS_SMALLER)
                        .with("name", prev.name.clone())
                        .with_quantity("size", prev_size, Unit::Bytes)
                        .with_quantity("shrink", shrink, Unit::Percent)
                } else {
                    Reason::new(&D_PREVIOUS)
                        .with("name", prev.name.clone())
                        .with_quantity("size", prev_size, Unit::Bytes)
                });
        }
        out.detail(if count == 1 {
            Reason::new(&D_GENERATIONS_ONE)
        } else {
            Reason::new(&D_GENERATIONS).with("count", count)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_ago() {
        let said = |ms: f64| {
            let r = ago(ms);
            (r.code.key, r.param("n").cloned())
        };
        use crate::values::reason::Param::Int;
        assert_eq!(
            said(6.0 * 3_600_000.0 + 5.0),
            ("value.backup.hours_ago", Some(Int(6)))
        );
        assert_eq!(
            said(12.0 * 60_000.0),
            ("value.backup.minutes_ago", Some(Int(12)))
        );
        assert_eq!(
            said(3.0 * 86_400_000.0),
            ("value.backup.days_ago", Some(Int(3)))
        );
        assert_eq!(said(100.0), ("value.backup.just_now", None));
    }

    #[test]
    fn limits_as_written() {
        assert_eq!(as_written(26.0 * 3_600_000.0), "26h");
        assert_eq!(as_written(2.0 * 86_400_000.0), "2d");
        assert_eq!(as_written(90.0 * 60_000.0), "90m");
        assert_eq!(as_written(1500.0), "1.5s");
    }
}
