//! Templates: a normalized reply with its variable parts masked.
//!
//! A reply is split at its single spaces into words, and each word into
//! literal pieces and masks ([`Mask`]): e-mail addresses, IPv4 and IPv6
//! addresses, ids, numbers and URL query strings. Replies that differ only
//! in what the masks hide share a template, and so a cluster.

use std::net::Ipv6Addr;

use crate::core::normalize::{Reply, find_enhanced};
use crate::core::status::Status;

/// What a mask hides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mask {
    /// An e-mail address: `<EMAIL>`.
    Email,
    /// An IPv4 or IPv6 address: `<IP>`.
    Ip,
    /// An id of 6 characters or more that holds a digit: `<ID>`.
    Id,
    /// A number, decimals included: `<N>`.
    Number,
    /// The query string of a URL, after its `?`: `<QUERY>`.
    Query,
}

impl Mask {
    /// How the mask is shown in a template.
    pub fn label(self) -> &'static str {
        match self {
            Mask::Email => "<EMAIL>",
            Mask::Ip => "<IP>",
            Mask::Id => "<ID>",
            Mask::Number => "<N>",
            Mask::Query => "<QUERY>",
        }
    }

    /// A regex (in the rules language's byte-oriented syntax) matching
    /// every text the mask may hide.
    pub fn pattern(self) -> &'static str {
        match self {
            Mask::Email => r"\S+@\S+",
            Mask::Ip => "[0-9A-Fa-f.:]+",
            Mask::Id => r"[\w.-]+",
            Mask::Number => r"[\d.]+",
            Mask::Query => r"\S*",
        }
    }
}

/// A piece of a template: literal text or a mask.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Piece {
    Lit(String),
    Mask(Mask),
}

/// A template: the words of a normalized reply (split at its single
/// spaces), each a sequence of pieces.
pub(super) type Words = Vec<Vec<Piece>>;

/// The template of a reply, as shown: the reply normalized, its variable
/// parts masked.
pub fn template(reply: &str) -> String {
    let reply = Reply::new(reply, None);
    display(&words(&reply))
}

