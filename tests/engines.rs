//! Cross-engine agreement: the same implementation models under lockstep's
//! own explorers, shuttle (PCT, random; feature `shuttle`) and madsim (seeded
//! runtime, simulated time; `--cfg madsim` + feature `madsim`) must reach the
//! same verdict and property. A disagreement fails with both engines' outputs.
//!
//! Without either feature only the own-engine half runs (the verdicts every
//! backend is compared against). Commands: docs/backends.md.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use lockstep::explore::schedules::{self, ImplModel};
use lockstep::explore::{CheckOptions, PropertyKind, Strategy};
use lockstep::report::{Bounds, Report, Verdict};
use lockstep::rt::{self, BackendOutcome, SharedModel};
use lockstep_models::host::{HostEnv, HostImpl};

type MainFn = fn() -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// A small model built from a function.
struct Toy {
    name: &'static str,
    variant: &'static str,
    properties: &'static [(&'static str, PropertyKind)],
    main: MainFn,
}

impl ImplModel for Toy {
    fn name(&self) -> String {
        self.name.to_string()
    }
    fn variant(&self) -> String {
        self.variant.to_string()
    }
    fn bounds(&self) -> Bounds {
        Bounds::new()
    }
    fn main(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        (self.main)()
    }
    fn properties(&self) -> Vec<(String, PropertyKind)> {
        self.properties
            .iter()
            .map(|(n, k)| (n.to_string(), *k))
            .collect()
    }
}

/// Two tasks take two semaphores; `opposite` = in opposite orders.
fn two_semaphores(opposite: bool) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let s1 = rt::Semaphore::new("s1", 1);
        let s2 = rt::Semaphore::new("s2", 1);
        let (a1, a2) = (s1.clone(), s2.clone());
        rt::spawn("a", async move {
            let _p = a1.acquire().await;
            let _q = a2.acquire().await;
        });
        let (first, second) = if opposite { (s2, s1) } else { (s1, s2) };
        rt::spawn("b", async move {
            let _p = first.acquire().await;
            let _q = second.acquire().await;
        });
    })
}

/// Two tasks increment a counter with a read, a yield, then a write.
fn counter(guarded: bool) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let counter = rt::Shared::new("counter", 0u32);
        let lock = rt::Mutex::new("counter-lock", ());
        let mut handles = Vec::new();
        for _ in 0..2 {
            let (counter, lock) = (counter.clone(), lock.clone());
            handles.push(rt::spawn("inc", async move {
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
        let total = counter.get();
        rt::always("no-lost-update", total == 2, || {
            format!("counter = {total}")
        });
        rt::sometimes("both-incremented", total == 2);
    })
}

/// A detached task blocks for ever on a latch nobody sets; main finishes.
/// Shuttle alone would not call this a deadlock (pitfall 1).
fn forgotten_waiter() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async {
        let latch: rt::Latch<()> = rt::Latch::new("never-set");
        rt::spawn("waiter", async move {
            let _ = latch.wait().await;
        });
    })
}

/// A worker finishes after 100 ms (or 300 ms); the caller waits at most
/// 200 ms. Exercises virtual time: sleep, timeout, quiescence.
fn deadline(slow: bool) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let done: rt::Latch<u32> = rt::Latch::new("done");
        let setter = done.clone();
        let work = if slow { 300 } else { 100 };
        rt::spawn("worker", async move {
            rt::sleep(Duration::from_millis(work)).await;
            setter.set(Ok(7));
        });
        let got = rt::timeout(Duration::from_millis(200), done.wait()).await;
        rt::always("answered-in-time", got.is_ok(), || format!("{got:?}"));
        rt::until_quiescent().await;
        let late = rt::now() >= Duration::from_millis(work);
        rt::sometimes("worker-finished", late);
    })
}

/// A holder parks for ever with the only permit; main aborts it, which must
/// drop it at its next step and hand the permit to the waiter (on every
/// engine: the abort wakes the holder through whichever waker polled it last).
fn aborted_holder() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async {
        let sem = rt::Semaphore::new("permit", 1);
        let parked: rt::Latch<()> = rt::Latch::new("never-set");
        let (s, p) = (sem.clone(), parked.clone());
        let holder = rt::spawn("holder", async move {
            let _permit = s.acquire().await;
            let _ = p.wait().await;
        });
        let waiter = rt::spawn("waiter", async move {
            let _permit = sem.acquire().await;
            rt::sometimes("waiter-got-the-permit", true);
        });
        rt::yield_now().await;
        holder.abort();
        waiter.await;
        let joined = holder.join().await;
        rt::always("holder-cancelled", joined.is_err(), || {
            format!("{joined:?}")
        });
    })
}

