//! The runtime facade implementation models are written against, and the
//! deterministic executor that runs them.
//!
//! A model is ordinary async Rust: every `await` of the real code is an
//! `.await` here, on `lockstep::rt` primitives. Each primitive operation is a
//! scheduling point, so the explorers in [`crate::explore::schedules`] control
//! every interleaving; code between two awaits runs atomically, as on a
//! single-threaded executor. Time is virtual, randomness is explicit
//! ([`choose`]), and every spawned task is tracked, so a task stuck on a
//! semaphore it can never get is reported as a deadlock with its wait-for cycle.
//!
//! # A 20-line model
//!
//! Two tasks take two semaphores in opposite order; exhaustive DFS finds the
//! interleaving that deadlocks and prints the cycle and a replayable schedule.
//!
//! ```
//! use std::{future::Future, pin::Pin};
//! use lockstep::explore::{schedules::{self, ImplModel}, CheckOptions, PropertyKind, Strategy};
//! use lockstep::{rt, Bounds, Verdict};
//!
//! struct OppositeOrder;
//! impl ImplModel for OppositeOrder {
//!     fn name(&self) -> String { "opposite-order".into() }
//!     fn variant(&self) -> String { "buggy".into() }
//!     fn bounds(&self) -> Bounds { Bounds::new() }
//!     fn properties(&self) -> Vec<(String, PropertyKind)> { vec![] }
//!     fn main(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
//!         Box::pin(async {
//!             let (s1, s2) = (rt::Semaphore::new("s1", 1), rt::Semaphore::new("s2", 1));
//!             let (a1, a2) = (s1.clone(), s2.clone());
//!             rt::spawn("a", async move { let _p = a1.acquire().await; let _q = a2.acquire().await; });
//!             rt::spawn("b", async move { let _p = s2.acquire().await; let _q = s1.acquire().await; });
//!         })
//!     }
//! }
//!
//! let opts = CheckOptions { strategy: Strategy::Dfs, ..CheckOptions::default() };
//! let report = schedules::check(&OppositeOrder, &opts);
//! assert_eq!(report.verdict, Verdict::Violated);
//! assert_eq!(report.property.as_deref(), Some("deadlock"));
//! assert_eq!(report.wait_for.len(), 2); // a#1 -> s2 held by b#1 -> s1 held by a#1
//! let schedule: schedules::Schedule = report.schedule.unwrap().parse().unwrap();
//! let again = schedules::replay(&OppositeOrder, &schedule).unwrap();
//! assert_eq!(again.trace, report.trace);
//! ```
//!
//! # Rules for model code
//!
//! * Keep every piece of state that tasks share in `rt` objects (`Shared`,
//!   `Mutex`, channels, ...): the explorers see only what those record, and
//!   hash only what they hold. Handles (`Semaphore`, `CancellationTokenSource`,
//!   ...) may be stored inside `Shared` values; they hash by identity.
//! * Await only `rt` futures (or futures built from them). A future the
//!   executor does not know can leave a task blocked for ever ("a future
//!   lockstep does not track" in the wait-for graph).
//! * No wall clock, no thread-local randomness: use [`now`], [`sleep`] and
//!   [`choose`].
//! * `Shared::read`/`write` closures must not touch the same cell again.
//!
//! # Semantics in brief
//!
//! * A step runs one task from one scheduling point to the next; accesses in
//!   between (including `Shared` reads/writes, releases, `Latch::set`,
//!   `cancel()`) are atomic and recorded in the step's footprint.
//! * The run ends when every non-daemon task has finished; daemons are
//!   abandoned. Nothing runnable, no timer and a non-daemon task unfinished is
//!   a deadlock. [`until_quiescent`] wakes when nothing else can run and no
//!   non-daemon timer is pending.
//! * Timers fire in deadline order when nothing is runnable; a run is cut at
//!   `RunConfig::max_steps` / `max_virtual_time` (reported, never a hang).
//!
//! # Layout
//!
//! * [`engine`](self) (internal): the hooks primitives use to reach the running
//!   executor; the one module a different backend would replace.
//! * `executor`, `state`, `waitfor`: the run loop, the per-run world, deadlock analysis.
//! * one file per primitive family: `task`, `semaphore`, `mutex`, `shared`,
//!   `latch` (with `Notify`), `oneshot`, `mpsc`, `cancel`, `time`, `props`.

/// Identity traits for a primitive handle: clones are equal, the hash is the
/// object's stable id (so handles can live inside `Shared` state and the
/// fingerprint stays interleaving-independent), `Debug` shows the name.
macro_rules! handle_identity {
    ($handle:ident $(<$t:ident>)?) => {
        impl$(<$t>)? std::hash::Hash for $handle$(<$t>)? {
            fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
                h.write_u64(self.inner.stable)
            }
        }
        impl$(<$t>)? PartialEq for $handle$(<$t>)? {
            fn eq(&self, other: &Self) -> bool {
                std::sync::Arc::ptr_eq(&self.inner, &other.inner)
            }
        }
        impl$(<$t>)? Eq for $handle$(<$t>)? {}
        impl$(<$t>)? std::fmt::Debug for $handle$(<$t>)? {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($handle), self.inner.name)
            }
        }
    };
}

#[cfg(test)]
mod abort_tests;
mod backend;
mod cancel;
mod engine;
mod executor;
mod hash;
mod hosted;
mod ids;
mod latch;
#[cfg(all(madsim, feature = "madsim"))]
#[path = "backend_madsim.rs"]
pub mod madsim_backend;
pub mod mpsc;
mod mutex;
pub mod oneshot;
mod props;
mod semaphore;
mod shared;
#[cfg(feature = "shuttle")]
#[path = "backend_shuttle.rs"]
pub mod shuttle_backend;
mod state;
mod sync;
mod task;
mod time;
mod waitfor;

#[cfg(all(test, feature = "loom"))]
mod loom_tests;
#[cfg(test)]
mod tests;

pub use backend::{agree, report_key, report_summary, BackendOutcome, SharedModel};
pub use cancel::{CancellationToken, CancellationTokenSource};
pub use engine::in_simulation;
pub use executor::{Executor, RunConfig, RunOutcome, RunStatus};
pub use hash::{hash_of, mix, StableHasher};
pub use ids::{Access, Footprint, ObjId, TaskId};
pub use latch::{Latch, Notify};
pub use mutex::{Mutex, MutexGuard};
pub use props::{always, block_on_thread, choose, choose_bool, emit, sometimes, until_quiescent};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use shared::Shared;
pub use state::{TraceLevel, Violation};
pub use task::{
    current_task, spawn, spawn_daemon, task_name, yield_now, AbortHandle, Join, JoinError,
    JoinHandle,
};
pub use time::{now, sleep, sleep_cancellable, timeout, Elapsed};
