//! The actions of the host protocol model: which step, by which actor, and the log of
//! what it did (filled in when the action is enumerated).

use super::spec_log::Log;

/// Kind of an external restart request (a trace label; only `Health` has a guard).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RestartKind {
    FileWatch,
    Admin,
    Specialization,
    /// The health monitor restarts only a `Running` host (A.3.7).
    Health,
}

/// Outcome of the worker process start (A.4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkerOutcome {
    Ready,
    StartStreamTimeout,
    InitTimeout,
}

/// One kind of step; which actor takes it is in [`Action::actor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// The environment of the run: extension bundle, writable file system, offline marker,
    /// whether a shutdown comes, and how many restart requesters come.
    Setup {
        bundle: bool,
        writable: bool,
        offline: bool,
        stop: bool,
        requesters: u8,
    },
    /// start#1: `StartAsync` -> `StartHostAsync`: register op, await the semaphore.
    Boot,
    /// The continuation after the semaphore is granted: `StartHostAsync` step 3 (or
    /// `RestartHostAsync` steps 6-9) and `Unsync` up to and including BuildHost.
    /// `config_error`: BuildHost throws `HostConfigurationException`.
    Enter { config_error: bool },
    /// The channel the metadata provider awaited completed (or vanished).
    MetaResume,
    /// `await localHost.StartAsync(t)` begins; `storage_error`: a transient storage failure.
    HostStart { storage_error: bool },
    /// `await dispatcher.InitializeAsync` completes; `init_error`: HostInitializationException.
    DispatcherInit { init_error: bool },
    /// The backoff delay ended (elapsed, or cut short by cancellation).
    BackoffElapsed,
    /// An external restart request arrives (`RestartHostAsync` steps 1-5).
    Request { kind: RestartKind },
    /// Restart step 2 completes: `_hostStarted` was set.
    LatchObserved,
    /// The `ApplicationStopping` callback sets the flag.
    AppStopping,
    /// `StopAsync` steps 1-3.
    StopAsync,
    /// `StopAsync` step 4.
    StopDone,
    /// The worker process start resolves.
    Worker { outcome: WorkerOutcome },
    /// The unawaited `ShutdownChannelsAsync` of a `NotifyHostStopping` runs.
    ChannelShutdown,
}

/// Pseudo-actor ids for steps not taken by a start/restart actor.
pub const ACTOR_STOP: u8 = 0xF0;
pub const ACTOR_WORKER: u8 = 0xF1;
pub const ACTOR_CHANNELS: u8 = 0xF2;
pub const ACTOR_ENV: u8 = 0xF3;

/// A step plus what it did (see `spec_log`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Action {
    pub actor: u8,
    pub step: Step,
    pub log: Log,
}

impl Action {
    /// A short stable name of the step kind, for tests and trace fields.
    pub fn kind(&self) -> &'static str {
        match self.step {
            Step::Setup { .. } => "setup",
            Step::Boot => "boot",
            Step::Enter {
                config_error: false,
            } => "enter",
            Step::Enter { config_error: true } => "enter-config-error",
            Step::MetaResume => "meta-resume",
            Step::HostStart {
                storage_error: false,
            } => "host-start",
            Step::HostStart {
                storage_error: true,
            } => "host-start-storage-error",
            Step::DispatcherInit { init_error: false } => "dispatcher-init",
            Step::DispatcherInit { init_error: true } => "dispatcher-init-error",
            Step::BackoffElapsed => "backoff-elapsed",
            Step::Request { .. } => "restart-request",
            Step::LatchObserved => "latch-observed",
            Step::AppStopping => "app-stopping",
            Step::StopAsync => "stop-async",
            Step::StopDone => "stop-done",
            Step::Worker {
                outcome: WorkerOutcome::Ready,
            } => "worker-ready",
            Step::Worker { .. } => "worker-timeout",
            Step::ChannelShutdown => "channel-shutdown",
        }
    }
}

/// Backoff after `attempt` failures: clamp(round-half-even((2^n - 1) / 2), 1, 120) s.
pub fn backoff_secs(attempt: u8) -> u8 {
    match attempt {
        0 | 1 => 1,
        2 => 2,
        3 => 4,
        4 => 8,
        5 => 16,
        6 => 32,
        7 => 64,
        _ => 120,
    }
}
