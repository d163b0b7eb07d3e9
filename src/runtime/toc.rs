//! The table of contents of a compiled file, written and read field by
//! field: the one place where the runtime tables meet the bytes of the
//! format. The layout it implements is documented in
//! [`crate::runtime::artifact`].
//!
//! Every struct of the tables is taken apart here with all its fields named
//! (no `..`), so a field added to a rule, a scope or a table does not
//! compile until it is given a place in the format (or explicitly left out
//! of it). Changing what is written is a change of the format: bump
//! [`crate::runtime::artifact::FORMAT_VERSION`] and regenerate the golden
//! compiled file of the tests.

use std::fmt;

use regex_automata::dfa::{Automaton, dense};

use crate::core::model::{Policy, PolicyEntry, Rule, RuleSet, Scope, ScopeKey};
use crate::core::source::{Location, Span};
use crate::core::status::{Category, Part, Status, StatusPattern, Verdict};
use crate::runtime::tables::{
    Check, CompiledScope, Hit, Keys, Piece, Pieces, Prefilter, ScopeRule, Selector, TableError,
    Tables,
};

/// A table of contents and the DFAs it refers to, as written.
pub(crate) struct Encoded {
    /// The table of contents.
    pub toc: Vec<u8>,
    /// Each DFA's serialization, in the order of the table of contents;
    /// each lies at the next 8-byte aligned offset of the data area.
    pub dfas: Vec<Vec<u8>>,
    /// The length of the data area: every DFA, each padded to 8 bytes.
    pub data_len: u64,
}

