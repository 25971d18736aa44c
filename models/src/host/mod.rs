//! The Azure Functions host start/restart lifecycle (spec Part A): the protocol model
//! [`spec::HostSpec`] and the implementation model [`impl_model::HostImpl`] (model `host`,
//! variants `pre-10766`, `fix-11142`, `fix-11825`, levels `spec` and `impl`).

mod entry;
pub mod impl_model;
mod impl_provider;
mod impl_restart;
mod impl_service;
#[cfg(test)]
mod impl_tests;
pub mod spec;
mod spec_action;
mod spec_log;
mod spec_props;
pub mod spec_state;
mod spec_step;
#[cfg(test)]
mod spec_tests;
#[cfg(test)]
mod spec_tests_guard;
#[cfg(test)]
mod test_bfs;

pub use entry::{headline_items, registry_entry};
pub use impl_model::{HostImpl, IMPL_BOUND_DEFAULTS};
pub use spec::{HostEnv, HostSpec, Variant, BOUND_DEFAULTS};
pub use spec_action::{Action, RestartKind, Step, WorkerOutcome};
