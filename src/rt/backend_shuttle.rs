//! The shuttle backend (feature `shuttle`): the same implementation models,
//! scheduled by shuttle's PCT, random or DFS schedulers.
//!
//! `rt::spawn` is `shuttle::future::spawn`, every lockstep scheduling point is
//! a shuttle yield, `rt::choose` draws from shuttle's scheduler-controlled
//! randomness, and time is emulated (a per-run logical clock that jumps to the
//! next timer when no task can run). A deadlock is shuttle's own detection:
//! the root future waits for every non-daemon task, so a blocked detached
//! task counts; lockstep's bookkeeping then supplies the wait-for cycle.
//!
//! Each check stops at the first failing iteration, re-runs it from its
//! recorded schedule at trace level `Ops` (a replay check of its own), and
//! returns a [`BackendOutcome`] with a schedule token for [`replay`].

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use rand_core::RngCore;
use shuttle::scheduler::{
    DfsScheduler, PctScheduler, RandomScheduler, ReplayScheduler, Schedule, Scheduler, Task,
    TaskId as ShuttleTask,
};
use shuttle::{Config, FailurePersistence, MaxSteps, Runner};

use super::backend::{BackendOutcome, SharedModel, Tally};
use super::engine::SendTask;
use super::executor::{panic_message, RunOutcome};
use super::hosted::{self, Backend};
use super::state::TraceLevel;
use crate::explore::schedules::ImplModel;
use crate::report::Verdict;

struct ShuttleBackend;

impl Backend for ShuttleBackend {
    fn spawn(&self, task: SendTask) {
        // Dropping the handle detaches the task; lockstep tracks it.
        drop(shuttle::future::spawn(task));
    }
    fn choose(&self, n: usize) -> usize {
        let v = shuttle::rand::rngs::ThreadRng::default().next_u64();
        ((v as u128 * n as u128) >> 64) as usize
    }
    fn now(&self) -> Option<std::time::Duration> {
        None
    }
}

/// One shuttle step, as recorded for replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Task(usize),
    Random,
}

/// The decisions of the current execution (shared with the runner's caller).
#[derive(Default)]
struct Recording {
    seed: u64,
    steps: Vec<Step>,
    /// Random draws (`rt::choose`) over every execution of the check.
    draws: u64,
}

/// Wraps a shuttle scheduler and records every decision it makes.
struct Recorder<S> {
    inner: S,
    rec: Rc<RefCell<Recording>>,
}

impl<S: Scheduler> Scheduler for Recorder<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        let schedule = self.inner.new_execution()?;
        let mut rec = self.rec.borrow_mut();
        rec.seed = schedule.seed;
        rec.steps.clear();
        Some(schedule)
    }
    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<ShuttleTask>,
        is_yielding: bool,
    ) -> Option<ShuttleTask> {
        let next = self.inner.next_task(runnable, current, is_yielding)?;
        self.rec
            .borrow_mut()
            .steps
            .push(Step::Task(usize::from(next)));
        Some(next)
    }
    fn next_u64(&mut self) -> u64 {
        let mut rec = self.rec.borrow_mut();
        rec.steps.push(Step::Random);
        rec.draws += 1;
        drop(rec);
        self.inner.next_u64()
    }
}

/// `seed:steps`, steps as `.`-separated task ids or `r` (a random draw),
/// runs of one step written `x*n`.
fn encode(rec: &Recording) -> String {
    let mut out = format!("{}:", rec.seed);
    let mut i = 0;
    while i < rec.steps.len() {
        let step = rec.steps[i];
        let mut run = 1;
        while i + run < rec.steps.len() && rec.steps[i + run] == step {
            run += 1;
        }
        if i > 0 {
            out.push('.');
        }
        match step {
            Step::Task(t) => out.push_str(&t.to_string()),
            Step::Random => out.push('r'),
        }
        if run > 1 {
            out.push_str(&format!("*{run}"));
        }
        i += run;
    }
    out
}

fn decode(token: &str) -> Result<Schedule, String> {
    let (seed, steps) = token
        .split_once(':')
        .ok_or_else(|| format!("bad shuttle schedule `{token}`: expected `seed:steps`"))?;
    let seed: u64 = seed
        .parse()
        .map_err(|_| format!("bad shuttle schedule: seed `{seed}` is not a number"))?;
    let mut schedule = Schedule::new(seed);
    for element in steps.split('.').filter(|e| !e.is_empty()) {
        let (step, run) = match element.split_once('*') {
            Some((s, n)) => (
                s,
                n.parse::<usize>()
                    .map_err(|_| format!("bad shuttle schedule: run `{element}`"))?,
            ),
            None => (element, 1),
        };
        for _ in 0..run {
            if step == "r" {
                schedule.push_random();
            } else {
                let t: usize = step
                    .parse()
                    .map_err(|_| format!("bad shuttle schedule: step `{element}`"))?;
                schedule.push_task(ShuttleTask::from(t));
            }
        }
    }
    Ok(schedule)
}

