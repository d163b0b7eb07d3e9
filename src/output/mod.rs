//! Classified records as bytes: the one place output is encoded.
//!
//! `mxrules classify` writes one line per bounce, in one of two
//! [`Format`]s:
//!
//! - **JSON lines** ([`json`]): one object per bounce, the input's fields
//!   passed through, its position (`input: {file, line}`) and the verdict,
//!   with keys in byte order, byte for byte as a `serde_json` map writes
//!   it, but written straight from the borrowed record: no map is built,
//!   and strings the reader found plain are copied without a scan.
//! - **CSV** ([`csv`]): a header line, then
//!   `file,line,mx,rcpt,status,initial_status,verdict,category,rule,unmatched,reply`,
//!   and `time,incoming_category` when the output is wide. Fields are quoted
//!   as RFC 4180 says ([`csv::push_field`]), the one CSV quoting of the crate.
//!
//! An [`Encoder`] writes records into a byte buffer; it keeps the JSON
//! strings of the rule names it has written, so that each is escaped once.
//!
//! ```
//! use mxrules::core::bounce::BounceRef;
//! use mxrules::input::{Extras, View};
//! use mxrules::output::{Encoder, Format};
//! use mxrules::runtime::classify::{Classifier, Normalizer};
//! use mxrules::syntax::load::Parsed;
//!
//! let mut parsed = Parsed::default();
//! parsed.add_text("policy.rules", "policy { 5.1.1 -> quarantine  5.*.* -> hard  4.*.* -> soft }");
//! let classifier = mxrules::compile::classifier(mxrules::check::check(&parsed).rules.unwrap()).unwrap();
//!
//! let map = serde_json::Map::new();
//! let view = View {
//!     line: 3,
//!     mx: Some("mx.example.org"),
//!     rcpt: Some("ann@example.org"),
//!     reply: "550 5.1.1 no such user",
//!     status: None,
//!     reported_category: None,
//!     time: None,
//!     incoming_category: None,
//!     extra: Extras::Map(&map),
//!     plain: 0,
//! };
//! let mut normalizer = Normalizer::new();
//! let c = classifier.classify_ref(&mut normalizer, BounceRef {
//!     mx: view.mx,
//!     rcpt: view.rcpt,
//!     reply: view.reply,
//!     status: None,
//!     reported_category: None,
//! });
//!
//! let mut out = Vec::new();
//! let mut csv = Encoder::new(Format::Csv, false);
//! csv.header(&mut out);
//! csv.record(&mut out, "bounces.jsonl", &view, &c);
//! assert_eq!(String::from_utf8(out).unwrap(), "\
//!     file,line,mx,rcpt,status,initial_status,verdict,category,rule,unmatched,reply\n\
//!     bounces.jsonl,3,mx.example.org,ann@example.org,5.1.1,5.1.1,quarantine,,,true,550 5.1.1 no such user\n");
//!
//! let mut out = Vec::new();
//! Encoder::new(Format::Jsonl, false).record(&mut out, "bounces.jsonl", &view, &c);
//! let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
//! assert_eq!(line["input"]["line"], 3);
//! assert_eq!(line["verdict"], "quarantine");
//! ```

pub mod csv;
pub mod json;

use crate::core::status::Status;
use crate::input::View;
use crate::runtime::classify::ClassificationRef;

/// How classified records are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// One JSON object per bounce ([`json`]).
    Jsonl,
    /// CSV with a header line ([`csv`]).
    Csv,
}

/// Writes classified records in one [`Format`]; one per thread that
/// writes.
#[derive(Debug)]
pub struct Encoder {
    format: Format,
    wide: bool,
    names: json::Names,
}

impl Encoder {
    /// An encoder of `format`; `wide` adds the `time` and
    /// `incoming_category` columns to CSV (JSON objects have them whenever
    /// the record does).
    pub fn new(format: Format, wide: bool) -> Encoder {
        Encoder {
            format,
            wide: wide && format == Format::Csv,
            names: json::Names::new(),
        }
    }

    /// Appends what comes before the first record: the CSV header line;
    /// nothing for JSON lines.
    pub fn header(&self, out: &mut Vec<u8>) {
        if self.format == Format::Csv {
            csv::push_header(out, self.wide);
        }
    }

    /// Appends the line of record `v`, read from `file`, classified as `c`.
    #[inline]
    pub fn record(
        &mut self,
        out: &mut Vec<u8>,
        file: &str,
        v: &View<'_>,
        c: &ClassificationRef<'_>,
    ) {
        match self.format {
            Format::Jsonl => json::push_record(out, &mut self.names, file, v, c),
            Format::Csv => csv::push_record(out, file, v, c, self.wide),
        }
    }
}

/// Writes `class.subject.detail` (as [`Status`] displays) at the start of
/// `buf` (at least 23 bytes); returns its length.
fn status_text(buf: &mut [u8], s: Status) -> usize {
    let mut n = number_text(buf, u64::from(s.class));
    buf[n] = b'.';
    n += 1;
    n += number_text(&mut buf[n..], u64::from(s.subject));
    buf[n] = b'.';
    n += 1;
    n + number_text(&mut buf[n..], u64::from(s.detail))
}

/// Writes `n` in decimal at the start of `buf` (at least 20 bytes);
/// returns its length.
fn number_text(buf: &mut [u8], mut n: u64) -> usize {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    if n < 10 {
        buf[0] = b'0' + n as u8;
        return 1;
    }
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        digits[i] = b'0' + n as u8;
    }
    let len = digits.len() - i;
    buf[..len].copy_from_slice(&digits[i..]);
    len
}

/// Appends `n` in decimal.
fn push_number(out: &mut Vec<u8>, n: u64) {
    let mut text = [0u8; 20];
    let len = number_text(&mut text, n);
    out.extend_from_slice(&text[..len]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_serde_json_writes_them() {
        let mut n = 0u64;
        while n < u64::MAX / 3 {
            for m in [n, n + 1, n + 9, n + 10, n + 99, n + 100] {
                let mut out = Vec::new();
                push_number(&mut out, m);
                assert_eq!(out, serde_json::to_vec(&m).unwrap_or_default());
            }
            n = n * 3 + 7;
        }
        let mut out = Vec::new();
        push_number(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string().as_bytes());
    }

    #[test]
    fn status_text_as_statuses_display() {
        for (class, subject, detail) in [
            (5, 1, 1),
            (4, 7, 28),
            (2, 0, 0),
            (5, 7, 999),
            (4, 10, 9),
            (255, 65535, 65535),
        ] {
            let s = Status::new(class, subject, detail);
            let mut text = [0u8; 23];
            let n = status_text(&mut text, s);
            assert_eq!(&text[..n], s.to_string().as_bytes());
        }
    }
}
