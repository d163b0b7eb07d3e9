//! Classification with compiled tables: the tables, the prefilter, the
//! scope selector, the classifier and the compiled file. Nothing here needs
//! the compiler.

pub mod artifact;
pub mod classify;
pub mod engine;
pub mod tables;
