//! A diff as people read it, as a pull-request comment (Markdown), and as
//! one JSON document.

use std::fmt::Write as _;

use serde::Serialize;

use super::diff::{ChangeKind, ChangedReply, Decision, Diff, FailOn, Transition};
use crate::core::text::{counted, json_string};

/// How reports name the two rule sets.
#[derive(Clone, Copy, Debug)]
pub struct Labels<'a> {
    /// The rules before.
    pub old: &'a str,
    /// The rules after.
    pub new: &'a str,
}

impl Diff {
    /// Why `on` holds: `3 replies are newly quarantined`.
    pub fn failure(&self, on: FailOn) -> String {
        match on {
            FailOn::QuarantineIncrease => format!(
                "{} newly quarantined",
                counted(
                    self.count(ChangeKind::NewlyQuarantined),
                    "reply is",
                    "replies are"
                )
            ),
            FailOn::VerdictChange => format!(
                "{} verdict",
                counted(self.verdict_changes(), "reply changes", "replies change")
            ),
            FailOn::AnyChange => format!(
                "{} status or verdict",
                counted(self.changed, "reply changes", "replies change")
            ),
            FailOn::UnmatchedIncrease => format!(
                "{} no longer matched by any rule",
                counted(self.newly_unmatched, "reply is", "replies are")
            ),
        }
    }

    /// `3 newly quarantined, 2 un-quarantined, 0 other verdict changes, 1 status-only`
    fn kinds_summary(&self) -> String {
        format!(
            "{} newly quarantined, {} un-quarantined, {}, {} status-only",
            self.count(ChangeKind::NewlyQuarantined),
            self.count(ChangeKind::Unquarantined),
            counted(
                self.count(ChangeKind::VerdictChanged),
                "other verdict change",
                "other verdict changes"
            ),
            self.count(ChangeKind::StatusOnly)
        )
    }

    /// The report for people, with up to `examples` replies per change.
    pub fn to_human(&self, labels: Labels<'_>, examples: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "old: {}", labels.old);
        let _ = writeln!(out, "new: {}", labels.new);
        let _ = writeln!(
            out,
            "{}, {} changed: {}",
            counted(self.replies, "reply", "replies"),
            self.changed,
            self.kinds_summary()
        );
        let _ = writeln!(
            out,
            "unmatched: {} with the old rules, {} with the new",
            self.unmatched_old, self.unmatched_new
        );
        if self.changed == 0 {
            out.push_str("\nno reply changes status or verdict\n");
        }
        for g in self.groups.iter().filter(|g| g.count > 0) {
            let _ = writeln!(
                out,
                "\n{}: {}",
                g.kind.title(),
                counted(g.count, "reply", "replies")
            );
            for t in &g.transitions {
                human_transition(&mut out, t, examples);
            }
        }
        out
    }

    /// The report as a pull-request comment, with up to `examples` replies
    /// per change.
    pub fn to_markdown(&self, labels: Labels<'_>, examples: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### mxrules diff: {} of {} change\n",
            self.changed,
            counted(self.replies, "reply", "replies")
        );
        let _ = writeln!(
            out,
            "Old rules: {}; new rules: {}.\n",
            md_code(labels.old),
            md_code(labels.new)
        );
        out.push_str("| change | replies |\n|---|---:|\n");
        for kind in ChangeKind::ALL {
            let n = self.count(kind);
            if kind == ChangeKind::NewlyQuarantined && n > 0 {
                let _ = writeln!(out, "| **{}** | **{n}** |", kind.title());
            } else {
                let _ = writeln!(out, "| {} | {n} |", kind.title());
            }
        }
        let _ = writeln!(
            out,
            "| unmatched (old → new) | {} → {} |",
            self.unmatched_old, self.unmatched_new
        );
        if self.changed == 0 {
            out.push_str("\nNo reply changes status or verdict.\n");
        }
        for g in self.groups.iter().filter(|g| g.count > 0) {
            let mut title = g.kind.title().to_string();
            if let Some(first) = title.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            let _ = writeln!(out, "\n#### {title} ({})", g.count);
            for t in &g.transitions {
                markdown_transition(&mut out, t, examples);
            }
        }
        out
    }

    /// The report as one JSON document, every changed reply listed, with
    /// the `--fail-on` conditions given and those that hold.
    pub fn to_json(&self, labels: Labels<'_>, fail_on: &[FailOn], failing: &[FailOn]) -> String {
        let doc = JsonDiff {
            old: labels.old,
            new: labels.new,
            diff: self,
            fail_on: fail_on.iter().map(|f| f.name()).collect(),
            failed: failing.iter().map(|f| f.name()).collect(),
        };
        super::to_json_document(&doc)
    }
}

