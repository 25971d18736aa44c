//! Tests of the `migration` protocol model. Every verdict is found by lockstep's
//! BFS checker (shortest counterexamples), never written down: the shared group's
//! loss and the planted `Latest` start must be found, the separate groups must
//! hold with every `sometimes` witness reached. State counts and counterexample
//! lengths are pinned so a change in the model's semantics shows up here.

use lockstep::explore::{protocol, walk, CheckOptions, Model};
use lockstep::report::{Bounds, Report, Verdict};

use super::state::{App, MigState, Phase};
use super::{MigrationSpec, PlantedBug};

fn spec(variant: &str, overrides: &[(&str, i64)]) -> MigrationSpec {
    let mut bounds: Bounds = MigrationSpec::default_bounds();
    for (k, v) in overrides {
        bounds.insert(k.to_string(), *v);
    }
    MigrationSpec::new(variant, &bounds).unwrap()
}

fn bfs(model: &MigrationSpec) -> Report {
    protocol::check(model, &CheckOptions::default())
}

fn verdict_of(report: &Report, name: &str) -> Verdict {
    report
        .properties
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} not checked: {:?}", report.properties))
        .verdict
}

fn property_names(model: &MigrationSpec) -> Vec<&'static str> {
    model.properties().iter().map(|p| p.name).collect()
}

/// The state a report's counterexample leads to.
fn end_state(model: &MigrationSpec, report: &Report) -> MigState {
    let schedule = walk::schedule_of_trace(model, &report.trace).expect("a counterexample");
    walk::final_state(model, &schedule).expect("the schedule replays")
}

/// Counterexample steps (the trace starts with the initial state).
fn steps(report: &Report) -> usize {
    report.trace.len() - 1
}

fn assert_holds(report: &Report) {
    assert_eq!(
        report.verdict,
        Verdict::Holds,
        "{:?} {:?} {:?}",
        report.property,
        report.properties,
        report.notes
    );
}

#[test]
fn separate_groups_hold_at_default_bounds_with_every_witness_reached() {
    let model = spec("separate-groups", &[]);
    let report = bfs(&model);
    assert_holds(&report);
    assert_eq!(report.states, 5_472);
    for witness in [
        "sometimes-both-apps-running",
        "sometimes-old-app-stopped",
        "sometimes-new-app-owns-all-partitions",
    ] {
        assert_eq!(verdict_of(&report, witness), Verdict::Holds, "{witness}");
    }
    // Liveness on every maximal path, judged by the checker's liveness pass.
    assert_eq!(verdict_of(&report, "new-app-drains"), Verdict::Holds);
    // One instance per app in its own group: nobody can displace anybody.
    assert!(!property_names(&model).contains(&"sometimes-receiver-displaced"));
}

#[test]
fn shared_group_loses_events_for_the_new_app_shortest_counterexample() {
    let model = spec("shared-group", &[]);
    let report = bfs(&model);
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(
        report.property.as_deref(),
        Some("new-app-invokes-every-event")
    );
    assert_eq!(report.states, 13_541);
    assert_eq!(steps(&report), 18);
    // The end state: the old app is gone, the new app drained, one event missed.
    let end = end_state(&model, &report);
    assert!(!end.app_invoked_all(App::New));
    assert!(model.at_rest(&end));
    let mut enabled = Vec::new();
    model.actions(&end, &mut enabled);
    assert!(enabled.is_empty(), "quiescent: {enabled:?}");
    for name in ["new-app-no-skip", "old-app-no-skip", "new-app-drains"] {
        assert_eq!(verdict_of(&report, name), Verdict::Violated, "{name}");
    }
    for name in [
        "s1-no-skip-per-group",
        "s2-in-order-within-pump",
        "s6-ownership-cas",
        "sometimes-receiver-displaced",
        "sometimes-both-apps-running",
    ] {
        assert_eq!(verdict_of(&report, name), Verdict::Holds, "{name}");
    }
}

#[test]
fn shared_group_pointer_passes_an_event_the_new_app_never_saw() {
    let model = spec("shared-group", &[]);
    let report =
        protocol::check_property(&model, &CheckOptions::default(), "new-app-no-skip").unwrap();
    assert_eq!(report.verdict, Verdict::Violated);
    // The old app invokes and checkpoints an event, the new app is deployed: its
    // group's pointer is already past an event it never saw.
    assert_eq!(steps(&report), 7);
    let end = end_state(&model, &report);
    assert_ne!(end.phase, Phase::OldOnly);
    assert_eq!(end.invoked[App::New.index()], 0, "{}", end.summary());
    assert_ne!(end.invoked[App::Old.index()], 0, "{}", end.summary());
}

#[test]
fn planted_latest_start_loses_the_backlog_and_is_found() {
    let model = spec("separate-groups", &[]).with_planted_bug(PlantedBug::NewAppStartsAtLatest);
    let report = bfs(&model);
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(
        report.property.as_deref(),
        Some("new-app-invokes-every-event")
    );
    assert_eq!(steps(&report), 9);
    // The pointer never passes anything the new app did not invoke: only the
    // end-to-end check sees this loss.
    assert_eq!(verdict_of(&report, "new-app-no-skip"), Verdict::Holds);
    let end = end_state(&model, &report);
    assert_eq!(end.invoked[App::New.index()], 0, "{}", end.summary());
}

