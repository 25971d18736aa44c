//! Breadth-first search: level-synchronous, with the visited set split into
//! 16 shards by fingerprint. Each batch of the frontier is expanded in two
//! phases: (1) threads expand contiguous parts of the batch and route every
//! successor to its shard's bucket; (2) threads own disjoint shard ranges and
//! insert the buckets in frontier order. The first discoverer of a state is
//! therefore the first in frontier order, whatever the thread count, so state
//! counts, parents, counterexamples (shortest, the first in frontier order
//! at the shortest depth) and the next frontier's order are all independent
//! of `threads`.
//!
//! Memory: per stored state, a fingerprint slot (8 bytes in cache-line
//! buckets at 75-94% load, so 8.5-10.7 bytes; 12-byte linear-probing
//! slots with an in-degree, 13.3-16.7 bytes, when liveness properties need
//! Kahn's pass: a bucketed layout with the counts in a parallel array was
//! tried and was 35% slower, two cache misses per edge instead of one),
//! plus the current and next frontier of whole states and one batch of
//! routed successors. No parent records: only when a property is violated
//! does a second run, up to the counterexample's depth, keep them (u32
//! parent + u8 action index; wider indices spill to a map), so a
//! counterexample costs a partial re-exploration instead of 5 bytes for
//! every state of every check.

use std::collections::BTreeMap;
use std::ops::Range;

use super::hash::fingerprint;
use super::visited::VisitedSet;
use super::{Counterexample, Ctx, Exploration, Stop};
use crate::explore::model::Model;

const SHARD_BITS: u32 = 4;
pub const SHARDS: usize = 1 << SHARD_BITS;
/// Frontier states per batch. A constant (not derived from the thread count)
/// so that where a budget stop falls is the same for any thread count; tiny
/// in unit tests so that small models cross batch boundaries too.
const BATCH: usize = if cfg!(test) { 64 } else { 1 << 15 };
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

/// Node numbering, and (when `record`) parent records, one per stored
/// state, in node-id order (level by level).
#[derive(Default)]
struct Nodes {
    record: bool,
    count: u64,
    parents: Chunked<u32>,
    actions: Chunked<u8>,
    /// Action (or initial-state) indices >= 255, by node.
    wide: BTreeMap<u32, u32>,
}

impl Nodes {
    fn recording() -> Self {
        Nodes {
            record: true,
            ..Nodes::default()
        }
    }
    fn len(&self) -> u64 {
        self.count
    }
    /// Numbers `n` states without recording their parents.
    fn skip(&mut self, n: usize) {
        debug_assert!(!self.record);
        self.count += n as u64;
    }
    fn push(&mut self, parent: u32, action: u32) {
        self.count += 1;
        if !self.record {
            return;
        }
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
    record: bool,
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
                    if record {
                        new_nodes[k].push((succ.parent, succ.action));
                    }
                }
            }
        }
    }
}

/// Runs the BFS; `new_table` makes one (empty) shard of the visited set.
/// Returns the shards too (Kahn's pass reuses counting tables).
///
/// No parent records are kept (they cost 5 bytes a state): if a property
/// was violated, [`record_parents`] re-runs the (deterministic) BFS with
/// records on, up to the depth of the deepest counterexample, and the paths
/// come from there: the same paths a single recording run would give.
pub fn explore<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: impl Fn() -> V,
) -> (Exploration, Vec<V>) {
    let (mut x, tables, nodes, found, levels) = run(ctx, &new_table, Nodes::default(), None);
    if let Some(&last) = found.iter().flatten().max() {
        let recorded = record_parents(ctx, &new_table, last);
        for (i, node) in found.into_iter().enumerate() {
            x.found[i] = node.map(|n| recorded.path(n));
        }
    }
    x.visited_bytes = tables.iter().map(|t| t.heap_bytes()).sum::<u64>() + nodes.bytes();
    x.notes.push(format!(
        "bfs: {} levels, {} transitions, {} thread(s); visited set + parent records {:.1} \
         bytes/state (parent records are only kept by a re-run that recovers a \
         counterexample's path)",
        levels,
        x.transitions,
        ctx.opts.threads.clamp(1, SHARDS),
        x.visited_bytes as f64 / x.states.max(1) as f64
    ));
    (x, tables)
}

/// Re-runs the BFS with parent records until node `last` is numbered.
fn record_parents<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: &impl Fn() -> V,
    last: u32,
) -> Nodes {
    run(ctx, new_table, Nodes::recording(), Some(last)).2
}

/// Node ids (in frontier order) of the first violation of each property.
type Found = Vec<Option<u32>>;

