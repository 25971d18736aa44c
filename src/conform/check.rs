//! `check_trace`: runs a trace through the product with a protocol model and
//! judges it: the first event the model does not allow (with what it would
//! allow there), the invariants every consistent path breaks, and, when the
//! trace ends in a long silence, whether the system it shows is deadlocked.

use std::collections::BTreeMap;

use super::observe::Observable;
use super::product::{sample_states, Node, NodeSet, Product};
use super::schema::LifecycleEvent;
use crate::explore::{PropertyKind, DEADLOCK};
use crate::report::{PropertyResult, Verdict, WaitEdge};

/// The property name of a trace the model does not allow.
pub const NON_CONFORMANCE: &str = "conformance";

/// Budgets of one conformance check (counts, never time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConformOptions {
    /// Stop with `inconclusive` if the set of consistent states grows past this.
    pub max_states: usize,
    /// Most events of taken steps the trace may still owe at once.
    pub max_pending: usize,
    /// Most entries in an "allowed here" list.
    pub allowed_cap: usize,
    /// Compare only these event names (a projection): the model's other
    /// events count as internal and the trace's are skipped. `None`: all.
    /// For traces that record only part of the story (an executor trace's
    /// semaphore operations).
    pub only: Option<Vec<String>>,
}

impl Default for ConformOptions {
    fn default() -> Self {
        ConformOptions {
            max_states: 200_000,
            max_pending: 12,
            allowed_cap: 24,
            only: None,
        }
    }
}

/// The first event the model does not allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// 1-based input line (0 if the event was built in code).
    pub line: usize,
    pub seq: u64,
    /// The event, described (`sem.acquire by start#2 resource=host-start`).
    pub event: String,
    /// Why, in one sentence.
    pub reason: String,
    /// What the model would allow instead.
    pub allowed: Vec<String>,
}

/// A semaphore the trace leaves held (from its own `sem.*` events).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldAtEnd {
    pub resource: String,
    pub holder: String,
    /// Actors that queued (`sem.wait`) and never got it.
    pub waiters: Vec<String>,
}

/// Everything a conformance check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConformOutcome {
    pub verdict: Verdict,
    /// The violated property: `conformance`, `deadlock`, or a model property.
    pub property: Option<String>,
    pub rejection: Option<Rejection>,
    /// Trace events consumed (probes and `x-` events included).
    pub events_checked: usize,
    /// Product nodes created.
    pub states: u64,
    /// Largest set of consistent states after an event.
    pub max_consistent: usize,
    /// Time from the last step event to the end of the trace.
    pub silence_ms: u64,
    /// Whether that silence exceeds the model's longest bounded wait.
    pub quiescent: bool,
    pub held_at_end: Vec<HeldAtEnd>,
    pub properties: Vec<PropertyResult>,
    pub wait_for: Vec<WaitEdge>,
    pub notes: Vec<String>,
}

