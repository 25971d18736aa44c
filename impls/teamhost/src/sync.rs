//! The team's own async primitives, runtime-agnostic (std only: a mutex held
//! only inside a poll, and wakers): a FIFO semaphore with RAII permits, a
//! cancellation token, and a notify with one stored permit. They behave the
//! same under lockstep's executor, madsim or tokio, because all they need
//! from a runtime is that a woken waker gets its task polled again.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Waiter {
    id: u64,
    waker: Waker,
    granted: bool,
}

struct SemState {
    permits: usize,
    queue: VecDeque<Waiter>,
    next_id: u64,
}

/// A fair (FIFO) counting semaphore.
#[derive(Clone)]
pub struct Semaphore {
    state: Arc<Mutex<SemState>>,
}

impl Semaphore {
    pub fn new(permits: usize) -> Self {
        Semaphore {
            state: Arc::new(Mutex::new(SemState {
                permits,
                queue: VecDeque::new(),
                next_id: 0,
            })),
        }
    }

    /// Waits for a permit (FIFO). Dropping the future gives up its place.
    pub fn acquire(&self) -> Acquire {
        Acquire {
            sem: self.clone(),
            id: None,
            done: false,
        }
    }

    /// Free permits now.
    pub fn available(&self) -> usize {
        lock(&self.state).permits
    }

    fn release_one(&self) {
        let waker = {
            let mut st = lock(&self.state);
            match st.queue.iter_mut().find(|w| !w.granted) {
                Some(w) => {
                    w.granted = true;
                    Some(w.waker.clone())
                }
                None => {
                    st.permits += 1;
                    None
                }
            }
        };
        // Wake outside the lock.
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The future of [`Semaphore::acquire`].
pub struct Acquire {
    sem: Semaphore,
    id: Option<u64>,
    done: bool,
}

impl Future for Acquire {
    type Output = Permit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit> {
        let this = &mut *self;
        let mut st = lock(&this.sem.state);
        match this.id {
            None if st.permits > 0 && st.queue.is_empty() => {
                st.permits -= 1;
                this.done = true;
                Poll::Ready(Permit {
                    sem: Some(this.sem.clone()),
                })
            }
            None => {
                let id = st.next_id;
                st.next_id += 1;
                st.queue.push_back(Waiter {
                    id,
                    waker: cx.waker().clone(),
                    granted: false,
                });
                this.id = Some(id);
                Poll::Pending
            }
            Some(id) => {
                let Some(pos) = st.queue.iter().position(|w| w.id == id) else {
                    return Poll::Pending;
                };
                if st.queue[pos].granted {
                    st.queue.remove(pos);
                    this.done = true;
                    Poll::Ready(Permit {
                        sem: Some(this.sem.clone()),
                    })
                } else {
                    st.queue[pos].waker = cx.waker().clone();
                    Poll::Pending
                }
            }
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        let (Some(id), false) = (self.id, self.done) else {
            return;
        };
        let granted = {
            let mut st = lock(&self.sem.state);
            match st.queue.iter().position(|w| w.id == id) {
                Some(pos) => st.queue.remove(pos).is_some_and(|w| w.granted),
                None => false,
            }
        };
        // A permit handed to us that we never took goes to the next waiter.
        if granted {
            self.sem.release_one();
        }
    }
}

/// A held permit, given back when dropped.
pub struct Permit {
    sem: Option<Semaphore>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(sem) = self.sem.take() {
            sem.release_one();
        }
    }
}

#[derive(Default)]
struct TokenState {
    cancelled: bool,
    waiters: Vec<Waker>,
}

/// A cancellation token: cheap to clone, cancelled once for every clone.
#[derive(Clone, Default)]
pub struct CancellationToken {
    state: Arc<Mutex<TokenState>>,
}

impl CancellationToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        let waiters = {
            let mut st = lock(&self.state);
            st.cancelled = true;
            std::mem::take(&mut st.waiters)
        };
        for w in waiters {
            w.wake();
        }
    }

