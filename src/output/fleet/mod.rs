//! `opsrun fleet report`: the fleet's latest results, as Prometheus holds
//! them, in one document — hosts × runbooks, every non-pass check by
//! host, stale hosts and down targets. One file per format (`text`: the
//! Japanese report's shape, `json`, `markdown`, `html`: a page of the
//! shared HTML pieces); the words of all of them
//! are here, Japanese by default (a report, like the 日次運用レポート)
//! and English with `--lang en`.

mod html;
mod json;
mod markdown;
mod text;

use chrono::{DateTime, Datelike, Utc};

use crate::fleet::{CheckState, Fleet, Host, Measure};
use crate::output::words::Lang;
use crate::values::Zone;
use crate::values::outcome::Status;

/// `fleet report -f`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FleetFormat {
    /// The fleet report as text (■ sections, the hosts × runbooks matrix)
    Text,
    /// One JSON object (schema 1): hosts, runbooks, checks, problems, stale, down
    Json,
    /// The report as Markdown tables (Slack, GitHub, wikis)
    Markdown,
    /// One self-contained HTML page (inline CSS, no script): the report with status badges
    Html,
}

/// Renders `fleet` in `format`: words in `lang`, times in `tz`. Labels
/// come from every host's scrape: control characters are shown escaped.
pub(crate) fn render(format: FleetFormat, fleet: &Fleet, lang: Lang, tz: Zone) -> String {
    let w = Words { lang, tz };
    let text = match format {
        FleetFormat::Text => text::render(fleet, &w),
        FleetFormat::Json => json::render(fleet, tz),
        FleetFormat::Markdown => markdown::render(fleet, &w),
        // Escaped as HTML, control characters included, piece by piece.
        FleetFormat::Html => return html::render(fleet, &w),
    };
    crate::values::text::printable(&text).into_owned()
}

/// The words and time formats of one document.
pub(crate) struct Words {
    lang: Lang,
    tz: Zone,
}

impl Words {
    fn ja(&self) -> bool {
        self.lang == Lang::Ja
    }

    /// `ja` or `en`.
    fn pick<'a>(&self, ja: &'a str, en: &'a str) -> &'a str {
        if self.ja() { ja } else { en }
    }

