//! Notifications (docs/notify.md): with `--notify`, after a run has been
//! printed and recorded, each runbook whose status matches its `on:` list
//! is sent by email and/or Slack with the Japanese report as the body.
//!
//! A notification never changes the run's exit code: one that cannot be
//! sent is a `warning:` line on stderr. Secrets (SMTP password, webhook
//! URL) are read before the checks run, so they are registered for
//! redaction before any output exists.

mod email;
mod error;
mod slack;

use std::time::Duration;

use std::path::PathBuf;

use crate::history::RunRecord;
use crate::output::notify as words;
use crate::output::{Format, RenderCtx, RenderOpts};
use crate::runbook::Runbook;
use crate::values::outcome::Status;

use crate::runbook::notify::RouteChannel;
pub use crate::runbook::notify::{NotifySpec, Trigger};

/// All notifications of a run together may take this long unless
/// `notify.timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What `--notify` will send for each runbook of the run.
#[derive(Default)]
pub struct Plan {
    targets: Vec<Target>,
    verbose: bool,
}

/// What the invocation says about notifications.
#[derive(Clone, Debug, Default)]
pub struct NotifySettings {
    /// `--notify`: without it nothing is sent.
    pub enabled: bool,
    /// Where the shared `config.yaml` is looked for.
    pub runbook_dir: PathBuf,
    /// The history database (the previous status, for recoveries).
    pub history: PathBuf,
    /// `-v`: say what was and was not sent.
    pub verbose: bool,
}

struct Target {
    runbook: String,
    channels: Vec<Channel>,
    /// The previous run's status, when a channel wants recoveries.
    previous: Option<Status>,
    timeout: Duration,
}

struct Channel {
    /// `email`, `slack`, or `routes[N].email|slack`.
    name: String,
    on: Vec<Trigger>,
    /// Why it cannot send (a secret that cannot be read), when it cannot.
    sender: Result<Sender, error::Unusable>,
}

/// Why `--notify` cannot be honoured: the command stops before any check
/// runs (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The shared configuration file does not load.
    #[error(transparent)]
    Config(#[from] crate::runbook::LoadError),
    #[error(
        "--notify: nowhere to send: no `notify:` block in {} and no configuration file ({}, {})",
        runbook.display(),
        config.display(),
        crate::runbook::notify::SYSTEM_CONFIG
    )]
    NowhereToSend { runbook: PathBuf, config: PathBuf },
    #[error("--notify: the `notify:` block for {runbook} ({}) has no channel: add `email:`, `slack:` or `routes:`", at.display())]
    NoChannel { runbook: String, at: PathBuf },
}

#[derive(Clone)]
enum Sender {
    Email(Box<email::Mailer>),
    Slack(slack::Hook),
}

impl Sender {
    /// Whether its messages carry the HTML page too (`email.html: true`).
    fn wants_html(&self) -> bool {
        matches!(self, Sender::Email(m) if m.html)
    }
}

impl Plan {
    /// Resolves each runbook's notification settings (its `notify:` over
    /// the shared configuration file) and reads their secrets. Without
    /// `--notify` this does nothing. Errors are configuration errors
    /// (exit 3, nothing runs); an unreadable secret is not: it is warned
    /// about after the run, whose exit code it does not change.
    pub fn prepare(runbooks: &[Runbook], settings: &NotifySettings) -> Result<Plan, PrepareError> {
        if !settings.enabled {
            return Ok(Plan::default());
        }
        let dir = &settings.runbook_dir;
        let shared_path = crate::runbook::notify::find(dir);
        let shared = match &shared_path {
            Some(p) => crate::runbook::notify::load(p)?.notify,
            None => None,
        };
        let history = &settings.history;
        let mut targets = Vec::new();
        for rb in runbooks {
            let spec = match (&rb.notify, &shared) {
                (Some(own), sh) => own.over(sh.as_ref()),
                (None, Some(sh)) => sh.clone(),
                (None, None) => {
                    return Err(PrepareError::NowhereToSend {
                        runbook: rb.path.clone(),
                        config: dir.join("config.yaml"),
                    });
                }
            };
            let all = spec.channels();
            if all.is_empty() {
                let at = match (&rb.notify, &shared_path) {
                    (None, Some(p)) => p.clone(),
                    _ => rb.path.clone(),
                };
                return Err(PrepareError::NoChannel {
                    runbook: rb.name.clone(),
                    at,
                });
            }
            let channels: Vec<Channel> = all
                .into_iter()
                .map(|(name, on, channel)| {
                    let sender = match &channel {
                        RouteChannel::Email(e) => {
                            email::Mailer::new(e).map(|m| Sender::Email(Box::new(m)))
                        }
                        RouteChannel::Slack(s) => slack::Hook::new(s).map(Sender::Slack),
                    };
                    Channel { name, on, sender }
                })
                .collect();
            let wants_recovery = channels.iter().any(|c| c.on.contains(&Trigger::Recovered));
            // Read before this run is recorded: "previous" is the run before it.
            let previous = if wants_recovery {
                crate::history::store::last_status(history, &rb.name)
            } else {
                None
            };
            targets.push(Target {
                runbook: rb.name.clone(),
                channels,
                previous,
                timeout: spec.timeout.map(|t| t.0).unwrap_or(DEFAULT_TIMEOUT),
            });
        }
        Ok(Plan {
            targets,
            verbose: settings.verbose,
        })
    }

