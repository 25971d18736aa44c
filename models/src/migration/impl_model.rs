//! `MigrationImpl`: the implementation-level model (model `migration`, level
//! `impl`): the app instances of `impl_app.rs` run by lockstep's executor.
//!
//! One run: the main task builds the world and starts the old app; the operator
//! task deploys the new app after a chosen delay, lets both run for a chosen
//! validation period, then stops the old app and awaits its instances; the bounded
//! crashes hit a chosen instance at a chosen time. The main task waits until the
//! old app is stopped and the new app has drained (or a virtual-time limit), ends
//! the run, and judges the end-of-run properties (names as at the protocol level).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use lockstep::explore::schedules::ImplModel;
use lockstep::explore::PropertyKind;
use lockstep::report::Bounds;
use lockstep::rt::{self, RunConfig, Shared};

use super::config::{Config, PlantedBug, Variant};
use super::impl_app::{ImplCfg, Instance, World, EXPIRATION, LB_INTERVAL};
use super::state::App;

/// A run gives up (and judges what it has) after this much virtual time.
pub const RUN_LIMIT: Duration = Duration::from_secs(20 * 60);

/// Implementation-level defaults: small enough for schedule exploration.
pub const IMPL_BOUND_DEFAULTS: [(&str, i64); 5] = [
    ("batch_size", 2),
    ("crashes", 0),
    ("events", 2),
    ("instances_per_app", 1),
    ("partitions", 2),
];

/// The implementation model of one variant within bounds (the same bound names
/// and ranges as the protocol model).
#[derive(Debug)]
pub struct MigrationImpl {
    cfg: ImplCfg,
    bounds: Bounds,
}

impl MigrationImpl {
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
            planted: PlantedBug::None,
            partitions: config.partitions,
            events: u32::from(config.events),
            instances_per_app: config.instances_per_app,
            crashes: config.crashes,
            batch_size: u32::from(config.batch_size),
        };
        Ok(MigrationImpl {
            cfg,
            bounds: config.to_bounds(),
        })
    }

    /// The registry constructor: no `--param`, no `[[faults]]` (crashes are a bound).
    pub fn from_params(
        variant: &str,
        bounds: &Bounds,
        params: &lockstep::cli::Params,
        faults: &[lockstep::world::FaultSpec],
    ) -> Result<Self, String> {
        crate::registry::reject_params(params)?;
        if !faults.is_empty() {
            return Err("the migration model takes no [[faults]]: crashes are a bound".into());
        }
        MigrationImpl::new(variant, bounds)
    }

    /// The same model with a bug planted on purpose (tests only use this).
    pub fn with_planted_bug(mut self, bug: PlantedBug) -> Self {
        self.cfg.planted = bug;
        self
    }

    /// Whether a receiver can be displaced within these bounds (see the protocol
    /// model's witnesses): two instances in one group and two partitions.
    fn contention(&self) -> bool {
        let c = &self.cfg;
        c.partitions >= 2 && (!c.variant.separate() || c.instances_per_app >= 2)
    }
}

/// The main future of one run.
async fn run_main(cfg: ImplCfg) {
    let world = World::new(cfg);
    let n = u32::from(cfg.instances_per_app);
    let instances: Vec<Instance> = (0..2 * n)
        .map(|id| {
            let app = if id < n { App::Old } else { App::New };
            let name = format!("{}{}", app.name(), id % n);
            Instance::new(id, app, name, world.clone())
        })
        .collect();
    let (old, new) = instances.split_at(n as usize);
    let old_runs: Vec<_> = old
        .iter()
        .map(|inst| rt::spawn(inst.name.clone(), inst.clone().run()))
        .collect();
    let old_stopped = Shared::new("old-app-stopped", false);
    let (operator_new, operator_old, flag) = (new.to_vec(), old.to_vec(), old_stopped.clone());
    let done = world.done.token();
    rt::spawn("operator", async move {
        let deploy_after = LB_INTERVAL * rt::choose("new app deployed after (intervals)", 3) as u32;
        if rt::sleep_cancellable(deploy_after, &done).await {
            return;
        }
        for inst in operator_new {
            rt::spawn(inst.name.clone(), inst.run());
        }
        let validation = LB_INTERVAL * (1 + 2 * rt::choose("validation (intervals)", 3) as u32);
        if rt::sleep_cancellable(validation, &done).await {
            return;
        }
        for inst in &operator_old {
            inst.fn_token.cancel();
            inst.stopping.cancel();
        }
        for run in old_runs {
            run.await;
        }
        flag.write(|f| *f = true);
        rt::sometimes("sometimes-old-app-stopped", true);
    });
    spawn_crashes(&world, &instances);
    while !finished(&world, &old_stopped, new) && rt::now() < RUN_LIMIT {
        rt::sleep(Duration::from_secs(1)).await;
    }
    let new_owns_all = new_app_owns_all(&world, new);
    rt::sometimes("sometimes-new-app-owns-all-partitions", new_owns_all);
    world.done.cancel();
    rt::until_quiescent().await;
    end_of_run(&world, new);
}

