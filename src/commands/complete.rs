//! Shell completion that knows the runbooks (SPEC §10.7): `run <TAB>`
//! offers runbook names, `--only`/`--skip` the check ids and `--tag` the
//! tags of the runbook the command line names, read from the runbook
//! directory at the moment of the TAB.
//!
//! This is clap_complete's dynamic ("env") completion: the script that
//! `opsrun completions SHELL` prints (the same as `COMPLETE=SHELL opsrun`)
//! calls `COMPLETE=SHELL opsrun -- <words>` on each TAB, and opsrun answers
//! from its own clap tree, so hidden options (`--now`) are never offered
//! and the candidates are always those of the installed binary. The
//! feature is marked unstable upstream; Cargo.lock pins the version and
//! tests/it/completions.rs drives real bash, zsh and fish through it.
//!
//! `COMPLETE` only switches completion on when it names a shell clap
//! knows: a stray `COMPLETE=1` in a cron environment must not turn a daily
//! run into a silent no-op.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::engine::{CompletionCandidate, PathCompleter, ValueCompleter};
use clap_complete::env::Shells;

use super::cli::Cli;
use crate::exit;

/// The variable the registration script sets when it asks for candidates.
const VAR: &str = "COMPLETE";

/// Answers a completion request when the shell's hook started this
/// process (`COMPLETE=bash opsrun -- opsrun daily --only `); `None` for
/// an ordinary run.
pub(crate) fn answer_if_asked() -> Option<i32> {
    let shell = std::env::var(VAR).ok()?;
    let shells = Shells::builtins();
    let shell = shells.completer(&shell)?;
    let args: Vec<OsString> = std::env::args_os().collect();
    let mut out = Vec::new();
    let done = match args.iter().position(|a| a == "--") {
        None => shell.write_registration(VAR, "opsrun", "opsrun", "opsrun", &mut out),
        Some(i) => {
            let mut cmd = Cli::command();
            cmd.build();
            let cwd = std::env::current_dir().ok();
            shell.write_complete(&mut cmd, args[i + 1..].to_vec(), cwd.as_deref(), &mut out)
        }
    };
    match done {
        Ok(()) => {
            crate::stdio::out(&String::from_utf8_lossy(&out));
            Some(exit::OK)
        }
        Err(e) => {
            crate::stdio::say_err!("error: completion: {e}");
            Some(exit::UNKNOWN)
        }
    }
}

