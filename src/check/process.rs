//! `process`: how many processes of a program run (seed 000: `ps aux | grep
//! -E 'uvicorn|httpd'`), read from `/proc` through sysinfo.
//!
//! `name` is exact, like `pgrep -x`, but the kernel cuts `comm` to 15
//! bytes, so a name also matches the base name of `argv[0]` or of the
//! executable: `name: estimator-worker-main` finds the process whose `comm`
//! is `estimator-worke`. `cmdline` is a regex over the whole command line
//! (`pgrep -f`). opsrun itself and zombies are never counted.

use serde::Deserialize;

use super::http::opt_regex;
use super::memory::UNREADABLE;
use super::{CheckFuture, Ctx, Kind, sections};
use super::{Failure, Measurement, Metric};
use crate::values::reason::{Code, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::Unit;

/// Processes listed in the detail; the count covers all of them.
const SHOW: usize = 5;

/// The reason catalog entries of `process` (docs/reasons.md).
/// Display values (`Code::value`).
static V_ONE: Code = Code::value("value.process.one", "1 process");
static V_MANY: Code = Code::value("value.process.many", "{count} processes");

pub(crate) static CODES: &[&Code] = &[&V_ONE, &V_MANY, &NO_USER, &SCAN, &D_PROCESS, &D_MORE];

// Detail lines (`-v`).
/// `command`: its command line as `ps` shows it (secrets masked, cut).
static D_PROCESS: Code = Code::detail("process.detail.process", "pid {pid} ({user}): {command}");
static D_MORE: Code = Code::detail("process.detail.more", "… and {more} more");

static NO_USER: Code = Code::new(
    "process.no_user",
    "no user `{user}` on this host (/etc/passwd)",
);
static SCAN: Code = Code::new("process.scan", "process scan failed: {error}");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    name: Option<String>,
    #[serde(default, with = "opt_regex")]
    cmdline: Option<regex::Regex>,
    /// User name or numeric uid (effective uid, as `ps -u`).
    user: Option<String>,
    #[serde(default, deserialize_with = "crate::values::threshold::lo::count")]
    count: Option<Threshold>,
}

impl Kind for Process {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }

    fn section(&self) -> &'static str {
        sections::SERVICES
    }

    fn target(&self) -> String {
        let what = match (&self.name, &self.cmdline) {
            (Some(n), _) => n.clone(),
            (_, Some(re)) => format!("/{}/", re.as_str()),
            _ => String::new(),
        };
        match &self.user {
            Some(u) => format!("{what} (user {u})"),
            None => what,
        }
    }

    fn validate(&self) -> Result<(), String> {
        match (&self.name, &self.cmdline) {
            (Some(n), None) if n.is_empty() || n.contains('/') => Err(format!(
                "invalid name `{n}`: expected a program name like uvicorn (use `cmdline` for a regex over the command line)"
            )),
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err(
                "a process check takes exactly one of `name` (exact program name) or `cmdline` (regex)"
                    .into(),
            ),
        }
    }
}

/// One process as sysinfo reads it from `/proc`.
#[derive(Debug, Clone)]
struct Proc {
    pid: u32,
    /// The kernel's `comm`, cut to 15 bytes.
    comm: String,
    argv: Vec<String>,
    exe: Option<String>,
    /// The effective uid (`ps -u`).
    uid: Option<u32>,
    zombie: bool,
    ppid: Option<u32>,
}

impl Proc {
    fn of(pid: u32, p: &sysinfo::Process) -> Proc {
        let exe = p.exe().map(|e| {
            let s = e.to_string_lossy().into_owned();
            s.strip_suffix(" (deleted)").map(str::to_owned).unwrap_or(s)
        });
        Proc {
            pid,
            comm: p.name().to_string_lossy().into_owned(),
            argv: p
                .cmd()
                .iter()
                .filter(|a| !a.is_empty())
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            exe,
            uid: p.effective_user_id().map(|u| **u),
            zombie: p.status() == sysinfo::ProcessStatus::Zombie,
            ppid: p.parent().map(|pp| pp.as_u32()),
        }
    }

    fn command_line(&self) -> String {
        if self.argv.is_empty() {
            format!("[{}]", self.comm)
        } else {
            self.argv.join(" ")
        }
    }
}

fn base_name(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

fn name_matches(p: &Proc, name: &str) -> bool {
    p.comm == name
        || p.argv.first().is_some_and(|a| base_name(a) == name)
        || p.exe.as_deref().is_some_and(|e| base_name(e) == name)
}

/// Every process on the host except this one — and except this one's
/// children that are still copies of it: another check spawning a program
/// (`journalctl`, `systemctl`) is, between fork and exec, a process with
/// opsrun's own command line, which holds the runbook's variables and
/// would match a `cmdline` pattern taken from them.
///
/// sysinfo reads `/proc` (the user named it; it gives what the hand-written
/// scan gave: `comm`, argv, the executable, the effective uid, the state,
/// the parent). Threads are left out (`without_tasks`: sysinfo would list
/// each thread as a process of its own), and a process that exits while it
/// is read is simply not counted.
fn scan() -> Result<Vec<Proc>, Failure> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, UpdateKind};
    let me = std::process::id();
    let my_exe = std::fs::read_link("/proc/self/exe")
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    let mut sys = sysinfo::System::new().map_err(|e| {
        Failure::unknown(
            Reason::new(&UNREADABLE)
                .with("path", "/proc")
                .with("error", e.to_string()),
        )
    })?;
    sys.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing()
            .without_tasks()
            .with_user(UpdateKind::Always)
            .with_cmd(UpdateKind::Always)
            .with_exe(UpdateKind::Always),
    );
    let mut out: Vec<Proc> = sys
        .processes()
        .iter()
        .filter(|(_, p)| p.thread_kind().is_none())
        .map(|(pid, p)| Proc::of(pid.as_u32(), p))
        .filter(|p| p.pid != me)
        .filter(|p| !(p.ppid == Some(me) && my_exe.is_some() && p.exe == my_exe))
        .collect();
    if out.is_empty() {
        // No process at all, not even init: /proc is not mounted (or not
        // readable) — say so rather than count 0.
        return Err(Failure::unknown(
            Reason::new(&UNREADABLE)
                .with("path", "/proc")
                .with("error", "no process listed"),
        ));
    }
    out.sort_by_key(|p| p.pid);
    Ok(out)
}

