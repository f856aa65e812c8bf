//! The invocation resolved once (as ripgrep turns raw arguments into one
//! high-level struct): the runbooks, the clock, the time zone, which checks
//! run, how the results are shown and written, history, notifications and
//! the reporter. Every command that runs checks (`run`, `daily`…,
//! `incident`, `backup`) starts from a [`Plan`], and so do `report` and
//! `history` ([`Plan::for_report`], [`Plan::for_history`]): the clock, the
//! time zone and the reporter are decided here and nowhere else, and
//! nothing below the command layer sees a clap type.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use clap::ValueEnum;

use super::cli::{
    ColorChoice, DirArg, HistoryCmd, HistoryFormat, HistoryPath, JaFormat, RecordArgs, ReportCmd,
    RunArgs,
};
use super::error::Error;
use crate::engine::{RunSettings, Selection};
use crate::history::HistorySettings;
use crate::notify::NotifySettings;
use crate::output::{Format, RenderOpts};
use crate::runbook::{self, Runbook};
use crate::values::Zone;

/// Everything one invocation does, decided before any check runs.
pub(crate) struct Plan {
    pub runbooks: Vec<Runbook>,
    /// The one clock of the invocation: `--now`, else the host's, in its
    /// own offset (checks read log lines without an offset in it, as the
    /// host wrote them). Every time shown is this instant read in
    /// [`Plan::tz`].
    pub now: DateTime<FixedOffset>,
    /// The zone people read times in (table header, reports, 障害報告,
    /// `history`, mail, `--since HH:MM`): the first runbook's
    /// `report.timezone`, else `timezone:` in config.yaml, else Asia/Tokyo
    /// (SPEC §10.1).
    pub tz: Zone,
    pub selection: Selection,
    pub concurrency: usize,
    pub output: OutputPlan,
    pub history: HistorySettings,
    pub notify: crate::notify::Plan,
    /// 担当者/報告者: `--reporter`, else [`default_reporter`].
    pub reporter: String,
    /// Maintenance windows that may cover this run: the runbooks'
    /// `maintenance:`, config.yaml's, and the silences in history in
    /// force at [`Plan::now`] (SPEC §10.4).
    pub maintenance: Vec<crate::spec::maintenance::Window>,
}

/// How results are shown on stdout and written with `--output`.
pub(crate) struct OutputPlan {
    pub format: Format,
    pub outputs: Vec<(Format, PathBuf)>,
    pub quiet: bool,
    pub opts: RenderOpts,
}

impl Plan {
    /// Loads the runbooks `names` and resolves the rest of the invocation.
    /// Every error is one that must stop the command before anything runs
    /// (a runbook that does not load, an unknown `--only` id, a broken
    /// `notify:`).
    pub fn resolve(names: &[&str], args: &RunArgs) -> Result<Plan, Error> {
        let runbooks = load_all(names, args)?;
        let history = history_settings(&args.record.path, Some(&args.record));
        let notify = crate::notify::Plan::prepare(
            &runbooks,
            &NotifySettings {
                enabled: args.notify,
                runbook_dir: runbook_dir(&args.dir),
                history: history.path.clone(),
                verbose: args.verbose > 0,
            },
        )?;
        let output = OutputPlan {
            format: args.format,
            outputs: args.outputs.clone(),
            quiet: args.quiet,
            opts: RenderOpts {
                color: use_color(args.color),
                width: table_width(),
                verbose: args.verbose > 0,
                junit_warn: args.junit_warn,
                prom: Default::default(),
            },
        };
        Ok(Plan {
            selection: Selection {
                only: args.only.clone(),
                skip: args.skip.clone(),
                tags: args.tag.clone(),
            },
            concurrency: args.concurrency as usize,
            notify,
            ..Plan::shared(
                runbooks,
                &runbook_dir(&args.dir),
                args.now,
                args.reporter.as_deref(),
                history,
                output,
            )?
        })
    }

    /// `opsrun serve`, before each run: what belongs to the moment of a
    /// run is resolved again, as `opsrun daily` resolves it when cron
    /// starts it — the clock, the maintenance windows (a silence added
    /// while serving covers the next run) and the notifications (their
    /// secrets; the previous status, for recoveries). The runbooks stay
    /// as they were loaded when serving began.
    pub fn renew(&mut self, args: &RunArgs) -> Result<(), Error> {
        let dir = runbook_dir(&args.dir);
        let now = clock(args.now);
        self.maintenance = maintenance(&self.runbooks, &dir, self.tz, &self.history, now)?;
        self.now = now;
        self.notify = crate::notify::Plan::prepare(
            &self.runbooks,
            &NotifySettings {
                enabled: args.notify,
                runbook_dir: dir,
                history: self.history.path.clone(),
                verbose: args.verbose > 0,
            },
        )?;
        Ok(())
    }

