//! Classifying bounces with compiled tables.
//!
//! [`Classifier::classify`] follows the semantics of the design exactly:
//! normalize the bounce, select the scopes for its MX host and recipient
//! domain (exact host, host suffixes longest first, recipient domain,
//! global), and in each scope take the first rule in source order whose
//! `initial` condition holds and whose regex matches anywhere. When no rule
//! of any scope matches, the policy decides from the initial status and the
//! result is flagged unmatched.
//!
//! ```
//! use mxrules::classify::{Bounce, Classifier};
//! use mxrules::load::Parsed;
//!
//! let mut parsed = Parsed::default();
//! parsed.add_text("mail.ru.rules", r#"
//! policy { 5.1.1 -> quarantine  5.*.* -> hard  4.*.* -> soft }
//! mx ends with ".mail.ru" {
//!     initial 5.0.0 {
//!         /^550 Message was not accepted -- invalid mailbox/ -> 5.1.1
//!     }
//! }"#);
//! let rules = mxrules::check::check(&parsed).rules.unwrap();
//! let classifier = Classifier::new(rules).unwrap();
//!
//! let bounce = Bounce::new("550 Message was not accepted -- invalid mailbox").mx("mxs.mail.ru");
//! let v = classifier.classify(&bounce);
//! assert_eq!(v.verdict.as_str(), "quarantine");
//! assert_eq!(v.status.unwrap().to_string(), "5.1.1");
//! assert_eq!(v.rule.as_deref(), Some("mail.ru.rules:5"));
//!
//! // Not a Mail.ru host: no rule applies, the policy decides from 5.0.0.
//! let v = classifier.classify(&Bounce::new("550 Message was not accepted -- invalid mailbox").mx("evilmail.ru"));
//! assert!(v.unmatched);
//! assert_eq!(v.verdict.as_str(), "hard");
//! ```

use std::sync::Arc;

use serde::Serialize;

use crate::compile::{self, Options};
use crate::diag::Diagnostic;
use crate::model::RuleSet;
use crate::normalize::{Reply, normalize_mx, rcpt_domain};
use crate::status::{Category, Status, Verdict};
use crate::tables::{Reason, Tables};

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
    pub fn new(reply: impl Into<String>) -> Bounce {
        Bounce {
            reply: reply.into(),
            ..Bounce::default()
        }
    }

    pub fn mx(mut self, mx: impl Into<String>) -> Bounce {
        self.mx = Some(mx.into());
        self
    }

    pub fn rcpt(mut self, rcpt: impl Into<String>) -> Bounce {
        self.rcpt = Some(rcpt.into());
        self
    }

    pub fn status(mut self, status: Status) -> Bounce {
        self.status = Some(status);
        self
    }

    pub fn reported_category(mut self, category: Category) -> Bounce {
        self.reported_category = Some(category);
        self
    }
}

/// What a bounce means.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// The status after rewriting: the rule's, or the initial status when
    /// no rule matched (none when the reply carries no code at all).
    pub status: Option<Status>,
    pub initial_status: Option<Status>,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// The deciding rule as `file:line` (shared, not formatted per bounce).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Arc<str>>,
    /// The scope of the deciding rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Arc<str>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unmatched: bool,
}

/// A bounce normalized for matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    pub reply: Reply,
    pub mx: Option<String>,
    pub rcpt_domain: Option<String>,
    pub reported_category: Option<Category>,
}

impl Normalized {
    pub fn new(b: &Bounce) -> Normalized {
        Normalized {
            reply: Reply::new(&b.reply, b.status),
            mx: b.mx.as_deref().and_then(normalize_mx),
            rcpt_domain: b.rcpt.as_deref().and_then(rcpt_domain),
            reported_category: b.reported_category,
        }
    }
}

/// One scope tried by [`Classifier::explain`].
#[derive(Clone, Debug, Serialize)]
pub struct ScopeTrace {
    pub scope: String,
    /// How it was selected: `exact host`, `host suffix`, `recipient domain`, `global`.
    pub reason: &'static str,
    /// Every rule of the scope that matches and accepts the initial status,
    /// in source order: the first one fires.
    pub matching_rules: Vec<RuleRef>,
}

/// A rule, for explanations.
#[derive(Clone, Debug, Serialize)]
pub struct RuleRef {
    pub rule: String,
    pub regex: String,
    pub status: Status,
    pub verdict: Verdict,
}

/// The full story of one classification.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub normalized_reply: String,
    pub reply_code: Option<u16>,
    pub enhanced_status: Option<Status>,
    pub initial_status: Option<Status>,
    pub mx: Option<String>,
    pub rcpt_domain: Option<String>,
    pub scopes: Vec<ScopeTrace>,
    pub result: Classification,
}

