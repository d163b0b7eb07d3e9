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

use std::sync::Arc;

use serde_json::{Map, Value};

use super::lines::{
    Chunker, Lines, MAX_LINE, Piece, find_type_or_quote, split_text_lines, too_long,
};
use super::{
    Batch, Extras, InputRecord, Item, LineBatch, LineFormat, LineItem, Position, Skip, Source,
    Text, View, bounce,
};
use crate::core::bytes::{count_byte, each_byte, find_any3, find_byte, trim};
use crate::core::status::{Category, Status};

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

/// The columns of a header line.
pub(crate) struct Header {
    names: Vec<String>,
    kind: Option<usize>,
    used: [Option<usize>; 6],
    /// The columns passed through, sorted by name: each name (and whether
    /// it needs no escaping in a JSON string) with its columns (several
    /// when the name is repeated), in column order.
    passed: Vec<(String, bool, Vec<usize>)>,
}

impl Header {
    fn new(record: &csv::ByteRecord) -> Header {
        Header::with_names(record.iter())
    }

    fn from_row(row: &Row, line: &[u8]) -> Header {
        Header::with_names((0..row.len()).filter_map(|i| row.get(line, i)))
    }

    fn with_names<'a>(fields: impl Iterator<Item = &'a [u8]>) -> Header {
        let names: Vec<String> = fields
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
        let used = USED.map(find);
        let mut passed: Vec<(String, bool, Vec<usize>)> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if used.contains(&Some(i)) || name.is_empty() {
                continue;
            }
            match passed.iter_mut().find(|(n, _, _)| n == name) {
                Some((_, _, columns)) => columns.push(i),
                None => {
                    let plain = super::find_json_special(name.as_bytes()).is_none();
                    passed.push((name.clone(), plain, vec![i]));
                }
            }
        }
        passed.sort_by(|a, b| a.0.cmp(&b.0));
        Header {
            kind: find("type"),
            used,
            names,
            passed,
        }
    }

    /// The column a header line repeated further down is told by.
    fn kind_column(&self) -> usize {
        self.kind.unwrap_or(0)
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
}

/// The item of a row read with the csv crate (see [`Reader`]).
fn item(row: &csv::ByteRecord, header: &Header, at: Position) -> Item {
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

/// Reads the first CSV record of `line` with the csv crate.
fn read_csv_row(line: &[u8], record: &mut csv::ByteRecord) -> csv::Result<bool> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line)
        .read_byte_record(record)
}

/// The code of a `dsnStatus`: `5.1.1 (bad destination mailbox address)` -> 5.1.1.
fn status_code(s: &str) -> Result<Status, String> {
    // The code ends at white space or `(`; at an ASCII one, usually.
    let end = s
        .bytes()
        .position(|b| !(b.is_ascii_digit() || b == b'.'))
        .filter(|&i| {
            matches!(
                s.as_bytes()[i],
                b' ' | b'(' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'
            )
        });
    let code = match end {
        Some(i) => &s[..i],
        None if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') => s,
        None => s
            .split(|c: char| c.is_whitespace() || c == '(')
            .next()
            .unwrap_or(""),
    };
    super::parse_status(code).map_err(|e| format!("`dsnStatus` `{s}` is not a status: {e}"))
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
            match read_csv_row(line.bytes, &mut self.record) {
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
            let header = self.header.as_ref()?;
            return Some(item(&self.record, header, at));
        }
    }
}

/// The fields of one CSV record, read by [`Row::read`]: where each is in
/// the line, or, for a quoted field that is not a plain part of the line,
/// in a buffer of unquoted text.
#[derive(Default)]
pub(crate) struct Row {
    unquoted: Vec<u8>,
    spans: Vec<Span>,
}

#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    /// In [`Row::unquoted`] rather than in the line.
    unquoted: bool,
}

