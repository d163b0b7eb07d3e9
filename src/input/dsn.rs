//! Bounce emails: RFC 3464 delivery status notifications, and the bounces
//! of MTAs that write for people only.
//!
//! Messages come from an `.eml` file (one message), an mbox file (messages
//! split on `From ` lines; `>From ` unquoted), or a Maildir folder (the
//! files of `cur/` and `new/`, by name). MIME is parsed by `mailparse`.
//!
//! Each message gives one record per failed or delayed recipient of its
//! `message/delivery-status` part (`message/global-delivery-status` too):
//! `Final-Recipient` (else `Original-Recipient`) is the recipient, `Status`
//! the status reported with the reply, `Remote-MTA` the MX and
//! `Diagnostic-Code` the reply (folded lines kept apart, so that a
//! multi-line reply is joined as one). `Action: delivered`, `relayed` and
//! `expanded` recipients are skipped. The time is the recipient's
//! `Last-Attempt-Date`, else the report's `Arrival-Date`, else the
//! message's `Date`; `action` is passed through.
//!
//! When the report part is missing, or has no recipient, the
//! human-readable text is read instead (the text before the copy of the
//! original message): every SMTP reply in it (`host mx.example.com[…]
//! said: 550 5.1.1 …`, Exim's `host … [ip]: 550 …`, qmail's `Remote host
//! said: 550 …`, Sendmail's `<<< 550 …`) with the recipient mentioned
//! before it; a recipient listed without a reply gets the sentence that
//! explains its failure. The recipients of an `X-Failed-Recipients` header,
//! or else the `To` of the returned message, name whom a reply is about
//! when the text does not. A recipient of the report without a
//! `Diagnostic-Code` takes its reply from the text the same way.
//!
//! A message that looks like a bounce (a report, a sender such as
//! `MAILER-DAEMON` or `postmaster`, a subject such as `Undelivered Mail`)
//! but where no failed recipient is found is a bad record; any other
//! message is skipped. Positions give the line where a message starts (1
//! for an `.eml` file and a Maildir message).

use std::collections::VecDeque;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use mailparse::{MailHeaderMap, ParsedMail};
use serde_json::{Map, Value};

use super::lines::Lines;
use super::text::{Found, address_in, is_original_marker, scan, summary};
use super::{
    InputRecord, Item, Items, MAX_MESSAGE_BYTES, OpenError, Position, Source, bounce, clean_address,
};
use crate::core::status::Status;

