//! Property tests for every parser of untrusted text — the same entry
//! points the fuzz targets in `fuzz/` drive (`opsrun::fuzz_api`), so a
//! plain `cargo test` exercises them with generated input too: runbooks,
//! durations/sizes/percentages/limits, `systemctl show` output, access-log
//! lines, `journalctl -o json` output, certificate files and redaction. Crashes the fuzzers found are kept as
//! regression tests at the end, named after what broke.

use std::path::Path;

use opsrun::fuzz_api::{
    MAX_DURATION_SECS, Op, Unit, access_log, cert_file, journal_json, load_runbook, parse_duration,
    parse_limit, parse_size, redact, systemctl_show,
};
use proptest::prelude::*;

const UNITS: [Unit; 6] = [
    Unit::Percent,
    Unit::Millis,
    Unit::Bytes,
    Unit::Count,
    Unit::Days,
    Unit::Number,
];

fn fake_path() -> &'static Path {
    Path::new("/nonexistent-opsrun-proptest/t.yaml")
}

/// Scalars a runbook author (or an attacker) might write.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_-]{0,12}",
        "[0-9]{1,6}(ms|s|m|h|d|w|MB|MiB|GB|%|)",
        "(>=|<=|>|<|≥|≤) ?[0-9]{1,4}(%|s|ms|d|MB|)",
        "\"[^\"\\\\\n]{0,30}\"",
        "'[^'\n]{0,30}'",
        Just("${base}".to_owned()),
        Just("${env:HOME}".to_owned()),
        Just("${nope}".to_owned()),
        Just("~".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("&a x".to_owned()),
        Just("*a".to_owned()),
        Just("!!binary aGk=".to_owned()),
        Just("http://u:p@127.0.0.1:1/?token=t".to_owned()),
        any::<String>().prop_map(|s| format!("{s:?}")),
    ]
}

const KEYS: &[&str] = &[
    "id",
    "title",
    "section",
    "label",
    "tags",
    "timeout",
    "retry",
    "severity",
    "hint",
    "http",
    "tcp",
    "disk",
    "memory",
    "cpu",
    "file",
    "command",
    "systemd",
    "process",
    "sqlite",
    "tls",
    "cert_file",
    "backup",
    "url",
    "path",
    "used",
    "warn",
    "fail",
    "run",
    "shell",
    "unit",
    "state",
    "status",
    "latency",
    "json",
    "value",
    "regex",
    "days",
    "include",
    "vars",
    "defaults",
    "report",
    "attempts",
    "interval",
    "max_body",
    "exists",
    "max_age",
    "size",
    "tiemout",
];

/// A mapping of 1–4 keys from the runbook vocabulary, nested up to 3 deep.
fn mapping() -> impl Strategy<Value = String> {
    let leaf = scalar();
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop::collection::vec((prop::sample::select(KEYS), inner), 1..4).prop_map(|kvs| {
            let body: Vec<String> = kvs.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("{{{}}}", body.join(", "))
        })
    })
}

/// Runbook-shaped documents: a version, maybe vars, 0–6 checks.
fn runbook_text() -> impl Strategy<Value = String> {
    (
        prop::option::of(prop_oneof![Just(1u32), 0u32..3]),
        prop::option::of(scalar()),
        prop::collection::vec(mapping(), 0..6),
    )
        .prop_map(|(version, base, checks)| {
            let mut s = String::new();
            if let Some(v) = version {
                s.push_str(&format!("version: {v}\n"));
            }
            if let Some(b) = base {
                s.push_str(&format!("vars:\n  base: {b}\n"));
            }
            s.push_str("checks:\n");
            for c in checks {
                s.push_str(&format!("  - {c}\n"));
            }
            s
        })
}

