//! Locations inside serde messages. serde's custom errors cannot carry a
//! position, so a visitor that knows the line and column of the key it is
//! about wraps its message with [`at`]; the runbook loader takes it out again.

pub(crate) const MARK: char = '⟦';
pub(crate) const MARK_END: char = '⟧';

/// Wraps a message with a location that [`LoadError::from_yaml`] will use:
/// serde's custom errors cannot carry one, and the parser would otherwise
/// report the start of the enclosing mapping.
pub fn at(line: u64, col: u64, msg: &str) -> String {
    format!("{MARK}{line}:{col}{MARK_END}{msg}")
}
