//! JSON lines.
//!
//! The format one object per line with at least `reply`, and optionally
//! `mx`, `rcpt` and `status` (a status reported next to the reply, such as a
//! DSN `Status:` field), and `time` (when the bounce happened, see
//! [`super::time_parts`]) and `incoming_category` (a category the bounce
//! came with, as PowerMTA's `bounceCat`). Every other field is kept and passed through to
//! the output. A line that is not such an object is an error for that line
//! only; blank lines are ignored.
//!
//! ```
//! let rec = mxrules::input::parse_json_line(r#"{"mx":"mxs.mail.ru","reply":"550 must be local recipient","id":7}"#).unwrap();
//! assert_eq!(rec.bounce.mx.as_deref(), Some("mxs.mail.ru"));
//! assert_eq!(rec.extra["id"], 7);
//! ```

use serde_json::{Map, Value};

use super::lines::{Lines, MAX_LINE};
use super::{InputRecord, Item, Position, Source};
use crate::classify::Bounce;
use crate::status::Status;

/// The records of a JSON-lines input.
pub(crate) struct Reader {
    lines: Lines,
    name: String,
}

impl Reader {
    pub(crate) fn new(reader: Source, name: String) -> Reader {
        Reader {
            lines: Lines::new(reader),
            name,
        }
    }
}

impl Iterator for Reader {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            let Some(line) = self.lines.next_line() else {
                let e = self.lines.error.take()?;
                let at = Position::new(self.name.clone(), self.lines_read() + 1);
                return Some(Item::bad(at, format!("cannot read: {e}")));
            };
            let at = Position::new(self.name.clone(), line.number);
            if line.truncated {
                return Some(Item::bad(
                    at,
                    format!("line is longer than {} MiB", MAX_LINE >> 20),
                ));
            }
            let Ok(text) = std::str::from_utf8(line.bytes) else {
                return Some(Item::bad(at, "line is not valid UTF-8"));
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            return Some(match parse_json_line(text) {
                Ok(r) => Item::Record(r.into_input(at)),
                Err(e) => Item::bad(at, e),
            });
        }
    }
}

impl Reader {
    fn lines_read(&self) -> usize {
        self.lines.number()
    }
}

impl Record {
    /// The record as read at `position`, its `time` and `incoming_category`
    /// fields (strings) taken out of the pass-through fields.
    pub fn into_input(mut self, position: Position) -> InputRecord {
        let mut take = |key: &str| match self.extra.get(key) {
            Some(Value::String(_)) => match self.extra.remove(key) {
                Some(Value::String(t)) => Some(t),
                _ => None,
            },
            _ => None,
        };
        let time = take("time");
        let incoming_category = take("incoming_category");
        if let Some(c) = incoming_category.as_deref() {
            self.bounce.reported_category = crate::status::Category::from_word(c.trim());
        }
        InputRecord {
            bounce: self.bounce,
            time,
            incoming_category,
            extra: self.extra,
            position,
        }
    }
}

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
            ..Bounce::default()
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
