//! Normalization of bounce replies, MX hosts and recipients before matching.
//!
//! Rules are matched against a *normalized* reply, never against the raw text
//! a bounce carried: multi-line SMTP replies are joined into one line, a DSN
//! `smtp;` prefix is dropped and whitespace is folded, so that a rule written
//! for one form of a reply matches every other form of it. The same step
//! extracts the reply code, the RFC 3463 enhanced status and the *initial
//! status* that rule conditions and policies are applied to, and reduces the
//! MX host and the recipient to the names scopes are selected by.
//!
//! ```
//! use mxrules::core::normalize::{Reply, find_enhanced, normalize_mx, rcpt_domain};
//! use mxrules::core::status::Status;
//!
//! let reply = Reply::new(
//!     "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n\
//!      550-5.1.1 double-checking the recipient's email address for typos or\r\n\
//!      550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser x1si123.456 - gsmtp",
//!     None,
//! );
//! assert_eq!(
//!     reply.text,
//!     "550 5.1.1 The email account that you tried to reach does not exist. Please try \
//!      double-checking the recipient's email address for typos or unnecessary spaces. \
//!      https://support.google.com/mail/?p=NoSuchUser x1si123.456 - gsmtp",
//! );
//! assert_eq!(reply.code, Some(550));
//! assert_eq!(reply.enhanced, Some(Status::new(5, 1, 1)));
//! assert_eq!(reply.initial, Some(Status::new(5, 1, 1)));
//!
//! // No enhanced code: the initial status comes from the reply code's class.
//! let reply = Reply::new("550 must be local recipient", None);
//! assert_eq!(reply.initial, Some(Status::class_only(5)));
//!
//! // A status reported next to the reply (DSN `Status:`) wins.
//! let reply = Reply::new("550 5.1.1 user unknown", Some(Status::new(5, 1, 10)));
//! assert_eq!(reply.initial, Some(Status::new(5, 1, 10)));
//!
//! assert_eq!(
//!     find_enhanced("550 #5.1.0 Address rejected"),
//!     Some((Status::new(5, 1, 0), 5..10)),
//! );
//! assert_eq!(normalize_mx("dns; MXS.MAIL.RU."), Some("mxs.mail.ru".to_string()));
//! assert_eq!(normalize_mx("mx.example.com[1.2.3.4]:25"), Some("mx.example.com".to_string()));
//! assert_eq!(rcpt_domain("rfc822; User@Mail.RU"), Some("mail.ru".to_string()));
//! ```
//!
//! # Replies
//!
//! [`Reply::new`] applies these steps, in this order:
//!
//! 1. **DSN type prefix.** The raw text is trimmed. If it then starts with a
//!    `<type>;` prefix, where `<type>` is an ASCII letter followed by ASCII
//!    letters, digits or hyphens (`smtp;`, `SMTP;`, `X-Postfix;`, `x-unix;`,
//!    matched case-insensitively since any case is accepted), that prefix is
//!    removed and the rest trimmed again. Only one prefix, and only at the very
//!    start, is removed.
//! 2. **Lines.** The text is split into lines on LF, a CR right before the LF
//!    being part of the line break. Leading whitespace of each line is ignored
//!    (DSN header folding indents continuation lines).
//!    - If the first line starts with a reply code (rule 4 below, with any
//!      whitespace accepted after the code), the code is kept, and a `-` right
//!      after it (the continuation mark of a multi-line reply) is replaced by a
//!      space. If the first line then has an enhanced status right after the
//!      code (an optional `#` and a token as in rule 5), that is the *first
//!      enhanced status*; it is kept.
//!    - Every following line that starts with the *same* reply code followed
//!      by `-`, whitespace or the end of the line loses that code and the `-`.
//!      If it then starts (after whitespace and an optional `#`) with an
//!      enhanced status equal to the first enhanced status, that is dropped
//!      as well. A different enhanced status is kept.
//!    - Lines not in that shape (including every line when the first has no
//!      reply code) are kept whole. All lines are joined with a space.
//! 3. **Whitespace.** Every run of whitespace (Unicode `White_Space`: spaces,
//!    tabs, CR, LF, ...) becomes a single space, and the text is trimmed at
//!    both ends. The result is [`Reply::text`]; it may be empty.
//! 4. **Reply code.** [`Reply::code`] is set when the text starts with three
//!    ASCII digits, the first `2` to `5`, followed by a space, a `-` or the
//!    end of the text (`550`, `550 ...`; never `5500` or `550abc`).
//! 5. **Enhanced status.** [`Reply::enhanced`] is what [`find_enhanced`]
//!    finds in the text.
//! 6. **Initial status.** [`Reply::initial`] is the given status if any, else
//!    the enhanced status, else `<class>.0.0` where `<class>` is the first
//!    digit of the reply code when that is 2, 4 or 5, else none.
//!
//! # Enhanced status codes
//!
//! [`find_enhanced`] looks for an RFC 3463 status `class.subject.detail`: the
//! class is one digit `2`, `4` or `5`; the subject 1 to 3 digits with a value
//! from 0 to 7; the detail 1 to 3 digits (0 to 999). It must be a whole
//! token: the byte before it is not an ASCII letter, digit, `_` or `.`, and
//! the byte after it is none of those either, except for one `.` that ends a
//! sentence (`... failed 5.1.1.`): a `.` followed by the end of the text or by
//! a byte that is not an ASCII letter, digit, `_` or `.`. So `1.2.3.4`,
//! `5.1.1.2`, the `4.2.2` in `10.4.2.2` and the `5.1.1` in `192.168.5.1.1`
//! are never taken, nor are `5.8.1`, `3.1.1` or `5.1.1000`.
//!
//! 1. If the text starts with a reply code followed by a space or `-`, and
//!    after it (and any whitespace) comes a token, optionally prefixed with
//!    `#` (Exchange: `550 #5.1.0 ...`), that token is the one found.
//! 2. Otherwise the first token anywhere in the text is (for instance
//!    `(5.1.1)` at the end of the reply, or the code in
//!    `host mx.example.com[1.2.3.4] said: 550 5.1.1 ...`).
//!
//! The range returned covers the token's digits and dots only, not a `#`.
//!
//! # MX hosts and recipients
//!
//! [`normalize_mx`] and [`rcpt_domain`] document their own rules.

