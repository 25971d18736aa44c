//! `host-abstract`: the small benchmark protocol of
//! shared/spec/host-abstract.md as a protocol [`Model`], variants `buggy` and
//! `fixed`, bounds `R` (restart requesters), `F` (storage failures), `A`
//! (attempt cap). Each spec step is one transition; the state is exactly the
//! spec's variables plus one program counter per actor slot.

mod props;
mod state;
#[cfg(test)]
mod tests;
mod word;

use lockstep::explore::{Model, Property};
use lockstep::report::Bounds;
use word::{pc_of, pc_sum, slots_at, Word};

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

/// Precomputed SWAR slot masks (bit `3 * slot` per slot, see `word::slots_at`)
/// in the model's word.
#[derive(Clone, Debug)]
struct Masks<W> {
    all: W,
    requesters: W,
    service: W,
    /// `woken[n]`: Starters `0..n` (runnable once `attempts > k`).
    woken: Vec<W>,
}

impl<W: Word> Masks<W> {
    fn new(r: u32, a: u32) -> Self {
        let range = |from, to| W::truncate(HaState::slot_range(from, to));
        Masks {
            all: range(0, a + r + 1),
            requesters: range(a, a + r),
            service: range(a + r, a + r + 1),
            woken: (0..=a).map(|n| range(0, n)).collect(),
        }
    }
}

/// The masks in both words; `narrow` when every slot fits in a `u64`.
#[derive(Clone, Debug)]
struct Words {
    narrow: bool,
    wide: Masks<u128>,
    short: Masks<u64>,
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
            masks: Words {
                narrow: (a + r + 1) as usize <= u64::SLOTS,
                wide: Masks::new(r, a),
                short: Masks::new(r, a),
            },
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

    /// Whether any step is enabled in `s` (allocation-free; used by the
    /// `quiescent-ok` property and equal to `!actions(s).is_empty()`).
    pub fn any_enabled(&self, s: &HaState) -> bool {
        if self.masks.narrow {
            self.enabled_slots(s, &self.masks.short) != 0
        } else {
            self.enabled_slots(s, &self.masks.wide) != 0
        }
    }

    /// SWAR mask (bit `3 * slot`) of the slots with at least one enabled
    /// step, computed for all slots at once without branching on pcs.
    #[inline(always)]
    fn enabled_slots<W: Word>(&self, s: &HaState, m: &Masks<W>) -> W {
        let pcs = s.pcs::<W>();
        let mut idle_ok = m.woken[s.attempts().min(self.a) as usize] | m.requesters;
        if self.variant == Variant::Fixed && s.restart_req() {
            idle_ok = idle_ok | m.service;
        }
        let mut enabled = (slots_at(pcs, Pc::Idle) & idle_ok)
            | slots_at(pcs, Pc::Build)
            | slots_at(pcs, Pc::Load)
            | slots_at(pcs, Pc::Finish);
        if s.sem() == 1 {
            enabled = enabled | slots_at(pcs, Pc::WaitSem) | slots_at(pcs, Pc::InlWait);
        }
        enabled & m.all
    }

    /// Calls `f(slot, step)` for every enabled step, in the model's word.
    #[inline(always)]
    fn each_step(&self, s: &HaState, f: impl FnMut(usize, Step)) {
        if self.masks.narrow {
            self.each_step_in(s, &self.masks.short, f)
        } else {
            self.each_step_in(s, &self.masks.wide, f)
        }
    }

