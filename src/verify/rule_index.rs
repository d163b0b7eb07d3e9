//! Rules found by the `file:line` names classifications give.

use std::collections::HashMap;

use crate::core::model::{RuleId, RuleSet};
use crate::runtime::classify::RuleRef;

/// Finds rules by their `file:line` name.
#[derive(Debug)]
pub(crate) struct RuleIndex<'a> {
    rules: &'a RuleSet,
    by_location: HashMap<String, RuleId>,
}

impl<'a> RuleIndex<'a> {
    pub(crate) fn new(rules: &'a RuleSet) -> RuleIndex<'a> {
        let mut by_location = HashMap::new();
        for r in &rules.rules {
            by_location.entry(r.location()).or_insert(r.id);
        }
        RuleIndex { rules, by_location }
    }

    /// The id of the rule named `location`.
    pub(crate) fn id(&self, location: &str) -> Option<RuleId> {
        self.by_location.get(location).copied()
    }

    /// The rule named `location`, as reports show it (with its scope).
    pub(crate) fn rule(&self, location: &str) -> Option<RuleRef> {
        let rule = self.rules.rules.get(self.id(location)?)?;
        Some(RuleRef::in_scope(self.rules, rule))
    }
}
