//! Reports: the value every check, run and replay produces (the `--json` contract).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::trace::TraceEvent;

/// Named bounds of a check (`R=6`, `storage_failures=1`, ...), ordered by name.
pub type Bounds = BTreeMap<String, i64>;

/// The outcome of a check or run. Maps to the CLI exit codes 0 / 1 / 3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every property holds within the stated bounds (exit 0).
    #[default]
    Holds,
    /// A property is violated; `property` and `trace` say which and how (exit 1).
    Violated,
    /// A budget ran out before the bounds were covered (exit 3).
    Inconclusive,
}

impl Verdict {
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Holds => 0,
            Verdict::Violated => 1,
            Verdict::Inconclusive => 3,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "violated",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// What became of one named property.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyResult {
    pub name: String,
    /// `always`, `sometimes`, `eventually`, `eventually-always`, `deadlock`.
    pub kind: String,
    pub verdict: Verdict,
}

/// One edge of a wait-for graph: `task` waits on `resource`, held by `holder`
/// (`None` when nobody holds it, e.g. a latch nobody will ever set).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitEdge {
    pub task: String,
    pub resource: String,
    pub holder: Option<String>,
}

/// The report of a check, run or replay. Serialized as the `--json` object;
/// the first fields are the CLI contract (see design.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub model: String,
    pub variant: String,
    /// `spec` (protocol model) or `impl` (implementation model).
    pub level: String,
    pub strategy: String,
    pub bounds: Bounds,
    pub verdict: Verdict,
    /// The violated property, or `None` when the verdict is not `violated`.
    pub property: Option<String>,
    /// Distinct states explored (protocol level, or cached impl states).
    pub states: u64,
    /// Schedules (complete executions) explored; 0 for protocol-level BFS.
    pub schedules: u64,
    pub elapsed_ms: u64,
    /// The counterexample, empty when the verdict is `holds`.
    pub trace: Vec<TraceEvent>,
    /// The exact command that reproduces this run.
    pub replay: String,
    pub seed: u64,
    /// The schedule string of the counterexample, when there is one.
    #[serde(default)]
    pub schedule: Option<String>,
    /// The same counterexample as a semantic schedule (steps named by task and
    /// operation: survives small code changes); `--schedule` accepts it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic_schedule: Option<String>,
    /// Per-property results (sometimes reached, always held, ...).
    #[serde(default)]
    pub properties: Vec<PropertyResult>,
    /// The wait-for cycle of a deadlock, when there is one.
    #[serde(default)]
    pub wait_for: Vec<WaitEdge>,
    /// Free-form facts worth a reader's attention (budget hit, bound reached, ...).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Length of the counterexample as found, when the minimizer shortened it
    /// (`trace` is then the minimized one; lengths count actions or decisions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimized_from: Option<u64>,
    /// What the check reached (`check --coverage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<crate::explore::coverage::Coverage>,
    /// With `--keep-going`: every other violated property, with the first
    /// counterexample found for it and the command that replays it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_violated: Vec<AlsoViolated>,
}

/// A further violated property of a `--keep-going` check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlsoViolated {
    pub property: String,
    /// 1-based number of the run (execution) that first violated it.
    pub run: u64,
    pub schedule: String,
    pub replay: String,
}

impl Report {
    /// An empty report for `model`/`variant` at `level`, to be filled in by a checker.
    pub fn new(model: &str, variant: &str, level: &str, strategy: &str, bounds: Bounds) -> Self {
        Report {
            model: model.to_string(),
            variant: variant.to_string(),
            level: level.to_string(),
            strategy: strategy.to_string(),
            bounds,
            verdict: Verdict::Holds,
            property: None,
            states: 0,
            schedules: 0,
            elapsed_ms: 0,
            trace: Vec::new(),
            replay: String::new(),
            seed: 0,
            schedule: None,
            semantic_schedule: None,
            properties: Vec::new(),
            wait_for: Vec::new(),
            notes: Vec::new(),
            minimized_from: None,
            coverage: None,
            also_violated: Vec::new(),
        }
    }
}

/// Measures elapsed wall time for the `elapsed_ms` field of reports and for
/// safety stops. This is the one sanctioned wall-clock read: it never feeds a
/// decision that changes a trace, only the reported duration and the
/// `max_seconds` safety stop (which yields `inconclusive`).
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch(std::time::Instant);

impl Stopwatch {
    #[allow(clippy::disallowed_methods)] // elapsed time for reports only; see type docs
    pub fn start() -> Self {
        Stopwatch(std::time::Instant::now())
    }
    pub fn elapsed_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
    pub fn elapsed_secs_f64(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}