/// Compiled rules, ready to classify.
/// `T` is the DFA storage: `Vec<u32>` for rules compiled in this process,
/// `&[u32]` for rules read from a compiled file (see [`crate::artifact`]).
#[derive(Clone, Debug)]
pub struct Classifier<T: AsRef<[u32]> = Vec<u32>> {
    tables: Tables<T>,
    /// Each rule's `file:line` and scope name, made once.
    names: Vec<(Arc<str>, Arc<str>)>,
}

impl Classifier {
    /// Compiles a checked rule set with the default options.
    pub fn new(rules: RuleSet) -> Result<Classifier, Vec<Diagnostic>> {
        Classifier::with_options(rules, &Options::default())
    }

    /// Compiles a checked rule set.
    pub fn with_options(rules: RuleSet, opts: &Options) -> Result<Classifier, Vec<Diagnostic>> {
        compile::compile(rules, opts).map(|(tables, _)| Classifier::from_tables(tables))
    }
}

impl<T: AsRef<[u32]>> Classifier<T> {
    /// Wraps tables compiled or loaded elsewhere.
    pub fn from_tables(tables: Tables<T>) -> Classifier<T> {
        let rules = &tables.rules;
        let scopes: Vec<Arc<str>> = rules.scopes.iter().map(|s| Arc::from(s.name())).collect();
        let names = rules
            .rules
            .iter()
            .map(|r| {
                (
                    Arc::from(r.location()),
                    scopes
                        .get(r.scope)
                        .cloned()
                        .unwrap_or_else(|| Arc::from("")),
                )
            })
            .collect();
        Classifier { tables, names }
    }

    pub fn tables(&self) -> &Tables<T> {
        &self.tables
    }

    pub fn rules(&self) -> &RuleSet {
        &self.tables.rules
    }

    /// Classifies one bounce.
    pub fn classify(&self, b: &Bounce) -> Classification {
        self.classify_normalized(&Normalized::new(b))
    }

    /// Classifies a bounce already normalized.
    pub fn classify_normalized(&self, n: &Normalized) -> Classification {
        match self.decide(n) {
            Some(r) => self.matched(r, n.reply.initial),
            None => self.unmatched(n.reply.initial),
        }
    }

    /// The deciding rule of a normalized bounce, if any rule matches.
    pub fn decide(&self, n: &Normalized) -> Option<usize> {
        self.tables.first_match(
            n.mx.as_deref(),
            n.rcpt_domain.as_deref(),
            n.reply.text.as_bytes(),
            n.reply.initial,
            n.reported_category,
        )
    }

    fn matched(&self, r: usize, initial: Option<Status>) -> Classification {
        let rules = &self.tables.rules;
        match (rules.rules.get(r), self.names.get(r)) {
            (Some(rule), Some((location, scope))) => Classification {
                status: Some(rule.status),
                initial_status: initial,
                verdict: rules.rule_verdict(rule),
                category: rule.category,
                rule: Some(location.clone()),
                scope: Some(scope.clone()),
                unmatched: false,
            },
            _ => self.unmatched(initial),
        }
    }

    fn unmatched(&self, initial: Option<Status>) -> Classification {
        Classification {
            status: initial,
            initial_status: initial,
            verdict: initial.map_or(Verdict::Hard, |s| self.tables.rules.policy.verdict(s)),
            category: None,
            rule: None,
            scope: None,
            unmatched: true,
        }
    }

    /// Classifies one bounce and says how: the scopes tried and every rule of
    /// each that matches.
    pub fn explain(&self, b: &Bounce) -> Explanation {
        let n = Normalized::new(b);
        let t = &self.tables;
        let hay = n.reply.text.as_bytes();
        let mut scopes = Vec::new();
        for (scope, reason) in t.selector.select(n.mx.as_deref(), n.rcpt_domain.as_deref()) {
            let Some(cs) = t.scopes.get(scope) else {
                continue;
            };
            let matching = t.all_matches(scope, hay, n.reply.initial, n.reported_category);
            scopes.push(ScopeTrace {
                scope: cs.name.clone(),
                reason: match reason {
                    Reason::ExactHost => "exact host",
                    Reason::HostSuffix => "host suffix",
                    Reason::RecipientDomain => "recipient domain",
                    Reason::Global => "global",
                },
                matching_rules: matching
                    .iter()
                    .filter_map(|&r| t.rules.rules.get(r))
                    .map(|rule| RuleRef {
                        rule: rule.location(),
                        regex: format!(
                            "/{}/{}",
                            rule.regex,
                            if rule.case_insensitive { "i" } else { "" }
                        ),
                        status: rule.status,
                        verdict: t.rules.rule_verdict(rule),
                    })
                    .collect(),
            });
        }
        Explanation {
            normalized_reply: n.reply.text.clone(),
            reply_code: n.reply.code,
            enhanced_status: n.reply.enhanced,
            initial_status: n.reply.initial,
            mx: n.mx.clone(),
            rcpt_domain: n.rcpt_domain.clone(),
            scopes,
            result: self.classify_normalized(&n),
        }
    }
}
