//! A small explicit-state checker for this model's unit tests (test builds only),
//! independent of lockstep's own checker: BFS over the whole graph with 64-bit
//! FNV fingerprints, shortest counterexamples for `always` properties and deadlock,
//! `sometimes` reachability, and liveness judged on the graph's cycles (Tarjan SCC):
//! `<>[] p` fails on a terminal !p state or a cycle through one, `<> p` fails on a
//! !p-only path from the start to a terminal state or to a cycle.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use lockstep::explore::{Model, Property, PropertyKind};

struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn fingerprint<T: Hash>(value: &T) -> u64 {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    value.hash(&mut h);
    h.finish()
}

/// What the exploration found.
#[derive(Debug, Default)]
pub struct Outcome {
    pub states: usize,
    pub complete: bool,
    /// Shortest counterexample (formatted actions) per violated `always` property,
    /// and under `deadlock` for a terminal state that is not at rest.
    pub violations: BTreeMap<String, Vec<String>>,
    /// `sometimes` properties never reached.
    pub unreached: Vec<String>,
    /// Violated `eventually` / `eventually-always` properties.
    pub liveness: Vec<String>,
    /// For each violated liveness property: the path to the bad state, then
    /// (after a `--loop--` marker) the cycle back to it, when it is a cycle.
    pub lassos: BTreeMap<String, Vec<String>>,
    /// The largest metric value seen (see [`check_with_metric`]).
    pub max_metric: u64,
}

impl Outcome {
    /// Every property name that failed, in a stable order.
    pub fn failed(&self) -> Vec<String> {
        let mut all: Vec<String> = self.violations.keys().cloned().collect();
        all.extend(self.unreached.iter().cloned());
        all.extend(self.liveness.iter().cloned());
        all
    }
}

/// Explores the whole reachable graph (up to `max_states`) and judges every property.
pub fn check<M: Model>(model: &M, max_states: usize) -> Outcome {
    check_with_metric(model, max_states, |_| 0)
}

/// [`check`], also recording the largest `metric` over all reachable states.
pub fn check_with_metric<M: Model>(
    model: &M,
    max_states: usize,
    metric: fn(&M::State) -> u64,
) -> Outcome {
    check_properties(model, model.properties(), max_states, metric)
}

