//! The state of the `breaker` protocol model: the world (hub, checkpoint store,
//! shared failure store), one sequential pump per partition, the app as the
//! control plane sees it, per-event marks, and the ghosts the properties judge.
//!
//! Time is relative: "now" stays at [`BrState::now`] and a clock tick ages the
//! failure records instead (`FailureStore::rebase`), so the state space is finite.

use std::fmt::Write as _;
use std::time::Duration;

use lockstep::world::checkpoint_store::CheckpointStore;
use lockstep::world::eventhubs::{EventHub, GroupId};
use lockstep::world::failure_store::FailureStore;

use super::config::Config;

/// One clock tick of the protocol level.
pub const TICK: Duration = Duration::from_secs(1);
/// The consumer group the app reads.
pub const GROUP: GroupId = 0;
/// Fixed-size arrays keep states cheap to clone (the config ranges stay below these).
pub const MAX_PARTITIONS: usize = 4;
pub const MAX_EVENTS: usize = 8;

/// What happened to one event (by global number `k`: partition `k mod P`,
/// sequence `k div P`). Counters saturate at 3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mark {
    /// TryExecute calls (one per delivery, retries excluded).
    pub deliveries: u8,
    /// Some execution succeeded.
    pub succeeded: bool,
    /// Some delivery ended in an eventual failure (after its retries).
    pub failed: bool,
    /// Received but not checkpointed when the app stopped, not yet delivered again.
    pub in_flight_at_stop: bool,
}

/// What a partition pump is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The app is stopped.
    Down,
    /// Reads the checkpoint and opens its receiver next.
    Starting,
    /// Awaits a receive.
    Receiving,
    /// Sequential single dispatch of `lo..hi`: `current` runs, attempt `attempt`.
    Invoking {
        lo: u8,
        hi: u8,
        current: u8,
        attempt: u8,
    },
    /// `current` failed for good; the failure is being recorded (a store call).
    Recording { lo: u8, hi: u8, current: u8 },
    /// The checkpoint write of position `next` (exclusive) is in flight.
    Checkpointing { next: u8 },
}

/// One partition's pump (owned by instance `p mod instances`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pump {
    pub phase: Phase,
    /// A function execution already ran in this tick (executions take a tick).
    pub ran: bool,
    /// The event this pump generation must invoke next (S2).
    pub next_expected: Option<u8>,
    /// After a stop: the checkpoint stored at stop time, where the resumed pump
    /// must start (L6).
    pub resume_expect: Option<u8>,
    /// The receiver position (events received so far), kept across a stop.
    pub received_hi: u8,
}

/// The function app as the control plane sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum App {
    Running,
    /// A break event was received; the stop follows within `break_latency`.
    Breaking {
        waited: u8,
    },
    Stopped,
}

/// Sticky facts set by transitions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ghost(pub u8);

impl Ghost {
    /// A pump invoked an event other than the next one of its generation (S2).
    pub const OUT_OF_ORDER: u8 = 1;
    /// An execution started more than T_break after the crossing (L6).
    pub const LATE_EXECUTION: u8 = 1 << 1;
    /// A resumed pump did not start at the checkpoint stored at stop time (L6).
    pub const RESUMED_ELSEWHERE: u8 = 1 << 2;
    /// Some instance's check saw the count above the threshold.
    pub const BREAK_EMITTED: u8 = 1 << 3;
    pub const STOPPED: u8 = 1 << 4;
    pub const RESUMED: u8 = 1 << 5;

    pub fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }
    pub fn set(&mut self, flag: u8) {
        self.0 |= flag;
    }
}

/// The whole model state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BrState {
    pub hub: EventHub,
    pub ckpts: CheckpointStore,
    pub failures: FailureStore,
    pub pumps: [Pump; MAX_PARTITIONS],
    pub app: App,
    /// The downstream dependency works (the outage window is over).
    pub downstream_up: bool,
    pub marks: [Mark; MAX_EVENTS],
    /// Ticks since the rolling count across all instances first exceeded the
    /// threshold in this run of the app (saturating just past T_break).
    pub crossed: Option<u8>,
    /// Executions started after the crossing in this run of the app (a figure).
    pub after_crossing: u8,
    pub resumes_used: u8,
    pub store_outages_used: u8,
    /// Events received but not checkpointed at stop times (counted, not hidden).
    pub in_flight_at_stop: u8,
    /// Of those, events delivered again after a resume.
    pub redelivered: u8,
    pub ghost: Ghost,
    pub parts: u8,
    pub events: u8,
}

