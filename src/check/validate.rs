//! Validation: syntax trees to a validated [`RuleSet`].
//!
//! [`check`] looks at every file and reports every problem it finds, not the
//! first: statuses outside RFC 3463, unknown words, regexes that do not
//! compile (pointing inside the regex), scopes declared twice, examples that
//! do not match their rule. Warnings (`W...`) do not stop the rule set from
//! being built; errors (`E...`) do.
//!
//! ```
//! use mxrules::syntax::load::Parsed;
//! let mut parsed = Parsed::default();
//! parsed.add_text("mail.ru.rules", r#"
//! mx ends with ".mail.ru" {
//!     initial 5.0.0 {
//!         /^550 must be local recipient/ -> 5.7.1 quarantine
//!             example "550 must be local recipient"
//!     }
//! }"#);
//! let checked = mxrules::check::check(&parsed);
//! assert!(checked.diagnostics.is_empty());
//! assert_eq!(checked.rules.unwrap().rules.len(), 1);
//! ```

use std::collections::HashMap;

use crate::core::model::{self, Policy, PolicyEntry, RuleSet, Scope, ScopeKey};
use crate::core::normalize::Reply;
use crate::core::source::{SourceMap, Span};
use crate::core::status::{Category, Status, StatusError, StatusPattern, Verdict, error_range};
use crate::diag::{Code, Diagnostic};
use crate::syntax::ast::{self, Block, ScopeItem, SelectorKind, Spanned};
use crate::syntax::load::Parsed;

use super::Checked;

/// Validates parsed files: the first stage of checking, on its own. The
/// result holds the parse diagnostics and the validation's, sorted, and the
/// rule set when none is an error; nothing is compiled or analysed
/// ([`super::check_all`] runs every stage).
pub fn check(parsed: &Parsed) -> Checked {
    let mut cx = Checker {
        sources: &parsed.sources,
        diags: parsed.diagnostics.clone(),
        policy: Vec::new(),
        policy_seen: HashMap::new(),
        policy_blocks: Vec::new(),
        scope_keys: HashMap::new(),
        scopes: Vec::new(),
        rules: Vec::new(),
    };
    for (id, file) in &parsed.files {
        if file.blocks.is_empty() {
            let span = Span::new(*id, 0, 0);
            cx.diags.push(
                Diagnostic::new(Code::EmptyBlock, "file holds no rules and no policy", span, "empty file")
                    .with_help("add a scope block such as `mx ends with \".example.com\" { ... }`, or delete the file"),
            );
        }
        for block in &file.blocks {
            match block {
                Block::Policy(p) => cx.policy_block(p),
                Block::Scope(s) => cx.scope_block(s),
            }
        }
    }
    cx.policy_gaps();
    let policy = Policy::new(std::mem::take(&mut cx.policy));
    let rs = RuleSet {
        policy,
        scopes: cx.scopes,
        rules: cx.rules,
    };
    let mut diags = cx.diags;
    crate::diag::sort(&mut diags);
    let has_error = diags.iter().any(Diagnostic::is_error);
    Checked {
        rules: if has_error { None } else { Some(rs) },
        diagnostics: diags,
        compiled: None,
        analysis: None,
    }
}

/// The state of one validation: what is built so far, and what was seen
/// (to find duplicates and gaps).
struct Checker<'a> {
    sources: &'a SourceMap,
    diags: Vec<Diagnostic>,
    policy: Vec<PolicyEntry>,
    policy_seen: HashMap<StatusPattern, Span>,
    policy_blocks: Vec<Span>,
    scope_keys: HashMap<ScopeKey, Span>,
    scopes: Vec<Scope>,
    rules: Vec<model::Rule>,
}

/// A span inside another: `inner` is a byte range relative to `outer.start`.
fn sub_span(outer: Span, inner: std::ops::Range<usize>) -> Span {
    let start = outer.start as usize + inner.start;
    let end = (outer.start as usize + inner.end)
        .min(outer.end as usize)
        .max(start);
    Span::new(outer.file, start, end)
}

