//! `mxrules diff`: what a change of rules does to a corpus of replies.
//!
//! OLD and NEW are rules directories or files, compiled files, or git
//! revisions of the repository the command runs in (`HEAD`, `main`,
//! `HEAD~1`), whose `rules.d/` is read (`REV:DIR` reads another directory).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::ValueEnum;
use mxrules::compile::Options;
use mxrules::core::source::display_name;
use mxrules::syntax::load::{Parsed, RULES_EXTENSION};
use mxrules::verify::{self, ChangeKind, CorpusFile, Decision, Diff, FailOn, Reply, Transition};
use serde::Serialize;

use super::rules::{Loaded, RulesArgs};
use super::test::{corpus_paths, with_engine};
use super::{Color, Exit, fail, print_stderr, print_stdout};

/// The directory read at a git revision when none is named.
const DEFAULT_RULES_DIR: &str = "rules.d";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The rules before: a rules directory or file, a compiled file, or a git
    /// revision (`HEAD`, `main`, `HEAD~1`; `REV:DIR` for another directory
    /// than `rules.d`).
    #[arg(value_name = "OLD")]
    old: String,
    /// The rules after, in the same forms.
    #[arg(value_name = "NEW")]
    new: String,
    /// Replies to classify: YAML corpora (expectations ignored), JSON lines
    /// (`*.jsonl`), or directories searched for both.
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    corpus: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit with 1 when this holds (may be repeated).
    #[arg(long = "fail-on", value_enum, value_name = "CONDITION")]
    fail_on: Vec<FailOnArg>,
    /// Example replies shown per change (human and Markdown formats).
    #[arg(long, value_name = "N", default_value_t = 3)]
    examples: usize,
    /// The most bytes one DFA may take; bigger scopes are split into several DFAs.
    #[arg(long, value_name = "BYTES", default_value_t = Options::default().dfa_size_limit)]
    dfa_size_limit: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// A readable report.
    Human,
    /// A pull-request comment.
    Markdown,
    /// One JSON document, every changed reply listed.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOnArg {
    /// Some reply is quarantined by NEW and not by OLD.
    QuarantineIncrease,
    /// Some reply changes verdict.
    VerdictChange,
    /// Some reply changes status or verdict.
    AnyChange,
    /// Some reply matched by OLD is matched by no rule of NEW.
    UnmatchedIncrease,
}

impl FailOnArg {
    fn condition(self) -> FailOn {
        match self {
            FailOnArg::QuarantineIncrease => FailOn::QuarantineIncrease,
            FailOnArg::VerdictChange => FailOn::VerdictChange,
            FailOnArg::AnyChange => FailOn::AnyChange,
            FailOnArg::UnmatchedIncrease => FailOn::UnmatchedIncrease,
        }
    }

    fn name(self) -> &'static str {
        match self {
            FailOnArg::QuarantineIncrease => "quarantine-increase",
            FailOnArg::VerdictChange => "verdict-change",
            FailOnArg::AnyChange => "any-change",
            FailOnArg::UnmatchedIncrease => "unmatched-increase",
        }
    }
}

/// Where a rule set comes from.
enum Source {
    Path(PathBuf),
    Git {
        rev: String,
        commit: String,
        dir: String,
    },
}

impl Source {
    /// How reports name it: the path, or `REV (commit, DIR)`.
    fn label(&self) -> String {
        match self {
            Source::Path(p) => display_name(p),
            Source::Git { rev, commit, dir } => {
                format!("{rev} ({}, {dir})", commit.get(..7).unwrap_or(commit))
            }
        }
    }
}

