//! `nagios`: the plugin output convention — one status line with perfdata,
//! then one line per problem — so opsrun can be a check command in
//! Nagios/Icinga/Zabbix. The process exit code (0/1/2/3) already matches
//! the plugin convention.

use crate::engine::RunResult;
use crate::values::outcome::Status;
use crate::values::threshold::{Limit, Op};

fn word(s: Status) -> &'static str {
    match s {
        Status::Pass | Status::Maint | Status::Skip => "OK",
        Status::Warn => "WARNING",
        Status::Fail => "CRITICAL",
        Status::Unknown => "UNKNOWN",
    }
}

/// Nagios units: `%`, `s`, `ms`, `B`, `c`; other units go without one.
fn uom(unit: &str) -> &'static str {
    match unit {
        "%" => "%",
        "ms" => "ms",
        "s" => "s",
        "B" => "B",
        _ => "",
    }
}

fn n(v: f64) -> String {
    crate::values::units::trim_float(v, 3)
}

/// A limit as a range of the monitoring-plugins guidelines, where a range
/// is what is *fine* (`10` means "alert outside 0..10") and `@` inverts
/// it. opsrun's limits say what is *bad*, inclusively as written:
/// `≥ 80` is `@80:` (alert at 80 and above), `> 80` is `~:80`, `≤ 2` is
/// `@~:2`, `< 10` is `10:` — so a consumer evaluating the perfdata
/// (Icinga, `nagiosplugin`) reaches opsrun's verdict. Plain numbers were
/// read the other way round for every lower-is-worse metric.
fn range(l: &Limit) -> String {
    let v = n(l.value);
    match l.op.unwrap_or(Op::Ge) {
        Op::Ge => format!("@{v}:"),
        Op::Gt => format!("~:{v}"),
        Op::Le => format!("@~:{v}"),
        Op::Lt => format!("{v}:"),
    }
}

pub fn render(runs: &[&RunResult]) -> String {
    let worst = crate::values::outcome::worst(runs.iter().map(|r| r.status()));
    let all: Vec<_> = runs.iter().flat_map(|r| r.results.iter()).collect();
    let count = |s: Status| all.iter().filter(|r| r.outcome.status == s).count();
    let total = all
        .iter()
        .filter(|r| r.outcome.status != Status::Skip)
        .count();
    let lang = super::words::lang();
    let summary = format!(
        "OPSRUN {} - {}",
        word(worst),
        super::words::ui::nagios_summary(
            count(Status::Warn),
            count(Status::Fail),
            total,
            count(Status::Unknown),
            lang
        )
    );
    let perf: Vec<String> = all
        .iter()
        .filter_map(|r| {
            let m = r.outcome.metric.as_ref()?;
            let th = r.outcome.threshold.as_ref();
            let w = th.and_then(|t| t.warn.as_ref()).map(range);
            let c = th.and_then(|t| t.fail.as_ref()).map(range);
            let label = r.check.id.replace('\'', "");
            Some(format!(
                "'{label}'={}{};{};{};;",
                n(m.value),
                uom(m.unit),
                w.unwrap_or_default(),
                c.unwrap_or_default()
            ))
        })
        .collect();
    let mut out = summary;
    if !perf.is_empty() {
        out.push_str(" | ");
        out.push_str(&perf.join(" "));
    }
    out.push('\n');
    for r in &all {
        if matches!(r.outcome.status, Status::Pass | Status::Skip) {
            continue;
        }
        out.push_str(&format!(
            "{} {}: {}\n",
            super::words::ui::status(r.outcome.status, lang),
            r.check.id,
            r.outcome.message.replace('|', "/")
        ));
    }
    out
}
