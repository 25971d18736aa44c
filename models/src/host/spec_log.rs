//! What one transition of the host protocol model did, as a short fixed-size log of
//! events, and how actions and states are rendered in counterexamples.
//!
//! The log is computed when an action is enumerated (by applying it to a scratch copy of
//! the state) and carried inside the action, so `format_action` can say what happened
//! ("BuildHost -> metadata provider: no channels, state Error -> RestartHost inline")
//! without seeing the state.

use std::fmt::Write as _;

use super::spec_state::{Chan, HostSt, HostState, Mode, Pc, StopPc, NONE};

/// Where a cooperative cancellation check fired (A.3.3 C1-C4, and the checks inside
/// `ScriptHost.StartAsyncCore` / the dispatcher).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Check {
    C1,
    C2,
    HostStart,
    Dispatcher,
    C3,
    C4,
}

/// One thing a transition did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ev {
    TookSem,
    QueuedBehind(u8),
    HandedSemTo(u8),
    ReleasedSem,
    ShutdownReturn,
    WaitsHostStarted,
    CancelledOps(u8),
    Cancelled(Check),
    RestartSkippedStopping,
    NotifyHostStopping(u8),
    StateTo(HostState),
    ConfigError,
    MetaCached,
    MetaShutdownAll,
    MetaNoChannels { state: HostState, starting: bool },
    MetaInitChannel,
    MetaAwaitChannel,
    MetaReady,
    MetaChannelFaulted,
    MetaChannelLost,
    InlineRestart,
    InlineRestartReturns,
    InlineWaitsOwnSem,
    HostBuilt { minimal: bool },
    StorageError,
    InitException,
    ErrorHandler { active: bool },
    Orphan(u8),
    Backoff { secs: u8 },
    SpawnRetry { slot: u8, mode: Mode },
    RetryCapReached,
    Parked,
    OfflineUp,
    WorkerReady,
    WorkerTimeout { init: bool },
    ChannelsShutDown,
    StopFlag,
    StopAsync,
}

/// Up to `LOG_CAP` events of one transition (later ones are dropped, with a marker).
pub const LOG_CAP: usize = 14;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Log {
    evs: [Option<Ev>; LOG_CAP],
    n: u8,
    truncated: bool,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            evs: [None; LOG_CAP],
            n: 0,
            truncated: false,
        }
    }
}

impl Log {
    pub fn push(&mut self, ev: Ev) {
        if (self.n as usize) < LOG_CAP {
            self.evs[self.n as usize] = Some(ev);
            self.n += 1;
        } else {
            self.truncated = true;
        }
    }
    pub fn events(&self) -> impl Iterator<Item = Ev> + '_ {
        self.evs[..self.n as usize].iter().flatten().copied()
    }
    pub fn contains(&self, ev: Ev) -> bool {
        self.events().any(|e| e == ev)
    }
}

/// Actor names: slot 0 is `start#1`, retry slots are `start#2..`, requesters `restart#1..`.
pub fn actor_name(a: u8, attempts: u8) -> String {
    if a == NONE {
        "nobody".to_string()
    } else if a <= attempts {
        format!("start#{}", a + 1)
    } else {
        format!("restart#{}", a - attempts)
    }
}

fn host_name(h: u8, attempts: u8) -> String {
    if h == NONE {
        "null".to_string()
    } else {
        format!("H({})", actor_name(h, attempts))
    }
}

fn state_name(s: HostState) -> &'static str {
    match s {
        HostState::Default => "Default",
        HostState::Running => "Running",
        HostState::Error => "Error",
        HostState::Stopping => "Stopping",
        HostState::Stopped => "Stopped",
        HostState::Offline => "Offline",
    }
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Normal => "Normal",
        Mode::InitError => "HandlingInitializationError",
        Mode::ConfigError => "HandlingConfigurationParsingError",
    }
}

