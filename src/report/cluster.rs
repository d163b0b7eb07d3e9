//! Unmatched replies, clustered into templates, each with a suggested rule.
//!
//! A [`Clusterer`] keeps the records no rule matched and groups them by
//! three things:
//!
//! 1. **Scope**: the MX host's registrable-ish suffix, the scope a rule for
//!    it would be written in (`gmail-smtp-in.l.google.com` → `.google.com`;
//!    the last two labels, or three under a known two-level public suffix
//!    such as `co.uk`, see [`mx_suffix`]). An MX given as an IPv4 address
//!    gives `mx is "…"`; without a usable MX the recipient domain gives
//!    `rcpt domain is "…"`, and without either the scope is `global`.
//! 2. **Initial status**: the status the bounce arrived with, which the
//!    suggested rule's `initial` block names.
//! 3. **Template**: the normalized reply with its variable parts masked
//!    ([`template`]): e-mail addresses (`<EMAIL>`), IPv4 and IPv6 addresses
//!    (`<IP>`), ids of 6 characters or more that contain a digit, such as
//!    `a1si123456qkb.2` or the `BN1NAM02FT009.eop-nam02.prod.protection.outlook.com`
//!    Microsoft puts in brackets (`<ID>`), other numbers, decimals included
//!    (`<N>`), and URL query strings (`?<QUERY>`). The reply code at the
//!    start and enhanced status codes anywhere are kept. Words are runs of
//!    ASCII letters, digits, `.`, `_` and `-`; the rest stays as it is.
//!
//! [`Clusterer::finish`] ranks the clusters by count, keeps the biggest and
//! writes for each a [`Suggestion`]: a scope block holding one rule whose
//! regex is the start of the template (literal text escaped, each mask
//! replaced by a pattern that matches what it hid: [`Mask::pattern`]), long
//! enough to take no example of the other clusters of its scope and initial
//! status (the whole template, anchored at the end too, when it is the start
//! of another), and whose status is the reply's enhanced code or, for replies
//! without one (or with only `<class>.0.0`), a precise code guessed from the
//! words of the reply ([`guess_status`]). Up to three of the cluster's
//! replies are the rule's examples, so `mxrules check` verifies the
//! suggestion like any rule.
//!
//! ```
//! use mxrules::report::cluster::template;
//!
//! assert_eq!(
//!     template("550 5.7.1 [203.0.113.7 14] Blocked, see https://example.net/unblock?id=8f3a9c1d - gsmtp a1si123456qkb.2"),
//!     "550 5.7.1 [<IP> <N>] Blocked, see https://example.net/unblock?<QUERY> - gsmtp <ID>",
//! );
//! ```

use std::collections::HashMap;
use std::net::Ipv6Addr;

use super::{ReportRecord, csv_field};
use crate::core::model::{RuleSet, ScopeKey, syntax_config};
use crate::core::normalize::{Reply, normalize_mx};
use crate::core::source::Location;
use crate::core::status::Status;
use crate::core::text::plural;
use crate::syntax::ast::escape_string;

/// The most example replies kept per cluster.
pub const MAX_EXAMPLES: usize = 3;

/// The most MX hosts listed per cluster.
const MAX_HOSTS: usize = 3;

/// A suggested regex takes whole words of the template until it holds at
/// least this many literal characters (or the template ends).
const MIN_LITERAL: usize = 48;

/// What a mask hides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mask {
    Email,
    Ip,
    Id,
    Number,
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
enum Piece {
    Lit(String),
    Mask(Mask),
}

/// A template: the words of a normalized reply (split at its single
/// spaces), each a sequence of pieces.
type Words = Vec<Vec<Piece>>;

/// The template of a reply, as shown: the reply normalized, its variable
/// parts masked.
pub fn template(reply: &str) -> String {
    let reply = Reply::new(reply, None);
    display(&words(&reply))
}

fn display(words: &[Vec<Piece>]) -> String {
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
fn words(reply: &Reply) -> Words {
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

fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._%+=-'".contains(&b)
}

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
    s.parse::<Status>().is_ok() && crate::core::normalize::find_enhanced(s).is_some()
}

fn is_ipv4(s: &str) -> bool {
    s.parse::<std::net::Ipv4Addr>().is_ok()
}

