//! Static analysis: one golden case per finding code, the four-findings
//! file, and every witness re-classified to prove its claim.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

use std::path::Path;

use mxrules::check::analysis::{self, Finding, Options};
use mxrules::core::bounce::Bounce;
use mxrules::core::model::RuleSet;
use mxrules::diag::{Code, render_human};
use mxrules::syntax::load::Parsed;

fn load(name: &str) -> (Parsed, RuleSet) {
    let parsed = parsed(name);
    let checked = mxrules::check::check(&parsed);
    assert!(
        checked.diagnostics.is_empty(),
        "{name}: {:?}",
        checked.diagnostics
    );
    let rules = checked.rules.unwrap();
    (parsed, rules)
}

fn analyse(name: &str, opts: &Options) -> (Parsed, RuleSet, analysis::Report) {
    let (parsed, rules) = load(name);
    let report = analysis::analyse(&rules, opts);
    (parsed, rules, report)
}

fn codes(report: &analysis::Report) -> Vec<&'static str> {
    let mut c: Vec<&str> = report.diagnostics.iter().map(|d| d.code.as_str()).collect();
    c.sort_unstable();
    c
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

fn overrides() -> Options {
    Options {
        explain_overrides: true,
        ..Options::default()
    }
}

/// The host a scope's first key stands for.
fn bounce_in_scope(rules: &RuleSet, rule: usize, reply: &str) -> Bounce {
    let scope = &rules.scopes[rules.rules[rule].scope];
    let mut b = Bounce::new(reply);
    match scope.keys.first() {
        Some(mxrules::core::model::ScopeKey::MxExact(h)) => b.mx = Some(h.clone()),
        Some(mxrules::core::model::ScopeKey::MxSuffix(s)) => b.mx = Some(format!("mx1.{s}")),
        Some(mxrules::core::model::ScopeKey::RcptDomain(d)) => b.rcpt = Some(format!("user@{d}")),
        _ => {}
    }
    b
}

fn regex_of(rules: &RuleSet, rule: usize) -> regex::bytes::Regex {
    let r = &rules.rules[rule];
    regex::bytes::RegexBuilder::new(&r.regex)
        .unicode(false)
        .case_insensitive(r.case_insensitive)
        .build()
        .unwrap()
}

#[test]
fn each_finding_code_has_its_golden_case() {
    for (file, code) in [
        ("W005.rules", "W005"),
        ("W006.rules", "W006"),
        ("W007.rules", "W007"),
        ("W008.rules", "W008"),
        ("W009.rules", "W009"),
        ("I001.rules", "I001"),
    ] {
        let (parsed, _, report) = analyse(file, &overrides());
        assert_eq!(codes(&report), vec![code], "{file}");
        snapshot(
            &format!("analysis__{code}"),
            &render_human(&report.diagnostics, &parsed.sources, false),
        );
    }
}

#[test]
fn overrides_are_reported_only_when_asked() {
    let (_, _, report) = analyse("I001.rules", &Options::default());
    assert!(report.diagnostics.is_empty());
}

#[test]
fn a_pair_too_big_for_the_budget_is_undecided_not_guessed() {
    let opts = Options {
        state_budget: 8,
        ..Options::default()
    };
    let (parsed, _, report) = analyse("I002.rules", &opts);
    assert_eq!(codes(&report), vec!["I002"]);
    assert_eq!(report.stats.undecided, 1);
    snapshot(
        "analysis__I002",
        &render_human(&report.diagnostics, &parsed.sources, false),
    );
    // With the default budget the same pair is decided: a conflict.
    let (_, _, report) = analyse("I002.rules", &Options::default());
    assert_eq!(codes(&report), vec!["W006"]);
}

#[test]
fn a_rule_too_big_for_the_dfa_cap_gets_e015_on_that_rule() {
    let (parsed, rules) = load("E015.rules");
    let opts = mxrules::compile::Options {
        dfa_size_limit: 2_000,
        ..Default::default()
    };
    let diags = mxrules::compile::compile(rules, &opts).unwrap_err();
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, Code::RuleTooBig);
    let loc = parsed.sources.location(diags[0].primary.span);
    assert_eq!((loc.line, loc.column), (3, 5));
    snapshot(
        "analysis__E015",
        &render_human(&diags, &parsed.sources, false),
    );
}

