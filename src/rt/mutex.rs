//! `Mutex<T>`: an async mutex with FIFO hand-off and owner tracking.
//!
//! The guard may be held across awaits. While locked, the content is not
//! hashed into the world fingerprint: it is a function of the owner's history
//! (the content seen at lock time is folded into that history).

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::engine;
use super::hash::{hash_of, StableHasher};
use super::ids::{Access, ObjId, TaskId};
use super::state::{FingerprintCx, SimObject, TraceLevel, Wait};
use super::sync::Lock;

const TAG_LOCK: u64 = 0x10c4;

#[derive(Default)]
struct MutexState {
    owner: Option<TaskId>,
    waiters: VecDeque<(u64, TaskId, Waker)>,
    /// The waiter the mutex was handed to, until it resumes.
    granted: Option<u64>,
    next_key: u64,
}

struct MutexInner<T> {
    id: ObjId,
    name: String,
    st: Lock<MutexState>,
    data: UnsafeCell<T>,
}

// SAFETY: `data` is only accessed by the task that owns the lock (through a
// guard), or, while nobody owns it, by the executor between steps; the
// executor runs one task at a time on one thread.
unsafe impl<T: Send> Send for MutexInner<T> {}
unsafe impl<T: Send> Sync for MutexInner<T> {}

impl<T: Hash + Send> SimObject for MutexInner<T> {
    fn fingerprint(&self, cx: &FingerprintCx<'_>, h: &mut StableHasher) {
        let st = self.st.lock();
        match st.owner {
            Some(t) => h.write_u64(cx.task(t)),
            None => {
                h.write_u64(0);
                // SAFETY: unlocked, so no guard and no reference to the data exists.
                unsafe { &*self.data.get() }.hash(h);
            }
        }
        for (_, t, _) in &st.waiters {
            h.write_u64(cx.task(*t));
        }
        h.write_u8(st.granted.is_some() as u8);
    }
    fn holders(&self) -> Vec<TaskId> {
        self.st.lock().owner.into_iter().collect()
    }
}

/// An async mutex (cheap to clone: clones share the mutex).
pub struct Mutex<T> {
    inner: Arc<MutexInner<T>>,
}

impl<T> Clone for Mutex<T> {
    fn clone(&self) -> Self {
        Mutex {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Hash + Send + 'static> Mutex<T> {
    pub fn new(name: impl Into<String>, value: T) -> Self {
        let name = name.into();
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<MutexInner<T>>| MutexInner {
            id: engine::register_object(name.clone(), weak.clone()),
            name,
            st: Lock::new(MutexState::default()),
            data: UnsafeCell::new(value),
        });
        Mutex { inner }
    }

    /// Waits (FIFO) for the lock.
    pub async fn lock(&self) -> MutexGuard<T> {
        engine::point(Some(self.inner.id), Access::Write, TAG_LOCK).await;
        let task = engine::current();
        let key = {
            let mut st = self.inner.st.lock();
            if st.owner.is_none() && st.waiters.is_empty() {
                st.owner = Some(task);
                drop(st);
                return MutexGuard::granted(self.inner.clone());
            }
            st.next_key += 1;
            st.next_key
        };
        trace(&self.inner.name, "lock-wait");
        LockWait {
            inner: self.inner.clone(),
            key,
            task,
            queued: false,
            done: false,
        }
        .await
    }
}

fn trace(name: &str, kind: &str) {
    engine::event(TraceLevel::Ops, kind, |e| {
        e.fields.insert("mutex".into(), name.to_string());
    });
}

struct LockWait<T> {
    inner: Arc<MutexInner<T>>,
    key: u64,
    task: TaskId,
    queued: bool,
    done: bool,
}

impl<T: Hash + Send> Future for LockWait<T> {
    type Output = MutexGuard<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<T>> {
        let this = self.get_mut();
        let mut st = this.inner.st.lock();
        if st.granted == Some(this.key) {
            st.granted = None;
            drop(st);
            this.done = true;
            return Poll::Ready(MutexGuard::granted(this.inner.clone()));
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

impl<T> Drop for LockWait<T> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let was_granted = {
            let mut st = self.inner.st.lock();
            st.waiters.retain(|w| w.0 != self.key);
            let g = st.granted == Some(self.key);
            if g {
                st.granted = None;
            }
            g
        };
        if was_granted {
            unlock(&self.inner);
        }
    }
}

fn unlock<T>(inner: &MutexInner<T>) {
    engine::record(inner.id, Access::Write);
    let next = {
        let mut st = inner.st.lock();
        match st.waiters.pop_front() {
            Some((key, task, waker)) => {
                st.owner = Some(task);
                st.granted = Some(key);
                Some(waker)
            }
            None => {
                st.owner = None;
                None
            }
        }
    };
    trace(&inner.name, "unlock");
    if let Some(w) = next {
        w.wake();
    }
}

/// Exclusive access to a [`Mutex`]'s content; unlocks when dropped.
pub struct MutexGuard<T> {
    inner: Arc<MutexInner<T>>,
    /// Keeps the guard `!Sync` unless `T: Sync` (see the impl below).
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

// SAFETY: sharing `&MutexGuard<T>` only hands out `&T`.
unsafe impl<T: Send + Sync> Sync for MutexGuard<T> {}

impl<T: Hash> MutexGuard<T> {
    fn granted(inner: Arc<MutexInner<T>>) -> Self {
        // The content the new owner sees is part of its history.
        // SAFETY: the caller just became the owner; no other reference exists.
        engine::fold(hash_of(unsafe { &*inner.data.get() }));
        trace(&inner.name, "lock");
        MutexGuard {
            inner,
            _not_sync: PhantomData,
        }
    }
}

impl<T> Deref for MutexGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard's task owns the lock.
        unsafe { &*self.inner.data.get() }
    }
}

impl<T> DerefMut for MutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard's task owns the lock, and `&mut self` is unique.
        unsafe { &mut *self.inner.data.get() }
    }
}

impl<T> Drop for MutexGuard<T> {
    fn drop(&mut self) {
        unlock(&self.inner);
    }
}
