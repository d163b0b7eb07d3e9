//! A plain reference interpreter of the semantics of DESIGN.md, and the
//! loaders the differential, corpus and field-manual tests share.
//!
//! The interpreter knows nothing of the compiled tables: it selects the
//! scopes of a bounce from the rule set's [`ScopeKey`]s itself and tries each
//! rule of a scope in source order with an ordinary regex
//! (`regex::bytes`, byte-oriented, no Unicode classes). Only normalization
//! ([`Normalized::new`]) and the policy lookup are shared with the crate.
//!
//! 1. Normalize the bounce.
//! 2. Scopes, each once: the exact host, then the label-aligned suffixes of
//!    the host from the longest to the shortest, then the recipient domain,
//!    then the global scope.
//! 3. In each scope, the first rule in source order whose `initial`
//!    condition holds and whose regex matches anywhere wins.
//! 4. No rule: the policy decides from the initial status (`hard` when there
//!    is none) and the result is flagged unmatched.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mxrules::core::bounce::Bounce;

use mxrules::core::model::{Rule, RuleSet, ScopeKey};
use mxrules::core::status::{Category, Status, Verdict};
use mxrules::runtime::classify::{Classification, Normalized};
use regex::bytes::{Regex, RegexBuilder};

/// The reference interpreter: a rule set and one regex per rule.
pub struct Reference {
    rules: RuleSet,
    /// `regexes[i]` is the regex of rule `i`.
    regexes: Vec<Regex>,
}

