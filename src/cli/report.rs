//! `mxrules report`: bounces by domain × status over time, and unmatched
//! replies clustered into templates with suggested rules.

use std::path::PathBuf;

use clap::ValueEnum;
use mxrules::core::text::counted;
use mxrules::input::{self, InputFormat, Item};
use mxrules::report::ReportRecord;
use mxrules::report::cluster::Clusterer;
use mxrules::report::table::{Period, Tally};
use mxrules::runtime::engine::Engine;

use super::rules::RulesArgs;
use super::{Color, Exit, fail, print_stderr, print_stdout};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    rules: RulesArgs,
    /// Inputs: files, Maildir folders, or `-` (the default) for standard input.
    files: Vec<PathBuf>,
    /// The format of the inputs: `auto` tells it from each input's content.
    #[arg(long, value_name = "FORMAT", default_value = "auto", value_parser = parse_input_format)]
    input_format: InputFormat,
    /// Count bounces per day or per hour, of the times as the inputs write them.
    #[arg(long, value_enum, default_value_t = By::Day)]
    by: By,
    /// Show this many recipient domains, the biggest; the others are counted as `other`.
    #[arg(long, value_name = "N", default_value_t = 10)]
    top: usize,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write the report as a self-contained HTML page with a chart.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Print the unmatched replies clustered into templates, each with a
    /// suggested rule, instead of the domain × status report (the HTML page
    /// gets both).
    #[arg(long)]
    clusters: bool,
    /// Show at most this many clusters, the biggest.
    #[arg(long, value_name = "N", default_value_t = 20)]
    max_clusters: usize,
}

fn parse_input_format(s: &str) -> Result<InputFormat, input::UnknownFormat> {
    s.parse()
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum By {
    Day,
    Hour,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// CSV with a header line: `bucket,domain,status,verdict,count` (with
    /// `--clusters`, one line per cluster).
    Csv,
}

pub fn run(args: Args, color: Color) -> Exit {
    let loaded = match args.rules.load(color) {
        Ok(c) => c,
        Err(e) => return e,
    };
    match loaded.with(|engine| run_with(&args, engine)) {
        Ok(exit) | Err(exit) => exit,
    }
}

/// What reading the inputs gave.
#[derive(Default)]
struct Counts {
    records: usize,
    bad: usize,
    skipped: usize,
    unreadable: usize,
}

fn run_with(args: &Args, classifier: &dyn Engine) -> Exit {
    let period = match args.by {
        By::Day => Period::Day,
        By::Hour => Period::Hour,
    };
    let mut tally = Tally::new(period);
    let mut clusterer = Clusterer::new();
    let want_clusters = args.clusters;
    let mut counts = Counts::default();
    let files = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    for path in &files {
        let items = match input::open(path, args.input_format) {
            Ok(items) => items,
            Err(e) => {
                counts.unreadable += 1;
                print_stderr(&format!(
                    "error: cannot read `{}`: {e}\n",
                    mxrules::core::source::display_name(path)
                ));
                continue;
            }
        };
        for item in items {
            match item {
                Item::Record(r) => {
                    counts.records += 1;
                    let record = ReportRecord {
                        classification: classifier.classify(&r.bounce),
                        time: r.time,
                        rcpt_domain: r
                            .bounce
                            .rcpt
                            .as_deref()
                            .and_then(mxrules::core::normalize::rcpt_domain),
                        mx: r.bounce.mx,
                        reply: r.bounce.reply,
                    };
                    tally.add(&record);
                    if want_clusters {
                        clusterer.add(&record);
                    }
                }
                Item::Bad(bad) => {
                    counts.records += 1;
                    counts.bad += 1;
                    print_stderr(&format!("error: {bad}\n"));
                }
                Item::Skipped { .. } => counts.skipped += 1,
            }
        }
    }
    let report = tally.finish(args.top);
    let clusters =
        want_clusters.then(|| clusterer.finish(Some(classifier.rule_set()), args.max_clusters));
    let out = match (&clusters, args.format) {
        (Some(c), Format::Table) => c.to_text(),
        (Some(c), Format::Csv) => c.to_csv(),
        (None, Format::Table) => report.to_table(),
        (None, Format::Csv) => report.to_csv(),
    };
    if let Some(path) = &args.html {
        let page = mxrules::report::html::page(&report, clusters.as_ref());
        if let Err(e) = std::fs::write(path, page) {
            return fail(format!(
                "cannot write `{}`: {e}",
                mxrules::core::source::display_name(path)
            ));
        }
    }
    if let Err(e) = print_stdout(&out) {
        return fail(format!("cannot write output: {e}"));
    }
    if counts.skipped > 0 {
        print_stderr(&format!(
            "{} not bounces and left out\n",
            counted(counts.skipped, "record was", "records were")
        ));
    }
    if counts.bad > 0 {
        print_stderr(&format!(
            "{} of {} records could not be read and were left out\n",
            counts.bad, counts.records
        ));
    }
    if counts.unreadable > 0 {
        Exit::Usage
    } else if counts.bad > 0 {
        Exit::Failure
    } else {
        Exit::Success
    }
}
