//! The state of the `migration` protocol model: one hub, one checkpoint store per
//! consumer group in use, the instances of both apps with their load balancers and
//! partition pumps, the operator's migration phase, a per-app invocation ledger
//! and sticky ghost flags for the properties.

use std::fmt::Write as _;
use std::time::Duration;

use lockstep::world::checkpoint_store::{CheckpointStore, Version};
use lockstep::world::eventhubs::{EventHub, GroupId};

use super::config::{Config, Variant, MAX_EVENTS, MAX_INSTANCES, MAX_PARTITIONS};

/// Time is abstracted as in the `eventhubs` model: every write happens at `NOW`,
/// an expired record is backdated to 0, so a record is active iff written "now".
pub const NOW: Duration = Duration::from_secs(120);
/// PartitionOwnershipExpirationInterval (2 min).
pub const EXPIRATION: Duration = Duration::from_secs(120);
/// The name of the new app's own consumer group (variant `separate-groups`).
pub const NEW_APP_GROUP: &str = "new-app";

/// The two function apps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum App {
    Old,
    New,
}

impl App {
    pub const BOTH: [App; 2] = [App::Old, App::New];

    pub fn index(self) -> usize {
        match self {
            App::Old => 0,
            App::New => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            App::Old => "old",
            App::New => "new",
        }
    }
}

/// The operator's migration, step by step (environment actions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Only the old app runs.
    OldOnly,
    /// The new app was deployed and runs next to the old one (validation).
    Both,
    /// The operator stopped the old app.
    OldStopped,
}

/// Sticky flags set by transitions (facts a single state cannot show otherwise).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ghost(pub u8);

impl Ghost {
    /// S2: a pump started an invocation at or below one it had already started.
    pub const S2_OUT_OF_ORDER: u8 = 1;
    /// S6: a claim won although the record no longer had the expected version.
    pub const S6_CAS_BYPASSED: u8 = 1 << 1;
    /// A pump's receive failed because another receiver displaced it.
    pub const DISPLACED: u8 = 1 << 2;

    pub fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }
    pub fn set(&mut self, flag: u8) {
        self.0 |= flag;
    }
}

/// Lifecycle of a processor instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Life {
    /// A new-app instance before the deployment.
    NotStarted,
    Running,
    /// The app was stopped: tokens cancelled, waiting for the pumps, then relinquish.
    ShuttingDown,
    Stopped,
    Crashed,
}

/// Where the load-balancing loop is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lb {
    Idle,
    /// Renewed and listed; the conditional claim of `partition` is in flight.
    Claiming {
        partition: u8,
        expected: Option<Version>,
    },
    /// Awaiting the pumps of lost partitions (and so their handlers).
    Stopping,
}

/// What a partition pump task is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PumpPhase {
    /// Created by the balancer; reads the checkpoint and opens its receiver next.
    Starting,
    Receiving,
    /// Sequential single dispatch of the batch `lo..hi`: `current` is running.
    Invoking {
        lo: u64,
        hi: u64,
        current: u64,
    },
    /// The gate passed; the checkpoint write (exclusive position `next`) is in flight.
    Checkpointing {
        next: u64,
    },
    /// The task completed (its stop was requested).
    Done,
    /// The task faulted (displaced receiver).
    Faulted,
}

/// A partition pump plus its fresh `PartitionProcessor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pump {
    pub phase: PumpPhase,
    pub stop_requested: bool,
    /// The last event (sequence number) this pump started an invocation of (S2).
    pub last_started: Option<u64>,
}

impl Pump {
    pub fn fresh() -> Self {
        Pump {
            phase: PumpPhase::Starting,
            stop_requested: false,
            last_started: None,
        }
    }
    pub fn finished(&self) -> bool {
        matches!(self.phase, PumpPhase::Done | PumpPhase::Faulted)
    }

    /// Cancels the pump's task. A task waiting outside the handler (reading the
    /// checkpoint, awaiting a receive) returns at once: it can do nothing else
    /// first and nothing else observes the gap, so the exit is part of this step
    /// (a partial-order reduction that keeps the state space small). A task inside
    /// the handler finishes its invocation and the gate first.
    pub fn request_stop(&mut self) {
        self.stop_requested = true;
        if matches!(self.phase, PumpPhase::Starting | PumpPhase::Receiving) {
            self.phase = PumpPhase::Done;
        }
    }
}

