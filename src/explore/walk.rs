//! Replaying a protocol-model path from a schedule string (`2.0.1`: the index of
//! the chosen action among the enabled ones at each step), and recovering that
//! string from a counterexample trace.
//!
//! A protocol counterexample is replayable without re-running the search: the
//! path is re-walked, every step re-checked against the model (an index that is
//! not enabled is an error naming the step), safety properties re-judged on
//! every state, and liveness judged on the path itself: a path that ends in a
//! terminal state, or loops back to an earlier state, without satisfying an
//! `eventually` property is a counterexample to it.

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
    // Walk the path, keeping every state: safety is judged on each, liveness
    // on the path as a whole (a finite maximal path or a lasso).
    let mut path_states = vec![state.clone()];
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
        path_states.push(state.clone());
    }
    // A lasso: the last state repeats an earlier one, so the path can loop for ever.
    let loop_from = path_states[..path_states.len() - 1]
        .iter()
        .position(|s| *s == state);
    // The events are built exactly as the checker builds its counterexamples
    // (a lasso's last step marked with the step it loops back to), so a replay
    // is byte-identical to the check that printed it.
    let path = Counterexample {
        init: 0,
        actions: indices.iter().map(|&i| i as u32).collect(),
        loop_to: loop_from,
    };
    report.trace = outcome::replay(model, &path)?;
    actions.clear();
    model.actions(&state, &mut actions);
    let terminal = actions.is_empty();
    let mut found: Vec<(String, &'static str)> = Vec::new();
    if terminal && !model.at_rest(&state) {
        found.push((DEADLOCK.to_string(), "deadlock"));
        report
            .notes
            .push("the path ends in a state with no enabled action that is not at rest".into());
    }
    for p in model.properties() {
        let holds = |s: &M::State| (p.holds)(model, s);
        let broken = match p.kind {
            // Every state before the last has a successor on the path.
            PropertyKind::Always if p.terminal_only => terminal && !holds(&state),
            PropertyKind::Always => !path_states.iter().all(holds),
            PropertyKind::Eventually => {
                (terminal || loop_from.is_some()) && !path_states.iter().any(holds)
            }
            PropertyKind::EventuallyAlways => {
                (terminal && !holds(&state))
                    || loop_from.is_some_and(|j| !path_states[j..].iter().all(holds))
            }
            // Reaching a `sometimes` needs the whole graph, not one path.
            PropertyKind::Sometimes => false,
        };
        if broken {
            let kind = match p.kind {
                PropertyKind::Always => "always",
                PropertyKind::Eventually => "eventually",
                _ => "eventually-always",
            };
            found.push((p.name.to_string(), kind));
        }
    }
    // Same priority as the checker: deadlock, then `always`, then liveness.
    found.sort_by_key(|(_, kind)| match *kind {
        "deadlock" => 0,
        "always" => 1,
        _ => 2,
    });
    report.verdict = if found.is_empty() {
        Verdict::Holds
    } else {
        Verdict::Violated
    };
    report.properties = found
        .iter()
        .map(|(name, kind)| PropertyResult {
            name: name.clone(),
            kind: kind.to_string(),
            verdict: Verdict::Violated,
        })
        .collect();
    let violated = found.first().map(|(name, _)| name.clone());
    if violated.as_deref() == Some(DEADLOCK) {
        report.wait_for = model.wait_for(&state);
    }
    report.property = violated;
    report.states = indices.len() as u64 + 1;
    report.schedule = Some(schedule.trim().to_string());
    report.notes.push(
        "replay judges deadlock and `always` on every state, liveness on the path (finite or lasso); `sometimes` needs `check`"
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

/// The state a schedule leads to, if it fits the model.
pub fn final_state<M: Model>(model: &M, schedule: &str) -> Option<M::State> {
    let mut state = model.init_states().into_iter().next()?;
    let mut actions = Vec::new();
    for index in parse_schedule(schedule).ok()? {
        actions.clear();
        model.actions(&state, &mut actions);
        state = model.next_state(&state, actions.get(index)?)?;
    }
    Some(state)
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
