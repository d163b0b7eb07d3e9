//! Hostile and odd input: every file gets a diagnostic (or checks clean when
//! it is valid), never a panic, a hang or a stack overflow. Each test asserts
//! the exact code and position; a few renderings are snapshots
//! (`snapshots/bad__*.snap`).
//!
//! Sizes are chosen to run in reasonable time in the debug test profile: the
//! parser reads about half a megabyte of rules a second there (release is
//! some 15 times faster), so the 10 MB inputs are garbage and comments, and
//! the valid file of repeated rules is 1 MB (the 10 MB one is `#[ignore]`d).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

use mxrules::check::check;
use mxrules::diag::{Diagnostic, render_human};
use mxrules::syntax::load::Parsed;

/// Parses and checks one file given as bytes.
fn run(name: &str, bytes: &[u8]) -> (Parsed, Vec<Diagnostic>) {
    let mut parsed = Parsed::default();
    parsed.add_bytes(name, bytes);
    let diags = check(&parsed).diagnostics;
    (parsed, diags)
}

/// The code, line and column of each diagnostic.
fn found(parsed: &Parsed, diags: &[Diagnostic]) -> Vec<(&'static str, usize, usize)> {
    diags
        .iter()
        .map(|d| {
            let loc = parsed.sources.location(d.primary.span);
            (d.code.as_str(), loc.line, loc.column)
        })
        .collect()
}

/// Asserts the diagnostics of `bytes` and returns them with the sources.
fn expect(name: &str, bytes: &[u8], want: &[(&str, usize, usize)]) -> (Parsed, Vec<Diagnostic>) {
    let (parsed, diags) = run(name, bytes);
    assert_eq!(found(&parsed, &diags), want, "{name}: {diags:#?}");
    (parsed, diags)
}

fn snapshot(name: &str, value: &str) {
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, value);
    });
}

fn render(parsed: &Parsed, diags: &[Diagnostic]) -> String {
    render_human(diags, &parsed.sources, false)
}

/// xorshift64: deterministic bytes, the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 24) as u8).collect()
    }
}

const MB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------
// Empty and comment-only files.

#[test]
fn empty_file() {
    let (parsed, diags) = expect("empty.rules", b"", &[("W002", 1, 1)]);
    assert_eq!(diags[0].message, "file holds no rules and no policy");
    snapshot("bad__empty_file", &render(&parsed, &diags));
}

#[test]
fn white_space_only() {
    expect("blank.rules", b"\n\n   \t\r\n\n", &[("W002", 1, 1)]);
}

#[test]
fn only_comments() {
    let src =
        "# Yahoo: rules to come\n\n    # indented comment\n#no space\n# last line without newline";
    let (parsed, diags) = expect("comments.rules", src.as_bytes(), &[("W002", 1, 1)]);
    assert_eq!(parsed.files[0].1.comments.len(), 4);
    assert_eq!(
        parsed.files[0].1.comments[3].text,
        "# last line without newline"
    );
    assert!(check(&parsed).rules.is_some(), "a warning only: {diags:#?}");
}

// ---------------------------------------------------------------------------
// Garbage.

#[test]
fn binary_garbage() {
    let bytes = Rng(0x5EED_0001).bytes(4096);
    let bad = std::str::from_utf8(&bytes).unwrap_err().valid_up_to();
    let (parsed, diags) = expect("garbage.bin", &bytes, &[("E011", 1, 1)]);
    assert_eq!(bad, 0);
    assert_eq!(diags[0].primary.span.start as usize, bad);
    assert_eq!(diags[0].primary.text, "invalid byte sequence at byte 0");
    let _ = render(&parsed, &diags);
}

#[test]
fn printable_garbage() {
    // Seeded printable ASCII and line breaks: valid UTF-8, not rules.
    let mut rng = Rng(0x5EED_0002);
    let bytes: Vec<u8> = (0..4096)
        .map(|_| match rng.next() % 100 {
            0..=2 => b'\n',
            n => b' ' + (n % 95) as u8,
        })
        .collect();
    let text = String::from_utf8(bytes).unwrap();
    let (parsed, diags) = expect("printable.rules", text.as_bytes(), &[("E001", 1, 1)]);
    let _ = render(&parsed, &diags);
}

