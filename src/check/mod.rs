//! Checking: from the syntax trees to a validated rule set, with every
//! diagnostic.
//!
//! [`check_all`] is the whole of `mxrules check`, as a library function:
//!
//! 1. **Validation** ([`check`]): the parse diagnostics, then statuses,
//!    words, regexes, flags, scope keys, policy and examples, every file and
//!    every problem. Errors E002 to E014 and warnings W001 to W004; any
//!    error stops here, with no rule set.
//! 2. **Compilation** ([`crate::compile`]): the rule set is compiled as
//!    `mxrules compile` would, which finds rules too big for a DFA (E015).
//!    The compiled classifier serves the examples lint.
//! 3. **Analysis** ([`analysis`], unless switched off), one pass per lint:
//!    dead regexes (W008) and duplicate rules (W007), conflicting overlaps
//!    (W006), shadowed rules (W005), examples another rule takes (W009,
//!    when the rules compiled), cross-scope overrides (I001, when asked);
//!    I002 where a question is too big to decide.
//!
//! The diagnostics of all stages come back together, sorted by file and
//! position ([`crate::diag::sort`]); then the warnings allowed away are
//! dropped and, with [`Options::deny_warnings`], the rest become errors.
//! Rendering them is [`crate::diag`]'s work.
//!
//! ```
//! use mxrules::syntax::load::Parsed;
//! let mut parsed = Parsed::default();
//! parsed.add_text("a.rules", r#"global {
//!     /user unknown/ -> 5.1.1 quarantine
//!     /^550 user unknown/ -> 5.1.1 quarantine
//! }"#);
//! let checked = mxrules::check::check_all(&parsed, &Default::default());
//! assert_eq!(checked.diagnostics[0].code.as_str(), "W005");
//! assert!(!checked.has_errors());
//! assert!(checked.compiled.is_some());
//! ```

pub mod analysis;
mod validate;

pub use validate::check;

use crate::compile;
use crate::core::model::RuleSet;
use crate::diag::{self, Code, Diagnostic, Severity};
use crate::runtime::classify::Classifier;
use crate::syntax::load::Parsed;

/// What [`check_all`] runs, and how it reports.
#[derive(Clone, Debug)]
pub struct Options {
    /// The analysis settings; `None` skips the analysis.
    pub analysis: Option<analysis::Options>,
    /// The compilation settings (the DFA size cap decides E015).
    pub compile: compile::Options,
    /// Codes not to report (warnings and infos; an error cannot be
    /// allowed).
    pub allow: Vec<Code>,
    /// Report every warning as an error.
    pub deny_warnings: bool,
}

impl Default for Options {
    /// What `mxrules check` does without flags: every stage, the default
    /// settings.
    fn default() -> Options {
        Options {
            analysis: Some(analysis::Options::default()),
            compile: compile::Options::default(),
            allow: Vec::new(),
            deny_warnings: false,
        }
    }
}

/// The rules compiled while checking them.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The classifier, ready to classify.
    pub classifier: Classifier,
    /// Figures about the compilation.
    pub stats: compile::Stats,
}

/// The result of checking: the rule set when it validates, every
/// diagnostic, and what the later stages made of the rules.
#[derive(Debug)]
pub struct Checked {
    /// The validated rule set; `None` when validation found an error.
    pub rules: Option<RuleSet>,
    /// Every diagnostic of the stages that ran, sorted by file and
    /// position.
    pub diagnostics: Vec<Diagnostic>,
    /// The compiled rules; `None` when the rules do not validate or do not
    /// compile, or compilation did not run ([`check`] alone).
    pub compiled: Option<Compiled>,
    /// Figures about the analysis, when it ran.
    pub analysis: Option<analysis::Stats>,
}

impl Checked {
    /// True when a diagnostic is an error: the rules cannot be used as
    /// they are.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks parsed files through every stage: validation, compilation (for
/// rules too big for a DFA) and analysis; the diagnostics of all, sorted,
/// with `opts.allow` and `opts.deny_warnings` applied.
pub fn check_all(parsed: &Parsed, opts: &Options) -> Checked {
    let mut checked = check(parsed);
    if let Some(rules) = &checked.rules {
        let (compiled, errors) = compile_stage(rules, &opts.compile);
        checked.diagnostics.extend(errors);
        if let Some(analysis) = &opts.analysis {
            let classifier = compiled.as_ref().map(|c| &c.classifier);
            let report = analysis::analyse_with(rules, analysis, classifier);
            checked.diagnostics.extend(report.diagnostics);
            checked.analysis = Some(report.stats);
        }
        checked.compiled = compiled;
        diag::sort(&mut checked.diagnostics);
    }
    report_as_asked(&mut checked.diagnostics, opts);
    checked
}

/// Compiles validated rules: the compiled rules, or the diagnostics of the
/// rules that do not fit (E015).
fn compile_stage(rules: &RuleSet, opts: &compile::Options) -> (Option<Compiled>, Vec<Diagnostic>) {
    match compile::compile(rules.clone(), opts) {
        Ok((tables, stats)) => (
            Some(Compiled {
                classifier: Classifier::from_tables(tables),
                stats,
            }),
            Vec::new(),
        ),
        Err(errors) => (None, errors),
    }
}

/// Drops the allowed codes and, when warnings are denied, makes the
/// warnings errors.
fn report_as_asked(diags: &mut Vec<Diagnostic>, opts: &Options) {
    diags.retain(|d| d.severity == Severity::Error || !opts.allow.contains(&d.code));
    if opts.deny_warnings {
        for d in diags.iter_mut() {
            if d.severity == Severity::Warning {
                d.severity = Severity::Error;
            }
        }
    }
}