/// Checks `events` against `model`. Never panics on any input.
pub fn check_trace<M: Observable>(
    model: &M,
    events: &[LifecycleEvent],
    opts: &ConformOptions,
) -> ConformOutcome {
    let mut product = Product::new(model, opts.max_pending, opts.only.clone());
    let props = model.properties();
    let mut out = ConformOutcome {
        verdict: Verdict::Holds,
        property: None,
        rejection: None,
        events_checked: 0,
        states: 0,
        max_consistent: 0,
        silence_ms: silence(events),
        quiescent: false,
        held_at_end: held_at_end(events),
        properties: Vec::new(),
        wait_for: Vec::new(),
        notes: Vec::new(),
    };
    out.quiescent = out.silence_ms > model.longest_bounded_wait_ms();
    // First line at which every consistent path broke an `always` property.
    let mut broken: BTreeMap<&str, usize> = BTreeMap::new();
    let initial = product.initial();
    let mut set = match product.close(initial, opts.max_states) {
        Ok(set) => set,
        Err(_) => return over_budget(out, &product, 0, opts),
    };
    let mut unmodelled: BTreeMap<&str, usize> = BTreeMap::new();
    for ev in events {
        out.events_checked += 1;
        if ev.is_extension() || ev.event == "trace.end" {
            continue;
        }
        if ev.is_probe() {
            let kept: Vec<Node<M::State>> = set
                .nodes
                .iter()
                .filter(|n| model.admits_probe(&n.state, ev))
                .cloned()
                .collect();
            if kept.is_empty() {
                let reason =
                    "the probe contradicts every state the model can be in here".to_string();
                return reject(out, &product, &set, ev, reason, opts);
            }
            set = rebuild(kept);
            continue;
        }
        let projected_out = opts
            .only
            .as_ref()
            .is_some_and(|only| !only.contains(&ev.event));
        if !model.observes(&ev.event) || projected_out {
            *unmodelled.entry(ev.event.as_str()).or_default() += 1;
            continue;
        }
        let next = product.advance(&set, ev);
        if next.is_empty() {
            let reason = "no state the model can be in here allows this event".to_string();
            return reject(out, &product, &set, ev, reason, opts);
        }
        for p in props.iter().filter(|p| p.kind == PropertyKind::Always) {
            let terminal = |n: &Node<M::State>| {
                let mut actions = Vec::new();
                model.actions(&n.state, &mut actions);
                actions.is_empty()
            };
            let fails = |n: &Node<M::State>| p.fails_at(model, &n.state, || terminal(n));
            if !broken.contains_key(p.name) && next.iter().all(fails) {
                broken.insert(p.name, ev.line);
            }
        }
        set = match product.close(next, opts.max_states) {
            Ok(set) => set,
            Err(_) => return over_budget(out, &product, ev.line, opts),
        };
        out.max_consistent = out.max_consistent.max(set.len());
    }
    out.states = product.created;
    if !unmodelled.is_empty() {
        let list: Vec<String> = unmodelled
            .iter()
            .map(|(e, n)| format!("{e} x{n}"))
            .collect();
        out.notes.push(format!(
            "not modelled by this model, skipped: {}",
            list.join(", ")
        ));
    }
    judge_end(&mut out, &product, &set, &props, &broken, events, opts);
    out
}

fn rebuild<S: std::hash::Hash + Eq + Clone>(nodes: Vec<Node<S>>) -> NodeSet<S> {
    let mut set = NodeSet::new();
    for n in nodes {
        set.insert(n);
    }
    set
}

fn over_budget<M: Observable>(
    mut out: ConformOutcome,
    product: &Product<'_, M>,
    line: usize,
    opts: &ConformOptions,
) -> ConformOutcome {
    out.verdict = Verdict::Inconclusive;
    out.states = product.created;
    out.notes.push(format!(
        "budget: more than {} consistent model states after line {line}; raise the budget or lower the bounds",
        opts.max_states
    ));
    out
}

fn reject<M: Observable>(
    mut out: ConformOutcome,
    product: &Product<'_, M>,
    set: &NodeSet<M::State>,
    ev: &LifecycleEvent,
    reason: String,
    opts: &ConformOptions,
) -> ConformOutcome {
    let allowed = product.allowed(set, opts.allowed_cap);
    out.verdict = Verdict::Violated;
    out.property = Some(NON_CONFORMANCE.to_string());
    out.states = product.created;
    out.notes.push(format!(
        "line {}: `{}` does not conform: {reason}",
        ev.line,
        ev.describe()
    ));
    if allowed.is_empty() {
        out.notes
            .push("allowed here: nothing (the model can take no observable step)".into());
    } else {
        out.notes
            .push(format!("allowed here: {}", allowed.join("; ")));
    }
    let nodes: Vec<&Node<M::State>> = set.nodes.iter().collect();
    for s in sample_states(product.model, &nodes, 3) {
        out.notes
            .push(format!("a consistent model state before it: {s}"));
    }
    out.rejection = Some(Rejection {
        line: ev.line,
        seq: ev.seq,
        event: ev.describe(),
        reason,
        allowed,
    });
    out.properties.push(PropertyResult {
        name: NON_CONFORMANCE.to_string(),
        kind: "conformance".to_string(),
        verdict: Verdict::Violated,
    });
    // The trace's own evidence still counts: a held semaphore and a long
    // silence make it a deadlock witness even if the model rejects it.
    if out.quiescent {
        if let Some(held) = out.held_at_end.first() {
            out.notes.push(format!(
                "deadlock witness: `{}` is held by {} at the end of the trace and nothing happens for {} ms (longer than the longest bounded wait, {} ms)",
                held.resource,
                held.holder,
                out.silence_ms,
                product.model.longest_bounded_wait_ms()
            ));
            out.properties.push(PropertyResult {
                name: DEADLOCK.to_string(),
                kind: "deadlock".to_string(),
                verdict: Verdict::Violated,
            });
            // The deadlock is the headline; the rejection says where the
            // trace left the model.
            out.property = Some(DEADLOCK.to_string());
        }
    }
    out
}

