//! `mxrules check`: parse, validate and analyse rules files.

use std::path::PathBuf;

use clap::ValueEnum;
use mxrules::diag::{self, Code, Severity};

use super::{Color, Exit, fail, print_stderr, print_stdout};

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

pub fn run(args: Args, color: Color) -> Exit {
    let mut allowed = Vec::new();
    for a in &args.allow {
        match Code::from_str_or_name(a) {
            Some(c) if c.severity() != Severity::Error => allowed.push(c),
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
    let file_count = parsed.sources.files().count();
    let checked = mxrules::check::check(&parsed);
    let mut diags = checked.diagnostics;
    let mut analysis_stats = None;
    if let Some(rules) = &checked.rules {
        // Rules too big for a DFA are found by compiling; the compiled
        // classifier then serves the analysis of examples.
        let classifier =
            match mxrules::compile::compile(rules.clone(), &mxrules::compile::Options::default()) {
                Ok((tables, _)) => {
                    Some(mxrules::runtime::classify::Classifier::from_tables(tables))
                }
                Err(errors) => {
                    diags.extend(errors);
                    None
                }
            };
        if !args.no_analysis {
            let opts = mxrules::check::analysis::Options {
                explain_overrides: args.explain_overrides,
                ..Default::default()
            };
            let report = mxrules::check::analysis::analyse_with(rules, &opts, classifier.as_ref());
            diags.extend(report.diagnostics);
            analysis_stats = Some(report.stats);
        }
        diag::sort(&mut diags);
    }
    diags.retain(|d| !allowed.contains(&d.code));
    if args.deny_warnings {
        for d in &mut diags {
            if d.severity == Severity::Warning {
                d.severity = Severity::Error;
            }
        }
    }
    let failed = diags.iter().any(|d| d.severity == Severity::Error);
    match args.format {
        Format::Json => {
            if let Err(e) = print_stdout(&diag::render_json(&diags, &parsed.sources)) {
                return fail(e);
            }
        }
        Format::Human => {
            print_stderr(&diag::render_human(
                &diags,
                &parsed.sources,
                color.for_stderr(),
            ));
            let rules = checked.rules.as_ref().map_or(0, |r| r.rules.len());
            let files = if file_count == 1 { "file" } else { "files" };
            let summary = diag::summary(&diags);
            if let (Some(s), true) = (&analysis_stats, args.stats) {
                print_stderr(&format!(
                    "analysis: {} rules, {} rule pairs compared ({} told apart by their prefixes), {} undecided, {:.1} ms\n",
                    s.rules,
                    s.pairs,
                    s.pairs_skipped_by_prefix,
                    s.undecided,
                    s.elapsed.as_secs_f64() * 1000.0
                ));
            }
            if failed {
                print_stderr(&format!("checked {file_count} {files}: {summary}\n"));
            } else {
                print_stderr(&format!(
                    "checked {file_count} {files}, {rules} {}: {summary}\n",
                    if rules == 1 { "rule" } else { "rules" }
                ));
            }
        }
    }
    if failed { Exit::Failure } else { Exit::Success }
}
