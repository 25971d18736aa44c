//! Engine hooks: the one narrow interface between the runtime primitives and
//! the executor running them (yield to the scheduler, current task, virtual
//! time, choices, footprints, trace emission). Swapping the backend (shuttle,
//! madsim) means re-implementing this module, not the primitives.
//!
//! The running executor is reached through a thread-local: cargo runs tests on
//! parallel threads and each simulation lives entirely on the thread that
//! runs it. Hooks used on drop paths are tolerant (no-ops outside a run);
//! hooks that start an operation panic outside a run, since that is a
//! programming error.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use super::ids::{Access, ObjId, TaskId};
use super::state::{EventExt, SimObject, State, TimerSlot, TraceLevel, Violation, Wait};
use super::sync::Lock;
use crate::explore::schedules::{Decision, Scheduler};
use crate::trace::TraceEvent;

const OUTSIDE: &str = "lockstep::rt used outside a simulation: call it from a model running \
                       on lockstep's executor (rt::Executor::run or explore::schedules::check)";

pub(crate) type BoxTask = Pin<Box<dyn Future<Output = ()>>>;

pub(crate) struct TaskFuture {
    pub fut: BoxTask,
    pub waker: Waker,
}

/// Tasks woken since the executor last looked, in wake order.
#[derive(Default)]
pub(crate) struct WakeQueue(Lock<Vec<TaskId>>);

impl WakeQueue {
    pub(crate) fn drain_into(&self, out: &mut Vec<TaskId>) {
        out.clear();
        out.append(&mut self.0.lock());
    }
}

struct TaskWaker {
    task: TaskId,
    queue: Arc<WakeQueue>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.queue.0.lock().push(self.task);
    }
}

/// The running executor, as seen by the hooks.
pub(crate) struct Core {
    pub st: RefCell<State>,
    pub futures: RefCell<Vec<Option<TaskFuture>>>,
    pub wakes: Arc<WakeQueue>,
    pub scheduler: Rc<RefCell<dyn Scheduler>>,
}

/// Panic payload that abandons a run from inside a task (a scheduler declined a choice).
pub(crate) struct AbandonRun;

thread_local! {
    static CORE: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// Uninstalls the thread's executor when dropped (also on unwinding).
pub(crate) struct Installed(());

impl Drop for Installed {
    fn drop(&mut self) {
        CORE.with(|c| c.borrow_mut().take());
    }
}

pub(crate) fn install(core: Rc<Core>) -> Installed {
    CORE.with(|c| {
        let mut slot = c.borrow_mut();
        assert!(
            slot.is_none(),
            "lockstep: a simulation is already running on this thread"
        );
        *slot = Some(core);
    });
    Installed(())
}

fn try_with_core<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    CORE.with(|c| c.borrow().as_ref().map(|core| f(core)))
}

pub(crate) fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    try_with_core(|core| f(&mut core.st.borrow_mut())).expect(OUTSIDE)
}

pub(crate) fn try_with_state<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    try_with_core(|core| f(&mut core.st.borrow_mut()))
}

/// Whether a simulation is running on this thread.
pub fn in_simulation() -> bool {
    try_with_core(|_| ()).is_some()
}

pub(crate) fn current() -> TaskId {
    with_state(|st| st.current).expect("lockstep: no task is running (called between steps?)")
}

/// Declares that the running task reached a scheduling point.
pub(crate) fn announce() {
    with_state(|st| st.announced = true);
}

pub(crate) fn record(obj: ObjId, access: Access) {
    try_with_state(|st| st.record(obj, access));
}

pub(crate) fn fold(value: u64) {
    try_with_state(|st| st.fold(value));
}

/// Notes what the running task is about to block on (wait-for graph, trace).
pub(crate) fn block(wait: Wait) {
    try_with_state(|st| {
        if let Some(t) = st.current {
            st.tasks[t.index()].waiting_on = Some(wait);
        }
    });
}

/// The running task blocks on something no object tracks (e.g. a `none()` token).
pub(crate) fn block_untracked() {
    try_with_state(|st| {
        if let Some(t) = st.current {
            st.tasks[t.index()].waiting_on = None;
        }
    });
}

pub(crate) fn register_object(name: String, handle: Weak<dyn SimObject>) -> ObjId {
    with_state(|st| st.add_object(name, handle))
}

/// Adds a task whose future is built from its id.
pub(crate) fn spawn(name: &str, daemon: bool, build: impl FnOnce(TaskId) -> BoxTask) -> TaskId {
    let core = CORE.with(|c| c.borrow().clone()).expect(OUTSIDE);
    let id = {
        let mut st = core.st.borrow_mut();
        let id = st.add_task(name, daemon);
        if st.tracing(TraceLevel::Ops) {
            let child = st.tasks[id.index()].name.clone();
            let ev = st.push_event(None, "spawn").field("child", child);
            if daemon {
                ev.fields.insert("daemon".into(), "true".into());
            }
        }
        id
    };
    let fut = build(id);
    attach_future(&core, id, fut);
    id
}

/// Stores a task's future together with its (reused) waker.
pub(crate) fn attach_future(core: &Core, id: TaskId, fut: BoxTask) {
    let waker = Waker::from(Arc::new(TaskWaker {
        task: id,
        queue: core.wakes.clone(),
    }));
    let mut futures = core.futures.borrow_mut();
    if futures.len() <= id.index() {
        futures.resize_with(id.index() + 1, || None);
    }
    futures[id.index()] = Some(TaskFuture { fut, waker });
}

pub(crate) fn task_name(t: TaskId) -> String {
    with_state(|st| st.tasks[t.index()].name.clone())
}

