//! The performance benchmark of issue 7: mxrules' compiled tables against
//! the baselines, on generated rule sets and traffic, in one run.
//!
//! Run with `cargo bench --bench bench` (release profile). Everything is
//! seeded, so two runs classify the same replies with the same rules.
//!
//! - Rule sets: 200 MX scopes x 10 rules + 200 global rules (2,200 rules)
//!   in a "light" mix (no `.*` or `.+` at all) and a "heavy" mix (~40% of
//!   the rules `^550.+phrase` or `(?i)word.*word`), and the same mixes at
//!   20,000 rules (2,000 scopes x 9 + 2,000 global) to show how cost grows.
//!   They are written as rules source text and go through the real front
//!   end: `Parsed::add_text`, `check`, `compile`.
//! - Traffic: `MXBENCH_N` (default 1,000,000) bounces, replies of 60-200
//!   bytes, MX hosts Zipf-distributed over the scopes with 10% unknown hosts,
//!   about 70% matching some rule. Replies are normalized once, before any
//!   timing, so every engine runs on the same pre-parsed input.
//! - Engines: (a) `Classifier::classify_normalized_ref` (what `mxrules
//!   classify` runs per record); (a') the same tables
//!   without building a `Classification` (`Selector::select` +
//!   `CompiledScope::first_match`); (a'') the tables read back from the
//!   compiled file; (b) the naive reference, each rule of each selected
//!   scope tried in order with `regex::bytes::Regex::is_match`; (c) one
//!   `regex::bytes::RegexSet` per scope; (d) a `memchr` pass over the same
//!   reply bytes, the memory-bandwidth limit. Every engine's deciding rule is
//!   compared with the naive reference on every reply it ran on.
//! - The slow baselines run on the first `MXBENCH_SUBSET` replies (default
//!   100,000), stopping early after `MXBENCH_SLOW_CAP_S` seconds (default
//!   20); their rate is replies/s over what they ran, and the output says so.
//!   (a) is also timed on that subset: the ratios compare the same replies.
//! - End to end: the release binary `mxrules classify --rules rules.mxc
//!   bounces.jsonl > /dev/null` on the heavy mix's traffic, and on its first
//!   tenth, to see that its peak memory does not grow with the input.
//! - The 20,000-rule sets run in child processes (this binary, with
//!   `MXBENCH_PART=20k-light` or `20k-heavy`), killed when they exceed what
//!   is left of a `MXBENCH_BUDGET_S` (default 270 s) budget.
//!
//! Environment: `MXBENCH_N`, `MXBENCH_SUBSET`, `MXBENCH_SLOW_CAP_S`,
//! `MXBENCH_RUNS` (timed passes of the fast engines, best kept; default 1),
//! `MXBENCH_BUDGET_S`, `MXBENCH_N_20K`, `MXBENCH_SUBSET_20K`,
//! `MXBENCH_SKIP_20K=1`, `MXBENCH_SKIP_ANALYSIS=1`, `MXBENCH_SKIP_E2E=1`,
//! `MXBENCH_KEEP_TMP=1` (keep the generated `rules.mxc` and
//! `bounces.jsonl`), `MXBENCH_MIX=light` or `heavy` (classify one mix
//! only), `MXBENCH_ONLY=classify` (only generate, compile and run
//! engine (a) in a loop: for `perf record`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark stops on what it cannot measure

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use mxrules::compile::{Options, Stats};
use mxrules::core::bounce::Bounce;
use mxrules::core::model::{Rule, RuleSet, ScopeKey};
use mxrules::runtime::artifact::{self, AlignedBytes};
use mxrules::runtime::classify::{Classifier, Normalized, NormalizedRef};
use mxrules::syntax::load::Parsed;
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

/// No rule decided.
const NONE: u32 = u32::MAX;

// ---------------------------------------------------------------------------
// Small helpers.

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A field of `/proc/<pid>/status`, in KiB.
fn proc_kib(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => String::from("/proc/self/status"),
    };
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

fn kib_str(k: Option<u64>) -> String {
    k.map_or_else(
        || String::from("n/a"),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rate_str(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1} k/s", r / 1e3)
    } else {
        format!("{r:.0} /s")
    }
}

// ---------------------------------------------------------------------------
// Rule sets.

/// Words rule phrases are made of.
const RULE_WORDS: &[&str] = &[
    "mailbox",
    "unavailable",
    "unknown",
    "recipient",
    "rejected",
    "blocked",
    "spam",
    "policy",
    "quota",
    "exceeded",
    "disabled",
    "inactive",
    "account",
    "invalid",
    "listed",
    "reputation",
    "temporarily",
    "deferred",
    "throttled",
    "content",
    "virus",
    "relay",
    "denied",
    "suspended",
    "expired",
    "storage",
    "blacklisted",
    "blocklist",
    "spamhaus",
    "sender",
    "verification",
    "failed",
    "authentication",
    "dmarc",
    "dkim",
    "greylisted",
    "connections",
    "refused",
    "nonexistent",
    "terminated",
    "overquota",
    "frozen",
    "locked",
    "abuse",
    "complaints",
    "volume",
    "bulk",
    "phishing",
    "malware",
    "attachment",
    "forbidden",
    "prohibited",
    "unroutable",
    "unresolvable",
    "lookup",
    "undeliverable",
    "dropped",
    "quarantined",
    "filtered",
    "banned",
    "closed",
    "deactivated",
    "reserved",
    "unsolicited",
    "junk",
    "threshold",
    "capacity",
    "unverified",
    "misconfigured",
    "helo",
    "rdns",
    "tls",
    "required",
    "insecure",
    "oversized",
    "loop",
    "hops",
    "greylisting",
    "ratelimited",
    "unauthenticated",
];

/// Words around the phrases; none contains a rule word.
const FILLER: &[&str] = &[
    "please",
    "try",
    "again",
    "later",
    "see",
    "for",
    "more",
    "information",
    "the",
    "this",
    "from",
    "your",
    "server",
    "host",
    "our",
    "system",
    "has",
    "been",
    "was",
    "not",
    "due",
    "to",
    "in",
    "at",
    "on",
    "id",
    "ref",
    "reason",
    "contact",
    "postmaster",
    "administrator",
    "visit",
    "learn",
    "about",
    "why",
    "support",
    "via",
    "request",
    "response",
    "session",
    "transaction",
    "we",
    "are",
    "sorry",
    "unable",
    "deliver",
    "message",
    "user",
    "mail",
    "email",
    "queue",
    "remote",
    "smtp",
    "command",
    "data",
    "after",
    "end",
    "of",
    "by",
    "with",
    "an",
    "if",
    "you",
    "believe",
    "error",
    "is",
    "be",
    "can",
    "help",
    "details",
    "here",
    "check",
    "status",
    "address",
    "domain",
    "RCPT",
    "TO",
    "MAIL",
    "FROM",
    "DATA",
    "-",
    ":",
    ";",
];

