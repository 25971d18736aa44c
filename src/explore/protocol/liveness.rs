//! Liveness passes, run after a main pass that covered the whole space.
//!
//! First the fast path, which needs the graph to be acyclic (then
//! `eventually-always` is decided by terminal states, which the main pass
//! checked): after a fingerprint BFS, Kahn's pass over the in-degrees the BFS
//! counted (`kahn.rs`); after a fingerprint DFS, one post-order DFS
//! (`acyclic.rs`). Both also decide `eventually` properties. A shortest
//! counterexample to `<> p` is then found by a BFS over G' (the states
//! reachable from an initial state along `!p` states only).
//!
//! If the graph has a cycle (or in exact mode), the general passes:
//! * `eventually p` (`<> p`): a DFS through G'; a terminal state of G' or a
//!   back edge inside G' (a cycle of `!p` states) violates it. A terminal
//!   counterexample is then shortened by the BFS over G'.
//! * `eventually-always p` (`<>[] p`): one DFS over the whole graph looks for
//!   a back edge; if there is none, terminals decide. Otherwise a nested DFS
//!   (Courcoubetis-Vardi-Wolper-Yannakakis, with "accepting" = `!p`) finds a
//!   reachable cycle through a `!p` state, as a lasso.
//!
//! Memory: Kahn's pass reuses the BFS's tables plus a stack of ready states.
//! Each general pass keeps its own visited set (one fingerprint, 8.9-11.1
//! bytes, per state it reaches; whole states in exact mode) plus a DFS stack
//! of whole states as deep as the longest path; the nested DFS a second set
//! for the states its inner searches reach. Passes run one after another, so
//! the peak is about two visited sets.

use std::collections::VecDeque;

use super::counting::CountTable;
use super::dfs::{Stack, CHECK_EVERY};
use super::flags::FlagOutcome;
use super::hash::fingerprint;
use super::visited::VisitedSet;
use super::{Counterexample, Ctx, Stop};
use crate::explore::model::Model;

/// What the liveness passes decided.
#[derive(Clone, Debug, Default)]
pub struct LivenessOutcome {
    /// Per table index: the counterexample (a path to a terminal, or a lasso).
    pub found: Vec<Option<Counterexample>>,
    /// Per table index: the passes decided it (holds unless `found`).
    pub decided: Vec<bool>,
    pub stopped: Option<Stop>,
    pub notes: Vec<String>,
}

/// What a search found first.
enum Event {
    /// A terminal state (the path is recomputed shortest by BFS).
    Terminal,
    Lasso(Counterexample),
}

/// What the main pass prepared for liveness.
pub enum Prepared {
    Nothing,
    /// A BFS's in-degree tables, for Kahn's pass.
    Counted(Vec<CountTable>),
    /// A BFS that carried the one-pass check (`flags.rs`) for these
    /// `eventually` table indices.
    Flagged(FlagOutcome, Vec<usize>),
}

/// Runs the liveness passes for the properties not already decided
/// (`already[i]`: the main pass found a counterexample).
pub fn check<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: impl Fn() -> V,
    already: &[bool],
    prepared: Prepared,
) -> LivenessOutcome {
    let mut out = LivenessOutcome {
        found: vec![None; ctx.table.len()],
        decided: vec![false; ctx.table.len()],
        ..Default::default()
    };
    if let Err(stop) = run(ctx, &new_table, already, prepared, &mut out) {
        out.stopped = Some(stop);
    }
    out
}

fn run<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: &impl Fn() -> V,
    already: &[bool],
    prepared: Prepared,
    out: &mut LivenessOutcome,
) -> Result<(), Stop> {
    let (model, table) = (ctx.model, &ctx.table);
    let open: Vec<usize> = table
        .eventually_always
        .iter()
        .copied()
        .filter(|&i| !already[i])
        .collect();
    if table.eventually.is_empty() && open.is_empty() {
        return Ok(());
    }
    let decided = match prepared {
        Prepared::Counted(tables) => kahn_pass(ctx, new_table, tables, &open, out)?,
        Prepared::Flagged(flags, group) => flagged(ctx, new_table, &flags, &group, &open, out)?,
        Prepared::Nothing => !ctx.opts.exact && acyclic_pass(ctx, new_table, &open, out)?,
    };
    if decided {
        return Ok(());
    }
    for &i in &table.eventually {
        let outside_p = |s: &M::State| !table.holds(i, model, s);
        let (event, states) = search(ctx, new_table, &outside_p, true)?;
        out.notes.push(format!(
            "liveness {}: {states} states reachable along !p states (G') searched by DFS",
            table.name(i)
        ));
        out.found[i] = match event {
            Some(Event::Terminal) => Some(shortest_terminal(ctx, new_table, &outside_p)?),
            Some(Event::Lasso(cex)) => Some(cex),
            None => None,
        };
        out.decided[i] = true;
    }
    if open.is_empty() {
        return Ok(());
    }
    let (cycle, states) = search(ctx, new_table, &|_: &M::State| true, false)?;
    if cycle.is_none() {
        out.notes.push(format!(
            "liveness: the reachable graph is acyclic (DFS back-edge check, {states} states), \
             so eventually-always reduces to terminal states"
        ));
        open.iter().for_each(|&i| out.decided[i] = true);
        return Ok(());
    }
    out.notes
        .push("liveness: the reachable graph has cycles; nested DFS per property".into());
    for i in open {
        let accepting = |s: &M::State| !table.holds(i, model, s);
        out.found[i] = nested(ctx, new_table, &accepting)?;
        out.decided[i] = true;
    }
    Ok(())
}

