//! The packed state of `host-abstract`: shared variables plus one program
//! counter per actor slot, bit-packed into one `u128` so the checker's
//! frontier stays small and hashing is two word-mixes.

use std::fmt;

use super::word::Word;

/// Program counter of an actor. Every actor that starts a host runs the same
/// steps; only the step that leaves `Idle` and what "the start is over" means
/// differ per actor kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pc {
    Idle = 0,
    WaitSem = 1,
    Build = 2,
    Load = 3,
    /// Buggy only: waiting, inside LoadMetadata, for an inline restart that
    /// needs the permit this actor holds.
    InlWait = 4,
    Finish = 5,
    Done = 6,
}

impl Pc {
    /// Decodes the low 3 bits. Only values written by `set_pc` are ever
    /// decoded, so 7 never occurs.
    #[inline(always)]
    pub fn from_bits(bits: u128) -> Pc {
        const BY_BITS: [Pc; 8] = [
            Pc::Idle,
            Pc::WaitSem,
            Pc::Build,
            Pc::Load,
            Pc::InlWait,
            Pc::Finish,
            Pc::Done,
            Pc::Done,
        ];
        BY_BITS[(bits & 0b111) as usize]
    }

    /// Whether an actor at this pc holds the `start_sem` permit.
    pub fn holds_permit(self) -> bool {
        matches!(self, Pc::Build | Pc::Load | Pc::InlWait | Pc::Finish)
    }
}

/// The host status `st`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Default = 0,
    Starting = 1,
    Running = 2,
    Error = 3,
    Stopped = 4,
}

impl Status {
    const ALL: [Status; 5] = [
        Status::Default,
        Status::Starting,
        Status::Running,
        Status::Error,
        Status::Stopped,
    ];
}

// Bit layout of the shared variables (low 16 bits), then 3 bits per actor slot.
const SEM: u32 = 0; // 1 bit
const ST: u32 = 1; // 3 bits
const CANCEL: u32 = 4; // 1 bit
const CHAN: u32 = 5; // 1 bit
const REQ: u32 = 6; // 1 bit
const ACTIVE: u32 = 7; // 1 bit
const ATTEMPTS: u32 = 8; // 4 bits
const FAILS: u32 = 12; // 4 bits
const PCS: u32 = 16;
const PC_BITS: u32 = 3;

/// `pattern` repeated every `stride` bits, from bit 0 up.
pub(super) const fn repeat(pattern: u128, stride: u32) -> u128 {
    let mut m = 0u128;
    let mut at = 0;
    while at < 128 {
        m |= pattern << at;
        at += stride;
    }
    m
}

/// Bit 0 of every 3-bit pc field (relative to `pc_bits`): the SWAR unit.
pub(super) const FIELD_LSB: u128 =
    repeat(1, PC_BITS) & (u128::MAX >> (128 - PC_BITS * MAX_SLOTS as u32));
/// The low 3 bits of every 6-bit group, and the low 6 of every 12-bit one.
pub(super) const PAIRS: u128 = repeat(0b111, 6);
pub(super) const QUADS: u128 = repeat(0b11_1111, 12);

/// Most actor slots a packed state can hold: `(128 - 16) / 3`.
pub const MAX_SLOTS: usize = ((128 - PCS) / PC_BITS) as usize;
/// Largest value the 4-bit `attempts` and `fails` fields can hold.
pub const MAX_COUNTER: u32 = 15;

/// One state of the protocol. Actor slots are numbered Starters `0..A`, then
/// Requesters `A..A+R`, then the Service (present in both variants so the
/// shape is fixed; the buggy variant never moves it out of `Idle`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HaState(pub u128);

impl fmt::Debug for HaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HaState({:#x})", self.0)
    }
}

impl HaState {
    fn get(self, at: u32, width: u32) -> u32 {
        ((self.0 >> at) & ((1u128 << width) - 1)) as u32
    }
    fn set(&mut self, at: u32, width: u32, value: u32) {
        let mask = ((1u128 << width) - 1) << at;
        self.0 = (self.0 & !mask) | ((u128::from(value) << at) & mask);
    }
    fn flag(self, at: u32) -> bool {
        self.get(at, 1) == 1
    }
    fn set_flag(&mut self, at: u32, value: bool) {
        self.set(at, 1, u32::from(value));
    }

