//! Tasks: `spawn`, `spawn_daemon`, `JoinHandle` (with `abort`), `yield_now`,
//! `current_task`.
//!
//! Every spawned task is tracked by the executor whether or not its handle is
//! kept: a blocked detached task counts for deadlock detection (shuttle's
//! blind spot, see the prototype notes). Daemons are service loops whose being
//! blocked or sleeping at the end of a run is not a deadlock.
//!
//! Aborting a task ([`JoinHandle::abort`], [`AbortHandle::abort`]) wakes it;
//! at its next step the task's future is dropped instead of polled, so its
//! RAII guards (semaphore permits, mutex guards, pending acquires, timers) are
//! released in that step, as if the task had been cancelled at the await it
//! was parked on. Awaiting an aborted task's [`JoinHandle::join`] gives
//! [`JoinError::Cancelled`]. Aborting a finished task does nothing.

use std::future::Future;
use std::hash::Hasher;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::engine;
use super::hash::StableHasher;
use super::ids::{Access, ObjId, TaskId};
use super::state::{FingerprintCx, SimObject, TraceLevel, Wait};
use super::sync::Lock;

const TAG_YIELD: u64 = 0x71e1d;
const TAG_JOIN: u64 = 0x701e;
const TAG_ABORT: u64 = 0xab047;

struct JoinState<T> {
    value: Option<T>,
    finished: bool,
    waiter: Option<Waker>,
    /// Someone asked for the task to be dropped at its next step.
    abort_requested: bool,
    /// The task was dropped unfinished (finished is then true, value None).
    cancelled: bool,
    /// The task's own waker, from its last step: an abort wakes it with it.
    task_waker: Option<Waker>,
}

struct JoinInner<T> {
    id: ObjId,
    task: TaskId,
    state: Lock<JoinState<T>>,
}

impl<T: Send> SimObject for JoinInner<T> {
    fn fingerprint(&self, cx: &FingerprintCx<'_>, h: &mut StableHasher) {
        let st = self.state.lock();
        h.write_u8(st.finished as u8);
        h.write_u8(st.value.is_some() as u8);
        if st.value.is_some() {
            // The output is a function of the finished task's history, which
            // the task itself no longer contributes (see `State::fingerprint`).
            // Without this line `reductions_reach_exactly_the_outcomes_of_plain_dfs`
            // fails: its tasks finish before the joins read their outputs.
            h.write_u64(cx.history(self.task));
        }
        h.write_u8(st.abort_requested as u8 | (st.cancelled as u8) << 1);
    }
    fn holders(&self) -> Vec<TaskId> {
        if self.state.lock().finished {
            Vec::new()
        } else {
            vec![self.task]
        }
    }
}

impl<T> JoinInner<T> {
    /// At the start of each of the task's steps: whether it is to be dropped
    /// now (an abort came); otherwise remembers the waker an abort would use.
    fn abort_due(&self, waker: &Waker) -> bool {
        // Every step of the task reads its join object and an abort writes
        // it, so the explorers see an abort and the aborted task's next step
        // as dependent (their order matters).
        engine::record(self.id, Access::Read);
        let mut st = self.state.lock();
        if st.abort_requested {
            return true;
        }
        match &st.task_waker {
            Some(w) if w.will_wake(waker) => {}
            _ => st.task_waker = Some(waker.clone()),
        }
        false
    }

    /// The task's future was dropped unfinished.
    fn cancel(&self) {
        engine::record(self.id, Access::Write);
        let waiter = {
            let mut st = self.state.lock();
            st.finished = true;
            st.cancelled = true;
            st.task_waker = None;
            st.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }

    fn complete(&self, value: T) {
        engine::record(self.id, Access::Write);
        let waiter = {
            let mut st = self.state.lock();
            st.value = Some(value);
            st.finished = true;
            st.task_waker = None;
            st.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

/// What an [`AbortHandle`] needs of a task's join object, whatever its output type.
trait AbortTarget: Send + Sync {
    fn request_abort(&self);
}

impl<T: Send> AbortTarget for JoinInner<T> {
    /// Marks the task for dropping and wakes it (a synchronous write, not a
    /// scheduling point: the task goes at its next step). No-op once finished.
    fn request_abort(&self) {
        engine::record(self.id, Access::Write);
        let waker = {
            let mut st = self.state.lock();
            if st.finished || st.abort_requested {
                engine::fold(TAG_ABORT);
                return;
            }
            st.abort_requested = true;
            st.task_waker.take()
        };
        engine::fold(TAG_ABORT ^ 1);
        if engine::tracing(TraceLevel::Ops) {
            let target = engine::task_name(self.task);
            engine::event(TraceLevel::Ops, "abort", |e| {
                e.fields.insert("task".into(), target);
            });
        }
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Aborts a task without owning its [`JoinHandle`] (clone it to hand to
/// another task).
#[derive(Clone)]
pub struct AbortHandle {
    target: Arc<dyn AbortTarget>,
}

impl AbortHandle {
    /// See [`JoinHandle::abort`].
    pub fn abort(&self) {
        self.target.request_abort();
    }
}

/// Why a task gave no output.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The task was aborted before it finished.
    #[error("task {task} was aborted")]
    Cancelled { task: String },
}

impl JoinError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled { .. })
    }
}

/// Awaits a task's output. Dropping it detaches the task, which keeps running
/// and stays tracked.
///
/// Awaiting the handle itself gives the output and panics (a reported
/// failure of the awaiting task) if the task was aborted; await
/// [`JoinHandle::join`] to get a [`JoinError`] instead.
pub struct JoinHandle<T> {
    inner: Arc<JoinInner<T>>,
    stage: u8,
}

impl<T> JoinHandle<T> {
    /// Whether the task has finished (a synchronous read, not a scheduling point).
    /// An aborted task counts as finished once it has been dropped.
    pub fn is_finished(&self) -> bool {
        engine::record(self.inner.id, Access::Read);
        let done = self.inner.state.lock().finished;
        engine::fold(done as u64);
        done
    }
}

impl<T: Send + 'static> JoinHandle<T> {
    /// Asks for the task to be dropped at its next step (it is woken if it
    /// waits), releasing what its guards hold. A synchronous call, not a
    /// scheduling point; aborting a finished task does nothing.
    pub fn abort(&self) {
        self.inner.request_abort();
    }

    /// A handle that can abort the task from elsewhere.
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            target: self.inner.clone(),
        }
    }

