//! The built-in host implementation model as a plug-in: `Service` (the
//! step-for-step async model of `WebJobsScriptHostService`) behind the same
//! [`HostPlugin`] / [`HostService`] API a team's implementation uses, so the
//! plug-in driver checks it exactly as it checks `teamhost` (model
//! `host-plugin`, variants `pre-10766`, `fix-11142`, `fix-11825`).
//!
//! The built-in model brings its own environment (extension bundle, file
//! system, worker process, storage and worker faults, all choices the
//! explorers enumerate), so it uses [`HostEnv`] only for tasks it does not
//! spawn itself: nothing. Its lifecycle is judged on the state it keeps
//! ([`HostService::observed_state`]); its invariants (`non-reentrancy`,
//! permit conservation, ...) are its own `rt::always` checks, and its traces'
//! semaphore operations conform to the `host` protocol model (tests/conform.rs).

use std::sync::Arc;

use lockstep::rt;

use super::impl_service::{RunEnv, Service};
use super::spec::{Cfg, Variant};
use super::spec_state;
use crate::plugin::{BoxFuture, HostEnv, HostPlugin, HostService, HostState};

/// The built-in host implementation model, offered through the plug-in API.
pub struct BuiltinHostPlugin;

struct BuiltinService(Arc<Service>);

impl HostService for BuiltinService {
    fn start(&self) -> BoxFuture<()> {
        self.0.start_async()
    }
    fn restart(&self, _actor: &str, _reason: &str) -> BoxFuture<()> {
        self.0.restart_host(false)
    }
    fn stop(&self) -> BoxFuture<()> {
        self.0.stop()
    }
    fn observed_state(&self) -> Option<HostState> {
        Some(match self.0.state.get() {
            spec_state::HostState::Default => HostState::Default,
            spec_state::HostState::Running => HostState::Running,
            spec_state::HostState::Error => HostState::Error,
            spec_state::HostState::Stopping => HostState::Stopping,
            spec_state::HostState::Stopped => HostState::Stopped,
            spec_state::HostState::Offline => HostState::Offline,
        })
    }
}

impl HostPlugin for BuiltinHostPlugin {
    fn name(&self) -> String {
        "host-plugin".to_string()
    }
    fn description(&self) -> String {
        "the built-in host implementation model, driven through the plug-in API".to_string()
    }
    fn variants(&self) -> Vec<String> {
        Variant::NAMES.iter().map(|v| v.to_string()).collect()
    }
    fn spec_variant(&self, _variant: &str) -> Option<String> {
        // It logs no lifecycle events of its own; its conformance to the `host`
        // protocol model is checked on its executor traces instead.
        None
    }
    fn build(&self, variant: &str, _env: Arc<dyn HostEnv>) -> Result<Arc<dyn HostService>, String> {
        let variant = Variant::parse(variant)?;
        // One storage failure and one worker timeout, enough attempts to outlast them
        // and a restart; no non-transient exceptions (they park the host in Error).
        let cfg = Cfg {
            restarts: 1,
            storage_failures: 1,
            worker_timeouts: 1,
            attempts: 3,
            host_exceptions: 0,
        };
        let env = RunEnv {
            bundle: rt::choose_bool("extension bundle"),
            writable: rt::choose_bool("writable file system"),
            offline: false,
            offline_reaches_metadata: false,
        };
        Ok(Arc::new(BuiltinService(Service::new(variant, cfg, env))))
    }
    fn facade_sync_only(&self) -> bool {
        true
    }
}
