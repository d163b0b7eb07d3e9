//! Classifying streams of bounces on several threads: what `mxrules
//! classify` runs.
//!
//! [`run`] reads its inputs ([`crate::input`]) in batches on the calling
//! thread: JSON lines and PowerMTA files as pieces of whole lines, the
//! other formats as records. Worker threads, each with its own
//! [`Normalizer`], read the lines of a batch, classify its records and
//! encode them ([`crate::output`]) into one buffer, with the counts and
//! the bad records of the batch; one writer thread puts the batches back
//! in input order, writes them, hands their problems to [`Events`] and
//! adds up the [`Counts`]. At most two batches per worker (and two more)
//! exist at once, and their buffers are reused, so memory does not grow
//! with the input (the quarantine list, one entry per distinct address,
//! aside), and nothing is allocated per record.
//!
//! A bad record or an input that cannot be opened is a [`Problem`]: it is
//! reported, counted, and the run reads on. Only failing to write the
//! output or the quarantine list stops it ([`PipelineError`]).
//!
//! ```
//! use mxrules::pipeline::{self, Input, Options};
//! use mxrules::syntax::load::Parsed;
//!
//! let mut parsed = Parsed::default();
//! parsed.add_text("policy.rules", "policy { 5.1.1 -> quarantine  5.*.* -> hard  4.*.* -> soft }");
//! let classifier = mxrules::compile::classifier(mxrules::check::check(&parsed).rules.unwrap()).unwrap();
//!
//! let lines = "{\"rcpt\":\"ann@example.org\",\"reply\":\"550 5.1.1 no such user\"}\nnot json\n";
//! let input = Input::reader("bounces.jsonl", std::io::Cursor::new(lines));
//! let mut out = Vec::new();
//! let mut problems = Vec::new();
//! let mut events = pipeline::on_problem(|p| problems.push(p.to_string()));
//! let summary = pipeline::run(&classifier, vec![input], &Options::default(), &mut out, &mut events).unwrap();
//!
//! let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
//! assert_eq!(line["verdict"], "quarantine");
//! assert_eq!(problems.len(), 1);
//! assert!(problems[0].starts_with("bounces.jsonl:2: "), "{problems:?}");
//! assert_eq!(
//!     summary.counts.to_string(),
//!     "classified 1 bounces: 1 quarantine, 0 blocked, 0 hard, 0 soft; 1 unmatched; 1 bad records"
//! );
//! ```

mod counts;
mod error;
mod quarantine;
mod read;
mod work;
mod write;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::sync_channel;

use crate::input::{self, Batches, InputFormat};
use crate::output;
use crate::runtime::engine::Engine;

pub use counts::{Counts, MAX_REASONS};
pub use error::{InputError, PipelineError, Problem};

/// One input of a run.
pub enum Input {
    /// A file, a Maildir folder, or `-` for standard input
    /// ([`input::open_batches`]).
    Path(PathBuf),
    /// An input already open, and its name in positions.
    Reader {
        /// The input's name, as positions give it.
        name: String,
        /// Its bytes.
        reader: Box<dyn BufRead + Send>,
    },
}

impl Input {
    /// The input read from `reader`, named `name` in positions.
    pub fn reader(name: impl Into<String>, reader: impl BufRead + Send + 'static) -> Input {
        Input::Reader {
            name: name.into(),
            reader: Box::new(reader),
        }
    }

    /// Opens the input; tells the format it is read as.
    fn open(self, format: InputFormat) -> Result<(InputFormat, Batches), InputError> {
        match self {
            Input::Path(path) => input::open(&path, format)
                .map(|i| (i.format(), i.batches()))
                .map_err(|e| InputError::new(shown(&path), e)),
            Input::Reader { name, reader } => {
                input::Input::from_reader(reader, name.clone(), format)
                    .map(|i| (i.format(), i.batches()))
                    .map_err(|e| InputError::new(name, e))
            }
        }
    }
}

impl From<PathBuf> for Input {
    fn from(path: PathBuf) -> Input {
        Input::Path(path)
    }
}

/// How a run reads, classifies and writes.
#[derive(Clone, Debug)]
pub struct Options {
    /// The format of the inputs: [`InputFormat::Auto`] tells it from each
    /// input's content.
    pub input_format: InputFormat,
    /// The output format.
    pub format: output::Format,
    /// Whether CSV has the `time` and `incoming_category` columns; `None`:
    /// when the first input that opens is not JSON lines.
    pub wide: Option<bool>,
    /// Threads that classify; `None`: one per core.
    pub threads: Option<usize>,
    /// Where to write the quarantine list (CSV: address, status, rule), if
    /// anywhere.
    pub quarantine_list: Option<PathBuf>,
}

