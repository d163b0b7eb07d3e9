//! The compiled file: versioned, checksummed, deterministic, verified on load.
//!
//! Layout (all integers little-endian):
//!
//! | bytes | what |
//! |-------|------|
//! | 0..8 | magic `MXRULES\0` |
//! | 8..12 | format version ([`FORMAT_VERSION`]) |
//! | 12..16 | endianness mark `0x0A0B0C0D` |
//! | 16..24 | total length of the file |
//! | 24..28 | CRC-32 of every byte from 32 to the end |
//! | 28..32 | zero |
//! | 32..40 | length of the table of contents |
//! | 40.. | table of contents: JSON with the rule table (status, verdict, category, note, file and line of every rule), the policy, the scope selector and, for every scope, its DFAs' offsets and lengths |
//! | … | the DFAs, each regex-automata's own serialization, 8-byte aligned |
//!
//! The same rules always give the same bytes. [`load`] checks the magic,
//! version, endianness, length and checksum, then deserializes each DFA in
//! place (`DFA::from_bytes`, which validates it): nothing is compiled and the
//! DFA tables are not copied. A damaged or foreign file is an error, never
//! undefined behaviour.
//!
//! ```
//! use mxrules::syntax::load::Parsed;
//! let mut parsed = Parsed::default();
//! parsed.add_text("a.rules", r#"global { /^550 5\.1\.1 / -> 5.1.1 quarantine }"#);
//! let rules = mxrules::check::check(&parsed).rules.unwrap();
//! let (tables, _) = mxrules::compile::compile(rules, &Default::default()).unwrap();
//! let bytes = mxrules::runtime::artifact::to_bytes(&tables).unwrap();
//!
//! let aligned = mxrules::runtime::artifact::AlignedBytes::new(&bytes);
//! let classifier = mxrules::runtime::artifact::load(aligned.as_slice()).unwrap();
//! let v = classifier.classify(&mxrules::core::bounce::Bounce::new("550 5.1.1 no such user"));
//! assert_eq!(v.verdict.as_str(), "quarantine");
//! ```

use std::fmt;
use std::path::Path;

use regex_automata::dfa::{Automaton, dense};
use serde::{Deserialize, Serialize};

use crate::core::model::RuleSet;
use crate::runtime::classify::Classifier;
use crate::runtime::tables::{
    Check, CompiledScope, Hit, Pieces, Prefilter, ScopeRule, Selector, Tables,
};

/// The first bytes of every compiled file.
pub const MAGIC: &[u8; 8] = b"MXRULES\0";
/// The version of the layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 3;
const ENDIAN_MARK: u32 = 0x0A0B_0C0D;
const HEADER_LEN: usize = 40;

/// Why a compiled file was refused.
#[derive(Debug)]
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
}

impl ArtifactError {
    fn new(kind: ErrorKind) -> ArtifactError {
        ArtifactError { kind }
    }

    /// The file could not be read or written.
    pub fn is_io(&self) -> bool {
        matches!(self.kind, ErrorKind::Io(_))
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

    /// The file's bytes do not match its checksum, or a part of it is invalid.
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Checksum { .. } | ErrorKind::Corrupt(_) | ErrorKind::Endianness
        )
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
        }
    }
}

impl std::error::Error for ArtifactError {}

/// Where a DFA lies in the file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct RuleEntry {
    rule: usize,
    check: CheckEntry,
}

