//! Tests of the parser on valid input: snapshots of the syntax tree of every
//! valid rules file of the project (`tests/cases/valid_*.rules` and
//! `rules.d/*.rules`), the example of the design brief, and exact spans.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

use std::path::{Path, PathBuf};

use mxrules::check::analysis;
use mxrules::check::check;
use mxrules::core::source::{FileId, SourceFile, Span};
use mxrules::diag::{Diagnostic, render_human};
use mxrules::syntax::ast::{Block, File, ScopeItem, SelectorKind};
use mxrules::syntax::load::Parsed;
use mxrules::syntax::parse;

fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The valid rules files of the project, as paths relative to the crate
/// root, sorted: `tests/cases/valid_*.rules`, then `rules.d/*.rules`.
fn valid_files() -> Vec<String> {
    let mut out = Vec::new();
    for (dir, prefix) in [("tests/cases", "valid_"), ("rules.d", "")] {
        let mut names: Vec<String> = std::fs::read_dir(crate_root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(prefix) && n.ends_with(".rules"))
            .map(|n| format!("{dir}/{n}"))
            .collect();
        names.sort();
        out.extend(names);
    }
    out
}

fn stem(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".rules").unwrap_or(name).to_string()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(crate_root().join(path))
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn parse_ok(text: &str) -> File {
    match parse(FileId(0), text) {
        Ok(f) => f,
        Err(d) => panic!(
            "does not parse: {} at {:?}\n{text}",
            d.message, d.primary.span
        ),
    }
}

/// Everything `mxrules check` reports (with `--explain-overrides` when
/// `overrides` is set) for parsed files.
fn diagnose(parsed: &Parsed, overrides: bool) -> Vec<Diagnostic> {
    let opts = mxrules::check::Options {
        analysis: Some(analysis::Options {
            explain_overrides: overrides,
            ..Default::default()
        }),
        ..Default::default()
    };
    mxrules::check::check_all(parsed, &opts).diagnostics
}

fn assert_clean(parsed: &Parsed, overrides: bool, what: &str) {
    let diags = diagnose(parsed, overrides);
    assert!(
        diags.is_empty(),
        "{what} should check clean:\n{}",
        render_human(&diags, &parsed.sources, false)
    );
}

#[test]
fn the_valid_files_are_there() {
    let files = valid_files();
    let cases = files.iter().filter(|f| f.starts_with("tests/")).count();
    assert!(cases >= 3, "valid cases: {files:?}");
    assert!(files.contains(&String::from("rules.d/mail.ru.rules")));
    assert!(files.contains(&String::from("rules.d/policy.rules")));
    let mut stems: Vec<String> = files.iter().map(|f| stem(f)).collect();
    stems.sort();
    stems.dedup();
    assert_eq!(stems.len(), files.len(), "snapshot names must be unique");
}

#[test]
fn syntax_tree_snapshots() {
    for path in valid_files() {
        let file = parse_ok(&read(&path));
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("../snapshots");
        settings.set_prepend_module_to_snapshot(false);
        settings.set_input_file(crate_root().join(&path));
        settings.bind(|| {
            insta::assert_snapshot!(format!("parse__{}", stem(&path)), format!("{file:#?}"));
        });
    }
}

#[test]
fn each_valid_file_checks_clean() {
    for path in valid_files() {
        let mut parsed = Parsed::default();
        parsed.add_text(&path, &read(&path));
        // The valid cases have no override; the files of rules.d have some
        // on purpose (reported on request only, as information).
        assert_clean(&parsed, path.starts_with("tests/"), &path);
    }
}

#[test]
fn rules_d_checks_clean_as_a_whole() {
    let parsed = mxrules::syntax::load::parse_paths(&[crate_root().join("rules.d")]).unwrap();
    assert!(parsed.files.len() >= 2);
    assert_clean(&parsed, false, "rules.d");
}

