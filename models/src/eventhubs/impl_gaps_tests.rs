//! Tests of the two implementation-level additions of issue 4: a downstream
//! dependency offline for a window (every execution fails, the batch is still
//! checkpointed past) and the MinEventBatchSize cache (S7 against it, with a
//! planted checkpoint at the last *received* event that must be found).

use lockstep::explore::schedules;
use lockstep::report::Verdict;

use super::config::PlantedBug;
use super::impl_model::{figure_notes, EventHubsImpl};
use super::impl_tests::{assert_holds, model, random};

const OUTAGE: [(&str, i64); 5] = [
    ("downstream_outages", 1),
    ("events", 4),
    ("batch_size", 2),
    ("max_retries", 1),
    ("crashes", 0),
];

#[test]
fn downstream_outage_fails_invocations_yet_s1_holds_and_the_skips_are_counted() {
    let m = model("v6", &OUTAGE);
    let properties: Vec<String> = schedules::ImplModel::properties(&m)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(properties.contains(&"sometimes-failed-by-downstream-outage".to_string()));
    assert!(properties.contains(&"s1-no-skip-without-invocation".to_string()));
    let report = schedules::check(&m, &random(100, 3));
    assert_holds(&report);
    // The `sometimes` was reached (an unreached one fails the check) and the
    // B.8 caveat happened: failed events were checkpointed past.
    let figures = m.take_figures();
    assert_eq!(figures.runs, 100);
    assert!(figures.checkpointed_past_failed > 0, "{figures:?}");
    let notes = figure_notes(1, &figures);
    assert!(notes[0].starts_with("events checkpointed past after failing: "));
    assert!(figure_notes(0, &figures).is_empty());
}

#[test]
fn downstream_outage_figures_are_deterministic_per_seed() {
    let (a, b) = (model("v6", &OUTAGE), model("v6", &OUTAGE));
    schedules::check(&a, &random(30, 9));
    schedules::check(&b, &random(30, 9));
    assert_eq!(a.take_figures(), b.take_figures());
}

const CACHE: [(&str, i64); 6] = [
    ("min_batch_size", 2),
    ("batch_size", 3),
    ("events", 5),
    ("partitions", 1),
    ("instances", 1),
    ("crashes", 0),
];

#[test]
fn min_batch_cache_keeps_s7_and_every_property() {
    let report = schedules::check(&model("v6", &CACHE), &random(150, 5));
    assert_holds(&report);
    // v5 dispatches the cache's batches concurrently: S2, not S7.
    let v5 = schedules::check(&model("v5", &CACHE), &random(150, 5));
    assert_eq!(v5.property.as_deref(), Some("s2-in-order-within-pump"));
    // With a crash and a second instance the cache is lost with its pump and
    // its events are redelivered, never skipped.
    let mut bounds = CACHE.to_vec();
    bounds.retain(|(k, _)| !["instances", "crashes", "partitions"].contains(k));
    bounds.extend([("instances", 2), ("crashes", 1), ("partitions", 2)]);
    let report = schedules::check(&model("v6", &bounds), &random(150, 6));
    assert_holds(&report);
}

#[test]
fn planted_checkpoint_at_last_received_event_is_found_as_s7() {
    let planted = model("v6", &CACHE).with_planted_bug(PlantedBug::CheckpointAtReceived);
    let report = schedules::check(&planted, &random(150, 5));
    assert_eq!(report.verdict, Verdict::Violated, "{:?}", report.notes);
    assert_eq!(
        report.property.as_deref(),
        Some("s7-no-uninvoked-checkpoint")
    );
    // Without the cache the bug is harmless: everything received is invoked.
    let mut off = CACHE.to_vec();
    off.retain(|(k, _)| *k != "min_batch_size");
    let harmless = model("v6", &off).with_planted_bug(PlantedBug::CheckpointAtReceived);
    let report = schedules::check(&harmless, &random(50, 5));
    assert_eq!(report.verdict, Verdict::Holds, "{:?}", report.property);
}

#[test]
fn impl_only_bounds_are_validated_and_echoed_only_when_set() {
    let too_big = EventHubsImpl::new(
        "v6",
        &[("min_batch_size", 3), ("batch_size", 2)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    );
    assert!(too_big.err().unwrap().contains("exceeds batch_size"));
    let out_of_range = EventHubsImpl::new(
        "v6",
        &[("downstream_outages".to_string(), 3)]
            .into_iter()
            .collect(),
    );
    assert!(out_of_range.err().unwrap().contains("out of range"));
    let plain = schedules::ImplModel::bounds(&model("v6", &[]));
    assert!(!plain.contains_key("min_batch_size") && !plain.contains_key("downstream_outages"));
    let set = schedules::ImplModel::bounds(&model("v6", &CACHE));
    assert_eq!(set.get("min_batch_size"), Some(&2));
}
