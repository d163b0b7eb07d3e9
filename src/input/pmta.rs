//! PowerMTA accounting files (CSV).
//!
//! The header line names the columns, in any order and with any others
//! besides; a header line repeated further down (files concatenated, or
//! a header written at each file rotation) starts a new header. Rows whose
//! `type` is `b` (bounce) or `rb` (remote bounce) are bounces; every other
//! type (`d` delivered, `t` transient, `tq`, `f`, `rs`, …) is skipped and
//! counted. A file without a `type` column holds only bounces. The columns
//! used:
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
//!
//! Rows are read by the `csv` crate as RFC 4180 says: a quoted field may
//! hold commas, doubled quotes and line breaks (`\n` or `\r\n`). A record
//! is one line unless the line leaves a quote open (an odd number of
//! `"`): then it goes on to the first line end where the quotes pair up,
//! within 1 MiB, provided that the lines read so are one
//! strict RFC 4180 record (every quoted field closed right before a comma
//! or the end, no quote in an unquoted field) with as many fields as the
//! header. Otherwise (a stray or unterminated quote) the line is a record
//! on its own, read as the csv crate reads it, bad or not, and the next
//! line starts the next record: a malformed row never takes the rows after
//! it along. A record's position is the line where it starts.
//!
//! The same reader serves one thread and several: its splitter cuts the
//! file into batches of whole records (a record over several lines is
//! never cut, wherever the pieces of lines end) and reads the header
//! lines, and the rows of a batch are read where the batch is processed.

use std::fmt;
use std::io::Cursor;
use std::sync::{Arc, LazyLock};

use memchr::memmem::Finder;

use super::lines::{Chunker, MAX_LINE, Piece, too_long};
use super::{Batch, Extras, Item, LineBatch, LineFormat, LineItem, Position, Skip, Text, View};
use crate::core::bytes::{count_byte, find_any3, find_byte, find_json_special, trim};
use crate::core::status::{Category, Status, StatusError};

/// The columns read for a bounce; the others are passed through.
const USED: [&str; 6] = [
    "timeLogged",
    "rcpt",
    "dsnStatus",
    "dsnDiag",
    "dsnMta",
    "bounceCat",
];

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
        let used = USED.map(find);
        let mut passed: Vec<(String, bool, Vec<usize>)> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if used.contains(&Some(i)) || name.is_empty() {
                continue;
            }
            match passed.iter_mut().find(|(n, _, _)| n == name) {
                Some((_, _, columns)) => columns.push(i),
                None => {
                    let plain = find_json_special(name.as_bytes()).is_none();
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

/// The line of `data` at `at` (without its `\n`) and where the next starts.
fn line_at(data: &[u8], at: usize) -> (&[u8], usize) {
    match find_byte(&data[at..], b'\n') {
        Some(i) => (&data[at..at + i], at + i + 1),
        None => (&data[at..], data.len()),
    }
}

/// One record of `data`: where it ends (after its last line break) and how
/// many lines it spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    end: usize,
    lines: usize,
}

/// Reads records with the csv crate, one given slice at a time, so that
/// where a record ends is decided by [`record_at`] and a malformed row
/// cannot run into the next.
struct Csv<'a> {
    reader: csv::Reader<Cursor<&'a [u8]>>,
    record: csv::ByteRecord,
}

impl<'a> Csv<'a> {
    fn new() -> Csv<'a> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Cursor::new(&[][..]));
        // The first seek reads the (empty) headers; later ones read nothing.
        let _ = reader.seek_raw(std::io::SeekFrom::Start(0), csv::Position::new());
        Csv {
            reader,
            record: csv::ByteRecord::new(),
        }
    }

    /// Reads the first record of `bytes` into [`Csv::record`], as a
    /// reader of `bytes` alone reads it (a byte order mark at the start
    /// is dropped, blank lines before it are skipped, `\r` or `\n` outside
    /// quotes ends it): how many bytes it took, or none when `bytes` holds
    /// no record.
    fn read(&mut self, bytes: &'a [u8]) -> csv::Result<Option<usize>> {
        *self.reader.get_mut() = Cursor::new(bytes);
        self.reader
            .seek_raw(std::io::SeekFrom::Start(0), csv::Position::new())?;
        if !self.reader.read_byte_record(&mut self.record)? {
            return Ok(None);
        }
        Ok(Some(
            usize::try_from(self.reader.position().byte()).unwrap_or(usize::MAX),
        ))
    }

    /// True when the record read last holds only blank fields.
    fn is_blank(&self) -> bool {
        is_blank(&self.record)
    }
}

