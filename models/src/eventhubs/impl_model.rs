//! `EventHubsImpl`: the implementation-level model (model `eventhubs`, level
//! `impl`), the processors of `impl_processor.rs` run by lockstep's executor, plus
//! the seeded steady-state throughput measurement [`steady_state_events_per_sec`].
//!
//! One run: the main task chooses the bounded storage outages (one instance's
//! calls fail for 150 s from a chosen time: rules of the checkpoint store's fault
//! plan, next to the scenario's `[[faults]]`), builds the world, starts every
//! instance (now or one interval later, a choice), spawns the crashes and listener
//! stops (each at a chosen time) and the L3 / L5 monitors, waits until every
//! event is delivered and checkpointed and every monitor has judged (or a
//! virtual-time limit), ends the run, and judges the end-of-run properties.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lockstep::explore::schedules::{ImplModel, RandomScheduler};
use lockstep::explore::PropertyKind;
use lockstep::report::{Bounds, Stopwatch};
use lockstep::rt::{self, Executor, RunConfig, RunStatus, TraceLevel};
use lockstep::world::{FaultRule, FaultSpec};

use super::config::{Config, PlantedBug, Variant};
pub use super::impl_monitors::RUN_LIMIT;
use super::impl_monitors::{crash_and_judge_failover, spawn_recovery_monitors};
use super::impl_processor::Processor;
use super::impl_world::{
    outage_rule, ImplCfg, LifecycleEvent, StorageWindows, World, DOWNSTREAM_OUTAGE,
    DOWNSTREAM_STARTS, EXPIRATION, LB_INTERVAL, ROLL_STEP,
};

/// An outage of one instance's storage access lasts longer than the expiration.
pub const OUTAGE: Duration = Duration::from_secs(150);
/// When a bounded outage may start: while the first batches are processed, or
/// one or two intervals in.
pub const OUTAGE_STARTS: [Duration; 3] = [
    Duration::from_millis(10),
    Duration::from_secs(30),
    Duration::from_secs(60),
];

/// Implementation-level defaults: small enough for schedule exploration.
pub const IMPL_BOUND_DEFAULTS: [(&str, i64); 9] = [
    ("batch_size", 2),
    ("crashes", 0),
    ("events", 2),
    ("instances", 2),
    ("max_retries", 0),
    ("outages", 0),
    ("partitions", 2),
    ("poison", 0),
    ("stops", 0),
];

/// Bounds only the implementation level knows, `(name, min, max, default)`;
/// echoed in reports only when set away from their default (so the replay
/// commands of runs without them stay as they were).
pub const IMPL_ONLY_BOUNDS: [(&str, i64, i64, i64); 2] = [
    ("downstream_outages", 0, 2, 0),
    ("min_batch_size", 1, 1_000, 1),
];

/// The implementation level accepts more events and larger batches than the
/// protocol model (whose state holds per-event arrays): `(name, min, max)`.
const IMPL_RANGES: [(&str, i64, i64); 2] = [("batch_size", 1, 1_000), ("events", 0, 100_000)];

/// The implementation model of one variant within bounds (the same bound names
/// as the protocol model; `events` and `batch_size` may be larger).
pub struct EventHubsImpl {
    cfg: ImplCfg,
    bounds: Bounds,
    /// Storage faults from the scenario (`[[faults]]`), on top of `outages`.
    rules: Vec<FaultRule>,
    /// Summed over every run of a check: the figures the report notes give.
    sink: Arc<Mutex<RunFigures>>,
}

impl EventHubsImpl {
    /// The bounds the CLI offers at this level: the protocol model's names plus
    /// [`IMPL_ONLY_BOUNDS`].
    pub fn default_bounds() -> Bounds {
        IMPL_BOUND_DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .chain(
                IMPL_ONLY_BOUNDS
                    .iter()
                    .map(|(k, .., d)| (k.to_string(), *d)),
            )
            .collect()
    }

