//! `opsrun man [SUB]` and `opsrun man --dir DIR`: opsrun(1) and one
//! opsrun-SUB(1) per subcommand (SPEC §10.7).
//!
//! clap_mangen renders what clap knows (NAME, SYNOPSIS, DESCRIPTION,
//! OPTIONS, the subcommand list); the sections a reader of a man page
//! looks for next — EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES, SEE ALSO —
//! are written here with the roff crate (which escapes), from the same
//! clap tree where it can: a page lists exactly the environment variables
//! of the options its command has, so a new option with `env = …` shows
//! up without touching this file. tests/it/man.rs runs every page through
//! `mandoc -Tlint`.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use roff::{Roff, bold, italic, roman};

use super::cli::Cli;
use super::{Error, Result, write_stdout};
use crate::exit;

/// Every page: `opsrun` first, then one per visible subcommand, and one
/// per visible subcommand of those (opsrun-fleet-report(1), as git names
/// git-remote-add's), as (file stem, command with its bin and display
/// names set by clap).
fn pages() -> Vec<(String, clap::Command)> {
    let mut top = Cli::command().disable_help_subcommand(true);
    top.build();
    let mut out = vec![("opsrun".to_owned(), top.clone())];
    for sub in visible(&top) {
        out.push((format!("opsrun-{}", sub.get_name()), sub.clone()));
        for nested in visible(sub) {
            out.push((
                format!("opsrun-{}-{}", sub.get_name(), nested.get_name()),
                nested.clone(),
            ));
        }
    }
    out
}

/// The subcommands with a page (not clap's `help`, not hidden ones).
fn visible(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
}

/// Prints one page, or writes them all under `dir`.
pub(super) fn command(sub: Option<&str>, dir: Option<&Path>) -> Result<i32> {
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            action: "create",
            path: dir.to_path_buf(),
            reason: crate::values::io_reason(&e),
        })?;
        let mut written = String::new();
        for (stem, cmd) in pages() {
            let path: PathBuf = dir.join(format!("{stem}.1"));
            crate::stdio::replace_file(&path, &render(&cmd)).map_err(|e| Error::Io {
                action: "write",
                path: path.clone(),
                reason: crate::values::io_reason(&e),
            })?;
            written.push_str(&format!("{}\n", path.display()));
        }
        write_stdout(&written);
        return Ok(exit::OK);
    }
    let want = sub.map_or("opsrun".to_owned(), |s| {
        // `opsrun man "fleet report"` as `opsrun man fleet-report`.
        let s = s.trim().replace(' ', "-");
        if s.starts_with("opsrun") {
            s
        } else {
            format!("opsrun-{s}")
        }
    });
    let all = pages();
    match all.iter().find(|(stem, _)| *stem == want) {
        Some((_, cmd)) => {
            write_stdout(&render(cmd));
            Ok(exit::OK)
        }
        None => {
            let names: Vec<&str> = all
                .iter()
                .skip(1)
                .map(|(s, _)| s.trim_start_matches("opsrun-"))
                .collect();
            crate::stdio::say_err!(
                "error: no man page for `{}` (one of: {})",
                sub.unwrap_or_default(),
                names.join(", ")
            );
            Ok(exit::UNKNOWN)
        }
    }
}

/// The date on every page: this release's. (A build date would make
/// two builds of one release differ; update it when the version changes.)
const RELEASED: &str = "2026-12-02";