const CODES5: &[(&str, &str)] = &[
    ("550", "5.1.1"),
    ("550", "5.7.1"),
    ("552", "5.2.2"),
    ("554", "5.7.1"),
    ("550", "5.2.1"),
    ("553", "5.1.3"),
    ("554", "5.7.0"),
    ("550", "5.4.1"),
];
const CODES4: &[(&str, &str)] = &[
    ("421", "4.7.0"),
    ("451", "4.3.0"),
    ("450", "4.2.1"),
    ("452", "4.2.2"),
    ("451", "4.7.1"),
];
const CATEGORIES5: &[&str] = &[
    "bad-mailbox",
    "inactive-mailbox",
    "quota-issues",
    "policy-related",
    "spam-related",
    "content-related",
    "relaying-issues",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mix {
    Light,
    Heavy,
}

impl Mix {
    fn name(self) -> &'static str {
        match self {
            Mix::Light => "light",
            Mix::Heavy => "heavy",
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `^550 5\.1\.1 w0 w1`
    Code,
    /// `w0 w1 w2`
    Phrase,
    /// `/w0 w1 w2/i`
    CiPhrase,
    /// `^550 (?:w0|w1) w2` or `(?:w0|w1|w2) w3`
    Alt { anchored: bool },
    /// `^550.+w0 w1`
    CodeDotPlus,
    /// `(?i)w0.*w1`
    CiDotStar,
}

impl Shape {
    fn dot(self) -> bool {
        matches!(self, Shape::CodeDotPlus | Shape::CiDotStar)
    }
}

#[derive(Clone, Debug)]
struct RuleSpec {
    shape: Shape,
    code: &'static str,
    enh: &'static str,
    words: [&'static str; 4],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `mx is "mx1.isp{s+3}.net"`: a host under a suffix scope (chain of 3).
    Exact,
    /// `rcpt domain is "isp{s}.com"`
    Rcpt,
    /// `mx ends with ".isp{s}.net", ".isp{s}-mail.com"`
    Suffix2,
    /// `mx ends with ".isp{s}.net"`
    Suffix,
}

fn kind_of(s: usize) -> Kind {
    match s % 10 {
        0 => Kind::Exact,
        1 => Kind::Rcpt,
        2 => Kind::Suffix2,
        _ => Kind::Suffix,
    }
}

struct Generated {
    source: String,
    /// Rules of the non-global scopes, scope by scope.
    scopes: Vec<Vec<RuleSpec>>,
    global: Vec<RuleSpec>,
    rules: usize,
    dot_rules: usize,
}

fn pick_shape(rng: &mut Rng, mix: Mix) -> Shape {
    let x = rng.below(100);
    match mix {
        Mix::Light => match x {
            0..25 => Shape::Code,
            25..50 => Shape::Phrase,
            50..75 => Shape::CiPhrase,
            _ => Shape::Alt {
                anchored: rng.chance(0.5),
            },
        },
        Mix::Heavy => match x {
            0..15 => Shape::Code,
            15..30 => Shape::Phrase,
            30..45 => Shape::CiPhrase,
            45..60 => Shape::Alt {
                anchored: rng.chance(0.5),
            },
            60..80 => Shape::CodeDotPlus,
            _ => Shape::CiDotStar,
        },
    }
}

fn rule_spec(rng: &mut Rng, mix: Mix, class: Option<u8>) -> RuleSpec {
    let (code, enh) = match class {
        Some(5) => rng.pick(CODES5),
        Some(_) => rng.pick(CODES4),
        None if rng.chance(0.75) => rng.pick(CODES5),
        None => rng.pick(CODES4),
    };
    let mut words = [""; 4];
    for w in &mut words {
        *w = rng.pick(RULE_WORDS);
    }
    RuleSpec {
        shape: pick_shape(rng, mix),
        code,
        enh,
        words,
    }
}

fn regex_of(r: &RuleSpec) -> (String, bool) {
    let [w0, w1, w2, w3] = r.words;
    let code = r.code;
    match r.shape {
        Shape::Code => (
            format!("^{code} {} {w0} {w1}", r.enh.replace('.', "\\.")),
            false,
        ),
        Shape::Phrase => (format!("{w0} {w1} {w2}"), false),
        Shape::CiPhrase => (format!("{w0} {w1} {w2}"), true),
        Shape::Alt { anchored: true } => (format!("^{code} (?:{w0}|{w1}) {w2}"), false),
        Shape::Alt { anchored: false } => (format!("(?:{w0}|{w1}|{w2}) {w3}"), false),
        Shape::CodeDotPlus => (format!("^{code}.+{w0} {w1}"), false),
        Shape::CiDotStar => (format!("(?i){w0}.*{w1}"), false),
    }
}

fn write_rule(rng: &mut Rng, src: &mut String, r: &RuleSpec) {
    let (regex, ci) = regex_of(r);
    let flags = if ci { "i" } else { "" };
    let status = if rng.chance(0.6) {
        r.enh
    } else if r.enh.starts_with('5') {
        rng.pick(&["5.1.1", "5.2.1", "5.2.2", "5.7.1", "5.7.0", "5.1.3"])
    } else {
        rng.pick(&["4.2.0", "4.7.0", "4.2.2", "4.3.0"])
    };
    let verdict = match (status.starts_with('5'), rng.below(10)) {
        (true, 0) => " quarantine",
        (true, 1) => " blocked",
        (true, 2) => " hard",
        (false, 0) => " soft",
        _ => "",
    };
    let category = if status.starts_with('5') && rng.chance(0.3) {
        format!(" {}", rng.pick(CATEGORIES5))
    } else {
        String::new()
    };
    let _ = writeln!(
        src,
        "        /{regex}/{flags} -> {status}{verdict}{category}"
    );
}

/// `scopes` MX scopes of `per_scope` rules and a global scope of `global`
/// rules. The first 30% of each MX scope's rules are in `initial 5.*.*`,
/// the first 10% of the global rules in `initial 4.*.*`.
fn generate_rules(
    mix: Mix,
    scopes: usize,
    per_scope: usize,
    global: usize,
    seed: u64,
) -> Generated {
    let mut rng = Rng(seed);
    let mut src = String::from(
        "policy {\n    5.1.1 -> quarantine\n    5.7.* -> blocked\n    5.*.* -> hard\n    4.*.* -> soft\n    2.*.* -> soft\n}\n\n",
    );
    let mut out = Generated {
        source: String::new(),
        scopes: Vec::with_capacity(scopes),
        global: Vec::new(),
        rules: 0,
        dot_rules: 0,
    };
    let block =
        |src: &mut String, rng: &mut Rng, rules: &[RuleSpec], split: usize, initial: &str| {
            if split > 0 {
                let _ = writeln!(src, "    initial {initial} {{");
                for r in &rules[..split] {
                    write_rule(rng, src, r);
                }
                src.push_str("    }\n");
            }
            for r in &rules[split..] {
                write_rule(rng, src, r);
            }
        };
    for s in 0..scopes {
        let header = match kind_of(s) {
            Kind::Exact => format!("mx is \"mx1.isp{}.net\"", s + 3),
            Kind::Rcpt => format!("rcpt domain is \"isp{s}.com\""),
            Kind::Suffix2 => format!("mx ends with \".isp{s}.net\", \".isp{s}-mail.com\""),
            Kind::Suffix => format!("mx ends with \".isp{s}.net\""),
        };
        let split = per_scope * 3 / 10;
        let rules: Vec<RuleSpec> = (0..per_scope)
            .map(|i| rule_spec(&mut rng, mix, (i < split).then_some(5)))
            .collect();
        let _ = writeln!(src, "{header} {{");
        block(&mut src, &mut rng, &rules, split, "5.*.*");
        src.push_str("}\n\n");
        out.scopes.push(rules);
    }
    let split = global / 10;
    let rules: Vec<RuleSpec> = (0..global)
        .map(|i| rule_spec(&mut rng, mix, (i < split).then_some(4)))
        .collect();
    src.push_str("global {\n");
    block(&mut src, &mut rng, &rules, split, "4.*.*");
    src.push_str("}\n");
    out.global = rules;
    let all = out.scopes.iter().flatten().chain(&out.global);
    out.rules = all.clone().count();
    out.dot_rules = all.filter(|r| r.shape.dot()).count();
    out.source = src;
    out
}

// ---------------------------------------------------------------------------
// Traffic.

fn filler(rng: &mut Rng) -> String {
    match rng.below(24) {
        0 => format!("<u{}@example.net>", rng.below(100_000)),
        1 => format!("[198.51.{}.{}]", rng.below(256), rng.below(256)),
        2 => format!("id={:08x}", rng.next() as u32),
        3 => format!("(mx{}.example.org)", rng.below(10)),
        _ => String::from(rng.pick(FILLER)),
    }
}

fn cased(rng: &mut Rng, s: &str) -> String {
    match rng.below(3) {
        0 => s.to_string(),
        1 => s.to_ascii_uppercase(),
        _ => {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        }
    }
}

/// `head`, then filler around `phrase` (right after the head when
/// `at_start`), `extra` rule words sprinkled in, and `trailer`; about
/// 60-200 bytes.
fn compose(
    rng: &mut Rng,
    head: &str,
    phrase: &str,
    at_start: bool,
    extra: usize,
    trailer: &str,
) -> String {
    let target = 64 + rng.below(120);
    let mut fill: Vec<String> = Vec::new();
    let mut len = head.len() + phrase.len() + trailer.len() + 1;
    for _ in 0..extra {
        let w = rng.pick(RULE_WORDS);
        len += w.len() + 1;
        let at = rng.below(fill.len() + 1);
        fill.insert(at, String::from(w));
    }
    while len < target {
        let t = filler(rng);
        if len + t.len() + 1 > 200 {
            break;
        }
        len += t.len() + 1;
        fill.push(t);
    }
    let pos = if at_start || phrase.is_empty() {
        0
    } else {
        rng.below(fill.len() + 1)
    };
    let mut out = String::with_capacity(len + 16);
    out.push_str(head);
    let mut first = head.is_empty() || head.ends_with(' ');
    let mut push = |out: &mut String, s: &str| {
        if s.is_empty() {
            return;
        }
        if !first {
            out.push(' ');
        }
        first = false;
        out.push_str(s);
    };
    for (i, t) in fill.iter().enumerate() {
        if i == pos {
            push(&mut out, phrase);
        }
        push(&mut out, t);
    }
    if pos == fill.len() {
        push(&mut out, phrase);
    }
    push(&mut out, trailer);
    out
}

/// A reply `r` matches (when its `initial` condition holds, which the
/// generator ensures by using the rule's own code).
fn matching_reply(rng: &mut Rng, r: &RuleSpec) -> String {
    let [w0, w1, w2, w3] = r.words;
    let head = format!("{} {} ", r.code, r.enh);
    let extra = rng.below(2);
    match r.shape {
        Shape::Code => compose(rng, &head, &format!("{w0} {w1}"), true, extra, ""),
        Shape::Phrase => compose(rng, &head, &format!("{w0} {w1} {w2}"), false, extra, ""),
        Shape::CiPhrase => {
            let p = cased(rng, &format!("{w0} {w1} {w2}"));
            compose(rng, &head, &p, false, extra, "")
        }
        Shape::Alt { anchored: true } => {
            let w = if rng.chance(0.5) { w0 } else { w1 };
            let trailer = if rng.chance(0.5) {
                format!("({})", r.enh)
            } else {
                String::new()
            };
            compose(
                rng,
                &format!("{} ", r.code),
                &format!("{w} {w2}"),
                true,
                extra,
                &trailer,
            )
        }
        Shape::Alt { anchored: false } => {
            let w = [w0, w1, w2][rng.below(3)];
            compose(rng, &head, &format!("{w} {w3}"), false, extra, "")
        }
        Shape::CodeDotPlus => compose(rng, &head, &format!("{w0} {w1}"), false, extra, ""),
        Shape::CiDotStar => {
            let mut p = cased(rng, w0);
            for _ in 0..rng.below(4) {
                p.push(' ');
                p.push_str(&filler(rng));
            }
            p.push(' ');
            p.push_str(&cased(rng, w1));
            compose(rng, &head, &p, false, extra, "")
        }
    }
}

/// A reply meant to match no rule (it may, rarely, by chance).
fn noise_reply(rng: &mut Rng) -> String {
    let (code, enh) = if rng.chance(0.7) {
        rng.pick(CODES5)
    } else {
        rng.pick(CODES4)
    };
    let head = if rng.chance(0.85) {
        format!("{code} {enh} ")
    } else {
        format!("{code} ")
    };
    let extra = rng.below(3);
    compose(rng, &head, "", false, extra, "")
}

struct Traffic {
    replies: Vec<Normalized>,
    bytes: usize,
    min_len: usize,
    max_len: usize,
    unknown: usize,
    targeted: usize,
    generation: Duration,
}

/// Zipf(1) over `n` ranks, as a cumulative table.
fn zipf_cdf(n: usize) -> Vec<f64> {
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = (0..n)
        .map(|i| {
            acc += 1.0 / (i as f64 + 1.0);
            acc
        })
        .collect();
    for x in &mut cdf {
        *x /= acc;
    }
    cdf
}

/// `n` bounces for the rules of `g`; each is also written as a JSON line to
/// `jsonl` when given.
fn generate_traffic(
    g: &Generated,
    n: usize,
    seed: u64,
    mut jsonl: Option<&mut dyn std::io::Write>,
) -> Traffic {
    let started = Instant::now();
    let mut rng = Rng(seed);
    let cdf = zipf_cdf(g.scopes.len());
    let mut t = Traffic {
        replies: Vec::with_capacity(n),
        bytes: 0,
        min_len: usize::MAX,
        max_len: 0,
        unknown: 0,
        targeted: 0,
        generation: Duration::ZERO,
    };
    let nscopes = g.scopes.len();
    for i in 0..n {
        // Where the bounce comes from, and the scopes that apply to it.
        let mut chain: [Option<usize>; 2] = [None, None];
        let (mx, rcpt) = if rng.chance(0.10) {
            t.unknown += 1;
            let j = rng.below(5_000);
            (
                format!("mx{}.unknown{j}.org", rng.below(4)),
                format!("u{}@unknown{j}.org", rng.below(10_000)),
            )
        } else {
            let u = rng.unit();
            let s = cdf.partition_point(|&c| c < u).min(nscopes - 1);
            chain[0] = Some(s);
            let user = format!("u{}", rng.below(100_000));
            match kind_of(s) {
                Kind::Exact => {
                    if s + 3 < nscopes {
                        chain[1] = Some(s + 3);
                    }
                    (
                        format!("mx1.isp{}.net", s + 3),
                        format!("{user}@isp{}.net", s + 3),
                    )
                }
                Kind::Rcpt => (
                    format!("smtp{}.hoster{}.org", rng.below(8), rng.below(50)),
                    format!("{user}@isp{s}.com"),
                ),
                Kind::Suffix2 if rng.chance(0.5) => (
                    format!("mx{}.isp{s}-mail.com", 2 + rng.below(4)),
                    format!("{user}@isp{s}-mail.com"),
                ),
                Kind::Suffix2 | Kind::Suffix => (
                    format!("mx{}.isp{s}.net", 2 + rng.below(4)),
                    format!("{user}@isp{s}.net"),
                ),
            }
        };
        // Some hosts in the forms MTAs log them.
        let mx = match rng.below(40) {
            0 => format!("dns;{mx}"),
            1 => format!("{}.", mx.to_ascii_uppercase()),
            2 => format!("{mx} [203.0.113.{}]", rng.below(256)),
            _ => mx,
        };
        // About 70% aimed at a rule of one of the applicable scopes.
        let reply = if rng.chance(0.70) {
            t.targeted += 1;
            let in_own = chain[0].is_some() && rng.chance(0.8);
            let rules: &[RuleSpec] = if in_own {
                let pick = match chain {
                    [Some(a), Some(b)] if rng.chance(0.3) => b.max(a),
                    [Some(a), _] => a,
                    _ => unreachable!(),
                };
                &g.scopes[pick]
            } else {
                &g.global
            };
            let r = &rules[rng.below(rules.len())];
            matching_reply(&mut rng, r)
        } else {
            noise_reply(&mut rng)
        };
        let reply = if rng.chance(0.03) {
            format!("smtp; {reply}")
        } else {
            reply
        };
        if let Some(w) = jsonl.as_deref_mut() {
            debug_assert!(!reply.contains(['"', '\\']));
            let _ = writeln!(
                w,
                "{{\"mx\":\"{mx}\",\"rcpt\":\"{rcpt}\",\"reply\":\"{reply}\",\"id\":{i}}}"
            );
        }
        let b = Bounce::new(reply).mx(mx).rcpt(rcpt);
        let n = Normalized::new(&b);
        let len = n.reply.text.len();
        t.bytes += len;
        t.min_len = t.min_len.min(len);
        t.max_len = t.max_len.max(len);
        t.replies.push(n);
    }
    t.generation = started.elapsed();
    t
}

// ---------------------------------------------------------------------------
// Baselines.

/// The scope selection of the design, written again independently of
/// `mxrules::runtime::tables::Selector`: exact host, label-aligned suffixes longest
/// first, recipient domain, global; each scope once.
struct Select {
    exact: HashMap<String, usize>,
    suffix: HashMap<String, usize>,
    rcpt: HashMap<String, usize>,
    global: Option<usize>,
}

impl Select {
    fn new(rules: &RuleSet) -> Select {
        let mut s = Select {
            exact: HashMap::new(),
            suffix: HashMap::new(),
            rcpt: HashMap::new(),
            global: None,
        };
        for (i, scope) in rules.scopes.iter().enumerate() {
            for k in &scope.keys {
                match k {
                    ScopeKey::MxExact(h) => {
                        s.exact.entry(h.clone()).or_insert(i);
                    }
                    ScopeKey::MxSuffix(h) => {
                        s.suffix.entry(h.clone()).or_insert(i);
                    }
                    ScopeKey::RcptDomain(d) => {
                        s.rcpt.entry(d.clone()).or_insert(i);
                    }
                    ScopeKey::Global => {
                        s.global.get_or_insert(i);
                    }
                }
            }
        }
        s
    }

    /// The scopes for `n`, in order, into `out`; returns how many.
    fn select(&self, n: &Normalized, out: &mut [usize; 8]) -> usize {
        let mut k = 0;
        let mut push = |s: usize| {
            if k < out.len() && !out[..k].contains(&s) {
                out[k] = s;
                k += 1;
            }
        };
        if let Some(host) = n.mx.as_deref().filter(|h| !h.is_empty()) {
            if let Some(&s) = self.exact.get(host) {
                push(s);
            }
            let mut rest = host;
            loop {
                if let Some(&s) = self.suffix.get(rest) {
                    push(s);
                }
                match rest.find('.') {
                    Some(i) => rest = &rest[i + 1..],
                    None => break,
                }
            }
        }
        if let Some(&s) = n.rcpt_domain.as_deref().and_then(|d| self.rcpt.get(d)) {
            push(s);
        }
        if let Some(s) = self.global {
            push(s);
        }
        k
    }
}

/// (b) Each rule of each selected scope tried in order with `Regex::is_match`.
struct Naive<'a> {
    rules: &'a [Rule],
    select: &'a Select,
    scopes: Vec<Vec<(usize, Regex)>>,
}

impl<'a> Naive<'a> {
    fn new(rules: &'a RuleSet, select: &'a Select) -> Naive<'a> {
        let scopes = rules
            .scopes
            .iter()
            .map(|s| {
                s.rules
                    .iter()
                    .map(|&r| {
                        let rule = &rules.rules[r];
                        let re = RegexBuilder::new(&rule.regex)
                            .unicode(false)
                            .case_insensitive(rule.case_insensitive)
                            .size_limit(64 << 20)
                            .build()
                            .expect("a checked regex builds");
                        (r, re)
                    })
                    .collect()
            })
            .collect();
        Naive {
            rules: &rules.rules,
            select,
            scopes,
        }
    }

    fn classify(&self, n: &Normalized) -> u32 {
        let hay = n.reply.text.as_bytes();
        let (initial, reported) = (n.reply.initial, n.reported_category);
        let mut chain = [0usize; 8];
        let k = self.select.select(n, &mut chain);
        for &s in &chain[..k] {
            for (r, re) in &self.scopes[s] {
                if self.rules[*r].accepts(initial, reported) && re.is_match(hay) {
                    return *r as u32;
                }
            }
        }
        NONE
    }
}

/// (c) One `RegexSet` per scope: the first matching rule (lowest index)
/// that accepts the initial status.
struct Sets<'a> {
    rules: &'a [Rule],
    select: &'a Select,
    scopes: Vec<(RegexSet, Vec<usize>)>,
}

