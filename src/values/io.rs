//! Wording of I/O errors shared by every layer.

/// `No such file or directory` without the `(os error 2)` noise.
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}
