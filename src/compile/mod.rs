//! Rule set to tables: per rule a plan, per scope its rules in order, one
//! literal prefilter for all scopes, and the selector.
//!
//! [`compile`] takes a [`RuleSet`] that [`crate::check`] validated and
//! returns the [`Tables`] the runtime classifies with, or one E015
//! ([`Code::RuleTooBig`]) diagnostic for every rule whose automaton does not
//! fit under [`Options::dfa_size_limit`]. [`classifier`] wraps the tables in
//! a [`Classifier`]. The stages inside:
//!
//! 1. [`plan`] (in `plan.rs`): how each rule is found, from its regex's
//!    syntax tree: exact strings, literal pieces, or a DFA, each with the
//!    literal groups the prefilter looks for.
//! 2. The DFAs the plans need (in `dfa.rs`), built in parallel, each under
//!    the cap.
//! 3. Per scope, its rules in order with their checks; the literal keys of
//!    every scope gathered into one prefilter; the selector from the scope
//!    keys ([`selector`]).
//!
//! Nothing here imports the checker: the checker calls the compiler (to
//! find rules too big for a DFA, and to classify examples), not the other
//! way round.
//!
//! A rule that is a few literal strings needs no automaton; nor does one
//! that is literal pieces with `.*` or `.+` between them. Any other rule
//! gets a dense DFA of its own (regex-automata), built in parallel. A DFA of
//! one rule stays small whatever the rule (no product of `.*` rules, as in
//! one combined automaton), is walked only until its first match, and dies
//! after a few bytes when the rule is `^`-anchored and the reply does not
//! start its way. A rule too big for a DFA even alone gets an error naming
//! the cap: no rule can make compilation run out of memory.
//!
//! Which rules to look at is decided by literals: for each rule, up to
//! three groups of strings, one string of each of which every match
//! contains (the most selective: `recipient address rejected: user unknown`
//! rather than `550`), found on the regex's syntax tree. One Aho-Corasick
//! automaton over the last bytes of every literal finds them in a reply
//! (ASCII case ignored); only their rules, and the few rules with no such
//! literal, are looked at, lowest first.
//!
//! ```
//! use mxrules::syntax::load::Parsed;
//! let mut parsed = Parsed::default();
//! parsed.add_text("a.rules", r#"global { /^550 5\.1\.1 / -> 5.1.1 quarantine }"#);
//! let rules = mxrules::check::check(&parsed).rules.unwrap();
//! let (tables, stats) = mxrules::compile::compile(rules, &mxrules::compile::Options::default()).unwrap();
//! assert_eq!(stats.literal_rules, 1);
//! assert_eq!(tables.scopes.len(), 1);
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::core::model::{Rule, RuleSet, Scope, ScopeKey};
use crate::diag::{Code, Diagnostic};
use crate::runtime::classify::Classifier;
use crate::runtime::tables::{
    Check, CompiledScope, Hit, Pieces, Prefilter, ScopeRule, Selector, Tables,
};

mod dfa;
mod plan;

pub(crate) use dfa::build;
use dfa::{Dfa, build_rule};
pub use dfa::{DfaError, pattern};
pub use plan::{Plan, plan};

/// The prefilter searches for the last bytes of each literal only: a
/// short key keeps its automaton small (and in cache) however long the
/// literals; a literal rule's whole text is compared where its key is found.
const KEY_LEN: usize = 8;

/// Compilation settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// The most bytes one DFA may take.
    pub dfa_size_limit: usize,
    /// Threads that build DFAs; 0 means one per core.
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            dfa_size_limit: 8 * 1024 * 1024,
            threads: 0,
        }
    }
}

