//! The state of the host protocol model: shared variables of `WebJobsScriptHostService`
//! (spec A.2, A.5.6), the metadata provider's channel map (A.4.3), and one program
//! counter per actor.
//!
//! Everything is a small `Copy` value in fixed-size arrays, so a state clones without
//! allocating and hashes quickly: the checker stores millions of them.

/// Upper bound on actor slots: start#1, the retry-child slots and the restart requesters.
pub const MAX_ACTORS: usize = 16;

/// "No actor / no host" in the `u8` slots below.
pub const NONE: u8 = u8::MAX;

/// `ScriptHostState` (A.2). `Starting` is never assigned by the service and `Initialized`
/// is overwritten by `Running` in the same await segment, so neither is representable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostState {
    Default,
    Running,
    Error,
    Stopping,
    Stopped,
    Offline,
}

/// Program counter of one actor. An actor is either a *start* actor (start#1 from
/// `StartAsync`, or a retry child spawned by an error handler) or an external *restart*
/// requester. Both share the `UnsynchronizedStartHostAsync` counters (a restart awaits its
/// own `Unsync` call, A.3.4 step 9-10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pc {
    /// Slot not used in this run (a requester that never comes).
    Absent,
    /// start#1 before `StartAsync`; an unspawned retry slot; a requester before its request.
    Idle,
    /// Restart step 2: awaiting `_hostStarted`.
    WaitLatch,
    /// Queued on the host-start semaphore (StartHostAsync step 2 / RestartHostAsync step 5).
    Queued,
    /// Holds the semaphore; its continuation has not run yet.
    Granted,
    /// Thread blocked (sync-over-async) in BuildHost -> metadata provider, awaiting the
    /// channel it found or created (call site (i)).
    MetaWaitBuild,
    /// Inside `localHost.StartAsync` -> metadata provider, awaiting a channel (call site (ii)).
    MetaWaitStart,
    /// The metadata provider called RestartHostAsync on this actor's stack, and that
    /// restart now waits for the semaphore this very actor holds.
    InlineWait,
    /// `await localHost.StartAsync(t)` has begun (A.3.3 step 4.10).
    HostStart,
    /// Awaiting `dispatcher.InitializeAsync(functions, t)` inside the host start.
    DispatcherInit,
    /// Error handler awaiting `DelayWithBackoffAsync` while holding the semaphore (6.10).
    Backoff,
    Done,
}

impl Pc {
    /// Program counters in which the actor holds the host-start semaphore.
    pub fn holds_sem(self) -> bool {
        matches!(
            self,
            Pc::Granted
                | Pc::MetaWaitBuild
                | Pc::MetaWaitStart
                | Pc::InlineWait
                | Pc::HostStart
                | Pc::DispatcherInit
                | Pc::Backoff
        )
    }
    /// Program counters in which the actor sits in the semaphore's FIFO queue.
    pub fn queued_on_sem(self) -> bool {
        matches!(self, Pc::Queued | Pc::InlineWait)
    }
}

/// A `ScriptHostStartupOperation` in the registry: absent (never created or disposed),
/// live, or live with its CTS cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    None,
    Live,
    Cancelled,
}

/// `JobHostStartupMode` of an `Unsync` call (A.3.3 step 6.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    Normal,
    /// HandlingInitializationError (NonTransient | HandlingError): job host start skipped.
    InitError,
    /// HandlingConfigurationParsingError (NonTransient): job host start and host.json skipped.
    ConfigError,
}

/// The web-host worker channel map for the app's runtime (A.4.3), one worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Chan {
    /// The runtime key is absent (initially, and after `ShutdownChannelsAsync`).
    None,
    /// The key is present with no worker (after `ShutdownChannelIfExistsAsync`).
    Empty,
    /// A channel whose TCS is not complete: the worker process is starting.
    Pending,
    Ready,
    Faulted,
}

