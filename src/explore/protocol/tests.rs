//! Must-find and must-pass tests of the protocol checkers on toy models with
//! planted bugs: the checker has to find them by exploration.

use super::*;
use crate::explore::model::Property;
use crate::report::{Bounds, Verdict};

/// Two processes take locks A and B in opposite orders after `k` local steps
/// each: the classic planted deadlock. State: (pc0, pc1, owner of A, owner of B)
/// with owners 0 = free, 1/2 = process.
struct Locks {
    k: u8,
    /// Take the locks in the same order (no deadlock).
    ordered: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct LockState {
    pc: [u8; 2],
    a: u8,
    b: u8,
}

impl Locks {
    /// (first lock, second lock) of process `p`: 0 = A, 1 = B.
    fn order(&self, p: usize) -> [usize; 2] {
        if p == 1 && !self.ordered {
            [1, 0]
        } else {
            [0, 1]
        }
    }
}

impl Model for Locks {
    type State = LockState;
    type Action = usize; // which process steps

    fn name(&self) -> String {
        "locks".into()
    }
    fn variant(&self) -> String {
        if self.ordered { "ordered" } else { "crossed" }.into()
    }
    fn bounds(&self) -> Bounds {
        Bounds::from([("k".to_string(), i64::from(self.k))])
    }
    fn init_states(&self) -> Vec<LockState> {
        vec![LockState {
            pc: [0, 0],
            a: 0,
            b: 0,
        }]
    }
    fn actions(&self, s: &LockState, out: &mut Vec<usize>) {
        for p in 0..2 {
            if self.next_state(s, &p).is_some() {
                out.push(p);
            }
        }
    }
    fn next_state(&self, s: &LockState, &p: &usize) -> Option<LockState> {
        let mut n = s.clone();
        let me = p as u8 + 1;
        let pc = s.pc[p];
        let lock = |n: &mut LockState, which: usize| -> Option<()> {
            let slot = if which == 0 { &mut n.a } else { &mut n.b };
            (*slot == 0).then(|| *slot = me)
        };
        match pc {
            _ if pc < self.k => {}
            _ if pc == self.k => lock(&mut n, self.order(p)[0])?,
            _ if pc == self.k + 1 => lock(&mut n, self.order(p)[1])?,
            _ if pc == self.k + 2 => {
                n.a = 0;
                n.b = 0;
            }
            _ => return None,
        }
        n.pc[p] += 1;
        Some(n)
    }
    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("exclusive", |m: &Locks, s: &LockState| {
                // A process in its critical section holds both locks.
                (0..2).all(|p| s.pc[p] != m.k + 2 || (s.a == p as u8 + 1 && s.b == p as u8 + 1))
            }),
            Property::sometimes("both-done", |m: &Locks, s: &LockState| {
                s.pc == [m.k + 3, m.k + 3]
            }),
        ]
    }
    fn at_rest(&self, s: &LockState) -> bool {
        s.pc == [self.k + 3, self.k + 3]
    }
}

/// A counter with optional loops, for liveness: states 0..=3, p = "x is
/// `goal`". `edges` lists the transitions.
pub(super) struct Graph {
    pub(super) edges: Vec<(u8, u8)>,
    pub(super) goal: Vec<u8>,
    /// Offer the state's own number as the progress measure (right when
    /// every edge goes up; `flags_tests.rs` also tests a wrong one).
    pub(super) ranked: bool,
}

impl Model for Graph {
    type State = u8;
    type Action = u8; // target state

    fn name(&self) -> String {
        "graph".into()
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
        let goal = |m: &Graph, s: &u8| m.goal.contains(s);
        vec![
            Property::eventually("ev-goal", goal),
            Property::eventually_always("ev-al-goal", goal),
        ]
    }
    fn at_rest(&self, _: &u8) -> bool {
        true
    }
    fn progress(&self, s: &u8) -> Option<u64> {
        self.ranked.then_some(u64::from(*s))
    }
}

