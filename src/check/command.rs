//! `command`: run a program (argv, no shell) or a `/bin/sh -c` string and
//! hold its exit code and output against expectations. The command runs in
//! its own process group, which is killed whole at the timeout, on Ctrl-C
//! and when the command exits (so no child it forked outlives the check).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Instant;

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::expect::{Codes, JsonExpect, check_json};
use super::http::opt_regex;
use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::values::outcome::Status;
use crate::values::reason::{Code, Detail, Reason};
use crate::values::threshold::{Direction, Limit, Threshold};
use crate::values::units::{Unit, trim_float};

/// The reason catalog entries of `command` (docs/reasons.md).
/// Display values (`Code::value`).
static V_EXIT: Code = Code::value("value.command.exit", "exit {code}");
static V_SIGNAL: Code = Code::value("value.command.signal", "killed by signal {signal}");

pub(crate) static CODES: &[&Code] = &[
    &V_EXIT,
    &V_SIGNAL,
    &EXIT,
    &SIGNAL,
    &TIMEOUT,
    &STDOUT_CONTAINS,
    &STDOUT_REGEX,
    &NO_VALUE,
    &NOT_A_NUMBER,
    &SPAWN,
    &WAIT,
    &CONFIG,
    &D_RAN,
    &D_STDOUT,
    &D_STDERR,
    &D_HELD_OPEN,
];

// Detail lines (`-v`): the run, and the last lines of its output as they were.
static D_RAN: Code = Code::detail("command.detail.ran", "{command} → {result} in {took}");
static D_STDOUT: Code = Code::detail("command.detail.stdout", "stdout: {line}");
static D_STDERR: Code = Code::detail("command.detail.stderr", "stderr: {line}");
static D_HELD_OPEN: Code = Code::detail(
    "command.detail.held_open",
    "a background process kept the output open after the command exited: output read up to {grace} later, the process left running",
);

/// How long the output may stay open after the command has exited (and
/// its process group was killed): long enough for what is already in the
/// pipe to be read, short enough that a daemon that escaped the group
/// (`setsid`, a double fork) and kept stdout costs little. The verdict is
/// the command's own exit status either way; the escaped process is left
/// to run (it is not ours to find once it left the group).
const HELD_OPEN_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

static EXIT: Code = Code::new(
    "command.exit",
    "exit {got}, expected exit {want:or}[ — {last_line}]",
);
static SIGNAL: Code = Code::variant(
    "command.exit.signal",
    "command.exit",
    "killed by signal {signal}, expected exit {want:or}[ — {last_line}]",
);
static TIMEOUT: Code = Code::variant(
    "command.timeout",
    "timeout",
    "timed out after {after}, killed with its process group",
);
static STDOUT_CONTAINS: Code = Code::new(
    "command.stdout_contains",
    "stdout does not contain {want:q}",
);
static STDOUT_REGEX: Code = Code::new("command.stdout_regex", "stdout does not match /{regex}/");
static NO_VALUE: Code = Code::new("command.no_value", "no value found in stdout");
static NOT_A_NUMBER: Code = Code::new("command.not_a_number", "value {raw:q} is not a number");
static SPAWN: Code = Code::new("command.spawn", "cannot run {program}: {error}");
static WAIT: Code = Code::new("command.wait", "wait failed: {error}");
static CONFIG: Code = Code::new(
    "command.config",
    "command: set exactly one of `run` (argv list) or `shell` (string)",
);

/// Output kept per stream; earlier output is dropped (the tail is what explains a failure).
const KEEP_BYTES: usize = 256 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    run: Option<Vec<String>>,
    shell: Option<String>,
    #[serde(default = "zero")]
    exit: Codes,
    stdout_contains: Option<String>,
    #[serde(default, with = "opt_regex")]
    stdout_regex: Option<regex::Regex>,
    #[serde(default)]
    json: JsonExpect,
    value: Option<ValueSpec>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// Working directory (default: the runbook's directory).
    cwd: Option<String>,
}

fn zero() -> Codes {
    Codes(vec![0])
}

/// `value: {regex: 'used (\d+)', warn: 80, fail: 90}` — the first capture
/// group (or the whole match) of stdout becomes the check's number.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValueSpec {
    #[serde(default, with = "opt_regex")]
    regex: Option<regex::Regex>,
    #[serde(default, deserialize_with = "crate::values::threshold::limit::number")]
    warn: Option<Limit>,
    #[serde(default, deserialize_with = "crate::values::threshold::limit::number")]
    fail: Option<Limit>,
    /// Unit label for display (`件`, `MB`); the number itself is unitless.
    unit: Option<String>,
}

