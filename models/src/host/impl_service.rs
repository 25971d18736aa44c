//! `WebJobsScriptHostService` as async Rust on `lockstep::rt`, step for step after spec
//! A.3: `StartAsync`, `StartHostAsync`, `UnsynchronizedStartHostAsync` with its error
//! handler, `RestartHostAsync`, `StopAsync`, and the startup-operation registry.
//!
//! Every C# `await` is one `.await` here and each step carries a comment naming its A.3
//! step. Code between two awaits is atomic, as on the explorer's single-threaded
//! executor. The metadata provider, the channel manager and the worker live in
//! `impl_provider` (same `Service` type: the provider calls back into
//! `RestartHostAsync`, as the real one does through `IScriptHostManager`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use lockstep::rt::{
    self, CancellationToken, CancellationTokenSource, Latch, Semaphore, SemaphorePermit, Shared,
};

use super::impl_provider::{ChanMap, ChanState};
use super::spec::{Cfg, Variant};
use super::spec_action::backoff_secs;
use super::spec_state::{HostState, Mode};

pub(crate) type BoxFut = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The environment of one run (chosen by the model's main task).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub(crate) struct RunEnv {
    pub bundle: bool,
    pub writable: bool,
    pub offline: bool,
    pub offline_reaches_metadata: bool,
}

/// One built host (`IHost`), named by its index in `Hosts::recs`.
#[derive(Clone, Copy, Debug, Default, Hash, PartialEq, Eq)]
pub(crate) struct HostRec {
    pub orphaned: bool,
    /// `ApplicationStarted` fired.
    pub started: bool,
    /// Built with the job host start skipped.
    pub minimal: bool,
    /// A restart took it out of `ActiveHost` and will orphan it once its `Unsync` yields.
    pub pending_orphan: bool,
}

/// `ActiveHost` (the provider's `_currentJobHost` mirrors it, null included) and every
/// host built so far.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
pub(crate) struct Hosts {
    pub active: Option<usize>,
    pub recs: Vec<HostRec>,
}

impl Hosts {
    /// At most one live host that no restart is about to orphan; ActiveHost is live.
    pub fn single_active_host(&self) -> bool {
        let live = self
            .recs
            .iter()
            .filter(|h| !h.orphaned && !h.pending_orphan)
            .count();
        live <= 1 && self.active.is_none_or(|h| !self.recs[h].orphaned)
    }
    /// In Error with a started minimal host active: parked after a non-transient error.
    pub fn parked(&self, state: HostState) -> bool {
        state == HostState::Error
            && self
                .active
                .is_some_and(|h| self.recs[h].minimal && self.recs[h].started)
    }
}

/// Running, shut down, offline as configured, or parked after a non-transient error.
pub(crate) fn settled(state: HostState, stopping: bool, hosts: &Hosts, offline: bool) -> bool {
    state == HostState::Running
        || stopping
        || (offline && state == HostState::Offline)
        || hosts.parked(state)
}

/// Faults used so far.
#[derive(Clone, Copy, Debug, Default, Hash, PartialEq, Eq)]
pub(crate) struct Budget {
    pub storage: u8,
    pub worker: u8,
    pub exceptions: u8,
}

/// Exceptions that reach `Unsync`'s catch blocks (A.3.3 steps 5-6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exc {
    Canceled,
    Storage,
    Metadata,
    Init,
    Config,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `WebJobsScriptHostService` with the web-host singletons it talks to.
