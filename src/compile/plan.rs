//! How a rule is found in a reply, decided on its regex's syntax tree: a
//! [`Plan`] per rule.
//!
//! A regex that is a few literal strings (`^550 5\.1\.1 user unknown`,
//! `(?i)no such user`) is [`Plan::Exact`]: finding a string is a match. A
//! regex that is literal pieces with `.*` or `.+` between them is
//! [`Plan::Pieces`], looked for without an automaton. Any other regex is
//! [`Plan::Dfa`]. The last two carry up to [`MAX_GROUPS`] literal groups:
//! sets of strings one of which every match contains, the most selective
//! first, that the prefilter looks for before the rule is tried.

use regex_syntax::hir::{Class, Hir, HirKind};

use crate::core::model::Rule;
use crate::runtime::tables::{Piece, Pieces};

/// The regex of a rule as regex-syntax reads it for analysis.
fn hir(regex: &str, case_insensitive: bool) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .case_insensitive(case_insensitive)
        .build()
        .parse(regex)
        .ok()
}

/// Most strings a literal set may hold.
const MAX_LITERALS: usize = 32;
/// Longest required literal kept (a prefix of a required string is
/// required too).
const MAX_LITERAL_LEN: usize = 48;
/// Longest string of a rule's whole language.
const MAX_EXACT_LEN: usize = 200;
/// Most literal groups a DFA rule is prefiltered on (a rule found by its
/// pieces: one); the docs of [`plan`] say three.
const MAX_GROUPS: usize = 3;

/// A string a regex matches, position by position: a byte, or a letter in
/// either case.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Text {
    /// The bytes; letters that match either case are lowercase.
    bytes: Vec<u8>,
    /// `fold[i]`: byte `i` is a letter that matches either case.
    fold: Vec<bool>,
}

impl Text {
    fn byte(b: u8, fold: bool) -> Text {
        Text {
            bytes: vec![if fold { b.to_ascii_lowercase() } else { b }],
            fold: vec![fold],
        }
    }

    fn lower(&self) -> Vec<u8> {
        self.bytes.to_ascii_lowercase()
    }
}

/// The positions a class stands for when they are few: single bytes, or
/// letters in either case.
fn class_texts(c: &Class) -> Option<Vec<Text>> {
    let mut bytes: Vec<u8> = Vec::new();
    let mut add = |lo: u32, hi: u32| -> Option<()> {
        if hi - lo >= 8 {
            return None;
        }
        for b in lo..=hi {
            bytes.push(u8::try_from(b).ok()?);
        }
        Some(())
    };
    match c {
        Class::Bytes(c) => {
            for r in c.ranges() {
                add(u32::from(r.start()), u32::from(r.end()))?;
            }
        }
        Class::Unicode(c) => {
            for r in c.ranges() {
                add(r.start() as u32, r.end() as u32)?;
            }
        }
    }
    bytes.sort_unstable();
    bytes.dedup();
    let mut out: Vec<Text> = Vec::new();
    for &b in &bytes {
        if b.is_ascii_lowercase() && bytes.contains(&b.to_ascii_uppercase()) {
            out.push(Text::byte(b, true));
        } else if b.is_ascii_uppercase() && bytes.contains(&b.to_ascii_lowercase()) {
            continue; // the pair is one folded position
        } else {
            out.push(Text::byte(b, false));
        }
    }
    (out.len() <= 4).then_some(out)
}

/// Every string `h` can match, when there are few. With `looks`, a
/// lookaround counts as the empty string (the set is a filter); without,
/// a lookaround makes the language unknown (the set must be exact).
fn language(h: &Hir, looks: bool) -> Option<Vec<Text>> {
    match h.kind() {
        HirKind::Empty => Some(vec![Text::default()]),
        HirKind::Look(_) => looks.then(|| vec![Text::default()]),
        HirKind::Literal(l) => Some(vec![Text {
            bytes: l.0.to_vec(),
            fold: vec![false; l.0.len()],
        }]),
        HirKind::Class(c) => class_texts(c),
        HirKind::Capture(c) => language(&c.sub, looks),
        HirKind::Repetition(r) => match (r.min, r.max) {
            (1, Some(1)) => language(&r.sub, looks),
            (0, Some(1)) => {
                let mut l = language(&r.sub, looks)?;
                l.push(Text::default());
                Some(l)
            }
            _ => None,
        },
        HirKind::Concat(cs) => {
            let mut acc = vec![Text::default()];
            for c in cs {
                acc = product(&acc, &language(c, looks)?)?;
            }
            Some(acc)
        }
        HirKind::Alternation(cs) => {
            let mut out = Vec::new();
            for c in cs {
                out.extend(language(c, looks)?);
                if out.len() > MAX_LITERALS {
                    return None;
                }
            }
            Some(out)
        }
    }
}