use std::ops::Range;

use crate::core::status::Status;

/// A reply normalized for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply as one line: multi-line SMTP replies joined, DSN `smtp;` prefix removed, whitespace folded.
    pub text: String,
    /// The 3-digit SMTP reply code, if the text starts with one (e.g. 550).
    pub code: Option<u16>,
    /// The RFC 3463 enhanced status found in the reply, if any.
    pub enhanced: Option<Status>,
    /// The initial status: the given status (from a DSN Status: field / dsnStatus) if any, else the enhanced code, else `<class>.0.0` from the reply code's first digit (only for classes 2, 4, 5), else None.
    pub initial: Option<Status>,
}

impl Reply {
    /// Normalizes a raw reply. `given` is a status reported next to the reply (DSN `Status:`), which wins over the one in the text.
    ///
    /// The steps are described in the [module documentation](self).
    pub fn new(raw: &str, given: Option<Status>) -> Reply {
        let mut buf = String::new();
        let text = match fold_into(raw, &mut buf) {
            Folded::Part(text) => text.to_string(),
            Folded::Buffer => buf,
        };
        let code = code_at_start(&text);
        let enhanced = find_enhanced(&text).map(|(status, _)| status);
        let initial = given.or(enhanced).or_else(|| code.and_then(class_status));
        Reply {
            text,
            code,
            enhanced,
            initial,
        }
    }
}

/// [`Reply::text`] without allocating: the folded reply is a part of `raw`
/// when folding only trims it or removes its type prefix (the usual case),
/// else it is written into `buf` (cleared first), whose capacity is reused.
///
/// ```
/// use mxrules::core::normalize::{Reply, fold_reply_in};
///
/// let mut buf = String::new();
/// let raw = "smtp; 550 5.1.1 user unknown ";
/// assert_eq!(fold_reply_in(raw, &mut buf), Reply::new(raw, None).text);
/// assert_eq!(fold_reply_in("550-5.1.1 a\r\n550 5.1.1 b", &mut buf), "550 5.1.1 a b");
/// ```
pub fn fold_reply_in<'a>(raw: &'a str, buf: &'a mut String) -> &'a str {
    match fold_into(raw, buf) {
        Folded::Part(text) => text,
        Folded::Buffer => buf,
    }
}

/// [`Reply::initial`] of a reply already folded ([`Reply::text`]):
/// `given` if any, else the enhanced status found in `text`, else
/// `<class>.0.0` from its reply code (classes 2, 4 and 5).
///
/// ```
/// use mxrules::core::normalize::initial_status;
/// use mxrules::core::status::Status;
///
/// assert_eq!(initial_status("550 must be local recipient", None), Some(Status::class_only(5)));
/// assert_eq!(initial_status("550 5.1.1 gone", Some(Status::new(5, 1, 10))), Some(Status::new(5, 1, 10)));
/// assert_eq!(initial_status("no code", None), None);
/// ```
pub fn initial_status(text: &str, given: Option<Status>) -> Option<Status> {
    given
        .or_else(|| find_enhanced(text).map(|(status, _)| status))
        .or_else(|| code_at_start(text).and_then(class_status))
}

/// `<class>.0.0` for a reply code of class 2, 4 or 5.
fn class_status(code: u16) -> Option<Status> {
    let class = u8::try_from(code / 100).ok()?;
    matches!(class, 2 | 4 | 5).then(|| Status::class_only(class))
}

/// `dns;mx.example.com.` / `MXS.MAIL.RU` / `mx.example.com [1.2.3.4]` / `mx.example.com[1.2.3.4]:25` -> "mx.example.com". Lowercase, `dns;`/`DNS; ` prefix dropped, `[ip]` and anything after it dropped, `:port` dropped, trailing dot removed, surrounding whitespace trimmed. A bare `[1.2.3.4]` gives "1.2.3.4". Empty result -> None.
///
/// Exactly, in this order:
///
/// 1. The text is trimmed, a DSN type prefix (`dns;`, any case; any
///    `<type>;` as for replies) is removed, and the rest trimmed again.
/// 2. If it starts with `[`, the host is what lies between it and the next
///    `]` (or the end), trimmed, with an `IPv6:` prefix (any case) removed:
///    `[1.2.3.4]:25` gives `1.2.3.4`, `[IPv6:2001:db8::1]` gives `2001:db8::1`.
/// 3. Otherwise the host ends at the first `[` or whitespace, and a final
///    `:port` (a `:` followed by digits only) is dropped when that is the
///    only `:` in the host (so a bare IPv6 address is kept whole).
/// 4. Trailing dots are removed and the host is lowercased.
///
/// ```
/// use mxrules::core::normalize::normalize_mx;
///
/// assert_eq!(normalize_mx("mx.example.com [1.2.3.4]").as_deref(), Some("mx.example.com"));
/// assert_eq!(normalize_mx("[1.2.3.4]").as_deref(), Some("1.2.3.4"));
/// assert_eq!(normalize_mx("dns; "), None);
/// ```
pub fn normalize_mx(raw: &str) -> Option<String> {
    mx_host(raw).map(lowercase)
}