/// [`check_with_metric`] judging `props` instead of the model's own properties.
pub fn check_properties<M: Model>(
    model: &M,
    props: Vec<Property<M>>,
    max_states: usize,
    metric: fn(&M::State) -> u64,
) -> Outcome {
    let mut index: BTreeMap<u64, u32> = BTreeMap::new();
    let mut parent: Vec<Option<(u32, M::Action)>> = Vec::new();
    let mut edges: Vec<Vec<u32>> = Vec::new();
    let mut holds: Vec<u64> = Vec::new(); // bit k = property k holds
    let mut frontier: Vec<(u32, M::State)> = Vec::new();
    let mut out = Outcome::default();
    let mut reached = vec![false; props.len()];
    let mut violated_at: BTreeMap<String, u32> = BTreeMap::new();

    let visit = |state: &M::State,
                 from: Option<(u32, M::Action)>,
                 index: &mut BTreeMap<u64, u32>,
                 parent: &mut Vec<Option<(u32, M::Action)>>,
                 edges: &mut Vec<Vec<u32>>,
                 holds: &mut Vec<u64>|
     -> (u32, bool) {
        let fp = fingerprint(state);
        if let Some(&id) = index.get(&fp) {
            return (id, false);
        }
        let id = parent.len() as u32;
        index.insert(fp, id);
        parent.push(from);
        edges.push(Vec::new());
        let mut bits = 0u64;
        for (k, p) in props.iter().enumerate() {
            if (p.holds)(model, state) {
                bits |= 1 << k;
            }
        }
        holds.push(bits);
        (id, true)
    };

    for init in model.init_states() {
        let (id, new) = visit(&init, None, &mut index, &mut parent, &mut edges, &mut holds);
        if new {
            frontier.push((id, init));
        }
    }
    let mut actions = Vec::new();
    out.complete = true;
    while !frontier.is_empty() {
        let mut next_frontier = Vec::new();
        for (id, state) in frontier {
            out.max_metric = out.max_metric.max(metric(&state));
            for (k, p) in props.iter().enumerate() {
                let ok = holds[id as usize] & (1 << k) != 0;
                match p.kind {
                    // Terminal-only invariants are judged below, once it
                    // is known whether the state has a successor.
                    PropertyKind::Always if !ok && !p.terminal_only => {
                        violated_at.entry(p.name.to_string()).or_insert(id);
                    }
                    PropertyKind::Sometimes if ok => reached[k] = true,
                    _ => {}
                }
            }
            actions.clear();
            model.actions(&state, &mut actions);
            let mut any = false;
            for action in &actions {
                let Some(next) = model.next_state(&state, action) else {
                    continue;
                };
                any = true;
                let (succ, new) = visit(
                    &next,
                    Some((id, action.clone())),
                    &mut index,
                    &mut parent,
                    &mut edges,
                    &mut holds,
                );
                edges[id as usize].push(succ);
                if new {
                    next_frontier.push((succ, next));
                }
            }
            if !any && !model.at_rest(&state) {
                violated_at.entry("deadlock".to_string()).or_insert(id);
            }
            for (k, p) in props.iter().enumerate() {
                if !any && p.terminal_only && holds[id as usize] & (1 << k) == 0 {
                    violated_at.entry(p.name.to_string()).or_insert(id);
                }
            }
        }
        if parent.len() > max_states {
            out.complete = false;
            break;
        }
        frontier = next_frontier;
    }
    out.states = parent.len();
    for (name, id) in violated_at {
        out.violations.insert(name, path_to(model, &parent, id));
    }
    out.unreached = props
        .iter()
        .enumerate()
        .filter(|(k, p)| p.kind == PropertyKind::Sometimes && !reached[*k])
        .map(|(_, p)| p.name.to_string())
        .collect();
    if out.complete {
        for (k, p) in props.iter().enumerate() {
            let sat: Vec<bool> = holds.iter().map(|bits| bits & (1 << k) != 0).collect();
            let bad = match p.kind {
                PropertyKind::EventuallyAlways => eventually_always_fails(&edges, &sat),
                PropertyKind::Eventually => eventually_fails(&edges, &sat),
                _ => None,
            };
            if let Some((v, allowed)) = bad {
                out.liveness.push(p.name.to_string());
                out.lassos.insert(
                    p.name.to_string(),
                    lasso(model, &parent, &edges, &allowed, v),
                );
            }
        }
    }
    out
}

fn path_to<M: Model>(model: &M, parent: &[Option<(u32, M::Action)>], mut id: u32) -> Vec<String> {
    let mut steps = Vec::new();
    while let Some((from, action)) = &parent[id as usize] {
        steps.push(model.format_action(action));
        id = *from;
    }
    steps.reverse();
    steps
}

/// Strongly connected components (iterative Tarjan) restricted to `allowed` nodes;
/// returns, per node, whether it lies on a cycle (a component of size > 1 or a self-loop).
fn on_cycle(edges: &[Vec<u32>], allowed: &[bool]) -> Vec<bool> {
    let n = edges.len();
    let (mut idx, mut low) = (vec![u32::MAX; n], vec![0u32; n]);
    let (mut on_stack, mut cyclic) = (vec![false; n], vec![false; n]);
    let mut stack: Vec<u32> = Vec::new();
    let mut counter = 0u32;
    for root in 0..n {
        if !allowed[root] || idx[root] != u32::MAX {
            continue;
        }
        let mut call: Vec<(u32, usize)> = vec![(root as u32, 0)];
        idx[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root as u32);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut next)) = call.last_mut() {
            let v = v as usize;
            if let Some(&w) = edges[v].get(*next) {
                *next += 1;
                let w = w as usize;
                if !allowed[w] {
                    continue;
                }
                if w == v {
                    cyclic[v] = true;
                }
                if idx[w] == u32::MAX {
                    idx[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w as u32);
                    on_stack[w] = true;
                    call.push((w as u32, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(idx[w]);
                }
            } else {
                call.pop();
                if let Some(&(u, _)) = call.last() {
                    low[u as usize] = low[u as usize].min(low[v]);
                }
                if low[v] == idx[v] {
                    let mut members = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w as usize] = false;
                        members.push(w);
                        if w as usize == v {
                            break;
                        }
                    }
                    if members.len() > 1 {
                        members.iter().for_each(|&m| cyclic[m as usize] = true);
                    }
                }
            }
        }
    }
    cyclic
}

