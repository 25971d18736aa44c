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
//! # Layout
//!
//! * [`engine`](self) (internal): the hooks primitives use to reach the running
//!   executor; the one module a different backend would replace.
//! * `executor`, `state`, `waitfor`: the run loop, the per-run world, deadlock analysis.
//! * one file per primitive family: `task`, `semaphore`, `mutex`, `shared`,
//!   `latch` (with `Notify`), `oneshot`, `mpsc`, `cancel`, `time`, `props`.

mod cancel;
mod engine;
mod executor;
mod hash;
mod ids;
mod latch;
pub mod mpsc;
mod mutex;
pub mod oneshot;
mod props;
mod semaphore;
mod shared;
mod state;
mod sync;
mod task;
mod time;
mod waitfor;

#[cfg(test)]
mod tests;

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
pub use task::{current_task, spawn, spawn_daemon, yield_now, JoinHandle};
pub use time::{now, sleep, sleep_cancellable, timeout, Elapsed};
