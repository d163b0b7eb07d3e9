//! The compiled file (`.mxc`): versioned, checksummed, deterministic,
//! verified on load.
//!
//! [`to_bytes`] and [`write()`] turn [`Tables`] into the file; [`load`] reads
//! them back, the DFAs in place, without the compiler. The same tables always
//! give the same bytes: nothing depends on hash order, time or the machine
//! (only on its byte order, which the file records). A damaged or foreign
//! file is an error that says what is wrong, never a panic or undefined
//! behaviour.
//!
//! ```
//! use mxrules::runtime::artifact::{self, AlignedBytes};
//! use mxrules::runtime::classify::Classifier;
//! use mxrules::syntax::load::Parsed;
//!
//! let mut parsed = Parsed::default();
//! parsed.add_text("a.rules", r#"global { /^550 5\.1\.1 / -> 5.1.1 quarantine }"#);
//! let rules = mxrules::check::check(&parsed).rules.unwrap();
//! let (tables, _) = mxrules::compile::compile(rules, &Default::default()).unwrap();
//! let bytes = artifact::to_bytes(&tables).unwrap();
//!
//! let aligned = AlignedBytes::new(&bytes);
//! let classifier = Classifier::from_tables(artifact::load(aligned.as_slice()).unwrap());
//! let v = classifier.classify(&mxrules::core::bounce::Bounce::new("550 5.1.1 no such user"));
//! assert_eq!(v.verdict.as_str(), "quarantine");
//! ```
//!
//! # Layout
//!
//! Format version 4 ([`FORMAT_VERSION`]). Every integer is little-endian.
//! The file is a header, the table of contents, and the data area:
//!
//! | bytes | what |
//! |-------|------|
//! | 0..8 | magic `MXRULES\0` ([`MAGIC`]) |
//! | 8..12 | `u32` format version |
//! | 12..16 | `u32` endianness mark `0x0A0B0C0D` (reads as `0x0D0C0B0A` on a machine of the other byte order) |
//! | 16..24 | `u64` length of the whole file |
//! | 24..28 | `u32` CRC-32 (IEEE, as zlib's `crc32`) of every byte from 32 to the end |
//! | 28..32 | zero |
//! | 32..40 | `u64` length of the table of contents, `T` |
//! | 40..40+T | the table of contents |
//! | then | zero bytes up to the next multiple of 8: the data area starts there, 8-byte aligned |
//! | data area | the DFAs, each at the offset the table of contents gives (from the start of the data area), each followed by zero bytes up to a multiple of 8 |
//!
//! A DFA is regex-automata's own serialization of a dense DFA
//! (`dense::DFA::to_bytes_little_endian`, read by `dense::DFA::from_bytes`,
//! which validates it), one pattern per DFA, without the leading padding.
//! A file read into an 8-byte aligned buffer ([`AlignedBytes`]) has every
//! DFA 8-byte aligned in memory (regex-automata needs 4), so each is read
//! where it lies, without being copied.
//!
//! ## The table of contents
//!
//! The table of contents is a sequence of fields with no padding and no
//! tags; the grammar below gives their order. Its types:
//!
//! - `u8`, `u16`, `u32`, `u64`: little-endian integers; `bool`: a `u8`, 0 or 1.
//! - `bytes`: a `u32` length, then that many bytes; `str`: `bytes` that are UTF-8.
//! - `list<X>`: a `u32` count, then that many `X`; `opt<X>`: a `u8`, 0 (none)
//!   or 1 followed by an `X`.
//! - `status`: `u8` class, `u16` subject, `u16` detail (`5.1.1`).
//! - `pattern`: the same, with class 0 and subject or detail `0xFFFF` for `*`
//!   (`5.1.*`, `*.*.*`).
//! - `verdict`: a `u8`: 0 quarantine, 1 blocked, 2 hard, 3 soft.
//! - `category`: a `u8`: 0 bad-mailbox, 1 inactive-mailbox, 2 bad-domain,
//!   3 quota-issues, 4 policy-related, 5 spam-related, 6 content-related,
//!   7 virus-related, 8 routing-errors, 9 relaying-issues, 10 protocol-errors,
//!   11 bad-connection, 12 no-answer-from-host, 13 message-expired,
//!   14 invalid-sender, 15 bad-configuration, 16 other.
//! - `location`: `str` file name (as given to the compiler), `u32` line, `u32` column.
//!
//! ```text
//! toc        = policy scopes rules compiled selector literals
//! policy     = list<pattern verdict opt<location>>          most specific first
//! scopes     = list<scope>
//! scope      = list<key> list<u32 rule> location             its keys, its rules in source order
//! key        = u8 0 str host | u8 1 str suffix | u8 2 str domain | u8 3
//!                                                            mx is, mx ends with (no leading dot),
//!                                                            rcpt domain is, global
//! rules      = list<rule>                                    a rule's number is its place
//! rule       = u32 scope  str regex  bool case_insensitive
//!              list<pattern> initial  list<category> reported
//!              status  opt<verdict>  opt<category>  opt<str> note
//!              list<str> examples  location
//! compiled   = list<str name  list<member>>                  one per scope, in the order of scopes
//! member     = u32 rule  check                               a scope's rules, in source order
//! check      = u8 0  bool start  bool end                    found by its literals alone
//!            | u8 1  u8 groups  u64 offset  u64 length       its DFA, in the data area
//!            | u8 2  u8 groups  bool start  bool end
//!                    list<bytes text  bytes mask  u8 gap>    literal pieces (mask byte 0x20: either case)
//! selector   = names exact  names suffix  names rcpt  opt<u32 scope> global
//! names      = list<str name  u32 scope>                     sorted by name, each name once
//! literals   = list<bytes key  list<hit>>                    the prefilter's keys, lowercase
//! hit        = u8 0  u32 scope  u32 member  u32 offset  bytes text  bytes fold
//!                                                            a literal rule's text, the key `offset` into it,
//!                                                            fold: 1 per byte matched in either case, else 0
//!            | u8 1  u32 scope  u32 member  u8 group         a key of literal group `group` of a rule
//! ```
//!
//! `scope` numbers index `scopes`, `rule` numbers index `rules`, and a
//! hit's `member` indexes the members of its compiled scope; a literal's
//! hits are sorted by scope. `groups` is at most 8. The table of contents
//! must end exactly at its recorded length.
//!
//! ## On load
//!
//! [`load`] checks, in order: the magic, the version (a newer or older
//! file is refused, with what to do), the endianness mark, the length, the
//! reserved bytes and the checksum; then it reads the table of contents,
//! checking every count against the bytes left, every number against what
//! it indexes, every code, every DFA (`from_bytes`), and builds the
//! prefilter, which checks every hit against the rule it is about.

