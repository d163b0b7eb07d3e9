//! `mxrules test`: classify corpora and compare with their expectations;
//! `--bless` to accept the new outcomes, `--coverage` for the rules no case
//! exercises.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use mxrules::core::source::display_name;
use mxrules::runtime::artifact;
use mxrules::runtime::classify::{Classification, Classifier};
use mxrules::verify::corpus::Case;
use mxrules::verify::{
    self, CaseChange, CorpusError, CorpusFile, Coverage, Engine, Field, FieldChange, Outcome,
    RuleIndex, RuleInfo,
};
use serde::Serialize;

use super::rules::{Loaded, RulesArgs};
use super::{Color, Exit, fail, print_stderr, print_stdout};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    rules: RulesArgs,
    /// Rewrite the expectations of the cases that fail to what the rules give
    /// now, in place (comments and order are kept).
    #[arg(long)]
    bless: bool,
    /// List the rules that decide no case, per file, and the share covered.
    #[arg(long)]
    coverage: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Corpus files (YAML), or directories searched for `*.yaml` files.
    #[arg(required = true, value_name = "CORPUS")]
    corpus: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// A readable report: every mismatch as a diff.
    Human,
    /// One JSON document.
    Json,
}

/// Runs `f` with the rules, compiled here or read from a compiled file.
pub(super) fn with_engine<R>(
    loaded: &Loaded,
    name: &str,
    f: impl FnOnce(&dyn Engine) -> R,
) -> Result<R, Exit> {
    match loaded {
        Loaded::Compiled(c) => Ok(f(c.as_ref())),
        Loaded::Artifact(bytes) => match artifact::load(bytes.as_slice()) {
            Ok(tables) => Ok(f(&Classifier::from_tables(tables))),
            Err(e) => Err(fail(format!("cannot load `{name}`: {e}"))),
        },
    }
}

/// The files named by `paths`: files as given, directories searched
/// (recursively) for files with one of `extensions`, sorted; each file once.
pub(super) fn corpus_paths(paths: &[PathBuf], extensions: &[&str]) -> Result<Vec<PathBuf>, Exit> {
    fn walk(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(&path, extensions, out)?;
            } else if path
                .extension()
                .is_some_and(|e| extensions.iter().any(|x| e == *x))
            {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out: Vec<PathBuf> = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| fail(format!("cannot read `{}`: {e}", display_name(p))))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, extensions, &mut found)
                .map_err(|e| fail(format!("cannot read `{}`: {e}", display_name(p))))?;
            if found.is_empty() {
                return Err(fail(format!(
                    "`{}` holds no corpus files (`*.{}`)",
                    display_name(p),
                    extensions.join("`, `*.")
                )));
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    Ok(out)
}

pub fn run(args: Args, color: Color) -> Exit {
    let paths = match corpus_paths(&args.corpus, &["yaml", "yml"]) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let loaded = match args.rules.load(color) {
        Ok(l) => l,
        Err(e) => return e,
    };
    // Blessed rule names are relative to the rules directory.
    let root = match args.rules.rules.as_slice() {
        [dir] if dir.is_dir() => Some(display_name(dir)),
        _ => None,
    };
    let name = args
        .rules
        .rules
        .first()
        .map(|p| display_name(p))
        .unwrap_or_default();
    match with_engine(&loaded, &name, |e| {
        run_with(&args, e, &paths, root.as_deref())
    }) {
        Ok(exit) | Err(exit) => exit,
    }
}

/// One corpus file and its outcomes.
struct Ran {
    file: CorpusFile,
    outcomes: Vec<Outcome>,
    /// The expectations rewritten by `--bless`.
    blessed: Vec<CaseChange>,
}

/// Everything one run found.
#[derive(Default)]
struct Report {
    ran: Vec<Ran>,
    /// Files that are not corpora.
    malformed: Vec<CorpusError>,
    /// Files that could not be read or written.
    io_errors: usize,
    /// Files whose failures `--bless` could not rewrite.
    unblessed: Vec<verify::BlessError>,
}

