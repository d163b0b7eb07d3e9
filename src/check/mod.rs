//! From the syntax tree to the validated rule set, with its lints.

pub mod analysis;
mod validate;

pub use validate::*;