/// The old app is stopped and the new app is done: nothing in flight and nothing
/// to receive for it, and it invoked every event or its group's pointer is at the
/// end of every partition (nothing is left for it).
fn finished(world: &World, old_stopped: &Shared<bool>, new: &[Instance]) -> bool {
    let alive: Vec<u32> = new
        .iter()
        .filter(|i| !i.crash.is_cancelled())
        .map(|i| i.id)
        .collect();
    old_stopped.read(|f| *f)
        && !world.busy(App::New, &alive)
        && (world.invoked_all(App::New)
            || (0..u32::from(world.cfg.partitions))
                .all(|p| world.checkpoint_next(App::New, p) == world.cfg.events_in(p)))
}

/// Each crash hits a chosen instance at a chosen time (0, 1 or 2 intervals in).
fn spawn_crashes(world: &World, instances: &[Instance]) {
    for _ in 0..world.cfg.crashes {
        let (done, instances) = (world.done.token(), instances.to_vec());
        rt::spawn("crash", async move {
            let at = LB_INTERVAL * rt::choose("crash time (intervals)", 3) as u32;
            if rt::sleep_cancellable(at, &done).await {
                return;
            }
            instances[rt::choose("crash victim", instances.len())]
                .crash
                .cancel();
        });
    }
}

/// Every partition's record in the new app's group is active and held by a
/// new-app instance that has not crashed.
fn new_app_owns_all(world: &World, new: &[Instance]) -> bool {
    let now = rt::now();
    world.store(App::New).read(|s| {
        (0..u32::from(world.cfg.partitions)).all(|p| {
            s.ownership(p).is_some_and(|r| {
                r.is_active(now, EXPIRATION)
                    && new
                        .iter()
                        .any(|i| r.owner == Some(i.id) && !i.crash.is_cancelled())
            })
        })
    })
}

/// The first event (`p<p>/s<seq>`) below `app`'s group pointer that `readers`
/// never invoked, if any.
fn skipped_below_pointer(world: &World, app: App, readers: &[App]) -> Option<String> {
    (0..u32::from(world.cfg.partitions)).find_map(|p| {
        let next = world.checkpoint_next(app, p);
        (0..next)
            .find(|&seq| {
                readers
                    .iter()
                    .all(|r| world.ledger[r.index()][p as usize].read(|l| l[seq as usize] == 0))
            })
            .map(|seq| format!("p{p}/s{seq}"))
    })
}

/// The properties judged when the run is over.
fn end_of_run(world: &World, new: &[Instance]) {
    let survivor = new.iter().any(|i| !i.crash.is_cancelled());
    let missed: Vec<String> = (0..u32::from(world.cfg.partitions))
        .flat_map(|p| {
            world.ledger[App::New.index()][p as usize].read(|l| {
                l.iter()
                    .enumerate()
                    .filter(|(_, &n)| n == 0)
                    .map(|(seq, _)| format!("p{p}/s{seq}"))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    rt::always(
        "new-app-invokes-every-event",
        !survivor || missed.is_empty(),
        || format!("the new app never invoked {}", missed.join(", ")),
    );
    for (name, app) in [("new-app-no-skip", App::New), ("old-app-no-skip", App::Old)] {
        let skipped = skipped_below_pointer(world, app, &[app]);
        rt::always(name, skipped.is_none(), || {
            format!(
                "the {} app's group pointer passed {} it never invoked",
                app.name(),
                skipped.clone().unwrap_or_default()
            )
        });
    }
    let groups: Vec<(App, Vec<App>)> = if world.cfg.variant.separate() {
        vec![(App::Old, vec![App::Old]), (App::New, vec![App::New])]
    } else {
        vec![(App::Old, App::BOTH.to_vec())]
    };
    for (app, readers) in groups {
        let skipped = skipped_below_pointer(world, app, &readers);
        rt::always("s1-no-skip-per-group", skipped.is_none(), || {
            format!("a group pointer passed {skipped:?}, never invoked")
        });
    }
}

impl ImplModel for MigrationImpl {
    fn name(&self) -> String {
        "migration".to_string()
    }
    fn variant(&self) -> String {
        self.cfg.variant.name().to_string()
    }
    fn bounds(&self) -> Bounds {
        self.bounds.clone()
    }
    fn main(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(run_main(self.cfg))
    }

    fn properties(&self) -> Vec<(String, PropertyKind)> {
        let always = [
            "new-app-invokes-every-event",
            "new-app-no-skip",
            "old-app-no-skip",
            "s1-no-skip-per-group",
            "s2-in-order-within-pump",
            "s6-ownership-cas",
        ];
        let mut sometimes = vec![
            "sometimes-old-app-stopped",
            "sometimes-new-app-owns-all-partitions",
        ];
        if self.cfg.variant.separate() || self.cfg.partitions >= 2 {
            sometimes.push("sometimes-both-apps-running");
        }
        if self.contention() {
            sometimes.push("sometimes-receiver-displaced");
        }
        always
            .iter()
            .map(|n| (n.to_string(), PropertyKind::Always))
            .chain(
                sometimes
                    .iter()
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
