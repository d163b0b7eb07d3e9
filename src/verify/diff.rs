//! Diffs: replies classified with two rule sets, the changes grouped by
//! kind (newly quarantined first, then un-quarantined, then other verdict
//! changes, then status-only changes).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::corpus::{CorpusError, CorpusFile, position};
use super::rule_index::RuleIndex;
use crate::core::bounce::Bounce;
use crate::core::source::display_name;
use crate::core::status::{Status, Verdict};
use crate::input::{self, BadRecord, InputFormat, Item, OpenError};
use crate::runtime::classify::{Classification, RuleRef};
use crate::runtime::engine::Engine;

/// A reply to classify, and where it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The file as shown in reports.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The bounce.
    pub bounce: Bounce,
}

impl Reply {
    /// `file:line`, or `file`.
    pub fn position(&self) -> String {
        position(&self.file, self.line)
    }
}

/// The replies of a corpus file, its expectations ignored.
fn corpus_replies(file: &CorpusFile) -> Vec<Reply> {
    file.corpus
        .cases
        .iter()
        .enumerate()
        .map(|(i, c)| Reply {
            file: file.name.clone(),
            line: file.case_line(i),
            bounce: c.bounce(),
        })
        .collect()
}

/// A file, or a line of one, that gives no reply.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReplyError {
    /// The file cannot be read.
    Unreadable {
        /// The file as shown in reports.
        file: String,
        /// Why.
        source: OpenError,
    },
    /// A YAML file that is not a corpus.
    Malformed(CorpusError),
    /// A line of a JSON-lines file that is not a bounce.
    BadRecord(BadRecord),
}

impl ReplyError {
    /// True when the file cannot be read (rather than holding bad data).
    pub fn is_unreadable(&self) -> bool {
        matches!(self, ReplyError::Unreadable { .. })
    }
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::Unreadable { file, source } => write!(f, "cannot read `{file}`: {source}"),
            ReplyError::Malformed(e) => e.fmt(f),
            ReplyError::BadRecord(b) => b.fmt(f),
        }
    }
}

impl std::error::Error for ReplyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReplyError::Unreadable { source, .. } => Some(source),
            ReplyError::Malformed(e) => Some(e),
            ReplyError::BadRecord(_) => None,
        }
    }
}

/// The replies of every file: JSON lines (`*.jsonl`) or YAML corpora (their
/// expectations ignored); and, in file order, the files and lines that give
/// none.
pub fn read_replies(paths: &[PathBuf]) -> (Vec<Reply>, Vec<ReplyError>) {
    let mut replies = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let name = display_name(path);
        if path.extension().is_some_and(|e| e == "jsonl") {
            jsonl_replies(path, &mut replies, &mut errors);
            continue;
        }
        match std::fs::read_to_string(path) {
            Ok(text) => match CorpusFile::parse(&name, &text) {
                Ok(f) => replies.extend(corpus_replies(&f)),
                Err(e) => errors.push(ReplyError::Malformed(e)),
            },
            Err(source) => errors.push(ReplyError::Unreadable {
                file: name,
                source: source.into(),
            }),
        }
    }
    (replies, errors)
}

/// The replies of a JSON-lines file, read by the input module's reader as
/// `mxrules classify` reads it, and the lines that are not bounces.
fn jsonl_replies(path: &Path, replies: &mut Vec<Reply>, errors: &mut Vec<ReplyError>) {
    let input = match input::open(path, InputFormat::Jsonl) {
        Ok(input) => input,
        Err(source) => {
            errors.push(ReplyError::Unreadable {
                file: display_name(path),
                source,
            });
            return;
        }
    };
    for item in input.items() {
        match item {
            Item::Record(r) => replies.push(Reply {
                file: r.position.file,
                line: Some(r.position.line),
                bounce: r.bounce,
            }),
            Item::Bad(b) => errors.push(ReplyError::BadRecord(b)),
            Item::Skipped { .. } => {}
        }
    }
}

