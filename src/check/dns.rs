//! `dns`: a name resolves, to what it should, quickly enough (SPEC §10.6).
//! Asks `server` (ip[:port]) or the system resolver (/etc/resolv.conf) for
//! one record type and holds the answers against `expect`.
//!
//! Decisions: the name is asked as written (fully qualified: no search
//! domains), /etc/hosts is not consulted (this checks DNS, not the local
//! override), and nothing is cached between runs. NXDOMAIN, no record of
//! the type, an error answer (SERVFAIL, REFUSED) and no answer before the
//! deadline are failures; an unreadable resolver configuration is unknown.
//! Answers are compared without case and without the trailing dot; an MX
//! expectation matches the exchange (`mail.example.com`) or preference and
//! exchange (`10 mail.example.com`); addresses compare as addresses
//! (`::1` = `0::1`).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use hickory_resolver::config::{NameServerConfigGroup, ResolveHosts, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Name, ResolveError, ResolveErrorKind, Resolver};
use serde::Deserialize;

use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::values::outcome::Status;
use crate::values::reason::{Code, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, format_millis};

/// The reason catalog entries of `dns` (docs/reasons.md).
/// Display values (`Code::value`).
static V_NO_RECORD: Code = Code::value("value.dns.no_record", "no record");

pub(crate) static CODES: &[&Code] = &[
    &V_NO_RECORD,
    &NXDOMAIN,
    &NO_RECORDS,
    &MISSING,
    &TIMEOUT,
    &RCODE,
    &ERROR,
    &NO_RESOLVER,
    &D_ANSWERS,
];

// Detail lines (`-v`).
static D_ANSWERS: Code = Code::detail("dns.detail.answers", "{record} {name} → {answers}");

static NXDOMAIN: Code = Code::new(
    "dns.nxdomain",
    "{name}: no such name (NXDOMAIN)[ at {server}]",
);
static NO_RECORDS: Code = Code::new(
    "dns.no_records",
    "{name} has no {type} record[ at {server}]",
);
static MISSING: Code = Code::new(
    "dns.expect",
    "{type} {name}: expected {missing} among the answers, got {got}",
);
static TIMEOUT: Code = Code::variant(
    "dns.timeout",
    "timeout",
    "timed out after {after} resolving {name}[ at {server}]",
);
static RCODE: Code = Code::new(
    "dns.rcode",
    "{name}: the server answered {rcode}[ at {server}]",
);
static ERROR: Code = Code::new("dns.error", "{name}: {error}[ at {server}]");
static NO_RESOLVER: Code = Code::new(
    "dns.no_resolver",
    "cannot read the system resolver configuration: {error}",
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    name: String,
    #[serde(default, rename = "type")]
    record: RecordKind,
    server: Option<String>,
    #[serde(default)]
    expect: Vec<crate::values::Text>,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::millis")]
    latency: Option<Threshold>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)] // the record types as DNS spells them
enum RecordKind {
    #[default]
    #[serde(alias = "a")]
    A,
    #[serde(alias = "aaaa")]
    AAAA,
    #[serde(alias = "cname")]
    CNAME,
    #[serde(alias = "mx")]
    MX,
    #[serde(alias = "txt")]
    TXT,
}

impl RecordKind {
    fn rtype(self) -> RecordType {
        match self {
            RecordKind::A => RecordType::A,
            RecordKind::AAAA => RecordType::AAAA,
            RecordKind::CNAME => RecordType::CNAME,
            RecordKind::MX => RecordType::MX,
            RecordKind::TXT => RecordType::TXT,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            RecordKind::A => "A",
            RecordKind::AAAA => "AAAA",
            RecordKind::CNAME => "CNAME",
            RecordKind::MX => "MX",
            RecordKind::TXT => "TXT",
        }
    }
}

/// `ip` or `ip:port` (`[v6]:port`); port 53 by default.
fn parse_server(s: &str) -> Result<SocketAddr, String> {
    let t = s.trim();
    if let Ok(a) = t.parse::<SocketAddr>() {
        return Ok(a);
    }
    t.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| {
            format!("invalid server `{s}`: expected an IP address with an optional port, like 127.0.0.1:53")
        })
}

fn fqdn(name: &str) -> Result<Name, String> {
    let mut n = Name::from_ascii(name.trim()).map_err(|e| format!("invalid name `{name}`: {e}"))?;
    if n.is_root() {
        return Err(format!("invalid name `{name}`: expected a domain name"));
    }
    n.set_fqdn(true);
    Ok(n)
}

impl Kind for Dns {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }

    fn section(&self) -> &'static str {
        sections::SERVICES
    }

    fn target(&self) -> String {
        match &self.server {
            Some(s) => format!("dns {} {} @{s}", self.record.as_str(), self.name),
            None => format!("dns {} {}", self.record.as_str(), self.name),
        }
    }

    fn validate(&self) -> Result<(), String> {
        fqdn(&self.name)?;
        if let Some(s) = &self.server {
            parse_server(s)?;
        }
        for e in &self.expect {
            if matches!(self.record, RecordKind::A | RecordKind::AAAA)
                && e.0.trim().parse::<IpAddr>().is_err()
            {
                return Err(format!(
                    "expect: `{}` is not an IP address (type {})",
                    e.0,
                    self.record.as_str()
                ));
            }
        }
        Ok(())
    }
}

