//! `report`: the Japanese operations report of SPEC §6, in the shape the
//! seed's operators type by hand (seed 000): 【日次運用レポート】 with ■
//! sections in the order of their first check, then 特記事項 and 対応事項;
//! weekly and monthly reports add what history says (稼働率, trends,
//! 容量予測). A pure function of a [`RunRecord`] and a [`PeriodSummary`].

use chrono::{DateTime, FixedOffset, TimeZone};

use crate::check::{Role, has_role};
use crate::history::ResultRecord;
use crate::history::RunRecord;
use crate::history::aggregation::Forecast;
use crate::history::incidents::IncidentRecord;
use crate::history::period::Period;
use crate::history::summary::{ForecastLine, PeriodSummary, TrendLine};
use crate::runbook::ReportSpec;
use crate::values::outcome::Status;
use crate::values::units::{Unit, format_bytes, trim_float};
use crate::values::{PeriodKind, Stat, Zone};

/// What a report is rendered from besides the run.
#[derive(Clone, Copy, Debug)]
pub struct ReportCtx<'a> {
    pub period: &'a Period,
    /// The document's name before レポート (`日次運用`, a runbook's title).
    pub heading: &'a str,
    pub spec: Option<&'a ReportSpec>,
    /// History lines (weekly/monthly); `None` for a daily report.
    pub summary: Option<&'a PeriodSummary>,
    /// Why history could not be read, when it could not.
    pub history_error: Option<&'a str>,
}

/// A report as data: what the text and the HTML formats both print, in
/// the words of this module. `sections` keep the order of their first
/// line; `notes` are 特記事項, `actions` 対応事項 (each empty when there
/// is nothing to say: the formats write 特になし).
#[derive(Clone, Debug, Default)]
pub(crate) struct ReportDoc {
    /// `【日次運用レポート】2025-10-21`.
    pub title: String,
    pub sections: Vec<Section>,
    pub notes: Vec<Note>,
    pub actions: Vec<String>,
}

/// One ■ section.
#[derive(Clone, Debug, Default)]
pub(crate) struct Section {
    pub name: String,
    pub lines: Vec<Line>,
}

/// One line of a section: `- {label}: {value} {spark}`, or, with no
/// label, `value` as it stands (`1. 2025-10-15 10:23: P4…`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Line {
    pub label: String,
    pub value: String,
    /// The sparkline of a trend (text only; HTML draws a chart).
    pub spark: String,
    /// The check's status, for a line of the run's own results.
    pub status: Option<Status>,
}

impl Line {
    fn of(label: impl Into<String>, value: impl Into<String>) -> Line {
        Line {
            label: label.into(),
            value: value.into(),
            ..Default::default()
        }
    }

    /// The line as the text report prints it.
    pub(crate) fn text(&self) -> String {
        let mut s = if self.label.is_empty() {
            self.value.clone()
        } else {
            format!("- {}: {}", self.label, self.value)
        };
        if !self.spark.is_empty() {
            s.push(' ');
            s.push_str(&self.spark);
        }
        s
    }
}

/// One 特記事項: `- [{tag}] {text}`, or `- {text}` with no tag.
#[derive(Clone, Debug, Default)]
pub(crate) struct Note {
    /// `警告`, `異常`, `停止`, `計画停止`.
    pub tag: Option<String>,
    /// The status the tag stands for (`停止` is a fail, `計画停止` maint).
    pub status: Option<Status>,
    pub text: String,
}

impl Note {
    pub(crate) fn line(&self) -> String {
        match &self.tag {
            Some(t) => format!("- [{t}] {}", self.text),
            None => format!("- {}", self.text),
        }
    }
}

/// Renders the report. `run` is the report's own run (just made, or the
/// latest one of the period in history); `None` when there is none.
pub fn render(run: Option<&RunRecord>, ctx: &ReportCtx) -> String {
    let d = doc(run, ctx);
    let mut out = format!("{}\n", d.title);
    for s in &d.sections {
        out.push_str(&format!("\n■ {}\n", s.name));
        for l in &s.lines {
            out.push_str(&l.text());
            out.push('\n');
        }
    }
    out.push_str("\n■ 特記事項\n");
    out.push_str(&or_none(
        &d.notes.iter().map(Note::line).collect::<Vec<_>>(),
    ));
    out.push_str("\n■ 対応事項\n");
    out.push_str(&or_none(
        &d.actions
            .iter()
            .map(|a| format!("- {a}"))
            .collect::<Vec<_>>(),
    ));
    out
}