/// The records of one message, read from `bytes`; `at` is where it starts.
pub(crate) fn parse_message(bytes: &[u8], at: &Position) -> Vec<Item> {
    let mail = match mailparse::parse_mail(bytes) {
        Ok(m) => m,
        Err(e) => {
            return vec![Item::bad(
                at.clone(),
                format!("cannot parse the message: {e}"),
            )];
        }
    };
    let date = mail.headers.get_first_value("Date");
    let mut report: Option<Report> = None;
    let mut text = String::new();
    let mut returned_to: Option<String> = None;
    collect(&mail, &mut report, &mut text, &mut returned_to, 0);
    let failed: Vec<String> = ["X-Failed-Recipients", "X-Bounced-Address"]
        .iter()
        .flat_map(|h| mail.headers.get_all_values(h))
        .flat_map(|v| v.split(',').map(clean_address).collect::<Vec<_>>())
        .filter(|a| a.contains('@'))
        .collect();
    if returned_to.is_none() {
        returned_to = inline_returned_to(&text);
    }
    // Some MTAs write the report's fields into the text part.
    if report.as_ref().is_none_or(|r| r.recipients.is_empty())
        && text.to_ascii_lowercase().contains("final-recipient:")
    {
        let inline = Report::parse(&text);
        if !inline.recipients.is_empty() {
            report = Some(inline);
        }
    }
    let has_report =
        report.is_some() || mail.ctype.mimetype.eq_ignore_ascii_case("multipart/report");
    let found = scan(&text);
    let mut items = Vec::new();
    let report = report.unwrap_or_default();
    let message_time = report.arrival_date.clone().or(date);
    let mut any = false;
    for r in &report.recipients {
        let Some(rcpt) = r.recipient() else { continue };
        let action = r.action.as_deref().map(str::to_ascii_lowercase);
        if let Some(a @ ("delivered" | "relayed" | "expanded")) = action.as_deref() {
            items.push(Item::skipped(
                at.clone(),
                format!("recipient {rcpt}: action {a}"),
            ));
            any = true;
            continue;
        }
        let mut mx = r.remote_mta.clone();
        let mut reply = r.diagnostic.clone().unwrap_or_default();
        if reply.trim().is_empty()
            && let Some(f) = pick(&found, &rcpt, failed.len() + report.recipients.len())
        {
            reply = f.reply.clone();
            mx = mx.or_else(|| f.host.clone());
        }
        let mut extra = Map::new();
        if let Some(a) = action {
            extra.insert("action".into(), Value::from(a));
        }
        items.push(Item::Record(InputRecord {
            bounce: bounce(
                mx,
                Some(rcpt),
                reply,
                r.status.as_deref().and_then(status_code),
                None,
            ),
            time: r.last_attempt.clone().or_else(|| message_time.clone()),
            incoming_category: None,
            extra,
            position: at.clone(),
        }));
        any = true;
    }
    if !any {
        for (rcpt, f) in from_text(&found, &failed, returned_to.as_deref(), &text) {
            items.push(Item::Record(InputRecord {
                bounce: bounce(f.host, Some(rcpt), f.reply, None, None),
                time: message_time.clone(),
                incoming_category: None,
                extra: Map::new(),
                position: at.clone(),
            }));
            any = true;
        }
    }
    if !any {
        let looks_like_bounce = has_report || looks_like_bounce(&mail);
        items.push(if looks_like_bounce {
            Item::bad(at.clone(), "no failed recipient found in the message")
        } else {
            Item::skipped(at.clone(), "not a bounce message")
        });
    }
    items
}

/// The failure found in the text for `rcpt`: the one naming it, else the
/// only one when the message is about one recipient (`count`).
fn pick<'a>(found: &'a [Found], rcpt: &str, count: usize) -> Option<&'a Found> {
    found
        .iter()
        .filter(|f| f.is_smtp || f.rcpt.is_some())
        .find(|f| {
            f.rcpt
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(rcpt))
        })
        .or_else(|| {
            let smtp: Vec<&Found> = found.iter().filter(|f| f.is_smtp).collect();
            (count <= 1 || smtp.len() == 1)
                .then(|| smtp.first().copied())
                .flatten()
        })
}

/// The recipients and their failures from the text alone. A recipient of
/// `X-Failed-Recipients` that the text says nothing precise about gets the
/// text's first lines.
fn from_text(
    found: &[Found],
    failed: &[String],
    returned_to: Option<&str>,
    text: &str,
) -> Vec<(String, Found)> {
    let mut out: Vec<(String, Found)> = Vec::new();
    if !failed.is_empty() {
        for rcpt in failed {
            if out.iter().any(|(r, _)| r.eq_ignore_ascii_case(rcpt)) {
                continue;
            }
            let f = pick(found, rcpt, failed.len())
                .or_else(|| found.first())
                .cloned()
                .unwrap_or_else(|| Found {
                    rcpt: Some(rcpt.clone()),
                    host: None,
                    reply: summary(text),
                    is_smtp: false,
                });
            out.push((rcpt.clone(), f));
        }
        return out;
    }
    for f in found {
        let rcpt = match (&f.rcpt, returned_to) {
            (Some(r), _) => r.clone(),
            (None, Some(to)) if f.is_smtp => to.to_string(),
            _ => continue,
        };
        if !out.iter().any(|(r, _)| r.eq_ignore_ascii_case(&rcpt)) {
            out.push((rcpt, f.clone()));
        }
    }
    out
}

