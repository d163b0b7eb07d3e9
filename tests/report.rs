//! `mxrules report`: the domain × status table, CSV and HTML page, and the
//! unmatched clusters with their suggested rules, on a sample of 58 bounces
//! over three days (`tests/report/bounces.jsonl`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

mod common;

use common::{Scratch, mxrules};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mxrules::core::bounce::Bounce;

use mxrules::core::normalize::Reply;
use mxrules::core::status::Status;
use mxrules::report::ReportRecord;
use mxrules::report::cluster::{ClusterReport, Clusterer};
use mxrules::report::table::{Period, Tally};
use mxrules::runtime::classify::Classifier;
use mxrules::syntax::load::Parsed;

const SAMPLE: &str = "tests/report/bounces.jsonl";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a report that must succeed quietly; returns its standard output.
fn report_ok(args: &[&str]) -> String {
    let out = mxrules(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "mxrules {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stderr), "", "mxrules {}", args.join(" "));
    text(&out.stdout)
}

fn snapshot(name: &str, args: &[&str], value: &str) {
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
        description => format!("mxrules {}", args.join(" ")),
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, value);
    });
}

#[test]
fn table() {
    let args = ["report", "--rules", "rules.d", SAMPLE];
    snapshot("report__table", &args, &report_ok(&args));
}

#[test]
fn csv() {
    let args = ["report", "--rules", "rules.d", "--format", "csv", SAMPLE];
    let csv = report_ok(&args);
    // Every bounce counted once.
    let total: usize = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.rsplit(',').next())
        .map(|n| n.parse::<usize>().unwrap())
        .sum();
    assert_eq!(total, 58);
    snapshot("report__csv", &args, &csv);
}

#[test]
fn clusters() {
    let args = ["report", "--rules", "rules.d", "--clusters", SAMPLE];
    snapshot("report__clusters", &args, &report_ok(&args));
}

#[test]
fn max_clusters_shows_the_biggest() {
    let text = report_ok(&[
        "report",
        "--rules",
        "rules.d",
        "--clusters",
        "--max-clusters",
        "2",
        SAMPLE,
    ]);
    assert!(text.starts_with(
        "17 unmatched replies in 8 clusters; the biggest 2 shown, 6 more clusters of 11 replies left out.\n"
    ));
    assert_eq!(text.matches("suggested rule:").count(), 2);
    let csv = report_ok(&[
        "report",
        "--rules",
        "rules.d",
        "--clusters",
        "--max-clusters",
        "2",
        "--format",
        "csv",
        SAMPLE,
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        "rank,count,scope,initial_status,template,regex,status,example"
    );
    assert!(lines[1].starts_with(
        "1,3,\"mx ends with \"\".example.co.uk\"\"\",5.7.1,554 5.7.1 Message <ID> rejected by content filter (score <N>) - contact <EMAIL>,"
    ));
}

#[test]
fn top_n_folds_the_rest_into_other() {
    let csv = report_ok(&[
        "report", "--rules", "rules.d", "--format", "csv", "--top", "2", SAMPLE,
    ]);
    let mut by_domain: BTreeMap<String, usize> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        *by_domain.entry(fields[1].to_string()).or_insert(0) += fields[4].parse::<usize>().unwrap();
    }
    let want: BTreeMap<String, usize> = [("outlook.com", 17), ("gmail.com", 10), ("other", 31)]
        .into_iter()
        .map(|(d, n)| (d.to_string(), n))
        .collect();
    assert_eq!(by_domain, want);
}

/// The tags of an HTML page (what lies between `<` and `>`), checked for
/// balance: every element opened is closed in order, except void elements
/// and self-closed SVG ones.
fn balanced_tags(page: &str) -> Vec<&str> {
    let mut tags = Vec::new();
    const VOID: [&str; 6] = ["meta", "link", "br", "hr", "img", "input"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = page;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            panic!("unterminated tag at {}", &rest[open..]);
        };
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        tags.push(tag);
        if tag.starts_with('!') {
            continue;
        }
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(!name.is_empty(), "bad tag <{tag}>");
        if let Some(closing) = tag.strip_prefix('/') {
            let top = stack.pop();
            assert_eq!(
                top.as_deref(),
                Some(closing),
                "closing </{closing}> does not match"
            );
        } else if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    tags
}

