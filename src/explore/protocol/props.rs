//! The property table every pass shares: index 0 is the built-in deadlock
//! check, index `i + 1` the model's `i`-th property. Passes record what they
//! find per index; the report is assembled from that.

use crate::explore::model::{Model, Property, PropertyKind, DEADLOCK};

/// The model's properties grouped by how a pass treats them.
pub struct PropTable<M: Model> {
    pub props: Vec<Property<M>>,
    /// Whether the deadlock check is part of this check (it is unless
    /// `check_property` asked for another property alone).
    pub deadlock: bool,
    /// Table indices of `always` properties judged in every state.
    pub always: Vec<usize>,
    /// Table indices of `always` properties judged in terminal states only
    /// ([`Property::at_terminal`]).
    pub terminal: Vec<usize>,
    pub sometimes: Vec<usize>,
    pub eventually: Vec<usize>,
    pub eventually_always: Vec<usize>,
}

impl<M: Model> PropTable<M> {
    pub fn new(props: Vec<Property<M>>, deadlock: bool) -> Self {
        let of = |kind: PropertyKind, terminal_only: bool| -> Vec<usize> {
            props
                .iter()
                .enumerate()
                .filter(|(_, p)| p.kind == kind && p.terminal_only == terminal_only)
                .map(|(i, _)| i + 1)
                .collect()
        };
        PropTable {
            always: of(PropertyKind::Always, false),
            terminal: of(PropertyKind::Always, true),
            sometimes: of(PropertyKind::Sometimes, false),
            eventually: of(PropertyKind::Eventually, false),
            eventually_always: of(PropertyKind::EventuallyAlways, false),
            props,
            deadlock,
        }
    }

    /// Number of table indices (deadlock included, even when not checked).
    pub fn len(&self) -> usize {
        self.props.len() + 1
    }

    /// Never true: index 0 (deadlock) always exists.
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn name(&self, index: usize) -> &'static str {
        if index == 0 {
            DEADLOCK
        } else {
            self.props[index - 1].name
        }
    }

    pub fn kind_str(&self, index: usize) -> &'static str {
        if index == 0 {
            return "deadlock";
        }
        match self.props[index - 1].kind {
            PropertyKind::Always => "always",
            PropertyKind::Sometimes => "sometimes",
            PropertyKind::Eventually => "eventually",
            PropertyKind::EventuallyAlways => "eventually-always",
        }
    }

    pub fn holds(&self, index: usize, model: &M, state: &M::State) -> bool {
        (self.props[index - 1].holds)(model, state)
    }

    /// Safety indices (deadlock and `always`, terminal-only ones included):
    /// the main pass keeps going until each has its own counterexample or
    /// the space is exhausted.
    pub fn safety(&self) -> Vec<usize> {
        let mut v = Vec::new();
        if self.deadlock {
            v.push(0);
        }
        v.extend(self.invariants());
        v
    }

    /// The `always` indices, terminal-only ones included, in declaration order.
    fn invariants(&self) -> Vec<usize> {
        let mut v = [self.always.as_slice(), &self.terminal].concat();
        v.sort_unstable();
        v
    }

    /// All checked indices in report priority: deadlock, `always` in
    /// declaration order, liveness in declaration order, then `sometimes`.
    pub fn priority(&self) -> Vec<usize> {
        let mut v = self.safety();
        v.extend((1..self.len()).filter(|i| {
            matches!(
                self.props[i - 1].kind,
                PropertyKind::Eventually | PropertyKind::EventuallyAlways
            )
        }));
        v.extend(&self.sometimes);
        v
    }

    /// The per-state checks not decided yet: `skip[i]` marks indices
    /// already decided (found, or reached for `sometimes`). Recomputed when
    /// `skip` changes, so [`evaluate`](Self::evaluate) does not test every
    /// index in every state.
    pub fn pending(&self, skip: &[bool]) -> Pending {
        let open = |v: &[usize]| v.iter().copied().filter(|&i| !skip[i]).collect();
        Pending {
            deadlock: self.deadlock && !skip[0],
            always: open(&self.always),
            terminal: open(&[self.terminal.as_slice(), &self.eventually_always].concat()),
            sometimes: open(&self.sometimes),
        }
    }

    /// Evaluates the `pending` per-state checks at `state`: `found` is
    /// called for each violated index and `reached` for each `sometimes`
    /// satisfied.
    #[inline]
    pub fn evaluate(
        &self,
        model: &M,
        state: &M::State,
        terminal: bool,
        pending: &Pending,
        mut found: impl FnMut(usize),
        mut reached: impl FnMut(usize),
    ) {
        if terminal && pending.deadlock && !model.at_rest(state) {
            found(0);
        }
        for &i in &pending.always {
            if !self.holds(i, model, state) {
                found(i);
            }
        }
        if terminal {
            // Terminal-only `always`, and `eventually-always` at a terminal.
            for &i in &pending.terminal {
                if !self.holds(i, model, state) {
                    found(i);
                }
            }
        }
        for &i in &pending.sometimes {
            if self.holds(i, model, state) {
                reached(i);
            }
        }
    }
}

/// The undecided per-state checks, by when they apply (see
/// [`PropTable::pending`]).
#[derive(Clone, Debug, Default)]
pub struct Pending {
    deadlock: bool,
    always: Vec<usize>,
    /// Judged in terminal states only.
    terminal: Vec<usize>,
    sometimes: Vec<usize>,
}
