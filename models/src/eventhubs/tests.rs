//! Tests of the `eventhubs` protocol model. Every verdict is found by exploring
//! the model (the local checker in `testcheck.rs`), never written down: the v5
//! bugs and the unbounded-retry hazard must be found, planted bugs must be caught,
//! and v6 must hold with every `sometimes` witness reached.

use lockstep::explore::{Model, Property};
use lockstep::report::Bounds;

use super::state::{EhState, Lb, PumpPhase};
use super::testcheck::{check, check_properties, check_with_metric, Outcome};
use super::{EventHubsSpec, PlantedBug};

const MAX_STATES: usize = 2_000_000;

fn spec(variant: &str, overrides: &[(&str, i64)]) -> EventHubsSpec {
    let mut bounds: Bounds = EventHubsSpec::default_bounds();
    for (k, v) in overrides {
        bounds.insert(k.to_string(), *v);
    }
    EventHubsSpec::new(variant, &bounds).unwrap()
}

fn max_executions(s: &EhState) -> u64 {
    s.tallies()
        .iter()
        .map(|t| u64::from(t.executions))
        .max()
        .unwrap_or(0)
}

fn max_deliveries(s: &EhState) -> u64 {
    s.tallies()
        .iter()
        .map(|t| u64::from(t.deliveries))
        .max()
        .unwrap_or(0)
}

fn property_names(spec: &EventHubsSpec) -> Vec<&'static str> {
    spec.properties().iter().map(|p| p.name).collect()
}

fn assert_holds(out: &Outcome) {
    assert!(out.complete, "exploration did not finish");
    assert!(
        out.failed().is_empty(),
        "unexpected failures {:?}\n{:#?}\n{:#?}",
        out.failed(),
        out.violations,
        out.lassos
    );
}

/// Takes the enabled action shown as `label`, failing with the enabled ones if absent.
fn step(spec: &EventHubsSpec, s: &EhState, label: &str) -> EhState {
    let mut actions = Vec::new();
    spec.actions(s, &mut actions);
    let found = actions.iter().find(|a| spec.format_action(a) == label);
    let Some(action) = found else {
        let enabled: Vec<String> = actions.iter().map(|a| spec.format_action(a)).collect();
        panic!(
            "`{label}` is not enabled; enabled: {enabled:#?}\nstate: {}",
            s.summary()
        );
    };
    spec.next_state(s, action).unwrap()
}

fn walk(spec: &EventHubsSpec, labels: &[&str]) -> EhState {
    labels
        .iter()
        .fold(spec.init_states().remove(0), |s, label| {
            step(spec, &s, label)
        })
}

#[test]
fn v6_holds_at_default_bounds_with_every_witness_reached() {
    let spec = spec("v6", &[]);
    let out = check_with_metric(&spec, MAX_STATES, max_executions);
    assert_holds(&out);
    assert_eq!(out.states, 52_676);
    for witness in [
        "sometimes-crash",
        "sometimes-steal",
        "sometimes-duplicate-delivery",
        "sometimes-dual-ownership",
        "sometimes-checkpoint-regression",
    ] {
        assert!(
            property_names(&spec).contains(&witness),
            "{witness} is checked"
        );
    }
    // S5: the most executions of one event, against the computed bound.
    assert_eq!(spec.config.executions_bound(), Some(4));
    assert_eq!(out.max_metric, 3);
}

#[test]
fn v6_holds_with_stop_retry_and_storage_failure() {
    let spec = spec(
        "v6",
        &[
            ("partitions", 1),
            ("events", 2),
            ("crashes", 0),
            ("stops", 1),
            ("outages", 1),
            ("max_retries", 1),
        ],
    );
    assert!(property_names(&spec).contains(&"sometimes-retry"));
    let out = check_with_metric(&spec, MAX_STATES, max_executions);
    assert_holds(&out);
    assert_eq!(out.states, 85_351);
    assert_eq!(spec.config.executions_bound(), Some(2 * 8));
    assert_eq!(out.max_metric, 6);
}