impl<'a> Sets<'a> {
    fn new(rules: &'a RuleSet, select: &'a Select) -> Sets<'a> {
        let scopes = rules
            .scopes
            .iter()
            .map(|s| {
                let pats: Vec<String> = s
                    .rules
                    .iter()
                    .map(|&r| mxrules::compile::pattern(&rules.rules[r]))
                    .collect();
                let set = RegexSetBuilder::new(&pats)
                    .unicode(false)
                    .size_limit(256 << 20)
                    .dfa_size_limit(64 << 20)
                    .build()
                    .expect("a checked regex set builds");
                (set, s.rules.clone())
            })
            .collect();
        Sets {
            rules: &rules.rules,
            select,
            scopes,
        }
    }

    fn classify(&self, n: &Normalized) -> u32 {
        let hay = n.reply.text.as_bytes();
        let (initial, reported) = (n.reply.initial, n.reported_category);
        let mut chain = [0usize; 8];
        let k = self.select.select(n, &mut chain);
        for &s in &chain[..k] {
            let (set, ids) = &self.scopes[s];
            for i in set.matches(hay).iter() {
                let r = ids[i];
                if self.rules[r].accepts(initial, reported) {
                    return r as u32;
                }
            }
        }
        NONE
    }
}

/// (a') The compiled tables without building a `Classification`.
fn tables_core<T: AsRef<[u32]>>(c: &Classifier<T>, n: &Normalized) -> u32 {
    c.decide(n).map_or(NONE, |r| r as u32)
}

