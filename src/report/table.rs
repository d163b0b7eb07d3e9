//! Bounces by time bucket, recipient domain, status and verdict.
//!
//! A [`Tally`] counts records as they stream by; [`Tally::finish`] ranks
//! the recipient domains by count, keeps the top N and folds the rest into
//! [`OTHER`], and returns a [`DomainStatusReport`] that renders as an
//! aligned terminal table ([`DomainStatusReport::to_table`]), as CSV
//! ([`DomainStatusReport::to_csv`]) or as an HTML page
//! ([`super::html::page`]).
//!
//! Buckets are days (`2024-05-01`) or hours (`2024-05-01 10:00`) of the
//! times as the inputs wrote them (read by [`crate::input::time_parts`]:
//! the clock time of the writer, a UTC offset is not applied); a time
//! without a year (syslog) gives `--05-01` (ISO 8601's month-day form), and
//! a record without a readable time goes to the `unknown` bucket, listed
//! last. A record without a
//! recipient domain counts under [`NO_DOMAIN`]; a bounce without any status
//! has status `none`.

use std::collections::HashMap;
use std::fmt;

use super::ReportRecord;
use crate::core::status::{Status, Verdict};
use crate::core::text::plural;
use crate::output::csv::field as csv_field;

/// The group the domains outside the top N are counted under.
pub const OTHER: &str = "other";

/// The domain of records without a recipient domain.
pub const NO_DOMAIN: &str = "(none)";

/// How long a bucket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// One bucket a day: `2024-05-01`.
    Day,
    /// One bucket an hour: `2024-05-01 10:00`.
    Hour,
}

impl Period {
    /// The period's name: `day`, `hour`.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Hour => "hour",
        }
    }
}

/// A time bucket. Known times sort in time order (times without a year
/// first), `Unknown` last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// A day, or an hour of a day.
    Time {
        /// `None` for a time logged without a year (syslog).
        year: Option<u16>,
        /// 1 to 12.
        month: u8,
        /// 1 to 31.
        day: u8,
        /// `None` for day buckets.
        hour: Option<u8>,
    },
    /// Records without a readable time.
    Unknown,
}

