//! Static analysis of a rule set, decided on the automata.
//!
//! Rules are regular languages over reply bytes ("the replies a rule matches
//! somewhere"), so questions about them are questions about DFAs. Each lint
//! is a pass of its own, returning its findings; [`analyse_with`] runs them
//! in this order:
//!
//! 1. Per scope, its rules in order:
//!    - `dead`: **dead regex** (W008), the regex matches no reply at all;
//!      **duplicate rule** (W007), the same regex, flags and condition as an
//!      earlier rule of the scope; and I002 for a rule whose automaton
//!      cannot be built.
//!    - `overlap`: which earlier rules meet each rule, and the
//!      **conflicting overlaps** (W006) among them: two rules accepting a
//!      common condition match a common reply with different outcomes
//!      (status or verdict); the walk of the product of their DFAs finds the
//!      shortest such reply, which the earlier rule wins. An earlier rule
//!      under an `initial` or `reported` condition before a later rule with
//!      none is an exception written on purpose and is not reported.
//!    - `shadow`: **shadowed rule** (W005), every reply the rule matches,
//!      under every condition it accepts, is matched by earlier rules of its
//!      scope that accept that condition (language inclusion, decided on the
//!      product of the rule's DFA and the DFA of the union of the earlier
//!      rules). The conflicts of a shadowed rule are dropped: it never fires.
//! 2. `examples`: **example taken** (W009), an example that the compiled
//!    rules classify by another rule than its own, because an earlier rule
//!    (or a more specific scope) takes it. Needs the compiled classifier.
//! 3. `overrides`, when [`Options::explain_overrides`] is set:
//!    **cross-scope override** (I001), a rule of a specific scope and a
//!    global rule match a common reply with different verdicts; the
//!    specific rule wins.
//!
//! The findings are data ([`Finding`]); their diagnostics come sorted by
//! position. Initial conditions are decided exactly: the statuses are split
//! into the finitely many classes that the patterns of a scope can tell
//! apart, and each class is checked. A product too large to walk within the
//! state budget is reported as undecided (I002) instead of guessed.
//!
//! ```
//! use mxrules::syntax::load::Parsed;
//! let mut parsed = Parsed::default();
//! parsed.add_text("a.rules", r#"global {
//!     /user unknown/ -> 5.1.1 quarantine
//!     /^550 user unknown/ -> 5.1.1 quarantine
//! }"#);
//! let rules = mxrules::check::check(&parsed).rules.unwrap();
//! let report = mxrules::check::analysis::analyse(&rules, &Default::default());
//! assert_eq!(report.diagnostics[0].code.as_str(), "W005");
//! ```

use std::time::{Duration, Instant};

use crate::core::model::{Rule, RuleId, RuleSet};
use crate::diag::Diagnostic;
use crate::runtime::classify::Classifier;

mod automata;
mod conditions;
mod dead;
mod diagnostics;
mod examples;
mod overlap;
mod overrides;
mod shadow;

use automata::Graph;
pub use conditions::Cond;
pub use diagnostics::show_witness;

/// Analysis settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// The most product states one question may visit before it is
    /// reported as undecided.
    pub state_budget: usize,
    /// The most bytes one DFA built for analysis may take.
    pub dfa_size_limit: usize,
    /// Also report cross-scope overrides (I001).
    pub explain_overrides: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            state_budget: 200_000,
            dfa_size_limit: 4 * 1024 * 1024,
            explain_overrides: false,
        }
    }
}

/// What analysis found, as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// W005: earlier rules of its scope match every reply `rule` matches.
    Shadowed {
        /// The rule that never fires.
        rule: RuleId,
        /// The earlier rules that meet it, in order.
        covering: Vec<RuleId>,
    },
    /// W006: two rules match a common reply with different outcomes.
    Conflict {
        /// The earlier rule, which decides the common replies.
        winner: RuleId,
        /// The later rule.
        loser: RuleId,
        /// A shortest common reply.
        witness: Vec<u8>,
        /// A condition under which both rules apply.
        initial: Cond,
    },
    /// W007: the same regex and condition as an earlier rule.
    Duplicate {
        /// The later rule.
        rule: RuleId,
        /// The earlier rule it repeats.
        first: RuleId,
    },
    /// W008: the regex matches no reply.
    Dead {
        /// The dead rule.
        rule: RuleId,
    },
    /// W009: an example the rule set classifies by another rule.
    ExampleTaken {
        /// The example's rule.
        rule: RuleId,
        /// Index of the example in the rule's examples.
        example: usize,
        /// The rule that classifies it, `None` when no rule does.
        taken_by: Option<RuleId>,
    },
    /// I001: a specific rule decides a reply a global rule would have
    /// decided otherwise.
    Override {
        /// The rule of the specific scope.
        specific: RuleId,
        /// The global rule.
        global: RuleId,
        /// A shortest reply both match.
        witness: Vec<u8>,
        /// A condition under which both rules apply.
        initial: Cond,
    },
    /// I002: a question too big to decide within the limits.
    Undecided {
        /// The rule asked about.
        rule: RuleId,
        /// The rule it was compared with, for a pair.
        other: Option<RuleId>,
        /// The question: `analysis`, `overlap` or `shadowing`.
        question: &'static str,
    },
}

