//! Turning run outcomes into a [`Report`]: tallies over many runs, the
//! failing run's details, and per-property verdicts.

use std::collections::{BTreeMap, BTreeSet};

use super::{replay_command, ImplModel};
use crate::explore::{PropertyKind, DEADLOCK};
use crate::report::{AlsoViolated, PropertyResult, Report, Verdict};
use crate::rt::{RunOutcome, RunStatus};

/// Facts accumulated over the runs of one check.
#[derive(Default, Debug)]
pub(crate) struct Tally {
    /// Runs that reached an end (completed, failed or hit a bound).
    pub schedules: u64,
    /// Runs an explorer cut short (sleep-set blocked or state already covered).
    pub abandoned: u64,
    pub step_bound_runs: u64,
    pub time_bound_runs: u64,
    pub steps: u64,
    pub max_run_steps: u64,
    pub sometimes: BTreeSet<String>,
}

impl Tally {
    pub(crate) fn add(&mut self, o: &RunOutcome) {
        match o.status {
            RunStatus::Abandoned => self.abandoned += 1,
            RunStatus::StepBoundReached => {
                self.schedules += 1;
                self.step_bound_runs += 1
            }
            RunStatus::TimeBoundReached => {
                self.schedules += 1;
                self.time_bound_runs += 1
            }
            _ => self.schedules += 1,
        }
        self.steps += o.steps;
        self.max_run_steps = self.max_run_steps.max(o.steps);
        for s in &o.sometimes_reached {
            if !self.sometimes.contains(s) {
                self.sometimes.insert(s.clone());
            }
        }
    }

    /// Adds the tally of another (sub)tree's runs.
    pub(crate) fn merge(&mut self, other: &Tally) {
        self.schedules += other.schedules;
        self.abandoned += other.abandoned;
        self.step_bound_runs += other.step_bound_runs;
        self.time_bound_runs += other.time_bound_runs;
        self.steps += other.steps;
        self.max_run_steps = self.max_run_steps.max(other.max_run_steps);
        self.sometimes.extend(other.sometimes.iter().cloned());
    }

    pub(crate) fn runs(&self) -> u64 {
        self.schedules + self.abandoned
    }

    /// Notes about bounds the runs hit.
    pub(crate) fn bound_notes(&self, max_steps: u64, notes: &mut Vec<String>) {
        if self.step_bound_runs > 0 {
            notes.push(format!(
                "{} run(s) were cut at the step bound (max_steps = {max_steps}): results hold \
                 within that bound only",
                self.step_bound_runs
            ));
        }
        if self.time_bound_runs > 0 {
            notes.push(format!(
                "{} run(s) were cut at the virtual-time bound: results hold within that bound only",
                self.time_bound_runs
            ));
        }
    }
}

pub(crate) fn new_report<I: ImplModel + ?Sized>(model: &I, strategy: &str) -> Report {
    Report::new(
        &model.name(),
        &model.variant(),
        "impl",
        strategy,
        model.bounds(),
    )
}

fn kind_name(kind: PropertyKind) -> &'static str {
    match kind {
        PropertyKind::Always => "always",
        PropertyKind::Sometimes => "sometimes",
        PropertyKind::Eventually => "eventually",
        PropertyKind::EventuallyAlways => "eventually-always",
    }
}

/// Fills a violated report from the failing run (re-run at full trace level).
pub(crate) fn fill_failure<I: ImplModel + ?Sized>(
    report: &mut Report,
    model: &I,
    failing: &RunOutcome,
    tally: &Tally,
) {
    report.verdict = Verdict::Violated;
    report.property = failing.property();
    report.trace = failing.trace.clone();
    let schedule = failing.schedule.to_string();
    report.replay = replay_command(&model.name(), &model.variant(), &model.bounds(), &schedule);
    report.schedule = Some(schedule);
    if let RunStatus::Deadlock {
        wait_for,
        cycle,
        blocked,
    } = &failing.status
    {
        report.wait_for = wait_for.clone();
        if !cycle {
            report.notes.push(format!(
                "deadlock without a wait-for cycle: {} wait(s) nobody can satisfy",
                blocked.join(", ")
            ));
        }
    }
    if let RunStatus::Panic { task, message } = &failing.status {
        report
            .notes
            .push(format!("task {task} panicked: {message}"));
    }
    for v in &failing.violations {
        report.notes.push(format!(
            "always `{}` violated at step {} in {}: {}",
            v.property, v.step, v.task, v.detail
        ));
    }
    let violated: BTreeSet<&str> = failing
        .violations
        .iter()
        .map(|v| v.property.as_str())
        .collect();
    let deadlocked = matches!(failing.status, RunStatus::Deadlock { .. });
    // Exploration stopped at this failure: whatever it did not refute is
    // undecided (a `sometimes` it reached is decided: it holds).
    report.properties = property_results(model, |name, kind| match kind {
        _ if violated.contains(name) => Verdict::Violated,
        PropertyKind::Sometimes if tally.sometimes.contains(name) => Verdict::Holds,
        _ => Verdict::Inconclusive,
    });
    push_deadlock(
        report,
        if deadlocked {
            Verdict::Violated
        } else {
            Verdict::Inconclusive
        },
    );
    for v in &failing.violations {
        if !report.properties.iter().any(|p| p.name == v.property) {
            report.properties.push(PropertyResult {
                name: v.property.clone(),
                kind: "always".into(),
                verdict: Verdict::Violated,
            });
        }
    }
}