/// Figures about one compilation, for `compile --stats`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Stats {
    /// Rules compiled.
    pub rules: usize,
    /// Scopes compiled.
    pub scopes: usize,
    /// Bytes of all DFA tables.
    pub dfa_bytes: usize,
    /// The largest rule DFA, in bytes.
    pub largest_dfa_bytes: usize,
    /// Rules whose regex is a few literal strings: found by the prefilter
    /// alone, no DFA run.
    pub literal_rules: usize,
    /// Rules whose DFA runs only once the prefilter found their literals.
    pub group_rules: usize,
    /// Rules that are literal pieces with `.*` or `.+` between them: looked
    /// for without a DFA, once the prefilter found their literals.
    pub piece_rules: usize,
    /// Rules with no literal that every match contains: their DFA runs on
    /// every reply of their scope.
    pub always_rules: usize,
    /// Distinct literal keys the prefilter searches for (the last bytes of
    /// each literal), over all scopes.
    pub literals: usize,
    /// Bytes of the literal automaton.
    pub prefilter_bytes: usize,
    /// How long compilation took (milliseconds in JSON).
    #[serde(serialize_with = "crate::core::text::ser_ms")]
    pub elapsed: Duration,
    /// The cap on one DFA's bytes the rules were compiled under.
    pub dfa_size_limit: usize,
}

impl Stats {
    /// One line for people: how the rules are found, DFA bytes, time.
    pub fn summary(&self) -> String {
        format!(
            "{} rules in {} scopes: {} found by their literals alone, {} by literal pieces in order, {} by a DFA behind literal groups, {} by a DFA run on every reply of their scope; {} literal keys ({} bytes of automaton); {} bytes of DFAs (largest {} bytes, cap {} bytes); {:.1} ms",
            self.rules,
            self.scopes,
            self.literal_rules,
            self.piece_rules,
            self.group_rules,
            self.always_rules,
            self.literals,
            self.prefilter_bytes,
            self.dfa_bytes,
            self.largest_dfa_bytes,
            self.dfa_size_limit,
            self.elapsed.as_secs_f64() * 1000.0
        )
    }
}

/// Builds `f(i)` for every `i < n` on `threads` threads (0: one per core),
/// results in index order.
fn parallel<T: Send>(n: usize, threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        t => t,
    }
    .clamp(1, 64);
    if threads == 1 || n < 32 {
        return (0..n).map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut parts: Vec<Vec<(usize, T)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= n {
                            break out;
                        }
                        out.push((i, f(i)));
                    }
                })
            })
            .collect();
        // A worker that panicked passes its panic on to the caller.
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut all: Vec<(usize, T)> = parts.iter_mut().flat_map(std::mem::take).collect();
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, t)| t).collect()
}

/// Compiles a checked rule set into a classifier, with the default options.
pub fn classifier(rules: RuleSet) -> Result<Classifier, Vec<Diagnostic>> {
    classifier_with(rules, &Options::default())
}

/// Compiles a checked rule set into a classifier.
pub fn classifier_with(rules: RuleSet, opts: &Options) -> Result<Classifier, Vec<Diagnostic>> {
    compile(rules, opts).map(|(tables, _)| Classifier::from_tables(tables))
}

