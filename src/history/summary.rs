//! What a weekly or monthly report says from history: uptime, incidents,
//! one line per chosen (or, by default, every other numeric) check, and
//! for monthly reports the capacity forecasts. The runbook's `report:`
//! block chooses the checks; this module reads the samples and computes
//! numbers, and `output::report` words them.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use super::HistoryError;
use super::aggregation::{self, Forecast, Uptime};
use super::period::Period;
use super::store::{IncidentRecord, Store};
use crate::check::{Role, has_role};
use crate::runbook::{Amount, CheckRef, ReportSpec};
use crate::values::PeriodKind;
use crate::values::Stat;

const DAY: Duration = Duration::from_secs(86_400);

/// Everything history contributes to one weekly/monthly report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeriodSummary {
    /// `None` when no health check is configured or found.
    pub uptime: Option<UptimeLine>,
    pub incidents: Vec<IncidentRecord>,
    pub sections: Vec<(String, Vec<TrendLine>)>,
    pub forecasts: Vec<ForecastLine>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UptimeLine {
    /// The health check's label.
    pub label: String,
    pub uptime: Uptime,
    /// The same, day by day (one per day of `Period::days`), for the
    /// HTML report's chart of 稼働率 per day.
    pub days: Vec<Uptime>,
}

/// One line like `平均CPU使用率: 35% (最大 85%, 前週比 +3pt) ▂▃▅▃▂▂▃`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrendLine {
    pub label: String,
    pub stat: Stat,
    pub unit: String,
    pub unit_label: String,
    pub value: Option<f64>,
    /// The period's maximum, shown next to an average.
    pub max: Option<f64>,
    /// The same stat over the previous period, when comparable.
    pub previous: Option<f64>,
    /// One mark per day; empty when there is no data.
    pub spark: String,
    /// The stat of each day (one per day of `Period::days`): what the
    /// sparkline and the HTML report's trend chart draw.
    pub days: Vec<Option<f64>>,
    /// The check's latest warn and fail limits, for the chart's lines;
    /// `None` for a success rate, and when the check has none.
    pub warn: Option<f64>,
    pub fail: Option<f64>,
    pub success: Option<(usize, usize)>,
}

/// One capacity forecast.
#[derive(Clone, Debug, PartialEq)]
pub struct ForecastLine {
    pub label: String,
    pub unit: String,
    pub unit_label: String,
    /// The limit the trend is held against; `None`: no threshold known.
    pub limit: Option<f64>,
    pub forecast: Forecast,
    pub horizon_days: u32,
    /// Each day's average over the fitted window, `(ms of the day's
    /// middle, value)`, oldest first: the points of the forecast chart.
    pub points: Vec<(i64, f64)>,
}

fn day_bounds(p: &Period) -> Vec<(i64, i64)> {
    p.days()
        .into_iter()
        .map(|(_, a, b)| (a.timestamp_millis(), b.timestamp_millis()))
        .collect()
}

fn check_ref(runbook: &str, id: &str) -> CheckRef {
    CheckRef {
        runbook: Some(runbook.to_owned()),
        id: id.to_owned(),
    }
}

/// The runbooks whose history rows a report reads (SPEC §10.2): exactly
/// `report.from` when given; else every runbook recorded with the report
/// runbook's `system:`, and the report runbook itself; with no system,
/// the report runbook alone. Rows of other systems never reach a report.
pub fn scope(
    store: &Store,
    spec: &ReportSpec,
    own_runbook: &str,
    system: Option<&str>,
) -> Result<Vec<String>, HistoryError> {
    if let Some(from) = &spec.from {
        return Ok(from.clone());
    }
    let mut out = match system {
        Some(s) => store.runbooks_of_system(s)?,
        None => Vec::new(),
    };
    if !out.iter().any(|r| r == own_runbook) {
        out.push(own_runbook.to_owned());
    }
    Ok(out)
}

/// `r` within the scope: a reference without a runbook (`health`) names
/// the first runbook of the scope that has such a check (the report's own
/// runbook when none does, which reads as データなし); one with a runbook
/// (`daily/health`) is taken as written — the runbook's author chose it.
fn scoped(
    store: &Store,
    r: &CheckRef,
    scope: &[String],
    own: &str,
) -> Result<CheckRef, HistoryError> {
    if r.runbook.is_some() {
        return Ok(r.clone());
    }
    let holders = store.runbooks_with_check(&r.id)?;
    let runbook = scope
        .iter()
        .find(|rb| holders.contains(rb))
        .cloned()
        .unwrap_or_else(|| own.to_owned());
    Ok(check_ref(&runbook, &r.id))
}

