//! The implementation-level Event Hubs processor: async Rust on `lockstep::rt`,
//! one await per await of the SDK/extension code (spec B.2-B.6), over the hub and
//! the blob-backed checkpoint store of [`super::impl_world`], with real virtual
//! time (30 s balancing interval, 2 min ownership expiry, 60 s receive wait).
//!
//! Tasks per instance: the load-balancing loop `P<i>` (renew, list, claim one,
//! start / stop / restart pumps, awaiting every stopped pump) and one pump task
//! `P<i>.p<p>` per owned partition (read checkpoint, open receiver, receive,
//! dispatch, gate, checkpoint). A crash cancels the instance's `halt` token: every
//! task returns at its next await without writing anything. Every store call
//! consults the store's fault plan and then takes the latency it returns.

use std::collections::BTreeMap;
use std::hash::Hash;
use std::time::Duration;

use lockstep::rt::{self, CancellationToken, CancellationTokenSource, JoinHandle, Shared};
use lockstep::world::checkpoint_store::{
    BlobCheckpointStore, Checkpoint, ClaimRequest, ClientId, Version,
};
use lockstep::world::eventhubs::StartPosition;
use lockstep::world::{StorageError, StorageReply};

use super::balancer::greedy_candidates;
use super::config::{PlantedBug, Variant};
use super::impl_world::{
    World, EXPIRATION, FUNCTION_TIME, GREEDY_DELAY, GROUP_NAME, LB_INTERVAL, MIN_BATCH_WAIT,
    RECEIVE_WAIT, RETRY_DELAY,
};
use super::state::GROUP;

/// The MinEventBatchSize cache of one pump (spec B.3 step 4): a FIFO of
/// received, not yet invoked events and the deadline of its timer. Fresh per
/// pump (a fresh `PartitionProcessor` per acquisition; `CloseAsync` clears it).
/// The timer's dispatch runs on the pump task: the per-partition guard makes it
/// exclusive with batch dispatch anyway.
#[derive(Default)]
struct MinBatchCache {
    events: Vec<u64>,
    /// When the running timer dispatches a partial batch.
    deadline: Option<Duration>,
    /// One past the last event received (cached or dispatched).
    received_next: u64,
}

/// What the pump does after offering a received batch to the cache.
enum CacheStep {
    /// Invoke these events (the oldest, at most MaxEventBatchSize).
    Dispatch(Vec<u64>),
    /// Too few cached, more arrived: receive again.
    ReceiveAgain,
    /// Nothing cached, nothing received: the receive's wait.
    Idle,
    /// Nothing new, too few cached: wait for the timer, then flush.
    WaitTimer(Duration),
}

impl MinBatchCache {
    fn offer(&mut self, batch: Vec<u64>, min: usize, max: usize) -> CacheStep {
        if let Some(last) = batch.last() {
            self.received_next = self.received_next.max(last + 1);
        }
        let arrived = !batch.is_empty();
        self.events.extend(batch);
        if self.events.len() >= min {
            let taken = self.flush(max); // the full batch cancels the timer
            if !self.events.is_empty() {
                self.deadline = Some(rt::now() + MIN_BATCH_WAIT); // events stay: a timer
            }
            return CacheStep::Dispatch(taken);
        }
        if self.events.is_empty() {
            return CacheStep::Idle;
        }
        let deadline = *self.deadline.get_or_insert(rt::now() + MIN_BATCH_WAIT);
        if arrived {
            CacheStep::ReceiveAgain
        } else {
            CacheStep::WaitTimer(deadline)
        }
    }

    /// Takes the oldest cached events, at most `max`; the timer runs one cycle.
    fn flush(&mut self, max: usize) -> Vec<u64> {
        let take = self.events.len().min(max);
        self.deadline = None;
        self.events.drain(..take).collect()
    }
}

/// A running pump: its task and its cancellation (the core's per-partition CTS).
struct PumpHandle {
    task: JoinHandle<()>,
    cts: CancellationTokenSource,
}

/// The load balancer's own state (only its task touches it).
#[derive(Default)]
struct Balancer {
    /// InstanceOwnership: partition -> version last written.
    owned: BTreeMap<u32, Version>,
    pumps: BTreeMap<u32, PumpHandle>,
}