/// Compiles a checked rule set. Returns every rule that does not fit as a
/// diagnostic (E015).
pub fn compile(rules: RuleSet, opts: &Options) -> Result<(Tables, Stats), Vec<Diagnostic>> {
    let started = Instant::now();
    let built = build_all(&rules, opts);
    let mut tables = Assembly {
        built: built.into_iter().map(Some).collect(),
        literals: Literals::default(),
        stats: Stats {
            rules: rules.rules.len(),
            scopes: rules.scopes.len(),
            dfa_size_limit: opts.dfa_size_limit,
            ..Stats::default()
        },
        diags: Vec::new(),
    };
    let scopes: Vec<CompiledScope> = rules
        .scopes
        .iter()
        .enumerate()
        .map(|(index, scope)| tables.scope(&rules, index, scope))
        .collect();
    let Assembly {
        literals,
        mut stats,
        mut diags,
        ..
    } = tables;
    stats.literals = literals.keys.len();
    let prefilter = prefilter(literals, &scopes, &rules, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    stats.prefilter_bytes = prefilter.memory_usage();
    let selector = selector(&rules);
    stats.elapsed = started.elapsed();
    Ok((
        Tables {
            rules,
            scopes,
            selector,
            prefilter,
        },
        stats,
    ))
}

/// A rule's plan, with its DFA built when it needs one.
enum Built {
    Exact {
        start: bool,
        end: bool,
        texts: Vec<(Vec<u8>, Vec<bool>)>,
    },
    Dfa {
        groups: Vec<Vec<Vec<u8>>>,
        dfa: Box<Dfa>,
    },
    Pieces {
        groups: Vec<Vec<Vec<u8>>>,
        pieces: Box<Pieces>,
    },
}

/// Every rule's plan, with the DFAs the plans need built in parallel; in
/// rule order.
fn build_all(rules: &RuleSet, opts: &Options) -> Vec<Result<Built, DfaError>> {
    parallel(rules.rules.len(), opts.threads, |r| {
        let rule = &rules.rules[r];
        match plan(rule) {
            Plan::Exact { start, end, texts } => Ok(Built::Exact { start, end, texts }),
            Plan::Dfa { groups } => {
                build_rule(&pattern(rule), opts.dfa_size_limit).map(|dfa| Built::Dfa {
                    groups,
                    dfa: Box::new(dfa),
                })
            }
            Plan::Pieces { pieces, groups } => Ok(Built::Pieces {
                groups,
                pieces: Box::new(pieces),
            }),
        }
    })
}

/// The prefilter's literal keys as they are gathered: each key once, with
/// every rule (or rule group) it is a hit for.
#[derive(Default)]
struct Literals {
    keys: Vec<(Vec<u8>, Vec<Hit>)>,
    index: HashMap<Vec<u8>, usize>,
}

impl Literals {
    fn add(&mut self, key: Vec<u8>, hit: Hit) {
        match self.index.get(&key).and_then(|&i| self.keys.get_mut(i)) {
            Some((_, hits)) => hits.push(hit),
            None => {
                self.index.insert(key.clone(), self.keys.len());
                self.keys.push((key, vec![hit]));
            }
        }
    }

    /// Adds the keys of a rule's literal groups (the last bytes of each
    /// string); returns how many groups there are.
    fn add_groups(&mut self, groups: &[Vec<Vec<u8>>], scope: u32, rule: u32) -> u8 {
        for (g, lits) in groups.iter().enumerate() {
            let group = u8::try_from(g).unwrap_or(u8::MAX);
            let mut keys: Vec<&[u8]> = lits
                .iter()
                .map(|l| &l[l.len().saturating_sub(KEY_LEN)..])
                .collect();
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                self.add(key.to_vec(), Hit::Group { scope, rule, group });
            }
        }
        u8::try_from(groups.len()).unwrap_or(u8::MAX)
    }
}

/// The tables as they are put together, scope by scope, from the built
/// rules.
struct Assembly {
    /// Each rule's plan and automaton, taken when its scope is assembled.
    built: Vec<Option<Result<Built, DfaError>>>,
    literals: Literals,
    stats: Stats,
    /// Rules too big for a DFA.
    diags: Vec<Diagnostic>,
}

impl Assembly {
    /// The compiled scope: its rules in order with their checks, their
    /// literal keys added to the prefilter's.
    fn scope(&mut self, rules: &RuleSet, index: usize, scope: &Scope) -> CompiledScope {
        let scope_index = u32::try_from(index).unwrap_or(u32::MAX);
        let mut members: Vec<ScopeRule> = Vec::with_capacity(scope.rules.len());
        for &r in &scope.rules {
            let (Some(rule), Some(built)) = (
                rules.rules.get(r),
                self.built.get_mut(r).and_then(Option::take),
            ) else {
                continue;
            };
            let member = u32::try_from(members.len()).unwrap_or(u32::MAX);
            if let Some(check) = self.check(rule, built, scope_index, member) {
                members.push(ScopeRule { rule: r, check });
            }
        }
        let compiled = CompiledScope::new(scope.name(), members);
        self.stats.dfa_bytes += compiled.memory_usage();
        compiled
    }

