//! Parallel DFS: the same verdicts as one thread, and results (counterexample,
//! counts) that do not depend on the number of worker threads.

use super::keep_going_tests::{two_bugs, violation_then_deadlock};
use super::tests::{increment_twice, opts, TestModel};
use super::*;
use crate::explore::{PropertyKind, Strategy};
use crate::report::Verdict;
use crate::rt;

fn with_threads(threads: usize, keep_going: bool) -> CheckOptions {
    CheckOptions {
        threads,
        keep_going,
        ..opts(Strategy::Dfs)
    }
}

fn verdicts(r: &crate::report::Report) -> Vec<(String, Verdict)> {
    r.properties
        .iter()
        .map(|p| (p.name.clone(), p.verdict))
        .collect()
}

/// Four tasks over two counters: enough interleavings to cut into subtrees.
fn wide() -> TestModel {
    TestModel::new("wide", || async {
        let total = increment_twice(true).await;
        let other = increment_twice(false).await;
        rt::always("guarded", total == 2, || format!("counter = {total}"));
        rt::always("unguarded", other == 2, || format!("counter = {other}"));
    })
    .property("guarded", PropertyKind::Always)
    .property("unguarded", PropertyKind::Always)
}

#[test]
fn parallel_verdicts_match_one_thread_and_do_not_depend_on_the_thread_count() {
    for model in [wide(), two_bugs(), violation_then_deadlock()] {
        for keep_going in [false, true] {
            let one = check(&model, &with_threads(1, keep_going));
            let two = check(&model, &with_threads(2, keep_going));
            let three = check(&model, &with_threads(3, keep_going));
            assert_eq!(verdicts(&one), verdicts(&two), "{keep_going}");
            assert_eq!(one.verdict, two.verdict);
            assert_eq!(one.property, two.property);
            assert!(two.notes.iter().any(|n| n.starts_with("parallel:")));
            assert_eq!(two.schedule, three.schedule);
            assert_eq!(two.trace, three.trace);
            assert_eq!(
                two.schedules,
                three.schedules,
                "{} {keep_going}",
                model.name()
            );
            assert_eq!(two.states, three.states);
            assert_eq!(two.also_violated, three.also_violated);
            assert_eq!(verdicts(&two), verdicts(&three));
        }
    }
}

#[test]
fn a_parallel_counterexample_replays() {
    let model = violation_then_deadlock();
    let report = check(&model, &with_threads(2, true));
    assert_eq!(
        report
            .properties
            .iter()
            .find(|p| p.name == "deadlock")
            .map(|p| p.verdict),
        Some(Verdict::Violated)
    );
    for also in &report.also_violated {
        let schedule: Schedule = also.schedule.parse().expect("a schedule string");
        let rerun = replay::run_schedule(&model, &schedule, rt::TraceLevel::Off).expect("replays");
        assert!(rerun.failed(), "{}", also.property);
    }
    let main: Schedule = report.schedule.clone().unwrap().parse().unwrap();
    assert!(replay::run_schedule(&model, &main, rt::TraceLevel::Off)
        .unwrap()
        .failed());
}

#[test]
fn the_tree_is_really_cut_into_subtrees() {
    let r = check(&wide(), &with_threads(2, true));
    let note = r
        .notes
        .iter()
        .find(|n| n.starts_with("parallel:"))
        .expect("a parallel note");
    let count: usize = note["parallel: ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a subtree count");
    assert!(count >= 2, "{note}");
}
