//! Must-find and must-pass tests of the schedule explorers.

use std::future::Future;
use std::pin::Pin;

use super::*;
use crate::explore::{CheckOptions, PropertyKind, Strategy};
use crate::report::{Report, Verdict};
use crate::rt::{self, RunConfig};

type MainFn = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Sync>;

/// A test model from a closure building the main future.
pub(super) struct TestModel {
    name: &'static str,
    properties: Vec<(String, PropertyKind)>,
    config: RunConfig,
    main: MainFn,
}

impl TestModel {
    pub(super) fn new<F, Fut>(name: &'static str, main: F) -> Self
    where
        F: Fn() -> Fut + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        TestModel {
            name,
            properties: Vec::new(),
            config: RunConfig::default(),
            main: Box::new(move || Box::pin(main())),
        }
    }
    pub(super) fn property(mut self, name: &str, kind: PropertyKind) -> Self {
        self.properties.push((name.to_string(), kind));
        self
    }
    fn max_steps(mut self, n: u64) -> Self {
        self.config.max_steps = n;
        self
    }
}

impl ImplModel for TestModel {
    fn name(&self) -> String {
        self.name.to_string()
    }
    fn variant(&self) -> String {
        "test".to_string()
    }
    fn bounds(&self) -> crate::report::Bounds {
        [("n".to_string(), 2)].into_iter().collect()
    }
    fn main(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        (self.main)()
    }
    fn properties(&self) -> Vec<(String, PropertyKind)> {
        self.properties.clone()
    }
    fn run_config(&self) -> RunConfig {
        self.config.clone()
    }
}

pub(super) fn opts(strategy: Strategy) -> CheckOptions {
    CheckOptions {
        strategy,
        seed: 7,
        budget_schedules: 2_000,
        ..CheckOptions::default()
    }
}

fn jsonl(report: &Report) -> Vec<String> {
    report
        .trace
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect()
}

fn opposite_order() -> TestModel {
    TestModel::new("opposite-order", || async { spawn_opposite_order() })
}

/// Spawns tasks `a` and `b`, which take semaphores `s1` and `s2` in
/// opposite orders: the textbook deadlock.
pub(super) fn spawn_opposite_order() {
    let s1 = rt::Semaphore::new("s1", 1);
    let s2 = rt::Semaphore::new("s2", 1);
    let (a1, a2) = (s1.clone(), s2.clone());
    rt::spawn("a", async move {
        let _p = a1.acquire().await;
        let _q = a2.acquire().await;
    });
    rt::spawn("b", async move {
        let _p = s2.acquire().await;
        let _q = s1.acquire().await;
    });
}

#[test]
fn textbook_deadlock_is_found_by_dfs_and_its_schedule_replays_byte_for_byte() {
    let model = opposite_order();
    let report = check(&model, &opts(Strategy::Dfs));
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    assert_eq!(report.level, "impl");
    let cycle: Vec<(String, String, Option<String>)> = report
        .wait_for
        .iter()
        .map(|e| (e.task.clone(), e.resource.clone(), e.holder.clone()))
        .collect();
    assert_eq!(
        cycle,
        vec![
            ("a#1".into(), "s2".into(), Some("b#1".into())),
            ("b#1".into(), "s1".into(), Some("a#1".into())),
        ]
    );
    let text = report.schedule.clone().expect("a schedule");
    assert_eq!(
        report.replay,
        format!("lockstep replay opposite-order --variant test --bound n=2 --schedule {text}")
    );
    let schedule: Schedule = text.parse().unwrap();
    let again = replay(&model, &schedule).expect("the schedule fits");
    assert_eq!(again.verdict, Verdict::Violated);
    assert_eq!(jsonl(&again), jsonl(&report));
    assert!(report.trace.iter().any(|e| e.kind == "acquire-wait"));

    for strategy in [Strategy::Random, Strategy::Pct] {
        let r = check(&model, &opts(strategy.clone()));
        assert_eq!(r.verdict, Verdict::Violated, "{strategy:?}");
        assert_eq!(r.wait_for.len(), 2);
    }
}

/// Two tasks increment a counter with a read, a yield, then a write.
/// Two tasks each read a shared counter, yield, and write it back plus one
/// (under a mutex when `guarded`); returns the final count.
pub(super) async fn increment_twice(guarded: bool) -> u32 {
    let counter = rt::Shared::new("counter", 0u32);
    let lock = rt::Mutex::new("counter-lock", ());
    let mut handles = Vec::new();
    for name in ["inc", "inc"] {
        let (counter, lock) = (counter.clone(), lock.clone());
        handles.push(rt::spawn(name, async move {
            let _guard = if guarded {
                Some(lock.lock().await)
            } else {
                None
            };
            let v = counter.get();
            rt::yield_now().await;
            counter.set(v + 1);
        }));
    }
    for h in handles {
        h.await;
    }
    counter.get()
}

