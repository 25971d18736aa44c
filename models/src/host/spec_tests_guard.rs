//! Guards of the host protocol model's tests: bad input, planted bugs that must be found,
//! vacuity guards, agreement with an independent checker, determinism, figures.

use lockstep::explore::Model;
use lockstep::report::{Bounds, Verdict};

use super::spec::{HostEnv, HostSpec, Mutation};
use super::spec_log::Ev;
use super::spec_tests::{actions_of, assert_all_hold, bounds, check, model, verdict_of};
use super::test_bfs::explore;

#[test]
fn constructor_rejects_bad_input_with_clear_errors() {
    let err = HostSpec::new("fix-9999", &Bounds::new()).err().unwrap();
    assert!(
        err.contains("unknown host variant `fix-9999`") && err.contains("fix-11825"),
        "{err}"
    );
    let err = HostSpec::new("fix-11825", &bounds(&[("R", 2)]))
        .err()
        .unwrap();
    assert!(
        err.contains("unknown bound `R`") && err.contains("storage_failures"),
        "{err}"
    );
    let err = HostSpec::new("fix-11825", &bounds(&[("restarts", -1)]))
        .err()
        .unwrap();
    assert!(err.contains("out of range"), "{err}");
    let err = HostSpec::new("fix-11825", &bounds(&[("restarts", 9), ("attempts", 9)]))
        .err()
        .unwrap();
    assert!(err.contains("too large"), "{err}");
    let err = HostEnv::default().set("bundel", true).err().unwrap();
    assert!(err.contains("unknown host parameter `bundel`"), "{err}");
    let params = [("offline".to_string(), "maybe".to_string())]
        .into_iter()
        .collect();
    let err = HostSpec::from_params("fix-11825", &Bounds::new(), &params)
        .err()
        .unwrap();
    assert!(
        err.contains("`offline`") && err.contains("true or false"),
        "{err}"
    );
}

#[test]
fn bounds_default_and_are_echoed() {
    let m = HostSpec::new("pre-10766", &bounds(&[("restarts", 2)])).unwrap();
    let b = m.bounds();
    assert_eq!(b["restarts"], 2);
    assert_eq!(b["storage_failures"], 1);
    assert_eq!(b["worker_timeouts"], 1);
    assert_eq!(b["host_exceptions"], 1);
    assert_eq!(b["attempts"], 4);
    assert_eq!(HostSpec::default_bounds().len(), 5);
    assert_eq!(
        (m.name(), m.variant()),
        ("host".to_string(), "pre-10766".to_string())
    );
    let report = check(&HostSpec::new("fix-11825", &Bounds::new()).unwrap());
    assert_eq!(report.bounds, HostSpec::default_bounds());
}

#[test]
fn planted_permit_leak_is_found() {
    let m = HostSpec::new("fix-11825", &Bounds::new())
        .unwrap()
        .with_mutation(Mutation::LeakOnCancel);
    let report = check(&m);
    assert_eq!(
        verdict_of(&report, "permit-conservation"),
        Verdict::Violated
    );
}

#[test]
fn planted_double_host_is_found() {
    let m = HostSpec::new("fix-11825", &Bounds::new())
        .unwrap()
        .with_mutation(Mutation::RestartKeepsPrev);
    assert_eq!(
        verdict_of(&check(&m), "single-active-host"),
        Verdict::Violated
    );
}

/// The ordering A.5.5 asks to keep explicit: with StopAsync's `Stopping` visible before
/// `ShutdownRequested`, the provider's inline restart no longer returns early.
#[test]
fn stopping_before_the_shutdown_flag_deadlocks_fix_11825() {
    let m = model("fix-11825", &[], &[("stop", true)]).with_mutation(Mutation::StoppingBeforeFlag);
    let report = check(&m);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    let path = actions_of(&m, &report);
    assert!(path.iter().any(|a| a.kind() == "stop-async"));
    assert!(path.iter().any(|a| a.log.contains(Ev::InlineWaitsOwnSem)));
}

/// Liveness must be able to fail: with fewer retry slots than faults the host gives up.
#[test]
fn liveness_fails_when_attempts_do_not_cover_the_faults() {
    let m = model("fix-11825", &[("attempts", 1)], &[]);
    let report = check(&m);
    assert_eq!(verdict_of(&report, "deadlock"), Verdict::Holds);
    assert_eq!(
        report.property.as_deref(),
        Some("eventually-running-or-stopped")
    );
    let path = actions_of(&m, &report);
    assert!(path.iter().any(|a| a.log.contains(Ev::RetryCapReached)));
}

