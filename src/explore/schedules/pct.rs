//! PCT (Burckhardt et al., "A randomized scheduler with probabilistic
//! guarantees of finding bugs", ASPLOS 2010): every task gets a random
//! priority when first seen; the highest-priority runnable task runs; at
//! `depth - 1` random change points the running task drops below every
//! initial priority. A bug of depth `d` in a run of `k` steps is found with
//! probability at least 1/(n k^(d-1)) per run.
//!
//! The change points are drawn from `0..k`, where `k` is the step count of a
//! fixed calibration run (lowest runnable task first), so a run seed alone
//! reproduces a PCT run.

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::random::{below, check_seeded, run_with};
use super::schedule::{Scheduler, TaskPoint};
use super::ImplModel;
use crate::explore::CheckOptions;
use crate::report::Report;
use crate::rt::{TaskId, TraceLevel};

/// The PCT scheduler of one run.
pub struct PctScheduler {
    rng: ChaCha8Rng,
    priorities: BTreeMap<TaskId, u64>,
    /// Sorted step indices where the running task's priority drops.
    change_points: Vec<u64>,
    next_change: usize,
}

impl PctScheduler {
    /// `depth` = bug depth d (d - 1 change points), `horizon` = expected steps per run.
    pub fn new(seed: u64, depth: u32, horizon: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let horizon = horizon.max(1);
        let mut change_points: Vec<u64> = (1..depth.max(1))
            .map(|_| below(&mut rng, horizon as usize) as u64)
            .collect();
        change_points.sort_unstable();
        PctScheduler {
            rng,
            priorities: BTreeMap::new(),
            change_points,
            next_change: 0,
        }
    }

    fn priority(&mut self, t: TaskId) -> u64 {
        let rng = &mut self.rng;
        // Initial priorities sit above every change-point priority (< 2^32).
        *self
            .priorities
            .entry(t)
            .or_insert_with(|| (rng.next_u64() >> 1) | (1 << 62))
    }

    fn highest(&mut self, enabled: &[TaskId]) -> TaskId {
        let mut best = enabled[0];
        let mut best_p = self.priority(best);
        for &t in &enabled[1..] {
            let p = self.priority(t);
            if p > best_p {
                best = t;
                best_p = p;
            }
        }
        best
    }
}

impl Scheduler for PctScheduler {
    fn next_task(&mut self, point: &TaskPoint<'_>) -> Option<TaskId> {
        while self.next_change < self.change_points.len()
            && self.change_points[self.next_change] <= point.step
        {
            let running = self.highest(point.enabled);
            // Later change points get lower priorities.
            let low = (self.change_points.len() - self.next_change) as u64;
            self.priorities.insert(running, low);
            self.next_change += 1;
        }
        Some(self.highest(point.enabled))
    }

    fn next_choice(&mut self, _label: &str, n: usize) -> Option<usize> {
        Some(below(&mut self.rng, n))
    }
}

/// Always runs the lowest runnable task and answers 0 (calibration).
struct FirstScheduler;

impl Scheduler for FirstScheduler {
    fn next_task(&mut self, point: &TaskPoint<'_>) -> Option<TaskId> {
        point.enabled.first().copied()
    }
    fn next_choice(&mut self, _label: &str, _n: usize) -> Option<usize> {
        Some(0)
    }
}

/// The change-point horizon: the step count of the calibration run.
pub fn horizon<I: ImplModel + ?Sized>(model: &I) -> u64 {
    run_with(model, FirstScheduler, TraceLevel::Off)
        .steps
        .max(1)
}

pub(crate) fn check<I: ImplModel + ?Sized>(model: &I, opts: &CheckOptions) -> Report {
    let k = horizon(model);
    let depth = opts.pct_depth.max(1);
    let note = format!("pct depth {depth}, change points drawn from the first {k} steps");
    check_seeded(
        model,
        opts,
        "pct",
        |seed| PctScheduler::new(seed, depth, k),
        vec![note],
    )
}
