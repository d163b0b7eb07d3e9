//! Tests of the canonical formatter: snapshots of every rules file of the
//! project, idempotence, round trips through the parser, focused layouts and
//! a seeded stress test over generated files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

use std::collections::HashSet;
use std::path::Path;

use mxrules::core::source::{FileId, Span};
use mxrules::syntax::ast::{Block, File, PolicyBlock, Rule, ScopeBlock, ScopeItem, Spanned};
use mxrules::syntax::fmt::{format_file, format_source};
use mxrules::syntax::parse;

/// Formats `src`, failing the test on a syntax error.
fn fmt(src: &str) -> String {
    match format_source(FileId(0), src) {
        Ok(s) => s,
        Err(d) => panic!("does not parse: {}\n{src}", d.message),
    }
}

// ---------------------------------------------------------------------------
// Span erasure, for comparing trees.

fn erase<T>(s: &mut Spanned<T>) {
    s.span = Span::default();
}

fn erase_rule(r: &mut Rule) {
    r.span = Span::default();
    erase(&mut r.regex);
    erase(&mut r.flags);
    erase(&mut r.status);
    // The formatter writes verdicts first; the order of the others is kept.
    let verdict = |w: &Spanned<String>| {
        matches!(w.value.as_str(), "quarantine" | "blocked" | "hard" | "soft")
    };
    let (mut words, others): (Vec<_>, Vec<_>) = r.words.drain(..).partition(verdict);
    words.extend(others);
    r.words = words;
    r.words.iter_mut().for_each(erase);
    if let Some(n) = &mut r.note {
        erase(n);
    }
    for e in &mut r.examples {
        e.span = Span::default();
        erase(&mut e.reply);
    }
}

fn erase_policy(p: &mut PolicyBlock) {
    p.span = Span::default();
    p.keyword = Span::default();
    p.close = Span::default();
    for e in &mut p.entries {
        e.span = Span::default();
        erase(&mut e.pattern);
        erase(&mut e.verdict);
    }
}

fn erase_scope(s: &mut ScopeBlock) {
    s.span = Span::default();
    s.close = Span::default();
    s.header.span = Span::default();
    for sel in &mut s.header.selectors {
        sel.span = Span::default();
        sel.values.iter_mut().for_each(erase);
    }
    for item in &mut s.items {
        match item {
            ScopeItem::Rule(r) => erase_rule(r),
            ScopeItem::Initial(b) => {
                b.span = Span::default();
                b.keyword = Span::default();
                b.close = Span::default();
                b.patterns.iter_mut().for_each(erase);
                b.rules.iter_mut().for_each(erase_rule);
            }
        }
    }
}

/// The tree with every span (and the comments' spans) erased.
fn erased(mut f: File) -> File {
    f.span = Span::default();
    for c in &mut f.comments {
        c.span = Span::default();
    }
    for b in &mut f.blocks {
        match b {
            Block::Policy(p) => erase_policy(p),
            Block::Scope(s) => erase_scope(s),
        }
    }
    f
}

/// Checks idempotence and the round trip through the parser for one source
/// that parses; returns the formatted text.
fn check_stable(name: &str, src: &str) -> String {
    let before =
        parse(FileId(0), src).unwrap_or_else(|d| panic!("{name}: does not parse: {}", d.message));
    let once = format_file(&before, src);
    let after = parse(FileId(0), &once).unwrap_or_else(|d| {
        panic!(
            "{name}: formatted text does not parse: {}\n{once}",
            d.message
        )
    });
    let twice = format_file(&after, &once);
    assert_eq!(
        twice, once,
        "{name}: formatting is not idempotent\nsource:\n{src}"
    );
    let comments = |f: &File| {
        f.comments
            .iter()
            .map(|c| c.text.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        comments(&after),
        comments(&before),
        "{name}: comments changed\nsource:\n{src}\nformatted:\n{once}"
    );
    assert_eq!(
        erased(after),
        erased(before),
        "{name}: tree changed\nsource:\n{src}\nformatted:\n{once}"
    );
    assert!(
        once.is_empty() || once.ends_with('\n') && !once.ends_with("\n\n"),
        "{name}: bad file end"
    );
    assert!(!once.contains('\r'), "{name}: CR in output");
    assert!(
        once.lines().all(|l| l == l.trim_end()),
        "{name}: trailing whitespace"
    );
    once
}

// ---------------------------------------------------------------------------
// Every rules file of the project.

/// Calls `f` with every `*.rules` file of `rules.d/` and `tests/cases/` that
/// parses, under insta settings that write `snapshots/fmt__<stem>.snap`.
fn each_rules_file(mut f: impl FnMut(&str, &Path, &str)) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_allow_empty_glob(true);
    let mut names = HashSet::new();
    settings.bind(|| {
        let mut visit = |path: &Path, dir: &str| {
            let Ok(src) = std::fs::read_to_string(path) else {
                return;
            };
            if parse(FileId(0), &src).is_err() {
                return;
            }
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            // The same stem in both directories: name the second apart.
            let name = if names.insert(stem.clone()) {
                format!("fmt__{stem}")
            } else {
                format!("fmt__{dir}_{stem}")
            };
            let mut inner = insta::Settings::clone_current();
            inner.remove_snapshot_suffix();
            inner.bind(|| f(&name, path, &src));
        };
        insta::glob!("../rules.d", "*.rules", |path| visit(path, "rules"));
        insta::glob!("../tests/cases", "*.rules", |path| visit(path, "cases"));
    });
}

