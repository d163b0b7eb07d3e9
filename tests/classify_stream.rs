//! `mxrules classify` reads JSON lines and PowerMTA files in batches of
//! whole lines, on several threads, and writes its output without building
//! JSON maps. These tests hold it to the record-by-record readers of the
//! library and to the output as a `serde_json` map writes it: the same
//! bytes on standard output, the same errors and summary on standard
//! error, the same quarantine list, for inputs full of odd cases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

mod common;

use common::{Scratch, mxrules};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mxrules::core::status::Verdict;
use mxrules::input::{self, InputFormat, InputRecord, Item};
use mxrules::runtime::classify::{Classification, Classifier};
use serde_json::{Map, Value};

fn classifier() -> Classifier {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(root).unwrap_or_else(|e| panic!("cannot enter the crate: {e}"));
    let parsed = mxrules::syntax::load::parse_paths(&[PathBuf::from("rules.d")])
        .unwrap_or_else(|e| panic!("cannot read the rules: {e}"));
    let rules = mxrules::check::check(&parsed)
        .rules
        .unwrap_or_else(|| panic!("the shipped rules do not check"));
    mxrules::compile::classifier(rules)
        .unwrap_or_else(|_| panic!("the shipped rules do not compile"))
}

/// An output line as a `serde_json` map writes it.
fn json_line(rec: &InputRecord, c: &Classification) -> String {
    let mut m = Map::new();
    let mut pos = Map::new();
    pos.insert("file".into(), Value::from(rec.position.file.clone()));
    pos.insert("line".into(), Value::from(rec.position.line));
    m.insert("input".into(), Value::Object(pos));
    if let Some(mx) = &rec.bounce.mx {
        m.insert("mx".into(), Value::from(mx.clone()));
    }
    if let Some(rcpt) = &rec.bounce.rcpt {
        m.insert("rcpt".into(), Value::from(rcpt.clone()));
    }
    m.insert("reply".into(), Value::from(rec.bounce.reply.clone()));
    if let Some(t) = &rec.time {
        m.insert("time".into(), Value::from(t.clone()));
    }
    if let Some(cat) = &rec.incoming_category {
        m.insert("incoming_category".into(), Value::from(cat.clone()));
    }
    for (k, v) in &rec.extra {
        m.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if let Ok(Value::Object(cm)) = serde_json::to_value(c) {
        for (k, v) in cm {
            m.insert(k, v);
        }
    }
    let mut line = serde_json::to_string(&Value::Object(m)).unwrap_or_default();
    line.push('\n');
    line
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// An output line of `--format csv`.
fn csv_line(rec: &InputRecord, c: &Classification, wide: bool) -> String {
    let opt = |s: Option<String>| s.unwrap_or_default();
    let mut fields = vec![
        csv_field(&rec.position.file),
        rec.position.line.to_string(),
        csv_field(rec.bounce.mx.as_deref().unwrap_or("")),
        csv_field(rec.bounce.rcpt.as_deref().unwrap_or("")),
        opt(c.status.map(|s| s.to_string())),
        opt(c.initial_status.map(|s| s.to_string())),
        c.verdict.to_string(),
        opt(c.category.map(|s| s.to_string())),
        csv_field(c.rule.as_deref().unwrap_or("")),
        c.unmatched.to_string(),
        csv_field(&rec.bounce.reply),
    ];
    if wide {
        fields.push(csv_field(rec.time.as_deref().unwrap_or("")));
        fields.push(csv_field(rec.incoming_category.as_deref().unwrap_or("")));
    }
    format!("{}\n", fields.join(","))
}

/// What `classify` must write for `paths`: standard output, standard
/// error, and the quarantine list.
fn expected(c: &Classifier, paths: &[&Path], csv: bool) -> (String, String, String) {
    let mut out = String::new();
    let mut err = String::new();
    let (mut records, mut bad, mut unmatched, mut skipped) = (0, 0, 0, 0);
    let mut verdicts = [0usize; 4];
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut quarantined: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut wide = None;
    for path in paths {
        let input = input::open(path, InputFormat::Auto)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let (format, items) = (input.format(), input.items());
        let wide = *wide.get_or_insert(format != InputFormat::Jsonl);
        if csv && out.is_empty() {
            out.push_str(
                "file,line,mx,rcpt,status,initial_status,verdict,category,rule,unmatched,reply",
            );
            if wide {
                out.push_str(",time,incoming_category");
            }
            out.push('\n');
        }
        for item in items {
            match item {
                Item::Record(rec) => {
                    let v = c.classify(&rec.bounce);
                    records += 1;
                    unmatched += usize::from(v.unmatched);
                    verdicts[Verdict::ALL
                        .iter()
                        .position(|&x| x == v.verdict)
                        .unwrap_or(0)] += 1;
                    if v.verdict == Verdict::Quarantine
                        && let Some(rcpt) = &rec.bounce.rcpt
                    {
                        let a = input::clean_address(rcpt).to_lowercase();
                        let ok = a.contains('@') && !a.starts_with('@') && !a.ends_with('@');
                        if ok && !a.contains(char::is_whitespace) {
                            quarantined.entry(a).or_insert_with(|| {
                                (
                                    v.status.map(|s| s.to_string()).unwrap_or_default(),
                                    v.rule.as_deref().unwrap_or("unmatched").to_string(),
                                )
                            });
                        }
                    }
                    out.push_str(&if csv {
                        csv_line(&rec, &v, wide)
                    } else {
                        json_line(&rec, &v)
                    });
                }
                Item::Bad(b) => {
                    records += 1;
                    bad += 1;
                    err.push_str(&format!("error: {b}\n"));
                }
                Item::Skipped { reason, .. } => {
                    skipped += 1;
                    let key = if reasons.contains_key(&reason) || reasons.len() < 16 {
                        reason
                    } else {
                        String::from("other")
                    };
                    *reasons.entry(key).or_default() += 1;
                }
            }
        }
    }
    err.push_str(&format!(
        "wrote {} addresses to quarantine to `QUARANTINE`\n",
        quarantined.len()
    ));
    err.push_str(&format!(
        "classified {} bounces: {} quarantine, {} blocked, {} hard, {} soft; {} unmatched; {} bad records",
        records - bad,
        verdicts[0],
        verdicts[1],
        verdicts[2],
        verdicts[3],
        unmatched,
        bad
    ));
    if skipped > 0 {
        let mut list: Vec<(&String, &usize)> = reasons.iter().collect();
        list.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let list: Vec<String> = list.iter().map(|(r, n)| format!("{n} {r}")).collect();
        err.push_str(&format!("; {skipped} skipped ({})", list.join(", ")));
    }
    err.push('\n');
    let mut list = String::from("address,status,rule\n");
    for (address, (status, rule)) in &quarantined {
        list.push_str(&format!(
            "{},{status},{}\n",
            csv_field(address),
            csv_field(rule)
        ));
    }
    (out, err, list)
}

/// Runs `classify` on `paths` and compares everything with [`expected`].
fn check(c: &Classifier, dir: &Scratch, paths: &[&Path], extra: &[&str]) {
    let csv = extra.contains(&"csv");
    let list = dir.0.join("quarantine.csv");
    let list_arg = list.to_string_lossy().into_owned();
    let mut args = vec![
        "classify",
        "--rules",
        "rules.d",
        "--quarantine-list",
        &list_arg,
    ];
    args.extend_from_slice(extra);
    let shown: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    args.extend(shown.iter().map(String::as_str));
    let got = mxrules(&args);
    let (out, err, quarantine) = expected(c, paths, csv);
    let stdout = String::from_utf8_lossy(&got.stdout);
    for (i, (g, w)) in stdout.lines().zip(out.lines()).enumerate() {
        assert_eq!(g, w, "output line {} for {args:?}", i + 1);
    }
    assert_eq!(stdout.lines().count(), out.lines().count(), "{args:?}");
    assert!(got.stdout == out.as_bytes(), "{args:?}");
    let shown_list = mxrules::core::source::display_name(&list);
    let stderr = String::from_utf8_lossy(&got.stderr).replace(&shown_list, "QUARANTINE");
    assert_eq!(stderr, err, "{args:?}");
    let written = std::fs::read_to_string(&list).unwrap_or_default();
    assert_eq!(written, quarantine, "{args:?}");
    let bad = err.lines().any(|l| l.starts_with("error:"));
    assert_eq!(got.status.code(), Some(i32::from(bad)), "{args:?}");
}

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const HOSTS: [&str; 10] = [
    "gmail-smtp-in.l.google.com",
    "dns; MXS.MAIL.RU.",
    "mx.yandex.ru",
    "mta7.am0.yahoodns.net",
    "outlook-com.olc.protection.outlook.com (52.101.42.6)",
    "mx.azet.sk [91.235.53.10]",
    "mx01.mail.icloud.com",
    "mail.unknown-host.example",
    "[192.0.2.1]:25",
    "Ünïcode.example",
];

const RCPTS: [&str; 8] = [
    "anna.k@gmail.com",
    "rfc822; <Ivan.Petrov@Mail.RU>",
    "olga@inbox.ru",
    "John <j@X.org>",
    "someone@example-isp.net",
    "postmaster",
    "\"a,b\"@c.com",
    "user@yahoo.com (original)",
];

/// Replies, written as JSON strings (some with escapes).
const REPLIES: [&str; 15] = [
    r#""550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n550-5.1.1 double-checking the recipient's email address for typos or\r\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si1234567wmq.123 - gsmtp""#,
    r#""452-4.2.2 The recipient's inbox is out of storage space.\r\n452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp d2si9876543ejb.456 - gsmtp""#,
    r#""smtp; 550 must be local recipient""#,
    r#""550 Message was not accepted -- invalid mailbox.  Local mailbox x@mail.ru is unavailable: user not found""#,
    r#""554 delivery error: dd This user doesn't have a yahoo.com account (x@yahoo.com) [0] - mta4471.mail.bf1.yahoo.com""#,
    r#""421 4.7.0 [TSS04] Messages from 192.0.2.10 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes""#,
    r#""550 5.7.1 Service unavailable, Client host [192.0.2.10] blocked using Spamhaus. (AS3130) \"quoted\" \\ back""#,
    r#""550 5.1.1 <eva.m@icloud.com>: user does not exist""#,
    r#""451 4.7.1 Greylisting in action, please come back later""#,
    r#""550 Rejected by the big bad filter\u0001 \u00e9\u2028""#,
    r#""Host or domain name not found. Name service error for name=example.invalid type=AAAA""#,
    r#""550\t5.1.1\tgone""#,
    r#""554 5.7.1 \b\f\u001f\u007f\/ control""#,
    r#"" ""#,
    r#""5.1.1""#,
];

#[test]
fn json_lines_give_the_output_of_the_record_by_record_reader() {
    let c = classifier();
    let dir = Scratch::new("jsonl");
    let extras = [
        r#""id":7"#,
        r#""id":"m-0001""#,
        r#""campaign":{"name":"spring","n":[1,2.5,-3]}"#,
        r#""category":"mine""#,
        r#""rule":null"#,
        r#""scope":false"#,
        r#""unmatched":"no""#,
        r#""input":"where""#,
        r#""verdict":1"#,
        r#""time":1714558830"#,
        r#""time":"2024-05-01 10:20:30-0700""#,
        r#""incoming_category":"bad-mailbox""#,
        r#""incoming_category":" policy-related ""#,
        r#""incoming_category":[1]"#,
        r#""status":"5.1.1""#,
        r#""status":null"#,
        r#""big":18446744073709551616"#,
        r#""neg":-9223372036854775808"#,
        r#""f":1e3"#,
        r#""éé":"ü""#,
        r#""\u0041":"A""#,
        r#""zz\"":"\"""#,
        r#""":"""#,
    ];
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut data = String::new();
    for i in 0..30_000 {
        match rng.below(60) {
            0 => data.push_str("not json"),
            1 => data.push_str("   "),
            2 => data.push_str(r#"{"mx":"x","reply":5}"#),
            3 => data.push_str(r#"{"reply":"550 5.1.1 a","reply":"550 5.1.1 b"}"#),
            4 => data.push_str(r#"{"reply":"x","status":"9.1.1"}"#),
            5 => data.push_str(r#"[{"reply":"x"}]"#),
            _ => {
                let mut members = vec![format!("\"reply\":{}", rng.pick(&REPLIES))];
                if rng.below(5) > 0 {
                    members.push(format!("\"mx\":{:?}", rng.pick(&HOSTS)));
                }
                if rng.below(5) > 0 {
                    members.push(format!("\"rcpt\":{:?}", rng.pick(&RCPTS)));
                }
                for _ in 0..rng.below(4) {
                    let e = rng.pick(&extras);
                    let key = e.split(':').next().unwrap_or("");
                    if !members.iter().any(|m| m.starts_with(key)) {
                        members.push(e.to_string());
                    }
                }
                members.push(format!("\"n\":{i}"));
                // Any order of the members.
                for j in (1..members.len()).rev() {
                    members.swap(j, rng.below(j + 1));
                }
                data.push('{');
                data.push_str(&members.join(if rng.below(3) == 0 { ", " } else { "," }));
                data.push('}');
            }
        }
        data.push_str(if rng.below(7) == 0 { "\r\n" } else { "\n" });
    }
    let mut bytes = data.into_bytes();
    bytes.extend_from_slice(b"{\"reply\":\"\xff\"}\n{\"reply\":\"550 5.1.1 last\"}");
    let path = dir.write("bounces.jsonl", &bytes);
    check(&c, &dir, &[&path], &[]);
    check(&c, &dir, &[&path], &["--format", "csv"]);
    check(&c, &dir, &[&path], &["--jobs", "1"]);
}

#[test]
fn pmta_files_give_the_output_of_the_record_by_record_reader() {
    let c = classifier();
    let dir = Scratch::new("pmta");
    let header = "jobId,type,timeLogged,rcpt,orig,vmta,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,dlvSourceIp,envId,header_X-Campaign-Id";
    let statuses = [
        "5.1.1 (bad destination mailbox address)",
        "5.0.0 (undefined status)",
        "4.2.2 (mailbox full)",
        "5.7.1 (delivery not authorized; message refused)",
        "",
        "bogus",
    ];
    let cats = ["bad-mailbox", "policy-related", "spam-related", "", "other"];
    let types = ["b", "b", "b", "rb", "d", "t", " b "];
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    let mut data = format!("{header}\n");
    for i in 0..30_000 {
        if i == 15_000 {
            // A second file's header, other columns in another order.
            data.push_str("type,dsnDiag,rcpt,dsnStatus,dsnMta,bounceCat,vmta,vmta,,type2\n");
        }
        if rng.below(200) == 0 {
            data.push_str(" , \n");
        }
        let reply: String = serde_json::from_str(rng.pick(&REPLIES)).unwrap_or_default();
        let reply = csv_field(&format!("smtp;{}", reply.replace(['\r', '\n'], " ")));
        let host = csv_field(rng.pick(&HOSTS));
        let rcpt = csv_field(rng.pick(&RCPTS));
        let (kind, status, cat) = (rng.pick(&types), rng.pick(&statuses), rng.pick(&cats));
        let row = if i < 15_000 {
            let time = "2024-05-01 10:20:30-0700";
            format!(
                "job-{i},{kind},{time},{rcpt},news@shop.example,vmta-{},failed,{},{reply},{host},{cat},198.51.100.10,m-{i},cmp-\"7\"",
                i % 3,
                csv_field(status)
            )
        } else {
            format!(
                "{kind},{reply},{rcpt},{},{host},{cat},v{},w,blank,{}",
                csv_field(status),
                i % 5,
                if i % 2 == 0 { "" } else { "x\"y" }
            )
        };
        data.push_str(&row);
        if rng.below(100) == 0 {
            data.push_str(",extra");
        }
        data.push_str(if rng.below(9) == 0 { "\r\n" } else { "\n" });
    }
    let path = dir.write("acct.csv", data.as_bytes());
    check(&c, &dir, &[&path], &[]);
    check(&c, &dir, &[&path], &["--format", "csv"]);
    // Several inputs in one run: the first one's format decides the CSV columns.
    let small = dir.write(
        "small.jsonl",
        b"{\"reply\":\"550 5.1.1 no\",\"rcpt\":\"a@b.c\",\"time\":\"t\"}\n",
    );
    check(&c, &dir, &[&path, &small], &["--format", "csv"]);
    check(
        &c,
        &dir,
        &[&small, &path],
        &["--format", "csv", "--jobs", "3"],
    );
}

#[test]
fn errors_are_reported_in_input_order() {
    let dir = Scratch::new("order");
    let mut first = Vec::new();
    for i in 0..5_000 {
        first.extend_from_slice(format!("{{\"reply\":\"550 5.1.1 no {i}\"}}\n").as_bytes());
    }
    first.extend_from_slice(b"bad line\n");
    let first = dir.write("first.jsonl", &first);
    let missing = dir.0.join("missing.jsonl");
    let last = dir.write("last.jsonl", b"{\"reply\": 5}\n");
    let paths: Vec<String> = [&first, &missing, &last]
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    for _ in 0..5 {
        let mut args = vec!["classify", "--rules", "rules.d"];
        args.extend(paths.iter().map(String::as_str));
        let out = mxrules(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(errors.len(), 3, "{stderr}");
        assert!(errors[0].contains("first.jsonl:5001"), "{stderr}");
        assert!(
            errors[1].contains("cannot read") && errors[1].contains("missing"),
            "{stderr}"
        );
        assert!(errors[2].contains("last.jsonl:1"), "{stderr}");
        assert_eq!(out.status.code(), Some(2), "{stderr}");
    }
}
