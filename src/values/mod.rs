//! The bottom layer: values every other layer speaks in — units and their
//! parsers, durations and sizes, thresholds, statuses, metrics and outcomes,
//! time zones and report periods, I/O error wording.
//!
//! Nothing here imports from any other layer of the crate (the layering
//! test in `tests/it/layers.rs` enforces it); everything above may use it.

pub mod io;
pub mod located;
pub mod outcome;
pub mod reason;
pub mod scalar;
pub mod stat;
pub mod text;
pub mod threshold;
pub mod time;
pub mod units;

pub use io::io_reason;
pub use located::at;
pub use outcome::{Metric, Outcome, Status, worst};
pub use scalar::{Dur, Positive, Size, Text};
pub use stat::Stat;
pub use time::{PeriodKind, Zone, jst, parse_timezone};
pub use units::Unit;
