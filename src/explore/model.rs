//! The protocol-model interface: a pure state machine plus named properties.
//!
//! A protocol model is deliberately small and pure (no I/O, no clocks, no
//! interior mutability): `init_states`, the enabled `actions` of a state, and
//! the `next_state` an action leads to. Checkers in this module's siblings
//! explore it; the model never knows which one.

use std::fmt::Debug;
use std::hash::Hash;

use crate::report::Bounds;

/// How a property is judged over the reachable state graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PropertyKind {
    /// Holds in every reachable state (an invariant). Violated by a path to a bad state.
    Always,
    /// Holds in at least one reachable state. A `sometimes` never reached fails the
    /// check: it is how a pass is kept from being vacuous.
    Sometimes,
    /// On every maximal path (finite paths end in a state with no enabled action;
    /// infinite paths are lassos) some state satisfies it (`<> p`). Violated by a
    /// path to a terminal state, or to a cycle, that never satisfies it.
    Eventually,
    /// On every maximal path, from some point on, it holds for ever (`<>[] p`).
    /// Violated by a reachable terminal state that does not satisfy it, or by a
    /// reachable cycle through a state that does not.
    EventuallyAlways,
}

/// A named property of a protocol model. `holds` is a plain function so
/// properties are `Copy`, cheap to call, and shareable across checker threads.
pub struct Property<M: Model + ?Sized> {
    pub name: &'static str,
    pub kind: PropertyKind,
    pub holds: fn(&M, &M::State) -> bool,
    /// An `always` property judged in terminal states only (no action
    /// enabled): see [`Property::at_terminal`].
    pub terminal_only: bool,
}

impl<M: Model + ?Sized> Clone for Property<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M: Model + ?Sized> Copy for Property<M> {}

impl<M: Model + ?Sized> Property<M> {
    pub fn always(name: &'static str, holds: fn(&M, &M::State) -> bool) -> Self {
        Property {
            name,
            kind: PropertyKind::Always,
            holds,
            terminal_only: false,
        }
    }
    /// An invariant of the terminal states (those with no enabled action),
    /// such as "when nothing more can happen, the host is running": reported
    /// as an `always` property, but `holds` is only called where the
    /// checker already knows the state is terminal (where it checks for
    /// deadlock), so the model need not work out enabledness again in every
    /// state, and `holds` can assume it.
    pub fn at_terminal(name: &'static str, holds: fn(&M, &M::State) -> bool) -> Self {
        Property {
            terminal_only: true,
            ..Self::always(name, holds)
        }
    }

    /// For an `always` property: whether `state` violates it, given whether
    /// the state is terminal (asked only for terminal-only properties).
    pub fn fails_at(&self, model: &M, state: &M::State, terminal: impl FnOnce() -> bool) -> bool {
        (!self.terminal_only || terminal()) && !(self.holds)(model, state)
    }

    pub fn sometimes(name: &'static str, holds: fn(&M, &M::State) -> bool) -> Self {
        Property {
            name,
            kind: PropertyKind::Sometimes,
            holds,
            terminal_only: false,
        }
    }
    pub fn eventually(name: &'static str, holds: fn(&M, &M::State) -> bool) -> Self {
        Property {
            name,
            kind: PropertyKind::Eventually,
            holds,
            terminal_only: false,
        }
    }
    pub fn eventually_always(name: &'static str, holds: fn(&M, &M::State) -> bool) -> Self {
        Property {
            name,
            kind: PropertyKind::EventuallyAlways,
            holds,
            terminal_only: false,
        }
    }
}

/// The name under which a deadlock is reported (a reachable state with no
/// enabled action that the model does not call [`Model::at_rest`]).
pub const DEADLOCK: &str = "deadlock";

/// A protocol model: an explicit state machine with properties.
///
/// Checkers require `Sync` so one model value can be shared by worker threads.
pub trait Model: Sync {
    /// The whole state. `Hash` feeds the fingerprint, `Eq` the exact mode.
    type State: Clone + Hash + Eq + Debug + Send + Sync;
    /// One atomic step. `Debug` is how it appears in a counterexample unless
    /// [`Model::format_action`] says otherwise.
    type Action: Clone + Debug + Send + Sync;