fn lost_update(guarded: bool) -> TestModel {
    TestModel::new(
        if guarded {
            "counter-guarded"
        } else {
            "counter"
        },
        move || async move {
            let total = increment_twice(guarded).await;
            rt::always("no-lost-update", total == 2, || {
                format!("counter = {total}")
            });
            rt::sometimes("both-incremented", total == 2);
        },
    )
    .property("no-lost-update", PropertyKind::Always)
    .property("both-incremented", PropertyKind::Sometimes)
}

#[test]
fn lost_update_is_found_by_dfs_random_and_pct() {
    let model = lost_update(false);
    for strategy in [Strategy::Dfs, Strategy::Random, Strategy::Pct] {
        let r = check(&model, &opts(strategy.clone()));
        assert_eq!(r.verdict, Verdict::Violated, "{strategy:?}");
        assert_eq!(
            r.property.as_deref(),
            Some("no-lost-update"),
            "{strategy:?}"
        );
        assert!(
            r.notes.iter().any(|n| n.contains("counter = 1")),
            "{:?}",
            r.notes
        );
        let schedule: Schedule = r.schedule.clone().unwrap().parse().unwrap();
        assert_eq!(jsonl(&replay(&model, &schedule).unwrap()), jsonl(&r));
    }
}

#[test]
fn lost_update_is_proven_absent_under_the_mutex() {
    let r = check(&lost_update(true), &opts(Strategy::Dfs));
    assert_eq!(r.verdict, Verdict::Holds, "{:?}", r.notes);
    assert!(r.trace.is_empty());
    assert!(r.notes.iter().any(|n| n.starts_with("exhaustive")));
    assert!(r.states > 0);
    let props: Vec<(&str, Verdict)> = r
        .properties
        .iter()
        .map(|p| (p.name.as_str(), p.verdict))
        .collect();
    assert_eq!(
        props,
        vec![
            ("no-lost-update", Verdict::Holds),
            ("both-incremented", Verdict::Holds),
            ("deadlock", Verdict::Holds)
        ]
    );
    // Same verdict without reduction, with more schedules.
    let plain = check(
        &lost_update(true),
        &CheckOptions {
            no_reduction: true,
            ..opts(Strategy::Dfs)
        },
    );
    assert_eq!(plain.verdict, Verdict::Holds);
    assert!(
        plain.schedules > r.schedules,
        "{} vs {}",
        plain.schedules,
        r.schedules
    );
}

#[test]
fn a_preemption_bound_qualifies_the_result() {
    let model = lost_update(false);
    let bounded = |k| {
        check(
            &model,
            &CheckOptions {
                preemption_bound: Some(k),
                ..opts(Strategy::Dfs)
            },
        )
    };
    let r0 = bounded(0);
    assert_eq!(r0.verdict, Verdict::Holds);
    assert!(
        r0.notes.iter().any(|n| n.contains("at most 0 preemption")),
        "{:?}",
        r0.notes
    );
    assert_eq!(bounded(1).verdict, Verdict::Violated);
}

/// `tasks` tasks, each doing `ops` writes to its own cell; with `planted`,
/// task 0's last step also checks that the last task has not finished.
fn independent(tasks: usize, ops: u32, planted: bool) -> TestModel {
    TestModel::new("independent", move || async move {
        let cells: Vec<rt::Shared<u32>> = (0..tasks)
            .map(|i| rt::Shared::new(format!("cell{i}"), 0))
            .collect();
        for i in 0..tasks {
            let mine = cells[i].clone();
            let last = cells[tasks - 1].clone();
            rt::spawn("worker", async move {
                for step in 0..ops {
                    rt::yield_now().await;
                    mine.write(|v| *v += 1);
                    if planted && i == 0 && step == ops - 1 {
                        let seen = last.get();
                        rt::always("last-not-done-first", seen < ops, || format!("saw {seen}"));
                    }
                }
            });
        }
    })
}

#[test]
fn sleep_sets_and_caching_cut_independent_interleavings_but_keep_the_bug() {
    let reduced = check(&independent(3, 3, false), &opts(Strategy::Dfs));
    let plain = check(
        &independent(3, 3, false),
        &CheckOptions {
            no_reduction: true,
            budget_schedules: 1_000_000,
            ..opts(Strategy::Dfs)
        },
    );
    assert_eq!(reduced.verdict, Verdict::Holds);
    assert_eq!(plain.verdict, Verdict::Holds);
    // Every interleaving of independent steps is equivalent: one complete
    // schedule, plus 24 short executions that sleep sets cut off.
    assert_eq!((reduced.schedules, plain.schedules), (1, 34_650));
    assert!(
        reduced.notes[0].contains("(24 execution(s) pruned by sleep sets, 0 by the state cache)")
    );
    let found = check(&independent(3, 3, true), &opts(Strategy::Dfs));
    assert_eq!(found.verdict, Verdict::Violated);
    assert_eq!(found.property.as_deref(), Some("last-not-done-first"));
}

