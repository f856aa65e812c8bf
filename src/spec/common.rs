//! Settings every check may carry (`retry:`, `severity:`,
//! `consecutive:`) and the `defaults:` block that gives them to every
//! check of a file.

use std::time::Duration;

use serde::Deserialize;

use crate::values::Dur;

/// `retry: {attempts: 5, interval: 10s}`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, try_from = "RawRetry")]
pub struct Retry {
    pub attempts: u32,
    pub interval: Dur,
}

/// Retries multiply a check's run time: past these a run would not end
/// in any useful time (SPEC §9: runs are bounded), so they are refused.
const MAX_ATTEMPTS: u32 = 100;
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    attempts: u32,
    #[serde(default = "default_interval", deserialize_with = "Dur::positive")]
    interval: Dur,
}

impl TryFrom<RawRetry> for Retry {
    type Error = String;
    fn try_from(r: RawRetry) -> Result<Retry, String> {
        if r.attempts > MAX_ATTEMPTS {
            return Err(format!(
                "retry.attempts {} is over the limit of {MAX_ATTEMPTS}",
                r.attempts
            ));
        }
        if r.interval.0 > MAX_INTERVAL {
            return Err(format!(
                "retry.interval {} is over the limit of 1h",
                crate::values::units::format_millis(r.interval.0.as_secs_f64() * 1000.0)
            ));
        }
        Ok(Retry {
            attempts: r.attempts,
            interval: r.interval,
        })
    }
}

fn default_interval() -> Dur {
    Dur(Duration::from_secs(5))
}

/// `severity: warn` caps a failure of the check at warn.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warn,
    Fail,
}

/// `consecutive: N` (SPEC §10.4): a non-pass result counts only when the
/// last N results of the check (history, this one included) are all
/// non-pass; before that the check passes, marked pending (`1/3`).
/// 1 (the default) is every result counting at once.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(try_from = "u32")]
pub struct Consecutive(pub u32);

/// A streak longer than this is no longer an alarm (a check run every
/// minute would stay quiet for hours): refused, like long retries.
const MAX_CONSECUTIVE: u32 = 100;

impl TryFrom<u32> for Consecutive {
    type Error = String;
    fn try_from(n: u32) -> Result<Consecutive, String> {
        match n {
            0 => Err("consecutive: 0 would never report anything; 1 reports every result".into()),
            n if n > MAX_CONSECUTIVE => Err(format!(
                "consecutive: {n} is over the limit of {MAX_CONSECUTIVE}"
            )),
            n => Ok(Consecutive(n)),
        }
    }
}

/// `defaults:` applied to every check of the file that does not set its own.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    pub timeout: Option<Dur>,
    pub retry: Option<Retry>,
    pub severity: Option<Severity>,
    pub consecutive: Option<Consecutive>,
}
