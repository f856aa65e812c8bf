//! `tcp`: a port is open (a service listens) or must be free (`state:
//! closed`, seed 003's port conflict on 9100). Replaces `lsof -i :8100`.

use std::time::Instant;

use serde::Deserialize;

use super::{CheckFuture, Ctx, Kind, sections};
use crate::values::outcome::Outcome;
use crate::values::threshold::{Direction, Threshold};
use crate::values::units::{Unit, format_millis};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tcp {
    address: String,
    #[serde(default)]
    state: PortState,
    #[serde(default, deserialize_with = "crate::values::threshold::millis")]
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
        Box::pin(self.check(ctx))
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
    async fn check(&self, ctx: &Ctx) -> Outcome {
        let started = Instant::now();
        let attempt =
            tokio::time::timeout(ctx.timeout, tokio::net::TcpStream::connect(&self.address)).await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match (self.state, attempt) {
            (PortState::Open, Ok(Ok(_))) => {
                let mut out = Outcome::pass(format!("open {}", format_millis(ms))).with_metric(
                    "latency",
                    ms,
                    Unit::Millis,
                );
                if let Some(th) = &self.latency {
                    let v = th.eval(ms, Direction::HigherIsWorse);
                    out.worsen(
                        v.status,
                        format!("connect {} {}", format_millis(ms), v.breach),
                    );
                    out.threshold = Some(th.clone());
                }
                out
            }
            (PortState::Open, Ok(Err(e))) => {
                Outcome::fail(format!("{}: {}, expected open", self.address, reason(&e)))
                    .with_value("closed")
            }
            (PortState::Open, Err(_)) => Outcome::fail(format!(
                "{}: connect timed out after {}, expected open",
                self.address,
                format_millis(ctx.timeout.as_secs_f64() * 1000.0)
            ))
            .with_value("timeout"),
            (PortState::Closed, Ok(Ok(_))) => Outcome::fail(format!(
                "{} is in use (something accepts connections), expected free",
                self.address
            ))
            .with_value("open"),
            (PortState::Closed, Ok(Err(e)))
                if e.kind() == std::io::ErrorKind::ConnectionRefused =>
            {
                Outcome::pass("closed")
            }
            (PortState::Closed, Ok(Err(e))) => {
                Outcome::unknown(format!("{}: {}", self.address, reason(&e)))
            }
            // A silent drop (firewall) is neither proof of free nor of in use.
            (PortState::Closed, Err(_)) => Outcome::unknown(format!(
                "{}: no answer within the timeout (filtered?)",
                self.address
            )),
        }
    }
}

fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => crate::values::io_reason(e),
    }
}
