//! Incidents in history (SPEC §10.3): one row per incident, however many
//! `opsrun incident` calls it took, and one row per call.
//!
//! What a call does to the incidents of its system is decided here, in the
//! write transaction that records it (two on-call engineers calling at
//! the same moment join one incident, they do not open two):
//! - it **joins** the system's open incident: not closed, and not
//!   recovered more than [`REJOIN_AFTER_RECOVERY`] ago (a recovered
//!   incident nobody closed must not swallow next week's outage). A higher
//!   level raises the incident's level; `--since` earlier than its start
//!   moves the start back. `--new` never joins.
//! - with none to join it **opens** one when it found trouble (a
//!   diagnostic that warned, failed or could not be carried out), ran
//!   recovery actions, or was told `--new`. A diagnosis-only call whose
//!   diagnostics all pass opens nothing: someone looked, nothing is wrong.
//! - a passing verify sets `recovered_at`; so does a call whose full
//!   diagnostics (no `--only/--skip/--tag`) all pass. A call that finds
//!   trouble again on a recovered incident (within the hour) clears it:
//!   the outage goes on, and its recovery time is the later one.
//! - `opsrun incident close` sets `closed_at` (and a note).

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use rusqlite::{OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::HistoryError;
use super::store::{Store, at, ms};

/// A recovered, unclosed incident is joined by calls within this long of
/// its recovery (a flap, or the on-call looking again), not later.
pub const REJOIN_AFTER_RECOVERY: Duration = Duration::from_secs(3600);

/// Where an incident stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Open,
    Recovered,
    Closed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Recovered => "recovered",
            State::Closed => "closed",
        }
    }
}

/// An incident as history keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentRecord {
    pub id: i64,
    /// `p1` … `p4`: the highest level any of its calls had.
    pub level: String,
    /// `緊急`, `重要` … of that level.
    pub name: Option<String>,
    pub system: Option<String>,
    /// The runbook of that level (`incident-p1`).
    pub runbook: String,
    pub host: String,
    /// `--since` of the call that opened it (or an earlier one of a later
    /// call), else that call's time; in the offset it was recorded in.
    pub opened_at: DateTime<FixedOffset>,
    pub recovered_at: Option<DateTime<FixedOffset>>,
    pub closed_at: Option<DateTime<FixedOffset>>,
    /// `opsrun incident close --note`.
    pub note: Option<String>,
    /// What the diagnostics found (`異常: ヘルスチェック`), from the first
    /// call that found something.
    pub summary: String,
    /// The recovery actions of every call and how they ended
    /// (`estimatorサービス再起動 → 成功`), joined by `、`.
    pub actions: String,
    pub reporter: Option<String>,
    /// How many `opsrun incident` calls it took.
    pub calls: u32,
    /// The latest call.
    pub last_at: DateTime<FixedOffset>,
}

impl IncidentRecord {
    pub fn state(&self) -> State {
        if self.closed_at.is_some() {
            State::Closed
        } else if self.recovered_at.is_some() {
            State::Recovered
        } else {
            State::Open
        }
    }

    /// Opened → recovered, when it recovered.
    pub fn time_to_recover(&self) -> Option<chrono::Duration> {
        self.recovered_at
            .map(|r| (r - self.opened_at).max(chrono::Duration::zero()))
    }
}

/// How one call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// Its verify passed.
    Recovered,
    /// It ran recovery actions; verify did not pass (or there was none).
    Unresolved,
    /// Diagnostics only.
    Diagnosed,
    /// A signal stopped it.
    Interrupted,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Recovered => "recovered",
            CallOutcome::Unresolved => "unresolved",
            CallOutcome::Diagnosed => "diagnosed",
            CallOutcome::Interrupted => "interrupted",
        }
    }
}

