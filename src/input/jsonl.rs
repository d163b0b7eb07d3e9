//! JSON lines.
//!
//! One object per line with at least `reply`, and optionally `mx`, `rcpt`
//! and `status` (a status reported next to the reply, such as a DSN
//! `Status:` field), and `time` (when the bounce happened, see
//! [`super::time_parts`]) and `incoming_category` (a category the bounce
//! came with, as PowerMTA's `bounceCat`). Every other field is kept and
//! passed through to the output. A line that is not such an object is a
//! bad record for that line only; blank lines are ignored.
//!
//! One reader: lines in the usual shape are read by a scanner that borrows
//! their strings and builds no map; any other line (nesting, big numbers,
//! surrogate escapes, a key given twice, a bad line) is read by
//! `serde_json`, its fallback, which also words what is wrong. Both give
//! the same record for a line.
//!
//! ```
//! use mxrules::input::{Input, InputFormat, Item};
//! let line = r#"{"mx":"mxs.mail.ru","reply":"550 must be local recipient","id":7}"#;
//! let input = Input::from_reader(std::io::Cursor::new(line), "a.jsonl", InputFormat::Jsonl).unwrap();
//! let Some(Item::Record(rec)) = input.items().next() else { panic!() };
//! assert_eq!(rec.bounce.mx.as_deref(), Some("mxs.mail.ru"));
//! assert_eq!(rec.extra["id"], 7);
//! ```

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Value};

use super::lines::{split_text_lines, too_long};
use super::{Extras, InputRecord, Item, LineItem, Position, View};
use crate::core::bounce::Bounce;
use crate::core::bytes::{find_json_special, find_json_special_near, trim};
use crate::core::status::{Category, Status, StatusError};

/// What is wrong with a JSON line.
#[derive(Debug)]
#[non_exhaustive]
pub enum JsonLineError {
    /// The line is not valid JSON.
    Invalid(serde_json::Error),
    /// The line is JSON, but not an object.
    NotAnObject,
    /// The object has no `reply` (or a null one).
    MissingReply,
    /// `reply`, `mx`, `rcpt` or `status` is neither a string nor null.
    NotAString {
        /// The field.
        field: &'static str,
        /// What it is instead: `a number`, `an array`, ….
        found: &'static str,
    },
    /// `status` is not a status.
    BadStatus(StatusError),
}

impl JsonLineError {
    /// The line is not valid JSON.
    pub fn is_invalid(&self) -> bool {
        matches!(self, JsonLineError::Invalid(_))
    }

    /// The line is JSON, but not an object.
    pub fn is_not_an_object(&self) -> bool {
        matches!(self, JsonLineError::NotAnObject)
    }

    /// The object has no `reply`.
    pub fn is_missing_reply(&self) -> bool {
        matches!(self, JsonLineError::MissingReply)
    }

    /// A field that must be a string is not one.
    pub fn is_not_a_string(&self) -> bool {
        matches!(self, JsonLineError::NotAString { .. })
    }

    /// `status` is not a status.
    pub fn is_bad_status(&self) -> bool {
        matches!(self, JsonLineError::BadStatus(_))
    }
}

impl fmt::Display for JsonLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonLineError::Invalid(e) => write!(f, "invalid JSON: {e}"),
            JsonLineError::NotAnObject => f.write_str("expected a JSON object"),
            JsonLineError::MissingReply => f.write_str("missing field `reply`"),
            JsonLineError::NotAString { field, found } => {
                write!(f, "field `{field}` must be a string, found {found}")
            }
            JsonLineError::BadStatus(e) => write!(f, "field `status` is not a status: {e}"),
        }
    }
}

impl std::error::Error for JsonLineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JsonLineError::Invalid(e) => Some(e),
            _ => None,
        }
    }
}

/// A bounce and the fields of its line it did not use (`time` and
/// `incoming_category` among them), as [`parse_json_line`] reads them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Record {
    /// The bounce: `reply`, `mx`, `rcpt` and `status`.
    pub bounce: Bounce,
    /// Every other field, by name.
    pub extra: Map<String, Value>,
}