#[test]
fn valid_full_uses_every_construct() {
    let file = parse_ok(&read("tests/cases/valid_full.rules"));
    let mut kinds = Vec::new();
    let mut policies = 0;
    let mut initial_patterns = Vec::new();
    let mut flags = Vec::new();
    let mut words = Vec::new();
    let mut notes = 0;
    let mut examples = 0;
    let mut max_values = 0;
    for block in &file.blocks {
        match block {
            Block::Policy(p) => policies += p.entries.len(),
            Block::Scope(s) => {
                for sel in &s.header.selectors {
                    kinds.push(sel.kind);
                    max_values = max_values.max(sel.values.len());
                }
                let mut rules = Vec::new();
                for item in &s.items {
                    match item {
                        ScopeItem::Rule(r) => rules.push(r),
                        ScopeItem::Initial(b) => {
                            initial_patterns.extend(b.patterns.iter().map(|p| p.value.clone()));
                            rules.extend(&b.rules);
                        }
                    }
                }
                for r in rules {
                    flags.push(r.flags.value.clone());
                    words.extend(r.words.iter().map(|w| w.value.clone()));
                    notes += usize::from(r.note.is_some());
                    examples += r.examples.len();
                }
            }
        }
    }
    for k in [
        SelectorKind::Global,
        SelectorKind::MxIs,
        SelectorKind::MxEndsWith,
        SelectorKind::RcptDomainIs,
    ] {
        assert!(kinds.contains(&k), "no {k:?} selector");
    }
    assert!(max_values >= 3, "a comma list of three values");
    assert_eq!(policies, 6);
    assert_eq!(
        initial_patterns,
        ["5.7.*", "4.*.*", "5.2.*", "5.0.0", "5.1.*", "4.*.*"]
    );
    assert!(flags.contains(&String::from("i")) && flags.contains(&String::new()));
    for w in [
        "quarantine",
        "blocked",
        "hard",
        "soft",
        "bad-mailbox",
        "other",
    ] {
        assert!(words.contains(&String::from(w)), "no word `{w}`");
    }
    assert!(notes >= 3);
    assert!(examples >= 8);
    assert!(file.comments.len() >= 10);
}

/// The example of the design brief ("The rule language"), verbatim.
const DESIGN_EXAMPLE: &str = r#"# rules.d/mail.ru.rules
mx ends with ".mail.ru" {
    initial 5.0.0 {
        /^503 Valid RCPT command must precede DATA/         -> 5.1.3 quarantine
        /^550 Message was not accepted -- invalid mailbox/  -> 5.1.1
        /^550 must be local recipient/                      -> 5.7.1 quarantine
        /^550 you have exceeded message receiving limit/    -> 5.2.0
    }
}
"#;

