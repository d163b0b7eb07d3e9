//! `mxrules classify`: verdicts for bounces, streamed.
//!
//! The main thread reads the inputs ([`mxrules::input`]) in batches: JSON
//! lines and PowerMTA files as pieces of whole lines, the other formats as
//! records. Worker threads read the lines of a batch, classify its records
//! and write their output (and the errors of its bad records) into one
//! buffer; one writer thread puts the buffers back in input order and
//! writes them, with the progress bar and the counts. At most two batches
//! per worker (and two more) exist at once, and their buffers are reused,
//! so memory does not grow with the input (the quarantine list, one entry
//! per distinct address, aside).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Duration;

use clap::ValueEnum;
use mxrules::core::bounce::BounceRef;
use mxrules::core::status::{Status, Verdict};
use mxrules::input::{self, Batch, Extra, InputFormat, Item, LineItem, Text, View};
use mxrules::runtime::classify::{ClassificationRef, Normalizer};

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

fn parse_input_format(s: &str) -> Result<InputFormat, input::UnknownFormat> {
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

impl Counts {
    /// Adds the counts of the next batch.
    fn add(&mut self, t: &Tally) {
        self.records += t.records;
        self.bad += t.bad;
        self.unmatched += t.unmatched;
        for (sum, n) in self.verdicts.iter_mut().zip(t.verdicts) {
            *sum += n;
        }
        self.skipped += t.skipped;
        // The reasons in the order they were first seen, so that the first
        // distinct ones are kept apart whatever the batches.
        for (reason, n) in &t.skip_reasons {
            let known = self.skip_reasons.contains_key(reason);
            let key = if known || self.skip_reasons.len() < MAX_REASONS {
                reason.clone()
            } else {
                String::from("other")
            };
            *self.skip_reasons.entry(key).or_default() += n;
        }
    }
}

/// The counts of one batch.
#[derive(Default)]
struct Tally {
    /// Records read: classified and bad ones.
    records: usize,
    bad: usize,
    unmatched: usize,
    verdicts: [usize; 4],
    skipped: usize,
    /// Skip reasons in the order first seen, with their counts.
    skip_reasons: Vec<(String, usize)>,
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

/// A batch to classify, or an error to report in its place among them,
/// numbered in input order.
type Work = (u64, Result<Batch, String>);

/// A classified batch: its output, the errors of its bad records, its
/// counts and quarantined addresses.
struct Done {
    seq: u64,
    out: Vec<u8>,
    errors: String,
    tally: Tally,
    quarantined: Vec<(String, Quarantined)>,
}

/// Buffers handed back for reuse.
struct Pool(Mutex<Vec<Vec<u8>>>);

impl Pool {
    fn new() -> Pool {
        Pool(Mutex::new(Vec::new()))
    }

    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_default()
    }

    fn put(&self, mut buf: Vec<u8>) {
        buf.clear();
        if let Ok(mut v) = self.0.lock() {
            v.push(buf);
        }
    }
}

/// What the threads share.
struct Shared<'a> {
    engine: &'a dyn Engine,
    format: Format,
    wide: bool,
    quarantine: bool,
    /// Input buffers (pieces of lines) and output buffers.
    inputs: Pool,
    outputs: Pool,
}

