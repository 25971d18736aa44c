//! `HostSpec`: the protocol model of the Azure Functions host start/restart lifecycle
//! (spec Part A), with variants `pre-10766`, `fix-11142` and `fix-11825` that differ
//! only in the metadata provider's `IsJobHostStarting()` predicate.
//!
//! Actors (A.5.6): start#1 (`StartAsync`), retry children in `attempts` slots
//! (start#2..), `restarts` external restart requesters (restart#1..; file watcher, admin,
//! specialization, or the health monitor when Running), an optional `StopAsync`, the
//! worker process and the unawaited channel shutdown. Faults are nondeterministic steps
//! bounded by `storage_failures`, `worker_timeouts` and `host_exceptions`. The environment
//! (extension bundle, writable file system, `app_offline.htm`, whether a shutdown comes,
//! how many requesters come) is chosen in the initial state, both ways unless fixed by a
//! [`HostEnv`] parameter.
//!
//! Modelling decisions worth knowing (each also said where it is coded):
//! * The provider's tracked host mirrors `ActiveHost`, null included (source at 63b33cc5:
//!   `_currentJobHost = args.NewHost`). So in a retry the tracked host is null (A.5.4).
//! * With the job host start skipped (offline, HandlingError modes), BuildHost does not
//!   install `ScriptStartupTypeLocator`, so the provider is not reached (checked in
//!   `AddScriptHostCore`); `offline_reaches_metadata` asks "what if it were".
//! * Metadata errors throw (the post-fix provider shape) in every variant, because the
//!   variants may differ only in the predicate.
//! * `attempts` caps the retry children (the real host retries for ever, #9924): a chain
//!   that would need more stays in Error, and liveness counts that as a failure, as in
//!   `host-abstract` (`A <= F`). Give `attempts` at least the sum of the fault bounds and
//!   `restarts` (a restart can cost one failed start through the channel race of A.6.13).
//! * The `ApplicationStopping` flag is set before `StopAsync` runs (the ordering A.5.5
//!   asks to keep explicit); a planted test mutation reverses it.

use std::collections::BTreeMap;

use lockstep::explore::{Model, Property};
use lockstep::report::Bounds;

use super::spec_action::{Action, Step, ACTOR_CHANNELS, ACTOR_ENV, ACTOR_STOP, ACTOR_WORKER};
use super::spec_log::{actor_name, render_log, render_state, Log};
use super::spec_state::{Actor, Chan, HostSt, HostState, Pc, StopPc, MAX_ACTORS, NONE};

/// The three variants (names are a contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Pre10766,
    Fix11142,
    Fix11825,
}

impl Variant {
    pub const NAMES: [&'static str; 3] = ["pre-10766", "fix-11142", "fix-11825"];
    pub fn parse(name: &str) -> Result<Variant, String> {
        match name {
            "pre-10766" => Ok(Variant::Pre10766),
            "fix-11142" => Ok(Variant::Fix11142),
            "fix-11825" => Ok(Variant::Fix11825),
            other => Err(format!(
                "unknown host variant `{other}` (expected one of: {})",
                Variant::NAMES.join(", ")
            )),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Variant::Pre10766 => Variant::NAMES[0],
            Variant::Fix11142 => Variant::NAMES[1],
            Variant::Fix11825 => Variant::NAMES[2],
        }
    }
}

/// Resolved bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cfg {
    pub restarts: u8,
    pub storage_failures: u8,
    pub worker_timeouts: u8,
    pub attempts: u8,
    pub host_exceptions: u8,
}

/// Bound names and defaults (`--bound k=v`).
/// `attempts` defaults to the sum of the fault bounds and `restarts` (each restart can
/// cost one failed start through the NotifyHostStopping channel race), the least that
/// lets the host outlast every failure.
pub const BOUND_DEFAULTS: [(&str, i64); 5] = [
    ("attempts", 4),
    ("host_exceptions", 1),
    ("restarts", 1),
    ("storage_failures", 1),
    ("worker_timeouts", 1),
];

/// Environment knobs (scenario `[params]`). `None` explores both values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostEnv {
    pub bundle: Option<bool>,
    pub writable: Option<bool>,
    pub offline: Option<bool>,
    pub stop: Option<bool>,
    /// A.5.5's open question: does an offline BuildHost still reach the provider?
    /// The source says no (the default); `true` explores the other answer.
    pub offline_reaches_metadata: bool,
}

