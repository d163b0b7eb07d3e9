//! Verifying rules against corpora: what `mxrules test` and `mxrules diff`
//! are made of.
//!
//! - [`CorpusFile::parse`] reads a YAML corpus ([`crate::verify::corpus`]) and finds
//!   the line of every case in its text.
//! - [`run`] classifies every case of a corpus and compares the outcome with
//!   the case's expectations ([`Outcome::mismatches`]).
//! - [`bless`] rewrites the expectations of the cases that no longer hold,
//!   editing only their `status:`, `verdict:`, `rule:` and `unmatched:`
//!   lines, so comments, order and layout stay as they were.
//! - [`coverage`] tells which rules decide no case.
//! - [`diff`] classifies replies with two rule sets and groups the changes:
//!   newly quarantined first, then un-quarantined, then other verdict
//!   changes, then status-only changes.
//!
//! ```
//! use mxrules::runtime::classify::Classifier;
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

pub mod corpus;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::Serialize;

use crate::core::bounce::Bounce;

use crate::core::model::{Rule, RuleId, RuleSet};
use crate::core::status::{Status, Verdict};
use crate::runtime::classify::{Classification, Classifier};
use crate::verify::corpus::{Case, Corpus};

/// What verification needs of compiled rules, whatever their DFA storage.
pub trait Engine {
    /// Classifies one bounce.
    fn classify(&self, b: &Bounce) -> Classification;
    /// The rules the tables were compiled from.
    fn rule_set(&self) -> &RuleSet;
}

impl<T: AsRef<[u32]>> Engine for Classifier<T> {
    fn classify(&self, b: &Bounce) -> Classification {
        Classifier::classify(self, b)
    }

    fn rule_set(&self) -> &RuleSet {
        self.rules()
    }
}

// ---------------------------------------------------------------------------
// Corpus files and where their cases are

/// A corpus file that could not be read as a corpus.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CorpusError {
    pub file: String,
    /// 1-based line and column, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for CorpusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for CorpusError {}

/// One `key: value` line of a case, and the lines its value continues on.
#[derive(Clone, Debug)]
struct KeyLine {
    key: String,
    /// 0-based line index of the key.
    line: usize,
    /// One past the last line of the value.
    end: usize,
    /// The column where the key starts.
    col: usize,
}

/// Where one case (`- ...` item of `cases:`) lies in the text.
#[derive(Clone, Debug)]
struct CaseLayout {
    /// 0-based index of the `- ` line.
    line: usize,
    /// The indentation of the case's keys.
    indent: usize,
    keys: Vec<KeyLine>,
    /// Written in flow style (`- {reply: ..., verdict: ...}`): not editable.
    flow: bool,
}

impl CaseLayout {
    fn key(&self, key: &str) -> Option<&KeyLine> {
        self.keys.iter().find(|k| k.key == key)
    }
}

/// A corpus and its text, with the line of every case.
#[derive(Clone, Debug)]
pub struct CorpusFile {
    /// The file's name as shown in reports.
    pub name: String,
    pub text: String,
    pub corpus: Corpus,
    /// The layout of every case, when the text could be read line by line
    /// (one entry per case, in order).
    layout: Option<Vec<CaseLayout>>,
}

impl CorpusFile {
    /// Reads a corpus. The error has the line and column of the problem.
    pub fn parse(name: &str, text: &str) -> Result<CorpusFile, CorpusError> {
        let corpus = parse_corpus(name, text)?;
        let layout = scan_layout(text).filter(|l| l.len() == corpus.cases.len());
        Ok(CorpusFile {
            name: name.to_string(),
            text: text.to_string(),
            corpus,
            layout,
        })
    }

    /// The 1-based line of case `i` (its `- `), when known.
    pub fn case_line(&self, i: usize) -> Option<usize> {
        self.layout.as_ref()?.get(i).map(|c| c.line + 1)
    }

    /// Where case `i` is: `file:line` or `file` when the line is not known.
    pub fn case_position(&self, i: usize) -> String {
        match self.case_line(i) {
            Some(l) => format!("{}:{l}", self.name),
            None => self.name.clone(),
        }
    }

    /// True when some case names its deciding rule: then blessing records
    /// the deciding rule of every case it changes.
    pub fn pins_rules(&self) -> bool {
        self.corpus.cases.iter().any(|c| c.rule.is_some())
    }
}

