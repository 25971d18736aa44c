//! Seeded random walks (ChaCha8, seed = `opts.seed`): `budget_schedules`
//! walks of up to `max_depth` steps (default 1000). Checks every state on the
//! way; a walk that ends in a terminal state or revisits one of its own
//! states (a lasso) also judges the liveness properties. Not a proof: a pass
//! only means no violation was met.

use std::collections::BTreeMap;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::hash::fingerprint;
use super::visited::VisitedSet;
use super::{Counterexample, Ctx, Exploration};
use crate::explore::model::Model;
use crate::explore::CheckOptions;

/// Steps per walk: `max_depth`, or 1000 when unbounded.
pub fn walk_length(opts: &CheckOptions) -> u64 {
    if opts.max_depth == 0 {
        1000
    } else {
        opts.max_depth
    }
}

/// A uniform index below `n` (`n > 0`), by multiply-shift.
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// Runs the walks; `new_table` makes the set that counts distinct states.
pub fn explore<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: impl Fn() -> V,
) -> Exploration {
    let (model, table, opts) = (ctx.model, &ctx.table, ctx.opts);
    let props = table.len();
    let mut x = Exploration::new(props);
    let inits = model.init_states();
    if inits.is_empty() {
        return x;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut seen = new_table();
    let safety = table.safety();
    let mut skip = vec![false; props];
    let mut hits = Vec::new();
    let mut actions = Vec::new();
    let len = walk_length(opts);
    for _ in 0..opts.budget_schedules {
        x.walks += 1;
        let init = below(&mut rng, inits.len());
        let mut state = inits[init].clone();
        let mut path = Counterexample {
            init,
            actions: Vec::new(),
            loop_to: None,
        };
        let mut walk: Vec<M::State> = Vec::new();
        let mut at: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        // `eventually` properties already satisfied on this walk.
        let mut satisfied: Vec<bool> = vec![false; props];
        let mut pending = table.pending(&skip);
        loop {
            let fp = fingerprint(&state);
            seen.insert(fp, &state);
            actions.clear();
            model.actions(&state, &mut actions);
            let terminal = actions.is_empty();
            table.evaluate(
                model,
                &state,
                terminal,
                &pending,
                |p| hits.push(p),
                |p| x.reached[p] = true,
            );
            for &p in &table.eventually {
                satisfied[p] |= table.holds(p, model, &state);
            }
            if terminal {
                hits.extend(
                    table
                        .eventually
                        .iter()
                        .filter(|&&p| !satisfied[p] && !skip[p]),
                );
            }
            if !hits.is_empty() {
                for p in hits.drain(..) {
                    x.found[p].get_or_insert_with(|| path.clone());
                    skip[p] = true;
                }
                pending = table.pending(&skip);
            }
            walk.push(state.clone());
            at.entry(fp).or_default().push(walk.len() - 1);
            if terminal || path.actions.len() as u64 >= len {
                break;
            }
            let a = below(&mut rng, actions.len());
            let Some(next) = model.next_state(&state, &actions[a]) else {
                break;
            };
            path.actions.push(a as u32);
            state = next;
            // A state seen earlier on this walk closes a lasso.
            let fp = fingerprint(&state);
            let back = at
                .get(&fp)
                .and_then(|v| v.iter().copied().find(|&j| !opts.exact || walk[j] == state));
            if let Some(j) = back {
                let mut lasso = path.clone();
                lasso.loop_to = Some(j);
                for &p in &table.eventually {
                    if !satisfied[p] && !skip[p] {
                        x.found[p] = Some(lasso.clone());
                        skip[p] = true;
                    }
                }
                for &p in &table.eventually_always {
                    if !skip[p] && walk[j..].iter().any(|s| !table.holds(p, model, s)) {
                        x.found[p] = Some(lasso.clone());
                        skip[p] = true;
                    }
                }
                break;
            }
        }
        for (skip, reached) in skip.iter_mut().zip(&x.reached) {
            *skip |= reached;
        }
        ctx.progress.update("random", seen.len(), &ctx.clock);
        if let Some(stop) = ctx.budget_stop(seen.len()) {
            x.stopped = Some(stop);
            break;
        }
        if (ctx.popts.stop_at_first && x.found.iter().any(Option::is_some))
            || (!safety.is_empty() && x.all_found(&safety))
        {
            x.stopped_early = true;
            break;
        }
    }
    x.states = seen.len();
    x.visited_bytes = seen.heap_bytes();
    x
}
