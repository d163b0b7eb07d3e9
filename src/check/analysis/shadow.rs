//! W005 shadowed rule: every reply a rule matches, under every condition it
//! accepts, is matched by earlier rules of its scope that accept that
//! condition, so the rule can never fire.
//!
//! Decided by language inclusion: a walk of the product of the rule's DFA
//! and the DFA of the union of the earlier rules that meet it, looking for a
//! reply the first matches and the second never does. Cheap answers come
//! first: a shortest reply of the rule that no earlier rule matches proves
//! it is not shadowed, and one earlier rule that covers it alone needs no
//! union. A union of more than [`MAX_UNION`] rules, or a product over the
//! budget, is I002 undecided.

use std::collections::HashSet;

use crate::compile::pattern;
use crate::core::model::{Rule, RuleId};

use super::automata::{Goal, Graph, Walk, build, walk};
use super::conditions::Cond;
use super::overlap::Overlaps;
use super::{Context, Finding};

/// The most earlier rules a shadowing question combines into one DFA; more
/// is reported as undecided rather than risking a blow-up.
const MAX_UNION: usize = 16;

/// What the pass found in one scope.
pub(super) struct Shadowing {
    /// Shadowed and undecided rules, in the scope's order.
    pub(super) findings: Vec<Finding>,
    /// The shadowed rules.
    pub(super) shadowed: HashSet<RuleId>,
}

/// How one rule's question came out.
enum Answer {
    Shadowed,
    NotShadowed,
    Undecided,
}

/// The shadowed rules among `ids` (the rules of one scope in order), from
/// the earlier rules that meet each.
pub(super) fn find(
    cx: &Context<'_>,
    ids: &[RuleId],
    reps: &[Cond],
    overlaps: &Overlaps,
) -> Shadowing {
    let mut out = Shadowing {
        findings: Vec::new(),
        shadowed: HashSet::new(),
    };
    for &rk in ids {
        let Some(cover) = overlaps.meeting.get(&rk) else {
            continue;
        };
        let Some((rule_k, dk)) = cx.rule_and_graph(rk) else {
            continue;
        };
        match answer(cx, rule_k, dk, cover, reps) {
            Answer::NotShadowed => {}
            Answer::Undecided => {
                let already = overlaps
                    .undecided
                    .iter()
                    .any(|f| matches!(f, Finding::Undecided { rule, .. } if *rule == rk));
                // An overlap already reported undecided: one note per rule.
                if !already {
                    out.findings.push(Finding::Undecided {
                        rule: rk,
                        other: None,
                        question: "shadowing",
                    });
                }
            }
            Answer::Shadowed => {
                out.shadowed.insert(rk);
                let mut covering = cover.clone();
                covering.sort_unstable();
                covering.dedup();
                out.findings.push(Finding::Shadowed { rule: rk, covering });
            }
        }
    }
    out
}

/// Whether the earlier rules `cover` match every reply of `rule` (whose
/// graph is `dk`) under each condition of `reps` the rule accepts.
fn answer(cx: &Context<'_>, rule: &Rule, dk: &Graph, cover: &[RuleId], reps: &[Cond]) -> Answer {
    let budget = cx.opts.state_budget;
    // A shortest reply of the rule: when no earlier rule matches it, the
    // rule is not shadowed, and no union needs to be built.
    let shortest = match walk(dk, &Graph::never(), Goal::FirstOnly, budget) {
        Walk::Found(w) => Some(w),
        _ => None,
    };
    for s in reps.iter().copied().filter(|s| rule.accepts(s.0, s.1)) {
        let earlier_ids: Vec<RuleId> = cover
            .iter()
            .copied()
            .filter(|&ri| cx.rules.rules.get(ri).is_some_and(|r| r.accepts(s.0, s.1)))
            .collect();
        let matches_shortest = |ri: RuleId| match (&shortest, cx.graph(ri)) {
            (Some(w), Some(g)) => g.accepts(w),
            _ => true,
        };
        if !earlier_ids.iter().any(|&ri| matches_shortest(ri)) {
            return Answer::NotShadowed;
        }
        // Covered by one earlier rule alone?
        let single = earlier_ids.iter().any(|&ri| {
            cx.graph(ri)
                .is_some_and(|g| matches!(walk(dk, g, Goal::FirstOnly, budget), Walk::None))
        });
        if single {
            continue;
        }
        if earlier_ids.len() > MAX_UNION {
            return Answer::Undecided;
        }
        let earlier: Vec<String> = earlier_ids
            .iter()
            .filter_map(|&ri| cx.rules.rules.get(ri))
            .map(pattern)
            .collect();
        let Some(union) =
            build(&earlier, cx.dfa_size_limit()).and_then(|d| Graph::new(&d, cx.max_states))
        else {
            return Answer::Undecided;
        };
        match walk(dk, &union, Goal::FirstOnly, budget) {
            Walk::None => {}
            Walk::Found(_) => return Answer::NotShadowed,
            Walk::TooBig => return Answer::Undecided,
        }
    }
    Answer::Shadowed
}
