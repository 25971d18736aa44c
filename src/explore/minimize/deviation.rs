//! Deviations from the minimizer's default policy, and the scheduler that runs
//! a set of them.
//!
//! The *default policy* keeps running the previous task while it is runnable
//! (else the lowest runnable task) and answers every `choose` with 0, which by
//! convention is the no-fault branch. A schedule is then just its deviations:
//!
//! * a **task deviation** runs another task than the default at decision point
//!   `at` (absolute: the `at`-th decision of the run). It is a **preemption**
//!   when the previous task could have gone on;
//! * a **choice deviation** answers a `choose` with a non-zero value. It is
//!   keyed by *which* choice it answers (the task asking, the label, and how
//!   many choices of that label the task asked before), not by its position in
//!   the run, so it keeps its meaning when task deviations move and the run
//!   gets longer or shorter before it. Faults, external requests, chosen
//!   delays: whatever a model draws with `rt::choose` is a choice deviation.

use std::collections::BTreeMap;

use crate::explore::schedules::{Decision, ImplModel, Schedule, Scheduler, TaskPoint};
use crate::rt::{Executor, RunOutcome, TaskId, TraceLevel};

/// One deviation from the default policy.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dev {
    /// At decision point `at`, run `task` instead of the default.
    Task { at: u64, task: u32 },
    /// Answer the `occurrence`-th `choose(label)` of task `task` with `value` (> 0).
    Choice {
        task: u32,
        label: String,
        occurrence: u32,
        value: u32,
    },
}

impl Dev {
    pub(crate) fn is_task(&self) -> bool {
        matches!(self, Dev::Task { .. })
    }
}

type ChoiceKey = (u32, String, u32);

/// Follows the deviations (or, first, a whole recorded schedule), else the
/// default policy; records the deviations it actually applied.
pub(crate) struct DeviationScheduler {
    tasks: BTreeMap<u64, u32>,
    choices: BTreeMap<ChoiceKey, u32>,
    /// A recorded schedule to follow decision by decision (to find its deviations).
    forced: Option<Vec<Decision>>,
    point: u64,
    /// The task whose step is running (it asks the choices).
    current: Option<TaskId>,
    asked: BTreeMap<(u32, String), u32>,
    pub(crate) applied: Vec<Dev>,
    pub(crate) preemptions: u32,
    pub(crate) faults: u32,
}

impl DeviationScheduler {
    pub(crate) fn new(deviations: &[Dev]) -> Self {
        let mut tasks = BTreeMap::new();
        let mut choices = BTreeMap::new();
        for d in deviations {
            match d {
                Dev::Task { at, task } => {
                    tasks.insert(*at, *task);
                }
                Dev::Choice {
                    task,
                    label,
                    occurrence,
                    value,
                } => {
                    choices.insert((*task, label.clone(), *occurrence), *value);
                }
            }
        }
        DeviationScheduler {
            tasks,
            choices,
            forced: None,
            point: 0,
            current: None,
            asked: BTreeMap::new(),
            applied: Vec::new(),
            preemptions: 0,
            faults: 0,
        }
    }

    /// Follows `schedule` exactly (what it deviates in is recorded).
    pub(crate) fn following(schedule: &Schedule) -> Self {
        let mut s = DeviationScheduler::new(&[]);
        s.forced = Some(schedule.decisions.clone());
        s
    }

    fn forced(&self, k: u64) -> Option<Decision> {
        self.forced
            .as_ref()
            .and_then(|f| f.get(usize::try_from(k).ok()?).copied())
    }
}

impl Scheduler for DeviationScheduler {
    fn next_task(&mut self, point: &TaskPoint<'_>) -> Option<TaskId> {
        let k = self.point;
        self.point += 1;
        let prev_runnable = point.prev.filter(|p| point.enabled.contains(p));
        let default = prev_runnable.or_else(|| point.enabled.first().copied())?;
        let wanted = match self.forced {
            Some(_) => match self.forced(k) {
                Some(Decision::Task(t)) => Some(t),
                _ => None,
            },
            None => self.tasks.get(&k).copied(),
        };
        let pick = match wanted {
            Some(t) if point.enabled.contains(&TaskId(t)) => TaskId(t),
            _ => default,
        };
        if pick != default {
            self.applied.push(Dev::Task {
                at: k,
                task: pick.0,
            });
        }
        if prev_runnable.is_some_and(|p| p != pick) {
            self.preemptions += 1;
        }
        self.current = Some(pick);
        Some(pick)
    }

    fn next_choice(&mut self, label: &str, n: usize) -> Option<usize> {
        let k = self.point;
        self.point += 1;
        // Choices made while `main` is built come before any step: main's.
        let task = self.current.map_or(0, |t| t.0);
        let seen = self.asked.entry((task, label.to_string())).or_insert(0);
        let occurrence = *seen;
        *seen += 1;
        let wanted = match self.forced {
            Some(_) => match self.forced(k) {
                Some(Decision::Choice(c)) => Some(c),
                _ => None,
            },
            None => self
                .choices
                .get(&(task, label.to_string(), occurrence))
                .copied(),
        };
        let value = wanted.filter(|&c| (c as usize) < n).unwrap_or(0);
        if value != 0 {
            self.applied.push(Dev::Choice {
                task,
                label: label.to_string(),
                occurrence,
                value,
            });
            self.faults += 1;
        }
        Some(value as usize)
    }
}

/// One run under a set of deviations: its outcome and what the scheduler did.
pub(crate) struct Trial {
    pub(crate) outcome: RunOutcome,
    pub(crate) applied: Vec<Dev>,
    pub(crate) preemptions: u32,
    pub(crate) faults: u32,
}

impl Trial {
    /// Preemptions, faults, the sum of choice values (a shorter delay, a milder
    /// fault), decisions: what "smaller" means, in that order.
    pub(crate) fn cost(&self) -> (u32, u32, u64, usize) {
        let values = self
            .applied
            .iter()
            .map(|d| match d {
                Dev::Choice { value, .. } => u64::from(*value),
                Dev::Task { .. } => 0,
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

fn run<I: ImplModel + ?Sized>(model: &I, scheduler: DeviationScheduler) -> Trial {
    let mut config = model.run_config();
    config.trace_level = TraceLevel::Off;
    let (outcome, s) = Executor::run_with(&config, scheduler, || model.main());
    Trial {
        outcome,
        applied: s.applied,
        preemptions: s.preemptions,
        faults: s.faults,
    }
}

/// One run of `model` under `deviations`.
pub(crate) fn trial<I: ImplModel + ?Sized>(model: &I, deviations: &[Dev]) -> Trial {
    run(model, DeviationScheduler::new(deviations))
}

/// The deviations of a recorded schedule from the default policy, found by
/// following it once.
pub(crate) fn deviations_of<I: ImplModel + ?Sized>(model: &I, schedule: &Schedule) -> Trial {
    run(model, DeviationScheduler::following(schedule))
}
