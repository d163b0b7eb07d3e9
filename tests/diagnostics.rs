//! Golden tests of the diagnostics, one per code.
//!
//! Every code of [`Code::ALL`] has an input named after it in `tests/cases/`
//! (`E001.rules`, ..., `I002.rules`) that triggers exactly that code, and a
//! snapshot of its rendering, `snapshots/diag__<code>.snap`. Adding a code
//! without its golden input fails [`every_code_has_a_case`].
//!
//! Each input goes through [`mxrules::check::check_all`], what `mxrules
//! check` runs (parse, validate, compile, analyse), so codes of every stage
//! are covered. Inputs too large to
//! commit (E012: a file over [`mxrules::syntax::MAX_FILE_BYTES`]) are written
//! by the test into a temporary directory and loaded from there under a
//! stable name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mxrules::check::{self, analysis, check, check_all};
use mxrules::core::source::SourceMap;
use mxrules::diag::{Code, Diagnostic, Severity, render_human, render_json};
use mxrules::syntax::load::Parsed;

/// The directory of the golden inputs, relative to the crate root.
const CASES: &str = "tests/cases";

fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Codes whose input the test writes instead of committing it.
const GENERATED: &[Code] = &[Code::TooComplex];

/// One diagnostic: its code, line, column and the text under its caret.
type Expected<'a> = (Code, usize, usize, &'a str);

