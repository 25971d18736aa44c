//! The shared world of the implementation-level `breaker` app: what one run
//! simulates ([`AppCfg`]), the cells every task shares ([`AppWorld`]: per
//! partition hub, checkpoint store, marks, positions and counters; the failure
//! store; the L6 crossing ghost; the app as the control plane sees it) and the
//! figures a run reports ([`Stats`]).

use std::time::Duration;

use lockstep::rt::{self, mpsc, Shared};
use lockstep::world::checkpoint_store::{Checkpoint, CheckpointStore};
use lockstep::world::eventhubs::EventHub;
use lockstep::world::failure_store::FailureStore;

use super::config::{Claim, Config, PlantedBug, Variant};
use super::state::Mark;

/// What one run simulates (bounds plus the timing the protocol level abstracts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppCfg {
    pub variant: Variant,
    pub config: Config,
    pub claim: Claim,
    pub planted: PlantedBug,
    /// How long one function execution takes.
    pub execution: Duration,
    /// The retry policy's fixed delay.
    pub retry_delay: Duration,
    /// The downstream outage starts with the run and ends at one of these
    /// (chosen per run; `None`: it never ends).
    pub outage_ends: [Option<Duration>; 2],
    /// The operator resumes this long after a stop (chosen per stop).
    pub resume_delays: [Duration; 2],
    /// A failure-store outage of one instance lasts this long.
    pub store_outage: Duration,
}

/// One partition's counters (one cell per partition, so that the two pumps'
/// bookkeeping does not make every step of theirs conflict for the explorer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PartStats {
    pub executions: u64,
    pub failures: u64,
    pub unrecorded: u64,
    pub breaks_sent: u64,
    pub redelivered: u64,
    /// Executions started after the crossing in the current app run.
    pub after_crossing: u64,
    /// The latest such start relative to its crossing (ms).
    pub latest_after_ms: u64,
}

/// Run totals, for figures (bench rows, tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    pub executions: u64,
    /// Eventual failures (after the retries).
    pub failures: u64,
    /// Eventual failures the store never counted (store call failed).
    pub unrecorded: u64,
    pub breaks_sent: u64,
    pub stops: u64,
    pub in_flight_at_stop: u64,
    pub redelivered: u64,
    /// First crossing of the rolling count across all instances, and first stop.
    pub first_crossing_ms: Option<u64>,
    pub first_stop_ms: Option<u64>,
    /// The most executions that started after a crossing in one app run, and
    /// the latest such start relative to its crossing.
    pub max_after_crossing: u64,
    pub max_after_crossing_ms: u64,
}

/// The L6 ghost: the crossing of the current app run, and the run's first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Crossing {
    pub at: Option<Duration>,
    pub first: Option<Duration>,
}

/// A pump's position facts, kept per partition across generations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Position {
    /// Events received so far by the current generation's receiver.
    pub received_hi: u64,
    /// The next event the current generation must invoke (S2).
    pub next_expected: u64,
    /// Set at a stop: where the resumed pump must start (L6).
    pub resume_expect: Option<u64>,
}

/// The app as the control plane sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AppView {
    /// A break event was accepted; the stop is under way.
    pub breaking: bool,
    pub stopped: bool,
    pub resumes_used: u32,
}

/// Messages to the control plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ControlMsg {
    /// An instance's check saw the count above the threshold (the Event Grid event).
    Break { instance: u32 },
    /// The operator restarts the app.
    Resume,
    /// The run is over.
    Shutdown,
}

/// The simulated world every task shares, one cell per independent object.
#[derive(Clone)]
pub struct AppWorld {
    pub cfg: AppCfg,
    /// Per partition: a one-partition hub and checkpoint store (partition 0 of
    /// each), so steps on different partitions commute for the explorer.
    pub hubs: Vec<Shared<EventHub>>,
    pub ckpts: Vec<Shared<CheckpointStore>>,
    pub failures: Shared<FailureStore>,
    pub downstream_up: Shared<bool>,
    /// Per partition, per sequence number.
    pub marks: Vec<Shared<Vec<Mark>>>,
    pub positions: Vec<Shared<Position>>,
    pub crossing: Shared<Crossing>,
    pub app: Shared<AppView>,
    pub part_stats: Vec<Shared<PartStats>>,
    /// The control plane's counters (stops, in-flight events, figures per run).
    pub ctl_stats: Shared<Stats>,
    pub control: mpsc::Sender<ControlMsg>,
}