/// One processor instance (EventProcessorHost + listener).
#[derive(Clone)]
pub struct Processor {
    pub id: u32,
    world: World,
    /// Cancelled by a crash.
    pub crash: CancellationTokenSource,
    /// Crash or end of run: every wait of this instance stops.
    halt: CancellationTokenSource,
    /// fnToken and listenerToken (cancelled by the listener's StopAsync).
    pub fn_token: CancellationTokenSource,
    /// StopProcessingAsync: the run loop stops, partitions stop, ownership is relinquished.
    pub stopping: CancellationTokenSource,
    /// Wakes a retry delay: fnToken, crash or end of run.
    retry_wake: CancellationTokenSource,
}

impl Processor {
    pub fn new(id: u32, world: World) -> Self {
        let crash = CancellationTokenSource::new(format!("P{id}.crash"));
        let halt = CancellationTokenSource::linked(
            format!("P{id}.halt"),
            &[&crash.token(), &world.done.token()],
        );
        let fn_token = CancellationTokenSource::new(format!("P{id}.fnToken"));
        let retry_wake = CancellationTokenSource::linked(
            format!("P{id}.retry-wake"),
            &[&fn_token.token(), &halt.token()],
        );
        let stopping = CancellationTokenSource::new(format!("P{id}.stopping"));
        Processor {
            id,
            world,
            crash,
            halt,
            fn_token,
            stopping,
            retry_wake,
        }
    }

    fn halted(&self) -> bool {
        self.halt.is_cancelled()
    }

    /// One checkpoint-store call: made now (through the fault plan), its reply
    /// awaited for the latency the plan gave it.
    async fn store<T: Hash>(
        &self,
        call: impl FnOnce(&mut BlobCheckpointStore, Duration, ClientId) -> StorageReply<T>,
    ) -> Result<T, StorageError> {
        let now = rt::now();
        let reply = self.world.store.write(|s| call(s, now, self.id));
        if !reply.latency.is_zero() {
            rt::sleep(reply.latency).await;
        }
        reply.result
    }

    /// The expiration the balancer applies when it lists (the planted
    /// [`PlantedBug::IgnoresExpiry`] never sees a record expire).
    fn expiration_seen(&self) -> Duration {
        if self.world.cfg.planted == PlantedBug::IgnoresExpiry {
            Duration::MAX
        } else {
            EXPIRATION
        }
    }

    fn parts(&self) -> u32 {
        u32::from(self.world.cfg.partitions)
    }

    /// The run loop: a balancing cycle, then the interval (or the greedy minimal
    /// delay while unbalanced), until a crash, the end of the run or a stop.
    pub async fn run(self) {
        let wake = CancellationTokenSource::linked(
            format!("P{}.lb-wake", self.id),
            &[&self.halt.token(), &self.stopping.token()],
        );
        let mut lb = Balancer::default();
        loop {
            if self.halted() {
                return;
            }
            if self.stopping.is_cancelled() {
                self.shutdown(&mut lb).await;
                return;
            }
            let balanced = self.cycle(&mut lb).await;
            let delay = if balanced { LB_INTERVAL } else { GREEDY_DELAY };
            rt::sleep_cancellable(delay, &wake.token()).await;
        }
    }

    /// One load-balancing cycle (spec B.6). Returns whether it was balanced.
    async fn cycle(&self, lb: &mut Balancer) -> bool {
        rt::yield_now().await; // await the renew
        if self.halted() {
            return true;
        }
        let requests: Vec<ClaimRequest> = lb
            .owned
            .iter()
            .map(|(&partition, &v)| ClaimRequest {
                partition,
                owner: Some(self.id),
                expected: Some(v),
            })
            .collect();
        let renewed = self
            .store(|s, now, me| s.claim_ownership(now, me, GROUP_NAME, &requests))
            .await;
        let mut balanced = true;
        if let Ok(wins) = renewed {
            // A lost condition drops the record; a throwing renew keeps the old belief.
            lb.owned = wins
                .iter()
                .map(|w| (w.record.partition, w.record.version))
                .collect();
            rt::yield_now().await; // await the listing
            if self.halted() {
                return true;
            }
            let listed = self
                .store(|s, now, me| s.list_ownership(now, me, GROUP_NAME))
                .await;
            if let (Ok(records), false) = (listed, self.halted()) {
                let candidates = greedy_candidates(
                    &records,
                    rt::now(),
                    self.expiration_seen(),
                    self.id,
                    self.parts() as usize,
                );
                if !candidates.is_empty() {
                    balanced = false;
                    let (p, expected) =
                        candidates[rt::choose("partition to claim", candidates.len())];
                    self.claim(lb, u32::from(p), expected).await;
                }
            }
        }
        if !self.halted() {
            self.reconcile(lb).await;
        }
        balanced
    }