const ABORT_PROPS: &[(&str, PropertyKind)] = &[
    ("waiter-got-the-permit", PropertyKind::Sometimes),
    ("holder-cancelled", PropertyKind::Always),
];

const COUNTER_PROPS: &[(&str, PropertyKind)] = &[
    ("no-lost-update", PropertyKind::Always),
    ("both-incremented", PropertyKind::Sometimes),
];
const DEADLINE_PROPS: &[(&str, PropertyKind)] = &[
    ("answered-in-time", PropertyKind::Always),
    ("worker-finished", PropertyKind::Sometimes),
];

fn toys() -> Vec<Toy> {
    vec![
        Toy {
            name: "textbook-deadlock",
            variant: "opposite-order",
            properties: &[],
            main: || two_semaphores(true),
        },
        Toy {
            name: "textbook-deadlock",
            variant: "same-order",
            properties: &[],
            main: || two_semaphores(false),
        },
        Toy {
            name: "lost-update",
            variant: "unguarded",
            properties: COUNTER_PROPS,
            main: || counter(false),
        },
        Toy {
            name: "lost-update",
            variant: "mutex",
            properties: COUNTER_PROPS,
            main: || counter(true),
        },
        Toy {
            name: "forgotten-waiter",
            variant: "detached",
            properties: &[],
            main: forgotten_waiter,
        },
        Toy {
            name: "deadline",
            variant: "fast-worker",
            properties: DEADLINE_PROPS,
            main: || deadline(false),
        },
        Toy {
            name: "deadline",
            variant: "slow-worker",
            properties: DEADLINE_PROPS,
            main: || deadline(true),
        },
        Toy {
            name: "abort",
            variant: "aborted-holder",
            properties: ABORT_PROPS,
            main: aborted_holder,
        },
    ]
}

/// Iterations per backend check: the toy bugs show up within a handful.
#[cfg(any(feature = "shuttle", all(madsim, feature = "madsim")))]
const ITERATIONS: usize = 300;

/// lockstep's own verdict: exhaustive DFS (a proof within the run bounds).
fn own(model: &dyn ImplModel) -> Report {
    let opts = CheckOptions {
        strategy: Strategy::Dfs,
        budget_schedules: 200_000,
        ..CheckOptions::default()
    };
    schedules::check(model, &opts)
}

/// Every other engine compiled in.
#[allow(unused_variables, unused_mut)]
fn backends(model: &SharedModel) -> Vec<BackendOutcome> {
    let mut out = Vec::new();
    #[cfg(feature = "shuttle")]
    {
        use lockstep::rt::shuttle_backend;
        out.push(shuttle_backend::check_pct(model.clone(), ITERATIONS, 3, 1));
        out.push(shuttle_backend::check_random(model.clone(), ITERATIONS, 1));
    }
    #[cfg(all(madsim, feature = "madsim"))]
    {
        use lockstep::rt::madsim_backend;
        out.push(madsim_backend::run_seeds(
            model.as_ref(),
            1..=ITERATIONS as u64,
        ));
    }
    out
}

fn assert_engines_agree(
    model: SharedModel,
    expected: (Verdict, Option<&str>),
) -> Vec<BackendOutcome> {
    let report = own(model.as_ref());
    assert_eq!(
        (report.verdict, report.property.as_deref()),
        expected,
        "lockstep's own verdict on {} / {}: {}",
        report.model,
        report.variant,
        rt::report_summary(&report)
    );
    let others = backends(&model);
    eprintln!("{}", rt::report_summary(&report));
    for o in &others {
        eprintln!("  {}", o.summary());
    }
    if let Err(disagreement) = rt::agree(&report, &others) {
        panic!("{disagreement}");
    }
    others
}

#[test]
fn toy_models_get_the_same_verdict_from_every_engine() {
    let expected: [(Verdict, Option<&str>); 8] = [
        (Verdict::Violated, Some("deadlock")),
        (Verdict::Holds, None),
        (Verdict::Violated, Some("no-lost-update")),
        (Verdict::Holds, None),
        (Verdict::Violated, Some("deadlock")),
        (Verdict::Holds, None),
        (Verdict::Violated, Some("answered-in-time")),
        (Verdict::Holds, None),
    ];
    for (toy, expected) in toys().into_iter().zip(expected) {
        let others = assert_engines_agree(Arc::new(toy), expected);
        for o in &others {
            if o.verdict == Verdict::Violated {
                assert!(o.failing_schedule.is_some(), "{}", o.summary());
                assert!(!o.trace.is_empty(), "{}", o.summary());
            }
        }
    }
}

