//! Enhanced status codes (RFC 3463), status patterns, verdicts and categories.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An RFC 3463 enhanced status code: `class.subject.detail`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Status {
    /// 2 (success), 4 (temporary failure) or 5 (permanent failure).
    pub class: u8,
    /// 0 to 7: what the status is about (address, mailbox, ...).
    pub subject: u16,
    /// 0 to 999: the precise condition.
    pub detail: u16,
}

impl Status {
    /// The status `class.subject.detail` (not range-checked: parse text
    /// to check it).
    pub const fn new(class: u8, subject: u16, detail: u16) -> Status {
        Status {
            class,
            subject,
            detail,
        }
    }

    /// The initial status of a reply without an enhanced code: `<class>.0.0`.
    pub const fn class_only(class: u8) -> Status {
        Status::new(class, 0, 0)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: StatusError| serde::de::Error::custom(e.to_string()))
    }
}

/// Why a status text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusError {
    /// Not three dot-separated numbers.
    Malformed,
    /// The class is not 2, 4 or 5.
    Class(u64),
    /// The subject is not 0 to 7.
    Subject(u64),
    /// The detail is not 0 to 999.
    Detail(u64),
    /// A `*` where an exact code is needed.
    Wildcard,
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusError::Malformed => {
                f.write_str("a status is three numbers separated by dots, like `5.1.1`")
            }
            StatusError::Class(c) => write!(f, "class `{c}` is not one of 2, 4 or 5"),
            StatusError::Subject(s) => write!(f, "subject `{s}` is not between 0 and 7"),
            StatusError::Detail(d) => write!(f, "detail `{d}` is not between 0 and 999"),
            StatusError::Wildcard => {
                f.write_str("a rule must rewrite to an exact status, not a pattern")
            }
        }
    }
}

impl StatusError {
    /// True when the text is not three dot-separated numbers (or `*`).
    pub fn is_malformed(&self) -> bool {
        matches!(self, StatusError::Malformed)
    }

    /// True when a part is a number outside its RFC 3463 range.
    pub fn is_out_of_range(&self) -> bool {
        matches!(
            self,
            StatusError::Class(_) | StatusError::Subject(_) | StatusError::Detail(_)
        )
    }

    /// True when a pattern was written where an exact status is needed.
    pub fn is_wildcard(&self) -> bool {
        matches!(self, StatusError::Wildcard)
    }
}

impl std::error::Error for StatusError {}

/// One part of a pattern: a number, or `*` for any.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Part {
    /// `*`: any number.
    Any,
    /// This number.
    Is(u16),
}

fn parse_part(s: &str) -> Result<Option<u64>, StatusError> {
    if s == "*" {
        return Ok(None);
    }
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StatusError::Malformed);
    }
    s.parse::<u64>()
        .map(Some)
        .map_err(|_| StatusError::Malformed)
}

fn check_class(c: u64) -> Result<u8, StatusError> {
    match c {
        2 | 4 | 5 => Ok(c as u8),
        _ => Err(StatusError::Class(c)),
    }
}

fn check_subject(s: u64) -> Result<u16, StatusError> {
    if s <= 7 {
        Ok(s as u16)
    } else {
        Err(StatusError::Subject(s))
    }
}

fn check_detail(d: u64) -> Result<u16, StatusError> {
    if d <= 999 {
        Ok(d as u16)
    } else {
        Err(StatusError::Detail(d))
    }
}

/// Which part of `text` (`class`, `subject` or `detail`) an error is about,
/// as a byte range, so a diagnostic can point at it.
pub fn error_range(text: &str, err: &StatusError) -> std::ops::Range<usize> {
    let idx = match err {
        StatusError::Class(_) => 0,
        StatusError::Subject(_) => 1,
        StatusError::Detail(_) => 2,
        StatusError::Malformed | StatusError::Wildcard => return 0..text.len(),
    };
    let mut start = 0;
    for (i, part) in text.split('.').enumerate() {
        if i == idx {
            return start..start + part.len();
        }
        start += part.len() + 1;
    }
    0..text.len()
}

impl FromStr for Status {
    type Err = StatusError;

    fn from_str(s: &str) -> Result<Status, StatusError> {
        match s.parse::<StatusPattern>()? {
            StatusPattern {
                class,
                subject: Part::Is(subject),
                detail: Part::Is(detail),
            } => Ok(Status::new(class, subject, detail)),
            _ => Err(StatusError::Wildcard),
        }
    }
}

/// A status or a pattern of statuses: `5.1.1`, `5.1.*`, `4.*.*`, `*.*.*`.
/// The class may only be `*` when the other parts are too.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusPattern {
    /// 0 stands for any class.
    pub class: u8,
    /// The subject, or any.
    pub subject: Part,
    /// The detail, or any (when the subject is a number, or any).
    pub detail: Part,
}

impl StatusPattern {
    /// The pattern every status matches.
    pub const ANY: StatusPattern = StatusPattern {
        class: 0,
        subject: Part::Any,
        detail: Part::Any,
    };

    /// True when `s` is one of the pattern's statuses.
    pub fn matches(&self, s: Status) -> bool {
        (self.class == 0 || self.class == s.class)
            && match self.subject {
                Part::Any => true,
                Part::Is(n) => n == s.subject,
            }
            && match self.detail {
                Part::Any => true,
                Part::Is(n) => n == s.detail,
            }
    }

    /// How many parts are fixed: more specific patterns win in a policy.
    pub fn specificity(&self) -> u8 {
        u8::from(self.class != 0)
            + u8::from(self.subject != Part::Any)
            + u8::from(self.detail != Part::Any)
    }

