//! Semantic schedules of implementation models. A recorded run (its full trace and
//! its [`Schedule`]) becomes `task:op` steps and `?label=value` choices; the
//! follower re-runs the model one step at a time, picking the runnable task of the
//! recorded name and checking that its step performs the recorded operation.
//!
//! A step's operation is read from the full trace: the first event the task records
//! in that step (`acquired(host-start)`, `block(s2)`, `spawn(start#2)`), or `run`
//! when it records none (a `yield_now`, plain computation). Task ids are learnt
//! from the trace too: `main` is task 0 and every `spawn` event creates the next id.
//!
//! Following costs one run per step (runs cannot be forked), which is cheap for
//! counterexamples of a few hundred steps.

use std::cell::RefCell;
use std::rc::Rc;

use super::{Divergence, SemStep, SemanticSchedule, MAX_INSERTED};
use crate::explore::schedules::{Decision, ImplModel, Schedule, Scheduler, TaskPoint};
use crate::rt::{Executor, RunOutcome, TaskId, TraceLevel};
use crate::trace::TraceEvent;

/// Fields naming the object an event touches, in order of preference.
const OBJECT_FIELDS: [&str; 10] = [
    "semaphore",
    "mutex",
    "resource",
    "sem",
    "latch",
    "token",
    "channel",
    "child",
    "on",
    "label",
];

/// Event kinds that are not something the stepping task did.
const NOT_AN_OP: [&str; 5] = ["step", "wake", "timer-fired", "end", "choose"];

/// How one event reads as an operation: `kind` or `kind(object)`.
pub fn op_of(event: &TraceEvent) -> String {
    match OBJECT_FIELDS.iter().find_map(|k| event.fields.get(*k)) {
        Some(object) => format!("{}({object})", event.kind),
        None => event.kind.clone(),
    }
}

/// The semantic steps of a full-level trace, in decision order.
pub fn steps_of_trace(trace: &[TraceEvent]) -> Vec<SemStep> {
    let mut steps = Vec::new();
    // Index in `steps` of the current step, and whether its op is known.
    let mut current: Option<(usize, bool)> = None;
    for event in trace {
        match event.kind.as_str() {
            "step" => {
                steps.push(SemStep::step(event.task.as_str(), "run"));
                current = Some((steps.len() - 1, false));
            }
            "choose" => steps.push(SemStep::Choice {
                label: event.fields.get("label").cloned().unwrap_or_default(),
                value: event
                    .fields
                    .get("value")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            }),
            kind if NOT_AN_OP.contains(&kind) => {}
            _ => {
                if let Some((i, false)) = current {
                    if let SemStep::Step { task, op } = &mut steps[i] {
                        if *task == event.task {
                            *op = op_of(event);
                            current = Some((i, true));
                        }
                    }
                }
            }
        }
    }
    steps
}

/// The semantic schedule of a recorded run. `trace` must be the run's full-level
/// trace (one `step` event per task decision): otherwise an error.
pub fn of_run(trace: &[TraceEvent], schedule: &Schedule) -> Result<SemanticSchedule, String> {
    let steps = steps_of_trace(trace);
    let fits = steps.len() == schedule.decisions.len()
        && steps.iter().zip(&schedule.decisions).all(|(s, d)| {
            matches!(
                (s, d),
                (SemStep::Step { .. }, Decision::Task(_))
                    | (SemStep::Choice { .. }, Decision::Choice(_))
            )
        });
    if !fits {
        return Err(format!(
            "the trace does not match the schedule ({} steps named, {} decisions): a semantic \
             schedule needs the run's full-level trace",
            steps.len(),
            schedule.decisions.len()
        ));
    }
    Ok(SemanticSchedule { steps })
}

/// Task names by id: `main`, then each `spawn` event's child in order.
pub fn task_names(trace: &[TraceEvent]) -> Vec<String> {
    std::iter::once("main".to_string())
        .chain(
            trace
                .iter()
                .filter(|e| e.kind == "spawn")
                .filter_map(|e| e.fields.get("child").cloned()),
        )
        .collect()
}

