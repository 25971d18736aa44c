//! The world of the implementation level: timing constants, what one run
//! simulates ([`ImplCfg`]), and the shared cells every task sees ([`World`]): the
//! hub, the checkpoint store on simulated blob storage (faults from its fault
//! plan), the idempotency ledger, and the facts the time-bounded liveness
//! monitors (L3, L5) judge from.

use std::time::Duration;

use lockstep::rt::{CancellationTokenSource, Shared};
use lockstep::world::checkpoint_store::{BlobCheckpointStore, Checkpoint};
use lockstep::world::eventhubs::{EventHub, DEFAULT_CONSUMER_GROUP};
use lockstep::world::{FaultKind, FaultPlan, FaultRule, Prng, Target};

use super::config::{PlantedBug, Variant};
use super::state::Tally;

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
/// The retry policy's delay (fixed delay strategy).
pub const RETRY_DELAY: Duration = Duration::from_secs(1);
/// How long a downstream outage (bound `downstream_outages`) lasts.
pub const DOWNSTREAM_OUTAGE: Duration = Duration::from_secs(60);
/// When a downstream outage may start: before the first execution, during the
/// first batches, or a little later (the explorer chooses).
pub const DOWNSTREAM_STARTS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(20),
    Duration::from_millis(40),
];
/// MaxWaitTime of the MinEventBatchSize cache: cached events are dispatched as
/// a partial batch this long after the first of them was cached.
pub const MIN_BATCH_WAIT: Duration = Duration::from_secs(60);
/// A rolling restart replaces one instance per step (while batches are in flight).
pub const ROLL_STEP: Duration = Duration::from_millis(100);
/// Slack on top of the time bounds of L3 and L5 (scheduling at equal times).
pub const JUDGE_MARGIN: Duration = Duration::from_secs(1);

/// The namespace and hub the blob names are built from.
pub const NAMESPACE: &str = "lockstep.servicebus.windows.net";
pub const HUB: &str = "hub";
/// The consumer group every processor uses (`$Default`; hub group id 0).
pub const GROUP_NAME: &str = DEFAULT_CONSUMER_GROUP;
/// Seeds the fault plan's own PRNG (probabilistic rules from scenarios).
pub const FAULT_SEED: u64 = 0x00e7_ca5e;

/// What one implementation-level run simulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImplCfg {
    pub variant: Variant,
    pub instances: u8,
    pub partitions: u8,
    pub events: u32,
    pub batch_size: u32,
    /// Retries after the first execution; -1 = unbounded.
    pub max_retries: i8,
    /// Whether a function execution may fail (a choice per execution).
    pub failures: bool,
    pub crashes: u8,
    pub stops: u8,
    /// Storage outages of one instance, at a chosen time (rules of the fault plan).
    pub outages: u8,
    /// Global events `0..poison` fail on every execution.
    pub poison: u32,
    /// A rolling restart instead of free starts: the first half of the instances
    /// runs from the start; every [`ROLL_STEP`] the next one gets a listener stop
    /// while its replacement (from the second half) starts.
    pub rolling_restart: bool,
    /// Windows of [`DOWNSTREAM_OUTAGE`] in which the function's downstream
    /// dependency is offline: every execution fails (a start chosen per window).
    pub downstream_outages: u8,
    /// MinEventBatchSize: above 1, received events wait in a cache until this
    /// many are there or [`MIN_BATCH_WAIT`] passed (spec B.3 step 4).
    pub min_batch_size: u32,
    pub planted: PlantedBug,
}

impl ImplCfg {
    /// Events of partition `p` (event k goes to partition k mod partitions).
    pub fn events_in(&self, p: u32) -> u64 {
        let (n, parts) = (u64::from(self.events), u64::from(self.partitions));
        n / parts + u64::from(u64::from(p) < n % parts)
    }

    /// Whether event `seq` of partition `p` is a poison event.
    pub fn is_poison(&self, p: u32, seq: u64) -> bool {
        seq * u64::from(self.partitions) + u64::from(p) < u64::from(self.poison)
    }

    /// Whether the retry policy is finite (the premise of L1, L3 and L5: an
    /// endless retry loop can block a balancing loop for ever).
    pub fn finite_retries(&self) -> bool {
        self.max_retries >= 0
    }

    /// How long a balancing cycle may wait for the handler of a partition it
    /// stops: one batch, every execution and retry delay included.
    pub fn handler_allowance(&self) -> Duration {
        let retries = u32::try_from(self.max_retries.max(0)).unwrap_or(0);
        (FUNCTION_TIME * (1 + retries) + RETRY_DELAY * retries) * self.batch_size
    }
}

