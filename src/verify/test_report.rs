//! A test run as people read it (every mismatch as a diff) and as one JSON
//! document.

use std::fmt::Write as _;

use serde::Serialize;

use super::bless::FieldChange;
use super::corpus::{Case, CorpusError, CorpusFile};
use super::coverage::Coverage;
use super::rule_index::RuleIndex;
use super::run::{Field, Outcome};
use super::suite::{Ran, TestRun};
use crate::core::model::RuleSet;
use crate::core::status::{Status, Verdict};
use crate::core::text::{counted, json_string, or_none};
use crate::runtime::classify::{Classification, RuleRef};

impl TestRun {
    /// The report for people: every failure with its diff, the blessed
    /// cases, the unmatched ones, the coverage when given, and a summary
    /// line.
    pub fn to_human(&self, rules: &RuleSet, coverage: Option<&Coverage>) -> String {
        let index = RuleIndex::new(rules);
        let mut out = String::new();
        for r in &self.ran {
            if r.blessed.is_empty() {
                write_failures(&mut out, r, &index);
            } else {
                write_blessed(&mut out, r);
            }
        }
        if self.blessed() > 0 {
            out.push('\n');
        }
        let unmatched: Vec<_> = self.unmatched().collect();
        write_unmatched(&mut out, &unmatched);
        if let Some(c) = coverage {
            write_coverage(&mut out, c);
            out.push('\n');
        }
        let _ = writeln!(out, "{}", self.summary(unmatched.len()));
        out
    }

    /// `test result: ok. 12 cases in 2 files: 12 passed, 0 failed; 1 unmatched`
    fn summary(&self, unmatched: usize) -> String {
        let failed = self.failed();
        let blessed = self.blessed();
        let cases = self.cases();
        let mut summary = format!(
            "test result: {}. {} in {}: {} passed, {} failed",
            if self.problems() == 0 { "ok" } else { "FAILED" },
            counted(cases, "case", "cases"),
            counted(self.files(), "file", "files"),
            cases - failed - blessed,
            failed
        );
        if blessed > 0 {
            let _ = write!(summary, ", {blessed} blessed");
        }
        let _ = write!(summary, "; {unmatched} unmatched");
        let malformed = self.malformed().count();
        if malformed > 0 {
            let _ = write!(
                summary,
                "; {} not read",
                counted(malformed, "file", "files")
            );
        }
        summary
    }

    /// The report as one JSON document.
    pub fn to_json(&self, rules: &RuleSet, coverage: Option<Coverage>) -> String {
        let index = RuleIndex::new(rules);
        let mut failures = Vec::new();
        let mut blessed_cases = Vec::new();
        let mut unmatched_cases = Vec::new();
        let mut files = Vec::new();
        for r in &self.ran {
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
                        case: JsonCase::new(&r.file, case, o),
                        status: o.got.status,
                        verdict: o.got.verdict,
                    });
                }
                if !o.passed() && r.blessed.is_empty() {
                    failures.push(JsonFailure {
                        case: JsonCase::new(&r.file, case, o),
                        mismatches: &o.mismatches,
                        expected: JsonExpected {
                            status: case.status,
                            verdict: case.verdict,
                            rule: case.rule.as_deref(),
                            unmatched: case.unmatched,
                        },
                        got: &o.got,
                        deciding_rule: o.got.rule.as_deref().and_then(|r| index.rule(r)),
                    });
                }
            }
        }
        let failed = self.failed();
        let blessed = self.blessed();
        let cases = self.cases();
        let report = JsonReport {
            summary: JsonSummary {
                ok: self.problems() == 0,
                files: self.files(),
                cases,
                passed: cases - failed - blessed,
                failed,
                blessed,
                unmatched: unmatched_cases.len(),
                malformed_files: self.malformed().count(),
            },
            files,
            errors: self.malformed().collect(),
            failures,
            blessed: blessed_cases,
            unmatched: unmatched_cases,
            coverage,
        };
        super::to_json_document(&report)
    }
}

/// `file:line: case N`
fn case_header(file: &CorpusFile, index: usize) -> String {
    format!("{}: case {}", file.case_position(index), index + 1)
}

fn write_blessed(out: &mut String, r: &Ran) {
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
}

fn change_text(c: &FieldChange) -> String {
    match (&c.old, &c.new) {
        (Some(o), Some(n)) => format!("{} {o} -> {n}", c.field),
        (None, Some(n)) => format!("{} {n} added", c.field),
        (Some(o), None) => format!("{} {o} removed", c.field),
        (None, None) => c.field.to_string(),
    }
}

fn write_failures(out: &mut String, r: &Ran, index: &RuleIndex) {
    for o in r.outcomes.iter().filter(|o| !o.passed()) {
        let Some(case) = r.file.corpus.cases.get(o.index) else {
            continue;
        };
        let _ = writeln!(
            out,
            "{} classifies differently",
            case_header(&r.file, o.index)
        );
        write_failure(out, case, o, index);
        out.push('\n');
    }
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
                format!("status: {}", or_none(case.status)),
                format!("status: {}", or_none(got.status)),
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
        Some(r) => match index.rule(r) {
            Some(info) => format!("decided by {info}"),
            None => format!("decided by {r}"),
        },
        None => format!(
            "no rule matches: the policy decides from {} -> {}",
            or_none(got.initial_status),
            got.verdict
        ),
    }
}

fn write_unmatched(out: &mut String, unmatched: &[(&Ran, &Outcome)]) {
    if unmatched.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "unmatched: {} no rule matches",
        counted(unmatched.len(), "case", "cases")
    );
    for (r, o) in unmatched {
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
            or_none(o.got.status),
            o.got.verdict,
            json_string(reply)
        );
    }
    out.push('\n');
}

fn write_coverage(out: &mut String, c: &Coverage) {
    let _ = writeln!(
        out,
        "coverage: {} of {} decide some case ({:.1}%)",
        c.covered,
        counted(c.rules, "rule", "rules"),
        c.percent()
    );
    for f in &c.files {
        let _ = writeln!(
            out,
            "  {}: {} of {} ({:.1}%)",
            f.file,
            f.covered,
            f.rules,
            f.percent()
        );
        for r in &f.uncovered {
            let _ = writeln!(out, "    not covered: {r}");
        }
    }
}

#[derive(Serialize)]
struct JsonExpected<'a> {
    status: Option<Status>,
    verdict: Verdict,
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

impl<'a> JsonCase<'a> {
    fn new(file: &'a CorpusFile, case: &'a Case, o: &Outcome) -> JsonCase<'a> {
        JsonCase {
            file: &file.name,
            line: o.line,
            case: o.index + 1,
            mx: case.mx.as_deref(),
            rcpt: case.rcpt.as_deref(),
            reply: &case.reply,
        }
    }
}

#[derive(Serialize)]
struct JsonFailure<'a> {
    #[serde(flatten)]
    case: JsonCase<'a>,
    mismatches: &'a [Field],
    expected: JsonExpected<'a>,
    got: &'a Classification,
    deciding_rule: Option<RuleRef>,
}

#[derive(Serialize)]
struct JsonUnmatched<'a> {
    #[serde(flatten)]
    case: JsonCase<'a>,
    status: Option<Status>,
    verdict: Verdict,
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
