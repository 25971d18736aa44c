//! The exhaustive DFS check: explores a DFS tree (the whole tree, or one
//! subtree of a parallel check) run by run, and turns what it found into a
//! [`Report`].

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::cache::StateCache;
use super::dfs::DfsScheduler;
use super::outcome::{fill_failure, fill_pass, new_report, Failures, Tally};
use super::parallel;
use super::progress::Progress;
use super::replay::run_schedule;
use super::ImplModel;
use crate::explore::CheckOptions;
use crate::report::{Report, Stopwatch};
use crate::rt::{Executor, RunConfig, TraceLevel};

/// What exploring one tree (or subtree) found.
#[derive(Default)]
pub(crate) struct TreeResult {
    pub tally: Tally,
    pub failures: Failures,
    /// (schedules, executions) when the first failure was found.
    pub found_after: (u64, u64),
    /// Why exploration stopped early (a budget, nondeterminism), if it did.
    pub stop: Option<String>,
    /// Told to stop by another worker (the result is partial and unused).
    pub halted: bool,
    pub states: u64,
    pub pruned_by_sleep: u64,
    pub pruned_by_cache: u64,
    pub preemption_cut: bool,
    /// The tree's state cache (parallel DFS merges the subtrees').
    pub cache: Option<StateCache>,
}

/// Budgets and stop signals shared by the workers of one check.
pub(crate) struct Limits<'a> {
    pub opts: &'a CheckOptions,
    pub watch: &'a Stopwatch,
    /// Executions of finished subtrees (for the global budget). States need
    /// no such sum: a subtree's cache layers over every earlier wave's.
    pub runs_done: AtomicU64,
    /// Set when a budget ran out or nondeterminism showed: every worker stops.
    pub halt: AtomicBool,
}

impl<'a> Limits<'a> {
    pub(crate) fn new(opts: &'a CheckOptions, watch: &'a Stopwatch) -> Self {
        Limits {
            opts,
            watch,
            runs_done: AtomicU64::new(0),
            halt: AtomicBool::new(false),
        }
    }
}

/// The run bounds every DFS run uses.
pub(crate) fn dfs_config<I: ImplModel + ?Sized>(model: &I, opts: &CheckOptions) -> RunConfig {
    let mut config = model.run_config();
    config.trace_level = TraceLevel::Off;
    if opts.max_depth > 0 {
        config.max_steps = config.max_steps.min(opts.max_depth);
    }
    config
}

/// A scheduler for the check's options (no subtree, no split yet).
pub(crate) fn scheduler(opts: &CheckOptions, budget_states: u64) -> DfsScheduler {
    let reduction = !opts.no_reduction && opts.preemption_bound.is_none();
    DfsScheduler::new(reduction, opts.preemption_bound, budget_states).keep_going(opts.keep_going)
}

/// Explores every branch `dfs` has left, run by run, until a budget runs
/// out, another worker halts the check, or `superseded` says that a failure
/// earlier in DFS order (found by another worker) already decides it.
pub(crate) fn explore_tree<I: ImplModel + ?Sized>(
    model: &I,
    config: &RunConfig,
    dfs: DfsScheduler,
    limits: &Limits<'_>,
    progress: Option<&Progress>,
    superseded: &dyn Fn() -> bool,
) -> TreeResult {
    let opts = limits.opts;
    let dfs = Rc::new(RefCell::new(dfs));
    let mut r = TreeResult::default();
    loop {
        let outcome = Executor::run(config, dfs.clone(), || model.main());
        r.tally.add(&outcome);
        if outcome.failed() {
            if r.failures.first.is_none() {
                r.found_after = (r.tally.schedules, r.tally.runs());
            }
            r.failures.add(outcome, r.tally.runs());
            if !opts.keep_going {
                break;
            }
        }
        let d = dfs.borrow();
        let states = d.states();
        let runs = limits.runs_done.load(Ordering::Relaxed) + r.tally.runs();
        if let Some(p) = progress {
            p.update(runs, states, 0);
        }
        if let Some(e) = &d.error {
            r.stop = Some(e.clone());
        } else if d.states_exhausted || states >= opts.budget_states {
            r.stop = Some(format!(
                "state budget exhausted ({} states)",
                opts.budget_states
            ));
        } else if runs >= opts.budget_schedules {
            r.stop = Some(format!("schedule budget exhausted ({runs} executions)"));
        } else if opts.max_seconds > 0 && limits.watch.elapsed_secs_f64() > opts.max_seconds as f64
        {
            r.stop = Some(format!(
                "stopped by the {} s safety limit",
                opts.max_seconds
            ));
        }
        drop(d);
        if r.stop.is_some() {
            limits.halt.store(true, Ordering::Relaxed);
            break;
        }
        if limits.halt.load(Ordering::Relaxed) || superseded() {
            r.halted = true;
            break;
        }
        if !dfs.borrow_mut().backtrack() {
            break;
        }
    }
    let mut d = dfs.borrow_mut();
    r.states = d.states();
    r.cache = Some(d.take_cache());
    r.pruned_by_sleep = d.pruned_by_sleep;
    r.pruned_by_cache = d.pruned_by_cache;
    r.preemption_cut = d.preemption_cut;
    r
}

