//! Small helpers for the text people read: counts with their noun, absent
//! values, quoted strings.

use std::fmt::Display;

/// `one` when `n` is 1, else `many`.
///
/// ```
/// use mxrules::core::text::plural;
/// assert_eq!(plural(1, "rule", "rules"), "rule");
/// assert_eq!(plural(0, "reply", "replies"), "replies");
/// ```
pub fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// `n` and its noun: `1 reply`, `2 replies`.
///
/// ```
/// assert_eq!(mxrules::core::text::counted(2, "reply", "replies"), "2 replies");
/// ```
pub fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", plural(n, one, many))
}

/// The value as text, or `none`.
pub fn or_none<T: Display>(value: Option<T>) -> String {
    value.map_or_else(|| String::from("none"), |v| v.to_string())
}

/// `s` as a JSON string: quoted, with JSON's escapes (also a valid YAML
/// double-quoted scalar).
pub fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// A duration as JSON writes it for people: milliseconds, as a number.
pub(crate) fn ser_ms<S: serde::Serializer>(
    d: &std::time::Duration,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}