impl Row {
    /// Reads the first CSV record of `line` (at most `limit` fields of it)
    /// as the csv crate reads it with [`read_csv_row`]: fields split at `,`;
    /// a field that starts with `"` is quoted, `""` in it is a quote, and
    /// after its closing quote it goes on unquoted; `\r` (or `\n`) ends the
    /// record, and the ones before it (and a byte order mark before those)
    /// are skipped. False when the line
    /// holds no record. The fields are read with the same `line`
    /// ([`Row::get`], [`Row::text`]).
    pub(crate) fn read(&mut self, line: &[u8], limit: usize) -> bool {
        self.unquoted.clear();
        self.spans.clear();
        if self.read_plain(line, limit) {
            return true;
        }
        let is_term = |b: u8| b == b'\r' || b == b'\n';
        let n = line.len();
        // The csv crate drops a byte order mark at the start of what it reads.
        let bom = if line.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let mut i = line[bom..]
            .iter()
            .position(|&b| !is_term(b))
            .map_or(n, |i| bom + i);
        if i == n {
            return false;
        }
        while self.spans.len() < limit {
            let span = if line.get(i) == Some(&b'"') {
                // Quoted: a part of the line when it has no `""` and ends
                // at its closing quote.
                i += 1;
                let close = find_byte(&line[i..], b'"').map_or(n, |j| i + j);
                let after = line.get(close + 1).copied();
                if close < n
                    && (after.is_none() || after == Some(b',') || after.is_some_and(is_term))
                {
                    let span = Span {
                        start: i,
                        end: close,
                        unquoted: false,
                    };
                    i = close + 1;
                    span
                } else {
                    let start = self.unquoted.len();
                    let mut close = close;
                    loop {
                        self.unquoted.extend_from_slice(&line[i..close]);
                        i = close + 1;
                        if line.get(i) == Some(&b'"') {
                            self.unquoted.push(b'"');
                            i += 1;
                            close = find_byte(&line[i..], b'"').map_or(n, |j| i + j);
                            continue;
                        }
                        break;
                    }
                    i = i.min(n);
                    // What follows the closing quote, unquoted.
                    let end = find_any3(&line[i..], b',', b'\r', b'\n').map_or(n, |j| i + j);
                    self.unquoted.extend_from_slice(&line[i..end]);
                    i = end;
                    Span {
                        start,
                        end: self.unquoted.len(),
                        unquoted: true,
                    }
                }
            } else {
                let end = find_any3(&line[i..], b',', b'\r', b'\n').map_or(n, |j| i + j);
                let span = Span {
                    start: i,
                    end,
                    unquoted: false,
                };
                i = end;
                span
            };
            self.spans.push(span);
            if i < n && line[i] == b',' {
                i += 1;
            } else {
                break;
            }
        }
        true
    }

    /// [`Row::read`] of the usual row: no byte order mark, quote, `\r` or
    /// `\n`, so fields split at commas. False, reading nothing, for any
    /// other line.
    fn read_plain(&mut self, line: &[u8], limit: usize) -> bool {
        if line.is_empty()
            || line.starts_with(b"\xEF\xBB\xBF")
            || find_any3(line, b'"', b'\r', b'\n').is_some()
        {
            return false;
        }
        let mut start = 0;
        each_byte(line, b',', |i| {
            self.spans.push(Span {
                start,
                end: i,
                unquoted: false,
            });
            start = i + 1;
            self.spans.len() < limit
        });
        if self.spans.len() < limit {
            self.spans.push(Span {
                start,
                end: line.len(),
                unquoted: false,
            });
        }
        true
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Field `i` of the row read from `line`.
    pub(crate) fn get<'a>(&'a self, line: &'a [u8], i: usize) -> Option<&'a [u8]> {
        let span = self.spans.get(i)?;
        let from = if span.unquoted { &self.unquoted } else { line };
        from.get(span.start..span.end)
    }

    fn is_blank(&self, line: &[u8]) -> bool {
        (0..self.len()).all(|i| self.get(line, i).is_none_or(|f| f.trim_ascii().is_empty()))
    }

    /// The fields of the row read from `line`, as text, when they are
    /// valid UTF-8 (`line` is none when it is not).
    fn text<'a>(&'a self, line: Option<&'a str>) -> Option<RowText<'a>> {
        let line = line?;
        Some(RowText {
            line,
            unquoted: std::str::from_utf8(&self.unquoted).ok()?,
            spans: &self.spans,
            // No field of a line without quotes, backslashes or control
            // characters needs escaping in a JSON string.
            plain: super::find_json_special(line.as_bytes()).is_none(),
        })
    }
}

/// The fields of a [`Row`] of valid UTF-8.
#[derive(Clone, Copy)]
struct RowText<'a> {
    line: &'a str,
    unquoted: &'a str,
    spans: &'a [Span],
    /// Every field needs no escaping in a JSON string.
    plain: bool,
}

