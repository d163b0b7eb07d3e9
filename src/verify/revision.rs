//! Rule sets to compare: a path, or a git revision of the repository the
//! command runs in, whose rules files are read with git.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::core::source::display_name;
use crate::syntax::load::{Parsed, RULES_EXTENSION};

/// The directory read at a git revision when none is named.
const DEFAULT_RULES_DIR: &str = "rules.d";

/// Git could not answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum GitError {
    /// The `git` program cannot be run.
    CannotRun(std::io::Error),
    /// Git ran and failed; what it said on standard error.
    Failed(String),
}

impl GitError {
    /// True when git cannot be run at all.
    pub fn is_cannot_run(&self) -> bool {
        matches!(self, GitError::CannotRun(_))
    }
}

impl fmt::Display for GitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GitError::CannotRun(e) => write!(f, "cannot run git: {e}"),
            GitError::Failed(stderr) => f.write_str(stderr),
        }
    }
}

impl std::error::Error for GitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GitError::CannotRun(e) => Some(e),
            GitError::Failed(_) => None,
        }
    }
}

/// Runs git in the current directory; its standard output.
fn git(args: &[&str]) -> Result<Vec<u8>, GitError> {
    let out = Command::new("git")
        .args(args)
        .output()
        .map_err(GitError::CannotRun)?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(GitError::Failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// A rule set that cannot be found or read.
#[derive(Debug)]
#[non_exhaustive]
pub enum RevisionError {
    /// The argument is no path, and no revision git knows.
    NotFound {
        /// The argument.
        arg: String,
    },
    /// The argument is no path, and git cannot be run to look it up.
    NoGit {
        /// The argument.
        arg: String,
        /// Why git cannot run.
        error: GitError,
    },
    /// The directory cannot be listed at the revision.
    List {
        /// The revision as given.
        rev: String,
        /// The directory.
        dir: String,
        /// What git said.
        error: GitError,
    },
    /// The directory holds no rules files at the revision.
    NoRules {
        /// The revision as given.
        rev: String,
        /// The directory.
        dir: String,
    },
    /// A rules file cannot be read at the revision.
    Read {
        /// The revision as given.
        rev: String,
        /// The file.
        file: String,
        /// What git said.
        error: GitError,
    },
}

impl RevisionError {
    /// True when the argument names neither a path nor a revision.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            RevisionError::NotFound { .. } | RevisionError::NoGit { .. }
        )
    }

    /// True when the revision has no rules files in the directory.
    pub fn is_no_rules(&self) -> bool {
        matches!(self, RevisionError::NoRules { .. })
    }
}

impl fmt::Display for RevisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevisionError::NotFound { arg } => write!(
                f,
                "`{arg}` is neither a rules path nor a git revision of this repository"
            ),
            RevisionError::NoGit { arg, error } => write!(
                f,
                "`{arg}` is not a path, and git cannot be run to read it as a revision ({error})"
            ),
            RevisionError::List { rev, dir, error } => {
                write!(f, "cannot list `{dir}` at `{rev}`: {error}")
            }
            RevisionError::NoRules { rev, dir } => write!(
                f,
                "`{rev}` has no rules files (`*.{RULES_EXTENSION}`) under `{dir}`"
            ),
            RevisionError::Read { rev, file, error } => {
                write!(f, "cannot read `{file}` at `{rev}`: {error}")
            }
        }
    }
}

impl std::error::Error for RevisionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RevisionError::NoGit { error, .. }
            | RevisionError::List { error, .. }
            | RevisionError::Read { error, .. } => Some(error),
            RevisionError::NotFound { .. } | RevisionError::NoRules { .. } => None,
        }
    }
}

/// Where a rule set comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleSource {
    /// Rules files or directories, or a compiled file.
    Path(PathBuf),
    /// A directory at a git revision.
    Git {
        /// The revision as given (`HEAD`, `main`).
        rev: String,
        /// The commit it names.
        commit: String,
        /// The directory read.
        dir: String,
    },
}

impl RuleSource {
    /// An argument: an existing path, else a git revision (`REV:DIR` reads
    /// `DIR` rather than `rules.d`).
    pub fn resolve(arg: &str) -> Result<RuleSource, RevisionError> {
        if Path::new(arg).exists() {
            return Ok(RuleSource::Path(PathBuf::from(arg)));
        }
        let (rev, dir) = match arg.split_once(':') {
            Some((rev, dir)) if !rev.is_empty() && !dir.is_empty() => (rev, dir),
            _ => (arg, DEFAULT_RULES_DIR),
        };
        let not_found = || RevisionError::NotFound {
            arg: arg.to_string(),
        };
        if rev.is_empty() || rev.starts_with('-') {
            return Err(not_found());
        }
        let spec = format!("{rev}^{{commit}}");
        match git(&["rev-parse", "--verify", "--quiet", &spec]) {
            Ok(out) => Ok(RuleSource::Git {
                rev: rev.to_string(),
                commit: String::from_utf8_lossy(&out).trim().to_string(),
                dir: dir.trim_end_matches('/').to_string(),
            }),
            Err(error) if error.is_cannot_run() => Err(RevisionError::NoGit {
                arg: arg.to_string(),
                error,
            }),
            Err(_) => Err(not_found()),
        }
    }

    /// How reports name it: the path, or `REV (commit, DIR)`.
    pub fn label(&self) -> String {
        match self {
            RuleSource::Path(p) => display_name(p),
            RuleSource::Git { rev, commit, dir } => {
                format!("{rev} ({}, {dir})", commit.get(..7).unwrap_or(commit))
            }
        }
    }
}

/// Reads the rules files under `dir` at `commit` (named `rev`), named as
/// in the working tree (`rules.d/gmail.rules`).
pub fn parse_at_revision(rev: &str, commit: &str, dir: &str) -> Result<Parsed, RevisionError> {
    let listing =
        git(&["ls-tree", "-r", "-z", "--name-only", commit, "--", dir]).map_err(|error| {
            RevisionError::List {
                rev: rev.to_string(),
                dir: dir.to_string(),
                error,
            }
        })?;
    let mut names: Vec<String> = listing
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .filter(|n| {
            Path::new(n)
                .extension()
                .is_some_and(|e| e == RULES_EXTENSION)
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(RevisionError::NoRules {
            rev: rev.to_string(),
            dir: dir.to_string(),
        });
    }
    let mut parsed = Parsed::default();
    for name in names {
        // `REV:./path` is relative to the current directory, as ls-tree's names.
        let object = if name.starts_with("../") {
            format!("{commit}:{name}")
        } else {
            format!("{commit}:./{name}")
        };
        let bytes = git(&["cat-file", "blob", &object]).map_err(|error| RevisionError::Read {
            rev: rev.to_string(),
            file: name.clone(),
            error,
        })?;
        parsed.add_bytes(&name, &bytes);
    }
    Ok(parsed)
}
