//! Postfix mail logs.
//!
//! A delivery line of Postfix's `smtp`, `lmtp`, `local` or `virtual`
//! agents, as syslog writes it (BSD `May  1 10:20:30` or RFC 3339
//! timestamps):
//!
//! ```text
//! May  1 10:20:30 mail postfix/smtp[2481]: 4VT1x23kLz: to=<anna@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=1.2, delays=0.1/0/0.6/0.5, dsn=5.1.1, status=bounced (host mx.example.com[192.0.2.1] said: 550 5.1.1 <anna@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command))
//! ```
//!
//! A `status=bounced` or `status=deferred` line is a bounce: `to=<…>` is the
//! recipient, `dsn=` the status, `relay=` the MX (else the host named in
//! the text), and the reply is the server's (`550 5.1.1 …` after
//! `host … said:`, without Postfix's `(in reply to … command)`), or else
//! Postfix's own words (`connect to …: Connection timed out`). The queue id
//! is passed through as `queue_id`, and `action` is `failed` or `delayed`.
//! Other syslog lines (`status=sent`, `qmgr`, other programs) are skipped
//! and counted; a line that is not a syslog line, or a bounce line without
//! `to=<…>`, is a bad record. A relay that is no host (`none`, `local`,
//! `private/…`) gives no MX.

use serde_json::{Map, Value};

use super::detect::syslog_timestamp_len;
use super::lines::{Lines, MAX_LINE};
use super::text::split_said;
use super::{InputRecord, Item, Position, Source, bounce};
use crate::core::status::Status;

/// The records of a Postfix log.
pub(crate) struct Reader {
    lines: Lines,
    name: String,
}

impl Reader {
    pub(crate) fn new(reader: Source, name: String) -> Reader {
        Reader {
            lines: Lines::new(reader),
            name,
        }
    }
}

impl Iterator for Reader {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            let Some(line) = self.lines.next_line() else {
                let e = self.lines.error.take()?;
                let at = Position::new(self.name.clone(), self.lines.number() + 1);
                return Some(Item::bad(at, format!("cannot read: {e}")));
            };
            let at = Position::new(self.name.clone(), line.number);
            if line.truncated {
                return Some(Item::bad(
                    at,
                    format!("line is longer than {} MiB", MAX_LINE >> 20),
                ));
            }
            let text = String::from_utf8_lossy(line.bytes);
            if text.trim().is_empty() {
                continue;
            }
            return Some(parse_line(&text, at));
        }
    }
}

/// One log line: a record, a skipped line or a bad one.
pub(crate) fn parse_line(line: &str, at: Position) -> Item {
    let Some(ts_len) = syslog_timestamp_len(line.as_bytes()) else {
        return Item::bad(at, "not a syslog line");
    };
    let time = line[..ts_len].to_string();
    // host program[pid]: message
    let mut rest = line[ts_len..].trim_start().splitn(3, ' ');
    let (Some(_host), Some(program), Some(message)) = (rest.next(), rest.next(), rest.next())
    else {
        return Item::bad(at, "not a syslog line");
    };
    if !program.starts_with("postfix") {
        return Item::skipped(at, "not a Postfix line");
    }
    let Some(status) = field(message, "status") else {
        return Item::skipped(at, "not a delivery line");
    };
    let action = match status {
        "bounced" => "failed",
        "deferred" => "delayed",
        other => return Item::skipped(at, format!("status={other}")),
    };
    let Some(rcpt) = field(message, "to") else {
        return Item::bad(at, format!("`status={status}` line without `to=<…>`"));
    };
    let rcpt = rcpt.trim_start_matches('<').trim_end_matches('>');
    let dsn = field(message, "dsn").and_then(|d| d.parse::<Status>().ok());
    // `relay=none`, `relay=local`, `relay=private/dovecot-lmtp`: no MX.
    let relay = field(message, "relay").filter(|r| r.contains(['.', '[']) && !r.contains('/'));
    let said = status_text(message);
    let (host, reply) = match said.and_then(split_said) {
        Some((host, reply)) => (host, reply),
        None => (None, said.unwrap_or("").trim().to_string()),
    };
    let mut extra = Map::new();
    if let Some((queue_id, _)) = message.split_once(':')
        && !queue_id.is_empty()
        && queue_id.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        extra.insert("queue_id".into(), Value::from(queue_id));
    }
    extra.insert("action".into(), Value::from(action));
    Item::Record(InputRecord {
        bounce: bounce(
            relay.map(str::to_string).or(host),
            (!rcpt.is_empty()).then(|| rcpt.to_string()),
            reply,
            dsn,
            None,
        ),
        time: Some(time),
        incoming_category: None,
        extra,
        position: at,
    })
}

