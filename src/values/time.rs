//! Time zones and report periods as values: the one JST helper, the
//! `timezone:` parser (fixed offsets, SPEC §10.1) and which period a report
//! covers. Period arithmetic lives in `history::period`.

use chrono::FixedOffset;
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

/// JST, the default report timezone.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("valid offset")
}

/// Parses `report.timezone`: `+09:00`, `-05:30`, `+0900`, `+09`, `UTC`,
/// `Z`, `JST` or `Asia/Tokyo`.
pub fn parse_timezone(s: &str) -> Result<FixedOffset, String> {
    let t = s.trim();
    let bad = || {
        format!(
            "invalid timezone `{s}`: expected a fixed offset like +09:00, or UTC/JST (zones with daylight saving are not supported)"
        )
    };
    match t {
        "UTC" | "utc" | "Z" | "GMT" => return Ok(FixedOffset::east_opt(0).expect("0")),
        "JST" | "jst" | "Asia/Tokyo" => return Ok(jst()),
        _ => {}
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || rest.matches(':').count() > 1 {
        return Err(bad());
    }
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().map_err(|_| bad())?, 0),
        4 => (
            digits[..2].parse::<i32>().map_err(|_| bad())?,
            digits[2..].parse::<i32>().map_err(|_| bad())?,
        ),
        _ => return Err(bad()),
    };
    if h > 14 || m > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}