    /// A conditional claim; judges S6 (a win must be over the version it expected).
    async fn claim(&self, lb: &mut Balancer, partition: u32, expected: Option<Version>) {
        rt::yield_now().await; // await the claim
        if self.halted() {
            return;
        }
        let request = ClaimRequest {
            partition,
            owner: Some(self.id),
            expected,
        };
        let now = rt::now();
        let Ok(wins) = self
            .store(|s, now, me| s.claim_ownership(now, me, GROUP_NAME, &[request]))
            .await
        else {
            return;
        };
        for win in wins {
            let over_expected = match (win.previous, expected) {
                (Some(prev), Some(v)) => prev.version == v,
                (Some(_), None) => false,
                (None, _) => true,
            };
            rt::always("s6-ownership-cas", over_expected, || {
                format!("P{} won p{partition} over a version it never saw", self.id)
            });
            let stolen = win
                .previous
                .is_some_and(|r| r.is_active(now, EXPIRATION) && r.owner != Some(self.id));
            rt::sometimes("sometimes-steal", stolen);
            lb.owned.insert(partition, win.record.version);
        }
    }

    /// Steps 3-5: start newly owned partitions, stop lost ones (awaiting each
    /// pump, so its in-flight handler and retries), restart finished ones.
    async fn reconcile(&self, lb: &mut Balancer) {
        for p in 0..self.parts() {
            if lb.owned.contains_key(&p) && !lb.pumps.contains_key(&p) {
                lb.pumps.insert(p, self.start_pump(p));
            }
        }
        let lost: Vec<u32> = lb
            .pumps
            .keys()
            .filter(|p| !lb.owned.contains_key(p))
            .copied()
            .collect();
        for p in lost {
            if let Some(pump) = lb.pumps.remove(&p) {
                pump.cts.cancel();
                pump.task.await;
                self.world
                    .hub
                    .write(|h| h.close_receiver(GROUP, p, self.id).is_ok());
                self.world.set_stalled(self.id, p, None); // given up, not stalled
            }
        }
        if self.halted() || self.world.cfg.planted == PlantedBug::NoRestartOfFaulted {
            return;
        }
        let finished: Vec<u32> = lb
            .pumps
            .iter()
            .filter(|(_, h)| h.task.is_finished())
            .map(|(p, _)| *p)
            .collect();
        for p in finished {
            self.world
                .hub
                .write(|h| h.close_receiver(GROUP, p, self.id).is_ok());
            lb.pumps.insert(p, self.start_pump(p));
        }
    }

    fn start_pump(&self, p: u32) -> PumpHandle {
        let cts = CancellationTokenSource::new(format!("P{}.p{p}.cts", self.id));
        let task = rt::spawn(
            format!("P{}.p{p}", self.id),
            self.clone().pump(p, cts.token()),
        );
        PumpHandle { task, cts }
    }

    /// Listener stop: every partition stopped (handlers awaited), then ownership
    /// relinquished on the ETag.
    async fn shutdown(&self, lb: &mut Balancer) {
        for (_, pump) in std::mem::take(&mut lb.pumps) {
            pump.cts.cancel();
            pump.task.await;
        }
        rt::yield_now().await; // await the relinquish
        if self.halted() {
            return;
        }
        let requests: Vec<ClaimRequest> = lb
            .owned
            .iter()
            .map(|(&partition, &v)| ClaimRequest {
                partition,
                owner: None,
                expected: Some(v),
            })
            .collect();
        let _ = self
            .store(|s, now, me| s.claim_ownership(now, me, GROUP_NAME, &requests))
            .await;
        lb.owned.clear();
    }