#[test]
fn v5_concurrent_single_dispatch_breaks_per_partition_order() {
    let out = check(&spec("v5", &[]), MAX_STATES);
    assert!(out.complete);
    assert_eq!(out.states, 63_434);
    assert_eq!(out.failed(), vec!["s2-in-order-within-pump"]);
    assert_eq!(
        out.violations["s2-in-order-within-pump"],
        [
            "P0 starts",
            "P0 cycle: renew, list, choose p0",
            "P0 claim (ok)",
            "P0/p0 read checkpoint, open receiver (ok)",
            "P0/p0 receives 2 event(s)",
            "P0/p0 starts next invocation",
        ]
    );
}

#[test]
fn v5_checkpoint_on_cancel_skips_uninvoked_events_but_v6_does_not() {
    let bounds = [
        ("instances", 1),
        ("partitions", 1),
        ("events", 2),
        ("crashes", 0),
        ("stops", 1),
    ];
    let out = check(&spec("v5", &bounds), MAX_STATES);
    assert_eq!(out.states, 51);
    let lengths: Vec<(String, usize)> = out
        .violations
        .iter()
        .map(|(k, v)| (k.clone(), v.len()))
        .collect();
    let expected = [
        ("s1-no-skip-without-invocation", 9),
        ("s2-in-order-within-pump", 6),
        ("s7-no-uninvoked-checkpoint", 9),
        ("s8-no-checkpoint-after-cancel", 8),
    ];
    assert_eq!(lengths, expected.map(|(k, n)| (k.to_string(), n)));
    // The skip: the stop cancels the start loop after e0, yet e1 is checkpointed.
    assert_eq!(
        out.violations["s1-no-skip-without-invocation"][4..],
        [
            "P0/p0 receives 2 event(s)",
            "P0 listener stop (tokens cancelled)",
            "P0/p0 starts next invocation",
            "P0/p0 e0 succeeds",
            "P0/p0 writes checkpoint (ok)",
        ]
    );
    let v6 = check(&spec("v6", &bounds), MAX_STATES);
    assert_holds(&v6);
    assert_eq!(v6.states, 41);
}

/// B.6.1 step 5: the loser's stop awaits a handler that retries for ever, so its
/// balancing loop blocks, the partition moves, and two pumps run it for ever.
fn stale_owner_retries_while_new_owner_idles(_: &EventHubsSpec, s: &EhState) -> bool {
    (0..s.partitions()).any(|p| {
        let stuck = s.instances.iter().any(|i| {
            i.lb == Lb::Stopping
                && i.owned[p].is_none()
                && i.pumps[p].as_ref().is_some_and(
                    |pump| matches!(&pump.phase, PumpPhase::Sequential(b) if b.attempt > 0),
                )
        });
        let idle_owner = s.instances.iter().any(|i| {
            i.owned[p].is_some()
                && i.pumps[p]
                    .as_ref()
                    .is_some_and(|pump| pump.phase == PumpPhase::Receiving)
        });
        stuck && idle_owner
    })
}

#[test]
fn infinite_retries_leave_permanent_dual_ownership_finite_retries_do_not() {
    let bounds = |retries| [("crashes", 0), ("events", 1), ("max_retries", retries)];
    let infinite = spec("v6", &bounds(-1));
    let out = check(&infinite, MAX_STATES);
    assert_eq!(out.states, 10_064);
    assert_eq!(out.failed(), vec!["l4-no-permanent-dual-ownership"]);
    let lasso = &out.lassos["l4-no-permanent-dual-ownership"];
    let loop_at = lasso.iter().position(|s| s == "--loop--").unwrap();
    assert_eq!(
        (loop_at, &lasso[loop_at + 1..]),
        (21, &["P0/p0 e0 fails".to_string()][..])
    );
    // The hazard itself (not only an unfair schedule): a cycle through a state where
    // the stale owner's loop is blocked in the stop and the new owner sits idle.
    let hazard = || {
        vec![Property::eventually_always("hazard-ends", |spec, s| {
            !stale_owner_retries_while_new_owner_idles(spec, s)
        })]
    };
    let with_hazard = check_properties(&infinite, hazard(), MAX_STATES, |_| 0);
    assert_eq!(with_hazard.liveness, vec!["hazard-ends"]);

    let finite = spec("v6", &bounds(1));
    let out = check(&finite, MAX_STATES);
    assert_holds(&out);
    assert_eq!(out.states, 2_984);
    assert!(check_properties(&finite, hazard(), MAX_STATES, |_| 0)
        .liveness
        .is_empty());
}