/// Host record bits, one host per actor slot (an actor builds at most one host).
pub mod host_bits {
    pub const BUILT: u8 = 1;
    pub const ORPHANED: u8 = 2;
    /// `IHostApplicationLifetime.ApplicationStarted` fired.
    pub const STARTED: u8 = 4;
    /// Built with the job host start skipped (offline or a HandlingError mode).
    pub const MINIMAL: u8 = 8;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Actor {
    pub pc: Pc,
    pub op: Op,
    pub mode: Mode,
    /// The `attempt` argument of this start chain (after the error handler's increment).
    pub attempt: u8,
    /// The host this actor built, as `host_bits`.
    pub host: u8,
    /// Restart requesters only: the previous active host, whose `Orphan` is started only
    /// once this restart's `Unsync` call first yields (A.3.4 step 9).
    pub prev: u8,
}

impl Actor {
    pub const ABSENT: Actor = Actor {
        pc: Pc::Absent,
        op: Op::None,
        mode: Mode::Normal,
        attempt: 0,
        host: 0,
        prev: NONE,
    };
    pub fn idle() -> Actor {
        Actor {
            pc: Pc::Idle,
            ..Actor::ABSENT
        }
    }
    pub fn built(&self) -> bool {
        self.host & host_bits::BUILT != 0
    }
    pub fn live_host(&self) -> bool {
        self.built() && self.host & host_bits::ORPHANED == 0
    }
}

/// StopAsync actor (A.3.5), preceded by the `ApplicationStopping` callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopPc {
    /// No shutdown in this run.
    Absent,
    Idle,
    /// `_applicationStopping` set; StopAsync not yet called.
    Flagged,
    /// StopAsync ran steps 1-2 and awaits the orphan / 10 s race.
    Stopping,
    Done,
    /// Planted ordering bug only: StopAsync ran before the stopping flag was set.
    StoppingUnflagged,
}

/// One state of the host protocol model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostSt {
    pub actors: [Actor; MAX_ACTORS],
    /// FIFO waiters of the host-start semaphore (actor indices), `qlen` of them.
    pub queue: [u8; MAX_ACTORS],
    pub qlen: u8,
    /// Semaphore holder (capacity 1), or `NONE`.
    pub holder: u8,
    pub state: HostState,
    /// `ActiveHost` (a host is named by the actor slot that built it), or `NONE`.
    /// The metadata provider's `_currentJobHost` mirrors it exactly: its `ActiveHostChanged`
    /// handler assigns `args.NewHost`, null included (source at 63b33cc5).
    pub active: u8,
    pub chan: Chan,
    /// An unawaited "shut down all web-host channels" from `NotifyHostStopping` (A.3.4).
    pub chan_shutdown_pending: bool,
    /// The provider's `_functions` cache is populated.
    pub cached: bool,
    /// `_hostStartedSource` is set.
    pub latch: bool,
    /// `ShutdownRequested` (`_applicationStopping` or `_applicationStopped`).
    pub shutdown: bool,
    pub stop: StopPc,
    pub used_storage: u8,
    pub used_worker: u8,
    pub used_exceptions: u8,
    /// The environment below has been chosen (the model's first step).
    pub configured: bool,
    /// Environment of this run (fixed by the first step): extension bundle configured,
    /// writable file system, `app_offline.htm` present.
    pub bundle: bool,
    pub writable: bool,
    pub offline: bool,
}

/// Bytes in [`HostSt`]'s hash encoding: six per actor, the queue, 17 scalars.
const HASHED_BYTES: usize = 7 * MAX_ACTORS + 17;

/// The state as one byte string (every field is a byte): a fingerprint then
/// costs one multiply per 8 bytes, where the derived `Hash` took one per
/// field and was half of the host BFS's time. Equal states give equal
/// bytes, and the encoding is one-to-one.
impl std::hash::Hash for HostSt {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let mut bytes = [0u8; HASHED_BYTES];
        for (i, a) in self.actors.iter().enumerate() {
            bytes[6 * i..6 * i + 6].copy_from_slice(&[
                a.pc as u8,
                a.op as u8,
                a.mode as u8,
                a.attempt,
                a.host,
                a.prev,
            ]);
        }
        bytes[6 * MAX_ACTORS..7 * MAX_ACTORS].copy_from_slice(&self.queue);
        bytes[7 * MAX_ACTORS..].copy_from_slice(&[
            self.qlen,
            self.holder,
            self.state as u8,
            self.active,
            self.chan as u8,
            u8::from(self.chan_shutdown_pending),
            u8::from(self.cached),
            u8::from(self.latch),
            u8::from(self.shutdown),
            self.stop as u8,
            self.used_storage,
            self.used_worker,
            self.used_exceptions,
            u8::from(self.configured),
            u8::from(self.bundle),
            u8::from(self.writable),
            u8::from(self.offline),
        ]);
        h.write(&bytes);
    }
}

impl HostSt {
    pub fn push_waiter(&mut self, a: u8) {
        self.queue[self.qlen as usize] = a;
        self.qlen += 1;
    }
    pub fn pop_waiter(&mut self) -> Option<u8> {
        if self.qlen == 0 {
            return None;
        }
        let head = self.queue[0];
        self.queue.copy_within(1..self.qlen as usize, 0);
        self.qlen -= 1;
        self.queue[self.qlen as usize] = 0;
        Some(head)
    }
    pub fn waiters(&self) -> &[u8] {
        &self.queue[..self.qlen as usize]
    }
    /// The tracked host's `ApplicationStarted` has fired.
    pub fn active_started(&self) -> bool {
        self.active != NONE && self.actors[self.active as usize].host & host_bits::STARTED != 0
    }
}
