//! Tests of the implementation level: the async processors under lockstep's
//! schedule explorers find the v5 bugs and keep v6's properties, and the
//! steady-state run is deterministic per seed.

use lockstep::explore::schedules;
use lockstep::explore::{CheckOptions, Strategy};
use lockstep::report::{Bounds, Report, Verdict};

use super::impl_model::{steady_state_events_per_sec, EventHubsImpl};

/// The implementation model of `variant` with `overrides` on the default bounds
/// (shared by the impl test modules).
pub(super) fn model(variant: &str, overrides: &[(&str, i64)]) -> EventHubsImpl {
    let bounds: Bounds = overrides.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    EventHubsImpl::new(variant, &bounds).unwrap()
}

/// `runs` seeded random schedules from root seed `seed`.
pub(super) fn random(runs: u64, seed: u64) -> CheckOptions {
    CheckOptions {
        strategy: Strategy::Random,
        budget_schedules: runs,
        seed,
        ..CheckOptions::default()
    }
}

/// Asserts the check held, showing the property and notes when it did not.
pub(super) fn assert_holds(report: &Report) {
    assert_eq!(
        report.verdict,
        Verdict::Holds,
        "{:?} {:?}",
        report.property,
        report.notes
    );
}

#[test]
fn v6_processors_keep_every_property_under_random_schedules() {
    let report = schedules::check(&model("v6", &[]), &random(200, 7));
    assert_holds(&report);
    assert_eq!(report.schedules, 200);
}

#[test]
fn v6_processors_survive_crash_stop_outage_and_retries() {
    let faults = [
        ("crashes", 1),
        ("stops", 1),
        ("outages", 1),
        ("max_retries", 1),
        ("instances", 3),
    ];
    let report = schedules::check(&model("v6", &faults), &random(200, 11));
    assert_holds(&report);
}

#[test]
fn v5_concurrent_dispatch_is_found_at_the_implementation_level() {
    let report = schedules::check(&model("v5", &[("partitions", 1)]), &random(200, 3));
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(report.property.as_deref(), Some("s2-in-order-within-pump"));
    // The counterexample replays to the same trace from its schedule.
    let schedule: schedules::Schedule = report.schedule.clone().unwrap().parse().unwrap();
    let again = schedules::replay(&model("v5", &[("partitions", 1)]), &schedule).unwrap();
    assert_eq!(again.trace, report.trace);
}

#[test]
fn v5_checkpoint_on_cancel_skips_events_at_the_implementation_level() {
    // One event per start would hide the skip; a stop while a batch of two is
    // dispatched checkpoints its second event without invoking it.
    let bounds = [("instances", 1), ("partitions", 1), ("stops", 1)];
    let report = schedules::check(&model("v5", &bounds), &random(500, 5));
    assert_eq!(report.verdict, Verdict::Violated);
    let property = report.property.clone().unwrap();
    assert!(
        [
            "s1-no-skip-without-invocation",
            "s2-in-order-within-pump",
            "s7-no-uninvoked-checkpoint",
            "s8-no-checkpoint-after-cancel"
        ]
        .contains(&property.as_str()),
        "{property}"
    );
    let v6 = schedules::check(&model("v6", &bounds), &random(500, 5));
    assert_eq!(v6.verdict, Verdict::Holds, "{:?}", v6.property);
}

#[test]
fn steady_state_run_is_deterministic_and_delivers_every_event() {
    let a = steady_state_events_per_sec(42, 2, 4, 1_000);
    let b = steady_state_events_per_sec(42, 2, 4, 1_000);
    assert_eq!(a.status, "completed");
    assert_eq!(a.figures.distinct, 1_000);
    assert!(a.figures.deliveries >= 1_000);
    assert_eq!(
        (a.steps, a.virtual_time, a.figures),
        (b.steps, b.virtual_time, b.figures)
    );
}
