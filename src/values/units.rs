//! Parsing of the human units runbooks are written in: durations (`500ms`,
//! `30s`, `5m`, `24h`, `7d`, `2w`), sizes (`100MB` = 10^6 bytes, `100MiB` =
//! 2^20 bytes), percentages (`80%`) and plain counts.
//!
//! Every parser returns a message that says what was expected, so the runbook
//! loader can show it next to the offending line.

use std::time::Duration;

/// What kind of quantity a threshold or a field measures. Decides how a
/// written value is parsed and how it is printed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A percentage, `80%` (a bare number is accepted too).
    Percent,
    /// A duration, stored in milliseconds.
    Millis,
    /// A size, stored in bytes.
    Bytes,
    /// A plain count.
    Count,
    /// Days (certificate lifetime), `30` or `30d`.
    Days,
    /// A plain number with no unit (a `value` extracted from output).
    Number,
}

impl Unit {
    /// The unit string used in JSON, history and Prometheus.
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Percent => "%",
            Unit::Millis => "ms",
            Unit::Bytes => "B",
            Unit::Count => "count",
            Unit::Days => "days",
            Unit::Number => "",
        }
    }

    /// The unit of a symbol as [`Unit::symbol`] writes it (JSON, history,
    /// the Prometheus `unit` label); `None` for one opsrun never writes.
    pub fn from_symbol(s: &str) -> Option<Unit> {
        Some(match s {
            "%" => Unit::Percent,
            "ms" => Unit::Millis,
            "B" => Unit::Bytes,
            "count" => Unit::Count,
            "days" => Unit::Days,
            "" => Unit::Number,
            _ => return None,
        })
    }

    /// The phrase used in "expected …" messages.
    pub fn expected(self) -> &'static str {
        match self {
            Unit::Percent => "a percentage like 80%",
            Unit::Millis => "a duration like 500ms, 30s, 5m, 7d",
            Unit::Bytes => "a size like 100MB, 512MiB, 1GiB",
            Unit::Count => "a count like 5",
            Unit::Days => "a number of days like 30 or 30d",
            Unit::Number => "a number like 42 or 0.5",
        }
    }

    /// Parses `s` as a value of this unit.
    pub fn parse(self, s: &str) -> Result<f64, String> {
        let t = s.trim();
        let bad = || format!("invalid value `{s}`: expected {}", self.expected());
        match self {
            Unit::Percent => {
                let n = t.strip_suffix('%').unwrap_or(t).trim();
                let v = parse_number(n).ok_or_else(bad)?;
                if !(0.0..=100.0).contains(&v) {
                    return Err(format!(
                        "invalid percentage `{s}`: expected a value between 0% and 100%"
                    ));
                }
                Ok(v)
            }
            Unit::Millis => parse_duration(t)
                .map(|d| d.as_secs_f64() * 1000.0)
                .map_err(|_| bad()),
            Unit::Bytes => parse_size(t).map(|b| b as f64).map_err(|_| bad()),
            Unit::Count => {
                let v = parse_number(t).ok_or_else(bad)?;
                if v < 0.0 {
                    return Err(bad());
                }
                Ok(v)
            }
            Unit::Days => {
                let n = t.strip_suffix('d').unwrap_or(t).trim();
                parse_number(n).ok_or_else(bad)
            }
            Unit::Number => parse_number(t).ok_or_else(bad),
        }
    }

    /// Prints a value of this unit the way a runbook would write it.
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Percent => format!("{}%", percent_text(v)),
            Unit::Millis => format_millis(v),
            Unit::Bytes => format_bytes(v),
            Unit::Count | Unit::Number => trim_float(v, 2),
            Unit::Days => format!("{}d", trim_float(v, 0)),
        }
    }
}

fn parse_number(s: &str) -> Option<f64> {
    if s.is_empty() || s.starts_with('+') {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// A percentage's number, rounded the one way every format uses (SPEC
/// §10.1): one decimal (`3.5`, `66.5`), two under 1% so a small error
/// rate still shows (`0.44`).
pub fn percent_text(v: f64) -> String {
    trim_float(v, if v.abs() < 1.0 { 2 } else { 1 })
}

/// Prints a float with at most `decimals` decimals and no trailing zeros.
pub fn trim_float(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" { "0".into() } else { s.into() }
    } else {
        s
    }
}

/// `1.2s`, `350ms`, `5m`, `2h`.
pub fn format_millis(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{}ms", trim_float(ms, 1))
    } else if ms < 60_000.0 {
        format!("{}s", trim_float(ms / 1000.0, 2))
    } else if ms < 3_600_000.0 {
        format!("{}m", trim_float(ms / 60_000.0, 1))
    } else if ms < 86_400_000.0 {
        format!("{}h", trim_float(ms / 3_600_000.0, 1))
    } else {
        format!("{}d", trim_float(ms / 86_400_000.0, 1))
    }
}

/// Decimal units (`48.2MB`), as `df -H` and the seeds' reports use.
pub fn format_bytes(b: f64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = b;
    let mut i = 0;
    while v.abs() >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{}B", trim_float(v, 0))
    } else {
        format!("{}{}", trim_float(v, 1), UNITS[i])
    }
}

/// The longest duration accepted (~31,700 years): a whole number of days,
/// so the longest value printed (`format_millis` rounds days to 0.1)
/// never rounds past it and always parses back.
pub const MAX_DURATION_SECS: f64 = 11_574_074.0 * 86_400.0;