/// An `n` x `n` grid walked by two counters; `always` fails at one corner
/// cell, reachable by many shortest paths (so parent choice matters).
struct Grid {
    n: u16,
}

impl Model for Grid {
    type State = (u16, u16);
    type Action = u8;

    fn name(&self) -> String {
        "grid".into()
    }
    fn variant(&self) -> String {
        "toy".into()
    }
    fn bounds(&self) -> Bounds {
        Bounds::from([("n".to_string(), i64::from(self.n))])
    }
    fn init_states(&self) -> Vec<(u16, u16)> {
        vec![(0, 0)]
    }
    fn actions(&self, s: &(u16, u16), out: &mut Vec<u8>) {
        if s.0 + 1 < self.n {
            out.push(0);
        }
        if s.1 + 1 < self.n {
            out.push(1);
        }
    }
    fn next_state(&self, s: &(u16, u16), a: &u8) -> Option<(u16, u16)> {
        let n = if *a == 0 {
            (s.0 + 1, s.1)
        } else {
            (s.0, s.1 + 1)
        };
        (n.0 < self.n && n.1 < self.n).then_some(n)
    }
    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("not-corner", |m: &Grid, s: &(u16, u16)| {
                *s != (m.n - 1, m.n - 2)
            }),
            Property::sometimes("diagonal", |_, s: &(u16, u16)| s.0 == s.1 && s.0 > 0),
            Property::sometimes("unreachable", |m: &Grid, s: &(u16, u16)| s.0 >= m.n),
        ]
    }
    fn at_rest(&self, _: &(u16, u16)) -> bool {
        true
    }
}

fn opts(strategy: Strategy) -> CheckOptions {
    CheckOptions {
        strategy,
        ..Default::default()
    }
}

pub(super) fn verdict(report: &Report, name: &str) -> Verdict {
    report
        .properties
        .iter()
        .find(|p| p.name == name)
        .expect("property reported")
        .verdict
}

#[test]
fn bfs_finds_the_planted_deadlock_by_a_shortest_path() {
    let model = Locks {
        k: 3,
        ordered: false,
    };
    let report = check(&model, &CheckOptions::default());
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(report.property.as_deref(), Some(DEADLOCK));
    // k local steps and one lock each: 2 * (3 + 1) actions after the init event.
    assert_eq!(report.trace.len(), 1 + 8);
    assert_eq!(report.trace[0].kind, "init");
    assert!(report.trace[1..]
        .iter()
        .all(|e| e.kind == "action" && e.fields.contains_key("state")));
    assert_eq!(verdict(&report, "exclusive"), Verdict::Holds);
    assert_eq!(verdict(&report, "both-done"), Verdict::Holds);
    assert!(report
        .replay
        .starts_with("lockstep check locks --variant crossed --level spec --bound k=3"));
}

#[test]
fn dfs_and_random_find_the_deadlock_too() {
    let model = Locks {
        k: 2,
        ordered: false,
    };
    let dfs = check(&model, &opts(Strategy::Dfs));
    assert_eq!(dfs.property.as_deref(), Some(DEADLOCK));
    assert!(
        dfs.trace.len() > 6,
        "at least the 6 steps of the shortest path"
    );
    let random = check(
        &model,
        &CheckOptions {
            seed: 7,
            budget_schedules: 2_000,
            ..opts(Strategy::Random)
        },
    );
    assert_eq!(random.property.as_deref(), Some(DEADLOCK));
    let again = check(
        &model,
        &CheckOptions {
            seed: 7,
            budget_schedules: 2_000,
            ..opts(Strategy::Random)
        },
    );
    assert_eq!(random.trace, again.trace, "same seed, same walk");
    assert!(random.notes.iter().any(|n| n.contains("not a proof")));
}

