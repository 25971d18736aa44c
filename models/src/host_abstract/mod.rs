//! `host-abstract`: the small benchmark protocol of
//! shared/spec/host-abstract.md as a protocol [`Model`], variants `buggy` and
//! `fixed`, bounds `R` (restart requesters), `F` (storage failures), `A`
//! (attempt cap). Each spec step is one transition; the state is exactly the
//! spec's variables plus one program counter per actor slot.

mod props;
mod state;
mod steps;
#[cfg(test)]
mod tests;
mod word;

use lockstep::explore::{Model, Property};
use lockstep::report::Bounds;
use steps::{Successors, Words};

pub use state::{HaState, Pc, Status, MAX_COUNTER, MAX_SLOTS};

/// The two variants of the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// LoadMetadata calls Restart inline and waits for it while holding the permit.
    Buggy,
    /// Restart is an async signal served by the Service; cancellation check points.
    Fixed,
}

/// One atomic step of the spec, as taken by one actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Starter: `Idle -> WaitSem` once `attempts > k`.
    Wake,
    /// Requester: cancel the current attempt, `Idle -> WaitSem`.
    Request,
    /// Service: take a pending restart request, cancel the current attempt.
    Take,
    /// `WaitSem -> Build` when the permit is free.
    Acquire,
    /// BuildHost hits a storage failure (while `fails < F`).
    BuildFail,
    /// BuildHost succeeds (fixed: then a cancellation check point).
    BuildOk,
    /// LoadMetadata (the variant decides what it does).
    Load,
    /// Buggy `InlWait`: the inline restart acquiring the permit (never enabled).
    InlAcquire,
    /// `st := Running`, channel active, release.
    Finish,
}

/// An action: which actor slot takes which step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HaAction {
    pub slot: u8,
    pub step: Step,
}

/// The protocol model. Actor slots: Starters `0..A`, Requesters `A..A+R`, Service last.
#[derive(Clone, Debug)]
pub struct HostAbstract {
    variant: Variant,
    r: u32,
    f: u32,
    a: u32,
    masks: Words,
}

/// What kind of actor occupies a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Actor {
    Starter(u32),
    Requester(u32),
    Service,
}

impl HostAbstract {
    /// Bounds used when none are given: `R=2, F=1, A=F+1`.
    pub fn default_bounds() -> Bounds {
        Bounds::from([
            ("R".to_string(), 2),
            ("F".to_string(), 1),
            ("A".to_string(), 2),
        ])
    }

    /// Builds the model. Missing bounds default to `R=2`, `F=1`, `A=F+1`;
    /// unknown variants or bound names and out-of-range values are errors.
    pub fn new(variant: &str, bounds: &Bounds) -> Result<Self, String> {
        let variant = match variant {
            "buggy" => Variant::Buggy,
            "fixed" => Variant::Fixed,
            other => {
                return Err(format!(
                    "unknown variant `{other}` for model host-abstract (expected buggy or fixed)"
                ))
            }
        };
        if let Some(name) = bounds
            .keys()
            .find(|k| !matches!(k.as_str(), "R" | "F" | "A"))
        {
            return Err(format!(
                "unknown bound `{name}` for model host-abstract (expected R, F and A)"
            ));
        }
        let get = |name: &str, default: i64, lo: i64, hi: i64| -> Result<u32, String> {
            let v = bounds.get(name).copied().unwrap_or(default);
            if v < lo || v > hi {
                return Err(format!("bound {name}={v} out of range {lo}..={hi}"));
            }
            Ok(v as u32)
        };
        let max = i64::from(MAX_COUNTER);
        let f = get("F", 1, 0, max)?;
        let a = get("A", i64::from(f) + 1, 1, max)?;
        let r = get("R", 2, 0, MAX_SLOTS as i64)?;
        if (r + a + 1) as usize > MAX_SLOTS {
            return Err(format!(
                "bounds R={r}, A={a} need {} actor slots; the packed state holds {MAX_SLOTS} \
                 (R + A + 1 <= {MAX_SLOTS})",
                r + a + 1
            ));
        }
        Ok(HostAbstract {
            variant,
            r,
            f,
            a,
            masks: Words::new(r, a),
        })
    }

    /// The same model on `u128` words even where `u64` would do, so tests
    /// can check that both words explore the same graph.
    #[cfg(test)]
    pub(crate) fn with_wide_words(mut self) -> Self {
        self.masks.narrow = false;
        self
    }

    pub fn variant_kind(&self) -> Variant {
        self.variant
    }
    /// `(R, F, A)`.
    pub fn rfa(&self) -> (u32, u32, u32) {
        (self.r, self.f, self.a)
    }
    fn slots(&self) -> usize {
        (self.a + self.r + 1) as usize
    }
    fn service_slot(&self) -> usize {
        (self.a + self.r) as usize
    }
    fn actor(&self, slot: usize) -> Actor {
        let slot = slot as u32;
        if slot < self.a {
            Actor::Starter(slot)
        } else if slot < self.a + self.r {
            Actor::Requester(slot - self.a)
        } else {
            Actor::Service
        }
    }

    fn actor_name(&self, slot: usize) -> String {
        match self.actor(slot) {
            Actor::Starter(k) => format!("Starter[{k}]"),
            Actor::Requester(j) => format!("Requester[{j}]"),
            Actor::Service => "Service".to_string(),
        }
    }
}

