//! Virtual time: `now`, `sleep`, `sleep_cancellable`, `timeout`.
//!
//! The clock only moves when no task is runnable: it then jumps to the
//! earliest timer deadline, so a one-hour backoff costs no wall time. Timers
//! due at the same instant all fire together; which woken task runs first is
//! a scheduling decision.

use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Duration;

use super::cancel::CancellationToken;
use super::engine::{self, TimerKey};
use super::ids::Access;
use super::state::{TraceLevel, Wait};

const TAG_SLEEP: u64 = 0x51ee;

/// Virtual time since the start of the run.
pub fn now() -> Duration {
    let t = engine::now();
    engine::fold(t.as_nanos() as u64);
    t
}

/// A registered timer, cancelled when dropped unfired.
struct Timer {
    key: Option<TimerKey>,
    deadline: Duration,
}

impl Timer {
    fn new(deadline: Duration) -> Self {
        Timer {
            key: None,
            deadline,
        }
    }

    /// Registers on first use; true once the timer has fired.
    fn fired(&mut self) -> bool {
        match self.key {
            None => {
                self.key = Some(engine::add_timer(self.deadline));
                false
            }
            Some(key) => !engine::timer_pending(key),
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            engine::cancel_timer(key);
        }
    }
}

fn trace_sleep(deadline: Duration) {
    engine::event(TraceLevel::Ops, "sleep", |e| {
        e.fields
            .insert("until_ms".into(), deadline.as_millis().to_string());
    });
}

/// Sleeps for `d` of virtual time.
pub async fn sleep(d: Duration) {
    engine::point(None, Access::Read, TAG_SLEEP).await;
    let deadline = engine::now() + d;
    trace_sleep(deadline);
    let mut timer = Timer::new(deadline);
    std::future::poll_fn(|_cx: &mut Context<'_>| {
        if timer.fired() {
            Poll::Ready(())
        } else {
            engine::block(Wait::Timer(deadline));
            Poll::Pending
        }
    })
    .await
}

/// Sleeps for `d` unless `token` is cancelled first; returns true if cancelled
/// (then immediately, without advancing the clock).
pub async fn sleep_cancellable(d: Duration, token: &CancellationToken) -> bool {
    let obj = token.inner.as_ref().map(|i| i.id);
    engine::point(obj, Access::Read, TAG_SLEEP).await;
    let deadline = engine::now() + d;
    let task = engine::current();
    let Some(inner) = token.inner.clone() else {
        sleep_inner(deadline).await;
        return false;
    };
    if inner.cancelled_now() {
        engine::fold(1);
        return true;
    }
    trace_sleep(deadline);
    let mut timer = Timer::new(deadline);
    let cancelled = std::future::poll_fn(|cx: &mut Context<'_>| {
        if inner.register(task, cx.waker()) {
            return Poll::Ready(true);
        }
        if timer.fired() {
            return Poll::Ready(false);
        }
        engine::block(Wait::Timer(deadline));
        Poll::Pending
    })
    .await;
    inner.unregister(task);
    engine::fold(cancelled as u64);
    if cancelled {
        engine::event(TraceLevel::Ops, "sleep-cancelled", |_| {});
    }
    cancelled
}

async fn sleep_inner(deadline: Duration) {
    trace_sleep(deadline);
    let mut timer = Timer::new(deadline);
    std::future::poll_fn(|_cx: &mut Context<'_>| {
        if timer.fired() {
            Poll::Ready(())
        } else {
            engine::block(Wait::Timer(deadline));
            Poll::Pending
        }
    })
    .await
}

/// The deadline of a [`timeout`] passed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Elapsed;

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `fut` for at most `d` of virtual time; the future is dropped
/// (cancelled) when the deadline passes first.
pub async fn timeout<F: Future>(d: Duration, fut: F) -> Result<F::Output, Elapsed> {
    let deadline = engine::now() + d;
    let mut timer = Timer::new(deadline);
    let mut fut = pin!(fut);
    let result = std::future::poll_fn(|cx: &mut Context<'_>| {
        if let Poll::Ready(v) = Pin::as_mut(&mut fut).poll(cx) {
            return Poll::Ready(Ok(v));
        }
        if timer.fired() {
            return Poll::Ready(Err(Elapsed));
        }
        Poll::Pending
    })
    .await;
    engine::fold(result.is_ok() as u64);
    if result.is_err() {
        engine::event(TraceLevel::Ops, "timeout", |e| {
            e.fields
                .insert("deadline_ms".into(), deadline.as_millis().to_string());
        });
    }
    result
}
