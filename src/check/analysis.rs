//! Static analysis of a rule set, decided on the automata.
//!
//! Rules are regular languages over reply bytes ("the replies a rule matches
//! somewhere"), so questions about them are questions about DFAs:
//!
//! - **shadowed rule** (W005): every reply the rule matches, under every
//!   initial status it accepts, is matched by earlier rules of its scope that
//!   accept that status. Decided by language inclusion: a breadth-first walk
//!   of the product of the rule's DFA and the DFA of the union of the earlier
//!   rules, looking for a reply the first matches and the second never does.
//!   When none exists the rule can never fire; the covering rules are named.
//! - **conflicting overlap** (W006): two rules of one scope, accepting a
//!   common initial status, match a common reply with different outcomes
//!   (status or verdict). The walk of the product of their DFAs finds the
//!   shortest such reply; the earlier rule wins it. An earlier rule under
//!   an `initial` or `reported` condition before a later rule with none is
//!   an exception written on purpose (a specific arm before the general
//!   one) and is not reported.
//! - **duplicate rule** (W007): the same regex, flags and condition as an
//!   earlier rule of the scope.
//! - **dead regex** (W008): the regex matches no reply at all.
//! - **example taken** (W009): an example that classifies differently from
//!   what its rule says, because an earlier rule (or a more specific scope)
//!   takes it.
//! - **cross-scope override** (I001, shown with `--explain-overrides`): a
//!   rule of a specific scope and a global rule match a common reply with
//!   different verdicts; the specific rule wins.
//!
//! Initial conditions are decided exactly: the statuses are split into the
//! finitely many classes that the patterns of a scope can tell apart, and each
//! class is checked. A product too large to walk within the state budget is
//! reported as undecided (I002) instead of guessed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use regex_automata::Anchored;
use regex_automata::dfa::{Automaton, dense};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;

use crate::core::bounce::Bounce;

use crate::compile::pattern;
use crate::core::model::{Rule, RuleId, RuleSet, ScopeKey};
use crate::core::status::{Category, Part, Status, StatusPattern};
use crate::diag::{Code, Diagnostic};
use crate::runtime::classify::Classifier;

/// Analysis settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// The most product states one question may visit before it is
    /// reported as undecided.
    pub state_budget: usize,
    /// The most bytes one DFA built for analysis may take.
    pub dfa_size_limit: usize,
    /// Also report cross-scope overrides (I001).
    pub explain_overrides: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            state_budget: 200_000,
            dfa_size_limit: 4 * 1024 * 1024,
            explain_overrides: false,
        }
    }
}

/// What analysis found, as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    Shadowed {
        rule: RuleId,
        covering: Vec<RuleId>,
    },
    Conflict {
        winner: RuleId,
        loser: RuleId,
        witness: Vec<u8>,
        initial: Cond,
    },
    Duplicate {
        rule: RuleId,
        first: RuleId,
    },
    Dead {
        rule: RuleId,
    },
    ExampleTaken {
        rule: RuleId,
        example: usize,
        taken_by: Option<RuleId>,
    },
    Override {
        specific: RuleId,
        global: RuleId,
        witness: Vec<u8>,
        initial: Cond,
    },
    Undecided {
        rule: RuleId,
        other: Option<RuleId>,
        question: &'static str,
    },
}

/// Figures about one analysis run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Stats {
    pub rules: usize,
    pub pairs: usize,
    pub pairs_skipped_by_prefix: usize,
    pub undecided: usize,
    #[serde(serialize_with = "ser_ms")]
    pub elapsed: Duration,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// The findings of one run and their diagnostics.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub diagnostics: Vec<Diagnostic>,
    pub stats: Stats,
}

type Dfa = dense::DFA<Vec<u32>>;

/// The most earlier rules a shadowing question combines into one DFA; more
/// is reported as undecided rather than risking a blow-up.
const MAX_UNION: usize = 16;

