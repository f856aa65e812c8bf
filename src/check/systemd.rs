//! `systemd`: the state of one unit, as `systemctl status` shows it to the
//! seeds' operators (`active (running)`), read from `systemctl show` so the
//! output is `Key=Value` and does not depend on the locale or a pager.
//!
//! No D-Bus library: `systemctl` is on every systemd host, its `show` output
//! is stable across versions (Amazon Linux 2's v219 to today), and it gives
//! the same answer the operator gets by hand.

use std::collections::HashMap;
use std::process::Stdio;

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::Deserialize;

use super::{CheckFuture, Ctx, Kind, sections};
use crate::values::outcome::{Outcome, Status};
use crate::values::units::{Unit, format_millis};

/// Properties read; `systemctl show` prints them in its own order.
const PROPERTIES: &str = "Id,LoadState,LoadError,ActiveState,SubState,UnitFileState,Result,\
NRestarts,MainPID,ExecMainStatus,StateChangeTimestamp,Description";

const TIMED_OUT: &str = "systemctl show did not answer within";

/// Every `ActiveState` systemd knows (`state:` must be one of them).
const ACTIVE_STATES: &[&str] = &[
    "active",
    "reloading",
    "inactive",
    "failed",
    "activating",
    "deactivating",
    "maintenance",
    "refreshing",
];

/// `UnitFileState`s for which `systemctl is-enabled` succeeds: the unit is
/// started by something at boot (or has no [Install] section to enable).
const ENABLED_STATES: &[&str] = &[
    "enabled",
    "enabled-runtime",
    "static",
    "indirect",
    "generated",
    "transient",
    "alias",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Systemd {
    unit: String,
    #[serde(default = "active")]
    state: String,
    enabled: Option<bool>,
}

fn active() -> String {
    "active".into()
}

impl Kind for Systemd {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        super::legacy(self.check(ctx))
    }

    fn section(&self) -> &'static str {
        sections::SERVICES
    }

    fn target(&self) -> String {
        self.unit.clone()
    }

    fn validate(&self) -> Result<(), String> {
        if self.unit.trim().is_empty() || self.unit.starts_with('-') {
            return Err(format!(
                "invalid unit `{}`: expected a unit name like estimator.service",
                self.unit
            ));
        }
        if matches!(
            self.state.as_str(),
            "running" | "dead" | "exited" | "listening"
        ) {
            return Err(format!(
                "`{}` is a SubState; `state` takes an ActiveState such as active or inactive",
                self.state
            ));
        }
        if !ACTIVE_STATES.contains(&self.state.as_str()) {
            let hint = crate::suggest::closest(&self.state, ACTIVE_STATES)
                .map(|s| format!(", did you mean `{s}`?"))
                .unwrap_or_else(|| format!(": expected one of {}", ACTIVE_STATES.join(", ")));
            return Err(format!("unknown state `{}`{hint}", self.state));
        }
        Ok(())
    }
}

/// What `systemctl show` said about the unit.
#[derive(Debug, Default)]
struct Show(HashMap<String, String>);

impl Show {
    fn parse(text: &str) -> Show {
        Show(
            text.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect(),
        )
    }

    fn get(&self, k: &str) -> &str {
        self.0.get(k).map(String::as_str).unwrap_or("")
    }
}

/// Why `systemctl` could not answer: the check cannot be carried out here.
fn unavailable(stderr: &str, code: Option<i32>) -> String {
    let first = stderr.lines().map(str::trim).find(|l| !l.is_empty());
    match first {
        Some(l) if l.contains("not been booted with systemd") => {
            format!("no systemd on this host ({l})")
        }
        Some(l) => format!("systemctl show failed: {l}"),
        None => format!(
            "systemctl show failed with exit {}",
            code.map(|c| c.to_string())
                .unwrap_or_else(|| "by signal".into())
        ),
    }
}

/// `Tue 2025-10-21 02:00:01 JST` → a time. systemctl prints its host's local
/// time; the zone name is an abbreviation chrono cannot resolve, so the
/// time is read in the run clock's offset (the host's, unless `--now`).
fn parse_timestamp(s: &str, offset: &FixedOffset) -> Option<DateTime<FixedOffset>> {
    let mut parts = s.split_whitespace();
    let first = parts.next()?;
    // The weekday may be missing in some versions' output.
    let (date, time) = if first.contains('-') {
        (first, parts.next()?)
    } else {
        (parts.next()?, parts.next()?)
    };
    let naive =
        NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M:%S").ok()?;
    naive.and_local_timezone(*offset).single()
}

