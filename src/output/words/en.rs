//! English: the catalog's own templates (today's wording, word for word).

use crate::values::reason::Reason;

/// The reason in English.
pub fn say(r: &Reason) -> String {
    super::fill(r.code.en, r)
}
