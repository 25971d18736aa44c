//! `lockstep sweep`: every variant of some scenarios over a range of seeds, one
//! random (or PCT) run per seed, optionally sharded.
//!
//! Each seed is one run, judged as one run: a safety property violated, a
//! deadlock or a panic is a violation of that run, but a `sometimes` property
//! it did not reach is not (one run need not reach every interesting event).
//! `sometimes` properties are judged over the whole sweep instead: one that
//! no run reached fails the sweep, as it fails an exhaustive check.

use std::collections::BTreeMap;
use std::io::Write;

use super::args::SweepArgs;
use super::commands::resolve;
use super::commands_scenarios::{load, scenario_request};
use super::output::thousands;
use super::registry::Registry;
use super::UsageError;
use crate::explore::schedules::progress::Progress;
use crate::explore::Strategy;
use crate::report::{Report, Verdict};

type CmdResult = Result<i32, UsageError>;

fn io(err: std::io::Error) -> UsageError {
    UsageError(format!("cannot write output: {err}"))
}

/// Parses `A..B` (B exclusive).
pub fn parse_seed_range(text: &str) -> Result<std::ops::Range<u64>, UsageError> {
    let bad = || UsageError(format!("--seeds `{text}`: expected A..B, e.g. 0..1000"));
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let (a, b): (u64, u64) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a >= b {
        return Err(bad());
    }
    Ok(a..b)
}