impl Systemd {
    async fn show(&self, ctx: &Ctx) -> Result<Show, String> {
        let mut cmd = tokio::process::Command::new("systemctl");
        cmd.arg("show")
            .arg("--no-pager")
            .arg(format!("--property={PROPERTIES}"))
            .arg("--")
            .arg(&self.unit)
            .env("LC_ALL", "C")
            .env("SYSTEMD_PAGER", "")
            .env("SYSTEMD_COLORS", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err("systemctl not found: no systemd on this host".into());
            }
            Err(e) => {
                return Err(format!(
                    "cannot run systemctl: {}",
                    crate::values::io_reason(&e)
                ));
            }
        };
        let out = match tokio::time::timeout(ctx.timeout, child.wait_with_output()).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => return Err(format!("systemctl: {}", crate::values::io_reason(&e))),
            Err(_) => {
                return Err(format!(
                    "{TIMED_OUT} {}",
                    format_millis(ctx.timeout.as_secs_f64() * 1000.0)
                ));
            }
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(unavailable(&stderr, out.status.code()));
        }
        let show = Show::parse(&stdout);
        if show.get("LoadState").is_empty() && show.get("ActiveState").is_empty() {
            return Err(unavailable(&stderr, out.status.code()));
        }
        Ok(show)
    }

    async fn check(&self, ctx: &Ctx) -> Outcome {
        let show = match self.show(ctx).await {
            Ok(s) => s,
            // A timeout is fail (SPEC §2, the Nagios rule): a hung PID 1 is
            // as bad as a stopped service.
            Err(why) if why.starts_with(TIMED_OUT) => return Outcome::fail(why),
            Err(why) => return Outcome::unknown(why),
        };
        evaluate(&show, &self.unit, &self.state, self.enabled, &ctx.now)
    }
}

/// The outcome for `systemctl show` output `text` (fuzzing and tests: the
/// output of a tool is untrusted text).
pub(crate) fn outcome_from_show(
    text: &str,
    unit: &str,
    want: &str,
    enabled: Option<bool>,
    now: &DateTime<FixedOffset>,
) -> Outcome {
    evaluate(&Show::parse(text), unit, want, enabled, now)
}

