//! One time zone for every time a person reads (SPEC §10.1): Asia/Tokyo
//! by default whatever the host's offset, an IANA zone with daylight
//! saving, a fixed offset, and `timezone:` in config.yaml.

use crate::common::Env;

const RB: &str = "version: 1\ntitle: tz\nchecks:\n  - {id: a, command: {shell: 'true'}}\n";

fn with_zone(zone: &str) -> String {
    format!(
        "version: 1\ntitle: tz\nreport:\n  timezone: {zone}\nchecks:\n  - {{id: a, command: {{shell: 'true'}}}}\n"
    )
}

/// The JSON `started_at` and the table header of one run at `now`.
fn shown(env: &Env, now: &str) -> (String, String) {
    let json = env.run(&["run", "t", "--now", now, "-f", "json", "--no-history"]);
    assert_eq!(json.code, 0, "{json:?}");
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let table = env.run(&["run", "t", "--now", now, "--no-history"]);
    let header = table.stdout.lines().next().unwrap_or_default().to_owned();
    (v["started_at"].as_str().unwrap().to_owned(), header)
}

#[test]
fn asia_tokyo_is_the_default_whatever_the_host_or_clock_offset() {
    let env = Env::new();
    env.runbook("t.yaml", RB);
    // A UTC clock (a container's) is still shown in Tokyo time.
    let (json, header) = shown(&env, "2025-10-21T00:00:00Z");
    assert_eq!(json, "2025-10-21T09:00:00+09:00");
    assert!(header.ends_with("2025-10-21 09:00:00 +09:00"), "{header}");
    let r = env
        .cmd()
        .env("TZ", "UTC")
        .args(["run", "t", "-f", "json", "--no-history"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert!(v["started_at"].as_str().unwrap().ends_with("+09:00"), "{v}");
}

#[test]
fn an_iana_zone_follows_daylight_saving() {
    let env = Env::new();
    env.runbook("t.yaml", &with_zone("Europe/Berlin"));
    let (json, header) = shown(&env, "2025-07-01T12:00:00Z");
    assert_eq!(json, "2025-07-01T14:00:00+02:00");
    assert!(header.ends_with("2025-07-01 14:00:00 +02:00"), "{header}");
    let (json, _) = shown(&env, "2025-12-01T12:00:00Z");
    assert_eq!(json, "2025-12-01T13:00:00+01:00");
}

#[test]
fn a_fixed_offset_is_still_accepted() {
    let env = Env::new();
    env.runbook("t.yaml", &with_zone("\"+05:30\""));
    let (json, _) = shown(&env, "2025-10-21T00:00:00Z");
    assert_eq!(json, "2025-10-21T05:30:00+05:30");
    env.runbook("t.yaml", &with_zone("JST"));
    let (json, _) = shown(&env, "2025-10-21T00:00:00Z");
    assert_eq!(json, "2025-10-21T09:00:00+09:00");
}

#[test]
fn config_yaml_sets_the_zone_and_the_runbook_wins() {
    let env = Env::new();
    env.runbook("t.yaml", RB);
    env.runbook("config.yaml", "version: 1\ntimezone: America/New_York\n");
    let (json, _) = shown(&env, "2025-10-21T12:00:00Z");
    assert_eq!(json, "2025-10-21T08:00:00-04:00");
    env.runbook("t.yaml", &with_zone("UTC"));
    let (json, _) = shown(&env, "2025-10-21T12:00:00Z");
    assert_eq!(json, "2025-10-21T12:00:00+00:00");
}

#[test]
fn history_lists_times_in_the_zone() {
    let env = Env::new();
    env.runbook("t.yaml", RB);
    // Recorded with a UTC clock, listed in Tokyo time.
    let r = env.run(&["run", "t", "--now", "2025-10-21T00:00:00Z", "-q"]);
    assert_eq!(r.code, 0, "{r:?}");
    let h = env.run(&["history", "-f", "json", "--now", "2025-10-21T01:00:00Z"]);
    assert!(
        h.stdout
            .contains("\"started_at\": \"2025-10-21T09:00:00+09:00\""),
        "{h:?}"
    );
}