/// Renders one event.
pub fn render_event(ev: Ev, attempts: u8) -> String {
    let name = |a| actor_name(a, attempts);
    match ev {
        Ev::TookSem => "takes host-start semaphore".into(),
        Ev::QueuedBehind(h) => format!("queues on host-start semaphore (held by {})", name(h)),
        Ev::HandedSemTo(a) => format!("releases semaphore to {}", name(a)),
        Ev::ReleasedSem => "releases semaphore".into(),
        Ev::ShutdownReturn => "shutdown requested: returns".into(),
        Ev::WaitsHostStarted => "awaits _hostStarted".into(),
        Ev::CancelledOps(n) => format!("cancels {n} startup op(s)"),
        Ev::Cancelled(c) => format!("cancelled at {c:?}: OperationCanceled"),
        Ev::RestartSkippedStopping => "state Stopping/Stopped: restart returns".into(),
        Ev::NotifyHostStopping(h) => {
            format!(
                "NotifyHostStopping({}): unawaited channel shutdown",
                host_name(h, attempts)
            )
        }
        Ev::StateTo(s) => format!("state {}", state_name(s)),
        Ev::ConfigError => "BuildHost throws HostConfigurationException".into(),
        Ev::MetaCached => "metadata provider: cached".into(),
        Ev::MetaShutdownAll => "metadata provider: forceRefresh shuts down all channels".into(),
        Ev::MetaNoChannels { state, starting } => format!(
            "metadata provider: no channels, state {}{}",
            state_name(state),
            if starting {
                " (starting)"
            } else {
                " (not starting)"
            }
        ),
        Ev::MetaInitChannel => "InitializeChannelAsync (worker starting)".into(),
        Ev::MetaAwaitChannel => "awaits channel".into(),
        Ev::MetaReady => "metadata OK".into(),
        Ev::MetaChannelFaulted => "channel faulted: removed, provider throws".into(),
        Ev::MetaChannelLost => "channel shut down underneath: provider throws".into(),
        Ev::InlineRestart => "RestartHost inline".into(),
        Ev::InlineRestartReturns => {
            "RestartHost returns (shutdown requested), no channels: throws".into()
        }
        Ev::InlineWaitsOwnSem => "RestartHost waits on host-start semaphore held by itself".into(),
        Ev::HostBuilt { minimal } => {
            format!(
                "BuildHost returns{}, ActiveHost set",
                if minimal { " (minimal host)" } else { "" }
            )
        }
        Ev::StorageError => "host StartAsync throws transient storage error".into(),
        Ev::InitException => "host StartAsync throws HostInitializationException".into(),
        Ev::ErrorHandler { active } => {
            if active {
                "error handler: state Error, ActiveHost null".into()
            } else {
                "error handler: inactive host, state kept".into()
            }
        }
        Ev::Orphan(h) => format!("orphans {}", host_name(h, attempts)),
        Ev::Backoff { secs } => format!("backoff {secs} s holding semaphore"),
        Ev::SpawnRetry { slot, mode } => {
            format!("spawns retry {} ({})", name(slot), mode_name(mode))
        }
        Ev::RetryCapReached => "retry not spawned: `attempts` bound reached".into(),
        Ev::Parked => "minimal host started, state kept (parked)".into(),
        Ev::OfflineUp => "offline host started".into(),
        Ev::WorkerReady => "worker process up: StartStream + init response, channel Ready".into(),
        Ev::WorkerTimeout { init: false } => {
            "worker StartStream timeout (60 s): channel Faulted".into()
        }
        Ev::WorkerTimeout { init: true } => "worker init timeout (10 s): channel Faulted".into(),
        Ev::ChannelsShutDown => "unawaited ShutdownChannelsAsync runs: channel map cleared".into(),
        Ev::StopFlag => "ApplicationStopping: ShutdownRequested".into(),
        Ev::StopAsync => "StopAsync: cancels startup loop, ActiveHost null".into(),
    }
}

/// Joins a log's events with " -> ".
pub fn render_log(log: &Log, attempts: u8) -> String {
    let mut out = String::new();
    for (i, ev) in log.events().enumerate() {
        if i > 0 {
            out.push_str(" -> ");
        }
        out.push_str(&render_event(ev, attempts));
    }
    if log.truncated {
        out.push_str(" -> ...");
    }
    out
}

fn pc_name(pc: Pc) -> &'static str {
    match pc {
        Pc::Absent => "-",
        Pc::Idle => "idle",
        Pc::WaitLatch => "await _hostStarted",
        Pc::Queued => "queued on sem",
        Pc::Granted => "holds sem",
        Pc::MetaWaitBuild => "BuildHost: awaits channel",
        Pc::MetaWaitStart => "StartAsync: awaits channel",
        Pc::InlineWait => "RestartHost inline: waits on own sem",
        Pc::HostStart => "host StartAsync",
        Pc::DispatcherInit => "dispatcher init",
        Pc::Backoff => "backoff",
        Pc::Done => "done",
    }
}

/// A compact one-line rendering of a state for traces.
pub fn render_state(s: &HostSt, n_actors: usize, attempts: u8) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{} active={} sem={} waiters=[",
        state_name(s.state),
        host_name(s.active, attempts),
        actor_name(s.holder, attempts)
    );
    for (i, w) in s.waiters().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&actor_name(*w, attempts));
    }
    let chan = match s.chan {
        Chan::None => "none",
        Chan::Empty => "empty",
        Chan::Pending => "pending",
        Chan::Ready => "ready",
        Chan::Faulted => "faulted",
    };
    let _ = write!(out, "] chan={chan}");
    if s.chan_shutdown_pending {
        out.push_str("(shutdown pending)");
    }
    for (i, a) in s.actors[..n_actors].iter().enumerate() {
        if matches!(a.pc, Pc::Absent | Pc::Idle) {
            continue;
        }
        let _ = write!(out, " {}:{}", actor_name(i as u8, attempts), pc_name(a.pc));
    }
    if s.stop != StopPc::Absent {
        let _ = write!(out, " stop:{:?}", s.stop);
    }
    if s.configured {
        let _ = write!(
            out,
            " env[bundle={} writable={} offline={}]",
            s.bundle, s.writable, s.offline
        );
    } else {
        out.push_str(" env[not chosen yet]");
    }
    out
}