use std::fmt;
use std::path::Path;

use crate::runtime::tables::Tables;
use crate::runtime::toc::{self, Encoded, TocError, pad8};

/// The first bytes of every compiled file.
pub const MAGIC: &[u8; 8] = b"MXRULES\0";
/// The version of the layout this build writes and reads. Any change to
/// what is written bumps it.
pub const FORMAT_VERSION: u32 = 4;
const ENDIAN_MARK: u32 = 0x0A0B_0C0D;
const HEADER_LEN: usize = 40;
/// The checksum covers the file from here to its end.
const CHECKED_FROM: usize = 32;

/// Why a compiled file was refused, or could not be written.
#[derive(Debug)]
#[non_exhaustive]
pub struct ArtifactError {
    kind: ErrorKind,
}

#[derive(Debug)]
enum ErrorKind {
    Io(std::io::Error),
    NotAnArtifact,
    Truncated { expected: u64, found: u64 },
    NewerVersion(u32),
    OlderVersion(u32),
    Endianness,
    Checksum { expected: u32, found: u32 },
    Corrupt(String),
    Toc(TocError),
}

impl ArtifactError {
    fn new(kind: ErrorKind) -> ArtifactError {
        ArtifactError { kind }
    }

    /// The file is not a compiled rules file at all.
    pub fn is_not_an_artifact(&self) -> bool {
        matches!(self.kind, ErrorKind::NotAnArtifact)
    }

    /// The file is shorter than its header says.
    pub fn is_truncated(&self) -> bool {
        matches!(self.kind, ErrorKind::Truncated { .. })
    }

