//! The executor's per-run world: tasks, registered objects, timers, the
//! virtual clock, the trace and the recorded decisions.
//!
//! Everything here is plain data owned by one run on one thread. Task
//! futures live elsewhere (`engine::Core::futures`) so that polling a task
//! never holds a borrow of this state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Weak;
use std::time::Duration;

use super::hash::{mix, StableHasher};
use super::ids::{Access, Footprint, ObjId, TaskId};
use crate::explore::schedules::Decision;
use crate::trace::TraceEvent;
use std::hash::Hasher;

/// Adds fields to an event in place (`TraceEvent::with` takes it by value).
pub(crate) trait EventExt {
    fn field(&mut self, key: &str, value: impl ToString) -> &mut Self;
}

impl EventExt for TraceEvent {
    fn field(&mut self, key: &str, value: impl ToString) -> &mut Self {
        self.fields.insert(key.to_string(), value.to_string());
        self
    }
}

/// How much a run records in its trace.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum TraceLevel {
    /// Nothing (exhaustive search).
    Off,
    /// Primitive operations, spawns, wakes, timers, choices, model events.
    #[default]
    Ops,
    /// `Ops` plus one `step` event per scheduling decision and every `Shared` access.
    Full,
}

/// What a blocked task waits for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    Obj(ObjId),
    Timer(Duration),
    Quiescence,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum TaskStatus {
    Runnable,
    Blocked,
    Finished,
}

pub(crate) struct TaskSlot {
    pub name: String,
    pub stable: u64,
    /// Fold of every op the task executed and every value returned to it.
    pub history: u64,
    pub status: TaskStatus,
    pub daemon: bool,
    /// Objects and tasks created by this task so far (for stable child ids).
    pub creations: u64,
    pub waiting_on: Option<Wait>,
    /// `block_on_thread` descriptions, innermost last.
    pub thread_blocks: Vec<String>,
}

/// State hooks a registered object offers the executor.
pub(crate) trait SimObject: Send + Sync {
    /// Hashes the object's state (not its id) for the world fingerprint.
    fn fingerprint(&self, cx: &FingerprintCx<'_>, h: &mut StableHasher);
    /// Tasks holding the object (permit holders, mutex owner, the task behind a join).
    fn holders(&self) -> Vec<TaskId> {
        Vec::new()
    }
}

/// Lets objects hash task identities by stable id.
pub(crate) struct FingerprintCx<'a> {
    tasks: &'a [TaskSlot],
}

impl FingerprintCx<'_> {
    pub(crate) fn task(&self, t: TaskId) -> u64 {
        self.tasks.get(t.index()).map_or(u64::MAX, |s| s.stable)
    }
    /// The task's history (for an output that is a function of it).
    pub(crate) fn history(&self, t: TaskId) -> u64 {
        self.tasks.get(t.index()).map_or(0, |s| s.history)
    }
    /// Order-independent hash of a set of tasks.
    pub(crate) fn task_set(&self, tasks: impl Iterator<Item = TaskId>) -> u64 {
        tasks.fold(0u64, |acc, t| acc.wrapping_add(mix(self.task(t), 0x5e7)))
    }
}

pub(crate) struct ObjSlot {
    pub name: String,
    pub stable: u64,
    pub created_step: u64,
    pub handle: Weak<dyn SimObject>,
}

pub(crate) struct TimerSlot {
    pub task: TaskId,
    pub daemon: bool,
}

/// A recorded `rt::always` failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub property: String,
    pub detail: String,
    /// The step during which it was recorded.
    pub step: u64,
    pub task: String,
}

