//! A precise status for a reply that carries none, guessed from its words.

use crate::core::status::Status;

/// The wordings [`guess_status`] looks for, in the order it tries them,
/// each with the subject and detail of the status it gives: addressing,
/// mailbox, size, rate and policy.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_whole_words() {
        assert_eq!(
            guess_status(5, "550 Sender IP is temporarily blocked").to_string(),
            "5.7.1"
        );
        assert_eq!(guess_status(5, "550 Account locked").to_string(), "5.2.1");
        assert_eq!(guess_status(4, "421 unexpected").to_string(), "4.0.0");
    }
}
