//! The words of the table, markdown and nagios formats around the results
//! — column headers, status labels, the summary line, `-v` facts — in the
//! installed language (`--lang`, [`super::lang`]). The reasons' own words
//! are in `en`/`ja`; these are the frame they are shown in.

use super::Lang;
use crate::values::outcome::Status;

/// The table's column headers: status, id, title, value, detail.
pub fn headers(lang: Lang) -> [&'static str; 5] {
    match lang {
        Lang::En => ["STATUS", "ID", "TITLE", "VALUE", "DETAIL"],
        Lang::Ja => ["状態", "ID", "項目", "値", "詳細"],
    }
}

/// Markdown's column headers (lower case in English, as Slack tables go).
pub fn markdown_headers(lang: Lang) -> [&'static str; 5] {
    match lang {
        Lang::En => ["status", "id", "title", "value", "detail"],
        Lang::Ja => headers(Lang::Ja),
    }
}

/// A status as the table shows it: `PASS`, or `正常`.
pub fn status(s: Status, lang: Lang) -> &'static str {
    match lang {
        Lang::En => s.label(),
        Lang::Ja => s.ja(),
    }
}

/// The counts of one run or many: `(pass, warn, fail, unknown, skip,
/// maint)` and the time it took in seconds.
pub struct Counts {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub unknown: usize,
    pub skip: usize,
    pub maint: usize,
    pub secs: f64,
}

/// `12 pass · 1 warn · 0 fail · 0 unknown · 0 skip  (1.24s)` or
/// `正常 12 · 警告 1 · 異常 0 · 不明 0 · スキップ 0  (1.24秒)`, with the
/// maintenance count before the time when a window held results.
pub fn summary(c: &Counts, lang: Lang) -> String {
    let parts = [
        (c.pass, Status::Pass),
        (c.warn, Status::Warn),
        (c.fail, Status::Fail),
        (c.unknown, Status::Unknown),
        (c.skip, Status::Skip),
    ]
    .into_iter()
    .chain((c.maint > 0).then_some((c.maint, Status::Maint)));
    let said: Vec<String> = parts
        .map(|(n, s)| match lang {
            Lang::En => format!("{n} {}", s.as_str()),
            Lang::Ja => format!("{} {n}", s.ja()),
        })
        .collect();
    match lang {
        Lang::En => format!("{}  ({:.2}s)", said.join(" · "), c.secs),
        Lang::Ja => format!("{}  ({:.2}秒)", said.join(" · "), c.secs),
    }
}

/// The `-v` line of how a check ran: `http · 35ms · 2 attempts`.
pub fn ran(kind: &str, millis: f64, attempts: u32, lang: Lang) -> String {
    match lang {
        Lang::En => format!(
            "{kind} · {millis:.0}ms · {attempts} attempt{}",
            if attempts == 1 { "" } else { "s" }
        ),
        Lang::Ja => format!("{kind} · {millis:.0}ms · 試行{attempts}回"),
    }
}

/// The line under an interrupted run's table; `signal` is `SIGINT`/`SIGTERM`.
pub fn interrupted(signal: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("interrupted by {signal}: unfinished checks are unknown"),
        Lang::Ja => format!("{signal} で中断: 終わっていないチェックは不明"),
    }
}

/// The Nagios summary after `OPSRUN WARNING - ` (the status word stays the
/// plugin convention's): `1 warn, 0 fail of 8[, 2 unknown]`.
pub fn nagios_summary(
    warn: usize,
    fail: usize,
    total: usize,
    unknown: usize,
    lang: Lang,
) -> String {
    match lang {
        Lang::En => {
            let mut s = format!("{warn} warn, {fail} fail of {total}");
            if unknown > 0 {
                s.push_str(&format!(", {unknown} unknown"));
            }
            s
        }
        Lang::Ja => {
            let mut s = format!("全{total}件中 警告 {warn}件、異常 {fail}件");
            if unknown > 0 {
                s.push_str(&format!("、不明 {unknown}件"));
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        let c = Counts {
            pass: 7,
            warn: 1,
            fail: 0,
            unknown: 0,
            skip: 0,
            maint: 2,
            secs: 0.04,
        };
        assert_eq!(
            summary(&c, Lang::En),
            "7 pass · 1 warn · 0 fail · 0 unknown · 0 skip · 2 maint  (0.04s)"
        );
        assert_eq!(
            summary(&c, Lang::Ja),
            "正常 7 · 警告 1 · 異常 0 · 不明 0 · スキップ 0 · 計画停止 2  (0.04秒)"
        );
        assert_eq!(
            nagios_summary(1, 2, 8, 1, Lang::Ja),
            "全8件中 警告 1件、異常 2件、不明 1件"
        );
        assert_eq!(ran("http", 35.2, 2, Lang::En), "http · 35ms · 2 attempts");
    }
}
