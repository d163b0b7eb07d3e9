//! Coverage: which rules decide no case.

use std::collections::HashSet;

use serde::Serialize;

use super::rule_index::RuleIndex;
use crate::core::model::{RuleId, RuleSet};
use crate::runtime::classify::RuleRef;

/// How many rules of one file decide some case, and which do not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileCoverage {
    /// The rules file.
    pub file: String,
    /// Its rules.
    pub rules: usize,
    /// Its rules that decide some case.
    pub covered: usize,
    /// Its rules that decide no case, in source order.
    pub uncovered: Vec<RuleRef>,
}

impl FileCoverage {
    /// The share of the file's rules covered, in percent (100 when it has
    /// no rules).
    pub fn percent(&self) -> f64 {
        percent(self.covered, self.rules)
    }
}

/// How many rules decide some case: a rule is covered when it is the
/// deciding rule of at least one case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Rules in the rule set.
    pub rules: usize,
    /// Rules that decide some case.
    pub covered: usize,
    /// Every file with rules, in the order of the rule set.
    pub files: Vec<FileCoverage>,
}

impl Coverage {
    /// The share of rules covered, in percent (100 when there are no rules).
    pub fn percent(&self) -> f64 {
        percent(self.covered, self.rules)
    }
}

/// `part` of `whole` in percent; 100 when `whole` is zero.
fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        100.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// The coverage of `rules` by cases decided by the rules named in `decided`
/// (`file:line`).
pub(super) fn coverage<'a>(
    rules: &RuleSet,
    decided: impl IntoIterator<Item = &'a str>,
) -> Coverage {
    let index = RuleIndex::new(rules);
    let covered: HashSet<RuleId> = decided.into_iter().filter_map(|r| index.id(r)).collect();
    let mut files: Vec<FileCoverage> = Vec::new();
    for rule in &rules.rules {
        let file = &rule.origin.file;
        let pos = match files.iter().position(|f| &f.file == file) {
            Some(p) => p,
            None => {
                files.push(FileCoverage {
                    file: file.clone(),
                    rules: 0,
                    covered: 0,
                    uncovered: Vec::new(),
                });
                files.len() - 1
            }
        };
        let Some(fc) = files.get_mut(pos) else {
            continue;
        };
        fc.rules += 1;
        if covered.contains(&rule.id) {
            fc.covered += 1;
        } else {
            fc.uncovered.push(RuleRef::in_scope(rules, rule));
        }
    }
    Coverage {
        rules: rules.rules.len(),
        covered: files.iter().map(|f| f.covered).sum(),
        files,
    }
}