pub(crate) struct State {
    pub tasks: Vec<TaskSlot>,
    pub objects: Vec<ObjSlot>,
    pub timers: BTreeMap<(Duration, u64), TimerSlot>,
    pub timer_seq: u64,
    pub clock: Duration,
    pub current: Option<TaskId>,
    /// Steps completed so far; the running step has index `step`.
    pub step: u64,
    /// Set when the running task announced its next operation.
    pub announced: bool,
    pub footprint: Footprint,
    pub trace_level: TraceLevel,
    pub trace: Vec<TraceEvent>,
    pub decisions: Vec<Decision>,
    pub violations: Vec<Violation>,
    pub sometimes: BTreeSet<String>,
    pub always_seen: BTreeSet<String>,
    pub quiescence_waiters: Vec<TaskId>,
    pub name_counts: BTreeMap<String, u32>,
    /// Set while the run's futures are dropped: accesses are no longer recorded.
    pub teardown: bool,
}

const ROOT_STABLE: u64 = 0x10c6_57e9;

impl State {
    pub(crate) fn new(trace_level: TraceLevel) -> Self {
        State {
            tasks: Vec::new(),
            objects: Vec::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            clock: Duration::ZERO,
            current: None,
            step: 0,
            announced: false,
            footprint: Footprint::new(),
            trace_level,
            trace: Vec::new(),
            decisions: Vec::new(),
            violations: Vec::new(),
            sometimes: BTreeSet::new(),
            always_seen: BTreeSet::new(),
            quiescence_waiters: Vec::new(),
            name_counts: BTreeMap::new(),
            teardown: false,
        }
    }

    /// The creating task (the main task while `main()` builds the first future).
    fn creator(&self) -> TaskId {
        self.current.unwrap_or(TaskId::MAIN)
    }

    fn next_child_stable(&mut self) -> u64 {
        let creator = self.creator();
        match self.tasks.get_mut(creator.index()) {
            Some(parent) => {
                parent.creations += 1;
                mix(parent.stable, parent.creations)
            }
            None => ROOT_STABLE,
        }
    }

    /// Adds a task; `name` gets a `#n` suffix unless it is the main task.
    pub(crate) fn add_task(&mut self, name: &str, daemon: bool) -> TaskId {
        let id = TaskId(self.tasks.len() as u32);
        let full = if self.tasks.is_empty() {
            name.to_string()
        } else {
            // Look up before inserting: most spawns reuse a known name.
            let n = match self.name_counts.get_mut(name) {
                Some(n) => {
                    *n += 1;
                    *n
                }
                None => {
                    self.name_counts.insert(name.to_string(), 1);
                    1
                }
            };
            format!("{name}#{n}")
        };
        let stable = self.next_child_stable();
        let parent_history = self
            .tasks
            .get(self.creator().index())
            .map_or(0, |p| p.history);
        self.tasks.push(TaskSlot {
            name: full,
            stable,
            history: mix(stable, parent_history),
            status: TaskStatus::Runnable,
            daemon,
            creations: 0,
            waiting_on: None,
            thread_blocks: Vec::new(),
        });
        id
    }

    pub(crate) fn add_object(&mut self, name: String, handle: Weak<dyn SimObject>) -> ObjId {
        let id = ObjId(self.objects.len() as u32);
        let stable = self.next_child_stable();
        self.objects.push(ObjSlot {
            name,
            stable,
            created_step: self.step,
            handle,
        });
        id
    }

    /// Records an access of the running step (objects created in this very
    /// step cannot conflict with anything and are left out).
    pub(crate) fn record(&mut self, obj: ObjId, access: Access) {
        if self.teardown || self.current.is_none() {
            return;
        }
        if let Some(slot) = self.objects.get(obj.index()) {
            if slot.created_step == self.step {
                return;
            }
            self.footprint.add(obj, access);
            if let Some(t) = self.current {
                let h = &mut self.tasks[t.index()].history;
                *h = mix(*h, slot.stable ^ (access as u64));
            }
        }
    }

    /// Folds a value returned to the running task into its history.
    pub(crate) fn fold(&mut self, value: u64) {
        if let Some(t) = self.current {
            let h = &mut self.tasks[t.index()].history;
            *h = mix(*h, value);
        }
    }