    /// The class every matching status has, if the pattern fixes it.
    pub fn class(&self) -> Option<u8> {
        (self.class != 0).then_some(self.class)
    }

    /// True when some status matches both patterns.
    pub fn overlaps(&self, other: &StatusPattern) -> bool {
        let part = |a: Part, b: Part| match (a, b) {
            (Part::Is(x), Part::Is(y)) => x == y,
            _ => true,
        };
        (self.class == 0 || other.class == 0 || self.class == other.class)
            && part(self.subject, other.subject)
            && part(self.detail, other.detail)
    }
}

impl FromStr for StatusPattern {
    type Err = StatusError;

    fn from_str(s: &str) -> Result<StatusPattern, StatusError> {
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() != 3 {
            return Err(StatusError::Malformed);
        }
        let class = match parse_part(parts[0])? {
            None => 0,
            Some(c) => check_class(c)?,
        };
        let subject = match parse_part(parts[1])? {
            None => Part::Any,
            Some(n) => Part::Is(check_subject(n)?),
        };
        let detail = match parse_part(parts[2])? {
            None => Part::Any,
            Some(n) => Part::Is(check_detail(n)?),
        };
        // `5.*.1` and `*.1.1` are refused: a pattern narrows from the left.
        if (class == 0 && subject != Part::Any) || (subject == Part::Any && detail != Part::Any) {
            return Err(StatusError::Malformed);
        }
        Ok(StatusPattern {
            class,
            subject,
            detail,
        })
    }
}

impl fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = |p: Part| match p {
            Part::Any => String::from("*"),
            Part::Is(n) => n.to_string(),
        };
        if self.class == 0 {
            f.write_str("*")?;
        } else {
            write!(f, "{}", self.class)?;
        }
        write!(f, ".{}.{}", part(self.subject), part(self.detail))
    }
}

impl Serialize for StatusPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StatusPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: StatusError| serde::de::Error::custom(e.to_string()))
    }
}

impl fmt::Debug for StatusPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What the sender should do about a bounced recipient.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The address is invalid: never send to it again.
    Quarantine,
    /// Our mail was refused for policy, spam or reputation reasons.
    Blocked,
    /// This message failed permanently; the address is fine.
    Hard,
    /// A temporary failure: retry later.
    Soft,
}

impl Verdict {
    /// Every verdict, in the order they are listed to people.
    pub const ALL: [Verdict; 4] = [
        Verdict::Quarantine,
        Verdict::Blocked,
        Verdict::Hard,
        Verdict::Soft,
    ];

    /// The word as written in rules: `quarantine`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Quarantine => "quarantine",
            Verdict::Blocked => "blocked",
            Verdict::Hard => "hard",
            Verdict::Soft => "soft",
        }
    }

    /// The verdict a word names, if any.
    pub fn from_word(s: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! categories {
    ($($variant:ident = $word:literal,)*) => {
        /// PowerMTA's bounce categories.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
        pub enum Category {
            $(#[doc = concat!("`", $word, "`")] #[serde(rename = $word)] $variant,)*
        }

        impl Category {
            /// Every category, in PowerMTA's order.
            pub const ALL: &'static [Category] = &[$(Category::$variant,)*];

            /// The word as PowerMTA writes it: `bad-mailbox`.
            pub fn as_str(self) -> &'static str {
                match self { $(Category::$variant => $word,)* }
            }

            /// The category a word names, if any.
            pub fn from_word(s: &str) -> Option<Category> {
                match s { $($word => Some(Category::$variant),)* _ => None }
            }
        }
    };
}

categories! {
    BadMailbox = "bad-mailbox",
    InactiveMailbox = "inactive-mailbox",
    BadDomain = "bad-domain",
    QuotaIssues = "quota-issues",
    PolicyRelated = "policy-related",
    SpamRelated = "spam-related",
    ContentRelated = "content-related",
    VirusRelated = "virus-related",
    RoutingErrors = "routing-errors",
    RelayingIssues = "relaying-issues",
    ProtocolErrors = "protocol-errors",
    BadConnection = "bad-connection",
    NoAnswerFromHost = "no-answer-from-host",
    MessageExpired = "message-expired",
    InvalidSender = "invalid-sender",
    BadConfiguration = "bad-configuration",
    Other = "other",
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ranges_follow_rfc_3463() {
        assert_eq!("5.1.1".parse::<Status>(), Ok(Status::new(5, 1, 1)));
        assert_eq!("4.7.999".parse::<Status>(), Ok(Status::new(4, 7, 999)));
        assert_eq!("3.1.1".parse::<Status>(), Err(StatusError::Class(3)));
        assert_eq!("5.8.1".parse::<Status>(), Err(StatusError::Subject(8)));
        assert_eq!("5.1.1000".parse::<Status>(), Err(StatusError::Detail(1000)));
        assert_eq!("5.1.*".parse::<Status>(), Err(StatusError::Wildcard));
        assert_eq!("5.1".parse::<Status>(), Err(StatusError::Malformed));
    }

    #[test]
    fn patterns_narrow_from_the_left() {
        let p: StatusPattern = "5.1.*".parse().unwrap();
        assert!(p.matches(Status::new(5, 1, 10)));
        assert!(!p.matches(Status::new(5, 2, 1)));
        assert_eq!(p.specificity(), 2);
        assert_eq!(
            "5.*.1".parse::<StatusPattern>(),
            Err(StatusError::Malformed)
        );
        assert_eq!("*.*.*".parse::<StatusPattern>(), Ok(StatusPattern::ANY));
        assert_eq!(error_range("5.12.1", &StatusError::Subject(12)), 2..4);
    }
}
