//! A two-actor mutex protocol for examples and tests of the conformance
//! checker: actors `A` and `B` each take a permit once and give it back;
//! `B` may instead forget to release (a planted leak, an internal step) so
//! that `A` can be left waiting for ever.

use super::observe::{Observable, ObservedEvent};
use crate::explore::{Model, Property};
use crate::report::Bounds;

/// The toy model (no parameters).
#[derive(Clone, Copy, Debug, Default)]
pub struct Mutex2;

/// Program counter of one actor: 0 idle, 1 queued, 2 holding, 3 done, 4 leaked (done, permit kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct M2State {
    pub pc: [u8; 2],
    pub holder: Option<u8>,
}

/// `(actor, step)`: 0 wait, 1 acquire, 2 release, 3 leak (B only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct M2Action(pub u8, pub u8);

const NAMES: [&str; 2] = ["A", "B"];

impl Model for Mutex2 {
    type State = M2State;
    type Action = M2Action;

    fn name(&self) -> String {
        "mutex2".into()
    }
    fn variant(&self) -> String {
        "toy".into()
    }
    fn bounds(&self) -> Bounds {
        Bounds::new()
    }
    fn init_states(&self) -> Vec<M2State> {
        vec![M2State {
            pc: [0, 0],
            holder: None,
        }]
    }
    fn actions(&self, s: &M2State, out: &mut Vec<M2Action>) {
        for a in 0..2u8 {
            match s.pc[a as usize] {
                0 => out.push(M2Action(a, 0)),
                1 if s.holder.is_none() => out.push(M2Action(a, 1)),
                2 => {
                    out.push(M2Action(a, 2));
                    if a == 1 {
                        out.push(M2Action(a, 3));
                    }
                }
                _ => {}
            }
        }
    }
    fn next_state(&self, s: &M2State, action: &M2Action) -> Option<M2State> {
        let mut v = Vec::new();
        self.actions(s, &mut v);
        if !v.contains(action) {
            return None;
        }
        let mut n = *s;
        let a = action.0 as usize;
        match action.1 {
            0 => n.pc[a] = 1,
            1 => {
                n.pc[a] = 2;
                n.holder = Some(action.0);
            }
            2 => {
                n.pc[a] = 3;
                n.holder = None;
            }
            _ => n.pc[a] = 4,
        }
        Some(n)
    }
    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("no-leak", |_, s: &M2State| !s.pc.contains(&4)),
            Property::eventually("both-done", |_, s: &M2State| s.pc.iter().all(|&p| p >= 3)),
        ]
    }
    fn at_rest(&self, s: &M2State) -> bool {
        s.pc.iter().all(|&p| p == 3 || p == 4)
    }
    fn actor(&self, action: &M2Action) -> String {
        NAMES[action.0 as usize].to_string()
    }
}

impl Observable for Mutex2 {
    fn observe(&self, _: &M2State, action: &M2Action, _: &M2State) -> Vec<ObservedEvent> {
        let who = NAMES[action.0 as usize];
        match action.1 {
            // Queuing is not observable as a step (`sem.wait` is a probe).
            1 => vec![ObservedEvent::new("sem.acquire").by(who)],
            2 => vec![ObservedEvent::new("sem.release").by(who)],
            _ => Vec::new(),
        }
    }
    fn longest_bounded_wait_ms(&self) -> u64 {
        1_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conform::{check_trace, ConformOptions, LifecycleEvent};
    use crate::report::Verdict;

    fn ev(seq: u64, t: u64, actor: &str, event: &str) -> LifecycleEvent {
        LifecycleEvent::new(seq, t, actor, event).at_line(seq as usize)
    }

    #[test]
    fn a_complete_run_conforms_and_both_finish() {
        let events = [
            ev(1, 0, "x", "sem.wait"),
            ev(2, 1, "x", "sem.acquire"),
            ev(3, 2, "y", "sem.wait"),
            ev(4, 3, "x", "sem.release"),
            ev(5, 4, "y", "sem.acquire"),
            ev(6, 5, "y", "sem.release"),
            ev(7, 5000, "", "trace.end"),
        ];
        let out = check_trace(&Mutex2, &events, &ConformOptions::default());
        assert_eq!(out.verdict, Verdict::Holds, "{:?}", out.notes);
        assert!(out.quiescent);
        assert!(out.held_at_end.is_empty());
    }

    #[test]
    fn a_missing_release_is_rejected_at_the_next_acquire() {
        let events = [
            ev(1, 0, "x", "sem.wait"),
            ev(2, 1, "x", "sem.acquire"),
            ev(3, 2, "y", "sem.wait"),
            ev(4, 5, "y", "sem.acquire"),
        ];
        let out = check_trace(&Mutex2, &events, &ConformOptions::default());
        assert_eq!(out.verdict, Verdict::Violated);
        assert_eq!(out.property.as_deref(), Some("conformance"));
        let r = out.rejection.unwrap();
        assert_eq!(r.line, 4);
        assert!(
            r.allowed
                .iter()
                .any(|a| a == "sem.release by A (trace actor x)"
                    || a == "sem.release by B (trace actor x)"),
            "{:?}",
            r.allowed
        );
    }

    #[test]
    fn a_leak_and_long_silence_is_a_deadlock_witness() {
        let events = [
            ev(1, 0, "b", "sem.wait"),
            ev(2, 1, "b", "sem.acquire"),
            ev(3, 2, "a", "sem.wait"),
            ev(4, 9000, "", "health.report").with("status", "stuck"),
        ];
        let out = check_trace(&Mutex2, &events, &ConformOptions::default());
        assert_eq!(out.verdict, Verdict::Violated, "{:?}", out.notes);
        assert_eq!(out.property.as_deref(), Some("deadlock"), "{:?}", out.notes);
        assert!(out.quiescent);
        assert_eq!(out.held_at_end[0].holder, "b");
        assert_eq!(out.held_at_end[0].waiters, ["a"]);
        // Without the silence it is only an unfinished trace.
        let out = check_trace(&Mutex2, &events[..3], &ConformOptions::default());
        assert_eq!(out.verdict, Verdict::Holds);
    }

    #[test]
    fn silence_where_the_model_must_move_is_rejected() {
        let events = [
            ev(1, 0, "a", "sem.acquire"),
            ev(2, 1, "a", "sem.release"),
            ev(3, 9000, "", "trace.end"),
        ];
        // One actor is done; the other must still take the permit within the bounded wait.
        let out = check_trace(&Mutex2, &events, &ConformOptions::default());
        assert_eq!(out.verdict, Verdict::Violated, "{:?}", out.notes);
        assert_eq!(out.property.as_deref(), Some("conformance"));
    }

    #[test]
    fn budget_gives_inconclusive() {
        let events = [ev(1, 0, "a", "sem.wait")];
        let opts = ConformOptions {
            max_states: 1,
            ..ConformOptions::default()
        };
        let out = check_trace(&Mutex2, &events, &opts);
        assert_eq!(out.verdict, Verdict::Inconclusive);
    }
}
