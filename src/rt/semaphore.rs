//! `Semaphore`: a counting semaphore with FIFO waiters, RAII permits, holder
//! tracking (for the wait-for graph) and cancel-safe acquire.
//!
//! Like C#'s `SemaphoreSlim` it is not reentrant: a task that holds the only
//! permit and acquires again waits for itself, which the deadlock detector
//! reports as a self-cycle.

use std::collections::VecDeque;
use std::future::Future;
use std::hash::Hasher;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::cancel::CancellationToken;
use super::engine;
use super::hash::StableHasher;
use super::ids::{Access, ObjId, TaskId};
use super::state::{FingerprintCx, SimObject, TraceLevel, Wait};
use super::sync::Lock;

const TAG_ACQUIRE: u64 = 0x5e3a;

struct Waiter {
    key: u64,
    task: TaskId,
    waker: Waker,
}

#[derive(Default)]
struct SemState {
    permits: usize,
    waiters: VecDeque<Waiter>,
    /// Permits handed to a woken waiter that has not resumed yet: (key, serial, task).
    granted: Vec<(u64, u64, TaskId)>,
    /// Outstanding permits: (serial, the task that acquired it).
    holders: Vec<(u64, TaskId)>,
    next_key: u64,
    next_serial: u64,
}

impl SemState {
    fn new_holder(&mut self, task: TaskId) -> u64 {
        self.next_serial += 1;
        self.holders.push((self.next_serial, task));
        self.next_serial
    }
}

struct SemInner {
    id: ObjId,
    name: String,
    st: Lock<SemState>,
}

impl SimObject for SemInner {
    fn fingerprint(&self, cx: &FingerprintCx<'_>, h: &mut StableHasher) {
        let st = self.st.lock();
        h.write_usize(st.permits);
        h.write_usize(st.waiters.len());
        for w in &st.waiters {
            h.write_u64(cx.task(w.task));
        }
        h.write_u64(cx.task_set(st.holders.iter().map(|&(_, t)| t)));
        h.write_u64(cx.task_set(st.granted.iter().map(|&(_, _, t)| t)));
    }
    fn holders(&self) -> Vec<TaskId> {
        self.st.lock().holders.iter().map(|&(_, t)| t).collect()
    }
}

/// Returns a permit: hands it to the first waiter (FIFO) or back to the pool.
fn release(sem: &SemInner, serial: u64) {
    engine::record(sem.id, Access::Write);
    let handed = {
        let mut st = sem.st.lock();
        st.holders.retain(|&(s, _)| s != serial);
        match st.waiters.pop_front() {
            Some(w) => {
                let serial = st.new_holder(w.task);
                st.granted.push((w.key, serial, w.task));
                Some((w.waker, w.task))
            }
            None => {
                st.permits += 1;
                None
            }
        }
    };
    if engine::tracing(TraceLevel::Ops) {
        let to = handed.as_ref().map(|&(_, t)| engine::task_name(t));
        engine::event(TraceLevel::Ops, "release", |e| {
            e.fields.insert("semaphore".into(), sem.name.clone());
            if let Some(to) = to {
                e.fields.insert("handed_to".into(), to);
            }
        });
    }
    if let Some((waker, _)) = handed {
        waker.wake();
    }
}

/// A counting semaphore (cheap to clone: clones share the semaphore).
#[derive(Clone)]
pub struct Semaphore {
    inner: Arc<SemInner>,
}

impl Semaphore {
    pub fn new(name: impl Into<String>, permits: usize) -> Self {
        let name = name.into();
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<SemInner>| SemInner {
            id: engine::register_object(name.clone(), weak.clone()),
            name,
            st: Lock::new(SemState {
                permits,
                ..SemState::default()
            }),
        });
        Semaphore { inner }
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Waits (FIFO) for a permit. Dropping the future before it completes
    /// leaves the queue (and returns a permit already handed to it).
    pub async fn acquire(&self) -> SemaphorePermit {
        engine::point(Some(self.inner.id), Access::Write, TAG_ACQUIRE).await;
        self.acquire_now().await
    }

