//! The command line (SPEC §1). Doc comments here are the `--help` text.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate};
use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCompleter;

use super::complete::{CheckIds, RunbookNames, Tags};

use crate::output::fleet::FleetFormat;
use crate::output::{Format, WarnAs};
use crate::values::PeriodKind;

/// Execute operations runbooks: typed checks, a pass/warn/fail table and
/// Japanese ops reports.
///
/// Exit codes: 0 all passed · 1 some warn · 2 some fail · 3 unknown, or the
/// runbook/arguments are invalid · 130/143 interrupted by SIGINT/SIGTERM.
#[derive(Debug, Parser)]
#[command(
    name = "opsrun",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Language of the table, markdown, nagios and JSON messages (reports are Japanese) [default: from LC_ALL/LC_MESSAGES/LANG: ja* → ja, else en]
    #[arg(long, global = true, value_enum, value_name = "LANG")]
    pub lang: Option<crate::output::words::Lang>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daily runbook (daily.yaml in the runbook directory)
    Daily(RunArgs),
    /// Run the weekly runbook (weekly.yaml)
    Weekly(RunArgs),
    /// Run the monthly runbook (monthly.yaml)
    Monthly(RunArgs),
    /// Incident response: diagnose, show or run the recovery steps, print the 障害報告;
    /// `incident close` and `incident list` for the incidents in history
    Incident(IncidentCmd),
    /// Backups (backup.yaml): make a generation, verify it, test a restore, prune old ones
    Backup {
        /// run: make a new generation, then the checks · verify: the checks only ·
        /// restore-test: copy the newest generation to a temp dir and check its databases ·
        /// prune: list (or with --execute delete) generations past keep_days
        #[arg(value_enum, default_value_t = BackupAction::Verify)]
        action: BackupAction,
        /// prune: really delete (without it, only print what would be deleted)
        #[arg(long)]
        execute: bool,
        #[command(flatten)]
        args: RunArgs,
    },
    /// Run runbook files, or runbooks by NAME from the runbook directory
    Run {
        /// A runbook file, or the NAME of NAME.yaml in the runbook directory
        #[arg(required = true, value_name = "FILE|NAME",
              add = ArgValueCompleter::new(RunbookNames { files: true }))]
        targets: Vec<String>,
        #[command(flatten)]
        args: RunArgs,
    },
    /// Load and check runbooks without running anything (exit 0 or 3)
    Validate {
        /// Runbook files or directories [default: the runbook directory]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        dir: DirArg,
        /// Variable overrides, as for running
        #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
        vars: Vec<(String, String)>,
    },
    /// List the runbooks found and their checks
    List {
        #[command(flatten)]
        dir: DirArg,
    },
    /// Past runs, or one check's results over time (numbers as a sparkline)
    History(HistoryCmd),
    /// Render a daily, weekly or monthly report from history, running nothing
    Report(ReportCmd),
    /// Maintenance windows from the command line: failures inside one show as MAINT (計画停止)
    Silence(SilenceCmd),
    /// Read a fleet's latest results from Prometheus (every host's opsrun textfile): one report
    Fleet(FleetCmd),
    /// Run runbooks on an interval and serve /healthz, /metrics, the latest run (JSON) and report over HTTP
    ///
    /// Each runbook runs at once, then every --interval; a run never starts while the
    /// runbook's previous one still goes (that tick is skipped and said so). GET /healthz:
    /// 200 when the latest run of every served runbook has no failing check, else 503, with
    /// JSON naming the failing checks. /metrics: the Prometheus families of
    /// --output prometheus=… and the server's counters. /api/v1/runs/latest: the run as
    /// -f json prints it. /report: the latest report (?format=html: as -f html). Runs are
    /// recorded in history as any run; with --notify a runbook notifies when its status
    /// changes. SIGTERM or SIGINT stops it within 2.5 s (exit 143/130).
    Serve(ServeCmd),
    /// Print the shell completion script (completes runbook names, check ids and tags)
    Completions {
        /// bash, zsh, fish (also elvish, powershell)
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff) on stdout, or write every page to a directory
    Man {
        /// The subcommand whose page to print (opsrun-SUB(1)) [default: opsrun(1)]
        #[arg(value_name = "SUBCOMMAND", conflicts_with = "dir")]
        sub: Option<String>,
        /// Write opsrun.1 and opsrun-SUB.1 for every subcommand into DIR
        #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
        dir: Option<PathBuf>,
    },
}

