//! Exhaustive schedule DFS: stateless re-execution from scratch for every
//! branch (futures cannot be cloned), over every task choice and every
//! `choose` value, with two reductions:
//!
//! * **Sleep sets** over dynamic footprints: after exploring task `t` at a
//!   node, `t` sleeps in the siblings' subtrees until a step dependent on
//!   `t`'s step (a common object, one write) runs.
//! * **State caching**: after every step the world's fingerprint is looked
//!   up; a state already explored with a sleep set contained in the current
//!   one (and at most as deep) is not explored again. No cycles are possible
//!   (every step extends some task's history), so a covered state's subtree is
//!   complete when it is met again.
//!
//! A preemption bound switches both reductions off (their naive combination
//! with the bound can miss schedules within the bound) and qualifies a
//! "holds" as "within preemption bound k".

use super::cache::{Lookup, StateCache};
use super::schedule::{Scheduler, StepInfo, TaskPoint};
use crate::rt::{Footprint, TaskId};

/// The decisions above one subtree of the DFS tree, each frozen to one
/// branch: a unit of parallel exploration.
#[derive(Clone)]
pub(crate) struct Subtree {
    nodes: Vec<Node>,
}

/// A task explored (or asleep) at a node, with its step's footprint.
#[derive(Clone, Debug)]
struct Explored {
    task: TaskId,
    stable: u64,
    footprint: Footprint,
}

#[derive(Clone)]
enum Node {
    Task {
        enabled: Vec<TaskId>,
        stables: Vec<u64>,
        /// Asleep on entry (not explored here).
        sleep: Vec<Explored>,
        /// Explored siblings before the current one.
        done: Vec<Explored>,
        /// Candidates in exploration order; `order[next]` is the current choice.
        order: Vec<TaskId>,
        next: usize,
        /// Union of the current choice's step footprints over its `choose` branches.
        footprint: Footprint,
        prev: Option<TaskId>,
        preemptions: u32,
    },
    Choice {
        n: usize,
        current: usize,
        /// Made after the run had already failed: no alternatives are
        /// explored (the failure is reported either way).
        fixed: bool,
    },
}

/// The DFS oracle; keeps its stack across runs.
pub struct DfsScheduler {
    stack: Vec<Node>,
    depth: usize,
    /// Index of the task node whose step is running.
    step_node: Option<usize>,
    /// Footprint of the last step of this run (for sleep-set propagation).
    last_footprint: Footprint,
    pending_fingerprint: Option<u64>,
    reduction: bool,
    preemption_bound: Option<u32>,
    cache: StateCache,
    budget_states: u64,
    pub(crate) states_exhausted: bool,
    pub(crate) pruned_by_sleep: u64,
    pub(crate) pruned_by_cache: u64,
    pub(crate) preemption_cut: bool,
    pub(crate) error: Option<String>,
    /// The running execution has already recorded a failure.
    run_failing: bool,
    /// Explore on after failing runs (`--keep-going`): a failing run is
    /// branched and pruned like any other.
    keep_going: bool,
    /// The running execution is being finished along one path without
    /// branching (see [`DfsScheduler::prune`]).
    completing: bool,
    /// Frontier mode (parallel DFS): a run that would open a task node at
    /// this depth is cut there and its decisions become a subtree job.
    split_depth: Option<usize>,
    /// The subtree cut from the last run in frontier mode.
    cut: Option<Vec<Node>>,
}

impl DfsScheduler {
    pub fn new(reduction: bool, preemption_bound: Option<u32>, budget_states: u64) -> Self {
        DfsScheduler {
            stack: Vec::new(),
            depth: 0,
            step_node: None,
            last_footprint: Footprint::new(),
            pending_fingerprint: None,
            reduction,
            preemption_bound,
            cache: StateCache::new(),
            budget_states,
            run_failing: false,
            keep_going: false,
            completing: false,
            split_depth: None,
            cut: None,
            states_exhausted: false,
            pruned_by_sleep: 0,
            pruned_by_cache: 0,
            preemption_cut: false,
            error: None,
        }
    }

    /// Keeps exploring after failing runs: every branch after a violation is
    /// explored too, so each property's verdict covers the whole space.
    pub fn keep_going(mut self, on: bool) -> Self {
        self.keep_going = on;
        self
    }

    /// Ends the running execution at a pruned node, unless it has already
    /// violated a property under keep-going: then its failure must still be
    /// reported with a complete, replayable schedule, so the run is finished
    /// along one path and nothing below is branched or cached. Pruning the
    /// *subtree* stays sound: the state's subtree (or a sleep-set equivalent
    /// of it) was explored from another prefix, and every failure in it was
    /// recorded then, with that prefix's complete schedule (the cache key does
    /// not include past violations, and need not: a violation is recorded by
    /// the run that makes it, whichever prefix reached the state).
    fn prune(
        &mut self,
        point: &TaskPoint<'_>,
        sleep: Vec<Explored>,
        preemptions: u32,
    ) -> Option<TaskId> {
        if point.failing && self.keep_going {
            self.completing = true;
            self.push_completion(point, sleep, preemptions)
        } else {
            None
        }
    }

