//! `lockstep conform`: checks a recorded trace against a protocol model.
//!
//! ```text
//! lockstep conform --model host-abstract --variant fixed trace.jsonl
//! lockstep conform --from host-log scenarios/logs/seed-story.log
//! ```
//!
//! Models opt in with [`ModelEntry::with_conform`] (any [`Observable`]
//! protocol model); input formats other than schema-v1 JSONL are registered
//! per model with [`ModelEntry::with_trace_source`] (`host-log`). Exit codes
//! are the contract's: 0 conforms (and no property is violated), 1
//! non-conformance or a violated property (deadlock witness, ...), 2 bad input
//! or usage, 3 budget exhausted.

use std::collections::BTreeMap;
use std::io::Write;

use super::args::ConformArgs;
use super::commands::parse_pairs;
use super::output::{print_json, print_report};
use super::registry::{bound_args, ModelEntry, Params, Registry};
use super::UsageError;
use crate::conform::{
    check_trace, parse_jsonl, to_jsonl, to_report, ConformOptions, LifecycleEvent, Observable,
};
use crate::report::{Bounds, Report, Stopwatch};

/// What a registered conformance check receives.
#[derive(Clone, Debug)]
pub struct ConformRequest {
    pub variant: String,
    pub bounds: Bounds,
    pub params: Params,
    pub events: Vec<LifecycleEvent>,
    pub opts: ConformOptions,
}

/// Events parsed from a non-JSONL source, with what the parser wants said
/// (unknown lines skipped and counted, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedTrace {
    pub events: Vec<LifecycleEvent>,
    pub notes: Vec<String>,
}

type ConformFn = dyn Fn(&ConformRequest) -> Result<Report, String> + Send + Sync;
type SourceFn = dyn Fn(&str) -> Result<ParsedTrace, String> + Send + Sync;

/// A model's conformance hooks.
pub struct ConformEntry {
    pub default_variant: String,
    pub default_bounds: Bounds,
    pub check: Box<ConformFn>,
    /// Input formats by `--from` name.
    pub sources: BTreeMap<String, Box<SourceFn>>,
}

impl ModelEntry {
    /// Lets `lockstep conform` check traces against the protocol model that
    /// `ctor(variant, bounds, params)` builds.
    pub fn with_conform<M, F>(
        mut self,
        default_variant: &str,
        default_bounds: Bounds,
        ctor: F,
    ) -> Self
    where
        M: Observable + 'static,
        F: Fn(&str, &Bounds, &Params) -> Result<M, String> + Send + Sync + 'static,
    {
        let name = self.name.clone();
        let check = move |req: &ConformRequest| -> Result<Report, String> {
            let model = ctor(&req.variant, &req.bounds, &req.params)?;
            let watch = Stopwatch::start();
            let outcome = check_trace(&model, &req.events, &req.opts);
            let mut report = to_report(
                &name,
                &model.variant(),
                model.bounds(),
                &req.events,
                &outcome,
                watch.elapsed_ms(),
            );
            report.seed = 0;
            Ok(report)
        };
        self.conform = Some(ConformEntry {
            default_variant: default_variant.to_string(),
            default_bounds,
            check: Box::new(check),
            sources: BTreeMap::new(),
        });
        self
    }

    /// Registers input format `name` (`--from name`) for this model's
    /// conformance checks. Call after [`ModelEntry::with_conform`].
    pub fn with_trace_source<F>(mut self, name: &str, parse: F) -> Self
    where
        F: Fn(&str) -> Result<ParsedTrace, String> + Send + Sync + 'static,
    {
        if let Some(entry) = self.conform.as_mut() {
            entry.sources.insert(name.to_string(), Box::new(parse));
        }
        self
    }
}