    /// Validates like the protocol model (missing bounds take the impl defaults).
    pub fn new(variant: &str, bounds: &Bounds) -> Result<Self, String> {
        let mut all = Self::default_bounds();
        all.extend(bounds.iter().map(|(k, v)| (k.clone(), *v)));
        let mut only = [0i64; 2];
        for (slot, (name, min, max, default)) in only.iter_mut().zip(IMPL_ONLY_BOUNDS) {
            let value = all.remove(name).unwrap_or(default);
            if value < min || value > max {
                return Err(format!(
                    "bound `{name}` = {value} is out of range ({min}..={max})"
                ));
            }
            *slot = value;
        }
        let [downstream_outages, min_batch_size] = only;
        let mut large = [0i64; 2];
        for (slot, (name, min, max)) in large.iter_mut().zip(IMPL_RANGES) {
            let value = all.get(name).copied().unwrap_or(min);
            if value < min || value > max {
                return Err(format!(
                    "bound `{name}` = {value} is out of range ({min}..={max})"
                ));
            }
            *slot = value;
        }
        let [batch_size, events] = large;
        if min_batch_size > batch_size {
            return Err(format!(
                "bound `min_batch_size` = {min_batch_size} exceeds batch_size = {batch_size} \
                 (MinEventBatchSize must not exceed MaxEventBatchSize)"
            ));
        }
        let poison = all.get("poison").copied().unwrap_or(0);
        if poison > events {
            return Err(format!(
                "bound `poison` = {poison} exceeds events = {events}"
            ));
        }
        // The protocol model's validation for everything else.
        let mut small = all.clone();
        small.insert("batch_size".into(), batch_size.min(8));
        small.insert("events".into(), events.min(8));
        small.insert("poison".into(), poison.min(events.min(8)));
        let config = Config::from_bounds(&small)?;
        let cfg = ImplCfg {
            variant: Variant::parse(variant)?,
            instances: config.instances,
            partitions: config.partitions,
            events: events as u32,
            batch_size: batch_size as u32,
            max_retries: config.max_retries,
            failures: config.max_retries != 0,
            crashes: config.crashes,
            stops: config.stops,
            outages: config.outages,
            poison: poison as u32,
            rolling_restart: false,
            downstream_outages: downstream_outages as u8,
            min_batch_size: min_batch_size as u32,
            planted: PlantedBug::None,
        };
        let mut bounds = config.to_bounds();
        bounds.insert("batch_size".into(), batch_size);
        bounds.insert("events".into(), events);
        bounds.insert("poison".into(), poison);
        for ((name, .., default), value) in IMPL_ONLY_BOUNDS.iter().zip(only) {
            if value != *default {
                bounds.insert(name.to_string(), value);
            }
        }
        Ok(EventHubsImpl {
            cfg,
            bounds,
            rules: Vec::new(),
            sink: Arc::new(Mutex::new(RunFigures::default())),
        })
    }

    /// The figures summed over every run since the last [`Self::take_figures`].
    pub fn take_figures(&self) -> RunFigures {
        self.sink
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default()
    }

    /// Shares `sink` as the figures every run adds to (the registry entry reads it).
    pub fn with_sink(mut self, sink: Arc<Mutex<RunFigures>>) -> Self {
        self.sink = sink;
        self
    }

    /// The same model with a bug planted on purpose (tests only use this).
    pub fn with_planted_bug(mut self, bug: PlantedBug) -> Self {
        self.cfg.planted = bug;
        self
    }

    /// Adds storage faults (`storage-outage`, `throttle`, `latency`) to the
    /// checkpoint store's fault plan; processors are instances `P0`, `P1`, ...
    /// Other kinds are errors naming the table.
    pub fn with_faults(mut self, faults: &[FaultSpec]) -> Result<Self, String> {
        for (i, spec) in faults.iter().enumerate() {
            let rule = spec
                .to_rule()
                .map_err(|e| format!("faults[{i}]: {}", e.message))?;
            if !rule.kind.is_storage() {
                return Err(format!(
                    "faults[{i}]: the eventhubs model takes only storage faults \
                     (storage-outage, throttle, latency) on its checkpoint store, not `{}`; \
                     crashes and listener stops are the bounds crashes, stops",
                    spec.kind
                ));
            }
            self.rules.push(rule);
        }
        Ok(self)
    }

    /// A rolling restart (see [`ImplCfg::rolling_restart`]): needs an even
    /// number of instances, half of them replacements.
    pub fn with_rolling_restart(mut self) -> Result<Self, String> {
        if !self.cfg.instances.is_multiple_of(2) {
            return Err(format!(
                "rolling_restart needs an even number of instances (old ones and their \
                 replacements), not instances = {}",
                self.cfg.instances
            ));
        }
        self.cfg.rolling_restart = true;
        Ok(self)
    }

    /// The registry constructor: `--param rolling_restart=true` (the only
    /// parameter); `[[faults]]` are storage faults.
    pub fn from_params(
        variant: &str,
        bounds: &Bounds,
        params: &lockstep::cli::Params,
        faults: &[FaultSpec],
    ) -> Result<Self, String> {
        let mut rest = params.clone();
        let rolling = match rest.remove("rolling_restart").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(format!(
                    "parameter `rolling_restart` must be true or false, not `{other}`"
                ))
            }
        };
        crate::registry::reject_params(&rest)?;
        let model = EventHubsImpl::new(variant, bounds)?.with_faults(faults)?;
        if rolling {
            model.with_rolling_restart()
        } else {
            Ok(model)
        }
    }
}

