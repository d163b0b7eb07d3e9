//! Compiled tables: what classification runs on.
//!
//! A scope holds its rules in source order, each with its way of being
//! found ([`Check`]). One literal [`Prefilter`] serves all scopes: an
//! Aho-Corasick automaton over the last bytes of the literals of every rule
//! (ASCII case ignored), and what finding each says, per scope. Classifying
//! a reply is one pass of that automaton over it:
//!
//! - a rule whose regex is a few literal strings (`^550 5\.1\.1 user
//!   unknown`, `(?i)mailbox is full`) matches when one of its strings is
//!   found where its anchors allow, with the case it asks for;
//! - a rule that is literal pieces with `.*` or `.+` between them
//!   ([`Pieces`]) is looked for piece by piece, and any other rule has its
//!   own dense DFA (regex-automata); either is looked at only when a string
//!   of each of its literal groups was found (a rule without any, on every
//!   reply), lowest rule first, and only below the best literal match.
//!
//! The answer is the lowest rule, in source order, that matches and whose
//! `initial` and `reported` conditions hold, as the semantics say.
//!
//! The [`Selector`] maps a bounce to the scopes to try: exact host, host
//! suffixes longest first, recipient domain, global.
//!
//! [`Tables`] are made by the compiler or read from a compiled file
//! ([`crate::runtime::artifact::load`]); either way their pieces and their
//! prefilter are checked as they are built, and tables that do not fit
//! together are a [`TableError`].

use rustc_hash::FxHashMap;
use std::ops::ControlFlow;

use aho_corasick::Anchored;
use aho_corasick::automaton::{Automaton as _, StateID};
use regex_automata::Input;
use regex_automata::dfa::{Automaton, dense};

use crate::core::model::RuleId;
use crate::core::status::{Category, Status};

/// Why tables were refused: literal pieces that cannot be searched for, or
/// a prefilter whose hits do not fit the scopes' rules. Compiled tables
/// never give one; a damaged compiled file does (see
/// [`crate::runtime::artifact`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TableError {
    kind: TableErrorKind,
}

#[derive(Clone, Debug)]
enum TableErrorKind {
    TooFewPieces,
    MalformedPiece,
    UnsortedHits { literal: Vec<u8> },
    HitOfOtherKind { scope: u32, rule: u32 },
    PrefilterTooBig,
    Automaton(aho_corasick::BuildError),
}

impl TableError {
    fn new(kind: TableErrorKind) -> TableError {
        TableError { kind }
    }

    /// The table refused: `pieces` (a rule's [`Pieces`]) or `prefilter`
    /// (the [`Prefilter`]).
    pub fn table(&self) -> &'static str {
        if self.is_pieces() {
            "pieces"
        } else {
            "prefilter"
        }
    }

    /// A rule's literal pieces cannot be searched for.
    pub fn is_pieces(&self) -> bool {
        matches!(
            self.kind,
            TableErrorKind::TooFewPieces | TableErrorKind::MalformedPiece
        )
    }

    /// The prefilter's literals or hits do not fit the scopes' rules, or
    /// its automaton cannot be built.
    pub fn is_prefilter(&self) -> bool {
        !self.is_pieces()
    }
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            TableErrorKind::TooFewPieces => f.write_str("a rule has fewer than two pieces"),
            TableErrorKind::MalformedPiece => f.write_str("a rule's piece is malformed"),
            TableErrorKind::UnsortedHits { literal } => write!(
                f,
                "the hits of literal `{}` are not sorted by scope",
                literal.escape_ascii()
            ),
            TableErrorKind::HitOfOtherKind { scope, rule } => write!(
                f,
                "the prefilter refers to rule {rule} of scope {scope}, which is not of its kind"
            ),
            TableErrorKind::PrefilterTooBig => f.write_str("the prefilter is too big"),
            TableErrorKind::Automaton(e) => write!(f, "the prefilter's automaton: {e}"),
        }
    }
}

impl std::error::Error for TableError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            TableErrorKind::Automaton(e) => Some(e),
            _ => None,
        }
    }
}

/// How a rule of a scope is found in a reply.
/// `T` is a DFA's storage: `Vec<u32>` when compiled here, `&[u32]` when
/// read from a compiled file without copying.
#[derive(Clone)]
pub enum Check<T: AsRef<[u32]> = Vec<u32>> {
    /// The regex is a few literal strings: a string found by the prefilter
    /// where the anchors allow is a match.
    Literal {
        /// `^`: the string starts the reply.
        start: bool,
        /// `$`: the string ends the reply.
        end: bool,
    },
    /// The rule's DFA decides, run once a string of each of `groups`
    /// literal groups was found (always, when `groups` is 0).
    Dfa {
        /// The rule's regex, one pattern, unanchored.
        dfa: Box<dense::DFA<T>>,
        /// How many literal groups the rule has (at most 8).
        groups: u8,
    },
    /// The regex is literal pieces in order with `.*` or `.+` between
    /// them: looked for once a string of each of `groups` literal groups
    /// was found (always, when `groups` is 0).
    Pieces {
        /// The pieces, in order.
        pieces: Box<Pieces>,
        /// How many literal groups the rule has (at most 8).
        groups: u8,
    },
}

