//! Diagnostics: data first, rendered last.
//!
//! A [`Diagnostic`] is a code, a severity, a message and labels that point at
//! spans of the source. Every stage returns all of its diagnostics, never just
//! the first. [`render_human`] draws them rustc-style (with colour when asked);
//! [`render_json`] writes one JSON object per diagnostic for editors and CI.
//!
//! Messages follow one style: lowercase, no final period, user input in
//! backticks; help and labels are kept apart from the message.

use std::fmt;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::core::source::{SourceMap, Span};
use crate::core::text::counted;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational: reported only when asked for.
    Info,
    /// Suspicious but not wrong; fatal with `--deny-warnings`.
    Warning,
    /// The rules cannot be used.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $name:literal, $sev:ident, $title:literal;)*) => {
        /// Every diagnostic code. Codes are stable: a code is never reused
        /// for another problem.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(#[doc = $title] $variant,)*
        }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as printed: `E001`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// The snake_case name, used to switch a warning off: `empty_block`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The severity a diagnostic of this code has.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }

            /// A one-line description of the code.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }

            /// The code whose printed form or name is `s`.
            pub fn from_str_or_name(s: &str) -> Option<Code> {
                Code::ALL.iter().copied().find(|c| c.as_str().eq_ignore_ascii_case(s) || c.name() == s)
            }
        }
    };
}

codes! {
    Syntax = "E001", "syntax_error", Error, "the file does not follow the grammar";
    RegexSyntax = "E002", "invalid_regex", Error, "a rule's regex does not compile";
    InvalidStatus = "E003", "invalid_status", Error, "an enhanced status is not a valid RFC 3463 code";
    UnknownWord = "E004", "unknown_word", Error, "a word is neither a verdict nor a category";
    DuplicateScope = "E005", "duplicate_scope", Error, "the same scope is declared twice";
    ExampleMismatch = "E006", "example_mismatch", Error, "an example does not match its rule's regex";
    UnknownFlag = "E007", "unknown_flag", Error, "a regex flag is not known";
    DuplicatePolicy = "E008", "duplicate_policy", Error, "the same status pattern has two policy entries";
    WildcardStatus = "E009", "wildcard_status", Error, "a rule rewrites to a status with a wildcard";
    RepeatedAttribute = "E010", "repeated_attribute", Error, "a rule names two verdicts or two categories";
    InvalidUtf8 = "E011", "invalid_utf8", Error, "a rules file is not valid UTF-8";
    TooComplex = "E012", "too_complex", Error, "a rules file is too deeply nested or too large to parse";
    ExampleInitial = "E013", "example_initial_mismatch", Error, "an example's initial status is outside its rule's `initial` condition";
    BadScopeValue = "E014", "invalid_scope_value", Error, "a host or domain in a scope header is not a valid name";
    RuleTooBig = "E015", "rule_too_big", Error, "a rule's regex does not fit in a DFA under the size cap";
    StatusClassMismatch = "W001", "status_class_mismatch", Warning, "a rule's status class contradicts its `initial` block";
    EmptyBlock = "W002", "empty_block", Warning, "a block holds nothing";
    PolicyGap = "W003", "policy_gap", Warning, "the policy gives no verdict for a whole class of statuses";
    EmptyRegex = "W004", "empty_regex", Warning, "a rule's regex matches every reply";
    ShadowedRule = "W005", "shadowed_rule", Warning, "a rule can never fire: earlier rules of its scope cover it";
    ConflictingOverlap = "W006", "conflicting_overlap", Warning, "two rules of a scope match a common reply with different outcomes";
    DuplicateRule = "W007", "duplicate_rule", Warning, "a rule repeats an earlier rule of its scope";
    DeadRegex = "W008", "dead_regex", Warning, "a rule's regex matches nothing";
    ExampleTaken = "W009", "example_taken", Warning, "an example is classified by another rule than its own";
    CrossScopeOverride = "I001", "cross_scope_override", Info, "a specific rule overrides a global rule with another verdict";
    Undecided = "I002", "undecided", Info, "an analysis question was too big to decide";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A span with a short text shown under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Where the label points.
    pub span: Span,
    /// The text under it.
    pub text: String,
}

/// One problem found in the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The stable code: `E005`.
    pub code: Code,
    /// How serious it is: the code's, unless warnings are denied.
    pub severity: Severity,
    /// What is wrong, in one line.
    pub message: String,
    /// The text the problem is in.
    pub primary: Label,
    /// Other places that explain the problem (the first declaration, ...).
    pub secondary: Vec<Label>,
    /// Notes shown after the snippet.
    pub notes: Vec<String>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic of `code` with its default severity.
    pub fn new(
        code: Code,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            primary: Label {
                span,
                text: label.into(),
            },
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    /// Adds a label pointing at another place that explains the problem.
    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            text: label.into(),
        });
        self
    }

    /// Adds a note shown after the snippet.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Sets what to do about the problem.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// True when the diagnostic is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics by file, position and code, so output is stable.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (
            a.primary.span.file,
            a.primary.span.start,
            a.code,
            &a.message,
        )
            .cmp(&(
                b.primary.span.file,
                b.primary.span.start,
                b.code,
                &b.message,
            ))
    });
}

