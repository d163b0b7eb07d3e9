//! W009 example taken: an example that the whole rule set classifies by
//! another rule than its own, because an earlier rule (or a more specific
//! scope) takes it. Decided by classifying the example, as a bounce in the
//! rule's scope, with the compiled rules.

use crate::core::bounce::Bounce;
use crate::core::model::{Rule, RuleSet, Scope, ScopeKey};
use crate::runtime::classify::Classifier;

use super::Finding;

/// Every example of every rule that `classifier` (compiled from `rules`)
/// gives to another rule, or to none.
pub(super) fn find(rules: &RuleSet, classifier: &Classifier) -> Vec<Finding> {
    let mut out = Vec::new();
    for rule in &rules.rules {
        let Some(scope) = rules.scopes.get(rule.scope) else {
            continue;
        };
        let own = rule.location();
        for (i, ex) in rule.examples.iter().enumerate() {
            let got = classifier.classify(&bounce_for(rule, scope, ex));
            if got.rule.as_deref() != Some(own.as_str()) {
                let taken_by = rules
                    .rules
                    .iter()
                    .find(|r| got.rule.as_deref() == Some(r.location().as_str()))
                    .map(|r| r.id);
                out.push(Finding::ExampleTaken {
                    rule: rule.id,
                    example: i,
                    taken_by,
                });
            }
        }
    }
    out
}

/// The example `reply` as a bounce the rule's scope (by its first key) and
/// its `reported` condition (by its first category) apply to.
fn bounce_for(rule: &Rule, scope: &Scope, reply: &str) -> Bounce {
    let mut b = Bounce::new(reply);
    match scope.keys.first() {
        Some(ScopeKey::MxExact(h)) | Some(ScopeKey::MxSuffix(h)) => b.mx = Some(h.clone()),
        Some(ScopeKey::RcptDomain(d)) => b.rcpt = Some(format!("postmaster@{d}")),
        _ => {}
    }
    b.reported_category = rule.reported.first().copied();
    b
}
