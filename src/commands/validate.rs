//! `opsrun validate` and `opsrun list`: load runbooks, run nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::cli::DirArg;
use super::plan::{runbook_dir, runbook_files};
use super::write_stdout;
use crate::exit;
use crate::runbook;

pub(super) fn validate(paths: &[PathBuf], dir: &DirArg, vars: &BTreeMap<String, String>) -> i32 {
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
                crate::stdio::say_err!(
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
                Ok(_) => crate::stdio::say_out!("ok: {} (configuration)", f.display()),
                Err(e) => {
                    bad += 1;
                    crate::stdio::say_err!("error: {e}");
                }
            }
            continue;
        }
        match runbook::load(f, vars) {
            Ok(rb) => crate::stdio::say_out!("ok: {} ({} checks)", f.display(), rb.checks.len()),
            Err(e) => {
                bad += 1;
                crate::stdio::say_err!("error: {e}");
            }
        }
    }
    if bad > 0 {
        crate::stdio::say_err!("{bad} of {} runbooks invalid", files.len());
        exit::UNKNOWN
    } else {
        exit::OK
    }
}

pub(super) fn list(dir: &DirArg) -> i32 {
    let d = runbook_dir(dir);
    let files = runbook_files(&d);
    if files.is_empty() {
        crate::stdio::say_err!(
            "error: no runbooks in {} (set -C DIR or OPSRUN_RUNBOOKS)",
            d.display()
        );
        return exit::UNKNOWN;
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
                crate::stdio::say_err!("error: {e}");
            }
        }
    }
    write_stdout(&out);
    code
}