/// Why a table of contents could not be written or read.
#[derive(Debug)]
pub(crate) enum TocError {
    /// A number does not fit its field (written as a `u32`).
    TooBig(&'static str),
    /// The bytes at `at` (from the start of the table of contents) are not
    /// what the layout says.
    Damaged { at: usize, what: String },
    /// The tables read are inconsistent.
    Table(TableError),
}

impl fmt::Display for TocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TocError::TooBig(what) => write!(f, "{what} is too big for the compiled file format"),
            TocError::Damaged { at, what } => write!(f, "table of contents, byte {at}: {what}"),
            TocError::Table(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// 8-byte alignment padding after `n` bytes.
pub(crate) fn pad8(n: usize) -> usize {
    (8 - n % 8) % 8
}

// ---------------------------------------------------------------------------
// Writing

/// Writes the table of contents of `tables` and serializes their DFAs.
pub(crate) fn encode<T: AsRef<[u32]>>(tables: &Tables<T>) -> Result<Encoded, TocError> {
    let Tables {
        rules,
        scopes,
        selector,
        prefilter,
    } = tables;
    let mut w = Writer::default();
    rule_set(&mut w, rules)?;
    let mut dfas = Vec::new();
    let mut data_len = 0u64;
    w.list(scopes, "the compiled scopes", |w, s| {
        compiled_scope(w, s, &mut dfas, &mut data_len)
    })?;
    write_selector(&mut w, selector)?;
    let Prefilter { literals, .. } = prefilter;
    w.list(literals, "the literals", |w, (key, hits)| {
        w.bytes(key, "a literal")?;
        w.list(hits, "a literal's hits", hit)
    })?;
    Ok(Encoded {
        toc: w.out,
        dfas,
        data_len,
    })
}

fn rule_set(w: &mut Writer, set: &RuleSet) -> Result<(), TocError> {
    let RuleSet {
        policy,
        scopes,
        rules,
    } = set;
    let Policy { entries } = policy;
    w.list(entries, "the policy", |w, e| {
        let PolicyEntry {
            pattern,
            verdict,
            origin,
        } = e;
        w.pattern(*pattern);
        w.u8(verdict_code(*verdict));
        w.opt(origin.as_ref(), location)
    })?;
    w.list(scopes, "the scopes", |w, s| {
        let Scope {
            keys,
            rules,
            origin,
        } = s;
        w.list(keys, "a scope's keys", |w, k| {
            match k {
                ScopeKey::MxExact(host) => {
                    w.u8(0);
                    w.str(host, "a host")?;
                }
                ScopeKey::MxSuffix(suffix) => {
                    w.u8(1);
                    w.str(suffix, "a host suffix")?;
                }
                ScopeKey::RcptDomain(domain) => {
                    w.u8(2);
                    w.str(domain, "a recipient domain")?;
                }
                ScopeKey::Global => w.u8(3),
            }
            Ok(())
        })?;
        w.list(rules, "a scope's rules", |w, &r| {
            w.index(r, "a rule number")
        })?;
        location(w, origin)
    })?;
    w.list(rules, "the rules", rule)
}

fn rule(w: &mut Writer, rule: &Rule) -> Result<(), TocError> {
    let Rule {
        // A rule's number is its place in the list.
        id: _,
        scope,
        regex,
        case_insensitive,
        initial,
        reported,
        status,
        verdict,
        category,
        note,
        examples,
        origin,
        // Source spans are not kept in compiled files.
        example_spans: _,
        span: _,
        head: _,
    } = rule;
    w.index(*scope, "a scope number")?;
    w.str(regex, "a regex")?;
    w.bool(*case_insensitive);
    w.list(initial, "an initial condition", |w, p| {
        w.pattern(*p);
        Ok(())
    })?;
    w.list(reported, "a reported condition", |w, c| {
        w.u8(category_code(*c));
        Ok(())
    })?;
    w.status(*status);
    w.opt(verdict.as_ref(), |w, v| {
        w.u8(verdict_code(*v));
        Ok(())
    })?;
    w.opt(category.as_ref(), |w, c| {
        w.u8(category_code(*c));
        Ok(())
    })?;
    w.opt(note.as_ref(), |w, n| w.str(n, "a note"))?;
    w.list(examples, "a rule's examples", |w, e| w.str(e, "an example"))?;
    location(w, origin)
}

fn location(w: &mut Writer, l: &Location) -> Result<(), TocError> {
    let Location { file, line, column } = l;
    w.str(file, "a file name")?;
    w.index(*line, "a line number")?;
    w.index(*column, "a column number")
}

fn compiled_scope<T: AsRef<[u32]>>(
    w: &mut Writer,
    scope: &CompiledScope<T>,
    dfas: &mut Vec<Vec<u8>>,
    data_len: &mut u64,
) -> Result<(), TocError> {
    let CompiledScope {
        name,
        rules,
        // Derived from the rules on load.
        always: _,
    } = scope;
    w.str(name, "a scope name")?;
    w.list(rules, "a scope's compiled rules", |w, r| {
        let ScopeRule { rule, check } = r;
        w.index(*rule, "a rule number")?;
        match check {
            Check::Literal { start, end } => {
                w.u8(0);
                w.bool(*start);
                w.bool(*end);
            }
            Check::Dfa { dfa, groups } => {
                let (bytes, pad) = dfa.to_bytes_little_endian();
                let blob = bytes.get(pad..).unwrap_or_default().to_vec();
                w.u8(1);
                w.u8(*groups);
                w.u64(*data_len);
                w.u64(blob.len() as u64);
                *data_len += (blob.len() + pad8(blob.len())) as u64;
                dfas.push(blob);
            }
            Check::Pieces { pieces, groups } => {
                let Pieces { start, end, pieces } = pieces.as_ref();
                w.u8(2);
                w.u8(*groups);
                w.bool(*start);
                w.bool(*end);
                w.list(pieces, "a rule's pieces", |w, p| {
                    let Piece { text, mask, gap } = p;
                    w.bytes(text, "a piece")?;
                    w.bytes(mask, "a piece's case mask")?;
                    w.u8(*gap);
                    Ok(())
                })?;
            }
        }
        Ok(())
    })
}

fn write_selector(w: &mut Writer, selector: &Selector) -> Result<(), TocError> {
    let Selector {
        exact,
        suffix,
        rcpt,
        global,
    } = selector;
    for keys in [exact, suffix, rcpt] {
        w.list(&keys.sorted(), "a selector's names", |w, (name, scope)| {
            w.str(name, "a selector name")?;
            w.index(*scope, "a scope number")
        })?;
    }
    w.opt(global.as_ref(), |w, &g| w.index(g, "a scope number"))
}

fn hit(w: &mut Writer, hit: &Hit) -> Result<(), TocError> {
    match hit {
        Hit::Exact {
            scope,
            rule,
            offset,
            text,
            fold,
        } => {
            w.u8(0);
            w.u32(*scope);
            w.u32(*rule);
            w.u32(*offset);
            w.bytes(text, "a literal rule's text")?;
            let fold: Vec<u8> = fold.iter().map(|&f| u8::from(f)).collect();
            w.bytes(&fold, "a literal rule's case folds")?;
        }
        Hit::Group { scope, rule, group } => {
            w.u8(1);
            w.u32(*scope);
            w.u32(*rule);
            w.u8(*group);
        }
    }
    Ok(())
}

/// The code of a verdict in the format. Frozen: a new verdict takes a new
/// code.
fn verdict_code(v: Verdict) -> u8 {
    match v {
        Verdict::Quarantine => 0,
        Verdict::Blocked => 1,
        Verdict::Hard => 2,
        Verdict::Soft => 3,
    }
}

/// The code of a category in the format. Frozen: a new category takes a
/// new code.
fn category_code(c: Category) -> u8 {
    match c {
        Category::BadMailbox => 0,
        Category::InactiveMailbox => 1,
        Category::BadDomain => 2,
        Category::QuotaIssues => 3,
        Category::PolicyRelated => 4,
        Category::SpamRelated => 5,
        Category::ContentRelated => 6,
        Category::VirusRelated => 7,
        Category::RoutingErrors => 8,
        Category::RelayingIssues => 9,
        Category::ProtocolErrors => 10,
        Category::BadConnection => 11,
        Category::NoAnswerFromHost => 12,
        Category::MessageExpired => 13,
        Category::InvalidSender => 14,
        Category::BadConfiguration => 15,
        Category::Other => 16,
    }
}

/// `Part::Any` of a pattern's subject or detail.
const ANY_PART: u16 = u16::MAX;

/// The table of contents being written: little-endian integers, counted
/// lists and strings.
#[derive(Default)]
struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }

    /// A count, a number or an index, as a `u32`.
    fn index(&mut self, n: usize, what: &'static str) -> Result<(), TocError> {
        self.u32(u32::try_from(n).map_err(|_| TocError::TooBig(what))?);
        Ok(())
    }

    fn bytes(&mut self, b: &[u8], what: &'static str) -> Result<(), TocError> {
        self.index(b.len(), what)?;
        self.out.extend_from_slice(b);
        Ok(())
    }

    fn str(&mut self, s: &str, what: &'static str) -> Result<(), TocError> {
        self.bytes(s.as_bytes(), what)
    }

    fn list<I>(
        &mut self,
        items: &[I],
        what: &'static str,
        mut f: impl FnMut(&mut Writer, &I) -> Result<(), TocError>,
    ) -> Result<(), TocError> {
        self.index(items.len(), what)?;
        items.iter().try_for_each(|i| f(self, i))
    }

    fn opt<I>(
        &mut self,
        item: Option<&I>,
        f: impl FnOnce(&mut Writer, &I) -> Result<(), TocError>,
    ) -> Result<(), TocError> {
        match item {
            None => {
                self.u8(0);
                Ok(())
            }
            Some(i) => {
                self.u8(1);
                f(self, i)
            }
        }
    }

    fn status(&mut self, s: Status) {
        self.u8(s.class);
        self.u16(s.subject);
        self.u16(s.detail);
    }

    fn pattern(&mut self, p: StatusPattern) {
        let part = |p: Part| match p {
            Part::Any => ANY_PART,
            Part::Is(n) => n,
        };
        self.u8(p.class);
        self.u16(part(p.subject));
        self.u16(part(p.detail));
    }
}

// ---------------------------------------------------------------------------
// Reading

/// Reads the table of contents `toc` into tables whose DFAs are read in
/// place from `data`, the data area. Everything is checked: a damaged table
/// of contents is an error, never a panic.
pub(crate) fn decode<'a>(toc: &[u8], data: &'a [u8]) -> Result<Tables<&'a [u32]>, TocError> {
    let mut r = Reader { b: toc, at: 0 };
    let rules = read_rule_set(&mut r)?;
    let nrules = rules.rules.len();
    let nscopes = rules.scopes.len();
    let scopes = r.list("the compiled scopes", |r| {
        read_compiled_scope(r, data, nrules)
    })?;
    if scopes.len() != nscopes {
        return Err(r.damaged(format!(
            "{} compiled scopes for {nscopes} scopes",
            scopes.len()
        )));
    }
    let selector = read_selector(&mut r, nscopes)?;
    let literals = r.list("the literals", |r| {
        let key = r.bytes("a literal")?.to_vec();
        let hits = r.list("a literal's hits", read_hit)?;
        Ok((key, hits))
    })?;
    if r.at != toc.len() {
        return Err(r.damaged(format!(
            "{} bytes follow the end of the table of contents",
            toc.len() - r.at
        )));
    }
    let prefilter = Prefilter::new(literals, &scopes, &rules).map_err(TocError::Table)?;
    Ok(Tables {
        rules,
        scopes,
        selector,
        prefilter,
    })
}

