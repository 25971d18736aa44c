//! The plug-in driver: runs a [`HostPlugin`] on lockstep's deterministic
//! executor as an implementation model, with a simulated environment
//! ([`SimEnv`]), and registers it with the CLI.
//!
//! One run: build the service, boot it (`start`), let `R` requesters call
//! `restart` concurrently, inject up to `F` storage failures (each build is
//! a choice the explorers enumerate), wait until nothing can move, then
//! check the end-of-run properties. Every run's lifecycle events are checked
//! against `host-abstract` (the plug-in's claimed variant, `A = F + 1`).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lockstep::cli::{LevelEntry, ModelEntry, Params, ReplayWhat, Request};
use lockstep::conform::{check_trace, ConformOptions, LifecycleEvent, LIFECYCLE_KIND};
use lockstep::explore::schedules::{self, ImplModel};
use lockstep::explore::{CheckOptions, PropertyKind};
use lockstep::report::{Bounds, Report, Verdict};
use lockstep::rt;

use super::abstract_spec::HOST_LONGEST_WAIT_MS;
use super::{BoxFuture, BuildError, HostEnv, HostPlugin, HostState};
use crate::host_abstract::HostAbstract;

/// Bounds of a plug-in run and their defaults: `R` restart requesters, `F`
/// storage failures, `S` stop requests (0 or 1).
pub const PLUGIN_BOUNDS: [(&str, i64); 3] = [("F", 1), ("R", 1), ("S", 0)];

/// What the environment records during one run.
#[derive(Default)]
struct Record {
    events: Vec<LifecycleEvent>,
    sem_holder: Option<String>,
    exclusive: bool,
    restart_during_start: bool,
}

/// The simulated environment of one run (lives inside the simulation).
pub struct SimEnv {
    failures_left: rt::Shared<u32>,
    channel_ready: rt::Shared<bool>,
    state: rt::Shared<HostState>,
    record: Mutex<Record>,
}