/// Each kind with the fields it reads: checks that get past the outer
/// schema and into each kind's own validation.
const KIND_FIELDS: &[(&str, &[&str])] = &[
    (
        "http",
        &[
            "url",
            "status",
            "latency",
            "max_body",
            "body_regex",
            "json",
            "method",
        ],
    ),
    ("tcp", &["address", "state", "latency"]),
    ("disk", &["path", "used", "free", "inodes"]),
    ("memory", &["used", "swap"]),
    ("cpu", &["used", "load", "sample"]),
    ("diskio", &["device", "sample", "util", "await"]),
    ("file", &["path", "exists", "max_age", "size"]),
    (
        "command",
        &["run", "shell", "exit", "value", "stdout_regex", "env"],
    ),
    ("systemd", &["unit", "state", "enabled"]),
    ("process", &["name", "cmdline", "user", "count"]),
    ("sqlite", &["path", "check", "query", "value"]),
    ("tls", &["host", "port", "days", "verify"]),
    ("cert_file", &["path", "days"]),
    (
        "backup",
        &["dir", "pattern", "max_age", "min_size", "shrink"],
    ),
];

fn typed_check() -> impl Strategy<Value = String> {
    (
        "[a-z][a-z0-9-]{0,6}",
        prop::sample::select(KIND_FIELDS),
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                prop_oneof![scalar(), mapping()],
            ),
            0..4,
        ),
        prop::option::of(scalar()),
    )
        .prop_map(|(id, (kind, fields), values, timeout)| {
            let body: Vec<String> = values
                .iter()
                .map(|(i, v)| format!("{}: {v}", fields[i.index(fields.len())]))
                .collect();
            let timeout = timeout
                .map(|t| format!("timeout: {t}, "))
                .unwrap_or_default();
            format!("{{id: {id}, {timeout}{kind}: {{{}}}}}", body.join(", "))
        })
}

fn typed_runbook() -> impl Strategy<Value = String> {
    prop::collection::vec(typed_check(), 1..6).prop_map(|checks| {
        let body: String = checks.iter().map(|c| format!("  - {c}\n")).collect();
        format!("version: 1\nchecks:\n{body}")
    })
}