/// The value of `name=` in a Postfix `a=b, c=d` list: up to the next `,`
/// or white space (for `to=<…>`, up to the closing `>`).
fn field<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = message[from..].find(name) {
        let start = from + i;
        let end = start + name.len();
        from = end;
        let boundary = start == 0 || matches!(message.as_bytes()[start - 1], b' ' | b',');
        if !boundary || message.as_bytes().get(end) != Some(&b'=') {
            continue;
        }
        let value = &message[end + 1..];
        if value.starts_with('<') {
            return Some(value.find('>').map_or(value, |close| &value[..=close]));
        }
        let stop = value
            .find(|c: char| c == ',' || c.is_whitespace())
            .unwrap_or(value.len());
        return Some(&value[..stop]);
    }
    None
}

/// The text in parentheses after `status=…`.
fn status_text(message: &str) -> Option<&str> {
    let i = message.find(" status=")?;
    let after = &message[i + 1..];
    let open = after.find('(')?;
    let inner = &after[open + 1..];
    Some(inner.strip_suffix(')').unwrap_or(inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(line: &str) -> InputRecord {
        match parse_line(line, Position::new("t", 1)) {
            Item::Record(r) => r,
            other => panic!("not a record: {other:?}"),
        }
    }

    #[test]
    fn bounced_line() {
        let r = record(
            "May  1 10:20:30 mail postfix/smtp[2481]: 4VT1x23kLz: to=<anna@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=1.2, delays=0.1/0/0.6/0.5, dsn=5.1.1, status=bounced (host mx.example.com[192.0.2.1] said: 550 5.1.1 <anna@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command))",
        );
        assert_eq!(r.bounce.rcpt.as_deref(), Some("anna@example.com"));
        assert_eq!(r.bounce.mx.as_deref(), Some("mx.example.com[192.0.2.1]:25"));
        assert_eq!(
            r.bounce.reply,
            "550 5.1.1 <anna@example.com>: Recipient address rejected: User unknown"
        );
        assert_eq!(r.bounce.status, Some(Status::new(5, 1, 1)));
        assert_eq!(r.time.as_deref(), Some("May  1 10:20:30"));
        assert_eq!(r.extra["queue_id"], "4VT1x23kLz");
    }

    #[test]
    fn deferred_without_reply() {
        let r = record(
            "2024-05-01T10:20:30.123456+02:00 mail postfix/smtp[9]: 4VT1: to=<b@example.net>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.example.net[192.0.2.9]:25: Connection timed out)",
        );
        assert_eq!(r.bounce.mx, None);
        assert_eq!(
            r.bounce.reply,
            "connect to mx.example.net[192.0.2.9]:25: Connection timed out"
        );
        assert_eq!(r.extra["action"], "delayed");
    }

    #[test]
    fn other_lines() {
        let at = || Position::new("t", 1);
        assert!(matches!(
            parse_line(
                "May  1 10:20:30 mail postfix/smtp[1]: X: to=<a@b>, status=sent (250 ok)",
                at()
            ),
            Item::Skipped { .. }
        ));
        assert!(matches!(
            parse_line("May  1 10:20:30 mail dovecot: imap-login: x", at()),
            Item::Skipped { .. }
        ));
        assert!(matches!(parse_line("garbage", at()), Item::Bad(_)));
        assert!(matches!(
            parse_line(
                "May  1 10:20:30 mail postfix/smtp[1]: X: status=bounced (x)",
                at()
            ),
            Item::Bad(_)
        ));
    }
}