#[test]
fn four_findings_file_gets_exactly_its_four_findings() {
    let (parsed, rules, report) = analyse("four_findings.rules", &overrides());
    assert_eq!(codes(&report), vec!["W005", "W006", "W007", "W009"]);
    snapshot(
        "analysis__four_findings",
        &render_human(&report.diagnostics, &parsed.sources, false),
    );
    let classifier = mxrules::compile::classifier(rules.clone()).unwrap();
    let line = |r: usize| rules.rules[r].origin.line;
    for f in &report.findings {
        match f {
            Finding::Shadowed { rule, covering } => {
                assert_eq!(
                    (
                        line(*rule),
                        covering.iter().map(|&c| line(c)).collect::<Vec<_>>()
                    ),
                    (14, vec![13])
                );
                // A reply the shadowed rule was written for goes to the covering rule.
                let b = bounce_in_scope(
                    &rules,
                    *rule,
                    "550 5.1.1 User unknown in virtual mailbox table",
                );
                assert!(regex_of(&rules, *rule).is_match(b.reply.as_bytes()));
                assert_eq!(
                    classifier.classify(&b).rule.as_deref(),
                    Some(rules.rules[covering[0]].location().as_str())
                );
            }
            Finding::Duplicate { rule, first } => assert_eq!((line(*rule), line(*first)), (16, 15)),
            Finding::Conflict {
                winner,
                loser,
                witness,
                initial,
            } => {
                assert_eq!((line(*winner), line(*loser)), (17, 18));
                let text = String::from_utf8(witness.clone()).unwrap();
                assert_eq!(text, "554 5.7.1 rejectedmailbox unavailable");
                // Both rules match the witness, and the earlier one decides it.
                assert!(regex_of(&rules, *winner).is_match(witness));
                assert!(regex_of(&rules, *loser).is_match(witness));
                let mut b = bounce_in_scope(&rules, *winner, &text);
                b.status = initial.0;
                b.reported_category = initial.1;
                let got = classifier.classify(&b);
                assert_eq!(
                    got.rule.as_deref(),
                    Some(rules.rules[*winner].location().as_str())
                );
                assert_eq!(got.verdict.as_str(), "blocked");
            }
            Finding::ExampleTaken {
                rule,
                example,
                taken_by,
            } => {
                assert_eq!(
                    (line(*rule), *example, taken_by.map(line)),
                    (18, 0, Some(17))
                );
                let b = bounce_in_scope(&rules, *rule, &rules.rules[*rule].examples[0]);
                assert_eq!(
                    classifier.classify(&b).rule.map(|r| r.to_string()),
                    taken_by.map(|t| rules.rules[t].location())
                );
            }
            other => panic!("unexpected finding {other:?}"),
        }
    }
}

#[test]
fn conflict_and_override_witnesses_reclassify_as_claimed() {
    for file in ["W006.rules", "I001.rules", "I002.rules"] {
        let (_, rules, report) = analyse(file, &overrides());
        let classifier = mxrules::compile::classifier(rules.clone()).unwrap();
        let mut checked = 0;
        for f in &report.findings {
            let (winner, loser, witness, initial) = match f {
                Finding::Conflict {
                    winner,
                    loser,
                    witness,
                    initial,
                } => (*winner, *loser, witness, *initial),
                Finding::Override {
                    specific,
                    global,
                    witness,
                    initial,
                } => (*specific, *global, witness, *initial),
                _ => continue,
            };
            assert!(regex_of(&rules, winner).is_match(witness), "{file}");
            assert!(regex_of(&rules, loser).is_match(witness), "{file}");
            let mut b = bounce_in_scope(&rules, winner, &String::from_utf8_lossy(witness));
            b.status = initial.0;
            b.reported_category = initial.1;
            assert_eq!(
                classifier.classify(&b).rule.as_deref(),
                Some(rules.rules[winner].location().as_str()),
                "{file}"
            );
            checked += 1;
        }
        assert_eq!(checked, 1, "{file}");
    }
}

