//! Breadth-first search: level-synchronous, with the visited set split into
//! 256 shards by fingerprint. Each batch of the frontier is expanded in two
//! phases: (1) threads expand contiguous parts of the batch and route every
//! successor to its shard's bucket; (2) threads own disjoint shard ranges and
//! insert the buckets in frontier order. The first discoverer of a state is
//! therefore the first in frontier order, whatever the thread count, so state
//! counts, parents, counterexamples (shortest, the first in frontier order
//! at the shortest depth) and the next frontier's order are all independent
//! of `threads`.
//!
//! Memory: per stored state, a fingerprint slot (8 bytes at 72-90% load) and
//! a parent record (u32 parent + u8 action index; wider indices spill to a
//! map), plus the current and next frontier of whole states.

use std::collections::BTreeMap;
use std::ops::Range;

use super::hash::fingerprint;
use super::visited::VisitedSet;
use super::{Counterexample, Ctx, Exploration, Stop};
use crate::explore::model::Model;

const SHARD_BITS: u32 = 4;
pub const SHARDS: usize = 1 << SHARD_BITS;
/// Frontier states per batch. A constant (not derived from the thread count)
/// so that where a budget stop falls is the same for any thread count.
const BATCH: usize = 1 << 15;
/// How many bucket entries ahead phase 2 prefetches table slots.
const PREFETCH: usize = 16;
/// Parent of an initial state.
const ROOT: u32 = u32::MAX;

/// The visited-set shard of a fingerprint (its top bits).
#[inline(always)]
pub fn shard_of(fp: u64) -> usize {
    (fp >> (64 - SHARD_BITS)) as usize
}

/// A successor routed to its shard: fingerprint, parent node, action index, state.
struct Succ<S> {
    fp: u64,
    parent: u32,
    action: u32,
    state: S,
}

