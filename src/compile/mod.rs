//! Rule set to tables: per rule a plan, per scope its rules in order, one
//! literal prefilter for all scopes, and the selector.
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

use std::time::{Duration, Instant};

use regex_automata::MatchKind;
use regex_automata::dfa::{StartKind, dense};
use regex_automata::nfa::thompson;

use crate::core::model::{RuleSet, ScopeKey, syntax_config};
use crate::diag::{Code, Diagnostic};
use crate::runtime::classify::Classifier;
use crate::runtime::tables::{
    Check, CompiledScope, Hit, Piece, Pieces, Prefilter, ScopeRule, Selector, Tables,
};
use regex_syntax::hir::{Class, Hir, HirKind};

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
    pub rules: usize,
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
    #[serde(serialize_with = "ser_ms")]
    pub elapsed: Duration,
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

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// The pattern of a rule as the DFA sees it.
pub fn pattern(rule: &crate::core::model::Rule) -> String {
    if rule.case_insensitive {
        format!("(?i){}", rule.regex)
    } else {
        rule.regex.clone()
    }
}

/// Builds one multi-pattern DFA reporting every pattern that matches
/// (`MatchKind::All`), for the analysis. Refuses one whose finished size is
/// over the cap (the builder checks the cap while determinizing, and the
/// final table can come out slightly larger).
pub(crate) fn build(patterns: &[String], limit: usize) -> Result<dense::DFA<Vec<u32>>, String> {
    build_with(patterns, limit, MatchKind::All)
}

fn build_with(
    patterns: &[String],
    limit: usize,
    kind: MatchKind,
) -> Result<dense::DFA<Vec<u32>>, String> {
    let dfa = dense::Builder::new()
        .configure(
            dense::DFA::config()
                .match_kind(kind)
                .start_kind(StartKind::Unanchored)
                .dfa_size_limit(Some(limit))
                .determinize_size_limit(Some(limit.saturating_mul(2))),
        )
        .syntax(syntax_config(false))
        .thompson(thompson::Config::new().nfa_size_limit(Some(limit)))
        .build_many(patterns)
        .map_err(|e| e.to_string())?;
    if dfa.memory_usage() > limit {
        return Err(format!(
            "the DFA takes {} bytes, more than the cap",
            dfa.memory_usage()
        ));
    }
    Ok(dfa)
}

