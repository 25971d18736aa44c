//! Shrinking protocol counterexamples: delta debugging over the steps of a path.
//!
//! A path is kept as its steps' names (actor, [`Model::action_name`]). A candidate
//! (some steps removed) is walked leniently from the initial state: each step takes
//! the enabled action of that actor and name (failing that, the same step of another
//! actor: removing steps renumbers actors created later), and a step with no such
//! action is skipped. The walk stops at the first state that shows the violation; the steps
//! actually taken become the new path. So every accepted candidate is a real path
//! of the model, and the result is re-verified by a strict replay of its indices.
//!
//! Between rounds of delta debugging, each step is also tried replaced by another
//! action its actor has enabled there (another environment, the no-fault branch of
//! a fault, another request): a replacement is kept when the path gets shorter.

use super::{ddmin, DEFAULT_BUDGET};
use crate::explore::protocol::{outcome, Counterexample};
use crate::explore::semantic::protocol::{index_string, of_path};
use crate::explore::semantic::SemStep;
use crate::explore::{Model, Property, PropertyKind, DEADLOCK};
use crate::report::{Report, Verdict};

/// What a path must show to count as the same violation.
enum Goal<M: Model> {
    Deadlock,
    /// Some state on the path violates it.
    Always(Property<M>),
    /// The path ends in a terminal state and no state on it satisfies it.
    Eventually(Property<M>),
    /// The path ends in a terminal state that does not satisfy it.
    EventuallyAlways(Property<M>),
}

fn goal_of<M: Model>(model: &M, property: &str) -> Result<Goal<M>, String> {
    if property == DEADLOCK {
        return Ok(Goal::Deadlock);
    }
    let p = model
        .properties()
        .into_iter()
        .find(|p| p.name == property)
        .ok_or_else(|| format!("the model has no property `{property}`"))?;
    Ok(match p.kind {
        PropertyKind::Always => Goal::Always(p),
        PropertyKind::Eventually => Goal::Eventually(p),
        PropertyKind::EventuallyAlways => Goal::EventuallyAlways(p),
        PropertyKind::Sometimes => {
            return Err(format!(
                "`{property}` is a sometimes property: it fails by never being reached, \
                 there is no path to shrink"
            ))
        }
    })
}

type Key = (String, String);

/// A path (action indices) and its step names.
struct Path {
    indices: Vec<u32>,
    keys: Vec<Key>,
}

/// Walks `keys` from `init`; `lenient` skips a step with no matching action
/// (otherwise the walk fails). Returns the path up to the first state showing
/// the violation, or `None` if no state does.
fn walk<M: Model>(
    model: &M,
    goal: &Goal<M>,
    init: &M::State,
    keys: &[Key],
    lenient: bool,
) -> Option<Path> {
    let mut state = init.clone();
    let mut path = Path {
        indices: Vec::new(),
        keys: Vec::new(),
    };
    let mut actions = Vec::new();
    let mut satisfied = false;
    let mut remaining = keys.iter();
    loop {
        actions.clear();
        model.actions(&state, &mut actions);
        let terminal = actions.is_empty();
        let shows = match goal {
            Goal::Deadlock => terminal && !model.at_rest(&state),
            Goal::Always(p) => p.fails_at(model, &state, || terminal),
            Goal::Eventually(p) => {
                satisfied |= (p.holds)(model, &state);
                terminal && !satisfied
            }
            Goal::EventuallyAlways(p) => terminal && !(p.holds)(model, &state),
        };
        if shows {
            return Some(path);
        }
        let next = loop {
            let (actor, name) = remaining.next()?;
            let same = |a: &M::Action| model.action_name(a) == *name;
            // Removing steps renames actors created later (a retry child spawned
            // sooner gets a lower number): leniently, the same step of another actor will do.
            let found = actions
                .iter()
                .position(|a| same(a) && model.actor(a) == *actor)
                .or_else(|| lenient.then(|| actions.iter().position(same)).flatten());
            match found {
                Some(i) => break i,
                None if lenient => continue,
                None => return None,
            }
        };
        state = model.next_state(&state, &actions[next])?;
        path.indices.push(next as u32);
        path.keys.push((
            model.actor(&actions[next]),
            model.action_name(&actions[next]),
        ));
    }
}

/// A shrunk protocol path and the figures of the shrinking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShrunkPath {
    /// Action indices of the shrunk path (an index schedule).
    pub indices: Vec<u32>,
    /// Steps before and after.
    pub before: usize,
    pub after: usize,
    /// Fault steps ([`Model::fault_kind`]) before and after.
    pub faults_before: usize,
    pub faults_after: usize,
    /// Candidate paths walked.
    pub tests: u64,
    /// No single step can be removed (false only when the budget ran out).
    pub one_minimal: bool,
}

