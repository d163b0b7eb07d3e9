//! Subcommands, one file each: arguments, printing and exit codes; the work
//! is done by the library.
//!
//! Every command ends with one of three exit codes ([`Exit`]):
//!
//! - 0: done, nothing wrong.
//! - 1: the command ran and found a problem: rules with errors (or denied
//!   warnings, or that do not compile), bad input records, corpus cases that
//!   do not hold or corpus files that are not corpora, unformatted files
//!   under `fmt --check`, a `diff --fail-on` gate that holds.
//! - 2: the command could not run: bad usage, a path that cannot be read or
//!   written, a damaged compiled file, a git revision that cannot be read.

mod check;
mod classify;
mod compile;
mod diff;
mod explain;
mod fmt;
mod report;
mod rules;
mod test;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// How a run ended, as the exit code CI acts on (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done, nothing wrong.
    Success = 0,
    /// 1: the rules or the data have problems, or a gate holds.
    Failure = 1,
    /// 2: the command could not run.
    Usage = 2,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// mxrules: per-ISP quarantine rules for bounces, checked, compiled and verified.
#[derive(Debug, Parser)]
#[command(name = "mxrules", version, about, long_about = None)]
struct Cli {
    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Color {
    /// Colour when writing to a terminal and `NO_COLOR` is not set.
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether to colour output going to standard error.
    pub fn for_stderr(self) -> bool {
        use std::io::IsTerminal;
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
            }
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse, validate and analyse rules files; print diagnostics.
    Check(check::Args),
    /// Rewrite rules files in the canonical layout.
    Fmt(fmt::Args),
    /// Compile rules into classification tables; `-o` writes the compiled file.
    Compile(compile::Args),
    /// Classify bounces: a verdict for every record.
    Classify(classify::Args),
    /// Show how one reply is classified: scopes tried, rules that match.
    Explain(explain::Args),
    /// Classify corpora and compare with their expectations; `--bless` to accept.
    Test(test::Args),
    /// Compare two rule sets (paths or git revisions) over corpora of replies.
    Diff(diff::Args),
    /// Report bounces by domain and status over time, and cluster the replies no rule matched.
    Report(report::Args),
}

/// The default rules directory.
pub fn default_rules() -> Vec<PathBuf> {
    vec![PathBuf::from("rules.d")]
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            };
            let _ = e.print();
            return code.into();
        }
    };
    let exit = match cli.command {
        Command::Check(a) => check::run(a, cli.color),
        Command::Fmt(a) => fmt::run(a, cli.color),
        Command::Compile(a) => compile::run(a, cli.color),
        Command::Classify(a) => classify::run(a, cli.color),
        Command::Explain(a) => explain::run(a, cli.color),
        Command::Test(a) => test::run(a, cli.color),
        Command::Diff(a) => diff::run(a, cli.color),
        Command::Report(a) => report::run(a, cli.color),
    };
    exit.into()
}

/// Writes to standard output; a closed pipe (`mxrules ... | head`) is not an
/// error.
pub fn print_stdout(s: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// Writes to standard error, ignoring failures (there is nowhere else to say them).
pub fn print_stderr(s: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(s.as_bytes());
    let _ = err.flush();
}

/// Reports a failure to run: `error: ...` on standard error; exit 2.
pub fn fail(msg: impl std::fmt::Display) -> Exit {
    print_stderr(&format!("error: {msg}\n"));
    Exit::Usage
}

/// Reports rules that cannot be used (errors, or too big to compile):
/// `error: ...` on standard error; exit 1.
pub fn rules_failed(msg: impl std::fmt::Display) -> Exit {
    print_stderr(&format!("error: {msg}\n"));
    Exit::Failure
}
