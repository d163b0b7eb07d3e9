//! Running a corpus: every case classified and compared with its
//! expectations.

use std::fmt;

use serde::Serialize;

use super::corpus::{Case, CorpusFile};
use crate::runtime::classify::Classification;
use crate::runtime::engine::Engine;

/// An expectation a case states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// `status:`, the status after classification.
    Status,
    /// `verdict:`.
    Verdict,
    /// `rule:`, the deciding rule.
    Rule,
    /// `unmatched:`, no rule matches.
    Unmatched,
}

impl Field {
    /// The key as a corpus writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Status => "status",
            Field::Verdict => "verdict",
            Field::Rule => "rule",
            Field::Unmatched => "unmatched",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One case classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The index of the case in its file.
    pub index: usize,
    /// The 1-based line of the case, when known.
    pub line: Option<usize>,
    /// What the rules make of the case's bounce.
    pub got: Classification,
    /// The expectations that do not hold, in the order status, verdict,
    /// rule, unmatched; empty when the case passes.
    pub mismatches: Vec<Field>,
}

impl Outcome {
    /// True when every expectation holds.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// True when the deciding rule `got` is the rule `want` names. Rule names
/// are `file:line`; the file may be written relative to any directory
/// (`gmail.rules:12`, `rules.d/gmail.rules:12`), so a name matches when one
/// is the other with leading directories removed.
pub fn same_rule(got: &str, want: &str) -> bool {
    fn ends_with_component(long: &str, short: &str) -> bool {
        long.strip_suffix(short)
            .is_some_and(|head| head.is_empty() || head.ends_with('/'))
    }
    ends_with_component(got, want) || ends_with_component(want, got)
}

/// The expectations of `case` that `got` does not meet.
fn mismatches(case: &Case, got: &Classification) -> Vec<Field> {
    let mut out = Vec::new();
    if case.status.is_some() && case.status != got.status {
        out.push(Field::Status);
    }
    if case.verdict != got.verdict {
        out.push(Field::Verdict);
    }
    if let (Some(want), Some(rule)) = (&case.rule, &got.rule)
        && !same_rule(rule, want)
    {
        out.push(Field::Rule);
    }
    if case.unmatched != got.unmatched {
        out.push(Field::Unmatched);
    }
    out
}

/// Classifies every case of a corpus and compares it with its expectations.
pub fn run(engine: &dyn Engine, file: &CorpusFile) -> Vec<Outcome> {
    file.corpus
        .cases
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let got = engine.classify(&case.bounce());
            Outcome {
                index,
                line: file.case_line(index),
                mismatches: mismatches(case, &got),
                got,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_match_on_path_components() {
        assert!(same_rule("rules.d/gmail.rules:12", "gmail.rules:12"));
        assert!(same_rule("gmail.rules:12", "rules.d/gmail.rules:12"));
        assert!(!same_rule("rules.d/xgmail.rules:12", "gmail.rules:12"));
        assert!(!same_rule("rules.d/gmail.rules:12", "gmail.rules:13"));
    }
}