/// One `opsrun incident pN` call, as the command hands it to history.
#[derive(Clone, Debug)]
pub struct IncidentCall {
    /// The run of its diagnostics.
    pub run_id: Option<i64>,
    pub level: String,
    pub name: Option<String>,
    pub system: Option<String>,
    pub runbook: String,
    pub host: String,
    /// The call's time (the invocation's clock).
    pub at: DateTime<FixedOffset>,
    /// `--since`, when given.
    pub since: Option<DateTime<FixedOffset>>,
    pub outcome: CallOutcome,
    /// A diagnostic warned, failed or could not be carried out.
    pub trouble: bool,
    /// Recovery actions were run (`--execute`).
    pub executed: bool,
    /// Every diagnostic ran and passed, none deselected.
    pub healthy: bool,
    /// When its verify passed.
    pub verified_at: Option<DateTime<FixedOffset>>,
    /// What its diagnostics found (`異常: …`, or empty).
    pub findings: String,
    /// Its actions and how they ended (empty when none ran).
    pub actions: String,
    /// The call in one line (findings and actions), for its own row.
    pub line: String,
    pub reporter: Option<String>,
    /// `--new`: open a new incident whatever is open.
    pub force_new: bool,
}

/// What recording a call did.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    Opened(IncidentRecord),
    Joined(IncidentRecord),
    /// Nothing open and nothing found: no incident.
    Nothing,
}

/// Why `opsrun incident close` closed nothing.
#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    #[error("no incident #{0} in history")]
    NoSuch(i64),
    #[error("incident #{id} is already closed (at {at})")]
    AlreadyClosed { id: i64, at: String },
    #[error("no open incident{} to close (`opsrun incident list` shows them)", for_system(.0))]
    NoneOpen(Vec<String>),
    #[error("several open incidents ({}): give the ID, e.g. `opsrun incident close {}`", list(.0), .0[0].0)]
    Several(Vec<(i64, String)>),
    #[error(transparent)]
    History(#[from] HistoryError),
}

fn for_system(systems: &[String]) -> String {
    if systems.is_empty() {
        String::new()
    } else {
        format!(" of {}", systems.join(", "))
    }
}

fn list(open: &[(i64, String)]) -> String {
    open.iter()
        .map(|(id, s)| format!("#{id} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const COLUMNS: &str = "i.id, i.level, i.name, i.system, i.runbook, i.host, i.opened_ms,
    i.utc_offset, i.recovered_ms, i.closed_ms, i.note, i.summary, i.actions, i.reporter,
    i.last_ms, (SELECT COUNT(*) FROM incident_calls k WHERE k.incident_id = i.id)";

fn read(r: &Row) -> rusqlite::Result<IncidentRecord> {
    let offset: i64 = r.get(7)?;
    let t = |ms: Option<i64>| ms.map(|m| at(m, offset));
    Ok(IncidentRecord {
        id: r.get(0)?,
        level: r.get(1)?,
        name: r.get(2)?,
        system: r.get(3)?,
        runbook: r.get(4)?,
        host: r.get(5)?,
        opened_at: at(r.get(6)?, offset),
        recovered_at: t(r.get(8)?),
        closed_at: t(r.get(9)?),
        note: r.get(10)?,
        summary: r.get(11)?,
        actions: r.get(12)?,
        reporter: r.get(13)?,
        last_at: at(r.get(14)?, offset),
        calls: r.get::<_, i64>(15)? as u32,
    })
}

fn by_id(tx: &rusqlite::Connection, id: i64) -> rusqlite::Result<Option<IncidentRecord>> {
    tx.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM incidents i WHERE i.id = ?1"
    ))?
    .query_row([id], read)
    .optional()
}

/// The incident a call of `system` at `at_ms` joins.
fn joinable(
    tx: &rusqlite::Connection,
    system: Option<&str>,
    at_ms: i64,
) -> rusqlite::Result<Option<IncidentRecord>> {
    tx.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM incidents i
         WHERE i.system IS ?1 AND i.closed_ms IS NULL
           AND (i.recovered_ms IS NULL OR i.recovered_ms >= ?2)
         ORDER BY i.opened_ms DESC, i.id DESC LIMIT 1"
    ))?
    .query_row(
        params![system, at_ms - REJOIN_AFTER_RECOVERY.as_millis() as i64],
        read,
    )
    .optional()
}