fn parse_corpus(name: &str, text: &str) -> Result<Corpus, CorpusError> {
    serde_yaml::from_str::<Corpus>(text).map_err(|e| {
        let full = e.to_string();
        let location = e.location();
        // serde_yaml appends " at line L column C"; the position is kept apart.
        let message = match full.rfind(" at line ") {
            Some(at) if location.is_some() => full[..at].to_string(),
            _ => full,
        };
        CorpusError {
            file: name.to_string(),
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message,
        }
    })
}

/// A line's text without its end, and its end (`\n`, `\r\n` or nothing).
fn split_lines(text: &str) -> Vec<(&str, &str)> {
    text.split_inclusive('\n')
        .map(|l| {
            if let Some(s) = l.strip_suffix("\r\n") {
                (s, "\r\n")
            } else if let Some(s) = l.strip_suffix('\n') {
                (s, "\n")
            } else {
                (l, "")
            }
        })
        .collect()
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Blank lines and comment lines carry no YAML content.
fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// The key of a `key: value` (or `key:`) text, if it starts with one.
fn key_of(s: &str) -> Option<&str> {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
    let rest = &s[end..];
    let after = rest.strip_prefix(':')?;
    (end > 0 && (after.is_empty() || after.starts_with([' ', '\t']))).then(|| &s[..end])
}

/// Finds every item of the top-level `cases:` sequence, and the keys of
/// each, by reading the text line by line (the YAML parser gives no
/// positions per item). Returns `None` for layouts it does not follow; the
/// caller also checks that it found as many cases as the parser.
fn scan_layout(text: &str) -> Option<Vec<CaseLayout>> {
    let lines = split_lines(text);
    let start = lines.iter().position(|(l, _)| {
        l.strip_prefix("cases:")
            .is_some_and(|rest| is_blank_or_comment(rest) || rest.trim().is_empty())
    })?;
    // First pass: the items and the lines each spans.
    let mut items: Vec<(usize, usize)> = Vec::new(); // (dash line, end)
    let mut item_indent = None;
    for (i, (l, _)) in lines.iter().enumerate().skip(start + 1) {
        if is_blank_or_comment(l) {
            continue;
        }
        if l.starts_with("---") || l.starts_with("...") {
            break;
        }
        let ind = indent_of(l);
        let rest = &l[ind..];
        let is_dash = rest == "-" || rest.starts_with("- ");
        let ii = *item_indent.get_or_insert(ind);
        if ind < ii || (ind == ii && !is_dash) {
            break;
        }
        if ind == ii {
            items.push((i, i + 1));
        } else if let Some(last) = items.last_mut() {
            last.1 = i + 1;
        }
    }
    let ii = item_indent?;
    let mut out = Vec::with_capacity(items.len());
    for (first, end) in items {
        let (dash_line, _) = lines.get(first)?;
        let after_dash = dash_line.get(ii + 1..).unwrap_or("");
        let content = after_dash.trim_start_matches(' ');
        let content_col = dash_line.len() - content.len();
        let mut layout = CaseLayout {
            line: first,
            indent: 0,
            keys: Vec::new(),
            flow: content.starts_with(['{', '[']),
        };
        let mut indent = None;
        if !content.is_empty() && !content.starts_with('#') {
            indent = Some(content_col);
            if let Some(k) = key_of(content) {
                layout.keys.push(KeyLine {
                    key: k.to_string(),
                    line: first,
                    end: first + 1,
                    col: content_col,
                });
            }
        }
        for (i, (l, _)) in lines.iter().enumerate().take(end).skip(first + 1) {
            if is_blank_or_comment(l) {
                continue;
            }
            let ind = indent_of(l);
            let ci = *indent.get_or_insert(ind);
            if ind == ci {
                if let Some(k) = key_of(&l[ind..]) {
                    layout.keys.push(KeyLine {
                        key: k.to_string(),
                        line: i,
                        end: i + 1,
                        col: ind,
                    });
                }
            } else if ind > ci
                && let Some(k) = layout.keys.last_mut()
            {
                k.end = i + 1;
            }
        }
        layout.indent = indent.unwrap_or(ii + 2);
        out.push(layout);
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// Running a corpus

/// An expectation a case states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Status,
    Verdict,
    Rule,
    Unmatched,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Status => "status",
            Field::Verdict => "verdict",
            Field::Rule => "rule",
            Field::Unmatched => "unmatched",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One case classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The index of the case in its file.
    pub index: usize,
    /// The 1-based line of the case, when known.
    pub line: Option<usize>,
    pub got: Classification,
    /// The expectations that do not hold, in the order status, verdict,
    /// rule, unmatched; empty when the case passes.
    pub mismatches: Vec<Field>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// True when the deciding rule `got` is the rule `want` names. Rule names
/// are `file:line`; the file may be written relative to any directory
/// (`gmail.rules:12`, `rules.d/gmail.rules:12`), so a name matches when one
/// is the other with leading directories removed.
pub fn same_rule(got: &str, want: &str) -> bool {
    fn ends_with_component(long: &str, short: &str) -> bool {
        long.strip_suffix(short)
            .is_some_and(|head| head.is_empty() || head.ends_with('/'))
    }
    ends_with_component(got, want) || ends_with_component(want, got)
}

/// The expectations of `case` that `got` does not meet.
pub fn mismatches(case: &Case, got: &Classification) -> Vec<Field> {
    let mut out = Vec::new();
    if case.status.is_some() && case.status != got.status {
        out.push(Field::Status);
    }
    if case.verdict != got.verdict {
        out.push(Field::Verdict);
    }
    if let (Some(want), Some(rule)) = (&case.rule, &got.rule)
        && !same_rule(rule, want)
    {
        out.push(Field::Rule);
    }
    if case.unmatched != got.unmatched {
        out.push(Field::Unmatched);
    }
    out
}

/// Classifies every case of a corpus and compares it with its expectations.
pub fn run(engine: &dyn Engine, file: &CorpusFile) -> Vec<Outcome> {
    file.corpus
        .cases
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let got = engine.classify(&case.bounce());
            Outcome {
                index,
                line: file.case_line(index),
                mismatches: mismatches(case, &got),
                got,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Rules, as reports show them

/// A rule as reports show it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RuleInfo {
    /// `file:line`.
    pub rule: String,
    /// `/regex/flags`.
    pub regex: String,
    pub status: Status,
    pub verdict: Verdict,
    pub scope: String,
}

impl RuleInfo {
    pub fn new(rules: &RuleSet, rule: &Rule) -> RuleInfo {
        RuleInfo {
            rule: rule.location(),
            regex: format!(
                "/{}/{}",
                rule.regex,
                if rule.case_insensitive { "i" } else { "" }
            ),
            status: rule.status,
            verdict: rules.rule_verdict(rule),
            scope: rules
                .scopes
                .get(rule.scope)
                .map(|s| s.name())
                .unwrap_or_default(),
        }
    }
}

impl fmt::Display for RuleInfo {
    /// `rules.d/gmail.rules:12: /regex/ -> 5.1.1 quarantine`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} -> {} {}",
            self.rule, self.regex, self.status, self.verdict
        )
    }
}

/// Finds rules by their `file:line` name.
#[derive(Debug)]
pub struct RuleIndex<'a> {
    rules: &'a RuleSet,
    by_location: HashMap<String, RuleId>,
}

impl<'a> RuleIndex<'a> {
    pub fn new(rules: &'a RuleSet) -> RuleIndex<'a> {
        let mut by_location = HashMap::new();
        for r in &rules.rules {
            by_location.entry(r.location()).or_insert(r.id);
        }
        RuleIndex { rules, by_location }
    }

    /// The id of the rule named `location`.
    pub fn id(&self, location: &str) -> Option<RuleId> {
        self.by_location.get(location).copied()
    }

    /// The rule named `location`, as reports show it.
    pub fn info(&self, location: &str) -> Option<RuleInfo> {
        let rule = self.rules.rules.get(self.id(location)?)?;
        Some(RuleInfo::new(self.rules, rule))
    }
}

// ---------------------------------------------------------------------------
// Blessing

/// One expectation rewritten.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: Field,
    /// The value before, as written in the file (`None`: the line was absent).
    pub old: Option<String>,
    /// The value after (`None`: the line is removed).
    pub new: Option<String>,
}

/// The expectations of one case, rewritten.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseChange {
    pub index: usize,
    pub line: Option<usize>,
    pub changes: Vec<FieldChange>,
}