/// The regex of the first `n` words of a template, anchored at the start,
/// and at the end too when `anchor_end`; slashes escaped for the rules
/// language.
fn regex_of(words: &[Vec<Piece>], n: usize, anchor_end: bool) -> String {
    let mut re = String::from("^");
    for (i, word) in words.iter().take(n).enumerate() {
        if i > 0 {
            re.push(' ');
        }
        for piece in word {
            match piece {
                Piece::Lit(s) => push_literal(&mut re, s),
                Piece::Mask(m) => re.push_str(m.pattern()),
            }
        }
    }
    if anchor_end {
        re.push('$');
    }
    re
}

/// Escapes literal text for a byte-oriented regex between slashes: regex
/// meta characters with `regex_syntax::escape`, `/` as `\/`, and every
/// byte of a non-ASCII character as `\xNN`.
fn push_literal(re: &mut String, s: &str) {
    for c in s.chars() {
        if c == '/' {
            re.push_str("\\/");
        } else if c.is_ascii() {
            regex_syntax::escape_into(c.encode_utf8(&mut [0; 4]), re);
        } else {
            for b in c.encode_utf8(&mut [0; 4]).bytes() {
                re.push_str(&format!("\\x{b:02X}"));
            }
        }
    }
}

/// The number of literal characters in the first `n` words.
fn literal_len(words: &[Vec<Piece>], n: usize) -> usize {
    words
        .iter()
        .take(n)
        .map(|w| {
            w.iter()
                .map(|p| match p {
                    Piece::Lit(s) => s.chars().count(),
                    Piece::Mask(_) => 0,
                })
                .sum::<usize>()
                + 1
        })
        .sum()
}

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

/// Whether the scope checker accepts `name` (labels of letters, digits,
/// `-` and `_`).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The scope a rule for a bounce from `mx` (normalized) to a recipient at
/// `rcpt_domain` would be written in.
pub fn scope_for(mx: Option<&str>, rcpt_domain: Option<&str>) -> ScopeKey {
    if let Some(host) = mx {
        if is_ipv4(host) {
            return ScopeKey::MxExact(host.to_string());
        }
        if valid_name(host) {
            return match mx_suffix(host) {
                Some(suffix) => ScopeKey::MxSuffix(suffix),
                None => ScopeKey::MxExact(host.to_string()),
            };
        }
    }
    match rcpt_domain.map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase()) {
        Some(d) if valid_name(&d) => ScopeKey::RcptDomain(d),
        _ => ScopeKey::Global,
    }
}

/// A precise status for a reply that carries none (or only `<class>.0.0`),
/// guessed from its words: addressing, mailbox, size, rate and policy
/// wordings, in that order; `<class>.0.0` when none is recognized.
///
/// ```
/// use mxrules::report::cluster::guess_status;
/// assert_eq!(guess_status(5, "550 Recipient address rejected: User unknown").to_string(), "5.1.1");
/// assert_eq!(guess_status(4, "451 Too many messages, try later").to_string(), "4.7.0");
/// assert_eq!(guess_status(5, "554 Go away").to_string(), "5.0.0");
/// ```
pub fn guess_status(class: u8, text: &str) -> Status {
    const GUESSES: &[(&[&str], u16, u16)] = &[
        (
            &[
                "no such domain",
                "domain not found",
                "domain does not exist",
                "host not found",
                "unrouteable",
                "unroutable",
            ],
            1,
            2,
        ),
        (
            &[
                "user unknown",
                "unknown user",
                "no such user",
                "no such mailbox",
                "no such recipient",
                "does not exist",
                "doesn't exist",
                "invalid mailbox",
                "invalid recipient",
                "unknown recipient",
                "recipient unknown",
                "mailbox not found",
                "user not found",
                "mailbox unavailable",
                "not a valid mailbox",
            ],
            1,
            1,
        ),
        (
            &[
                "disabled",
                "inactive",
                "suspended",
                "deactivated",
                "frozen",
                "locked",
            ],
            2,
            1,
        ),
        (
            &[
                "quota",
                "mailbox full",
                "mailbox is full",
                "out of storage",
                "insufficient storage",
                "storage space",
            ],
            2,
            2,
        ),
        (
            &["too large", "too big", "size limit", "message size"],
            3,
            4,
        ),
        (&["greylist", "graylist"], 7, 1),
        (
            &[
                "too many",
                "rate limit",
                "ratelimit",
                "throttl",
                "try again later",
                "try later",
            ],
            7,
            0,
        ),
        (
            &[
                "spam",
                "blocklist",
                "block list",
                "blacklist",
                "spamhaus",
                "reputation",
                "dnsbl",
                "policy",
                "blocked",
                "denied",
                "not allowed",
                "not authorized",
                "refused",
                "rejected",
                "relay",
            ],
            7,
            1,
        ),
    ];
    let lower = text.to_ascii_lowercase();
    // A keyword counts at the start of a word only (`blocked` is not `locked`).
    let has = |w: &str| {
        lower.match_indices(w).any(|(i, _)| {
            !lower[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric())
        })
    };
    GUESSES
        .iter()
        .find(|(words, _, _)| words.iter().any(|w| has(w)))
        .map_or(Status::class_only(class), |&(_, subject, detail)| {
            Status::new(class, subject, detail)
        })
}

