//! Bounce records from input files.
//!
//! JSON lines: one object per line with at least `reply`, and optionally
//! `mx`, `rcpt` and `status` (a status reported next to the reply, such as a
//! DSN `Status:` field). Every other field is kept and passed through to the
//! output. A line that is not such an object is an error for that line only.
//!
//! ```
//! let rec = mxrules::input::parse_json_line(r#"{"mx":"mxs.mail.ru","reply":"550 must be local recipient","id":7}"#).unwrap();
//! assert_eq!(rec.bounce.mx.as_deref(), Some("mxs.mail.ru"));
//! assert_eq!(rec.extra["id"], 7);
//! ```

use serde_json::{Map, Value};

use crate::classify::Bounce;
use crate::status::Status;

/// A bounce and the input fields it did not use.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub bounce: Bounce,
    pub extra: Map<String, Value>,
}

/// Reads one JSON line. The error says what is wrong, without the position
/// (the caller knows it).
pub fn parse_json_line(line: &str) -> Result<Record, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(mut map) = v else {
        return Err(String::from("expected a JSON object"));
    };
    let mut take_str = |key: &str| -> Result<Option<String>, String> {
        match map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!(
                "field `{key}` must be a string, found {}",
                kind(&other)
            )),
        }
    };
    let reply = take_str("reply")?.ok_or_else(|| String::from("missing field `reply`"))?;
    let mx = take_str("mx")?;
    let rcpt = take_str("rcpt")?;
    let status = match take_str("status")? {
        None => None,
        Some(s) if s.trim().is_empty() => None,
        Some(s) => Some(
            s.trim()
                .parse::<Status>()
                .map_err(|e| format!("field `status` is not a status: {e}"))?,
        ),
    };
    Ok(Record {
        bounce: Bounce {
            mx,
            rcpt,
            reply,
            status,
        },
        extra: map,
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
