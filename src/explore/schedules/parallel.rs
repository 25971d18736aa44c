//! Parallel exhaustive DFS: the tree is cut at a shallow depth into subtrees,
//! the subtrees are explored on worker threads (each with its own executor
//! and scheduler; futures never cross threads), and the results are merged in
//! DFS order. Subtrees go in waves of [`WAVE`]: a subtree's state cache is a
//! layer over the merged caches of every earlier wave (merged in subtree
//! order after each wave), so a state shared between subtrees is explored
//! once, unless two subtrees of one wave both reach it.
//!
//! The cut depth is the smallest one that yields enough subtrees, a function
//! of the model only, so the verdicts, the counterexample (the first failure
//! in DFS order) and every count are the same for any thread count >= 2. They
//! differ from a 1-thread run, which shares one cache over the whole tree.
//! Soundness: the subtrees partition the tree (each frozen prefix keeps the
//! sleep sets it had in the sequential DFS), and a state is pruned only where
//! a finished subtree (or the subtree itself) explored it with a sleep set
//! the current one contains, as in the sequential DFS.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::cache::StateCache;
use super::dfs::Subtree;
use super::dfs_check::{explore_tree, scheduler, Limits, TreeResult};
use super::progress::Progress;
use super::ImplModel;
use crate::rt::{Executor, RunConfig, RunOutcome};

/// Subtrees wanted; enough to keep a few threads busy despite uneven sizes
/// (few in unit tests, so that their small trees are cut too).
const TARGET_SUBTREES: usize = if cfg!(test) { 6 } else { 48 };
/// Subtrees explored side by side. Each wave starts from the merged state
/// caches of the waves before it; a constant, so that what is pruned (and
/// every count) does not depend on the thread count. Small in unit tests, so
/// that their small trees span several waves.
const WAVE: usize = if cfg!(test) { 2 } else { 4 };
/// The frontier enumeration gives up deepening past this many items.
const MAX_ITEMS: usize = 5_000;
const MAX_CUT_DEPTH: usize = 64;