/// What every page must be: one self-contained HTML5 file.
fn check_self_contained(page: &str) {
    assert!(
        page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
        "{}",
        &page[..60]
    );
    assert!(page.ends_with("</html>\n"));
    assert_eq!(page.matches("<svg").count(), 1);
    assert!(page.contains("<meta charset=\"utf-8\">"));
    // Nothing to fetch or run: no such elements or attributes, nothing
    // loaded from the style sheet. Text from the input is escaped, so an
    // unescaped `<script` could only be a tag.
    assert!(!page.contains("<script"));
    for tag in balanced_tags(page) {
        let name = tag.split_whitespace().next().unwrap_or("");
        for element in [
            "script", "link", "iframe", "object", "embed", "img", "image", "use", "a",
        ] {
            assert_ne!(name, element, "the page has <{tag}>");
        }
        for attribute in [" src=", " href=", " xlink:href=", " on"] {
            assert!(!tag.contains(attribute), "the page has <{tag}>");
        }
    }
    let style = &page[page.find("<style>").unwrap()..page.find("</style>").unwrap()];
    assert!(!style.contains("url(") && !style.contains("@import"));
}

#[test]
fn html_page() {
    let dir = Scratch::new("html");
    let page_path = dir.path("report.html");
    let page_arg = page_path.to_string_lossy().into_owned();
    let args = [
        "report",
        "--rules",
        "rules.d",
        "--clusters",
        "--html",
        &page_arg,
        SAMPLE,
    ];
    report_ok(&args);
    let page = std::fs::read_to_string(&page_path).unwrap();
    check_self_contained(&page);
    assert!(page.contains("<title>Bounces by domain and status</title>"));
    assert!(page.contains(
        "<p class=\"summary\">58 bounces from 2024-05-01 to 2024-05-03 (1 without a readable time), per day;"
    ));

    // One bar per bucket, one segment per domain group with bounces in
    // that bucket, as the CSV counts them.
    let csv = report_ok(&["report", "--rules", "rules.d", "--format", "csv", SAMPLE]);
    let mut groups: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        *groups
            .entry(f[0].to_string())
            .or_default()
            .entry(f[1].to_string())
            .or_insert(0) += f[4].parse::<usize>().unwrap();
    }
    assert_eq!(
        groups.keys().collect::<Vec<_>>(),
        ["2024-05-01", "2024-05-02", "2024-05-03", "unknown"]
    );
    assert_eq!(page.matches("<g class=\"bar\"").count(), groups.len());
    let mut segments = 0;
    for (bucket, domains) in &groups {
        let total: usize = domains.values().sum();
        assert!(page.contains(&format!(
            "<g class=\"bar\" data-bucket=\"{bucket}\" data-total=\"{total}\">"
        )));
        let rects = page
            .matches(&format!("<rect class=\"seg\" data-bucket=\"{bucket}\""))
            .count();
        assert_eq!(rects, domains.len(), "segments of {bucket}");
        for (domain, n) in domains {
            let title = format!(
                "<title>{bucket}: {} {n}</title>",
                domain.replace('&', "&amp;")
            );
            assert!(page.contains(&title), "no segment {title}");
        }
        segments += rects;
    }
    assert_eq!(page.matches("<rect").count(), segments);

    // The domain × status table: the Outlook spike and the totals.
    assert!(page.contains("<h2>Bounces per domain and status</h2>"));
    assert!(page.contains("<td class=\"n total\">17</td></tr>"));
    assert!(page.contains("<tfoot><tr class=\"total\"><td>total</td>"));
    assert!(page.contains("<td class=\"n\">58</td></tr></tfoot>"));

    // A reply with markup in it is shown as text.
    assert!(page.contains(
        "554 5.7.1 &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;friends&quot; rejected"
    ));
}

