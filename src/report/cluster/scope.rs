//! The scope a rule for an unmatched reply would be written in.
//!
//! An MX host gives its registrable-ish suffix ([`mx_suffix`]), an MX given
//! as an IPv4 address gives `mx is "…"`, and without a usable MX the
//! recipient domain gives `rcpt domain is "…"`; without either the scope is
//! `global` ([`scope_for`]).

use super::template::is_ipv4;
use crate::core::model::ScopeKey;
use crate::core::normalize::is_scope_name;

/// The last two labels of a host, or the last three under a two-level
/// public suffix (`co.uk`, `com.au`, …). `None` for a host of one label.
///
/// ```
/// use mxrules::report::cluster::mx_suffix;
///
/// assert_eq!(mx_suffix("gmail-smtp-in.l.google.com").as_deref(), Some("google.com"));
/// assert_eq!(mx_suffix("mx.example.co.uk").as_deref(), Some("example.co.uk"));
/// assert_eq!(mx_suffix("localhost"), None);
/// ```
pub fn mx_suffix(host: &str) -> Option<String> {
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return None;
    }
    let last_two = labels[labels.len() - 2..].join(".");
    let keep = if labels.len() >= 3 && TWO_LEVEL_SUFFIXES.contains(&last_two.as_str()) {
        3
    } else {
        2
    };
    Some(labels[labels.len() - keep..].join("."))
}

/// Public suffixes of two labels under which mail domains are registered.
const TWO_LEVEL_SUFFIXES: &[&str] = &[
    "ac.jp", "ac.uk", "co.id", "co.il", "co.in", "co.jp", "co.kr", "co.nz", "co.th", "co.uk",
    "co.za", "com.ar", "com.au", "com.br", "com.cn", "com.co", "com.hk", "com.mx", "com.my",
    "com.pl", "com.sg", "com.tr", "com.tw", "com.ua", "gov.uk", "ltd.uk", "me.uk", "ne.jp",
    "net.au", "net.br", "net.cn", "net.nz", "net.ua", "or.jp", "org.au", "org.br", "org.nz",
    "org.uk", "org.za", "plc.uk",
];

/// The scope a rule for a bounce from `mx` (normalized) to a recipient at
/// `rcpt_domain` would be written in.
pub fn scope_for(mx: Option<&str>, rcpt_domain: Option<&str>) -> ScopeKey {
    if let Some(host) = mx {
        if is_ipv4(host) {
            return ScopeKey::MxExact(host.to_string());
        }
        if is_scope_name(host) {
            return match mx_suffix(host) {
                Some(suffix) => ScopeKey::MxSuffix(suffix),
                None => ScopeKey::MxExact(host.to_string()),
            };
        }
    }
    match rcpt_domain.map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase()) {
        Some(d) if is_scope_name(&d) => ScopeKey::RcptDomain(d),
        _ => ScopeKey::Global,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert_eq!(
            scope_for(Some("mx1.seznam.cz"), Some("seznam.cz")),
            ScopeKey::MxSuffix("seznam.cz".into())
        );
        assert_eq!(
            scope_for(Some("192.0.2.1"), None),
            ScopeKey::MxExact("192.0.2.1".into())
        );
        assert_eq!(
            scope_for(Some("2001:db8::1"), Some("x.org")),
            ScopeKey::RcptDomain("x.org".into())
        );
        assert_eq!(scope_for(None, None), ScopeKey::Global);
        assert_eq!(
            scope_for(Some("mail.example.com.au"), None),
            ScopeKey::MxSuffix("example.com.au".into())
        );
    }
}
