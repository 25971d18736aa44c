//! Benchmark rows for the host model: the protocol-level check of `fix-11825`
//! over a grid of bounds, and the implementation-level exhaustive check with
//! and without partial-order reduction (executor steps/s, schedules/s), next
//! to shuttle's DFS on the same model code under the same schedule budget.

use lockstep::explore::{schedules, CheckOptions, Strategy};
use lockstep::report::{Bounds, Report, Verdict};
use serde_json::{json, Value};

use crate::host::{HostImpl, HostSpec};

fn bounds(pairs: &[(&str, i64)], defaults: Bounds) -> Bounds {
    let mut b = defaults;
    for (k, v) in pairs {
        b.insert(k.to_string(), *v);
    }
    b
}

fn per_sec(count: u64, ms: u64) -> u64 {
    count * 1000 / ms.max(1)
}

/// Total executor steps, from the explorer's `exhaustive: ... N step(s)` note.
fn steps_of(report: &Report) -> Option<u64> {
    report.notes.iter().find_map(|n| {
        let before = n.strip_suffix(" step(s)")?;
        before.rsplit(' ').next()?.parse().ok()
    })
}

/// Protocol level: `fix-11825` at restarts x storage_failures, each check
/// bounded by a state budget (rows past it say `inconclusive`).
pub fn spec_grid(quick: bool) -> Value {
    let (restarts, storage, budget) = if quick {
        (1..=2, 0..=1, 300_000)
    } else {
        (1..=6, 0..=3, 3_000_000)
    };
    let mut rows = Vec::new();
    for r in restarts {
        for s in storage.clone() {
            // Enough attempts to outlast every fault, so liveness is meaningful.
            let attempts = r + s + 2;
            let b = bounds(
                &[
                    ("restarts", r),
                    ("storage_failures", s),
                    ("attempts", attempts),
                ],
                HostSpec::default_bounds(),
            );
            let Ok(model) = HostSpec::new("fix-11825", &b) else {
                continue;
            };
            let opts = CheckOptions {
                budget_states: budget,
                ..CheckOptions::default()
            };
            let report = lockstep::explore::protocol::check(&model, &opts);
            rows.push(json!({
                "restarts": r,
                "storage_failures": s,
                "attempts": attempts,
                "verdict": report.verdict.as_str(),
                "property": report.property.clone().unwrap_or_else(|| "-".into()),
                "states": report.states,
                "ms": report.elapsed_ms,
                "states_per_s": per_sec(report.states, report.elapsed_ms),
            }));
        }
    }
    Value::Array(rows)
}

/// Whether a row's search ran to its end.
fn completed(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Holds => "yes",
        Verdict::Violated => "stopped at a violation",
        Verdict::Inconclusive => "no: budget",
    }
}

/// Implementation level: exhaustive DFS of `fix-11825` with sleep sets and
/// state caching, then, under the schedule budget that run needed, the same
/// model with reduction off and the same model code under shuttle's DFS
/// (feature `shuttle`; without it the row says how to get it).
pub fn impl_reduction(quick: bool) -> Value {
    let b = if quick {
        bounds(
            &[("restarts", 0), ("worker_timeouts", 0)],
            HostImpl::default_bounds(),
        )
    } else {
        HostImpl::default_bounds()
    };
    let bounds_text = b
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut rows = Vec::new();
    let mut budget = 0;
    for reduction in [true, false] {
        let Ok(model) = HostImpl::new("fix-11825", &b) else {
            return Value::Null;
        };
        let opts = CheckOptions {
            strategy: Strategy::Dfs,
            no_reduction: !reduction,
            // Reduction off gets the schedule budget the reduced run needed.
            budget_schedules: if reduction { 10_000_000 } else { budget.max(1) },
            ..CheckOptions::default()
        };
        let report = schedules::check(&model, &opts);
        if reduction {
            budget = report.schedules;
        }
        let steps = steps_of(&report);
        rows.push(json!({
            "bounds": bounds_text,
            "engine": "lockstep dfs",
            "reduction": if reduction { "sleep sets + cache" } else { "none" },
            "verdict": report.verdict.as_str(),
            "completed": completed(report.verdict),
            "schedules": report.schedules,
            "states": report.states,
            "ms": report.elapsed_ms,
            "schedules_per_s": per_sec(report.schedules, report.elapsed_ms),
            "steps_per_s": steps.map(|s| per_sec(s, report.elapsed_ms)),
        }));
    }
    rows.push(shuttle_row(&b, &bounds_text, budget.max(1)));
    Value::Array(rows)
}

/// Shuttle's DFS on the same model code and bounds, `budget` schedules at most.
#[cfg(feature = "shuttle")]
fn shuttle_row(b: &Bounds, bounds_text: &str, budget: u64) -> Value {
    let Ok(model) = HostImpl::new("fix-11825", b) else {
        return Value::Null;
    };
    let watch = lockstep::report::Stopwatch::start();
    let out = lockstep::rt::shuttle_backend::check_dfs_fixed_data(
        std::sync::Arc::new(model),
        usize::try_from(budget).unwrap_or(usize::MAX),
    );
    let ms = watch.elapsed_ms();
    let completed = if out.iterations < budget {
        // The host model draws its faults with `rt::choose`, which shuttle's
        // DFS does not enumerate: it finished one fixed choice sequence.
        "interleavings of one choice sequence"
    } else {
        completed(out.verdict)
    };
    json!({
        "bounds": bounds_text,
        "engine": "shuttle 0.9 dfs",
        "reduction": "none",
        "verdict": out.verdict.as_str(),
        "completed": completed,
        "schedules": out.iterations,
        "states": Value::Null,
        "ms": ms,
        "schedules_per_s": per_sec(out.iterations, ms),
        "steps_per_s": Value::Null,
    })
}

/// Without the `shuttle` feature the row is there and says how to get it.
#[cfg(not(feature = "shuttle"))]
fn shuttle_row(_: &Bounds, bounds_text: &str, _budget: u64) -> Value {
    json!({
        "bounds": bounds_text,
        "engine": "shuttle 0.9 dfs",
        "reduction": "none",
        "verdict": "not built: needs --features shuttle (docs/backends.md)",
        "completed": Value::Null,
        "schedules": Value::Null,
        "states": Value::Null,
        "ms": Value::Null,
        "schedules_per_s": Value::Null,
        "steps_per_s": Value::Null,
    })
}