#[test]
fn sometimes_properties_follow_the_bounds_and_environment() {
    let names = |m: &HostSpec| m.properties().iter().map(|p| p.name).collect::<Vec<_>>();
    let m = HostSpec::new("fix-11825", &Bounds::new()).unwrap();
    for p in [
        "restart-during-start",
        "storage-outage",
        "worker-timeout",
        "retry-backoff",
        "non-transient-park",
        "stop-during-start",
        "offline-start",
        "host-running",
    ] {
        assert!(names(&m).contains(&p), "{p}");
    }
    let quiet = &[
        ("restarts", 0),
        ("storage_failures", 0),
        ("worker_timeouts", 0),
        ("host_exceptions", 0),
    ];
    let m = model("fix-11825", quiet, &[("stop", false), ("offline", false)]);
    assert!(!names(&m).contains(&"storage-outage") && !names(&m).contains(&"stop-during-start"));
    assert_all_hold(&check(&m));
}

/// A `sometimes` that cannot be reached fails the check (the vacuity guard): with no retry
/// slot, a non-transient error can never park the host.
#[test]
fn an_unreachable_sometimes_fails_the_check() {
    let m = model("fix-11825", &[("attempts", 0), ("host_exceptions", 1)], &[]);
    let report = check(&m);
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(verdict_of(&report, "non-transient-park"), Verdict::Violated);
    assert_eq!(verdict_of(&report, "deadlock"), Verdict::Holds);
}

/// The harness checker and the independent local BFS agree on state counts and on which
/// properties are violated.
#[test]
fn two_checkers_agree() {
    for (variant, b, e) in [
        ("pre-10766", &[][..], &[][..]),
        ("fix-11142", &[("restarts", 2)][..], &[("stop", false)][..]),
        ("fix-11825", &[][..], &[][..]),
        (
            "fix-11825",
            &[("restarts", 2), ("host_exceptions", 0)][..],
            &[("stop", false)][..],
        ),
    ] {
        let m = model(variant, b, e);
        let report = check(&m);
        let local = explore(&m, 2_000_000);
        assert_eq!(report.states as usize, local.states, "{variant} {b:?}");
        let mut by_harness: Vec<&str> = report
            .properties
            .iter()
            .filter(|p| p.verdict == Verdict::Violated)
            .map(|p| p.name.as_str())
            .collect();
        let mut by_local: Vec<&str> = local.violated.keys().map(|k| k.as_str()).collect();
        by_local.extend(local.sometimes_unreached.iter().map(|k| k.as_str()));
        if local.deadlock.is_some() {
            by_local.push("deadlock");
        }
        by_harness.sort_unstable();
        by_local.sort_unstable();
        assert_eq!(by_harness, by_local, "{variant} {b:?}");
    }
}

#[test]
fn checks_are_deterministic() {
    let m = HostSpec::new("pre-10766", &Bounds::new()).unwrap();
    let (a, b) = (check(&m), check(&m));
    assert_eq!(a.states, b.states);
    assert_eq!(
        serde_json::to_string(&a.trace).unwrap(),
        serde_json::to_string(&b.trace).unwrap()
    );
}

/// Figures for the report (release: `cargo test --release -p lockstep-models host_figures
/// -- --ignored --nocapture`). Prints, asserts nothing timed.
#[test]
#[ignore]
fn host_figures() {
    for (variant, b) in [
        ("pre-10766", &[][..]),
        ("fix-11142", &[][..]),
        ("fix-11825", &[][..]),
        (
            "fix-11825",
            &[
                ("restarts", 1),
                ("storage_failures", 2),
                ("worker_timeouts", 2),
                ("attempts", 6),
            ][..],
        ),
        ("fix-11825", &[("restarts", 2), ("attempts", 5)][..]),
        (
            "fix-11825",
            &[("restarts", 3), ("host_exceptions", 0), ("attempts", 5)][..],
        ),
    ] {
        let m = model(variant, b, &[]);
        let r = check(&m);
        println!(
            "{variant} {:?}: {} property={:?} states={} elapsed_ms={} trace_len={}",
            m.bounds(),
            r.verdict.as_str(),
            r.property,
            r.states,
            r.elapsed_ms,
            r.trace.len().saturating_sub(1)
        );
    }
}
