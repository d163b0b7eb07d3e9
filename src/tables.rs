//! Compiled tables: what classification runs on.
//!
//! A scope holds its rules in source order, each with its way of being
//! found ([`Check`]), and a literal [`Prefilter`]: one Aho-Corasick
//! automaton over the literals of all its rules (ASCII case ignored).
//! Classifying a reply in a scope is one pass of that automaton over the
//! reply:
//!
//! - a rule whose regex is a few literal strings (`^550 5\.1\.1 user
//!   unknown`, `(?i)mailbox is full`) matches when one of its strings is
//!   found where its anchors allow, with the case it asks for; no automaton
//!   is run for it;
//! - any other rule has its own dense DFA (regex-automata), run only when a
//!   string of each of its literal groups was found (a rule without any is
//!   run on every reply), lowest rule first, each only until its first
//!   match, and only below the best literal match.
//!
//! The answer is the lowest rule, in source order, that matches and whose
//! `initial` and `reported` conditions hold, as the semantics say.
//!
//! The [`Selector`] maps a bounce to the scopes to try: exact host, host
//! suffixes longest first, recipient domain, global.

use std::collections::HashMap;
use std::ops::ControlFlow;

use aho_corasick::automaton::Automaton as _;
use regex_automata::dfa::{Automaton, dense};
use regex_automata::{Anchored, Input};
use serde::{Deserialize, Serialize};

use crate::model::RuleId;
use crate::status::{Category, Status};

/// How a rule of a scope is found in a reply.
/// `T` is a DFA's storage: `Vec<u32>` when compiled here, `&[u32]` when
/// read from a compiled file without copying.
#[derive(Clone)]
pub enum Check<T: AsRef<[u32]> = Vec<u32>> {
    /// The regex is a few literal strings: a string found by the prefilter
    /// where the anchors allow is a match.
    Literal { start: bool, end: bool },
    /// The rule's DFA decides, run once a string of each of `groups`
    /// literal groups was found (always, when `groups` is 0).
    Dfa { dfa: Box<dense::DFA<T>>, groups: u8 },
}

/// A rule of a compiled scope.
#[derive(Clone)]
pub struct ScopeRule<T: AsRef<[u32]> = Vec<u32>> {
    pub rule: RuleId,
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
        };
        d.finish()
    }
}

