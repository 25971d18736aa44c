//! The implementation-level function-app instance of the `migration` model: async
//! Rust on `lockstep::rt`, one await per await of the SDK/extension code (spec
//! B.2-B.6), reading its app's consumer group through that group's checkpoint
//! store, with real virtual time (30 s balancing interval, 2 min ownership expiry,
//! 60 s receive wait).
//!
//! Tasks per instance: the load-balancing loop `<app><n>` (renew, list, claim one,
//! start / stop / restart pumps, awaiting every stopped pump; relinquish on stop)
//! and one pump task `<app><n>.p<p>` per owned partition (read checkpoint, open a
//! receiver with owner level 0, receive, invoke each event, gate, checkpoint).

use std::collections::BTreeMap;
use std::time::Duration;

use lockstep::rt::{self, CancellationToken, CancellationTokenSource, JoinHandle, Shared};
use lockstep::world::checkpoint_store::{
    Checkpoint, CheckpointStore, ClaimRequest, ClientId, Version,
};
use lockstep::world::eventhubs::{EventHub, GroupId, StartPosition};

use super::balancer::greedy_candidates;
use super::config::{PlantedBug, Variant};
use super::state::{App, NEW_APP_GROUP};

/// LoadBalancingUpdateInterval.
pub const LB_INTERVAL: Duration = Duration::from_secs(30);
/// Greedy strategy, not balanced: the next cycle follows after a minimal delay.
pub const GREEDY_DELAY: Duration = Duration::from_millis(100);
/// PartitionOwnershipExpirationInterval.
pub const EXPIRATION: Duration = Duration::from_secs(120);
/// Receive MaximumWaitTime: an empty batch after it.
pub const RECEIVE_WAIT: Duration = Duration::from_secs(60);
/// How long one function execution takes.
pub const FUNCTION_TIME: Duration = Duration::from_millis(20);

/// What one implementation-level run simulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImplCfg {
    pub variant: Variant,
    pub planted: PlantedBug,
    pub partitions: u8,
    pub events: u32,
    pub instances_per_app: u8,
    pub crashes: u8,
    pub batch_size: u32,
}

impl ImplCfg {
    pub fn events_in(&self, p: u32) -> u64 {
        let (n, parts) = (u64::from(self.events), u64::from(self.partitions));
        n / parts + u64::from(u64::from(p) < n % parts)
    }

    /// The group (and store index) `app` reads.
    pub fn group_of(&self, app: App) -> GroupId {
        GroupId::from(app == App::New && self.variant.separate())
    }
}

/// The simulated world every task shares, one cell per independent object.
#[derive(Clone)]
pub struct World {
    pub cfg: ImplCfg,
    pub hub: Shared<EventHub>,
    /// One checkpoint store per consumer group in use, by group id.
    pub stores: Vec<Shared<CheckpointStore>>,
    /// Per app, per partition: invocations per sequence number.
    pub ledger: [Vec<Shared<Vec<u8>>>; 2],
    /// Per app: pumps with an open receiver (for the both-apps-running witness).
    pub active_pumps: Shared<[u32; 2]>,
    /// Per app: received batches not yet through the gate (and checkpoint write).
    pub batches_in_flight: [Shared<u32>; 2],
    /// Cancelled when the run is over: every loop returns.
    pub done: CancellationTokenSource,
}

impl World {
    /// Builds the world (inside the simulation: cells register with the executor).
    pub fn new(cfg: ImplCfg) -> Self {
        let mut hub = EventHub::new(u32::from(cfg.partitions));
        for k in 0..u64::from(cfg.events) {
            let p = (k % u64::from(cfg.partitions)) as u32;
            let _ = hub.append(p, k, 10 + (k % 3) as u32);
        }
        let groups = if cfg.variant.separate() && hub.add_consumer_group(NEW_APP_GROUP).is_ok() {
            2
        } else {
            1
        };
        let ledger = App::BOTH.map(|app| {
            (0..u32::from(cfg.partitions))
                .map(|p| {
                    let len = cfg.events_in(p) as usize;
                    Shared::new(format!("ledger.{}.p{p}", app.name()), vec![0u8; len])
                })
                .collect()
        });
        World {
            cfg,
            hub: Shared::new("hub", hub),
            stores: (0..groups)
                .map(|g| {
                    Shared::new(
                        format!("store.g{g}"),
                        CheckpointStore::new(u32::from(cfg.partitions)),
                    )
                })
                .collect(),
            ledger,
            active_pumps: Shared::new("active-pumps", [0, 0]),
            batches_in_flight: App::BOTH
                .map(|app| Shared::new(format!("in-flight.{}", app.name()), 0)),
            done: CancellationTokenSource::new("run-over"),
        }
    }

    pub fn store(&self, app: App) -> &Shared<CheckpointStore> {
        &self.stores[self.cfg.group_of(app) as usize]
    }