    pub fn is_cancelled(&self) -> bool {
        lock(&self.state).cancelled
    }

    /// Resolves once the token is cancelled.
    pub fn cancelled(&self) -> impl Future<Output = ()> + Send + '_ {
        std::future::poll_fn(move |cx| {
            let mut st = lock(&self.state);
            if st.cancelled {
                Poll::Ready(())
            } else {
                st.waiters.push(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

#[derive(Default)]
struct NotifyState {
    /// A notification that arrived with nobody waiting.
    stored: bool,
    waiters: VecDeque<Waker>,
}

/// Wakes one waiter, or stores one notification for the next `notified`.
#[derive(Clone, Default)]
pub struct Notify {
    state: Arc<Mutex<NotifyState>>,
}

impl Notify {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn notify_one(&self) {
        let waker = {
            let mut st = lock(&self.state);
            let w = st.waiters.pop_front();
            if w.is_none() {
                st.stored = true;
            }
            w
        };
        if let Some(w) = waker {
            // The woken waiter consumes this notification.
            lock(&self.state).stored = true;
            w.wake();
        }
    }

    /// Resolves at the next notification (or at once if one is stored).
    pub fn notified(&self) -> impl Future<Output = ()> + Send + '_ {
        let mut registered = false;
        std::future::poll_fn(move |cx| {
            let mut st = lock(&self.state);
            if st.stored {
                st.stored = false;
                return Poll::Ready(());
            }
            if !registered {
                registered = true;
                st.waiters.push_back(cx.waker().clone());
            }
            Poll::Pending
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Flag(Mutex<bool>);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            *lock(&self.0) = true;
        }
    }

    fn poll<F: Future + Unpin>(f: &mut F, flag: &Arc<Flag>) -> Poll<F::Output> {
        let waker = Waker::from(flag.clone());
        Pin::new(f).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn semaphore_is_fifo_and_permits_return_on_drop() {
        let sem = Semaphore::new(1);
        let flag = Arc::new(Flag(Mutex::new(false)));
        let mut a = sem.acquire();
        let Poll::Ready(pa) = poll(&mut a, &flag) else {
            panic!("free permit")
        };
        let mut b = sem.acquire();
        assert!(poll(&mut b, &flag).is_pending());
        let mut c = sem.acquire();
        assert!(poll(&mut c, &flag).is_pending());
        drop(pa);
        assert!(*lock(&flag.0), "b was woken");
        assert!(poll(&mut c, &flag).is_pending(), "c is behind b");
        let Poll::Ready(pb) = poll(&mut b, &flag) else {
            panic!("b granted")
        };
        drop(c); // c leaves the queue
        drop(pb);
        assert_eq!(sem.available(), 1);
    }

    #[test]
    fn dropping_a_granted_acquire_passes_the_permit_on() {
        let sem = Semaphore::new(1);
        let flag = Arc::new(Flag(Mutex::new(false)));
        let mut a = sem.acquire();
        let Poll::Ready(pa) = poll(&mut a, &flag) else {
            panic!()
        };
        let mut b = sem.acquire();
        assert!(poll(&mut b, &flag).is_pending());
        drop(pa);
        drop(b);
        assert_eq!(sem.available(), 1);
    }

    #[test]
    fn token_and_notify() {
        let t = CancellationToken::new();
        assert!(!t.is_cancelled());
        t.clone().cancel();
        assert!(t.is_cancelled());
        let n = Notify::new();
        n.notify_one();
        let flag = Arc::new(Flag(Mutex::new(false)));
        let mut f = Box::pin(n.notified());
        assert!(poll(&mut f, &flag).is_ready());
        let mut g = Box::pin(n.notified());
        assert!(poll(&mut g, &flag).is_pending());
        n.notify_one();
        assert!(poll(&mut g, &flag).is_ready());
    }
}
