//! Tests of the host protocol model. Every verdict is found by exploring the model (the
//! local BFS in `test_bfs`); nothing is declared. Counts are pinned so that a change to
//! the model's semantics shows up as a test diff.

use lockstep::explore::Model;
use lockstep::report::{Bounds, WaitEdge};

use super::spec::{HostEnv, HostSpec, Mutation};
use super::spec_action::Action;
use super::spec_log::Ev;
use super::spec_state::HostState;
use super::test_bfs::{explore, Outcome};

const BUDGET: usize = 2_000_000;

fn bounds(pairs: &[(&str, i64)]) -> Bounds {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn env(pairs: &[(&str, bool)]) -> HostEnv {
    let mut e = HostEnv::default();
    for (k, v) in pairs {
        e.set(k, *v).unwrap();
    }
    e
}

fn check(variant: &str, b: &[(&str, i64)], e: &[(&str, bool)]) -> (HostSpec, Outcome<HostSpec>) {
    let m = HostSpec::with_env(variant, &bounds(b), env(e)).unwrap();
    let o = explore(&m, BUDGET);
    (m, o)
}

/// `actor:kind` of each step, the shape of a counterexample.
fn shape(m: &HostSpec, path: &[Action]) -> Vec<String> {
    path.iter()
        .map(|a| format!("{}:{}", m.actor(a), a.kind()))
        .collect()
}

fn violated(o: &Outcome<HostSpec>) -> Vec<&str> {
    o.violated.keys().map(|k| k.as_str()).collect()
}

const SEED_ENV: &[(&str, bool)] = &[("bundle", true), ("writable", true), ("stop", false)];
const SEED_BOUNDS: &[(&str, i64)] = &[
    ("restarts", 0),
    ("storage_failures", 1),
    ("worker_timeouts", 0),
    ("host_exceptions", 0),
];

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
}

/// #10766: the first start fails on storage, the retry's BuildHost reaches the provider,
/// which finds no channel and, the state being Error, restarts inline and waits on the
/// semaphore its own start holds.
#[test]
fn pre_10766_deadlocks_on_the_seed_story() {
    let (m, o) = check("pre-10766", SEED_BOUNDS, SEED_ENV);
    let path = o.deadlock.as_ref().expect("pre-10766 must deadlock");
    assert_eq!(
        shape(&m, path),
        [
            "start#1:boot",
            "start#1:enter",
            "worker:worker-ready",
            "start#1:meta-resume",
            "start#1:host-start-storage-error",
            "start#1:backoff-elapsed",
            "start#2:enter",
        ]
    );
    let last = path.last().unwrap();
    assert!(last.log.contains(Ev::MetaNoChannels {
        state: HostState::Error,
        starting: false
    }));
    assert!(last.log.contains(Ev::InlineRestart) && last.log.contains(Ev::InlineWaitsOwnSem));
    let text = m.format_action(last);
    assert!(
        text.contains(
            "metadata provider: no channels, state Error (not starting) -> RestartHost inline"
        ),
        "{text}"
    );
    let wait_for = m.wait_for(o.deadlock_state.as_ref().unwrap());
    assert_eq!(
        wait_for,
        [WaitEdge {
            task: "start#2 (RestartHost inline)".into(),
            resource: "host-start-semaphore".into(),
            holder: Some("start#2".into()),
        }]
    );
    assert!(violated(&o).contains(&"non-reentrancy"));
    assert_eq!(o.states, 14);
}

#[test]
fn pre_10766_deadlocks_at_default_bounds() {
    let (m, o) = check("pre-10766", &[], &[]);
    let path = o.deadlock.as_ref().expect("pre-10766 must deadlock");
    // Shortest: without a bundle the provider is reached at call site (ii), in the retry's
    // host StartAsync, before anything was cached.
    assert_eq!(
        shape(&m, path),
        [
            "start#1:boot",
            "start#1:enter",
            "start#1:host-start-storage-error",
            "start#1:backoff-elapsed",
            "start#2:enter",
            "start#2:host-start",
        ]
    );
    assert_eq!(o.states, 20_432);
}