/// A host scenario: variant, bounds, fixed environment knobs.
fn host(variant: &str, bounds: &[(&str, i64)], env: &[(&str, bool)]) -> SharedModel {
    let bounds: Bounds = bounds.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let mut fixed = HostEnv::default();
    for (k, v) in env {
        fixed.set(k, *v).unwrap();
    }
    Arc::new(HostImpl::with_env(variant, &bounds, fixed).unwrap())
}

/// The seed story (#10766): a storage outage on the first start.
const STORAGE_STORY: &[(&str, i64)] = &[
    ("restarts", 0),
    ("storage_failures", 1),
    ("worker_timeouts", 0),
    ("host_exceptions", 0),
    ("attempts", 3),
];
const STORAGE_ENV: &[(&str, bool)] = &[
    ("bundle", true),
    ("writable", true),
    ("offline", false),
    ("stop", false),
];
/// Storage and host faults with no worker timeout, no restart.
const READ_ONLY_STORY: &[(&str, i64)] = &[
    ("restarts", 0),
    ("storage_failures", 2),
    ("worker_timeouts", 0),
    ("host_exceptions", 1),
];
/// #11824: the worker misses its startup deadline on the first start.
const WORKER_STORY: &[(&str, i64)] = &[
    ("restarts", 0),
    ("storage_failures", 0),
    ("worker_timeouts", 1),
    ("host_exceptions", 0),
];
const WORKER_ENV: &[(&str, bool)] = &[("bundle", true), ("stop", false), ("offline", false)];

#[test]
fn host_variants_get_the_same_verdict_from_every_engine() {
    let deadlock = (Verdict::Violated, Some("deadlock"));
    let holds = (Verdict::Holds, None);
    let cases = [
        (host("pre-10766", STORAGE_STORY, STORAGE_ENV), deadlock),
        // A.5.4: a retry builds with no tracked host, so #11142 still deadlocks...
        (host("fix-11142", STORAGE_STORY, STORAGE_ENV), deadlock),
        // ...except where the channel survives a failed start (read-only file system).
        (
            host("fix-11142", READ_ONLY_STORY, &[("writable", false)]),
            holds,
        ),
        (host("fix-11825", STORAGE_STORY, STORAGE_ENV), holds),
        (host("pre-10766", WORKER_STORY, WORKER_ENV), deadlock),
        (host("fix-11142", WORKER_STORY, WORKER_ENV), deadlock),
        (host("fix-11825", WORKER_STORY, WORKER_ENV), holds),
        (host("fix-11825", &[], &[("stop", false)]), holds),
    ];
    for (model, expected) in cases {
        assert_engines_agree(model, expected);
    }
}