/// [`normalize_mx`] without allocating: the host is a part of `raw` when
/// it has no uppercase letters, else it is written into `buf` (cleared
/// first), whose capacity is reused.
///
/// ```
/// use mxrules::core::normalize::normalize_mx_in;
///
/// let mut buf = String::new();
/// assert_eq!(normalize_mx_in("dns; MXS.MAIL.RU.", &mut buf), Some("mxs.mail.ru"));
/// assert_eq!(normalize_mx_in("mx.example.com (192.0.2.1)", &mut buf), Some("mx.example.com"));
/// assert_eq!(normalize_mx_in("dns; ", &mut buf), None);
/// ```
pub fn normalize_mx_in<'a>(raw: &'a str, buf: &'a mut String) -> Option<&'a str> {
    mx_host(raw).map(|host| lowercase_in(host, buf))
}

/// The host [`normalize_mx`] gives, not yet lowercased.
fn mx_host(raw: &str) -> Option<&str> {
    // The usual case: a bare host name, nothing to remove but final dots,
    // maybe followed by a space and anything (`mx.example.com (192.0.2.1)`).
    let b = raw.as_bytes();
    let mut end = 0;
    while let Some(&c) = b.get(end) {
        if !HOST[usize::from(c)] {
            break;
        }
        end += 1;
    }
    if end > 0 && b.get(end).is_none_or(|&c| c == b' ') {
        let host = raw[..end].trim_end_matches('.');
        return (!host.is_empty()).then_some(host);
    }
    mx_host_general(raw)
}

/// The bytes of a bare host name: ASCII letters and digits, `.` and `-`.
const HOST: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
        b += 1;
    }
    t
};

/// The bytes of a bare address: printable ASCII but `<`, `>`, `,` and `;`.
const ADDRESS: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c > b' ' && c < 0x7f && c != b'<' && c != b'>' && c != b',' && c != b';';
        b += 1;
    }
    t
};

/// [`mx_host`], step by step.
fn mx_host_general(raw: &str) -> Option<&str> {
    let s = strip_type_prefix(raw.trim()).trim_start();
    let host = if let Some(inner) = s.strip_prefix('[') {
        let inner = inner.find(']').map_or(inner, |end| &inner[..end]).trim();
        strip_prefix_ignore_case(inner, "ipv6:").unwrap_or(inner)
    } else {
        let end = s
            .find(|c: char| c == '[' || c.is_whitespace())
            .unwrap_or(s.len());
        strip_port(&s[..end])
    };
    let host = host.trim_end_matches('.');
    (!host.is_empty()).then_some(host)
}

/// Whether `name` is a name a scope may have: at most 253 bytes, labels
/// of 1 to 63 letters, digits, `-` and `_`.
pub fn is_scope_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Domain part of a recipient, lowercased, trailing dot removed: "<User@Mail.RU>" -> "mail.ru"; also accepts "rfc822;user@x.com" (Final-Recipient form). None when there is no `@` or the domain is empty.
///
/// Exactly: the text is trimmed and a DSN type prefix (`rfc822;`, any
/// `<type>;` as for replies) removed. If a `<` follows, only the part between
/// it and the next `>` (or the end) is looked at, so `John <j@x.org>` works.
/// The domain is what follows the *last* `@`, up to the first whitespace,
/// `>`, `,` or `;`; trailing dots are removed and it is lowercased.
///
/// ```
/// use mxrules::core::normalize::rcpt_domain;
///
/// assert_eq!(rcpt_domain("<User@Mail.RU>").as_deref(), Some("mail.ru"));
/// assert_eq!(rcpt_domain("postmaster"), None);
/// ```
pub fn rcpt_domain(rcpt: &str) -> Option<String> {
    domain_part(rcpt).map(lowercase)
}

/// [`rcpt_domain`] without allocating: the domain is a part of `rcpt`
/// when it has no uppercase letters, else it is written into `buf`
/// (cleared first), whose capacity is reused.
///
/// ```
/// use mxrules::core::normalize::rcpt_domain_in;
///
/// let mut buf = String::new();
/// assert_eq!(rcpt_domain_in("<User@Mail.RU>", &mut buf), Some("mail.ru"));
/// assert_eq!(rcpt_domain_in("user@example.com", &mut buf), Some("example.com"));
/// assert_eq!(rcpt_domain_in("postmaster", &mut buf), None);
/// ```
pub fn rcpt_domain_in<'a>(rcpt: &'a str, buf: &'a mut String) -> Option<&'a str> {
    domain_part(rcpt).map(|domain| lowercase_in(domain, buf))
}

/// The domain [`rcpt_domain`] gives, not yet lowercased.
fn domain_part(rcpt: &str) -> Option<&str> {
    // The usual case: a bare address (no type prefix, brackets, white space
    // or list), whose domain is what follows the last `@`.
    let (mut bare, mut at) = (true, None);
    for (i, b) in rcpt.bytes().enumerate() {
        bare &= ADDRESS[usize::from(b)];
        if b == b'@' {
            at = Some(i);
        }
    }
    if bare {
        let domain = rcpt[at? + 1..].trim_end_matches('.');
        return (!domain.is_empty()).then_some(domain);
    }
    domain_part_general(rcpt)
}

/// [`domain_part`], step by step.
fn domain_part_general(rcpt: &str) -> Option<&str> {
    let s = strip_type_prefix(rcpt.trim()).trim_start();
    let addr = match s.find('<') {
        Some(open) => {
            let inner = &s[open + 1..];
            inner.find('>').map_or(inner, |close| &inner[..close])
        }
        None => s,
    };
    let domain = &addr[addr.rfind('@')? + 1..];
    let end = domain
        .find(|c: char| c.is_whitespace() || matches!(c, '>' | ',' | ';'))
        .unwrap_or(domain.len());
    let domain = domain[..end].trim_end_matches('.');
    (!domain.is_empty()).then_some(domain)
}

/// The enhanced status right after a reply code at the start of `text`,
/// with its byte range: it is preferred to any other.
fn after_reply_code(text: &str) -> Option<(Status, Range<usize>)> {
    code_at_start(text)?;
    let rest = after_code(text);
    let (status, range) = leading_status(rest)?;
    let base = text.len() - rest.len();
    Some((status, base + range.start..base + range.end))
}

