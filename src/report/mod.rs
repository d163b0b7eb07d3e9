//! Reports over classified bounces: what `mxrules report` prints.
//!
//! Two analyses, both fed one [`ReportRecord`] at a time so that inputs of
//! any size stream through them:
//!
//! - **Domain × status** ([`table::Tally`]): bounces counted by recipient
//!   domain (the top N by count, the rest as `other`), status and verdict,
//!   per day or per hour, rendered as an aligned terminal table, as CSV
//!   (`bucket,domain,status,verdict,count`) or as a self-contained HTML page
//!   with a stacked bar chart drawn in SVG ([`html::page`]). It answers the
//!   question a support engineer otherwise works out in a spreadsheet: which
//!   domain and which code drove a bounce spike.
//! - **Unmatched clusters** ([`cluster::Clusterer`]): the replies no rule
//!   matched, grouped by MX scope and by template (addresses, IPs, ids and
//!   numbers masked), ranked by count, each with example replies and a
//!   suggested rule in the rules language that `mxrules check` accepts.
//!
//! What each file makes:
//!
//! - `table.rs`: the [`table::Tally`] and its [`table::DomainStatusReport`],
//!   with the terminal table and the CSV;
//! - `html.rs`: the HTML page ([`html::page`]), chart and tables, and the
//!   clusters when they are asked for;
//! - `cluster/`: the [`cluster::Clusterer`] and its
//!   [`cluster::ClusterReport`] as text and CSV, with the templates, scopes
//!   and status guesses it is made of and the suggested rules, built as
//!   syntax trees and printed by [`crate::syntax::fmt`], the one printer of
//!   the rules language.
//!
//! ```
//! use mxrules::core::bounce::Bounce;
//! use mxrules::runtime::classify::Classifier;
//! use mxrules::syntax::load::Parsed;
//! use mxrules::report::{ReportRecord, cluster::Clusterer, table::{Period, Tally}};
//!
//! let mut parsed = Parsed::default();
//! parsed.add_text("policy.rules", "policy { 5.1.1 -> quarantine  5.*.* -> hard  4.*.* -> soft }");
//! let classifier = mxrules::compile::classifier(mxrules::check::check(&parsed).rules.unwrap()).unwrap();
//!
//! let mut tally = Tally::new(Period::Day);
//! let mut clusters = Clusterer::new();
//! for (time, user) in [("2024-05-01T10:00:00Z", "ann"), ("2024-05-01T11:00:00Z", "bob")] {
//!     let reply = format!("550 5.1.1 <{user}@example.org>: Recipient address rejected");
//!     let bounce = Bounce::new(reply.clone()).mx("mx1.example.org");
//!     let record = ReportRecord {
//!         time: Some(time.into()),
//!         rcpt_domain: Some("example.org".into()),
//!         mx: Some("mx1.example.org".into()),
//!         reply,
//!         classification: classifier.classify(&bounce),
//!     };
//!     tally.add(&record);
//!     clusters.add(&record);
//! }
//! let report = tally.finish(10);
//! assert_eq!(report.to_csv(), "bucket,domain,status,verdict,count\n2024-05-01,example.org,5.1.1,quarantine,2\n");
//!
//! let clusters = clusters.finish(None, 20);
//! let first = &clusters.clusters[0];
//! assert_eq!(first.count, 2);
//! assert_eq!(first.template, "550 5.1.1 <<EMAIL>>: Recipient address rejected");
//! assert!(first.suggestion.rule.starts_with("mx ends with \".example.org\" {\n    initial 5.1.1 {\n"));
//! ```

pub mod cluster;
pub mod html;
pub mod table;

use crate::runtime::classify::Classification;

/// One classified bounce, as the reports read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRecord {
    /// When the bounce was logged, in any format [`crate::input::time_parts`] reads.
    pub time: Option<String>,
    /// The recipient's domain (`gmail.com`).
    pub rcpt_domain: Option<String>,
    /// The receiving host, in any form MTAs log it (normalized here).
    pub mx: Option<String>,
    /// The reply as received (normalized here).
    pub reply: String,
    /// What the rules made of it.
    pub classification: Classification,
}
