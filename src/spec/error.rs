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
    /// The offending line of the file, when known (a long line is cut to
    /// a window around the column, marked with `…`).
    pub source_line: Option<String>,
    /// Where the caret goes in `source_line` (1-based, in characters).
    pub caret: usize,
}

/// Longest message shown; a message quoting a huge value keeps its start
/// and its end (which says what was expected).
const MAX_MESSAGE_CHARS: usize = 600;
/// Longest source line shown, in characters.
const MAX_LINE_CHARS: usize = 160;

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
        let (source_line, caret) = match (line > 0).then(|| text.lines().nth(line - 1)).flatten() {
            Some(l) => {
                let (s, c) = clip_line(&crate::secret::redact(l), col);
                (Some(s), c)
            }
            None => (None, col),
        };
        LoadError {
            file: file.to_owned(),
            line,
            col,
            message: clip_message(crate::secret::redact(&message.into())),
            source_line,
            caret,
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
            message: clip_message(message.into()),
            source_line: None,
            caret: 0,
        }
    }

    /// Converts a YAML parser/deserializer error, keeping its location.
    pub fn from_yaml(file: &Path, text: &str, err: &serde_saphyr::Error) -> Self {
        let inner = err.without_snippet();
        let (mut line, mut col) = match inner.location() {
            Some(l) if l.line() > 0 => (l.line() as usize, l.column() as usize),
            _ => (0, 0),
        };
        let raw = inner.to_string();
        // A location recorded by our own visitors wins over the parser's.
        if let Some((l, c)) = crate::values::located::take(&raw) {
            (line, col) = (l, c);
        }
        let msg = clean_message(&raw);
        if msg == NESTED_TOO_DEEPLY
            && let Some((l, c)) = first_too_deep(text, line, col)
        {
            (line, col) = (l, c);
        }
        LoadError::new(file, line, col, msg, text)
    }
}

/// Control characters from a hostile file (escape sequences, NULs,
/// newlines inside a quoted value) are shown escaped, never sent to the
/// terminal as they are.
fn printable(s: &str) -> String {
    crate::values::text::printable_line(s).into_owned()
}

/// Keeps the start and the end of an over-long message.
fn clip_message(m: String) -> String {
    let m = printable(&m);
    let n = m.chars().count();
    if n <= MAX_MESSAGE_CHARS {
        return m;
    }
    let head: String = m.chars().take(MAX_MESSAGE_CHARS - 200).collect();
    let tail: String = m.chars().skip(n - 199).collect();
    format!("{head}…{tail}")
}

/// A window of `line` around character column `col`, and the caret's
/// column within that window.
fn clip_line(line: &str, col: usize) -> (String, usize) {
    let n = line.chars().count();
    if n <= MAX_LINE_CHARS && !line.chars().any(|c| c.is_control() && c != '\t') {
        return (line.to_owned(), col);
    }
    let col = col.clamp(1, n.max(1));
    let start = if n <= MAX_LINE_CHARS {
        1
    } else {
        col.saturating_sub(MAX_LINE_CHARS / 3).max(1)
    };
    let end = (start + MAX_LINE_CHARS).min(n + 1);
    let mut s = String::new();
    let mut caret = col - start + 1;
    if start > 1 {
        s.push('…');
        caret += 1;
    }
    // Each control character is shown escaped (`\u{1b}`); the caret moves
    // by the extra width of those before it.
    for (i, c) in line.chars().skip(start - 1).take(end - start).enumerate() {
        if c.is_control() && c != '\t' {
            let e = c.escape_default().to_string();
            if start + i < col {
                caret += e.chars().count() - 1;
            }
            s.push_str(&e);
        } else {
            s.push(c);
        }
    }
    if end <= n {
        s.push('…');
    }
    (s, caret)
}

/// Strips the parser's own " at line X column Y" suffix (we print our own
/// location) and rewords serde's phrasing where it helps an operator.
fn clean_message(m: &str) -> String {
    if let Some(b) = budget_message(m) {
        return b;
    }
    let mut s = m.trim().to_owned();
    if s.starts_with("recursion limit exceeded") {
        return NESTED_TOO_DEEPLY.into();
    }
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
        ("invalid u16", "expected a whole number from 0 to 65535"),
        ("invalid u8", "expected a whole number from 0 to 255"),
        (
            "expected string scalar",
            "expected a text value, not a list or a mapping",
        ),
    ] {
        if s == from {
            return to.to_owned();
        }
    }
    if let Some(key) = s
        .strip_prefix("duplicate mapping key: ")
        .and_then(|r| r.split(", set DuplicateKeyPolicy").next())
    {
        return format!("duplicate key `{key}`: each key may appear once in a mapping");
    }
    if s.starts_with("multiple YAML documents detected") {
        return "a runbook is one YAML document: remove the `---` line and what follows".into();
    }
    if let Some(v) = s
        .strip_prefix("non-finite float `")
        .and_then(|r| r.split('`').next())
    {
        return format!("`{v}` is not a usable number: expected a finite value");
    }
    if s.starts_with("tabs disallowed") {
        return format!("{s}: indent with spaces");
    }
    s
}