/// The storage-fault windows of the fault plan, per instance, for the L3 and
/// L5 premises ("storage healthy", "storage recovered at").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageWindows {
    /// Per instance: merged `[from, until)` windows in which its calls fail, or
    /// `None` when a rule makes that unpredictable (a point trigger, a
    /// probability, a cap, no end).
    pub per_instance: Vec<Option<Vec<(Duration, Duration)>>>,
    /// The latency every call may get on top (the sum of the latency rules).
    pub latency: Duration,
}

impl StorageWindows {
    /// Reads `rules` for `instances` processors named `P0`, `P1`, ...
    pub fn of(rules: &[FaultRule], instances: u8) -> Self {
        let per_instance = (0..u32::from(instances))
            .map(|i| {
                let name = BlobCheckpointStore::instance_name(i);
                let mut windows = Vec::new();
                for rule in rules {
                    let fails = matches!(rule.kind, FaultKind::StorageOutage | FaultKind::Throttle);
                    let hits = match &rule.target {
                        Target::All => true,
                        Target::Instance(n) => *n == name,
                    };
                    if !(fails && hits) {
                        continue;
                    }
                    let plain = rule.at.is_none()
                        && rule.probability_ppm.is_none()
                        && rule.times.is_none()
                        && rule.occurrence.is_none();
                    match (plain, rule.until) {
                        (true, Some(until)) => {
                            windows.push((rule.from.unwrap_or(Duration::ZERO), until))
                        }
                        _ => return None,
                    }
                }
                Some(merge(windows))
            })
            .collect();
        let latency = rules
            .iter()
            .map(|r| match r.kind {
                FaultKind::Latency(d) => d,
                _ => Duration::ZERO,
            })
            .sum();
        StorageWindows {
            per_instance,
            latency,
        }
    }

    /// Whether `instance`'s storage is known healthy throughout `[from, to]`.
    pub fn healthy(&self, instance: u32, from: Duration, to: Duration) -> bool {
        self.per_instance
            .get(instance as usize)
            .and_then(Option::as_ref)
            .is_some_and(|ws| ws.iter().all(|&(a, b)| b <= from || a > to))
    }

    /// Whether any storage-error rule applies to any instance.
    pub fn any(&self) -> bool {
        self.per_instance
            .iter()
            .any(|w| w.as_ref().is_none_or(|ws| !ws.is_empty()))
    }

    /// Whether every storage-error rule is a plain window (bounds are computable).
    pub fn predictable(&self) -> bool {
        self.per_instance.iter().all(Option::is_some)
    }

    /// The number of distinct windows over all instances (each counts as one
    /// outage in the S5 duplicate bound).
    pub fn count(&self) -> usize {
        self.per_instance.iter().flatten().map(Vec::len).sum()
    }
}

/// Sorts and merges overlapping or touching windows.
fn merge(mut windows: Vec<(Duration, Duration)>) -> Vec<(Duration, Duration)> {
    windows.sort();
    let mut out: Vec<(Duration, Duration)> = Vec::new();
    for (a, b) in windows {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The outage a `outages` bound plants: instance `victim`'s storage calls fail
/// during `[from, from + duration)`.
pub fn outage_rule(victim: u32, from: Duration, duration: Duration) -> FaultRule {
    FaultRule {
        kind: FaultKind::StorageOutage,
        target: Target::Instance(BlobCheckpointStore::instance_name(victim)),
        op: None,
        at: None,
        occurrence: None,
        from: Some(from),
        until: Some(from + duration),
        probability_ppm: None,
        times: None,
        duration: None,
    }
}

/// A crash or a listener stop, for the L3 premise (nothing else disturbed the
/// failover window).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LifecycleEvent {
    pub at: Duration,
    pub instance: u32,
    pub crash: bool,
}

/// How the executions of one event ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Outcome {
    pub succeeded: bool,
    /// A delivery ended with its last execution failed (retries exhausted).
    pub failed_delivery: bool,
}

