//! `Latch<T>` (a one-shot result, like C#'s `TaskCompletionSource`) and
//! `Notify` (tokio-style: `notify_one` stores a permit when nobody waits).

use std::collections::VecDeque;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::engine;
use super::hash::{hash_of, StableHasher};
use super::ids::{Access, ObjId, TaskId};
use super::state::{FingerprintCx, SimObject, TraceLevel, Wait};
use super::sync::Lock;

const TAG_LATCH: u64 = 0x1a7c;
const TAG_NOTIFIED: u64 = 0x4071;

struct LatchState<T> {
    value: Option<Result<T, String>>,
    waiters: Vec<(TaskId, Waker)>,
}

struct LatchInner<T> {
    id: ObjId,
    name: String,
    st: Lock<LatchState<T>>,
}

impl<T: Hash + Send> SimObject for LatchInner<T> {
    fn fingerprint(&self, cx: &FingerprintCx<'_>, h: &mut StableHasher) {
        let st = self.st.lock();
        st.value.hash(h);
        h.write_u64(cx.task_set(st.waiters.iter().map(|w| w.0)));
    }
}

/// A one-shot result: set once (later sets are ignored), awaited by any number of tasks.
pub struct Latch<T> {
    inner: Arc<LatchInner<T>>,
}

impl<T> Clone for Latch<T> {
    fn clone(&self) -> Self {
        Latch {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Clone + Hash + Send + 'static> Latch<T> {
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<LatchInner<T>>| LatchInner {
            id: engine::register_object(name.clone(), weak.clone()),
            name,
            st: Lock::new(LatchState {
                value: None,
                waiters: Vec::new(),
            }),
        });
        Latch { inner }
    }

    /// Sets the result; returns false (and changes nothing) if already set.
    pub fn set(&self, value: Result<T, String>) -> bool {
        engine::record(self.inner.id, Access::Write);
        let waiters = {
            let mut st = self.inner.st.lock();
            if st.value.is_some() {
                None
            } else {
                st.value = Some(value);
                Some(std::mem::take(&mut st.waiters))
            }
        };
        engine::fold(waiters.is_some() as u64);
        let Some(waiters) = waiters else { return false };
        engine::event(TraceLevel::Ops, "latch-set", |e| {
            e.fields.insert("latch".into(), self.inner.name.clone());
        });
        for (_, w) in waiters {
            w.wake();
        }
        true
    }

    pub fn is_set(&self) -> bool {
        engine::record(self.inner.id, Access::Read);
        let set = self.inner.st.lock().value.is_some();
        engine::fold(set as u64);
        set
    }

    /// Waits until the latch is set and returns (a clone of) its result.
    pub async fn wait(&self) -> Result<T, String> {
        // Registering as a waiter commutes with other waiters: a read.
        engine::point(Some(self.inner.id), Access::Read, TAG_LATCH).await;
        LatchWait {
            inner: self.inner.clone(),
            task: engine::current(),
            queued: false,
        }
        .await
    }
}

struct LatchWait<T> {
    inner: Arc<LatchInner<T>>,
    task: TaskId,
    queued: bool,
}

impl<T: Clone + Hash> Future for LatchWait<T> {
    type Output = Result<T, String>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut st = this.inner.st.lock();
        if let Some(v) = &st.value {
            let v = v.clone();
            drop(st);
            engine::fold(hash_of(&v));
            return Poll::Ready(v);
        }
        match st.waiters.iter_mut().find(|w| w.0 == this.task) {
            Some(w) if this.queued => w.1 = cx.waker().clone(),
            _ => {
                this.queued = true;
                st.waiters.push((this.task, cx.waker().clone()));
            }
        }
        drop(st);
        engine::block(Wait::Obj(this.inner.id));
        Poll::Pending
    }
}

impl<T> Drop for LatchWait<T> {
    fn drop(&mut self) {
        if self.queued {
            self.inner.st.lock().waiters.retain(|w| w.0 != self.task);
        }
    }
}

