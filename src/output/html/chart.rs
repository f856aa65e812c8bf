//! The charts of a weekly or monthly HTML report, each a [`Plot`] built
//! from what history computed for the text report ([`PeriodSummary`]):
//!
//! - 日別稼働率: one bar per day, the day's time split into 稼働 (up),
//!   計画停止 (maintenance), 停止 (down) and 欠測 (not measured), so a
//!   planned stop reads differently from an outage;
//! - each trend line's days against its 警告閾値/異常閾値 rules;
//! - each capacity forecast: the daily averages of its window, the
//!   fitted trend carried on to the limit (or to the horizon).
//!
//! Words and numbers are the report's (`report::ja_value`, the same
//! 稼働率 rounding); a chart only draws them.

use chrono::{NaiveDate, TimeZone};

use super::page::esc;
use super::svg::{Mark, Plot, nice_ticks};
use crate::history::aggregation::{Forecast, Uptime};
use crate::history::period::Period;
use crate::history::summary::{ForecastLine, PeriodSummary, TrendLine, UptimeLine};
use crate::output::report::{Line, ja_duration, ja_value, uptime_percent};
use crate::values::Stat;

const DAY_MS: f64 = 86_400_000.0;

/// The charts that go with a report section's `lines`: the 稼働率 chart
/// beside the 稼働率 line, a trend chart beside each line history gave a
/// trend, a forecast chart beside each 容量予測 line.
pub(crate) fn for_section(
    sum: &PeriodSummary,
    p: &Period,
    section: &str,
    lines: &[Line],
) -> Vec<String> {
    let mut out = Vec::new();
    for l in lines.iter().filter(|l| !l.label.is_empty()) {
        if l.label == "稼働率"
            && let Some(u) = &sum.uptime
        {
            out.extend(uptime(u, p));
        } else if section == "容量予測" {
            if let Some(f) = sum.forecasts.iter().find(|f| f.label == l.label) {
                out.extend(forecast(f, p));
            }
        } else if let Some(t) = sum
            .sections
            .iter()
            .flat_map(|(_, ls)| ls)
            .find(|t| t.label == l.label)
        {
            out.extend(trend(t, p));
        }
    }
    out
}

