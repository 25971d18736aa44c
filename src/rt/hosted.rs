//! Hosting lockstep's runtime on a foreign executor (shuttle, madsim): the
//! backend owns the tasks and decides who runs next; lockstep keeps its own
//! bookkeeping of every task (runnable / blocked / finished), so traces,
//! properties, quiescence, timers and the wait-for analysis behave exactly as
//! on lockstep's own executor.
//!
//! How it works: every task's future is wrapped in a [`HostedTask`]. Polling
//! it is one *step*, with the same bookkeeping as `executor::run_loop`; the
//! inner future sees a [`HostedWaker`] that records the wake for lockstep and
//! forwards it to the backend's waker. A scheduling point (`engine::point`)
//! becomes a self-wake plus `Pending`, i.e. a yield the backend schedules
//! around. After each step, [`Hosted::settle`] does what the own executor does
//! when nothing is runnable: wake `until_quiescent` waiters, or (when
//! lockstep emulates time, as under shuttle) jump the clock to the next timer.
//! If nothing can run and nothing is due, every task is blocked and the
//! backend's own deadlock detection fires: the root future waits for every
//! non-daemon task, so blocked detached tasks count (shuttle pitfall 1).
#![cfg_attr(not(any(feature = "shuttle", feature = "madsim")), allow(dead_code))]

use std::cell::RefCell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use super::engine::{self, Core, SendTask, TimerKey, WakeQueue};
use super::executor::{self, panic_message, RunConfig, RunOutcome, RunStatus};
use super::ids::TaskId;
use super::state::{EventExt, State, TaskStatus, TraceLevel};
use super::sync::Lock;
use super::waitfor;
use crate::explore::schedules::RandomScheduler;

/// What a foreign executor provides.
pub(crate) trait Backend {
    /// Runs `task` as a new backend task (detached: lockstep tracks it).
    fn spawn(&self, task: SendTask);
    /// A value in `0..n` from the backend's controlled randomness.
    fn choose(&self, n: usize) -> usize;
    /// Time since the run started if the backend owns time (madsim); `None`
    /// when lockstep emulates it (the clock jumps at quiescence).
    fn now(&self) -> Option<Duration>;
    /// Backend-owned time only: arrange for [`fire_timer`] at the deadline.
    fn start_timer(&self, _key: TimerKey, _run: u64) {}
    /// Backend-owned time only: the timer was dropped unfired.
    fn cancel_timer(&self, _key: TimerKey) {}
}

/// The per-run hosting state, stored in the installed [`Core`].
pub(crate) struct Hosted {
    backend: Box<dyn Backend>,
    /// Identifies the run, so a task left over from an abandoned run never
    /// touches the next one.
    run: u64,
    config: RunConfig,
    /// Each task's [`HostedWaker`], by task id.
    wakers: RefCell<Vec<Option<Waker>>>,
    /// Why the run stopped early (step or time bound, a task panicked).
    stop: RefCell<Option<RunStatus>>,
    /// The root future's waker: woken when the run is over.
    root: RefCell<Option<Waker>>,
    /// Tasks spawned during the current step, handed to the backend when the
    /// step is over: shuttle may switch tasks inside its `spawn`, which would
    /// break the atomicity of the spawning step (code between two awaits).
    spawned: RefCell<Vec<HostedTask>>,
}

thread_local! {
    static RUNS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// The core of the run in progress, kept apart from the installed slot:
    /// a backend that fails a run may unwind the root (uninstalling the core)
    /// or leak it, and the deadlock analysis needs the core either way.
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// Wakes lockstep's bookkeeping (through the wake queue) and the backend.
struct HostedWaker {
    task: TaskId,
    queue: Arc<WakeQueue>,
    backend: Arc<Lock<Option<Waker>>>,
}

impl Wake for HostedWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.queue.push(self.task);
        let backend = self.backend.lock().clone();
        if let Some(w) = backend {
            w.wake();
        }
    }
}

/// A task as the backend sees it: one poll is one lockstep step.
pub(crate) struct HostedTask {
    run: u64,
    id: TaskId,
    fut: Option<SendTask>,
    waker: Waker,
    backend: Arc<Lock<Option<Waker>>>,
}

