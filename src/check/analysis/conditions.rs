//! The conditions a bounce can arrive with, and the cheap tests that tell
//! two rules apart before any automaton is walked.
//!
//! Initial conditions are decided exactly: the statuses are split into the
//! finitely many classes that the patterns of a scope can tell apart, and a
//! representative of each class is checked.

use crate::core::model::{Rule, RuleId, RuleSet};
use crate::core::status::{Category, Part, Status, StatusPattern};

/// The literal text a regex must start with, when it is anchored with `^`
/// and begins with plain characters; lowercased when case-insensitive.
fn anchored_prefix(rule: &Rule) -> Option<String> {
    let body = rule.regex.strip_prefix('^')?;
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() => out.push(e),
                _ => break,
            },
            '.' | '[' | '(' | ')' | '|' | '?' | '*' | '+' | '{' | '}' | '^' | '$' => break,
            c => {
                if matches!(chars.peek(), Some('?' | '*' | '{')) {
                    break; // the last character is optional or repeated
                }
                out.push(c);
            }
        }
    }
    if rule.regex.contains('|') {
        return None; // a top-level alternation could start differently
    }
    if out.is_empty() {
        return None;
    }
    Some(if rule.case_insensitive {
        out.to_ascii_lowercase()
    } else {
        out
    })
}

/// True when `earlier` is an exception to `later` written on purpose: it
/// sits under an `initial` or `reported` condition and `later` has none,
/// like a specific match arm before the general one. Their overlap is the
/// point of the exception, not a conflict.
pub(super) fn is_exception(earlier: &Rule, later: &Rule) -> bool {
    let conditional = |r: &Rule| !r.initial.is_empty() || !r.reported.is_empty();
    conditional(earlier) && !conditional(later)
}

/// True when two anchored prefixes prove the rules never match one reply.
pub(super) fn prefixes_disjoint(a: &Rule, b: &Rule) -> bool {
    match (anchored_prefix(a), anchored_prefix(b)) {
        (Some(pa), Some(pb)) => {
            let (pa, pb) = if a.case_insensitive || b.case_insensitive {
                (pa.to_ascii_lowercase(), pb.to_ascii_lowercase())
            } else {
                (pa, pb)
            };
            !(pa.starts_with(&pb) || pb.starts_with(&pa))
        }
        _ => false,
    }
}

/// The conditions a bounce can arrive with: its initial status and the
/// category its MTA reported.
pub type Cond = (Option<Status>, Option<Category>);

/// Conditions that stand for every class of conditions the rules of one
/// scope can tell apart.
pub(super) fn of_scope(rules: &RuleSet, ids: &[RuleId]) -> Vec<Cond> {
    let patterns: Vec<&StatusPattern> = ids
        .iter()
        .filter_map(|&r| rules.rules.get(r))
        .flat_map(|r| r.initial.iter())
        .collect();
    let categories: Vec<Category> = ids
        .iter()
        .filter_map(|&r| rules.rules.get(r))
        .flat_map(|r| r.reported.iter().copied())
        .collect();
    representatives(&patterns, &categories)
}

/// The first of `reps` under which both rules apply, if any.
pub(super) fn common(reps: &[Cond], a: &Rule, b: &Rule) -> Option<Cond> {
    reps.iter()
        .copied()
        .find(|s| a.accepts(s.0, s.1) && b.accepts(s.0, s.1))
}

/// Conditions that stand for every class of conditions the rules can tell
/// apart: statuses from the patterns (plus "no status"), crossed with "no
/// category" and each category a `reported` clause names.
pub(super) fn representatives(patterns: &[&StatusPattern], categories: &[Category]) -> Vec<Cond> {
    let statuses = representative_statuses(patterns);
    let mut cats: Vec<Option<Category>> = vec![None];
    for c in categories {
        if !cats.contains(&Some(*c)) {
            cats.push(Some(*c));
        }
    }
    let mut out = Vec::with_capacity(statuses.len() * cats.len());
    for s in &statuses {
        for c in &cats {
            out.push((*s, *c));
        }
    }
    out
}

/// Statuses that stand for every class of statuses the patterns can tell
/// apart, "no status" first.
fn representative_statuses(patterns: &[&StatusPattern]) -> Vec<Option<Status>> {
    let mut subjects: Vec<u16> = patterns
        .iter()
        .filter_map(|p| match p.subject {
            Part::Is(n) => Some(n),
            Part::Any => None,
        })
        .collect();
    let fresh_subject = (0..=7u16).find(|s| !subjects.contains(s));
    subjects.extend(fresh_subject);
    subjects.sort_unstable();
    subjects.dedup();
    let mut details: Vec<u16> = patterns
        .iter()
        .filter_map(|p| match p.detail {
            Part::Is(n) => Some(n),
            Part::Any => None,
        })
        .collect();
    let fresh_detail = (0..=999u16).find(|d| !details.contains(d));
    details.extend(fresh_detail);
    details.sort_unstable();
    details.dedup();
    let mut out = vec![None];
    for class in [2u8, 4, 5] {
        for &s in &subjects {
            for &d in &details {
                out.push(Some(Status::new(class, s, d)));
            }
        }
    }
    out
}
