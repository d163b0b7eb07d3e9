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
use crate::status::Status;

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

/// A scope compiled: its shards in rule order.
#[derive(Clone, Debug)]
pub struct CompiledScope<T: AsRef<[u32]> = Vec<u32>> {
    /// The header, for explanations: `mx ends with ".mail.ru"`.
    pub name: String,
    pub shards: Vec<Shard<T>>,
}

impl<T: AsRef<[u32]>> CompiledScope<T> {
    /// The first rule (in source order) that matches `hay` and accepts
    /// `initial`.
    pub fn first_match(
        &self,
        rules: &[Rule],
        hay: &[u8],
        initial: Option<Status>,
    ) -> Option<RuleId> {
        for shard in &self.shards {
            let mut best: Option<RuleId> = None;
            shard.for_each_match(hay, |r| {
                if best.is_none_or(|b| r < b)
                    && rules
                        .get(r)
                        .is_some_and(|rule| rule.accepts_initial(initial))
                {
                    best = Some(r);
                }
            });
            if best.is_some() {
                return best;
            }
        }
        None
    }

    /// Every rule that matches `hay` and accepts `initial`, in source order.
    pub fn all_matches(&self, rules: &[Rule], hay: &[u8], initial: Option<Status>) -> Vec<RuleId> {
        let mut out = Vec::new();
        for shard in &self.shards {
            shard.for_each_match(hay, |r| {
                if rules
                    .get(r)
                    .is_some_and(|rule| rule.accepts_initial(initial))
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
        self.shards.iter().map(|s| s.dfa.memory_usage()).sum()
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