/// One example reply of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The normalized reply.
    pub reply: String,
    /// The MX host, normalized.
    pub mx: Option<String>,
    pub rcpt_domain: Option<String>,
}

/// A rule suggested for a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The regex, as written between the slashes.
    pub regex: String,
    pub status: Status,
    /// A whole scope block holding the rule and its examples, in the
    /// canonical layout of `mxrules fmt`.
    pub rule: String,
}

/// Replies of one scope and initial status that share a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub scope: ScopeKey,
    pub initial: Option<Status>,
    pub template: String,
    pub count: usize,
    /// Up to [`MAX_EXAMPLES`] distinct replies, in input order.
    pub examples: Vec<Example>,
    /// Up to three distinct MX hosts, in input order.
    pub hosts: Vec<String>,
    /// Whether more hosts than those were seen.
    pub more_hosts: bool,
    /// A scope block of the rules with the same header, where the
    /// suggestion's rule belongs.
    pub existing_scope: Option<Location>,
    pub suggestion: Suggestion,
}

/// The biggest clusters, biggest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterReport {
    /// Unmatched replies seen.
    pub unmatched: usize,
    /// Clusters found, including those left out of [`Self::clusters`].
    pub total_clusters: usize,
    pub clusters: Vec<Cluster>,
}

#[derive(Debug, Clone)]
struct Group {
    count: usize,
    first_seen: usize,
    examples: Vec<Example>,
    hosts: Vec<String>,
    more_hosts: bool,
}

type GroupKey = (ScopeKey, Option<Status>, Words);

/// Collects unmatched replies into clusters.
#[derive(Debug, Clone, Default)]
pub struct Clusterer {
    groups: HashMap<GroupKey, Group>,
    unmatched: usize,
}

impl Clusterer {
    pub fn new() -> Clusterer {
        Clusterer::default()
    }

    /// Adds a record; records a rule matched are ignored.
    pub fn add(&mut self, r: &ReportRecord) {
        if !r.classification.unmatched {
            return;
        }
        let initial = r.classification.initial_status;
        let reply = Reply::new(&r.reply, initial);
        let mx = r.mx.as_deref().and_then(normalize_mx);
        let rcpt_domain = r
            .rcpt_domain
            .as_deref()
            .map(|d| d.trim().to_ascii_lowercase());
        let scope = scope_for(mx.as_deref(), rcpt_domain.as_deref());
        let seen = self.unmatched;
        self.unmatched += 1;
        let group = self
            .groups
            .entry((scope, initial, words(&reply)))
            .or_insert_with(|| Group {
                count: 0,
                first_seen: seen,
                examples: Vec::new(),
                hosts: Vec::new(),
                more_hosts: false,
            });
        group.count += 1;
        if group.examples.len() < MAX_EXAMPLES
            && group.examples.iter().all(|e| e.reply != reply.text)
        {
            group.examples.push(Example {
                reply: reply.text.clone(),
                mx: mx.clone(),
                rcpt_domain,
            });
        }
        if let Some(host) = mx
            && !group.hosts.contains(&host)
        {
            if group.hosts.len() < MAX_HOSTS {
                group.hosts.push(host);
            } else {
                group.more_hosts = true;
            }
        }
    }

