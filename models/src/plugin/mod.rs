//! The plug-in API: how a team's own implementation of the host start/restart
//! lifecycle is driven and checked by lockstep, in its own CI.
//!
//! An implementation provides a [`HostPlugin`]: given a [`HostEnv`] (time,
//! tasks, storage, the worker channel, and where to report lifecycle events)
//! it builds a [`HostService`] with `start`, `restart` and `stop`. lockstep's
//! [`driver`] constructs it inside the deterministic executor on
//! `lockstep::rt`, boots it, sends it restart requests, injects storage
//! failures (a nondeterministic choice the explorers enumerate), and checks
//!
//! * deadlock freedom (the executor sees every task, including ones blocked
//!   on the implementation's own primitives),
//! * the implementation's observable behaviour against the protocol model
//!   (every run's lifecycle events must conform to `host-abstract` of the
//!   variant the plug-in claims, via [`lockstep::conform`]),
//! * mutual exclusion of the start semaphore and "ends running" (from the
//!   events),
//!
//! with the same schedule explorers (`dfs`, `random`, `pct`) and reports as
//! every built-in implementation model. [`register`] turns a plug-in into a
//! CLI model entry (`lockstep check <name> --level impl`).
//!
//! Nothing here depends on lockstep's executor: `HostEnv` is a trait, so the
//! same implementation runs under madsim or tokio with an environment written
//! for them (see `impls/teamhost/tests/madsim.rs`).
//!
//! # Rules for an implementation
//!
//! * Await only futures the environment gives ([`HostEnv::sleep`],
//!   [`HostEnv::build_host`]) or your own synchronisation built from std
//!   (wakers, atomics, `Mutex` held only between awaits). Do not block threads.
//! * Spawn every background task through [`HostEnv::spawn`] so it is tracked.
//! * Report lifecycle events with [`HostEnv::emit`] (schema of
//!   `docs/conformance.md`) and state changes with [`HostEnv::set_state`].

pub mod abstract_spec;
pub mod driver;
pub mod hooks;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, sendable future: what the plug-in traits exchange.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The host states an implementation reports (`ScriptHostState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostState {
    Default,
    Starting,
    Running,
    Error,
    Stopping,
    Stopped,
    Offline,
}

impl HostState {
    pub fn name(self) -> &'static str {
        match self {
            HostState::Default => "Default",
            HostState::Starting => "Starting",
            HostState::Running => "Running",
            HostState::Error => "Error",
            HostState::Stopping => "Stopping",
            HostState::Stopped => "Stopped",
            HostState::Offline => "Offline",
        }
    }
}

/// Why building a host failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// A transient storage failure (the host retries with backoff).
    Storage,
}

/// What lockstep (or any driver) gives an implementation.
pub trait HostEnv: Send + Sync + 'static {
    /// Virtual (or simulated) time in milliseconds.
    fn now_ms(&self) -> u64;
    /// Sleeps `ms` milliseconds of virtual time.
    fn sleep(&self, ms: u64) -> BoxFuture<()>;
    /// Spawns a tracked task. A `daemon` is a service loop that may still be
    /// waiting when everything else is done (not a deadlock).
    fn spawn(&self, name: &str, daemon: bool, task: BoxFuture<()>);
    /// Builds a host (reads storage): may fail with a storage error the
    /// driver injects. A scheduling point.
    fn build_host(&self, actor: &str) -> BoxFuture<Result<(), BuildError>>;
    /// Whether a worker channel is initialized (metadata can be loaded).
    /// Channels go away when the host enters `Error` and come back when it
    /// reaches `Running` (the dispatcher's behaviour).
    fn worker_channel_ready(&self) -> bool;
    /// Publishes a state change made by `actor` (also reports `host.state`).
    fn set_state(&self, actor: &str, state: HostState);
    /// Reports a lifecycle event of `actor` (schema v1 name and fields).
    fn emit(&self, actor: &str, event: &str, fields: &[(&str, &str)]);
}

/// A running host service, as the implementation builds it.
pub trait HostService: Send + Sync {
    /// `StartAsync`: the first start (returns once it has run or handed over
    /// to background retries).
    fn start(&self) -> BoxFuture<()>;
    /// `RestartHostAsync` from an external requester named `actor`.
    fn restart(&self, actor: &str, reason: &str) -> BoxFuture<()>;
    /// `StopAsync`.
    fn stop(&self) -> BoxFuture<()>;
    /// The host's state as the implementation keeps it, for implementations
    /// that do not report it through [`HostEnv::set_state`] (the driver then
    /// judges `ends-running` on this).
    fn observed_state(&self) -> Option<HostState> {
        None
    }
}

/// An implementation of the host lifecycle that lockstep can drive.
pub trait HostPlugin: Send + Sync + 'static {
    /// Model name on the command line (`teamhost`).
    fn name(&self) -> String;
    /// One-line description for `lockstep list`.
    fn description(&self) -> String;
    /// Variant names (`ok`, `mutant-...`).
    fn variants(&self) -> Vec<String>;
    /// The `host-abstract` variant whose observable behaviour `variant` must
    /// conform to (`fixed`, or `buggy` for a deliberately broken mutant), or
    /// `None` to skip the conformance property.
    fn spec_variant(&self, variant: &str) -> Option<String>;
    /// Builds one service on `env` (called inside the simulation, once per run).
    fn build(&self, variant: &str, env: Arc<dyn HostEnv>) -> Result<Arc<dyn HostService>, String>;
    /// Whether every synchronisation of the implementation goes through
    /// `lockstep::rt` (then partial-order reduction and state caching are
    /// sound). Implementations with their own primitives say `false` and are
    /// explored without them.
    fn facade_sync_only(&self) -> bool {
        false
    }
}

pub use driver::{register, PluginModel, PLUGIN_BOUNDS};