/// Follows a decision prefix exactly, then either stops at the next task point
/// (recording the runnable tasks) or goes on with the default policy: keep
/// running the previous task while it is runnable, else the lowest runnable
/// one; answer every further `choose` with 0 (by convention the no-fault branch).
pub struct PrefixScheduler {
    prefix: Vec<Decision>,
    pos: usize,
    /// After the prefix: `Some(task)` forces one more step of `task`.
    forced: Option<TaskId>,
    /// Stop (abandon the run) at the first task point after the prefix.
    stop: bool,
    /// Choices to answer after the prefix, by label, in order.
    answers: Vec<(String, u32)>,
    answered: usize,
    /// The runnable tasks where the run stopped.
    pub stopped_at: Option<Vec<TaskId>>,
    /// Choices asked after the prefix that no recorded answer matched.
    pub unanswered: Vec<String>,
}

impl PrefixScheduler {
    /// Follows `prefix`, then continues with the default policy to the end of the run.
    pub fn then_default(prefix: Vec<Decision>) -> Self {
        PrefixScheduler {
            prefix,
            pos: 0,
            forced: None,
            stop: false,
            answers: Vec::new(),
            answered: 0,
            stopped_at: None,
            unanswered: Vec::new(),
        }
    }

    /// Follows `prefix`, runs `forced` for one step (answering its choices from
    /// `answers` while the labels match), then stops at the next task point.
    fn probe(prefix: Vec<Decision>, forced: Option<TaskId>, answers: Vec<(String, u32)>) -> Self {
        PrefixScheduler {
            forced,
            stop: true,
            answers,
            ..PrefixScheduler::then_default(prefix)
        }
    }

    fn in_prefix(&self) -> bool {
        self.pos < self.prefix.len()
    }
}

impl Scheduler for PrefixScheduler {
    fn next_task(&mut self, point: &TaskPoint<'_>) -> Option<TaskId> {
        if self.in_prefix() {
            let d = self.prefix[self.pos];
            self.pos += 1;
            return match d {
                Decision::Task(t) if point.enabled.contains(&TaskId(t)) => Some(TaskId(t)),
                _ => None,
            };
        }
        if let Some(t) = self.forced.take() {
            return point.enabled.contains(&t).then_some(t);
        }
        if self.stop {
            self.stopped_at = Some(point.enabled.to_vec());
            return None;
        }
        match point.prev {
            Some(p) if point.enabled.contains(&p) => Some(p),
            _ => point.enabled.first().copied(),
        }
    }

    fn next_choice(&mut self, label: &str, n: usize) -> Option<usize> {
        if self.in_prefix() {
            let d = self.prefix[self.pos];
            self.pos += 1;
            return match d {
                Decision::Choice(c) if (c as usize) < n => Some(c as usize),
                _ => None,
            };
        }
        match self.answers.get(self.answered) {
            Some((l, v)) if l == label && (*v as usize) < n => {
                self.answered += 1;
                Some(*v as usize)
            }
            _ => {
                self.unanswered.push(label.to_string());
                Some(0)
            }
        }
    }
}

/// One run of `model` with `scheduler` at full trace level.
pub fn run_full<I: ImplModel + ?Sized>(
    model: &I,
    scheduler: PrefixScheduler,
) -> (RunOutcome, PrefixScheduler) {
    let mut config = model.run_config();
    config.trace_level = TraceLevel::Full;
    let shared = Rc::new(RefCell::new(scheduler));
    let outcome = Executor::run(&config, shared.clone(), || model.main());
    let scheduler = match Rc::try_unwrap(shared) {
        Ok(cell) => cell.into_inner(),
        Err(_) => unreachable!("the executor keeps no scheduler reference after a run"),
    };
    (outcome, scheduler)
}

/// A semantic schedule followed on the current implementation model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FollowedRun {
    /// The decisions that reproduce the recorded steps on this model.
    pub schedule: Schedule,
    /// Each tolerated drift, in order.
    pub notes: Vec<String>,
}