/// Where nesting first passes the limit, when the parser reported a
/// place further on. In a flow collection (`[[[[…`) the YAML scanner looks
/// ahead for a possible `key:` through every opener, and past 255 open
/// flow levels it stops with its own error at the opener where it gave up
/// — about 190 columns right of the level that broke the limit. So the
/// text up to that point is parsed again with the open brackets closed:
/// the scanner's limit is then out of reach and the depth budget reports
/// the opener that went past 64 levels. `None` keeps the parser's place
/// (nothing better was found).
fn first_too_deep(text: &str, line: usize, col: usize) -> Option<(usize, usize)> {
    let start = text
        .split_inclusive('\n')
        .take(line.checked_sub(1)?)
        .map(str::len)
        .sum::<usize>();
    let rest = text.get(start..)?;
    let offset = start
        + rest
            .char_indices()
            .nth(col.checked_sub(1)?)
            .map_or(rest.len(), |(i, _)| i);
    let prefix = text.get(..offset)?;
    let mut patched = prefix.to_owned();
    patched.extend(
        open_flows(prefix)
            .iter()
            .rev()
            .map(|&o| if o == '[' { ']' } else { '}' }),
    );
    let err = serde_saphyr::from_str::<serde::de::IgnoredAny>(&patched).err()?;
    let inner = err.without_snippet();
    let at = inner.location().filter(|l| l.line() > 0)?;
    (clean_message(&inner.to_string()) == NESTED_TOO_DEEPLY)
        .then(|| (at.line() as usize, at.column() as usize))
}

/// The flow collections (`[` or `{`) still open at the end of `text`,
/// outermost first. A lexical pass: quoted scalars and comments are
/// skipped, and outside a flow collection a bracket opens one only where a
/// value starts (after `: `, `- `, `? ` or indentation), since a block
/// plain scalar may contain brackets (`a[0]`).
fn open_flows(text: &str) -> Vec<char> {
    let mut stack = Vec::new();
    let mut chars = text.chars().peekable();
    let mut prev = '\n'; // the last non-blank character
    let mut last = '\n'; // the last character
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' if matches!(last, ' ' | '\t' | '\n' | '[' | '{' | ',' | ':') => {
                while let Some(q) = chars.next() {
                    if q == '\\' && c == '"' {
                        chars.next();
                    } else if q == c {
                        if c == '\'' && chars.peek() == Some(&'\'') {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            '#' if matches!(last, ' ' | '\t' | '\n') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
                last = '\n';
                prev = '\n';
                continue;
            }
            '[' | '{' if !stack.is_empty() || matches!(prev, '\n' | ':' | '-' | '?') => {
                stack.push(c)
            }
            ']' | '}' if !stack.is_empty() => {
                stack.pop();
            }
            _ => {}
        }
        last = c;
        if !matches!(c, ' ' | '\t') {
            prev = c;
        }
    }
    stack
}

const NESTED_TOO_DEEPLY: &str = "nested too deeply (more than 64 levels of lists and mappings)";

/// serde-saphyr refuses documents past its budget (nesting depth, node
/// count, alias expansion) with `budget breached: Depth { depth: 65 } …`;
/// say what that means for a runbook.
fn budget_message(m: &str) -> Option<String> {
    let rest = m.trim().strip_prefix("budget breached: ")?;
    let what = rest.split([' ', '{']).next().unwrap_or("");
    let number = rest
        .split(|c: char| !c.is_ascii_digit())
        .find(|n| !n.is_empty())
        .unwrap_or("?");
    Some(match what {
        "Depth" => NESTED_TOO_DEEPLY.into(),
        "Nodes" | "Events" | "Aliases" | "RecordedAnchorEvents" | "RecordedAnchorBytes" => format!(
            "the YAML expands to too many values ({what} {number}): anchors and aliases that repeat each other are refused"
        ),
        _ => format!("the YAML is too large or too complex ({what} {number}); refused"),
    })
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
                .take(self.caret.saturating_sub(1))
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