/// The records of a batch read one after the other by one csv reader: the
/// records [`Csv::read`] reads one by one, but without starting a reader
/// for each. Where that reader would end a record elsewhere than
/// [`record_at`] says (a line that leaves a quote open, a `\r` inside a
/// line) or read it otherwise (a byte order mark starts the line), the
/// record is left to [`Csv::read`].
struct Sequential<'a> {
    data: &'a [u8],
    reader: csv::Reader<Cursor<&'a [u8]>>,
    record: csv::ByteRecord,
}

impl<'a> Sequential<'a> {
    fn new(data: &'a [u8]) -> Sequential<'a> {
        Sequential {
            data,
            reader: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(Cursor::new(data)),
            record: csv::ByteRecord::new(),
        }
    }

    /// Reads the record `data[at..end]` into [`Sequential::record`]; false,
    /// the reader set at `end`, when it is not read as [`Csv::read`] reads it.
    fn read(&mut self, at: usize, end: usize) -> bool {
        let read = !self.data[at..].starts_with(b"\xEF\xBB\xBF")
            && matches!(self.reader.read_byte_record(&mut self.record), Ok(true))
            && {
                let used = usize::try_from(self.reader.position().byte()).unwrap_or(usize::MAX);
                // A record that ends with `\r\n` ends at the `\r`.
                used == end || (used + 1 == end && end >= 2 && self.data[end - 2..end] == *b"\r\n")
            };
        if !read {
            self.seek(end);
        }
        read
    }

    /// Sets the reader at `at`, the start of a line.
    fn seek(&mut self, at: usize) {
        let at = u64::try_from(at).unwrap_or(u64::MAX);
        let mut position = csv::Position::new();
        position.set_byte(at);
        // Seeking a slice cannot fail; a reader that did would read no more.
        let _ = self.reader.seek_raw(std::io::SeekFrom::Start(at), position);
    }
}

/// True when every field of `record` is blank.
fn is_blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(|f| f.trim_ascii().is_empty())
}

/// The record that starts at `at` (the start of a line) in `data`, once a
/// header of `fields` columns is known (see the module doc); none when
/// it may go on past the end of `data` and `data` is not the end of the
/// input (`eof`). Before the first header, a record is one line.
fn record_at(data: &[u8], at: usize, eof: bool, fields: Option<usize>) -> Option<Span> {
    let (line, next) = line_at(data, at);
    let alone = Span {
        end: next,
        lines: 1,
    };
    let Some(fields) = fields else {
        return Some(alone);
    };
    if too_long(line) || quotes(line).is_multiple_of(2) {
        return Some(alone);
    }
    // A quote is left open: the record may go on.
    let mut open = true;
    let mut end = next;
    let mut lines = 1;
    while open {
        if end >= data.len() {
            return (eof || end - at > MAX_LINE).then_some(alone);
        }
        let (line, next) = line_at(data, end);
        open ^= !quotes(line).is_multiple_of(2);
        lines += 1;
        end = next;
        if end - at > MAX_LINE + 1 {
            return Some(alone);
        }
    }
    let span = Span { end, lines };
    Some(if strict_fields(&data[at..end]) == Some(fields) {
        span
    } else {
        alone
    })
}