/// The DFA of one rule, for classification: stops at the first match.
fn build_rule(pattern: &str, limit: usize) -> Result<dense::DFA<Vec<u32>>, String> {
    build_with(&[pattern.to_string()], limit, MatchKind::LeftmostFirst)
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
/// diagnostic.
pub fn compile(rules: RuleSet, opts: &Options) -> Result<(Tables, Stats), Vec<Diagnostic>> {
    let started = Instant::now();
    let mut diags = Vec::new();
    let mut stats = Stats {
        rules: rules.rules.len(),
        scopes: rules.scopes.len(),
        dfa_size_limit: opts.dfa_size_limit,
        ..Stats::default()
    };
    let built = parallel(rules.rules.len(), opts.threads, |r| {
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
    });
    let mut built: Vec<Option<_>> = built.into_iter().map(Some).collect();
    let mut scopes = Vec::with_capacity(rules.scopes.len());
    let mut literals: Vec<(Vec<u8>, Vec<Hit>)> = Vec::new();
    let mut index_of: std::collections::HashMap<Vec<u8>, usize> = std::collections::HashMap::new();
    let mut add = |lit: Vec<u8>, hit: Hit| match index_of.get(&lit) {
        Some(&i) => literals[i].1.push(hit),
        None => {
            index_of.insert(lit.clone(), literals.len());
            literals.push((lit, vec![hit]));
        }
    };
    for (scope_index, scope) in rules.scopes.iter().enumerate() {
        let scope_index = u32::try_from(scope_index).unwrap_or(u32::MAX);
        let mut members: Vec<ScopeRule> = Vec::with_capacity(scope.rules.len());
        for &r in &scope.rules {
            let (Some(rule), Some(built)) =
                (rules.rules.get(r), built.get_mut(r).and_then(Option::take))
            else {
                continue;
            };
            let index = u32::try_from(members.len()).unwrap_or(u32::MAX);
            let check = match built {
                Ok(Built::Exact { start, end, texts }) => {
                    stats.literal_rules += 1;
                    for (text, fold) in texts {
                        let offset = text.len().saturating_sub(KEY_LEN);
                        add(
                            text[offset..].to_ascii_lowercase(),
                            Hit::Exact {
                                scope: scope_index,
                                rule: index,
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
                        stats.always_rules += 1;
                    } else {
                        stats.group_rules += 1;
                    }
                    stats.largest_dfa_bytes = stats.largest_dfa_bytes.max(dfa.memory_usage());
                    Check::Dfa {
                        dfa,
                        groups: group_hits(&groups, scope_index, index, &mut add),
                    }
                }
                Ok(Built::Pieces { groups, pieces }) => {
                    stats.piece_rules += 1;
                    Check::Pieces {
                        pieces,
                        groups: group_hits(&groups, scope_index, index, &mut add),
                    }
                }
                Err(e) => {
                    diags.push(too_big(rule, &e, opts.dfa_size_limit));
                    continue;
                }
            };
            members.push(ScopeRule { rule: r, check });
        }
        let compiled = CompiledScope::new(scope.name(), members);
        stats.dfa_bytes += compiled.memory_usage();
        scopes.push(compiled);
    }
    stats.literals = literals.len();
    let prefilter = match Prefilter::new(literals, &scopes, &rules) {
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
    };
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

/// Adds the keys of a rule's literal groups (the last bytes of each
/// string) to the prefilter; returns how many groups there are.
fn group_hits(
    groups: &[Vec<Vec<u8>>],
    scope: u32,
    rule: u32,
    add: &mut impl FnMut(Vec<u8>, Hit),
) -> u8 {
    for (g, lits) in groups.iter().enumerate() {
        let group = u8::try_from(g).unwrap_or(u8::MAX);
        let mut keys: Vec<&[u8]> = lits
            .iter()
            .map(|l| &l[l.len().saturating_sub(KEY_LEN)..])
            .collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            add(key.to_vec(), Hit::Group { scope, rule, group });
        }
    }
    u8::try_from(groups.len()).unwrap_or(u8::MAX)
}

fn too_big(rule: &crate::core::model::Rule, e: &str, limit: usize) -> Diagnostic {
    Diagnostic::new(
        Code::RuleTooBig,
        format!("rule's regex does not fit in a DFA of {} bytes", limit),
        rule.head,
        "this rule",
    )
    .with_note(format!("the automaton builder said: {e}"))
    .with_help("anchor the regex, replace `.*` between words with a literal phrase, or raise `--dfa-size-limit`")
}

/// The regex of a rule as regex-syntax reads it for analysis.
fn hir(rule: &crate::core::model::Rule) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .case_insensitive(rule.case_insensitive)
        .build()
        .parse(&rule.regex)
        .ok()
}

/// Most strings a literal set may hold.
const MAX_LITERALS: usize = 32;
/// Longest required literal kept (a prefix of a required string is
/// required too).
const MAX_LITERAL_LEN: usize = 48;
/// Longest string of a rule's whole language.
const MAX_EXACT_LEN: usize = 200;
/// Most literal groups a DFA rule is prefiltered on (a rule found by its
/// pieces: one).
const MAX_GROUPS: usize = 3;

/// A string a regex matches, position by position: a byte, or a letter in
/// either case.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Text {
    /// The bytes; letters that match either case are lowercase.
    bytes: Vec<u8>,
    /// `fold[i]`: byte `i` is a letter that matches either case.
    fold: Vec<bool>,
}

impl Text {
    fn byte(b: u8, fold: bool) -> Text {
        Text {
            bytes: vec![if fold { b.to_ascii_lowercase() } else { b }],
            fold: vec![fold],
        }
    }

    fn lower(&self) -> Vec<u8> {
        self.bytes.to_ascii_lowercase()
    }
}

/// The positions a class stands for when they are few: single bytes, or
/// letters in either case.
fn class_texts(c: &Class) -> Option<Vec<Text>> {
    let mut bytes: Vec<u8> = Vec::new();
    let mut add = |lo: u32, hi: u32| -> Option<()> {
        if hi - lo >= 8 {
            return None;
        }
        for b in lo..=hi {
            bytes.push(u8::try_from(b).ok()?);
        }
        Some(())
    };
    match c {
        Class::Bytes(c) => {
            for r in c.ranges() {
                add(u32::from(r.start()), u32::from(r.end()))?;
            }
        }
        Class::Unicode(c) => {
            for r in c.ranges() {
                add(r.start() as u32, r.end() as u32)?;
            }
        }
    }
    bytes.sort_unstable();
    bytes.dedup();
    let mut out: Vec<Text> = Vec::new();
    for &b in &bytes {
        if b.is_ascii_lowercase() && bytes.contains(&b.to_ascii_uppercase()) {
            out.push(Text::byte(b, true));
        } else if b.is_ascii_uppercase() && bytes.contains(&b.to_ascii_lowercase()) {
            continue; // the pair is one folded position
        } else {
            out.push(Text::byte(b, false));
        }
    }
    (out.len() <= 4).then_some(out)
}

/// Every string `h` can match, when there are few. With `looks`, a
/// lookaround counts as the empty string (the set is a filter); without,
/// a lookaround makes the language unknown (the set must be exact).
fn language(h: &Hir, looks: bool) -> Option<Vec<Text>> {
    match h.kind() {
        HirKind::Empty => Some(vec![Text::default()]),
        HirKind::Look(_) => looks.then(|| vec![Text::default()]),
        HirKind::Literal(l) => Some(vec![Text {
            bytes: l.0.to_vec(),
            fold: vec![false; l.0.len()],
        }]),
        HirKind::Class(c) => class_texts(c),
        HirKind::Capture(c) => language(&c.sub, looks),
        HirKind::Repetition(r) => match (r.min, r.max) {
            (1, Some(1)) => language(&r.sub, looks),
            (0, Some(1)) => {
                let mut l = language(&r.sub, looks)?;
                l.push(Text::default());
                Some(l)
            }
            _ => None,
        },
        HirKind::Concat(cs) => {
            let mut acc = vec![Text::default()];
            for c in cs {
                acc = product(&acc, &language(c, looks)?)?;
            }
            Some(acc)
        }
        HirKind::Alternation(cs) => {
            let mut out = Vec::new();
            for c in cs {
                out.extend(language(c, looks)?);
                if out.len() > MAX_LITERALS {
                    return None;
                }
            }
            Some(out)
        }
    }
}

/// `a × b`: every string of `a` followed by every string of `b`.
fn product(a: &[Text], b: &[Text]) -> Option<Vec<Text>> {
    if a.len().saturating_mul(b.len()) > MAX_LITERALS {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut t = x.clone();
            t.bytes.extend_from_slice(&y.bytes);
            t.fold.extend_from_slice(&y.fold);
            if t.bytes.len() > MAX_EXACT_LEN {
                return None;
            }
            out.push(t);
        }
    }
    Some(out)
}