fn read_rule_set(r: &mut Reader<'_>) -> Result<RuleSet, TocError> {
    let entries = r.list("the policy", |r| {
        Ok(PolicyEntry {
            pattern: r.pattern("a policy pattern")?,
            verdict: r.verdict("a policy verdict")?,
            origin: r.opt("a policy origin", read_location)?,
        })
    })?;
    let scopes = r.list("the scopes", |r| {
        Ok(Scope {
            keys: r.list("a scope's keys", read_scope_key)?,
            rules: r.list("a scope's rules", |r| r.index("a rule number"))?,
            origin: read_location(r)?,
        })
    })?;
    let mut id = 0;
    let rules = r.list("the rules", |r| {
        let rule = read_rule(r, id)?;
        id += 1;
        Ok(rule)
    })?;
    let (nscopes, nrules) = (scopes.len(), rules.len());
    if rules.iter().any(|rule| rule.scope >= nscopes)
        || scopes
            .iter()
            .any(|s| s.rules.iter().any(|&rule| rule >= nrules))
    {
        return Err(r.damaged("the rule table is inconsistent"));
    }
    Ok(RuleSet {
        policy: Policy::new(entries),
        scopes,
        rules,
    })
}

fn read_scope_key(r: &mut Reader<'_>) -> Result<ScopeKey, TocError> {
    Ok(match r.u8("a scope key")? {
        0 => ScopeKey::MxExact(r.str("a host")?.to_owned()),
        1 => ScopeKey::MxSuffix(r.str("a host suffix")?.to_owned()),
        2 => ScopeKey::RcptDomain(r.str("a recipient domain")?.to_owned()),
        3 => ScopeKey::Global,
        kind => return Err(r.damaged(format!("unknown scope key kind {kind}"))),
    })
}

fn read_rule(r: &mut Reader<'_>, id: usize) -> Result<Rule, TocError> {
    Ok(Rule {
        id,
        scope: r.index("a rule's scope")?,
        regex: r.str("a regex")?.to_owned(),
        case_insensitive: r.bool("a regex's case flag")?,
        initial: r.list("an initial condition", |r| r.pattern("an initial pattern"))?,
        reported: r.list("a reported condition", |r| {
            r.category("a reported category")
        })?,
        status: r.status("a rule's status")?,
        verdict: r.opt("a rule's verdict", |r| r.verdict("a rule's verdict"))?,
        category: r.opt("a rule's category", |r| r.category("a rule's category"))?,
        note: r.opt("a note", |r| Ok(r.str("a note")?.to_owned()))?,
        examples: r.list("a rule's examples", |r| Ok(r.str("an example")?.to_owned()))?,
        example_spans: Vec::new(),
        origin: read_location(r)?,
        span: Span::default(),
        head: Span::default(),
    })
}

fn read_location(r: &mut Reader<'_>) -> Result<Location, TocError> {
    Ok(Location {
        file: r.str("a file name")?.to_owned(),
        line: r.index("a line number")?,
        column: r.index("a column number")?,
    })
}

fn read_compiled_scope<'a>(
    r: &mut Reader<'_>,
    data: &'a [u8],
    nrules: usize,
) -> Result<CompiledScope<&'a [u32]>, TocError> {
    let name = r.str("a scope name")?.to_owned();
    let rules = r.list("a scope's compiled rules", |r| {
        let rule = r.index("a rule number")?;
        if rule >= nrules {
            return Err(r.damaged("a scope refers to a rule that does not exist"));
        }
        let check = match r.u8("a rule's kind")? {
            0 => Check::Literal {
                start: r.bool("a literal rule's `^`")?,
                end: r.bool("a literal rule's `$`")?,
            },
            1 => {
                let groups = r.groups()?;
                let offset = r.u64("a DFA's offset")?;
                let len = r.u64("a DFA's length")?;
                let dfa = read_dfa(data, offset, len)
                    .map_err(|what| r.damaged(format!("the DFA of a rule of `{name}`: {what}")))?;
                Check::Dfa {
                    dfa: Box::new(dfa),
                    groups,
                }
            }
            2 => {
                let groups = r.groups()?;
                let start = r.bool("a pieces rule's `^`")?;
                let end = r.bool("a pieces rule's `$`")?;
                let pieces = r.list("a rule's pieces", |r| {
                    Ok(Piece {
                        text: r.bytes("a piece")?.to_vec(),
                        mask: r.bytes("a piece's case mask")?.to_vec(),
                        gap: r.u8("a piece's gap")?,
                    })
                })?;
                let pieces = Pieces { start, end, pieces };
                pieces.validate().map_err(TocError::Table)?;
                Check::Pieces {
                    pieces: Box::new(pieces),
                    groups,
                }
            }
            kind => return Err(r.damaged(format!("unknown rule kind {kind}"))),
        };
        Ok(ScopeRule { rule, check })
    })?;
    Ok(CompiledScope::new(name, rules))
}

