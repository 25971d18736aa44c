//! Unit tests of the executor and the primitives, each on one fixed schedule
//! (lowest runnable task first) unless a test says otherwise.

use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use crate::explore::schedules::{Scheduler, TaskPoint};
use crate::rt::{self, *};

/// Runs the lowest runnable task; answers every choice with 0.
struct FirstPick;

impl Scheduler for FirstPick {
    fn next_task(&mut self, point: &TaskPoint<'_>) -> Option<TaskId> {
        point.enabled.first().copied()
    }
    fn next_choice(&mut self, _label: &str, _n: usize) -> Option<usize> {
        Some(0)
    }
}

fn run<F, Fut>(main: F) -> RunOutcome
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    Executor::run_with(&RunConfig::default(), FirstPick, main).0
}

type Slot<T> = Arc<StdMutex<Option<T>>>;

/// A slot the test reads after the run (one handle moves into the model).
fn slot<T>() -> (Slot<T>, Slot<T>) {
    let a = Arc::new(StdMutex::new(None));
    (a.clone(), a)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn timeout_fires_exactly_at_its_deadline() {
    let (seen, out_seen) = slot();
    let out = run(move || async move {
        let never: Latch<u32> = Latch::new("never");
        let r = rt::timeout(secs(5), never.wait()).await;
        *seen.lock().unwrap() = Some((r, rt::now()));
    });
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(*out_seen.lock().unwrap(), Some((Err(Elapsed), secs(5))));
    assert_eq!(out.virtual_time, secs(5));
}

#[test]
fn timeout_returns_the_value_when_it_comes_first() {
    let (seen, out_seen) = slot();
    let out = run(move || async move {
        let latch: Latch<u32> = Latch::new("answer");
        let setter = latch.clone();
        rt::spawn("setter", async move {
            rt::sleep(secs(2)).await;
            setter.set(Ok(42));
        });
        let r = rt::timeout(secs(5), latch.wait()).await;
        *seen.lock().unwrap() = Some((r, rt::now()));
    });
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(*out_seen.lock().unwrap(), Some((Ok(Ok(42)), secs(2))));
    // The cancelled 5 s timer left no trace on the clock.
    assert_eq!(out.virtual_time, secs(2));
}

#[test]
fn an_hour_of_simulated_backoff_completes() {
    let (seen, out_seen) = slot();
    let out = run(move || async move {
        let (mut delay, mut total, mut attempts) = (secs(1), Duration::ZERO, 0u32);
        while total < secs(3600) {
            rt::sleep(delay).await;
            total += delay;
            attempts += 1;
            delay = (delay * 2).min(secs(120));
        }
        *seen.lock().unwrap() = Some((attempts, rt::now() == total));
    });
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(*out_seen.lock().unwrap(), Some((36, true)));
    assert!(out.virtual_time >= secs(3600));
}

#[test]
fn linked_tokens_cancel_children_and_cancelled_waits_return_at_once() {
    let (seen, out_seen) = slot();
    let out = run(move || async move {
        let parent = CancellationTokenSource::new("startup-loop");
        let child = CancellationTokenSource::linked("op", &[&parent.token()]);
        let grandchild = CancellationTokenSource::linked("op-child", &[&child.token()]);
        let sem = Semaphore::new("sem", 1);
        let held = sem.acquire().await;
        let gc = grandchild.token();
        let sleeper = rt::spawn("sleeper", async move {
            let cancelled = rt::sleep_cancellable(secs(3600), &gc).await;
            (cancelled, rt::now())
        });
        let ct = child.token();
        let s2 = sem.clone();
        let acquirer = rt::spawn("acquirer", async move {
            let got = s2.acquire_cancellable(&ct).await;
            (got.is_some(), rt::now())
        });
        rt::sleep(Duration::from_millis(1)).await;
        let cancel_time = rt::now();
        parent.cancel();
        let (slept_cancelled, slept_until) = sleeper.await;
        let (acquired, acquire_end) = acquirer.await;
        drop(held);
        *seen.lock().unwrap() = Some((
            slept_cancelled && slept_until == cancel_time,
            !acquired && acquire_end == cancel_time,
            grandchild.is_cancelled() && child.is_cancelled(),
            sem.available(),
        ));
    });
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(*out_seen.lock().unwrap(), Some((true, true, true, 1)));
    assert_eq!(out.virtual_time, Duration::from_millis(1));
}

#[test]
fn a_task_reacquiring_its_own_semaphore_is_a_self_cycle() {
    let out = run(|| async {
        let sem = Semaphore::new("host-start-semaphore", 1);
        rt::spawn("start", async move {
            let _outer = sem.acquire().await;
            let _inner = rt::block_on_thread("GetFunctionMetadata", sem.acquire()).await;
        });
    });
    let RunStatus::Deadlock {
        wait_for,
        cycle,
        blocked,
    } = out.status
    else {
        panic!("expected a deadlock, got {:?}", out.status)
    };
    assert!(cycle);
    assert_eq!(blocked, vec!["start#1".to_string()]);
    assert_eq!(wait_for.len(), 1);
    assert_eq!(wait_for[0].task, "start#1");
    assert_eq!(
        wait_for[0].resource,
        "host-start-semaphore [blocks its thread on GetFunctionMetadata]"
    );
    assert_eq!(wait_for[0].holder.as_deref(), Some("start#1"));
}

#[test]
fn a_blocked_detached_task_is_a_deadlock_but_a_blocked_daemon_is_not() {
    let out = run(|| async {
        let never: Latch<()> = Latch::new("worker-ready");
        let n2 = never.clone();
        drop(rt::spawn("waiter", async move { n2.wait().await.ok() }));
        rt::spawn_daemon("service", async move { never.wait().await.ok() });
    });
    let RunStatus::Deadlock {
        wait_for,
        cycle,
        blocked,
    } = out.status
    else {
        panic!("expected a deadlock, got {:?}", out.status)
    };
    assert!(!cycle);
    assert_eq!(blocked, vec!["waiter#1".to_string()]);
    assert!(wait_for
        .iter()
        .any(|e| e.task == "waiter#1" && e.holder.is_none()));

    let out = run(|| async {
        let never: Latch<()> = Latch::new("worker-ready");
        rt::spawn_daemon("service", async move { never.wait().await.ok() });
    });
    assert_eq!(out.status, RunStatus::Completed);
}

#[test]
fn daemon_timers_do_not_hold_quiescence_back() {
    let (seen, out_seen) = slot();
    let out = run(move || async move {
        rt::spawn_daemon("health-check", async {
            loop {
                rt::sleep(secs(10)).await;
            }
        });
        rt::until_quiescent().await;
        *seen.lock().unwrap() = Some(rt::now());
    });
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(*out_seen.lock().unwrap(), Some(Duration::ZERO));
}

#[test]
fn a_violation_and_the_deadlock_it_leads_to_are_both_reported() {
    let out = run(|| async {
        let sem = Semaphore::new("s", 1);
        let state = Shared::new("state", 0u8);
        let s2 = sem.clone();
        rt::spawn("stuck", async move {
            let _p = s2.acquire().await;
            let _q = s2.acquire().await;
        });
        rt::until_quiescent().await;
        rt::always("eventually-running", state.get() == 1, || {
            "state stayed 0".to_string()
        });
    });
    assert!(matches!(out.status, RunStatus::Deadlock { .. }));
    assert_eq!(out.property().as_deref(), Some("deadlock"));
    assert_eq!(out.violations.len(), 1);
    assert_eq!(out.violations[0].property, "eventually-running");
    assert_eq!(out.violations[0].detail, "state stayed 0");
}

#[test]
fn a_panicking_task_is_reported_not_propagated() {
    let out = run(|| async {
        rt::spawn("boom", async {
            rt::yield_now().await;
            panic!("kaboom");
        });
    });
    assert_eq!(
        out.status,
        RunStatus::Panic {
            task: "boom#1".to_string(),
            message: "kaboom".to_string()
        }
    );
}

#[test]
fn an_endless_retry_loop_stops_at_the_step_bound() {
    let config = RunConfig {
        max_steps: 1_000,
        ..RunConfig::default()
    };
    let (out, _) = Executor::run_with(&config, FirstPick, || async {
        let flag = Shared::new("healthy", false);
        while !flag.get() {
            rt::yield_now().await;
        }
    });
    assert_eq!(out.status, RunStatus::StepBoundReached);
    assert_eq!(out.steps, 1_000);
    let config = RunConfig {
        max_virtual_time: secs(60),
        ..RunConfig::default()
    };
    let (out, _) = Executor::run_with(&config, FirstPick, || async {
        loop {
            rt::sleep(secs(1)).await;
        }
    });
    assert_eq!(out.status, RunStatus::TimeBoundReached);
    assert_eq!(out.virtual_time, secs(60));
}

#[test]
fn channels_deliver_in_order_and_close_when_senders_are_gone() {
    let (seen, out_seen) = slot();
    let out = run(move || async move {
        let (tx, mut rx) = rt::mpsc::channel::<u32>(1);
        let producer = rt::spawn("producer", async move {
            for i in 0..3 {
                tx.send(i).await.unwrap();
            }
        });
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        producer.await;
        let (otx, orx) = rt::oneshot::channel::<String>();
        rt::spawn("replier", async move { otx.send("pong".into()).unwrap() });
        let reply = orx.recv().await;
        let (dropped, orx2) = rt::oneshot::channel::<String>();
        drop(dropped);
        let none = orx2.recv().await;
        let (utx, mut urx) = rt::mpsc::unbounded::<u8>();
        utx.try_send(7).unwrap();
        drop(utx);
        let unbounded = (urx.recv().await, urx.recv().await);
        *seen.lock().unwrap() = Some((got, reply, none, unbounded));
    });
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(
        *out_seen.lock().unwrap(),
        Some((
            vec![0, 1, 2],
            Some("pong".to_string()),
            None,
            (Some(7), None)
        ))
    );
}

#[test]
fn notify_stores_one_permit_and_notify_waiters_wakes_everyone() {
    let (seen, out_seen) = slot();
    let out = run(move || async move {
        let n = Notify::new("changed");
        n.notify_one();
        n.notified().await; // consumes the stored permit
        let woken = Shared::new("woken", 0u32);
        for _ in 0..3 {
            let (n, w) = (n.clone(), woken.clone());
            rt::spawn("listener", async move {
                n.notified().await;
                w.write(|v| *v += 1);
            });
        }
        rt::sleep(secs(1)).await; // everyone is waiting now
        n.notify_waiters();
        rt::until_quiescent().await;
        *seen.lock().unwrap() = Some(woken.get());
    });
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(*out_seen.lock().unwrap(), Some(3));
}

#[test]
fn the_mutex_hands_over_in_fifo_order() {
    let (seen, out_seen) = slot();
    let out = run(move || async move {
        let m = rt::Mutex::new("log", Vec::<u32>::new());
        let guard = m.lock().await;
        for i in 1..=3 {
            let m = m.clone();
            rt::spawn("writer", async move { m.lock().await.push(i) });
        }
        rt::sleep(secs(1)).await;
        drop(guard);
        rt::until_quiescent().await;
        *seen.lock().unwrap() = Some(m.lock().await.clone());
    });
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(*out_seen.lock().unwrap(), Some(vec![1, 2, 3]));
}

#[test]
fn a_latch_is_set_once() {
    let (seen, out_seen) = slot();
    let out = run(move || async move {
        let l: Latch<u8> = Latch::new("host-started");
        let first = l.set(Err("transient".into()));
        let second = l.set(Ok(1));
        *seen.lock().unwrap() = Some((first, second, l.is_set(), l.wait().await));
    });
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(
        *out_seen.lock().unwrap(),
        Some((true, false, true, Err("transient".to_string())))
    );
}

#[test]
fn same_schedule_twice_gives_a_byte_identical_trace() {
    let model = || async {
        let sem = Semaphore::new("s", 1);
        for name in ["a", "b"] {
            let sem = sem.clone();
            rt::spawn(name, async move {
                let p = sem.acquire().await;
                rt::emit("inside", &[("who", &rt::current_task())]);
                rt::sleep(secs(1)).await;
                drop(p);
            });
        }
    };
    let lines = |o: &RunOutcome| -> Vec<String> {
        o.trace
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect()
    };
    let (a, b) = (run(model), run(model));
    assert_eq!(a.status, RunStatus::Completed);
    assert!(a.trace.len() > 10);
    assert_eq!(lines(&a), lines(&b));
    assert!(a
        .trace
        .iter()
        .any(|e| e.kind == "inside" && e.fields["who"] == "b#1"));
}

#[test]
#[should_panic(expected = "outside a simulation")]
fn primitives_outside_a_simulation_panic_clearly() {
    let _ = Semaphore::new("s", 1);
}
