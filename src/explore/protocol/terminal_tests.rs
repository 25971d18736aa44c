//! Must-find and must-pass tests of terminal-only invariants
//! ([`Property::at_terminal`]): judged in states without an enabled action
//! only, by every strategy, by replay and by the shrinker.

use super::tests::verdict;
use super::*;
use crate::explore::minimize::protocol::shrink_report;
use crate::explore::model::Property;
use crate::explore::walk;
use crate::report::{Bounds, Verdict};

/// A small acyclic graph of numbered states from 0. Both invariants say
/// "the state is even": `even-at-end` in terminal states only, `even` (a
/// plain `always`, present when `plain`) in every state.
struct Chains {
    edges: Vec<(u8, u8)>,
    plain: bool,
}

impl Model for Chains {
    type State = u8;
    type Action = u8; // target state

    fn name(&self) -> String {
        "chains".into()
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
        out.extend(self.edges.iter().filter(|e| e.0 == *s).map(|e| e.1));
    }
    fn next_state(&self, s: &u8, t: &u8) -> Option<u8> {
        self.edges.contains(&(*s, *t)).then_some(*t)
    }
    fn properties(&self) -> Vec<Property<Self>> {
        let even = |_: &Chains, s: &u8| s.is_multiple_of(2);
        let mut props = vec![Property::at_terminal("even-at-end", even)];
        if self.plain {
            props.push(Property::always("even", even));
        }
        props
    }
    fn at_rest(&self, _: &u8) -> bool {
        true
    }
}

/// 0 -> 1 -> 2 ends even; 0 -> 3 -> 4 -> 5 ends odd. States 1 and 3 are odd
/// but not terminal.
fn odd_end(plain: bool) -> Chains {
    Chains {
        edges: vec![(0, 1), (1, 2), (0, 3), (3, 4), (4, 5)],
        plain,
    }
}

fn last_state(report: &Report) -> String {
    report.trace.last().expect("a counterexample").fields["state"].clone()
}

#[test]
fn a_terminal_invariant_is_found_at_a_terminal_state_by_every_strategy() {
    let model = odd_end(false);
    let bfs = check(&model, &CheckOptions::default());
    assert_eq!(bfs.verdict, Verdict::Violated);
    assert_eq!(bfs.property.as_deref(), Some("even-at-end"));
    assert_eq!(bfs.trace.len(), 1 + 3, "init, 0->3, 3->4, 4->5");
    assert_eq!(last_state(&bfs), "5");
    let reported = bfs.properties.iter().find(|p| p.name == "even-at-end");
    assert_eq!(reported.expect("listed").kind, "always", "an invariant");
    for strategy in [Strategy::Dfs, Strategy::Random] {
        let report = check(
            &model,
            &CheckOptions {
                strategy: strategy.clone(),
                budget_schedules: 200,
                ..Default::default()
            },
        );
        assert_eq!(
            report.property.as_deref(),
            Some("even-at-end"),
            "{strategy:?}"
        );
        assert_eq!(last_state(&report), "5", "{strategy:?}");
    }
}

#[test]
fn a_terminal_invariant_ignores_states_that_can_still_move() {
    // Odd states 1 and 3 are passed through, every end is even.
    let model = Chains {
        edges: vec![(0, 1), (1, 2), (0, 3), (3, 4)],
        plain: true,
    };
    let report = check(&model, &CheckOptions::default());
    assert_eq!(verdict(&report, "even-at-end"), Verdict::Holds);
    // The same predicate as a plain invariant fails at the first odd state.
    assert_eq!(verdict(&report, "even"), Verdict::Violated);
    assert_eq!(report.property.as_deref(), Some("even"));
    assert_eq!(report.trace.len(), 1 + 1, "init, 0->1");
}

#[test]
fn replay_and_shrinking_judge_only_the_terminal_end() {
    let model = odd_end(false);
    // Schedules are action indices: 0 -> 1 -> 2 ends even, 0 -> 3 -> 4 -> 5 odd.
    let even_end = walk::replay(&model, "0.0").expect("a valid schedule");
    assert_eq!(even_end.verdict, Verdict::Holds, "{:?}", even_end.notes);
    let odd_end = walk::replay(&model, "1.0.0").expect("a valid schedule");
    assert_eq!(odd_end.property.as_deref(), Some("even-at-end"));
    // A path that stops at the odd, non-terminal state 3 shows nothing.
    let stopped = walk::replay(&model, "1").expect("a valid schedule");
    assert_eq!(stopped.verdict, Verdict::Holds, "{:?}", stopped.notes);
    // The shrinker keeps a DFS counterexample ending at the terminal state.
    let mut dfs = check(
        &model,
        &CheckOptions {
            strategy: Strategy::Dfs,
            ..Default::default()
        },
    );
    shrink_report(&model, &mut dfs);
    assert_eq!(dfs.property.as_deref(), Some("even-at-end"));
    assert_eq!(last_state(&dfs), "5");
}
