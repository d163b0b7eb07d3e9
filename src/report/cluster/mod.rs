//! Unmatched replies, clustered into templates, each with a suggested rule.
//!
//! A [`Clusterer`] keeps the records no rule matched and groups them by
//! three things:
//!
//! 1. **Scope**: the MX host's registrable-ish suffix, the scope a rule for
//!    it would be written in (`gmail-smtp-in.l.google.com` → `.google.com`;
//!    the last two labels, or three under a known two-level public suffix
//!    such as `co.uk`, see [`mx_suffix`]). An MX given as an IPv4 address
//!    gives `mx is "…"`; without a usable MX the recipient domain gives
//!    `rcpt domain is "…"`, and without either the scope is `global`.
//! 2. **Initial status**: the status the bounce arrived with, which the
//!    suggested rule's `initial` block names.
//! 3. **Template**: the normalized reply with its variable parts masked
//!    ([`template`]): e-mail addresses (`<EMAIL>`), IPv4 and IPv6 addresses
//!    (`<IP>`), ids of 6 characters or more that contain a digit, such as
//!    `a1si123456qkb.2` or the `BN1NAM02FT009.eop-nam02.prod.protection.outlook.com`
//!    Microsoft puts in brackets (`<ID>`), other numbers, decimals included
//!    (`<N>`), and URL query strings (`?<QUERY>`). The reply code at the
//!    start and enhanced status codes anywhere are kept. Words are runs of
//!    ASCII letters, digits, `.`, `_` and `-`; the rest stays as it is.
//!
//! [`Clusterer::finish`] ranks the clusters by count, keeps the biggest and
//! writes for each a [`Suggestion`]: a scope block holding one rule whose
//! regex is the start of the template (literal text escaped, each mask
//! replaced by a pattern that matches what it hid: [`Mask::pattern`]), long
//! enough to take no example of the other clusters of its scope and initial
//! status (the whole template, anchored at the end too, when it is the start
//! of another), and whose status is the reply's enhanced code or, for replies
//! without one (or with only `<class>.0.0`), a precise code guessed from the
//! words of the reply ([`guess_status`]). Up to three of the cluster's
//! replies are the rule's examples, so `mxrules check` verifies the
//! suggestion like any rule. The suggestion is built as a syntax tree
//! ([`crate::syntax::ast`]) and printed by [`crate::syntax::fmt::format_tree`],
//! so it is in the layout `mxrules fmt` gives.
//!
//! The steps live in one file each: `template` (the masks), `scope` (the
//! scope of a reply), `guess` (a status from the words) and `suggest` (the
//! rule); this file groups the replies and renders the clusters as text and
//! CSV.
//!
//! ```
//! use mxrules::report::cluster::template;
//!
//! assert_eq!(
//!     template("550 5.7.1 [203.0.113.7 14] Blocked, see https://example.net/unblock?id=8f3a9c1d - gsmtp a1si123456qkb.2"),
//!     "550 5.7.1 [<IP> <N>] Blocked, see https://example.net/unblock?<QUERY> - gsmtp <ID>",
//! );
//! ```

use std::collections::HashMap;

use super::ReportRecord;
use super::table::status_label;
use crate::core::model::{RuleSet, ScopeKey};
use crate::core::normalize::{Reply, normalize_mx};
use crate::core::source::Location;
use crate::core::status::Status;
use crate::core::text::plural;
use crate::output::csv::field as csv_field;

mod guess;
mod scope;
mod suggest;
mod template;

pub use guess::guess_status;
pub use scope::{mx_suffix, scope_for};
pub use suggest::Suggestion;
pub use template::{Mask, template};

use suggest::suggest;
use template::{Words, display, words};

/// The most example replies kept per cluster.
pub const MAX_EXAMPLES: usize = 3;

/// The most MX hosts listed per cluster.
const MAX_HOSTS: usize = 3;

/// One example reply of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The normalized reply.
    pub reply: String,
    /// The MX host, normalized.
    pub mx: Option<String>,
    /// The recipient domain, lowercased.
    pub rcpt_domain: Option<String>,
}

/// Replies of one scope and initial status that share a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The scope a rule for the replies would be written in.
    pub scope: ScopeKey,
    /// The status the bounces arrived with.
    pub initial: Option<Status>,
    /// The template the replies share, as [`template`] shows it.
    pub template: String,
    /// The replies of the cluster.
    pub count: usize,
    /// Up to [`MAX_EXAMPLES`] distinct replies, in input order.
    pub examples: Vec<Example>,
    /// Up to three distinct MX hosts, in input order.
    pub hosts: Vec<String>,
    /// Whether more hosts than those were seen.
    pub more_hosts: bool,
    /// A scope block of the rules with the same header, where the
    /// suggestion's rule belongs.
    pub existing_scope: Option<Location>,
    /// The rule suggested for the replies.
    pub suggestion: Suggestion,
}

