//! The Sisimai corpus (`../shared/corpus/sisimai`: real bounce emails and
//! Sisimai's labels, one per failed recipient), read with the DSN input
//! and classified with the shipped rules, when it is present.
//!
//! It prints how many recipients are extracted against the labels, how
//! often our status and reply code agree with Sisimai's, how our verdicts
//! line up with its reasons, and how far the shipped rules are from the
//! goal: every `userunknown`, `hostunknown` and `hasmoved` recipient
//! quarantined, and no recipient whose reason is about policy, spam,
//! reputation, rate, content or a temporary condition. Extraction,
//! agreement and the goal are asserted. The goal holds except for the
//! recipients of `DISAGREEMENTS`, each with the reason we read it
//! differently; an entry that stops disagreeing fails the test too, so the
//! list cannot go stale.
//!
//! The snapshot (`snapshots/sisimai__verdicts.snap`) has one line per
//! label: file, recipient index, Sisimai's reason, our status, verdict and
//! deciding rule. No text of the corpus is copied.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use mxrules::core::normalize::Reply;
use mxrules::core::status::Verdict;
use mxrules::input::{InputFormat, InputRecord, Item};
use mxrules::runtime::classify::{Classification, Classifier};
use serde::Deserialize;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/sisimai");

/// Least share of labelled recipients that must be extracted (measured:
/// 295 of 299).
const MIN_EXTRACTED: f64 = 0.95;
/// Least share of status and reply-code agreement (measured: 93% each).
const MIN_AGREEMENT: f64 = 0.85;

/// Reasons whose recipients should be quarantined.
const MUST_QUARANTINE: [&str; 3] = ["userunknown", "hostunknown", "hasmoved"];
/// Reasons about policy, spam, reputation, rate, content or a temporary
/// condition: never a reason to quarantine.
const MUST_NOT_QUARANTINE: [&str; 20] = [
    "blocked",
    "spamdetected",
    "policyviolation",
    "badreputation",
    "rejected",
    "requireptr",
    "authfailure",
    "securityerror",
    "failedstarttls",
    "speeding",
    "toomanyconn",
    "exceedlimit",
    "contenterror",
    "virusdetected",
    "notcompliantrfc",
    "expired",
    "mailboxfull",
    "systemfull",
    "networkerror",
    "systemerror",
];

/// Labels our verdict deliberately differs from: (file, recipient index,
/// why). Sisimai decides some reasons from facts a bounce record does not
/// carry (the SMTP command), and a few labels contradict their message.
const DISAGREEMENTS: [(&str, usize, &str); 7] = [
    (
        "eml/lhost-exim-30.eml",
        1,
        "`554 5.7.1 <…>: Recipient address rejected: Access denied` is Postfix's default text for any access-map REJECT (a domain-wide block included): it does not say the address is bad, so the policy decides from 5.7.1",
    ),
    (
        "eml/lhost-exim-37.eml",
        1,
        "`553 <host> does not exist` names the sender's own domain (the returned message's envelope sender), not the recipient's: not a dead address",
    ),
    (
        "eml/lhost-trendmicro-02.eml",
        1,
        "InterScan's `Unable to deliver message to <…> (and other recipients in the same domain)` covers every permanent failure of the next hop, not only unknown users",
    ),
    (
        "eml/lhost-trendmicro-03.eml",
        1,
        "the same InterScan text as trendmicro-02",
    ),
    (
        "eml/rhost-messagelabs-03.eml",
        1,
        "`542 <addr> Rejected` says nothing about the address; Symantec's documented unknown-user texts are `Invalid recipient` and `Recipient mailbox is not allowed`",
    ),
    (
        "eml/rfc3464-01.eml",
        1,
        "labelled mailboxfull, but its only diagnostic is `550 5.1.1 <…>... User Unknown`: the label contradicts the message",
    ),
    (
        "eml/rhost-nttdocomo-03.eml",
        1,
        "docomo's `550 Unknown user` after end of DATA is its recipient filter refusing the sender; the DSN's Diagnostic-Code does not carry the SMTP command that tells it from the same reply to RCPT",
    ),
];

#[derive(Debug, Deserialize)]
struct Label {
    file: String,
    recipient_index: usize,
    recipient: String,
    reason: String,
    #[serde(default)]
    replycode: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    status_is_made_up: bool,
}

