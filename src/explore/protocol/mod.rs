//! Explicit-state checkers for protocol models: one file per strategy.
//!
//! * [`check`] runs the strategy of [`CheckOptions`] ([`bfs`]: level-synchronous,
//!   sharded fingerprint tables, multi-threaded, shortest counterexamples;
//!   [`dfs`]: explicit stack; [`random`]: seeded walks), then, when the main
//!   pass covered the whole space, the liveness passes of [`liveness`]:
//!   none after a BFS of a model with a progress measure ([`flags`]: the BFS
//!   itself decides), [`kahn`] after other BFSs (in-degrees counted by the
//!   BFS in [`counting`] tables), [`acyclic`] after a DFS, and the
//!   cycle-aware DFS / nested-DFS passes when the graph has a cycle or in
//!   exact mode.
//! * [`check_detailed`] also returns every violated property's counterexample;
//!   [`check_property`] checks one named property alone; [`check_with`] takes
//!   this checker's own [`ProtocolOptions`].
//! * [`outcome`] turns what the passes found into the [`Report`].

pub mod acyclic;
mod agree;
mod batch;
pub mod bfs;
pub mod counting;
pub mod dfs;
pub mod flags;
#[cfg(test)]
mod flags_tests;
pub mod hash;
pub mod kahn;
pub mod lines;
pub mod liveness;
pub mod outcome;
mod parents;
pub mod props;
pub mod random;
pub mod slots;
#[cfg(test)]
mod terminal_tests;
#[cfg(test)]
mod tests;
pub mod visited;

use std::collections::BTreeMap;

use crate::explore::model::{Model, DEADLOCK};
use crate::explore::{CheckOptions, Strategy};
use crate::report::{Report, Stopwatch};
use crate::trace::TraceEvent;

pub use agree::successors_agree;
pub use props::PropTable;

/// Options of this checker beyond [`CheckOptions`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolOptions {
    /// Stop at the first violation of any property instead of going on until
    /// every safety property has its own counterexample (default off).
    pub stop_at_first: bool,
    /// Run the liveness passes (`eventually`, `eventually-always`) after a
    /// complete main pass (default on; off reports them `inconclusive`).
    pub liveness: bool,
    /// Use the model's progress measure, if it has one, to decide liveness
    /// within the BFS (default on; off runs Kahn's pass instead, for
    /// comparisons).
    pub use_progress: bool,
}

impl Default for ProtocolOptions {
    fn default() -> Self {
        ProtocolOptions {
            stop_at_first: false,
            liveness: true,
            use_progress: true,
        }
    }
}

/// A path through the state graph: the index of an initial state, then the
/// index of the taken action among `Model::actions` at each step. For a
/// lasso, `loop_to` is the step whose state the last step returns to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counterexample {
    pub init: usize,
    pub actions: Vec<u32>,
    pub loop_to: Option<usize>,
}

/// Why a pass stopped before covering the space (the verdict becomes
/// `inconclusive` unless something was violated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop(pub String);

/// What a main pass (BFS, DFS or random) found.
#[derive(Clone, Debug, Default)]
pub struct Exploration {
    /// Distinct states stored.
    pub states: u64,
    /// Transitions (successor computations) made.
    pub transitions: u64,
    /// Random walks run (0 for BFS / DFS).
    pub walks: u64,
    /// Set when the space was not covered (budget, time, depth bound).
    pub stopped: Option<Stop>,
    /// Whether the pass stopped because every safety property was found.
    pub stopped_early: bool,
    /// Per table index: the counterexample found.
    pub found: Vec<Option<Counterexample>>,
    /// Per table index: a `sometimes` property was satisfied.
    pub reached: Vec<bool>,
    /// Bytes held by the visited set and parent records at the end.
    pub visited_bytes: u64,
    pub notes: Vec<String>,
}

impl Exploration {
    fn new(len: usize) -> Self {
        Exploration {
            found: vec![None; len],
            reached: vec![false; len],
            ..Default::default()
        }
    }
    /// Whether every index in `indices` has a counterexample.
    fn all_found(&self, indices: &[usize]) -> bool {
        indices.iter().all(|&i| self.found[i].is_some())
    }
}

/// Everything a pass needs: the model, its property table, the options and
/// the clock for the wall-time safety stop.
pub struct Ctx<'a, M: Model> {
    pub model: &'a M,
    pub table: PropTable<M>,
    pub opts: &'a CheckOptions,
    pub popts: &'a ProtocolOptions,
    pub clock: Stopwatch,
    pub progress: Progress,
}

impl<M: Model> Ctx<'_, M> {
    /// The budget or time stop that applies once `states` are stored, if any.
    pub fn budget_stop(&self, states: u64) -> Option<Stop> {
        if states > self.opts.budget_states {
            return Some(Stop(format!(
                "state budget exhausted: more than {} distinct states (--budget-states)",
                self.opts.budget_states
            )));
        }
        let limit = self.opts.max_seconds;
        if limit > 0 && self.clock.elapsed_secs_f64() > limit as f64 {
            return Some(Stop(format!(
                "time safety stop: {limit} s passed after {states} distinct states"
            )));
        }
        None
    }
}