pub(crate) fn check<I: ImplModel + ?Sized>(
    model: &I,
    opts: &CheckOptions,
    mut notes: Vec<String>,
) -> Report {
    let watch = Stopwatch::start();
    let reduction = !opts.no_reduction && opts.preemption_bound.is_none();
    let config = dfs_config(model, opts);
    let mut report = new_report(model, "dfs");
    report.seed = opts.seed;
    let limits = Limits::new(opts, &watch);
    let progress = Progress::new(opts.progress, "dfs", "runs", opts.budget_schedules);
    let threads = parallel::threads(opts);
    let mut r = if threads > 1 && reduction {
        let (r, note) = parallel::explore(model, &config, &limits, threads, &progress);
        notes.push(note);
        r
    } else {
        let dfs = scheduler(opts, opts.budget_states);
        explore_tree(model, &config, dfs, &limits, Some(&progress), &|| false)
    };
    progress.finish();
    report.states = r.states;
    if reduction {
        notes.push(format!(
            "reduction: sleep sets + state caching ({} execution(s) pruned by sleep sets, {} by \
             the state cache)",
            r.pruned_by_sleep, r.pruned_by_cache
        ));
    } else if opts.no_reduction {
        notes.push("reduction: none (--no-reduction)".to_string());
    }
    if let Some(bound) = opts.preemption_bound {
        notes.push(format!(
            "bounded: explored schedules with at most {bound} preemption(s){} (sleep sets and \
             state caching are off under a preemption bound)",
            if r.preemption_cut {
                ", and the bound cut some"
            } else {
                ""
            }
        ));
    }
    let tally = &r.tally;
    let stop = &r.stop;
    match r.failures.first.take() {
        Some(outcome) => {
            let full = match run_schedule(model, &outcome.schedule, TraceLevel::Full) {
                Ok(full) if full.status == outcome.status => full,
                Ok(full) => {
                    notes.push(format!(
                        "nondeterminism: re-running the failing schedule ended with {}",
                        full.status.as_str()
                    ));
                    full
                }
                Err(e) => {
                    notes.push(format!("nondeterminism: {e}"));
                    outcome
                }
            };
            fill_failure(&mut report, model, &full, tally);
            notes.push(format!(
                "found after {} schedule(s) ({} execution(s) in all)",
                r.found_after.0, r.found_after.1
            ));
            if opts.keep_going {
                r.failures.judge(&mut report, model, tally, stop.is_none());
                notes.push(match stop {
                    Some(reason) => format!("inconclusive beyond the failures: {reason}"),
                    None => exhaustive_note(tally),
                });
                tally.bound_notes(config.max_steps, &mut notes);
            } else {
                notes.push(
                    "stopped at the first failing run: properties it does not violate are \
                     inconclusive (`--keep-going` explores on and judges every property)"
                        .to_string(),
                );
            }
        }
        None => {
            fill_pass(&mut report, model, tally, stop.is_none(), true);
            match stop {
                Some(reason) => notes.push(format!("inconclusive: {reason}")),
                None => notes.push(exhaustive_note(tally)),
            }
            tally.bound_notes(config.max_steps, &mut notes);
        }
    }
    report.notes.splice(0..0, notes);
    report.schedules = tally.schedules;
    report.elapsed_ms = watch.elapsed_ms();
    report
}

fn exhaustive_note(tally: &Tally) -> String {
    format!(
        "exhaustive: {} schedule(s), {} execution(s), {} step(s)",
        tally.schedules,
        tally.runs(),
        tally.steps
    )
}