    /// Starts a step of `task`: records the decision, makes it current with a
    /// fresh footprint, and folds a step marker into its history (every step
    /// moves the task's code on, even when it returns nothing). Shared by the
    /// own executor and hosted backends so both keep identical bookkeeping.
    pub(crate) fn begin_step(&mut self, task: TaskId) {
        self.decisions.push(Decision::Task(task.0));
        self.current = Some(task);
        self.announced = false;
        self.footprint.clear();
        let slot = &mut self.tasks[task.index()];
        slot.waiting_on = None;
        slot.history = mix(slot.history, 0x57e9);
        if self.tracing(TraceLevel::Full) {
            self.push_event(Some(task), "step");
        }
    }

    pub(crate) fn tracing(&self, level: TraceLevel) -> bool {
        self.trace_level >= level && !self.teardown
    }

    /// Appends an event attributed to `task` (default: the running task).
    pub(crate) fn push_event(&mut self, task: Option<TaskId>, kind: &str) -> &mut TraceEvent {
        let name = match task.or(self.current) {
            Some(t) => self.tasks[t.index()].name.clone(),
            None => "executor".to_string(),
        };
        let ev = TraceEvent::new(
            self.trace.len() as u64,
            self.clock.as_millis() as u64,
            name,
            kind,
        );
        self.trace.push(ev);
        self.trace.last_mut().expect("just pushed")
    }

    pub(crate) fn obj_name(&self, obj: ObjId) -> &str {
        self.objects.get(obj.index()).map_or("?", |o| &o.name)
    }

    pub(crate) fn all_nondaemon_finished(&self) -> bool {
        self.tasks
            .iter()
            .all(|t| t.daemon || t.status == TaskStatus::Finished)
    }

    pub(crate) fn runnable_into(&self, enabled: &mut Vec<TaskId>, stable: &mut Vec<u64>) {
        enabled.clear();
        stable.clear();
        for (i, t) in self.tasks.iter().enumerate() {
            if t.status == TaskStatus::Runnable {
                enabled.push(TaskId(i as u32));
                stable.push(t.stable);
            }
        }
    }

    pub(crate) fn has_nondaemon_timer(&self) -> bool {
        self.timers.values().any(|t| !t.daemon)
    }

    /// Marks a blocked task runnable (a wake); returns whether it changed.
    pub(crate) fn wake(&mut self, t: TaskId) -> bool {
        let slot = &mut self.tasks[t.index()];
        if slot.status == TaskStatus::Blocked {
            slot.status = TaskStatus::Runnable;
            slot.waiting_on = None;
            if self.tracing(TraceLevel::Ops) {
                self.push_event(Some(t), "wake");
            }
            true
        } else {
            false
        }
    }

    /// The 64-bit fingerprint of the world: clock, timers, every live
    /// object's state and every task's (stable id, status, history; a
    /// finished task's history only while its output waits to be joined).
    /// Sums of mixed per-item hashes, so creation order does not matter.
    pub(crate) fn fingerprint(&self) -> u64 {
        let cx = FingerprintCx { tasks: &self.tasks };
        let mut acc = mix(self.clock.as_nanos() as u64, 0xc10c);
        for t in &self.tasks {
            let status = t.status as u64;
            // A finished task has no future: its history matters only through
            // an output still waiting in its join object, which hashes it.
            let history = match t.status {
                TaskStatus::Finished => 0,
                _ => t.history,
            };
            acc = acc.wrapping_add(mix(mix(t.stable, status), history));
        }
        for o in &self.objects {
            if let Some(obj) = o.handle.upgrade() {
                let mut h = StableHasher::new();
                obj.fingerprint(&cx, &mut h);
                acc = acc.wrapping_add(mix(o.stable, h.finish()));
            }
        }
        for (&(deadline, _), timer) in &self.timers {
            acc = acc.wrapping_add(mix(cx.task(timer.task), deadline.as_nanos() as u64 ^ 0x71));
        }
        acc
    }
}
