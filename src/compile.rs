//! Rule set to tables: one or more dense DFAs per scope, and the selector.
//!
//! A scope's rules are packed, in source order, into as few DFAs as fit
//! under a size cap ([`Options::dfa_size_limit`]): rules are added to the
//! current shard while the combined DFA stays under the cap (trying twice as
//! many each time, then backing off), and the next shard starts where the
//! last one stopped. Unanchored rules such as `(?i)a.*b` multiply the size of
//! a combined DFA, so `.*`-heavy scopes end up in several shards while
//! literal-prefix scopes fit in one. A rule too big for a DFA even alone gets
//! an error naming the cap: no rule can make compilation run out of memory.
//!
//! ```
//! use mxrules::load::Parsed;
//! let mut parsed = Parsed::default();
//! parsed.add_text("a.rules", r#"global { /^550 5\.1\.1 / -> 5.1.1 quarantine }"#);
//! let rules = mxrules::check::check(&parsed).rules.unwrap();
//! let (tables, stats) = mxrules::compile::compile(rules, &mxrules::compile::Options::default()).unwrap();
//! assert_eq!(stats.shards, 1);
//! assert_eq!(tables.scopes.len(), 1);
//! ```

use std::time::{Duration, Instant};

use regex_automata::MatchKind;
use regex_automata::dfa::dense;
use regex_automata::nfa::thompson;

use crate::diag::{Code, Diagnostic};
use crate::model::RuleId;
use crate::model::{RuleSet, ScopeKey, syntax_config};
use crate::tables::{CompiledScope, Prefilter, Selector, Shard, Tables};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind};

/// Compilation settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// The most bytes one DFA may take.
    pub dfa_size_limit: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            dfa_size_limit: 8 * 1024 * 1024,
        }
    }
}

/// Figures about one compilation, for `compile --stats`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Stats {
    pub rules: usize,
    pub scopes: usize,
    pub shards: usize,
    /// Bytes of all DFA tables.
    pub dfa_bytes: usize,
    /// The largest shard, in bytes.
    pub largest_shard_bytes: usize,
    /// Rules with a DFA of their own behind the literal prefilter.
    pub heavy_rules: usize,
    /// Rules per shard, scope by scope.
    pub shard_rules: Vec<(String, Vec<usize>)>,
    #[serde(serialize_with = "ser_ms")]
    pub elapsed: Duration,
    pub dfa_size_limit: usize,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// The pattern of a rule as the DFA sees it.
pub fn pattern(rule: &crate::model::Rule) -> String {
    if rule.case_insensitive {
        format!("(?i){}", rule.regex)
    } else {
        rule.regex.clone()
    }
}