/// The model `lockstep conform` checks against.
fn pick_model<'r>(
    registry: &'r Registry,
    args: &ConformArgs,
) -> Result<&'r ModelEntry, UsageError> {
    let with_conform: Vec<&ModelEntry> = registry
        .models
        .iter()
        .filter(|m| m.conform.is_some())
        .collect();
    let names = || {
        with_conform
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(name) = &args.model {
        return with_conform
            .iter()
            .find(|m| &m.name == name)
            .copied()
            .ok_or_else(|| {
                UsageError(format!(
                    "model `{name}` does not check traces (models that do: {})",
                    names()
                ))
            });
    }
    if args.from != "jsonl" {
        return with_conform
            .iter()
            .find(|m| {
                m.conform
                    .as_ref()
                    .is_some_and(|c| c.sources.contains_key(&args.from))
            })
            .copied()
            .ok_or_else(|| UsageError(format!("no model reads `--from {}`", args.from)));
    }
    match with_conform.as_slice() {
        [only] => Ok(only),
        _ => Err(UsageError(format!(
            "give --model (models that check traces: {})",
            names()
        ))),
    }
}

/// `lockstep conform`.
pub fn conform(
    registry: &Registry,
    args: &ConformArgs,
    out: &mut dyn Write,
) -> Result<i32, UsageError> {
    let entry = pick_model(registry, args)?;
    let Some(hooks) = entry.conform.as_ref() else {
        return Err(UsageError(format!(
            "model `{}` does not check traces",
            entry.name
        )));
    };
    let text = std::fs::read(&args.file)
        .map_err(|e| UsageError(format!("cannot read `{}`: {e}", args.file)))?;
    let text = String::from_utf8_lossy(&text);
    let mut notes = Vec::new();
    let events = if args.from == "jsonl" {
        parse_jsonl(&text).map_err(|e| UsageError(format!("{}: {e}", args.file)))?
    } else {
        let source = hooks.sources.get(&args.from).ok_or_else(|| {
            let known: Vec<&str> = hooks.sources.keys().map(String::as_str).collect();
            UsageError(format!(
                "model `{}` cannot read `--from {}` (it reads: jsonl{}{})",
                entry.name,
                args.from,
                if known.is_empty() { "" } else { ", " },
                known.join(", ")
            ))
        })?;
        let parsed = source(&text).map_err(|e| UsageError(format!("{}: {e}", args.file)))?;
        notes = parsed.notes;
        parsed.events
    };
    if args.print_events {
        write!(out, "{}", to_jsonl(&events))
            .map_err(|e| UsageError(format!("cannot write output: {e}")))?;
        for note in &notes {
            eprintln!("note: {note}");
        }
        return Ok(0);
    }
    let mut bounds = hooks.default_bounds.clone();
    for (k, v) in parse_pairs(&args.bounds, "bound")? {
        let value: i64 = v
            .parse()
            .map_err(|_| UsageError(format!("--bound {k}={v}: expected an integer")))?;
        bounds.insert(k, value);
    }
    let params: Params = parse_pairs(&args.params, "param")?.into_iter().collect();
    let mut opts = ConformOptions::default();
    if let Some(n) = args.budget_states {
        opts.max_states = usize::try_from(n).unwrap_or(usize::MAX).max(1);
    }
    let variant = args
        .variant
        .clone()
        .unwrap_or(hooks.default_variant.clone());
    let request = ConformRequest {
        variant: variant.clone(),
        bounds: bounds.clone(),
        params,
        events,
        opts,
    };
    let mut report = (hooks.check)(&request).map_err(UsageError)?;
    report.notes.splice(0..0, notes);
    report.replay = format!(
        "lockstep conform --model {} --variant {variant}{}{} {}",
        entry.name,
        bound_args(&bounds),
        if args.from == "jsonl" {
            String::new()
        } else {
            format!(" --from {}", args.from)
        },
        args.file
    );
    let written = if args.json {
        print_json(out, &report)
    } else {
        print_report(out, &report)
    };
    written.map_err(|e| UsageError(format!("cannot write output: {e}")))?;
    Ok(report.verdict.exit_code())
}