/// The implementation-level host scenario files themselves (not copies of
/// their bounds): every engine must reach each variant's expected verdict.
/// `keep_going` scenarios judge every property, which sampling engines cannot.
#[test]
fn host_impl_scenario_files_get_the_same_verdict_from_every_engine() {
    let dir = format!("{}/../scenarios/host", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut checked = 0;
    for path in files {
        let scenario = lockstep::scenario::Scenario::load(&path).unwrap();
        if scenario.level != Some(lockstep::scenario::Level::Impl) || scenario.keep_going {
            continue;
        }
        for variant in scenario.variants() {
            let expected = scenario.expected_for(&variant);
            let model =
                HostImpl::from_params(&variant, &scenario.bounds, &scenario.params, &[]).unwrap();
            assert_engines_agree(
                Arc::new(model),
                (expected.verdict, expected.property.as_deref()),
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} scenario variants checked");
}

#[test]
fn a_disagreement_names_both_engines_outputs() {
    let model: SharedModel = Arc::new(toys().remove(0));
    let report = own(model.as_ref());
    let wrong = BackendOutcome {
        engine: "imaginary".into(),
        verdict: Verdict::Holds,
        property: None,
        iterations: 5,
        failing_seed: None,
        failing_schedule: None,
        lockstep_schedule: None,
        wait_for: Vec::new(),
        trace: Vec::new(),
        notes: Vec::new(),
    };
    let err = rt::agree(&report, &[wrong]).unwrap_err();
    assert!(err.contains("lockstep-dfs: violated (deadlock)"), "{err}");
    assert!(
        err.contains("imaginary: holds after 5 iteration(s)"),
        "{err}"
    );
}

#[cfg(feature = "shuttle")]
mod shuttle_only {
    use super::*;
    use lockstep::rt::shuttle_backend;

    #[test]
    fn shuttle_deadlock_names_the_wait_for_cycle_and_replays() {
        let model: SharedModel = Arc::new(toys().remove(0));
        let found = shuttle_backend::check_pct(model.clone(), ITERATIONS, 3, 7);
        assert_eq!(
            found.property.as_deref(),
            Some("deadlock"),
            "{}",
            found.summary()
        );
        let tasks: Vec<&str> = found.wait_for.iter().map(|e| e.task.as_str()).collect();
        assert_eq!(tasks, ["a#1", "b#1"], "{}", found.summary());
        let token = found.failing_schedule.clone().unwrap();
        let again = shuttle_backend::replay(model.clone(), &token).unwrap();
        assert_eq!(again.status.as_str(), "deadlock");
        assert_eq!(again.trace, found.trace);
        // lockstep's executor follows shuttle's schedule to the same end.
        let steps: schedules::Schedule = found.lockstep_schedule.unwrap().parse().unwrap();
        let own = schedules::replay(model.as_ref(), &steps).unwrap();
        assert_eq!(own.property.as_deref(), Some("deadlock"));
        assert!(shuttle_backend::replay(model, "garbage").is_err());
    }

    #[test]
    fn shuttle_dfs_exhausts_small_models_and_finds_their_bugs() {
        let mut toys = toys();
        let same_order: SharedModel = Arc::new(toys.remove(1));
        let opposite: SharedModel = Arc::new(toys.remove(0));
        let pass = shuttle_backend::check_dfs(same_order, 100_000);
        assert_eq!(pass.verdict, Verdict::Holds, "{}", pass.summary());
        let fail = shuttle_backend::check_dfs(opposite, 100_000);
        assert_eq!(
            fail.property.as_deref(),
            Some("deadlock"),
            "{}",
            fail.summary()
        );
    }

    /// A fault `choose` decides the lock order of `b`: bad only when it fires.
    fn chosen_order() -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async {
            let opposite = rt::choose_bool("fault");
            rt::sometimes("fault-fired", opposite);
            two_semaphores(opposite).await;
        })
    }

    #[test]
    fn shuttle_dfs_with_choices_covers_one_choice_sequence_and_says_so() {
        let model: SharedModel = Arc::new(Toy {
            name: "chosen-order",
            variant: "fault",
            properties: &[("fault-fired", PropertyKind::Sometimes)],
            main: chosen_order,
        });
        // Plain check_dfs refuses data choices (shuttle panics on them).
        let strict = shuttle_backend::check_dfs(model.clone(), 10_000);
        assert_ne!(strict.verdict, Verdict::Holds, "{}", strict.summary());
        // With fixed data the DFS runs through the interleavings of one choice
        // sequence: never `holds`, whichever value that sequence drew.
        let fixed = shuttle_backend::check_dfs_fixed_data(model.clone(), 10_000);
        match fixed.verdict {
            Verdict::Violated => assert_eq!(fixed.property.as_deref(), Some("deadlock")),
            Verdict::Inconclusive => assert!(
                fixed.notes.iter().any(|n| n.contains("does not enumerate")),
                "{}",
                fixed.summary()
            ),
            Verdict::Holds => panic!("holds claimed: {}", fixed.summary()),
        }
        // lockstep's DFS enumerates the choice and finds the deadlock.
        assert_eq!(own(model.as_ref()).property.as_deref(), Some("deadlock"));
        // A cut-short DFS decides nothing.
        let cut = shuttle_backend::check_dfs_fixed_data(model, 1);
        assert_eq!(cut.verdict, Verdict::Inconclusive, "{}", cut.summary());
    }

    #[test]
    fn the_bench_compares_shuttle_dfs_under_the_same_budget() {
        let rows = lockstep_models::bench_host::impl_reduction(true);
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 3, "{rows:?}");
        let (own, shuttle) = (&rows[0], &rows[2]);
        assert_eq!(own["engine"], "lockstep dfs");
        assert_eq!(own["verdict"], "holds", "{own}");
        assert_eq!(shuttle["engine"], "shuttle 0.9 dfs");
        let budget = own["schedules"].as_u64().unwrap();
        let ran = shuttle["schedules"].as_u64().unwrap();
        assert!(ran > 0 && ran <= budget, "{shuttle}");
        assert_ne!(shuttle["verdict"], "holds", "{shuttle}");
    }
}

/// Without the feature the bench still has the shuttle row, saying how to get it.
#[cfg(not(feature = "shuttle"))]
#[test]
fn the_bench_row_for_shuttle_says_how_to_enable_it() {
    let rows = lockstep_models::bench_host::impl_reduction(true);
    let shuttle = &rows.as_array().unwrap()[2];
    assert_eq!(shuttle["engine"], "shuttle 0.9 dfs");
    assert!(
        shuttle["verdict"]
            .as_str()
            .unwrap()
            .contains("--features shuttle"),
        "{shuttle}"
    );
}
