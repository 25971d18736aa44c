//! The model registry: how a models crate tells the CLI what it can check.
//!
//! The harness knows no model by name. A models crate builds a [`Registry`]
//! of [`ModelEntry`]s, each with a constructor per level (`spec`, `impl`), and
//! hands it to [`crate::cli::main_with`]. Adapters ([`ModelEntry::with_spec`])
//! turn any [`Model`] constructor into the type-erased closures the CLI calls,
//! so every registered model gets check, replay, run, sweep and the headline
//! for free.

use std::collections::BTreeMap;

use crate::explore::schedules::{self, ImplModel};
use crate::explore::{self, coverage, minimize, semantic, CheckOptions, Model};
use crate::report::{Bounds, Report, Verdict};
use crate::world::FaultSpec;

/// Extra scenario knobs that are not bounds (`offline = true`, `bundle = false`),
/// stringified. Models parse what they understand and reject the rest.
pub type Params = BTreeMap<String, String>;

/// What the CLI asks a model level to do.
#[derive(Clone, Debug)]
pub struct Request {
    pub variant: String,
    /// Defaults of the entry overridden by `--bound` / scenario bounds.
    pub bounds: Bounds,
    pub params: Params,
    pub opts: CheckOptions,
    /// Fault rules from a scenario's `[[faults]]` (empty from the command line).
    pub faults: Vec<crate::world::FaultSpec>,
    /// Shrink a counterexample found by a non-BFS strategy (default on).
    pub minimize: bool,
    /// Add what the check reached to the report (`check --coverage`).
    pub coverage: bool,
    /// Replaying a semantic schedule: follow it only as far as it fits the model
    /// (a divergence is noted, not an error), then run on (implementation level:
    /// default policy to the end of the run). What a regression test does after
    /// the code changed.
    pub follow_prefix: bool,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            variant: String::new(),
            bounds: Bounds::new(),
            params: Params::new(),
            opts: CheckOptions::default(),
            faults: Vec::new(),
            minimize: true,
            coverage: false,
            follow_prefix: false,
        }
    }
}

type CheckFn = dyn Fn(&Request) -> Result<Report, String> + Send + Sync;
type ReplayFn = dyn Fn(&Request, &ReplayWhat) -> Result<Report, String> + Send + Sync;

/// What a replay reproduces: a recorded schedule, or the one run a random /
/// PCT seed names (strategy from the request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayWhat {
    Schedule(String),
    Seed(u64),
}

/// One level (`spec` or `impl`) of a registered model.
pub struct LevelEntry {
    pub default_bounds: Bounds,
    pub check: Box<CheckFn>,
    /// Replays a schedule string or a seed.
    pub replay: Box<ReplayFn>,
}

/// A registered model: its variants and the levels it can be checked at.
pub struct ModelEntry {
    pub name: String,
    pub description: String,
    pub variants: Vec<String>,
    /// `spec` and/or `impl`, in the order `check` tries them by default.
    pub levels: BTreeMap<String, LevelEntry>,
    /// The level used when none is given.
    pub default_level: String,
    /// Trace conformance hooks (`lockstep conform`), if the model has them.
    pub conform: Option<super::conform::ConformEntry>,
}

impl ModelEntry {
    pub fn new(name: &str, description: &str, variants: &[&str]) -> Self {
        ModelEntry {
            name: name.to_string(),
            description: description.to_string(),
            variants: variants.iter().map(|v| v.to_string()).collect(),
            levels: BTreeMap::new(),
            default_level: "spec".to_string(),
            conform: None,
        }
    }

