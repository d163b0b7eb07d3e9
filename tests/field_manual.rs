//! The SMTP field manual (`../shared/corpus/smtp-field-manual`, real replies
//! of 21 providers) classified with the shipped rules, when it is present.
//!
//! The snapshot (`snapshots/field__smtp_field_manual.snap`) records, per
//! response, its provider, file and position, the initial status, the
//! verdict and the deciding rule; never the reply text, which is not the
//! project's to copy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

mod reference;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use mxrules::core::bounce::Bounce;

use mxrules::core::status::Status;

fn opt(s: Option<Status>) -> String {
    s.map_or_else(|| String::from("none"), |s| s.to_string())
}

#[test]
fn field_manual_verdicts() {
    let Some(manual) = reference::field_manual("field_manual_verdicts") else {
        return;
    };
    let classifier = mxrules::compile::classifier(reference::shipped_rules()).unwrap_or_else(|d| {
        panic!(
            "rules.d does not compile: {:?}",
            d.iter().map(|d| &d.message).collect::<Vec<_>>()
        )
    });
    let mut rows = Vec::new();
    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    let (mut matched, mut given) = (0usize, 0usize);
    for r in &manual.responses {
        let bounce = Bounce {
            mx: None,
            rcpt: manual.rcpt(&r.provider),
            reply: r.response.clone(),
            status: r.status,
            reported_category: None,
        };
        let c = classifier.classify(&bounce);
        if !c.unmatched {
            matched += 1;
        }
        if r.status.is_some() {
            given += 1;
        }
        *verdicts.entry(c.verdict.to_string()).or_default() += 1;
        rows.push((
            r.provider.clone(),
            r.file.clone(),
            r.index,
            format!(
                "{} | {}#{} | {} | {} | {}",
                r.provider,
                r.file,
                r.index,
                opt(c.initial_status),
                c.verdict,
                c.rule.as_deref().unwrap_or("unmatched")
            ),
        ));
    }
    rows.sort();
    let total = manual.responses.len();
    let mut text =
        String::from("provider | file#index | status in | verdict | rule or unmatched\n");
    for (_, _, _, line) in &rows {
        let _ = writeln!(text, "{line}");
    }
    let share = if total == 0 {
        0.0
    } else {
        100.0 * matched as f64 / total as f64
    };
    eprintln!(
        "smtp-field-manual: {total} responses, {matched} matched by a rule ({share:.1}%), \
         {} unmatched; {given} with a status label naming a status; verdicts: {verdicts:?}",
        total - matched
    );
    assert!(total > 0, "the field manual holds no responses");
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
        description => "../shared/corpus/smtp-field-manual classified with rules.d (no reply text)",
        omit_expression => true,
    }, {
        insta::assert_snapshot!("field__smtp_field_manual", text);
    });
}

#[test]
fn field_manual_status_labels() {
    let st = |s: &str| reference::label_status(s).map(|s| s.to_string());
    assert_eq!(st("5.7.1").as_deref(), Some("5.7.1"));
    assert_eq!(st("5.7.1-2").as_deref(), Some("5.7.1"));
    assert_eq!(st("4.0.0-2").as_deref(), Some("4.0.0"));
    assert_eq!(st("1"), None);
    assert_eq!(st("5.7.1-x"), None);
    assert_eq!(st(""), None);
}
