//! Scenario-driven commands: `run`, `replay` (`sweep` is in [`super::sweep`]).

use std::io::Write;

use super::args::{ReplayArgs, RunArgs, SearchArgs};
use super::commands::{build_request, resolve};
use super::output::print_report;
use super::registry::{Registry, ReplayWhat, Request};
use super::UsageError;
use crate::explore::Strategy;
use crate::report::{Report, Verdict};
use crate::scenario::{Expectation, Scenario};

type CmdResult = Result<i32, UsageError>;

fn io(err: std::io::Error) -> UsageError {
    UsageError(format!("cannot write output: {err}"))
}

/// Every `*.toml` below `dir`, sorted (deterministic order).
pub fn scenario_files(dir: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "toml") {
                found.push(p.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

/// Loads a scenario, turning its positioned error into a usage error (exit 2).
pub fn load(path: &str) -> Result<Scenario, UsageError> {
    Scenario::load(path).map_err(|e| UsageError(e.to_string()))
}

/// The request that checks `variant` of `scenario` (its bounds, params,
/// faults, strategy, seed and budget), plus the level it runs at.
pub fn scenario_request(
    registry: &Registry,
    scenario: &Scenario,
    variant: &str,
    seed: Option<u64>,
    strategy: Option<Strategy>,
) -> Result<(String, Request), UsageError> {
    let level = scenario.level.map(|l| l.as_str());
    let (entry, level, level_entry) = resolve(registry, &scenario.model, level)
        .map_err(|e| UsageError(format!("{}: {}", scenario.path, e.0)))?;
    let overrides: Vec<(String, String)> = scenario
        .bounds
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    let search = SearchArgs {
        strategy: strategy.or_else(|| scenario.strategy.clone()),
        seed: seed.or(scenario.seed),
        budget_states: scenario.budget.states,
        budget_schedules: scenario.budget.schedules,
        max_depth: scenario.budget.max_depth,
        max_seconds: scenario.budget.max_seconds,
        keep_going: scenario.keep_going,
        ..SearchArgs::default()
    };
    let mut request = build_request(
        (entry, &level, level_entry),
        Some(variant),
        &overrides,
        scenario.params.clone(),
        &search,
        false,
    )
    .map_err(|e| UsageError(scenario.locate(&e.0)))?;
    request.faults = scenario.fault_specs.clone();
    Ok((level, request))
}

/// Whether a report meets an expectation (verdict, and property when stated).
pub fn meets(report: &Report, expected: &Expectation) -> bool {
    report.verdict == expected.verdict
        && match (&expected.property, report.verdict) {
            (Some(p), Verdict::Violated) => report.property.as_deref() == Some(p.as_str()),
            _ => true,
        }
        && expected.holds.iter().all(|name| {
            report
                .properties
                .iter()
                .any(|p| &p.name == name && p.verdict == Verdict::Holds)
        })
}

fn expectation_text(e: &Expectation) -> String {
    let mut text = match &e.property {
        Some(p) => format!("{} ({p})", e.verdict.as_str()),
        None => e.verdict.as_str().to_string(),
    };
    if !e.holds.is_empty() {
        text.push_str(&format!("; holds: {}", e.holds.join(", ")));
    }
    text
}

/// Checks one variant of a scenario and returns the report and whether it met
/// its expectation.
pub fn run_variant(
    registry: &Registry,
    scenario: &Scenario,
    variant: &str,
    seed: Option<u64>,
) -> Result<(Report, bool), UsageError> {
    run_variant_with_progress(registry, scenario, variant, seed, false)
}

/// [`run_variant`], drawing the checker's progress bar when `progress`.
pub fn run_variant_with_progress(
    registry: &Registry,
    scenario: &Scenario,
    variant: &str,
    seed: Option<u64>,
    progress: bool,
) -> Result<(Report, bool), UsageError> {
    let (level, mut request) = scenario_request(registry, scenario, variant, seed, None)?;
    request.opts.progress = progress;
    let (entry, _, level_entry) = resolve(registry, &scenario.model, Some(&level))?;
    let _ = entry;
    // A model that rejects a bound names it; the error points at its value.
    let report = (level_entry.check)(&request).map_err(|e| UsageError(scenario.locate(&e)))?;
    let met = meets(&report, &scenario.expected_for(variant));
    Ok((report, met))
}

pub fn run(registry: &Registry, args: &RunArgs, out: &mut dyn Write) -> CmdResult {
    let scenario = load(&args.scenario)?;
    let mut all_met = true;
    for variant in scenario.variants() {
        let (report, met) = run_variant_with_progress(
            registry,
            &scenario,
            &variant,
            args.seed,
            super::progress_allowed(args.json),
        )?;
        all_met &= met;
        let expected = scenario.expected_for(&variant);
        if args.json {
            let mut value = serde_json::to_value(&report).map_err(|e| UsageError(e.to_string()))?;
            if let Some(obj) = value.as_object_mut() {
                obj.insert("scenario".into(), scenario.path.clone().into());
                obj.insert("expected".into(), expected.verdict.as_str().into());
                obj.insert("expected_property".into(), expected.property.clone().into());
                obj.insert("met".into(), met.into());
            }
            writeln!(out, "{value}").map_err(io)?;
        } else {
            writeln!(out, "scenario {} — {}", scenario.path, scenario.name).map_err(io)?;
            print_report(out, &report).map_err(io)?;
            writeln!(
                out,
                "  expected: {} => {}\n",
                expectation_text(&expected),
                if met { "met" } else { "NOT MET" }
            )
            .map_err(io)?;
        }
    }
    Ok(if all_met { 0 } else { 1 })
}

/// Renders a report's trace in the requested `--format`.
pub fn render_trace(report: &Report, format: &str) -> Result<String, UsageError> {
    use crate::trace;
    Ok(match format {
        "text" => trace::render_timeline(&report.trace),
        "list" => trace::render_list(&report.trace),
        "json" | "jsonl" => trace::to_jsonl(&report.trace),
        "mermaid" => trace::to_mermaid(&report.trace),
        "chrome" => trace::to_chrome_json(&report.trace),
        "html" => trace::to_html(report),
        "waitfor" => trace::waitfor_text::to_mermaid(&report.wait_for),
        other => {
            return Err(UsageError(format!(
                "unknown format `{other}` (expected text, list, json, mermaid, chrome, html or \
                 waitfor)"
            )))
        }
    })
}

pub fn replay(registry: &Registry, args: &ReplayArgs, out: &mut dyn Write) -> CmdResult {
    let (level, mut request) = if args.target.ends_with(".toml") {
        let scenario = load(&args.target)?;
        let variants = scenario.variants();
        let variant = match (&args.selection.variant, variants.as_slice()) {
            (Some(v), _) => v.clone(),
            (None, [only]) => only.clone(),
            (None, many) => {
                return Err(UsageError(format!(
                    "{} lists several variants ({}): pick one with --variant",
                    scenario.path,
                    many.join(", ")
                )))
            }
        };
        scenario_request(
            registry,
            &scenario,
            &variant,
            args.seed,
            args.strategy.clone(),
        )?
    } else {
        let (entry, level, level_entry) =
            resolve(registry, &args.target, args.selection.level.as_deref())?;
        let bounds = super::commands::parse_pairs(&args.selection.bounds, "bound")?;
        let params = super::commands::parse_pairs(&args.selection.params, "param")?
            .into_iter()
            .collect();
        let search = SearchArgs {
            strategy: args.strategy.clone(),
            seed: args.seed,
            ..SearchArgs::default()
        };
        let request = build_request(
            (entry, &level, level_entry),
            args.selection.variant.as_deref(),
            &bounds,
            params,
            &search,
            false,
        )?;
        (level, request)
    };
    let model = if args.target.ends_with(".toml") {
        load(&args.target)?.model
    } else {
        args.target.clone()
    };
    let (_, _, level_entry) = resolve(registry, &model, Some(&level))?;
    let what = match (&args.schedule, args.seed) {
        (Some(schedule), _) => ReplayWhat::Schedule(schedule.clone()),
        (None, Some(seed)) => {
            // A seed names one random / PCT run.
            if !matches!(request.opts.strategy, Strategy::Random | Strategy::Pct) {
                request.opts.strategy = Strategy::Random;
            }
            ReplayWhat::Seed(seed)
        }
        (None, None) => return Err(UsageError("replay needs --schedule S or --seed N".into())),
    };
    let report = (level_entry.replay)(&request, &what).map_err(UsageError)?;
    if args.emit_test {
        let command = format!("{} --emit-test", report.replay);
        let test = super::emit_test::emit(
            &model,
            &report,
            &request,
            &command,
            super::emit_test::DEFAULT_REGISTRY_EXPR,
        )
        .map_err(UsageError)?;
        out.write_all(test.as_bytes()).map_err(io)?;
        return Ok(0);
    }
    let rendered = render_trace(&report, &args.format)?;
    if args.format == "text" {
        print_report(out, &report).map_err(io)?;
        writeln!(out, "\ntimeline:\n{rendered}").map_err(io)?;
    } else {
        out.write_all(rendered.as_bytes()).map_err(io)?;
    }
    Ok(report.verdict.exit_code())
}