/// Runs git in the current directory; its standard output, or why it failed.
fn git(args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// An argument: an existing path, else a git revision.
fn resolve(arg: &str) -> Result<Source, Exit> {
    if Path::new(arg).exists() {
        return Ok(Source::Path(PathBuf::from(arg)));
    }
    let (rev, dir) = match arg.split_once(':') {
        Some((rev, dir)) if !rev.is_empty() && !dir.is_empty() => (rev, dir),
        _ => (arg, DEFAULT_RULES_DIR),
    };
    let not_found = || {
        fail(format!(
            "`{arg}` is neither a rules path nor a git revision of this repository"
        ))
    };
    if rev.is_empty() || rev.starts_with('-') {
        return Err(not_found());
    }
    let spec = format!("{rev}^{{commit}}");
    match git(&["rev-parse", "--verify", "--quiet", &spec]) {
        Ok(out) => Ok(Source::Git {
            rev: rev.to_string(),
            commit: String::from_utf8_lossy(&out).trim().to_string(),
            dir: dir.trim_end_matches('/').to_string(),
        }),
        Err(e) if e.starts_with("cannot run git") => Err(fail(format!(
            "`{arg}` is not a path, and git cannot be run to read it as a revision ({e})"
        ))),
        Err(_) => Err(not_found()),
    }
}

/// Reads the rules files under `dir` at `commit`, named as in the working
/// tree (`rules.d/gmail.rules`).
fn parse_at_revision(rev: &str, commit: &str, dir: &str) -> Result<Parsed, Exit> {
    let listing = git(&["ls-tree", "-r", "-z", "--name-only", commit, "--", dir])
        .map_err(|e| fail(format!("cannot list `{dir}` at `{rev}`: {e}")))?;
    let mut names: Vec<String> = listing
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .filter(|n| {
            Path::new(n)
                .extension()
                .is_some_and(|e| e == RULES_EXTENSION)
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(fail(format!(
            "`{rev}` has no rules files (`*.{RULES_EXTENSION}`) under `{dir}`"
        )));
    }
    let mut parsed = Parsed::default();
    for name in names {
        // `REV:./path` is relative to the current directory, as ls-tree's names.
        let object = if name.starts_with("../") {
            format!("{commit}:{name}")
        } else {
            format!("{commit}:./{name}")
        };
        let bytes = git(&["cat-file", "blob", &object])
            .map_err(|e| fail(format!("cannot read `{name}` at `{rev}`: {e}")))?;
        parsed.add_bytes(&name, &bytes);
    }
    Ok(parsed)
}

fn load(source: &Source, args: &Args, color: Color) -> Result<Loaded, Exit> {
    match source {
        Source::Path(p) => RulesArgs {
            rules: vec![p.clone()],
            dfa_size_limit: args.dfa_size_limit,
        }
        .load(color),
        Source::Git { rev, commit, dir } => {
            let parsed = parse_at_revision(rev, commit, dir)?;
            let opts = Options {
                dfa_size_limit: args.dfa_size_limit,
                ..Options::default()
            };
            super::rules::compile_parsed(&parsed, Some(rev), &opts, color)
                .map(|(c, _)| Loaded::Compiled(Box::new(c)))
        }
    }
}

/// The replies of every corpus; bad files and lines are reported and
/// counted.
fn read_replies(paths: &[PathBuf], bad: &mut usize, io_errors: &mut usize) -> Vec<Reply> {
    let mut replies = Vec::new();
    for path in paths {
        let name = display_name(path);
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                print_stderr(&format!("error: cannot read `{name}`: {e}\n"));
                *io_errors += 1;
                continue;
            }
        };
        if path.extension().is_some_and(|e| e == "jsonl") {
            let (r, errors) = verify::json_lines_replies(&name, &text);
            for e in &errors {
                print_stderr(&format!("error: {e}\n"));
            }
            *bad += errors.len();
            replies.extend(r);
        } else {
            match CorpusFile::parse(&name, &text) {
                Ok(f) => replies.extend(verify::corpus_replies(&f)),
                Err(e) => {
                    print_stderr(&format!("error: {e}\n"));
                    *bad += 1;
                }
            }
        }
    }
    replies
}