/// Finds an enhanced status in reply text. Returns it with the byte range where it was found.
///
/// The token rules and the preference for the status right after the reply
/// code are described in the [module documentation](self#enhanced-status-codes).
///
/// ```
/// use mxrules::core::normalize::find_enhanced;
/// use mxrules::core::status::Status;
///
/// let text = "550 Requested action not taken: mailbox unavailable (5.1.1)";
/// assert_eq!(find_enhanced(text), Some((Status::new(5, 1, 1), 53..58)));
/// assert_eq!(find_enhanced("554 blocked, see 10.4.2.2"), None);
/// ```
pub fn find_enhanced(text: &str) -> Option<(Status, Range<usize>)> {
    if let Some(found) = after_reply_code(text) {
        return Some(found);
    }
    // Every token has a `.` right after its first byte: only the bytes
    // before a `.` can start one.
    let bytes = text.as_bytes();
    let mut from = 1;
    while let Some(i) = crate::core::bytes::find_byte(bytes.get(from..)?, b'.') {
        let start = from + i - 1;
        from += i + 1;
        if start > 0 && joins_token(bytes[start - 1]) {
            continue;
        }
        if let Some((status, end)) = status_token(bytes, start) {
            return Some((status, start..end));
        }
    }
    None
}

/// A folded reply: a part of the raw text, or written into a buffer.
enum Folded<'a> {
    Part(&'a str),
    Buffer,
}

/// Joins the lines of a reply and folds its whitespace (steps 1 to 3);
/// `buf` is cleared first when the result is written into it.
fn fold_into<'a>(raw: &'a str, buf: &mut String) -> Folded<'a> {
    let body = trim_start(strip_type_prefix(crate::core::bytes::trim(raw)));
    if is_plain(body.as_bytes()) {
        // One line of printable ASCII with single spaces, the usual case:
        // the body itself, unless the `-` of a multi-line reply's first
        // line is to become a space.
        if !(code_at_start(body).is_some() && body.as_bytes().get(3) == Some(&b'-')) {
            return Folded::Part(body);
        }
        buf.clear();
        let rest = &body[4..];
        buf.push_str(&body[..3]);
        if !rest.is_empty() && !rest.starts_with(' ') {
            buf.push(' ');
        }
        buf.push_str(rest);
        return Folded::Buffer;
    }
    buf.clear();
    fold_lines(buf, body);
    Folded::Buffer
}

/// [`fold_into`] of a body, line by line, into `out` (empty).
fn fold_lines(out: &mut String, body: &str) {
    let mut lines = body.lines();
    let Some(first) = lines.next().map(str::trim_start) else {
        return;
    };
    let Some(code) = code_at_start(first) else {
        push_folded(out, first);
        lines.for_each(|line| push_folded(out, line));
        return;
    };
    out.push_str(&first[..3]);
    let rest = after_code(first);
    let first_enhanced = leading_status(rest).map(|(status, _)| status);
    push_folded(out, rest);
    for line in lines {
        let trimmed = line.trim_start();
        if code_at_start(trimmed) != Some(code) {
            push_folded(out, line);
            continue;
        }
        let mut rest = after_code(trimmed);
        if let Some(first) = first_enhanced
            && let Some((status, range)) = leading_status(rest)
            && status == first
        {
            rest = &rest[range.end..];
        }
        push_folded(out, rest);
    }
}

/// True when `b` is printable ASCII (or DEL) without two spaces in a row.
/// Sixteen bytes (and the one after them) are tested at once: the compiler
/// makes vector compares of the test.
fn is_plain(b: &[u8]) -> bool {
    // The bytes of `block` but the last: none outside 0x20..0x80, none a
    // space followed by a space.
    fn block_is_plain(block: &[u8; 17]) -> bool {
        let mut bad = 0u8;
        for i in 0..16 {
            let (c, next) = (block[i], block[i + 1]);
            bad |= u8::from(c.wrapping_sub(0x20) >= 0x60)
                | (u8::from(c == b' ') & u8::from(next == b' '));
        }
        bad == 0
    }
    let n = b.len();
    if n >= 17 {
        let mut at = 0;
        while at + 17 <= n {
            if !b[at..at + 17].try_into().is_ok_and(block_is_plain) {
                return false;
            }
            at += 16;
        }
        // The last 17 bytes, overlapping the blocks before, and the last byte.
        return b[n - 17..].try_into().is_ok_and(block_is_plain)
            && (0x20..0x80).contains(&b[n - 1]);
    }
    let mut after_space = false;
    for &c in b {
        if !(0x20..0x80).contains(&c) || (after_space && c == b' ') {
            return false;
        }
        after_space = c == b' ';
    }
    true
}

/// Appends the words of `s` to `out`, each preceded by one space unless `out` is empty.
fn push_folded(out: &mut String, s: &str) {
    if !s.is_ascii() {
        for word in s.split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
        return;
    }
    // The ASCII white space of `char::is_whitespace`.
    let space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && space(b[i]) {
            i += 1;
        }
        let start = i;
        while i < b.len() && !space(b[i]) {
            i += 1;
        }
        if start < i {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&s[start..i]);
        }
    }
}

/// `s.trim_start()`, quick when `s` starts with printable ASCII.
fn trim_start(s: &str) -> &str {
    match s.as_bytes().first() {
        Some(&b) if b > b' ' && b < 0x80 => s,
        _ => s.trim_start(),
    }
}

