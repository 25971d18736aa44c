//! The transitions of the `breaker` protocol model, one per await segment:
//! a pump's start (checkpoint read, receiver), receive, each function execution,
//! the failure record (store call + breaker check), the checkpoint write; the
//! control plane's stop, the operator's resume, a clock tick, the downstream
//! dependency's recovery.

use std::time::Duration;

use lockstep::world::checkpoint_store::Checkpoint;
use lockstep::world::eventhubs::StartPosition;

use super::config::PlantedBug;
use super::spec::BreakerSpec;
use super::state::{App, BrState, Ghost, Phase, GROUP, TICK};

impl BreakerSpec {
    fn client(&self, p: usize) -> u32 {
        self.config.owner_of(p as u32)
    }

    /// The pump reads its checkpoint (exclusive start) and opens its receiver; after
    /// a resume that position must be the checkpoint stored at stop time (L6).
    pub(super) fn pump_start(&self, s: &mut BrState, p: usize) -> Option<()> {
        (s.pumps[p].phase == Phase::Starting).then_some(())?;
        let client = self.client(p);
        let stored = s.ckpts.get_checkpoint(client, p as u32).ok()?;
        let mut start = stored.map_or(0, |c| c.next_sequence() as u8);
        if self.planted == PlantedBug::ResumePastCheckpoint && s.ghost.has(Ghost::RESUMED) {
            start = s.pumps[p].received_hi; // the in-memory position, not the durable one
        }
        s.hub
            .open_receiver(
                GROUP,
                p as u32,
                client,
                Some(0),
                StartPosition::At(u64::from(start)),
            )
            .ok()?;
        let pump = &mut s.pumps[p];
        if pump.resume_expect.take().is_some_and(|at| at != start) {
            s.ghost.set(Ghost::RESUMED_ELSEWHERE);
        }
        let pump = &mut s.pumps[p];
        pump.next_expected = Some(start);
        pump.phase = Phase::Receiving;
        Some(())
    }

    /// Receives a batch (all available events up to `batch_size`) and dispatches it.
    pub(super) fn receive(&self, s: &mut BrState, p: usize) -> Option<()> {
        (s.pumps[p].phase == Phase::Receiving).then_some(())?;
        let client = self.client(p);
        let batch = s
            .hub
            .receive(GROUP, p as u32, client, self.config.batch_size as usize)
            .ok()?;
        let lo = batch.first()?.sequence_number as u8;
        let hi = lo + batch.len() as u8;
        let pump = &mut s.pumps[p];
        pump.received_hi = hi;
        pump.phase = Phase::Invoking {
            lo,
            hi,
            current: lo,
            attempt: 0,
        };
        Some(())
    }

    /// The loop head of sequential single dispatch: invoke `next` or go to the gate.
    fn dispatch_next(s: &mut BrState, p: usize, lo: u8, hi: u8, next: u8) {
        s.pumps[p].phase = if next < hi {
            Phase::Invoking {
                lo,
                hi,
                current: next,
                attempt: 0,
            }
        } else {
            Phase::Checkpointing { next: hi }
        };
    }

    /// One function execution of the current event (one per pump per tick). The
    /// outcome is the downstream dependency's state; a failure is retried while
    /// the policy allows, then recorded.
    pub(super) fn execute(&self, s: &mut BrState, p: usize) -> Option<()> {
        let Phase::Invoking {
            lo,
            hi,
            current,
            attempt,
        } = s.pumps[p].phase
        else {
            return None;
        };
        (!s.pumps[p].ran).then_some(())?;
        s.pumps[p].ran = true;
        if attempt == 0 {
            self.on_delivery(s, p, current);
        }
        if let Some(since) = s.crossed {
            s.after_crossing = s.after_crossing.saturating_add(1);
            if u32::from(since) > self.config.t_break_secs() {
                s.ghost.set(Ghost::LATE_EXECUTION);
            }
        }
        if s.downstream_up {
            s.mark_mut(p, current).succeeded = true;
            Self::dispatch_next(s, p, lo, hi, current + 1);
        } else if u32::from(attempt) < self.config.max_retries {
            s.pumps[p].phase = Phase::Invoking {
                lo,
                hi,
                current,
                attempt: attempt + 1,
            };
        } else {
            s.mark_mut(p, current).failed = true;
            s.pumps[p].phase = Phase::Recording { lo, hi, current };
        }
        Some(())
    }

    /// A new TryExecute of `seq`: S2 (the next event of this generation) and the
    /// redelivery count of events in flight at a stop.
    fn on_delivery(&self, s: &mut BrState, p: usize, seq: u8) {
        let pump = &mut s.pumps[p];
        if pump.next_expected != Some(seq) {
            s.ghost.set(Ghost::OUT_OF_ORDER);
        }
        pump.next_expected = Some(seq + 1);
        let mark = s.mark_mut(p, seq);
        mark.deliveries = (mark.deliveries + 1).min(3);
        if std::mem::take(&mut mark.in_flight_at_stop) {
            s.redelivered = s.redelivered.saturating_add(1);
        }
    }