#[test]
fn ordered_locks_hold_under_every_strategy() {
    let model = Locks {
        k: 2,
        ordered: true,
    };
    for strategy in [Strategy::Bfs, Strategy::Dfs] {
        let report = check(&model, &opts(strategy.clone()));
        assert_eq!(
            report.verdict,
            Verdict::Holds,
            "{strategy:?}: {:?}",
            report.notes
        );
        assert!(report.trace.is_empty());
    }
    let bfs = check(&model, &opts(Strategy::Bfs));
    let dfs = check(&model, &opts(Strategy::Dfs));
    assert_eq!(bfs.states, dfs.states);
    let random = check(
        &model,
        &CheckOptions {
            budget_schedules: 200,
            ..opts(Strategy::Random)
        },
    );
    assert_eq!(random.verdict, Verdict::Holds);
    assert_eq!(random.schedules, 200);
}

#[test]
fn eventually_is_violated_by_a_cycle_without_p() {
    // 0 -> 1 -> 2 -> 0 loops for ever; 2 -> 3 reaches the goal.
    let model = Graph {
        edges: vec![(0, 1), (1, 2), (2, 0), (2, 3)],
        goal: vec![3],
        ranked: false,
    };
    let (report, traces) = check_detailed(&model, &CheckOptions::default());
    assert_eq!(verdict(&report, "ev-goal"), Verdict::Violated);
    assert_eq!(verdict(&report, "ev-al-goal"), Verdict::Violated);
    let lasso = &traces["ev-goal"];
    let last = lasso.last().expect("a lasso");
    let back: usize = last.fields["loop_to"].parse().unwrap();
    assert_eq!(
        lasso[back].fields["state"], last.fields["state"],
        "the loop closes"
    );
    assert!(traces["ev-al-goal"]
        .last()
        .unwrap()
        .fields
        .contains_key("loop_to"));
}

#[test]
fn eventually_is_violated_by_a_terminal_without_p() {
    // Acyclic: 0 -> 1 -> 2 (terminal, not the goal); 0 -> 3 (goal).
    let model = Graph {
        edges: vec![(0, 1), (1, 2), (0, 3)],
        goal: vec![3],
        ranked: false,
    };
    let (report, traces) = check_detailed(&model, &CheckOptions::default());
    assert_eq!(verdict(&report, "ev-goal"), Verdict::Violated);
    assert_eq!(traces["ev-goal"].len(), 3, "init, 0->1, 1->2");
    assert!(!traces["ev-goal"]
        .last()
        .unwrap()
        .fields
        .contains_key("loop_to"));
    assert_eq!(verdict(&report, "ev-al-goal"), Verdict::Violated);
}

#[test]
fn liveness_that_holds_passes_and_cycles_through_not_p_fail_eventually_always() {
    // 0 -> 1 (goal) -> 0: <>goal holds; a cycle through 0 breaks <>[]goal.
    let model = Graph {
        edges: vec![(0, 1), (1, 0)],
        goal: vec![1],
        ranked: false,
    };
    let report = check(&model, &CheckOptions::default());
    assert_eq!(verdict(&report, "ev-goal"), Verdict::Holds);
    assert_eq!(verdict(&report, "ev-al-goal"), Verdict::Violated);
    // 0 -> 1 (goal) -> 1: the only cycle stays in the goal.
    let model = Graph {
        edges: vec![(0, 1), (1, 1)],
        goal: vec![1],
        ranked: false,
    };
    let report = check(&model, &CheckOptions::default());
    assert_eq!(report.verdict, Verdict::Holds, "{:?}", report.properties);
}

