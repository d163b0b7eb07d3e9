//! The quarantine list: one row per distinct address given the verdict
//! `quarantine`, with the status and rule of its first such bounce.

use std::collections::BTreeMap;
use std::path::Path;

use crate::input;

/// A quarantined address's status and deciding rule.
pub(super) struct Quarantined {
    pub(super) status: String,
    pub(super) rule: String,
}

/// The address a recipient is quarantined as: lowercase, without brackets
/// or a type prefix; none when it is no address.
pub(super) fn address(rcpt: &str) -> Option<String> {
    let a = input::clean_address(rcpt).to_lowercase();
    let ok = a.contains('@') && !a.starts_with('@') && !a.ends_with('@');
    (ok && !a.contains(char::is_whitespace)).then_some(a)
}

/// Writes the list (CSV: address, status, rule) next to its final place,
/// then renames it there, so that readers never see half of it.
pub(super) fn write(path: &Path, list: &BTreeMap<String, Quarantined>) -> std::io::Result<()> {
    let rows = list
        .iter()
        .map(|(address, q)| (address.as_str(), q.status.as_str(), q.rule.as_str()));
    crate::core::fs::write_atomically(path, &crate::output::csv::quarantine_list(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_cleaned_and_lowercased() {
        assert_eq!(
            address("rfc822; <Ann@Example.ORG>").as_deref(),
            Some("ann@example.org")
        );
        for not_one in ["", "ann", "@example.org", "ann@", "a b@example.org"] {
            assert_eq!(address(not_one), None, "{not_one:?}");
        }
    }
}