/// Fills the verdict of a check that found no failing run. `complete` says
/// whether the strategy's coverage was reached (exhausted, or all N random
/// runs done) rather than a budget running out; `judge_sometimes` whether an
/// unreached `sometimes` then fails the check (not for a single replayed run).
pub(crate) fn fill_pass<I: ImplModel + ?Sized>(
    report: &mut Report,
    model: &I,
    tally: &Tally,
    complete: bool,
    judge_sometimes: bool,
) {
    let base = if complete {
        Verdict::Holds
    } else {
        Verdict::Inconclusive
    };
    report.properties = property_results(model, |name, kind| match kind {
        PropertyKind::Sometimes if !tally.sometimes.contains(name) => {
            if complete && judge_sometimes {
                Verdict::Violated
            } else {
                Verdict::Inconclusive
            }
        }
        _ => base,
    });
    push_deadlock(report, base);
    report.verdict = base;
    let unreached: Vec<String> = report
        .properties
        .iter()
        .filter(|p| p.kind == "sometimes" && p.verdict == Verdict::Violated)
        .map(|p| p.name.clone())
        .collect();
    let not_this_run: Vec<&str> = report
        .properties
        .iter()
        .filter(|p| p.kind == "sometimes" && p.verdict == Verdict::Inconclusive)
        .map(|p| p.name.as_str())
        .collect();
    if complete && !judge_sometimes && !not_this_run.is_empty() {
        // One run need not reach every `sometimes` property: it is judged over
        // many runs (a multi-run check, a sweep), never by a single one.
        report.notes.push(format!(
            "sometimes propert{} not reached in this run: {} (a single run need not reach \
             every sometimes property; a check over several runs or a sweep judges them)",
            if not_this_run.len() == 1 { "y" } else { "ies" },
            not_this_run.join(", ")
        ));
    }
    if let Some(first) = unreached.first() {
        report.verdict = Verdict::Violated;
        report.property = Some(first.clone());
        report.notes.push(format!(
            "sometimes propert{} never reached in any explored run: {}",
            if unreached.len() == 1 { "y" } else { "ies" },
            unreached.join(", ")
        ));
    }
}

fn property_results<I: ImplModel + ?Sized>(
    model: &I,
    verdict: impl Fn(&str, PropertyKind) -> Verdict,
) -> Vec<PropertyResult> {
    model
        .properties()
        .into_iter()
        .map(|(name, kind)| PropertyResult {
            verdict: verdict(&name, kind),
            kind: kind_name(kind).to_string(),
            name,
        })
        .collect()
}

fn push_deadlock(report: &mut Report, verdict: Verdict) {
    report.properties.push(PropertyResult {
        name: DEADLOCK.to_string(),
        kind: DEADLOCK.to_string(),
        verdict,
    });
}

/// The failing runs of a `--keep-going` exploration: the first failing run
/// (the report's counterexample) and, per violated property, the schedule of
/// the first run that violated it.
#[derive(Default)]
pub(crate) struct Failures {
    pub first: Option<RunOutcome>,
    /// Property -> (1-based run number, schedule string) of its first violation.
    pub by_property: BTreeMap<String, (u64, String)>,
    pub failing_runs: u64,
}

impl Failures {
    /// Records a failing run (`run`: its 1-based number among all runs).
    pub(crate) fn add(&mut self, outcome: RunOutcome, run: u64) {
        self.failing_runs += 1;
        let mut names: Vec<String> = outcome
            .violations
            .iter()
            .map(|v| v.property.clone())
            .collect();
        names.extend(outcome.property());
        for name in names {
            self.by_property
                .entry(name)
                .or_insert_with(|| (run, outcome.schedule.to_string()));
        }
        if self.first.is_none() {
            self.first = Some(outcome);
        }
    }

    /// Appends the failures of runs explored after these ones (`offset`:
    /// how many runs came before them), keeping "first" in run order.
    pub(crate) fn append(&mut self, later: Failures, offset: u64) {
        self.failing_runs += later.failing_runs;
        for (name, (run, schedule)) in later.by_property {
            self.by_property
                .entry(name)
                .or_insert((run + offset, schedule));
        }
        if self.first.is_none() {
            self.first = later.first;
        }
    }

    /// Re-judges a report filled from `first` with what the whole exploration
    /// found: a property is violated if any run violated it; the others hold
    /// if the exploration was `complete`, else stay inconclusive; a `sometimes`
    /// nobody reached fails a complete exploration. Notes name every violated
    /// property's first run and how to replay it.
    pub(crate) fn judge<I: ImplModel + ?Sized>(
        &self,
        report: &mut Report,
        model: &I,
        tally: &Tally,
        complete: bool,
    ) {
        let unrefuted = if complete {
            Verdict::Holds
        } else {
            Verdict::Inconclusive
        };
        for p in &mut report.properties {
            p.verdict = if self.by_property.contains_key(&p.name) {
                Verdict::Violated
            } else if p.kind == "sometimes" {
                match (tally.sometimes.contains(&p.name), complete) {
                    (true, _) => Verdict::Holds,
                    (false, true) => Verdict::Violated,
                    (false, false) => Verdict::Inconclusive,
                }
            } else {
                unrefuted
            };
        }
        for name in self.by_property.keys() {
            if !report.properties.iter().any(|p| &p.name == name) {
                report.properties.push(PropertyResult {
                    name: name.clone(),
                    kind: "always".into(),
                    verdict: Verdict::Violated,
                });
            }
        }
        report.notes.push(format!(
            "kept going after failures: {} failing run(s); {} propert{} violated",
            self.failing_runs,
            self.by_property.len(),
            if self.by_property.len() == 1 {
                "y"
            } else {
                "ies"
            }
        ));
        for (name, (run, schedule)) in &self.by_property {
            if report.property.as_deref() == Some(name.as_str()) {
                continue;
            }
            report.also_violated.push(AlsoViolated {
                property: name.clone(),
                run: *run,
                schedule: schedule.clone(),
                replay: replay_command(&model.name(), &model.variant(), &model.bounds(), schedule),
            });
        }
    }
}