/// Computes the history part of a report for `period`. `own_runbook` is
/// the runbook being reported (its `system:` is `system`): its checks
/// appear from its run, so they get no automatic trend line. Only the
/// runbooks of its [`scope`] are read.
pub fn summarize(
    store: &Store,
    spec: &ReportSpec,
    period: &Period,
    own_runbook: &str,
    system: Option<&str>,
) -> Result<PeriodSummary, HistoryError> {
    let scope = scope(store, spec, own_runbook, system)?;
    let in_scope = |rb: &str| scope.iter().any(|s| s == rb);
    let mut seen = store.checks_seen(&period.start, &period.end)?;
    seen.retain(|c| in_scope(&c.runbook));
    let mut incidents = store.incidents(&period.start, &period.end)?;
    // An incident belongs to its system (or, with `report.from`, to a
    // listed runbook).
    incidents.retain(|i| {
        in_scope(&i.runbook)
            || (spec.from.is_none() && system.is_some() && i.system.as_deref() == system)
    });
    let mut out = PeriodSummary {
        incidents,
        ..Default::default()
    };
    let scoped = |r: &CheckRef| scoped(store, r, &scope, own_runbook);

    // 稼働率: the configured health check, else the first health endpoint
    // seen among the scope's runbooks.
    let uptime_ref = match spec.uptime.as_ref() {
        Some(u) => Some(scoped(&u.check)?),
        None => seen
            .iter()
            .find(|c| has_role(&c.kind, Role::HealthEndpoint))
            .map(|c| check_ref(&c.runbook, &c.check_id)),
    };
    if let Some(r) = &uptime_ref {
        let max_gap = spec.uptime.as_ref().and_then(|u| u.max_gap).map(|d| d.0);
        out.uptime = Some(uptime_line(store, r, max_gap, period)?);
    }

    for section in &spec.sections {
        let mut lines = Vec::new();
        for l in &section.lines {
            lines.push(trend_line(
                store,
                &scoped(&l.check)?,
                l.metric.as_deref(),
                l.stat,
                l.label.as_deref(),
                period,
            )?);
        }
        push_lines(&mut out.sections, &section.name, lines);
    }

    if spec.trends.unwrap_or(spec.sections.is_empty()) {
        for c in &seen {
            // Liveness kinds say "is it up", not "how much": no trend line
            // of their own by default.
            let numeric = c.unit.is_some() && has_role(&c.kind, Role::Measurement);
            let backup = has_role(&c.kind, Role::Backup);
            let is_uptime = uptime_ref.as_ref().is_some_and(|r| {
                r.id == c.check_id && r.runbook.as_ref().is_none_or(|rb| *rb == c.runbook)
            });
            if c.runbook == own_runbook || is_uptime || !(numeric || backup) {
                continue;
            }
            let stat = backup.then_some(Stat::Success);
            let line = trend_line(
                store,
                &check_ref(&c.runbook, &c.check_id),
                None,
                stat,
                None,
                period,
            )?;
            push_lines(&mut out.sections, &c.section, vec![line]);
        }
    }

    if period.kind == PeriodKind::Monthly {
        match &spec.forecast {
            Some(list) => {
                for f in list {
                    out.forecasts.push(forecast_line(
                        store,
                        &scoped(&f.check)?,
                        f.metric.as_deref(),
                        f.label.as_deref(),
                        f.limit,
                        f.window.map(|d| d.0).unwrap_or(90 * DAY),
                        f.horizon.map(|d| d.0).unwrap_or(90 * DAY),
                        period,
                    )?);
                }
            }
            None => {
                for c in seen.iter().filter(|c| has_role(&c.kind, Role::Capacity)) {
                    out.forecasts.push(forecast_line(
                        store,
                        &check_ref(&c.runbook, &c.check_id),
                        None,
                        None,
                        None,
                        90 * DAY,
                        90 * DAY,
                        period,
                    )?);
                }
            }
        }
    }
    Ok(out)
}

/// Adds `lines` to the section `name`; a line whose label is already in
/// the report (two runbooks of a system measuring the same disk) is left
/// out, so each check appears once.
fn push_lines(sections: &mut Vec<(String, Vec<TrendLine>)>, name: &str, lines: Vec<TrendLine>) {
    for l in lines {
        if sections
            .iter()
            .any(|(_, v)| v.iter().any(|x| x.label == l.label))
        {
            continue;
        }
        match sections.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => v.push(l),
            None => sections.push((name.to_owned(), vec![l])),
        }
    }
}

fn uptime_line(
    store: &Store,
    check: &CheckRef,
    max_gap: Option<Duration>,
    period: &Period,
) -> Result<UptimeLine, HistoryError> {
    let series = store.series(check, None, &period.start, &period.end)?;
    let mut samples = series.samples;
    let gap = max_gap
        .map(|d| d.as_millis() as i64)
        .unwrap_or_else(|| aggregation::default_max_gap(&samples));
    // The last sample before the period speaks for its first minutes.
    let before = store.sample_before(check, &period.start, Duration::from_millis(gap as u64))?;
    let label = series
        .last
        .as_ref()
        .or(before.as_ref().map(|(_, m)| m))
        .map(|m| m.label.clone())
        .unwrap_or_else(|| check.id.clone());
    if let Some((b, _)) = before {
        samples.insert(0, b);
    }
    let days = day_bounds(period)
        .iter()
        .map(|(a, b)| aggregation::uptime(&samples, *a, *b, gap))
        .collect();
    Ok(UptimeLine {
        label,
        uptime: aggregation::uptime(
            &samples,
            period.start.timestamp_millis(),
            period.end.timestamp_millis(),
            gap,
        ),
        days,
    })
}