/// The worker threads a check uses (`threads`, 0 = every core).
pub(crate) fn threads(opts: &crate::explore::CheckOptions) -> usize {
    match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// The frontier in DFS order: a subtree below the cut, or a run that ended
/// (or was pruned) above it.
enum Item {
    Subtree(Subtree),
    Run(RunOutcome),
}

/// The items at cut depth `depth`, or why the enumeration failed.
fn frontier<I: ImplModel + ?Sized>(
    model: &I,
    config: &RunConfig,
    limits: &Limits<'_>,
    depth: usize,
) -> Result<(Vec<Item>, u64), String> {
    let dfs = Rc::new(RefCell::new(
        scheduler(limits.opts, u64::MAX).split_at(depth),
    ));
    let mut items = Vec::new();
    loop {
        let outcome = Executor::run(config, dfs.clone(), || model.main());
        let mut d = dfs.borrow_mut();
        if let Some(e) = &d.error {
            return Err(e.clone());
        }
        match d.take_cut() {
            Some(subtree) => items.push(Item::Subtree(subtree)),
            None => items.push(Item::Run(outcome)),
        }
        if items.len() > MAX_ITEMS || !d.backtrack() {
            return Ok((items, d.pruned_by_sleep));
        }
    }
}

fn subtrees(items: &[Item]) -> usize {
    items
        .iter()
        .filter(|i| matches!(i, Item::Subtree(_)))
        .count()
}

/// Explores the whole tree on `threads` workers; returns the merged result
/// and a note saying how it was split.
pub(crate) fn explore<I: ImplModel + ?Sized>(
    model: &I,
    config: &RunConfig,
    limits: &Limits<'_>,
    threads: usize,
    progress: &Progress,
) -> (TreeResult, String) {
    let opts = limits.opts;
    let mut chosen = None;
    for depth in 1..=MAX_CUT_DEPTH {
        match frontier(model, config, limits, depth) {
            Err(e) => {
                let r = TreeResult {
                    stop: Some(e),
                    ..TreeResult::default()
                };
                return (r, "parallel: the frontier enumeration failed".to_string());
            }
            Ok((items, pruned)) => {
                let n = subtrees(&items);
                let enough = n >= TARGET_SUBTREES || n == 0 || items.len() > MAX_ITEMS;
                chosen = Some((items, pruned, depth));
                if enough {
                    break;
                }
            }
        }
    }
    let (items, frontier_pruned, depth) = chosen.expect("at least one depth tried");
    let keep_going = opts.keep_going;
    // Without keep-going, subtrees after the first failing item are moot.
    let first_failing = AtomicUsize::new(
        items
            .iter()
            .position(|i| matches!(i, Item::Run(o) if o.failed()))
            .filter(|_| !keep_going)
            .unwrap_or(usize::MAX),
    );
    let results: Vec<Mutex<Option<TreeResult>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let subtree_items: Vec<usize> = (0..items.len())
        .filter(|&i| matches!(items[i], Item::Subtree(_)))
        .collect();
    // The merged caches of the finished waves.
    let mut base = StateCache::new();
    // A failure (without keep-going) ends the check: later subtrees are moot.
    let mut decided = false;
    for wave in subtree_items.chunks(WAVE) {
        if limits.halt.load(Ordering::Relaxed) {
            break;
        }
        let shared = Arc::new(std::mem::replace(&mut base, StateCache::new()));
        let next = AtomicUsize::new(0);
        let work = || {
            while let Some(&i) = wave.get(next.fetch_add(1, Ordering::Relaxed)) {
                let Item::Subtree(subtree) = &items[i] else {
                    unreachable!("waves hold subtrees only")
                };
                let superseded = || !keep_going && i > first_failing.load(Ordering::Relaxed);
                if superseded() {
                    continue;
                }
                let dfs = scheduler(opts, opts.budget_states)
                    .below(subtree.clone())
                    .with_cache(StateCache::over(shared.clone()));
                let r = explore_tree(model, config, dfs, limits, None, &superseded);
                if !keep_going && r.failures.first.is_some() {
                    first_failing.fetch_min(i, Ordering::Relaxed);
                }
                limits
                    .runs_done
                    .fetch_add(r.tally.runs(), Ordering::Relaxed);
                progress.update(limits.runs_done.load(Ordering::Relaxed), r.states, 0);
                *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            }
        };
        std::thread::scope(|s| {
            for _ in 1..threads.min(wave.len()) {
                s.spawn(work);
            }
            work();
        });
        // Merge the wave's caches in subtree order (never in finishing
        // order), up to the first failing subtree without keep-going. A
        // halted subtree's cache holds states it had not finished: dropped.
        let mut layers = Vec::new();
        for &i in wave {
            let mut slot = results[i].lock().unwrap_or_else(|p| p.into_inner());
            let Some(r) = slot.as_mut() else { continue };
            let Some(mut layer) = r.cache.take() else {
                continue;
            };
            layer.detach();
            if !r.halted && !decided {
                layers.push(layer);
                decided = !keep_going && r.failures.first.is_some();
            }
        }
        base = Arc::try_unwrap(shared)
            .unwrap_or_else(|_| unreachable!("every layer has let go of the base"));
        for layer in layers {
            base.absorb(layer);
        }
        if decided {
            break;
        }
    }
    let n = subtrees(&items);
    let mut total = TreeResult {
        pruned_by_sleep: frontier_pruned,
        ..TreeResult::default()
    };
    let mut stop = None;
    for (i, item) in items.into_iter().enumerate() {
        let part = match item {
            Item::Run(outcome) => {
                let mut part = TreeResult::default();
                part.tally.add(&outcome);
                if outcome.failed() {
                    part.found_after = (part.tally.schedules, 1);
                    part.failures.add(outcome, 1);
                }
                part
            }
            Item::Subtree(_) => {
                let slot = results[i].lock().unwrap_or_else(|p| p.into_inner()).take();
                match slot {
                    Some(part) => part,
                    None => continue,
                }
            }
        };
        if stop.is_none() {
            stop = part.stop.clone();
        }
        if part.halted {
            continue;
        }
        merge(&mut total, part);
        if !keep_going && total.failures.first.is_some() {
            break;
        }
    }
    total.stop = stop;
    total.states = base.len() as u64;
    let note = format!(
        "parallel: {n} subtree(s) cut at decision depth {depth}, explored on {threads} threads \
         in waves of {WAVE}; a subtree prunes the states that earlier waves explored, not those \
         of its own wave (so the figures differ from a 1-thread run, not between thread counts)"
    );
    (total, note)
}

fn merge(total: &mut TreeResult, part: TreeResult) {
    let offset = total.tally.runs();
    if total.failures.first.is_none() && part.failures.first.is_some() {
        total.found_after = (
            total.tally.schedules + part.found_after.0,
            offset + part.found_after.1,
        );
    }
    total.failures.append(part.failures, offset);
    total.tally.merge(&part.tally);
    total.states += part.states;
    total.pruned_by_sleep += part.pruned_by_sleep;
    total.pruned_by_cache += part.pruned_by_cache;
    total.preemption_cut |= part.preemption_cut;
}
