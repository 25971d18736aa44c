//! Partition pump transitions (spec B.2, B.3) on the instance's consumer group:
//! start (read the group's checkpoint, open a receiver with owner level 0, which
//! displaces any other receiver of that partition *in that group*), receive,
//! sequential single dispatch (one transition per invocation), the checkpoint gate
//! and the unconditional checkpoint write.
//!
//! Function outcomes are not modelled: the extension checkpoints a failed
//! invocation like a successful one (spec B.3 step 7), so only "invoked" matters.

use lockstep::world::checkpoint_store::{Checkpoint, ClientId};
use lockstep::world::eventhubs::StartPosition;

use super::config::PlantedBug;
use super::spec::MigrationSpec;
use super::state::{App, Ghost, MigState, PumpPhase};

impl MigrationSpec {
    fn pump_phase(&self, s: &MigState, i: usize, p: usize) -> Option<PumpPhase> {
        let inst = &s.instances[i];
        inst.live().then_some(())?;
        inst.pumps[p].as_ref().map(|pump| pump.phase)
    }

    fn stop_requested(s: &MigState, i: usize, p: usize) -> bool {
        s.instances[i].pumps[p]
            .as_ref()
            .is_some_and(|pump| pump.stop_requested)
    }

    fn set_phase(s: &mut MigState, i: usize, p: usize, phase: PumpPhase) {
        if let Some(pump) = s.instances[i].pumps[p].as_mut() {
            pump.phase = phase;
        }
    }

    /// Where a partition without a checkpoint starts: `DefaultStartingPosition`
    /// (Earliest), unless the planted bug makes the new app start at the end.
    fn default_start(&self, app: App) -> StartPosition {
        if self.planted == PlantedBug::NewAppStartsAtLatest && app == App::New {
            StartPosition::Latest
        } else {
            StartPosition::Earliest
        }
    }

    /// Reads the group's checkpoint (exclusive start) and opens the receiver.
    pub(super) fn pump_start(&self, s: &mut MigState, i: usize, p: usize) -> Option<()> {
        (self.pump_phase(s, i, p)? == PumpPhase::Starting && !Self::stop_requested(s, i, p))
            .then_some(())?;
        let checkpoint = s
            .store_of_mut(i)
            .get_checkpoint(i as ClientId, p as u32)
            .ok()?;
        let start = checkpoint.map_or(self.default_start(s.app_of(i)), |c| {
            StartPosition::After(c.sequence_number)
        });
        let group = s.group_of(i);
        s.hub
            .open_receiver(group, p as u32, i as u32, Some(0), start)
            .ok()?;
        Self::set_phase(s, i, p, PumpPhase::Receiving);
        Some(())
    }

    /// A displaced receiver's next receive fails and the task faults.
    pub(super) fn receive_fails(&self, s: &mut MigState, i: usize, p: usize) -> Option<()> {
        (self.pump_phase(s, i, p)? == PumpPhase::Receiving && !Self::stop_requested(s, i, p))
            .then_some(())?;
        let group = s.group_of(i);
        s.hub.receive(group, p as u32, i as u32, 1).err()?;
        s.ghost.set(Ghost::DISPLACED);
        Self::set_phase(s, i, p, PumpPhase::Faulted);
        Some(())
    }

    /// Receives `count` events (1..=batch_size of those available) and dispatches.
    pub(super) fn receive(&self, s: &mut MigState, i: usize, p: usize, count: u8) -> Option<()> {
        (self.pump_phase(s, i, p)? == PumpPhase::Receiving && !Self::stop_requested(s, i, p))
            .then_some(())?;
        (1..=self.config.batch_size)
            .contains(&count)
            .then_some(())?;
        let group = s.group_of(i);
        let available = s.hub.available(group, p as u32, i as u32).ok()?;
        (u64::from(count) <= available && s.hub.is_connected(group, p as u32, i as u32))
            .then_some(())?;
        let events = s
            .hub
            .receive(group, p as u32, i as u32, usize::from(count))
            .ok()?;
        let lo = events.first()?.sequence_number;
        let hi = lo + events.len() as u64;
        self.sequential_next(s, i, p, lo, hi, lo);
        Some(())
    }

    /// Loop head of sequential single dispatch: events `lo..next` completed; check
    /// the token, then invoke `next` or leave the loop for the gate.
    fn sequential_next(&self, s: &mut MigState, i: usize, p: usize, lo: u64, hi: u64, next: u64) {
        if next < hi && !s.instances[i].fn_cancelled {
            let app = s.app_of(i);
            s.mark_invoked(app, p, next);
            if let Some(pump) = s.instances[i].pumps[p].as_mut() {
                if pump.last_started.is_some_and(|last| last >= next) {
                    s.ghost.set(Ghost::S2_OUT_OF_ORDER);
                }
                pump.last_started = Some(next);
            }
            let current = next;
            Self::set_phase(s, i, p, PumpPhase::Invoking { lo, hi, current });
        } else if next > lo && !s.instances[i].fn_cancelled {
            // The gate (spec B.3 step 6): something was invoked, no token cancelled.
            Self::set_phase(s, i, p, PumpPhase::Checkpointing { next });
        } else {
            self.after_batch(s, i, p);
        }
    }

    fn after_batch(&self, s: &mut MigState, i: usize, p: usize) {
        let phase = if Self::stop_requested(s, i, p) {
            PumpPhase::Done
        } else {
            PumpPhase::Receiving
        };
        Self::set_phase(s, i, p, phase);
    }

    /// The running invocation completes; the loop goes on.
    pub(super) fn complete(&self, s: &mut MigState, i: usize, p: usize) -> Option<()> {
        let PumpPhase::Invoking { lo, hi, current } = self.pump_phase(s, i, p)? else {
            return None;
        };
        self.sequential_next(s, i, p, lo, hi, current + 1);
        Some(())
    }

    /// The checkpoint write in the instance's group store (unconditional).
    pub(super) fn write_checkpoint(&self, s: &mut MigState, i: usize, p: usize) -> Option<()> {
        let PumpPhase::Checkpointing { next } = self.pump_phase(s, i, p)? else {
            return None;
        };
        let event = *s
            .hub
            .events(p as u32)
            .ok()?
            .get(next.checked_sub(1)? as usize)?;
        let checkpoint = Checkpoint {
            partition: p as u32,
            sequence_number: event.sequence_number,
            offset: event.offset,
            client: i as ClientId,
        };
        s.store_of_mut(i)
            .update_checkpoint(i as ClientId, checkpoint)
            .ok()?;
        self.after_batch(s, i, p);
        Some(())
    }
}