/// What each case reports, in order: the code, the line and column (both
/// 1-based) of the primary label, and the exact text under the caret. Every
/// case reports its own code and no other, except where listed here.
const EXPECTED: &[(Code, &[Expected<'static>])] = &[
    (Code::Syntax, &[(Code::Syntax, 3, 77, "5.1.1")]),
    (Code::RegexSyntax, &[(Code::RegexSyntax, 3, 19, "(")]),
    (Code::InvalidStatus, &[(Code::InvalidStatus, 3, 80, "8")]),
    (
        Code::UnknownWord,
        &[(Code::UnknownWord, 4, 49, "quarantined")],
    ),
    (
        Code::DuplicateScope,
        &[(Code::DuplicateScope, 6, 43, "\".yandex.net\"")],
    ),
    (
        Code::ExampleMismatch,
        &[(
            Code::ExampleMismatch,
            4,
            17,
            "\"452 4.2.2 The recipient's inbox is out of storage space\"",
        )],
    ),
    (Code::UnknownFlag, &[(Code::UnknownFlag, 3, 61, "g")]),
    (
        Code::DuplicatePolicy,
        &[(Code::DuplicatePolicy, 5, 5, "5.1.1")],
    ),
    (
        Code::WildcardStatus,
        &[(Code::WildcardStatus, 3, 58, "5.7.*")],
    ),
    (
        Code::RepeatedAttribute,
        &[(Code::RepeatedAttribute, 3, 94, "hard")],
    ),
    (Code::InvalidUtf8, &[(Code::InvalidUtf8, 1, 12, "\u{fffd}")]),
    (Code::TooComplex, &[(Code::TooComplex, 1, 1, "")]),
    (
        Code::ExampleInitial,
        &[(
            Code::ExampleInitial,
            5,
            21,
            "\"550 5.1.1 Message was not accepted -- invalid mailbox. Local mailbox user@mail.ru is unavailable: user not found\"",
        )],
    ),
    (
        Code::BadScopeValue,
        &[(Code::BadScopeValue, 2, 14, "\"*.protection.outlook.com\"")],
    ),
    (
        Code::RuleTooBig,
        // The analysis cannot build the rule's automaton either, and says so
        // (I002): the one case with a second code, unavoidably.
        &[
            (
                Code::RuleTooBig,
                5,
                5,
                "/[45][0-9][0-9].{20}user unknown/ -> 5.1.1 quarantine",
            ),
            (
                Code::Undecided,
                5,
                5,
                "/[45][0-9][0-9].{20}user unknown/ -> 5.1.1 quarantine",
            ),
        ],
    ),
    (
        Code::StatusClassMismatch,
        &[(Code::StatusClassMismatch, 4, 83, "5.2.2")],
    ),
    (
        Code::EmptyBlock,
        &[(Code::EmptyBlock, 2, 1, "mx ends with \".yahoodns.net\"")],
    ),
    (Code::PolicyGap, &[(Code::PolicyGap, 2, 1, "policy")]),
    // The span of an empty regex runs from its (empty) body to the end of
    // its flags: the closing slash.
    (Code::EmptyRegex, &[(Code::EmptyRegex, 3, 6, "/")]),
    (
        Code::ShadowedRule,
        &[(
            Code::ShadowedRule,
            6,
            9,
            "/^550 Message was not accepted -- invalid mailbox\\. .* user not found/ -> 5.1.1 quarantine",
        )],
    ),
    (
        Code::ConflictingOverlap,
        &[(
            Code::ConflictingOverlap,
            4,
            5,
            "/Recipient address rejected/ -> 5.1.1 quarantine",
        )],
    ),
    (
        Code::DuplicateRule,
        &[(
            Code::DuplicateRule,
            5,
            5,
            "/^550 5\\.1\\.1 / -> 5.1.1 quarantine",
        )],
    ),
    (
        Code::DeadRegex,
        &[(
            Code::DeadRegex,
            4,
            5,
            "/^550 5\\.1\\.1 <$USER>: Recipient address rejected/ -> 5.1.1 quarantine",
        )],
    ),
    (
        Code::ExampleTaken,
        &[(
            Code::ExampleTaken,
            5,
            17,
            "\"554 delivery error: dd This user doesn't have a yahoo.com account - mta1234.mail.bf1.yahoo.com\"",
        )],
    ),
    (
        Code::CrossScopeOverride,
        &[(
            Code::CrossScopeOverride,
            8,
            5,
            "/^550 5\\.7\\.1 .*mailbox unavailable/i -> 5.7.1 blocked",
        )],
    ),
    (
        Code::Undecided,
        &[(
            Code::Undecided,
            7,
            5,
            "/[a-z].{4}rejected/     -> 5.7.1 blocked",
        )],
    ),
];

/// The analysis settings of a case: what `mxrules check --explain-overrides`
/// uses, except for I002, which runs with a budget of 500 states: an input
/// that exhausts the default budget takes many seconds in a debug build.
fn analysis_options(code: Code) -> analysis::Options {
    let mut opts = analysis::Options {
        explain_overrides: true,
        ..Default::default()
    };
    if code == Code::Undecided {
        opts.state_budget = 500;
    }
    opts
}

/// The path of a committed case, relative to the crate root.
fn case_path(code: Code) -> String {
    format!("{CASES}/{code}.rules")
}

/// The E012 input: comment lines (short, so the snippet stays one line)
/// until the file is larger than the limit.
fn too_large_file() -> Vec<u8> {
    let line = b"# padding: 550 5.1.1 The email account that you tried to reach does not exist\n";
    let mut out = b"# a rules file larger than a rules file may be\n".to_vec();
    while out.len() <= mxrules::syntax::MAX_FILE_BYTES {
        out.extend_from_slice(line);
    }
    out
}

/// A fresh directory under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mxrules-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Loads the case of `code` under a stable relative name.
fn load_case(code: Code) -> Parsed {
    let mut parsed = Parsed::default();
    if GENERATED.contains(&code) {
        let bytes = match code {
            Code::TooComplex => too_large_file(),
            _ => unreachable!("no generator for {code}"),
        };
        let dir = temp_dir(code.as_str());
        let path = dir.join(format!("{code}.rules"));
        std::fs::write(&path, &bytes).unwrap();
        let read = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        parsed.add_bytes(&format!("generated/{code}.rules"), &read);
    } else {
        let name = case_path(code);
        let bytes = std::fs::read(crate_root().join(&name))
            .unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
        parsed.add_bytes(&name, &bytes);
    }
    parsed
}

/// Every diagnostic of the whole pipeline, sorted, as `mxrules check`
/// reports them. The flag says whether the rules compiled.
fn diagnose(parsed: &Parsed, opts: &analysis::Options) -> (Vec<Diagnostic>, bool) {
    let checked = check_all(
        parsed,
        &check::Options {
            analysis: Some(opts.clone()),
            ..Default::default()
        },
    );
    let compiled = checked.compiled.is_some();
    (checked.diagnostics, compiled)
}

fn codes(diags: &[Diagnostic]) -> BTreeSet<&'static str> {
    diags.iter().map(|d| d.code.as_str()).collect()
}

fn snapshot(name: &str, input_file: Option<&str>, value: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    if let Some(f) = input_file {
        settings.set_input_file(crate_root().join(f));
    }
    settings.bind(|| insta::assert_snapshot!(name, value));
}

/// Checks one case: the codes reported, where they point, the severity, and
/// the rendering against its snapshot.
fn run_case(code: Code) {
    let parsed = load_case(code);
    let (diags, compiled) = diagnose(&parsed, &analysis_options(code));
    let (_, expected) = EXPECTED
        .iter()
        .find(|(c, _)| *c == code)
        .unwrap_or_else(|| panic!("{code}: add what it reports to EXPECTED"));
    // The case's own code, and any other only where EXPECTED lists it.
    let want: BTreeSet<&str> = expected.iter().map(|e| e.0.as_str()).collect();
    assert!(want.contains(code.as_str()), "{code}: EXPECTED lacks it");
    assert_eq!(codes(&diags), want, "{code}: codes reported: {diags:#?}");
    let got: Vec<Expected<'_>> = diags
        .iter()
        .map(|d| {
            let loc = parsed.sources.location(d.primary.span);
            let text = parsed
                .sources
                .get(d.primary.span.file)
                .map_or("", |f| f.slice(d.primary.span));
            (d.code, loc.line, loc.column, text)
        })
        .collect();
    assert_eq!(got, *expected, "{code}: where the diagnostics point");
    for d in &diags {
        assert_eq!(d.severity, d.code.severity(), "{code}: severity");
        assert!(
            !d.message.ends_with('.'),
            "{code}: message ends with a period"
        );
        assert!(
            !d.message.starts_with(|c: char| c.is_uppercase()),
            "{code}: message starts with a capital"
        );
    }
    assert_eq!(
        compiled,
        code.severity() != Severity::Error,
        "{code}: the rules compile exactly when there is no error"
    );

    let rendered = render_human(&diags, &parsed.sources, false);
    assert!(!rendered.contains('\x1b'), "{code}: colour in plain output");
    assert!(
        rendered.starts_with(&format!("{}[{code}]: ", code.severity())),
        "{code}: rendering starts with its title:\n{rendered}"
    );
    let input = (!GENERATED.contains(&code)).then(|| case_path(code));
    snapshot(&format!("diag__{code}"), input.as_deref(), &rendered);
}

/// One test per code; `TESTED` lists them for [`every_code_has_a_case`].
macro_rules! cases {
    ($($test:ident => $code:ident,)*) => {
        $(
            #[test]
            fn $test() {
                run_case(Code::$code);
            }
        )*
        const TESTED: &[Code] = &[$(Code::$code,)*];
    };
}

cases! {
    e001_syntax_error => Syntax,
    e002_invalid_regex => RegexSyntax,
    e003_invalid_status => InvalidStatus,
    e004_unknown_word => UnknownWord,
    e005_duplicate_scope => DuplicateScope,
    e006_example_mismatch => ExampleMismatch,
    e007_unknown_flag => UnknownFlag,
    e008_duplicate_policy => DuplicatePolicy,
    e009_wildcard_status => WildcardStatus,
    e010_repeated_attribute => RepeatedAttribute,
    e011_invalid_utf8 => InvalidUtf8,
    e012_too_complex => TooComplex,
    e013_example_initial_mismatch => ExampleInitial,
    e014_invalid_scope_value => BadScopeValue,
    e015_rule_too_big => RuleTooBig,
    w001_status_class_mismatch => StatusClassMismatch,
    w002_empty_block => EmptyBlock,
    w003_policy_gap => PolicyGap,
    w004_empty_regex => EmptyRegex,
    w005_shadowed_rule => ShadowedRule,
    w006_conflicting_overlap => ConflictingOverlap,
    w007_duplicate_rule => DuplicateRule,
    w008_dead_regex => DeadRegex,
    w009_example_taken => ExampleTaken,
    i001_cross_scope_override => CrossScopeOverride,
    i002_undecided => Undecided,
}

#[test]
fn every_code_has_a_case() {
    let all: BTreeSet<Code> = Code::ALL.iter().copied().collect();
    let tested: BTreeSet<Code> = TESTED.iter().copied().collect();
    assert_eq!(tested, all, "add a test to `cases!` for every code");
    let mut missing = Vec::new();
    for &code in Code::ALL {
        let committed = crate_root().join(case_path(code)).is_file();
        if committed == GENERATED.contains(&code) {
            missing.push(code.as_str());
        }
        assert!(
            EXPECTED.iter().any(|(c, _)| *c == code),
            "{code}: no entry in EXPECTED"
        );
    }
    assert!(
        missing.is_empty(),
        "codes without exactly one golden input (a file in {CASES}/ or a generator): {missing:?}"
    );
    // And no case file for a code that does not exist.
    for entry in std::fs::read_dir(crate_root().join(CASES)).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".rules") else {
            continue;
        };
        if stem.len() == 4 && stem.starts_with(['E', 'W', 'I']) {
            assert!(
                Code::ALL.iter().any(|c| c.as_str() == stem),
                "{name} is named after no code"
            );
        }
    }
}