fn build(patterns: &[String], limit: usize) -> Option<Dfa> {
    crate::compile::build(patterns, limit).ok()
}

/// A DFA's reachable states, renumbered densely, with one transition per
/// byte class: the form the product walks run on.
struct Graph {
    classes: [u8; 256],
    alphabet: usize,
    /// `trans[state * alphabet + class]`.
    trans: Vec<u32>,
    /// The state is a match state (a match ended just before its byte).
    matched: Vec<bool>,
    /// The end of input taken from this state is a match.
    eoi: Vec<bool>,
    /// No match can ever come from this state.
    dead: Vec<bool>,
    start: u32,
}

impl Graph {
    fn new(dfa: &Dfa, max_states: usize) -> Option<Graph> {
        let start = dfa
            .start_state(&start::Config::new().anchored(Anchored::No))
            .ok()?;
        let mut classes = [0u8; 256];
        let mut reps: Vec<u8> = Vec::new();
        for b in 0..=255u8 {
            let c = dfa.byte_classes().get(b);
            classes[usize::from(b)] = c;
            if usize::from(c) == reps.len() {
                reps.push(b);
            }
        }
        let alphabet = reps.len();
        let mut index: HashMap<StateID, u32> = HashMap::from([(start, 0)]);
        let mut order = vec![start];
        let mut trans = Vec::new();
        let mut i = 0;
        while i < order.len() {
            let s = order[i];
            for &b in &reps {
                let n = dfa.next_state(s, b);
                let next = match index.get(&n) {
                    Some(&k) => k,
                    None => {
                        if order.len() >= max_states {
                            return None;
                        }
                        let k = u32::try_from(order.len()).ok()?;
                        index.insert(n, k);
                        order.push(n);
                        k
                    }
                };
                trans.push(next);
            }
            i += 1;
        }
        Some(Graph {
            classes,
            alphabet,
            trans,
            matched: order.iter().map(|&s| dfa.is_match_state(s)).collect(),
            eoi: order
                .iter()
                .map(|&s| dfa.is_match_state(dfa.next_eoi_state(s)))
                .collect(),
            dead: order.iter().map(|&s| dfa.is_dead_state(s)).collect(),
            start: 0,
        })
    }

    fn len(&self) -> usize {
        self.matched.len()
    }

    /// A graph that matches nothing.
    fn never() -> Graph {
        Graph {
            classes: [0; 256],
            alphabet: 1,
            trans: vec![0],
            matched: vec![false],
            eoi: vec![false],
            dead: vec![true],
            start: 0,
        }
    }

    /// True when the regex matches somewhere in `hay`.
    fn accepts(&self, hay: &[u8]) -> bool {
        let mut s = self.start;
        for &b in hay {
            s = self.next(s, self.classes[usize::from(b)]);
            if self.matched[s as usize] {
                return true;
            }
        }
        self.eoi[s as usize]
    }

    fn next(&self, s: u32, class: u8) -> u32 {
        self.trans[s as usize * self.alphabet + usize::from(class)]
    }
}

/// Bytes in the order witnesses should prefer them: letters, digits,
/// space, punctuation, then the rest.
fn byte_preference() -> Vec<u8> {
    let mut order: Vec<u8> = Vec::with_capacity(256);
    order.extend(b'a'..=b'z');
    order.extend(b'A'..=b'Z');
    order.extend(b'0'..=b'9');
    order.push(b' ');
    order.extend((0x21u8..0x7f).filter(|c| !c.is_ascii_alphanumeric()));
    order.extend((0u8..=255).filter(|c| !(0x20..0x7f).contains(c)));
    order
}

/// What a product walk is looking for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Goal {
    /// A reply both match.
    Both,
    /// A reply the first matches and the second does not.
    FirstOnly,
}

enum Walk {
    Found(Vec<u8>),
    None,
    TooBig,
}