/// A corpus file with its expectations rewritten.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blessed {
    pub text: String,
    pub cases: Vec<CaseChange>,
}

/// Why a corpus file could not be blessed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlessError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for BlessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for BlessError {}

/// The name of a rule as a corpus records it: relative to the rules
/// directory `root` when it is under it.
pub fn relative_rule(location: &str, root: Option<&str>) -> String {
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

/// A YAML scalar for a rule name: double-quoted (JSON escaping is valid YAML).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// The trailing comment of a `key: value` line, with the white space before
/// it, if any.
fn trailing_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    let start = value.len() - value.trim_start().len();
    let mut i = start;
    match bytes.get(i) {
        Some(b'"') => {
            i += 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => {
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
        }
        Some(b'\'') => {
            i += 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
        }
        _ => {}
    }
    let rest = value.get(i.min(value.len())..).unwrap_or("");
    // A comment starts with `#` after white space.
    let mut prev_space = i == start;
    for (j, c) in rest.char_indices() {
        if c == '#' && prev_space {
            let ws = rest[..j].len() - rest[..j].trim_end().len();
            return &rest[j - ws..];
        }
        prev_space = c == ' ' || c == '\t';
    }
    ""
}

/// The value written after `key:` on a line, without its comment.
fn written_value(line: &str, col: usize, key: &str) -> String {
    let after = line.get(col + key.len() + 1..).unwrap_or("");
    let comment = trailing_comment(after);
    after[..after.len() - comment.len()].trim().to_string()
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
    let err = |line: Option<usize>, message: String| BlessError {
        file: file.name.clone(),
        line,
        message,
    };
    let failing: Vec<&Outcome> = outcomes.iter().filter(|o| !o.passed()).collect();
    if failing.is_empty() {
        return Ok(Blessed {
            text: file.text.clone(),
            cases: Vec::new(),
        });
    }
    let Some(layout) = &file.layout else {
        return Err(err(
            None,
            String::from(
                "cannot find the line of every case in this file; write `cases:` as a block sequence (`- reply: ...`) to bless it",
            ),
        ));
    };
    let lines = split_lines(&file.text);
    let eol = if file.text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut want = file.corpus.clone();
    let mut replace: HashMap<usize, String> = HashMap::new();
    let mut skip: HashSet<usize> = HashSet::new();
    let mut insert: BTreeMap<usize, Vec<String>> = BTreeMap::new();
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
            return Err(err(
                line,
                String::from(
                    "this case is written in flow style (`{...}`); write it as a block mapping to bless it",
                ),
            ));
        }
        let got = &o.got;
        let got_rule = got.rule.as_deref().map(|r| relative_rule(r, root));
        // The lines to write: key and new value (`None` removes the line).
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
                    sets.push((Field::Rule, got_rule.as_deref().map(quoted)));
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
            sets.push((Field::Rule, got_rule.as_deref().map(quoted)));
        }
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
                    replace.insert(k.line, format!("{prefix}{key}: {v}{comment}{end}"));
                    skip.extend(k.line + 1..k.end);
                }
                (Some(k), None) => {
                    if k.line == cl.line {
                        return Err(err(
                            line,
                            format!(
                                "cannot remove `{key}:` from the first line of the case; move it below `reply:` to bless it"
                            ),
                        ));
                    }
                    skip.extend(k.line..k.end);
                }
                (None, Some(v)) => {
                    let new_line = format!("{}{key}: {v}{eol}", " ".repeat(cl.indent));
                    let at = match (field, verdict) {
                        (Field::Status, Some(vk)) if vk.line != cl.line => vk.line,
                        _ => tail,
                    };
                    insert.entry(at).or_default().push(new_line);
                }
                (None, None) => continue,
            }
            changes.push(FieldChange {
                field,
                old: old_value,
                new: value,
            });
        }
        if !changes.is_empty() {
            changes.sort_by_key(|c| c.field);
            cases.push(CaseChange {
                index: o.index,
                line,
                changes,
            });
        }
    }
    let mut text = String::with_capacity(file.text.len() + 256);
    for (i, (l, end)) in lines.iter().enumerate() {
        if let Some(ins) = insert.get(&i) {
            ins.iter().for_each(|s| text.push_str(s));
        }
        if skip.contains(&i) {
            continue;
        }
        match replace.get(&i) {
            Some(r) => text.push_str(r),
            None => {
                text.push_str(l);
                text.push_str(end);
            }
        }
    }
    if let Some(ins) = insert.get(&lines.len()) {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push_str(eol);
        }
        ins.iter().for_each(|s| text.push_str(s));
    }
    // Read the result back: it must be exactly the corpus intended.
    match serde_yaml::from_str::<Corpus>(&text) {
        Ok(c) if c == want => Ok(Blessed { text, cases }),
        Ok(c) => {
            let bad = c
                .cases
                .iter()
                .zip(&want.cases)
                .position(|(a, b)| a != b)
                .unwrap_or(c.cases.len().min(want.cases.len()));
            Err(err(
                file.case_line(bad),
                format!(
                    "rewriting case {} would not give the intended expectations; edit it by hand",
                    bad + 1
                ),
            ))
        }
        Err(e) => Err(err(
            e.location().map(|l| l.line()),
            format!("the rewritten file would not read back ({e}); edit it by hand"),
        )),
    }
}

