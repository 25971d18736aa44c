//! Shrinking implementation-level schedules: fewer preemptions, fewer faults.
//!
//! A schedule is reduced to its deviations from a default policy (see
//! `deviation.rs`): task deviations (a preemption when the previous task
//! could have gone on) and choice deviations (non-zero `choose` answers:
//! faults, external requests, chosen delays).
//!
//! 1. Delta debugging drops deviations while the run still fails with the same
//!    property (a deviation that no longer applies falls back to the default).
//! 2. Each surviving deviation is then changed in place, keeping a change when
//!    the run still fails and is smaller (fewer preemptions,
//!    fewer faults, smaller choice values, fewer decisions, in that order):
//!    * a choice is answered with smaller non-zero values (a shorter delay, a
//!      milder fault), or moved to the same task's previous or next `choose`
//!      of that label;
//!    * a task deviation is moved up to `MOVE_WINDOW` decision points later
//!      or earlier, alone or **together with every later task deviation**
//!      (the run may get longer or shorter before them), which is how a
//!      preemption becomes an ordinary switch where the previous task blocks
//!      anyway;
//!    * two consecutive task deviations swap their tasks (**reordering**).
//!
//!    Steps 1 and 2 repeat until step 2 changes nothing.
//! 3. The final schedule is re-verified by strict replay.

use super::deviation::{deviations_of, trial, Dev, Trial};
use super::{ddmin, DEFAULT_BUDGET};
use crate::explore::schedules::{self, ImplModel, Schedule};
use crate::report::{Report, Verdict};
use crate::rt::TraceLevel;

/// How far (in decision points) step 2 moves a task deviation.
const MOVE_WINDOW: u64 = 6;

/// How far (in earlier or later asks of the same label) step 2 moves a choice.
const CHOICE_WINDOW: u32 = 2;

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

/// The candidates step 2 tries for deviation `i` of `applied`, in order.
fn variations(applied: &[Dev], i: usize) -> Vec<Vec<Dev>> {
    let mut out = Vec::new();
    let with = |dev: Dev| {
        let mut v = applied.to_vec();
        v[i] = dev;
        v
    };
    match &applied[i] {
        Dev::Choice {
            task,
            label,
            occurrence,
            value,
        } => {
            // Smaller non-zero values (0 was tried by dropping the deviation).
            for smaller in 1..*value {
                out.push(with(Dev::Choice {
                    task: *task,
                    label: label.clone(),
                    occurrence: *occurrence,
                    value: smaller,
                }));
            }
            for delta in 1..=CHOICE_WINDOW {
                for to in [occurrence.checked_sub(delta), occurrence.checked_add(delta)]
                    .into_iter()
                    .flatten()
                {
                    out.push(with(Dev::Choice {
                        task: *task,
                        label: label.clone(),
                        occurrence: to,
                        value: *value,
                    }));
                }
            }
        }
        Dev::Task { at, task } => {
            for delta in 1..=MOVE_WINDOW {
                for forward in [true, false] {
                    let shift = |x: u64| {
                        if forward {
                            x.checked_add(delta)
                        } else {
                            x.checked_sub(delta)
                        }
                    };
                    let Some(to) = shift(*at) else { continue };
                    out.push(with(Dev::Task {
                        at: to,
                        task: *task,
                    }));
                    // The same move for every later task deviation too.
                    let mut tail = applied.to_vec();
                    let mut fits = true;
                    for d in tail.iter_mut().skip(i) {
                        if let Dev::Task { at, .. } = d {
                            match shift(*at) {
                                Some(moved) => *at = moved,
                                None => fits = false,
                            }
                        }
                    }
                    if fits && applied[i + 1..].iter().any(Dev::is_task) {
                        out.push(tail);
                    }
                }
            }
            // Reordering: this deviation and the next task deviation swap tasks.
            if let Some(j) = (i + 1..applied.len()).find(|&j| applied[j].is_task()) {
                if let Dev::Task {
                    at: next_at,
                    task: next_task,
                } = applied[j]
                {
                    if next_task != *task {
                        let mut swapped = applied.to_vec();
                        swapped[i] = Dev::Task {
                            at: *at,
                            task: next_task,
                        };
                        swapped[j] = Dev::Task {
                            at: next_at,
                            task: *task,
                        };
                        out.push(swapped);
                    }
                }
            }
        }
    }
    out
}

/// Step 2: tries the [`variations`] of each deviation, keeping strict
/// improvements of [`Trial::cost`]; whether anything improved.
fn move_deviations<I: ImplModel + ?Sized>(
    model: &I,
    best: &mut Trial,
    fails: &impl Fn(&Trial) -> bool,
    runs: &mut u64,
    budget: u64,
) -> bool {
    let mut any = false;
    let mut i = 0;
    'deviations: while i < best.applied.len() {
        for candidate in variations(&best.applied, i) {
            if *runs >= budget {
                break 'deviations;
            }
            let t = trial(model, &candidate);
            *runs += 1;
            if fails(&t) && t.cost() < best.cost() {
                *best = t;
                any = true;
                // The deviations were renumbered: look at this index again.
                continue 'deviations;
            }
        }
        i += 1;
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
        let left = budget.saturating_sub(runs);
        let (devs, tests, one_minimal) = ddmin(best.applied.clone(), left, |candidate| {
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
