//! Pairs of rules of one scope: which earlier rules meet a rule (match a
//! common reply under a common condition), and which of those meetings are
//! W006 conflicting overlaps (different status or verdict).
//!
//! The walk of the product of two rules' DFAs finds the shortest common
//! reply; the earlier rule wins it. An earlier rule under an `initial` or
//! `reported` condition before a later rule with none is an exception
//! written on purpose (a specific arm before the general one) and is not a
//! conflict. A pair too big to walk is I002 undecided, and counts as
//! meeting, so that shadowing stays sound.

use std::collections::HashMap;

use crate::core::model::RuleId;

use super::automata::{Goal, Walk, walk};
use super::conditions::{Cond, common, is_exception, prefixes_disjoint};
use super::dead::Singles;
use super::{Context, Finding};

/// What the pass found in one scope.
pub(super) struct Overlaps {
    /// Per rule, the earlier rules that meet it (or may: undecided), in
    /// order.
    pub(super) meeting: HashMap<RuleId, Vec<RuleId>>,
    /// Conflicting overlaps, held back until shadowing is known: a
    /// shadowed rule's conflicts are not reported.
    pub(super) conflicts: Vec<Finding>,
    /// Pairs too big to compare.
    pub(super) undecided: Vec<Finding>,
    /// Pairs that share a condition.
    pub(super) pairs: usize,
    /// Of these, pairs told apart by their anchored prefixes alone.
    pub(super) pairs_skipped_by_prefix: usize,
}

/// Every pair of `ids` (the rules of one scope in order) but dead rules and
/// later duplicates, each later rule against each earlier one.
pub(super) fn find(cx: &Context<'_>, ids: &[RuleId], reps: &[Cond], singles: &Singles) -> Overlaps {
    let mut out = Overlaps {
        meeting: HashMap::new(),
        conflicts: Vec::new(),
        undecided: Vec::new(),
        pairs: 0,
        pairs_skipped_by_prefix: 0,
    };
    for (k, &rk) in ids.iter().enumerate() {
        if singles.dead.contains(&rk) || singles.duplicate.contains(&rk) {
            continue;
        }
        let Some((rule_k, dk)) = cx.rule_and_graph(rk) else {
            continue;
        };
        for &ri in &ids[..k] {
            if singles.dead.contains(&ri) {
                continue;
            }
            let Some((rule_i, di)) = cx.rule_and_graph(ri) else {
                continue;
            };
            let Some(initial) = common(reps, rule_i, rule_k) else {
                continue;
            };
            out.pairs += 1;
            if prefixes_disjoint(rule_i, rule_k) {
                out.pairs_skipped_by_prefix += 1;
                continue;
            }
            match walk(di, dk, Goal::Both, cx.opts.state_budget) {
                Walk::Found(witness) => {
                    out.meeting.entry(rk).or_default().push(ri);
                    let differ = rule_i.status != rule_k.status
                        || cx.rules.rule_verdict(rule_i) != cx.rules.rule_verdict(rule_k);
                    if differ && !is_exception(rule_i, rule_k) {
                        out.conflicts.push(Finding::Conflict {
                            winner: ri,
                            loser: rk,
                            witness,
                            initial,
                        });
                    }
                }
                Walk::None => {}
                Walk::TooBig => {
                    out.undecided.push(Finding::Undecided {
                        rule: rk,
                        other: Some(ri),
                        question: "overlap",
                    });
                    // Unknown overlap: count it as covering, so shadowing stays sound.
                    out.meeting.entry(rk).or_default().push(ri);
                }
            }
        }
    }
    out
}