    /// Records the eventual failure in the failure store and checks the rolling
    /// count it returns (one round trip); above the threshold, a break event.
    /// `fails`: the store call fails (the failure goes uncounted); `stale`: the
    /// count is read `lag` old.
    pub(super) fn record(&self, s: &mut BrState, p: usize, fails: bool, stale: bool) -> Option<()> {
        let Phase::Recording { lo, hi, current } = s.pumps[p].phase else {
            return None;
        };
        let client = self.client(p);
        let key = self.variant.counter_key(client);
        let now = s.now();
        if fails {
            s.store_outages_used += 1;
            s.failures.fail_next(client, 1);
        }
        let staleness = if stale {
            s.failures.lag()
        } else {
            Duration::ZERO
        };
        if let Ok(count) = s.failures.record(key, client, now, staleness) {
            let threshold = u64::from(self.config.threshold);
            if s.crossed.is_none() && s.failures.true_count(None, now) > threshold {
                s.crossed = Some(0);
            }
            if count > threshold {
                s.ghost.set(Ghost::BREAK_EMITTED);
                if s.app == App::Running && self.planted != PlantedBug::NeverStops {
                    s.app = App::Breaking { waited: 0 };
                }
            }
        }
        Self::dispatch_next(s, p, lo, hi, current + 1);
        Some(())
    }

    /// The gate passed (nothing is cancelled while the app runs): the checkpoint write.
    pub(super) fn write_checkpoint(&self, s: &mut BrState, p: usize) -> Option<()> {
        let Phase::Checkpointing { next } = s.pumps[p].phase else {
            return None;
        };
        self.store_checkpoint(s, p, next)?;
        s.pumps[p].phase = Phase::Receiving;
        Some(())
    }

    fn store_checkpoint(&self, s: &mut BrState, p: usize, next: u8) -> Option<()> {
        let event = *s
            .hub
            .events(p as u32)
            .ok()?
            .get(usize::from(next).checked_sub(1)?)?;
        let client = self.client(p);
        let checkpoint = Checkpoint {
            partition: p as u32,
            sequence_number: event.sequence_number,
            offset: event.offset,
            client,
        };
        s.ckpts.update_checkpoint(client, checkpoint).ok()
    }

    /// The control plane stops the app (non-drain): function tokens are cancelled,
    /// so no new execution starts and no batch passes the gate; a checkpoint write
    /// already in flight completes (the stop awaits the handlers). Events received
    /// but not checkpointed are marked as in flight: they will be redelivered.
    pub(super) fn stop(&self, s: &mut BrState) -> Option<()> {
        matches!(s.app, App::Breaking { .. }).then_some(())?;
        for p in 0..s.partitions() {
            if let Phase::Checkpointing { next } = s.pumps[p].phase {
                self.store_checkpoint(s, p, next)?;
            }
            let received_hi = s.pumps[p].received_hi;
            if self.planted == PlantedBug::CheckpointOnStop && received_hi > s.checkpoint_next(p) {
                self.store_checkpoint(s, p, received_hi)?;
            }
            let ckpt = s.checkpoint_next(p);
            for seq in ckpt..received_hi {
                if !std::mem::replace(&mut s.mark_mut(p, seq).in_flight_at_stop, true) {
                    s.in_flight_at_stop = s.in_flight_at_stop.saturating_add(1);
                }
            }
            let client = self.client(p);
            let _ = s.hub.close_receiver(GROUP, p as u32, client);
            let pump = &mut s.pumps[p];
            pump.phase = Phase::Down;
            pump.ran = false;
            pump.next_expected = None;
            pump.resume_expect = Some(ckpt);
        }
        s.app = App::Stopped;
        s.ghost.set(Ghost::STOPPED);
        Some(())
    }

    /// The operator restarts the app: every partition starts again from its checkpoint.
    pub(super) fn resume(&self, s: &mut BrState) -> Option<()> {
        (s.app == App::Stopped && u32::from(s.resumes_used) < self.config.resumes).then_some(())?;
        s.resumes_used += 1;
        s.app = App::Running;
        s.crossed = None;
        s.after_crossing = 0;
        for p in 0..s.partitions() {
            s.pumps[p].phase = Phase::Starting;
        }
        s.ghost.set(Ghost::RESUMED);
        Some(())
    }

    /// One second passes: records age (and expire), pumps may execute again,
    /// the control plane's wait and the time since the crossing grow.
    pub(super) fn tick(&self, s: &mut BrState) -> Option<()> {
        (!self.stop_due(s)).then_some(())?;
        let now = s.now();
        s.failures.rebase(TICK);
        s.failures.expire(now);
        for pump in &mut s.pumps {
            pump.ran = false;
        }
        if let App::Breaking { waited } = s.app {
            s.app = App::Breaking { waited: waited + 1 };
        }
        let cap = (self.config.t_break_secs() + 1).min(250) as u8;
        s.crossed = s.crossed.map(|c| (c + 1).min(cap));
        Some(())
    }

    /// The stop is due: time may not pass before the control plane acts.
    pub(super) fn stop_due(&self, s: &BrState) -> bool {
        matches!(s.app, App::Breaking { waited } if u32::from(waited) >= self.config.break_latency)
    }

    /// Whether the passing of time can matter: a pump has work, the control
    /// plane waits, or records age while the operator may still resume.
    pub(super) fn time_matters(&self, s: &BrState) -> bool {
        let pump_busy = (0..s.partitions()).any(|p| match s.pumps[p].phase {
            Phase::Down => false,
            Phase::Receiving => self.available(s, p) > 0,
            _ => true,
        });
        let waiting_operator = s.app == App::Stopped
            && u32::from(s.resumes_used) < self.config.resumes
            && !s.failures.records().is_empty();
        pump_busy || matches!(s.app, App::Breaking { .. }) || waiting_operator
    }

    /// Events the pump of `p` could receive now.
    pub(super) fn available(&self, s: &BrState, p: usize) -> u64 {
        s.hub
            .available(GROUP, p as u32, self.client(p))
            .unwrap_or(0)
    }
}