impl SimEnv {
    /// A fresh environment allowing `storage_failures` injected failures.
    pub fn new(storage_failures: u32) -> Self {
        SimEnv {
            failures_left: rt::Shared::new("storage-faults", storage_failures),
            channel_ready: rt::Shared::new("worker-channel", true),
            state: rt::Shared::new("host-state", HostState::Default),
            record: Mutex::new(Record {
                exclusive: true,
                ..Record::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lifecycle events reported so far.
    pub fn events(&self) -> Vec<LifecycleEvent> {
        self.lock().events.clone()
    }

    pub fn state(&self) -> HostState {
        self.state.get()
    }
}

impl HostEnv for SimEnv {
    fn now_ms(&self) -> u64 {
        rt::now().as_millis() as u64
    }

    fn sleep(&self, ms: u64) -> BoxFuture<()> {
        Box::pin(rt::sleep(Duration::from_millis(ms)))
    }

    fn spawn(&self, name: &str, daemon: bool, task: BoxFuture<()>) {
        if daemon {
            drop(rt::spawn_daemon(name.to_string(), task));
        } else {
            drop(rt::spawn(name.to_string(), task));
        }
    }

    fn build_host(&self, actor: &str) -> BoxFuture<Result<(), BuildError>> {
        let left = self.failures_left.clone();
        let label = format!("{actor}/build: storage outage");
        Box::pin(async move {
            rt::yield_now().await;
            if left.get() > 0 && rt::choose_bool(&label) {
                left.write(|n| *n -= 1);
                rt::emit("fault", &[("detail", "storage outage injected")]);
                return Err(BuildError::Storage);
            }
            Ok(())
        })
    }

    fn worker_channel_ready(&self) -> bool {
        self.channel_ready.get()
    }

    fn set_state(&self, actor: &str, state: HostState) {
        self.state.set(state);
        match state {
            HostState::Error => self.channel_ready.set(false),
            HostState::Running => self.channel_ready.set(true),
            _ => {}
        }
        self.emit(actor, "host.state", &[("to", state.name())]);
    }

    fn emit(&self, actor: &str, event: &str, fields: &[(&str, &str)]) {
        let mut rec = self.lock();
        let seq = rec.events.len() as u64 + 1;
        let mut le = LifecycleEvent::new(seq, self.now_ms(), actor, event);
        for (k, v) in fields {
            le.fields.insert((*k).to_string(), (*v).to_string());
        }
        match event {
            "sem.acquire" => {
                if rec.sem_holder.is_some() {
                    rec.exclusive = false;
                }
                rec.sem_holder = Some(actor.to_string());
            }
            "sem.release" => rec.sem_holder = None,
            "restart.requested" if rec.sem_holder.is_some() => rec.restart_during_start = true,
            _ => {}
        }
        rec.events.push(le);
        drop(rec);
        let mut all: Vec<(&str, &str)> = vec![("event", event), ("actor", actor)];
        all.extend_from_slice(fields);
        rt::emit(LIFECYCLE_KIND, &all);
    }
}

/// A plug-in as an implementation model.
pub struct PluginModel {
    plugin: Arc<dyn HostPlugin>,
    variant: String,
    restarts: u32,
    storage_failures: u32,
    stops: u32,
}

impl PluginModel {
    /// Builds the model of `plugin`'s `variant` with `bounds` (`R`, `F`).
    pub fn new(
        plugin: Arc<dyn HostPlugin>,
        variant: &str,
        bounds: &Bounds,
    ) -> Result<Self, String> {
        if !plugin.variants().iter().any(|v| v == variant) {
            return Err(format!(
                "unknown variant `{variant}` for model {} (expected one of: {})",
                plugin.name(),
                plugin.variants().join(", ")
            ));
        }
        let mut resolved: BTreeMap<&str, i64> = PLUGIN_BOUNDS.iter().copied().collect();
        for (k, v) in bounds {
            let Some(slot) = resolved.get_mut(k.as_str()) else {
                return Err(format!(
                    "unknown bound `{k}` for model {} (expected F, R and S)",
                    plugin.name()
                ));
            };
            let max = if k == "S" { 1 } else { 6 };
            if !(0..=max).contains(v) {
                return Err(format!("bound {k}={v} out of range 0..={max}"));
            }
            *slot = *v;
        }
        Ok(PluginModel {
            plugin,
            variant: variant.to_string(),
            restarts: resolved["R"] as u32,
            storage_failures: resolved["F"] as u32,
            stops: resolved["S"] as u32,
        })
    }

    /// The `host-abstract` model a run's events must conform to (none with a
    /// stop request: the abstract protocol has no shutdown).
    fn spec(&self) -> Option<HostAbstract> {
        if self.stops > 0 {
            return None;
        }
        let spec_variant = self.plugin.spec_variant(&self.variant)?;
        let bounds = Bounds::from([
            ("R".to_string(), i64::from(self.restarts)),
            ("F".to_string(), i64::from(self.storage_failures)),
            ("A".to_string(), i64::from(self.storage_failures) + 1),
        ]);
        HostAbstract::new(&spec_variant, &bounds).ok()
    }
}

/// End of a run: the properties judged on what the environment recorded.
fn judge_run(
    env: &SimEnv,
    observed: Option<HostState>,
    stopped_ok: bool,
    spec: Option<&HostAbstract>,
) {
    let state = observed.unwrap_or_else(|| env.state());
    let stopped = matches!(state, HostState::Stopping | HostState::Stopped);
    rt::always(
        "ends-running",
        state == HostState::Running || (stopped_ok && stopped),
        || format!("the run ended with the host {}", state.name()),
    );
    let (exclusive, during_start, events) = {
        let rec = env.lock();
        (rec.exclusive, rec.restart_during_start, rec.events.clone())
    };
    rt::always("start-semaphore-exclusive", exclusive, || {
        "two actors held the start semaphore at once".to_string()
    });
    rt::sometimes("restart-during-start", during_start);
    rt::sometimes(
        "storage-outage",
        events.iter().any(|e| e.event == "start.fail"),
    );
    if let Some(spec) = spec {
        // Nothing can move any more: the run is quiescent, for ever.
        let mut events = events;
        let end = env.now_ms() + HOST_LONGEST_WAIT_MS + 1;
        events.push(LifecycleEvent::new(
            events.len() as u64 + 1,
            end,
            "",
            "trace.end",
        ));
        let out = check_trace(spec, &events, &ConformOptions::default());
        let conforms = out.rejection.is_none();
        rt::always("conforms-to-spec", conforms, || match &out.rejection {
            Some(r) => format!(
                "event {} (`{}`) is not allowed by host-abstract {}: allowed {}",
                r.seq,
                r.event,
                lockstep::explore::Model::variant(spec),
                r.allowed.join("; ")
            ),
            None => "the run ends where the spec must still move".to_string(),
        });
    }
}

impl ImplModel for PluginModel {
    fn name(&self) -> String {
        self.plugin.name()
    }
    fn variant(&self) -> String {
        self.variant.clone()
    }
    fn bounds(&self) -> Bounds {
        Bounds::from([
            ("F".to_string(), i64::from(self.storage_failures)),
            ("R".to_string(), i64::from(self.restarts)),
            ("S".to_string(), i64::from(self.stops)),
        ])
    }
    fn properties(&self) -> Vec<(String, PropertyKind)> {
        let mut props = vec![
            ("ends-running".to_string(), PropertyKind::Always),
            (
                "start-semaphore-exclusive".to_string(),
                PropertyKind::Always,
            ),
        ];
        if self.spec().is_some() {
            props.push(("conforms-to-spec".to_string(), PropertyKind::Always));
        }
        if self.restarts > 0 {
            props.push(("restart-during-start".to_string(), PropertyKind::Sometimes));
        }
        if self.storage_failures > 0 {
            props.push(("storage-outage".to_string(), PropertyKind::Sometimes));
        }
        props
    }
    fn main(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let plugin = self.plugin.clone();
        let variant = self.variant.clone();
        let (restarts, failures, stops) = (self.restarts, self.storage_failures, self.stops);
        let spec = self.spec();
        Box::pin(async move {
            let env = Arc::new(SimEnv::new(failures));
            let service = match plugin.build(&variant, env.clone()) {
                Ok(service) => service,
                Err(e) => {
                    rt::always("ends-running", false, || {
                        format!("the plug-in failed to build: {e}")
                    });
                    return;
                }
            };
            let boot = service.clone();
            drop(rt::spawn("boot", async move { boot.start().await }));
            for j in 0..restarts {
                let s = service.clone();
                let actor = format!("restart#{}", j + 1);
                drop(rt::spawn("requester", async move {
                    s.restart(&actor, "admin").await
                }));
            }
            for _ in 0..stops {
                let s = service.clone();
                drop(rt::spawn("stopper", async move { s.stop().await }));
            }
            rt::until_quiescent().await;
            judge_run(&env, service.observed_state(), stops > 0, spec.as_ref());
        })
    }
}

/// Options for a plug-in: without facade-only synchronisation, partial-order
/// reduction and state caching would not see the implementation's own
/// primitives, so they are turned off (and the report says so).
fn plugin_opts(plugin: &dyn HostPlugin, opts: &CheckOptions) -> (CheckOptions, Option<String>) {
    let mut opts = opts.clone();
    if plugin.facade_sync_only() || opts.no_reduction {
        return (opts, None);
    }
    opts.no_reduction = true;
    let note = "the implementation synchronises with its own primitives: explored without \
                sleep sets or state caching (sound, exhaustive)";
    (opts, Some(note.to_string()))
}

fn reject_params(params: &Params) -> Result<(), String> {
    match params.keys().next() {
        Some(k) => Err(format!("this model takes no parameter `{k}`")),
        None => Ok(()),
    }
}

/// The CLI entry of a plug-in: `lockstep check <name> --variant V` explores
/// it at the implementation level; `replay` reproduces a counterexample.
pub fn register(plugin: Arc<dyn HostPlugin>) -> ModelEntry {
    let name = plugin.name();
    let variants = plugin.variants();
    let variant_refs: Vec<&str> = variants.iter().map(String::as_str).collect();
    let defaults: Bounds = PLUGIN_BOUNDS
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let (p1, p2) = (plugin.clone(), plugin.clone());
    let (n1, n2) = (name.clone(), name.clone());
    let check = move |req: &Request| -> Result<Report, String> {
        reject_params(&req.params)?;
        let model = PluginModel::new(p1.clone(), &req.variant, &req.bounds)?;
        let (opts, note) = plugin_opts(p1.as_ref(), &req.opts);
        let mut report = schedules::check(&model, &opts);
        report.notes.extend(note);
        report.replay = replay_command(&n1, req, &report);
        Ok(report)
    };
    let replay = move |req: &Request, what: &ReplayWhat| -> Result<Report, String> {
        reject_params(&req.params)?;
        let model = PluginModel::new(p2.clone(), &req.variant, &req.bounds)?;
        let mut report = match what {
            ReplayWhat::Schedule(text) => {
                let schedule: schedules::Schedule =
                    text.parse().map_err(|e| format!("--schedule: {e}"))?;
                schedules::replay(&model, &schedule).map_err(|e| e.to_string())?
            }
            ReplayWhat::Seed(seed) => {
                schedules::replay_seed(&model, &req.opts.strategy, *seed, req.opts.pct_depth)?
            }
        };
        report.replay = replay_command(&n2, req, &report);
        Ok(report)
    };
    ModelEntry::new(&name, &plugin.description(), &variant_refs)
        .with_level(
            "impl",
            LevelEntry {
                default_bounds: defaults,
                check: Box::new(check),
                replay: Box::new(replay),
            },
        )
        .default_level("impl")
}

fn replay_command(name: &str, req: &Request, report: &Report) -> String {
    let bounds = lockstep::cli::registry::bound_args(&req.bounds);
    match (&report.schedule, report.verdict) {
        (Some(schedule), Verdict::Violated) => format!(
            "lockstep replay {name} --variant {} --level impl{bounds} --schedule {schedule}",
            req.variant
        ),
        _ => format!(
            "lockstep check {name} --variant {} --level impl{bounds} --strategy {} --seed {}",
            req.variant,
            req.opts.strategy.as_str(),
            req.opts.seed
        ),
    }
}
