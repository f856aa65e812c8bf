//! `disk`: usage of the filesystem holding `path` (statvfs), as `df` shows
//! it — used % counts only space available to unprivileged users, like df.

use serde::Deserialize;

use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::values::reason::{Code, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, format_bytes, trim_float};

/// The reason catalog entries of `disk` (docs/reasons.md).
pub(crate) static CODES: &[&Code] = &[&STATVFS, &D_FREE];

// Detail lines (`-v`).
static D_FREE: Code = Code::detail("disk.detail.free", "{path}: {free} free of {total}");

static STATVFS: Code = Code::new("disk.statvfs", "statvfs {path}: {error}");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    #[serde(default = "root")]
    path: String,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::percent")]
    used: Option<Threshold>,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::percent")]
    inodes: Option<Threshold>,
    #[serde(default, deserialize_with = "crate::values::threshold::lo::bytes")]
    free: Option<Threshold>,
}

fn root() -> String {
    "/".into()
}

/// What statvfs says, in bytes and inode counts.
#[derive(Debug, Clone, Copy)]
struct Usage {
    used_pct: f64,
    free_bytes: f64,
    total_bytes: f64,
    inode_pct: Option<f64>,
}

fn statvfs(path: &std::path::Path) -> Result<Usage, std::io::Error> {
    let s = rustix::fs::statvfs(path)?;
    let frsize = if s.f_frsize > 0 {
        s.f_frsize
    } else {
        s.f_bsize
    } as f64;
    let used = (s.f_blocks.saturating_sub(s.f_bfree)) as f64;
    let avail = s.f_bavail as f64;
    // df: used / (used + available), rounded up.
    let denom = used + avail;
    let used_pct = if denom > 0.0 {
        used / denom * 100.0
    } else {
        0.0
    };
    let inode_pct = (s.f_files > 0)
        .then(|| (s.f_files.saturating_sub(s.f_ffree)) as f64 / s.f_files as f64 * 100.0);
    Ok(Usage {
        used_pct,
        free_bytes: avail * frsize,
        total_bytes: s.f_blocks as f64 * frsize,
        inode_pct,
    })
}

impl Kind for Disk {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }
    fn section(&self) -> &'static str {
        sections::RESOURCES
    }
    fn target(&self) -> String {
        format!("filesystem of {}", self.path)
    }
}

impl Disk {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let path = ctx.path(&self.path);
        let cannot = |error: String| {
            Failure::unknown(
                Reason::new(&STATVFS)
                    .with("path", path.display().to_string())
                    .with("error", error),
            )
        };
        // statvfs can hang on a dead network filesystem: off the runtime,
        // and the deadline bounds the wait.
        let p = path.clone();
        let usage = match tokio::task::spawn_blocking(move || statvfs(&p)).await {
            Ok(Ok(u)) => u,
            Ok(Err(e)) => return Err(cannot(crate::values::io_reason(&e))),
            Err(e) => return Err(cannot(e.to_string())),
        };
        let used_th = self
            .used
            .clone()
            .unwrap_or_else(|| Threshold::new(Unit::Percent, Some(80.0), Some(90.0)));
        let shown = trim_float(usage.used_pct, 1);
        let mut m = Measurement::new(format!("{shown}%"))
            .metric(
                Metric::new(
                    "used",
                    usage.used_pct,
                    Unit::Percent,
                    Direction::HigherIsWorse,
                )
                .held_to(used_th)
                .says(format!("disk {} {shown}% used", self.path)),
            )
            .metric(
                Metric::new(
                    "free",
                    usage.free_bytes,
                    Unit::Bytes,
                    Direction::LowerIsWorse,
                )
                .held(&self.free)
                .says(format!(
                    "disk {} {} free",
                    self.path,
                    format_bytes(usage.free_bytes)
                )),
            )
            .detail(
                Reason::new(&D_FREE)
                    .with("path", &self.path)
                    .with_quantity("free", usage.free_bytes, Unit::Bytes)
                    .with_quantity("total", usage.total_bytes, Unit::Bytes),
            );
        if let Some(ip) = usage.inode_pct {
            m = m.metric(
                Metric::new("inodes", ip, Unit::Percent, Direction::HigherIsWorse)
                    .held(&self.inodes)
                    .says(format!("inodes {} {}% used", self.path, trim_float(ip, 1))),
            );
        }
        Ok(m)
    }
}
