//! How long static analysis takes: on the shipped rules, and on a generated
//! set of 5,000 rules in 200 scopes with the shapes real bounce rules have.
//!
//! Run with `cargo bench --bench analysis`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark stops on what it cannot measure

use std::fmt::Write as _;
use std::time::Instant;

use mxrules::check::analysis::{Options, analyse};
use mxrules::syntax::load::Parsed;

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
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "mailbox",
    "unavailable",
    "user",
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
    "address",
    "invalid",
    "domain",
    "listed",
    "reputation",
    "temporarily",
    "deferred",
    "rate",
    "limit",
    "message",
    "content",
    "virus",
    "relay",
    "denied",
    "access",
];

const CODES: &[(&str, &str)] = &[
    ("550", "5.1.1"),
    ("550", "5.7.1"),
    ("552", "5.2.2"),
    ("554", "5.7.1"),
    ("421", "4.7.0"),
    ("451", "4.3.0"),
    ("550", "5.2.1"),
    ("553", "5.1.3"),
];

/// One rule in one of the shapes real rules have.
fn rule(rng: &mut Rng, n: usize) -> String {
    let (code, status) = CODES[rng.below(CODES.len())];
    let (w1, w2) = (rng.pick(WORDS), rng.pick(WORDS));
    let regex = match rng.below(6) {
        0 => format!("^{code} {} {w1} {w2} {n}", status.replace('.', "\\.")),
        1 => format!("{w1} {w2} r{n}"),
        2 => format!("(?i){w1} {w2} r{n}"),
        3 => format!("^{code} (?:{w1}|{w2}) r{n}"),
        4 => format!("^{code}.+{w1} r{n}"),
        _ => format!("(?i){w1}.*{w2} r{n}"),
    };
    let class = &status[..1];
    let target = match class {
        "4" => "4.2.0",
        _ => status,
    };
    format!("    /{regex}/ -> {target}\n")
}

fn generated(scopes: usize, rules_per_scope: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut src = String::from(
        "policy {\n    5.1.1 -> quarantine\n    5.*.* -> hard\n    4.*.* -> soft\n}\n\n",
    );
    let mut n = 0;
    for s in 0..scopes {
        let _ = writeln!(src, "mx ends with \".isp{s}.example\" {{");
        for _ in 0..rules_per_scope {
            src.push_str(&rule(&mut rng, n));
            n += 1;
        }
        src.push_str("}\n\n");
    }
    src
}

fn run(name: &str, parsed: &Parsed) {
    let checked = mxrules::check::check(parsed);
    let Some(rules) = checked.rules else {
        println!("{name}: the rules do not check");
        return;
    };
    let started = Instant::now();
    let report = analyse(&rules, &Options::default());
    let elapsed = started.elapsed();
    println!(
        "{name}: {} rules, {} pairs compared ({} told apart by prefix), {} undecided, {} findings, {:.3} s",
        report.stats.rules,
        report.stats.pairs,
        report.stats.pairs_skipped_by_prefix,
        report.stats.undecided,
        report.findings.len(),
        elapsed.as_secs_f64()
    );
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    match mxrules::syntax::load::parse_paths(&[root.join("rules.d")]) {
        Ok(parsed) => run("rules.d", &parsed),
        Err(e) => println!("rules.d: {e}"),
    }
    let scopes: usize = std::env::var("MXBENCH_SCOPES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let text = generated(scopes, 25, 7);
    if let Ok(path) = std::env::var("MXBENCH_WRITE") {
        let _ = std::fs::write(path, &text);
    }
    let mut parsed = Parsed::default();
    parsed.add_text("generated.rules", &text);
    run(&format!("generated ({scopes} scopes x 25 rules)"), &parsed);
}
