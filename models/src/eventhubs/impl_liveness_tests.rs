//! Tests of the implementation level's time-bounded liveness (L3 failover within
//! expiry + 2 intervals, L5 recovery within one interval of storage recovering),
//! storage faults from the blob store's fault plan, and poison events: v6 keeps
//! them with their witnesses reached, planted balancer bugs are found.

use lockstep::explore::schedules;
use lockstep::report::{Bounds, Report, Verdict};
use lockstep::world::FaultSpec;

use super::impl_model::EventHubsImpl;
use super::PlantedBug;

use super::impl_tests::{assert_holds, random};

fn model(overrides: &[(&str, i64)]) -> EventHubsImpl {
    super::impl_tests::model("v6", overrides)
}

fn verdict_of(report: &Report, name: &str) -> Option<Verdict> {
    report
        .properties
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.verdict)
}

fn assert_holds_with(report: &Report, properties: &[&str]) {
    assert_holds(report);
    for name in properties {
        assert_eq!(verdict_of(report, name), Some(Verdict::Holds), "{name}");
    }
}

/// P0's storage fails from 10 ms (while the first batch is checkpointed) for
/// 160 s, longer than the ownership expiry.
fn outage_of_p0() -> FaultSpec {
    FaultSpec {
        kind: "storage-outage".into(),
        instance: Some("P0".into()),
        from_ms: Some(10),
        until_ms: Some(160_010),
        ..FaultSpec::default()
    }
}

const CRASH: [(&str, i64); 1] = [("crashes", 1)];

#[test]
fn v6_fails_over_within_expiry_plus_two_intervals() {
    let report = schedules::check(&model(&CRASH), &random(60, 21));
    assert_holds_with(&report, &["l3-failover", "sometimes-failover"]);
}

#[test]
fn planted_balancer_that_ignores_expiry_misses_the_failover_deadline() {
    let planted = model(&CRASH).with_planted_bug(PlantedBug::IgnoresExpiry);
    let report = schedules::check(&planted, &random(60, 21));
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(report.property.as_deref(), Some("l3-failover"));
    // The counterexample replays from its schedule.
    let schedule: schedules::Schedule = report.schedule.clone().unwrap().parse().unwrap();
    let again = schedules::replay(&planted, &schedule).unwrap();
    assert_eq!(again.trace, report.trace);
}

#[test]
fn v6_restarts_pumps_within_an_interval_after_storage_recovers() {
    // One instance keeps its records through the outage (nobody else claims
    // them), so its faulted tasks must be restarted, not given up.
    let alone = model(&[("instances", 1)])
        .with_faults(&[outage_of_p0()])
        .unwrap();
    let report = schedules::check(&alone, &random(20, 5));
    assert_holds_with(
        &report,
        &[
            "l5-recovery-after-storage-outage",
            "sometimes-storage-recovery",
            "s5-bounded-duplicates",
        ],
    );
    // Two instances: the other one takes the records over meanwhile.
    let shared = model(&[]).with_faults(&[outage_of_p0()]).unwrap();
    let report = schedules::check(&shared, &random(40, 5));
    assert_holds_with(&report, &["l5-recovery-after-storage-outage"]);
}

#[test]
fn planted_balancer_without_restart_stalls_after_storage_recovers() {
    let planted = model(&[("instances", 1)])
        .with_faults(&[outage_of_p0()])
        .unwrap()
        .with_planted_bug(PlantedBug::NoRestartOfFaulted);
    let report = schedules::check(&planted, &random(20, 5));
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(
        report.property.as_deref(),
        Some("l5-recovery-after-storage-outage")
    );
}

#[test]
fn bounded_outages_are_fault_plan_windows_judged_by_l5() {
    let report = schedules::check(&model(&[("outages", 1)]), &random(100, 9));
    assert_holds_with(
        &report,
        &[
            "l5-recovery-after-storage-outage",
            "sometimes-storage-recovery",
        ],
    );
}

#[test]
fn poison_event_executes_one_plus_max_retries_times_then_is_passed() {
    let poison = model(&[("instances", 1), ("poison", 1), ("max_retries", 2)]);
    let report = schedules::check(&poison, &random(10, 3));
    assert_holds_with(
        &report,
        &["s1-no-skip-without-invocation", "s4-at-least-once"],
    );
}

#[test]
fn only_storage_faults_are_accepted() {
    let named = FaultSpec {
        kind: "worker-timeout".into(),
        at: Some("x".into()),
        ..FaultSpec::default()
    };
    let err = model(&[]).with_faults(&[named]).err().unwrap();
    assert!(
        err.contains("faults[0]: the eventhubs model takes only storage faults"),
        "{err}"
    );
    let mut bounds = Bounds::new();
    bounds.insert("events".into(), 1_000);
    bounds.insert("batch_size".into(), 100);
    assert!(
        EventHubsImpl::new("v6", &bounds).is_ok(),
        "large runs are impl-only"
    );
    bounds.insert("events".into(), -1);
    let err = EventHubsImpl::new("v6", &bounds).err().unwrap();
    assert!(err.contains("bound `events` = -1 is out of range"), "{err}");
}

#[test]
fn rolling_restart_replaces_every_old_instance_and_keeps_the_properties() {
    let params =
        |v: &str| lockstep::cli::Params::from([("rolling_restart".to_string(), v.to_string())]);
    let bounds: Bounds = [
        ("instances", 4),
        ("partitions", 4),
        ("events", 40),
        ("batch_size", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let rolling = EventHubsImpl::from_params("v6", &bounds, &params("true"), &[]).unwrap();
    let report = schedules::check(&rolling, &random(10, 3));
    assert_holds_with(
        &report,
        &["s4-at-least-once", "s8-no-checkpoint-after-cancel"],
    );
    let err = EventHubsImpl::from_params("v6", &Bounds::new(), &params("yes"), &[])
        .err()
        .unwrap();
    assert!(err.contains("must be true or false"), "{err}");
    let mut odd = bounds.clone();
    odd.insert("instances".into(), 3);
    let err = EventHubsImpl::from_params("v6", &odd, &params("true"), &[])
        .err()
        .unwrap();
    assert!(err.contains("even number of instances"), "{err}");
    let other = lockstep::cli::Params::from([("offline".to_string(), "true".to_string())]);
    assert!(EventHubsImpl::from_params("v6", &bounds, &other, &[]).is_err());
}