/// The lines around `spans` of one file: the text, the number of its first
/// line and the offset it starts at.
struct Window {
    /// The lines, with each `\r` of a CRLF line ending shown as a space
    /// (same length, so offsets hold).
    text: String,
    first_line: usize,
    offset: usize,
}

fn window(text: &str, spans: &[Span]) -> Window {
    let start = spans
        .iter()
        .map(|s| s.start as usize)
        .min()
        .unwrap_or(0)
        .min(text.len());
    let end = spans
        .iter()
        .map(|s| s.end as usize)
        .max()
        .unwrap_or(0)
        .min(text.len())
        .max(start);
    let line_start = floor_char(
        text,
        text[..floor_char(text, start)]
            .rfind('\n')
            .map_or(0, |i| i + 1),
    );
    let end = floor_char(text, end);
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    let first_line = text[..line_start].bytes().filter(|&b| b == b'\n').count() + 1;
    Window {
        text: text[line_start..line_end]
            .replace("\r\n", " \n")
            .trim_end_matches('\r')
            .to_string(),
        first_line,
        offset: line_start,
    }
}

fn floor_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn local(span: Span, w: &Window) -> std::ops::Range<usize> {
    let s = floor_char(&w.text, (span.start as usize).saturating_sub(w.offset));
    let e = floor_char(&w.text, (span.end as usize).saturating_sub(w.offset)).max(s);
    s..e
}

/// Renders diagnostics rustc-style, with ANSI colours when `color` is set.
pub fn render_human(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
            Severity::Info => Level::INFO,
        };
        // Group the labels by file, primary file first.
        let mut files = vec![d.primary.span.file];
        for l in &d.secondary {
            if !files.contains(&l.span.file) {
                files.push(l.span.file);
            }
        }
        let mut windows = Vec::new();
        for f in &files {
            let Some(src) = sources.get(*f) else { continue };
            let spans: Vec<Span> = std::iter::once(&d.primary)
                .chain(&d.secondary)
                .filter(|l| l.span.file == *f)
                .map(|l| l.span)
                .collect();
            windows.push((*f, src.name.as_str(), window(&src.text, &spans)));
        }
        let title = level
            .clone()
            .primary_title(d.message.as_str())
            .id(d.code.as_str());
        let mut elements: Vec<annotate_snippets::Element<'_>> = Vec::new();
        for (f, name, w) in &windows {
            let mut snippet = Snippet::source(w.text.as_str())
                .line_start(w.first_line)
                .path(*name);
            if d.primary.span.file == *f {
                snippet = snippet.annotation(
                    AnnotationKind::Primary
                        .span(local(d.primary.span, w))
                        .label(d.primary.text.as_str()),
                );
            }
            for l in d.secondary.iter().filter(|l| l.span.file == *f) {
                snippet = snippet.annotation(
                    AnnotationKind::Context
                        .span(local(l.span, w))
                        .label(l.text.as_str()),
                );
            }
            elements.push(snippet.into());
        }
        for n in &d.notes {
            elements.push(Level::NOTE.message(n.as_str()).into());
        }
        if let Some(h) = &d.help {
            elements.push(Level::HELP.message(h.as_str()).into());
        }
        let report: &[Group<'_>] = &[Group::with_title(title).elements(elements)];
        out.push_str(&renderer.render(report));
        out.push_str("\n\n");
    }
    out
}

/// One diagnostic as JSON.
#[derive(Debug, Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    name: &'static str,
    severity: Severity,
    message: &'a str,
    file: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    label: &'a str,
    related: Vec<JsonLabel<'a>>,
    notes: &'a [String],
    help: Option<&'a str>,
}

/// A secondary label as JSON.
#[derive(Debug, Serialize)]
struct JsonLabel<'a> {
    file: String,
    line: usize,
    column: usize,
    label: &'a str,
}

/// One JSON object per line, one line per diagnostic.
pub fn render_json(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diags {
        let start = sources.location(d.primary.span);
        let end = sources.location(Span {
            start: d.primary.span.end,
            ..d.primary.span
        });
        let j = JsonDiagnostic {
            code: d.code.as_str(),
            name: d.code.name(),
            severity: d.severity,
            message: &d.message,
            file: start.file,
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column: end.column,
            label: &d.primary.text,
            related: d
                .secondary
                .iter()
                .map(|l| {
                    let loc = sources.location(l.span);
                    JsonLabel {
                        file: loc.file,
                        line: loc.line,
                        column: loc.column,
                        label: &l.text,
                    }
                })
                .collect(),
            notes: &d.notes,
            help: d.help.as_deref(),
        };
        match serde_json::to_string(&j) {
            Ok(s) => out.push_str(&s),
            Err(e) => out.push_str(&format!("{{\"error\":\"{e}\"}}")),
        }
        out.push('\n');
    }
    out
}

/// A one-line summary: `3 errors, 1 warning`.
pub fn summary(diags: &[Diagnostic]) -> String {
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    format!(
        "{}, {}",
        counted(errors, "error", "errors"),
        counted(warnings, "warning", "warnings")
    )
}
