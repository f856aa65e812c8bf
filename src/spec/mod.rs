//! Runbook spec types that do not involve a check kind: the `report:`
//! and `notify:` blocks, the settings common to every check, and the load
//! error that points at the line of a runbook or configuration file.
//!
//! This layer sits between `values` (below) and the check kinds (above);
//! the runbook loader (`runbook/`), which dispatches each check's kind key
//! to the kind registry, sits above the kinds.

pub mod common;
pub mod error;
pub mod maintenance;
pub mod notify;
pub mod report;

pub use common::{Defaults, Retry, Severity};
pub use error::LoadError;
pub use report::{
    Amount, CheckRef, ChecklistItem, ForecastSpec, LineSpec, ReportSpec, SectionSpec, Tz,
    UptimeSpec,
};
