//! `junit`: one `<testsuite>` per run, one `<testcase>` per check, for CI
//! dashboards. fail → `<failure>`, unknown → `<error>`, skip → `<skipped>`.
//! warn passes with a `<system-out>` note unless `--junit-warn failure`.

use std::fmt::Write;

use crate::engine::RunResult;
use crate::values::outcome::Status;

/// How warnings appear in JUnit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum WarnAs {
    /// A passing testcase with a note in system-out (default).
    #[default]
    Pass,
    /// `<failure type="warn">`.
    Failure,
}

pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

pub fn render(runs: &[&RunResult], warn_as: WarnAs) -> String {
    let mut suites = String::new();
    let (mut t_tests, mut t_fail, mut t_err, mut t_skip, mut t_time) = (0, 0, 0, 0, 0.0);
    for run in runs {
        let failing =
            |s: Status| s == Status::Fail || (s == Status::Warn && warn_as == WarnAs::Failure);
        let tests = run.results.len();
        let failures = run
            .results
            .iter()
            .filter(|r| failing(r.outcome.status))
            .count();
        let errors = run.count(Status::Unknown);
        let skipped = run.count(Status::Skip);
        let time = run.duration.as_secs_f64();
        (t_tests, t_fail, t_err, t_skip, t_time) = (
            t_tests + tests,
            t_fail + failures,
            t_err + errors,
            t_skip + skipped,
            t_time + time,
        );
        let _ = writeln!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time:.3}\" timestamp=\"{}\" hostname=\"{}\">",
            esc(&run.runbook),
            run.started_at.format("%Y-%m-%dT%H:%M:%S"),
            esc(&run.host)
        );
        for r in &run.results {
            let o = &r.outcome;
            let _ = write!(
                suites,
                "    <testcase name=\"{}\" classname=\"{}.{}\" time=\"{:.3}\"",
                esc(&format!("{} {}", r.check.id, r.check.title)),
                esc(&run.runbook),
                r.check.kind_name,
                r.duration.as_secs_f64()
            );
            let body = match o.status {
                Status::Fail => format!(
                    "      <failure type=\"fail\" message=\"{}\">{}</failure>\n",
                    esc(&o.message),
                    esc(&super::words::details(&o.detail).join("\n"))
                ),
                Status::Warn if warn_as == WarnAs::Failure => {
                    format!(
                        "      <failure type=\"warn\" message=\"{}\">{}</failure>\n",
                        esc(&o.message),
                        esc(&super::words::details(&o.detail).join("\n"))
                    )
                }
                Status::Warn => {
                    format!("      <system-out>WARN: {}</system-out>\n", esc(&o.message))
                }
                Status::Unknown => format!(
                    "      <error type=\"unknown\" message=\"{}\"/>\n",
                    esc(&o.message)
                ),
                Status::Skip | Status::Maint => {
                    format!("      <skipped message=\"{}\"/>\n", esc(&o.message))
                }
                Status::Pass => String::new(),
            };
            if body.is_empty() {
                suites.push_str("/>\n");
            } else {
                suites.push_str(">\n");
                suites.push_str(&body);
                suites.push_str("    </testcase>\n");
            }
        }
        suites.push_str("  </testsuite>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"opsrun\" tests=\"{t_tests}\" failures=\"{t_fail}\" errors=\"{t_err}\" skipped=\"{t_skip}\" time=\"{t_time:.3}\">\n{suites}</testsuites>\n"
    )
}