    /// How the runtime tries one rule, the `rule`th of scope `scope`;
    /// `None`, with its diagnostic, when its DFA was not built.
    fn check(
        &mut self,
        rule: &Rule,
        built: Result<Built, DfaError>,
        scope: u32,
        member: u32,
    ) -> Option<Check> {
        Some(match built {
            Ok(Built::Exact { start, end, texts }) => {
                self.stats.literal_rules += 1;
                for (text, fold) in texts {
                    let offset = text.len().saturating_sub(KEY_LEN);
                    self.literals.add(
                        text[offset..].to_ascii_lowercase(),
                        Hit::Exact {
                            scope,
                            rule: member,
                            offset: u32::try_from(offset).unwrap_or(u32::MAX),
                            text,
                            fold,
                        },
                    );
                }
                Check::Literal { start, end }
            }
            Ok(Built::Dfa { groups, dfa }) => {
                if groups.is_empty() {
                    self.stats.always_rules += 1;
                } else {
                    self.stats.group_rules += 1;
                }
                self.stats.largest_dfa_bytes = self.stats.largest_dfa_bytes.max(dfa.memory_usage());
                Check::Dfa {
                    dfa,
                    groups: self.literals.add_groups(&groups, scope, member),
                }
            }
            Ok(Built::Pieces { groups, pieces }) => {
                self.stats.piece_rules += 1;
                Check::Pieces {
                    pieces,
                    groups: self.literals.add_groups(&groups, scope, member),
                }
            }
            Err(e) => {
                self.diags
                    .push(too_big(rule, &e, self.stats.dfa_size_limit));
                return None;
            }
        })
    }
}

/// The literal prefilter of every scope; an empty one, with a diagnostic on
/// the first rule, when it cannot be built.
fn prefilter(
    literals: Literals,
    scopes: &[CompiledScope],
    rules: &RuleSet,
    diags: &mut Vec<Diagnostic>,
) -> Prefilter {
    match Prefilter::new(literals.keys, scopes, rules) {
        Ok(p) => p,
        Err(e) => {
            if let Some(rule) = rules.rules.first() {
                diags.push(Diagnostic::new(
                    Code::RuleTooBig,
                    format!("the literal prefilter cannot be built: {e}"),
                    rule.head,
                    "first rule",
                ));
            }
            Prefilter::default()
        }
    }
}

/// E015 on a rule whose DFA was not built.
fn too_big(rule: &Rule, e: &DfaError, limit: usize) -> Diagnostic {
    Diagnostic::new(
        Code::RuleTooBig,
        format!("rule's regex does not fit in a DFA of {} bytes", limit),
        rule.head,
        "this rule",
    )
    .with_note(format!("the automaton builder said: {e}"))
    .with_help("anchor the regex, replace `.*` between words with a literal phrase, or raise `--dfa-size-limit`")
}

/// Builds the scope selector from the scopes' keys.
pub fn selector(rules: &RuleSet) -> Selector {
    let mut sel = Selector::default();
    for (i, scope) in rules.scopes.iter().enumerate() {
        for key in &scope.keys {
            match key {
                ScopeKey::MxExact(h) => {
                    sel.exact.insert(h.clone(), i);
                }
                ScopeKey::MxSuffix(s) => {
                    sel.suffix.insert(s.clone(), i);
                }
                ScopeKey::RcptDomain(d) => {
                    sel.rcpt.insert(d.clone(), i);
                }
                ScopeKey::Global => {
                    sel.global.get_or_insert(i);
                }
            }
        }
    }
    sel
}