/// True when the DFA matches somewhere in `hay`. The walk stops at the
/// first match, and at once when the DFA dies (a `^`-anchored rule whose
/// start the reply does not have).
fn dfa_matches<T: AsRef<[u32]>>(dfa: &dense::DFA<T>, hay: &[u8]) -> bool {
    let input = Input::new(hay).anchored(Anchored::No);
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hit {
    /// The rule (`rule`, an index into [`CompiledScope::rules`] of scope
    /// `scope`) matches if the bytes around the literal found, from
    /// `offset` bytes before it, are `text` (letters marked in `fold` in
    /// either case): the literal is the end of `text`.
    Exact {
        scope: u32,
        rule: u32,
        offset: u32,
        text: Vec<u8>,
        fold: Vec<bool>,
    },
    /// The literal (the end of one of the strings of literal group `group`
    /// of the rule) was found.
    Group { scope: u32, rule: u32, group: u8 },
}

impl Hit {
    /// The scope and rule it is about.
    pub fn at(&self) -> (u32, u32) {
        match self {
            Hit::Exact { scope, rule, .. } | Hit::Group { scope, rule, .. } => (*scope, *rule),
        }
    }
}

/// True when `found` is `text`, letters marked in `fold` in either case.
fn same_text(found: &[u8], text: &[u8], fold: &[bool]) -> bool {
    found.len() == text.len()
        && found
            .iter()
            .zip(text)
            .zip(fold)
            .all(|((&f, &t), &fold)| f == t || (fold && f.to_ascii_lowercase() == t))
}

/// The literals of all rules of all scopes and the one automaton that
/// finds them (Aho-Corasick, ASCII case ignored, overlaps included): one
/// pass over a reply serves every scope tried for it.
#[derive(Clone, Debug, Default)]
pub struct Prefilter {
    /// The literals, lowercase, and what finding each says (sorted by
    /// scope).
    pub literals: Vec<(Vec<u8>, Vec<Hit>)>,
    searcher: Option<aho_corasick::dfa::DFA>,
}

impl PartialEq for Prefilter {
    fn eq(&self, other: &Prefilter) -> bool {
        self.literals == other.literals
    }
}

impl Prefilter {
    /// Builds the searcher over `literals`.
    pub fn new(literals: Vec<(Vec<u8>, Vec<Hit>)>) -> Result<Prefilter, String> {
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
                    .map_err(|e| e.to_string())?,
            )
        };
        Ok(Prefilter { literals, searcher })
    }

    /// One pass over `hay`: for each scope of `scopes` (its index in
    /// `tables.scopes`, tried in this order), the lowest literal rule found
    /// that `accepts` (every one, with `all`), and the literal groups found.
    fn scan<T: AsRef<[u32]>, F: Fn(usize, u32) -> bool>(
        &self,
        search: &Search<'_, T, F>,
        sc: &mut Scratch,
    ) {
        sc.best.clear();
        sc.best.resize(search.scopes.len(), u32::MAX);
        sc.groups.clear();
        sc.exact.clear();
        let Some(ac) = &self.searcher else {
            return;
        };
        // The automaton walked by hand: a match state lists every literal
        // that ends at this byte, overlaps included.
        let Ok(mut sid) = ac.start_state(aho_corasick::Anchored::No) else {
            return;
        };
        for (at, &b) in search.hay.iter().enumerate() {
            sid = ac.next_state(aho_corasick::Anchored::No, sid, b);
            if !ac.is_special(sid) {
                continue;
            }
            if ac.is_dead(sid) {
                return;
            }
            if !ac.is_match(sid) {
                continue;
            }
            for i in 0..ac.match_len(sid) {
                let p = ac.match_pattern(sid, i);
                if let Some((_, hits)) = self.literals.get(p.as_usize()) {
                    let start = (at + 1).saturating_sub(ac.pattern_len(p));
                    search.on_literal(hits, start, sc);
                }
            }
        }
    }
}

/// What one search looks at.
struct Search<'a, T: AsRef<[u32]>, F> {
    /// The scopes tried, in order (indexes into `tables`).
    scopes: &'a [usize],
    tables: &'a [CompiledScope<T>],
    hay: &'a [u8],
    /// Every rule found, not only the lowest of each scope.
    all: bool,
    /// Whether rule `.1` of scope `.0` accepts the bounce's conditions.
    accepts: F,
}

impl<T: AsRef<[u32]>, F: Fn(usize, u32) -> bool> Search<'_, T, F> {
    /// What finding a literal whose `hits` these are, at `start`, says
    /// about the rules of the tried scopes.
    fn on_literal(&self, hits: &[Hit], start: usize, sc: &mut Scratch) {
        // Hits are sorted by scope: only the tried scopes' are read.
        for (k, &s) in self.scopes.iter().enumerate() {
            let from = hits.partition_point(|h| (h.at().0 as usize) < s);
            for hit in hits[from..].iter().take_while(|h| h.at().0 as usize == s) {
                let rule = hit.at().1;
                if !self.all && rule >= sc.best[k] {
                    continue;
                }
                match hit {
                    Hit::Exact {
                        offset, text, fold, ..
                    } => {
                        if !self.exact_at(s, rule, start, *offset as usize, text, fold) {
                            continue;
                        }
                        if self.all {
                            sc.exact.push((k, rule));
                        } else {
                            sc.best[k] = rule;
                        }
                    }
                    Hit::Group { group, .. } => {
                        let bit = 1u8 << group;
                        match sc
                            .groups
                            .iter_mut()
                            .find(|(kk, r, _)| *kk == k && *r == rule)
                        {
                            Some((_, _, bits)) => *bits |= bit,
                            None => sc.groups.push((k, rule, bit)),
                        }
                    }
                }
            }
        }
    }

    /// True when literal rule `rule` of scope `s` matches: its `text` lies
    /// `offset` bytes before the key found at `key_start`, where its
    /// anchors allow, and its conditions hold.
    fn exact_at(
        &self,
        s: usize,
        rule: u32,
        key_start: usize,
        offset: usize,
        text: &[u8],
        fold: &[bool],
    ) -> bool {
        let Some(Check::Literal { start, end }) = self
            .tables
            .get(s)
            .and_then(|t| t.rules.get(rule as usize))
            .map(|r| &r.check)
        else {
            return false;
        };
        let Some(from) = key_start.checked_sub(offset) else {
            return false;
        };
        let to = from + text.len();
        let anchored = (!*start || from == 0) && (!*end || to == self.hay.len());
        anchored
            && self
                .hay
                .get(from..to)
                .is_some_and(|f| same_text(f, text, fold))
            && (self.accepts)(s, rule)
    }
}