/// `opsrun -C DIR daily` as `opsrun daily -C DIR`: the runbook directory
/// is an option of each subcommand that reads runbooks, and users (and
/// `git -C`, `make -C`) put it first. Only a leading `-C DIR`,
/// `-CDIR`, `--runbooks DIR` or `--runbooks=DIR` moves, to just after
/// the subcommand's name; a subcommand without `-C` then says so as
/// clap does for any unknown option.
pub fn runbooks_first(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let Some(first) = args.get(1).and_then(|a| a.to_str()) else {
        return args;
    };
    let takes = match first {
        "-C" | "--runbooks" => 2,
        f if (f.starts_with("-C") && f.len() > 2) || f.starts_with("--runbooks=") => 1,
        _ => return args,
    };
    if args.len() <= 1 + takes {
        return args;
    }
    let moved: Vec<_> = args.drain(1..1 + takes).collect();
    // args[1] is now the subcommand's name.
    let at = 2.min(args.len());
    args.splice(at..at, moved);
    args
}

#[derive(Debug, Args, Clone)]
pub struct DirArg {
    /// Runbook directory [default: ./runbooks if it exists, else /etc/opsrun/runbooks]
    #[arg(
        short = 'C',
        long = "runbooks",
        env = "OPSRUN_RUNBOOKS",
        value_name = "DIR",
        value_hint = clap::ValueHint::DirPath
    )]
    pub runbooks: Option<PathBuf>,
}

/// Options shared by every command that runs checks.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub dir: DirArg,

    /// Output format on stdout
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Also write format F to PATH (repeatable), e.g. prometheus=/var/lib/node_exporter/opsrun.prom
    #[arg(long = "output", value_name = "F=PATH", value_parser = parse_output)]
    pub outputs: Vec<(Format, PathBuf)>,

    /// JUnit: how a warn appears (pass with a note, or a failure)
    #[arg(long, value_enum, default_value_t = WarnAs::Pass, value_name = "AS")]
    pub junit_warn: WarnAs,

    /// Run only these checks (comma-separated ids)
    #[arg(long, value_delimiter = ',', value_name = "ID,..", add = ArgValueCompleter::new(CheckIds))]
    pub only: Vec<String>,

    /// Skip these checks (comma-separated ids)
    #[arg(long, value_delimiter = ',', value_name = "ID,..", add = ArgValueCompleter::new(CheckIds))]
    pub skip: Vec<String>,

    /// Run only checks with one of these tags
    #[arg(long, value_delimiter = ',', value_name = "T,..", add = ArgValueCompleter::new(Tags))]
    pub tag: Vec<String>,

    /// Set or override a runbook variable (repeatable)
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    /// Checks in flight at once
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,

    /// Print nothing when every check passes (cron mails only problems)
    #[arg(short, long)]
    pub quiet: bool,

    /// More detail per check (raw observations, target, timings)
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Colour: auto (TTY and no NO_COLOR), always, never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Fix the clock (RFC 3339), for reports, windows and tests
    #[arg(long, hide = true, value_parser = parse_now, value_name = "RFC3339")]
    pub now: Option<DateTime<FixedOffset>>,

    #[command(flatten)]
    pub record: RecordArgs,

    /// 担当者 in checklists and reports [default: $USER]
    #[arg(long, value_name = "NAME")]
    pub reporter: Option<String>,

    /// Send the `notify:` email/Slack notifications when the run's status matches `on:`
    #[arg(long)]
    pub notify: bool,
}

/// Where history is.
#[derive(Debug, Args, Clone)]
pub struct HistoryPath {
    /// History database [default: $XDG_STATE_HOME/opsrun/history.db; as root /var/lib/opsrun/history.db]
    #[arg(long = "history", env = "OPSRUN_HISTORY", value_name = "PATH",
          value_hint = clap::ValueHint::FilePath)]
    pub history: Option<PathBuf>,
}

/// How a run is recorded in history.
#[derive(Debug, Args, Clone)]
pub struct RecordArgs {
    #[command(flatten)]
    pub path: HistoryPath,

    /// Do not record this run (reports still read existing history)
    #[arg(long)]
    pub no_history: bool,

    /// Drop history older than this when recording
    #[arg(
        long = "history-retention",
        env = "OPSRUN_HISTORY_RETENTION",
        value_name = "DURATION",
        default_value = "400d",
        value_parser = parse_duration_arg
    )]
    pub retention: Duration,
}

