//! Compiled tables: what classification runs on.
//!
//! Each scope is a list of *shards*: dense DFAs (regex-automata), each holding
//! a run of the scope's rules in source order as one multi-pattern automaton
//! (pattern `i` of a shard is its `i`-th rule). A shard is built with
//! `MatchKind::All` and searched unanchored over the whole reply, so it sees
//! every rule that matches anywhere; the answer is the lowest-numbered rule
//! whose `initial` condition holds, never the leftmost match. Shards are
//! searched in order and the search stops at the first shard with an answer,
//! since every rule of a later shard comes later in the source.
//!
//! The [`Selector`] maps a bounce to the scopes to try: exact host, host
//! suffixes longest first, recipient domain, global.

use std::collections::HashMap;

use regex_automata::dfa::{Automaton, dense};
use regex_automata::{Anchored, Input};

use crate::model::{Rule, RuleId};
use crate::status::{Category, Status};

/// One DFA over a run of a scope's rules.
/// `T` is the DFA's storage: `Vec<u32>` when compiled here, `&[u32]` when
/// read from a compiled file without copying.
#[derive(Clone)]
pub struct Shard<T: AsRef<[u32]> = Vec<u32>> {
    pub dfa: dense::DFA<T>,
    /// Pattern `i` of the DFA is rule `rules[i]`.
    pub rules: Vec<RuleId>,
}

impl<T: AsRef<[u32]>> std::fmt::Debug for Shard<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("rules", &self.rules)
            .field("dfa_bytes", &self.dfa.memory_usage())
            .finish()
    }
}

impl<T: AsRef<[u32]>> Shard<T> {
    /// Calls `found` with each rule (in no particular order, possibly more
    /// than once) that matches somewhere in `hay`.
    fn for_each_match(&self, hay: &[u8], mut found: impl FnMut(RuleId)) {
        let dfa = &self.dfa;
        let input = Input::new(hay).anchored(Anchored::No);
        let Ok(mut s) = dfa.start_state_forward(&input) else {
            return;
        };
        let mut report = |s| {
            for i in 0..dfa.match_len(s) {
                if let Some(&r) = self.rules.get(dfa.match_pattern(s, i).as_usize()) {
                    found(r);
                }
            }
        };
        for &b in hay {
            s = dfa.next_state(s, b);
            if dfa.is_special_state(s) {
                if dfa.is_match_state(s) {
                    report(s);
                } else if dfa.is_dead_state(s) || dfa.is_quit_state(s) {
                    return;
                }
            }
        }
        s = dfa.next_eoi_state(s);
        if dfa.is_match_state(s) {
            report(s);
        }
    }
}

/// Literals that say which heavy rules can match a reply.
///
/// Every match of a heavy rule contains one of its literals (ASCII case
/// ignored); a heavy rule with no such literal is always a candidate.
#[derive(Clone, Debug, Default)]
pub struct Prefilter {
    /// The literals, lowercase, and for each the heavy rules (indexes into
    /// [`CompiledScope::heavy`]) it stands for.
    pub literals: Vec<(Vec<u8>, Vec<u32>)>,
    /// Heavy rules without a literal.
    pub always: Vec<u32>,
    searcher: Option<aho_corasick::AhoCorasick>,
}

impl PartialEq for Prefilter {
    fn eq(&self, other: &Prefilter) -> bool {
        self.literals == other.literals && self.always == other.always
    }
}

impl Prefilter {
    /// Builds the searcher over `literals`.
    pub fn new(literals: Vec<(Vec<u8>, Vec<u32>)>, always: Vec<u32>) -> Result<Prefilter, String> {
        let searcher = if literals.is_empty() {
            None
        } else {
            Some(
                aho_corasick::AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(aho_corasick::MatchKind::Standard)
                    .build(literals.iter().map(|(l, _)| l))
                    .map_err(|e| e.to_string())?,
            )
        };
        Ok(Prefilter {
            literals,
            always,
            searcher,
        })
    }

