//! `keep_going`: exploration goes on after a failing run, every property gets
//! its own verdict, and each further violated property its own replayable
//! counterexample; without it, what the first failure does not refute is
//! inconclusive.

use super::tests::{increment_twice, opts, spawn_opposite_order, TestModel};
use super::*;
use crate::explore::{PropertyKind, Strategy};
use crate::report::{Report, Verdict};
use crate::rt;

/// Two independent bugs (a lost update, and a bad branch of a choice) next to
/// a property that holds (`counter-bounded`).
pub(super) fn two_bugs() -> TestModel {
    TestModel::new("two-bugs", || async {
        let total = increment_twice(false).await;
        rt::always("no-lost-update", total == 2, || {
            format!("counter = {total}")
        });
        rt::always("counter-bounded", total <= 2, || {
            format!("counter = {total}")
        });
        let flip = rt::choose("flip", 2);
        rt::always("never-flipped", flip == 0, || "flipped".to_string());
        rt::sometimes("both-incremented", total == 2);
    })
    .property("no-lost-update", PropertyKind::Always)
    .property("counter-bounded", PropertyKind::Always)
    .property("never-flipped", PropertyKind::Always)
    .property("both-incremented", PropertyKind::Sometimes)
}

fn verdict(report: &Report, name: &str) -> Verdict {
    report
        .properties
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no property {name}"))
        .verdict
}

#[test]
fn stopping_at_the_first_failure_leaves_unrefuted_properties_inconclusive() {
    let report = check(&two_bugs(), &opts(Strategy::Dfs));
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(verdict(&report, "counter-bounded"), Verdict::Inconclusive);
    assert_eq!(verdict(&report, "deadlock"), Verdict::Inconclusive);
    assert_eq!(verdict(&report, "both-incremented"), Verdict::Holds);
    assert!(report.also_violated.is_empty());
    assert!(report.notes.iter().any(|n| n.contains("--keep-going")));
}

#[test]
fn keep_going_judges_every_property_and_replays_each_violation() {
    let model = two_bugs();
    let o = CheckOptions {
        keep_going: true,
        ..opts(Strategy::Dfs)
    };
    let report = check(&model, &o);
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(verdict(&report, "no-lost-update"), Verdict::Violated);
    assert_eq!(verdict(&report, "never-flipped"), Verdict::Violated);
    assert_eq!(verdict(&report, "counter-bounded"), Verdict::Holds);
    assert_eq!(verdict(&report, "deadlock"), Verdict::Holds);
    assert!(report.notes.iter().any(|n| n.starts_with("exhaustive:")));
    // The report's own counterexample is the first failure; every other
    // violated property comes with a schedule that reproduces it.
    let main = report.property.clone().expect("a violated property");
    assert_eq!(report.also_violated.len(), 1);
    let also = &report.also_violated[0];
    assert_ne!(also.property, main);
    assert!(also.replay.ends_with(&also.schedule));
    let schedule: Schedule = also.schedule.parse().expect("a schedule string");
    let rerun = replay::run_schedule(&model, &schedule, rt::TraceLevel::Off).expect("replays");
    assert!(
        rerun.violations.iter().any(|v| v.property == also.property),
        "{:?}",
        rerun.violations
    );
}

#[test]
fn keep_going_with_random_schedules_collects_every_violated_property() {
    let o = CheckOptions {
        keep_going: true,
        budget_schedules: 200,
        ..opts(Strategy::Random)
    };
    let report = check(&two_bugs(), &o);
    assert_eq!(verdict(&report, "no-lost-update"), Verdict::Violated);
    assert_eq!(verdict(&report, "never-flipped"), Verdict::Violated);
    assert_eq!(verdict(&report, "counter-bounded"), Verdict::Holds);
    assert_eq!(report.schedules, 200);
}

#[test]
fn keep_going_on_a_correct_model_is_an_ordinary_proof() {
    let model = TestModel::new("fine", || async {
        let flip = rt::choose("flip", 2);
        rt::always("small", flip < 2, String::new);
    })
    .property("small", PropertyKind::Always);
    let plain = check(&model, &opts(Strategy::Dfs));
    let kept = check(
        &model,
        &CheckOptions {
            keep_going: true,
            ..opts(Strategy::Dfs)
        },
    );
    assert_eq!(plain.verdict, Verdict::Holds);
    assert_eq!(kept.verdict, Verdict::Holds);
    assert_eq!(plain.schedules, kept.schedules);
    assert_eq!(plain.properties, kept.properties);
}

/// Property `early` fails in the first step of every run; only after that,
/// and only in other branches than the first path, a `choose` breaks
/// `late-flip` and two tasks taking two semaphores in opposite order deadlock.
pub(super) fn violation_then_deadlock() -> TestModel {
    TestModel::new("violation-then-deadlock", || async {
        rt::always("early", false, || "always broken".to_string());
        let flip = rt::choose("late", 2);
        rt::always("late-flip", flip == 0, || {
            "flipped after the failure".to_string()
        });
        spawn_opposite_order();
    })
    .property("early", PropertyKind::Always)
    .property("late-flip", PropertyKind::Always)
    .property("never-violated", PropertyKind::Always)
}

#[test]
fn keep_going_explores_every_branch_after_a_violation() {
    let model = violation_then_deadlock();
    let o = CheckOptions {
        keep_going: true,
        ..opts(Strategy::Dfs)
    };
    let report = check(&model, &o);
    assert_eq!(report.property.as_deref(), Some("early"));
    assert_eq!(verdict(&report, "early"), Verdict::Violated);
    assert_eq!(verdict(&report, "late-flip"), Verdict::Violated);
    assert_eq!(verdict(&report, "deadlock"), Verdict::Violated);
    assert_eq!(verdict(&report, "never-violated"), Verdict::Holds);
    // Each further violation replays from its own complete schedule.
    for (property, status) in [("late-flip", "violation"), ("deadlock", "deadlock")] {
        let also = report
            .also_violated
            .iter()
            .find(|a| a.property == property)
            .unwrap_or_else(|| panic!("{property} is not in also_violated"));
        let schedule: Schedule = also.schedule.parse().expect("a schedule string");
        let rerun = replay::run_schedule(&model, &schedule, rt::TraceLevel::Off).expect("replays");
        assert_eq!(
            rerun.status.as_str(),
            status,
            "{property}: {:?}",
            rerun.status
        );
        assert!(rerun.violations.iter().any(|v| v.property == "early"));
        if property == "late-flip" {
            assert!(rerun.violations.iter().any(|v| v.property == "late-flip"));
        }
    }
}

#[test]
fn without_keep_going_the_first_failing_run_still_ends_the_check() {
    let report = check(&violation_then_deadlock(), &opts(Strategy::Dfs));
    assert_eq!(report.property.as_deref(), Some("early"));
    assert_eq!(report.schedules, 1);
    assert_eq!(verdict(&report, "deadlock"), Verdict::Inconclusive);
    assert_eq!(verdict(&report, "late-flip"), Verdict::Inconclusive);
}
