//! The command layer: one module per subcommand, each taking the resolved
//! [`plan::Plan`] (or its own arguments) and returning an exit code (see
//! `exit.rs`). This is the only layer that sees clap types, prints to
//! stdout/stderr for a command, and builds the async runtime.

mod backup;
pub mod cli;
mod complete;
mod error;
mod fleet;
mod history;
mod incident;
mod man;
mod plan;
mod report;
mod run;
mod serve;
mod silence;
mod validate;

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use tokio::sync::watch;

use crate::engine::Interrupt;
use crate::exit;
use crate::history::stop;
use cli::{Cli, Command};
pub(crate) use error::{Error, Result};

/// Parses the arguments, runs the command, returns the process exit code.
pub fn main_entry() -> i32 {
    // Before anything else: a signal from here on is caught (an early
    // SIGTERM to a large run used to kill the process before its handler
    // existed, with no report and no record).
    stop::install();
    // A shell asking for completion candidates (`COMPLETE=bash opsrun -- …`).
    if let Some(code) = complete::answer_if_asked() {
        return crate::stdio::exit_code(code);
    }
    let cli = match Cli::try_parse_from(cli::runbooks_first(std::env::args_os().collect())) {
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
    crate::output::words::install_lang(
        cli.lang
            .unwrap_or_else(crate::output::words::Lang::from_env),
    );
    let code = match run(cli) {
        Ok(code) => code,
        // The one place an error becomes words.
        Err(e) => {
            crate::stdio::say_err!("error: {e}");
            exit::UNKNOWN
        }
    };
    // A command stopped by a signal ends with the signal's code, whatever
    // its checks said; a report that could not be written is not a 0.
    stop::signal().map_or(crate::stdio::exit_code(code), stop::exit_code)
}

fn init_tracing() {
    // Only opsrun's own warnings by default: a dependency's (rustls on a
    // garbage TLS peer, with its timestamps) would land in cron mail for a
    // failure the table already reports. `OPSRUN_LOG=debug` shows all.
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPSRUN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("opsrun=warn"));
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::secret::RedactingStderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

fn run(cli: Cli) -> Result<i32> {
    let lang = cli.lang;
    // Commands that run checks stop cleanly on a signal (the results so
    // far are printed and recorded); the others end at once.
    if !matches!(
        cli.command,
        Command::Daily(_)
            | Command::Weekly(_)
            | Command::Monthly(_)
            | Command::Run { .. }
            | Command::Incident(cli::IncidentCmd { action: None, .. })
            | Command::Backup { .. }
            | Command::Serve(_)
    ) {
        stop::abrupt();
    }
    match cli.command {
        Command::Daily(a) => run::command(&["daily"], &a),
        Command::Weekly(a) => run::command(&["weekly"], &a),
        Command::Monthly(a) => run::command(&["monthly"], &a),
        Command::Incident(c) => incident::dispatch(&c),
        Command::Backup {
            action,
            execute,
            args,
        } => backup::command(action, execute, &args),
        Command::Run { targets, args } => {
            let names: Vec<&str> = targets.iter().map(String::as_str).collect();
            run::command(&names, &args)
        }
        Command::Validate { paths, dir, vars } => Ok(validate::validate(
            &paths,
            &dir,
            &vars.into_iter().collect(),
        )),
        Command::List { dir } => Ok(validate::list(&dir)),
        Command::History(c) => history::command(&c),
        Command::Report(c) => report::command(&c),
        Command::Silence(c) => silence::command(&c),
        Command::Fleet(c) => fleet::command(&c, lang),
        Command::Serve(c) => serve::command(&c),
        Command::Completions { shell } => {
            let script = complete::registration(shell).map_err(|e| Error::Io {
                action: "generate completions for",
                path: shell.to_string().into(),
                reason: crate::values::io_reason(&e),
            })?;
            write_stdout_styled(&script);
            Ok(exit::OK)
        }
        Command::Man { sub, dir } => man::command(sub.as_deref(), dir.as_deref()),
    }
}

/// Passes SIGINT/SIGTERM (caught since the start, see `history::stop`)
/// on to `tx`, which the engine watches; a signal that came before is
/// passed on at once.
pub(crate) fn spawn_signal_watch(tx: Arc<watch::Sender<Option<Interrupt>>>) {
    let mut signals = stop::subscribe();
    if let Some(s) = stop::signal() {
        let _ = tx.send(Some(s));
    }
    tokio::spawn(async move {
        if let Ok(s) = signals.wait_for(Option::is_some).await {
            let _ = tx.send_replace(*s);
        }
        // Keep the sender: a closed channel reads as "changed" for ever.
        std::future::pending::<()>().await;
    });
}

/// A one-line "running…" note on stderr, only on a TTY and only when the
/// run takes longer than a second; erased when the run ends.
pub(crate) struct Progress {
    shown: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    pub(crate) fn start(enabled: bool) -> Progress {
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
                crate::stdio::err(&format!(
                    "\r\x1b[2K… running checks ({:.0}s)",
                    started.elapsed().as_secs_f64() + 1.0
                ));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        Progress {
            shown,
            task: Some(task),
        }
    }

    pub(crate) fn finish(self) {
        if let Some(t) = self.task {
            t.abort();
        }
        if self.shown.load(Ordering::SeqCst) {
            crate::stdio::err("\r\x1b[2K");
        }
    }
}

/// Writes to stdout through the one writer (`crate::stdio`): a closed
/// pipe (`| head`) ends output quietly, a full disk is an error. Control
/// characters are shown escaped (`values::text::printable`, a no-op on
/// text `output::render` already cleaned); only [`write_stdout_styled`]
/// may send escape sequences.
pub(crate) fn write_stdout(s: &str) {
    crate::stdio::out(&crate::values::text::printable(s));
}

/// Writes text whose escape sequences are opsrun's own (the coloured
/// table, whose cells are escaped one by one), or generated scripts.
pub(crate) fn write_stdout_styled(s: &str) {
    crate::stdio::out(s);
}
