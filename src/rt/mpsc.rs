//! `mpsc::channel(cap)` / `mpsc::unbounded()`: many senders, one receiver,
//! FIFO. A bounded `send` waits for room; senders queued on a full channel are
//! served in order. `recv` returns `None` once every sender is gone and the
//! queue is empty.

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

const TAG_SEND: u64 = 0x5e4d;
const TAG_RECV: u64 = 0x4ec5;

/// The receiver is gone; the value comes back.
#[derive(Debug, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// Why `try_send` failed; the value comes back.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    Full(T),
    Closed(T),
}

/// Why `try_recv` returned nothing.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryRecvError {
    Empty,
    Closed,
}

struct SendWaiter<T> {
    key: u64,
    task: TaskId,
    waker: Waker,
    value: T,
}

struct ChanState<T> {
    queue: VecDeque<T>,
    cap: Option<usize>,
    senders: usize,
    receiver_alive: bool,
    recv_waiter: Option<Waker>,
    send_waiters: VecDeque<SendWaiter<T>>,
    /// Keys of queued sends whose value went in (or came back, with the value).
    completed: Vec<(u64, Option<T>)>,
    next_key: u64,
}

impl<T> ChanState<T> {
    fn has_room(&self) -> bool {
        let below_cap = match self.cap {
            Some(c) => self.queue.len() < c,
            None => true,
        };
        below_cap && self.send_waiters.is_empty()
    }
}

struct Chan<T> {
    id: ObjId,
    name: String,
    st: Lock<ChanState<T>>,
}

impl<T: Hash + Send> SimObject for Chan<T> {
    fn fingerprint(&self, cx: &FingerprintCx<'_>, h: &mut StableHasher) {
        let st = self.st.lock();
        h.write_usize(st.queue.len());
        for v in &st.queue {
            v.hash(h);
        }
        h.write_usize(st.senders);
        h.write_u8(st.receiver_alive as u8 | (st.recv_waiter.is_some() as u8) << 1);
        for w in &st.send_waiters {
            h.write_u64(cx.task(w.task));
            w.value.hash(h);
        }
        h.write_usize(st.completed.len());
    }
}

/// A bounded channel (a capacity of 0 is treated as 1).
pub fn channel<T: Hash + Send + 'static>(cap: usize) -> (Sender<T>, Receiver<T>) {
    named("mpsc", Some(cap.max(1)))
}

/// A channel without capacity limit.
pub fn unbounded<T: Hash + Send + 'static>() -> (Sender<T>, Receiver<T>) {
    named("mpsc", None)
}

/// A channel with a name for traces and wait-for graphs (`None` = unbounded).
pub fn named<T: Hash + Send + 'static>(
    name: impl Into<String>,
    cap: Option<usize>,
) -> (Sender<T>, Receiver<T>) {
    let name = name.into();
    let chan = Arc::new_cyclic(|weak: &std::sync::Weak<Chan<T>>| Chan {
        id: engine::register_object(name.clone(), weak.clone()),
        name,
        st: Lock::new(ChanState {
            queue: VecDeque::new(),
            cap: cap.map(|c| c.max(1)),
            senders: 1,
            receiver_alive: true,
            recv_waiter: None,
            send_waiters: VecDeque::new(),
            completed: Vec::new(),
            next_key: 0,
        }),
    });
    (Sender { chan: chan.clone() }, Receiver { chan })
}

pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        engine::record(self.chan.id, Access::Write);
        self.chan.st.lock().senders += 1;
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        engine::record(self.chan.id, Access::Write);
        let waker = {
            let mut st = self.chan.st.lock();
            st.senders -= 1;
            if st.senders == 0 {
                st.recv_waiter.take()
            } else {
                None
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T: Hash + Send + 'static> Sender<T> {
    /// Sends, waiting for room in a bounded channel.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        engine::point(Some(self.chan.id), Access::Write, TAG_SEND).await;
        let key = {
            let mut st = self.chan.st.lock();
            if !st.receiver_alive {
                drop(st);
                engine::fold(0);
                return Err(SendError(value));
            }
            if st.has_room() {
                st.queue.push_back(value);
                let w = st.recv_waiter.take();
                drop(st);
                self.sent(w);
                return Ok(());
            }
            st.next_key += 1;
            let key = st.next_key;
            let task = engine::current();
            st.send_waiters.push_back(SendWaiter {
                key,
                task,
                waker: noop_waker(),
                value,
            });
            key
        };
        SendWait {
            chan: self.chan.clone(),
            key,
            done: false,
        }
        .await
    }

    /// Sends without waiting (not a scheduling point).
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        engine::record(self.chan.id, Access::Write);
        let mut st = self.chan.st.lock();
        if !st.receiver_alive {
            return Err(TrySendError::Closed(value));
        }
        if !st.has_room() {
            return Err(TrySendError::Full(value));
        }
        st.queue.push_back(value);
        let w = st.recv_waiter.take();
        drop(st);
        self.sent(w);
        Ok(())
    }

    fn sent(&self, waker: Option<Waker>) {
        engine::fold(1);
        engine::event(TraceLevel::Ops, "send", |e| {
            e.fields.insert("channel".into(), self.chan.name.clone());
        });
        if let Some(w) = waker {
            w.wake();
        }
    }
}