/// Parses `I/N` with I < N.
pub fn parse_shard(text: &str) -> Result<(u64, u64), UsageError> {
    let bad = || {
        UsageError(format!(
            "--shard `{text}`: expected I/N with 0 <= I < N, e.g. 0/4"
        ))
    };
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Whether one run's report shows a violation of that run: a violated
/// property other than an unreached `sometimes` (which a single run does not
/// decide; see the module docs).
pub fn run_violated(report: &Report) -> bool {
    if report.verdict != Verdict::Violated {
        return false;
    }
    let kind = report
        .properties
        .iter()
        .find(|p| report.property.as_deref() == Some(p.name.as_str()))
        .map(|p| p.kind.as_str());
    kind != Some("sometimes")
}

/// What the runs of one variant showed.
#[derive(Debug, Default)]
pub struct VariantTally {
    pub runs: u64,
    pub violations: u64,
    /// Seed, property and replay command of the first violation.
    pub first: Option<(u64, Option<String>, String)>,
    /// Every declared `sometimes` property and whether some run reached it.
    pub sometimes: BTreeMap<String, bool>,
}

impl VariantTally {
    /// Adds one run's report; returns whether the run was a violation.
    pub fn add(&mut self, report: &Report) -> bool {
        self.runs += 1;
        for p in report.properties.iter().filter(|p| p.kind == "sometimes") {
            *self.sometimes.entry(p.name.clone()).or_default() |= p.verdict == Verdict::Holds;
        }
        let violated = run_violated(report);
        self.violations += u64::from(violated);
        violated
    }

    /// The `sometimes` properties no run reached, in name order.
    pub fn unreached(&self) -> Vec<String> {
        self.sometimes
            .iter()
            .filter(|(_, reached)| !**reached)
            .map(|(name, _)| name.clone())
            .collect()
    }
}

pub fn sweep(registry: &Registry, args: &SweepArgs, out: &mut dyn Write) -> CmdResult {
    let seeds = parse_seed_range(&args.seeds)?;
    let (shard, shards) = match &args.shard {
        Some(s) => parse_shard(s)?,
        None => (0, 1),
    };
    let scenarios = args
        .scenarios
        .iter()
        .map(|path| load(path))
        .collect::<Result<Vec<_>, _>>()?;
    let per_variant = seeds.clone().filter(|s| s % shards == shard).count() as u64;
    let variants: u64 = scenarios.iter().map(|s| s.variants().len() as u64).sum();
    let progress = Progress::new(
        super::progress_allowed(args.json),
        "sweep",
        "runs",
        per_variant * variants,
    );
    let (mut done, mut violations) = (0u64, 0u64);
    let mut rows = Vec::new();
    let mut failed = false;
    for (path, scenario) in args.scenarios.iter().zip(&scenarios) {
        let strategy = match scenario.strategy {
            Some(Strategy::Pct) => Strategy::Pct,
            _ => Strategy::Random,
        };
        for variant in scenario.variants() {
            let expected = scenario.expected_for(&variant);
            let mut tally = VariantTally::default();
            for seed in seeds.clone().filter(|s| s % shards == shard) {
                progress.update_labelled(
                    done,
                    violations,
                    &format!("{} [{variant}] seed {seed}", scenario.name),
                );
                let (level, mut request) = scenario_request(
                    registry,
                    scenario,
                    &variant,
                    Some(seed),
                    Some(strategy.clone()),
                )?;
                // One run per seed: the sweep, not each run, judges `sometimes`.
                request.opts.budget_schedules = 1;
                // Only the first violation is shown: only it is worth minimizing.
                request.minimize = false;
                let (_, _, level_entry) = resolve(registry, &scenario.model, Some(&level))?;
                let report = (level_entry.check)(&request).map_err(UsageError)?;
                done += 1;
                let violated = tally.add(&report);
                violations += u64::from(violated);
                if violated && tally.first.is_none() {
                    request.minimize = true;
                    let shrunk = (level_entry.check)(&request).map_err(UsageError)?;
                    tally.first = Some((seed, shrunk.property.clone(), shrunk.replay.clone()));
                }
            }
            let unreached = tally.unreached();
            // A shard sees only part of the seeds: the union of the shards judges
            // `sometimes`, so a shard lists what it missed without failing on it.
            let vacuous = shards == 1 && !unreached.is_empty();
            // A sweep fails when a variant expected to hold shows a violation, or
            // never reaches one of its `sometimes` properties.
            let bad = expected.verdict == Verdict::Holds && (tally.violations > 0 || vacuous);
            failed |= bad;
            let first = tally.first.as_ref();
            rows.push(serde_json::json!({
                "scenario": path,
                "variant": variant,
                "expected": expected.verdict.as_str(),
                "runs": tally.runs,
                "violations": tally.violations,
                "first_violation_seed": first.map(|f| f.0),
                "property": first.and_then(|f| f.1.clone()),
                "replay": first.map(|f| f.2.clone()),
                "sometimes_unreached": unreached,
                "ok": !bad,
            }));
        }
    }
    progress.finish();
    if args.json {
        let summary = serde_json::json!({"seeds": args.seeds, "shard": format!("{shard}/{shards}"), "results": rows, "ok": !failed});
        writeln!(out, "{summary}").map_err(io)?;
    } else {
        for r in &rows {
            write_row(out, r, shards > 1)?;
        }
    }
    Ok(if failed { 1 } else { 0 })
}

fn write_row(out: &mut dyn Write, r: &serde_json::Value, sharded: bool) -> Result<(), UsageError> {
    let unreached: Vec<&str> = r["sometimes_unreached"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let unreached = match (unreached.is_empty(), sharded) {
        (true, _) => String::new(),
        (false, false) => format!(
            "; sometimes never reached in any run: {}",
            unreached.join(", ")
        ),
        (false, true) => format!(
            "; sometimes not reached in this shard: {} (judge over all shards)",
            unreached.join(", ")
        ),
    };
    writeln!(
        out,
        "{} [{}] expected {}: {} runs, {} violations{unreached}{}",
        r["scenario"].as_str().unwrap_or(""),
        r["variant"].as_str().unwrap_or(""),
        r["expected"].as_str().unwrap_or(""),
        thousands(r["runs"].as_u64().unwrap_or(0)),
        thousands(r["violations"].as_u64().unwrap_or(0)),
        match r["replay"].as_str() {
            Some(cmd) => format!("; first: note: run with `{cmd}`"),
            None => String::new(),
        }
    )
    .map_err(io)
}
