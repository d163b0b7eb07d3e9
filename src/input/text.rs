//! Finding SMTP replies and failed recipients in text written for people:
//! the human-readable part of a bounce, a Postfix log's `host … said:`.

use super::clean_address;

/// `host mx.example.com[192.0.2.1] said: 550 5.1.1 … (in reply to RCPT TO
/// command)` -> the host (as written) and the reply, without Postfix's
/// `(in reply to … command)`. `None` when there is no `said:`.
pub(crate) fn split_said(text: &str) -> Option<(Option<String>, String)> {
    let said = find_ignore_case(text, " said:")?;
    let reply = strip_in_reply_to(text[said + " said:".len()..].trim());
    let before = &text[..said];
    let host = find_ignore_case(before, "host ")
        .map(|h| before[h + "host ".len()..].trim())
        .filter(|h| !h.is_empty() && !h.eq_ignore_ascii_case("remote"))
        .map(str::to_string);
    Some((host, reply.to_string()))
}

/// Drops a final `(in reply to … command)` (Postfix) and white space.
pub(crate) fn strip_in_reply_to(s: &str) -> &str {
    let s = s.trim();
    match find_ignore_case(s, "(in reply to ") {
        Some(i) if s.ends_with(')') || s.ends_with(").") => s[..i].trim_end(),
        _ => s,
    }
}

fn find_ignore_case(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.len();
    hay.as_bytes()
        .windows(n)
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// A failure found in human-readable text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    /// The recipient it is about, when the text says.
    pub(crate) rcpt: Option<String>,
    /// The remote host, when the text names it.
    pub(crate) host: Option<String>,
    /// The SMTP reply (`550 5.1.1 …`), or the sentence that explains the
    /// failure when there is no reply.
    pub(crate) reply: String,
    /// True when `reply` is an SMTP reply.
    pub(crate) is_smtp: bool,
}

/// Lines that start the copy of the original message: the text after them
/// is not about the failure.
const ORIGINAL_MARKERS: [&str; 16] = [
    "original message",
    "copy of the message",
    "copy of your message",
    "message headers follow",
    "headers of the original",
    "below this line is a copy",
    "returned message",
    "unsent message below",
    "unsent message follows",
    "message follows",
    "returned mail follows",
    "header of the original",
    "original mail",
    "message text follows",
    "content-type: message/rfc822",
    "content-type: text/rfc822-headers",
];

/// True when a line (lowercased) announces the copy of the original message.
pub(crate) fn is_original_marker(lower: &str) -> bool {
    ORIGINAL_MARKERS.iter().any(|m| lower.contains(m))
}

/// The lines of `text` before the copy of the original message.
fn failure_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lower = line.to_ascii_lowercase();
        let marker = is_original_marker(&lower) && !lower.contains("original message was received");
        let header_block = i > 2
            && (lower.starts_with("received: ") || lower.starts_with("return-path: "))
            && out.last().is_none_or(|l: &&str| l.trim().is_empty());
        if (marker && !out.is_empty()) || header_block {
            break;
        }
        out.push(line);
    }
    out
}