#[test]
fn a_crash_in_either_app_keeps_separate_groups_safe() {
    let model = spec("separate-groups", &[("crashes", 1)]);
    let report = bfs(&model);
    assert_holds(&report);
    assert_eq!(report.states, 15_762);
    let shared = bfs(&spec("shared-group", &[("crashes", 1)]));
    assert_eq!(
        shared.property.as_deref(),
        Some("new-app-invokes-every-event")
    );
    assert_eq!(shared.states, 35_403);
}

#[test]
fn two_instances_per_app_and_larger_batches() {
    let separate = bfs(&spec(
        "separate-groups",
        &[("instances_per_app", 2), ("partitions", 1), ("events", 1)],
    ));
    assert_holds(&separate);
    assert_eq!(separate.states, 1_512);
    let shared = bfs(&spec(
        "shared-group",
        &[("instances_per_app", 2), ("partitions", 1), ("events", 1)],
    ));
    assert_eq!(shared.verdict, Verdict::Violated);
    assert_eq!(shared.states, 650);
    let batches = bfs(&spec(
        "separate-groups",
        &[("batch_size", 2), ("events", 3)],
    ));
    assert_holds(&batches);
    assert_eq!(batches.states, 20_790);
}

/// Scripted: in the shared group the new app steals a partition from the old
/// app; its receiver (owner level 0) displaces the old app's, whose next
/// receive fails. With separate groups the same steps displace nobody.
#[test]
fn the_new_app_displaces_the_old_apps_receiver_in_a_shared_group() {
    let script = [
        "old0 balancing cycle: lists, will claim p0",
        "old0 claims",
        "old0/p0 reads checkpoint, opens receiver",
        "old0 balancing cycle: lists, will claim p1",
        "old0 claims",
        "old0/p1 reads checkpoint, opens receiver",
        "operator deploys the new app",
        "new0 balancing cycle: lists, will claim p0",
        "new0 claims",
        "new0/p0 reads checkpoint, opens receiver",
    ];
    let model = spec("shared-group", &[]);
    let state = walk_labels(&model, &script);
    let after = step(
        &model,
        &state,
        "old0/p0 receive fails: consumer disconnected",
    );
    assert!(after.ghost.has(super::state::Ghost::DISPLACED));
    // Separate groups: the new app claims from its own, empty, record set.
    let model = spec("separate-groups", &[]);
    let state = walk_labels(&model, &script);
    let mut actions = Vec::new();
    model.actions(&state, &mut actions);
    assert!(actions
        .iter()
        .all(|a| !model.format_action(a).contains("receive fails")));
}

/// Takes the enabled action shown as `label`, failing with the enabled ones if absent.
fn step(model: &MigrationSpec, s: &MigState, label: &str) -> MigState {
    let mut actions = Vec::new();
    model.actions(s, &mut actions);
    let Some(action) = actions.iter().find(|a| model.format_action(a) == label) else {
        let enabled: Vec<String> = actions.iter().map(|a| model.format_action(a)).collect();
        panic!(
            "`{label}` is not enabled; enabled: {enabled:#?}\n{}",
            s.summary()
        );
    };
    model.next_state(s, action).unwrap()
}

fn walk_labels(model: &MigrationSpec, labels: &[&str]) -> MigState {
    labels
        .iter()
        .fold(model.init_states().remove(0), |s, label| {
            step(model, &s, label)
        })
}

#[test]
fn witnesses_are_listed_only_where_the_bounds_allow_them() {
    let names = property_names(&spec("shared-group", &[]));
    assert!(names.contains(&"sometimes-receiver-displaced"));
    let one_partition = property_names(&spec("shared-group", &[("partitions", 1)]));
    assert!(!one_partition.contains(&"sometimes-receiver-displaced"));
    assert!(!one_partition.contains(&"sometimes-both-apps-running"));
    let two_each = property_names(&spec("separate-groups", &[("instances_per_app", 2)]));
    assert!(two_each.contains(&"sometimes-receiver-displaced"));
}

#[test]
fn bad_input_is_an_error_value() {
    assert!(MigrationSpec::new("same-group", &Bounds::new())
        .unwrap_err()
        .contains("unknown migration variant"));
    let mut bounds = Bounds::new();
    bounds.insert("events".into(), 9);
    assert!(MigrationSpec::new("shared-group", &bounds)
        .unwrap_err()
        .contains("`events` = 9 is out of range"));
}

#[test]
fn exploration_is_deterministic() {
    let model = spec("shared-group", &[]);
    let (a, b) = (bfs(&model), bfs(&model));
    assert_eq!(
        (a.states, &a.schedule, &a.trace),
        (b.states, &b.schedule, &b.trace)
    );
}

/// Two instances per app, two partitions: the old app's second instance steals
/// from the first and displaces its receiver within the old app's own group,
/// and the separate groups still hold (88,784 states, the largest check here:
/// about 6 s in the test profile).
#[test]
fn separate_groups_with_two_instances_per_app_displace_within_an_app() {
    let report = bfs(&spec(
        "separate-groups",
        &[("instances_per_app", 2), ("events", 0)],
    ));
    assert_holds(&report);
    assert_eq!(report.states, 88_784);
    assert_eq!(
        verdict_of(&report, "sometimes-receiver-displaced"),
        Verdict::Holds
    );
}