/// `opsrun incident p1..p4`, `incident close`, `incident list`.
#[derive(Debug, Args, Clone)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct IncidentCmd {
    #[command(subcommand)]
    pub action: Option<IncidentAction>,
    /// Incident level: runs incident-pN.yaml
    #[arg(value_enum, required = true)]
    pub level: Option<LevelArg>,
    /// Run the recovery actions (asks y/N per step on a terminal)
    #[arg(long)]
    pub execute: bool,
    /// With --execute: run every step without asking (needed without a terminal)
    #[arg(long, requires = "execute")]
    pub yes: bool,
    /// Open a new incident even if one of this system is open (else the call joins it)
    #[arg(long)]
    pub new: bool,
    /// When the incident began: HH:MM (JST), a duration ago like 15m, or RFC 3339
    /// [default: when the open incident began, else now]
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    #[command(flatten)]
    pub args: RunArgs,
}

#[derive(Debug, Subcommand, Clone)]
pub enum IncidentAction {
    /// Close an incident: ID, or the one open incident of the incident runbooks' system
    Close(IncidentClose),
    /// Incidents opened in the window, and every one still open
    List(IncidentList),
}

#[derive(Debug, Args, Clone)]
pub struct IncidentClose {
    /// The incident's number (`opsrun incident list`) [default: the open one]
    pub id: Option<i64>,
    /// What was done, for the record
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    #[command(flatten)]
    pub at: HistoryAt,
}

#[derive(Debug, Args, Clone)]
pub struct IncidentList {
    /// How far back to look (incidents still open are listed whatever their age)
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_duration_arg)]
    pub since: Duration,
    /// Output format
    #[arg(short = 'f', long, value_enum, default_value_t = HistoryFormat::Table)]
    pub format: HistoryFormat,
    /// Also write format F (table or json) to PATH (repeatable)
    #[arg(long = "output", value_name = "F=PATH", value_parser = parse_output)]
    pub outputs: Vec<(Format, PathBuf)>,
    #[command(flatten)]
    pub at: HistoryAt,
}

/// `opsrun history`.
#[derive(Debug, Args, Clone)]
pub struct HistoryCmd {
    #[command(flatten)]
    pub path: HistoryPath,

    /// Only runs of this runbook
    #[arg(long, value_name = "NAME", add = ArgValueCompleter::new(RunbookNames { files: false }))]
    pub runbook: Option<String>,

    /// One check's results over time
    #[arg(long, value_name = "ID", add = ArgValueCompleter::new(CheckIds))]
    pub check: Option<String>,

    /// How far back to look
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_duration_arg)]
    pub since: Duration,

    /// Rows shown at most (the newest)
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub limit: usize,

    /// Output format
    #[arg(short = 'f', long, value_enum, default_value_t = HistoryFormat::Table)]
    pub format: HistoryFormat,

    /// Also write format F (table or json) to PATH (repeatable)
    #[arg(long = "output", value_name = "F=PATH", value_parser = parse_output)]
    pub outputs: Vec<(Format, PathBuf)>,

    /// Fix the clock (RFC 3339), for tests
    #[arg(long, hide = true, value_parser = parse_now, value_name = "RFC3339")]
    pub now: Option<DateTime<FixedOffset>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    Table,
    Json,
}

/// `opsrun serve` (SPEC §10.7; README "opsrun serve").
#[derive(Debug, Args, Clone)]
pub struct ServeCmd {
    #[command(flatten)]
    pub dir: DirArg,

    /// Address to listen on (HOST:PORT; port 0 picks a free port, printed on stderr)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9810")]
    pub listen: String,

    /// Runbook to run and serve: a NAME in the runbook directory or a file (repeatable, or comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "NAME", default_value = "daily",
          add = ArgValueCompleter::new(RunbookNames { files: true }))]
    pub runbook: Vec<String>,

    /// How often each runbook runs (the first run starts at once); at least 1s
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = parse_interval)]
    pub interval: Duration,

    /// Set or override a runbook variable (repeatable)
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    /// Checks in flight at once, per run
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,

    #[command(flatten)]
    pub record: RecordArgs,

    /// 担当者 in the served report [default: $USER]
    #[arg(long, value_name = "NAME")]
    pub reporter: Option<String>,

    /// Send the `notify:` email/Slack notifications when a runbook's status changes (not on every run)
    #[arg(long)]
    pub notify: bool,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = crate::values::units::parse_duration(s)?;
    if d < Duration::from_secs(1) {
        return Err(format!("expected at least 1s, got `{s}`"));
    }
    Ok(d)
}

