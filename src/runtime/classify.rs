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
//! use mxrules::core::bounce::Bounce;
//! use mxrules::runtime::classify::Classifier;
//! use mxrules::syntax::load::Parsed;
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
//! let classifier = mxrules::compile::classifier(rules).unwrap();
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

use crate::core::bounce::{Bounce, BounceRef};
use crate::core::model::{Rule, RuleSet};
use crate::core::normalize::{
    Reply, fold_reply_in, initial_status, normalize_mx, normalize_mx_in, rcpt_domain,
    rcpt_domain_in,
};
use crate::core::status::{Category, Status, Verdict};
use crate::runtime::tables::{Reason, Tables};

/// What a bounce means.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// The status after rewriting: the rule's, or the initial status when
    /// no rule matched (none when the reply carries no code at all).
    pub status: Option<Status>,
    /// The status the bounce arrived with (its enhanced code, else
    /// `<class>.0.0` from the reply code).
    pub initial_status: Option<Status>,
    /// The deciding rule's verdict, or the policy's for the initial status.
    pub verdict: Verdict,
    /// The deciding rule's category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// The deciding rule as `file:line` (shared, not formatted per bounce).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Arc<str>>,
    /// The scope of the deciding rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Arc<str>>,
    /// No rule matched: the policy decided.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unmatched: bool,
}

/// A bounce normalized for matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    /// The reply as one line, and its codes.
    pub reply: Reply,
    /// The MX host, lowercase, without a trailing dot.
    pub mx: Option<String>,
    /// The recipient's domain, lowercase.
    pub rcpt_domain: Option<String>,
    /// The category the MTA reported.
    pub reported_category: Option<Category>,
}

impl Normalized {
    /// Normalizes a bounce.
    pub fn new(b: &Bounce) -> Normalized {
        Normalized {
            reply: Reply::new(&b.reply, b.status),
            mx: b.mx.as_deref().and_then(normalize_mx),
            rcpt_domain: b.rcpt.as_deref().and_then(rcpt_domain),
            reported_category: b.reported_category,
        }
    }
}

/// [`Classification`], borrowed from the classifier: the deciding rule's
/// location and scope are its strings, so that making one touches no
/// shared reference count. It equals the [`Classification`] that
/// [`Classifier::classify`] gives for the same bounce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassificationRef<'a> {
    /// [`Classification::status`].
    pub status: Option<Status>,
    /// [`Classification::initial_status`].
    pub initial_status: Option<Status>,
    /// [`Classification::verdict`].
    pub verdict: Verdict,
    /// [`Classification::category`].
    pub category: Option<Category>,
    /// The deciding rule as `file:line`.
    pub rule: Option<&'a str>,
    /// The scope of the deciding rule.
    pub scope: Option<&'a str>,
    /// The deciding rule's index in [`Classifier::rules`] (`rules.rules`),
    /// for callers that keep something per rule.
    pub rule_index: Option<usize>,
    /// [`Classification::unmatched`].
    pub unmatched: bool,
}

impl PartialEq<Classification> for ClassificationRef<'_> {
    fn eq(&self, c: &Classification) -> bool {
        self.status == c.status
            && self.initial_status == c.initial_status
            && self.verdict == c.verdict
            && self.category == c.category
            && self.rule == c.rule.as_deref()
            && self.scope == c.scope.as_deref()
            && self.unmatched == c.unmatched
    }
}

/// A bounce normalized for matching, borrowed: what the tables look at.
/// [`Normalizer::normalize`] makes one without allocating;
/// `NormalizedRef::from(&normalized)` borrows a [`Normalized`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormalizedRef<'a> {
    /// [`Reply::text`].
    pub text: &'a str,
    /// [`Reply::initial`].
    pub initial: Option<Status>,
    /// [`Normalized::mx`].
    pub mx: Option<&'a str>,
    /// [`Normalized::rcpt_domain`].
    pub rcpt_domain: Option<&'a str>,
    /// [`Normalized::reported_category`].
    pub reported_category: Option<Category>,
}

impl<'a> From<&'a Normalized> for NormalizedRef<'a> {
    fn from(n: &'a Normalized) -> NormalizedRef<'a> {
        NormalizedRef {
            text: &n.reply.text,
            initial: n.reply.initial,
            mx: n.mx.as_deref(),
            rcpt_domain: n.rcpt_domain.as_deref(),
            reported_category: n.reported_category,
        }
    }
}

/// Buffers that bounces are normalized in, reused from one bounce to the
/// next: a bounce whose reply, MX host and recipient domain need only be
/// cut (the usual case) is normalized without copying them, and no bounce
/// needs an allocation once the buffers have grown.
///
/// ```
/// use mxrules::core::bounce::{Bounce, BounceRef};
/// use mxrules::runtime::classify::{Normalized, NormalizedRef, Normalizer};
///
/// let mut normalizer = Normalizer::new();
/// let bounce = Bounce::new("smtp; 550 5.1.1 no such user").mx("dns; MXS.MAIL.RU.").rcpt("a@Mail.RU");
/// let n = normalizer.normalize(BounceRef::from(&bounce));
/// assert_eq!(n.text, "550 5.1.1 no such user");
/// assert_eq!((n.mx, n.rcpt_domain), (Some("mxs.mail.ru"), Some("mail.ru")));
/// assert_eq!(n, NormalizedRef::from(&Normalized::new(&bounce)));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Normalizer {
    text: String,
    mx: String,
    rcpt_domain: String,
}