    /// Pushes a node with a single candidate (the previous task if it can
    /// go on, else the lowest runnable one) and no alternatives.
    fn push_completion(
        &mut self,
        point: &TaskPoint<'_>,
        sleep: Vec<Explored>,
        preemptions: u32,
    ) -> Option<TaskId> {
        if let (Some(bound), Some(prev), false) =
            (self.preemption_bound, point.prev, self.completing)
        {
            // As before keep-going branched failing runs: the bound is
            // reported as cutting when a failing run had alternatives.
            if preemptions >= bound && point.enabled.contains(&prev) && point.enabled.len() > 1 {
                self.preemption_cut = true;
            }
        }
        let mut order = point.enabled.to_vec();
        prev_first(&mut order, point.prev);
        order.truncate(1);
        self.push_task_node(point, sleep, preemptions, order)
    }

    fn push_task_node(
        &mut self,
        point: &TaskPoint<'_>,
        sleep: Vec<Explored>,
        preemptions: u32,
        order: Vec<TaskId>,
    ) -> Option<TaskId> {
        let pick = order[0];
        self.stack.push(Node::Task {
            enabled: point.enabled.to_vec(),
            stables: point.stable_ids.to_vec(),
            sleep,
            done: Vec::new(),
            order,
            next: 0,
            footprint: Footprint::new(),
            prev: point.prev,
            preemptions,
        });
        self.step_node = Some(self.depth);
        self.depth += 1;
        Some(pick)
    }

    /// Frontier mode: runs are cut where they would open a task node at
    /// `depth`, and nothing is cached (the subtrees have caches of their own).
    pub(crate) fn split_at(mut self, depth: usize) -> Self {
        self.split_depth = Some(depth);
        self
    }

    /// The subtree job cut from the last run, if it was cut.
    pub(crate) fn take_cut(&mut self) -> Option<Subtree> {
        self.cut.take().map(|nodes| Subtree { nodes })
    }

    /// Explores only below `subtree`'s decisions (they are replayed, never
    /// branched: each frozen node has its one decision left).
    pub(crate) fn below(mut self, subtree: Subtree) -> Self {
        self.stack = subtree.nodes;
        self
    }

    /// The current decisions, each frozen to its current branch, with the
    /// sleep sets and explored siblings the nodes below inherit from.
    fn frozen_prefix(&self) -> Vec<Node> {
        self.stack[..self.depth]
            .iter()
            .map(|node| match node {
                Node::Task {
                    enabled,
                    stables,
                    sleep,
                    done,
                    order,
                    next,
                    prev,
                    preemptions,
                    ..
                } => Node::Task {
                    enabled: enabled.clone(),
                    stables: stables.clone(),
                    sleep: sleep.clone(),
                    done: done.clone(),
                    order: vec![order[*next]],
                    next: 0,
                    footprint: Footprint::new(),
                    prev: *prev,
                    preemptions: *preemptions,
                },
                Node::Choice { n, current, .. } => Node::Choice {
                    n: *n,
                    current: *current,
                    fixed: true,
                },
            })
            .collect()
    }

    /// Explores with `cache` (a layer over earlier subtrees' visits).
    pub(crate) fn with_cache(mut self, cache: StateCache) -> Self {
        self.cache = cache;
        self
    }

    /// The state cache, leaving an empty one.
    pub(crate) fn take_cache(&mut self) -> StateCache {
        std::mem::replace(&mut self.cache, StateCache::new())
    }

    /// Distinct cached states.
    pub fn states(&self) -> u64 {
        self.cache.len() as u64
    }

    /// Moves to the next unexplored branch; false when the tree is exhausted.
    pub fn backtrack(&mut self) -> bool {
        self.run_failing = false;
        self.completing = false;
        self.depth = 0;
        self.step_node = None;
        self.pending_fingerprint = None;
        while let Some(node) = self.stack.last_mut() {
            match node {
                Node::Choice { n, current, fixed } => {
                    if !*fixed && *current + 1 < *n {
                        *current += 1;
                        return true;
                    }
                }
                Node::Task {
                    stables,
                    enabled,
                    done,
                    order,
                    next,
                    footprint,
                    ..
                } => {
                    let task = order[*next];
                    let stable =
                        stables[enabled.binary_search(&task).expect("candidate is enabled")];
                    done.push(Explored {
                        task,
                        stable,
                        footprint: std::mem::take(footprint),
                    });
                    *next += 1;
                    if *next < order.len() {
                        return true;
                    }
                }
            }
            self.stack.pop();
        }
        false
    }

