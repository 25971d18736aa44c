//! How the `eventhubs` model is offered to the CLI (`lockstep check eventhubs
//! --variant v6|v5 [--bound k=v ...]`).

use lockstep::cli::ModelEntry;

use super::config::Variant;
use super::impl_model::EventHubsImpl;
use super::spec::EventHubsSpec;

/// The `eventhubs` model at the protocol level (default) and the implementation
/// level. It takes no `--param`.
pub fn registry_entry() -> ModelEntry {
    ModelEntry::new(
        "eventhubs",
        "Event Hubs trigger receive/checkpoint/load balancing (spec Part B; bounds instances, \
         partitions, events, crashes, stops, outages, max_retries, batch_size)",
        &Variant::NAMES,
    )
    .with_spec(
        EventHubsSpec::default_bounds(),
        |variant, bounds, params| {
            crate::registry::reject_params(params)?;
            EventHubsSpec::new(variant, bounds)
        },
    )
    .with_impl(EventHubsImpl::default_bounds(), EventHubsImpl::from_params)
}
