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

/// (busy, total) jiffies from the aggregate `cpu` line of /proc/stat.
pub(crate) fn parse_stat(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 4 {
        return None;
    }
    // user nice system idle iowait irq softirq steal (guest is inside user)
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    let total: u64 = v.iter().take(8).sum();
    Some((total - idle, total))
}

fn cores(stat: &str) -> usize {
    stat.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count()
        .max(1)
}

async fn read(path: &str) -> Result<String, Failure> {
    tokio::fs::read_to_string(path).await.map_err(|e| {
        Failure::unknown(
            Reason::new(&UNREADABLE)
                .with("path", path)
                .with("error", crate::values::io_reason(&e)),
        )
    })
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
        let stat = read("/proc/stat").await?;
        let n = cores(&stat);
        let load1 = read("/proc/loadavg")
            .await
            .ok()
            .and_then(|la| la.split_whitespace().next()?.parse::<f64>().ok());
        let (pct, sampled) = match self.sample {
            Some(sample) => {
                // The sample fits in what is left of the deadline.
                let sample = sample.0.min(ctx.deadline.remaining());
                tokio::time::sleep(sample).await;
                let second = read("/proc/stat").await?;
                let (Some((b1, t1)), Some((b2, t2))) = (parse_stat(&stat), parse_stat(&second))
                else {
                    return Err(Failure::unknown(Reason::new(&STAT)));
                };
                let dt = t2.saturating_sub(t1);
                let pct = if dt == 0 {
                    0.0
                } else {
                    b2.saturating_sub(b1) as f64 / dt as f64 * 100.0
                };
                (pct, Some(sample))
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
    fn stat() {
        let s = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\ncpu1 1 2 3 4\n";
        assert_eq!(parse_stat(s), Some((150, 1000)));
        assert_eq!(cores(s), 2);
        assert_eq!(parse_stat("nothing"), None);
    }

    #[test]
    fn the_minute_view_is_load_per_core_capped() {
        assert_eq!(minute_used(1.0, 2), 50.0);
        assert_eq!(minute_used(3.0, 2), 100.0);
        assert_eq!(minute_used(0.0, 4), 0.0);
    }
}
