//! Findings as diagnostics: the message, labels, notes and help of each
//! kind of finding.

use crate::core::model::{RuleId, RuleSet};
use crate::core::status::Status;
use crate::diag::{Code, Diagnostic};

use super::{Cond, Finding};

/// A witness as it is printed: the bytes, with anything unprintable escaped.
pub fn show_witness(w: &[u8]) -> String {
    let mut s = String::new();
    for &b in w {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// A rule as it is named in a note: regex, status, verdict and location.
fn describe(rules: &RuleSet, r: RuleId) -> String {
    match rules.rules.get(r) {
        Some(rule) => format!(
            "{} -> {} {} ({})",
            rule.regex_literal(),
            rule.status,
            rules.rule_verdict(rule),
            rule.location()
        ),
        None => String::from("an unknown rule"),
    }
}

/// How a witness is described: the reply, and the status it must arrive
/// with when its own text does not give one both rules accept.
fn witness_note(rules: &RuleSet, witness: &[u8], cond: Cond, a: RuleId, b: RuleId) -> String {
    let (initial, reported) = cond;
    let text = show_witness(witness);
    let own = crate::core::normalize::Reply::new(&String::from_utf8_lossy(witness), None).initial;
    let accepted = |s: Option<Status>| {
        [a, b].iter().all(|&r| {
            rules
                .rules
                .get(r)
                .is_some_and(|rule| rule.accepts(s, reported))
        })
    };
    let mut note = match initial {
        _ if accepted(own) => format!("both match the reply `{text}`"),
        Some(s) => format!("both match the reply `{text}` arriving with status {s}"),
        None => format!("both match the reply `{text}` arriving with no status"),
    };
    if let Some(c) = reported {
        note.push_str(&format!(" and reported as `{c}`"));
    }
    note
}

/// The diagnostic of a finding; `None` when it names a rule the set does
/// not have.
pub(super) fn diagnostic(rules: &RuleSet, f: &Finding) -> Option<Diagnostic> {
    let rule = |r: RuleId| rules.rules.get(r);
    Some(match f {
        Finding::Shadowed { rule: r, covering } => {
            let me = rule(*r)?;
            let mut d = Diagnostic::new(
                Code::ShadowedRule,
                "rule can never fire: earlier rules of its scope match every reply it matches",
                me.head,
                "shadowed rule",
            );
            for c in covering {
                if let Some(cr) = rule(*c) {
                    d = d.with_secondary(cr.head, "covered by this earlier rule");
                }
            }
            d.with_help(
                "delete the rule, or move it above the rules that cover it if it should win",
            )
        }
        Finding::Conflict {
            winner,
            loser,
            witness,
            initial,
        } => {
            let (w, l) = (rule(*winner)?, rule(*loser)?);
            Diagnostic::new(
                Code::ConflictingOverlap,
                format!(
                    "rules overlap with different outcomes: `{} {}` and `{} {}`",
                    w.status,
                    rules.rule_verdict(w),
                    l.status,
                    rules.rule_verdict(l)
                ),
                l.head,
                "this rule loses the overlap",
            )
            .with_secondary(w.head, "this earlier rule wins")
            .with_note(witness_note(rules, witness, *initial, *winner, *loser))
            .with_help(
                "if the overlap is intended, nothing to do; otherwise make the regexes exclusive",
            )
        }
        Finding::Duplicate { rule: r, first } => {
            let (me, fr) = (rule(*r)?, rule(*first)?);
            Diagnostic::new(
                Code::DuplicateRule,
                "duplicate rule: same regex and condition as an earlier rule",
                me.head,
                "duplicate",
            )
            .with_secondary(fr.head, "first written here")
            .with_help("delete one of them")
        }
        Finding::Dead { rule: r } => {
            let me = rule(*r)?;
            Diagnostic::new(
                Code::DeadRegex,
                "regex matches no reply at all",
                me.head,
                "dead rule",
            )
            .with_help(
                "a `^` or `$` in the middle, or an impossible class, makes a regex match nothing",
            )
        }
        Finding::ExampleTaken {
            rule: r,
            example,
            taken_by,
        } => {
            let me = rule(*r)?;
            let text = me.examples.get(*example).cloned().unwrap_or_default();
            let at = me.example_spans.get(*example).copied().unwrap_or(me.head);
            let mut d = Diagnostic::new(
                Code::ExampleTaken,
                "example is classified by another rule than its own",
                at,
                "this example",
            )
            .with_secondary(me.head, "its rule")
            .with_note(format!("the example is `{text}`"));
            match taken_by.and_then(rule) {
                Some(t) => {
                    d = d.with_secondary(t.head, "this rule takes it");
                    d.with_note(format!("it is classified by {}", describe(rules, t.id)))
                }
                None => d.with_note("no rule matches it when the whole rule set is applied"),
            }
        }
        Finding::Override {
            specific,
            global,
            witness,
            initial,
        } => {
            let (s, g) = (rule(*specific)?, rule(*global)?);
            Diagnostic::new(
                Code::CrossScopeOverride,
                format!(
                    "rule overrides a global rule: `{}` instead of `{}`",
                    rules.rule_verdict(s),
                    rules.rule_verdict(g)
                ),
                s.head,
                "this rule decides",
            )
            .with_secondary(g.head, "instead of this global rule")
            .with_note(witness_note(rules, witness, *initial, *specific, *global))
        }
        Finding::Undecided {
            rule: r,
            other,
            question,
        } => {
            let me = rule(*r)?;
            let mut d = Diagnostic::new(
                Code::Undecided,
                format!(
                    "{question} of this rule was not decided: the automata are too big to compare"
                ),
                me.head,
                "not analysed",
            );
            if let Some(o) = other.and_then(rule) {
                d = d.with_secondary(o.head, "compared with this rule");
            }
            d.with_help(
                "raise the analysis budget, or simplify the regexes (fewer unanchored `.*`)",
            )
        }
    })
}