/// The fast path: if one DFS shows the graph acyclic, decides every
/// `eventually` property (by the post-order "bad" bits of
/// [`super::acyclic`]) and every open `eventually-always` one (terminal
/// states decided them already). Returns false if the graph has a cycle.
fn acyclic_pass<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: &impl Fn() -> V,
    open: &[usize],
    out: &mut LivenessOutcome,
) -> Result<bool, Stop> {
    let table = &ctx.table;
    let groups: Vec<&[usize]> = if table.eventually.is_empty() {
        vec![&[]]
    } else {
        table.eventually.chunks(super::acyclic::GROUP).collect()
    };
    for group in groups {
        let (bad, states) = super::acyclic::bad_initial(ctx, group)?;
        let Some(bad) = bad else {
            out.notes.push(format!(
                "liveness: a cycle was found after {states} states; using the cycle-aware passes"
            ));
            return Ok(false);
        };
        out.notes.push(format!(
            "liveness: the reachable graph is acyclic (one post-order DFS over {states} states              decided {} eventually and {} eventually-always properties)",
            group.len(),
            open.len()
        ));
        for (&i, is_bad) in group.iter().zip(bad) {
            if is_bad {
                let outside_p = |s: &M::State| !table.holds(i, ctx.model, s);
                out.found[i] = Some(shortest_terminal(ctx, new_table, &outside_p)?);
            }
            out.decided[i] = true;
        }
    }
    open.iter().for_each(|&i| out.decided[i] = true);
    Ok(true)
}

/// The one-pass check the BFS carried (`flags.rs`): if the progress
/// measure increased on every transition, decides the tracked `eventually`
/// properties (the rest by the G' DFS, which cannot meet a cycle now) and the
/// open `eventually-always` ones. Returns false otherwise.
fn flagged<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: &impl Fn() -> V,
    flags: &FlagOutcome,
    group: &[usize],
    open: &[usize],
    out: &mut LivenessOutcome,
) -> Result<bool, Stop> {
    if !flags.acyclic {
        out.notes.push(
            "liveness: the model's progress measure did not increase on some transition \
             (Model::progress is wrong for this model); using the DFS passes"
                .into(),
        );
        return Ok(false);
    }
    out.notes.push(format!(
        "liveness: the reachable graph is acyclic (the progress measure increased on every \
         transition); the BFS decided {} eventually properties itself ({} late flag \
         re-expansions) and eventually-always reduces to terminal states",
        group.len(),
        flags.repropagated
    ));
    let rest: Vec<usize> = ctx
        .table
        .eventually
        .iter()
        .copied()
        .filter(|i| !group.contains(i))
        .collect();
    decide_eventually(ctx, new_table, group, flags.violated, &rest, out)?;
    open.iter().for_each(|&i| out.decided[i] = true);
    Ok(true)
}

/// Kahn's pass over the BFS's in-degree tables: if the graph is acyclic,
/// decides the first `kahn::GROUP` `eventually` properties (the rest by the
/// G' DFS, which cannot meet a cycle now) and the open `eventually-always`
/// ones. Returns false if the graph has a cycle.
fn kahn_pass<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: &impl Fn() -> V,
    mut tables: Vec<CountTable>,
    open: &[usize],
    out: &mut LivenessOutcome,
) -> Result<bool, Stop> {
    let table = &ctx.table;
    let split = table.eventually.len().min(super::kahn::GROUP);
    let (group, rest) = table.eventually.split_at(split);
    let kahn = super::kahn::run(ctx, &mut tables, group)?;
    drop(tables);
    if !kahn.acyclic {
        out.notes.push(format!(
            "liveness: Kahn's pass found a cycle ({} states in topological order); using the \
             cycle-aware passes",
            kahn.done
        ));
        return Ok(false);
    }
    out.notes.push(format!(
        "liveness: the reachable graph is acyclic (Kahn's pass over {} states, in-degrees \
         counted by the BFS); eventually-always reduces to terminal states",
        kahn.done
    ));
    let violated = kahn
        .violated
        .iter()
        .enumerate()
        .fold(0u8, |bits, (k, &bad)| bits | u8::from(bad) << k);
    decide_eventually(ctx, new_table, group, violated, rest, out)?;
    open.iter().for_each(|&i| out.decided[i] = true);
    Ok(true)
}

