//! Differential tests: the compiled tables (`Classifier`) against the plain
//! reference interpreter of `tests/reference`, which must agree on every
//! input: the rules' own examples under every scope key, the project's
//! corpus, the SMTP field manual when present, and hundreds of thousands of
//! generated bounces, both for the shipped `rules.d/` and for a stress rule
//! set of many overlapping rules per scope, compiled under a small DFA size
//! cap.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

mod reference;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use mxrules::core::bounce::{Bounce, BounceRef};

use mxrules::compile::Options;
use mxrules::core::model::{RuleSet, ScopeKey};
use mxrules::core::status::{Part, Status, StatusPattern};
use mxrules::runtime::classify::{Classification, Classifier, Normalized, Normalizer};
use reference::Reference;

// ---------------------------------------------------------------------------
// Comparing.

/// A compiled classifier (built here, or loaded from a compiled file) and
/// the reference, side by side.
struct Pair<T: AsRef<[u32]> = Vec<u32>> {
    compiled: Classifier<T>,
    reference: Reference,
    inputs: usize,
    unmatched: usize,
    explained: usize,
    mismatches: Vec<String>,
    /// For the borrowed classification, reused from one bounce to the next
    /// as the command line does.
    normalizer: Normalizer,
}

impl Pair {
    fn new(rules: RuleSet, opts: &Options) -> Pair {
        let compiled = mxrules::compile::classifier_with(rules.clone(), opts).unwrap_or_else(|d| {
            panic!(
                "the rules do not compile: {:?}",
                d.iter().map(|d| &d.message).collect::<Vec<_>>()
            )
        });
        Pair::with(compiled, rules)
    }
}

impl<T: AsRef<[u32]>> Pair<T> {
    fn with(compiled: Classifier<T>, rules: RuleSet) -> Pair<T> {
        Pair {
            compiled,
            reference: Reference::new(rules),
            inputs: 0,
            unmatched: 0,
            explained: 0,
            mismatches: Vec::new(),
            normalizer: Normalizer::new(),
        }
    }

    /// Classifies `b` both ways and records any difference. With `explain`,
    /// also compares every scope's matching rules (what `explain` lists as
    /// firing and firing next) with the reference's.
    fn check(&mut self, origin: &str, b: &Bounce, explain: bool) {
        self.inputs += 1;
        let n = Normalized::new(b);
        let got = self.compiled.classify_normalized(&n);
        let want = self.reference.classify_normalized(&n);
        if want.unmatched {
            self.unmatched += 1;
        }
        if got != want {
            self.mismatch(origin, b, "classification", &got, &want);
            return;
        }
        let borrowed = self
            .compiled
            .classify_ref(&mut self.normalizer, BounceRef::from(b));
        if borrowed != got || borrowed.rule_index != self.compiled.decide(&n) {
            let m =
                format!("classify_ref differs for {origin}: {b:?}\n  {borrowed:?}\n  {got:?}\n");
            self.mismatches.push(m);
            return;
        }
        if explain {
            self.explained += 1;
            let e = self.compiled.explain(b);
            let got_trace: Vec<(String, Vec<String>)> = e
                .scopes
                .iter()
                .map(|s| {
                    (
                        s.scope.clone(),
                        s.matching_rules.iter().map(|r| r.rule.clone()).collect(),
                    )
                })
                .collect();
            let want_trace = self.reference_trace(b);
            if e.result != want || got_trace != want_trace {
                let mut m = String::new();
                let _ = writeln!(m, "explain differs for {origin}: {b:?}");
                let _ = writeln!(m, "  compiled:  {:?} {got_trace:?}", e.result);
                let _ = writeln!(m, "  reference: {want:?} {want_trace:?}");
                self.mismatches.push(m);
            }
        }
    }

    /// Every scope tried, with every rule of it that accepts the initial
    /// status and matches, in source order.
    fn reference_trace(&self, b: &Bounce) -> Vec<(String, Vec<String>)> {
        let n = Normalized::new(b);
        let rules = self.reference.rules();
        self.reference
            .scopes_for(n.mx.as_deref(), n.rcpt_domain.as_deref())
            .into_iter()
            .map(|s| {
                let scope = &rules.scopes[s];
                let matching = self
                    .reference
                    .all_in_scope(s, &n.reply.text, n.reply.initial, n.reported_category)
                    .into_iter()
                    .map(|r| r.location())
                    .collect();
                (scope.name(), matching)
            })
            .collect()
    }

    fn mismatch(
        &mut self,
        origin: &str,
        b: &Bounce,
        what: &str,
        got: &Classification,
        want: &Classification,
    ) {
        let n = Normalized::new(b);
        let scopes: Vec<String> = self
            .reference
            .scopes_for(n.mx.as_deref(), n.rcpt_domain.as_deref())
            .into_iter()
            .map(|s| self.reference.rules().scopes[s].name())
            .collect();
        let mut m = String::new();
        let _ = writeln!(m, "{what} differs for {origin}");
        let _ = writeln!(m, "  bounce:     {b:?}");
        let _ = writeln!(
            m,
            "  normalized: text={:?} initial={:?} mx={:?} rcpt_domain={:?}",
            n.reply.text, n.reply.initial, n.mx, n.rcpt_domain
        );
        let _ = writeln!(m, "  scopes:     {scopes:?}");
        let _ = writeln!(m, "  compiled:   {got:?}");
        let _ = writeln!(m, "  reference:  {want:?}");
        self.mismatches.push(m);
    }

