//! `file`: a file exists (or must not), is fresh enough, and is not too
//! big (seed 000: a log file over 100MB → rotate by hand).

use std::time::SystemTime;

use serde::Deserialize;

use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::values::Dur;
use crate::values::outcome::Status;
use crate::values::reason::{Code, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, format_bytes};

/// The reason catalog entries of `file` (docs/reasons.md).
/// Display values (`Code::value`).
static V_ABSENT: Code = Code::value("value.file.absent", "absent");
static V_PRESENT: Code = Code::value("value.file.present", "present");
static V_FILE: Code = Code::value("value.file.file", "{size}, {age} ago");
static V_DIR: Code = Code::value("value.file.dir", "directory, {size}, {age} ago");

pub(crate) static CODES: &[&Code] = &[
    &V_ABSENT, &V_PRESENT, &V_FILE, &V_DIR, &MISSING, &PRESENT, &STAT, &STALE,
];

static MISSING: Code = Code::new("file.missing", "{path} does not exist, expected it to");
static PRESENT: Code = Code::new("file.present", "{path} exists, expected it not to");
static STAT: Code = Code::new("file.stat", "cannot stat {path}: {error}");
static STALE: Code = Code::new(
    "file.stale",
    "modified {age} ago, expected within {max_age}",
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    path: String,
    #[serde(default = "yes")]
    exists: bool,
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    max_age: Option<Dur>,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::bytes")]
    size: Option<Threshold>,
}

fn yes() -> bool {
    true
}

impl Kind for File {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }
    fn section(&self) -> &'static str {
        sections::DATA
    }
    fn target(&self) -> String {
        self.path.clone()
    }
}

impl File {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let path = ctx.path(&self.path);
        let reason = |code| Reason::new(code).with("path", path.display().to_string());
        let meta = match tokio::fs::metadata(&path).await {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return if self.exists {
                    Err(
                        Failure::fail(reason(&MISSING)).shown(crate::values::reason::said(
                            &crate::values::reason::common::V_MISSING,
                        )),
                    )
                } else {
                    Ok(Measurement::new(crate::values::reason::said(&V_ABSENT)))
                };
            }
            Err(e) => {
                return Err(Failure::unknown(
                    reason(&STAT).with("error", crate::values::io_reason(&e)),
                ));
            }
        };
        if !self.exists {
            return Err(
                Failure::fail(reason(&PRESENT)).shown(crate::values::reason::said(&V_PRESENT))
            );
        }
        let size = meta.len() as f64;
        let age_ms = meta
            .modified()
            .ok()
            .and_then(|m| SystemTime::from(ctx.now).duration_since(m).ok())
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        let shown = Reason::new(if meta.is_dir() { &V_DIR } else { &V_FILE })
            .with_quantity("size", size, Unit::Bytes)
            .with_quantity("age", age_ms, Unit::Millis);
        let mut m = Measurement::new(crate::values::reason::say(&shown))
            .metric(
                Metric::new("size", size, Unit::Bytes, Direction::HigherIsWorse)
                    .held(&self.size)
                    .says(format!("size {}", format_bytes(size))),
            )
            .metric(Metric::new(
                "age",
                age_ms,
                Unit::Millis,
                Direction::HigherIsWorse,
            ));
        if let Some(max) = self.max_age {
            let max_ms = max.0.as_secs_f64() * 1000.0;
            if age_ms > max_ms {
                m.observe(
                    Status::Fail,
                    reason(&STALE)
                        .with_quantity("age", age_ms, Unit::Millis)
                        .with_quantity("max_age", max_ms, Unit::Millis),
                );
            }
        }
        Ok(m)
    }
}