/// `<figure>` with its caption, the chart and, when given, a legend of
/// `(css colour variable, words)`.
fn figure(caption: &str, wide: bool, plot: &Plot, legend: &[(&str, &str)]) -> String {
    let mut out = format!(
        "<figure{}>\n<figcaption>{}</figcaption>\n{}\n",
        if wide { " class=\"wide\"" } else { "" },
        esc(caption),
        plot.svg()
    );
    if !legend.is_empty() {
        out.push_str("<ul class=\"legend\">");
        for (colour, words) in legend {
            out.push_str(&format!(
                "<li style=\"--c:var(--{colour})\">{}</li>",
                esc(words)
            ));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</figure>\n");
    out
}

fn md(d: NaiveDate) -> String {
    d.format("%-m/%-d").to_string()
}

/// Labels for `n` days: every day for a week, every few days for a month.
fn day_ticks(days: &[NaiveDate]) -> Vec<(f64, String)> {
    let step = days.len().div_ceil(8).max(1);
    days.iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0)
        .map(|(i, d)| (i as f64 + 0.5, md(*d)))
        .collect()
}

/// 日別稼働率: the day's time as stacked shares.
fn uptime(u: &UptimeLine, p: &Period) -> Option<String> {
    let days: Vec<NaiveDate> = p.days().into_iter().map(|(d, _, _)| d).collect();
    if u.days.is_empty() || u.days.len() != days.len() {
        return None;
    }
    let mut marks = Vec::new();
    for (i, (d, day)) in days.iter().zip(&u.days).enumerate() {
        let total = (day.up_ms + day.down_ms + day.maint_ms + day.missing_ms).max(1) as f64;
        let (x0, x1) = (i as f64 + 0.18, i as f64 + 0.82);
        let mut y = 0.0;
        let tip = day_tip(*d, day);
        for (ms, class) in [
            (day.up_ms, "pass"),
            (day.maint_ms, "maint"),
            (day.down_ms, "fail"),
            (day.missing_ms, "missing"),
        ] {
            if ms <= 0 {
                continue;
            }
            let share = ms as f64 / total * 100.0;
            marks.push(Mark::Bar {
                x0,
                x1,
                y0: y,
                y1: y + share,
                class,
                tip: tip.clone(),
            });
            y += share;
        }
        // A week's bars are wide enough to carry their number.
        if days.len() <= 10 {
            marks.push(Mark::Label {
                x: i as f64 + 0.5,
                y: 100.0,
                text: day
                    .ratio()
                    .map(|r| format!("{}%", uptime_percent(r)))
                    .unwrap_or_else(|| "—".into()),
            });
        }
    }
    let plot = Plot {
        title: format!("日別稼働率（{}）", u.label),
        // One column like the others: a wide box would shrink its
        // labels to nothing on a phone.
        wide: false,
        x: (0.0, days.len() as f64),
        y: (0.0, 112.0),
        x_ticks: day_ticks(&days),
        y_ticks: [0.0, 25.0, 50.0, 75.0, 100.0]
            .iter()
            .map(|v| (*v, format!("{v}%")))
            .collect(),
        marks,
    };
    Some(figure(
        &plot.title,
        false,
        &plot,
        &[
            ("pass", "稼働"),
            ("maint", "計画停止"),
            ("fail", "停止"),
            ("line", "欠測"),
        ],
    ))
}

/// `10/23: 稼働率 75%（停止 6時間）`.
fn day_tip(d: NaiveDate, u: &Uptime) -> String {
    let mut parts = Vec::new();
    for (ms, word) in [
        (u.down_ms, "停止"),
        (u.maint_ms, "計画停止"),
        (u.missing_ms, "欠測"),
    ] {
        if ms >= 60_000 {
            parts.push(format!("{word} {}", ja_duration(ms)));
        }
    }
    let ratio = u
        .ratio()
        .map(|r| format!("稼働率 {}%", uptime_percent(r)))
        .unwrap_or_else(|| "稼働率 データなし".into());
    if parts.is_empty() {
        format!("{}: {ratio}", md(d))
    } else {
        format!("{}: {ratio}（{}）", md(d), parts.join("・"))
    }
}

/// A y range and ticks for `values` and the `limits` that are near them:
/// a limit far from the data (a 1,000MB limit for a 40MB database) would
/// flatten the line; it is named in the caption instead.
fn y_axis(values: &[f64], limits: &[f64], percent: bool) -> ((f64, f64), Vec<f64>, Vec<bool>) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = (hi - lo).max(hi.abs() * 0.2).max(1e-9);
    let near: Vec<bool> = limits
        .iter()
        .map(|l| *l >= lo - 2.0 * span && *l <= hi + 2.0 * span)
        .collect();
    let (mut lo, mut hi) = (lo, hi);
    for (l, n) in limits.iter().zip(&near) {
        if *n {
            lo = lo.min(*l);
            hi = hi.max(*l);
        }
    }
    let pad = (hi - lo) * 0.08;
    let (mut lo, mut hi) = (lo - pad, hi + pad);
    if values.iter().all(|v| *v >= 0.0) {
        lo = lo.max(0.0);
    }
    if percent {
        hi = hi.min(100.0);
        lo = lo.min(hi - 1.0);
    }
    let ((a, b), ticks) = nice_ticks(lo, hi, 4);
    let (a, b) = if percent {
        (a.max(0.0), b.min(100.0))
    } else {
        (a, b)
    };
    let ticks = ticks.into_iter().filter(|t| *t >= a && *t <= b).collect();
    ((a, b), ticks, near)
}

