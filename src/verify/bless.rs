//! Blessing: the expectations of the cases that no longer hold rewritten
//! in place, editing only their `status:`, `verdict:`, `rule:` and
//! `unmatched:` lines, so comments, order and layout stay as they were.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::Serialize;

use super::corpus::{Case, Corpus, CorpusError, CorpusFile, parse_corpus, position};
use super::layout::{CaseLayout, split_lines, trailing_comment, written_value};
use super::run::{Field, Outcome};
use crate::core::text::json_string;

/// One expectation rewritten.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The expectation.
    pub field: Field,
    /// The value before, as written in the file (`None`: the line was absent).
    pub old: Option<String>,
    /// The value after (`None`: the line is removed).
    pub new: Option<String>,
}

/// The expectations of one case, rewritten.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseChange {
    /// The index of the case in its file.
    pub index: usize,
    /// The 1-based line of the case.
    pub line: Option<usize>,
    /// What changed, in the order status, verdict, rule, unmatched.
    pub changes: Vec<FieldChange>,
}

/// A corpus file with its expectations rewritten.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blessed {
    /// The new text of the file.
    pub text: String,
    /// The cases rewritten, in file order.
    pub cases: Vec<CaseChange>,
}

/// Why a corpus file could not be blessed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlessError {
    /// The file's name as shown in reports.
    pub file: String,
    /// The 1-based line of the case at fault, when there is one.
    pub line: Option<usize>,
    /// What prevents the rewrite.
    pub kind: BlessErrorKind,
}

/// What prevents a corpus file from being blessed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlessErrorKind {
    /// The line of some case cannot be found in the text.
    NoLayout,
    /// A case to rewrite is written in flow style (`{...}`).
    FlowStyle,
    /// An expectation to remove is on the first line of its case.
    FirstLine {
        /// The key to remove.
        key: &'static str,
    },
    /// The rewritten text would give other expectations than intended,
    /// first for the case of this 0-based index.
    WrongRewrite {
        /// The index of the case.
        case: usize,
    },
    /// The rewritten text would not read back as a corpus.
    Unreadable(CorpusError),
}

impl BlessError {
    /// True when the lines of the cases cannot be found.
    pub fn is_no_layout(&self) -> bool {
        matches!(self.kind, BlessErrorKind::NoLayout)
    }

    /// True when a case to rewrite is in flow style.
    pub fn is_flow_style(&self) -> bool {
        matches!(self.kind, BlessErrorKind::FlowStyle)
    }

    /// True when an expectation to remove is on the first line of its case.
    pub fn is_first_line(&self) -> bool {
        matches!(self.kind, BlessErrorKind::FirstLine { .. })
    }

    /// True when the rewritten text would not give the intended corpus.
    pub fn is_wrong_rewrite(&self) -> bool {
        matches!(
            self.kind,
            BlessErrorKind::WrongRewrite { .. } | BlessErrorKind::Unreadable(_)
        )
    }
}

impl fmt::Display for BlessErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlessErrorKind::NoLayout => f.write_str(
                "cannot find the line of every case in this file; write `cases:` as a block sequence (`- reply: ...`) to bless it",
            ),
            BlessErrorKind::FlowStyle => f.write_str(
                "this case is written in flow style (`{...}`); write it as a block mapping to bless it",
            ),
            BlessErrorKind::FirstLine { key } => write!(
                f,
                "cannot remove `{key}:` from the first line of the case; move it below `reply:` to bless it"
            ),
            BlessErrorKind::WrongRewrite { case } => write!(
                f,
                "rewriting case {} would not give the intended expectations; edit it by hand",
                case + 1
            ),
            BlessErrorKind::Unreadable(e) => {
                f.write_str("the rewritten file would not read back (")?;
                f.write_str(&e.message)?;
                if let (Some(l), Some(c)) = (e.line, e.column) {
                    write!(f, " at line {l} column {c}")?;
                }
                f.write_str("); edit it by hand")
            }
        }
    }
}

impl fmt::Display for BlessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", position(&self.file, self.line), self.kind)
    }
}

impl std::error::Error for BlessError {}

/// The name of a rule as a corpus records it: relative to the rules
/// directory `root` when it is under it.
fn relative_rule(location: &str, root: Option<&str>) -> String {
    let Some(root) = root.map(|r| r.trim_end_matches('/')) else {
        return location.to_string();
    };
    let rel = if root.is_empty() {
        None
    } else {
        location
            .strip_prefix(root)
            .and_then(|r| r.strip_prefix('/'))
    };
    rel.unwrap_or(location).to_string()
}