    /// The pump task of partition `p` (spec B.2); returns when stopped, crashed or faulted.
    async fn pump(self, p: u32, cts: CancellationToken) {
        rt::yield_now().await; // await the checkpoint read
        if self.halted() || cts.is_cancelled() {
            return;
        }
        let read = self
            .store(|s, now, me| s.get_checkpoint(now, me, GROUP_NAME, p))
            .await;
        let Ok(checkpoint) = read else {
            self.world.set_stalled(self.id, p, Some(rt::now()));
            return; // the read threw: the task faults
        };
        if self.halted() || cts.is_cancelled() {
            return;
        }
        let start = checkpoint.map_or(StartPosition::Earliest, |c| {
            StartPosition::After(c.sequence_number)
        });
        if self
            .world
            .hub
            .write(|h| h.open_receiver(GROUP, p, self.id, Some(0), start))
            .is_err()
        {
            return;
        }
        self.world.set_stalled(self.id, p, None); // resumed from the durable checkpoint
        let wake = CancellationTokenSource::linked(
            format!("P{}.p{p}.wake", self.id),
            &[&cts, &self.halt.token()],
        );
        let in_flight = Shared::new(format!("P{}.p{p}.in-flight", self.id), 0u8);
        let mut last_written: Option<u64> = None;
        let mut cache = MinBatchCache::default();
        loop {
            rt::yield_now().await; // await the receive
            if self.halted() || cts.is_cancelled() {
                return;
            }
            let batch_size = self.world.cfg.batch_size as usize;
            let min_batch = self.world.cfg.min_batch_size as usize;
            // With the cache on, a receive returns what has arrived so far: 1..=max.
            let room = if min_batch > 1 {
                rt::choose("events received", batch_size) + 1
            } else {
                batch_size
            };
            let received = self.world.hub.write(|h| {
                h.receive(GROUP, p, self.id, room)
                    .map(|events| events.iter().map(|e| e.sequence_number).collect::<Vec<_>>())
            });
            let Ok(batch) = received else { return }; // displaced: the task faults
            let batch = if min_batch > 1 {
                match cache.offer(batch, min_batch, batch_size) {
                    CacheStep::Dispatch(taken) => taken,
                    CacheStep::ReceiveAgain => continue,
                    CacheStep::Idle => {
                        if rt::sleep_cancellable(RECEIVE_WAIT, &wake.token()).await {
                            return;
                        }
                        continue;
                    }
                    CacheStep::WaitTimer(deadline) => {
                        let wait = deadline.saturating_sub(rt::now());
                        if rt::sleep_cancellable(wait, &wake.token()).await {
                            return; // CloseAsync clears the cache: nothing checkpointed
                        }
                        cache.flush(batch_size)
                    }
                }
            } else {
                batch
            };
            if batch.is_empty() {
                if rt::sleep_cancellable(RECEIVE_WAIT, &wake.token()).await {
                    return;
                }
                continue;
            }
            let received_next = cache.received_next.max(batch[batch.len() - 1] + 1);
            let gate = match self.world.cfg.variant {
                Variant::V6 => self.dispatch_sequential(p, &batch, &in_flight).await,
                Variant::V5 => self.dispatch_concurrent(p, &batch, &in_flight).await,
            };
            if self.halted() {
                return;
            }
            if let Some((mut next, invoked_hi, cancel_seen)) = gate {
                if self.world.cfg.planted == PlantedBug::CheckpointAtReceived {
                    next = next.max(received_next); // the bug: the last *received* event
                }
                if !self
                    .write_checkpoint(p, next, invoked_hi, cancel_seen, &mut last_written)
                    .await
                {
                    self.world.set_stalled(self.id, p, Some(rt::now()));
                    return; // the write threw: the task faults
                }
            }
        }
    }

    /// v6: one event after the other, the token checked before each, then the gate
    /// (each token checked explicitly). Returns `(next, invoked_hi, cancel_seen)`.
    async fn dispatch_sequential(
        &self,
        p: u32,
        batch: &[u64],
        in_flight: &Shared<u8>,
    ) -> Option<(u64, u64, bool)> {
        let mut done = None;
        for &seq in batch {
            if self.fn_token.is_cancelled() {
                break;
            }
            if !self.invoke(p, seq, in_flight).await {
                return None;
            }
            done = Some(seq + 1);
        }
        let next = done?;
        (!self.fn_token.is_cancelled()).then_some((next, next, false))
    }