/// Shrinks the path `indices` (from the first initial state) that violates
/// `property` (`deadlock` or an `always` / `eventually` / `eventually-always`
/// property whose violation the path's last state shows) within `budget` walks.
pub fn shrink_path<M: Model>(
    model: &M,
    indices: &[u32],
    property: &str,
    budget: u64,
) -> Result<ShrunkPath, String> {
    let goal = goal_of(model, property)?;
    let init = model
        .init_states()
        .into_iter()
        .next()
        .ok_or("the model has no initial state")?;
    let steps = of_path(model, indices)?;
    let keys: Vec<Key> = steps
        .steps
        .into_iter()
        .filter_map(|s| match s {
            SemStep::Step { task, op } => Some((task, op)),
            SemStep::Choice { .. } => None,
        })
        .collect();
    let original = walk(model, &goal, &init, &keys, false)
        .ok_or_else(|| format!("the path does not show `{property}`"))?;
    let mut keys = original.keys.clone();
    let mut tests = 0u64;
    let one_minimal = loop {
        let (shrunk, spent, one_minimal) = ddmin(keys, budget.saturating_sub(tests), |c| {
            walk(model, &goal, &init, c, true).map(|p| p.keys)
        });
        tests += spent;
        keys = shrunk;
        match substitute(model, &goal, &init, &keys, &mut tests, budget) {
            Some(better) => keys = better,
            None => break one_minimal && tests < budget,
        }
    };
    // Re-verify strictly: every step must match, and the violation shows at the end.
    let shrunk = walk(model, &goal, &init, &keys, false)
        .filter(|p| p.keys.len() == keys.len())
        .ok_or("the shrunk path does not replay strictly (the model is not deterministic?)")?;
    let faults = |p: &[u32]| count_faults(model, p);
    Ok(ShrunkPath {
        faults_before: faults(indices),
        faults_after: faults(&shrunk.indices),
        before: indices.len(),
        after: shrunk.indices.len(),
        indices: shrunk.indices,
        tests: tests + 2,
        one_minimal,
    })
}

/// Tries each step replaced by another action its actor has enabled there (a
/// different environment, no fault instead of a fault, another kind of request);
/// returns the first replacement whose lenient walk shows the violation sooner.
fn substitute<M: Model>(
    model: &M,
    goal: &Goal<M>,
    init: &M::State,
    keys: &[Key],
    tests: &mut u64,
    budget: u64,
) -> Option<Vec<Key>> {
    let mut state = init.clone();
    let mut actions = Vec::new();
    for (i, (actor, name)) in keys.iter().enumerate() {
        actions.clear();
        model.actions(&state, &mut actions);
        for a in &actions {
            let other = model.action_name(a);
            if model.actor(a) != *actor || other == *name {
                continue;
            }
            if *tests >= budget {
                return None;
            }
            *tests += 1;
            let mut candidate = keys.to_vec();
            candidate[i] = (actor.clone(), other);
            if let Some(p) = walk(model, goal, init, &candidate, true) {
                if p.keys.len() < keys.len() {
                    return Some(p.keys);
                }
            }
        }
        let taken = actions
            .iter()
            .find(|a| model.actor(a) == *actor && model.action_name(a) == *name)?;
        state = model.next_state(&state, taken)?;
    }
    None
}

fn count_faults<M: Model>(model: &M, indices: &[u32]) -> usize {
    let Some(mut state) = model.init_states().into_iter().next() else {
        return 0;
    };
    let mut actions = Vec::new();
    let mut faults = 0;
    for &i in indices {
        actions.clear();
        model.actions(&state, &mut actions);
        let Some(a) = actions.get(i as usize) else {
            break;
        };
        faults += usize::from(model.fault_kind(a).is_some());
        match model.next_state(&state, a) {
            Some(next) => state = next,
            None => break,
        }
    }
    faults
}

/// Shrinks the counterexample of a protocol-level report in place when it was
/// found by a strategy other than BFS (a BFS path is shortest: noted instead).
/// Updates `trace`, `schedule`, `wait_for`, `minimized_from` and the notes; the
/// caller refreshes `replay` from the new schedule.
pub fn shrink_report<M: Model>(model: &M, report: &mut Report) {
    if report.verdict != Verdict::Violated || report.trace.is_empty() {
        return;
    }
    if report.strategy == "bfs" || report.strategy == "pct" {
        super::note_bfs_shortest(report);
        return;
    }
    let property = report.property.clone().unwrap_or_default();
    if report
        .trace
        .iter()
        .any(|e| e.fields.contains_key("loop_to"))
    {
        report.notes.push(
            "not minimized: a lasso (cycle) counterexample; only finite paths are shrunk".into(),
        );
        return;
    }
    let Some(schedule) = report.schedule.clone() else {
        report
            .notes
            .push("not minimized: the counterexample has no schedule".into());
        return;
    };
    let indices: Vec<u32> = match crate::explore::walk::parse_schedule(&schedule) {
        Ok(v) => v.into_iter().map(|i| i as u32).collect(),
        Err(e) => {
            report.notes.push(format!("not minimized: {e}"));
            return;
        }
    };
    let shrunk = match shrink_path(model, &indices, &property, DEFAULT_BUDGET) {
        Ok(s) => s,
        Err(e) => {
            report.notes.push(format!("not minimized: {e}"));
            return;
        }
    };
    let cex = Counterexample {
        init: 0,
        actions: shrunk.indices.clone(),
        loop_to: None,
    };
    match outcome::replay(model, &cex) {
        Ok(trace) => report.trace = trace,
        Err(e) => {
            report.notes.push(format!(
                "not minimized: the shrunk path does not replay: {e}"
            ));
            return;
        }
    }
    if property == DEADLOCK {
        if let Some(end) = outcome::end_state(model, &cex) {
            report.wait_for = model.wait_for(&end);
        }
    }
    report.schedule = Some(index_string(&shrunk.indices));
    report.minimized_from = Some(shrunk.before as u64);
    report.notes.push(format!(
        "minimized: {} -> {} steps, fault steps {} -> {} ({} candidate paths walked); {}; \
         re-verified by strict replay",
        shrunk.before,
        shrunk.after,
        shrunk.faults_before,
        shrunk.faults_after,
        shrunk.tests,
        if shrunk.one_minimal {
            "1-minimal: removing any single step loses the violation"
        } else {
            "budget reached: shorter, not proved 1-minimal"
        }
    ));
}
