//! The runbook loader on arbitrary text: an error or a runbook, never a
//! panic, a hang or unbounded memory; an error stays a few lines long.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A directory that does not exist: relative includes fail at once.
    let path = Path::new("/nonexistent-opsrun-fuzz/fuzz.yaml");
    if let Err(e) = opsrun::fuzz_api::load_runbook(path, text) {
        assert!(e.len() < 8 * 1024, "error message of {} bytes", e.len());
        assert!(
            e.lines().count() <= 5,
            "error of {} lines",
            e.lines().count()
        );
    }
});
