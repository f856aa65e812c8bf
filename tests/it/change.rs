//! `change: {vs, warn, fail}` (SPEC §10.6): a metric's relative change
//! against history, with history seeded by real runs of the binary at
//! earlier `--now` times (the value is a number in a file the check
//! reads, as a row count or a log size would be).

use serde_json::Value;

use crate::common::{Env, check};

/// `growth.yaml`: one check reading the number in `count` (件), with
/// `change` as its `change:`.
fn runbook(env: &Env, change: &str) {
    let count = env.runbooks().join("count");
    env.runbook(
        "growth.yaml",
        &format!(
            "version: 1\ntitle: 増加率点検\nchecks:\n  - id: rows\n    title: 見積り件数\n    change: {change}\n    command: {{shell: 'cat {}', value: {{unit: 件}}}}\n",
            count.display()
        ),
    );
}

/// Runs `growth` at `now` with `count` holding `value`: exit code and the
/// `rows` result as JSON.
fn at(env: &Env, now: &str, value: &str) -> (i32, Value) {
    std::fs::write(env.runbooks().join("count"), value).unwrap();
    let r = env.run(&["run", "growth", "--now", now, "-f", "json"]);
    let v: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
    (r.code, check(&v, "rows").clone())
}

fn detail(c: &Value) -> String {
    c["detail"].to_string()
}