pub(crate) struct Service {
    pub variant: Variant,
    pub cfg: Cfg,
    pub env: RunEnv,
    /// `_hostStartSemaphore`.
    pub sem: Semaphore,
    /// The service's fields (A.2), one cell each so that the explorer sees which steps
    /// touch what (independent steps are not interleaved twice).
    pub state: Shared<HostState>,
    pub hosts: Shared<Hosts>,
    /// `_applicationStopping` / `_applicationStopped`: `ShutdownRequested`.
    pub stopping: Shared<bool>,
    loop_created: Shared<bool>,
    /// Task names inside the host-start critical section (a mirror of the semaphore).
    pub holders: Shared<Vec<String>>,
    retries_spawned: Shared<u8>,
    /// Running, offline, parked or shut down was reached at some point of the run.
    pub ever_settled: Shared<bool>,
    /// The run is over (nothing could move); abandoned awaits return.
    pub(crate) ended: Shared<bool>,
    pub budget: Shared<Budget>,
    /// `_hostStartedSource`.
    pub host_started: Latch<()>,
    /// `_startupLoopTokenSource` (its existence is mirrored in `loop_created`).
    loop_cts: Mutex<Option<CancellationTokenSource>>,
    /// The startup-operation registry; `op_ids` mirrors it for the explorer's footprints.
    ops: Mutex<Vec<(u32, CancellationTokenSource)>>,
    op_ids: Shared<(u32, Vec<u32>)>,
    /// The provider's `_functions` cache is populated.
    pub cached: Shared<bool>,
    /// The channel map (one runtime, one worker) and the pending channel's TCS.
    pub chan: Shared<ChanMap>,
    pub(crate) chan_tcs: Mutex<Option<(u32, Latch<()>)>>,
    /// Timer firings so far, and one latch per firing: `ticks[k]` is set by the k-th.
    pub(crate) clock: Shared<u32>,
    pub(crate) ticks: Vec<Latch<()>>,
}

impl Service {
    pub fn new(variant: Variant, cfg: Cfg, env: RunEnv) -> Arc<Service> {
        Arc::new(Service {
            variant,
            cfg,
            env,
            sem: Semaphore::new("host-start-semaphore", 1),
            state: Shared::new("State", HostState::Default),
            hosts: Shared::new("ActiveHost", Hosts::default()),
            stopping: Shared::new("ShutdownRequested", false),
            loop_created: Shared::new("startup-loop-created", false),
            holders: Shared::new("critical-section", Vec::new()),
            retries_spawned: Shared::new("retries-spawned", 0),
            ever_settled: Shared::new("ever-settled", false),
            ended: Shared::new("run-ended", false),
            budget: Shared::new("fault-budget", Budget::default()),
            host_started: Latch::new("_hostStarted"),
            loop_cts: Mutex::new(None),
            ops: Mutex::new(Vec::new()),
            op_ids: Shared::new("startup-operations", (0, Vec::new())),
            cached: Shared::new("metadata-cache", false),
            chan: Shared::new(
                "channel-map",
                ChanMap {
                    state: ChanState::None,
                    created: 0,
                },
            ),
            chan_tcs: Mutex::new(None),
            clock: Shared::new("timer-firings", 0),
            ticks: (0..=Service::max_ticks(&cfg))
                .map(|k| Latch::new(format!("tick-{k}")))
                .collect(),
        })
    }

    /// A nondeterministic fault, while its bound allows one more.
    pub fn fault(&self, label: &str, counter: fn(&mut Budget) -> &mut u8, bound: u8) -> bool {
        let used = self.budget.read(|b| {
            let mut copy = *b;
            *counter(&mut copy)
        });
        if used >= bound || !rt::choose_bool(label) {
            return false;
        }
        self.budget.write(|b| *counter(b) += 1);
        true
    }

    pub fn settled_now(&self) -> bool {
        let state = self.state.read(|s| *s);
        let stopping = self.stopping.read(|s| *s);
        self.hosts
            .read(|h| settled(state, stopping, h, self.env.offline))
    }

    fn note_settled(&self) {
        if !self.ever_settled.read(|e| *e) && self.settled_now() {
            self.ever_settled.set(true);
        }
    }

    pub fn shutdown_requested(&self) -> bool {
        self.stopping.read(|s| *s)
    }

    // ---- critical section mirror -----------------------------------------------------------

    pub(crate) async fn enter_critical(&self) -> SemaphorePermit {
        let permit = self.sem.acquire().await;
        let me = rt::current_task();
        let was_free = self.holders.write(|h| {
            let free = h.is_empty();
            h.push(me);
            free
        });
        rt::always("permit-conservation", was_free, || {
            "two holders of the host-start semaphore".into()
        });
        permit
    }

