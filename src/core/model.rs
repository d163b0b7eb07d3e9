//! The validated rule set: what [`crate::check`] makes of the syntax trees.
//!
//! Everything here is checked: statuses are in range, verdicts and categories
//! are known words, regexes compile, scope keys are unique. Compilation and
//! classification start from a [`RuleSet`].

use std::fmt;

use serde::Serialize;

use crate::core::source::{Location, Span};
use crate::core::status::{Category, Status, StatusPattern, Verdict};

/// How regexes are read, the same way everywhere (checker, compiler and the
/// reference interpreter): byte-oriented, without Unicode classes, so `.`
/// is any byte but `\n` and the `i` flag folds ASCII letters only.
pub fn syntax_config(case_insensitive: bool) -> regex_automata::util::syntax::Config {
    regex_automata::util::syntax::Config::new()
        .unicode(false)
        .utf8(false)
        .case_insensitive(case_insensitive)
}

/// What a scope applies to.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize)]
pub enum ScopeKey {
    /// `mx is "mxs.mail.ru"`: this host only.
    MxExact(String),
    /// `mx ends with ".mail.ru"`: `mail.ru` and any host under it, stored
    /// without the leading dot.
    MxSuffix(String),
    /// `rcpt domain is "mail.ru"`: bounces for recipients at this domain.
    RcptDomain(String),
    /// `global`: every bounce.
    Global,
}

impl fmt::Display for ScopeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeKey::MxExact(h) => write!(f, "mx is \"{h}\""),
            ScopeKey::MxSuffix(s) => write!(f, "mx ends with \".{s}\""),
            ScopeKey::RcptDomain(d) => write!(f, "rcpt domain is \"{d}\""),
            ScopeKey::Global => f.write_str("global"),
        }
    }
}

/// Index of a rule in [`RuleSet::rules`].
pub type RuleId = usize;

/// A scope block: its keys and its rules in source order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Scope {
    /// What the scope applies to (`or` between them), each unique in the
    /// rule set.
    pub keys: Vec<ScopeKey>,
    /// Its rules, in the order they are tried.
    pub rules: Vec<RuleId>,
    /// Where its header is written.
    pub origin: Location,
}

impl Scope {
    /// The header as written, canonically: `mx ends with ".mail.ru" or mx is "x"`.
    pub fn name(&self) -> String {
        self.keys
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

/// One validated rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Its index in [`RuleSet::rules`].
    pub id: RuleId,
    /// Index of the rule's scope in [`RuleSet::scopes`].
    pub scope: usize,
    /// The regex as written between the slashes.
    pub regex: String,
    /// The `i` flag: ASCII letters match either case.
    pub case_insensitive: bool,
    /// The `initial` condition; empty means any initial status.
    pub initial: Vec<StatusPattern>,
    /// The `reported` condition: the categories the MTA must have reported
    /// (PowerMTA's `bounceCat`); empty means any, or none reported.
    #[serde(default)]
    pub reported: Vec<Category>,
    /// The status the bounce is rewritten to.
    pub status: Status,
    /// The rule's own verdict; `None` leaves it to the policy.
    pub verdict: Option<Verdict>,
    /// The rule's category, if it names one.
    pub category: Option<Category>,
    /// The `note` text, if any.
    pub note: Option<String>,
    /// The example replies, as written.
    pub examples: Vec<String>,
    /// Where each example is written, in the order of `examples` (not
    /// kept in compiled files).
    #[serde(skip)]
    pub example_spans: Vec<Span>,
    /// Where the rule is written.
    pub origin: Location,
    /// The whole rule, examples included (not kept in compiled files).
    #[serde(skip)]
    pub span: Span,
    /// The rule without its examples: regex to note.
    #[serde(skip)]
    pub head: Span,
}

impl Rule {
    /// True when the rule's `initial` condition holds for `initial`. A reply
    /// with no initial status satisfies only rules without a condition.
    pub fn accepts_initial(&self, initial: Option<Status>) -> bool {
        if self.initial.is_empty() {
            return true;
        }
        match initial {
            Some(s) => self.initial.iter().any(|p| p.matches(s)),
            None => false,
        }
    }

    /// True when the rule's `reported` condition holds for the category the
    /// MTA reported. A bounce without one satisfies only rules without the
    /// condition.
    pub fn accepts_reported(&self, reported: Option<Category>) -> bool {
        self.reported.is_empty() || reported.is_some_and(|c| self.reported.contains(&c))
    }

    /// Both conditions of the rule.
    pub fn accepts(&self, initial: Option<Status>, reported: Option<Category>) -> bool {
        self.accepts_initial(initial) && self.accepts_reported(reported)
    }

    /// The rule's location as `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.origin.file, self.origin.line)
    }

    /// The regex as written in the rules, between slashes, with its flag:
    /// `/^550 no such user/i`.
    pub fn regex_literal(&self) -> String {
        let flags = if self.case_insensitive { "i" } else { "" };
        format!("/{}/{flags}", self.regex)
    }
}

/// One policy line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyEntry {
    /// The statuses the entry is for.
    pub pattern: StatusPattern,
    /// Their verdict.
    pub verdict: Verdict,
    /// Where the entry is written, when it comes from a file.
    pub origin: Option<Location>,
}

/// The default verdict of each status. The most specific matching pattern
/// wins (`5.1.1` over `5.1.*` over `5.*.*` over `*.*.*`); patterns are unique,
/// so the answer never depends on the order of the files.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Sorted most specific first.
    pub entries: Vec<PolicyEntry>,
}

impl Policy {
    /// Builds a policy; entries are sorted most specific first.
    pub fn new(mut entries: Vec<PolicyEntry>) -> Policy {
        entries.sort_by(|a, b| {
            b.pattern
                .specificity()
                .cmp(&a.pattern.specificity())
                .then(a.pattern.cmp(&b.pattern))
        });
        Policy { entries }
    }

    /// The entry deciding `status`, if any.
    pub fn entry(&self, status: Status) -> Option<&PolicyEntry> {
        self.entries.iter().find(|e| e.pattern.matches(status))
    }

    /// The verdict of `status`: its policy entry, or, when no entry covers
    /// it, `soft` for class 4 and `hard` for every other class.
    pub fn verdict(&self, status: Status) -> Verdict {
        match self.entry(status) {
            Some(e) => e.verdict,
            None if status.class == 4 => Verdict::Soft,
            None => Verdict::Hard,
        }
    }
}

/// Every scope, rule and policy entry of a set of rules files.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RuleSet {
    /// The verdicts of statuses, for rules without their own.
    pub policy: Policy,
    /// The scopes, in the order their files were read.
    pub scopes: Vec<Scope>,
    /// Every rule, by [`RuleId`].
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// The verdict a rule gives: its own, or the policy's for its status.
    pub fn rule_verdict(&self, rule: &Rule) -> Verdict {
        rule.verdict
            .unwrap_or_else(|| self.policy.verdict(rule.status))
    }
}
