//! Rules judged alone, in their scope's order: a regex that matches no
//! reply at all (W008 dead regex), a rule that repeats an earlier rule of
//! its scope (W007 duplicate rule), and a rule whose automaton cannot be
//! built within the limits (I002 undecided).

use std::collections::HashSet;

use crate::core::model::RuleId;

use super::automata::matches_something;
use super::{Context, Finding};

/// What the pass found in one scope.
pub(super) struct Singles {
    /// Dead, duplicate and undecided rules, in the scope's order.
    pub(super) findings: Vec<Finding>,
    /// The dead rules: no later pass looks at them.
    pub(super) dead: HashSet<RuleId>,
    /// The duplicates: not compared with earlier rules again.
    pub(super) duplicate: HashSet<RuleId>,
}

/// Dead, duplicate and unbuildable rules among `ids`, the rules of one
/// scope in order.
pub(super) fn find(cx: &Context<'_>, ids: &[RuleId]) -> Singles {
    let mut out = Singles {
        findings: Vec::new(),
        dead: HashSet::new(),
        duplicate: HashSet::new(),
    };
    for (k, &rk) in ids.iter().enumerate() {
        let Some(rule) = cx.rules.rules.get(rk) else {
            continue;
        };
        let Some(graph) = cx.graph(rk) else {
            out.findings.push(Finding::Undecided {
                rule: rk,
                other: None,
                question: "analysis",
            });
            continue;
        };
        if !matches_something(graph) {
            out.dead.insert(rk);
            out.findings.push(Finding::Dead { rule: rk });
            continue;
        }
        let same = ids[..k].iter().copied().find(|&ri| {
            cx.rules.rules.get(ri).is_some_and(|o| {
                o.regex == rule.regex
                    && o.case_insensitive == rule.case_insensitive
                    && o.initial == rule.initial
            })
        });
        if let Some(first) = same {
            out.duplicate.insert(rk);
            out.findings.push(Finding::Duplicate { rule: rk, first });
        }
    }
    out
}
