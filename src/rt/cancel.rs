//! Cooperative cancellation, after .NET: `CancellationTokenSource` (with
//! linked sources) and `CancellationToken`.
//!
//! Cancelling a source cancels every source linked to it, transitively.
//! Cancellation only has an effect where code checks the token or awaits
//! `cancelled()` / `sleep_cancellable`: like .NET, it cannot interrupt code
//! that never looks.

use std::future::Future;
use std::hash::Hasher;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

use super::engine;
use super::hash::StableHasher;
use super::ids::{Access, ObjId, TaskId};
use super::state::{FingerprintCx, SimObject, TraceLevel, Wait};
use super::sync::Lock;

const TAG_CANCELLED: u64 = 0xca9c;

#[derive(Default)]
struct CtsState {
    cancelled: bool,
    waiters: Vec<(TaskId, Waker)>,
    children: Vec<Weak<CtsInner>>,
}

pub(crate) struct CtsInner {
    pub(crate) id: ObjId,
    name: String,
    st: Lock<CtsState>,
}

impl SimObject for CtsInner {
    fn fingerprint(&self, cx: &FingerprintCx<'_>, h: &mut StableHasher) {
        let st = self.st.lock();
        h.write_u8(st.cancelled as u8);
        h.write_u64(cx.task_set(st.waiters.iter().map(|w| w.0)));
        h.write_usize(st.children.iter().filter(|c| c.strong_count() > 0).count());
    }
}

impl CtsInner {
    fn new(name: String) -> Arc<Self> {
        Arc::new_cyclic(|weak: &Weak<CtsInner>| CtsInner {
            id: engine::register_object(name.clone(), weak.clone()),
            name,
            st: Lock::new(CtsState::default()),
        })
    }

    /// Sets the flag, wakes waiters, then cancels linked children (no lock held).
    fn cancel(&self, cause: Option<&str>) {
        engine::record(self.id, Access::Write);
        let (waiters, children) = {
            let mut st = self.st.lock();
            if st.cancelled {
                return;
            }
            st.cancelled = true;
            (
                std::mem::take(&mut st.waiters),
                std::mem::take(&mut st.children),
            )
        };
        engine::event(TraceLevel::Ops, "cancel", |e| {
            e.fields.insert("source".into(), self.name.clone());
            if let Some(cause) = cause {
                e.fields.insert("linked_to".into(), cause.to_string());
            }
        });
        for (_, w) in waiters {
            w.wake();
        }
        for child in children.iter().filter_map(Weak::upgrade) {
            child.cancel(Some(&self.name));
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        engine::record(self.id, Access::Read);
        let c = self.st.lock().cancelled;
        engine::fold(c as u64);
        c
    }

    /// Registers `task` to be woken on cancellation; returns whether already cancelled.
    pub(crate) fn register(&self, task: TaskId, waker: &Waker) -> bool {
        let mut st = self.st.lock();
        if st.cancelled {
            return true;
        }
        match st.waiters.iter_mut().find(|w| w.0 == task) {
            Some(w) => w.1 = waker.clone(),
            None => st.waiters.push((task, waker.clone())),
        }
        false
    }

    pub(crate) fn unregister(&self, task: TaskId) {
        self.st.lock().waiters.retain(|w| w.0 != task);
    }

    pub(crate) fn cancelled_now(&self) -> bool {
        self.st.lock().cancelled
    }
}

/// Owns a cancellation flag (cheap to clone: clones share it).
#[derive(Clone)]
pub struct CancellationTokenSource {
    inner: Arc<CtsInner>,
}

impl CancellationTokenSource {
    pub fn new(name: impl Into<String>) -> Self {
        CancellationTokenSource {
            inner: CtsInner::new(name.into()),
        }
    }

    /// A source that is also cancelled when any of `parents` is (already
    /// cancelled parents make it start cancelled).
    pub fn linked(name: impl Into<String>, parents: &[&CancellationToken]) -> Self {
        let inner = CtsInner::new(name.into());
        let mut born_cancelled = false;
        for parent in parents.iter().filter_map(|p| p.inner.as_ref()) {
            // Linking commutes with other links but not with the parent's cancel.
            engine::record(parent.id, Access::Read);
            let mut st = parent.st.lock();
            if st.cancelled {
                born_cancelled = true;
            } else {
                st.children.retain(|c| c.strong_count() > 0);
                st.children.push(Arc::downgrade(&inner));
            }
        }
        engine::fold(born_cancelled as u64);
        if born_cancelled {
            inner.st.lock().cancelled = true;
        }
        CancellationTokenSource { inner }
    }

    pub fn cancel(&self) {
        self.inner.cancel(None);
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }

    pub fn token(&self) -> CancellationToken {
        CancellationToken {
            inner: Some(self.inner.clone()),
        }
    }
}

/// Observes a source's flag. `CancellationToken::none()` is never cancelled.
#[derive(Clone)]
pub struct CancellationToken {
    pub(crate) inner: Option<Arc<CtsInner>>,
}

impl CancellationToken {
    /// A token that is never cancelled (C#'s `CancellationToken.None`).
    pub fn none() -> Self {
        CancellationToken { inner: None }
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.is_cancelled())
    }

    /// Waits until cancelled (for ever for `none()`).
    pub async fn cancelled(&self) {
        let obj = self.inner.as_ref().map(|i| i.id);
        engine::point(obj, Access::Read, TAG_CANCELLED).await;
        Cancelled {
            token: self.clone(),
            task: engine::current(),
            queued: false,
        }
        .await
    }
}

struct Cancelled {
    token: CancellationToken,
    task: TaskId,
    queued: bool,
}

impl Future for Cancelled {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(inner) = &this.token.inner else {
            engine::block_untracked();
            return Poll::Pending;
        };
        if inner.register(this.task, cx.waker()) {
            engine::fold(1);
            return Poll::Ready(());
        }
        this.queued = true;
        engine::block(Wait::Obj(inner.id));
        Poll::Pending
    }
}

impl Drop for Cancelled {
    fn drop(&mut self) {
        if let (true, Some(inner)) = (self.queued, &self.token.inner) {
            inner.unregister(self.task);
        }
    }
}
