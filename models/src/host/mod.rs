//! The Azure Functions host start/restart lifecycle (spec Part A): the protocol model
//! [`spec::HostSpec`] and the implementation model [`impl_model::HostImpl`] (model `host`,
//! variants `pre-10766`, `fix-11142`, `fix-11825`, levels `spec` and `impl`).
//!
//! What exploration finds (pinned in the tests; scenarios under `scenarios/host/`):
//! * `pre-10766` deadlocks after a storage outage (#10766) and after a worker startup
//!   timeout: the retry's provider restarts inline and waits on its own semaphore.
//! * `fix-11142` deadlocks on the worker-timeout path (#11617/#11824), and also after a
//!   storage outage whenever the channel is gone at the retry's BuildHost (writable file
//!   system, or a restart's NotifyHostStopping): in a retry ActiveHost is null (A.5.4).
//! * `fix-11825` holds at the default bounds and at larger ones with one restart. With
//!   two restarts a stale retry can replace a Running host (single-active-host), and with
//!   a non-transient error as well it can deadlock: a parked, *started* minimal host makes
//!   `Error` read as "not starting" again.

mod entry;
pub mod impl_model;
mod impl_provider;
mod impl_restart;
mod impl_service;
#[cfg(test)]
mod impl_tests;
/// How the protocol model shows itself in lifecycle traces (conformance).
pub mod observe;
/// The implementation model behind the plug-in API (model `host-plugin`).
pub mod plugin_adapter;
pub mod spec;
mod spec_action;
mod spec_log;
mod spec_props;
mod spec_readable;
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