#[test]
fn html_escapes_domains_and_replies() {
    let classifier = policy_only();
    let mut tally = Tally::new(Period::Day);
    let mut clusterer = Clusterer::new();
    for domain in [
        "<script>alert(1)</script>",
        "a&b.example",
        "\"quoted\".example",
    ] {
        let record = ReportRecord {
            time: Some(String::from("2024-05-01T10:00:00Z")),
            rcpt_domain: Some(domain.to_string()),
            mx: Some(String::from("mx.example.net")),
            reply: String::from("550 5.7.1 <img src=x onerror=alert(1)> denied"),
            classification: classifier.classify(&Bounce::new(
                "550 5.7.1 <img src=x onerror=alert(1)> denied",
            )),
        };
        tally.add(&record);
        clusterer.add(&record);
    }
    let clusters = clusterer.finish(None, usize::MAX);
    let page = mxrules::report::html::page(&tally.finish(10), Some(&clusters));
    check_self_contained(&page);
    assert!(!page.contains("<img"));
    assert!(page.contains("data-domain=\"&lt;script&gt;alert(1)&lt;/script&gt;\""));
    assert!(page.contains("<td>a&amp;b.example</td>"));
    assert!(page.contains("data-domain=\"&quot;quoted&quot;.example\""));
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt; denied"));
}

#[test]
fn chart_keeps_empty_buckets_between_busy_ones() {
    let classifier = policy_only();
    let mut tally = Tally::new(Period::Day);
    for (time, domain) in [
        ("2024-02-28T10:00:00Z", "a.example"),
        ("2024-03-01T10:00:00Z", "a.example"),
        ("2024-03-01T11:00:00Z", "b.example"),
        ("Feb 28 10:00:00", "a.example"),
        ("Mar  1 10:00:00", "a.example"),
    ] {
        tally.add(&ReportRecord {
            time: Some(time.to_string()),
            rcpt_domain: Some(domain.to_string()),
            mx: None,
            reply: String::from("550 5.1.1 user unknown"),
            classification: classifier.classify(&Bounce::new("550 5.1.1 user unknown")),
        });
    }
    let report = tally.finish(10);
    let timeline: Vec<String> = report.timeline().iter().map(ToString::to_string).collect();
    // 2024 is a leap year; a year-less calendar has a 29 February too.
    assert_eq!(
        timeline,
        [
            "--02-28",
            "--02-29",
            "--03-01",
            "2024-02-28",
            "2024-02-29",
            "2024-03-01"
        ]
    );
    let page = mxrules::report::html::page(&report, None);
    check_self_contained(&page);
    assert_eq!(page.matches("<g class=\"bar\"").count(), 6);
    let empty = page
        .split("<g class=\"bar\" data-bucket=\"2024-02-29\" data-total=\"0\">")
        .nth(1)
        .and_then(|rest| rest.split("</g>").next())
        .unwrap();
    assert!(!empty.contains("<rect"), "{empty}");
    assert_eq!(
        page.matches("<rect class=\"seg\" data-bucket=\"2024-03-01\"")
            .count(),
        2
    );
    // The tables list the buckets with bounces only.
    assert!(!report.to_table().contains("02-29"));
}

#[test]
fn hour_buckets_and_unknown_times() {
    let classifier = policy_only();
    let mut tally = Tally::new(Period::Hour);
    let times = [
        Some("2024-05-01T10:20:30Z"),
        Some("2024-05-01T10:59:59Z"),
        Some("Wed, 01 May 2024 11:00:00 +0000"),
        Some("May  1 11:15:00"),
        Some("not a time"),
        None,
    ];
    for t in times {
        tally.add(&ReportRecord {
            time: t.map(String::from),
            rcpt_domain: Some(String::from("Example.ORG")),
            mx: None,
            reply: String::from("550 5.1.1 user unknown"),
            classification: classifier.classify(&Bounce::new("550 5.1.1 user unknown")),
        });
    }
    assert_eq!(
        tally.finish(10).to_csv(),
        "bucket,domain,status,verdict,count\n\
         --05-01 11:00,example.org,5.1.1,quarantine,1\n\
         2024-05-01 10:00,example.org,5.1.1,quarantine,2\n\
         2024-05-01 11:00,example.org,5.1.1,quarantine,1\n\
         unknown,example.org,5.1.1,quarantine,2\n"
    );
}

