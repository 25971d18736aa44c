//! loom checks of the facade primitives' thread-safe cores (feature `loom`;
//! run `CARGO_TARGET_DIR=target/loom cargo test -p lockstep --features loom
//! --release loom`).
//!
//! Each primitive keeps its state behind a lock and runs every operation as
//! "lock, transition, unlock, then wake": [`SemState`] and [`CtsState`] are
//! those transitions, the very methods the facade calls. Here real OS-level
//! threads (loom's) drive them through a loom `Mutex` in the same lock/wake
//! order, and loom explores every interleaving (up to a preemption bound).
//! A lost wake-up shows as a loom deadlock (the waiter parks for ever); a
//! lost or duplicated permit breaks the conservation assertions. Waiting uses
//! a loom `Notify` behind the waker, never `loom::thread::yield_now` (a spin
//! hint that prunes interleavings; prototype pitfall 2).

use std::task::{Wake, Waker};

use loom::sync::{Arc, Mutex, Notify};
use loom::thread;

use super::cancel::CtsState;
use super::ids::TaskId;
use super::semaphore::SemState;

/// A waker that unparks the one thread waiting on its `Notify`.
struct Unpark(Arc<Notify>);

impl Wake for Unpark {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.notify();
    }
}

fn parker() -> (Arc<Notify>, Waker) {
    let notify = Arc::new(Notify::new());
    let waker = Waker::from(std::sync::Arc::new(Unpark(notify.clone())));
    (notify, waker)
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

type Sem = Arc<Mutex<SemState>>;

/// `Semaphore::acquire`: take a free permit, else queue and park until the
/// permit is handed over.
fn acquire(sem: &Sem, task: TaskId) -> u64 {
    let key = {
        let mut st = sem.lock().unwrap();
        if let Some(serial) = st.try_take(task) {
            return serial;
        }
        st.new_key()
    };
    let (notify, waker) = parker();
    let mut queued = false;
    loop {
        let claimed = sem
            .lock()
            .unwrap()
            .claim_or_wait(key, task, &waker, &mut queued);
        if let Some(serial) = claimed {
            return serial;
        }
        notify.wait();
    }
}

/// `SemaphorePermit::drop`: give the permit back, waking the next waiter
/// after unlocking.
fn release(sem: &Sem, serial: u64) {
    let handed = sem.lock().unwrap().give_back(serial);
    if let Some((waker, _)) = handed {
        waker.wake();
    }
}

fn assert_conserved(sem: &Sem, total: usize) {
    let st = sem.lock().unwrap();
    let (free, held, handed) = st.accounted();
    assert_eq!(
        (free, held, handed, st.queued()),
        (total, 0, 0, 0),
        "permits free/held/handed-over and queue length at the end"
    );
}

#[test]
fn loom_semaphore_conserves_its_permit_when_two_acquirers_race_a_release() {
    model(|| {
        let sem: Sem = Arc::new(Mutex::new(SemState::with_permits(1)));
        let first = sem.lock().unwrap().try_take(TaskId(0)).expect("free");
        let workers: Vec<_> = (1..=2)
            .map(|t| {
                let sem = sem.clone();
                thread::spawn(move || {
                    let serial = acquire(&sem, TaskId(t));
                    let (_, held, _) = sem.lock().unwrap().accounted();
                    assert_eq!(held, 1, "mutual exclusion: one holder at a time");
                    release(&sem, serial);
                })
            })
            .collect();
        release(&sem, first);
        for w in workers {
            w.join().unwrap();
        }
        assert_conserved(&sem, 1);
    });
}

#[test]
fn loom_semaphore_waiter_that_gives_up_returns_a_permit_handed_to_it() {
    model(|| {
        let sem: Sem = Arc::new(Mutex::new(SemState::with_permits(1)));
        let first = sem.lock().unwrap().try_take(TaskId(0)).expect("free");
        // A waiter queues, then its acquire future is dropped (a timeout or
        // cancellation) while the holder releases: `Acquire::drop`.
        let quitter = {
            let sem = sem.clone();
            thread::spawn(move || {
                let (_notify, waker) = parker();
                let key = sem.lock().unwrap().new_key();
                let mut queued = false;
                let got = sem
                    .lock()
                    .unwrap()
                    .claim_or_wait(key, TaskId(1), &waker, &mut queued);
                let serial = got.or_else(|| sem.lock().unwrap().leave(key));
                if let Some(serial) = serial {
                    release(&sem, serial);
                }
            })
        };
        let other = {
            let sem = sem.clone();
            thread::spawn(move || {
                let serial = acquire(&sem, TaskId(2));
                release(&sem, serial);
            })
        };
        release(&sem, first);
        quitter.join().unwrap();
        other.join().unwrap();
        assert_conserved(&sem, 1);
    });
}

/// Sources in an arena; a child is referenced by its index.
type Sources = Arc<Vec<Mutex<CtsState<usize>>>>;

fn sources(n: usize) -> Sources {
    Arc::new((0..n).map(|_| Mutex::new(CtsState::default())).collect())
}

/// `CtsInner::cancel`: set the flag under the lock, then wake the waiters
/// and cancel the linked children outside it.
fn cancel(all: &Sources, i: usize) {
    let taken = all[i].lock().unwrap().cancel();
    if let Some((waiters, children)) = taken {
        for (_, w) in waiters {
            w.wake();
        }
        for c in children {
            cancel(all, c);
        }
    }
}

/// `CancellationTokenSource::linked`: link under the parent's lock; a child
/// of an already cancelled parent starts cancelled.
fn link(all: &Sources, parent: usize, child: usize) {
    let linked = all[parent].lock().unwrap().link(child);
    if !linked {
        all[child].lock().unwrap().set_cancelled();
    }
}

fn cancelled(all: &Sources, i: usize) -> bool {
    all[i].lock().unwrap().is_cancelled()
}

#[test]
fn loom_cancellation_reaches_a_child_linked_while_the_parent_is_cancelled() {
    model(|| {
        let all = sources(3);
        let linker = {
            let all = all.clone();
            thread::spawn(move || {
                link(&all, 0, 1);
                link(&all, 1, 2);
            })
        };
        let canceller = {
            let all = all.clone();
            thread::spawn(move || cancel(&all, 0))
        };
        linker.join().unwrap();
        canceller.join().unwrap();
        assert!(cancelled(&all, 0));
        assert!(cancelled(&all, 1), "child linked to a cancelled parent");
        assert!(cancelled(&all, 2), "grandchild linked through the child");
    });
}

#[test]
fn loom_cancellation_wakes_a_waiter_or_the_waiter_sees_it() {
    model(|| {
        let all = sources(2);
        link(&all, 0, 1);
        let waiter = {
            let all = all.clone();
            thread::spawn(move || {
                // `CancellationToken::cancelled()` on the linked child.
                let (notify, waker) = parker();
                loop {
                    if all[1].lock().unwrap().register(TaskId(1), &waker) {
                        break;
                    }
                    notify.wait();
                }
                all[1].lock().unwrap().unregister(TaskId(1));
            })
        };
        cancel(&all, 0);
        waiter.join().unwrap();
        assert!(cancelled(&all, 1));
    });
}

/// Must-find: the checks above can fail. A `linked` that ignores `link`'s
/// answer never cancels a child linked after its parent was cancelled; loom
/// must find that order. (A must-find *deadlock* cannot be caught here: loom
/// aborts the process while tearing down the blocked threads.)
#[test]
#[should_panic(expected = "child linked to a cancelled parent")]
fn loom_finds_a_link_that_ignores_an_already_cancelled_parent() {
    model(|| {
        let all = sources(2);
        let linker = {
            let all = all.clone();
            thread::spawn(move || {
                let _ignored = all[0].lock().unwrap().link(1);
            })
        };
        cancel(&all, 0);
        linker.join().unwrap();
        assert!(cancelled(&all, 1), "child linked to a cancelled parent");
    });
}