thread_local! {
    /// Outcomes of the iterations of the check running on this thread.
    static OUTCOMES: RefCell<Vec<RunOutcome>> = const { RefCell::new(Vec::new()) };
}

/// One shuttle iteration: a run of the model, its outcome stored for the
/// caller; a failing run panics so that shuttle stops and keeps the schedule.
fn iteration(model: &dyn ImplModel, level: TraceLevel) {
    let mut config = model.run_config();
    config.trace_level = level;
    let mut root = hosted::begin(&config, Box::new(ShuttleBackend), || model.main());
    let end = shuttle::future::block_on(&mut root);
    let outcome = root.finish(end);
    let failed = outcome.failed();
    let status = outcome.status.as_str();
    OUTCOMES.with(|o| o.borrow_mut().push(outcome));
    if failed {
        panic!("lockstep: the run failed ({status})");
    }
}

fn shuttle_config(model: &dyn ImplModel) -> Config {
    let mut config = Config::new();
    config.failure_persistence = FailurePersistence::None;
    // lockstep stops a run at its own step bound; shuttle's is a backstop.
    let steps = model
        .run_config()
        .max_steps
        .saturating_mul(4)
        .saturating_add(1_000);
    config.max_steps = MaxSteps::FailAfter(usize::try_from(steps).unwrap_or(usize::MAX));
    config.silence_warnings = true;
    config
}

/// Runs `runner_scheduler` over `model`; returns the iterations' outcomes,
/// the last execution's recording and the backend's failure message, if any.
fn drive<S: Scheduler + 'static>(
    model: &SharedModel,
    scheduler: S,
    level: TraceLevel,
) -> (Vec<RunOutcome>, Recording, Option<String>) {
    OUTCOMES.with(|o| o.borrow_mut().clear());
    let rec = Rc::new(RefCell::new(Recording::default()));
    let recorder = Recorder {
        inner: scheduler,
        rec: rec.clone(),
    };
    let runner = Runner::new(recorder, shuttle_config(model.as_ref()));
    let m = model.clone();
    let result = catch_unwind(AssertUnwindSafe(move || {
        runner.run(move || iteration(m.as_ref(), level))
    }));
    let mut outcomes = OUTCOMES.with(|o| std::mem::take(&mut *o.borrow_mut()));
    let failure = match result {
        Ok(_) => None,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            let stored_failure = outcomes.last().is_some_and(RunOutcome::failed);
            if !stored_failure {
                // Shuttle ended the run itself (a deadlock, its step bound):
                // the run's core is still installed; analyse it.
                if let Some(outcome) = hosted::finish_abandoned(&message) {
                    outcomes.push(outcome);
                }
            }
            Some(message)
        }
    };
    // Whatever a failed execution left installed belongs to no run now.
    hosted::clear_leftovers();
    let recording = Rc::try_unwrap(rec)
        .map(RefCell::into_inner)
        .unwrap_or_else(|rc| {
            let r = rc.borrow();
            Recording {
                seed: r.seed,
                steps: r.steps.clone(),
                draws: r.draws,
            }
        });
    (outcomes, recording, failure)
}

fn check_with<S: Scheduler + 'static>(
    engine: &str,
    model: SharedModel,
    scheduler: S,
    planned: Option<usize>,
) -> BackendOutcome {
    check_counting(engine, model, scheduler, planned).0
}

/// [`check_with`], plus the number of random draws over every execution.
fn check_counting<S: Scheduler + 'static>(
    engine: &str,
    model: SharedModel,
    scheduler: S,
    planned: Option<usize>,
) -> (BackendOutcome, u64) {
    let mut tally = Tally::new(engine, model.as_ref());
    let (outcomes, recording, failure) = drive(&model, scheduler, TraceLevel::Off);
    for o in &outcomes {
        tally.add(o);
    }
    let draws = recording.draws;
    let Some(failing) = outcomes.last().filter(|o| o.failed()) else {
        let mut out = tally.pass(planned.is_none_or(|n| outcomes.len() >= n));
        if let Some(message) = failure {
            out.notes
                .push(format!("shuttle failed outside the model: {message}"));
        }
        return (out, draws);
    };
    let token = encode(&recording);
    // Re-run the failing schedule at trace level Ops: the trace, and a check
    // that the token replays.
    let mut full = failing.clone();
    let mut notes = Vec::new();
    match replay_outcome(&model, &token, TraceLevel::Ops) {
        Ok(again) if again.status.as_str() == failing.status.as_str() => full = again,
        Ok(again) => notes.push(format!(
            "replaying the failing schedule ended with {} instead of {}",
            again.status.as_str(),
            failing.status.as_str()
        )),
        Err(e) => notes.push(format!("replaying the failing schedule failed: {e}")),
    }
    let mut out = tally.fail(&full);
    out.failing_seed = Some(recording.seed);
    out.failing_schedule = Some(token);
    out.notes.extend(notes);
    (out, draws)
}

