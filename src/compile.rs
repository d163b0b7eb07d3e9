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
use crate::model::{RuleSet, ScopeKey, syntax_config};
use crate::tables::{CompiledScope, Selector, Shard, Tables};

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

fn build(
    patterns: &[String],
    limit: usize,
) -> Result<dense::DFA<Vec<u32>>, Box<dense::BuildError>> {
    dense::Builder::new()
        .configure(
            dense::DFA::config()
                .match_kind(MatchKind::All)
                .dfa_size_limit(Some(limit))
                .determinize_size_limit(Some(limit.saturating_mul(2))),
        )
        .syntax(syntax_config(false))
        .thompson(thompson::Config::new().nfa_size_limit(Some(limit)))
        .build_many(patterns)
        .map_err(Box::new)
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
        let patterns: Vec<String> = scope
            .rules
            .iter()
            .filter_map(|&r| rules.rules.get(r))
            .map(pattern)
            .collect();
        let mut shards = Vec::new();
        let mut i = 0;
        while i < patterns.len() {
            let single = match build(&patterns[i..i + 1], opts.dfa_size_limit) {
                Ok(d) => d,
                Err(e) => {
                    if let Some(rule) = scope.rules.get(i).and_then(|&r| rules.rules.get(r)) {
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
            stats.largest_shard_bytes = stats.largest_shard_bytes.max(best.memory_usage());
            shards.push(Shard {
                dfa: best,
                rules: scope.rules[i..i + taken].to_vec(),
            });
            i += taken;
        }
        stats
            .shard_rules
            .push((scope.name(), shards.iter().map(|s| s.rules.len()).collect()));
        let compiled = CompiledScope {
            name: scope.name(),
            shards,
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

fn too_big(rule: &crate::model::Rule, e: &dense::BuildError, limit: usize) -> Diagnostic {
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