fn run_with(args: &Args, engine: &dyn Engine, paths: &[PathBuf], root: Option<&str>) -> Exit {
    let mut report = Report::default();
    for path in paths {
        let name = display_name(path);
        if path.extension().is_some_and(|e| e == "jsonl") {
            print_stderr(&format!(
                "error: `{name}` is JSON lines, with no expectations; `mxrules test` reads YAML corpora\n"
            ));
            report.io_errors += 1;
            continue;
        }
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                print_stderr(&format!("error: cannot read `{name}`: {e}\n"));
                report.io_errors += 1;
                continue;
            }
        };
        let file = match CorpusFile::parse(&name, &text) {
            Ok(f) => f,
            Err(e) => {
                print_stderr(&format!("error: {e}\n"));
                report.malformed.push(e);
                continue;
            }
        };
        let outcomes = verify::run(engine, &file);
        let mut ran = Ran {
            file,
            outcomes,
            blessed: Vec::new(),
        };
        if args.bless && ran.outcomes.iter().any(|o| !o.passed()) {
            match verify::bless(&ran.file, &ran.outcomes, root) {
                Ok(b) => match verify::write_atomically(path, &b.text) {
                    Ok(()) => ran.blessed = b.cases,
                    Err(e) => {
                        print_stderr(&format!("error: cannot write `{name}`: {e}\n"));
                        report.io_errors += 1;
                    }
                },
                Err(e) => {
                    print_stderr(&format!("error: cannot bless {e}\n"));
                    report.unblessed.push(e);
                }
            }
        }
        report.ran.push(ran);
    }
    let coverage = args.coverage.then(|| {
        verify::coverage(
            engine.rule_set(),
            report
                .ran
                .iter()
                .flat_map(|r| &r.outcomes)
                .filter_map(|o| o.got.rule.as_deref()),
        )
    });
    let index = RuleIndex::new(engine.rule_set());
    let out = match args.format {
        Format::Human => human(&report, &index, coverage.as_ref()),
        Format::Json => json(&report, &index, coverage),
    };
    if let Err(e) = print_stdout(&out) {
        return fail(format!("cannot write output: {e}"));
    }
    if report.io_errors > 0 {
        Exit::Usage
    } else if failed(&report) > 0 || !report.malformed.is_empty() || !report.unblessed.is_empty() {
        Exit::Failure
    } else {
        Exit::Success
    }
}

/// Cases that fail and were not blessed.
fn failed(report: &Report) -> usize {
    report
        .ran
        .iter()
        .filter(|r| r.blessed.is_empty())
        .flat_map(|r| &r.outcomes)
        .filter(|o| !o.passed())
        .count()
}

fn blessed(report: &Report) -> usize {
    report.ran.iter().map(|r| r.blessed.len()).sum()
}

fn cases(report: &Report) -> usize {
    report.ran.iter().map(|r| r.outcomes.len()).sum()
}