impl<T: AsRef<[u32]>> Check<T> {
    /// The literal groups of a rule found by a DFA or by its pieces.
    fn groups(&self) -> Option<u8> {
        match self {
            Check::Literal { .. } => None,
            Check::Dfa { groups, .. } | Check::Pieces { groups, .. } => Some(*groups),
        }
    }

    /// True when the rule matches somewhere in `hay` (for a rule found by
    /// its literals alone, that is the prefilter's to say: false).
    fn runs(&self, hay: &[u8]) -> bool {
        match self {
            Check::Literal { .. } => false,
            Check::Dfa { dfa, .. } => dfa_matches(dfa, hay),
            Check::Pieces { pieces, .. } => pieces.matches(hay),
        }
    }
}

/// One piece of a [`Pieces`] rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// The bytes, lowercase where `mask` is 0x20.
    pub text: Vec<u8>,
    /// Per byte: 0x20 where a letter matches either case, else 0.
    pub mask: Vec<u8>,
    /// The fewest bytes between the previous piece and this one: 0 after
    /// `.*`, 1 after `.+` (0 for the first piece).
    pub gap: u8,
}

/// A regex that is literal pieces in order, with `.*` or `.+` between them
/// (`^550.+user unknown`, `(?i)mailbox.*full`), perhaps anchored. `.` is any
/// byte but a newline, so the pieces of a match are on one line. On a line,
/// the leftmost place of each piece after the one before leaves the most
/// room for the rest, so one pass per line decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pieces {
    /// `^`: the first piece starts the reply.
    pub start: bool,
    /// `$`: the last piece ends the reply.
    pub end: bool,
    /// The pieces, in order: two or more.
    pub pieces: Vec<Piece>,
}

impl Piece {
    /// True when the piece lies at `at` in `hay`.
    fn at(&self, hay: &[u8], at: usize) -> bool {
        hay.get(at..at + self.text.len())
            .is_some_and(|found| same_masked(found, &self.text, &self.mask))
    }
}

impl Piece {
    /// The leftmost place of the piece that starts in `from..=last`.
    fn find(&self, hay: &[u8], from: usize, last: usize) -> Option<usize> {
        let (&first, &fold) = (self.text.first()?, self.mask.first()?);
        let (&end, &end_fold) = (self.text.last()?, self.mask.last()?);
        let n = self.text.len();
        let mut at = from;
        while at <= last {
            // Where the first byte is, then the last, then the rest.
            let q = at
                + hay
                    .get(at..=last)?
                    .iter()
                    .position(|&b| b | fold == first)?;
            if hay.get(q + n - 1).is_some_and(|&b| b | end_fold == end) && self.at(hay, q) {
                return Some(q);
            }
            at = q + 1;
        }
        None
    }
}

impl Pieces {
    /// Why the pieces cannot be searched for, if they cannot.
    pub fn validate(&self) -> Result<(), TableError> {
        if self.pieces.len() < 2 {
            return Err(TableError::new(TableErrorKind::TooFewPieces));
        }
        for p in &self.pieces {
            let folded_right = p
                .text
                .iter()
                .zip(&p.mask)
                .all(|(&b, &m)| m == 0 || (m == 0x20 && b.is_ascii_lowercase()));
            if p.text.is_empty() || p.text.len() != p.mask.len() || !folded_right || p.gap > 1 {
                return Err(TableError::new(TableErrorKind::MalformedPiece));
            }
        }
        Ok(())
    }

    /// True when the pieces match somewhere in `hay`.
    pub fn matches(&self, hay: &[u8]) -> bool {
        // A reply that does not start the `^` way is turned away at once.
        if self.start && !self.pieces.first().is_some_and(|p| p.at(hay, 0)) {
            return false;
        }
        if !hay.contains(&b'\n') {
            return self.on_line(hay, 0, hay.len());
        }
        let mut from = 0;
        loop {
            let to = hay
                .get(from..)
                .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
                .map_or(hay.len(), |i| from + i);
            if (!self.end || to == hay.len()) && self.on_line(hay, from, to) {
                return true;
            }
            if self.start || to >= hay.len() {
                return false;
            }
            from = to + 1;
        }
    }

    /// True when the pieces match in `hay[from..to]`, a line.
    fn on_line(&self, hay: &[u8], from: usize, to: usize) -> bool {
        let mut at = from;
        let last = self.pieces.len().saturating_sub(1);
        for (i, p) in self.pieces.iter().enumerate() {
            let n = p.text.len();
            let Some(latest) = to.checked_sub(n) else {
                return false;
            };
            let earliest = if i == 0 {
                from
            } else {
                at + usize::from(p.gap)
            };
            let place = if i == 0 && self.start {
                (from == 0 && p.at(hay, 0)).then_some(0)
            } else if i == last && self.end {
                (latest >= earliest && p.at(hay, latest)).then_some(latest)
            } else {
                p.find(hay, earliest, latest)
            };
            match place {
                Some(q) => at = q + n,
                None => return false,
            }
        }
        true
    }
}