    /// Registers the protocol level: `ctor(variant, bounds, params)` builds the model.
    pub fn with_spec<M, F>(mut self, default_bounds: Bounds, ctor: F) -> Self
    where
        M: Model + 'static,
        F: Fn(&str, &Bounds, &Params) -> Result<M, String> + Send + Sync + 'static,
    {
        let ctor = std::sync::Arc::new(ctor);
        let name = self.name.clone();
        let check_ctor = ctor.clone();
        let check_name = name.clone();
        let check = move |req: &Request| -> Result<Report, String> {
            let model = check_ctor(&req.variant, &req.bounds, &req.params)?;
            let mut report = explore::protocol::check(&model, &req.opts);
            finish_spec_report(&model, &check_name, req, &mut report);
            Ok(report)
        };
        let replay = move |req: &Request, what: &ReplayWhat| -> Result<Report, String> {
            let model = ctor(&req.variant, &req.bounds, &req.params)?;
            match what {
                ReplayWhat::Schedule(text) if semantic::looks_semantic(text) => {
                    let mut report = spec_semantic_replay(&model, text, req.follow_prefix)?;
                    report.replay = spec_replay_command(&name, req, &quoted(text));
                    Ok(report)
                }
                ReplayWhat::Schedule(schedule) => {
                    let mut report = explore::walk::replay(&model, schedule)?;
                    report.replay = spec_replay_command(&name, req, schedule);
                    attach_spec_semantic(&model, &mut report);
                    Ok(report)
                }
                // Protocol checks are deterministic given their seed: re-run the check.
                ReplayWhat::Seed(seed) => {
                    let mut opts = req.opts.clone();
                    opts.seed = *seed;
                    let mut report = explore::protocol::check(&model, &opts);
                    finish_spec_report(&model, &name, req, &mut report);
                    Ok(report)
                }
            }
        };
        if self.levels.is_empty() {
            self.default_level = "spec".to_string();
        }
        self.levels.insert(
            "spec".to_string(),
            LevelEntry {
                default_bounds,
                check: Box::new(check),
                replay: Box::new(replay),
            },
        );
        self
    }

    /// Registers the implementation level: `ctor(variant, bounds, params, faults)`
    /// builds the async model the schedule explorers run.
    pub fn with_impl<I, F>(mut self, default_bounds: Bounds, ctor: F) -> Self
    where
        I: ImplModel + 'static,
        F: Fn(&str, &Bounds, &Params, &[FaultSpec]) -> Result<I, String> + Send + Sync + 'static,
    {
        let ctor = std::sync::Arc::new(ctor);
        let name = self.name.clone();
        let check_ctor = ctor.clone();
        let check_name = name.clone();
        let check = move |req: &Request| -> Result<Report, String> {
            let model = check_ctor(&req.variant, &req.bounds, &req.params, &req.faults)?;
            let mut report = schedules::check(&model, &req.opts);
            if req.minimize {
                minimize::schedules::shrink_report(&model, &mut report);
            }
            attach_impl_semantic(&mut report);
            if req.coverage {
                report.coverage = Some(coverage::implementation(
                    &model,
                    coverage::DEFAULT_RUNS,
                    req.opts.seed,
                ));
            }
            set_impl_replay(&check_name, req, &mut report);
            Ok(report)
        };
        let replay = move |req: &Request, what: &ReplayWhat| -> Result<Report, String> {
            let model = ctor(&req.variant, &req.bounds, &req.params, &req.faults)?;
            let mut report = match what {
                ReplayWhat::Schedule(text) if semantic::looks_semantic(text) => {
                    impl_semantic_replay(&model, text, req.follow_prefix)?
                }
                ReplayWhat::Schedule(text) => {
                    let schedule: schedules::Schedule =
                        text.parse().map_err(|e| format!("--schedule: {e}"))?;
                    schedules::replay(&model, &schedule).map_err(|e| e.to_string())?
                }
                ReplayWhat::Seed(seed) => {
                    schedules::replay_seed(&model, &req.opts.strategy, *seed, req.opts.pct_depth)?
                }
            };
            attach_impl_semantic(&mut report);
            set_impl_replay(&name, req, &mut report);
            Ok(report)
        };
        self.levels.insert(
            "impl".to_string(),
            LevelEntry {
                default_bounds,
                check: Box::new(check),
                replay: Box::new(replay),
            },
        );
        self
    }

    /// Registers an arbitrary level from closures (used by the implementation-level adapter).
    pub fn with_level(mut self, level: &str, entry: LevelEntry) -> Self {
        self.levels.insert(level.to_string(), entry);
        self
    }

