//! `mxrules classify`: verdicts for bounces, streamed.
//!
//! The arguments become [`pipeline::Options`]; [`pipeline::run`] reads,
//! classifies and writes on several threads. This file prints its problems
//! and progress on standard error, the summary at the end, and maps how
//! the run ended to the exit code.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use mxrules::input::InputFormat;
use mxrules::output;
use mxrules::pipeline::{self, Events, Input, Problem};

use super::rules::{Engine, RulesArgs};
use super::{Color, Exit, fail, print_stderr};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    rules: RulesArgs,
    /// Inputs: files, Maildir folders, or `-` (the default) for standard input.
    files: Vec<PathBuf>,
    /// The format of the inputs: `auto` tells it from each input's content.
    #[arg(long, value_name = "FORMAT", default_value = "auto", value_parser = parse_input_format)]
    input_format: InputFormat,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    /// Write the addresses to quarantine to FILE (CSV: address, status, rule).
    #[arg(long, value_name = "FILE")]
    quarantine_list: Option<PathBuf>,
    /// Threads that classify (default: one per core).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Print no summary and no progress on standard error.
    #[arg(long, short)]
    quiet: bool,
}

fn parse_input_format(s: &str) -> Result<InputFormat, mxrules::input::UnknownFormat> {
    s.parse()
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// One JSON object per bounce: the input's fields, its position and the verdict.
    Jsonl,
    /// CSV with a header line.
    Csv,
}

pub fn run(args: Args, color: Color) -> Exit {
    let loaded = match args.rules.load(color) {
        Ok(c) => c,
        Err(e) => return e,
    };
    match loaded.with(|c| run_with(&args, c)) {
        Ok(exit) | Err(exit) => exit,
    }
}

fn run_with(args: &Args, classifier: &dyn Engine) -> Exit {
    let inputs: Vec<Input> = if args.files.is_empty() {
        vec![Input::Path(PathBuf::from("-"))]
    } else {
        args.files.iter().cloned().map(Input::Path).collect()
    };
    let options = pipeline::Options {
        input_format: args.input_format,
        format: match args.format {
            Format::Jsonl => output::Format::Jsonl,
            Format::Csv => output::Format::Csv,
        },
        wide: None,
        threads: args.jobs,
        quarantine_list: args.quarantine_list.clone(),
    };
    let progress = if !args.quiet && std::io::stderr().is_terminal() {
        spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut events = Stderr {
        progress: progress.clone(),
        text: String::new(),
    };
    let result = pipeline::run(classifier, inputs, &options, std::io::stdout(), &mut events);
    progress.finish_and_clear();
    let summary = match result {
        Ok(summary) => summary,
        // A closed pipe ends the run quietly.
        Err(e) if e.is_broken_pipe() => return Exit::Success,
        Err(e) => return fail(e),
    };
    if !args.quiet {
        if let Some(path) = &args.quarantine_list {
            print_stderr(&format!(
                "wrote {} addresses to quarantine to `{}`\n",
                summary.quarantined,
                mxrules::core::source::display_name(path)
            ));
        }
        print_stderr(&format!("{}\n", summary.counts));
    }
    if summary.unreadable > 0 {
        Exit::Usage
    } else if summary.counts.bad > 0 {
        Exit::Failure
    } else {
        Exit::Success
    }
}

/// Problems and progress on standard error.
struct Stderr {
    progress: indicatif::ProgressBar,
    /// The text of a batch's problems, reused.
    text: String,
}

impl Events for Stderr {
    fn problems(&mut self, problems: &[Problem]) {
        self.text.clear();
        for p in problems {
            let _ = writeln!(self.text, "error: {p}");
        }
        self.progress.suspend(|| print_stderr(&self.text));
    }

    fn progress(&mut self, records: u64) {
        self.progress.inc(records);
    }
}

fn spinner() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {human_pos} records, {rate}, {elapsed}")
    {
        bar.set_style(style.with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} records/s", state.per_sec());
            },
        ));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
