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
//! With [`Live`] on (a model with a progress measure and liveness
//! properties), the BFS also verifies the measure on every transition and
//! carries the `eventually` flag bits of `flags.rs`, deciding liveness
//! without a second pass.
//!
//! Memory: per stored state, one entry in a cache-line table (every probe is
//! one cache miss, `lines.rs`): a fingerprint, 9.1-13.7 bytes; with flag
//! bits, 10.4-15.7; with an in-degree for Kahn's pass, 11.4-17.1 (a layout
//! with the counts in a separate array was tried and was 35% slower, two
//! misses per edge). Plus the current and next frontier of whole states and
//! one batch of routed successors. No parent records: only when a property is violated
//! does a second run, up to the counterexample's depth, keep them (u32
//! parent + u8 action index; wider indices spill to a map), so a
//! counterexample costs a partial re-exploration instead of 5 bytes for
//! every state of every check.

use super::batch::{self, Expand, Expanded, Keep, NextLevel, ACTION_BITS};
use super::flags::{repropagate, FlagOutcome};
use super::hash::fingerprint;
use super::parents::{Nodes, ROOT};
use super::visited::VisitedSet;
use super::{Ctx, Exploration, Stop};
use crate::explore::model::Model;

const SHARD_BITS: u32 = 4;
pub const SHARDS: usize = 1 << SHARD_BITS;
/// Frontier states per batch. A constant (not derived from the thread count)
/// so that where a budget stop falls is the same for any thread count; tiny
/// in unit tests so that small models cross batch boundaries too. Bigger
/// batches mean fewer passes over each shard's table per level, and most
/// repeats of a state come within its level (95% at host-abstract R=6), so
/// a table line is more often still cached when a repeat probes it. 2^17
/// (about 16 MB of routed successors on host-abstract) against 2^15 took
/// host-abstract R=7 from 11.8 s to 9.4 s on one thread; 2^19 (about 70 MB)
/// against 2^17 took the insert phase from 2.15 s to 1.91 s (R=7 4.33 s to
/// 4.14 s) and larger was no better.
const BATCH: usize = if cfg!(test) { 64 } else { 1 << 19 };
/// The visited-set shard of a fingerprint (its top bits).
#[inline(always)]
pub fn shard_of(fp: u64) -> usize {
    (fp >> (64 - SHARD_BITS)) as usize
}

/// The one-pass liveness check a BFS carries (see `flags.rs`): the table
/// indices of the tracked `eventually` properties (at most 8, one flag bit
/// each) and whether to verify the model's progress measure. Off by default.
#[derive(Clone, Copy, Default)]
pub struct Live<'a> {
    pub props: &'a [usize],
    pub ranked: bool,
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
    live: Live<'_>,
) -> (Exploration, Vec<V>, Option<FlagOutcome>) {
    let mut r = run(ctx, &new_table, Nodes::default(), None, live);
    if let Some(&last) = r.found.iter().flatten().max() {
        let recorded = record_parents(ctx, &new_table, last);
        for (i, node) in r.found.iter().enumerate() {
            r.x.found[i] = node.map(|n| recorded.path(n));
        }
    }
    let mut x = r.x;
    x.visited_bytes = r.tables.iter().map(|t| t.heap_bytes()).sum::<u64>() + r.nodes.bytes();
    x.notes.push(format!(
        "bfs: {} levels, {} transitions, {} thread(s); visited set + parent records {:.1} \
         bytes/state (parent records are only kept by a re-run that recovers a \
         counterexample's path)",
        r.levels,
        x.transitions,
        ctx.opts.threads.clamp(1, SHARDS),
        x.visited_bytes as f64 / x.states.max(1) as f64
    ));
    let mut outcome = None;
    if live.ranked && x.stopped.is_none() && !x.stopped_early {
        let mut flags = r.live;
        if flags.acyclic {
            if let Err(stop) = repropagate(ctx, live.props, &mut r.tables, r.gains, &mut flags) {
                x.stopped = Some(stop);
            }
        }
        outcome = Some(flags);
    }
    (x, r.tables, outcome)
}

/// Re-runs the BFS with parent records until node `last` is numbered.
fn record_parents<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: &impl Fn() -> V,
    last: u32,
) -> Nodes {
    run(
        ctx,
        new_table,
        Nodes::recording(),
        Some(last),
        Live::default(),
    )
    .nodes
}

/// Node ids (in frontier order) of the first violation of each property.
type Found = Vec<Option<u32>>;

/// What one BFS run produced.
struct Run<S, V> {
    x: Exploration,
    tables: Vec<V>,
    nodes: Nodes,
    found: Found,
    levels: u64,
    /// The one-pass liveness result so far (before re-propagation).
    live: FlagOutcome,
    /// States that gained flag bits after they were stored.
    gains: Vec<(S, u8)>,
}

