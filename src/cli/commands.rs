//! The CLI commands: each turns parsed arguments into registry calls and output.

use std::io::Write;

use super::args::{BenchArgs, CheckArgs, ReplayArgs, RunArgs, SearchArgs, Selection, SweepArgs};
use super::output::{figures, print_json, print_report, thousands};
use super::registry::{LevelEntry, ModelEntry, Params, Registry, Request};
use super::UsageError;
use crate::explore::{CheckOptions, Strategy};
use crate::report::{Bounds, Report, Stopwatch, Verdict};

type CmdResult = Result<i32, UsageError>;

fn io(err: std::io::Error) -> UsageError {
    UsageError(format!("cannot write output: {err}"))
}

/// Parses `name=value` pairs (`--bound`, `--param`).
pub fn parse_pairs(pairs: &[String], what: &str) -> Result<Vec<(String, String)>, UsageError> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(UsageError(format!("--{what} `{p}`: expected NAME=VALUE"))),
        })
        .collect()
}

/// Resolves the model entry and level a selection names.
pub fn resolve<'r>(
    registry: &'r Registry,
    model: &str,
    level: Option<&str>,
) -> Result<(&'r ModelEntry, String, &'r LevelEntry), UsageError> {
    let entry = registry.find(model).ok_or_else(|| {
        let names: Vec<&str> = registry.models.iter().map(|m| m.name.as_str()).collect();
        UsageError(format!(
            "unknown model `{model}` (known: {})",
            names.join(", ")
        ))
    })?;
    let level = level.unwrap_or(&entry.default_level).to_string();
    let level_entry = entry.levels.get(&level).ok_or_else(|| {
        let levels: Vec<&str> = entry.levels.keys().map(|l| l.as_str()).collect();
        UsageError(format!(
            "model `{model}` has no level `{level}` (it has: {})",
            levels.join(", ")
        ))
    })?;
    Ok((entry, level, level_entry))
}

/// Builds the request a check or replay sends to a model level.
pub fn build_request(
    (entry, level, level_entry): (&ModelEntry, &str, &LevelEntry),
    variant: Option<&str>,
    bound_overrides: &[(String, String)],
    params: Params,
    search: &SearchArgs,
    progress: bool,
) -> Result<Request, UsageError> {
    let variant = match variant {
        Some(v) => v.to_string(),
        None if entry.variants.len() == 1 => entry.variants[0].clone(),
        None => {
            return Err(UsageError(format!(
                "model `{}` needs --variant (one of: {})",
                entry.name,
                entry.variants.join(", ")
            )))
        }
    };
    if !entry.variants.contains(&variant) {
        return Err(UsageError(format!(
            "model `{}` has no variant `{variant}` (variants: {})",
            entry.name,
            entry.variants.join(", ")
        )));
    }
    let mut bounds: Bounds = level_entry.default_bounds.clone();
    for (k, v) in bound_overrides {
        let value: i64 = v
            .parse()
            .map_err(|_| UsageError(format!("--bound {k}={v}: the value must be an integer")))?;
        if !bounds.contains_key(k) {
            let known: Vec<&str> = bounds.keys().map(|k| k.as_str()).collect();
            return Err(UsageError(format!(
                "model `{}` (level {level}) has no bound `{k}` (bounds: {})",
                entry.name,
                known.join(", ")
            )));
        }
        bounds.insert(k.clone(), value);
    }
    let mut opts = CheckOptions {
        strategy: if level == "spec" {
            Strategy::Bfs
        } else {
            Strategy::Dfs
        },
        ..CheckOptions::default()
    };
    if let Some(s) = &search.strategy {
        opts.strategy = s.clone();
    }
    if let Some(s) = search.seed {
        opts.seed = s;
    }
    if let Some(n) = search.budget_states {
        opts.budget_states = n;
    }
    if let Some(n) = search.budget_schedules {
        opts.budget_schedules = n;
    }
    opts.threads = match search.threads {
        Some(0) => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        Some(n) => n,
        None => 1,
    };
    opts.exact = search.exact;
    if let Some(d) = search.max_depth {
        opts.max_depth = d;
    }
    opts.preemption_bound = search.preemption_bound;
    opts.no_reduction = search.no_reduction;
    opts.keep_going = search.keep_going;
    if let Some(s) = search.max_seconds {
        opts.max_seconds = s;
    }
    opts.progress = progress;
    Ok(Request {
        variant,
        bounds,
        params,
        opts,
        ..Request::default()
    })
}

fn params_of(selection: &Selection) -> Result<Params, UsageError> {
    Ok(parse_pairs(&selection.params, "param")?
        .into_iter()
        .collect())
}

pub fn check(registry: &Registry, args: &CheckArgs, out: &mut dyn Write) -> CmdResult {
    let (entry, level, level_entry) =
        resolve(registry, &args.model, args.selection.level.as_deref())?;
    let bounds = parse_pairs(&args.selection.bounds, "bound")?;
    let mut request = build_request(
        (entry, &level, level_entry),
        args.selection.variant.as_deref(),
        &bounds,
        params_of(&args.selection)?,
        &args.search,
        super::progress_allowed(args.json),
    )?;
    request.coverage = args.coverage;
    let report = (level_entry.check)(&request).map_err(UsageError)?;
    emit(out, &report, args.json)?;
    Ok(report.verdict.exit_code())
}