    /// Sleep set and preemption count for a new node below the step just run.
    fn inherited(&self) -> (Vec<Explored>, u32) {
        let Some(parent) = self.step_node else {
            return (Vec::new(), 0);
        };
        let Node::Task {
            enabled,
            sleep,
            done,
            order,
            next,
            prev,
            preemptions,
            ..
        } = &self.stack[parent]
        else {
            unreachable!("step_node points at a task node")
        };
        let chosen = order[*next];
        let preempted = prev.is_some_and(|p| p != chosen && enabled.binary_search(&p).is_ok());
        let count = preemptions + preempted as u32;
        if !self.reduction {
            return (Vec::new(), count);
        }
        let sleep = sleep
            .iter()
            .chain(done.iter())
            .filter(|e| e.task != chosen && !e.footprint.conflicts_with(&self.last_footprint))
            .cloned()
            .collect();
        (sleep, count)
    }
}

impl Scheduler for DfsScheduler {
    fn next_task(&mut self, point: &TaskPoint<'_>) -> Option<TaskId> {
        self.run_failing = point.failing;
        if self.depth < self.stack.len() {
            let Node::Task {
                enabled,
                order,
                next,
                ..
            } = &self.stack[self.depth]
            else {
                self.error = Some(format!(
                    "nondeterminism: decision {} was a choice before and is a task pick now",
                    self.depth
                ));
                return None;
            };
            if enabled.as_slice() != point.enabled {
                self.error = Some(format!(
                    "nondeterminism: the runnable tasks at decision {} differ between two \
                     executions of the same prefix",
                    self.depth
                ));
                return None;
            }
            let pick = order[*next];
            self.step_node = Some(self.depth);
            self.depth += 1;
            return Some(pick);
        }
        if self.split_depth.is_some_and(|d| self.depth >= d) {
            self.cut = Some(self.frozen_prefix());
            return None;
        }
        let (sleep, preemptions) = self.inherited();
        // Without keep-going a failing run ends the check: finish it along
        // one path, unpruned, so the counterexample is a complete run.
        if self.completing || (point.failing && !self.keep_going) {
            return self.push_completion(point, sleep, preemptions);
        }
        if self.reduction && self.split_depth.is_none() {
            if let Some(fp) = self.pending_fingerprint {
                let mut asleep: Vec<u64> = sleep
                    .iter()
                    .filter(|e| point.enabled.contains(&e.task))
                    .map(|e| e.stable)
                    .collect();
                asleep.sort_unstable();
                let prune = match self.cache.visit(fp, &asleep, self.depth as u32) {
                    Lookup::Covered => {
                        self.pruned_by_cache += 1;
                        true
                    }
                    Lookup::New if self.cache.len() as u64 >= self.budget_states => {
                        self.states_exhausted = true;
                        true
                    }
                    _ => false,
                };
                if prune {
                    return self.prune(point, sleep, preemptions);
                }
            }
        }
        let mut order: Vec<TaskId> = point
            .enabled
            .iter()
            .copied()
            .filter(|t| !sleep.iter().any(|e| e.task == *t))
            .collect();
        if let (Some(bound), Some(prev)) = (self.preemption_bound, point.prev) {
            if preemptions >= bound && point.enabled.contains(&prev) {
                if order.len() > 1 || !order.contains(&prev) {
                    self.preemption_cut = true;
                }
                order.retain(|&t| t == prev);
            }
        }
        if order.is_empty() {
            self.pruned_by_sleep += 1;
            return self.prune(point, sleep, preemptions);
        }
        // Continue the previous task first: the first run is the
        // non-preemptive one, and it tends to reach the deep states early.
        prev_first(&mut order, point.prev);
        self.push_task_node(point, sleep, preemptions, order)
    }

    fn next_choice(&mut self, label: &str, n: usize) -> Option<usize> {
        if self.depth < self.stack.len() {
            return match &self.stack[self.depth] {
                Node::Choice { n: m, current, .. } if *m == n => {
                    let v = *current;
                    self.depth += 1;
                    Some(v)
                }
                _ => {
                    self.error = Some(format!(
                        "nondeterminism: choose(\"{label}\", {n}) at decision {} did not happen \
                         in an earlier execution of the same prefix",
                        self.depth
                    ));
                    None
                }
            };
        }
        self.stack.push(Node::Choice {
            n,
            current: 0,
            fixed: self.completing || (self.run_failing && !self.keep_going),
        });
        self.depth += 1;
        Some(0)
    }

    fn after_step(&mut self, info: &StepInfo<'_>) {
        self.last_footprint.clear();
        self.last_footprint.union_with(info.footprint);
        if let Some(Node::Task { footprint, .. }) = self.step_node.map(|i| &mut self.stack[i]) {
            footprint.union_with(info.footprint);
        }
        self.pending_fingerprint = info.fingerprint;
    }

    fn wants_fingerprints(&self) -> bool {
        self.reduction
    }

    /// Only a new node looks its state up in the cache: while the run
    /// replays the stack's prefix, the next decision is a known one.
    fn fingerprint_needed(&self) -> bool {
        self.depth >= self.stack.len() && self.split_depth.is_none()
    }
}

/// Moves `prev` (if a candidate) to the front, keeping the others' order.
fn prev_first(order: &mut [TaskId], prev: Option<TaskId>) {
    if let Some(pos) = prev.and_then(|p| order.iter().position(|&t| t == p)) {
        order[..=pos].rotate_right(1);
    }
}
