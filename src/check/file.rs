//! `file`: a file exists (or must not), is fresh enough, and is not too
//! big (seed 000: a log file over 100MB → rotate by hand).

use std::time::SystemTime;

use serde::Deserialize;

use super::{CheckFuture, Ctx, Kind, sections};
use crate::values::Dur;
use crate::values::outcome::{Outcome, Status};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, format_bytes, format_millis};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    path: String,
    #[serde(default = "yes")]
    exists: bool,
    max_age: Option<Dur>,
    #[serde(default, deserialize_with = "crate::values::threshold::bytes")]
    size: Option<Threshold>,
}

fn yes() -> bool {
    true
}

impl Kind for File {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(self.check(ctx))
    }
    fn section(&self) -> &'static str {
        sections::DATA
    }
    fn target(&self) -> String {
        self.path.clone()
    }
}

impl File {
    async fn check(&self, ctx: &Ctx) -> Outcome {
        let path = ctx.path(&self.path);
        let meta = match tokio::fs::metadata(&path).await {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return if self.exists {
                    Outcome::fail(format!("{} does not exist, expected it to", path.display()))
                        .with_value("missing")
                } else {
                    Outcome::pass("absent")
                };
            }
            Err(e) => {
                return Outcome::unknown(format!(
                    "cannot stat {}: {}",
                    path.display(),
                    crate::values::io_reason(&e)
                ));
            }
        };
        if !self.exists {
            return Outcome::fail(format!("{} exists, expected it not to", path.display()))
                .with_value("present");
        }
        let size = meta.len() as f64;
        let age_ms = meta
            .modified()
            .ok()
            .and_then(|m| SystemTime::from(ctx.now).duration_since(m).ok())
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        let kind = if meta.is_dir() { "directory, " } else { "" };
        let mut out = Outcome::pass(format!(
            "{kind}{}, {} ago",
            format_bytes(size),
            format_millis(age_ms)
        ))
        .with_metric("size", size, Unit::Bytes)
        .with_extra_metric("age", age_ms, Unit::Millis);
        if let Some(max) = self.max_age {
            let max_ms = max.0.as_secs_f64() * 1000.0;
            if age_ms > max_ms {
                out.worsen(
                    Status::Fail,
                    format!(
                        "modified {} ago, expected within {}",
                        format_millis(age_ms),
                        format_millis(max_ms)
                    ),
                );
            }
        }
        if let Some(th) = &self.size {
            let v = th.eval(size, Direction::HigherIsWorse);
            out.worsen(
                v.status,
                format!("size {} {}", format_bytes(size), v.breach),
            );
            out.threshold = Some(th.clone());
        }
        out
    }
}