impl<'a> RowText<'a> {
    /// Field `i`, trimmed, when it is not empty.
    fn field(self, i: Option<usize>) -> Option<&'a str> {
        let span = self.spans.get(i?)?;
        let from = if span.unquoted {
            self.unquoted
        } else {
            self.line
        };
        let s = trim(from.get(span.start..span.end)?);
        (!s.is_empty()).then_some(s)
    }
}

/// Cuts a PowerMTA file into [`LineBatch`]es (see [`super::open_batches`]).
/// The header lines are read here, so that every batch comes with the
/// header of its rows; the rows are read by [`read_lines`].
pub(crate) struct Splitter {
    chunker: Chunker,
    name: Arc<str>,
    header: Option<Arc<Header>>,
    /// A piece of lines partly handed out.
    rest: Option<Pending>,
    row: Row,
}

/// Lines of a piece not handed out yet: `data[offset..]`, the first of them
/// numbered `line`.
struct Pending {
    data: Vec<u8>,
    offset: usize,
    line: usize,
}

/// The line of `data` at `at` (without its `\n`) and where the next starts.
fn line_at(data: &[u8], at: usize) -> (&[u8], usize) {
    match find_byte(&data[at..], b'\n') {
        Some(i) => (&data[at..at + i], at + i + 1),
        None => (&data[at..], data.len()),
    }
}

impl Splitter {
    pub(crate) fn new(reader: Source, name: Arc<str>) -> Splitter {
        Splitter {
            chunker: Chunker::new(reader),
            name,
            header: None,
            rest: None,
            row: Row::default(),
        }
    }

    fn at(&self, line: usize) -> Position {
        Position::new(&*self.name, line)
    }

    /// True when `line` repeats the header: its type column says `type`.
    fn is_header(&mut self, line: &[u8], header: &Header) -> bool {
        let k = header.kind_column();
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        !too_long(line)
            && self.row.read(text, k + 1)
            && self.row.get(text, k).map(<[u8]>::trim_ascii) == Some(b"type")
    }