impl Default for Options {
    /// Any input format, JSON lines out, one thread per core, no
    /// quarantine list.
    fn default() -> Options {
        Options {
            input_format: InputFormat::Auto,
            format: output::Format::Jsonl,
            wide: None,
            threads: None,
            quarantine_list: None,
        }
    }
}

/// What a run tells as it goes, from the thread that writes the output, in
/// input order.
pub trait Events {
    /// The problems of the next batch (bad records, an input that cannot
    /// be opened): called once per batch that has any.
    fn problems(&mut self, problems: &[Problem]) {
        let _ = problems;
    }

    /// `records` more records (classified, bad or skipped) were written.
    fn progress(&mut self, records: u64) {
        let _ = records;
    }
}

/// Nothing told.
impl Events for () {}

/// The [`Events`] that give each problem to `f`, one at a time.
pub fn on_problem<F: FnMut(&Problem)>(f: F) -> OnProblem<F> {
    OnProblem(f)
}

/// See [`on_problem`].
pub struct OnProblem<F>(F);

impl<F: FnMut(&Problem)> Events for OnProblem<F> {
    fn problems(&mut self, problems: &[Problem]) {
        problems.iter().for_each(&mut self.0);
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// Records read, classified, bad and skipped.
    pub counts: Counts,
    /// Inputs that could not be opened.
    pub unreadable: usize,
    /// Addresses written to the quarantine list (none when there is none).
    pub quarantined: usize,
}

/// Classifies the records of `inputs` with `classifier` and writes them to
/// `out`, in input order, as `options` say (see the [module](self)).
/// Problems go to `events` as they are met; the run goes on past them.
pub fn run<C, W, E>(
    classifier: &C,
    inputs: Vec<Input>,
    options: &Options,
    out: W,
    events: &mut E,
) -> Result<Summary, PipelineError>
where
    C: Engine + ?Sized,
    W: Write + Send,
    E: Events + Send + ?Sized,
{
    // The first input is opened now: its format decides the CSV columns.
    let mut unreadable = 0;
    let mut first = None;
    let mut wide = false;
    let mut rest = inputs.into_iter();
    for input in rest.by_ref() {
        match input.open(options.input_format) {
            Ok((format, batches)) => {
                wide = format != InputFormat::Jsonl;
                first = Some(batches);
                break;
            }
            Err(e) => {
                events.problems(&[Problem::Unreadable(e)]);
                unreadable += 1;
            }
        }
    }
    let threads = options
        .threads
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
        .max(1);
    let shared = work::Shared {
        classifier,
        format: options.format,
        wide: options.wide.unwrap_or(wide) && options.format == output::Format::Csv,
        quarantine: options.quarantine_list.is_some(),
        inputs: work::Pool::new(),
        outputs: work::Pool::new(),
    };

    // Batches read but not yet written, at most.
    let in_flight = 2 * threads + 2;
    let (work_tx, work_rx) = sync_channel::<work::Work>(in_flight);
    let work_rx = Mutex::new(work_rx);
    let (outcome, rest_unreadable) = std::thread::scope(|s| {
        let (done_tx, done_rx) = sync_channel::<work::Done>(in_flight);
        let (credit_tx, credit_rx) = sync_channel::<()>(in_flight);
        for _ in 0..in_flight {
            let _ = credit_tx.send(());
        }
        let work_rx = &work_rx;
        let shared = &shared;
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            s.spawn(move || work::classify_batches(work_rx, &done_tx, shared));
        }
        drop(done_tx);
        let writer =
            s.spawn(move || write::write_batches(&done_rx, &credit_tx, shared, out, events));
        let unreadable = read::read_inputs(
            first,
            rest,
            options.input_format,
            &work_tx,
            &credit_rx,
            &shared.inputs,
        );
        drop(work_tx);
        (writer.join(), unreadable)
    });
    let (counts, quarantined) = outcome
        .map_err(|_| PipelineError::Stopped)?
        .map_err(PipelineError::Write)?;
    if let Some(path) = &options.quarantine_list {
        quarantine::write(path, &quarantined)
            .map_err(|e| PipelineError::quarantine_list(path, e))?;
    }
    Ok(Summary {
        counts,
        unreadable: unreadable + rest_unreadable,
        quarantined: quarantined.len(),
    })
}

/// An input's name in positions and messages: `<stdin>` for `-`.
fn shown(path: &Path) -> String {
    if path.as_os_str() == "-" {
        String::from("<stdin>")
    } else {
        crate::core::source::display_name(path)
    }
}