    /// Calls `f(slot, step)` for every enabled step, step kind by step kind
    /// (slots in increasing order within a kind): SWAR masks per pc value
    /// instead of a branch on every slot's pc.
    #[inline(always)]
    fn each_step_in<W: Word>(&self, s: &HaState, m: &Masks<W>, mut f: impl FnMut(usize, Step)) {
        let pcs = s.pcs::<W>();
        let mut emit = |mut mask: W, step: Step| {
            while mask != W::ZERO {
                f((mask.trailing_zeros() / 3) as usize, step);
                mask = mask & (mask - W::ONE);
            }
        };
        let idle = slots_at(pcs, Pc::Idle) & m.all;
        emit(
            idle & m.woken[s.attempts().min(self.a) as usize],
            Step::Wake,
        );
        emit(idle & m.requesters, Step::Request);
        if self.variant == Variant::Fixed && s.restart_req() {
            emit(idle & m.service, Step::Take);
        }
        if s.sem() == 1 {
            emit(slots_at(pcs, Pc::WaitSem) & m.all, Step::Acquire);
            emit(slots_at(pcs, Pc::InlWait) & m.all, Step::InlAcquire);
        }
        let build = slots_at(pcs, Pc::Build) & m.all;
        if s.fails() < self.f {
            emit(build, Step::BuildFail);
        }
        emit(build, Step::BuildOk);
        emit(slots_at(pcs, Pc::Load) & m.all, Step::Load);
        emit(slots_at(pcs, Pc::Finish) & m.all, Step::Finish);
    }

    /// Whether the permit is held by exactly as many slots as it is taken
    /// (the `semaphore` property), in the model's word.
    pub fn permit_consistent(&self, s: &HaState) -> bool {
        if self.masks.narrow {
            Self::permit_consistent_in(s, &self.masks.short)
        } else {
            Self::permit_consistent_in(s, &self.masks.wide)
        }
    }

    #[inline(always)]
    fn permit_consistent_in<W: Word>(s: &HaState, m: &Masks<W>) -> bool {
        let pcs = s.pcs::<W>();
        let holding = (slots_at(pcs, Pc::Build)
            | slots_at(pcs, Pc::Load)
            | slots_at(pcs, Pc::InlWait)
            | slots_at(pcs, Pc::Finish))
            & m.all;
        // No popcount (a software routine on the x86-64 baseline): with the
        // permit free nobody may hold it, otherwise exactly one slot (one bit).
        if s.sem() == 1 {
            holding == W::ZERO
        } else {
            holding != W::ZERO && holding & (holding - W::ONE) == W::ZERO
        }
    }

    /// The progress measure (see [`Model::progress`] below) in word `W`.
    #[inline(always)]
    fn rank_in<W: Word>(&self, s: &HaState, m: &Masks<W>) -> u64 {
        let pcs = s.pcs::<W>();
        let sum = pc_sum(pcs, m.all & !m.service);
        let service = match pc_of(pcs, self.service_slot()) {
            Pc::Idle if s.restart_req() => 0,
            Pc::Idle => 6,
            pc => pc as u32,
        };
        u64::from(8 * sum + service)
    }

    /// The enabled steps of the actor in `slot` at `pc`: at most two (Build
    /// can fail or succeed).
    #[inline(always)]
    fn steps_at(&self, s: &HaState, slot: usize, pc: Pc, mut push: impl FnMut(Step)) {
        let slot = slot as u32;
        match pc {
            Pc::Idle if slot < self.a => {
                if s.attempts() > slot {
                    push(Step::Wake)
                }
            }
            Pc::Idle if slot < self.a + self.r => push(Step::Request),
            Pc::Idle => {
                if self.variant == Variant::Fixed && s.restart_req() {
                    push(Step::Take)
                }
            }
            Pc::WaitSem => {
                if s.sem() == 1 {
                    push(Step::Acquire)
                }
            }
            Pc::Build => {
                if s.fails() < self.f {
                    push(Step::BuildFail)
                }
                push(Step::BuildOk)
            }
            Pc::Load => push(Step::Load),
            // The actor holds the permit itself, so `sem == 1` never holds here.
            Pc::InlWait => {
                if s.sem() == 1 {
                    push(Step::InlAcquire)
                }
            }
            Pc::Finish => push(Step::Finish),
            Pc::Done => {}
        }
    }

    /// "Cancel the current attempt": only if someone holds the permit.
    fn cancel_current(s: &mut HaState) {
        if s.sem() == 0 {
            s.set_cancel(true);
        }
    }

    /// Releasing the permit also resets the attempt's cancellation token.
    fn release(s: &mut HaState) {
        s.set_sem(1);
        s.set_cancel(false);
    }

