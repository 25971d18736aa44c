//! The on-the-fly product of a trace with a protocol model: the set of model
//! states consistent with the events seen so far, closed under the model's
//! unobservable steps, advanced one trace event at a time.
//!
//! A *node* is a model state plus what the trace still owes it: the events
//! of the step just taken that have not been seen yet (`pending`; one
//! actor's in order, different actors' in any order; the next observable
//! step waits until they are all seen), the actor binding, and which
//! `eventually` properties the path has satisfied.

use std::collections::{BTreeMap, BTreeSet};

use super::observe::{Binding, Observable, ObservedEvent};
use super::schema::LifecycleEvent;
use crate::explore::{Model, PropertyKind};
use crate::rt::hash_of;

/// One model state together with the trace's obligations towards it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Node<S> {
    pub state: S,
    /// Events of steps already taken, not yet seen in the trace.
    pub pending: Vec<ObservedEvent>,
    pub binding: Binding,
    /// Bit `i`: eventually-property `i` held somewhere on the path.
    pub reached: u64,
}

/// A deduplicated set of nodes in insertion order (deterministic).
pub(crate) struct NodeSet<S> {
    pub nodes: Vec<Node<S>>,
    index: BTreeMap<u64, Vec<usize>>,
}

impl<S: std::hash::Hash + Eq + Clone> NodeSet<S> {
    pub fn new() -> Self {
        NodeSet {
            nodes: Vec::new(),
            index: BTreeMap::new(),
        }
    }

    /// Inserts `node`; returns whether it was new.
    pub fn insert(&mut self, node: Node<S>) -> bool {
        let key = hash_of(&node);
        let slot = self.index.entry(key).or_default();
        if slot.iter().any(|&i| self.nodes[i] == node) {
            return false;
        }
        slot.push(self.nodes.len());
        self.nodes.push(node);
        true
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// The budget ran out while closing a set under internal steps.
#[derive(Debug)]
pub(crate) struct OverBudget;

/// Index `i` of `events` is the first one of its actor (events of one actor
/// are seen in order; different actors may interleave).
fn first_of_actor(events: &[ObservedEvent], i: usize) -> bool {
    let actor = &events[i].actor;
    actor.is_none() || !events[..i].iter().any(|e| &e.actor == actor)
}

/// A property's test function.
type Holds<M> = fn(&M, &<M as Model>::State) -> bool;

/// The model side of the product: the model, its eventually-properties and
/// the pending cap.
pub(crate) struct Product<'m, M: Observable> {
    pub model: &'m M,
    /// Indices (into `model.properties()`) of eventually / eventually-always properties.
    eventually: Vec<(usize, Holds<M>)>,
    pub max_pending: usize,
    /// The projection: event names compared (others are internal).
    only: Option<Vec<String>>,
    /// Nodes created so far (for the report's `states`).
    pub created: u64,
}

impl<'m, M: Observable> Product<'m, M> {
    pub fn new(model: &'m M, max_pending: usize, only: Option<Vec<String>>) -> Self {
        let eventually = model
            .properties()
            .iter()
            .enumerate()
            .filter(|(_, p)| matches!(p.kind, PropertyKind::Eventually))
            .map(|(i, p)| (i, p.holds))
            .take(64)
            .collect();
        Product {
            model,
            eventually,
            max_pending,
            only,
            created: 0,
        }
    }

    /// Bit mask of the eventually-properties that hold in `state`.
    fn holding(&self, state: &M::State) -> u64 {
        self.eventually
            .iter()
            .enumerate()
            .filter(|(_, (_, holds))| holds(self.model, state))
            .fold(0, |mask, (bit, _)| mask | (1 << bit))
    }

    /// Whether eventually-property `prop` (an index into `properties()`) was
    /// reached on the node's path or holds now.
    pub fn reached(&self, node: &Node<M::State>, prop: usize) -> Option<bool> {
        let bit = self.eventually.iter().position(|(i, _)| *i == prop)?;
        Some(node.reached & (1 << bit) != 0)
    }

    pub fn initial(&mut self) -> Vec<Node<M::State>> {
        self.model
            .init_states()
            .into_iter()
            .map(|state| {
                self.created += 1;
                Node {
                    reached: self.holding(&state),
                    state,
                    pending: Vec::new(),
                    binding: Binding::default(),
                }
            })
            .collect()
    }

    fn successor(&mut self, node: &Node<M::State>, after: M::State) -> Node<M::State> {
        self.created += 1;
        Node {
            reached: node.reached | self.holding(&after),
            state: after,
            pending: node.pending.clone(),
            binding: node.binding.clone(),
        }
    }

    /// Each enabled action of `state` with the state it leads to and what it shows.
    pub fn steps(&self, state: &M::State) -> Vec<(M::Action, M::State, Vec<ObservedEvent>)> {
        let mut actions = Vec::new();
        self.model.actions(state, &mut actions);
        actions
            .into_iter()
            .filter_map(|a| {
                let after = self.model.next_state(state, &a)?;
                let mut shown = self.model.observe(state, &a, &after);
                if let Some(only) = &self.only {
                    shown.retain(|e| only.iter().any(|o| o == e.event));
                }
                Some((a, after, shown))
            })
            .collect()
    }

