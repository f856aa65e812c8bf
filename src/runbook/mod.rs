//! Runbooks: loading YAML files (vars, include, defaults) into checks the
//! engine can run. See SPEC §3.

mod schema;
mod workflow;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_saphyr::Spanned;

// The spec layer's types, re-exported: a runbook is read as one thing.
pub use crate::spec::notify;
pub use crate::spec::{
    Amount, CheckRef, ChecklistItem, Defaults, ForecastSpec, LineSpec, LoadError, ReportSpec,
    Retry, SectionSpec, Severity, Tz, UptimeSpec,
};
pub use workflow::{
    Action, ArchiveStep, BackupSpec, CopyStep, IncidentSpec, Level, MATCH_OPTIONS, PgDumpStep,
    PgRestoreSpec, PruneSpec, RestoreTestSpec, SqliteBackupStep, SqliteCheck, Step,
    SystemctlAction, UnitAction, When, Workflow,
};

use crate::check::Kind;
use crate::spec::report::valid_id;
use crate::values::io_reason;
use schema::{CheckDef, Prelude, RawFile};

/// The timeout of a check when neither it nor `defaults:` sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Nested includes deeper than this are refused (a cycle is caught earlier;
/// this bounds pathological but acyclic chains).
const MAX_INCLUDE_DEPTH: usize = 16;
/// The timeout of a backup data step (`sqlite_backup`, `copy`, `archive`)
/// that sets none: large databases and upload trees take a while.
pub const DEFAULT_BACKUP_STEP_TIMEOUT: Duration = Duration::from_secs(3600);
/// Runbook files larger than this are refused rather than parsed; so is a
/// file that grows past it once `${vars}` are expanded.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// A variable's value after expanding the variables it refers to: vars
/// that repeat each other (`b: ${a}${a}…`, `c: ${b}${b}…`) would
/// otherwise grow exponentially.
const MAX_VAR_BYTES: usize = 64 * 1024;
/// A runbook and everything it includes: at most this many files and
/// bytes. Each file may be included once, so `include: [b, b, b]` in every
/// file of a 16-deep chain cannot make the loader read 3^16 files.
const MAX_FILES: usize = 256;
const MAX_TOTAL_BYTES: u64 = 4 * MAX_FILE_BYTES;

/// What the loader has read so far, across includes.
#[derive(Default)]
struct Loading {
    /// Files being loaded, outermost first (cycle detection).
    stack: Vec<PathBuf>,
    /// Every file read, with where it was first included (`a.yaml:3`).
    seen: BTreeMap<PathBuf, String>,
    bytes: u64,
}

/// A loaded runbook: the root file plus everything it includes.
#[derive(Debug)]
pub struct Runbook {
    pub path: PathBuf,
    /// File stem (`daily`), used as the runbook's name in history and metrics.
    pub name: String,
    pub title: String,
    pub system: Option<String>,
    pub checks: Vec<Arc<Check>>,
    /// Incident header, recovery actions and verify loop (root file only).
    pub workflow: Workflow,
    /// The `report:` block (defaults when absent).
    pub report: ReportSpec,
    /// The `notify:` block, paths resolved (sent only with `--notify`).
    pub notify: Option<crate::runbook::notify::NotifySpec>,
    /// `maintenance:` windows (root file only; `config.yaml` adds more).
    pub maintenance: Vec<crate::spec::maintenance::WindowSpec>,
}

/// One check, ready to run.
#[derive(Debug)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub section: String,
    pub label: String,
    pub tags: Vec<String>,
    pub timeout: Duration,
    pub retry: Option<Retry>,
    pub severity: Option<Severity>,
    /// `consecutive: N` [1]: results in a row that must be non-pass
    /// before one counts (SPEC §10.4).
    pub consecutive: u32,
    /// `change: {vs, warn, fail}`: the headline metric's relative change
    /// against history (SPEC §10.6).
    pub change: Option<crate::spec::common::Change>,
    pub hint: Option<String>,
    pub kind_name: &'static str,
    pub kind: Box<dyn Kind>,
    /// Where it was written, for messages.
    pub file: PathBuf,
    pub line: usize,
}

impl Check {
    /// The directory relative paths in this check are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        crate::values::io::dir_of(&self.file).to_path_buf()
    }
}

/// Loads a runbook file; `overrides` are `--var KEY=VALUE` settings.
pub fn load(path: &Path, overrides: &BTreeMap<String, String>) -> Result<Runbook, LoadError> {
    load_root(path, None, overrides)
}