fn run_with(args: &Args, classifier: &dyn Engine) -> Exit {
    let files = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    // The first input is opened now: its format decides the CSV columns.
    let mut open_failed = false;
    let mut first: Option<input::Batches> = None;
    let mut wide = false;
    let mut rest = files.iter();
    for path in rest.by_ref() {
        match input::open(path, args.input_format).map(|i| (i.format(), i.batches())) {
            Ok((format, batches)) => {
                wide = format != InputFormat::Jsonl;
                first = Some(batches);
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
    let shared = Shared {
        engine: classifier,
        format: args.format,
        wide,
        quarantine: args.quarantine_list.is_some(),
        inputs: Pool::new(),
        outputs: Pool::new(),
    };

    // Batches read but not yet written, at most.
    let in_flight = 2 * jobs + 2;
    let (work_tx, work_rx) = sync_channel::<Work>(in_flight);
    let work_rx = Mutex::new(work_rx);
    let (outcome, rest_failed) = std::thread::scope(|s| {
        let (done_tx, done_rx) = sync_channel::<Done>(in_flight);
        let (credit_tx, credit_rx) = sync_channel::<()>(in_flight);
        for _ in 0..in_flight {
            let _ = credit_tx.send(());
        }
        let work_rx = &work_rx;
        let shared = &shared;
        for _ in 0..jobs {
            let done_tx = done_tx.clone();
            s.spawn(move || classify_batches(work_rx, &done_tx, shared));
        }
        drop(done_tx);
        let progress_out = progress.clone();
        let out = s.spawn(move || write_batches(&done_rx, &credit_tx, shared, &progress_out));
        let open_failed = read_inputs(
            first,
            &rest,
            args.input_format,
            &work_tx,
            &credit_rx,
            &shared.inputs,
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
                mxrules::core::source::display_name(path)
            ));
        }
        if !args.quiet {
            print_stderr(&format!(
                "wrote {} addresses to quarantine to `{}`\n",
                quarantined.len(),
                mxrules::core::source::display_name(path)
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

/// Reads every input in turn (`first` already open) and sends its batches.
/// Returns true when an input could not be opened (reported in its place
/// among the batches).
fn read_inputs(
    first: Option<input::Batches>,
    files: &[PathBuf],
    format: InputFormat,
    work: &SyncSender<Work>,
    credits: &Receiver<()>,
    buffers: &Pool,
) -> bool {
    let mut sender = Sender {
        work,
        credits,
        seq: 0,
        credit: false,
    };
    let mut open_failed = false;
    if let Some(batches) = first
        && !sender.send_all(batches, buffers)
    {
        return open_failed;
    }
    for path in files {
        let sent = match input::open(path, format).map(input::Input::batches) {
            Ok(batches) => sender.send_all(batches, buffers),
            Err(e) => {
                open_failed = true;
                sender.send(Err(format!("error: cannot read `{}`: {e}\n", shown(path))))
            }
        };
        if !sent {
            return open_failed;
        }
    }
    open_failed
}

/// Sends work in input order, each piece with a credit (a batch the
/// writer is done with), so that the batches in flight are bounded.
struct Sender<'a> {
    work: &'a SyncSender<Work>,
    credits: &'a Receiver<()>,
    seq: u64,
    /// A credit received and not used yet (the input it was for had ended).
    credit: bool,
}

impl Sender<'_> {
    fn take_credit(&mut self) -> bool {
        if !self.credit {
            if self.credits.recv().is_err() {
                return false;
            }
            self.credit = true;
        }
        true
    }

    /// False when the threads are gone.
    fn send(&mut self, job: Result<Batch, String>) -> bool {
        if !self.take_credit() {
            return false;
        }
        self.credit = false;
        let sent = self.work.send((self.seq, job)).is_ok();
        self.seq += 1;
        sent
    }

    /// Sends the batches of one input; false when the threads are gone.
    fn send_all(&mut self, mut batches: input::Batches, buffers: &Pool) -> bool {
        loop {
            if !self.take_credit() {
                return false;
            }
            let Some(batch) = batches.next_batch(buffers.take()) else {
                return true;
            };
            if !self.send(Ok(batch)) {
                return false;
            }
        }
    }
}

fn shown(path: &Path) -> String {
    if path.as_os_str() == "-" {
        String::from("<stdin>")
    } else {
        mxrules::core::source::display_name(path)
    }
}

fn classify_batches(work: &Mutex<Receiver<Work>>, done: &SyncSender<Done>, shared: &Shared) {
    let mut sink = Sink::new(shared);
    loop {
        let next = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((seq, batch)) = next else { return };
        sink.out = shared.outputs.take();
        match batch {
            Err(msg) => sink.errors.push_str(&msg),
            Ok(Batch::Items(items)) => {
                for item in items {
                    sink.item(item);
                }
            }
            Ok(Batch::Lines(lines)) => {
                lines.read(|item| match item {
                    LineItem::Record(view) => sink.view(lines.name(), &view),
                    LineItem::Skipped { reason, .. } => sink.skipped(reason),
                    LineItem::Item(item) => sink.item(item),
                });
                shared.inputs.put(lines.into_buffer());
            }
        }
        if done.send(sink.finish(seq)).is_err() {
            return;
        }
    }
}

/// Classifies the records of a batch and writes them; one per worker.
struct Sink<'a> {
    shared: &'a Shared<'a>,
    out: Vec<u8>,
    errors: String,
    tally: Tally,
    quarantined: Vec<(String, Quarantined)>,
    /// Buffers bounces are normalized in, reused.
    normalizer: Normalizer,
    reason: String,
    escaped: Escaped,
}

impl<'a> Sink<'a> {
    fn new(shared: &'a Shared<'a>) -> Sink<'a> {
        Sink {
            shared,
            out: Vec::new(),
            errors: String::new(),
            tally: Tally::default(),
            quarantined: Vec::new(),
            normalizer: Normalizer::new(),
            reason: String::new(),
            escaped: Escaped::new(),
        }
    }

    fn finish(&mut self, seq: u64) -> Done {
        Done {
            seq,
            out: std::mem::take(&mut self.out),
            errors: std::mem::take(&mut self.errors),
            tally: std::mem::take(&mut self.tally),
            quarantined: std::mem::take(&mut self.quarantined),
        }
    }

    fn item(&mut self, item: Item) {
        match item {
            Item::Record(rec) => {
                let engine = self.shared.engine;
                let c = engine.classify_ref(&mut self.normalizer, BounceRef::from(&rec.bounce));
                self.record(&rec.position.file, &rec.view(), &c);
            }
            Item::Bad(bad) => {
                self.tally.records += 1;
                self.tally.bad += 1;
                let _ = writeln!(self.errors, "error: {bad}");
            }
            Item::Skipped { reason, .. } => self.skip_reason(reason),
        }
    }

    fn view(&mut self, file: &str, v: &View<'_>) {
        let bounce = BounceRef {
            mx: v.mx,
            rcpt: v.rcpt,
            reply: v.reply,
            status: v.status,
            reported_category: v.reported_category,
        };
        let engine = self.shared.engine;
        let c = engine.classify_ref(&mut self.normalizer, bounce);
        self.record(file, v, &c);
    }

    fn skipped(&mut self, reason: input::Skip<'_>) {
        let mut text = std::mem::take(&mut self.reason);
        text.clear();
        let _ = write!(text, "{reason}");
        self.tally.skipped += 1;
        match self.tally.skip_reasons.iter_mut().find(|(r, _)| *r == text) {
            Some((_, n)) => *n += 1,
            None => self.tally.skip_reasons.push((text.clone(), 1)),
        }
        self.reason = text;
    }

    fn skip_reason(&mut self, reason: String) {
        self.tally.skipped += 1;
        match self
            .tally
            .skip_reasons
            .iter_mut()
            .find(|(r, _)| *r == reason)
        {
            Some((_, n)) => *n += 1,
            None => self.tally.skip_reasons.push((reason, 1)),
        }
    }

    fn record(&mut self, file: &str, v: &View<'_>, c: &ClassificationRef<'_>) {
        let t = &mut self.tally;
        t.records += 1;
        if c.unmatched {
            t.unmatched += 1;
        }
        t.verdicts[verdict_index(c.verdict)] += 1;
        if self.shared.quarantine
            && c.verdict == Verdict::Quarantine
            && let Some(address) = v.rcpt.and_then(quarantine_address)
        {
            self.quarantined.push((
                address,
                Quarantined {
                    status: c.status.map(|s| s.to_string()).unwrap_or_default(),
                    rule: c.rule.unwrap_or("unmatched").to_string(),
                },
            ));
        }
        match self.shared.format {
            Format::Jsonl => write_json(&mut self.out, &mut self.escaped, file, v, c),
            Format::Csv => write_csv(&mut self.out, file, v, c, self.shared.wide),
        }
    }
}

/// Writes the classified batches in input order; returns the counts and
/// the quarantined addresses.
fn write_batches(
    done: &Receiver<Done>,
    credits: &SyncSender<()>,
    shared: &Shared,
    progress: &indicatif::ProgressBar,
) -> std::io::Result<(Counts, BTreeMap<String, Quarantined>)> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut counts = Counts::default();
    let mut quarantined = BTreeMap::new();
    if let Format::Csv = shared.format {
        out.write_all(CSV_HEADER.as_bytes())?;
        if shared.wide {
            out.write_all(CSV_WIDE.as_bytes())?;
        }
        out.write_all(b"\n")?;
    }
    let mut waiting: HashMap<u64, Done> = HashMap::new();
    let mut next = 0u64;
    for batch in done {
        waiting.insert(batch.seq, batch);
        while let Some(batch) = waiting.remove(&next) {
            next += 1;
            out.write_all(&batch.out)?;
            shared.outputs.put(batch.out);
            if !batch.errors.is_empty() {
                progress.suspend(|| print_stderr(&batch.errors));
            }
            counts.add(&batch.tally);
            for (address, q) in batch.quarantined {
                quarantined.entry(address).or_insert(q);
            }
            let t = &batch.tally;
            progress.inc(u64::try_from(t.records + t.skipped).unwrap_or(u64::MAX));
            let _ = credits.send(());
        }
    }
    out.flush()?;
    Ok((counts, quarantined))
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
    mxrules::core::fs::write_atomically(path, text.as_bytes())
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

/// One output object: the input's fields (those passed through, its
/// position, `mx`, `rcpt`, `reply`, `time`, `incoming_category`) and the
/// classification's (`category`, `initial_status`, `rule`, `scope`,
/// `status`, `unmatched`, `verdict`), with keys in byte order as a
/// `serde_json` map writes them. The classification wins over the record,
/// the record over the fields passed through.
fn write_json(
    out: &mut Vec<u8>,
    shared: &mut Escaped,
    file: &str,
    v: &View<'_>,
    c: &ClassificationRef<'_>,
) {
    // Every member is written after a comma; the first comma becomes the brace.
    let start = out.len();
    let mut extra = Passed {
        fields: v.extra.iter().peekable(),
    };
    // A text member of the record; `flag` says whether the record's reader
    // found it plain (nothing to escape).
    let text = |s, flag: u8| {
        Some(Text {
            text: s,
            plain: v.plain & flag != 0,
        })
    };
    extra.before(out, "category", c.category.is_some());
    if let Some(category) = c.category {
        out.extend_from_slice(b",\"category\":\"");
        out.extend_from_slice(category.as_str().as_bytes());
        out.push(b'"');
    }
    extra.member(
        out,
        "incoming_category",
        v.incoming_category
            .and_then(|t| text(t, View::PLAIN_INCOMING_CATEGORY)),
    );
    extra.before(out, "initial_status", true);
    out.extend_from_slice(b",\"initial_status\":");
    push_status(out, c.initial_status);
    extra.before(out, "input", true);
    out.extend_from_slice(b",\"input\":{\"file\":");
    shared.push_file(out, file);
    out.extend_from_slice(b",\"line\":");
    push_number(out, v.line as u64);
    out.push(b'}');
    extra.member(out, "mx", v.mx.and_then(|t| text(t, View::PLAIN_MX)));
    extra.member(out, "rcpt", v.rcpt.and_then(|t| text(t, View::PLAIN_RCPT)));
    extra.member(out, "reply", text(v.reply, View::PLAIN_REPLY));
    let names = c.rule_index.and_then(|r| shared.get(r, c));
    extra.before(out, "rule", c.rule.is_some());
    if let Some(rule) = c.rule {
        out.extend_from_slice(b",\"rule\":");
        match names {
            Some((rule, _)) => out.extend_from_slice(rule),
            None => push_json_str(out, rule),
        }
    }
    extra.before(out, "scope", c.scope.is_some());
    if let Some(scope) = c.scope {
        out.extend_from_slice(b",\"scope\":");
        match names {
            Some((_, scope)) => out.extend_from_slice(scope),
            None => push_json_str(out, scope),
        }
    }
    extra.before(out, "status", true);
    out.extend_from_slice(b",\"status\":");
    push_status(out, c.status);
    extra.member(out, "time", v.time.and_then(|t| text(t, View::PLAIN_TIME)));
    extra.before(out, "unmatched", c.unmatched);
    if c.unmatched {
        out.extend_from_slice(b",\"unmatched\":true");
    }
    extra.before(out, "verdict", true);
    out.extend_from_slice(b",\"verdict\":\"");
    out.extend_from_slice(c.verdict.as_str().as_bytes());
    out.push(b'"');
    extra.rest(out);
    if let Some(comma) = out.get_mut(start) {
        *comma = b'{';
    }
    out.extend_from_slice(b"}\n");
}

/// The fields passed through, written in order among the others.
struct Passed<'a, I: Iterator<Item = (Text<'a>, Extra<'a>)>> {
    fields: std::iter::Peekable<I>,
}

impl<'a, I: Iterator<Item = (Text<'a>, Extra<'a>)>> Passed<'a, I> {
    /// Writes the fields whose names come before `key`, and the one named
    /// `key` unless `taken` (then it is dropped).
    #[inline]
    fn before(&mut self, out: &mut Vec<u8>, key: &str, taken: bool) {
        while let Some((name, _)) = self.fields.peek() {
            let name_bytes = name.text.as_bytes();
            let order = match (name_bytes.first(), key.as_bytes().first()) {
                (Some(a), Some(b)) if a != b => a.cmp(b),
                _ => name_bytes.cmp(key.as_bytes()),
            };
            match order {
                std::cmp::Ordering::Greater => return,
                std::cmp::Ordering::Equal if taken => {
                    self.fields.next();
                    return;
                }
                _ => {
                    if let Some((name, value)) = self.fields.next() {
                        write_field(out, name, value);
                    }
                }
            }
        }
    }

    /// Writes the fields before `key`, then member `key` when it has a
    /// value.
    fn member(&mut self, out: &mut Vec<u8>, key: &str, value: Option<Text<'_>>) {
        self.before(out, key, value.is_some());
        if let Some(t) = value {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            push_text(out, t);
        }
    }

    /// Writes the fields left.
    fn rest(&mut self, out: &mut Vec<u8>) {
        for (name, value) in self.fields.by_ref() {
            write_field(out, name, value);
        }
    }
}

fn write_field(out: &mut Vec<u8>, name: Text<'_>, value: Extra<'_>) {
    out.push(b',');
    push_text(out, name);
    out.push(b':');
    match value {
        Extra::Str(s) => push_text(out, s),
        Extra::Json(j) => push_json_value(out, j),
    }
}

/// A JSON string; one known to need no escaping is copied as it is.
fn push_text(out: &mut Vec<u8>, t: Text<'_>) {
    if t.plain {
        out.reserve(t.text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(t.text.as_bytes());
        out.push(b'"');
    } else {
        push_json_str(out, t.text);
    }
}

/// A JSON value as `serde_json` writes it.
fn push_json_value(out: &mut Vec<u8>, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => push_json_str(out, s),
        Value::Number(n) if n.is_u64() => push_number(out, n.as_u64().unwrap_or_default()),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Null => out.extend_from_slice(b"null"),
        // Writing to a vector cannot fail.
        other => drop(serde_json::to_writer(&mut *out, other)),
    }
}

/// A status as a JSON string, or null.
fn push_status(out: &mut Vec<u8>, status: Option<Status>) {
    match status {
        // The usual status, one digit a part.
        Some(s) if s.class < 10 && s.subject < 10 && s.detail < 10 => {
            let digit = |n: u16| b'0' + n as u8;
            out.extend_from_slice(&[
                b'"',
                s.class + b'0',
                b'.',
                digit(s.subject),
                b'.',
                digit(s.detail),
                b'"',
            ]);
        }
        Some(s) => {
            let mut text = [0u8; 24];
            text[0] = b'"';
            let n = 1 + status_text(&mut text[1..], s);
            text[n] = b'"';
            out.extend_from_slice(&text[..=n]);
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// Writes `class.subject.detail` (as `Status` displays) at the start of
/// `buf` (at least 23 bytes); returns its length.
fn status_text(buf: &mut [u8], s: Status) -> usize {
    let mut n = number_text(buf, u64::from(s.class));
    buf[n] = b'.';
    n += 1;
    n += number_text(&mut buf[n..], u64::from(s.subject));
    buf[n] = b'.';
    n += 1;
    n + number_text(&mut buf[n..], u64::from(s.detail))
}

/// Writes `n` in decimal at the start of `buf`; returns its length.
fn number_text(buf: &mut [u8], mut n: u64) -> usize {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    if n < 10 {
        buf[0] = b'0' + n as u8;
        return 1;
    }
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        digits[i] = b'0' + n as u8;
    }
    let len = digits.len() - i;
    buf[..len].copy_from_slice(&digits[i..]);
    len
}

fn push_number(out: &mut Vec<u8>, n: u64) {
    let mut text = [0u8; 20];
    let len = number_text(&mut text, n);
    out.extend_from_slice(&text[..len]);
}

/// A JSON string, escaped as `serde_json` escapes it: `"`, `\` and the
/// control characters (`\b`, `\t`, `\n`, `\f`, `\r`, else `\u00XX`).
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut rest = s.as_bytes();
    out.reserve(rest.len() + 2);
    out.push(b'"');
    while let Some(i) = find_escape(rest) {
        out.extend_from_slice(&rest[..i]);
        let b = rest[i];
        rest = &rest[i + 1..];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// The first byte of `bytes` a JSON string escapes: a control character,
/// `"` or `\\`.
fn find_escape(bytes: &[u8]) -> Option<usize> {
    mxrules::core::bytes::find_json_special(bytes)
}

/// The JSON strings of the deciding rules' locations and scope names,
/// escaped once per rule: a table indexed by the rule; and that of the
/// last input file named.
struct Escaped {
    rules: Vec<Option<EscapedNames>>,
    file: String,
    file_json: Vec<u8>,
}

/// A rule's location and scope name as JSON strings.
type EscapedNames = (Box<[u8]>, Box<[u8]>);

impl Escaped {
    fn new() -> Escaped {
        Escaped {
            rules: Vec::new(),
            file: String::new(),
            file_json: b"\"\"".to_vec(),
        }
    }

    /// Appends the JSON string of the input file name `file`.
    fn push_file(&mut self, out: &mut Vec<u8>, file: &str) {
        if file != self.file {
            self.file.clear();
            self.file.push_str(file);
            self.file_json.clear();
            push_json_str(&mut self.file_json, file);
        }
        out.extend_from_slice(&self.file_json);
    }

    /// The JSON strings of the location and scope of `c`'s deciding rule
    /// `r`.
    fn get(&mut self, r: usize, c: &ClassificationRef<'_>) -> Option<(&[u8], &[u8])> {
        if r >= self.rules.len() {
            self.rules.resize(r + 1, None);
        }
        let slot = self.rules.get_mut(r)?;
        let (rule, scope) = slot.get_or_insert_with(|| {
            let json = |s: Option<&str>| {
                let mut out = Vec::new();
                push_json_str(&mut out, s.unwrap_or(""));
                out.into_boxed_slice()
            };
            (json(c.rule), json(c.scope))
        });
        Some((rule, scope))
    }
}

/// Appends a CSV field: quoted (quotes doubled) when it holds a comma, a
/// quote or a line break.
fn push_csv_field(out: &mut Vec<u8>, s: &str) {
    if !s.contains([',', '"', '\n', '\r']) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    out.push(b'"');
    for part in s.split_inclusive('"') {
        out.extend_from_slice(part.as_bytes());
        if part.ends_with('"') {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

fn write_csv(out: &mut Vec<u8>, file: &str, v: &View<'_>, c: &ClassificationRef<'_>, wide: bool) {
    push_csv_field(out, file);
    out.push(b',');
    push_number(out, v.line as u64);
    out.push(b',');
    push_csv_field(out, v.mx.unwrap_or(""));
    out.push(b',');
    push_csv_field(out, v.rcpt.unwrap_or(""));
    out.push(b',');
    for status in [c.status, c.initial_status] {
        if let Some(s) = status {
            let mut text = [0u8; 23];
            let n = status_text(&mut text, s);
            out.extend_from_slice(&text[..n]);
        }
        out.push(b',');
    }
    out.extend_from_slice(c.verdict.as_str().as_bytes());
    out.push(b',');
    if let Some(cat) = c.category {
        out.extend_from_slice(cat.as_str().as_bytes());
    }
    out.push(b',');
    push_csv_field(out, c.rule.unwrap_or(""));
    out.push(b',');
    out.extend_from_slice(if c.unmatched { b"true" } else { b"false" });
    out.push(b',');
    push_csv_field(out, v.reply);
    if wide {
        out.push(b',');
        push_csv_field(out, v.time.unwrap_or(""));
        out.push(b',');
        push_csv_field(out, v.incoming_category.unwrap_or(""));
    }
    out.push(b'\n');
}
fn csv_field(s: &str) -> String {
    let mut out = Vec::new();
    push_csv_field(&mut out, s);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_serde_json_writes_them() {
        let mut n = 0u64;
        while n < u64::MAX / 3 {
            for m in [n, n + 1, n + 9, n + 10, n + 99, n + 100] {
                let mut out = Vec::new();
                push_number(&mut out, m);
                assert_eq!(out, serde_json::to_vec(&m).unwrap_or_default());
            }
            n = n * 3 + 7;
        }
        let mut out = Vec::new();
        push_number(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string().as_bytes());
    }

    #[test]
    fn statuses_as_they_display() {
        for (class, subject, detail) in [(5, 1, 1), (4, 7, 28), (2, 0, 0), (5, 7, 999), (4, 10, 9)]
        {
            let s = Status::new(class, subject, detail);
            let mut out = Vec::new();
            push_status(&mut out, Some(s));
            assert_eq!(out, format!("\"{s}\"").into_bytes());
        }
        let mut out = Vec::new();
        push_status(&mut out, None);
        assert_eq!(out, b"null");
    }

    #[test]
    fn strings_as_serde_json_writes_them() {
        let mut all: String = (0..0x80u8).map(char::from).collect();
        all.push_str("é\u{2028}\u{10ffff}\u{7f}\"\\");
        for start in 0..all.len() {
            let Some(s) = all.get(start..) else { continue };
            let mut out = Vec::new();
            push_json_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap_or_default(), "{s:?}");
        }
    }
}