/// The DFA `len` bytes long at `offset` of the data area, read in place and
/// validated.
fn read_dfa(data: &[u8], offset: u64, len: u64) -> Result<dense::DFA<&[u32]>, String> {
    let start = usize::try_from(offset).map_err(|_| String::from("offset out of range"))?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .ok_or_else(|| String::from("length out of range"))?;
    let blob = data
        .get(start..end)
        .ok_or_else(|| String::from("it runs past the end of the file"))?;
    let (dfa, _) = dense::DFA::from_bytes(blob).map_err(|e| e.to_string())?;
    if Automaton::pattern_len(&dfa) != 1 {
        return Err(String::from("it does not hold exactly one pattern"));
    }
    Ok(dfa)
}

fn read_selector(r: &mut Reader<'_>, nscopes: usize) -> Result<Selector, TocError> {
    let mut names = || -> Result<Keys, TocError> {
        let names = r.list("a selector's names", |r| {
            let name = r.str("a selector name")?.to_owned();
            let scope = r.index("a scope number")?;
            if scope >= nscopes {
                return Err(r.damaged("the scope selector refers to a scope that does not exist"));
            }
            Ok((name, scope))
        })?;
        if !names.windows(2).all(|w| w[0].0 < w[1].0) {
            return Err(r.damaged("the selector's names are not sorted, each once"));
        }
        Ok(names.into_iter().collect())
    };
    let (exact, suffix, rcpt) = (names()?, names()?, names()?);
    let global = r.opt("the global scope", |r| r.index("a scope number"))?;
    if global.is_some_and(|g| g >= nscopes) {
        return Err(r.damaged("the scope selector refers to a scope that does not exist"));
    }
    Ok(Selector {
        exact,
        suffix,
        rcpt,
        global,
    })
}

fn read_hit(r: &mut Reader<'_>) -> Result<Hit, TocError> {
    Ok(match r.u8("a hit's kind")? {
        0 => {
            let scope = r.u32("a hit's scope")?;
            let rule = r.u32("a hit's rule")?;
            let offset = r.u32("a hit's offset")?;
            let text = r.bytes("a literal rule's text")?.to_vec();
            let fold = r
                .bytes("a literal rule's case folds")?
                .iter()
                .map(|&f| match f {
                    0 => Ok(false),
                    1 => Ok(true),
                    _ => Err(r.damaged("a case fold is not 0 or 1")),
                })
                .collect::<Result<_, _>>()?;
            Hit::Exact {
                scope,
                rule,
                offset,
                text,
                fold,
            }
        }
        1 => Hit::Group {
            scope: r.u32("a hit's scope")?,
            rule: r.u32("a hit's rule")?,
            group: r.u8("a hit's literal group")?,
        },
        kind => return Err(r.damaged(format!("unknown hit kind {kind}"))),
    })
}