#[test]
fn snapshots_of_rules_files() {
    each_rules_file(|name, _, src| {
        insta::assert_snapshot!(name, fmt(src));
    });
}

#[test]
fn rules_files_are_idempotent_and_round_trip() {
    each_rules_file(|name, _, src| {
        check_stable(name, src);
    });
}

// ---------------------------------------------------------------------------
// Focused layouts.

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("  \n\n\t\n"), "");
    assert_eq!(fmt("\n\n# a   \n\n\n   # b\n# c"), "# a\n\n# b\n# c\n");
}

#[test]
fn policy_arrows_align() {
    let src = "policy{5.1.1 ->quarantine 5.*.*   ->  hard\n4.*.* -> soft 5.7.10 -> blocked}";
    assert_eq!(
        fmt(src),
        "\
policy {
    5.1.1  -> quarantine
    5.*.*  -> hard
    4.*.*  -> soft
    5.7.10 -> blocked
}
"
    );
}

#[test]
fn rule_arrows_align_per_block() {
    let src = r#"mx is "a" {
/x/ -> 5.1.1
initial 5.0.0 { /longer regex/i -> 5.1.1  /y/ -> 5.2.2 }
/much longer regex here/ -> 5.7.1
}"#;
    assert_eq!(
        fmt(src),
        r#"mx is "a" {
    /x/                      -> 5.1.1
    initial 5.0.0 {
        /longer regex/i -> 5.1.1
        /y/             -> 5.2.2
    }
    /much longer regex here/ -> 5.7.1
}
"#
    );
}

#[test]
fn words_note_and_examples() {
    let src = r#"global { /^550 \/x "q"/i -> 5.1.1 bad-mailbox other quarantine "a \"note\" \\ here" example "550 /x \"q\"" example "two" }"#;
    assert_eq!(
        fmt(src),
        r#"global {
    /^550 \/x "q"/i -> 5.1.1 quarantine bad-mailbox other "a \"note\" \\ here"
        example "550 /x \"q\""
        example "two"
}
"#
    );
}

#[test]
fn header_strings_are_escaped() {
    let src = r#"mx is "a\"b" , "c\\d" or mx ends with ".x" or rcpt domain is "d.com" {}"#;
    assert_eq!(
        fmt(src),
        r#"mx is "a\"b", "c\\d" or mx ends with ".x" or rcpt domain is "d.com" {
}
"#
    );
}

#[test]
fn leading_and_trailing_comments() {
    let src = r#"# file comment

# about policy
policy { # trailing on open
  # before entry
  5.1.1 -> quarantine   # trailing on entry
} # trailing on close
# about gmail
mx is "gmail" {
    /a/ -> 5.1.1 # trailing on rule
        # before example
        example "a" # trailing on example
    # before close
}
# end 1

# end 2
"#;
    assert_eq!(
        fmt(src),
        r#"# file comment

# about policy
policy {  # trailing on open
    # before entry
    5.1.1 -> quarantine  # trailing on entry
}  # trailing on close

# about gmail
mx is "gmail" {
    /a/ -> 5.1.1  # trailing on rule
        # before example
        example "a"  # trailing on example
    # before close
}
# end 1

# end 2
"#
    );
}

#[test]
fn comment_in_empty_block() {
    assert_eq!(
        fmt("policy {\n# nothing yet\n}"),
        "policy {\n    # nothing yet\n}\n"
    );
    assert_eq!(
        fmt("global { initial 5.*.* { # none\n } }"),
        "global {\n    initial 5.*.* {  # none\n    }\n}\n"
    );
    assert_eq!(
        fmt("global { initial 5.*.* {\n # none\n } }"),
        "global {\n    initial 5.*.* {\n        # none\n    }\n}\n"
    );
}