/// The page of `cmd` as roff.
fn render(cmd: &clap::Command) -> String {
    let version = cmd.get_version().unwrap_or(env!("CARGO_PKG_VERSION"));
    let title = cmd
        .get_display_name()
        .unwrap_or(cmd.get_name())
        .to_uppercase();
    let man = clap_mangen::Man::new(cmd.clone())
        .title(title)
        .date(RELEASED)
        .source(format!("opsrun {version}"))
        .manual("opsrun manual");
    let mut page = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = man.render_title(&mut page);
    let _ = man.render_name_section(&mut page);
    let _ = man.render_synopsis_section(&mut page);
    let _ = man.render_description_section(&mut page);
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        let _ = man.render_options_section(&mut page);
    }
    if cmd.has_subcommands() {
        let _ = man.render_subcommands_section(&mut page);
    }
    // The page's key: `daily`, `fleet-report` (a nested command's own
    // name, `report`, would be another command's), `opsrun` for the top.
    let name = cmd
        .get_display_name()
        .unwrap_or(cmd.get_name())
        .trim_start_matches("opsrun-");
    let top = name == "opsrun";
    let mut r = Roff::new();
    exit_status(&mut r, name);
    environment(&mut r, cmd, top);
    files(&mut r, cmd, top);
    examples(&mut r, name);
    see_also(&mut r, cmd, top);
    let mut text = String::from_utf8_lossy(&page).into_owned();
    text.push_str(&r.to_roff());
    tidy(&text)
}

