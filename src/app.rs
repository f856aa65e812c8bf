//! Ties the command line to the loader, the engine and the outputs, and
//! turns everything into an exit code (see `exit.rs`).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{CommandFactory, Parser};
use tokio::sync::watch;

use crate::cli::{Cli, ColorChoice, Command, DirArg, RunArgs};
use crate::engine::{self, Interrupt, RunResult, RunSettings, Selection};
use crate::exit;
use crate::history::{self, RunRecord};
use crate::output::{self, Format, RenderOpts};
use crate::runbook::{self, Runbook};

/// Parses the arguments, runs the command, returns the process exit code.
pub fn main_entry() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => exit::OK,
                _ => exit::UNKNOWN,
            };
            let _ = e.print();
            return if code == exit::OK
                && e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            {
                exit::UNKNOWN
            } else {
                code
            };
        }
    };
    init_tracing();
    crate::output::words::install();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::UNKNOWN
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPSRUN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::secret::RedactingStderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Daily(a) => run_named(&["daily"], a),
        Command::Weekly(a) => run_named(&["weekly"], a),
        Command::Monthly(a) => run_named(&["monthly"], a),
        Command::Incident {
            level,
            execute,
            yes,
            since,
            args,
        } => run_incident(level, execute, yes, since, args),
        Command::Backup {
            action,
            execute,
            args,
        } => crate::backup::command(action, execute, args),
        Command::Run { targets, args } => {
            let names: Vec<&str> = targets.iter().map(String::as_str).collect();
            run_named(&names, args)
        }
        Command::Validate { paths, dir, vars } => {
            Ok(validate(&paths, &dir, &vars.into_iter().collect()))
        }
        Command::List { dir } => list(&dir),
        Command::History(c) => Ok(crate::history::commands::history_cmd(c)),
        Command::Report(c) => Ok(crate::history::commands::report_cmd(c)),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "opsrun", &mut std::io::stdout());
            Ok(exit::OK)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            write_stdout(&String::from_utf8_lossy(&out));
            Ok(exit::OK)
        }
    }
}

/// The runbook directory: `-C`/`OPSRUN_RUNBOOKS`, else `./runbooks` if it
/// exists, else `/etc/opsrun/runbooks`.
pub fn runbook_dir(d: &DirArg) -> PathBuf {
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
fn resolve(dir: &Path, name: &str) -> Result<PathBuf, String> {
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
    Err(format!("no runbook `{name}` in {}{hint}", dir.display()))
}

/// `*.yaml`/`*.yml` files directly inside `dir`, sorted.
fn runbook_files(dir: &Path) -> Vec<PathBuf> {
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

pub(crate) fn load_all(names: &[&str], args: &RunArgs) -> Result<Vec<Runbook>, String> {
    let dir = runbook_dir(&args.dir);
    let vars: BTreeMap<String, String> = args.vars.iter().cloned().collect();
    let mut out = Vec::new();
    for n in names {
        let path = resolve(&dir, n)?;
        out.push(runbook::load(&path, &vars).map_err(|e| e.to_string())?);
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
                let hint = crate::suggest::closest(id, &ids)
                    .map(|s| format!(", did you mean `{s}`?"))
                    .unwrap_or_default();
                return Err(format!("{flag}: no check with id `{id}`{hint}"));
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
                let hint = crate::suggest::closest(t, &tags)
                    .map(|s| format!(", did you mean `{s}`?"))
                    .unwrap_or_default();
                return Err(format!("--tag: no check has tag `{t}`{hint}"));
            }
        }
    }
    Ok(out)
}

