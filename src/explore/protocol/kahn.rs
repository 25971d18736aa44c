//! Kahn's pass: the fast liveness check after a complete BFS (fingerprint
//! mode). The BFS counted every state's incoming edges (`CountTable`); this
//! pass re-expands the states in topological order (a state once all its
//! predecessors are done), in batches routed to shards and multi-threaded
//! like the BFS. It
//! proves the graph acyclic (every state gets done) and, going forward,
//! computes for up to 8 `eventually p` properties which states lie on a
//! path of `!p` states from an initial state (G'): `<> p` fails iff a
//! terminal state is in G'. A state left over means a cycle: the caller then
//! runs the cycle-aware DFS passes.

use super::bfs::{shard_of, SHARDS};
use super::counting::CountTable;
use super::hash::fingerprint;
use super::{Ctx, Stop};
use crate::explore::model::Model;

/// Properties one pass handles (one flag bit each).
pub const GROUP: usize = 8;
const BATCH: usize = if cfg!(test) { 64 } else { 1 << 15 };

/// What Kahn's pass found.
pub struct KahnOutcome {
    /// False if some state was never done: the graph has a cycle.
    pub acyclic: bool,
    /// Per property of the group: a terminal state of its G' exists.
    pub violated: Vec<bool>,
    pub done: u64,
}

struct Part<S> {
    buckets: Vec<Vec<(u64, u8, S)>>,
    bad: u8,
}

/// Bit k set: `props[k]` does not hold in `state`.
fn not_p<M: Model>(ctx: &Ctx<M>, props: &[usize], state: &M::State) -> u8 {
    props.iter().enumerate().fold(0, |bits, (k, &p)| {
        bits | (u8::from(!ctx.table.holds(p, ctx.model, state)) << k)
    })
}

/// Phase 1: expand done states, routing (fp, flags passed on, state).
fn expand<M: Model>(
    ctx: &Ctx<M>,
    props: &[usize],
    part: &[(M::State, u8)],
    out: &mut Part<M::State>,
) {
    let mut scratch = Vec::new();
    for (state, flags) in part {
        let buckets = &mut out.buckets;
        let listed = ctx.model.successors(state, &mut scratch, |_, next| {
            let fp = fingerprint(&next);
            let pass = flags & not_p(ctx, props, &next);
            buckets[shard_of(fp)].push((fp, pass, next));
        });
        if listed == 0 {
            out.bad |= flags;
        }
    }
}

/// Phase 2: take one edge off each successor; those with none left are done.
fn consume<S: Clone>(
    tables: &mut [CountTable],
    next: &mut [Vec<(S, u8)>],
    parts: &[Part<S>],
    first_shard: usize,
) -> bool {
    for (k, table) in tables.iter_mut().enumerate() {
        for part in parts {
            let bucket = &part.buckets[first_shard + k];
            for (i, (fp, pass, state)) in bucket.iter().enumerate() {
                if let Some(ahead) = bucket.get(i + 16) {
                    table.prefetch_fp(ahead.0);
                }
                match table.consume_edge(*fp, *pass) {
                    Some((0, flags)) => next[k].push((state.clone(), flags)),
                    Some(_) => {}
                    None => return false,
                }
            }
        }
    }
    true
}

/// Runs the pass over the counted `tables` (which it consumes).
pub fn run<M: Model>(
    ctx: &Ctx<M>,
    tables: &mut [CountTable],
    props: &[usize],
) -> Result<KahnOutcome, Stop> {
    debug_assert!(props.len() <= GROUP && tables.len() == SHARDS);
    let threads = ctx.opts.threads.clamp(1, SHARDS);
    let total: u64 = tables
        .iter()
        .map(super::visited::VisitedSet::<M::State>::len)
        .sum();
    let mut frontier: Vec<(M::State, u8)> = Vec::new();
    for init in ctx.model.init_states() {
        let fp = fingerprint(&init);
        let flags = not_p(ctx, props, &init);
        match tables[shard_of(fp)].mark(fp, flags) {
            Some((0, flags)) if !frontier.iter().any(|(s, _)| *s == init) => {
                frontier.push((init, flags))
            }
            Some(_) => {}
            None => {
                return Err(Stop(
                    "kahn: an initial state is missing from the BFS table".into(),
                ))
            }
        }
    }
    let mut parts: Vec<Part<M::State>> = (0..threads)
        .map(|_| Part {
            buckets: (0..SHARDS).map(|_| Vec::new()).collect(),
            bad: 0,
        })
        .collect();
    let mut next: Vec<Vec<(M::State, u8)>> = (0..SHARDS).map(|_| Vec::new()).collect();
    let per_worker = SHARDS.div_ceil(threads);
    let (mut done, mut bad) = (0u64, 0u8);
    // The ready states form a stack, taken a batch at a time from the top:
    // Kahn's algorithm may take ready states in any order, and last-in
    // first-out keeps the ready set small (depth-first-like), where
    // level-by-level would hold whole topological layers.
    let mut batch: Vec<(M::State, u8)> = Vec::new();
    while !frontier.is_empty() {
        let from = frontier.len().saturating_sub(BATCH);
        batch.clear();
        batch.extend(frontier.drain(from..));
        parts
            .iter_mut()
            .for_each(|p| p.buckets.iter_mut().for_each(Vec::clear));
        let chunk = batch.len().div_ceil(threads);
        let consistent = if threads == 1 {
            expand(ctx, props, &batch, &mut parts[0]);
            consume(tables, &mut next, &parts, 0)
        } else {
            std::thread::scope(|scope| {
                for (part, out) in batch.chunks(chunk).zip(parts.iter_mut()) {
                    scope.spawn(move || expand(ctx, props, part, out));
                }
            });
            let parts = &parts;
            std::thread::scope(|scope| {
                let workers: Vec<_> = tables
                    .chunks_mut(per_worker)
                    .zip(next.chunks_mut(per_worker))
                    .enumerate()
                    .map(|(w, (tabs, nexts))| {
                        scope.spawn(move || consume(tabs, nexts, parts, w * per_worker))
                    })
                    .collect();
                workers.into_iter().all(|w| w.join().unwrap_or(false))
            })
        };
        if !consistent {
            return Err(Stop(
                "kahn: a successor is missing from the BFS table (nondeterministic model?)".into(),
            ));
        }
        for part in &mut parts {
            bad |= part.bad;
            part.bad = 0;
        }
        for n in &mut next {
            frontier.append(n);
        }
        done += batch.len() as u64;
        ctx.progress.update("liveness (kahn)", done, &ctx.clock);
        if let Some(stop) = ctx.budget_stop(0) {
            return Err(stop);
        }
    }
    Ok(KahnOutcome {
        acyclic: done == total,
        violated: (0..props.len()).map(|k| bad >> k & 1 == 1).collect(),
        done,
    })
}