    /// Makes `level` the default for `check` and `replay`.
    pub fn default_level(mut self, level: &str) -> Self {
        self.default_level = level.to_string();
        self
    }
}

/// Post-processing of every protocol-level check: the replayable schedule,
/// minimization (non-BFS strategies), the semantic schedule and coverage.
fn finish_spec_report<M: Model>(model: &M, name: &str, req: &Request, report: &mut Report) {
    attach_spec_schedule(model, name, req, report);
    if req.minimize {
        minimize::protocol::shrink_report(model, report);
        if let (Some(schedule), Some(_)) = (&report.schedule, report.minimized_from) {
            report.replay = spec_replay_command(name, req, schedule);
        }
    }
    attach_spec_semantic(model, report);
    if req.coverage {
        report.coverage = Some(coverage::protocol(model, coverage::DEFAULT_STATE_CAP));
    }
}

/// Replays a semantic schedule on a protocol model. `lenient`: a divergence ends
/// the path (and is noted) instead of being an error.
fn spec_semantic_replay<M: Model>(model: &M, text: &str, lenient: bool) -> Result<Report, String> {
    let steps: semantic::SemanticSchedule = text.parse().map_err(|e| format!("--schedule: {e}"))?;
    let (followed, divergence) = semantic::protocol::follow_prefix(model, &steps);
    if let (Some(d), false) = (&divergence, lenient) {
        return Err(d.to_string());
    }
    let mut report = explore::walk::replay(model, &followed.index_schedule())?;
    report.notes.extend(followed.notes);
    if let Some(d) = divergence {
        report.notes.push(format!(
            "{d}: the path stops after the {} step(s) that fit",
            followed.indices.len()
        ));
    }
    report.semantic_schedule = Some(steps.to_string());
    Ok(report)
}

/// Replays a semantic schedule on an implementation model: the recorded steps,
/// then the default policy to the end of the run. `lenient`: a divergence ends
/// the following (and is noted) instead of being an error.
fn impl_semantic_replay<I: ImplModel>(
    model: &I,
    text: &str,
    lenient: bool,
) -> Result<Report, String> {
    let steps: semantic::SemanticSchedule = text.parse().map_err(|e| format!("--schedule: {e}"))?;
    let (followed, divergence) = semantic::schedules::follow_prefix(model, &steps);
    if let (Some(d), false) = (&divergence, lenient) {
        return Err(d.to_string());
    }
    let watch = crate::report::Stopwatch::start();
    let (outcome, _) = semantic::schedules::run_full(
        model,
        semantic::schedules::PrefixScheduler::then_default(followed.schedule.decisions.clone()),
    );
    let mut report = schedules::replay::report_single(model, "replay", &outcome, watch, 0);
    report.notes.extend(followed.notes);
    if let Some(d) = divergence {
        report
            .notes
            .push(format!("{d}: the recording is followed up to there"));
    }
    report.notes.push(
        "semantic replay: the recorded steps, then the default policy (previous task first, \
         choices 0) to the end of the run"
            .to_string(),
    );
    Ok(report)
}

/// Adds the semantic form of a protocol report's index schedule.
fn attach_spec_semantic<M: Model>(model: &M, report: &mut Report) {
    let Some(schedule) = &report.schedule else {
        return;
    };
    let Ok(indices) = explore::walk::parse_schedule(schedule) else {
        return;
    };
    let indices: Vec<u32> = indices.into_iter().map(|i| i as u32).collect();
    if let Ok(steps) = semantic::protocol::of_path(model, &indices) {
        report.semantic_schedule = Some(steps.to_string());
    }
}

/// Adds the semantic form of an implementation report's schedule (from its full trace).
fn attach_impl_semantic(report: &mut Report) {
    let Some(Ok(schedule)) = report
        .schedule
        .as_deref()
        .map(str::parse::<schedules::Schedule>)
    else {
        return;
    };
    if let Ok(steps) = semantic::schedules::of_run(&report.trace, &schedule) {
        report.semantic_schedule = Some(steps.to_string());
    }
}

/// A semantic schedule quoted for a shell (it never contains `'`: escaped).
pub fn quoted(schedule: &str) -> String {
    format!("'{schedule}'")
}

