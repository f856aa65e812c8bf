//! `opsrun man` (SPEC §10.7): a page per subcommand with the sections a
//! reader looks for, each clean under the real `mandoc -Tlint`.

use std::process::Command;

use crate::common::Env;

const SUBCOMMANDS: &[&str] = &[
    "daily",
    "weekly",
    "monthly",
    "incident",
    "backup",
    "run",
    "validate",
    "list",
    "history",
    "report",
    "serve",
    "completions",
    "man",
    "fleet",
    "fleet-report",
];

fn lint(page: &str) -> String {
    let mut child = Command::new("mandoc")
        .args(["-Tlint", "-W", "style"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mandoc (Debian `mandoc`, installed by .ci/deps)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn every_subcommand_has_a_page_with_the_sections_and_mandoc_finds_nothing() {
    let env = Env::new();
    let top = env.run(&["man"]);
    assert_eq!(top.code, 0, "{}", top.stderr);
    for sub in SUBCOMMANDS {
        assert!(
            top.stdout
                .contains(&format!("opsrun\\-{}", sub.replace('-', "\\-"))),
            "opsrun(1) does not refer to opsrun-{sub}(1)"
        );
        let page = env.run(&["man", sub]);
        assert_eq!(page.code, 0, "man {sub}: {}", page.stderr);
        assert!(
            page.stdout
                .contains(&format!(".TH OPSRUN-{} 1", sub.to_uppercase())),
            "{sub}: {}",
            &page.stdout[..200.min(page.stdout.len())]
        );
        for section in ["NAME", "SYNOPSIS", "EXIT STATUS", "ENVIRONMENT", "SEE ALSO"] {
            assert!(
                page.stdout.contains(&format!(".SH \"{section}\""))
                    || page.stdout.contains(&format!(".SH {section}")),
                "opsrun-{sub}(1) has no {section}"
            );
        }
        assert_eq!(lint(&page.stdout), "", "mandoc -Tlint on opsrun-{sub}(1)");
    }
    assert_eq!(lint(&top.stdout), "", "mandoc -Tlint on opsrun(1)");
    for section in ["OPTIONS", "FILES", "EXAMPLES"] {
        let daily = env.run(&["man", "daily"]).stdout;
        assert!(
            daily.contains(&format!(".SH {section}")),
            "daily has no {section}"
        );
    }
}

#[test]
fn a_page_lists_the_environment_of_its_own_options() {
    let env = Env::new();
    let daily = env.run(&["man", "daily"]).stdout;
    for var in [
        "OPSRUN_RUNBOOKS",
        "OPSRUN_HISTORY",
        "NO_COLOR",
        "OPSRUN_LOG",
    ] {
        assert!(daily.contains(var), "opsrun-daily(1) lacks {var}");
    }
    // `validate` has no history and no table.
    let validate = env.run(&["man", "validate"]).stdout;
    assert!(!validate.contains("OPSRUN_HISTORY"), "{validate}");
    assert!(!validate.contains("NO_COLOR"), "{validate}");
    // The hidden --now is nobody's documented option.
    assert!(!daily.contains("\\-\\-now"), "{daily}");
}

#[test]
fn man_dir_writes_every_page_and_an_unknown_page_is_one_line() {
    let env = Env::new();
    let dir = env.path().join("man/man1");
    let r = env.run(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dir.join("opsrun.1").is_file());
    for sub in SUBCOMMANDS {
        let p = dir.join(format!("opsrun-{sub}.1"));
        assert!(p.is_file(), "{}", p.display());
        assert!(r.stdout.contains(&p.display().to_string()));
    }
    // Every page written, nested ones (opsrun-fleet-report(1)) too, is
    // clean under mandoc.
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let page = std::fs::read_to_string(&p).unwrap();
        assert_eq!(lint(&page), "", "mandoc -Tlint on {}", p.display());
    }
    // `man -l` reads the written file as the printed one.
    let printed = env.run(&["man", "incident"]).stdout;
    assert_eq!(
        std::fs::read_to_string(dir.join("opsrun-incident.1")).unwrap(),
        printed
    );

    let r = env.run(&["man", "nope"]);
    assert_eq!(r.code, 3);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("no man page for `nope`") && r.stderr.contains("daily"));
}
