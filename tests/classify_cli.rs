//! The `classify` and `explain` commands, run as a user runs them: exact
//! output lines, the position of every record, pass-through fields, one
//! error per bad line on standard error, and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

mod common;

use common::{Scratch, mxrules_with_stdin as mxrules};
use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A small rules file of the test's own, so that exact outputs do not move
/// when `rules.d/` changes.
const RULES: &str = r#"policy {
    5.1.1 -> quarantine
    5.7.* -> blocked
    5.*.* -> hard
    4.*.* -> soft
    2.*.* -> soft
}
mx ends with ".mail.ru" {
    initial 5.0.0 {
        /^550 must be local recipient/ -> 5.7.1 quarantine
    }
}
global {
    /mailbox is full/i -> 4.2.2 soft quota-issues
}
"#;

/// Line numbers of the rules of [`RULES`].
const LOCAL_RECIPIENT_LINE: usize = 10;
const MAILBOX_FULL_LINE: usize = 14;

/// Good, odd and bad lines, one per case; the expected JSON for the good
/// ones is in [`expected_jsonl`].
fn mixed_input() -> Vec<u8> {
    let mut input = Vec::new();
    let mut line = |s: &[u8]| {
        input.extend_from_slice(s);
        input.push(b'\n');
    };
    // 1: a Mail.ru reply with a recipient and an extra field.
    line(br#"{"mx":"mxs.mail.ru","rcpt":"someone@mail.ru","reply":"550 must be local recipient","id":7}"#);
    // 2: blank.
    line(b"");
    // 3: extra fields of every kind, a given status, no MX.
    line(br#"{"reply":"452 4.2.2 Mailbox is FULL","status":"4.2.2","campaign":{"name":"spring","n":[1,2]},"seen":true,"note":null}"#);
    // 4: not JSON.
    line(b"not json");
    // 5: a JSON array.
    line(br#"[{"reply":"550 must be local recipient"}]"#);
    // 6: no reply.
    line(br#"{"mx":"mxs.mail.ru","rcpt":"someone@mail.ru"}"#);
    // 7: a reply that is a number.
    line(br#"{"reply":550}"#);
    // 8: a status that is no status.
    line(br#"{"reply":"550 5.1.1 no such user","status":"9.1.1"}"#);
    // 9: invalid UTF-8.
    line(b"{\"reply\":\"550 \xff\xfe user unknown\"}");
    // 10: white space only.
    line(b"   \t");
    // 11: a look-alike host: no Mail.ru rule applies; unmatched.
    line(br#"{"mx":"evilmail.ru","reply":"550 must be local recipient"}"#);
    // 12: no code at all and an empty status: no initial status.
    line(br#"{"reply":"delivery failed","status":""}"#);
    // 13: a null MX, an enhanced code, CRLF line ending.
    input.extend_from_slice(b"{\"reply\":\"550 5.1.1 user unknown\",\"mx\":null}\r\n");
    // 14: the last line, without a line break.
    input.extend_from_slice(
        br#"{"mx":"dns; MXS.MAIL.RU.","reply":"550-must be\r\n550 local recipient"}"#,
    );
    input
}

fn expected_jsonl(file: &str, rules: &str) -> Vec<Value> {
    let pos = |line: usize| json!({"file": file, "line": line});
    let local = format!("{rules}:{LOCAL_RECIPIENT_LINE}");
    let full = format!("{rules}:{MAILBOX_FULL_LINE}");
    vec![
        json!({
            "input": pos(1), "mx": "mxs.mail.ru", "rcpt": "someone@mail.ru",
            "reply": "550 must be local recipient", "id": 7,
            "status": "5.7.1", "initial_status": "5.0.0", "verdict": "quarantine",
            "rule": local, "scope": "mx ends with \".mail.ru\"",
        }),
        json!({
            "input": pos(3), "reply": "452 4.2.2 Mailbox is FULL",
            "campaign": {"name": "spring", "n": [1, 2]}, "seen": true, "note": null,
            "status": "4.2.2", "initial_status": "4.2.2", "verdict": "soft",
            "category": "quota-issues", "rule": full, "scope": "global",
        }),
        json!({
            "input": pos(11), "mx": "evilmail.ru", "reply": "550 must be local recipient",
            "status": "5.0.0", "initial_status": "5.0.0", "verdict": "hard", "unmatched": true,
        }),
        json!({
            "input": pos(12), "reply": "delivery failed",
            "status": null, "initial_status": null, "verdict": "hard", "unmatched": true,
        }),
        json!({
            "input": pos(13), "reply": "550 5.1.1 user unknown",
            "status": "5.1.1", "initial_status": "5.1.1", "verdict": "quarantine", "unmatched": true,
        }),
        json!({
            "input": pos(14), "mx": "dns; MXS.MAIL.RU.", "reply": "550-must be\r\n550 local recipient",
            "status": "5.7.1", "initial_status": "5.0.0", "verdict": "quarantine",
            "rule": format!("{rules}:{LOCAL_RECIPIENT_LINE}"), "scope": "mx ends with \".mail.ru\"",
        }),
    ]
}

fn expected_errors(file: &str) -> Vec<String> {
    [
        (4, "invalid JSON: expected ident at line 1 column 2"),
        (5, "expected a JSON object"),
        (6, "missing field `reply`"),
        (7, "field `reply` must be a string, found a number"),
        (
            8,
            "field `status` is not a status: class `9` is not one of 2, 4 or 5",
        ),
        (9, "line is not valid UTF-8"),
    ]
    .iter()
    .map(|(line, msg)| format!("error: {file}:{line}: {msg}"))
    .collect()
}

const MIXED_SUMMARY: &str =
    "classified 6 bounces: 3 quarantine, 0 blocked, 2 hard, 1 soft; 3 unmatched; 6 bad records";

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    text(stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("output line is not JSON ({e}): {l}"))
        })
        .collect()
}

#[test]
fn classify_jsonl_reports_every_bad_line_and_classifies_the_rest() {
    let dir = Scratch::new("jsonl");
    let rules = path_str(&dir.write("t.rules", RULES.as_bytes()));
    let input = path_str(&dir.write("bounces.jsonl", &mixed_input()));
    let out = mxrules(&["classify", "--rules", &rules, &input], b"");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        json_lines(&out.stdout),
        expected_jsonl(&input, &rules),
        "{}",
        describe(&out)
    );
    let mut want: Vec<String> = expected_errors(&input);
    want.push(MIXED_SUMMARY.to_string());
    assert_eq!(
        text(&out.stderr).lines().collect::<Vec<_>>(),
        want,
        "{}",
        describe(&out)
    );
}

#[test]
fn classify_reads_standard_input() {
    let dir = Scratch::new("stdin");
    let rules = path_str(&dir.write("t.rules", RULES.as_bytes()));
    let out = mxrules(&["classify", "--rules", &rules, "-"], &mixed_input());
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        json_lines(&out.stdout),
        expected_jsonl("<stdin>", &rules),
        "{}",
        describe(&out)
    );
    let mut want: Vec<String> = expected_errors("<stdin>");
    want.push(MIXED_SUMMARY.to_string());
    assert_eq!(text(&out.stderr).lines().collect::<Vec<_>>(), want);
    // No file at all reads standard input too.
    let again = mxrules(&["classify", "--rules", &rules], &mixed_input());
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(again.stdout, out.stdout);
}

#[test]
fn classify_all_good_input_exits_zero() {
    let dir = Scratch::new("good");
    let rules = path_str(&dir.write("t.rules", RULES.as_bytes()));
    let input = concat!(
        r#"{"mx":"mxs.mail.ru","reply":"550 must be local recipient"}"#,
        "\n\n",
        r#"{"reply":"421 4.7.0 try again later","rcpt":"a@b.example"}"#,
        "\n",
    );
    let out = mxrules(&["classify", "--rules", &rules, "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        json_lines(&out.stdout),
        vec![
            json!({
                "input": {"file": "<stdin>", "line": 1}, "mx": "mxs.mail.ru",
                "reply": "550 must be local recipient",
                "status": "5.7.1", "initial_status": "5.0.0", "verdict": "quarantine",
                "rule": format!("{rules}:{LOCAL_RECIPIENT_LINE}"), "scope": "mx ends with \".mail.ru\"",
            }),
            json!({
                "input": {"file": "<stdin>", "line": 3}, "rcpt": "a@b.example",
                "reply": "421 4.7.0 try again later",
                "status": "4.7.0", "initial_status": "4.7.0", "verdict": "soft", "unmatched": true,
            }),
        ]
    );
    assert_eq!(
        text(&out.stderr),
        "classified 2 bounces: 1 quarantine, 0 blocked, 0 hard, 1 soft; 1 unmatched; 0 bad records\n"
    );
    // `--quiet` drops the summary.
    let quiet = mxrules(
        &["classify", "--quiet", "--rules", &rules, "-"],
        input.as_bytes(),
    );
    assert_eq!(quiet.status.code(), Some(0));
    assert_eq!(quiet.stdout, out.stdout);
    assert_eq!(text(&quiet.stderr), "");
    // Empty input: nothing to say, nothing wrong.
    let empty = mxrules(&["classify", "--quiet", "--rules", &rules, "-"], b"");
    assert_eq!(empty.status.code(), Some(0), "{}", describe(&empty));
    assert_eq!(text(&empty.stdout), "");
}

#[test]
fn classify_csv_output() {
    let dir = Scratch::new("csv");
    let rules = path_str(&dir.write("t.rules", RULES.as_bytes()));
    let input = concat!(
        r#"{"mx":"mxs.mail.ru","rcpt":"someone@mail.ru","reply":"550 must be local recipient","id":1}"#,
        "\n",
        r#"{"reply":"452 4.2.2 Mailbox is full, \"really\"","rcpt":"a@b.example"}"#,
        "\n",
        r#"{"mx":"evilmail.ru","reply":"550-must be\r\n550 local recipient"}"#,
        "\n",
        r#"{"reply":"delivery failed"}"#,
        "\n",
    );
    let out = mxrules(
        &["classify", "--format", "csv", "--rules", &rules, "-"],
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let want = format!(
        "file,line,mx,rcpt,status,initial_status,verdict,category,rule,unmatched,reply\n\
         <stdin>,1,mxs.mail.ru,someone@mail.ru,5.7.1,5.0.0,quarantine,,{rules}:{LOCAL_RECIPIENT_LINE},false,550 must be local recipient\n\
         <stdin>,2,,a@b.example,4.2.2,4.2.2,soft,quota-issues,{rules}:{MAILBOX_FULL_LINE},false,\"452 4.2.2 Mailbox is full, \"\"really\"\"\"\n\
         <stdin>,3,evilmail.ru,,5.0.0,5.0.0,hard,,,true,\"550-must be\r\n550 local recipient\"\n\
         <stdin>,4,,,,,hard,,,true,delivery failed\n"
    );
    assert_eq!(text(&out.stdout), want, "{}", describe(&out));
}

#[test]
fn classify_with_the_shipped_rules_names_the_mail_ru_rule() {
    let rules_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.d/mail.ru.rules");
    let source = std::fs::read_to_string(&rules_file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", rules_file.display()));
    let line = source
        .lines()
        .position(|l| l.trim_start().starts_with("/^550 must be local recipient/"))
        .map(|i| i + 1)
        .expect("rules.d/mail.ru.rules has the rule book's `must be local recipient` rule");
    let out = mxrules(
        &["classify", "-"],
        br#"{"mx":"mxs.mail.ru","reply":"550 must be local recipient"}"#,
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v = json_lines(&out.stdout);
    assert_eq!(v.len(), 1, "{}", describe(&out));
    assert_eq!(v[0]["rule"], json!(format!("rules.d/mail.ru.rules:{line}")));
    assert_eq!(v[0]["status"], json!("5.7.1"));
    assert_eq!(v[0]["verdict"], json!("quarantine"));
    assert!(
        v[0]["scope"]
            .as_str()
            .is_some_and(|s| s.contains(r#"mx ends with ".mail.ru""#)),
        "{}",
        describe(&out)
    );
}

#[test]
fn explain_mail_ru() {
    let out = mxrules(
        &[
            "explain",
            "--mx",
            "mxs.mail.ru",
            "550 must be local recipient",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(r#"mx ends with ".mail.ru""#),
        "{}",
        describe(&out)
    );
    assert!(
        stdout.contains("fires  rules.d/mail.ru.rules:"),
        "{}",
        describe(&out)
    );
    assert_eq!(text(&out.stderr), "");
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
        description => "mxrules explain --mx mxs.mail.ru \"550 must be local recipient\"",
        omit_expression => true,
    }, {
        insta::assert_snapshot!("classify__explain_mail_ru", stdout);
    });
}

#[test]
fn explain_json_parses() {
    let out = mxrules(
        &[
            "explain",
            "--format",
            "json",
            "--mx",
            "mxs.mail.ru",
            "550 must be local recipient",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", describe(&out)));
    assert_eq!(v["normalized_reply"], json!("550 must be local recipient"));
    assert_eq!(v["initial_status"], json!("5.0.0"));
    assert_eq!(v["mx"], json!("mxs.mail.ru"));
    assert_eq!(v["result"]["status"], json!("5.7.1"));
    assert_eq!(v["result"]["verdict"], json!("quarantine"));
    let rule = v["result"]["rule"].as_str().unwrap_or_default();
    assert!(rule.starts_with("rules.d/mail.ru.rules:"), "{v:#}");
    let first = &v["scopes"][0];
    assert_eq!(first["reason"], json!("host suffix"), "{v:#}");
    assert!(
        first["scope"]
            .as_str()
            .is_some_and(|s| s.contains(r#"mx ends with ".mail.ru""#)),
        "{v:#}"
    );
    assert_eq!(first["matching_rules"][0]["rule"], json!(rule), "{v:#}");
}

#[test]
fn rules_with_errors_exit_1_with_the_diagnostic() {
    let dir = Scratch::new("bad-rules");
    let bad = path_str(&dir.write(
        "bad.rules",
        b"global {\n    /^550 (unclosed/ -> 5.1.1 quarantine\n}\n",
    ));
    for args in [
        vec!["classify", "--rules", bad.as_str(), "-"],
        vec!["explain", "--rules", bad.as_str(), "550 no"],
    ] {
        let out = mxrules(&args, br#"{"reply":"550 no"}"#);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", describe(&out));
        assert_eq!(text(&out.stdout), "", "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("error[E002]: invalid regex: unclosed group"),
            "{args:?}: {}",
            describe(&out)
        );
        assert!(
            stderr.contains(&format!("--> {bad}:2:11")),
            "{args:?}: {}",
            describe(&out)
        );
        assert!(
            stderr.contains("error: the rules have 1 error;"),
            "{args:?}: {}",
            describe(&out)
        );
    }
    // A rules path that does not exist is a usage error.
    let missing = path_str(&dir.0.join("missing.rules"));
    let out = mxrules(&["classify", "--rules", &missing, "-"], b"");
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("missing.rules"),
        "{}",
        describe(&out)
    );
}

/// The rules of [`RULES`] at `path`, compiled by the library.
fn library_classifier(path: &str) -> mxrules::runtime::classify::Classifier {
    let parsed = mxrules::syntax::load::parse_paths(&[std::path::PathBuf::from(path)])
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let rules = mxrules::check::check(&parsed)
        .rules
        .unwrap_or_else(|| panic!("{path} does not check"));
    mxrules::compile::classifier(rules).unwrap_or_else(|_| panic!("{path} does not compile"))
}

/// Runs the library pipeline; returns its output, its problems as the
/// command prints them, and the summary.
fn run_pipeline(
    classifier: &mxrules::runtime::classify::Classifier,
    inputs: Vec<mxrules::pipeline::Input>,
    options: &mxrules::pipeline::Options,
) -> (Vec<u8>, String, mxrules::pipeline::Summary) {
    let mut out = Vec::new();
    let mut errors = String::new();
    let mut events = mxrules::pipeline::on_problem(|p| errors.push_str(&format!("error: {p}\n")));
    let summary = mxrules::pipeline::run(classifier, inputs, options, &mut out, &mut events)
        .unwrap_or_else(|e| panic!("the pipeline stopped: {e}"));
    (out, errors, summary)
}

#[test]
fn the_library_pipeline_writes_what_the_command_writes() {
    use mxrules::pipeline::{Input, Options};
    let dir = Scratch::new("library");
    let rules = path_str(&dir.write("t.rules", RULES.as_bytes()));
    let classifier = library_classifier(&rules);
    for format in ["jsonl", "csv"] {
        let cli = mxrules(
            &["classify", "--format", format, "--rules", &rules, "-"],
            &mixed_input(),
        );
        assert_eq!(cli.status.code(), Some(1), "{}", describe(&cli));
        for threads in [1, 3] {
            let options = Options {
                format: match format {
                    "csv" => mxrules::output::Format::Csv,
                    _ => mxrules::output::Format::Jsonl,
                },
                threads: Some(threads),
                ..Options::default()
            };
            let input = Input::reader("<stdin>", std::io::Cursor::new(mixed_input()));
            let (out, errors, summary) = run_pipeline(&classifier, vec![input], &options);
            assert_eq!(text(&out), text(&cli.stdout), "{format}, {threads} threads");
            assert_eq!(
                format!("{errors}{}\n", summary.counts),
                text(&cli.stderr),
                "{format}, {threads} threads"
            );
            assert_eq!(summary.counts.bad, 6);
            assert_eq!(summary.unreadable, 0);
        }
    }
}

#[test]
fn the_library_pipeline_reads_on_past_an_input_that_cannot_be_opened() {
    use mxrules::pipeline::{Input, Options};
    let dir = Scratch::new("library-missing");
    let rules = path_str(&dir.write("t.rules", RULES.as_bytes()));
    let good = dir.write(
        "good.jsonl",
        br#"{"mx":"mxs.mail.ru","reply":"550 must be local recipient"}"#,
    );
    let missing = dir.path("missing.jsonl");
    let classifier = library_classifier(&rules);
    let inputs = vec![
        Input::Path(missing.clone()),
        Input::Path(good.clone()),
        Input::Path(missing.clone()),
    ];
    let (out, errors, summary) = run_pipeline(&classifier, inputs, &Options::default());
    assert_eq!(summary.unreadable, 2);
    assert_eq!(summary.counts.classified(), 1);
    assert_eq!(json_lines(&out).len(), 1);
    let cli = mxrules(
        &[
            "classify",
            "--rules",
            &rules,
            &path_str(&missing),
            &path_str(&good),
            &path_str(&missing),
        ],
        b"",
    );
    assert_eq!(cli.status.code(), Some(2), "{}", describe(&cli));
    assert_eq!(out, cli.stdout);
    assert_eq!(format!("{errors}{}\n", summary.counts), text(&cli.stderr));
}

/// A writer that fails with `kind` once it has taken `room` bytes.
struct Failing {
    room: usize,
    kind: std::io::ErrorKind,
}

impl std::io::Write for Failing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(std::io::Error::from(self.kind));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_library_pipeline_stops_when_the_output_cannot_be_written() {
    use mxrules::pipeline::{Input, Options};
    let dir = Scratch::new("library-write");
    let rules = path_str(&dir.write("t.rules", RULES.as_bytes()));
    let classifier = library_classifier(&rules);
    let line = concat!(r#"{"reply":"550 5.1.1 no such user"}"#, "\n");
    for kind in [std::io::ErrorKind::BrokenPipe, std::io::ErrorKind::Other] {
        let input = Input::reader("big", std::io::Cursor::new(line.repeat(200_000)));
        let out = Failing { room: 1000, kind };
        let err =
            mxrules::pipeline::run(&classifier, vec![input], &Options::default(), out, &mut ())
                .err()
                .unwrap_or_else(|| panic!("a failing output must stop the run"));
        assert!(err.is_write(), "{err}");
        assert_eq!(err.is_broken_pipe(), kind == std::io::ErrorKind::BrokenPipe);
    }
}