/// The BFS proper. With `until`, a re-run for parent records: it stops as
/// soon as node `until` is numbered, ignoring budgets (the first run stayed
/// within them up to there) and property checks.
fn run<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: &impl Fn() -> V,
    mut nodes: Nodes,
    until: Option<u32>,
    live: Live<'_>,
) -> Run<M::State, V> {
    let props = ctx.table.len();
    let threads = ctx.opts.threads.clamp(1, SHARDS);
    let mut x = Exploration::new(props);
    let mut tables: Vec<V> = (0..SHARDS).map(|_| new_table()).collect();
    let record = nodes.record;
    // Every tracked property's G' starts at the initial states.
    let all_flags = ((1u16 << live.props.len()) - 1) as u8;
    // The level being expanded, as lists whose concatenation is in node
    // order: the shards' new states of the level before (read in place, not
    // copied into one list), or the initial states.
    let mut frontier: Vec<NextLevel<M::State>> =
        (0..SHARDS).map(|_| NextLevel::default()).collect();
    for (i, state) in ctx.model.init_states().into_iter().enumerate() {
        let fp = fingerprint(&state);
        if tables[shard_of(fp)].insert(fp, &state) {
            nodes.push(ROOT, i as u32);
            frontier[0].states.push(state);
            if live.ranked {
                frontier[0].flags.push(all_flags);
            }
        }
    }
    let safety = ctx.table.safety();
    let mut skip = vec![until.is_some(); props];
    let mut found: Vec<Option<u32>> = vec![None; props];
    let mut expanded: Vec<Expanded<M::State>> =
        (0..threads).map(|_| Expanded::new(props)).collect();
    let mut next: Vec<NextLevel<M::State>> = (0..SHARDS).map(|_| NextLevel::default()).collect();
    let mut flags = FlagOutcome {
        acyclic: true,
        ..FlagOutcome::default()
    };
    let mut gains = Vec::new();
    let per_worker = SHARDS.div_ceil(threads);
    let (mut depth, mut level_first) = (0u64, 0u32);
    'levels: while frontier.iter().any(|level| !level.states.is_empty()) {
        if until.is_some_and(|last| nodes.len() > u64::from(last)) {
            break;
        }
        let successors = ctx.opts.max_depth == 0 || depth < ctx.opts.max_depth;
        let mut cut = false;
        let width: usize = frontier.iter().map(|level| level.states.len()).sum();
        for b in 0..width.div_ceil(BATCH) {
            let batch = b * BATCH..((b + 1) * BATCH).min(width);
            let pending = ctx.table.pending(&skip);
            expanded.iter_mut().for_each(Expanded::reset);
            let how = Expand {
                live,
                pending: &pending,
                successors,
            };
            let keep = Keep {
                record,
                live: live.ranked,
            };
            if threads == 1 {
                for part in batch::parts(&frontier, batch, level_first) {
                    batch::expand(ctx, how, part, &mut expanded[0]);
                }
                batch::insert_buckets(0..SHARDS, &mut tables, &mut next, &expanded, keep);
            } else {
                let chunk = batch.len().div_ceil(threads);
                std::thread::scope(|scope| {
                    for (t, ex) in expanded
                        .iter_mut()
                        .enumerate()
                        .take(batch.len().div_ceil(chunk))
                    {
                        let from = batch.start + t * chunk;
                        let range = from..(from + chunk).min(batch.end);
                        let parts = batch::parts(&frontier, range, level_first);
                        scope.spawn(move || {
                            for part in parts {
                                batch::expand(ctx, how, part, ex);
                            }
                        });
                    }
                });
                let expanded = &expanded;
                std::thread::scope(|scope| {
                    let workers = tables
                        .chunks_mut(per_worker)
                        .zip(next.chunks_mut(per_worker));
                    for (k, (tabs, nexts)) in workers.enumerate() {
                        let range = k * per_worker..k * per_worker + tabs.len();
                        scope.spawn(move || {
                            batch::insert_buckets(range, tabs, nexts, expanded, keep)
                        });
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
                flags.violated |= ex.live_bad;
                flags.acyclic &= !ex.rank_broken;
                if ex.too_wide {
                    x.stopped = Some(Stop(format!(
                        "a state has {} actions or more: action indices are limited to 24 bits",
                        1u32 << ACTION_BITS
                    )));
                    break 'levels;
                }
            }
            let queued: u64 = next.iter().map(|n| n.states.len() as u64).sum();
            x.states = nodes.len() + queued;
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
        for level in &mut next {
            if !record {
                nodes.skip(level.states.len());
            }
            for (parent, action) in level.nodes.drain(..) {
                nodes.push(parent, action);
            }
            if flags.acyclic {
                gains.append(&mut level.gains);
            } else {
                level.gains.clear();
            }
        }
        // The new states become the frontier where they are; the old
        // frontier's lists are emptied (keeping their memory) for the next.
        std::mem::swap(&mut frontier, &mut next);
        for level in &mut next {
            level.states.clear();
            level.flags.clear();
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
    Run {
        x,
        tables,
        nodes,
        found,
        levels: depth,
        live: flags,
        gains,
    }
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
            let (x, _, _) = explore(&ctx, super::super::visited::FpTable::new, Live::default());
            let r = run(
                &ctx,
                &super::super::visited::FpTable::new,
                Nodes::recording(),
                None,
                Live::default(),
            );
            let mut y = r.x;
            for (i, node) in r.found.into_iter().enumerate() {
                y.found[i] = node.map(|n| r.nodes.path(n));
            }
            assert_eq!(x.states, y.states);
            let found: Vec<_> = x.found.iter().flatten().collect();
            assert!(found.len() >= 3, "{:?}", x.found);
            assert!(found.iter().any(|c| c.actions.len() > 10));
            assert_eq!(x.found, y.found);
        }
    }
}