/// Seed 000: 月間増加率が20%超え → warn; over 50% → fail.
#[test]
fn month_over_month_increase_over_warn_and_over_fail() {
    let env = Env::new();
    runbook(&env, "{vs: 30d, warn: 20%, fail: 50%}");
    // No history a month back: pass, with a note.
    let (code, c) = at(&env, "2026-10-01T09:00:00+09:00", "100");
    assert_eq!((code, c["status"].as_str()), (0, Some("pass")), "{c}");
    assert!(
        detail(&c).contains("change: no sample about 30d ago to compare with, not judged"),
        "{c}"
    );
    // A month later, +25%: warn, in words and as data.
    let (code, c) = at(&env, "2026-10-31T09:00:00+09:00", "125");
    assert_eq!((code, c["status"].as_str()), (1, Some("warn")), "{c}");
    assert_eq!(c["message"], "+25% vs a month ago (warn 20%)", "{c}");
    assert_eq!(c["reason"]["code"], "change", "{c}");
    assert_eq!(c["reason"]["params"]["pct"], 25.0, "{c}");
    assert_eq!(c["reason"]["params"]["then"], 100.0, "{c}");
    assert!(
        detail(&c).contains("change: 100 at 10/01 09:00 → 125 now (+25%)"),
        "{c}"
    );
    // +60% (the nearest sample to a month before 10:00 is 09:00's): fail.
    let (code, c) = at(&env, "2026-10-31T10:00:00+09:00", "160");
    assert_eq!((code, c["status"].as_str()), (2, Some("fail")), "{c}");
    assert_eq!(c["message"], "+60% vs a month ago (fail 50%)", "{c}");
    // A rise under 20%: pass, the comparison in the detail.
    let (code, c) = at(&env, "2026-10-31T11:00:00+09:00", "110");
    assert_eq!((code, c["status"].as_str()), (0, Some("pass")), "{c}");
    assert!(detail(&c).contains("(+10%)"), "{c}");

    // Japanese: the table with --lang ja, the 日次 report, -v.
    std::fs::write(env.runbooks().join("count"), "125").unwrap();
    let now = "2026-10-31T12:00:00+09:00";
    let r = env.run(&["run", "growth", "--now", now, "--lang", "ja", "-v"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("前月比 +25%（警告 20%）"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("変化率: 10/01 09:00 の 100 → 今回 125（+25%）"),
        "{}",
        r.stdout
    );
    let r = env.run(&["run", "growth", "--now", now, "-f", "report"]);
    assert!(r.stdout.contains("前月比 +25%（警告 20%）"), "{}", r.stdout);

    // Several runbooks in one run: each reads its own history.
    env.runbook(
        "other.yaml",
        "version: 1\ntitle: 他\nchecks:\n  - id: ok\n    command: {run: [\"true\"]}\n",
    );
    let now = "2026-10-31T13:00:00+09:00";
    let r = env.run(&["run", "other", "growth", "--now", now]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("+25% vs a month ago (warn 20%)"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_decrease_is_written_with_its_operator() {
    let env = Env::new();
    runbook(&env, "{vs: 7d, warn: \"<= -20%\", fail: \"<= -50%\"}");
    at(&env, "2026-11-01T09:00:00+09:00", "200");
    // A week later −30%: warn, the operator in the words.
    let (code, c) = at(&env, "2026-11-08T09:00:00+09:00", "140");
    assert_eq!((code, c["status"].as_str()), (1, Some("warn")), "{c}");
    assert_eq!(c["message"], "-30% vs a week ago (warn ≤ -20%)", "{c}");
    // An increase is no alarm for a decrease threshold.
    let (code, c) = at(&env, "2026-11-08T10:00:00+09:00", "400");
    assert_eq!((code, c["status"].as_str()), (0, Some("pass")), "{c}");
    let r = env.run(&[
        "run",
        "growth",
        "--now",
        "2026-11-08T11:00:00+09:00",
        "--lang",
        "ja",
    ]);
    std::fs::write(env.runbooks().join("count"), "50").unwrap();
    let r2 = env.run(&[
        "run",
        "growth",
        "--now",
        "2026-11-08T12:00:00+09:00",
        "--lang",
        "ja",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r2.code, 2, "{}", r2.stdout);
    assert!(
        r2.stdout.contains("前週比 -75%（異常 ≤ -50%）"),
        "{}",
        r2.stdout
    );
}

/// A sample is taken only within a quarter of the distance: 10 days of
/// history is no month; with none in reach the check passes with a note.
#[test]
fn no_sample_in_reach_passes_with_a_note() {
    let env = Env::new();
    runbook(&env, "{vs: 30d, warn: 20%}");
    at(&env, "2026-10-01T09:00:00+09:00", "100");
    let (code, c) = at(&env, "2026-10-11T09:00:00+09:00", "500");
    assert_eq!((code, c["status"].as_str()), (0, Some("pass")), "{c}");
    assert!(detail(&c).contains("no sample about 30d ago"), "{c}");
    // 23 days back is within 30d ± 7.5d: compared.
    let (code, c) = at(&env, "2026-10-24T09:00:00+09:00", "130");
    assert_eq!((code, c["status"].as_str()), (1, Some("warn")), "{c}");
    assert!(detail(&c).contains("100 at 10/01 09:00"), "{c}");
    // The note in Japanese with -v.
    let r = env.run(&[
        "run",
        "growth",
        "--now",
        "2026-12-20T09:00:00+09:00",
        "--lang",
        "ja",
        "-v",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("変化率: 30日前ごろの比較データがないため判定せず"),
        "{}",
        r.stdout
    );
}

#[test]
fn previous_compares_with_the_last_result() {
    let env = Env::new();
    runbook(&env, "{vs: previous, fail: 100%}");
    let (code, c) = at(&env, "2026-11-01T09:00:00+09:00", "10");
    assert_eq!(code, 0);
    assert!(
        detail(&c).contains("no earlier result to compare with"),
        "{c}"
    );
    let (code, c) = at(&env, "2026-11-01T09:05:00+09:00", "15");
    assert_eq!(code, 0, "{c}");
    assert!(detail(&c).contains("(+50%)"), "{c}");
    let (code, c) = at(&env, "2026-11-01T09:10:00+09:00", "40");
    assert_eq!((code, c["status"].as_str()), (2, Some("fail")), "{c}");
    assert_eq!(
        c["message"], "+166.7% vs the previous result (fail 100%)",
        "{c}"
    );
    // From 0 there is no relative change: a note, not a division by zero.
    at(&env, "2026-11-01T09:15:00+09:00", "0");
    let (code, c) = at(&env, "2026-11-01T09:20:00+09:00", "5");
    assert_eq!(code, 0, "{c}");
    assert!(
        detail(&c).contains("the value at 11/01 09:15 was 0, so there is no relative change"),
        "{c}"
    );
    // The check's own status and the change's: the worse wins.
    std::fs::write(env.runbooks().join("count"), "not a number").unwrap();
    let r = env.run(&["run", "growth", "--now", "2026-11-01T09:25:00+09:00"]);
    assert!(r.code >= 2, "{}", r.stdout);
}

#[test]
fn change_settings_are_checked_at_load() {
    let env = Env::new();
    for (change, says) in [
        ("{vs: 30d}", "change: add `warn:` and/or `fail:`"),
        ("{vs: 1x, warn: 20%}", "change.vs: invalid `1x`"),
        (
            "{vs: 7d, warn: -20%}",
            "a decrease is written with its operator",
        ),
        ("{vs: 7d, warn: 50%, fail: 20%}", "warn can never fire"),
        ("{vs: 7d, wran: 20%}", "did you mean `warn`"),
    ] {
        runbook(&env, change);
        let r = env.run(&["validate", "runbooks/growth.yaml"]);
        assert_eq!(r.code, 3, "{change}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{change}: {}", r.stderr);
        assert!(
            r.stderr.contains("growth.yaml:6:"),
            "{change}: {}",
            r.stderr
        );
    }
}

/// The 日次 report words a change as it is, even when its figures look
/// like the check's own limit (`+80%` beside a warn limit of 80).
#[test]
fn the_report_says_the_change_not_the_checks_own_limit() {
    let env = Env::new();
    let count = env.runbooks().join("count");
    env.runbook(
        "growth.yaml",
        &format!(
            "version: 1\ntitle: 増加率点検\nchecks:\n  - id: rows\n    title: 見積り件数\n    change: {{vs: previous, warn: 20%}}\n    command: {{shell: 'cat {}', value: {{warn: 80, fail: 90, unit: 件}}}}\n",
            count.display()
        ),
    );
    at(&env, "2026-11-01T09:00:00+09:00", "30");
    std::fs::write(&count, "54").unwrap();
    let r = env.run(&[
        "run",
        "growth",
        "--now",
        "2026-11-02T09:00:00+09:00",
        "-f",
        "report",
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("- [警告] 見積り件数: 前回比 +80%（警告 20%）"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("警告閾値"), "{}", r.stdout);
}
