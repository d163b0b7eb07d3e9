//! `mxrules fmt`: rewrite rules files in the canonical layout.

use std::path::PathBuf;

use mxrules::core::source::{FileId, SourceMap, display_name};
use mxrules::diag;

use super::{Color, Exit, fail, print_stderr, print_stdout};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rules files or directories (searched for `*.rules`); `-` formats standard input to standard output.
    #[arg(default_values_os_t = super::default_rules())]
    paths: Vec<PathBuf>,
    /// Change nothing; list the files that are not formatted and exit 1 if there is any.
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args, color: Color) -> Exit {
    if args.paths.len() == 1 && args.paths[0].as_os_str() == "-" {
        let mut text = String::new();
        if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
            return fail(format!("cannot read standard input: {e}"));
        }
        return match format_one("<stdin>", &text, color) {
            Some(out) if args.check => {
                if out == text {
                    Exit::Success
                } else {
                    print_stderr("<stdin> is not formatted\n");
                    Exit::Failure
                }
            }
            Some(out) => match print_stdout(&out) {
                Ok(()) => Exit::Success,
                Err(e) => fail(e),
            },
            None => Exit::Failure,
        };
    }
    let files = match mxrules::syntax::load::rule_files(&args.paths) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let mut exit = Exit::Success;
    let mut unformatted = 0usize;
    for path in &files {
        let name = display_name(path);
        let text = match std::fs::read(path) {
            Ok(b) => match String::from_utf8(b) {
                Ok(t) => t,
                Err(_) => {
                    print_stderr(&format!(
                        "error: `{name}` is not valid UTF-8; run `mxrules check` for where\n"
                    ));
                    exit = Exit::Failure;
                    continue;
                }
            },
            Err(e) => return fail(format!("cannot read `{name}`: {e}")),
        };
        let Some(out) = format_one(&name, &text, color) else {
            exit = Exit::Failure;
            continue;
        };
        if out == text {
            continue;
        }
        if args.check {
            unformatted += 1;
            print_stderr(&format!("{name} is not formatted\n"));
            exit = Exit::Failure;
        } else if let Err(e) = mxrules::core::fs::write_atomically(path, out.as_bytes()) {
            return fail(format!("cannot write `{name}`: {e}"));
        }
    }
    if args.check && unformatted > 0 {
        print_stderr(&format!(
            "{unformatted} of {} files would be reformatted; run `mxrules fmt`\n",
            files.len()
        ));
    }
    exit
}

/// Formats one file's text, printing the syntax error if it does not parse.
fn format_one(name: &str, text: &str, color: Color) -> Option<String> {
    match mxrules::syntax::fmt::format_source(FileId(0), text) {
        Ok(s) => Some(s),
        Err(d) => {
            let mut sources = SourceMap::new();
            sources.add(name, text);
            print_stderr(&diag::render_human(&[*d], &sources, color.for_stderr()));
            None
        }
    }
}