    /// `opsrun report`: the runbook `name` (in the runbook directory)
    /// lends its `report:` block and time zone, when it exists; without
    /// it the defaults apply and history alone speaks. Nothing runs and
    /// nothing is recorded.
    pub fn for_report(name: &str, cmd: &ReportCmd) -> Result<Plan, Error> {
        let dir = runbook_dir(&cmd.at.dir);
        let runbooks = match ["yaml", "yml"]
            .iter()
            .map(|e| dir.join(format!("{name}.{e}")))
            .find(|p| p.is_file())
        {
            Some(p) => vec![runbook::load(&p, &BTreeMap::new())?],
            None => vec![],
        };
        let format = match cmd.format {
            JaFormat::Report => Format::Report,
            JaFormat::Checklist => Format::Checklist,
            JaFormat::Html => Format::Html,
        };
        Plan::shared(
            runbooks,
            &dir,
            cmd.at.now,
            cmd.reporter.as_deref(),
            history_settings(&cmd.at.path, None),
            OutputPlan::stdout(format),
        )
    }

    /// `opsrun silence`: no runbook, the history and the time zone of the
    /// runbook directory.
    pub fn for_silence(cmd: &super::cli::SilenceCmd) -> Result<Plan, Error> {
        let at = cmd.at();
        Plan::shared(
            Vec::new(),
            &runbook_dir(&at.dir),
            at.now,
            None,
            history_settings(&at.path, None),
            OutputPlan::stdout(Format::Table),
        )
    }

    /// `opsrun history`: no runbook is loaded (`--runbook` only filters
    /// what history holds); nothing is recorded. `--output` takes the
    /// listing's two formats, table and json.
    pub fn for_history(cmd: &HistoryCmd) -> Result<Plan, Error> {
        Plan::shared(
            vec![],
            &runbook_dir(&DirArg { runbooks: None }),
            cmd.now,
            None,
            history_settings(&cmd.path, None),
            listing_output("opsrun history", cmd.format, &cmd.outputs)?,
        )
    }

    /// `opsrun incident list` and `close`: like `history`, about what
    /// history holds; nothing runs or is recorded. `runbooks` (the
    /// incident runbooks found in `dir`) lend their time zone.
    pub fn for_incidents(
        dir: &DirArg,
        path: &HistoryPath,
        now: Option<DateTime<FixedOffset>>,
        runbooks: Vec<Runbook>,
        listing: Option<(HistoryFormat, &[(Format, PathBuf)])>,
    ) -> Result<Plan, Error> {
        let output = match listing {
            Some((format, outputs)) => listing_output("opsrun incident list", format, outputs)?,
            None => OutputPlan::stdout(Format::Table),
        };
        Plan::shared(
            runbooks,
            &runbook_dir(dir),
            now,
            None,
            history_settings(path, None),
            output,
        )
    }

    /// The parts every command resolves the same way, in this one place:
    /// the clock, the time zone (from the runbooks, else the shared
    /// config.yaml found from `dir`, as `--notify` finds it), the
    /// reporter, history and output. No selection, one check at a time,
    /// no notification.
    fn shared(
        runbooks: Vec<Runbook>,
        dir: &Path,
        now: Option<DateTime<FixedOffset>>,
        reporter_given: Option<&str>,
        history: HistorySettings,
        output: OutputPlan,
    ) -> Result<Plan, Error> {
        let tz = time_zone(&runbooks, dir)?;
        let now = clock(now);
        let maintenance = maintenance(&runbooks, dir, tz, &history, now)?;
        Ok(Plan {
            now,
            tz,
            maintenance,
            selection: Selection::default(),
            concurrency: 1,
            output,
            history,
            notify: Default::default(),
            reporter: reporter(reporter_given),
            runbooks,
        })
    }

