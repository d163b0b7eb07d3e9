//! The runtime: classification with compiled tables, and the compiled file.
//! Nothing here needs the compiler or the checker: a program that only
//! classifies loads a compiled file and runs.
//!
//! - [`tables`]: what classification runs on. Per scope, its rules in source
//!   order, each found by its literals, its literal pieces or its own DFA;
//!   one literal prefilter (an Aho-Corasick automaton) shared by every
//!   scope; and the scope selector, which maps an MX host and a recipient
//!   domain to the scopes to try.
//! - [`classify`]: the classifier. It normalizes a bounce, asks the tables
//!   for the deciding rule, and falls back to the policy; it also explains a
//!   classification.
//! - [`artifact`]: the compiled file (`.mxc`), its documented layout, and
//!   [`artifact::load`], which verifies a file and gives back its tables,
//!   the DFAs read in place.
//!
//! Tables come from [`crate::compile`] or from [`artifact::load`];
//! [`classify::Classifier::from_tables`] makes a classifier of either.

pub mod artifact;
pub mod classify;
pub mod engine;
pub mod tables;
mod toc;
