//! Partition pump transitions (spec B.2, B.3, B.4.1): start (read checkpoint, open
//! receiver), receive, dispatch (v6 sequential or v5 concurrent single dispatch,
//! each invocation with the retry policy), the checkpoint gate and the write.
//!
//! One transition per await segment: the receive, each function execution, the
//! checkpoint write. v5 also starts its concurrent invocations one per step, since
//! its start loop runs on a pool thread while other threads (a stop) interleave.

use lockstep::world::checkpoint_store::{Checkpoint, ClientId};
use lockstep::world::eventhubs::StartPosition;

use super::config::{PlantedBug, Variant};
use super::spec::EventHubsSpec;
use super::state::{ConcBatch, EhState, Ghost, Life, PumpPhase, SeqBatch, GROUP, MAX_BATCH};

impl EventHubsSpec {
    fn pump_phase(&self, s: &EhState, i: usize, p: usize) -> Option<PumpPhase> {
        let inst = &s.instances[i];
        matches!(inst.life, Life::Running | Life::ShuttingDown).then_some(())?;
        inst.pumps[p].as_ref().map(|pump| pump.phase)
    }

    fn stop_requested(s: &EhState, i: usize, p: usize) -> bool {
        s.instances[i].pumps[p]
            .as_ref()
            .is_some_and(|pump| pump.stop_requested)
    }

    fn set_phase(s: &mut EhState, i: usize, p: usize, phase: PumpPhase) {
        if let Some(pump) = s.instances[i].pumps[p].as_mut() {
            pump.phase = phase;
        }
    }

    /// Whether the invocation token (fnToken, listenerToken or lostToken) is
    /// cancelled. lostToken is cancelled only in CloseAsync, after the pump task
    /// finished, so a live pump only ever sees the listener's tokens.
    fn token_cancelled(s: &EhState, i: usize) -> bool {
        s.instances[i].fn_cancelled
    }

    fn retry_allowed(&self, attempt: u8) -> bool {
        self.config.infinite_retries() || i16::from(attempt) < i16::from(self.config.max_retries)
    }

    fn next_attempt(&self, attempt: u8) -> u8 {
        // With unbounded retries only "has retried" matters; saturating keeps the state space finite.
        if self.config.infinite_retries() {
            1
        } else {
            attempt + 1
        }
    }

    fn deliver(&self, s: &mut EhState, p: usize, event: u64) {
        let cap = self.config.ledger_cap();
        let tally = s.tally_mut(p, event);
        tally.deliveries = (tally.deliveries + 1).min(cap);
        tally.executions = (tally.executions + 1).min(cap);
    }

    fn execute_again(&self, s: &mut EhState, p: usize, event: u64) {
        let cap = self.config.ledger_cap();
        let tally = s.tally_mut(p, event);
        tally.executions = (tally.executions + 1).min(cap);
    }

    /// The task reads the checkpoint (exclusive start) and opens its receiver with
    /// owner level 0, displacing any other receiver of the partition.
    pub(super) fn pump_start(
        &self,
        s: &mut EhState,
        i: usize,
        p: usize,
        fails: bool,
    ) -> Option<()> {
        (self.pump_phase(s, i, p)? == PumpPhase::Starting && !Self::stop_requested(s, i, p))
            .then_some(())?;
        self.store_call(s, i, fails)?;
        match s.store.get_checkpoint(i as ClientId, p as u32) {
            Err(_) => {
                Self::set_phase(s, i, p, PumpPhase::Faulted);
                s.ghost.set(Ghost::STORE_FAULTED_PUMP);
            }
            Ok(checkpoint) => {
                let start = checkpoint.map_or(StartPosition::Earliest, |c| {
                    StartPosition::After(c.sequence_number)
                });
                s.hub
                    .open_receiver(GROUP, p as u32, i as u32, Some(0), start)
                    .ok()?;
                Self::set_phase(s, i, p, PumpPhase::Receiving);
            }
        }
        Some(())
    }

    /// A requested stop ends a task that is not inside the handler.
    pub(super) fn pump_exit(&self, s: &mut EhState, i: usize, p: usize) -> Option<()> {
        let phase = self.pump_phase(s, i, p)?;
        (matches!(phase, PumpPhase::Starting | PumpPhase::Receiving)
            && Self::stop_requested(s, i, p))
        .then_some(())?;
        Self::set_phase(s, i, p, PumpPhase::Done);
        Some(())
    }

