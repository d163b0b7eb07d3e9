//! Corpora of bounces with their expected outcomes, in YAML.
//!
//! ```yaml
//! # Real replies of Gmail's inbound servers.
//! provider: gmail
//! cases:
//!   - mx: gmail-smtp-in.l.google.com
//!     rcpt: someone@gmail.com
//!     reply: "550 5.1.1 The email account that you tried to reach does not exist."
//!     status: 5.1.1
//!     verdict: quarantine
//! ```
//!
//! `status` and `verdict` are what classification must give; `rule`
//! (`file:line`) names the deciding rule when it matters; `unmatched: true`
//! says no rule is expected to match.
//!
//! ```
//! let c = mxrules::verify::corpus::Corpus::from_yaml("provider: x\ncases:\n  - reply: \"550 5.1.1 no\"\n    verdict: quarantine\n").unwrap();
//! assert_eq!(c.cases.len(), 1);
//! ```

use serde::{Deserialize, Serialize};

use crate::core::bounce::Bounce;
use crate::core::status::{Category, Status, Verdict};

/// A corpus file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corpus {
    /// Whose replies these are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub cases: Vec<Case>,
}

/// One bounce and what it must classify as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mx: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rcpt: Option<String>,
    pub reply: String,
    /// A status reported next to the reply (DSN `Status:`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_status: Option<Status>,
    /// The category the MTA reported (PowerMTA `bounceCat`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_category: Option<Category>,
    /// The expected status after classification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The expected verdict.
    pub verdict: Verdict,
    /// The expected deciding rule, `file:line`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// True when no rule should match.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unmatched: bool,
}

impl Case {
    /// The bounce to classify.
    pub fn bounce(&self) -> Bounce {
        Bounce {
            mx: self.mx.clone(),
            rcpt: self.rcpt.clone(),
            reply: self.reply.clone(),
            status: self.given_status,
            reported_category: self.reported_category,
        }
    }
}

impl Corpus {
    /// Reads a corpus; the error names the line and column.
    pub fn from_yaml(text: &str) -> Result<Corpus, String> {
        serde_yaml::from_str(text).map_err(|e| match e.location() {
            Some(l) => format!("{}:{}: {e}", l.line(), l.column()),
            None => e.to_string(),
        })
    }
}
