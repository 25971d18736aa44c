//! Tests of the host implementation model, explored schedule by schedule with the
//! harness's exhaustive DFS (sleep sets + state caching). Verdicts are found, not
//! declared; schedule and state counts are pinned; every host scenario is checked to get
//! the same verdict at both levels.

use lockstep::explore::schedules::{self, Schedule};
use lockstep::explore::{protocol, CheckOptions, Strategy};
use lockstep::report::{Bounds, Report, Verdict, WaitEdge};
use lockstep::scenario::Scenario;

use super::impl_model::HostImpl;
use super::spec::{HostEnv, HostSpec};

fn bounds(pairs: &[(&str, i64)]) -> Bounds {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn model(variant: &str, b: &[(&str, i64)], e: &[(&str, bool)]) -> HostImpl {
    let mut env = HostEnv::default();
    for (k, v) in e {
        env.set(k, *v).unwrap();
    }
    HostImpl::with_env(variant, &bounds(b), env).unwrap()
}

fn dfs(m: &HostImpl) -> Report {
    schedules::check(
        m,
        &CheckOptions {
            strategy: Strategy::Dfs,
            ..CheckOptions::default()
        },
    )
}

fn self_wait(task: &str) -> WaitEdge {
    WaitEdge {
        task: task.into(),
        resource: "host-start-semaphore [blocks its thread on GetFunctionMetadataAsync]".into(),
        holder: Some(task.into()),
    }
}

fn exhaustive(report: &Report) -> bool {
    report.notes.iter().any(|n| n.starts_with("exhaustive:"))
}

const SEED_ENV: &[(&str, bool)] = &[
    ("bundle", true),
    ("writable", true),
    ("offline", false),
    ("stop", false),
];
const SEED_BOUNDS: &[(&str, i64)] = &[
    ("restarts", 0),
    ("storage_failures", 1),
    ("worker_timeouts", 0),
    ("host_exceptions", 0),
    ("attempts", 3),
];

/// #10766 on the async code: start#2 blocks its thread in the provider and waits on the
/// semaphore it holds; the schedule string replays the identical trace.
#[test]
fn pre_10766_seed_story_deadlocks_on_its_own_semaphore() {
    let m = model("pre-10766", SEED_BOUNDS, SEED_ENV);
    let report = dfs(&m);
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    assert_eq!(report.wait_for, [self_wait("start#2")]);
    let violated: Vec<&str> = report
        .properties
        .iter()
        .filter(|p| p.verdict == Verdict::Violated)
        .map(|p| p.name.as_str())
        .collect();
    assert!(violated.contains(&"non-reentrancy"), "{violated:?}");
    assert!(report
        .trace
        .iter()
        .any(|e| e.kind == "choose" && e.fields["label"] == "storage outage"));
    assert_eq!((report.schedules, report.states), (2, 15));
    let schedule: Schedule = report.schedule.as_ref().unwrap().parse().unwrap();
    let again = schedules::replay(&m, &schedule).unwrap();
    assert_eq!(again.trace, report.trace);
    assert_eq!(again.wait_for, report.wait_for);
}

/// #11824 on the async code: the worker misses its 60 s / 10 s deadline on the first start.
#[test]
fn fix_11142_deadlocks_on_the_worker_timeout_story() {
    let b = &[
        ("restarts", 0),
        ("storage_failures", 0),
        ("worker_timeouts", 1),
        ("host_exceptions", 0),
    ];
    let m = model(
        "fix-11142",
        b,
        &[("bundle", true), ("stop", false), ("offline", false)],
    );
    let report = dfs(&m);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    assert_eq!(report.wait_for, [self_wait("start#2")]);
    assert!(report
        .trace
        .iter()
        .any(|e| e.kind == "choose" && e.fields["label"] == "worker startup timeout"));
    assert_eq!(report.schedules, 2);
}

#[test]
fn fix_11825_holds_on_the_stories() {
    let worker = &[
        ("restarts", 0),
        ("storage_failures", 0),
        ("worker_timeouts", 1),
        ("host_exceptions", 0),
    ];
    for (b, e) in [
        (SEED_BOUNDS, SEED_ENV),
        (&worker[..], &[("bundle", true), ("stop", false)][..]),
    ] {
        let report = dfs(&model("fix-11825", b, e));
        assert_eq!(report.verdict, Verdict::Holds, "{b:?} {:?}", report.notes);
        assert!(exhaustive(&report), "{:?}", report.notes);
    }
}

/// The implementation-level proof at the implementation defaults, without a shutdown
/// (with one, see `host_impl_figures`).
#[test]
fn fix_11825_holds_at_impl_defaults_without_shutdown() {
    let report = dfs(&model("fix-11825", &[], &[("stop", false)]));
    assert_eq!(report.verdict, Verdict::Holds, "{:?}", report.notes);
    assert!(exhaustive(&report), "{:?}", report.notes);
    assert!(
        report
            .properties
            .iter()
            .all(|p| p.verdict == Verdict::Holds),
        "{:?}",
        report.properties
    );
    assert_eq!((report.schedules, report.states), (1_272, 26_515));
}

/// Two restarts, the first one's failed start leaves a stale retry: found on the async
/// code too.
#[test]
fn the_stale_retry_double_host_is_found_on_the_async_code() {
    let b = &[
        ("restarts", 2),
        ("storage_failures", 1),
        ("worker_timeouts", 0),
        ("host_exceptions", 0),
        ("attempts", 4),
    ];
    let report = dfs(&model(
        "fix-11825",
        b,
        &[("stop", false), ("offline", false)],
    ));
    assert_eq!(report.property.as_deref(), Some("single-active-host"));
    // Stopped at the first failure: deadlock freedom is not decided by it.
    assert_eq!(verdict(&report, "deadlock"), Verdict::Inconclusive);
    assert_eq!(report.schedules, 30);
    // Kept going, the whole space is covered (without the bundle and writable
    // file-system choices, to keep it small): the stale retry breaks
    // single-active-host, and the deadlock stays fixed.
    let env = [
        ("stop", false),
        ("offline", false),
        ("bundle", false),
        ("writable", false),
    ];
    let m = model("fix-11825", b, &env);
    let kept = schedules::check(
        &m,
        &CheckOptions {
            strategy: Strategy::Dfs,
            keep_going: true,
            ..CheckOptions::default()
        },
    );
    assert_eq!(kept.property.as_deref(), Some("single-active-host"));
    assert_eq!(verdict(&kept, "single-active-host"), Verdict::Violated);
    assert_eq!(verdict(&kept, "deadlock"), Verdict::Holds);
    assert_eq!(verdict(&kept, "non-reentrancy"), Verdict::Holds);
    assert_eq!(verdict(&kept, "permit-conservation"), Verdict::Holds);
    assert_eq!(
        verdict(&kept, "eventually-running-or-stopped"),
        Verdict::Holds
    );
    assert_eq!(kept.also_violated.len(), 1);
    // Failing runs are branched too (every property judged over every schedule).
    assert_eq!(kept.schedules, 1_941);
}

fn verdict(report: &Report, name: &str) -> Verdict {
    report
        .properties
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.verdict)
        .unwrap()
}

