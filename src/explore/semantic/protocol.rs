//! Semantic schedules of protocol models: a path as (actor, action name) steps, and
//! the follower that turns such a schedule back into action indices on the current
//! model, tolerating inserted and removed steps (see the parent module).

use super::{Divergence, SemStep, SemanticSchedule, MAX_INSERTED};
use crate::explore::Model;

/// The semantic schedule of the path `indices` (action index per step, from the
/// first initial state). An index that is not enabled is an error naming the step.
pub fn of_path<M: Model>(model: &M, indices: &[u32]) -> Result<SemanticSchedule, String> {
    let mut state = first_state(model)?;
    let mut actions = Vec::new();
    let mut steps = Vec::with_capacity(indices.len());
    for (k, &i) in indices.iter().enumerate() {
        actions.clear();
        model.actions(&state, &mut actions);
        let action = actions
            .get(i as usize)
            .ok_or_else(|| format!("step {}: action #{i} is not enabled", k + 1))?;
        steps.push(SemStep::step(
            model.actor(action),
            model.action_name(action),
        ));
        state = model
            .next_state(&state, action)
            .ok_or_else(|| format!("step {}: next_state refused an enabled action", k + 1))?;
    }
    Ok(SemanticSchedule { steps })
}

/// A semantic schedule followed on the current model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Followed {
    /// The action index taken at each step (an index schedule for [`crate::explore::walk`]).
    pub indices: Vec<u32>,
    /// Each tolerated drift (inserted or skipped step), in order.
    pub notes: Vec<String>,
}

impl Followed {
    /// The index schedule string (`0.2.1`).
    pub fn index_schedule(&self) -> String {
        index_string(&self.indices)
    }
}

/// `0.2.1` from indices.
pub fn index_string(indices: &[u32]) -> String {
    indices
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn first_state<M: Model>(model: &M) -> Result<M::State, String> {
    model
        .init_states()
        .into_iter()
        .next()
        .ok_or_else(|| "the model has no initial state".to_string())
}

/// Follows `schedule` from the first initial state: at each recorded step, the
/// enabled action of that actor with that name. Drift is tolerated and noted:
///
/// * inserted: the actor has exactly one enabled action, of another name, and
///   fewer than [`MAX_INSERTED`] such steps were taken in a row: take it;
/// * removed: the actor's *next* recorded operation is enabled now: skip the
///   recorded step.
///
/// Anything else is a [`Divergence`] naming the step and what was possible.
pub fn follow<M: Model>(model: &M, schedule: &SemanticSchedule) -> Result<Followed, Divergence> {
    let mut state = first_state(model).map_err(|reason| Divergence {
        step: 1,
        expected: String::new(),
        reason,
        possible: Vec::new(),
    })?;
    let mut out = Followed::default();
    let mut actions = Vec::new();
    let mut inserted = 0usize;
    let mut k = 0usize;
    while k < schedule.steps.len() {
        let expected = &schedule.steps[k];
        actions.clear();
        model.actions(&state, &mut actions);
        let named: Vec<(String, String)> = actions
            .iter()
            .map(|a| (model.actor(a), model.action_name(a)))
            .collect();
        let diverge = |reason: String| Divergence {
            step: k + 1,
            expected: expected.to_string(),
            reason,
            possible: named
                .iter()
                .map(|(t, o)| SemStep::step(t.as_str(), o.as_str()).to_string())
                .collect(),
        };
        let (task, op) = match expected {
            SemStep::Step { task, op } => (task, op),
            SemStep::Choice { .. } => {
                return Err(diverge(
                    "protocol models make no `choose` decisions (this schedule is from an \
                     implementation model)"
                        .into(),
                ))
            }
        };
        let take = |index: usize| -> Result<M::State, Divergence> {
            model.next_state(&state, &actions[index]).ok_or_else(|| {
                diverge("the model refused an action it listed as enabled".to_string())
            })
        };
        if let Some(i) = named.iter().position(|(t, o)| t == task && o == op) {
            state = take(i)?;
            out.indices.push(i as u32);
            inserted = 0;
            k += 1;
            continue;
        }
        let mine: Vec<usize> = (0..named.len()).filter(|&i| named[i].0 == *task).collect();
        let next_of_task = schedule.steps[k + 1..].iter().find_map(|s| match s {
            SemStep::Step { task: t, op } if t == task => Some(op),
            _ => None,
        });
        if let Some(next_op) = next_of_task {
            if mine.iter().any(|&i| named[i].1 == *next_op) {
                out.notes.push(format!(
                    "recorded step {} (`{expected}`) no longer exists: skipped",
                    k + 1
                ));
                k += 1;
                continue;
            }
        }
        if let [only] = mine[..] {
            if inserted < MAX_INSERTED {
                out.notes.push(format!(
                    "a step not in the recording, `{}`, runs before recorded step {}",
                    SemStep::step(task.as_str(), named[only].1.as_str()),
                    k + 1
                ));
                state = take(only)?;
                out.indices.push(only as u32);
                inserted += 1;
                continue;
            }
        }
        let reason = if mine.is_empty() {
            format!("{task} has no enabled action here")
        } else if inserted >= MAX_INSERTED {
            format!("{task} took {inserted} unrecorded steps in a row without reaching `{op}`")
        } else {
            format!("{task} cannot do `{op}` here")
        };
        return Err(diverge(reason));
    }
    Ok(out)
}