#[test]
fn crash_between_completion_and_checkpoint_redelivers_exactly_the_uncheckpointed_events() {
    let spec = spec("v6", &[("partitions", 1), ("events", 3)]);
    let before_crash = walk(
        &spec,
        &[
            "P0 starts",
            "P0 cycle: renew, list, choose p0",
            "P0 claim (ok)",
            "P0/p0 read checkpoint, open receiver (ok)",
            "P0/p0 receives 1 event(s)",
            "P0/p0 e0 succeeds",
            "P0/p0 writes checkpoint (ok)",
            "P0/p0 receives 2 event(s)",
            "P0/p0 e1 succeeds",
            "P0/p0 e2 succeeds",
        ],
    );
    assert_eq!(
        before_crash.checkpoint_next(0),
        1,
        "e1 and e2 completed, only e0 is checkpointed"
    );
    let labels = [
        "P0 crashes",
        "P1 starts",
        "ownership of p0 expires",
        "P1 cycle: renew, list, choose p0",
        "P1 claim (ok)",
        "P1/p0 read checkpoint, open receiver (ok)",
        "P1/p0 receives 2 event(s)",
        "P1/p0 e1 succeeds",
        "P1/p0 e2 succeeds",
        "P1/p0 writes checkpoint (ok)",
    ];
    let after = labels
        .iter()
        .fold(before_crash, |s, label| step(&spec, &s, label));
    let deliveries: Vec<u8> = after.partition_tallies(0).map(|t| t.deliveries).collect();
    assert_eq!(
        deliveries,
        [1, 2, 2],
        "e0 once; e1, e2 (completed, not checkpointed) twice"
    );
    assert_eq!(after.checkpoint_next(0), 3);
    // Exhaustively: with one partition (no steals) and no other fault, a crash
    // redelivers any event at most once.
    let out = check_with_metric(&spec, MAX_STATES, max_deliveries);
    assert_holds(&out);
    assert_eq!(out.max_metric, 2);
}

#[test]
fn planted_ownership_write_without_etag_is_found() {
    let bounds = [("partitions", 1), ("events", 0), ("crashes", 0)];
    let planted = spec("v6", &bounds).with_planted_bug(PlantedBug::ClaimsIgnoreEtag);
    let out = check(&planted, MAX_STATES);
    assert_eq!(out.violations["s6-ownership-cas"].len(), 6);
    // The real store: the same race (both list the partition unclaimed, both claim)
    // is reachable, and the second claim loses its condition.
    let real = spec("v6", &bounds);
    let race = || {
        vec![Property::sometimes(
            "claim-race",
            |_: &EventHubsSpec, s: &EhState| {
                s.instances
                    .iter()
                    .filter(|i| matches!(i.lb, Lb::Claiming { .. }))
                    .count()
                    == 2
            },
        )]
    };
    assert!(check_properties(&real, race(), MAX_STATES, |_| 0)
        .unreached
        .is_empty());
    assert_holds(&check(&real, MAX_STATES));
}

