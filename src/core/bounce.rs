//! The bounce records every stage passes around: what a reader makes of
//! one failed recipient, owned ([`Bounce`]) or borrowed ([`BounceRef`]).

use crate::core::status::{Category, Status};

/// One bounce: the reply and what is known about where it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bounce {
    /// The receiving host, in any of the forms MTAs log (`dns;mx.example.com.`).
    pub mx: Option<String>,
    /// The recipient address.
    pub rcpt: Option<String>,
    /// The SMTP reply or DSN diagnostic.
    pub reply: String,
    /// A status reported next to the reply (DSN `Status:`, PowerMTA `dsnStatus`).
    pub status: Option<Status>,
    /// The category the MTA reported (PowerMTA `bounceCat`), for rules with
    /// a `reported` condition.
    pub reported_category: Option<Category>,
}

impl Bounce {
    /// A bounce with only its reply known.
    pub fn new(reply: impl Into<String>) -> Bounce {
        Bounce {
            reply: reply.into(),
            ..Bounce::default()
        }
    }

    /// With the receiving host.
    pub fn mx(mut self, mx: impl Into<String>) -> Bounce {
        self.mx = Some(mx.into());
        self
    }

    /// With the recipient address.
    pub fn rcpt(mut self, rcpt: impl Into<String>) -> Bounce {
        self.rcpt = Some(rcpt.into());
        self
    }

    /// With the status reported next to the reply.
    pub fn status(mut self, status: Status) -> Bounce {
        self.status = Some(status);
        self
    }

    /// With the category the MTA reported.
    pub fn reported_category(mut self, category: Category) -> Bounce {
        self.reported_category = Some(category);
        self
    }
}

/// A [`Bounce`] whose strings are borrowed, from the bounce or from
/// wherever the record was read: what `Classifier::classify_ref` takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BounceRef<'a> {
    /// The receiving host, as logged.
    pub mx: Option<&'a str>,
    /// The recipient address.
    pub rcpt: Option<&'a str>,
    /// The SMTP reply or DSN diagnostic.
    pub reply: &'a str,
    /// A status reported next to the reply.
    pub status: Option<Status>,
    /// The category the MTA reported.
    pub reported_category: Option<Category>,
}

impl<'a> From<&'a Bounce> for BounceRef<'a> {
    fn from(b: &'a Bounce) -> BounceRef<'a> {
        BounceRef {
            mx: b.mx.as_deref(),
            rcpt: b.rcpt.as_deref(),
            reply: &b.reply,
            status: b.status,
            reported_category: b.reported_category,
        }
    }
}
