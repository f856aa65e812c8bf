//! Report periods: the day, the seven days or the calendar month a report
//! covers, in the report's time zone ([`Zone`]: Asia/Tokyo by default, an
//! IANA zone or a fixed offset). Day boundaries are each day's own local
//! midnight, so a day in a zone with daylight saving may be 23 or 25 hours.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate};

use crate::values::Zone;
use crate::values::time::PeriodKind;

/// A span of whole days in a timezone, cut at `now` when it is not over yet.
#[derive(Clone, Debug, PartialEq)]
pub struct Period {
    pub kind: PeriodKind,
    pub first_day: NaiveDate,
    /// Inclusive.
    pub last_day: NaiveDate,
    pub tz: Zone,
    /// Midnight starting `first_day`.
    pub start: DateTime<FixedOffset>,
    /// Midnight after `last_day`.
    pub full_end: DateTime<FixedOffset>,
    /// `full_end`, or just after `now` if that is earlier: history after now does not exist.
    pub end: DateTime<FixedOffset>,
    /// Just after `now`.
    pub cut: DateTime<FixedOffset>,
}

fn midnight(d: NaiveDate, tz: Zone) -> DateTime<FixedOffset> {
    tz.midnight(d)
}

impl Period {
    fn new(
        kind: PeriodKind,
        first_day: NaiveDate,
        last_day: NaiveDate,
        tz: Zone,
        now: DateTime<FixedOffset>,
    ) -> Period {
        let start = midnight(first_day, tz);
        let full_end = midnight(last_day + Duration::days(1), tz);
        // Up to and including `now`: a run made at `now` is in the period.
        let cut = now + Duration::milliseconds(1);
        let end = if cut < full_end {
            cut.max(start)
        } else {
            full_end
        };
        Period {
            kind,
            first_day,
            last_day,
            tz,
            start,
            full_end,
            end,
            cut,
        }
    }