    /// The engine's settings for a run of `rb`: previous metrics (for kinds
    /// that report a change since the last run) come from history.
    pub fn run_settings(&self, rb: Option<&Runbook>) -> RunSettings {
        let previous = match rb {
            Some(rb) if self.history.record => {
                crate::history::store::previous_metrics(&self.history.path, &rb.name)
            }
            _ => Default::default(),
        };
        // `consecutive: N` reads each such check's streak so far, also
        // with --no-history (the run is then not counted, but judged).
        let held: Vec<&str> = rb
            .map(|rb| {
                rb.checks
                    .iter()
                    .filter(|c| c.consecutive > 1)
                    .map(|c| c.id.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let streaks = match rb {
            Some(rb) if !held.is_empty() => {
                crate::history::lookback::streaks(&self.history.path, &rb.name, &held)
            }
            _ => Default::default(),
        };
        // `change:` reads the sample it compares with, also with
        // --no-history (as `consecutive:` does).
        let changing: Vec<(&str, crate::spec::common::Vs)> = rb
            .map(|rb| {
                rb.checks
                    .iter()
                    .filter_map(|c| Some((c.id.as_str(), c.change.as_ref()?.vs)))
                    .collect()
            })
            .unwrap_or_default();
        let baselines = match rb {
            Some(rb) if !changing.is_empty() => crate::history::lookback::baselines(
                &self.history.path,
                &rb.name,
                &changing,
                self.now.timestamp_millis(),
            ),
            _ => Default::default(),
        };
        RunSettings {
            previous: std::sync::Arc::new(previous),
            streaks: std::sync::Arc::new(streaks),
            baselines: Some(std::sync::Arc::new(baselines)),
            maintenance: std::sync::Arc::new(self.maintenance.clone()),
            concurrency: self.concurrency,
            now: self.now,
            tz: self.tz,
            selection: self.selection.clone(),
        }
    }
}

impl OutputPlan {
    /// One format on stdout, no `--output` files, no colour.
    fn stdout(format: Format) -> OutputPlan {
        OutputPlan {
            format,
            outputs: vec![],
            quiet: false,
            opts: RenderOpts::default(),
        }
    }
}

/// A listing's output: table or JSON on stdout, and `--output` files of
/// those two formats only.
fn listing_output(
    command: &str,
    format: HistoryFormat,
    outputs: &[(Format, PathBuf)],
) -> Result<OutputPlan, Error> {
    let format = match format {
        HistoryFormat::Table => Format::Table,
        HistoryFormat::Json => Format::Json,
    };
    if let Some((f, _)) = outputs
        .iter()
        .find(|(f, _)| !matches!(f, Format::Table | Format::Json))
    {
        let name = f
            .to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default();
        return Err(Error::Invalid(format!(
            "--output {name}=…: `{command}` writes table or json"
        )));
    }
    Ok(OutputPlan {
        outputs: outputs.to_vec(),
        ..OutputPlan::stdout(format)
    })
}

/// Where history is and whether this invocation records in it: only
/// commands that run checks (`record`) do.
fn history_settings(path: &HistoryPath, record: Option<&RecordArgs>) -> HistorySettings {
    HistorySettings {
        path: crate::history::resolve_path(path.history.as_deref()),
        record: record.is_some_and(|r| !r.no_history),
        // Unused when nothing is recorded.
        retention: record.map(|r| r.retention).unwrap_or_default(),
    }
}

/// The time zone people read times in: the first runbook's
/// `report.timezone`, else `timezone:` in the shared config.yaml (found
/// from the runbook directory `dir` as `--notify` finds it:
/// `OPSRUN_CONFIG`, `DIR/config.yaml`, /etc/opsrun/config.yaml), else
/// Asia/Tokyo (SPEC §10.1). A runbook's own setting wins: it is the more
/// specific one. The config file is read only when no runbook decides,
/// and then one that does not load stops the command (a zone silently
/// ignored would put every time an hour or nine off).
fn time_zone(runbooks: &[Runbook], dir: &Path) -> Result<Zone, Error> {
    if let Some(t) = runbooks.iter().find_map(|rb| rb.report.timezone) {
        return Ok(t.0);
    }
    let Some(path) = crate::spec::notify::find(dir) else {
        return Ok(Zone::default());
    };
    Ok(crate::spec::notify::load(&path)?
        .timezone
        .map(|t| t.0)
        .unwrap_or_default())
}

/// Every maintenance window that may cover a run at `now`: each runbook's
/// own (for its checks only), config.yaml's (for every runbook of the
/// directory), and the silences recorded in history.
fn maintenance(
    runbooks: &[Runbook],
    dir: &Path,
    tz: Zone,
    history: &HistorySettings,
    now: DateTime<FixedOffset>,
) -> Result<Vec<crate::spec::maintenance::Window>, Error> {
    let mut out: Vec<_> = runbooks
        .iter()
        .flat_map(|rb| {
            rb.maintenance
                .iter()
                .map(move |w| crate::spec::maintenance::Window {
                    runbook: Some(rb.name.clone()),
                    ..w.window(tz)
                })
        })
        .collect();
    if let Some(path) = crate::spec::notify::find(dir) {
        out.extend(
            crate::spec::notify::load(&path)?
                .maintenance
                .iter()
                .map(|w| w.window(tz)),
        );
    }
    out.extend(crate::history::silence::active(
        &history.path,
        now.timestamp_millis(),
    ));
    Ok(out)
}

/// The clock of an invocation: `--now`, else the host's, in its offset.
/// The time zone and the clock of a command that reads no runbook and
/// no history (`opsrun fleet report`): config.yaml's `timezone:` found
/// from `dir`, `--now` or the host's clock.
pub(crate) fn zone_and_clock(
    dir: &DirArg,
    now: Option<DateTime<FixedOffset>>,
) -> Result<(Zone, DateTime<FixedOffset>), Error> {
    Ok((time_zone(&[], &runbook_dir(dir))?, clock(now)))
}

fn clock(now: Option<DateTime<FixedOffset>>) -> DateTime<FixedOffset> {
    now.unwrap_or_else(|| chrono::Local::now().fixed_offset())
}

/// 担当者 when `--reporter` is not given: `$USER`, else `$LOGNAME`, else
/// the effective user's name in /etc/passwd (cron and containers often
/// set neither variable), else `-`.
fn reporter(given: Option<&str>) -> String {
    given.map(str::to_owned).unwrap_or_else(default_reporter)
}

fn default_reporter() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .or_else(passwd_name)
        .unwrap_or_else(|| "-".into())
}

fn passwd_name() -> Option<String> {
    let uid = rustix::process::geteuid().as_raw().to_string();
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)? == uid).then(|| name.to_owned())
        })
}