/// The notes a check's report gets from its runs' figures (the B.8 caveat
/// counted, not hidden): empty without downstream outages.
pub fn figure_notes(downstream_outages: i64, figures: &RunFigures) -> Vec<String> {
    if downstream_outages <= 0 {
        return Vec::new();
    }
    vec![format!(
        "events checkpointed past after failing: {} over {} run(s) (at most {} in one run): \
         every execution of their last delivery failed (downstream outage), the checkpoint \
         moved past them anyway (B.3 step 7, B.8)",
        figures.checkpointed_past_failed, figures.runs, figures.most_past_failed_in_a_run
    )]
}

/// Figures a run reports back to its caller (outside the simulation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunFigures {
    /// Function invocations (deliveries), duplicates included.
    pub deliveries: u64,
    /// Executions (retries included).
    pub executions: u64,
    /// Events delivered at least once.
    pub distinct: u64,
    /// Events below the final checkpoint whose every execution failed.
    pub checkpointed_past_failed: u64,
    /// The largest `checkpointed_past_failed` of one run (summed figures only).
    pub most_past_failed_in_a_run: u64,
    /// Runs summed (summed figures only).
    pub runs: u64,
}

/// The main future of one run; `figures` receives the ledger totals at the end.
async fn run_main(
    cfg: ImplCfg,
    scenario_rules: Vec<FaultRule>,
    figures: Option<Arc<Mutex<RunFigures>>>,
    sink: Option<Arc<Mutex<RunFigures>>>,
) {
    let mut rules = scenario_rules;
    for _ in 0..cfg.outages {
        let from = OUTAGE_STARTS[rt::choose("outage start", OUTAGE_STARTS.len())];
        let victim = rt::choose("outage victim", usize::from(cfg.instances)) as u32;
        rules.push(outage_rule(victim, from, OUTAGE));
    }
    let windows = StorageWindows::of(&rules, cfg.instances);
    let downstream = (0..cfg.downstream_outages)
        .map(|_| {
            let from =
                DOWNSTREAM_STARTS[rt::choose("downstream outage start", DOWNSTREAM_STARTS.len())];
            (from, from + DOWNSTREAM_OUTAGE)
        })
        .collect();
    let world = World::new(cfg, rules, downstream);
    let procs: Vec<Processor> = (0..u32::from(cfg.instances))
        .map(|i| Processor::new(i, world.clone()))
        .collect();
    if cfg.rolling_restart {
        spawn_rolling_restart(&world, &procs);
    } else {
        for p in &procs {
            let proc = p.clone();
            let done = world.done.token();
            rt::spawn(format!("P{}", p.id), async move {
                if rt::choose_bool("starts one interval late")
                    && rt::sleep_cancellable(LB_INTERVAL, &done).await
                {
                    return;
                }
                proc.run().await;
            });
        }
    }
    spawn_faults(&world, &procs, &windows);
    spawn_recovery_monitors(&world, &procs, &windows);
    while (!world.finished() || world.pending.read(|n| *n) > 0) && rt::now() < RUN_LIMIT {
        rt::sleep(Duration::from_secs(1)).await;
    }
    world.done.cancel();
    rt::until_quiescent().await;
    end_of_run(&world, &procs, &windows);
    if let Some(out) = figures {
        let totals = totals(&world);
        if let Ok(mut f) = out.lock() {
            *f = totals;
        }
    }
    if let Some(sink) = sink.filter(|_| cfg.downstream_outages > 0) {
        let past = world.checkpointed_past_failed();
        if let Ok(mut f) = sink.lock() {
            f.runs += 1;
            f.checkpointed_past_failed += past;
            f.most_past_failed_in_a_run = f.most_past_failed_in_a_run.max(past);
        }
    }
}

/// A rolling restart: old instance `k` (first half) runs from the start and
/// gets a listener stop at `(k + 1) x ROLL_STEP`, when its replacement (second
/// half) starts; the stop and the start race (two tasks at one instant).
fn spawn_rolling_restart(world: &World, procs: &[Processor]) {
    let half = procs.len() / 2;
    for (k, old) in procs[..half].iter().enumerate() {
        let at = ROLL_STEP * (k as u32 + 1);
        rt::spawn(format!("P{}", old.id), old.clone().run());
        let replacement = procs[half + k].clone();
        let done = world.done.token();
        rt::spawn(format!("P{}", replacement.id), async move {
            if !rt::sleep_cancellable(at, &done).await {
                replacement.run().await;
            }
        });
        let (world, old) = (world.clone(), old.clone());
        rt::spawn(format!("restart{k}"), async move {
            if rt::sleep_cancellable(at, &world.done.token()).await {
                return;
            }
            stop_listener(&world, &old);
        });
    }
}