/// Breadth-first walk of the product of two DFAs, with "has matched" flags
/// (a rule matches if its regex matches anywhere). The first reply found
/// reaching the goal is a shortest one.
fn walk(a: &Graph, b: &Graph, goal: Goal, budget: usize) -> Walk {
    let (na, nb) = (a.len(), b.len());
    let Some(size) = na.checked_mul(nb).and_then(|n| n.checked_mul(4)) else {
        return Walk::TooBig;
    };
    if size > budget.saturating_mul(64) {
        return Walk::TooBig;
    }
    // One readable byte per pair of classes.
    let mut seen = vec![false; a.alphabet * b.alphabet];
    let mut bytes: Vec<(u8, u8, u8)> = Vec::new();
    for byte in byte_preference() {
        let (ca, cb) = (a.classes[usize::from(byte)], b.classes[usize::from(byte)]);
        let k = usize::from(ca) * b.alphabet + usize::from(cb);
        if !seen[k] {
            seen[k] = true;
            bytes.push((byte, ca, cb));
        }
    }
    let node = |x: u32, y: u32, ma: bool, mb: bool| {
        ((x as usize * nb + y as usize) << 2) | (usize::from(ma) << 1) | usize::from(mb)
    };
    const UNSEEN: u32 = u32::MAX;
    let mut parent = vec![UNSEEN; size];
    let mut via = vec![0u8; size];
    let mut queue = VecDeque::new();
    let start = node(a.start, b.start, false, false);
    parent[start] = start as u32;
    queue.push_back(start);
    let mut visited = 1usize;
    while let Some(n) = queue.pop_front() {
        let (ma, mb) = (n & 2 != 0, n & 1 != 0);
        let xy = n >> 2;
        let (x, y) = ((xy / nb) as u32, (xy % nb) as u32);
        let ea = ma || a.eoi[x as usize];
        let eb = mb || b.eoi[y as usize];
        let reached = match goal {
            Goal::Both => ea && eb,
            Goal::FirstOnly => ea && !eb,
        };
        if reached {
            let mut out = Vec::new();
            let mut cur = n;
            while parent[cur] as usize != cur {
                out.push(via[cur]);
                cur = parent[cur] as usize;
            }
            out.reverse();
            return Walk::Found(out);
        }
        for &(byte, ca, cb) in &bytes {
            let nx = a.next(x, ca);
            let ny = b.next(y, cb);
            let na_ = ma || a.matched[nx as usize];
            let nb_ = mb || b.matched[ny as usize];
            if goal == Goal::FirstOnly && nb_ {
                continue; // the second matched: no reply through here counts
            }
            if (!na_ && a.dead[nx as usize]) || (goal == Goal::Both && !nb_ && b.dead[ny as usize])
            {
                continue;
            }
            let m = node(nx, ny, na_, nb_);
            if parent[m] != UNSEEN {
                continue;
            }
            parent[m] = n as u32;
            via[m] = byte;
            visited += 1;
            if visited > budget {
                return Walk::TooBig;
            }
            queue.push_back(m);
        }
    }
    Walk::None
}

/// True when the DFA matches some input.
fn matches_something(g: &Graph) -> bool {
    // Every state of a graph is reachable, so one matching state suffices.
    g.matched.iter().zip(&g.eoi).any(|(m, e)| *m || *e)
}

/// The literal text a regex must start with, when it is anchored with `^`
/// and begins with plain characters; lowercased when case-insensitive.
fn anchored_prefix(rule: &Rule) -> Option<String> {
    let body = rule.regex.strip_prefix('^')?;
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() => out.push(e),
                _ => break,
            },
            '.' | '[' | '(' | ')' | '|' | '?' | '*' | '+' | '{' | '}' | '^' | '$' => break,
            c => {
                if matches!(chars.peek(), Some('?' | '*' | '{')) {
                    break; // the last character is optional or repeated
                }
                out.push(c);
            }
        }
    }
    if rule.regex.contains('|') {
        return None; // a top-level alternation could start differently
    }
    if out.is_empty() {
        return None;
    }
    Some(if rule.case_insensitive {
        out.to_ascii_lowercase()
    } else {
        out
    })
}