/// Loads a runbook from `text` as if it were the contents of `path`
/// (includes are read relative to it). For tests and fuzzing.
pub fn load_str(
    path: &Path,
    text: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<Runbook, LoadError> {
    load_root(path, Some(text.to_owned()), overrides)
}

fn load_root(
    path: &Path,
    text: Option<String>,
    overrides: &BTreeMap<String, String>,
) -> Result<Runbook, LoadError> {
    let mut loading = Loading::default();
    let root = load_file(
        path,
        text,
        overrides,
        &Defaults::default(),
        &mut loading,
        None,
    )?;
    let version = root.version;
    if version.is_none() {
        return Err(LoadError::new(
            path,
            1,
            1,
            "missing `version: 1` at the top of the runbook",
            &root.text,
        ));
    }
    let mut checks: Vec<Arc<Check>> = Vec::new();
    let mut ids: BTreeMap<String, (PathBuf, usize)> = BTreeMap::new();
    for (check, id_line, id_col, text) in root.checks {
        if let Some((f, l)) = ids.get(&check.id) {
            let first = if *f == check.file {
                format!("line {l}")
            } else {
                format!("{}:{l}", f.display())
            };
            return Err(LoadError::new(
                &check.file,
                id_line,
                id_col,
                format!(
                    "duplicate check id `{}` (first defined on {first})",
                    check.id
                ),
                &text,
            ));
        }
        ids.insert(check.id.clone(), (check.file.clone(), id_line));
        checks.push(Arc::new(check));
    }
    let workflow = root.workflow;
    if let Some((ids_wanted, _, _)) = &workflow.verify {
        for (id, l, c) in ids_wanted
            .iter()
            .zip(root.verify_pos.iter())
            .map(|(i, (l, c))| (i, *l, *c))
        {
            if !ids.contains_key(id) {
                let known: Vec<&str> = ids.keys().map(String::as_str).collect();
                let hint = crate::suggest::closest(id, &known)
                    .map(|s| format!(", did you mean `{s}`?"))
                    .unwrap_or_default();
                return Err(LoadError::new(
                    path,
                    l,
                    c,
                    format!("verify: no check with id `{id}`{hint}"),
                    &root.text,
                ));
            }
        }
    }
    // `when: {check: ID}` names a diagnosis check: a typo would skip
    // (or never skip) a recovery step in the middle of an incident.
    for w in workflow.actions.iter().filter_map(|a| a.when.as_ref()) {
        if !ids.contains_key(&w.check) {
            let known: Vec<&str> = ids.keys().map(String::as_str).collect();
            let hint = match crate::suggest::closest(&w.check, &known) {
                Some(s) => format!(", did you mean `{s}`?"),
                None => format!(" (checks: {})", known.join(", ")),
            };
            return Err(LoadError::new(
                path,
                w.at.0,
                w.at.1,
                format!("when: no check with id `{}`{hint}", w.check),
                &root.text,
            ));
        }
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "runbook".into());
    let report = root.report.map(|r| r.value).unwrap_or_default();
    check_report_ids(path, &root.text, &report, &checks)?;
    let maintenance = check_maintenance_ids(path, &root.text, root.maintenance, &checks)?;
    let notify = root.notify.map(|n| {
        let mut n = n.value;
        n.resolve_paths(crate::values::io::dir_of(path));
        n
    });
    Ok(Runbook {
        notify,
        path: path.to_owned(),
        title: root.title.unwrap_or_else(|| name.clone()),
        name,
        system: root.system,
        checks,
        workflow,
        report,
        maintenance,
    })
}

/// Check ids a runbook's `maintenance:` window names must be its checks:
/// a typo would leave the real check alarming through the window.
fn check_maintenance_ids(
    path: &Path,
    text: &str,
    windows: Vec<Spanned<crate::spec::maintenance::WindowSpec>>,
    checks: &[Arc<Check>],
) -> Result<Vec<crate::spec::maintenance::WindowSpec>, LoadError> {
    let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    for w in &windows {
        for id in w.value.checks.iter().flatten() {
            if !ids.contains(&id.as_str()) {
                let hint = crate::suggest::closest(id, &ids)
                    .map(|s| format!(", did you mean `{s}`?"))
                    .unwrap_or_default();
                let (l, c) = pos(w);
                return Err(LoadError::new(
                    path,
                    l,
                    c,
                    format!("maintenance: no check with id `{id}`{hint}"),
                    text,
                ));
            }
        }
    }
    Ok(windows.into_iter().map(|w| w.value).collect())
}

/// Check ids named in `report:` (show_value, show_status, checklist) must
/// be checks of this runbook: a typo would silently leave an item unticked.
fn check_report_ids(
    path: &Path,
    text: &str,
    report: &ReportSpec,
    checks: &[Arc<Check>],
) -> Result<(), LoadError> {
    let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    let named = report
        .show_value
        .iter()
        .map(|s| ("show_value", s))
        .chain(report.show_status.iter().map(|s| ("show_status", s)))
        .chain(
            report
                .checklist
                .iter()
                .flatten()
                .flat_map(|i| i.checks.iter().map(|s| ("checklist", s))),
        );
    for (field, id) in named {
        if !ids.contains(&id.value.as_str()) {
            let hint = match crate::suggest::closest(&id.value, &ids) {
                Some(s) => format!(", did you mean `{s}`?"),
                None => format!(" (checks: {})", ids.join(", ")),
            };
            return Err(LoadError::at_span(
                path,
                id,
                format!("report.{field}: no check with id `{}`{hint}", id.value),
                text,
            ));
        }
    }
    if let Some(both) = report
        .show_value
        .iter()
        .find(|v| report.show_status.iter().any(|s| s.value == v.value))
    {
        return Err(LoadError::at_span(
            path,
            both,
            format!(
                "report: check `{}` is in both show_value and show_status; keep one",
                both.value
            ),
            text,
        ));
    }
    Ok(())
}

struct LoadedFile {
    text: String,
    version: Option<u64>,
    title: Option<String>,
    system: Option<String>,
    report: Option<Spanned<ReportSpec>>,
    notify: Option<Spanned<crate::runbook::notify::NotifySpec>>,
    maintenance: Vec<Spanned<crate::spec::maintenance::WindowSpec>>,
    /// Each check with its id's line/column and its file's text (for errors).
    checks: Vec<(Check, usize, usize, Arc<str>)>,
    workflow: Workflow,
    /// Positions of the `verify.checks` entries, for errors.
    verify_pos: Vec<(usize, usize)>,
}

/// Reads a runbook file. An included file must be a regular file: an
/// include of `/dev/zero` or of a named pipe would never end. The file
/// named on the command line may also be a pipe (`opsrun validate <(…)`).
fn read_text(path: &Path, included: bool) -> Result<String, LoadError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| LoadError::file(path, format!("cannot read runbook: {}", io_reason(&e))))?;
    if meta.is_dir() {
        return Err(LoadError::file(
            path,
            "is a directory, expected a runbook file (.yaml)",
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(LoadError::file(
            path,
            format!(
                "runbook is {} bytes; files over {MAX_FILE_BYTES} bytes are refused",
                meta.len()
            ),
        ));
    }
    if included && !meta.is_file() {
        return Err(LoadError::file(
            path,
            "cannot read runbook: not a regular file (a device, pipe or socket)",
        ));
    }
    let read = if included {
        crate::read_limit::read(path, MAX_FILE_BYTES)
    } else {
        // The file named on the command line may be a pipe that is still
        // being written (`opsrun validate <(…)`): wait for it.
        std::fs::File::open(path).and_then(|f| {
            use std::io::Read;
            let mut buf = Vec::new();
            f.take(MAX_FILE_BYTES + 1).read_to_end(&mut buf)?;
            if buf.len() as u64 > MAX_FILE_BYTES {
                return Err(crate::read_limit::too_large(MAX_FILE_BYTES));
            }
            Ok(buf)
        })
    };
    let bytes = read.map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            LoadError::file(
                path,
                format!("runbook is over {MAX_FILE_BYTES} bytes; such files are refused"),
            )
        } else {
            LoadError::file(path, format!("cannot read runbook: {}", io_reason(&e)))
        }
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let text = String::from_utf8_lossy(good);
        let line = text.matches('\n').count() + 1;
        let col = text
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        LoadError::new(
            path,
            line,
            col,
            "invalid UTF-8: runbooks must be UTF-8 text",
            &String::from_utf8_lossy(e.as_bytes()),
        )
    })
}

