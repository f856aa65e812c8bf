//! `stat:` of a report line: how a period's samples become one number.

use serde::Deserialize;

/// How a period's samples are summed up into one number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stat {
    /// Mean of every sample.
    Avg,
    Max,
    Min,
    /// The latest sample.
    Last,
    /// Each day's last sample, added up (a `window: today` count's day total).
    Sum,
    /// Share of samples that were not fail (unknown ones left out).
    Success,
}

impl Stat {
    /// The default for a unit: days and sizes are read as "where are we
    /// now", counts as totals, everything else as an average.
    pub fn for_unit(unit: &str) -> Stat {
        match unit {
            "days" | "B" => Stat::Last,
            "count" => Stat::Sum,
            _ => Stat::Avg,
        }
    }

    /// `平均CPU使用率`, `最大…`, `総アクセス数`: the line label for a check label.
    pub fn label(self, check_label: &str) -> String {
        match self {
            Stat::Avg => format!("平均{check_label}"),
            Stat::Max => format!("最大{check_label}"),
            Stat::Min => format!("最小{check_label}"),
            Stat::Sum => format!("総{check_label}"),
            Stat::Last | Stat::Success => check_label.to_owned(),
        }
    }
}