fn unmatched(report: &Report) -> impl Iterator<Item = (&Ran, &Outcome)> {
    report
        .ran
        .iter()
        .flat_map(|r| r.outcomes.iter().map(move |o| (r, o)))
        .filter(|(_, o)| o.got.unmatched)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn opt_status(s: Option<mxrules::core::status::Status>) -> String {
    s.map_or_else(|| String::from("none"), |s| s.to_string())
}

/// `file:line: case N`
fn case_header(file: &CorpusFile, index: usize) -> String {
    format!("{}: case {}", file.case_position(index), index + 1)
}

/// The lines of a failing case: the bounce, the expectations as a diff, and
/// what decides now.
fn write_failure(out: &mut String, case: &Case, o: &Outcome, index: &RuleIndex) {
    let got = &o.got;
    if let Some(mx) = &case.mx {
        let _ = writeln!(out, "    mx: {mx}");
    }
    if let Some(rcpt) = &case.rcpt {
        let _ = writeln!(out, "    rcpt: {rcpt}");
    }
    let _ = writeln!(out, "    reply: {}", json_string(&case.reply));
    for f in &o.mismatches {
        let (old, new) = match f {
            Field::Status => (
                format!("status: {}", opt_status(case.status)),
                format!("status: {}", opt_status(got.status)),
            ),
            Field::Verdict => (
                format!("verdict: {}", case.verdict),
                format!("verdict: {}", got.verdict),
            ),
            Field::Rule => (
                format!("rule: {}", case.rule.as_deref().unwrap_or("none")),
                format!("rule: {}", got.rule.as_deref().unwrap_or("none")),
            ),
            Field::Unmatched => (
                match (&case.rule, case.unmatched) {
                    (Some(r), false) => format!("rule: {r}"),
                    _ => format!("unmatched: {}", case.unmatched),
                },
                format!("unmatched: {}", got.unmatched),
            ),
        };
        let _ = writeln!(out, "  - {old}");
        let _ = writeln!(out, "  + {new}");
    }
    let _ = writeln!(out, "    {}", deciding(got, index));
}

/// What decides a classification, with the rule's regex.
fn deciding(got: &Classification, index: &RuleIndex) -> String {
    match got.rule.as_deref() {
        Some(r) => match index.info(r) {
            Some(info) => format!("decided by {info}"),
            None => format!("decided by {r}"),
        },
        None => format!(
            "no rule matches: the policy decides from {} -> {}",
            opt_status(got.initial_status),
            got.verdict
        ),
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

fn change_text(c: &FieldChange) -> String {
    match (&c.old, &c.new) {
        (Some(o), Some(n)) => format!("{} {o} -> {n}", c.field),
        (None, Some(n)) => format!("{} {n} added", c.field),
        (Some(o), None) => format!("{} {o} removed", c.field),
        (None, None) => c.field.to_string(),
    }
}

fn human(report: &Report, index: &RuleIndex, coverage: Option<&Coverage>) -> String {
    let mut out = String::new();
    for r in &report.ran {
        if !r.blessed.is_empty() {
            for c in &r.blessed {
                let _ = writeln!(
                    out,
                    "blessed {}: {}",
                    case_header(&r.file, c.index),
                    c.changes
                        .iter()
                        .map(change_text)
                        .collect::<Vec<_>>()
                        .join("; ")
                );
            }
            continue;
        }
        for o in r.outcomes.iter().filter(|o| !o.passed()) {
            let Some(case) = r.file.corpus.cases.get(o.index) else {
                continue;
            };
            let _ = writeln!(
                out,
                "{} classifies differently",
                case_header(&r.file, o.index)
            );
            write_failure(&mut out, case, o, index);
            out.push('\n');
        }
    }
    if blessed(report) > 0 {
        out.push('\n');
    }
    let unmatched: Vec<_> = unmatched(report).collect();
    if !unmatched.is_empty() {
        let _ = writeln!(
            out,
            "unmatched: {} no rule matches",
            plural(unmatched.len(), "case", "cases")
        );
        for (r, o) in &unmatched {
            let reply = r
                .file
                .corpus
                .cases
                .get(o.index)
                .map(|c| c.reply.as_str())
                .unwrap_or("");
            let _ = writeln!(
                out,
                "  {}: {} {} (policy): {}",
                case_header(&r.file, o.index),
                opt_status(o.got.status),
                o.got.verdict,
                json_string(reply)
            );
        }
        out.push('\n');
    }
    if let Some(c) = coverage {
        write_coverage(&mut out, c);
        out.push('\n');
    }
    let failed = failed(report);
    let problems = failed + report.malformed.len() + report.unblessed.len() + report.io_errors;
    let files = report.ran.len() + report.malformed.len();
    let blessed = blessed(report);
    let cases = cases(report);
    let mut summary = format!(
        "test result: {}. {} in {}: {} passed, {} failed",
        if problems == 0 { "ok" } else { "FAILED" },
        plural(cases, "case", "cases"),
        plural(files, "file", "files"),
        cases - failed - blessed,
        failed
    );
    if blessed > 0 {
        let _ = write!(summary, ", {blessed} blessed");
    }
    let _ = write!(summary, "; {} unmatched", unmatched.len());
    if !report.malformed.is_empty() {
        let _ = write!(
            summary,
            "; {} not read",
            plural(report.malformed.len(), "file", "files")
        );
    }
    let _ = writeln!(out, "{summary}");
    out
}

fn write_coverage(out: &mut String, c: &Coverage) {
    let _ = writeln!(
        out,
        "coverage: {} of {} decide some case ({:.1}%)",
        c.covered,
        plural(c.rules, "rule", "rules"),
        c.percent()
    );
    for f in &c.files {
        let _ = writeln!(
            out,
            "  {}: {} of {} ({:.1}%)",
            f.file,
            f.covered,
            f.rules,
            verify::percent(f.covered, f.rules)
        );
        for r in &f.uncovered {
            let _ = writeln!(out, "    not covered: {r}");
        }
    }
}

#[derive(Serialize)]
struct JsonExpected<'a> {
    status: Option<mxrules::core::status::Status>,
    verdict: mxrules::core::status::Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    unmatched: bool,
}

#[derive(Serialize)]
struct JsonCase<'a> {
    file: &'a str,
    line: Option<usize>,
    case: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    mx: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rcpt: Option<&'a str>,
    reply: &'a str,
}

#[derive(Serialize)]
struct JsonFailure<'a> {
    #[serde(flatten)]
    case: JsonCase<'a>,
    mismatches: &'a [Field],
    expected: JsonExpected<'a>,
    got: &'a Classification,
    deciding_rule: Option<RuleInfo>,
}

