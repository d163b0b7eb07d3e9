//! Bounce records from the files deliverability engineers have.
//!
//! [`open`] opens one input (a file, a Maildir folder, or `-` for standard
//! input; [`Input::from_reader`] an input already open) in any of these
//! formats, told by `--input-format` or detected from the content
//! ([`detect`]). One reader per format:
//!
//! | format | what | read by | one record per |
//! |--------|------|---------|----------------|
//! | [`InputFormat::Jsonl`] | JSON lines: `{"mx": …, "rcpt": …, "reply": …, "status": …, "time": …}` | [`jsonl`]: a scanner, `serde_json` for the lines it leaves | line |
//! | [`InputFormat::Pmta`] | PowerMTA accounting CSV, header-driven | [`pmta`]: the `csv` crate (RFC 4180) | `b` or `rb` record |
//! | [`InputFormat::Dsn`] | RFC 3464 bounce emails: an `.eml` file, an mbox file or a Maildir folder | [`dsn`] | failed or delayed recipient |
//! | [`InputFormat::Postfix`] | Postfix mail logs | [`postfix`] | `status=bounced` or `status=deferred` line |
//!
//! An opened [`Input`] is read either as [`Item`]s in input order
//! ([`Input::items`], for one thread) or in [`Batch`]es ([`Input::batches`],
//! for several): JSON lines and PowerMTA files come as [`LineBatch`]es of
//! whole records, cut cheaply in order and read where they are processed
//! ([`LineBatch::read`], records as borrowed [`View`]s); the other formats
//! come as batches of items. Both ways go through the same reader and give
//! the same records. An item is a record to classify, a bad record
//! (reported with its file and line, the rest is read on), or a record
//! skipped on purpose (a PowerMTA delivery record, a `status=sent` log
//! line), so that the caller can count them. Inputs are read as they are
//! consumed: memory does not grow with the input's size (a DSN message is
//! held whole while it is read, up to [`MAX_MESSAGE_BYTES`]).
//!
//! ```
//! use mxrules::input::{InputFormat, Item};
//!
//! let dir = std::env::temp_dir().join(format!("mxrules-input-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("acct.csv");
//! std::fs::write(&path, "type,timeLogged,rcpt,dsnStatus,dsnDiag,dsnMta,bounceCat\n\
//!     b,2024-05-01 10:20:30-0700,anna@example.com,5.1.1 (bad destination mailbox address),\
//!     smtp;550 5.1.1 no such user,mx.example.com (192.0.2.1),bad-mailbox\n\
//!     d,2024-05-01 10:20:31-0700,bob@example.com,2.0.0 (success),smtp;250 ok,mx.example.com (192.0.2.1),\n").unwrap();
//! let input = mxrules::input::open(&path, InputFormat::Auto).unwrap();
//! assert_eq!(input.format(), InputFormat::Pmta);
//! let items: Vec<Item> = input.items().collect();
//! let Item::Record(r) = &items[0] else { panic!() };
//! assert_eq!(r.bounce.reply, "smtp;550 5.1.1 no such user");
//! assert_eq!(r.bounce.status.unwrap().to_string(), "5.1.1");
//! assert_eq!(r.incoming_category.as_deref(), Some("bad-mailbox"));
//! assert_eq!(r.position.line, 2);
//! assert!(matches!(&items[1], Item::Skipped { .. }));
//! assert_eq!(mxrules::input::time_parts(r.time.as_deref().unwrap()), Some((Some(2024), 5, 1, 10)));
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

pub mod detect;
pub mod dsn;
pub mod jsonl;
mod lines;
pub mod pmta;
pub mod postfix;
mod text;
mod time;

use std::borrow::Cow;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::core::bounce::Bounce;
use crate::core::status::{Category, Status};

pub use jsonl::JsonLineError;
pub use time::time_parts;

/// The most bytes one DSN message may take; a bigger one is a bad record.
pub const MAX_MESSAGE_BYTES: usize = 32 << 20;

/// Size of the read buffers.
const BUFFER: usize = 1 << 16;

/// The format of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// Told from the content (see [`detect`]).
    Auto,
    /// JSON lines.
    Jsonl,
    /// PowerMTA accounting CSV.
    Pmta,
    /// RFC 3464 delivery status notifications: `.eml`, mbox or Maildir.
    Dsn,
    /// Postfix mail logs.
    Postfix,
}

impl InputFormat {
    /// Every format, [`InputFormat::Auto`] first.
    pub const ALL: [InputFormat; 5] = [
        InputFormat::Auto,
        InputFormat::Jsonl,
        InputFormat::Pmta,
        InputFormat::Dsn,
        InputFormat::Postfix,
    ];

    /// The name of the format, as `--input-format` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Auto => "auto",
            InputFormat::Jsonl => "jsonl",
            InputFormat::Pmta => "pmta",
            InputFormat::Dsn => "dsn",
            InputFormat::Postfix => "postfix",
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of an [`InputFormat`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFormat {
    /// The name given.
    pub name: String,
}

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown input format `{}`; expected one of auto, jsonl, pmta, dsn, postfix",
            self.name
        )
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for InputFormat {
    type Err = UnknownFormat;

    /// The format of a name, in any case and with white space around it.
    fn from_str(s: &str) -> Result<InputFormat, UnknownFormat> {
        InputFormat::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownFormat {
                name: s.to_string(),
            })
    }
}