impl Hosted {
    pub(crate) fn spawn(&self, core: &Core, id: TaskId, fut: SendTask) {
        let task = self.wrap(core, id, fut);
        self.spawned.borrow_mut().push(task);
    }

    /// Hands the tasks spawned by the step just over to the backend.
    fn flush_spawned(&self) {
        let spawned = std::mem::take(&mut *self.spawned.borrow_mut());
        for task in spawned {
            self.backend.spawn(Box::pin(task));
        }
    }

    fn wrap(&self, core: &Core, id: TaskId, fut: SendTask) -> HostedTask {
        let backend = Arc::new(Lock::new(None));
        let waker = Waker::from(Arc::new(HostedWaker {
            task: id,
            queue: core.wakes.clone(),
            backend: backend.clone(),
        }));
        let mut wakers = self.wakers.borrow_mut();
        if wakers.len() <= id.index() {
            wakers.resize_with(id.index() + 1, || None);
        }
        wakers[id.index()] = Some(waker.clone());
        HostedTask {
            run: self.run,
            id,
            fut: Some(fut),
            waker,
            backend,
        }
    }

    pub(crate) fn choose(&self, n: usize) -> usize {
        self.backend.choose(n) % n
    }

    pub(crate) fn start_timer(&self, key: TimerKey) {
        self.backend.start_timer(key, self.run);
    }

    pub(crate) fn cancel_timer(&self, key: TimerKey) {
        self.backend.cancel_timer(key);
    }

    fn owns_time(&self) -> bool {
        self.backend.now().is_some()
    }

    fn stop_with(&self, status: RunStatus) {
        let mut stop = self.stop.borrow_mut();
        if stop.is_none() {
            *stop = Some(status);
        }
    }

    fn wake_task(&self, t: TaskId) -> Option<Waker> {
        self.wakers.borrow().get(t.index()).cloned().flatten()
    }

    fn wake_root(&self) {
        let root = self.root.borrow().clone();
        if let Some(w) = root {
            w.wake();
        }
    }

    /// What the own executor does when no task is runnable: release
    /// quiescence waiters, or fire the next timers (emulated time only).
    fn settle(&self, core: &Core) {
        loop {
            let mut to_wake = Vec::new();
            {
                let mut st = core.st.borrow_mut();
                drain_wakes(core, &mut st);
                if self.stop.borrow().is_some() || st.all_nondaemon_finished() {
                    return;
                }
                if st.tasks.iter().any(|t| t.status == TaskStatus::Runnable) {
                    return;
                }
                if !st.quiescence_waiters.is_empty() && !st.has_nondaemon_timer() {
                    to_wake = std::mem::take(&mut st.quiescence_waiters);
                } else if self.owns_time() {
                    return;
                } else if let Some((&(deadline, _), _)) = st.timers.first_key_value() {
                    if deadline > self.config.max_virtual_time {
                        self.stop_with(RunStatus::TimeBoundReached);
                        return;
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
                        to_wake.push(task);
                    }
                } else {
                    // Nothing can ever run: a deadlock the backend detects.
                    return;
                }
            }
            for t in to_wake {
                if let Some(w) = self.wake_task(t) {
                    w.wake();
                }
            }
        }
    }
}

fn drain_wakes(core: &Core, st: &mut State) {
    let mut woken = Vec::new();
    core.wakes.drain_into(&mut woken);
    for t in woken {
        st.wake(t);
    }
}

#[cfg_attr(not(madsim), allow(dead_code))]
/// Called by a backend that owns time when timer `key` of run `run` is due.
pub(crate) fn fire_timer(key: TimerKey, run: u64) {
    let Some(core) = engine::installed() else {
        return;
    };
    let Some(hosted) = core.hosted.as_ref().filter(|h| h.run == run) else {
        return;
    };
    let task = {
        let mut st = core.st.borrow_mut();
        if let Some(now) = hosted.backend.now() {
            st.clock = now;
        }
        let Some(slot) = st.timers.remove(&key) else {
            return;
        };
        if st.tracing(TraceLevel::Ops) {
            st.push_event(Some(slot.task), "timer-fired");
        }
        slot.task
    };
    if let Some(w) = hosted.wake_task(task) {
        w.wake();
    }
}