/// What `mandoc -Tlint` asks of the roff clap_mangen and roff write:
/// no blank line between two `.br` (a paragraph break inside `.TP`), no
/// trailing blanks, text lines of at most 80 bytes (broken at spaces; the
/// text is filled anyway, so the reader sees no difference).
fn tidy(roff: &str) -> String {
    let roff = roff.replace(".br\n\n.br\n", ".sp\n");
    let mut out = String::with_capacity(roff.len());
    for line in roff.lines() {
        let line = line.trim_end();
        if line.starts_with('.') || line.starts_with('\'') || bytes(line) <= 80 {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut current = String::new();
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            if !current.is_empty()
                && !current.ends_with('\\')
                && bytes(&current) + 1 + bytes(word) > 80
            {
                push_text(&mut out, &current);
                current.clear();
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        push_text(&mut out, &current);
    }
    out
}

/// A line's length as mandoc counts it: a non-ASCII character is read
/// as its `\[uXXXX]` escape, eight bytes.
fn bytes(s: &str) -> usize {
    s.chars().map(|c| if c.is_ascii() { 1 } else { 8 }).sum()
}

/// A text line; one that would start with `.` or `'` is guarded with
/// `\&` so it is not read as a request.
fn push_text(out: &mut String, line: &str) {
    if line.starts_with('.') || line.starts_with('\'') {
        out.push_str("\\&");
    }
    out.push_str(line);
    out.push('\n');
}

fn section(r: &mut Roff, title: &str) {
    r.control("SH", [title]);
}

/// `.TP` item: a bold term, then its description.
fn item(r: &mut Roff, term: &str, text: &str) {
    r.control("TP", []);
    r.text([bold(term)]);
    r.text([roman(text)]);
}

/// Whether `cmd` (or, for the top page, any subcommand) has the option `long`.
fn has(cmd: &clap::Command, long: &str) -> bool {
    cmd.get_arguments().any(|a| a.get_long() == Some(long))
        || cmd.get_subcommands().any(|s| has(s, long))
}

fn runs_checks(name: &str) -> bool {
    matches!(
        name,
        "opsrun" | "daily" | "weekly" | "monthly" | "incident" | "backup" | "run"
    )
}

fn exit_status(r: &mut Roff, name: &str) {
    section(r, "EXIT STATUS");
    if name == "incident" {
        item(
            r,
            "0",
            "With --execute: verify passed (復旧済み). Without: every diagnostic check passed.",
        );
        item(
            r,
            "1",
            "With --execute: verify passed although a step failed (the plan stopped there; \
             the 障害報告 lists that step under 次のアクション). Without: some check warned.",
        );
        item(
            r,
            "2",
            "With --execute: verify did not pass (継続中). Without: some check failed.",
        );
        item(
            r,
            "3",
            "Some diagnostic check is unknown, the runbook or the arguments are invalid, \
             --execute was refused (no terminal and no --yes), or the report could not be written.",
        );
        item(
            r,
            "130, 143",
            "Interrupted by SIGINT or SIGTERM; the 障害報告 says which step was interrupted (中断).",
        );
    } else if runs_checks(name) {
        item(r, "0", "Every check passed.");
        item(r, "1", "Some check warned, none failed.");
        item(r, "2", "Some check failed.");
        item(
            r,
            "3",
            "Some check is unknown (it could not be measured), or the runbook or the \
             arguments are invalid, or a report could not be written (stdout or --output \
             on a full disk). A closed pipe (| head) is not an error.",
        );
        item(
            r,
            "130, 143",
            "Interrupted by SIGINT or SIGTERM; the results so far are printed and recorded.",
        );
    } else if name == "fleet-report" || name == "fleet" {
        item(
            r,
            "0",
            "Every check of every host passed, and no host is stale or down.",
        );
        item(
            r,
            "1",
            "Some check warned; none failed, no host is stale or down.",
        );
        item(
            r,
            "2",
            "Some check failed, or some host is stale (its newest run is older than --stale) \
             or its scrape target is down.",
        );
        item(
            r,
            "3",
            "Some check is unknown; or Prometheus could not give the fleet (unreachable, \
             --timeout, an error answer, a bad --match, no opsrun series): one line on stderr \
             starting with error:.",
        );
    } else if name == "serve" {
        item(
            r,
            "3",
            "The runbooks or the arguments are invalid, or --listen cannot be used (not an \
             address, or in use); one line on stderr starting with error:. Nothing was served.",
        );
        item(
            r,
            "130, 143",
            "Stopped by SIGINT or SIGTERM, the way serving ends: no new connection or run, \
             the run in progress interrupted and recorded, gone within 2.5 s.",
        );
    } else if name == "validate" {
        item(r, "0", "Every runbook (and config.yaml) loads.");
        item(
            r,
            "3",
            "Some runbook is invalid; each error is one line on stderr with file:line:col.",
        );
    } else {
        item(r, "0", "Success.");
        item(r, "3", "An error, one line on stderr starting with error:.");
    }
}

fn environment(r: &mut Roff, cmd: &clap::Command, top: bool) {
    section(r, "ENVIRONMENT");
    let mut seen = std::collections::BTreeSet::new();
    let mut args: Vec<&clap::Arg> = cmd.get_arguments().collect();
    if top {
        args.extend(cmd.get_subcommands().flat_map(|s| s.get_arguments()));
    }
    for a in args {
        let (Some(env), Some(long)) = (a.get_env(), a.get_long()) else {
            continue;
        };
        let env = env.to_string_lossy().into_owned();
        if seen.insert(env.clone()) {
            item(r, &env, &format!("The default of --{long}."));
        }
    }
    if top || has(cmd, "color") {
        item(
            r,
            "NO_COLOR",
            "When set and not empty, the table is not coloured (as --color never).",
        );
        item(
            r,
            "COLUMNS",
            "The width the table is laid out for when stdout is not a terminal; \
             below 100 columns the TITLE column is dropped.",
        );
    }
    if top || has(cmd, "lang") {
        item(
            r,
            "LC_ALL, LC_MESSAGES, LANG",
            "The default of --lang: ja… chooses Japanese words, anything else English.",
        );
    }
    if top || has(cmd, "reporter") {
        item(r, "USER", "The default 担当者 (--reporter).");
    }
    if top || has(cmd, "history") {
        item(
            r,
            "XDG_STATE_HOME",
            "Where the history database is kept when OPSRUN_HISTORY is not set \
             ($XDG_STATE_HOME/opsrun/history.db).",
        );
    }
    item(
        r,
        "OPSRUN_LOG",
        "Diagnostic logging on stderr, in tracing's filter syntax (debug, opsrun=trace). \
         Unset, only opsrun's own warnings are printed; libraries stay quiet.",
    );
    if top || name_is(cmd, "completions") {
        item(
            r,
            "COMPLETE",
            "Set by the completion script to a shell name (bash, zsh, fish) when the shell \
             asks for candidates; any other value is ignored.",
        );
    }
    if top || runs_checks(cmd.get_name()) || name_is(cmd, "serve") {
        r.text([
            roman("Runbooks read other variables with "),
            bold("${env:NAME}"),
            roman(" (passwords, tokens); those are the runbook's, not opsrun's."),
        ]);
    }
}

fn name_is(cmd: &clap::Command, name: &str) -> bool {
    cmd.get_name() == name
}

fn files(r: &mut Roff, cmd: &clap::Command, top: bool) {
    let dir = top || has(cmd, "runbooks");
    let history = top || has(cmd, "history");
    if !dir && !history {
        return;
    }
    section(r, "FILES");
    if dir {
        item(
            r,
            "./runbooks/, /etc/opsrun/runbooks/",
            "The runbook directory when -C/OPSRUN_RUNBOOKS is not given: ./runbooks if it \
             exists, else /etc/opsrun/runbooks.",
        );
        item(
            r,
            "DIR/NAME.yaml",
            "A runbook: daily.yaml, weekly.yaml, monthly.yaml, incident-p1.yaml … \
             incident-p4.yaml, backup.yaml, or any NAME for opsrun run NAME.",
        );
        item(
            r,
            "DIR/config.yaml",
            "Settings shared by the runbooks of the directory (notify, report, timezone).",
        );
    }
    if history {
        item(
            r,
            "/var/lib/opsrun/history.db",
            "The history database when run as root (SQLite, WAL); otherwise \
             ~/.local/state/opsrun/history.db. Copy it with sqlite3's .backup, not cp.",
        );
    }
}

/// Hand-written examples, the ones an operator types first.
fn examples(r: &mut Roff, name: &str) {
    let list: &[(&str, &str)] = match name {
        "opsrun" => &[
            (
                "opsrun daily",
                "The morning check: the table on a terminal.",
            ),
            (
                "opsrun daily -q -f report --notify",
                "From cron: print (and mail) the 日次運用レポート only when something is wrong.",
            ),
            (
                "opsrun incident p1",
                "In an outage: diagnose and print the 障害報告.",
            ),
            (
                "opsrun validate",
                "Check every runbook before committing it.",
            ),
        ],
        "daily" | "weekly" | "monthly" => &[
            ("opsrun daily", "Run daily.yaml from the runbook directory."),
            (
                "opsrun daily -f report",
                "The 日次運用レポート to paste into Slack or mail.",
            ),
            (
                "opsrun daily --output prometheus=/var/lib/node_exporter/textfile/opsrun.prom",
                "Also write metrics for node_exporter's textfile collector.",
            ),
            (
                "opsrun weekly -f report",
                "The weekly report, from history.",
            ),
            (
                "opsrun daily --only web,db -v",
                "Two checks, with detail lines.",
            ),
        ],
        "incident" => &[
            (
                "opsrun incident p1",
                "Diagnose and print the 障害報告; changes nothing.",
            ),
            (
                "opsrun incident p1 --execute",
                "Also run the recovery steps, asking y/N for each on the terminal.",
            ),
            (
                "opsrun incident p2 --since 08:40 -f report",
                "An incident that began at 08:40, as a 障害報告.",
            ),
        ],
        "backup" => &[
            ("opsrun backup run", "Make a generation, then verify it."),
            (
                "opsrun backup restore-test",
                "Restore the newest generation to a temp dir and check it.",
            ),
            (
                "opsrun backup prune",
                "List generations past keep_days; --execute deletes them.",
            ),
        ],
        "run" => &[
            (
                "opsrun run probe",
                "Run probe.yaml from the runbook directory.",
            ),
            ("opsrun run ./app.yaml -f json", "A runbook file, as JSON."),
        ],
        "validate" => &[
            ("opsrun validate", "Every runbook of the runbook directory."),
            (
                "opsrun validate -C /etc/opsrun/runbooks new.yaml",
                "One file.",
            ),
        ],
        "list" => &[("opsrun list", "The runbooks and their checks.")],
        "history" => &[
            ("opsrun history", "The last runs."),
            (
                "opsrun history --check disk-root --since 7d",
                "One check over a week, with a sparkline.",
            ),
        ],
        "report" => &[
            (
                "opsrun report weekly",
                "The weekly report from history, running nothing.",
            ),
            ("opsrun report monthly --month 2026-10", "October's report."),
        ],
        "completions" => &[
            (
                "source <(opsrun completions bash)",
                "Completion in this bash.",
            ),
            (
                "opsrun completions fish > ~/.config/fish/completions/opsrun.fish",
                "Completion for fish.",
            ),
        ],
        "fleet" | "fleet-report" => &[
            (
                "opsrun fleet report --prometheus http://prometheus:9090",
                "The fleet report in Japanese: hosts × runbooks, the checks not passing, \
                 stale hosts and hosts down.",
            ),
            (
                "opsrun fleet report --prometheus http://prometheus:9090 --match '{job=\"node\"}' -f markdown",
                "Only job node's hosts, as Markdown for Slack or a wiki.",
            ),
            (
                "opsrun fleet report --prometheus http://prometheus:9090 -f json | jq '.problems'",
                "Every check not passing, as JSON.",
            ),
            (
                "opsrun fleet report --prometheus http://prometheus:9090 -f html > fleet.html",
                "One self-contained page to mail or put on a share.",
            ),
            (
                "opsrun fleet report --prometheus http://prometheus:9090 --lang en --stale 3d",
                "In English, a host stale after three days (a weekly runbook's fleet).",
            ),
        ],
        "serve" => &[
            (
                "opsrun serve",
                "daily.yaml every minute; health, metrics, the latest run and report on \
                 http://127.0.0.1:9810.",
            ),
            (
                "opsrun serve --listen 0.0.0.0:9810 --runbook daily,backup --interval 5m",
                "Two runbooks every 5 minutes, on every interface.",
            ),
            (
                "curl -fsS http://127.0.0.1:9810/healthz",
                "200 when no check of the latest runs fails, else 503; JSON naming the failing checks.",
            ),
            (
                "curl -s http://127.0.0.1:9810/report",
                "The latest 日次運用レポート (?format=html: as the page of -f html).",
            ),
        ],
        "man" => &[
            ("opsrun man daily | man -l -", "Read opsrun-daily(1)."),
            (
                "opsrun man --dir /usr/local/share/man/man1",
                "Install every page.",
            ),
        ],
        _ => &[],
    };
    if list.is_empty() {
        return;
    }
    section(r, "EXAMPLES");
    for (line, what) in list {
        r.control("TP", []);
        r.text([bold(*line)]);
        r.text([roman(*what)]);
    }
}

fn see_also(r: &mut Roff, cmd: &clap::Command, top: bool) {
    section(r, "SEE ALSO");
    let mut refs = Vec::new();
    if top {
        for s in visible(cmd) {
            refs.push(format!("opsrun-{}", s.get_name()));
            for nested in visible(s) {
                refs.push(format!("opsrun-{}-{}", s.get_name(), nested.get_name()));
            }
        }
    } else {
        refs.push("opsrun".to_owned());
        let stem = format!("opsrun-{}", cmd.get_name());
        for nested in visible(cmd) {
            refs.push(format!("{stem}-{}", nested.get_name()));
        }
    }
    let mut line = Vec::new();
    for (i, name) in refs.iter().enumerate() {
        if i > 0 {
            line.push(roman(", "));
        }
        line.push(bold(name.as_str()));
        line.push(roman("(1)"));
    }
    r.text(line);
    r.control("PP", []);
    r.text([
        roman("README.md and "),
        italic("docs/"),
        roman(
            " in opsrun's source: the runbook keys, reason codes (docs/reasons.md), \
               reports (docs/reports.md) and what opsrun writes (docs/hardening.md).",
        ),
    ]);
}
