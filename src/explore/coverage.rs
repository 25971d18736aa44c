//! Coverage: what a check actually reached. A "holds" is only as good as what
//! was explored, so `check --coverage` adds to the report:
//!
//! * a phases x events table: for protocol models, every transition of the
//!   reachable graph counted by the phase of its source state ([`Model::phase`])
//!   and the event class of its action ([`Model::action_name`] up to the first
//!   `(`); for implementation models, trace events counted by task role (the
//!   task name without its `#n`) and event kind, over sampled runs;
//! * the fault kinds that fired ([`Model::fault_kind`]; `fault` trace events and
//!   non-zero `choose` answers at the implementation level);
//! * which `sometimes` properties were hit.
//!
//! The protocol pass is its own BFS over fingerprints, capped at a state budget
//! (the table then says it is partial); it does not slow the check itself.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::explore::protocol::hash::fingerprint;
use crate::explore::schedules::{ImplModel, RandomScheduler};
use crate::explore::{Model, PropertyKind};
use crate::rt::{Executor, TraceLevel};

/// States the protocol coverage pass visits at most.
pub const DEFAULT_STATE_CAP: u64 = 2_000_000;
/// Runs the implementation coverage pass samples.
pub const DEFAULT_RUNS: u64 = 200;

/// One cell of the phases x events table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub phase: String,
    pub event: String,
    pub count: u64,
}

/// A named count (a fault kind).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

/// Whether a `sometimes` property was reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub name: String,
    pub hit: bool,
}

/// What a check reached (serialized as the report's `coverage`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// What the counts cover (`every reachable state (20,433)`, `200 random runs`).
    pub scope: String,
    /// False when a cap stopped the pass before it covered its scope.
    pub complete: bool,
    pub phases: Vec<String>,
    pub events: Vec<String>,
    /// Non-zero cells only, by phase then event.
    pub cells: Vec<Cell>,
    pub faults: Vec<Count>,
    pub sometimes: Vec<Hit>,
}

/// Accumulates counts; turns into a [`Coverage`].
#[derive(Default)]
struct Tally {
    cells: BTreeMap<(String, String), u64>,
    faults: BTreeMap<String, u64>,
}

impl Tally {
    fn add(&mut self, phase: String, event: String) {
        *self.cells.entry((phase, event)).or_insert(0) += 1;
    }
    fn fault(&mut self, kind: String) {
        *self.faults.entry(kind).or_insert(0) += 1;
    }
    fn finish(self, scope: String, complete: bool, sometimes: Vec<Hit>) -> Coverage {
        let phases: BTreeSet<&String> = self.cells.keys().map(|(p, _)| p).collect();
        let events: BTreeSet<&String> = self.cells.keys().map(|(_, e)| e).collect();
        Coverage {
            scope,
            complete,
            phases: phases.into_iter().cloned().collect(),
            events: events.into_iter().cloned().collect(),
            cells: self
                .cells
                .iter()
                .map(|((phase, event), &count)| Cell {
                    phase: phase.clone(),
                    event: event.clone(),
                    count,
                })
                .collect(),
            faults: self
                .faults
                .into_iter()
                .map(|(name, count)| Count { name, count })
                .collect(),
            sometimes,
        }
    }
}

/// The event class of an action name: up to the first `(`.
fn event_class(name: &str) -> String {
    name.split('(').next().unwrap_or(name).trim().to_string()
}

/// Protocol coverage: BFS over the reachable graph from every initial state,
/// counting each transition once, up to `state_cap` states.
pub fn protocol<M: Model>(model: &M, state_cap: u64) -> Coverage {
    let props: Vec<_> = model
        .properties()
        .into_iter()
        .filter(|p| p.kind == PropertyKind::Sometimes)
        .collect();
    let mut hit = vec![false; props.len()];
    let mut tally = Tally::default();
    let mut seen: BTreeSet<u64> = BTreeSet::new();
    let mut queue: VecDeque<M::State> = VecDeque::new();
    for s in model.init_states() {
        if seen.insert(fingerprint(&s)) {
            queue.push_back(s);
        }
    }
    let mut complete = true;
    let mut actions = Vec::new();
    while let Some(state) = queue.pop_front() {
        for (h, p) in hit.iter_mut().zip(&props) {
            *h |= (p.holds)(model, &state);
        }
        let phase = model.phase(&state);
        actions.clear();
        model.actions(&state, &mut actions);
        for a in &actions {
            tally.add(phase.clone(), event_class(&model.action_name(a)));
            if let Some(kind) = model.fault_kind(a) {
                tally.fault(kind);
            }
            let Some(next) = model.next_state(&state, a) else {
                continue;
            };
            if seen.len() as u64 >= state_cap {
                complete = false;
                continue;
            }
            if seen.insert(fingerprint(&next)) {
                queue.push_back(next);
            }
        }
    }
    let scope = if complete {
        format!(
            "every transition of the reachable graph ({} states)",
            crate::cli::output::thousands(seen.len() as u64)
        )
    } else {
        format!(
            "the first {} states in BFS order (state cap reached: partial)",
            crate::cli::output::thousands(state_cap)
        )
    };
    let sometimes = props
        .iter()
        .zip(hit)
        .map(|(p, hit)| Hit {
            name: p.name.to_string(),
            hit,
        })
        .collect();
    tally.finish(scope, complete, sometimes)
}