#[test]
fn shadowing_respects_initial_conditions() {
    // The broad rule only covers 5.x.x bounces; the narrow one still fires on 4.x.x.
    let mut parsed = Parsed::default();
    parsed.add_text(
        "t.rules",
        "global {\n    initial 5.*.* {\n        /user unknown/ -> 5.1.1\n    }\n    /^550 user unknown/ -> 5.1.1\n}\n",
    );
    let rules = mxrules::check::check(&parsed).rules.unwrap();
    let report = analysis::analyse(&rules, &Options::default());
    assert!(
        report
            .findings
            .iter()
            .all(|f| !matches!(f, Finding::Shadowed { .. })),
        "{:?}",
        report.findings
    );
    // Once the broad rule covers every status, the narrow one is shadowed.
    let mut parsed = Parsed::default();
    parsed.add_text(
        "t.rules",
        "global {\n    /user unknown/ -> 5.1.1\n    /^550 user unknown/ -> 5.1.1\n}\n",
    );
    let rules = mxrules::check::check(&parsed).rules.unwrap();
    let report = analysis::analyse(&rules, &Options::default());
    assert_eq!(
        report.findings,
        vec![Finding::Shadowed {
            rule: 1,
            covering: vec![0]
        }]
    );
}

#[test]
fn a_conditional_exception_before_a_general_rule_is_not_a_conflict() {
    // The 4.x.x exception wins its class on purpose: no W006.
    let text = "global {\n    initial 4.*.* {\n        /^DNS Error: / -> 4.4.3 soft\n    }\n    /^DNS Error: .*NXDOMAIN/ -> 5.1.2 quarantine\n}\n";
    let mut parsed = Parsed::default();
    parsed.add_text("t.rules", text);
    let rules = mxrules::check::check(&parsed).rules.unwrap();
    let report = analysis::analyse(&rules, &Options::default());
    assert_eq!(report.findings, vec![]);
    // The same two rules in the other order: the general rule takes the
    // exception's replies, which is reported.
    let swapped = "global {\n    /^DNS Error: .*NXDOMAIN/ -> 5.1.2 quarantine\n    initial 4.*.* {\n        /^DNS Error: / -> 4.4.3 soft\n    }\n}\n";
    let mut parsed = Parsed::default();
    parsed.add_text("t.rules", swapped);
    let rules = mxrules::check::check(&parsed).rules.unwrap();
    let report = analysis::analyse(&rules, &Options::default());
    assert_eq!(codes(&report), vec!["W006"]);
}

#[test]
fn shadowing_by_a_union_of_earlier_rules() {
    // Neither earlier rule covers the third alone; together they do.
    let mut parsed = Parsed::default();
    parsed.add_text(
        "t.rules",
        "global {\n    /^550 a/ -> 5.1.1\n    /^550 b/ -> 5.1.1\n    /^550 [ab]x/ -> 5.1.1\n}\n",
    );
    let rules = mxrules::check::check(&parsed).rules.unwrap();
    let report = analysis::analyse(&rules, &Options::default());
    assert_eq!(
        report.findings,
        vec![Finding::Shadowed {
            rule: 2,
            covering: vec![0, 1]
        }]
    );
}

#[test]
fn shipped_rules_are_free_of_shadowed_duplicate_and_dead_rules() {
    let parsed =
        mxrules::syntax::load::parse_paths(
            &[Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.d")],
        )
        .unwrap();
    let rules = mxrules::check::check(&parsed).rules.unwrap();
    let report = analysis::analyse(&rules, &Options::default());
    let bad: Vec<_> = report
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f,
                Finding::Shadowed { .. }
                    | Finding::Duplicate { .. }
                    | Finding::Dead { .. }
                    | Finding::ExampleTaken { .. }
            )
        })
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
    eprintln!(
        "analysis of rules.d: {} rules, {} pairs ({} by prefix), {} undecided, {:.1} ms",
        report.stats.rules,
        report.stats.pairs,
        report.stats.pairs_skipped_by_prefix,
        report.stats.undecided,
        report.stats.elapsed.as_secs_f64() * 1000.0
    );
}