/// `p1` is higher than `p2`.
fn higher(a: &str, b: &str) -> bool {
    a < b
}

fn append(list: &str, more: &str) -> String {
    match (list.is_empty(), more.is_empty()) {
        (_, true) => list.to_owned(),
        (true, false) => more.to_owned(),
        (false, false) => format!("{list}、{more}"),
    }
}

impl Store {
    /// The incident a call of `system` made now would join (for the
    /// header: when it began, how high it is); `None` with `--new`.
    pub fn incident_to_join(
        &self,
        system: Option<&str>,
        now: &DateTime<FixedOffset>,
    ) -> Result<Option<IncidentRecord>, HistoryError> {
        joinable(&self.conn, system, ms(now)).map_err(|e| self.err(e))
    }

    /// Records one call: joins, opens or leaves alone (see the module
    /// doc), in one immediate transaction.
    pub fn record_incident_call(&mut self, c: &IncidentCall) -> Result<Recorded, HistoryError> {
        let r = (|| -> rusqlite::Result<Recorded> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let recorded = record_call(&tx, c)?;
            tx.commit()?;
            Ok(recorded)
        })();
        r.map_err(|e| self.err(e))
    }

    /// Closes incident `id`, or with no id the one open incident of
    /// `systems` (any system when empty).
    pub fn close_incident(
        &mut self,
        id: Option<i64>,
        systems: &[Option<String>],
        now: &DateTime<FixedOffset>,
        note: Option<&str>,
    ) -> Result<IncidentRecord, CloseError> {
        let r = (|| -> rusqlite::Result<Result<IncidentRecord, CloseError>> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let target = match id {
                Some(id) => match by_id(&tx, id)? {
                    None => return Ok(Err(CloseError::NoSuch(id))),
                    Some(i) if i.closed_at.is_some() => {
                        return Ok(Err(CloseError::AlreadyClosed {
                            id,
                            at: i
                                .closed_at
                                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                                .unwrap_or_default(),
                        }));
                    }
                    Some(i) => i,
                },
                None => {
                    let open: Vec<IncidentRecord> = tx
                        .prepare_cached(&format!(
                            "SELECT {COLUMNS} FROM incidents i WHERE i.closed_ms IS NULL
                             ORDER BY i.opened_ms, i.id"
                        ))?
                        .query_map([], read)?
                        .collect::<rusqlite::Result<Vec<_>>>()?
                        .into_iter()
                        .filter(|i| systems.is_empty() || systems.contains(&i.system))
                        .collect();
                    match open.len() {
                        1 => open.into_iter().next().expect("one"),
                        0 => {
                            return Ok(Err(CloseError::NoneOpen(
                                systems.iter().flatten().cloned().collect(),
                            )));
                        }
                        _ => {
                            return Ok(Err(CloseError::Several(
                                open.iter()
                                    .map(|i| {
                                        (
                                            i.id,
                                            i.system.clone().unwrap_or_else(|| i.runbook.clone()),
                                        )
                                    })
                                    .collect(),
                            )));
                        }
                    }
                }
            };
            tx.prepare_cached("UPDATE incidents SET closed_ms = ?2, note = ?3 WHERE id = ?1")?
                .execute(params![target.id, ms(now), note.map(crate::secret::redact)])?;
            let closed = by_id(&tx, target.id)?.expect("just updated");
            tx.commit()?;
            Ok(Ok(closed))
        })();
        r.map_err(|e| CloseError::History(self.err(e)))?
    }

    /// Incidents opened in `[from, to)`, oldest first; with `open_too`,
    /// also every incident not closed yet, whenever it opened.
    pub fn incidents_between(
        &self,
        from: &DateTime<FixedOffset>,
        to: &DateTime<FixedOffset>,
        open_too: bool,
    ) -> Result<Vec<IncidentRecord>, HistoryError> {
        let r = (|| -> rusqlite::Result<Vec<IncidentRecord>> {
            let mut out: Vec<IncidentRecord> = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM incidents i
                     WHERE i.opened_ms >= ?1 AND i.opened_ms < ?2
                     ORDER BY i.opened_ms, i.id"
                ))?
                .query_map(params![ms(from), ms(to)], read)?
                .collect::<rusqlite::Result<_>>()?;
            if open_too {
                let open: Vec<IncidentRecord> = self
                    .conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM incidents i WHERE i.closed_ms IS NULL
                         ORDER BY i.opened_ms, i.id"
                    ))?
                    .query_map([], read)?
                    .collect::<rusqlite::Result<_>>()?;
                for i in open {
                    if !out.iter().any(|o| o.id == i.id) {
                        out.push(i);
                    }
                }
                out.sort_by_key(|i| (i.opened_at, i.id));
            }
            Ok(out)
        })();
        r.map_err(|e| self.err(e))
    }

    /// Incidents opened in `[from, to)`, oldest first (weekly and monthly
    /// reports count them).
    pub fn incidents(
        &self,
        from: &DateTime<FixedOffset>,
        to: &DateTime<FixedOffset>,
    ) -> Result<Vec<IncidentRecord>, HistoryError> {
        self.incidents_between(from, to, false)
    }
}