    /// The file was written by a different format version.
    pub fn is_version_mismatch(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::NewerVersion(_) | ErrorKind::OlderVersion(_)
        )
    }

    /// The file's bytes do not match its checksum, or a part of it is
    /// invalid: its header, its table of contents, a DFA or the tables they
    /// make (a [`TableError`](crate::runtime::tables::TableError), the
    /// error's source).
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Checksum { .. }
                | ErrorKind::Corrupt(_)
                | ErrorKind::Endianness
                | ErrorKind::Toc(TocError::Damaged { .. } | TocError::Table(_))
        )
    }

    /// The tables are too big for the format (a count or a length over
    /// `u32::MAX`): no file was written.
    pub fn is_too_big(&self) -> bool {
        matches!(self.kind, ErrorKind::Toc(TocError::TooBig(_)))
    }
}

impl fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Io(e) => write!(f, "{e}"),
            ErrorKind::NotAnArtifact => f.write_str(
                "not a compiled mxrules file (wrong magic bytes); compile rules with `mxrules compile -o FILE`",
            ),
            ErrorKind::Truncated { expected, found } => write!(
                f,
                "compiled file is truncated: the header says {expected} bytes, the file has {found}; compile it again"
            ),
            ErrorKind::NewerVersion(v) => write!(
                f,
                "compiled file has format version {v}, newer than the version {FORMAT_VERSION} this mxrules reads; upgrade mxrules or compile the rules with this one"
            ),
            ErrorKind::OlderVersion(v) => write!(
                f,
                "compiled file has format version {v}, older than the version {FORMAT_VERSION} this mxrules reads; compile the rules again"
            ),
            ErrorKind::Endianness => f.write_str("compiled file was written for a machine of the other byte order; compile it again here"),
            ErrorKind::Checksum { expected, found } => write!(
                f,
                "compiled file is corrupted: checksum {found:08x} does not match the recorded {expected:08x}; compile it again"
            ),
            ErrorKind::Corrupt(what) => write!(f, "compiled file is corrupted: {what}; compile it again"),
            ErrorKind::Toc(e @ TocError::TooBig(_)) => write!(f, "cannot write the compiled file: {e}"),
            ErrorKind::Toc(e) => write!(f, "compiled file is corrupted: {e}; compile it again"),
        }
    }
}

impl std::error::Error for ArtifactError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) => Some(e),
            ErrorKind::Toc(TocError::Table(e)) => Some(e),
            _ => None,
        }
    }
}

/// The bytes of the compiled file for `tables`: the same tables always give
/// the same bytes.
pub fn to_bytes<T: AsRef<[u32]>>(tables: &Tables<T>) -> Result<Vec<u8>, ArtifactError> {
    let Encoded {
        toc,
        dfas,
        data_len,
    } = toc::encode(tables).map_err(|e| ArtifactError::new(ErrorKind::Toc(e)))?;
    let data_start = HEADER_LEN + toc.len() + pad8(HEADER_LEN + toc.len());
    let total = usize::try_from(data_len)
        .ok()
        .and_then(|n| n.checked_add(data_start))
        .ok_or_else(|| ArtifactError::new(ErrorKind::Toc(TocError::TooBig("the file"))))?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&ENDIAN_MARK.to_le_bytes());
    out.extend_from_slice(&(total as u64).to_le_bytes());
    out.extend_from_slice(&[0u8; 8]); // checksum and reserved, filled in below
    out.extend_from_slice(&(toc.len() as u64).to_le_bytes());
    out.extend_from_slice(&toc);
    out.resize(data_start, 0);
    for dfa in &dfas {
        out.extend_from_slice(dfa);
        out.resize(out.len() + pad8(dfa.len()), 0);
    }
    let crc = crc32fast::hash(out.get(CHECKED_FROM..).unwrap_or_default());
    if let Some(slot) = out.get_mut(24..28) {
        slot.copy_from_slice(&crc.to_le_bytes());
    }
    Ok(out)
}

/// Writes the compiled file atomically: to a temporary file beside `path`,
/// synced, then renamed over it, so a crash never leaves half a file.
pub fn write<T: AsRef<[u32]>>(path: &Path, tables: &Tables<T>) -> Result<(), ArtifactError> {
    let bytes = to_bytes(tables)?;
    crate::core::fs::write_atomically(path, &bytes)
        .map_err(|e| ArtifactError::new(ErrorKind::Io(e)))
}

/// A byte buffer whose start is 8-byte aligned, as DFA deserialization
/// requires, without unsafe code: the buffer is over-allocated and the data
/// starts at the first aligned offset.
#[derive(Clone, Debug)]
pub struct AlignedBytes {
    buf: Vec<u8>,
    start: usize,
}

