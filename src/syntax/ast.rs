//! The syntax tree of a rules file.
//!
//! The tree is what the parser read, checked for shape only: a status is
//! still the text `5.1.*`, a verdict is still a word. [`crate::check`] turns it
//! into the validated [`crate::core::model::RuleSet`]. Every node owns its
//! [`Span`], so every diagnostic points at the exact text.
//!
//! A tree can also be built in memory, for rules written by a program rather
//! than read from a file (the suggested rules of [`crate::report::cluster`]):
//! the `new` constructors of [`File`], [`ScopeBlock`], [`Selector`],
//! [`InitialBlock`], [`Rule`] and [`Example`] give every node an empty span
//! ([`Spanned::detached`]), and [`crate::syntax::fmt::format_tree`] prints
//! the result in the canonical layout.
//!
//! ```
//! use mxrules::syntax::ast::{Block, Example, File, InitialBlock, Rule, ScopeBlock, ScopeItem, Selector, SelectorKind};
//!
//! let rule = Rule::new("^550 5\\.1\\.1 User unknown", "5.1.1")
//!     .with_examples(vec![Example::new("550 5.1.1 User unknown")]);
//! let initial = InitialBlock::new(vec![String::from("5.1.1")], vec![rule]);
//! let scope = ScopeBlock::new(
//!     vec![Selector::new(SelectorKind::MxEndsWith, vec![String::from(".example.org")])],
//!     vec![ScopeItem::Initial(initial)],
//! );
//! let out = mxrules::syntax::fmt::format_tree(&File::new(vec![Block::Scope(scope)]));
//! assert_eq!(out, concat!(
//!     "mx ends with \".example.org\" {\n",
//!     "    initial 5.1.1 {\n",
//!     "        /^550 5\\.1\\.1 User unknown/ -> 5.1.1\n",
//!     "            example \"550 5.1.1 User unknown\"\n",
//!     "    }\n",
//!     "}\n",
//! ));
//! ```

use crate::core::source::Span;

/// A piece of text from the source and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The text or value.
    pub value: T,
    /// Where it stands in the source.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// A value read from the source at `span`.
    pub fn new(value: T, span: Span) -> Spanned<T> {
        Spanned { value, span }
    }

    /// A value built in memory, with no source text behind it: its span is
    /// empty, at the start of file 0.
    pub fn detached(value: T) -> Spanned<T> {
        Spanned {
            value,
            span: Span::default(),
        }
    }
}

/// One rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// The blocks, in source order.
    pub blocks: Vec<Block>,
    /// Every comment of the file, in order, kept for the formatter.
    pub comments: Vec<Comment>,
    /// The whole file.
    pub span: Span,
}

impl File {
    /// A file built in memory: `blocks` and no comments.
    pub fn new(blocks: Vec<Block>) -> File {
        File {
            blocks,
            comments: Vec::new(),
            span: Span::default(),
        }
    }
}

/// A `# ...` comment; `text` starts with `#`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The comment's text, from `#` to the end of the line.
    pub text: String,
    /// Where the comment stands.
    pub span: Span,
}

/// A top-level block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A `policy { ... }` block.
    Policy(PolicyBlock),
    /// A scope block (`mx ends with ".mail.ru" { ... }`).
    Scope(ScopeBlock),
}

impl Block {
    /// The whole block.
    pub fn span(&self) -> Span {
        match self {
            Block::Policy(p) => p.span,
            Block::Scope(s) => s.span,
        }
    }
}

/// `policy { 5.1.1 -> quarantine ... }`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyBlock {
    /// The entries, in source order.
    pub entries: Vec<PolicyEntry>,
    /// The `policy` keyword.
    pub keyword: Span,
    /// The closing brace.
    pub close: Span,
    /// The whole block.
    pub span: Span,
}

/// `5.7.* -> blocked`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyEntry {
    /// The status pattern (`5.7.*`), as written.
    pub pattern: Spanned<String>,
    /// The verdict word, as written.
    pub verdict: Spanned<String>,
    /// The whole entry.
    pub span: Span,
}

/// A scope block: a header and its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeBlock {
    /// What the block applies to.
    pub header: ScopeHeader,
    /// Its `initial` groups and rules, in source order.
    pub items: Vec<ScopeItem>,
    /// The closing brace.
    pub close: Span,
    /// The whole block.
    pub span: Span,
}

impl ScopeBlock {
    /// A scope block built in memory: the header `selectors` joined by
    /// `or`, then `items`.
    pub fn new(selectors: Vec<Selector>, items: Vec<ScopeItem>) -> ScopeBlock {
        ScopeBlock {
            header: ScopeHeader {
                selectors,
                span: Span::default(),
            },
            items,
            close: Span::default(),
            span: Span::default(),
        }
    }
}