    /// v5: every event's invocation started (one start per step, the token checked
    /// before each), all awaited together, then the batch's last event checkpointed.
    async fn dispatch_concurrent(
        &self,
        p: u32,
        batch: &[u64],
        in_flight: &Shared<u8>,
    ) -> Option<(u64, u64, bool)> {
        let mut started: Vec<JoinHandle<bool>> = Vec::new();
        let mut invoked_hi = batch[0];
        for &seq in batch {
            if self.fn_token.is_cancelled() {
                break;
            }
            let (me, counter) = (self.clone(), in_flight.clone());
            started.push(rt::spawn(format!("P{}.p{p}.e{seq}", self.id), async move {
                me.invoke(p, seq, &counter).await
            }));
            invoked_hi = seq + 1;
            rt::yield_now().await; // the start loop runs on a pool thread
        }
        let mut all = true;
        for task in started {
            all &= task.await;
        }
        let next = batch.last()? + 1;
        all.then_some((next, invoked_hi, self.fn_token.is_cancelled()))
    }

    /// One TryExecuteAsync with the retry policy. Returns false if the instance
    /// crashed meanwhile (nothing more may be written).
    async fn invoke(&self, p: u32, seq: u64, in_flight: &Shared<u8>) -> bool {
        let max_retries = self.world.cfg.max_retries;
        let mut attempt: i16 = 0;
        self.world.ledger[p as usize].write(|l| {
            l[seq as usize].deliveries = l[seq as usize].deliveries.saturating_add(1);
            l[seq as usize].executions = l[seq as usize].executions.saturating_add(1);
        });
        loop {
            let running = in_flight.write(|n| {
                *n += 1;
                *n
            });
            rt::always("s2-in-order-within-pump", running <= 1, || {
                format!("P{}/p{p}: {running} invocations at once", self.id)
            });
            let crashed = rt::sleep_cancellable(FUNCTION_TIME, &self.halt.token()).await;
            in_flight.write(|n| *n -= 1);
            if crashed {
                return false;
            }
            let offline = self.world.downstream_offline(rt::now());
            // A poison event fails on every execution, and so does every
            // execution while the downstream dependency is offline.
            let ok = if self.world.cfg.is_poison(p, seq) || offline {
                false
            } else {
                !self.world.cfg.failures || !rt::choose_bool("function fails")
            };
            if self.world.cfg.downstream_outages > 0 {
                rt::sometimes("sometimes-failed-by-downstream-outage", offline);
            }
            let may_retry = max_retries < 0 || attempt < i16::from(max_retries);
            if ok || !may_retry || self.fn_token.is_cancelled() {
                if self.world.cfg.downstream_outages > 0 {
                    // Only counted with outages: other runs' traces stay as they were.
                    self.world.outcomes[p as usize].write(|o| {
                        let o = &mut o[seq as usize];
                        o.succeeded |= ok;
                        o.failed_delivery |= !ok;
                    });
                }
                return true;
            }
            rt::sometimes("sometimes-retry", true);
            if rt::sleep_cancellable(RETRY_DELAY, &self.retry_wake.token()).await {
                return !self.halted();
            }
            attempt += 1;
            self.world.ledger[p as usize].write(|l| {
                l[seq as usize].executions = l[seq as usize].executions.saturating_add(1)
            });
        }
    }

    /// The checkpoint write (unconditional); judges S3, S7 and S8. False if it threw.
    async fn write_checkpoint(
        &self,
        p: u32,
        next: u64,
        invoked_hi: u64,
        cancel_seen: bool,
        last: &mut Option<u64>,
    ) -> bool {
        rt::yield_now().await; // await the write
        if self.halted() {
            return true;
        }
        let offset = self.world.hub.read(|h| {
            h.events(p)
                .ok()
                .and_then(|e| e.get(next as usize - 1))
                .map_or(0, |e| e.offset)
        });
        let checkpoint = Checkpoint {
            partition: p,
            sequence_number: next - 1,
            offset,
            client: self.id as ClientId,
        };
        let written = self
            .store(|s, now, me| s.update_checkpoint(now, me, GROUP_NAME, checkpoint))
            .await;
        if written.is_err() {
            return false;
        }
        let id = self.id;
        rt::always(
            "s3-owner-checkpoint-monotonic",
            last.is_none_or(|l| next >= l),
            || format!("P{id}/p{p} wrote {next} after {last:?}"),
        );
        rt::always("s7-no-uninvoked-checkpoint", next <= invoked_hi, || {
            format!("P{id}/p{p} checkpointed {next} having invoked below {invoked_hi}")
        });
        rt::always("s8-no-checkpoint-after-cancel", !cancel_seen, || {
            format!("P{id}/p{p} checkpointed after its token was cancelled")
        });
        *last = Some(next);
        true
    }
}