/// Writes `text` to `path` atomically (see [`crate::core::fs::write_atomically`]).
pub fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    crate::core::fs::write_atomically(path, text.as_bytes())
}

// ---------------------------------------------------------------------------
// Coverage

/// How many rules of one file decide some case, and which do not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileCoverage {
    pub file: String,
    pub rules: usize,
    pub covered: usize,
    pub uncovered: Vec<RuleInfo>,
}

/// How many rules decide some case: a rule is covered when it is the
/// deciding rule of at least one case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub rules: usize,
    pub covered: usize,
    /// Every file with rules, in the order of the rule set.
    pub files: Vec<FileCoverage>,
}

impl Coverage {
    /// The share of rules covered, in percent (100 when there are no rules).
    pub fn percent(&self) -> f64 {
        percent(self.covered, self.rules)
    }
}

/// `part` of `whole` in percent; 100 when `whole` is zero.
pub fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        100.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// The coverage of `rules` by cases decided by the rules named in `decided`
/// (`file:line`).
pub fn coverage<'a>(rules: &RuleSet, decided: impl IntoIterator<Item = &'a str>) -> Coverage {
    let index = RuleIndex::new(rules);
    let covered: HashSet<RuleId> = decided.into_iter().filter_map(|r| index.id(r)).collect();
    let mut files: Vec<FileCoverage> = Vec::new();
    for rule in &rules.rules {
        let file = &rule.origin.file;
        let pos = match files.iter().position(|f| &f.file == file) {
            Some(p) => p,
            None => {
                files.push(FileCoverage {
                    file: file.clone(),
                    rules: 0,
                    covered: 0,
                    uncovered: Vec::new(),
                });
                files.len() - 1
            }
        };
        let Some(fc) = files.get_mut(pos) else {
            continue;
        };
        fc.rules += 1;
        if covered.contains(&rule.id) {
            fc.covered += 1;
        } else {
            fc.uncovered.push(RuleInfo::new(rules, rule));
        }
    }
    Coverage {
        rules: rules.rules.len(),
        covered: files.iter().map(|f| f.covered).sum(),
        files,
    }
}

