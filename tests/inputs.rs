//! `mxrules classify` on the inputs deliverability engineers have:
//! PowerMTA accounting CSV, bounce emails (`.eml`, Maildir, mbox) and
//! Postfix logs, from the fixtures in `tests/inputs/`, classified with
//! `tests/inputs/test.rules` so that the snapshots (`snapshots/inputs__*`)
//! do not move when `rules.d/` changes. Also: format detection, bad
//! records with their positions, the quarantine list, and a large input
//! streamed in bounded memory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

mod common;

use common::{Scratch, mxrules_with_stdin as mxrules};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mxrules::input::{self, InputFormat, Item};

const RULES: &str = "tests/inputs/test.rules";

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

/// `classify --rules tests/inputs/test.rules ARGS…`.
fn classify(args: &[&str]) -> Output {
    let mut all = vec!["classify", "--rules", RULES];
    all.extend_from_slice(args);
    mxrules(&all, b"")
}

/// The standard output and standard error of a run, as a snapshot reads them.
fn transcript(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

fn snapshot(name: &str, description: &str, value: &str) {
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
        description => description,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, value);
    });
}

/// Every output line is a JSON object with its input position.
fn check_json_lines(out: &Output) {
    for line in text(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n{}", describe(out)));
        assert!(v["input"]["file"].is_string(), "{line}");
        assert!(v["input"]["line"].is_u64(), "{line}");
    }
}

