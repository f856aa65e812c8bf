//! Charts as SVG, written from a small typed model: a [`Plot`] has its
//! axes' ranges and ticks and a list of [`Mark`]s (bars, lines, dots,
//! threshold rules) in data coordinates; [`Plot::svg`] maps them to a
//! fixed view box and writes the elements.
//!
//! Why not a plotting crate (`plotters` with its SVG backend was the
//! candidate): the reports need three simple chart shapes, and this
//! model writes them in about two hundred lines with no dependency; the
//! output is small (a week's chart is a few kilobytes), byte-for-byte
//! deterministic (coordinates rounded to 0.1, no ids or timestamps), so
//! the HTML goldens hold it verbatim; text stays text in the page's own
//! (Japanese) fonts and the page's CSS colours it — no font files or
//! raster backend to build — and nothing is added to the build time.
//! Every label is escaped like all observed text.

use super::page::esc;

/// Size of the view box; the `<svg>` scales to its container's width.
/// A wide chart (the whole page's width) has a wider box than one of a
/// two-column grid, so both show their labels at about the text's size.
const W_WIDE: f64 = 720.0;
const W: f64 = 440.0;
const H: f64 = 220.0;
/// Room for the y labels (left) and the x labels (bottom).
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;

/// One chart: the ranges its data are drawn in, its ticks (position and
/// label), and its marks, drawn in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Plot {
    /// What the chart shows, for screen readers (`aria-label`) and as
    /// the tooltip of the whole chart.
    pub title: String,
    /// Drawn across the page rather than in a column of the grid.
    pub wide: bool,
    pub x: (f64, f64),
    pub y: (f64, f64),
    pub x_ticks: Vec<(f64, String)>,
    pub y_ticks: Vec<(f64, String)>,
    pub marks: Vec<Mark>,
}

/// Something drawn in data coordinates. `class` names its CSS class
/// (`pass`, `fail`, `maint`, `missing` for bars; `warn`/`fail` for rules).
#[derive(Clone, Debug)]
pub(crate) enum Mark {
    /// A rectangle from `(x0, y0)` to `(x1, y1)`, with a tooltip.
    Bar {
        x0: f64,
        x1: f64,
        y0: f64,
        y1: f64,
        class: &'static str,
        tip: String,
    },
    /// A line through the points; `None` leaves a gap (a day with no data).
    Line {
        points: Vec<Option<(f64, f64)>>,
        class: &'static str,
    },
    /// A dot with a tooltip.
    Dot {
        x: f64,
        y: f64,
        class: &'static str,
        tip: String,
    },
    /// A horizontal rule across the plot at `y` (a threshold), labelled
    /// at its right end.
    Rule {
        y: f64,
        class: &'static str,
        label: String,
    },
    /// Text at a data point, centred above it.
    Label { x: f64, y: f64, text: String },
}

/// A number for an SVG attribute: one decimal at most, no `-0`.
fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    let r = if r == 0.0 { 0.0 } else { r };
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

impl Plot {
    fn w(&self) -> f64 {
        if self.wide { W_WIDE } else { W }
    }

    fn px(&self, x: f64) -> f64 {
        let (a, b) = self.x;
        let span = if b > a { b - a } else { 1.0 };
        LEFT + (x - a) / span * (self.w() - LEFT - RIGHT)
    }

    fn py(&self, y: f64) -> f64 {
        let (a, b) = self.y;
        let span = if b > a { b - a } else { 1.0 };
        let y = y.clamp(a, b);
        H - BOTTOM - (y - a) / span * (H - TOP - BOTTOM)
    }

