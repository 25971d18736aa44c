//! The state of the `eventhubs` protocol model: the world (hub + checkpoint store),
//! the processor instances with their load balancer and partition pumps, the
//! idempotency ledger, fault budgets and sticky ghost flags for the properties.

use std::fmt::Write as _;
use std::time::Duration;

use lockstep::world::checkpoint_store::{CheckpointStore, Version};
use lockstep::world::eventhubs::{EventHub, GroupId};

use super::config::Config;

/// The model abstracts time away: every write happens at `NOW`, and a record that
/// expired is backdated to 0, so it is active iff it was written "now".
pub const NOW: Duration = Duration::from_secs(120);
/// PartitionOwnershipExpirationInterval (2 min).
pub const EXPIRATION: Duration = Duration::from_secs(120);
/// The consumer group every processor uses.
pub const GROUP: GroupId = 0;
/// Upper bounds of the config ranges, so per-partition slots, the ledger and a
/// batch's invocations are fixed arrays (cloning a state allocates little).
pub const MAX_INSTANCES: usize = 4;
pub const MAX_PARTITIONS: usize = 4;
pub const MAX_EVENTS: usize = 8;
pub const MAX_BATCH: usize = 8;

/// Per-event counts: deliveries (TryExecute calls, one per retry loop) and
/// executions (attempts, retries included). Saturating at the config's ledger cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tally {
    pub deliveries: u8,
    pub executions: u8,
}

/// Sticky flags set by transitions (facts a single state cannot show otherwise).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ghost(pub u16);

impl Ghost {
    /// S3: a pump wrote a checkpoint below one it wrote before.
    pub const S3_OWNER_REGRESSED: u16 = 1;
    /// S6: a claim won although the record no longer had the expected version.
    pub const S6_CAS_BYPASSED: u16 = 1 << 1;
    /// S7: a checkpoint covered received events the pump had not invoked.
    pub const S7_UNINVOKED_COVERED: u16 = 1 << 2;
    /// S8: a checkpoint was written after the gate saw a cancelled token.
    pub const S8_AFTER_CANCEL: u16 = 1 << 3;
    /// A claim took a record another live owner still held actively (a steal).
    pub const STEAL: u16 = 1 << 4;
    /// A checkpoint write moved the stored position backwards (expected, bounded).
    pub const GLOBAL_REGRESSION: u16 = 1 << 5;
    /// A claim took over a record whose owner had crashed (L3's situation).
    pub const FAILOVER: u16 = 1 << 6;
    /// A pump task faulted because a store call failed (L5's situation).
    pub const STORE_FAULTED_PUMP: u16 = 1 << 7;

    pub fn has(self, flag: u16) -> bool {
        self.0 & flag != 0
    }
    pub fn set(&mut self, flag: u16) {
        self.0 |= flag;
    }
}

/// Lifecycle of a processor instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Life {
    NotStarted,
    Running,
    /// Listener StopAsync: tokens cancelled, waiting for the pumps, then relinquish.
    ShuttingDown,
    Stopped,
    Crashed,
}

/// Where the load-balancing loop is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lb {
    /// Between cycles.
    Idle,
    /// Listed, chose a partition, its conditional claim is in flight.
    Claiming {
        partition: u8,
        expected: Option<Version>,
    },
    /// Awaiting the pumps of lost partitions (and so their handlers and retries).
    Stopping,
}

/// v6 sequential dispatch: events `lo..current` completed, `current` running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeqBatch {
    pub lo: u64,
    pub hi: u64,
    pub current: u64,
    pub attempt: u8,
}

/// v5 concurrent dispatch: events `lo..started_hi` started (in order, one per
/// step: the loop runs on a pool thread while other threads interleave); bit `k`
/// of `running` is set while event `lo + k` has not completed, `attempts[k]` is
/// its retry count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConcBatch {
    pub lo: u64,
    pub hi: u64,
    pub started_hi: u64,
    /// The start loop saw a cancelled token and stopped starting.
    pub halted: bool,
    pub running: u8,
    pub attempts: [u8; MAX_BATCH],
}

impl ConcBatch {
    pub fn new(lo: u64, hi: u64) -> Self {
        ConcBatch {
            lo,
            hi,
            started_hi: lo,
            halted: false,
            running: 0,
            attempts: [0; MAX_BATCH],
        }
    }
    /// The running events with their attempt counts, in event order.
    pub fn running_events(&self) -> impl Iterator<Item = (u64, u8)> + '_ {
        (0..MAX_BATCH)
            .filter(|k| self.running & (1 << k) != 0)
            .map(|k| (self.lo + k as u64, self.attempts[k]))
    }
    pub fn running_count(&self) -> u32 {
        self.running.count_ones()
    }
}

