//! Benchmark rows for the host model: the protocol-level check of `fix-11825`
//! over a grid of bounds, and the implementation-level exhaustive check with
//! and without partial-order reduction (executor steps/s, schedules/s).

use lockstep::explore::{schedules, CheckOptions, Strategy};
use lockstep::report::{Bounds, Report};
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

/// Implementation level: exhaustive DFS of `fix-11825` with sleep sets and
/// state caching, and the same model with reduction off under the same
/// schedule budget (so the gap is visible without waiting for it to finish).
pub fn impl_reduction(quick: bool) -> Value {
    let b = if quick {
        bounds(
            &[("restarts", 0), ("worker_timeouts", 0)],
            HostImpl::default_bounds(),
        )
    } else {
        HostImpl::default_bounds()
    };
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
            "bounds": b.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
            "reduction": if reduction { "sleep sets + cache" } else { "none" },
            "verdict": report.verdict.as_str(),
            "schedules": report.schedules,
            "states": report.states,
            "ms": report.elapsed_ms,
            "schedules_per_s": per_sec(report.schedules, report.elapsed_ms),
            "steps_per_s": steps.map(|s| per_sec(s, report.elapsed_ms)),
        }));
    }
    Value::Array(rows)
}