    /// Ranks the clusters, keeps the `max` biggest and writes their
    /// suggestions. With `rules`, a cluster whose scope is already declared
    /// names that block.
    pub fn finish(self, rules: Option<&RuleSet>, max: usize) -> ClusterReport {
        let mut groups: Vec<(GroupKey, Group)> = self.groups.into_iter().collect();
        groups.sort_by(|(ka, a), (kb, b)| {
            b.count
                .cmp(&a.count)
                .then(ka.0.cmp(&kb.0))
                .then(ka.1.cmp(&kb.1))
                .then(a.first_seen.cmp(&b.first_seen))
        });
        // The examples of each scope and initial status, which a rule for
        // another cluster of them must not take.
        let mut siblings: HashMap<(&ScopeKey, Option<Status>), Vec<usize>> = HashMap::new();
        for (i, ((scope, initial, _), _)) in groups.iter().enumerate() {
            siblings.entry((scope, *initial)).or_default().push(i);
        }
        let clusters = groups
            .iter()
            .enumerate()
            .take(max)
            .map(|(i, ((scope, initial, words), g))| {
                let others: Vec<&str> = siblings
                    .get(&(scope, *initial))
                    .into_iter()
                    .flatten()
                    .filter(|&&j| j != i)
                    .filter_map(|&j| groups.get(j))
                    .flat_map(|(_, g)| g.examples.iter().map(|e| e.reply.as_str()))
                    .collect();
                Cluster {
                    scope: scope.clone(),
                    initial: *initial,
                    template: display(words),
                    count: g.count,
                    examples: g.examples.clone(),
                    hosts: g.hosts.clone(),
                    more_hosts: g.more_hosts,
                    existing_scope: rules.and_then(|r| existing_scope(r, scope)),
                    suggestion: suggest(scope, *initial, words, &g.examples, &others),
                }
            })
            .collect();
        ClusterReport {
            unmatched: self.unmatched,
            total_clusters: groups.len(),
            clusters,
        }
    }
}

/// The block of `rules` that declares `scope`, if any.
fn existing_scope(rules: &RuleSet, scope: &ScopeKey) -> Option<Location> {
    rules
        .scopes
        .iter()
        .find(|s| s.keys.contains(scope))
        .map(|s| s.origin.clone())
}

/// A rule's regex, read as the rules are.
fn build(regex: &str) -> Option<regex_automata::meta::Regex> {
    regex_automata::meta::Regex::builder()
        .syntax(syntax_config(false))
        .build(regex)
        .ok()
}

/// Writes the rule for a cluster.
fn suggest(
    scope: &ScopeKey,
    initial: Option<Status>,
    words: &[Vec<Piece>],
    examples: &[Example],
    others: &[&str],
) -> Suggestion {
    // Enough words to hold MIN_LITERAL literal characters, then more until
    // no reply of another cluster of the scope matches.
    let mut n = (1..=words.len())
        .find(|&n| literal_len(words, n) >= MIN_LITERAL)
        .unwrap_or(words.len());
    let mut regex = regex_of(words, n, false);
    while !others.is_empty() {
        let Some(re) = build(&regex) else {
            break;
        };
        if !others.iter().any(|o| re.is_match(o.as_bytes())) {
            break;
        }
        if n < words.len() {
            n += 1;
            regex = regex_of(words, n, false);
        } else {
            regex = regex_of(words, n, true);
            break;
        }
    }
    let first = examples.first().map(|e| Reply::new(&e.reply, None));
    let class = initial
        .map(|s| s.class)
        .or_else(|| {
            first
                .as_ref()
                .and_then(|r| r.code)
                .and_then(|c| u8::try_from(c / 100).ok())
        })
        .filter(|c| matches!(c, 2 | 4 | 5))
        .unwrap_or(5);
    let status = match first.as_ref().and_then(|r| r.enhanced) {
        Some(s) if s.subject != 0 || s.detail != 0 => s,
        _ => guess_status(class, first.as_ref().map_or("", |r| r.text.as_str())),
    };
    // Examples `check` accepts: the same text once normalized again, with
    // the cluster's initial status.
    let checked: Vec<&Example> = examples
        .iter()
        .filter(|e| {
            let again = Reply::new(&e.reply, None);
            again.text == e.reply && (initial.is_none() || again.initial == initial)
        })
        .collect();
    let header = scope_name(scope);
    let mut rule = format!("{header} {{\n");
    let indent = if initial.is_some() {
        "        "
    } else {
        "    "
    };
    if let Some(i) = initial {
        rule.push_str(&format!("    initial {i} {{\n"));
    }
    rule.push_str(&format!("{indent}/{regex}/ -> {status}\n"));
    for e in checked {
        rule.push_str(&format!(
            "{indent}    example \"{}\"\n",
            escape_string(&e.reply)
        ));
    }
    if initial.is_some() {
        rule.push_str("    }\n");
    }
    rule.push_str("}\n");
    Suggestion {
        regex,
        status,
        rule,
    }
}

