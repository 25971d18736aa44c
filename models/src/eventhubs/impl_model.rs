//! `EventHubsImpl`: the implementation-level model (model `eventhubs`, level
//! `impl`), the processors of `impl_processor.rs` run by lockstep's executor, plus
//! the seeded steady-state throughput measurement [`steady_state_events_per_sec`].
//!
//! One run: the main task builds the world, starts every instance (now or one
//! interval later, a choice), spawns the bounded faults (a crash, a listener stop,
//! a storage outage of one instance longer than the expiration interval, each at a
//! chosen time), waits until every event is delivered and checkpointed (or a
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
use lockstep::world::checkpoint_store::Checkpoint;

use super::config::{Config, Variant};
use super::impl_processor::{ImplCfg, Processor, World, EXPIRATION, LB_INTERVAL};

/// A run gives up (and judges what it has) after this much virtual time.
pub const RUN_LIMIT: Duration = Duration::from_secs(30 * 60);
/// An outage of one instance's storage access lasts longer than the expiration.
pub const OUTAGE: Duration = Duration::from_secs(150);

/// Implementation-level defaults: small enough for schedule exploration.
pub const IMPL_BOUND_DEFAULTS: [(&str, i64); 8] = [
    ("batch_size", 2),
    ("crashes", 0),
    ("events", 2),
    ("instances", 2),
    ("max_retries", 0),
    ("outages", 0),
    ("partitions", 2),
    ("stops", 0),
];

/// The implementation model of one variant within bounds (the same bound names
/// and ranges as the protocol model).
pub struct EventHubsImpl {
    cfg: ImplCfg,
    bounds: Bounds,
}

impl EventHubsImpl {
    pub fn default_bounds() -> Bounds {
        IMPL_BOUND_DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    }

    /// Validates like the protocol model (missing bounds take the impl defaults).
    pub fn new(variant: &str, bounds: &Bounds) -> Result<Self, String> {
        let mut all = Self::default_bounds();
        all.extend(bounds.iter().map(|(k, v)| (k.clone(), *v)));
        let config = Config::from_bounds(&all)?;
        let cfg = ImplCfg {
            variant: Variant::parse(variant)?,
            instances: config.instances,
            partitions: config.partitions,
            events: u32::from(config.events),
            batch_size: u32::from(config.batch_size),
            max_retries: config.max_retries,
            failures: config.max_retries != 0,
            crashes: config.crashes,
            stops: config.stops,
            outages: config.outages,
        };
        Ok(EventHubsImpl {
            cfg,
            bounds: config.to_bounds(),
        })
    }

    /// The registry constructor: no `--param`, no `[[faults]]` (faults are bounds).
    pub fn from_params(
        variant: &str,
        bounds: &Bounds,
        params: &lockstep::cli::Params,
        faults: &[lockstep::world::FaultSpec],
    ) -> Result<Self, String> {
        crate::registry::reject_params(params)?;
        if !faults.is_empty() {
            return Err("the eventhubs model takes no [[faults]]: faults are the bounds crashes, stops, outages".into());
        }
        EventHubsImpl::new(variant, bounds)
    }
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
}

/// The main future of one run; `figures` receives the ledger totals at the end.
async fn run_main(cfg: ImplCfg, figures: Option<Arc<Mutex<RunFigures>>>) {
    let world = World::new(cfg);
    let procs: Vec<Processor> = (0..u32::from(cfg.instances))
        .map(|i| Processor::new(i, world.clone()))
        .collect();
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
    spawn_faults(&world, &procs);
    while !world.finished() && rt::now() < RUN_LIMIT {
        rt::sleep(Duration::from_secs(1)).await;
    }
    world.done.cancel();
    rt::until_quiescent().await;
    end_of_run(&world, &procs);
    if let Some(out) = figures {
        let totals = totals(&world);
        if let Ok(mut f) = out.lock() {
            *f = totals;
        }
    }
}

/// A crash, a listener stop and a storage outage, each at a chosen time (0, 1 or 2
/// intervals in) on a chosen instance.
fn spawn_faults(world: &World, procs: &[Processor]) {
    let kinds = [
        ("crash", world.cfg.crashes),
        ("stop", world.cfg.stops),
        ("outage", world.cfg.outages),
    ];
    for (kind, count) in kinds {
        for _ in 0..count {
            let (world, procs) = (world.clone(), procs.to_vec());
            rt::spawn(kind, async move {
                let at = LB_INTERVAL * rt::choose("fault time (intervals)", 3) as u32;
                if rt::sleep_cancellable(at, &world.done.token()).await {
                    return;
                }
                let victim = &procs[rt::choose("fault victim", procs.len())];
                match kind {
                    "crash" => victim.crash.cancel(),
                    "stop" => {
                        victim.fn_token.cancel();
                        victim.stopping.cancel();
                    }
                    _ => {
                        world.store.write(|s| s.set_outage(victim.id, true));
                        let _ = rt::sleep_cancellable(OUTAGE, &world.done.token()).await;
                        world.store.write(|s| s.set_outage(victim.id, false));
                    }
                }
                rt::sometimes(&format!("sometimes-{kind}"), true);
            });
        }
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
/// was skipped), S4 (all delivered while an instance survives), S5 (the bound).
fn end_of_run(world: &World, procs: &[Processor]) {
    let cfg = world.cfg;
    for p in 0..u32::from(cfg.partitions) {
        let next = world
            .store
            .read(|s| s.checkpoint(p).map_or(0, Checkpoint::next_sequence));
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
    if cfg.max_retries >= 0 {
        rt::always(
            "s4-at-least-once",
            !survivor || totals.distinct == u64::from(cfg.events),
            || format!("{} of {} events invoked", totals.distinct, cfg.events),
        );
        let config = Config::from_bounds(&impl_bounds(&cfg)).ok();
        let bound = config
            .and_then(|c| c.executions_bound())
            .map_or(u64::MAX, u64::from);
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

fn impl_bounds(cfg: &ImplCfg) -> Bounds {
    [
        ("batch_size", i64::from(cfg.batch_size.min(8))),
        ("crashes", i64::from(cfg.crashes)),
        ("events", i64::from(cfg.events.min(8))),
        ("instances", i64::from(cfg.instances)),
        ("max_retries", i64::from(cfg.max_retries)),
        ("outages", i64::from(cfg.outages)),
        ("partitions", i64::from(cfg.partitions)),
        ("stops", i64::from(cfg.stops)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
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
        Box::pin(run_main(self.cfg, None))
    }

    fn properties(&self) -> Vec<(String, PropertyKind)> {
        let mut list: Vec<&str> = vec![
            "s1-no-skip-without-invocation",
            "s2-in-order-within-pump",
            "s3-owner-checkpoint-monotonic",
            "s6-ownership-cas",
            "s7-no-uninvoked-checkpoint",
            "s8-no-checkpoint-after-cancel",
        ];
        if self.cfg.max_retries >= 0 {
            list.extend(["s4-at-least-once", "s5-bounded-duplicates"]);
        }
        let mut props: Vec<(String, PropertyKind)> = list
            .into_iter()
            .map(|n| (n.to_string(), PropertyKind::Always))
            .collect();
        if self.cfg.crashes > 0 {
            props.push(("sometimes-crash".into(), PropertyKind::Sometimes));
        }
        props
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
        move || run_main(cfg, Some(out)),
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
