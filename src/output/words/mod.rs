//! Words: how reasons read. Kinds and the engine produce [`Reason`]s
//! (data); this module turns them into sentences. `en` renders the English
//! templates of the reason catalog (`crate::reason`), which keep today's
//! wording; `ja` has a Japanese template for every reason entry. Another
//! language is one more file here: a table from catalog key to its
//! template, using [`fill_with`], falling back to English for entries it
//! does not cover.

pub mod en;
pub mod ja;
pub mod ui;

use crate::values::reason::{Detail, Param, Reason};

/// The language of the table, markdown, nagios and JSON `message`
/// (`--lang`). The Japanese documents (report, checklist, 障害報告, mail)
/// are Japanese whatever it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    /// From the locale: `LC_ALL`, else `LC_MESSAGES`, else `LANG` (the
    /// first one set and not empty, as setlocale reads them): `ja…` →
    /// Japanese, anything else (or nothing) English.
    pub fn from_env() -> Lang {
        let var = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|v| !v.is_empty());
        match var {
            Some(v) if v.starts_with("ja") => Lang::Ja,
            _ => Lang::En,
        }
    }
}

static LANG: std::sync::OnceLock<Lang> = std::sync::OnceLock::new();

/// The language installed for the table, markdown, nagios and JSON
/// `message` (English until one is installed).
pub fn lang() -> Lang {
    LANG.get().copied().unwrap_or(Lang::En)
}

/// Installs the words of the run's messages (`--lang`), and the Japanese
/// words the Japanese documents use. The first call wins, as for the
/// reason words: one invocation speaks one language.
pub fn install_lang(lang: Lang) {
    let _ = LANG.set(lang);
    crate::values::reason::install_words(match lang {
        Lang::En => en::say,
        Lang::Ja => ja::say,
    });
    crate::values::reason::install_words_ja(ja::say);
}

/// Installs the default words (English) for the run's messages.
pub fn install() {
    install_lang(Lang::En);
}

/// A `-v` detail line as people read it: a said fact in the run's words
/// (the words installed for messages, so both read in one language), raw
/// data as observed.
pub fn detail(d: &Detail) -> String {
    match d {
        Detail::Said(r) => crate::values::reason::say(r),
        Detail::Raw(t) => t.clone(),
    }
}

/// The detail lines of a result.
pub fn details(ds: &[Detail]) -> Vec<String> {
    ds.iter().map(detail).collect()
}

/// Fills `template` with `reason`'s parameters: `{name}` → the parameter,
/// `{name:or}` → a list joined with " or " (`{name:semi}`: "; "), `{name:q}` → quoted with
/// escapes (`"a \"b\""`), `[...]` → dropped when a
/// parameter inside it is missing. A missing parameter outside brackets
/// reads `?` (a catalog bug shows, it does not panic).
pub fn fill(template: &str, reason: &Reason) -> String {
    fill_with(template, reason, &|_, p, join| format_param(p, join))
}

/// How a language says one parameter: its name, value and the list joiner.
pub type ParamWords<'a> = dyn Fn(&str, &Param, &str) -> String + 'a;

/// [`fill`] with a language's own parameter words: `{x:or}` joins with
/// `または` and `{x:q}` quotes in 「」 when the template is Japanese (it
/// holds a non-ASCII character).
pub fn fill_with(template: &str, reason: &Reason, words: &ParamWords) -> String {
    let mut out = String::new();
    let ja = !template.is_ascii();
    let mut rest = template;
    while let Some(open) = rest.find('[') {
        out.push_str(&fill_plain(&rest[..open], reason, words, ja).unwrap_or_else(|s| s));
        let Some(close) = rest[open..].find(']') else {
            rest = &rest[open..];
            break;
        };
        let inner = &rest[open + 1..open + close];
        if let Ok(s) = fill_plain(inner, reason, words, ja) {
            out.push_str(&s);
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(&fill_plain(rest, reason, words, ja).unwrap_or_else(|s| s));
    out
}

/// Fills the `{…}` holes of a bracket-free piece; `Err` (with `?` in the
/// holes) when a parameter is missing.
fn fill_plain(
    piece: &str,
    reason: &Reason,
    words: &ParamWords,
    ja: bool,
) -> Result<String, String> {
    let mut out = String::new();
    let mut missing = false;
    let mut rest = piece;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let hole = &rest[open + 1..open + close];
        let (name, join) = hole.split_once(':').unwrap_or((hole, ""));
        let list = if ja { "、" } else { ", " };
        match reason.param(name) {
            Some(p) if join == "q" && ja => out.push_str(&format!("「{}」", words(name, p, list))),
            Some(p) if join == "q" => out.push_str(&format!("{:?}", words(name, p, list))),
            Some(p) => out.push_str(&words(
                name,
                p,
                match (join, ja) {
                    ("or", false) => " or ",
                    ("or", true) => " または ",
                    ("semi", false) => "; ",
                    _ => list,
                },
            )),
            None => {
                missing = true;
                out.push('?');
            }
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    if missing { Err(out) } else { Ok(out) }
}

/// A parameter as words: quantities in their unit (`5s`, `91.2%`).
pub fn format_param(p: &Param, join: &str) -> String {
    match p {
        Param::Text(s) => s.clone(),
        Param::Int(i) => i.to_string(),
        Param::Quantity(v, unit) => unit.format(*v),
        Param::List(l) => l
            .iter()
            .map(|p| format_param(p, join))
            .collect::<Vec<_>>()
            .join(join),
        Param::Bool(b) => b.to_string(),
        Param::Reason(r) => crate::values::reason::say(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::reason::Code;
    use crate::values::units::Unit;

    static C: Code = Code::new("t", "");

    #[test]
    fn templates() {
        let r = Reason::new(&C)
            .with("got", 503u16)
            .with("want", vec!["200", "2xx"])
            .with_quantity("after", 5000.0, Unit::Millis);
        assert_eq!(
            fill("status {got}, expected {want:or}", &r),
            "status 503, expected 200 or 2xx"
        );
        assert_eq!(
            fill("timed out after {after}[ while {step}]", &r),
            "timed out after 5s"
        );
        let r = r.with("step", "reading");
        assert_eq!(
            fill("timed out after {after}[ while {step}]", &r),
            "timed out after 5s while reading"
        );
        assert_eq!(fill("{nope} x", &r), "? x");
        assert_eq!(fill("[a {nope}]b", &r), "b");
    }
}