/// Where a record was read: the file as named (`<stdin>` for standard
/// input; for a Maildir, the message's file) and its 1-based line (for a
/// DSN message, the line where the message starts; for a record over
/// several lines, the line where it starts).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// The file, as named.
    pub file: String,
    /// The line, from 1.
    pub line: usize,
}

impl Position {
    /// Line `line` of `file`.
    pub fn new(file: impl Into<String>, line: usize) -> Position {
        Position {
            file: file.into(),
            line,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A bounce read from an input, with what the input said about it besides.
#[derive(Clone, Debug, PartialEq)]
pub struct InputRecord {
    /// The bounce to classify.
    pub bounce: Bounce,
    /// When it happened, as written in the input: PowerMTA `timeLogged`, the
    /// syslog timestamp of a Postfix line, a DSN's `Last-Attempt-Date`,
    /// `Arrival-Date` or `Date`, the `time` field of a JSON line. See
    /// [`time_parts`].
    pub time: Option<String>,
    /// The category the input gave the bounce (PowerMTA `bounceCat`).
    pub incoming_category: Option<String>,
    /// Fields passed through to the output.
    pub extra: Map<String, Value>,
    /// Where it was read.
    pub position: Position,
}

/// A record that could not be read; the rest of the input is read on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRecord {
    /// Where it was read.
    pub position: Position,
    /// What is wrong, lowercase, without the position.
    pub message: String,
}

impl fmt::Display for BadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.position, self.message)
    }
}

/// One thing read from an input.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A bounce to classify.
    Record(InputRecord),
    /// A record that could not be read.
    Bad(BadRecord),
    /// A record that is not a bounce (a PowerMTA delivery, a `status=sent`
    /// log line, a DSN recipient that was delivered), with why.
    Skipped {
        /// Where it was read.
        position: Position,
        /// Why it is skipped, lowercase.
        reason: String,
    },
}

impl Item {
    /// Where the item was read.
    pub fn position(&self) -> &Position {
        match self {
            Item::Record(r) => &r.position,
            Item::Bad(b) => &b.position,
            Item::Skipped { position, .. } => position,
        }
    }

    fn bad(position: Position, message: impl Into<String>) -> Item {
        Item::Bad(BadRecord {
            position,
            message: message.into(),
        })
    }

    fn skipped(position: Position, reason: impl Into<String>) -> Item {
        Item::Skipped {
            position,
            reason: reason.into(),
        }
    }
}

/// The items of one input, in input order.
pub type Items = Box<dyn Iterator<Item = Item> + Send>;

/// A byte stream that can be moved to another thread.
type Source = Box<dyn BufRead + Send>;

/// Why an input could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The file or folder could not be opened or read.
    Io(std::io::Error),
    /// The format was not named and cannot be told from the content.
    UnknownFormat {
        /// The input, as named.
        name: String,
    },
    /// A folder, named with a format that does not read folders.
    Folder {
        /// The folder, as named.
        name: String,
        /// The format named.
        format: InputFormat,
    },
    /// A folder that is not a Maildir (no `cur` or `new` folder in it).
    NotMaildir {
        /// The folder, as named.
        name: String,
    },
}

impl OpenError {
    /// The input could not be opened or read.
    pub fn is_io(&self) -> bool {
        matches!(self, OpenError::Io(_))
    }

    /// The format cannot be told from the content.
    pub fn is_unknown_format(&self) -> bool {
        matches!(self, OpenError::UnknownFormat { .. })
    }

    /// A folder named with a format that does not read folders.
    pub fn is_folder(&self) -> bool {
        matches!(self, OpenError::Folder { .. })
    }