/// End of the trace: `always` results, then (after a long silence) whether
/// the end is a deadlock and whether `eventually` properties failed.
fn judge_end<M: Observable>(
    out: &mut ConformOutcome,
    product: &Product<'_, M>,
    set: &NodeSet<M::State>,
    props: &[crate::explore::Property<M>],
    broken: &BTreeMap<&str, usize>,
    events: &[LifecycleEvent],
    opts: &ConformOptions,
) {
    let model = product.model;
    let mut violated: Vec<String> = Vec::new();
    for p in props.iter().filter(|p| p.kind == PropertyKind::Always) {
        let verdict = match broken.get(p.name) {
            Some(line) => {
                out.notes.push(format!(
                    "`{}` is broken on every consistent path at line {line}",
                    p.name
                ));
                violated.push(p.name.to_string());
                Verdict::Violated
            }
            None => Verdict::Holds,
        };
        out.properties.push(PropertyResult {
            name: p.name.to_string(),
            kind: "always".to_string(),
            verdict,
        });
    }
    let dead: Vec<&Node<M::State>> = set.nodes.iter().filter(|n| product.dead(n)).collect();
    let all_dead_unsettled =
        !set.is_empty() && dead.len() == set.len() && dead.iter().all(|n| !model.at_rest(&n.state));
    let last_line = events.last().map_or(0, |e| e.line);
    let mut deadlock = Verdict::Holds;
    if all_dead_unsettled {
        deadlock = Verdict::Violated;
        out.wait_for = model.wait_for(&dead[0].state);
        out.notes.push(
            "deadlock: in every consistent state no step is enabled and some actor is not at rest"
                .into(),
        );
    } else if out.quiescent {
        let stuck: Vec<&Node<M::State>> = set.nodes.iter().filter(|n| product.stuck(n)).collect();
        if stuck.is_empty() {
            let allowed = product.allowed(set, opts.allowed_cap);
            out.notes.push(format!(
                "line {last_line}: the trace shows no step for {} ms, longer than the longest bounded wait ({} ms), but every consistent model state still has a step to take",
                out.silence_ms,
                model.longest_bounded_wait_ms()
            ));
            out.notes
                .push(format!("allowed here: {}", allowed.join("; ")));
            out.rejection = Some(Rejection {
                line: last_line,
                seq: events.last().map_or(0, |e| e.seq),
                event: "(silence until the end of the trace)".to_string(),
                reason: "the model must still take a step within its longest bounded wait"
                    .to_string(),
                allowed,
            });
            out.properties.push(PropertyResult {
                name: NON_CONFORMANCE.to_string(),
                kind: "conformance".to_string(),
                verdict: Verdict::Violated,
            });
            violated.insert(0, NON_CONFORMANCE.to_string());
        } else {
            let stuck_unsettled: Vec<&&Node<M::State>> =
                stuck.iter().filter(|n| !model.settled(&n.state)).collect();
            if stuck_unsettled.len() == stuck.len() {
                deadlock = Verdict::Violated;
                out.wait_for = model.wait_for(&stuck[0].state);
                out.notes.push(format!(
                    "deadlock witness: no step for {} ms (longest bounded wait {} ms) and every consistent state that can stay put has an actor that never finishes",
                    out.silence_ms,
                    model.longest_bounded_wait_ms()
                ));
            } else if !stuck_unsettled.is_empty() {
                out.notes.push(format!(
                    "possibly deadlocked: {} of {} consistent end states are stuck with unfinished actors; the trace does not tell them apart",
                    stuck_unsettled.len(),
                    stuck.len()
                ));
            }
            judge_eventually(out, product, &stuck, props, &mut violated);
        }
    } else {
        out.notes.push(format!(
            "the trace ends {} ms after its last step, within the longest bounded wait ({} ms): liveness not judged",
            out.silence_ms,
            model.longest_bounded_wait_ms()
        ));
    }
    if deadlock == Verdict::Violated {
        violated.insert(0, DEADLOCK.to_string());
    }
    out.properties.push(PropertyResult {
        name: DEADLOCK.to_string(),
        kind: "deadlock".to_string(),
        verdict: deadlock,
    });
    if let Some(first) = violated.first() {
        out.verdict = Verdict::Violated;
        out.property = Some(first.clone());
    }
    let nodes: Vec<&Node<M::State>> = set.nodes.iter().collect();
    for s in sample_states(model, &nodes, 3) {
        out.notes
            .push(format!("a consistent model state at the end: {s}"));
    }
    out.notes.push(format!(
        "{} consistent model state(s) at the end of the trace",
        set.len()
    ));
}

