//! [`successors_agree`]: checks a model's [`Model::successors`] override
//! against its `actions` + `next_state` on every state reachable within a
//! budget, so a fast path cannot silently change what the checkers explore.

use std::collections::{BTreeSet, VecDeque};

use super::hash::fingerprint;
use crate::explore::model::Model;

/// Explores up to `max_states` reachable states breadth-first and checks at
/// each that `successors` visits exactly the `(index, next_state(action))`
/// pairs of `actions`, in order, and returns the list's length. Returns the
/// number of states checked, or the first disagreement.
pub fn successors_agree<M: Model>(model: &M, max_states: usize) -> Result<usize, String> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<M::State> = model
        .init_states()
        .into_iter()
        .filter(|s| seen.insert(fingerprint(s)))
        .collect();
    let (mut actions, mut scratch) = (Vec::new(), Vec::new());
    let mut checked = 0;
    while let Some(state) = queue.pop_front() {
        if checked == max_states {
            break;
        }
        checked += 1;
        actions.clear();
        model.actions(&state, &mut actions);
        let expected: Vec<(usize, M::State)> = actions
            .iter()
            .enumerate()
            .filter_map(|(i, a)| Some((i, model.next_state(&state, a)?)))
            .collect();
        let mut got = Vec::new();
        let listed = model.successors(&state, &mut scratch, |i, next| got.push((i, next)));
        if listed != actions.len() || got != expected {
            return Err(format!(
                "at {}: actions + next_state give {} actions and successors {:?}; \
                 successors gives {listed} and {got:?}",
                model.format_state(&state),
                actions.len(),
                expected
            ));
        }
        for (_, next) in got {
            if seen.insert(fingerprint(&next)) {
                queue.push_back(next);
            }
        }
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::model::Property;
    use crate::report::Bounds;

    /// Steps of +1 and +2 up to 10, with a fused `successors` that is
    /// faithful, or that lists state 7's successors in swapped order.
    struct Steps {
        planted_swap: bool,
    }

    impl Model for Steps {
        type State = u8;
        type Action = u8;
        fn name(&self) -> String {
            "steps".into()
        }
        fn variant(&self) -> String {
            "toy".into()
        }
        fn bounds(&self) -> Bounds {
            Bounds::new()
        }
        fn init_states(&self) -> Vec<u8> {
            vec![0]
        }
        fn actions(&self, s: &u8, out: &mut Vec<u8>) {
            out.extend([1, 2].into_iter().filter(|d| s + d <= 10));
        }
        fn next_state(&self, s: &u8, d: &u8) -> Option<u8> {
            (s + d <= 10).then_some(s + d)
        }
        fn successors(&self, s: &u8, _: &mut Vec<u8>, mut visit: impl FnMut(usize, u8)) -> usize {
            let mut next: Vec<u8> = [s + 1, s + 2].into_iter().filter(|&n| n <= 10).collect();
            if self.planted_swap && *s == 7 {
                next.reverse();
            }
            next.iter().enumerate().for_each(|(i, &n)| visit(i, n));
            next.len()
        }
        fn properties(&self) -> Vec<Property<Self>> {
            Vec::new()
        }
        fn at_rest(&self, _: &u8) -> bool {
            true
        }
    }

    #[test]
    fn a_faithful_override_agrees_on_every_reachable_state() {
        let checked = successors_agree(
            &Steps {
                planted_swap: false,
            },
            1000,
        );
        assert_eq!(checked, Ok(11));
    }

    #[test]
    fn a_planted_disagreement_is_found() {
        let err = successors_agree(&Steps { planted_swap: true }, 1000).unwrap_err();
        assert!(err.starts_with("at 7:"), "{err}");
    }

    #[test]
    fn the_budget_bounds_the_states_checked() {
        assert_eq!(successors_agree(&Steps { planted_swap: true }, 5), Ok(5));
    }
}
