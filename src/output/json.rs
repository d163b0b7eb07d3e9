//! JSON lines: one object per classified bounce.
//!
//! The object holds the input's fields (those passed through, its
//! position, `mx`, `rcpt`, `reply`, `time`, `incoming_category`) and the
//! classification's (`category`, `initial_status`, `rule`, `scope`,
//! `status`, `unmatched`, `verdict`), with keys in byte order, exactly as a
//! `serde_json` map writes them. The classification wins over the record,
//! the record over the fields passed through.

use crate::core::status::Status;
use crate::input::{Extra, Text, View};
use crate::runtime::classify::ClassificationRef;

use super::{push_number, status_text};

/// Appends the JSON line of record `v`, read from `file`, classified as
/// `c`; `names` keeps the rule names already escaped.
pub(super) fn push_record(
    out: &mut Vec<u8>,
    names: &mut Names,
    file: &str,
    v: &View<'_>,
    c: &ClassificationRef<'_>,
) {
    // Every member is written after a comma; the first comma becomes the brace.
    let start = out.len();
    let mut extra = Passed {
        fields: v.extra.iter().peekable(),
    };
    // A text member of the record; `flag` says whether the record's reader
    // found it plain (nothing to escape).
    let text = |s, flag: u8| {
        Some(Text {
            text: s,
            plain: v.plain & flag != 0,
        })
    };
    extra.before(out, "category", c.category.is_some());
    if let Some(category) = c.category {
        out.extend_from_slice(b",\"category\":\"");
        out.extend_from_slice(category.as_str().as_bytes());
        out.push(b'"');
    }
    extra.member(
        out,
        "incoming_category",
        v.incoming_category
            .and_then(|t| text(t, View::PLAIN_INCOMING_CATEGORY)),
    );
    extra.before(out, "initial_status", true);
    out.extend_from_slice(b",\"initial_status\":");
    push_status(out, c.initial_status);
    extra.before(out, "input", true);
    out.extend_from_slice(b",\"input\":{\"file\":");
    names.push_file(out, file);
    out.extend_from_slice(b",\"line\":");
    push_number(out, v.line as u64);
    out.push(b'}');
    extra.member(out, "mx", v.mx.and_then(|t| text(t, View::PLAIN_MX)));
    extra.member(out, "rcpt", v.rcpt.and_then(|t| text(t, View::PLAIN_RCPT)));
    extra.member(out, "reply", text(v.reply, View::PLAIN_REPLY));
    let rule_names = c.rule_index.and_then(|r| names.get(r, c));
    extra.before(out, "rule", c.rule.is_some());
    if let Some(rule) = c.rule {
        out.extend_from_slice(b",\"rule\":");
        match rule_names {
            Some((rule, _)) => out.extend_from_slice(rule),
            None => push_str(out, rule),
        }
    }
    extra.before(out, "scope", c.scope.is_some());
    if let Some(scope) = c.scope {
        out.extend_from_slice(b",\"scope\":");
        match rule_names {
            Some((_, scope)) => out.extend_from_slice(scope),
            None => push_str(out, scope),
        }
    }
    extra.before(out, "status", true);
    out.extend_from_slice(b",\"status\":");
    push_status(out, c.status);
    extra.member(out, "time", v.time.and_then(|t| text(t, View::PLAIN_TIME)));
    extra.before(out, "unmatched", c.unmatched);
    if c.unmatched {
        out.extend_from_slice(b",\"unmatched\":true");
    }
    extra.before(out, "verdict", true);
    out.extend_from_slice(b",\"verdict\":\"");
    out.extend_from_slice(c.verdict.as_str().as_bytes());
    out.push(b'"');
    extra.rest(out);
    if let Some(comma) = out.get_mut(start) {
        *comma = b'{';
    }
    out.extend_from_slice(b"}\n");
}

/// The fields passed through, written in order among the others.
struct Passed<'a, I: Iterator<Item = (Text<'a>, Extra<'a>)>> {
    fields: std::iter::Peekable<I>,
}

impl<'a, I: Iterator<Item = (Text<'a>, Extra<'a>)>> Passed<'a, I> {
    /// Writes the fields whose names come before `key`, and the one named
    /// `key` unless `taken` (then it is dropped).
    #[inline]
    fn before(&mut self, out: &mut Vec<u8>, key: &str, taken: bool) {
        while let Some((name, _)) = self.fields.peek() {
            let name_bytes = name.text.as_bytes();
            let order = match (name_bytes.first(), key.as_bytes().first()) {
                (Some(a), Some(b)) if a != b => a.cmp(b),
                _ => name_bytes.cmp(key.as_bytes()),
            };
            match order {
                std::cmp::Ordering::Greater => return,
                std::cmp::Ordering::Equal if taken => {
                    self.fields.next();
                    return;
                }
                _ => {
                    if let Some((name, value)) = self.fields.next() {
                        push_field(out, name, value);
                    }
                }
            }
        }
    }

    /// Writes the fields before `key`, then member `key` when it has a
    /// value.
    fn member(&mut self, out: &mut Vec<u8>, key: &str, value: Option<Text<'_>>) {
        self.before(out, key, value.is_some());
        if let Some(t) = value {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            push_text(out, t);
        }
    }