    /// A folder that is not a Maildir.
    pub fn is_not_maildir(&self) -> bool {
        matches!(self, OpenError::NotMaildir { .. })
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Io(e) => write!(f, "{e}"),
            OpenError::UnknownFormat { name } => write!(
                f,
                "cannot tell the format of `{name}`; name it with --input-format jsonl|pmta|dsn|postfix"
            ),
            OpenError::Folder { name, format } => write!(
                f,
                "`{name}` is a folder; only the `dsn` format reads folders (Maildir), not `{format}`"
            ),
            OpenError::NotMaildir { name } => write!(
                f,
                "`{name}` is a folder but not a Maildir (it has no `cur` or `new` folder)"
            ),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for OpenError {
    fn from(e: std::io::Error) -> OpenError {
        OpenError::Io(e)
    }
}

/// Opens `path`: a file, a Maildir folder, or `-` for standard input (see
/// [`Input::open`]).
pub fn open(path: &Path, format: InputFormat) -> Result<Input, OpenError> {
    Input::open(path, format)
}

/// An input opened, its format known, to be read as [`Item`]s
/// ([`Input::items`], or a `for` loop) or in [`Batch`]es
/// ([`Input::batches`]).
pub struct Input {
    name: String,
    format: InputFormat,
    source: Opened,
}

enum Opened {
    /// A Maildir's messages.
    Items(Items),
    /// A byte stream.
    Stream(Source),
}

impl Input {
    /// Opens `path`: a file, a Maildir folder, or `-` for standard input.
    /// With [`InputFormat::Auto`] the format is told from the content (see
    /// [`detect`]), and a folder is a Maildir. Positions name the file as
    /// given (`<stdin>` for `-`).
    pub fn open(path: &Path, format: InputFormat) -> Result<Input, OpenError> {
        let stdin = path.as_os_str() == "-";
        let name = if stdin {
            String::from("<stdin>")
        } else {
            crate::core::source::display_name(path)
        };
        if !stdin && path.is_dir() {
            return match format {
                InputFormat::Auto | InputFormat::Dsn => Ok(Input {
                    source: Opened::Items(dsn::maildir(path, &name)?),
                    name,
                    format: InputFormat::Dsn,
                }),
                other => Err(OpenError::Folder {
                    name,
                    format: other,
                }),
            };
        }
        let reader: Source = if stdin {
            Box::new(BufReader::with_capacity(BUFFER, std::io::stdin()))
        } else {
            Box::new(BufReader::with_capacity(BUFFER, std::fs::File::open(path)?))
        };
        Input::from_source(reader, name, format)
    }

    /// An input already open, named `name` in positions; with
    /// [`InputFormat::Auto`] its format is told from the content.
    pub fn from_reader(
        reader: impl BufRead + Send + 'static,
        name: impl Into<String>,
        format: InputFormat,
    ) -> Result<Input, OpenError> {
        Input::from_source(Box::new(reader), name.into(), format)
    }

    fn from_source(
        mut reader: Source,
        name: String,
        format: InputFormat,
    ) -> Result<Input, OpenError> {
        let format = match format {
            InputFormat::Auto => {
                let (head, detected) = detect::sniff(&mut reader)?;
                reader = Box::new(std::io::Cursor::new(head).chain(reader));
                detected.ok_or_else(|| OpenError::UnknownFormat { name: name.clone() })?
            }
            f => f,
        };
        let format = match format {
            InputFormat::Auto => InputFormat::Jsonl,
            f => f,
        };
        Ok(Input {
            name,
            format,
            source: Opened::Stream(reader),
        })
    }

    /// The format the input is read as: the one named, or the one detected.
    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// The input's name, as in positions.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The input's items, in input order.
    pub fn items(self) -> Items {
        let reader = match self.source {
            Opened::Items(items) => return items,
            Opened::Stream(reader) => reader,
        };
        match self.format {
            InputFormat::Dsn => dsn::stream(reader, self.name),
            InputFormat::Postfix => Box::new(postfix::Reader::new(reader, self.name)),
            InputFormat::Auto | InputFormat::Jsonl | InputFormat::Pmta => Box::new(Flat {
                batches: Input {
                    source: Opened::Stream(reader),
                    ..self
                }
                .batches(),
                items: Vec::new().into_iter(),
                buffer: Vec::new(),
            }),
        }
    }

    /// The input in [`Batch`]es, to be read on several threads: JSON lines
    /// and PowerMTA files as [`LineBatch`]es of whole records
    /// ([`LineBatch::read`]), the other formats as batches of [`Item`]s.
    pub fn batches(self) -> Batches {
        self.batches_sized(lines::CHUNK)
    }

    /// [`Input::batches`], the lines cut in pieces of about `piece` bytes.
    fn batches_sized(self, piece: usize) -> Batches {
        let reader = match self.source {
            Opened::Items(items) => return Batches(BatchSource::Items(items)),
            Opened::Stream(reader) => reader,
        };
        let name: Arc<str> = self.name.into();
        Batches(match self.format {
            InputFormat::Auto | InputFormat::Jsonl => BatchSource::Jsonl {
                chunker: lines::Chunker::with_piece_size(reader, piece),
                name,
            },
            InputFormat::Pmta => BatchSource::Pmta(pmta::Splitter::new(
                lines::Chunker::with_piece_size(reader, piece),
                name,
            )),
            InputFormat::Dsn => BatchSource::Items(dsn::stream(reader, name.to_string())),
            InputFormat::Postfix => {
                BatchSource::Items(Box::new(postfix::Reader::new(reader, name.to_string())))
            }
        })
    }
}

impl IntoIterator for Input {
    type Item = Item;
    type IntoIter = Items;

    /// [`Input::items`].
    fn into_iter(self) -> Items {
        self.items()
    }
}

/// The items of an input read in batches, one after the other.
struct Flat {
    batches: Batches,
    items: std::vec::IntoIter<Item>,
    /// The buffer of the last batch of lines, for the next.
    buffer: Vec<u8>,
}

impl Iterator for Flat {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.items.next() {
                return Some(item);
            }
            let batch = self.batches.next_batch(std::mem::take(&mut self.buffer))?;
            let items = match batch {
                Batch::Items(items) => items,
                Batch::Lines(lines) => {
                    let mut items = Vec::new();
                    lines.read(|item| items.push(item.into_item(lines.name())));
                    self.buffer = lines.into_buffer();
                    items
                }
            };
            self.items = items.into_iter();
        }
    }
}

/// How many items a [`Batch::Items`] holds at most.
const ITEMS_PER_BATCH: usize = 1024;

/// An input read in batches (see [`Input::batches`]).
pub struct Batches(BatchSource);

enum BatchSource {
    Items(Items),
    Jsonl {
        chunker: lines::Chunker,
        name: Arc<str>,
    },
    Pmta(pmta::Splitter),
}

/// A part of an input, in input order.
pub enum Batch {
    /// Items read already (the records of the formats read record by
    /// record, and lines found bad while the input was cut).
    Items(Vec<Item>),
    /// Whole records, to be read with [`LineBatch::read`].
    Lines(LineBatch),
}

