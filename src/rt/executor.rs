//! The deterministic single-threaded executor: runs one schedule of a model,
//! one scheduling point per primitive operation, on a virtual clock.
//!
//! A *step* is one poll of one task: it executes the operation the task
//! announced, runs the task's code up to its next scheduling point (or until
//! it blocks or finishes), and records every object touched (the dynamic
//! footprint). When no task is runnable, the clock jumps to the earliest
//! timer deadline and every timer due then fires (which of the woken tasks
//! goes first is a scheduling decision). A run ends when every non-daemon task
//! has finished, on deadlock (nothing runnable, no timer, some non-daemon task
//! unfinished), on a panic, on a step or time bound, or when the scheduler
//! abandons it.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::engine::{self, AbandonRun, Core, WakeQueue};
use super::ids::TaskId;
use super::state::{EventExt, State, TaskStatus, TraceLevel, Violation};
use super::waitfor;
use crate::explore::schedules::{Schedule, Scheduler, StepInfo, TaskPoint};
use crate::report::WaitEdge;
use crate::trace::TraceEvent;

/// Bounds and recording level of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunConfig {
    /// The run stops with `StepBoundReached` after this many steps.
    pub max_steps: u64,
    /// The run stops with `TimeBoundReached` when the clock would pass this.
    pub max_virtual_time: Duration,
    pub trace_level: TraceLevel,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            max_steps: 100_000,
            max_virtual_time: Duration::from_secs(7 * 24 * 3600),
            trace_level: TraceLevel::Ops,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// Every non-daemon task finished and no property was violated.
    Completed,
    /// Nothing runnable, no timer pending, some non-daemon task unfinished.
    Deadlock {
        /// The wait-for cycle if there is one, otherwise every blocked task's edges.
        wait_for: Vec<WaitEdge>,
        cycle: bool,
        /// The stuck non-daemon tasks.
        blocked: Vec<String>,
    },
    /// An `rt::always` failed (the first one recorded; all are in `violations`).
    Violation {
        property: String,
        detail: String,
    },
    /// A task panicked.
    Panic {
        task: String,
        message: String,
    },
    StepBoundReached,
    TimeBoundReached,
    /// The scheduler declined to continue (pruned, or a replay that does not fit).
    Abandoned,
}

impl RunStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Deadlock { .. } => "deadlock",
            RunStatus::Violation { .. } => "violation",
            RunStatus::Panic { .. } => "panic",
            RunStatus::StepBoundReached => "step-bound",
            RunStatus::TimeBoundReached => "time-bound",
            RunStatus::Abandoned => "abandoned",
        }
    }
}

/// Everything one run produced.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub status: RunStatus,
    /// Every recorded `always` failure, first per property, in order.
    pub violations: Vec<Violation>,
    pub trace: Vec<TraceEvent>,
    pub schedule: Schedule,
    pub sometimes_reached: BTreeSet<String>,
    pub always_checked: BTreeSet<String>,
    pub steps: u64,
    pub virtual_time: Duration,
}

impl RunOutcome {
    /// Whether the run shows a bug (deadlock, violation or panic).
    pub fn failed(&self) -> bool {
        matches!(
            self.status,
            RunStatus::Deadlock { .. } | RunStatus::Violation { .. } | RunStatus::Panic { .. }
        )
    }

    /// The property a failing run violates: `deadlock`, the first recorded
    /// `always`, or `panic`.
    pub fn property(&self) -> Option<String> {
        match &self.status {
            RunStatus::Deadlock { .. } => Some(crate::explore::DEADLOCK.to_string()),
            RunStatus::Violation { property, .. } => Some(property.clone()),
            RunStatus::Panic { .. } => Some("panic".to_string()),
            _ => None,
        }
    }
}

/// Entry point of the executor.
pub struct Executor;

enum Polled {
    Ready,
    Pending,
    Panicked(String),
    Abandoned,
}