/// What a partition pump task is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PumpPhase {
    /// Created by the load balancer; reads the checkpoint and opens its receiver next.
    Starting,
    /// Awaiting a receive.
    Receiving,
    Sequential(SeqBatch),
    Concurrent(ConcBatch),
    /// The gate passed; the checkpoint write (`next` = exclusive position) is in flight.
    /// `invoked_hi` bounds the events this pump invoked; `cancel_seen` records that a
    /// token was already cancelled when the gate passed.
    Checkpointing {
        next: u64,
        invoked_hi: u64,
        cancel_seen: bool,
    },
    /// The task completed (its cancellation was requested).
    Done,
    /// The task faulted (store failure, displaced receiver).
    Faulted,
}

/// A partition pump plus its fresh `PartitionProcessor` (spec B.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pump {
    pub phase: PumpPhase,
    /// The core's per-partition cancellation (stop requested by the balancer or shutdown).
    pub stop_requested: bool,
    /// The last checkpoint position this pump wrote (for S3).
    pub last_written: Option<u64>,
}

impl Pump {
    pub fn fresh() -> Self {
        Pump {
            phase: PumpPhase::Starting,
            stop_requested: false,
            last_written: None,
        }
    }
    /// Whether the task has completed (normally or faulted).
    pub fn finished(&self) -> bool {
        matches!(self.phase, PumpPhase::Done | PumpPhase::Faulted)
    }
}

/// One processor instance (EventProcessorHost + listener). Per-partition slots
/// beyond the configured partition count stay empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instance {
    pub life: Life,
    pub lb: Lb,
    /// InstanceOwnership: per partition, the record version this instance believes it holds.
    pub owned: [Option<Version>; MAX_PARTITIONS],
    /// The last renew threw (storage failure): the records may age out meanwhile.
    pub renew_failed: bool,
    /// fnToken and listenerToken, cancelled together by the listener's StopAsync.
    pub fn_cancelled: bool,
    /// ActivePartitionProcessors, per partition.
    pub pumps: [Option<Pump>; MAX_PARTITIONS],
}

impl Instance {
    fn new() -> Self {
        Instance {
            life: Life::NotStarted,
            lb: Lb::Idle,
            owned: [None; MAX_PARTITIONS],
            renew_failed: false,
            fn_cancelled: false,
            pumps: [None; MAX_PARTITIONS],
        }
    }

    /// Whether the pump for `p` is a live (not finished) task.
    pub fn pump_active(&self, p: usize) -> bool {
        self.pumps[p].as_ref().is_some_and(|pump| !pump.finished())
    }
}

/// The whole model state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EhState {
    pub hub: EventHub,
    pub store: CheckpointStore,
    pub instances: Vec<Instance>,
    /// Per event, by global number `k` (partition `k mod P`, sequence `k div P`).
    pub ledger: [Tally; MAX_EVENTS],
    /// Partitions and events (constant; kept here so properties need no config).
    pub parts: u8,
    pub events: u8,
    pub crashes_used: u8,
    pub stops_used: u8,
    pub outages_used: u8,
    pub ghost: Ghost,
}

impl EhState {
    /// The initial state: every event already in the hub, nothing claimed or started.
    pub fn initial(config: &Config) -> Self {
        let parts = u64::from(config.partitions);
        let mut hub = EventHub::new(u32::from(config.partitions));
        for k in 0..u64::from(config.events) {
            // Bodies are the global event number; sizes vary so offsets differ from sequence numbers.
            let _ = hub.append((k % parts) as u32, k, 10 + (k % 3) as u32);
        }
        EhState {
            hub,
            store: CheckpointStore::new(u32::from(config.partitions)),
            instances: (0..config.instances).map(|_| Instance::new()).collect(),
            ledger: [Tally::default(); MAX_EVENTS],
            parts: config.partitions,
            events: config.events,
            crashes_used: 0,
            stops_used: 0,
            outages_used: 0,
            ghost: Ghost::default(),
        }
    }

    pub fn partitions(&self) -> usize {
        usize::from(self.parts)
    }

    /// Every event's tally, by global event number.
    pub fn tallies(&self) -> &[Tally] {
        &self.ledger[..usize::from(self.events)]
    }