/// A task's role: its name without the `#n` instance suffix.
fn role(task: &str) -> String {
    task.split('#').next().unwrap_or(task).to_string()
}

/// Implementation coverage: `runs` random runs (run seeds derived from `seed`
/// as the random strategy derives them) at operation trace level.
pub fn implementation<I: ImplModel + ?Sized>(model: &I, runs: u64, seed: u64) -> Coverage {
    let mut config = model.run_config();
    config.trace_level = TraceLevel::Ops;
    let mut tally = Tally::default();
    let mut reached: BTreeSet<String> = BTreeSet::new();
    for i in 0..runs {
        let run_seed = crate::explore::schedules::run_seed(seed, i);
        let (outcome, _) =
            Executor::run_with(&config, RandomScheduler::new(run_seed), || model.main());
        for e in &outcome.trace {
            match e.kind.as_str() {
                "fault" => tally.fault(e.fields.get("value").cloned().unwrap_or_default()),
                "choose" if e.fields.get("value").is_some_and(|v| v != "0") => {
                    tally.fault(format!(
                        "choose:{}",
                        e.fields.get("label").cloned().unwrap_or_default()
                    ))
                }
                _ => {}
            }
            tally.add(role(&e.task), e.kind.clone());
        }
        reached.extend(outcome.sometimes_reached);
    }
    let sometimes = model
        .properties()
        .into_iter()
        .filter(|(_, k)| *k == PropertyKind::Sometimes)
        .map(|(name, _)| Hit {
            hit: reached.contains(&name),
            name,
        })
        .collect();
    tally.finish(
        format!("{runs} random runs from seed {seed} (sampled, not exhaustive)"),
        true,
        sometimes,
    )
}

/// The coverage as text: the scope, a table with one row per event class and
/// one column per phase, the faults that fired and the `sometimes` hits.
pub fn render(coverage: &Coverage) -> String {
    let mut out = format!("coverage: {}\n", coverage.scope);
    let count = |phase: &str, event: &str| {
        coverage
            .cells
            .iter()
            .find(|c| c.phase == phase && c.event == event)
            .map_or(0, |c| c.count)
    };
    let ev_width = coverage
        .events
        .iter()
        .map(|e| e.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let widths: Vec<usize> = coverage
        .phases
        .iter()
        .map(|p| {
            let longest = coverage
                .events
                .iter()
                .map(|e| crate::cli::output::thousands(count(p, e)).len())
                .max()
                .unwrap_or(1);
            p.chars().count().max(longest)
        })
        .collect();
    let mut header = format!("  {:<ev_width$}", "event");
    for (p, w) in coverage.phases.iter().zip(&widths) {
        header.push_str(&format!("  {p:>w$}"));
    }
    out.push_str(header.trim_end());
    out.push('\n');
    for e in &coverage.events {
        let mut line = format!("  {e:<ev_width$}");
        for (p, w) in coverage.phases.iter().zip(&widths) {
            let n = count(p, e);
            let cell = if n == 0 {
                "·".to_string()
            } else {
                crate::cli::output::thousands(n)
            };
            line.push_str(&format!("  {cell:>w$}"));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let faults: Vec<String> = coverage
        .faults
        .iter()
        .map(|f| format!("{} x{}", f.name, crate::cli::output::thousands(f.count)))
        .collect();
    out.push_str(&format!(
        "  faults fired: {}\n",
        if faults.is_empty() {
            "none".to_string()
        } else {
            faults.join(", ")
        }
    ));
    for s in &coverage.sometimes {
        out.push_str(&format!(
            "  sometimes {:<32} {}\n",
            s.name,
            if s.hit { "hit" } else { "NOT HIT" }
        ));
    }
    out
}