impl Executor {
    /// Runs one schedule of the model whose main future `main` builds.
    /// `main` is called inside the simulation, so it may create runtime objects.
    pub fn run<F, Fut>(
        config: &RunConfig,
        scheduler: Rc<RefCell<dyn Scheduler>>,
        main: F,
    ) -> RunOutcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        let wants_fingerprints = scheduler.borrow().wants_fingerprints();
        let core = Rc::new(Core {
            st: RefCell::new(State::new(config.trace_level)),
            futures: RefCell::new(Vec::new()),
            wakes: Arc::new(WakeQueue::default()),
            scheduler,
            hosted: None,
        });
        let installed = engine::install(core.clone());
        {
            let mut st = core.st.borrow_mut();
            st.add_task("main", false);
            st.current = Some(TaskId::MAIN);
        }
        let built = catch_unwind(AssertUnwindSafe(main));
        core.st.borrow_mut().current = None;
        let first = match built {
            Ok(fut) => {
                engine::attach_future(&core, TaskId::MAIN, Box::pin(fut));
                None
            }
            Err(payload) => Some(RunStatus::Panic {
                task: "main".to_string(),
                message: panic_message(payload.as_ref()),
            }),
        };
        let end = match first {
            Some(status) => status,
            None => run_loop(&core, config, wants_fingerprints),
        };
        let outcome = finish(&core, end);
        drop(installed);
        outcome
    }

    /// [`Executor::run`] with an owned scheduler, handed back afterwards.
    pub fn run_with<S, F, Fut>(config: &RunConfig, scheduler: S, main: F) -> (RunOutcome, S)
    where
        S: Scheduler + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        let shared = Rc::new(RefCell::new(scheduler));
        let outcome = Self::run(config, shared.clone(), main);
        let scheduler = match Rc::try_unwrap(shared) {
            Ok(cell) => cell.into_inner(),
            Err(_) => unreachable!("the executor keeps no scheduler reference after a run"),
        };
        (outcome, scheduler)
    }
}

fn run_loop(core: &Core, config: &RunConfig, wants_fingerprints: bool) -> RunStatus {
    let mut enabled: Vec<TaskId> = Vec::new();
    let mut stable: Vec<u64> = Vec::new();
    let mut woken: Vec<TaskId> = Vec::new();
    let mut prev: Option<TaskId> = None;
    loop {
        let (step, failing) = {
            let mut st = core.st.borrow_mut();
            core.wakes.drain_into(&mut woken);
            for &t in &woken {
                st.wake(t);
            }
            if st.all_nondaemon_finished() {
                return RunStatus::Completed;
            }
            st.runnable_into(&mut enabled, &mut stable);
            if enabled.is_empty() {
                if !st.quiescence_waiters.is_empty() && !st.has_nondaemon_timer() {
                    for t in std::mem::take(&mut st.quiescence_waiters) {
                        st.wake(t);
                    }
                    continue;
                }
                if let Some((&(deadline, _), _)) = st.timers.first_key_value() {
                    if deadline > config.max_virtual_time {
                        return RunStatus::TimeBoundReached;
                    }
                    st.clock = st.clock.max(deadline);
                    while let Some(entry) = st.timers.first_entry() {
                        if entry.key().0 != deadline {
                            break;
                        }
                        let task = entry.remove().task;
                        if st.tracing(TraceLevel::Ops) {
                            st.push_event(Some(task), "timer-fired");
                        }
                        st.wake(task);
                    }
                    continue;
                }
                let info = waitfor::analyse(&st);
                return RunStatus::Deadlock {
                    wait_for: info.wait_for,
                    cycle: info.cycle,
                    blocked: info.blocked,
                };
            }
            if st.step >= config.max_steps {
                return RunStatus::StepBoundReached;
            }
            (st.step, !st.violations.is_empty())
        };
        let point = TaskPoint {
            enabled: &enabled,
            stable_ids: &stable,
            prev,
            step,
            failing,
        };
        let pick = core.scheduler.borrow_mut().next_task(&point);
        let Some(pick) = pick.filter(|p| enabled.binary_search(p).is_ok()) else {
            return RunStatus::Abandoned;
        };
        {
            core.st.borrow_mut().begin_step(pick);
        }
        let polled = poll_task(core, pick);
        let mut st = core.st.borrow_mut();
        core.wakes.drain_into(&mut woken);
        let mut self_woken = false;
        for &t in &woken {
            if t == pick {
                self_woken = true;
            } else {
                st.wake(t);
            }
        }
        match polled {
            Polled::Ready => {
                st.tasks[pick.index()].status = TaskStatus::Finished;
                if st.tracing(TraceLevel::Ops) {
                    st.push_event(Some(pick), "finish");
                }
            }
            Polled::Pending => {
                if !(st.announced || self_woken) {
                    st.tasks[pick.index()].status = TaskStatus::Blocked;
                    if st.tracing(TraceLevel::Ops) {
                        let on = blocked_on(&st, pick);
                        st.push_event(Some(pick), "block").field("on", on);
                    }
                }
            }
            Polled::Panicked(message) => {
                let task = st.tasks[pick.index()].name.clone();
                st.current = None;
                return RunStatus::Panic { task, message };
            }
            Polled::Abandoned => {
                st.current = None;
                return RunStatus::Abandoned;
            }
        }
        st.current = None;
        st.step += 1;
        let footprint = std::mem::take(&mut st.footprint);
        let fingerprint = (wants_fingerprints && core.scheduler.borrow().fingerprint_needed())
            .then(|| st.fingerprint());
        let info = StepInfo {
            task: pick,
            footprint: &footprint,
            fingerprint,
            step: st.step,
            failing: !st.violations.is_empty(),
        };
        drop(st);
        core.scheduler.borrow_mut().after_step(&info);
        core.st.borrow_mut().footprint = footprint;
        prev = Some(pick);
    }
}