/// Walks the MIME tree: the delivery status, the human-readable text (text
/// parts outside returned messages), the `To` of the returned message.
fn collect(
    part: &ParsedMail<'_>,
    report: &mut Option<Report>,
    text: &mut String,
    returned_to: &mut Option<String>,
    depth: usize,
) {
    let mime = part.ctype.mimetype.to_ascii_lowercase();
    match mime.as_str() {
        "message/delivery-status" | "message/global-delivery-status" => {
            let body = part.get_body().unwrap_or_default();
            let parsed = Report::parse(&body);
            match report {
                Some(r) if !parsed.recipients.is_empty() => r.recipients.extend(parsed.recipients),
                Some(_) => {}
                None => *report = Some(parsed),
            }
        }
        "message/rfc822" | "message/global" | "text/rfc822-headers" | "message/rfc822-headers" => {
            let body = part.get_body_raw().unwrap_or_default();
            if returned_to.is_none()
                && let Ok((headers, _)) = mailparse::parse_headers(&body)
            {
                *returned_to = headers
                    .get_first_value("To")
                    .and_then(|to| single_address(&to));
            }
        }
        m if m.starts_with("multipart/") && part.subparts.is_empty() => {
            // The boundary is not found: the body is read as text.
            let header_len = part.get_headers().get_raw_bytes().len();
            let body = part.raw_bytes.get(header_len..).unwrap_or_default();
            push_text(text, &String::from_utf8_lossy(body));
        }
        m if m.starts_with("multipart/") => {
            for sub in &part.subparts {
                collect(sub, report, text, returned_to, depth + 1);
            }
        }
        m if m.starts_with("text/") && m != "text/html" || (depth == 0 && m.is_empty()) => {
            let is_attachment = part
                .get_content_disposition()
                .disposition
                .eq(&mailparse::DispositionType::Attachment);
            if !is_attachment || depth == 0 {
                push_text(text, &part.get_body().unwrap_or_default());
            }
        }
        _ => {}
    }
}

fn push_text(text: &mut String, more: &str) {
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(more);
}

/// The address of a `To` that names one.
fn single_address(to: &str) -> Option<String> {
    if to.contains(',') {
        return None;
    }
    address_in(to)
}

/// The `To` of a returned message copied into the text.
fn inline_returned_to(text: &str) -> Option<String> {
    let mut in_copy = false;
    for line in text.lines() {
        let lower = line.to_ascii_lowercase();
        if is_original_marker(&lower) {
            in_copy = true;
            continue;
        }
        if in_copy && lower.starts_with("to:") {
            return single_address(&line[3..]);
        }
    }
    None
}

fn looks_like_bounce(mail: &ParsedMail<'_>) -> bool {
    let from = mail
        .headers
        .get_first_value("From")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let subject = mail
        .headers
        .get_first_value("Subject")
        .unwrap_or_default()
        .to_ascii_lowercase();
    ["mailer-daemon", "postmaster", "mail delivery"]
        .iter()
        .any(|w| from.contains(w))
        || [
            "undeliver",
            "delivery status",
            "delivery failure",
            "failure notice",
            "returned mail",
            "delivery failed",
            "non remis",
            "not delivered",
        ]
        .iter()
        .any(|w| subject.contains(w))
}

/// The code of a `Status:` field: `5.1.1 (user unknown)` -> 5.1.1.
fn status_code(s: &str) -> Option<Status> {
    s.split(|c: char| c.is_whitespace() || c == '(')
        .find(|w| !w.is_empty())?
        .parse()
        .ok()
}

/// The fields of a delivery-status part.
#[derive(Debug, Default)]
struct Report {
    arrival_date: Option<String>,
    recipients: Vec<RecipientFields>,
}

#[derive(Debug, Default)]
struct RecipientFields {
    final_recipient: Option<String>,
    original_recipient: Option<String>,
    action: Option<String>,
    status: Option<String>,
    remote_mta: Option<String>,
    diagnostic: Option<String>,
    last_attempt: Option<String>,
}

impl RecipientFields {
    fn recipient(&self) -> Option<String> {
        [&self.final_recipient, &self.original_recipient]
            .into_iter()
            .flatten()
            .map(|r| clean_address(r))
            .find(|r| !r.is_empty())
    }

    fn is_empty(&self) -> bool {
        self.final_recipient.is_none() && self.original_recipient.is_none()
    }
}

