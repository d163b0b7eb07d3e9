//! Building the dense DFAs: one per rule for classification, and the
//! multi-pattern ones the analysis walks. Every build is capped: the
//! builder checks the cap while determinizing, and a finished table over it
//! (it can come out slightly larger) is refused too.

use std::fmt;

use regex_automata::MatchKind;
use regex_automata::dfa::{StartKind, dense};
use regex_automata::nfa::thompson;

use crate::core::model::{Rule, syntax_config};

/// A dense DFA as this crate builds it.
pub(crate) type Dfa = dense::DFA<Vec<u32>>;

/// Why a DFA was not built.
#[derive(Debug)]
#[non_exhaustive]
pub enum DfaError {
    /// The automaton builder refused: the regex does not compile, or an
    /// intermediate automaton went over the cap.
    Build(Box<dense::BuildError>),
    /// The finished table is over the cap.
    OverCap {
        /// The bytes the table takes.
        bytes: usize,
    },
}

impl DfaError {
    /// True when the automaton builder refused (the message says why).
    pub fn is_build(&self) -> bool {
        matches!(self, DfaError::Build(_))
    }

    /// True when the finished table came out over the cap.
    pub fn is_over_cap(&self) -> bool {
        matches!(self, DfaError::OverCap { .. })
    }
}

impl fmt::Display for DfaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DfaError::Build(e) => fmt::Display::fmt(e, f),
            DfaError::OverCap { bytes } => {
                write!(f, "the DFA takes {bytes} bytes, more than the cap")
            }
        }
    }
}

impl std::error::Error for DfaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The builder's own message is this error's message: its cause
            // comes next.
            DfaError::Build(e) => std::error::Error::source(e.as_ref()),
            DfaError::OverCap { .. } => None,
        }
    }
}

/// The pattern of a rule as the DFA sees it: its regex, with `(?i)` in
/// front when the rule has the `i` flag.
pub fn pattern(rule: &Rule) -> String {
    if rule.case_insensitive {
        format!("(?i){}", rule.regex)
    } else {
        rule.regex.clone()
    }
}

/// Builds one multi-pattern DFA reporting every pattern that matches
/// (`MatchKind::All`), for the analysis, of at most `limit` bytes.
pub(crate) fn build(patterns: &[String], limit: usize) -> Result<Dfa, DfaError> {
    build_with(patterns, limit, MatchKind::All)
}

/// The DFA of one rule, for classification: stops at the first match.
pub(crate) fn build_rule(pattern: &str, limit: usize) -> Result<Dfa, DfaError> {
    build_with(&[pattern.to_string()], limit, MatchKind::LeftmostFirst)
}

fn build_with(patterns: &[String], limit: usize, kind: MatchKind) -> Result<Dfa, DfaError> {
    let dfa = dense::Builder::new()
        .configure(
            dense::DFA::config()
                .match_kind(kind)
                .start_kind(StartKind::Unanchored)
                .dfa_size_limit(Some(limit))
                .determinize_size_limit(Some(limit.saturating_mul(2))),
        )
        .syntax(syntax_config(false))
        .thompson(thompson::Config::new().nfa_size_limit(Some(limit)))
        .build_many(patterns)
        .map_err(|e| DfaError::Build(Box::new(e)))?;
    if dfa.memory_usage() > limit {
        return Err(DfaError::OverCap {
            bytes: dfa.memory_usage(),
        });
    }
    Ok(dfa)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_automaton_over_the_cap_is_refused() {
        let err = build(&["[a-z]{30}x".to_string()], 2_000).expect_err("over the cap");
        assert!(err.is_build() || err.is_over_cap(), "{err}");
        let ok = build(&["^550 user unknown".to_string()], 1 << 20).expect("small");
        assert!(ok.memory_usage() <= 1 << 20);
    }

    #[test]
    fn a_regex_the_builder_refuses_is_a_build_error() {
        let err = build_rule("(", 1 << 20).expect_err("refused");
        assert!(err.is_build() && !err.is_over_cap());
        assert!(!err.to_string().is_empty());
    }
}