    fn title(&self) -> &'static str {
        self.pick("フリート運用レポート", "Fleet report")
    }

    fn status(&self, s: Status) -> &'static str {
        if self.ja() { s.ja() } else { s.label() }
    }

    /// `2025-10-21 10:00` in the document's zone (its offset when it is
    /// not JST).
    fn heading_time(&self, fleet: &Fleet) -> String {
        let t = self.tz.at(&fleet.at);
        let offset = if t.offset().local_minus_utc() == 9 * 3600 {
            String::new()
        } else {
            t.format(" %:z").to_string()
        };
        format!("{}{offset}", t.format("%Y-%m-%d %H:%M"))
    }

    /// A time the reader compares with the heading's: `09:00` on the
    /// report's day, `10/18 09:00` on another, `2024/10/18 09:00` in
    /// another year (SPEC §10.1).
    fn when(&self, fleet: &Fleet, t: DateTime<Utc>) -> String {
        let (t, now) = (self.tz.at(&t), self.tz.at(&fleet.at));
        if t.date_naive() == now.date_naive() {
            t.format("%H:%M").to_string()
        } else if t.year() == now.year() {
            t.format("%m/%d %H:%M").to_string()
        } else {
            t.format("%Y/%m/%d %H:%M").to_string()
        }
    }

    /// `3日前`, `5時間前`, `12分前` / `3d ago`, `5h ago`, `12m ago`:
    /// whole units, days from two days on.
    fn ago(&self, fleet: &Fleet, t: DateTime<Utc>) -> String {
        let mins = fleet.age(t).as_secs() / 60;
        let (n, ja, en) = if mins < 60 {
            (mins, "分", "m")
        } else if mins < 48 * 60 {
            (mins / 60, "時間", "h")
        } else {
            (mins / (24 * 60), "日", "d")
        };
        if self.ja() {
            format!("{n}{ja}前")
        } else {
            format!("{n}{en} ago")
        }
    }

    /// `26時間` / `26h`: the stale limit.
    fn limit(&self, fleet: &Fleet) -> String {
        let h = fleet.stale_after.as_secs_f64() / 3600.0;
        let n = crate::values::units::trim_float(h, 1);
        format!("{n}{}", self.pick("時間", "h"))
    }

    /// A check's value as the series carry it: `95%`, `1.2秒`, `残り45日`.
    fn value(&self, m: &Measure) -> String {
        use crate::values::units::{Unit, trim_float};
        match (m.unit, self.ja()) {
            (Some(Unit::Days), true) => format!("残り{}日", trim_float(m.value, 0)),
            (Some(u), true) => crate::output::words::ja::quantity(m.value, u),
            (Some(u), false) => u.format(m.value),
            (None, _) => trim_float(m.value, 2),
        }
    }

    /// What a problem line says after the check: its value, the
    /// certificate's expiry, the newest backup.
    fn observed(&self, fleet: &Fleet, c: &CheckState) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(m) = &c.value {
            out.push(self.value(m));
        }
        if let Some(t) = c.cert_not_after {
            out.push(format!(
                "{} {}",
                self.pick("証明書期限", "certificate expires"),
                self.when(fleet, t)
            ));
        }
        if let Some(t) = c.backup_last {
            out.push(format!(
                "{} {}",
                self.pick("最新バックアップ", "newest backup"),
                self.when(fleet, t)
            ));
        }
        out
    }

    /// The host's last run: `09:00`, `10/18 09:00（3日前）`.
    fn last_run(&self, fleet: &Fleet, h: &Host) -> String {
        match h.last_run() {
            Some(t) if fleet.is_stale(h) => {
                if self.ja() {
                    format!("{}（{}・古い）", self.when(fleet, t), self.ago(fleet, t))
                } else {
                    format!("{} ({}, stale)", self.when(fleet, t), self.ago(fleet, t))
                }
            }
            Some(t) => self.when(fleet, t),
            None => "-".into(),
        }
    }

    /// The host's name, with its job when two hosts share an instance.
    fn host(&self, fleet: &Fleet, h: &Host) -> String {
        let shared = fleet
            .hosts
            .iter()
            .filter(|o| o.target.instance == h.target.instance)
            .count()
            > 1;
        match (&h.target.job, shared) {
            (Some(j), true) => format!("{} ({j})", h.target.instance),
            _ => h.target.instance.clone(),
        }
    }

    /// `3台（正常 1・警告 0・異常 1・不明 0）`.
    fn host_counts(&self, fleet: &Fleet) -> String {
        let parts: Vec<String> = [Status::Pass, Status::Warn, Status::Fail, Status::Unknown]
            .iter()
            .map(|s| format!("{} {}", self.status(*s), fleet.count(*s)))
            .collect();
        if self.ja() {
            format!("{}台（{}）", fleet.hosts.len(), parts.join("・"))
        } else {
            format!("{} ({})", fleet.hosts.len(), parts.join(" · "))
        }
    }

    fn none(&self) -> &'static str {
        self.pick("特になし", "none")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use std::time::Duration;

    fn fleet(at: &str) -> Fleet {
        Fleet {
            source: "http://p:9090".into(),
            matcher: None,
            at: DateTime::parse_from_rfc3339(at).unwrap(),
            stale_after: Duration::from_secs(26 * 3600),
            hosts: vec![],
            down: vec![],
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn times_read_against_the_reports_day_in_its_zone() {
        let f = fleet("2025-10-21T10:00:00+09:00");
        let ja = Words {
            lang: Lang::Ja,
            tz: Zone::default(),
        };
        let en = Words {
            lang: Lang::En,
            tz: Zone::default(),
        };
        // 00:30 UTC is 09:30 JST: the report's day.
        assert_eq!(ja.when(&f, utc("2025-10-21T00:30:00Z")), "09:30");
        // 14:00 UTC the day before is 23:00 JST on the 20th.
        assert_eq!(ja.when(&f, utc("2025-10-20T14:00:00Z")), "10/20 23:00");
        assert_eq!(ja.when(&f, utc("2024-12-31T00:00:00Z")), "2024/12/31 09:00");
        assert_eq!(ja.ago(&f, utc("2025-10-21T00:48:00Z")), "12分前");
        assert_eq!(en.ago(&f, utc("2025-10-20T00:00:00Z")), "25h ago");
        assert_eq!(ja.ago(&f, utc("2025-10-18T01:00:00Z")), "3日前");
        // A time ahead of the report's clock is no time ago.
        assert_eq!(en.ago(&f, utc("2025-10-22T00:00:00Z")), "0m ago");
        assert_eq!(ja.heading_time(&f), "2025-10-21 10:00");
        let berlin = Words {
            lang: Lang::En,
            tz: Zone::Iana(chrono_tz::Europe::Berlin),
        };
        assert_eq!(berlin.heading_time(&f), "2025-10-21 03:00 +02:00");
        assert_eq!(ja.limit(&f), "26時間");
    }

    #[test]
    fn values_in_the_reports_words() {
        use crate::values::units::Unit;
        let ja = Words {
            lang: Lang::Ja,
            tz: Zone::default(),
        };
        let en = Words {
            lang: Lang::En,
            tz: Zone::default(),
        };
        let m = |value, unit| Measure { value, unit };
        assert_eq!(ja.value(&m(95.0, Some(Unit::Percent))), "95%");
        assert_eq!(ja.value(&m(12.0, Some(Unit::Days))), "残り12日");
        assert_eq!(en.value(&m(12.0, Some(Unit::Days))), "12d");
        assert_eq!(ja.value(&m(1200.0, Some(Unit::Millis))), "1.2秒");
        assert_eq!(ja.value(&m(2.5, None)), "2.5");
    }
}
