//! Verifying rules against corpora: what `mxrules test` and `mxrules diff`
//! are made of.
//!
//! - [`CorpusFile::parse`] reads a YAML corpus ([`Corpus`]) and finds the
//!   line of every case in its text.
//! - [`run`] classifies every case of a corpus and compares the outcome with
//!   the case's expectations ([`Outcome::mismatches`]); [`TestRun::run`]
//!   does so for many files, blessing them when asked, and renders the
//!   result ([`TestRun::to_human`], [`TestRun::to_json`]).
//! - [`bless`] rewrites the expectations of the cases that no longer hold,
//!   editing only their `status:`, `verdict:`, `rule:` and `unmatched:`
//!   lines, so comments, order and layout stay as they were.
//! - [`Coverage`] tells which rules decide no case ([`TestRun::coverage`]).
//! - [`diff`] classifies replies ([`read_replies`]) with two rule sets
//!   ([`RuleSource`]: paths or git revisions) and groups the changes:
//!   newly quarantined first, then un-quarantined, then other verdict
//!   changes, then status-only changes ([`Diff::to_human`],
//!   [`Diff::to_markdown`], [`Diff::to_json`]).
//!
//! ```
//! use mxrules::syntax::load::Parsed;
//! use mxrules::verify::{self, CorpusFile};
//!
//! let mut parsed = Parsed::default();
//! parsed.add_text("mail.ru.rules", r#"
//! policy { 5.1.1 -> quarantine  5.7.* -> blocked  5.*.* -> hard  4.*.* -> soft }
//! mx ends with ".mail.ru" {
//!     /^550 must be local recipient/ -> 5.7.1
//! }"#);
//! let rules = mxrules::check::check(&parsed).rules.unwrap();
//! let classifier = mxrules::compile::classifier(rules).unwrap();
//!
//! let text = "cases:\n  # Mail.ru's reply for an unknown user.\n  - mx: mxs.mail.ru\n    reply: \"550 must be local recipient\"\n    status: 5.7.1\n    verdict: quarantine\n";
//! let file = CorpusFile::parse("mail.ru.yaml", text).unwrap();
//! let outcomes = verify::run(&classifier, &file);
//! assert_eq!(outcomes[0].line, Some(3));
//! assert_eq!(outcomes[0].mismatches, [verify::Field::Verdict]);
//!
//! let blessed = verify::bless(&file, &outcomes, None).unwrap();
//! assert_eq!(blessed.text, text.replace("verdict: quarantine", "verdict: blocked"));
//! ```

mod bless;
mod corpus;
mod coverage;
mod diff;
mod diff_report;
mod layout;
mod revision;
mod rule_index;
mod run;
mod suite;
mod test_report;

pub use bless::{BlessError, BlessErrorKind, Blessed, CaseChange, FieldChange, bless};
pub use corpus::{Case, Corpus, CorpusError, CorpusFile, CorpusPathError, corpus_paths};
pub use coverage::{Coverage, FileCoverage};
pub use diff::{
    ChangeKind, ChangedReply, Decision, Diff, FailOn, Group, Reply, ReplyError, Transition, diff,
    read_replies,
};
pub use diff_report::Labels;
pub use revision::{GitError, RevisionError, RuleSource, parse_at_revision};
pub use run::{Field, Outcome, run, same_rule};
pub use suite::{FileError, Ran, TestOptions, TestRun};

/// `value` as pretty-printed JSON and a line end.
fn to_json_document(value: &impl serde::Serialize) -> String {
    match serde_json::to_string_pretty(value) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        Err(e) => format!(
            "{{\"error\": {}}}\n",
            crate::core::text::json_string(&e.to_string())
        ),
    }
}