/// What a scope block applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeHeader {
    /// The selectors, joined by `,` in the source.
    pub selectors: Vec<Selector>,
    /// The whole header.
    pub span: Span,
}

/// One selector of a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Which selector.
    pub kind: SelectorKind,
    /// The strings of the selector; empty for `global`.
    pub values: Vec<Spanned<String>>,
    /// The whole selector.
    pub span: Span,
}

impl Selector {
    /// A selector built in memory; `values` as they are written between
    /// the quotes, unescaped (`.mail.ru` for `mx ends with`), none for
    /// `global`.
    pub fn new(kind: SelectorKind, values: Vec<String>) -> Selector {
        Selector {
            kind,
            values: values.into_iter().map(Spanned::detached).collect(),
            span: Span::default(),
        }
    }
}

/// The kinds of scope selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SelectorKind {
    /// `global`
    Global,
    /// `mx is "host"`
    MxIs,
    /// `mx ends with ".suffix"`
    MxEndsWith,
    /// `rcpt domain is "domain"`
    RcptDomainIs,
}

/// What a scope block holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeItem {
    /// An `initial`/`reported` group of rules.
    Initial(InitialBlock),
    /// A rule straight in the scope.
    Rule(Rule),
}

impl ScopeItem {
    /// The whole item.
    pub fn span(&self) -> Span {
        match self {
            ScopeItem::Initial(b) => b.span,
            ScopeItem::Rule(r) => r.span,
        }
    }
}

/// `initial 5.0.0 { ... }`, `initial 5.*.* reported policy-related { ... }`,
/// `reported spam-related { ... }`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialBlock {
    /// The status patterns; empty when the block has only a `reported` clause.
    pub patterns: Vec<Spanned<String>>,
    /// The categories of the `reported` clause, if any.
    pub reported: Vec<Spanned<String>>,
    /// The rules of the group, in source order.
    pub rules: Vec<Rule>,
    /// The first keyword (`initial` or `reported`).
    pub keyword: Span,
    /// The closing brace.
    pub close: Span,
    /// The whole block.
    pub span: Span,
}

impl InitialBlock {
    /// An `initial` block built in memory: the status `patterns` (`5.0.0`,
    /// `5.1.*`), no `reported` clause, then `rules`.
    pub fn new(patterns: Vec<String>, rules: Vec<Rule>) -> InitialBlock {
        InitialBlock {
            patterns: patterns.into_iter().map(Spanned::detached).collect(),
            reported: Vec::new(),
            rules,
            keyword: Span::default(),
            close: Span::default(),
            span: Span::default(),
        }
    }

    /// The header of the block, from its keyword to its last pattern or category.
    pub fn header(&self) -> Span {
        let last = self
            .reported
            .last()
            .or(self.patterns.last())
            .map_or(self.keyword, |p| p.span);
        self.keyword.to(last)
    }
}

/// `/regex/flags -> status words "note" example "..."`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The regex as written between the slashes (`\/` still escaped).
    pub regex: Spanned<String>,
    /// The flags after the closing slash (`i`), possibly empty.
    pub flags: Spanned<String>,
    /// The status the rule rewrites to (`5.1.1`), as written.
    pub status: Spanned<String>,
    /// Verdict and category words, in the order written.
    pub words: Vec<Spanned<String>>,
    /// The note, unescaped.
    pub note: Option<Spanned<String>>,
    /// The `example` replies the rule must match.
    pub examples: Vec<Example>,
    /// The whole rule.
    pub span: Span,
}

impl Rule {
    /// A rule built in memory: `/regex/ -> status`, without flags, words,
    /// note or examples. `regex` is the text between the slashes, so a `/`
    /// in it must already be written `\/`.
    pub fn new(regex: impl Into<String>, status: impl Into<String>) -> Rule {
        Rule {
            regex: Spanned::detached(regex.into()),
            flags: Spanned::detached(String::new()),
            status: Spanned::detached(status.into()),
            words: Vec::new(),
            note: None,
            examples: Vec::new(),
            span: Span::default(),
        }
    }

    /// The rule with `examples` in place of its examples.
    pub fn with_examples(self, examples: Vec<Example>) -> Rule {
        Rule { examples, ..self }
    }
}

/// `example "550 must be local recipient"`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The reply, unescaped.
    pub reply: Spanned<String>,
    /// The whole example.
    pub span: Span,
}

impl Example {
    /// An example built in memory; `reply` unescaped.
    pub fn new(reply: impl Into<String>) -> Example {
        Example {
            reply: Spanned::detached(reply.into()),
            span: Span::default(),
        }
    }
}

/// Puts `\` before `"` and `\` so that the text reads back as a string.
pub fn escape_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Reads the body of a string literal: `\"` and `\\` become `"` and `\`.
pub fn unescape_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}
