//! `journalctl -o json` output: a JSON object per line whose fields may be
//! strings, byte arrays, numbers or arrays of those — any of it hostile.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let o = opsrun::fuzz_api::journal_json(data);
    assert!(!o.message.contains('\n'), "{:?}", o.message);
});