    /// Model name as used on the command line (`host`, `host-abstract`, ...).
    fn name(&self) -> String;
    /// Variant name (`pre-10766`, `fixed`, ...).
    fn variant(&self) -> String;
    /// The bounds this instance was built with, echoed in every report.
    fn bounds(&self) -> Bounds;

    /// Initial states (usually one).
    fn init_states(&self) -> Vec<Self::State>;
    /// Appends the actions enabled in `state` to `out` (which arrives empty).
    fn actions(&self, state: &Self::State, out: &mut Vec<Self::Action>);
    /// The state `action` leads to, or `None` if it turns out not to be enabled.
    fn next_state(&self, state: &Self::State, action: &Self::Action) -> Option<Self::State>;
    /// Calls `visit(index, next)` for every action of `actions(state)` that
    /// `next_state` enables, in list order (`index` is the action's place in
    /// that list), and returns how many actions the list had.
    ///
    /// The default does exactly that through `scratch`. The BFS spends most
    /// of its model time here, so a model may override it to enumerate and
    /// apply its steps in one go (no `Action` values, no re-validation in
    /// `next_state`); an override must agree with `actions` + `next_state`
    /// exactly, which [`crate::explore::protocol::successors_agree`] tests.
    fn successors(
        &self,
        state: &Self::State,
        scratch: &mut Vec<Self::Action>,
        mut visit: impl FnMut(usize, Self::State),
    ) -> usize {
        scratch.clear();
        self.actions(state, scratch);
        for (index, action) in scratch.iter().enumerate() {
            if let Some(next) = self.next_state(state, action) {
                visit(index, next);
            }
        }
        scratch.len()
    }
    /// The named properties to check.
    fn properties(&self) -> Vec<Property<Self>>;

    /// Whether a state with no enabled action is an acceptable end (every actor
    /// finished or idle). A terminal state that is not at rest is a deadlock.
    fn at_rest(&self, state: &Self::State) -> bool;

    /// How an action is shown in a counterexample. Defaults to `Debug`.
    fn format_action(&self, action: &Self::Action) -> String {
        format!("{action:?}")
    }
    /// The actor that takes `action` (a trace column: `Starter[1]`, `restart#2`).
    /// Defaults to `"model"`.
    fn actor(&self, _action: &Self::Action) -> String {
        "model".to_string()
    }
    /// The wait-for edges of a stuck state (who waits on what, held by whom),
    /// shown with a deadlock counterexample. Defaults to none.
    fn wait_for(&self, _state: &Self::State) -> Vec<crate::report::WaitEdge> {
        Vec::new()
    }
    /// How a state is shown in a counterexample. Defaults to `Debug`.
    fn format_state(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }

    /// A progress measure (ranking function), if the model has one: a value
    /// that every transition strictly increases. It proves the reachable
    /// graph acyclic, which lets the BFS decide `eventually` properties in
    /// the same pass (no second, Kahn pass). The checker verifies the
    /// increase on every transition it explores; if one does not increase,
    /// it says so in a note and falls back to the cycle-aware passes, so a
    /// wrong measure costs time, never a wrong verdict. Defaults to none.
    fn progress(&self, _state: &Self::State) -> Option<u64> {
        None
    }

    // The three methods below make counterexamples readable (minimization, semantic
    // schedules, coverage; `wait_for` above explains deadlocks). Their defaults keep
    // every model working.

    /// A short, stable name of what `action` does (`boot`, `host-start-storage-error`),
    /// free of the state-dependent details [`Model::format_action`] may show. With
    /// [`Model::actor`] it names a step in a semantic schedule and lets the minimizer
    /// recognise "the same step" on a shortened path, so it should tell apart the
    /// actions one actor can have enabled at once. Defaults to `format_action`.
    fn action_name(&self, action: &Self::Action) -> String {
        self.format_action(action)
    }
    /// The fault `action` injects (`storage-outage`, `worker-timeout`), if it is one:
    /// coverage counts them and the minimizer reports how many it removed.
    fn fault_kind(&self, _action: &Self::Action) -> Option<String> {
        None
    }
    /// A coarse label of a state (`Running`, `Error`): the rows of the coverage table.
    fn phase(&self, _state: &Self::State) -> String {
        "*".to_string()
    }
}
