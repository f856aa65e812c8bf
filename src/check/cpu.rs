//! `cpu`: how busy the processors are.
//!
//! By default the check judges a minute, not an instant (SPEC §10.4): a
//! one-second sample at 09:00 catches whatever compile or cron job runs
//! then and mails a failure for a spike. So without `sample:`, `used` is
//! the 1-minute load average per core as a percentage, capped at 100% —
//! the share of the cores that had work over the last minute (the kernel
//! counts tasks waiting for the CPU, and those in uninterruptible disk
//! wait, as `uptime` shows). With `sample: 1s`, `used` is the utilisation
//! between two reads of /proc/stat that far apart, as `top`'s first
//! refresh shows it. `load:` holds the per-core load average either way.

use serde::Deserialize;

use super::memory::UNREADABLE;
use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::values::Dur;
use crate::values::reason::{Code, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, trim_float};

/// The reason catalog entries of `cpu` (docs/reasons.md).
pub(crate) static CODES: &[&Code] = &[&STAT, &LOADAVG, &D_LOAD];

// Detail lines (`-v`).
static D_LOAD: Code = Code::detail(
    "cpu.detail.load",
    "load1 {load1} on {cores} cores = {per_core} per core[; sampled {sampled}ms]",
);

static STAT: Code = Code::new("cpu.stat", "/proc/stat has no aggregate cpu line");
static LOADAVG: Code = Code::new("cpu.loadavg", "/proc/loadavg has no 1-minute load average");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cpu {
    #[serde(default, deserialize_with = "crate::values::threshold::hi::percent")]
    used: Option<Threshold>,
    /// Measure utilisation over this sample instead of judging the
    /// 1-minute load (module doc).
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    sample: Option<Dur>,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::number")]
    load: Option<Threshold>,
}

/// The processors through sysinfo (the crate the user named), which reads
/// what the hand-written parser read: the per-cpu lines of `/proc/stat`
/// for the core count and, for `sample:`, the aggregate line twice —
/// busy over total, idle and iowait counted idle, guest time inside user
/// time (as `top` does) — and `/proc/loadavg` for the load.
struct Procs {
    sys: sysinfo::System,
}

impl Procs {
    fn read() -> Result<Procs, Failure> {
        let mut sys = sysinfo::System::new().map_err(|e| unreadable("/proc/stat", e))?;
        sys.refresh_cpu_usage();
        if sys.cpus().is_empty() {
            return Err(Failure::unknown(Reason::new(&STAT)));
        }
        Ok(Procs { sys })
    }

    fn cores(&self) -> usize {
        self.sys.cpus().len().max(1)
    }

    /// Utilisation since the previous read, in percent.
    fn used_since(&mut self) -> f64 {
        self.sys.refresh_cpu_usage();
        f64::from(self.sys.global_cpu_usage()).clamp(0.0, 100.0)
    }
}

fn unreadable(path: &str, e: impl std::fmt::Display) -> Failure {
    Failure::unknown(
        Reason::new(&UNREADABLE)
            .with("path", path)
            .with("error", e.to_string()),
    )
}

impl Kind for Cpu {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }
    fn section(&self) -> &'static str {
        sections::RESOURCES
    }
    fn target(&self) -> String {
        "cpu".into()
    }
}

impl Cpu {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let mut procs = Procs::read()?;
        let n = procs.cores();
        let load1 = sysinfo::System::load_average()
            .ok()
            .map(|l| l.one)
            .filter(|l| l.is_finite());
        let (pct, sampled) = match self.sample {
            Some(sample) => {
                let sample = sample.0.min(ctx.deadline.remaining());
                tokio::time::sleep(sample).await;
                (procs.used_since(), Some(sample))
            }
            None => {
                let Some(l1) = load1 else {
                    return Err(Failure::unknown(Reason::new(&LOADAVG)));
                };
                (minute_used(l1, n), None)
            }
        };
        let th = self
            .used
            .clone()
            .unwrap_or_else(|| Threshold::new(Unit::Percent, Some(80.0), Some(90.0)));
        let shown = trim_float(pct, 1);
        let says = match sampled {
            Some(_) => format!("cpu {shown}% used"),
            None => format!("cpu {shown}% used (1m load)"),
        };
        let mut m = Measurement::new(format!("{shown}%")).metric(
            Metric::new("used", pct, Unit::Percent, Direction::HigherIsWorse)
                .held_to(th)
                .says(says),
        );
        if let Some(l1) = load1 {
            let per_core = l1 / n as f64;
            m = m
                .metric(
                    Metric::new("load", per_core, Unit::Number, Direction::HigherIsWorse)
                        .held(&self.load)
                        .says(format!("load {} per core", trim_float(per_core, 2))),
                )
                .detail(
                    Reason::new(&D_LOAD)
                        .with("load1", l1.to_string())
                        .with("cores", n)
                        .with("per_core", trim_float(per_core, 2))
                        .with_opt("sampled", sampled.map(|s| s.as_millis() as u64)),
                );
        }
        Ok(m)
    }
}

/// The 1-minute view of `used`: load per core as a percentage, capped at
/// 100% (more runnable tasks than cores is a full CPU, not 150% of one).
fn minute_used(load1: f64, cores: usize) -> f64 {
    (load1 / cores.max(1) as f64 * 100.0).clamp(0.0, 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minute_view_is_load_per_core_capped() {
        assert_eq!(minute_used(1.0, 2), 50.0);
        assert_eq!(minute_used(3.0, 2), 100.0);
        assert_eq!(minute_used(0.0, 4), 0.0);
    }

    /// sysinfo counts the cores /proc/stat lists.
    #[test]
    fn cores_are_the_cpu_lines_of_proc_stat() {
        let stat = std::fs::read_to_string("/proc/stat").unwrap();
        let lines = stat
            .lines()
            .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
            .count();
        assert_eq!(Procs::read().unwrap().cores(), lines);
    }
}