fn classifier() -> Classifier {
    // Relative (tests run in the crate's root), so that rule locations in
    // the snapshot do not depend on where the project lives.
    let rules = PathBuf::from("rules.d");
    let parsed = mxrules::syntax::load::parse_paths(&[rules]).unwrap_or_else(|e| panic!("{e}"));
    let checked = mxrules::check::check(&parsed);
    let rules = checked
        .rules
        .unwrap_or_else(|| panic!("rules.d has errors"));
    mxrules::compile::classifier(rules).unwrap_or_else(|_| panic!("rules.d does not compile"))
}

fn share(n: usize, of: usize) -> f64 {
    if of == 0 { 1.0 } else { n as f64 / of as f64 }
}

fn pct(n: usize, of: usize) -> String {
    format!("{n}/{of} ({:.1}%)", 100.0 * share(n, of))
}

#[test]
fn sisimai_extraction_and_verdicts() {
    let dir = PathBuf::from(CORPUS);
    let labels_path = dir.join("labels.jsonl");
    let Ok(labels_text) = std::fs::read_to_string(&labels_path) else {
        eprintln!(
            "skipping the Sisimai comparison: {} is absent",
            labels_path.display()
        );
        return;
    };
    let labels: Vec<Label> = labels_text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let classifier = classifier();

    // Every message of eml/, read as the DSN input reads it.
    let mut files: Vec<String> = std::fs::read_dir(dir.join("eml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .map(|e| format!("eml/{}", e.file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".eml"))
        .collect();
    files.sort();
    let mut ours: BTreeMap<String, Vec<(InputRecord, Classification)>> = BTreeMap::new();
    let (mut bad, mut skipped) = (Vec::new(), 0usize);
    for file in &files {
        let items = mxrules::input::open(&dir.join(file), InputFormat::Dsn)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let entry = ours.entry(file.clone()).or_default();
        for item in items {
            match item {
                Item::Record(r) => {
                    let c = classifier.classify(&r.bounce);
                    entry.push((r, c));
                }
                Item::Bad(b) => bad.push(format!("{file}: {}", b.message)),
                Item::Skipped { .. } => skipped += 1,
            }
        }
    }
    let records: usize = ours.values().map(Vec::len).sum();

    // Labels against what we extracted.
    let mut per_file_labels: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &labels {
        *per_file_labels.entry(l.file.as_str()).or_default() += 1;
    }
    let same_count = per_file_labels
        .iter()
        .filter(|(f, n)| ours.get(**f).map_or(0, Vec::len) == **n)
        .count();
    let find = |l: &Label| {
        ours.get(&l.file).and_then(|rs| {
            rs.iter().find(|(r, _)| {
                r.bounce
                    .rcpt
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case(&l.recipient))
            })
        })
    };
    let mut extracted = 0usize;
    let (mut status_given, mut status_agree) = (0usize, 0usize);
    let (mut code_given, mut code_agree) = (0usize, 0usize);
    let mut table: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut snapshot = String::new();
    let (mut must_q, mut must_q_ok) = (0usize, 0usize);
    let (mut must_not, mut must_not_ok) = (0usize, 0usize);
    let mut offenders: Vec<String> = Vec::new();
    let mut documented: Vec<String> = Vec::new();
    for l in &labels {
        let found = find(l);
        let verdict = found.map_or("missing".to_string(), |(_, c)| c.verdict.to_string());
        *table
            .entry(l.reason.clone())
            .or_default()
            .entry(verdict.clone())
            .or_default() += 1;
        let (status, rule) = match found {
            Some((_, c)) => (
                c.status.map_or("none".to_string(), |s| s.to_string()),
                c.rule.as_deref().unwrap_or("unmatched").to_string(),
            ),
            None => ("-".to_string(), "-".to_string()),
        };
        let _ = writeln!(
            snapshot,
            "{} | {} | {} | {status} | {verdict} | {rule}",
            l.file, l.recipient_index, l.reason
        );
        let Some((r, c)) = found else { continue };
        extracted += 1;
        if let Some(s) = l.status.as_deref().filter(|_| !l.status_is_made_up) {
            status_given += 1;
            if c.initial_status.is_some_and(|ours| ours.to_string() == s) {
                status_agree += 1;
            }
        }
        if let Some(code) = l.replycode.as_deref().filter(|c| !c.is_empty()) {
            code_given += 1;
            let reply = Reply::new(&r.bounce.reply, None);
            if reply.code.is_some_and(|ours| ours.to_string() == code) {
                code_agree += 1;
            }
        }
        let quarantined = c.verdict == Verdict::Quarantine;
        let offence = if MUST_QUARANTINE.contains(&l.reason.as_str()) {
            must_q += 1;
            must_q_ok += usize::from(quarantined);
            !quarantined
        } else if MUST_NOT_QUARANTINE.contains(&l.reason.as_str()) {
            must_not += 1;
            must_not_ok += usize::from(!quarantined);
            quarantined
        } else {
            false
        };
        if offence {
            let line = format!(
                "  {} #{}: {} -> {} ({})",
                l.file,
                l.recipient_index,
                l.reason,
                c.verdict,
                c.rule.as_deref().unwrap_or("unmatched")
            );
            match DISAGREEMENTS
                .iter()
                .find(|(f, i, _)| *f == l.file && *i == l.recipient_index)
            {
                Some((_, _, why)) => documented.push(format!("{line}\n      {why}")),
                None => offenders.push(line),
            }
        }
    }

    // The figures.
    let mut report = String::new();
    let _ = writeln!(
        report,
        "Sisimai corpus: {} files, {} labels",
        files.len(),
        labels.len()
    );
    let _ = writeln!(
        report,
        "recipients extracted: {records} records; labelled recipients found: {}",
        pct(extracted, labels.len())
    );
    let _ = writeln!(
        report,
        "files whose recipient count equals the labels': {}",
        pct(same_count, per_file_labels.len())
    );
    let _ = writeln!(report, "bad records: {}, skipped: {skipped}", bad.len());
    for b in &bad {
        let _ = writeln!(report, "  {b}");
    }
    let _ = writeln!(
        report,
        "status agrees (labels whose status is read from the message): {}",
        pct(status_agree, status_given)
    );
    let _ = writeln!(report, "reply code agrees: {}", pct(code_agree, code_given));
    let _ = writeln!(report, "our verdict by Sisimai reason:");
    let _ = writeln!(
        report,
        "  {:<16} {:>10} {:>7} {:>4} {:>4} {:>7}",
        "reason", "quarantine", "blocked", "hard", "soft", "missing"
    );
    for (reason, verdicts) in &table {
        let n = |v: &str| verdicts.get(v).copied().unwrap_or(0);
        let _ = writeln!(
            report,
            "  {:<16} {:>10} {:>7} {:>4} {:>4} {:>7}",
            reason,
            n("quarantine"),
            n("blocked"),
            n("hard"),
            n("soft"),
            n("missing")
        );
    }
    let _ = writeln!(
        report,
        "goal: userunknown/hostunknown/hasmoved quarantined: {}",
        pct(must_q_ok, must_q)
    );
    let _ = writeln!(
        report,
        "goal: policy/spam/reputation/rate/content/temporary not quarantined: {}",
        pct(must_not_ok, must_not)
    );
    let _ = writeln!(report, "documented disagreements ({}):", documented.len());
    for d in &documented {
        let _ = writeln!(report, "{d}");
    }
    let _ = writeln!(report, "unexplained offenders ({}):", offenders.len());
    for o in offenders.iter().take(25) {
        let _ = writeln!(report, "{o}");
    }
    eprintln!("{report}");

    assert!(
        share(extracted, labels.len()) >= MIN_EXTRACTED,
        "too few recipients extracted\n{report}"
    );
    assert!(
        share(status_agree, status_given) >= MIN_AGREEMENT,
        "status agreement too low\n{report}"
    );
    assert!(
        share(code_agree, code_given) >= MIN_AGREEMENT,
        "reply code agreement too low\n{report}"
    );
    assert!(
        offenders.is_empty(),
        "recipients against the goal\n{report}"
    );
    assert_eq!(
        documented.len(),
        DISAGREEMENTS.len(),
        "an entry of DISAGREEMENTS no longer disagrees; remove it\n{report}"
    );
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
        description => "file | recipient_index | reason | our status | our verdict | rule-or-unmatched",
        omit_expression => true,
    }, {
        insta::assert_snapshot!("sisimai__verdicts", snapshot);
    });
}