    /// The heavy rules that may match `hay`, ascending.
    pub fn candidates(&self, hay: &[u8], out: &mut Vec<u32>) {
        out.clear();
        out.extend_from_slice(&self.always);
        if let Some(ac) = &self.searcher {
            for m in ac.find_overlapping_iter(hay) {
                if let Some((_, owners)) = self.literals.get(m.pattern().as_usize()) {
                    out.extend_from_slice(owners);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}

thread_local! {
    static CANDIDATES: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A scope compiled.
///
/// Rules whose automata combine well ("light": literal phrases, anchored
/// codes) share multi-pattern DFAs (`shards`, each a run of them in source
/// order). Rules that would multiply a combined DFA's size ("heavy": a
/// remembered prefix followed by an unbounded `.*`) get a DFA each
/// (`heavy`, in source order), run only when the [`Prefilter`] finds one of
/// their literals. The answer is the lowest-numbered rule that matches,
/// whichever part it is in.
#[derive(Clone, Debug)]
pub struct CompiledScope<T: AsRef<[u32]> = Vec<u32>> {
    /// The header, for explanations: `mx ends with ".mail.ru"`.
    pub name: String,
    pub shards: Vec<Shard<T>>,
    /// One single-rule DFA per heavy rule, in rule order.
    pub heavy: Vec<Shard<T>>,
    pub prefilter: Prefilter,
}

impl<T: AsRef<[u32]>> CompiledScope<T> {
    /// The first rule (in source order) that matches `hay` and accepts
    /// `initial`.
    pub fn first_match(
        &self,
        rules: &[Rule],
        hay: &[u8],
        initial: Option<Status>,
        reported: Option<Category>,
    ) -> Option<RuleId> {
        let accepts = |r: RuleId| {
            rules
                .get(r)
                .is_some_and(|rule| rule.accepts(initial, reported))
        };
        let mut best: Option<RuleId> = None;
        for shard in &self.shards {
            shard.for_each_match(hay, |r| {
                if best.is_none_or(|b| r < b) && accepts(r) {
                    best = Some(r);
                }
            });
            if best.is_some() {
                break; // later shards hold later light rules
            }
        }
        if self.heavy.is_empty() {
            return best;
        }
        // The candidate buffer is reused across calls on this thread: no
        // allocation per reply.
        let heavy = CANDIDATES.with_borrow_mut(|candidates| {
            self.prefilter.candidates(hay, candidates);
            for &c in candidates.iter() {
                let Some(shard) = self.heavy.get(c as usize) else {
                    continue;
                };
                let Some(&r) = shard.rules.first() else {
                    continue;
                };
                if best.is_some_and(|b| r > b) {
                    break;
                }
                if !accepts(r) {
                    continue;
                }
                let mut hit = false;
                shard.for_each_match(hay, |_| hit = true);
                if hit {
                    return Some(r);
                }
            }
            None
        });
        if heavy.is_some() {
            return heavy;
        }
        best
    }

    /// Every rule that matches `hay` and accepts `initial`, in source order.
    pub fn all_matches(
        &self,
        rules: &[Rule],
        hay: &[u8],
        initial: Option<Status>,
        reported: Option<Category>,
    ) -> Vec<RuleId> {
        let mut out = Vec::new();
        for shard in self.shards.iter().chain(&self.heavy) {
            shard.for_each_match(hay, |r| {
                if rules
                    .get(r)
                    .is_some_and(|rule| rule.accepts(initial, reported))
                {
                    out.push(r);
                }
            });
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Bytes of DFA tables.
    pub fn memory_usage(&self) -> usize {
        self.shards
            .iter()
            .chain(&self.heavy)
            .map(|s| s.dfa.memory_usage())
            .sum()
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
    /// The scopes for a (normalized) MX host and recipient domain, in the
    /// order they are tried, each once.
    pub fn select(&self, mx: Option<&str>, rcpt_domain: Option<&str>) -> Vec<(usize, Reason)> {
        let mut out: Vec<(usize, Reason)> = Vec::with_capacity(4);
        let mut push = |s: usize, r: Reason| {
            if !out.iter().any(|(x, _)| *x == s) {
                out.push((s, r));
            }
        };
        if let Some(host) = mx.filter(|h| !h.is_empty()) {
            if let Some(&s) = self.exact.get(host) {
                push(s, Reason::ExactHost);
            }
            if !self.suffix.is_empty() {
                // `a.b.mail.ru`, `b.mail.ru`, `mail.ru`, `ru`: label-aligned suffixes, longest first.
                let mut rest = host;
                loop {
                    if let Some(&s) = self.suffix.get(rest) {
                        push(s, Reason::HostSuffix);
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
            push(s, Reason::RecipientDomain);
        }
        if let Some(s) = self.global {
            push(s, Reason::Global);
        }
        out
    }
}

/// Everything classification needs.
#[derive(Clone, Debug)]
pub struct Tables<T: AsRef<[u32]> = Vec<u32>> {
    pub rules: crate::model::RuleSet,
    pub scopes: Vec<CompiledScope<T>>,
    pub selector: Selector,
}