/// What a rule set made of a reply.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Decision {
    /// The status after classification (none for a reply with no code).
    pub status: Option<Status>,
    /// The verdict.
    pub verdict: Verdict,
    /// The deciding rule; `None` when no rule matched (the policy decided).
    pub rule: Option<RuleRef>,
}

impl Decision {
    fn new(c: &Classification, index: &RuleIndex) -> Decision {
        Decision {
            status: c.status,
            verdict: c.verdict,
            rule: c.rule.as_deref().map(|r| {
                index.rule(r).unwrap_or_else(|| RuleRef {
                    rule: r.to_string(),
                    regex: String::new(),
                    status: c.status.unwrap_or(Status::new(5, 0, 0)),
                    verdict: c.verdict,
                    scope: Some(c.scope.as_deref().unwrap_or_default().to_string()),
                })
            }),
        }
    }

    /// `5.1.1 quarantine`, or `quarantine` for a reply with no code.
    pub fn outcome(&self) -> String {
        match self.status {
            Some(s) => format!("{s} {}", self.verdict),
            None => self.verdict.to_string(),
        }
    }
}

/// The kinds of changes, in the order reports show them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// Quarantined by the new rules, not by the old: the expensive mistake.
    NewlyQuarantined,
    /// Quarantined by the old rules, not by the new.
    #[serde(rename = "un-quarantined")]
    Unquarantined,
    /// Another verdict change.
    VerdictChanged,
    /// The same verdict with another status.
    StatusOnly,
}

impl ChangeKind {
    /// Every kind, in the order reports show them.
    pub const ALL: [ChangeKind; 4] = [
        ChangeKind::NewlyQuarantined,
        ChangeKind::Unquarantined,
        ChangeKind::VerdictChanged,
        ChangeKind::StatusOnly,
    ];

    /// The kind of the change from `old` to `new`; `None` when the status
    /// and the verdict are the same.
    pub fn of(old: &Decision, new: &Decision) -> Option<ChangeKind> {
        let q = Verdict::Quarantine;
        if old.verdict != q && new.verdict == q {
            Some(ChangeKind::NewlyQuarantined)
        } else if old.verdict == q && new.verdict != q {
            Some(ChangeKind::Unquarantined)
        } else if old.verdict != new.verdict {
            Some(ChangeKind::VerdictChanged)
        } else if old.status != new.status {
            Some(ChangeKind::StatusOnly)
        } else {
            None
        }
    }

    /// A heading: `newly quarantined`.
    pub fn title(self) -> &'static str {
        match self {
            ChangeKind::NewlyQuarantined => "newly quarantined",
            ChangeKind::Unquarantined => "un-quarantined",
            ChangeKind::VerdictChanged => "other verdict changes",
            ChangeKind::StatusOnly => "status-only changes",
        }
    }
}

/// A changed reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChangedReply {
    /// The file as shown in reports.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The receiving MX host, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mx: Option<String>,
    /// The recipient, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rcpt: Option<String>,
    /// The SMTP reply.
    pub reply: String,
}

impl ChangedReply {
    /// `file:line`, or `file`.
    pub fn position(&self) -> String {
        position(&self.file, self.line)
    }
}

/// Every reply that went from one decision to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// The decision of the old rules.
    pub old: Decision,
    /// The decision of the new rules.
    pub new: Decision,
    /// How many replies.
    pub count: usize,
    /// In corpus order.
    pub replies: Vec<ChangedReply>,
}

/// The changes of one kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The kind.
    pub kind: ChangeKind,
    /// Replies of this kind.
    pub count: usize,
    /// Most replies first.
    pub transitions: Vec<Transition>,
}

/// Two rule sets over the same replies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Replies classified.
    pub replies: usize,
    /// Replies whose status or verdict changed.
    pub changed: usize,
    /// Replies no rule matched, with the old rules.
    pub unmatched_old: usize,
    /// Replies no rule matched, with the new rules.
    pub unmatched_new: usize,
    /// Replies matched by the old rules and by no new rule.
    pub newly_unmatched: usize,
    /// One group per kind, in the order of [`ChangeKind::ALL`], empty ones
    /// included.
    pub groups: Vec<Group>,
}