impl HostEnv {
    pub const PARAMS: [&'static str; 5] = [
        "bundle",
        "writable",
        "offline",
        "stop",
        "offline_reaches_metadata",
    ];

    /// Sets one knob by its scenario name.
    pub fn set(&mut self, key: &str, value: bool) -> Result<(), String> {
        match key {
            "bundle" => self.bundle = Some(value),
            "writable" => self.writable = Some(value),
            "offline" => self.offline = Some(value),
            "stop" => self.stop = Some(value),
            "offline_reaches_metadata" => self.offline_reaches_metadata = value,
            other => {
                return Err(format!(
                    "unknown host parameter `{other}` (expected one of: {})",
                    HostEnv::PARAMS.join(", ")
                ))
            }
        }
        Ok(())
    }
}

/// Planted bugs for must-find tests; never set outside tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum Mutation {
    None,
    /// The OperationCanceled path forgets to release the semaphore.
    LeakOnCancel,
    /// RestartHostAsync neither nulls nor orphans the previous host.
    RestartKeepsPrev,
    /// StopAsync runs before `ApplicationStopping` sets `ShutdownRequested`.
    StoppingBeforeFlag,
}

/// The host protocol model.
pub struct HostSpec {
    pub(crate) variant: Variant,
    pub(crate) cfg: Cfg,
    pub(crate) env: HostEnv,
    bounds: Bounds,
    pub(crate) mutation: Mutation,
}

impl HostSpec {
    /// Default bounds, echoed in every report.
    pub fn default_bounds() -> Bounds {
        BOUND_DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    }

    /// A model of `variant` with `bounds` (missing ones take their defaults).
    pub fn new(variant: &str, bounds: &Bounds) -> Result<Self, String> {
        HostSpec::with_env(variant, bounds, HostEnv::default())
    }

    /// As [`HostSpec::new`], with environment knobs fixed.
    pub fn with_env(variant: &str, bounds: &Bounds, env: HostEnv) -> Result<Self, String> {
        let variant = Variant::parse(variant)?;
        let mut resolved = HostSpec::default_bounds();
        for (k, v) in bounds {
            if !resolved.contains_key(k) {
                let names: Vec<&str> = BOUND_DEFAULTS.iter().map(|(k, _)| *k).collect();
                return Err(format!(
                    "unknown bound `{k}` for model host (expected: {})",
                    names.join(", ")
                ));
            }
            if !(0..=100).contains(v) {
                return Err(format!("bound `{k}` = {v} is out of range 0..=100"));
            }
            resolved.insert(k.clone(), *v);
        }
        let get = |k: &str| resolved[k] as u8;
        let cfg = Cfg {
            restarts: get("restarts"),
            storage_failures: get("storage_failures"),
            worker_timeouts: get("worker_timeouts"),
            attempts: get("attempts"),
            host_exceptions: get("host_exceptions"),
        };
        let actors = 1 + cfg.attempts as usize + cfg.restarts as usize;
        if actors > MAX_ACTORS {
            return Err(format!(
                "attempts + restarts = {} is too large: at most {} actor slots (1 + attempts + restarts)",
                actors - 1,
                MAX_ACTORS
            ));
        }
        Ok(HostSpec {
            variant,
            cfg,
            env,
            bounds: resolved,
            mutation: Mutation::None,
        })
    }

    /// The registry constructor: `params` are scenario `[params]` / `--param k=v` values
    /// (see [`HostEnv::PARAMS`]), each `true` or `false`.
    pub fn from_params(
        variant: &str,
        bounds: &Bounds,
        params: &BTreeMap<String, String>,
    ) -> Result<Self, String> {
        let mut env = HostEnv::default();
        for (key, value) in params {
            let value = match value.as_str() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(format!(
                        "host parameter `{key}` = `{other}`: expected true or false"
                    ))
                }
            };
            env.set(key, value)?;
        }
        HostSpec::with_env(variant, bounds, env)
    }

    #[cfg(test)]
    pub(crate) fn with_mutation(mut self, mutation: Mutation) -> Self {
        self.mutation = mutation;
        self
    }

    pub fn variant_kind(&self) -> Variant {
        self.variant
    }

    pub(crate) fn n_actors(&self) -> usize {
        1 + self.cfg.attempts as usize + self.cfg.restarts as usize
    }

    fn requesters(&self) -> std::ops::Range<usize> {
        1 + self.cfg.attempts as usize..self.n_actors()
    }

    pub fn actor_label(&self, a: u8) -> String {
        match a {
            ACTOR_STOP => "stop".to_string(),
            ACTOR_WORKER => "worker".to_string(),
            ACTOR_CHANNELS => "channel-manager".to_string(),
            ACTOR_ENV => "environment".to_string(),
            a => actor_name(a, self.cfg.attempts),
        }
    }

    /// Renders a state (also used by `format_state`).
    pub fn describe(&self, s: &HostSt) -> String {
        render_state(s, self.n_actors(), self.cfg.attempts)
    }
}