pub(crate) fn blocked_on(st: &State, task: TaskId) -> String {
    use super::state::Wait;
    match st.tasks[task.index()].waiting_on {
        Some(Wait::Obj(o)) => st.obj_name(o).to_string(),
        Some(Wait::Timer(d)) => format!("timer@{}ms", d.as_millis()),
        Some(Wait::Quiescence) => "quiescence".to_string(),
        None => "untracked-future".to_string(),
    }
}

fn poll_task(core: &Core, id: TaskId) -> Polled {
    let mut task = core.futures.borrow_mut()[id.index()]
        .take()
        .expect("lockstep: a runnable task has a future");
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut cx = Context::from_waker(&task.waker);
        task.fut.as_mut().poll(&mut cx)
    }));
    match result {
        Ok(Poll::Ready(())) => {
            drop_quietly(task);
            Polled::Ready
        }
        Ok(Poll::Pending) => {
            core.futures.borrow_mut()[id.index()] = Some(task);
            Polled::Pending
        }
        Err(payload) => {
            // Keep the broken future for teardown, where drops are guarded.
            core.futures.borrow_mut()[id.index()] = Some(task);
            if payload.is::<AbandonRun>() {
                Polled::Abandoned
            } else {
                Polled::Panicked(panic_message(payload.as_ref()))
            }
        }
    }
}

pub(crate) fn drop_quietly<T>(value: T) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(value)));
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Records the end, drops every task future outside any borrow (their drops
/// may release permits and wake tasks), and assembles the outcome.
fn finish(core: &Core, end: RunStatus) -> RunOutcome {
    record_end(&mut core.st.borrow_mut(), &end);
    let futures = std::mem::take(&mut *core.futures.borrow_mut());
    for task in futures.into_iter().flatten() {
        drop_quietly(task);
    }
    assemble(core, end)
}

/// Appends the `end` event and stops recording (teardown starts).
pub(crate) fn record_end(st: &mut State, end: &RunStatus) {
    if st.tracing(TraceLevel::Ops) {
        let ev = st.push_event(None, "end").field("status", end.as_str());
        ev.task = "executor".to_string();
        if let RunStatus::Deadlock { blocked, .. } = end {
            ev.fields.insert("blocked".into(), blocked.join(","));
        }
    }
    st.teardown = true;
}

/// Takes the run's results out of the state (after the task futures are
/// gone or handed to their owner) and builds the outcome.
pub(crate) fn assemble(core: &Core, end: RunStatus) -> RunOutcome {
    let mut st = core.st.borrow_mut();
    let violations = std::mem::take(&mut st.violations);
    let status = match end {
        RunStatus::Completed | RunStatus::StepBoundReached | RunStatus::TimeBoundReached
            if !violations.is_empty() =>
        {
            RunStatus::Violation {
                property: violations[0].property.clone(),
                detail: violations[0].detail.clone(),
            }
        }
        other => other,
    };
    let outcome = RunOutcome {
        status,
        violations,
        trace: std::mem::take(&mut st.trace),
        schedule: Schedule::new(std::mem::take(&mut st.decisions)),
        sometimes_reached: std::mem::take(&mut st.sometimes),
        always_checked: std::mem::take(&mut st.always_seen),
        steps: st.step,
        virtual_time: st.clock,
    };
    // Drop the remaining state (object handles are weak) before uninstalling.
    let leftover = std::mem::replace(&mut *st, State::new(TraceLevel::Off));
    drop(st);
    drop_quietly(leftover);
    outcome
}