impl Batches {
    /// The next batch; `buffer` is an empty buffer that a [`LineBatch`]
    /// may take (see [`LineBatch::into_buffer`]), so that buffers are reused.
    pub fn next_batch(&mut self, buffer: Vec<u8>) -> Option<Batch> {
        match &mut self.0 {
            BatchSource::Items(items) => {
                let batch: Vec<Item> = items.by_ref().take(ITEMS_PER_BATCH).collect();
                (!batch.is_empty()).then_some(Batch::Items(batch))
            }
            BatchSource::Jsonl { chunker, name } => Some(match chunker.next(buffer)? {
                lines::Piece::Lines { first, data } => Batch::Lines(LineBatch {
                    name: name.clone(),
                    format: LineFormat::Jsonl,
                    first,
                    data,
                }),
                lines::Piece::TooLong { line } => {
                    Batch::Items(vec![too_long(Position::new(&**name, line))])
                }
                lines::Piece::Error { line, error } => Batch::Items(vec![Item::bad(
                    Position::new(&**name, line),
                    format!("cannot read: {error}"),
                )]),
            }),
            BatchSource::Pmta(splitter) => splitter.next_batch(buffer),
        }
    }
}

/// The bad record of a line longer than [`lines::MAX_LINE`].
fn too_long(at: Position) -> Item {
    Item::bad(
        at,
        format!("line is longer than {} MiB", lines::MAX_LINE >> 20),
    )
}

/// How the lines of a [`LineBatch`] are read.
#[derive(Clone)]
enum LineFormat {
    Jsonl,
    Pmta(Arc<pmta::Header>),
}

/// Whole records of a JSON lines or PowerMTA input.
pub struct LineBatch {
    name: Arc<str>,
    format: LineFormat,
    first: usize,
    data: Vec<u8>,
}

/// One thing read from a [`LineBatch`].
pub enum LineItem<'a> {
    /// A bounce, borrowed from the input.
    Record(View<'a>),
    /// A record that is not a bounce (see [`Item::Skipped`]).
    Skipped {
        /// The line where it starts.
        line: usize,
        /// Why it is skipped.
        reason: Skip<'a>,
    },
    /// A bad record, or a record read the general way (a JSON line in a
    /// shape the scanner leaves to `serde_json`).
    Item(Item),
}

impl LineItem<'_> {
    /// The item, owned, for an input named `name`.
    fn into_item(self, name: &str) -> Item {
        match self {
            LineItem::Record(v) => Item::Record(v.to_record(name)),
            LineItem::Skipped { line, reason } => {
                Item::skipped(Position::new(name, line), reason.to_string())
            }
            LineItem::Item(item) => item,
        }
    }
}

/// Why a record was skipped; displays as [`Item::Skipped`]'s reason.
#[derive(Clone, Copy, Debug)]
pub enum Skip<'a> {
    /// A PowerMTA record type other than `b` and `rb`.
    RecordType(&'a str),
}

impl fmt::Display for Skip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::RecordType(kind) => write!(f, "record type `{kind}`"),
        }
    }
}

impl LineBatch {
    /// The input's name, as in positions.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads the records in order, giving what each holds to `f` (blank
    /// lines give nothing): the items of [`Input::items`] for them.
    pub fn read(&self, mut f: impl FnMut(LineItem<'_>)) {
        match &self.format {
            LineFormat::Jsonl => jsonl::read_lines(&self.data, self.first, &self.name, &mut f),
            LineFormat::Pmta(header) => {
                pmta::read_lines(&self.data, self.first, &self.name, header, &mut f);
            }
        }
    }

    /// The batch's buffer, to be reused.
    pub fn into_buffer(self) -> Vec<u8> {
        self.data
    }
}

/// A bounce record borrowed from where it was read: what an
/// [`InputRecord`] holds, without copies.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    /// The line where the record starts.
    pub line: usize,
    /// [`Bounce::mx`].
    pub mx: Option<&'a str>,
    /// [`Bounce::rcpt`].
    pub rcpt: Option<&'a str>,
    /// [`Bounce::reply`].
    pub reply: &'a str,
    /// [`Bounce::status`].
    pub status: Option<Status>,
    /// [`Bounce::reported_category`].
    pub reported_category: Option<Category>,
    /// [`InputRecord::time`].
    pub time: Option<&'a str>,
    /// [`InputRecord::incoming_category`].
    pub incoming_category: Option<&'a str>,
    /// [`InputRecord::extra`].
    pub extra: Extras<'a>,
    /// The fields above known to need no escaping in a JSON string (they
    /// were read from JSON strings without escapes): [`View::PLAIN_MX`] and
    /// the like.
    pub plain: u8,
}

