//! Figures of the protocol model that a verdict does not show: the most function
//! executions that start after a crossing (before the stop), over every reachable
//! state, by a plain BFS over 64-bit state fingerprints.

use std::collections::{BTreeSet, VecDeque};

use lockstep::explore::Model;

use super::spec::BreakerSpec;

/// What [`after_crossing`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AfterCrossing {
    /// The most executions started after a crossing in one run of the app.
    pub max_executions: u64,
    /// The computed bound it is compared with (`Config::executions_after_crossing_bound`).
    pub bound: u64,
    /// Distinct states explored.
    pub states: u64,
    /// Whether the whole graph was explored within the budget.
    pub complete: bool,
}

/// Explores up to `budget_states` states of `spec` and reports the largest
/// number of executions after a crossing.
pub fn after_crossing(spec: &BreakerSpec, budget_states: u64) -> AfterCrossing {
    let mut seen: BTreeSet<u64> = BTreeSet::new();
    let mut queue: VecDeque<_> = VecDeque::new();
    for init in spec.init_states() {
        if seen.insert(lockstep::rt::hash_of(&init)) {
            queue.push_back(init);
        }
    }
    let mut most = 0u64;
    let mut complete = true;
    let mut actions = Vec::new();
    while let Some(state) = queue.pop_front() {
        most = most.max(u64::from(state.after_crossing));
        if seen.len() as u64 >= budget_states {
            complete = false;
            continue;
        }
        actions.clear();
        spec.actions(&state, &mut actions);
        for action in &actions {
            if let Some(next) = spec.next_state(&state, action) {
                if seen.insert(lockstep::rt::hash_of(&next)) {
                    queue.push_back(next);
                }
            }
        }
    }
    AfterCrossing {
        max_executions: most,
        bound: spec.config.executions_after_crossing_bound(None),
        states: seen.len() as u64,
        complete,
    }
}
