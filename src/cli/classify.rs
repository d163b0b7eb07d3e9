//! `mxrules classify`: verdicts for bounces, streamed.

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;

use clap::ValueEnum;
use mxrules::classify::Classification;
use mxrules::input::{Record, parse_json_line};
use mxrules::status::Verdict;
use serde_json::{Map, Value};

use super::rules::{Engine, RulesArgs};
use super::{Color, Exit, fail, print_stderr};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    rules: RulesArgs,
    /// Input files of JSON lines (`{"mx": …, "rcpt": …, "reply": …}`); `-` or nothing reads standard input.
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    /// Print no summary on standard error.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// One JSON object per bounce: the input's fields, its position and the verdict.
    Jsonl,
    /// CSV with a header line.
    Csv,
}

const CSV_HEADER: &str =
    "file,line,mx,rcpt,status,initial_status,verdict,category,rule,unmatched,reply\n";

#[derive(Default)]
struct Counts {
    records: usize,
    bad: usize,
    unmatched: usize,
    verdicts: [usize; 4],
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
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut counts = Counts::default();
    if let Format::Csv = args.format
        && let Err(e) = out.write_all(CSV_HEADER.as_bytes())
    {
        return write_error(e);
    }
    let files = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    for path in &files {
        let name = if path.as_os_str() == "-" {
            String::from("<stdin>")
        } else {
            mxrules::source::display_name(path)
        };
        let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            match std::fs::File::open(path) {
                Ok(f) => Box::new(std::io::BufReader::with_capacity(1 << 16, f)),
                Err(e) => return fail(format!("cannot read `{name}`: {e}")),
            }
        };
        if let Err(e) = classify_stream(
            reader,
            &name,
            classifier,
            args.format,
            &mut out,
            &mut counts,
        ) {
            return write_error(e);
        }
    }
    if let Err(e) = out.flush() {
        return write_error(e);
    }
    if !args.quiet {
        let v = &counts.verdicts;
        print_stderr(&format!(
            "classified {} bounces: {} quarantine, {} blocked, {} hard, {} soft; {} unmatched; {} bad records\n",
            counts.records - counts.bad,
            v[0],
            v[1],
            v[2],
            v[3],
            counts.unmatched,
            counts.bad
        ));
    }
    if counts.bad > 0 {
        Exit::Failure
    } else {
        Exit::Success
    }
}

/// A closed pipe ends the run quietly; any other write error is a failure.
fn write_error(e: std::io::Error) -> Exit {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Exit::Success
    } else {
        fail(format!("cannot write output: {e}"))
    }
}

fn classify_stream(
    mut reader: Box<dyn BufRead>,
    name: &str,
    classifier: &dyn Engine,
    format: Format,
    out: &mut impl Write,
    counts: &mut Counts,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let Ok(line) = std::str::from_utf8(&buf) else {
            counts.records += 1;
            counts.bad += 1;
            print_stderr(&format!(
                "error: {name}:{line_no}: line is not valid UTF-8\n"
            ));
            continue;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        counts.records += 1;
        let rec = match parse_json_line(line) {
            Ok(r) => r,
            Err(e) => {
                counts.bad += 1;
                print_stderr(&format!("error: {name}:{line_no}: {e}\n"));
                continue;
            }
        };
        let c = classifier.classify(&rec.bounce);
        if c.unmatched {
            counts.unmatched += 1;
        }
        counts.verdicts[verdict_index(c.verdict)] += 1;
        match format {
            Format::Jsonl => write_json(out, name, line_no, rec, &c)?,
            Format::Csv => write_csv(out, name, line_no, &rec, &c)?,
        }
    }
    Ok(())
}

fn verdict_index(v: Verdict) -> usize {
    match v {
        Verdict::Quarantine => 0,
        Verdict::Blocked => 1,
        Verdict::Hard => 2,
        Verdict::Soft => 3,
    }
}

fn write_json(
    out: &mut impl Write,
    name: &str,
    line: usize,
    rec: Record,
    c: &Classification,
) -> std::io::Result<()> {
    let mut m = Map::new();
    let mut pos = Map::new();
    pos.insert("file".into(), Value::from(name));
    pos.insert("line".into(), Value::from(line));
    m.insert("input".into(), Value::Object(pos));
    if let Some(mx) = rec.bounce.mx {
        m.insert("mx".into(), Value::from(mx));
    }
    if let Some(rcpt) = rec.bounce.rcpt {
        m.insert("rcpt".into(), Value::from(rcpt));
    }
    m.insert("reply".into(), Value::from(rec.bounce.reply));
    for (k, v) in rec.extra {
        m.entry(k).or_insert(v);
    }
    if let Ok(Value::Object(cm)) = serde_json::to_value(c) {
        for (k, v) in cm {
            m.insert(k, v);
        }
    }
    serde_json::to_writer(&mut *out, &Value::Object(m))?;
    out.write_all(b"\n")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_csv(
    out: &mut impl Write,
    name: &str,
    line: usize,
    rec: &Record,
    c: &Classification,
) -> std::io::Result<()> {
    let opt = |s: Option<String>| s.unwrap_or_default();
    let fields = [
        csv_field(name),
        line.to_string(),
        csv_field(rec.bounce.mx.as_deref().unwrap_or("")),
        csv_field(rec.bounce.rcpt.as_deref().unwrap_or("")),
        opt(c.status.map(|s| s.to_string())),
        opt(c.initial_status.map(|s| s.to_string())),
        c.verdict.to_string(),
        opt(c.category.map(|s| s.to_string())),
        csv_field(c.rule.as_deref().unwrap_or("")),
        c.unmatched.to_string(),
        csv_field(&rec.bounce.reply),
    ];
    out.write_all(fields.join(",").as_bytes())?;
    out.write_all(b"\n")
}