    /// When the runs that print this period's report were made: the
    /// period itself, but for a month shifted by a day, as
    /// [`Period::current`] maps a run on the 1st to the month before.
    pub fn run_window(&self) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
        if self.kind != PeriodKind::Monthly {
            return (self.start, self.end);
        }
        let after = |d: NaiveDate| midnight(d + Duration::days(1), self.tz);
        (
            after(self.first_day),
            after(self.last_day + Duration::days(1)).min(self.cut),
        )
    }

    /// The day `date`.
    pub fn day(date: NaiveDate, tz: Zone, now: DateTime<FixedOffset>) -> Period {
        Period::new(PeriodKind::Daily, date, date, tz, now)
    }

    /// The seven days ending with `last_day` (seed 000: a Monday run
    /// reports Tuesday to Monday, `2025-10-21 ~ 2025-10-27`).
    pub fn week(last_day: NaiveDate, tz: Zone, now: DateTime<FixedOffset>) -> Period {
        Period::new(
            PeriodKind::Weekly,
            last_day - Duration::days(6),
            last_day,
            tz,
            now,
        )
    }

    /// The calendar month `year`-`month`.
    pub fn month(year: i32, month: u32, tz: Zone, now: DateTime<FixedOffset>) -> Option<Period> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)?
        };
        Some(Period::new(
            PeriodKind::Monthly,
            first,
            next - Duration::days(1),
            tz,
            now,
        ))
    }

    /// The period a report printed at `now` covers: today; the seven days
    /// ending today; the month of yesterday (so the seed's 毎月1日 run
    /// reports the month that just ended, and a run on the 20th the month
    /// so far).
    pub fn current(kind: PeriodKind, now: DateTime<FixedOffset>, tz: Zone) -> Period {
        let today = now.with_timezone(&tz).date_naive();
        match kind {
            PeriodKind::Daily => Period::day(today, tz, now),
            PeriodKind::Weekly => Period::week(today, tz, now),
            PeriodKind::Monthly => {
                let d = today - Duration::days(1);
                Period::month(d.year(), d.month(), tz, now).expect("valid month")
            }
        }
    }

    /// The period just before this one, complete: the previous day, the
    /// previous seven days, the previous calendar month.
    pub fn previous(&self) -> Period {
        let far = self.full_end + Duration::days(3650);
        match self.kind {
            PeriodKind::Daily => Period::day(self.first_day - Duration::days(1), self.tz, far),
            PeriodKind::Weekly => Period::week(self.first_day - Duration::days(1), self.tz, far),
            PeriodKind::Monthly => {
                let d = self.first_day - Duration::days(1);
                Period::month(d.year(), d.month(), self.tz, far).expect("valid month")
            }
        }
    }

    /// Whether the period is over (not cut at now).
    pub fn complete(&self) -> bool {
        self.end == self.full_end
    }

    /// Every day of the period up to `end`, as `[start, end)` instants.
    pub fn days(&self) -> Vec<(NaiveDate, DateTime<FixedOffset>, DateTime<FixedOffset>)> {
        let mut out = Vec::new();
        let mut d = self.first_day;
        while d <= self.last_day {
            let s = midnight(d, self.tz);
            if s >= self.end && !out.is_empty() {
                break;
            }
            let e = midnight(d + Duration::days(1), self.tz).min(self.end);
            out.push((d, s, e));
            d += Duration::days(1);
        }
        out
    }

    /// The header's date part: `2025-10-21`, `2025-10-21 ~ 2025-10-27`, `2025年10月`.
    pub fn label(&self) -> String {
        match self.kind {
            PeriodKind::Daily => self.first_day.format("%Y-%m-%d").to_string(),
            PeriodKind::Weekly => format!(
                "{} ~ {}",
                self.first_day.format("%Y-%m-%d"),
                self.last_day.format("%Y-%m-%d")
            ),
            PeriodKind::Monthly => {
                format!("{}年{}月", self.first_day.year(), self.first_day.month())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{jst, parse_timezone};

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn tokyo() -> Zone {
        Zone::default()
    }

    #[test]
    fn timezones() {
        let fixed = |s: &str| match parse_timezone(s).unwrap() {
            Zone::Fixed(o) => o.local_minus_utc(),
            z => panic!("{s}: {z:?}"),
        };
        for s in ["+09:00", "JST", "+0900", "+9"] {
            assert_eq!(fixed(s), jst().local_minus_utc(), "{s}");
        }
        assert_eq!(fixed("-05:30"), -(5 * 3600 + 1800));
        assert_eq!(fixed("UTC"), 0);
        assert_eq!(parse_timezone("Asia/Tokyo").unwrap(), Zone::default());
        assert_eq!(
            parse_timezone("Europe/Berlin").unwrap().to_string(),
            "Europe/Berlin"
        );
        for bad in ["Europe/Parus", "9", "+25:00", "+09:99", "", "+09:00:00"] {
            assert!(parse_timezone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn weekly_is_seven_days_ending_today() {
        let p = Period::current(PeriodKind::Weekly, at("2025-10-27T10:00:00+09:00"), tokyo());
        assert_eq!(p.label(), "2025-10-21 ~ 2025-10-27");
        assert_eq!(p.start, at("2025-10-21T00:00:00+09:00"));
        assert_eq!(p.end, at("2025-10-27T10:00:00.001+09:00"));
        assert!(!p.complete());
        assert_eq!(p.days().len(), 7);
        assert_eq!(p.previous().label(), "2025-10-14 ~ 2025-10-20");
        assert!(p.previous().complete());
    }

    #[test]
    fn monthly_on_the_first_is_the_month_that_ended() {
        let p = Period::current(
            PeriodKind::Monthly,
            at("2025-11-01T10:00:00+09:00"),
            tokyo(),
        );
        assert_eq!(p.label(), "2025年10月");
        assert!(p.complete());
        assert_eq!(p.days().len(), 31);
        assert_eq!(p.previous().label(), "2025年9月");
        let (a, b) = p.run_window();
        assert_eq!(a, at("2025-10-02T00:00:00+09:00"));
        assert_eq!(b, at("2025-11-01T10:00:00.001+09:00"));
        let p = Period::current(
            PeriodKind::Monthly,
            at("2025-10-20T10:00:00+09:00"),
            tokyo(),
        );
        assert_eq!(p.label(), "2025年10月");
        assert_eq!(p.days().len(), 20);
        let p = Period::current(
            PeriodKind::Monthly,
            at("2026-01-01T00:30:00+09:00"),
            tokyo(),
        );
        assert_eq!(p.label(), "2025年12月");
        assert_eq!(p.previous().label(), "2025年11月");
    }

    #[test]
    fn the_day_is_taken_in_the_report_timezone() {
        // 2025-10-20T20:00Z is already the 21st in Tokyo.
        let p = Period::current(PeriodKind::Daily, at("2025-10-20T20:00:00+00:00"), tokyo());
        assert_eq!(p.label(), "2025-10-21");
        let utc = parse_timezone("UTC").unwrap();
        let p = Period::current(PeriodKind::Daily, at("2025-10-20T20:00:00+00:00"), utc);
        assert_eq!(p.label(), "2025-10-20");
        // A fixed offset keeps accepting what 0.1 accepted.
        let p = Period::current(
            PeriodKind::Daily,
            at("2025-10-20T20:00:00+00:00"),
            parse_timezone("+05:30").unwrap(),
        );
        assert_eq!(p.start, at("2025-10-21T00:00:00+05:30"));
    }

    #[test]
    fn days_follow_daylight_saving() {
        // Berlin leaves summer time on 2025-10-26: that day has 25 hours,
        // and the days around it start at their own local midnight.
        let berlin = parse_timezone("Europe/Berlin").unwrap();
        let p = Period::current(PeriodKind::Weekly, at("2025-10-27T10:00:00+01:00"), berlin);
        assert_eq!(p.start, at("2025-10-21T00:00:00+02:00"));
        let days = p.days();
        let hours: Vec<i64> = days.iter().map(|(_, s, e)| (*e - *s).num_hours()).collect();
        assert_eq!(hours[..6], [24, 24, 24, 24, 24, 25]);
        assert_eq!(days[6].1, at("2025-10-27T00:00:00+01:00"));
        // Spring forward (2025-03-30): 23 hours.
        let p = Period::day(
            NaiveDate::from_ymd_opt(2025, 3, 30).unwrap(),
            berlin,
            at("2025-04-01T00:00:00+02:00"),
        );
        assert_eq!((p.end - p.start).num_hours(), 23);
        // A month across the change: the run window starts at the 2nd's midnight.
        let p = Period::current(PeriodKind::Monthly, at("2025-11-01T10:00:00+01:00"), berlin);
        assert_eq!(p.run_window().0, at("2025-10-02T00:00:00+02:00"));
        assert_eq!(p.full_end, at("2025-11-01T00:00:00+01:00"));
    }

    #[test]
    fn a_local_time_in_a_gap_is_the_first_instant_after_it() {
        let berlin = parse_timezone("Europe/Berlin").unwrap();
        let t = NaiveDate::from_ymd_opt(2025, 3, 30)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(berlin.local(t), at("2025-03-30T03:00:00+02:00"));
    }
}
