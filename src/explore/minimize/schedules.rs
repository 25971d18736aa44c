//! Shrinking implementation-level schedules: fewer preemptions, fewer faults.
//!
//! The *default policy* keeps running the previous task while it is runnable
//! (else the lowest runnable task) and answers every `choose` with 0, which by
//! convention is the no-fault branch. A schedule is then just its *deviations*
//! from that policy: (decision point, decision) pairs. A deviation that switches
//! away from a runnable previous task is a preemption; a non-zero answer is a fault.
//!
//! 1. Delta debugging drops deviations while the run still fails with the same
//!    property (a deviation that no longer applies falls back to the default).
//! 2. Each surviving choice is tried with smaller non-zero values (a shorter
//!    delay, a milder fault), and each deviation a few decision points later or
//!    earlier; a change is kept when the run still fails and has fewer
//!    preemptions, fewer faults, smaller choice values or (all equal) fewer
//!    steps. This is how a preemption becomes an ordinary switch at a point
//!    where the previous task blocks anyway.
//! 3. The final schedule is re-verified by strict replay.

use std::collections::BTreeMap;

use super::{ddmin, DEFAULT_BUDGET};
use crate::explore::schedules::{self, Decision, ImplModel, Schedule, Scheduler, TaskPoint};
use crate::report::{Report, Verdict};
use crate::rt::{Executor, RunOutcome, TaskId, TraceLevel};

/// How far (in decision points) step 2 moves a deviation.
const MOVE_WINDOW: u64 = 6;

/// Follows the deviations, else the default policy; counts what it did.
struct DeviationScheduler {
    deviations: BTreeMap<u64, Decision>,
    point: u64,
    applied: Vec<(u64, Decision)>,
    preemptions: u32,
    faults: u32,
}

impl DeviationScheduler {
    fn new(deviations: &[(u64, Decision)]) -> Self {
        DeviationScheduler {
            deviations: deviations.iter().copied().collect(),
            point: 0,
            applied: Vec::new(),
            preemptions: 0,
            faults: 0,
        }
    }
}

impl Scheduler for DeviationScheduler {
    fn next_task(&mut self, point: &TaskPoint<'_>) -> Option<TaskId> {
        let k = self.point;
        self.point += 1;
        let prev_runnable = point.prev.filter(|p| point.enabled.contains(p));
        let default = prev_runnable.or_else(|| point.enabled.first().copied())?;
        let pick = match self.deviations.get(&k) {
            Some(Decision::Task(t)) if point.enabled.contains(&TaskId(*t)) => TaskId(*t),
            _ => default,
        };
        if pick != default {
            self.applied.push((k, Decision::Task(pick.0)));
        }
        if prev_runnable.is_some_and(|p| p != pick) {
            self.preemptions += 1;
        }
        Some(pick)
    }

    fn next_choice(&mut self, _label: &str, n: usize) -> Option<usize> {
        let k = self.point;
        self.point += 1;
        let value = match self.deviations.get(&k) {
            Some(Decision::Choice(c)) if (*c as usize) < n => *c as usize,
            _ => 0,
        };
        if value != 0 {
            self.applied.push((k, Decision::Choice(value as u32)));
            self.faults += 1;
        }
        Some(value)
    }
}

/// One run under `deviations`: its outcome and the scheduler's counts.
struct Trial {
    outcome: RunOutcome,
    applied: Vec<(u64, Decision)>,
    preemptions: u32,
    faults: u32,
}

impl Trial {
    /// Preemptions, faults, the sum of choice values (a shorter delay, a milder
    /// fault), steps: what "smaller" means, in that order.
    fn cost(&self) -> (u32, u32, u64, usize) {
        let values = self
            .applied
            .iter()
            .map(|(_, d)| match d {
                Decision::Choice(c) => u64::from(*c),
                Decision::Task(_) => 0,
            })
            .sum();
        (
            self.preemptions,
            self.faults,
            values,
            self.outcome.schedule.decisions.len(),
        )
    }
}

fn trial<I: ImplModel + ?Sized>(model: &I, deviations: &[(u64, Decision)]) -> Trial {
    let mut config = model.run_config();
    config.trace_level = TraceLevel::Off;
    let (outcome, s) = Executor::run_with(&config, DeviationScheduler::new(deviations), || {
        model.main()
    });
    Trial {
        outcome,
        applied: s.applied,
        preemptions: s.preemptions,
        faults: s.faults,
    }
}

/// The deviations of a recorded schedule from the default policy, found by
/// running it once: every decision becomes a deviation, and the run keeps
/// those that differ from what the policy would have done.
fn deviations_of<I: ImplModel + ?Sized>(model: &I, schedule: &Schedule) -> Trial {
    let all: Vec<(u64, Decision)> = schedule
        .decisions
        .iter()
        .enumerate()
        .map(|(k, d)| (k as u64, *d))
        .collect();
    trial(model, &all)
}

/// A shrunk schedule and the figures of the shrinking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShrunkSchedule {
    pub schedule: Schedule,
    /// Decisions (steps and choices) before and after.
    pub before: usize,
    pub after: usize,
    pub preemptions_before: u32,
    pub preemptions_after: u32,
    pub faults_before: u32,
    pub faults_after: u32,
    /// Runs made.
    pub runs: u64,
    /// No single preemption or fault can be dropped (false if the budget ran out).
    pub one_minimal: bool,
}

