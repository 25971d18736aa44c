//! The Event Hubs trigger model (spec Part B): how the Functions extension and the
//! Event Hubs SDK receive, invoke, checkpoint and balance partitions, checked
//! against the properties of spec B.9.
//!
//! * [`config`]: bounds and version profiles (`v6`, `v5`), the S5 duplicate bound.
//! * [`state`]: the model state (hub + checkpoint store from `lockstep::world`).
//! * [`spec`]: [`EventHubsSpec`], the protocol model (`Model` impl, actions).
//! * `balancer`, `pump`: the transitions; `properties`: S1-S8, L1-L5, witnesses.
//! * [`impl_model`] (+ `impl_processor`, `impl_world`, `impl_monitors`): the
//!   implementation level, async processors on `lockstep::rt` over the checkpoint
//!   store on simulated blob storage (faults from its fault plan), L3/L5 judged in
//!   virtual time, and the steady-state throughput measurement.
//! * [`observe`]: how the protocol model shows itself in a trace (`lockstep conform`).
//! * [`registry_entry`]: the CLI registration (both levels).

mod balancer;
pub use balancer::greedy_candidates;
pub mod config;
mod entry;
pub mod impl_model;
mod impl_monitors;
mod impl_processor;
mod impl_world;
pub mod observe;
mod properties;
mod pump;
pub mod spec;
pub mod state;

#[cfg(test)]
mod impl_gaps_tests;
#[cfg(test)]
mod impl_liveness_tests;
#[cfg(test)]
mod impl_tests;
#[cfg(test)]
mod liveness_tests;
#[cfg(test)]
mod testcheck;
#[cfg(test)]
mod tests;

pub use config::{Config, PlantedBug, Variant};
pub use entry::{bench_section, registry_entry};
pub use impl_model::{steady_state_events_per_sec, EventHubsImpl, SteadyState};
pub use spec::{EhAction, EventHubsSpec};
pub use state::EhState;