enum Polled {
    Ready,
    Pending,
    Panicked(String),
}

impl HostedTask {
    /// One step of this task, with the own executor's bookkeeping.
    fn step(&mut self, core: &Core, hosted: &Hosted, backend_waker: &Waker) -> Poll<()> {
        let id = self.id;
        {
            let mut st = core.st.borrow_mut();
            if hosted.stop.borrow().is_some() {
                return Poll::Pending;
            }
            drain_wakes(core, &mut st);
            if let Some(now) = hosted.backend.now() {
                st.clock = now;
            }
            // A poll lockstep did not wake it for changes nothing: skip it.
            if st.tasks[id.index()].status != TaskStatus::Runnable {
                return Poll::Pending;
            }
            if st.step >= hosted.config.max_steps {
                drop(st);
                hosted.stop_with(RunStatus::StepBoundReached);
                hosted.wake_root();
                return Poll::Pending;
            }
            st.begin_step(id);
        }
        let fut = self
            .fut
            .as_mut()
            .expect("a hosted task polled after it finished");
        let result = catch_unwind(AssertUnwindSafe(|| {
            fut.as_mut().poll(&mut Context::from_waker(&self.waker))
        }));
        let polled = match result {
            Ok(Poll::Ready(())) => Polled::Ready,
            Ok(Poll::Pending) => Polled::Pending,
            Err(payload) => Polled::Panicked(panic_message(payload.as_ref())),
        };
        if matches!(polled, Polled::Ready) {
            // Dropped within the step, as the own executor does.
            executor::drop_quietly(self.fut.take());
        }
        let mut yielded = false;
        {
            let mut st = core.st.borrow_mut();
            let mut woken = Vec::new();
            core.wakes.drain_into(&mut woken);
            let mut self_woken = false;
            for &t in &woken {
                if t == id {
                    self_woken = true;
                } else {
                    st.wake(t);
                }
            }
            match &polled {
                Polled::Ready => {
                    st.tasks[id.index()].status = TaskStatus::Finished;
                    if st.tracing(TraceLevel::Ops) {
                        st.push_event(Some(id), "finish");
                    }
                }
                Polled::Pending if st.announced || self_woken => yielded = true,
                Polled::Pending => {
                    st.tasks[id.index()].status = TaskStatus::Blocked;
                    if st.tracing(TraceLevel::Ops) {
                        let on = executor::blocked_on(&st, id);
                        st.push_event(Some(id), "block").field("on", on);
                    }
                }
                Polled::Panicked(message) => {
                    let task = st.tasks[id.index()].name.clone();
                    hosted.stop_with(RunStatus::Panic {
                        task,
                        message: message.clone(),
                    });
                }
            }
            st.current = None;
            st.step += 1;
        }
        hosted.flush_spawned();
        hosted.settle(core);
        let over = hosted.stop.borrow().is_some() || core.st.borrow().all_nondaemon_finished();
        if over {
            hosted.wake_root();
        }
        match polled {
            Polled::Ready => Poll::Ready(()),
            _ => {
                if yielded && !over {
                    backend_waker.wake_by_ref();
                }
                Poll::Pending
            }
        }
    }
}

impl Future for HostedTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        {
            let mut slot = this.backend.lock();
            if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        if this.fut.is_none() {
            return Poll::Ready(());
        }
        // A task of an abandoned run, or polled after its run ended, stays put.
        let Some(core) = engine::installed() else {
            return Poll::Pending;
        };
        let Some(hosted) = core.hosted.as_ref().filter(|h| h.run == this.run) else {
            return Poll::Pending;
        };
        if core.st.borrow().teardown {
            return Poll::Pending;
        }
        this.step(&core, hosted, cx.waker())
    }
}

