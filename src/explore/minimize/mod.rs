//! Minimization: shrinks a counterexample found by a strategy that does not give
//! shortest ones (DFS, random, PCT, sweeps) until no single removal still shows the
//! same violation (1-minimal), re-verifies the result by replay, and says so in the
//! report (`notes`, `minimized_from`).
//!
//! * [`protocol`]: a protocol path is shrunk by delta debugging over its steps,
//!   each step named by (actor, action name) so that a step keeps its meaning
//!   when earlier ones are removed; BFS paths are already shortest and are left
//!   alone (the report says so).
//! * [`schedules`]: an implementation schedule is shrunk in what makes it
//!   special: preemptions (switching away from a task that could go on) and
//!   non-zero `choose` answers (faults, request arrivals, chosen delays). Both
//!   are *deviations* from a default policy (`deviation.rs`); delta debugging
//!   drops them, then each survivor is lowered, moved (alone or with the
//!   switches after it) or swapped with the next switch, to turn preemptions
//!   into ordinary switches.
//!
//! What each level does and does not minimize is tabulated in
//! docs/debugging.md ("What is minimized, and what is not").

mod deviation;
pub mod protocol;
pub mod schedules;

use crate::report::{Report, Verdict};

/// Replays (protocol) or runs (implementation) a minimization may spend.
pub const DEFAULT_BUDGET: u64 = 20_000;

/// Splits `items` into `n` nearly equal chunks and returns chunk `i`'s range.
pub(crate) fn chunk(len: usize, n: usize, i: usize) -> std::ops::Range<usize> {
    (i * len / n)..((i + 1) * len / n)
}

/// Delta debugging (Zeller's ddmin, complements only) over `items`: `test`
/// returns the reduced list a candidate leads to when it still fails (it may be
/// shorter than the candidate: a violation can show up earlier), or `None`.
/// Ends 1-minimal (no single item can be removed) unless `budget` tests run out;
/// returns the list, the tests made and whether it is known 1-minimal.
pub(crate) fn ddmin<T: Clone>(
    mut items: Vec<T>,
    budget: u64,
    mut test: impl FnMut(&[T]) -> Option<Vec<T>>,
) -> (Vec<T>, u64, bool) {
    let mut tests = 0u64;
    let mut n = 2usize;
    loop {
        let len = items.len();
        if len == 0 {
            return (items, tests, true);
        }
        n = n.min(len);
        let chunks = n;
        let mut reduced = false;
        for i in 0..chunks {
            if tests >= budget {
                return (items, tests, false);
            }
            let range = chunk(len, chunks, i);
            let candidate: Vec<T> = items[..range.start]
                .iter()
                .chain(&items[range.end..])
                .cloned()
                .collect();
            tests += 1;
            if let Some(smaller) = test(&candidate) {
                if smaller.len() < len {
                    items = smaller;
                    n = chunks.saturating_sub(1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= len {
                return (items, tests, true);
            }
            n = (2 * n).min(len);
        }
    }
}

/// The note a BFS counterexample gets instead of minimization.
pub fn note_bfs_shortest(report: &mut Report) {
    if report.verdict != Verdict::Violated || report.trace.is_empty() {
        return;
    }
    let steps = report.trace.iter().filter(|e| e.kind != "init").count();
    report.notes.push(format!(
        "shortest counterexample: BFS explores by depth, so no path shows `{}` in fewer than \
         {steps} steps (not minimized further)",
        report.property.as_deref().unwrap_or("?")
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddmin_finds_the_one_minimal_subset() {
        // Fails when it contains 3 and 7 (in any order of removal).
        let items: Vec<u32> = (0..20).collect();
        let (min, tests, one_minimal) = ddmin(items, 10_000, |c| {
            (c.contains(&3) && c.contains(&7)).then(|| c.to_vec())
        });
        assert_eq!(min, vec![3, 7]);
        assert!(one_minimal);
        assert!(tests < 200, "{tests} tests");
    }

    #[test]
    fn ddmin_respects_its_budget_and_takes_shorter_results() {
        let items: Vec<u32> = (0..50).collect();
        let (min, tests, one_minimal) = ddmin(items.clone(), 3, |c| Some(c.to_vec()));
        assert_eq!(tests, 3);
        assert!(!one_minimal);
        assert!(min.len() < 50);
        // A test that reports an earlier failure shrinks further than asked.
        let (min, _, _) = ddmin(items, 100, |c| c.first().map(|&x| vec![x]));
        assert_eq!(min.len(), 1);
        assert_eq!(chunk(10, 3, 2), 6..10);
    }
}
