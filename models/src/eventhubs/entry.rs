//! How the `eventhubs` model is offered to the CLI (`lockstep check eventhubs
//! --variant v6|v5 [--bound k=v ...]`).

use lockstep::cli::{BenchSection, ModelEntry};

use super::config::Variant;
use super::impl_model::{steady_state_events_per_sec, EventHubsImpl};
use super::spec::EventHubsSpec;

/// The `eventhubs` model at the protocol level (default) and the implementation
/// level. The protocol level takes no `--param`; the implementation level takes
/// `rolling_restart` and storage `[[faults]]`.
pub fn registry_entry() -> ModelEntry {
    ModelEntry::new(
        "eventhubs",
        "Event Hubs trigger receive/checkpoint/load balancing (spec Part B; bounds instances, \
         partitions, events, crashes, stops, outages, max_retries, batch_size, poison; impl: \
         storage [[faults]], --param rolling_restart=true)",
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

/// `lockstep bench` rows: the seeded steady-state simulation (2 instances,
/// 4 partitions, 1,000 events; v6, no faults), simulated events per wall second.
pub fn bench_section() -> BenchSection {
    BenchSection {
        name: "eventhubs steady state, 2 instances x 4 partitions x 1,000 events (impl, rt)"
            .to_string(),
        run: Box::new(|opts| {
            let seeds: Vec<u64> = if opts.quick {
                vec![1]
            } else {
                (1..=5).collect()
            };
            let rows: Vec<serde_json::Value> = seeds
                .iter()
                .map(|&seed| {
                    let run = steady_state_events_per_sec(seed, 2, 4, 1_000);
                    serde_json::json!({
                        "seed": seed,
                        "status": run.status,
                        "deliveries": run.figures.deliveries,
                        "distinct": run.figures.distinct,
                        "steps": run.steps,
                        "virtual_ms": run.virtual_time.as_millis() as u64,
                        "wall_ms": (run.wall_secs * 1e3).round() as u64,
                        "events_per_sec": run.events_per_sec.round() as u64,
                    })
                })
                .collect();
            serde_json::Value::Array(rows)
        }),
    }
}