    /// `app`'s group checkpoint of `p` (exclusive; 0 without one).
    pub fn checkpoint_next(&self, app: App, p: u32) -> u64 {
        self.store(app)
            .read(|s| s.checkpoint(p).map_or(0, Checkpoint::next_sequence))
    }

    /// Whether one of `app`'s pumps has a batch or events to receive: a batch in
    /// flight, or a connected receiver of an instance in `alive` behind the end.
    pub fn busy(&self, app: App, alive: &[u32]) -> bool {
        if self.batches_in_flight[app.index()].read(|n| *n > 0) {
            return true;
        }
        let group = self.cfg.group_of(app);
        self.hub.read(|h| {
            (0..h.partition_count()).any(|p| {
                let len = h.len(p).unwrap_or(0);
                h.receivers(group, p).is_ok_and(|rs| {
                    rs.iter()
                        .any(|r| alive.contains(&r.key) && !r.disconnected && r.next_sequence < len)
                })
            })
        })
    }

    /// Whether `app` invoked every event.
    pub fn invoked_all(&self, app: App) -> bool {
        self.ledger[app.index()]
            .iter()
            .all(|l| l.read(|t| t.iter().all(|&n| n > 0)))
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

/// One processor instance (EventProcessorHost + listener) of one app.
#[derive(Clone)]
pub struct Instance {
    /// The processor identifier (owner id, receiver key): unique over both apps.
    pub id: u32,
    pub app: App,
    pub name: String,
    world: World,
    pub crash: CancellationTokenSource,
    /// Crash or end of run: every wait of this instance stops.
    halt: CancellationTokenSource,
    /// fnToken and listenerToken (cancelled when the app is stopped).
    pub fn_token: CancellationTokenSource,
    /// StopProcessingAsync: partitions stop, then ownership is relinquished.
    pub stopping: CancellationTokenSource,
}

impl Instance {
    pub fn new(id: u32, app: App, name: String, world: World) -> Self {
        let crash = CancellationTokenSource::new(format!("{name}.crash"));
        let halt = CancellationTokenSource::linked(
            format!("{name}.halt"),
            &[&crash.token(), &world.done.token()],
        );
        Instance {
            id,
            app,
            fn_token: CancellationTokenSource::new(format!("{name}.fnToken")),
            stopping: CancellationTokenSource::new(format!("{name}.stopping")),
            name,
            world,
            crash,
            halt,
        }
    }

    fn halted(&self) -> bool {
        self.halt.is_cancelled()
    }

    fn parts(&self) -> u32 {
        u32::from(self.world.cfg.partitions)
    }

    fn group(&self) -> GroupId {
        self.world.cfg.group_of(self.app)
    }

    fn store(&self) -> &Shared<CheckpointStore> {
        self.world.store(self.app)
    }

    /// The run loop: a balancing cycle, then the interval (or the greedy minimal
    /// delay while unbalanced), until a crash, the end of the run or a stop.
    pub async fn run(self) {
        let wake = CancellationTokenSource::linked(
            format!("{}.lb-wake", self.name),
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
        let now = rt::now();
        let renewed = self
            .store()
            .write(|s| s.claim_ownership(self.id, now, &requests));
        let mut balanced = true;
        if let Ok(wins) = renewed {
            // A lost condition drops the record (another instance took it).
            lb.owned = wins
                .iter()
                .map(|w| (w.record.partition, w.record.version))
                .collect();
            rt::yield_now().await; // await the listing
            if self.halted() {
                return true;
            }
            if let Ok(records) = self.store().write(|s| s.list_ownership(self.id)) {
                let parts = self.parts() as usize;
                let candidates = greedy_candidates(&records, rt::now(), EXPIRATION, self.id, parts);
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
        let now = rt::now();
        let request = ClaimRequest {
            partition,
            owner: Some(self.id),
            expected,
        };
        let Ok(wins) = self
            .store()
            .write(|s| s.claim_ownership(self.id, now, &[request]))
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
                format!("{} won p{partition} over a version it never saw", self.name)
            });
            lb.owned.insert(partition, win.record.version);
        }
    }

    /// Steps 3-5: start newly owned partitions, stop lost ones (awaiting each
    /// pump, so its in-flight handler), restart finished ones.
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
                self.close_receiver(p);
            }
        }
        if self.halted() {
            return;
        }
        let finished: Vec<u32> = lb
            .pumps
            .iter()
            .filter(|(_, h)| h.task.is_finished())
            .map(|(p, _)| *p)
            .collect();
        for p in finished {
            self.close_receiver(p);
            lb.pumps.insert(p, self.start_pump(p));
        }
    }

    fn close_receiver(&self, p: u32) {
        let group = self.group();
        self.world
            .hub
            .write(|h| h.close_receiver(group, p, self.id).is_ok());
    }

    fn start_pump(&self, p: u32) -> PumpHandle {
        let cts = CancellationTokenSource::new(format!("{}.p{p}.cts", self.name));
        let task = rt::spawn(
            format!("{}.p{p}", self.name),
            self.clone().pump(p, cts.token()),
        );
        PumpHandle { task, cts }
    }

    /// The app is stopped: every partition stopped (handlers awaited), then
    /// ownership relinquished on the ETag.
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
        let now = rt::now();
        self.store()
            .write(|s| s.claim_ownership(self.id, now, &requests).is_ok());
        for p in 0..self.parts() {
            self.close_receiver(p);
        }
        lb.owned.clear();
    }

    /// Where a partition without a checkpoint starts (the planted bug: Latest).
    fn default_start(&self) -> StartPosition {
        if self.world.cfg.planted == PlantedBug::NewAppStartsAtLatest && self.app == App::New {
            StartPosition::Latest
        } else {
            StartPosition::Earliest
        }
    }

    /// The pump task of partition `p` (spec B.2); returns when stopped, crashed or faulted.
    async fn pump(self, p: u32, cts: CancellationToken) {
        rt::yield_now().await; // await the checkpoint read
        if self.halted() || cts.is_cancelled() {
            return;
        }
        let Ok(checkpoint) = self.store().write(|s| s.get_checkpoint(self.id, p)) else {
            return;
        };
        let start = checkpoint.map_or(self.default_start(), |c| {
            StartPosition::After(c.sequence_number)
        });
        let group = self.group();
        if self
            .world
            .hub
            .write(|h| h.open_receiver(group, p, self.id, Some(0), start))
            .is_err()
        {
            return;
        }
        let app = self.app.index();
        let both = self.world.active_pumps.write(|a| {
            a[app] += 1;
            a[0] > 0 && a[1] > 0
        });
        rt::sometimes("sometimes-both-apps-running", both);
        self.receive_loop(p, &cts).await;
        self.world.active_pumps.write(|a| a[app] -= 1);
    }

    /// Receive, dispatch one event after the other, gate, checkpoint; returns when
    /// stopped, crashed, displaced (the task faults) or the write failed.
    async fn receive_loop(&self, p: u32, cts: &CancellationToken) {
        let wake = CancellationTokenSource::linked(
            format!("{}.p{p}.wake", self.name),
            &[cts, &self.halt.token()],
        );
        let (group, batch_size) = (self.group(), self.world.cfg.batch_size as usize);
        let mut last_started: Option<u64> = None;
        loop {
            rt::yield_now().await; // await the receive
            if self.halted() || cts.is_cancelled() {
                return;
            }
            let received = self.world.hub.write(|h| {
                h.receive(group, p, self.id, batch_size)
                    .map(|events| events.iter().map(|e| e.sequence_number).collect::<Vec<_>>())
            });
            let Ok(batch) = received else {
                rt::sometimes("sometimes-receiver-displaced", true);
                return;
            };
            if batch.is_empty() {
                if rt::sleep_cancellable(RECEIVE_WAIT, &wake.token()).await {
                    return;
                }
                continue;
            }
            let in_flight = &self.world.batches_in_flight[self.app.index()];
            in_flight.write(|n| *n += 1);
            let gone = self.dispatch(p, &batch, &mut last_started).await;
            in_flight.write(|n| *n -= 1);
            if gone {
                return;
            }
        }
    }

    /// Sequential single dispatch of `batch`, the gate and the checkpoint write.
    /// Returns whether the task ends (crashed mid-invocation, or the write threw).
    async fn dispatch(&self, p: u32, batch: &[u64], last_started: &mut Option<u64>) -> bool {
        let mut invoked_up_to = None;
        for &seq in batch {
            if self.fn_token.is_cancelled() {
                break;
            }
            let last = *last_started;
            rt::always(
                "s2-in-order-within-pump",
                last.is_none_or(|l| seq > l),
                || format!("{}/p{p} started s{seq} after s{last:?}", self.name),
            );
            *last_started = Some(seq);
            self.world.ledger[self.app.index()][p as usize]
                .write(|l| l[seq as usize] = l[seq as usize].saturating_add(1));
            if rt::sleep_cancellable(FUNCTION_TIME, &self.halt.token()).await {
                return true; // crashed mid-invocation: nothing more is written
            }
            invoked_up_to = Some(seq);
        }
        // The gate: something invoked and no token cancelled.
        match (invoked_up_to, self.fn_token.is_cancelled()) {
            (Some(seq), false) => !self.write_checkpoint(p, seq).await,
            _ => false,
        }
    }

    /// The unconditional checkpoint write after event `seq`. False if it threw.
    async fn write_checkpoint(&self, p: u32, seq: u64) -> bool {
        rt::yield_now().await; // await the write
        if self.halted() {
            return true;
        }
        let offset = self.world.hub.read(|h| {
            h.events(p)
                .ok()
                .and_then(|e| e.get(seq as usize))
                .map_or(0, |e| e.offset)
        });
        let checkpoint = Checkpoint {
            partition: p,
            sequence_number: seq,
            offset,
            client: self.id as ClientId,
        };
        self.store()
            .write(|s| s.update_checkpoint(self.id, checkpoint).is_ok())
    }
}
