//! The workers: each takes the next batch, classifies its records and
//! encodes them into one buffer, with the batch's counts, problems and
//! quarantined addresses.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender};

use crate::core::bounce::BounceRef;
use crate::core::status::Verdict;
use crate::input::{self, Batch, Item, LineItem, View};
use crate::output::{self, Encoder};
use crate::runtime::classify::{ClassificationRef, Normalizer};

use super::counts::{Tally, verdict_index};
use super::error::{InputError, Problem};
use super::quarantine::{self, Quarantined};
use crate::runtime::engine::Engine;

/// What the threads share.
pub(super) struct Shared<'a, C: ?Sized> {
    pub(super) classifier: &'a C,
    pub(super) format: output::Format,
    pub(super) wide: bool,
    /// Whether quarantined addresses are collected.
    pub(super) quarantine: bool,
    /// Input buffers (pieces of lines).
    pub(super) inputs: Pool,
    /// Output buffers.
    pub(super) outputs: Pool,
}

/// A piece of work, numbered in input order.
pub(super) type Work = (u64, Job);

/// A batch to classify, or the error of an input to report in its place.
pub(super) enum Job {
    Batch(Batch),
    Unreadable(InputError),
}

/// A classified batch: its output, its problems, its counts and
/// quarantined addresses.
pub(super) struct Done {
    pub(super) seq: u64,
    pub(super) out: Vec<u8>,
    pub(super) problems: Vec<Problem>,
    pub(super) tally: Tally,
    pub(super) quarantined: Vec<(String, Quarantined)>,
}

/// Buffers handed back for reuse.
pub(super) struct Pool(Mutex<Vec<Vec<u8>>>);

impl Pool {
    pub(super) fn new() -> Pool {
        Pool(Mutex::new(Vec::new()))
    }

    /// A buffer handed back, or a new one.
    pub(super) fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_default()
    }

    /// Hands `buf` back, emptied.
    pub(super) fn put(&self, mut buf: Vec<u8>) {
        buf.clear();
        if let Ok(mut v) = self.0.lock() {
            v.push(buf);
        }
    }
}

/// Classifies batches until there are none or the writer is gone.
pub(super) fn classify_batches<C: Engine + ?Sized>(
    work: &Mutex<Receiver<Work>>,
    done: &SyncSender<Done>,
    shared: &Shared<'_, C>,
) {
    let mut worker = Worker::new(shared);
    loop {
        let next = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((seq, job)) = next else { return };
        worker.out = shared.outputs.take();
        match job {
            Job::Unreadable(e) => worker.problems.push(Problem::Unreadable(e)),
            Job::Batch(Batch::Items(items)) => {
                for item in items {
                    worker.item(item);
                }
            }
            Job::Batch(Batch::Lines(lines)) => {
                lines.read(|item| match item {
                    LineItem::Record(view) => worker.view(lines.name(), &view),
                    LineItem::Skipped { reason, .. } => worker.skipped(reason),
                    LineItem::Item(item) => worker.item(item),
                });
                shared.inputs.put(lines.into_buffer());
            }
        }
        if done.send(worker.finish(seq)).is_err() {
            return;
        }
    }
}

/// Classifies the records of a batch and encodes them; one per thread.
struct Worker<'a, C: ?Sized> {
    shared: &'a Shared<'a, C>,
    out: Vec<u8>,
    problems: Vec<Problem>,
    tally: Tally,
    quarantined: Vec<(String, Quarantined)>,
    /// Buffers bounces are normalized in, reused.
    normalizer: Normalizer,
    /// A skip reason's text, reused.
    reason: String,
    encoder: Encoder,
}

impl<'a, C: Engine + ?Sized> Worker<'a, C> {
    fn new(shared: &'a Shared<'a, C>) -> Worker<'a, C> {
        Worker {
            shared,
            out: Vec::new(),
            problems: Vec::new(),
            tally: Tally::default(),
            quarantined: Vec::new(),
            normalizer: Normalizer::new(),
            reason: String::new(),
            encoder: Encoder::new(shared.format, shared.wide),
        }
    }

    fn finish(&mut self, seq: u64) -> Done {
        Done {
            seq,
            out: std::mem::take(&mut self.out),
            problems: std::mem::take(&mut self.problems),
            tally: std::mem::take(&mut self.tally),
            quarantined: std::mem::take(&mut self.quarantined),
        }
    }

    fn item(&mut self, item: Item) {
        match item {
            Item::Record(rec) => {
                let classifier = self.shared.classifier;
                let c = classifier.classify_ref(&mut self.normalizer, BounceRef::from(&rec.bounce));
                self.record(&rec.position.file, &rec.view(), &c);
            }
            Item::Bad(bad) => {
                self.tally.records += 1;
                self.tally.bad += 1;
                self.problems.push(Problem::BadRecord(bad));
            }
            Item::Skipped { reason, .. } => self.tally.skip_owned(reason),
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
        let classifier = self.shared.classifier;
        let c = classifier.classify_ref(&mut self.normalizer, bounce);
        self.record(file, v, &c);
    }

    fn skipped(&mut self, reason: input::Skip<'_>) {
        self.reason.clear();
        let _ = write!(self.reason, "{reason}");
        self.tally.skip(&self.reason);
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
            && let Some(address) = v.rcpt.and_then(quarantine::address)
        {
            self.quarantined.push((
                address,
                Quarantined {
                    status: c.status.map(|s| s.to_string()).unwrap_or_default(),
                    rule: c.rule.unwrap_or("unmatched").to_string(),
                },
            ));
        }
        self.encoder.record(&mut self.out, file, v, c);
    }
}