/// An append-only vector in fixed-size chunks: no doubling, so it never
/// holds more than one chunk of slack and never copies on growth.
struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T: Copy> Chunked<T> {
    const CHUNK: usize = 1 << 16;
    fn push(&mut self, value: T) {
        if self.len & (Self::CHUNK - 1) == 0 {
            self.chunks.push(Vec::with_capacity(Self::CHUNK));
        }
        self.chunks[self.len / Self::CHUNK].push(value);
        self.len += 1;
    }
    fn get(&self, index: usize) -> T {
        self.chunks[index / Self::CHUNK][index % Self::CHUNK]
    }
    fn bytes(&self) -> u64 {
        (self.chunks.iter().map(Vec::capacity).sum::<usize>() * std::mem::size_of::<T>()) as u64
    }
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

/// Parent records, one per stored state, in node-id order (level by level).
#[derive(Default)]
struct Nodes {
    parents: Chunked<u32>,
    actions: Chunked<u8>,
    /// Action (or initial-state) indices >= 255, by node.
    wide: BTreeMap<u32, u32>,
}

impl Nodes {
    fn len(&self) -> u64 {
        self.parents.len as u64
    }
    fn push(&mut self, parent: u32, action: u32) {
        let node = self.parents.len as u32;
        self.parents.push(parent);
        if action < 255 {
            self.actions.push(action as u8);
        } else {
            self.actions.push(255);
            self.wide.insert(node, action);
        }
    }
    fn action(&self, node: u32) -> u32 {
        match self.actions.get(node as usize) {
            255 => self.wide[&node],
            a => u32::from(a),
        }
    }
    /// The path from an initial state to `node`.
    fn path(&self, mut node: u32) -> Counterexample {
        let mut actions = Vec::new();
        loop {
            let parent = self.parents.get(node as usize);
            let action = self.action(node);
            if parent == ROOT {
                actions.reverse();
                return Counterexample {
                    init: action as usize,
                    actions,
                    loop_to: None,
                };
            }
            actions.push(action);
            node = parent;
        }
    }
    fn bytes(&self) -> u64 {
        self.parents.bytes() + self.actions.bytes() + (self.wide.len() * 16) as u64
    }
}

/// What one worker produced while expanding its part of a batch.
struct Expanded<S> {
    buckets: Vec<Vec<Succ<S>>>,
    /// Per table index, the first node (in frontier order) violating it.
    found: Vec<Option<u32>>,
    reached: Vec<bool>,
    transitions: u64,
    /// A state at the depth bound had successors that were not explored.
    cut: bool,
}

impl<S> Expanded<S> {
    fn new(props: usize) -> Self {
        Expanded {
            buckets: (0..SHARDS).map(|_| Vec::new()).collect(),
            found: vec![None; props],
            reached: vec![false; props],
            transitions: 0,
            cut: false,
        }
    }
    fn reset(&mut self) {
        self.buckets.iter_mut().for_each(Vec::clear);
        self.found.iter_mut().for_each(|f| *f = None);
        self.reached.iter_mut().for_each(|r| *r = false);
        self.transitions = 0;
        self.cut = false;
    }
}

/// Phase 1: evaluate the per-state checks on `part` (nodes from `first`) and
/// route its successors to shard buckets.
fn expand<M: Model>(
    ctx: &Ctx<M>,
    part: &[M::State],
    first: u32,
    skip: &[bool],
    successors: bool,
    ex: &mut Expanded<M::State>,
) {
    let mut actions = Vec::new();
    for (k, state) in part.iter().enumerate() {
        let node = first + k as u32;
        actions.clear();
        ctx.model.actions(state, &mut actions);
        let (found, reached) = (&mut ex.found, &mut ex.reached);
        ctx.table.evaluate(
            ctx.model,
            state,
            actions.is_empty(),
            skip,
            |i| {
                found[i].get_or_insert(node);
            },
            |i| reached[i] = true,
        );
        if !successors {
            ex.cut |= !actions.is_empty();
            continue;
        }
        ex.transitions += actions.len() as u64;
        for (a, action) in actions.iter().enumerate() {
            if let Some(next) = ctx.model.next_state(state, action) {
                let fp = fingerprint(&next);
                ex.buckets[shard_of(fp)].push(Succ {
                    fp,
                    parent: node,
                    action: a as u32,
                    state: next,
                });
            }
        }
    }
}

/// Phase 2: insert the buckets of `shards` (owned by this worker), in
/// frontier order, keeping the states that are new.
fn insert<S: Clone, V: VisitedSet<S>>(
    shards: Range<usize>,
    tables: &mut [V],
    new_states: &mut [Vec<S>],
    new_nodes: &mut [Vec<(u32, u32)>],
    expanded: &[Expanded<S>],
) {
    for (k, shard) in shards.enumerate() {
        let table = &mut tables[k];
        for ex in expanded {
            let bucket = &ex.buckets[shard];
            for (i, succ) in bucket.iter().enumerate() {
                if PREFETCH > 0 {
                    if let Some(ahead) = bucket.get(i + PREFETCH) {
                        table.prefetch(ahead.fp);
                    }
                }
                if table.insert_edge(succ.fp, &succ.state) {
                    new_states[k].push(succ.state.clone());
                    new_nodes[k].push((succ.parent, succ.action));
                }
            }
        }
    }
}

/// Runs the BFS; `new_table` makes one (empty) shard of the visited set.
/// Returns the shards too (Kahn's pass reuses counting tables).
pub fn explore<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: impl Fn() -> V,
) -> (Exploration, Vec<V>) {
    let props = ctx.table.len();
    let threads = ctx.opts.threads.clamp(1, SHARDS);
    let mut x = Exploration::new(props);
    let mut tables: Vec<V> = (0..SHARDS).map(|_| new_table()).collect();
    let mut nodes = Nodes::default();
    let mut frontier = Vec::new();
    for (i, state) in ctx.model.init_states().into_iter().enumerate() {
        let fp = fingerprint(&state);
        if tables[shard_of(fp)].insert(fp, &state) {
            nodes.push(ROOT, i as u32);
            frontier.push(state);
        }
    }
    let safety = ctx.table.safety();
    let mut skip = vec![false; props];
    let mut found: Vec<Option<u32>> = vec![None; props];
    let mut expanded: Vec<Expanded<M::State>> =
        (0..threads).map(|_| Expanded::new(props)).collect();
    let mut new_states: Vec<Vec<M::State>> = (0..SHARDS).map(|_| Vec::new()).collect();
    let mut new_nodes: Vec<Vec<(u32, u32)>> = (0..SHARDS).map(|_| Vec::new()).collect();
    let per_worker = SHARDS.div_ceil(threads);
    let (mut depth, mut level_first) = (0u64, 0u32);
    'levels: while !frontier.is_empty() {
        let successors = ctx.opts.max_depth == 0 || depth < ctx.opts.max_depth;
        let mut cut = false;
        for (b, batch) in frontier.chunks(BATCH).enumerate() {
            let first = level_first + (b * BATCH) as u32;
            expanded.iter_mut().for_each(Expanded::reset);
            let chunk = batch.len().div_ceil(threads);
            if threads == 1 {
                expand(ctx, batch, first, &skip, successors, &mut expanded[0]);
            } else {
                let skip = &skip;
                std::thread::scope(|scope| {
                    for (t, (part, ex)) in batch.chunks(chunk).zip(expanded.iter_mut()).enumerate()
                    {
                        let at = first + (t * chunk) as u32;
                        scope.spawn(move || expand(ctx, part, at, skip, successors, ex));
                    }
                });
            }
            if threads == 1 {
                insert(
                    0..SHARDS,
                    &mut tables,
                    &mut new_states,
                    &mut new_nodes,
                    &expanded,
                );
            } else {
                let expanded = &expanded;
                std::thread::scope(|scope| {
                    let workers = tables
                        .chunks_mut(per_worker)
                        .zip(new_states.chunks_mut(per_worker))
                        .zip(new_nodes.chunks_mut(per_worker));
                    for (k, ((tabs, states), nds)) in workers.enumerate() {
                        let range = k * per_worker..k * per_worker + tabs.len();
                        scope.spawn(move || insert(range, tabs, states, nds, expanded));
                    }
                });
            }
            for ex in &expanded {
                for i in 0..props {
                    if let Some(node) = ex.found[i] {
                        found[i] = Some(found[i].map_or(node, |f| f.min(node)));
                        skip[i] = true;
                    }
                    skip[i] |= ex.reached[i];
                    x.reached[i] |= ex.reached[i];
                }
                x.transitions += ex.transitions;
                cut |= ex.cut;
            }
            let pending: u64 = new_nodes.iter().map(|n| n.len() as u64).sum();
            x.states = nodes.len() + pending;
            ctx.progress.update("bfs", x.states, &ctx.clock);
            if let Some(stop) = ctx.budget_stop(x.states).or_else(|| node_limit(x.states)) {
                x.stopped = Some(stop);
                break 'levels;
            }
            let any_found = found.iter().any(Option::is_some);
            if (ctx.popts.stop_at_first && any_found)
                || (!safety.is_empty() && safety.iter().all(|&i| found[i].is_some()))
            {
                x.stopped_early = true;
                break 'levels;
            }
        }
        level_first = nodes.len() as u32;
        frontier.clear();
        for (states, nds) in new_states.iter_mut().zip(new_nodes.iter_mut()) {
            frontier.append(states);
            for (parent, action) in nds.drain(..) {
                nodes.push(parent, action);
            }
        }
        depth += 1;
        if cut {
            x.stopped = Some(Stop(format!(
                "depth bound {} reached: states at that depth have unexplored successors",
                ctx.opts.max_depth
            )));
            break;
        }
    }
    for (i, node) in found.into_iter().enumerate() {
        x.found[i] = node.map(|n| nodes.path(n));
    }
    let table_bytes: u64 = tables.iter().map(|t| t.heap_bytes()).sum();
    x.visited_bytes = table_bytes + nodes.bytes();
    x.notes.push(format!(
        "bfs: {depth} levels, {} transitions, {threads} thread(s); visited set + parent records \
         {:.1} bytes/state",
        x.transitions,
        x.visited_bytes as f64 / x.states.max(1) as f64
    ));
    (x, tables)
}

/// Node ids are u32: stop (inconclusive) before they would overflow.
fn node_limit(states: u64) -> Option<Stop> {
    (states >= u64::from(ROOT) - 1).then(|| {
        Stop(format!(
            "node index limit: {states} states is the most one BFS can number"
        ))
    })
}
