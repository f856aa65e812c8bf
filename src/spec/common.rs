//! Settings every check may carry (`retry:`, `severity:`) and the
//! `defaults:` block that gives them to every check of a file.

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

/// `defaults:` applied to every check of the file that does not set its own.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default, deserialize_with = "Dur::positive_opt")]
    pub timeout: Option<Dur>,
    pub retry: Option<Retry>,
    pub severity: Option<Severity>,
}
