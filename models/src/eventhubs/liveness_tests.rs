//! Tests of L3 (failover after a crash), L5 (recovery after a storage failure)
//! and poison events at the protocol level: v6 keeps them with their witnesses
//! reached, and planted balancer bugs that break them are found by exploration.

use lockstep::explore::Model;
use lockstep::report::Bounds;

use super::state::EhState;
use super::testcheck::{check, check_with_metric, Outcome};
use super::{EventHubsSpec, PlantedBug};

const MAX_STATES: usize = 2_000_000;

fn spec(variant: &str, overrides: &[(&str, i64)]) -> EventHubsSpec {
    let mut bounds: Bounds = EventHubsSpec::default_bounds();
    for (k, v) in overrides {
        bounds.insert(k.to_string(), *v);
    }
    EventHubsSpec::new(variant, &bounds).unwrap()
}

fn names(spec: &EventHubsSpec) -> Vec<&'static str> {
    spec.properties().iter().map(|p| p.name).collect()
}

fn assert_holds(out: &Outcome) {
    assert!(out.complete, "exploration did not finish");
    assert!(
        out.failed().is_empty(),
        "unexpected failures {:?}\n{:#?}",
        out.failed(),
        out.lassos
    );
}

/// A crash with one event: the survivor takes the crashed instance's partitions.
const CRASH: [(&str, i64); 2] = [("events", 1), ("crashes", 1)];
/// One failed store call with one event, no crash.
const OUTAGE: [(&str, i64); 3] = [("events", 1), ("crashes", 0), ("outages", 1)];

#[test]
fn v6_fails_over_after_a_crash_and_recovers_after_a_storage_failure() {
    let crash = spec("v6", &CRASH);
    assert!(names(&crash).contains(&"l3-failover"));
    assert!(names(&crash).contains(&"sometimes-failover"));
    let out = check(&crash, MAX_STATES);
    assert_holds(&out);
    assert_eq!(out.states, 3_688);

    let outage = spec("v6", &OUTAGE);
    assert!(names(&outage).contains(&"l5-recovery-after-storage-outage"));
    assert!(names(&outage).contains(&"sometimes-pump-faulted-by-storage"));
    let out = check(&outage, MAX_STATES);
    assert_holds(&out);
    assert_eq!(out.states, 47_017);
}

#[test]
fn planted_balancer_that_ignores_expiry_never_fails_over() {
    let planted = spec("v6", &CRASH).with_planted_bug(PlantedBug::IgnoresExpiry);
    let out = check(&planted, MAX_STATES);
    assert!(out.complete);
    assert!(
        out.liveness.contains(&"l3-failover".to_string()),
        "{:?}",
        out.failed()
    );
    // The crashed owner's record expires, but the survivor still counts it as
    // owned: balanced at one partition each, it never claims p0.
    assert_eq!(
        out.lassos["l3-failover"],
        [
            "P0 starts",
            "P0 cycle: renew, list, choose p0",
            "P0 claim (ok)",
            "P0 crashes",
            "P1 starts",
            "P1 cycle: renew, list, choose p1",
            "P1 claim (ok)",
            "P1/p1 read checkpoint, open receiver (ok)",
            "ownership of p0 expires",
            "--terminal--",
        ]
    );
    assert!(check(&spec("v6", &CRASH), MAX_STATES).failed().is_empty());
}

#[test]
fn planted_balancer_without_restart_stalls_after_a_storage_failure() {
    let planted = spec("v6", &OUTAGE).with_planted_bug(PlantedBug::NoRestartOfFaulted);
    let out = check(&planted, MAX_STATES);
    assert!(out.complete);
    assert!(
        out.liveness
            .contains(&"l5-recovery-after-storage-outage".to_string()),
        "{:?}",
        out.failed()
    );
    // The checkpoint read fails, the task faults, and every later cycle leaves
    // it faulted (step 5, restart, is missing).
    assert_eq!(
        out.lassos["l5-recovery-after-storage-outage"],
        [
            "P0 starts",
            "P0 cycle: renew, list, choose p0",
            "P0 claim (ok)",
            "P0 cycle: renew, list, choose p1",
            "P0 claim (ok)",
            "P0/p0 read checkpoint, open receiver (fails)",
            "--loop--",
            "P0 cycle: renew, list, nothing to claim",
        ]
    );
}

fn poison_executions(s: &EhState) -> u64 {
    u64::from(s.tallies()[0].executions)
}

#[test]
fn poison_event_is_retried_then_checkpointed_past() {
    // e0 always fails: each delivery executes it 1 + max_retries times, then the
    // checkpoint moves past it anyway (no poison-event model), and e1, e2 follow.
    let bounds = [
        ("instances", 1),
        ("crashes", 0),
        ("poison", 1),
        ("max_retries", 2),
    ];
    let poison = spec("v6", &bounds);
    assert!(names(&poison).contains(&"sometimes-checkpoint-past-poison"));
    let out = check_with_metric(&poison, MAX_STATES, poison_executions);
    assert_holds(&out);
    assert_eq!(out.max_metric, 3, "one delivery, 1 + 2 retries");
    assert_eq!(out.states, 351);
    // Two instances: a steal can redeliver it, within the S5 bound.
    let shared = spec("v6", &[("crashes", 0), ("poison", 1), ("max_retries", 1)]);
    let out = check_with_metric(&shared, MAX_STATES, poison_executions);
    assert_holds(&out);
    assert_eq!(shared.config.executions_bound(), Some(2 * 3));
    assert_eq!(out.max_metric, 4, "two deliveries of 1 + 1 executions");
}

#[test]
fn l3_and_l5_need_a_finite_retry_policy() {
    // An endless retry loop can block the balancing loop for ever (B.6.1 step 5):
    // neither failover nor recovery is promised, L4 judges that hazard.
    let endless = names(&spec("v6", &[("max_retries", -1), ("outages", 1)]));
    assert!(!endless.contains(&"l3-failover"));
    assert!(!endless.contains(&"l5-recovery-after-storage-outage"));
    assert!(endless.contains(&"sometimes-failover"));
}

#[test]
fn poison_bound_is_validated() {
    let mut bounds = EventHubsSpec::default_bounds();
    bounds.insert("poison".into(), 4);
    assert!(EventHubsSpec::new("v6", &bounds)
        .unwrap_err()
        .contains("bound `poison` = 4 exceeds events = 3"));
}
