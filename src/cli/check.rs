//! `mxrules check`: the arguments of [`mxrules::check::check_all`], its
//! diagnostics printed, and the exit code.

use std::path::PathBuf;

use clap::ValueEnum;
use mxrules::check::{self, analysis};
use mxrules::diag::{self, Code, Severity};

use super::{Color, Exit, fail, print_stderr, print_stdout};

/// The arguments of `mxrules check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rules files or directories (searched for `*.rules`).
    #[arg(default_values_os_t = super::default_rules())]
    paths: Vec<PathBuf>,
    /// Output format of the diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Treat warnings as errors (exit 1 when there is any).
    #[arg(long, short = 'D')]
    deny_warnings: bool,
    /// Also list rules that override a global rule with another verdict (I001).
    #[arg(long)]
    explain_overrides: bool,
    /// Skip the analysis of shadowed, conflicting, duplicate and dead rules.
    #[arg(long)]
    no_analysis: bool,
    /// Print how long the analysis took and how many pairs it compared.
    #[arg(long)]
    stats: bool,
    /// Do not report this warning (code like `W002` or name like `empty_block`); repeatable.
    #[arg(long, short = 'A', value_name = "WARNING")]
    allow: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// rustc-style diagnostics on standard error.
    Human,
    /// One JSON object per diagnostic on standard output.
    Json,
}

/// Runs `mxrules check`: the library's whole check, printed.
pub fn run(args: Args, color: Color) -> Exit {
    let mut allow = Vec::new();
    for a in &args.allow {
        match Code::from_str_or_name(a) {
            Some(c) if c.severity() != Severity::Error => allow.push(c),
            Some(c) => {
                return fail(format!(
                    "`{a}` is an error ({}), it cannot be allowed",
                    c.as_str()
                ));
            }
            None => return fail(format!("`{a}` is not a warning code or name")),
        }
    }
    let parsed = match mxrules::syntax::load::parse_paths(&args.paths) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let opts = check::Options {
        analysis: (!args.no_analysis).then(|| analysis::Options {
            explain_overrides: args.explain_overrides,
            ..Default::default()
        }),
        allow,
        deny_warnings: args.deny_warnings,
        ..Default::default()
    };
    let checked = check::check_all(&parsed, &opts);
    let diags = &checked.diagnostics;
    let failed = checked.has_errors();
    match args.format {
        Format::Json => {
            if let Err(e) = print_stdout(&diag::render_json(diags, &parsed.sources)) {
                return fail(e);
            }
        }
        Format::Human => {
            print_stderr(&diag::render_human(
                diags,
                &parsed.sources,
                color.for_stderr(),
            ));
            if let (Some(s), true) = (&checked.analysis, args.stats) {
                print_stderr(&format!("analysis: {}\n", s.summary()));
            }
            let file_count = parsed.sources.files().count();
            let files = if file_count == 1 { "file" } else { "files" };
            let summary = diag::summary(diags);
            if failed {
                print_stderr(&format!("checked {file_count} {files}: {summary}\n"));
            } else {
                let rules = checked.rules.as_ref().map_or(0, |r| r.rules.len());
                print_stderr(&format!(
                    "checked {file_count} {files}, {rules} {}: {summary}\n",
                    if rules == 1 { "rule" } else { "rules" }
                ));
            }
        }
    }
    if failed { Exit::Failure } else { Exit::Success }
}