// ---------------------------------------------------------------------------
// Replies for diffs

/// A reply to classify, and where it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub bounce: Bounce,
}

impl Reply {
    /// `file:line`, or `file`.
    pub fn position(&self) -> String {
        match self.line {
            Some(l) => format!("{}:{l}", self.file),
            None => self.file.clone(),
        }
    }
}

/// The replies of a corpus file, its expectations ignored.
pub fn corpus_replies(file: &CorpusFile) -> Vec<Reply> {
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

/// The replies of a JSON lines file (see [`crate::input::parse_json_line`]),
/// and the lines that are not bounces.
pub fn json_lines_replies(name: &str, text: &str) -> (Vec<Reply>, Vec<CorpusError>) {
    let mut replies = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match crate::input::parse_json_line(line) {
            Ok(rec) => replies.push(Reply {
                file: name.to_string(),
                line: Some(i + 1),
                bounce: rec.bounce,
            }),
            Err(message) => errors.push(CorpusError {
                file: name.to_string(),
                line: Some(i + 1),
                column: None,
                message: message.to_string(),
            }),
        }
    }
    (replies, errors)
}

// ---------------------------------------------------------------------------
// Diffs

/// What a rule set made of a reply.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Decision {
    pub status: Option<Status>,
    pub verdict: Verdict,
    /// The deciding rule; `None` when no rule matched (the policy decided).
    pub rule: Option<RuleInfo>,
}

