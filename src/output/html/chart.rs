//! The charts of a weekly or monthly report (filled in below).

use crate::history::period::Period;
use crate::history::summary::PeriodSummary;

pub(crate) fn charts(_sum: &PeriodSummary, _p: &Period) -> String {
    String::new()
}