/// Garbage that starts like rules and goes wrong later.
#[test]
fn garbage_after_a_valid_block() {
    let mut bytes = b"policy { 5.*.* -> hard 4.*.* -> soft }\n".to_vec();
    bytes.extend(Rng(0x5EED_0003).bytes(1000).iter().map(|b| b'!' + b % 90));
    expect("tail.rules", &bytes, &[("E001", 2, 1)]);
}

#[test]
fn ten_mb_line_of_garbage() {
    let bytes = vec![b'x'; 10 * MB];
    let (parsed, diags) = expect("big.rules", &bytes, &[("E001", 1, 1)]);
    // The label covers a bounded token, not the whole line.
    assert_eq!(diags[0].primary.span.end - diags[0].primary.span.start, 40);
    let out = render(&parsed, &diags);
    assert!(out.starts_with("error[E001]: expected a rules file, found `xxxx"));
    assert!(out.contains(" --> big.rules:1:1\n"));
    assert!(out.len() < 2000, "the snippet is cut, not 10 MB long");
}

#[test]
fn ten_mb_of_comments_then_an_error() {
    let line = "# Gmail sends 550-5.1.1 on every line of a multi-line reply; keep it\n";
    let lines = 10 * MB / line.len() + 1;
    let mut src = line.repeat(lines);
    src.push_str("global {\n    /^550 5\\.1\\.1 / -> 5.9.1 quarantine\n}\n");
    assert!(src.len() > 10 * MB);
    let (parsed, diags) = expect("comments.rules", src.as_bytes(), &[("E003", lines + 2, 26)]);
    assert_eq!(parsed.files[0].1.comments.len(), lines);
    let out = render(&parsed, &diags);
    assert!(out.contains(&format!("comments.rules:{}:26", lines + 2)));
}

fn repeated_rules(size: usize) -> (String, usize) {
    let rule = "    /^550 5\\.1\\.1 <[^>]+>: Recipient address rejected: User unknown in virtual mailbox table/ -> 5.1.1 quarantine bad-mailbox\n";
    let n = size / rule.len() + 1;
    let src = format!(
        "# Postfix virtual domains.\nmx ends with \".example.com\" {{\n{}}}\n",
        rule.repeat(n)
    );
    (src, n)
}

#[test]
fn one_mb_of_valid_rules() {
    let (src, n) = repeated_rules(MB);
    let (parsed, diags) = expect("many.rules", src.as_bytes(), &[]);
    let rules = check(&parsed).rules.unwrap();
    assert_eq!(rules.rules.len(), n);
    assert_eq!(
        rules.rules[n - 1].location(),
        format!("many.rules:{}", n + 2)
    );
    assert!(diags.is_empty());
}

#[test]
#[ignore = "slow in the debug profile (about 25 s); 2 s in release"]
fn ten_mb_of_valid_rules() {
    let (src, n) = repeated_rules(10 * MB);
    let (parsed, _) = expect("many.rules", src.as_bytes(), &[]);
    assert_eq!(check(&parsed).rules.unwrap().rules.len(), n);
}

// ---------------------------------------------------------------------------
// Nesting.

#[test]
fn hundred_thousand_nested_braces() {
    let src = format!("global {}", "{".repeat(100_000));
    let (parsed, diags) = expect("braces.rules", src.as_bytes(), &[("E001", 1, 9)]);
    assert_eq!(
        diags[0].message,
        "expected `}`, a regex like `/^550 /` or an `initial` or `reported` block, found `{`"
    );
    let out = render(&parsed, &diags);
    assert!(out.len() < 2000, "the snippet is cut");
    snapshot("bad__nested_braces", &out);
}

#[test]
fn hundred_thousand_braces_alone() {
    let src = "{".repeat(100_000);
    expect("braces.rules", src.as_bytes(), &[("E001", 1, 1)]);
    let src = "}".repeat(100_000);
    expect("braces.rules", src.as_bytes(), &[("E001", 1, 1)]);
}