/// Step 2: lowers each choice, and moves each deviation up to [`MOVE_WINDOW`]
/// points later or earlier, keeping strict improvements of [`Trial::cost`];
/// whether anything improved.
fn move_deviations<I: ImplModel + ?Sized>(
    model: &I,
    best: &mut Trial,
    fails: &impl Fn(&Trial) -> bool,
    runs: &mut u64,
    budget: u64,
) -> bool {
    let mut any = false;
    let mut i = 0;
    while i < best.applied.len() && *runs < budget {
        let (at, decision) = best.applied[i];
        let mut improved = false;
        // A choice answered with a smaller non-zero value (0 was tried by dropping it).
        if let Decision::Choice(c) = decision {
            for smaller in 1..c {
                let mut lowered = best.applied.clone();
                lowered[i] = (at, Decision::Choice(smaller));
                let t = trial(model, &lowered);
                *runs += 1;
                if fails(&t) && t.cost() < best.cost() {
                    *best = t;
                    improved = true;
                    break;
                }
                if *runs >= budget {
                    break;
                }
            }
            if improved {
                any = true;
                continue;
            }
        }
        'window: for delta in 1..=MOVE_WINDOW {
            for to in [at.checked_add(delta), at.checked_sub(delta)]
                .into_iter()
                .flatten()
            {
                let mut moved = best.applied.clone();
                moved[i] = (to, decision);
                moved.sort_by_key(|d| d.0);
                let t = trial(model, &moved);
                *runs += 1;
                if fails(&t) && t.cost() < best.cost() {
                    *best = t;
                    improved = true;
                    break 'window;
                }
                if *runs >= budget {
                    break 'window;
                }
            }
        }
        any |= improved;
        if !improved {
            i += 1;
        }
    }
    any
}

/// Shrinks `schedule`, whose run fails with `property`, within `budget` runs.
pub fn shrink_schedule<I: ImplModel + ?Sized>(
    model: &I,
    schedule: &Schedule,
    property: &str,
    budget: u64,
) -> Result<ShrunkSchedule, String> {
    let fails = |t: &Trial| t.outcome.failed() && t.outcome.property().as_deref() == Some(property);
    let original = deviations_of(model, schedule);
    if !fails(&original) || original.outcome.schedule != *schedule {
        return Err(format!(
            "the schedule does not reproduce `{property}` under the minimizer's policy (run \
             ended: {})",
            original.outcome.status.as_str()
        ));
    }
    let mut runs = 1u64;
    let (preemptions_before, faults_before) = (original.preemptions, original.faults);
    let mut best = original;
    let one_minimal = loop {
        let (devs, tests, one_minimal) = ddmin(best.applied.clone(), budget, |candidate| {
            let t = trial(model, candidate);
            fails(&t).then_some(t.applied)
        });
        runs += tests + 1;
        let dropped = trial(model, &devs);
        if !fails(&dropped) {
            return Err(
                "the shrunk deviations no longer fail (the model is not deterministic?)".into(),
            );
        }
        best = dropped;
        if !move_deviations(model, &mut best, &fails, &mut runs, budget) || runs >= budget {
            break one_minimal && runs < budget;
        }
    };
    let shrunk = best.outcome.schedule.clone();
    // Step 3: the plain replay of the decisions must show the same property.
    let check = schedules::run_schedule(model, &shrunk, TraceLevel::Off)
        .map_err(|e| format!("the shrunk schedule does not replay: {e}"))?;
    runs += 1;
    if check.property().as_deref() != Some(property) {
        return Err("the shrunk schedule replays without the violation".into());
    }
    Ok(ShrunkSchedule {
        before: schedule.len(),
        after: shrunk.len(),
        preemptions_before,
        preemptions_after: best.preemptions,
        faults_before,
        faults_after: best.faults,
        schedule: shrunk,
        runs,
        one_minimal: one_minimal && runs < budget,
    })
}

/// Shrinks the counterexample of an implementation-level report in place
/// (every strategy: DFS order does not give minimal schedules either). Updates
/// `trace`, `schedule`, `wait_for`, `minimized_from` and the notes; the caller
/// refreshes `replay` from the new schedule.
pub fn shrink_report<I: ImplModel + ?Sized>(model: &I, report: &mut Report) {
    if report.verdict != Verdict::Violated {
        return;
    }
    let (Some(text), Some(property)) = (report.schedule.clone(), report.property.clone()) else {
        return;
    };
    let schedule: Schedule = match text.parse() {
        Ok(s) => s,
        Err(e) => {
            report.notes.push(format!("not minimized: {e}"));
            return;
        }
    };
    let shrunk = match shrink_schedule(model, &schedule, &property, DEFAULT_BUDGET) {
        Ok(s) => s,
        Err(e) => {
            report.notes.push(format!("not minimized: {e}"));
            return;
        }
    };
    let replayed = match schedules::replay(model, &shrunk.schedule) {
        Ok(r) => r,
        Err(e) => {
            report.notes.push(format!("not minimized: {e}"));
            return;
        }
    };
    report.trace = replayed.trace;
    report.wait_for = replayed.wait_for;
    report.schedule = Some(shrunk.schedule.to_string());
    report.minimized_from = Some(shrunk.before as u64);
    report.notes.push(format!(
        "minimized: {} -> {} decisions, preemptions {} -> {}, faults {} -> {} ({} runs); {}; \
         re-verified by replay",
        shrunk.before,
        shrunk.after,
        shrunk.preemptions_before,
        shrunk.preemptions_after,
        shrunk.faults_before,
        shrunk.faults_after,
        shrunk.runs,
        if shrunk.one_minimal {
            "1-minimal: dropping any single preemption or fault loses the violation"
        } else {
            "budget reached: smaller, not proved 1-minimal"
        }
    ));
}
