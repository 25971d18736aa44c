//! lockstep: deterministic simulation and model checking for async lifecycle code.
//!
//! The harness knows nothing of Azure. It has four parts:
//!
//! * [`rt`]: the runtime facade implementation models are written against
//!   (spawn, semaphores, cancellation, virtual time, ...) and the deterministic
//!   single-threaded executor that runs them, one scheduling point per
//!   primitive operation.
//! * [`world`]: the simulated environment: seeded PRNG tree, virtual clock,
//!   simulated blob storage, fault plans and `buggify!`.
//! * [`explore`]: one file per exploration strategy, for protocol models
//!   ([`explore::Model`], explicit-state BFS/DFS) and implementation models
//!   (exhaustive DFS with sleep sets, random, PCT, replay).
//! * [`trace`], [`report`], [`scenario`], [`cli`]: what a run produces and how
//!   people drive it.
//! * [`conform`]: checking recorded traces (other implementations, real host
//!   logs) step by step against a protocol model.

pub mod cli;
pub mod conform;
pub mod explore;
pub mod report;
pub mod rt;
pub mod scenario;
pub mod trace;
pub mod world;

pub use report::{Bounds, Report, Verdict};