/// The script `opsrun completions SHELL` prints: the shell's hook that
/// asks `opsrun` (found on PATH at TAB time, so an upgrade needs no new
/// script) for candidates.
pub(crate) fn registration(shell: clap_complete::Shell) -> Result<String, std::io::Error> {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let Some(hook) = shells.completer(&name) else {
        return Err(std::io::Error::other(format!(
            "no dynamic completion for {name}"
        )));
    };
    let mut out = Vec::new();
    hook.write_registration(VAR, "opsrun", "opsrun", "opsrun", &mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The words of the command line being completed (after `--`, without
/// the program name); empty outside completion.
fn words() -> Vec<String> {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match args.iter().position(|a| a == "--") {
        Some(i) => args.into_iter().skip(i + 2).collect(),
        None => Vec::new(),
    }
}

/// The runbook directory the command line names (`-C DIR`,
/// `--runbooks=DIR`), else `OPSRUN_RUNBOOKS`, else the default.
fn directory(words: &[String]) -> PathBuf {
    let mut given = None;
    let mut it = words.iter();
    while let Some(w) = it.next() {
        if w == "-C" || w == "--runbooks" {
            given = it.next().map(PathBuf::from);
        } else if let Some(d) = w.strip_prefix("--runbooks=") {
            given = Some(PathBuf::from(d));
        } else if let Some(d) = w.strip_prefix("-C").filter(|d| !d.is_empty()) {
            given = Some(PathBuf::from(d));
        }
    }
    let runbooks = given.or_else(|| std::env::var_os("OPSRUN_RUNBOOKS").map(PathBuf::from));
    super::plan::runbook_dir(&super::cli::DirArg { runbooks })
}

/// The runbook files the command line is about: `daily` → daily.yaml,
/// `incident p2` → incident-p2.yaml, `run a b.yaml` → those; every
/// runbook in the directory when it names none that exists.
fn runbooks(words: &[String], dir: &Path) -> Vec<PathBuf> {
    let in_dir = |name: &str| {
        ["yaml", "yml"]
            .iter()
            .map(|e| dir.join(format!("{name}.{e}")))
            .find(|p| p.is_file())
    };
    let sub = words.iter().position(|w| {
        matches!(
            w.as_str(),
            "daily" | "weekly" | "monthly" | "incident" | "backup" | "run"
        )
    });
    let named: Vec<PathBuf> = match sub.map(|i| (words[i].as_str(), &words[i + 1..])) {
        Some(("incident", rest)) => rest
            .iter()
            .find(|w| matches!(w.as_str(), "p1" | "p2" | "p3" | "p4"))
            .and_then(|l| in_dir(&format!("incident-{l}")))
            .into_iter()
            .collect(),
        Some(("run", rest)) => rest
            .iter()
            .filter(|w| !w.starts_with('-'))
            .filter_map(|w| {
                let p = PathBuf::from(w);
                if p.is_file() { Some(p) } else { in_dir(w) }
            })
            .collect(),
        Some((name, _)) => in_dir(name).into_iter().collect(),
        None => Vec::new(),
    };
    if named.is_empty() {
        super::plan::runbook_files(dir)
    } else {
        named
    }
}

/// `(value, help)` pairs from the runbooks of the command line being
/// completed; a runbook that does not load offers nothing (the TAB is no
/// place for its error).
fn from_runbooks(
    pick: impl Fn(&crate::runbook::Runbook) -> Vec<(String, String)>,
) -> Vec<(String, String)> {
    let words = words();
    let dir = directory(&words);
    let mut seen = BTreeMap::new();
    for file in runbooks(&words, &dir) {
        if let Ok(rb) = crate::runbook::load(&file, &BTreeMap::new()) {
            for (value, help) in pick(&rb) {
                seen.entry(value).or_insert(help);
            }
        }
    }
    seen.into_iter().collect()
}

fn candidates(found: Vec<(String, String)>, current: &OsStr) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    found
        .into_iter()
        .filter(|(v, _)| v.starts_with(current.as_ref()))
        .map(|(v, help)| {
            let c = CompletionCandidate::new(v);
            if help.is_empty() {
                c
            } else {
                c.help(Some(help.into()))
            }
        })
        .collect()
}

/// `--only`/`--skip`: check ids, each with its title as the help.
#[derive(Clone, Copy)]
pub(crate) struct CheckIds;

impl ValueCompleter for CheckIds {
    fn complete(&self, current: &OsStr) -> Vec<CompletionCandidate> {
        let found = from_runbooks(|rb| {
            rb.checks
                .iter()
                .map(|c| (c.id.clone(), c.title.clone()))
                .collect()
        });
        candidates(found, current)
    }
}

/// `--tag`: the tags the runbooks use.
#[derive(Clone, Copy)]
pub(crate) struct Tags;

impl ValueCompleter for Tags {
    fn complete(&self, current: &OsStr) -> Vec<CompletionCandidate> {
        let found = from_runbooks(|rb| {
            rb.checks
                .iter()
                .flat_map(|c| c.tags.iter().map(|t| (t.clone(), String::new())))
                .collect()
        });
        candidates(found, current)
    }
}

/// `run FILE|NAME` and `--runbook NAME`: the runbook names in the
/// directory (with their titles), then files as usual.
#[derive(Clone, Copy)]
pub(crate) struct RunbookNames {
    /// Also offer files (`run` takes a path too).
    pub(crate) files: bool,
}

impl ValueCompleter for RunbookNames {
    fn complete(&self, current: &OsStr) -> Vec<CompletionCandidate> {
        let dir = directory(&words());
        let found = super::plan::runbook_files(&dir)
            .into_iter()
            .filter_map(|p| {
                let name = p.file_stem()?.to_string_lossy().into_owned();
                let title = crate::runbook::load(&p, &BTreeMap::new())
                    .map(|rb| rb.title)
                    .unwrap_or_default();
                Some((name, title))
            })
            .collect();
        let mut out = candidates(found, current);
        if self.files {
            out.extend(PathCompleter::any().complete(current));
        }
        out
    }
}