fn evaluate(
    show: &Show,
    unit: &str,
    want: &str,
    enabled: Option<bool>,
    now: &DateTime<FixedOffset>,
) -> Outcome {
    let id = match show.get("Id") {
        "" => unit,
        id => id,
    };
    let load = show.get("LoadState");
    let active = show.get("ActiveState");
    let sub = show.get("SubState");

    if load == "not-found" {
        let mut o =
            Outcome::fail(format!("unit {id} not found, expected {want}")).with_value("not-found");
        if want == "inactive" {
            // "Must not run" is met by a unit that does not exist.
            o = Outcome::pass("not-found").with_detail(format!("unit {id} not found"));
        }
        if !show.get("LoadError").is_empty() {
            o = o.with_detail(format!("LoadError: {}", show.get("LoadError")));
        }
        return o;
    }

    let value = if sub.is_empty() {
        active.to_owned()
    } else {
        format!("{active} ({sub})")
    };
    let mut out = Outcome::pass(value.clone());

    let restarts: Option<u64> = show.get("NRestarts").parse().ok();
    if let Some(n) = restarts {
        out = out.with_extra_metric("restarts", n as f64, Unit::Count);
    }

    // Detail: what `systemctl status` shows on its first lines.
    let desc = show.get("Description");
    out = out.with_detail(if desc.is_empty() {
        format!("{id}: {value}")
    } else {
        format!("{id} ({desc}): {value}")
    });
    let since = show.get("StateChangeTimestamp");
    if !since.is_empty() && since != "n/a" {
        let ago = parse_timestamp(since, now.offset())
            .map(|t| (*now - t).num_milliseconds())
            .filter(|ms| *ms >= 0)
            .map(|ms| format!(" ({} ago)", format_millis(ms as f64)))
            .unwrap_or_default();
        out = out.with_detail(format!("since {since}{ago}"));
    }
    let mut facts = Vec::new();
    match show.get("MainPID") {
        "" | "0" => {}
        pid => facts.push(format!("main pid {pid}")),
    }
    if let Some(n) = restarts {
        facts.push(format!("NRestarts={n}"));
    }
    match show.get("Result") {
        "" | "success" => {}
        r => facts.push(format!("Result={r}")),
    }
    if !facts.is_empty() {
        out = out.with_detail(facts.join(", "));
    }

    let restarts_note = match restarts {
        Some(n) if n > 0 => format!(", restarted {n} times"),
        _ => String::new(),
    };
    let result_note = match (show.get("Result"), show.get("ExecMainStatus")) {
        ("" | "success", _) => String::new(),
        (r, "" | "0") => format!(", result {r}"),
        (r, code) => format!(", result {r}, exit status {code}"),
    };

    if want == "active" {
        let status = match active {
            "active" => Status::Pass,
            "activating" | "reloading" | "refreshing" => Status::Warn,
            "failed" | "inactive" | "deactivating" | "maintenance" => Status::Fail,
            // A state this version of opsrun does not know: say so, loudly.
            _ => Status::Fail,
        };
        if status != Status::Pass {
            out.worsen(
                status,
                format!("{id} is {value}, expected active{result_note}{restarts_note}"),
            );
        }
    } else if active != want {
        out.worsen(
            Status::Fail,
            format!("{id} is {value}, expected {want}{result_note}"),
        );
    }

    if let Some(want_enabled) = enabled {
        let ufs = show.get("UnitFileState");
        let is_enabled = ENABLED_STATES.contains(&ufs);
        if is_enabled != want_enabled {
            let shown = if ufs.is_empty() { "(none)" } else { ufs };
            out.worsen(
                Status::Fail,
                format!(
                    "{id} UnitFileState {shown}, expected {}",
                    if want_enabled { "enabled" } else { "disabled" }
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2025-10-21T09:00:00+09:00").unwrap()
    }

    fn eval(text: &str, want: &str, enabled: Option<bool>) -> Outcome {
        evaluate(&Show::parse(text), "x.service", want, enabled, &now())
    }

    #[test]
    fn active_running_passes_with_since() {
        let o = eval(
            "Id=x.service\nLoadState=loaded\nActiveState=active\nSubState=running\n\
             NRestarts=2\nMainPID=812\nStateChangeTimestamp=Tue 2025-10-21 02:00:01 JST\n",
            "active",
            None,
        );
        assert_eq!(o.status, Status::Pass);
        assert_eq!(o.value, "active (running)");
        assert!(
            o.detail.iter().any(|d| d.contains("(7h ago)")),
            "{:?}",
            o.detail
        );
        assert!(o.detail.iter().any(|d| d.contains("NRestarts=2")));
    }

    #[test]
    fn state_rules() {
        for (active, status) in [
            ("activating", Status::Warn),
            ("reloading", Status::Warn),
            ("failed", Status::Fail),
            ("inactive", Status::Fail),
            ("deactivating", Status::Fail),
        ] {
            let o = eval(
                &format!("LoadState=loaded\nActiveState={active}\nSubState=x\n"),
                "active",
                None,
            );
            assert_eq!(o.status, status, "{active}");
        }
    }

    #[test]
    fn expected_inactive() {
        let o = eval(
            "LoadState=loaded\nActiveState=inactive\nSubState=dead\n",
            "inactive",
            None,
        );
        assert_eq!(o.status, Status::Pass);
        let o = eval(
            "LoadState=loaded\nActiveState=active\nSubState=running\n",
            "inactive",
            None,
        );
        assert_eq!(o.status, Status::Fail);
        assert_eq!(
            o.message,
            "x.service is active (running), expected inactive"
        );
    }

    #[test]
    fn enabled_against_unit_file_state() {
        let base = "LoadState=loaded\nActiveState=active\nSubState=running\n";
        let o = eval(
            &format!("{base}UnitFileState=disabled\n"),
            "active",
            Some(true),
        );
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.message
                .contains("UnitFileState disabled, expected enabled")
        );
        let o = eval(
            &format!("{base}UnitFileState=static\n"),
            "active",
            Some(true),
        );
        assert_eq!(o.status, Status::Pass);
        let o = eval(
            &format!("{base}UnitFileState=enabled\n"),
            "active",
            Some(false),
        );
        assert_eq!(o.status, Status::Fail);
    }

    #[test]
    fn timestamps() {
        let off = *now().offset();
        let t = parse_timestamp("Tue 2025-10-21 02:00:01 JST", &off).unwrap();
        assert_eq!(t.to_rfc3339(), "2025-10-21T02:00:01+09:00");
        assert!(parse_timestamp("n/a", &off).is_none());
        assert!(parse_timestamp("", &off).is_none());
    }
}