impl AlignedBytes {
    /// Copies `data` into an aligned buffer.
    pub fn new(data: &[u8]) -> AlignedBytes {
        let mut buf = Vec::with_capacity(data.len() + 8);
        let start = (8 - buf.as_ptr() as usize % 8) % 8;
        buf.resize(start, 0);
        buf.extend_from_slice(data);
        AlignedBytes { buf, start }
    }

    /// Reads a file into an aligned buffer.
    pub fn read(path: &Path) -> Result<AlignedBytes, ArtifactError> {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| ArtifactError::new(ErrorKind::Io(e)))?;
        let len = f.metadata().map(|m| m.len() as usize).unwrap_or(0);
        let mut buf = Vec::with_capacity(len + 8);
        let start = (8 - buf.as_ptr() as usize % 8) % 8;
        buf.resize(start, 0);
        f.read_to_end(&mut buf)
            .map_err(|e| ArtifactError::new(ErrorKind::Io(e)))?;
        let read = AlignedBytes { buf, start };
        // Should reading have moved the buffer, it is copied to an
        // aligned one.
        if (read.as_slice().as_ptr() as usize).is_multiple_of(8) {
            Ok(read)
        } else {
            Ok(AlignedBytes::new(read.as_slice()))
        }
    }

    /// The bytes, starting 8-byte aligned.
    pub fn as_slice(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or(&[])
    }
}

/// True when `bytes` start like a compiled file.
pub fn looks_like_artifact(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

fn corrupt(what: impl Into<String>) -> ArtifactError {
    ArtifactError::new(ErrorKind::Corrupt(what.into()))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// Verifies a compiled file and reads its tables, the DFAs in place:
/// nothing is compiled and no DFA is copied. `bytes` must start 8-byte
/// aligned (use [`AlignedBytes`]). [`Classifier::from_tables`] makes a
/// classifier of them.
///
/// [`Classifier::from_tables`]: crate::runtime::classify::Classifier::from_tables
pub fn load(bytes: &[u8]) -> Result<Tables<&[u32]>, ArtifactError> {
    if bytes.len() < MAGIC.len() || !bytes.starts_with(MAGIC) {
        return Err(ArtifactError::new(ErrorKind::NotAnArtifact));
    }
    if bytes.len() < HEADER_LEN {
        return Err(ArtifactError::new(ErrorKind::Truncated {
            expected: HEADER_LEN as u64,
            found: bytes.len() as u64,
        }));
    }
    let version = u32_at(bytes, 8);
    if version > FORMAT_VERSION {
        return Err(ArtifactError::new(ErrorKind::NewerVersion(version)));
    }
    if version < FORMAT_VERSION {
        return Err(ArtifactError::new(ErrorKind::OlderVersion(version)));
    }
    if u32_at(bytes, 12) != ENDIAN_MARK {
        return Err(ArtifactError::new(ErrorKind::Endianness));
    }
    let total = u64_at(bytes, 16);
    if total != bytes.len() as u64 {
        if total > bytes.len() as u64 {
            return Err(ArtifactError::new(ErrorKind::Truncated {
                expected: total,
                found: bytes.len() as u64,
            }));
        }
        return Err(corrupt(format!(
            "{} bytes follow the recorded end of the file",
            bytes.len() as u64 - total
        )));
    }
    if u32_at(bytes, 28) != 0 {
        return Err(corrupt("reserved header bytes are not zero"));
    }
    let expected = u32_at(bytes, 24);
    let found = crc32fast::hash(bytes.get(CHECKED_FROM..).unwrap_or_default());
    if expected != found {
        return Err(ArtifactError::new(ErrorKind::Checksum { expected, found }));
    }
    let toc_len =
        usize::try_from(u64_at(bytes, 32)).map_err(|_| corrupt("table of contents too long"))?;
    let toc_end = HEADER_LEN
        .checked_add(toc_len)
        .ok_or_else(|| corrupt("table of contents too long"))?;
    let toc = bytes
        .get(HEADER_LEN..toc_end)
        .ok_or_else(|| corrupt("table of contents runs past the end"))?;
    let data = bytes.get(toc_end + pad8(toc_end)..).unwrap_or_default();
    toc::decode(toc, data).map_err(|e| ArtifactError::new(ErrorKind::Toc(e)))
}