/// The width the table is laid out for: `COLUMNS` when set to a number
/// (scripts and tests pin it), else the terminal's width when stdout is
/// one. A terminal that reports 0 columns (a serial console, some CI
/// ptys) counts as no terminal: laid out to 0 columns every cell would be
/// one character wide.
fn table_width() -> Option<u16> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<u16>().ok())
    {
        return (c > 0).then_some(c);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    comfy_table::Table::new().width().filter(|w| *w > 0)
}

fn use_color(c: ColorChoice) -> bool {
    match c {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// The runbook directory: `-C`/`OPSRUN_RUNBOOKS`, else `./runbooks` if it
/// exists, else `/etc/opsrun/runbooks`.
pub(crate) fn runbook_dir(d: &DirArg) -> PathBuf {
    if let Some(p) = &d.runbooks {
        return p.clone();
    }
    let local = PathBuf::from("runbooks");
    if local.is_dir() {
        local
    } else {
        PathBuf::from("/etc/opsrun/runbooks")
    }
}

/// Finds a runbook given as a path or as a NAME in the runbook directory.
fn resolve(dir: &Path, name: &str) -> Result<PathBuf, Error> {
    let as_path = PathBuf::from(name);
    if name.contains('/') || name.ends_with(".yaml") || name.ends_with(".yml") {
        return Ok(as_path);
    }
    for ext in ["yaml", "yml"] {
        let p = dir.join(format!("{name}.{ext}"));
        if p.is_file() {
            return Ok(p);
        }
    }
    if as_path.is_file() {
        return Ok(as_path);
    }
    let known = runbook_files(dir);
    let stems: Vec<String> = known
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    let refs: Vec<&str> = stems.iter().map(String::as_str).collect();
    let hint = match crate::suggest::closest(name, &refs) {
        Some(s) => format!(", did you mean `{s}`?"),
        None if refs.is_empty() => format!(
            " (no runbooks in {}; set -C DIR or OPSRUN_RUNBOOKS)",
            dir.display()
        ),
        None => format!(" (available: {})", refs.join(", ")),
    };
    Err(Error::NoRunbook {
        name: name.to_owned(),
        dir: dir.to_owned(),
        hint,
    })
}

/// `*.yaml`/`*.yml` files directly inside `dir`, sorted.
pub(crate) fn runbook_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
                        && !crate::runbook::notify::is_config_file(p)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn load_all(names: &[&str], args: &RunArgs) -> Result<Vec<Runbook>, Error> {
    let dir = runbook_dir(&args.dir);
    let vars: BTreeMap<String, String> = args.vars.iter().cloned().collect();
    let mut out = Vec::new();
    for n in names {
        let path = resolve(&dir, n)?;
        out.push(runbook::load(&path, &vars)?);
    }
    // Selection ids must exist somewhere: a typo in --only must not
    // silently run nothing.
    let ids: Vec<&str> = out
        .iter()
        .flat_map(|r| r.checks.iter().map(|c| c.id.as_str()))
        .collect();
    for (flag, list) in [("--only", &args.only), ("--skip", &args.skip)] {
        for id in list {
            if !ids.contains(&id.as_str()) {
                return Err(Error::UnknownSelection {
                    flag,
                    what: "no check with id",
                    name: id.clone(),
                    hint: crate::suggest::closest(id, &ids).map(str::to_owned),
                });
            }
        }
    }
    if !args.tag.is_empty() {
        let tags: Vec<&str> = out
            .iter()
            .flat_map(|r| {
                r.checks
                    .iter()
                    .flat_map(|c| c.tags.iter().map(String::as_str))
            })
            .collect();
        for t in &args.tag {
            if !tags.contains(&t.as_str()) {
                return Err(Error::UnknownSelection {
                    flag: "--tag",
                    what: "no check has tag",
                    name: t.clone(),
                    hint: crate::suggest::closest(t, &tags).map(str::to_owned),
                });
            }
        }
    }
    Ok(out)
}