    pub(crate) fn next_batch(&mut self, buffer: Vec<u8>) -> Option<Batch> {
        let mut buffer = buffer;
        'pieces: loop {
            let mut p = match self.rest.take() {
                Some(p) => p,
                None => match self.chunker.next(std::mem::take(&mut buffer))? {
                    Piece::Lines { first, data } => Pending {
                        data,
                        offset: 0,
                        line: first,
                    },
                    Piece::TooLong { line } => {
                        return Some(Batch::Items(vec![super::too_long(self.at(line))]));
                    }
                    Piece::Error { line, error } => {
                        let bad = Item::bad(self.at(line), format!("cannot read: {error}"));
                        return Some(Batch::Items(vec![bad]));
                    }
                },
            };
            // Before the first header: it is the first row that is not blank.
            let mut bad = Vec::new();
            while self.header.is_none() && p.offset < p.data.len() {
                let (line, next) = line_at(&p.data, p.offset);
                let text = line.strip_suffix(b"\r").unwrap_or(line);
                if too_long(line) {
                    bad.push(super::too_long(self.at(p.line)));
                } else if self.row.read(text, usize::MAX) && !self.row.is_blank(text) {
                    self.header = Some(Arc::new(Header::from_row(&self.row, text)));
                }
                p.offset = next;
                p.line += 1;
            }
            let done = p.offset >= p.data.len();
            if !bad.is_empty() {
                if !done {
                    self.rest = Some(p);
                }
                return Some(Batch::Items(bad));
            }
            let Some(header) = self.header.clone().filter(|_| !done) else {
                buffer = p.data;
                continue;
            };
            // The rows up to the next header line, if any.
            if let Some((at, next)) = self.next_header(&p.data, p.offset, &header) {
                let (line, _) = line_at(&p.data, at);
                let text = line.strip_suffix(b"\r").unwrap_or(line);
                self.row.read(text, usize::MAX);
                self.header = Some(Arc::new(Header::from_row(&self.row, text)));
                let line = p.line + count_byte(&p.data[p.offset..at], b'\n');
                let before = (at > p.offset)
                    .then(|| self.batch(p.data[p.offset..at].to_vec(), p.line, &header));
                p.offset = next;
                p.line = line + 1;
                if p.offset < p.data.len() {
                    self.rest = Some(p);
                }
                match before {
                    Some(batch) => return Some(batch),
                    None => continue 'pieces,
                }
            }
            let data = if p.offset == 0 {
                p.data
            } else {
                p.data[p.offset..].to_vec()
            };
            return Some(self.batch(data, p.line, &header));
        }
    }

    /// The first header line in `data[from..]` (which starts a line): where
    /// it starts and where the next line starts. Only the lines that hold
    /// `type` or a quote (which may split the word) can be one, and only
    /// those are read.
    fn next_header(&mut self, data: &[u8], from: usize, header: &Header) -> Option<(usize, usize)> {
        if header.kind_column() == 0 {
            return self.next_header_first_column(data, from, header);
        }
        let mut at = from;
        while let Some(i) = find_type_or_quote(&data[at..]) {
            let hit = at + i;
            let candidate = data[hit] == b'"'
                || (hit > from && data[hit - 1] == b't' && data[hit + 1..].starts_with(b"pe"));
            if !candidate {
                at = hit + 1;
                continue;
            }
            let start = data[from..hit]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(from, |j| from + j + 1);
            let (line, next) = line_at(data, start);
            if self.is_header(line, header) {
                return Some((start, next));
            }
            at = next;
        }
        None
    }

    /// [`Splitter::next_header`] when the type column is the first (the
    /// usual layout): only the lines that start with `type` or a quote
    /// (after a byte order mark and white space) can be a header line.
    fn next_header_first_column(
        &mut self,
        data: &[u8],
        from: usize,
        header: &Header,
    ) -> Option<(usize, usize)> {
        let mut at = from;
        while at < data.len() {
            let (line, next) = line_at(data, at);
            let start = line
                .strip_prefix(b"\xEF\xBB\xBF")
                .unwrap_or(line)
                .trim_ascii_start();
            if (start.starts_with(b"type") || start.starts_with(b"\""))
                && self.is_header(line, header)
            {
                return Some((at, next));
            }
            at = next;
        }
        None
    }

    fn batch(&self, data: Vec<u8>, first: usize, header: &Arc<Header>) -> Batch {
        Batch::Lines(LineBatch {
            name: self.name.clone(),
            format: LineFormat::Pmta(header.clone()),
            first,
            data,
        })
    }
}

/// Reads the rows of a [`LineBatch`] (no header line among them), the first
/// numbered `first`, as [`Reader`] does.
///
/// A row of valid UTF-8 with as many fields as the header is read without
/// copies; any other row is left to the csv crate, as [`Reader`] reads it.
pub(crate) fn read_lines<F: FnMut(LineItem<'_>)>(
    data: &[u8],
    first: usize,
    name: &str,
    header: &Header,
    f: &mut F,
) {
    let mut row = Row::default();
    let mut spare: Vec<(Text<'_>, Text<'_>)> = Vec::new();
    let mut record = csv::ByteRecord::new();
    for (i, (line, text)) in split_text_lines(data).enumerate() {
        let number = first + i;
        if too_long(line) {
            f(LineItem::Item(super::too_long(Position::new(name, number))));
            continue;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = text.map(|t| t.strip_suffix('\r').unwrap_or(t));
        if !row.read(line, usize::MAX) || row.is_blank(line) {
            continue;
        }
        let mut extra = reuse(std::mem::take(&mut spare));
        let fast = row.len() == header.names.len()
            && row
                .text(text)
                .is_some_and(|text| view(text, header, number, &mut extra, f));
        spare = reuse(extra);
        if !fast {
            // The general way, with its wording of what is wrong.
            let at = Position::new(name, number);
            f(LineItem::Item(match read_csv_row(line, &mut record) {
                Ok(_) => item(&record, header, at),
                Err(e) => Item::bad(at, format!("malformed CSV row: {e}")),
            }));
        }
    }
}

/// An empty vector with the allocation of `v`, for borrows of another lifetime.
fn reuse<'b>(mut v: Vec<(Text<'_>, Text<'_>)>) -> Vec<(Text<'b>, Text<'b>)> {
    v.clear();
    v.into_iter()
        .map(|_| (Text::str(""), Text::str("")))
        .collect()
}