/// A set of lowercase strings one of which every match contains.
type Group = Vec<Vec<u8>>;

/// `texts` as a group: lowercased, cut to [`MAX_LITERAL_LEN`]; `None` when
/// one is empty.
fn group_of(texts: &[Text]) -> Option<Group> {
    if texts.iter().any(|t| t.bytes.is_empty()) {
        return None;
    }
    let mut g: Group = texts
        .iter()
        .map(|t| {
            let mut l = t.lower();
            l.truncate(MAX_LITERAL_LEN);
            l
        })
        .collect();
    g.sort();
    g.dedup();
    Some(g)
}

/// How selective a group is: longer shortest string first, then fewer
/// strings.
fn score(g: &Group) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = g.iter().map(Vec::len).min().unwrap_or(0);
    (shortest.min(16), std::cmp::Reverse(g.len()))
}

/// Groups every match of `h` has a string of (each group on its own): the
/// runs of a concatenation, its other parts' best group, an alternation's
/// union.
fn groups(h: &Hir) -> Vec<Group> {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Vec::new(),
        HirKind::Literal(_) | HirKind::Class(_) => language(h, true)
            .and_then(|l| group_of(&l))
            .into_iter()
            .collect(),
        HirKind::Capture(c) => groups(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => groups(&r.sub),
        HirKind::Repetition(_) => Vec::new(),
        HirKind::Alternation(cs) => {
            let mut out: Group = Vec::new();
            for c in cs {
                let Some(best) = best(groups(c)) else {
                    return Vec::new();
                };
                out.extend(best);
                if out.len() > MAX_LITERALS {
                    return Vec::new();
                }
            }
            out.sort();
            out.dedup();
            vec![out]
        }
        HirKind::Concat(cs) => {
            // Runs of parts whose languages are small give one string per
            // combination; any other part may give its own groups.
            let mut out = Vec::new();
            let mut run: Option<Vec<Text>> = None;
            for c in cs {
                match language(c, true) {
                    Some(l) => {
                        run = match run.take() {
                            None => Some(l),
                            Some(acc) => match product(&acc, &l) {
                                Some(p) => Some(p),
                                None => {
                                    out.extend(group_of(&acc));
                                    Some(l)
                                }
                            },
                        };
                    }
                    None => {
                        if let Some(acc) = run.take() {
                            out.extend(group_of(&acc));
                        }
                        out.extend(best(groups(c)));
                    }
                }
            }
            if let Some(acc) = run {
                out.extend(group_of(&acc));
            }
            out
        }
    }
}