/// How many fields `bytes` holds when it is one strict RFC 4180 record and
/// a line break: each field either unquoted and without quotes, or quoted
/// with its quotes doubled and closed right before a comma or the end.
/// (The csv crate reads more leniently; a record over several lines must
/// be strict, so that a stray quote does not join lines.)
fn strict_fields(bytes: &[u8]) -> Option<usize> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    let mut fields = 1;
    let mut at = 0;
    loop {
        if body.get(at) == Some(&b'"') {
            // Quoted: up to a quote that is not doubled.
            at += 1;
            loop {
                at += find_byte(&body[at..], b'"')? + 1;
                if body.get(at) != Some(&b'"') {
                    break;
                }
                at += 1;
            }
        } else {
            let end = find_any3(&body[at..], b',', b'"', b'\n').map_or(body.len(), |i| at + i);
            if find_byte(&body[at..end], b'\r').is_some() {
                return None;
            }
            at = end;
        }
        match body.get(at) {
            None => return Some(fields),
            Some(b',') => {
                at += 1;
                fields += 1;
            }
            Some(_) => return None,
        }
    }
}

/// The word `type`, whole and split by a closing quote, to search records for.
static TYPE_WORDS: LazyLock<[Finder<'static>; 4]> =
    LazyLock::new(|| [&b"type"[..], b"t\"ype", b"ty\"pe", b"typ\"e"].map(Finder::new));

/// How many `"` `line` holds (most lines have none).
fn quotes(line: &[u8]) -> usize {
    find_byte(line, b'"').map_or(0, |i| count_byte(&line[i..], b'"'))
}

/// True when the record `bytes` repeats a header line: its field in the
/// header's type column says `type`. Only the records that hold `type`,
/// whole or split by the closing quote of a quoted field (`"ty"pe`), can,
/// and only those are read.
fn is_header<'a>(bytes: &'a [u8], header: &Header, csv: &mut Option<Csv<'a>>) -> bool {
    let k = header.kind_column();
    if too_long(line_at(bytes, 0).0) {
        return false;
    }
    let may = if k == 0 {
        let start = bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(bytes)
            .trim_ascii_start();
        start.starts_with(b"type") || start.starts_with(b"\"")
    } else {
        let [whole, splits @ ..] = &*TYPE_WORDS;
        whole.find(bytes).is_some()
            || (find_byte(bytes, b'"').is_some() && splits.iter().any(|w| w.find(bytes).is_some()))
    };
    if !may {
        return false;
    }
    let csv = csv.get_or_insert_with(Csv::new);
    matches!(csv.read(bytes), Ok(Some(_)))
        && csv.record.get(k).map(<[u8]>::trim_ascii) == Some(b"type")
}

/// Cuts a PowerMTA file into [`LineBatch`]es of whole records (see
/// [`super::Input::batches`]). The header lines are read here, so that
/// every batch comes with the header of its rows; the rows are read by
/// [`read_lines`].
pub(crate) struct Splitter {
    chunker: Chunker,
    name: Arc<str>,
    header: Option<Arc<Header>>,
    /// Records of a piece not handed out yet.
    rest: Option<Pending>,
    /// The start of a record that may go on in the next piece, and its line.
    tail: Option<(Vec<u8>, usize)>,
    /// A batch to hand out next.
    queued: Option<Batch>,
    done: bool,
}

/// What [`Splitter::pending`] gives.
enum Next {
    Lines(Pending),
    Batch(Batch),
}

/// Lines not handed out yet: `data[offset..]`, the first of them numbered
/// `line`; `eof` when nothing follows them in the input.
struct Pending {
    data: Vec<u8>,
    offset: usize,
    line: usize,
    eof: bool,
}

impl Splitter {
    pub(crate) fn new(chunker: Chunker, name: Arc<str>) -> Splitter {
        Splitter {
            chunker,
            name,
            header: None,
            rest: None,
            tail: None,
            queued: None,
            done: false,
        }
    }

    fn at(&self, line: usize) -> Position {
        Position::new(&*self.name, line)
    }