/// The report as data (see [`ReportDoc`]): the one place its lines are
/// chosen and worded, for every format that prints it.
pub(crate) fn doc(run: Option<&RunRecord>, ctx: &ReportCtx) -> ReportDoc {
    let p = ctx.period;
    let mut sections: Vec<Section> = Vec::new();
    let push = |sections: &mut Vec<Section>, name: &str, line: Line| match sections
        .iter_mut()
        .find(|s| s.name == name)
    {
        Some(s) => s.lines.push(line),
        None => sections.push(Section {
            name: name.to_owned(),
            lines: vec![line],
        }),
    };

    let periodic = p.kind != PeriodKind::Daily;
    if periodic {
        let name = if p.kind == PeriodKind::Monthly {
            "サービス稼働状況"
        } else {
            "稼働状況"
        };
        for l in availability_lines(ctx) {
            push(&mut sections, name, l);
        }
        if let Some(s) = ctx.summary {
            for (name, lines) in &s.sections {
                for l in lines {
                    push(
                        &mut sections,
                        section_name(name, p.kind),
                        trend_text(l, p.kind),
                    );
                }
            }
        }
    }
    if let Some(run) = run {
        for r in run.results.iter().filter(|r| r.status != Status::Skip) {
            // Once per check: a line history already gave (the same
            // label with its trend) is not repeated from the run.
            if sections
                .iter()
                .any(|s| s.lines.iter().any(|l| l.label == r.label))
            {
                continue;
            }
            let held = pending_note(r)
                .map(|n| format!("（{n}）"))
                .unwrap_or_default();
            push(
                &mut sections,
                section_name(&r.section, p.kind),
                Line {
                    status: Some(r.status),
                    ..Line::of(r.label.clone(), format!("{}{held}", shown(r, ctx.spec)))
                },
            );
        }
    }
    if let Some(s) = ctx.summary.filter(|_| p.kind == PeriodKind::Monthly) {
        for f in &s.forecasts {
            push(&mut sections, "容量予測", forecast_text(f, p));
        }
        for (i, inc) in s.incidents.iter().enumerate() {
            push(
                &mut sections,
                "インシデントサマリー",
                Line::of("", incident_text(i + 1, inc, p.tz)),
            );
        }
    }

    let mut notes = run.map(note_list).unwrap_or_default();
    if periodic {
        if let Some(u) = ctx.summary.and_then(|s| s.uptime.as_ref()) {
            notes.extend(outage_notes(
                "停止",
                Status::Fail,
                &u.label,
                &u.uptime.outages,
                p.tz,
            ));
            notes.extend(outage_notes(
                "計画停止",
                Status::Maint,
                &u.label,
                &u.uptime.maintenance,
                p.tz,
            ));
        }
        if run.is_none() && ctx.history_error.is_none() {
            notes.push(Note {
                text: "期間内にこのランブックの実行記録なし".into(),
                ..Default::default()
            });
        }
    }
    if let Some(e) = ctx.history_error {
        notes.push(Note {
            text: format!("履歴を読めませんでした（{e}）"),
            ..Default::default()
        });
    }
    ReportDoc {
        title: format!("【{}レポート】{}", ctx.heading, p.label()),
        sections,
        notes,
        actions: run.map(actions).unwrap_or_default(),
    }
}

/// A section's heading in a report of `kind`: a day's 本日の実績 is the
/// week's or the month's 実績 in a weekly or monthly report.
fn section_name(name: &str, kind: PeriodKind) -> &str {
    match (name, kind) {
        (crate::check::sections::RESULTS, PeriodKind::Weekly) => "週間の実績",
        (crate::check::sections::RESULTS, PeriodKind::Monthly) => "月間の実績",
        _ => name,
    }
}

