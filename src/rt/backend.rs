//! What a cross-engine check reports ([`BackendOutcome`]) and how verdicts
//! of different engines are compared ([`agree`]).
//!
//! Every engine (lockstep's own explorers, shuttle's PCT / random / DFS
//! schedulers, madsim's seeded runtime) runs the same [`ImplModel`] and
//! reduces to the same pair: verdict plus violated property. A failing
//! iteration stops the engine; otherwise the verdict is `holds`, unless a
//! declared `sometimes` property was never reached (then `violated` with
//! that property, as lockstep's own explorers judge it).
#![cfg_attr(not(any(feature = "shuttle", feature = "madsim")), allow(dead_code))]

use std::collections::BTreeSet;
use std::sync::Arc;

use super::executor::{RunOutcome, RunStatus};
use crate::explore::schedules::ImplModel;
use crate::explore::PropertyKind;
use crate::report::{Report, Verdict, WaitEdge};
use crate::trace::TraceEvent;

/// A model shared with a backend whose runner needs `'static` closures.
pub type SharedModel = Arc<dyn ImplModel + Send + Sync>;

/// The result of running a model on one engine.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendOutcome {
    /// `shuttle-pct`, `shuttle-random`, `shuttle-dfs`, `madsim`.
    pub engine: String,
    pub verdict: Verdict,
    /// The violated property (`deadlock`, an `always`, `panic`, or a
    /// `sometimes` never reached), when the verdict is `violated`.
    pub property: Option<String>,
    /// Iterations (schedules, seeds) run, including the failing one.
    pub iterations: u64,
    /// The failing iteration's seed (madsim seed, shuttle data seed).
    pub failing_seed: Option<u64>,
    /// How the backend replays the failing iteration (shuttle: the schedule
    /// token for `shuttle_backend::replay`; madsim: the seed).
    pub failing_schedule: Option<String>,
    /// The failing iteration's decisions in lockstep's schedule format (for
    /// `lockstep replay --schedule`, when the engines' steps line up).
    pub lockstep_schedule: Option<String>,
    /// The wait-for cycle of a deadlock (from lockstep's bookkeeping).
    pub wait_for: Vec<WaitEdge>,
    /// The failing iteration's trace (re-run at `Ops` level).
    pub trace: Vec<TraceEvent>,
    pub notes: Vec<String>,
}

impl BackendOutcome {
    /// `(verdict, property)`: what engines must agree on.
    pub fn verdict_key(&self) -> (Verdict, Option<String>) {
        (self.verdict, self.property.clone())
    }

    /// One line naming the engine, verdict, property and how to replay.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: {}{} after {} iteration(s)",
            self.engine,
            self.verdict.as_str(),
            self.property
                .as_ref()
                .map_or_else(String::new, |p| format!(" ({p})")),
            self.iterations
        );
        if let Some(seed) = self.failing_seed {
            s.push_str(&format!("; failing seed {seed}"));
        }
        if let Some(sched) = &self.failing_schedule {
            s.push_str(&format!("; replay {sched}"));
        }
        if !self.wait_for.is_empty() {
            let cycle: Vec<String> = self
                .wait_for
                .iter()
                .map(|e| {
                    format!(
                        "{} waits on {} held by {}",
                        e.task,
                        e.resource,
                        e.holder.as_deref().unwrap_or("nobody")
                    )
                })
                .collect();
            s.push_str(&format!("; wait-for: {}", cycle.join(" -> ")));
        }
        for n in &self.notes {
            s.push_str(&format!("; {n}"));
        }
        s
    }
}

/// `(verdict, property)` of a lockstep report.
pub fn report_key(report: &Report) -> (Verdict, Option<String>) {
    (report.verdict, report.property.clone())
}

/// One line for a lockstep report, in the style of [`BackendOutcome::summary`].
pub fn report_summary(report: &Report) -> String {
    format!(
        "lockstep-{}: {}{} after {} schedule(s); replay {}",
        report.strategy,
        report.verdict.as_str(),
        report
            .property
            .as_ref()
            .map_or_else(String::new, |p| format!(" ({p})")),
        report.schedules,
        if report.replay.is_empty() {
            "-"
        } else {
            &report.replay
        }
    )
}