    /// The lines to read next: what is left of the last piece, or the next
    /// piece (after the start of a record left over from the last); or a
    /// batch of what the chunker found instead of lines.
    fn pending(&mut self, buffer: Vec<u8>) -> Option<Next> {
        if let Some(p) = self.rest.take() {
            return Some(Next::Lines(p));
        }
        let piece = if self.done {
            None
        } else {
            self.chunker.next(buffer)
        };
        let barrier = match piece {
            Some(Piece::Lines { first, data }) => {
                let (data, line) = match self.tail.take() {
                    Some((mut tail, line)) => {
                        tail.extend_from_slice(&data);
                        (tail, line)
                    }
                    None => (data, first),
                };
                return Some(Next::Lines(Pending {
                    data,
                    offset: 0,
                    line,
                    eof: false,
                }));
            }
            Some(Piece::TooLong { line }) => Some(super::too_long(self.at(line))),
            Some(Piece::Error { line, error }) => {
                Some(Item::bad(self.at(line), format!("cannot read: {error}")))
            }
            None => {
                self.done = true;
                None
            }
        };
        // No record goes on past a line too long, a read error or the end:
        // a record left over is read up to there, before what stopped it.
        let barrier = barrier.map(|b| Batch::Items(vec![b]));
        match self.tail.take() {
            Some((data, line)) => {
                self.queued = barrier;
                Some(Next::Lines(Pending {
                    data,
                    offset: 0,
                    line,
                    eof: true,
                }))
            }
            None => barrier.map(Next::Batch),
        }
    }