/// The BFS proper. With `until`, a re-run for parent records: it stops as
/// soon as node `until` is numbered, ignoring budgets (the first run stayed
/// within them up to there) and property checks.
fn run<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: &impl Fn() -> V,
    mut nodes: Nodes,
    until: Option<u32>,
) -> (Exploration, Vec<V>, Nodes, Found, u64) {
    let props = ctx.table.len();
    let threads = ctx.opts.threads.clamp(1, SHARDS);
    let mut x = Exploration::new(props);
    let mut tables: Vec<V> = (0..SHARDS).map(|_| new_table()).collect();
    let record = nodes.record;
    let mut frontier = Vec::new();
    for (i, state) in ctx.model.init_states().into_iter().enumerate() {
        let fp = fingerprint(&state);
        if tables[shard_of(fp)].insert(fp, &state) {
            nodes.push(ROOT, i as u32);
            frontier.push(state);
        }
    }
    let safety = ctx.table.safety();
    let mut skip = vec![until.is_some(); props];
    let mut found: Vec<Option<u32>> = vec![None; props];
    let mut expanded: Vec<Expanded<M::State>> =
        (0..threads).map(|_| Expanded::new(props)).collect();
    let mut new_states: Vec<Vec<M::State>> = (0..SHARDS).map(|_| Vec::new()).collect();
    let mut new_nodes: Vec<Vec<(u32, u32)>> = (0..SHARDS).map(|_| Vec::new()).collect();
    let per_worker = SHARDS.div_ceil(threads);
    let (mut depth, mut level_first) = (0u64, 0u32);
    'levels: while !frontier.is_empty() {
        if until.is_some_and(|last| nodes.len() > u64::from(last)) {
            break;
        }
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
                    record,
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
                        scope.spawn(move || insert(range, tabs, states, nds, expanded, record));
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
            let pending: u64 = new_states.iter().map(|n| n.len() as u64).sum();
            x.states = nodes.len() + pending;
            if until.is_some() {
                continue;
            }
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
            if !record {
                nodes.skip(states.len());
            }
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
    (x, tables, nodes, found, depth)
}

/// Node ids are u32: stop (inconclusive) before they would overflow.
fn node_limit(states: u64) -> Option<Stop> {
    (states >= u64::from(ROOT) - 1).then(|| {
        Stop(format!(
            "node index limit: {states} states is the most one BFS can number"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::model::Property;
    use crate::explore::protocol::{PropTable, ProtocolOptions};
    use crate::explore::CheckOptions;
    use crate::report::{Bounds, Stopwatch};

    /// A 40x40 grid walked by +1 / +3 steps, with invariants that fail at
    /// different depths and in different batches.
    struct Walk;

    impl Model for Walk {
        type State = (u8, u8);
        type Action = u8;
        fn name(&self) -> String {
            "walk".into()
        }
        fn variant(&self) -> String {
            "test".into()
        }
        fn bounds(&self) -> Bounds {
            Bounds::default()
        }
        fn init_states(&self) -> Vec<(u8, u8)> {
            vec![(0, 0), (1, 0)]
        }
        fn actions(&self, s: &(u8, u8), out: &mut Vec<u8>) {
            out.extend((0..4).filter(|&a| step(*s, a).is_some()));
        }
        fn next_state(&self, s: &(u8, u8), a: &u8) -> Option<(u8, u8)> {
            step(*s, *a)
        }
        fn properties(&self) -> Vec<Property<Self>> {
            vec![
                Property::always("sum", |_, s: &(u8, u8)| s.0 + s.1 < 50),
                Property::always("corner", |_, s: &(u8, u8)| *s != (7, 2)),
                Property::always("product", |_, s: &(u8, u8)| {
                    u32::from(s.0) * u32::from(s.1) != 300
                }),
            ]
        }
        fn at_rest(&self, _: &(u8, u8)) -> bool {
            true
        }
    }

    fn step((x, y): (u8, u8), a: u8) -> Option<(u8, u8)> {
        let (x, y) = match a {
            0 => (x + 1, y),
            1 => (x, y + 1),
            2 => (x + 3, y),
            _ => (x, y + 3),
        };
        (x < 40 && y < 40).then_some((x, y))
    }

    #[test]
    fn recovered_paths_equal_the_paths_of_a_recording_run() {
        for threads in [1, 2] {
            let opts = CheckOptions {
                threads,
                ..CheckOptions::default()
            };
            let popts = ProtocolOptions::default();
            let ctx = Ctx {
                model: &Walk,
                table: PropTable::new(Walk.properties(), true),
                opts: &opts,
                popts: &popts,
                clock: Stopwatch::start(),
                progress: super::super::Progress::new(false),
            };
            let (x, _) = explore(&ctx, super::super::visited::FpTable::new);
            let (mut y, _, nodes, found, _) = run(
                &ctx,
                &super::super::visited::FpTable::new,
                Nodes::recording(),
                None,
            );
            for (i, node) in found.into_iter().enumerate() {
                y.found[i] = node.map(|n| nodes.path(n));
            }
            assert_eq!(x.states, y.states);
            let found: Vec<_> = x.found.iter().flatten().collect();
            assert!(found.len() >= 3, "{:?}", x.found);
            assert!(found.iter().any(|c| c.actions.len() > 10));
            assert_eq!(x.found, y.found);
        }
    }
}
