//! Corpus files: bounces with their expected outcomes, in YAML, read once
//! by [`CorpusFile::parse`] with the line of every case.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::layout::{CaseLayout, scan_layout};
use crate::core::bounce::Bounce;
use crate::core::source::display_name;
use crate::core::status::{Category, Status, Verdict};

/// A corpus: bounces and what each must classify as.
///
/// ```yaml
/// # Real replies of Gmail's inbound servers.
/// provider: gmail
/// cases:
///   - mx: gmail-smtp-in.l.google.com
///     rcpt: someone@gmail.com
///     reply: "550 5.1.1 The email account that you tried to reach does not exist."
///     status: 5.1.1
///     verdict: quarantine
/// ```
///
/// `status` and `verdict` are what classification must give; `rule`
/// (`file:line`) names the deciding rule when it matters; `unmatched: true`
/// says no rule is expected to match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corpus {
    /// Whose replies these are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The cases, in file order.
    pub cases: Vec<Case>,
}

/// One bounce and what it must classify as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The receiving MX host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mx: Option<String>,
    /// The recipient address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rcpt: Option<String>,
    /// The SMTP reply.
    pub reply: String,
    /// A status reported next to the reply (DSN `Status:`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_status: Option<Status>,
    /// The category the MTA reported (PowerMTA `bounceCat`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_category: Option<Category>,
    /// The expected status after classification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The expected verdict.
    pub verdict: Verdict,
    /// The expected deciding rule, `file:line`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// True when no rule should match.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unmatched: bool,
}

impl Case {
    /// The bounce to classify.
    pub fn bounce(&self) -> Bounce {
        Bounce {
            mx: self.mx.clone(),
            rcpt: self.rcpt.clone(),
            reply: self.reply.clone(),
            status: self.given_status,
            reported_category: self.reported_category,
        }
    }
}

/// `file:line`, or `file` when the line is not known.
pub(crate) fn position(file: &str, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("{file}:{l}"),
        None => file.to_string(),
    }
}

/// A corpus file that could not be read as a corpus.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CorpusError {
    /// The file's name as shown in reports.
    pub file: String,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// 1-based column of the problem, when known.
    pub column: Option<usize>,
    /// What is wrong, without the position.
    pub message: String,
}

impl fmt::Display for CorpusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = position(&self.file, self.line);
        match (self.line, self.column) {
            (Some(_), Some(c)) => write!(f, "{at}:{c}: {}", self.message),
            _ => write!(f, "{at}: {}", self.message),
        }
    }
}

impl std::error::Error for CorpusError {}

/// A corpus and its text, with the line of every case.
#[derive(Clone, Debug)]
pub struct CorpusFile {
    /// The file's name as shown in reports.
    pub name: String,
    /// The text as read.
    pub text: String,
    /// The corpus the text holds.
    pub corpus: Corpus,
    /// The layout of every case, when the text could be read line by line
    /// (one entry per case, in order).
    pub(super) layout: Option<Vec<CaseLayout>>,
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
        position(&self.name, self.case_line(i))
    }

    /// True when some case names its deciding rule: then blessing records
    /// the deciding rule of every case it changes.
    pub fn pins_rules(&self) -> bool {
        self.corpus.cases.iter().any(|c| c.rule.is_some())
    }
}

/// The corpus YAML parser: the text of the file `name` as a corpus.
pub(super) fn parse_corpus(name: &str, text: &str) -> Result<Corpus, CorpusError> {
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

/// A path named as a corpus that gives no corpus file.
#[derive(Debug)]
#[non_exhaustive]
pub enum CorpusPathError {
    /// The path, or a directory under it, cannot be read.
    Unreadable {
        /// The path as shown in reports.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A directory holds no file with a corpus extension.
    NoCorpus {
        /// The directory as shown in reports.
        path: String,
        /// The extensions looked for.
        extensions: Vec<String>,
    },
}

impl CorpusPathError {
    /// True when the path cannot be read.
    pub fn is_unreadable(&self) -> bool {
        matches!(self, CorpusPathError::Unreadable { .. })
    }

    /// True when a directory holds no corpus file.
    pub fn is_no_corpus(&self) -> bool {
        matches!(self, CorpusPathError::NoCorpus { .. })
    }
}

impl fmt::Display for CorpusPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorpusPathError::Unreadable { path, source } => {
                write!(f, "cannot read `{path}`: {source}")
            }
            CorpusPathError::NoCorpus { path, extensions } => write!(
                f,
                "`{path}` holds no corpus files (`*.{}`)",
                extensions.join("`, `*.")
            ),
        }
    }
}

impl std::error::Error for CorpusPathError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CorpusPathError::Unreadable { source, .. } => Some(source),
            CorpusPathError::NoCorpus { .. } => None,
        }
    }
}

/// The files named by `paths`: files as given, directories searched
/// (recursively) for files with one of `extensions`, sorted; each file once.
pub fn corpus_paths(
    paths: &[PathBuf],
    extensions: &[&str],
) -> Result<Vec<PathBuf>, CorpusPathError> {
    fn walk(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(&path, extensions, out)?;
            } else if path
                .extension()
                .is_some_and(|e| extensions.iter().any(|x| e == *x))
            {
                out.push(path);
            }
        }
        Ok(())
    }
    let unreadable = |p: &Path, source| CorpusPathError::Unreadable {
        path: display_name(p),
        source,
    };
    let mut out: Vec<PathBuf> = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| unreadable(p, e))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, extensions, &mut found).map_err(|e| unreadable(p, e))?;
            if found.is_empty() {
                return Err(CorpusPathError::NoCorpus {
                    path: display_name(p),
                    extensions: extensions.iter().map(|e| e.to_string()).collect(),
                });
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    Ok(out)
}
