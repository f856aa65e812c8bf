//! Numbers computed from history samples: time-weighted uptime, period
//! statistics, per-day buckets, sparklines and the least-squares capacity
//! forecast. Pure functions over `(time, status, value)` samples, so they
//! are unit-tested here without a database.

use crate::values::{Stat, Status};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: f64 = 86_400_000.0;

/// One recorded result of a check: when, how it ended, its number.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Unix milliseconds.
    pub ms: i64,
    pub status: Status,
    pub value: Option<f64>,
    /// A `maint` result's window end (unix ms): it speaks for no longer.
    pub until: Option<i64>,
}

/// Time-weighted availability over a period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Uptime {
    pub up_ms: i64,
    pub down_ms: i64,
    /// Time no sample speaks for (before the first, after a gap, unknown results).
    pub missing_ms: i64,
    /// Merged down intervals, `[start, end)` in unix ms.
    pub outages: Vec<(i64, i64)>,
    /// Time inside maintenance windows (results `maint`): neither up nor
    /// down, left out of the ratio and listed as 計画停止.
    pub maint_ms: i64,
    /// Merged maintenance intervals, `[start, end)` in unix ms.
    pub maintenance: Vec<(i64, i64)>,
}

impl Uptime {
    /// Up share of the measured time, or `None` when nothing was measured.
    pub fn ratio(&self) -> Option<f64> {
        let measured = self.up_ms + self.down_ms;
        (measured > 0).then(|| self.up_ms as f64 / measured as f64)
    }
}

/// Twice the median interval between samples (at least a minute): how
/// long one sample is taken to speak for when `max_gap` is not set. A check
/// run every 5 minutes covers 10; a once-a-day check covers two days.
pub fn default_max_gap(samples: &[Sample]) -> i64 {
    let mut gaps: Vec<i64> = samples
        .windows(2)
        .map(|w| w[1].ms - w[0].ms)
        .filter(|g| *g > 0)
        .collect();
    if gaps.is_empty() {
        return 60 * MINUTE_MS;
    }
    gaps.sort_unstable();
    (gaps[gaps.len() / 2] * 2).max(MINUTE_MS)
}

/// Uptime over `[start, end)`: each sample's status holds from its time to
/// the next sample, but for at most `max_gap`; time no sample covers is
/// missing, not up. A sample before `start` (the latest one) carries into
/// the period. Fail is down; pass and warn are up (warn still serves);
/// unknown (could not check) is missing; maint (a planned stop) is its own
/// time, out of the ratio, and ends with its window (`until`): the rest,
/// to the next sample, is missing.
pub fn uptime(samples: &[Sample], start: i64, end: i64, max_gap: i64) -> Uptime {
    let mut u = Uptime::default();
    if end <= start {
        return u;
    }
    let first = samples.iter().rposition(|s| s.ms <= start).unwrap_or(0);
    let relevant: Vec<&Sample> = samples[first..].iter().filter(|s| s.ms < end).collect();
    let mut covered = 0;
    for (i, s) in relevant.iter().enumerate() {
        let next = relevant.get(i + 1).map(|n| n.ms).unwrap_or(end);
        let from = s.ms.max(start);
        let mut to = next.min(s.ms + max_gap).min(end);
        if let (Status::Maint, Some(until)) = (s.status, s.until) {
            to = to.min(until);
        }
        if to <= from {
            continue;
        }
        let span = to - from;
        match s.status {
            Status::Fail => {
                u.down_ms += span;
                covered += span;
                match u.outages.last_mut() {
                    Some(last) if last.1 == from => last.1 = to,
                    _ => u.outages.push((from, to)),
                }
            }
            Status::Pass | Status::Warn => {
                u.up_ms += span;
                covered += span;
            }
            Status::Maint => {
                u.maint_ms += span;
                covered += span;
                match u.maintenance.last_mut() {
                    Some(last) if last.1 == from => last.1 = to,
                    _ => u.maintenance.push((from, to)),
                }
            }
            Status::Unknown | Status::Skip => {}
        }
    }
    u.missing_ms = (end - start) - covered;
    u
}

/// What one span (a day) of a check's samples adds up to: enough to
/// answer every [`Stat`] without the samples. The store computes it in
/// SQL over an index range (a month of minutely samples is 30 rows, not
/// 43,000), or by folding samples ([`Tally::add`]) where the value lives
/// in a per-result blob; both paths meet here, so a report reads the
/// same whichever way its numbers came.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Samples with a value.
    pub n: u64,
    pub sum: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The latest sample with a value: `(ms, value)`.
    pub last: Option<(i64, f64)>,
    /// Not failed (pass or warn), of `counted` (pass, warn or fail;
    /// unknown results are left out).
    pub ok: u64,
    pub counted: u64,
}

