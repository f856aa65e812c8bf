//! Access-log lines are written by whoever sends requests (the request
//! line, the user agent): the hand-written parser of each built-in format
//! and a regex format must give an answer with one-line messages.
#![no_main]

use libfuzzer_sys::fuzz_target;

const FORMATS: [&str; 5] = [
    "combined_d",
    "combined",
    "common",
    "nginx_rt",
    r#"^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "[^"]*" (?P<status>\d{3}) \S+ (?P<ms>\d+)$"#,
];
const WINDOWS: [&str; 3] = ["all", "today", "24h"];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let format = FORMATS[(first % 5) as usize];
    let window = WINDOWS[(first / 5 % 3) as usize];
    let o = opsrun::fuzz_api::access_log(format, window, rest).expect("valid settings");
    assert!(!o.message.contains('\n'), "{:?}", o.message);
    for d in &o.detail {
        assert!(d.len() < 4096, "detail of {} bytes", d.len());
    }
});
