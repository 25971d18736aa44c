//! Turning what the passes found into a [`Report`]: per-property verdicts,
//! the highest-priority violation's trace (replayed from the model), notes
//! and the exact command that reproduces the check.

use std::collections::BTreeMap;

use super::hash::collision_odds;
use super::liveness::LivenessOutcome;
use super::{Counterexample, Ctx, Exploration};
use crate::explore::model::{Model, PropertyKind};
use crate::explore::{CheckOptions, Strategy};
use crate::report::{PropertyResult, Report, Verdict};
use crate::trace::TraceEvent;

/// Replays `cex` on the model: step 0 is the initial state, then one event
/// per action with the actor as `task`, the action and the state after it.
pub fn replay<M: Model>(model: &M, cex: &Counterexample) -> Result<Vec<TraceEvent>, String> {
    let inits = model.init_states();
    let mut state = inits
        .get(cex.init)
        .cloned()
        .ok_or_else(|| format!("no initial state #{}", cex.init))?;
    let mut events =
        vec![TraceEvent::new(0, 0, "init", "init").with("state", model.format_state(&state))];
    let mut actions = Vec::new();
    for (k, &a) in cex.actions.iter().enumerate() {
        actions.clear();
        model.actions(&state, &mut actions);
        let action = actions.get(a as usize).ok_or_else(|| {
            format!(
                "step {}: action #{a} is not enabled (the model is not deterministic)",
                k + 1
            )
        })?;
        state = model
            .next_state(&state, action)
            .ok_or_else(|| format!("step {}: next_state refused an enabled action", k + 1))?;
        let mut event = TraceEvent::new(k as u64 + 1, 0, model.actor(action), "action")
            .with("action", model.format_action(action))
            .with("state", model.format_state(&state));
        if k + 1 == cex.actions.len() {
            if let Some(j) = cex.loop_to {
                event = event.with("loop_to", j);
            }
        }
        events.push(event);
    }
    Ok(events)
}

/// The state `cex` ends in (`None` if it does not fit the model).
pub fn end_state<M: Model>(model: &M, cex: &Counterexample) -> Option<M::State> {
    let mut state = model.init_states().into_iter().nth(cex.init)?;
    let mut actions = Vec::new();
    for &a in &cex.actions {
        actions.clear();
        model.actions(&state, &mut actions);
        state = model.next_state(&state, actions.get(a as usize)?)?;
    }
    Some(state)
}

/// `lockstep check <model> --variant <v> --level spec --bound k=v ...` plus
/// the options that change the result.
pub fn replay_command<M: Model>(model: &M, opts: &CheckOptions) -> String {
    let mut cmd = format!(
        "lockstep check {} --variant {} --level spec",
        model.name(),
        model.variant()
    );
    for (k, v) in model.bounds() {
        cmd += &format!(" --bound {k}={v}");
    }
    if opts.strategy != Strategy::Bfs {
        cmd += &format!(" --strategy {}", opts.strategy.as_str());
    }
    if opts.strategy == Strategy::Random {
        cmd += &format!(" --seed {}", opts.seed);
    }
    if opts.budget_states != CheckOptions::default().budget_states {
        cmd += &format!(" --budget-states {}", opts.budget_states);
    }
    cmd
}

/// The verdict of table index `i`, and its counterexample if violated.
fn judge<M: Model>(
    ctx: &Ctx<M>,
    x: &Exploration,
    live: Option<&LivenessOutcome>,
    i: usize,
) -> (Verdict, Option<Counterexample>) {
    let random = ctx.opts.strategy == Strategy::Random;
    let covered = x.stopped.is_none() && !x.stopped_early;
    if let Some(cex) = &x.found[i] {
        return (Verdict::Violated, Some(cex.clone()));
    }
    let kind = if i == 0 {
        None
    } else {
        Some(ctx.table.props[i - 1].kind)
    };
    match kind {
        None | Some(PropertyKind::Always) if covered => (Verdict::Holds, None),
        Some(PropertyKind::Sometimes) if x.reached[i] => (Verdict::Holds, None),
        Some(PropertyKind::Sometimes) if covered && !random => (Verdict::Violated, None),
        Some(PropertyKind::Eventually | PropertyKind::EventuallyAlways) if random && covered => {
            (Verdict::Holds, None)
        }
        Some(PropertyKind::Eventually | PropertyKind::EventuallyAlways) => {
            match live.filter(|l| l.decided[i]) {
                Some(l) => match &l.found[i] {
                    Some(cex) => (Verdict::Violated, Some(cex.clone())),
                    None => (Verdict::Holds, None),
                },
                None => (Verdict::Inconclusive, None),
            }
        }
        _ => (Verdict::Inconclusive, None),
    }
}

