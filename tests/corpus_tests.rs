//! The project's corpus, `tests/corpus/*.yaml`: every case must classify
//! with the shipped rules as it says, and each file's outcomes are kept as a
//! snapshot (`snapshots/corpus__<stem>.snap`) so that a rule change shows
//! exactly which replies it moves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

mod reference;

use std::fmt::Write as _;
use std::path::Path;

use mxrules::core::text::or_none;
use mxrules::runtime::classify::{Classification, Classifier};
use mxrules::verify::{Case, same_rule};

fn classifier() -> Classifier {
    mxrules::compile::classifier(reference::shipped_rules()).unwrap_or_else(|d| {
        panic!(
            "rules.d does not compile: {:?}",
            d.iter().map(|d| &d.message).collect::<Vec<_>>()
        )
    })
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// What is wrong with one case's classification, if anything.
fn problems(case: &Case, c: &Classification) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(want) = case.status
        && c.status != Some(want)
    {
        out.push(format!("status {} (expected {want})", or_none(c.status)));
    }
    if c.verdict != case.verdict {
        out.push(format!("verdict {} (expected {})", c.verdict, case.verdict));
    }
    if c.unmatched != case.unmatched {
        out.push(if c.unmatched {
            String::from("unmatched (expected a rule to match)")
        } else {
            format!(
                "matched by {} (expected unmatched)",
                c.rule.as_deref().unwrap_or("?")
            )
        });
    }
    // The deciding rule as `mxrules test` compares it: `rules.d/gmail.rules:12`
    // is `gmail.rules:12`.
    if let Some(want) = &case.rule
        && !c.rule.as_deref().is_some_and(|got| same_rule(got, want))
    {
        out.push(format!(
            "rule {} (expected {want})",
            c.rule.as_deref().unwrap_or("unmatched")
        ));
    }
    out
}

/// The project's corpus is part of the project: it must be there.
#[test]
fn corpus_is_present() {
    let files = reference::corpus_files();
    assert!(
        !files.is_empty(),
        "tests/corpus holds no *.yaml file; the project's corpus is missing"
    );
    for path in &files {
        let corpus = reference::read_corpus(path);
        assert!(
            !corpus.cases.is_empty(),
            "{} holds no cases",
            path.display()
        );
    }
}

#[test]
fn corpus_cases_classify_as_expected() {
    let classifier = classifier();
    let mut failures = Vec::new();
    let mut total = 0;
    for path in reference::corpus_files() {
        let corpus = reference::read_corpus(&path);
        for (i, case) in corpus.cases.iter().enumerate() {
            total += 1;
            let c = classifier.classify(&case.bounce());
            let p = problems(case, &c);
            if !p.is_empty() {
                failures.push(format!(
                    "{}.yaml case {} (mx {:?}, rcpt {:?}): {}\n    reply: {:?}",
                    stem(&path),
                    i + 1,
                    case.mx.as_deref().unwrap_or("-"),
                    case.rcpt.as_deref().unwrap_or("-"),
                    p.join("; "),
                    case.reply
                ));
            }
        }
    }
    eprintln!("tests/corpus: {total} cases, {} wrong", failures.len());
    assert!(
        failures.is_empty(),
        "{} of {total} corpus cases classify differently from their expectations:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One line per case: `index | mx | status in | status out | verdict |
/// rule-or-unmatched | reply`.
fn table(cases: &[Case], classifier: &Classifier) -> String {
    let mut out = String::from(
        "# | mx | status in (initial) | status out | verdict | rule or unmatched | reply\n",
    );
    for (i, case) in cases.iter().enumerate() {
        let c = classifier.classify(&case.bounce());
        let _ = writeln!(
            out,
            "{} | {} | {} | {} | {} | {} | {:?}",
            i + 1,
            case.mx.as_deref().unwrap_or("-"),
            or_none(c.initial_status),
            or_none(c.status),
            c.verdict,
            c.rule.as_deref().unwrap_or("unmatched"),
            case.reply
        );
    }
    out
}

#[test]
fn corpus_snapshots() {
    let classifier = classifier();
    let files = reference::corpus_files();
    if files.is_empty() {
        eprintln!("SKIPPED (corpus_snapshots): tests/corpus holds no *.yaml file");
        return;
    }
    for path in files {
        let corpus = reference::read_corpus(&path);
        let name = format!("corpus__{}", stem(&path));
        let text = table(&corpus.cases, &classifier);
        insta::with_settings!({
            snapshot_path => "../snapshots",
            prepend_module_to_snapshot => false,
            description => format!("tests/corpus/{}.yaml classified with rules.d", stem(&path)),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, text);
        });
    }
}
