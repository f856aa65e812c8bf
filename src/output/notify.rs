//! What `--notify` says (the bodies are the reports, rendered by
//! `render`): the subject of each message, and the lines on stderr about
//! a notification that was sent (`-v`), not sent, or failed. `notify`
//! hands the facts (the run's record, the channel, its error) and prints
//! these lines; the words are here.

use std::fmt::Display;

use crate::history::RunRecord;
use crate::incident::IncidentRun;
use crate::runbook::notify::{TlsMode, Trigger};
use crate::values::outcome::Status;

/// The subject's word for a run's status.
fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass | Status::Skip => "正常",
        Status::Maint => "計画停止",
        Status::Warn => "警告",
        Status::Fail => "異常",
        Status::Unknown => "不明",
    }
}

/// `[opsrun][警告] AI見積りシステム web01 日次点検: 警告1件 異常0件`
/// (`不明N件` when some): the event, the system (the runbook's `system:`,
/// else its name), the host and the runbook's title, so a mailbox sorted by
/// subject groups one system's mail and a glance says which host and how
/// bad. All Japanese, like the report in the body (SPEC §10.1).
pub(crate) fn subject(event: Trigger, rec: &RunRecord) -> String {
    let word = match event {
        Trigger::Pass => "正常",
        Trigger::Warn => "警告",
        Trigger::Fail => "異常",
        Trigger::Unknown => "不明",
        Trigger::Recovered => "復旧",
        // `notify::event` gives the run's own status for `always`.
        Trigger::Always => status_word(rec.status()),
    };
    let system = rec.system.as_deref().unwrap_or(&rec.runbook);
    let mut s = format!(
        "[opsrun][{word}] {system} {} {}: 警告{}件 異常{}件",
        rec.host,
        rec.title,
        rec.count(Status::Warn),
        rec.count(Status::Fail)
    );
    let unknown = rec.count(Status::Unknown);
    if unknown > 0 {
        s.push_str(&format!(" 不明{unknown}件"));
    }
    s
}

/// `[opsrun][異常] web01 【障害報告】AI見積りシステム P1（緊急）`.
pub(crate) fn incident_subject(inc: &IncidentRun) -> String {
    let word = match &inc.verify {
        Some(v) if v.recovered => "復旧",
        _ => status_word(inc.status()),
    };
    // The incident's level, as the 障害報告 says it: a P3 call that joins
    // an open P1 incident is mailed as P1.
    let (level, name) = inc.incident_level();
    format!(
        "[opsrun][{word}] {} 【障害報告】{} {level}（{name}）",
        inc.diagnostics.host,
        inc.system.as_deref().unwrap_or(&inc.title),
    )
}

/// How a channel is named on stderr: `email`, or `email (daily)` when
/// several runbooks notify.
pub(crate) fn label(channel: &str, runbook: Option<&str>) -> String {
    match runbook {
        Some(rb) => format!("{channel} ({rb})"),
        None => channel.to_owned(),
    }
}

/// A channel whose secret cannot be read.
pub(crate) fn unusable(label: &str, why: impl Display) -> String {
    format!("warning: notification {label} cannot be sent: {why}")
}

/// A message that was not delivered.
pub(crate) fn failed(label: &str, why: impl Display) -> String {
    format!("warning: notification {label} failed: {why}")
}

/// What a channel reports about a message it delivered (notify fills it
/// in; `-v` says it).
#[derive(Debug)]
pub(crate) enum Delivery {
    /// The webhook's answer: its status and the first line of its body.
    Webhook { status: String, body: String },
    /// Handed to an SMTP server, which answered `code` and `text`.
    Smtp {
        to: Vec<String>,
        host: String,
        port: u16,
        tls: TlsMode,
        code: String,
        text: String,
    },
    /// Handed to the sendmail program.
    Sendmail { to: Vec<String>, program: String },
}

fn delivery(d: &Delivery) -> String {
    match d {
        Delivery::Webhook { status, body } => format!("webhook answered {status} {body}"),
        Delivery::Smtp {
            to,
            host,
            port,
            tls,
            code,
            text,
        } => {
            let tls = match tls {
                TlsMode::Starttls => "starttls",
                TlsMode::Implicit => "implicit tls",
                TlsMode::None => "no tls",
            };
            format!(
                "to {} via {host}:{port} ({tls}); server said {code} {text}",
                to.join(", ")
            )
        }
        Delivery::Sendmail { to, program } => format!("to {} via {program}", to.join(", ")),
    }
}

/// `-v`: a message that was delivered, with what the server said.
pub(crate) fn sent(label: &str, done: &Delivery) -> String {
    format!(
        "notify: {label} sent: {}",
        crate::secret::redact(&delivery(done))
    )
}

/// `-v`: a channel whose `on:` does not list the run's status.
pub(crate) fn not_sent(label: &str, status: Status, on: &[Trigger]) -> String {
    let on: Vec<&str> = on.iter().map(|t| t.as_str()).collect();
    format!(
        "notify: {label} not sent (run is {}; on: [{}])",
        status.as_str(),
        on.join(", ")
    )
}

/// `-v`: an interrupted run is not notified about.
pub(crate) fn interrupted(runbook: &str) -> String {
    format!("notify: {runbook}: interrupted run, nothing sent")
}

/// Nothing could be sent at all.
pub(crate) fn no_runtime(why: impl Display) -> String {
    format!("warning: notifications not sent: cannot start the runtime: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        let rec = RunRecord {
            runbook: "daily".into(),
            title: "日次点検".into(),
            system: None,
            host: "web01".into(),
            started_at: chrono::DateTime::parse_from_rfc3339("2025-10-21T09:00:00+09:00").unwrap(),
            duration_ms: 1,
            interrupted: false,
            results: Vec::new(),
        };
        // No `system:`: the runbook's name stands for it.
        assert_eq!(
            subject(Trigger::Warn, &rec),
            "[opsrun][警告] daily web01 日次点検: 警告0件 異常0件"
        );
        let rec = RunRecord {
            system: Some("AI見積りシステム".into()),
            ..rec
        };
        assert_eq!(
            subject(Trigger::Recovered, &rec),
            "[opsrun][復旧] AI見積りシステム web01 日次点検: 警告0件 異常0件"
        );
    }

    #[test]
    fn deliveries() {
        let to = vec!["ops@example.com".to_owned(), "b@example.com".to_owned()];
        assert_eq!(
            sent(
                "email",
                &Delivery::Smtp {
                    to: to.clone(),
                    host: "smtp.example.com".into(),
                    port: 587,
                    tls: TlsMode::Starttls,
                    code: "250".into(),
                    text: "OK queued".into(),
                }
            ),
            "notify: email sent: to ops@example.com, b@example.com via smtp.example.com:587 (starttls); server said 250 OK queued"
        );
        assert_eq!(
            sent(
                "email",
                &Delivery::Sendmail {
                    to,
                    program: "/usr/sbin/sendmail".into()
                }
            ),
            "notify: email sent: to ops@example.com, b@example.com via /usr/sbin/sendmail"
        );
    }

    #[test]
    fn stderr_lines() {
        assert_eq!(label("email", Some("daily")), "email (daily)");
        assert_eq!(
            not_sent("slack", Status::Pass, &[Trigger::Fail, Trigger::Recovered]),
            "notify: slack not sent (run is pass; on: [fail, recovered])"
        );
    }
}
