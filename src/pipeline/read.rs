//! The reading side: the inputs in turn, cut into batches, sent to the
//! workers in input order.

use std::sync::mpsc::{Receiver, SyncSender};

use crate::input::{Batches, InputFormat};

use super::Input;
use super::work::{Job, Pool, Work};

/// Reads every input in turn (`first` already open) and sends its batches.
/// Returns how many inputs could not be opened (each reported in its place
/// among the batches).
pub(super) fn read_inputs(
    first: Option<Batches>,
    rest: impl Iterator<Item = Input>,
    format: InputFormat,
    work: &SyncSender<Work>,
    credits: &Receiver<()>,
    buffers: &Pool,
) -> usize {
    let mut sender = Sender {
        work,
        credits,
        seq: 0,
        credit: false,
    };
    let mut unreadable = 0;
    if let Some(batches) = first
        && !sender.send_all(batches, buffers)
    {
        return unreadable;
    }
    for input in rest {
        let sent = match input.open(format) {
            Ok((_, batches)) => sender.send_all(batches, buffers),
            Err(e) => {
                unreadable += 1;
                sender.send(Job::Unreadable(e))
            }
        };
        if !sent {
            return unreadable;
        }
    }
    unreadable
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
    fn send(&mut self, job: Job) -> bool {
        if !self.take_credit() {
            return false;
        }
        self.credit = false;
        let sent = self.work.send((self.seq, job)).is_ok();
        self.seq += 1;
        sent
    }

    /// Sends the batches of one input; false when the threads are gone.
    fn send_all(&mut self, mut batches: Batches, buffers: &Pool) -> bool {
        loop {
            if !self.take_credit() {
                return false;
            }
            let Some(batch) = batches.next_batch(buffers.take()) else {
                return true;
            };
            if !self.send(Job::Batch(batch)) {
                return false;
            }
        }
    }
}