#[test]
fn pmta_accounting_csv() {
    let out = classify(&["tests/inputs/pmta/acct-2024-05-01.csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    check_json_lines(&out);
    snapshot(
        "inputs__pmta",
        "classify tests/inputs/pmta/acct-2024-05-01.csv",
        &transcript(&out),
    );
}

#[test]
fn pmta_accounting_csv_as_csv() {
    let out = classify(&["--format", "csv", "tests/inputs/pmta/acct-2024-05-01.csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "file,line,mx,rcpt,status,initial_status,verdict,category,rule,unmatched,reply,time,incoming_category\n"
        ),
        "{stdout}"
    );
    snapshot(
        "inputs__pmta_csv",
        "classify --format csv tests/inputs/pmta/acct-2024-05-01.csv",
        &transcript(&out),
    );
}

#[test]
fn postfix_log() {
    let out = classify(&["tests/inputs/postfix/mail.log"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    check_json_lines(&out);
    snapshot(
        "inputs__postfix",
        "classify tests/inputs/postfix/mail.log",
        &transcript(&out),
    );
}

#[test]
fn dsn_emails() {
    let out = classify(&[
        "tests/inputs/dsn/postfix-two-recipients.eml",
        "tests/inputs/dsn/outlook.eml",
        "tests/inputs/dsn/gmail.eml",
        "tests/inputs/dsn/exim-no-report.eml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    check_json_lines(&out);
    snapshot(
        "inputs__dsn",
        "classify tests/inputs/dsn/{postfix-two-recipients,outlook,gmail,exim-no-report}.eml",
        &transcript(&out),
    );
}

#[test]
fn maildir_folder() {
    let out = classify(&["tests/inputs/maildir"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    check_json_lines(&out);
    snapshot(
        "inputs__maildir",
        "classify tests/inputs/maildir",
        &transcript(&out),
    );
}

#[test]
fn mbox_file() {
    let out = classify(&["tests/inputs/mbox/bounces.mbox"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    check_json_lines(&out);
    let lines: Vec<u64> = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["input"]["line"].as_u64())
        .collect();
    // Each record points at the `From ` line of its message.
    assert_eq!(lines, vec![1, 57, 93], "{}", describe(&out));
    snapshot(
        "inputs__mbox",
        "classify tests/inputs/mbox/bounces.mbox",
        &transcript(&out),
    );
}

/// Every fixture, with the format it must be detected as.
const FIXTURES: [(&str, InputFormat); 9] = [
    ("tests/inputs/pmta/acct-2024-05-01.csv", InputFormat::Pmta),
    ("tests/inputs/postfix/mail.log", InputFormat::Postfix),
    (
        "tests/inputs/dsn/postfix-two-recipients.eml",
        InputFormat::Dsn,
    ),
    ("tests/inputs/dsn/outlook.eml", InputFormat::Dsn),
    ("tests/inputs/dsn/gmail.eml", InputFormat::Dsn),
    ("tests/inputs/dsn/exim-no-report.eml", InputFormat::Dsn),
    ("tests/inputs/mbox/bounces.mbox", InputFormat::Dsn),
    ("tests/inputs/maildir", InputFormat::Dsn),
    ("tests/sample/bounces.jsonl", InputFormat::Jsonl),
];

fn manifest(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn formats_are_detected_from_the_content() {
    for (path, format) in FIXTURES {
        let detected = input::open(&manifest(path), InputFormat::Auto)
            .unwrap_or_else(|e| panic!("cannot open {path}: {e}"))
            .format();
        assert_eq!(detected, format, "{path}");
        // The same output as with the format named.
        let auto = classify(&[path]);
        let named = classify(&["--input-format", format.as_str(), path]);
        assert_eq!(auto.stdout, named.stdout, "{path}");
        assert_eq!(auto.status.code(), Some(0), "{path}\n{}", describe(&auto));
    }
    // Detection works on standard input too (no file name to go by).
    for (path, _) in FIXTURES.iter().filter(|(p, _)| !p.ends_with("maildir")) {
        let bytes = std::fs::read(manifest(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let piped = mxrules(&["classify", "--rules", RULES, "-"], &bytes);
        let named = classify(&[path]);
        let strip = |o: &Output| text(&o.stdout).replace(path, "<stdin>");
        assert_eq!(strip(&piped), strip(&named), "{path}");
    }
}

#[test]
fn detection_of_headers_and_syslog_lines() {
    use mxrules::input::detect::detect;
    assert_eq!(
        detect(b"\"type\",\"timeLogged\",\"rcpt\"\n"),
        None,
        "quoted header without dsnStatus"
    );
    assert_eq!(detect(b"\"type\",\"dsnStatus\"\n"), Some(InputFormat::Pmta));
    assert_eq!(
        detect(b"X-Original-To: a@b.example\nDelivered-To: a@b.example\n"),
        Some(InputFormat::Dsn)
    );
    assert_eq!(
        detect(b"\n\n  {\"reply\": \"550 no\"}"),
        Some(InputFormat::Jsonl)
    );
}

#[test]
fn an_input_of_unknown_format_is_a_usage_error() {
    let out = mxrules(
        &["classify", "--rules", RULES, "-"],
        b"this is not a bounce file\n",
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert_eq!(
        text(&out.stderr).lines().next(),
        Some(
            "error: cannot read `<stdin>`: cannot tell the format of `<stdin>`; name it with --input-format jsonl|pmta|dsn|postfix"
        )
    );
    let out = classify(&["--input-format", "csv", "-"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("unknown input format `csv`"),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_folder_that_is_no_maildir_is_a_usage_error() {
    let out = classify(&["tests/inputs/dsn", "tests/inputs/mbox/bounces.mbox"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert_eq!(
        text(&out.stderr).lines().next(),
        Some(
            "error: cannot read `tests/inputs/dsn`: `tests/inputs/dsn` is a folder but not a Maildir (it has no `cur` or `new` folder)"
        ),
        "{}",
        describe(&out)
    );
    // The other input is still classified.
    assert_eq!(text(&out.stdout).lines().count(), 3, "{}", describe(&out));
}

#[test]
fn bad_pmta_rows_are_reported_with_their_lines() {
    let out = classify(&["tests/inputs/bad/acct.csv"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        text(&out.stderr),
        "error: tests/inputs/bad/acct.csv:3: row has 4 fields, the header has 8\n\
         error: tests/inputs/bad/acct.csv:4: `dsnStatus` `5.x.1 (broken)` is not a status: a status is three numbers separated by dots, like `5.1.1`\n\
         error: tests/inputs/bad/acct.csv:6: bounce row without `dsnStatus` or `dsnDiag`\n\
         classified 1 bounces: 1 quarantine, 0 blocked, 0 hard, 0 soft; 0 unmatched; 3 bad records; 1 skipped (1 record type `d`)\n"
    );
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim())
        .unwrap_or_else(|e| panic!("{e}\n{}", describe(&out)));
    assert_eq!(v["input"]["line"], 2);
    assert_eq!(v["rcpt"], "anna.k@gmail.com");
}

#[test]
fn a_dsn_without_recipients_is_a_bad_record() {
    let out = classify(&[
        "tests/inputs/bad/no-recipients.eml",
        "tests/inputs/dsn/gmail.eml",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        text(&out.stderr),
        "error: tests/inputs/bad/no-recipients.eml:1: no failed recipient found in the message\n\
         classified 1 bounces: 1 quarantine, 0 blocked, 0 hard, 0 soft; 0 unmatched; 1 bad records\n"
    );
    assert_eq!(text(&out.stdout).lines().count(), 1);
}

#[test]
fn garbage_log_lines_are_bad_records() {
    let out = classify(&["tests/inputs/bad/mail.log"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        text(&out.stderr),
        "error: tests/inputs/bad/mail.log:2: not a syslog line\n\
         error: tests/inputs/bad/mail.log:3: `status=bounced` line without `to=<…>`\n\
         classified 1 bounces: 1 quarantine, 0 blocked, 0 hard, 0 soft; 0 unmatched; 2 bad records; 1 skipped (1 not a delivery line)\n"
    );
}

#[test]
fn a_message_that_is_no_bounce_is_skipped() {
    let auto_reply = b"From: Anna <anna.k@gmail.com>\nTo: news@mail.shop.example\n\
        Subject: Out of office\nDate: Wed, 1 May 2024 10:00:00 +0000\n\n\
        I am away until May 6th.\n";
    let out = mxrules(
        &["classify", "--rules", RULES, "--input-format", "dsn", "-"],
        auto_reply,
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        "classified 0 bounces: 0 quarantine, 0 blocked, 0 hard, 0 soft; 0 unmatched; 0 bad records; 1 skipped (1 not a bounce message)\n"
    );
}

#[test]
fn items_carry_positions_times_and_categories() {
    let items: Vec<Item> = input::open(
        &manifest("tests/inputs/pmta/acct-2024-05-01.csv"),
        InputFormat::Auto,
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .items()
    .collect();
    assert_eq!(items.len(), 8);
    let Item::Record(r) = &items[1] else {
        panic!("not a record: {:?}", items[1]);
    };
    assert!(
        r.position
            .file
            .ends_with("tests/inputs/pmta/acct-2024-05-01.csv")
    );
    assert_eq!(r.position.line, 3);
    assert_eq!(r.time.as_deref(), Some("2024-05-01 10:20:30-0700"));
    assert_eq!(r.incoming_category.as_deref(), Some("bad-mailbox"));
    assert_eq!(
        r.bounce.reported_category,
        Some(mxrules::core::status::Category::BadMailbox)
    );
    assert_eq!(r.extra["jobId"], "spring-0501");
    assert_eq!(r.extra["vmta"], "vmta-eu1");
    assert!(matches!(&items[0], Item::Skipped { reason, .. } if reason == "record type `d`"));
    assert_eq!(
        input::time_parts(r.time.as_deref().unwrap_or("")),
        Some((Some(2024), 5, 1, 10))
    );
    // Postfix: the syslog time has no year.
    let items: Vec<Item> = input::open(
        &manifest("tests/inputs/postfix/mail.log"),
        InputFormat::Postfix,
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .items()
    .collect();
    let times: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            Item::Record(r) => r.time.as_deref().and_then(input::time_parts),
            _ => None,
        })
        .collect();
    assert_eq!(times.first(), Some(&(None, 5, 1, 10)));
}

#[test]
fn quarantine_list() {
    let dir = Scratch::new("quarantine");
    let list = dir.0.join("quarantine.csv");
    let list_arg = list.to_string_lossy().into_owned();
    let out = classify(&[
        "--quiet",
        "--quarantine-list",
        &list_arg,
        "tests/inputs/pmta/acct-2024-05-01.csv",
        "tests/inputs/postfix/mail.log",
        "tests/inputs/dsn/postfix-two-recipients.eml",
        "tests/inputs/dsn/outlook.eml",
        "tests/inputs/dsn/gmail.eml",
        "tests/inputs/mbox/bounces.mbox",
        "tests/inputs/maildir",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stderr), "");
    let written = std::fs::read_to_string(&list).unwrap_or_else(|e| panic!("{e}"));
    // Deduplicated across inputs, lowercased, sorted; the first deciding
    // rule in input order; `unmatched` when the policy decided.
    assert_eq!(
        written,
        "address,status,rule\n\
         anna.k@gmail.com,5.1.1,tests/inputs/test.rules:13\n\
         ivan.petrov@mail.ru,5.1.1,tests/inputs/test.rules:18\n\
         j.doe@fabrikam.example,5.1.1,tests/inputs/test.rules:29\n\
         lena.fischer@yahoo.com,5.1.1,tests/inputs/test.rules:30\n\
         m.rossi@libero.example,5.1.1,tests/inputs/test.rules:29\n\
         nobody@example.org,5.1.1,tests/inputs/test.rules:29\n\
         olduser@mail.shop.example,5.1.1,unmatched\n"
    );
    // Nothing is left beside it.
    let names: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["quarantine.csv".to_string()]);
    // Without --quiet the summary says where it went.
    let out = classify(&["--quarantine-list", &list_arg, "tests/inputs/dsn/gmail.eml"]);
    assert_eq!(
        text(&out.stderr).lines().next(),
        Some(format!("wrote 1 addresses to quarantine to `{list_arg}`").as_str())
    );
    assert_eq!(
        std::fs::read_to_string(&list).unwrap_or_default(),
        "address,status,rule\nnobody@example.org,5.1.1,tests/inputs/test.rules:29\n"
    );
}

/// The peak resident memory of a running process, in KiB (Linux only).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Generated JSON lines: `n` bounces of a few kinds, each with an id.
fn generated(n: usize) -> Vec<u8> {
    let replies = [
        (
            "gmail-smtp-in.l.google.com",
            "550-5.1.1 The email account that you tried to reach does not exist. Please try\\r\\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si{} - gsmtp",
        ),
        (
            "mxs.mail.ru",
            "550 Message was not accepted -- invalid mailbox.  Local mailbox u{}@mail.ru is unavailable: user not found",
        ),
        (
            "mx01.mail.icloud.com",
            "552 5.2.2 <u{}@icloud.com>: user is over quota",
        ),
        (
            "mta7.am0.yahoodns.net",
            "421 4.7.0 [TSS04] Messages from 198.51.100.{} temporarily deferred due to unexpected volume or user complaints",
        ),
    ];
    let mut out = Vec::with_capacity(n * 260);
    for i in 0..n {
        let (mx, reply) = replies[i % replies.len()];
        let reply = reply.replace("{}", &i.to_string());
        let _ = writeln!(
            out,
            r#"{{"mx":"{mx}","rcpt":"user{i}@example.com","reply":"{reply}","id":{i},"campaign":"spring"}}"#
        );
    }
    out
}

#[test]
fn a_large_input_streams_in_bounded_memory_and_keeps_its_order() {
    const N: usize = 200_000;
    let input = generated(N);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mxrules"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["classify", "--rules", RULES, "--jobs", "3", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run mxrules: {e}"));
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    // Read the output as it comes, keeping only what the checks need.
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut pending = Vec::new();
        let (mut lines, mut in_order, mut quarantine) = (0usize, true, 0usize);
        loop {
            let n = match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            pending.extend_from_slice(&buf[..n]);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let v: serde_json::Value = serde_json::from_slice(&line).unwrap_or_default();
                in_order &= v["id"].as_u64() == Some(lines as u64);
                in_order &= v["input"]["line"].as_u64() == Some(lines as u64 + 1);
                if v["verdict"] == "quarantine" {
                    quarantine += 1;
                }
                lines += 1;
            }
        }
        (lines, in_order, quarantine)
    });
    let mut peak = None;
    let status = loop {
        if let Some(kib) = peak_rss_kib(pid) {
            peak = Some(kib);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => panic!("cannot wait for mxrules: {e}"),
        }
    };
    let _ = feeder.join();
    let (lines, in_order, quarantine) = reader.join().unwrap_or_default();
    let mut err = String::new();
    let _ = stderr.read_to_string(&mut err);
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(lines, N);
    assert!(in_order, "the output is not in input order");
    assert_eq!(quarantine, N / 2);
    assert_eq!(
        err,
        format!(
            "classified {N} bounces: {} quarantine, 0 blocked, 0 hard, {} soft; 0 unmatched; 0 bad records\n",
            N / 2,
            N / 2
        )
    );
    // The input is about 48 MiB: holding it would take more than that, as
    // records even more. Streamed, memory stays well under it.
    let input_kib = (generated(1).len() * N / 1024) as u64;
    if let Some(peak) = peak {
        eprintln!("input {input_kib} KiB, peak resident memory {peak} KiB");
        assert!(
            peak < input_kib * 3 / 4,
            "peak resident memory {peak} KiB for an input of {input_kib} KiB"
        );
    } else {
        eprintln!("no /proc: peak memory not measured");
    }
}

#[test]
fn the_output_does_not_depend_on_the_number_of_threads() {
    let input = generated(20_000);
    let one = mxrules(&["classify", "--rules", RULES, "--jobs", "1", "-"], &input);
    let four = mxrules(&["classify", "--rules", RULES, "--jobs", "4", "-"], &input);
    assert_eq!(one.status.code(), Some(0));
    assert_eq!(text(&one.stderr), text(&four.stderr));
    assert!(one.stdout == four.stdout, "outputs differ");
}

/// An unterminated quote in a PowerMTA row stays in that row: the row is
/// read on its own, and the rows after it, a bad one among them, are read.
#[test]
fn pmta_unterminated_quote_does_not_lose_later_rows() {
    let csv = concat!(
        "type,timeLogged,rcpt,dsnStatus,dsnDiag\n",
        "b,2024-05-01 10:00:00+0000,a@example.com,5.1.1,\"smtp;550 5.1.1 unterminated\n",
        "b,2024-05-01 10:00:01+0000\n",
        "b,2024-05-01 10:00:02+0000,b@example.com,5.1.1,smtp;550 5.1.1 user unknown\n",
    );
    let out = mxrules(
        &["classify", "--rules", RULES, "--input-format", "pmta", "-"],
        csv.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", describe(&out));
    assert!(
        lines[0].contains(r#""rcpt":"a@example.com""#),
        "{}",
        describe(&out)
    );
    assert!(
        lines[0].contains(r#""reply":"smtp;550 5.1.1 unterminated""#),
        "{}",
        describe(&out)
    );
    assert!(
        lines[1].contains(r#""rcpt":"b@example.com""#),
        "{}",
        describe(&out)
    );
    assert!(
        lines[1].contains(r#""input":{"file":"<stdin>","line":4}"#),
        "{}",
        describe(&out)
    );
    assert_eq!(
        text(&out.stderr).lines().next(),
        Some("error: <stdin>:3: row has 2 fields, the header has 5")
    );
}

/// A quoted PowerMTA `dsnDiag` may hold line breaks (RFC 4180): the record
/// is read whole, at the line where it starts, and the lines after it keep
/// their numbers.
#[test]
fn pmta_quoted_diag_with_line_breaks_is_one_record() {
    let csv = concat!(
        "type,timeLogged,rcpt,dsnStatus,dsnDiag\n",
        "b,2024-05-01 10:00:00+0000,a@example.com,5.1.1,\"smtp;550-5.1.1 first, \"\"quoted\"\"\r\n",
        "550 5.1.1 no such user\"\r\n",
        "b,2024-05-01 10:00:01+0000,b@example.com,5.1.1,smtp;550 5.1.1 user unknown\n",
    );
    let out = mxrules(
        &["classify", "--rules", RULES, "--input-format", "pmta", "-"],
        csv.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", describe(&out));
    assert!(
        lines[0]
            .contains(r#""reply":"smtp;550-5.1.1 first, \"quoted\"\r\n550 5.1.1 no such user""#),
        "{}",
        describe(&out)
    );
    assert!(
        lines[0].contains(r#""input":{"file":"<stdin>","line":2}"#),
        "{}",
        describe(&out)
    );
    assert!(
        lines[1].contains(r#""input":{"file":"<stdin>","line":4}"#),
        "{}",
        describe(&out)
    );
}