impl Kind for Command {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }
    fn section(&self) -> &'static str {
        sections::OTHER
    }
    fn validate(&self) -> Result<(), String> {
        if let Some(v) = &self.value {
            super::unreachable_warn(&v.warn, &v.fail)?;
        }
        match (&self.run, &self.shell) {
            (Some(a), None) if !a.is_empty() => Ok(()),
            (Some(_), None) => {
                Err("`run` is empty: give the program and its arguments, e.g. [df, -h]".into())
            }
            (None, Some(_)) => Ok(()),
            _ => Err(
                "a command check takes exactly one of `run` (argv list) or `shell` (string)".into(),
            ),
        }
    }

    fn target(&self) -> String {
        match (&self.run, &self.shell) {
            (Some(argv), _) => argv.join(" "),
            (_, Some(s)) => format!("sh -c {s:?}"),
            _ => String::new(),
        }
    }
}

/// Kills the whole process group when dropped: on timeout the engine drops
/// the check's future, and this is what makes that kill the command.
struct GroupGuard(Option<i32>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take()
            && let Some(pid) = rustix::process::Pid::from_raw(pgid)
        {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads `r` to its end, keeping the last [`KEEP_BYTES`], or until `stop`
/// turns true (the pipe is held open by a process that outlived the
/// command): then what was read so far is kept.
async fn read_tail<R: AsyncRead + Unpin>(
    mut r: R,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<u8> {
    let mut keep = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = r.read(&mut buf) => read,
            _ = stop.wait_for(|s| *s) => break,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                keep.extend_from_slice(&buf[..n]);
                if keep.len() > KEEP_BYTES * 2 {
                    keep.drain(..keep.len() - KEEP_BYTES);
                }
            }
        }
    }
    if keep.len() > KEEP_BYTES {
        keep.drain(..keep.len() - KEEP_BYTES);
    }
    keep
}

fn last_lines(b: &[u8], n: usize) -> Vec<String> {
    let t = String::from_utf8_lossy(b);
    let lines: Vec<&str> = t.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| {
            if l.chars().count() > 200 {
                format!("{}…", l.chars().take(200).collect::<String>())
            } else {
                (*l).to_owned()
            }
        })
        .collect()
}

