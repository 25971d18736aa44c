//! Exploration: the protocol-model interface and the checkers, one file per strategy.
//!
//! * [`model`]: the pure [`Model`] trait protocol models implement.
//! * [`protocol`]: explicit-state checkers for protocol models (BFS with a
//!   fingerprint visited set, DFS, multi-threaded BFS, liveness on cycles).
//! * [`schedules`]: schedule explorers for implementation models running on
//!   the deterministic executor (exhaustive DFS with sleep sets and state
//!   caching, seeded random, PCT, replay of a schedule string).
//! * [`minimize`]: shrinks a counterexample found by DFS, random, PCT or a sweep.
//! * [`semantic`]: schedules that name steps by task and operation, so they
//!   survive small code changes.
//! * [`coverage`]: what a check reached (phases x events, faults, `sometimes`).

pub mod coverage;
pub mod minimize;
pub mod model;
pub mod protocol;
pub mod schedules;
pub mod semantic;
pub mod walk;

pub use model::{Model, Property, PropertyKind, DEADLOCK};

/// How to explore. Shared by both levels; each checker reads what applies to it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Breadth-first (protocol level): shortest counterexamples.
    Bfs,
    /// Depth-first: explicit-state at protocol level; exhaustive schedule DFS
    /// (sleep sets, state caching) at implementation level.
    Dfs,
    /// Seeded random walks / random schedules.
    Random,
    /// Probabilistic concurrency testing (priority change points).
    Pct,
}

impl Strategy {
    pub fn as_str(&self) -> &'static str {
        match self {
            Strategy::Bfs => "bfs",
            Strategy::Dfs => "dfs",
            Strategy::Random => "random",
            Strategy::Pct => "pct",
        }
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bfs" => Ok(Strategy::Bfs),
            "dfs" => Ok(Strategy::Dfs),
            "random" => Ok(Strategy::Random),
            "pct" => Ok(Strategy::Pct),
            other => Err(format!(
                "unknown strategy `{other}` (expected bfs, dfs, random or pct)"
            )),
        }
    }
}

/// Options of one check. Budgets are counts; `max_seconds` is only a safety
/// stop that turns the verdict into `inconclusive`, never a correctness input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    pub strategy: Strategy,
    /// Root seed for random / PCT strategies and the world's PRNG tree.
    pub seed: u64,
    /// Stop with `inconclusive` after this many distinct states.
    pub budget_states: u64,
    /// Stop with `inconclusive` after this many schedules (implementation level)
    /// or random walks (protocol level, random strategy).
    pub budget_schedules: u64,
    /// Worker threads for the protocol-level checker (1 = sequential).
    pub threads: usize,
    /// Store whole states instead of 64-bit fingerprints (rules out collisions).
    pub exact: bool,
    /// Depth bound in steps (0 = unbounded); hitting it is stated in the report.
    pub max_depth: u64,
    /// Preemption bound for schedule DFS (None = unbounded).
    pub preemption_bound: Option<u32>,
    /// Turn off partial-order reduction (sleep sets) and state caching, for
    /// comparison figures.
    pub no_reduction: bool,
    /// PCT bug depth (number of priority change points + 1).
    pub pct_depth: u32,
    /// Wall-clock safety stop in seconds (0 = none). Yields `inconclusive`.
    pub max_seconds: u64,
    /// Show a progress bar (only when stderr is a terminal; the CLI decides).
    pub progress: bool,
    /// Implementation level: explore on after a failing run instead of
    /// stopping at the first, so every property gets its own verdict (and
    /// its own first counterexample). The protocol checker always does this
    /// for safety properties.
    pub keep_going: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            strategy: Strategy::Bfs,
            seed: 0,
            budget_states: 50_000_000,
            budget_schedules: 1_000_000,
            threads: 1,
            exact: false,
            max_depth: 0,
            preemption_bound: None,
            no_reduction: false,
            pct_depth: 3,
            max_seconds: 0,
            progress: false,
            keep_going: false,
        }
    }
}