    /// The actor's start is over: Starters and Requesters are done, the
    /// Service goes back to `Idle` and is no longer active.
    fn start_over(&self, s: &mut HaState, slot: usize) {
        if self.actor(slot) == Actor::Service {
            s.set_pc(slot, Pc::Idle);
            s.set_restart_active(false);
        } else {
            s.set_pc(slot, Pc::Done);
        }
    }

    /// Fixed-variant cancellation check point: on cancel, release (the
    /// `finally`), `st := Stopped`, start over. Returns whether it cancelled.
    fn check_point(&self, s: &mut HaState, slot: usize) -> bool {
        if s.cancel() {
            Self::release(s);
            s.set_st(Status::Stopped);
            self.start_over(s, slot);
            true
        } else {
            false
        }
    }

    #[inline(always)]
    fn apply(&self, s: &HaState, slot: usize, step: Step) -> HaState {
        let mut n = *s;
        match step {
            Step::Wake => n.set_pc(slot, Pc::WaitSem),
            Step::Request => {
                Self::cancel_current(&mut n);
                n.set_pc(slot, Pc::WaitSem);
            }
            Step::Take => {
                n.set_restart_req(false);
                n.set_restart_active(true);
                Self::cancel_current(&mut n);
                n.set_pc(slot, Pc::WaitSem);
            }
            Step::Acquire | Step::InlAcquire => {
                n.set_sem(0);
                n.set_cancel(false);
                n.set_st(Status::Starting);
                n.set_pc(slot, Pc::Build);
            }
            Step::BuildFail => {
                n.set_fails(n.fails() + 1);
                n.set_st(Status::Error);
                n.set_chan(false);
                Self::release(&mut n);
                if n.attempts() < self.a {
                    n.set_attempts(n.attempts() + 1);
                }
                self.start_over(&mut n, slot);
            }
            Step::BuildOk => {
                if self.variant == Variant::Buggy || !self.check_point(&mut n, slot) {
                    n.set_pc(slot, Pc::Load);
                }
            }
            Step::Load => match self.variant {
                Variant::Buggy if n.chan() => n.set_pc(slot, Pc::Finish),
                Variant::Buggy => {
                    // Restart inline: cancel the current attempt (itself) and wait.
                    n.set_cancel(true);
                    n.set_pc(slot, Pc::InlWait);
                }
                Variant::Fixed => {
                    if !n.chan() && !n.restart_req() && !n.restart_active() {
                        n.set_restart_req(true);
                    }
                    if !self.check_point(&mut n, slot) {
                        n.set_pc(slot, Pc::Finish);
                    }
                }
            },
            Step::Finish => {
                n.set_st(Status::Running);
                n.set_chan(true);
                Self::release(&mut n);
                self.start_over(&mut n, slot);
            }
        }
        n
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
        self.each_step(state, |slot, step| {
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
        mut visit: impl FnMut(usize, HaState),
    ) -> usize {
        let mut index = 0;
        self.each_step(state, |slot, step| {
            visit(index, self.apply(state, slot, step));
            index += 1;
        });
        index
    }

    fn properties(&self) -> Vec<Property<Self>> {
        props::properties(self)
    }

    /// The spec says the graph is acyclic because "every step advances a
    /// program counter or a bounded counter"; this is that argument as a
    /// number, `8 * (sum of Starter/Requester pcs) + service rank`:
    /// * a Starter or Requester step raises its pc's value (the `Pc`
    ///   discriminants are in step order: Idle, WaitSem, Build, Load,
    ///   InlWait, Finish, Done) by at least 1, so the sum by at least 8,
    ///   while it can lower the service rank by at most 6 (its Load may set
    ///   `restart_req`, which moves the Service from "idle, nothing pending"
    ///   to "idle, request pending");
    /// * a Service step raises the service rank: idle with a request pending
    ///   0, then its pc's value (WaitSem 1 ... Finish 5), idle with nothing
    ///   pending 6 (no request can be set while it runs: `restart_active`
    ///   guards it).
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