fn trend_line(
    store: &Store,
    check: &CheckRef,
    metric: Option<&str>,
    stat: Option<Stat>,
    label: Option<&str>,
    period: &Period,
) -> Result<TrendLine, HistoryError> {
    let days = day_bounds(period);
    let tallied = store.tallies(check, metric, &days)?;
    let last = tallied.last_valued.as_ref().or(tallied.last.as_ref());
    let unit = last.map(|r| r.unit.clone()).unwrap_or_default();
    let unit_label = last.map(|r| r.unit_label.clone()).unwrap_or_default();
    let stat = stat.unwrap_or_else(|| Stat::for_unit(&unit));
    let base_label = last
        .map(|r| r.label.clone())
        .unwrap_or_else(|| check.id.clone());
    let label = label
        .map(str::to_owned)
        .unwrap_or_else(|| stat.label(&base_label));
    let value = aggregation::stat_of_days(&tallied.days, stat);
    // A running total is only comparable once the period is complete.
    let comparable = !matches!(stat, Stat::Success)
        && unit != "days"
        && (stat != Stat::Sum || period.complete());
    let previous = if comparable && value.is_some() {
        let prev = store.tallies(check, metric, &day_bounds(&period.previous()))?;
        // A total over fewer days of data is not a fair comparison (history
        // that began mid-way through the previous period).
        let covered = |d: &[aggregation::Tally]| d.iter().filter(|t| t.last.is_some()).count();
        if stat == Stat::Sum && covered(&prev.days) < covered(&tallied.days) {
            None
        } else {
            aggregation::stat_of_days(&prev.days, stat)
        }
    } else {
        None
    };
    let day_values = if stat == Stat::Success || value.is_none() {
        Vec::new()
    } else {
        aggregation::day_values(&tallied.days, stat)
    };
    let spark = if day_values.is_empty() {
        String::new()
    } else {
        aggregation::sparkline(&day_values)
    };
    let limits = last.filter(|_| stat != Stat::Success);
    let mut all = aggregation::Tally::default();
    tallied.days.iter().for_each(|d| all.merge(d));
    Ok(TrendLine {
        label,
        stat,
        max: if stat == Stat::Avg { all.max } else { None },
        unit,
        unit_label,
        value,
        previous,
        spark,
        days: day_values,
        warn: limits.and_then(|m| m.warn_limit),
        fail: limits.and_then(|m| m.fail_limit),
        success: if stat == Stat::Success {
            all.success()
        } else {
            None
        },
    })
}

#[allow(clippy::too_many_arguments)]
fn forecast_line(
    store: &Store,
    check: &CheckRef,
    metric: Option<&str>,
    label: Option<&str>,
    limit: Option<Amount>,
    window: Duration,
    horizon: Duration,
    period: &Period,
) -> Result<ForecastLine, HistoryError> {
    let end = period.end;
    let from: DateTime<FixedOffset> =
        end - chrono::Duration::milliseconds(window.as_millis() as i64);
    let ref_ms = end.timestamp_millis();
    let (sums, last) = store.fit_sums(check, metric, &from, &end, ref_ms)?;
    let last = last.as_ref();
    let sign = limit.and_then(|a| a.below);
    let limit = limit
        .map(|a| a.value)
        .or_else(|| last.and_then(|r| r.fail_limit));
    // Which side is bad: the limit's own sign (`< 10GB`); else lower is
    // worse when the warning limit sits above the failure one (free space,
    // days left); else higher is.
    let rising = match sign {
        Some(below) => !below,
        None => !last
            .and_then(|r| Some(r.warn_limit? > r.fail_limit?))
            .unwrap_or(false),
    };
    let forecast = match limit {
        Some(l) => aggregation::forecast_sums(&sums, l, rising, ref_ms, horizon.as_millis() as i64),
        None => Forecast::Insufficient,
    };
    // The window's days (oldest first, the last ending at the period's
    // end), each day's average: what the chart draws under the trend.
    let day_ms = DAY.as_millis() as i64;
    let n = (window.as_millis() as i64 / day_ms).max(1);
    let bounds: Vec<(i64, i64)> = (0..n)
        .rev()
        .map(|i| (ref_ms - (i + 1) * day_ms, ref_ms - i * day_ms))
        .collect();
    let daily = store.tallies(check, metric, &bounds)?;
    let points = bounds
        .iter()
        .zip(aggregation::day_values(&daily.days, Stat::Avg))
        .filter_map(|((a, b), v)| Some(((a + b) / 2, v?)))
        .collect();
    Ok(ForecastLine {
        label: label
            .map(str::to_owned)
            .or_else(|| last.map(|r| r.label.clone()))
            .unwrap_or_else(|| check.id.clone()),
        unit: last.map(|r| r.unit.clone()).unwrap_or_default(),
        unit_label: last.map(|r| r.unit_label.clone()).unwrap_or_default(),
        limit,
        forecast,
        horizon_days: (horizon.as_secs() / 86_400) as u32,
        points,
    })
}
