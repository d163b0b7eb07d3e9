//! `mxrules test` and `mxrules diff`: the shipped corpus passes, a changed
//! expectation fails with a diff and `--bless` accepts it, coverage, and the
//! diff of the fixed pair of rule sets in `tests/verify/old` and
//! `tests/verify/new` (one rule changed) over `tests/verify/replies.*`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mxrules::runtime::classify::Classifier;
use mxrules::syntax::load::Parsed;
use mxrules::verify::{self, CorpusFile, Field};

/// How a run of the binary ended.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `mxrules <args>` in the crate root, as CI does.
fn mxrules(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_mxrules"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("cannot run mxrules");
    Run {
        code: out.status.code().expect("killed by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn snapshot(name: &str, value: &str) {
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, value);
    });
}

/// A fresh directory under the system's temporary directory, removed when
/// dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "mxrules-verify-{name}-{}-{nanos}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn join(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }

    /// `text` with this directory's path replaced by `[TMP]`.
    fn redact(&self, text: &str) -> String {
        text.replace(self.0.to_str().unwrap(), "[TMP]")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

/// The fixture corpus with one expectation changed: the second case (a
/// disabled mailbox, which the old rules quarantine) now says `hard`.
fn changed_corpus() -> (String, String) {
    let original = fixture("tests/verify/replies.yaml");
    let from = "reply: \"550 Mailbox disabled for other@example.net\"\n    status: 5.1.1\n    verdict: quarantine\n";
    assert!(
        original.contains(from),
        "the fixture changed; update this test"
    );
    let changed = original.replacen(from, &from.replace("quarantine", "hard"), 1);
    (original, changed)
}

#[test]
fn shipped_corpus_passes_with_the_shipped_rules() {
    let run = mxrules(&["test", "tests/corpus"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let last = run.stdout.lines().last().unwrap_or("");
    assert!(last.starts_with("test result: ok. "), "{last}");
    assert!(last.contains(" 0 failed"), "{last}");
}

#[test]
fn changed_expectation_fails_with_a_diff() {
    let dir = TempDir::new("mismatch");
    let (_, changed) = changed_corpus();
    let path = dir.join("replies.yaml");
    std::fs::write(&path, &changed).unwrap();
    let run = mxrules(&["test", "--rules", "tests/verify/old", &path]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    snapshot("verify__mismatch", &dir.redact(&run.stdout));

    let run = mxrules(&[
        "test",
        "--rules",
        "tests/verify/old",
        "--format",
        "json",
        &path,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    snapshot("verify__mismatch_json", &dir.redact(&run.stdout));
}

#[test]
fn bless_accepts_the_change_and_keeps_comments() {
    let dir = TempDir::new("bless");
    let (original, changed) = changed_corpus();
    let path = dir.join("replies.yaml");
    std::fs::write(&path, &changed).unwrap();

    let run = mxrules(&["test", "--rules", "tests/verify/old", "--bless", &path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    snapshot("verify__bless", &dir.redact(&run.stdout));

    let blessed = std::fs::read_to_string(&path).unwrap();
    for comment in original.lines().filter(|l| l.trim_start().starts_with('#')) {
        assert!(blessed.contains(comment), "comment lost: {comment}");
    }
    // Only the changed line moved back: the file is the fixture again.
    assert_eq!(blessed, original);
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1);

    let run = mxrules(&["test", "--rules", "tests/verify/old", &path]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn coverage_lists_the_rules_no_case_exercises() {
    let run = mxrules(&[
        "test",
        "--rules",
        "tests/verify/old",
        "--coverage",
        "tests/verify/replies.yaml",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    snapshot("verify__coverage", &run.stdout);
}

#[test]
fn malformed_corpus_is_reported_and_the_others_run() {
    let dir = TempDir::new("malformed");
    std::fs::write(
        dir.path().join("a.yaml"),
        "cases:\n  - reply: \"550 No such user\"\n    verdict: nonsense\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        fixture("tests/verify/replies.yaml"),
    )
    .unwrap();
    let run = mxrules(&[
        "test",
        "--rules",
        "tests/verify/old",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        dir.redact(&run.stderr),
        "error: [TMP]/a.yaml:3:14: cases[0].verdict: unknown variant `nonsense`, expected one of `quarantine`, `blocked`, `hard`, `soft`\n"
    );
    assert!(
        run.stdout
            .ends_with("test result: FAILED. 12 cases in 2 files: 12 passed, 0 failed; 1 unmatched; 1 file not read\n"),
        "{}",
        run.stdout
    );
}

const DIFF_ARGS: [&str; 6] = [
    "diff",
    "tests/verify/old",
    "tests/verify/new",
    "--corpus",
    "tests/verify/replies.yaml",
    "tests/verify/replies.jsonl",
];

#[test]
fn diff_of_the_fixture_rule_sets() {
    let run = mxrules(&DIFF_ARGS);
    assert_eq!(run.code, 0, "{}", run.stderr);
    snapshot("verify__diff_human", &run.stdout);

    let run = mxrules(&[&DIFF_ARGS[..], &["--format", "markdown"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    snapshot("verify__diff_markdown", &run.stdout);

    let run = mxrules(&[&DIFF_ARGS[..], &["--examples", "1"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("\n    … and 2 more\n"),
        "{}",
        run.stdout
    );

    let run = mxrules(&[&DIFF_ARGS[..], &["--format", "json"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["changed"], 6);
    snapshot("verify__diff_json", &run.stdout);
}

#[test]
fn fail_on_quarantine_increase() {
    let run = mxrules(&[&DIFF_ARGS[..], &["--fail-on", "quarantine-increase"]].concat());
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "error: `--fail-on quarantine-increase` holds: 3 replies are newly quarantined\n"
    );

    // Nothing newly unmatched: that condition does not hold.
    let run = mxrules(&[&DIFF_ARGS[..], &["--fail-on", "unmatched-increase"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = mxrules(&[&DIFF_ARGS[..], &["--fail-on", "verdict-change"]].concat());
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "error: `--fail-on verdict-change` holds: 5 replies change verdict\n"
    );
    // The same rules on both sides: no change at all.
    let same = [
        "diff",
        "tests/verify/old",
        "tests/verify/old",
        "--corpus",
        "tests/verify/replies.yaml",
        "--fail-on",
        "any-change",
    ];
    let run = mxrules(&same);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn diff_refuses_a_word_that_is_neither_a_path_nor_a_revision() {
    let run = mxrules(&[
        "diff",
        "no-such-rules",
        "tests/verify/new",
        "--corpus",
        "tests/verify/replies.yaml",
    ]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "error: `no-such-rules` is neither a rules path nor a git revision of this repository\n"
    );
}

/// Runs git in the crate root; `None` when it cannot run or fails.
fn git(args: &[&str]) -> Option<Vec<u8>> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// `rules.d` at `HEAD`, one rule changed, against `HEAD`: the replies that
/// rule decides are newly quarantined.
#[test]
fn diff_against_git_head() {
    let Some(listing) = git(&[
        "ls-tree",
        "-r",
        "-z",
        "--name-only",
        "HEAD",
        "--",
        "rules.d",
    ]) else {
        eprintln!(
            "SKIPPED (diff_against_git_head): git is unavailable or the crate is not in a git checkout"
        );
        return;
    };
    let names: Vec<String> = listing
        .split(|&b| b == 0)
        .filter(|n| n.ends_with(b".rules"))
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    if names.is_empty() {
        eprintln!("SKIPPED (diff_against_git_head): `HEAD` has no rules.d/*.rules");
        return;
    }
    let dir = TempDir::new("git");
    let mut changed = false;
    for name in &names {
        let text = git(&["cat-file", "blob", &format!("HEAD:./{name}")]).unwrap();
        let mut text = String::from_utf8(text).unwrap();
        if name.ends_with("mail.ru.rules") {
            // Mail.ru's anti-spam refusal, read as a bad address.
            let from = "-> 5.7.1 spam-related";
            assert!(text.contains(from), "`{name}` has no `{from}` rule at HEAD");
            text = text.replacen(from, "-> 5.7.1 quarantine spam-related", 1);
            changed = true;
        }
        let to = dir.path().join(name.trim_start_matches("rules.d/"));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, text).unwrap();
    }
    assert!(changed, "no mail.ru.rules at HEAD");
    let run = mxrules(&[
        "diff",
        "HEAD",
        dir.path().to_str().unwrap(),
        "--corpus",
        "tests/corpus",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = dir.redact(&run.stdout);
    assert!(out.starts_with("old: HEAD ("), "{out}");
    assert!(out.contains("\nnew: [TMP]\n"), "{out}");
    assert!(out.contains("\nnewly quarantined: "), "{out}");
    assert!(!out.contains("\nun-quarantined: "), "{out}");
    assert!(
        out.contains("    old rule: rules.d/mail.ru.rules:"),
        "{out}"
    );
    assert!(out.contains("    new rule: [TMP]/mail.ru.rules:"), "{out}");
    assert!(
        out.contains("tests/corpus/mail.ru.yaml:") && out.contains("550 spam message rejected"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------
// The library: blessing edits only the expectation lines

fn classifier(text: &str) -> Classifier {
    let mut parsed = Parsed::default();
    parsed.add_text("rules.d/x.rules", text);
    let checked = mxrules::check::check(&parsed);
    mxrules::compile::classifier(checked.rules.expect("the rules check"))
        .expect("the rules compile")
}

const RULES: &str = r#"
policy { 5.1.1 -> quarantine  5.7.* -> blocked  5.*.* -> hard  4.*.* -> soft }
global {
    /^550 No such user/ -> 5.1.1
    /^550 Denied/       -> 5.7.1
}
"#;

#[test]
fn bless_edits_only_the_expectation_lines() {
    let c = classifier(RULES);
    let text = "\
# Header comment.
cases:
  # A pinned rule, a wrong verdict with a trailing comment.
  - reply: \"550 No such user\"
    status: 5.7.1
    verdict: blocked   # checked by hand
    rule: \"x.rules:5\"
  # Expected unmatched, now matched: the unmatched line goes, a rule comes.
  - reply: \"550 Denied\"
    verdict: blocked
    unmatched: true
  # Expected matched, now unmatched.
  - reply: '421 try later'
    status: 4.7.0
    verdict: soft
    given_status: 4.0.0
  - {reply: \"550 No such user\", verdict: quarantine}
";
    let file = CorpusFile::parse("c.yaml", text).unwrap();
    assert_eq!(file.case_line(0), Some(4));
    assert_eq!(file.case_line(3), Some(17));
    let outcomes = verify::run(&c, &file);
    let fields: Vec<Vec<Field>> = outcomes.iter().map(|o| o.mismatches.clone()).collect();
    assert_eq!(
        fields,
        [
            vec![Field::Status, Field::Verdict, Field::Rule],
            vec![Field::Unmatched],
            vec![Field::Status, Field::Unmatched],
            vec![],
        ]
    );
    let blessed = verify::bless(&file, &outcomes, Some("rules.d")).unwrap();
    assert_eq!(
        blessed.text,
        "\
# Header comment.
cases:
  # A pinned rule, a wrong verdict with a trailing comment.
  - reply: \"550 No such user\"
    status: 5.1.1
    verdict: quarantine   # checked by hand
    rule: \"x.rules:4\"
  # Expected unmatched, now matched: the unmatched line goes, a rule comes.
  - reply: \"550 Denied\"
    verdict: blocked
    rule: \"x.rules:5\"
  # Expected matched, now unmatched.
  - reply: '421 try later'
    status: 4.0.0
    verdict: soft
    unmatched: true
    given_status: 4.0.0
  - {reply: \"550 No such user\", verdict: quarantine}
"
    );
    let lines: Vec<Option<usize>> = blessed.cases.iter().map(|c| c.line).collect();
    assert_eq!(lines, [Some(4), Some(9), Some(13)]);
    // Blessed again, nothing changes.
    let again = CorpusFile::parse("c.yaml", &blessed.text).unwrap();
    let outcomes = verify::run(&c, &again);
    assert!(outcomes.iter().all(|o| o.passed()));
}

#[test]
fn bless_inserts_a_missing_status_and_keeps_crlf() {
    let c = classifier(RULES);
    let text = "cases:\r\n- reply: \"550 Denied\"\r\n  verdict: hard\r\n";
    let file = CorpusFile::parse("c.yaml", text).unwrap();
    let mut outcomes = verify::run(&c, &file);
    outcomes[0].mismatches.insert(0, Field::Status);
    let blessed = verify::bless(&file, &outcomes, None).unwrap();
    assert_eq!(
        blessed.text,
        "cases:\r\n- reply: \"550 Denied\"\r\n  status: 5.7.1\r\n  verdict: blocked\r\n"
    );
}

#[test]
fn bless_refuses_a_case_in_flow_style() {
    let c = classifier(RULES);
    let text = "cases:\n  - {reply: \"550 Denied\", verdict: hard}\n";
    let file = CorpusFile::parse("c.yaml", text).unwrap();
    let outcomes = verify::run(&c, &file);
    let err = verify::bless(&file, &outcomes, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "c.yaml:2: this case is written in flow style (`{...}`); write it as a block mapping to bless it"
    );
}

#[test]
fn corpus_errors_have_a_position() {
    let err = CorpusFile::parse("c.yaml", "cases:\n  - verdict: hard\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "c.yaml:2:5: cases[0]: missing field `reply`"
    );
}

#[test]
fn diff_groups_every_kind_of_change() {
    let old = classifier(RULES);
    let new = classifier(
        r#"
policy { 5.1.1 -> quarantine  5.7.* -> blocked  5.*.* -> hard  4.*.* -> soft }
global {
    /^550 No such user/ -> 5.1.1
    /^550 Denied/       -> 5.3.0
    /^450 Later/        -> 5.1.1
}
"#,
    );
    let reply = |text: &str| verify::Reply {
        file: String::from("r.jsonl"),
        line: None,
        bounce: mxrules::core::bounce::Bounce::new(text),
    };
    let replies = [
        reply("550 No such user"),
        reply("550 Denied"),
        reply("550 Denied again"),
        reply("450 Later"),
        reply("421 busy"),
    ];
    let d = verify::diff(&old, &new, &replies);
    assert_eq!((d.replies, d.changed), (5, 3));
    assert_eq!(
        (d.unmatched_old, d.unmatched_new, d.newly_unmatched),
        (2, 1, 0)
    );
    let counts: Vec<(verify::ChangeKind, usize)> =
        d.groups.iter().map(|g| (g.kind, g.count)).collect();
    assert_eq!(
        counts,
        [
            (verify::ChangeKind::NewlyQuarantined, 1),
            (verify::ChangeKind::Unquarantined, 0),
            (verify::ChangeKind::VerdictChanged, 2),
            (verify::ChangeKind::StatusOnly, 0),
        ]
    );
    let newly = &d.groups[0].transitions[0];
    assert_eq!(newly.old.rule, None, "the old rules matched nothing");
    assert_eq!(newly.old.outcome(), "4.0.0 soft");
    assert_eq!(newly.new.outcome(), "5.1.1 quarantine");
    let verdict = &d.groups[2].transitions[0];
    assert_eq!(verdict.count, 2);
    assert_eq!(verdict.old.outcome(), "5.7.1 blocked");
    assert_eq!(verdict.new.outcome(), "5.3.0 hard");
    assert!(d.fails(verify::FailOn::QuarantineIncrease));
    assert!(d.fails(verify::FailOn::VerdictChange));
    assert!(!d.fails(verify::FailOn::UnmatchedIncrease));
}