impl Bucket {
    /// The bucket of a record's time.
    pub fn of(time: Option<&str>, period: Period) -> Bucket {
        match time.and_then(crate::input::time_parts) {
            Some((year, month, day, hour)) => Bucket::Time {
                year,
                month,
                day,
                hour: match period {
                    Period::Day => None,
                    Period::Hour => Some(hour),
                },
            },
            None => Bucket::Unknown,
        }
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bucket::Unknown => f.write_str("unknown"),
            Bucket::Time {
                year,
                month,
                day,
                hour,
            } => {
                match year {
                    Some(y) => write!(f, "{y:04}-{month:02}-{day:02}")?,
                    None => write!(f, "--{month:02}-{day:02}")?,
                }
                match hour {
                    Some(h) => write!(f, " {h:02}:00"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// The most buckets [`DomainStatusReport::timeline`] fills a run of time with.
pub const MAX_TIMELINE: usize = 2000;

impl Bucket {
    /// The bucket after this one: the next day, or the next hour. A time
    /// without a year runs through a leap year's calendar.
    pub fn next(self) -> Option<Bucket> {
        let Bucket::Time {
            year,
            month,
            day,
            hour,
        } = self
        else {
            return None;
        };
        if let Some(h) = hour
            && h < 23
        {
            return Some(Bucket::Time {
                year,
                month,
                day,
                hour: Some(h + 1),
            });
        }
        let hour = hour.map(|_| 0);
        let (year, month, day) = if day < days_in_month(year, month) {
            (year, month, day + 1)
        } else if month < 12 {
            (year, month + 1, 1)
        } else {
            // A year-less calendar does not wrap around.
            (Some(year?.checked_add(1)?), 1, 1)
        };
        Some(Bucket::Time {
            year,
            month,
            day,
            hour,
        })
    }
}

fn days_in_month(year: Option<u16>, month: u8) -> u8 {
    let leap = year.is_none_or(|y| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A status as the reports print it: `5.1.1`, or `none`.
pub fn status_label(status: Option<Status>) -> String {
    status.map_or_else(|| String::from("none"), |s| s.to_string())
}

type Key = (Bucket, String, Option<Status>, Verdict);

/// Counts records by bucket, domain, status and verdict.
#[derive(Debug, Clone)]
pub struct Tally {
    period: Period,
    counts: HashMap<Key, usize>,
    total: usize,
    unmatched: usize,
}

impl Tally {
    /// A tally of no record, bucketed by `period`.
    pub fn new(period: Period) -> Tally {
        Tally {
            period,
            counts: HashMap::new(),
            total: 0,
            unmatched: 0,
        }
    }

    /// Counts one record.
    pub fn add(&mut self, r: &ReportRecord) {
        let bucket = Bucket::of(r.time.as_deref(), self.period);
        let domain = match r.rcpt_domain.as_deref().map(str::trim) {
            Some(d) if !d.is_empty() => d.to_lowercase(),
            _ => String::from(NO_DOMAIN),
        };
        let c = &r.classification;
        *self
            .counts
            .entry((bucket, domain, c.status, c.verdict))
            .or_insert(0) += 1;
        self.total += 1;
        if c.unmatched {
            self.unmatched += 1;
        }
    }

    /// Ranks the domains and keeps the `top` biggest; the others are
    /// counted as [`OTHER`].
    pub fn finish(self, top: usize) -> DomainStatusReport {
        let mut by_domain: HashMap<&str, usize> = HashMap::new();
        for ((_, domain, _, _), n) in &self.counts {
            *by_domain.entry(domain.as_str()).or_insert(0) += n;
        }
        let domain_count = by_domain.len();
        let mut ranked: Vec<(&str, usize)> = by_domain.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut groups: Vec<String> = ranked
            .iter()
            .take(top)
            .map(|(d, _)| (*d).to_string())
            .collect();
        let has_other = ranked.len() > groups.len();
        let rank: HashMap<String, usize> = groups
            .iter()
            .enumerate()
            .map(|(i, d)| (d.clone(), i))
            .collect();
        if has_other {
            groups.push(String::from(OTHER));
        }
        let other_rank = groups.len().saturating_sub(1);
        let mut merged: HashMap<(Bucket, usize, Option<Status>, Verdict), usize> = HashMap::new();
        for ((bucket, domain, status, verdict), n) in self.counts {
            let g = rank.get(&domain).copied().unwrap_or(other_rank);
            *merged.entry((bucket, g, status, verdict)).or_insert(0) += n;
        }
        let mut rows: Vec<(Bucket, usize, Option<Status>, Verdict, usize)> = merged
            .into_iter()
            .map(|((b, g, s, v), n)| (b, g, s, v, n))
            .collect();
        rows.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(a.1.cmp(&b.1))
                .then(b.4.cmp(&a.4))
                .then(status_order(a.2).cmp(&status_order(b.2)))
                .then(a.3.cmp(&b.3))
        });
        let mut buckets: Vec<Bucket> = rows.iter().map(|r| r.0).collect();
        buckets.dedup();
        DomainStatusReport {
            period: self.period,
            total: self.total,
            unmatched: self.unmatched,
            domain_count,
            groups,
            has_other,
            buckets,
            rows: rows
                .into_iter()
                .map(|(bucket, group, status, verdict, count)| Row {
                    bucket,
                    group,
                    status,
                    verdict,
                    count,
                })
                .collect(),
        }
    }
}

/// Statuses in order, `none` last.
fn status_order(s: Option<Status>) -> (bool, Option<Status>) {
    (s.is_none(), s)
}

/// One line of the report: how many bounces of a bucket and domain group
/// got a status and a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The time bucket.
    pub bucket: Bucket,
    /// Index in [`DomainStatusReport::groups`].
    pub group: usize,
    /// The status the rules gave, if any.
    pub status: Option<Status>,
    /// The verdict the rules gave.
    pub verdict: Verdict,
    /// The bounces counted.
    pub count: usize,
}

/// Bounces by bucket, domain group, status and verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainStatusReport {
    /// How long a bucket is.
    pub period: Period,
    /// Records counted.
    pub total: usize,
    /// Records no rule matched.
    pub unmatched: usize,
    /// Distinct recipient domains seen.
    pub domain_count: usize,
    /// The top domains by count, biggest first, then [`OTHER`] when some
    /// domains were folded into it.
    pub groups: Vec<String>,
    /// Whether the last group is [`OTHER`].
    pub has_other: bool,
    /// The buckets that have records, in order.
    pub buckets: Vec<Bucket>,
    /// Sorted by bucket, group, count (biggest first), status and verdict.
    pub rows: Vec<Row>,
}

impl DomainStatusReport {
    /// The name of a group.
    pub fn group_name(&self, group: usize) -> &str {
        self.groups.get(group).map_or(OTHER, String::as_str)
    }

    /// Counts per bucket (in [`Self::buckets`] order) and group.
    pub fn bucket_group_counts(&self) -> Vec<Vec<usize>> {
        self.counts_for(&self.buckets)
    }

    /// Counts per bucket of `buckets` (none for a bucket without records)
    /// and group.
    pub fn counts_for(&self, buckets: &[Bucket]) -> Vec<Vec<usize>> {
        let index: HashMap<Bucket, usize> =
            buckets.iter().enumerate().map(|(i, b)| (*b, i)).collect();
        let mut out = vec![vec![0; self.groups.len()]; buckets.len()];
        for r in &self.rows {
            if let Some(cell) = index
                .get(&r.bucket)
                .and_then(|&i| out.get_mut(i))
                .and_then(|row| row.get_mut(r.group))
            {
                *cell += r.count;
            }
        }
        out
    }

    /// The buckets for a time axis: every day (or hour) from the first bucket
    /// with records to the last, those without records included, so that a
    /// chart's gaps are gaps in time (times without a year and times with one
    /// are two runs; a run that would pass [`MAX_TIMELINE`] buckets is left
    /// with its buckets that have records), then `unknown` if any record
    /// has no readable time.
    pub fn timeline(&self) -> Vec<Bucket> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(&first) = self.buckets.get(i) {
            if first == Bucket::Unknown {
                out.push(first);
                i += 1;
                continue;
            }
            // The run of buckets of the same year-ness as `first`.
            let same = |b: &Bucket| match (b, &first) {
                (Bucket::Time { year: a, .. }, Bucket::Time { year: b, .. }) => {
                    a.is_some() == b.is_some()
                }
                _ => false,
            };
            let run: Vec<Bucket> = self.buckets[i..]
                .iter()
                .take_while(|b| same(b))
                .copied()
                .collect();
            i += run.len();
            let mut filled = Vec::new();
            if let (Some(&start), Some(&end)) = (run.first(), run.last()) {
                let mut b = start;
                while b <= end && filled.len() <= MAX_TIMELINE {
                    filled.push(b);
                    match b.next() {
                        Some(n) if n > b => b = n,
                        _ => break,
                    }
                }
            }
            if filled.len() <= MAX_TIMELINE && filled.last() == run.last() {
                out.extend(filled);
            } else {
                out.extend(run);
            }
        }
        out
    }

    /// The statuses seen, in order (`none` last).
    pub fn statuses(&self) -> Vec<Option<Status>> {
        let mut s: Vec<Option<Status>> = self.rows.iter().map(|r| r.status).collect();
        s.sort_by_key(|s| status_order(*s));
        s.dedup();
        s
    }

    /// Counts per group and status (in [`Self::statuses`] order).
    pub fn group_status_counts(&self, statuses: &[Option<Status>]) -> Vec<Vec<usize>> {
        let mut out = vec![vec![0; statuses.len()]; self.groups.len()];
        for r in &self.rows {
            if let Some(si) = statuses.iter().position(|s| *s == r.status)
                && let Some(cell) = out.get_mut(r.group).and_then(|row| row.get_mut(si))
            {
                *cell += r.count;
            }
        }
        out
    }

    /// Counts per group and verdict (in [`Verdict::ALL`] order).
    pub fn group_verdict_counts(&self) -> Vec<[usize; 4]> {
        let mut out = vec![[0; 4]; self.groups.len()];
        for r in &self.rows {
            let vi = Verdict::ALL.iter().position(|v| *v == r.verdict);
            if let (Some(row), Some(vi)) = (out.get_mut(r.group), vi)
                && let Some(cell) = row.get_mut(vi)
            {
                *cell += r.count;
            }
        }
        out
    }

    /// One sentence: how many bounces, over which buckets, how many domains.
    pub fn summary(&self) -> String {
        let mut s = format!("{} {}", self.total, plural(self.total, "bounce", "bounces"));
        let known: Vec<&Bucket> = self
            .buckets
            .iter()
            .filter(|b| **b != Bucket::Unknown)
            .collect();
        match (known.first(), known.last()) {
            (Some(first), Some(last)) if first == last => s.push_str(&format!(" on {first}")),
            (Some(first), Some(last)) => s.push_str(&format!(" from {first} to {last}")),
            _ => {}
        }
        let unknown = self
            .rows
            .iter()
            .filter(|r| r.bucket == Bucket::Unknown)
            .map(|r| r.count)
            .sum::<usize>();
        if unknown > 0 {
            s.push_str(&format!(" ({unknown} without a readable time)"));
        }
        s.push_str(&format!(
            ", per {}; {} recipient {}",
            self.period.as_str(),
            self.domain_count,
            plural(self.domain_count, "domain", "domains")
        ));
        if self.has_other {
            let top = self.groups.len().saturating_sub(1);
            s.push_str(&format!(", the top {top} shown and the rest as {OTHER}"));
        }
        s.push_str(&format!("; {} matched no rule", self.unmatched));
        s
    }

    /// CSV: `bucket,domain,status,verdict,count`, one line per row.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("bucket,domain,status,verdict,count\n");
        for r in &self.rows {
            out.push_str(&format!(
                "{},{},{},{},{}\n",
                csv_field(&r.bucket.to_string()).into_owned(),
                csv_field(self.group_name(r.group)).into_owned(),
                status_label(r.status),
                r.verdict,
                r.count
            ));
        }
        out
    }

    /// The terminal table: a summary line, bounces per bucket and domain,
    /// per domain and verdict, and every bucket, domain, status and verdict.
    pub fn to_table(&self) -> String {
        let mut out = self.summary();
        out.push_str(".\n");
        if self.rows.is_empty() {
            return out;
        }

        // Per bucket and domain group.
        out.push_str(&format!(
            "\nbounces per {} and domain\n",
            self.period.as_str()
        ));
        let mut columns: Vec<(&str, bool)> = vec![(self.period.as_str(), false)];
        columns.extend(self.groups.iter().map(|g| (g.as_str(), true)));
        columns.push(("total", true));
        let mut t = TextTable::new(&columns);
        let counts = self.bucket_group_counts();
        let mut totals = vec![0; self.groups.len()];
        for (bucket, row) in self.buckets.iter().zip(&counts) {
            let mut cells = vec![bucket.to_string()];
            cells.extend(row.iter().map(usize::to_string));
            cells.push(row.iter().sum::<usize>().to_string());
            for (t, n) in totals.iter_mut().zip(row) {
                *t += n;
            }
            t.row(cells);
        }
        let mut cells = vec![String::from("total")];
        cells.extend(totals.iter().map(usize::to_string));
        cells.push(self.total.to_string());
        t.row(cells);
        out.push_str(&t.render());

        // Per domain group and verdict.
        out.push_str("\nbounces per domain and verdict\n");
        let mut columns: Vec<(&str, bool)> = vec![("domain", false)];
        columns.extend(Verdict::ALL.iter().map(|v| (v.as_str(), true)));
        columns.push(("total", true));
        let mut t = TextTable::new(&columns);
        let mut totals = [0usize; 4];
        for (g, row) in self.group_verdict_counts().iter().enumerate() {
            let mut cells = vec![self.group_name(g).to_string()];
            cells.extend(row.iter().map(usize::to_string));
            cells.push(row.iter().sum::<usize>().to_string());
            for (t, n) in totals.iter_mut().zip(row) {
                *t += n;
            }
            t.row(cells);
        }
        let mut cells = vec![String::from("total")];
        cells.extend(totals.iter().map(usize::to_string));
        cells.push(self.total.to_string());
        t.row(cells);
        out.push_str(&t.render());

        // Every row.
        out.push_str(&format!(
            "\nbounces per {}, domain, status and verdict\n",
            self.period.as_str()
        ));
        let mut t = TextTable::new(&[
            (self.period.as_str(), false),
            ("domain", false),
            ("status", false),
            ("verdict", false),
            ("count", true),
        ]);
        let mut last: Option<(Bucket, usize)> = None;
        for r in &self.rows {
            let (bucket, domain) = match last {
                Some((b, _)) if b != r.bucket => {
                    t.row(Vec::new());
                    (r.bucket.to_string(), self.group_name(r.group).to_string())
                }
                Some((_, g)) if g == r.group => (String::new(), String::new()),
                Some(_) => (String::new(), self.group_name(r.group).to_string()),
                None => (r.bucket.to_string(), self.group_name(r.group).to_string()),
            };
            last = Some((r.bucket, r.group));
            t.row(vec![
                bucket,
                domain,
                status_label(r.status),
                r.verdict.to_string(),
                r.count.to_string(),
            ]);
        }
        out.push_str(&t.render());
        out
    }
}

/// A plain-text table with aligned columns: text columns left-aligned,
/// number columns right-aligned, two spaces between columns, no trailing
/// spaces.
struct TextTable {
    header: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl TextTable {
    /// `columns` are (title, right-aligned).
    fn new(columns: &[(&str, bool)]) -> TextTable {
        TextTable {
            header: columns.iter().map(|(t, _)| (*t).to_string()).collect(),
            right: columns.iter().map(|(_, r)| *r).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; an empty row prints as an empty line.
    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The header and the rows, one line each.
    fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let width = widths.get(i).copied().unwrap_or(0);
                let pad = " ".repeat(width.saturating_sub(cell.chars().count()));
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right.get(i).copied().unwrap_or(false) {
                    line.push_str(&pad);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}