/// `opsrun report`.
#[derive(Debug, Args, Clone)]
pub struct ReportCmd {
    /// Which report
    #[arg(value_enum)]
    pub period: PeriodKind,

    /// The day (daily), or the last of the seven days (weekly) [today]
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date, conflicts_with = "month")]
    pub date: Option<NaiveDate>,

    /// The month (monthly) [the month of yesterday: on the 1st, the month that ended]
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
    pub month: Option<(i32, u32)>,

    /// The runbook whose runs are reported [daily, weekly or monthly]
    #[arg(long, value_name = "NAME", add = ArgValueCompleter::new(RunbookNames { files: false }))]
    pub runbook: Option<String>,

    /// Output format
    #[arg(short = 'f', long, value_enum, default_value_t = JaFormat::Report)]
    pub format: JaFormat,

    /// 担当者 in the checklist [default: $USER]
    #[arg(long, value_name = "NAME")]
    pub reporter: Option<String>,

    #[command(flatten)]
    pub at: HistoryAt,
}

/// `opsrun fleet`.
#[derive(Debug, Args, Clone)]
pub struct FleetCmd {
    #[command(subcommand)]
    pub action: FleetAction,
}

#[derive(Debug, Subcommand, Clone)]
pub enum FleetAction {
    /// The fleet report: hosts × runbooks, checks not passing, stale hosts, hosts down
    ///
    /// Reads every host's opsrun_* series (its `--output prometheus=PATH` file, served by
    /// node_exporter's textfile collector) from Prometheus with two instant queries, and prints
    /// one report: Japanese unless --lang en. A host is its `instance` label; it is stale when
    /// its newest run is older than --stale, down when Prometheus's `up` is 0 for it. Exit as a
    /// run's: 2 when a check fails or a host is stale or down, 1 when one warns, 3 when one is
    /// unknown or Prometheus cannot give the fleet.
    Report(FleetReport),
}

/// `opsrun fleet report`.
#[derive(Debug, Args, Clone)]
pub struct FleetReport {
    /// The Prometheus server, e.g. http://prometheus:9090 (a path prefix is kept)
    #[arg(long, env = "OPSRUN_PROMETHEUS", value_name = "URL", value_hint = clap::ValueHint::Url)]
    pub prometheus: String,

    /// Only the series of this label selector, e.g. '{job="node"}' [default: every opsrun_* series]
    #[arg(long = "match", value_name = "SELECTOR")]
    pub matcher: Option<String>,

    /// Output format
    #[arg(short = 'f', long, value_enum, default_value_t = FleetFormat::Text)]
    pub format: FleetFormat,

    /// How long to wait for Prometheus, both queries included
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub timeout: Duration,

    /// A host whose newest run is older than this is stale
    #[arg(long, value_name = "DURATION", default_value = "26h", value_parser = parse_timeout)]
    pub stale: Duration,

    /// Where config.yaml (its timezone:) is looked for
    #[command(flatten)]
    pub dir: DirArg,

    /// Fix the clock (RFC 3339), for tests
    #[arg(long, hide = true, value_parser = parse_now, value_name = "RFC3339")]
    pub now: Option<DateTime<FixedOffset>>,
}

/// `opsrun silence`.
#[derive(Debug, Args, Clone)]
pub struct SilenceCmd {
    #[command(subcommand)]
    pub action: SilenceAction,
}

/// Where a command that only reads or edits history finds it, the
/// runbook directory (its config.yaml's time zone), and the test clock:
/// `report`, `incident close|list`, `silence …`.
#[derive(Debug, Args, Clone)]
pub struct HistoryAt {
    #[command(flatten)]
    pub dir: DirArg,

    #[command(flatten)]
    pub path: HistoryPath,

    /// Fix the clock (RFC 3339), for tests
    #[arg(long, hide = true, value_parser = parse_now, value_name = "RFC3339")]
    pub now: Option<DateTime<FixedOffset>>,
}

impl SilenceCmd {
    pub fn at(&self) -> &HistoryAt {
        match &self.action {
            SilenceAction::Add { at, .. }
            | SilenceAction::List { at, .. }
            | SilenceAction::Remove { at, .. } => at,
        }
    }
}