#[test]
fn codes_are_unique_and_named() {
    let printed: BTreeSet<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
    let names: BTreeSet<_> = Code::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(printed.len(), Code::ALL.len());
    assert_eq!(names.len(), Code::ALL.len());
    for &c in Code::ALL {
        let want = match c.as_str().as_bytes()[0] {
            b'E' => Severity::Error,
            b'W' => Severity::Warning,
            _ => Severity::Info,
        };
        assert_eq!(c.severity(), want, "{c}");
        assert_eq!(Code::from_str_or_name(c.as_str()), Some(c));
        assert_eq!(Code::from_str_or_name(&c.as_str().to_lowercase()), Some(c));
        assert_eq!(Code::from_str_or_name(c.name()), Some(c));
        assert!(
            c.name()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{c}: name `{}` is not snake_case",
            c.name()
        );
    }
    assert_eq!(Code::from_str_or_name("E999"), None);
}

#[test]
fn json_rendering() {
    let code = Code::DuplicateScope;
    let parsed = load_case(code);
    let checked = check(&parsed);
    let json = render_json(&checked.diagnostics, &parsed.sources);
    let lines: Vec<&str> = json.lines().collect();
    assert_eq!(lines.len(), 1, "one line per diagnostic:\n{json}");
    assert!(json.ends_with('\n'));
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["code"], "E005");
    assert_eq!(v["name"], "duplicate_scope");
    assert_eq!(v["severity"], "error");
    assert_eq!(v["file"], "tests/cases/E005.rules");
    assert_eq!(v["line"], 6);
    assert_eq!(v["column"], 43);
    assert_eq!(v["end_line"], 6);
    assert_eq!(v["end_column"], 56);
    assert_eq!(
        v["message"],
        "scope `mx ends with \".yandex.net\"` is declared twice"
    );
    assert_eq!(v["label"], "declared again here");
    assert_eq!(v["related"].as_array().unwrap().len(), 1);
    assert_eq!(v["related"][0]["file"], "tests/cases/E005.rules");
    assert_eq!(v["related"][0]["line"], 2);
    assert_eq!(v["related"][0]["column"], 14);
    assert_eq!(v["related"][0]["label"], "first declared here");
    assert_eq!(v["notes"], serde_json::json!([]));
    assert_eq!(
        v["help"],
        "move these rules into the first block, in the order they should be tried"
    );
    snapshot("diag__E005_json", Some(&case_path(code)), &json);
}