pub(crate) fn use_color(c: ColorChoice) -> bool {
    match c {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Loads the runbooks and checks the notification settings — everything
/// that can be wrong before a check runs. Errors are printed; `None` means
/// exit 3 with nothing run.
pub(crate) fn prepare(
    names: &[&str],
    args: &RunArgs,
) -> Option<(Vec<Runbook>, crate::notify::Plan)> {
    let runbooks = load_all(names, args)
        .map_err(|e| eprintln!("error: {e}"))
        .ok()?;
    let notify = crate::notify::Plan::prepare(&runbooks, args)
        .map_err(|e| eprintln!("error: {e}"))
        .ok()?;
    Some((runbooks, notify))
}

fn run_named(names: &[&str], args: RunArgs) -> anyhow::Result<i32> {
    let Some((runbooks, notify)) = prepare(names, &args) else {
        return Ok(exit::UNKNOWN);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let results = rt.block_on(run_runbooks(&runbooks, &args));
    // Blocking probes stuck past their timeout (a hung NFS statvfs) must not
    // hold the process: leave them behind.
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(present(&runbooks, &results, &args, Some(notify)))
}

/// Everything after the checks ran, shared by every command that runs a
/// runbook: record in history, write `--output` files, print stdout (`-q`
/// prints nothing when all pass), send notifications, and return the exit
/// code (worst status, or 130/143 when interrupted).
pub(crate) fn present(
    runbooks: &[Runbook],
    results: &[RunResult],
    args: &RunArgs,
    notify: Option<crate::notify::Plan>,
) -> i32 {
    // History is written here, after the runtime: rusqlite blocks.
    let records: Vec<RunRecord> = results.iter().map(RunRecord::from_run).collect();
    let mut recorded = history::commands::record_runs(&args.record, &records);

    let refs: Vec<&RunResult> = results.iter().collect();
    let mut opts = RenderOpts {
        color: use_color(args.color),
        verbose: args.verbose > 0,
        junit_warn: args.junit_warn,
        prom: Default::default(),
    };
    let worst = crate::values::outcome::worst(results.iter().map(RunResult::status));
    let all_pass = worst <= crate::values::outcome::Status::Skip;
    let interrupted = results.iter().find_map(|r| r.interrupted);
    // Report and checklist read the runbook's `report:` block and history;
    // every other format is a function of the runs alone.
    let mut render_any = |format: Format, opts: &RenderOpts| -> String {
        match format {
            Format::Report | Format::Checklist => history::commands::render_ja(
                format,
                runbooks,
                &records,
                &mut recorded,
                args.reporter.as_deref(),
            ),
            f => output::render(f, &refs, opts),
        }
    };
    for (format, path) in &args.outputs {
        if *format == Format::Prometheus {
            opts.prom.previous_success = std::fs::read_to_string(path)
                .map(|t| output::prometheus::previous_success(&t))
                .unwrap_or_default();
        }
        let plain = RenderOpts {
            color: false,
            ..opts.clone()
        };
        if let Err(e) = write_atomically(path, &render_any(*format, &plain)) {
            eprintln!("error: --output {}: {e}", path.display());
        }
    }
    if !(args.quiet && all_pass && interrupted.is_none()) {
        write_stdout(&render_any(args.format, &opts));
    }
    if let Some(w) = recorded.warning() {
        eprintln!("{w}");
    }
    // After the run is printed and recorded; never changes the exit code.
    if let Some(n) = notify {
        n.send(runbooks, &records, &mut recorded);
    }
    match interrupted {
        Some(Interrupt::Sigint) => exit::SIGINT,
        Some(Interrupt::Sigterm) => exit::SIGTERM,
        None => exit::for_status(worst),
    }
}

fn reporter_name(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "運用担当者".to_owned())
}

fn run_incident(
    level: crate::cli::LevelArg,
    execute: bool,
    yes: bool,
    since: Option<String>,
    args: RunArgs,
) -> anyhow::Result<i32> {
    use crate::incident;
    let name = match level {
        crate::cli::LevelArg::P1 => "incident-p1",
        crate::cli::LevelArg::P2 => "incident-p2",
        crate::cli::LevelArg::P3 => "incident-p3",
        crate::cli::LevelArg::P4 => "incident-p4",
    };
    let Some((runbooks, notify)) = prepare(&[name], &args) else {
        return Ok(exit::UNKNOWN);
    };
    let rb = &runbooks[0];
    if rb.workflow.incident.is_none() {
        eprintln!(
            "error: {}: no `incident:` block (level, name, scope, …): an incident runbook needs one",
            rb.path.display()
        );
        return Ok(exit::UNKNOWN);
    }
    // Checks run on the host's clock like any run (naive log timestamps are
    // local time); the header and the 障害報告 speak JST.
    let check_now = args
        .now
        .unwrap_or_else(|| chrono::Local::now().fixed_offset());
    let now = check_now.with_timezone(&incident::jst()).fixed_offset();
    let since = match since.as_deref().map(|s| incident::parse_since(s, now)) {
        None => now,
        Some(Ok(t)) => t.with_timezone(&incident::jst()).fixed_offset(),
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return Ok(exit::UNKNOWN);
        }
    };
    let confirm = incident::confirm_mode(execute, yes);
    let refused = matches!(confirm, incident::Confirm::Refuse);
    let narrate = args.format == Format::Table;
    let opts = incident::IncidentOptions {
        confirm,
        since,
        now,
        check_now,
        reporter: reporter_name(args.reporter.clone()),
        concurrency: args.concurrency as usize,
        narrate,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let inc = rt.block_on(async {
        let (tx, rx) = watch::channel(None);
        spawn_signal_watch(Arc::new(tx));
        incident::run(rb, &opts, rx).await
    });
    rt.shutdown_timeout(Duration::from_millis(100));
    // The incident goes into history with its diagnostics run, so weekly
    // and monthly reports count インシデント数 and its duration.
    let mut recorded =
        history::commands::record_runs(&args.record, &[RunRecord::from_run(&inc.diagnostics)]);
    if let Some(store) = recorded.store.as_mut() {
        let rec = history::store::IncidentRecord {
            run_id: None,
            level: inc.level.as_str().to_ascii_lowercase(),
            name: Some(inc.level_name.clone()),
            runbook: rb.name.clone(),
            host: inc.diagnostics.host.clone(),
            started_at: inc.since,
            ended_at: inc.verify.as_ref().filter(|v| v.recovered).map(|v| v.at),
            outcome: match (&inc.verify, inc.executed) {
                (Some(v), _) if v.recovered => "recovered",
                (_, true) => "unresolved",
                _ => "diagnosed",
            }
            .to_owned(),
            summary: inc.summary_line(),
            reporter: Some(inc.reporter.clone()),
        };
        if let Err(e) = store.record_incident(&rec) {
            recorded.error = Some(e);
        }
    }
    match args.format {
        Format::Table => write_stdout(&format!("\n{}", output::incident_report(&inc))),
        Format::Report => write_stdout(&output::incident_report(&inc)),
        f => write_stdout(&output::render(
            f,
            &[&inc.diagnostics],
            &RenderOpts::default(),
        )),
    }
    if let Some(w) = recorded.warning() {
        eprintln!("{w}");
    }
    for (format, path) in &args.outputs {
        let text = output::render(*format, &[&inc.diagnostics], &RenderOpts::default());
        if let Err(e) = write_atomically(path, &text) {
            eprintln!("error: --output {}: {e}", path.display());
        }
    }
    notify.send_incident(&inc);
    if let Some(i) = inc.diagnostics.interrupted {
        return Ok(if i == Interrupt::Sigint {
            exit::SIGINT
        } else {
            exit::SIGTERM
        });
    }
    if refused {
        return Ok(exit::UNKNOWN);
    }
    Ok(exit::for_status(inc.status()))
}

async fn run_runbooks(runbooks: &[Runbook], args: &RunArgs) -> Vec<RunResult> {
    let (tx, rx) = watch::channel(None);
    let tx = Arc::new(tx);
    spawn_signal_watch(tx.clone());
    let now = args
        .now
        .unwrap_or_else(|| chrono::Local::now().fixed_offset());
    // Kinds that report a change since the last run (postgres deadlocks)
    // read their previous metrics from history; one runbook per run here.
    let previous = match (&args.record.no_history, runbooks.first()) {
        (false, Some(rb)) if runbooks.len() == 1 => crate::history::store::previous_metrics(
            &crate::history::resolve_path(args.record.path.history.as_deref()),
            &rb.name,
        ),
        _ => Default::default(),
    };
    let settings = RunSettings {
        previous: Arc::new(previous),
        concurrency: args.concurrency as usize,
        now,
        selection: Selection {
            only: args.only.clone(),
            skip: args.skip.clone(),
            tags: args.tag.clone(),
        },
    };
    let progress = Progress::start(!args.quiet);
    let mut out = Vec::new();
    for rb in runbooks {
        let r = engine::run(rb, &settings, rx.clone()).await;
        let stop = r.interrupted.is_some();
        out.push(r);
        if stop {
            break;
        }
    }
    progress.finish();
    out
}

fn spawn_signal_watch(tx: Arc<watch::Sender<Option<Interrupt>>>) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return,
            };
        let which = tokio::select! {
            _ = tokio::signal::ctrl_c() => Interrupt::Sigint,
            _ = term.recv() => Interrupt::Sigterm,
        };
        let _ = tx.send(Some(which));
    });
}