fn assert_short_error(r: Result<usize, String>) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        prop_assert!(e.len() < 8 * 1024, "error of {} bytes", e.len());
        prop_assert!(e.lines().count() <= 5, "error of many lines:\n{e}");
        prop_assert!(e.starts_with("/nonexistent-opsrun-proptest/t.yaml"), "{e}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn runbook_loader_never_panics_on_arbitrary_text(text in any::<String>()) {
        assert_short_error(load_runbook(fake_path(), &text))?;
    }

    #[test]
    fn runbook_loader_never_panics_on_runbook_shaped_text(text in runbook_text()) {
        assert_short_error(load_runbook(fake_path(), &text))?;
    }

    #[test]
    fn runbook_loader_never_panics_on_typed_checks(text in typed_runbook()) {
        assert_short_error(load_runbook(fake_path(), &text))?;
    }

    #[test]
    fn units_never_panic_and_what_parses_prints_back(s in any::<String>()) {
        if let Ok(d) = parse_duration(&s) {
            prop_assert!(d.as_secs_f64() <= MAX_DURATION_SECS);
        }
        let _ = parse_size(&s);
        for unit in UNITS {
            if let Ok(v) = unit.parse(&s) {
                prop_assert!(v.is_finite());
                prop_assert!(unit.parse(&unit.format(v)).is_ok(), "{s:?} {unit:?} {v}");
            }
            let _ = parse_limit(&s, unit);
        }
    }

    #[test]
    fn durations_add_up(parts in prop::collection::vec((0u32..10_000, 0usize..6), 1..4)) {
        const UNIT: [(&str, f64); 6] =
            [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86400.0), ("w", 604800.0)];
        let text: String = parts.iter().map(|(n, u)| format!("{n}{}", UNIT[*u].0)).collect();
        let want: f64 = parts.iter().map(|(n, u)| *n as f64 * UNIT[*u].1).sum();
        let got = parse_duration(&text).unwrap().as_secs_f64();
        prop_assert!((got - want).abs() < 1e-6 * want.max(1.0), "{text}: {got} vs {want}");
    }

    #[test]
    fn sizes_scale_by_their_unit(n in 0u32..100_000, u in 0usize..8) {
        const UNIT: [(&str, u64); 8] = [
            ("", 1), ("kB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000),
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
        ];
        prop_assert_eq!(parse_size(&format!("{n}{}", UNIT[u].0)).unwrap(), n as u64 * UNIT[u].1);
    }

    #[test]
    fn printed_durations_parse_back(ms in 0.0f64..=MAX_DURATION_SECS * 1000.0) {
        let shown = Unit::Millis.format(ms);
        prop_assert!(parse_duration(&shown).is_ok(), "{ms} → {shown}");
    }

    #[test]
    fn limits_keep_their_operator(op in 0usize..6, v in 0u32..100, space in any::<bool>()) {
        const OPS: [(&str, Op); 6] = [
            (">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt), ("≥", Op::Ge), ("≤", Op::Le),
        ];
        let text = format!("{}{}{v}%", OPS[op].0, if space { " " } else { "" });
        let l = parse_limit(&text, Unit::Percent).unwrap();
        prop_assert_eq!(l.op, Some(OPS[op].1));
        prop_assert_eq!(l.value, v as f64);
    }

    #[test]
    fn systemctl_show_output_gives_one_status_and_one_line(
        lines in prop::collection::vec(
            (
                prop::sample::select(&[
                    "Id", "LoadState", "LoadError", "ActiveState", "SubState", "UnitFileState",
                    "Result", "NRestarts", "MainPID", "ExecMainStatus", "StateChangeTimestamp",
                    "Description", "Other",
                ][..]),
                prop_oneof![
                    "[a-z-]{0,12}",
                    "[0-9]{0,25}",
                    "(Mon|Tue)? ?20[0-9]{2}-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] ?[A-Z]{0,4}",
                    any::<String>(),
                ],
            ),
            0..14,
        ),
        want in prop::sample::select(&["active", "inactive", "failed", "activating"][..]),
        enabled in prop::option::of(any::<bool>()),
    ) {
        let text: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let o = systemctl_show(&text, "estimator.service", want, enabled);
        prop_assert!(!o.message.contains('\n'), "{:?}", o.message);
        prop_assert!(!o.value.contains('\n'), "{:?}", o.value);
    }

    #[test]
    fn cert_files_of_any_bytes_are_an_answer(
        data in prop::collection::vec(any::<u8>(), 0..2048),
        armor in any::<bool>(),
    ) {
        let data = if armor {
            let mut v = b"-----BEGIN CERTIFICATE-----\n".to_vec();
            v.extend_from_slice(&data);
            v.extend_from_slice(b"\n-----END CERTIFICATE-----\n");
            v
        } else {
            data
        };
        let _ = cert_file(&data);
    }

    #[test]
    fn access_log_lines_of_any_bytes_give_one_line_answers(
        format in prop::sample::select(&["combined_d", "combined", "common", "nginx_rt"][..]),
        window in prop::sample::select(&["all", "today", "24h"][..]),
        data in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        let o = access_log(format, window, &data).unwrap();
        prop_assert!(!o.message.contains('\n'), "{:?}", o.message);
    }

    /// Well-formed lines (the request line may hold escaped quotes) are
    /// all counted, with their 5xx and 4xx exactly.
    #[test]
    fn access_log_counts_match_the_lines_written(
        lines in prop::collection::vec(
            (
                (1u8..255, 0u8..255),
                prop::sample::select(&[200u16, 201, 301, 304, 401, 404, 500, 502, 503][..]),
                prop_oneof![Just("GET /"), Just("POST /api/estimate?q=1"), Just(r#"GET /\"quoted\" x"#)],
                0u64..10_000_000,
            ),
            1..60,
        ),
    ) {
        let text: String = lines
            .iter()
            .map(|((a, b), status, req, us)| {
                format!("10.0.{a}.{b} - - [21/Oct/2025:08:59:59 +0900] \"{req} HTTP/1.1\" {status} 512 \"-\" \"ua\" {us}\n")
            })
            .collect();
        let o = access_log("combined_d", "all", text.as_bytes()).unwrap();
        let m = |n: &str| o.metrics.iter().find(|(k, _)| k == n).map(|(_, v)| v.value);
        prop_assert_eq!(m("requests"), Some(lines.len() as f64), "{:?}", o);
        let e5 = lines.iter().filter(|l| l.1 >= 500).count() as f64;
        let e4 = lines.iter().filter(|l| (400..500).contains(&l.1)).count() as f64;
        prop_assert_eq!(m("errors_5xx"), Some(e5));
        prop_assert_eq!(m("errors_4xx"), Some(e4));
    }

    #[test]
    fn journal_json_of_any_shape_gives_a_one_line_answer(
        entries in prop::collection::vec(
            (
                prop_oneof![
                    any::<String>().prop_map(serde_json::Value::String),
                    prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| serde_json::json!(b)),
                    any::<i64>().prop_map(|n| serde_json::json!(n)),
                    Just(serde_json::json!(["a", [1, 2], {"x": 1}])),
                    Just(serde_json::Value::Null),
                ],
                prop_oneof![Just("3"), Just("9"), Just("-1"), Just("err"), Just("")],
                prop_oneof![Just("1761004800000000"), Just("-5"), Just("99999999999999999999"), Just("x")],
            ),
            0..20,
        ),
        junk in any::<String>(),
    ) {
        let mut text = String::new();
        for (msg, prio, ts) in &entries {
            let v = serde_json::json!({"MESSAGE": msg, "PRIORITY": prio, "__REALTIME_TIMESTAMP": ts, "_SYSTEMD_UNIT": "x.service"});
            text.push_str(&v.to_string());
            text.push('\n');
        }
        text.push_str(&junk);
        let o = journal_json(text.as_bytes());
        prop_assert!(!o.message.contains('\n'), "{:?}", o.message);
    }

    #[test]
    fn redaction_is_idempotent(s in any::<String>()) {
        let once = redact(&s);
        prop_assert_eq!(redact(&once), once);
    }

    #[test]
    fn url_credentials_never_survive_redaction(
        scheme in prop::sample::select(&["http", "https", "postgres", "redis", "smtp"][..]),
        user in "[a-z]{1,8}",
        pass in "P[a-zA-Z0-9]{11}",
        token in "T[a-zA-Z0-9]{11}",
        param in prop::sample::select(&["token", "access_token", "api_key", "password", "key"][..]),
        before in "[ a-z]{0,10}",
        after in "[ a-z]{0,10}",
    ) {
        let text = format!("{before}{scheme}://{user}:{pass}@db.example:5432/x?{param}={token}&page=2{after}");
        let out = redact(&text);
        prop_assert!(!out.contains(&pass), "{out}");
        prop_assert!(!out.contains(&token), "{out}");
        prop_assert!(out.contains("page=2"), "{out}");
    }
}

/// Found by the `units` fuzzer: sizes over 1000 TB print as `PB`, which
/// the size parser did not accept, so a value opsrun printed could not be
/// written back into a runbook.
#[test]
fn regression_petabytes_printed_by_opsrun_parse_back() {
    for s in ["11111111111111111", "77777777777777777", "7777777777777777"] {
        let v = Unit::Bytes.parse(s).unwrap();
        let shown = Unit::Bytes.format(v);
        assert!(shown.ends_with("PB"), "{shown}");
        assert!(Unit::Bytes.parse(&shown).is_ok(), "{shown}");
    }
}

/// Found by the `runbook` fuzzer: a `${` in a quoted var value that
/// closed lines later made an error message of a dozen lines (the
/// "variable name" held newlines). Errors are one line plus the snippet.
#[test]
fn regression_reference_spanning_lines_gives_a_one_line_error() {
    let text = "version: 1\nvars: {base: \"h ${x\n y\n z} w\"}\nchecks: []\n";
    let e = load_runbook(fake_path(), text).unwrap_err();
    assert!(e.lines().count() <= 5, "{e}");
    assert!(
        e.lines().next().unwrap().contains("invalid reference"),
        "{e}"
    );
    // The fuzzer's own input, kept as found.
    let found = include_bytes!("../fixtures/fuzz/runbook-multiline-error.yaml");
    let e = load_runbook(fake_path(), std::str::from_utf8(found).unwrap()).unwrap_err();
    assert!(e.lines().count() <= 5, "{e}");
}