impl BrState {
    /// Every event already in the hub; the app running, pumps starting, the
    /// downstream dependency down (the outage window starts with the run).
    pub fn initial(config: &Config) -> Self {
        let parts = u64::from(config.partitions);
        let mut hub = EventHub::new(config.partitions);
        for k in 0..u64::from(config.events) {
            let _ = hub.append((k % parts) as u32, k, 10 + (k % 3) as u32);
        }
        let mut failures = FailureStore::new(config.window());
        failures.set_lag(Duration::from_secs(u64::from(config.lag)));
        let pump = Pump {
            phase: Phase::Starting,
            ran: false,
            next_expected: None,
            resume_expect: None,
            received_hi: 0,
        };
        let mut pumps = [Pump {
            phase: Phase::Down,
            ..pump
        }; MAX_PARTITIONS];
        pumps[..config.partitions as usize].fill(pump);
        BrState {
            hub,
            ckpts: CheckpointStore::new(config.partitions),
            failures,
            pumps,
            app: App::Running,
            downstream_up: false,
            marks: [Mark::default(); MAX_EVENTS],
            crossed: None,
            after_crossing: 0,
            resumes_used: 0,
            store_outages_used: 0,
            in_flight_at_stop: 0,
            redelivered: 0,
            ghost: Ghost::default(),
            parts: config.partitions as u8,
            events: config.events as u8,
        }
    }

    /// The fixed "now" of the failure store (records age towards 0 instead).
    pub fn now(&self) -> Duration {
        self.failures.window()
    }

    pub fn partitions(&self) -> usize {
        usize::from(self.parts)
    }

    /// Events of partition `p`.
    pub fn events_in(&self, p: usize) -> u8 {
        let (n, parts) = (self.events, self.parts);
        n / parts + u8::from((p as u8) < n % parts)
    }

    pub fn mark(&self, p: usize, seq: u8) -> &Mark {
        &self.marks[usize::from(seq) * self.partitions() + p]
    }

    pub fn mark_mut(&mut self, p: usize, seq: u8) -> &mut Mark {
        let k = usize::from(seq) * self.partitions() + p;
        &mut self.marks[k]
    }

    /// The marks of partition `p`, by sequence number.
    pub fn partition_marks(&self, p: usize) -> impl Iterator<Item = &Mark> + '_ {
        (0..self.events_in(p)).map(move |seq| self.mark(p, seq))
    }

    /// The durable checkpoint position of `p` (exclusive; 0 without a checkpoint).
    pub fn checkpoint_next(&self, p: usize) -> u8 {
        self.ckpts
            .checkpoint(p as u32)
            .map_or(0, |c| c.next_sequence() as u8)
    }

    /// A compact one-line rendering for counterexample traces.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let app = match self.app {
            App::Running => "running".to_string(),
            App::Breaking { waited } => format!("breaking+{waited}s"),
            App::Stopped => "stopped".to_string(),
        };
        let _ = write!(
            out,
            "app {app} downstream {}",
            if self.downstream_up { "up" } else { "down" }
        );
        if let Some(c) = self.crossed {
            let _ = write!(out, " crossed+{c}s after={}", self.after_crossing);
        }
        for p in 0..self.partitions() {
            let pump = &self.pumps[p];
            let phase = match pump.phase {
                Phase::Down => "down".to_string(),
                Phase::Starting => "starting".to_string(),
                Phase::Receiving => "receiving".to_string(),
                Phase::Invoking {
                    lo,
                    hi,
                    current,
                    attempt,
                } => format!("invoke e{current}#{attempt} of {lo}..{hi}"),
                Phase::Recording { current, .. } => format!("record failure of e{current}"),
                Phase::Checkpointing { next } => format!("checkpoint {next}"),
            };
            let marks: Vec<String> = self
                .partition_marks(p)
                .map(|m| {
                    let outcome = match (m.succeeded, m.failed) {
                        (true, _) => "ok",
                        (false, true) => "F",
                        (false, false) => "",
                    };
                    format!("{}{outcome}", m.deliveries)
                })
                .collect();
            let _ = write!(
                out,
                " | p{p}: {phase} ckpt {} [{}]",
                self.checkpoint_next(p),
                marks.join(",")
            );
        }
        let ages: Vec<String> = self
            .failures
            .records()
            .iter()
            .map(|r| {
                let age = self.now().saturating_sub(r.at).as_secs();
                format!("k{}@-{age}s", r.key)
            })
            .collect();
        let _ = write!(out, " | failures [{}]", ages.join(","));
        if self.in_flight_at_stop > 0 {
            let _ = write!(
                out,
                " in-flight-at-stop={} redelivered={}",
                self.in_flight_at_stop, self.redelivered
            );
        }
        out
    }
}