    /// Like [`Semaphore::acquire`], but gives up (returning `None`, at once and
    /// leaving the queue) when `token` is cancelled first: C#'s `WaitAsync(token)`.
    pub async fn acquire_cancellable(&self, token: &CancellationToken) -> Option<SemaphorePermit> {
        engine::point(Some(self.inner.id), Access::Write, TAG_ACQUIRE).await;
        let Some(cts) = token.inner.clone() else {
            return Some(self.acquire_now().await);
        };
        engine::record(cts.id, Access::Read);
        if cts.cancelled_now() {
            engine::fold(0);
            return None;
        }
        let task = engine::current();
        let mut acquire = std::pin::pin!(self.acquire_now());
        let result = std::future::poll_fn(|cx: &mut Context<'_>| {
            if let Poll::Ready(p) = acquire.as_mut().poll(cx) {
                return Poll::Ready(Some(p));
            }
            if cts.register(task, cx.waker()) {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await;
        cts.unregister(task);
        engine::fold(result.is_some() as u64);
        if result.is_none() {
            self.trace("acquire-cancelled", None);
        }
        result
    }

    /// The acquire after its scheduling point.
    async fn acquire_now(&self) -> SemaphorePermit {
        let task = engine::current();
        let key = {
            let mut st = self.inner.st.lock();
            if st.permits > 0 && st.waiters.is_empty() {
                st.permits -= 1;
                let serial = st.new_holder(task);
                let left = st.permits;
                drop(st);
                self.trace("acquire", Some(left));
                return SemaphorePermit {
                    sem: self.inner.clone(),
                    serial,
                    live: true,
                };
            }
            st.next_key += 1;
            st.next_key
        };
        self.trace("acquire-wait", None);
        Acquire {
            sem: self.inner.clone(),
            key,
            task,
            queued: false,
            done: false,
        }
        .await
    }

    /// Takes a permit if one is free and nobody is queued (not a scheduling point).
    pub fn try_acquire(&self) -> Option<SemaphorePermit> {
        engine::record(self.inner.id, Access::Write);
        let task = engine::current();
        let mut st = self.inner.st.lock();
        let ok = st.permits > 0 && st.waiters.is_empty();
        let permit = ok.then(|| {
            st.permits -= 1;
            let serial = st.new_holder(task);
            SemaphorePermit {
                sem: self.inner.clone(),
                serial,
                live: true,
            }
        });
        drop(st);
        engine::fold(ok as u64);
        if ok {
            self.trace("acquire", None);
        }
        permit
    }

    /// Free permits (a read, not a scheduling point).
    pub fn available(&self) -> usize {
        engine::record(self.inner.id, Access::Read);
        let n = self.inner.st.lock().permits;
        engine::fold(n as u64);
        n
    }

    fn trace(&self, kind: &str, left: Option<usize>) {
        engine::event(TraceLevel::Ops, kind, |e| {
            e.fields.insert("semaphore".into(), self.inner.name.clone());
            if let Some(left) = left {
                e.fields.insert("available".into(), left.to_string());
            }
        });
    }
}

struct Acquire {
    sem: Arc<SemInner>,
    key: u64,
    task: TaskId,
    queued: bool,
    done: bool,
}

impl Future for Acquire {
    type Output = SemaphorePermit;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SemaphorePermit> {
        let this = self.get_mut();
        let mut st = this.sem.st.lock();
        if let Some(pos) = st.granted.iter().position(|g| g.0 == this.key) {
            let (_, serial, _) = st.granted.remove(pos);
            drop(st);
            this.done = true;
            engine::event(TraceLevel::Ops, "acquired", |e| {
                e.fields.insert("semaphore".into(), this.sem.name.clone());
            });
            return Poll::Ready(SemaphorePermit {
                sem: this.sem.clone(),
                serial,
                live: true,
            });
        }
        if !this.queued {
            this.queued = true;
            st.waiters.push_back(Waiter {
                key: this.key,
                task: this.task,
                waker: cx.waker().clone(),
            });
        } else if let Some(w) = st.waiters.iter_mut().find(|w| w.key == this.key) {
            w.waker = cx.waker().clone();
        }
        drop(st);
        engine::block(Wait::Obj(this.sem.id));
        Poll::Pending
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let granted = {
            let mut st = self.sem.st.lock();
            st.waiters.retain(|w| w.key != self.key);
            st.granted
                .iter()
                .position(|g| g.0 == self.key)
                .map(|pos| st.granted.remove(pos).1)
        };
        if let Some(serial) = granted {
            release(&self.sem, serial);
        }
    }
}

/// One permit of a [`Semaphore`], released when dropped.
pub struct SemaphorePermit {
    sem: Arc<SemInner>,
    serial: u64,
    live: bool,
}

impl SemaphorePermit {
    /// Releases the permit now (same as dropping it).
    pub fn release(self) {
        drop(self)
    }

    /// Leaks the permit, as a missing `finally { sem.Release() }` would: it
    /// stays held (by the task that acquired it) for the rest of the run.
    pub fn forget(mut self) {
        self.live = false;
        engine::event(TraceLevel::Ops, "permit-leaked", |e| {
            e.fields.insert("semaphore".into(), self.sem.name.clone());
        });
    }
}

impl Drop for SemaphorePermit {
    fn drop(&mut self) {
        if self.live {
            self.live = false;
            release(&self.sem, self.serial);
        }
    }
}
