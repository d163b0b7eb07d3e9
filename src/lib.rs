//! mxrules: a per-ISP quarantine rule compiler.
//!
//! Deliverability engineers write rules that say, for one receiving mail
//! provider, what a bounce really means ("for MX hosts ending with
//! `.mail.ru`, a 5xx whose text matches `^550 Message was not accepted --
//! invalid mailbox` means 5.1.1"). mxrules reads them, checks them, compiles
//! them into per-MX tables and classifies bounces with those tables.
//!
//! # The pipeline
//!
//! Data flows one way, each stage a module that takes the previous stage's
//! result and gives its own with all its diagnostics:
//!
//! 1. [`syntax`]: source text → syntax tree ([`syntax::ast`]); loading
//!    files ([`syntax::load`]) and the formatter ([`syntax::fmt`]). The only
//!    module that knows pest.
//! 2. [`check`]: syntax tree → validated rule set ([`core::model::RuleSet`]),
//!    then the lints, each a pass ([`check::analysis`]).
//! 3. [`compile`]: rule set → runtime tables (literals, literal pieces,
//!    DFAs).
//! 4. [`runtime`]: tables → verdicts ([`Classifier`]), and the compiled file
//!    ([`runtime::artifact`]), loaded without the compiler.
//!
//! Around them: [`core`] (positions, statuses, bounce records,
//! normalization), [`diag`] (diagnostics as data and their rendering),
//! [`input`] (one reader per bounce format), [`pipeline`] (classifying
//! inputs on threads), [`output`] (JSON lines and CSV), [`verify`] (corpus
//! tests, bless, diff) and [`report`] (tables, HTML, clusters).
//!
//! The functions at the root are the short way through:
//!
//! ```
//! let mut parsed = mxrules::Parsed::default();
//! parsed.add_text("example.rules", r#"
//! policy { 5.1.1 -> quarantine  5.*.* -> hard  4.*.* -> soft }
//! mx ends with ".mail.ru" {
//!     initial 5.0.0 {
//!         /^550 Message was not accepted -- invalid mailbox/ -> 5.1.1
//!     }
//! }"#);
//! let checked = mxrules::check(&parsed);
//! assert!(!checked.has_errors());
//! let classifier = checked.compiled.unwrap().classifier;
//!
//! let bounce = mxrules::core::bounce::Bounce::new("550 Message was not accepted -- invalid mailbox")
//!     .mx("mxs.mail.ru");
//! let v = classifier.classify(&bounce);
//! assert_eq!(v.verdict.as_str(), "quarantine");
//! assert_eq!(v.rule.as_deref(), Some("example.rules:5"));
//!
//! // The compiled file gives the same classifier back.
//! let bytes = mxrules::runtime::artifact::to_bytes(classifier.tables()).unwrap();
//! let aligned = mxrules::runtime::artifact::AlignedBytes::new(&bytes);
//! let loaded = mxrules::load(aligned.as_slice()).unwrap();
//! assert_eq!(loaded.classify(&bounce), v);
//! ```

pub mod check;
pub mod compile;
pub mod core;
pub mod diag;
pub mod input;
pub mod output;
pub mod pipeline;
pub mod report;
pub mod runtime;
pub mod syntax;
pub mod verify;

use std::path::PathBuf;

pub use runtime::classify::Classifier;
pub use syntax::load::Parsed;

/// Reads and parses rules files, and the `*.rules` files of directories
/// ([`syntax::load::parse_paths`]). Syntax errors are in the result's
/// diagnostics; only a path that cannot be read is an error.
pub fn parse(paths: &[PathBuf]) -> Result<Parsed, syntax::load::LoadError> {
    syntax::load::parse_paths(paths)
}

/// Checks parsed rules through every stage, as `mxrules check` does
/// ([`check::check_all`] with the default options): validation,
/// compilation, analysis.
pub fn check(parsed: &Parsed) -> check::Checked {
    check::check_all(parsed, &check::Options::default())
}

/// Compiles a validated rule set into a classifier with the default
/// options ([`compile::classifier`]).
pub fn compile(rules: core::model::RuleSet) -> Result<Classifier, Vec<diag::Diagnostic>> {
    compile::classifier(rules)
}

/// A classifier over a compiled file's bytes, read in place
/// ([`runtime::artifact::load`]); the bytes must be 8-byte aligned
/// ([`runtime::artifact::AlignedBytes`]).
pub fn load(bytes: &[u8]) -> Result<Classifier<&[u32]>, runtime::artifact::ArtifactError> {
    runtime::artifact::load(bytes).map(Classifier::from_tables)
}
