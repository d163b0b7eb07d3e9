//! What goes wrong in a run: problems it reports and reads on past
//! ([`Problem`]), and the errors that stop it ([`PipelineError`]).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::input::{BadRecord, OpenError};

/// Something wrong with the inputs, reported in input order; the run goes
/// on past it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Problem {
    /// An input that could not be opened; the next one is read.
    Unreadable(InputError),
    /// A record that could not be read, with its position; the rest of
    /// its input is read on.
    BadRecord(BadRecord),
}

impl Problem {
    /// Whether it is an input that could not be opened.
    pub fn is_unreadable(&self) -> bool {
        matches!(self, Problem::Unreadable(_))
    }

    /// Whether it is a bad record.
    pub fn is_bad_record(&self) -> bool {
        matches!(self, Problem::BadRecord(_))
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unreadable(e) => e.fmt(f),
            Problem::BadRecord(bad) => bad.fmt(f),
        }
    }
}

impl std::error::Error for Problem {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Problem::Unreadable(e) => Some(e),
            Problem::BadRecord(_) => None,
        }
    }
}

/// An input that could not be opened: missing, unreadable, or of a format
/// that cannot be told.
#[derive(Debug)]
pub struct InputError {
    name: String,
    source: OpenError,
}

impl InputError {
    /// The error of input `name` (as positions name it).
    pub(super) fn new(name: String, source: OpenError) -> InputError {
        InputError { name, source }
    }

    /// The input as positions name it (`<stdin>` for standard input).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The error of kind `NotFound`: the input does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(&self.source, OpenError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read `{}`: {}", self.name, self.source)
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Why a run stopped before its end.
#[derive(Debug)]
#[non_exhaustive]
pub enum PipelineError {
    /// The output could not be written.
    Write(std::io::Error),
    /// The quarantine list could not be written to `path`.
    QuarantineList {
        /// Where the list was to be written.
        path: PathBuf,
        /// Why it could not be.
        source: std::io::Error,
    },
    /// The thread that writes the output stopped without an answer.
    Stopped,
}

impl PipelineError {
    /// Whether the output could not be written.
    pub fn is_write(&self) -> bool {
        matches!(self, PipelineError::Write(_))
    }

    /// Whether the output was a pipe closed by its reader
    /// (`mxrules classify | head`): the end a caller usually wants quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, PipelineError::Write(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// Whether the quarantine list could not be written.
    pub fn is_quarantine_list(&self) -> bool {
        matches!(self, PipelineError::QuarantineList { .. })
    }

    /// Whether the output thread stopped without an answer.
    pub fn is_stopped(&self) -> bool {
        matches!(self, PipelineError::Stopped)
    }

    pub(super) fn quarantine_list(path: &Path, source: std::io::Error) -> PipelineError {
        PipelineError::QuarantineList {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipelineError::Write(e) => write!(f, "cannot write output: {e}"),
            PipelineError::QuarantineList { path, source } => write!(
                f,
                "cannot write `{}`: {source}",
                crate::core::source::display_name(path)
            ),
            PipelineError::Stopped => f.write_str("the output thread stopped unexpectedly"),
        }
    }
}

impl std::error::Error for PipelineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PipelineError::Write(e) | PipelineError::QuarantineList { source: e, .. } => Some(e),
            PipelineError::Stopped => None,
        }
    }
}