    /// Sends what the runs call for and reports failures on stderr. Runs
    /// that were interrupted are not notified about.
    /// The body of each message is the runbook's report, rendered from
    /// `ctx` as `-f report` would print it.
    pub fn send(self, ctx: &mut RenderCtx) {
        if self.targets.is_empty() {
            return;
        }
        let multi = self.targets.len() > 1;
        let mut jobs = Vec::new();
        let (runbooks, runs, records) = (ctx.runbooks, ctx.runs, ctx.records);
        for (i, t) in self.targets.iter().enumerate() {
            let (Some(rb), Some(run), Some(rec)) = (runbooks.get(i), runs.get(i), records.get(i))
            else {
                break;
            };
            let label = |name: &str| words::label(name, multi.then_some(t.runbook.as_str()));
            warn_unusable(t, multi);
            if rec.interrupted {
                if self.verbose {
                    crate::stdio::say_err!("{}", words::interrupted(&t.runbook));
                }
                continue;
            }
            let status = run_status(rec);
            let mut report: Option<String> = None;
            let mut page: Option<String> = None;
            for c in &t.channels {
                let Ok(sender) = &c.sender else { continue };
                let Some(event) = event(&c.on, status, t.previous) else {
                    if self.verbose {
                        crate::stdio::say_err!(
                            "{}",
                            words::not_sent(&label(&c.name), status, &c.on)
                        );
                    }
                    continue;
                };
                let subject = words::subject(event, rec);
                let mut one = |format: Format| {
                    let mut one = RenderCtx {
                        runbooks: std::slice::from_ref(rb),
                        runs: std::slice::from_ref(run),
                        records: std::slice::from_ref(rec),
                        history: ctx.history.as_deref_mut(),
                        incident: None,
                        listing: None,
                        reporter: ctx.reporter,
                        tz: ctx.tz,
                    };
                    crate::output::render(format, &mut one, &RenderOpts::default())
                };
                let body = report.get_or_insert_with(|| one(Format::Report)).clone();
                let html = sender
                    .wants_html()
                    .then(|| page.get_or_insert_with(|| one(Format::Html)).clone());
                jobs.push(Job {
                    label: label(&c.name),
                    sender: sender.clone(),
                    subject,
                    body,
                    html,
                    host: rec.host.clone(),
                    timeout: t.timeout,
                });
            }
        }
        dispatch(jobs, self.verbose);
    }

    /// `opsrun incident --notify`: the 障害報告 goes to every channel,
    /// whatever its `on:` — an incident is what the operator is already
    /// escalating. Subject: `[opsrun][異常] web01 【障害報告】AI見積りシステム P1（緊急）`.
    pub fn send_incident(self, ctx: &mut RenderCtx) {
        let Some(inc) = ctx.incident else {
            return;
        };
        let Some(t) = self.targets.first() else {
            return;
        };
        warn_unusable(t, false);
        if inc.diagnostics.interrupted.is_some() {
            return;
        }
        let subject = words::incident_subject(inc);
        let body = crate::output::render(Format::Report, ctx, &RenderOpts::default());
        let page = t
            .channels
            .iter()
            .any(|c| c.sender.as_ref().is_ok_and(Sender::wants_html))
            .then(|| crate::output::render(Format::Html, ctx, &RenderOpts::default()));
        let jobs = t
            .channels
            .iter()
            .filter_map(|c| {
                let sender = c.sender.as_ref().ok()?;
                Some(Job {
                    label: c.name.clone(),
                    sender: sender.clone(),
                    subject: subject.clone(),
                    body: body.clone(),
                    html: page.clone().filter(|_| sender.wants_html()),
                    host: inc.diagnostics.host.clone(),
                    timeout: t.timeout,
                })
            })
            .collect();
        dispatch(jobs, self.verbose);
    }
}

/// One warning per channel that cannot send (its secret is unreadable).
fn warn_unusable(t: &Target, multi: bool) {
    for c in &t.channels {
        if let Err(why) = &c.sender {
            let label = words::label(&c.name, multi.then_some(t.runbook.as_str()));
            crate::stdio::say_err!(
                "{}",
                words::unusable(&label, crate::secret::redact(&why.to_string()))
            );
        }
    }
}

