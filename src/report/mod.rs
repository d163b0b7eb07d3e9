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

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// One CSV field, quoted when it has to be (RFC 4180): [`crate::output::csv::field`].
pub(crate) fn csv_field(s: &str) -> String {
    crate::output::csv::field(s).into_owned()
}

/// A plain-text table with aligned columns: text columns left-aligned,
/// number columns right-aligned, two spaces between columns, no trailing
/// spaces.
pub(crate) struct TextTable {
    header: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl TextTable {
    /// `columns` are (title, right-aligned).
    pub(crate) fn new(columns: &[(&str, bool)]) -> TextTable {
        TextTable {
            header: columns.iter().map(|(t, _)| (*t).to_string()).collect(),
            right: columns.iter().map(|(_, r)| *r).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(crate) fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let width = widths.get(i).copied().unwrap_or(0);
                let pad = " ".repeat(width.saturating_sub(cell.chars().count()));
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right.get(i).copied().unwrap_or(false) {
                    line.push_str(&pad);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}