#[test]
fn planted_checkpoint_before_invocation_is_found() {
    let bounds = [
        ("instances", 1),
        ("partitions", 1),
        ("events", 1),
        ("crashes", 0),
    ];
    let out = check(
        &spec("v6", &bounds).with_planted_bug(PlantedBug::CheckpointOnReceive),
        MAX_STATES,
    );
    assert_eq!(out.failed(), vec!["s7-no-uninvoked-checkpoint"]);
    assert_eq!(out.violations["s7-no-uninvoked-checkpoint"].len(), 5);
}

#[test]
fn properties_follow_the_bounds() {
    let names = property_names(&spec("v6", &[("max_retries", -1)]));
    assert!(!names.contains(&"s5-bounded-duplicates") && !names.contains(&"l1-progress"));
    assert!(names.contains(&"l4-no-permanent-dual-ownership"));
    let single = property_names(&spec("v6", &[("instances", 1), ("crashes", 0)]));
    assert!(
        !single.iter().any(|n| n.starts_with("sometimes-")),
        "{single:?}"
    );
}

#[test]
fn bad_input_is_an_error_value() {
    assert!(EventHubsSpec::new("v4", &Bounds::new())
        .unwrap_err()
        .contains("unknown eventhubs variant"));
    let mut bounds = Bounds::new();
    bounds.insert("partitions".into(), 0);
    assert!(EventHubsSpec::new("v6", &bounds)
        .unwrap_err()
        .contains("`partitions` = 0"));
}

#[test]
fn exploration_is_deterministic() {
    let spec = spec(
        "v5",
        &[
            ("partitions", 1),
            ("events", 2),
            ("crashes", 0),
            ("stops", 1),
        ],
    );
    let (a, b) = (check(&spec, MAX_STATES), check(&spec, MAX_STATES));
    assert_eq!((a.states, &a.violations), (b.states, &b.violations));
}

/// The local test checker and lockstep's own checker must agree: same state
/// count, same violated properties, same shortest counterexample lengths.
#[test]
fn lockstep_checker_agrees_with_the_local_checker() {
    use lockstep::explore::{protocol, CheckOptions};
    use lockstep::report::Verdict;
    type Case<'a> = (&'a str, &'a [(&'a str, i64)], PlantedBug);
    let cases: [Case; 5] = [
        (
            "v5",
            &[
                ("instances", 1),
                ("partitions", 1),
                ("events", 2),
                ("crashes", 0),
                ("stops", 1),
            ],
            PlantedBug::None,
        ),
        ("v6", &[("partitions", 1), ("events", 3)], PlantedBug::None),
        (
            "v6",
            &[("crashes", 0), ("events", 1), ("max_retries", -1)],
            PlantedBug::None,
        ),
        (
            "v6",
            &[("partitions", 1), ("events", 0), ("crashes", 0)],
            PlantedBug::ClaimsIgnoreEtag,
        ),
        (
            "v5",
            &[
                ("partitions", 1),
                ("events", 2),
                ("crashes", 0),
                ("stops", 1),
            ],
            PlantedBug::None,
        ),
    ];
    for (variant, bounds, bug) in cases {
        let model = spec(variant, bounds).with_planted_bug(bug);
        let local = check(&model, MAX_STATES);
        let (report, traces) = protocol::check_detailed(&model, &CheckOptions::default());
        let context = format!("{variant} {bounds:?} {bug:?}");
        assert_eq!(report.states as usize, local.states, "{context}");
        let violated: Vec<String> = report
            .properties
            .iter()
            .filter(|p| p.verdict == Verdict::Violated)
            .map(|p| p.name.clone())
            .collect();
        let mut expected = local.failed();
        expected.sort();
        let mut got = violated.clone();
        got.sort();
        assert_eq!(got, expected, "{context}");
        for (name, steps) in &local.violations {
            // The report's trace starts with the initial state.
            assert_eq!(traces[name].len(), steps.len() + 1, "{context}: {name}");
        }
        assert_eq!(
            report.verdict == Verdict::Holds,
            violated.is_empty(),
            "{context}"
        );
    }
}