/// #11617 / #11824: the worker misses its startup deadline on the first start, BuildHost
/// throws before ActiveHost is set, and the retry's predicate sees Error with no host.
#[test]
fn fix_11142_deadlocks_on_the_worker_timeout_story() {
    let b = &[
        ("restarts", 0),
        ("storage_failures", 0),
        ("worker_timeouts", 1),
        ("host_exceptions", 0),
    ];
    let (m, o) = check("fix-11142", b, &[("bundle", true), ("stop", false)]);
    let path = o.deadlock.as_ref().expect("fix-11142 must deadlock");
    assert_eq!(
        shape(&m, path),
        [
            "start#1:boot",
            "start#1:enter",
            "worker:worker-timeout",
            "start#1:meta-resume",
            "start#1:backoff-elapsed",
            "start#2:enter",
        ]
    );
    assert!(path[3].log.contains(Ev::ErrorHandler { active: true }));
    // The default check finds the same 6-step story.
    let (m, o) = check("fix-11142", &[], &[]);
    let path = o.deadlock.as_ref().expect("fix-11142 must deadlock");
    assert_eq!(path.len(), 6);
    assert!(shape(&m, path).contains(&"worker:worker-timeout".to_string()));
}

/// The brief's "fix-11142 deadlocks only via a worker timeout" holds where the channel
/// survives a failed start: read-only file system (run from package), no restarts.
#[test]
fn fix_11142_needs_a_worker_timeout_on_a_read_only_file_system() {
    let e = &[("writable", false)];
    let b = &[
        ("restarts", 0),
        ("storage_failures", 2),
        ("worker_timeouts", 0),
        ("host_exceptions", 1),
    ];
    let (_, o) = check("fix-11142", b, e);
    assert!(
        o.deadlock.is_none(),
        "no deadlock without worker timeouts on a read-only FS"
    );
    assert!(
        o.holds(),
        "{:?} {:?}",
        o.violated.keys(),
        o.sometimes_unreached
    );
    let (m, o) = check("fix-11142", &[("restarts", 0), ("worker_timeouts", 1)], e);
    let path = o
        .deadlock
        .as_ref()
        .expect("a worker timeout deadlocks fix-11142");
    assert!(shape(&m, path).contains(&"worker:worker-timeout".to_string()));
}

/// Spec A.5.4: on a writable file system the retry's BuildHost shuts the channels down
/// itself, and in a retry ActiveHost is null, so a storage outage alone deadlocks 11142.
#[test]
fn fix_11142_deadlocks_after_a_storage_outage_on_a_writable_file_system() {
    let (m, o) = check("fix-11142", SEED_BOUNDS, SEED_ENV);
    let path = o
        .deadlock
        .as_ref()
        .expect("A.5.4: fix-11142 is incomplete at call site (i)");
    assert_eq!(path.len(), 7);
    assert!(shape(&m, path).contains(&"start#1:host-start-storage-error".to_string()));
    // The same fault without a bundle (call site (ii) only) is fixed by 11142.
    let (_, o) = check(
        "fix-11142",
        SEED_BOUNDS,
        &[("bundle", false), ("stop", false)],
    );
    assert!(o.holds());
}

#[test]
fn fix_11825_holds_at_default_bounds() {
    let (_, o) = check("fix-11825", &[], &[]);
    assert!(o.deadlock.is_none());
    assert!(o.violated.is_empty(), "{:?}", o.violated.keys());
    assert!(
        o.sometimes_unreached.is_empty(),
        "{:?}",
        o.sometimes_unreached
    );
    assert_eq!((o.states, o.edges), (47_733, 81_455));
}

#[test]
fn fix_11825_holds_at_larger_bounds() {
    let b = &[
        ("restarts", 1),
        ("storage_failures", 2),
        ("worker_timeouts", 2),
        ("attempts", 6),
    ];
    let (_, o) = check("fix-11825", b, &[]);
    assert!(
        o.holds(),
        "{:?} {:?}",
        o.violated.keys(),
        o.sometimes_unreached
    );
    assert_eq!(o.states, 241_375);
}

/// Two quick restarts: the first one's start fails and spawns a retry that queues behind
/// the second restart; the second restart's cancel came too early to see the retry, so
/// the stale retry later builds a host over the Running one without orphaning it.
#[test]
fn fix_11825_two_restarts_let_a_stale_retry_replace_a_running_host() {
    let b = &[
        ("restarts", 2),
        ("storage_failures", 1),
        ("worker_timeouts", 0),
        ("host_exceptions", 0),
    ];
    let (m, o) = check("fix-11825", b, &[("stop", false)]);
    assert!(o.deadlock.is_none());
    let path = &o.violated["single-active-host"];
    let steps = shape(&m, path);
    assert_eq!(steps.last().unwrap(), "start#2:enter");
    assert!(
        steps.contains(&"restart#1:host-start-storage-error".to_string()),
        "{steps:?}"
    );
    assert!(
        steps.contains(&"restart#2:dispatcher-init".to_string()),
        "{steps:?}"
    );
    assert_eq!(path.len(), 13);
}

