//! The automata the lints decide on: each rule's DFA as a dense [`Graph`],
//! and breadth-first [`walk`]s of the product of two graphs that find a
//! shortest reply with the property asked for, within a state budget.

use std::collections::{HashMap, VecDeque};

use regex_automata::Anchored;
use regex_automata::dfa::Automaton;
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;

use crate::compile::{self, pattern};
use crate::core::model::Rule;

type Dfa = regex_automata::dfa::dense::DFA<Vec<u32>>;

/// The DFA of the union of `patterns` (a match of any), `None` when it does
/// not fit in `limit` bytes.
pub(super) fn build(patterns: &[String], limit: usize) -> Option<Dfa> {
    compile::build(patterns, limit).ok()
}

/// The graph of one rule's DFA, `None` when it does not fit in `limit`
/// bytes or `max_states` states.
pub(super) fn rule_graph(rule: &Rule, limit: usize, max_states: usize) -> Option<Graph> {
    build(&[pattern(rule)], limit).and_then(|d| Graph::new(&d, max_states))
}

/// A DFA's reachable states, renumbered densely, with one transition per
/// byte class: the form the product walks run on.
pub(super) struct Graph {
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
    pub(super) fn new(dfa: &Dfa, max_states: usize) -> Option<Graph> {
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
    pub(super) fn never() -> Graph {
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
    pub(super) fn accepts(&self, hay: &[u8]) -> bool {
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
pub(super) enum Goal {
    /// A reply both match.
    Both,
    /// A reply the first matches and the second does not.
    FirstOnly,
}

/// What a product walk found.
pub(super) enum Walk {
    /// A shortest reply reaching the goal.
    Found(Vec<u8>),
    /// No reply reaches the goal.
    None,
    /// The product is bigger than the budget: undecided.
    TooBig,
}

/// Breadth-first walk of the product of two DFAs, with "has matched" flags
/// (a rule matches if its regex matches anywhere). The first reply found
/// reaching the goal is a shortest one.
pub(super) fn walk(a: &Graph, b: &Graph, goal: Goal, budget: usize) -> Walk {
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
pub(super) fn matches_something(g: &Graph) -> bool {
    // Every state of a graph is reachable, so one matching state suffices.
    g.matched.iter().zip(&g.eoi).any(|(m, e)| *m || *e)
}