/// Rewrites the expectations of every case of `file` that failed in
/// `outcomes`: each failing field takes the value the rules give now. Only
/// the `status:`, `verdict:`, `rule:` and `unmatched:` lines of those cases
/// change; a line is replaced (keeping its trailing comment), inserted next
/// to the case's other expectations, or removed (`unmatched: true` of a case
/// that now matches). In a file where some case pins its deciding rule
/// ([`CorpusFile::pins_rules`]), every rewritten case that matches gets a
/// `rule:` line, named relative to the rules directory `root`.
///
/// The new text is read back and must give exactly the intended corpus;
/// otherwise nothing is rewritten and the error says which case to edit by
/// hand.
pub fn bless(
    file: &CorpusFile,
    outcomes: &[Outcome],
    root: Option<&str>,
) -> Result<Blessed, BlessError> {
    let err = |line: Option<usize>, kind| BlessError {
        file: file.name.clone(),
        line,
        kind,
    };
    let failing: Vec<&Outcome> = outcomes.iter().filter(|o| !o.passed()).collect();
    if failing.is_empty() {
        return Ok(Blessed {
            text: file.text.clone(),
            cases: Vec::new(),
        });
    }
    let Some(layout) = &file.layout else {
        return Err(err(None, BlessErrorKind::NoLayout));
    };
    let lines = split_lines(&file.text);
    let eol = if file.text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut want = file.corpus.clone();
    let mut edits = Edits::default();
    let mut cases = Vec::new();
    let pins = file.pins_rules();
    for o in failing {
        let (Some(case), Some(cl), Some(target)) = (
            file.corpus.cases.get(o.index),
            layout.get(o.index),
            want.cases.get_mut(o.index),
        ) else {
            continue;
        };
        let line = Some(cl.line + 1);
        if cl.flow {
            return Err(err(line, BlessErrorKind::FlowStyle));
        }
        let sets = new_expectations(case, o, pins, root, target);
        let changes = edits
            .case(&lines, cl, sets, eol)
            .map_err(|kind| err(line, kind))?;
        if !changes.is_empty() {
            cases.push(CaseChange {
                index: o.index,
                line,
                changes,
            });
        }
    }
    let text = edits.apply(&lines, eol, file.text.len());
    read_back(file, &text, &want)?;
    Ok(Blessed { text, cases })
}

/// The expectation lines to write for a failing case, key and new value
/// (`None` removes the line); `target`, the case as intended, is updated to
/// match.
fn new_expectations(
    case: &Case,
    o: &Outcome,
    pins: bool,
    root: Option<&str>,
    target: &mut Case,
) -> Vec<(Field, Option<String>)> {
    let got = &o.got;
    let got_rule = got.rule.as_deref().map(|r| relative_rule(r, root));
    let mut sets: Vec<(Field, Option<String>)> = Vec::new();
    for f in &o.mismatches {
        match f {
            Field::Status => {
                target.status = got.status;
                sets.push((Field::Status, got.status.map(|s| s.to_string())));
            }
            Field::Verdict => {
                target.verdict = got.verdict;
                sets.push((Field::Verdict, Some(got.verdict.to_string())));
            }
            Field::Rule => {
                target.rule = got_rule.clone();
                sets.push((Field::Rule, got_rule.as_deref().map(json_string)));
            }
            Field::Unmatched => {
                target.unmatched = got.unmatched;
                sets.push((
                    Field::Unmatched,
                    got.unmatched.then(|| String::from("true")),
                ));
                if got.unmatched && case.rule.is_some() {
                    target.rule = None;
                    sets.push((Field::Rule, None));
                }
            }
        }
    }
    if pins && case.rule.is_none() && !got.unmatched {
        target.rule = got_rule.clone();
        sets.push((Field::Rule, got_rule.as_deref().map(json_string)));
    }
    sets
}

/// The line edits of a file: lines replaced, lines dropped, and lines
/// inserted before a line (0-based; the number of lines for the end).
#[derive(Default)]
struct Edits {
    replace: HashMap<usize, String>,
    skip: HashSet<usize>,
    insert: BTreeMap<usize, Vec<String>>,
}

