//! How the `breaker` model is offered to the CLI (`lockstep check breaker
//! --variant shared-counter|per-instance-counter [--level impl] [--bound k=v ...]
//! [--param claim=unqualified]`) and to `lockstep bench`.

use lockstep::cli::{BenchSection, ModelEntry};

use super::config::{Claim, Variant};
use super::impl_model::{run_at_scale, BreakerImpl};
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
    .with_impl(BreakerImpl::default_bounds(), BreakerImpl::from_params)
}

/// `lockstep bench` rows: the implementation model on rt at scale (8 instances,
/// 32 partitions, 100,000 events, a 60 s downstream outage; `--quick`: 10,000
/// events), one row per seed.
pub fn bench_section() -> BenchSection {
    BenchSection {
        name: "breaker shared-counter at scale, 8 instances x 32 partitions (impl, rt, seeded)"
            .to_string(),
        run: Box::new(|opts| {
            let (seeds, events): (Vec<u64>, u32) = if opts.quick {
                (vec![1], 10_000)
            } else {
                ((1..=3).collect(), 100_000)
            };
            let rows: Vec<serde_json::Value> = seeds
                .iter()
                .map(|&seed| match run_at_scale(seed, 8, 32, events) {
                    Ok(run) => {
                        let s = run.stats;
                        let break_ms = match (s.first_crossing_ms, s.first_stop_ms) {
                            (Some(c), Some(t)) => Some(t.saturating_sub(c)),
                            _ => None,
                        };
                        serde_json::json!({
                            "seed": seed,
                            "engine": "rt",
                            "status": run.status,
                            "events": events,
                            "invocations": s.executions,
                            "failures": s.failures,
                            "stops": s.stops,
                            "first_crossing_ms": s.first_crossing_ms,
                            "break_ms": break_ms,
                            "max_invocations_after_crossing": s.max_after_crossing,
                            "max_ms_after_crossing": s.max_after_crossing_ms,
                            "in_flight_at_stop": s.in_flight_at_stop,
                            "redelivered": s.redelivered,
                            "steps": run.steps,
                            "virtual_ms": run.virtual_time.as_millis() as u64,
                            "wall_ms": run.wall_ms,
                        })
                    }
                    Err(e) => serde_json::json!({ "seed": seed, "error": e }),
                })
                .collect();
            serde_json::Value::Array(rows)
        }),
    }
}