/// A rule of a compiled scope.
#[derive(Clone)]
pub struct ScopeRule<T: AsRef<[u32]> = Vec<u32>> {
    /// The rule, in [`RuleSet::rules`](crate::core::model::RuleSet::rules).
    pub rule: RuleId,
    /// How it is found.
    pub check: Check<T>,
}

impl<T: AsRef<[u32]>> std::fmt::Debug for ScopeRule<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("ScopeRule");
        d.field("rule", &self.rule);
        match &self.check {
            Check::Literal { start, end } => d.field("literal", &(start, end)),
            Check::Dfa { dfa, groups } => d
                .field("dfa_bytes", &dfa.memory_usage())
                .field("groups", groups),
            Check::Pieces { pieces, groups } => d.field("pieces", pieces).field("groups", groups),
        };
        d.finish()
    }
}

/// True when the DFA matches somewhere in `hay`. The walk stops at the
/// first match, and at once when the DFA dies (a `^`-anchored rule whose
/// start the reply does not have).
fn dfa_matches<T: AsRef<[u32]>>(dfa: &dense::DFA<T>, hay: &[u8]) -> bool {
    let input = Input::new(hay).anchored(regex_automata::Anchored::No);
    let Ok(mut s) = dfa.start_state_forward(&input) else {
        return false;
    };
    for &b in hay {
        s = dfa.next_state(s, b);
        if dfa.is_special_state(s) {
            if dfa.is_match_state(s) {
                return true;
            }
            if dfa.is_dead_state(s) || dfa.is_quit_state(s) {
                return false;
            }
        }
    }
    dfa.is_match_state(dfa.next_eoi_state(s))
}

/// What finding a literal says about a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hit {
    /// The rule (`rule`, an index into [`CompiledScope::rules`] of scope
    /// `scope`) matches if the bytes around the literal found, from
    /// `offset` bytes before it, are `text` (letters marked in `fold` in
    /// either case): the literal is the end of `text`.
    Exact {
        /// The scope, an index into [`Tables::scopes`].
        scope: u32,
        /// The rule, an index into the scope's rules.
        rule: u32,
        /// Where the literal starts in `text`.
        offset: u32,
        /// One of the rule's strings.
        text: Vec<u8>,
        /// Per byte of `text`: true where a letter matches either case.
        fold: Vec<bool>,
    },
    /// The literal (the end of one of the strings of literal group `group`
    /// of the rule) was found.
    Group {
        /// The scope, an index into [`Tables::scopes`].
        scope: u32,
        /// The rule, an index into the scope's rules.
        rule: u32,
        /// The literal group, below the rule's `groups`.
        group: u8,
    },
}

impl Hit {
    /// The scope and rule it is about.
    pub fn at(&self) -> (u32, u32) {
        match self {
            Hit::Exact { scope, rule, .. } | Hit::Group { scope, rule, .. } => (*scope, *rule),
        }
    }
}

/// Up to 8 bytes as a little-endian word, zero above them.
fn word(b: &[u8]) -> u64 {
    match <[u8; 8]>::try_from(b) {
        Ok(w) => u64::from_le_bytes(w),
        Err(_) => b.iter().rev().fold(0, |w, &x| (w << 8) | u64::from(x)),
    }
}

/// True when `found` is `text` where `mask` is 0 and `text` in either case
/// where `mask` is 0x20 (`text` is lowercase there). Eight bytes at a time.
fn same_masked(found: &[u8], text: &[u8], mask: &[u8]) -> bool {
    if found.len() != text.len() || mask.len() != text.len() {
        return false;
    }
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
    let (f, t, m) = (
        found.chunks_exact(8),
        text.chunks_exact(8),
        mask.chunks_exact(8),
    );
    let tail = f
        .remainder()
        .iter()
        .zip(t.remainder())
        .zip(m.remainder())
        .all(|((&f, &t), &m)| f | m == t);
    tail && f
        .zip(t)
        .zip(m)
        .all(|((f, t), m)| word(f) | word(m) == word(t))
}

/// A hit as the search reads it.
#[derive(Clone, Copy, Debug)]
struct Fast {
    /// The rule, an index into its scope's rules.
    rule: u32,
    /// The rule's place among the rules of all scopes.
    id: u32,
    /// [`Fast::EXACT`], or the literal group.
    group: u8,
    /// A DFA rule's literal groups, as bits: all found when the bits
    /// recorded are these.
    full: u8,
    /// The rule has no `initial` or `reported` condition.
    plain: bool,
    /// The anchors of an exact rule.
    start: bool,
    end: bool,
    /// Up to 8 bytes of an exact rule's text just before its key (`head_len`
    /// of them, little-endian, lowercase where folded) and their case
    /// mask: most texts that share a key differ there, so one compare
    /// turns them away.
    head: u64,
    head_mask: u64,
    head_len: u8,
    /// An exact rule's text: `Index::text[text..text + len]`, the key
    /// found `offset` bytes into it.
    text: u32,
    len: u32,
    offset: u32,
}

impl Fast {
    const EXACT: u8 = u8::MAX;
}

