//! Soundness of the reductions: on many small random programs, exhaustive
//! DFS with sleep sets and state caching must reach exactly the same set of
//! final outcomes as DFS without any reduction.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::{Arc, Mutex as StdMutex};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::DfsScheduler;
use crate::rt::{self, Executor, RunConfig, RunStatus, TraceLevel};

#[derive(Clone, Copy, Debug)]
enum Op {
    Read(usize),
    Write(usize),
    Yield,
    /// Write a chosen value (0 or 1) to the object.
    ChooseWrite(usize),
    /// Read then write the object while holding the semaphore, yielding inside.
    Critical(usize),
    /// Sleep 1 ms of virtual time.
    Sleep,
    LatchSet,
    /// Wait up to 2 ms for the latch.
    LatchWait,
    NotifyOne,
    /// Wait up to 2 ms for a notification.
    Notified,
    Cancel,
    /// Sleep 3 ms unless cancelled.
    SleepCancellable,
    /// Increment the async mutex's counter, yielding while holding it.
    MutexInc,
    /// Acquire the semaphore unless cancelled, hold it over a yield.
    AcquireCancellable,
}

fn random_program(rng: &mut ChaCha8Rng) -> Vec<Vec<Op>> {
    let tasks = 2 + (rng.next_u32() % 2) as usize;
    (0..tasks)
        .map(|_| {
            let ops = 1 + (rng.next_u32() % 3) as usize;
            (0..ops)
                .map(|_| {
                    let obj = (rng.next_u32() % 2) as usize;
                    match rng.next_u32() % 16 {
                        0 | 1 => Op::Read(obj),
                        2 | 3 => Op::Write(obj),
                        4 => Op::Yield,
                        5 => Op::ChooseWrite(obj),
                        6 => Op::Critical(obj),
                        7 => Op::Sleep,
                        8 => Op::LatchSet,
                        9 => Op::LatchWait,
                        10 => Op::NotifyOne,
                        11 => Op::Notified,
                        12 => Op::Cancel,
                        13 => Op::SleepCancellable,
                        14 => Op::MutexInc,
                        _ => Op::AcquireCancellable,
                    }
                })
                .collect()
        })
        .collect()
}

fn ms(n: u64) -> std::time::Duration {
    std::time::Duration::from_millis(n)
}

type Outcomes = Arc<StdMutex<BTreeSet<Vec<u64>>>>;

async fn program(tasks: Vec<Vec<Op>>, outcomes: Outcomes) {
    let objs: Vec<rt::Shared<u64>> = (0..2)
        .map(|i| rt::Shared::new(format!("o{i}"), 0))
        .collect();
    let sem = rt::Semaphore::new("sem", 1);
    let latch: rt::Latch<u64> = rt::Latch::new("latch");
    let notify = rt::Notify::new("notify");
    let root = rt::CancellationTokenSource::new("root");
    let linked = rt::CancellationTokenSource::linked("linked", &[&root.token()]);
    let mutex = rt::Mutex::new("mutex", 0u64);
    let mut handles = Vec::new();
    for (k, ops) in tasks.into_iter().enumerate() {
        let (objs, sem, latch, notify) = (objs.clone(), sem.clone(), latch.clone(), notify.clone());
        let (root, token, mutex) = (root.clone(), linked.token(), mutex.clone());
        handles.push(rt::spawn("p", async move {
            let mut acc = k as u64 + 1;
            for op in ops {
                match op {
                    Op::Read(i) => acc = rt::mix(acc, objs[i].get()),
                    Op::Write(i) => objs[i].set(acc ^ i as u64),
                    Op::Yield => rt::yield_now().await,
                    Op::ChooseWrite(i) => {
                        let c = rt::choose("value", 2) as u64;
                        objs[i].set(rt::mix(acc, c));
                    }
                    Op::Critical(i) => {
                        let _p = sem.acquire().await;
                        let v = objs[i].get();
                        rt::yield_now().await;
                        objs[i].set(v.wrapping_add(acc));
                    }
                    Op::Sleep => rt::sleep(ms(1)).await,
                    Op::LatchSet => acc = rt::mix(acc, latch.set(Ok(acc)) as u64),
                    Op::LatchWait => {
                        let r = rt::timeout(ms(2), latch.wait()).await;
                        acc = rt::mix(acc, r.map_or(7, |v| v.unwrap_or(9)));
                    }
                    Op::NotifyOne => notify.notify_one(),
                    Op::Notified => {
                        let r = rt::timeout(ms(2), notify.notified()).await;
                        acc = rt::mix(acc, r.is_ok() as u64);
                    }
                    Op::Cancel => root.cancel(),
                    Op::SleepCancellable => {
                        let c = rt::sleep_cancellable(ms(3), &token).await;
                        acc = rt::mix(acc, c as u64 + 2 * rt::now().as_millis() as u64);
                    }
                    Op::MutexInc => {
                        let mut g = mutex.lock().await;
                        acc = rt::mix(acc, *g);
                        rt::yield_now().await;
                        *g += 1;
                    }
                    Op::AcquireCancellable => {
                        let p = sem.acquire_cancellable(&token).await;
                        acc = rt::mix(acc, p.is_some() as u64);
                        rt::yield_now().await;
                    }
                }
            }
            acc
        }));
    }
    let mut seen = Vec::new();
    for h in handles {
        seen.push(h.await);
    }
    seen.extend(objs.iter().map(|o| o.get()));
    seen.push(*mutex.lock().await);
    seen.push(rt::now().as_millis() as u64);
    outcomes.lock().unwrap().insert(seen);
}

