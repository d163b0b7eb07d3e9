//! The shared vocabulary every stage speaks: source positions, statuses,
//! the validated rule set, bounce records and their normalization, and the
//! byte, file and text helpers below them all. Nothing here imports another
//! module of the crate.

pub mod bounce;
pub mod bytes;
pub mod fs;
pub mod model;
pub mod normalize;
pub mod source;
pub mod status;
pub mod text;
