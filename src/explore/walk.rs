//! Replaying a protocol-model path from a schedule string (`2.0.1`: the index of
//! the chosen action among the enabled ones at each step), and recovering that
//! string from a counterexample trace.
//!
//! A protocol counterexample is replayable without re-running the search: the
//! path is re-walked, every step re-checked against the model (an index that is
//! not enabled is an error naming the step), and safety properties re-judged on
//! every state. Liveness verdicts need the whole graph, so a replay only
//! re-checks deadlock and `always` properties.

use crate::explore::protocol::{outcome, Counterexample};
use crate::explore::{Model, PropertyKind, DEADLOCK};
use crate::report::{PropertyResult, Report, Stopwatch, Verdict};
use crate::trace::TraceEvent;

/// Parses `2.0.1` into action indices. The empty string is the empty path.
pub fn parse_schedule(schedule: &str) -> Result<Vec<usize>, String> {
    let trimmed = schedule.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    trimmed
        .split('.')
        .enumerate()
        .map(|(i, part)| {
            part.parse::<usize>().map_err(|_| {
                format!(
                    "schedule step {}: `{part}` is not an action index (expected e.g. `2.0.1`)",
                    i + 1
                )
            })
        })
        .collect()
}

/// Walks `schedule` from the (first) initial state and reports what it shows.
pub fn replay<M: Model>(model: &M, schedule: &str) -> Result<Report, String> {
    let watch = Stopwatch::start();
    let indices = parse_schedule(schedule)?;
    let mut report = Report::new(
        &model.name(),
        &model.variant(),
        "spec",
        "replay",
        model.bounds(),
    );
    let mut state = model
        .init_states()
        .into_iter()
        .next()
        .ok_or_else(|| "the model has no initial state".to_string())?;
    let properties = model.properties();
    let mut violated: Option<String> = None;
    let check_safety = |state: &M::State, violated: &mut Option<String>| {
        for p in properties.iter().filter(|p| p.kind == PropertyKind::Always) {
            if violated.is_none() && !(p.holds)(model, state) {
                *violated = Some(p.name.to_string());
            }
        }
    };
    check_safety(&state, &mut violated);
    let mut actions = Vec::new();
    for (step, &index) in indices.iter().enumerate() {
        actions.clear();
        model.actions(&state, &mut actions);
        let action = actions.get(index).ok_or_else(|| {
            format!(
                "schedule diverges at step {}: action index {index} but only {} action(s) enabled{}",
                step + 1,
                actions.len(),
                if actions.is_empty() { String::new() } else { format!(": {}", list_actions(model, &actions)) }
            )
        })?;
        state = model.next_state(&state, action).ok_or_else(|| {
            format!(
                "schedule step {}: action {} is not enabled",
                step + 1,
                model.format_action(action)
            )
        })?;
        check_safety(&state, &mut violated);
    }
    // The events are built exactly as the checker builds its counterexamples,
    // so a replay is byte-identical to the check that printed it.
    let path = Counterexample {
        init: 0,
        actions: indices.iter().map(|&i| i as u32).collect(),
        loop_to: None,
    };
    report.trace = outcome::replay(model, &path)?;
    actions.clear();
    model.actions(&state, &mut actions);
    if actions.is_empty() && !model.at_rest(&state) {
        violated = Some(DEADLOCK.to_string());
        report
            .notes
            .push("the path ends in a state with no enabled action that is not at rest".into());
    }
    report.verdict = if violated.is_some() {
        Verdict::Violated
    } else {
        Verdict::Holds
    };
    if let Some(name) = &violated {
        report.properties.push(PropertyResult {
            name: name.clone(),
            kind: if name == DEADLOCK {
                "deadlock".into()
            } else {
                "always".into()
            },
            verdict: Verdict::Violated,
        });
    }
    report.property = violated;
    report.states = indices.len() as u64 + 1;
    report.schedule = Some(schedule.trim().to_string());
    report.notes.push(
        "replay re-checks deadlock and `always` properties along the path; liveness needs `check`"
            .into(),
    );
    report.elapsed_ms = watch.elapsed_ms();
    Ok(report)
}

fn list_actions<M: Model>(model: &M, actions: &[M::Action]) -> String {
    actions
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{i}={}", model.format_action(a)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Recovers the schedule string of a counterexample trace produced by a
/// protocol checker (events carry `action` and `state`). Returns `None` if the
/// trace does not fit the model (e.g. a lasso marker the walk cannot express).
pub fn schedule_of_trace<M: Model>(model: &M, trace: &[TraceEvent]) -> Option<String> {
    let mut state = model.init_states().into_iter().next()?;
    let mut indices = Vec::new();
    let mut actions = Vec::new();
    for event in trace.iter().filter(|e| e.kind == "action") {
        actions.clear();
        model.actions(&state, &mut actions);
        let wanted_action = event.fields.get("action")?;
        let wanted_state = event.fields.get("state");
        let (index, next) = actions.iter().enumerate().find_map(|(i, a)| {
            if &model.format_action(a) != wanted_action {
                return None;
            }
            let next = model.next_state(&state, a)?;
            match wanted_state {
                Some(s) if &model.format_state(&next) != s => None,
                _ => Some((i, next)),
            }
        })?;
        indices.push(index.to_string());
        state = next;
    }
    Some(indices.join("."))
}