#[test]
fn json_rendering_without_help_or_related_labels() {
    // A syntax error has one label, no notes and no help.
    let parsed = load_case(Code::Syntax);
    let checked = check(&parsed);
    let json = render_json(&checked.diagnostics, &parsed.sources);
    let v: serde_json::Value = serde_json::from_str(json.trim_end()).unwrap();
    assert_eq!(v["code"], "E001");
    assert_eq!(
        (v["line"].as_u64(), v["column"].as_u64()),
        (Some(3), Some(77))
    );
    assert_eq!(
        (v["end_line"].as_u64(), v["end_column"].as_u64()),
        (Some(3), Some(82))
    );
    assert_eq!(v["help"], serde_json::Value::Null);
    assert_eq!(v["related"], serde_json::json!([]));
}

#[test]
fn five_mistakes() {
    let name = format!("{CASES}/five_mistakes.rules");
    let mut parsed = Parsed::default();
    parsed.add_bytes(&name, &std::fs::read(crate_root().join(&name)).unwrap());
    let checked = check(&parsed);
    let found: Vec<(&str, usize, usize)> = checked
        .diagnostics
        .iter()
        .map(|d| {
            let loc = parsed.sources.location(d.primary.span);
            (d.code.as_str(), loc.line, loc.column)
        })
        .collect();
    assert_eq!(
        found,
        [
            ("E002", 12, 19),
            ("E003", 14, 80),
            ("E004", 20, 49),
            ("E006", 23, 21),
            ("E005", 28, 14),
        ]
    );
    assert_eq!(codes(&checked.diagnostics).len(), 5, "five distinct codes");
    assert!(checked.rules.is_none());
    let rendered = render_human(&checked.diagnostics, &parsed.sources, false);
    assert_eq!(rendered.matches("error[").count(), 5);
    snapshot("diag__five_mistakes", Some(&name), &rendered);
}