// ---------------------------------------------------------------------------
// Measuring.

struct EngineRun {
    name: String,
    /// Replies run (a prefix of the traffic).
    replies: usize,
    elapsed: Duration,
    bytes: usize,
    answers: Vec<u32>,
    note: String,
}

impl EngineRun {
    fn rate(&self) -> f64 {
        self.replies as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `f` over all of `traffic`, `runs` times, keeping the best time.
fn run_fast(
    name: &str,
    traffic: &[Normalized],
    runs: usize,
    mut f: impl FnMut(&Normalized) -> u32,
) -> EngineRun {
    let mut best = Duration::MAX;
    let mut answers = Vec::new();
    for _ in 0..runs.max(1) {
        answers = Vec::with_capacity(traffic.len());
        let t0 = Instant::now();
        for n in traffic {
            answers.push(f(n));
        }
        best = best.min(t0.elapsed());
        black_box(&answers);
    }
    EngineRun {
        name: name.to_string(),
        replies: traffic.len(),
        elapsed: best,
        bytes: traffic.iter().map(|n| n.reply.text.len()).sum(),
        answers,
        note: if runs > 1 {
            format!("best of {runs}")
        } else {
            String::new()
        },
    }
}

/// Runs `f` over the first `subset` replies, stopping after `cap`.
fn run_slow(
    name: &str,
    traffic: &[Normalized],
    subset: usize,
    cap: Duration,
    mut f: impl FnMut(&Normalized) -> u32,
) -> EngineRun {
    let sub = &traffic[..subset.min(traffic.len())];
    let mut answers = Vec::with_capacity(sub.len());
    let t0 = Instant::now();
    let mut bytes = 0;
    for (i, n) in sub.iter().enumerate() {
        answers.push(f(n));
        bytes += n.reply.text.len();
        if i % 256 == 255 && t0.elapsed() > cap {
            break;
        }
    }
    let elapsed = t0.elapsed();
    let stopped = answers.len() < sub.len();
    EngineRun {
        name: name.to_string(),
        replies: answers.len(),
        elapsed,
        bytes,
        note: if stopped {
            format!(
                "first {} replies (stopped at the {:.0} s cap), rate scaled",
                thousands(answers.len() as u64),
                cap.as_secs_f64()
            )
        } else if sub.len() < traffic.len() {
            format!("first {} replies, rate scaled", thousands(sub.len() as u64))
        } else {
            String::new()
        },
        answers,
    }
}

/// (a) `Classifier::classify_normalized_ref` (the path `mxrules classify`
/// takes), answers mapped back from the deciding rule's `file:line` after
/// timing.
fn run_classifier(
    traffic: &[Normalized],
    runs: usize,
    c: &Classifier,
    by_location: &HashMap<String, u32>,
) -> EngineRun {
    let mut best = Duration::MAX;
    let mut out: Vec<Option<&str>> = Vec::new();
    for _ in 0..runs.max(1) {
        out = Vec::with_capacity(traffic.len());
        let t0 = Instant::now();
        for n in traffic {
            out.push(c.classify_normalized_ref(&NormalizedRef::from(n)).rule);
        }
        best = best.min(t0.elapsed());
        black_box(&out);
    }
    let answers = out
        .iter()
        .map(|r| {
            r.map_or(NONE, |loc| {
                by_location.get(loc).copied().unwrap_or(NONE - 1)
            })
        })
        .collect();
    EngineRun {
        name: String::from("(a) mxrules classify_normalized_ref"),
        replies: traffic.len(),
        elapsed: best,
        bytes: traffic.iter().map(|n| n.reply.text.len()).sum(),
        answers,
        note: if runs > 1 {
            format!("best of {runs}")
        } else {
            String::new()
        },
    }
}

/// The replies on which `run` differs from `reference` (over the replies
/// both ran), with the first few described.
fn mismatches(
    run: &EngineRun,
    reference: &EngineRun,
    traffic: &[Normalized],
    rules: &RuleSet,
) -> (usize, Vec<String>) {
    let n = run.answers.len().min(reference.answers.len());
    let mut count = 0;
    let mut shown = Vec::new();
    let loc = |r: u32| {
        rules.rules.get(r as usize).map_or_else(
            || String::from("none"),
            |rule| format!("{} /{}/", rule.location(), rule.regex),
        )
    };
    let pairs = run.answers.iter().zip(&reference.answers).zip(traffic);
    for (i, ((&got, &want), t)) in pairs.enumerate().take(n) {
        if got != want {
            count += 1;
            if shown.len() < 5 {
                shown.push(format!(
                    "    reply {i}: mx {:?} rcpt {:?} initial {:?} {:?}\n      {}: {}\n      {}: {}",
                    t.mx,
                    t.rcpt_domain,
                    t.reply.initial.map(|s| s.to_string()),
                    t.reply.text,
                    run.name,
                    loc(got),
                    reference.name,
                    loc(want),
                ));
            }
        }
    }
    (count, shown)
}

// ---------------------------------------------------------------------------
// One rule set.

struct Built {
    rules: RuleSet,
    classifier: Classifier,
    stats: Stats,
    parse: Duration,
    check: Duration,
    compile: Duration,
    rss_before: Option<u64>,
    rss_after: Option<u64>,
    artifact: Vec<u8>,
    to_bytes: Duration,
    load_best: Duration,
}

fn build(g: &Generated) -> Result<Built, String> {
    let rss_before = proc_kib(None, "VmRSS");
    let t0 = Instant::now();
    let mut parsed = Parsed::default();
    parsed.add_text("generated.rules", &g.source);
    let parse = t0.elapsed();
    if !parsed.diagnostics.is_empty() {
        return Err(format!("parse: {:?}", parsed.diagnostics[0].message));
    }
    let t1 = Instant::now();
    let checked = mxrules::check::check(&parsed);
    let check = t1.elapsed();
    let Some(rules) = checked.rules else {
        let first = checked
            .diagnostics
            .iter()
            .find(|d| d.is_error())
            .map(|d| d.message.clone());
        return Err(format!("check: {first:?}"));
    };
    drop(parsed);
    let t2 = Instant::now();
    let (tables, stats) = mxrules::compile::compile(rules.clone(), &Options::default())
        .map_err(|d| format!("compile: {:?}", d.first().map(|d| &d.message)))?;
    let compile = t2.elapsed();
    let classifier = Classifier::from_tables(tables);
    let rss_after = proc_kib(None, "VmRSS");
    let t3 = Instant::now();
    let artifact = artifact::to_bytes(classifier.tables()).map_err(|e| e.to_string())?;
    let to_bytes = t3.elapsed();
    let aligned = AlignedBytes::new(&artifact);
    let mut load_best = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let loaded = artifact::load(aligned.as_slice())
            .map(Classifier::from_tables)
            .map_err(|e| e.to_string())?;
        load_best = load_best.min(t.elapsed());
        black_box(&loaded);
    }
    Ok(Built {
        rules,
        classifier,
        stats,
        parse,
        check,
        compile,
        rss_before,
        rss_after,
        artifact,
        to_bytes,
        load_best,
    })
}

fn print_build(g: &Generated, b: &Built) {
    let s = &b.stats;
    println!(
        "rules: {} ({:.1}% with .* or .+), source {:.0} KiB; parse {:.1} ms, check {:.1} ms",
        thousands(g.rules as u64),
        100.0 * g.dot_rules as f64 / g.rules as f64,
        g.source.len() as f64 / 1024.0,
        b.parse.as_secs_f64() * 1e3,
        b.check.as_secs_f64() * 1e3,
    );
    println!(
        "compile: {:.1} ms total, {:.3} ms/rule; {}",
        b.compile.as_secs_f64() * 1e3,
        b.compile.as_secs_f64() * 1e3 / g.rules as f64,
        s.summary(),
    );
    println!(
        "tables: {:.1} MiB of DFAs, largest DFA {:.1} KiB; RSS {} before compile, {} after",
        mib(s.dfa_bytes as f64),
        s.largest_dfa_bytes as f64 / 1024.0,
        kib_str(b.rss_before),
        kib_str(b.rss_after),
    );
    println!(
        "artifact: {:.2} MiB (to_bytes {:.1} ms); validated load (artifact::load on AlignedBytes) best of 5: {:.2} ms",
        mib(b.artifact.len() as f64),
        b.to_bytes.as_secs_f64() * 1e3,
        b.load_best.as_secs_f64() * 1e3,
    );
}

fn print_traffic(t: &Traffic) {
    let n = t.replies.len().max(1);
    println!(
        "traffic: {} bounces ({:.1}% unknown hosts, {:.1}% aimed at a rule), replies {}-{} bytes, mean {:.0}; generated and normalized in {:.2} s",
        thousands(t.replies.len() as u64),
        100.0 * t.unknown as f64 / n as f64,
        100.0 * t.targeted as f64 / n as f64,
        t.min_len,
        t.max_len,
        t.bytes as f64 / n as f64,
        t.generation.as_secs_f64(),
    );
}

fn print_engines(runs: &[EngineRun], reference: &str, base: &EngineRun, mism: &[(usize, usize)]) {
    println!(
        "  {:<46} {:>10} {:>9} {:>12} {:>9} {:>10} {:>10}  note",
        "engine", "replies", "seconds", "replies/s", "MB/s", "vs (a)", "mismatch"
    );
    for (i, r) in runs.iter().enumerate() {
        let mb = r.bytes as f64 / 1e6 / r.elapsed.as_secs_f64().max(1e-9);
        let vs = r.rate() / base.rate();
        let mm = mism
            .iter()
            .find(|(j, _)| *j == i)
            .map_or_else(|| String::from("-"), |(_, c)| thousands(*c as u64));
        println!(
            "  {:<46} {:>10} {:>9.3} {:>12} {:>9.0} {:>9.3}x {:>10}  {}",
            r.name,
            thousands(r.replies as u64),
            r.elapsed.as_secs_f64(),
            rate_str(r.rate()),
            mb,
            vs,
            mm,
            r.note
        );
    }
    println!("  (mismatches: deciding rule differs from {reference} on the replies both ran)");
}

// ---------------------------------------------------------------------------
// End to end.

struct E2e {
    records: usize,
    elapsed: Duration,
    peak_kib: Option<u64>,
    ok: bool,
    stderr: String,
}

fn mxrules_binary() -> Option<PathBuf> {
    if let Some(p) = option_env!("CARGO_BIN_EXE_mxrules") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Some(p);
        }
    }
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("mxrules");
    p.is_file().then_some(p)
}