impl Edits {
    /// Records the edits that write `sets` into the case laid out as `cl`,
    /// and returns what changes, in field order.
    fn case(
        &mut self,
        lines: &[(&str, &str)],
        cl: &CaseLayout,
        sets: Vec<(Field, Option<String>)>,
        eol: &str,
    ) -> Result<Vec<FieldChange>, BlessErrorKind> {
        // Where new lines go: `status:` before `verdict:`, the others after
        // the last expectation line of the case.
        let verdict = cl.key("verdict");
        let tail = ["status", "verdict", "rule", "unmatched"]
            .iter()
            .filter_map(|k| cl.key(k))
            .map(|k| k.end)
            .max()
            .or_else(|| cl.keys.last().map(|k| k.end))
            .unwrap_or(cl.line + 1);
        let mut changes = Vec::new();
        for (field, value) in sets {
            let key = field.as_str();
            let old = cl.key(key);
            let old_value =
                old.and_then(|k| lines.get(k.line).map(|(l, _)| written_value(l, k.col, key)));
            if old_value.as_deref() == value.as_deref() {
                continue;
            }
            match (old, &value) {
                (Some(k), Some(v)) => {
                    let (text, end) = lines.get(k.line).copied().unwrap_or(("", eol));
                    let comment = if k.end == k.line + 1 {
                        trailing_comment(text.get(k.col + key.len() + 1..).unwrap_or(""))
                    } else {
                        ""
                    };
                    let prefix = text.get(..k.col).unwrap_or("");
                    self.replace
                        .insert(k.line, format!("{prefix}{key}: {v}{comment}{end}"));
                    self.skip.extend(k.line + 1..k.end);
                }
                (Some(k), None) => {
                    if k.line == cl.line {
                        return Err(BlessErrorKind::FirstLine { key });
                    }
                    self.skip.extend(k.line..k.end);
                }
                (None, Some(v)) => {
                    let new_line = format!("{}{key}: {v}{eol}", " ".repeat(cl.indent));
                    let at = match (field, verdict) {
                        (Field::Status, Some(vk)) if vk.line != cl.line => vk.line,
                        _ => tail,
                    };
                    self.insert.entry(at).or_default().push(new_line);
                }
                (None, None) => continue,
            }
            changes.push(FieldChange {
                field,
                old: old_value,
                new: value,
            });
        }
        changes.sort_by_key(|c| c.field);
        Ok(changes)
    }

    /// The text of `lines` with the edits made.
    fn apply(&self, lines: &[(&str, &str)], eol: &str, len: usize) -> String {
        let mut text = String::with_capacity(len + 256);
        for (i, (l, end)) in lines.iter().enumerate() {
            if let Some(ins) = self.insert.get(&i) {
                ins.iter().for_each(|s| text.push_str(s));
            }
            if self.skip.contains(&i) {
                continue;
            }
            match self.replace.get(&i) {
                Some(r) => text.push_str(r),
                None => {
                    text.push_str(l);
                    text.push_str(end);
                }
            }
        }
        if let Some(ins) = self.insert.get(&lines.len()) {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push_str(eol);
            }
            ins.iter().for_each(|s| text.push_str(s));
        }
        text
    }
}

/// Reads the rewritten `text` back: it must be exactly the corpus intended.
fn read_back(file: &CorpusFile, text: &str, want: &Corpus) -> Result<(), BlessError> {
    let err = |line: Option<usize>, kind| BlessError {
        file: file.name.clone(),
        line,
        kind,
    };
    match parse_corpus(&file.name, text) {
        Ok(c) if c == *want => Ok(()),
        Ok(c) => {
            let bad = c
                .cases
                .iter()
                .zip(&want.cases)
                .position(|(a, b)| a != b)
                .unwrap_or(c.cases.len().min(want.cases.len()));
            Err(err(
                file.case_line(bad),
                BlessErrorKind::WrongRewrite { case: bad },
            ))
        }
        Err(e) => Err(err(e.line, BlessErrorKind::Unreadable(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_relative_to_the_rules_directory() {
        assert_eq!(
            relative_rule("rules.d/gmail.rules:12", Some("rules.d/")),
            "gmail.rules:12"
        );
        assert_eq!(
            relative_rule("other/gmail.rules:12", Some("rules.d")),
            "other/gmail.rules:12"
        );
    }
}
