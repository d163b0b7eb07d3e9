//! The concrete tree pest produced, to the owned syntax tree.
//!
//! The grammar has already fixed the shape, so a pair that is not where the
//! grammar puts it cannot occur; such a pair is skipped rather than trusted.

use pest::iterators::{Pair, Pairs};

use super::parser::Rule;
use crate::core::source::{FileId, Span};
use crate::syntax::ast::*;

struct Ctx<'t> {
    file: FileId,
    text: &'t str,
    comments: Vec<Comment>,
}

impl Ctx<'_> {
    /// The span of a pair, without the white space pest may leave at its end.
    fn span(&self, p: &Pair<'_, Rule>) -> Span {
        let s = p.as_span();
        let trimmed = self
            .text
            .get(s.start()..s.end())
            .map_or(0, |t| t.len() - t.trim_end().len());
        Span::new(self.file, s.start(), s.end() - trimmed)
    }

    /// The text of an atomic pair and its exact span (a regex may end in spaces).
    fn spanned(&self, p: &Pair<'_, Rule>) -> Spanned<String> {
        let s = p.as_span();
        Spanned::new(
            p.as_str().to_string(),
            Span::new(self.file, s.start(), s.end()),
        )
    }

    /// The inner pairs of `p`, with comments taken out and kept.
    fn inner<'i>(&mut self, p: Pair<'i, Rule>) -> Vec<Pair<'i, Rule>> {
        let mut out = Vec::new();
        for c in p.into_inner() {
            if c.as_rule() == Rule::COMMENT {
                let span = self.span(&c);
                self.comments.push(Comment {
                    text: c.as_str().trim_end().to_string(),
                    span,
                });
            } else {
                out.push(c);
            }
        }
        out
    }
}

pub(super) fn file(file: FileId, text: &str, pairs: Pairs<'_, Rule>) -> File {
    let mut cx = Ctx {
        file,
        text,
        comments: Vec::new(),
    };
    let mut blocks = Vec::new();
    for p in pairs {
        if p.as_rule() != Rule::file {
            continue;
        }
        for b in cx.inner(p) {
            match b.as_rule() {
                Rule::policy => blocks.push(Block::Policy(policy(&mut cx, b))),
                Rule::scope => blocks.push(Block::Scope(scope(&mut cx, b))),
                _ => {}
            }
        }
    }
    let mut comments = std::mem::take(&mut cx.comments);
    comments.sort_by_key(|c| c.span.start);
    File {
        blocks,
        comments,
        span: Span::new(file, 0, text.len()),
    }
}

fn policy(cx: &mut Ctx<'_>, p: Pair<'_, Rule>) -> PolicyBlock {
    let span = cx.span(&p);
    let mut keyword = span;
    let mut close = span;
    let mut entries = Vec::new();
    for c in cx.inner(p) {
        match c.as_rule() {
            Rule::k_policy => keyword = cx.span(&c),
            Rule::close_brace => close = cx.span(&c),
            Rule::policy_entry => {
                let espan = cx.span(&c);
                let mut pattern = None;
                let mut verdict = None;
                for e in cx.inner(c) {
                    match e.as_rule() {
                        Rule::status_pattern => pattern = Some(cx.spanned(&e)),
                        Rule::word => verdict = Some(cx.spanned(&e)),
                        _ => {}
                    }
                }
                if let (Some(pattern), Some(verdict)) = (pattern, verdict) {
                    entries.push(PolicyEntry {
                        pattern,
                        verdict,
                        span: espan,
                    });
                }
            }
            _ => {}
        }
    }
    PolicyBlock {
        entries,
        keyword,
        close,
        span,
    }
}

fn scope(cx: &mut Ctx<'_>, p: Pair<'_, Rule>) -> ScopeBlock {
    let span = cx.span(&p);
    let mut header = ScopeHeader {
        selectors: Vec::new(),
        span,
    };
    let mut items = Vec::new();
    let mut close = span;
    for c in cx.inner(p) {
        match c.as_rule() {
            Rule::scope_header => header = scope_header(cx, c),
            Rule::initial_block => items.push(ScopeItem::Initial(initial_block(cx, c))),
            Rule::rule => items.push(ScopeItem::Rule(rule(cx, c))),
            Rule::close_brace => close = cx.span(&c),
            _ => {}
        }
    }
    ScopeBlock {
        header,
        items,
        close,
        span,
    }
}