pub fn run(args: Args, color: Color) -> Exit {
    let paths = match corpus_paths(&args.corpus, &["yaml", "yml", "jsonl"]) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let loaded = resolve(&args.old).and_then(|old| {
        let new = resolve(&args.new)?;
        let old_loaded = load(&old, &args, color)?;
        let new_loaded = load(&new, &args, color)?;
        Ok(((old, old_loaded), (new, new_loaded)))
    });
    let ((old, old_loaded), (new, new_loaded)) = match loaded {
        Ok(l) => l,
        Err(e) => return e,
    };
    let (mut bad, mut io_errors) = (0, 0);
    let replies = read_replies(&paths, &mut bad, &mut io_errors);
    let result = with_engine(&old_loaded, &args.old, |o| {
        with_engine(&new_loaded, &args.new, |n| verify::diff(o, n, &replies))
    });
    let d = match result {
        Ok(Ok(d)) => d,
        Ok(Err(e)) | Err(e) => return e,
    };
    let labels = (old.label(), new.label());
    let failing: Vec<FailOnArg> = args
        .fail_on
        .iter()
        .copied()
        .filter(|f| d.fails(f.condition()))
        .collect();
    let out = match args.format {
        Format::Human => human(&d, &labels, args.examples),
        Format::Markdown => markdown(&d, &labels, args.examples),
        Format::Json => json(&d, &labels, &args.fail_on, &failing),
    };
    if let Err(e) = print_stdout(&out) {
        return fail(format!("cannot write output: {e}"));
    }
    for f in &failing {
        print_stderr(&format!(
            "error: `--fail-on {}` holds: {}\n",
            f.name(),
            why(&d, *f)
        ));
    }
    if io_errors > 0 {
        Exit::Usage
    } else if bad > 0 || !failing.is_empty() {
        Exit::Failure
    } else {
        Exit::Success
    }
}