    pub(crate) fn next_batch(&mut self, buffer: Vec<u8>) -> Option<Batch> {
        let mut buffer = buffer;
        loop {
            if let Some(batch) = self.queued.take() {
                return Some(batch);
            }
            let mut p = match self.pending(std::mem::take(&mut buffer))? {
                Next::Lines(p) => p,
                Next::Batch(batch) => return Some(batch),
            };
            // Before the first header: it is the first row that is not blank.
            let mut bad = Vec::new();
            let mut csv = None;
            while self.header.is_none() && p.offset < p.data.len() {
                let (line, next) = line_at(&p.data, p.offset);
                let csv = csv.get_or_insert_with(Csv::new);
                if too_long(line) {
                    bad.push(super::too_long(self.at(p.line)));
                } else if matches!(csv.read(line), Ok(Some(_))) && !csv.is_blank() {
                    self.header = Some(Arc::new(Header::new(&csv.record)));
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
            if let Some(batch) = self.cut(p, &header) {
                return Some(batch);
            }
        }
    }

    /// The batch of the records of `p` up to the next header line or the
    /// end of `p`, or up to a record that may go on in the next piece; what
    /// follows is kept for later.
    fn cut(&mut self, mut p: Pending, header: &Arc<Header>) -> Option<Batch> {
        let fields = Some(header.names.len());
        let (start, first) = (p.offset, p.line);
        let mut at = start;
        let mut line = first;
        // What follows the batch: a header line, with its record.
        let mut next_header = None;
        {
            let mut csv = None;
            let data = &p.data;
            while at < data.len() {
                let Some(span) = record_at(data, at, p.eof, fields) else {
                    self.tail = Some((data[at..].to_vec(), line));
                    break;
                };
                if is_header(&data[at..span.end], header, &mut csv)
                    && let Some(csv) = &csv
                {
                    next_header = Some((Arc::new(Header::new(&csv.record)), span));
                    break;
                }
                at = span.end;
                line += span.lines;
            }
        }
        let batch = (at > start).then(|| {
            let bytes = if start == 0 && at == p.data.len() {
                std::mem::take(&mut p.data)
            } else {
                p.data[start..at].to_vec()
            };
            self.batch(bytes, first, header)
        });
        if let Some((new, span)) = next_header {
            self.header = Some(new);
            p.offset = span.end;
            p.line = line + span.lines;
            if p.offset < p.data.len() {
                self.rest = Some(p);
            }
        }
        batch
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

/// Reads the records of a [`LineBatch`] (whole records, no header line
/// among them), the first starting at line `first`, giving what each holds
/// to `f`.
pub(crate) fn read_lines<F: FnMut(LineItem<'_>)>(
    data: &[u8],
    first: usize,
    name: &str,
    header: &Header,
    f: &mut F,
) {
    let fields = Some(header.names.len());
    let mut csv = None;
    let mut sequential = Sequential::new(data);
    let mut lossy = csv::ByteRecord::new();
    let mut spare: Vec<(Text<'_>, Text<'_>)> = Vec::new();
    let mut at = 0;
    let mut line = first;
    while at < data.len() {
        let span = record_at(data, at, true, fields).unwrap_or(Span {
            end: data.len(),
            lines: 1,
        });
        let start = at;
        let bytes = &data[at..span.end];
        let number = line;
        at = span.end;
        line += span.lines;
        let first_line = line_at(bytes, 0).0;
        if span.lines == 1 && too_long(first_line) {
            sequential.seek(at);
            f(LineItem::Item(super::too_long(Position::new(name, number))));
            continue;
        }
        if first_line.is_empty() || first_line == b"\r" {
            // A blank line; the csv reader skips it before the next record.
            continue;
        }
        let record = if sequential.read(start, at) {
            &sequential.record
        } else {
            let csv = csv.get_or_insert_with(Csv::new);
            match csv.read(bytes) {
                Ok(Some(_)) => {}
                Ok(None) => continue,
                Err(e) => {
                    let at = Position::new(name, number);
                    f(LineItem::Item(Item::bad(
                        at,
                        format!("malformed CSV row: {e}"),
                    )));
                    continue;
                }
            }
            &csv.record
        };
        if is_blank(record) {
            continue;
        }
        if record.len() != header.names.len() {
            let message = format!(
                "row has {} fields, the header has {}",
                record.len(),
                header.names.len()
            );
            f(LineItem::Item(Item::bad(
                Position::new(name, number),
                message,
            )));
            continue;
        }
        let row = match Row::new(record) {
            Some(row) => row,
            None => {
                lossy.clear();
                for field in record {
                    lossy.push_field(String::from_utf8_lossy(field).as_bytes());
                }
                match Row::new(&lossy) {
                    Some(row) => row,
                    None => continue,
                }
            }
        };
        let mut extra = reuse(std::mem::take(&mut spare));
        if let Err(e) = view(row, header, number, &mut extra, f) {
            let at = Position::new(name, number);
            f(LineItem::Item(Item::bad(at, e.to_string())));
        }
        spare = reuse(extra);
    }
}

/// An empty vector with the allocation of `v`, for borrows of another lifetime.
fn reuse<'b>(mut v: Vec<(Text<'_>, Text<'_>)>) -> Vec<(Text<'b>, Text<'b>)> {
    v.clear();
    v.into_iter()
        .map(|_| (Text::str(""), Text::str("")))
        .collect()
}

/// The fields of a record of valid UTF-8.
#[derive(Clone, Copy)]
struct Row<'a> {
    text: &'a str,
    record: &'a csv::ByteRecord,
    /// Every field needs no escaping in a JSON string.
    plain: bool,
}

impl<'a> Row<'a> {
    /// The fields of `record`, when they are valid UTF-8.
    fn new(record: &'a csv::ByteRecord) -> Option<Row<'a>> {
        let bytes = record.as_slice();
        Some(Row {
            text: std::str::from_utf8(bytes).ok()?,
            record,
            plain: find_json_special(bytes).is_none(),
        })
    }

    /// Field `i`, trimmed, when it is not empty.
    fn field(self, i: Option<usize>) -> Option<&'a str> {
        let s = trim(self.text.get(self.record.range(i?)?)?);
        (!s.is_empty()).then_some(s)
    }
}

/// What is wrong with a bounce row.
#[derive(Debug, PartialEq)]
enum RowError<'a> {
    /// Neither `dsnStatus` nor `dsnDiag`.
    NoStatusOrDiag,
    /// A `dsnStatus` that is not a status.
    Status(&'a str, StatusError),
}

impl fmt::Display for RowError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowError::NoStatusOrDiag => f.write_str("bounce row without `dsnStatus` or `dsnDiag`"),
            RowError::Status(s, e) => write!(f, "`dsnStatus` `{s}` is not a status: {e}"),
        }
    }
}

