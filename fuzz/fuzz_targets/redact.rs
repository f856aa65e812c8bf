//! Redaction runs over every message, detail and log line: it must never
//! panic, and redacting twice changes nothing more.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let once = opsrun::fuzz_api::redact(s);
    assert_eq!(opsrun::fuzz_api::redact(&once), once, "input {s:?}");
});
