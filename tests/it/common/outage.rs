//! An outage the tests switch on and off: the file `healthy` in the
//! runbook directory. An incident runbook made here diagnoses with
//! `test -f healthy` and recovers by creating it, so a test decides what
//! the diagnosis sees and what `--execute` repairs, with no service to
//! start or kill (tests/it/incident_life.rs, tests/it/history/month.rs).

use super::Env;

/// What an incident runbook over the file outage calls its parts.
pub struct Names {
    pub system: &'static str,
    pub scope: &'static str,
    pub escalation: &'static str,
    /// The diagnosis check: `(id, label)`.
    pub check: (&'static str, &'static str),
    /// The recovery action: `(id, title)`.
    pub action: (&'static str, &'static str),
}

/// An incident runbook of `level` (`p1`…) named `name` (`緊急`…).
pub fn incident_runbook(n: &Names, title: &str, level: &str, name: &str) -> String {
    let Names {
        system,
        scope,
        escalation,
        check: (check, label),
        action: (action, action_title),
    } = n;
    format!(
        r#"version: 1
title: {title}
system: {system}
incident: {{level: {level}, name: {name}, scope: {scope}, escalation: {escalation}}}
checks:
  - id: {check}
    label: {label}
    command: {{shell: 'test -f healthy'}}
actions:
  - id: {action}
    title: {action_title}
    command: {{shell: 'touch healthy'}}
verify: {{checks: [{check}], attempts: 2, interval: 100ms}}
"#
    )
}

/// Ends the outage (`true`) or starts it (`false`).
pub fn healthy(env: &Env, yes: bool) {
    let f = env.runbooks().join("healthy");
    if yes {
        std::fs::write(f, "").unwrap();
    } else {
        let _ = std::fs::remove_file(f);
    }
}