impl Record {
    /// The record as read at `position`, its `time` and `incoming_category`
    /// fields (strings) taken out of the pass-through fields.
    pub(crate) fn into_input(mut self, position: Position) -> InputRecord {
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
            self.bounce.reported_category = Category::from_word(c.trim());
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

/// Reads one JSON line (trimmed) with `serde_json`: the general way of the
/// reader, for the lines its scanner leaves.
pub(crate) fn parse_json_line(line: &str) -> Result<Record, JsonLineError> {
    let v: Value = serde_json::from_str(line).map_err(JsonLineError::Invalid)?;
    let Value::Object(mut map) = v else {
        return Err(JsonLineError::NotAnObject);
    };
    let mut take_str = |field: &'static str| -> Result<Option<String>, JsonLineError> {
        match map.remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(JsonLineError::NotAString {
                field,
                found: kind(&other),
            }),
        }
    };
    let reply = take_str("reply")?.ok_or(JsonLineError::MissingReply)?;
    let mx = take_str("mx")?;
    let rcpt = take_str("rcpt")?;
    let status = match take_str("status")? {
        None => None,
        Some(s) if s.trim().is_empty() => None,
        Some(s) => Some(
            s.trim()
                .parse::<Status>()
                .map_err(JsonLineError::BadStatus)?,
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

/// Reads the JSON lines of a [`super::LineBatch`], the first numbered
/// `first`, giving what each holds to `f`.
///
/// Lines in the usual shape (an object whose `reply`, `mx`, `rcpt` and
/// `status` are strings or null, each key once) are read by [`Scan`]
/// without building a map, their strings borrowed from the line unless
/// they hold escapes. Any other line is left to [`parse_json_line`], which
/// also words the error of a bad one, so that both ways give the same
/// record.
pub(crate) fn read_lines<F: FnMut(LineItem<'_>)>(data: &[u8], first: usize, name: &str, f: &mut F) {
    let mut extra = Vec::new();
    for (i, (line, text)) in split_text_lines(data).enumerate() {
        let number = first + i;
        if too_long(line) {
            f(LineItem::Item(super::too_long(Position::new(name, number))));
            continue;
        }
        let Some(text) = text else {
            let at = Position::new(name, number);
            f(LineItem::Item(Item::bad(at, "line is not valid UTF-8")));
            continue;
        };
        // `trim` drops a final `\r` too.
        let text = trim(text);
        if text.is_empty() {
            continue;
        }
        extra.clear();
        match Fields::read(text, &mut extra) {
            Some(fields) => f(LineItem::Record(fields.view(number, &extra))),
            None => f(LineItem::Item(general(text, Position::new(name, number)))),
        }
    }
}

/// The item of a line read by `serde_json`.
fn general(text: &str, at: Position) -> Item {
    match parse_json_line(text) {
        Ok(r) => Item::Record(r.into_input(at)),
        Err(e) => Item::bad(at, e.to_string()),
    }
}

/// A value of a JSON line: a string (borrowed from the line when it has no
/// escapes) or any other value.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar<'a> {
    /// A string.
    Str(Cow<'a, str>),
    /// Any other value.
    Other(Value),
}

/// The fields of a JSON line that make a record (see [`read_lines`]).
#[derive(Default)]
struct Fields<'a> {
    reply: Option<Option<Cow<'a, str>>>,
    mx: Option<Option<Cow<'a, str>>>,
    rcpt: Option<Option<Cow<'a, str>>>,
    status: Option<Option<Cow<'a, str>>>,
    /// Seen, and the value when it is a string.
    time: Option<Option<Cow<'a, str>>>,
    incoming_category: Option<Option<Cow<'a, str>>>,
}

impl<'a> Fields<'a> {
    /// The fields of `text`, the other fields in `extra` sorted by name;
    /// none when the line is not in the usual shape (or not valid).
    fn read(text: &'a str, extra: &mut Vec<(Cow<'a, str>, Scalar<'a>)>) -> Option<Fields<'a>> {
        let fields = Scan::new(text).object(extra)?;
        extra.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if extra.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
        // A missing reply, or a status that is none, is worded by `parse_json_line`.
        fields.reply.as_ref()?.as_ref()?;
        if let Some(Some(s)) = &fields.status
            && !s.trim().is_empty()
            && super::parse_status(s.trim()).is_err()
        {
            return None;
        }
        Some(fields)
    }

    fn view<'b>(&'b self, line: usize, extra: &'b [(Cow<'a, str>, Scalar<'a>)]) -> View<'b> {
        let text = |f: &'b Option<Option<Cow<'a, str>>>| f.as_ref().and_then(|v| v.as_deref());
        let incoming_category = text(&self.incoming_category);
        // Strings without escapes need none in the output either.
        let plain = |f: &Option<Option<Cow<'a, str>>>, flag: u8| match f {
            Some(Some(Cow::Borrowed(_))) => flag,
            _ => 0,
        };
        View {
            line,
            mx: text(&self.mx),
            rcpt: text(&self.rcpt),
            reply: text(&self.reply).unwrap_or(""),
            status: text(&self.status)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .and_then(|s| super::parse_status(s).ok()),
            reported_category: incoming_category.and_then(|c| Category::from_word(c.trim())),
            time: text(&self.time),
            incoming_category,
            extra: Extras::Json(extra),
            plain: plain(&self.mx, View::PLAIN_MX)
                | plain(&self.rcpt, View::PLAIN_RCPT)
                | plain(&self.reply, View::PLAIN_REPLY)
                | plain(&self.time, View::PLAIN_TIME)
                | plain(&self.incoming_category, View::PLAIN_INCOMING_CATEGORY),
        }
    }
}

/// A reader of one JSON object that gives up (`None`) on anything it does
/// not read exactly as `serde_json` does: nested values, numbers other than
/// small integers that `serde_json` is left to read, surrogate escapes, a
/// key given twice, and whatever is not valid JSON.
struct Scan<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Scan<'a> {
        Scan { text, at: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek() == Some(b)).then(|| self.at += 1)
    }