/// Follows `schedule` on `model` step by step (see the module docs). The result's
/// decisions end where the recording ends; replay them with
/// [`PrefixScheduler::then_default`] to see how the run ends.
pub fn follow<I: ImplModel + ?Sized>(
    model: &I,
    schedule: &SemanticSchedule,
) -> Result<FollowedRun, Divergence> {
    let steps = &schedule.steps;
    let mut out = FollowedRun::default();
    let mut decisions: Vec<Decision> = Vec::new();
    let (mut outcome, mut probe) =
        run_full(model, PrefixScheduler::probe(Vec::new(), None, vec![]));
    let mut inserted = 0usize;
    let mut k = 0usize;
    while k < steps.len() {
        let expected = &steps[k];
        let names = task_names(&outcome.trace);
        let runnable: Vec<String> = probe
            .stopped_at
            .iter()
            .flatten()
            .map(|t| name_of(&names, *t))
            .collect();
        let here = k + 1;
        let diverge = |reason: String| Divergence {
            step: here,
            expected: expected.to_string(),
            reason,
            possible: runnable.clone(),
        };
        let (task, op) = match expected {
            SemStep::Step { task, op } => (task, op),
            SemStep::Choice { label, .. } => {
                // The step this choice belonged to no longer asks for it.
                out.notes.push(format!(
                    "recorded choice `{label}` (step {}) is no longer asked: skipped",
                    k + 1
                ));
                k += 1;
                continue;
            }
        };
        let Some(enabled) = probe.stopped_at.clone() else {
            return Err(diverge(format!(
                "the run ended ({}) before this step",
                outcome.status.as_str()
            )));
        };
        let candidates: Vec<TaskId> = enabled
            .iter()
            .copied()
            .filter(|t| name_of(&names, *t) == *task)
            .collect();
        if candidates.is_empty() {
            return Err(diverge(format!("{task} is not runnable here")));
        }
        // The choices recorded right after this step are its answers.
        let answers: Vec<(String, u32)> = steps[k + 1..]
            .iter()
            .map_while(|s| match s {
                SemStep::Choice { label, value } => Some((label.clone(), *value)),
                SemStep::Step { .. } => None,
            })
            .collect();
        let mut first_try = None;
        let mut matched = false;
        for &candidate in &candidates {
            let (o, p) = run_full(
                model,
                PrefixScheduler::probe(decisions.clone(), Some(candidate), answers.clone()),
            );
            let performed = last_step_op(&o.trace);
            if performed.as_deref() == Some(op.as_str()) {
                k += 1 + p.answered;
                decisions = o.schedule.decisions.clone();
                (outcome, probe) = (o, p);
                inserted = 0;
                matched = true;
                break;
            }
            first_try.get_or_insert((o, p, performed));
        }
        if matched {
            continue;
        }
        let (o, p, performed) = first_try.expect("at least one candidate was tried");
        let performed = performed.unwrap_or_else(|| "?".to_string());
        if candidates.len() == 1 && inserted < MAX_INSERTED {
            out.notes.push(format!(
                "a step not in the recording, `{}`, runs before recorded step {}",
                SemStep::step(task.as_str(), performed.as_str()),
                k + 1
            ));
            decisions = o.schedule.decisions.clone();
            (outcome, probe) = (o, p);
            inserted += 1;
            continue;
        }
        return Err(diverge(format!("{task}'s step performs `{performed}`")));
    }
    out.schedule = Schedule::new(decisions);
    Ok(out)
}

fn name_of(names: &[String], task: TaskId) -> String {
    names
        .get(task.0 as usize)
        .cloned()
        .unwrap_or_else(|| task.to_string())
}

/// The operation of the last `step` event of a trace.
fn last_step_op(trace: &[TraceEvent]) -> Option<String> {
    match steps_of_trace(trace)
        .into_iter()
        .rev()
        .find(|s| matches!(s, SemStep::Step { .. }))
    {
        Some(SemStep::Step { op, .. }) => Some(op),
        _ => None,
    }
}
