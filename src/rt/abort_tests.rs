//! Tests of `JoinHandle::abort`: an aborted task is dropped at its next step
//! (its permits released, its timers cancelled), `join` reports the abort,
//! aborting a finished task does nothing, and runs with aborts stay
//! deterministic and explorable.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use crate::explore::schedules::{self, ImplModel, RandomScheduler};
use crate::explore::{CheckOptions, PropertyKind, Strategy};
use crate::report::{Bounds, Verdict};
use crate::rt::{self, *};

fn run<F, Fut>(main: F) -> RunOutcome
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    Executor::run_with(&RunConfig::default(), RandomScheduler::new(3), main).0
}

fn kinds(o: &RunOutcome) -> Vec<String> {
    o.trace.iter().map(|e| e.kind.clone()).collect()
}

/// `holder` takes the only permit and parks for ever; `waiter` queues for the
/// permit; main aborts the holder (when `abort`), which must let the waiter in.
fn permit_story(abort: bool) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let sem = Semaphore::new("permit", 1);
        let parked: Latch<()> = Latch::new("never-set");
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
        if abort {
            holder.abort();
        }
        waiter.await;
        let cancelled = holder.join().await;
        rt::always("holder-reported-cancelled", cancelled.is_err(), || {
            format!("{cancelled:?}")
        });
    })
}

struct PermitStory {
    abort: bool,
}

impl ImplModel for PermitStory {
    fn name(&self) -> String {
        "permit-story".into()
    }
    fn variant(&self) -> String {
        if self.abort { "abort" } else { "no-abort" }.into()
    }
    fn bounds(&self) -> Bounds {
        Bounds::new()
    }
    fn main(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        permit_story(self.abort)
    }
    fn properties(&self) -> Vec<(String, PropertyKind)> {
        vec![
            ("waiter-got-the-permit".into(), PropertyKind::Sometimes),
            ("holder-reported-cancelled".into(), PropertyKind::Always),
        ]
    }
}

#[test]
fn abort_releases_a_held_permit_so_the_waiter_proceeds() {
    let out = run(|| permit_story(true));
    assert_eq!(out.status, RunStatus::Completed, "{:?}", kinds(&out));
    assert!(out.sometimes_reached.contains("waiter-got-the-permit"));
    let k = kinds(&out);
    let abort = k.iter().position(|e| e == "abort").expect("an abort event");
    let aborted = k
        .iter()
        .position(|e| e == "aborted")
        .expect("an aborted event");
    assert!(abort < aborted, "{k:?}");
    assert!(k.contains(&"join-cancelled".to_string()), "{k:?}");
}

#[test]
fn every_interleaving_of_the_abort_ends_well_and_without_it_deadlocks() {
    let opts = CheckOptions {
        strategy: Strategy::Dfs,
        ..CheckOptions::default()
    };
    let fixed = schedules::check(&PermitStory { abort: true }, &opts);
    assert_eq!(fixed.verdict, Verdict::Holds, "{:?}", fixed.notes);
    assert!(fixed.schedules > 1);
    // Must-find: without the abort the waiter waits on the parked holder.
    let stuck = schedules::check(&PermitStory { abort: false }, &opts);
    assert_eq!(
        stuck.property.as_deref(),
        Some("deadlock"),
        "{:?}",
        stuck.notes
    );
    let again = schedules::check(&PermitStory { abort: true }, &opts);
    assert_eq!(
        (again.schedules, again.states),
        (fixed.schedules, fixed.states)
    );
}

#[test]
fn aborting_a_finished_task_is_a_no_op() {
    let seen = Arc::new(StdMutex::new(None));
    let out_seen = seen.clone();
    let out = run(move || async move {
        let quick = rt::spawn("quick", async { 7u32 });
        while !quick.is_finished() {
            rt::yield_now().await;
        }
        quick.abort();
        quick.abort_handle().abort();
        let again = rt::spawn("again", async { 8u32 });
        while !again.is_finished() {
            rt::yield_now().await;
        }
        again.abort();
        *seen.lock().unwrap() = Some((quick.await, again.join().await));
    });
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(*out_seen.lock().unwrap(), Some((7, Ok(8))));
    assert!(!kinds(&out).contains(&"aborted".to_string()));
}

#[test]
fn an_aborted_sleeper_leaves_no_timer_and_its_join_says_cancelled() {
    let seen = Arc::new(StdMutex::new(None));
    let out_seen = seen.clone();
    let out = run(move || async move {
        let sleeper = rt::spawn("sleeper", async {
            rt::sleep(Duration::from_secs(60)).await;
            rt::always("never-woke", false, || "the aborted sleeper ran on".into());
        });
        rt::sleep(Duration::from_secs(1)).await;
        sleeper.abort();
        *seen.lock().unwrap() = Some(sleeper.join().await);
    });
    assert_eq!(out.status, RunStatus::Completed, "{:?}", out.violations);
    assert_eq!(
        *out_seen.lock().unwrap(),
        Some(Err(JoinError::Cancelled {
            task: "sleeper#1".into()
        }))
    );
    // The 60 s timer went with the task.
    assert_eq!(out.virtual_time, Duration::from_secs(1));
}

#[test]
fn a_task_aborted_before_its_first_step_never_runs() {
    let out = run(|| async {
        let never = rt::spawn("never", async {
            rt::always("ran", false, || "an aborted task ran".into());
        });
        never.abort();
        assert!(never.join().await.unwrap_err().is_cancelled());
    });
    assert_eq!(out.status, RunStatus::Completed, "{:?}", out.violations);
}

#[test]
fn awaiting_an_aborted_task_directly_is_a_reported_panic() {
    let out = run(|| async {
        let parked = rt::spawn("parked", async {
            rt::sleep(Duration::from_secs(5)).await;
        });
        parked.abort();
        parked.await;
    });
    match &out.status {
        RunStatus::Panic { task, message } => {
            assert_eq!(task, "main");
            assert!(message.contains("parked#1 was aborted"), "{message}");
            assert!(message.contains("join()"), "{message}");
        }
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[test]
fn the_same_schedule_with_aborts_gives_a_byte_identical_trace() {
    let lines = |o: &RunOutcome| -> Vec<String> {
        o.trace
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect()
    };
    for seed in 0..5 {
        let once = Executor::run_with(&RunConfig::default(), RandomScheduler::new(seed), || {
            permit_story(true)
        })
        .0;
        let twice = Executor::run_with(&RunConfig::default(), RandomScheduler::new(seed), || {
            permit_story(true)
        })
        .0;
        assert_eq!(lines(&once), lines(&twice), "seed {seed}");
        // And its schedule replays to the same trace.
        let replayed = schedules::run_schedule(
            &PermitStory { abort: true },
            &once.schedule,
            TraceLevel::Ops,
        )
        .unwrap();
        assert_eq!(lines(&replayed), lines(&once), "seed {seed}");
    }
}