#[test]
fn design_example_parses_and_checks_clean() {
    let file = parse_ok(DESIGN_EXAMPLE);
    assert_eq!(file.comments.len(), 1);
    assert_eq!(file.comments[0].text, "# rules.d/mail.ru.rules");
    let [Block::Scope(scope)] = file.blocks.as_slice() else {
        panic!("one scope block expected: {file:#?}");
    };
    let [sel] = scope.header.selectors.as_slice() else {
        panic!("one selector expected");
    };
    assert_eq!(sel.kind, SelectorKind::MxEndsWith);
    assert_eq!(sel.values.len(), 1);
    assert_eq!(sel.values[0].value, ".mail.ru");
    let [ScopeItem::Initial(block)] = scope.items.as_slice() else {
        panic!("one initial block expected");
    };
    assert_eq!(block.patterns.len(), 1);
    assert_eq!(block.patterns[0].value, "5.0.0");
    let rules: Vec<(&str, &str, Vec<&str>)> = block
        .rules
        .iter()
        .map(|r| {
            (
                r.regex.value.as_str(),
                r.status.value.as_str(),
                r.words.iter().map(|w| w.value.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            (
                "^503 Valid RCPT command must precede DATA",
                "5.1.3",
                vec!["quarantine"]
            ),
            (
                "^550 Message was not accepted -- invalid mailbox",
                "5.1.1",
                vec![]
            ),
            ("^550 must be local recipient", "5.7.1", vec!["quarantine"]),
            (
                "^550 you have exceeded message receiving limit",
                "5.2.0",
                vec![]
            ),
        ]
    );

    let mut parsed = Parsed::default();
    parsed.add_text("rules.d/mail.ru.rules", DESIGN_EXAMPLE);
    assert_clean(&parsed, true, "the design example");
    let rules = check(&parsed).rules.unwrap();
    assert_eq!(rules.rules.len(), 4);
    let lines: Vec<String> = rules.rules.iter().map(|r| r.location()).collect();
    assert_eq!(
        lines,
        [
            "rules.d/mail.ru.rules:4",
            "rules.d/mail.ru.rules:5",
            "rules.d/mail.ru.rules:6",
            "rules.d/mail.ru.rules:7",
        ]
    );
}

// ---------------------------------------------------------------------------
// Spans.

/// The text of a span of `src`.
fn text(src: &str, span: Span) -> &str {
    &src[span.range()]
}

const SPANS: &str = r#"# header comment
policy { 5.1.1 -> quarantine  4.*.* -> soft }
mx is "mxs.mail.ru", "mx2.mail.ru" or rcpt domain is "bk.ru" {
    initial 5.0.0, 5.1.* {
        /^550 5\.1\.1 user \/ "x"/i -> 5.1.1 quarantine bad-mailbox "a \"quoted\" note" # trailing
            example "550 5.1.1 user / \"x\""
    }
    /^421 4\.7\.0/ -> 4.7.0
}
"#;

#[test]
fn spans_slice_back_to_the_exact_text() {
    let src = SPANS;
    let file = parse_ok(src);
    assert_eq!(file.span, Span::new(FileId(0), 0, src.len()));

    // Comments.
    let comments: Vec<&str> = file.comments.iter().map(|c| text(src, c.span)).collect();
    assert_eq!(comments, ["# header comment", "# trailing"]);

    // The policy block.
    let Block::Policy(policy) = &file.blocks[0] else {
        panic!("policy first")
    };
    assert_eq!(
        text(src, policy.span),
        "policy { 5.1.1 -> quarantine  4.*.* -> soft }"
    );
    assert_eq!(text(src, policy.keyword), "policy");
    assert_eq!(text(src, policy.close), "}");
    let entries: Vec<(&str, &str, &str)> = policy
        .entries
        .iter()
        .map(|e| {
            (
                text(src, e.span),
                text(src, e.pattern.span),
                text(src, e.verdict.span),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("5.1.1 -> quarantine", "5.1.1", "quarantine"),
            ("4.*.* -> soft", "4.*.*", "soft"),
        ]
    );

    // The scope header: selectors and their strings (spans include the
    // quotes, values do not).
    let Block::Scope(scope) = &file.blocks[1] else {
        panic!("scope second")
    };
    assert_eq!(
        text(src, scope.header.span),
        r#"mx is "mxs.mail.ru", "mx2.mail.ru" or rcpt domain is "bk.ru""#
    );
    let sels: Vec<(SelectorKind, &str)> = scope
        .header
        .selectors
        .iter()
        .map(|s| (s.kind, text(src, s.span)))
        .collect();
    assert_eq!(
        sels,
        [
            (SelectorKind::MxIs, r#"mx is "mxs.mail.ru", "mx2.mail.ru""#),
            (SelectorKind::RcptDomainIs, r#"rcpt domain is "bk.ru""#),
        ]
    );
    let v = &scope.header.selectors[0].values[1];
    assert_eq!(v.value, "mx2.mail.ru");
    assert_eq!(text(src, v.span), "\"mx2.mail.ru\"");
    assert_eq!(text(src, scope.close), "}");
    assert!(text(src, scope.span).starts_with("mx is"));
    assert!(text(src, scope.span).ends_with("-> 4.7.0\n}"));

    // The initial block.
    let ScopeItem::Initial(block) = &scope.items[0] else {
        panic!("initial block first")
    };
    assert_eq!(text(src, block.keyword), "initial");
    let pats: Vec<&str> = block.patterns.iter().map(|p| text(src, p.span)).collect();
    assert_eq!(pats, ["5.0.0", "5.1.*"]);
    assert_eq!(text(src, block.close), "}");

    // The rule: regex body without slashes, flags, status, words, note,
    // example.
    let rule = &block.rules[0];
    assert_eq!(text(src, rule.regex.span), r#"^550 5\.1\.1 user \/ "x""#);
    assert_eq!(rule.regex.value, r#"^550 5\.1\.1 user \/ "x""#);
    assert_eq!(text(src, rule.flags.span), "i");
    assert_eq!(text(src, rule.status.span), "5.1.1");
    let words: Vec<&str> = rule.words.iter().map(|w| text(src, w.span)).collect();
    assert_eq!(words, ["quarantine", "bad-mailbox"]);
    let note = rule.note.as_ref().unwrap();
    assert_eq!(text(src, note.span), r#""a \"quoted\" note""#);
    assert_eq!(note.value, r#"a "quoted" note"#);
    assert_eq!(rule.examples.len(), 1);
    let ex = &rule.examples[0];
    assert_eq!(text(src, ex.span), r#"example "550 5.1.1 user / \"x\"""#);
    assert_eq!(text(src, ex.reply.span), r#""550 5.1.1 user / \"x\"""#);
    assert_eq!(ex.reply.value, r#"550 5.1.1 user / "x""#);
    // A rule's span runs from its regex to its last example, without the
    // comment or the white space after it.
    assert!(text(src, rule.span).starts_with("/^550"));
    assert!(text(src, rule.span).ends_with(r#"\"x\"""#));

    // A rule with no flags, words, note or example.
    let ScopeItem::Rule(bare) = &scope.items[1] else {
        panic!("rule second")
    };
    assert_eq!(text(src, bare.span), r"/^421 4\.7\.0/ -> 4.7.0");
    assert_eq!(text(src, bare.regex.span), r"^421 4\.7\.0");
    assert_eq!(bare.flags.value, "");
    assert_eq!(bare.flags.span.start, bare.flags.span.end);
    assert_eq!(text(src, bare.status.span), "4.7.0");
    assert!(bare.words.is_empty() && bare.note.is_none() && bare.examples.is_empty());
}

#[test]
fn line_and_column_of_spans() {
    let file = parse_ok(SPANS);
    let source = SourceFile::new("spans.rules", SPANS);
    let Block::Scope(scope) = &file.blocks[1] else {
        panic!()
    };
    let ScopeItem::Initial(block) = &scope.items[0] else {
        panic!()
    };
    let rule = &block.rules[0];
    assert_eq!(source.line_col(rule.status.span.start as usize), (5, 40));
    assert_eq!(source.line_col(rule.regex.span.start as usize), (5, 10));
    assert_eq!(
        source.line_col(rule.examples[0].reply.span.start as usize),
        (6, 21)
    );
    assert_eq!(
        source.line_col(block.patterns[1].span.start as usize),
        (4, 20)
    );
    assert_eq!(source.slice(rule.status.span), "5.1.1");
}

#[test]
fn columns_count_characters_not_bytes() {
    // `é` is two bytes: the status starts at byte 25, which is column 25
    // (1-based, in characters; counting bytes would give 26).
    let src = "global { /^550 café/ -> 5.1.1 }";
    let file = parse_ok(src);
    let Block::Scope(scope) = &file.blocks[0] else {
        panic!()
    };
    let ScopeItem::Rule(rule) = &scope.items[0] else {
        panic!()
    };
    assert_eq!(text(src, rule.status.span), "5.1.1");
    assert_eq!(rule.status.span.start, 25);
    let source = SourceFile::new("cafe.rules", src);
    assert_eq!(source.line_col(25), (1, 25));
    assert_eq!(text(src, rule.regex.span), "^550 café");
}

#[test]
fn spans_of_a_second_file_name_it() {
    let mut parsed = Parsed::default();
    parsed.add_text("a.rules", "global { /a/ -> 5.1.1 }");
    parsed.add_text("b.rules", "mx is \"b.com\" { /b/ -> 5.2.2 }");
    assert!(parsed.diagnostics.is_empty());
    let (id, file) = &parsed.files[1];
    assert_eq!(*id, FileId(1));
    let Block::Scope(scope) = &file.blocks[0] else {
        panic!()
    };
    let ScopeItem::Rule(rule) = &scope.items[0] else {
        panic!()
    };
    assert_eq!(rule.status.span.file, FileId(1));
    let loc = parsed.sources.location(rule.status.span);
    assert_eq!(loc.to_string(), "b.rules:1:24");
}

#[test]
fn escapes() {
    // `\/` stays escaped in the regex (the regex syntax reads it as `/`);
    // `\"` and `\\` are unescaped in strings.
    let src = r#"mx is "a\"b\\c" { /^550 \/var\/mail "x"/ -> 5.1.1 "say \"hi\" \\ bye" example "550 /var/mail \"x\"" }"#;
    let file = parse_ok(src);
    let Block::Scope(scope) = &file.blocks[0] else {
        panic!()
    };
    assert_eq!(scope.header.selectors[0].values[0].value, r#"a"b\c"#);
    let ScopeItem::Rule(rule) = &scope.items[0] else {
        panic!()
    };
    assert_eq!(rule.regex.value, r#"^550 \/var\/mail "x""#);
    assert_eq!(rule.note.as_ref().unwrap().value, r#"say "hi" \ bye"#);
    assert_eq!(rule.examples[0].reply.value, r#"550 /var/mail "x""#);

    // The example matches the regex: `\/` means a slash.
    let mut parsed = Parsed::default();
    parsed.add_text(
        "escapes.rules",
        r#"global { /^550 \/var\/mail "x"/ -> 5.1.1 example "550 /var/mail \"x\"" }"#,
    );
    let checked = check(&parsed);
    assert!(checked.diagnostics.is_empty(), "{:#?}", checked.diagnostics);
}

#[test]
fn keywords_are_whole_words() {
    // `other` starts with `or`, `issue` with `is`, `mxs` with `mx`: none of
    // them is read as a keyword.
    let src = r#"mx is "mxs.example.com" { /^550 / -> 5.1.1 other }"#;
    let file = parse_ok(src);
    let Block::Scope(scope) = &file.blocks[0] else {
        panic!()
    };
    let ScopeItem::Rule(rule) = &scope.items[0] else {
        panic!()
    };
    assert_eq!(rule.words[0].value, "other");
    // A word that is a keyword is not a word: `example` wants a string.
    let err = parse(FileId(0), r#"global { /x/ -> 5.1.1 example }"#).unwrap_err();
    assert_eq!(err.code.as_str(), "E001");
    assert_eq!(err.primary.span.start, 30);
}

#[test]
fn no_whitespace_is_needed_between_most_tokens() {
    let file = parse_ok(&read("tests/cases/valid_compact.rules"));
    assert_eq!(file.blocks.len(), 3);
    let compact = parse_ok(r#"global{/a/->5.1.1 quarantine"n"example"a"}"#);
    let Block::Scope(scope) = &compact.blocks[0] else {
        panic!()
    };
    let ScopeItem::Rule(rule) = &scope.items[0] else {
        panic!()
    };
    assert_eq!(rule.words.len(), 1);
    assert_eq!(rule.note.as_ref().unwrap().value, "n");
    assert_eq!(rule.examples[0].reply.value, "a");
}

/// The span of a regex keeps its trailing spaces, which are part of it:
/// the span of `/^421 /` covers `^421 `, as its value does (pest trims the
/// spans of pairs of trailing white space).
#[test]
fn regex_span_includes_trailing_whitespace() {
    let src = "global { /^421 / -> 4.7.0 }";
    let file = parse_ok(src);
    let Block::Scope(scope) = &file.blocks[0] else {
        panic!()
    };
    let ScopeItem::Rule(rule) = &scope.items[0] else {
        panic!()
    };
    assert_eq!(rule.regex.value, "^421 ");
    assert_eq!(text(src, rule.regex.span), "^421 ");
}

/// The paths of the snapshot files this test writes, to catch a stale one
/// left by a valid file that was renamed or removed.
#[test]
fn no_stale_parse_snapshots() {
    let wanted: Vec<String> = valid_files()
        .iter()
        .map(|f| format!("parse__{}.snap", stem(f)))
        .collect();
    let dir: PathBuf = crate_root().join("snapshots");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("parse__") && name.ends_with(".snap") {
            assert!(wanted.contains(&name), "stale snapshot {name}");
        }
    }
}