fn or_none(lines: &[String]) -> String {
    if lines.is_empty() {
        return "- 特になし\n".into();
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Whether a check's line shows its measured value (`65%`) or its status
/// (`正常`): `report.show_value`/`show_status` decide, else a measuring
/// kind with a number shows the number and a liveness check its status.
fn shows_value(r: &ResultRecord, spec: Option<&ReportSpec>) -> bool {
    if r.metric.is_none() {
        return false;
    }
    if let Some(s) = spec {
        if s.show_value.iter().any(|i| i.value == r.check_id) {
            return true;
        }
        if s.show_status.iter().any(|i| i.value == r.check_id) {
            return false;
        }
    }
    // Liveness and backup checks read as a status (正常/異常), measurements as a number.
    has_role(&r.kind, Role::Measurement)
}

pub(crate) fn shown(r: &ResultRecord, spec: Option<&ReportSpec>) -> String {
    match r.metric {
        Some(v) if shows_value(r, spec) => {
            let unit = match r.unit.as_deref().unwrap_or("") {
                "count" if counts_people(r) => "people",
                u => u,
            };
            let text = ja_value(v, unit, &r.unit_label);
            // `残り日数: 45日`, not `残り日数: 残り45日`.
            if r.label.contains("残り") {
                text.strip_prefix("残り").map(str::to_owned).unwrap_or(text)
            } else {
                text
            }
        }
        _ => r.status.ja().to_owned(),
    }
}

/// Whether the headline metric counts people (名) rather than requests
/// or events (件): unique clients and users.
fn counts_people(r: &ResultRecord) -> bool {
    let headline = r
        .metrics
        .iter()
        .find(|(_, v, _)| Some(*v) == r.metric)
        .map(|(n, _, _)| n.as_str())
        .unwrap_or("");
    matches!(headline, "unique_clients" | "users" | "unique_users")
}

/// `警告 1/3回・未確定` for a result `consecutive:` held back: what was
/// seen, how many in a row of how many count.
fn pending_note(r: &ResultRecord) -> Option<String> {
    let (seen, of) = r.pending?;
    let seen_as = r.observed.unwrap_or(Status::Warn);
    Some(format!("{} {seen}/{of}回・未確定", seen_as.ja()))
}

/// 特記事項 for the run as the text formats print them (`- [警告] …`).
pub fn notes(run: &RunRecord) -> Vec<String> {
    note_list(run).iter().map(Note::line).collect()
}

/// 特記事項 for the run: one per check that did not pass, observed vs
/// threshold when the headline threshold is what it breached, else the
/// check's one-line reason; a result `consecutive:` held back is listed
/// as 経過観察 with what was seen (it does not count yet, but the reader
/// should know it was seen).
pub(crate) fn note_list(run: &RunRecord) -> Vec<Note> {
    run.results
        .iter()
        .filter(|r| !matches!(r.status, Status::Pass | Status::Skip) || r.pending.is_some())
        .map(|r| {
            // `[経過観察] API応答: 異常 2/3回目（3回連続で判定）: …`
            let (tag, held) = match (r.pending, r.observed) {
                (Some((seen, of)), Some(o)) => (
                    "経過観察".to_owned(),
                    format!("{} {seen}/{of}回目（{of}回連続で判定）: ", o.ja()),
                ),
                _ => (r.status.ja().to_owned(), String::new()),
            };
            let status = r
                .observed
                .filter(|_| r.pending.is_some())
                .unwrap_or(r.status);
            let note = |text: String| Note {
                tag: Some(tag.clone()),
                status: Some(r.status),
                text,
            };
            let unit = r.unit.as_deref().unwrap_or("");
            let limit = match status {
                Status::Fail => r.fail_limit.map(|l| ("異常閾値", l)),
                Status::Warn => r.warn_limit.map(|l| ("警告閾値", l)),
                _ => None,
            };
            if let (Some(v), Some((word, l))) = (r.metric, limit)
                && !super::words::ja::starts_with_change(&r.message_ja)
                && r.message.contains(&unit_of(unit).format(l))
            {
                let sep = if held.is_empty() { " " } else { ": " };
                return note(format!(
                    "{}{sep}{held}{} ({word} {})",
                    r.label,
                    ja_value(v, unit, &r.unit_label),
                    ja_value(l, unit, &r.unit_label)
                ));
            }
            // Japanese words for the reasons; a result recorded before
            // they were kept shows its message; a result with no reason
            // its value in the report's words.
            let why = if !r.message_ja.is_empty() {
                r.message_ja.clone()
            } else if !r.message.is_empty() {
                r.message.clone()
            } else {
                shown(r, None)
            };
            note(format!("{}: {held}{why}", r.label))
        })
        .collect()
}

/// 対応事項: the hints of the checks that did not pass, each once.
fn actions(run: &RunRecord) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in &run.results {
        if matches!(r.status, Status::Pass | Status::Skip) {
            continue;
        }
        if let Some(h) = &r.hint
            && !out.contains(h)
        {
            out.push(h.clone());
        }
    }
    out
}

fn unit_of(symbol: &str) -> Unit {
    match symbol {
        "%" => Unit::Percent,
        "ms" => Unit::Millis,
        "B" => Unit::Bytes,
        "count" => Unit::Count,
        "days" => Unit::Days,
        _ => Unit::Number,
    }
}

/// `1234567` → `1,234,567` (the seeds write `3,600件`).
fn thousands(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map(|r| ("-", r)).unwrap_or(("", s));
    let (int, frac) = rest
        .split_once('.')
        .map(|(i, f)| (i, Some(f)))
        .unwrap_or((rest, None));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// The one rounding of percentages (`values::units::percent_text`):
/// the table and the report both say `3.5%`.
fn pct(v: f64) -> String {
    crate::values::units::percent_text(v)
}

/// A metric in the report's words: `65%`, `120件`, `1.2秒`, `350ms`,
/// `残り45日`, `48.2MB`, or a unitless value with its label (`5件`).
pub fn ja_value(v: f64, unit: &str, unit_label: &str) -> String {
    match unit {
        "%" => format!("{}%", pct(v)),
        "count" => format!("{}件", thousands(&trim_float(v, 2))),
        "ms" => ja_millis(v),
        "s" => ja_millis(v * 1000.0),
        "days" if v < 0.0 => format!("期限切れ（{}日経過）", trim_float((-v).ceil(), 0)),
        "days" => format!("残り{}日", trim_float(v.floor(), 0)),
        "people" => format!("{}名", thousands(&trim_float(v, 2))),
        "B" => format_bytes(v),
        _ if unit_label == "%" => format!("{}%", pct(v)),
        _ => format!("{}{unit_label}", thousands(&trim_float(v, 2))),
    }
}

fn ja_millis(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{}ms", trim_float(ms, 0))
    } else if ms < 60_000.0 {
        format!("{}秒", trim_float(ms / 1000.0, 1))
    } else {
        format!("{}分", trim_float(ms / 60_000.0, 1))
    }
}

/// `15分`, `2時間30分`, `3日`, `3日4時間` (SPEC §10.1: elapsed time over an
/// hour reads in hours and minutes).
pub(crate) fn ja_duration(ms: i64) -> String {
    let min = (ms as f64 / 60_000.0).round() as i64;
    if min < 48 * 60 {
        super::incident_report::elapsed(min)
    } else {
        match (min % 1440 + 30) / 60 {
            0 => format!("{}日", min / 1440),
            24 => format!("{}日", min / 1440 + 1),
            h => format!("{}日{h}時間", min / 1440),
        }
    }
}

/// A 稼働率 as the reports show it (`99.9`), rounded down: 99.96% with
/// 2 minutes down is not "100%".
pub(crate) fn uptime_percent(ratio: f64) -> String {
    trim_float((ratio * 1000.0).floor() / 10.0, 1)
}

/// 稼働率, ダウンタイム and インシデント数.
fn availability_lines(ctx: &ReportCtx) -> Vec<Line> {
    let mut out = Vec::new();
    let down_word = if ctx.period.kind == PeriodKind::Monthly {
        "総ダウンタイム"
    } else {
        "ダウンタイム"
    };
    match ctx.summary.and_then(|s| s.uptime.as_ref()) {
        Some(u) => match u.uptime.ratio() {
            Some(r) => {
                let shown = uptime_percent(r);
                // Planned stops and unmeasured time are out of the ratio;
                // the line says how much of each.
                let mut left_out = Vec::new();
                if u.uptime.maint_ms >= 60_000 {
                    left_out.push(format!("計画停止 {}", ja_duration(u.uptime.maint_ms)));
                }
                if u.uptime.missing_ms >= 60_000 {
                    left_out.push(format!("欠測 {}", ja_duration(u.uptime.missing_ms)));
                }
                let missing = if left_out.is_empty() {
                    String::new()
                } else {
                    format!(" ({}を除く)", left_out.join("・"))
                };
                out.push(Line::of("稼働率", format!("{shown}%{missing}")));
                let down = u.uptime.down_ms;
                let d = if down > 0 && down < 30_000 {
                    "1分未満".to_owned()
                } else if down >= 3_600_000 {
                    format!(
                        "{}分 ({})",
                        thousands(&trim_float((down as f64 / 60_000.0).round(), 0)),
                        ja_duration(down)
                    )
                } else {
                    format!("{}分", trim_float((down as f64 / 60_000.0).round(), 0))
                };
                out.push(Line::of(down_word, d));
            }
            None => {
                out.push(Line::of("稼働率", "データなし"));
                out.push(Line::of(down_word, "データなし"));
            }
        },
        None if ctx.summary.is_some() => {
            out.push(Line::of(
                "稼働率",
                "対象のヘルスチェックなし (report.uptime で指定)",
            ));
        }
        None => {
            out.push(Line::of("稼働率", "データなし"));
            out.push(Line::of(down_word, "データなし"));
        }
    }
    match ctx.summary {
        Some(s) => out.extend(incident_count_lines(&s.incidents)),
        None => out.push(Line::of("インシデント数", "データなし")),
    }
    out
}

/// `前週比 +3pt` (percentages compare in points) or `前週比 +12%`.
fn change_text(l: &TrendLine, kind: PeriodKind) -> Option<String> {
    let (cur, prev) = (l.value?, l.previous?);
    let word = kind.change_word();
    let signed = |s: String| {
        if s.starts_with('-') || s == "0" {
            if s == "0" { "±0".to_owned() } else { s }
        } else {
            format!("+{s}")
        }
    };
    if l.unit == "%" || l.unit_label == "%" {
        return Some(format!("{word} {}pt", signed(trim_float(cur - prev, 1))));
    }
    if prev.abs() < f64::EPSILON {
        let d = cur - prev;
        let v = ja_value(d.abs(), &l.unit, &l.unit_label);
        return Some(if d < 0.0 {
            format!("{word} -{v}")
        } else {
            format!("{word} +{v}")
        });
    }
    Some(format!(
        "{word} {}%",
        signed(trim_float((cur - prev) / prev.abs() * 100.0, 1))
    ))
}

fn trend_text(l: &TrendLine, kind: PeriodKind) -> Line {
    if l.stat == Stat::Success {
        return match l.success {
            Some((ok, n)) => Line::of(
                l.label.clone(),
                format!("成功 {ok}/{n}回 ({}%)", pct(ok as f64 / n as f64 * 100.0)),
            ),
            None => Line::of(l.label.clone(), "データなし"),
        };
    }
    let Some(v) = l.value else {
        return Line::of(l.label.clone(), "データなし");
    };
    let mut extras = Vec::new();
    if let Some(m) = l.max.filter(|m| (m - v).abs() > f64::EPSILON) {
        extras.push(format!("最大 {}", ja_value(m, &l.unit, &l.unit_label)));
    }
    if let Some(c) = change_text(l, kind) {
        extras.push(c);
    }
    let mut s = ja_value(v, &l.unit, &l.unit_label);
    if !extras.is_empty() {
        s.push_str(&format!(" ({})", extras.join(", ")));
    }
    Line {
        spark: l.spark.clone(),
        ..Line::of(l.label.clone(), s)
    }
}

fn local(ms: i64, tz: Zone) -> DateTime<FixedOffset> {
    tz.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.fixed_offset())
        .unwrap_or_default()
}