/// `a × b`: every string of `a` followed by every string of `b`.
fn product(a: &[Text], b: &[Text]) -> Option<Vec<Text>> {
    if a.len().saturating_mul(b.len()) > MAX_LITERALS {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut t = x.clone();
            t.bytes.extend_from_slice(&y.bytes);
            t.fold.extend_from_slice(&y.fold);
            if t.bytes.len() > MAX_EXACT_LEN {
                return None;
            }
            out.push(t);
        }
    }
    Some(out)
}

/// A set of lowercase strings one of which every match contains.
type Group = Vec<Vec<u8>>;

/// `texts` as a group: lowercased, cut to [`MAX_LITERAL_LEN`]; `None` when
/// one is empty.
fn group_of(texts: &[Text]) -> Option<Group> {
    if texts.iter().any(|t| t.bytes.is_empty()) {
        return None;
    }
    let mut g: Group = texts
        .iter()
        .map(|t| {
            let mut l = t.lower();
            l.truncate(MAX_LITERAL_LEN);
            l
        })
        .collect();
    g.sort();
    g.dedup();
    Some(g)
}

/// How selective a group is: longer shortest string first, then fewer
/// strings.
fn score(g: &Group) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = g.iter().map(Vec::len).min().unwrap_or(0);
    (shortest.min(16), std::cmp::Reverse(g.len()))
}

/// Groups every match of `h` has a string of (each group on its own): the
/// runs of a concatenation, its other parts' best group, an alternation's
/// union.
fn groups(h: &Hir) -> Vec<Group> {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Vec::new(),
        HirKind::Literal(_) | HirKind::Class(_) => language(h, true)
            .and_then(|l| group_of(&l))
            .into_iter()
            .collect(),
        HirKind::Capture(c) => groups(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => groups(&r.sub),
        HirKind::Repetition(_) => Vec::new(),
        HirKind::Alternation(cs) => {
            let mut out: Group = Vec::new();
            for c in cs {
                let Some(best) = best(groups(c)) else {
                    return Vec::new();
                };
                out.extend(best);
                if out.len() > MAX_LITERALS {
                    return Vec::new();
                }
            }
            out.sort();
            out.dedup();
            vec![out]
        }
        HirKind::Concat(cs) => {
            // Runs of parts whose languages are small give one string per
            // combination; any other part may give its own groups.
            let mut out = Vec::new();
            let mut run: Option<Vec<Text>> = None;
            for c in cs {
                match language(c, true) {
                    Some(l) => {
                        run = match run.take() {
                            None => Some(l),
                            Some(acc) => match product(&acc, &l) {
                                Some(p) => Some(p),
                                None => {
                                    out.extend(group_of(&acc));
                                    Some(l)
                                }
                            },
                        };
                    }
                    None => {
                        if let Some(acc) = run.take() {
                            out.extend(group_of(&acc));
                        }
                        out.extend(best(groups(c)));
                    }
                }
            }
            if let Some(acc) = run {
                out.extend(group_of(&acc));
            }
            out
        }
    }
}

fn best(mut gs: Vec<Group>) -> Option<Group> {
    gs.sort_by_key(|g| std::cmp::Reverse(score(g)));
    gs.into_iter().next()
}

/// How a rule is found in a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// The regex is one of a few strings (`^550 5\.1\.1 user unknown`,
    /// `(?i)no such user`), anchored as said: finding one is a match.
    Exact {
        /// The string must start the reply (`^`).
        start: bool,
        /// The string must end the reply (`$`).
        end: bool,
        /// The strings: bytes (letters matching either case lowercase) and
        /// which bytes match either case.
        texts: Vec<(Vec<u8>, Vec<bool>)>,
    },
    /// A DFA decides, run only when a string of every group was found
    /// (always, when there is no group).
    Dfa {
        /// Sets of lowercase strings, one of each of which every match
        /// contains.
        groups: Vec<Vec<Vec<u8>>>,
    },
    /// Literal pieces with `.*` or `.+` between them decide, looked for
    /// only when a string of every group was found (always, when there is
    /// no group).
    Pieces {
        /// The pieces, in order, and the anchors.
        pieces: Pieces,
        /// As for [`Plan::Dfa`]: at most one group, the most selective.
        groups: Vec<Vec<Vec<u8>>>,
    },
}