/// Gives `f` the record or the skipped row of `row` (as many fields as the
/// header); what is wrong when the row is bad.
fn view<'r, F: FnMut(LineItem<'_>)>(
    row: Row<'r>,
    header: &'r Header,
    line: usize,
    extra: &mut Vec<(Text<'r>, Text<'r>)>,
    f: &mut F,
) -> Result<(), RowError<'r>> {
    let field = |i: Option<usize>| row.field(i);
    if let Some(k) = header.kind {
        let kind = field(Some(k)).unwrap_or_default();
        if kind != "b" && kind != "rb" {
            f(LineItem::Skipped {
                line,
                reason: Skip::RecordType(kind),
            });
            return Ok(());
        }
    }
    let [time, rcpt, status, diag, mta, category] = header.used.map(field);
    if status.is_none() && diag.is_none() {
        return Err(RowError::NoStatusOrDiag);
    }
    let status = status.map(status_code).transpose()?;
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
    Ok(())
}

/// The code of a `dsnStatus`: `5.1.1 (bad destination mailbox address)` -> 5.1.1.
fn status_code(s: &str) -> Result<Status, RowError<'_>> {
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
    super::parse_status(code).map_err(|e| RowError::Status(s, e))
}

#[cfg(test)]
mod tests {
    use super::super::tests::Rng;
    use super::super::{Input, InputFormat, InputRecord};
    use super::*;

    /// The items of `data`, read in batches of pieces of about `piece` bytes.
    fn items(data: &str, piece: usize) -> Vec<Item> {
        let reader = std::io::Cursor::new(data.as_bytes().to_vec());
        let Ok(input) = Input::from_reader(reader, "acct.csv", InputFormat::Pmta) else {
            return Vec::new();
        };
        let mut batches = input.batches_sized(piece);
        let mut out = Vec::new();
        while let Some(batch) = batches.next_batch(Vec::new()) {
            match batch {
                Batch::Items(items) => out.extend(items),
                Batch::Lines(lines) => lines.read(|i| out.push(i.into_item(lines.name()))),
            }
        }
        out
    }

    fn record(item: &Item) -> &InputRecord {
        match item {
            Item::Record(r) => r,
            other => panic!("not a record: {other:?}"),
        }
    }

    const HEADER: &str = "type,timeLogged,rcpt,dsnStatus,dsnDiag\n";

    #[test]
    fn a_quoted_diag_with_a_line_break_is_one_record() {
        for eol in ["\n", "\r\n"] {
            let data = format!(
                "{HEADER}b,2024-05-01 10:00:00+0000,a@example.com,5.1.1,\"smtp;550-5.1.1 first, \"\"one\"\"{eol}550 5.1.1 second\"{eol}\
                 b,2024-05-01 10:00:01+0000,b@example.com,5.2.2,smtp;552 full{eol}"
            );
            let items = items(&data, 1 << 20);
            assert_eq!(items.len(), 2, "{items:?}");
            let first = record(&items[0]);
            assert_eq!(
                first.bounce.reply,
                format!("smtp;550-5.1.1 first, \"one\"{eol}550 5.1.1 second")
            );
            assert_eq!(first.bounce.rcpt.as_deref(), Some("a@example.com"));
            assert_eq!(first.bounce.status, Some(Status::new(5, 1, 1)));
            assert_eq!(first.time.as_deref(), Some("2024-05-01 10:00:00+0000"));
            assert_eq!(first.position, Position::new("acct.csv", 2));
            let second = record(&items[1]);
            assert_eq!(second.bounce.reply, "smtp;552 full");
            assert_eq!(second.position, Position::new("acct.csv", 4));
        }
    }