fn replay_outcome(
    model: &SharedModel,
    token: &str,
    level: TraceLevel,
) -> Result<RunOutcome, String> {
    let schedule = decode(token)?;
    let mut scheduler = ReplayScheduler::new_from_schedule(schedule);
    scheduler.set_allow_incomplete();
    let (mut outcomes, _, failure) = drive(model, scheduler, level);
    outcomes
        .pop()
        .ok_or_else(|| failure.unwrap_or_else(|| "the replay ran no iteration".to_string()))
}

/// PCT with bug depth `depth` for `iterations` executions from `seed`.
pub fn check_pct(model: SharedModel, iterations: usize, depth: usize, seed: u64) -> BackendOutcome {
    let scheduler = PctScheduler::new_from_seed(seed, depth.max(1), iterations);
    check_with("shuttle-pct", model, scheduler, Some(iterations))
}

/// Uniformly random scheduling for `iterations` executions from `seed`.
pub fn check_random(model: SharedModel, iterations: usize, seed: u64) -> BackendOutcome {
    let scheduler = RandomScheduler::new_from_seed(seed, iterations);
    check_with("shuttle-random", model, scheduler, Some(iterations))
}

/// Shuttle's exhaustive DFS (no reduction, no state caching), stopping after
/// `max_iterations`: `holds` only if it exhausts the schedules first.
pub fn check_dfs(model: SharedModel, max_iterations: usize) -> BackendOutcome {
    let scheduler = DfsScheduler::new(Some(max_iterations), false);
    let mut out = check_with("shuttle-dfs", model, scheduler, None);
    if no_failing_run(&out) && out.iterations >= max_iterations as u64 {
        undecided(&mut out, budget_note(max_iterations));
    }
    out
}

/// No iteration failed (the verdict is `holds`, or `violated` only by a
/// `sometimes` nobody reached, which a cut-short search does not decide).
fn no_failing_run(out: &BackendOutcome) -> bool {
    out.failing_schedule.is_none()
}

fn budget_note(max_iterations: usize) -> String {
    format!("DFS stopped at its {max_iterations}-iteration budget before exhausting the schedules")
}

/// Turns a pass (or an unreached `sometimes`) into `inconclusive`, saying why.
fn undecided(out: &mut BackendOutcome, why: String) {
    if out.verdict == Verdict::Violated {
        let property = out.property.take().unwrap_or_default();
        out.notes
            .push(format!("sometimes `{property}` not reached (not judged)"));
    }
    out.verdict = Verdict::Inconclusive;
    out.notes.push(why);
}

/// Shuttle's DFS on a model that may call `rt::choose` ([`check_dfs`] refuses
/// one: shuttle's DFS does not enumerate data). Every execution draws the same
/// fixed sequence of choices, so the DFS covers the task interleavings of one
/// choice assignment: a run through all of them is reported `inconclusive`
/// when the model drew any choice (the notes say how many), `holds` only when
/// it drew none.
pub fn check_dfs_fixed_data(model: SharedModel, max_iterations: usize) -> BackendOutcome {
    let scheduler = DfsScheduler::new(Some(max_iterations), true);
    let (mut out, draws) = check_counting("shuttle-dfs", model, scheduler, None);
    if no_failing_run(&out) && out.iterations >= max_iterations as u64 {
        undecided(&mut out, budget_note(max_iterations));
    } else if no_failing_run(&out) && draws > 0 {
        undecided(
            &mut out,
            format!(
                "DFS exhausted the interleavings of one fixed choice sequence ({draws} draw(s) \
                 in all): shuttle's DFS does not enumerate `rt::choose`"
            ),
        );
    }
    out
}

/// Replays a schedule token from [`BackendOutcome::failing_schedule`] at
/// trace level `Ops`.
pub fn replay(model: SharedModel, token: &str) -> Result<RunOutcome, String> {
    replay_outcome(&model, token, TraceLevel::Ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_tokens_round_trip() {
        let rec = Recording {
            seed: 42,
            steps: vec![Step::Task(0), Step::Task(0), Step::Random, Step::Task(3)],
            draws: 1,
        };
        let token = encode(&rec);
        assert_eq!(token, "42:0*2.r.3");
        let schedule = decode(&token).unwrap();
        assert_eq!(schedule.len(), 4);
        assert_eq!(schedule.seed, 42);
        assert!(decode("nonsense").is_err());
        assert!(decode("1:x").is_err());
        assert!(decode("1:0*y").is_err());
    }
}