/// Every host scenario gets the same verdict from the protocol model (BFS) and from the
/// async code (DFS). The one whose proof takes tens of seconds runs in the figures test.
#[test]
fn both_levels_agree_on_every_host_scenario() {
    let dir = format!("{}/../scenarios/host", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut compared = 0;
    for path in files
        .iter()
        .filter(|p| !p.ends_with("stop-during-start.toml"))
    {
        let scenario = Scenario::load(path).unwrap();
        for variant in scenario.variants() {
            let spec = HostSpec::from_params(&variant, &scenario.bounds, &scenario.params).unwrap();
            let by_spec = protocol::check(&spec, &CheckOptions::default());
            let imp =
                HostImpl::from_params(&variant, &scenario.bounds, &scenario.params, &[]).unwrap();
            let by_impl = dfs(&imp);
            assert_eq!(
                by_spec.verdict,
                scenario.expected_for(&variant).verdict,
                "{path:?} {variant}"
            );
            assert_eq!(
                by_impl.verdict, by_spec.verdict,
                "{path:?} {variant}: {:?}",
                by_impl.notes
            );
            if by_spec.property.as_deref() == Some("deadlock")
                && by_impl.property.as_deref() == Some("deadlock")
            {
                assert_eq!(by_impl.wait_for.len(), 1, "{path:?} {variant}");
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 29);
}

#[test]
fn impl_constructor_rejects_bad_input() {
    let err = HostImpl::new("fix-1", &Bounds::new()).err().unwrap();
    assert!(err.contains("unknown host variant"), "{err}");
    let err = HostImpl::new("fix-11825", &bounds(&[("F", 1)]))
        .err()
        .unwrap();
    assert!(err.contains("unknown bound `F`"), "{err}");
    let params = [("stop".to_string(), "yes".to_string())]
        .into_iter()
        .collect();
    let err = HostImpl::from_params("fix-11825", &Bounds::new(), &params, &[])
        .err()
        .unwrap();
    assert!(err.contains("expected true or false"), "{err}");
}

/// Figures for the report (release: `cargo test --release -p lockstep-models
/// host_impl_figures -- --ignored --nocapture`). Prints, asserts nothing timed.
#[test]
#[ignore]
fn host_impl_figures() {
    let seed_bounds = &[
        ("restarts", 2),
        ("storage_failures", 1),
        ("worker_timeouts", 1),
        ("attempts", 3),
        ("host_exceptions", 0),
    ];
    for (variant, b, e) in [
        ("pre-10766", &[][..], &[][..]),
        ("fix-11142", &[][..], &[][..]),
        ("fix-11825", &[][..], &[][..]),
        ("fix-11825", &[][..], &[("stop", false)][..]),
        ("fix-11825", &seed_bounds[..], &[][..]),
        (
            "fix-11825",
            &[
                ("restarts", 1),
                ("storage_failures", 1),
                ("worker_timeouts", 1),
                ("attempts", 3),
            ][..],
            &[("stop", true)][..],
        ),
    ] {
        let m = model(variant, b, e);
        let r = dfs(&m);
        println!(
            "{variant} {:?} {e:?}: {} {:?} states={} schedules={} elapsed_ms={} wait_for={:?} {:?}",
            r.bounds,
            r.verdict.as_str(),
            r.property,
            r.states,
            r.schedules,
            r.elapsed_ms,
            r.wait_for,
            r.notes.last()
        );
    }
}