impl Command {
    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let mut cmd = match (&self.run, &self.shell) {
            (Some(argv), None) if !argv.is_empty() => {
                let mut c = tokio::process::Command::new(&argv[0]);
                c.args(&argv[1..]);
                c
            }
            (None, Some(s)) => {
                let mut c = tokio::process::Command::new("/bin/sh");
                c.arg("-c").arg(s);
                c
            }
            _ => return Err(Failure::unknown(Reason::new(&CONFIG))),
        };
        cmd.envs(&self.env)
            .current_dir(
                self.cwd
                    .as_deref()
                    .map(|c| ctx.path(c))
                    .unwrap_or_else(|| ctx.base_dir.clone()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|e| {
            let what = self
                .run
                .as_ref()
                .and_then(|a| a.first())
                .cloned()
                .unwrap_or_else(|| "/bin/sh".into());
            Failure::unknown(
                Reason::new(&SPAWN)
                    .with("program", what)
                    .with("error", crate::values::io_reason(&e)),
            )
        })?;
        let mut guard = GroupGuard(child.id().map(|p| p as i32));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut out_task = tokio::spawn(read_tail(
            child.stdout.take().expect("piped stdout"),
            stopped.clone(),
        ));
        let mut err_task = tokio::spawn(read_tail(
            child.stderr.take().expect("piped stderr"),
            stopped,
        ));
        let waited = ctx.deadline.within(child.wait()).await;
        // The command is done (or out of time): anything it left running in
        // its group goes too, which also closes the pipes it held. A
        // process that left the group keeps them open: after a short grace
        // the reads stop with what they have.
        guard.kill();
        let until = tokio::time::Instant::now() + HELD_OPEN_GRACE;
        let out = tokio::time::timeout_at(until, &mut out_task).await;
        let err = tokio::time::timeout_at(until, &mut err_task).await;
        let held_open = out.is_err() || err.is_err();
        if held_open {
            let _ = stop.send(true);
        }
        // A handle that finished is not polled again.
        let stdout = match out {
            Ok(r) => r.unwrap_or_default(),
            Err(_) => out_task.await.unwrap_or_default(),
        };
        let stderr = match err {
            Ok(r) => r.unwrap_or_default(),
            Err(_) => err_task.await.unwrap_or_default(),
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let tails = || {
            let line = |code, l| Reason::new(code).with("line", l).into();
            let mut d: Vec<Detail> = last_lines(&stdout, 5)
                .into_iter()
                .map(|l| line(&D_STDOUT, l))
                .collect();
            d.extend(
                last_lines(&stderr, 5)
                    .into_iter()
                    .map(|l| line(&D_STDERR, l)),
            );
            d
        };
        let status = match waited {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(Failure::unknown(
                    Reason::new(&WAIT).with("error", e.to_string()),
                ));
            }
            Err(o) => {
                let mut f = Failure::fail(o.reason(&TIMEOUT)).shown(crate::values::reason::said(
                    &crate::values::reason::common::V_TIMEOUT,
                ));
                f.detail = tails();
                return Err(f);
            }
        };
        let code = status.code();
        let code_text = match code {
            Some(c) => crate::values::reason::say(&Reason::new(&V_EXIT).with("code", i64::from(c))),
            None => {
                use std::os::unix::process::ExitStatusExt;
                crate::values::reason::say(
                    &Reason::new(&V_SIGNAL).with("signal", status.signal().unwrap_or(0)),
                )
            }
        };
        let mut m = Measurement::new(code_text.clone()).detail(
            Reason::new(&D_RAN)
                .with("command", self.target())
                .with("result", code_text.clone())
                .with_quantity("took", ms, Unit::Millis),
        );
        m.detail.extend(tails());
        if held_open {
            m.detail.push(
                Reason::new(&D_HELD_OPEN)
                    .with_quantity(
                        "grace",
                        HELD_OPEN_GRACE.as_secs_f64() * 1000.0,
                        Unit::Millis,
                    )
                    .into(),
            );
        }
        if !code.is_some_and(|c| self.exit.0.contains(&(c as i64))) {
            let last_line = last_lines(&stderr, 1)
                .pop()
                .or_else(|| last_lines(&stdout, 1).pop());
            let reason = match code {
                Some(c) => Reason::new(&EXIT).with("got", i64::from(c)),
                None => {
                    use std::os::unix::process::ExitStatusExt;
                    Reason::new(&SIGNAL).with("signal", i64::from(status.signal().unwrap_or(0)))
                }
            };
            m.observe(
                Status::Fail,
                reason
                    .with("want", self.exit.0.clone())
                    .with_opt("last_line", last_line),
            );
            return Ok(m);
        }
        let text = String::from_utf8_lossy(&stdout);
        if let Some(want) = &self.stdout_contains
            && !text.contains(want.as_str())
        {
            m.observe(
                Status::Fail,
                Reason::new(&STDOUT_CONTAINS).with("want", want),
            );
        }
        if let Some(re) = &self.stdout_regex
            && !re.is_match(&text)
        {
            m.observe(
                Status::Fail,
                Reason::new(&STDOUT_REGEX).with("regex", re.as_str()),
            );
        }
        if let Some(why) = check_json(&stdout, &self.json) {
            m.observe(Status::Fail, why);
        }
        if let Some(v) = &self.value {
            Self::apply_value(v, &text, &mut m);
        }
        Ok(m)
    }

    fn apply_value(spec: &ValueSpec, text: &str, m: &mut Measurement) {
        let found = match &spec.regex {
            Some(re) => re
                .captures(text)
                .and_then(|c| c.get(1).or_else(|| c.get(0)))
                .map(|m| m.as_str().to_owned()),
            None => text.split_whitespace().next().map(str::to_owned),
        };
        let Some(raw) = found else {
            m.observe(Status::Fail, Reason::new(&NO_VALUE));
            return;
        };
        let Ok(n) = raw.trim().replace(',', "").parse::<f64>() else {
            m.observe(Status::Fail, Reason::new(&NOT_A_NUMBER).with("raw", raw));
            return;
        };
        let unit_label = spec.unit.clone().unwrap_or_default();
        // A size is shown as sizes are everywhere (`4.1kB`, not `4099B`,
        // which an operator has to count the digits of); others as given.
        let shown = if unit_label == "B" {
            crate::values::units::format_bytes(n)
        } else {
            format!("{}{unit_label}", trim_float(n, 2))
        };
        m.value = shown.clone();
        // The label decides the metric's unit for history, JSON and reports.
        let unit = match unit_label.as_str() {
            "%" => Unit::Percent,
            "ms" => Unit::Millis,
            "B" => Unit::Bytes,
            "件" | "count" | "回" | "個" | "人" | "名" => Unit::Count,
            // Only `days` means days left (a certificate); `日` may count
            // anything (稼働日数), so it stays a plain number.
            "days" => Unit::Days,
            _ => Unit::Number,
        };
        let th = Threshold {
            warn: spec.warn.clone(),
            fail: spec.fail.clone(),
            // Same numbers, but printed in the value's unit (`80%`).
            unit,
        };
        m.metrics.push(
            Metric::new("value", n, unit, Direction::HigherIsWorse)
                .held_to(th)
                .says(format!("value {shown}")),
        );
    }
}