/// An optional progress bar on stderr (states and states/s).
pub struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(enabled: bool) -> Self {
        if !enabled {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::with_draw_target(
            None,
            indicatif::ProgressDrawTarget::stderr_with_hz(4),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        Progress(Some(bar))
    }
    pub fn update(&self, what: &str, states: u64, clock: &Stopwatch) {
        if let Some(bar) = &self.0 {
            let rate = states as f64 / clock.elapsed_secs_f64().max(1e-9);
            bar.set_message(format!("{what}: {states} states ({rate:.0} states/s)"));
            bar.tick();
        }
    }
    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Checks every property of `model` with the strategy of `opts`.
pub fn check<M: Model>(model: &M, opts: &CheckOptions) -> Report {
    check_detailed(model, opts).0
}

/// Like [`check`], and also every violated property's counterexample, by name.
pub fn check_detailed<M: Model>(
    model: &M,
    opts: &CheckOptions,
) -> (Report, BTreeMap<String, Vec<TraceEvent>>) {
    check_with(model, opts, &ProtocolOptions::default())
}

/// Checks the one property called `name` (`deadlock` or a model property);
/// the report's verdict and trace are that property's. An unknown name is an
/// error listing the known ones.
pub fn check_property<M: Model>(
    model: &M,
    opts: &CheckOptions,
    name: &str,
) -> Result<Report, String> {
    let props = model.properties();
    let known: Vec<&str> = std::iter::once(DEADLOCK)
        .chain(props.iter().map(|p| p.name))
        .collect();
    if !known.contains(&name) {
        return Err(format!(
            "unknown property `{name}` of model {} (known: {})",
            model.name(),
            known.join(", ")
        ));
    }
    let only: Vec<_> = props.into_iter().filter(|p| p.name == name).collect();
    let table = PropTable::new(only, name == DEADLOCK);
    Ok(run(model, opts, &ProtocolOptions::default(), table).0)
}

/// [`check_detailed`] with this checker's own options.
pub fn check_with<M: Model>(
    model: &M,
    opts: &CheckOptions,
    popts: &ProtocolOptions,
) -> (Report, BTreeMap<String, Vec<TraceEvent>>) {
    run(model, opts, popts, PropTable::new(model.properties(), true))
}

fn run<M: Model>(
    model: &M,
    opts: &CheckOptions,
    popts: &ProtocolOptions,
    table: PropTable<M>,
) -> (Report, BTreeMap<String, Vec<TraceEvent>>) {
    let ctx = Ctx {
        model,
        table,
        opts,
        popts,
        clock: Stopwatch::start(),
        progress: Progress::new(opts.progress),
    };
    let wants_liveness = popts.liveness
        && opts.strategy != Strategy::Random
        && !(ctx.table.eventually.is_empty() && ctx.table.eventually_always.is_empty());
    // With a progress measure the BFS decides liveness itself (flags.rs);
    // without one it counts in-degrees for Kahn's pass.
    let ranked = wants_liveness
        && popts.use_progress
        && !opts.exact
        && matches!(opts.strategy, Strategy::Bfs | Strategy::Pct)
        && model
            .init_states()
            .iter()
            .all(|s| model.progress(s).is_some());
    let tracked: Vec<usize> = ctx
        .table
        .eventually
        .iter()
        .copied()
        .take(flags::GROUP)
        .collect();
    let live = bfs::Live {
        props: &tracked,
        ranked,
    };
    let mut prepared = liveness::Prepared::Nothing;
    let mut exploration = match (&opts.strategy, opts.exact) {
        (Strategy::Dfs, false) => dfs::explore(&ctx, visited::FpTable::new),
        (Strategy::Dfs, true) => dfs::explore(&ctx, visited::ExactTable::new),
        (Strategy::Random, false) => random::explore(&ctx, visited::FpTable::new),
        (Strategy::Random, true) => random::explore(&ctx, visited::ExactTable::new),
        (Strategy::Bfs | Strategy::Pct, false) if ranked => {
            let (x, _, outcome) = bfs::explore(&ctx, flags::FlagTable::new, live);
            if let Some(outcome) = outcome {
                prepared = liveness::Prepared::Flagged(outcome, tracked.clone());
            }
            x
        }
        (Strategy::Bfs | Strategy::Pct, false) if wants_liveness => {
            // Count in-degrees on the way, for Kahn's liveness pass.
            let (x, tables, _) = bfs::explore(&ctx, counting::CountTable::new, live);
            prepared = liveness::Prepared::Counted(tables);
            x
        }
        (Strategy::Bfs | Strategy::Pct, false) => bfs::explore(&ctx, visited::FpTable::new, live).0,
        (Strategy::Bfs | Strategy::Pct, true) => {
            bfs::explore(&ctx, visited::ExactTable::new, live).0
        }
    };
    if opts.strategy == Strategy::Pct {
        exploration.notes.push(
            "pct is a schedule strategy of implementation models; the protocol level ran bfs"
                .to_string(),
        );
    }
    let liveness = if exploration.stopped.is_none() && !exploration.stopped_early && wants_liveness
    {
        let already: Vec<bool> = exploration.found.iter().map(Option::is_some).collect();
        Some(if opts.exact {
            liveness::check(&ctx, visited::ExactTable::new, &already, prepared)
        } else {
            liveness::check(&ctx, visited::FpTable::new, &already, prepared)
        })
    } else {
        None
    };
    ctx.progress.finish();
    outcome::assemble(&ctx, exploration, liveness)
}