impl Model for HostAbstract {
    type State = HaState;
    type Action = HaAction;

    fn wait_for(&self, s: &HaState) -> Vec<lockstep::report::WaitEdge> {
        self.wait_edges(s)
    }

    fn name(&self) -> String {
        "host-abstract".to_string()
    }
    fn variant(&self) -> String {
        match self.variant {
            Variant::Buggy => "buggy",
            Variant::Fixed => "fixed",
        }
        .to_string()
    }
    fn bounds(&self) -> Bounds {
        Bounds::from([
            ("R".to_string(), i64::from(self.r)),
            ("F".to_string(), i64::from(self.f)),
            ("A".to_string(), i64::from(self.a)),
        ])
    }

    fn init_states(&self) -> Vec<HaState> {
        let mut s = HaState::default();
        s.set_sem(1);
        s.set_st(Status::Default);
        s.set_attempts(1); // the boot Starter
        s.set_chan(true); // the worker channel is active at boot
        vec![s]
    }

    fn actions(&self, state: &HaState, out: &mut Vec<HaAction>) {
        self.each_step(state, &mut |slot, step| {
            out.push(HaAction {
                slot: slot as u8,
                step,
            })
        });
    }

    fn next_state(&self, state: &HaState, action: &HaAction) -> Option<HaState> {
        let slot = usize::from(action.slot);
        if slot >= self.slots() {
            return None;
        }
        let mut enabled = false;
        self.steps_at(state, slot, state.pc(slot), |step| {
            enabled |= step == action.step
        });
        if !enabled {
            return None;
        }
        Some(self.apply(state, slot, action.step))
    }

    /// `each_step` + `apply` in one go: the same steps in the same order as
    /// `actions`, without building `HaAction`s or re-checking in `next_state`
    /// that each is enabled.
    #[inline]
    fn successors(
        &self,
        state: &HaState,
        _scratch: &mut Vec<HaAction>,
        visit: impl FnMut(usize, HaState),
    ) -> usize {
        let mut each = Successors {
            model: self,
            state,
            index: 0,
            visit,
        };
        self.each_step(state, &mut each);
        each.index
    }

    fn properties(&self) -> Vec<Property<Self>> {
        props::properties(self)
    }

    /// The spec says the graph is acyclic because "every step advances a
    /// program counter or a bounded counter"; this is that argument as a
    /// number. Every step changes the pc of the acting slot only, so: the
    /// Starter and Requester pcs read as one base-8 number (or, when they do
    /// not fit in 64 bits, their sum), times 8, plus the service rank:
    /// * a Starter or Requester step raises its pc's value (the `Pc`
    ///   discriminants are in step order: Idle, WaitSem, Build, Load,
    ///   InlWait, Finish, Done) by at least 1, so the number by at least 8,
    ///   while it can lower the service rank by at most 6 (its Load may set
    ///   `restart_req`, which moves the Service from "idle, nothing pending"
    ///   to "idle, request pending");
    /// * a Service step raises the service rank: idle with a request pending
    ///   0, then its pc's value (WaitSem 1 ... Finish 5), idle with nothing
    ///   pending 6 (no request can be set while it runs: `restart_active`
    ///   guards it).
    ///
    /// (The buggy variant's InlAcquire, InlWait back to Build, would lower
    /// a pc, but it is never enabled: the waiting actor holds the permit
    /// itself. The check below would catch it if it were.)
    ///
    /// The checker verifies the increase on every transition.
    #[inline]
    fn progress(&self, s: &HaState) -> Option<u64> {
        Some(if self.masks.narrow {
            self.rank_in(s, &self.masks.short)
        } else {
            self.rank_in(s, &self.masks.wide)
        })
    }

    fn at_rest(&self, s: &HaState) -> bool {
        (0..self.slots()).all(|slot| {
            matches!(
                (self.actor(slot), s.pc(slot)),
                (Actor::Starter(_), Pc::Idle | Pc::Done)
                    | (Actor::Requester(_), Pc::Done)
                    | (Actor::Service, Pc::Idle)
            )
        })
    }

    fn format_action(&self, action: &HaAction) -> String {
        match action.step {
            Step::Wake => "Wake",
            Step::Request => "Request (cancel current)",
            Step::Take => "Take (cancel current)",
            Step::Acquire => "Acquire start_sem",
            Step::BuildFail => "BuildHost fails (storage)",
            Step::BuildOk => "BuildHost ok",
            Step::Load => "LoadMetadata",
            Step::InlAcquire => "InlWait acquire",
            Step::Finish => "Finish (Running, release)",
        }
        .to_string()
    }

    fn actor(&self, action: &HaAction) -> String {
        self.actor_name(usize::from(action.slot))
    }

    fn format_state(&self, s: &HaState) -> String {
        let mut out = format!(
            "sem={} st={:?} cancel={} attempts={} fails={} chan={}",
            s.sem(),
            s.st(),
            u8::from(s.cancel()),
            s.attempts(),
            s.fails(),
            u8::from(s.chan())
        );
        if self.variant == Variant::Fixed {
            out += &format!(
                " req={} active={}",
                u8::from(s.restart_req()),
                u8::from(s.restart_active())
            );
        }
        for slot in 0..self.slots() {
            if self.variant == Variant::Buggy && slot == self.service_slot() {
                continue;
            }
            out += &format!(" {}={:?}", self.actor_name(slot), s.pc(slot));
        }
        out
    }
}
