//! Expectations shared by kinds that read a body or an output: JSON values
//! by JSON Pointer or dotted path, and exit/status code lists.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_json::Value;

use crate::values::reason::{Code, Reason};

/// The reason catalog entries of JSON expectations (`http`, `command`).
pub(crate) static CODES: &[&Code] = &[&NOT_JSON, &MISSING, &MISMATCH];

static NOT_JSON: Code = Code::new(
    "json.invalid",
    "body is not JSON ({error}), expected {want}",
);
static MISSING: Code = Code::new("json.missing", "json {path} is missing, expected {want}");
static MISMATCH: Code = Code::new("json.mismatch", "json {path} = {got}, expected {want}");

/// `json: {status: healthy, /checks/db: ok, items.0.name: x}`.
pub type JsonExpect = BTreeMap<String, Value>;

/// Looks up `path` (a JSON Pointer when it starts with `/`, else a dotted
/// path whose numeric segments index arrays).
pub fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    if path.starts_with('/') || path.is_empty() {
        return doc.pointer(path);
    }
    let mut cur = doc;
    for seg in path.split('.') {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Equality as an operator means it: numbers compare numerically
/// (`200` equals `200.0`), a YAML string equals a JSON number or bool with
/// the same text (`"1"` vs `1`), everything else structurally.
fn matches(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Number(a), Value::String(b)) => a.to_string() == *b,
        (Value::Bool(a), Value::String(b)) => a.to_string() == *b,
        _ => actual == expected,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// Checks every expectation against `body`; returns the first mismatch,
/// or `None` when all hold. Values in the reason are JSON text, cut at 60
/// characters.
pub fn check_json(body: &[u8], expect: &JsonExpect) -> Option<Reason> {
    if expect.is_empty() {
        return None;
    }
    let doc: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Some(
                Reason::new(&NOT_JSON)
                    .with("error", e.to_string())
                    .with("want", describe(expect)),
            );
        }
    };
    for (path, want) in expect {
        match lookup(&doc, path) {
            None => {
                return Some(
                    Reason::new(&MISSING)
                        .with("path", path)
                        .with("want", short(want)),
                );
            }
            Some(got) if !matches(got, want) => {
                return Some(
                    Reason::new(&MISMATCH)
                        .with("path", path)
                        .with("got", short(got))
                        .with("want", short(want)),
                );
            }
            Some(_) => {}
        }
    }
    None
}

fn describe(expect: &JsonExpect) -> String {
    expect
        .iter()
        .map(|(k, v)| format!("{k} = {}", short(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A list of integer codes written as one int or a list: `exit: 0`, `exit: [0, 1]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Codes(pub Vec<i64>);

impl<'de> Deserialize<'de> for Codes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Codes, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Codes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an exit code like 0, or a list like [0, 1]")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Codes, E> {
                Ok(Codes(vec![v]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Codes, E> {
                Ok(Codes(vec![v as i64]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Codes, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = s.next_element::<i64>()? {
                    out.push(v);
                }
                if out.is_empty() {
                    return Err(de::Error::custom(
                        "an empty list accepts nothing: give at least one code",
                    ));
                }
                Ok(Codes(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointer_and_dotted() {
        let d = json!({"status": "healthy", "checks": [{"name": "db", "ok": true}]});
        assert_eq!(lookup(&d, "/status"), Some(&json!("healthy")));
        assert_eq!(lookup(&d, "status"), Some(&json!("healthy")));
        assert_eq!(lookup(&d, "checks.0.name"), Some(&json!("db")));
        assert_eq!(lookup(&d, "/checks/0/ok"), Some(&json!(true)));
        assert_eq!(lookup(&d, "checks.x"), None);
    }

    #[test]
    fn mismatch_messages() {
        let mut e = JsonExpect::new();
        e.insert("status".into(), json!("healthy"));
        assert_eq!(check_json(br#"{"status":"healthy"}"#, &e), None);
        let r = check_json(br#"{"status":"degraded"}"#, &e).unwrap();
        assert_eq!(r.code.code, "json.mismatch");
        assert_eq!(r.param("path"), Some(&"status".into()));
        assert_eq!(r.param("got"), Some(&r#""degraded""#.into()));
        assert_eq!(r.param("want"), Some(&r#""healthy""#.into()));
        let r = check_json(b"<html>", &e).unwrap();
        assert_eq!(r.code.code, "json.invalid");
        assert_eq!(r.param("want"), Some(&r#"status = "healthy""#.into()));
        e.insert("count".into(), json!(3));
        assert_eq!(check_json(br#"{"status":"healthy","count":3.0}"#, &e), None);
    }
}
