//! CSV: a header line, then one row per classified bounce; and the CSV
//! quoting of the crate ([`push_field`], [`field`]).
//!
//! Fields are quoted as RFC 4180 says: a field holding a comma, a quote or
//! a line break is written between quotes, its quotes doubled; any other
//! is written as it is.
//!
//! ```
//! use mxrules::output::csv;
//! assert_eq!(csv::field("550 no such user"), "550 no such user");
//! assert_eq!(csv::field("550 \"no\", said it"), "\"550 \"\"no\"\", said it\"");
//! ```

use std::borrow::Cow;

use crate::input::View;
use crate::runtime::classify::ClassificationRef;

use super::{push_number, status_text};

/// The columns of every classified row.
const HEADER: &str =
    "file,line,mx,rcpt,status,initial_status,verdict,category,rule,unmatched,reply";

/// The columns added when the output is wide (the first input is not JSON
/// lines).
const WIDE: &str = ",time,incoming_category";

/// Whether `s` must be quoted.
fn needs_quotes(s: &str) -> bool {
    s.contains([',', '"', '\n', '\r'])
}

/// Appends `s` as one CSV field: quoted (quotes doubled) when it holds a
/// comma, a quote or a line break.
pub fn push_field(out: &mut Vec<u8>, s: &str) {
    if !needs_quotes(s) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    out.push(b'"');
    for part in s.split_inclusive('"') {
        out.extend_from_slice(part.as_bytes());
        if part.ends_with('"') {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

/// `s` as one CSV field, quoted as [`push_field`] quotes it; borrowed when
/// it needs no quotes.
pub fn field(s: &str) -> Cow<'_, str> {
    if needs_quotes(s) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

/// Appends the header line; `wide` adds `time` and `incoming_category`.
pub(super) fn push_header(out: &mut Vec<u8>, wide: bool) {
    out.extend_from_slice(HEADER.as_bytes());
    if wide {
        out.extend_from_slice(WIDE.as_bytes());
    }
    out.push(b'\n');
}

/// Appends the row of record `v`, read from `file`, classified as `c`.
pub(super) fn push_record(
    out: &mut Vec<u8>,
    file: &str,
    v: &View<'_>,
    c: &ClassificationRef<'_>,
    wide: bool,
) {
    push_field(out, file);
    out.push(b',');
    push_number(out, v.line as u64);
    out.push(b',');
    push_field(out, v.mx.unwrap_or(""));
    out.push(b',');
    push_field(out, v.rcpt.unwrap_or(""));
    out.push(b',');
    for status in [c.status, c.initial_status] {
        if let Some(s) = status {
            let mut text = [0u8; 23];
            let n = status_text(&mut text, s);
            out.extend_from_slice(&text[..n]);
        }
        out.push(b',');
    }
    out.extend_from_slice(c.verdict.as_str().as_bytes());
    out.push(b',');
    if let Some(cat) = c.category {
        out.extend_from_slice(cat.as_str().as_bytes());
    }
    out.push(b',');
    push_field(out, c.rule.unwrap_or(""));
    out.push(b',');
    out.extend_from_slice(if c.unmatched { b"true" } else { b"false" });
    out.push(b',');
    push_field(out, v.reply);
    if wide {
        out.push(b',');
        push_field(out, v.time.unwrap_or(""));
        out.push(b',');
        push_field(out, v.incoming_category.unwrap_or(""));
    }
    out.push(b'\n');
}

/// A quarantine list: the header `address,status,rule`, then one row per
/// `(address, status, rule)` given, in the order given.
pub fn quarantine_list<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> Vec<u8> {
    let mut out = b"address,status,rule\n".to_vec();
    for (address, status, rule) in rows {
        push_field(&mut out, address);
        out.push(b',');
        out.extend_from_slice(status.as_bytes());
        out.push(b',');
        push_field(&mut out, rule);
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        for (s, quoted) in [
            ("", ""),
            ("plain text", "plain text"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("\"", "\"\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("cr\r", "\"cr\r\""),
        ] {
            let mut out = Vec::new();
            push_field(&mut out, s);
            assert_eq!(out, quoted.as_bytes(), "{s:?}");
            assert_eq!(field(s), quoted, "{s:?}");
        }
    }
}