/// On an acyclic graph: `group[k]` is violated iff bit k of `violated` (a
/// terminal state of its G' exists); each of `rest` is decided by a DFS
/// through its G'. Violated ones get a shortest counterexample.
fn decide_eventually<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: &impl Fn() -> V,
    group: &[usize],
    violated: u8,
    rest: &[usize],
    out: &mut LivenessOutcome,
) -> Result<(), Stop> {
    let table = &ctx.table;
    for (k, &i) in group.iter().enumerate() {
        if violated >> k & 1 == 1 {
            let outside_p = |s: &M::State| !table.holds(i, ctx.model, s);
            out.found[i] = Some(shortest_terminal(ctx, new_table, &outside_p)?);
        }
        out.decided[i] = true;
    }
    for &i in rest {
        let outside_p = |s: &M::State| !table.holds(i, ctx.model, s);
        if search(ctx, new_table, &outside_p, true)?.0.is_some() {
            out.found[i] = Some(shortest_terminal(ctx, new_table, &outside_p)?);
        }
        out.decided[i] = true;
    }
    Ok(())
}

/// Counts of on-stack fingerprints by their low bits: a cheap pre-filter
/// before the exact on-stack lookup (most edges lead to visited states).
struct StackFilter(Vec<u16>);

impl StackFilter {
    const MASK: u64 = 4095;
    fn new() -> Self {
        StackFilter(vec![0; 4096])
    }
    fn add(&mut self, fp: u64) {
        self.0[(fp & Self::MASK) as usize] += 1;
    }
    fn remove(&mut self, fp: u64) {
        self.0[(fp & Self::MASK) as usize] -= 1;
    }
    fn may_contain(&self, fp: u64) -> bool {
        self.0[(fp & Self::MASK) as usize] > 0
    }
}

fn budget<M: Model>(ctx: &Ctx<M>, states: u64) -> Result<(), Stop> {
    if states & (CHECK_EVERY - 1) == 0 || states > ctx.opts.budget_states {
        ctx.progress.update("liveness", states, &ctx.clock);
        if let Some(stop) = ctx.budget_stop(states) {
            return Err(stop);
        }
    }
    Ok(())
}

/// DFS from the initial states through states satisfying `inside` (only
/// those are entered). Returns the first terminal state (if `terminals`) or
/// back edge found, and how many states were visited.
fn search<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: &impl Fn() -> V,
    inside: &dyn Fn(&M::State) -> bool,
    terminals: bool,
) -> Result<(Option<Event>, u64), Stop> {
    let (model, exact) = (ctx.model, ctx.opts.exact);
    let mut visited = new_table();
    let mut stack: Stack<M> = Stack::new(true);
    let mut filter = StackFilter::new();
    for (i, init) in model.init_states().into_iter().enumerate() {
        let fp = fingerprint(&init);
        if !inside(&init) || !visited.insert(fp, &init) {
            continue;
        }
        stack.push(model, init, fp, i as u32);
        filter.add(fp);
        if terminals && stack.top().actions.is_empty() {
            return Ok((Some(Event::Terminal), visited.len()));
        }
        while stack.depth() > 0 {
            let top = stack.top_mut();
            if top.next >= top.actions.len() {
                filter.remove(top.fp);
                stack.pop();
                continue;
            }
            let a = top.next;
            top.next += 1;
            let Some(next) = model.next_state(&top.state, &top.actions[a]) else {
                continue;
            };
            if !inside(&next) {
                continue;
            }
            let fp = fingerprint(&next);
            if visited.insert(fp, &next) {
                stack.push(model, next, fp, a as u32);
                filter.add(fp);
                if terminals && stack.top().actions.is_empty() {
                    return Ok((Some(Event::Terminal), visited.len()));
                }
                budget(ctx, visited.len())?;
            } else if filter.may_contain(fp) {
                if let Some(j) = stack.find(fp, &next, exact) {
                    let mut cex = stack.path();
                    cex.actions.push(a as u32);
                    cex.loop_to = Some(j);
                    return Ok((Some(Event::Lasso(cex)), visited.len()));
                }
            }
        }
    }
    Ok((None, visited.len()))
}