impl ClusterReport {
    /// The clusters left out and their replies.
    pub fn left_out(&self) -> (usize, usize) {
        let shown: usize = self.clusters.iter().map(|c| c.count).sum();
        (
            self.total_clusters.saturating_sub(self.clusters.len()),
            self.unmatched.saturating_sub(shown),
        )
    }

    /// One sentence: how many unmatched replies, in how many clusters.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} unmatched {} in {} {}",
            self.unmatched,
            plural(self.unmatched, "reply", "replies"),
            self.total_clusters,
            plural(self.total_clusters, "cluster", "clusters"),
        );
        let (clusters, replies) = self.left_out();
        if clusters > 0 {
            s.push_str(&format!(
                "; the biggest {} shown, {} more {} of {} {} left out",
                self.clusters.len(),
                clusters,
                plural(clusters, "cluster", "clusters"),
                replies,
                plural(replies, "reply", "replies"),
            ));
        } else if !self.clusters.is_empty() {
            s.push_str(", biggest first");
        }
        s
    }

    /// The clusters as text: a summary line, then each cluster with its
    /// template, hosts and suggested rule.
    pub fn to_text(&self) -> String {
        let mut out = self.summary();
        out.push_str(".\n");
        for (i, c) in self.clusters.iter().enumerate() {
            out.push_str(&format!(
                "\n#{}  {} {}  {}  initial {}\n",
                i + 1,
                c.count,
                plural(c.count, "reply", "replies"),
                scope_name(&c.scope),
                c.initial
                    .map_or_else(|| String::from("none"), |s| s.to_string()),
            ));
            out.push_str(&format!("  template: {}\n", c.template));
            if !c.hosts.is_empty() {
                out.push_str(&format!(
                    "  hosts:    {}{}\n",
                    c.hosts.join(", "),
                    if c.more_hosts { ", …" } else { "" }
                ));
            }
            if let Some(at) = &c.existing_scope {
                out.push_str(&format!(
                    "  the scope is declared at {}:{}: put the rule in that block\n",
                    at.file, at.line
                ));
            }
            out.push_str("  suggested rule:\n");
            for line in c.suggestion.rule.lines() {
                out.push_str("    ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// The clusters as CSV, one line each:
    /// `rank,count,scope,initial_status,template,regex,status,example`.
    pub fn to_csv(&self) -> String {
        let mut out =
            String::from("rank,count,scope,initial_status,template,regex,status,example\n");
        for (i, c) in self.clusters.iter().enumerate() {
            let fields = [
                (i + 1).to_string(),
                c.count.to_string(),
                csv_field(&scope_name(&c.scope)),
                c.initial.map_or_else(String::new, |s| s.to_string()),
                csv_field(&c.template),
                csv_field(&c.suggestion.regex),
                c.suggestion.status.to_string(),
                csv_field(c.examples.first().map_or("", |e| e.reply.as_str())),
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        out
    }
}

/// A scope as its header reads: `mx ends with ".mail.ru"`, `global`.
pub fn scope_name(scope: &ScopeKey) -> String {
    match scope {
        ScopeKey::Global => String::from("global"),
        s => s.to_string(),
    }
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

    #[test]
    fn literal_escaping() {
        let mut re = String::new();
        push_literal(&mut re, "a/b.c é");
        assert_eq!(re, "a\\/b\\.c \\xC3\\xA9");
        let re = build(&format!("^{re}$")).unwrap();
        assert!(re.is_match("a/b.c é".as_bytes()));
    }

    #[test]
    fn guesses_whole_words() {
        assert_eq!(
            guess_status(5, "550 Sender IP is temporarily blocked").to_string(),
            "5.7.1"
        );
        assert_eq!(guess_status(5, "550 Account locked").to_string(), "5.2.1");
        assert_eq!(guess_status(4, "421 unexpected").to_string(), "4.0.0");
    }

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
