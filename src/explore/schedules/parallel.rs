//! Parallel exhaustive DFS: the tree is cut at a shallow depth into subtrees,
//! the subtrees are explored on worker threads (each with its own executor,
//! scheduler and state cache; futures never cross threads), and the results
//! are merged in DFS order.
//!
//! The cut depth is the smallest one that yields enough subtrees, a function
//! of the model only, so the verdicts, the counterexample (the first failure
//! in DFS order) and every count are the same for any thread count >= 2. They
//! differ from a 1-thread run, which shares one cache over the whole tree.
//! Soundness: the subtrees partition the tree (each frozen prefix keeps the
//! sleep sets it had in the sequential DFS), and a per-subtree cache only
//! prunes within its subtree, so every subtree is covered as sequentially.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::dfs::Subtree;
use super::dfs_check::{explore_tree, scheduler, Limits, TreeResult};
use super::progress::Progress;
use super::ImplModel;
use crate::rt::{Executor, RunConfig, RunOutcome};

/// Subtrees wanted; enough to keep a few threads busy despite uneven sizes.
const TARGET_SUBTREES: usize = 48;
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
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<TreeResult>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(item) = items.get(i) else { break };
        let Item::Subtree(subtree) = item else {
            continue;
        };
        let superseded = || !keep_going && i > first_failing.load(Ordering::Relaxed);
        if superseded() {
            continue;
        }
        let dfs = scheduler(opts, opts.budget_states).below(subtree.clone());
        let r = explore_tree(model, config, dfs, limits, None, &superseded);
        if !keep_going && r.failures.first.is_some() {
            first_failing.fetch_min(i, Ordering::Relaxed);
        }
        limits
            .runs_done
            .fetch_add(r.tally.runs(), Ordering::Relaxed);
        limits.states_done.fetch_add(r.states, Ordering::Relaxed);
        progress.update(
            limits.runs_done.load(Ordering::Relaxed),
            limits.states_done.load(Ordering::Relaxed),
            0,
        );
        *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
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
    let note = format!(
        "parallel: {n} subtree(s) cut at decision depth {depth}, explored on {threads} threads, \
         each with its own state cache (states are counted per subtree, so a state reached in \
         two subtrees counts twice; the figures differ from a 1-thread run, not between thread \
         counts)"
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