fn forecast_text(f: &ForecastLine, p: &Period) -> Line {
    let v = |x: f64| ja_value(x, &f.unit, &f.unit_label);
    let rate = |d: f64| {
        let pt = f.unit == "%" || f.unit_label == "%";
        let mag = if pt {
            format!("{}pt", trim_float(d.abs(), 2))
        } else {
            v(d.abs())
        };
        format!("{}{mag}/日", if d < 0.0 { "-" } else { "+" })
    };
    let body = match (&f.forecast, f.limit) {
        (_, None) => "閾値が不明のため予測なし (forecast.limit で指定)".to_owned(),
        (Forecast::Insufficient, _) => "データ不足 (1日以上離れた2件以上の記録が必要)".to_owned(),
        (Forecast::Reached { last }, Some(l)) => {
            format!("{} → 既に閾値 {} に到達", v(*last), v(l))
        }
        (
            Forecast::Crosses {
                at_ms,
                per_day,
                last,
            },
            Some(l),
        ) => {
            let at = local(*at_ms, p.tz);
            let days = ((*at_ms - p.end.timestamp_millis()) as f64 / 86_400_000.0).round();
            let months = days / 30.0;
            let when = if months >= 1.0 {
                format!("約{}ヶ月後", trim_float(months, 1))
            } else {
                format!("約{}日後", trim_float(days, 0))
            };
            format!(
                "{} → {}頃に{}到達予測 ({when}, {})",
                v(*last),
                at.format("%Y-%m-%d"),
                v(l),
                rate(*per_day)
            )
        }
        (Forecast::NotWithin { per_day, last }, Some(_)) => format!(
            "{} → 予測期間内に閾値到達なし ({}日以内, {})",
            v(*last),
            f.horizon_days,
            rate(*per_day)
        ),
    };
    Line::of(f.label.clone(), body)
}

