//! The Expected verdicts of shared/spec/host-abstract.md, found by
//! exploration (nothing here is hard-coded into the model).

use lockstep::explore::protocol::{check, check_detailed};
use lockstep::explore::{CheckOptions, Model, Strategy};
use lockstep::report::{Bounds, Report, Verdict};

use super::HostAbstract;

fn bounds(r: i64, f: i64, a: i64) -> Bounds {
    Bounds::from([
        ("R".to_string(), r),
        ("F".to_string(), f),
        ("A".to_string(), a),
    ])
}

fn model(variant: &str, r: i64, f: i64, a: i64) -> HostAbstract {
    HostAbstract::new(variant, &bounds(r, f, a)).expect("valid bounds")
}

fn run(variant: &str, r: i64, f: i64, a: i64) -> Report {
    check(&model(variant, r, f, a), &CheckOptions::default())
}

fn verdict_of(report: &Report, name: &str) -> Verdict {
    let found = report.properties.iter().find(|p| p.name == name);
    found
        .map(|p| p.verdict)
        .unwrap_or_else(|| panic!("no {name} in {:?}", report.properties))
}

#[test]
fn buggy_without_storage_failures_holds_everything() {
    for r in 0..=2 {
        for a in 1..=2 {
            let report = run("buggy", r, 0, a);
            assert_eq!(
                report.verdict,
                Verdict::Holds,
                "R={r} A={a}: {:?}",
                report.properties
            );
            assert!(report
                .properties
                .iter()
                .all(|p| p.verdict == Verdict::Holds));
        }
    }
}

#[test]
fn buggy_with_a_storage_failure_deadlocks() {
    for (r, f, a) in [(0, 1, 2), (1, 1, 2), (2, 1, 2), (1, 2, 3), (2, 1, 1)] {
        let report = run("buggy", r, f, a);
        assert_eq!(
            report.property.as_deref(),
            Some("deadlock"),
            "R={r} F={f} A={a}"
        );
        assert_eq!(verdict_of(&report, "semaphore"), Verdict::Holds);
    }
}

#[test]
fn buggy_shortest_deadlock_is_pinned() {
    let (report, traces) = check_detailed(&model("buggy", 1, 1, 2), &CheckOptions::default());
    // Starter[0]: Wake, Acquire, BuildHost fails; Starter[1]: Wake, Acquire,
    // BuildHost ok, LoadMetadata (inline restart, waits on its own permit);
    // Requester[0]: Request. Eight steps after the initial state.
    assert_eq!(report.trace.len(), 1 + 8, "{:#?}", report.trace);
    let last = &report.trace.last().unwrap().fields["state"];
    assert!(
        last.contains("Starter[1]=InlWait") && last.contains("sem=0"),
        "{last}"
    );
    assert_eq!(traces["deadlock"], report.trace);
    assert!(
        traces.contains_key("quiescent-ok"),
        "quiescent-ok is violated there too"
    );
    let dfs = check(
        &model("buggy", 1, 1, 2),
        &CheckOptions {
            strategy: Strategy::Dfs,
            ..Default::default()
        },
    );
    assert_eq!(dfs.property.as_deref(), Some("deadlock"));
    assert!(dfs.trace.len() >= report.trace.len());
    let random = check(
        &model("buggy", 2, 1, 2),
        &CheckOptions {
            strategy: Strategy::Random,
            budget_schedules: 5_000,
            ..Default::default()
        },
    );
    assert_eq!(random.property.as_deref(), Some("deadlock"));
}

#[test]
fn fixed_never_deadlocks_and_keeps_the_semaphore() {
    for r in 0..=2 {
        for f in 0..=2 {
            for a in 1..=3 {
                let report = run("fixed", r, f, a);
                let ctx = format!("R={r} F={f} A={a}");
                assert_eq!(verdict_of(&report, "deadlock"), Verdict::Holds, "{ctx}");
                assert_eq!(verdict_of(&report, "semaphore"), Verdict::Holds, "{ctx}");
                assert_eq!(verdict_of(&report, "quiescent-ok"), Verdict::Holds, "{ctx}");
                let live = verdict_of(&report, "eventually-always-running");
                if a == f + 1 {
                    assert_eq!(
                        report.verdict,
                        Verdict::Holds,
                        "{ctx}: {:?}",
                        report.properties
                    );
                } else if a <= f {
                    assert_eq!(
                        live,
                        Verdict::Violated,
                        "{ctx}: the host may give up in Error"
                    );
                }
            }
        }
    }
}

#[test]
fn fixed_liveness_fails_when_the_cap_is_too_small() {
    // No requester to rescue it: every start fails, the host stays in Error.
    let (report, traces) = check_detailed(&model("fixed", 0, 1, 1), &CheckOptions::default());
    assert_eq!(report.property.as_deref(), Some("eventually-running"));
    let end = &traces["eventually-running"].last().unwrap().fields["state"];
    assert!(end.contains("st=Error") && end.contains("sem=1"), "{end}");
    assert_eq!(
        verdict_of(&report, "eventually-always-running"),
        Verdict::Violated
    );
    assert_eq!(verdict_of(&report, "deadlock"), Verdict::Holds);
}