    pub(crate) fn leave_critical(&self, permit: SemaphorePermit) {
        let me = rt::current_task();
        self.holders.write(|h| h.retain(|t| *t != me));
        permit.release();
    }

    // ---- startup-operation registry (ScriptHostStartupOperation) -----------------------------

    /// `Create(token, parentId)`: registered at once, its CTS linked to `parent`.
    pub fn create_op(&self, parent: &CancellationToken) -> (u32, CancellationTokenSource) {
        let id = self.op_ids.write(|(next, ids)| {
            *next += 1;
            ids.push(*next);
            *next
        });
        let cts = CancellationTokenSource::linked(format!("startup-op-{id}"), &[parent]);
        lock(&self.ops).push((id, cts.clone()));
        (id, cts)
    }

    /// `Dispose`: unregister; the CTS is dropped with it, which also unlinks it.
    pub fn dispose_op(&self, id: u32) {
        self.op_ids.write(|(_, ids)| ids.retain(|&i| i != id));
        lock(&self.ops).retain(|(i, _)| *i != id);
    }

    /// RestartHostAsync steps 3-4: cancel the startup loop and every registered operation.
    pub fn cancel_loop_and_ops(&self) {
        self.cancel_loop();
        self.op_ids.read(|(_, ids)| ids.len());
        let all: Vec<CancellationTokenSource> =
            lock(&self.ops).iter().map(|(_, c)| c.clone()).collect();
        for cts in all {
            cts.cancel();
        }
    }

    pub(crate) fn cancel_loop(&self) {
        if self.loop_created.read(|c| *c) {
            let cts = lock(&self.loop_cts).clone();
            if let Some(cts) = cts {
                cts.cancel();
            }
        }
    }

    // ---- hosts ---------------------------------------------------------------------------------

    pub fn new_host(&self, minimal: bool) -> usize {
        self.hosts.write(|h| {
            h.recs.push(HostRec {
                minimal,
                ..HostRec::default()
            });
            h.recs.len() - 1
        })
    }

    /// `ActiveHost = value` (raises ActiveHostChanged; the provider's copy follows).
    pub fn set_active(&self, value: Option<usize>) {
        let ok = self.hosts.write(|h| {
            h.active = value;
            h.single_active_host()
        });
        rt::always("single-active-host", ok, || {
            "a second live host became active".into()
        });
    }

    /// Fire-and-forget `Orphan(host)`: stop and dispose (A.3.6), at once here.
    pub fn orphan(&self, host: usize) {
        self.hosts.write(|h| {
            h.recs[host].orphaned = true;
            h.recs[host].pending_orphan = false;
        });
    }

    // ---- A.3.1 StartAsync ----------------------------------------------------------------------

    pub fn start_async(self: &Arc<Self>) -> BoxFut {
        let svc = self.clone();
        Box::pin(async move {
            // 1. If ShutdownRequested, return.
            if svc.shutdown_requested() {
                return;
            }
            // 2. _startupLoopTokenSource := new CTS; linked := Link(loopToken, ct).
            let loop_cts = CancellationTokenSource::new("startup-loop");
            let token = loop_cts.token();
            *lock(&svc.loop_cts) = Some(loop_cts);
            svc.loop_created.set(true);
            // 3. await StartHostAsync(linked.Token); 4. OperationCanceled is swallowed.
            let (op_id, op) = svc.create_op(&token);
            svc.start_host(op_id, op, 0, Mode::Normal).await;
        })
    }

    // ---- A.3.2 StartHostAsync --------------------------------------------------------------------

    /// Steps 2-5. Step 1 (register the op) is done by the caller, in the caller's await
    /// segment: a fire-and-forget child registers before its parent releases the semaphore.
    /// The child's *enqueue* on the semaphore happens when its task first runs; anything
    /// that could overtake it is a restart, which cancels the child's op first, so the
    /// child can only exit at C1 either way.
    pub fn start_host(
        self: &Arc<Self>,
        op_id: u32,
        op: CancellationTokenSource,
        attempt: u8,
        mode: Mode,
    ) -> BoxFut {
        let svc = self.clone();
        Box::pin(async move {
            // 2. await sem.WaitAsync() (no token, no timeout).
            let permit = svc.enter_critical().await;
            // 3. Set _hostStartedSource.
            svc.host_started.set(Ok(()));
            // 4. await UnsynchronizedStartHostAsync(op, attempt, mode).
            svc.unsync(&op, attempt, mode, None).await;
            // 5. finally: dispose op, release sem.
            svc.dispose_op(op_id);
            svc.leave_critical(permit);
        })
    }