/// True when `earlier` is an exception to `later` written on purpose: it
/// sits under an `initial` or `reported` condition and `later` has none,
/// like a specific match arm before the general one. Their overlap is the
/// point of the exception, not a conflict.
fn is_exception(earlier: &Rule, later: &Rule) -> bool {
    let conditional = |r: &Rule| !r.initial.is_empty() || !r.reported.is_empty();
    conditional(earlier) && !conditional(later)
}

/// True when two anchored prefixes prove the rules never match one reply.
fn prefixes_disjoint(a: &Rule, b: &Rule) -> bool {
    match (anchored_prefix(a), anchored_prefix(b)) {
        (Some(pa), Some(pb)) => {
            let (pa, pb) = if a.case_insensitive || b.case_insensitive {
                (pa.to_ascii_lowercase(), pb.to_ascii_lowercase())
            } else {
                (pa, pb)
            };
            !(pa.starts_with(&pb) || pb.starts_with(&pa))
        }
        _ => false,
    }
}

/// The conditions a bounce can arrive with: its initial status and the
/// category its MTA reported.
pub type Cond = (Option<Status>, Option<Category>);

/// Conditions that stand for every class of conditions the rules can tell
/// apart: statuses from the patterns (plus "no status"), crossed with "no
/// category" and each category a `reported` clause names.
fn representatives(patterns: &[&StatusPattern], categories: &[Category]) -> Vec<Cond> {
    let statuses = representative_statuses(patterns);
    let mut cats: Vec<Option<Category>> = vec![None];
    for c in categories {
        if !cats.contains(&Some(*c)) {
            cats.push(Some(*c));
        }
    }
    let mut out = Vec::with_capacity(statuses.len() * cats.len());
    for s in &statuses {
        for c in &cats {
            out.push((*s, *c));
        }
    }
    out
}

/// Statuses that stand for every class of statuses the patterns can tell
/// apart, "no status" first.
fn representative_statuses(patterns: &[&StatusPattern]) -> Vec<Option<Status>> {
    let mut subjects: Vec<u16> = patterns
        .iter()
        .filter_map(|p| match p.subject {
            Part::Is(n) => Some(n),
            Part::Any => None,
        })
        .collect();
    let fresh_subject = (0..=7u16).find(|s| !subjects.contains(s));
    subjects.extend(fresh_subject);
    subjects.sort_unstable();
    subjects.dedup();
    let mut details: Vec<u16> = patterns
        .iter()
        .filter_map(|p| match p.detail {
            Part::Is(n) => Some(n),
            Part::Any => None,
        })
        .collect();
    let fresh_detail = (0..=999u16).find(|d| !details.contains(d));
    details.extend(fresh_detail);
    details.sort_unstable();
    details.dedup();
    let mut out = vec![None];
    for class in [2u8, 4, 5] {
        for &s in &subjects {
            for &d in &details {
                out.push(Some(Status::new(class, s, d)));
            }
        }
    }
    out
}

/// Analyses a checked rule set.
pub fn analyse(rules: &RuleSet, opts: &Options) -> Report {
    // Only examples need the whole rule set compiled.
    let classifier = if rules.rules.iter().any(|r| !r.examples.is_empty()) {
        crate::compile::classifier(rules.clone()).ok()
    } else {
        None
    };
    analyse_with(rules, opts, classifier.as_ref())
}