fn judge_eventually<M: Observable>(
    out: &mut ConformOutcome,
    product: &Product<'_, M>,
    stuck: &[&Node<M::State>],
    props: &[crate::explore::Property<M>],
    violated: &mut Vec<String>,
) {
    let model = product.model;
    for (i, p) in props.iter().enumerate() {
        let fails = |n: &&Node<M::State>| match p.kind {
            PropertyKind::Eventually => {
                product.reached(n, i) == Some(false) && !(p.holds)(model, &n.state)
            }
            PropertyKind::EventuallyAlways => !(p.holds)(model, &n.state),
            _ => false,
        };
        if !matches!(
            p.kind,
            PropertyKind::Eventually | PropertyKind::EventuallyAlways
        ) {
            continue;
        }
        let verdict = if stuck.iter().all(fails) {
            violated.push(p.name.to_string());
            Verdict::Violated
        } else {
            Verdict::Holds
        };
        out.properties.push(PropertyResult {
            name: p.name.to_string(),
            kind: if p.kind == PropertyKind::Eventually {
                "eventually"
            } else {
                "eventually-always"
            }
            .to_string(),
            verdict,
        });
    }
}

/// Time from the last step event (not a probe, not an extension) to the
/// last event of any kind.
fn silence(events: &[LifecycleEvent]) -> u64 {
    let end = events.last().map_or(0, |e| e.time_ms);
    let last_step = events
        .iter()
        .rev()
        .find(|e| !e.is_probe() && !e.is_extension())
        .map_or(0, |e| e.time_ms);
    end.saturating_sub(last_step)
}

/// Semaphores the trace's own `sem.*` events leave held at its end.
pub fn held_at_end(events: &[LifecycleEvent]) -> Vec<HeldAtEnd> {
    let mut holders: BTreeMap<String, String> = BTreeMap::new();
    let mut waiters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ev in events {
        let resource = ev
            .fields
            .get("resource")
            .cloned()
            .unwrap_or_else(|| "host-start".to_string());
        match ev.event.as_str() {
            "sem.wait" => waiters.entry(resource).or_default().push(ev.actor.clone()),
            "sem.acquire" => {
                if let Some(w) = waiters.get_mut(&resource) {
                    w.retain(|a| a != &ev.actor);
                }
                holders.insert(resource, ev.actor.clone());
            }
            "sem.release" => {
                holders.remove(&resource);
            }
            _ => {}
        }
    }
    holders
        .into_iter()
        .map(|(resource, holder)| HeldAtEnd {
            waiters: waiters.get(&resource).cloned().unwrap_or_default(),
            resource,
            holder: if holder.is_empty() {
                "?".to_string()
            } else {
                holder
            },
        })
        .collect()
}
