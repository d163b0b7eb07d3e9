//! PowerMTA accounting files (CSV).
//!
//! The header line names the columns, in any order and with any others
//! besides; a header line repeated further down (files concatenated)
//! starts a new header. Rows whose `type` is `b` (bounce) or `rb` (remote
//! bounce) are bounces; every other type (`d` delivered, `t` transient,
//! `tq`, `f`, `rs`, …) is skipped and counted. A file without a `type`
//! column holds only bounces. The columns used:
//!
//! | column | becomes |
//! |--------|---------|
//! | `dsnDiag` | the reply (`smtp;550 5.1.1 …`) |
//! | `dsnStatus` | the status reported with it (`5.1.1 (bad destination mailbox address)`: the code) |
//! | `dsnMta` | the MX (`mx.example.com (192.0.2.1)`, `dns;mx.example.com`) |
//! | `rcpt` | the recipient |
//! | `timeLogged` | the time |
//! | `bounceCat` | the incoming category |
//!
//! Every other column with a value (`type`, `jobId`, `vmta`, `envId`,
//! `header_…`) is passed through under its own name. A row with another
//! number of fields than its header, or a bounce row with neither
//! `dsnStatus` nor `dsnDiag`, or a `dsnStatus` that is not a status, is a
//! bad record. Bytes that are not UTF-8 are replaced.

use serde_json::{Map, Value};

use super::lines::{Lines, MAX_LINE};
use super::{InputRecord, Item, Position, Source, bounce};
use crate::status::Status;

/// The columns read for a bounce; the others are passed through.
const USED: [&str; 6] = [
    "timeLogged",
    "rcpt",
    "dsnStatus",
    "dsnDiag",
    "dsnMta",
    "bounceCat",
];

/// The records of a PowerMTA accounting file.
///
/// PowerMTA writes one record per line, so the file is read line by line
/// and each line parsed as CSV on its own: a malformed row (an unterminated
/// quote, say) is one bad record, never the end of the file, and a huge
/// field cannot take more than one line's worth of memory.
pub(crate) struct Reader {
    lines: Lines,
    name: String,
    header: Option<Header>,
    record: csv::ByteRecord,
}

struct Header {
    names: Vec<String>,
    kind: Option<usize>,
    used: [Option<usize>; 6],
}

impl Header {
    fn new(record: &csv::ByteRecord) -> Header {
        let names: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let f = if i == 0 {
                    f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f)
                } else {
                    f
                };
                String::from_utf8_lossy(f).trim().to_string()
            })
            .collect();
        let find = |n: &str| names.iter().position(|h| h == n);
        Header {
            kind: find("type"),
            used: USED.map(find),
            names,
        }
    }
}

impl Reader {
    pub(crate) fn new(reader: Source, name: String) -> Reader {
        Reader {
            lines: Lines::new(reader),
            name,
            header: None,
            record: csv::ByteRecord::new(),
        }
    }

    fn item(&self, header: &Header, at: Position) -> Item {
        let row = &self.record;
        if row.len() != header.names.len() {
            return Item::bad(
                at,
                format!(
                    "row has {} fields, the header has {}",
                    row.len(),
                    header.names.len()
                ),
            );
        }
        let field = |i: Option<usize>| -> Option<String> {
            let s = String::from_utf8_lossy(row.get(i?)?);
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        };
        if let Some(k) = header.kind {
            let kind = field(Some(k)).unwrap_or_default();
            if kind != "b" && kind != "rb" {
                return Item::skipped(at, format!("record type `{kind}`"));
            }
        }
        let [time, rcpt, status, diag, mta, category] = header.used.map(field);
        if status.is_none() && diag.is_none() {
            return Item::bad(at, "bounce row without `dsnStatus` or `dsnDiag`");
        }
        let status = match status.as_deref().map(status_code) {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => return Item::bad(at, e),
        };
        let mut extra = Map::new();
        for (i, name) in header.names.iter().enumerate() {
            if header.used.contains(&Some(i)) || name.is_empty() {
                continue;
            }
            if let Some(v) = field(Some(i)) {
                extra.entry(name.clone()).or_insert(Value::String(v));
            }
        }
        Item::Record(InputRecord {
            bounce: bounce(
                mta,
                rcpt,
                diag.unwrap_or_default(),
                status,
                category.as_deref(),
            ),
            time,
            incoming_category: category,
            extra,
            position: at,
        })
    }
}

/// The code of a `dsnStatus`: `5.1.1 (bad destination mailbox address)` -> 5.1.1.
fn status_code(s: &str) -> Result<Status, String> {
    let code = s
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("");
    code.parse::<Status>()
        .map_err(|e| format!("`dsnStatus` `{s}` is not a status: {e}"))
}

impl Iterator for Reader {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            let Some(line) = self.lines.next_line() else {
                let e = self.lines.error.take()?;
                let at = Position::new(self.name.clone(), self.lines.number() + 1);
                return Some(Item::bad(at, format!("cannot read: {e}")));
            };
            let at = Position::new(self.name.clone(), line.number);
            if line.truncated {
                return Some(Item::bad(
                    at,
                    format!("line is longer than {} MiB", MAX_LINE >> 20),
                ));
            }
            let mut row = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(line.bytes);
            match row.read_byte_record(&mut self.record) {
                Ok(false) => continue,
                Ok(true) => {}
                Err(e) => return Some(Item::bad(at, format!("malformed CSV row: {e}"))),
            }
            if self.record.iter().all(|f| f.trim_ascii().is_empty()) {
                continue;
            }
            let is_header = match &self.header {
                None => true,
                Some(h) => {
                    let k = h.kind.unwrap_or(0);
                    self.record.get(k).map(<[u8]>::trim_ascii) == Some(b"type")
                }
            };
            if is_header {
                self.header = Some(Header::new(&self.record));
                continue;
            }
            let header = self.header.take()?;
            let item = self.item(&header, at);
            self.header = Some(header);
            return Some(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes() {
        assert_eq!(
            status_code("5.1.1 (bad destination mailbox address)"),
            Ok(Status::new(5, 1, 1))
        );
        assert_eq!(status_code("4.4.1(no answer)"), Ok(Status::new(4, 4, 1)));
        assert!(status_code("bogus").is_err());
    }
}