#[test]
fn comments_in_odd_places_move_before_their_line() {
    let src = r#"mx # in header
is "a" # before brace
{
    /a/ # after regex
    -> # after arrow
    5.1.1 quarantine # after word
    "note" # after note
    example # inside example
    "x"
    initial # after initial
    5.0.0 {
        /b/ -> 5.2.2
    }
}
"#;
    assert_eq!(
        fmt(src),
        r#"# in header
# before brace
mx is "a" {
    # after regex
    # after arrow
    # after word
    /a/ -> 5.1.1 quarantine "note"  # after note
        # inside example
        example "x"
    # after initial
    initial 5.0.0 {
        /b/ -> 5.2.2
    }
}
"#
    );
}

#[test]
fn blank_lines() {
    let src = r#"


policy {

    5.1.1 -> quarantine


    5.*.* -> hard

}
mx is "a" {

    /a/ -> 5.1.1

        example "a"

        example "b"


    initial 5.0.0 {

        /b/ -> 5.1.1

    }
    # about c

    /c/ -> 5.1.1

    # last

}
global {}


"#;
    assert_eq!(
        fmt(src),
        r#"policy {
    5.1.1 -> quarantine

    5.*.* -> hard
}

mx is "a" {
    /a/ -> 5.1.1
        example "a"
        example "b"

    initial 5.0.0 {
        /b/ -> 5.1.1
    }
    # about c

    /c/ -> 5.1.1

    # last
}

global {
}
"#
    );
}

#[test]
fn messy_one_line_file() {
    let src = r#"policy{5.1.1 ->quarantine 4.*.* ->soft}mx ends with".mail.ru"or mx is"mxs.mail.ru"{initial 5.0.0,5.1.*{/^550 must be local recipient/->5.7.1 quarantine/^550 you have exceeded message receiving limit/->5.2.0 soft"limit"example"550 you have exceeded message receiving limit"}/^421/i->4.7.0}global{/./->5.0.0}"#;
    assert_eq!(
        fmt(src),
        r#"policy {
    5.1.1 -> quarantine
    4.*.* -> soft
}

mx ends with ".mail.ru" or mx is "mxs.mail.ru" {
    initial 5.0.0, 5.1.* {
        /^550 must be local recipient/                   -> 5.7.1 quarantine
        /^550 you have exceeded message receiving limit/ -> 5.2.0 soft "limit"
            example "550 you have exceeded message receiving limit"
    }
    /^421/i -> 4.7.0
}

global {
    /./ -> 5.0.0
}
"#
    );
}

#[test]
fn crlf_and_tabs() {
    let src = "policy {\r\n\t5.1.1 -> quarantine\t# tab\r\n\r\n\r\n\t4.*.* -> soft\r\n}\r\n";
    assert_eq!(
        fmt(src),
        "policy {\n    5.1.1 -> quarantine  # tab\n\n    4.*.* -> soft\n}\n"
    );
}

#[test]
fn canonical_text_is_unchanged() {
    let src = r#"# rules.d/mail.ru.rules
mx ends with ".mail.ru" {
    initial 5.0.0 {
        /^503 Valid RCPT command must precede DATA/        -> 5.1.3 quarantine
        /^550 Message was not accepted -- invalid mailbox/ -> 5.1.1
        /^550 must be local recipient/                     -> 5.7.1 quarantine
        /^550 you have exceeded message receiving limit/   -> 5.2.0
    }
}
"#;
    assert_eq!(fmt(src), src);
}

#[test]
fn syntax_error_is_returned() {
    assert!(format_source(FileId(0), "policy { 5.1.1 -> }").is_err());
}

// ---------------------------------------------------------------------------
// Seeded stress test.

/// xorshift64: small, deterministic, good enough to pick shapes.
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

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Writes a random valid rules file: random spacing, blank lines and
/// comments between any two tokens.
struct Gen {
    rng: Rng,
    out: String,
    comments: usize,
}

impl Gen {
    /// Whitespace, maybe with a comment, between two tokens.
    fn sep(&mut self) {
        let n = self.rng.below(20);
        let s = match n {
            0..=8 => " ".to_string(),
            9..=11 => "\n    ".to_string(),
            12 => "\n\n\n".to_string(),
            13 => "\t".to_string(),
            14 => "\r\n".to_string(),
            15 | 16 => {
                self.comments += 1;
                format!("  # c{} \"x\" /y/ {{ }}  \n", self.comments)
            }
            17 => {
                self.comments += 1;
                format!("\n\n# own {}\n\n", self.comments)
            }
            18 => {
                self.comments += 1;
                format!("\n#{}\t\n ", self.comments)
            }
            _ => "  \n ".to_string(),
        };
        self.out.push_str(&s);
    }

