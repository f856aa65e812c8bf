//! The time a check may take. The engine starts one [`Deadline`] per
//! attempt from the check's `timeout`; a kind asks [`Deadline::remaining`]
//! or wraps each slow step in [`Deadline::within`], so every kind reads
//! `timeout` the same way: one budget for the whole attempt, shared by its
//! steps (connect, handshake, query), never a fresh budget per step and
//! never a fraction of it.
//!
//! A kind that overruns anyway is stopped by the engine shortly after the
//! deadline (a grace period lets a kind say which step was slow first).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::values::reason::{Code, Reason};
use crate::values::units::Unit;

/// One attempt's time budget.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    started: Instant,
    budget: Duration,
}

/// A step ran past the deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overran {
    /// The whole budget (what "timed out after …" names).
    pub after: Duration,
}

impl Overran {
    /// A `timeout` reason in the words of `code`, with parameter `after` (ms).
    pub fn reason(self, code: &'static Code) -> Reason {
        Reason::new(code).with_quantity("after", self.after.as_secs_f64() * 1000.0, Unit::Millis)
    }
}

impl Deadline {
    /// A deadline `budget` from now.
    pub fn start(budget: Duration) -> Deadline {
        Deadline {
            started: Instant::now(),
            budget,
        }
    }

    /// The whole budget (the check's `timeout`).
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Time left; zero once passed.
    pub fn remaining(&self) -> Duration {
        self.budget.saturating_sub(self.started.elapsed())
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// The deadline as an instant, for APIs that take one.
    pub fn instant(&self) -> Instant {
        self.started + self.budget
    }

    /// Runs `step` until the deadline.
    pub async fn within<F: Future>(&self, step: F) -> Result<F::Output, Overran> {
        tokio::time::timeout_at(self.instant(), step)
            .await
            .map_err(|_| Overran { after: self.budget })
    }

    /// Sleeps for `d`, or until the deadline if that comes first.
    pub async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d.min(self.remaining())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn steps_share_one_budget() {
        let d = Deadline::start(Duration::from_secs(5));
        assert_eq!(d.remaining(), Duration::from_secs(5));
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(d.remaining(), Duration::from_secs(2));
        // A second step gets what is left, not a fresh 5 s.
        let r = d
            .within(tokio::time::sleep(Duration::from_secs(3)))
            .await
            .unwrap_err();
        assert_eq!(r.after, Duration::from_secs(5));
        assert!(d.expired());
    }
}