/// Figures about one analysis run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Stats {
    /// Rules analysed.
    pub rules: usize,
    /// Pairs of rules of one scope that share a condition.
    pub pairs: usize,
    /// Of these, pairs told apart by their anchored prefixes alone.
    pub pairs_skipped_by_prefix: usize,
    /// Questions left undecided (I002 findings).
    pub undecided: usize,
    /// How long the analysis took (milliseconds in JSON).
    #[serde(serialize_with = "crate::core::text::ser_ms")]
    pub elapsed: Duration,
}

impl Stats {
    /// One line for people: rules, pairs compared, undecided, time.
    pub fn summary(&self) -> String {
        format!(
            "{} rules, {} rule pairs compared ({} told apart by their prefixes), {} undecided, {:.1} ms",
            self.rules,
            self.pairs,
            self.pairs_skipped_by_prefix,
            self.undecided,
            self.elapsed.as_secs_f64() * 1000.0
        )
    }
}

/// The findings of one run and their diagnostics.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Per scope its dead, duplicate, overlap-undecided, shadowed and
    /// conflict findings; then the examples taken; then the overrides.
    pub findings: Vec<Finding>,
    /// The diagnostic of each finding, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    /// Figures about the run.
    pub stats: Stats,
}

/// What every pass reads: the rules, the settings, and each rule's
/// automaton.
struct Context<'a> {
    rules: &'a RuleSet,
    opts: &'a Options,
    /// Each rule's DFA as a graph, by rule id; `None` when it does not fit
    /// the limits.
    graphs: Vec<Option<Graph>>,
    /// The most states one graph may have.
    max_states: usize,
}

impl<'a> Context<'a> {
    fn new(rules: &'a RuleSet, opts: &'a Options) -> Context<'a> {
        let max_states = opts.state_budget.max(100_000);
        let graphs = rules
            .rules
            .iter()
            .map(|r| automata::rule_graph(r, opts.dfa_size_limit, max_states))
            .collect();
        Context {
            rules,
            opts,
            graphs,
            max_states,
        }
    }

    fn dfa_size_limit(&self) -> usize {
        self.opts.dfa_size_limit
    }

    /// The graph of a rule, when it was built.
    fn graph(&self, id: RuleId) -> Option<&Graph> {
        self.graphs.get(id).and_then(Option::as_ref)
    }

    /// A rule and its graph, when both exist.
    fn rule_and_graph(&self, id: RuleId) -> Option<(&'a Rule, &Graph)> {
        Some((self.rules.rules.get(id)?, self.graph(id)?))
    }
}

/// Analyses a checked rule set, compiling it first when a rule has
/// examples (to check where they land).
pub fn analyse(rules: &RuleSet, opts: &Options) -> Report {
    // Only examples need the whole rule set compiled.
    let classifier = if rules.rules.iter().any(|r| !r.examples.is_empty()) {
        crate::compile::classifier(rules.clone()).ok()
    } else {
        None
    };
    analyse_with(rules, opts, classifier.as_ref())
}

/// Analyses a checked rule set, with the classifier already compiled from
/// it (used to check where examples land; `None` skips that check).
pub fn analyse_with(rules: &RuleSet, opts: &Options, classifier: Option<&Classifier>) -> Report {
    let started = Instant::now();
    let cx = Context::new(rules, opts);
    let mut stats = Stats {
        rules: rules.rules.len(),
        ..Stats::default()
    };
    let mut findings = Vec::new();
    for scope in &rules.scopes {
        findings.extend(scope_lints(&cx, &scope.rules, &mut stats));
    }
    if let Some(classifier) = classifier {
        findings.extend(examples::find(rules, classifier));
    }
    if opts.explain_overrides {
        findings.extend(overrides::find(&cx));
    }
    stats.undecided = findings
        .iter()
        .filter(|f| matches!(f, Finding::Undecided { .. }))
        .count();
    let mut diagnostics: Vec<Diagnostic> = findings
        .iter()
        .filter_map(|f| diagnostics::diagnostic(rules, f))
        .collect();
    crate::diag::sort(&mut diagnostics);
    stats.elapsed = started.elapsed();
    Report {
        findings,
        diagnostics,
        stats,
    }
}

/// The lints within one scope (`ids`, its rules in order): dead and
/// duplicate rules, overlaps, shadowing, then the conflicts of the rules
/// that are not shadowed.
fn scope_lints(cx: &Context<'_>, ids: &[RuleId], stats: &mut Stats) -> Vec<Finding> {
    let reps = conditions::of_scope(cx.rules, ids);
    let singles = dead::find(cx, ids);
    let overlaps = overlap::find(cx, ids, &reps, &singles);
    stats.pairs += overlaps.pairs;
    stats.pairs_skipped_by_prefix += overlaps.pairs_skipped_by_prefix;
    let shadowing = shadow::find(cx, ids, &reps, &overlaps);
    let mut out = singles.findings;
    out.extend(overlaps.undecided);
    out.extend(shadowing.findings);
    out.extend(overlaps.conflicts.into_iter().filter(
        |c| !matches!(c, Finding::Conflict { loser, .. } if shadowing.shadowed.contains(loser)),
    ));
    out
}
