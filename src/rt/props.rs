//! What model code tells the checker: properties (`always`, `sometimes`),
//! nondeterministic data (`choose`), model-level trace events (`emit`),
//! sync-over-async blocking (`block_on_thread`) and end-of-run
//! synchronisation (`until_quiescent`).

use std::future::Future;
use std::task::{Context, Poll};

use super::engine;
use super::ids::{Access, TaskId};
use super::state::TraceLevel;

const TAG_QUIESCENT: u64 = 0x9e5c;

/// Checks an invariant. A failure is recorded (first per property, with its
/// step) and the run continues to its end, so one run can show both the
/// violation and, say, the deadlock it leads to. The run then fails.
pub fn always(name: &str, cond: bool, detail: impl FnOnce() -> String) {
    engine::always(name, cond, detail);
}

/// Records that `name` was reached in this run when `cond` holds. A
/// `sometimes` property that no explored run reaches fails the check.
pub fn sometimes(name: &str, cond: bool) {
    engine::sometimes(name, cond);
}

/// Appends a model-level event to the trace (task = current task, time = virtual ms).
pub fn emit(kind: &str, fields: &[(&str, &str)]) {
    engine::event(TraceLevel::Ops, kind, |e| {
        for (k, v) in fields {
            e.fields.insert((*k).to_string(), (*v).to_string());
        }
    });
}

/// A nondeterministic value in `0..n`: every value is explored by DFS, drawn
/// from the seed by random and PCT. Not a scheduling point.
pub fn choose(label: &str, n: usize) -> usize {
    engine::choose(label, n)
}

/// `choose(label, 2) == 1`.
pub fn choose_bool(label: &str) -> bool {
    engine::choose(label, 2) == 1
}

/// Awaits `fut` while recording that the task's *thread* is blocked on
/// `what` (C#'s `.GetAwaiter().GetResult()`): trace events, and a wait-for
/// label "blocks its thread on <what>" if the task deadlocks inside.
pub async fn block_on_thread<F: Future>(what: &str, fut: F) -> F::Output {
    struct Unblock(TaskId);
    impl Drop for Unblock {
        fn drop(&mut self) {
            engine::thread_block_pop(self.0);
        }
    }
    let _unblock = Unblock(engine::thread_block_push(what));
    fut.await
}

/// Resolves once no other task is runnable and no non-daemon timer is
/// pending (daemon timers do not hold quiescence back). The main task uses it
/// before checking end-of-run properties.
pub async fn until_quiescent() {
    engine::point(None, Access::Read, TAG_QUIESCENT).await;
    let mut registered = false;
    let task = engine::current();
    struct Cancel(TaskId, bool);
    impl Drop for Cancel {
        fn drop(&mut self) {
            if self.1 {
                engine::quiescence_cancel(self.0);
            }
        }
    }
    let mut guard = Cancel(task, false);
    std::future::poll_fn(|_cx: &mut Context<'_>| {
        if !registered {
            registered = true;
            engine::quiescence_register();
            guard.1 = true;
            return Poll::Pending;
        }
        if engine::quiescence_pending() {
            engine::quiescence_register();
            Poll::Pending
        } else {
            guard.1 = false;
            Poll::Ready(())
        }
    })
    .await;
    engine::event(TraceLevel::Ops, "quiescent", |_| {});
}