/// A trend line's days against its limits.
fn trend(l: &TrendLine, p: &Period) -> Option<String> {
    if l.stat == Stat::Success || l.days.iter().all(Option::is_none) {
        return None;
    }
    let days: Vec<NaiveDate> = p.days().into_iter().map(|(d, _, _)| d).collect();
    let v = |x: f64| ja_value(x, &l.unit, &l.unit_label);
    let values: Vec<f64> = l.days.iter().flatten().copied().collect();
    let limits: Vec<(f64, &'static str, &str)> =
        [(l.warn, "warn", "警告閾値"), (l.fail, "fail", "異常閾値")]
            .into_iter()
            .filter_map(|(x, c, w)| Some((x?, c, w)))
            .collect();
    let percent = l.unit == "%" || l.unit_label == "%";
    let (y, ticks, near) = y_axis(
        &values,
        &limits.iter().map(|(x, _, _)| *x).collect::<Vec<_>>(),
        percent,
    );
    let points: Vec<Option<(f64, f64)>> = l
        .days
        .iter()
        .enumerate()
        .map(|(i, d)| d.map(|v| (i as f64 + 0.5, v)))
        .collect();
    let mut marks = Vec::new();
    let mut far = Vec::new();
    for ((x, class, word), near) in limits.iter().zip(&near) {
        if *near {
            marks.push(Mark::Rule {
                y: *x,
                class,
                label: format!("{word} {}", v(*x)),
            });
        } else {
            far.push(format!("{word} {}", v(*x)));
        }
    }
    marks.push(Mark::Line {
        points: points.clone(),
        class: "series",
    });
    for (i, pt) in points.iter().enumerate() {
        if let Some((x, y)) = pt {
            marks.push(Mark::Dot {
                x: *x,
                y: *y,
                class: "dot",
                tip: format!(
                    "{}: {}",
                    days.get(i).map(|d| md(*d)).unwrap_or_default(),
                    v(*y)
                ),
            });
        }
    }
    let mut caption = l.label.clone();
    if !far.is_empty() {
        caption.push_str(&format!("（{}: 範囲外）", far.join("・")));
    }
    let plot = Plot {
        title: l.label.clone(),
        wide: false,
        x: (0.0, l.days.len().max(days.len()) as f64),
        y,
        x_ticks: day_ticks(&days),
        y_ticks: ticks.into_iter().map(|t| (t, v(t))).collect(),
        marks,
    };
    Some(figure(&caption, false, &plot, &[]))
}

/// A capacity forecast: the window's daily averages, the limit, and the
/// trend carried on to where it reaches the limit (or to the horizon).
fn forecast(f: &ForecastLine, p: &Period) -> Option<String> {
    if f.points.is_empty() {
        return None;
    }
    let end = p.end.timestamp_millis();
    let day = |ms: i64| (ms - end) as f64 / DAY_MS;
    let v = |x: f64| ja_value(x, &f.unit, &f.unit_label);
    let pts: Vec<(f64, f64)> = f.points.iter().map(|(ms, y)| (day(*ms), *y)).collect();
    let (first, last) = (pts[0], pts[pts.len() - 1]);
    let mut marks = Vec::new();
    // The projection's two ends, and where it meets the limit.
    let (projection, reach) = match (&f.forecast, f.limit) {
        (Forecast::Crosses { at_ms, per_day, .. }, Some(limit)) => {
            let at = day(*at_ms);
            let at_first = limit + per_day * (first.0 - at);
            (
                Some(((first.0, at_first), (at, limit))),
                Some((at, limit, *at_ms)),
            )
        }
        (Forecast::NotWithin { per_day, last: lv }, _) => {
            let h = f.horizon_days as f64;
            (
                Some(((last.0, *lv), (h, lv + per_day * (h - last.0)))),
                None,
            )
        }
        _ => (None, None),
    };
    let mut ys: Vec<f64> = pts.iter().map(|(_, y)| *y).collect();
    if let Some((a, b)) = projection {
        ys.extend([a.1, b.1]);
    }
    let limits: Vec<f64> = f.limit.into_iter().collect();
    let percent = f.unit == "%" || f.unit_label == "%";
    let (y, ticks, near) = y_axis(&ys, &limits, percent);
    let mut caption = format!("{} 容量予測", f.label);
    if let Some(l) = f.limit {
        if near.first().copied().unwrap_or(false) {
            marks.push(Mark::Rule {
                y: l,
                class: "fail",
                label: format!("閾値 {}", v(l)),
            });
        } else {
            caption.push_str(&format!("（閾値 {}: 範囲外）", v(l)));
        }
    }
    marks.push(Mark::Line {
        points: pts.iter().map(|p| Some(*p)).collect(),
        class: "series",
    });
    if let Some((a, b)) = projection {
        marks.push(Mark::Line {
            points: vec![Some(a), Some(b)],
            class: "projection",
        });
    }
    let x_hi = projection.map(|(_, b)| b.0).unwrap_or(last.0).max(last.0);
    if let Some((at, limit, at_ms)) = reach {
        let date =
            p.tz.timestamp_millis_opt(at_ms)
                .single()
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
        marks.push(Mark::Dot {
            x: at,
            y: limit,
            class: "mark",
            tip: format!("{date}頃に{}到達予測", v(limit)),
        });
    }
    let ((xa, xb), xt) = nice_ticks(first.0, x_hi, 5);
    let x_ticks = xt
        .into_iter()
        .filter(|t| *t >= first.0 - 0.5 && *t <= x_hi + 0.5)
        .map(|t| {
            let ms = end + (t * DAY_MS) as i64;
            let label =
                p.tz.timestamp_millis_opt(ms)
                    .single()
                    .map(|d| md(d.date_naive()))
                    .unwrap_or_default();
            (t, label)
        })
        .collect();
    let plot = Plot {
        title: caption.clone(),
        wide: false,
        x: (xa.max(first.0 - 1.0), xb.min(x_hi + 1.0)),
        y,
        x_ticks,
        y_ticks: ticks.into_iter().map(|t| (t, v(t))).collect(),
        marks,
    };
    Some(figure(&caption, false, &plot, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{PeriodKind, Zone};

    fn week() -> Period {
        let now = chrono::DateTime::parse_from_rfc3339("2025-10-28T10:00:00+09:00").unwrap();
        let p = Period::week(
            NaiveDate::from_ymd_opt(2025, 10, 27).unwrap(),
            Zone::default(),
            now,
        );
        assert_eq!(p.kind, PeriodKind::Weekly);
        p
    }

    /// A planned stop is its own colour and its own words, never an outage.
    #[test]
    fn maintenance_is_drawn_apart_from_outages() {
        let p = week();
        let hour = 3_600_000;
        let mut days = vec![
            Uptime {
                up_ms: 24 * hour,
                ..Default::default()
            };
            7
        ];
        days[2] = Uptime {
            up_ms: 20 * hour,
            maint_ms: 2 * hour,
            down_ms: hour,
            missing_ms: hour,
            ..Default::default()
        };
        let u = UptimeLine {
            label: "ヘルスチェック".into(),
            uptime: Uptime::default(),
            days,
        };
        let fig = uptime(&u, &p).expect("a chart");
        assert_eq!(fig.matches("class=\"bar pass\"").count(), 7, "{fig}");
        assert_eq!(fig.matches("class=\"bar maint\"").count(), 1, "{fig}");
        assert_eq!(fig.matches("class=\"bar fail\"").count(), 1, "{fig}");
        assert!(
            fig.contains("10/23: 稼働率 95.2%（停止 1時間・計画停止 2時間・欠測 1時間）"),
            "{fig}"
        );
        assert!(fig.contains(">計画停止</li>") && fig.contains(">停止</li>"));
    }

    /// A trend against its limits: both rules drawn when near the data; a
    /// far one named in the caption instead of flattening the line.
    #[test]
    fn trends_draw_their_limits_or_name_the_far_ones() {
        let p = week();
        let line = |warn, fail| TrendLine {
            label: "平均CPU使用率".into(),
            stat: Stat::Avg,
            unit: "%".into(),
            unit_label: String::new(),
            value: Some(50.0),
            max: None,
            previous: None,
            spark: String::new(),
            days: vec![
                Some(60.0),
                None,
                Some(70.0),
                Some(85.0),
                Some(65.0),
                Some(60.0),
                Some(62.0),
            ],
            warn,
            fail,
            success: None,
        };
        let fig = trend(&line(Some(80.0), Some(90.0)), &p).unwrap();
        assert!(
            fig.contains(">警告閾値 80%</text>") && fig.contains(">異常閾値 90%</text>"),
            "{fig}"
        );
        // The missing day lifts the pen.
        assert_eq!(fig.matches(" M").count(), 1, "{fig}");
        let fig = trend(&line(Some(800.0), None), &p).unwrap();
        assert!(
            fig.contains("平均CPU使用率（警告閾値 800%: 範囲外）"),
            "{fig}"
        );
        assert!(!fig.contains("rule warn"), "{fig}");
    }
}