    // ---- A.3.3 UnsynchronizedStartHostAsync ---------------------------------------------------------

    /// `restart_prev`: a restart's previous host, orphaned when this call first yields.
    pub(crate) async fn unsync(
        self: &Arc<Self>,
        op: &CancellationTokenSource,
        attempt: u8,
        mode: Mode,
        restart_prev: Option<usize>,
    ) {
        let mut prev = restart_prev;
        let result = self.unsync_try(op, mode, &mut prev).await;
        if let Err((exc, local)) = result {
            if exc != Exc::Canceled {
                self.error_handler(op, local, exc, attempt, &mut prev).await;
            }
        }
        self.orphan_prev(&mut prev);
    }

    fn orphan_prev(&self, prev: &mut Option<usize>) {
        if let Some(h) = prev.take() {
            self.orphan(h);
        }
    }

    async fn unsync_try(
        self: &Arc<Self>,
        op: &CancellationTokenSource,
        mode: Mode,
        prev: &mut Option<usize>,
    ) -> Result<(), (Exc, Option<usize>)> {
        // 1. CheckFileSystem: no run-from-package failure marker in this model.
        // 2. If ShutdownRequested, return (no state change).
        if self.shutdown_requested() {
            return Ok(());
        }
        // 3. t := op.CTS.Token.
        let t = op.token();
        // 4.1 [C1]
        if t.is_cancelled() {
            return Err((Exc::Canceled, None));
        }
        // 4.2 Error is retained across retries; 4.3 app_offline.htm gives Offline.
        let offline = self.env.offline;
        self.state.write(|s| {
            if *s != HostState::Error {
                *s = HostState::Default;
            }
            if offline {
                *s = HostState::Offline;
            }
        });
        self.note_settled();
        rt::sometimes("offline-start", offline);
        // 4.4 handlingError, skipJobHostStartup, skipHostJson.
        let skip = offline || mode != Mode::Normal;
        // 4.5 localHost := BuildHost(...) (synchronous; may block the thread in the provider).
        let local = self.build_host(mode, skip).await.map_err(|e| (e, None))?;
        // 4.6 ActiveHost = localHost. 4.7-4.8: subscriptions, logs, counters.
        self.set_active(Some(local));
        // 4.9 [C2]
        if t.is_cancelled() {
            return Err((Exc::Canceled, Some(local)));
        }
        // 4.10 await localHost.StartAsync(t): the first real yield of this call.
        self.orphan_prev(prev);
        self.host_start_async(&t, local, skip)
            .await
            .map_err(|e| (e, Some(local)))?;
        // 4.11 If not handlingError: LastError = null; if not offline, State = Running.
        self.hosts.write(|h| h.recs[local].started = true);
        if mode == Mode::Normal && !offline {
            self.state.set(HostState::Running);
            rt::sometimes("host-running", true);
        }
        self.note_settled();
        rt::sometimes("non-transient-park", mode != Mode::Normal);
        // 4.12 Publish HostStartEvent.
        Ok(())
    }

    /// BuildHost (A.3.3 step 4.5). With the job host start skipped the external startup
    /// (ScriptStartupTypeLocator) is not installed, so the provider is not reached.
    async fn build_host(self: &Arc<Self>, mode: Mode, skip: bool) -> Result<usize, Exc> {
        if !skip
            && self.fault(
                "host.json invalid",
                |b| &mut b.exceptions,
                self.cfg.host_exceptions,
            )
        {
            return Err(Exc::Config);
        }
        let offline_full =
            self.env.offline && mode == Mode::Normal && self.env.offline_reaches_metadata;
        if self.env.bundle && (!skip || offline_full) {
            // ScriptStartupTypeLocator -> FunctionMetadataManager.GetFunctionMetadata(
            // forceRefresh: true), which blocks its thread on the provider's async call.
            rt::block_on_thread("GetFunctionMetadataAsync", self.get_function_metadata(true))
                .await?;
        }
        Ok(self.new_host(skip))
    }