impl View<'_> {
    /// [`View::mx`] needs no escaping in a JSON string.
    pub const PLAIN_MX: u8 = 1;
    /// [`View::rcpt`] needs no escaping in a JSON string.
    pub const PLAIN_RCPT: u8 = 2;
    /// [`View::reply`] needs no escaping in a JSON string.
    pub const PLAIN_REPLY: u8 = 4;
    /// [`View::time`] needs no escaping in a JSON string.
    pub const PLAIN_TIME: u8 = 8;
    /// [`View::incoming_category`] needs no escaping in a JSON string.
    pub const PLAIN_INCOMING_CATEGORY: u8 = 16;

    /// The record, owned, as read from an input named `file`.
    pub fn to_record(&self, file: &str) -> InputRecord {
        let extra = self
            .extra
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Extra::Str(s) => Value::String(s.text.to_string()),
                    Extra::Json(j) => j.clone(),
                };
                (k.text.to_string(), v)
            })
            .collect();
        InputRecord {
            bounce: Bounce {
                mx: self.mx.map(String::from),
                rcpt: self.rcpt.map(String::from),
                reply: self.reply.to_string(),
                status: self.status,
                reported_category: self.reported_category,
            },
            time: self.time.map(String::from),
            incoming_category: self.incoming_category.map(String::from),
            extra,
            position: Position::new(file, self.line),
        }
    }
}

/// The fields of a record passed through to the output, by name (sorted,
/// each name once).
#[derive(Clone, Copy, Debug)]
pub enum Extras<'a> {
    /// Of a JSON line read by the fast reader.
    Json(&'a [(Cow<'a, str>, jsonl::Scalar<'a>)]),
    /// PowerMTA columns: name and value.
    Columns(&'a [(Text<'a>, Text<'a>)]),
    /// Of an [`InputRecord`].
    Map(&'a Map<String, Value>),
}

/// A string, and whether it is known to need no escaping in a JSON string.
#[derive(Clone, Copy, Debug)]
pub struct Text<'a> {
    /// The string.
    pub text: &'a str,
    /// It needs no escaping in a JSON string.
    pub plain: bool,
}

impl<'a> Text<'a> {
    fn of(s: &'a Cow<'a, str>) -> Text<'a> {
        Text {
            text: s,
            // A JSON string without escapes holds no quote, backslash or
            // control character.
            plain: matches!(s, Cow::Borrowed(_)),
        }
    }

    pub(crate) fn str(text: &'a str) -> Text<'a> {
        Text { text, plain: false }
    }
}

/// A field passed through.
#[derive(Clone, Copy, Debug)]
pub enum Extra<'a> {
    /// A string.
    Str(Text<'a>),
    /// Any other JSON value (of a JSON line).
    Json(&'a Value),
}

impl<'a> Extras<'a> {
    /// The fields, sorted by name.
    pub fn iter(self) -> ExtrasIter<'a> {
        ExtrasIter(match self {
            Extras::Json(fields) => ExtrasSource::Json(fields.iter()),
            Extras::Columns(fields) => ExtrasSource::Columns(fields.iter()),
            Extras::Map(fields) => ExtrasSource::Map(fields.iter()),
        })
    }
}

/// The fields of [`Extras`], sorted by name.
pub struct ExtrasIter<'a>(ExtrasSource<'a>);