fn load_file(
    path: &Path,
    given_text: Option<String>,
    inherited: &BTreeMap<String, String>,
    parent_defaults: &Defaults,
    loading: &mut Loading,
    included_at: Option<(&Path, usize, usize, &str, &str)>,
) -> Result<LoadedFile, LoadError> {
    let at_include = |msg: String| match included_at {
        Some((f, l, c, t, _)) => LoadError::new(f, l, c, msg, t),
        None => LoadError::file(path, msg),
    };
    let canon = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    if loading.stack.contains(&canon) {
        let chain: Vec<String> = loading
            .stack
            .iter()
            .chain(std::iter::once(&canon))
            .map(|p| {
                p.file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        return Err(at_include(format!("include cycle: {}", chain.join(" → "))));
    }
    if loading.stack.len() >= MAX_INCLUDE_DEPTH {
        return Err(at_include(format!(
            "includes nested deeper than {MAX_INCLUDE_DEPTH} files"
        )));
    }
    if let Some((f, l, _, _, written)) = included_at {
        if let Some(first) = loading.seen.get(&canon) {
            return Err(at_include(format!(
                "`{written}` is already included (at {first}): a file may be included once"
            )));
        }
        if loading.seen.len() >= MAX_FILES {
            return Err(at_include(format!(
                "more than {MAX_FILES} files included: refused"
            )));
        }
        let name = f.file_name().unwrap_or(f.as_os_str()).to_string_lossy();
        loading.seen.insert(canon.clone(), format!("{name}:{l}"));
    } else {
        loading.seen.insert(canon.clone(), "the top".into());
    }
    let text = match given_text
        .map(Ok)
        .unwrap_or_else(|| read_text(path, included_at.is_some()))
    {
        Ok(t) => t,
        Err(e) if included_at.is_some() && e.line == 0 => {
            let written = included_at.map(|i| i.4).unwrap_or_default();
            let reason = e
                .message
                .strip_prefix("cannot read runbook: ")
                .unwrap_or(&e.message);
            return Err(at_include(format!("cannot include `{written}`: {reason}")));
        }
        Err(e) => return Err(e),
    };
    loading.bytes += text.len() as u64;
    if loading.bytes > MAX_TOTAL_BYTES {
        return Err(at_include(format!(
            "the runbook and its includes are over {MAX_TOTAL_BYTES} bytes in all: refused"
        )));
    }
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(LoadError::new(
            path,
            1,
            1,
            "empty runbook: expected `version: 1` and a `checks:` list",
            &text,
        ));
    }

    // Pass 1: the vars block. References are masked first so that a
    // `${x}` inside a flow mapping does not break the YAML syntax.
    let (masked, refs) = mask_refs(&text);
    let prelude: Prelude =
        serde_saphyr::from_str(&masked).map_err(|e| LoadError::from_yaml(path, &text, &e))?;
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in &prelude.vars {
        if !valid_var_name(k) {
            let (l, c) = find_pos(&text, &format!("{k}:")).unwrap_or((1, 1));
            return Err(LoadError::new(
                path,
                l,
                c,
                format!(
                    "invalid variable name `{k}`: use letters, digits and `_`, starting with a letter"
                ),
                &text,
            ));
        }
        vars.insert(k.clone(), unmask(&v.0, &refs));
    }
    for (k, v) in inherited {
        vars.insert(k.clone(), v.clone());
    }
    let vars = resolve_vars(vars).map_err(|(name, msg)| {
        let (l, c) = find_pos(&text, &format!("{name}:")).unwrap_or((1, 1));
        LoadError::new(path, l, c, msg, &text)
    })?;

    // Pass 2: the whole file with `${name}`/`${env:NAME}` replaced.
    let expanded =
        interpolate(&text, &vars).map_err(|(l, c, msg)| LoadError::new(path, l, c, msg, &text))?;

    let raw: RawFile =
        serde_saphyr::from_str(&expanded).map_err(|e| LoadError::from_yaml(path, &text, &e))?;

    let text_arc: Arc<str> = Arc::from(text.as_str());
    if let Some(v) = &raw.version
        && v.value != 1
    {
        return Err(LoadError::at_span(
            path,
            v,
            format!(
                "unsupported version {}: this opsrun reads `version: 1`",
                v.value
            ),
            &text,
        ));
    }

    let backup = check_backup_blocks(path, &text, &raw)?;

    // This file's defaults, falling back to the including file's.
    let defaults = Defaults {
        timeout: raw.defaults.timeout.or(parent_defaults.timeout),
        retry: raw.defaults.retry.or(parent_defaults.retry),
        severity: raw.defaults.severity.or(parent_defaults.severity),
        consecutive: raw.defaults.consecutive.or(parent_defaults.consecutive),
    };

    let mut checks = Vec::new();
    loading.stack.push(canon);
    for inc in &raw.include {
        let (l, c) = pos(inc);
        let inc_path = crate::values::io::dir_of(path).join(&inc.value);
        let sub = load_file(
            &inc_path,
            None,
            &vars,
            &defaults,
            loading,
            Some((path, l, c, &text, &inc.value)),
        )?;
        if sub.workflow.incident.is_some()
            || !sub.workflow.actions.is_empty()
            || sub.workflow.verify.is_some()
            || sub.workflow.backup.is_some()
            || sub.workflow.restore_test.is_some()
            || sub.workflow.prune.is_some()
        {
            return Err(LoadError::new(
                path,
                l,
                c,
                format!(
                    "`{}` has incident/actions/verify/backup/restore_test/prune: only the runbook itself may have them, an included file contributes checks",
                    inc.value
                ),
                &text,
            ));
        }
        if let Some(r) = &sub.report {
            return Err(LoadError::at_span(
                &inc_path,
                r,
                "`report:` belongs in the runbook that is run, not in an included file",
                &sub.text,
            ));
        }
        if let Some(n) = &sub.notify {
            return Err(LoadError::at_span(
                &inc_path,
                n,
                "`notify:` belongs in the runbook that is run, not in an included file",
                &sub.text,
            ));
        }
        // Silently dropping a window would let its checks page during the
        // maintenance; windows for several runbooks go in config.yaml.
        if let Some(m) = sub.maintenance.first() {
            return Err(LoadError::at_span(
                &inc_path,
                m,
                "`maintenance:` belongs in the runbook that is run, not in an included file (windows for every runbook of the directory go in config.yaml)",
                &sub.text,
            ));
        }
        checks.extend(sub.checks);
    }
    loading.stack.pop();

    for def in raw.checks {
        checks.push(build_check(path, &text, &text_arc, def, &defaults)?);
    }
    let mut actions = Vec::new();
    let mut action_ids: Vec<String> = Vec::new();
    for def in raw.actions {
        let (l, c) = pos(&def);
        let d = def.value;
        let Some(id) = d.id else {
            return Err(LoadError::new(path, l, c, "action has no `id`", &text));
        };
        let (il, ic) = pos(&id);
        if !valid_id(&id.value) {
            return Err(LoadError::new(
                path,
                il,
                ic,
                format!("invalid action id `{}`", id.value),
                &text,
            ));
        }
        if action_ids.contains(&id.value) {
            return Err(LoadError::new(
                path,
                il,
                ic,
                format!("duplicate action id `{}`", id.value),
                &text,
            ));
        }
        let Some(step) = d.step else {
            return Err(LoadError::new(
                path,
                il,
                ic,
                format!(
                    "action `{}` has no step: add `systemctl:`, `wait:`, `command:` or a check kind",
                    id.value
                ),
                &text,
            ));
        };
        let (sl, sc) = d.step_at;
        match (&step, &backup) {
            (Step::SqliteBackup(_) | Step::Copy(_) | Step::Archive(_) | Step::PgDump(_), None) => {
                return Err(LoadError::new(
                    path,
                    sl,
                    sc,
                    "this step writes a backup generation: add a `backup: {dir: …, pattern: …}` block saying where generations go",
                    &text,
                ));
            }
            (Step::Systemctl(_), Some(_)) => {
                return Err(LoadError::new(
                    path,
                    sl,
                    sc,
                    "`systemctl` steps belong in incident runbooks: a backup run does not stop or restart services (use a `command:` step if it really must)",
                    &text,
                ));
            }
            _ => {}
        }
        if d.when.is_some() && backup.is_some() {
            let (wl, wc) = d.when_at;
            return Err(LoadError::new(
                path,
                wl,
                wc,
                "`when:` belongs to incident actions: every step of a backup run makes the generation",
                &text,
            ));
        }
        action_ids.push(id.value.clone());
        let title = d.title.unwrap_or_else(|| match &step {
            Step::Systemctl(s) => format!("{}{}", s.unit, s.action.ja()),
            Step::Wait(w) => format!("{}秒待機", w.as_secs()),
            Step::Check(..) => id.value.clone(),
            Step::SqliteBackup(s) => format!("{} (SQLiteバックアップ)", s.dest_name()),
            Step::Copy(s) => format!("{} (コピー)", s.to_name()),
            Step::Archive(s) => format!("{} (アーカイブ)", s.to_name()),
            Step::PgDump(s) => format!("{} (PostgreSQLダンプ)", s.dest_name()),
        });
        let timeout = d.timeout.map(|t| t.0).unwrap_or(match &step {
            Step::Wait(w) => *w + Duration::from_secs(1),
            Step::SqliteBackup(_) | Step::Copy(_) | Step::Archive(_) | Step::PgDump(_) => {
                DEFAULT_BACKUP_STEP_TIMEOUT
            }
            _ => defaults
                .timeout
                .map(|t| t.0)
                .unwrap_or(DEFAULT_TIMEOUT)
                .max(Duration::from_secs(60)),
        });
        actions.push(Action {
            id: id.value,
            title,
            timeout,
            when: d.when,
            step,
        });
    }
    let verify_pos: Vec<(usize, usize)> = raw
        .verify
        .as_ref()
        .map(|v| v.checks.iter().map(pos).collect())
        .unwrap_or_default();
    let workflow = Workflow {
        incident: raw.incident,
        backup,
        restore_test: raw.restore_test.map(|r| r.value),
        prune: raw.prune.map(|p| p.value),
        actions,
        verify: raw.verify.map(|v| {
            (
                v.checks.into_iter().map(|c| c.value).collect(),
                v.attempts.max(1),
                v.interval.0,
            )
        }),
    };
    Ok(LoadedFile {
        workflow,
        verify_pos,
        version: raw.version.map(|v| v.value),
        title: raw.title,
        system: raw.system,
        report: raw.report,
        notify: raw.notify,
        maintenance: raw.maintenance,
        checks,
        text,
    })
}

/// Validates `backup:`, `restore_test:` and `prune:` (they go together,
/// and not with `incident:`) and returns the backup block.
fn check_backup_blocks(
    path: &Path,
    text: &str,
    raw: &RawFile,
) -> Result<Option<BackupSpec>, LoadError> {
    let pos = |l: u64, c: u64| (l as usize, c as usize);
    if let Some(b) = &raw.backup {
        let (l, c) = pos(b.referenced.line(), b.referenced.column());
        if raw.incident.is_some() {
            return Err(LoadError::new(
                path,
                l,
                c,
                "a runbook is either an incident runbook (`incident:`) or a backup runbook (`backup:`), not both",
                text,
            ));
        }
        b.value
            .validate()
            .map_err(|m| LoadError::new(path, l, c, m, text))?;
    }
    let needs_backup = [
        (
            "restore_test",
            raw.restore_test.as_ref().map(|r| r.referenced),
        ),
        ("prune", raw.prune.as_ref().map(|p| p.referenced)),
    ];
    for (key, at) in needs_backup {
        if let (Some(at), None) = (at, &raw.backup) {
            let (l, c) = pos(at.line(), at.column());
            return Err(LoadError::new(
                path,
                l,
                c,
                format!(
                    "`{key}` works on the generations of a `backup: {{dir: …, pattern: …}}` block, and this runbook has none"
                ),
                text,
            ));
        }
    }
    if let Some(r) = &raw.restore_test
        && let Some(pg) = &r.value.postgres
    {
        let (l, c) = pos(r.referenced.line(), r.referenced.column());
        pg.conn().validate().map_err(|m| {
            LoadError::new(path, l, c, format!("restore_test: postgres: {m}"), text)
        })?;
        if let Some(q) = &pg.verify_query
            && q.trim().is_empty()
        {
            return Err(LoadError::new(
                path,
                l,
                c,
                "restore_test: postgres: `verify_query` is empty: give a SELECT whose first value is true or a number above 0",
                text,
            ));
        }
    }
    if let Some(p) = &raw.prune
        && p.value.keep_min == 0
    {
        let (l, c) = pos(p.referenced.line(), p.referenced.column());
        return Err(LoadError::new(
            path,
            l,
            c,
            "prune: keep_min must be at least 1: pruning never deletes the last backup",
            text,
        ));
    }
    Ok(raw.backup.as_ref().map(|b| b.value.clone()))
}

fn build_check(
    path: &Path,
    text: &str,
    text_arc: &Arc<str>,
    def: Spanned<CheckDef>,
    defaults: &Defaults,
) -> Result<(Check, usize, usize, Arc<str>), LoadError> {
    let (cl, cc) = pos(&def);
    let d = def.value;
    let Some(id) = d.id else {
        return Err(LoadError::new(
            path,
            cl,
            cc,
            "check has no `id`: every check needs a unique `id: name`",
            text,
        ));
    };
    let (il, ic) = pos(&id);
    if !valid_id(&id.value) {
        return Err(LoadError::new(
            path,
            il,
            ic,
            format!(
                "invalid check id `{}`: expected lowercase letters, digits, `-` and `_`, starting with a letter or digit",
                id.value
            ),
            text,
        ));
    }
    let Some((kind_name, kind)) = d.kind else {
        return Err(LoadError::new(
            path,
            il,
            ic,
            format!(
                "check `{}` has no kind: add one of {}",
                id.value,
                crate::check::KIND_NAMES.join(", ")
            ),
            text,
        ));
    };
    let title = d.title.unwrap_or_else(|| id.value.clone());
    let section = d.section.unwrap_or_else(|| kind.section().to_owned());
    let check = Check {
        label: d.label.unwrap_or_else(|| title.clone()),
        title,
        section,
        tags: d.tags,
        timeout: d
            .timeout
            .or(defaults.timeout)
            .map(|d| d.0)
            .unwrap_or(DEFAULT_TIMEOUT),
        retry: d.retry.or(defaults.retry),
        severity: d.severity.or(defaults.severity),
        consecutive: d.consecutive.or(defaults.consecutive).map_or(1, |c| c.0),
        change: d.change,
        hint: d.hint,
        kind_name,
        kind,
        file: path.to_owned(),
        line: cl,
        id: id.value,
    };
    Ok((check, il, ic, text_arc.clone()))
}

/// Line and column (1-based) where a spanned YAML value was written.
fn pos<T>(s: &Spanned<T>) -> (usize, usize) {
    (s.referenced.line() as usize, s.referenced.column() as usize)
}

fn valid_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The part of a YAML line before a comment (a `#` at line start or after a space).
fn strip_comment(line: &str) -> &str {
    let b = line.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'#' && (i == 0 || b[i - 1] == b' ' || b[i - 1] == b'\t') {
            return &line[..i];
        }
    }
    line
}

