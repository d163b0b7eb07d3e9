//! Reading rules files from disk into a [`SourceMap`] and parsing them.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::core::source::{FileId, SourceMap, Span, display_name};
use crate::diag::{Code, Diagnostic};
use crate::syntax::ast;

/// The file name ending a directory's rules files have.
pub const RULES_EXTENSION: &str = "rules";

/// A path that could not be read.
#[derive(Debug)]
pub struct LoadError {
    path: PathBuf,
    source: std::io::Error,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot read `{}`: {}",
            display_name(&self.path),
            self.source
        )
    }
}

impl std::error::Error for LoadError {}

/// The rules files named by `paths`: files as given, directories searched
/// (recursively) for `*.rules` files, sorted by path so the order never
/// depends on the file system.
pub fn rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| LoadError {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found)?;
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let err = |source| LoadError {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        let path = entry.path();
        let ty = entry.file_type().map_err(err)?;
        if ty.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == RULES_EXTENSION) {
            out.push(path);
        }
    }
    Ok(())
}

/// Parsed files and the diagnostics of reading and parsing them.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The text of every file read, by id.
    pub sources: SourceMap,
    /// Every file that parsed, with its id.
    pub files: Vec<(FileId, ast::File)>,
    /// What went wrong while reading or parsing, for every file.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// Adds one file's text (already read) and parses it.
    pub fn add_bytes(&mut self, name: &str, bytes: &[u8]) {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.add_text(name, text),
            Err(e) => {
                let lossy = String::from_utf8_lossy(bytes).into_owned();
                // Offsets in the lossy text: the valid prefix is unchanged.
                let at = e.valid_up_to();
                let id = self.sources.add(name, lossy);
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::InvalidUtf8,
                        "file is not valid UTF-8",
                        Span::new(id, at, at + '\u{fffd}'.len_utf8()),
                        format!("invalid byte sequence at byte {at}"),
                    )
                    .with_help("rules files are UTF-8 text; save the file as UTF-8"),
                );
            }
        }
    }

    /// Adds one file's text and parses it.
    pub fn add_text(&mut self, name: &str, text: &str) {
        let id = self.sources.add(name, text);
        match crate::syntax::parse(id, text) {
            Ok(file) => self.files.push((id, file)),
            Err(d) => self.diagnostics.push(*d),
        }
    }
}

/// Reads and parses the rules files under `paths`.
pub fn parse_paths(paths: &[PathBuf]) -> Result<Parsed, LoadError> {
    let mut parsed = Parsed::default();
    for path in rule_files(paths)? {
        let bytes = std::fs::read(&path).map_err(|source| LoadError {
            path: path.clone(),
            source,
        })?;
        parsed.add_bytes(&display_name(&path), &bytes);
    }
    Ok(parsed)
}