/// How a rule is found: by its literals alone, by its DFA at `offset`, or
/// by its pieces.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
enum CheckEntry {
    Literal { start: bool, end: bool },
    Dfa { offset: u64, len: u64, groups: u8 },
    Pieces { pieces: Pieces, groups: u8 },
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct ScopeEntry {
    name: String,
    rules: Vec<RuleEntry>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct SelectorEntry {
    exact: Vec<(String, usize)>,
    suffix: Vec<(String, usize)>,
    rcpt: Vec<(String, usize)>,
    global: Option<usize>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Contents {
    rules: RuleSet,
    selector: SelectorEntry,
    scopes: Vec<ScopeEntry>,
    /// The literals of every rule, lowercase, and what finding each says.
    literals: Vec<(Vec<u8>, Vec<Hit>)>,
}

fn pad8(n: usize) -> usize {
    (8 - n % 8) % 8
}

/// The bytes of the compiled file for `tables`.
pub fn to_bytes<T: AsRef<[u32]>>(tables: &Tables<T>) -> Result<Vec<u8>, ArtifactError> {
    // Serialize the DFAs first to learn their sizes.
    let mut blobs: Vec<Vec<Vec<u8>>> = Vec::new();
    for scope in &tables.scopes {
        let mut v = Vec::new();
        for r in &scope.rules {
            if let Check::Dfa { dfa, .. } = &r.check {
                let (bytes, pad) = dfa.to_bytes_little_endian();
                v.push(bytes[pad..].to_vec());
            }
        }

        blobs.push(v);
    }
    // The table of contents refers to offsets after itself, so lay out the
    // DFAs relative to the start of the data area and fix it up below.
    let mut scopes = Vec::new();
    let mut rel = 0u64;
    for (scope, b) in tables.scopes.iter().zip(&blobs) {
        let mut entries = Vec::new();
        let mut blobs = b.iter();
        for r in &scope.rules {
            let check = match &r.check {
                Check::Literal { start, end } => CheckEntry::Literal {
                    start: *start,
                    end: *end,
                },
                Check::Dfa { groups, .. } => {
                    let len = blobs.next().map_or(0, Vec::len);
                    let entry = CheckEntry::Dfa {
                        offset: rel,
                        len: len as u64,
                        groups: *groups,
                    };
                    rel += (len + pad8(len)) as u64;
                    entry
                }
                Check::Pieces { pieces, groups } => CheckEntry::Pieces {
                    pieces: (**pieces).clone(),
                    groups: *groups,
                },
            };
            entries.push(RuleEntry {
                rule: r.rule,
                check,
            });
        }
        scopes.push(ScopeEntry {
            name: scope.name.clone(),
            rules: entries,
        });
    }
    let contents = Contents {
        rules: tables.rules.clone(),
        selector: SelectorEntry {
            exact: tables.selector.exact.sorted(),
            suffix: tables.selector.suffix.sorted(),
            rcpt: tables.selector.rcpt.sorted(),
            global: tables.selector.global,
        },
        scopes,
        literals: tables.prefilter.literals.clone(),
    };
    let toc = serde_json::to_vec(&contents)
        .map_err(|e| ArtifactError::new(ErrorKind::Corrupt(e.to_string())))?;
    let data_start = HEADER_LEN + toc.len() + pad8(HEADER_LEN + toc.len());
    let total = data_start + rel as usize;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&ENDIAN_MARK.to_le_bytes());
    out.extend_from_slice(&(total as u64).to_le_bytes());
    out.extend_from_slice(&[0u8; 8]); // checksum, filled in below
    out.extend_from_slice(&(toc.len() as u64).to_le_bytes());
    out.extend_from_slice(&toc);
    out.resize(data_start, 0);
    for b in blobs.iter().flatten() {
        out.extend_from_slice(b);
        out.resize(out.len() + pad8(b.len()), 0);
    }
    let crc = crc32fast::hash(&out[32..]);
    out[24..28].copy_from_slice(&crc.to_le_bytes());
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
        Ok(AlignedBytes { buf, start })
    }

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

/// The DFA stored at `offset` (from the data area) for `len` bytes, read
/// in place and validated.
fn read_dfa<'a>(
    bytes: &'a [u8],
    data_start: usize,
    offset: u64,
    len: u64,
    scope: &str,
) -> Result<dense::DFA<&'a [u32]>, ArtifactError> {
    let start = usize::try_from(offset)
        .ok()
        .and_then(|o| o.checked_add(data_start))
        .ok_or_else(|| corrupt("DFA offset out of range"))?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .ok_or_else(|| corrupt("DFA length out of range"))?;
    let blob = bytes
        .get(start..end)
        .ok_or_else(|| corrupt("DFA runs past the end of the file"))?;
    dense::DFA::from_bytes(blob)
        .map(|(dfa, _)| dfa)
        .map_err(|err| corrupt(format!("DFA of scope `{scope}`: {err}")))
}

