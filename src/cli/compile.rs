//! `mxrules compile`: rules to classification tables, written as a
//! compiled file.

use clap::ValueEnum;

use super::rules::RulesArgs;
use super::{Color, Exit, fail, print_stdout};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rules files or directories (the same as `--rules`).
    #[arg(value_name = "PATH")]
    paths: Vec<std::path::PathBuf>,
    #[command(flatten)]
    rules: RulesArgs,
    /// Write the compiled file here (atomically: a temporary file, then a rename).
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    /// Print how the rules were compiled: how many are found by literals, by
    /// literal pieces or by a DFA, the sizes of the DFAs and of the literal
    /// automaton, and the time taken.
    #[arg(long)]
    stats: bool,
    /// Format of the statistics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

pub fn run(mut args: Args, color: Color) -> Exit {
    if !args.paths.is_empty() {
        args.rules.rules = std::mem::take(&mut args.paths);
    }
    let (classifier, stats) = match args.rules.classifier(color) {
        Ok(c) => c,
        Err(e) => return e,
    };
    if let Some(path) = &args.output
        && let Err(e) = mxrules::runtime::artifact::write(path, classifier.tables())
    {
        return fail(format!(
            "cannot write `{}`: {e}",
            mxrules::core::source::display_name(path)
        ));
    }
    if !args.stats {
        return Exit::Success;
    }
    let out = match args.format {
        Format::Json => match serde_json::to_string_pretty(&stats) {
            Ok(s) => s + "\n",
            Err(e) => return fail(e),
        },
        Format::Human => stats.summary() + "\n",
    };
    match print_stdout(&out) {
        Ok(()) => Exit::Success,
        Err(e) => fail(e),
    }
}
