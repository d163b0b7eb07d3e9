//! The domain × status report as one self-contained HTML page.
//!
//! [`page`] writes an HTML5 document with nothing to fetch: the styles are
//! inline, the chart is inline SVG drawn here, there is no script. It holds
//! a title and a summary, a stacked bar chart of the bounces per bucket
//! split by the top domains (each segment with a tooltip), tables of the
//! bounces per domain and status and per domain and verdict with totals,
//! and optionally the unmatched clusters with their suggested rules. Every
//! text from the input is escaped.

use std::fmt::Write;

use super::cluster::ClusterReport;
use super::table::{DomainStatusReport, status_label};
use crate::core::status::Verdict;
use crate::core::text::plural;

/// Colours of the top domains, in rank order (repeated past the tenth).
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#17becf",
];

/// The colour of the `other` group.
const OTHER_COLOR: &str = "#bab0ac";

const STYLE: &str = "body{font-family:system-ui,-apple-system,\"Segoe UI\",sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}\
table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}\
th,td{border:1px solid #ccc;padding:.25em .6em}th{background:#f3f3f3}\
td.n,th.n{text-align:right}tr.total td,td.total{font-weight:bold}\
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4em 1.2em}\
.swatch{display:inline-block;width:.9em;height:.9em;margin-right:.35em;vertical-align:-.1em}\
svg text{font-size:11px;fill:#444}svg .axis{stroke:#888}svg .grid{stroke:#e4e4e4}\
pre{background:#f6f6f6;padding:.6em;overflow-x:auto}code{font-size:.95em}";

/// The whole page. `clusters`, when given, adds the unmatched clusters.
pub fn page(report: &DomainStatusReport, clusters: Option<&ClusterReport>) -> String {
    let mut h = String::new();
    let title = "Bounces by domain and status";
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>{title}</h1>\n<p class=\"summary\">{}.</p>\n",
        esc(&report.summary())
    );
    if !report.rows.is_empty() {
        let _ = writeln!(h, "<h2>Bounces per {}</h2>", esc(report.period.as_str()));
        legend(&mut h, report);
        chart(&mut h, report);
        status_table(&mut h, report);
        verdict_table(&mut h, report);
    }
    if let Some(c) = clusters {
        cluster_section(&mut h, c);
    }
    h.push_str("</body>\n</html>\n");
    h
}

/// The colour of group `g`.
fn color(report: &DomainStatusReport, g: usize) -> &'static str {
    if report.has_other && g + 1 == report.groups.len() {
        OTHER_COLOR
    } else {
        PALETTE[g % PALETTE.len()]
    }
}

fn legend(h: &mut String, report: &DomainStatusReport) {
    h.push_str("<ul class=\"legend\">\n");
    for (g, name) in report.groups.iter().enumerate() {
        let _ = writeln!(
            h,
            "<li><span class=\"swatch\" style=\"background:{}\"></span>{}</li>",
            color(report, g),
            esc(name)
        );
    }
    h.push_str("</ul>\n");
}

/// A round number at or above `max` for the top of the axis, and the
/// step between grid lines.
fn axis(max: usize) -> (usize, usize) {
    let max = max.max(1);
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            let s = step * m;
            if max.div_ceil(s) <= 5 {
                return (max.div_ceil(s) * s, s);
            }
        }
        step *= 10;
    }
}