impl Checker<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Reads a status pattern (`5.1.*`), reporting a bad one.
    fn pattern(&mut self, text: &Spanned<String>, what: &str) -> Option<StatusPattern> {
        match text.value.parse::<StatusPattern>() {
            Ok(p) => Some(p),
            Err(e) => {
                self.status_error(text, &e, what);
                None
            }
        }
    }

    fn status_error(&mut self, text: &Spanned<String>, e: &StatusError, what: &str) {
        let (code, message) = match e {
            StatusError::Wildcard => (
                Code::WildcardStatus,
                format!("rule rewrites to the pattern `{}`", text.value),
            ),
            StatusError::Malformed => (
                Code::InvalidStatus,
                format!("`{}` is not a valid {what}", text.value),
            ),
            _ => (
                Code::InvalidStatus,
                format!("invalid {what} `{}`", text.value),
            ),
        };
        let label = e.to_string();
        let span = sub_span(text.span, error_range(&text.value, e));
        let mut d = Diagnostic::new(code, message, span, label);
        d = match e {
            StatusError::Wildcard => d.with_help("name the precise RFC 3463 code the reply means, like `5.1.1`"),
            StatusError::Malformed => d.with_help(
                "write three numbers (`5.1.1`); a pattern may end in `*` parts (`5.1.*`, `4.*.*`, `*.*.*`)",
            ),
            _ => d.with_note("RFC 3463: class is 2, 4 or 5; subject 0 to 7; detail 0 to 999"),
        };
        self.push(d);
    }

    fn verdict_word(&mut self, w: &Spanned<String>) -> Option<Verdict> {
        let v = Verdict::from_word(&w.value);
        if v.is_none() {
            self.push(
                Diagnostic::new(
                    Code::UnknownWord,
                    format!("unknown verdict `{}`", w.value),
                    w.span,
                    "not a verdict",
                )
                .with_help(suggest(
                    &w.value,
                    Verdict::ALL.iter().map(|v| v.as_str()),
                    "verdicts",
                )),
            );
        }
        v
    }

    fn policy_block(&mut self, p: &ast::PolicyBlock) {
        self.policy_blocks.push(p.keyword);
        if p.entries.is_empty() {
            self.push(
                Diagnostic::new(
                    Code::EmptyBlock,
                    "policy block is empty",
                    p.keyword.to(p.close),
                    "no entries",
                )
                .with_help("add entries such as `5.1.1 -> quarantine`, or delete the block"),
            );
        }
        for e in &p.entries {
            let pattern = self.pattern(&e.pattern, "status pattern");
            let verdict = self.verdict_word(&e.verdict);
            let Some(pattern) = pattern else { continue };
            if let Some(first) = self.policy_seen.get(&pattern) {
                let first = *first;
                self.push(
                    Diagnostic::new(
                        Code::DuplicatePolicy,
                        format!("status `{pattern}` has two policy entries"),
                        e.pattern.span,
                        "declared again here",
                    )
                    .with_secondary(first, "first declared here")
                    .with_help("keep one entry per status pattern"),
                );
                continue;
            }
            self.policy_seen.insert(pattern, e.pattern.span);
            if let Some(verdict) = verdict {
                self.policy.push(PolicyEntry {
                    pattern,
                    verdict,
                    origin: Some(self.sources.location(e.span)),
                });
            }
        }
    }

    /// A policy that exists but leaves class 4 or 5 without a catch-all.
    fn policy_gaps(&mut self) {
        let Some(&first) = self.policy_blocks.first() else {
            return;
        };
        for class in [5u8, 4] {
            let covered = self.policy.iter().any(|e| {
                e.pattern.class().is_none_or(|c| c == class) && e.pattern.specificity() <= 1
            });
            if !covered {
                let fallback = if class == 4 { "soft" } else { "hard" };
                self.push(
                    Diagnostic::new(
                        Code::PolicyGap,
                        format!("policy has no entry for `{class}.*.*`"),
                        first,
                        format!(
                            "statuses of class {class} not listed here fall back to `{fallback}`"
                        ),
                    )
                    .with_help(format!(
                        "add `{class}.*.* -> {fallback}` (or the verdict you want) to the policy"
                    )),
                );
            }
        }
    }

    /// A scope block: its keys, then its rules and `initial` blocks in
    /// order.
    fn scope_block(&mut self, s: &ast::ScopeBlock) {
        let scope_index = self.scopes.len();
        let keys = self.scope_keys_of(&s.header);
        if s.items.is_empty() {
            self.push(
                Diagnostic::new(
                    Code::EmptyBlock,
                    "scope block holds no rules",
                    s.header.span,
                    "this scope is empty",
                )
                .with_help("add rules or delete the block"),
            );
        }
        self.scopes.push(Scope {
            keys,
            rules: Vec::new(),
            origin: self.sources.location(s.header.span),
        });
        for item in &s.items {
            match item {
                ScopeItem::Rule(r) => self.rule(
                    r,
                    &RuleContext {
                        scope: scope_index,
                        initial: &[],
                        reported: &[],
                        block: None,
                    },
                ),
                ScopeItem::Initial(b) => self.initial_block(b, scope_index),
            }
        }
    }

    /// The valid keys of a scope header that no earlier scope declared
    /// (E005 for one that did).
    fn scope_keys_of(&mut self, header: &ast::ScopeHeader) -> Vec<ScopeKey> {
        let mut keys = Vec::new();
        for sel in &header.selectors {
            if sel.kind == SelectorKind::Global {
                keys.push((ScopeKey::Global, sel.span));
                continue;
            }
            for v in &sel.values {
                if let Some(key) = self.scope_key(sel.kind, v) {
                    keys.push((key, v.span));
                }
            }
        }
        let mut scope_keys = Vec::new();
        for (key, span) in keys {
            if let Some(first) = self.scope_keys.get(&key) {
                let first = *first;
                self.push(
                    Diagnostic::new(
                        Code::DuplicateScope,
                        format!("scope `{key}` is declared twice"),
                        span,
                        "declared again here",
                    )
                    .with_secondary(first, "first declared here")
                    .with_help(
                        "move these rules into the first block, in the order they should be tried",
                    ),
                );
                continue;
            }
            self.scope_keys.insert(key.clone(), span);
            scope_keys.push(key);
        }
        scope_keys
    }

    /// An `initial` block: its status patterns and `reported` categories,
    /// then its rules under them.
    fn initial_block(&mut self, b: &ast::InitialBlock, scope: usize) {
        let mut patterns = Vec::new();
        for p in &b.patterns {
            if let Some(p) = self.pattern(p, "initial status") {
                patterns.push(p);
            }
        }
        if b.rules.is_empty() {
            self.push(
                Diagnostic::new(
                    Code::EmptyBlock,
                    "initial block holds no rules",
                    b.header(),
                    "this block is empty",
                )
                .with_help("add rules or delete the block"),
            );
        }
        let mut reported = Vec::new();
        for w in &b.reported {
            match Category::from_word(&w.value) {
                Some(c) => reported.push(c),
                None => self.push(
                    Diagnostic::new(
                        Code::UnknownWord,
                        format!("unknown category `{}`", w.value),
                        w.span,
                        "not a category",
                    )
                    .with_help(suggest(
                        &w.value,
                        Category::ALL.iter().map(|c| c.as_str()),
                        "categories",
                    )),
                ),
            }
        }
        let valid = patterns.len() == b.patterns.len() && reported.len() == b.reported.len();
        let cx = RuleContext {
            scope,
            initial: &patterns,
            reported: &reported,
            block: valid.then_some(b),
        };
        for r in &b.rules {
            self.rule(r, &cx);
        }
    }

    fn scope_key(&mut self, kind: SelectorKind, v: &Spanned<String>) -> Option<ScopeKey> {
        let raw = v.value.trim().to_ascii_lowercase();
        let name = raw.strip_suffix('.').unwrap_or(&raw);
        let (name, what) = match kind {
            SelectorKind::MxEndsWith => (name.strip_prefix('.').unwrap_or(name), "host suffix"),
            SelectorKind::MxIs => (name, "host name"),
            _ => (name, "domain"),
        };
        if !crate::core::normalize::is_scope_name(name) {
            self.push(
                Diagnostic::new(
                    Code::BadScopeValue,
                    format!("`{}` is not a valid {what}", v.value),
                    v.span,
                    "expected dot-separated labels of letters, digits and `-`",
                )
                .with_help(match kind {
                    SelectorKind::MxEndsWith => "write a suffix such as `.mail.ru`",
                    SelectorKind::MxIs => "write a host such as `mxs.mail.ru`",
                    _ => "write a domain such as `mail.ru`",
                }),
            );
            return None;
        }
        let name = name.to_string();
        Some(match kind {
            SelectorKind::MxIs => ScopeKey::MxExact(name),
            SelectorKind::MxEndsWith => ScopeKey::MxSuffix(name),
            _ => ScopeKey::RcptDomain(name),
        })
    }

    /// Checks one rule in its context; adds it to the rule set when it has
    /// no error. Steps in order: flags, regex, status, words, the status
    /// class against the `initial` block, examples.
    fn rule(&mut self, r: &ast::Rule, cx: &RuleContext<'_>) {
        let flags_ok = self.rule_flags(&r.flags);
        let case_insensitive = r.flags.value.contains('i');
        let regex = self.rule_regex(r, case_insensitive);
        let status = match r.status.value.parse::<Status>() {
            Ok(s) => Some(s),
            Err(e) => {
                self.status_error(&r.status, &e, "status");
                None
            }
        };
        let words = self.rule_words(&r.words);
        if let (Some(status), Some(block)) = (status, cx.block) {
            self.status_class(r, status, cx.initial, block);
        }
        let matcher = regex.as_ref().and_then(Option::as_ref);
        let examples_ok = self.rule_examples(r, matcher, cx);
        let (true, Some(_), Some(status), Some(words), true) =
            (flags_ok, regex, status, words, examples_ok)
        else {
            return;
        };
        let id = self.rules.len();
        self.rules.push(model::Rule {
            id,
            scope: cx.scope,
            regex: r.regex.value.clone(),
            case_insensitive,
            initial: cx.initial.to_vec(),
            reported: cx.reported.to_vec(),
            status,
            verdict: words.verdict,
            category: words.category,
            note: r.note.as_ref().map(|n| n.value.clone()),
            examples: r.examples.iter().map(|e| e.reply.value.clone()).collect(),
            example_spans: r.examples.iter().map(|e| e.reply.span).collect(),
            origin: self.sources.location(r.span),
            span: r.span,
            head: rule_head(r),
        });
        if let Some(s) = self.scopes.get_mut(cx.scope) {
            s.rules.push(id);
        }
    }

    /// The flags after the regex: only `i`. False when one is unknown.
    fn rule_flags(&mut self, flags: &Spanned<String>) -> bool {
        let mut ok = true;
        for (i, c) in flags.value.char_indices() {
            if c == 'i' {
                continue;
            }
            ok = false;
            self.push(
                Diagnostic::new(
                    Code::UnknownFlag,
                    format!("unknown regex flag `{c}`"),
                    sub_span(flags.span, i..i + c.len_utf8()),
                    "not a flag",
                )
                .with_help("the only flag is `i` (ASCII case-insensitive); use `(?x)` and the like inside the regex"),
            );
        }
        ok
    }

    /// The regex: an empty one is a warning; one that does not parse, or
    /// cannot be a DFA, an error (`None`). When the rule has examples, the
    /// regex is built to match them against (`Some(Some(_))`).
    fn rule_regex(
        &mut self,
        r: &ast::Rule,
        case_insensitive: bool,
    ) -> Option<Option<regex_automata::meta::Regex>> {
        if r.regex.value.is_empty() {
            self.push(
                Diagnostic::new(
                    Code::EmptyRegex,
                    "empty regex matches every reply",
                    r.regex.span.to(r.flags.span),
                    "empty regex",
                )
                .with_help("write the reply text this rule is about"),
            );
        }
        let parsed = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .case_insensitive(case_insensitive)
            .build()
            .parse(&r.regex.value);
        match parsed {
            Err(e) => {
                let (range, what) = regex_error(&e);
                self.push(
                    Diagnostic::new(
                        Code::RegexSyntax,
                        format!("invalid regex: {what}"),
                        sub_span(r.regex.span, range),
                        what,
                    )
                    .with_note("regexes use the syntax of the Rust `regex` crate, byte-oriented (no Unicode classes)"),
                );
                None
            }
            Ok(hir) if hir.properties().look_set().contains_word_unicode() => {
                self.push(
                    Diagnostic::new(
                        Code::RegexSyntax,
                        "invalid regex: Unicode word boundaries cannot be compiled into a DFA",
                        r.regex.span,
                        "this regex uses `(?u:\\b)` or a Unicode `\\B`",
                    )
                    .with_help("use the ASCII word boundary `\\b` (the default here)"),
                );
                None
            }
            Ok(_) if r.examples.is_empty() => Some(None),
            Ok(_) => {
                let built = regex_automata::meta::Regex::builder()
                    .syntax(model::syntax_config(case_insensitive))
                    .build(&r.regex.value);
                match built {
                    Ok(re) => Some(Some(re)),
                    Err(e) => {
                        self.push(Diagnostic::new(
                            Code::RegexSyntax,
                            format!("invalid regex: {e}"),
                            r.regex.span,
                            "this regex cannot be built",
                        ));
                        None
                    }
                }
            }
        }
    }

    /// The words after the status: at most one verdict and one category.
    /// `None` when a word is unknown or repeated.
    fn rule_words(&mut self, words: &[Spanned<String>]) -> Option<Words> {
        let mut ok = true;
        let mut verdict: Option<(Verdict, Span)> = None;
        let mut category: Option<(Category, Span)> = None;
        for w in words {
            if let Some(v) = Verdict::from_word(&w.value) {
                if let Some((_, first)) = verdict {
                    ok = false;
                    self.push(
                        Diagnostic::new(
                            Code::RepeatedAttribute,
                            "rule names two verdicts",
                            w.span,
                            "second verdict",
                        )
                        .with_secondary(first, "first verdict")
                        .with_help("a rule gives one verdict; keep one"),
                    );
                } else {
                    verdict = Some((v, w.span));
                }
            } else if let Some(c) = Category::from_word(&w.value) {
                if let Some((_, first)) = category {
                    ok = false;
                    self.push(
                        Diagnostic::new(
                            Code::RepeatedAttribute,
                            "rule names two categories",
                            w.span,
                            "second category",
                        )
                        .with_secondary(first, "first category")
                        .with_help("a rule has one category; keep one"),
                    );
                } else {
                    category = Some((c, w.span));
                }
            } else {
                ok = false;
                let all = Verdict::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .chain(Category::ALL.iter().map(|c| c.as_str()));
                self.push(
                    Diagnostic::new(
                        Code::UnknownWord,
                        format!("unknown verdict or category `{}`", w.value),
                        w.span,
                        "not a verdict or a category",
                    )
                    .with_help(suggest(
                        &w.value,
                        all,
                        "verdicts and categories",
                    )),
                );
            }
        }
        ok.then_some(Words {
            verdict: verdict.map(|v| v.0),
            category: category.map(|c| c.0),
        })
    }

    /// W001: a rule inside an `initial` block of one class that rewrites
    /// to another class.
    fn status_class(
        &mut self,
        r: &ast::Rule,
        status: Status,
        initial: &[StatusPattern],
        block: &ast::InitialBlock,
    ) {
        let classes: Vec<u8> = initial.iter().filter_map(StatusPattern::class).collect();
        if classes.len() == initial.len() && !classes.is_empty() && !classes.contains(&status.class)
        {
            self.push(
                Diagnostic::new(
                    Code::StatusClassMismatch,
                    format!(
                        "rule rewrites to class {} inside an `initial` block of class {}",
                        status.class,
                        join_classes(&classes)
                    ),
                    r.status.span,
                    format!("class {}", status.class),
                )
                .with_secondary(block.header(), "the bounce arrived with this status")
                .with_help("a permanent failure rewritten as temporary (or back) is usually a typo; check the status"),
            );
        }
    }

    /// The examples against the regex (`matcher`, when it was built): each
    /// must match (E006) and, under an `initial` condition, carry an
    /// initial status the condition accepts (E013). False when one fails.
    fn rule_examples(
        &mut self,
        r: &ast::Rule,
        matcher: Option<&regex_automata::meta::Regex>,
        cx: &RuleContext<'_>,
    ) -> bool {
        let Some(re) = matcher else {
            return true;
        };
        let mut ok = true;
        for ex in &r.examples {
            let reply = Reply::new(&ex.reply.value, None);
            if !re.is_match(reply.text.as_bytes()) {
                ok = false;
                self.push(
                    Diagnostic::new(
                        Code::ExampleMismatch,
                        "example does not match its rule's regex",
                        ex.reply.span,
                        "this reply does not match",
                    )
                    .with_secondary(r.regex.span, "the rule's regex")
                    .with_note(format!("the normalized reply is `{}`", reply.text)),
                );
            } else if !cx.initial.is_empty()
                && !reply
                    .initial
                    .is_some_and(|s| cx.initial.iter().any(|p| p.matches(s)))
            {
                ok = false;
                let got = reply
                    .initial
                    .map_or_else(|| String::from("none"), |s| format!("`{s}`"));
                let want = cx
                    .initial
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut d = Diagnostic::new(
                    Code::ExampleInitial,
                    format!(
                        "example's initial status is {got}, outside the rule's `initial` condition"
                    ),
                    ex.reply.span,
                    format!("initial status {got}"),
                )
                .with_note(format!(
                    "the rule applies to bounces that arrived with {want}"
                ));
                if let Some(b) = cx.block {
                    d = d.with_secondary(b.header(), "the condition");
                }
                self.push(d);
            }
        }
        ok
    }
}