/// Checks that every backend reached lockstep's verdict and property; the
/// error names both engines' outputs for each disagreement.
pub fn agree(own: &Report, others: &[BackendOutcome]) -> Result<(), String> {
    let expected = report_key(own);
    let mut problems = Vec::new();
    for o in others {
        if o.verdict_key() != expected {
            problems.push(format!(
                "engines disagree on {} / {}:\n  {}\n  {}",
                own.model,
                own.variant,
                report_summary(own),
                o.summary()
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Tallies the iterations of one backend check.
pub(crate) struct Tally {
    engine: String,
    properties: Vec<(String, PropertyKind)>,
    pub(crate) iterations: u64,
    sometimes: BTreeSet<String>,
    step_bound_runs: u64,
    time_bound_runs: u64,
}

impl Tally {
    pub(crate) fn new(engine: &str, model: &dyn ImplModel) -> Self {
        Tally {
            engine: engine.to_string(),
            properties: model.properties(),
            iterations: 0,
            sometimes: BTreeSet::new(),
            step_bound_runs: 0,
            time_bound_runs: 0,
        }
    }

    pub(crate) fn add(&mut self, o: &RunOutcome) {
        self.iterations += 1;
        match o.status {
            RunStatus::StepBoundReached => self.step_bound_runs += 1,
            RunStatus::TimeBoundReached => self.time_bound_runs += 1,
            _ => {}
        }
        for s in &o.sometimes_reached {
            self.sometimes.insert(s.clone());
        }
    }

    fn base(&self, verdict: Verdict, property: Option<String>) -> BackendOutcome {
        let mut notes = Vec::new();
        if self.step_bound_runs > 0 {
            notes.push(format!(
                "{} iteration(s) cut at the step bound",
                self.step_bound_runs
            ));
        }
        if self.time_bound_runs > 0 {
            notes.push(format!(
                "{} iteration(s) cut at the virtual-time bound",
                self.time_bound_runs
            ));
        }
        BackendOutcome {
            engine: self.engine.clone(),
            verdict,
            property,
            iterations: self.iterations,
            failing_seed: None,
            failing_schedule: None,
            lockstep_schedule: None,
            wait_for: Vec::new(),
            trace: Vec::new(),
            notes,
        }
    }

    /// The outcome of a check whose iteration `failing` failed.
    pub(crate) fn fail(&self, failing: &RunOutcome) -> BackendOutcome {
        let mut out = self.base(Verdict::Violated, failing.property());
        out.lockstep_schedule = Some(failing.schedule.to_string());
        out.trace = failing.trace.clone();
        match &failing.status {
            RunStatus::Deadlock { wait_for, .. } => out.wait_for = wait_for.clone(),
            RunStatus::Panic { task, message } => {
                out.notes.push(format!("task {task} panicked: {message}"))
            }
            RunStatus::Violation { property, detail } => out
                .notes
                .push(format!("always `{property}` violated: {detail}")),
            _ => {}
        }
        out
    }

    /// The outcome of a check with no failing iteration. `complete` says
    /// whether the planned coverage was reached (else `inconclusive`).
    pub(crate) fn pass(&self, complete: bool) -> BackendOutcome {
        if !complete {
            return self.base(Verdict::Inconclusive, None);
        }
        let unreached: Vec<&str> = self
            .properties
            .iter()
            .filter(|(name, kind)| {
                *kind == PropertyKind::Sometimes && !self.sometimes.contains(name)
            })
            .map(|(name, _)| name.as_str())
            .collect();
        match unreached.first() {
            Some(first) => {
                let mut out = self.base(Verdict::Violated, Some(first.to_string()));
                out.notes
                    .push(format!("sometimes never reached: {}", unreached.join(", ")));
                out
            }
            None => self.base(Verdict::Holds, None),
        }
    }
}
