//! One batch of the BFS (`bfs.rs`): expanding frontier states into
//! fingerprinted successors and inserting those into the sharded visited
//! set, in frontier order per shard.
//!
//! [`expand`] writes every successor to its shard's bucket, then
//! [`insert_buckets`] inserts the buckets shard by shard, in the order the
//! successors were made (frontier order), so the first discoverer of a state,
//! the next level's order and every count do not depend on how the batch
//! was split among threads.
//!
//! Why buckets rather than inserting each successor as it is made: inserting
//! one shard at a time keeps that shard's table (a sixteenth of the visited
//! set) hot in the caches and TLB. A fused path that inserted each successor
//! a few successors after it was made, through a ring with its table line
//! prefetched, was tried: host-abstract R=6 on one thread took 3.4 s
//! against 2.8 s routed, with the time on the prefetches into all 16 tables.
//! Also tried and dropped: inserting a shard's bucket sorted by home line
//! (a stable counting sort, so first discoverers stay first) made R=6 take
//! 1.9 s against 1.1 s, the bucket now read out of order; and building the
//! next frontier in discovery order (a merge of the shards by parent and
//! action) so that a state's duplicates arrive close together: the inserts
//! took as long as before (2.0 s against 2.1 s at R=7) and the merge cost
//! 10%. Nor did a per-level filter per shard (a small table of the
//! fingerprints offered this level, answering repeats before the big
//! table): 95% of repeats come within a level, but the filter's own probes
//! cost more than the table misses they saved, and the insert phase got
//! slower (2.8 s against 2.2 s at R=7, batches of 2^17).

use std::ops::Range;

use super::bfs::{shard_of, Live, SHARDS};
use super::flags::not_p;
use super::hash::fingerprint;
use super::props::Pending;
use super::visited::VisitedSet;
use super::Ctx;
use crate::explore::model::Model;

/// How many bucket entries ahead phase 2 prefetches table slots.
const PREFETCH: usize = 16;
/// Action indices travel in the low 24 bits of `Succ::meta`, flags above.
pub const ACTION_BITS: u32 = 24;

/// A successor routed to its shard: fingerprint, parent node, action index
/// (low 24 bits of `meta`) and the liveness flags it passes on (high 8), state.
struct Succ<S> {
    fp: u64,
    parent: u32,
    meta: u32,
    state: S,
}

/// What expanding a part of a batch found (besides the successors).
pub struct Expanded<S> {
    /// Per shard, the routed successors.
    buckets: [Vec<Succ<S>>; SHARDS],
    /// Per table index, the first node (in frontier order) violating it.
    pub found: Vec<Option<u32>>,
    pub reached: Vec<bool>,
    pub transitions: u64,
    /// A state at the depth bound had successors that were not explored.
    pub cut: bool,
    /// Flag bits that reached a terminal state.
    pub live_bad: u8,
    /// Some transition did not increase the progress measure.
    pub rank_broken: bool,
    /// Some state had 2^24 actions or more (its indices do not fit `meta`).
    pub too_wide: bool,
}

impl<S> Expanded<S> {
    pub fn new(props: usize) -> Self {
        Expanded {
            buckets: std::array::from_fn(|_| Vec::new()),
            found: vec![None; props],
            reached: vec![false; props],
            transitions: 0,
            cut: false,
            live_bad: 0,
            rank_broken: false,
            too_wide: false,
        }
    }
    pub fn reset(&mut self) {
        self.buckets.iter_mut().for_each(Vec::clear);
        self.found.iter_mut().for_each(|f| *f = None);
        self.reached.iter_mut().for_each(|r| *r = false);
        self.transitions = 0;
        self.cut = false;
    }
}

/// One part of a batch to expand: its states, the flags they arrived with
/// (empty when no liveness is carried) and the node id of the first.
#[derive(Clone, Copy)]
pub struct Part<'a, S> {
    pub states: &'a [S],
    pub flags: &'a [u8],
    pub first: u32,
}

/// The parts of a level covering node positions `range` (counted from the
/// level's first node, `level_first`): the level is `lists`' states in order,
/// each list with the flags its states arrived with.
pub fn parts<S>(lists: &[NextLevel<S>], range: Range<usize>, level_first: u32) -> Vec<Part<'_, S>> {
    let mut parts = Vec::new();
    let mut at = 0;
    for list in lists {
        let len = list.states.len();
        let (from, to) = (range.start.max(at), range.end.min(at + len));
        if from < to {
            let inside = from - at..to - at;
            parts.push(Part {
                states: &list.states[inside.clone()],
                flags: list.flags.get(inside).unwrap_or(&[]),
                first: level_first + from as u32,
            });
        }
        at += len;
    }
    parts
}

/// How a part is expanded: the per-state checks still pending and whether
/// states get successors (false at the depth bound).
#[derive(Clone, Copy)]
pub struct Expand<'a> {
    pub live: Live<'a>,
    pub pending: &'a Pending,
    pub successors: bool,
}

