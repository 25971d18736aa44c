//! `BreakerImpl`: the implementation-level model (model `breaker`, level `impl`),
//! the app of `impl_app.rs` run by lockstep's executor, plus the seeded run at
//! scale behind `lockstep bench` ([`run_at_scale`]).
//!
//! One run: the main task builds the world, starts the control plane (which
//! starts the first app generation) and the operator, the downstream outage
//! (from 0 to a chosen end, or for ever) and the failure-store outages, waits
//! until every partition is checkpointed to its end while the app runs, the app
//! is stopped with no resume left, or a virtual-time limit, then shuts down and
//! judges S1.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lockstep::explore::schedules::{ImplModel, RandomScheduler};
use lockstep::explore::PropertyKind;
use lockstep::report::{Bounds, Stopwatch};
use lockstep::rt::{self, mpsc, Executor, RunConfig, RunStatus, TraceLevel};

use super::config::{Claim, Config, Level, PlantedBug, Variant};
use super::impl_app::{control_plane, operator};
use super::impl_world::{AppCfg, AppWorld, ControlMsg, Stats};

/// A run gives up (and judges what it has) after this much virtual time.
pub const RUN_LIMIT: Duration = Duration::from_secs(60 * 60);

/// The implementation model of one variant within bounds.
pub struct BreakerImpl {
    cfg: AppCfg,
}

impl BreakerImpl {
    pub fn default_bounds() -> Bounds {
        Config::default_bounds(Level::Impl)
    }

    /// Explores with 1 s executions and retry delays, a downstream outage that ends
    /// after 25 s or never, and an operator who resumes 5 s or 60 s after a stop.
    pub fn new(variant: &str, bounds: &Bounds, claim: Claim) -> Result<Self, String> {
        let config = Config::from_bounds(bounds, Level::Impl)?;
        if config.events > 64 {
            return Err(format!(
                "bound `events` = {} is too large for schedule exploration (at most 64; \
                 `lockstep bench` runs the model at scale)",
                config.events
            ));
        }
        let cfg = AppCfg {
            variant: Variant::parse(variant)?,
            config,
            claim,
            planted: PlantedBug::None,
            execution: Duration::from_secs(1),
            retry_delay: Duration::from_secs(1),
            outage_ends: [Some(Duration::from_secs(25)), None],
            resume_delays: [Duration::from_secs(5), Duration::from_secs(60)],
            store_outage: Duration::from_secs(20),
        };
        Ok(BreakerImpl { cfg })
    }

    /// The registry constructor: `--param claim=...` only, no `[[faults]]` (faults are bounds).
    pub fn from_params(
        variant: &str,
        bounds: &Bounds,
        params: &lockstep::cli::Params,
        faults: &[lockstep::world::FaultSpec],
    ) -> Result<Self, String> {
        if !faults.is_empty() {
            return Err(
                "the breaker model takes no [[faults]]: the downstream outage is built \
                        in, failure-store outages are the bound store_outages"
                    .into(),
            );
        }
        BreakerImpl::new(variant, bounds, Claim::from_params(params)?)
    }

    /// The same model with a planted bug (must-find tests).
    pub fn with_planted(mut self, bug: PlantedBug) -> Self {
        self.cfg.planted = bug;
        self
    }
}

/// The main future of one run; `out` receives the run's totals at the end.
async fn run_main(cfg: AppCfg, out: Option<Arc<Mutex<Stats>>>) {
    let (world, inbox) = AppWorld::new(cfg);
    let (to_operator, stops) = mpsc::named("operator.inbox", None);
    rt::spawn(
        "control-plane",
        control_plane(world.clone(), inbox, to_operator),
    );
    rt::spawn("operator", operator(world.clone(), stops));
    spawn_outages(&world);
    // Done when everything is checkpointed and the app runs (a stopped app is
    // resumed first), or when it is stopped for good.
    let done = |w: &AppWorld| w.stopped_for_good() || (w.all_checkpointed() && w.running());
    while !done(&world) && rt::now() < RUN_LIMIT {
        rt::sleep(Duration::from_secs(1)).await;
    }
    let _ = world.control.send(ControlMsg::Shutdown).await;
    rt::until_quiescent().await;
    end_of_run(&world);
    if let Some(out) = out {
        let stats = world.totals();
        if let Ok(mut slot) = out.lock() {
            *slot = stats;
        }
    }
}

/// The downstream outage (from 0 to a chosen end) and `store_outages`
/// failure-store outages of a chosen instance at a chosen time.
fn spawn_outages(world: &AppWorld) {
    let ends = world.cfg.outage_ends;
    let end = ends[rt::choose("downstream outage ends", ends.len())];
    if let Some(end) = end {
        let up = world.downstream_up.clone();
        rt::spawn("downstream", async move {
            rt::sleep(end).await;
            up.set(true);
        });
    }
    for _ in 0..world.cfg.config.store_outages {
        let w = world.clone();
        rt::spawn("store-outage", async move {
            let at = Duration::from_secs(3 * rt::choose("store outage at (x3 s)", 3) as u64);
            rt::sleep(at).await;
            let victim = rt::choose("store outage victim", w.cfg.config.instances as usize) as u32;
            w.failures.write(|f| f.set_outage(victim, true));
            rt::sleep(w.cfg.store_outage).await;
            w.failures.write(|f| f.set_outage(victim, false));
        });
    }
}