impl AppWorld {
    /// Builds the world (inside the simulation) and the control plane's inbox.
    pub fn new(cfg: AppCfg) -> (Self, mpsc::Receiver<ControlMsg>) {
        let c = cfg.config;
        let mut hubs: Vec<EventHub> = (0..c.partitions).map(|_| EventHub::new(1)).collect();
        for k in 0..u64::from(c.events) {
            let p = (k % u64::from(c.partitions)) as usize;
            let _ = hubs[p].append(0, k, 10 + (k % 3) as u32);
        }
        let mut failures = FailureStore::new(c.window());
        failures.set_lag(Duration::from_secs(u64::from(c.lag)));
        let (control, inbox) = mpsc::named("control-plane.inbox", None);
        let world = AppWorld {
            cfg,
            hubs: hubs
                .into_iter()
                .enumerate()
                .map(|(p, hub)| Shared::new(format!("hub.p{p}"), hub))
                .collect(),
            ckpts: (0..c.partitions)
                .map(|p| Shared::new(format!("checkpoint.p{p}"), CheckpointStore::new(1)))
                .collect(),
            failures: Shared::new("failure-store", failures),
            downstream_up: Shared::new("downstream", false),
            marks: (0..c.partitions)
                .map(|p| {
                    let n = c.events_in(p) as usize;
                    Shared::new(format!("marks.p{p}"), vec![Mark::default(); n])
                })
                .collect(),
            positions: (0..c.partitions)
                .map(|p| Shared::new(format!("position.p{p}"), Position::default()))
                .collect(),
            crossing: Shared::new("l6.crossing", Crossing::default()),
            app: Shared::new("app", AppView::default()),
            part_stats: (0..c.partitions)
                .map(|p| Shared::new(format!("stats.p{p}"), PartStats::default()))
                .collect(),
            ctl_stats: Shared::new("stats.control-plane", Stats::default()),
            control,
        };
        (world, inbox)
    }

    pub fn checkpoint_next(&self, p: u32) -> u64 {
        self.ckpts[p as usize].read(|s| s.checkpoint(0).map_or(0, Checkpoint::next_sequence))
    }

    /// Closes the figures of the current app run: executions after its crossing.
    pub fn fold_run_figures(&self) {
        let after: u64 = self
            .part_stats
            .iter()
            .map(|s| s.read(|s| s.after_crossing))
            .sum();
        self.ctl_stats
            .write(|s| s.max_after_crossing = s.max_after_crossing.max(after));
    }

    /// The run's totals: the control plane's counters plus every partition's.
    pub fn totals(&self) -> Stats {
        let mut total = self.ctl_stats.get();
        total.first_crossing_ms = self
            .crossing
            .read(|c| c.first.map(|t| t.as_millis() as u64));
        for part in &self.part_stats {
            let s = part.get();
            total.executions += s.executions;
            total.failures += s.failures;
            total.unrecorded += s.unrecorded;
            total.breaks_sent += s.breaks_sent;
            total.redelivered += s.redelivered;
            total.max_after_crossing_ms = total.max_after_crossing_ms.max(s.latest_after_ms);
        }
        total
    }

    /// Every partition checkpointed to its end.
    pub fn all_checkpointed(&self) -> bool {
        (0..self.cfg.config.partitions)
            .all(|p| self.checkpoint_next(p) == self.cfg.config.events_in(p))
    }

    /// Stopped with no resume left: nothing will run again.
    pub fn stopped_for_good(&self) -> bool {
        let resumes = self.cfg.config.resumes;
        self.app.read(|a| a.stopped && a.resumes_used >= resumes)
    }

    /// Running with no stop under way (a stopped app will be resumed).
    pub fn running(&self) -> bool {
        self.app.read(|a| !a.breaking && !a.stopped)
    }

    /// `every-event-succeeds-or-reprocessed`: once resumed, no event below a
    /// checkpoint failed without ever succeeding.
    pub fn check_unqualified_claim(&self) {
        if self.cfg.claim != Claim::Unqualified || self.app.read(|a| a.resumes_used) == 0 {
            return;
        }
        for p in 0..self.cfg.config.partitions {
            let next = self.checkpoint_next(p) as usize;
            let lost = self.marks[p as usize]
                .read(|m| m.iter().take(next).position(|m| m.failed && !m.succeeded));
            rt::always(
                "every-event-succeeds-or-reprocessed",
                lost.is_none(),
                || {
                    format!(
                        "p{p}: e{} failed before the break and lies below checkpoint {next}",
                        lost.unwrap_or(0)
                    )
                },
            );
        }
    }
}