    /// A displaced receiver's next receive fails and the task faults (spec B.2 step 4).
    pub(super) fn receive_fails(&self, s: &mut EhState, i: usize, p: usize) -> Option<()> {
        (self.pump_phase(s, i, p)? == PumpPhase::Receiving && !Self::stop_requested(s, i, p))
            .then_some(())?;
        (!s.hub.is_connected(GROUP, p as u32, i as u32)).then_some(())?;
        s.hub.receive(GROUP, p as u32, i as u32, 1).err()?;
        Self::set_phase(s, i, p, PumpPhase::Faulted);
        Some(())
    }

    /// Receives `count` events (1..=batch_size of those available) and dispatches.
    pub(super) fn receive(&self, s: &mut EhState, i: usize, p: usize, count: u8) -> Option<()> {
        (self.pump_phase(s, i, p)? == PumpPhase::Receiving && !Self::stop_requested(s, i, p))
            .then_some(())?;
        (count >= 1 && count <= self.config.batch_size).then_some(())?;
        let available = s.hub.available(GROUP, p as u32, i as u32).ok()?;
        (u64::from(count) <= available && s.hub.is_connected(GROUP, p as u32, i as u32))
            .then_some(())?;
        let events = s
            .hub
            .receive(GROUP, p as u32, i as u32, usize::from(count))
            .ok()?;
        let lo = events.first()?.sequence_number;
        let hi = lo + events.len() as u64;
        if self.planted == PlantedBug::CheckpointOnReceive {
            self.write(s, i, p, hi, lo, false);
        }
        match self.variant {
            Variant::V6 => self.sequential_next(s, i, p, lo, hi, lo),
            Variant::V5 => {
                Self::set_phase(s, i, p, PumpPhase::Concurrent(ConcBatch::new(lo, hi)));
                self.start_next(s, i, p)?;
            }
        }
        Some(())
    }

    /// v6 loop head: events `lo..next` completed; check the token, then invoke `next`
    /// or leave the loop for the gate.
    fn sequential_next(&self, s: &mut EhState, i: usize, p: usize, lo: u64, hi: u64, next: u64) {
        if next < hi && !Self::token_cancelled(s, i) {
            self.deliver(s, p, next);
            Self::set_phase(
                s,
                i,
                p,
                PumpPhase::Sequential(SeqBatch {
                    lo,
                    hi,
                    current: next,
                    attempt: 0,
                }),
            );
        } else {
            self.gate_v6(s, i, p, lo, next);
        }
    }

    /// v6 gate (spec B.3 step 6): checkpoint the last invoked event only if something
    /// was invoked and every token is checked and found not cancelled.
    fn gate_v6(&self, s: &mut EhState, i: usize, p: usize, lo: u64, invoked_hi: u64) {
        if invoked_hi > lo && !Self::token_cancelled(s, i) {
            let phase = PumpPhase::Checkpointing {
                next: invoked_hi,
                invoked_hi,
                cancel_seen: false,
            };
            Self::set_phase(s, i, p, phase);
        } else {
            self.after_batch(s, i, p);
        }
    }

    /// v5 gate: checkpoint the batch's last event whatever happened (no token check).
    fn gate_v5(&self, s: &mut EhState, i: usize, p: usize, batch: &ConcBatch) {
        let cancel_seen = Self::token_cancelled(s, i);
        let phase = PumpPhase::Checkpointing {
            next: batch.hi,
            invoked_hi: batch.started_hi,
            cancel_seen,
        };
        Self::set_phase(s, i, p, phase);
    }

    /// After the handler returned: loop to the next receive unless the stop was requested.
    fn after_batch(&self, s: &mut EhState, i: usize, p: usize) {
        let phase = if Self::stop_requested(s, i, p) {
            PumpPhase::Done
        } else {
            PumpPhase::Receiving
        };
        Self::set_phase(s, i, p, phase);
    }

    /// v5: the start loop checks the token and starts the next invocation (or halts).
    pub(super) fn start_next(&self, s: &mut EhState, i: usize, p: usize) -> Option<()> {
        let PumpPhase::Concurrent(mut batch) = self.pump_phase(s, i, p)? else {
            return None;
        };
        (!batch.halted && batch.started_hi < batch.hi).then_some(())?;
        if Self::token_cancelled(s, i) {
            batch.halted = true;
        } else {
            self.deliver(s, p, batch.started_hi);
            let k = batch.started_hi - batch.lo;
            batch.running |= 1 << k;
            batch.attempts[k as usize] = 0;
            batch.started_hi += 1;
        }
        self.settle_concurrent(s, i, p, batch);
        Some(())
    }