    #[test]
    fn a_malformed_row_between_good_rows_is_one_bad_record() {
        let data = format!(
            "{HEADER}b,t0,a@example.com,5.1.1,smtp;550 no such user\n\
             b,t1,\"x@example.com,5.1.1\n\
             b,t2,b@example.com,5.7.1,smtp;550 blocked\n\
             b,t3,o\"brien@example.com,5.2.2,smtp;552 full\n"
        );
        let items = items(&data, 1 << 20);
        assert_eq!(items.len(), 4, "{items:?}");
        assert_eq!(record(&items[0]).position.line, 2);
        assert_eq!(
            items[1],
            Item::bad(
                Position::new("acct.csv", 3),
                "row has 3 fields, the header has 5"
            )
        );
        assert_eq!(record(&items[2]).bounce.reply, "smtp;550 blocked");
        assert_eq!(record(&items[2]).position.line, 4);
        assert_eq!(
            record(&items[3]).bounce.rcpt.as_deref(),
            Some("o\"brien@example.com")
        );
        assert_eq!(record(&items[3]).position.line, 5);
    }

    #[test]
    fn records_over_several_lines_are_read_once_wherever_the_input_is_cut() {
        let mut rng = Rng(0x5eed_1234_abcd_0042);
        let mut data = String::from(HEADER);
        let mut line = 2;
        let mut want = Vec::new();
        for i in 0..300 {
            let breaks = rng.below(4);
            let eol = if rng.below(2) == 0 { "\n" } else { "\r\n" };
            let reply: Vec<String> = (0..=breaks)
                .map(|j| format!("part {j}, \"\"q\"\""))
                .collect();
            data.push_str(&format!(
                "b,t{i},u{i}@example.com,5.1.1,\"{}\"{eol}",
                reply.join(eol)
            ));
            want.push((line, reply.join(eol).replace("\"\"", "\"")));
            line += breaks + 1;
            if i % 50 == 49 {
                // A header repeated, as at a file rotation.
                data.push_str(HEADER);
                line += 1;
            }
        }
        for piece in [1, 2, 5, 13, 64, 100, 1000, 1 << 20] {
            let got: Vec<(usize, String)> = items(&data, piece)
                .iter()
                .map(|item| {
                    let r = record(item);
                    (r.position.line, r.bounce.reply.clone())
                })
                .collect();
            assert_eq!(got, want, "pieces of {piece}");
        }
    }

    #[test]
    fn an_open_quote_does_not_take_the_rows_after_it() {
        // Unterminated: the line is a record on its own.
        let data = format!(
            "{HEADER}b,t0,a@example.com,5.1.1,\"smtp;550 5.1.1 unterminated\n\
             b,t1\n\
             b,t2,b@example.com,5.1.1,smtp;550 5.1.1 user unknown\n"
        );
        for piece in [1, 1 << 20] {
            let items = items(&data, piece);
            assert_eq!(items.len(), 3, "{items:?}");
            assert_eq!(
                record(&items[0]).bounce.reply,
                "smtp;550 5.1.1 unterminated"
            );
            assert!(matches!(&items[1], Item::Bad(b) if b.position.line == 3));
            assert_eq!(record(&items[2]).position.line, 4);
        }
        // Closed lines further down, but not as one record of five fields.
        let data = format!(
            "{HEADER}b,t0,a@example.com,5.1.1,\"smtp;550 open\n\
             b,t1,b@example.com,5.1.1,\"smtp;550 closed, but\" then more\n"
        );
        let items = items(&data, 1 << 20);
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(record(&items[1]).position.line, 3);
    }

    #[test]
    fn a_record_goes_on_for_at_most_the_longest_line() {
        let long = "x".repeat(MAX_LINE);
        let data = format!(
            "{HEADER}b,t0,a@example.com,5.1.1,\"smtp;550 open\n{long}\"\nb,t1,b@example.com,5.1.1,smtp;550 x\n"
        );
        let items = items(&data, 1 << 16);
        // The open line alone, the long line (one field: too few), then the row.
        assert_eq!(items.len(), 3, "{items:?}");
        assert_eq!(record(&items[0]).bounce.reply, "smtp;550 open");
        assert!(matches!(&items[1], Item::Bad(b) if b.position.line == 3));
        assert_eq!(record(&items[2]).position.line, 4);
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
            assert_eq!(status_code(&s).map_err(|e| e.to_string()), cut(&s), "{s:?}");
        }
    }
}