/// The hits of every key laid out for the search: per key and scope, its
/// hits (by rule); the exact texts in one buffer.
#[derive(Clone, Debug, Default)]
struct Index {
    /// (key, scope) to `hits[from..to]`.
    slots: FxHashMap<(u32, u32), (u32, u32)>,
    hits: Vec<Fast>,
    /// Exact texts, lowercase where folded.
    text: Vec<u8>,
    /// Per byte of `text`: 0x20 where a letter matches either case, else 0.
    mask: Vec<u8>,
    /// Where each scope's rules start among the rules of all scopes.
    first_id: Vec<u32>,
    /// The rules of all scopes.
    ids: usize,
}

impl Index {
    /// Lays out `literals`, checking every hit against `scopes`: an exact
    /// hit must be about a literal rule, a group hit about a DFA rule with
    /// that group, and hits must be sorted by scope.
    fn new<T: AsRef<[u32]>>(
        literals: &[(Vec<u8>, Vec<Hit>)],
        scopes: &[CompiledScope<T>],
        rules: &crate::core::model::RuleSet,
    ) -> Result<Index, TableError> {
        let mut ix = Index::default();
        let n = |x: usize| {
            u32::try_from(x).map_err(|_| TableError::new(TableErrorKind::PrefilterTooBig))
        };
        let mut ids = 0;
        for s in scopes {
            ix.first_id.push(n(ids)?);
            ids += s.rules.len();
        }
        n(ids)?;
        ix.ids = ids;
        for (key_index, (key, hits)) in literals.iter().enumerate() {
            if !hits.windows(2).all(|w| w[0].at().0 <= w[1].at().0) {
                return Err(TableError::new(TableErrorKind::UnsortedHits {
                    literal: key.clone(),
                }));
            }
            let mut rest = hits.as_slice();
            while let Some(first) = rest.first() {
                let scope = first.at().0;
                let same = rest.iter().take_while(|h| h.at().0 == scope).count();
                let (these, more) = rest.split_at(same);
                rest = more;
                let from = ix.hits.len();
                for hit in these {
                    let fast = ix.fast(hit, scopes, rules)?;
                    ix.hits.push(fast);
                }
                ix.hits[from..].sort_by_key(|h| h.rule);
                ix.slots
                    .insert((n(key_index)?, scope), (n(from)?, n(ix.hits.len())?));
            }
        }
        n(ix.text.len())?;
        Ok(ix)
    }

    fn fast<T: AsRef<[u32]>>(
        &mut self,
        hit: &Hit,
        scopes: &[CompiledScope<T>],
        rules: &crate::core::model::RuleSet,
    ) -> Result<Fast, TableError> {
        let (scope, rule) = hit.at();
        let member = scopes
            .get(scope as usize)
            .and_then(|s| s.rules.get(rule as usize));
        let check = member.map(|r| &r.check);
        let plain = member
            .and_then(|m| rules.rules.get(m.rule))
            .is_some_and(|r| r.initial.is_empty() && r.reported.is_empty());
        let id = self
            .first_id
            .get(scope as usize)
            .map_or(0, |&first| first.saturating_add(rule));
        let wrong = || TableError::new(TableErrorKind::HitOfOtherKind { scope, rule });
        match (hit, check) {
            (
                Hit::Exact {
                    offset, text, fold, ..
                },
                Some(&Check::Literal { start, end }),
            ) if text.len() == fold.len() && (*offset as usize) < text.len() => {
                let at = self.text.len();
                for (&b, &f) in text.iter().zip(fold) {
                    let folded = f && b.is_ascii_alphabetic();
                    self.text
                        .push(if folded { b.to_ascii_lowercase() } else { b });
                    self.mask.push(if folded { 0x20 } else { 0 });
                }
                let key = at + *offset as usize;
                let head_len = (*offset as usize).min(8);
                let (head, head_mask) = (
                    word(&self.text[key - head_len..key]),
                    word(&self.mask[key - head_len..key]),
                );
                Ok(Fast {
                    rule,
                    id,
                    group: Fast::EXACT,
                    full: 0,
                    plain,
                    head,
                    head_mask,
                    head_len: u8::try_from(head_len).unwrap_or(8),
                    start,
                    end,
                    text: u32::try_from(at).map_err(|_| wrong())?,
                    len: u32::try_from(text.len()).map_err(|_| wrong())?,
                    offset: *offset,
                })
            }
            (Hit::Group { group, .. }, Some(check)) => {
                let groups = check.groups().filter(|&g| *group < g).ok_or_else(wrong)?;
                Ok(Fast {
                    rule,
                    id,
                    group: *group,
                    full: u8::try_from((1u32 << groups) - 1).map_err(|_| wrong())?,
                    plain,
                    head: 0,
                    head_mask: 0,
                    head_len: 0,
                    start: false,
                    end: false,
                    text: 0,
                    len: 0,
                    offset: 0,
                })
            }
            _ => Err(wrong()),
        }
    }

    /// The hits of key `key` in scope `scope`.
    fn hits(&self, key: u32, scope: u32) -> &[Fast] {
        match self.slots.get(&(key, scope)) {
            Some(&(from, to)) => self
                .hits
                .get(from as usize..to as usize)
                .unwrap_or_default(),
            None => &[],
        }
    }
}

