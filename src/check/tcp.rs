//! `tcp`: a port is open (a service listens) or must be free (`state:
//! closed`, seed 003's port conflict on 9100). Replaces `lsof -i :8100`.

use std::time::Instant;

use serde::Deserialize;

use super::{CheckFuture, Ctx, Failure, Kind, Measurement, Metric, sections};
use crate::values::reason::{Code, Reason};
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, format_millis};

/// The reason catalog entries of `tcp` (docs/reasons.md).
/// Display values (`Code::value`).
static V_OPEN: Code = Code::value("value.tcp.open", "open {latency}");
static V_OPEN_BARE: Code = Code::value("value.tcp.open_bare", "open");
static V_CLOSED: Code = Code::value("value.tcp.closed", "closed");

pub(crate) static CODES: &[&Code] = &[
    &V_OPEN,
    &V_OPEN_BARE,
    &V_CLOSED,
    &REFUSED,
    &CONNECT,
    &TIMEOUT,
    &IN_USE,
    &CANNOT,
    &FILTERED,
];

static REFUSED: Code = Code::new(
    "tcp.refused",
    "{address}: connection refused, expected open",
);
static CONNECT: Code = Code::new("tcp.connect", "{address}: {error}, expected open");
static TIMEOUT: Code = Code::variant(
    "tcp.timeout",
    "timeout",
    "{address}: connect timed out after {after}, expected open",
);
static IN_USE: Code = Code::new(
    "tcp.in_use",
    "{address} is in use (something accepts connections), expected free",
);
static CANNOT: Code = Code::new("tcp.error", "{address}: {error}");
static FILTERED: Code = Code::new(
    "tcp.filtered",
    "{address}: no answer within the timeout (filtered?)",
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tcp {
    address: String,
    #[serde(default)]
    state: PortState,
    #[serde(default, deserialize_with = "crate::values::threshold::hi::millis")]
    latency: Option<Threshold>,
}

#[derive(Debug, Default, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum PortState {
    #[default]
    Open,
    Closed,
}

impl Kind for Tcp {
    fn run<'a>(&'a self, ctx: &'a Ctx) -> CheckFuture<'a> {
        Box::pin(async move { self.check(ctx).await.into() })
    }
    fn section(&self) -> &'static str {
        sections::SERVICES
    }
    fn target(&self) -> String {
        format!(
            "tcp {} ({})",
            self.address,
            if self.state == PortState::Open {
                "open"
            } else {
                "closed"
            }
        )
    }
}

impl Tcp {
    fn reason(&self, code: &'static Code) -> Reason {
        Reason::new(code).with("address", &self.address)
    }

    async fn check(&self, ctx: &Ctx) -> Result<Measurement, Failure> {
        let started = Instant::now();
        let attempt = ctx
            .deadline
            .within(tokio::net::TcpStream::connect(&self.address))
            .await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let refused = |e: &std::io::Error| e.kind() == std::io::ErrorKind::ConnectionRefused;
        match (self.state, attempt) {
            (PortState::Open, Ok(Ok(_))) => Ok(Measurement::new(crate::values::reason::say(
                &Reason::new(&V_OPEN).with_quantity("latency", ms, Unit::Millis),
            ))
            .metric(
                Metric::new("latency", ms, Unit::Millis, Direction::HigherIsWorse)
                    .held(&self.latency)
                    .says(format!("connect {}", format_millis(ms))),
            )),
            (PortState::Open, Ok(Err(e))) if refused(&e) => {
                Err(Failure::fail(self.reason(&REFUSED))
                    .shown(crate::values::reason::said(&V_CLOSED)))
            }
            (PortState::Open, Ok(Err(e))) => Err(Failure::fail(
                self.reason(&CONNECT)
                    .with("error", crate::values::io_reason(&e)),
            )
            .shown(crate::values::reason::said(&V_CLOSED))),
            (PortState::Open, Err(o)) => Err(Failure::fail(
                o.reason(&TIMEOUT).with("address", &self.address),
            )
            .shown(crate::values::reason::said(
                &crate::values::reason::common::V_TIMEOUT,
            ))),
            (PortState::Closed, Ok(Ok(_))) => Err(Failure::fail(self.reason(&IN_USE))
                .shown(crate::values::reason::said(&V_OPEN_BARE))),
            (PortState::Closed, Ok(Err(e))) if refused(&e) => {
                Ok(Measurement::new(crate::values::reason::said(&V_CLOSED)))
            }
            (PortState::Closed, Ok(Err(e))) => Err(Failure::unknown(
                self.reason(&CANNOT)
                    .with("error", crate::values::io_reason(&e)),
            )),
            // A silent drop (firewall) is neither proof of free nor of in use.
            (PortState::Closed, Err(_)) => Err(Failure::unknown(self.reason(&FILTERED))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::harness::{kind, run};
    use super::*;

    #[tokio::test]
    async fn open_refused_and_free() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t: Tcp = kind(&format!("address: {addr}\nlatency: {{warn: 1h}}")).unwrap();
        let m = run(&t, Duration::from_secs(5)).await.unwrap();
        assert_eq!(m.metrics[0].name, "latency");
        assert!(m.metrics[0].threshold.is_some());
        let t: Tcp = kind(&format!("address: {addr}\nstate: closed")).unwrap();
        let f = run(&t, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(f.reason.code.code, "tcp.in_use");
        drop(l);
        let t: Tcp = kind(&format!("address: {addr}")).unwrap();
        let f = run(&t, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(f.reason.code.code, "tcp.refused");
        assert_eq!(f.reason.param("address"), Some(&addr.to_string().into()));
        let t: Tcp = kind(&format!("address: {addr}\nstate: closed")).unwrap();
        assert_eq!(
            run(&t, Duration::from_secs(5)).await.unwrap().value,
            "value.tcp.closed {}"
        );
    }
}
