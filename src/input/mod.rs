//! Bounce records from the files deliverability engineers have.
//!
//! [`open`] streams the records of one input, in any of these formats,
//! told by `--input-format` or detected from the content ([`detect`]):
//!
//! | format | what | one record per |
//! |--------|------|----------------|
//! | [`InputFormat::Jsonl`] | JSON lines: `{"mx": …, "rcpt": …, "reply": …, "status": …, "time": …}` ([`jsonl`]) | line |
//! | [`InputFormat::Pmta`] | PowerMTA accounting CSV, header-driven ([`pmta`]) | `b` or `rb` row |
//! | [`InputFormat::Dsn`] | RFC 3464 bounce emails: an `.eml` file, an mbox file or a Maildir folder ([`dsn`]) | failed or delayed recipient |
//! | [`InputFormat::Postfix`] | Postfix mail logs ([`postfix`]) | `status=bounced` or `status=deferred` line |
//!
//! Every input yields [`Item`]s in input order: a record to classify, a bad
//! record (reported with its file and line, the rest is read on), or a
//! record skipped on purpose (a PowerMTA delivery record, a `status=sent`
//! log line), so that the caller can count them. Inputs are read as they
//! are consumed: memory does not grow with the input's size (a DSN message
//! is held whole while it is read, up to [`MAX_MESSAGE_BYTES`]).
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
//! let items: Vec<Item> = mxrules::input::open(&path, InputFormat::Auto).unwrap().collect();
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

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::classify::Bounce;

pub use jsonl::{Record, parse_json_line};
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
    pub const ALL: [InputFormat; 5] = [
        InputFormat::Auto,
        InputFormat::Jsonl,
        InputFormat::Pmta,
        InputFormat::Dsn,
        InputFormat::Postfix,
    ];

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

impl FromStr for InputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<InputFormat, String> {
        InputFormat::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown input format `{s}`; expected one of auto, jsonl, pmta, dsn, postfix"
                )
            })
    }
}

/// Where a record was read: the file as named (`<stdin>` for standard
/// input; for a Maildir, the message's file) and its 1-based line (for a
/// DSN message, the line where the message starts).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    pub file: String,
    pub line: usize,
}

impl Position {
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
    pub position: Position,
}

/// A record that could not be read; the rest of the input is read on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRecord {
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
    Skipped { position: Position, reason: String },
}

impl Item {
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

/// The items of one input.
pub type Items = Box<dyn Iterator<Item = Item> + Send>;

/// A byte stream that can be moved to another thread.
type Source = Box<dyn BufRead + Send>;

/// Streams the records of `path`: a file, a Maildir folder, or `-` for
/// standard input. With [`InputFormat::Auto`] the format is told from the
/// content (see [`detect`]); an input whose format cannot be told is an
/// error of kind `InvalidData`, and so is a folder that is not a Maildir.
/// Positions name the file as given (`<stdin>` for `-`).
pub fn open(path: &Path, format: InputFormat) -> std::io::Result<Items> {
    open_detected(path, format).map(|(_, items)| items)
}

/// As [`open`], and the format the input is read as (the one given, or the
/// one detected).
pub fn open_detected(path: &Path, format: InputFormat) -> std::io::Result<(InputFormat, Items)> {
    let stdin = path.as_os_str() == "-";
    let name = if stdin {
        String::from("<stdin>")
    } else {
        crate::source::display_name(path)
    };
    if !stdin && path.is_dir() {
        return match format {
            InputFormat::Auto | InputFormat::Dsn => {
                dsn::maildir(path, &name).map(|items| (InputFormat::Dsn, items))
            }
            other => Err(invalid(format!(
                "`{name}` is a folder; only the `dsn` format reads folders (Maildir), not `{other}`"
            ))),
        };
    }
    let reader: Source = if stdin {
        Box::new(BufReader::with_capacity(BUFFER, std::io::stdin()))
    } else {
        Box::new(BufReader::with_capacity(BUFFER, std::fs::File::open(path)?))
    };
    open_reader(reader, name, format)
}

/// Streams the records of an already open input named `name`, and tells
/// the format it is read as.
pub fn open_reader(
    reader: impl BufRead + Send + 'static,
    name: String,
    format: InputFormat,
) -> std::io::Result<(InputFormat, Items)> {
    let mut reader: Source = Box::new(reader);
    let format = match format {
        InputFormat::Auto => {
            let (head, detected) = detect::sniff(&mut reader)?;
            reader = Box::new(std::io::Cursor::new(head).chain(reader));
            match detected {
                Some(f) => f,
                None => {
                    return Err(invalid(format!(
                        "cannot tell the format of `{name}`; name it with --input-format jsonl|pmta|dsn|postfix"
                    )));
                }
            }
        }
        f => f,
    };
    let items: Items = match format {
        InputFormat::Auto | InputFormat::Jsonl => Box::new(jsonl::Reader::new(reader, name)),
        InputFormat::Pmta => Box::new(pmta::Reader::new(reader, name)),
        InputFormat::Dsn => dsn::stream(reader, name),
        InputFormat::Postfix => Box::new(postfix::Reader::new(reader, name)),
    };
    let format = match format {
        InputFormat::Auto => InputFormat::Jsonl,
        f => f,
    };
    Ok((format, items))
}

/// A bounce as the readers build it; `incoming` is the category the input
/// gave it, a condition for rules when it is one of PowerMTA's words.
fn bounce(
    mx: Option<String>,
    rcpt: Option<String>,
    reply: String,
    status: Option<crate::status::Status>,
    incoming: Option<&str>,
) -> Bounce {
    Bounce {
        mx,
        rcpt,
        reply,
        status,
        reported_category: incoming.and_then(|c| crate::status::Category::from_word(c.trim())),
    }
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
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
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        for f in InputFormat::ALL {
            assert_eq!(f.as_str().parse::<InputFormat>(), Ok(f));
        }
        assert_eq!("PMTA".parse::<InputFormat>(), Ok(InputFormat::Pmta));
        assert!("csv".parse::<InputFormat>().is_err());
    }

    #[test]
    fn addresses() {
        assert_eq!(clean_address("rfc822; <User@X.org>"), "User@X.org");
        assert_eq!(clean_address(" a@b.c "), "a@b.c");
        assert_eq!(clean_address("John <j@x.org>"), "j@x.org");
        assert_eq!(clean_address("RFC822;a@b"), "a@b");
    }
}
