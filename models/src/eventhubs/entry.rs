//! How the `eventhubs` model is offered to the CLI (`lockstep check eventhubs
//! --variant v6|v5 [--bound k=v ...]`).

use lockstep::cli::{BenchSection, ModelEntry};
use lockstep::explore::{protocol, CheckOptions};
use lockstep::report::Stopwatch;

use super::config::Variant;
use std::sync::{Arc, Mutex};

use super::impl_model::{figure_notes, steady_state_events_per_sec, EventHubsImpl, RunFigures};
use super::spec::EventHubsSpec;

/// The `eventhubs` model at the protocol level (default) and the implementation
/// level. The protocol level takes no `--param`; the implementation level takes
/// `rolling_restart` and storage `[[faults]]`.
pub fn registry_entry() -> ModelEntry {
    let sink = Arc::new(Mutex::new(RunFigures::default()));
    let ctor_sink = sink.clone();
    let mut entry = ModelEntry::new(
        "eventhubs",
        "Event Hubs trigger receive/checkpoint/load balancing (spec Part B; bounds instances, \
         partitions, events, crashes, stops, outages, max_retries, batch_size, poison; impl \
         also downstream_outages, min_batch_size, storage [[faults]], \
         --param rolling_restart=true)",
        &Variant::NAMES,
    )
    .with_spec(
        EventHubsSpec::default_bounds(),
        |variant, bounds, params| {
            crate::registry::reject_params(params)?;
            EventHubsSpec::new(variant, bounds)
        },
    )
    .with_impl(EventHubsImpl::default_bounds(), move |v, b, p, f| {
        EventHubsImpl::from_params(v, b, p, f).map(|m| m.with_sink(ctor_sink.clone()))
    })
    // `lockstep conform --model eventhubs`: processor traces against the protocol
    // model (invocations, checkpoint writes, ownership claims; see observe.rs).
    .with_conform(
        "v6",
        EventHubsSpec::default_bounds(),
        |variant, bounds, params| {
            crate::registry::reject_params(params)?;
            EventHubsSpec::new(variant, bounds)
        },
    );
    // The impl check's report gets the figures its runs counted as notes.
    if let Some(level) = entry.levels.get_mut("impl") {
        let inner = std::mem::replace(&mut level.check, Box::new(|_| Err(String::new())));
        level.check = Box::new(move |req| {
            take(&sink);
            let mut report = inner(req)?;
            let outages = req.bounds.get("downstream_outages").copied().unwrap_or(0);
            report.notes.extend(figure_notes(outages, &take(&sink)));
            Ok(report)
        });
    }
    entry
}

/// The figures summed since the last take (and a fresh start).
fn take(sink: &Mutex<RunFigures>) -> RunFigures {
    sink.lock()
        .map(|mut f| std::mem::take(&mut *f))
        .unwrap_or_default()
}

/// `lockstep bench` section, two tables:
/// * `steady_state`: the seeded steady-state simulation (2 instances, 4
///   partitions, 1,000 events; v6, no faults), simulated events per wall second;
/// * `exhaustive_check`: the protocol model's BFS at the smallest interesting
///   bounds (2 instances, 2 partitions, 3 events, 1 crash, batches of 2), per
///   variant: verdict, distinct states and wall time.
pub fn bench_section() -> BenchSection {
    BenchSection {
        name: "eventhubs: steady-state simulation (impl) and exhaustive check (spec)".to_string(),
        run: Box::new(|opts| {
            serde_json::json!({
                "steady_state": steady_state_rows(opts.quick),
                "exhaustive_check": exhaustive_rows(),
            })
        }),
    }
}

fn steady_state_rows(quick: bool) -> serde_json::Value {
    let seeds: Vec<u64> = if quick { vec![1] } else { (1..=5).collect() };
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
}

/// BFS over the whole protocol graph at the default (smallest interesting) bounds.
fn exhaustive_rows() -> serde_json::Value {
    let opts = CheckOptions::default();
    let rows: Vec<serde_json::Value> = Variant::NAMES
        .iter()
        .filter_map(|variant| {
            let model = EventHubsSpec::new(variant, &EventHubsSpec::default_bounds()).ok()?;
            let watch = Stopwatch::start();
            let report = protocol::check(&model, &opts);
            Some(serde_json::json!({
                "variant": variant,
                "bounds": "2 inst, 2 part, 3 events, 1 crash, batch 2",
                "verdict": report.verdict.as_str(),
                "property": report.property.clone().unwrap_or_else(|| "-".into()),
                "states": report.states,
                "wall_ms": watch.elapsed_ms(),
            }))
        })
        .collect();
    serde_json::Value::Array(rows)
}
