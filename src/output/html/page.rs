//! The reusable pieces of every HTML document opsrun writes: the page
//! shell with its one inline style sheet, escaping, tables and status
//! badges. The 日次/週次/月次 reports and the 障害報告 (`output::html`)
//! are built from these, and so can any other HTML view (a fleet report,
//! a served `/report`): one look, one escaping rule.
//!
//! A page is one self-contained file: inline CSS, inline SVG, no script,
//! no font, image or style sheet fetched from anywhere — it opens offline
//! from a mail attachment or a file share and prints on A4. The fonts are
//! the reader's own (a list of common Japanese system fonts, then the
//! generic `sans-serif`).

use crate::values::outcome::Status;

/// `s` as HTML text: `& < > " '` as entities, and control characters
/// escaped as the text formats show them (`\u{1b}`), so observed data (a
/// log line with `<script>`, a body with escape sequences) reads as text
/// and never as markup. Safe in element content and in quoted attributes.
pub(crate) fn esc(s: &str) -> String {
    let s = crate::values::text::printable(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The CSS class of a status (`pass`, `warn`, `fail`, `unknown`, `skip`,
/// `maint`): the colour of its badge, rule or bar.
pub(crate) fn status_class(s: Status) -> &'static str {
    s.as_str()
}

/// A status badge in the report's words: `<span class="badge fail">異常</span>`.
/// The word is printed, not only the colour, so it reads in black and white.
pub(crate) fn badge(s: Status) -> String {
    badge_text(s, s.ja())
}

/// A badge of status `s`'s colour with other words (`停止`, `P1`).
pub(crate) fn badge_text(s: Status, text: &str) -> String {
    format!(
        r#"<span class="badge {}">{}</span>"#,
        status_class(s),
        esc(text)
    )
}

/// One table cell: text (escaped here), observed text whose line breaks
/// are kept (a message, a log line), or markup already built from escaped
/// parts (a badge, a chart).
#[derive(Clone, Debug)]
pub(crate) enum Cell {
    Text(String),
    Detail(String),
    Html(String),
}

impl Cell {
    pub(crate) fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    fn html(&self) -> String {
        match self {
            Cell::Text(t) | Cell::Detail(t) => esc(t),
            Cell::Html(h) => h.clone(),
        }
    }

    fn td(&self) -> String {
        match self {
            Cell::Detail(_) => format!(r#"<td class="detail">{}</td>"#, self.html()),
            _ => format!("<td>{}</td>", self.html()),
        }
    }
}

/// A table with a header row, in a wrapper that scrolls sideways rather
/// than widen the page on a phone; long cells wrap anywhere. `class` is
/// added to the table (`checks`, `kv`).
pub(crate) fn table(class: &str, head: &[&str], rows: &[Vec<Cell>]) -> String {
    let mut out = format!(r#"<div class="table-wrap"><table class="{}">"#, esc(class));
    if !head.is_empty() {
        out.push_str("<thead><tr>");
        for h in head {
            out.push_str(&format!(r#"<th scope="col">{}</th>"#, esc(h)));
        }
        out.push_str("</tr></thead>");
    }
    out.push_str("<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for c in row {
            out.push_str(&c.td());
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    out
}

/// A bulleted list of text lines; `empty` (`特になし`) when there are none.
pub(crate) fn list(items: &[Cell], empty: &str) -> String {
    if items.is_empty() {
        return format!("<ul><li>{}</li></ul>\n", esc(empty));
    }
    let mut out = String::from("<ul>\n");
    for i in items {
        out.push_str(&format!("<li>{}</li>\n", i.html()));
    }
    out.push_str("</ul>\n");
    out
}

/// A `<section>` with its `<h2>` heading and body markup.
pub(crate) fn section(heading: &str, body: &str) -> String {
    format!("<section>\n<h2>{}</h2>\n{body}</section>\n", esc(heading))
}

/// A whole document: `title` in `<title>` and as the `<h1>`, then `body`
/// (markup built with the functions of this module). `lang` is the
/// document's language (`ja`).
pub(crate) fn page(lang: &str, title: &str, body: &str) -> String {
    document(lang, title, &format!("<h1>{}</h1>\n{body}", esc(title)))
}

/// A whole document whose `body` brings its own headings.
pub(crate) fn document(lang: &str, title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"generator\" content=\"opsrun\">\n<title>{t}</title>\n<style>\n{CSS}</style>\n\
</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        lang = esc(lang),
        t = esc(title),
    )
}

/// The one style sheet. Sizes are relative so a phone's narrow screen
/// gets one column and wrapping cells; `@media print` lays the page out
/// for A4 with colours kept (`print-color-adjust`), no section or chart
/// split across pages where it can be helped.
pub(crate) const CSS: &str = r#":root{--pass:#1a7f37;--warn:#9a6700;--fail:#cf222e;--unknown:#8250df;--skip:#6e7781;--maint:#0969da;--line:#d0d7de;--muted:#57606a;--bg-soft:#f6f8fa}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;color:#1f2328;background:#fff;font-family:"Noto Sans CJK JP","Noto Sans JP","Hiragino Kaku Gothic ProN","Hiragino Sans","Yu Gothic UI","Yu Gothic",Meiryo,system-ui,sans-serif;font-size:15px;line-height:1.6}
main{max-width:60rem;margin:0 auto;padding:1.25rem 1rem 2rem}
h1{font-size:1.45rem;margin:0 0 .5rem;line-height:1.35;overflow-wrap:break-word}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem;padding-bottom:.2rem;border-bottom:2px solid var(--line)}
h3{font-size:.95rem;margin:.75rem 0 .25rem}
p,ul,ol{margin:.25rem 0 .75rem}
ul,ol{padding-left:1.4rem}
li{overflow-wrap:anywhere}
.meta{color:var(--muted);font-size:.9rem}
.meta span{white-space:nowrap}
.summary{display:flex;flex-wrap:wrap;gap:.4rem;margin:.5rem 0 1rem}
.table-wrap{width:100%;overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.25rem 0 .75rem;font-size:.92rem}
th,td{border:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top;overflow-wrap:break-word}
thead th{background:var(--bg-soft);white-space:nowrap}
table.kv th{width:34%;background:var(--bg-soft);font-weight:600}
td.detail,.detail{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.88rem}
table.checks td:first-child,table.checks:not(.novalue) td:nth-child(3){white-space:nowrap}
table.checks td:nth-child(2){min-width:6em;word-break:keep-all}
td.num{text-align:right;white-space:nowrap}
.badge{display:inline-block;min-width:3.2em;padding:0 .45em;border-radius:.8em;font-size:.8rem;font-weight:700;line-height:1.6;text-align:center;color:#fff;white-space:nowrap;vertical-align:.08em}
.badge.pass{background:var(--pass)}.badge.warn{background:var(--warn)}.badge.fail{background:var(--fail)}.badge.unknown{background:var(--unknown)}.badge.skip{background:var(--skip)}.badge.maint{background:var(--maint)}
.value.warn{color:var(--warn);font-weight:600}.value.fail{color:var(--fail);font-weight:600}.value.unknown{color:var(--unknown)}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(20rem,1fr));gap:.75rem 1.25rem}
figure{margin:0 0 .75rem;break-inside:avoid;page-break-inside:avoid}
figure.wide{grid-column:1/-1}
figcaption{font-size:.9rem;font-weight:600;margin-bottom:.2rem}
svg.chart{display:block;width:100%;height:auto;max-width:100%;font-family:inherit}
svg.chart text{font-size:12px;fill:#57606a;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
svg.chart .grid{stroke:#eaeef2;stroke-width:1}
svg.chart .axis{stroke:#8c959f;stroke-width:1}
svg.chart .series{fill:none;stroke:#0969da;stroke-width:2}
svg.chart .dot{fill:#0969da}
svg.chart .projection{fill:none;stroke:#0969da;stroke-width:1.5;stroke-dasharray:5 4}
svg.chart .rule{stroke-width:1.5;stroke-dasharray:6 4}
svg.chart .rule.warn{stroke:var(--warn)}svg.chart .rule.fail{stroke:var(--fail)}
svg.chart text.rule.warn{fill:var(--warn);stroke:#fff;stroke-width:3px;stroke-dasharray:none}svg.chart text.rule.fail{fill:var(--fail);stroke:#fff;stroke-width:3px;stroke-dasharray:none}
svg.chart .bar.pass{fill:var(--pass)}svg.chart .bar.fail{fill:var(--fail)}svg.chart .bar.maint{fill:var(--maint)}svg.chart .bar.missing{fill:#d0d7de}
svg.chart .mark{fill:var(--fail)}
.legend{display:flex;flex-wrap:wrap;gap:.2rem 1rem;font-size:.82rem;color:var(--muted);margin:.2rem 0 0;padding:0;list-style:none}
.legend li::before{content:"";display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:-.05em;border-radius:2px;background:var(--c)}
section{break-inside:auto}
h2{break-after:avoid;page-break-after:avoid}
@media (max-width:40rem){body{font-size:14px}main{padding:.75rem .6rem 1.5rem}h1{font-size:1.2rem}table.kv th{width:40%}th,td{padding:.25rem .35rem}}
@media print{@page{size:A4;margin:14mm 12mm}body{font-size:10pt}main{max-width:none;padding:0}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}.table-wrap{overflow:visible}tr,figure,li{break-inside:avoid;page-break-inside:avoid}.charts{grid-template-columns:1fr 1fr}}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// The style sheet, reviewed as a golden of its own (the documents'
    /// goldens leave it out).
    #[test]
    fn html_css() {
        insta::assert_snapshot!("html_css", CSS);
    }

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(esc("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(esc("正常 50%"), "正常 50%");
    }

    #[test]
    fn tables_escape_text_cells_and_keep_markup_cells() {
        let t = table(
            "checks",
            &["状態", "詳細"],
            &[vec![
                Cell::Html(badge(Status::Fail)),
                Cell::text("<b>not bold</b>"),
            ]],
        );
        assert!(
            t.contains(r#"<td><span class="badge fail">異常</span></td>"#),
            "{t}"
        );
        assert!(t.contains("<td>&lt;b&gt;not bold&lt;/b&gt;</td>"), "{t}");
        let p = page("ja", "a<b", &t);
        assert!(p.starts_with("<!DOCTYPE html>") && p.contains("<title>a&lt;b</title>"));
        assert!(!p.contains("<script") && !p.contains("http://") && !p.contains("https://"));
    }
}