pub(crate) fn task_history(t: TaskId) -> u64 {
    with_state(|st| st.tasks[t.index()].history)
}

pub(crate) fn now() -> Duration {
    with_state(|st| st.clock)
}

pub(crate) type TimerKey = (Duration, u64);

pub(crate) fn add_timer(deadline: Duration) -> TimerKey {
    with_state(|st| {
        let task = st.current.expect("timers are set by tasks");
        let daemon = st.tasks[task.index()].daemon;
        st.timer_seq += 1;
        let key = (deadline, st.timer_seq);
        st.timers.insert(key, TimerSlot { task, daemon });
        key
    })
}

pub(crate) fn timer_pending(key: TimerKey) -> bool {
    try_with_state(|st| st.timers.contains_key(&key)).unwrap_or(false)
}

pub(crate) fn cancel_timer(key: TimerKey) {
    try_with_state(|st| st.timers.remove(&key));
}

/// Asks the scheduler for a value in `0..n` and records the decision.
pub(crate) fn choose(label: &str, n: usize) -> usize {
    assert!(
        n > 0,
        "lockstep: rt::choose(\"{label}\", 0): there must be at least one option"
    );
    let core = CORE.with(|c| c.borrow().clone()).expect(OUTSIDE);
    let picked = core.scheduler.borrow_mut().next_choice(label, n);
    let Some(v) = picked.filter(|&v| v < n) else {
        std::panic::resume_unwind(Box::new(AbandonRun));
    };
    let mut st = core.st.borrow_mut();
    st.decisions.push(Decision::Choice(v as u32));
    st.fold(0xc0 ^ ((v as u64) << 8));
    if st.tracing(TraceLevel::Ops) {
        st.push_event(None, "choose")
            .field("label", label)
            .field("value", v)
            .field("of", n);
    }
    v
}

/// Whether the run records events at `level` (to skip building costly fields).
pub(crate) fn tracing(level: TraceLevel) -> bool {
    try_with_state(|st| st.tracing(level)).unwrap_or(false)
}

/// Appends a trace event if the run traces at `level`.
pub(crate) fn event(level: TraceLevel, kind: &str, fill: impl FnOnce(&mut TraceEvent)) {
    try_with_state(|st| {
        if st.tracing(level) {
            fill(st.push_event(None, kind));
        }
    });
}

pub(crate) fn always(name: &str, ok: bool, detail: impl FnOnce() -> String) {
    with_state(|st| {
        if !st.always_seen.contains(name) {
            st.always_seen.insert(name.to_string());
        }
        if ok || st.violations.iter().any(|v| v.property == name) {
            return;
        }
        let detail = detail();
        let task = st
            .current
            .map_or_else(String::new, |t| st.tasks[t.index()].name.clone());
        st.violations.push(Violation {
            property: name.to_string(),
            detail: detail.clone(),
            step: st.step,
            task,
        });
        if st.tracing(TraceLevel::Ops) {
            st.push_event(None, "violation")
                .field("property", name)
                .field("detail", detail);
        }
    });
}

pub(crate) fn sometimes(name: &str, ok: bool) {
    with_state(|st| {
        if ok && !st.sometimes.contains(name) {
            st.sometimes.insert(name.to_string());
        }
    });
}

pub(crate) fn quiescence_register() {
    with_state(|st| {
        let t = st.current.expect("a task");
        if !st.quiescence_waiters.contains(&t) {
            st.quiescence_waiters.push(t);
        }
        st.tasks[t.index()].waiting_on = Some(Wait::Quiescence);
    });
}

pub(crate) fn quiescence_pending() -> bool {
    with_state(|st| {
        st.current
            .is_some_and(|t| st.quiescence_waiters.contains(&t))
    })
}

pub(crate) fn quiescence_cancel(task: TaskId) {
    try_with_state(|st| st.quiescence_waiters.retain(|&t| t != task));
}

pub(crate) fn thread_block_push(what: &str) -> TaskId {
    with_state(|st| {
        let t = st.current.expect("a task");
        st.tasks[t.index()].thread_blocks.push(what.to_string());
        if st.tracing(TraceLevel::Ops) {
            st.push_event(None, "block-thread").field("on", what);
        }
        t
    })
}

pub(crate) fn thread_block_pop(task: TaskId) {
    try_with_state(|st| {
        let popped = st
            .tasks
            .get_mut(task.index())
            .and_then(|slot| slot.thread_blocks.pop());
        if let Some(what) = popped {
            if st.tracing(TraceLevel::Ops) {
                st.push_event(Some(task), "unblock-thread")
                    .field("on", what);
            }
        }
    });
}

pub(crate) fn current_name() -> String {
    with_state(|st| st.current.map(|t| st.tasks[t.index()].name.clone()))
        .unwrap_or_else(|| "main".to_string())
}

/// A scheduling point: the first poll announces the operation and yields to
/// the scheduler; the poll that follows (when the scheduler picks the task)
/// executes it, recording the access and folding `tag` into the task history.
pub(crate) struct Point {
    obj: Option<ObjId>,
    access: Access,
    tag: u64,
    announced: bool,
}

pub(crate) fn point(obj: Option<ObjId>, access: Access, tag: u64) -> Point {
    Point {
        obj,
        access,
        tag,
        announced: false,
    }
}

impl Future for Point {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if !self.announced {
            self.announced = true;
            announce();
            return Poll::Pending;
        }
        if let Some(obj) = self.obj {
            record(obj, self.access);
        }
        fold(self.tag);
        Poll::Ready(())
    }
}
