//! The errors that stop a command before or instead of running checks:
//! data only (what went wrong and where), turned into words once, by
//! `Display`, when `main_entry` prints `error: …` and exits 3 — as `just`
//! does. A check that fails is not an error: it is a result.

use std::path::PathBuf;

use crate::history::HistoryError;
use crate::runbook::LoadError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A runbook or configuration file that does not load (file, line and
    /// column are fields of the [`LoadError`]).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// `--notify` settings that cannot be used.
    #[error(transparent)]
    Notify(#[from] crate::notify::PrepareError),
    /// A runbook NAME not found in the runbook directory.
    #[error("no runbook `{name}` in {}{hint}", dir.display())]
    NoRunbook {
        name: String,
        dir: PathBuf,
        /// `, did you mean …?` or what is available.
        hint: String,
    },
    /// `--only`/`--skip`/`--tag` naming nothing in the runbooks.
    #[error("{flag}: {what} `{name}`{}", hint.as_ref().map(|h| format!(", did you mean `{h}`?")).unwrap_or_default())]
    UnknownSelection {
        flag: &'static str,
        what: &'static str,
        name: String,
        hint: Option<String>,
    },
    /// A runbook that loads but cannot serve this command (an incident
    /// runbook without `incident:`, `backup prune` without `prune:`).
    #[error("{}: {what}", file.display())]
    Unusable { file: PathBuf, what: String },
    /// Arguments or settings that do not fit together.
    #[error("{0}")]
    Invalid(String),
    /// A file or directory that cannot be read or written.
    #[error("cannot {action} {}: {reason}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// `opsrun history --check ID`: nothing recorded for the check in the
    /// window; `seen` are the checks that were, `hint` the closest of them.
    #[error(
        "no results for check `{check}` in the last {since}{}",
        no_results_hint(hint, seen)
    )]
    NoResults {
        check: crate::runbook::CheckRef,
        since: String,
        hint: Option<String>,
        seen: Vec<String>,
    },
    /// `opsrun serve --listen`: an address that is not one, or a socket
    /// that cannot be bound (in use, not this host's, a privileged port).
    #[error("--listen {given}: {reason}")]
    Listen { given: String, reason: String },
    /// The history database cannot be read.
    #[error("cannot read history: {0}")]
    History(HistoryError),
    /// `opsrun fleet report`: Prometheus could not give the fleet.
    #[error(transparent)]
    Fleet(#[from] crate::fleet::FetchError),
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

fn no_results_hint(hint: &Option<String>, seen: &[String]) -> String {
    match hint {
        Some(h) => format!(", did you mean `{h}`?"),
        None if seen.is_empty() => String::new(),
        None => format!(" (checks recorded: {})", seen.join(", ")),
    }
}

/// Commands return the exit code, or the error that stopped them.
pub(crate) type Result<T> = std::result::Result<T, Error>;