/// The simulated world every task shares, one cell per independent object so the
/// schedule explorer sees which steps commute.
#[derive(Clone)]
pub struct World {
    pub cfg: ImplCfg,
    pub hub: Shared<EventHub>,
    pub store: Shared<BlobCheckpointStore>,
    /// Per partition, per sequence number.
    pub ledger: Vec<Shared<Vec<Tally>>>,
    /// Per instance, per partition: when its task faulted on a store call, until
    /// the instance restarts it (receiver open again) or gives the partition up.
    pub stalled: Vec<Shared<Vec<Option<Duration>>>>,
    pub lifecycle: Shared<Vec<LifecycleEvent>>,
    /// `[from, until)` windows in which the downstream dependency is offline.
    pub downstream_down: Vec<(Duration, Duration)>,
    /// Per partition, per sequence number: whether some execution succeeded,
    /// and whether some delivery ended with every execution failed.
    pub outcomes: Vec<Shared<Vec<Outcome>>>,
    /// Monitors that have not judged yet: the run lasts until they have.
    pub pending: Shared<u32>,
    /// Cancelled when the run is over: every loop returns.
    pub done: CancellationTokenSource,
}

impl World {
    /// Builds the world (inside the simulation: cells register with the
    /// executor), its store failing as `rules` say, its downstream dependency
    /// offline in `downstream_down`.
    pub fn new(
        cfg: ImplCfg,
        rules: Vec<FaultRule>,
        downstream_down: Vec<(Duration, Duration)>,
    ) -> Self {
        let mut hub = EventHub::new(u32::from(cfg.partitions));
        for k in 0..u64::from(cfg.events) {
            let _ = hub.append(
                (k % u64::from(cfg.partitions)) as u32,
                k,
                10 + (k % 3) as u32,
            );
        }
        let ledger = (0..u32::from(cfg.partitions))
            .map(|p| {
                Shared::new(
                    format!("ledger.p{p}"),
                    vec![Tally::default(); cfg.events_in(p) as usize],
                )
            })
            .collect();
        let outcomes = (0..u32::from(cfg.partitions))
            .map(|p| {
                Shared::new(
                    format!("outcomes.p{p}"),
                    vec![Outcome::default(); cfg.events_in(p) as usize],
                )
            })
            .collect();
        let stalled = (0..cfg.instances)
            .map(|i| {
                Shared::new(
                    format!("P{i}.stalled"),
                    vec![None; usize::from(cfg.partitions)],
                )
            })
            .collect();
        let plan = FaultPlan::new(rules, Prng::from_u64(FAULT_SEED));
        let store =
            BlobCheckpointStore::new(NAMESPACE, HUB, u32::from(cfg.partitions)).with_faults(plan);
        World {
            cfg,
            hub: Shared::new("hub", hub),
            store: Shared::new("store", store),
            ledger,
            stalled,
            lifecycle: Shared::new("lifecycle", Vec::new()),
            downstream_down,
            outcomes,
            pending: Shared::new("monitors", 0),
            done: CancellationTokenSource::new("run-over"),
        }
    }

    /// The durable checkpoint position of `p` (exclusive; 0 without one).
    pub fn checkpoint_next(&self, p: u32) -> u64 {
        self.store.read(|s| {
            s.checkpoint(GROUP_NAME, p)
                .as_ref()
                .map_or(0, Checkpoint::next_sequence)
        })
    }

    /// Whether every event was delivered at least once and every partition's
    /// checkpoint is at its end.
    pub fn finished(&self) -> bool {
        let delivered = self
            .ledger
            .iter()
            .all(|l| l.read(|t| t.iter().all(|t| t.deliveries > 0)));
        delivered
            && (0..u32::from(self.cfg.partitions))
                .all(|p| self.checkpoint_next(p) == self.cfg.events_in(p))
    }

    /// Whether the downstream dependency is offline at `at`.
    pub fn downstream_offline(&self, at: Duration) -> bool {
        self.downstream_down
            .iter()
            .any(|&(from, until)| from <= at && at < until)
    }

    /// Events below the durable checkpoint whose deliveries all ended failed
    /// (no execution ever succeeded): checkpointed past after failing (B.3 step 7).
    pub fn checkpointed_past_failed(&self) -> u64 {
        (0..u32::from(self.cfg.partitions))
            .map(|p| {
                let next = self.checkpoint_next(p) as usize;
                self.outcomes[p as usize].read(|o| {
                    o.iter()
                        .take(next)
                        .filter(|o| o.failed_delivery && !o.succeeded)
                        .count() as u64
                })
            })
            .sum()
    }

    /// Records (or clears) that instance `i`'s task for `p` is stalled on storage.
    pub fn set_stalled(&self, i: u32, p: u32, since: Option<Duration>) {
        self.stalled[i as usize].write(|s| s[p as usize] = since);
    }
}