/// Listener StopAsync on `victim` (fnToken cancelled, partitions stopped, ownership relinquished).
fn stop_listener(world: &World, victim: &Processor) {
    victim.fn_token.cancel();
    victim.stopping.cancel();
    world.lifecycle.write(|l| {
        l.push(LifecycleEvent {
            at: rt::now(),
            instance: victim.id,
            crash: false,
        })
    });
    rt::sometimes("sometimes-stop", true);
}

/// The crashes (each judged for L3 afterwards) and the listener stops, each at
/// a chosen time (0, 1 or 2 intervals in) on a chosen instance.
fn spawn_faults(world: &World, procs: &[Processor], windows: &StorageWindows) {
    for _ in 0..world.cfg.crashes {
        let (world, procs, windows) = (world.clone(), procs.to_vec(), windows.clone());
        world.pending.write(|n| *n += 1);
        rt::spawn("crash", crash_and_judge_failover(world, procs, windows));
    }
    for _ in 0..world.cfg.stops {
        let (world, procs) = (world.clone(), procs.to_vec());
        rt::spawn("stop", async move {
            let at = LB_INTERVAL * rt::choose("fault time (intervals)", 3) as u32;
            if rt::sleep_cancellable(at, &world.done.token()).await {
                return;
            }
            let victim = &procs[rt::choose("fault victim", procs.len())];
            stop_listener(&world, victim);
        });
    }
}

fn totals(world: &World) -> RunFigures {
    let mut f = RunFigures::default();
    for ledger in &world.ledger {
        ledger.read(|tallies| {
            for t in tallies {
                f.deliveries += u64::from(t.deliveries);
                f.executions += u64::from(t.executions);
                f.distinct += u64::from(t.deliveries > 0);
            }
        });
    }
    f
}

/// The properties judged when the run is over: S1 (nothing below a checkpoint
/// was skipped), S4 (all delivered while an instance survives), S5 (the bound;
/// each storage-fault window counts as one outage).
fn end_of_run(world: &World, procs: &[Processor], windows: &StorageWindows) {
    let cfg = world.cfg;
    for p in 0..u32::from(cfg.partitions) {
        let next = world.checkpoint_next(p);
        let skipped = world.ledger[p as usize]
            .read(|l| l.iter().take(next as usize).position(|t| t.deliveries == 0));
        rt::always("s1-no-skip-without-invocation", skipped.is_none(), || {
            format!(
                "p{p}: checkpoint {next} covers e{} that was never invoked",
                skipped.unwrap_or(0)
            )
        });
    }
    let survivor = procs
        .iter()
        .any(|p| !p.crash.is_cancelled() && !p.stopping.is_cancelled());
    let totals = totals(world);
    if cfg.finite_retries() {
        rt::always(
            "s4-at-least-once",
            !survivor || totals.distinct == u64::from(cfg.events),
            || format!("{} of {} events invoked", totals.distinct, cfg.events),
        );
    }
    if let Some(bound) = executions_bound(&cfg, windows) {
        let most = world
            .ledger
            .iter()
            .map(|l| l.read(|t| t.iter().map(|t| t.executions).max().unwrap_or(0)))
            .max();
        let most = u64::from(most.unwrap_or(0));
        rt::always("s5-bounded-duplicates", most <= bound, || {
            format!("an event executed {most} times (bound {bound})")
        });
    }
    rt::sometimes(
        "sometimes-duplicate-delivery",
        totals.deliveries > totals.distinct,
    );
}