/// A one-line "running…" note on stderr, only on a TTY and only when the
/// run takes longer than a second; erased when the run ends.
struct Progress {
    shown: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    fn start(enabled: bool) -> Progress {
        let shown = Arc::new(AtomicBool::new(false));
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { shown, task: None };
        }
        let s = shown.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let started = std::time::Instant::now();
            loop {
                s.store(true, Ordering::SeqCst);
                eprint!(
                    "\r\x1b[2K… running checks ({:.0}s)",
                    started.elapsed().as_secs_f64() + 1.0
                );
                let _ = std::io::stderr().flush();
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        Progress {
            shown,
            task: Some(task),
        }
    }

    fn finish(self) {
        if let Some(t) = self.task {
            t.abort();
        }
        if self.shown.load(Ordering::SeqCst) {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Writes `text` to `path` through a temporary file in the same directory
/// and a rename, so a reader (node_exporter) never sees half a file.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| std::io::Error::new(e.kind(), crate::values::io_reason(&e)))
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub fn write_stdout(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

fn validate(paths: &[PathBuf], dir: &DirArg, vars: &BTreeMap<String, String>) -> i32 {
    let mut files = Vec::new();
    let targets = if paths.is_empty() {
        vec![runbook_dir(dir)]
    } else {
        paths.to_vec()
    };
    for p in &targets {
        if p.is_dir() {
            let found = runbook_files(p);
            if found.is_empty() {
                eprintln!(
                    "error: {}: no runbook files (*.yaml) in this directory",
                    p.display()
                );
                return exit::UNKNOWN;
            }
            files.extend(found);
            // The shared configuration next to the runbooks is checked too.
            files.extend(
                crate::runbook::notify::CONFIG_NAMES
                    .iter()
                    .map(|n| p.join(n))
                    .filter(|c| c.is_file()),
            );
        } else {
            files.push(p.clone());
        }
    }
    let mut bad = 0;
    for f in &files {
        if crate::runbook::notify::is_config_file(f) {
            match crate::runbook::notify::load(f) {
                Ok(_) => println!("ok: {} (configuration)", f.display()),
                Err(e) => {
                    bad += 1;
                    eprintln!("error: {e}");
                }
            }
            continue;
        }
        match runbook::load(f, vars) {
            Ok(rb) => println!("ok: {} ({} checks)", f.display(), rb.checks.len()),
            Err(e) => {
                bad += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if bad > 0 {
        eprintln!("{bad} of {} runbooks invalid", files.len());
        exit::UNKNOWN
    } else {
        exit::OK
    }
}

fn list(dir: &DirArg) -> anyhow::Result<i32> {
    let d = runbook_dir(dir);
    let files = runbook_files(&d);
    if files.is_empty() {
        eprintln!(
            "error: no runbooks in {} (set -C DIR or OPSRUN_RUNBOOKS)",
            d.display()
        );
        return Ok(exit::UNKNOWN);
    }
    let mut out = String::new();
    let mut code = exit::OK;
    for f in files {
        match runbook::load(&f, &BTreeMap::new()) {
            Ok(rb) => {
                out.push_str(&format!(
                    "{} — {} ({} checks)\n",
                    rb.name,
                    rb.title,
                    rb.checks.len()
                ));
                for c in &rb.checks {
                    out.push_str(&format!(
                        "  {:<24} {:<10} {}  [{}]\n",
                        c.id,
                        c.kind_name,
                        c.title,
                        c.kind.target()
                    ));
                }
            }
            Err(e) => {
                code = exit::UNKNOWN;
                eprintln!("error: {e}");
            }
        }
    }
    write_stdout(&out);
    Ok(code)
}