/// The biggest clusters, biggest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterReport {
    /// Unmatched replies seen.
    pub unmatched: usize,
    /// Clusters found, including those left out of [`Self::clusters`].
    pub total_clusters: usize,
    /// The biggest clusters, biggest first.
    pub clusters: Vec<Cluster>,
}

/// The replies of one cluster, as they are collected.
#[derive(Debug, Clone)]
struct Group {
    count: usize,
    /// The index of the group's first reply among the unmatched replies.
    first_seen: usize,
    examples: Vec<Example>,
    hosts: Vec<String>,
    more_hosts: bool,
}

impl Group {
    fn new(first_seen: usize) -> Group {
        Group {
            count: 0,
            first_seen,
            examples: Vec::new(),
            hosts: Vec::new(),
            more_hosts: false,
        }
    }

    /// Counts a reply; keeps it as an example while the group has fewer
    /// than [`MAX_EXAMPLES`] distinct ones, and its host while it has fewer
    /// than [`MAX_HOSTS`].
    fn add(&mut self, reply: &Reply, mx: Option<String>, rcpt_domain: Option<String>) {
        self.count += 1;
        if self.examples.len() < MAX_EXAMPLES && self.examples.iter().all(|e| e.reply != reply.text)
        {
            self.examples.push(Example {
                reply: reply.text.clone(),
                mx: mx.clone(),
                rcpt_domain,
            });
        }
        if let Some(host) = mx
            && !self.hosts.contains(&host)
        {
            if self.hosts.len() < MAX_HOSTS {
                self.hosts.push(host);
            } else {
                self.more_hosts = true;
            }
        }
    }
}

/// What a cluster is: its scope, initial status and template.
type GroupKey = (ScopeKey, Option<Status>, Words);

/// Collects unmatched replies into clusters.
#[derive(Debug, Clone, Default)]
pub struct Clusterer {
    groups: HashMap<GroupKey, Group>,
    unmatched: usize,
}

impl Clusterer {
    /// A clusterer that has seen no reply.
    pub fn new() -> Clusterer {
        Clusterer::default()
    }

    /// Adds a record; records a rule matched are ignored.
    pub fn add(&mut self, r: &ReportRecord) {
        if !r.classification.unmatched {
            return;
        }
        let initial = r.classification.initial_status;
        let reply = Reply::new(&r.reply, initial);
        let mx = r.mx.as_deref().and_then(normalize_mx);
        let rcpt_domain = r
            .rcpt_domain
            .as_deref()
            .map(|d| d.trim().to_ascii_lowercase());
        let scope = scope_for(mx.as_deref(), rcpt_domain.as_deref());
        let seen = self.unmatched;
        self.unmatched += 1;
        self.groups
            .entry((scope, initial, words(&reply)))
            .or_insert_with(|| Group::new(seen))
            .add(&reply, mx, rcpt_domain);
    }

    /// Ranks the clusters, keeps the `max` biggest and writes their
    /// suggestions. With `rules`, a cluster whose scope is already declared
    /// names that block.
    pub fn finish(self, rules: Option<&RuleSet>, max: usize) -> ClusterReport {
        let groups = ranked(self.groups);
        let siblings = siblings(&groups);
        let clusters = groups
            .iter()
            .enumerate()
            .take(max)
            .map(|(i, (key, group))| {
                let others = sibling_examples(&groups, &siblings, i);
                cluster(key, group, rules, &others)
            })
            .collect();
        ClusterReport {
            unmatched: self.unmatched,
            total_clusters: groups.len(),
            clusters,
        }
    }
}

/// The groups, biggest first; ties by scope, initial status and the order
/// their first replies came in.
fn ranked(groups: HashMap<GroupKey, Group>) -> Vec<(GroupKey, Group)> {
    let mut groups: Vec<(GroupKey, Group)> = groups.into_iter().collect();
    groups.sort_by(|(ka, a), (kb, b)| {
        b.count
            .cmp(&a.count)
            .then(ka.0.cmp(&kb.0))
            .then(ka.1.cmp(&kb.1))
            .then(a.first_seen.cmp(&b.first_seen))
    });
    groups
}

/// The indexes of the groups of each scope and initial status.
type Siblings<'g> = HashMap<(&'g ScopeKey, Option<Status>), Vec<usize>>;

/// The groups of each scope and initial status, by index in `groups`.
fn siblings(groups: &[(GroupKey, Group)]) -> Siblings<'_> {
    let mut siblings: Siblings<'_> = HashMap::new();
    for (i, ((scope, initial, _), _)) in groups.iter().enumerate() {
        siblings.entry((scope, *initial)).or_default().push(i);
    }
    siblings
}