    /// The task's output, or [`JoinError::Cancelled`] if it was aborted first.
    pub fn join(self) -> Join<T> {
        Join { handle: self }
    }

    fn poll_result(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        let this = self;
        match this.stage {
            0 => {
                this.stage = 1;
                engine::announce();
                return Poll::Pending;
            }
            1 => {
                this.stage = 2;
                engine::record(this.inner.id, Access::Read);
                engine::fold(TAG_JOIN);
            }
            2 => engine::record(this.inner.id, Access::Read),
            _ => panic!("lockstep: JoinHandle polled after completion"),
        }
        let mut st = this.inner.state.lock();
        let result = match st.value.take() {
            Some(value) => Ok(value),
            None if st.cancelled => Err(JoinError::Cancelled {
                task: engine::task_name(this.inner.task),
            }),
            None => {
                st.waiter = Some(cx.waker().clone());
                drop(st);
                engine::block(Wait::Obj(this.inner.id));
                return Poll::Pending;
            }
        };
        drop(st);
        this.stage = 3;
        // The output is a function of the finished task's history.
        engine::fold(engine::task_history(this.inner.task));
        if engine::tracing(TraceLevel::Ops) {
            let joined = engine::task_name(this.inner.task);
            let kind = if result.is_ok() {
                "joined"
            } else {
                "join-cancelled"
            };
            engine::event(TraceLevel::Ops, kind, |e| {
                e.fields.insert("task".into(), joined);
            });
        }
        Poll::Ready(result)
    }
}

impl<T: Send + 'static> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.get_mut().poll_result(cx) {
            Poll::Ready(Ok(value)) => Poll::Ready(value),
            Poll::Ready(Err(e)) => panic!("lockstep: awaited a JoinHandle whose {e}; await `handle.join()` to get a JoinError instead"),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The future of [`JoinHandle::join`].
pub struct Join<T> {
    handle: JoinHandle<T>,
}

impl<T: Send + 'static> Future for Join<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().handle.poll_result(cx)
    }
}

/// A task's body: its future, dropped instead of polled once an abort came.
struct TaskBody<F: Future> {
    fut: Option<Pin<Box<F>>>,
    inner: Arc<JoinInner<F::Output>>,
}

impl<F> Future for TaskBody<F>
where
    F: Future,
    F::Output: Send,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(fut) = this.fut.as_mut() else {
            return Poll::Ready(());
        };
        if this.inner.abort_due(cx.waker()) {
            // Drop first: the guards it holds are released in this step.
            this.fut = None;
            engine::event(TraceLevel::Ops, "aborted", |_| {});
            this.inner.cancel();
            return Poll::Ready(());
        }
        match fut.as_mut().poll(cx) {
            Poll::Ready(value) => {
                this.fut = None;
                this.inner.complete(value);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

fn spawn_inner<F>(name: &str, daemon: bool, fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut handle = None;
    engine::spawn(name, daemon, |task| {
        let join_name = format!("join {}", engine::task_name(task));
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<JoinInner<F::Output>>| {
            let id = engine::register_object(join_name, weak.clone());
            JoinInner {
                id,
                task,
                state: Lock::new(JoinState {
                    value: None,
                    finished: false,
                    waiter: None,
                    abort_requested: false,
                    cancelled: false,
                    task_waker: None,
                }),
            }
        });
        handle = Some(JoinHandle {
            inner: inner.clone(),
            stage: 0,
        });
        Box::pin(TaskBody {
            fut: Some(Box::pin(fut)),
            inner,
        })
    });
    handle.expect("spawn built the task")
}

/// Spawns a task. `name` is for traces; the executor appends `#n`.
pub fn spawn<F>(name: impl Into<String>, fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_inner(&name.into(), false, fut)
}

/// Spawns a service loop whose being blocked at the end of a run is not a deadlock.
pub fn spawn_daemon<F>(name: impl Into<String>, fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_inner(&name.into(), true, fut)
}

/// A bare scheduling point.
pub async fn yield_now() {
    engine::point(None, Access::Read, TAG_YIELD).await
}

/// The name of task `id` in the running simulation (for custom schedulers,
/// e.g. conformance replay mapping protocol actors to tasks); `None` if
/// there is no such task or no simulation.
pub fn task_name(id: TaskId) -> Option<String> {
    engine::try_task_name(id)
}

/// The running task's name (`main`, `start#2`, ...). The `#n` suffix depends
/// on spawn order, so the name is folded into the task's history.
pub fn current_task() -> String {
    let name = engine::current_name();
    engine::fold(super::hash::hash_of(&name));
    name
}
