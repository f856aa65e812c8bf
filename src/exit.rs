//! The exit-code table of SPEC §2, in one place.

use crate::values::outcome::Status;

/// Every check passed (or was skipped).
pub const OK: i32 = 0;
/// At least one warn, no fail.
pub const WARN: i32 = 1;
/// At least one fail.
pub const FAIL: i32 = 2;
/// Some check could not be carried out, or the runbook/arguments are invalid.
pub const UNKNOWN: i32 = 3;
/// Interrupted by SIGINT (128 + 2), as shells report it.
pub const SIGINT: i32 = 130;
/// Interrupted by SIGTERM (128 + 15).
pub const SIGTERM: i32 = 143;

/// Exit code for the worst status of a run: fail > warn > unknown > pass/skip.
pub fn for_status(worst: Status) -> i32 {
    match worst {
        Status::Pass | Status::Maint | Status::Skip => OK,
        Status::Warn => WARN,
        Status::Fail => FAIL,
        Status::Unknown => UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(for_status(Status::Pass), 0);
        assert_eq!(for_status(Status::Skip), 0);
        assert_eq!(for_status(Status::Warn), 1);
        assert_eq!(for_status(Status::Fail), 2);
        assert_eq!(for_status(Status::Unknown), 3);
    }
}