/// Phase 1: evaluates the per-state checks on `part` and routes its
/// successors to the shard buckets of `ex`.
pub fn expand<M: Model>(
    ctx: &Ctx<M>,
    how: Expand<'_>,
    part: Part<'_, M::State>,
    ex: &mut Expanded<M::State>,
) {
    let live = how.live;
    let mut scratch = Vec::new();
    for (k, state) in part.states.iter().enumerate() {
        let node = part.first + k as u32;
        // The bits this state passes on: it is in G' and p does not hold here.
        let pass = match part.flags.get(k) {
            Some(&arrived) => arrived & not_p(ctx, live.props, state),
            None => 0,
        };
        let listed = if how.successors {
            let rank = if live.ranked {
                ctx.model.progress(state)
            } else {
                None
            };
            let (buckets, mut rank_broken) = (&mut ex.buckets, false);
            let listed = ctx.model.successors(state, &mut scratch, |a, next| {
                if live.ranked {
                    rank_broken |= ctx.model.progress(&next) <= rank;
                }
                let fp = fingerprint(&next);
                buckets[shard_of(fp)].push(Succ {
                    fp,
                    parent: node,
                    meta: a as u32 | u32::from(pass) << ACTION_BITS,
                    state: next,
                });
            });
            ex.rank_broken |= rank_broken;
            ex.too_wide |= listed >= 1 << ACTION_BITS;
            ex.transitions += listed as u64;
            listed
        } else {
            // At the depth bound only whether the state has actions matters.
            scratch.clear();
            ctx.model.actions(state, &mut scratch);
            ex.cut |= !scratch.is_empty();
            scratch.len()
        };
        let (found, reached) = (&mut ex.found, &mut ex.reached);
        ctx.table.evaluate(
            ctx.model,
            state,
            listed == 0,
            how.pending,
            |i| {
                found[i].get_or_insert(node);
            },
            |i| reached[i] = true,
        );
        if listed == 0 {
            ex.live_bad |= pass;
        }
    }
}

/// What phase 2 collects per shard for the next level.
pub struct NextLevel<S> {
    pub states: Vec<S>,
    /// The flags each new state arrived with (when liveness is carried).
    pub flags: Vec<u8>,
    /// `(parent, action)` per new state (when recording).
    pub nodes: Vec<(u32, u32)>,
    /// States that gained flag bits after they were first stored.
    pub gains: Vec<(S, u8)>,
}

impl<S> Default for NextLevel<S> {
    fn default() -> Self {
        NextLevel {
            states: Vec::new(),
            flags: Vec::new(),
            nodes: Vec::new(),
            gains: Vec::new(),
        }
    }
}

/// What an insert keeps: parent records, liveness flags.
#[derive(Clone, Copy)]
pub struct Keep {
    pub record: bool,
    pub live: bool,
}

/// Phase 2: inserts the buckets of `shards` (owned by this
/// worker; `tables` and `next` are those shards' own), in frontier order.
pub fn insert_buckets<S: Clone, V: VisitedSet<S>>(
    shards: Range<usize>,
    tables: &mut [V],
    next: &mut [NextLevel<S>],
    expanded: &[Expanded<S>],
    keep: Keep,
) {
    for (k, shard) in shards.enumerate() {
        let (table, next) = (&mut tables[k], &mut next[k]);
        for ex in expanded {
            let bucket = &ex.buckets[shard];
            for (i, succ) in bucket.iter().enumerate() {
                if let Some(ahead) = bucket.get(i + PREFETCH) {
                    table.prefetch(ahead.fp);
                }
                let flags = (succ.meta >> ACTION_BITS) as u8;
                let (new, gained) = if keep.live {
                    table.insert_flagged(succ.fp, &succ.state, flags)
                } else {
                    (table.insert_edge(succ.fp, &succ.state), 0)
                };
                if new {
                    next.states.push(succ.state.clone());
                    if keep.live {
                        next.flags.push(flags);
                    }
                    if keep.record {
                        let action = succ.meta & ((1 << ACTION_BITS) - 1);
                        next.nodes.push((succ.parent, action));
                    }
                } else if gained != 0 {
                    next.gains.push((succ.state.clone(), gained));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(states: &[u8], flagged: bool) -> NextLevel<u8> {
        NextLevel {
            states: states.to_vec(),
            flags: if flagged { states.to_vec() } else { Vec::new() },
            ..NextLevel::default()
        }
    }

    /// A range across list boundaries (an empty list among them) gives one
    /// part per list it touches, with node ids counted across the lists.
    #[test]
    fn parts_cover_a_range_across_lists_in_node_order() {
        for flagged in [false, true] {
            let lists = [
                list(&[0, 1, 2], flagged),
                list(&[], flagged),
                list(&[3, 4], flagged),
            ];
            let parts = parts(&lists, 1..5, 100);
            let seen: Vec<(Vec<u8>, Vec<u8>, u32)> = parts
                .iter()
                .map(|p| (p.states.to_vec(), p.flags.to_vec(), p.first))
                .collect();
            let flags = |v: Vec<u8>| if flagged { v } else { Vec::new() };
            assert_eq!(
                seen,
                vec![
                    (vec![1, 2], flags(vec![1, 2]), 101),
                    (vec![3, 4], flags(vec![3, 4]), 103)
                ]
            );
            assert!(super::parts(&lists, 5..5, 0).is_empty());
        }
    }
}
