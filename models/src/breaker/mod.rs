//! The circuit-breaker model (spec B.8, property L6 of B.9): the pattern the
//! reliable-event-processing guide builds on the Event Hubs trigger. Every
//! instance records each eventual failure in a shared failure store
//! (`lockstep::world::failure_store`) and checks the rolling count; above the
//! threshold a break event makes a control plane stop the function app after a
//! latency; an operator resumes it later, and every partition restarts from its
//! last durable checkpoint.
//!
//! * [`config`]: bounds (both levels), variants `shared-counter` and
//!   `per-instance-counter`, the `claim` parameter, T_break.
//! * [`state`], [`spec`] (+ `steps`, `properties`): the protocol model, checked by BFS.
//! * [`impl_model`] (+ `impl_app`, [`impl_world`]): the implementation level on `lockstep::rt`
//!   (async pumps with retries, failure store, control plane, operator, virtual time),
//!   and the seeded run at scale used by `lockstep bench`.
//! * [`registry_entry`], [`bench_section`]: the CLI registration.

pub mod config;
mod entry;
pub mod figures;
mod impl_app;
pub mod impl_model;
pub mod impl_world;
mod properties;
pub mod spec;
pub mod state;
mod steps;

#[cfg(test)]
mod impl_tests;
#[cfg(test)]
mod tests;

pub use config::{Claim, Config, PlantedBug, Variant};
pub use entry::{bench_section, registry_entry};
pub use impl_model::{run_at_scale, AtScale, BreakerImpl};
pub use spec::{BrAction, BreakerSpec};
pub use state::BrState;