/// S5's bound for this run (the protocol model's formula), `None` when it is
/// unbounded (endless retries) or not computable (unpredictable storage faults).
fn executions_bound(cfg: &ImplCfg, windows: &StorageWindows) -> Option<u64> {
    if !windows.predictable() {
        return None;
    }
    let outages = usize::from(cfg.outages) + windows.count();
    let bounds: Bounds = [
        ("crashes", i64::from(cfg.crashes)),
        ("events", 0),
        ("instances", i64::from(cfg.instances)),
        ("max_retries", i64::from(cfg.max_retries)),
        ("outages", outages as i64),
        ("partitions", i64::from(cfg.partitions)),
        ("stops", i64::from(cfg.stops)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config = Config::from_bounds(&bounds).ok()?;
    config.executions_bound().map(u64::from)
}

impl ImplModel for EventHubsImpl {
    fn name(&self) -> String {
        "eventhubs".to_string()
    }
    fn variant(&self) -> String {
        self.cfg.variant.name().to_string()
    }
    fn bounds(&self) -> Bounds {
        self.bounds.clone()
    }
    fn main(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(run_main(
            self.cfg,
            self.rules.clone(),
            None,
            Some(self.sink.clone()),
        ))
    }

    fn properties(&self) -> Vec<(String, PropertyKind)> {
        let cfg = &self.cfg;
        let windows = StorageWindows::of(&self.rules, cfg.instances);
        let finite = cfg.finite_retries();
        let mut always: Vec<&str> = vec![
            "s1-no-skip-without-invocation",
            "s2-in-order-within-pump",
            "s3-owner-checkpoint-monotonic",
            "s6-ownership-cas",
            "s7-no-uninvoked-checkpoint",
            "s8-no-checkpoint-after-cancel",
        ];
        if finite {
            always.push("s4-at-least-once");
        }
        if finite && windows.predictable() {
            always.push("s5-bounded-duplicates");
        }
        let failover = finite && cfg.crashes > 0 && cfg.instances >= 2;
        let recovery = finite && (cfg.outages > 0 || windows.any());
        let mut sometimes: Vec<&str> = Vec::new();
        if cfg.crashes > 0 {
            sometimes.push("sometimes-crash");
        }
        if cfg.downstream_outages > 0 {
            sometimes.push("sometimes-failed-by-downstream-outage");
        }
        if failover {
            always.push("l3-failover");
            sometimes.push("sometimes-failover");
        }
        if recovery {
            always.push("l5-recovery-after-storage-outage");
            sometimes.push("sometimes-storage-recovery");
        }
        always
            .into_iter()
            .map(|n| (n.to_string(), PropertyKind::Always))
            .chain(
                sometimes
                    .into_iter()
                    .map(|n| (n.to_string(), PropertyKind::Sometimes)),
            )
            .collect()
    }

    fn run_config(&self) -> RunConfig {
        RunConfig {
            max_steps: 200_000,
            max_virtual_time: RUN_LIMIT + EXPIRATION * 4,
            ..RunConfig::default()
        }
    }
}

/// The result of one seeded steady-state run.
#[derive(Clone, Debug, PartialEq)]
pub struct SteadyState {
    pub figures: RunFigures,
    /// Scheduling steps the executor took.
    pub steps: u64,
    /// Simulated time until every event was checkpointed.
    pub virtual_time: Duration,
    pub wall_secs: f64,
    /// Deliveries per wall-clock second.
    pub events_per_sec: f64,
    /// How the run ended (`completed` when healthy).
    pub status: String,
}

/// Runs the v6 processors without faults (batches of 100, every function
/// succeeding) under a seeded random schedule until every event is delivered and
/// checkpointed, and measures simulated events per wall-clock second. The same
/// seed gives the same figures except the wall-clock ones.
pub fn steady_state_events_per_sec(
    seed: u64,
    instances: u8,
    partitions: u8,
    events: u32,
) -> SteadyState {
    let cfg = ImplCfg {
        variant: Variant::V6,
        instances: instances.max(1),
        partitions: partitions.max(1),
        events,
        batch_size: 100,
        max_retries: 0,
        failures: false,
        crashes: 0,
        stops: 0,
        outages: 0,
        poison: 0,
        rolling_restart: false,
        downstream_outages: 0,
        min_batch_size: 1,
        planted: PlantedBug::None,
    };
    let figures = Arc::new(Mutex::new(RunFigures::default()));
    let config = RunConfig {
        max_steps: u64::MAX,
        max_virtual_time: RUN_LIMIT * 4,
        trace_level: TraceLevel::Off,
    };
    let out = figures.clone();
    let watch = Stopwatch::start();
    let outcome = Executor::run(
        &config,
        Rc::new(RefCell::new(RandomScheduler::new(seed))),
        move || run_main(cfg, Vec::new(), Some(out), None),
    );
    let wall_secs = watch.elapsed_secs_f64().max(1e-9);
    let figures = figures.lock().map(|f| *f).unwrap_or_default();
    let status = match &outcome.status {
        RunStatus::Violation { property, .. } => format!("violation of {property}"),
        other => other.as_str().to_string(),
    };
    SteadyState {
        figures,
        steps: outcome.steps,
        virtual_time: outcome.virtual_time,
        wall_secs,
        events_per_sec: figures.deliveries as f64 / wall_secs,
        status,
    }
}