/// The literals of all rules of all scopes and the one automaton that
/// finds them (Aho-Corasick, ASCII case ignored, overlaps included): one
/// pass over a reply serves every scope tried for it.
#[derive(Clone, Debug, Default)]
pub struct Prefilter {
    /// The literals, lowercase, and what finding each says (sorted by
    /// scope).
    pub literals: Vec<(Vec<u8>, Vec<Hit>)>,
    index: Index,
    searcher: Option<aho_corasick::dfa::DFA>,
}

impl PartialEq for Prefilter {
    fn eq(&self, other: &Prefilter) -> bool {
        self.literals == other.literals
    }
}

impl Prefilter {
    /// Builds the searcher over `literals`, whose hits must be about the
    /// rules of `scopes` (an error says which is not), members of `rules`.
    pub fn new<T: AsRef<[u32]>>(
        literals: Vec<(Vec<u8>, Vec<Hit>)>,
        scopes: &[CompiledScope<T>],
        rules: &crate::core::model::RuleSet,
    ) -> Result<Prefilter, TableError> {
        let index = Index::new(&literals, scopes, rules)?;
        let searcher = if literals.is_empty() {
            None
        } else {
            Some(
                aho_corasick::dfa::Builder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(aho_corasick::MatchKind::Standard)
                    .start_kind(aho_corasick::StartKind::Unanchored)
                    .prefilter(false)
                    .build(literals.iter().map(|(l, _)| l))
                    .map_err(|e| TableError::new(TableErrorKind::Automaton(e)))?,
            )
        };
        Ok(Prefilter {
            literals,
            index,
            searcher,
        })
    }

    /// Bytes of the automaton's tables.
    pub fn memory_usage(&self) -> usize {
        self.searcher.as_ref().map_or(0, |ac| ac.memory_usage())
    }

    /// One pass over `hay`: for each scope of `scopes` (its index in
    /// `tables.scopes`, tried in this order), the lowest literal rule found
    /// that `accepts` (every one, with `all`), and the literal groups found.
    fn scan<F: Fn(usize, u32) -> bool>(&self, search: &Search<'_, F>, sc: &mut Scratch) {
        sc.best.clear();
        sc.best.resize(search.scopes.len(), u32::MAX);
        sc.deciding = search.scopes.len();
        sc.ready.clear();
        for &id in &sc.touched {
            if let Some(b) = sc.bits.get_mut(id as usize) {
                *b = 0;
            }
        }
        sc.touched.clear();
        if sc.bits.len() < self.index.ids {
            sc.bits.resize(self.index.ids, 0);
        }
        sc.exact.clear();
        let Some(ac) = &self.searcher else {
            return;
        };
        // The automaton walked by hand: a match state lists every literal
        // that ends at this byte, overlaps included.
        let Ok(start) = ac.start_state(Anchored::No) else {
            return;
        };
        let hay = search.hay;
        // What the state `sid` reached after `hay[..end]` says, keeping the
        // literals that end after `after`.
        let report = |end: usize, sid: StateID, after: usize, sc: &mut Scratch| {
            if !ac.is_match(sid) {
                return;
            }
            for i in 0..ac.match_len(sid) {
                let p = ac.match_pattern(sid, i);
                if end > after {
                    let start = end.saturating_sub(ac.pattern_len(p));
                    search.on_literal(&self.index, p.as_u32(), start, sc);
                }
            }
        };
        // Each step of a walk waits for the state of the step before. Two
        // halves of the reply walked at once overlap those waits. The
        // second half starts as far before the middle as the longest
        // literal, less one: every literal ending after the middle is found
        // whole there, and the ones ending before it are the first half's.
        let longest = ac.max_pattern_len().max(1);
        let mut lanes = [(0, start), (hay.len(), start)];
        let mut ends = [hay.len(), hay.len()];
        let mid = hay.len() / 2;
        if mid >= 2 * longest {
            lanes[1].0 = mid + 1 - longest;
            ends[0] = mid;
            while walk2(ac, hay, &mut lanes, ends) {
                for (lane, &(at, sid)) in lanes.iter().enumerate() {
                    if ac.is_dead(sid) {
                        return;
                    }
                    report(at, sid, if lane == 0 { 0 } else { mid }, sc);
                }
            }
        }
        for (lane, &(mut at, mut sid)) in lanes.iter().enumerate() {
            let after = if lane == 0 { 0 } else { mid };
            while let Some((end, next)) =
                walk(ac, hay.get(..ends[lane]).unwrap_or_default(), at, sid)
            {
                (at, sid) = (end, next);
                if ac.is_dead(sid) {
                    return;
                }
                report(at, sid, after, sc);
            }
        }
    }
}