impl Normalizer {
    /// Empty buffers.
    pub fn new() -> Normalizer {
        Normalizer::default()
    }

    /// The bounce normalized as [`Normalized::new`] does, borrowed from the
    /// bounce or from these buffers.
    pub fn normalize<'a>(&'a mut self, b: BounceRef<'a>) -> NormalizedRef<'a> {
        let text = fold_reply_in(b.reply, &mut self.text);
        NormalizedRef {
            text,
            initial: initial_status(text, b.status),
            mx: b.mx.and_then(|mx| normalize_mx_in(mx, &mut self.mx)),
            rcpt_domain: b
                .rcpt
                .and_then(|rcpt| rcpt_domain_in(rcpt, &mut self.rcpt_domain)),
            reported_category: b.reported_category,
        }
    }
}

/// One scope tried by [`Classifier::explain`].
#[derive(Clone, Debug, Serialize)]
pub struct ScopeTrace {
    /// The scope's header: `mx ends with ".mail.ru"`.
    pub scope: String,
    /// How it was selected: `exact host`, `host suffix`, `recipient domain`, `global`.
    pub reason: &'static str,
    /// Every rule of the scope that matches and accepts the initial status,
    /// in source order: the first one fires.
    pub matching_rules: Vec<RuleRef>,
}

/// A rule as explanations and reports show it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RuleRef {
    /// Where the rule is: `file:line`.
    pub rule: String,
    /// The regex as written, between slashes, with its flags.
    pub regex: String,
    /// The status it rewrites to.
    pub status: Status,
    /// Its verdict: its own, or the policy's for its status.
    pub verdict: Verdict,
    /// The rule's scope; `None` in an explanation, whose scope trace names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl RuleRef {
    /// `rule` of `rules`, its scope not named.
    pub fn new(rules: &RuleSet, rule: &Rule) -> RuleRef {
        RuleRef {
            rule: rule.location(),
            regex: format!(
                "/{}/{}",
                rule.regex,
                if rule.case_insensitive { "i" } else { "" }
            ),
            status: rule.status,
            verdict: rules.rule_verdict(rule),
            scope: None,
        }
    }

    /// `rule` of `rules`, with the name of its scope.
    pub fn in_scope(rules: &RuleSet, rule: &Rule) -> RuleRef {
        RuleRef {
            scope: Some(
                rules
                    .scopes
                    .get(rule.scope)
                    .map(|s| s.name())
                    .unwrap_or_default(),
            ),
            ..RuleRef::new(rules, rule)
        }
    }
}

impl std::fmt::Display for RuleRef {
    /// `rules.d/gmail.rules:12: /regex/ -> 5.1.1 quarantine`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} -> {} {}",
            self.rule, self.regex, self.status, self.verdict
        )
    }
}

/// The full story of one classification.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    /// The reply as the rules see it.
    pub normalized_reply: String,
    /// The reply code (`550`).
    pub reply_code: Option<u16>,
    /// The enhanced status code in the reply (`5.1.1`).
    pub enhanced_status: Option<Status>,
    /// The status the rules' `initial` conditions look at.
    pub initial_status: Option<Status>,
    /// The MX host, normalized.
    pub mx: Option<String>,
    /// The recipient's domain, normalized.
    pub rcpt_domain: Option<String>,
    /// The scopes tried, in order.
    pub scopes: Vec<ScopeTrace>,
    /// The classification.
    pub result: Classification,
}

/// Compiled rules, ready to classify: tables from [`crate::compile`] or from
/// a compiled file ([`crate::runtime::artifact::load`]), wrapped by
/// [`Classifier::from_tables`].
/// `T` is the DFA storage: `Vec<u32>` for rules compiled in this process,
/// `&[u32]` for rules read from a compiled file (see [`crate::runtime::artifact`]).
#[derive(Clone, Debug)]
pub struct Classifier<T: AsRef<[u32]> = Vec<u32>> {
    tables: Tables<T>,
    /// Each rule's `file:line`, scope name and verdict, made once.
    names: Vec<(Arc<str>, Arc<str>, Verdict)>,
    /// The policy's verdicts of the common statuses, looked up once.
    policy: PolicyTable,
}

/// The verdicts of the statuses `c.s.d` with `c` 2, 4 or 5, `s` up to 7
/// and `d` below [`PolicyTable::DETAILS`], as the policy gives them.
#[derive(Clone, Debug)]
struct PolicyTable(Vec<Verdict>);

impl PolicyTable {
    const DETAILS: u16 = 32;

