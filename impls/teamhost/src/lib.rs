//! teamhost: an independent implementation of the Functions host
//! start/restart lifecycle, written the way a service team would write it:
//! async Rust with its own start semaphore, cancellation tokens and restart
//! signal ([`sync`]), a background restart service, and retries with
//! backoff. It knows nothing of lockstep's executor: it runs on whatever
//! [`HostEnv`] it is given (lockstep's simulated one, or madsim's time in
//! `tests/madsim.rs`), and lockstep checks it through the plug-in API
//! ([`TeamHostPlugin`]).
//!
//! The design (the fix of #10766 done structurally): a start holds the start
//! semaphore from acquire to release; when metadata finds no worker channel
//! it *signals* the restart service instead of restarting inline; a restart
//! cancels the attempt in flight, which gives up at its next check point.
//!
//! Variant `mutant-inline-restart` plants the original bug: the metadata
//! path calls restart inline and awaits the semaphore its own start holds.

pub mod sync;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use lockstep_models::plugin::{BoxFuture, BuildError, HostEnv, HostPlugin, HostService, HostState};

use sync::{CancellationToken, Notify, Permit, Semaphore};

/// Actor name of the background restart service.
pub const RESTART_SERVICE: &str = "restart-service";

/// How the metadata path reacts to a missing worker channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Signal the restart service and carry on (the shipped code).
    Ok,
    /// Restart inline, awaiting the start semaphore this start holds (planted bug).
    MutantInlineRestart,
}

impl Variant {
    pub const NAMES: [&'static str; 2] = ["ok", "mutant-inline-restart"];

    pub fn parse(name: &str) -> Result<Variant, String> {
        match name {
            "ok" => Ok(Variant::Ok),
            "mutant-inline-restart" => Ok(Variant::MutantInlineRestart),
            other => Err(format!(
                "unknown teamhost variant `{other}` (expected ok or mutant-inline-restart)"
            )),
        }
    }
}

/// Backoff before retry `n` (1-based): 1 s, 2 s, 4 s, ... capped at 120 s.
pub fn backoff_ms(n: u32) -> u64 {
    (1_000u64 << n.saturating_sub(1).min(7)).min(120_000)
}

struct Inner {
    env: Arc<dyn HostEnv>,
    variant: Variant,
    start_sem: Semaphore,
    /// The token of the attempt holding the semaphore, if any.
    current: Mutex<Option<CancellationToken>>,
    restart_pending: AtomicBool,
    restart_active: AtomicBool,
    restart_signal: Notify,
    /// Retries scheduled so far (names start#2, start#3, ...).
    retries: AtomicU32,
}

/// The host service.
pub struct TeamHost {
    inner: Arc<Inner>,
}

impl TeamHost {
    pub fn new(variant: Variant, env: Arc<dyn HostEnv>) -> Self {
        TeamHost {
            inner: Arc::new(Inner {
                env,
                variant,
                start_sem: Semaphore::new(1),
                current: Mutex::new(None),
                restart_pending: AtomicBool::new(false),
                restart_active: AtomicBool::new(false),
                restart_signal: Notify::new(),
                retries: AtomicU32::new(0),
            }),
        }
    }
}

impl Inner {
    fn current(&self) -> std::sync::MutexGuard<'_, Option<CancellationToken>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cancel_current(&self) {
        if let Some(token) = self.current().as_ref() {
            token.cancel();
        }
    }

    /// Gives the semaphore back (reported first, so the next holder's
    /// acquire follows it in the trace).
    fn release(&self, actor: &str, permit: Permit) {
        *self.current() = None;
        self.env.emit(actor, "sem.release", &[]);
        drop(permit);
    }

    fn give_up_cancelled(&self, actor: &str, permit: Permit) {
        self.env.emit(actor, "start.cancel", &[]);
        self.release(actor, permit);
        self.env.set_state(actor, HostState::Stopped);
    }