/// S1 (nothing below a checkpoint skipped), the unqualified claim, and the figures.
fn end_of_run(world: &AppWorld) {
    for p in 0..world.cfg.config.partitions {
        let next = world.checkpoint_next(p) as usize;
        let skipped =
            world.marks[p as usize].read(|m| m.iter().take(next).position(|m| m.deliveries == 0));
        rt::always("s1-no-skip-without-invocation", skipped.is_none(), || {
            format!(
                "p{p}: checkpoint {next} covers e{} that was never invoked",
                skipped.unwrap_or(0)
            )
        });
    }
    world.check_unqualified_claim();
    world.fold_run_figures();
    let s = world.totals();
    rt::emit(
        "breaker-figures",
        &[
            ("executions", &s.executions.to_string()),
            ("failures", &s.failures.to_string()),
            ("stops", &s.stops.to_string()),
            ("in_flight_at_stop", &s.in_flight_at_stop.to_string()),
            ("redelivered", &s.redelivered.to_string()),
            ("max_after_crossing", &s.max_after_crossing.to_string()),
            (
                "max_after_crossing_ms",
                &s.max_after_crossing_ms.to_string(),
            ),
        ],
    );
}

impl ImplModel for BreakerImpl {
    fn name(&self) -> String {
        "breaker".to_string()
    }
    fn variant(&self) -> String {
        self.cfg.variant.name().to_string()
    }
    fn bounds(&self) -> Bounds {
        self.cfg.config.to_bounds()
    }
    fn main(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(run_main(self.cfg, None))
    }

    fn properties(&self) -> Vec<(String, PropertyKind)> {
        let mut names: Vec<&str> = Vec::new();
        if self.cfg.claim == Claim::Unqualified {
            names.push("every-event-succeeds-or-reprocessed");
        }
        names.extend([
            "s1-no-skip-without-invocation",
            "s2-in-order-within-pump",
            "l6-stops-within-bound",
            "l6-resume-at-checkpoint",
        ]);
        let mut props: Vec<(String, PropertyKind)> = names
            .into_iter()
            .map(|n| (n.to_string(), PropertyKind::Always))
            .collect();
        let c = &self.cfg.config;
        let busiest = match self.cfg.variant {
            Variant::SharedCounter => u64::from(c.events),
            Variant::PerInstanceCounter => (0..c.instances)
                .map(|i| {
                    (0..c.partitions)
                        .filter(|&p| c.owner_of(p) == i)
                        .map(|p| c.events_in(p))
                        .sum::<u64>()
                })
                .max()
                .unwrap_or(0),
        };
        let breakable = busiest > u64::from(c.threshold);
        let mut witnesses = Vec::new();
        if breakable {
            witnesses.extend(["sometimes-breaker-opened", "sometimes-app-stopped"]);
            if c.resumes >= 1 {
                witnesses.extend(["sometimes-resumed", "sometimes-inflight-redelivered"]);
            }
        }
        props.extend(
            witnesses
                .into_iter()
                .map(|n| (n.to_string(), PropertyKind::Sometimes)),
        );
        props
    }

    fn run_config(&self) -> RunConfig {
        RunConfig {
            max_steps: 200_000,
            max_virtual_time: RUN_LIMIT * 2,
            ..RunConfig::default()
        }
    }
}

/// The result of one seeded run at scale.
#[derive(Clone, Debug, PartialEq)]
pub struct AtScale {
    pub stats: Stats,
    pub steps: u64,
    pub virtual_time: Duration,
    pub wall_ms: u64,
    /// How the run ended (`completed`, or the violated property).
    pub status: String,
}

/// The bench run: the implementation model on rt (not a separate simulator),
/// shared counter, guide defaults (more than 100 failures in 30 s, batches of
/// 100), `instances` x `partitions`, `events` events, 10 ms executions with one
/// retry after 100 ms, a downstream outage of the first 60 s, a 10 s control
/// plane, an operator who resumes 30 s or 60 s after a stop (up to 3 times),
/// under a seeded random schedule with tracing off.
pub fn run_at_scale(
    seed: u64,
    instances: u32,
    partitions: u32,
    events: u32,
) -> Result<AtScale, String> {
    let mut bounds = Config::default_bounds(Level::Impl);
    for (k, v) in [
        ("instances", i64::from(instances)),
        ("partitions", i64::from(partitions)),
        ("events", i64::from(events)),
        ("threshold", 100),
        ("window_secs", 30),
        ("break_latency", 10),
        ("batch_size", 100),
        ("max_retries", 1),
        ("resumes", 3),
    ] {
        bounds.insert(k.to_string(), v);
    }
    let config = Config::from_bounds(&bounds, Level::Impl)?;
    let cfg = AppCfg {
        variant: Variant::SharedCounter,
        config,
        claim: Claim::Qualified,
        planted: PlantedBug::None,
        execution: Duration::from_millis(10),
        retry_delay: Duration::from_millis(100),
        outage_ends: [Some(Duration::from_secs(60)); 2],
        resume_delays: [Duration::from_secs(30), Duration::from_secs(60)],
        store_outage: Duration::ZERO,
    };
    let stats = Arc::new(Mutex::new(Stats::default()));
    let run_config = RunConfig {
        max_steps: u64::MAX,
        max_virtual_time: RUN_LIMIT * 4,
        trace_level: TraceLevel::Off,
    };
    let out = stats.clone();
    let watch = Stopwatch::start();
    let outcome = Executor::run(
        &run_config,
        Rc::new(RefCell::new(RandomScheduler::new(seed))),
        move || run_main(cfg, Some(out)),
    );
    let wall_ms = watch.elapsed_ms();
    let status = match &outcome.status {
        RunStatus::Violation { property, .. } => format!("violation of {property}"),
        other => other.as_str().to_string(),
    };
    Ok(AtScale {
        stats: stats.lock().map(|s| *s).unwrap_or_default(),
        steps: outcome.steps,
        virtual_time: outcome.virtual_time,
        wall_ms,
        status,
    })
}
