//! Schedule explorers for implementation models running on the
//! deterministic executor ([`crate::rt`]): exhaustive DFS with sleep sets and
//! state caching ([`dfs`]), seeded random ([`random`]), PCT ([`pct`]), and
//! replay of a schedule string ([`replay()`]).
//!
//! An implementation model implements [`ImplModel`]; [`check`] explores it
//! with the strategy in [`CheckOptions`] and returns a [`Report`] whose
//! `schedule` string replays the counterexample ([`replay()`]) byte for byte.

use std::future::Future;
use std::pin::Pin;

use crate::explore::{CheckOptions, PropertyKind, Strategy};
use crate::report::{Bounds, Report, Stopwatch};
use crate::rt::{RunConfig, TraceLevel};

mod cache;
pub mod dfs;
mod dfs_check;
mod outcome;
mod parallel;
pub mod pct;
pub mod progress;
pub mod random;
pub mod replay;
mod schedule;

#[cfg(test)]
mod keep_going_tests;
#[cfg(test)]
mod parallel_tests;
#[cfg(test)]
mod single_run_tests;
#[cfg(test)]
mod soundness_tests;
#[cfg(test)]
mod tests;

pub use dfs::DfsScheduler;
pub use pct::PctScheduler;
pub use random::{run_seed, RandomScheduler};
pub use replay::{replay, run_schedule, ReplayError, ReplayScheduler};
pub use schedule::{Decision, Schedule, ScheduleParseError, Scheduler, StepInfo, TaskPoint};

/// An implementation model: async code on `lockstep::rt`, checked by running it.
pub trait ImplModel: Sync {
    fn name(&self) -> String;
    fn variant(&self) -> String;
    fn bounds(&self) -> Bounds;
    /// Builds the main future of one run (called once per schedule, inside
    /// the simulation, so it may create runtime objects).
    fn main(&self) -> Pin<Box<dyn Future<Output = ()> + Send>>;
    /// Names and kinds of the properties the model checks with `rt::always`
    /// / `rt::sometimes` (so a `sometimes` never reached fails the check).
    fn properties(&self) -> Vec<(String, PropertyKind)>;
    /// Bounds of each run (steps, virtual time) and its trace level.
    fn run_config(&self) -> RunConfig {
        RunConfig::default()
    }
}

/// Checks `model` with `opts.strategy`. `bfs` does not apply to
/// implementation models: it runs exhaustive DFS and says so in the notes.
pub fn check<I: ImplModel + ?Sized>(model: &I, opts: &CheckOptions) -> Report {
    match opts.strategy {
        Strategy::Dfs => dfs_check::check(model, opts, Vec::new()),
        Strategy::Bfs => dfs_check::check(
            model,
            opts,
            vec!["bfs does not apply to implementation models; ran exhaustive dfs".to_string()],
        ),
        Strategy::Random => random::check(model, opts),
        Strategy::Pct => pct::check(model, opts),
    }
}

/// Replays the run that `strategy` (random or pct) made with run seed `seed`
/// (the `seed` of a random/pct report), at full trace level.
pub fn replay_seed<I: ImplModel + ?Sized>(
    model: &I,
    strategy: &Strategy,
    seed: u64,
    pct_depth: u32,
) -> Result<Report, String> {
    let watch = Stopwatch::start();
    let outcome = match strategy {
        Strategy::Random => random::run_with(model, RandomScheduler::new(seed), TraceLevel::Full),
        Strategy::Pct => {
            let k = pct::horizon(model);
            random::run_with(
                model,
                PctScheduler::new(seed, pct_depth.max(1), k),
                TraceLevel::Full,
            )
        }
        other => {
            return Err(format!(
                "replay by seed needs the random or pct strategy (got {}); replay a dfs \
                 counterexample with --schedule",
                other.as_str()
            ))
        }
    };
    Ok(replay::report_single(
        model,
        strategy.as_str(),
        &outcome,
        watch,
        seed,
    ))
}

/// The command that replays a schedule:
/// `lockstep replay <model> --variant V [--bound k=v ...] --schedule S`.
pub fn replay_command(model: &str, variant: &str, bounds: &Bounds, schedule: &str) -> String {
    let mut cmd = format!("lockstep replay {model} --variant {variant}");
    for (k, v) in bounds {
        cmd.push_str(&format!(" --bound {k}={v}"));
    }
    cmd.push_str(&format!(" --schedule {schedule}"));
    cmd
}
