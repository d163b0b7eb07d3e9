//! From source text to the syntax tree.
//!
//! This is the only module that knows about pest: [`parse`] runs the grammar
//! of `grammar/mxrules.pest` and turns the concrete tree into the owned
//! [`crate::syntax::ast::File`] (`cst2ast`), or turns pest's error into a
//! [`Diagnostic`] with friendly words for what was expected.
//!
//! ```
//! use mxrules::core::source::FileId;
//! let src = r#"mx ends with ".mail.ru" { initial 5.0.0 { /^550 must be local recipient/ -> 5.7.1 quarantine } }"#;
//! let file = mxrules::syntax::parse(FileId(0), src).unwrap();
//! assert_eq!(file.blocks.len(), 1);
//! ```

pub mod ast;
mod cst2ast;
pub mod fmt;
pub mod load;
mod parser;

use crate::core::source::{FileId, Span};
use crate::diag::{Code, Diagnostic};

/// Files larger than this are refused before parsing.
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

/// Parses one file. A syntax error stops the parse: the grammar has no
/// recovery, so the result is that one diagnostic.
pub fn parse(file: FileId, text: &str) -> Result<ast::File, Box<Diagnostic>> {
    if text.len() > MAX_FILE_BYTES {
        return Err(Box::new(
            Diagnostic::new(
                Code::TooComplex,
                format!(
                    "file is {} bytes, more than the {} bytes a rules file may have",
                    text.len(),
                    MAX_FILE_BYTES
                ),
                Span::new(file, 0, 0),
                "file starts here",
            )
            .with_help("split the rules into one file per provider"),
        ));
    }
    match parser::parse_file(text) {
        Ok(pairs) => Ok(cst2ast::file(file, text, pairs)),
        Err(e) => Err(Box::new(parser::error_to_diagnostic(file, text, &e))),
    }
}
