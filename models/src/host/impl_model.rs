//! `HostImpl`: the implementation-level model of the host lifecycle (model `host`, level
//! `impl`), async Rust on `lockstep::rt` explored schedule by schedule. Same variants,
//! bounds and parameters as the protocol model [`super::HostSpec`].
//!
//! One run: the main task picks the environment (`rt::choose` for every knob not fixed by
//! a parameter), spawns `StartAsync` (start#1), the restart requesters (restart#1..) and
//! the optional shutdown, waits until nothing can move, then judges the end-of-run
//! properties. A task left blocked is a deadlock, reported with its wait-for cycle
//! (`start#2` blocks its thread on GetFunctionMetadataAsync and waits on the
//! host-start-semaphore it holds itself).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use lockstep::explore::schedules::ImplModel;
use lockstep::explore::{Model, PropertyKind};
use lockstep::report::Bounds;
use lockstep::rt::{self, RunConfig};

use super::impl_service::{RunEnv, Service};
use super::spec::{Cfg, HostEnv, HostSpec, Variant};
use super::spec_state::HostState;

/// Implementation-level defaults: one of each transient fault and one restart, with as
/// many retry slots as failures can happen.
pub const IMPL_BOUND_DEFAULTS: [(&str, i64); 5] = [
    ("attempts", 3),
    ("host_exceptions", 0),
    ("restarts", 1),
    ("storage_failures", 1),
    ("worker_timeouts", 1),
];

/// The host implementation model.
pub struct HostImpl {
    variant: Variant,
    cfg: Cfg,
    env: HostEnv,
    bounds: Bounds,
}

impl HostImpl {
    pub fn default_bounds() -> Bounds {
        IMPL_BOUND_DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    }

    pub fn new(variant: &str, bounds: &Bounds) -> Result<Self, String> {
        HostImpl::with_env(variant, bounds, HostEnv::default())
    }

    /// Bounds are validated exactly as for the protocol model.
    pub fn with_env(variant: &str, bounds: &Bounds, env: HostEnv) -> Result<Self, String> {
        let mut all = HostImpl::default_bounds();
        all.extend(bounds.iter().map(|(k, v)| (k.clone(), *v)));
        let spec = HostSpec::with_env(variant, &all, env)?;
        Ok(HostImpl {
            variant: spec.variant,
            cfg: spec.cfg,
            env,
            bounds: spec.bounds(),
        })
    }

    /// The registry constructor (`--param k=v` as for the protocol model; no fault rules:
    /// faults are the bounded nondeterministic choices).
    pub fn from_params(
        variant: &str,
        bounds: &Bounds,
        params: &BTreeMap<String, String>,
        faults: &[lockstep::world::FaultSpec],
    ) -> Result<Self, String> {
        if !faults.is_empty() {
            return Err(
                "the host model takes no [[faults]]: faults are bounded choices \
                        (storage_failures, worker_timeouts, host_exceptions)"
                    .to_string(),
            );
        }
        let spec = HostSpec::from_params(variant, &Bounds::new(), params)?;
        HostImpl::with_env(variant, bounds, spec.env)
    }
}

impl ImplModel for HostImpl {
    fn name(&self) -> String {
        "host".to_string()
    }
    fn variant(&self) -> String {
        self.variant.name().to_string()
    }
    fn bounds(&self) -> Bounds {
        self.bounds.clone()
    }

    fn main(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let (variant, cfg, env) = (self.variant, self.cfg, self.env);
        Box::pin(async move {
            let pick =
                |fixed: Option<bool>, label: &str| fixed.unwrap_or_else(|| rt::choose_bool(label));
            let run_env = RunEnv {
                bundle: pick(env.bundle, "extension bundle"),
                writable: pick(env.writable, "writable file system"),
                offline: pick(env.offline, "app_offline.htm"),
                offline_reaches_metadata: env.offline_reaches_metadata,
            };
            let svc = Service::new(variant, cfg, run_env);
            rt::spawn("start", svc.start_async());
            // Each requester and the shutdown arrive in a window between timer firings, or
            // never (so "fewer requesters" and "no shutdown" are covered too).
            for _ in 0..cfg.restarts {
                let svc = svc.clone();
                rt::spawn("restart", async move {
                    if svc.arrival(false).await {
                        svc.restart_host(false).await;
                    }
                });
            }
            if env.stop != Some(false) {
                let (svc, must) = (svc.clone(), env.stop == Some(true));
                rt::spawn("stop", async move {
                    if svc.arrival(must).await {
                        svc.stop().await;
                    }
                });
            }
            rt::until_quiescent().await;
            svc.end_run();
            rt::until_quiescent().await;
            end_of_run(&svc, run_env.offline);
        })
    }

    fn properties(&self) -> Vec<(String, PropertyKind)> {
        let spec = HostSpec::with_env(self.variant.name(), &self.bounds, self.env)
            .expect("bounds were validated at construction");
        spec.properties()
            .into_iter()
            .map(|p| (p.name.to_string(), p.kind))
            .collect()
    }

    fn run_config(&self) -> RunConfig {
        RunConfig {
            max_steps: 10_000,
            ..RunConfig::default()
        }
    }
}

/// Properties judged when nothing can move any more.
fn end_of_run(svc: &Service, offline: bool) {
    let hosts = svc.hosts.get();
    let state = svc.state.get();
    let leak = hosts
        .recs
        .iter()
        .enumerate()
        .any(|(i, h)| !h.orphaned && hosts.active != Some(i));
    rt::always("no-orphan-leak", !leak, || {
        "a built host is neither active nor orphaned".into()
    });
    let inside = svc.holders.read(|h| !h.is_empty());
    let free = svc.sem.available() == 1;
    rt::always("permit-conservation", inside || free, || {
        "nobody is inside a start, yet the semaphore has no permit".into()
    });
    let settled = svc.settled_now();
    let ever = svc.ever_settled.get();
    rt::always("eventually-running-or-stopped", ever || settled, || {
        format!("never Running, offline, parked or stopped (state {state:?})")
    });
    rt::always("ends-running-or-stopped", settled, || {
        format!("the run ends in state {state:?}")
    });
    rt::sometimes("offline-start", offline && state == HostState::Offline);
    rt::sometimes("non-transient-park", hosts.parked(state));
}