#[test]
fn deeply_nested_regex_groups() {
    // The regex parser stops at its nesting limit; the error points inside
    // the regex, at the 250th group (column 11 is the first).
    let depth = 100_000;
    let src = format!(
        "global {{\n    /^550 {}x{}/ -> 5.1.1\n}}\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let (parsed, diags) = expect("groups.rules", src.as_bytes(), &[("E002", 2, 260)]);
    assert_eq!(
        diags[0].message,
        "invalid regex: exceed the maximum number of nested parentheses/brackets (250)"
    );
    let out = render(&parsed, &diags);
    assert!(out.len() < 2000, "the snippet is cut");
}

// ---------------------------------------------------------------------------
// Unterminated tokens.

#[test]
fn unterminated_regex() {
    let src =
        "mx ends with \".mail.ru\" {\n    /^550 must be local recipient -> 5.7.1 quarantine\n}\n";
    let (parsed, diags) = expect("unterminated.rules", src.as_bytes(), &[("E001", 2, 54)]);
    assert_eq!(diags[0].message, "unterminated regex");
    snapshot("bad__unterminated_regex", &render(&parsed, &diags));
}

#[test]
fn unterminated_regex_at_end_of_file() {
    let src = "global {\n    /^550 user unknown";
    let (_, diags) = expect("eof.rules", src.as_bytes(), &[("E001", 2, 23)]);
    assert_eq!(diags[0].message, "unterminated regex");
}

#[test]
fn unterminated_string() {
    // The diagnostic points at the end of the line, where the quote is missing.
    let src =
        "mx ends with \".mail.ru {\n    /^550 must be local recipient/ -> 5.7.1 quarantine\n}\n";
    let (_, d) = expect("unterminated.rules", src.as_bytes(), &[("E001", 1, 25)]);
    assert_eq!(d[0].message, "unterminated string");
    let src = "global {\n    /^550 user unknown/ -> 5.1.1 \"no such user\n}\n";
    expect("unterminated.rules", src.as_bytes(), &[("E001", 2, 47)]);
    let src = "global {\n    /^550 user unknown/ -> 5.1.1 example \"550 user unknown";
    expect("unterminated.rules", src.as_bytes(), &[("E001", 2, 59)]);
}

/// An unterminated string is named as such (pest's error alone would be the
/// generic list of what was expected, since it never names the string body).
#[test]
fn unterminated_string_says_so() {
    let src =
        "mx ends with \".mail.ru {\n    /^550 must be local recipient/ -> 5.7.1 quarantine\n}\n";
    let (_, diags) = run("unterminated.rules", src.as_bytes());
    assert_eq!(diags[0].message, "unterminated string");
}

/// A string with an escape other than `\"` and `\\` (`\n`, `\r`, `\t`) is
/// told which escape is wrong, not only where the string opens.
#[test]
fn unknown_string_escape_names_the_escape() {
    let src = "global {\n    /^452 / -> 4.2.2 example \"452-4.2.2 over quota\\r\\n452 4.2.2 try later\"\n}\n";
    let (_, diags) = run("escape.rules", src.as_bytes());
    assert!(diags[0].message.contains("escape"), "{}", diags[0].message);
}

#[test]
fn unknown_string_escape_is_an_error() {
    let src = "global {\n    /^452 / -> 4.2.2 example \"452-4.2.2 over quota\\r\\n452 4.2.2 try later\"\n}\n";
    let (_, d) = expect("escape.rules", src.as_bytes(), &[("E001", 2, 51)]);
    assert_eq!(d[0].message, "unknown escape `\\r` in a string");
}

// ---------------------------------------------------------------------------
// Bytes that do not belong.

#[test]
fn invalid_utf8_in_the_middle() {
    let mut bytes = b"# Orange\nmx ends with \".orange.fr\" {\n    /^550 5\\.1\\.1 Adresse d'au moins un destinataire invalide/ -> 5.1.1 quarantine \"r".to_vec();
    bytes.push(0xE9); // `é` in Latin-1
    bytes.extend_from_slice(b"ponse Orange\"\n}\n");
    let (parsed, diags) = expect("latin1.rules", &bytes, &[("E011", 3, 86)]);
    assert_eq!(diags[0].primary.text, "invalid byte sequence at byte 122");
    // The text is kept, the bad byte replaced, so the line can be shown.
    let out = render(&parsed, &diags);
    assert!(out.contains("quarantine \"r\u{fffd}ponse Orange\""));
    snapshot("bad__invalid_utf8_in_the_middle", &out);
}

#[test]
fn truncated_utf8_at_the_end() {
    // The first byte of a two-byte sequence, then the end of the file.
    let mut bytes = b"global { /^550 caf".to_vec();
    bytes.push(0xC3);
    expect("truncated.rules", &bytes, &[("E011", 1, 19)]);
}

#[test]
fn nul_byte_between_tokens() {
    let src = "global {\n    /^550 user unknown/ \0-> 5.1.1\n}\n";
    let (parsed, diags) = expect("nul.rules", src.as_bytes(), &[("E001", 2, 25)]);
    assert_eq!(
        diags[0].message,
        "expected `->`, found the character U+0000"
    );
    snapshot("bad__nul_byte", &render(&parsed, &diags));
}

#[test]
fn nul_byte_in_a_comment_or_a_regex() {
    let src = "# a NUL \0 here\nglobal {\n    /^550 \0user unknown/ -> 5.1.1\n}\n";
    expect("nul.rules", src.as_bytes(), &[]);
}

#[test]
fn control_characters() {
    let src = "global {\n    /^550 user unknown/ -> 5.1.1\x0b\n}\n";
    let (_, diags) = expect("vt.rules", src.as_bytes(), &[("E001", 2, 33)]);
    assert!(diags[0].message.ends_with("found the character U+000B"));
}

// ---------------------------------------------------------------------------
// Line endings, tabs and a byte order mark.

const CRLF: &str = "policy {\r\n    5.1.1 -> quarantine\r\n    5.*.* -> hard\r\n    4.*.* -> soft\r\n}\r\n\r\nmx ends with \".mail.ru\" {\r\n    initial 5.0.0 {\r\n        /^550 must be local recipient/ -> 5.7.1 quarantine\r\n            example \"550 must be local recipient\"\r\n    }\r\n}\r\n";

#[test]
fn crlf_line_endings() {
    let (parsed, _) = expect("crlf.rules", CRLF.as_bytes(), &[]);
    let rules = check(&parsed).rules.unwrap();
    assert_eq!(rules.rules[0].location(), "crlf.rules:9");
    assert_eq!(rules.rules[0].examples, ["550 must be local recipient"]);
}

#[test]
fn crlf_positions() {
    let src = CRLF.replace("-> 5.7.1 quarantine", "-> 5.9.1 quarantine");
    let (parsed, diags) = expect("crlf.rules", src.as_bytes(), &[("E003", 9, 45)]);
    let file = parsed.sources.get(diags[0].primary.span.file).unwrap();
    assert_eq!(file.slice(diags[0].primary.span), "9");
}

/// The snippet of a CRLF file does not show the CR of each line (as `␍`).
#[test]
fn crlf_snippets_hide_the_cr() {
    let src = CRLF.replace("-> 5.7.1 quarantine", "-> 5.9.1 quarantine");
    let (parsed, diags) = run("crlf.rules", src.as_bytes());
    let out = render(&parsed, &diags);
    assert!(!out.contains('\u{240d}'), "{out}");
}

#[test]
fn tabs_count_as_one_column() {
    let src = "global {\n\t/^550 user unknown/\t->\t5.9.1\n}\n";
    expect("tabs.rules", src.as_bytes(), &[("E003", 2, 27)]);
}

#[test]
fn byte_order_mark_at_the_start() {
    // A byte order mark, as some editors write, is white space.
    let src = "\u{feff}policy { 5.1.1 -> quarantine 5.*.* -> hard 4.*.* -> soft }\n";
    expect("bom.rules", src.as_bytes(), &[]);
}

#[test]
fn no_newline_at_end_of_file() {
    let src = "global { /^550 / -> 5.1.1 }";
    expect("eof.rules", src.as_bytes(), &[]);
    let src = "global { /^550 / -> 5.1.1";
    let (_, diags) = expect("eof.rules", src.as_bytes(), &[("E001", 1, 26)]);
    assert!(diags[0].message.ends_with("found the end of the file"));
}