enum ExtrasSource<'a> {
    Json(std::slice::Iter<'a, (Cow<'a, str>, jsonl::Scalar<'a>)>),
    Columns(std::slice::Iter<'a, (Text<'a>, Text<'a>)>),
    Map(serde_json::map::Iter<'a>),
}

impl<'a> Iterator for ExtrasIter<'a> {
    type Item = (Text<'a>, Extra<'a>);

    fn next(&mut self) -> Option<(Text<'a>, Extra<'a>)> {
        match &mut self.0 {
            ExtrasSource::Json(fields) => fields.next().map(|(k, v)| {
                let v = match v {
                    jsonl::Scalar::Str(s) => Extra::Str(Text::of(s)),
                    jsonl::Scalar::Other(v) => Extra::Json(v),
                };
                (Text::of(k), v)
            }),
            ExtrasSource::Columns(fields) => fields.next().map(|&(k, v)| (k, Extra::Str(v))),
            ExtrasSource::Map(fields) => fields.next().map(|(k, v)| (Text::str(k), Extra::Json(v))),
        }
    }
}

impl InputRecord {
    /// The record as a [`View`].
    pub fn view(&self) -> View<'_> {
        View {
            line: self.position.line,
            mx: self.bounce.mx.as_deref(),
            rcpt: self.bounce.rcpt.as_deref(),
            reply: &self.bounce.reply,
            status: self.bounce.status,
            reported_category: self.bounce.reported_category,
            time: self.time.as_deref(),
            incoming_category: self.incoming_category.as_deref(),
            extra: Extras::Map(&self.extra),
            plain: 0,
        }
    }
}

/// A bounce as the readers build it; `incoming` is the category the input
/// gave it, a condition for rules when it is one of PowerMTA's words.
fn bounce(
    mx: Option<String>,
    rcpt: Option<String>,
    reply: String,
    status: Option<crate::core::status::Status>,
    incoming: Option<&str>,
) -> Bounce {
    Bounce {
        mx,
        rcpt,
        reply,
        status,
        reported_category: incoming
            .and_then(|c| crate::core::status::Category::from_word(c.trim())),
    }
}

/// `s.parse::<Status>()`, quick for the usual `5.1.1`: a class digit, and
/// a subject and a detail of one to three digits each.
pub(crate) fn parse_status(s: &str) -> Result<Status, crate::core::status::StatusError> {
    let b = s.as_bytes();
    // One to three digits at `at`, their value and where they end.
    let digits = |at: usize| {
        let mut value = 0u16;
        let mut end = at;
        while let Some(&d) = b.get(end).filter(|d| d.is_ascii_digit()) {
            // Saturating: a long run of digits is refused below, not wrapped.
            value = value.saturating_mul(10).saturating_add(u16::from(d - b'0'));
            end += 1;
        }
        (end > at && end - at <= 3).then_some((value, end))
    };
    if let [class @ (b'2' | b'4' | b'5'), b'.', ..] = b
        && let Some((subject, dot)) = digits(2)
        && subject <= 7
        && b.get(dot) == Some(&b'.')
        && let Some((detail, end)) = digits(dot + 1)
        && end == b.len()
    {
        return Ok(Status::new(class - b'0', subject, detail));
    }
    s.parse()
}

/// A recipient address as written in the inputs (`rfc822; <User@X.org>`),
/// reduced to the address: type prefix, angle brackets and white space
/// removed. Case is kept.
pub fn clean_address(raw: &str) -> String {
    let mut s = raw.trim();
    if let Some((head, rest)) = s.split_once(';')
        && !head.is_empty()
        && head.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        s = rest.trim();
    }
    if let Some(open) = s.find('<') {
        let inner = &s[open + 1..];
        s = inner.find('>').map_or(inner, |close| &inner[..close]);
    }
    s.trim().to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record or item, written out to be compared.
    fn describe_view(v: &View<'_>) -> String {
        let extra: Map<String, Value> = v
            .extra
            .iter()
            .map(|(k, e)| {
                let value = match e {
                    Extra::Str(s) => Value::String(s.text.to_string()),
                    Extra::Json(j) => j.clone(),
                };
                (k.text.to_string(), value)
            })
            .collect();
        // Plain strings need no escaping indeed.
        let plain = |t: Text<'_>| {
            !t.plain || serde_json::to_string(t.text).ok() == Some(format!("\"{}\"", t.text))
        };
        for (k, e) in v.extra.iter() {
            assert!(plain(k), "{k:?}");
            if let Extra::Str(t) = e {
                assert!(plain(t), "{t:?}");
            }
        }
        let fields = [
            (View::PLAIN_MX, v.mx),
            (View::PLAIN_RCPT, v.rcpt),
            (View::PLAIN_REPLY, Some(v.reply)),
            (View::PLAIN_TIME, v.time),
            (View::PLAIN_INCOMING_CATEGORY, v.incoming_category),
        ];
        for (flag, field) in fields {
            if let Some(text) = field {
                assert!(
                    plain(Text {
                        text,
                        plain: v.plain & flag != 0
                    }),
                    "{text:?}"
                );
            }
        }
        let names: Vec<&str> = v.extra.iter().map(|(k, _)| k.text).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "extras sorted, each once");
        format!(
            "{} mx={:?} rcpt={:?} reply={:?} status={:?} category={:?} time={:?} incoming={:?} extra={}",
            v.line,
            v.mx,
            v.rcpt,
            v.reply,
            v.status,
            v.reported_category,
            v.time,
            v.incoming_category,
            serde_json::to_string(&extra).unwrap_or_default()
        )
    }

    fn describe_item(item: &Item) -> String {
        match item {
            Item::Record(r) => format!("record {}", describe_view(&r.view())),
            Item::Bad(b) => format!("bad {b}"),
            Item::Skipped { position, reason } => format!("skipped {position}: {reason}"),
        }
    }

    /// What [`Input::items`] gives for `data`.
    fn slow(data: &[u8], format: InputFormat) -> Vec<String> {
        let reader = std::io::Cursor::new(data.to_vec());
        match Input::from_reader(reader, "in", format) {
            Ok(input) => input.items().map(|i| describe_item(&i)).collect(),
            Err(e) => vec![format!("error {e}")],
        }
    }

    /// What the batches give for `data`, read through a small buffer and
    /// cut in pieces of about `piece` bytes.
    fn fast(data: &[u8], format: InputFormat, piece: usize) -> Vec<String> {
        let reader = BufReader::with_capacity(100, std::io::Cursor::new(data.to_vec()));
        let mut batches = match Input::from_reader(reader, "in", format) {
            Ok(input) => input.batches_sized(piece),
            Err(e) => return vec![format!("error {e}")],
        };
        let mut out = Vec::new();
        while let Some(batch) = batches.next_batch(Vec::new()) {
            match batch {
                Batch::Items(items) => out.extend(items.iter().map(describe_item)),
                Batch::Lines(lines) => lines.read(|item| {
                    out.push(match item {
                        LineItem::Record(v) => format!("record {}", describe_view(&v)),
                        LineItem::Skipped { line, reason } => {
                            format!("skipped {}:{line}: {reason}", lines.name())
                        }
                        LineItem::Item(item) => describe_item(&item),
                    });
                }),
            }
        }
        out
    }

    /// The items of `data` do not depend on where the input is cut.
    fn same(data: &[u8], format: InputFormat) {
        let want = slow(data, format);
        for piece in [1, 7, 300, lines::CHUNK] {
            let got = fast(data, format, piece);
            for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                assert_eq!(
                    g,
                    w,
                    "item {i} of {:?}, pieces of {piece}",
                    String::from_utf8_lossy(data)
                );
            }
            assert_eq!(
                got.len(),
                want.len(),
                "{:?}, pieces of {piece}",
                String::from_utf8_lossy(data)
            );
        }
    }

    /// A small deterministic generator for the input tests.
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    #[test]
    fn json_lines_in_batches_are_read_as_one_by_one() {
        let keys = [
            "reply",
            "mx",
            "rcpt",
            "status",
            "time",
            "incoming_category",
            "id",
            "input",
            "category",
            "verdict",
            "rule",
            "zzz",
            "a\\u0041",
            "re\\u0070ly",
            "\\\"q",
            "",
        ];
        let values = [
            "\"550 5.1.1 no such user\"",
            "\"550-5.1.1 first\\r\\n550 5.1.1 second\"",
            "\"tab\\tand \\u00e9 \\u2028 \\/ \\\\ \\\" \\b\\f\"",
            "\"\\ud83d\\ude00\"",
            "\"\\ud83d\"",
            "\"\\u12\"",
            "\"\\x\"",
            "\"é – ü\"",
            "\"5.1.1\"",
            "\" 4.2.2 \"",
            "\"  \"",
            "\"5.9.1\"",
            "\"bad-mailbox\"",
            "\" policy-related \"",
            "\"2024-05-01 10:20:30\"",
            "null",
            "true",
            "false",
            "0",
            "-0",
            "7",
            "-12",
            "123456789012345678",
            "1234567890123456789",
            "18446744073709551616",
            "-9223372036854775809",
            "1.5",
            "1e3",
            "-2.5E-3",
            "01",
            "1.",
            "-",
            "[1, {\"b\": [true, null]}, \"x\"]",
            "{\"z\": 1, \"a\": {\"c\": 2, \"b\": 3}}",
            "{}",
            "[]",
            "\"unterminated",
            "tru",
            "nul",
            "\"ctl\u{1}\"",
        ];
        let spaces = ["", " ", "\t", "\r\n ", "\u{b}"];
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut data = String::new();
        for _ in 0..6000 {
            let mut line = String::new();
            match rng.below(40) {
                0 => line.push_str("[1]"),
                1 => line.push_str("   "),
                2 => line.push_str("{\"reply\": \"x\"} trailing"),
                3 => line.push_str("{\"reply\": \"x\",}"),
                _ => {
                    line.push_str(rng.pick(&spaces));
                    line.push('{');
                    let members = rng.below(8);
                    if rng.below(3) > 0 {
                        line.push_str("\"reply\":");
                        line.push_str(rng.pick(&values[..8]));
                        if members > 0 {
                            line.push(',');
                        }
                    }
                    for m in 0..members {
                        line.push_str(rng.pick(&spaces));
                        line.push('"');
                        line.push_str(rng.pick(&keys));
                        line.push('"');
                        line.push_str(rng.pick(&spaces));
                        line.push(':');
                        line.push_str(rng.pick(&spaces));
                        line.push_str(rng.pick(&values));
                        if m + 1 < members {
                            line.push(',');
                        }
                    }
                    line.push_str(rng.pick(&spaces));
                    line.push('}');
                    line.push_str(rng.pick(&spaces));
                }
            }
            data.push_str(&line);
            data.push_str(if rng.below(5) == 0 { "\r\n" } else { "\n" });
        }
        let mut bytes = data.into_bytes();
        // A line that is not UTF-8.
        bytes.extend_from_slice(b"{\"reply\": \"\xff\"}\n{\"reply\":\"end\"}");
        for line in bytes.split(|&b| b == b'\n') {
            if let Ok(text) = std::str::from_utf8(line) {
                jsonl::tests::both_ways(text.trim());
            }
        }
        same(&bytes, InputFormat::Jsonl);
        same(&bytes, InputFormat::Auto);
        same(b"", InputFormat::Jsonl);
        same(b"\n\n", InputFormat::Jsonl);
    }

    #[test]
    fn deep_nesting_is_left_to_serde_json() {
        for depth in [100, 126, 127, 128, 200] {
            let value = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let line = format!("{{\"reply\":\"x\",\"deep\":{value}}}\n");
            same(line.as_bytes(), InputFormat::Jsonl);
        }
    }

    #[test]
    fn pmta_files_in_batches_are_read_as_one_by_one() {
        let headers = [
            "type,timeLogged,rcpt,dsnStatus,dsnDiag,dsnMta,bounceCat,jobId",
            "jobId,type,timeLogged,rcpt,orig,vmta,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,envId,header_X-Id",
            "\u{feff}timeLogged,rcpt,dsnStatus,dsnDiag,dsnMta,bounceCat,x,x,,rcpt,\"status\"",
            "rcpt, type ,dsnDiag,mx,reply,input,verdict",
        ];
        let fields = [
            "",
            " ",
            "b",
            "rb",
            "d",
            "tq",
            " b ",
            "type",
            "\"type\"",
            "\"ty\"pe",
            "\"typ\"e",
            "\"t\"\"ype\"",
            "\u{feff}type",
            "\u{feff} \"type\"",
            "\ttype\t",
            " \"type\"",
            "atype",
            "ty pe",
            "5.1.1 (bad destination mailbox address)",
            "4.4.1(no answer)",
            "bogus",
            "smtp;550 5.1.1 no such user",
            "\"smtp;550 5.7.1 blocked, see \"\"list\"\"\"",
            "\"a,b\"",
            "\"unterminated",
            "\"x\"y",
            "mx.example.com (192.0.2.1)",
            "anna@example.com",
            "bad-mailbox",
            "policy-related",
            "2024-05-01 10:20:30-0700",
            "é\u{a0}",
            "a\rb",
            "\"smtp;550 5.1.1 first\nsecond, \"\"third\"\"\"",
            "\"a\r\nb\"",
            "\"\n\"",
            "\"ends\r\"",
        ];
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for round in 0..200 {
            let mut data = Vec::new();
            if rng.below(3) == 0 {
                data.extend_from_slice(b"\n  \n");
            }
            let mut columns = 0;
            for _ in 0..1 + rng.below(60) {
                let roll = rng.below(30);
                if roll == 0 || columns == 0 {
                    let h = rng.pick(&headers);
                    columns = h.split(',').count();
                    data.extend_from_slice(h.as_bytes());
                } else if roll == 1 {
                    data.extend_from_slice(b"   ,  ");
                } else if roll == 2 {
                    data.extend_from_slice(b"b,\xff\xfe,x@y,5.1.1,smtp;550 \xc3\xa9,mx");
                } else {
                    let n = if rng.below(15) == 0 {
                        columns + 1
                    } else {
                        columns
                    };
                    let row: Vec<&str> = (0..n).map(|_| rng.pick(&fields)).collect();
                    data.extend_from_slice(row.join(",").as_bytes());
                }
                data.extend_from_slice(if rng.below(6) == 0 { b"\r\n" } else { b"\n" });
            }
            if round % 3 == 0 {
                data.extend_from_slice(b"b,no line break");
            }
            same(&data, InputFormat::Pmta);
        }
    }

    #[test]
    fn pmta_files_split_across_batches() {
        // Enough rows for several batches, and a header repeated in the middle.
        let mut data = String::from("type,rcpt,dsnStatus,dsnDiag,dsnMta,id\n");
        for i in 0..40_000 {
            if i == 20_000 {
                data.push_str("dsnDiag,type,rcpt\n");
            }
            if i < 20_000 {
                data.push_str(&format!(
                    "b,u{i}@example.com,5.1.1,\"smtp;550 5.1.1 no, such user\",mx.example.com,{i}\n"
                ));
            } else {
                data.push_str(&format!("smtp;421 try later {i},rb,u{i}@example.com\n"));
            }
        }
        same(data.as_bytes(), InputFormat::Pmta);
        same(data.as_bytes(), InputFormat::Auto);
    }

    /// A reader that fails after its bytes.
    struct Failing(std::io::Cursor<Vec<u8>>);

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(std::io::Error::other("disk on fire")),
                n => Ok(n),
            }
        }
    }

    #[test]
    fn read_errors_are_reported_at_the_same_line() {
        for (data, format) in [
            (
                &b"{\"reply\":\"a\"}\n{\"reply\":\"b\"}\npartial"[..],
                InputFormat::Jsonl,
            ),
            (b"{\"reply\":\"a\"}\n", InputFormat::Jsonl),
            (b"", InputFormat::Jsonl),
            (b"type,dsnDiag\nb,x\nb,y", InputFormat::Pmta),
        ] {
            let slow: Vec<String> = {
                let reader = BufReader::new(Failing(std::io::Cursor::new(data.to_vec())));
                // Up to the first error: the record-by-record readers would
                // try to read on after it.
                let mut out = Vec::new();
                if let Ok(input) = Input::from_reader(reader, "in", format) {
                    for item in input {
                        out.push(describe_item(&item));
                        if out.last().is_some_and(|i| i.contains("cannot read")) {
                            break;
                        }
                    }
                }
                out
            };
            let reader = BufReader::new(Failing(std::io::Cursor::new(data.to_vec())));
            let mut fast = Vec::new();
            if let Ok(mut batches) = Input::from_reader(reader, "in", format).map(Input::batches) {
                while let Some(batch) = batches.next_batch(Vec::new()) {
                    match batch {
                        Batch::Items(items) => fast.extend(items.iter().map(describe_item)),
                        Batch::Lines(lines) => lines.read(|item| {
                            if let LineItem::Record(v) = item {
                                fast.push(format!("record {}", describe_view(&v)));
                            }
                        }),
                    }
                }
            }
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn formats_round_trip() {
        for f in InputFormat::ALL {
            assert_eq!(f.as_str().parse::<InputFormat>(), Ok(f));
        }
        assert_eq!("PMTA".parse::<InputFormat>(), Ok(InputFormat::Pmta));
        assert!("csv".parse::<InputFormat>().is_err());
    }

    #[test]
    fn statuses_parse_as_status_parses_them() {
        let alphabet = [
            "2", "4", "5", "0", "1", "7", "8", "9", ".", "*", " ", "x", "é",
        ];
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut next = |n: usize| rng.below(n);
        for _ in 0..200_000 {
            let s: String = (0..next(12))
                .map(|_| alphabet[next(alphabet.len())])
                .collect();
            assert_eq!(parse_status(&s), s.parse::<Status>(), "{s:?}");
        }
        for s in [
            "5.1.1", "4.7.28", "2.0.0", "5.7.999", "5.8.1", "5.1.1000", "05.1.1", "5.01.001",
        ] {
            assert_eq!(parse_status(s), s.parse::<Status>(), "{s:?}");
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(clean_address("rfc822; <User@X.org>"), "User@X.org");
        assert_eq!(clean_address(" a@b.c "), "a@b.c");
        assert_eq!(clean_address("John <j@x.org>"), "j@x.org");
        assert_eq!(clean_address("RFC822;a@b"), "a@b");
    }
}