#[test]
fn diagnostics_are_sorted_by_file_and_position() {
    // Two files, each with an error, added in reverse order of their names:
    // diagnostics come in the order the files were added, then by position.
    let mut parsed = Parsed::default();
    parsed.add_text(
        "b.rules",
        "mx is \"mx.b.com\" {\n    /x/ -> 5.9.1\n    /y/ -> 9.1.1\n}\n",
    );
    parsed.add_text(
        "a.rules",
        "mx is \"mx.a.com\" {\n    /x/ -> 5.1.1 nope\n}\n",
    );
    let checked = check(&parsed);
    let got: Vec<String> = checked
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.code, parsed.sources.location(d.primary.span)))
        .collect();
    assert_eq!(
        got,
        [
            "E003 b.rules:2:14",
            "E003 b.rules:3:12",
            "E004 a.rules:2:18",
        ]
    );
}

#[test]
fn colour_only_when_asked() {
    let parsed = load_case(Code::UnknownWord);
    let checked = check(&parsed);
    let plain = render_human(&checked.diagnostics, &parsed.sources, false);
    let styled = render_human(&checked.diagnostics, &parsed.sources, true);
    assert!(!plain.contains('\x1b'));
    assert!(styled.contains("\x1b["));
    let strip = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
    assert_eq!(strip.replace_all(&styled, ""), plain);
}

#[test]
fn an_empty_source_map_renders_nothing_for_no_diagnostics() {
    assert_eq!(render_human(&[], &SourceMap::new(), false), "");
    assert_eq!(render_json(&[], &SourceMap::new()), "");
}