/// How to find `rule` in a reply: exact strings when its regex is a few
/// strings, else up to three literal groups for its pieces when it
/// is literal pieces with `.*` or `.+` between them, or for its DFA.
pub fn plan(rule: &Rule) -> Plan {
    plan_regex(&rule.regex, rule.case_insensitive)
}

/// [`plan`] of a regex, with the `i` flag or not.
fn plan_regex(regex: &str, case_insensitive: bool) -> Plan {
    let Some(h) = hir(regex, case_insensitive) else {
        return Plan::Dfa { groups: Vec::new() };
    };
    if let Some(p) = exact_plan(&h) {
        return p;
    }
    let mut gs: Vec<Group> = groups(&h)
        .into_iter()
        .filter(|g| g.iter().all(|l| l.len() >= 2))
        .collect();
    gs.sort_by_key(|g| std::cmp::Reverse(score(g)));
    gs.dedup();
    gs.truncate(MAX_GROUPS);
    match pieces_plan(&h) {
        // Looking for the pieces costs about what keeping track of a
        // second group would: the most selective group alone decides when
        // to look.
        Some(pieces) => {
            gs.truncate(1);
            Plan::Pieces { pieces, groups: gs }
        }
        None => Plan::Dfa { groups: gs },
    }
}

/// True when `h` is `.*` or `.+` (lazy or not): any bytes but a newline,
/// at least `min` of them.
fn dot_gap(h: &Hir) -> Option<u8> {
    let HirKind::Repetition(r) = h.kind() else {
        return None;
    };
    let any_but_newline = match r.sub.kind() {
        HirKind::Class(Class::Bytes(c)) => c
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .eq([(0, 9), (11, 255)]),
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .eq([(0, 9), (11, 0x10FFFF)]),
        _ => false,
    };
    (any_but_newline && r.max.is_none() && r.min <= 1).then(|| u8::try_from(r.min).unwrap_or(1))
}

/// The pieces of a regex that is one string, then `.*` or `.+` and another
/// string, and so on (two strings at least), perhaps anchored.
fn pieces_plan(h: &Hir) -> Option<Pieces> {
    let (start, inner, end) = anchors(h);
    let mut pieces = Vec::new();
    let mut text: Option<Text> = None;
    let mut gap = 0;
    let piece = |t: Text, gap: u8| Piece {
        mask: t
            .bytes
            .iter()
            .zip(&t.fold)
            .map(|(b, &f)| if f && b.is_ascii_lowercase() { 0x20 } else { 0 })
            .collect(),
        text: t.bytes,
        gap,
    };
    for p in inner {
        if let Some(min) = dot_gap(p) {
            pieces.push(piece(text.take()?, gap));
            gap = min;
            continue;
        }
        let mut l = language(p, false)?;
        let one = match (l.pop(), l.is_empty()) {
            (Some(t), true) => t,
            _ => return None,
        };
        text = Some(match text.take() {
            None => one,
            Some(acc) => product(&[acc], &[one])?.pop()?,
        });
    }
    pieces.push(piece(text?, gap));
    let pieces = Pieces { start, end, pieces };
    pieces.validate().ok()?;
    Some(pieces)
}

/// The parts of a regex between its anchors: whether it starts with `^`,
/// the parts, whether it ends with `$`.
fn anchors(h: &Hir) -> (bool, &[Hir], bool) {
    use regex_syntax::hir::Look;
    let parts: &[Hir] = match h.kind() {
        HirKind::Concat(cs) => cs,
        _ => std::slice::from_ref(h),
    };
    let start = parts
        .first()
        .is_some_and(|p| matches!(p.kind(), HirKind::Look(Look::Start)));
    let end = parts.len() > usize::from(start)
        && parts
            .last()
            .is_some_and(|p| matches!(p.kind(), HirKind::Look(Look::End)));
    let inner = &parts[usize::from(start)..parts.len() - usize::from(end)];
    (start, inner, end)
}