    /// Free permits of `start_sem` (0 or 1).
    pub fn sem(self) -> u32 {
        self.get(SEM, 1)
    }
    pub fn set_sem(&mut self, value: u32) {
        self.set(SEM, 1, value)
    }
    pub fn st(self) -> Status {
        Status::ALL[(self.get(ST, 3) as usize).min(4)]
    }
    pub fn set_st(&mut self, value: Status) {
        self.set(ST, 3, value as u32)
    }
    pub fn cancel(self) -> bool {
        self.flag(CANCEL)
    }
    pub fn set_cancel(&mut self, value: bool) {
        self.set_flag(CANCEL, value)
    }
    pub fn chan(self) -> bool {
        self.flag(CHAN)
    }
    pub fn set_chan(&mut self, value: bool) {
        self.set_flag(CHAN, value)
    }
    pub fn restart_req(self) -> bool {
        self.flag(REQ)
    }
    pub fn set_restart_req(&mut self, value: bool) {
        self.set_flag(REQ, value)
    }
    pub fn restart_active(self) -> bool {
        self.flag(ACTIVE)
    }
    pub fn set_restart_active(&mut self, value: bool) {
        self.set_flag(ACTIVE, value)
    }
    pub fn attempts(self) -> u32 {
        self.get(ATTEMPTS, 4)
    }
    pub fn set_attempts(&mut self, value: u32) {
        self.set(ATTEMPTS, 4, value)
    }
    pub fn fails(self) -> u32 {
        self.get(FAILS, 4)
    }
    pub fn set_fails(&mut self, value: u32) {
        self.set(FAILS, 4, value)
    }
    /// All program counters, slot 0 in the low 3 bits (iterate by `>> 3`).
    #[inline(always)]
    pub fn pc_bits(self) -> u128 {
        self.0 >> PCS
    }
    /// The program counters as a SWAR word (slot 0 in the low 3 bits): all
    /// of them in a `u128`, the first 16 in a `u64` (see `word.rs`).
    #[inline(always)]
    pub fn pcs<W: Word>(self) -> W {
        W::truncate(self.pc_bits())
    }
    /// The SWAR mask of slots `from..to`.
    pub fn slot_range(from: u32, to: u32) -> u128 {
        let below = |n: u32| {
            if n == 0 {
                0
            } else {
                FIELD_LSB & (u128::MAX >> (128 - PC_BITS * n))
            }
        };
        below(to) & !below(from)
    }
    /// Program counter of actor slot `slot` (`slot < MAX_SLOTS`).
    #[inline(always)]
    pub fn pc(self, slot: usize) -> Pc {
        Pc::from_bits((self.0 >> (PCS + PC_BITS * slot as u32)) & 0b111)
    }
    /// Sets the pc of `slot`. The first 16 slots lie in the low 64 bits,
    /// where a variable shift is one instruction instead of a branchy
    /// two-word sequence (this runs once or twice per transition).
    #[inline(always)]
    pub fn set_pc(&mut self, slot: usize, pc: Pc) {
        let at = PCS + PC_BITS * slot as u32;
        if at + PC_BITS <= 64 {
            let low = self.0 as u64;
            let low = (low & !(0b111 << at)) | (pc as u64) << at;
            self.0 = (self.0 >> 64 << 64) | u128::from(low);
        } else {
            self.set(at, PC_BITS, pc as u32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::word;
    use super::*;

    #[test]
    fn fields_round_trip_without_disturbing_neighbours() {
        let mut s = HaState::default();
        s.set_sem(1);
        s.set_st(Status::Stopped);
        s.set_cancel(true);
        s.set_chan(true);
        s.set_restart_req(true);
        s.set_restart_active(true);
        s.set_attempts(MAX_COUNTER);
        s.set_fails(9);
        for slot in 0..MAX_SLOTS {
            s.set_pc(slot, Pc::from_bits((slot % 7) as u128));
        }
        assert_eq!(s.sem(), 1);
        assert_eq!(s.st(), Status::Stopped);
        assert!(s.cancel() && s.chan() && s.restart_req() && s.restart_active());
        assert_eq!((s.attempts(), s.fails()), (MAX_COUNTER, 9));
        for slot in 0..MAX_SLOTS {
            assert_eq!(s.pc(slot), Pc::from_bits((slot % 7) as u128), "slot {slot}");
        }
        let done = word::slots_at(s.pcs::<u128>(), Pc::Done);
        for slot in 0..MAX_SLOTS {
            assert_eq!(done >> (3 * slot) & 1 == 1, slot % 7 == 6, "slot {slot}");
        }
        assert_eq!(HaState::slot_range(1, 3), 0b001_001_000);
        let every = HaState::slot_range(0, MAX_SLOTS as u32);
        let naive = |s: HaState, mask: u128| -> u32 {
            (0..MAX_SLOTS)
                .filter(|slot| mask >> (3 * slot) & 1 == 1)
                .map(|slot| s.pc(slot) as u32)
                .sum()
        };
        let sum = |s: HaState, mask: u128| word::pc_sum(s.pcs::<u128>(), mask);
        assert_eq!(sum(s, every), naive(s, every));
        let mut done = HaState::default();
        for slot in 0..MAX_SLOTS {
            done.set_pc(slot, Pc::Done);
        }
        assert_eq!(sum(done, every), 6 * MAX_SLOTS as u32);
        assert_eq!(sum(done, HaState::slot_range(2, 5)), 18);
        s.set_cancel(false);
        s.set_pc(3, Pc::Done);
        assert!(!s.cancel() && s.chan());
        assert_eq!(s.pc(3), Pc::Done);
        assert_eq!(s.pc(2), Pc::Build);
        assert_eq!(s.pc(4), Pc::InlWait);
    }
}