/// One processor instance (EventProcessorHost + listener) of one app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instance {
    pub life: Life,
    pub lb: Lb,
    /// InstanceOwnership: per partition, the record version this instance believes it holds.
    pub owned: [Option<Version>; MAX_PARTITIONS],
    /// fnToken and listenerToken, cancelled together when the app is stopped.
    pub fn_cancelled: bool,
    pub pumps: [Option<Pump>; MAX_PARTITIONS],
}

impl Instance {
    fn new(life: Life) -> Self {
        Instance {
            life,
            lb: Lb::Idle,
            owned: [None; MAX_PARTITIONS],
            fn_cancelled: false,
            pumps: [None; MAX_PARTITIONS],
        }
    }

    pub fn pump_active(&self, p: usize) -> bool {
        self.pumps[p].as_ref().is_some_and(|pump| !pump.finished())
    }

    pub fn live(&self) -> bool {
        matches!(self.life, Life::Running | Life::ShuttingDown)
    }
}

/// The whole model state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MigState {
    pub hub: EventHub,
    /// One checkpoint store per consumer group in use, indexed by group id.
    pub stores: Vec<CheckpointStore>,
    /// Old-app instances first, then the new app's.
    pub instances: Vec<Instance>,
    pub phase: Phase,
    /// Per app, bit `k` set once event `k` (global number) was passed to an
    /// invocation of that app.
    pub invoked: [u8; 2],
    pub parts: u8,
    pub events: u8,
    pub per_app: u8,
    /// Whether the new app has its own group (group 1).
    pub separate: bool,
    pub crashes_used: u8,
    pub ghost: Ghost,
}

impl MigState {
    /// The initial state: the backlog in the hub, the old app running, the new one
    /// not deployed yet, nothing claimed or checkpointed.
    pub fn initial(config: &Config, variant: Variant) -> Self {
        const _: () = assert!(MAX_EVENTS <= 8 && MAX_INSTANCES >= 2);
        let parts = u64::from(config.partitions);
        let mut hub = EventHub::new(u32::from(config.partitions));
        for k in 0..u64::from(config.events) {
            let _ = hub.append((k % parts) as u32, k, 10 + (k % 3) as u32);
        }
        let mut groups = 1;
        if variant.separate() && hub.add_consumer_group(NEW_APP_GROUP).is_ok() {
            groups = 2;
        }
        let n = usize::from(config.instances_per_app);
        let instances = (0..2 * n)
            .map(|i| {
                Instance::new(if i < n {
                    Life::Running
                } else {
                    Life::NotStarted
                })
            })
            .collect();
        MigState {
            hub,
            stores: (0..groups)
                .map(|_| CheckpointStore::new(u32::from(config.partitions)))
                .collect(),
            instances,
            phase: Phase::OldOnly,
            invoked: [0; 2],
            parts: config.partitions,
            events: config.events,
            per_app: config.instances_per_app,
            separate: groups == 2,
            crashes_used: 0,
            ghost: Ghost::default(),
        }
    }

    pub fn partitions(&self) -> usize {
        usize::from(self.parts)
    }

    pub fn app_of(&self, i: usize) -> App {
        if i < usize::from(self.per_app) {
            App::Old
        } else {
            App::New
        }
    }

    /// The instances of `app`, by index.
    pub fn members(&self, app: App) -> std::ops::Range<usize> {
        let n = usize::from(self.per_app);
        match app {
            App::Old => 0..n,
            App::New => n..2 * n,
        }
    }

    /// The consumer group (and store index) `app` reads.
    pub fn group_of_app(&self, app: App) -> GroupId {
        GroupId::from(app == App::New && self.separate)
    }

    pub fn group_of(&self, i: usize) -> GroupId {
        self.group_of_app(self.app_of(i))
    }

    pub fn store_of(&self, i: usize) -> &CheckpointStore {
        &self.stores[self.group_of(i) as usize]
    }

    pub fn store_of_mut(&mut self, i: usize) -> &mut CheckpointStore {
        let g = self.group_of(i) as usize;
        &mut self.stores[g]
    }

    /// Global event number of partition `p`'s event `sequence`.
    pub fn event_number(&self, p: usize, sequence: u64) -> usize {
        sequence as usize * self.partitions() + p
    }

    pub fn invoked_by(&self, app: App, k: usize) -> bool {
        self.invoked[app.index()] & (1 << k) != 0
    }

    pub fn mark_invoked(&mut self, app: App, p: usize, sequence: u64) {
        let k = self.event_number(p, sequence);
        self.invoked[app.index()] |= 1 << k;
    }

