//! Command-line arguments (clap derive). The shapes here are the CLI contract
//! of design.md: commands, flags and their meaning.

use clap::{Args, Parser, Subcommand};

use crate::explore::Strategy;

#[derive(Parser, Debug)]
#[command(
    name = "lockstep",
    version,
    about = "Deterministic simulation and model checking for async lifecycle code",
    long_about = "Deterministic simulation and model checking for async lifecycle code.\n\n\
        With no command, checks every registered headline variant and prints the table.\n\
        Exit codes: 0 holds / passed, 1 violation found, 2 bad input, 3 inconclusive."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List models, variants, levels, default bounds and scenarios.
    List,
    /// Check a model variant exhaustively (or by random / PCT search).
    Check(CheckArgs),
    /// Run a scenario file and compare with its expectations.
    Run(RunArgs),
    /// Replay a counterexample from a schedule string or seed.
    Replay(ReplayArgs),
    /// Run scenarios over a range of seeds (random schedules), optionally sharded.
    Sweep(SweepArgs),
    /// Print performance figures.
    Bench(BenchArgs),
    /// Check a recorded trace (JSONL lifecycle events, or a host log) against a protocol model.
    Conform(ConformArgs),
}

/// Flags shared by `check` and `replay` that select what to build.
#[derive(Args, Debug, Clone)]
pub struct Selection {
    /// Variant of the model (see `lockstep list`).
    #[arg(long)]
    pub variant: Option<String>,
    /// `spec` (protocol model) or `impl` (implementation model).
    #[arg(long)]
    pub level: Option<String>,
    /// Override a bound, `name=value` (repeatable).
    #[arg(long = "bound", value_name = "K=V")]
    pub bounds: Vec<String>,
    /// A model parameter that is not a bound, `name=value` (repeatable).
    #[arg(long = "param", value_name = "K=V")]
    pub params: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// Model name (see `lockstep list`).
    pub model: String,
    #[command(flatten)]
    pub selection: Selection,
    #[command(flatten)]
    pub search: SearchArgs,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Also report what the check reached: phases x events, faults fired,
    /// `sometimes` properties hit (a separate pass; see docs/debugging.md).
    #[arg(long)]
    pub coverage: bool,
}

/// How to search; defaults depend on the level (BFS for spec, DFS for impl).
#[derive(Args, Debug, Clone, Default)]
pub struct SearchArgs {
    #[arg(long)]
    pub strategy: Option<Strategy>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop with `inconclusive` after this many distinct states.
    #[arg(long)]
    pub budget_states: Option<u64>,
    /// Stop with `inconclusive` after this many schedules / random walks.
    #[arg(long)]
    pub budget_schedules: Option<u64>,
    /// Checker threads (protocol BFS and implementation DFS); 0 = all cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Store whole states instead of fingerprints (rules out hash collisions).
    #[arg(long)]
    pub exact: bool,
    /// Depth bound in steps.
    #[arg(long)]
    pub max_depth: Option<u64>,
    /// Preemption bound for schedule DFS.
    #[arg(long)]
    pub preemption_bound: Option<u32>,
    /// Disable sleep sets and state caching (for comparisons).
    #[arg(long)]
    pub no_reduction: bool,
    /// Wall-clock safety stop in seconds (yields `inconclusive`).
    #[arg(long)]
    pub max_seconds: Option<u64>,
    /// Implementation level: explore on after a failing run and judge every
    /// property (each violated one gets its own counterexample and replay).
    #[arg(long)]
    pub keep_going: bool,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub scenario: String,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ReplayArgs {
    /// A scenario file (`*.toml`) or a model name.
    pub target: String,
    #[command(flatten)]
    pub selection: Selection,
    /// Replay the random / PCT run with this seed.
    #[arg(long, conflicts_with = "schedule")]
    pub seed: Option<u64>,
    /// Replay this schedule string.
    #[arg(long)]
    pub schedule: Option<String>,
    /// Strategy the seed belongs to (random or pct).
    #[arg(long)]
    pub strategy: Option<Strategy>,
    /// How to print the trace: text, list, json, mermaid, chrome, html (one
    /// self-contained file), waitfor (the deadlock's wait-for graph, Mermaid).
    #[arg(long, default_value = "text")]
    pub format: String,
    /// Print a `#[test]` that replays this counterexample and fails while the
    /// violation still reproduces (instead of the trace).
    #[arg(long)]
    pub emit_test: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    /// Scenario files.
    #[arg(required = true)]
    pub scenarios: Vec<String>,
    /// Seed range `A..B` (B exclusive).
    #[arg(long)]
    pub seeds: String,
    /// Run only shard I of N (`I/N`, I from 0): seeds with `seed % N == I`.
    #[arg(long)]
    pub shard: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    #[arg(long)]
    pub json: bool,
    /// Smaller sizes (a smoke run).
    #[arg(long)]
    pub quick: bool,
    /// Threads for parallel sections (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run only the sections whose name contains this text (e.g. `implementation`).
    #[arg(long)]
    pub section: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ConformArgs {
    /// The trace: schema-v1 JSON Lines, or a log in the `--from` format.
    pub file: String,
    /// Protocol model to check against (default: the one that reads `--from`).
    #[arg(long)]
    pub model: Option<String>,
    /// Variant of the model (default: the model's conformance default).
    #[arg(long)]
    pub variant: Option<String>,
    /// Input format: `jsonl` (lifecycle events) or a registered one (`host-log`).
    #[arg(long, default_value = "jsonl")]
    pub from: String,
    /// Override a bound, `name=value` (repeatable).
    #[arg(long = "bound", value_name = "K=V")]
    pub bounds: Vec<String>,
    /// A model parameter, `name=value` (repeatable).
    #[arg(long = "param", value_name = "K=V")]
    pub params: Vec<String>,
    /// Stop with `inconclusive` past this many consistent model states.
    #[arg(long)]
    pub budget_states: Option<u64>,
    /// Print the input as schema-v1 JSON Lines (after `--from` conversion) instead of checking it.
    #[arg(long)]
    pub print_events: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}
