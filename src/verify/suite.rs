//! A test run over corpus files: each read, run, and blessed when asked;
//! what `mxrules test` reports.

use std::fmt;
use std::path::{Path, PathBuf};

use super::bless::{BlessError, CaseChange, bless};
use super::corpus::{CorpusError, CorpusFile};
use super::coverage::{Coverage, coverage};
use super::run::{Outcome, run};
use crate::core::model::RuleSet;
use crate::core::source::display_name;
use crate::runtime::engine::Engine;

/// How to run corpus files.
#[derive(Clone, Copy, Debug, Default)]
pub struct TestOptions<'a> {
    /// Rewrite the expectations of failing cases in place ([`bless`]).
    pub bless: bool,
    /// The rules directory, which blessed rule names are relative to.
    pub root: Option<&'a str>,
}

/// One corpus file and its outcomes.
#[derive(Clone, Debug)]
pub struct Ran {
    /// The file.
    pub file: CorpusFile,
    /// Its cases classified, in file order.
    pub outcomes: Vec<Outcome>,
    /// The expectations rewritten by blessing (then the file's failures
    /// are accepted).
    pub blessed: Vec<CaseChange>,
}

/// A corpus file that could not be tested, or blessed.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// A JSON-lines file: replies with no expectations.
    JsonLines {
        /// The file as shown in reports.
        file: String,
    },
    /// The file cannot be read.
    Unreadable {
        /// The file as shown in reports.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a corpus.
    Malformed(CorpusError),
    /// The blessed file cannot be written.
    Unwritable {
        /// The file as shown in reports.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file's failures cannot be blessed.
    Unblessed(BlessError),
}

impl FileError {
    /// True for a file that cannot be read or written, or is no corpus at
    /// all: the run could not do what was asked.
    pub fn is_io(&self) -> bool {
        matches!(
            self,
            FileError::JsonLines { .. }
                | FileError::Unreadable { .. }
                | FileError::Unwritable { .. }
        )
    }

    /// True for a file that is not a corpus.
    pub fn is_malformed(&self) -> bool {
        matches!(self, FileError::Malformed(_))
    }

    /// True for a file whose failures cannot be blessed.
    pub fn is_unblessed(&self) -> bool {
        matches!(self, FileError::Unblessed(_))
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::JsonLines { file } => write!(
                f,
                "`{file}` is JSON lines, with no expectations; `mxrules test` reads YAML corpora"
            ),
            FileError::Unreadable { file, source } => write!(f, "cannot read `{file}`: {source}"),
            FileError::Malformed(e) => e.fmt(f),
            FileError::Unwritable { file, source } => write!(f, "cannot write `{file}`: {source}"),
            FileError::Unblessed(e) => write!(f, "cannot bless {e}"),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Unreadable { source, .. } | FileError::Unwritable { source, .. } => {
                Some(source)
            }
            FileError::Malformed(e) => Some(e),
            FileError::Unblessed(e) => Some(e),
            FileError::JsonLines { .. } => None,
        }
    }
}

/// Everything a test run found.
#[derive(Debug, Default)]
pub struct TestRun {
    /// The corpus files run, in order.
    pub ran: Vec<Ran>,
    /// The files that could not be tested or blessed, in order.
    pub errors: Vec<FileError>,
}

impl TestRun {
    /// Runs every corpus file of `paths` with `engine`; blesses the failing
    /// ones when asked, writing them in place.
    pub fn run(engine: &dyn Engine, paths: &[PathBuf], opts: TestOptions<'_>) -> TestRun {
        let mut out = TestRun::default();
        for path in paths {
            match run_file(engine, path, opts) {
                Ok((ran, error)) => {
                    out.ran.push(ran);
                    out.errors.extend(error);
                }
                Err(e) => out.errors.push(e),
            }
        }
        out
    }

    /// Cases that fail and were not blessed.
    pub fn failed(&self) -> usize {
        self.ran
            .iter()
            .filter(|r| r.blessed.is_empty())
            .flat_map(|r| &r.outcomes)
            .filter(|o| !o.passed())
            .count()
    }

    /// Cases blessed.
    pub fn blessed(&self) -> usize {
        self.ran.iter().map(|r| r.blessed.len()).sum()
    }

    /// Cases run.
    pub fn cases(&self) -> usize {
        self.ran.iter().map(|r| r.outcomes.len()).sum()
    }

    /// The cases no rule matches, with their files.
    pub fn unmatched(&self) -> impl Iterator<Item = (&Ran, &Outcome)> {
        self.ran
            .iter()
            .flat_map(|r| r.outcomes.iter().map(move |o| (r, o)))
            .filter(|(_, o)| o.got.unmatched)
    }

    /// The files that are not corpora.
    pub fn malformed(&self) -> impl Iterator<Item = &CorpusError> {
        self.errors.iter().filter_map(|e| match e {
            FileError::Malformed(c) => Some(c),
            _ => None,
        })
    }

    /// Files that could not be read or written.
    pub fn io_errors(&self) -> usize {
        self.errors.iter().filter(|e| e.is_io()).count()
    }

    /// Failing cases and files with errors: zero when the run is clean.
    pub fn problems(&self) -> usize {
        self.failed() + self.errors.len()
    }

    /// Files that are corpora, run or not.
    pub fn files(&self) -> usize {
        self.ran.len() + self.malformed().count()
    }

    /// Which rules of `rules` decide some case of the run.
    pub fn coverage(&self, rules: &RuleSet) -> Coverage {
        coverage(
            rules,
            self.ran
                .iter()
                .flat_map(|r| &r.outcomes)
                .filter_map(|o| o.got.rule.as_deref()),
        )
    }
}

/// Runs one corpus file, and blesses it when asked: the file run, with the
/// error that kept it from being blessed; or why it could not be run.
fn run_file(
    engine: &dyn Engine,
    path: &Path,
    opts: TestOptions<'_>,
) -> Result<(Ran, Option<FileError>), FileError> {
    let name = display_name(path);
    if path.extension().is_some_and(|e| e == "jsonl") {
        return Err(FileError::JsonLines { file: name });
    }
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Unreadable {
        file: name.clone(),
        source,
    })?;
    let file = CorpusFile::parse(&name, &text).map_err(FileError::Malformed)?;
    let outcomes = run(engine, &file);
    let mut ran = Ran {
        file,
        outcomes,
        blessed: Vec::new(),
    };
    if !opts.bless || ran.outcomes.iter().all(Outcome::passed) {
        return Ok((ran, None));
    }
    let error = match bless(&ran.file, &ran.outcomes, opts.root) {
        Ok(b) => match crate::core::fs::write_atomically(path, b.text.as_bytes()) {
            Ok(()) => {
                ran.blessed = b.cases;
                None
            }
            Err(source) => Some(FileError::Unwritable { file: name, source }),
        },
        Err(e) => Some(FileError::Unblessed(e)),
    };
    Ok((ran, error))
}
