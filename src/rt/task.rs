//! Tasks: `spawn`, `spawn_daemon`, `JoinHandle`, `yield_now`, `current_task`.
//!
//! Every spawned task is tracked by the executor whether or not its handle is
//! kept: a blocked detached task counts for deadlock detection (shuttle's
//! blind spot, see the prototype notes). Daemons are service loops whose being
//! blocked or sleeping at the end of a run is not a deadlock.

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

struct JoinState<T> {
    value: Option<T>,
    finished: bool,
    waiter: Option<Waker>,
}

struct JoinInner<T> {
    id: ObjId,
    task: TaskId,
    state: Lock<JoinState<T>>,
}

impl<T: Send> SimObject for JoinInner<T> {
    fn fingerprint(&self, _cx: &FingerprintCx<'_>, h: &mut StableHasher) {
        let st = self.state.lock();
        h.write_u8(st.finished as u8);
        h.write_u8(st.value.is_some() as u8);
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
    fn complete(&self, value: T) {
        engine::record(self.id, Access::Write);
        let waiter = {
            let mut st = self.state.lock();
            st.value = Some(value);
            st.finished = true;
            st.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

/// Awaits a task's output. Dropping it detaches the task, which keeps running
/// and stays tracked.
pub struct JoinHandle<T> {
    inner: Arc<JoinInner<T>>,
    stage: u8,
}

impl<T> JoinHandle<T> {
    /// Whether the task has finished (a synchronous read, not a scheduling point).
    pub fn is_finished(&self) -> bool {
        engine::record(self.inner.id, Access::Read);
        let done = self.inner.state.lock().finished;
        engine::fold(done as u64);
        done
    }
}

impl<T: Send + 'static> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
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
            2 => {}
            _ => panic!("lockstep: JoinHandle polled after completion"),
        }
        let mut st = this.inner.state.lock();
        if let Some(value) = st.value.take() {
            drop(st);
            this.stage = 3;
            // The output is a function of the finished task's history.
            engine::fold(engine::task_history(this.inner.task));
            if engine::tracing(TraceLevel::Ops) {
                let joined = engine::task_name(this.inner.task);
                engine::event(TraceLevel::Ops, "joined", |e| {
                    e.fields.insert("task".into(), joined);
                });
            }
            return Poll::Ready(value);
        }
        st.waiter = Some(cx.waker().clone());
        drop(st);
        engine::block(Wait::Obj(this.inner.id));
        Poll::Pending
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
                }),
            }
        });
        handle = Some(JoinHandle {
            inner: inner.clone(),
            stage: 0,
        });
        Box::pin(async move {
            let value = fut.await;
            inner.complete(value);
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

/// The running task's name (`main`, `start#2`, ...).
pub fn current_task() -> String {
    engine::current_name()
}
