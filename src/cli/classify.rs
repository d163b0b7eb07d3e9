//! `mxrules classify`: verdicts for bounces, streamed.
//!
//! The main thread reads the inputs ([`mxrules::input`]) and cuts the
//! records into batches; worker threads classify the batches; one writer
//! thread puts them back in input order and writes them, with the errors
//! for bad records, the progress bar and the counts. At most two batches
//! per worker (and two more) exist at once, so memory does not grow with
//! the input (the quarantine list, one entry per distinct address, aside).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Duration;

use clap::ValueEnum;
use mxrules::classify::Classification;
use mxrules::input::{self, InputFormat, InputRecord, Item};
use mxrules::status::Verdict;
use serde_json::{Map, Value};

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

fn parse_input_format(s: &str) -> Result<InputFormat, String> {
    s.parse()
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// One JSON object per bounce: the input's fields, its position and the verdict.
    Jsonl,
    /// CSV with a header line.
    Csv,
}

const CSV_HEADER: &str =
    "file,line,mx,rcpt,status,initial_status,verdict,category,rule,unmatched,reply";

/// The columns added to the CSV when the first input is not JSON lines.
const CSV_WIDE: &str = ",time,incoming_category";

/// Records per batch.
const BATCH: usize = 1024;

/// Distinct skip reasons kept apart in the summary.
const MAX_REASONS: usize = 16;

#[derive(Default)]
struct Counts {
    records: usize,
    bad: usize,
    unmatched: usize,
    verdicts: [usize; 4],
    skipped: usize,
    skip_reasons: BTreeMap<String, usize>,
}