/// The first words of the failure text, for a failure it says nothing
/// more precise about: at most 300 bytes, white space folded.
pub(crate) fn summary(text: &str) -> String {
    let mut out = String::new();
    for word in failure_lines(text)
        .iter()
        .flat_map(|l| l.split_whitespace())
    {
        if out.len() + word.len() > 300 {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Words that make a line mentioning an address a line about a failure.
const FAILURE_WORDS: [&str; 17] = [
    "recipient",
    "fail",
    "error",
    "unknown",
    "invalid",
    "not ",
    "reject",
    "undeliver",
    "unable",
    "could not",
    "couldn't",
    "no such",
    "denied",
    "bounce",
    "refused",
    "problem",
    "doesn't",
];

/// The address a line is about: a line that starts with one (`<a@b>:`,
/// `a@b`, `a@b on <date>`), an SMTP `RCPT TO:<a@b>`, or an address on a
/// line that speaks of a failure.
fn mentioned_address(line: &str) -> Option<String> {
    let trimmed = line.trim();
    let first = trimmed
        .split_whitespace()
        .next()
        .map(|w| w.trim_end_matches([':', ',', '.', ';']));
    if let Some(w) = first
        && let Some(a) = address_in(w)
        && a.len() + 4 >= w.len()
    {
        return Some(a);
    }
    let lower = trimmed.to_ascii_lowercase();
    for key in ["rcpt to:", "rcpt:"] {
        if let Some(i) = lower.find(key) {
            return address_in(&trimmed[i + key.len()..]);
        }
    }
    if FAILURE_WORDS.iter().any(|w| lower.contains(w)) {
        // Not the sender's address (`MAIL FROM:<…>`, `From: <…>`).
        let mut from = 0;
        while let Some((start, a)) = address_at(&trimmed[from..]) {
            let before = lower[..from + start].trim_end_matches(['<', ' ', '"']);
            if !before.ends_with("from:")
                && !before.ends_with("from")
                && !before.ends_with("sender:")
            {
                return Some(a);
            }
            from += start + a.len();
        }
    }
    None
}

/// The first e-mail address in `s`.
pub(crate) fn address_in(s: &str) -> Option<String> {
    address_at(s).map(|(_, a)| a)
}

/// The first e-mail address in `s`, and where it starts.
fn address_at(s: &str) -> Option<(usize, String)> {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(p) = bytes[from..].iter().position(|&b| b == b'@') {
        let at = from + p;
        let is_local = |b: u8| b.is_ascii_alphanumeric() || b"._%+-=!#$&'*/?^`{|}~".contains(&b);
        let is_domain = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
        let start = bytes[..at]
            .iter()
            .rposition(|&b| !is_local(b))
            .map_or(0, |q| q + 1);
        let end = bytes[at + 1..]
            .iter()
            .position(|&b| !is_domain(b))
            .map_or(bytes.len(), |q| at + 1 + q);
        let local = &s[start..at];
        let domain = s[at + 1..end].trim_end_matches('.');
        if !local.is_empty() && domain.contains('.') {
            return Some((start, format!("{local}@{domain}")));
        }
        from = at + 1;
    }
    None
}

/// Where an SMTP reply starts in `line`: a code `[45]xy` standing alone,
/// followed by a space, a `-` or the end, at the start of the line or after
/// `:`, `;`, `#`, `<<<`, `said`, `was` or `reason`.
fn reply_start(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    (0..b.len()).find(|&i| {
        if !matches!(b[i], b'4' | b'5')
            || !b.get(i + 1).is_some_and(u8::is_ascii_digit)
            || !b.get(i + 2).is_some_and(u8::is_ascii_digit)
            || !matches!(b.get(i + 3), None | Some(b' ' | b'-' | b'\t'))
        {
            return false;
        }
        let before = line[..i].trim_end();
        let lower = before.to_ascii_lowercase();
        before.is_empty()
            || before.ends_with([':', ';', '#', '<', '(', '='])
            || lower.ends_with("said")
            || lower.ends_with("was")
            || lower.ends_with("reason")
            || lower.ends_with("error")
    })
}

/// A remote host named on a line: `host mx.example.com[192.0.2.1]`,
/// `host mx.example.com [192.0.2.1]`, `while talking to mx.example.com.:`,
/// qmail's `192.0.2.1 does not like recipient.`
fn host_in(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    if let Some(i) = lower.find(" does not like recipient") {
        let host = line[..i].trim();
        if !host.is_empty() && !host.contains(char::is_whitespace) {
            return Some(host.to_string());
        }
    }
    for key in ["while talking to ", "host "] {
        let mut from = 0;
        while let Some(i) = lower[from..].find(key) {
            let key_start = from + i;
            let start = key_start + key.len();
            from = start;
            if key_start > 0 && lower.as_bytes()[key_start - 1].is_ascii_alphabetic() {
                continue;
            }
            let word = line[start..]
                .split(|c: char| c.is_whitespace() || c == '[')
                .next()
                .unwrap_or("")
                .trim_end_matches([':', ',', ';']);
            let name = word.trim_end_matches('.');
            if name.contains('.')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            {
                return Some(word.trim_end_matches(['.']).to_string());
            }
        }
    }
    None
}

/// The address a reply names first, right after its code and enhanced
/// status: `554 <a@b>... Host unknown`, `550 5.1.1 a@b: …`.
fn named_after_code(reply: &str) -> Option<String> {
    let mut words = reply.split_whitespace().skip(1).peekable();
    if words.peek().is_some_and(|w| {
        w.split('.').count() == 3
            && w.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    }) {
        words.next();
    }
    let word = words.next()?.trim_end_matches([':', ',', ';', '.']);
    address_in(word).filter(|a| a.len() + 2 >= word.len())
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The failures described in `text`, in order: every SMTP reply, with the
/// recipient mentioned last before it and the host named near it, and for
/// every recipient mentioned without a reply, the sentence after the
/// mention.
pub(crate) fn scan(text: &str) -> Vec<Found> {
    let lines = failure_lines(text);
    let mut found: Vec<Found> = Vec::new();
    let mut rcpt: Option<String> = None;
    let mut rcpt_line = 0usize;
    let mut rcpt_served = true;
    let mut host: Option<String> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(a) = mentioned_address(line)
            && (reply_start(line).is_none_or(|r| line.find(&a).is_some_and(|p| p < r)))
        {
            if !rcpt_served && rcpt.as_deref().is_some_and(|r| !r.eq_ignore_ascii_case(&a)) {
                found.extend(explain(&lines, rcpt_line, rcpt.take(), host.take()));
            }
            if rcpt.as_deref().is_none_or(|r| !r.eq_ignore_ascii_case(&a)) {
                rcpt_served = false;
                host = None;
            }
            rcpt = Some(a);
            rcpt_line = i;
        }
        if let Some(h) = host_in(line) {
            host = Some(h);
        }
        let Some(start) = reply_start(line) else {
            i += 1;
            continue;
        };
        let mut reply = line[start..].trim().to_string();
        let base = indent(line);
        // Exim writes `host mx [ip]: 550 <a@b>:` and the rest of the reply
        // on the next line at the same indentation: a reply that starts
        // after such a prefix and breaks off after a colon goes on over a
        // line that starts neither a reply nor another mention.
        let code = &line[start..start + 3];
        let mut multi = line.as_bytes().get(start + 3) == Some(&b'-');
        let mut j = i + 1;
        while let Some(next) = lines.get(j) {
            let t = next.trim();
            if t.is_empty() || find_ignore_case(&reply, "(in reply to ").is_some() {
                break;
            }
            let same_code =
                t.starts_with(code) && matches!(t.as_bytes().get(3), None | Some(b' ' | b'-'));
            let wrapped = start > base
                && reply.ends_with(':')
                && indent(next) == base
                && reply_start(next).is_none()
                && host_in(next).is_none()
                && !t.to_ascii_lowercase().starts_with("smtp error")
                && mentioned_address(next).is_none();
            if (multi && same_code) || (!same_code && (indent(next) > base || wrapped)) {
                multi = same_code && t.as_bytes().get(3) == Some(&b'-');
                reply.push('\n');
                reply.push_str(t);
                j += 1;
            } else {
                break;
            }
        }
        // Sendmail's transcript names the recipient right after the code
        // (`554 <a@b>... 550 Host unknown`): that reply is about it.
        if let Some(a) = named_after_code(&reply)
            && rcpt.as_deref().is_none_or(|r| !r.eq_ignore_ascii_case(&a))
        {
            rcpt = Some(a);
            rcpt_line = i;
        }
        found.push(Found {
            rcpt: rcpt.clone(),
            host: host.clone(),
            reply: strip_in_reply_to(&reply).to_string(),
            is_smtp: true,
        });
        rcpt_served = true;
        i = j;
    }
    if !rcpt_served {
        found.extend(explain(&lines, rcpt_line, rcpt, host));
    }
    found
}

/// The failure of a recipient mentioned on line `at` without an SMTP
/// reply: the next paragraph's first lines, or the mention itself.
fn explain(lines: &[&str], at: usize, rcpt: Option<String>, host: Option<String>) -> Option<Found> {
    let rcpt = rcpt?;
    let mut reply = String::new();
    let mut j = at + 1;
    while lines.get(j).is_some_and(|l| l.trim().is_empty()) {
        j += 1;
    }
    while let Some(l) = lines.get(j) {
        let t = l.trim();
        if t.is_empty() || mentioned_address(t).is_some_and(|a| a.eq_ignore_ascii_case(t)) {
            break;
        }
        if !reply.is_empty() {
            reply.push(' ');
        }
        reply.push_str(t);
        j += 1;
        if reply.len() > 200 {
            break;
        }
    }
    let line = lines.get(at).map_or("", |l| l.trim());
    let mention_has_words = clean_address(line).len() + 8 < line.len();
    // Lotus Notes writes the reason first, the address on the next line.
    let reason_above = at
        .checked_sub(1)
        .and_then(|k| lines.get(k))
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with("--") && address_in(l).is_none());
    let only_address = address_in(line).is_some_and(|a| clean_address(line) == a);
    if reply.is_empty()
        && only_address
        && let Some(above) = reason_above
    {
        reply = above.to_string();
    } else if reply.is_empty() {
        reply = line.to_string();
    } else if mention_has_words {
        reply = format!("{line} {reply}");
    }
    Some(Found {
        rcpt: Some(rcpt),
        host,
        reply,
        is_smtp: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn said() {
        assert_eq!(
            split_said("host mx.x.com[1.2.3.4] said: 550 5.1.1 no (in reply to RCPT TO command)"),
            Some((Some("mx.x.com[1.2.3.4]".into()), "550 5.1.1 no".into()))
        );
        assert_eq!(
            split_said("Remote host said: 550 no"),
            Some((None, "550 no".into()))
        );
        assert_eq!(split_said("connect to x: timed out"), None);
    }

    #[test]
    fn addresses() {
        assert_eq!(address_in("<A.b@X.org>:"), Some("A.b@X.org".into()));
        assert_eq!(address_in("user@localhost and c@d.e"), Some("c@d.e".into()));
        assert_eq!(address_in("none"), None);
    }

    #[test]
    fn postfix_text() {
        let text = "This is the mail system at host mail.example.org.\n\n\
            I'm sorry to have to inform you that your message could not\n\
            be delivered to one or more recipients.\n\n\
            <anna@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1\n    \
            <anna@example.com>: Recipient address rejected: User unknown (in reply\n    \
            to RCPT TO command)\n\n\
            <bob@example.net>: host mx.example.net[192.0.2.2] said: 452 4.2.2 Mailbox full\n";
        let f = scan(text);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[0].rcpt.as_deref(), Some("anna@example.com"));
        assert_eq!(f[0].host.as_deref(), Some("mx.example.com"));
        assert_eq!(
            f[0].reply,
            "550 5.1.1\n<anna@example.com>: Recipient address rejected: User unknown (in reply\nto RCPT TO command)"
        );
        assert_eq!(f[1].rcpt.as_deref(), Some("bob@example.net"));
        assert_eq!(f[1].reply, "452 4.2.2 Mailbox full");
    }

    #[test]
    fn exim_text() {
        let text = "A message that you sent could not be delivered to one or more of its\n\
            recipients. This is a permanent error. The following address(es) failed:\n\n  \
            kijitora@example.jp\n    \
            SMTP error from remote mail server after RCPT TO:<kijitora@example.jp>:\n    \
            host mx.example.jp [192.0.2.222]: 550 5.1.1 <kijitora@example.jp>... User Unknown\n\n\
            ------ This is a copy of the message, including all the headers. ------\n\
            To: someone@example.org\n";
        let f = scan(text);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rcpt.as_deref(), Some("kijitora@example.jp"));
        assert_eq!(f[0].host.as_deref(), Some("mx.example.jp"));
        assert_eq!(
            f[0].reply,
            "550 5.1.1 <kijitora@example.jp>... User Unknown"
        );
    }

    #[test]
    fn exim_reply_wrapped_at_the_same_indentation() {
        let text = "The following address(es) failed:\n\n  \
            anna@example.ch\n    \
            SMTP error from remote mail server after RCPT TO:<anna@example.ch>:\n    \
            host mx1.example.eu [192.0.2.32]: 554 5.7.1 <anna@example.ch>:\n    \
            Recipient address rejected: Access denied\n\n";
        let f = scan(text);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].reply,
            "554 5.7.1 <anna@example.ch>:\nRecipient address rejected: Access denied"
        );
        assert_eq!(f[0].host.as_deref(), Some("mx1.example.eu"));
    }

    #[test]
    fn sendmail_transcript_names_each_recipient_after_the_code() {
        let text = "   ----- Transcript of session follows -----\n\
            550 example.ed.jp (smtp)... 550 Host unknown\n\
            554 <anna@example.ed.jp>... 550 Host unknown (Authoritative answer from name server)\n\
            550 example.ac.jp (smtp)... 550 Host unknown\n\
            554 <bob@example.ac.jp>... 550 Host unknown (Authoritative answer from name server)\n";
        let f = scan(text);
        let rcpts: Vec<Option<&str>> = f.iter().map(|x| x.rcpt.as_deref()).collect();
        assert_eq!(
            rcpts,
            vec![
                None,
                Some("anna@example.ed.jp"),
                Some("anna@example.ed.jp"),
                Some("bob@example.ac.jp")
            ]
        );
        assert_eq!(
            f[3].reply,
            "554 <bob@example.ac.jp>... 550 Host unknown (Authoritative answer from name server)"
        );
    }

    #[test]
    fn notes_reason_above_the_address() {
        let text = "------- Failure Reasons  --------\n\n\
            User  not listed in public Name & Address Book\n\
            anna@example.com\n\n\n\
            ------- Returned Message --------\nReceived: from x\n";
        let f = scan(text);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rcpt.as_deref(), Some("anna@example.com"));
        assert_eq!(f[0].reply, "User  not listed in public Name & Address Book");
    }

    #[test]
    fn no_reply_gives_the_next_sentence() {
        let text = "There was an error delivering your mail to <p@cx.example.org>.\n\n\
            DNS lookup failure: host cx.example.org not found\n\nMessage headers follow.\n";
        let f = scan(text);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].reply,
            "There was an error delivering your mail to <p@cx.example.org>. \
             DNS lookup failure: host cx.example.org not found"
        );
        assert!(!f[0].is_smtp);
    }
}