/// Gives `f` the record or the skipped row of `row` (valid UTF-8, as many
/// fields as the header); false, giving nothing, when the row is bad.
fn view<'r, F: FnMut(LineItem<'_>)>(
    row: RowText<'r>,
    header: &'r Header,
    line: usize,
    extra: &mut Vec<(Text<'r>, Text<'r>)>,
    f: &mut F,
) -> bool {
    let field = |i: Option<usize>| row.field(i);
    if let Some(k) = header.kind {
        let kind = field(Some(k)).unwrap_or_default();
        if kind != "b" && kind != "rb" {
            f(LineItem::Skipped {
                line,
                reason: Skip::RecordType(kind),
            });
            return true;
        }
    }
    let [time, rcpt, status, diag, mta, category] = header.used.map(field);
    if status.is_none() && diag.is_none() {
        return false;
    }
    let status = match status.map(status_code) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(_)) => return false,
    };
    for (name, plain, columns) in &header.passed {
        if let Some(v) = columns.iter().find_map(|&i| field(Some(i))) {
            let name = Text {
                text: name,
                plain: *plain,
            };
            let value = Text {
                text: v,
                plain: row.plain,
            };
            extra.push((name, value));
        }
    }
    f(LineItem::Record(View {
        line,
        mx: mta,
        rcpt,
        reply: diag.unwrap_or_default(),
        status,
        reported_category: category.and_then(|c| Category::from_word(c.trim())),
        time,
        incoming_category: category,
        extra: Extras::Columns(extra),
        plain: if row.plain { u8::MAX } else { 0 },
    }));
    true
}

#[cfg(test)]
mod tests {
    use super::super::tests::Rng;
    use super::*;

    #[test]
    fn rows_are_read_as_the_csv_crate_reads_them() {
        let pieces: [&[u8]; 12] = [
            b"a",
            b"bc",
            b",",
            b",",
            b"\"",
            b"\"\"",
            b"\r",
            b" ",
            b"\xc3\xa9",
            b"\xef\xbb\xbf",
            b"\xff",
            b"x\"y",
        ];
        let mut rng = Rng(0x853c_49e6_748f_ea9b);
        let mut next = |n: usize| rng.below(n);
        let mut row = Row::default();
        let mut record = csv::ByteRecord::new();
        for _ in 0..50_000 {
            let mut line = Vec::new();
            for _ in 0..next(14) {
                line.extend_from_slice(pieces[next(pieces.len())]);
            }
            let some = read_csv_row(&line, &mut record).unwrap_or(false);
            assert_eq!(row.read(&line, usize::MAX), some, "{line:?}");
            if !some {
                continue;
            }
            let got: Vec<&[u8]> = (0..row.len()).filter_map(|i| row.get(&line, i)).collect();
            let want: Vec<&[u8]> = record.iter().collect();
            assert_eq!(got, want, "{line:?}");
            let limit = next(4);
            if limit > 0 {
                row.read(&line, limit);
                let got: Vec<&[u8]> = (0..row.len()).filter_map(|i| row.get(&line, i)).collect();
                assert_eq!(got, want[..limit.min(want.len())], "{line:?} limit {limit}");
            }
        }
    }

    #[test]
    fn status_codes() {
        assert_eq!(
            status_code("5.1.1 (bad destination mailbox address)"),
            Ok(Status::new(5, 1, 1))
        );
        assert_eq!(status_code("4.4.1(no answer)"), Ok(Status::new(4, 4, 1)));
        assert!(status_code("bogus").is_err());
        // As the code cut at the first white space or `(`, then parsed.
        let cut = |s: &str| {
            let code = s
                .split(|c: char| c.is_whitespace() || c == '(')
                .next()
                .unwrap_or("");
            code.parse::<Status>()
                .map_err(|e| format!("`dsnStatus` `{s}` is not a status: {e}"))
        };
        let alphabet = [
            "5", "4", "1", "0", ".", " ", "(", "\t", "\u{a0}", "x", "é", "8",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..100_000 {
            let mut next = |n: usize| rng.below(n);
            let len = next(10);
            let s: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            assert_eq!(status_code(&s), cut(&s), "{s:?}");
        }
    }
}