/// Where a rule stands: its scope and the `initial` block around it.
struct RuleContext<'b> {
    /// Index of the rule's scope in the rule set.
    scope: usize,
    /// The block's valid status patterns; empty outside a block.
    initial: &'b [StatusPattern],
    /// The block's valid `reported` categories.
    reported: &'b [Category],
    /// The block, when it is wholly valid (its patterns and categories).
    block: Option<&'b ast::InitialBlock>,
}

/// A rule's verdict and category, when its words are valid.
struct Words {
    verdict: Option<Verdict>,
    category: Option<Category>,
}

/// The span of a rule from its opening slash to its last word or note.
fn rule_head(r: &ast::Rule) -> Span {
    let mut head = r.regex.span.to(r.flags.span).to(r.status.span);
    head.start = head.start.saturating_sub(1);
    for w in &r.words {
        head = head.to(w.span);
    }
    if let Some(n) = &r.note {
        head = head.to(n.span);
    }
    head
}

fn join_classes(classes: &[u8]) -> String {
    let mut c: Vec<String> = classes.iter().map(u8::to_string).collect();
    c.dedup();
    c.join(" or ")
}

/// The byte range and the words of a regex-syntax error.
fn regex_error(e: &regex_syntax::Error) -> (std::ops::Range<usize>, String) {
    match e {
        regex_syntax::Error::Parse(e) => (
            e.span().start.offset..e.span().end.offset,
            e.kind().to_string(),
        ),
        regex_syntax::Error::Translate(e) => (
            e.span().start.offset..e.span().end.offset,
            e.kind().to_string(),
        ),
        other => (0..0, other.to_string()),
    }
}

/// "did you mean `x`?" when a known word is close, else the list of words.
fn suggest<'a>(word: &str, known: impl Iterator<Item = &'a str>, what: &str) -> String {
    let known: Vec<&str> = known.collect();
    let best = known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .min()
        .filter(|(d, k)| *d <= 2 || k.starts_with(word) && word.len() >= 3);
    match best {
        Some((_, k)) => format!("did you mean `{k}`?"),
        None => format!("the {what} are: {}", known.join(", ")),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
