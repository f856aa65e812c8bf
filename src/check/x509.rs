//! Certificate facts and the expiry verdict shared by `tls` and
//! `cert_file`: days left (`残り45日`), the earliest expiry in a chain or
//! bundle, and the one-line reason.
//!
//! Days left follow `check_http -C` (monitoring-plugins) so both tools give
//! the same verdict on the same certificate: whole days, truncated, and a
//! limit is breached when days left ≤ limit. An expired certificate always
//! fails and has negative days left (at least −1, even minutes after expiry).

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use x509_parser::extensions::GeneralName;

use super::{Failure, Measurement, Metric};
use crate::values::outcome::Status;
use crate::values::reason::{Code, Param, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::Unit;

/// The catalog entries of certificate expiry (`tls`, `cert_file`).
/// Display values (`Code::value`).
static V_LEFT: Code = Code::value("value.x509.left", "{days} days left");
static V_LEFT_ONE: Code = Code::value("value.x509.left_one", "1 day left");
static V_EXPIRED_DAYS: Code = Code::value("value.x509.expired_days", "expired {n} days ago");
static V_EXPIRED_DAY: Code = Code::value("value.x509.expired_day", "expired 1 day ago");
static V_EXPIRED_HOURS: Code = Code::value("value.x509.expired_hours", "expired {n} hours ago");
static V_EXPIRED_HOUR: Code = Code::value("value.x509.expired_hour", "expired 1 hour ago");

pub(crate) static CODES: &[&Code] = &[
    &V_LEFT,
    &V_LEFT_ONE,
    &V_EXPIRED_DAYS,
    &V_EXPIRED_DAY,
    &V_EXPIRED_HOURS,
    &V_EXPIRED_HOUR,
    &NONE,
    &NOT_YET_VALID,
    &EXPIRED,
    &EXPIRES,
    &EXPIRES_1,
    &D_NOT_AFTER,
    &D_SUBJECT,
    &D_ISSUER,
    &D_SANS,
    &D_FIRST_EARLIEST,
    &D_EARLIEST,
];

// Detail lines (`-v`).
static D_NOT_AFTER: Code = Code::detail("x509.detail.not_after", "notAfter {not_after} ({left})");
static D_SUBJECT: Code = Code::detail("x509.detail.subject", "subject {subject}");
static D_ISSUER: Code = Code::detail("x509.detail.issuer", "issuer {issuer}");
static D_SANS: Code = Code::detail("x509.detail.sans", "SANs {sans}");
static D_FIRST_EARLIEST: Code = Code::detail(
    "x509.detail.first_earliest",
    "{count} certificates; the first expires earliest",
);
static D_EARLIEST: Code = Code::detail(
    "x509.detail.earliest",
    "earliest expiry: {role} {name}, notAfter {not_after} ({left}), before the first certificate",
);

static NONE: Code = Code::new("cert.none", "no certificate");
static NOT_YET_VALID: Code = Code::new("cert.not_yet_valid", "{who} not valid before {not_before}");
static EXPIRED: Code = Code::new(
    "cert.expired",
    "{who} expired {ago} ago (notAfter {not_after})[, before the {first} ({first_days} days)]",
);
static EXPIRES: Code = Code::variant(
    "cert.expires",
    "threshold",
    "{who} expires in {days} days {op} {level} {limit} (notAfter {not_after})[, before the {first} ({first_days} days)]",
);
static EXPIRES_1: Code = Code::variant(
    "cert.expires.1",
    "threshold",
    "{who} expires in {days} day {op} {level} {limit} (notAfter {not_after})[, before the {first} ({first_days} days)]",
);

const DAY: i64 = 86_400;

/// What a report needs from one certificate.
#[derive(Clone, Debug)]
pub(crate) struct CertInfo {
    /// How the certificate is named in messages: `certificate`,
    /// `intermediate CN=R3`, `certificate #2 (CN=…)`.
    pub role: String,
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses from subjectAltName.
    pub sans: Vec<String>,
    pub common_name: Option<String>,
    pub not_before: i64,
    pub not_after: i64,
    pub is_ca: bool,
}

impl CertInfo {
    pub fn parse(der: &[u8]) -> Result<CertInfo, String> {
        let (_, c) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("not an X.509 certificate ({e})"))?;
        let mut sans = Vec::new();
        if let Ok(Some(ext)) = c.subject_alternative_name() {
            for n in &ext.value.general_names {
                match n {
                    GeneralName::DNSName(d) => sans.push((*d).to_owned()),
                    GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            sans.push(std::net::Ipv4Addr::from(a).to_string());
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            sans.push(std::net::Ipv6Addr::from(a).to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        let common_name = c
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        Ok(CertInfo {
            role: "certificate".into(),
            subject: name_text(&c.subject().to_string()),
            issuer: name_text(&c.issuer().to_string()),
            sans,
            common_name,
            not_before: c.validity().not_before.timestamp(),
            not_after: c.validity().not_after.timestamp(),
            is_ca: c.is_ca(),
        })
    }

    /// `CN=R3` or the whole subject when it has no CN.
    pub fn short_name(&self) -> String {
        match &self.common_name {
            Some(cn) => format!("CN={cn}"),
            None if self.subject.is_empty() => "(empty subject)".into(),
            None => self.subject.clone(),
        }
    }

    /// The names the certificate is for: SANs, or the CN when there are none.
    pub fn names(&self) -> String {
        if !self.sans.is_empty() {
            self.sans.join(", ")
        } else {
            self.common_name
                .clone()
                .unwrap_or_else(|| "(no name)".into())
        }
    }

    pub fn self_signed(&self) -> bool {
        self.subject == self.issuer
    }
}

fn name_text(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        s.to_owned()
    }
}

/// Whole days left, `check_http -C` style; negative once expired.
pub(crate) fn days_left(not_after: i64, now: i64) -> i64 {
    let secs = not_after - now;
    if secs >= 0 {
        secs / DAY
    } else {
        -((-secs) / DAY).max(1)
    }
}

/// `2026-01-19 00:00 UTC`.
pub(crate) fn utc(ts: i64) -> String {
    Utc.timestamp_opt(ts, 0)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| ts.to_string())
}

/// `3 days` / `1 day` / `5 hours`: how long ago an expiry was.
fn ago_text(secs: i64) -> (String, String) {
    if secs >= DAY {
        let d = secs / DAY;
        (
            format!("{d} day{}", if d == 1 { "" } else { "s" }),
            format!("{d}日"),
        )
    } else {
        let h = (secs / 3600).max(1);
        (
            format!("{h} hour{}", if h == 1 { "" } else { "s" }),
            format!("{h}時間"),
        )
    }
}

/// `45 days left` (`残り45日`), or `expired 3 days ago` (`期限切れ
/// (3日前)`) once expired: whole days, or hours on the first day.
fn left(not_after: i64, now: i64) -> Reason {
    if not_after < now {
        let secs = now - not_after;
        match (secs / DAY, (secs / 3600).max(1)) {
            (1, _) => Reason::new(&V_EXPIRED_DAY),
            (d @ 2.., _) => Reason::new(&V_EXPIRED_DAYS).with("n", d),
            (_, 1) => Reason::new(&V_EXPIRED_HOUR),
            (_, h) => Reason::new(&V_EXPIRED_HOURS).with("n", h),
        }
    } else {
        match days_left(not_after, now) {
            1 => Reason::new(&V_LEFT_ONE),
            d => Reason::new(&V_LEFT).with("days", d),
        }
    }
}

/// The default expiry threshold: warn at 30 days, fail at 7 (seed 000).
pub(crate) fn default_days() -> Threshold {
    Threshold::new(Unit::Days, Some(30.0), Some(7.0))
}

/// Holds `certs` (leaf or first certificate first) against `th` at `now`.
/// The earliest expiry decides; the detail names the first certificate's
/// notAfter, subject, issuer and SANs, and the earliest one if it differs.
pub(crate) fn expiry(
    certs: &[CertInfo],
    now: &DateTime<FixedOffset>,
    th: &Threshold,
) -> Result<Measurement, Failure> {
    let Some(first) = certs.first() else {
        return Err(Failure::fail(Reason::new(&NONE)));
    };
    let now_ts = now.timestamp();
    // Earliest notAfter; the first certificate wins ties.
    let (ei, earliest) = certs
        .iter()
        .enumerate()
        .min_by_key(|(i, c)| (c.not_after, *i))
        .expect("non-empty");
    let days = days_left(earliest.not_after, now_ts);
    let first_days = days_left(first.not_after, now_ts);

    let value = crate::values::reason::say(&left(earliest.not_after, now_ts));
    let mut out = Measurement::new(value);

    out = out
        .detail(
            Reason::new(&D_NOT_AFTER)
                .with("not_after", utc(first.not_after))
                .with("left", left(first.not_after, now_ts)),
        )
        .detail(Reason::new(&D_SUBJECT).with("subject", &first.subject))
        .detail(Reason::new(&D_ISSUER).with("issuer", &first.issuer));
    if !first.sans.is_empty() {
        out = out.detail(Reason::new(&D_SANS).with("sans", first.sans.clone()));
    }
    if certs.len() > 1 {
        if ei == 0 {
            out = out.detail(Reason::new(&D_FIRST_EARLIEST).with("count", certs.len()));
        } else {
            out = out.detail(
                Reason::new(&D_EARLIEST)
                    .with("role", &earliest.role)
                    .with("name", earliest.short_name())
                    .with("not_after", utc(earliest.not_after))
                    .with("left", left(earliest.not_after, now_ts)),
            );
        }
    }

    let who = if ei == 0 {
        first.role.clone()
    } else {
        format!("{} {}", earliest.role, earliest.short_name())
    };
    let mut context: Vec<(&'static str, Param)> = vec![
        ("who", who.into()),
        ("not_after", utc(earliest.not_after).into()),
    ];
    if ei != 0 {
        context.push(("first", first.role.clone().into()));
        context.push(("first_days", first_days.into()));
    }
    let mut expires = context.clone();
    expires.push(("days", days.into()));

    // Not yet valid: no amount of days left makes that usable.
    if let Some(c) = certs.iter().find(|c| c.not_before > now_ts) {
        let role = if std::ptr::eq(c, first) {
            first.role.clone()
        } else {
            format!("{} {}", c.role, c.short_name())
        };
        out.observe(
            Status::Fail,
            Reason::new(&NOT_YET_VALID)
                .with("who", role)
                .with("not_before", utc(c.not_before)),
        );
    }
    let expired = earliest.not_after < now_ts;
    if expired {
        let mut r = Reason::new(&EXPIRED).with("ago", ago_text(now_ts - earliest.not_after).0);
        r.params.extend(context.clone());
        out.observe(Status::Fail, r);
    }
    let days_metric = Metric::new(
        "days_left",
        days as f64,
        Unit::Days,
        Direction::LowerIsWorse,
    )
    .held_to(th.clone())
    .says(format!("{days} days"))
    .worded(if days == 1 { &EXPIRES_1 } else { &EXPIRES }, expires);
    // Expired says it all: the days are shown against the limits, not judged.
    out.metrics.insert(
        0,
        if expired {
            days_metric.not_judged()
        } else {
            days_metric
        },
    );
    out.metrics.insert(
        1,
        Metric::new(
            "not_after",
            earliest.not_after as f64,
            Unit::Number,
            Direction::LowerIsWorse,
        ),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(role: &str, not_after: i64) -> CertInfo {
        CertInfo {
            role: role.into(),
            subject: "CN=x".into(),
            issuer: "CN=ca".into(),
            sans: vec!["x.example".into()],
            common_name: Some("x".into()),
            not_before: 0,
            not_after,
            is_ca: false,
        }
    }

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2025-10-21T09:00:00+09:00").unwrap()
    }

    #[test]
    fn days_are_truncated_like_check_http() {
        assert_eq!(days_left(45 * DAY + 3600, 0), 45);
        assert_eq!(days_left(DAY - 1, 0), 0);
        assert_eq!(days_left(-1, 0), -1);
        assert_eq!(days_left(-3 * DAY - 7200, 0), -3);
    }

    /// The status and the first reason the judge will give.
    fn judged(r: Result<Measurement, Failure>) -> (Status, String, Option<Reason>) {
        let m = r.unwrap();
        let status = super::super::harness::status(&m);
        let reason = m
            .observations
            .first()
            .map(|o| o.reason.clone())
            .or_else(|| {
                m.metrics.iter().filter(|x| x.judged).find_map(|x| {
                    let th = x.threshold.as_ref()?;
                    th.breach(x.value, x.direction)?;
                    x.wording.as_ref().map(|(c, p)| {
                        let mut r = Reason::new(c);
                        r.params.extend(p.clone());
                        r
                    })
                })
            });
        (status, m.value, reason)
    }

    #[test]
    fn thresholds_and_values() {
        let t = now().timestamp();
        let th = default_days();
        let o = judged(expiry(
            &[cert("certificate", t + 45 * DAY + 10)],
            &now(),
            &th,
        ));
        assert_eq!(
            (o.0, o.1.as_str()),
            (Status::Pass, "value.x509.left {days=45}")
        );
        let o = judged(expiry(
            &[cert("certificate", t + 30 * DAY + 10)],
            &now(),
            &th,
        ));
        assert_eq!(o.0, Status::Warn);
        let r = o.2.unwrap();
        assert_eq!((r.code.code, r.code.key), ("threshold", "cert.expires"));
        assert_eq!(r.param("who"), Some(&"certificate".into()));
        let o = judged(expiry(
            &[cert("certificate", t + 7 * DAY + 10)],
            &now(),
            &th,
        ));
        assert_eq!(o.0, Status::Fail);
        let m = expiry(&[cert("certificate", t - 3 * DAY - 10)], &now(), &th).unwrap();
        assert_eq!(m.metrics[0].value, -3.0);
        assert!(
            !m.metrics[0].judged,
            "expired: the days are not judged again"
        );
        let o = judged(Ok(m));
        assert_eq!(o.0, Status::Fail);
        assert_eq!(o.1, "value.x509.expired_days {n=3}");
        let r = o.2.unwrap();
        assert_eq!(r.code.code, "cert.expired");
        assert_eq!(r.param("ago"), Some(&"3 days".into()));
    }

    #[test]
    fn earliest_in_chain_decides() {
        let t = now().timestamp();
        let mut inter = cert("intermediate", t + 9 * DAY + 10);
        inter.common_name = Some("Inter".into());
        let r = expiry(
            &[cert("certificate", t + 90 * DAY), inter],
            &now(),
            &default_days(),
        );
        let detail = r.as_ref().unwrap().detail.clone();
        let o = judged(r);
        assert_eq!(o.0, Status::Warn);
        assert_eq!(o.1, "value.x509.left {days=9}");
        let r = o.2.unwrap();
        assert_eq!(r.param("who"), Some(&"intermediate CN=Inter".into()));
        assert_eq!(r.param("first"), Some(&"certificate".into()));
        assert_eq!(r.param("first_days"), Some(&90i64.into()));
        let said = detail.iter().find_map(|d| match d {
            crate::values::reason::Detail::Said(r) if r.code.key == "x509.detail.earliest" => {
                Some(r.clone())
            }
            _ => None,
        });
        let said = said.expect("an earliest-expiry detail");
        assert_eq!(said.param("role"), Some(&"intermediate".into()));
        assert_eq!(said.param("name"), Some(&"CN=Inter".into()));
    }
}