/// The table of contents being read.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn damaged(&self, what: impl Into<String>) -> TocError {
        TocError::Damaged {
            at: self.at,
            what: what.into(),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], TocError> {
        let taken = self
            .at
            .checked_add(n)
            .and_then(|end| self.b.get(self.at..end))
            .ok_or_else(|| self.damaged(format!("{what} runs past the end")))?;
        self.at += n;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], TocError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn u8(&mut self, what: &str) -> Result<u8, TocError> {
        Ok(u8::from_le_bytes(self.array(what)?))
    }

    fn u16(&mut self, what: &str) -> Result<u16, TocError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, TocError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, TocError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn index(&mut self, what: &str) -> Result<usize, TocError> {
        let n = self.u32(what)?;
        usize::try_from(n).map_err(|_| self.damaged(format!("{what} is out of range")))
    }

    fn bool(&mut self, what: &str) -> Result<bool, TocError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(self.damaged(format!("{what} is {v}, not 0 or 1"))),
        }
    }

    fn bytes(&mut self, what: &str) -> Result<&'a [u8], TocError> {
        let n = self.index(what)?;
        self.take(n, what)
    }

    fn str(&mut self, what: &str) -> Result<&'a str, TocError> {
        let b = self.bytes(what)?;
        std::str::from_utf8(b).map_err(|_| self.damaged(format!("{what} is not UTF-8")))
    }

    fn list<T>(
        &mut self,
        what: &str,
        mut f: impl FnMut(&mut Reader<'a>) -> Result<T, TocError>,
    ) -> Result<Vec<T>, TocError> {
        let n = self.index(what)?;
        // Every entry takes a byte at least: a count that the bytes left
        // cannot hold is damage, found before anything is allocated.
        if n > self.b.len() - self.at {
            return Err(self.damaged(format!(
                "{what} counts {n} entries, more than the bytes left"
            )));
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(f(self)?);
        }
        Ok(out)
    }

    fn opt<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut Reader<'a>) -> Result<T, TocError>,
    ) -> Result<Option<T>, TocError> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => f(self).map(Some),
            v => Err(self.damaged(format!("{what} is marked {v}, not 0 or 1"))),
        }
    }

    /// A rule's literal groups: at most 8, one bit each.
    fn groups(&mut self) -> Result<u8, TocError> {
        let groups = self.u8("a rule's literal groups")?;
        if groups > 8 {
            return Err(self.damaged("a rule has more literal groups than a byte holds"));
        }
        Ok(groups)
    }

    fn verdict(&mut self, what: &str) -> Result<Verdict, TocError> {
        let code = self.u8(what)?;
        Verdict::ALL
            .into_iter()
            .find(|&v| verdict_code(v) == code)
            .ok_or_else(|| self.damaged(format!("{what}: unknown verdict code {code}")))
    }

    fn category(&mut self, what: &str) -> Result<Category, TocError> {
        let code = self.u8(what)?;
        Category::ALL
            .iter()
            .copied()
            .find(|&c| category_code(c) == code)
            .ok_or_else(|| self.damaged(format!("{what}: unknown category code {code}")))
    }

    /// A status, checked as the rules' own statuses are (`5.1.1`).
    fn status(&mut self, what: &str) -> Result<Status, TocError> {
        let (class, subject, detail) = (self.u8(what)?, self.u16(what)?, self.u16(what)?);
        format!("{class}.{subject}.{detail}")
            .parse()
            .map_err(|e| self.damaged(format!("{what}: {e}")))
    }

    /// A status pattern, checked as the rules' own patterns are (`5.1.*`).
    fn pattern(&mut self, what: &str) -> Result<StatusPattern, TocError> {
        let (class, subject, detail) = (self.u8(what)?, self.u16(what)?, self.u16(what)?);
        let part = |p: u16| match p {
            ANY_PART => String::from("*"),
            n => n.to_string(),
        };
        let class = match class {
            0 => String::from("*"),
            c => c.to_string(),
        };
        format!("{class}.{}.{}", part(subject), part(detail))
            .parse()
            .map_err(|e| self.damaged(format!("{what}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::artifact::{self, AlignedBytes, ArtifactError};
    use crate::runtime::tables::{Check, Hit, Tables};
    use crate::syntax::load::Parsed;

    fn tables() -> Tables {
        let mut parsed = Parsed::default();
        parsed.add_text(
            "t.rules",
            r#"
policy { 5.*.* -> hard  4.*.* -> soft }
mx ends with ".example.net" {
    initial 5.0.0 { /^550 no such user/ -> 5.1.1 quarantine }
    /^550.+mailbox.*full/i -> 5.2.2 soft quota-issues "a note"
}
rcpt domain is "example.com" {
    reported spam-related { /^5\d\d [a-z]+ blocked/ -> 5.7.1 blocked }
}
global { /^4\d\d \d+$/ -> 4.0.0 }
"#,
        );
        let rules = crate::check::check(&parsed).rules.unwrap();
        crate::compile::compile(rules, &Default::default())
            .unwrap()
            .0
    }

    /// Written and read back.
    fn reload(t: &Tables) -> Result<Vec<u8>, ArtifactError> {
        let bytes = artifact::to_bytes(t)?;
        let aligned = AlignedBytes::new(&bytes);
        let loaded = artifact::load(aligned.as_slice())?;
        artifact::to_bytes(&loaded)
    }

    fn refused(t: &Tables) -> ArtifactError {
        let e = reload(t).expect_err("damaged tables were accepted");
        assert!(e.is_corrupt(), "{e}");
        e
    }

    #[test]
    fn tables_read_back_are_the_tables_written() {
        let t = tables();
        let bytes = artifact::to_bytes(&t).unwrap();
        let aligned = AlignedBytes::new(&bytes);
        let loaded = artifact::load(aligned.as_slice()).unwrap();
        assert_eq!(loaded.selector, t.selector);
        assert_eq!(loaded.prefilter, t.prefilter);
        assert_eq!(loaded.scopes.len(), t.scopes.len());
        assert_eq!(loaded.rules.policy, t.rules.policy);
        assert_eq!(loaded.rules.scopes, t.rules.scopes);
        assert_eq!(reload(&t).unwrap(), bytes);
    }

    #[test]
    fn numbers_that_point_nowhere_are_refused() {
        let mut t = tables();
        t.selector.global = Some(9);
        let e = refused(&t);
        assert!(
            e.to_string()
                .contains("the scope selector refers to a scope that does not exist"),
            "{e}"
        );

        let mut t = tables();
        t.scopes[0].rules[0].rule = 99;
        let e = refused(&t);
        assert!(
            e.to_string()
                .contains("a scope refers to a rule that does not exist"),
            "{e}"
        );

        let mut t = tables();
        t.rules.rules[0].scope = 9;
        let e = refused(&t);
        assert!(
            e.to_string().contains("the rule table is inconsistent"),
            "{e}"
        );

        let mut t = tables();
        t.scopes.pop();
        let e = refused(&t);
        assert!(
            e.to_string().contains("2 compiled scopes for 3 scopes"),
            "{e}"
        );
    }

    #[test]
    fn inconsistent_tables_are_a_damaged_file_with_a_table_error() {
        // Pieces that cannot be searched for.
        let mut t = tables();
        let Some(Check::Pieces { pieces, .. }) = t.scopes[0]
            .rules
            .iter_mut()
            .map(|r| &mut r.check)
            .find(|c| matches!(c, Check::Pieces { .. }))
        else {
            panic!("no pieces rule")
        };
        pieces.pieces.truncate(1);
        let e = refused(&t);
        let source = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<crate::runtime::tables::TableError>())
            .expect("a table error");
        assert!(source.is_pieces() && source.table() == "pieces");
        assert_eq!(
            e.to_string(),
            "compiled file is corrupted: a rule has fewer than two pieces; compile it again"
        );

        // A prefilter hit about a rule of another kind.
        let mut t = tables();
        let hit = t
            .prefilter
            .literals
            .iter_mut()
            .flat_map(|(_, hits)| hits)
            .find(|h| matches!(h, Hit::Exact { .. }))
            .expect("a literal rule");
        let (scope, _) = hit.at();
        *hit = Hit::Group {
            scope,
            rule: 0,
            group: 0,
        };
        let e = refused(&t);
        assert!(e.to_string().contains("which is not of its kind"), "{e}");

        // Hits not sorted by scope.
        let mut t = tables();
        let (_, hits) = &mut t.prefilter.literals[0];
        let first = hits[0].clone();
        hits.insert(
            0,
            Hit::Group {
                scope: 2,
                rule: 0,
                group: 0,
            },
        );
        hits.push(first);
        let e = refused(&t);
        assert!(e.to_string().contains("are not sorted by scope"), "{e}");
    }

    #[test]
    fn more_literal_groups_than_a_byte_holds_are_refused() {
        let mut t = tables();
        for r in t.scopes.iter_mut().flat_map(|s| &mut s.rules) {
            if let Check::Dfa { groups, .. } = &mut r.check {
                *groups = 9;
            }
        }
        let e = refused(&t);
        assert!(
            e.to_string()
                .contains("a rule has more literal groups than a byte holds"),
            "{e}"
        );
    }
}
