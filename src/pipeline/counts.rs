//! The counts of a run, added up batch by batch, and the summary line.

use std::collections::BTreeMap;
use std::fmt;

use crate::core::status::Verdict;

/// Distinct skip reasons kept apart in [`Counts::skip_reasons`]; the
/// others are counted as `other`.
pub const MAX_REASONS: usize = 16;

/// What a run read and decided. Displays as the summary line:
/// `classified 3 bounces: 1 quarantine, 0 blocked, 2 hard, 0 soft; 1 unmatched; 0 bad records`,
/// and `; 2 skipped (2 record type `d`)` when records were skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Records read: classified and bad ones.
    pub records: usize,
    /// Records that could not be read.
    pub bad: usize,
    /// Records no rule matched.
    pub unmatched: usize,
    /// Records by verdict, in the order of [`Verdict::ALL`].
    pub verdicts: [usize; 4],
    /// Records that are not bounces (PowerMTA deliveries and the like).
    pub skipped: usize,
    /// Why records were skipped, with their counts: the first
    /// [`MAX_REASONS`] distinct reasons in input order, the rest as `other`.
    pub skip_reasons: BTreeMap<String, usize>,
}

impl Counts {
    /// The bounces classified (the records read, bad ones aside).
    pub fn classified(&self) -> usize {
        self.records.saturating_sub(self.bad)
    }

    /// The bounces given verdict `v`.
    pub fn verdict(&self, v: Verdict) -> usize {
        self.verdicts[verdict_index(v)]
    }

    /// Adds the counts of the next batch.
    pub(super) fn add(&mut self, t: &Tally) {
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

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.verdicts;
        write!(
            f,
            "classified {} bounces: {} quarantine, {} blocked, {} hard, {} soft; {} unmatched; {} bad records",
            self.classified(),
            v[0],
            v[1],
            v[2],
            v[3],
            self.unmatched,
            self.bad
        )?;
        if self.skipped > 0 {
            let mut reasons: Vec<(&String, &usize)> = self.skip_reasons.iter().collect();
            reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            write!(f, "; {} skipped (", self.skipped)?;
            for (i, (reason, n)) in reasons.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                write!(f, "{sep}{n} {reason}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// The counts of one batch.
#[derive(Default)]
pub(super) struct Tally {
    /// Records read: classified and bad ones.
    pub(super) records: usize,
    pub(super) bad: usize,
    pub(super) unmatched: usize,
    pub(super) verdicts: [usize; 4],
    pub(super) skipped: usize,
    /// Skip reasons in the order first seen, with their counts.
    pub(super) skip_reasons: Vec<(String, usize)>,
}

impl Tally {
    /// Counts a skipped record.
    pub(super) fn skip(&mut self, reason: &str) {
        self.skipped += 1;
        match self.skip_reasons.iter_mut().find(|(r, _)| r == reason) {
            Some((_, n)) => *n += 1,
            None => self.skip_reasons.push((reason.to_string(), 1)),
        }
    }

    /// Counts a skipped record, its reason given owned.
    pub(super) fn skip_owned(&mut self, reason: String) {
        self.skipped += 1;
        match self.skip_reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.skip_reasons.push((reason, 1)),
        }
    }
}

/// The place of `v` in [`Verdict::ALL`].
pub(super) fn verdict_index(v: Verdict) -> usize {
    match v {
        Verdict::Quarantine => 0,
        Verdict::Blocked => 1,
        Verdict::Hard => 2,
        Verdict::Soft => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_index_is_the_place_in_all() {
        for (i, v) in Verdict::ALL.into_iter().enumerate() {
            assert_eq!(verdict_index(v), i);
        }
    }

    #[test]
    fn summary_line_with_skip_reasons_by_count() {
        let mut counts = Counts::default();
        let mut t = Tally {
            records: 4,
            bad: 1,
            unmatched: 1,
            verdicts: [1, 0, 2, 0],
            ..Tally::default()
        };
        t.skip("record type `d`");
        t.skip("record type `t`");
        t.skip("record type `d`");
        counts.add(&t);
        assert_eq!(
            counts.to_string(),
            "classified 3 bounces: 1 quarantine, 0 blocked, 2 hard, 0 soft; 1 unmatched; 1 bad records; \
             3 skipped (2 record type `d`, 1 record type `t`)"
        );
    }

    #[test]
    fn reasons_past_the_first_ones_are_other() {
        let mut counts = Counts::default();
        let mut t = Tally::default();
        for i in 0..MAX_REASONS + 3 {
            t.skip(&format!("reason {i:02}"));
        }
        counts.add(&t);
        assert_eq!(counts.skip_reasons.len(), MAX_REASONS + 1);
        assert_eq!(counts.skip_reasons.get("other"), Some(&3));
    }
}