/// `- インシデント数: 2件 (P1: 1件, P4: 1件)` — incidents, however many
/// `opsrun incident` calls each took — and `- 平均復旧時間: 1時間15分`
/// (opened → recovered, of those that recovered).
fn incident_count_lines(incidents: &[IncidentRecord]) -> Vec<Line> {
    let mut levels: Vec<(String, usize)> = Vec::new();
    for i in incidents {
        let l = i.level.to_uppercase();
        match levels.iter_mut().find(|(x, _)| *x == l) {
            Some((_, c)) => *c += 1,
            None => levels.push((l, 1)),
        }
    }
    levels.sort();
    let detail = if levels.is_empty() {
        String::new()
    } else {
        format!(
            " ({})",
            levels
                .iter()
                .map(|(l, c)| format!("{l}: {c}件"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut out = vec![Line::of(
        "インシデント数",
        format!("{}件{detail}", incidents.len()),
    )];
    let times: Vec<i64> = incidents
        .iter()
        .filter_map(IncidentRecord::time_to_recover)
        .map(|d| d.num_milliseconds())
        .collect();
    if !times.is_empty() {
        let avg = times.iter().sum::<i64>() / times.len() as i64;
        out.push(Line::of("平均復旧時間", ja_duration(avg)));
    } else if !incidents.is_empty() {
        out.push(Line::of("平均復旧時間", "復旧の記録なし"));
    }
    out
}

/// `1. 2025-10-15 10:23: P4（軽微） 異常: … / 対応: … → 成功 → 復旧（13分）`.
fn incident_text(n: usize, i: &IncidentRecord, tz: Zone) -> String {
    let start = tz.at(&i.opened_at);
    let dur = i
        .time_to_recover()
        .map(|d| format!("（{}）", ja_duration(d.num_milliseconds())))
        .unwrap_or_default();
    let name = i
        .name
        .as_ref()
        .map(|n| format!("（{n}）"))
        .unwrap_or_default();
    let state = if i.recovered_at.is_some() {
        "復旧"
    } else if i.closed_at.is_some() {
        "クローズ（復旧確認なし）"
    } else {
        "対応中"
    };
    let mut what: Vec<String> = Vec::new();
    if !i.summary.is_empty() {
        what.push(i.summary.clone());
    }
    if !i.actions.is_empty() {
        what.push(format!("対応: {}", i.actions));
    }
    let what = if what.is_empty() {
        String::new()
    } else {
        format!(" {}", what.join(" / "))
    };
    format!(
        "{n}. {}: {}{name}{what} → {state}{dur}",
        start.format("%Y-%m-%d %H:%M"),
        i.level.to_uppercase(),
    )
}

/// `- [停止] ヘルスチェック 2025-10-23 03:00 ~ 03:15 (15分)` (or
/// `[計画停止]` for maintenance windows), at most ten.
fn outage_notes(
    tag: &str,
    status: Status,
    label: &str,
    outages: &[(i64, i64)],
    tz: Zone,
) -> Vec<Note> {
    let note = |text: String| Note {
        tag: Some(tag.to_owned()),
        status: Some(status),
        text,
    };
    let mut out: Vec<Note> = outages
        .iter()
        .take(10)
        .map(|(a, b)| {
            let (s, e) = (local(*a, tz), local(*b, tz));
            let end = if s.date_naive() == e.date_naive() {
                e.format("%H:%M").to_string()
            } else {
                e.format("%Y-%m-%d %H:%M").to_string()
            };
            note(format!(
                "{label} {} ~ {end} ({})",
                s.format("%Y-%m-%d %H:%M"),
                ja_duration(b - a)
            ))
        })
        .collect();
    if outages.len() > 10 {
        out.push(note(format!("ほか{}回", outages.len() - 10)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_units() {
        assert_eq!(ja_value(65.0, "%", ""), "65%");
        assert_eq!(ja_value(0.4444, "%", ""), "0.44%");
        assert_eq!(ja_value(65.26, "%", ""), "65.3%");
        // One rounding in every format: the table's 3.5% too.
        assert_eq!(ja_value(3.47, "%", ""), "3.5%");
        assert_eq!(
            crate::values::units::Unit::Percent.format(3.47),
            ja_value(3.47, "%", "")
        );
        assert_eq!(ja_value(14.0, "people", ""), "14名");
        assert_eq!(ja_value(120.0, "count", ""), "120件");
        assert_eq!(ja_value(3600.0, "count", ""), "3,600件");
        assert_eq!(ja_value(1200.0, "ms", ""), "1.2秒");
        assert_eq!(ja_value(350.0, "ms", ""), "350ms");
        assert_eq!(ja_value(45.7, "days", ""), "残り45日");
        assert_eq!(ja_value(-2.5, "days", ""), "期限切れ（3日経過）");
        assert_eq!(ja_value(48_200_000.0, "B", ""), "48.2MB");
        assert_eq!(ja_value(5.0, "", "件"), "5件");
        assert_eq!(ja_value(72.0, "", "%"), "72%");
        assert_eq!(ja_value(-1234.5, "", ""), "-1,234.5");
    }

    #[test]
    fn monthly_incidents_are_counted_by_level_and_summarised() {
        use crate::history::store::IncidentRecord;
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
        let now = t("2025-11-01T10:00:00+09:00");
        let period = Period::current(PeriodKind::Monthly, now, Zone::default());
        let inc = |level: &str, at: &str, mins: Option<i64>| IncidentRecord {
            id: 1,
            level: level.into(),
            name: Some("軽微".into()),
            system: None,
            runbook: format!("incident-{level}"),
            host: "h".into(),
            opened_at: t(at),
            recovered_at: mins.map(|m| t(at) + chrono::Duration::minutes(m)),
            closed_at: None,
            note: None,
            summary: "異常: OpenAI API".into(),
            actions: String::new(),
            reporter: None,
            calls: 1,
            last_at: t(at),
        };
        let mut joined = inc("p2", "2025-10-20T01:00:00Z", Some(91));
        joined.actions = "再起動 → 成功".into();
        joined.calls = 3;
        let summary = PeriodSummary {
            incidents: vec![
                inc("p4", "2025-10-15T10:23:00+09:00", Some(13)),
                joined,
                inc("p4", "2025-10-30T10:00:00+09:00", None),
            ],
            ..Default::default()
        };
        let text = render(
            None,
            &ReportCtx {
                period: &period,
                heading: "月次運用",
                spec: None,
                summary: Some(&summary),
                history_error: None,
            },
        );
        assert!(
            text.contains("- インシデント数: 3件 (P2: 1件, P4: 2件)\n- 平均復旧時間: 52分\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "■ インシデントサマリー\n1. 2025-10-15 10:23: P4（軽微） 異常: OpenAI API → 復旧（13分）\n2. 2025-10-20 10:00: P2（軽微） 異常: OpenAI API / 対応: 再起動 → 成功 → 復旧（1時間31分）\n3. 2025-10-30 10:00: P4（軽微） 異常: OpenAI API → 対応中\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(ja_duration(15 * 60_000), "15分");
        assert_eq!(ja_duration(150 * 60_000), "2時間30分");
        assert_eq!(ja_duration(134 * 60_000), "2時間14分");
        assert_eq!(ja_duration(30 * 60 * 60_000), "30時間");
        assert_eq!(ja_duration(134 * 60_000 + 20_000), "2時間14分");
        assert_eq!(ja_duration(360 * 60_000), "6時間");
        assert_eq!(ja_duration(3 * 86_400_000), "3日");
    }
}
