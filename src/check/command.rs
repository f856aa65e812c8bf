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
use super::{CheckFuture, Ctx, Kind, sections};
use crate::values::outcome::{Outcome, Status};
use crate::values::threshold::{Direction, Limit, Threshold};
use crate::values::units::{Unit, format_millis, trim_float};

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
    #[serde(default, deserialize_with = "crate::values::threshold::number_limit")]
    warn: Option<Limit>,
    #[serde(default, deserialize_with = "crate::values::threshold::number_limit")]
    fail: Option<Limit>,
    /// Unit label for display (`件`, `MB`); the number itself is unitless.
    unit: Option<String>,
}

impl Kind for Command {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        super::legacy(self.check(ctx))
    }
    fn section(&self) -> &'static str {
        sections::OTHER
    }
    fn validate(&self) -> Result<(), String> {
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

async fn read_tail<R: AsyncRead + Unpin>(mut r: R) -> Vec<u8> {
    let mut keep = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf).await {
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
    async fn check(&self, ctx: &Ctx) -> Outcome {
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
            _ => {
                return Outcome::unknown(
                    "command: set exactly one of `run` (argv list) or `shell` (string)",
                );
            }
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
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let what = self
                    .run
                    .as_ref()
                    .and_then(|a| a.first())
                    .cloned()
                    .unwrap_or_else(|| "/bin/sh".into());
                return Outcome::unknown(format!(
                    "cannot run {what}: {}",
                    crate::values::io_reason(&e)
                ));
            }
        };
        let mut guard = GroupGuard(child.id().map(|p| p as i32));
        let out_task = tokio::spawn(read_tail(child.stdout.take().expect("piped stdout")));
        let err_task = tokio::spawn(read_tail(child.stderr.take().expect("piped stderr")));
        let waited = tokio::time::timeout(ctx.timeout, child.wait()).await;
        // The command is done (or out of time): anything it left running in
        // its group goes too, which also closes the pipes it held.
        guard.kill();
        let stdout = out_task.await.unwrap_or_default();
        let stderr = err_task.await.unwrap_or_default();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let status = match waited {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Outcome::unknown(format!("wait failed: {e}")),
            Err(_) => {
                let mut o = Outcome::fail(format!(
                    "timed out after {}, killed with its process group",
                    format_millis(ctx.timeout.as_secs_f64() * 1000.0)
                ))
                .with_value("timeout");
                o.detail.extend(
                    last_lines(&stdout, 5)
                        .into_iter()
                        .map(|l| format!("stdout: {l}")),
                );
                o.detail.extend(
                    last_lines(&stderr, 5)
                        .into_iter()
                        .map(|l| format!("stderr: {l}")),
                );
                return o;
            }
        };
        let code = status.code();
        let code_text = match code {
            Some(c) => format!("exit {c}"),
            None => {
                use std::os::unix::process::ExitStatusExt;
                format!("killed by signal {}", status.signal().unwrap_or(0))
            }
        };
        let mut out = Outcome::pass(code_text.clone()).with_detail(format!(
            "{} → {code_text} in {}",
            self.target(),
            format_millis(ms)
        ));
        out.detail.extend(
            last_lines(&stdout, 5)
                .into_iter()
                .map(|l| format!("stdout: {l}")),
        );
        out.detail.extend(
            last_lines(&stderr, 5)
                .into_iter()
                .map(|l| format!("stderr: {l}")),
        );
        if !code.is_some_and(|c| self.exit.0.contains(&(c as i64))) {
            let want: Vec<String> = self.exit.0.iter().map(i64::to_string).collect();
            let last_err = last_lines(&stderr, 1)
                .pop()
                .or_else(|| last_lines(&stdout, 1).pop());
            out.worsen(
                Status::Fail,
                format!(
                    "{code_text}, expected exit {}{}",
                    want.join(" or "),
                    last_err.map(|l| format!(" — {l}")).unwrap_or_default()
                ),
            );
            return out;
        }
        let text = String::from_utf8_lossy(&stdout);
        if let Some(want) = &self.stdout_contains
            && !text.contains(want.as_str())
        {
            out.worsen(Status::Fail, format!("stdout does not contain {want:?}"));
        }
        if let Some(re) = &self.stdout_regex
            && !re.is_match(&text)
        {
            out.worsen(
                Status::Fail,
                format!("stdout does not match /{}/", re.as_str()),
            );
        }
        if let Some(why) = check_json(&stdout, &self.json) {
            out.worsen(Status::Fail, why);
        }
        if let Some(v) = &self.value {
            self.apply_value(v, &text, &mut out);
        }
        out
    }

    fn apply_value(&self, spec: &ValueSpec, text: &str, out: &mut Outcome) {
        let found = match &spec.regex {
            Some(re) => re
                .captures(text)
                .and_then(|c| c.get(1).or_else(|| c.get(0)))
                .map(|m| m.as_str().to_owned()),
            None => text.split_whitespace().next().map(str::to_owned),
        };
        let Some(raw) = found else {
            out.worsen(Status::Fail, "no value found in stdout".to_string());
            return;
        };
        let Ok(n) = raw.trim().replace(',', "").parse::<f64>() else {
            out.worsen(Status::Fail, format!("value {raw:?} is not a number"));
            return;
        };
        let unit_label = spec.unit.clone().unwrap_or_default();
        out.value = format!("{}{unit_label}", trim_float(n, 2));
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
        let m = crate::values::outcome::Metric::new(n, unit);
        out.metric = Some(m.clone());
        out.metrics.push(("value".into(), m));
        let th = Threshold {
            warn: spec.warn.clone(),
            fail: spec.fail.clone(),
            // Same numbers, but printed in the value's unit (`80%`).
            unit,
        };
        let v = th.eval(n, Direction::HigherIsWorse);
        out.worsen(
            v.status,
            format!("value {}{unit_label} {}", trim_float(n, 2), v.breach),
        );
        out.threshold = Some(th);
    }
}
