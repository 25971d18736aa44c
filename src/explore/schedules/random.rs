//! Seeded random schedules: each run draws every decision uniformly from its
//! own ChaCha8 stream. Run `i` of root seed `s` uses seed `s` for `i = 0` and
//! a ChaCha8-derived seed otherwise, so the reported run seed alone replays
//! the failing run.

use std::cell::RefCell;
use std::rc::Rc;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::outcome::{fill_failure, fill_pass, new_report, Failures, Tally};
use super::progress::Progress;
use super::replay::run_schedule;
use super::schedule::{Scheduler, TaskPoint};
use super::ImplModel;
use crate::explore::CheckOptions;
use crate::report::{Report, Stopwatch};
use crate::rt::{Executor, RunOutcome, TaskId, TraceLevel};

/// A uniform index in `0..n` (multiply-shift; the bias is below 2^-32 for small n).
pub(crate) fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((rng.next_u64() as u128 * n as u128) >> 64) as usize
}

/// The seed of run `index` under root seed `root`.
pub fn run_seed(root: u64, index: u64) -> u64 {
    if index == 0 {
        return root;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(root);
    rng.set_stream(index);
    rng.next_u64()
}

/// Picks uniformly among runnable tasks and choice values.
pub struct RandomScheduler {
    rng: ChaCha8Rng,
}

impl RandomScheduler {
    pub fn new(seed: u64) -> Self {
        RandomScheduler {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

impl Scheduler for RandomScheduler {
    fn next_task(&mut self, point: &TaskPoint<'_>) -> Option<TaskId> {
        Some(point.enabled[below(&mut self.rng, point.enabled.len())])
    }
    fn next_choice(&mut self, _label: &str, n: usize) -> Option<usize> {
        Some(below(&mut self.rng, n))
    }
}

/// One run of `model` driven by `scheduler` at `level`.
pub(crate) fn run_with<I, S>(model: &I, scheduler: S, level: TraceLevel) -> RunOutcome
where
    I: ImplModel + ?Sized,
    S: Scheduler + 'static,
{
    let mut config = model.run_config();
    config.trace_level = level;
    Executor::run(&config, Rc::new(RefCell::new(scheduler)), || model.main())
}

/// Drives `budget_schedules` seeded runs built by `make(run_seed)`; the first
/// failing run is re-run from its schedule at full trace level.
pub(crate) fn check_seeded<I, S>(
    model: &I,
    opts: &CheckOptions,
    strategy: &str,
    mut make: impl FnMut(u64) -> S,
    notes: Vec<String>,
) -> Report
where
    I: ImplModel + ?Sized,
    S: Scheduler + 'static,
{
    let watch = Stopwatch::start();
    let mut report = new_report(model, strategy);
    report.seed = opts.seed;
    report.notes = notes;
    let mut tally = Tally::default();
    let mut stopped_early = false;
    // With `keep_going`, failing runs are collected and the runs go on.
    let mut failures = Failures::default();
    let mut first_failure = None;
    let budget = opts.budget_schedules.max(1);
    let progress = Progress::new(opts.progress, strategy, "runs", budget);
    for index in 0..budget {
        if opts.max_seconds > 0 && watch.elapsed_secs_f64() > opts.max_seconds as f64 {
            report.notes.push(format!(
                "stopped by the {} s safety limit",
                opts.max_seconds
            ));
            stopped_early = true;
            break;
        }
        let seed = run_seed(opts.seed, index);
        let outcome = run_with(model, make(seed), TraceLevel::Off);
        tally.add(&outcome);
        progress.update(
            tally.runs(),
            0,
            failures.failing_runs + u64::from(outcome.failed()),
        );
        if outcome.failed() {
            first_failure.get_or_insert((index, seed));
            failures.add(outcome, index + 1);
            if !opts.keep_going {
                break;
            }
        }
    }
    progress.finish();
    if let (Some(outcome), Some((index, seed))) = (failures.first.take(), first_failure) {
        let full = match run_schedule(model, &outcome.schedule, TraceLevel::Full) {
            Ok(full) if full.status == outcome.status => full,
            Ok(full) => {
                report.notes.push(format!(
                    "nondeterminism: re-running the failing schedule ended with {} instead of {}",
                    full.status.as_str(),
                    outcome.status.as_str()
                ));
                full
            }
            Err(e) => {
                report.notes.push(format!("nondeterminism: {e}"));
                outcome
            }
        };
        fill_failure(&mut report, model, &full, &tally);
        report.seed = seed;
        report.notes.push(format!(
            "found by run {} of {strategy} (run seed {seed}, root seed {})",
            index + 1,
            opts.seed
        ));
        if opts.keep_going {
            failures.judge(&mut report, model, &tally, !stopped_early);
            report.notes.push(format!(
                "{} {strategy} schedule(s) from root seed {} (sampling, not exhaustive)",
                tally.schedules, opts.seed
            ));
        } else {
            report.notes.push(
                "stopped at the first failing run: properties it does not violate are \
                 inconclusive (`--keep-going` runs on and judges every property)"
                    .to_string(),
            );
        }
        report.schedules = tally.schedules;
        report.elapsed_ms = watch.elapsed_ms();
        return report;
    }
    // A one-run check is a single run (what each seed of a sweep is): it
    // reports an unreached `sometimes` without failing on it; over several
    // runs a `sometimes` fails only if no run reached it.
    let judge_sometimes = opts.budget_schedules > 1;
    fill_pass(&mut report, model, &tally, !stopped_early, judge_sometimes);
    report.notes.push(format!(
        "no failure in {} {strategy} schedule(s) from root seed {} (sampling, not exhaustive)",
        tally.schedules, opts.seed
    ));
    tally.bound_notes(model.run_config().max_steps, &mut report.notes);
    report.schedules = tally.schedules;
    report.elapsed_ms = watch.elapsed_ms();
    report
}

pub(crate) fn check<I: ImplModel + ?Sized>(model: &I, opts: &CheckOptions) -> Report {
    check_seeded(model, opts, "random", RandomScheduler::new, Vec::new())
}