    /// `localHost.StartAsync(t)` -> `ScriptHost.StartAsyncCore`.
    async fn host_start_async(
        self: &Arc<Self>,
        t: &CancellationToken,
        _local: usize,
        skip: bool,
    ) -> Result<(), Exc> {
        // Hosted services start (storage-touching ones first); a real await.
        rt::yield_now().await;
        if t.is_cancelled() {
            return Err(Exc::Canceled);
        }
        if skip {
            return Ok(());
        }
        if self.fault(
            "storage outage",
            |b| &mut b.storage,
            self.cfg.storage_failures,
        ) {
            rt::sometimes("storage-outage", true);
            return Err(Exc::Storage);
        }
        // InitializeAsync: GetFunctionMetadata(forceRefresh: false), sync-over-async again.
        rt::block_on_thread(
            "GetFunctionMetadataAsync",
            self.get_function_metadata(false),
        )
        .await?;
        // await dispatcher.InitializeAsync(functions, t).
        rt::yield_now().await;
        if t.is_cancelled() {
            return Err(Exc::Canceled);
        }
        if self.fault(
            "host initialization error",
            |b| &mut b.exceptions,
            self.cfg.host_exceptions,
        ) {
            return Err(Exc::Init);
        }
        Ok(())
    }

    /// A.3.3 step 6: the error handler.
    async fn error_handler(
        self: &Arc<Self>,
        op: &CancellationTokenSource,
        local: Option<usize>,
        exc: Exc,
        attempt: u8,
        prev: &mut Option<usize>,
    ) {
        let t = op.token();
        // 6.1 isActiveHost; 6.2 State = Error if active; 6.5 ActiveHost = null if active.
        let active = self.hosts.read(|h| h.active == local);
        if active {
            self.state.set(HostState::Error);
        }
        // 6.3 attempt += 1. 6.4 ShutdownHostIfUnhealthy: health samples are not modelled.
        let attempt = attempt.saturating_add(1);
        if active {
            self.set_active(None);
        }
        // 6.6 Fire-and-forget Orphan(localHost).
        if let Some(h) = local {
            self.orphan(h);
        }
        // 6.7 [C3]
        if t.is_cancelled() {
            return;
        }
        // 6.8 Next mode.
        let next = match exc {
            Exc::Config => Mode::ConfigError,
            Exc::Init => Mode::InitError,
            _ => Mode::Normal,
        };
        // 6.9 Not Normal: fire-and-forget the child immediately, then return.
        if next != Mode::Normal {
            self.spawn_retry(&t, attempt, next);
            return;
        }
        // 6.10 await DelayWithBackoffAsync while holding sem (a cancel ends it early).
        self.orphan_prev(prev);
        rt::sometimes("retry-backoff", true);
        let backoff = Duration::from_secs(backoff_secs(attempt) as u64);
        if !rt::sleep_cancellable(backoff, &t).await {
            self.tick();
        }
        // [C4]
        if t.is_cancelled() {
            return;
        }
        self.spawn_retry(&t, attempt, Mode::Normal);
    }

    /// Fire-and-forget `StartHostAsync(t, attempt, mode, op.Id)`; at most `attempts` of
    /// them in a run (the real host has no cap, #9924).
    fn spawn_retry(self: &Arc<Self>, t: &CancellationToken, attempt: u8, mode: Mode) {
        let cap = self.cfg.attempts;
        if !self.retries_spawned.write(|r| {
            let ok = *r < cap;
            *r += ok as u8;
            ok
        }) {
            rt::emit("retry-cap", &[("attempts", &cap.to_string())]);
            return;
        }
        let (op_id, op) = self.create_op(t);
        rt::spawn("start", self.start_host(op_id, op, attempt, mode));
    }
}