#[derive(Debug, Subcommand, Clone)]
pub enum SilenceAction {
    /// Open a maintenance window: inside it a failing check shows MAINT, changes no exit code and notifies nobody
    Add {
        /// How long (at most 31d), e.g. 2h
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration_arg)]
        r#for: Duration,
        /// When it starts: HH:MM today, YYYY-MM-DD HH:MM, or RFC 3339 [default: now]
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Only these checks (comma-separated ids) [default: every check]
        #[arg(long, value_delimiter = ',', value_name = "ID,..", add = ArgValueCompleter::new(CheckIds))]
        check: Vec<String>,
        /// Only this runbook's checks [default: every runbook]
        #[arg(long, value_name = "NAME", add = ArgValueCompleter::new(RunbookNames { files: false }))]
        runbook: Option<String>,
        /// Why (shown in every run and report it covers)
        #[arg(long, value_name = "TEXT")]
        reason: String,
        #[command(flatten)]
        at: HistoryAt,
    },
    /// The silences in force or to come (with --all, ended ones too)
    List {
        /// Also the silences that have ended
        #[arg(long)]
        all: bool,
        /// Output format
        #[arg(short = 'f', long, value_enum, default_value_t = SilenceFormat::Table)]
        format: SilenceFormat,
        #[command(flatten)]
        at: HistoryAt,
    },
    /// End a silence now
    Remove {
        /// Its id (`opsrun silence list` shows it)
        id: i64,
        #[command(flatten)]
        at: HistoryAt,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SilenceFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JaFormat {
    Report,
    Checklist,
    /// The report as one self-contained HTML page
    Html,
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    crate::values::units::parse_duration(s)
}

/// A duration that is not zero.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    match crate::values::units::parse_duration(s)? {
        d if d.is_zero() => Err(format!(
            "expected a duration above zero like 10s, got `{s}`"
        )),
        d => Ok(d),
    }
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("expected a date like 2025-10-21, got `{s}`"))
}

fn parse_month(s: &str) -> Result<(i32, u32), String> {
    let bad = || format!("expected a month like 2025-10, got `{s}`");
    let (y, m) = s.split_once('-').ok_or_else(bad)?;
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if y.to_string().len() != 4 || !(1..=12).contains(&m) {
        return Err(bad());
    }
    Ok((y, m))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    P1,
    P2,
    P3,
    P4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackupAction {
    Run,
    Verify,
    RestoreTest,
    Prune,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

fn parse_output(s: &str) -> Result<(Format, PathBuf), String> {
    let (f, p) = s
        .split_once('=')
        .ok_or_else(|| format!("expected F=PATH like prometheus=/path/opsrun.prom, got `{s}`"))?;
    let format = Format::from_str(f, true).map_err(|_| {
        let names: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_owned()))
            .collect();
        format!("unknown format `{f}` (one of: {})", names.join(", "))
    })?;
    if p.is_empty() {
        return Err("empty PATH in --output F=PATH".into());
    }
    Ok((format, PathBuf::from(p)))
}

fn parse_now(s: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("expected an RFC 3339 time like 2025-10-21T09:00:00+09:00 ({e})"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_leading_runbook_directory_moves_after_the_subcommand() {
        let v = |xs: &[&str]| xs.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            runbooks_first(v(&["opsrun", "-C", "d", "daily", "-q"])),
            v(&["opsrun", "daily", "-C", "d", "-q"])
        );
        assert_eq!(
            runbooks_first(v(&["opsrun", "-Cd", "list"])),
            v(&["opsrun", "list", "-Cd"])
        );
        assert_eq!(
            runbooks_first(v(&["opsrun", "--runbooks=d", "incident", "p1"])),
            v(&["opsrun", "incident", "--runbooks=d", "p1"])
        );
        assert_eq!(
            runbooks_first(v(&["opsrun", "--runbooks", "d", "run", "x"])),
            v(&["opsrun", "run", "--runbooks", "d", "x"])
        );
        // Anything else is left as written (and `-C` alone is clap's to refuse).
        assert_eq!(
            runbooks_first(v(&["opsrun", "daily", "-C", "d"])),
            v(&["opsrun", "daily", "-C", "d"])
        );
        assert_eq!(
            runbooks_first(v(&["opsrun", "-C", "d"])),
            v(&["opsrun", "-C", "d"])
        );
        assert_eq!(
            runbooks_first(v(&["opsrun", "--version"])),
            v(&["opsrun", "--version"])
        );
    }

    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
