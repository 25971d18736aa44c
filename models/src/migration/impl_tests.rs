//! Tests of the implementation level: the async apps under lockstep's schedule
//! explorers (random and DFS). The shared group's loss and the planted `Latest`
//! start must be found and minimized; separate groups must hold with the
//! witnesses reached.

use lockstep::explore::minimize::schedules::shrink_report;
use lockstep::explore::schedules::{self, ImplModel, Schedule};
use lockstep::explore::{CheckOptions, Strategy};
use lockstep::report::{Bounds, Report, Verdict};

use super::impl_model::MigrationImpl;
use super::PlantedBug;

fn model(variant: &str, overrides: &[(&str, i64)]) -> MigrationImpl {
    let mut bounds = Bounds::new();
    for (k, v) in overrides {
        bounds.insert(k.to_string(), *v);
    }
    MigrationImpl::new(variant, &bounds).unwrap()
}

fn random(runs: u64, seed: u64) -> CheckOptions {
    CheckOptions {
        strategy: Strategy::Random,
        budget_schedules: runs,
        seed,
        ..CheckOptions::default()
    }
}

fn assert_holds(report: &Report) {
    assert_eq!(
        report.verdict,
        Verdict::Holds,
        "{:?} {:?}",
        report.property,
        report.notes
    );
}

fn verdict_of(report: &Report, name: &str) -> Verdict {
    report
        .properties
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} not checked: {:?}", report.properties))
        .verdict
}

#[test]
fn separate_groups_hold_under_random_schedules() {
    let report = schedules::check(&model("separate-groups", &[]), &random(200, 7));
    assert_holds(&report);
    assert_eq!(report.schedules, 200);
    for witness in [
        "sometimes-both-apps-running",
        "sometimes-old-app-stopped",
        "sometimes-new-app-owns-all-partitions",
    ] {
        assert_eq!(verdict_of(&report, witness), Verdict::Holds, "{witness}");
    }
}

#[test]
fn separate_groups_hold_with_two_instances_per_app_and_a_crash() {
    let bounds = [("instances_per_app", 2), ("crashes", 1)];
    let report = schedules::check(&model("separate-groups", &bounds), &random(200, 11));
    assert_holds(&report);
    assert_eq!(
        verdict_of(&report, "sometimes-receiver-displaced"),
        Verdict::Holds
    );
}

#[test]
fn shared_group_loss_is_found_minimized_and_replayed() {
    let m = model("shared-group", &[]);
    let mut report = schedules::check(&m, &random(200, 7));
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(
        report.property.as_deref(),
        Some("new-app-invokes-every-event")
    );
    shrink_report(&m, &mut report);
    // The default schedule already shows it: no preemption, no fault choice needed.
    assert_eq!(report.minimized_from, Some(417));
    let schedule: Schedule = report.schedule.clone().unwrap().parse().unwrap();
    assert_eq!(schedule.len(), 132);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("preemptions 11 -> 0, faults 3 -> 0")),
        "{:?}",
        report.notes
    );
    let again = schedules::replay(&m, &schedule).unwrap();
    assert_eq!(again.trace, report.trace);
    assert_eq!(
        again.property.as_deref(),
        Some("new-app-invokes-every-event")
    );
}

#[test]
fn planted_latest_start_is_found_at_the_implementation_level() {
    let m = model("separate-groups", &[]).with_planted_bug(PlantedBug::NewAppStartsAtLatest);
    let report = schedules::check(&m, &random(50, 3));
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(
        report.property.as_deref(),
        Some("new-app-invokes-every-event")
    );
}

#[test]
fn dfs_finds_the_shared_group_loss_and_proves_separate_groups_at_small_bounds() {
    let bounds = [("partitions", 1), ("events", 1)];
    let opts = CheckOptions {
        strategy: Strategy::Dfs,
        budget_schedules: 2_000,
        ..CheckOptions::default()
    };
    let report = schedules::check(&model("shared-group", &bounds), &opts);
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(report.schedules, 1);
    // Exhaustive DFS (sleep sets, state caching) covers every schedule of the
    // separate groups at these bounds: a proof within them, not a sample.
    let separate = schedules::check(&model("separate-groups", &bounds), &opts);
    assert_holds(&separate);
    assert_eq!((separate.schedules, separate.states), (54, 4_194));
}

#[test]
fn impl_properties_mirror_the_protocol_names() {
    let names: Vec<String> = model("shared-group", &[])
        .properties()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for name in [
        "new-app-invokes-every-event",
        "new-app-no-skip",
        "old-app-no-skip",
        "s1-no-skip-per-group",
        "sometimes-receiver-displaced",
    ] {
        assert!(names.iter().any(|n| n == name), "{name}");
    }
    assert!(
        MigrationImpl::new("separate-groups", &[("crashes".to_string(), 3)].into())
            .unwrap_err()
            .contains("out of range")
    );
}
