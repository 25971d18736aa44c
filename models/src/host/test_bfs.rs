//! A small breadth-first checker for the host model's unit tests, so they do not depend
//! on the harness checker being merged. It keeps every state's parent (shortest
//! counterexamples), the successor graph (liveness), and judges every property kind.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use lockstep::explore::{Model, PropertyKind};

/// Everything one exploration found.
pub struct Outcome<M: Model> {
    pub states: usize,
    /// Shortest path to a deadlock (a terminal state that is not at rest).
    pub deadlock: Option<Vec<M::Action>>,
    /// Per violated property, a shortest counterexample (liveness: a path to a bad end).
    pub violated: BTreeMap<String, Vec<M::Action>>,
    pub sometimes_unreached: Vec<String>,
    /// The terminal state of the deadlock path.
    pub deadlock_state: Option<M::State>,
}

fn fingerprint<S: Hash>(s: &S) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Explores `model` completely (panics past `max_states`, a test budget).
pub fn explore<M: Model>(model: &M, max_states: usize) -> Outcome<M> {
    let props = model.properties();
    let mut index: BTreeMap<u64, u32> = BTreeMap::new();
    let mut states: Vec<M::State> = Vec::new();
    let mut parent: Vec<Option<(u32, M::Action)>> = Vec::new();
    let mut succ: Vec<Vec<u32>> = Vec::new();
    for s in model.init_states() {
        let fp = fingerprint(&s);
        if let std::collections::btree_map::Entry::Vacant(e) = index.entry(fp) {
            e.insert(states.len() as u32);
            states.push(s);
            parent.push(None);
        }
    }
    let mut violated: BTreeMap<String, Vec<M::Action>> = BTreeMap::new();
    let mut first_bad: BTreeMap<String, u32> = BTreeMap::new();
    let mut reached: BTreeMap<String, bool> = BTreeMap::new();
    let mut deadlock_at: Option<u32> = None;
    let mut actions = Vec::new();
    let mut i = 0;
    while i < states.len() {
        let s = states[i].clone();
        for p in &props {
            match p.kind {
                PropertyKind::Always
                    if !first_bad.contains_key(p.name) && !(p.holds)(model, &s) =>
                {
                    first_bad.insert(p.name.to_string(), i as u32);
                }
                PropertyKind::Sometimes if (p.holds)(model, &s) => {
                    reached.insert(p.name.to_string(), true);
                }
                _ => {}
            }
        }
        actions.clear();
        model.actions(&s, &mut actions);
        let mut out = Vec::with_capacity(actions.len());
        if actions.is_empty() && !model.at_rest(&s) && deadlock_at.is_none() {
            deadlock_at = Some(i as u32);
        }
        for a in actions.drain(..) {
            let next = model
                .next_state(&s, &a)
                .expect("enumerated action is enabled");
            let fp = fingerprint(&next);
            let j = match index.get(&fp) {
                Some(&j) => j,
                None => {
                    let j = states.len() as u32;
                    index.insert(fp, j);
                    states.push(next);
                    parent.push(Some((i as u32, a)));
                    assert!(
                        states.len() <= max_states,
                        "test budget of {max_states} states exceeded"
                    );
                    j
                }
            };
            out.push(j);
        }
        succ.push(out);
        i += 1;
    }
    let path_to = |mut k: u32| {
        let mut path = Vec::new();
        while let Some((p, a)) = &parent[k as usize] {
            path.push(a.clone());
            k = *p;
        }
        path.reverse();
        path
    };
    for (name, k) in &first_bad {
        violated.insert(name.clone(), path_to(*k));
    }
    let terminal = |k: usize| succ[k].is_empty();
    for p in &props {
        let bad_end = match p.kind {
            PropertyKind::Eventually => eventually_violation(model, &states, &succ, p.holds),
            PropertyKind::EventuallyAlways => (0..states.len())
                .find(|&k| terminal(k) && !(p.holds)(model, &states[k]))
                .map(|k| k as u32),
            _ => None,
        };
        if let Some(k) = bad_end {
            violated.insert(p.name.to_string(), path_to(k));
        }
    }
    assert!(
        is_acyclic(&succ),
        "the host model's state graph is expected to be acyclic"
    );
    let sometimes_unreached = props
        .iter()
        .filter(|p| p.kind == PropertyKind::Sometimes && !reached.contains_key(p.name))
        .map(|p| p.name.to_string())
        .collect();
    Outcome {
        states: states.len(),
        deadlock: deadlock_at.map(path_to),
        deadlock_state: deadlock_at.map(|k| states[k as usize].clone()),
        violated,
        sometimes_unreached,
    }
}

/// A terminal state reachable from an initial state through states where `p` never held
/// (the graph is acyclic, so no lasso is needed). Returns the shallowest such state.
fn eventually_violation<M: Model>(
    model: &M,
    states: &[M::State],
    succ: &[Vec<u32>],
    holds: fn(&M, &M::State) -> bool,
) -> Option<u32> {
    let n_init = model.init_states().len().min(states.len());
    let mut seen = vec![false; states.len()];
    let mut frontier: Vec<u32> = (0..n_init as u32)
        .filter(|&k| !holds(model, &states[k as usize]))
        .collect();
    for &k in &frontier {
        seen[k as usize] = true;
    }
    let mut best: Option<u32> = None;
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for k in frontier {
            if succ[k as usize].is_empty() {
                best = Some(best.map_or(k, |b| b.min(k)));
            }
            for &j in &succ[k as usize] {
                if !seen[j as usize] && !holds(model, &states[j as usize]) {
                    seen[j as usize] = true;
                    next.push(j);
                }
            }
        }
        if best.is_some() {
            return best;
        }
        frontier = next;
    }
    None
}

/// Kahn's algorithm.
fn is_acyclic(succ: &[Vec<u32>]) -> bool {
    let mut indeg = vec![0u32; succ.len()];
    for outs in succ {
        for &j in outs {
            indeg[j as usize] += 1;
        }
    }
    let mut stack: Vec<usize> = (0..succ.len()).filter(|&k| indeg[k] == 0).collect();
    let mut seen = 0;
    while let Some(k) = stack.pop() {
        seen += 1;
        for &j in &succ[k] {
            indeg[j as usize] -= 1;
            if indeg[j as usize] == 0 {
                stack.push(j as usize);
            }
        }
    }
    seen == succ.len()
}