/// Builds one multi-pattern DFA, refusing one whose finished size is over
/// the cap (the builder checks the cap while determinizing, and the final
/// table can come out slightly larger).
pub(crate) fn build(patterns: &[String], limit: usize) -> Result<dense::DFA<Vec<u32>>, String> {
    let dfa = dense::Builder::new()
        .configure(
            dense::DFA::config()
                .match_kind(MatchKind::All)
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
    let mut scopes = Vec::with_capacity(rules.scopes.len());
    for scope in &rules.scopes {
        let (mut light, mut heavy_ids) = (Vec::new(), Vec::new());
        for &r in &scope.rules {
            let Some(rule) = rules.rules.get(r) else {
                continue;
            };
            if is_heavy(rule) {
                heavy_ids.push(r);
            } else {
                light.push(r);
            }
        }
        let shards = pack(&rules, &light, opts, &mut diags);
        let mut heavy = Vec::new();
        let mut literals: Vec<(Vec<u8>, Vec<u32>)> = Vec::new();
        let mut always = Vec::new();
        for &r in &heavy_ids {
            let Some(rule) = rules.rules.get(r) else {
                continue;
            };
            match build(&[pattern(rule)], opts.dfa_size_limit) {
                Ok(dfa) => {
                    let index = u32::try_from(heavy.len()).unwrap_or(u32::MAX);
                    match required_literals(rule) {
                        Some(lits) => {
                            for lit in lits {
                                match literals.iter_mut().find(|(l, _)| *l == lit) {
                                    Some((_, owners)) => owners.push(index),
                                    None => literals.push((lit, vec![index])),
                                }
                            }
                        }
                        None => always.push(index),
                    }
                    heavy.push(Shard {
                        dfa,
                        rules: vec![r],
                    });
                }
                Err(e) => diags.push(too_big(rule, &e, opts.dfa_size_limit)),
            }
        }
        let prefilter = match Prefilter::new(literals, always) {
            Ok(p) => p,
            Err(e) => {
                if let Some(rule) = heavy_ids.first().and_then(|&r| rules.rules.get(r)) {
                    diags.push(Diagnostic::new(
                        Code::RuleTooBig,
                        format!("the literal prefilter of this scope cannot be built: {e}"),
                        rule.head,
                        "first heavy rule of the scope",
                    ));
                }
                Prefilter::default()
            }
        };
        for sh in shards.iter().chain(&heavy) {
            stats.largest_shard_bytes = stats.largest_shard_bytes.max(sh.dfa.memory_usage());
        }
        stats
            .shard_rules
            .push((scope.name(), shards.iter().map(|s| s.rules.len()).collect()));
        stats.heavy_rules += heavy.len();
        let compiled = CompiledScope {
            name: scope.name(),
            shards,
            heavy,
            prefilter,
        };
        stats.shards += compiled.shards.len();
        stats.dfa_bytes += compiled.memory_usage();
        scopes.push(compiled);
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let selector = selector(&rules);
    stats.elapsed = started.elapsed();
    Ok((
        Tables {
            rules,
            scopes,
            selector,
        },
        stats,
    ))
}

fn too_big(rule: &crate::model::Rule, e: &str, limit: usize) -> Diagnostic {
    Diagnostic::new(
        Code::RuleTooBig,
        format!("rule's regex does not fit in a DFA of {} bytes", limit),
        rule.head,
        "this rule",
    )
    .with_note(format!("the automaton builder said: {e}"))
    .with_help("anchor the regex, replace `.*` between words with a literal phrase, or raise `--dfa-size-limit`")
}

/// Packs light rules, in order, into as few DFAs as fit under the cap:
/// all of them at once when they fit, else runs grown by galloping.
fn pack(
    rules: &RuleSet,
    ids: &[RuleId],
    opts: &Options,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Shard> {
    let patterns: Vec<String> = ids
        .iter()
        .filter_map(|&r| rules.rules.get(r))
        .map(pattern)
        .collect();
    let mut shards = Vec::new();
    if patterns.is_empty() {
        return shards;
    }
    if let Ok(dfa) = build(&patterns, opts.dfa_size_limit) {
        shards.push(Shard {
            dfa,
            rules: ids.to_vec(),
        });
        return shards;
    }
    let mut i = 0;
    while i < patterns.len() {
        let single = match build(&patterns[i..i + 1], opts.dfa_size_limit) {
            Ok(d) => d,
            Err(e) => {
                if let Some(rule) = ids.get(i).and_then(|&r| rules.rules.get(r)) {
                    diags.push(too_big(rule, &e, opts.dfa_size_limit));
                }
                i += 1;
                continue;
            }
        };
        // Gallop: grow the shard while it fits, halving the step on failure.
        let (mut best, mut taken, mut step) = (single, 1usize, 1usize);
        while i + taken < patterns.len() {
            let want = (taken + step).min(patterns.len() - i);
            match build(&patterns[i..i + want], opts.dfa_size_limit) {
                Ok(d) => {
                    best = d;
                    taken = want;
                    step = step.saturating_mul(2);
                }
                Err(_) if step > 1 => step /= 2,
                Err(_) => break,
            }
        }
        shards.push(Shard {
            dfa: best,
            rules: ids[i..i + taken].to_vec(),
        });
        i += taken;
    }
    shards
}

/// The regex of a rule as regex-syntax reads it for analysis.
fn hir(rule: &crate::model::Rule) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .case_insensitive(rule.case_insensitive)
        .build()
        .parse(&rule.regex)
        .ok()
}

/// A rule is heavy when something it must remember (a code, a first word)
/// is followed by an unbounded run of almost any byte (`.*`, `.+`, `[^>]*`):
/// such rules multiply the states of a combined DFA.
pub fn is_heavy(rule: &crate::model::Rule) -> bool {
    hir(rule).is_some_and(|h| heavy(&h))
}

fn heavy(h: &Hir) -> bool {
    match h.kind() {
        HirKind::Concat(cs) => cs.iter().enumerate().any(|(i, c)| {
            heavy(c) || (i > 0 && cs[..i].iter().any(consumes) && broad_unbounded(c))
        }),
        HirKind::Alternation(cs) => cs.iter().any(heavy),
        HirKind::Capture(c) => heavy(&c.sub),
        HirKind::Repetition(r) => {
            heavy(&r.sub)
                || (r.max.is_none()
                    && !matches!(r.sub.kind(), HirKind::Class(_) | HirKind::Literal(_)))
        }
        _ => false,
    }
}

/// True when `h` matches at least one byte.
fn consumes(h: &Hir) -> bool {
    h.properties().minimum_len().is_some_and(|n| n > 0)
}

/// True when `h` holds an unbounded repetition of a class of 128 bytes or more.
fn broad_unbounded(h: &Hir) -> bool {
    match h.kind() {
        HirKind::Repetition(r) if r.max.is_none() => match r.sub.kind() {
            HirKind::Class(Class::Bytes(c)) => {
                c.ranges()
                    .iter()
                    .map(|r| usize::from(r.end() - r.start()) + 1)
                    .sum::<usize>()
                    >= 128
            }
            HirKind::Class(Class::Unicode(c)) => {
                c.ranges()
                    .iter()
                    .map(|r| r.end() as usize - r.start() as usize + 1)
                    .sum::<usize>()
                    >= 128
            }
            _ => broad_unbounded(&r.sub),
        },
        HirKind::Repetition(r) => broad_unbounded(&r.sub),
        HirKind::Concat(cs) | HirKind::Alternation(cs) => cs.iter().any(broad_unbounded),
        HirKind::Capture(c) => broad_unbounded(&c.sub),
        _ => false,
    }
}

/// Literals one of which every match of the rule contains (lowercased: the
/// prefilter ignores ASCII case), or `None` when there is no such set.
pub fn required_literals(rule: &crate::model::Rule) -> Option<Vec<Vec<u8>>> {
    let h = hir(rule)?;
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&h);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    let mut out: Vec<Vec<u8>> = lits
        .iter()
        .map(|l| l.as_bytes().to_ascii_lowercase())
        .collect();
    out.sort();
    out.dedup();
    Some(out)
}

/// Builds the scope selector from the scopes' keys.
pub fn selector(rules: &RuleSet) -> Selector {
    let mut sel = Selector::default();
    for (i, scope) in rules.scopes.iter().enumerate() {
        for key in &scope.keys {
            match key {
                ScopeKey::MxExact(h) => {
                    sel.exact.entry(h.clone()).or_insert(i);
                }
                ScopeKey::MxSuffix(s) => {
                    sel.suffix.entry(s.clone()).or_insert(i);
                }
                ScopeKey::RcptDomain(d) => {
                    sel.rcpt.entry(d.clone()).or_insert(i);
                }
                ScopeKey::Global => {
                    sel.global.get_or_insert(i);
                }
            }
        }
    }
    sel
}
