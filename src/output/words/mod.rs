//! Words: how reasons read. Kinds and the engine produce [`Reason`]s
//! (data); this module turns them into sentences. `en` renders the English
//! templates of the reason catalog (`crate::reason`), which keep today's
//! wording. Another language is one more file here: a table from catalog
//! key or code to its template, using [`fill`], falling back to English
//! for entries it does not cover.

pub mod en;

use crate::values::reason::{Detail, Param, Reason};

/// Installs the default words (English) for the run's messages.
pub fn install() {
    crate::values::reason::install_words(en::say);
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
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('[') {
        out.push_str(&fill_plain(&rest[..open], reason).unwrap_or_else(|s| s));
        let Some(close) = rest[open..].find(']') else {
            rest = &rest[open..];
            break;
        };
        let inner = &rest[open + 1..open + close];
        if let Ok(s) = fill_plain(inner, reason) {
            out.push_str(&s);
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(&fill_plain(rest, reason).unwrap_or_else(|s| s));
    out
}

/// Fills the `{…}` holes of a bracket-free piece; `Err` (with `?` in the
/// holes) when a parameter is missing.
fn fill_plain(piece: &str, reason: &Reason) -> Result<String, String> {
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
        match reason.param(name) {
            Some(p) if join == "q" => out.push_str(&format!("{:?}", format_param(p, ", "))),
            Some(p) => out.push_str(&format_param(
                p,
                match join {
                    "or" => " or ",
                    "semi" => "; ",
                    _ => ", ",
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
