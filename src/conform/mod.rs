//! Conformance: checking a recorded trace, step by step, against a protocol
//! model. This is how lockstep regression-proofs implementations it does not
//! run itself (another team's code, real host logs) and keeps its own two
//! levels of model in agreement.
//!
//! * [`schema`]: the versioned JSON Lines lifecycle event schema.
//! * [`observe`]: the [`Observable`] trait a protocol model implements to say
//!   which of its steps show which events.
//! * `product` (internal): the set of model states consistent with a trace
//!   prefix, closed under unobservable steps.
//! * [`check`]: [`check_trace`] and its [`ConformOutcome`]; [`to_report`]
//!   turns it into the CLI's [`Report`] (level `conform`).
//!
//! ```
//! use lockstep::conform::{check_trace, parse_jsonl, ConformOptions};
//! # use lockstep::conform::toy::Mutex2;
//! let trace = "{\"v\":1,\"seq\":1,\"time_ms\":0,\"actor\":\"a\",\"event\":\"sem.acquire\"}\n\
//!              {\"v\":1,\"seq\":2,\"time_ms\":5,\"actor\":\"b\",\"event\":\"sem.acquire\"}\n";
//! let events = parse_jsonl(trace).unwrap();
//! let outcome = check_trace(&Mutex2, &events, &ConformOptions::default());
//! let rejected = outcome.rejection.unwrap();
//! assert_eq!(rejected.line, 2); // b cannot take the permit a holds
//! assert!(rejected.allowed.iter().any(|a| a.starts_with("sem.release")));
//! ```

pub mod check;
pub mod observe;
mod product;
pub mod schema;
#[doc(hidden)]
pub mod toy;

pub use check::{
    check_trace, held_at_end, ConformOptions, ConformOutcome, HeldAtEnd, Rejection, NON_CONFORMANCE,
};
pub use observe::{Binding, Observable, ObservedEvent};
pub use schema::{
    from_rt_semaphore, from_trace, parse_jsonl, to_jsonl, LifecycleEvent, SchemaError, EVENTS,
    LIFECYCLE_KIND, SCHEMA_VERSION,
};

use crate::report::{Bounds, Report};
use crate::trace::TraceEvent;

/// The report of a conformance check (`level = "conform"`, `strategy =
/// "trace"`): `states` counts product nodes, `schedules` is 1 (the trace),
/// `trace` holds the events checked (up to and including a rejected one).
pub fn to_report(
    model: &str,
    variant: &str,
    bounds: Bounds,
    events: &[LifecycleEvent],
    outcome: &ConformOutcome,
    elapsed_ms: u64,
) -> Report {
    let mut report = Report::new(model, variant, "conform", "trace", bounds);
    report.verdict = outcome.verdict;
    report.property = outcome.property.clone();
    report.states = outcome.states;
    report.schedules = 1;
    report.elapsed_ms = elapsed_ms;
    // The contract: the trace is empty when the verdict is `holds`.
    let upto = match &outcome.rejection {
        _ if outcome.verdict == crate::report::Verdict::Holds => 0,
        Some(r) => events
            .iter()
            .position(|e| e.seq == r.seq && e.line == r.line)
            .map_or(events.len(), |i| i + 1),
        None => events.len(),
    };
    report.trace = events[..upto]
        .iter()
        .enumerate()
        .map(|(i, e)| e.to_trace_event(i as u64))
        .collect::<Vec<TraceEvent>>();
    report.properties = outcome.properties.clone();
    report.wait_for = outcome.wait_for.clone();
    report.notes = outcome.notes.clone();
    report.notes.push(format!(
        "{} event(s) checked, {} product state(s), at most {} consistent model state(s) after an event",
        outcome.events_checked, outcome.states, outcome.max_consistent
    ));
    for held in &outcome.held_at_end {
        report.notes.push(format!(
            "the trace leaves `{}` held by {}{}",
            held.resource,
            held.holder,
            if held.waiters.is_empty() {
                String::new()
            } else {
                format!(" (waiting: {})", held.waiters.join(", "))
            }
        ));
    }
    report
}
