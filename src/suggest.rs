//! "Did you mean" suggestions for misspelt keys and names.

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `unknown key `tiemout`, did you mean `timeout`?` or a list of what is allowed.
pub fn unknown_key(key: &str, allowed: &[&str]) -> String {
    match closest(key, allowed) {
        Some(s) => format!("unknown key `{key}`, did you mean `{s}`?"),
        None => format!(
            "unknown key `{key}`, expected one of: {}",
            allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(closest("tiemout", &["timeout", "title"]), Some("timeout"));
        assert_eq!(closest("htp", &["http", "tcp"]), Some("http"));
        assert_eq!(closest("zzzzzz", &["http", "tcp"]), None);
        assert!(unknown_key("wran", &["warn", "fail"]).contains("did you mean `warn`"));
    }
}