#[test]
fn liveness_verdicts_agree_between_fingerprint_and_exact_mode() {
    // Exact mode runs the general cycle-aware passes even on acyclic graphs;
    // fingerprint mode first tries the single post-order DFS.
    let cases = [
        (
            vec![(0, 1), (1, 2), (2, 0), (2, 3)],
            vec![3],
            [Verdict::Violated, Verdict::Violated],
        ),
        (
            vec![(0, 1), (1, 2), (0, 3)],
            vec![3],
            [Verdict::Violated, Verdict::Violated],
        ),
        (
            vec![(0, 1), (1, 2), (0, 3)],
            vec![2, 3],
            [Verdict::Holds, Verdict::Holds],
        ),
        (
            vec![(0, 1), (1, 0)],
            vec![1],
            [Verdict::Holds, Verdict::Violated],
        ),
        (
            vec![(0, 1), (1, 1)],
            vec![1],
            [Verdict::Holds, Verdict::Holds],
        ),
        (
            vec![(0, 1), (1, 2), (2, 1)],
            vec![0],
            [Verdict::Holds, Verdict::Violated],
        ),
    ];
    for (edges, goal, expected) in cases {
        // BFS: Kahn's pass (fingerprints) or the DFS passes (exact); DFS:
        // the post-order acyclicity pass (fingerprints) or the DFS passes.
        for (strategy, exact) in [
            (Strategy::Bfs, false),
            (Strategy::Bfs, true),
            (Strategy::Dfs, false),
            (Strategy::Dfs, true),
        ] {
            let model = Graph {
                edges: edges.clone(),
                goal: goal.clone(),
                ranked: false,
            };
            let options = CheckOptions {
                exact,
                ..opts(strategy.clone())
            };
            let (report, traces) = check_detailed(&model, &options);
            let got = [verdict(&report, "ev-goal"), verdict(&report, "ev-al-goal")];
            assert_eq!(
                got, expected,
                "edges {edges:?} goal {goal:?} {strategy:?} exact {exact}"
            );
            for trace in traces.values() {
                let last = trace.last().expect("a counterexample has steps");
                if let Some(back) = last.fields.get("loop_to") {
                    let back: usize = back.parse().unwrap();
                    assert_eq!(trace[back].fields.get("state"), last.fields.get("state"));
                }
            }
        }
    }
}

#[test]
fn a_sometimes_never_reached_fails_the_check() {
    let model = Grid { n: 6 };
    let props = model
        .properties()
        .into_iter()
        .filter(|p| p.name != "not-corner")
        .collect();
    let ctx_report = run(
        &model,
        &CheckOptions::default(),
        &ProtocolOptions::default(),
        PropTable::new(props, true),
    )
    .0;
    assert_eq!(ctx_report.verdict, Verdict::Violated);
    assert_eq!(ctx_report.property.as_deref(), Some("unreachable"));
    assert!(ctx_report.trace.is_empty());
    assert!(ctx_report
        .notes
        .iter()
        .any(|n| n.contains("never reached (vacuity guard)")));
    assert_eq!(verdict(&ctx_report, "diagonal"), Verdict::Holds);
}

#[test]
fn budgets_yield_inconclusive() {
    let model = Grid { n: 200 };
    let report = check(
        &model,
        &CheckOptions {
            budget_states: 500,
            ..Default::default()
        },
    );
    assert_eq!(report.verdict, Verdict::Inconclusive);
    assert!(
        report.notes.iter().any(|n| n.contains("state budget")),
        "{:?}",
        report.notes
    );
    let quiet = Locks {
        k: 40,
        ordered: true,
    };
    let dfs = check(
        &quiet,
        &CheckOptions {
            budget_states: 500,
            ..opts(Strategy::Dfs)
        },
    );
    assert_eq!(dfs.verdict, Verdict::Inconclusive);
    let deep = check(
        &Locks {
            k: 2,
            ordered: true,
        },
        &CheckOptions {
            max_depth: 3,
            ..opts(Strategy::Dfs)
        },
    );
    assert_eq!(deep.verdict, Verdict::Inconclusive);
    assert!(deep.notes.iter().any(|n| n.contains("depth bound 3")));
}