#[test]
fn bad_records_are_reported_and_counted() {
    let dir = Scratch::new("bad");
    let input = dir.path("in.jsonl");
    std::fs::write(
        &input,
        "{\"rcpt\":\"a@gmail.com\",\"reply\":\"550 5.1.1 no\",\"time\":\"2024-05-01T10:00:00Z\"}\n\
         {\"rcpt\":\"b@gmail.com\"\n\
         \n\
         [1,2]\n",
    )
    .unwrap();
    let input_arg = input.to_string_lossy().into_owned();
    let out = mxrules(&[
        "report", "--rules", "rules.d", "--format", "csv", &input_arg,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "bucket,domain,status,verdict,count\n2024-05-01,gmail.com,5.1.1,quarantine,1\n"
    );
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("error: {input_arg}:2: ")),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with(&format!("error: {input_arg}:4: ")),
        "{stderr}"
    );
    assert_eq!(
        lines[2],
        "2 of 3 records could not be read and were left out"
    );
}

#[test]
fn reads_powermta_and_postfix_inputs() {
    let dir = Scratch::new("formats");
    let acct = dir.path("acct.csv");
    std::fs::write(
        &acct,
        "type,timeLogged,rcpt,dsnStatus,dsnDiag,dsnMta,bounceCat\n\
         b,2024-05-01 10:20:30-0700,anna@gmail.com,5.1.1 (bad destination mailbox address),\
         smtp;550 5.1.1 The email account that you tried to reach does not exist. - gsmtp,\
         gmail-smtp-in.l.google.com (192.0.2.1),bad-mailbox\n\
         d,2024-05-01 10:20:31-0700,bob@example.com,2.0.0 (success),smtp;250 ok,mx.example.com (192.0.2.1),\n\
         rb,2024-05-02 08:00:00-0700,carl@example.org,5.0.0 (other),smtp;550 Go away,mx.example.org (192.0.2.2),other\n",
    )
    .unwrap();
    let log = dir.path("mail.log");
    std::fs::write(
        &log,
        "May  1 10:20:30 mail postfix/smtp[2481]: 4VT1x23kLz: to=<anna.k@gmail.com>, \
         relay=gmail-smtp-in.l.google.com[192.0.2.1]:25, delay=5.2, delays=0.1/0/0.9/4.2, dsn=5.1.1, \
         status=bounced (host gmail-smtp-in.l.google.com[192.0.2.1] said: 550 5.1.1 The email account \
         that you tried to reach does not exist. - gsmtp (in reply to RCPT TO command))\n\
         May  1 10:20:31 mail postfix/smtp[2482]: 4VT1x23kLz: to=<dan@example.org>, \
         relay=mx.example.org[192.0.2.2]:25, delay=1, delays=0.1/0/0.9/0, dsn=2.0.0, status=sent (250 ok)\n",
    )
    .unwrap();
    let (acct, log) = (
        acct.to_string_lossy().into_owned(),
        log.to_string_lossy().into_owned(),
    );
    let out = mxrules(&[
        "report", "--rules", "rules.d", "--format", "csv", &acct, &log,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The syslog line has no year: its day is `--05-01`.
    assert_eq!(
        text(&out.stdout),
        "bucket,domain,status,verdict,count\n\
         --05-01,gmail.com,5.1.1,quarantine,1\n\
         2024-05-01,gmail.com,5.1.1,quarantine,1\n\
         2024-05-02,example.org,5.0.0,hard,1\n"
    );
    assert_eq!(
        text(&out.stderr),
        "2 records were not bounces and left out\n"
    );
}

/// The shipped rules, compiled.
fn shipped() -> Classifier {
    let parsed = mxrules::syntax::load::parse_paths(&[PathBuf::from("rules.d")]).unwrap();
    mxrules::compile::classifier(mxrules::check::check(&parsed).rules.unwrap()).unwrap()
}

/// Policy only: every bounce is unmatched.
fn policy_only() -> Classifier {
    let mut parsed = Parsed::default();
    parsed.add_text("policy.rules", "policy { 5.1.1 -> quarantine  5.7.* -> blocked  5.*.* -> hard  4.*.* -> soft  2.*.* -> soft }");
    mxrules::compile::classifier(mxrules::check::check(&parsed).rules.unwrap()).unwrap()
}

/// The sample's records, classified.
fn sample_records(classifier: &Classifier) -> Vec<ReportRecord> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SAMPLE);
    mxrules::input::open(&path, mxrules::input::InputFormat::Jsonl)
        .unwrap()
        .items()
        .map(|item| match item {
            mxrules::input::Item::Record(r) => record(classifier, r.bounce, r.time.as_deref()),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn record(classifier: &Classifier, bounce: Bounce, time: Option<&str>) -> ReportRecord {
    ReportRecord {
        time: time.map(String::from),
        rcpt_domain: bounce
            .rcpt
            .as_deref()
            .and_then(mxrules::core::normalize::rcpt_domain),
        mx: bounce.mx.clone(),
        classification: classifier.classify(&bounce),
        reply: bounce.reply,
    }
}

/// Every suggestion is a rules file `mxrules check` accepts without an
/// error, in the layout `mxrules fmt` gives it, whose rule fires on every
/// example of its cluster (with the suggestion alone) and gives the
/// suggested status, and fires on no example of another cluster of its
/// scope and initial status.
fn check_suggestions(report: &ClusterReport) {
    let dir = Scratch::new("suggestions");
    for (i, c) in report.clusters.iter().enumerate() {
        let s = &c.suggestion;
        let name = format!("suggestion{i}.rules");
        let path = dir.path(&name);
        std::fs::write(&path, &s.rule).unwrap();
        let source = std::fs::read_to_string(&path).unwrap();
        let mut parsed = Parsed::default();
        parsed.add_text(&name, &source);
        let checked = mxrules::check::check(&parsed);
        let errors: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .collect();
        assert!(errors.is_empty(), "{}\n{errors:#?}", s.rule);
        assert_eq!(
            mxrules::syntax::fmt::format_source(mxrules::core::source::FileId(0), &source).unwrap(),
            source,
            "not in the canonical layout"
        );
        assert!(!c.examples.is_empty());
        let rules = checked.rules.unwrap();
        assert_eq!(rules.rules.len(), 1);
        // The examples whose own initial status is the cluster's are the rule's.
        let checkable = c
            .examples
            .iter()
            .filter(|e| c.initial.is_none() || Reply::new(&e.reply, None).initial == c.initial)
            .count();
        assert_eq!(rules.rules[0].examples.len(), checkable, "{}", s.rule);
        let location = rules.rules[0].location();
        let classifier = mxrules::compile::classifier(rules).unwrap();
        let bounce = |e: &mxrules::report::cluster::Example, initial: Option<Status>| {
            let mut b = Bounce::new(e.reply.clone());
            b.mx = e.mx.clone();
            b.rcpt = e.rcpt_domain.as_ref().map(|d| format!("someone@{d}"));
            b.status = initial;
            b
        };
        for e in &c.examples {
            let got = classifier.classify(&bounce(e, c.initial));
            assert_eq!(
                got.rule.as_deref(),
                Some(location.as_str()),
                "{}\n{e:?}",
                s.rule
            );
            assert_eq!(got.status, Some(s.status));
        }
        for other in &report.clusters {
            if other.scope == c.scope && other.initial == c.initial && other.template != c.template
            {
                for e in &other.examples {
                    let got = classifier.classify(&bounce(e, other.initial));
                    assert!(got.unmatched, "{} takes {:?}", s.rule, e.reply);
                }
            }
        }
    }
}

#[test]
fn sample_suggestions_pass_check_and_match_their_examples() {
    let classifier = shipped();
    let mut clusterer = Clusterer::new();
    for r in sample_records(&classifier) {
        clusterer.add(&r);
    }
    let report = clusterer.finish(None, usize::MAX);
    assert_eq!(report.unmatched, 17);
    assert_eq!(report.clusters.iter().map(|c| c.count).sum::<usize>(), 17);
    check_suggestions(&report);
}

#[test]
fn every_sample_reply_clustered_without_rules_gets_a_valid_suggestion() {
    let classifier = policy_only();
    let mut clusterer = Clusterer::new();
    for r in sample_records(&classifier) {
        clusterer.add(&r);
    }
    let report = clusterer.finish(None, usize::MAX);
    assert_eq!(report.unmatched, 58);
    check_suggestions(&report);
}

#[test]
fn awkward_replies_get_valid_suggestions() {
    let classifier = policy_only();
    let bounces = [
        // One template the start of another: the shorter is anchored at the end.
        Bounce::new("550 5.1.1 User unknown").mx("mx1.example.net"),
        Bounce::new("550 5.1.1 User unknown <anna@example.net>").mx("mx2.example.net"),
        Bounce::new("550 5.1.1 User unknown <bob@example.net>").mx("mx2.example.net"),
        // Templates that differ late: the regex goes as far as it must.
        Bounce::new(
            "550 5.7.1 Message refused by the receiving system because of a local policy, reason A",
        )
        .mx("mx.example.net"),
        Bounce::new(
            "550 5.7.1 Message refused by the receiving system because of a local policy, reason B",
        )
        .mx("mx.example.net"),
        // No enhanced code: a status from the words; no code at all.
        Bounce::new("550 No such user here (id 4711)").mx("mail.example.co.uk"),
        Bounce::new("Delivery failed for good, see https://x.example/why?id=99&u=a%40b")
            .rcpt("u@example.com"),
        Bounce::new("").rcpt("u@example.com"),
        // Non-ASCII text, regex characters and slashes, a DSN status given next to the reply.
        Bounce::new("550 Příjemce neexistuje / recipient (a+b)* [x] {y} ^$ | \\ unknown")
            .mx("mx.seznam.cz"),
        Bounce::new("smtp; 554 rejected")
            .mx("dns; mx.example.org.")
            .status(Status::new(5, 7, 1)),
        Bounce::new("451 4.7.1 Greylisted for 300 seconds").mx("[192.0.2.1]"),
        Bounce::new("451 Greylisted for 300 seconds")
            .mx("[IPv6:2001:db8::1]")
            .rcpt("x@v6.example"),
    ];
    let mut clusterer = Clusterer::new();
    for b in bounces {
        clusterer.add(&record(&classifier, b, None));
    }
    let report = clusterer.finish(None, usize::MAX);
    check_suggestions(&report);
    let by_template: BTreeMap<&str, &str> = report
        .clusters
        .iter()
        .map(|c| (c.template.as_str(), c.suggestion.regex.as_str()))
        .collect();
    assert_eq!(
        by_template["550 5.1.1 User unknown"],
        "^550 5\\.1\\.1 User unknown$"
    );
    assert_eq!(
        by_template["550 5.1.1 User unknown <<EMAIL>>"],
        "^550 5\\.1\\.1 User unknown <\\S+@\\S+>"
    );
    assert_eq!(
        by_template["550 5.7.1 Message refused by the receiving system because of a local policy, reason A"],
        "^550 5\\.7\\.1 Message refused by the receiving system because of a local policy, reason A"
    );
    let statuses: BTreeSet<String> = report
        .clusters
        .iter()
        .map(|c| format!("{} -> {}", c.template, c.suggestion.status))
        .collect();
    assert!(
        statuses.contains("550 No such user here (id <N>) -> 5.1.1"),
        "{statuses:#?}"
    );
    assert!(statuses.contains("554 rejected -> 5.7.1"), "{statuses:#?}");
    assert!(statuses.contains(" -> 5.0.0"), "{statuses:#?}");
    let scopes: BTreeSet<String> = report
        .clusters
        .iter()
        .map(|c| c.scope.to_string())
        .collect();
    let want: BTreeSet<String> = [
        "mx ends with \".example.net\"",
        "mx ends with \".example.co.uk\"",
        "rcpt domain is \"example.com\"",
        "mx ends with \".seznam.cz\"",
        "mx ends with \".example.org\"",
        "mx is \"192.0.2.1\"",
        "rcpt domain is \"v6.example\"",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(scopes, want);
}
