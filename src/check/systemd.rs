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

use super::{Attempt, CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::values::outcome::Status;
use crate::values::reason::{Code, Reason};
use crate::values::threshold::Direction;
use crate::values::units::Unit;

/// The reason catalog entries of `systemd` (docs/reasons.md).
pub(crate) static CODES: &[&Code] = &[
    &NOT_FOUND,
    &STATE,
    &ENABLED,
    &NO_SYSTEMD,
    &NO_SYSTEMCTL,
    &SHOW_FAILED,
    &SHOW_EXIT,
    &SPAWN,
    &IO,
    &TIMEOUT,
    &D_NOT_FOUND,
    &D_LOAD_ERROR,
    &D_UNIT,
    &D_UNIT_DESCRIBED,
    &D_SINCE,
    &D_FACTS,
    &D_MAIN_PID,
    &D_RESTARTS,
    &D_RESULT,
];

// Detail lines (`-v`): what `systemctl status` shows on its first lines.
static D_NOT_FOUND: Code = Code::detail("systemd.detail.not_found", "unit {unit} not found");
static D_LOAD_ERROR: Code = Code::detail("systemd.detail.load_error", "LoadError: {error}");
static D_UNIT: Code = Code::detail("systemd.detail.unit", "{unit}: {state}");
static D_UNIT_DESCRIBED: Code = Code::detail(
    "systemd.detail.unit_described",
    "{unit} ({description}): {state}",
);
static D_SINCE: Code = Code::detail("systemd.detail.since", "since {since}[ ({ago} ago)]");
/// `facts`: a list of the three entries below.
static D_FACTS: Code = Code::detail("systemd.detail.facts", "{facts}");
static D_MAIN_PID: Code = Code::detail("systemd.detail.main_pid", "main pid {pid}");
static D_RESTARTS: Code = Code::detail("systemd.detail.restarts", "NRestarts={restarts}");
static D_RESULT: Code = Code::detail("systemd.detail.result", "Result={result}");

static NOT_FOUND: Code = Code::new(
    "systemd.not_found",
    "unit {unit} not found, expected {want}",
);
static STATE: Code = Code::new(
    "systemd.state",
    "{unit} is {state}, expected {want}[, result {result}][, exit status {exit_status}][, restarted {restarts} times]",
);
static ENABLED: Code = Code::new(
    "systemd.enabled",
    "{unit} UnitFileState {unit_file_state}, expected {want}",
);
static NO_SYSTEMD: Code = Code::new("systemd.no_systemd", "no systemd on this host ({error})");
static NO_SYSTEMCTL: Code = Code::variant(
    "systemd.no_systemctl",
    "systemd.no_systemd",
    "systemctl not found: no systemd on this host",
);
static SHOW_FAILED: Code = Code::new("systemd.show", "systemctl show failed: {error}");
static SHOW_EXIT: Code = Code::variant(
    "systemd.show.exit",
    "systemd.show",
    "systemctl show failed with exit {exit}",
);
static SPAWN: Code = Code::new("systemd.spawn", "cannot run systemctl: {error}");
static IO: Code = Code::new("systemd.io", "systemctl: {error}");
static TIMEOUT: Code = Code::variant(
    "systemd.timeout",
    "timeout",
    "systemctl show did not answer within {after}",
);

/// Properties read; `systemctl show` prints them in its own order.
const PROPERTIES: &str = "Id,LoadState,LoadError,ActiveState,SubState,UnitFileState,Result,\
NRestarts,MainPID,ExecMainStatus,StateChangeTimestamp,Description";

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
        Box::pin(async move { self.check(ctx).await.into() })
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
fn unavailable(stderr: &str, code: Option<i32>) -> Failure {
    let first = stderr.lines().map(str::trim).find(|l| !l.is_empty());
    Failure::unknown(match first {
        Some(l) if l.contains("not been booted with systemd") => {
            Reason::new(&NO_SYSTEMD).with("error", l)
        }
        Some(l) => Reason::new(&SHOW_FAILED).with("error", l),
        None => Reason::new(&SHOW_EXIT).with(
            "exit",
            code.map(|c| c.to_string())
                .unwrap_or_else(|| "by signal".into()),
        ),
    })
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
    async fn show(&self, ctx: &Ctx) -> Result<Show, Failure> {
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
                return Err(Failure::unknown(Reason::new(&NO_SYSTEMCTL)));
            }
            Err(e) => {
                return Err(Failure::unknown(
                    Reason::new(&SPAWN).with("error", crate::values::io_reason(&e)),
                ));
            }
        };
        let out = match ctx.deadline.within(child.wait_with_output()).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => {
                return Err(Failure::unknown(
                    Reason::new(&IO).with("error", crate::values::io_reason(&e)),
                ));
            }
            // A timeout is fail (SPEC §2, the Nagios rule): a hung PID 1 is
            // as bad as a stopped service.
            Err(o) => return Err(Failure::fail(o.reason(&TIMEOUT))),
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

    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let show = self.show(ctx).await?;
        evaluate(&show, &self.unit, &self.state, self.enabled, &ctx.now)
    }
}