/// All final outcomes DFS reaches and the number of complete runs, or
/// `None` if the program needs more than `cap` executions.
fn explore(tasks: &[Vec<Op>], reduction: bool, cap: u64) -> Option<(BTreeSet<Vec<u64>>, u64)> {
    let outcomes: Outcomes = Arc::default();
    let dfs = Rc::new(RefCell::new(DfsScheduler::new(reduction, None, u64::MAX)));
    let config = RunConfig {
        trace_level: TraceLevel::Off,
        ..RunConfig::default()
    };
    let (mut complete, mut executions) = (0, 0);
    loop {
        executions += 1;
        if executions > cap {
            return None;
        }
        let (t, o) = (tasks.to_vec(), outcomes.clone());
        let out = Executor::run(&config, dfs.clone(), move || program(t, o));
        match out.status {
            RunStatus::Completed => complete += 1,
            RunStatus::Abandoned => {}
            other => panic!("unexpected end {other:?}"),
        }
        assert!(dfs.borrow().error.is_none(), "{:?}", dfs.borrow().error);
        if !dfs.borrow_mut().backtrack() {
            break;
        }
    }
    let set = outcomes.lock().unwrap().clone();
    Some((set, complete))
}

#[test]
fn reductions_reach_exactly_the_outcomes_of_plain_dfs() {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let (mut plain_runs, mut reduced_runs, mut compared) = (0, 0, 0);
    // LOCKSTEP_SOUNDNESS_PROGRAMS=N checks more programs (slow without --release).
    let programs = std::env::var("LOCKSTEP_SOUNDNESS_PROGRAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    for _ in 0..programs {
        let prog = random_program(&mut rng);
        // Programs too big to enumerate without reduction are skipped.
        let Some((plain, p)) = explore(&prog, false, 20_000) else {
            continue;
        };
        let (reduced, r) = explore(&prog, true, u64::MAX).expect("no cap");
        assert_eq!(plain, reduced, "program {prog:?}");
        plain_runs += p;
        reduced_runs += r;
        compared += 1;
    }
    assert!(
        compared * 2 > programs,
        "only {compared} of {programs} programs compared"
    );
    assert!(reduced_runs < plain_runs, "{reduced_runs} vs {plain_runs}");
}

/// The parallel DFS (subtrees in waves, each wave's caches layered over the
/// earlier waves') reaches exactly the outcomes of plain DFS too.
#[test]
fn parallel_waves_reach_exactly_the_outcomes_of_plain_dfs() {
    use super::tests::TestModel;
    use crate::explore::{CheckOptions, Strategy};
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut compared = 0;
    for _ in 0..40 {
        let prog = random_program(&mut rng);
        let Some((plain, _)) = explore(&prog, false, 20_000) else {
            continue;
        };
        let outcomes: Outcomes = Arc::default();
        let (p, o) = (prog.clone(), outcomes.clone());
        let model = TestModel::new("program", move || program(p.clone(), o.clone()));
        let opts = CheckOptions {
            strategy: Strategy::Dfs,
            threads: 2,
            keep_going: true,
            budget_schedules: 1_000_000,
            ..CheckOptions::default()
        };
        let report = super::check(&model, &opts);
        assert!(
            report.notes.iter().any(|n| n.starts_with("parallel:")),
            "{:?}",
            report.notes
        );
        assert_eq!(plain, *outcomes.lock().unwrap(), "program {prog:?}");
        compared += 1;
    }
    assert!(compared > 20, "only {compared} programs compared");
}