fn noop_waker() -> Waker {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    Waker::from(Arc::new(Noop))
}

struct SendWait<T> {
    chan: Arc<Chan<T>>,
    key: u64,
    done: bool,
}

impl<T> Future for SendWait<T> {
    type Output = Result<(), SendError<T>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut st = this.chan.st.lock();
        if let Some(pos) = st.completed.iter().position(|c| c.0 == this.key) {
            let (_, back) = st.completed.remove(pos);
            drop(st);
            this.done = true;
            engine::fold(back.is_none() as u64);
            return Poll::Ready(match back {
                None => Ok(()),
                Some(v) => Err(SendError(v)),
            });
        }
        if let Some(w) = st.send_waiters.iter_mut().find(|w| w.key == this.key) {
            w.waker = cx.waker().clone();
        }
        drop(st);
        engine::block(Wait::Obj(this.chan.id));
        Poll::Pending
    }
}

impl<T> Drop for SendWait<T> {
    fn drop(&mut self) {
        if !self.done {
            let mut st = self.chan.st.lock();
            st.send_waiters.retain(|w| w.key != self.key);
            st.completed.retain(|c| c.0 != self.key);
        }
    }
}

pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T: Hash + Send + 'static> Receiver<T> {
    /// The next value; `None` once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<T> {
        engine::point(Some(self.chan.id), Access::Write, TAG_RECV).await;
        RecvWait {
            chan: self.chan.clone(),
        }
        .await
    }

    /// The next value without waiting (not a scheduling point).
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        engine::record(self.chan.id, Access::Write);
        match take(&self.chan) {
            Some(v) => Ok(v),
            None if self.chan.st.lock().senders == 0 => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }
}

/// Pops the front value, moving the first queued sender's value in.
fn take<T: Hash>(chan: &Chan<T>) -> Option<T> {
    let (value, waker) = {
        let mut st = chan.st.lock();
        let v = st.queue.pop_front()?;
        let w = st.send_waiters.pop_front().map(|w| {
            st.queue.push_back(w.value);
            st.completed.push((w.key, None));
            w.waker
        });
        (v, w)
    };
    engine::fold(hash_of(&value));
    engine::event(TraceLevel::Ops, "recv", |e| {
        e.fields.insert("channel".into(), chan.name.clone());
    });
    if let Some(w) = waker {
        w.wake();
    }
    Some(value)
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        engine::record(self.chan.id, Access::Write);
        let wakers: Vec<Waker> = {
            let mut st = self.chan.st.lock();
            st.receiver_alive = false;
            let waiters: Vec<_> = st.send_waiters.drain(..).collect();
            waiters
                .into_iter()
                .map(|w| {
                    st.completed.push((w.key, Some(w.value)));
                    w.waker
                })
                .collect()
        };
        for w in wakers {
            w.wake();
        }
    }
}

struct RecvWait<T> {
    chan: Arc<Chan<T>>,
}

impl<T: Hash> Future for RecvWait<T> {
    type Output = Option<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(v) = take(&self.chan) {
            return Poll::Ready(Some(v));
        }
        let mut st = self.chan.st.lock();
        if st.senders == 0 {
            drop(st);
            engine::fold(0);
            return Poll::Ready(None);
        }
        st.recv_waiter = Some(cx.waker().clone());
        drop(st);
        engine::block(Wait::Obj(self.chan.id));
        Poll::Pending
    }
}