    /// v5: when nothing runs and nothing more will start, the handler returns to the gate.
    fn settle_concurrent(&self, s: &mut EhState, i: usize, p: usize, batch: ConcBatch) {
        if batch.running == 0 && (batch.halted || batch.started_hi == batch.hi) {
            self.gate_v5(s, i, p, &batch);
        } else {
            Self::set_phase(s, i, p, PumpPhase::Concurrent(batch));
        }
    }

    /// A function execution of `event` ends with `ok`; a failure is retried while the
    /// policy allows and the token is not cancelled (the retry delay is cancellable).
    pub(super) fn complete(
        &self,
        s: &mut EhState,
        i: usize,
        p: usize,
        event: u64,
        ok: bool,
    ) -> Option<()> {
        self.outcomes(p, event).contains(&ok).then_some(())?;
        let retry = |spec: &Self, s: &EhState, attempt: u8| {
            !ok && spec.retry_allowed(attempt) && !Self::token_cancelled(s, i)
        };
        match self.pump_phase(s, i, p)? {
            PumpPhase::Sequential(batch) => {
                (batch.current == event).then_some(())?;
                if retry(self, s, batch.attempt) {
                    self.execute_again(s, p, event);
                    let attempt = self.next_attempt(batch.attempt);
                    Self::set_phase(
                        s,
                        i,
                        p,
                        PumpPhase::Sequential(SeqBatch { attempt, ..batch }),
                    );
                } else {
                    self.sequential_next(s, i, p, batch.lo, batch.hi, event + 1);
                }
            }
            PumpPhase::Concurrent(mut batch) => {
                let k = event.checked_sub(batch.lo)? as usize;
                (k < MAX_BATCH && batch.running & (1 << k) != 0).then_some(())?;
                let attempt = batch.attempts[k];
                if retry(self, s, attempt) {
                    self.execute_again(s, p, event);
                    batch.attempts[k] = self.next_attempt(attempt);
                } else {
                    batch.running &= !(1 << k);
                }
                self.settle_concurrent(s, i, p, batch);
            }
            _ => return None,
        }
        Some(())
    }

    /// The checkpoint write (unconditional). A store failure throws out of the
    /// handler and faults the task (spec B.4.3).
    pub(super) fn write_checkpoint(
        &self,
        s: &mut EhState,
        i: usize,
        p: usize,
        fails: bool,
    ) -> Option<()> {
        let PumpPhase::Checkpointing {
            next,
            invoked_hi,
            cancel_seen,
        } = self.pump_phase(s, i, p)?
        else {
            return None;
        };
        self.store_call(s, i, fails)?;
        if self.write(s, i, p, next, invoked_hi, cancel_seen) {
            self.after_batch(s, i, p);
        } else {
            Self::set_phase(s, i, p, PumpPhase::Faulted);
            s.ghost.set(Ghost::STORE_FAULTED_PUMP);
        }
        Some(())
    }

    /// Writes checkpoint position `next` and judges S3, S7 and S8 on the write.
    /// Returns whether the store accepted it.
    fn write(
        &self,
        s: &mut EhState,
        i: usize,
        p: usize,
        next: u64,
        invoked_hi: u64,
        cancel_seen: bool,
    ) -> bool {
        let event = s
            .hub
            .events(p as u32)
            .ok()
            .and_then(|events| events.get((next as usize).checked_sub(1)?).copied());
        let Some(event) = event else { return false };
        let before = s.checkpoint_next(p);
        let checkpoint = Checkpoint {
            partition: p as u32,
            sequence_number: event.sequence_number,
            offset: event.offset,
            client: i as u32,
        };
        if s.store
            .update_checkpoint(i as ClientId, checkpoint)
            .is_err()
        {
            return false;
        }
        if next < before {
            s.ghost.set(Ghost::GLOBAL_REGRESSION);
        }
        if next > invoked_hi {
            s.ghost.set(Ghost::S7_UNINVOKED_COVERED);
        }
        if cancel_seen {
            s.ghost.set(Ghost::S8_AFTER_CANCEL);
        }
        if let Some(pump) = s.instances[i].pumps[p].as_mut() {
            if pump.last_written.is_some_and(|last| next < last) {
                s.ghost.set(Ghost::S3_OWNER_REGRESSED);
            }
            pump.last_written = Some(next);
        }
        true
    }
}
