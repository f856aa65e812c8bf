//! Locations of serde custom errors. serde's `Error::custom` carries only
//! a message, so a visitor that knows the line and column of the key it is
//! about calls [`at`]: the location is kept beside the message (per
//! thread: a runbook is deserialized on one thread, start to end) and the
//! loader takes it with [`take`] when it builds its `LoadError`, whose
//! file, line and column are fields. Nothing is encoded in the text.

use std::cell::RefCell;

thread_local! {
    /// The message of the last located error and where it points.
    static LAST: RefCell<Option<(String, usize, usize)>> = const { RefCell::new(None) };
}

/// Records that `msg` is about `line:col` and returns it for
/// `de::Error::custom`: the parser would otherwise report the start of
/// the enclosing mapping.
pub fn at(line: u64, col: u64, msg: &str) -> String {
    LAST.with(|l| *l.borrow_mut() = Some((msg.to_owned(), line as usize, col as usize)));
    msg.to_owned()
}

/// The location recorded for the error whose text is `error` (which
/// contains the message given to [`at`]), if any; forgets what was
/// recorded either way, so a location never outlives its error.
pub(crate) fn take(error: &str) -> Option<(usize, usize)> {
    LAST.with(|l| l.borrow_mut().take())
        .filter(|(msg, _, _)| !msg.is_empty() && error.contains(msg.as_str()))
        .map(|(_, line, col)| (line, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_belongs_to_its_message_only() {
        let m = at(3, 5, "unknown key `x`");
        assert_eq!(m, "unknown key `x`");
        assert_eq!(take("unknown key `x` at line 2 column 1"), Some((3, 5)));
        assert_eq!(take("unknown key `x`"), None, "taken once");
        at(3, 5, "one thing");
        assert_eq!(take("another"), None);
        assert_eq!(take("one thing"), None, "forgotten after a mismatch");
    }
}
