//! Test harness for kinds: parse a kind from YAML as a runbook would, run
//! one attempt against a fake context (a fixed clock, a base directory,
//! a deadline, no history), and look at what it measured — no engine, no
//! binary. Integration tests (tests/it) still run the real binary; this is
//! for a kind's own rules, next to its code.

use std::path::PathBuf;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{Attempt, Ctx, Failure, Kind, Measurement};

/// The fixed clock of kind tests (the golden tests' `--now`).
pub(crate) fn now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339("2025-10-21T09:00:00+09:00").unwrap()
}

/// A context with `timeout`, relative paths resolved against `base_dir`.
pub(crate) fn ctx_in(base_dir: impl Into<PathBuf>, timeout: Duration) -> Ctx {
    Ctx::new(now(), timeout, base_dir.into())
}

/// Parses kind `K` from its YAML mapping and applies its load rules
/// (`validate`), returning the error text a runbook load would show.
pub(crate) fn kind<K: Kind + DeserializeOwned>(yaml: &str) -> Result<K, String> {
    let k: K = serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
    k.validate()?;
    Ok(k)
}

/// One attempt of a converted kind with `timeout`, in the current directory.
pub(crate) async fn run(k: &dyn Kind, timeout: Duration) -> Result<Measurement, Failure> {
    run_in(k, &ctx_in(".", timeout)).await
}

/// One attempt of a converted kind in `ctx`.
pub(crate) async fn run_in(k: &dyn Kind, ctx: &Ctx) -> Result<Measurement, Failure> {
    match k.run(ctx).await {
        Attempt::Measured(m) => Ok(m),
        Attempt::Failed(f) => Err(f),
    }
}

/// The status the judge gives a measurement, thresholds and observations
/// alike (for a kind's own tests, without the engine).
pub(crate) fn status(m: &Measurement) -> crate::values::outcome::Status {
    let observed = m.observations.iter().map(|o| o.status);
    let breached = m
        .metrics
        .iter()
        .filter(|x| x.judged)
        .filter_map(|x| Some(x.threshold.as_ref()?.breach(x.value, x.direction)?.0));
    crate::values::outcome::worst(observed.chain(breached))
}

/// The first detail line said with the catalog entry `key`, to assert on
/// its parameters (kind tests do not read words).
pub(crate) fn said<'a>(
    details: &'a [crate::values::reason::Detail],
    key: &str,
) -> Option<&'a crate::values::reason::Reason> {
    details.iter().find_map(|d| match d {
        crate::values::reason::Detail::Said(r) if r.code.key == key => Some(r),
        _ => None,
    })
}
