//! `mxrules diff`: what a change of rules does to a corpus of replies.
//!
//! OLD and NEW are rules directories or files, compiled files, or git
//! revisions of the repository the command runs in (`HEAD`, `main`,
//! `HEAD~1`), whose `rules.d/` is read (`REV:DIR` reads another directory).
//! The work is [`mxrules::verify::diff`].

use std::path::PathBuf;

use clap::ValueEnum;
use mxrules::verify::{self, FailOn, Labels, RuleSource};

use super::rules::{DfaLimit, Loaded, RulesArgs};
use super::{Color, Exit, fail, print_stderr, print_stdout};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The rules before: a rules directory or file, a compiled file, or a git
    /// revision (`HEAD`, `main`, `HEAD~1`; `REV:DIR` for another directory
    /// than `rules.d`).
    #[arg(value_name = "OLD")]
    old: String,
    /// The rules after, in the same forms.
    #[arg(value_name = "NEW")]
    new: String,
    /// Replies to classify: YAML corpora (expectations ignored), JSON lines
    /// (`*.jsonl`), or directories searched for both.
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    corpus: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit with 1 when this holds (may be repeated).
    #[arg(long = "fail-on", value_enum, value_name = "CONDITION")]
    fail_on: Vec<FailOnArg>,
    /// Example replies shown per change (human and Markdown formats).
    #[arg(long, value_name = "N", default_value_t = 3)]
    examples: usize,
    #[command(flatten)]
    limit: DfaLimit,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// A readable report.
    Human,
    /// A pull-request comment.
    Markdown,
    /// One JSON document, every changed reply listed.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOnArg {
    /// Some reply is quarantined by NEW and not by OLD.
    QuarantineIncrease,
    /// Some reply changes verdict.
    VerdictChange,
    /// Some reply changes status or verdict.
    AnyChange,
    /// Some reply matched by OLD is matched by no rule of NEW.
    UnmatchedIncrease,
}

impl FailOnArg {
    fn condition(self) -> FailOn {
        match self {
            FailOnArg::QuarantineIncrease => FailOn::QuarantineIncrease,
            FailOnArg::VerdictChange => FailOn::VerdictChange,
            FailOnArg::AnyChange => FailOn::AnyChange,
            FailOnArg::UnmatchedIncrease => FailOn::UnmatchedIncrease,
        }
    }
}

/// The rules of `source`, compiled, or read from a compiled file.
fn load(source: &RuleSource, limit: DfaLimit, color: Color) -> Result<Loaded, Exit> {
    match source {
        RuleSource::Path(p) => RulesArgs {
            rules: vec![p.clone()],
            limit,
        }
        .load(color),
        RuleSource::Git { rev, commit, dir } => {
            let parsed = verify::parse_at_revision(rev, commit, dir).map_err(fail)?;
            super::rules::compile_parsed(&parsed, Some(rev), &limit.options(), color)
                .map(|(c, _)| Loaded::Compiled(Box::new(c)))
        }
    }
}

/// Both rule sets, resolved, then loaded.
fn load_both(args: &Args, color: Color) -> Result<[(RuleSource, Loaded); 2], Exit> {
    let old = RuleSource::resolve(&args.old).map_err(fail)?;
    let new = RuleSource::resolve(&args.new).map_err(fail)?;
    let old_loaded = load(&old, args.limit, color)?;
    let new_loaded = load(&new, args.limit, color)?;
    Ok([(old, old_loaded), (new, new_loaded)])
}

pub fn run(args: Args, color: Color) -> Exit {
    let paths = match verify::corpus_paths(&args.corpus, &["yaml", "yml", "jsonl"]) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let [(old, old_loaded), (new, new_loaded)] = match load_both(&args, color) {
        Ok(l) => l,
        Err(e) => return e,
    };
    let (replies, errors) = verify::read_replies(&paths);
    for e in &errors {
        print_stderr(&format!("error: {e}\n"));
    }
    let result = old_loaded.with_named(&args.old, |o| {
        new_loaded.with_named(&args.new, |n| verify::diff(o, n, &replies))
    });
    let d = match result {
        Ok(Ok(d)) => d,
        Ok(Err(e)) | Err(e) => return e,
    };
    let (old_label, new_label) = (old.label(), new.label());
    let labels = Labels {
        old: &old_label,
        new: &new_label,
    };
    let fail_on: Vec<FailOn> = args.fail_on.iter().map(|f| f.condition()).collect();
    let failing: Vec<FailOn> = fail_on.iter().copied().filter(|&f| d.fails(f)).collect();
    let out = match args.format {
        Format::Human => d.to_human(labels, args.examples),
        Format::Markdown => d.to_markdown(labels, args.examples),
        Format::Json => d.to_json(labels, &fail_on, &failing),
    };
    if let Err(e) = print_stdout(&out) {
        return fail(format!("cannot write output: {e}"));
    }
    for &f in &failing {
        print_stderr(&format!(
            "error: `--fail-on {}` holds: {}\n",
            f.name(),
            d.failure(f)
        ));
    }
    if errors.iter().any(|e| e.is_unreadable()) {
        Exit::Usage
    } else if !errors.is_empty() || !failing.is_empty() {
        Exit::Failure
    } else {
        Exit::Success
    }
}