/// Lowercase, without the general case mapping when the text is ASCII.
fn lowercase(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// [`lowercase`]: `s` itself when it is ASCII without uppercase letters,
/// else written into `buf` (cleared first).
fn lowercase_in<'a>(s: &'a str, buf: &'a mut String) -> &'a str {
    // Without branches: an uppercase letter or a byte that is not ASCII.
    let changes = s.bytes().fold(0u8, |any, b| {
        any | u8::from(b.wrapping_sub(b'A') < 26) | (b & 0x80)
    });
    if changes == 0 {
        return s;
    }
    buf.clear();
    if s.is_ascii() {
        buf.push_str(s);
        buf.make_ascii_lowercase();
    } else {
        buf.push_str(&s.to_lowercase());
    }
    buf
}

/// Removes a leading `<type>;` (an ASCII letter, then letters, digits or hyphens).
fn strip_type_prefix(s: &str) -> &str {
    let bytes = s.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_alphabetic) {
        return s;
    }
    for (i, &b) in bytes.iter().enumerate().skip(1) {
        match b {
            b';' => return &s[i + 1..],
            b'-' => {}
            _ if b.is_ascii_alphanumeric() => {}
            _ => return s,
        }
    }
    s
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Drops a final `:digits` when it is the only `:` in `host`.
fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(colon)
            if !host[..colon].contains(':')
                && host[colon + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &host[..colon]
        }
        _ => host,
    }
}

/// The reply code `s` starts with: `[2-5][0-9][0-9]` followed by `-`, whitespace or the end.
fn code_at_start(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.len() < 3
        || !(b'2'..=b'5').contains(&b[0])
        || !b[1].is_ascii_digit()
        || !b[2].is_ascii_digit()
    {
        return None;
    }
    let rest = &s[3..];
    if rest.is_empty() || rest.starts_with('-') || rest.starts_with(char::is_whitespace) {
        Some(u16::from(b[0] - b'0') * 100 + u16::from(b[1] - b'0') * 10 + u16::from(b[2] - b'0'))
    } else {
        None
    }
}

/// What follows the reply code `s` starts with (checked by the caller), without a `-` right after it.
fn after_code(s: &str) -> &str {
    let rest = s.get(3..).unwrap_or("");
    rest.strip_prefix('-').unwrap_or(rest)
}

/// A status token at the start of `s`, after whitespace and an optional `#`.
fn leading_status(s: &str) -> Option<(Status, Range<usize>)> {
    let trimmed = s.trim_start();
    let token = trimmed.strip_prefix('#').unwrap_or(trimmed);
    let start = s.len() - token.len();
    status_token(s.as_bytes(), start).map(|(status, end)| (status, start..end))
}

/// Bytes that make a neighbouring status part of a longer token.
fn joins_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
}

/// A well-formed status starting at `start` and ending at a token boundary, with its end.
/// The byte before `start` is the caller's to check.
fn status_token(b: &[u8], start: usize) -> Option<(Status, usize)> {
    let class = *b.get(start)?;
    if !matches!(class, b'2' | b'4' | b'5') || b.get(start + 1) != Some(&b'.') {
        return None;
    }
    let (subject, dot) = small_number(b, start + 2)?;
    if subject > 7 || b.get(dot) != Some(&b'.') {
        return None;
    }
    let (detail, end) = small_number(b, dot + 1)?;
    let ends_token = match b.get(end) {
        None => true,
        Some(b'.') => b.get(end + 1).is_none_or(|&next| !joins_token(next)),
        Some(&next) => !joins_token(next),
    };
    ends_token.then(|| (Status::new(class - b'0', subject, detail), end))
}