fn best(mut gs: Vec<Group>) -> Option<Group> {
    gs.sort_by_key(|g| std::cmp::Reverse(score(g)));
    gs.into_iter().next()
}

/// How a rule is found in a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// The regex is one of a few strings (`^550 5\.1\.1 user unknown`,
    /// `(?i)no such user`), anchored as said: finding one is a match.
    Exact {
        start: bool,
        end: bool,
        /// The strings: bytes (letters matching either case lowercase) and
        /// which bytes match either case.
        texts: Vec<(Vec<u8>, Vec<bool>)>,
    },
    /// A DFA decides, run only when a string of every group was found
    /// (always, when there is no group).
    Dfa { groups: Vec<Vec<Vec<u8>>> },
    /// Literal pieces with `.*` or `.+` between them decide, looked for
    /// only when a string of every group was found (always, when there is
    /// no group).
    Pieces {
        pieces: Pieces,
        groups: Vec<Vec<Vec<u8>>>,
    },
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
        dfa: Box<dense::DFA<Vec<u32>>>,
    },
    Pieces {
        groups: Vec<Vec<Vec<u8>>>,
        pieces: Box<Pieces>,
    },
}

/// How to find `rule` in a reply: exact strings when its regex is a few
/// strings, else up to [`MAX_GROUPS`] literal groups for its pieces when it
/// is literal pieces with `.*` or `.+` between them, or for its DFA.
pub fn plan(rule: &crate::core::model::Rule) -> Plan {
    let Some(h) = hir(rule) else {
        return Plan::Dfa { groups: Vec::new() };
    };
    if let Some(p) = exact_plan(&h) {
        return p;
    }
    let mut gs: Vec<Group> = groups(&h)
        .into_iter()
        .filter(|g| g.iter().all(|l| l.len() >= 2))
        .collect();
    gs.sort_by_key(|g| std::cmp::Reverse(score(g)));
    gs.dedup();
    gs.truncate(MAX_GROUPS);
    match pieces_plan(&h) {
        // Looking for the pieces costs about what keeping track of a
        // second group would: the most selective group alone decides when
        // to look.
        Some(pieces) => {
            gs.truncate(1);
            Plan::Pieces { pieces, groups: gs }
        }
        None => Plan::Dfa { groups: gs },
    }
}

/// True when `h` is `.*` or `.+` (lazy or not): any bytes but a newline,
/// at least `min` of them.
fn dot_gap(h: &Hir) -> Option<u8> {
    let HirKind::Repetition(r) = h.kind() else {
        return None;
    };
    let any_but_newline = match r.sub.kind() {
        HirKind::Class(Class::Bytes(c)) => c
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .eq([(0, 9), (11, 255)]),
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .eq([(0, 9), (11, 0x10FFFF)]),
        _ => false,
    };
    (any_but_newline && r.max.is_none() && r.min <= 1).then(|| u8::try_from(r.min).unwrap_or(1))
}

/// The pieces of a regex that is one string, then `.*` or `.+` and another
/// string, and so on (two strings at least), perhaps anchored.
fn pieces_plan(h: &Hir) -> Option<Pieces> {
    let (start, inner, end) = anchors(h);
    let mut pieces = Vec::new();
    let mut text: Option<Text> = None;
    let mut gap = 0;
    let piece = |t: Text, gap: u8| Piece {
        mask: t
            .bytes
            .iter()
            .zip(&t.fold)
            .map(|(b, &f)| if f && b.is_ascii_lowercase() { 0x20 } else { 0 })
            .collect(),
        text: t.bytes,
        gap,
    };
    for p in inner {
        if let Some(min) = dot_gap(p) {
            pieces.push(piece(text.take()?, gap));
            gap = min;
            continue;
        }
        let mut l = language(p, false)?;
        let one = match (l.pop(), l.is_empty()) {
            (Some(t), true) => t,
            _ => return None,
        };
        text = Some(match text.take() {
            None => one,
            Some(acc) => product(&[acc], &[one])?.pop()?,
        });
    }
    pieces.push(piece(text?, gap));
    let pieces = Pieces { start, end, pieces };
    pieces.validate().ok()?;
    Some(pieces)
}

