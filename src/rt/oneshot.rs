//! `oneshot::channel()`: one value from one sender to one receiver.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::engine;
use super::hash::{hash_of, StableHasher};
use super::ids::{Access, ObjId};
use super::state::{FingerprintCx, SimObject, TraceLevel, Wait};
use super::sync::Lock;

const TAG_RECV: u64 = 0x0e5e;

struct OneState<T> {
    value: Option<T>,
    sender_alive: bool,
    receiver_alive: bool,
    waiter: Option<Waker>,
}

struct OneInner<T> {
    id: ObjId,
    st: Lock<OneState<T>>,
}

impl<T: Hash + Send> SimObject for OneInner<T> {
    fn fingerprint(&self, _cx: &FingerprintCx<'_>, h: &mut StableHasher) {
        let st = self.st.lock();
        st.value.hash(h);
        h.write_u8(st.sender_alive as u8 | (st.receiver_alive as u8) << 1);
    }
}

/// Creates a oneshot channel.
pub fn channel<T: Hash + Send + 'static>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new_cyclic(|weak: &std::sync::Weak<OneInner<T>>| OneInner {
        id: engine::register_object("oneshot".to_string(), weak.clone()),
        st: Lock::new(OneState {
            value: None,
            sender_alive: true,
            receiver_alive: true,
            waiter: None,
        }),
    });
    (
        Sender {
            inner: inner.clone(),
            sent: false,
        },
        Receiver { inner },
    )
}

pub struct Sender<T> {
    inner: Arc<OneInner<T>>,
    sent: bool,
}

impl<T> Sender<T> {
    /// Sends the value; gives it back if the receiver is gone.
    pub fn send(mut self, value: T) -> Result<(), T> {
        engine::record(self.inner.id, Access::Write);
        let waker = {
            let mut st = self.inner.st.lock();
            if !st.receiver_alive {
                drop(st);
                engine::fold(0);
                return Err(value);
            }
            st.value = Some(value);
            st.waiter.take()
        };
        self.sent = true;
        engine::fold(1);
        engine::event(TraceLevel::Ops, "send", |e| {
            e.fields.insert("channel".into(), "oneshot".into());
        });
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.sent {
            return;
        }
        engine::record(self.inner.id, Access::Write);
        let waker = {
            let mut st = self.inner.st.lock();
            st.sender_alive = false;
            st.waiter.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

pub struct Receiver<T> {
    inner: Arc<OneInner<T>>,
}

impl<T: Hash + Send + 'static> Receiver<T> {
    /// Waits for the value; `None` if the sender was dropped without sending.
    pub async fn recv(self) -> Option<T> {
        engine::point(Some(self.inner.id), Access::Write, TAG_RECV).await;
        RecvWait {
            inner: self.inner.clone(),
        }
        .await
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        engine::record(self.inner.id, Access::Write);
        self.inner.st.lock().receiver_alive = false;
    }
}

struct RecvWait<T> {
    inner: Arc<OneInner<T>>,
}

impl<T: Hash> Future for RecvWait<T> {
    type Output = Option<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut st = self.inner.st.lock();
        if let Some(v) = st.value.take() {
            drop(st);
            engine::fold(hash_of(&v));
            return Poll::Ready(Some(v));
        }
        if !st.sender_alive {
            drop(st);
            engine::fold(0x0);
            return Poll::Ready(None);
        }
        st.waiter = Some(cx.waker().clone());
        drop(st);
        engine::block(Wait::Obj(self.inner.id));
        Poll::Pending
    }
}