/// The template as shown: the words joined by spaces, each mask by its
/// label.
pub(super) fn display(words: &[Vec<Piece>]) -> String {
    words
        .iter()
        .map(|w| {
            w.iter()
                .map(|p| match p {
                    Piece::Lit(s) => s.as_str(),
                    Piece::Mask(m) => m.label(),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits a normalized reply into masked words.
pub(super) fn words(reply: &Reply) -> Words {
    if reply.text.is_empty() {
        return Vec::new();
    }
    reply
        .text
        .split(' ')
        .enumerate()
        .map(|(i, word)| {
            let mut out = Vec::new();
            if i == 0 && reply.code.is_some() {
                out.push(Piece::Lit(word.to_string()));
            } else {
                mask_into(word, &mut out);
            }
            merge(out)
        })
        .collect()
}

/// Joins adjacent literal pieces.
fn merge(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for p in pieces {
        match (out.last_mut(), p) {
            (Some(Piece::Lit(prev)), Piece::Lit(s)) => prev.push_str(&s),
            (_, Piece::Lit(s)) if s.is_empty() => {}
            (_, p) => out.push(p),
        }
    }
    out
}

/// Masks one word (no spaces): URLs, then e-mail addresses, then IPv6
/// addresses, then the word-character runs.
fn mask_into(s: &str, out: &mut Vec<Piece>) {
    if s.is_empty() {
        return;
    }
    if let Some(start) = find_url(s) {
        mask_into(&s[..start], out);
        let url = &s[start..];
        let end = url.trim_end_matches(['.', ',', ';', ':', ')', ']', '>', '\'', '"', '!']);
        let (url, tail) = url.split_at(end.len());
        // The path keeps its words (ids and addresses in it masked), the
        // query string is masked whole.
        match url.split_once('?') {
            Some((base, query)) if !query.is_empty() => {
                mask_runs(base, out);
                out.push(Piece::Lit(String::from("?")));
                out.push(Piece::Mask(Mask::Query));
            }
            _ => mask_runs(url, out),
        }
        out.push(Piece::Lit(tail.to_string()));
        return;
    }
    if let Some((a, b)) = find_email(s) {
        mask_into(&s[..a], out);
        out.push(Piece::Mask(Mask::Email));
        mask_into(&s[b..], out);
        return;
    }
    if let Some((a, b)) = find_ipv6(s) {
        mask_into(&s[..a], out);
        out.push(Piece::Mask(Mask::Ip));
        mask_into(&s[b..], out);
        return;
    }
    mask_runs(s, out);
}

/// Where an `http://` or `https://` URL starts in `s`.
fn find_url(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    [lower.find("http://"), lower.find("https://")]
        .into_iter()
        .flatten()
        .min()
}

/// A byte of the local part of an e-mail address.
fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._%+=-'".contains(&b)
}

/// A byte of the domain of an e-mail address.
fn is_domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// The byte range of the first e-mail address in `s`: a local part and a
/// domain around an `@`, neither empty.
fn find_email(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    for (at, _) in s.match_indices('@') {
        let mut start = at;
        while start > 0 && is_local_char(b[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < b.len() && is_domain_char(b[end]) {
            end += 1;
        }
        while end > at + 1 && matches!(b[end - 1], b'.' | b'-') {
            end -= 1;
        }
        if start < at && end > at + 1 {
            return Some((start, end));
        }
    }
    None
}

/// The byte range of the first IPv6 address in `s`: a run of hex digits,
/// colons and dots with two colons or more that parses as one (an `IPv6:`
/// style prefix before it is left out).
fn find_ipv6(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let is_v6 = |c: u8| c.is_ascii_hexdigit() || c == b':' || c == b'.';
    let mut i = 0;
    while i < b.len() {
        if !is_v6(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_v6(b[i]) {
            i += 1;
        }
        let run = &s[start..i];
        let run_trimmed = run.trim_end_matches('.');
        let end = start + run_trimmed.len();
        if run_trimmed.matches(':').count() >= 2 {
            let at_boundary = start == 0 || !b[start - 1].is_ascii_alphanumeric();
            if at_boundary && run_trimmed.len() > 2 && run_trimmed.parse::<Ipv6Addr>().is_ok() {
                return Some((start, end));
            }
            if let Some(colon) = run_trimmed.find(':') {
                let rest = &run_trimmed[colon + 1..];
                if rest.matches(':').count() >= 2 && rest.parse::<Ipv6Addr>().is_ok() {
                    return Some((start + colon + 1, end));
                }
            }
        }
    }
    None
}

/// A character of a word run: `[A-Za-z0-9._-]`.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Masks the runs of word characters (`[A-Za-z0-9._-]`) of `s`; the rest
/// stays literal.
fn mask_runs(s: &str, out: &mut Vec<Piece>) {
    let mut rest = s;
    while !rest.is_empty() {
        let lit_end = rest.find(is_word_char).unwrap_or(rest.len());
        out.push(Piece::Lit(rest[..lit_end].to_string()));
        rest = &rest[lit_end..];
        let run_end = rest.find(|c| !is_word_char(c)).unwrap_or(rest.len());
        let run = &rest[..run_end];
        rest = &rest[run_end..];
        // Punctuation around the run stays literal.
        let core = run.trim_matches(['.', '_', '-']);
        let lead = run.len() - run.trim_start_matches(['.', '_', '-']).len();
        out.push(Piece::Lit(run[..lead].to_string()));
        match mask_of(core) {
            Some(m) => out.push(Piece::Mask(m)),
            None => out.push(Piece::Lit(core.to_string())),
        }
        out.push(Piece::Lit(run[lead + core.len()..].to_string()));
    }
}

/// What a run of word characters is masked as, if anything.
fn mask_of(core: &str) -> Option<Mask> {
    if !core.bytes().any(|b| b.is_ascii_digit()) || is_status(core) {
        return None;
    }
    if is_ipv4(core) {
        return Some(Mask::Ip);
    }
    if core.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Some(Mask::Number);
    }
    (core.len() >= 6).then_some(Mask::Id)
}

/// `5.1.1`, `4.7.650`: an RFC 3463 status.
fn is_status(s: &str) -> bool {
    s.parse::<Status>().is_ok() && find_enhanced(s).is_some()
}

/// `192.0.2.1`: an IPv4 address.
pub(super) fn is_ipv4(s: &str) -> bool {
    s.parse::<std::net::Ipv4Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        let cases = [
            (
                "550 5.1.1 <bob.smith+x@Example.COM>: Recipient address rejected",
                "550 5.1.1 <<EMAIL>>: Recipient address rejected",
            ),
            (
                "451 4.7.1 Greylisted, try 2001:db8::1 or [IPv6:2001:db8::2] in 300 seconds",
                "451 4.7.1 Greylisted, try <IP> or [IPv6:<IP>] in <N> seconds",
            ),
            (
                "554 5.7.1 Service unavailable; Client host [192.0.2.55] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.55.",
                "554 5.7.1 Service unavailable; Client host [<IP>] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/<IP>.",
            ),
            (
                "550 5.4.1 Recipient address rejected: Access denied. [BN1NAM02FT009.eop-nam02.prod.protection.outlook.com 2024-05-01T10:20:30.123Z 08DC6A]",
                "550 5.4.1 Recipient address rejected: Access denied. [<ID> <ID>:<N>:<ID> <ID>]",
            ),
            (
                "421 Ratelimit at 10:20:30 (code 42)",
                "421 Ratelimit at <N>:<N>:<N> (code <N>)",
            ),
            (
                "550 (5.1.1) RFC 5321 mailbox",
                "550 (5.1.1) RFC <N> mailbox",
            ),
            ("554 score 12.5 over 10.", "554 score <N> over <N>."),
            (
                "smtp; 550 see http://x.example/a?b=1&c=2).",
                "550 see http://x.example/a?<QUERY>).",
            ),
            ("", ""),
        ];
        for (reply, want) in cases {
            assert_eq!(template(reply), want, "{reply}");
        }
    }
}