    /// The object that is the whole text, its other fields in `extra`.
    fn object(mut self, extra: &mut Vec<(Cow<'a, str>, Scalar<'a>)>) -> Option<Fields<'a>> {
        let mut fields = Fields::default();
        self.space();
        self.eat(b'{')?;
        self.space();
        if self.eat(b'}').is_none() {
            loop {
                let key = self.string()?;
                self.space();
                self.eat(b':')?;
                self.space();
                let value = self.value()?;
                fields.put(key, value, extra)?;
                self.space();
                if self.eat(b',').is_some() {
                    self.space();
                    continue;
                }
                self.eat(b'}')?;
                break;
            }
        }
        self.space();
        (self.at == self.text.len()).then_some(fields)
    }

    fn value(&mut self) -> Option<Scalar<'a>> {
        let rest = &self.text.as_bytes()[self.at..];
        let (value, len) = match rest.first()? {
            b'"' => return self.string().map(Scalar::Str),
            b't' if rest.starts_with(b"true") => (Value::Bool(true), 4),
            b'f' if rest.starts_with(b"false") => (Value::Bool(false), 5),
            b'n' if rest.starts_with(b"null") => (Value::Null, 4),
            b'-' | b'0'..=b'9' => return self.number().map(Scalar::Other),
            _ => return None,
        };
        self.at += len;
        Some(Scalar::Other(value))
    }

    /// A number: small integers read here, any other left to `serde_json`.
    fn number(&mut self) -> Option<Value> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let negative = self.eat(b'-').is_some();
        let digits = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        let n = self.at - digits;
        // Up to 18 digits, no leading zero, no `-0`, no fraction or exponent.
        let zero = n > 0 && bytes[digits] == b'0';
        let plain = (1..=18).contains(&n)
            && (!zero || (n == 1 && !negative))
            && !matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        if plain {
            let value = bytes[digits..self.at]
                .iter()
                .fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
            return Some(if negative {
                // At most 18 digits: it fits.
                Value::from(-i64::try_from(value).ok()?)
            } else {
                Value::from(value)
            });
        }
        while let Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') = self.peek() {
            self.at += 1;
        }
        match serde_json::from_str::<Value>(&self.text[start..self.at]).ok()? {
            v @ Value::Number(_) => Some(v),
            _ => None,
        }
    }

    /// A string, borrowed from the text unless it has escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let bytes = self.text.as_bytes();
        let start = self.at;
        let end = start + find_json_special_near(&bytes[start..])?;
        if bytes[end] == b'"' {
            self.at = end + 1;
            return Some(Cow::Borrowed(&self.text[start..end]));
        }
        let mut out = String::with_capacity(end - start + 16);
        out.push_str(&self.text[start..end]);
        let mut at = end;
        loop {
            match bytes[at] {
                b'"' => {
                    self.at = at + 1;
                    return Some(Cow::Owned(out));
                }
                b'\\' => {}
                // A control character: not valid JSON.
                _ => return None,
            }
            let escape = *bytes.get(at + 1)?;
            at += 2;
            out.push(match escape {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let hex = bytes.get(at..at + 4)?;
                    at += 4;
                    let code = hex
                        .iter()
                        .try_fold(0u32, |v, &h| char::from(h).to_digit(16).map(|d| v * 16 + d))?;
                    // Surrogates (pairs or not) are left to `serde_json`.
                    char::from_u32(code)?
                }
                _ => return None,
            });
            let next = at + find_json_special(&bytes[at..])?;
            out.push_str(&self.text[at..next]);
            at = next;
        }
    }
}