/// Walks two lanes, each a (position, state), one byte each per step,
/// until one is in a special state (true) or one reaches its end (false).
#[inline(never)]
fn walk2(
    ac: &aho_corasick::dfa::DFA,
    hay: &[u8],
    lanes: &mut [(usize, StateID); 2],
    ends: [usize; 2],
) -> bool {
    let [(a, mut sa), (b, mut sb)] = *lanes;
    let n = ends[0].saturating_sub(a).min(ends[1].saturating_sub(b));
    let (Some(ha), Some(hb)) = (hay.get(a..a + n), hay.get(b..b + n)) else {
        return false;
    };
    for (i, (&x, &y)) in ha.iter().zip(hb).enumerate() {
        sa = ac.next_state(Anchored::No, sa, x);
        sb = ac.next_state(Anchored::No, sb, y);
        if ac.is_special(sa) | ac.is_special(sb) {
            *lanes = [(a + i + 1, sa), (b + i + 1, sb)];
            return true;
        }
    }
    *lanes = [(a + n, sa), (b + n, sb)];
    false
}

/// Walks `ac` over `hay` from `at` in state `sid` to the next special
/// state (a match, or dead): the position after the byte that led there,
/// and the state. Its own function, so that the state stays in a register.
#[inline(never)]
fn walk(
    ac: &aho_corasick::dfa::DFA,
    hay: &[u8],
    at: usize,
    mut sid: StateID,
) -> Option<(usize, StateID)> {
    for (i, &b) in hay.get(at..)?.iter().enumerate() {
        sid = ac.next_state(Anchored::No, sid, b);
        if ac.is_special(sid) {
            return Some((at + i + 1, sid));
        }
    }
    None
}

/// What one search looks at.
struct Search<'a, F> {
    /// The scopes tried, in order (indexes into the tables' scopes).
    scopes: &'a [usize],
    hay: &'a [u8],
    /// Every rule found, not only the lowest of each scope.
    all: bool,
    /// Whether rule `.1` of scope `.0` accepts the bounce's conditions.
    accepts: F,
}

impl<F: Fn(usize, u32) -> bool> Search<'_, F> {
    /// What finding key `key` at `start` says about the rules of the
    /// tried scopes.
    fn on_literal(&self, ix: &Index, key: u32, start: usize, sc: &mut Scratch) {
        // Once a scope has a match, the scopes after it cannot decide.
        for (k, &s) in self.scopes.iter().enumerate().take(sc.deciding) {
            let Ok(scope) = u32::try_from(s) else {
                continue;
            };
            // A scope's hits of a key are sorted by rule: once past the
            // best rule found, none can matter.
            for h in ix.hits(key, scope) {
                if !self.all && h.rule >= sc.best[k] {
                    break;
                }
                if h.group == Fast::EXACT {
                    if !self.exact_at(ix, h, start) || !(h.plain || (self.accepts)(s, h.rule)) {
                        continue;
                    }
                    if self.all {
                        sc.exact.push((k, h.rule));
                    } else {
                        sc.best[k] = h.rule;
                        sc.deciding = sc.deciding.min(k + 1);
                    }
                } else if h.full == 1 {
                    sc.ready.push((k, h.rule));
                } else if let Some(bits) = sc.bits.get_mut(h.id as usize) {
                    // The groups found so far, per rule of all scopes.
                    if *bits == 0 {
                        sc.touched.push(h.id);
                    }
                    let was = *bits;
                    *bits |= 1 << h.group;
                    if *bits == h.full && was != h.full {
                        sc.ready.push((k, h.rule));
                    }
                }
            }
        }
    }

    /// True when exact hit `h`'s text lies `offset` bytes before the key
    /// found at `key_start`, where its anchors allow.
    fn exact_at(&self, ix: &Index, h: &Fast, key_start: usize) -> bool {
        let Some(from) = key_start.checked_sub(h.offset as usize) else {
            return false;
        };
        let to = from + h.len as usize;
        if (h.start && from != 0) || (h.end && to != self.hay.len()) {
            return false;
        }
        let before = key_start.saturating_sub(usize::from(h.head_len));
        if self
            .hay
            .get(before..key_start)
            .is_none_or(|b| word(b) | h.head_mask != h.head)
        {
            return false;
        }
        let text = h.text as usize..h.text as usize + h.len as usize;
        match (
            self.hay.get(from..to),
            ix.text.get(text.clone()),
            ix.mask.get(text),
        ) {
            (Some(found), Some(text), Some(mask)) => same_masked(found, text, mask),
            _ => false,
        }
    }
}

/// Per-thread scratch space of a search.
#[derive(Default)]
struct Scratch {
    /// The scopes tried, in order.
    scopes: Vec<usize>,
    /// Per scope tried: the lowest literal rule found.
    best: Vec<u32>,
    /// The scopes tried that can still decide: up to the first with a
    /// literal rule found.
    deciding: usize,
    /// (scope tried, rule): DFA rules whose literal groups were all found.
    ready: Vec<(usize, u32)>,
    /// Per rule of all scopes: the literal groups found, as bits.
    bits: Vec<u8>,
    /// The rules whose `bits` are not 0.
    touched: Vec<u32>,
    /// Every literal rule found, with `all`.
    exact: Vec<(usize, u32)>,
    candidates: Vec<u32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// A scope compiled: its rules in source order.
#[derive(Clone, Debug)]
pub struct CompiledScope<T: AsRef<[u32]> = Vec<u32>> {
    /// The header, for explanations: `mx ends with ".mail.ru"`.
    pub name: String,
    /// The rules, in source order.
    pub rules: Vec<ScopeRule<T>>,
    /// Indexes of the DFA rules without literal groups, ascending.
    pub always: Vec<u32>,
}

impl<T: AsRef<[u32]>> CompiledScope<T> {
    /// Builds a scope; `always` is derived from the rules.
    pub fn new(name: String, rules: Vec<ScopeRule<T>>) -> CompiledScope<T> {
        let always = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.check.groups() == Some(0))
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect();
        CompiledScope {
            name,
            rules,
            always,
        }
    }