    /// The tallies of partition `p`, by sequence number.
    pub fn partition_tallies(&self, p: usize) -> impl Iterator<Item = Tally> + '_ {
        (p..usize::from(self.events))
            .step_by(self.partitions())
            .map(|k| self.ledger[k])
    }

    pub fn tally_mut(&mut self, p: usize, sequence: u64) -> &mut Tally {
        let k = sequence as usize * self.partitions() + p;
        &mut self.ledger[k]
    }

    /// The durable checkpoint position of `p` (exclusive; 0 without a checkpoint).
    pub fn checkpoint_next(&self, p: usize) -> u64 {
        self.store
            .checkpoint(p as u32)
            .map_or(0, |c| c.next_sequence())
    }

    /// Instances whose pump for `p` is a live task (owner(p, t) of spec B.9).
    pub fn pump_owners(&self, p: usize) -> usize {
        self.instances
            .iter()
            .filter(|i| i.life != Life::Crashed && i.pump_active(p))
            .count()
    }

    /// ETags are compared only for equality, so the versions of each partition's
    /// record (and every copy an instance holds) are renumbered densely, keeping
    /// their order and the record's version the largest. Without this a renewal
    /// loop would make the state space infinite.
    pub fn canonicalize_versions(&mut self) {
        for p in 0..self.partitions() {
            let Some(current) = self.store.ownership(p as u32).map(|r| r.version) else {
                continue;
            };
            // At most one belief and one pending claim per instance, plus the record.
            let mut seen = [Version::MAX; 2 * MAX_INSTANCES + 1];
            let mut n = 0;
            let mut note = |v: Version| {
                if !seen[..n].contains(&v) && n < seen.len() {
                    seen[n] = v;
                    n += 1;
                }
            };
            note(current);
            for inst in &self.instances {
                inst.owned[p].into_iter().for_each(&mut note);
                if let Lb::Claiming {
                    partition,
                    expected: Some(v),
                } = inst.lb
                {
                    if usize::from(partition) == p {
                        note(v);
                    }
                }
            }
            let seen = &mut seen[..n];
            seen.sort_unstable();
            if seen.iter().enumerate().all(|(i, v)| *v == i as Version + 1) {
                continue; // already dense
            }
            let rank = |v: Version| {
                seen.iter()
                    .position(|s| *s == v)
                    .map_or(v, |i| i as Version + 1)
            };
            self.store.rename_version(p as u32, rank(current));
            for inst in &mut self.instances {
                if let Some(v) = inst.owned[p] {
                    inst.owned[p] = Some(rank(v));
                }
                if let Lb::Claiming {
                    partition,
                    expected: Some(v),
                } = inst.lb
                {
                    if usize::from(partition) == p {
                        inst.lb = Lb::Claiming {
                            partition,
                            expected: Some(rank(v)),
                        };
                    }
                }
            }
        }
    }

    /// A compact one-line rendering for counterexample traces.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for (i, inst) in self.instances.iter().enumerate() {
            let life = match inst.life {
                Life::NotStarted => "new",
                Life::Running => "run",
                Life::ShuttingDown => "stopping",
                Life::Stopped => "stopped",
                Life::Crashed => "crashed",
            };
            let _ = write!(out, "P{i}[{life}");
            let owned: Vec<String> = inst
                .owned
                .iter()
                .enumerate()
                .filter_map(|(p, v)| v.map(|v| format!("p{p}@v{v}")))
                .collect();
            if !owned.is_empty() {
                let _ = write!(out, " owns {}", owned.join(","));
            }
            match inst.lb {
                Lb::Idle => {}
                Lb::Claiming { partition, .. } => {
                    let _ = write!(out, " claiming p{partition}");
                }
                Lb::Stopping => out.push_str(" lb-stopping"),
            }
            for (p, pump) in inst.pumps.iter().enumerate() {
                if let Some(pump) = pump {
                    let _ = write!(out, " pump{p}:{}", phase_summary(&pump.phase));
                    if pump.stop_requested {
                        out.push('!');
                    }
                }
            }
            out.push_str("] ");
        }
        for p in 0..self.partitions() {
            let owner = self
                .store
                .ownership(p as u32)
                .map_or("-".to_string(), |r| match r.owner {
                    Some(o) if r.is_active(NOW, EXPIRATION) => format!("P{o}"),
                    Some(o) => format!("P{o}(expired)"),
                    None => "none".to_string(),
                });
            let inv: Vec<String> = self
                .partition_tallies(p)
                .map(|t| t.executions.to_string())
                .collect();
            let _ = write!(
                out,
                "p{p}: owner {owner} ckpt {} inv [{}] ",
                self.checkpoint_next(p),
                inv.join(",")
            );
        }
        out.trim_end().to_string()
    }
}

fn phase_summary(phase: &PumpPhase) -> String {
    match phase {
        PumpPhase::Starting => "starting".into(),
        PumpPhase::Receiving => "receiving".into(),
        PumpPhase::Sequential(b) => {
            format!("invoke e{}#{} of {}..{}", b.current, b.attempt, b.lo, b.hi)
        }
        PumpPhase::Concurrent(b) => {
            let running: Vec<String> = b
                .running_events()
                .map(|(e, a)| format!("e{e}#{a}"))
                .collect();
            format!(
                "concurrent {}..{} started<{} running[{}]",
                b.lo,
                b.hi,
                b.started_hi,
                running.join(",")
            )
        }
        PumpPhase::Checkpointing { next, .. } => format!("checkpoint->{next}"),
        PumpPhase::Done => "done".into(),
        PumpPhase::Faulted => "faulted".into(),
    }
}
