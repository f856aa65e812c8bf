//! Time zones and report periods as values: the one zone every human-read
//! time is shown in ([`Zone`], `timezone:`, SPEC §10.1), the JST helper and
//! which period a report covers. Period arithmetic lives in
//! `history::period`.

use std::fmt;

use chrono::{DateTime, FixedOffset, MappedLocalTime, NaiveDate, NaiveDateTime, Offset, TimeZone};
use serde::Deserialize;

/// Which report: 日次, 週次 or 月次.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKind {
    Daily,
    Weekly,
    Monthly,
}

impl PeriodKind {
    /// `日次` / `週次` / `月次`.
    pub fn ja(self) -> &'static str {
        match self {
            PeriodKind::Daily => "日次",
            PeriodKind::Weekly => "週次",
            PeriodKind::Monthly => "月次",
        }
    }

    /// `前日比` / `前週比` / `前月比`.
    pub fn change_word(self) -> &'static str {
        match self {
            PeriodKind::Daily => "前日比",
            PeriodKind::Weekly => "前週比",
            PeriodKind::Monthly => "前月比",
        }
    }

    /// The report a runbook prints by its file name: `weekly.yaml` →
    /// weekly, `monthly.yaml` → monthly, anything else daily.
    pub fn for_runbook_name(name: &str) -> PeriodKind {
        match name {
            "weekly" => PeriodKind::Weekly,
            "monthly" => PeriodKind::Monthly,
            _ => PeriodKind::Daily,
        }
    }
}

/// JST as a fixed offset (+09:00). The default zone is [`Zone::default`]
/// (Asia/Tokyo), which is the same offset all year.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("valid offset")
}

/// The time zone people read times in: an IANA zone (`Asia/Tokyo`,
/// `Europe/Berlin`, with its daylight saving rules) or a fixed offset
/// (`+09:00`, `UTC`, `JST`). Default Asia/Tokyo (SPEC §10.1).
///
/// IANA zones come from chrono-tz, which compiles the tz database into the
/// binary, rather than from `/usr/share/zoneinfo`: a fresh Debian CI
/// machine or a minimal container may have no tzdata, and a report's day
/// boundaries must not depend on what the host happens to have installed.
/// The cost is the database's age: a zone whose rules change after this
/// build is shown by the old rules until opsrun is rebuilt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    Iana(chrono_tz::Tz),
    Fixed(FixedOffset),
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::Iana(chrono_tz::Asia::Tokyo)
    }
}

impl fmt::Display for Zone {
    /// `Asia/Tokyo`, `+05:30`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Iana(tz) => f.write_str(tz.name()),
            Zone::Fixed(o) => write!(f, "{o}"),
        }
    }
}

/// The offset of a [`Zone`] at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneOffset {
    Iana(<chrono_tz::Tz as TimeZone>::Offset),
    Fixed(FixedOffset),
}

impl Offset for ZoneOffset {
    fn fix(&self) -> FixedOffset {
        match self {
            ZoneOffset::Iana(o) => o.fix(),
            ZoneOffset::Fixed(o) => *o,
        }
    }
}

impl fmt::Display for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.fix())
    }
}

impl TimeZone for Zone {
    type Offset = ZoneOffset;

    fn from_offset(offset: &ZoneOffset) -> Zone {
        match offset {
            ZoneOffset::Iana(o) => Zone::Iana(chrono_tz::Tz::from_offset(o)),
            ZoneOffset::Fixed(o) => Zone::Fixed(*o),
        }
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> MappedLocalTime<ZoneOffset> {
        match self {
            Zone::Iana(tz) => tz.offset_from_local_date(local).map(ZoneOffset::Iana),
            Zone::Fixed(o) => o.offset_from_local_date(local).map(ZoneOffset::Fixed),
        }
    }

    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> MappedLocalTime<ZoneOffset> {
        match self {
            Zone::Iana(tz) => tz.offset_from_local_datetime(local).map(ZoneOffset::Iana),
            Zone::Fixed(o) => o.offset_from_local_datetime(local).map(ZoneOffset::Fixed),
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> ZoneOffset {
        match self {
            Zone::Iana(tz) => ZoneOffset::Iana(tz.offset_from_utc_date(utc)),
            Zone::Fixed(o) => ZoneOffset::Fixed(o.offset_from_utc_date(utc)),
        }
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> ZoneOffset {
        match self {
            Zone::Iana(tz) => ZoneOffset::Iana(tz.offset_from_utc_datetime(utc)),
            Zone::Fixed(o) => ZoneOffset::Fixed(o.offset_from_utc_datetime(utc)),
        }
    }
}

impl Zone {
    /// `t` as read in this zone, with the zone's offset at that instant
    /// (`+01:00` in a Berlin winter, `+02:00` in its summer).
    pub fn at<T: TimeZone>(&self, t: &DateTime<T>) -> DateTime<FixedOffset> {
        t.with_timezone(self).fixed_offset()
    }

    /// The instant a local wall-clock time names in this zone. In the hour
    /// daylight saving skips, the first instant after the gap; in the hour
    /// it repeats, the earlier of the two.
    pub fn local(&self, t: NaiveDateTime) -> DateTime<FixedOffset> {
        match self.from_local_datetime(&t) {
            MappedLocalTime::Single(d) | MappedLocalTime::Ambiguous(d, _) => d.fixed_offset(),
            MappedLocalTime::None => {
                // A gap is at most a few hours long: the first minute after it.
                (1..=24 * 60)
                    .find_map(|m| {
                        self.from_local_datetime(&(t + chrono::Duration::minutes(m)))
                            .earliest()
                    })
                    .map(|d| d.fixed_offset())
                    .unwrap_or_else(|| self.at(&t.and_utc()))
            }
        }
    }

    /// Midnight starting `d` in this zone (DST-correct: a day may be 23 or
    /// 25 hours long).
    pub fn midnight(&self, d: NaiveDate) -> DateTime<FixedOffset> {
        self.local(d.and_hms_opt(0, 0, 0).expect("midnight"))
    }
}

/// Parses `timezone:`: an IANA name (`Asia/Tokyo`, `Europe/Berlin`,
/// `America/New_York`), or a fixed offset `+09:00`, `-05:30`, `+0900`,
/// `+09`, `UTC`, `Z`, `GMT`, `JST`.
pub fn parse_timezone(s: &str) -> Result<Zone, String> {
    let t = s.trim();
    match t {
        "UTC" | "utc" | "Z" | "GMT" => {
            return Ok(Zone::Fixed(FixedOffset::east_opt(0).expect("0")));
        }
        "JST" | "jst" => return Ok(Zone::Fixed(jst())),
        _ => {}
    }
    if let Ok(tz) = t.parse::<chrono_tz::Tz>() {
        return Ok(Zone::Iana(tz));
    }
    parse_offset(t).map(Zone::Fixed).ok_or_else(|| {
        format!(
            "invalid timezone `{s}`: expected an IANA zone name like Asia/Tokyo or Europe/Berlin, or a fixed offset like +09:00, UTC or JST"
        )
    })
}

/// `+09:00`, `-05:30`, `+0900`, `+09`.
fn parse_offset(t: &str) -> Option<FixedOffset> {
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || rest.matches(':').count() > 1 {
        return None;
    }
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    if h > 14 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}