#[derive(Serialize)]
struct JsonUnmatched<'a> {
    #[serde(flatten)]
    case: JsonCase<'a>,
    status: Option<mxrules::core::status::Status>,
    verdict: mxrules::core::status::Verdict,
}

#[derive(Serialize)]
struct JsonBlessed<'a> {
    file: &'a str,
    line: Option<usize>,
    case: usize,
    changes: &'a [FieldChange],
}

#[derive(Serialize)]
struct JsonFile<'a> {
    file: &'a str,
    cases: usize,
    failed: usize,
    blessed: usize,
}

#[derive(Serialize)]
struct JsonSummary {
    ok: bool,
    files: usize,
    cases: usize,
    passed: usize,
    failed: usize,
    blessed: usize,
    unmatched: usize,
    malformed_files: usize,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    summary: JsonSummary,
    files: Vec<JsonFile<'a>>,
    errors: Vec<&'a CorpusError>,
    failures: Vec<JsonFailure<'a>>,
    blessed: Vec<JsonBlessed<'a>>,
    unmatched: Vec<JsonUnmatched<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    coverage: Option<Coverage>,
}

fn json_case<'a>(file: &'a CorpusFile, case: &'a Case, o: &Outcome) -> JsonCase<'a> {
    JsonCase {
        file: &file.name,
        line: o.line,
        case: o.index + 1,
        mx: case.mx.as_deref(),
        rcpt: case.rcpt.as_deref(),
        reply: &case.reply,
    }
}

fn json(report: &Report, index: &RuleIndex, coverage: Option<Coverage>) -> String {
    let mut failures = Vec::new();
    let mut blessed_cases = Vec::new();
    let mut unmatched_cases = Vec::new();
    let mut files = Vec::new();
    for r in &report.ran {
        files.push(JsonFile {
            file: &r.file.name,
            cases: r.outcomes.len(),
            failed: if r.blessed.is_empty() {
                r.outcomes.iter().filter(|o| !o.passed()).count()
            } else {
                0
            },
            blessed: r.blessed.len(),
        });
        for c in &r.blessed {
            blessed_cases.push(JsonBlessed {
                file: &r.file.name,
                line: c.line,
                case: c.index + 1,
                changes: &c.changes,
            });
        }
        for o in &r.outcomes {
            let Some(case) = r.file.corpus.cases.get(o.index) else {
                continue;
            };
            if o.got.unmatched {
                unmatched_cases.push(JsonUnmatched {
                    case: json_case(&r.file, case, o),
                    status: o.got.status,
                    verdict: o.got.verdict,
                });
            }
            if !o.passed() && r.blessed.is_empty() {
                failures.push(JsonFailure {
                    case: json_case(&r.file, case, o),
                    mismatches: &o.mismatches,
                    expected: JsonExpected {
                        status: case.status,
                        verdict: case.verdict,
                        rule: case.rule.as_deref(),
                        unmatched: case.unmatched,
                    },
                    got: &o.got,
                    deciding_rule: o.got.rule.as_deref().and_then(|r| index.info(r)),
                });
            }
        }
    }
    let failed = failed(report);
    let blessed = blessed(report);
    let cases = cases(report);
    let report_json = JsonReport {
        summary: JsonSummary {
            ok: failed + report.malformed.len() + report.unblessed.len() + report.io_errors == 0,
            files: report.ran.len() + report.malformed.len(),
            cases,
            passed: cases - failed - blessed,
            failed,
            blessed,
            unmatched: unmatched_cases.len(),
            malformed_files: report.malformed.len(),
        },
        files,
        errors: report.malformed.iter().collect(),
        failures,
        blessed: blessed_cases,
        unmatched: unmatched_cases,
        coverage,
    };
    match serde_json::to_string_pretty(&report_json) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        Err(e) => format!("{{\"error\": {}}}\n", json_string(&e.to_string())),
    }
}
