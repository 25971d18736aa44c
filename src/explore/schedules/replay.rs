//! Replay: runs one given schedule; reports exactly where it stops fitting
//! the code (a task that is not runnable, a choice where the model picks a
//! task, a schedule that ends early or runs long).

use std::cell::RefCell;
use std::rc::Rc;

use super::outcome::{fill_failure, fill_pass, new_report, Tally};
use super::schedule::{Decision, Schedule, Scheduler, TaskPoint};
use super::ImplModel;
use crate::report::{Report, Stopwatch};
use crate::rt::{Executor, RunOutcome, RunStatus, TaskId, TraceLevel};

/// Why a schedule does not fit the model.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("schedule diverges at decision {index}: {message}")]
pub struct ReplayError {
    /// 0-based index of the decision that does not fit.
    pub index: usize,
    pub message: String,
}

/// Follows a recorded schedule decision by decision.
pub struct ReplayScheduler {
    decisions: Vec<Decision>,
    pos: usize,
    divergence: Option<ReplayError>,
}

impl ReplayScheduler {
    pub fn new(schedule: &Schedule) -> Self {
        ReplayScheduler {
            decisions: schedule.decisions.clone(),
            pos: 0,
            divergence: None,
        }
    }

    fn diverge(&mut self, message: String) {
        if self.divergence.is_none() {
            self.divergence = Some(ReplayError {
                index: self.pos,
                message,
            });
        }
    }

    /// The divergence, if any, once the run is over (`status` is the run's end).
    pub fn finish(mut self, status: &RunStatus) -> Result<(), ReplayError> {
        if self.divergence.is_none() && self.pos < self.decisions.len() {
            let extra = self.decisions.len() - self.pos;
            self.diverge(format!(
                "the run ended ({}) with {extra} decision(s) of the schedule left",
                status.as_str()
            ));
        }
        match self.divergence {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn list(enabled: &[TaskId]) -> String {
    enabled
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Scheduler for ReplayScheduler {
    fn next_task(&mut self, point: &TaskPoint<'_>) -> Option<TaskId> {
        match self.decisions.get(self.pos).copied() {
            Some(Decision::Task(t)) if point.enabled.contains(&TaskId(t)) => {
                self.pos += 1;
                Some(TaskId(t))
            }
            Some(Decision::Task(t)) => {
                self.diverge(format!(
                    "t{t} is not runnable here (runnable: {})",
                    list(point.enabled)
                ));
                None
            }
            Some(Decision::Choice(c)) => {
                self.diverge(format!(
                    "the schedule answers a choice (c{c}) but the model picks a task (runnable: {})",
                    list(point.enabled)
                ));
                None
            }
            None => {
                self.diverge(format!(
                    "the schedule ended but the run goes on (runnable: {})",
                    list(point.enabled)
                ));
                None
            }
        }
    }

    fn next_choice(&mut self, label: &str, n: usize) -> Option<usize> {
        match self.decisions.get(self.pos).copied() {
            Some(Decision::Choice(c)) if (c as usize) < n => {
                self.pos += 1;
                Some(c as usize)
            }
            Some(Decision::Choice(c)) => {
                self.diverge(format!("c{c} is out of range for choose(\"{label}\", {n})"));
                None
            }
            Some(Decision::Task(t)) => {
                self.diverge(format!(
                    "the model calls choose(\"{label}\", {n}) but the schedule runs t{t}"
                ));
                None
            }
            None => {
                self.diverge(format!(
                    "the schedule ended but the model calls choose(\"{label}\", {n})"
                ));
                None
            }
        }
    }
}

/// Runs `schedule` once at `level`; an error if it does not fit the model.
pub fn run_schedule<I: ImplModel + ?Sized>(
    model: &I,
    schedule: &Schedule,
    level: TraceLevel,
) -> Result<RunOutcome, ReplayError> {
    let mut config = model.run_config();
    config.trace_level = level;
    let scheduler = Rc::new(RefCell::new(ReplayScheduler::new(schedule)));
    let outcome = Executor::run(&config, scheduler.clone(), || model.main());
    let replayer = Rc::try_unwrap(scheduler)
        .ok()
        .expect("the executor keeps no scheduler reference after a run")
        .into_inner();
    replayer.finish(&outcome.status)?;
    Ok(outcome)
}

/// Replays a schedule (full trace) and reports what that run shows.
pub fn replay<I: ImplModel + ?Sized>(
    model: &I,
    schedule: &Schedule,
) -> Result<Report, ReplayError> {
    let watch = Stopwatch::start();
    let outcome = run_schedule(model, schedule, TraceLevel::Full)?;
    Ok(report_single(model, "replay", &outcome, watch, 0))
}

/// The report of a single run (replay by schedule or by seed).
pub(crate) fn report_single<I: ImplModel + ?Sized>(
    model: &I,
    strategy: &str,
    outcome: &RunOutcome,
    watch: Stopwatch,
    seed: u64,
) -> Report {
    let mut report = new_report(model, strategy);
    let mut tally = Tally::default();
    tally.add(outcome);
    if outcome.failed() {
        fill_failure(&mut report, model, outcome, &tally);
    } else {
        fill_pass(&mut report, model, &tally, true, false);
        report.trace = outcome.trace.clone();
        report.schedule = Some(outcome.schedule.to_string());
        report
            .notes
            .push(format!("single run: {}", outcome.status.as_str()));
        tally.bound_notes(model.run_config().max_steps, &mut report.notes);
    }
    report.schedules = 1;
    report.seed = seed;
    report.elapsed_ms = watch.elapsed_ms();
    report
}
