//! Telling an input's format from its first lines.
//!
//! The first line that is not blank decides (a UTF-8 byte order mark and
//! leading white space are ignored):
//!
//! | the line | format |
//! |----------|--------|
//! | starts with `{` | JSON lines |
//! | a CSV header naming `dsnStatus`, or starting `type,timeLogged` | PowerMTA accounting |
//! | a syslog line (`May  1 10:20:30 host …` or `2024-05-01T10:20:30… host …`) | Postfix log, when it or one of the next lines mentions `postfix/` or `postfix[` |
//! | `From ` (an mbox separator) or a mail header (`Return-Path:`, `Received:`, `From:`, `MIME-Version:`, `X-…:`, any `Name: value`) | DSN emails |
//!
//! A folder is a Maildir (see [`super::dsn`]). Empty input reads as JSON
//! lines (with nothing in it).
//!
//! ```
//! use mxrules::input::{InputFormat, detect::detect};
//!
//! assert_eq!(detect(b"{\"reply\":\"550 no\"}\n"), Some(InputFormat::Jsonl));
//! assert_eq!(detect(b"type,timeLogged,rcpt,dsnStatus\n"), Some(InputFormat::Pmta));
//! assert_eq!(detect(b"From MAILER-DAEMON Wed May  1 10:20:30 2024\n"), Some(InputFormat::Dsn));
//! assert_eq!(detect(b"Return-Path: <>\nFrom: Mail Delivery System\n"), Some(InputFormat::Dsn));
//! assert_eq!(
//!     detect(b"May  1 10:20:30 mail postfix/smtp[1234]: 4A1B: to=<a@b.c>, status=sent (250 ok)\n"),
//!     Some(InputFormat::Postfix),
//! );
//! assert_eq!(detect(b"hello world\n"), None);
//! ```

use std::io::BufRead;

use super::InputFormat;

/// How many bytes [`sniff`] reads at most to decide.
pub(crate) const SNIFF_BYTES: usize = 64 << 10;

/// The format of an input that starts with `head` (which may end in the
/// middle of a line), or `None` when it cannot be told.
pub fn detect(head: &[u8]) -> Option<InputFormat> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.by_ref().find(|l| !is_blank(l))?;
    let first = trim_start(first);
    if first.starts_with(b"{") {
        return Some(InputFormat::Jsonl);
    }
    if is_pmta_header(first) {
        return Some(InputFormat::Pmta);
    }
    if is_syslog(first) {
        let postfix = std::iter::once(first)
            .chain(lines)
            .any(|l| contains(l, b"postfix/") || contains(l, b"postfix["));
        return postfix.then_some(InputFormat::Postfix);
    }
    if first.starts_with(b"From ") || is_header(first) {
        return Some(InputFormat::Dsn);
    }
    None
}

/// Reads the start of `reader` (whole lines, up to [`SNIFF_BYTES`]) and
/// tells its format; the bytes read are returned, to be put back in front
/// of the rest. An empty or blank input is JSON lines.
pub(crate) fn sniff(reader: &mut dyn BufRead) -> std::io::Result<(Vec<u8>, Option<InputFormat>)> {
    let mut head = Vec::new();
    let mut lines = 0usize;
    loop {
        let before = head.len();
        let room = u64::try_from(SNIFF_BYTES.saturating_sub(head.len())).unwrap_or(0);
        let n = std::io::Read::take(&mut *reader, room).read_until(b'\n', &mut head)?;
        if n == 0 {
            // End of input (or of the window).
            let format = if is_blank(&head) {
                Some(InputFormat::Jsonl)
            } else {
                detect(&head)
            };
            return Ok((head, format));
        }
        if !is_blank(&head[before..]) {
            lines += 1;
        }
        // JSON lines, CSV headers and mail headers are decided by the first
        // line; syslog lines may need a few to find one of Postfix.
        if let Some(f) = detect(&head) {
            return Ok((head, Some(f)));
        }
        if lines >= 200 || head.len() >= SNIFF_BYTES {
            let format = detect(&head);
            return Ok((head, format));
        }
    }
}