impl Reference {
    /// Builds every rule's regex once.
    pub fn new(rules: RuleSet) -> Reference {
        let regexes = rules
            .rules
            .iter()
            .map(|r| {
                RegexBuilder::new(&r.regex)
                    .unicode(false)
                    .case_insensitive(r.case_insensitive)
                    .size_limit(64 << 20)
                    .dfa_size_limit(64 << 20)
                    .build()
                    .unwrap_or_else(|e| panic!("rule {} does not build: {e}", r.location()))
            })
            .collect();
        Reference { rules, regexes }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The scopes tried for a normalized MX host and recipient domain, in
    /// order, each once.
    pub fn scopes_for(&self, mx: Option<&str>, rcpt_domain: Option<&str>) -> Vec<usize> {
        let scopes = &self.rules.scopes;
        let first_with =
            |want: &dyn Fn(&ScopeKey) -> bool| scopes.iter().position(|s| s.keys.iter().any(want));
        let mut order: Vec<usize> = Vec::new();
        let mut push = |s: usize| {
            if !order.contains(&s) {
                order.push(s);
            }
        };
        if let Some(host) = mx {
            if let Some(s) = first_with(&|k| matches!(k, ScopeKey::MxExact(h) if h == host)) {
                push(s);
            }
            // Every suffix key the host ends with on a label boundary,
            // longest first (two different suffixes of one host never have
            // the same length).
            let mut found: Vec<(usize, usize)> = Vec::new();
            for (i, scope) in scopes.iter().enumerate() {
                for key in &scope.keys {
                    if let ScopeKey::MxSuffix(suffix) = key
                        && (host == suffix
                            || host
                                .strip_suffix(suffix.as_str())
                                .is_some_and(|head| head.ends_with('.')))
                    {
                        found.push((suffix.len(), i));
                    }
                }
            }
            found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            for (_, i) in found {
                push(i);
            }
        }
        if let Some(domain) = rcpt_domain
            && let Some(s) = first_with(&|k| matches!(k, ScopeKey::RcptDomain(d) if d == domain))
        {
            push(s);
        }
        if let Some(s) = first_with(&|k| matches!(k, ScopeKey::Global)) {
            push(s);
        }
        order
    }

    /// True when rule `r` accepts the initial status and its regex matches
    /// `text` anywhere.
    fn fires(
        &self,
        r: usize,
        text: &str,
        initial: Option<Status>,
        reported: Option<Category>,
    ) -> bool {
        let rule = &self.rules.rules[r];
        // Both conditions, spelled out: the status patterns of the `initial`
        // clause and the categories of the `reported` clause.
        let initial_ok = rule.initial.is_empty()
            || initial.is_some_and(|s| rule.initial.iter().any(|p| p.matches(s)));
        let reported_ok =
            rule.reported.is_empty() || reported.is_some_and(|c| rule.reported.contains(&c));
        initial_ok && reported_ok && self.regexes[r].is_match(text.as_bytes())
    }

    /// The first rule of scope `scope`, in source order, that accepts the
    /// initial status and whose regex matches `text`.
    pub fn first_in_scope(
        &self,
        scope: usize,
        text: &str,
        initial: Option<Status>,
        reported: Option<Category>,
    ) -> Option<&Rule> {
        self.rules.scopes[scope]
            .rules
            .iter()
            .find(|&&r| self.fires(r, text, initial, reported))
            .map(|&r| &self.rules.rules[r])
    }

    /// Every rule of scope `scope`, in source order, that accepts the
    /// initial status and whose regex matches `text`: the first one fires,
    /// the others would fire next.
    pub fn all_in_scope(
        &self,
        scope: usize,
        text: &str,
        initial: Option<Status>,
        reported: Option<Category>,
    ) -> Vec<&Rule> {
        self.rules.scopes[scope]
            .rules
            .iter()
            .filter(|&&r| self.fires(r, text, initial, reported))
            .map(|&r| &self.rules.rules[r])
            .collect()
    }

    /// Classifies one bounce.
    pub fn classify(&self, b: &Bounce) -> Classification {
        self.classify_normalized(&Normalized::new(b))
    }

    /// Classifies a bounce already normalized.
    pub fn classify_normalized(&self, n: &Normalized) -> Classification {
        let initial = n.reply.initial;
        for scope in self.scopes_for(n.mx.as_deref(), n.rcpt_domain.as_deref()) {
            if let Some(rule) =
                self.first_in_scope(scope, &n.reply.text, initial, n.reported_category)
            {
                return Classification {
                    status: Some(rule.status),
                    initial_status: initial,
                    verdict: rule
                        .verdict
                        .unwrap_or_else(|| self.rules.policy.verdict(rule.status)),
                    category: rule.category,
                    rule: Some(format!("{}:{}", rule.origin.file, rule.origin.line).into()),
                    scope: Some(self.rules.scopes[rule.scope].name().into()),
                    unmatched: false,
                };
            }
        }
        Classification {
            status: initial,
            initial_status: initial,
            verdict: initial.map_or(Verdict::Hard, |s| self.rules.policy.verdict(s)),
            category: None,
            rule: None,
            scope: None,
            unmatched: true,
        }
    }
}

// ---------------------------------------------------------------------------
// Loaders.

/// The crate's root directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Checks parsed rules, failing the test with every error.
fn checked(parsed: &mxrules::syntax::load::Parsed) -> RuleSet {
    let checked = mxrules::check::check(parsed);
    match checked.rules {
        Some(rules) => rules,
        None => panic!(
            "the rules do not check:\n{}",
            mxrules::diag::render_human(&checked.diagnostics, &parsed.sources, false)
        ),
    }
}

/// The shipped rules of `rules.d/`, named as the command line names them
/// (`rules.d/mail.ru.rules:10`): test binaries run in the crate's root.
pub fn shipped_rules() -> RuleSet {
    assert!(
        Path::new("rules.d").is_dir(),
        "tests must run in the crate's root (cwd is {:?})",
        std::env::current_dir()
    );
    let parsed = mxrules::syntax::load::parse_paths(&[PathBuf::from("rules.d")])
        .unwrap_or_else(|e| panic!("cannot load rules.d: {e}"));
    checked(&parsed)
}

/// Rules from a string, as file `name`.
pub fn rules_from_text(name: &str, text: &str) -> RuleSet {
    let mut parsed = mxrules::syntax::load::Parsed::default();
    parsed.add_text(name, text);
    checked(&parsed)
}

/// The project's corpus files, `tests/corpus/*.yaml`, sorted (empty when the
/// directory does not exist).
pub fn corpus_files() -> Vec<PathBuf> {
    let dir = root().join("tests/corpus");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

/// A corpus file, parsed; the test fails on a file that does not parse.
pub fn read_corpus(path: &Path) -> mxrules::verify::Corpus {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let name = path.display().to_string();
    mxrules::verify::CorpusFile::parse(&name, &text)
        .unwrap_or_else(|e| panic!("{e}"))
        .corpus
}

/// `../shared/corpus`, where the shared corpora live when present.
pub fn shared_corpus() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus"))
}

/// One response of the SMTP field manual.
#[derive(Clone, Debug)]
pub struct FieldResponse {
    /// `550.json`.
    pub file: String,
    /// The provider's id, `google`.
    pub provider: String,
    /// Position of the response in the provider's list in that file.
    pub index: usize,
    /// The manual's `status` label as written (`5.7.1`, `5.7.1-2`, `1`).
    pub label: String,
    /// The status the label names, if it names one: `5.7.1-2` is the
    /// manual's second `5.7.1` reply, `1` names none.
    pub status: Option<Status>,
    pub severity: Option<i64>,
    pub response: String,
}

/// The SMTP field manual: its responses, and each provider's domains.
#[derive(Clone, Debug, Default)]
pub struct FieldManual {
    pub responses: Vec<FieldResponse>,
    pub domains: std::collections::BTreeMap<String, Vec<String>>,
}

impl FieldManual {
    /// `user@<first domain of the provider>`, when it has a domain.
    pub fn rcpt(&self, provider: &str) -> Option<String> {
        self.domains
            .get(provider)
            .and_then(|d| d.first())
            .map(|d| format!("user@{d}"))
    }
}

/// The status a field-manual label names: the part before a `-N`
/// disambiguation suffix, when it parses.
pub fn label_status(label: &str) -> Option<Status> {
    let base = match label.split_once('-') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => label,
    };
    base.trim().parse().ok()
}

