//! How the `breaker` model is offered to the CLI (`lockstep check breaker
//! --variant shared-counter|per-instance-counter [--bound k=v ...]
//! [--param claim=unqualified]`) and to `lockstep bench`.

use lockstep::cli::ModelEntry;

use super::config::{Claim, Variant};
use super::spec::BreakerSpec;

/// The `breaker` model at the protocol level (default) and the implementation level.
pub fn registry_entry() -> ModelEntry {
    ModelEntry::new(
        "breaker",
        "circuit breaker over the Event Hubs trigger (spec B.8, L6; bounds instances, partitions, \
         events, threshold, window_secs, break_latency, lag, max_retries, batch_size, resumes, \
         store_outages; --param claim=qualified|unqualified)",
        &Variant::NAMES,
    )
    .with_spec(BreakerSpec::default_bounds(), |variant, bounds, params| {
        BreakerSpec::new(variant, bounds, Claim::from_params(params)?)
    })
}