#[test]
fn reported_category_condition_applies_only_to_that_category() {
    let mut parsed = Parsed::default();
    parsed.add_text(
        "pmta.rules",
        "global {\n    initial 5.*.* reported policy-related, spam-related {\n        /^5[0-9][0-9] / -> 5.7.1 blocked policy-related\n    }\n    /^550 / -> 5.1.1 quarantine\n}\n",
    );
    let checked = mxrules::check::check(&parsed);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let rules = checked.rules.unwrap();
    assert_eq!(
        rules.rules[0].reported,
        vec![
            mxrules::core::status::Category::PolicyRelated,
            mxrules::core::status::Category::SpamRelated
        ]
    );
    let classifier = mxrules::compile::classifier(rules.clone()).unwrap();
    let reply = "550 Message rejected";
    let plain = classifier.classify(&Bounce::new(reply));
    assert_eq!(
        (plain.verdict.as_str(), plain.rule.as_deref()),
        ("quarantine", Some("pmta.rules:5"))
    );
    let policy = classifier.classify(
        &Bounce::new(reply).reported_category(mxrules::core::status::Category::PolicyRelated),
    );
    assert_eq!(
        (policy.verdict.as_str(), policy.rule.as_deref()),
        ("blocked", Some("pmta.rules:3"))
    );
    let other = classifier.classify(
        &Bounce::new(reply).reported_category(mxrules::core::status::Category::BadMailbox),
    );
    assert_eq!(other.rule.as_deref(), Some("pmta.rules:5"));
    // Not shadowing: the second rule still fires for bounces without the category.
    let report = analysis::analyse(&rules, &Options::default());
    assert!(
        report
            .findings
            .iter()
            .all(|f| !matches!(f, Finding::Shadowed { .. })),
        "{:?}",
        report.findings
    );
    // And the formatter keeps the clause.
    let src = "global { reported  spam-related,policy-related { /x/ -> 5.7.1 } }";
    let out = mxrules::syntax::fmt::format_source(mxrules::core::source::FileId(0), src).unwrap();
    assert_eq!(
        out,
        "global {\n    reported spam-related, policy-related {\n        /x/ -> 5.7.1\n    }\n}\n"
    );
    // An unknown category is an error with a suggestion.
    let mut parsed = Parsed::default();
    parsed.add_text(
        "bad.rules",
        "global { reported policy-relatd { /x/ -> 5.7.1 } }",
    );
    let d = mxrules::check::check(&parsed).diagnostics;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].message, "unknown category `policy-relatd`");
    assert_eq!(d[0].help.as_deref(), Some("did you mean `policy-related`?"));
}

/// A case loaded under its name, not checked yet.
fn parsed(name: &str) -> Parsed {
    let path = Path::new("tests/analysis").join(name);
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(&path)).unwrap();
    let mut parsed = Parsed::default();
    parsed.add_bytes(&path.to_string_lossy(), &bytes);
    parsed
}

#[test]
fn check_all_compiles_even_without_analysis_and_reports_rules_too_big() {
    let parsed = parsed("E015.rules");
    let opts = mxrules::check::Options {
        analysis: None,
        compile: mxrules::compile::Options {
            dfa_size_limit: 2_000,
            ..Default::default()
        },
        ..Default::default()
    };
    let checked = mxrules::check::check_all(&parsed, &opts);
    let codes: Vec<&str> = checked
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(codes, ["E015"]);
    assert!(checked.has_errors());
    assert!(checked.rules.is_some(), "the rules validate");
    assert!(checked.compiled.is_none());
    assert!(checked.analysis.is_none());
}

#[test]
fn check_all_runs_the_analysis_on_the_compiled_rules() {
    let parsed = parsed("four_findings.rules");
    let checked = mxrules::check::check_all(&parsed, &mxrules::check::Options::default());
    let (_, rules, report) = analyse("four_findings.rules", &Options::default());
    assert_eq!(checked.diagnostics, report.diagnostics);
    assert_eq!(checked.analysis.map(|s| s.rules), Some(rules.rules.len()));
    let compiled = checked.compiled.expect("the rules compile");
    assert_eq!(compiled.stats.rules, rules.rules.len());
}

#[test]
fn check_all_drops_allowed_warnings_and_denies_the_others() {
    let parsed = parsed("W005.rules");
    let allowed = mxrules::check::check_all(
        &parsed,
        &mxrules::check::Options {
            allow: vec![Code::ShadowedRule],
            ..Default::default()
        },
    );
    assert!(allowed.diagnostics.is_empty(), "{:?}", allowed.diagnostics);
    let denied = mxrules::check::check_all(
        &parsed,
        &mxrules::check::Options {
            deny_warnings: true,
            ..Default::default()
        },
    );
    assert_eq!(denied.diagnostics.len(), 1);
    assert_eq!(denied.diagnostics[0].code, Code::ShadowedRule);
    assert_eq!(
        denied.diagnostics[0].severity,
        mxrules::diag::Severity::Error
    );
    assert!(denied.has_errors());
    // The rules themselves are fine: validated and compiled.
    assert!(denied.compiled.is_some());
}