impl Dns {
    /// A reason with the name, type and (when given) server.
    fn reason(&self, code: &'static Code) -> Reason {
        Reason::new(code)
            .with("name", self.name.trim())
            .with("type", self.record.as_str())
            .with_opt("server", self.server.as_deref())
    }

    fn resolver(&self, ctx: &Ctx) -> Result<Resolver<TokioConnectionProvider>, Failure> {
        let (config, mut opts) = match &self.server {
            Some(s) => {
                let addr = parse_server(s)
                    .map_err(|e| Failure::unknown(self.reason(&ERROR).with("error", e)))?;
                let group = NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
                (
                    ResolverConfig::from_parts(None, vec![], group),
                    Default::default(),
                )
            }
            None => hickory_resolver::system_conf::read_system_conf().map_err(|e| {
                Failure::unknown(Reason::new(&NO_RESOLVER).with("error", e.to_string()))
            })?,
        };
        // One try within what is left of the deadline; the deadline also
        // wraps the whole lookup below.
        opts.timeout = ctx.deadline.remaining();
        opts.attempts = 1;
        opts.cache_size = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ndots = 0;
        let mut b = Resolver::builder_with_config(config, TokioConnectionProvider::default());
        *b.options_mut() = opts;
        Ok(b.build())
    }

    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let name =
            fqdn(&self.name).map_err(|e| Failure::unknown(self.reason(&ERROR).with("error", e)))?;
        let resolver = self.resolver(ctx)?;
        let started = Instant::now();
        let answer = ctx
            .deadline
            .within(resolver.lookup(name, self.record.rtype()))
            .await
            .map_err(|o| {
                Failure::fail(self.timeout_reason(o.reason(&TIMEOUT))).shown(
                    crate::values::reason::said(&crate::values::reason::common::V_TIMEOUT),
                )
            })?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let lookup = answer.map_err(|e| self.failure(e, ctx))?;
        let mut answers: Vec<String> = lookup
            .record_iter()
            .filter(|r| r.record_type() == self.record.rtype())
            .filter_map(|r| show(r.data()))
            .collect();
        // Servers rotate the order of answers; the value and history should not.
        answers.sort_by_key(|a| (a.parse::<IpAddr>().ok(), a.clone()));
        if answers.is_empty() {
            return Err(Failure::fail(self.reason(&NO_RECORDS))
                .shown(crate::values::reason::said(&V_NO_RECORD)));
        }

        let mut m = Measurement::new(format!("{} {}", summary(&answers), format_millis(ms)))
            .metric(
                Metric::new("latency", ms, Unit::Millis, Direction::HigherIsWorse)
                    .held(&self.latency)
                    .says(format!("latency {}", format_millis(ms))),
            )
            .metric(Metric::new(
                "answers",
                answers.len() as f64,
                Unit::Count,
                Direction::LowerIsWorse,
            ))
            .detail(
                Reason::new(&D_ANSWERS)
                    .with("record", self.record.as_str())
                    .with("name", self.name.trim())
                    .with("answers", answers.clone()),
            );
        let missing: Vec<String> = self
            .expect
            .iter()
            .map(|e| e.0.trim().to_owned())
            .filter(|want| !answers.iter().any(|got| matches(self.record, want, got)))
            .collect();
        if !missing.is_empty() {
            m.observe(
                Status::Fail,
                self.reason(&MISSING)
                    .with("missing", missing)
                    .with("got", summary(&answers)),
            );
        }
        Ok(m)
    }

    fn timeout_reason(&self, r: Reason) -> Reason {
        r.with("name", self.name.trim())
            .with("type", self.record.as_str())
            .with_opt("server", self.server.as_deref())
    }

    /// The failure a resolver error means.
    fn failure(&self, e: ResolveError, ctx: &Ctx) -> Failure {
        let proto = match e.kind() {
            ResolveErrorKind::Proto(p) => Some(p.kind()),
            _ => None,
        };
        match proto {
            Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => match *response_code {
                ResponseCode::NXDomain => Failure::fail(self.reason(&NXDOMAIN)).shown("NXDOMAIN"),
                ResponseCode::NoError => Failure::fail(self.reason(&NO_RECORDS))
                    .shown(crate::values::reason::said(&V_NO_RECORD)),
                rc => {
                    let name = rcode_name(rc);
                    Failure::fail(self.reason(&RCODE).with("rcode", name.clone())).shown(name)
                }
            },
            Some(ProtoErrorKind::Timeout) => Failure::fail(
                self.timeout_reason(
                    super::Overran {
                        after: ctx.deadline.budget(),
                    }
                    .reason(&TIMEOUT),
                ),
            )
            .shown(crate::values::reason::said(
                &crate::values::reason::common::V_TIMEOUT,
            )),
            Some(ProtoErrorKind::Io(io)) => Failure::fail(
                self.reason(&ERROR)
                    .with("error", crate::values::io_reason(io)),
            ),
            _ => Failure::fail(self.reason(&ERROR).with("error", e.to_string())),
        }
    }
}