    /// The DFA rules to run, ascending: those whose groups were all found
    /// (`ready`: scope tried `k`'s entries) and those without groups,
    /// below `below`.
    fn candidates(&self, k: usize, ready: &[(usize, u32)], below: u32, out: &mut Vec<u32>) {
        out.clear();
        out.extend(
            ready
                .iter()
                .filter(|&&(kk, rule)| kk == k && rule < below)
                .map(|&(_, rule)| rule),
        );
        out.extend(self.always.iter().copied().filter(|&r| r < below));
        out.sort_unstable();
        out.dedup();
    }

    fn dfa_matches(&self, i: u32, hay: &[u8]) -> bool {
        self.rules
            .get(i as usize)
            .is_some_and(|r| r.check.runs(hay))
    }

    /// Bytes of DFA tables.
    pub fn memory_usage(&self) -> usize {
        self.rules
            .iter()
            .map(|r| match &r.check {
                Check::Dfa { dfa, .. } => dfa.memory_usage(),
                Check::Literal { .. } | Check::Pieces { .. } => 0,
            })
            .sum()
    }
}

impl<T: AsRef<[u32]>> Tables<T> {
    fn accepts(
        &self,
        initial: Option<Status>,
        reported: Option<Category>,
    ) -> impl Fn(usize, u32) -> bool {
        move |scope: usize, i: u32| {
            self.scopes
                .get(scope)
                .and_then(|s| s.rules.get(i as usize))
                .and_then(|r| self.rules.rules.get(r.rule))
                .is_some_and(|rule| rule.accepts(initial, reported))
        }
    }

    /// The deciding rule: in the scopes for `mx` and `rcpt_domain`, in
    /// order, the first rule (in source order) that matches `hay` and
    /// accepts `initial` and `reported`.
    pub fn first_match(
        &self,
        mx: Option<&str>,
        rcpt_domain: Option<&str>,
        hay: &[u8],
        initial: Option<Status>,
        reported: Option<Category>,
    ) -> Option<RuleId> {
        let accepts = self.accepts(initial, reported);
        // The scratch space is reused across calls on this thread: no
        // allocation per reply.
        SCRATCH.with_borrow_mut(|sc| {
            let mut scopes = std::mem::take(&mut sc.scopes);
            scopes.clear();
            self.selector.visit::<()>(mx, rcpt_domain, |s, _| {
                scopes.push(s);
                ControlFlow::Continue(())
            });
            let search = Search {
                scopes: &scopes,
                hay,
                all: false,
                accepts: &accepts,
            };
            self.prefilter.scan(&search, sc);
            let mut found = None;
            for (k, &s) in scopes.iter().enumerate() {
                let Some(scope) = self.scopes.get(s) else {
                    continue;
                };
                let best = sc.best[k];
                let mut candidates = std::mem::take(&mut sc.candidates);
                scope.candidates(k, &sc.ready, best, &mut candidates);
                let dfa = candidates
                    .iter()
                    .copied()
                    .find(|&c| accepts(s, c) && scope.dfa_matches(c, hay));
                sc.candidates = candidates;
                let rule = dfa.or((best != u32::MAX).then_some(best));
                if let Some(r) = rule.and_then(|r| scope.rules.get(r as usize)) {
                    found = Some(r.rule);
                    break;
                }
            }
            sc.scopes = scopes;
            found
        })
    }

    /// Every rule of scope `scope` that matches `hay` and accepts
    /// `initial` and `reported`, in source order.
    pub fn all_matches(
        &self,
        scope: usize,
        hay: &[u8],
        initial: Option<Status>,
        reported: Option<Category>,
    ) -> Vec<RuleId> {
        let accepts = self.accepts(initial, reported);
        let Some(cs) = self.scopes.get(scope) else {
            return Vec::new();
        };
        let mut sc = Scratch::default();
        let search = Search {
            scopes: &[scope],
            hay,
            all: true,
            accepts: &accepts,
        };
        self.prefilter.scan(&search, &mut sc);
        let mut found: Vec<u32> = sc.exact.iter().map(|&(_, r)| r).collect();
        let mut candidates = Vec::new();
        cs.candidates(0, &sc.ready, u32::MAX, &mut candidates);
        found.extend(
            candidates
                .into_iter()
                .filter(|&c| accepts(scope, c) && cs.dfa_matches(c, hay)),
        );
        found.sort_unstable();
        found.dedup();
        found
            .into_iter()
            .filter_map(|i| cs.rules.get(i as usize).map(|r| r.rule))
            .collect()
    }

    /// Bytes of DFA tables.
    pub fn memory_usage(&self) -> usize {
        self.scopes.iter().map(CompiledScope::memory_usage).sum()
    }
}