fn record_call(tx: &Transaction, c: &IncidentCall) -> rusqlite::Result<Recorded> {
    let at_ms = ms(&c.at);
    let join = if c.force_new {
        None
    } else {
        joinable(tx, c.system.as_deref(), at_ms)?
    };
    let recovered_ms = c
        .verified_at
        .as_ref()
        .map(ms)
        .or(c.healthy.then_some(at_ms));
    let id = match &join {
        Some(i) => {
            let raise = higher(&c.level, &i.level);
            let opened = match &c.since {
                Some(s) if ms(s) < ms(&i.opened_at) => ms(s),
                _ => ms(&i.opened_at),
            };
            // Recovered now; found trouble again: not recovered (the later
            // recovery counts); else as it was.
            let recovered = match (recovered_ms, i.recovered_at.as_ref().map(ms)) {
                (Some(_), Some(before)) => Some(before),
                (Some(now), None) => Some(now),
                (None, _) if c.trouble && c.outcome != CallOutcome::Interrupted => None,
                (None, before) => before,
            };
            // What the first call that found something found.
            let summary = if i.summary.is_empty() {
                &c.findings
            } else {
                &i.summary
            };
            tx.prepare_cached(
                "UPDATE incidents SET level = ?2, name = ?3, runbook = ?4, opened_ms = ?5,
                    recovered_ms = ?6, summary = ?7, actions = ?8, last_ms = MAX(last_ms, ?9)
                 WHERE id = ?1",
            )?
            .execute(params![
                i.id,
                if raise { &c.level } else { &i.level },
                if raise { &c.name } else { &i.name },
                if raise { &c.runbook } else { &i.runbook },
                opened,
                recovered,
                summary,
                append(&i.actions, &c.actions),
                at_ms,
            ])?;
            i.id
        }
        None if c.force_new || c.trouble || c.executed => {
            let opened = c.since.as_ref().map(ms).unwrap_or(at_ms).min(at_ms);
            tx.prepare_cached(
                "INSERT INTO incidents (level, name, system, runbook, host, opened_ms, utc_offset,
                    recovered_ms, closed_ms, note, summary, actions, reporter, last_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                c.level,
                c.name,
                c.system,
                c.runbook,
                c.host,
                opened,
                i64::from(c.at.offset().local_minus_utc()),
                recovered_ms,
                c.findings,
                c.actions,
                c.reporter,
                at_ms,
            ])?;
            tx.last_insert_rowid()
        }
        None => return Ok(Recorded::Nothing),
    };
    tx.prepare_cached(
        "INSERT INTO incident_calls (incident_id, run_id, at_ms, level, outcome, summary, reporter)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        c.run_id,
        at_ms,
        c.level,
        c.outcome.as_str(),
        c.line,
        c.reporter,
    ])?;
    let rec = by_id(tx, id)?.expect("just written");
    Ok(if join.is_some() {
        Recorded::Joined(rec)
    } else {
        Recorded::Opened(rec)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(hm: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(&format!("2025-10-21T{hm}:00+09:00")).unwrap()
    }

    fn call(at: &str, level: &str) -> IncidentCall {
        IncidentCall {
            run_id: None,
            level: level.into(),
            name: None,
            system: Some("s".into()),
            runbook: format!("incident-{level}"),
            host: "h".into(),
            at: t(at),
            since: None,
            outcome: CallOutcome::Diagnosed,
            trouble: true,
            executed: false,
            healthy: false,
            verified_at: None,
            findings: "異常: ヘルス".into(),
            actions: String::new(),
            line: String::new(),
            reporter: None,
            force_new: false,
        }
    }

    fn incident(r: Recorded) -> IncidentRecord {
        match r {
            Recorded::Opened(i) | Recorded::Joined(i) => i,
            Recorded::Nothing => panic!("no incident"),
        }
    }

    /// A flap: trouble again within the hour of a recovery reopens the
    /// same incident, whose recovery is then the later one; trouble more
    /// than an hour after a recovery is a new incident. Levels only rise.
    #[test]
    fn recovery_relapse_and_rejoin_window() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("h.db")).unwrap();
        let i = incident(s.record_incident_call(&call("10:00", "p3")).unwrap());
        assert_eq!((i.id, i.state()), (1, State::Open));
        let mut fixed = call("10:10", "p2");
        fixed.executed = true;
        fixed.actions = "再起動 → 成功".into();
        fixed.verified_at = Some(t("10:12"));
        fixed.outcome = CallOutcome::Recovered;
        let i = incident(s.record_incident_call(&fixed).unwrap());
        assert_eq!((i.id, i.level.as_str()), (1, "p2"));
        assert_eq!(i.time_to_recover(), Some(chrono::Duration::minutes(12)));
        // Back down 20 minutes later: the same incident, not recovered.
        let i = incident(s.record_incident_call(&call("10:32", "p4")).unwrap());
        assert_eq!((i.id, i.level.as_str(), i.state()), (1, "p2", State::Open));
        let mut healthy = call("10:50", "p4");
        healthy.trouble = false;
        healthy.healthy = true;
        let i = incident(s.record_incident_call(&healthy).unwrap());
        assert_eq!(i.time_to_recover(), Some(chrono::Duration::minutes(50)));
        assert_eq!(i.calls, 4);
        assert_eq!(i.actions, "再起動 → 成功");
        // An interrupted call does not undo a recovery.
        let mut stopped = call("11:00", "p4");
        stopped.outcome = CallOutcome::Interrupted;
        let i = incident(s.record_incident_call(&stopped).unwrap());
        assert_eq!(i.state(), State::Recovered);
        // Two hours after the recovery: a new outage.
        let i = incident(s.record_incident_call(&call("12:51", "p4")).unwrap());
        assert_eq!((i.id, i.level.as_str()), (2, "p4"));
        // Another system's call is not joined to it.
        let mut other = call("12:52", "p4");
        other.system = None;
        assert_eq!(incident(s.record_incident_call(&other).unwrap()).id, 3);
        // Nothing open for `None` any more once closed; a healthy look
        // opens nothing.
        s.close_incident(Some(3), &[], &t("13:00"), None).unwrap();
        let mut look = healthy.clone();
        look.system = None;
        assert_eq!(s.record_incident_call(&look).unwrap(), Recorded::Nothing);
    }
}