    /// Writes the fields left.
    fn rest(&mut self, out: &mut Vec<u8>) {
        for (name, value) in self.fields.by_ref() {
            push_field(out, name, value);
        }
    }
}

/// A member passed through, after a comma.
fn push_field(out: &mut Vec<u8>, name: Text<'_>, value: Extra<'_>) {
    out.push(b',');
    push_text(out, name);
    out.push(b':');
    match value {
        Extra::Str(s) => push_text(out, s),
        Extra::Json(j) => push_value(out, j),
    }
}

/// A JSON string; one known to need no escaping is copied as it is.
fn push_text(out: &mut Vec<u8>, t: Text<'_>) {
    if t.plain {
        out.reserve(t.text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(t.text.as_bytes());
        out.push(b'"');
    } else {
        push_str(out, t.text);
    }
}

/// A JSON value as `serde_json` writes it.
fn push_value(out: &mut Vec<u8>, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => push_str(out, s),
        Value::Number(n) if n.is_u64() => push_number(out, n.as_u64().unwrap_or_default()),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Null => out.extend_from_slice(b"null"),
        // Writing to a vector cannot fail.
        other => drop(serde_json::to_writer(&mut *out, other)),
    }
}

/// A status as a JSON string, or null.
fn push_status(out: &mut Vec<u8>, status: Option<Status>) {
    match status {
        // The usual status, one digit a part.
        Some(s) if s.class < 10 && s.subject < 10 && s.detail < 10 => {
            let digit = |n: u16| b'0' + n as u8;
            out.extend_from_slice(&[
                b'"',
                s.class + b'0',
                b'.',
                digit(s.subject),
                b'.',
                digit(s.detail),
                b'"',
            ]);
        }
        Some(s) => {
            let mut text = [0u8; 24];
            text[0] = b'"';
            let n = 1 + status_text(&mut text[1..], s);
            text[n] = b'"';
            out.extend_from_slice(&text[..=n]);
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends `s` as a JSON string, escaped as `serde_json` escapes it: `"`,
/// `\` and the control characters (`\b`, `\t`, `\n`, `\f`, `\r`, else
/// `\u00XX`).
///
/// ```
/// let mut out = Vec::new();
/// mxrules::output::json::push_str(&mut out, "550 \"no\"\tuser");
/// assert_eq!(out, br#""550 \"no\"\tuser""#);
/// ```
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut rest = s.as_bytes();
    out.reserve(rest.len() + 2);
    out.push(b'"');
    while let Some(i) = crate::core::bytes::find_json_special(rest) {
        out.extend_from_slice(&rest[..i]);
        let b = rest[i];
        rest = &rest[i + 1..];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// The JSON strings of the deciding rules' locations and scope names,
/// escaped once per rule: a table indexed by the rule; and that of the
/// last input file named.
#[derive(Debug)]
pub(super) struct Names {
    rules: Vec<Option<EscapedNames>>,
    file: String,
    file_json: Vec<u8>,
}

/// A rule's location and scope name as JSON strings.
type EscapedNames = (Box<[u8]>, Box<[u8]>);

impl Names {
    pub(super) fn new() -> Names {
        Names {
            rules: Vec::new(),
            file: String::new(),
            file_json: b"\"\"".to_vec(),
        }
    }

    /// Appends the JSON string of the input file name `file`.
    fn push_file(&mut self, out: &mut Vec<u8>, file: &str) {
        if file != self.file {
            self.file.clear();
            self.file.push_str(file);
            self.file_json.clear();
            push_str(&mut self.file_json, file);
        }
        out.extend_from_slice(&self.file_json);
    }

    /// The JSON strings of the location and scope of `c`'s deciding rule
    /// `r`.
    fn get(&mut self, r: usize, c: &ClassificationRef<'_>) -> Option<(&[u8], &[u8])> {
        if r >= self.rules.len() {
            self.rules.resize(r + 1, None);
        }
        let slot = self.rules.get_mut(r)?;
        let (rule, scope) = slot.get_or_insert_with(|| {
            let json = |s: Option<&str>| {
                let mut out = Vec::new();
                push_str(&mut out, s.unwrap_or(""));
                out.into_boxed_slice()
            };
            (json(c.rule), json(c.scope))
        });
        Some((rule, scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_as_they_display() {
        for (class, subject, detail) in [(5, 1, 1), (4, 7, 28), (2, 0, 0), (5, 7, 999), (4, 10, 9)]
        {
            let s = Status::new(class, subject, detail);
            let mut out = Vec::new();
            push_status(&mut out, Some(s));
            assert_eq!(out, format!("\"{s}\"").into_bytes());
        }
        let mut out = Vec::new();
        push_status(&mut out, None);
        assert_eq!(out, b"null");
    }

    #[test]
    fn strings_as_serde_json_writes_them() {
        let mut all: String = (0..0x80u8).map(char::from).collect();
        all.push_str("é\u{2028}\u{10ffff}\u{7f}\"\\");
        for start in 0..all.len() {
            let Some(s) = all.get(start..) else { continue };
            let mut out = Vec::new();
            push_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap_or_default(), "{s:?}");
        }
    }
}
