//! `mxrules test`: classify corpora and compare with their expectations;
//! `--bless` to accept the new outcomes, `--coverage` for the rules no case
//! exercises. The work is [`mxrules::verify::TestRun`].

use std::path::PathBuf;

use clap::ValueEnum;
use mxrules::core::source::display_name;
use mxrules::runtime::engine::Engine;
use mxrules::verify::{self, TestOptions, TestRun};

use super::rules::RulesArgs;
use super::{Color, Exit, fail, print_stderr, print_stdout};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    rules: RulesArgs,
    /// Rewrite the expectations of the cases that fail to what the rules give
    /// now, in place (comments and order are kept).
    #[arg(long)]
    bless: bool,
    /// List the rules that decide no case, per file, and the share covered.
    #[arg(long)]
    coverage: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Corpus files (YAML), or directories searched for `*.yaml` files.
    #[arg(required = true, value_name = "CORPUS")]
    corpus: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// A readable report: every mismatch as a diff.
    Human,
    /// One JSON document.
    Json,
}

pub fn run(args: Args, color: Color) -> Exit {
    let paths = match verify::corpus_paths(&args.corpus, &["yaml", "yml"]) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let loaded = match args.rules.load(color) {
        Ok(l) => l,
        Err(e) => return e,
    };
    // Blessed rule names are relative to the rules directory.
    let root = match args.rules.rules.as_slice() {
        [dir] if dir.is_dir() => Some(display_name(dir)),
        _ => None,
    };
    let name = args
        .rules
        .rules
        .first()
        .map(|p| display_name(p))
        .unwrap_or_default();
    let opts = TestOptions {
        bless: args.bless,
        root: root.as_deref(),
    };
    match loaded.with_named(&name, |e| run_with(&args, e, &paths, opts)) {
        Ok(exit) | Err(exit) => exit,
    }
}

fn run_with(args: &Args, engine: &dyn Engine, paths: &[PathBuf], opts: TestOptions<'_>) -> Exit {
    let run = TestRun::run(engine, paths, opts);
    for e in &run.errors {
        print_stderr(&format!("error: {e}\n"));
    }
    let rules = engine.rule_set();
    let coverage = args.coverage.then(|| run.coverage(rules));
    let out = match args.format {
        Format::Human => run.to_human(rules, coverage.as_ref()),
        Format::Json => run.to_json(rules, coverage),
    };
    if let Err(e) = print_stdout(&out) {
        return fail(format!("cannot write output: {e}"));
    }
    if run.io_errors() > 0 {
        Exit::Usage
    } else if run.problems() > 0 {
        Exit::Failure
    } else {
        Exit::Success
    }
}