fn count(d: &Diff, kind: ChangeKind) -> usize {
    d.group(kind).map_or(0, |g| g.count)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn why(d: &Diff, f: FailOnArg) -> String {
    match f {
        FailOnArg::QuarantineIncrease => format!(
            "{} newly quarantined",
            plural(
                count(d, ChangeKind::NewlyQuarantined),
                "reply is",
                "replies are"
            )
        ),
        FailOnArg::VerdictChange => {
            let n = count(d, ChangeKind::NewlyQuarantined)
                + count(d, ChangeKind::Unquarantined)
                + count(d, ChangeKind::VerdictChanged);
            format!("{} verdict", plural(n, "reply changes", "replies change"))
        }
        FailOnArg::AnyChange => format!(
            "{} status or verdict",
            plural(d.changed, "reply changes", "replies change")
        ),
        FailOnArg::UnmatchedIncrease => format!(
            "{} no longer matched by any rule",
            plural(d.newly_unmatched, "reply is", "replies are")
        ),
    }
}

/// `3 newly quarantined, 2 un-quarantined, 0 other verdict changes, 1 status-only`
fn kinds_summary(d: &Diff) -> String {
    format!(
        "{} newly quarantined, {} un-quarantined, {}, {} status-only",
        count(d, ChangeKind::NewlyQuarantined),
        count(d, ChangeKind::Unquarantined),
        plural(
            count(d, ChangeKind::VerdictChanged),
            "other verdict change",
            "other verdict changes"
        ),
        count(d, ChangeKind::StatusOnly)
    )
}

/// A reply cut to a readable length.
fn shorten(s: &str) -> String {
    const MAX: usize = 160;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

fn rule_line(d: &Decision) -> String {
    match &d.rule {
        Some(r) => r.to_string(),
        None => String::from("none: no rule matches, the policy decides"),
    }
}

fn human(d: &Diff, (old, new): &(String, String), examples: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "old: {old}");
    let _ = writeln!(out, "new: {new}");
    let _ = writeln!(
        out,
        "{}, {} changed: {}",
        plural(d.replies, "reply", "replies"),
        d.changed,
        kinds_summary(d)
    );
    let _ = writeln!(
        out,
        "unmatched: {} with the old rules, {} with the new",
        d.unmatched_old, d.unmatched_new
    );
    if d.changed == 0 {
        out.push_str("\nno reply changes status or verdict\n");
    }
    for g in d.groups.iter().filter(|g| g.count > 0) {
        let _ = writeln!(
            out,
            "\n{}: {}",
            g.kind.title(),
            plural(g.count, "reply", "replies")
        );
        for t in &g.transitions {
            human_transition(&mut out, t, examples);
        }
    }
    out
}

fn human_transition(out: &mut String, t: &Transition, examples: usize) {
    let _ = writeln!(
        out,
        "  {}: {} -> {}",
        plural(t.count, "reply", "replies"),
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

fn markdown(d: &Diff, (old, new): &(String, String), examples: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### mxrules diff: {} of {} change\n",
        d.changed,
        plural(d.replies, "reply", "replies")
    );
    let _ = writeln!(
        out,
        "Old rules: {}; new rules: {}.\n",
        md_code(old),
        md_code(new)
    );
    out.push_str("| change | replies |\n|---|---:|\n");
    for kind in ChangeKind::ALL {
        let n = count(d, kind);
        if kind == ChangeKind::NewlyQuarantined && n > 0 {
            let _ = writeln!(out, "| **{}** | **{n}** |", kind.title());
        } else {
            let _ = writeln!(out, "| {} | {n} |", kind.title());
        }
    }
    let _ = writeln!(
        out,
        "| unmatched (old → new) | {} → {} |",
        d.unmatched_old, d.unmatched_new
    );
    if d.changed == 0 {
        out.push_str("\nNo reply changes status or verdict.\n");
    }
    for g in d.groups.iter().filter(|g| g.count > 0) {
        let mut title = g.kind.title().to_string();
        if let Some(first) = title.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        let _ = writeln!(out, "\n#### {title} ({})", g.count);
        for t in &g.transitions {
            let _ = writeln!(
                out,
                "\n**{}**: {} → {}\n",
                plural(t.count, "reply", "replies"),
                md_code(&t.old.outcome()),
                md_code(&t.new.outcome())
            );
            let _ = writeln!(out, "- old rule: {}", md_rule(&t.old));
            let _ = writeln!(out, "- new rule: {}", md_rule(&t.new));
            let _ = writeln!(out, "- examples:");
            for r in t.replies.iter().take(examples) {
                let mut line = format!("  - {}", md_code(&shorten(&r.reply)));
                match (&r.mx, &r.rcpt) {
                    (Some(mx), _) => {
                        let _ = write!(line, " (mx {}, {})", md_code(mx), md_code(&r.position()));
                    }
                    (None, Some(rcpt)) => {
                        let _ = write!(
                            line,
                            " (rcpt {}, {})",
                            md_code(rcpt),
                            md_code(&r.position())
                        );
                    }
                    (None, None) => {
                        let _ = write!(line, " ({})", md_code(&r.position()));
                    }
                }
                let _ = writeln!(out, "{line}");
            }
            if t.replies.len() > examples {
                let _ = writeln!(out, "  - … and {} more", t.replies.len() - examples);
            }
        }
    }
    out
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

fn json(
    d: &Diff,
    (old, new): &(String, String),
    fail_on: &[FailOnArg],
    failing: &[FailOnArg],
) -> String {
    let doc = JsonDiff {
        old,
        new,
        diff: d,
        fail_on: fail_on.iter().map(|f| f.name()).collect(),
        failed: failing.iter().map(|f| f.name()).collect(),
    };
    match serde_json::to_string_pretty(&doc) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        Err(e) => format!("{{\"error\": {}}}\n", json_string(&e.to_string())),
    }
}