/// The example replies of the other groups of the scope and initial status
/// of group `i`, which a rule for group `i` must not take.
fn sibling_examples<'g>(
    groups: &'g [(GroupKey, Group)],
    siblings: &Siblings<'_>,
    i: usize,
) -> Vec<&'g str> {
    let Some(((scope, initial, _), _)) = groups.get(i) else {
        return Vec::new();
    };
    siblings
        .get(&(scope, *initial))
        .into_iter()
        .flatten()
        .filter(|&&j| j != i)
        .filter_map(|&j| groups.get(j))
        .flat_map(|(_, g)| g.examples.iter().map(|e| e.reply.as_str()))
        .collect()
}

/// The cluster of a group, with its suggestion.
fn cluster(
    (scope, initial, words): &GroupKey,
    g: &Group,
    rules: Option<&RuleSet>,
    others: &[&str],
) -> Cluster {
    Cluster {
        scope: scope.clone(),
        initial: *initial,
        template: display(words),
        count: g.count,
        examples: g.examples.clone(),
        hosts: g.hosts.clone(),
        more_hosts: g.more_hosts,
        existing_scope: rules.and_then(|r| existing_scope(r, scope)),
        suggestion: suggest(scope, *initial, words, &g.examples, others),
    }
}

/// The block of `rules` that declares `scope`, if any.
fn existing_scope(rules: &RuleSet, scope: &ScopeKey) -> Option<Location> {
    rules
        .scopes
        .iter()
        .find(|s| s.keys.contains(scope))
        .map(|s| s.origin.clone())
}

impl ClusterReport {
    /// The clusters left out and their replies.
    pub fn left_out(&self) -> (usize, usize) {
        let shown: usize = self.clusters.iter().map(|c| c.count).sum();
        (
            self.total_clusters.saturating_sub(self.clusters.len()),
            self.unmatched.saturating_sub(shown),
        )
    }

    /// One sentence: how many unmatched replies, in how many clusters.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} unmatched {} in {} {}",
            self.unmatched,
            plural(self.unmatched, "reply", "replies"),
            self.total_clusters,
            plural(self.total_clusters, "cluster", "clusters"),
        );
        let (clusters, replies) = self.left_out();
        if clusters > 0 {
            s.push_str(&format!(
                "; the biggest {} shown, {} more {} of {} {} left out",
                self.clusters.len(),
                clusters,
                plural(clusters, "cluster", "clusters"),
                replies,
                plural(replies, "reply", "replies"),
            ));
        } else if !self.clusters.is_empty() {
            s.push_str(", biggest first");
        }
        s
    }

    /// The clusters as text: a summary line, then each cluster with its
    /// template, hosts and suggested rule.
    pub fn to_text(&self) -> String {
        let mut out = self.summary();
        out.push_str(".\n");
        for (i, c) in self.clusters.iter().enumerate() {
            out.push('\n');
            out.push_str(&c.to_text(i + 1));
        }
        out
    }

    /// The clusters as CSV, one line each:
    /// `rank,count,scope,initial_status,template,regex,status,example`.
    pub fn to_csv(&self) -> String {
        let mut out =
            String::from("rank,count,scope,initial_status,template,regex,status,example\n");
        for (i, c) in self.clusters.iter().enumerate() {
            let fields = [
                (i + 1).to_string(),
                c.count.to_string(),
                csv_field(&c.scope.to_string()).into_owned(),
                c.initial.map_or_else(String::new, |s| s.to_string()),
                csv_field(&c.template).into_owned(),
                csv_field(&c.suggestion.regex).into_owned(),
                c.suggestion.status.to_string(),
                csv_field(c.examples.first().map_or("", |e| e.reply.as_str())).into_owned(),
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        out
    }
}

impl Cluster {
    /// The cluster as text, ranked `rank`: a heading line, its template,
    /// hosts and declared scope, then the suggested rule, indented.
    fn to_text(&self, rank: usize) -> String {
        let mut out = format!(
            "#{rank}  {} {}  {}  initial {}\n",
            self.count,
            plural(self.count, "reply", "replies"),
            self.scope,
            status_label(self.initial),
        );
        out.push_str(&format!("  template: {}\n", self.template));
        if !self.hosts.is_empty() {
            out.push_str(&format!(
                "  hosts:    {}{}\n",
                self.hosts.join(", "),
                if self.more_hosts { ", …" } else { "" }
            ));
        }
        if let Some(at) = &self.existing_scope {
            out.push_str(&format!(
                "  the scope is declared at {}:{}: put the rule in that block\n",
                at.file, at.line
            ));
        }
        out.push_str("  suggested rule:\n");
        for line in self.suggestion.rule.lines() {
            out.push_str("    ");
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}