impl Decision {
    fn new(c: &Classification, index: &RuleIndex) -> Decision {
        Decision {
            status: c.status,
            verdict: c.verdict,
            rule: c.rule.as_deref().map(|r| {
                index.info(r).unwrap_or_else(|| RuleInfo {
                    rule: r.to_string(),
                    regex: String::new(),
                    status: c.status.unwrap_or(Status::new(5, 0, 0)),
                    verdict: c.verdict,
                    scope: c.scope.as_deref().unwrap_or_default().to_string(),
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
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mx: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rcpt: Option<String>,
    pub reply: String,
}

impl ChangedReply {
    /// `file:line`, or `file`.
    pub fn position(&self) -> String {
        match self.line {
            Some(l) => format!("{}:{l}", self.file),
            None => self.file.clone(),
        }
    }
}

/// Every reply that went from one decision to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub old: Decision,
    pub new: Decision,
    pub count: usize,
    /// In corpus order.
    pub replies: Vec<ChangedReply>,
}

/// The changes of one kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    pub kind: ChangeKind,
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
    /// Replies no rule matched, with the old and with the new rules.
    pub unmatched_old: usize,
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

impl Diff {
    /// The group of one kind.
    pub fn group(&self, kind: ChangeKind) -> Option<&Group> {
        self.groups.iter().find(|g| g.kind == kind)
    }

    fn count(&self, kind: ChangeKind) -> usize {
        self.group(kind).map_or(0, |g| g.count)
    }

    /// True when the condition holds.
    pub fn fails(&self, on: FailOn) -> bool {
        match on {
            FailOn::QuarantineIncrease => self.count(ChangeKind::NewlyQuarantined) > 0,
            FailOn::VerdictChange => {
                self.count(ChangeKind::NewlyQuarantined)
                    + self.count(ChangeKind::Unquarantined)
                    + self.count(ChangeKind::VerdictChanged)
                    > 0
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_finds_every_case_and_its_keys() {
        let text = "# c\nprovider: x\ncases:\n  # first\n  - mx: a\n    reply: \"r\"\n    verdict: hard\n\n  -   reply: >-\n        folded\n        text\n      verdict: soft # why\nother: 1\n";
        assert!(serde_yaml::from_str::<serde_yaml::Value>(text).is_ok());
        let l = scan_layout(text).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].line, 4);
        assert_eq!(l[1].line, 8);
        assert_eq!(l[1].indent, 6);
        let keys: Vec<(&str, usize, usize)> = l[1]
            .keys
            .iter()
            .map(|k| (k.key.as_str(), k.line, k.end))
            .collect();
        assert_eq!(keys, [("reply", 8, 11), ("verdict", 11, 12)]);
    }

    #[test]
    fn layout_of_unindented_sequences() {
        let text =
            "cases:\n- reply: a\n  verdict: hard\n- reply: b\n  verdict: soft\nprovider: x\n";
        let l = scan_layout(text).unwrap();
        assert_eq!(l.iter().map(|c| c.line).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(l[1].keys.len(), 2);
    }

    #[test]
    fn trailing_comments() {
        assert_eq!(trailing_comment(" hard  # why"), "  # why");
        assert_eq!(trailing_comment(" \"a # b\" # c"), " # c");
        assert_eq!(trailing_comment(" 'it''s # x'"), "");
        assert_eq!(trailing_comment(" a#b"), "");
        assert_eq!(written_value("    verdict: hard # x", 4, "verdict"), "hard");
    }

    #[test]
    fn rule_names_match_on_path_components() {
        assert!(same_rule("rules.d/gmail.rules:12", "gmail.rules:12"));
        assert!(same_rule("gmail.rules:12", "rules.d/gmail.rules:12"));
        assert!(!same_rule("rules.d/xgmail.rules:12", "gmail.rules:12"));
        assert!(!same_rule("rules.d/gmail.rules:12", "gmail.rules:13"));
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