/// Builds the report and the per-property counterexamples.
pub fn assemble<M: Model>(
    ctx: &Ctx<M>,
    x: Exploration,
    live: Option<LivenessOutcome>,
) -> (Report, BTreeMap<String, Vec<TraceEvent>>) {
    let (model, table, opts) = (ctx.model, &ctx.table, ctx.opts);
    let mut report = Report::new(
        &model.name(),
        &model.variant(),
        "spec",
        opts.strategy.as_str(),
        model.bounds(),
    );
    report.seed = opts.seed;
    report.states = x.states;
    report.schedules = x.walks;
    report.replay = replay_command(model, opts);
    let mut verdicts = BTreeMap::new();
    let mut traces = BTreeMap::new();
    let mut notes = Vec::new();
    for i in table.priority() {
        let (verdict, cex) = judge(ctx, &x, live.as_ref(), i);
        if verdict == Verdict::Violated {
            let events = match &cex {
                Some(cex) => replay(model, cex).unwrap_or_else(|e| {
                    notes.push(format!(
                        "{}: counterexample replay failed: {e}",
                        table.name(i)
                    ));
                    Vec::new()
                }),
                None => {
                    notes.push(format!(
                        "{}: sometimes property never reached (vacuity guard)",
                        table.name(i)
                    ));
                    Vec::new()
                }
            };
            if report.property.is_none() {
                report.verdict = Verdict::Violated;
                report.property = Some(table.name(i).to_string());
                report.trace = events.clone();
                // A deadlock is explained by who waits on what in its last state.
                if i == 0 {
                    if let Some(end) = cex.as_ref().and_then(|c| end_state(model, c)) {
                        report.wait_for = model.wait_for(&end);
                    }
                }
            }
            traces.insert(table.name(i).to_string(), events);
        } else if verdict == Verdict::Inconclusive && report.verdict == Verdict::Holds {
            report.verdict = Verdict::Inconclusive;
        }
        verdicts.insert(i, verdict);
    }
    report.properties = verdicts
        .iter()
        .map(|(&i, &verdict)| PropertyResult {
            name: table.name(i).to_string(),
            kind: table.kind_str(i).to_string(),
            verdict,
        })
        .collect();
    report.notes = describe(ctx, &x, live.as_ref());
    report.notes.extend(notes);
    report.elapsed_ms = ctx.clock.elapsed_ms();
    (report, traces)
}

/// The notes every report carries: mode, coverage, why a pass stopped.
fn describe<M: Model>(
    ctx: &Ctx<M>,
    x: &Exploration,
    live: Option<&LivenessOutcome>,
) -> Vec<String> {
    let opts = ctx.opts;
    let mut notes = x.notes.clone();
    if opts.exact {
        notes.push("exact mode: whole states stored, no fingerprint collisions possible".into());
    } else {
        notes.push(format!(
            "fingerprint mode: 64-bit, collision probability ~ n^2/2^65 = {:.1e} for n = {}",
            collision_odds(x.states),
            x.states
        ));
    }
    if let Some(stop) = &x.stopped {
        notes.push(format!(
            "inconclusive: {} ({} states explored)",
            stop.0, x.states
        ));
    }
    if x.stopped_early {
        notes.push(
            "stopped once every safety property had a counterexample; the rest are inconclusive"
                .into(),
        );
    }
    if opts.strategy == Strategy::Random {
        notes.push(format!(
            "random walks are not a proof: no other violation found in {} walks of up to {} \
             steps (seed {}); states = distinct states seen",
            x.walks,
            super::random::walk_length(opts),
            opts.seed
        ));
    }
    match live {
        Some(l) => {
            notes.extend(l.notes.iter().cloned());
            if let Some(stop) = &l.stopped {
                notes.push(format!("liveness inconclusive: {}", stop.0));
            }
        }
        None if (!ctx.table.eventually.is_empty() || !ctx.table.eventually_always.is_empty())
            && opts.strategy != Strategy::Random
            && !ctx.popts.liveness =>
        {
            notes.push("liveness passes turned off".into());
        }
        None => {}
    }
    notes
}
