//! The rule suggested for a cluster, built as a syntax tree and printed by
//! [`crate::syntax::fmt::format_tree`].
//!
//! The steps of [`suggest`]: the regex ([`distinguishing_regex`]), the
//! status ([`suggested_status`]), the examples `mxrules check` accepts
//! ([`checkable_examples`]), and the tree that holds them ([`rule_tree`]).

use regex_automata::meta::Regex;

use super::Example;
use super::guess::guess_status;
use super::template::Piece;
use crate::core::model::{ScopeKey, syntax_config};
use crate::core::normalize::Reply;
use crate::core::status::Status;
use crate::syntax::ast;
use crate::syntax::fmt::format_tree;

/// A suggested regex takes whole words of the template until it holds at
/// least this many literal characters (or the template ends).
const MIN_LITERAL: usize = 48;

/// A rule suggested for a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The regex, as written between the slashes.
    pub regex: String,
    /// The status the rule gives.
    pub status: Status,
    /// A whole scope block holding the rule and its examples, in the
    /// canonical layout of `mxrules fmt`.
    pub rule: String,
}

/// Writes the rule for a cluster of `scope` and `initial` whose template is
/// `words`, with the cluster's `examples`; `others` are the example replies
/// of the other clusters of the same scope and initial status, which the
/// rule must not take.
pub(super) fn suggest(
    scope: &ScopeKey,
    initial: Option<Status>,
    words: &[Vec<Piece>],
    examples: &[Example],
    others: &[&str],
) -> Suggestion {
    let regex = distinguishing_regex(words, others);
    let status = suggested_status(initial, examples.first());
    let checked = checkable_examples(examples, initial);
    let rule = format_tree(&rule_tree(scope, initial, &regex, status, &checked));
    Suggestion {
        regex,
        status,
        rule,
    }
}

/// The regex of the start of the template: enough words to hold
/// [`MIN_LITERAL`] literal characters, then more until no reply of `others`
/// matches, and the whole template anchored at the end too when it is the
/// start of one of them.
fn distinguishing_regex(words: &[Vec<Piece>], others: &[&str]) -> String {
    let takes_another = |regex: &str| {
        build(regex).is_some_and(|re| others.iter().any(|o| re.is_match(o.as_bytes())))
    };
    let mut n = (1..=words.len())
        .find(|&n| literal_len(words, n) >= MIN_LITERAL)
        .unwrap_or(words.len());
    let mut regex = regex_of(words, n, false);
    while takes_another(&regex) {
        if n < words.len() {
            n += 1;
            regex = regex_of(words, n, false);
        } else {
            return regex_of(words, n, true);
        }
    }
    regex
}

/// The rule's status: the enhanced code of the cluster's first reply or,
/// for a reply without one (or with only `<class>.0.0`), a code guessed from
/// its words ([`guess_status`]).
fn suggested_status(initial: Option<Status>, first: Option<&Example>) -> Status {
    let first = first.map(|e| Reply::new(&e.reply, None));
    match first.as_ref().and_then(|r| r.enhanced) {
        Some(s) if s.subject != 0 || s.detail != 0 => s,
        _ => guess_status(
            status_class(initial, first.as_ref()),
            first.as_ref().map_or("", |r| r.text.as_str()),
        ),
    }
}

/// The class of a guessed status: the initial status's, else the reply
/// code's; 5 unless that is 2, 4 or 5.
fn status_class(initial: Option<Status>, first: Option<&Reply>) -> u8 {
    initial
        .map(|s| s.class)
        .or_else(|| {
            first
                .and_then(|r| r.code)
                .and_then(|c| u8::try_from(c / 100).ok())
        })
        .filter(|c| matches!(c, 2 | 4 | 5))
        .unwrap_or(5)
}

/// The examples `mxrules check` accepts for the rule: the replies that read
/// the same once normalized again and, for a cluster with an initial
/// status, that carry that status.
fn checkable_examples(examples: &[Example], initial: Option<Status>) -> Vec<&str> {
    examples
        .iter()
        .filter(|e| {
            let again = Reply::new(&e.reply, None);
            again.text == e.reply && (initial.is_none() || again.initial == initial)
        })
        .map(|e| e.reply.as_str())
        .collect()
}