impl Tally {
    /// Folds in one sample (samples come oldest first).
    pub fn add(&mut self, s: &Sample) {
        if matches!(s.status, Status::Pass | Status::Warn | Status::Fail) {
            self.counted += 1;
            if s.status != Status::Fail {
                self.ok += 1;
            }
        }
        if let Some(v) = s.value {
            self.n += 1;
            self.sum += v;
            self.min = Some(self.min.map_or(v, |m| m.min(v)));
            self.max = Some(self.max.map_or(v, |m| m.max(v)));
            if self.last.is_none_or(|(ms, _)| s.ms >= ms) {
                self.last = Some((s.ms, v));
            }
        }
    }

    /// Adds another span's tally (of other days, or of another series of
    /// the same check).
    pub fn merge(&mut self, o: &Tally) {
        self.n += o.n;
        self.sum += o.sum;
        self.min = match (self.min, o.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, o.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if let Some((ms, v)) = o.last
            && self.last.is_none_or(|(m, _)| ms >= m)
        {
            self.last = Some((ms, v));
        }
        self.ok += o.ok;
        self.counted += o.counted;
    }

    /// The tally of `samples`.
    pub fn of(samples: &[Sample]) -> Tally {
        let mut t = Tally::default();
        samples.iter().for_each(|s| t.add(s));
        t
    }

    /// `(not failed, counted)`, or `None` when nothing was counted.
    pub fn success(&self) -> Option<(usize, usize)> {
        (self.counted > 0).then_some((self.ok as usize, self.counted as usize))
    }

    /// This span's number by `stat`; a sum's is its last value (a
    /// `window: today` count's total so far).
    fn value(&self, stat: Stat) -> Option<f64> {
        match stat {
            Stat::Avg => (self.n > 0).then(|| self.sum / self.n as f64),
            Stat::Max => self.max,
            Stat::Min => self.min,
            Stat::Last | Stat::Sum => self.last.map(|(_, v)| v),
            Stat::Success => self.success().map(|(ok, n)| ok as f64 / n as f64 * 100.0),
        }
    }
}

/// One number for a period from its days' tallies, by `stat`. A sum adds
/// each day's last value; everything else reads the days merged.
pub fn stat_of_days(days: &[Tally], stat: Stat) -> Option<f64> {
    if stat == Stat::Sum {
        let lasts: Vec<f64> = days.iter().filter_map(|d| d.value(Stat::Sum)).collect();
        return (!lasts.is_empty()).then(|| lasts.iter().sum());
    }
    let mut all = Tally::default();
    days.iter().for_each(|d| all.merge(d));
    all.value(stat)
}

/// Each day's number by `stat` (a sum's day is its last value); `None`
/// for a day with no sample.
pub fn day_values(days: &[Tally], stat: Stat) -> Vec<Option<f64>> {
    days.iter().map(|d| d.value(stat)).collect()
}

/// One number for the samples' values, by `stat`; `day_bounds` splits a
/// sum into days.
pub fn stat(samples: &[Sample], stat: Stat, day_bounds: &[(i64, i64)]) -> Option<f64> {
    if stat == Stat::Sum {
        return stat_of_days(&tally_days(samples, day_bounds), stat);
    }
    Tally::of(samples).value(stat)
}

/// `(not failed, counted)`: unknown results are left out.
pub fn success(samples: &[Sample]) -> Option<(usize, usize)> {
    Tally::of(samples).success()
}

/// The tally of each `[start, end)` bound over samples sorted by time.
pub fn tally_days(samples: &[Sample], bounds: &[(i64, i64)]) -> Vec<Tally> {
    bounds
        .iter()
        .map(|(a, b)| {
            let from = samples.partition_point(|x| x.ms < *a);
            let to = samples.partition_point(|x| x.ms < *b);
            Tally::of(&samples[from.min(to)..to])
        })
        .collect()
}

/// The stat of each `[start, end)` bucket (days of a period); `None` for
/// a bucket with no sample. A sum's bucket is the day's last sample.
pub fn buckets(samples: &[Sample], s: Stat, bounds: &[(i64, i64)]) -> Vec<Option<f64>> {
    day_values(&tally_days(samples, bounds), s)
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// `▁▂▃▄▅▆▇█` scaled from the lowest to the highest value shown; `·`
/// where there is no data; a flat series is drawn mid-height.
pub fn sparkline(values: &[Option<f64>]) -> String {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let (Some(lo), Some(hi)) = (
        present.iter().copied().reduce(f64::min),
        present.iter().copied().reduce(f64::max),
    ) else {
        return "·".repeat(values.len());
    };
    values
        .iter()
        .map(|v| match v {
            None => '·',
            Some(_) if hi - lo < f64::EPSILON * hi.abs().max(1.0) => BARS[3],
            Some(x) => {
                let i = ((x - lo) / (hi - lo) * 7.0).round() as usize;
                BARS[i.min(7)]
            }
        })
        .collect()
}

/// At most `n` points: consecutive samples averaged into equal groups, so
/// a month of 5-minute samples fits on one line.
pub fn resample(values: &[f64], n: usize) -> Vec<Option<f64>> {
    if values.len() <= n || n == 0 {
        return values.iter().map(|v| Some(*v)).collect();
    }
    (0..n)
        .map(|i| {
            let a = i * values.len() / n;
            let b = ((i + 1) * values.len() / n).max(a + 1);
            let g = &values[a..b];
            Some(g.iter().sum::<f64>() / g.len() as f64)
        })
        .collect()
}

/// What the trend says about a limit.
#[derive(Clone, Debug, PartialEq)]
pub enum Forecast {
    /// Fewer than two samples, or all at one instant (or under a day apart).
    Insufficient,
    /// The latest sample is already at or past the limit.
    Reached { last: f64 },
    /// The fitted line reaches the limit at `at_ms`, within the horizon.
    Crosses { at_ms: i64, per_day: f64, last: f64 },
    /// Not within the horizon (flat, moving away, or too slow).
    NotWithin { per_day: f64, last: f64 },
}

/// The running sums a least-squares line needs, so the store can add
/// them up in SQL over 90 days of samples and hand over one row.
/// `x` is days from the reference instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FitSums {
    pub n: f64,
    pub sx: f64,
    pub sy: f64,
    pub sxx: f64,
    pub sxy: f64,
    /// The first and the latest point's time (ms).
    pub first_ms: Option<i64>,
    /// The latest point: `(ms, value)`.
    pub last: Option<(i64, f64)>,
}

impl FitSums {
    /// The sums of `points` (oldest first) about `ref_ms`.
    pub fn of(points: &[(i64, f64)], ref_ms: i64) -> FitSums {
        let mut f = FitSums::default();
        for &(t, y) in points {
            let x = (t - ref_ms) as f64 / DAY_MS;
            f.n += 1.0;
            f.sx += x;
            f.sy += y;
            f.sxx += x * x;
            f.sxy += x * y;
        }
        f.first_ms = points.first().map(|p| p.0);
        f.last = points.last().copied();
        f
    }

