//! The borrowed classification (`Classifier::classify_ref`, `Normalizer`)
//! against the owned one: the same `Classification`, field by field, for
//! bounces with and without an MX, a recipient, a reported status and a
//! reported category, with one `Normalizer` reused across all of them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

use mxrules::core::bounce::{Bounce, BounceRef};

use mxrules::core::status::{Category, Status, Verdict};
use mxrules::runtime::classify::{
    Classification, ClassificationRef, Classifier, Normalized, NormalizedRef, Normalizer,
};
use mxrules::syntax::load::Parsed;

const RULES: &str = r#"
policy { 5.1.1 -> quarantine  5.1.* -> hard  5.7.* -> blocked  5.*.* -> hard  4.*.* -> soft  2.*.* -> soft }
mx ends with ".mail.ru" {
    initial 5.0.0 {
        /^550 must be local recipient/ -> 5.1.1 quarantine
    }
    /quota/i -> 4.2.2 quota-issues
}
mx is "mx.example.com" {
    /^550 5\.1\.1 / -> 5.1.1 bad-mailbox "unknown user"
}
rcpt domain is "yahoo.com" {
    /doesn't have a yahoo\.com account/ -> 5.1.1
}
global {
    reported policy-related {
        /blocked/ -> 5.7.1 blocked
    }
    /mailbox full/ -> 4.2.2 soft
}
"#;

fn classifier() -> Classifier {
    let mut parsed = Parsed::default();
    parsed.add_text("t.rules", RULES);
    let checked = mxrules::check::check(&parsed);
    let rules = checked.rules.expect("the rules check");
    mxrules::compile::classifier(rules).expect("the rules compile")
}

fn st(s: &str) -> Status {
    s.parse().expect("a status")
}

/// What each bounce must classify as: status, initial status, verdict,
/// category, rule, scope, unmatched.
type Want = (
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    bool,
);