/// Runs `mxrules classify --rules MXC JSONL > /dev/null`, sampling the
/// child's peak RSS (VmHWM) while it runs.
fn e2e(bin: &Path, mxc: &Path, jsonl: &Path, records: usize) -> E2e {
    let t0 = Instant::now();
    let child = Command::new(bin)
        .arg("classify")
        .arg("--rules")
        .arg(mxc)
        .arg(jsonl)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return E2e {
                records,
                elapsed: t0.elapsed(),
                peak_kib: None,
                ok: false,
                stderr: e.to_string(),
            };
        }
    };
    let pid = child.id();
    let mut peak = None;
    let status = loop {
        if let Some(k) = proc_kib(Some(pid), "VmHWM") {
            peak = Some(peak.unwrap_or(0).max(k));
        }
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    let elapsed = t0.elapsed();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    E2e {
        records,
        elapsed,
        peak_kib: peak,
        ok: status.is_some_and(|s| s.success()),
        stderr: stderr.trim().to_string(),
    }
}

// ---------------------------------------------------------------------------
// The final table.

struct Row {
    figure: String,
    measured: String,
    target: String,
    pass: Option<bool>,
}

fn row(
    rows: &mut Vec<Row>,
    figure: impl Into<String>,
    measured: impl Into<String>,
    target: impl Into<String>,
    pass: Option<bool>,
) {
    rows.push(Row {
        figure: figure.into(),
        measured: measured.into(),
        target: target.into(),
        pass,
    });
}