/// Names (hosts, suffixes, domains) to scopes. A name whose length no
/// key has is answered without hashing it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keys {
    map: FxHashMap<String, usize>,
    /// Bit `n`: some key is `n` bytes long (keys of 256 bytes or more set
    /// no bit and are always looked up).
    lengths: [u64; 4],
}

impl Keys {
    /// Adds `name` for `scope`, unless `name` already has a scope.
    pub fn insert(&mut self, name: String, scope: usize) {
        if let Some(w) = self.lengths.get_mut(name.len() / 64) {
            *w |= 1 << (name.len() % 64);
        }
        self.map.entry(name).or_insert(scope);
    }

    /// The scope of `name`.
    pub fn get(&self, name: &str) -> Option<usize> {
        if self
            .lengths
            .get(name.len() / 64)
            .is_some_and(|w| w & (1 << (name.len() % 64)) == 0)
        {
            return None;
        }
        self.map.get(name).copied()
    }

    /// True when there are no names.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every name and its scope, sorted by name.
    pub fn sorted(&self) -> Vec<(String, usize)> {
        let mut v: Vec<(String, usize)> = self.map.iter().map(|(k, &s)| (k.clone(), s)).collect();
        v.sort();
        v
    }
}

impl FromIterator<(String, usize)> for Keys {
    fn from_iter<I: IntoIterator<Item = (String, usize)>>(iter: I) -> Keys {
        let mut keys = Keys::default();
        for (name, scope) in iter {
            keys.insert(name, scope);
        }
        keys
    }
}

/// Which scopes apply to a bounce, most specific first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// `mx is`: host names.
    pub exact: Keys,
    /// `mx ends with`: host suffixes, without the leading dot.
    pub suffix: Keys,
    /// `rcpt domain is`: recipient domains.
    pub rcpt: Keys,
    /// The `global` scope, if there is one.
    pub global: Option<usize>,
}

/// Why a scope was selected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `mx is` the host.
    ExactHost,
    /// `mx ends with` a suffix of the host.
    HostSuffix,
    /// `rcpt domain is` the recipient's domain.
    RecipientDomain,
    /// `global`.
    Global,
}

impl Selector {
    /// Calls `f` with the scopes for a (normalized) MX host and recipient
    /// domain, in the order they are tried, each once, until `f` breaks.
    pub fn visit<B>(
        &self,
        mx: Option<&str>,
        rcpt_domain: Option<&str>,
        mut f: impl FnMut(usize, Reason) -> ControlFlow<B>,
    ) -> Option<B> {
        // A host has few scopes; the ones seen are kept on the stack.
        let mut seen = [usize::MAX; 16];
        let mut n = 0usize;
        let mut more: Vec<usize> = Vec::new();
        let mut visit = |s: usize, r: Reason| -> ControlFlow<B> {
            if seen[..n.min(seen.len())].contains(&s) || more.contains(&s) {
                return ControlFlow::Continue(());
            }
            match seen.get_mut(n) {
                Some(slot) => *slot = s,
                None => more.push(s),
            }
            n += 1;
            f(s, r)
        };
        let flow = (|| {
            if let Some(host) = mx.filter(|h| !h.is_empty()) {
                if let Some(s) = self.exact.get(host) {
                    visit(s, Reason::ExactHost)?;
                }
                if !self.suffix.is_empty() {
                    // `a.b.mail.ru`, `b.mail.ru`, `mail.ru`, `ru`: label-aligned suffixes, longest first.
                    let mut rest = host;
                    loop {
                        if let Some(s) = self.suffix.get(rest) {
                            visit(s, Reason::HostSuffix)?;
                        }
                        match rest.bytes().position(|b| b == b'.') {
                            Some(i) => rest = &rest[i + 1..],
                            None => break,
                        }
                    }
                }
            }
            if let Some(d) = rcpt_domain
                && let Some(s) = self.rcpt.get(d)
            {
                visit(s, Reason::RecipientDomain)?;
            }
            if let Some(s) = self.global {
                visit(s, Reason::Global)?;
            }
            ControlFlow::Continue(())
        })();
        match flow {
            ControlFlow::Break(b) => Some(b),
            ControlFlow::Continue(()) => None,
        }
    }

    /// The scopes for a (normalized) MX host and recipient domain, in the
    /// order they are tried, each once.
    pub fn select(&self, mx: Option<&str>, rcpt_domain: Option<&str>) -> Vec<(usize, Reason)> {
        let mut out = Vec::with_capacity(4);
        self.visit::<()>(mx, rcpt_domain, |s, r| {
            out.push((s, r));
            ControlFlow::Continue(())
        });
        out
    }
}

/// Everything classification needs.
#[derive(Clone, Debug)]
pub struct Tables<T: AsRef<[u32]> = Vec<u32>> {
    /// The rule set: every rule's outcome, conditions and origin, the
    /// scopes and the policy.
    pub rules: crate::core::model::RuleSet,
    /// Per scope of the rule set, in its order, its rules compiled.
    pub scopes: Vec<CompiledScope<T>>,
    /// The scopes for a bounce.
    pub selector: Selector,
    /// The literals of every rule of every scope.
    pub prefilter: Prefilter,
}