/// Line and column (1-based) of the first occurrence of `needle` outside comments.
fn find_pos(text: &str, needle: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, l)| {
        strip_comment(l)
            .find(needle)
            .map(|p| (i + 1, l[..p].chars().count() + 1))
    })
}

/// Replaces each `${...}` by a placeholder token of plain letters, so the
/// first pass can parse the file whatever the references are; returns the
/// masked text and the references in order.
fn mask_refs(text: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut refs = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let Some(end) = rest[i..]
            .find('}')
            .filter(|e| !rest[i..i + e].contains('\n'))
        else {
            break;
        };
        out.push_str(&rest[..i]);
        out.push_str(&format!("OPSRUNREF{}X", refs.len()));
        refs.push(rest[i..i + end + 1].to_owned());
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    (out, refs)
}

fn unmask(s: &str, refs: &[String]) -> String {
    let mut out = s.to_owned();
    for (i, r) in refs.iter().enumerate().rev() {
        out = out.replace(&format!("OPSRUNREF{i}X"), r);
    }
    out
}

/// Replaces `${name}` (a runbook var or `--var`) and `${env:NAME}` in the
/// file's text, outside comments. `$${` stays a literal `${`. An unknown
/// name is an error at its line and column.
fn interpolate(
    text: &str,
    vars: &BTreeMap<String, String>,
) -> Result<String, (usize, usize, String)> {
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let code_len = strip_comment(line).len();
        let (code, comment) = line.split_at(code_len);
        let mut rest = code;
        while let Some(i) = rest.find("${") {
            if i > 0 && rest.as_bytes()[i - 1] == b'$' {
                out.push_str(&rest[..i - 1]);
                out.push_str("${");
                rest = &rest[i + 2..];
                continue;
            }
            let col = code[..code.len() - rest.len() + i].chars().count() + 1;
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else {
                return Err((
                    n + 1,
                    col,
                    "unterminated `${`: expected `${name}` or `${env:NAME}`".into(),
                ));
            };
            let name = &after[..end];
            let value = if let Some(env) = name.strip_prefix("env:") {
                if !valid_var_name(env) {
                    return Err((
                        n + 1,
                        col,
                        format!(
                            "invalid environment reference `${{{name}}}`: expected `${{env:NAME}}`"
                        ),
                    ));
                }
                std::env::var(env).map_err(|_| {
                    (n + 1, col, format!("environment variable `{env}` is not set (referenced as `${{env:{env}}}`)"))
                })?
            } else if let Some(v) = vars.get(name) {
                v.clone()
            } else {
                let names: Vec<&str> = vars.keys().map(String::as_str).collect();
                let hint = match crate::suggest::closest(name, &names) {
                    Some(s) => format!(", did you mean `{s}`?"),
                    None if names.is_empty() => {
                        ": define it under `vars:` or pass --var".to_owned()
                    }
                    None => format!(" (defined: {})", names.join(", ")),
                };
                return Err((n + 1, col, format!("undefined variable `{name}`{hint}")));
            };
            if value.contains('\n') {
                return Err((
                    n + 1,
                    col,
                    format!(
                        "variable `{name}` contains a newline; values are inserted into one line"
                    ),
                ));
            }
            out.push_str(&value);
            if out.len() as u64 > MAX_FILE_BYTES {
                return Err((
                    n + 1,
                    col,
                    format!(
                        "the runbook grows over {MAX_FILE_BYTES} bytes once variables are expanded; refused"
                    ),
                ));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out.push_str(comment);
    }
    Ok(out)
}

/// Expands `${name}` and `${env:NAME}` inside var values (vars may refer to
/// each other); a reference chain longer than 8 is reported as a cycle.
fn resolve_vars(
    mut vars: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, (String, String)> {
    for _ in 0..8 {
        let mut changed = false;
        let snapshot = vars.clone();
        // All expanded values together are bounded like the file itself.
        let mut total = 0usize;
        for (name, value) in vars.iter_mut() {
            if !value.contains("${") {
                continue;
            }
            let mut out = String::new();
            let mut rest = value.as_str();
            while let Some(i) = rest.find("${") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 2..];
                let Some(end) = after.find('}') else {
                    return Err((
                        name.clone(),
                        format!("unterminated `${{` in variable `{name}`"),
                    ));
                };
                let reference = &after[..end];
                let plain = reference.strip_prefix("env:").unwrap_or(reference);
                if !valid_var_name(plain) {
                    return Err((
                        name.clone(),
                        format!(
                            "invalid reference `${{{reference}}}` in variable `{name}`: expected `${{name}}` or `${{env:NAME}}`"
                        ),
                    ));
                }
                if let Some(env) = reference.strip_prefix("env:") {
                    match std::env::var(env) {
                        Ok(v) => out.push_str(&v),
                        Err(_) => {
                            return Err((
                                name.clone(),
                                format!(
                                    "environment variable `{env}` is not set (used by variable `{name}`)"
                                ),
                            ));
                        }
                    }
                } else if let Some(v) = snapshot.get(reference) {
                    out.push_str(v);
                } else {
                    let names: Vec<&str> = snapshot.keys().map(String::as_str).collect();
                    let hint = crate::suggest::closest(reference, &names)
                        .map(|s| format!(", did you mean `{s}`?"))
                        .unwrap_or_default();
                    return Err((
                        name.clone(),
                        format!(
                            "variable `{name}` refers to undefined variable `{reference}`{hint}"
                        ),
                    ));
                }
                if out.len() > MAX_VAR_BYTES {
                    return Err((
                        name.clone(),
                        format!(
                            "variable `{name}` expands to more than {MAX_VAR_BYTES} bytes; refused"
                        ),
                    ));
                }
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            total += out.len();
            if total as u64 > MAX_FILE_BYTES {
                return Err((
                    name.clone(),
                    format!("variables expand to more than {MAX_FILE_BYTES} bytes in all; refused"),
                ));
            }
            if *value != out {
                *value = out;
                changed = true;
            }
        }
        if !changed {
            // Stable but still holding a reference: a self-reference.
            if let Some((k, _)) = vars.iter().find(|(_, v)| v.contains("${")) {
                return Err((
                    k.clone(),
                    format!("variable `{k}` refers to itself through other variables"),
                ));
            }
            return Ok(vars);
        }
    }
    let name = vars
        .iter()
        .find(|(_, v)| v.contains("${"))
        .map(|(k, _)| k.clone())
        .unwrap_or_default();
    Err((
        name.clone(),
        format!("variable `{name}` refers to itself through other variables"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(valid_id("disk-root"));
        assert!(valid_id("0day"));
        assert!(!valid_id("Disk"));
        assert!(!valid_id("-x"));
        assert!(!valid_id(""));
    }

    #[test]
    fn vars_resolve_each_other() {
        let mut v = BTreeMap::new();
        v.insert("host".to_string(), "127.0.0.1".to_string());
        v.insert("base".to_string(), "http://${host}:8100".to_string());
        let r = resolve_vars(v).unwrap();
        assert_eq!(r["base"], "http://127.0.0.1:8100");
        let mut v = BTreeMap::new();
        v.insert("a".to_string(), "${b}".to_string());
        v.insert("b".to_string(), "${a}".to_string());
        assert!(resolve_vars(v).is_err());
    }

    #[test]
    fn interpolation() {
        let mut v = BTreeMap::new();
        v.insert("base".to_string(), "http://h:1".to_string());
        assert_eq!(
            interpolate("url: \"${base}/x\" # ${nope}\n", &v).unwrap(),
            "url: \"http://h:1/x\" # ${nope}\n"
        );
        assert_eq!(interpolate("a: $${base}\n", &v).unwrap(), "a: ${base}\n");
        let e = interpolate("x: 1\nurl: ${bse}/x\n", &v).unwrap_err();
        assert_eq!((e.0, e.1), (2, 6));
        assert!(e.2.contains("did you mean `base`"), "{}", e.2);
        let (m, refs) = mask_refs("a: {u: ${x}/y}");
        assert_eq!(m, "a: {u: OPSRUNREF0X/y}");
        assert_eq!(unmask("OPSRUNREF0X/y", &refs), "${x}/y");
    }

    #[test]
    fn comments_are_stripped() {
        assert_eq!(strip_comment("url: x # ${env:NOPE}"), "url: x ");
        assert_eq!(strip_comment("url: http://x/#frag"), "url: http://x/#frag");
    }
}