#[test]
fn every_choose_value_is_explored_and_replayed() {
    let model = TestModel::new("choices", || async {
        let a = rt::choose("storage-outcome", 3);
        rt::yield_now().await;
        let b = rt::choose_bool("worker-timeout");
        rt::always("not-both", !(a == 2 && b), || format!("a={a} b={b}"));
    });
    let r = check(&model, &opts(Strategy::Dfs));
    assert_eq!(r.verdict, Verdict::Violated);
    let text = r.schedule.clone().unwrap();
    assert!(text.contains("c2") && text.contains("c1"), "{text}");
    assert_eq!(
        jsonl(&replay(&model, &text.parse().unwrap()).unwrap()),
        jsonl(&r)
    );

    let fine = TestModel::new("choices-ok", || async {
        let a = rt::choose("a", 3);
        let b = rt::choose_bool("b");
        rt::sometimes("corner", a == 2 && b);
    })
    .property("corner", PropertyKind::Sometimes);
    let r = check(&fine, &opts(Strategy::Dfs));
    assert_eq!(r.verdict, Verdict::Holds);
    assert_eq!(r.schedules, 6);
}

#[test]
fn a_sometimes_never_reached_fails_the_check() {
    let model = TestModel::new("vacuous", || async {
        rt::sometimes("reached-running", false);
        rt::yield_now().await;
    })
    .property("reached-running", PropertyKind::Sometimes);
    let r = check(&model, &opts(Strategy::Dfs));
    assert_eq!(r.verdict, Verdict::Violated);
    assert_eq!(r.property.as_deref(), Some("reached-running"));
    let p = r
        .properties
        .iter()
        .find(|p| p.name == "reached-running")
        .unwrap();
    assert_eq!(p.verdict, Verdict::Violated);
}

/// Two tasks retry for ever, each bumping a shared counter.
fn endless_retries() -> TestModel {
    TestModel::new("retry-forever", || async {
        let attempts = rt::Shared::new("attempts", 0u64);
        for _ in 0..2 {
            let attempts = attempts.clone();
            rt::spawn("retry", async move {
                loop {
                    attempts.write(|a| *a += 1);
                    rt::yield_now().await;
                }
            });
        }
    })
}

#[test]
fn endless_retry_loops_stop_on_the_step_bound_or_the_budget() {
    let model = endless_retries().max_steps(40);
    let r = check(
        &model,
        &CheckOptions {
            budget_schedules: 300,
            ..opts(Strategy::Dfs)
        },
    );
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("schedule budget exhausted")),
        "{:?}",
        r.notes
    );
    let r = check(&model, &opts(Strategy::Random));
    assert_eq!(r.verdict, Verdict::Holds);
    assert!(
        r.notes.iter().any(|n| n.contains("step bound")),
        "{:?}",
        r.notes
    );
    let r = check(&endless_retries().max_steps(6), &opts(Strategy::Dfs));
    assert_eq!(r.verdict, Verdict::Holds);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("step bound (max_steps = 6)")),
        "{:?}",
        r.notes
    );
    let r = check(
        &model,
        &CheckOptions {
            budget_states: 50,
            ..opts(Strategy::Dfs)
        },
    );
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert!(
        r.notes.iter().any(|n| n.contains("state budget")),
        "{:?}",
        r.notes
    );
}

#[test]
fn a_schedule_that_does_not_fit_reports_where_it_diverges() {
    let model = opposite_order();
    let e = replay(&model, &"t0.t7".parse().unwrap()).unwrap_err();
    assert_eq!(e.index, 1);
    assert!(e.message.contains("t7 is not runnable"), "{}", e.message);
    let e = replay(&model, &"t0".parse().unwrap()).unwrap_err();
    assert!(e.message.contains("schedule ended"), "{}", e.message);
    let e = replay(&model, &"c0".parse().unwrap()).unwrap_err();
    assert_eq!(e.index, 0);
}