    fn new(policy: &crate::core::model::Policy) -> PolicyTable {
        let mut verdicts = Vec::new();
        for class in [2, 4, 5] {
            for subject in 0..8 {
                for detail in 0..PolicyTable::DETAILS {
                    verdicts.push(policy.verdict(Status::new(class, subject, detail)));
                }
            }
        }
        PolicyTable(verdicts)
    }

    /// Where `status` is, if it is in the table.
    fn slot(status: Status) -> Option<usize> {
        let class = match status.class {
            2 => 0,
            4 => 1,
            5 => 2,
            _ => return None,
        };
        (status.subject < 8 && status.detail < PolicyTable::DETAILS).then(|| {
            (class * 8 + usize::from(status.subject)) * usize::from(PolicyTable::DETAILS)
                + usize::from(status.detail)
        })
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
                    rules.rule_verdict(r),
                )
            })
            .collect();
        let policy = PolicyTable::new(&rules.policy);
        Classifier {
            tables,
            names,
            policy,
        }
    }

    /// The tables it classifies with.
    pub fn tables(&self) -> &Tables<T> {
        &self.tables
    }

    /// The rule set of its tables.
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
        self.decide_ref(&NormalizedRef::from(n))
    }

    /// The deciding rule of a bounce normalized in place, if any rule
    /// matches.
    pub fn decide_ref(&self, n: &NormalizedRef<'_>) -> Option<usize> {
        self.tables.first_match(
            n.mx,
            n.rcpt_domain,
            n.text.as_bytes(),
            n.initial,
            n.reported_category,
        )
    }

    /// Classifies one bounce as [`Classifier::classify`] does, normalizing
    /// it in `normalizer`'s buffers and borrowing the deciding rule's names
    /// from the classifier: nothing is allocated and no shared reference
    /// count is touched, which is what threads classifying side by side
    /// want.
    ///
    /// ```
    /// use mxrules::core::bounce::{Bounce, BounceRef};
    /// use mxrules::runtime::classify::{Classifier, Normalizer};
    /// use mxrules::syntax::load::Parsed;
    ///
    /// let mut parsed = Parsed::default();
    /// parsed.add_text("mail.ru.rules", r#"
    /// policy { 5.1.1 -> quarantine  5.*.* -> hard }
    /// mx ends with ".mail.ru" { /^550 must be local recipient/ -> 5.1.1 }"#);
    /// let classifier = mxrules::compile::classifier(mxrules::check::check(&parsed).rules.unwrap()).unwrap();
    ///
    /// let mut normalizer = Normalizer::new();
    /// let bounce = BounceRef { mx: Some("mxs.mail.ru"), reply: "550 must be local recipient", ..BounceRef::default() };
    /// let c = classifier.classify_ref(&mut normalizer, bounce);
    /// assert_eq!((c.verdict.as_str(), c.rule, c.scope), ("quarantine", Some("mail.ru.rules:3"), Some("mx ends with \".mail.ru\"")));
    /// assert_eq!(c, classifier.classify(&Bounce::new("550 must be local recipient").mx("mxs.mail.ru")));
    /// ```
    pub fn classify_ref(
        &self,
        normalizer: &mut Normalizer,
        b: BounceRef<'_>,
    ) -> ClassificationRef<'_> {
        self.classify_normalized_ref(&normalizer.normalize(b))
    }

    /// Classifies a bounce normalized in place ([`Normalizer::normalize`]).
    pub fn classify_normalized_ref(&self, n: &NormalizedRef<'_>) -> ClassificationRef<'_> {
        let found = self
            .decide_ref(n)
            .and_then(|r| Some((r, self.tables.rules.rules.get(r)?, self.names.get(r)?)));
        match found {
            Some((r, rule, (location, scope, verdict))) => ClassificationRef {
                status: Some(rule.status),
                initial_status: n.initial,
                verdict: *verdict,
                category: rule.category,
                rule: Some(location),
                scope: Some(scope),
                rule_index: Some(r),
                unmatched: false,
            },
            None => ClassificationRef {
                status: n.initial,
                initial_status: n.initial,
                verdict: self.policy_verdict(n.initial),
                category: None,
                rule: None,
                scope: None,
                rule_index: None,
                unmatched: true,
            },
        }
    }

    /// The policy's verdict of an initial status; `hard` for none.
    fn policy_verdict(&self, initial: Option<Status>) -> Verdict {
        let Some(status) = initial else {
            return Verdict::Hard;
        };
        PolicyTable::slot(status)
            .and_then(|i| self.policy.0.get(i).copied())
            .unwrap_or_else(|| self.tables.rules.policy.verdict(status))
    }

    fn matched(&self, r: usize, initial: Option<Status>) -> Classification {
        let rules = &self.tables.rules;
        match (rules.rules.get(r), self.names.get(r)) {
            (Some(rule), Some((location, scope, verdict))) => Classification {
                status: Some(rule.status),
                initial_status: initial,
                verdict: *verdict,
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
            verdict: self.policy_verdict(initial),
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
                    .map(|rule| RuleRef::new(&t.rules, rule))
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
