//! Must-find tests of the one-pass liveness check (`flags.rs`): a violation
//! that only shows once a late flag is pushed on, agreement with Kahn's pass,
//! and a wrong progress measure that must not change a verdict.

use super::tests::{verdict, Graph};
use super::*;
use crate::report::Verdict;

/// The toy graph of `tests.rs` with its states' numbers as the measure.
fn ranked(edges: Vec<(u8, u8)>, goal: Vec<u8>) -> Graph {
    Graph {
        edges,
        goal,
        ranked: true,
    }
}

fn notes(report: &Report) -> String {
    report.notes.join("\n")
}

/// 0 -> 1 (goal) -> 4; 0 -> 2 -> 3 -> 4 -> 5 (terminal). State 4 is first
/// stored at depth 2 from the goal state 1 (outside G') and expanded
/// without the flag; only the later edge 3 -> 4 puts it in G'. Without the
/// re-propagation the terminal 5 would never be seen in G'.
fn late_flag_graph() -> Graph {
    ranked(
        vec![(0, 1), (1, 4), (0, 2), (2, 3), (3, 4), (4, 5)],
        vec![1],
    )
}

#[test]
fn a_violation_reached_only_through_a_late_flag_is_found() {
    for threads in [1, 2] {
        let opts = CheckOptions {
            threads,
            ..CheckOptions::default()
        };
        let (report, traces) = check_detailed(&late_flag_graph(), &opts);
        assert_eq!(verdict(&report, "ev-goal"), Verdict::Violated);
        // 4 gains the flag late, then passes it on to 5.
        assert!(
            notes(&report).contains("(2 late flag re-expansions)"),
            "{}",
            notes(&report)
        );
        // The counterexample is the path that avoids the goal: 0 2 3 4 5.
        let states: Vec<&str> = traces["ev-goal"]
            .iter()
            .map(|e| e.fields["state"].as_str())
            .collect();
        assert_eq!(states, ["0", "2", "3", "4", "5"]);
    }
}

#[test]
fn the_one_pass_check_agrees_with_kahns_pass() {
    let cases = [
        late_flag_graph(),
        // The goal is on every path: holds.
        ranked(vec![(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)], vec![3]),
        // A diamond where only one side has the goal, then a shared tail.
        ranked(
            vec![(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (2, 5)],
            vec![1],
        ),
    ];
    for model in cases {
        let ranked = check(&model, &CheckOptions::default());
        let popts = ProtocolOptions {
            use_progress: false,
            ..ProtocolOptions::default()
        };
        let (kahn, _) = check_with(&model, &CheckOptions::default(), &popts);
        assert!(notes(&ranked).contains("progress measure increased"));
        assert!(notes(&kahn).contains("Kahn's pass"));
        for name in ["ev-goal", "ev-al-goal"] {
            assert_eq!(
                verdict(&ranked, name),
                verdict(&kahn, name),
                "{name} on {:?}",
                model.edges
            );
        }
        assert_eq!(ranked.states, kahn.states);
    }
}

#[test]
fn a_wrong_progress_measure_falls_back_and_still_finds_the_cycle() {
    // 2 -> 1 goes down the measure and closes the cycle 1 -> 2 -> 1 of
    // non-goal states: `<> goal` fails by a lasso, which only the
    // cycle-aware passes can show.
    let model = ranked(vec![(0, 1), (1, 2), (2, 1), (0, 3)], vec![3]);
    let (report, traces) = check_detailed(&model, &CheckOptions::default());
    assert!(
        notes(&report).contains("progress measure did not increase"),
        "{}",
        notes(&report)
    );
    assert_eq!(verdict(&report, "ev-goal"), Verdict::Violated);
    assert_eq!(verdict(&report, "ev-al-goal"), Verdict::Violated);
    assert!(traces["ev-goal"]
        .last()
        .expect("a lasso")
        .fields
        .contains_key("loop_to"));
}