/// Parses a duration: a number followed by `ms`, `s`, `m`, `h`, `d` or `w`.
/// Several parts may be combined (`1h30m`); a bare number is rejected because
/// `timeout: 30` is ambiguous.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let err =
        || format!("invalid duration `{s}`: expected a duration like 500ms, 30s, 5m, 24h, 7d");
    if t.is_empty() {
        return Err(err());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_end == 0 {
            return Err(err());
        }
        let n: f64 = rest[..num_end].parse().map_err(|_| err())?;
        rest = rest[num_end..].trim_start();
        let unit_end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_end] {
            "ms" => 0.001,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "w" => 604_800.0,
            _ => return Err(err()),
        };
        total += n * secs;
        rest = rest[unit_end..].trim_start();
    }
    if !total.is_finite() || total > MAX_DURATION_SECS {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(total))
}

/// Parses a size: `100MB` (10^6), `100MiB` (2^20), `512k`, `1GiB`, `2048` bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let err = || format!("invalid size `{s}`: expected a size like 100MB, 512MiB, 1GiB");
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    if split == 0 {
        return Err(err());
    }
    let n: f64 = t[..split].parse().map_err(|_| err())?;
    let mult: f64 = match t[split..].trim() {
        "" | "B" => 1.0,
        "k" | "kB" | "KB" => 1e3,
        "M" | "MB" => 1e6,
        "G" | "GB" => 1e9,
        "T" | "TB" => 1e12,
        // format_bytes prints PB for the largest sizes; what opsrun prints
        // must read back.
        "P" | "PB" => 1e15,
        "KiB" | "Ki" => 1024.0,
        "MiB" | "Mi" => 1024f64.powi(2),
        "GiB" | "Gi" => 1024f64.powi(3),
        "TiB" | "Ti" => 1024f64.powi(4),
        "PiB" | "Pi" => 1024f64.powi(5),
        _ => return Err(err()),
    };
    let v = n * mult;
    if !v.is_finite() || v > u64::MAX as f64 {
        return Err(err());
    }
    Ok(v.round() as u64)
}

/// One line of text cut to `max` characters, whitespace runs folded (a
/// query or a reply quoted in a message).
pub fn one_line(s: &str, max: usize) -> String {
    let folded = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() > max {
        format!("{}…", folded.chars().take(max).collect::<String>())
    } else {
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604800));
        assert_eq!(parse_duration("2w").unwrap(), Duration::from_secs(1209600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "30", "s", "5x", "-5s", "1e400s", "ms5"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("expected a duration like"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_longest_duration_prints_and_parses_back() {
        let max = MAX_DURATION_SECS * 1000.0;
        for ms in [max, max - 1.0, max - 4_000_000.0] {
            let shown = format_millis(ms);
            assert!(parse_duration(&shown).is_ok(), "{ms} → {shown}");
        }
        assert!(parse_duration("1000000000000s").is_err());
    }

    #[test]
    fn sizes_decimal_vs_binary() {
        assert_eq!(parse_size("100MB").unwrap(), 100_000_000);
        assert_eq!(parse_size("100MiB").unwrap(), 104_857_600);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("1GiB").unwrap(), 1_073_741_824);
        assert_eq!(parse_size("2048").unwrap(), 2048);
        assert_eq!(parse_size("1.5kB").unwrap(), 1500);
        for bad in ["", "MB", "10XB", "-1MB", "1e30TB", "20000PB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    /// Found by the `units` fuzzer: sizes over 1000 TB print as `PB`,
    /// which did not parse back.
    #[test]
    fn printed_petabytes_parse_back() {
        let v = Unit::Bytes.parse("11111111111111111").unwrap();
        assert_eq!(Unit::Bytes.format(v), "11.1PB");
        assert_eq!(parse_size("11.1PB").unwrap(), 11_100_000_000_000_000);
        assert_eq!(parse_size("1PiB").unwrap(), 1 << 50);
    }

    #[test]
    fn percent() {
        assert_eq!(Unit::Percent.parse("80%").unwrap(), 80.0);
        assert_eq!(Unit::Percent.parse("80").unwrap(), 80.0);
        assert_eq!(Unit::Percent.parse("0%").unwrap(), 0.0);
        assert_eq!(Unit::Percent.parse("100%").unwrap(), 100.0);
        assert!(Unit::Percent.parse("101%").is_err());
        assert!(Unit::Percent.parse("-1%").is_err());
        assert!(Unit::Percent.parse("abc").is_err());
        assert!(Unit::Percent.parse("NaN%").is_err());
    }

    #[test]
    fn formatting() {
        assert_eq!(Unit::Percent.format(65.0), "65%");
        assert_eq!(Unit::Percent.format(91.24), "91.2%");
        assert_eq!(format_millis(350.0), "350ms");
        assert_eq!(format_millis(1200.0), "1.2s");
        assert_eq!(format_bytes(48_200_000.0), "48.2MB");
        assert_eq!(format_bytes(999.0), "999B");
        assert_eq!(trim_float(-0.0001, 2), "0");
    }

    #[test]
    fn one_line_folds_and_cuts() {
        assert_eq!(one_line("SELECT  *\n  FROM t", 100), "SELECT * FROM t");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
