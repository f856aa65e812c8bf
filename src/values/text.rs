//! Text from outside — a command's output, an HTTP body, a log line, a
//! file name, a server's error — made safe to print. Every text format
//! goes through [`printable`] once, at the end of `output::render`, so a
//! check that prints `\x1b]0;pwned\x07\x1b[2J` shows those bytes escaped
//! instead of retitling and clearing the operator's terminal.

use std::borrow::Cow;

/// A character that must not reach a terminal as it is: C0 and C1
/// controls (escape sequences, BEL, NUL, a carriage return that rewrites
/// the line), DEL, and the bidirectional overrides that reorder what the
/// reader sees. Newlines and tabs are layout, so they stay unless
/// `one_line`.
fn unsafe_char(c: char, one_line: bool) -> bool {
    match c {
        '\n' | '\t' => one_line && c == '\n',
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => true,
        c => c.is_control(),
    }
}

fn escape(s: &str, one_line: bool) -> Cow<'_, str> {
    if !s.chars().any(|c| unsafe_char(c, one_line)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if unsafe_char(c, one_line) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` with every unsafe character shown escaped (`\u{1b}`, `\r`,
/// `\u{0}`); newlines and tabs kept.
pub fn printable(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// [`printable`] for text that must stay on one line: newlines escaped too.
pub fn printable_line(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_obey() {
        assert_eq!(printable("ok\n\ttab"), "ok\n\ttab");
        assert!(matches!(printable("正常 50%"), Cow::Borrowed(_)));
        assert_eq!(
            printable("\x1b]0;pwned\x07\x1b[2J\0\r\u{7f}\u{9b}"),
            "\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{0}\\r\\u{7f}\\u{9b}"
        );
        assert_eq!(printable("a\u{202E}b"), "a\\u{202e}b");
        assert_eq!(printable_line("a\nb\tc"), "a\\nb\tc");
    }
}