    fn tok(&mut self, t: &str) {
        self.out.push_str(t);
        self.sep();
    }

    fn string(&mut self) -> String {
        let parts = [
            "a",
            "mx",
            ".mail.ru",
            "\\\"",
            "\\\\",
            " ",
            "#",
            "/",
            "é",
            "550 5.1.1",
            "{",
            "}",
        ];
        let mut s = String::from("\"");
        for _ in 0..self.rng.below(5) {
            s.push_str(self.rng.pick(&parts));
        }
        s.push('"');
        s
    }

    fn status(&mut self) -> String {
        let parts = ["5", "4", "*", "0", "1", "7", "10"];
        let a = self.rng.pick(&parts);
        let b = self.rng.pick(&parts);
        let c = self.rng.pick(&parts);
        format!("{a}.{b}.{c}")
    }

    fn policy(&mut self) {
        self.tok("policy");
        self.tok("{");
        for _ in 0..self.rng.below(5) {
            let s = self.status();
            self.tok(&s);
            self.tok("->");
            let v = self.rng.pick(&["quarantine", "blocked", "hard", "soft"]);
            self.tok(v);
        }
        self.tok("}");
    }

    fn strings(&mut self) {
        let n = 1 + self.rng.below(3);
        for i in 0..n {
            if i > 0 {
                self.tok(",");
            }
            let s = self.string();
            self.tok(&s);
        }
    }

    fn scope(&mut self) {
        if self.rng.chance(20) {
            self.tok("global");
        } else {
            let n = 1 + self.rng.below(3);
            for i in 0..n {
                if i > 0 {
                    self.tok("or");
                }
                match self.rng.below(3) {
                    0 => {
                        self.tok("mx");
                        self.tok("is");
                    }
                    1 => {
                        self.tok("mx");
                        self.tok("ends");
                        self.tok("with");
                    }
                    _ => {
                        self.tok("rcpt");
                        self.tok("domain");
                        self.tok("is");
                    }
                }
                self.strings();
            }
        }
        self.tok("{");
        for _ in 0..self.rng.below(6) {
            if self.rng.chance(30) {
                self.tok("initial");
                let n = 1 + self.rng.below(3);
                for i in 0..n {
                    if i > 0 {
                        self.tok(",");
                    }
                    let s = self.status();
                    self.tok(&s);
                }
                self.tok("{");
                for _ in 0..self.rng.below(5) {
                    self.rule();
                }
                self.tok("}");
            } else {
                self.rule();
            }
        }
        self.tok("}");
    }

    fn rule(&mut self) {
        let parts = [
            "^550", " ", "\\/", "\\d+", "[a-z]", "\"", "#", "\\\\", "mail", "é", ".", "(x|y)",
            "{2}", "\\.", "-",
        ];
        let mut re = String::from("/");
        for _ in 0..self.rng.below(8) {
            re.push_str(self.rng.pick(&parts));
        }
        re.push('/');
        re.push_str(self.rng.pick(&["", "", "i", "is", "x"]));
        self.tok(&re);
        self.tok("->");
        let s = self.status();
        self.tok(&s);
        let words = [
            "quarantine",
            "blocked",
            "hard",
            "soft",
            "bad-mailbox",
            "policy-related",
            "other",
            "spam_related",
            "w7",
        ];
        for _ in 0..self.rng.below(4) {
            let w = self.rng.pick(&words);
            self.tok(w);
        }
        if self.rng.chance(40) {
            let s = self.string();
            self.tok(&s);
        }
        for _ in 0..self.rng.below(3) {
            self.tok("example");
            let s = self.string();
            self.tok(&s);
        }
    }

    fn file(&mut self) {
        if self.rng.chance(50) {
            self.sep();
        }
        for _ in 0..self.rng.below(5) {
            if self.rng.chance(25) {
                self.policy();
            } else {
                self.scope();
            }
        }
    }
}

#[test]
fn generated_files_round_trip() {
    for seed in 1..=200u64 {
        let mut g = Gen {
            rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            out: String::new(),
            comments: 0,
        };
        g.file();
        let src = g.out;
        let name = format!("seed {seed}");
        let before = parse(FileId(0), &src).unwrap_or_else(|d| {
            panic!(
                "{name}: generated file does not parse: {}\n{src}",
                d.message
            )
        });
        assert_eq!(
            before.comments.len(),
            g.comments,
            "{name}: generator and parser disagree on comments"
        );
        check_stable(&name, &src);
    }
}