    /// The chart as an inline `<svg>` element.
    pub(crate) fn svg(&self) -> String {
        let mut o = format!(
            "<svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">\n<title>{}</title>\n",
            n(self.w()),
            n(H),
            esc(&self.title),
            esc(&self.title)
        );
        let (x0, x1) = (LEFT, self.w() - RIGHT);
        let y1 = H - BOTTOM;
        for (v, label) in &self.y_ticks {
            let y = self.py(*v);
            o.push_str(&format!(
                "<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
                n(x0),
                n(y),
                n(x1),
                n(y),
                n(x0 - 6.0),
                n(y + 4.0),
                esc(label)
            ));
        }
        for (v, label) in &self.x_ticks {
            o.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                n(self.px(*v)),
                n(H - 8.0),
                esc(label)
            ));
        }
        o.push_str(&format!(
            "<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n",
            n(x0),
            n(y1),
            n(x1),
            n(y1)
        ));
        for m in &self.marks {
            o.push_str(&self.mark(m));
        }
        // Threshold labels last, over every line and bar, each on a white
        // halo: a data line that crosses a label must not cross out its
        // words.
        for m in &self.marks {
            if let Mark::Rule { y, class, label } = m {
                o.push_str(&format!(
                    "<text class=\"rule {class}\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
                    n(self.w() - RIGHT - 2.0),
                    n(self.py(*y) - 4.0),
                    esc(label)
                ));
            }
        }
        o.push_str("</svg>");
        o
    }

    fn mark(&self, m: &Mark) -> String {
        match m {
            Mark::Bar {
                x0,
                x1,
                y0,
                y1,
                class,
                tip,
            } => {
                let (a, b) = (self.px(*x0), self.px(*x1));
                let (top, bottom) = (self.py(*y1), self.py(*y0));
                // A share too thin to see (a 10-minute outage in a day)
                // is drawn one pixel high: present means visible.
                let h = (bottom - top).max(1.0);
                format!(
                    "<rect class=\"bar {class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>\n",
                    n(a),
                    n(bottom - h),
                    n(b - a),
                    n(h),
                    esc(tip)
                )
            }
            Mark::Line { points, class } => {
                let mut d = String::new();
                let mut pen_down = false;
                for p in points {
                    match p {
                        Some((x, y)) => {
                            d.push_str(&format!(
                                "{}{},{} ",
                                if pen_down { "L" } else { "M" },
                                n(self.px(*x)),
                                n(self.py(*y))
                            ));
                            pen_down = true;
                        }
                        None => pen_down = false,
                    }
                }
                format!("<path class=\"{class}\" d=\"{}\"/>\n", d.trim_end())
            }
            Mark::Dot { x, y, class, tip } => format!(
                "<circle class=\"{class}\" cx=\"{}\" cy=\"{}\" r=\"3\"><title>{}</title></circle>\n",
                n(self.px(*x)),
                n(self.py(*y)),
                esc(tip)
            ),
            // The rule's label is drawn by `svg`, after every mark.
            Mark::Rule { y, class, .. } => {
                let py = self.py(*y);
                format!(
                    "<line class=\"rule {class}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n",
                    n(LEFT),
                    n(py),
                    n(self.w() - RIGHT),
                    n(py)
                )
            }
            Mark::Label { x, y, text } => format!(
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                n(self.px(*x)),
                n(self.py(*y) - 4.0),
                esc(text)
            ),
        }
    }
}

/// About `count` round steps (1, 2, 2.5 or 5 × 10ⁿ) covering `lo..hi`:
/// the range widened to whole steps, and the tick values.
pub(crate) fn nice_ticks(lo: f64, hi: f64, count: usize) -> ((f64, f64), Vec<f64>) {
    let (lo, hi) = if hi - lo < f64::EPSILON * hi.abs().max(1.0) {
        let pad = (hi.abs() * 0.1).max(1.0);
        (lo - pad, hi + pad)
    } else {
        (lo, hi)
    };
    let raw = (hi - lo) / count.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).floor() * step;
    let end = (hi / step).ceil() * step;
    let mut ticks = Vec::new();
    let mut t = start;
    while t <= end + step * 0.001 {
        ticks.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    ((start, end), ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            nice_ticks(0.0, 100.0, 4),
            ((0.0, 100.0), vec![0.0, 25.0, 50.0, 75.0, 100.0])
        );
        let ((a, b), t) = nice_ticks(61.0, 93.5, 4);
        assert_eq!((a, b), (60.0, 100.0));
        assert_eq!(t, vec![60.0, 70.0, 80.0, 90.0, 100.0]);
        // A flat series still gets a range.
        let ((a, b), _) = nice_ticks(5.0, 5.0, 4);
        assert!(a < 5.0 && b > 5.0);
    }

    #[test]
    fn plot_maps_data_to_the_view_box_and_escapes_labels() {
        let p = Plot {
            title: "CPU <使用率>".into(),
            wide: true,
            x: (0.0, 2.0),
            y: (0.0, 100.0),
            x_ticks: vec![(0.5, "10/21".into())],
            y_ticks: vec![(0.0, "0%".into()), (100.0, "100%".into())],
            marks: vec![
                Mark::Line {
                    points: vec![Some((0.5, 50.0)), None, Some((1.5, 100.0))],
                    class: "series",
                },
                Mark::Rule {
                    y: 80.0,
                    class: "warn",
                    label: "警告閾値 80%".into(),
                },
            ],
        };
        let svg = p.svg();
        assert!(svg.contains("aria-label=\"CPU &lt;使用率&gt;\""), "{svg}");
        // A gap: the pen lifts (M, not L, after the missing day).
        assert!(svg.contains("d=\"M225,103 M547,12\""), "{svg}");
        assert!(svg.contains(">警告閾値 80%</text>"), "{svg}");
        assert_eq!(n(-0.04), "0");
        assert_eq!(n(12.345), "12.3");
    }
}