/// BFS through states satisfying `inside` to the nearest terminal one.
fn shortest_terminal<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: &impl Fn() -> V,
    inside: &dyn Fn(&M::State) -> bool,
) -> Result<Counterexample, Stop> {
    let model = ctx.model;
    let mut visited = new_table();
    let mut parents: Vec<(u32, u32)> = Vec::new(); // (parent node or ROOT, action or init index)
    const ROOT: u32 = u32::MAX;
    let mut queue = VecDeque::new();
    for (i, init) in model.init_states().into_iter().enumerate() {
        let fp = fingerprint(&init);
        if inside(&init) && visited.insert(fp, &init) {
            parents.push((ROOT, i as u32));
            queue.push_back((init, parents.len() as u32 - 1));
        }
    }
    let mut actions = Vec::new();
    while let Some((state, node)) = queue.pop_front() {
        actions.clear();
        model.actions(&state, &mut actions);
        if actions.is_empty() {
            let mut path = Vec::new();
            let mut at = node;
            loop {
                let (parent, a) = parents[at as usize];
                if parent == ROOT {
                    path.reverse();
                    return Ok(Counterexample {
                        init: a as usize,
                        actions: path,
                        loop_to: None,
                    });
                }
                path.push(a);
                at = parent;
            }
        }
        for (a, action) in actions.iter().enumerate() {
            let Some(next) = model.next_state(&state, action) else {
                continue;
            };
            let fp = fingerprint(&next);
            if inside(&next) && visited.insert(fp, &next) {
                parents.push((node, a as u32));
                queue.push_back((next, parents.len() as u32 - 1));
                budget(ctx, visited.len())?;
            }
        }
    }
    Err(Stop(
        "liveness: the DFS found a terminal state the BFS did not (nondeterministic model?)".into(),
    ))
}

/// Nested DFS: a reachable cycle through an `accepting` state, as a lasso
/// ending back at that state.
fn nested<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: &impl Fn() -> V,
    accepting: &dyn Fn(&M::State) -> bool,
) -> Result<Option<Counterexample>, Stop> {
    let (model, exact) = (ctx.model, ctx.opts.exact);
    let mut outer_seen = new_table();
    let mut inner_seen = new_table();
    let mut outer: Stack<M> = Stack::new(true);
    let mut inner: Stack<M> = Stack::new(false);
    for (i, init) in model.init_states().into_iter().enumerate() {
        let fp = fingerprint(&init);
        if !outer_seen.insert(fp, &init) {
            continue;
        }
        outer.push(model, init, fp, i as u32);
        while outer.depth() > 0 {
            let top = outer.top_mut();
            if top.next < top.actions.len() {
                let a = top.next;
                top.next += 1;
                let Some(next) = model.next_state(&top.state, &top.actions[a]) else {
                    continue;
                };
                let fp = fingerprint(&next);
                if outer_seen.insert(fp, &next) {
                    outer.push(model, next, fp, a as u32);
                    budget(ctx, outer_seen.len())?;
                }
                continue;
            }
            // Post-order: search for a cycle back to this accepting seed.
            if accepting(&outer.top().state) {
                if let Some(cex) = inner_search(ctx, &outer, &mut inner, &mut inner_seen, exact)? {
                    return Ok(Some(cex));
                }
            }
            outer.pop();
        }
    }
    Ok(None)
}

/// The inner DFS of [`nested`] from the top of `outer`: finds the seed again,
/// or a state on the outer stack (which leads back to the seed along it).
fn inner_search<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    outer: &Stack<M>,
    inner: &mut Stack<M>,
    seen: &mut V,
    exact: bool,
) -> Result<Option<Counterexample>, Stop> {
    let model = ctx.model;
    let seed_at = outer.depth() - 1;
    let seed = outer.top();
    if !seen.insert(seed.fp, &seed.state) {
        return Ok(None);
    }
    inner.push(model, seed.state.clone(), seed.fp, 0);
    while inner.depth() > 0 {
        let top = inner.top_mut();
        if top.next >= top.actions.len() {
            inner.pop();
            continue;
        }
        let a = top.next;
        top.next += 1;
        let Some(next) = model.next_state(&top.state, &top.actions[a]) else {
            continue;
        };
        let fp = fingerprint(&next);
        let back = if fp == seed.fp && (!exact || next == seed.state) {
            Some(seed_at)
        } else {
            outer.find(fp, &next, exact)
        };
        if let Some(j) = back {
            let mut cex = outer.path();
            cex.actions
                .extend((1..inner.depth()).map(|k| inner.frame(k).via));
            cex.actions.push(a as u32);
            cex.actions
                .extend((j + 1..=seed_at).map(|k| outer.frame(k).via));
            cex.loop_to = Some(seed_at);
            while inner.depth() > 0 {
                inner.pop();
            }
            return Ok(Some(cex));
        }
        if seen.insert(fp, &next) {
            inner.push(model, next, fp, a as u32);
            budget(ctx, seen.len())?;
        }
    }
    Ok(None)
}