/// The stacked bar chart: one bar per bucket of the timeline (empty
/// buckets included), one `rect` per domain group with bounces in it,
/// biggest domain at the bottom.
fn chart(h: &mut String, report: &DomainStatusReport) {
    let buckets = report.timeline();
    let counts = report.counts_for(&buckets);
    let n = buckets.len().max(1);
    let (top, step) = axis(counts.iter().map(|r| r.iter().sum()).max().unwrap_or(0));
    let (left, right, upper, plot_h) = (48.0, 16.0, 12.0, 240.0);
    let slot = (720.0 / n as f64).clamp(14.0, 120.0);
    let bar = slot * 0.7;
    let rotate = n > 10;
    let lower = if rotate { 90.0 } else { 30.0 };
    let width = left + slot * n as f64 + right;
    let height = upper + plot_h + lower;
    let y_of = |v: f64| upper + plot_h - v / top as f64 * plot_h;
    let _ = writeln!(
        h,
        "<svg width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"Bounces per {} and domain\">",
        esc(report.period.as_str())
    );
    let _ = writeln!(
        h,
        "<title>Bounces per {} and domain</title>",
        esc(report.period.as_str())
    );
    // Grid and y axis labels.
    let mut v = 0;
    while v <= top {
        let y = y_of(v as f64);
        let _ = writeln!(
            h,
            "<line class=\"grid\" x1=\"{left:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v}</text>",
            width - right,
            left - 6.0,
            y + 4.0
        );
        v += step;
    }
    let _ = writeln!(
        h,
        "<line class=\"axis\" x1=\"{left:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
        upper + plot_h,
        width - right,
        upper + plot_h
    );
    // Bars.
    let label_every = n.div_ceil(36).max(1);
    for (i, (bucket, row)) in buckets.iter().zip(&counts).enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let label = bucket.to_string();
        let total: usize = row.iter().sum();
        let _ = writeln!(
            h,
            "<g class=\"bar\" data-bucket=\"{}\" data-total=\"{total}\">",
            esc(&label)
        );
        let mut acc = 0usize;
        for (g, &count) in row.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let y0 = y_of(acc as f64);
            acc += count;
            let y1 = y_of(acc as f64);
            let name = report.group_name(g);
            let _ = writeln!(
                h,
                "<rect class=\"seg\" data-bucket=\"{}\" data-domain=\"{}\" x=\"{x:.1}\" y=\"{y1:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {} {}</title></rect>",
                esc(&label),
                esc(name),
                y0 - y1,
                color(report, g),
                esc(&label),
                esc(name),
                count
            );
        }
        if i % label_every == 0 {
            let cx = x + bar / 2.0;
            let ly = upper + plot_h + 14.0;
            if rotate {
                let _ = writeln!(
                    h,
                    "<text x=\"{cx:.1}\" y=\"{ly:.1}\" text-anchor=\"end\" transform=\"rotate(-45 {cx:.1} {ly:.1})\">{}</text>",
                    esc(&label)
                );
            } else {
                let _ = writeln!(
                    h,
                    "<text x=\"{cx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\">{}</text>",
                    esc(&label)
                );
            }
        }
        h.push_str("</g>\n");
    }
    h.push_str("</svg>\n");
}

fn status_table(h: &mut String, report: &DomainStatusReport) {
    let statuses = report.statuses();
    let columns: Vec<String> = statuses.iter().map(|s| status_label(*s)).collect();
    let counts = report.group_status_counts(&statuses);
    count_table(h, "status", &columns, &counts, report);
}

fn verdict_table(h: &mut String, report: &DomainStatusReport) {
    let columns: Vec<String> = Verdict::ALL
        .iter()
        .map(|v| v.as_str().to_string())
        .collect();
    let counts: Vec<Vec<usize>> = report
        .group_verdict_counts()
        .iter()
        .map(|row| row.to_vec())
        .collect();
    count_table(h, "verdict", &columns, &counts, report);
}

/// A table of counts: one row per domain group, one column per `columns`,
/// a total column and a total row.
fn count_table(
    h: &mut String,
    what: &str,
    columns: &[String],
    counts: &[Vec<usize>],
    report: &DomainStatusReport,
) {
    let _ = write!(
        h,
        "<h2>Bounces per domain and {what}</h2>\n<table class=\"{what}\">\n<thead><tr><th>domain</th>"
    );
    for c in columns {
        let _ = write!(h, "<th class=\"n\">{}</th>", esc(c));
    }
    h.push_str("<th class=\"n\">total</th></tr></thead>\n<tbody>\n");
    let mut totals = vec![0usize; columns.len()];
    for (g, row) in counts.iter().enumerate() {
        let _ = write!(h, "<tr><td>{}</td>", esc(report.group_name(g)));
        for (t, &n) in totals.iter_mut().zip(row) {
            *t += n;
            cell(h, n);
        }
        let _ = writeln!(
            h,
            "<td class=\"n total\">{}</td></tr>",
            row.iter().sum::<usize>()
        );
    }
    h.push_str("</tbody>\n<tfoot><tr class=\"total\"><td>total</td>");
    for &n in &totals {
        cell(h, n);
    }
    let _ = writeln!(
        h,
        "<td class=\"n\">{}</td></tr></tfoot>\n</table>",
        report.total
    );
}

fn cell(h: &mut String, n: usize) {
    if n == 0 {
        h.push_str("<td class=\"n\"></td>");
    } else {
        let _ = write!(h, "<td class=\"n\">{n}</td>");
    }
}

fn cluster_section(h: &mut String, c: &ClusterReport) {
    let _ = writeln!(
        h,
        "<h2>Unmatched replies</h2>\n<p>{}.</p>",
        esc(&c.summary())
    );
    for (i, cl) in c.clusters.iter().enumerate() {
        let _ = writeln!(
            h,
            "<h3>#{} · {} · initial {} · {} {}</h3>\n<p>Template: <code>{}</code></p>",
            i + 1,
            esc(&cl.scope.to_string()),
            esc(&status_label(cl.initial)),
            cl.count,
            plural(cl.count, "reply", "replies"),
            esc(&cl.template)
        );
        if let Some(at) = &cl.existing_scope {
            let _ = writeln!(
                h,
                "<p>The scope is declared at <code>{}:{}</code>: put the rule in that block.</p>",
                esc(&at.file),
                at.line
            );
        }
        let _ = writeln!(h, "<pre>{}</pre>", esc(&cl.suggestion.rule));
    }
}

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
