//! Entry points for the fuzz targets in `fuzz/` and the property tests:
//! every parser that reads text opsrun does not control (runbooks, the
//! units and thresholds written in them, `systemctl show` output,
//! `journalctl -o json` output, access-log lines, certificate files, text
//! passed through secret redaction). Hidden from
//! the docs; not a stable API.

use std::collections::BTreeMap;
use std::path::Path;

pub use crate::values::threshold::{Limit, Op, parse_limit};
pub use crate::values::units::{MAX_DURATION_SECS, Unit, parse_duration, parse_size};

use crate::values::outcome::Outcome;

/// Loads `text` as the runbook `path` (includes resolve next to it) and
/// returns how many checks it has, or the error as printed.
pub fn load_runbook(path: &Path, text: &str) -> Result<usize, String> {
    crate::runbook::load_str(path, text, &BTreeMap::new())
        .map(|rb| rb.checks.len())
        .map_err(|e| e.to_string())
}

/// The outcome a `systemd` check reports for `systemctl show` output
/// `text`, at a fixed clock.
pub fn systemctl_show(text: &str, unit: &str, want: &str, enabled: Option<bool>) -> Outcome {
    let now = chrono::DateTime::parse_from_rfc3339("2025-10-21T09:00:00+09:00")
        .expect("a valid fixed time");
    crate::judge::judge(crate::check::outcome_from_show(
        text, unit, want, enabled, &now,
    ))
}

/// The certificates found in a `cert_file`/`ca_file`, each parsed:
/// how many parsed, or the first error.
pub fn cert_file(data: &[u8]) -> Result<usize, String> {
    let certs = crate::check::read_certs(data)?;
    for c in &certs {
        crate::check::x509::CertInfo::parse(c)?;
    }
    Ok(certs.len())
}

fn fixed_now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339("2025-10-21T09:00:00+09:00").expect("a valid fixed time")
}

/// The outcome an `access_log` check reports for log text `data` in
/// `format` (`combined_d`, `combined`, `common`, `nginx_rt` or a regex),
/// over `window` (`all`, `today`, `24h`), at a fixed clock.
pub fn access_log(format: &str, window: &str, data: &[u8]) -> Result<Outcome, String> {
    crate::output::words::install();
    crate::check::access_log_attempt(format, window, data, fixed_now()).map(crate::judge::judge)
}

/// The outcome a `journal` check reports for `journalctl -o json` output.
pub fn journal_json(data: &[u8]) -> Outcome {
    crate::check::Journal::outcome_from_json(data, fixed_now())
}

/// Secret and URL-credential redaction of any text.
pub fn redact(text: &str) -> String {
    crate::secret::redact(text)
}