#[test]
fn fixed_state_counts_are_pinned() {
    // Distinct reachable states at F=3, A=4: a property of the protocol,
    // identical under BFS, DFS, exact mode and any thread count.
    let expected = [(0, 42), (1, 656), (2, 6_284), (3, 43_258)];
    for (r, states) in expected {
        let m = model("fixed", r, 3, 4);
        let bfs = check(&m, &CheckOptions::default());
        assert_eq!((bfs.states, bfs.verdict), (states, Verdict::Holds), "R={r}");
        if r <= 2 {
            let dfs = check(
                &m,
                &CheckOptions {
                    strategy: Strategy::Dfs,
                    ..Default::default()
                },
            );
            let exact = check(
                &m,
                &CheckOptions {
                    exact: true,
                    ..Default::default()
                },
            );
            let two = check(
                &m,
                &CheckOptions {
                    threads: 2,
                    ..Default::default()
                },
            );
            assert_eq!([dfs.states, exact.states, two.states], [states; 3], "R={r}");
        }
    }
}

#[test]
fn constructor_rejects_bad_input_clearly() {
    assert!(HostAbstract::new("nope", &Bounds::new())
        .unwrap_err()
        .contains("unknown variant `nope`"));
    let odd = Bounds::from([("X".to_string(), 1)]);
    assert!(HostAbstract::new("fixed", &odd)
        .unwrap_err()
        .contains("unknown bound `X`"));
    assert!(HostAbstract::new("fixed", &bounds(-1, 1, 2))
        .unwrap_err()
        .contains("R=-1"));
    assert!(HostAbstract::new("fixed", &bounds(1, 1, 0))
        .unwrap_err()
        .contains("A=0"));
    assert!(HostAbstract::new("fixed", &bounds(40, 1, 2)).is_err());
    let defaults = HostAbstract::new("buggy", &Bounds::new()).unwrap();
    assert_eq!(defaults.bounds(), HostAbstract::default_bounds());
    let f2 = HostAbstract::new("fixed", &Bounds::from([("F".to_string(), 2)])).unwrap();
    assert_eq!(f2.rfa(), (2, 2, 3), "A defaults to F + 1");
}

#[test]
fn traces_name_actors_and_steps() {
    let report = run("buggy", 1, 1, 2);
    let tasks: Vec<&str> = report.trace.iter().map(|e| e.task.as_str()).collect();
    assert!(
        tasks.contains(&"Starter[0]") && tasks.contains(&"Requester[0]"),
        "{tasks:?}"
    );
    assert!(report
        .trace
        .iter()
        .any(|e| e.fields.get("action").map(String::as_str) == Some("LoadMetadata")));
    assert_eq!(
        report.replay,
        "lockstep check host-abstract --variant buggy --level spec --bound A=2 --bound F=1 --bound R=1"
    );
}

#[test]
fn reports_are_byte_identical_across_runs_and_thread_counts() {
    let render = |threads: usize| {
        let options = CheckOptions {
            threads,
            ..Default::default()
        };
        let (mut report, traces) = check_detailed(&model("buggy", 2, 2, 3), &options);
        report.elapsed_ms = 0;
        report.notes.retain(|n| !n.starts_with("bfs:")); // names the thread count
        serde_json::to_string(&(report, traces)).unwrap()
    };
    let first = render(1);
    assert_eq!(first, render(1));
    assert_eq!(first, render(2));
    assert!(first.contains("\"verdict\":\"violated\""));
}

#[test]
fn the_progress_measure_holds_and_decides_liveness_like_kahns_pass() {
    use lockstep::explore::protocol::{check_with, ProtocolOptions};
    let kahn = ProtocolOptions {
        use_progress: false,
        ..ProtocolOptions::default()
    };
    // Both variants, liveness holding (A = F + 1) and failing (A <= F).
    for (variant, r, f, a) in [
        ("fixed", 2, 1, 2),
        ("fixed", 3, 2, 3),
        ("fixed", 2, 2, 2),
        ("fixed", 3, 2, 1),
        ("buggy", 2, 0, 1),
        ("buggy", 2, 1, 2),
    ] {
        let m = model(variant, r, f, a);
        let (ranked, ranked_traces) = check_detailed(&m, &CheckOptions::default());
        let (counted, counted_traces) = check_with(&m, &CheckOptions::default(), &kahn);
        let at = format!("{variant} R={r} F={f} A={a}");
        assert!(
            ranked
                .notes
                .iter()
                .any(|n| n.contains("progress measure increased on every transition")),
            "{at}: {:?}",
            ranked.notes
        );
        assert_eq!(ranked.states, counted.states, "{at}");
        assert_eq!(ranked.properties, counted.properties, "{at}");
        assert_eq!(ranked_traces, counted_traces, "{at}");
    }
}

#[test]
fn fused_successors_agree_with_actions_and_next_state() {
    for variant in ["buggy", "fixed"] {
        for (r, f, a) in [(0, 1, 2), (2, 1, 2), (2, 2, 3), (3, 3, 4)] {
            let checked =
                lockstep::explore::protocol::successors_agree(&model(variant, r, f, a), 20_000);
            assert!(
                matches!(checked, Ok(n) if n > 10),
                "{variant} R={r} F={f} A={a}: {checked:?}"
            );
        }
    }
}

#[test]
fn narrow_and_wide_words_explore_the_same_graph() {
    for variant in ["buggy", "fixed"] {
        for strategy in [Strategy::Bfs, Strategy::Dfs] {
            let opts = CheckOptions {
                strategy: strategy.clone(),
                ..Default::default()
            };
            let narrow = check(&model(variant, 3, 2, 3), &opts);
            let wide = check(&model(variant, 3, 2, 3).with_wide_words(), &opts);
            assert!(narrow.states > 1000, "{variant}: {}", narrow.states);
            let key = |r: &Report| (r.states, r.verdict, r.property.clone(), r.notes.clone());
            assert_eq!(key(&narrow), key(&wide), "{variant} {strategy:?}");
            assert_eq!(narrow.trace, wide.trace, "{variant} {strategy:?}");
        }
    }
}
