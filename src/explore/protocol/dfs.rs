//! Depth-first search with an explicit stack (no recursion), the same visited
//! sets as BFS, and the `max_depth` bound. The [`Stack`] is shared with the
//! liveness passes, which also need to know what is on it (back edges).

use std::collections::BTreeSet;

use super::hash::fingerprint;
use super::visited::VisitedSet;
use super::{Counterexample, Ctx, Exploration, Stop};
use crate::explore::model::Model;

/// How often (in pushed states) a DFS checks its budgets and progress (a power of two).
pub const CHECK_EVERY: u64 = 4096;

/// One stack frame: a state, its enabled actions and the next one to try.
pub struct Frame<M: Model> {
    pub state: M::State,
    pub fp: u64,
    pub actions: Vec<M::Action>,
    pub next: usize,
    /// The action index that led here (the initial-state index at the bottom).
    pub via: u32,
}

/// The DFS stack. Frames above `depth` keep their action vectors for reuse,
/// so a deep search allocates once per depth, not once per state.
pub struct Stack<M: Model> {
    frames: Vec<Frame<M>>,
    depth: usize,
    /// `(fingerprint, index)` of the frames on the stack, when tracked.
    on_stack: Option<BTreeSet<(u64, usize)>>,
}

impl<M: Model> Stack<M> {
    pub fn new(track_on_stack: bool) -> Self {
        Stack {
            frames: Vec::new(),
            depth: 0,
            on_stack: track_on_stack.then(BTreeSet::new),
        }
    }
    pub fn depth(&self) -> usize {
        self.depth
    }
    pub fn frame(&self, index: usize) -> &Frame<M> {
        &self.frames[index]
    }
    pub fn top(&self) -> &Frame<M> {
        &self.frames[self.depth - 1]
    }
    pub fn top_mut(&mut self) -> &mut Frame<M> {
        &mut self.frames[self.depth - 1]
    }
    /// Pushes `state` and computes its enabled actions.
    pub fn push(&mut self, model: &M, state: M::State, fp: u64, via: u32) {
        if let Some(set) = &mut self.on_stack {
            set.insert((fp, self.depth));
        }
        if self.depth < self.frames.len() {
            let frame = &mut self.frames[self.depth];
            frame.actions.clear();
            model.actions(&state, &mut frame.actions);
            frame.state = state;
            frame.fp = fp;
            frame.next = 0;
            frame.via = via;
        } else {
            let mut actions = Vec::new();
            model.actions(&state, &mut actions);
            self.frames.push(Frame {
                state,
                fp,
                actions,
                next: 0,
                via,
            });
        }
        self.depth += 1;
    }
    pub fn pop(&mut self) {
        self.depth -= 1;
        if let Some(set) = &mut self.on_stack {
            set.remove(&(self.frames[self.depth].fp, self.depth));
        }
    }
    /// The index of the frame holding `state`, if it is on the stack. In
    /// exact mode states are compared, not only fingerprints.
    pub fn find(&self, fp: u64, state: &M::State, exact: bool) -> Option<usize> {
        let set = self.on_stack.as_ref()?;
        set.range((fp, 0)..=(fp, usize::MAX))
            .map(|&(_, i)| i)
            .find(|&i| !exact || self.frames[i].state == *state)
    }
    /// The path from the bottom frame to frame `upto` (inclusive).
    pub fn path_to(&self, upto: usize) -> Counterexample {
        Counterexample {
            init: self.frames[0].via as usize,
            actions: self.frames[1..=upto].iter().map(|f| f.via).collect(),
            loop_to: None,
        }
    }
    /// The path to the top frame.
    pub fn path(&self) -> Counterexample {
        self.path_to(self.depth - 1)
    }
}

/// Runs the main DFS pass; `new_table` makes the visited set.
pub fn explore<M: Model, V: VisitedSet<M::State>>(
    ctx: &Ctx<M>,
    new_table: impl Fn() -> V,
) -> Exploration {
    let props = ctx.table.len();
    let mut x = Exploration::new(props);
    let mut visited = new_table();
    let mut stack: Stack<M> = Stack::new(false);
    let safety = ctx.table.safety();
    let mut skip = vec![false; props];
    let mut pending = ctx.table.pending(&skip);
    let mut cut = false;
    let mut hits = Vec::new();
    'inits: for (i, init) in ctx.model.init_states().into_iter().enumerate() {
        let fp = fingerprint(&init);
        if !visited.insert(fp, &init) {
            continue;
        }
        stack.push(ctx.model, init, fp, i as u32);
        loop {
            // Evaluate the state just pushed (the top), then bound its depth.
            let top = stack.top();
            ctx.table.evaluate(
                ctx.model,
                &top.state,
                top.actions.is_empty(),
                &pending,
                |p| hits.push(p),
                |p| x.reached[p] = true,
            );
            let mut decided = !hits.is_empty();
            for p in hits.drain(..) {
                x.found[p] = Some(stack.path());
                skip[p] = true;
            }
            for (skip, reached) in skip.iter_mut().zip(&x.reached) {
                decided |= *reached && !*skip;
                *skip |= reached;
            }
            if decided {
                pending = ctx.table.pending(&skip);
            }
            let max = ctx.opts.max_depth;
            if max > 0 && (stack.depth() - 1) as u64 >= max {
                let top = stack.top_mut();
                cut |= !top.actions.is_empty();
                top.next = top.actions.len();
            }
            let states = visited.len();
            if states & (CHECK_EVERY - 1) == 0 || states > ctx.opts.budget_states {
                ctx.progress.update("dfs", states, &ctx.clock);
                if let Some(stop) = ctx.budget_stop(states) {
                    x.stopped = Some(stop);
                    break 'inits;
                }
            }
            if (ctx.popts.stop_at_first && x.found.iter().any(Option::is_some))
                || (!safety.is_empty() && x.all_found(&safety))
            {
                x.stopped_early = true;
                break 'inits;
            }
            // Advance to the next unvisited successor, popping exhausted frames.
            let pushed = loop {
                if stack.depth() == 0 {
                    break false;
                }
                let top = stack.top_mut();
                if top.next >= top.actions.len() {
                    stack.pop();
                    continue;
                }
                let a = top.next;
                top.next += 1;
                x.transitions += 1;
                let Some(next) = ctx.model.next_state(&top.state, &top.actions[a]) else {
                    continue;
                };
                let fp = fingerprint(&next);
                if visited.insert(fp, &next) {
                    stack.push(ctx.model, next, fp, a as u32);
                    break true;
                }
            };
            if !pushed {
                break;
            }
        }
    }
    if cut && x.stopped.is_none() && !x.stopped_early {
        x.stopped = Some(Stop(format!(
            "depth bound {} reached: states at that depth have unexplored successors",
            ctx.opts.max_depth
        )));
    }
    x.states = visited.len();
    x.visited_bytes = visited.heap_bytes();
    x.notes.push(format!(
        "dfs: {} transitions; counterexamples are paths, not necessarily shortest",
        x.transitions
    ));
    x
}