/// Per-thread scratch space of a search.
#[derive(Default)]
struct Scratch {
    /// The scopes tried, in order.
    scopes: Vec<usize>,
    /// Per scope tried: the lowest literal rule found.
    best: Vec<u32>,
    /// (scope tried, rule, groups found as bits).
    groups: Vec<(usize, u32, u8)>,
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
            .filter(|(_, r)| matches!(r.check, Check::Dfa { groups: 0, .. }))
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect();
        CompiledScope {
            name,
            rules,
            always,
        }
    }

    /// The DFA rules to run, ascending: those whose groups were all found
    /// (`groups`: scope tried `k`'s entries) and those without groups,
    /// below `below`.
    fn candidates(&self, k: usize, groups: &[(usize, u32, u8)], below: u32, out: &mut Vec<u32>) {
        out.clear();
        for &(kk, rule, bits) in groups {
            if kk == k
                && rule < below
                && let Some(Check::Dfa { groups, .. }) =
                    self.rules.get(rule as usize).map(|r| &r.check)
                && u32::from(bits) == (1u32 << groups) - 1
            {
                out.push(rule);
            }
        }
        out.extend(self.always.iter().copied().filter(|&r| r < below));
        out.sort_unstable();
        out.dedup();
    }

    fn dfa_matches(&self, i: u32, hay: &[u8]) -> bool {
        match self.rules.get(i as usize).map(|r| &r.check) {
            Some(Check::Dfa { dfa, .. }) => dfa_matches(dfa, hay),
            _ => false,
        }
    }

    /// Bytes of DFA tables.
    pub fn memory_usage(&self) -> usize {
        self.rules
            .iter()
            .map(|r| match &r.check {
                Check::Dfa { dfa, .. } => dfa.memory_usage(),
                Check::Literal { .. } => 0,
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
                tables: &self.scopes,
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
                scope.candidates(k, &sc.groups, best, &mut candidates);
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
            tables: &self.scopes,
            hay,
            all: true,
            accepts: &accepts,
        };
        self.prefilter.scan(&search, &mut sc);
        let mut found: Vec<u32> = sc.exact.iter().map(|&(_, r)| r).collect();
        let mut candidates = Vec::new();
        cs.candidates(0, &sc.groups, u32::MAX, &mut candidates);
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

/// Which scopes apply to a bounce, most specific first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    pub exact: HashMap<String, usize>,
    pub suffix: HashMap<String, usize>,
    pub rcpt: HashMap<String, usize>,
    pub global: Option<usize>,
}

/// Why a scope was selected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    ExactHost,
    HostSuffix,
    RecipientDomain,
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
                if let Some(&s) = self.exact.get(host) {
                    visit(s, Reason::ExactHost)?;
                }
                if !self.suffix.is_empty() {
                    // `a.b.mail.ru`, `b.mail.ru`, `mail.ru`, `ru`: label-aligned suffixes, longest first.
                    let mut rest = host;
                    loop {
                        if let Some(&s) = self.suffix.get(rest) {
                            visit(s, Reason::HostSuffix)?;
                        }
                        match rest.find('.') {
                            Some(i) => rest = &rest[i + 1..],
                            None => break,
                        }
                    }
                }
            }
            if let Some(d) = rcpt_domain
                && let Some(&s) = self.rcpt.get(d)
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
    pub rules: crate::model::RuleSet,
    pub scopes: Vec<CompiledScope<T>>,
    pub selector: Selector,
    /// The literals of every rule of every scope.
    pub prefilter: Prefilter,
}