fn scope_header(cx: &mut Ctx<'_>, p: Pair<'_, Rule>) -> ScopeHeader {
    let span = cx.span(&p);
    let mut selectors = Vec::new();
    for c in cx.inner(p) {
        let kind = match c.as_rule() {
            Rule::k_global => SelectorKind::Global,
            Rule::mx_is => SelectorKind::MxIs,
            Rule::mx_ends_with => SelectorKind::MxEndsWith,
            Rule::rcpt_domain_is => SelectorKind::RcptDomainIs,
            _ => continue,
        };
        let sspan = cx.span(&c);
        let mut values = Vec::new();
        if kind != SelectorKind::Global {
            for list in cx.inner(c) {
                if list.as_rule() == Rule::string_list {
                    for s in cx.inner(list) {
                        if s.as_rule() == Rule::string {
                            values.push(string(cx, s));
                        }
                    }
                }
            }
        }
        selectors.push(Selector {
            kind,
            values,
            span: sspan,
        });
    }
    ScopeHeader { selectors, span }
}

fn initial_block(cx: &mut Ctx<'_>, p: Pair<'_, Rule>) -> InitialBlock {
    let span = cx.span(&p);
    let mut keyword = span;
    let mut close = span;
    let mut patterns = Vec::new();
    let mut reported = Vec::new();
    let mut rules = Vec::new();
    let mut first_keyword = true;
    for c in cx.inner(p) {
        match c.as_rule() {
            Rule::k_initial => {
                keyword = cx.span(&c);
                first_keyword = false;
            }
            Rule::reported_clause => {
                for w in cx.inner(c) {
                    match w.as_rule() {
                        Rule::k_reported if first_keyword => keyword = cx.span(&w),
                        Rule::word => reported.push(cx.spanned(&w)),
                        _ => {}
                    }
                }
            }
            Rule::status_pattern_list => {
                for s in cx.inner(c) {
                    if s.as_rule() == Rule::status_pattern {
                        patterns.push(cx.spanned(&s));
                    }
                }
            }
            Rule::rule => rules.push(rule(cx, c)),
            Rule::close_brace => close = cx.span(&c),
            _ => {}
        }
    }
    InitialBlock {
        patterns,
        reported,
        rules,
        keyword,
        close,
        span,
    }
}

fn rule(cx: &mut Ctx<'_>, p: Pair<'_, Rule>) -> crate::syntax::ast::Rule {
    let span = cx.span(&p);
    let mut regex = Spanned::new(String::new(), span);
    let mut flags = Spanned::new(String::new(), span);
    let mut status = Spanned::new(String::new(), span);
    let mut words = Vec::new();
    let mut note = None;
    let mut examples = Vec::new();
    for c in cx.inner(p) {
        match c.as_rule() {
            Rule::regex => {
                for r in cx.inner(c) {
                    match r.as_rule() {
                        Rule::regex_body => regex = cx.spanned(&r),
                        Rule::regex_end => {
                            for f in cx.inner(r) {
                                if f.as_rule() == Rule::regex_flags {
                                    flags = cx.spanned(&f);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            Rule::status_pattern => status = cx.spanned(&c),
            Rule::word => words.push(cx.spanned(&c)),
            Rule::string => note = Some(string(cx, c)),
            Rule::example => {
                let espan = cx.span(&c);
                for s in cx.inner(c) {
                    if s.as_rule() == Rule::string {
                        examples.push(Example {
                            reply: string(cx, s),
                            span: espan,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    crate::syntax::ast::Rule {
        regex,
        flags,
        status,
        words,
        note,
        examples,
        span,
    }
}

/// A string literal: its unescaped text, spanning the quotes.
fn string(cx: &mut Ctx<'_>, p: Pair<'_, Rule>) -> Spanned<String> {
    let span = cx.span(&p);
    let mut text = String::new();
    for b in cx.inner(p) {
        if b.as_rule() == Rule::string_body {
            text = unescape_string(b.as_str());
        }
    }
    Spanned::new(text, span)
}
