//! The consumer-group migration model (spec B.7): two function apps reading one
//! event hub while the new app replaces the old one. The operator deploys the new
//! app, both run while it is validated, then the old app is stopped. Variants:
//! `separate-groups` (the advice: the new app has its own consumer group) and
//! `shared-group` (the mistake: both share one group, compete for partitions and
//! displace each other's receivers, so the new app never sees some events).
//!
//! * [`config`]: bounds, variants, planted bugs.
//! * [`state`]: the model state (hub, one checkpoint store per group, instances).
//! * [`spec`]: [`MigrationSpec`], the protocol model; `balancer`, `pump`: its
//!   transitions; `properties`: what exploration judges.
//! * `impl_app` + [`impl_model`]: the implementation level, async apps on
//!   `lockstep::rt` with real virtual time.
//! * [`registry_entry`]: the CLI registration (both levels).

pub mod balancer;
pub mod config;
mod entry;
mod impl_app;
pub mod impl_model;
mod properties;
mod pump;
pub mod spec;
pub mod state;

#[cfg(test)]
mod impl_tests;
#[cfg(test)]
mod tests;

pub use config::{Config, PlantedBug, Variant};
pub use entry::registry_entry;
pub use impl_model::MigrationImpl;
pub use spec::{MigAction, MigrationSpec};
pub use state::MigState;
