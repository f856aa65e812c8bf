//! Durations, sizes, percentages and threshold limits as written in a
//! runbook: parse, and whatever parses prints back to something that
//! parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opsrun::fuzz_api::{MAX_DURATION_SECS, Unit, parse_duration, parse_limit, parse_size};

const UNITS: [Unit; 6] = [
    Unit::Percent,
    Unit::Millis,
    Unit::Bytes,
    Unit::Count,
    Unit::Days,
    Unit::Number,
];

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = parse_duration(s) {
        assert!(d.as_secs_f64() <= MAX_DURATION_SECS, "{s:?} → {d:?}");
    }
    let _ = parse_size(s);
    for unit in UNITS {
        if let Ok(v) = unit.parse(s) {
            assert!(v.is_finite(), "{s:?} as {unit:?} → {v}");
            if unit == Unit::Percent {
                assert!((0.0..=100.0).contains(&v), "{s:?} → {v}");
            }
            let shown = unit.format(v);
            assert!(
                unit.parse(&shown).is_ok(),
                "{s:?} as {unit:?} → {v} → {shown:?} does not parse back"
            );
        }
        if let Ok(l) = parse_limit(s, unit) {
            assert!(l.value.is_finite());
        }
    }
});