#[test]
fn offline_start_holds_and_the_what_if_deadlocks() {
    let (_, o) = check("fix-11825", &[], &[("offline", true)]);
    assert!(o.deadlock.is_none());
    assert!(
        o.sometimes_unreached.is_empty(),
        "{:?}",
        o.sometimes_unreached
    );
    assert!(o.violated.is_empty(), "{:?}", o.violated.keys());
    // If an offline BuildHost reached the provider (A.5.5's open question), Offline is not
    // "starting" for any variant: the first start deadlocks.
    let (m, o) = check(
        "fix-11825",
        &[],
        &[("offline", true), ("offline_reaches_metadata", true)],
    );
    let path = o.deadlock.as_ref().expect("offline what-if deadlocks");
    assert_eq!(shape(&m, path), ["start#1:boot", "start#1:enter"]);
    assert!(path[1].log.contains(Ev::MetaNoChannels {
        state: HostState::Offline,
        starting: false
    }));
}

#[test]
fn planted_permit_leak_is_found() {
    let m = HostSpec::new("fix-11825", &Bounds::new())
        .unwrap()
        .with_mutation(Mutation::LeakOnCancel);
    let o = explore(&m, BUDGET);
    assert!(
        violated(&o).contains(&"permit-conservation"),
        "{:?}",
        o.violated.keys()
    );
}

#[test]
fn planted_double_host_is_found() {
    let m = HostSpec::new("fix-11825", &Bounds::new())
        .unwrap()
        .with_mutation(Mutation::RestartKeepsPrev);
    let o = explore(&m, BUDGET);
    assert!(
        violated(&o).contains(&"single-active-host"),
        "{:?}",
        o.violated.keys()
    );
}

/// The ordering A.5.5 asks to keep explicit: with StopAsync's `Stopping` visible before
/// `ShutdownRequested`, the provider's inline restart no longer returns early.
#[test]
fn stopping_before_the_shutdown_flag_deadlocks_fix_11825() {
    let base = HostSpec::with_env("fix-11825", &Bounds::new(), env(&[("stop", true)])).unwrap();
    let m = base.with_mutation(Mutation::StoppingBeforeFlag);
    let o = explore(&m, BUDGET);
    let path = o
        .deadlock
        .as_ref()
        .expect("Stopping without the flag deadlocks");
    assert!(path.iter().any(|a| a.kind() == "stop-async"));
    assert!(path.iter().any(|a| a.log.contains(Ev::InlineWaitsOwnSem)));
}

/// Liveness must be able to fail: with fewer retry slots than faults the host gives up.
#[test]
fn liveness_fails_when_attempts_do_not_cover_the_faults() {
    let (m, o) = check("fix-11825", &[("attempts", 1)], &[]);
    assert!(o.deadlock.is_none());
    let path = &o.violated["eventually-running-or-stopped"];
    assert!(
        path.last().unwrap().log.contains(Ev::RetryCapReached),
        "{}",
        m.format_action(path.last().unwrap())
    );
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
    let m = HostSpec::with_env(
        "fix-11825",
        &bounds(quiet),
        env(&[("stop", false), ("offline", false)]),
    )
    .unwrap();
    assert_eq!(
        names(&m)
            .iter()
            .filter(|n| !n.contains("running") && !n.contains("-"))
            .count(),
        0
    );
    assert!(!names(&m).contains(&"storage-outage") && !names(&m).contains(&"stop-during-start"));
    let o = explore(&m, BUDGET);
    assert!(
        o.holds(),
        "{:?} {:?}",
        o.violated.keys(),
        o.sometimes_unreached
    );
}

#[test]
fn exploration_is_deterministic() {
    let (m, a) = check("pre-10766", &[], &[]);
    let (_, b) = check("pre-10766", &[], &[]);
    assert_eq!((a.states, a.edges), (b.states, b.edges));
    let fmt = |o: &Outcome<HostSpec>| {
        o.deadlock
            .as_ref()
            .unwrap()
            .iter()
            .map(|x| m.format_action(x))
            .collect::<Vec<_>>()
    };
    assert_eq!(fmt(&a), fmt(&b));
}