/// Installs a hosted core for one run and builds its root future: the main
/// task plus "wait until every non-daemon task finished or the run stopped".
pub(crate) fn begin<F>(config: &RunConfig, backend: Box<dyn Backend>, main: F) -> Root
where
    F: FnOnce() -> SendTask,
{
    // A backend that abandoned a failed run may have left its core installed.
    drop(engine::take_installed());
    let run = RUNS.with(|r| {
        r.set(r.get() + 1);
        r.get()
    });
    let core = Rc::new(Core {
        st: RefCell::new(State::new(config.trace_level)),
        futures: RefCell::new(Vec::new()),
        wakes: Arc::new(WakeQueue::default()),
        scheduler: Rc::new(RefCell::new(RandomScheduler::new(0))),
        hosted: Some(Hosted {
            backend,
            run,
            config: config.clone(),
            wakers: RefCell::new(Vec::new()),
            stop: RefCell::new(None),
            root: RefCell::new(None),
            spawned: RefCell::new(Vec::new()),
        }),
    });
    let installed = engine::install(core.clone());
    CURRENT.with(|c| *c.borrow_mut() = Some(core.clone()));
    {
        let mut st = core.st.borrow_mut();
        st.add_task("main", false);
        st.current = Some(TaskId::MAIN);
    }
    let built = catch_unwind(AssertUnwindSafe(main));
    core.st.borrow_mut().current = None;
    let hosted = core.hosted.as_ref().expect("hosted");
    let main = match built {
        Ok(fut) => Some(hosted.wrap(&core, TaskId::MAIN, fut)),
        Err(payload) => {
            hosted.stop_with(RunStatus::Panic {
                task: "main".to_string(),
                message: panic_message(payload.as_ref()),
            });
            None
        }
    };
    hosted.flush_spawned();
    Root {
        core,
        main,
        _installed: installed,
    }
}

/// The future a backend blocks on for one run. Resolves to how the run ended
/// (short of a deadlock, which the backend itself detects).
pub(crate) struct Root {
    core: Rc<Core>,
    main: Option<HostedTask>,
    _installed: engine::Installed,
}

impl Future for Root {
    type Output = RunStatus;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<RunStatus> {
        let this = self.get_mut();
        if let Some(main) = &mut this.main {
            if Pin::new(main).poll(cx).is_ready() {
                this.main = None;
            }
        }
        let hosted = this.core.hosted.as_ref().expect("hosted");
        if let Some(status) = hosted.stop.borrow().clone() {
            return Poll::Ready(status);
        }
        if this.core.st.borrow().all_nondaemon_finished() {
            return Poll::Ready(RunStatus::Completed);
        }
        *hosted.root.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Root {
    /// Ends the run the root future resolved: the outcome, as the own
    /// executor would report it. The tasks' futures stay with the backend.
    pub(crate) fn finish(self, end: RunStatus) -> RunOutcome {
        let Root {
            core,
            main,
            _installed,
        } = self;
        CURRENT.with(|c| c.borrow_mut().take());
        executor::record_end(&mut core.st.borrow_mut(), &end);
        executor::drop_quietly(main);
        let outcome = executor::assemble(&core, end);
        drop(_installed);
        outcome
    }
}

/// Ends a run the backend abandoned (its root never resolved: a deadlock,
/// or the backend's own failure): the wait-for analysis of lockstep's
/// bookkeeping, and the outcome.
pub(crate) fn finish_abandoned(backend_message: &str) -> Option<RunOutcome> {
    drop(engine::take_installed());
    let core = CURRENT.with(|c| c.borrow_mut().take())?;
    let end = {
        let mut st = core.st.borrow_mut();
        drain_wakes(&core, &mut st);
        let stuck = st
            .tasks
            .iter()
            .any(|t| !t.daemon && t.status != TaskStatus::Finished);
        let runnable = st.tasks.iter().any(|t| t.status == TaskStatus::Runnable);
        if stuck && !runnable && !st.timers.is_empty() {
            // Only timers past the virtual-time bound are left (a backend
            // that owns time never started them).
            RunStatus::TimeBoundReached
        } else if stuck && !runnable {
            let info = waitfor::analyse(&st);
            RunStatus::Deadlock {
                wait_for: info.wait_for,
                cycle: info.cycle,
                blocked: info.blocked,
            }
        } else {
            RunStatus::Panic {
                task: "backend".to_string(),
                message: backend_message.to_string(),
            }
        }
    };
    executor::record_end(&mut core.st.borrow_mut(), &end);
    Some(executor::assemble(&core, end))
}

/// Forgets whatever a failed or abandoned run left behind on this thread.
pub(crate) fn clear_leftovers() {
    drop(engine::take_installed());
    CURRENT.with(|c| c.borrow_mut().take());
}