/// A reply cut to a readable length.
fn shorten(s: &str) -> String {
    const MAX: usize = 160;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

fn rule_line(d: &Decision) -> String {
    match &d.rule {
        Some(r) => r.to_string(),
        None => String::from("none: no rule matches, the policy decides"),
    }
}

fn human_transition(out: &mut String, t: &Transition, examples: usize) {
    let _ = writeln!(
        out,
        "  {}: {} -> {}",
        counted(t.count, "reply", "replies"),
        t.old.outcome(),
        t.new.outcome()
    );
    let _ = writeln!(out, "    old rule: {}", rule_line(&t.old));
    let _ = writeln!(out, "    new rule: {}", rule_line(&t.new));
    for r in t.replies.iter().take(examples) {
        let mut line = format!("    {}: {}", r.position(), json_string(&shorten(&r.reply)));
        match (&r.mx, &r.rcpt) {
            (Some(mx), _) => {
                let _ = write!(line, " (mx {mx})");
            }
            (None, Some(rcpt)) => {
                let _ = write!(line, " (rcpt {rcpt})");
            }
            (None, None) => {}
        }
        let _ = writeln!(out, "{line}");
    }
    if t.replies.len() > examples {
        let _ = writeln!(out, "    … and {} more", t.replies.len() - examples);
    }
}

/// Inline code in Markdown, whatever backticks the text holds.
fn md_code(s: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    if longest > 0 || s.starts_with(' ') || s.ends_with(' ') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

fn md_rule(d: &Decision) -> String {
    match &d.rule {
        Some(r) => format!(
            "{} {} → {}",
            md_code(&r.rule),
            md_code(&r.regex),
            md_code(&format!("{} {}", r.status, r.verdict))
        ),
        None => String::from("none (no rule matches, the policy decides)"),
    }
}

fn markdown_transition(out: &mut String, t: &Transition, examples: usize) {
    let _ = writeln!(
        out,
        "\n**{}**: {} → {}\n",
        counted(t.count, "reply", "replies"),
        md_code(&t.old.outcome()),
        md_code(&t.new.outcome())
    );
    let _ = writeln!(out, "- old rule: {}", md_rule(&t.old));
    let _ = writeln!(out, "- new rule: {}", md_rule(&t.new));
    let _ = writeln!(out, "- examples:");
    for r in t.replies.iter().take(examples) {
        let _ = writeln!(out, "  - {}", md_example(r));
    }
    if t.replies.len() > examples {
        let _ = writeln!(out, "  - … and {} more", t.replies.len() - examples);
    }
}

/// An example reply with its host or recipient and position.
fn md_example(r: &ChangedReply) -> String {
    let reply = md_code(&shorten(&r.reply));
    let at = md_code(&r.position());
    match (&r.mx, &r.rcpt) {
        (Some(mx), _) => format!("{reply} (mx {}, {at})", md_code(mx)),
        (None, Some(rcpt)) => format!("{reply} (rcpt {}, {at})", md_code(rcpt)),
        (None, None) => format!("{reply} ({at})"),
    }
}

#[derive(Serialize)]
struct JsonDiff<'a> {
    old: &'a str,
    new: &'a str,
    #[serde(flatten)]
    diff: &'a Diff,
    /// The `--fail-on` conditions given, and those that hold.
    fail_on: Vec<&'static str>,
    failed: Vec<&'static str>,
}