/// True when `bytes` holds only ASCII white space (or a byte order mark).
pub(crate) fn is_blank(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes.iter().all(u8::is_ascii_whitespace)
}

fn trim_start(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn is_pmta_header(line: &[u8]) -> bool {
    line.starts_with(b"type,timeLogged")
        || line
            .split(|&b| b == b',')
            .any(|f| unquote(f.trim_ascii()) == b"dsnStatus")
}

fn unquote(s: &[u8]) -> &[u8] {
    let s = s.strip_prefix(b"\"").unwrap_or(s);
    s.strip_suffix(b"\"").unwrap_or(s)
}

/// `Name: value` with a header field name (printable ASCII, no colon).
fn is_header(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    colon > 0 && line[..colon].iter().all(|&b| b.is_ascii_graphic())
}

/// A syslog line: a BSD timestamp (`May  1 10:20:30`) or an RFC 3339 one
/// (`2024-05-01T10:20:30…`), then a host name.
fn is_syslog(line: &[u8]) -> bool {
    syslog_timestamp_len(line).is_some()
}

/// The length of the syslog timestamp `line` starts with.
pub(crate) fn syslog_timestamp_len(line: &[u8]) -> Option<usize> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let digit = |i: usize| line.get(i).is_some_and(u8::is_ascii_digit);
    if line.len() >= 15 && MONTHS.iter().any(|m| line.starts_with(m)) {
        // "May  1 10:20:30" or "May 01 10:20:30"
        let day_ok = (line[4] == b' ' || digit(4)) && digit(5) && line[3] == b' ';
        let time_ok = line[6] == b' '
            && digit(7)
            && digit(8)
            && line[9] == b':'
            && digit(10)
            && digit(11)
            && line[12] == b':'
            && digit(13)
            && digit(14);
        return (day_ok && time_ok).then_some(15);
    }
    // 2024-05-01T10:20:30[.frac][Z|±hh:mm]
    let date_ok = (0..4).all(digit)
        && line.get(4) == Some(&b'-')
        && digit(5)
        && digit(6)
        && line.get(7) == Some(&b'-')
        && digit(8)
        && digit(9)
        && line.get(10) == Some(&b'T')
        && digit(11)
        && digit(12)
        && line.get(13) == Some(&b':');
    if !date_ok {
        return None;
    }
    line.iter().position(|&b| b == b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decides_by_the_first_line() {
        assert_eq!(detect(b"\xEF\xBB\xBF\n  \n{}"), Some(InputFormat::Jsonl));
        assert_eq!(
            detect(b"jobId,\"dsnStatus\",rcpt\r\n"),
            Some(InputFormat::Pmta)
        );
        assert_eq!(detect(b"Received: from x\n"), Some(InputFormat::Dsn));
        assert_eq!(
            detect(b"2024-05-01T10:20:30.123456+02:00 mail postfix/smtp[1]: x\n"),
            Some(InputFormat::Postfix)
        );
        // Syslog, but nothing of Postfix in sight.
        assert_eq!(detect(b"May  1 10:20:30 mail dovecot: x\n"), None);
        assert_eq!(
            detect(b"May  1 10:20:30 mail dovecot: x\nMay  1 10:20:31 mail postfix/qmgr[2]: y\n"),
            Some(InputFormat::Postfix)
        );
        assert_eq!(detect(b""), None);
        assert_eq!(detect(b"550 5.1.1 no such user"), None);
    }

    #[test]
    fn sniff_keeps_the_bytes() {
        let data =
            b"May  1 10:20:30 mail dovecot: x\nMay  1 10:20:31 mail postfix/qmgr[2]: y\nmore\n";
        let mut r: &[u8] = data;
        let (head, f) = sniff(&mut r).unwrap_or_default();
        assert_eq!(f, Some(InputFormat::Postfix));
        assert!(data.starts_with(&head));
        let mut empty: &[u8] = b"  \n\n";
        assert_eq!(
            sniff(&mut empty).ok().and_then(|x| x.1),
            Some(InputFormat::Jsonl)
        );
    }
}