/// The parts of a regex between its anchors: whether it starts with `^`,
/// the parts, whether it ends with `$`.
fn anchors(h: &Hir) -> (bool, &[Hir], bool) {
    use regex_syntax::hir::Look;
    let parts: &[Hir] = match h.kind() {
        HirKind::Concat(cs) => cs,
        _ => std::slice::from_ref(h),
    };
    let start = parts
        .first()
        .is_some_and(|p| matches!(p.kind(), HirKind::Look(Look::Start)));
    let end = parts.len() > usize::from(start)
        && parts
            .last()
            .is_some_and(|p| matches!(p.kind(), HirKind::Look(Look::End)));
    let inner = &parts[usize::from(start)..parts.len() - usize::from(end)];
    (start, inner, end)
}

fn exact_plan(h: &Hir) -> Option<Plan> {
    let (start, inner, end) = anchors(h);
    let mut acc = vec![Text::default()];
    for p in inner {
        acc = product(&acc, &language(p, false)?)?;
    }
    if acc.iter().any(|t| t.bytes.len() < 2) {
        return None;
    }
    acc.sort();
    acc.dedup();
    Some(Plan::Exact {
        start,
        end,
        texts: acc.into_iter().map(|t| (t.bytes, t.fold)).collect(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::load::Parsed;

    fn plans(src: &str) -> Vec<Plan> {
        let mut parsed = Parsed::default();
        parsed.add_text("t.rules", src);
        let rules = crate::check::check(&parsed).rules.expect("checked");
        rules.rules.iter().map(plan).collect()
    }

    fn texts(p: &Plan) -> Vec<(String, String)> {
        match p {
            Plan::Exact { texts, .. } => texts
                .iter()
                .map(|(t, f)| {
                    (
                        String::from_utf8_lossy(t).into_owned(),
                        f.iter().map(|&b| if b { 'i' } else { '.' }).collect(),
                    )
                })
                .collect(),
            Plan::Dfa { .. } | Plan::Pieces { .. } => Vec::new(),
        }
    }

    fn groups_of(p: &Plan) -> Vec<Vec<String>> {
        match p {
            Plan::Dfa { groups } | Plan::Pieces { groups, .. } => groups
                .iter()
                .map(|g| {
                    g.iter()
                        .map(|l| String::from_utf8_lossy(l).into_owned())
                        .collect()
                })
                .collect(),
            Plan::Exact { .. } => Vec::new(),
        }
    }

    #[test]
    fn literal_regexes_are_exact_with_their_anchors_and_case() {
        let p = plans(
            r#"global {
                /^550 5\.1\.1 User unknown$/ -> 5.1.1
                /no such user/i -> 5.1.1
                /^550 (?:No|Bad) mailbox/ -> 5.1.1
            }"#,
        );
        assert!(matches!(
            p[0],
            Plan::Exact {
                start: true,
                end: true,
                ..
            }
        ));
        assert_eq!(
            texts(&p[0]),
            vec![("550 5.1.1 User unknown".into(), ".".repeat(22))]
        );
        assert!(matches!(
            p[1],
            Plan::Exact {
                start: false,
                end: false,
                ..
            }
        ));
        assert_eq!(
            texts(&p[1]),
            vec![("no such user".into(), "ii.iiii.iiii".into())]
        );
        assert_eq!(
            texts(&p[2]).into_iter().map(|(t, _)| t).collect::<Vec<_>>(),
            vec!["550 Bad mailbox", "550 No mailbox"]
        );
    }

    #[test]
    fn other_regexes_get_their_most_selective_required_groups() {
        let p = plans(
            r#"global {
                /^55[01].+mailbox unavailable/ -> 5.1.1
                /(?i)quota.*exceeded/ -> 5.2.2
                /^5\d\d 5\.\d\.\d <[^>]*>: Recipient address rejected: User unknown/ -> 5.1.1
                /^5\d\d/ -> 5.0.0
                /user\b/ -> 5.1.1
            }"#,
        );
        assert_eq!(
            groups_of(&p[0]),
            vec![
                vec!["mailbox unavailable".to_string()],
                vec!["550".to_string(), "551".to_string()]
            ]
        );
        // Found by its pieces: the most selective group alone.
        assert_eq!(groups_of(&p[1]), vec![vec!["exceeded".to_string()]]);
        assert_eq!(
            groups_of(&p[2])[0],
            vec![">: recipient address rejected: user unknown".to_string()]
        );
        assert_eq!(p[3], Plan::Dfa { groups: Vec::new() });
        assert_eq!(groups_of(&p[4]), vec![vec!["user".to_string()]]);
    }

    /// `^`, each piece as text, case mask (`i` where either case) and gap,
    /// `$`.
    type PiecesView = (bool, Vec<(String, String, u8)>, bool);

    fn pieces_of(p: &Plan) -> Option<PiecesView> {
        let Plan::Pieces { pieces, .. } = p else {
            return None;
        };
        let each = pieces
            .pieces
            .iter()
            .map(|p| {
                (
                    String::from_utf8_lossy(&p.text).into_owned(),
                    p.mask
                        .iter()
                        .map(|&m| if m == 0x20 { 'i' } else { '.' })
                        .collect(),
                    p.gap,
                )
            })
            .collect();
        Some((pieces.start, each, pieces.end))
    }

    #[test]
    fn literal_pieces_with_dots_between_are_pieces() {
        let p = plans(
            r#"global {
                /^550.+mailbox unavailable/ -> 5.1.1
                /(?i)Quota.*exceeded$/ -> 5.2.2
                /user .*? not .+ found/ -> 5.1.1
                /^550 (?:a|b).*c/ -> 5.1.1
                /(?s)quota.*exceeded/ -> 5.2.2
                /quota.{2,}exceeded/ -> 5.2.2
                /.*quota/ -> 5.2.2
            }"#,
        );
        assert_eq!(
            pieces_of(&p[0]),
            Some((
                true,
                vec![
                    ("550".into(), "...".into(), 0),
                    ("mailbox unavailable".into(), ".".repeat(19), 1)
                ],
                false
            ))
        );
        assert_eq!(
            groups_of(&p[0]),
            vec![vec!["mailbox unavailable".to_string()]]
        );
        assert_eq!(
            pieces_of(&p[1]),
            Some((
                false,
                vec![
                    ("quota".into(), "iiiii".into(), 0),
                    ("exceeded".into(), "iiiiiiii".into(), 0)
                ],
                true
            ))
        );
        assert_eq!(
            pieces_of(&p[2]).map(|(_, each, _)| each),
            Some(vec![
                ("user ".into(), ".....".into(), 0),
                (" not ".into(), ".....".into(), 0),
                (" found".into(), "......".into(), 1)
            ])
        );
        // An alternation, `(?s)`, a counted repetition or a leading `.*`
        // leave the rule to its DFA.
        for (i, plan) in p.iter().enumerate().skip(3) {
            assert!(matches!(plan, Plan::Dfa { .. }), "rule {i}: {plan:?}");
        }
    }

    #[test]
    fn pieces_match_as_the_regex_does() {
        let p = plans(
            r#"global {
                /^550.+user unknown/ -> 5.1.1
                /(?i)quota.*exceeded$/ -> 5.2.2
                /ab.*cd.+ef/ -> 5.1.1
            }"#,
        );
        let pieces = |i: usize| match &p[i] {
            Plan::Pieces { pieces, .. } => pieces.clone(),
            other => panic!("rule {i} is not pieces: {other:?}"),
        };
        let (code, quota, three) = (pieces(0), pieces(1), pieces(2));
        for (hay, want) in [
            ("550 user unknown", true),
            ("550user unknown", false),
            ("550 5.1.1 user unknown here", true),
            (" 550 user unknown", false),
            ("550 x\nuser unknown", false),
            ("550 User unknown", false),
        ] {
            assert_eq!(code.matches(hay.as_bytes()), want, "{hay:?}");
        }
        for (hay, want) in [
            ("QUOTA was EXCEEDED", true),
            ("quota exceeded.", false),
            ("quota\nexceeded", false),
            ("exceeded quota exceeded", true),
            ("x\nquota exceeded", true),
        ] {
            assert_eq!(quota.matches(hay.as_bytes()), want, "{hay:?}");
        }
        for (hay, want) in [
            ("abcdxef", true),
            ("abcdef", false),
            ("ab cd ef", true),
            // The first `ab` cannot be used (a newline follows), the second can.
            ("ab\nab cd ef", true),
            ("cd ef ab", false),
            ("ab cdef cd ef", true),
        ] {
            assert_eq!(three.matches(hay.as_bytes()), want, "{hay:?}");
        }
    }
}