/// A user name from /etc/passwd, or a numeric uid, as a uid.
fn resolve_user(user: &str) -> Result<u32, Failure> {
    if let Ok(uid) = user.parse::<u32>() {
        return Ok(uid);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next()? == user).then(|| f.nth(1)?.parse().ok())?
        })
        .ok_or_else(|| Failure::unknown(Reason::new(&NO_USER).with("user", user)))
}

/// Masks `password=…`-style arguments before a command line is shown.
fn mask_args(cmd: &str) -> String {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"(?i)((?:pass(?:word)?|passwd|token|secret|api[_-]?key)[=:])\S+")
            .expect("static regex")
    });
    re.replace_all(cmd, "${1}***").into_owned()
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        format!("{}…", s.chars().take(max).collect::<String>())
    } else {
        s.to_owned()
    }
}

impl Process {
    async fn check(&self, _ctx: &Ctx) -> Result<Measurement, Failure> {
        let uid = self.user.as_deref().map(resolve_user).transpose()?;
        let procs = tokio::task::spawn_blocking(scan)
            .await
            .map_err(|e| Failure::unknown(Reason::new(&SCAN).with("error", e.to_string())))??;
        let users = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let user_name = |uid: u32| {
            users
                .lines()
                .find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_owned())
                })
                .unwrap_or_else(|| uid.to_string())
        };
        let matched: Vec<&Proc> = procs
            .iter()
            .filter(|p| !p.zombie)
            .filter(|p| match (&self.name, &self.cmdline) {
                (Some(n), _) => name_matches(p, n),
                (_, Some(re)) => !p.argv.is_empty() && re.is_match(&p.argv.join(" ")),
                _ => false,
            })
            .filter(|p| uid.is_none_or(|u| p.uid == Some(u)))
            .collect();
        Ok(self.evaluate(&matched, &user_name))
    }

    fn evaluate(&self, matched: &[&Proc], user_name: &dyn Fn(u32) -> String) -> Measurement {
        let n = matched.len();
        let th = self
            .count
            .clone()
            .unwrap_or_else(|| Threshold::new(Unit::Count, None, Some(0.0)));
        let value = match n {
            0 => crate::values::reason::said(&crate::values::reason::common::V_NONE),
            1 => crate::values::reason::said(&V_ONE),
            n => crate::values::reason::say(&Reason::new(&V_MANY).with("count", n)),
        };
        let mut out = Measurement::new(value).metric(
            Metric::new("count", n as f64, Unit::Count, Direction::LowerIsWorse)
                .held_to(th)
                .says(format!("process {}: {n} running", self.target())),
        );
        for p in matched.iter().take(SHOW) {
            let user = p.uid.map(user_name).unwrap_or_else(|| "?".into());
            out = out.detail(
                Reason::new(&D_PROCESS)
                    .with("pid", p.pid)
                    .with("user", user)
                    .with("command", shorten(&mask_args(&p.command_line()), 160)),
            );
        }
        if n > SHOW {
            out = out.detail(Reason::new(&D_MORE).with("more", n - SHOW));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(comm: &str, argv: &[&str], exe: Option<&str>) -> Proc {
        Proc {
            pid: 1,
            comm: comm.into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            exe: exe.map(str::to_owned),
            uid: Some(0),
            zombie: false,
            ppid: Some(0),
        }
    }

    #[test]
    fn long_names_match_argv0_or_exe() {
        let long = "estimator-worker-main";
        let pr = p(
            "estimator-worke",
            &["/opt/bin/estimator-worker-main", "-x"],
            None,
        );
        assert!(name_matches(&pr, long));
        assert!(!name_matches(&pr, "estimator-worker"));
        let pr = p(
            "estimator-worke",
            &["worker"],
            Some("/opt/bin/estimator-worker-main"),
        );
        assert!(name_matches(&pr, long));
        assert!(name_matches(&p("httpd", &[], None), "httpd"));
        assert!(!name_matches(&p("httpd2", &["httpd2"], None), "httpd"));
    }

    #[test]
    fn scan_finds_this_test_process_parent() {
        let all = scan().unwrap();
        assert!(!all.is_empty());
        assert!(!all.iter().any(|p| p.pid == std::process::id()));
    }

    #[test]
    fn masks_secrets_in_command_lines() {
        assert_eq!(
            mask_args("app --password=hunter2 --db-token:abc x"),
            "app --password=*** --db-token:*** x"
        );
    }

    #[test]
    fn users() {
        assert_eq!(resolve_user("root").unwrap(), 0);
        assert_eq!(resolve_user("1234").unwrap(), 1234);
        let f = resolve_user("no-such-user-xyz").unwrap_err();
        assert_eq!(f.reason.code.code, "process.no_user");
    }
}