/// A bad node for `<>[] p` (and the nodes its cycle may use), if any.
fn eventually_always_fails(edges: &[Vec<u32>], sat: &[bool]) -> Option<(usize, Vec<bool>)> {
    let all = vec![true; edges.len()];
    let cyclic = on_cycle(edges, &all);
    (0..edges.len())
        .find(|&v| !sat[v] && (edges[v].is_empty() || cyclic[v]))
        .map(|v| (v, all))
}

/// A bad node for `<> p` (and the !p nodes its cycle may use), if any.
fn eventually_fails(edges: &[Vec<u32>], sat: &[bool]) -> Option<(usize, Vec<bool>)> {
    // States reachable from the start through !p states only.
    let mut inside = vec![false; edges.len()];
    if edges.is_empty() || sat[0] {
        return None;
    }
    let mut todo = vec![0usize];
    inside[0] = true;
    while let Some(v) = todo.pop() {
        for &w in &edges[v] {
            let w = w as usize;
            if !sat[w] && !inside[w] {
                inside[w] = true;
                todo.push(w);
            }
        }
    }
    let cyclic = on_cycle(edges, &inside);
    (0..edges.len())
        .find(|&v| inside[v] && (edges[v].is_empty() || cyclic[v]))
        .map(|v| (v, inside))
}

/// The BFS path to `bad` and, if `bad` has successors, a shortest cycle back to it
/// through `allowed` nodes, as formatted actions (re-derived by replaying the model).
fn lasso<M: Model>(
    model: &M,
    parent: &[Option<(u32, M::Action)>],
    edges: &[Vec<u32>],
    allowed: &[bool],
    bad: usize,
) -> Vec<String> {
    let mut steps = path_to(model, parent, bad as u32);
    if edges[bad].is_empty() {
        steps.push("--terminal--".to_string());
        return steps;
    }
    // BFS from bad back to bad.
    let mut back: BTreeMap<u32, u32> = BTreeMap::new();
    let mut todo = std::collections::VecDeque::from([bad as u32]);
    let mut found = false;
    'search: while let Some(v) = todo.pop_front() {
        for &w in &edges[v as usize] {
            if !allowed[w as usize] {
                continue;
            }
            if w as usize == bad {
                back.insert(u32::MAX, v);
                found = true;
                break 'search;
            }
            if let std::collections::btree_map::Entry::Vacant(e) = back.entry(w) {
                e.insert(v);
                todo.push_back(w);
            }
        }
    }
    steps.push("--loop--".to_string());
    if !found {
        return steps;
    }
    let mut cycle = vec![bad as u32];
    let mut v = back[&u32::MAX];
    while v as usize != bad {
        cycle.push(v);
        v = back[&v];
    }
    cycle.push(bad as u32);
    cycle.reverse();
    // cycle = [bad, ..., bad]; label each edge by replaying from the state of `bad`.
    let state_of = |id: u32| -> M::State {
        let mut chain = Vec::new();
        let mut cur = id;
        while let Some((from, action)) = &parent[cur as usize] {
            chain.push(action.clone());
            cur = *from;
        }
        chain.reverse();
        let mut s = model.init_states().remove(0);
        for a in &chain {
            s = model.next_state(&s, a).expect("replayed path is enabled");
        }
        s
    };
    for pair in cycle.windows(2) {
        let from = state_of(pair[0]);
        let to = state_of(pair[1]);
        let mut acts = Vec::new();
        model.actions(&from, &mut acts);
        let label = acts
            .iter()
            .find(|a| model.next_state(&from, a).is_some_and(|n| n == to))
            .map_or("?".to_string(), |a| model.format_action(a));
        steps.push(label);
    }
    steps
}
