//! Which steps of `host-abstract` are enabled, and what each does: SWAR
//! masks over the packed program counters (in the model's word, see
//! `word.rs`) for enumeration, and `apply` for the transition itself.

use super::word::{pc_of, pc_sum, slots_at, Word};
use super::{Actor, HaState, HostAbstract, Pc, Status, Step, Variant};

/// Precomputed SWAR slot masks (bit `3 * slot` per slot, see `word::slots_at`)
/// in the model's word.
#[derive(Clone, Debug)]
pub(super) struct Masks<W> {
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
pub(super) struct Words {
    pub(super) narrow: bool,
    pub(super) wide: Masks<u128>,
    pub(super) short: Masks<u64>,
}

impl Words {
    pub(super) fn new(r: u32, a: u32) -> Self {
        Words {
            narrow: (a + r + 1) as usize <= u64::SLOTS,
            wide: Masks::new(r, a),
            short: Masks::new(r, a),
        }
    }
}

/// What [`HostAbstract::each_step`] calls for every enabled step.
///
/// A trait rather than a closure so that an implementation can force its
/// method inline ([`Successors`] does): `each_step` calls it from one loop
/// per step kind, and inlined there, `apply`'s match on the step folds away.
/// As a closure it was compiled once and called through a jump table on the
/// step, per transition.
pub(super) trait OnStep {
    fn on(&mut self, slot: usize, step: Step);
}

impl<F: FnMut(usize, Step)> OnStep for F {
    #[inline(always)]
    fn on(&mut self, slot: usize, step: Step) {
        self(slot, step)
    }
}

/// Applies every step it is given and hands the successor to `visit` with
/// its index: the body of `Model::successors`.
pub(super) struct Successors<'a, F> {
    pub model: &'a HostAbstract,
    pub state: &'a HaState,
    pub index: usize,
    pub visit: F,
}

impl<F: FnMut(usize, HaState)> OnStep for Successors<'_, F> {
    #[inline(always)]
    fn on(&mut self, slot: usize, step: Step) {
        (self.visit)(self.index, self.model.apply(self.state, slot, step));
        self.index += 1;
    }
}

impl HostAbstract {
    /// Calls `f.on(slot, step)` for every enabled step, in the model's word.
    #[inline(always)]
    pub(super) fn each_step(&self, s: &HaState, f: &mut impl OnStep) {
        if self.masks.narrow {
            self.each_step_in(s, &self.masks.short, f)
        } else {
            self.each_step_in(s, &self.masks.wide, f)
        }
    }

    /// Calls `f.on(slot, step)` for every enabled step, step kind by step
    /// kind (slots in increasing order within a kind): SWAR masks per pc
    /// value instead of a branch on every slot's pc.
    #[inline(always)]
    pub(super) fn each_step_in<W: Word>(&self, s: &HaState, m: &Masks<W>, f: &mut impl OnStep) {
        let pcs = s.pcs::<W>();
        let mut emit = |mut mask: W, step: Step| {
            while mask != W::ZERO {
                f.on((mask.trailing_zeros() / 3) as usize, step);
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

    /// The progress measure (see [`Model::progress`] in `mod.rs`) in word
    /// `W`. In a `u64` the Starter and Requester pcs are read as one base-8
    /// number (a few instructions; this runs on every transition); in a
    /// `u128`, which may not fit, they are summed.
    #[inline(always)]
    pub(super) fn rank_in<W: Word>(&self, s: &HaState, m: &Masks<W>) -> u64 {
        let pcs = s.pcs::<W>();
        let service = match pc_of(pcs, self.service_slot()) {
            Pc::Idle if s.restart_req() => 0,
            Pc::Idle => 6,
            pc => pc as u64,
        };
        let others = m.all & !m.service;
        if W::SLOTS <= u64::SLOTS {
            (pcs & others.fields()).low_u64() << 3 | service
        } else {
            8 * u64::from(pc_sum(pcs, others)) + service
        }
    }

    /// The enabled steps of the actor in `slot` at `pc`: at most two (Build
    /// can fail or succeed).
    #[inline(always)]
    pub(super) fn steps_at(&self, s: &HaState, slot: usize, pc: Pc, mut push: impl FnMut(Step)) {
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
    pub(super) fn start_over(&self, s: &mut HaState, slot: usize) {
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
    pub(super) fn apply(&self, s: &HaState, slot: usize, step: Step) -> HaState {
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
}