    /// `nodes` closed under unobservable steps. Fails once the set would
    /// exceed `max_states`.
    pub fn close(
        &mut self,
        nodes: Vec<Node<M::State>>,
        max_states: usize,
    ) -> Result<NodeSet<M::State>, OverBudget> {
        let mut set = NodeSet::new();
        for node in nodes {
            set.insert(node);
        }
        let mut next = 0;
        while next < set.len() {
            let node = set.nodes[next].clone();
            next += 1;
            // An optional event the trace may leave out can be skipped.
            for i in 0..node.pending.len() {
                if node.pending[i].optional && first_of_actor(&node.pending, i) {
                    let mut succ = node.clone();
                    succ.pending.remove(i);
                    self.created += 1;
                    set.insert(succ);
                }
            }
            for (_, after, shown) in self.steps(&node.state) {
                if shown.is_empty() {
                    let succ = self.successor(&node, after);
                    set.insert(succ);
                    if set.len() > max_states {
                        return Err(OverBudget);
                    }
                }
            }
        }
        Ok(set)
    }

    /// The nodes reached by matching trace event `ev` in `set`: either a
    /// pending event, or the first event of one of an enabled observable step.
    pub fn advance(&mut self, set: &NodeSet<M::State>, ev: &LifecycleEvent) -> Vec<Node<M::State>> {
        let mut out = NodeSet::new();
        for node in &set.nodes {
            for i in 0..node.pending.len() {
                let want = &node.pending[i];
                if !first_of_actor(&node.pending, i) || !want.fields_match(ev) {
                    continue;
                }
                if let Some(binding) = node.binding.bind(&ev.actor, want.actor.as_deref()) {
                    let mut succ = node.clone();
                    succ.pending.remove(i);
                    succ.binding = binding;
                    self.created += 1;
                    out.insert(succ);
                }
            }
            // A step's events appear together (one actor's in order, several
            // actors' in any order): the next step waits until they are seen.
            if !node.pending.is_empty() {
                continue;
            }
            for (_, after, shown) in self.steps(&node.state) {
                if shown.is_empty() {
                    continue;
                }
                for i in 0..shown.len() {
                    if !shown[i].fields_match(ev) {
                        continue;
                    }
                    let Some(binding) = node.binding.bind(&ev.actor, shown[i].actor.as_deref())
                    else {
                        continue;
                    };
                    if node.pending.len() + shown.len() - 1 > self.max_pending {
                        continue;
                    }
                    // Optional events of the same actor before `i` are left out.
                    let skipped = shown[..i]
                        .iter()
                        .all(|e| e.optional || e.actor != shown[i].actor);
                    if !skipped {
                        continue;
                    }
                    let mut succ = self.successor(node, after.clone());
                    succ.binding = binding;
                    succ.pending.extend(
                        shown
                            .iter()
                            .enumerate()
                            .filter(|(j, e)| *j > i || (*j < i && e.actor != shown[i].actor))
                            .map(|(_, e)| e.clone()),
                    );
                    out.insert(succ);
                }
            }
        }
        out.nodes
    }

    /// What the trace could show next from `set`, rendered, deduplicated,
    /// sorted, at most `cap` entries (plus a count of the rest).
    pub fn allowed(&self, set: &NodeSet<M::State>, cap: usize) -> Vec<String> {
        let mut all = BTreeSet::new();
        for node in &set.nodes {
            let mut add = |e: &ObservedEvent| {
                let mut text = e.describe();
                if let Some(actor) = &e.actor {
                    if let Some(trace_actor) = node.binding.trace_actor_of(actor) {
                        text.push_str(&format!(" (trace actor {trace_actor})"));
                    }
                }
                all.insert(text);
            };
            for i in 0..node.pending.len() {
                if first_of_actor(&node.pending, i) {
                    add(&node.pending[i]);
                }
            }
            if !node.pending.is_empty() {
                continue;
            }
            for (_, _, shown) in self.steps(&node.state) {
                if shown.is_empty() {
                    continue;
                }
                for i in 0..shown.len() {
                    if first_of_actor(&shown, i) {
                        add(&shown[i]);
                    }
                }
            }
        }
        let total = all.len();
        let mut list: Vec<String> = all.into_iter().take(cap).collect();
        if total > cap {
            list.push(format!("... and {} more", total - cap));
        }
        list
    }

    /// Whether the node can stop here for ever: nothing owed to the trace and
    /// no enabled step except environment steps.
    pub fn stuck(&self, node: &Node<M::State>) -> bool {
        if !node.pending.is_empty() {
            return false;
        }
        let mut actions = Vec::new();
        self.model.actions(&node.state, &mut actions);
        actions.iter().all(|a| self.model.is_environment(a))
    }

    /// Whether the node has no enabled step at all.
    pub fn dead(&self, node: &Node<M::State>) -> bool {
        let mut actions = Vec::new();
        self.model.actions(&node.state, &mut actions);
        actions.is_empty() && node.pending.is_empty()
    }
}

/// Renders up to `cap` states of a set, for notes.
pub(crate) fn sample_states<M: Model>(
    model: &M,
    nodes: &[&Node<M::State>],
    cap: usize,
) -> Vec<String> {
    let mut seen = BTreeSet::new();
    nodes
        .iter()
        .map(|n| model.format_state(&n.state))
        .filter(|s| seen.insert(s.clone()))
        .take(cap)
        .collect()
}
