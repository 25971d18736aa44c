//! How the host model is offered to the CLI: its registry entry (`lockstep check host
//! --variant V [--bound k=v] [--param k=v]`) and its headline items.

use lockstep::cli::{HeadlineItem, ModelEntry};
use lockstep::explore::Strategy;

use super::impl_model::HostImpl;
use super::spec::{HostSpec, Variant};

/// The `host` model at the protocol level (default) and the implementation level
/// (`--level impl`); `--param` takes the [`super::HostEnv`] knobs at both.
pub fn registry_entry() -> ModelEntry {
    ModelEntry::new(
        "host",
        "Azure Functions host start/restart lifecycle (spec Part A; bounds restarts, \
         storage_failures, worker_timeouts, host_exceptions, attempts; params bundle, \
         writable, offline, stop, offline_reaches_metadata)",
        &Variant::NAMES,
    )
    .with_spec(HostSpec::default_bounds(), HostSpec::from_params)
    .with_impl(HostImpl::default_bounds(), HostImpl::from_params)
}

/// The three variants at default bounds, for the headline demonstration.
pub fn headline_items() -> Vec<HeadlineItem> {
    Variant::NAMES
        .iter()
        .map(|v| HeadlineItem {
            model: "host".into(),
            variant: v.to_string(),
            level: "spec".into(),
            bounds: HostSpec::default_bounds(),
            strategy: Strategy::Bfs,
        })
        .collect()
}