/// The suggestion as a rules file: one scope block for `scope` holding the
/// rule, inside an `initial` block when the cluster has an initial status.
fn rule_tree(
    scope: &ScopeKey,
    initial: Option<Status>,
    regex: &str,
    status: Status,
    examples: &[&str],
) -> ast::File {
    let rule = ast::Rule::new(regex, status.to_string())
        .with_examples(examples.iter().map(|&e| ast::Example::new(e)).collect());
    let item = match initial {
        Some(i) => ast::ScopeItem::Initial(ast::InitialBlock::new(vec![i.to_string()], vec![rule])),
        None => ast::ScopeItem::Rule(rule),
    };
    let block = ast::ScopeBlock::new(vec![selector(scope)], vec![item]);
    ast::File::new(vec![ast::Block::Scope(block)])
}

/// The header of a scope block for `scope`: `mx ends with ".mail.ru"`.
fn selector(scope: &ScopeKey) -> ast::Selector {
    let (kind, values) = match scope {
        ScopeKey::MxExact(host) => (ast::SelectorKind::MxIs, vec![host.clone()]),
        ScopeKey::MxSuffix(suffix) => (ast::SelectorKind::MxEndsWith, vec![format!(".{suffix}")]),
        ScopeKey::RcptDomain(domain) => (ast::SelectorKind::RcptDomainIs, vec![domain.clone()]),
        ScopeKey::Global => (ast::SelectorKind::Global, Vec::new()),
    };
    ast::Selector::new(kind, values)
}

/// A rule's regex, read as the rules are.
fn build(regex: &str) -> Option<Regex> {
    Regex::builder()
        .syntax(syntax_config(false))
        .build(regex)
        .ok()
}

/// The regex of the first `n` words of a template, anchored at the start,
/// and at the end too when `anchor_end`; slashes escaped for the rules
/// language.
fn regex_of(words: &[Vec<Piece>], n: usize, anchor_end: bool) -> String {
    let mut re = String::from("^");
    for (i, word) in words.iter().take(n).enumerate() {
        if i > 0 {
            re.push(' ');
        }
        for piece in word {
            match piece {
                Piece::Lit(s) => push_literal(&mut re, s),
                Piece::Mask(m) => re.push_str(m.pattern()),
            }
        }
    }
    if anchor_end {
        re.push('$');
    }
    re
}

/// Escapes literal text for a byte-oriented regex between slashes: regex
/// meta characters with `regex_syntax::escape`, `/` as `\/`, and every
/// byte of a non-ASCII character as `\xNN`.
fn push_literal(re: &mut String, s: &str) {
    for c in s.chars() {
        if c == '/' {
            re.push_str("\\/");
        } else if c.is_ascii() {
            regex_syntax::escape_into(c.encode_utf8(&mut [0; 4]), re);
        } else {
            for b in c.encode_utf8(&mut [0; 4]).bytes() {
                re.push_str(&format!("\\x{b:02X}"));
            }
        }
    }
}

/// The number of literal characters in the first `n` words.
fn literal_len(words: &[Vec<Piece>], n: usize) -> usize {
    words
        .iter()
        .take(n)
        .map(|w| {
            w.iter()
                .map(|p| match p {
                    Piece::Lit(s) => s.chars().count(),
                    Piece::Mask(_) => 0,
                })
                .sum::<usize>()
                + 1
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_escaping() {
        let mut re = String::new();
        push_literal(&mut re, "a/b.c é");
        assert_eq!(re, "a\\/b\\.c \\xC3\\xA9");
        let re = build(&format!("^{re}$")).unwrap();
        assert!(re.is_match("a/b.c é".as_bytes()));
    }

    #[test]
    fn every_scope_is_written_as_its_header() {
        for scope in [
            ScopeKey::MxExact("192.0.2.1".into()),
            ScopeKey::MxSuffix("mail.ru".into()),
            ScopeKey::RcptDomain("example.org".into()),
            ScopeKey::Global,
        ] {
            let file = rule_tree(&scope, None, "^550", Status::new(5, 0, 0), &[]);
            let want = format!("{scope} {{\n    /^550/ -> 5.0.0\n}}\n");
            assert_eq!(format_tree(&file), want);
        }
    }
}