    /// One start: acquire, build, load metadata, run. Every start (boot,
    /// retry, restart, restart service) goes through here.
    async fn run_start(self: Arc<Self>, actor: String) {
        let permit = self.start_sem.acquire().await;
        self.env.emit(&actor, "sem.acquire", &[]);
        let token = CancellationToken::new();
        *self.current() = Some(token.clone());
        self.env.set_state(&actor, HostState::Starting);

        if let Err(BuildError::Storage) = self.env.build_host(&actor).await {
            self.env.emit(&actor, "start.fail", &[("error", "storage")]);
            self.env.set_state(&actor, HostState::Error);
            self.release(&actor, permit);
            self.schedule_retry();
            return;
        }
        if token.is_cancelled() {
            return self.give_up_cancelled(&actor, permit);
        }
        if !self.env.worker_channel_ready() {
            match self.variant {
                Variant::Ok => self.signal_restart(&actor),
                Variant::MutantInlineRestart => {
                    // The planted bug: restart inline, waiting for the
                    // semaphore this very start holds.
                    self.env
                        .emit(&actor, "restart.requested", &[("reason", "inline")]);
                    self.cancel_current();
                    self.env.emit(&actor, "sem.wait", &[]);
                    let _inner_permit = self.start_sem.acquire().await;
                }
            }
        }
        if token.is_cancelled() {
            return self.give_up_cancelled(&actor, permit);
        }
        self.env.set_state(&actor, HostState::Running);
        self.release(&actor, permit);
    }

    /// Asks the restart service for a restart unless one is pending or running.
    fn signal_restart(&self, actor: &str) {
        if self.restart_pending.load(Ordering::SeqCst) || self.restart_active.load(Ordering::SeqCst)
        {
            return;
        }
        self.restart_pending.store(true, Ordering::SeqCst);
        self.env
            .emit(actor, "restart.requested", &[("reason", "no-channel")]);
        self.restart_signal.notify_one();
    }

    /// A failed start schedules the next attempt after a backoff.
    fn schedule_retry(self: &Arc<Self>) {
        let n = self.retries.fetch_add(1, Ordering::SeqCst) + 1;
        let actor = format!("start#{}", n + 1);
        let this = self.clone();
        let env = self.env.clone();
        let task: BoxFuture<()> = Box::pin(async move {
            env.sleep(backoff_ms(n)).await;
            this.run_start(actor).await;
        });
        self.env.spawn("retry", false, task);
    }

    /// The restart service: serves signalled restarts one at a time, for ever.
    async fn restart_service(self: Arc<Self>) {
        loop {
            self.restart_signal.notified().await;
            if !self.restart_pending.swap(false, Ordering::SeqCst) {
                continue;
            }
            self.restart_active.store(true, Ordering::SeqCst);
            self.cancel_current();
            self.clone().run_start(RESTART_SERVICE.to_string()).await;
            self.restart_active.store(false, Ordering::SeqCst);
        }
    }
}

impl HostService for TeamHost {
    fn start(&self) -> BoxFuture<()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            if inner.variant == Variant::Ok {
                let service = inner.clone();
                inner
                    .env
                    .spawn("restart-service", true, Box::pin(service.restart_service()));
            }
            inner.run_start("start#1".to_string()).await;
        })
    }

    fn restart(&self, actor: &str, reason: &str) -> BoxFuture<()> {
        let inner = self.inner.clone();
        let (actor, reason) = (actor.to_string(), reason.to_string());
        Box::pin(async move {
            inner
                .env
                .emit(&actor, "restart.requested", &[("reason", &reason)]);
            inner.cancel_current();
            inner.run_start(actor).await;
        })
    }

    fn stop(&self) -> BoxFuture<()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            inner.env.emit("stop", "stop.begin", &[]);
            inner.cancel_current();
            inner.env.set_state("stop", HostState::Stopped);
            inner.env.emit("stop", "stop.done", &[]);
        })
    }
}

/// teamhost as a lockstep plug-in (model `teamhost`).
pub struct TeamHostPlugin;

impl HostPlugin for TeamHostPlugin {
    fn name(&self) -> String {
        "teamhost".to_string()
    }
    fn description(&self) -> String {
        "an independent host lifecycle implementation (own semaphore and cancellation), via the plug-in API"
            .to_string()
    }
    fn variants(&self) -> Vec<String> {
        Variant::NAMES.iter().map(|v| v.to_string()).collect()
    }
    fn spec_variant(&self, _variant: &str) -> Option<String> {
        // The team claims the fixed protocol; the mutant claims it too (and breaks it).
        Some("fixed".to_string())
    }
    fn build(&self, variant: &str, env: Arc<dyn HostEnv>) -> Result<Arc<dyn HostService>, String> {
        Ok(Arc::new(TeamHost::new(Variant::parse(variant)?, env)))
    }
}