#[test]
fn thread_count_changes_nothing() {
    let model = Grid { n: 150 };
    let one = check(&model, &CheckOptions::default());
    assert_eq!(one.property.as_deref(), Some("not-corner"));
    assert_eq!(one.trace.len(), 1 + (150 - 1) + (150 - 2));
    for threads in [2, 3] {
        let many = check(
            &model,
            &CheckOptions {
                threads,
                ..Default::default()
            },
        );
        assert_eq!(
            (many.verdict, many.states),
            (one.verdict, one.states),
            "{threads} threads"
        );
        assert_eq!(
            many.trace, one.trace,
            "{threads} threads: the same counterexample"
        );
    }
    let ordered = Locks {
        k: 4,
        ordered: true,
    };
    let one = check(&ordered, &CheckOptions::default());
    let two = check(
        &ordered,
        &CheckOptions {
            threads: 2,
            ..Default::default()
        },
    );
    assert_eq!((one.states, one.verdict), (two.states, two.verdict));
}

/// A budget stop falls after the same batch whatever the thread count
/// (batches have a fixed size, not one per thread), so the report, its
/// state and transition counts included, is the same.
#[test]
fn budget_stops_fall_at_the_same_place_for_any_thread_count() {
    let model = Grid { n: 200 };
    let with = |threads, budget_states| {
        check(
            &model,
            &CheckOptions {
                threads,
                budget_states,
                ..Default::default()
            },
        )
    };
    for budget in [500, 2_000, 5_000] {
        let one = with(1, budget);
        assert_eq!(one.verdict, Verdict::Inconclusive, "budget {budget}");
        for threads in [2, 3] {
            let many = with(threads, budget);
            // Equal notes too (transition counts, the stop message), but
            // for the thread count they state.
            let notes: Vec<String> = many
                .notes
                .iter()
                .map(|n| n.replace(&format!("{threads} thread(s)"), "1 thread(s)"))
                .collect();
            assert_eq!(
                (many.verdict, many.states, &notes),
                (one.verdict, one.states, &one.notes),
                "budget {budget}, {threads} threads"
            );
        }
    }
}

#[test]
fn exact_and_fingerprint_modes_count_the_same_states() {
    for strategy in [Strategy::Bfs, Strategy::Dfs] {
        let model = Locks {
            k: 5,
            ordered: true,
        };
        let fp = check(&model, &opts(strategy.clone()));
        let exact = check(
            &model,
            &CheckOptions {
                exact: true,
                ..opts(strategy)
            },
        );
        assert_eq!((fp.states, fp.verdict), (exact.states, exact.verdict));
        assert!(exact.notes.iter().any(|n| n.starts_with("exact mode")));
        assert!(fp.notes.iter().any(|n| n.starts_with("fingerprint mode")));
    }
}

#[test]
fn check_property_reports_one_property() {
    let model = Grid { n: 10 };
    let one = check_property(&model, &CheckOptions::default(), "diagonal").unwrap();
    assert_eq!(one.verdict, Verdict::Holds);
    assert_eq!(one.properties.len(), 1);
    let bad = check_property(&model, &CheckOptions::default(), "not-corner").unwrap();
    assert_eq!(bad.property.as_deref(), Some("not-corner"));
    let err = check_property(&model, &CheckOptions::default(), "nope").unwrap_err();
    assert!(err.contains("unknown property `nope`") && err.contains("not-corner"));
}

#[test]
fn stop_at_first_stops_at_the_first_violation() {
    let model = Grid { n: 50 };
    let popts = ProtocolOptions {
        stop_at_first: true,
        ..Default::default()
    };
    let (report, _) = check_with(&model, &CheckOptions::default(), &popts);
    assert_eq!(report.property.as_deref(), Some("not-corner"));
    assert_eq!(verdict(&report, "diagonal"), Verdict::Holds);
    assert_eq!(verdict(&report, "unreachable"), Verdict::Inconclusive);
}
