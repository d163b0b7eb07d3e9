//! I001 cross-scope override (reported when asked, `--explain-overrides`):
//! a rule of a specific scope and a global rule match a common reply under
//! a common condition with different verdicts; the specific rule wins.

use crate::core::model::{RuleId, ScopeKey};

use super::automata::{Goal, Walk, walk};
use super::conditions::{common, prefixes_disjoint, representatives};
use super::{Context, Finding};

/// Every pair of a specific rule and a global rule that override one
/// another; none when the rule set has no global scope.
pub(super) fn find(cx: &Context<'_>) -> Vec<Finding> {
    let rules = cx.rules;
    let mut out = Vec::new();
    let Some(global) = rules
        .scopes
        .iter()
        .find(|s| s.keys.contains(&ScopeKey::Global))
    else {
        return out;
    };
    let globals: &[RuleId] = &global.rules;
    for scope in rules
        .scopes
        .iter()
        .filter(|s| !s.keys.contains(&ScopeKey::Global))
    {
        for &rs in &scope.rules {
            let Some((rule_s, ds)) = cx.rule_and_graph(rs) else {
                continue;
            };
            for &rg in globals {
                let Some((rule_g, dg)) = cx.rule_and_graph(rg) else {
                    continue;
                };
                if rules.rule_verdict(rule_s) == rules.rule_verdict(rule_g) {
                    continue;
                }
                let reps = representatives(
                    &rule_s
                        .initial
                        .iter()
                        .chain(&rule_g.initial)
                        .collect::<Vec<_>>(),
                    &rule_s
                        .reported
                        .iter()
                        .chain(&rule_g.reported)
                        .copied()
                        .collect::<Vec<_>>(),
                );
                let Some(initial) = common(&reps, rule_s, rule_g) else {
                    continue;
                };
                if prefixes_disjoint(rule_s, rule_g) {
                    continue;
                }
                if let Walk::Found(witness) = walk(ds, dg, Goal::Both, cx.opts.state_budget) {
                    out.push(Finding::Override {
                        specific: rs,
                        global: rg,
                        witness,
                        initial,
                    });
                }
            }
        }
    }
    out
}
