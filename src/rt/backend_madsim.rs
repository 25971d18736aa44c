//! The madsim backend (`RUSTFLAGS="--cfg madsim"` + feature `madsim`): the
//! same implementation models on madsim's deterministic runtime, one seeded
//! `Runtime` per run.
//!
//! `rt::spawn` is `madsim::task::spawn` (madsim picks a random ready task
//! at every poll, from the seed), `rt::choose` draws from madsim's seeded
//! randomness, and time is madsim's: every lockstep timer is a
//! `madsim::time::sleep_until` (never `tokio::time`, which panics inside
//! madsim). A deadlock is madsim's own detection ("no events, all tasks will
//! block forever"); lockstep's bookkeeping supplies the wait-for cycle. A
//! timer past the run's virtual-time bound is never handed to madsim, so a
//! run that can only go on past the bound also ends with "no events", and the
//! pending timer makes it `time-bound` rather than a deadlock, as on
//! lockstep's own executor.
//!
//! Differences from lockstep's clock, which never change a verdict of a
//! model that does not race timers against each other at the same instant:
//! madsim advances 50-100 ns per poll and sleeps at least 1 ms.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use madsim::time::{Instant, TimeHandle};

use super::backend::{BackendOutcome, Tally};
use super::engine::{SendTask, TimerKey};
use super::executor::{panic_message, RunOutcome, RunStatus};
use super::hosted::{self, Backend};
use super::state::TraceLevel;
use crate::explore::schedules::ImplModel;

struct MadsimBackend {
    /// The run's time zero.
    base: Instant,
    /// Timers due later than this never fire (the run's virtual-time bound).
    max_time: Duration,
    /// The sleeping task behind each pending lockstep timer.
    timers: RefCell<BTreeMap<TimerKey, madsim::task::JoinHandle<()>>>,
}

impl Backend for MadsimBackend {
    fn spawn(&self, task: SendTask) {
        // Dropping the handle detaches the task; lockstep tracks it.
        drop(madsim::task::spawn(task));
    }
    fn choose(&self, n: usize) -> usize {
        let v: u64 = madsim::rand::random();
        ((v as u128 * n as u128) >> 64) as usize
    }
    fn now(&self) -> Option<Duration> {
        Some(
            TimeHandle::current()
                .now_instant()
                .saturating_duration_since(self.base),
        )
    }
    fn start_timer(&self, key: TimerKey, run: u64) {
        if key.0 > self.max_time {
            return;
        }
        let deadline = self.base + key.0;
        let sleeper = madsim::task::spawn(async move {
            madsim::time::sleep_until(deadline).await;
            hosted::fire_timer(key, run);
        });
        self.timers.borrow_mut().insert(key, sleeper);
    }
    fn cancel_timer(&self, key: TimerKey) {
        let sleeper = self.timers.borrow_mut().remove(&key);
        if let Some(s) = sleeper {
            s.abort();
        }
    }
}

/// One run of `model` on a fresh madsim runtime seeded with `seed`.
fn run_seed(model: &dyn ImplModel, seed: u64, level: TraceLevel) -> RunOutcome {
    let mut config = model.run_config();
    config.trace_level = level;
    let runtime = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
    let max_time = config.max_virtual_time;
    let result = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            let backend = MadsimBackend {
                base: TimeHandle::current().now_instant(),
                max_time,
                timers: RefCell::new(BTreeMap::new()),
            };
            let mut root = hosted::begin(&config, Box::new(backend), || model.main());
            let end = (&mut root).await;
            root.finish(end)
        })
    }));
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            hosted::finish_abandoned(&message).unwrap_or_else(|| RunOutcome {
                status: RunStatus::Panic {
                    task: "madsim".to_string(),
                    message,
                },
                violations: Vec::new(),
                trace: Vec::new(),
                schedule: Default::default(),
                sometimes_reached: Default::default(),
                always_checked: Default::default(),
                steps: 0,
                virtual_time: Duration::ZERO,
            })
        }
    };
    hosted::clear_leftovers();
    // The runtime drops the tasks it still holds; no run is installed now.
    drop(runtime);
    outcome
}

/// Runs `model` once per seed, stopping at the first failing seed (re-run at
/// trace level `Ops` for its trace, which also checks the seed replays).
pub fn run_seeds(model: &dyn ImplModel, seeds: impl IntoIterator<Item = u64>) -> BackendOutcome {
    let mut tally = Tally::new("madsim", model);
    for seed in seeds {
        let outcome = run_seed(model, seed, TraceLevel::Off);
        tally.add(&outcome);
        if !outcome.failed() {
            continue;
        }
        let again = replay_seed(model, seed);
        let mut out = if again.status.as_str() == outcome.status.as_str() {
            tally.fail(&again)
        } else {
            let mut out = tally.fail(&outcome);
            out.notes.push(format!(
                "re-running seed {seed} ended with {} instead of {}",
                again.status.as_str(),
                outcome.status.as_str()
            ));
            out
        };
        out.failing_seed = Some(seed);
        out.failing_schedule = Some(format!("madsim seed {seed}"));
        return out;
    }
    tally.pass(true)
}

/// Re-runs one seed at trace level `Ops`.
pub fn replay_seed(model: &dyn ImplModel, seed: u64) -> RunOutcome {
    run_seed(model, seed, TraceLevel::Ops)
}