/// What the 2,200-rule run of a mix left for the final table.
struct MixResult {
    mix: Mix,
    classify_rate: f64,
    /// (a) on the same replies as the slow baselines.
    classify_sub_rate: f64,
    core_rate: f64,
    naive_rate: f64,
    set_rate: f64,
    compile_ms_per_rule: f64,
    compile_total: Duration,
    artifact_bytes: usize,
    load: Duration,
}

// ---------------------------------------------------------------------------
// The 20,000-rule sets, run in a child process.

/// What a 20,000-rule child reports.
struct PartResult {
    compile_ms_per_rule: f64,
    rate: f64,
    mismatches: usize,
}

/// The child: builds the 20,000-rule set of `mix`, classifies its traffic,
/// checks against the naive reference on a subset, and ends with a
/// `RESULT20K` line for the parent.
fn run_20k(mix: Mix, n: usize, cap: Duration, runs: usize) -> ExitCode {
    let n20 = env_usize("MXBENCH_N_20K", (n / 5).max(1000));
    let sub20 = env_usize("MXBENCH_SUBSET_20K", 20_000).min(n20);
    let g = generate_rules(mix, 2000, 9, 2000, 0x5EED_2000 + mix as u64);
    let b = match build(&g) {
        Ok(b) => b,
        Err(e) => {
            println!("the generated rules do not build: {e}");
            return ExitCode::FAILURE;
        }
    };
    print_build(&g, &b);
    let traffic = generate_traffic(&g, n20, 0xC0_0000 + mix as u64, None);
    print_traffic(&traffic);
    let replies = &traffic.replies;
    let by_location: HashMap<String, u32> = b
        .rules
        .rules
        .iter()
        .map(|r| (r.location(), r.id as u32))
        .collect();
    let select = Select::new(&b.rules);
    let naive = Naive::new(&b.rules, &select);
    let engines = vec![
        run_classifier(replies, runs, &b.classifier, &by_location),
        run_slow(
            "(a') tables: Classifier::decide",
            replies,
            sub20,
            cap,
            |x| tables_core(&b.classifier, x),
        ),
        run_slow(
            "(b) naive: Regex::is_match rule by rule",
            replies,
            sub20,
            cap,
            |x| naive.classify(x),
        ),
    ];
    let mut mism = Vec::new();
    let mut total = 0;
    for i in [0usize, 1] {
        let (c, shown) = mismatches(&engines[i], &engines[2], replies, &b.rules);
        total += c;
        mism.push((i, c));
        for s in shown {
            println!("MISMATCH\n{s}");
        }
    }
    let matched = engines[0].answers.iter().filter(|&&a| a != NONE).count();
    println!(
        "matched by some rule: {:.1}%",
        100.0 * matched as f64 / replies.len() as f64
    );
    print_engines(&engines, "(b) naive", &engines[0], &mism);
    println!(
        "  ratios: (a)/(b) naive {:.2}x; peak memory of this child (VmHWM): {}",
        engines[0].rate() / engines[2].rate(),
        kib_str(proc_kib(None, "VmHWM"))
    );
    println!(
        "RESULT20K {} {} {}",
        b.compile.as_secs_f64() * 1e3 / g.rules as f64,
        engines[0].rate(),
        total
    );
    ExitCode::SUCCESS
}

/// Runs the 20,000-rule part of `mix` in a child process, forwarding its
/// output, and kills it after `limit`.
fn run_part(mix: Mix, limit: Duration) -> Result<PartResult, String> {
    use std::io::BufRead as _;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let mut child = Command::new(exe)
        .env("MXBENCH_PART", format!("20k-{}", mix.name()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the child: {e}"))?;
    let Some(out) = child.stdout.take() else {
        return Err(String::from("no output from the child"));
    };
    let reader = std::thread::spawn(move || {
        let (mut compiled, mut result) = (false, None);
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(r) = line.strip_prefix("RESULT20K ") {
                result = Some(r.to_string());
            } else {
                compiled |= line.starts_with("compile:");
                println!("{line}");
            }
        }
        (compiled, result)
    });
    let mut killed = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if t0.elapsed() > limit => {
                let _ = child.kill();
                killed = true;
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => break None,
        }
    };
    let (compiled, result) = reader.join().unwrap_or((false, None));
    let elapsed = t0.elapsed().as_secs_f64();
    if killed {
        return Err(if compiled {
            format!("stopped after {elapsed:.0} s, the time limit, while classifying")
        } else {
            format!(
                "did not finish compiling within {elapsed:.0} s, the time limit: more than {:.1} ms/rule",
                elapsed * 1e3 / 20_000.0
            )
        });
    }
    let Some(line) = result else {
        return Err(format!("the child failed ({status:?})"));
    };
    let f: Vec<f64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    match f.as_slice() {
        [ms, rate, mism] => Ok(PartResult {
            compile_ms_per_rule: *ms,
            rate: *rate,
            mismatches: *mism as usize,
        }),
        _ => Err(format!("cannot read the child's result `{line}`")),
    }
}

// ---------------------------------------------------------------------------