/// Analyses a checked rule set, with the classifier already compiled from
/// it (used to check where examples land; `None` skips that check).
pub fn analyse_with(rules: &RuleSet, opts: &Options, classifier: Option<&Classifier>) -> Report {
    let started = Instant::now();
    let mut report = Report::default();
    report.stats.rules = rules.rules.len();
    let limit = opts.dfa_size_limit;
    let max_states = opts.state_budget.max(100_000);
    let dfas: Vec<Option<Graph>> = rules
        .rules
        .iter()
        .map(|r| build(&[pattern(r)], limit).and_then(|d| Graph::new(&d, max_states)))
        .collect();
    for scope in &rules.scopes {
        let ids: &[RuleId] = &scope.rules;
        let all_patterns: Vec<&StatusPattern> = ids
            .iter()
            .filter_map(|&r| rules.rules.get(r))
            .flat_map(|r| r.initial.iter())
            .collect();
        let all_categories: Vec<Category> = ids
            .iter()
            .filter_map(|&r| rules.rules.get(r))
            .flat_map(|r| r.reported.iter().copied())
            .collect();
        let reps = representatives(&all_patterns, &all_categories);
        let mut dead = HashSet::new();
        let mut duplicate = HashSet::new();
        // Dead and duplicate rules.
        for (k, &rk) in ids.iter().enumerate() {
            let Some(rule) = rules.rules.get(rk) else {
                continue;
            };
            if matches!(dfas.get(rk), Some(None)) {
                report.stats.undecided += 1;
                report.findings.push(Finding::Undecided {
                    rule: rk,
                    other: None,
                    question: "analysis",
                });
                continue;
            }
            if let Some(Some(d)) = dfas.get(rk)
                && !matches_something(d)
            {
                dead.insert(rk);
                report.findings.push(Finding::Dead { rule: rk });
                continue;
            }
            let same = ids[..k].iter().copied().find(|&ri| {
                rules.rules.get(ri).is_some_and(|o| {
                    o.regex == rule.regex
                        && o.case_insensitive == rule.case_insensitive
                        && o.initial == rule.initial
                })
            });
            if let Some(first) = same {
                duplicate.insert(rk);
                report.findings.push(Finding::Duplicate { rule: rk, first });
            }
        }
        // Pairs: overlaps and conflicts.
        let mut overlaps: HashMap<RuleId, Vec<RuleId>> = HashMap::new();
        let mut conflicts = Vec::new();
        for (k, &rk) in ids.iter().enumerate() {
            if dead.contains(&rk) || duplicate.contains(&rk) {
                continue;
            }
            let (Some(rule_k), Some(Some(dk))) = (rules.rules.get(rk), dfas.get(rk)) else {
                continue;
            };
            for &ri in &ids[..k] {
                if dead.contains(&ri) {
                    continue;
                }
                let (Some(rule_i), Some(Some(di))) = (rules.rules.get(ri), dfas.get(ri)) else {
                    continue;
                };
                let Some(initial) = reps
                    .iter()
                    .copied()
                    .find(|s| rule_i.accepts(s.0, s.1) && rule_k.accepts(s.0, s.1))
                else {
                    continue;
                };
                report.stats.pairs += 1;
                if prefixes_disjoint(rule_i, rule_k) {
                    report.stats.pairs_skipped_by_prefix += 1;
                    continue;
                }
                match walk(di, dk, Goal::Both, opts.state_budget) {
                    Walk::Found(w) => {
                        overlaps.entry(rk).or_default().push(ri);
                        let differ = rule_i.status != rule_k.status
                            || rules.rule_verdict(rule_i) != rules.rule_verdict(rule_k);
                        if differ && !is_exception(rule_i, rule_k) {
                            conflicts.push(Finding::Conflict {
                                winner: ri,
                                loser: rk,
                                witness: w,
                                initial,
                            });
                        }
                    }
                    Walk::None => {}
                    Walk::TooBig => {
                        report.stats.undecided += 1;
                        report.findings.push(Finding::Undecided {
                            rule: rk,
                            other: Some(ri),
                            question: "overlap",
                        });
                        // Unknown overlap: count it as covering, so shadowing stays sound.
                        overlaps.entry(rk).or_default().push(ri);
                    }
                }
            }
        }
        // Shadowing: included in the union of the overlapping earlier rules.
        let mut shadowed = HashSet::new();
        for &rk in ids {
            let Some(cover) = overlaps.get(&rk) else {
                continue;
            };
            let (Some(rule_k), Some(Some(dk))) = (rules.rules.get(rk), dfas.get(rk)) else {
                continue;
            };
            let mut all = true;
            let mut undecided = false;
            // A shortest reply of the rule: when no earlier rule matches it,
            // the rule is not shadowed, and no union needs to be built.
            let shortest = match walk(dk, &Graph::never(), Goal::FirstOnly, opts.state_budget) {
                Walk::Found(w) => Some(w),
                _ => None,
            };
            for s in reps.iter().copied().filter(|s| rule_k.accepts(s.0, s.1)) {
                let earlier_ids: Vec<RuleId> = cover
                    .iter()
                    .copied()
                    .filter(|&ri| rules.rules.get(ri).is_some_and(|r| r.accepts(s.0, s.1)))
                    .collect();
                let graph = |ri: RuleId| dfas.get(ri).and_then(Option::as_ref);
                let matches_shortest = |ri: RuleId| match (&shortest, graph(ri)) {
                    (Some(w), Some(g)) => g.accepts(w),
                    _ => true,
                };
                if !earlier_ids.iter().any(|&ri| matches_shortest(ri)) {
                    all = false;
                    break;
                }
                // Covered by one earlier rule alone?
                let single = earlier_ids.iter().any(|&ri| {
                    graph(ri).is_some_and(|g| {
                        matches!(walk(dk, g, Goal::FirstOnly, opts.state_budget), Walk::None)
                    })
                });
                if single {
                    continue;
                }
                if earlier_ids.len() > MAX_UNION {
                    undecided = true;
                    all = false;
                    break;
                }
                let earlier: Vec<String> = earlier_ids
                    .iter()
                    .filter_map(|&ri| rules.rules.get(ri))
                    .map(pattern)
                    .collect();
                let Some(union) = build(&earlier, limit).and_then(|d| Graph::new(&d, max_states))
                else {
                    undecided = true;
                    all = false;
                    break;
                };
                match walk(dk, &union, Goal::FirstOnly, opts.state_budget) {
                    Walk::None => {}
                    Walk::Found(_) => {
                        all = false;
                        break;
                    }
                    Walk::TooBig => {
                        undecided = true;
                        all = false;
                        break;
                    }
                }
            }
            let already = report
                .findings
                .iter()
                .any(|f| matches!(f, Finding::Undecided { rule, .. } if *rule == rk));
            if undecided && already {
                // The overlap was already reported undecided: one note per rule.
            } else if undecided {
                report.stats.undecided += 1;
                report.findings.push(Finding::Undecided {
                    rule: rk,
                    other: None,
                    question: "shadowing",
                });
            } else if all {
                shadowed.insert(rk);
                let mut covering = cover.clone();
                covering.sort_unstable();
                covering.dedup();
                report
                    .findings
                    .push(Finding::Shadowed { rule: rk, covering });
            }
        }
        for c in conflicts {
            if let Finding::Conflict { loser, .. } = &c
                && shadowed.contains(loser)
            {
                continue;
            }
            report.findings.push(c);
        }
    }

    // Examples that an earlier rule (or a more specific scope) takes.
    if let Some(classifier) = classifier {
        for rule in &rules.rules {
            let Some(scope) = rules.scopes.get(rule.scope) else {
                continue;
            };
            let bounce_for = |reply: &str| {
                let mut b = Bounce::new(reply);
                match scope.keys.first() {
                    Some(ScopeKey::MxExact(h)) | Some(ScopeKey::MxSuffix(h)) => {
                        b.mx = Some(h.clone())
                    }
                    Some(ScopeKey::RcptDomain(d)) => b.rcpt = Some(format!("postmaster@{d}")),
                    _ => {}
                }
                b.reported_category = rule.reported.first().copied();
                b
            };
            for (i, ex) in rule.examples.iter().enumerate() {
                let got = classifier.classify(&bounce_for(ex));
                if got.rule.as_deref() != Some(rule.location().as_str()) {
                    let taken_by = rules
                        .rules
                        .iter()
                        .find(|r| got.rule.as_deref() == Some(r.location().as_str()))
                        .map(|r| r.id);
                    report.findings.push(Finding::ExampleTaken {
                        rule: rule.id,
                        example: i,
                        taken_by,
                    });
                }
            }
        }
    }

    // Cross-scope overrides.
    if opts.explain_overrides
        && let Some(global) = rules
            .scopes
            .iter()
            .position(|s| s.keys.contains(&ScopeKey::Global))
    {
        let globals: Vec<RuleId> = rules.scopes[global].rules.clone();
        for scope in rules
            .scopes
            .iter()
            .filter(|s| !s.keys.contains(&ScopeKey::Global))
        {
            for &rs in &scope.rules {
                let (Some(rule_s), Some(Some(ds))) = (rules.rules.get(rs), dfas.get(rs)) else {
                    continue;
                };
                for &rg in &globals {
                    let (Some(rule_g), Some(Some(dg))) = (rules.rules.get(rg), dfas.get(rg)) else {
                        continue;
                    };
                    if rules.rule_verdict(rule_s) == rules.rule_verdict(rule_g) {
                        continue;
                    }
                    let reps = representatives(
                        &rule_s
                            .initial
                            .iter()
                            .chain(&rule_g.initial)
                            .collect::<Vec<_>>(),
                        &rule_s
                            .reported
                            .iter()
                            .chain(&rule_g.reported)
                            .copied()
                            .collect::<Vec<_>>(),
                    );
                    let Some(initial) = reps
                        .into_iter()
                        .find(|s| rule_s.accepts(s.0, s.1) && rule_g.accepts(s.0, s.1))
                    else {
                        continue;
                    };
                    if prefixes_disjoint(rule_s, rule_g) {
                        continue;
                    }
                    if let Walk::Found(witness) = walk(ds, dg, Goal::Both, opts.state_budget) {
                        report.findings.push(Finding::Override {
                            specific: rs,
                            global: rg,
                            witness,
                            initial,
                        });
                    }
                }
            }
        }
    }

    report.diagnostics = report
        .findings
        .iter()
        .filter_map(|f| diagnostic(rules, f))
        .collect();
    crate::diag::sort(&mut report.diagnostics);
    report.stats.elapsed = started.elapsed();
    report
}