impl Model for HostSpec {
    type State = HostSt;
    type Action = Action;

    fn wait_for(&self, state: &HostSt) -> Vec<lockstep::report::WaitEdge> {
        HostSpec::wait_for(self, state)
    }

    fn name(&self) -> String {
        "host".to_string()
    }
    fn variant(&self) -> String {
        self.variant.name().to_string()
    }
    fn bounds(&self) -> Bounds {
        self.bounds.clone()
    }

    /// One initial state: nothing chosen yet. The first step picks the environment
    /// (see [`Step::Setup`]), so every counterexample starts by saying what it was.
    fn init_states(&self) -> Vec<HostSt> {
        let mut actors = [Actor::ABSENT; MAX_ACTORS];
        for a in actors.iter_mut().take(1 + self.cfg.attempts as usize) {
            *a = Actor::idle();
        }
        vec![HostSt {
            actors,
            queue: [0; MAX_ACTORS],
            qlen: 0,
            holder: NONE,
            state: HostState::Default,
            active: NONE,
            chan: Chan::None,
            chan_shutdown_pending: false,
            cached: false,
            latch: false,
            shutdown: false,
            stop: StopPc::Absent,
            used_storage: 0,
            used_worker: 0,
            used_exceptions: 0,
            configured: false,
            bundle: false,
            writable: false,
            offline: false,
        }]
    }

    fn actions(&self, state: &HostSt, out: &mut Vec<Action>) {
        let mut cands = Vec::with_capacity(8);
        self.candidates(state, &mut cands);
        for (actor, step) in cands {
            let mut scratch = *state;
            let mut log = Log::default();
            self.apply(&mut scratch, actor, step, &mut log);
            out.push(Action { actor, step, log });
        }
    }

    /// `candidates` once and `apply` once per step, where `actions` +
    /// `next_state` list the candidates again per action and apply every
    /// step twice (once for its log, once for the state). Checked against
    /// them by `successors_agree` in `spec_tests.rs`.
    fn successors(
        &self,
        state: &HostSt,
        _scratch: &mut Vec<Action>,
        mut visit: impl FnMut(usize, HostSt),
    ) -> usize {
        let mut cands = Vec::with_capacity(8);
        self.candidates(state, &mut cands);
        for (index, &(actor, step)) in cands.iter().enumerate() {
            let mut next = *state;
            self.apply(&mut next, actor, step, &mut Log::default());
            visit(index, next);
        }
        cands.len()
    }