/// A quarantined address: its status and deciding rule.
struct Quarantined {
    status: String,
    rule: String,
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

type Batch = (u64, Vec<Item>);
type Done = (u64, Vec<(Item, Option<Classification>)>);

fn run_with(args: &Args, classifier: &dyn Engine) -> Exit {
    let files = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    // The first input is opened now: its format decides the CSV columns.
    let mut open_failed = false;
    let mut first: Option<input::Items> = None;
    let mut wide = false;
    let mut rest = files.iter();
    for path in rest.by_ref() {
        match input::open_detected(path, args.input_format) {
            Ok((format, items)) => {
                wide = format != InputFormat::Jsonl;
                first = Some(items);
                break;
            }
            Err(e) => {
                print_stderr(&format!("error: cannot read `{}`: {e}\n", shown(path)));
                open_failed = true;
            }
        }
    }
    let rest: Vec<PathBuf> = rest.cloned().collect();
    let wide = wide && matches!(args.format, Format::Csv);
    let jobs = args
        .jobs
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
        .max(1);
    let progress = if !args.quiet && std::io::stderr().is_terminal() {
        spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    let writer = Writer {
        format: args.format,
        wide,
        quarantine: args.quarantine_list.is_some(),
        progress: progress.clone(),
    };

    // Batches read but not yet written, at most.
    let in_flight = 2 * jobs + 2;
    let (work_tx, work_rx) = sync_channel::<Batch>(in_flight);
    let work_rx = Mutex::new(work_rx);
    let (outcome, rest_failed) = std::thread::scope(|s| {
        let (done_tx, done_rx) = sync_channel::<Done>(in_flight);
        let (credit_tx, credit_rx) = sync_channel::<()>(in_flight);
        for _ in 0..in_flight {
            let _ = credit_tx.send(());
        }
        let work_rx = &work_rx;
        for _ in 0..jobs {
            let done_tx = done_tx.clone();
            s.spawn(move || classify_batches(work_rx, &done_tx, classifier));
        }
        drop(done_tx);
        let writer = &writer;
        let out = s.spawn(move || writer.run(&done_rx, &credit_tx));
        let open_failed = read_inputs(
            first,
            &rest,
            args.input_format,
            &work_tx,
            &credit_rx,
            &progress,
        );
        drop(work_tx);
        let outcome = out.join();
        (outcome, open_failed)
    });
    let open_failed = open_failed || rest_failed;
    progress.finish_and_clear();
    let (counts, quarantined) = match outcome {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return write_error(e),
        Err(_) => return fail("the output thread stopped unexpectedly"),
    };
    let exit = if open_failed {
        Exit::Usage
    } else if counts.bad > 0 {
        Exit::Failure
    } else {
        Exit::Success
    };
    if let Some(path) = &args.quarantine_list {
        if let Err(e) = write_quarantine_list(path, &quarantined) {
            return fail(format!(
                "cannot write `{}`: {e}",
                mxrules::source::display_name(path)
            ));
        }
        if !args.quiet {
            print_stderr(&format!(
                "wrote {} addresses to quarantine to `{}`\n",
                quarantined.len(),
                mxrules::source::display_name(path)
            ));
        }
    }
    if !args.quiet {
        print_stderr(&summary(&counts));
    }
    exit
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

/// Reads every input in turn (`first` already open) and sends its items in
/// batches. Returns true when an input could not be opened (reported here).
fn read_inputs(
    first: Option<input::Items>,
    files: &[PathBuf],
    format: InputFormat,
    work: &SyncSender<Batch>,
    credits: &Receiver<()>,
    progress: &indicatif::ProgressBar,
) -> bool {
    let mut seq = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    let mut open_failed = false;
    let mut send = |batch: &mut Vec<Item>| -> bool {
        if batch.is_empty() {
            return true;
        }
        if credits.recv().is_err() {
            return false;
        }
        let full = std::mem::replace(batch, Vec::with_capacity(BATCH));
        let ok = work.send((seq, full)).is_ok();
        seq += 1;
        ok
    };
    if let Some(items) = first {
        for item in items {
            batch.push(item);
            if batch.len() >= BATCH && !send(&mut batch) {
                return open_failed;
            }
        }
    }
    for path in files {
        let items = match input::open(path, format) {
            Ok(items) => items,
            Err(e) => {
                // Keep the order of messages: what was read before is written first.
                if !send(&mut batch) {
                    return open_failed;
                }
                let msg = format!("error: cannot read `{}`: {e}\n", shown(path));
                progress.suspend(|| print_stderr(&msg));
                open_failed = true;
                continue;
            }
        };
        for item in items {
            batch.push(item);
            if batch.len() >= BATCH && !send(&mut batch) {
                return open_failed;
            }
        }
    }
    send(&mut batch);
    open_failed
}

fn shown(path: &Path) -> String {
    if path.as_os_str() == "-" {
        String::from("<stdin>")
    } else {
        mxrules::source::display_name(path)
    }
}

fn classify_batches(work: &Mutex<Receiver<Batch>>, done: &SyncSender<Done>, c: &dyn Engine) {
    loop {
        let next = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((seq, items)) = next else { return };
        let out = items
            .into_iter()
            .map(|item| {
                let class = match &item {
                    Item::Record(r) => Some(c.classify(&r.bounce)),
                    _ => None,
                };
                (item, class)
            })
            .collect();
        if done.send((seq, out)).is_err() {
            return;
        }
    }
}

struct Writer {
    format: Format,
    wide: bool,
    quarantine: bool,
    progress: indicatif::ProgressBar,
}

impl Writer {
    /// Writes the classified batches in input order; returns the counts and
    /// the quarantined addresses.
    fn run(
        &self,
        done: &Receiver<Done>,
        credits: &SyncSender<()>,
    ) -> std::io::Result<(Counts, BTreeMap<String, Quarantined>)> {
        let stdout = std::io::stdout();
        let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
        let mut counts = Counts::default();
        let mut quarantined = BTreeMap::new();
        if let Format::Csv = self.format {
            out.write_all(CSV_HEADER.as_bytes())?;
            if self.wide {
                out.write_all(CSV_WIDE.as_bytes())?;
            }
            out.write_all(b"\n")?;
        }
        let mut waiting: HashMap<u64, Vec<(Item, Option<Classification>)>> = HashMap::new();
        let mut next = 0u64;
        for (seq, batch) in done {
            waiting.insert(seq, batch);
            while let Some(batch) = waiting.remove(&next) {
                next += 1;
                let n = batch.len();
                for (item, class) in batch {
                    self.write_item(&mut out, item, class, &mut counts, &mut quarantined)?;
                }
                self.progress.inc(u64::try_from(n).unwrap_or(u64::MAX));
                let _ = credits.send(());
            }
        }
        out.flush()?;
        Ok((counts, quarantined))
    }

    fn write_item(
        &self,
        out: &mut impl Write,
        item: Item,
        class: Option<Classification>,
        counts: &mut Counts,
        quarantined: &mut BTreeMap<String, Quarantined>,
    ) -> std::io::Result<()> {
        match item {
            Item::Record(rec) => {
                let Some(c) = class else { return Ok(()) };
                counts.records += 1;
                if c.unmatched {
                    counts.unmatched += 1;
                }
                counts.verdicts[verdict_index(c.verdict)] += 1;
                if self.quarantine
                    && c.verdict == Verdict::Quarantine
                    && let Some(address) = rec.bounce.rcpt.as_deref().and_then(quarantine_address)
                {
                    quarantined.entry(address).or_insert_with(|| Quarantined {
                        status: c.status.map(|s| s.to_string()).unwrap_or_default(),
                        rule: c.rule.as_deref().unwrap_or("unmatched").to_string(),
                    });
                }
                match self.format {
                    Format::Jsonl => write_json(out, rec, &c),
                    Format::Csv => write_csv(out, &rec, &c, self.wide),
                }
            }
            Item::Bad(bad) => {
                counts.records += 1;
                counts.bad += 1;
                let msg = format!("error: {bad}\n");
                self.progress.suspend(|| print_stderr(&msg));
                Ok(())
            }
            Item::Skipped { reason, .. } => {
                counts.skipped += 1;
                let known = counts.skip_reasons.contains_key(&reason);
                let key = if known || counts.skip_reasons.len() < MAX_REASONS {
                    reason
                } else {
                    String::from("other")
                };
                *counts.skip_reasons.entry(key).or_default() += 1;
                Ok(())
            }
        }
    }
}

/// The summary line(s) on standard error.
fn summary(counts: &Counts) -> String {
    let v = &counts.verdicts;
    let mut s = format!(
        "classified {} bounces: {} quarantine, {} blocked, {} hard, {} soft; {} unmatched; {} bad records",
        counts.records - counts.bad,
        v[0],
        v[1],
        v[2],
        v[3],
        counts.unmatched,
        counts.bad
    );
    if counts.skipped > 0 {
        let mut reasons: Vec<(&String, &usize)> = counts.skip_reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let list: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
        s.push_str(&format!(
            "; {} skipped ({})",
            counts.skipped,
            list.join(", ")
        ));
    }
    s.push('\n');
    s
}

/// The address a recipient is quarantined as: lowercase, without brackets
/// or a type prefix; none when it is no address.
fn quarantine_address(rcpt: &str) -> Option<String> {
    let a = input::clean_address(rcpt).to_lowercase();
    let ok = a.contains('@') && !a.starts_with('@') && !a.ends_with('@');
    (ok && !a.contains(char::is_whitespace)).then_some(a)
}

/// Writes the list next to its final place, then renames it there, so
/// that readers never see half of it.
fn write_quarantine_list(path: &Path, list: &BTreeMap<String, Quarantined>) -> std::io::Result<()> {
    let mut text = String::from("address,status,rule\n");
    for (address, q) in list {
        text.push_str(&format!(
            "{},{},{}\n",
            csv_field(address),
            q.status,
            csv_field(&q.rule)
        ));
    }
    mxrules::fsutil::write_atomically(path, text.as_bytes())
}

/// A closed pipe ends the run quietly; any other write error is a failure.
fn write_error(e: std::io::Error) -> Exit {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Exit::Success
    } else {
        fail(format!("cannot write output: {e}"))
    }
}

fn verdict_index(v: Verdict) -> usize {
    match v {
        Verdict::Quarantine => 0,
        Verdict::Blocked => 1,
        Verdict::Hard => 2,
        Verdict::Soft => 3,
    }
}

fn write_json(out: &mut impl Write, rec: InputRecord, c: &Classification) -> std::io::Result<()> {
    let mut m = Map::new();
    let mut pos = Map::new();
    pos.insert("file".into(), Value::from(rec.position.file));
    pos.insert("line".into(), Value::from(rec.position.line));
    m.insert("input".into(), Value::Object(pos));
    if let Some(mx) = rec.bounce.mx {
        m.insert("mx".into(), Value::from(mx));
    }
    if let Some(rcpt) = rec.bounce.rcpt {
        m.insert("rcpt".into(), Value::from(rcpt));
    }
    m.insert("reply".into(), Value::from(rec.bounce.reply));
    if let Some(t) = rec.time {
        m.insert("time".into(), Value::from(t));
    }
    if let Some(cat) = rec.incoming_category {
        m.insert("incoming_category".into(), Value::from(cat));
    }
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
    rec: &InputRecord,
    c: &Classification,
    wide: bool,
) -> std::io::Result<()> {
    let opt = |s: Option<String>| s.unwrap_or_default();
    let mut fields = vec![
        csv_field(&rec.position.file),
        rec.position.line.to_string(),
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
    if wide {
        fields.push(csv_field(rec.time.as_deref().unwrap_or("")));
        fields.push(csv_field(rec.incoming_category.as_deref().unwrap_or("")));
    }
    out.write_all(fields.join(",").as_bytes())?;
    out.write_all(b"\n")
}