#[derive(Default)]
struct NotifyState {
    permit: bool,
    waiters: VecDeque<(u64, TaskId, Waker)>,
    /// Waiters that were notified but have not resumed: (key, by notify_one).
    notified: Vec<(u64, bool)>,
    next_key: u64,
}

struct NotifyInner {
    id: ObjId,
    name: String,
    st: Lock<NotifyState>,
}

impl SimObject for NotifyInner {
    fn fingerprint(&self, cx: &FingerprintCx<'_>, h: &mut StableHasher) {
        let st = self.st.lock();
        h.write_u8(st.permit as u8);
        for (_, t, _) in &st.waiters {
            h.write_u64(cx.task(*t));
        }
        h.write_usize(st.notified.len());
    }
}

/// Wakes waiting tasks (cheap to clone: clones share the notifier).
#[derive(Clone)]
pub struct Notify {
    inner: Arc<NotifyInner>,
}

impl Notify {
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<NotifyInner>| NotifyInner {
            id: engine::register_object(name.clone(), weak.clone()),
            name,
            st: Lock::new(NotifyState::default()),
        });
        Notify { inner }
    }

    /// Wakes the first waiter, or stores one permit for the next `notified()`.
    pub fn notify_one(&self) {
        engine::record(self.inner.id, Access::Write);
        let waker = notify_one_locked(&mut self.inner.st.lock());
        self.trace("notify-one");
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes every current waiter (stores no permit).
    pub fn notify_waiters(&self) {
        engine::record(self.inner.id, Access::Write);
        let wakers: Vec<Waker> = {
            let mut st = self.inner.st.lock();
            let drained: Vec<_> = st.waiters.drain(..).collect();
            drained
                .into_iter()
                .map(|(key, _, w)| {
                    st.notified.push((key, false));
                    w
                })
                .collect()
        };
        self.trace("notify-waiters");
        for w in wakers {
            w.wake();
        }
    }

    /// Waits for a notification (or consumes a stored permit).
    pub async fn notified(&self) {
        engine::point(Some(self.inner.id), Access::Write, TAG_NOTIFIED).await;
        let key = {
            let mut st = self.inner.st.lock();
            if st.permit {
                st.permit = false;
                return;
            }
            st.next_key += 1;
            st.next_key
        };
        Notified {
            inner: self.inner.clone(),
            key,
            task: engine::current(),
            queued: false,
            done: false,
        }
        .await
    }

    fn trace(&self, kind: &str) {
        engine::event(TraceLevel::Ops, kind, |e| {
            e.fields.insert("notify".into(), self.inner.name.clone());
        });
    }
}

fn notify_one_locked(st: &mut NotifyState) -> Option<Waker> {
    match st.waiters.pop_front() {
        Some((key, _, w)) => {
            st.notified.push((key, true));
            Some(w)
        }
        None => {
            st.permit = true;
            None
        }
    }
}

struct Notified {
    inner: Arc<NotifyInner>,
    key: u64,
    task: TaskId,
    queued: bool,
    done: bool,
}

impl Future for Notified {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut st = this.inner.st.lock();
        if let Some(pos) = st.notified.iter().position(|n| n.0 == this.key) {
            st.notified.remove(pos);
            this.done = true;
            return Poll::Ready(());
        }
        if !this.queued {
            this.queued = true;
            st.waiters
                .push_back((this.key, this.task, cx.waker().clone()));
        } else if let Some(w) = st.waiters.iter_mut().find(|w| w.0 == this.key) {
            w.2 = cx.waker().clone();
        }
        drop(st);
        engine::block(Wait::Obj(this.inner.id));
        Poll::Pending
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let forward = {
            let mut st = self.inner.st.lock();
            st.waiters.retain(|w| w.0 != self.key);
            let by_notify_one = match st.notified.iter().position(|n| n.0 == self.key) {
                Some(pos) => st.notified.remove(pos).1,
                None => false,
            };
            // A notify_one aimed at us must not be lost: pass it on.
            by_notify_one.then(|| notify_one_locked(&mut st)).flatten()
        };
        if let Some(w) = forward {
            w.wake();
        }
    }
}