/// Derives the schedule string of a protocol-level counterexample (the indices
/// of the chosen actions) so it can be replayed with `--schedule`.
fn attach_spec_schedule<M: Model>(model: &M, name: &str, req: &Request, report: &mut Report) {
    if report.trace.is_empty() {
        report.replay = check_command(name, "spec", req);
        return;
    }
    match explore::walk::schedule_of_trace(model, &report.trace) {
        Some(schedule) => {
            report.replay = spec_replay_command(name, req, &schedule);
            if report.property.as_deref() == Some(explore::DEADLOCK) {
                if let Some(stuck) = explore::walk::final_state(model, &schedule) {
                    report.wait_for = model.wait_for(&stuck);
                }
            }
            report.schedule = Some(schedule);
        }
        None => report.replay = check_command(name, "spec", req),
    }
}

/// `--bound k=v` arguments in name order.
pub fn bound_args(bounds: &Bounds) -> String {
    bounds
        .iter()
        .map(|(k, v)| format!(" --bound {k}={v}"))
        .collect()
}

/// `--param k=v` arguments in name order.
pub fn param_args(params: &Params) -> String {
    params
        .iter()
        .map(|(k, v)| format!(" --param {k}={v}"))
        .collect()
}

/// The exact `lockstep check` command that reproduces a deterministic check.
pub fn check_command(model: &str, level: &str, req: &Request) -> String {
    format!(
        "lockstep check {model} --variant {} --level {level}{}{} --strategy {} --seed {}",
        req.variant,
        bound_args(&req.bounds),
        param_args(&req.params),
        req.opts.strategy.as_str(),
        req.opts.seed
    )
}

/// Points an implementation-level report's `replay` at the CLI command that
/// reproduces its counterexample (schedule), or the check itself when it holds.
fn set_impl_replay(model: &str, req: &Request, report: &mut Report) {
    report.replay = match (&report.schedule, report.verdict) {
        (Some(schedule), Verdict::Violated) => format!(
            "lockstep replay {model} --variant {} --level impl{}{} --schedule {schedule}",
            req.variant,
            bound_args(&req.bounds),
            param_args(&req.params)
        ),
        _ => check_command(model, "impl", req),
    };
    let bounds = bound_args(&req.bounds);
    let params = param_args(&req.params);
    for also in &mut report.also_violated {
        also.replay = format!(
            "lockstep replay {model} --variant {} --level impl{bounds}{params} --schedule {}",
            req.variant, also.schedule
        );
    }
}

fn spec_replay_command(model: &str, req: &Request, schedule: &str) -> String {
    format!(
        "lockstep replay {model} --variant {} --level spec{}{} --schedule {schedule}",
        req.variant,
        bound_args(&req.bounds),
        param_args(&req.params)
    )
}

/// Everything the CLI can check, plus the headline and benchmark hooks.
#[derive(Default)]
pub struct Registry {
    pub models: Vec<ModelEntry>,
    /// The checks `lockstep` with no arguments runs, in order.
    pub headline: Vec<HeadlineItem>,
    /// Benchmark sections `lockstep bench` runs, in order.
    pub benches: Vec<BenchSection>,
    /// Scenario directories listed by `lockstep list`.
    pub scenario_dirs: Vec<String>,
}

/// One row of the headline table.
#[derive(Clone, Debug)]
pub struct HeadlineItem {
    pub model: String,
    pub variant: String,
    pub level: String,
    pub bounds: Bounds,
    pub strategy: explore::Strategy,
}

/// A benchmark: a name and a function that prints (text) or returns (JSON) its figures.
pub struct BenchSection {
    pub name: String,
    pub run: Box<dyn Fn(&BenchOptions) -> serde_json::Value + Send + Sync>,
}

/// Options passed to every benchmark section.
#[derive(Clone, Debug, Default)]
pub struct BenchOptions {
    /// Smaller sizes, for a smoke run in CI.
    pub quick: bool,
    /// Threads for parallel sections (0 = all cores).
    pub threads: usize,
}

impl Registry {
    pub fn find(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name)
    }
}