fn emit(out: &mut dyn Write, report: &Report, json: bool) -> Result<(), UsageError> {
    if json {
        print_json(out, report).map_err(io)
    } else {
        print_report(out, report).map_err(io)
    }
}

pub fn list(registry: &Registry, out: &mut dyn Write) -> CmdResult {
    let mut text = String::from("models:\n");
    for m in &registry.models {
        text.push_str(&format!("  {:<16} {}\n", m.name, m.description));
        text.push_str(&format!("    variants: {}\n", m.variants.join(", ")));
        for (level, l) in &m.levels {
            let bounds: Vec<String> = l
                .default_bounds
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let default = if *level == m.default_level {
                " (default)"
            } else {
                ""
            };
            text.push_str(&format!(
                "    level {level}{default}: bounds {}\n",
                bounds.join(" ")
            ));
        }
    }
    text.push_str("scenarios:\n");
    for dir in &registry.scenario_dirs {
        for path in super::commands_scenarios::scenario_files(dir) {
            text.push_str(&format!("  {path}\n"));
        }
    }
    out.write_all(text.as_bytes()).map_err(io)?;
    Ok(0)
}

pub fn headline(registry: &Registry, out: &mut dyn Write) -> CmdResult {
    writeln!(
        out,
        "lockstep: the Azure Functions host start/restart deadlock, checked"
    )
    .map_err(io)?;
    writeln!(out).map_err(io)?;
    let header = format!(
        "{:<15} {:<10} {:<6} {:<12} {:<22} {:>7} {:>12} {:>11} {:>9}",
        "model",
        "variant",
        "level",
        "verdict",
        "property",
        "cex len",
        "states",
        "schedules",
        "time ms"
    );
    writeln!(out, "{header}").map_err(io)?;
    writeln!(out, "{}", "-".repeat(header.len())).map_err(io)?;
    let mut details = Vec::new();
    for item in &registry.headline {
        let (entry, level, level_entry) = resolve(registry, &item.model, Some(&item.level))?;
        let search = SearchArgs {
            strategy: Some(item.strategy.clone()),
            ..SearchArgs::default()
        };
        let overrides: Vec<(String, String)> = item
            .bounds
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        let request = build_request(
            (entry, &level, level_entry),
            Some(&item.variant),
            &overrides,
            Params::new(),
            &search,
            false,
        )?;
        let report = (level_entry.check)(&request).map_err(UsageError)?;
        let cex_len = report.trace.iter().filter(|e| e.kind != "init").count();
        writeln!(
            out,
            "{:<15} {:<10} {:<6} {:<12} {:<22} {:>7} {:>12} {:>11} {:>9}",
            report.model,
            report.variant,
            report.level,
            report.verdict.as_str(),
            report.property.clone().unwrap_or_else(|| "-".into()),
            if report.trace.is_empty() {
                "-".to_string()
            } else {
                cex_len.to_string()
            },
            thousands(report.states),
            thousands(report.schedules),
            thousands(report.elapsed_ms)
        )
        .map_err(io)?;
        details.push(report);
    }
    for report in &details {
        writeln!(out).map_err(io)?;
        match report.verdict {
            Verdict::Holds => writeln!(
                out,
                "{} {} ({}): proved within bounds {} — {}",
                report.model,
                report.variant,
                report.level,
                super::output::bounds_text(report),
                figures(report)
            )
            .map_err(io)?,
            _ => print_report(out, report).map_err(io)?,
        }
    }
    Ok(0)
}

pub fn bench(registry: &Registry, args: &BenchArgs, out: &mut dyn Write) -> CmdResult {
    let threads = match args.threads {
        Some(0) | None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        Some(n) => n,
    };
    let opts = super::registry::BenchOptions {
        quick: args.quick,
        threads,
    };
    let mut sections = serde_json::Map::new();
    let chosen = registry.benches.iter().filter(|s| {
        args.section
            .as_deref()
            .is_none_or(|text| s.name.contains(text))
    });
    let mut any = false;
    for section in chosen {
        any = true;
        let watch = Stopwatch::start();
        let value = (section.run)(&opts);
        if !args.json {
            writeln!(out, "== {} ({} ms)", section.name, watch.elapsed_ms()).map_err(io)?;
            writeln!(out, "{}", super::bench_table::render(&value)).map_err(io)?;
        }
        sections.insert(section.name.clone(), value);
    }
    if !any {
        let names: Vec<&str> = registry.benches.iter().map(|s| s.name.as_str()).collect();
        return Err(UsageError(format!(
            "no bench section matches `{}` (sections: {})",
            args.section.as_deref().unwrap_or(""),
            names.join("; ")
        )));
    }
    if args.json {
        writeln!(out, "{}", serde_json::Value::Object(sections)).map_err(io)?;
    }
    Ok(0)
}

pub fn run(registry: &Registry, args: &RunArgs, out: &mut dyn Write) -> CmdResult {
    super::commands_scenarios::run(registry, args, out)
}

pub fn replay(registry: &Registry, args: &ReplayArgs, out: &mut dyn Write) -> CmdResult {
    super::commands_scenarios::replay(registry, args, out)
}

pub fn sweep(registry: &Registry, args: &SweepArgs, out: &mut dyn Write) -> CmdResult {
    super::sweep::sweep(registry, args, out)
}