fn exact_plan(h: &Hir) -> Option<Plan> {
    let (start, inner, end) = anchors(h);
    let mut acc = vec![Text::default()];
    for p in inner {
        acc = product(&acc, &language(p, false)?)?;
    }
    if acc.iter().any(|t| t.bytes.len() < 2) {
        return None;
    }
    acc.sort();
    acc.dedup();
    Some(Plan::Exact {
        start,
        end,
        texts: acc.into_iter().map(|t| (t.bytes, t.fold)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::ast::{Block, ScopeItem};
    use crate::syntax::load::Parsed;

    /// The plans of the rules of one scope block, in order (the rules are
    /// parsed, not checked: their regexes are valid).
    fn plans(src: &str) -> Vec<Plan> {
        let mut parsed = Parsed::default();
        parsed.add_text("t.rules", src);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let mut out = Vec::new();
        for (_, file) in &parsed.files {
            for block in &file.blocks {
                let Block::Scope(scope) = block else { continue };
                for item in &scope.items {
                    if let ScopeItem::Rule(r) = item {
                        out.push(plan_regex(&r.regex.value, r.flags.value.contains('i')));
                    }
                }
            }
        }
        out
    }

    fn texts(p: &Plan) -> Vec<(String, String)> {
        match p {
            Plan::Exact { texts, .. } => texts
                .iter()
                .map(|(t, f)| {
                    (
                        String::from_utf8_lossy(t).into_owned(),
                        f.iter().map(|&b| if b { 'i' } else { '.' }).collect(),
                    )
                })
                .collect(),
            Plan::Dfa { .. } | Plan::Pieces { .. } => Vec::new(),
        }
    }

    fn groups_of(p: &Plan) -> Vec<Vec<String>> {
        match p {
            Plan::Dfa { groups } | Plan::Pieces { groups, .. } => groups
                .iter()
                .map(|g| {
                    g.iter()
                        .map(|l| String::from_utf8_lossy(l).into_owned())
                        .collect()
                })
                .collect(),
            Plan::Exact { .. } => Vec::new(),
        }
    }

    #[test]
    fn literal_regexes_are_exact_with_their_anchors_and_case() {
        let p = plans(
            r#"global {
                /^550 5\.1\.1 User unknown$/ -> 5.1.1
                /no such user/i -> 5.1.1
                /^550 (?:No|Bad) mailbox/ -> 5.1.1
            }"#,
        );
        assert!(matches!(
            p[0],
            Plan::Exact {
                start: true,
                end: true,
                ..
            }
        ));
        assert_eq!(
            texts(&p[0]),
            vec![("550 5.1.1 User unknown".into(), ".".repeat(22))]
        );
        assert!(matches!(
            p[1],
            Plan::Exact {
                start: false,
                end: false,
                ..
            }
        ));
        assert_eq!(
            texts(&p[1]),
            vec![("no such user".into(), "ii.iiii.iiii".into())]
        );
        assert_eq!(
            texts(&p[2]).into_iter().map(|(t, _)| t).collect::<Vec<_>>(),
            vec!["550 Bad mailbox", "550 No mailbox"]
        );
    }

    #[test]
    fn other_regexes_get_their_most_selective_required_groups() {
        let p = plans(
            r#"global {
                /^55[01].+mailbox unavailable/ -> 5.1.1
                /(?i)quota.*exceeded/ -> 5.2.2
                /^5\d\d 5\.\d\.\d <[^>]*>: Recipient address rejected: User unknown/ -> 5.1.1
                /^5\d\d/ -> 5.0.0
                /user\b/ -> 5.1.1
            }"#,
        );
        assert_eq!(
            groups_of(&p[0]),
            vec![
                vec!["mailbox unavailable".to_string()],
                vec!["550".to_string(), "551".to_string()]
            ]
        );
        // Found by its pieces: the most selective group alone.
        assert_eq!(groups_of(&p[1]), vec![vec!["exceeded".to_string()]]);
        assert_eq!(
            groups_of(&p[2])[0],
            vec![">: recipient address rejected: user unknown".to_string()]
        );
        assert_eq!(p[3], Plan::Dfa { groups: Vec::new() });
        assert_eq!(groups_of(&p[4]), vec![vec!["user".to_string()]]);
    }

    /// `^`, each piece as text, case mask (`i` where either case) and gap,
    /// `$`.
    type PiecesView = (bool, Vec<(String, String, u8)>, bool);

    fn pieces_of(p: &Plan) -> Option<PiecesView> {
        let Plan::Pieces { pieces, .. } = p else {
            return None;
        };
        let each = pieces
            .pieces
            .iter()
            .map(|p| {
                (
                    String::from_utf8_lossy(&p.text).into_owned(),
                    p.mask
                        .iter()
                        .map(|&m| if m == 0x20 { 'i' } else { '.' })
                        .collect(),
                    p.gap,
                )
            })
            .collect();
        Some((pieces.start, each, pieces.end))
    }

    #[test]
    fn literal_pieces_with_dots_between_are_pieces() {
        let p = plans(
            r#"global {
                /^550.+mailbox unavailable/ -> 5.1.1
                /(?i)Quota.*exceeded$/ -> 5.2.2
                /user .*? not .+ found/ -> 5.1.1
                /^550 (?:a|b).*c/ -> 5.1.1
                /(?s)quota.*exceeded/ -> 5.2.2
                /quota.{2,}exceeded/ -> 5.2.2
                /.*quota/ -> 5.2.2
            }"#,
        );
        assert_eq!(
            pieces_of(&p[0]),
            Some((
                true,
                vec![
                    ("550".into(), "...".into(), 0),
                    ("mailbox unavailable".into(), ".".repeat(19), 1)
                ],
                false
            ))
        );
        assert_eq!(
            groups_of(&p[0]),
            vec![vec!["mailbox unavailable".to_string()]]
        );
        assert_eq!(
            pieces_of(&p[1]),
            Some((
                false,
                vec![
                    ("quota".into(), "iiiii".into(), 0),
                    ("exceeded".into(), "iiiiiiii".into(), 0)
                ],
                true
            ))
        );
        assert_eq!(
            pieces_of(&p[2]).map(|(_, each, _)| each),
            Some(vec![
                ("user ".into(), ".....".into(), 0),
                (" not ".into(), ".....".into(), 0),
                (" found".into(), "......".into(), 1)
            ])
        );
        // An alternation, `(?s)`, a counted repetition or a leading `.*`
        // leave the rule to its DFA.
        for (i, plan) in p.iter().enumerate().skip(3) {
            assert!(matches!(plan, Plan::Dfa { .. }), "rule {i}: {plan:?}");
        }
    }

    #[test]
    fn pieces_match_as_the_regex_does() {
        let p = plans(
            r#"global {
                /^550.+user unknown/ -> 5.1.1
                /(?i)quota.*exceeded$/ -> 5.2.2
                /ab.*cd.+ef/ -> 5.1.1
            }"#,
        );
        let pieces = |i: usize| match &p[i] {
            Plan::Pieces { pieces, .. } => pieces.clone(),
            other => panic!("rule {i} is not pieces: {other:?}"),
        };
        let (code, quota, three) = (pieces(0), pieces(1), pieces(2));
        for (hay, want) in [
            ("550 user unknown", true),
            ("550user unknown", false),
            ("550 5.1.1 user unknown here", true),
            (" 550 user unknown", false),
            ("550 x\nuser unknown", false),
            ("550 User unknown", false),
        ] {
            assert_eq!(code.matches(hay.as_bytes()), want, "{hay:?}");
        }
        for (hay, want) in [
            ("QUOTA was EXCEEDED", true),
            ("quota exceeded.", false),
            ("quota\nexceeded", false),
            ("exceeded quota exceeded", true),
            ("x\nquota exceeded", true),
        ] {
            assert_eq!(quota.matches(hay.as_bytes()), want, "{hay:?}");
        }
        for (hay, want) in [
            ("abcdxef", true),
            ("abcdef", false),
            ("ab cd ef", true),
            // The first `ab` cannot be used (a newline follows), the second can.
            ("ab\nab cd ef", true),
            ("cd ef ab", false),
            ("ab cdef cd ef", true),
        ] {
            assert_eq!(three.matches(hay.as_bytes()), want, "{hay:?}");
        }
    }
}