    /// Whether `app` invoked every event.
    pub fn app_invoked_all(&self, app: App) -> bool {
        (0..usize::from(self.events)).all(|k| self.invoked_by(app, k))
    }

    /// The durable checkpoint position (exclusive) of partition `p` in `group`.
    pub fn checkpoint_next(&self, group: GroupId, p: usize) -> u64 {
        self.stores[group as usize]
            .checkpoint(p as u32)
            .map_or(0, |c| c.next_sequence())
    }

    /// The global numbers of partition `p`'s events below `group`'s checkpoint.
    pub fn below_checkpoint(&self, group: GroupId, p: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.checkpoint_next(group, p)).map(move |seq| self.event_number(p, seq))
    }

    /// ETags are compared only for equality, so the versions of each record (and
    /// every copy an instance holds) are renumbered densely in their order, keeping
    /// the state space finite.
    pub fn canonicalize_versions(&mut self) {
        for g in 0..self.stores.len() {
            for p in 0..self.partitions() {
                self.canonicalize_record(g, p);
            }
        }
    }

    fn canonicalize_record(&mut self, g: usize, p: usize) {
        let Some(current) = self.stores[g].ownership(p as u32).map(|r| r.version) else {
            return;
        };
        let readers: Vec<usize> = (0..self.instances.len())
            .filter(|&i| self.group_of(i) as usize == g)
            .collect();
        let mut seen = vec![current];
        for &i in &readers {
            let inst = &self.instances[i];
            seen.extend(inst.owned[p]);
            if let Lb::Claiming {
                partition,
                expected: Some(v),
            } = inst.lb
            {
                if usize::from(partition) == p {
                    seen.push(v);
                }
            }
        }
        seen.sort_unstable();
        seen.dedup();
        if seen.iter().enumerate().all(|(r, v)| *v == r as Version + 1) {
            return; // already dense
        }
        let rank = |v: Version| {
            seen.iter()
                .position(|s| *s == v)
                .map_or(v, |r| r as Version + 1)
        };
        self.stores[g].rename_version(p as u32, rank(current));
        for i in readers {
            let inst = &mut self.instances[i];
            inst.owned[p] = inst.owned[p].map(rank);
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

    /// A compact one-line rendering for counterexample traces.
    pub fn summary(&self) -> String {
        let mut out = format!("{:?} | ", self.phase);
        for (i, inst) in self.instances.iter().enumerate() {
            let _ = write!(out, "{}[{}", instance_name(self, i), life_name(inst.life));
            for (p, v) in inst.owned.iter().enumerate() {
                if let Some(v) = v {
                    let _ = write!(out, " owns p{p}@v{v}");
                }
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
                    let _ = write!(out, " pump{p}:{}", phase_name(&pump.phase));
                    if pump.stop_requested {
                        out.push('!');
                    }
                }
            }
            out.push_str("] ");
        }
        for g in 0..self.stores.len() as GroupId {
            let ckpts: Vec<String> = (0..self.partitions())
                .map(|p| self.checkpoint_next(g, p).to_string())
                .collect();
            let _ = write!(out, "g{g} ckpt [{}] ", ckpts.join(","));
        }
        for app in App::BOTH {
            let seen: Vec<String> = (0..usize::from(self.events))
                .filter(|&k| self.invoked_by(app, k))
                .map(|k| format!("e{k}"))
                .collect();
            let _ = write!(out, "{} invoked {{{}}} ", app.name(), seen.join(","));
        }
        out.trim_end().to_string()
    }
}

/// `old0`, `new1`, ...: the app and the instance's number within it.
pub fn instance_name(s: &MigState, i: usize) -> String {
    let app = s.app_of(i);
    format!("{}{}", app.name(), i - s.members(app).start)
}

fn life_name(life: Life) -> &'static str {
    match life {
        Life::NotStarted => "new",
        Life::Running => "run",
        Life::ShuttingDown => "stopping",
        Life::Stopped => "stopped",
        Life::Crashed => "crashed",
    }
}

fn phase_name(phase: &PumpPhase) -> String {
    match phase {
        PumpPhase::Starting => "starting".into(),
        PumpPhase::Receiving => "receiving".into(),
        PumpPhase::Invoking { lo, hi, current } => format!("invoke s{current} of {lo}..{hi}"),
        PumpPhase::Checkpointing { next } => format!("checkpoint->{next}"),
        PumpPhase::Done => "done".into(),
        PumpPhase::Faulted => "faulted".into(),
    }
}