/// Reads `../shared/corpus/smtp-field-manual`, or says why it is skipped
/// (visibly, on standard error) and returns `None`.
pub fn field_manual(test: &str) -> Option<FieldManual> {
    let dir = shared_corpus().join("smtp-field-manual");
    let codes = dir.join("codes");
    let Ok(entries) = std::fs::read_dir(&codes) else {
        eprintln!(
            "SKIPPED ({test}): {} is absent; the SMTP field manual is not tested",
            codes.display()
        );
        return None;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let json = |p: &Path| -> serde_json::Value {
        let text = std::fs::read_to_string(p)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let mut manual = FieldManual::default();
    for path in &files {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let v = json(path);
        let providers = v["providers"].as_array().cloned().unwrap_or_default();
        for p in providers {
            let provider = p["id"].as_str().unwrap_or("?").to_string();
            let responses = p["responses"].as_array().cloned().unwrap_or_default();
            for (index, r) in responses.iter().enumerate() {
                let Some(response) = r["response"].as_str() else {
                    continue;
                };
                let label = match &r["status"] {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                manual.responses.push(FieldResponse {
                    file: file.clone(),
                    provider: provider.clone(),
                    index,
                    status: label_status(&label),
                    label,
                    severity: r["severity"].as_i64(),
                    response: response.to_string(),
                });
            }
        }
    }
    let providers = dir.join("EmailProviders.json");
    if providers.is_file() {
        for p in json(&providers).as_array().cloned().unwrap_or_default() {
            let Some(id) = p["id"].as_str() else { continue };
            let domains = p["domains"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            manual.domains.insert(id.to_string(), domains);
        }
    } else {
        eprintln!(
            "note ({test}): {} is absent; responses are classified without a recipient",
            providers.display()
        );
    }
    Some(manual)
}

/// A one-line summary of a classification for tables and failure messages.
pub fn outcome(c: &Classification) -> String {
    let opt = |s: Option<Status>| s.map_or_else(|| String::from("none"), |s| s.to_string());
    format!(
        "{} {} {}",
        opt(c.status),
        c.verdict,
        c.rule.as_deref().unwrap_or("unmatched")
    )
}