fn read_rules<'a>(
    bytes: &'a [u8],
    data_start: usize,
    entries: &[RuleEntry],
    scope: &str,
    nrules: usize,
) -> Result<Vec<ScopeRule<&'a [u32]>>, ArtifactError> {
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        if e.rule >= nrules {
            return Err(corrupt("a scope refers to a rule that does not exist"));
        }
        let (offset, len, groups) = match e.check {
            CheckEntry::Literal { start, end } => {
                out.push(ScopeRule {
                    rule: e.rule,
                    check: Check::Literal { start, end },
                });
                continue;
            }
            CheckEntry::Dfa {
                offset,
                len,
                groups,
            } => (offset, len, groups),
            CheckEntry::Pieces { ref pieces, groups } => {
                pieces
                    .validate()
                    .map_err(|e| corrupt(format!("a rule's pieces: {e}")))?;
                if usize::from(groups) > 8 {
                    return Err(corrupt("a rule has more literal groups than a byte holds"));
                }
                out.push(ScopeRule {
                    rule: e.rule,
                    check: Check::Pieces {
                        pieces: Box::new(pieces.clone()),
                        groups,
                    },
                });
                continue;
            }
        };
        if usize::from(groups) > 8 {
            return Err(corrupt("a rule has more literal groups than a byte holds"));
        }
        let dfa = read_dfa(bytes, data_start, offset, len, scope)?;
        if Automaton::pattern_len(&dfa) != 1 {
            return Err(corrupt("a rule's DFA does not hold exactly one pattern"));
        }
        out.push(ScopeRule {
            rule: e.rule,
            check: Check::Dfa {
                dfa: Box::new(dfa),
                groups,
            },
        });
    }
    Ok(out)
}

/// Verifies a compiled file and builds a classifier that reads its DFAs in
/// place. `bytes` must start 8-byte aligned (use [`AlignedBytes`]).
pub fn load(bytes: &[u8]) -> Result<Classifier<&[u32]>, ArtifactError> {
    if bytes.len() < 8 || !bytes.starts_with(MAGIC) {
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
    let found = crc32fast::hash(&bytes[32..]);
    if expected != found {
        return Err(ArtifactError::new(ErrorKind::Checksum { expected, found }));
    }
    let toc_len =
        usize::try_from(u64_at(bytes, 32)).map_err(|_| corrupt("table of contents too long"))?;
    let toc = bytes
        .get(HEADER_LEN..HEADER_LEN.saturating_add(toc_len))
        .ok_or_else(|| corrupt("table of contents runs past the end"))?;
    let contents: Contents =
        serde_json::from_slice(toc).map_err(|e| corrupt(format!("table of contents: {e}")))?;
    let data_start = HEADER_LEN + toc_len + pad8(HEADER_LEN + toc_len);
    let nrules = contents.rules.rules.len();
    let nscopes = contents.rules.scopes.len();
    if contents.scopes.len() != nscopes {
        return Err(corrupt("scope count does not match the rule table"));
    }
    let mut scopes = Vec::with_capacity(contents.scopes.len());
    for s in &contents.scopes {
        let members = read_rules(bytes, data_start, &s.rules, &s.name, nrules)?;
        scopes.push(CompiledScope::new(s.name.clone(), members));
    }
    let prefilter = Prefilter::new(contents.literals, &scopes, &contents.rules).map_err(corrupt)?;
    let in_range = |v: &[(String, usize)]| v.iter().all(|(_, i)| *i < nscopes);
    let sel = &contents.selector;
    if !in_range(&sel.exact)
        || !in_range(&sel.suffix)
        || !in_range(&sel.rcpt)
        || sel.global.is_some_and(|g| g >= nscopes)
    {
        return Err(corrupt(
            "the scope selector refers to a scope that does not exist",
        ));
    }
    if contents.rules.rules.iter().any(|r| r.scope >= nscopes)
        || contents
            .rules
            .rules
            .iter()
            .enumerate()
            .any(|(i, r)| r.id != i)
    {
        return Err(corrupt("the rule table is inconsistent"));
    }
    let selector = Selector {
        exact: sel.exact.iter().cloned().collect(),
        suffix: sel.suffix.iter().cloned().collect(),
        rcpt: sel.rcpt.iter().cloned().collect(),
        global: sel.global,
    };
    Ok(Classifier::from_tables(Tables {
        rules: contents.rules,
        scopes,
        selector,
        prefilter,
    }))
}