/// The response code as dig prints it (`SERVFAIL`, `REFUSED`).
fn rcode_name(rc: ResponseCode) -> String {
    match rc {
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::YXDomain => "YXDOMAIN".into(),
        ResponseCode::NotAuth => "NOTAUTH".into(),
        other => format!("RCODE {}", u16::from(other)),
    }
}

/// One answer as text: an address, a name without its final dot,
/// `10 mail.example.com`, or a TXT record's strings joined.
fn show(data: &RData) -> Option<String> {
    let name = |n: &Name| n.to_ascii().trim_end_matches('.').to_owned();
    Some(match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(c) => name(&c.0),
        RData::MX(mx) => format!("{} {}", mx.preference(), name(mx.exchange())),
        RData::TXT(t) => t
            .txt_data()
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<String>(),
        _ => return None,
    })
}

/// Whether answer `got` satisfies expectation `want`.
fn matches(kind: RecordKind, want: &str, got: &str) -> bool {
    let norm = |s: &str| s.trim().trim_end_matches('.').to_ascii_lowercase();
    match kind {
        RecordKind::A | RecordKind::AAAA => {
            matches!((want.parse::<IpAddr>(), got.parse::<IpAddr>()), (Ok(w), Ok(g)) if w == g)
        }
        RecordKind::CNAME => norm(want) == norm(got),
        RecordKind::MX => {
            let g = norm(got);
            let exchange = g.split_once(' ').map(|(_, e)| e).unwrap_or(&g);
            norm(want) == g || norm(want) == exchange
        }
        RecordKind::TXT => want == got,
    }
}

/// The answers for the value column: the first three, then how many more.
fn summary(answers: &[String]) -> String {
    let shown: Vec<String> = answers
        .iter()
        .take(3)
        .map(|a| crate::values::units::one_line(a, 60))
        .collect();
    match answers.len() {
        n if n > 3 => format!("{} (+{} more)", shown.join(", "), n - 3),
        _ => shown.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers() {
        assert_eq!(parse_server("127.0.0.1").unwrap().port(), 53);
        assert_eq!(parse_server("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_server("[::1]:5353").unwrap().port(), 5353);
        assert_eq!(parse_server("::1").unwrap().port(), 53);
        let e = parse_server("dns.example").unwrap_err();
        assert!(e.contains("expected an IP address"), "{e}");
    }

    #[test]
    fn answers_match_as_their_type() {
        assert!(matches(RecordKind::AAAA, "fd00::10", "fd00:0::10"));
        assert!(!matches(RecordKind::A, "127.0.0.1", "127.0.0.2"));
        assert!(matches(RecordKind::CNAME, "WWW.x.test.", "www.x.test"));
        assert!(matches(RecordKind::MX, "mail.x.test", "10 mail.x.test"));
        assert!(matches(RecordKind::MX, "10 mail.x.test", "10 mail.x.test"));
        assert!(!matches(RecordKind::MX, "20 mail.x.test", "10 mail.x.test"));
        assert!(!matches(RecordKind::TXT, "v=spf1", "v=spf1 -all"));
    }

    #[test]
    fn summary_cuts_after_three() {
        let a: Vec<String> = (1..=5).map(|i| format!("10.0.0.{i}")).collect();
        assert_eq!(summary(&a), "10.0.0.1, 10.0.0.2, 10.0.0.3 (+2 more)");
    }

    #[test]
    fn load_rules() {
        use super::super::harness::kind;
        let e = kind::<Dns>("name: x.test\ntype: A\nexpect: [mail.x.test]").unwrap_err();
        assert!(e.contains("not an IP address"), "{e}");
        let e = kind::<Dns>("name: x.test\nserver: nowhere").unwrap_err();
        assert!(e.contains("invalid server"), "{e}");
        let e = kind::<Dns>("name: x.test\ntype: SRV").unwrap_err();
        assert!(e.contains("unknown variant"), "{e}");
        assert!(kind::<Dns>("name: x.test\ntype: mx\nexpect: [mail.x.test]").is_ok());
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_timeout() {
        use super::super::harness;
        // A UDP socket that reads nothing: the query is never answered.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let d = harness::kind::<Dns>(&format!("name: x.test\nserver: 127.0.0.1:{port}")).unwrap();
        let f = harness::run(&d, std::time::Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.reason.code.code, "timeout");
        assert_eq!(f.reason.param("name"), Some(&"x.test".into()));
    }
}