#[test]
fn a_random_or_pct_failure_replays_from_its_seed_alone() {
    let model = lost_update(false);
    for strategy in [Strategy::Random, Strategy::Pct] {
        let r = check(&model, &opts(strategy.clone()));
        assert_eq!(r.verdict, Verdict::Violated);
        let again = replay_seed(&model, &strategy, r.seed, 3).unwrap();
        assert_eq!(again.schedule, r.schedule);
        assert_eq!(jsonl(&again), jsonl(&r));
    }
    assert!(replay_seed(&model, &Strategy::Dfs, 1, 3).is_err());
}

#[test]
fn bfs_runs_dfs_and_says_so() {
    let r = check(&lost_update(true), &opts(Strategy::Bfs));
    assert_eq!(r.strategy, "dfs");
    assert!(r.notes.iter().any(|n| n.contains("bfs does not apply")));
}

#[test]
fn state_caching_merges_interleavings_that_reach_the_same_state() {
    // Writes of the same value conflict (no sleep-set reduction), but the
    // orders reach identical worlds, which the cache recognises.
    let model = TestModel::new("same-writes", || async {
        let flag = rt::Shared::new("flag", false);
        for _ in 0..3 {
            let flag = flag.clone();
            rt::spawn("setter", async move {
                flag.set(true);
                rt::yield_now().await;
                flag.set(true);
            });
        }
    });
    let reduced = check(&model, &opts(Strategy::Dfs));
    let plain = check(
        &model,
        &CheckOptions {
            no_reduction: true,
            ..opts(Strategy::Dfs)
        },
    );
    assert_eq!(reduced.verdict, Verdict::Holds);
    assert_eq!(plain.verdict, Verdict::Holds);
    assert_eq!(
        (reduced.schedules, reduced.states, plain.schedules),
        (3, 26, 90)
    );
    assert!(
        reduced.notes[0].contains("26 by the state cache"),
        "{:?}",
        reduced.notes
    );
}

/// The host's start/restart deadlock in miniature: a retry start that finds
/// the state `Error` restarts the host inline, on its own thread, while it
/// holds the start semaphore (buggy); the fix initialises instead.
fn inline_restart(buggy: bool) -> TestModel {
    TestModel::new("mini-host", move || async move {
        let sem = rt::Semaphore::new("host-start-semaphore", 1);
        let state = rt::Shared::new("state", "Default");
        fn start(
            sem: rt::Semaphore,
            state: rt::Shared<&'static str>,
            attempt: u32,
            buggy: bool,
        ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
            Box::pin(async move {
                let permit = sem.acquire().await;
                if buggy && state.get() == "Error" {
                    // The metadata provider calls RestartHostAsync and blocks on it.
                    let _restart = rt::block_on_thread("GetFunctionMetadata", sem.acquire()).await;
                }
                if attempt == 1 && rt::choose_bool("storage-outage") {
                    state.set("Error");
                    rt::sleep(std::time::Duration::from_secs(1)).await;
                    drop(rt::spawn(
                        "start",
                        start(sem.clone(), state.clone(), 2, buggy),
                    ));
                } else {
                    state.set("Running");
                }
                drop(permit);
            })
        }
        drop(rt::spawn(
            "start",
            start(sem.clone(), state.clone(), 1, buggy),
        ));
        rt::until_quiescent().await;
        let s = state.get();
        rt::always("eventually-running", s == "Running", || {
            format!("state = {s}")
        });
        rt::sometimes(
            "recovered-after-outage",
            s == "Running" && rt::now().as_secs() == 1,
        );
    })
    .property("eventually-running", PropertyKind::Always)
    .property("recovered-after-outage", PropertyKind::Sometimes)
}

#[test]
fn the_inline_restart_self_deadlock_is_found_and_the_fix_holds() {
    let r = check(&inline_restart(true), &opts(Strategy::Dfs));
    assert_eq!(r.verdict, Verdict::Violated);
    assert_eq!(r.property.as_deref(), Some("deadlock"));
    assert_eq!(r.wait_for.len(), 1);
    let edge = &r.wait_for[0];
    assert_eq!(edge.task, "start#2");
    assert_eq!(
        edge.resource,
        "host-start-semaphore [blocks its thread on GetFunctionMetadata]"
    );
    assert_eq!(edge.holder.as_deref(), Some("start#2"));
    // The run also shows the end-of-run invariant it breaks.
    assert!(r
        .notes
        .iter()
        .any(|n| n.contains("eventually-running") && n.contains("Error")));
    assert!(r.trace.iter().any(|e| e.kind == "block-thread"));
    assert!(r
        .trace
        .iter()
        .any(|e| e.kind == "choose" && e.fields["value"] == "1"));

    let fixed = check(&inline_restart(false), &opts(Strategy::Dfs));
    assert_eq!(fixed.verdict, Verdict::Holds, "{:?}", fixed.notes);
    assert!(fixed.schedules >= 2);
}
