//! Secrets: values read from `*_env`/`*_file` at run time are registered
//! here, and every text that leaves a check (value, message, detail) passes
//! through [`redact`] so none of them is ever printed, logged or stored.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::values::reason::{Code, Reason};

fn registry() -> &'static Mutex<Vec<String>> {
    static R: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers `value` so that it is redacted everywhere from now on.
pub fn register(value: &str) {
    // Very short values would redact ordinary words; such secrets are
    // still never printed by opsrun itself, only not scrubbed from output.
    if value.len() >= 3 {
        let mut r = registry().lock().unwrap_or_else(|e| e.into_inner());
        if !r.iter().any(|v| v == value) {
            r.push(value.to_owned());
            // Longest first, so a secret containing another is fully masked.
            r.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }
}

/// Replaces every registered secret and every URL's userinfo by `***`.
pub fn redact(text: &str) -> String {
    let mut out = redact_urls(text);
    let r = registry().lock().unwrap_or_else(|e| e.into_inner());
    for s in r.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

/// Names of query parameters whose values are masked in URLs.
const SECRET_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "password",
    "pass",
    "sig",
    "signature",
    "auth",
];

/// `https://user:pw@host/x?token=abc` → `https://***@host/x?token=***`.
fn redact_urls(text: &str) -> String {
    if !text.contains("://") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '>' || c == ')')
            .unwrap_or(tail.len());
        let (url, after) = tail.split_at(end);
        out.push_str(&redact_one(url));
        rest = after;
    }
    out.push_str(rest);
    out
}

fn redact_one(url: &str) -> String {
    let auth_end = url.find(['/', '?', '#']).unwrap_or(url.len());
    let (authority, path) = url.split_at(auth_end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("***@{}", &authority[at + 1..]),
        None => authority.to_owned(),
    };
    let path = match path.find('?') {
        None => path.to_owned(),
        Some(q) => {
            let (p, query) = path.split_at(q + 1);
            let masked: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) => {
                        format!("{k}=***")
                    }
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{p}{}", masked.join("&"))
        }
    };
    format!("{authority}{path}")
}

/// Log lines go to stderr through this writer, so a secret that a
/// library logs (a webhook URL in an HTTP client's debug line) is masked
/// too. tracing formats a whole event before one `write_all`.
pub struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = redact(&String::from_utf8_lossy(buf));
        std::io::stderr().write_all(text.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Why a secret cannot be read: data only (which variable or file, the
/// I/O error). Its words are its `Display`, said where it is printed (a
/// notification warning) or carried into a check's reason.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {name} is not set")]
    EnvUnset { name: String },
    #[error("environment variable {name} is empty")]
    EnvEmpty { name: String },
    #[error("secret file {} is empty", path.display())]
    FileEmpty { path: PathBuf },
    #[error("cannot read secret file {}: {}", path.display(), crate::values::io_reason(error))]
    FileUnreadable {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
}

impl SecretError {
    /// The same, as data for a check's reason: words come from the
    /// presentation layer in the run's language (a `--lang ja` report
    /// must not quote English).
    pub fn reason(&self) -> Reason {
        match self {
            SecretError::EnvUnset { name } => Reason::new(&ENV_UNSET).with("name", name.as_str()),
            SecretError::EnvEmpty { name } => Reason::new(&ENV_EMPTY).with("name", name.as_str()),
            SecretError::FileEmpty { path } => {
                Reason::new(&FILE_EMPTY).with("path", path.display().to_string())
            }
            SecretError::FileUnreadable { path, error } => {
                let path = path.display().to_string();
                match error.kind() {
                    std::io::ErrorKind::NotFound => Reason::new(&FILE_MISSING).with("path", path),
                    std::io::ErrorKind::PermissionDenied => {
                        Reason::new(&FILE_DENIED).with("path", path)
                    }
                    _ => Reason::new(&FILE_UNREADABLE)
                        .with("path", path)
                        .with("error", crate::values::io_reason(error)),
                }
            }
        }
    }
}

static ENV_UNSET: Code = Code::new("secret.env_unset", "environment variable {name} is not set");
static ENV_EMPTY: Code = Code::new("secret.env_empty", "environment variable {name} is empty");
static FILE_EMPTY: Code = Code::new("secret.file_empty", "secret file {path} is empty");
static FILE_MISSING: Code = Code::new("secret.file_missing", "secret file {path} does not exist");
static FILE_DENIED: Code = Code::variant(
    "secret.file_denied",
    "secret.file_unreadable",
    "cannot read secret file {path}: Permission denied",
);
static FILE_UNREADABLE: Code = Code::new(
    "secret.file_unreadable",
    "cannot read secret file {path}: {error}",
);
/// A check names neither or both of `{field}_env` and `{field}_file`.
pub static NOT_ONE: Code = Code::new(
    "secret.not_one",
    "set exactly one of `{field}_env` or `{field}_file`",
);

/// Every entry of secrets' reasons (docs/reasons.md lists them).
pub static CODES: &[&Code] = &[
    &ENV_UNSET,
    &ENV_EMPTY,
    &FILE_EMPTY,
    &FILE_MISSING,
    &FILE_DENIED,
    &FILE_UNREADABLE,
    &NOT_ONE,
];

/// Reads a secret from the environment variable `name`.
pub fn from_env(name: &str) -> Result<String, SecretError> {
    let name = name.to_owned();
    match std::env::var(&name) {
        Ok(v) if !v.is_empty() => {
            register(&v);
            Ok(v)
        }
        Ok(_) => Err(SecretError::EnvEmpty { name }),
        Err(_) => Err(SecretError::EnvUnset { name }),
    }
}

/// Reads a secret from a file (trailing newline removed).
pub fn from_file(path: &Path) -> Result<String, SecretError> {
    let path = path.to_path_buf();
    match crate::read_limit::read_to_string(&path, crate::read_limit::SECRET) {
        Ok(v) => {
            let v = v.trim_end_matches(['\n', '\r']).to_owned();
            if v.is_empty() {
                return Err(SecretError::FileEmpty { path });
            }
            register(&v);
            Ok(v)
        }
        Err(error) => Err(SecretError::FileUnreadable { path, error }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            redact("GET https://bob:hunter2@example.com/x?token=abc&page=2 failed"),
            "GET https://***@example.com/x?token=***&page=2 failed"
        );
        assert_eq!(
            redact("http://127.0.0.1:8100/health"),
            "http://127.0.0.1:8100/health"
        );
    }

    #[test]
    fn unreadable_secrets_say_where() {
        let e = from_env("OPSRUN_UNIT_TEST_NEVER_SET").unwrap_err();
        assert!(
            matches!(&e, SecretError::EnvUnset { name } if name == "OPSRUN_UNIT_TEST_NEVER_SET")
        );
        assert_eq!(
            e.to_string(),
            "environment variable OPSRUN_UNIT_TEST_NEVER_SET is not set"
        );
        let e = from_file(Path::new("/nonexistent/opsrun/secret")).unwrap_err();
        assert!(
            matches!(&e, SecretError::FileUnreadable { error, .. } if error.kind() == std::io::ErrorKind::NotFound)
        );
        assert_eq!(
            e.to_string(),
            "cannot read secret file /nonexistent/opsrun/secret: No such file or directory"
        );
    }

    #[test]
    fn registered_values() {
        register("s3cr3t-value");
        assert_eq!(redact("auth s3cr3t-value!"), "auth ***!");
    }
}