    /// `(per_day, intercept_at_ref)` of the least-squares line, or `None`
    /// for fewer than two points or all at one instant.
    pub fn line(&self) -> Option<(f64, f64)> {
        if self.n < 2.0 {
            return None;
        }
        let (mx, my) = (self.sx / self.n, self.sy / self.n);
        // Centred sums from raw ones: x spans at most a few hundred days,
        // so nothing cancels that an f64 would notice.
        let sxx = self.sxx - self.n * mx * mx;
        if sxx <= 1e-9 * self.sxx.max(1.0) {
            return None;
        }
        let slope = (self.sxy - self.n * mx * my) / sxx;
        Some((slope, my - slope * mx))
    }
}

/// Least-squares line through `(ms, value)` points; returns `(per_day, intercept_at_ref)`.
pub fn fit(points: &[(i64, f64)], ref_ms: i64) -> Option<(f64, f64)> {
    FitSums::of(points, ref_ms).line()
}

/// When the trend of `points` reaches `limit`, looking `horizon_ms` past
/// `ref_ms`. `rising` says which way is bad: usage grows toward its limit,
/// free space (or days left) shrinks toward it.
pub fn forecast(
    points: &[(i64, f64)],
    limit: f64,
    rising: bool,
    ref_ms: i64,
    horizon_ms: i64,
) -> Forecast {
    forecast_sums(
        &FitSums::of(points, ref_ms),
        limit,
        rising,
        ref_ms,
        horizon_ms,
    )
}

/// [`forecast`] from the points' sums (taken about `ref_ms`).
pub fn forecast_sums(
    sums: &FitSums,
    limit: f64,
    rising: bool,
    ref_ms: i64,
    horizon_ms: i64,
) -> Forecast {
    let Some((last_ms, last)) = sums.last else {
        return Forecast::Insufficient;
    };
    let span = last_ms - sums.first_ms.unwrap_or(last_ms);
    if (rising && last >= limit) || (!rising && last <= limit) {
        return Forecast::Reached { last };
    }
    if (span as f64) < DAY_MS {
        return Forecast::Insufficient;
    }
    let Some((per_day, at_ref)) = sums.line() else {
        return Forecast::Insufficient;
    };
    let toward = if rising { per_day > 0.0 } else { per_day < 0.0 };
    if !toward {
        return Forecast::NotWithin { per_day, last };
    }
    let days = (limit - at_ref) / per_day;
    let at_ms = ref_ms + (days.max(0.0) * DAY_MS) as i64;
    if at_ms - ref_ms <= horizon_ms {
        Forecast::Crosses {
            at_ms,
            per_day,
            last,
        }
    } else {
        Forecast::NotWithin { per_day, last }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn s(ms: i64, status: Status) -> Sample {
        Sample {
            ms,
            status,
            value: None,
            until: None,
        }
    }

    fn v(ms: i64, value: f64) -> Sample {
        Sample {
            ms,
            status: Status::Pass,
            value: Some(value),
            until: None,
        }
    }

    #[test]
    fn uptime_is_time_weighted() {
        // Hourly samples over 10 hours, one failed: down for that hour.
        let mut xs: Vec<Sample> = (0..10).map(|i| s(i * H, Status::Pass)).collect();
        xs[4].status = Status::Fail;
        let u = uptime(&xs, 0, 10 * H, 2 * H);
        assert_eq!(u.down_ms, H);
        assert_eq!(u.up_ms, 9 * H);
        assert_eq!(u.missing_ms, 0);
        assert_eq!(u.outages, vec![(4 * H, 5 * H)]);
        assert!((u.ratio().unwrap() - 0.9).abs() < 1e-9);
    }

    #[test]
    fn planned_stops_are_out_of_the_ratio_and_listed() {
        // Hourly over 10 hours: 2 hours in maintenance, 1 down.
        let mut xs: Vec<Sample> = (0..10).map(|i| s(i * H, Status::Pass)).collect();
        xs[2].status = Status::Maint;
        xs[3].status = Status::Maint;
        xs[7].status = Status::Fail;
        let u = uptime(&xs, 0, 10 * H, 2 * H);
        assert_eq!(u.maint_ms, 2 * H);
        assert_eq!(u.maintenance, vec![(2 * H, 4 * H)]);
        assert_eq!(u.down_ms, H);
        assert_eq!(u.missing_ms, 0);
        // 7 up of 8 measured: the planned stop is neither up nor down.
        assert!((u.ratio().unwrap() - 7.0 / 8.0).abs() < 1e-9);
    }

    #[test]
    fn a_planned_stop_ends_with_its_window() {
        // A once-a-day check (09:00) that ran inside a 09:00–10:00 window:
        // one hour of 計画停止, then nothing measured until the next day's
        // run — not a day of planned stop.
        let day = 24 * H;
        let mut xs = vec![
            s(0, Status::Pass),
            s(day, Status::Maint),
            s(2 * day, Status::Pass),
        ];
        xs[1].until = Some(day + H);
        let u = uptime(&xs, 0, 3 * day, 2 * day);
        assert_eq!(u.maint_ms, H);
        assert_eq!(u.maintenance, vec![(day, day + H)]);
        assert_eq!(u.up_ms, 2 * day);
        assert_eq!(u.missing_ms, day - H);
        // Carried into a period that starts after the window: nothing.
        let u = uptime(&xs[1..2], day + 2 * H, 2 * day, 2 * day);
        assert_eq!((u.maint_ms, u.missing_ms), (0, day - 2 * H));
        // Recorded before the window's end was kept (schema 6): as before.
        xs[1].until = None;
        assert_eq!(uptime(&xs, 0, 3 * day, 2 * day).maint_ms, day);
    }

    #[test]
    fn gaps_longer_than_max_gap_are_missing_not_up() {
        // Samples at 0h and 1h, then nothing until 9h: after 1h+max_gap(2h)
        // nothing is known.
        let xs = vec![
            s(0, Status::Pass),
            s(H, Status::Pass),
            s(9 * H, Status::Pass),
        ];
        let u = uptime(&xs, 0, 10 * H, 2 * H);
        assert_eq!(u.up_ms, H + 2 * H + H);
        assert_eq!(u.missing_ms, 6 * H);
        assert_eq!(u.ratio(), Some(1.0));
    }

    #[test]
    fn a_sample_before_the_period_carries_in_and_unknown_is_missing() {
        let xs = vec![
            s(-H / 2, Status::Fail),
            s(H, Status::Unknown),
            s(2 * H, Status::Pass),
        ];
        let u = uptime(&xs, 0, 3 * H, 2 * H);
        assert_eq!(u.down_ms, H);
        assert_eq!(u.missing_ms, H);
        assert_eq!(u.up_ms, H);
        assert_eq!(u.outages, vec![(0, H)]);
        // Consecutive failures merge into one outage.
        let xs = vec![
            s(0, Status::Fail),
            s(H, Status::Fail),
            s(2 * H, Status::Pass),
        ];
        assert_eq!(uptime(&xs, 0, 3 * H, 2 * H).outages, vec![(0, 2 * H)]);
        assert_eq!(uptime(&[], 0, H, H).ratio(), None);
    }

    #[test]
    fn max_gap_defaults_to_twice_the_median_interval() {
        let xs: Vec<Sample> = (0..5).map(|i| s(i * 5 * MINUTE_MS, Status::Pass)).collect();
        assert_eq!(default_max_gap(&xs), 10 * MINUTE_MS);
        assert_eq!(default_max_gap(&xs[..1]), 60 * MINUTE_MS);
    }

    #[test]
    fn stats_and_sum_by_day() {
        let xs = vec![v(0, 10.0), v(H, 30.0), v(25 * H, 20.0)];
        let days = [(0, 24 * H), (24 * H, 48 * H), (48 * H, 72 * H)];
        assert_eq!(stat(&xs, Stat::Avg, &days), Some(20.0));
        assert_eq!(stat(&xs, Stat::Max, &days), Some(30.0));
        assert_eq!(stat(&xs, Stat::Min, &days), Some(10.0));
        assert_eq!(stat(&xs, Stat::Last, &days), Some(20.0));
        // Day 1's last sample (30) + day 2's (20); day 3 has none.
        assert_eq!(stat(&xs, Stat::Sum, &days), Some(50.0));
        assert_eq!(
            buckets(&xs, Stat::Avg, &days),
            vec![Some(20.0), Some(20.0), None]
        );
        assert_eq!(stat(&[], Stat::Avg, &days), None);
        let mut ys = xs.clone();
        ys[1].status = Status::Fail;
        ys.push(s(2 * H, Status::Unknown));
        assert_eq!(success(&ys), Some((2, 3)));
    }

    #[test]
    fn sparklines() {
        assert_eq!(sparkline(&[Some(0.0), Some(7.0), None, Some(3.5)]), "▁█·▅");
        assert_eq!(sparkline(&[Some(5.0), Some(5.0)]), "▄▄");
        assert_eq!(sparkline(&[None, None]), "··");
        let r = resample(&(0..100).map(f64::from).collect::<Vec<_>>(), 10);
        assert_eq!(r.len(), 10);
        assert_eq!(r[0], Some(4.5));
    }

    #[test]
    fn forecast_crossing_and_not() {
        let day = DAY_MS as i64;
        // +1 point a day from 60, seen for 21 days: reaches 90 on day 30.
        let pts: Vec<(i64, f64)> = (0..21).map(|d| (d * day, 60.0 + d as f64)).collect();
        let end = 30 * day;
        match forecast(&pts, 90.0, true, 20 * day, 90 * day) {
            Forecast::Crosses { at_ms, per_day, .. } => {
                assert_eq!(at_ms, end);
                assert!((per_day - 1.0).abs() < 1e-9);
            }
            f => panic!("{f:?}"),
        }
        let pts: Vec<(i64, f64)> = (0..31).map(|d| (d * day, 60.0 + 0.1 * d as f64)).collect();
        assert!(matches!(
            forecast(&pts, 90.0, true, end, 90 * day),
            Forecast::NotWithin { .. }
        ));
        let pts: Vec<(i64, f64)> = (0..31).map(|d| (d * day, 60.0 - 0.1 * d as f64)).collect();
        assert!(matches!(
            forecast(&pts, 90.0, true, end, 90 * day),
            Forecast::NotWithin { .. }
        ));
        assert_eq!(
            forecast(&[(0, 95.0)], 90.0, true, end, day),
            Forecast::Reached { last: 95.0 }
        );
        assert_eq!(
            forecast(&[(0, 50.0), (H, 51.0)], 90.0, true, end, day),
            Forecast::Insufficient
        );
        // Lower is worse: free space shrinking toward 10.
        let pts: Vec<(i64, f64)> = (0..11).map(|d| (d * day, 30.0 - d as f64)).collect();
        assert!(matches!(
            forecast(&pts, 10.0, false, 10 * day, 90 * day),
            Forecast::Crosses { .. }
        ));
    }
}
