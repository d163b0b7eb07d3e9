//! The writing side: the classified batches put back in input order and
//! written, their problems told, their counts added up.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Write};
use std::sync::mpsc::{Receiver, SyncSender};

use crate::output::Encoder;

use super::Events;
use super::counts::Counts;
use super::quarantine::Quarantined;
use super::work::{Done, Shared};

/// Writes the classified batches to `out` in input order; returns the
/// counts and the quarantined addresses.
pub(super) fn write_batches<C: ?Sized, W: Write, E: Events + ?Sized>(
    done: &Receiver<Done>,
    credits: &SyncSender<()>,
    shared: &Shared<'_, C>,
    out: W,
    events: &mut E,
) -> std::io::Result<(Counts, BTreeMap<String, Quarantined>)> {
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut counts = Counts::default();
    let mut quarantined = BTreeMap::new();
    let mut header = Vec::new();
    Encoder::new(shared.format, shared.wide).header(&mut header);
    out.write_all(&header)?;
    let mut waiting: HashMap<u64, Done> = HashMap::new();
    let mut next = 0u64;
    for batch in done {
        waiting.insert(batch.seq, batch);
        while let Some(batch) = waiting.remove(&next) {
            next += 1;
            out.write_all(&batch.out)?;
            shared.outputs.put(batch.out);
            if !batch.problems.is_empty() {
                events.problems(&batch.problems);
            }
            counts.add(&batch.tally);
            for (address, q) in batch.quarantined {
                quarantined.entry(address).or_insert(q);
            }
            let t = &batch.tally;
            events.progress(u64::try_from(t.records + t.skipped).unwrap_or(u64::MAX));
            let _ = credits.send(());
        }
    }
    out.flush()?;
    Ok((counts, quarantined))
}
