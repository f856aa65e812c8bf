//! `systemctl show` output is a tool's text: whatever it prints, the
//! `systemd` check gives one status with a one-line reason.
#![no_main]

use libfuzzer_sys::fuzz_target;

const STATES: [&str; 4] = ["active", "inactive", "failed", "activating"];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let want = STATES[(first & 3) as usize];
    let enabled = match first >> 2 & 3 {
        0 => None,
        1 => Some(true),
        _ => Some(false),
    };
    let o = opsrun::fuzz_api::systemctl_show(&text, "estimator.service", want, enabled);
    assert!(!o.message.contains('\n'), "{:?}", o.message);
    assert!(!o.value.contains('\n'), "{:?}", o.value);
});