/// One to three ASCII digits at `start`, not followed by a fourth, with the index after them.
fn small_number(b: &[u8], start: usize) -> Option<(u16, usize)> {
    let mut value = 0u16;
    let mut end = start;
    while let Some(&d) = b.get(end).filter(|d| d.is_ascii_digit()) {
        if end - start == 3 {
            return None;
        }
        value = value * 10 + u16::from(d - b'0');
        end += 1;
    }
    (end > start).then_some((value, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random text over `alphabet`, from a small deterministic generator.
    fn texts(alphabet: &[&str], count: usize, max_len: usize) -> Vec<String> {
        let mut rng = crate::input::tests::Rng(0x9e37_79b9_7f4a_7c15);
        let mut next = |n: usize| rng.below(n);
        (0..count)
            .map(|_| {
                (0..next(max_len))
                    .map(|_| alphabet[next(alphabet.len())])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn plain_text_is_told_at_every_length() {
        let reference = |b: &[u8]| {
            b.iter().all(|c| (0x20..0x80).contains(c)) && !b.windows(2).any(|w| w == b"  ")
        };
        let alphabet = ["a", " ", "  ", "\t", "\u{7f}", "é", "\u{1f}", "~", "0"];
        for text in texts(&alphabet, 20_000, 60) {
            assert_eq!(
                is_plain(text.as_bytes()),
                reference(text.as_bytes()),
                "{text:?}"
            );
        }
        for len in 0..80 {
            let mut text = "ab c".repeat(20).into_bytes();
            text.truncate(len);
            assert!(is_plain(&text), "{len}");
            for at in 0..len {
                let mut bad = text.clone();
                bad[at] = b'\n';
                assert!(!is_plain(&bad), "{len} {at}");
                let mut spaces = text.clone();
                spaces[at] = b' ';
                if at + 1 < len {
                    spaces[at + 1] = b' ';
                    assert!(!is_plain(&spaces), "{len} {at}");
                }
            }
        }
    }

    /// [`push_folded`] as `split_whitespace` words.
    fn folded_words(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn quick_paths_agree_with_the_steps() {
        let alphabet = [
            "550", "-", " ", "  ", "5.1.1", "#", "\r\n", "\n", "\t", "\u{b}", "\u{c}", "\u{a0}",
            "\u{2003}", "smtp;", "a", "B", ".", "@", "<", ">", ";", ":", "[", "]", "25", "é", "x-",
            "\u{7f}",
        ];
        for text in texts(&alphabet, 200_000, 12) {
            let body = strip_type_prefix(text.trim()).trim_start();
            let mut lines = String::new();
            fold_lines(&mut lines, body);
            let mut buf = String::from("left over");
            assert_eq!(fold_reply_in(&text, &mut buf), lines, "{text:?}");
            let mut out = String::new();
            push_folded(&mut out, &text);
            assert_eq!(out, folded_words(&text), "{text:?}");
            let reply = Reply::new(&text, None);
            assert_eq!(reply.text, lines, "{text:?}");
            assert_eq!(initial_status(&reply.text, None), reply.initial, "{text:?}");
            assert_eq!(mx_host(&text), mx_host_general(&text), "{text:?}");
            assert_eq!(domain_part(&text), domain_part_general(&text), "{text:?}");
            let mut buf = String::from("left over");
            assert_eq!(
                normalize_mx_in(&text, &mut buf).map(str::to_string),
                normalize_mx(&text),
                "{text:?}"
            );
            assert_eq!(
                rcpt_domain_in(&text, &mut buf).map(str::to_string),
                rcpt_domain(&text),
                "{text:?}"
            );
            assert_eq!(
                find_enhanced(&text),
                find_enhanced_at_every_byte(&text),
                "{text:?}"
            );
        }
    }

    /// [`find_enhanced`], trying every byte as the start of a token.
    fn find_enhanced_at_every_byte(text: &str) -> Option<(Status, Range<usize>)> {
        if let Some(found) = after_reply_code(text) {
            return Some(found);
        }
        let bytes = text.as_bytes();
        (0..bytes.len()).find_map(|start| {
            if start > 0 && joins_token(bytes[start - 1]) {
                return None;
            }
            status_token(bytes, start).map(|(status, end)| (status, start..end))
        })
    }

    fn st(s: &str) -> Status {
        s.parse().unwrap()
    }

    /// Normalizes and checks text, code, enhanced and initial at once.
    fn check(
        raw: &str,
        given: Option<&str>,
        text: &str,
        code: Option<u16>,
        enhanced: Option<&str>,
        initial: Option<&str>,
    ) {
        let reply = Reply::new(raw, given.map(st));
        assert_eq!(
            reply,
            Reply {
                text: text.to_string(),
                code,
                enhanced: enhanced.map(st),
                initial: initial.map(st),
            },
            "raw: {raw:?}"
        );
        let mut buf = String::new();
        let folded = fold_reply_in(raw, &mut buf);
        assert_eq!(folded, text, "raw: {raw:?}");
        assert_eq!(
            initial_status(folded, given.map(st)),
            initial.map(st),
            "raw: {raw:?}"
        );
    }

    #[test]
    fn gmail_no_such_user_multi_line() {
        check(
            "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n\
             550-5.1.1 double-checking the recipient's email address for typos or\r\n\
             550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser x1si123.456 - gsmtp",
            None,
            "550 5.1.1 The email account that you tried to reach does not exist. Please try \
             double-checking the recipient's email address for typos or unnecessary spaces. \
             https://support.google.com/mail/?p=NoSuchUser x1si123.456 - gsmtp",
            Some(550),
            Some("5.1.1"),
            Some("5.1.1"),
        );
    }

    #[test]
    fn gmail_over_quota_multi_line() {
        check(
            "452-4.2.2 The email account that you tried to reach is over quota. Please direct\r\n\
             452-4.2.2 the recipient to\r\n\
             452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp d2si1234567qkf.123 - gsmtp",
            None,
            "452 4.2.2 The email account that you tried to reach is over quota. Please direct the recipient to \
             https://support.google.com/mail/?p=OverQuotaTemp d2si1234567qkf.123 - gsmtp",
            Some(452),
            Some("4.2.2"),
            Some("4.2.2"),
        );
    }

    #[test]
    fn gmail_rate_limit_multi_line() {
        check(
            "421-4.7.28 [203.0.113.7      15] Our system has detected an unusual rate of\r\n\
             421-4.7.28 unsolicited mail originating from your IP address. To protect our\r\n\
             421-4.7.28 users from spam, mail sent from your IP address has been temporarily\r\n\
             421-4.7.28 rate limited. Please visit\r\n\
             421-4.7.28  https://support.google.com/mail/?p=UnsolicitedRateLimitError to\r\n\
             421 4.7.28 review our Bulk Email Senders Guidelines. a1si123456qkb.2 - gsmtp",
            None,
            "421 4.7.28 [203.0.113.7 15] Our system has detected an unusual rate of unsolicited mail \
             originating from your IP address. To protect our users from spam, mail sent from your IP \
             address has been temporarily rate limited. Please visit \
             https://support.google.com/mail/?p=UnsolicitedRateLimitError to review our Bulk Email \
             Senders Guidelines. a1si123456qkb.2 - gsmtp",
            Some(421),
            Some("4.7.28"),
            Some("4.7.28"),
        );
    }

    #[test]
    fn microsoft_mailbox_unavailable() {
        let raw = "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). \
                   [BN1NAM02FT009.eop-nam02.prod.protection.outlook.com]";
        check(raw, None, raw, Some(550), Some("5.5.0"), Some("5.5.0"));
        assert_eq!(find_enhanced(raw), Some((st("5.5.0"), 4..9)));
    }

    #[test]
    fn microsoft_spamhaus_block() {
        let raw = "550 5.7.1 Service unavailable, Client host [203.0.113.7] blocked using Spamhaus. \
                   To request removal from this list see https://www.spamhaus.org/query/ip/203.0.113.7 (AS3130). \
                   [BN3NAM04FT054.eop-NAM04.prod.protection.outlook.com]";
        check(raw, None, raw, Some(550), Some("5.7.1"), Some("5.7.1"));
    }

    #[test]
    fn exchange_hash_form() {
        let raw = "550 #5.1.0 Address rejected user@example.com";
        check(raw, None, raw, Some(550), Some("5.1.0"), Some("5.1.0"));
        assert_eq!(find_enhanced(raw), Some((st("5.1.0"), 5..10)));
    }

    #[test]
    fn yahoo_no_account_has_no_enhanced_code() {
        let raw = "554 delivery error: dd This user doesn't have a yahoo.com account (user@yahoo.com) [0] \
                   - mta1234.mail.bf1.yahoo.com";
        check(raw, None, raw, Some(554), None, Some("5.0.0"));
    }

    #[test]
    fn yahoo_deferred() {
        let raw = "421 4.7.0 [TSS04] Messages from 203.0.113.7 temporarily deferred due to unexpected \
                   volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes";
        check(raw, None, raw, Some(421), Some("4.7.0"), Some("4.7.0"));
    }

    #[test]
    fn mail_ru_replies() {
        check(
            "550 Message was not accepted -- invalid mailbox.  Local mailbox user@mail.ru is unavailable: user not found",
            None,
            "550 Message was not accepted -- invalid mailbox. Local mailbox user@mail.ru is unavailable: user not found",
            Some(550),
            None,
            Some("5.0.0"),
        );
        check(
            "550 must be local recipient",
            None,
            "550 must be local recipient",
            Some(550),
            None,
            Some("5.0.0"),
        );
    }

    #[test]
    fn dsn_prefix_is_removed() {
        check(
            "smtp; 550 5.1.1 <user@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
            None,
            "550 5.1.1 <user@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
            Some(550),
            Some("5.1.1"),
            Some("5.1.1"),
        );
        check(
            "  X-Unix;  mail forwarding loop ",
            None,
            "mail forwarding loop",
            None,
            None,
            None,
        );
        check(
            "smtp;550 5.2.2 mailbox full",
            None,
            "550 5.2.2 mailbox full",
            Some(550),
            Some("5.2.2"),
            Some("5.2.2"),
        );
    }

    #[test]
    fn dsn_prefix_with_folded_multi_line_reply() {
        // As in a Diagnostic-Code header: folded lines are indented.
        check(
            "SMTP; 550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n    \
             550-5.1.1 double-checking the recipient's email address for typos or\r\n    \
             550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser x1si123.456 - gsmtp",
            None,
            "550 5.1.1 The email account that you tried to reach does not exist. Please try \
             double-checking the recipient's email address for typos or unnecessary spaces. \
             https://support.google.com/mail/?p=NoSuchUser x1si123.456 - gsmtp",
            Some(550),
            Some("5.1.1"),
            Some("5.1.1"),
        );
    }

    #[test]
    fn postfix_said_form() {
        check(
            "X-Postfix; host mx.example.com[203.0.113.7] said: 550 5.1.1 <user@example.com>: User unknown (in reply to RCPT TO command)",
            None,
            "host mx.example.com[203.0.113.7] said: 550 5.1.1 <user@example.com>: User unknown (in reply to RCPT TO command)",
            None,
            Some("5.1.1"),
            Some("5.1.1"),
        );
    }

    #[test]
    fn multi_line_shapes() {
        // Differing enhanced codes on continuation lines are kept.
        check(
            "550-5.1.1 a\n550 5.7.1 b",
            None,
            "550 5.1.1 a 5.7.1 b",
            Some(550),
            Some("5.1.1"),
            Some("5.1.1"),
        );
        // A different code is not a continuation line.
        check(
            "550-5.1.1 a\n421 4.7.0 b",
            None,
            "550 5.1.1 a 421 4.7.0 b",
            Some(550),
            Some("5.1.1"),
            Some("5.1.1"),
        );
        // No enhanced code on the first line: only the reply codes go.
        check(
            "554-mx.example.net\n554 Transaction failed",
            None,
            "554 mx.example.net Transaction failed",
            Some(554),
            None,
            Some("5.0.0"),
        );
        // Lines without a reply code are simply joined.
        check(
            "Delivery failed\r\nmailbox full",
            None,
            "Delivery failed mailbox full",
            None,
            None,
            None,
        );
        // A lone first line of a multi-line reply.
        check(
            "550-5.1.1 truncated",
            None,
            "550 5.1.1 truncated",
            Some(550),
            Some("5.1.1"),
            Some("5.1.1"),
        );
        // Repeated Exchange-style codes are dropped too.
        check(
            "550-#5.1.0 a\n550 #5.1.0 b",
            None,
            "550 #5.1.0 a b",
            Some(550),
            Some("5.1.0"),
            Some("5.1.0"),
        );
        // Bare codes and empty lines.
        check(
            "550-\n\n550 No such user",
            None,
            "550 No such user",
            Some(550),
            None,
            Some("5.0.0"),
        );
    }

    #[test]
    fn parenthesized_enhanced_code() {
        let raw = "550 Requested action not taken: mailbox unavailable (5.1.1)";
        check(raw, None, raw, Some(550), Some("5.1.1"), Some("5.1.1"));
        assert_eq!(find_enhanced(raw), Some((st("5.1.1"), 53..58)));
    }

    #[test]
    fn ip_address_is_not_an_enhanced_code() {
        let raw = "554 resimta-ch2-18v.sys.comcast.net comcast 203.0.113.7 Comcast block for spam. \
                   Please see http://postmaster.comcast.net/smtp-error-codes.php#BL000000";
        check(raw, None, raw, Some(554), None, Some("5.0.0"));
        assert_eq!(
            find_enhanced("554 rejected 10.4.2.2 and 192.168.5.1.1 and 1.2.3.4"),
            None
        );
        assert_eq!(find_enhanced("550 server 5.1.1.2 refused"), None);
        assert_eq!(
            find_enhanced("451 try 2024.05.01 or 5.1.2024 or 4.5.1000"),
            None
        );
        assert_eq!(
            find_enhanced("550 mx5.1.1 v5.1.1 5.1.1x 5.1.1_ 5.1.1.a"),
            None
        );
    }

    #[test]
    fn noise_after_the_code_does_not_confuse() {
        let text = "550 5.7.1 Rejected by 192.168.5.1.1";
        assert_eq!(find_enhanced(text), Some((st("5.7.1"), 4..9)));
        let text = "550 Rejected by 192.168.5.1.1, see 5.7.1.";
        assert_eq!(find_enhanced(text), Some((st("5.7.1"), 35..40)));
    }

    #[test]
    fn enhanced_code_bounds() {
        assert_eq!(find_enhanced("550 5.8.1 x"), None);
        assert_eq!(find_enhanced("550 3.1.1 x"), None);
        assert_eq!(find_enhanced("550 5.1.1000 x"), None);
        assert_eq!(find_enhanced("550 5.0007.1 x"), None);
        assert_eq!(
            find_enhanced("550 5.007.999 x"),
            Some((st("5.7.999"), 4..13))
        );
        assert_eq!(find_enhanced("5.1.1"), Some((st("5.1.1"), 0..5)));
        assert_eq!(find_enhanced("status=4.4.1,"), Some((st("4.4.1"), 7..12)));
        // The one after the code is preferred to an earlier standalone one.
        assert_eq!(
            find_enhanced("550 5.1.1 see (5.7.1)"),
            Some((st("5.1.1"), 4..9))
        );
        // Otherwise the first standalone token.
        assert_eq!(
            find_enhanced("550 see (5.7.1) or 5.1.1"),
            Some((st("5.7.1"), 9..14))
        );
        assert_eq!(find_enhanced(""), None);
        assert_eq!(find_enhanced("é5.1.1é"), Some((st("5.1.1"), 2..7)));
    }

    #[test]
    fn given_status_wins() {
        check(
            "550 5.1.1 user unknown",
            Some("5.1.10"),
            "550 5.1.1 user unknown",
            Some(550),
            Some("5.1.1"),
            Some("5.1.10"),
        );
        check("", Some("4.4.7"), "", None, None, Some("4.4.7"));
    }

    #[test]
    fn empty_and_blank() {
        check("", None, "", None, None, None);
        check(" \r\n\t \r\n ", None, "", None, None, None);
        check("smtp;", None, "", None, None, None);
    }

    #[test]
    fn non_digit_start_and_code_edges() {
        check(
            "Host or domain name not found. Name service error for name=example.invalid type=AAAA: Host not found",
            None,
            "Host or domain name not found. Name service error for name=example.invalid type=AAAA: Host not found",
            None,
            None,
            None,
        );
        check(
            "x-postfix; connect to mx.example.com[203.0.113.7]:25: Connection timed out",
            None,
            "connect to mx.example.com[203.0.113.7]:25: Connection timed out",
            None,
            None,
            None,
        );
        check("354 go ahead", None, "354 go ahead", Some(354), None, None);
        check("5500 no", None, "5500 no", None, None, None);
        check("550no", None, "550no", None, None, None);
        check("650 nope", None, "650 nope", None, None, None);
        check("250", None, "250", Some(250), None, Some("2.0.0"));
        check(
            "550\t5.1.1\tgone",
            None,
            "550 5.1.1 gone",
            Some(550),
            Some("5.1.1"),
            Some("5.1.1"),
        );
    }

    #[test]
    fn mx_forms() {
        let mx = |s: &str| normalize_mx(s);
        let some = |s: &str| Some(s.to_string());
        assert_eq!(mx("dns;mx.example.com."), some("mx.example.com"));
        assert_eq!(mx("dns; mxs.mail.ru."), some("mxs.mail.ru"));
        assert_eq!(
            mx("DNS; Gmail-SMTP-In.L.Google.COM."),
            some("gmail-smtp-in.l.google.com")
        );
        assert_eq!(mx("MXS.MAIL.RU"), some("mxs.mail.ru"));
        assert_eq!(mx("MX.Example.COM"), some("mx.example.com"));
        assert_eq!(mx("mx.example.com [1.2.3.4]"), some("mx.example.com"));
        assert_eq!(mx("mx.example.com[1.2.3.4]:25"), some("mx.example.com"));
        assert_eq!(mx("mx.example.com.[1.2.3.4]"), some("mx.example.com"));
        assert_eq!(mx("mx.example.com:25"), some("mx.example.com"));
        assert_eq!(mx("  mx.example.com  "), some("mx.example.com"));
        assert_eq!(mx("[10.0.0.1]"), some("10.0.0.1"));
        assert_eq!(mx("[1.2.3.4]:25"), some("1.2.3.4"));
        assert_eq!(mx("dns; [IPv6:2001:DB8::1]"), some("2001:db8::1"));
        assert_eq!(mx("2001:db8::1"), some("2001:db8::1"));
        assert_eq!(mx(""), None);
        assert_eq!(mx("   "), None);
        assert_eq!(mx("dns;"), None);
        assert_eq!(mx("[]"), None);
        assert_eq!(mx("."), None);
    }

    #[test]
    fn recipient_domains() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(rcpt_domain("<User@Mail.RU>"), some("mail.ru"));
        assert_eq!(rcpt_domain("rfc822;user@x.com"), some("x.com"));
        assert_eq!(
            rcpt_domain("RFC822; User@Example.COM."),
            some("example.com")
        );
        assert_eq!(rcpt_domain("rfc822; <user@gmail.com>"), some("gmail.com"));
        assert_eq!(rcpt_domain("John Doe <j@X.org>"), some("x.org"));
        assert_eq!(rcpt_domain("\"a@b\"@c.com"), some("c.com"));
        assert_eq!(rcpt_domain("user@yahoo.com (original)"), some("yahoo.com"));
        assert_eq!(rcpt_domain("user"), None);
        assert_eq!(rcpt_domain("user@"), None);
        assert_eq!(rcpt_domain("<user@>"), None);
        assert_eq!(rcpt_domain("user@."), None);
        assert_eq!(rcpt_domain(""), None);
    }
}
