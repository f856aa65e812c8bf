//! The command line (SPEC §1). Doc comments here are the `--help` text.

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::output::{Format, WarnAs};

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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daily runbook (daily.yaml in the runbook directory)
    Daily(RunArgs),
    /// Run the weekly runbook (weekly.yaml)
    Weekly(RunArgs),
    /// Run the monthly runbook (monthly.yaml)
    Monthly(RunArgs),
    /// Incident response: diagnose, show or run the recovery steps, print the 障害報告
    Incident {
        /// Incident level: runs incident-pN.yaml
        #[arg(value_enum)]
        level: LevelArg,
        /// Run the recovery actions (asks y/N per step on a terminal)
        #[arg(long)]
        execute: bool,
        /// With --execute: run every step without asking (needed without a terminal)
        #[arg(long, requires = "execute")]
        yes: bool,
        /// When the incident began: HH:MM (JST), a duration ago like 15m, or RFC 3339 [default: now]
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// 報告者 in the 障害報告 [default: $USER]
        #[arg(long, value_name = "NAME")]
        reporter: Option<String>,
        #[command(flatten)]
        args: RunArgs,
    },
    /// Run runbook files, or runbooks by NAME from the runbook directory
    Run {
        /// A runbook file, or the NAME of NAME.yaml in the runbook directory
        #[arg(required = true, value_name = "FILE|NAME")]
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
    /// Print shell completions
    Completions {
        /// bash, zsh, fish (also elvish, powershell)
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout
    Man,
}

#[derive(Debug, Args, Clone)]
pub struct DirArg {
    /// Runbook directory [default: ./runbooks if it exists, else /etc/opsrun/runbooks]
    #[arg(
        short = 'C',
        long = "runbooks",
        env = "OPSRUN_RUNBOOKS",
        value_name = "DIR"
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
    #[arg(long, value_delimiter = ',', value_name = "ID,..")]
    pub only: Vec<String>,

    /// Skip these checks (comma-separated ids)
    #[arg(long, value_delimiter = ',', value_name = "ID,..")]
    pub skip: Vec<String>,

    /// Run only checks with one of these tags
    #[arg(long, value_delimiter = ',', value_name = "T,..")]
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    P1,
    P2,
    P3,
    P4,
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
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
