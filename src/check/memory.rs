//! `memory`: used = total − available (what `free -h` calls available), or
//! the container's cgroup v2 limit when one is set, since that is the
//! ceiling the OOM killer enforces.

use serde::Deserialize;

use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::values::reason::{Code, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, trim_float};

/// The reason catalog entries of `memory` (docs/reasons.md).
pub(crate) static CODES: &[&Code] = &[&UNREADABLE, &MEMINFO, &D_USED];

// Detail lines (`-v`).
static D_USED: Code = Code::detail("memory.detail.used", "{used} used of {total} ({scope})");

/// Shared with `cpu`: a /proc file could not be read.
pub(crate) static UNREADABLE: Code = Code::new("proc.unreadable", "cannot read {path}: {error}");
static MEMINFO: Code = Code::new(
    "memory.meminfo",
    "/proc/meminfo has no MemTotal/MemAvailable",
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    #[serde(default, deserialize_with = "crate::values::threshold::hi::percent")]
    used: Option<Threshold>,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::percent")]
    swap: Option<Threshold>,
}

/// The host's memory from `/proc/meminfo`, through sysinfo (the crate the
/// user named): `MemTotal`, `MemAvailable` — what `free` calls available —
/// and the swap totals, in bytes. sysinfo estimates `MemAvailable` on
/// kernels older than 3.14 that lack it; every kernel opsrun supports has it.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MemInfo {
    total: f64,
    available: f64,
    swap_total: f64,
    swap_free: f64,
}

fn meminfo() -> Result<MemInfo, Failure> {
    use sysinfo::MemoryRefreshKind;
    let mut sys = sysinfo::System::new().map_err(|e| {
        Failure::unknown(
            Reason::new(&UNREADABLE)
                .with("path", "/proc/meminfo")
                .with("error", e.to_string()),
        )
    })?;
    sys.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram().with_swap());
    let m = MemInfo {
        total: sys.total_memory() as f64,
        available: sys.available_memory() as f64,
        swap_total: sys.total_swap() as f64,
        swap_free: sys.free_swap() as f64,
    };
    // An unreadable /proc/meminfo reads as all zeros.
    if m.total > 0.0 {
        Ok(m)
    } else {
        Err(Failure::unknown(Reason::new(&MEMINFO)))
    }
}

/// The cgroup v2 memory limit and usage of this process, if limited.
///
/// Read here rather than through sysinfo's `cgroup_limits()`: that one
/// counts the cgroup's page cache (`memory.current`) as used, which the
/// kernel reclaims before the OOM killer acts, so a container that merely
/// read its files would look full. `inactive_file` is taken out, as
/// `docker stats` does.
fn cgroup_limit() -> Option<(f64, f64)> {
    let max = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok()?;
    let max: f64 = max.trim().parse().ok()?; // "max" → None
    let current: f64 = std::fs::read_to_string("/sys/fs/cgroup/memory.current")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    // Page cache counts in memory.current but is reclaimable.
    let inactive_file = std::fs::read_to_string("/sys/fs/cgroup/memory.stat")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("inactive_file ")
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
        })
        .unwrap_or(0.0);
    Some((max, (current - inactive_file).max(0.0)))
}

impl Kind for Memory {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }
    fn section(&self) -> &'static str {
        sections::RESOURCES
    }
    fn target(&self) -> String {
        "memory".into()
    }
}

impl Memory {
    async fn check(&self, _ctx: &Ctx) -> Result<Measurement, Failure> {
        let mi = meminfo()?;
        let (total, used, scope) = match cgroup_limit() {
            Some((max, used)) if max < mi.total => (max, used, "cgroup limit"),
            _ => (mi.total, mi.total - mi.available, "host"),
        };
        let pct = used / total * 100.0;
        let th = self
            .used
            .clone()
            .unwrap_or_else(|| Threshold::new(Unit::Percent, Some(80.0), Some(90.0)));
        let shown = trim_float(pct, 1);
        let mut m = Measurement::new(format!("{shown}%"))
            .metric(
                Metric::new("used", pct, Unit::Percent, Direction::HigherIsWorse)
                    .held_to(th)
                    .says(format!("memory {shown}% used")),
            )
            .metric(Metric::new(
                "used_bytes",
                used,
                Unit::Bytes,
                Direction::HigherIsWorse,
            ))
            .detail(
                Reason::new(&D_USED)
                    .with_quantity("used", used, Unit::Bytes)
                    .with_quantity("total", total, Unit::Bytes)
                    .with("scope", scope),
            );
        if mi.swap_total > 0.0 {
            let swap_pct = (mi.swap_total - mi.swap_free) / mi.swap_total * 100.0;
            m = m.metric(
                Metric::new("swap", swap_pct, Unit::Percent, Direction::HigherIsWorse)
                    .held(&self.swap)
                    .says(format!("swap {}% used", trim_float(swap_pct, 1))),
            );
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sysinfo reads the same /proc/meminfo `free` does.
    #[test]
    fn meminfo_matches_proc() {
        let m = meminfo().unwrap();
        let text = std::fs::read_to_string("/proc/meminfo").unwrap();
        let kb = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
                .unwrap()
                * 1024.0
        };
        assert_eq!(m.total, kb("MemTotal:"));
        assert_eq!(m.swap_total, kb("SwapTotal:"));
        // MemAvailable moves between the two reads; within 5% of total.
        assert!((m.available - kb("MemAvailable:")).abs() < m.total * 0.05);
    }
}