impl Report {
    /// Reads `Name: value` fields, folded lines included (kept on lines of
    /// their own, trimmed), in blocks separated by blank lines. A block,
    /// or a run of fields, with a recipient field is a recipient; lines
    /// that are no fields are ignored.
    fn parse(body: &str) -> Report {
        let mut report = Report::default();
        let mut current = RecipientFields::default();
        let mut field: Option<(String, String)> = None;
        let finish_field = |field: &mut Option<(String, String)>,
                            current: &mut RecipientFields,
                            report: &mut Report| {
            let Some((name, value)) = field.take() else {
                return;
            };
            let value = value.trim().to_string();
            let slot = match name.to_ascii_lowercase().as_str() {
                "final-recipient" => {
                    if current.final_recipient.is_some() {
                        report.recipients.push(std::mem::take(current));
                    }
                    &mut current.final_recipient
                }
                "original-recipient" => &mut current.original_recipient,
                "action" => &mut current.action,
                "status" => &mut current.status,
                "remote-mta" => &mut current.remote_mta,
                "diagnostic-code" => &mut current.diagnostic,
                "last-attempt-date" => &mut current.last_attempt,
                "arrival-date" => &mut report.arrival_date,
                _ => return,
            };
            if slot.is_none() && !value.is_empty() {
                *slot = Some(value);
            }
        };
        for line in body.lines() {
            if line.trim().is_empty() {
                finish_field(&mut field, &mut current, &mut report);
                if !current.is_empty() {
                    report.recipients.push(std::mem::take(&mut current));
                } else {
                    current = RecipientFields::default();
                }
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = field.as_mut() {
                    value.push('\n');
                    value.push_str(line.trim());
                }
                continue;
            }
            finish_field(&mut field, &mut current, &mut report);
            if let Some((name, value)) = line.split_once(':')
                && !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                field = Some((name.to_string(), value.trim().to_string()));
            }
        }
        finish_field(&mut field, &mut current, &mut report);
        if !current.is_empty() {
            report.recipients.push(current);
        }
        report
    }
}

/// Items of a DSN input stream: an mbox (it starts with `From `) or one
/// message.
pub(crate) fn stream(mut reader: Source, name: String) -> Items {
    let starts_mbox = match reader.fill_buf() {
        Ok(head) => {
            let start = head
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(head.len());
            head[start..].starts_with(b"From ")
        }
        Err(_) => false,
    };
    if starts_mbox {
        Box::new(Mbox::new(reader, name))
    } else {
        let at = Position::new(name, 1);
        let mut bytes = Vec::new();
        let limit = u64::try_from(MAX_MESSAGE_BYTES).unwrap_or(u64::MAX) + 1;
        let items = match reader.take(limit).read_to_end(&mut bytes) {
            Err(e) => vec![Item::bad(at, format!("cannot read: {e}"))],
            Ok(_) if bytes.len() > MAX_MESSAGE_BYTES => vec![too_big(at)],
            Ok(_) if bytes.iter().all(u8::is_ascii_whitespace) => Vec::new(),
            Ok(_) => parse_message(&bytes, &at),
        };
        Box::new(items.into_iter())
    }
}

fn too_big(at: Position) -> Item {
    Item::bad(
        at,
        format!("message is larger than {} MiB", MAX_MESSAGE_BYTES >> 20),
    )
}

/// The messages of an mbox file, one at a time.
struct Mbox {
    lines: Lines,
    name: String,
    /// The message being read, and the line where it started.
    message: Vec<u8>,
    start: usize,
    too_big: bool,
    pending: VecDeque<Item>,
    done: bool,
}

impl Mbox {
    fn new(reader: Source, name: String) -> Mbox {
        Mbox {
            lines: Lines::new(reader),
            name,
            message: Vec::new(),
            start: 0,
            too_big: false,
            pending: VecDeque::new(),
            done: false,
        }
    }

    /// Turns the message read so far into items.
    fn finish(&mut self) {
        if self.start == 0 {
            return;
        }
        let at = Position::new(self.name.clone(), self.start);
        if self.too_big {
            self.pending.push_back(too_big(at));
        } else if !self.message.iter().all(u8::is_ascii_whitespace) {
            self.pending.extend(parse_message(&self.message, &at));
        } else {
            self.pending
                .push_back(Item::bad(at, "empty message in the mbox"));
        }
        self.message.clear();
        self.too_big = false;
    }
}

