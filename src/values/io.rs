//! Wording of I/O errors, and path helpers, shared by every layer.

use std::path::Path;

/// The directory `path` is in: `.` for a bare file name. (`Path::parent`
/// gives the empty path for `a.yaml`, and a child started in the empty
/// directory fails with "No such file or directory".)
#[allow(clippy::disallowed_methods)] // the one place that may
pub fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// `No such file or directory` without the `(os error 2)` noise.
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}