/// A witness as it is printed: the bytes, with anything unprintable escaped.
pub fn show_witness(w: &[u8]) -> String {
    let mut s = String::new();
    for &b in w {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

fn describe(rules: &RuleSet, r: RuleId) -> String {
    match rules.rules.get(r) {
        Some(rule) => format!(
            "/{}/{} -> {} {} ({})",
            rule.regex,
            if rule.case_insensitive { "i" } else { "" },
            rule.status,
            rules.rule_verdict(rule),
            rule.location()
        ),
        None => String::from("an unknown rule"),
    }
}

/// How a witness is described: the reply, and the status it must arrive
/// with when its own text does not give one both rules accept.
fn witness_note(rules: &RuleSet, witness: &[u8], cond: Cond, a: RuleId, b: RuleId) -> String {
    let (initial, reported) = cond;
    let text = show_witness(witness);
    let own = crate::core::normalize::Reply::new(&String::from_utf8_lossy(witness), None).initial;
    let accepted = |s: Option<Status>| {
        [a, b].iter().all(|&r| {
            rules
                .rules
                .get(r)
                .is_some_and(|rule| rule.accepts(s, reported))
        })
    };
    let mut note = match initial {
        _ if accepted(own) => format!("both match the reply `{text}`"),
        Some(s) => format!("both match the reply `{text}` arriving with status {s}"),
        None => format!("both match the reply `{text}` arriving with no status"),
    };
    if let Some(c) = reported {
        note.push_str(&format!(" and reported as `{c}`"));
    }
    note
}

fn diagnostic(rules: &RuleSet, f: &Finding) -> Option<Diagnostic> {
    let rule = |r: RuleId| rules.rules.get(r);
    Some(match f {
        Finding::Shadowed { rule: r, covering } => {
            let me = rule(*r)?;
            let mut d = Diagnostic::new(
                Code::ShadowedRule,
                "rule can never fire: earlier rules of its scope match every reply it matches",
                me.head,
                "shadowed rule",
            );
            for c in covering {
                if let Some(cr) = rule(*c) {
                    d = d.with_secondary(cr.head, "covered by this earlier rule");
                }
            }
            d.with_help(
                "delete the rule, or move it above the rules that cover it if it should win",
            )
        }
        Finding::Conflict {
            winner,
            loser,
            witness,
            initial,
        } => {
            let (w, l) = (rule(*winner)?, rule(*loser)?);
            Diagnostic::new(
                Code::ConflictingOverlap,
                format!(
                    "rules overlap with different outcomes: `{} {}` and `{} {}`",
                    w.status,
                    rules.rule_verdict(w),
                    l.status,
                    rules.rule_verdict(l)
                ),
                l.head,
                "this rule loses the overlap",
            )
            .with_secondary(w.head, "this earlier rule wins")
            .with_note(witness_note(rules, witness, *initial, *winner, *loser))
            .with_help(
                "if the overlap is intended, nothing to do; otherwise make the regexes exclusive",
            )
        }
        Finding::Duplicate { rule: r, first } => {
            let (me, fr) = (rule(*r)?, rule(*first)?);
            Diagnostic::new(
                Code::DuplicateRule,
                "duplicate rule: same regex and condition as an earlier rule",
                me.head,
                "duplicate",
            )
            .with_secondary(fr.head, "first written here")
            .with_help("delete one of them")
        }
        Finding::Dead { rule: r } => {
            let me = rule(*r)?;
            Diagnostic::new(
                Code::DeadRegex,
                "regex matches no reply at all",
                me.head,
                "dead rule",
            )
            .with_help(
                "a `^` or `$` in the middle, or an impossible class, makes a regex match nothing",
            )
        }
        Finding::ExampleTaken {
            rule: r,
            example,
            taken_by,
        } => {
            let me = rule(*r)?;
            let text = me.examples.get(*example).cloned().unwrap_or_default();
            let at = me.example_spans.get(*example).copied().unwrap_or(me.head);
            let mut d = Diagnostic::new(
                Code::ExampleTaken,
                "example is classified by another rule than its own",
                at,
                "this example",
            )
            .with_secondary(me.head, "its rule")
            .with_note(format!("the example is `{text}`"));
            match taken_by.and_then(rule) {
                Some(t) => {
                    d = d.with_secondary(t.head, "this rule takes it");
                    d.with_note(format!("it is classified by {}", describe(rules, t.id)))
                }
                None => d.with_note("no rule matches it when the whole rule set is applied"),
            }
        }
        Finding::Override {
            specific,
            global,
            witness,
            initial,
        } => {
            let (s, g) = (rule(*specific)?, rule(*global)?);
            Diagnostic::new(
                Code::CrossScopeOverride,
                format!(
                    "rule overrides a global rule: `{}` instead of `{}`",
                    rules.rule_verdict(s),
                    rules.rule_verdict(g)
                ),
                s.head,
                "this rule decides",
            )
            .with_secondary(g.head, "instead of this global rule")
            .with_note(witness_note(rules, witness, *initial, *specific, *global))
        }
        Finding::Undecided {
            rule: r,
            other,
            question,
        } => {
            let me = rule(*r)?;
            let mut d = Diagnostic::new(
                Code::Undecided,
                format!(
                    "{question} of this rule was not decided: the automata are too big to compare"
                ),
                me.head,
                "not analysed",
            );
            if let Some(o) = other.and_then(rule) {
                d = d.with_secondary(o.head, "compared with this rule");
            }
            d.with_help(
                "raise the analysis budget, or simplify the regexes (fewer unanchored `.*`)",
            )
        }
    })
}