impl Iterator for Mbox {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            let Some(line) = self.lines.next_line() else {
                self.done = true;
                self.finish();
                if let Some(e) = self.lines.error.take() {
                    let at = Position::new(self.name.clone(), self.lines.number() + 1);
                    self.pending
                        .push_back(Item::bad(at, format!("cannot read: {e}")));
                }
                continue;
            };
            let number = line.number;
            if line.bytes.starts_with(b"From ") {
                self.finish();
                self.start = number;
                continue;
            }
            if self.start == 0 {
                // Text before the first `From ` line.
                if line.bytes.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                self.start = number;
            }
            let bytes = line.bytes;
            // mboxrd: `>From ` (any number of `>`) loses one `>`.
            let unquoted = match bytes.iter().position(|&b| b != b'>') {
                Some(n) if n > 0 && bytes[n..].starts_with(b"From ") => &bytes[1..],
                _ => bytes,
            };
            if self.message.len() + unquoted.len() + 1 > MAX_MESSAGE_BYTES {
                self.too_big = true;
                self.message.clear();
            }
            if !self.too_big {
                self.message.extend_from_slice(unquoted);
                self.message.push(b'\n');
            }
        }
    }
}

/// The messages of a Maildir folder: the files of `cur/` and `new/`, by
/// name, each read when its turn comes.
pub(crate) fn maildir(dir: &Path, name: &str) -> Result<Items, OpenError> {
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let mut found_sub = false;
    for sub in ["cur", "new"] {
        let path = dir.join(sub);
        if !path.is_dir() {
            continue;
        }
        found_sub = true;
        let mut names: Vec<String> = std::fs::read_dir(&path)?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        for n in names {
            let shown = format!("{}/{sub}/{n}", name.trim_end_matches('/'));
            files.push((path.join(&n), shown));
        }
    }
    if !found_sub {
        return Err(OpenError::NotMaildir {
            name: name.to_string(),
        });
    }
    Ok(Box::new(files.into_iter().flat_map(|(path, shown)| {
        let at = Position::new(shown, 1);
        match read_message(&path) {
            Ok(bytes) => parse_message(&bytes, &at),
            Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => vec![too_big(at)],
            Err(e) => vec![Item::bad(at, format!("cannot read: {e}"))],
        }
    })))
}

fn read_message(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_MESSAGE_BYTES).unwrap_or(u64::MAX) + 1;
    file.take(limit).read_to_end(&mut bytes)?;
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(std::io::ErrorKind::FileTooLarge.into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_fields() {
        let r = Report::parse(
            "Reporting-MTA: dns; mail.example.org\nArrival-Date: Wed, 1 May 2024 10:20:30 +0000\n\n\
             Final-Recipient: rfc822; anna@example.com\nAction: failed\nStatus: 5.1.1\n\
             Remote-MTA: dns; mx.example.com\nDiagnostic-Code: smtp; 550-5.1.1 a\n    550 5.1.1 b\n\n\
             Final-Recipient: rfc822; bob@example.com\nAction: delayed\nStatus: 4.2.2\n",
        );
        assert_eq!(r.recipients.len(), 2);
        assert_eq!(
            r.recipients[0].diagnostic.as_deref(),
            Some("smtp; 550-5.1.1 a\n550 5.1.1 b")
        );
        assert_eq!(
            r.recipients[1].recipient().as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(
            r.arrival_date.as_deref(),
            Some("Wed, 1 May 2024 10:20:30 +0000")
        );
    }

    #[test]
    fn recipients_without_blank_lines_between() {
        let r = Report::parse(
            "Final-Recipient: rfc822; a@x.org\nStatus: 5.1.1\nFinal-Recipient: rfc822; b@x.org\nStatus: 5.2.2\n",
        );
        assert_eq!(r.recipients.len(), 2);
        assert_eq!(r.recipients[1].status.as_deref(), Some("5.2.2"));
    }
}