fn main() -> ExitCode {
    let started = Instant::now();
    let n = env_usize("MXBENCH_N", 1_000_000).max(1000);
    let subset = env_usize("MXBENCH_SUBSET", 100_000).min(n);
    let cap = Duration::from_secs(env_usize("MXBENCH_SLOW_CAP_S", 20) as u64);
    let runs = env_usize("MXBENCH_RUNS", 1);
    let only_classify = std::env::var("MXBENCH_ONLY").is_ok_and(|v| v == "classify");
    match std::env::var("MXBENCH_PART").as_deref() {
        Ok("20k-light") => return run_20k(Mix::Light, n, cap, runs),
        Ok("20k-heavy") => return run_20k(Mix::Heavy, n, cap, runs),
        _ => {}
    }

    for f in FILLER {
        for w in RULE_WORDS {
            assert!(
                !f.to_ascii_lowercase().contains(w),
                "filler `{f}` contains rule word `{w}`"
            );
        }
    }

    println!(
        "mxrules benchmark (issue 7): {} bounces per traffic set, slow baselines on the first {}, seeded",
        thousands(n as u64),
        thousands(subset as u64)
    );
    println!(
        "machine: {} CPUs available; everything below runs on one thread unless said",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let tmp = std::env::temp_dir().join(format!("mxbench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&tmp);

    let mut rows: Vec<Row> = Vec::new();
    let mut total_mismatches = 0usize;
    let mut results: Vec<MixResult> = Vec::new();
    let mut e2e_inputs: Option<(PathBuf, PathBuf, PathBuf, usize)> = None;

    // Both rule sets are built before any traffic exists, so that the
    // resident memory before and after compiling is the tables' own.
    let mut sets2k = Vec::new();
    for mix in [Mix::Light, Mix::Heavy] {
        println!();
        println!(
            "=== {} mix, 2,200 rules: 200 MX scopes x 10 + 200 global: building ===",
            mix.name()
        );
        let g = generate_rules(mix, 200, 10, 200, 0x5EED_0007 + mix as u64);
        let b = match build(&g) {
            Ok(b) => b,
            Err(e) => {
                println!("the generated rules do not build: {e}");
                return ExitCode::FAILURE;
            }
        };
        print_build(&g, &b);
        sets2k.push((mix, g, b));
    }
    let only_mix = std::env::var("MXBENCH_MIX").ok();
    for (mix, g, b) in sets2k {
        if only_mix.as_deref().is_some_and(|m| m != mix.name()) {
            continue;
        }
        println!();
        println!(
            "=== {} mix, 2,200 rules: analysis and classification ===",
            mix.name()
        );
        if !env_flag("MXBENCH_SKIP_ANALYSIS") && !only_classify {
            let t = Instant::now();
            let report = mxrules::check::analysis::analyse(
                &b.rules,
                &mxrules::check::analysis::Options::default(),
            );
            println!(
                "analysis (analysis::analyse): {:.2} s; {} pairs compared ({} told apart by prefix), {} findings, {} undecided",
                t.elapsed().as_secs_f64(),
                thousands(report.stats.pairs as u64),
                thousands(report.stats.pairs_skipped_by_prefix as u64),
                thousands(report.findings.len() as u64),
                report.stats.undecided
            );
        }

        // Traffic; the heavy mix's is also written out for the end-to-end run.
        let want_e2e = mix == Mix::Heavy && !env_flag("MXBENCH_SKIP_E2E") && !only_classify;
        let traffic = if want_e2e {
            let jsonl = tmp.join("bounces.jsonl");
            let mxc = tmp.join("rules.mxc");
            let f = std::fs::File::create(&jsonl)
                .map(|f| std::io::BufWriter::with_capacity(1 << 20, f));
            match f {
                Ok(mut w) => {
                    let t = generate_traffic(&g, n, 0xB0_0000 + mix as u64, Some(&mut w));
                    let _ = w.flush();
                    drop(w);
                    let _ = std::fs::write(&mxc, &b.artifact);
                    // The first tenth, to see whether memory grows with the input.
                    let small = tmp.join("bounces-small.jsonl");
                    let tenth = (n / 10).max(1);
                    if let Ok(text) = std::fs::read_to_string(&jsonl) {
                        let end = text
                            .match_indices('\n')
                            .nth(tenth - 1)
                            .map_or(text.len(), |(i, _)| i + 1);
                        let _ = std::fs::write(&small, &text[..end]);
                    }
                    e2e_inputs = Some((mxc, jsonl, small, tenth));
                    t
                }
                Err(e) => {
                    println!("cannot write {}: {e}; no end-to-end run", jsonl.display());
                    generate_traffic(&g, n, 0xB0_0000 + mix as u64, None)
                }
            }
        } else {
            generate_traffic(&g, n, 0xB0_0000 + mix as u64, None)
        };
        print_traffic(&traffic);
        let replies = &traffic.replies;

        let by_location: HashMap<String, u32> = b
            .rules
            .rules
            .iter()
            .map(|r| (r.location(), r.id as u32))
            .collect();

        if only_classify {
            for _ in 0..runs.max(1) * 3 {
                let r = run_classifier(replies, 1, &b.classifier, &by_location);
                println!("(a) {}: {}", mix.name(), rate_str(r.rate()));
            }
            continue;
        }

        let select = Select::new(&b.rules);
        let t = Instant::now();
        let naive = Naive::new(&b.rules, &select);
        let naive_build = t.elapsed();
        let t = Instant::now();
        let sets = Sets::new(&b.rules, &select);
        let sets_build = t.elapsed();
        println!(
            "baselines built: {} Regex in {:.0} ms, {} RegexSet in {:.0} ms",
            thousands(b.rules.rules.len() as u64),
            naive_build.as_secs_f64() * 1e3,
            sets.scopes.len(),
            sets_build.as_secs_f64() * 1e3
        );

        let aligned = AlignedBytes::new(&b.artifact);
        let loaded = Classifier::from_tables(
            artifact::load(aligned.as_slice()).expect("the artifact loads"),
        );

        let mut engines: Vec<EngineRun> = Vec::new();
        engines.push(run_classifier(replies, runs, &b.classifier, &by_location));
        let mut on_subset = run_classifier(&replies[..subset], 1, &b.classifier, &by_location);
        on_subset.name = String::from("(a) the same, on the baselines' subset");
        on_subset.note = format!("first {} replies", thousands(subset as u64));
        engines.push(on_subset);
        engines.push(run_slow(
            "(a') tables: Classifier::decide",
            replies,
            subset,
            cap,
            |x| tables_core(&b.classifier, x),
        ));
        engines.push(run_slow(
            "(a'') tables loaded from the artifact",
            replies,
            subset,
            cap,
            |x| tables_core(&loaded, x),
        ));
        engines.push(run_slow(
            "(b) naive: Regex::is_match rule by rule",
            replies,
            subset,
            cap,
            |x| naive.classify(x),
        ));
        engines.push(run_slow(
            "(c) RegexSet per scope",
            replies,
            subset,
            cap,
            |x| sets.classify(x),
        ));
        let mut hits = 0u32;
        let mut mem = run_fast(
            "(d) memchr(0xFF) over the reply bytes",
            replies,
            runs,
            |x| {
                let found = memchr::memchr(0xFF, x.reply.text.as_bytes()).is_some();
                hits += u32::from(found);
                u32::from(found)
            },
        );
        black_box(hits);
        mem.answers.clear();
        engines.push(mem);

        let matched = engines[0].answers.iter().filter(|&&a| a != NONE).count();
        println!(
            "matched by some rule: {:.1}% ({} of {})",
            100.0 * matched as f64 / replies.len() as f64,
            thousands(matched as u64),
            thousands(replies.len() as u64)
        );
        let reference = 4;
        let mut mism = Vec::new();
        for i in [0usize, 1, 2, 3, 5] {
            let (c, shown) = mismatches(&engines[i], &engines[reference], replies, &b.rules);
            total_mismatches += c;
            mism.push((i, c));
            for s in shown {
                println!("MISMATCH\n{s}");
            }
        }
        print_engines(&engines, "(b) naive", &engines[0], &mism);
        let (a, a_sub, core, naive_r, set_r, mem_r) = (
            engines[0].rate(),
            engines[1].rate(),
            engines[2].rate(),
            engines[4].rate(),
            engines[5].rate(),
            engines[6].rate(),
        );
        println!(
            "  ratios on the same replies (the subset): (a)/(b) naive {:.2}x, (a)/(c) RegexSet {:.1}x; (a')/(b) {:.2}x, (a')/(c) {:.1}x; all replies: (a)/(d) memchr {:.3}x",
            a_sub / naive_r,
            a_sub / set_r,
            core / naive_r,
            core / set_r,
            a / mem_r,
        );
        results.push(MixResult {
            mix,
            classify_rate: a,
            classify_sub_rate: a_sub,
            core_rate: core,
            naive_rate: naive_r,
            set_rate: set_r,
            compile_ms_per_rule: b.compile.as_secs_f64() * 1e3 / g.rules as f64,
            compile_total: b.compile,
            artifact_bytes: b.artifact.len(),
            load: b.load_best,
        });
        drop(engines);
        drop(traffic);
    }
    if only_classify {
        let _ = std::fs::remove_dir_all(&tmp);
        return ExitCode::SUCCESS;
    }

    // End to end, on the heavy mix's traffic.
    let mut e2e_rows: Option<(E2e, Option<E2e>)> = None;
    if let Some((mxc, jsonl, small, tenth)) = &e2e_inputs {
        println!();
        println!(
            "=== end to end: mxrules classify --rules rules.mxc bounces.jsonl > /dev/null (heavy mix) ==="
        );
        match mxrules_binary() {
            None => {
                println!("the mxrules binary is not next to the bench (…/release/mxrules): skipped")
            }
            Some(bin) => {
                let full = e2e(&bin, mxc, jsonl, n);
                let part = e2e(&bin, mxc, small, *tenth);
                for r in [&full, &part] {
                    println!(
                        "  {} records: {:.2} s, {}, peak RSS {} ({}){}",
                        thousands(r.records as u64),
                        r.elapsed.as_secs_f64(),
                        rate_str(r.records as f64 / r.elapsed.as_secs_f64()),
                        kib_str(r.peak_kib),
                        bin.display(),
                        if r.ok {
                            String::new()
                        } else {
                            format!("; FAILED: {}", r.stderr)
                        }
                    );
                }
                println!("  its summary: {}", full.stderr);
                e2e_rows = Some((full, Some(part)));
            }
        }
    }

    // Growth: 20,000 rules, each mix in a child process (this same binary)
    // with a time limit, so that a slow compilation cannot push the whole
    // run past its budget.
    let mut growth: Vec<(Mix, Result<PartResult, String>)> = Vec::new();
    if !env_flag("MXBENCH_SKIP_20K") {
        let budget = Duration::from_secs(env_usize("MXBENCH_BUDGET_S", 270) as u64);
        let mixes = [Mix::Light, Mix::Heavy];
        for (k, &mix) in mixes.iter().enumerate() {
            println!();
            println!(
                "=== {} mix, 20,000 rules: 2,000 MX scopes x 9 + 2,000 global (child process) ===",
                mix.name()
            );
            let left = budget.saturating_sub(started.elapsed());
            let limit = (left / (mixes.len() - k) as u32).max(Duration::from_secs(20));
            println!("time limit for this part: {:.0} s", limit.as_secs_f64());
            let r = run_part(mix, limit);
            match &r {
                Ok(p) => {
                    total_mismatches += p.mismatches;
                    if let Some(small) = results.iter().find(|r| r.mix == mix) {
                        println!(
                            "  vs 2,200 rules: compile {:.3} -> {:.3} ms/rule ({:.2}x), classify {} -> {} ({:.2}x)",
                            small.compile_ms_per_rule,
                            p.compile_ms_per_rule,
                            p.compile_ms_per_rule / small.compile_ms_per_rule,
                            rate_str(small.classify_rate),
                            rate_str(p.rate),
                            p.rate / small.classify_rate,
                        );
                    }
                }
                Err(e) => println!("  {e}"),
            }
            growth.push((mix, r));
        }
    }

    // The table.
    println!();
    row(
        &mut rows,
        "mismatches, every engine vs naive (all runs)",
        thousands(total_mismatches as u64),
        "0",
        Some(total_mismatches == 0),
    );
    for r in &results {
        let m = r.mix.name();
        let floor = if r.mix == Mix::Heavy { 3.0 } else { 5.0 };
        let ratio = r.classify_sub_rate / r.naive_rate;
        row(
            &mut rows,
            format!("{m}: classify vs naive, same replies (floor)"),
            format!("{ratio:.2}x"),
            format!(">= {floor:.0}x"),
            Some(ratio >= floor),
        );
        row(
            &mut rows,
            format!("{m}: classify rate (goal)"),
            rate_str(r.classify_rate),
            ">= 1 M/s",
            Some(r.classify_rate >= 1e6),
        );
        row(
            &mut rows,
            format!("{m}: tables core, no Classification (info)"),
            format!(
                "{} = {:.2}x naive",
                rate_str(r.core_rate),
                r.core_rate / r.naive_rate
            ),
            "-",
            None,
        );
        let sr = r.classify_sub_rate / r.set_rate;
        row(
            &mut rows,
            format!("{m}: classify vs RegexSet, same replies"),
            format!("{sr:.1}x"),
            ">= 50x",
            Some(sr >= 50.0),
        );
        row(
            &mut rows,
            format!("{m}: compile per rule"),
            format!("{:.3} ms", r.compile_ms_per_rule),
            "<= 0.5 ms",
            Some(r.compile_ms_per_rule <= 0.5),
        );
        row(
            &mut rows,
            format!("{m}: compile 2,200 rules"),
            format!("{:.2} s", r.compile_total.as_secs_f64()),
            "< 1.5 s",
            Some(r.compile_total.as_secs_f64() < 1.5),
        );
        row(
            &mut rows,
            format!("{m}: artifact size"),
            format!("{:.2} MiB", mib(r.artifact_bytes as f64)),
            "<= 64 MiB",
            Some(r.artifact_bytes <= 64 << 20),
        );
        row(
            &mut rows,
            format!("{m}: validated load"),
            format!("{:.2} ms", r.load.as_secs_f64() * 1e3),
            "<= 20 ms",
            Some(r.load.as_secs_f64() <= 0.020),
        );
    }
    match &e2e_rows {
        Some((full, part)) => {
            let rate = full.records as f64 / full.elapsed.as_secs_f64();
            row(
                &mut rows,
                "end to end: mxrules classify (heavy)",
                if full.ok {
                    rate_str(rate)
                } else {
                    String::from("failed")
                },
                ">= 500 k/s",
                Some(full.ok && rate >= 5e5),
            );
            if let (Some(p), Some(fk)) = (part, full.peak_kib)
                && let Some(pk) = p.peak_kib
            {
                let flat = fk as f64 <= pk as f64 * 1.25 + 8192.0;
                row(
                    &mut rows,
                    "end to end: peak RSS, 1/10 vs all input",
                    format!("{} vs {}", kib_str(Some(pk)), kib_str(Some(fk))),
                    "flat (<= 1.25x + 8 MiB)",
                    Some(flat),
                );
            }
        }
        None => row(
            &mut rows,
            "end to end: mxrules classify",
            "skipped",
            ">= 500 k/s",
            None,
        ),
    }
    for (mix, r) in &growth {
        let m = mix.name();
        let small = results.iter().find(|x| x.mix == *mix);
        match (r, small) {
            (Ok(p), Some(small)) => {
                let cg = p.compile_ms_per_rule / small.compile_ms_per_rule;
                let speed = p.rate / small.classify_rate;
                row(
                    &mut rows,
                    format!("{m}: 20k compile per rule vs 2.2k"),
                    format!("{:.3} ms = {cg:.2}x", p.compile_ms_per_rule),
                    "roughly linear (<= 2x)",
                    Some(cg <= 2.0),
                );
                row(
                    &mut rows,
                    format!("{m}: 20k classify speed vs 2.2k"),
                    format!("{} = {speed:.2}x", rate_str(p.rate)),
                    ">= 0.5x",
                    Some(speed >= 0.5),
                );
            }
            (Err(e), _) => {
                let short = match e.split_once("more than ") {
                    Some((_, bound)) => format!("> {bound} (timed out)"),
                    None => String::from("failed"),
                };
                row(
                    &mut rows,
                    format!("{m}: 20k compile per rule vs 2.2k"),
                    short,
                    "roughly linear (<= 2x)",
                    Some(false),
                );
                row(
                    &mut rows,
                    format!("{m}: 20k classify speed vs 2.2k"),
                    "not measured",
                    ">= 0.5x",
                    Some(false),
                );
            }
            _ => {}
        }
    }
    let hwm = proc_kib(None, "VmHWM");
    row(
        &mut rows,
        "peak memory of this bench (VmHWM, incl. traffic)",
        kib_str(hwm),
        "-",
        None,
    );
    let total = started.elapsed();
    row(
        &mut rows,
        "whole benchmark run",
        format!("{:.0} s", total.as_secs_f64()),
        "< 300 s",
        Some(total.as_secs_f64() < 300.0),
    );

    println!("=== summary ===");
    let w = rows.iter().map(|r| r.figure.len()).max().unwrap_or(10);
    let wm = rows.iter().map(|r| r.measured.len()).max().unwrap_or(10);
    let wt = rows.iter().map(|r| r.target.len()).max().unwrap_or(10);
    println!(
        "{:<w$}  {:>wm$}  {:<wt$}  result",
        "figure", "measured", "target"
    );
    for r in &rows {
        let p = match r.pass {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "",
        };
        println!(
            "{:<w$}  {:>wm$}  {:<wt$}  {p}",
            r.figure, r.measured, r.target
        );
    }
    if env_flag("MXBENCH_KEEP_TMP") {
        println!("kept {} (MXBENCH_KEEP_TMP)", tmp.display());
    } else {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    if total_mismatches > 0 {
        println!("engines disagree on {total_mismatches} replies");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