/// What a check makes of `systemctl show` output `text` (fuzzing and
/// tests: the output of a tool is untrusted text).
pub(crate) fn outcome_from_show(
    text: &str,
    unit: &str,
    want: &str,
    enabled: Option<bool>,
    now: &DateTime<FixedOffset>,
) -> Attempt {
    evaluate(&Show::parse(text), unit, want, enabled, now).into()
}

fn evaluate(
    show: &Show,
    unit: &str,
    want: &str,
    enabled: Option<bool>,
    now: &DateTime<FixedOffset>,
) -> Result<Measurement, Failure> {
    let id = match show.get("Id") {
        "" => unit,
        id => id,
    };
    let load = show.get("LoadState");
    let active = show.get("ActiveState");
    let sub = show.get("SubState");

    if load == "not-found" {
        let mut o = if want == "inactive" {
            // "Must not run" is met by a unit that does not exist.
            Ok(Measurement::new("not-found").detail(Reason::new(&D_NOT_FOUND).with("unit", id)))
        } else {
            Err(
                Failure::fail(Reason::new(&NOT_FOUND).with("unit", id).with("want", want))
                    .shown("not-found"),
            )
        };
        if !show.get("LoadError").is_empty() {
            let line = Reason::new(&D_LOAD_ERROR).with("error", show.get("LoadError"));
            match &mut o {
                Ok(m) => m.detail.push(line.into()),
                Err(f) => f.detail.push(line.into()),
            }
        }
        return o;
    }

    let value = if sub.is_empty() {
        active.to_owned()
    } else {
        format!("{active} ({sub})")
    };
    let mut out = Measurement::new(value.clone());

    let restarts: Option<u64> = show.get("NRestarts").parse().ok();
    if let Some(n) = restarts {
        out = out.metric(
            Metric::new("restarts", n as f64, Unit::Count, Direction::HigherIsWorse).extra(),
        );
    }

    // Detail: what `systemctl status` shows on its first lines.
    let desc = show.get("Description");
    out = out.detail(
        if desc.is_empty() {
            Reason::new(&D_UNIT)
        } else {
            Reason::new(&D_UNIT_DESCRIBED).with("description", desc)
        }
        .with("unit", id)
        .with("state", value.clone()),
    );
    let since = show.get("StateChangeTimestamp");
    if !since.is_empty() && since != "n/a" {
        let ago = parse_timestamp(since, now.offset())
            .map(|t| (*now - t).num_milliseconds())
            .filter(|ms| *ms >= 0);
        let mut said = Reason::new(&D_SINCE).with("since", since);
        if let Some(ms) = ago {
            said = said.with_quantity("ago", ms as f64, Unit::Millis);
        }
        out = out.detail(said);
    }
    let mut facts = Vec::new();
    match show.get("MainPID") {
        "" | "0" => {}
        pid => facts.push(Reason::new(&D_MAIN_PID).with("pid", pid)),
    }
    if let Some(n) = restarts {
        facts.push(Reason::new(&D_RESTARTS).with("restarts", n));
    }
    match show.get("Result") {
        "" | "success" => {}
        r => facts.push(Reason::new(&D_RESULT).with("result", r)),
    }
    if !facts.is_empty() {
        out = out.detail(Reason::new(&D_FACTS).with("facts", facts));
    }

    let state = |want: &str| {
        let r = Reason::new(&STATE)
            .with("unit", id)
            .with("state", value.clone())
            .with("want", want);
        match (show.get("Result"), show.get("ExecMainStatus")) {
            ("" | "success", _) => r,
            (res, "" | "0") => r.with("result", res),
            (res, code) => r.with("result", res).with("exit_status", code),
        }
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
            let r = state("active").with_opt("restarts", restarts.filter(|n| *n > 0));
            out.observe(status, r);
        }
    } else if active != want {
        out.observe(Status::Fail, state(want));
    }

    if let Some(want_enabled) = enabled {
        let ufs = show.get("UnitFileState");
        let is_enabled = ENABLED_STATES.contains(&ufs);
        if is_enabled != want_enabled {
            let shown = if ufs.is_empty() { "(none)" } else { ufs };
            out.observe(
                Status::Fail,
                Reason::new(&ENABLED)
                    .with("unit", id)
                    .with("unit_file_state", shown)
                    .with("want", if want_enabled { "enabled" } else { "disabled" }),
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2025-10-21T09:00:00+09:00").unwrap()
    }

    /// The measurement (or failure) and the status the judge will give it.
    fn eval(text: &str, want: &str, enabled: Option<bool>) -> (Status, Measurement) {
        let m = evaluate(&Show::parse(text), "x.service", want, enabled, &now()).unwrap();
        (super::super::harness::status(&m), m)
    }

    #[test]
    fn active_running_passes_with_since() {
        let o = eval(
            "Id=x.service\nLoadState=loaded\nActiveState=active\nSubState=running\n\
             NRestarts=2\nMainPID=812\nStateChangeTimestamp=Tue 2025-10-21 02:00:01 JST\n",
            "active",
            None,
        );
        assert_eq!(o.0, Status::Pass);
        let o = o.1;
        assert_eq!(o.value, "active (running)");
        use crate::check::harness::said;
        use crate::values::reason::Param;
        let since = said(&o.detail, "systemd.detail.since").unwrap();
        match since.param("ago") {
            Some(Param::Quantity(ms, Unit::Millis)) => assert_eq!(Unit::Millis.format(*ms), "7h"),
            other => panic!("{other:?}"),
        }
        let facts = said(&o.detail, "systemd.detail.facts").unwrap();
        let Some(Param::List(facts)) = facts.param("facts") else {
            panic!("{facts:?}")
        };
        assert!(facts.iter().any(|f| matches!(f, Param::Reason(r)
            if r.param("restarts") == Some(&Param::Int(2)))));
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
            assert_eq!(o.0, status, "{active}");
        }
    }

    #[test]
    fn expected_inactive() {
        let o = eval(
            "LoadState=loaded\nActiveState=inactive\nSubState=dead\n",
            "inactive",
            None,
        );
        assert_eq!(o.0, Status::Pass);
        let (status, m) = eval(
            "LoadState=loaded\nActiveState=active\nSubState=running\n",
            "inactive",
            None,
        );
        assert_eq!(status, Status::Fail);
        let r = &m.observations[0].reason;
        assert_eq!(r.code.code, "systemd.state");
        assert_eq!(r.param("state"), Some(&"active (running)".into()));
        assert_eq!(r.param("want"), Some(&"inactive".into()));
        assert_eq!(r.param("result"), None);
    }

    #[test]
    fn enabled_against_unit_file_state() {
        let base = "LoadState=loaded\nActiveState=active\nSubState=running\n";
        let o = eval(
            &format!("{base}UnitFileState=disabled\n"),
            "active",
            Some(true),
        );
        assert_eq!(o.0, Status::Fail);
        let r = &o.1.observations[0].reason;
        assert_eq!(r.code.code, "systemd.enabled");
        assert_eq!(r.param("unit_file_state"), Some(&"disabled".into()));
        assert_eq!(r.param("want"), Some(&"enabled".into()));
        let o = eval(
            &format!("{base}UnitFileState=static\n"),
            "active",
            Some(true),
        );
        assert_eq!(o.0, Status::Pass);
        let o = eval(
            &format!("{base}UnitFileState=enabled\n"),
            "active",
            Some(false),
        );
        assert_eq!(o.0, Status::Fail);
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