fn cases() -> Vec<(Bounce, Want)> {
    let mail_ru = Some(r#"mx ends with ".mail.ru""#);
    vec![
        // Scope by host suffix, initial 5.0.0 from the reply code; the MX
        // in upper case with a type prefix and a final dot.
        (
            Bounce::new("550 must be local recipient")
                .mx("dns; MXS.MAIL.RU.")
                .rcpt("a@mail.ru"),
            (
                Some("5.1.1"),
                Some("5.0.0"),
                "quarantine",
                None,
                Some("t.rules:5"),
                mail_ru,
                false,
            ),
        ),
        // A multi-line reply, joined before matching; no recipient.
        (
            Bounce::new("452-4.2.2 The account is over\r\n452 4.2.2 QUOTA").mx("mxs.mail.ru"),
            (
                Some("4.2.2"),
                Some("4.2.2"),
                "soft",
                Some("quota-issues"),
                Some("t.rules:7"),
                mail_ru,
                false,
            ),
        ),
        // A reported status wins over the reply's: the initial condition of
        // line 5 no longer holds, and no other rule matches.
        (
            Bounce::new("550 must be local recipient")
                .mx("mxs.mail.ru")
                .status(st("5.1.10")),
            (
                Some("5.1.10"),
                Some("5.1.10"),
                "hard",
                None,
                None,
                None,
                true,
            ),
        ),
        // Exact host, with an `[ip]` part.
        (
            Bounce::new("smtp; 550 5.1.1 <a@example.com>: user unknown")
                .mx("mx.example.com[192.0.2.1]:25")
                .rcpt("<A@Example.COM>"),
            (
                Some("5.1.1"),
                Some("5.1.1"),
                "quarantine",
                Some("bad-mailbox"),
                Some("t.rules:10"),
                Some(r#"mx is "mx.example.com""#),
                false,
            ),
        ),
        // No MX: the recipient domain selects the scope (in upper case).
        (
            Bounce::new("554 delivery error: dd This user doesn't have a yahoo.com account")
                .rcpt("rfc822; Someone@YAHOO.COM"),
            (
                Some("5.1.1"),
                Some("5.0.0"),
                "quarantine",
                None,
                Some("t.rules:13"),
                Some(r#"rcpt domain is "yahoo.com""#),
                false,
            ),
        ),
        // A reported category: only then does the `reported` rule apply.
        (
            Bounce::new("550 5.7.1 blocked by policy")
                .mx("mx.other.net")
                .reported_category(Category::PolicyRelated),
            (
                Some("5.7.1"),
                Some("5.7.1"),
                "blocked",
                None,
                Some("t.rules:17"),
                Some("global"),
                false,
            ),
        ),
        (
            Bounce::new("550 5.7.1 blocked by policy").mx("mx.other.net"),
            (
                Some("5.7.1"),
                Some("5.7.1"),
                "blocked",
                None,
                None,
                None,
                true,
            ),
        ),
        // No MX and no recipient: only global applies.
        (
            Bounce::new("552 mailbox full"),
            (
                Some("4.2.2"),
                Some("5.0.0"),
                "soft",
                None,
                Some("t.rules:19"),
                Some("global"),
                false,
            ),
        ),
        // No code at all: unmatched and hard.
        (
            Bounce::new("  X-Unix;  mail forwarding loop ")
                .mx("  ")
                .rcpt("postmaster"),
            (None, None, "hard", None, None, None, true),
        ),
        // An empty reply with a reported status.
        (
            Bounce::new("").status(st("4.4.7")),
            (Some("4.4.7"), Some("4.4.7"), "soft", None, None, None, true),
        ),
        // A status beyond the policy's quick table, and a host that is not ASCII.
        (
            Bounce::new("550 5.1.200 gone").mx("MX.ÉXAMPLE.RU"),
            (
                Some("5.1.200"),
                Some("5.1.200"),
                "hard",
                None,
                None,
                None,
                true,
            ),
        ),
    ]
}

fn expected(w: &Want) -> Classification {
    let (status, initial, verdict, category, rule, scope, unmatched) = *w;
    Classification {
        status: status.map(st),
        initial_status: initial.map(st),
        verdict: Verdict::from_word(verdict).expect("a verdict"),
        category: category.map(|c| Category::from_word(c).expect("a category")),
        rule: rule.map(Into::into),
        scope: scope.map(Into::into),
        unmatched,
    }
}

#[test]
fn borrowed_classification_equals_the_owned_one() {
    let c = classifier();
    let mut normalizer = Normalizer::new();
    // Twice over, so that every bounce also comes after every kind of
    // bounce: the buffers reused must not leak into the next one.
    for round in 0..2 {
        for (b, want) in cases() {
            let want = expected(&want);
            let owned = c.classify(&b);
            assert_eq!(owned, want, "classify, round {round}: {b:?}");
            let borrowed = c.classify_ref(&mut normalizer, BounceRef::from(&b));
            assert_eq!(borrowed, want, "classify_ref, round {round}: {b:?}");
            assert_eq!(borrowed.rule_index, c.decide(&Normalized::new(&b)), "{b:?}");
            if let Some(r) = borrowed.rule_index {
                assert_eq!(Some(c.rules().rules[r].location().as_str()), borrowed.rule);
            }
            // The same through a normalized bounce, and borrowed from one.
            let n = Normalized::new(&b);
            let from_owned = NormalizedRef::from(&n);
            assert_eq!(normalizer.normalize(BounceRef::from(&b)), from_owned);
            assert_eq!(c.classify_normalized_ref(&from_owned), want);
            assert_eq!(c.decide_ref(&from_owned), c.decide(&n));
        }
    }
}

#[test]
fn normalizer_borrows_what_needs_no_change() {
    let mut normalizer = Normalizer::new();
    let raw = "smtp; 550 5.1.1 user unknown";
    let b = BounceRef {
        mx: Some("mx.example.com (192.0.2.1)"),
        rcpt: Some("a@example.com"),
        reply: raw,
        status: None,
        reported_category: None,
    };
    let n = normalizer.normalize(b);
    assert_eq!(
        n,
        NormalizedRef {
            text: "550 5.1.1 user unknown",
            initial: Some(st("5.1.1")),
            mx: Some("mx.example.com"),
            rcpt_domain: Some("example.com"),
            reported_category: None,
        }
    );
    // Parts of the input, not copies.
    let within = |part: &str, whole: &str| {
        let (p, w) = (part.as_ptr() as usize, whole.as_ptr() as usize);
        p >= w && p + part.len() <= w + whole.len()
    };
    assert!(within(n.text, raw));
    assert!(within(n.mx.unwrap_or_default(), b.mx.unwrap_or_default()));
    assert!(within(
        n.rcpt_domain.unwrap_or_default(),
        b.rcpt.unwrap_or_default()
    ));
}

#[test]
fn classification_ref_compares_with_every_field() {
    let c = classifier();
    let b = Bounce::new("550 must be local recipient").mx("mxs.mail.ru");
    let mut normalizer = Normalizer::new();
    let borrowed: ClassificationRef<'_> = c.classify_ref(&mut normalizer, BounceRef::from(&b));
    let owned = c.classify(&b);
    assert_eq!(borrowed, owned);
    let mut other = owned.clone();
    other.scope = Some("global".into());
    assert_ne!(borrowed, other);
    let mut other = owned.clone();
    other.rule = None;
    assert_ne!(borrowed, other);
    let mut other = owned;
    other.unmatched = true;
    assert_ne!(borrowed, other);
}