impl<'a> Fields<'a> {
    /// Takes in one member of the object; none when the line is to be read
    /// by [`parse_json_line`] (a field named twice, `reply`, `mx`, `rcpt`
    /// or `status` neither a string nor null).
    fn put(
        &mut self,
        key: Cow<'a, str>,
        value: Scalar<'a>,
        extra: &mut Vec<(Cow<'a, str>, Scalar<'a>)>,
    ) -> Option<()> {
        let (slot, string_only) = match key.as_ref() {
            "reply" => (&mut self.reply, true),
            "mx" => (&mut self.mx, true),
            "rcpt" => (&mut self.rcpt, true),
            "status" => (&mut self.status, true),
            "time" => (&mut self.time, false),
            "incoming_category" => (&mut self.incoming_category, false),
            _ => {
                extra.push((key, value));
                return Some(());
            }
        };
        if slot.is_some() {
            return None;
        }
        match value {
            Scalar::Str(s) => *slot = Some(Some(s)),
            Scalar::Other(Value::Null) if string_only => *slot = Some(None),
            Scalar::Other(_) if string_only => return None,
            // `time` and `incoming_category` that are no strings are passed through.
            other => {
                *slot = Some(None);
                extra.push((key, other));
            }
        }
        Some(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The scanner, when it reads `text`, reads it as `serde_json` does.
    pub(crate) fn both_ways(text: &str) {
        let mut extra = Vec::new();
        if let Some(fields) = Fields::read(text, &mut extra) {
            let scanned = Item::Record(fields.view(1, &extra).to_record("in"));
            assert_eq!(scanned, general(text, Position::new("in", 1)), "{text:?}");
        }
    }

    #[test]
    fn the_scanner_reads_as_serde_json_reads() {
        for line in [
            r#"{"reply":"550 5.1.1 no such user","mx":"mx.example.com","id":7}"#,
            r#"{"reply":"a\u0041\n","status":" 5.1.1 ","time":"2024-05-01","incoming_category":" bad-mailbox "}"#,
            r#"{"reply":"x","time":5,"incoming_category":null,"n":-12,"f":1.5,"z":[1]}"#,
            r#"{"reply":"x","mx":null,"rcpt":"a@b.c","status":""}"#,
        ] {
            both_ways(line);
        }
        // Lines the scanner leaves are worded by `serde_json`.
        let mut extra = Vec::new();
        for line in [
            r#"{"reply":"x","reply":"y"}"#,
            r#"{"reply":1}"#,
            r#"{"mx":"m"}"#,
            "[1]",
        ] {
            assert!(Fields::read(line, &mut extra).is_none(), "{line}");
        }
        let at = Position::new("in", 3);
        assert_eq!(
            general(r#"{"reply":1}"#, at.clone()),
            Item::bad(at.clone(), "field `reply` must be a string, found a number")
        );
        assert_eq!(
            general(r#"{"mx":"m"}"#, at.clone()),
            Item::bad(at.clone(), "missing field `reply`")
        );
        assert_eq!(
            general(r#"{"reply":"x","status":"5.x.1"}"#, at.clone()),
            Item::bad(
                at,
                "field `status` is not a status: a status is three numbers separated by dots, like `5.1.1`"
            )
        );
        assert!(parse_json_line("[1]").is_err_and(|e| e.is_not_an_object()));
        assert!(parse_json_line("{").is_err_and(|e| e.is_invalid()));
    }
}