    fn next_state(&self, state: &HostSt, action: &Action) -> Option<HostSt> {
        let mut cands = Vec::with_capacity(8);
        self.candidates(state, &mut cands);
        if !cands.contains(&(action.actor, action.step)) {
            return None;
        }
        let mut next = *state;
        self.apply(&mut next, action.actor, action.step, &mut Log::default());
        Some(next)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut props = vec![
            Property::always("non-reentrancy", |_, s: &HostSt| {
                !s.actors
                    .iter()
                    .enumerate()
                    .any(|(i, a)| a.pc == Pc::InlineWait && s.holder == i as u8)
            }),
            Property::always("permit-conservation", |m: &HostSpec, s| {
                m.permits_conserved(s)
            }),
            Property::always("single-active-host", |m: &HostSpec, s| {
                m.single_active_host(s)
            }),
            Property::always("no-orphan-leak", |m: &HostSpec, s| m.no_orphan_leak(s)),
            Property::eventually("eventually-running-or-stopped", |m: &HostSpec, s| {
                m.settled(s)
            }),
            Property::eventually_always("ends-running-or-stopped", |m: &HostSpec, s| m.settled(s)),
        ];
        let can_fault = self.env.offline != Some(true);
        if can_fault {
            props.push(Property::sometimes("host-running", |_, s: &HostSt| {
                s.state == HostState::Running
            }));
        }
        if self.cfg.restarts > 0 {
            props.push(Property::sometimes(
                "restart-during-start",
                |m: &HostSpec, s: &HostSt| {
                    m.requesters()
                        .any(|r| s.actors[r].pc == Pc::Queued && !m.is_requester(s.holder))
                },
            ));
        }
        if can_fault && self.cfg.storage_failures > 0 {
            props.push(Property::sometimes("storage-outage", |_, s: &HostSt| {
                s.used_storage > 0
            }));
        }
        if can_fault && self.cfg.worker_timeouts > 0 {
            props.push(Property::sometimes("worker-timeout", |_, s: &HostSt| {
                s.used_worker > 0
            }));
        }
        if can_fault && self.cfg.storage_failures + self.cfg.worker_timeouts > 0 {
            props.push(Property::sometimes("retry-backoff", |_, s: &HostSt| {
                s.actors.iter().any(|a| a.pc == Pc::Backoff)
            }));
        }
        if can_fault && self.cfg.host_exceptions > 0 {
            props.push(Property::sometimes(
                "non-transient-park",
                |m: &HostSpec, s| m.parked(s),
            ));
        }
        if self.env.stop != Some(false) {
            props.push(Property::sometimes("stop-during-start", |_, s: &HostSt| {
                s.stop != StopPc::Absent && s.stop != StopPc::Idle && s.holder != NONE
            }));
        }
        if self.env.offline != Some(false) {
            props.push(Property::sometimes("offline-start", |_, s: &HostSt| {
                s.state == HostState::Offline
            }));
        }
        props
    }

    /// Every actor finished, idle or absent; an actor still awaiting `_hostStarted` after
    /// shutdown was requested is abandoned with the process, not deadlocked.
    fn at_rest(&self, s: &HostSt) -> bool {
        let actors_ok = s.actors[..self.n_actors()].iter().all(|a| {
            matches!(a.pc, Pc::Absent | Pc::Idle | Pc::Done)
                || (a.pc == Pc::WaitLatch && s.shutdown)
        });
        actors_ok && matches!(s.stop, StopPc::Absent | StopPc::Done)
    }

    fn format_action(&self, action: &Action) -> String {
        let label = match action.step {
            Step::Setup {
                bundle,
                writable,
                offline,
                stop,
                requesters,
            } => {
                let yes_no = |b: bool, yes: &str, no: &str| if b { yes } else { no }.to_string();
                return [
                    yes_no(bundle, "extension bundle", "no bundle"),
                    yes_no(writable, "writable file system", "read-only file system"),
                    yes_no(offline, "app_offline.htm present", "online"),
                    yes_no(stop, "a shutdown comes", "no shutdown"),
                    format!("{requesters} restart requester(s)"),
                ]
                .join(", ");
            }
            Step::Boot => "StartAsync -> StartHostAsync".to_string(),
            Step::Enter { .. } if self.is_requester(action.actor) => "RestartHostAsync".to_string(),
            Step::Enter { .. } => "StartHostAsync -> Unsync".to_string(),
            Step::MetaResume => "channel task completes".to_string(),
            Step::HostStart { .. } => "host StartAsync".to_string(),
            Step::DispatcherInit { .. } => "dispatcher.InitializeAsync".to_string(),
            Step::BackoffElapsed => "backoff elapsed".to_string(),
            Step::Request { kind } => format!("restart request ({kind:?})"),
            Step::LatchObserved => "_hostStarted completes".to_string(),
            Step::AppStopping => "ApplicationStopping".to_string(),
            Step::StopAsync => "StopAsync".to_string(),
            Step::StopDone => "StopAsync completes".to_string(),
            Step::Worker { .. } => "worker process".to_string(),
            Step::ChannelShutdown => "NotifyHostStopping channel shutdown".to_string(),
        };
        format!("{label}: {}", render_log(&action.log, self.cfg.attempts))
    }

    fn actor(&self, action: &Action) -> String {
        self.actor_label(action.actor)
    }

    fn format_state(&self, state: &HostSt) -> String {
        self.describe(state)
    }

    // Readability hooks, implemented in `spec_readable`.
    fn action_name(&self, action: &Action) -> String {
        self.step_name(action)
    }
    fn fault_kind(&self, action: &Action) -> Option<String> {
        self.fault_of(action)
    }
    fn phase(&self, state: &HostSt) -> String {
        self.phase_of(state)
    }
}