/// What makes `mxrules diff --fail-on` fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Some reply is quarantined by the new rules and not by the old.
    QuarantineIncrease,
    /// Some reply changes verdict.
    VerdictChange,
    /// Some reply changes status or verdict.
    AnyChange,
    /// Some reply matched by the old rules is matched by no new rule.
    UnmatchedIncrease,
}

impl FailOn {
    /// The condition's name on the command line: `quarantine-increase`.
    pub fn name(self) -> &'static str {
        match self {
            FailOn::QuarantineIncrease => "quarantine-increase",
            FailOn::VerdictChange => "verdict-change",
            FailOn::AnyChange => "any-change",
            FailOn::UnmatchedIncrease => "unmatched-increase",
        }
    }
}

impl Diff {
    /// The group of one kind.
    pub fn group(&self, kind: ChangeKind) -> Option<&Group> {
        self.groups.iter().find(|g| g.kind == kind)
    }

    /// Replies of one kind.
    pub fn count(&self, kind: ChangeKind) -> usize {
        self.group(kind).map_or(0, |g| g.count)
    }

    /// Replies that change verdict.
    pub fn verdict_changes(&self) -> usize {
        self.count(ChangeKind::NewlyQuarantined)
            + self.count(ChangeKind::Unquarantined)
            + self.count(ChangeKind::VerdictChanged)
    }

    /// True when the condition holds.
    pub fn fails(&self, on: FailOn) -> bool {
        match on {
            FailOn::QuarantineIncrease => self.count(ChangeKind::NewlyQuarantined) > 0,
            FailOn::VerdictChange => self.verdict_changes() > 0,
            FailOn::AnyChange => self.changed > 0,
            FailOn::UnmatchedIncrease => self.newly_unmatched > 0,
        }
    }
}

/// Classifies every reply with both rule sets and groups the changes.
pub fn diff(old: &dyn Engine, new: &dyn Engine, replies: &[Reply]) -> Diff {
    let (old_index, new_index) = (
        RuleIndex::new(old.rule_set()),
        RuleIndex::new(new.rule_set()),
    );
    let mut d = Diff {
        replies: replies.len(),
        changed: 0,
        unmatched_old: 0,
        unmatched_new: 0,
        newly_unmatched: 0,
        groups: Vec::new(),
    };
    // Per kind, transitions in order of first appearance.
    let mut found: BTreeMap<ChangeKind, Vec<Transition>> = BTreeMap::new();
    for r in replies {
        let (a, b) = (old.classify(&r.bounce), new.classify(&r.bounce));
        d.unmatched_old += usize::from(a.unmatched);
        d.unmatched_new += usize::from(b.unmatched);
        d.newly_unmatched += usize::from(!a.unmatched && b.unmatched);
        let (a, b) = (Decision::new(&a, &old_index), Decision::new(&b, &new_index));
        let Some(kind) = ChangeKind::of(&a, &b) else {
            continue;
        };
        d.changed += 1;
        let reply = ChangedReply {
            file: r.file.clone(),
            line: r.line,
            mx: r.bounce.mx.clone(),
            rcpt: r.bounce.rcpt.clone(),
            reply: r.bounce.reply.clone(),
        };
        let list = found.entry(kind).or_default();
        match list.iter_mut().find(|t| t.old == a && t.new == b) {
            Some(t) => {
                t.count += 1;
                t.replies.push(reply);
            }
            None => list.push(Transition {
                old: a,
                new: b,
                count: 1,
                replies: vec![reply],
            }),
        }
    }
    for kind in ChangeKind::ALL {
        let mut transitions = found.remove(&kind).unwrap_or_default();
        transitions.sort_by(|x, y| {
            y.count
                .cmp(&x.count)
                .then_with(|| (&x.old, &x.new).cmp(&(&y.old, &y.new)))
        });
        d.groups.push(Group {
            kind,
            count: transitions.iter().map(|t| t.count).sum(),
            transitions,
        });
    }
    d
}