/// Sends every job at once, each bounded by its timeout, and reports.
fn dispatch(jobs: Vec<Job>, verbose: bool) {
    if jobs.is_empty() {
        return;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            crate::stdio::say_err!("{}", words::no_runtime(e));
            return;
        }
    };
    let labels: Vec<String> = jobs.iter().map(|j| j.label.clone()).collect();
    let results = rt.block_on(async {
        let handles: Vec<_> = jobs.into_iter().map(|j| tokio::spawn(j.run())).collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(
                h.await
                    .unwrap_or_else(|e| Err(error::SendError::Internal(e.to_string()))),
            );
        }
        out
    });
    // A pooled SMTP connection's idle task must not hold the process.
    rt.shutdown_timeout(Duration::from_millis(100));
    for (label, r) in labels.iter().zip(results) {
        match r {
            Ok(done) if verbose => {
                crate::stdio::say_err!("{}", words::sent(label, &done))
            }
            Ok(_) => {}
            Err(e) => crate::stdio::say_err!(
                "{}",
                words::failed(
                    label,
                    crate::secret::redact(&without_os_error(&e.to_string()))
                )
            ),
        }
    }
}

struct Job {
    label: String,
    sender: Sender,
    subject: String,
    body: String,
    /// The page of `-f html`, for a mail that carries it.
    html: Option<String>,
    host: String,
    timeout: Duration,
}

impl Job {
    async fn run(self) -> Result<words::Delivery, error::SendError> {
        let t = self.timeout;
        let fut = async move {
            match self.sender {
                Sender::Email(m) => {
                    m.send(self.subject, self.body, self.html, self.host, t)
                        .await
                }
                Sender::Slack(h) => {
                    h.send(format!("{}\n\n{}", self.subject, self.body), t)
                        .await
                }
            }
        };
        match tokio::time::timeout(t, fut).await {
            Ok(r) => r,
            Err(_) => Err(error::SendError::Timeout { after: t }),
        }
    }
}

/// `Connection refused (os error 111)` → `Connection refused`.
fn without_os_error(s: &str) -> String {
    let mut out = s.to_owned();
    while let Some(i) = out.find(" (os error ") {
        match out[i..].find(')') {
            Some(j) => out.replace_range(i..i + j + 1, ""),
            None => break,
        }
    }
    out
}

/// The run's status for notifications: skipped checks count as passing.
fn run_status(rec: &RunRecord) -> Status {
    match rec.status() {
        Status::Skip | Status::Maint => Status::Pass,
        s => s,
    }
}

/// What a channel with `on` says about a run: a recovery (when wanted and
/// the previous run did not pass), else the run's own status if listed
/// (`always` lists every status; its subject says the status itself).
fn event(on: &[Trigger], status: Status, previous: Option<Status>) -> Option<Trigger> {
    let passed = status <= Status::Skip;
    if passed && on.contains(&Trigger::Recovered) && previous.is_some_and(|p| p > Status::Skip) {
        return Some(Trigger::Recovered);
    }
    let t = match status {
        Status::Pass | Status::Maint | Status::Skip => Trigger::Pass,
        Status::Warn => Trigger::Warn,
        Status::Fail => Trigger::Fail,
        Status::Unknown => Trigger::Unknown,
    };
    (on.contains(&t) || on.contains(&Trigger::Always)).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn events() {
        let all = crate::runbook::notify::DEFAULT_ON;
        assert_eq!(event(all, Warn, None), Some(Trigger::Warn));
        assert_eq!(event(all, Unknown, None), Some(Trigger::Unknown));
        assert_eq!(event(all, Pass, None), None);
        assert_eq!(event(all, Pass, Some(Pass)), None);
        assert_eq!(event(all, Pass, Some(Fail)), Some(Trigger::Recovered));
        assert_eq!(event(all, Skip, Some(Warn)), Some(Trigger::Recovered));
        assert_eq!(event(&[Trigger::Fail], Warn, None), None);
        assert_eq!(
            event(&[Trigger::Pass], Pass, Some(Fail)),
            Some(Trigger::Pass)
        );
        assert_eq!(event(&[], Fail, None), None);
        // `always`: every status, in its own word; a recovery says 復旧
        // only when `recovered` is listed too.
        let always = &[Trigger::Always];
        assert_eq!(event(always, Pass, None), Some(Trigger::Pass));
        assert_eq!(event(always, Fail, None), Some(Trigger::Fail));
        assert_eq!(event(always, Pass, Some(Fail)), Some(Trigger::Pass));
    }
}