    /// Prints the figures and fails on any mismatch, showing the first few.
    fn finish(&self, what: &str) {
        let share = if self.inputs == 0 {
            0.0
        } else {
            100.0 * self.unmatched as f64 / self.inputs as f64
        };
        eprintln!(
            "{what}: {} inputs, {} unmatched ({share:.1}%), {} explained, {} mismatches",
            self.inputs,
            self.unmatched,
            self.explained,
            self.mismatches.len()
        );
        if !self.mismatches.is_empty() {
            let shown: String = self.mismatches.iter().take(8).cloned().collect();
            panic!(
                "{what}: {} of {} inputs classify differently (first {}):\n{shown}",
                self.mismatches.len(),
                self.inputs,
                self.mismatches.len().min(8)
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Inputs from the rules themselves.

/// Hosts and recipients that select a scope key: the key itself and hosts
/// under a suffix.
fn key_bounces(key: &ScopeKey, reply: &str) -> Vec<Bounce> {
    let b = Bounce::new(reply);
    match key {
        ScopeKey::MxExact(h) => vec![b.clone().mx(h.clone()), b.mx(format!("dns; {h}."))],
        ScopeKey::MxSuffix(s) => vec![
            b.clone().mx(format!("mx1.{s}")),
            b.clone().mx(s.clone()),
            b.clone().mx(format!("a.b.{s}")),
            b.mx(format!("evil{s}")),
        ],
        ScopeKey::RcptDomain(d) => vec![
            b.clone().rcpt(format!("user@{d}")),
            b.rcpt(format!("rfc822; <User@{}>", d.to_uppercase())),
        ],
        ScopeKey::Global => vec![b],
    }
}

/// Every example of every rule under every key of its scope, and with no
/// MX or recipient at all.
fn check_examples<T: AsRef<[u32]>>(pair: &mut Pair<T>) {
    let rules = pair.reference.rules().clone();
    for rule in &rules.rules {
        let scope = &rules.scopes[rule.scope];
        for example in &rule.examples {
            let origin = format!("example of {}", rule.location());
            for key in &scope.keys {
                for b in key_bounces(key, example) {
                    pair.check(&origin, &b, true);
                }
            }
            pair.check(&origin, &Bounce::new(example.clone()), true);
        }
    }
}

#[test]
fn shipped_rule_examples_agree() {
    let mut pair = Pair::new(reference::shipped_rules(), &Options::default());
    check_examples(&mut pair);
    pair.finish("rules.d examples");
    assert!(pair.inputs > 0, "rules.d has no examples");
}

#[test]
fn project_corpus_agrees() {
    let files = reference::corpus_files();
    if files.is_empty() {
        eprintln!("SKIPPED (project_corpus_agrees): tests/corpus has no *.yaml files yet");
        return;
    }
    let mut pair = Pair::new(reference::shipped_rules(), &Options::default());
    for path in &files {
        let corpus = reference::read_corpus(path);
        let stem = path.file_name().unwrap_or_default().to_string_lossy();
        for (i, case) in corpus.cases.iter().enumerate() {
            let b = case.bounce();
            pair.check(&format!("{stem} case {}", i + 1), &b, true);
            // The same reply at the provider's host alone, and with no MX.
            let bare = Bounce {
                mx: None,
                ..b.clone()
            };
            pair.check(&format!("{stem} case {} without mx", i + 1), &bare, false);
        }
    }
    pair.finish("tests/corpus");
}

#[test]
fn field_manual_agrees() {
    let Some(manual) = reference::field_manual("field_manual_agrees") else {
        return;
    };
    let mut pair = Pair::new(reference::shipped_rules(), &Options::default());
    for r in &manual.responses {
        let origin = format!("{} {} #{}", r.provider, r.file, r.index);
        let base = Bounce {
            status: r.status,
            ..Bounce::new(r.response.clone())
        };
        pair.check(&origin, &base, true);
        pair.check(
            &origin,
            &Bounce {
                status: None,
                ..base.clone()
            },
            false,
        );
        for domain in manual.domains.get(&r.provider).into_iter().flatten() {
            pair.check(&origin, &base.clone().rcpt(format!("user@{domain}")), true);
            pair.check(&origin, &base.clone().mx(format!("mx.{domain}")), false);
            pair.check(&origin, &base.clone().mx(domain.clone()), false);
        }
    }
    pair.finish("smtp-field-manual");
}

// ---------------------------------------------------------------------------
// A seeded generator of bounces.

/// SplitMix64: small, fast, and the same numbers on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Replies any provider may send, besides the rules' examples and corpora.
const GENERIC_REPLIES: &[&str] = &[
    "550 5.1.1 <user@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
    "550 5.1.1 The email account that you tried to reach does not exist.",
    "452 4.2.2 The email account that you tried to reach is over quota.",
    "552 5.2.2 Mailbox full",
    "550 Requested action not taken: mailbox unavailable (5.1.1)",
    "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
    "421 4.7.0 Try again later, closing connection.",
    "451 4.7.1 Greylisting in action, please come back later",
    "550 #5.1.0 Address rejected.",
    "553 sorry, that domain isn't in my list of allowed rcpthosts",
    "550 must be local recipient",
    "503 Valid RCPT command must precede DATA",
    "550 Message was not accepted -- invalid mailbox.  Local mailbox user@mail.ru is unavailable: user not found",
    "550 you have exceeded message receiving limit",
    "550 spam message rejected by policy",
    "550-5.7.26 Unauthenticated email is not accepted from this domain.\r\n550 5.7.26 DMARC policy",
    "smtp; 550 5.4.4 Host or domain name not found",
    "X-Postfix; host mx.example.com[203.0.113.7] said: 550 5.1.1 <u@example.com>: User unknown (in reply to RCPT TO command)",
    "Host or domain name not found. Name service error for name=example.invalid type=AAAA",
    "250 2.0.0 OK",
    "554 Transaction failed: virus found",
    "550 5.7.1 Unfortunately, messages from [192.0.2.10] weren't sent.",
    "450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages",
    "",
    "550",
    "smtp;",
];

/// The literal phrases of a regex, in order: the text between its
/// operators, escapes such as `\.` read as the character.
fn regex_phrases(regex: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = regex.chars();
    while let Some(c) = chars.next() {
        match c {
            // `\b`, `\d` and friends separate phrases; `\.` is a dot.
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_alphanumeric() => plain.push('\u{0}'),
                Some(e) => plain.push(e),
                None => {}
            },
            '^' | '$' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '.' => {
                plain.push('\u{0}')
            }
            c => plain.push(c),
        }
    }
    plain
        .split('\u{0}')
        .map(str::trim)
        .filter(|p| p.len() >= 2)
        .map(str::to_string)
        .collect()
}

/// Words the rules' regexes look for, and whole literal phrases of them.
fn literals(rules: &RuleSet) -> (Vec<String>, Vec<String>) {
    let mut words = BTreeSet::new();
    let mut phrases = BTreeSet::new();
    for rule in &rules.rules {
        for phrase in regex_phrases(&rule.regex) {
            for w in phrase.split(|c: char| !c.is_ascii_alphanumeric() && c != '-') {
                if w.len() >= 2 {
                    words.insert(w.to_string());
                }
            }
            if phrase.len() >= 3 {
                phrases.insert(phrase);
            }
        }
    }
    for w in [
        "user", "unknown", "mailbox", "full", "spam", "blocked", "policy", "quota",
    ] {
        words.insert(w.to_string());
    }
    (words.into_iter().collect(), phrases.into_iter().collect())
}

/// A rule to aim at: its phrases, examples, scope keys and condition.
struct Target {
    phrases: Vec<String>,
    examples: Vec<String>,
    keys: Vec<ScopeKey>,
    initial: Vec<StatusPattern>,
}

fn targets(rules: &RuleSet) -> Vec<Target> {
    rules
        .rules
        .iter()
        .map(|r| Target {
            phrases: regex_phrases(&r.regex),
            examples: r.examples.clone(),
            keys: rules.scopes[r.scope].keys.clone(),
            initial: r.initial.clone(),
        })
        .collect()
}

/// Hosts from the scope keys: the keys, hosts under them, look-alikes and
/// strangers.
fn host_pool(rules: &RuleSet) -> Vec<String> {
    let mut hosts = BTreeSet::new();
    for scope in &rules.scopes {
        for key in &scope.keys {
            match key {
                ScopeKey::MxExact(h) => {
                    hosts.insert(h.clone());
                    hosts.insert(format!("mx0.{h}"));
                    hosts.insert(format!("x{h}"));
                }
                ScopeKey::MxSuffix(s) => {
                    hosts.insert(s.clone());
                    hosts.insert(format!("mx1.{s}"));
                    hosts.insert(format!("a.b.{s}"));
                    hosts.insert(format!("evil{s}"));
                    hosts.insert(format!("{s}.evil.com"));
                    if let Some((_, parent)) = s.split_once('.') {
                        hosts.insert(parent.to_string());
                        hosts.insert(format!("mx.{parent}"));
                    }
                }
                ScopeKey::RcptDomain(d) => {
                    hosts.insert(format!("mx.{d}"));
                }
                ScopeKey::Global => {}
            }
        }
    }
    for h in [
        "mx.example.com",
        "gmail-smtp-in.l.google.com",
        "mxs.mail.ru",
        "evilmail.ru",
        "mail.ru.evil.com",
        "localhost",
        "1.2.3.4",
        "2001:db8::1",
    ] {
        hosts.insert(h.to_string());
    }
    hosts.into_iter().collect()
}

/// Recipient domains: the rcpt keys, the host keys and strangers.
fn domain_pool(rules: &RuleSet) -> Vec<String> {
    let mut domains = BTreeSet::new();
    for scope in &rules.scopes {
        for key in &scope.keys {
            match key {
                ScopeKey::MxExact(d) | ScopeKey::MxSuffix(d) | ScopeKey::RcptDomain(d) => {
                    domains.insert(d.clone());
                    domains.insert(format!("sub.{d}"));
                }
                ScopeKey::Global => {}
            }
        }
    }
    for d in [
        "example.com",
        "gmail.com",
        "mail.ru",
        "evilmail.ru",
        "yandex.ru",
    ] {
        domains.insert(d.to_string());
    }
    domains.into_iter().collect()
}

struct Generator {
    rng: Rng,
    seeds: Vec<String>,
    words: Vec<String>,
    phrases: Vec<String>,
    hosts: Vec<String>,
    domains: Vec<String>,
    targets: Vec<Target>,
}

const CODES: &[&str] = &[
    "250", "421", "450", "451", "452", "500", "501", "503", "550", "551", "552", "553", "554",
    "571", "650", "5500", "55", "",
];

const ODD_CHARS: &[char] = &[
    ' ', ' ', '.', '-', '#', '(', ')', ';', ':', '"', '\'', '/', '\\', '\t', '\n', '\r', 'é', 'ж',
    '\u{a0}', '0', '1', '4', '5', '7', 'a', 'Z', '_', '[', ']', '*',
];

impl Generator {
    fn new(seed: u64, rules: &RuleSet, extra_seeds: &[String]) -> Generator {
        let (words, phrases) = literals(rules);
        let mut seeds: Vec<String> = GENERIC_REPLIES.iter().map(|s| s.to_string()).collect();
        seeds.extend(rules.rules.iter().flat_map(|r| r.examples.iter().cloned()));
        seeds.extend(extra_seeds.iter().cloned());
        Generator {
            rng: Rng(seed),
            seeds,
            words,
            phrases,
            hosts: host_pool(rules),
            domains: domain_pool(rules),
            targets: targets(rules),
        }
    }

    fn status(&mut self) -> Status {
        let class = *self.rng.pick(&[2u8, 4, 5, 5, 5]);
        let subject = self.rng.below(8) as u16;
        let detail = *self.rng.pick(&[0u16, 1, 1, 2, 3, 4, 6, 7, 10, 26, 999]);
        Status::new(class, subject, detail)
    }

    fn category(&mut self) -> mxrules::core::status::Category {
        *self.rng.pick(&[
            mxrules::core::status::Category::PolicyRelated,
            mxrules::core::status::Category::SpamRelated,
            mxrules::core::status::Category::BadMailbox,
            mxrules::core::status::Category::Other,
        ])
    }

    fn enhanced_token(&mut self) -> String {
        let s = self.status();
        match self.rng.below(6) {
            0 => format!("#{s}"),
            1 => format!("({s})"),
            2 => format!("{s}."),
            _ => s.to_string(),
        }
    }

    fn word(&mut self) -> String {
        if self.rng.percent(30) && !self.phrases.is_empty() {
            self.rng.pick(&self.phrases).clone()
        } else {
            self.rng.pick(&self.words).clone()
        }
    }

    /// Text built from the rules' literals, with or without a code.
    fn random_text(&mut self) -> String {
        let mut parts = Vec::new();
        if self.rng.percent(70) {
            parts.push(self.rng.pick(CODES).to_string());
        }
        if self.rng.percent(40) {
            parts.push(self.enhanced_token());
        }
        for _ in 0..1 + self.rng.below(6) {
            let w = self.word();
            let w = match self.rng.below(5) {
                0 => w.to_uppercase(),
                1 => w.to_lowercase(),
                _ => w,
            };
            parts.push(w);
        }
        let sep = *self.rng.pick(&[" ", " ", " ", "", ", ", "  ", "\t"]);
        parts.join(sep)
    }

    fn mutate(&mut self, text: String) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        match self.rng.below(12) {
            // Another reply code.
            0 => {
                let digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
                let code = self.rng.pick(CODES);
                chars.splice(0..digits, code.chars());
            }
            // Drop, insert or swap characters.
            1 => {
                if !chars.is_empty() {
                    let at = self.rng.below(chars.len());
                    chars.remove(at);
                }
            }
            2 => {
                let at = self.rng.below(chars.len() + 1);
                chars.insert(at, *self.rng.pick(ODD_CHARS));
            }
            3 => {
                if chars.len() >= 2 {
                    let at = self.rng.below(chars.len() - 1);
                    chars.swap(at, at + 1);
                }
            }
            // Case.
            4 => {
                let how = self.rng.below(3);
                for c in &mut chars {
                    *c = match how {
                        0 => c.to_ascii_uppercase(),
                        1 => c.to_ascii_lowercase(),
                        _ if self.rng.percent(30) => {
                            if c.is_ascii_uppercase() {
                                c.to_ascii_lowercase()
                            } else {
                                c.to_ascii_uppercase()
                            }
                        }
                        _ => *c,
                    };
                }
            }
            // Words the regexes look for, anywhere.
            5 | 6 => {
                let at = self.rng.below(chars.len() + 1);
                let w = format!(" {} ", self.word());
                chars.splice(at..at, w.chars());
            }
            // Truncate.
            7 => {
                let at = self.rng.below(chars.len() + 1);
                chars.truncate(at);
            }
            // Two replies in one.
            8 => {
                let other = self.rng.pick(&self.seeds).clone();
                let sep = *self.rng.pick(&[" ", "\r\n", "\n", "; "]);
                if self.rng.percent(50) {
                    return format!("{text}{sep}{other}");
                }
                return format!("{other}{sep}{text}");
            }
            // An enhanced code after the reply code, or at the end.
            9 => {
                let token = self.enhanced_token();
                let digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
                if digits == 3 && self.rng.percent(70) {
                    let ins = format!(" {token}");
                    chars.splice(3..3, ins.chars());
                } else {
                    chars.extend(format!(" {token}").chars());
                }
            }
            // A multi-line reply.
            10 => return self.multi_line(&text),
            // A DSN or Postfix wrapper.
            _ => {
                let prefix = *self.rng.pick(&[
                    "smtp;",
                    "SMTP; ",
                    "X-Postfix; ",
                    "host mx.example.com[192.0.2.7] said: ",
                    "  ",
                ]);
                return format!("{prefix}{text}");
            }
        }
        chars.into_iter().collect()
    }

    /// `550-5.1.1 a\r\n550-5.1.1 b\r\n550 5.1.1 c`, in several shapes.
    fn multi_line(&mut self, text: &str) -> String {
        let (code, rest) = match text.get(..3) {
            Some(c) if c.bytes().all(|b| b.is_ascii_digit()) => {
                (c.to_string(), text[3..].trim_start())
            }
            _ => (
                self.rng.pick(&["550", "554", "452", "421"]).to_string(),
                text,
            ),
        };
        let words: Vec<&str> = rest.split(' ').collect();
        let lines = 1 + self.rng.below(3.min(words.len().max(1)));
        let enhanced = if self.rng.percent(50) {
            Some(self.enhanced_token())
        } else {
            None
        };
        let chunk = words.len().div_ceil(lines).max(1);
        let nl = *self.rng.pick(&["\r\n", "\n", "\r\n    "]);
        let mut out = String::new();
        let parts: Vec<String> = words.chunks(chunk).map(|c| c.join(" ")).collect();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let mark = if last { ' ' } else { '-' };
            let e = match (&enhanced, self.rng.percent(15)) {
                (Some(_), true) => format!("{} ", self.enhanced_token()),
                (Some(e), false) => format!("{e} "),
                (None, _) => String::new(),
            };
            let _ = write!(out, "{code}{mark}{e}{part}");
            if !last {
                out.push_str(nl);
            }
        }
        out
    }

    fn reply(&mut self) -> String {
        match self.rng.below(100) {
            0..70 => {
                let mut text = self.rng.pick(&self.seeds).clone();
                for _ in 0..1 + self.rng.below(3) {
                    text = self.mutate(text);
                }
                text
            }
            70..92 => self.random_text(),
            92..96 => {
                let t = self.random_text();
                self.mutate(t)
            }
            _ => self.rng.pick(&self.seeds).clone(),
        }
    }

    fn mx(&mut self) -> Option<String> {
        if self.rng.percent(15) {
            return None;
        }
        let h = self.rng.pick(&self.hosts).clone();
        Some(match self.rng.below(14) {
            0 => format!("dns;{h}"),
            1 => format!("dns; {}.", h.to_uppercase()),
            2 => format!("{h} [192.0.2.1]"),
            3 => format!("{h}[192.0.2.1]:25"),
            4 => String::from("[192.0.2.1]"),
            5 => String::from("[IPv6:2001:db8::1]"),
            6 => format!("{h}."),
            7 => format!("  {h}  "),
            8 => h.to_uppercase(),
            9 if self.rng.percent(20) => String::new(),
            _ => h,
        })
    }

    fn rcpt(&mut self) -> Option<String> {
        if self.rng.percent(40) {
            return None;
        }
        let d = self.rng.pick(&self.domains).clone();
        Some(match self.rng.below(8) {
            0 => format!("<User@{}>", d.to_uppercase()),
            1 => format!("rfc822; user@{d}"),
            2 => format!("John Doe <j@{d}.>"),
            3 => String::from("postmaster"),
            _ => format!("user{}@{d}", self.rng.below(100)),
        })
    }

    /// A status `pattern` matches, wildcards filled at random.
    fn status_in(&mut self, pattern: &StatusPattern) -> Status {
        let class = match pattern.class {
            0 => *self.rng.pick(&[2u8, 4, 5]),
            c => c,
        };
        let mut part = |p: Part, max: usize| match p {
            Part::Is(n) => n,
            Part::Any => self.rng.below(max) as u16,
        };
        let subject = part(pattern.subject, 8);
        let detail = part(pattern.detail, 12);
        Status::new(class, subject, detail)
    }

    /// A bounce aimed at one rule: its example or its phrases, under a
    /// status its condition accepts, at a host or recipient of its scope;
    /// then perhaps mutated.
    fn aimed(&mut self) -> Bounce {
        let t = self.rng.below(self.targets.len());
        let (keys, initial) = (
            self.targets[t].keys.clone(),
            self.targets[t].initial.clone(),
        );
        let mut reply = if !self.targets[t].examples.is_empty() && self.rng.percent(50) {
            self.rng.pick(&self.targets[t].examples).clone()
        } else {
            let status = match initial.as_slice() {
                [] => self.status(),
                ps => {
                    let p = *self.rng.pick(ps);
                    self.status_in(&p)
                }
            };
            let code = format!(
                "{}{}{}",
                status.class,
                self.rng.pick(&["5", "2"]),
                self.rng.below(5)
            );
            let mut parts = vec![code];
            if (status.subject, status.detail) != (0, 0) || self.rng.percent(30) {
                parts.push(status.to_string());
            }
            let phrases = self.targets[t].phrases.clone();
            for p in phrases {
                if self.rng.percent(20) {
                    parts.push(self.word());
                }
                parts.push(p);
            }
            parts.join(" ")
        };
        if self.rng.percent(40) {
            reply = self.mutate(reply);
        }
        let mut b = Bounce::new(reply);
        match self.rng.pick(&keys).clone() {
            ScopeKey::MxExact(h) => b.mx = Some(h),
            ScopeKey::MxSuffix(s) => {
                b.mx = Some(match self.rng.below(3) {
                    0 => s,
                    1 => format!("mx{}.{s}", self.rng.below(3)),
                    _ => format!("dns; MX.{}.", s.to_uppercase()),
                })
            }
            ScopeKey::RcptDomain(d) => {
                b.rcpt = Some(format!("someone@{d}"));
                if self.rng.percent(30) {
                    b.mx = self.mx();
                }
            }
            ScopeKey::Global => b.mx = self.mx(),
        }
        if self.rng.percent(5) {
            b.status = Some(self.status());
        }
        b
    }

    fn bounce(&mut self) -> Bounce {
        if !self.targets.is_empty() && self.rng.percent(35) {
            return self.aimed();
        }
        let reply = self.reply();
        Bounce {
            mx: self.mx(),
            rcpt: self.rcpt(),
            status: self.rng.percent(8).then(|| self.status()),
            reported_category: self.rng.percent(10).then(|| self.category()),
            reply,
        }
    }
}

/// Replies of the project's corpus and of the field manual, as seeds.
fn corpus_replies() -> Vec<String> {
    let mut out = Vec::new();
    for path in reference::corpus_files() {
        out.extend(
            reference::read_corpus(&path)
                .cases
                .into_iter()
                .map(|c| c.reply),
        );
    }
    let manual_dir = reference::shared_corpus().join("smtp-field-manual");
    if manual_dir.is_dir()
        && let Some(m) = reference::field_manual("generator seeds")
    {
        out.extend(m.responses.into_iter().map(|r| r.response));
    }
    out
}

/// Classifies `n` generated bounces both ways.
fn generated<T: AsRef<[u32]>>(pair: &mut Pair<T>, seed: u64, n: usize) {
    let rules = pair.reference.rules().clone();
    let mut generator = Generator::new(seed, &rules, &corpus_replies());
    for i in 0..n {
        let b = generator.bounce();
        pair.check(
            &format!("generated input #{i} (seed {seed:#x})"),
            &b,
            i % 16 == 0,
        );
    }
}

const GENERATED: usize = 100_000;

#[test]
fn generated_bounces_agree_on_shipped_rules() {
    let mut pair = Pair::new(reference::shipped_rules(), &Options::default());
    generated(&mut pair, 0x6d78_7275_6c65_7301, GENERATED);
    pair.finish("generated, rules.d");
}

// ---------------------------------------------------------------------------
// A stress rule set: many overlapping rules per scope, under a small DFA cap.

/// Words the generated stress rules are made of.
const STRESS_WORDS: &[&str] = &[
    "user",
    "mailbox",
    "unknown",
    "full",
    "quota",
    "blocked",
    "spam",
    "policy",
    "rejected",
    "account",
    "disabled",
    "limit",
    "rate",
    "denied",
    "relay",
    "domain",
    "address",
    "invalid",
    "exist",
    "found",
    "local",
    "recipient",
    "message",
    "storage",
    "temporarily",
    "try",
    "again",
    "later",
    "service",
    "unavailable",
    "reputation",
    "dns",
    "sender",
    "authentication",
];

const STRESS_OUTCOMES: &[&str] = &[
    "5.1.1 quarantine bad-mailbox",
    "5.7.1",
    "4.2.2 soft quota-issues",
    "5.2.1 hard",
    "5.1.0",
    "4.7.0",
    "5.4.4 quarantine bad-domain",
    "5.7.26 blocked spam-related",
    "5.2.2",
];

/// `n` `.*`-heavy rules, some case-insensitive, in blocks with different
/// `initial` conditions.
fn stress_rules(n: usize, salt: usize) -> String {
    let w = |k: usize| STRESS_WORDS[k % STRESS_WORDS.len()];
    let mut out = String::new();
    let blocks = [
        "",
        "initial 5.*.*",
        "initial 4.*.*",
        "initial 5.1.*, 5.7.*",
        "initial 5.0.0, 4.0.0",
    ];
    for (b, header) in blocks.iter().enumerate() {
        if !header.is_empty() {
            let _ = writeln!(out, "    {header} {{");
        }
        for k in (b..n).step_by(blocks.len()) {
            let k2 = k + salt;
            let (a, bb, c) = (w(k2 * 7), w(k2 * 11 + 3), w(k2 * 13 + 5));
            let regex = match k % 12 {
                // Heavy: a remembered prefix, then `.*`.
                0 => format!("/{a}.*{bb}/"),
                3 => format!("/{a}.*{bb}/i"),
                6 => format!("/^5[0-9][0-9] .*{a}/"),
                9 => match k % 5 {
                    0 => format!("/\\b{a}\\b.*{bb}/"),
                    1 => format!("/[^ ]+@[^ ]*{a}/i"),
                    2 => format!("/({a}|{bb}).*({c}|{a})/i"),
                    _ => format!("/{a} .*{c}$/"),
                },
                // Light: phrases, anchored codes, alternations.
                1 => format!("/{a} {bb}/"),
                2 => format!("/^5[0-9][0-9] {a} {bb}/"),
                4 => format!("/({a}|{bb}) {c}/i"),
                5 => format!("/\\b{a}\\b \\b{c}/i"),
                7 => format!("/{a}[ -]?{bb}s?/i"),
                8 => format!("/[0-9]\\.[0-9]\\.[0-9]+ {a}/"),
                10 => format!("/^4[0-9][0-9] {a}/i"),
                _ => format!("/{c} {a} {bb}$/"),
            };
            let outcome = STRESS_OUTCOMES[k2 % STRESS_OUTCOMES.len()];
            let _ = writeln!(out, "        {regex} -> {outcome}");
        }
        if !header.is_empty() {
            out.push_str("    }\n");
        }
    }
    out
}

/// The stress rule set: nested suffix scopes, exact hosts, recipient
/// domains, a global scope, overlapping rules with different `initial`
/// conditions and many `.*` rules per scope.
fn stress_text() -> String {
    let mut s = String::from(
        r#"# Stress rules for the differential test.
policy {
    5.1.1 -> quarantine
    5.1.2 -> quarantine
    5.1.* -> hard
    5.2.2 -> soft
    5.7.* -> blocked
    5.*.* -> hard
    4.*.* -> soft
    2.*.* -> soft
}

mx ends with ".mail.ru", ".inbox.ru", ".bk.ru" {
    initial 5.0.0 {
        /^503 Valid RCPT command must precede DATA/        -> 5.1.3 quarantine
            example "503 Valid RCPT command must precede DATA"
        /^550 Message was not accepted -- invalid mailbox/ -> 5.1.1
        /^550 must be local recipient/                     -> 5.7.1 quarantine
            example "550 must be local recipient"
        /^550 you have exceeded message receiving limit/   -> 5.2.0
    }
    initial 5.*.* {
        /user.*(not found|unknown|does not exist)/i -> 5.1.1 quarantine bad-mailbox
            example "550 5.1.1 User Unknown"
    }
    initial 4.*.* {
        /user.*(not found|unknown)/i -> 4.1.1 soft
            example "450 4.1.1 user unknown, try later"
    }
    initial 5.1.*, 5.7.* {
        /(spam|blocked|rejected).*(policy|reputation|list)/i -> 5.7.1 blocked spam-related
        /user/ -> 5.1.0 hard
    }
    /mailbox.*full|over quota|quota exceeded/i -> 4.2.2 soft quota-issues
        example "552 5.2.2 Mailbox is FULL"
    /rate.*limit|too many/i -> 4.7.0 soft
    /\bspam\b/i -> 5.7.1 blocked spam-related
"#,
    );
    s.push_str(&stress_rules(24, 0));
    s.push_str(
        r#"}

mx ends with ".mxs.mail.ru" {
    initial 5.0.0 {
        /must be local/ -> 5.1.1 quarantine
            example "550 must be local recipient"
    }
    /^4[0-9][0-9] .*grey ?list/i -> 4.7.1 soft
        example "451 4.7.1 Greylisted, come back later"
    /local.*recipient/i -> 5.1.1 quarantine
}

mx is "mxs.mail.ru", "mx1.mail.ru", "mail.ru" {
    /^550 must be local recipient$/ -> 5.1.2 quarantine
        example "550 must be local recipient"
    /exceeded/ -> 5.2.2
}

rcpt domain is "mail.ru", "list.ru", "gmail.com" {
    initial 5.*.* {
        /not.*accepted/i -> 5.7.0 blocked
            example "550 Message was not accepted -- invalid mailbox"
    }
    /^$/ -> 5.0.0 hard
    /[0-9]{3}-[0-9]/ -> 5.5.0
"#,
    );
    s.push_str(&stress_rules(8, 5));
    s.push_str(
        r#"}

mx ends with ".google.com", ".googlemail.com" or rcpt domain is "googlemail.com" {
    initial 5.1.1 {
        /^550 5\.1\.1 The email account that you tried to reach does not exist/ -> 5.1.1 quarantine
            example "550 5.1.1 The email account that you tried to reach does not exist. Please try"
    }
    initial 5.2.1 {
        /disabled/ -> 5.2.1 hard
        /rate that prevents/ -> 4.2.1 soft
    }
    initial 4.2.2, 5.2.2 {
        /over quota|storage/i -> 4.2.2 soft quota-issues
    }
    initial 5.7.* {
        /unsolicited|spam/i -> 5.7.1 blocked spam-related
        /DMARC|SPF|DKIM/ -> 5.7.26 blocked policy-related
    }
    reported policy-related, spam-related {
        /^5[0-9][0-9] / -> 5.7.1 blocked
    }
    initial 5.*.* reported bad-mailbox {
        /user/i -> 5.1.1 quarantine
    }
"#,
    );
    s.push_str(&stress_rules(16, 11));
    s.push_str(
        r#"}

mx is "mx.example.com" or mx ends with ".example.net" {
"#,
    );
    s.push_str(&stress_rules(40, 17));
    s.push_str(
        r#"}

global {
    /virus|malware/i -> 5.7.1 hard virus-related
        example "554 5.7.1 Message rejected: VIRUS found"
    /^421 / -> 4.3.0 soft other
"#,
    );
    s.push_str(&stress_rules(32, 23));
    s.push_str("}\n");
    s
}

fn stress_set() -> RuleSet {
    reference::rules_from_text("stress.rules", &stress_text())
}

/// A small cap for each rule's DFA.
fn small() -> Options {
    Options {
        dfa_size_limit: 64 * 1024,
        ..Options::default()
    }
}

#[test]
fn every_stress_rule_is_compiled_and_most_have_a_literal() {
    let rules = stress_set();
    let (tables, stats) = mxrules::compile::compile(rules.clone(), &small()).unwrap_or_else(|d| {
        panic!(
            "stress rules do not compile: {:?}",
            d.iter().map(|d| &d.message).collect::<Vec<_>>()
        )
    });
    eprintln!("stress rules: {stats:?}");
    let mut compiled: Vec<usize> = tables
        .scopes
        .iter()
        .flat_map(|s| s.rules.iter().map(|r| r.rule))
        .collect();
    compiled.sort_unstable();
    assert_eq!(compiled, (0..rules.rules.len()).collect::<Vec<_>>());
    assert_eq!(
        stats.literal_rules + stats.piece_rules + stats.group_rules + stats.always_rules,
        rules.rules.len()
    );
    // Rules found by their pieces need no DFA run, with literals or not.
    assert!(
        (stats.literal_rules + stats.piece_rules + stats.group_rules) * 10 >= rules.rules.len() * 8,
        "fewer than 80% of the rules have a literal or pieces: {stats:?}"
    );
}

/// `Options::dfa_size_limit` is documented as "the most bytes one DFA may
/// take", but regex-automata checks its size limit while determinizing, and
/// the finished DFA can be a little larger.
#[test]
fn rule_dfas_stay_under_the_size_cap() {
    let (_, stats) = mxrules::compile::compile(stress_set(), &small())
        .unwrap_or_else(|_| panic!("stress rules do not compile"));
    assert!(
        stats.largest_dfa_bytes <= stats.dfa_size_limit,
        "largest DFA {} bytes, cap {} bytes",
        stats.largest_dfa_bytes,
        stats.dfa_size_limit
    );
}

#[test]
fn stress_rule_examples_agree() {
    for opts in [small(), Options::default()] {
        let mut pair = Pair::new(stress_set(), &opts);
        check_examples(&mut pair);
        pair.finish(&format!("stress examples, cap {}", opts.dfa_size_limit));
    }
}

#[test]
fn generated_bounces_agree_on_stress_rules_under_a_small_dfa_cap() {
    let mut pair = Pair::new(stress_set(), &small());
    generated(&mut pair, 0x5eed_0000_0000_0002, GENERATED);
    pair.finish("generated, stress rules, 64 KiB DFA cap");
}

/// Tables written to a compiled file and loaded back (DFAs read in place)
/// classify like the reference too.
#[test]
fn loaded_artifacts_agree() {
    for (what, rules, opts, seed) in [
        (
            "rules.d",
            reference::shipped_rules(),
            Options::default(),
            0xa7_0001,
        ),
        ("stress rules", stress_set(), small(), 0xa7_0002),
    ] {
        let (tables, _) = mxrules::compile::compile(rules.clone(), &opts).unwrap_or_else(|d| {
            panic!(
                "{what} do not compile: {:?}",
                d.iter().map(|d| &d.message).collect::<Vec<_>>()
            )
        });
        let bytes = mxrules::runtime::artifact::to_bytes(&tables)
            .unwrap_or_else(|e| panic!("{what}: cannot write the compiled file: {e}"));
        let aligned = mxrules::runtime::artifact::AlignedBytes::new(&bytes);
        let loaded = mxrules::runtime::artifact::load(aligned.as_slice())
            .map(mxrules::runtime::classify::Classifier::from_tables)
            .unwrap_or_else(|e| panic!("{what}: cannot load the compiled file: {e}"));
        let mut pair = Pair::with(loaded, rules);
        check_examples(&mut pair);
        generated(&mut pair, seed, 10_000);
        pair.finish(&format!("{what}, loaded from a compiled file"));
    }
}

/// The reference itself follows the design on hand-picked bounces.
#[test]
fn reference_follows_the_design() {
    let r = Reference::new(stress_set());
    let text = stress_text();
    let line_of = |needle: &str| {
        let line = text
            .lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no rule {needle}"));
        format!("stress.rules:{}", line + 1)
    };
    let rule = |b: Bounce| r.classify(&b).rule;
    let local = "550 must be local recipient";
    // Exact host first, then the longer suffix, then the shorter one.
    assert_eq!(
        rule(Bounce::new(local).mx("MXS.mail.ru.")),
        Some(line_of("/^550 must be local recipient$/").into())
    );
    assert_eq!(
        rule(Bounce::new(local).mx("a.mxs.mail.ru")),
        Some(line_of("/must be local/").into())
    );
    assert_eq!(
        rule(Bounce::new(local).mx("mx2.mail.ru")),
        Some(line_of("/^550 must be local recipient/ ").into())
    );
    // Label-aligned: `evilmail.ru` is no Mail.ru host; its recipient domain
    // decides, then nothing does.
    let b = Bounce::new("550 Message was not accepted -- invalid mailbox").mx("evilmail.ru");
    assert_eq!(
        rule(b.clone().rcpt("u@mail.ru")),
        Some(line_of("/not.*accepted/i").into())
    );
    let c = r.classify(&b);
    assert!(c.unmatched, "{c:?}");
    assert_eq!(c.verdict.as_str(), "hard");
    assert_eq!(c.status, Some(Status::class_only(5)));
    // The scope order, each scope once.
    let names = |mx: &str, rcpt: Option<&str>| -> Vec<String> {
        r.scopes_for(Some(mx), rcpt)
            .into_iter()
            .map(|s| r.rules().scopes[s].name())
            .collect()
    };
    assert_eq!(
        names("mxs.mail.ru", Some("mail.ru")),
        [
            r#"mx is "mxs.mail.ru" or mx is "mx1.mail.ru" or mx is "mail.ru""#,
            r#"mx ends with ".mxs.mail.ru""#,
            r#"mx ends with ".mail.ru" or mx ends with ".inbox.ru" or mx ends with ".bk.ru""#,
            r#"rcpt domain is "mail.ru" or rcpt domain is "list.ru" or rcpt domain is "gmail.com""#,
            "global",
        ]
    );
    assert_eq!(
        names("gmail-smtp-in.l.google.com", Some("googlemail.com")),
        [
            r#"mx ends with ".google.com" or mx ends with ".googlemail.com" or rcpt domain is "googlemail.com""#,
            "global"
        ]
    );
    // Initial conditions: 4.x.x takes the 4.*.* rule, 5.x.x the 5.*.* one.
    assert_eq!(
        rule(Bounce::new("450 4.1.1 user unknown").mx("mx.bk.ru")),
        Some(line_of("-> 4.1.1 soft").into())
    );
    assert_eq!(
        rule(Bounce::new("550 5.1.1 user unknown").mx("mx.bk.ru")),
        Some(line_of("-> 5.1.1 quarantine bad-mailbox").into())
    );
    // The given status wins over the text's.
    assert_eq!(
        rule(
            Bounce::new("550 5.1.1 user unknown")
                .mx("mx.bk.ru")
                .status(Status::new(4, 1, 1))
        ),
        Some(line_of("-> 4.1.1 soft").into())
    );
    // No code at all: only rules without an initial condition apply.
    let c = r.classify(&Bounce::new("user unknown").mx("mx.bk.ru"));
    assert_eq!(c.initial_status, None);
    assert!(
        c.unmatched
            || r.rules()
                .rules
                .iter()
                .any(|x| c.rule.as_deref() == Some(x.location().as_str()) && x.initial.is_empty())
    );
    let c = r.classify(&Bounce::new("nothing at all").mx("mx.unknown.org"));
    assert!(c.unmatched);
    assert_eq!(c.status, None);
    assert_eq!(c.verdict.as_str(), "hard");
}

/// The literal search walks a long reply in two halves at once. A literal
/// is found wherever it lies, across the middle too, and once: every rule
/// below fires at every position of its literal, in replies of every length
/// around the point where the reply is split, in the compiled tables and
/// in the reference alike, and `explain` lists exactly the rules that match.
#[test]
fn literals_are_found_at_every_position() {
    let rules = reference::rules_from_text(
        "lanes.rules",
        r#"
policy { 5.1.1 -> quarantine  5.*.* -> hard  4.*.* -> soft }
global {
    /mailbox unavailable/ -> 5.1.1
    /over quota/i -> 5.2.2
    /relay denied$/ -> 5.7.1
    /spam(?:hausx|cop) listed.*here/ -> 5.7.1
    /^550 short/ -> 5.1.1
}
"#,
    );
    let mut pair = Pair::new(rules, &Options::default());
    let cases: [(&str, Option<&str>, &str); 5] = [
        ("mailbox unavailable", None, "lanes.rules:4"),
        ("OVER Quota", None, "lanes.rules:5"),
        ("relay denied", Some("end"), "lanes.rules:6"),
        ("spamcop listed, see here", None, "lanes.rules:7"),
        ("spamhausx listed here", None, "lanes.rules:7"),
    ];
    let mut checked = 0;
    for len in 30..=110 {
        for (literal, anchor, rule) in cases {
            for at in 4..=len - literal.len() {
                if anchor == Some("end") && at + literal.len() != len {
                    continue;
                }
                let mut reply = String::from("550 ");
                reply.push_str(&"x".repeat(at - 4));
                reply.push_str(literal);
                reply.push_str(&"y".repeat(len - at - literal.len()));
                let b = Bounce::new(reply.clone());
                pair.check("lanes", &b, at % 7 == 0);
                let got = pair.compiled.classify(&b);
                assert_eq!(got.rule.as_deref(), Some(rule), "{reply:?}");
                checked += 1;
            }
        }
    }
    // A reply the anchored rule starts, long enough to be split.
    let b = Bounce::new(format!("550 short {}", "z".repeat(80)));
    assert_eq!(
        pair.compiled.classify(&b).rule.as_deref(),
        Some("lanes.rules:8")
    );
    assert!(checked > 10_000, "{checked} replies checked");
    pair.finish("literals at every position");
}
