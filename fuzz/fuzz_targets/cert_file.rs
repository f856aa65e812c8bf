//! A `cert_file` (or `ca_file`) may hold anything: PEM blocks, DER, junk.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = opsrun::fuzz_api::cert_file(data);
});
