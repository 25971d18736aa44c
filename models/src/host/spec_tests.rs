//! Tests of the host protocol model. Every verdict is found by exploring the model with
//! the harness checker (`lockstep::explore::protocol::check`, BFS); nothing is declared.
//! Counterexample shapes, lengths and state counts are pinned, so a change of semantics
//! shows up as a test diff. The small local BFS in `test_bfs` cross-checks the counts.

use lockstep::explore::{protocol, walk, CheckOptions, Model};
use lockstep::report::{Bounds, Report, Verdict, WaitEdge};

use super::spec::{HostEnv, HostSpec};
use super::spec_action::Action;
use super::spec_log::Ev;
use super::spec_state::HostState;
use super::test_bfs::explore;

pub(super) fn bounds(pairs: &[(&str, i64)]) -> Bounds {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn env(pairs: &[(&str, bool)]) -> HostEnv {
    let mut e = HostEnv::default();
    for (k, v) in pairs {
        e.set(k, *v).unwrap();
    }
    e
}

pub(super) fn model(variant: &str, b: &[(&str, i64)], e: &[(&str, bool)]) -> HostSpec {
    HostSpec::with_env(variant, &bounds(b), env(e)).unwrap()
}

pub(super) fn check(m: &HostSpec) -> Report {
    protocol::check(m, &CheckOptions::default())
}

/// The counterexample's actions, recovered by re-walking the model along the trace.
pub(super) fn actions_of(m: &HostSpec, report: &Report) -> Vec<Action> {
    let schedule = walk::schedule_of_trace(m, &report.trace).expect("trace replays on the model");
    let mut state = m.init_states()[0];
    let mut path = Vec::new();
    for index in walk::parse_schedule(&schedule).unwrap() {
        let mut enabled = Vec::new();
        m.actions(&state, &mut enabled);
        state = m.next_state(&state, &enabled[index]).unwrap();
        path.push(enabled[index]);
    }
    path
}

/// `actor:kind` of each step after the environment setup: the shape of a counterexample.
fn shape(m: &HostSpec, path: &[Action]) -> Vec<String> {
    assert_eq!(path[0].kind(), "setup");
    path[1..]
        .iter()
        .map(|a| format!("{}:{}", m.actor(a), a.kind()))
        .collect()
}

pub(super) fn verdict_of(report: &Report, property: &str) -> Verdict {
    let found = report.properties.iter().find(|p| p.name == property);
    found
        .unwrap_or_else(|| panic!("no result for {property}: {:?}", report.properties))
        .verdict
}

pub(super) fn assert_all_hold(report: &Report) {
    assert_eq!(
        report.verdict,
        Verdict::Holds,
        "{:?} {:?}",
        report.property,
        report.notes
    );
    assert!(
        report
            .properties
            .iter()
            .all(|p| p.verdict == Verdict::Holds),
        "{:?}",
        report.properties
    );
}

const SEED_ENV: &[(&str, bool)] = &[("bundle", true), ("writable", true), ("stop", false)];
const SEED_BOUNDS: &[(&str, i64)] = &[
    ("restarts", 0),
    ("storage_failures", 1),
    ("worker_timeouts", 0),
    ("host_exceptions", 0),
];

/// #10766: the first start fails on storage, the retry's BuildHost reaches the provider,
/// which finds no channel and, the state being Error, restarts inline and waits on the
/// semaphore its own start holds.
#[test]
fn pre_10766_deadlocks_on_the_seed_story() {
    let m = model("pre-10766", SEED_BOUNDS, SEED_ENV);
    let report = check(&m);
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    let path = actions_of(&m, &report);
    assert_eq!(
        shape(&m, &path),
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
    assert!(last.log.contains(Ev::MetaShutdownAll));
    assert!(last.log.contains(Ev::MetaNoChannels {
        state: HostState::Error,
        starting: false
    }));
    assert!(last.log.contains(Ev::InlineRestart) && last.log.contains(Ev::InlineWaitsOwnSem));
    let text = &report.trace.last().unwrap().fields["action"];
    assert!(
        text.contains(
            "metadata provider: no channels, state Error (not starting) -> RestartHost inline"
        ),
        "{text}"
    );
    assert_eq!(report.trace.last().unwrap().task, "start#2");
    assert_eq!(verdict_of(&report, "non-reentrancy"), Verdict::Violated);
    assert_eq!(report.states, 15);
}

/// The wait-for cycle of the seed story's deadlock: start#2 waits on the semaphore it holds.
#[test]
fn the_deadlock_wait_for_cycle_is_a_self_loop_through_restart() {
    let m = model("pre-10766", SEED_BOUNDS, SEED_ENV);
    let o = explore(&m, 1_000);
    let state = o.deadlock_state.expect("deadlock");
    assert_eq!(
        m.wait_for(&state),
        [WaitEdge {
            task: "start#2 (RestartHost inline)".into(),
            resource: "host-start-semaphore".into(),
            holder: Some("start#2".into()),
        }]
    );
}

#[test]
fn pre_10766_deadlocks_at_default_bounds() {
    let m = HostSpec::new("pre-10766", &Bounds::new()).unwrap();
    let report = check(&m);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    // Shortest: without a bundle the provider is reached at call site (ii), in the retry's
    // host StartAsync, before anything was cached.
    assert_eq!(
        shape(&m, &actions_of(&m, &report)),
        [
            "start#1:boot",
            "start#1:enter",
            "start#1:host-start-storage-error",
            "start#1:backoff-elapsed",
            "start#2:enter",
            "start#2:host-start",
        ]
    );
    assert_eq!(report.states, 20_433);
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
    let m = model("fix-11142", b, &[("bundle", true), ("stop", false)]);
    let report = check(&m);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    let path = actions_of(&m, &report);
    assert_eq!(
        shape(&m, &path),
        [
            "start#1:boot",
            "start#1:enter",
            "worker:worker-timeout",
            "start#1:meta-resume",
            "start#1:backoff-elapsed",
            "start#2:enter",
        ]
    );
    assert!(path[4].log.contains(Ev::ErrorHandler { active: true }));
    assert!(!path[4]
        .log
        .events()
        .any(|e| matches!(e, Ev::HostBuilt { .. })));
    // The default check finds the same 6-step story.
    let m = HostSpec::new("fix-11142", &Bounds::new()).unwrap();
    let report = check(&m);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    let path = actions_of(&m, &report);
    assert_eq!(path.len(), 7);
    assert!(shape(&m, &path).contains(&"worker:worker-timeout".to_string()));
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
    assert_all_hold(&check(&model("fix-11142", b, e)));
    let m = model("fix-11142", &[("restarts", 0), ("worker_timeouts", 1)], e);
    let report = check(&m);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    assert!(shape(&m, &actions_of(&m, &report)).contains(&"worker:worker-timeout".to_string()));
}

/// Spec A.5.4: on a writable file system the retry's BuildHost shuts the channels down
/// itself, and in a retry ActiveHost is null, so a storage outage alone deadlocks 11142.
/// A restart's NotifyHostStopping does the same on a read-only file system.
#[test]
fn fix_11142_deadlocks_after_a_storage_outage_when_the_channel_is_gone() {
    let m = model("fix-11142", SEED_BOUNDS, SEED_ENV);
    let report = check(&m);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    let path = actions_of(&m, &report);
    assert_eq!(path.len(), 8);
    assert!(shape(&m, &path).contains(&"start#1:host-start-storage-error".to_string()));
    let b = &[
        ("restarts", 1),
        ("storage_failures", 1),
        ("worker_timeouts", 0),
        ("host_exceptions", 0),
    ];
    let m = model(
        "fix-11142",
        b,
        &[("writable", false), ("bundle", true), ("stop", false)],
    );
    let report = check(&m);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    let steps = shape(&m, &actions_of(&m, &report));
    assert!(
        steps.contains(&"channel-manager:channel-shutdown".to_string()),
        "{steps:?}"
    );
    // The same fault without a bundle (call site (ii) only) is fixed by 11142.
    assert_all_hold(&check(&model(
        "fix-11142",
        SEED_BOUNDS,
        &[("bundle", false), ("stop", false)],
    )));
}

#[test]
fn fix_11825_holds_at_default_bounds() {
    let m = HostSpec::new("fix-11825", &Bounds::new()).unwrap();
    let report = check(&m);
    assert_all_hold(&report);
    let sometimes: Vec<&str> = report
        .properties
        .iter()
        .filter(|p| p.kind == "sometimes")
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(sometimes.len(), 8, "{sometimes:?}");
    assert_eq!(report.states, 47_734);
}

#[test]
fn fix_11825_holds_at_larger_bounds() {
    let b = &[
        ("restarts", 1),
        ("storage_failures", 2),
        ("worker_timeouts", 2),
        ("attempts", 6),
    ];
    let report = check(&model("fix-11825", b, &[]));
    assert_all_hold(&report);
    assert_eq!(report.states, 241_376);
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
    let m = model("fix-11825", b, &[("stop", false)]);
    let report = check(&m);
    assert_eq!(verdict_of(&report, "deadlock"), Verdict::Holds);
    assert_eq!(report.property.as_deref(), Some("single-active-host"));
    let steps = shape(&m, &actions_of(&m, &report));
    assert_eq!(steps.last().unwrap(), "start#2:enter");
    let failed = steps
        .iter()
        .find(|s| s.ends_with(":host-start-storage-error"))
        .unwrap();
    let other = if failed.starts_with("restart#1") {
        "restart#2"
    } else {
        "restart#1"
    };
    assert!(failed.starts_with("restart#"), "{steps:?}");
    assert!(
        steps.contains(&format!("{other}:dispatcher-init")),
        "{steps:?}"
    );
    assert_eq!(steps.len(), 13);
}

/// Two quick restarts again, with a bad host.json: the second restart's BuildHost throws
/// HostConfigurationException and spawns an error-mode retry; the first restart (queued
/// before that retry existed) then fails too and spawns a normal retry. The error-mode
/// retry parks the host in Error with a *started* minimal host; the stale normal retry's
/// provider sees Error with a started tracked host, which fix-11825 still reads as "not
/// starting": RestartHost inline, and the same self-deadlock.
#[test]
fn fix_11825_deadlocks_when_a_stale_retry_follows_a_parked_host() {
    let b = &[("restarts", 2), ("attempts", 4), ("worker_timeouts", 0)];
    let m = model(
        "fix-11825",
        b,
        &[("stop", false), ("offline", false), ("bundle", true)],
    );
    let report = check(&m);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    let path = actions_of(&m, &report);
    let steps = shape(&m, &path);
    assert_eq!(steps.len(), 14, "{steps:?}");
    assert!(
        steps.iter().any(|s| s.ends_with(":enter-config-error")),
        "{steps:?}"
    );
    assert!(path.iter().any(|a| a.log.contains(Ev::Parked)));
    let last = path.last().unwrap();
    assert!(last.log.contains(Ev::MetaNoChannels {
        state: HostState::Error,
        starting: false
    }));
    assert!(last.log.contains(Ev::InlineWaitsOwnSem));
    assert_eq!(report.states, 27_727);
    // Without non-transient errors the same two restarts cannot deadlock fix-11825.
    let b = &[
        ("restarts", 2),
        ("attempts", 4),
        ("worker_timeouts", 0),
        ("host_exceptions", 0),
    ];
    let report = check(&model(
        "fix-11825",
        b,
        &[("stop", false), ("offline", false), ("bundle", true)],
    ));
    assert_eq!(verdict_of(&report, "deadlock"), Verdict::Holds);
}

#[test]
fn offline_start_holds_and_the_what_if_deadlocks() {
    let report = check(&model("fix-11825", &[], &[("offline", true)]));
    assert_all_hold(&report);
    assert_eq!(verdict_of(&report, "offline-start"), Verdict::Holds);
    // If an offline BuildHost reached the provider (A.5.5's open question), Offline is not
    // "starting" for any variant: the first start deadlocks.
    let m = model(
        "fix-11825",
        &[],
        &[("offline", true), ("offline_reaches_metadata", true)],
    );
    let report = check(&m);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    let path = actions_of(&m, &report);
    assert_eq!(shape(&m, &path), ["start#1:boot", "start#1:enter"]);
    assert!(path[2].log.contains(Ev::MetaNoChannels {
        state: HostState::Offline,
        starting: false
    }));
}

/// The fused `successors` (one `candidates`, one `apply` per step) against
/// `actions` + `next_state`, on every variant and on an offline start.
#[test]
fn fused_successors_agree_with_actions_and_next_state() {
    for variant in ["pre-10766", "fix-11142", "fix-11825"] {
        for e in [&[][..], &[("offline", true)][..]] {
            let checked = protocol::successors_agree(&model(variant, &[], e), 20_000);
            assert!(
                matches!(checked, Ok(n) if n > 100),
                "{variant} {e:?}: {checked:?}"
            );
        }
    }
}
