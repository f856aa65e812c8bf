//! Load errors: every one names the file, line and column, shows the line
//! and says what was expected.

use std::fmt;
use std::path::{Path, PathBuf};

/// A runbook that could not be loaded.
#[derive(Debug, Clone)]
pub struct LoadError {
    pub file: PathBuf,
    /// 1-based; 0 when the error is not tied to a line (file unreadable).
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// The offending line of the file, when known.
    pub source_line: Option<String>,
}

impl LoadError {
    pub fn new(
        file: &Path,
        line: usize,
        col: usize,
        message: impl Into<String>,
        text: &str,
    ) -> Self {
        // A secret written where it does not belong (a webhook URL in the
        // YAML) is registered before the error is made: never echo it.
        let source_line = (line > 0)
            .then(|| text.lines().nth(line - 1).map(crate::secret::redact))
            .flatten();
        LoadError {
            file: file.to_owned(),
            line,
            col,
            message: crate::secret::redact(&message.into()),
            source_line,
        }
    }

    /// An error at the place a spanned YAML value was written.
    pub fn at_span<T>(
        file: &Path,
        at: &serde_saphyr::Spanned<T>,
        message: impl Into<String>,
        text: &str,
    ) -> Self {
        let (l, c) = (
            at.referenced.line() as usize,
            at.referenced.column() as usize,
        );
        LoadError::new(file, l, c, message, text)
    }

    /// An error about the file as a whole (unreadable, not UTF-8).
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        LoadError {
            file: file.to_owned(),
            line: 0,
            col: 0,
            message: message.into(),
            source_line: None,
        }
    }

    /// Converts a YAML parser/deserializer error, keeping its location.
    pub fn from_yaml(file: &Path, text: &str, err: &serde_saphyr::Error) -> Self {
        let inner = err.without_snippet();
        let (mut line, mut col) = match inner.location() {
            Some(l) if l.line() > 0 => (l.line() as usize, l.column() as usize),
            _ => (0, 0),
        };
        let mut msg = clean_message(&inner.to_string());
        // A location embedded by our own visitors wins over the parser's.
        if let Some(start) = msg.find(MARK) {
            let rest = &msg[start + MARK.len_utf8()..];
            if let Some(end) = rest.find(MARK_END) {
                let pos = &rest[..end];
                if let Some((l, c)) = pos.split_once(':')
                    && let (Ok(l), Ok(c)) = (l.parse(), c.parse())
                {
                    (line, col) = (l, c);
                }
                msg = format!("{}{}", &msg[..start], &rest[end + MARK_END.len_utf8()..]);
            }
        }
        LoadError::new(file, line, col, msg, text)
    }
}

const MARK: char = '⟦';
const MARK_END: char = '⟧';

/// Wraps a message with a location that [`LoadError::from_yaml`] will use:
/// serde's custom errors cannot carry one, and the parser would otherwise
/// report the start of the enclosing mapping.
pub fn at(line: u64, col: u64, msg: &str) -> String {
    format!("{MARK}{line}:{col}{MARK_END}{msg}")
}

/// Strips the parser's own " at line X column Y" suffix (we print our own
/// location) and rewords serde's phrasing where it helps an operator.
fn clean_message(m: &str) -> String {
    let mut s = m.trim().to_owned();
    if let Some(i) = s.rfind(" at line ")
        && s[i..].contains("column")
    {
        s.truncate(i);
    }
    if let Some(t) = suggest_for_unknown_field(&s) {
        return t;
    }
    // serde-saphyr's terse type errors, said the way a runbook author thinks.
    for (from, to) in [
        (
            "expected sequence start",
            "expected a list (`- item` lines or `[a, b]`)",
        ),
        (
            "expected mapping start",
            "expected a mapping (`key: value` lines or `{key: value}`)",
        ),
        ("invalid u32", "expected a whole number"),
        ("invalid u64", "expected a whole number"),
        ("invalid i64", "expected a whole number"),
    ] {
        if s == from {
            return to.to_owned();
        }
    }
    s
}

/// serde says "unknown field `tiemout`, expected one of `a`, `b`"; add the
/// likely intended key when one is close.
fn suggest_for_unknown_field(s: &str) -> Option<String> {
    let rest = s.strip_prefix("unknown field `")?;
    let (field, tail) = rest.split_once('`')?;
    let list = tail
        .split_once("expected one of ")
        .map(|x| x.1)
        .or_else(|| tail.split_once("expected ").map(|x| x.1))?;
    let expected: Vec<&str> = list.split(", ").map(|w| w.trim_matches('`')).collect();
    Some(match crate::suggest::closest(field, &expected) {
        Some(hint) => format!("unknown key `{field}`, did you mean `{hint}`?"),
        None => format!(
            "unknown key `{field}`, expected one of: {}",
            expected.join(", ")
        ),
    })
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.file.display(), self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )?;
        if let Some(src) = &self.source_line {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            // Columns count characters; the caret is placed by character width
            // so that it lines up under Japanese text too.
            let caret_pad: String = src
                .chars()
                .take(self.col.saturating_sub(1))
                .map(|c| {
                    if c == '\t' {
                        "\t"
                    } else if is_wide(c) {
                        "  "
                    } else {
                        " "
                    }
                })
                .collect();
            write!(f, "\n{pad} |\n{num} | {src}\n{pad} | {caret_pad}^")?;
        }
        Ok(())
    }
}

fn is_wide(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

impl std::error::Error for LoadError {}
