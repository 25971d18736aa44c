//! Transitions of the host protocol model: one per await segment of the real code
//! (spec A.3.x steps), each written as the straight-line code it abstracts.
//!
//! The nested call BuildHost -> metadata provider -> RestartHostAsync (A.5.2 steps 3-5)
//! runs inside the start actor's own transition: it cancels every registered start
//! operation and then queues the actor, as an inline restart, on the semaphore the actor
//! itself holds (`Pc::InlineWait`). Nothing can release it: that is the deadlock.

use super::spec::{HostSpec, Mutation, Variant};
use super::spec_action::{backoff_secs, Step, WorkerOutcome};
use super::spec_log::{Check, Ev, Log};
use super::spec_state::{host_bits, Actor, Chan, HostSt, HostState, Mode, Op, Pc, StopPc, NONE};

/// Exceptions that reach the error handler (A.3.3 step 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exc {
    Storage,
    Metadata,
    Init,
    Config,
}

/// What the metadata provider call did.
enum Meta {
    Ok,
    Wait,
    Blocked,
    Fail,
}

impl HostSpec {
    pub(crate) fn is_requester(&self, a: u8) -> bool {
        a > self.cfg.attempts && (a as usize) < self.n_actors()
    }

    /// Applies `step` by `actor` to `s`, logging what happened. The caller checked that
    /// the step is enabled.
    pub(crate) fn apply(&self, s: &mut HostSt, actor: u8, step: Step, log: &mut Log) {
        match step {
            Step::Setup {
                bundle,
                writable,
                offline,
                stop,
                requesters,
            } => {
                s.configured = true;
                (s.bundle, s.writable, s.offline) = (bundle, writable, offline);
                s.stop = if stop { StopPc::Idle } else { StopPc::Absent };
                let first = self.cfg.attempts as usize + 1;
                for r in first..first + requesters as usize {
                    s.actors[r].pc = Pc::Idle;
                }
            }
            Step::Boot => self.boot(s, log),
            Step::Enter { config_error } => self.enter(s, actor, config_error, log),
            Step::MetaResume => self.meta_resume(s, actor, log),
            Step::HostStart { storage_error } => self.host_start(s, actor, storage_error, log),
            Step::DispatcherInit { init_error } => self.dispatcher_init(s, actor, init_error, log),
            Step::BackoffElapsed => self.backoff_elapsed(s, actor, log),
            Step::Request { .. } => self.request(s, actor, log),
            Step::LatchObserved => self.restart_cancel_and_wait(s, actor, log),
            Step::AppStopping => self.app_stopping(s, log),
            Step::StopAsync => self.stop_async(s, log),
            Step::StopDone => {
                s.state = HostState::Stopped;
                log.push(Ev::StateTo(HostState::Stopped));
                s.stop = StopPc::Done;
            }
            Step::Worker { outcome } => {
                if outcome == WorkerOutcome::Ready {
                    s.chan = Chan::Ready;
                    log.push(Ev::WorkerReady);
                } else {
                    s.used_worker += 1;
                    s.chan = Chan::Faulted;
                    log.push(Ev::WorkerTimeout {
                        init: outcome == WorkerOutcome::InitTimeout,
                    });
                }
            }
            Step::ChannelShutdown => {
                s.chan_shutdown_pending = false;
                s.chan = Chan::None;
                log.push(Ev::ChannelsShutDown);
            }
        }
        if self.is_requester(actor) {
            self.settle_restart_prev(s, actor, log);
        }
    }

    // ---- semaphore -------------------------------------------------------------------

    fn acquire_or_queue(&self, s: &mut HostSt, a: u8, log: &mut Log) {
        if s.holder == NONE {
            s.holder = a;
            s.actors[a as usize].pc = Pc::Granted;
            log.push(Ev::TookSem);
        } else {
            log.push(Ev::QueuedBehind(s.holder));
            s.push_waiter(a);
            s.actors[a as usize].pc = Pc::Queued;
        }
    }

    /// `sem.Release()`: hands the permit to the head waiter (SemaphoreSlim completes the
    /// first async waiter's task), or frees it.
    fn release(&self, s: &mut HostSt, a: u8, log: &mut Log) {
        debug_assert_eq!(s.holder, a);
        match s.pop_waiter() {
            Some(next) => {
                s.holder = next;
                s.actors[next as usize].pc = Pc::Granted;
                log.push(Ev::HandedSemTo(next));
            }
            None => {
                s.holder = NONE;
                log.push(Ev::ReleasedSem);
            }
        }
    }

    /// The `finally` of `StartHostAsync` / `RestartHostAsync`: dispose the op, release.
    fn finish(&self, s: &mut HostSt, a: u8, log: &mut Log) {
        s.actors[a as usize].op = Op::None;
        s.actors[a as usize].pc = Pc::Done;
        self.release(s, a, log);
    }

    /// The OperationCanceled path; the planted `LeakOnCancel` bug forgets the release.
    fn cancelled(&self, s: &mut HostSt, a: u8, at: Check, log: &mut Log) {
        log.push(Ev::Cancelled(at));
        if self.mutation == Mutation::LeakOnCancel {
            s.actors[a as usize].op = Op::None;
            s.actors[a as usize].pc = Pc::Done;
            return;
        }
        self.finish(s, a, log);
    }

    fn cancel_all_ops(&self, s: &mut HostSt) -> u8 {
        let mut n = 0;
        for actor in s.actors.iter_mut() {
            if actor.op == Op::Live {
                actor.op = Op::Cancelled;
                n += 1;
            }
        }
        n
    }

    // ---- StartAsync / StartHostAsync / RestartHostAsync entry --------------------------

    /// A.3.1 steps 1-3 and A.3.2 steps 1-2. start#1's op is linked to the startup-loop
    /// token, so cancelling the loop cancels it while it is registered.
    fn boot(&self, s: &mut HostSt, log: &mut Log) {
        if s.shutdown {
            log.push(Ev::ShutdownReturn);
            s.actors[0].pc = Pc::Done;
            return;
        }
        s.actors[0].op = Op::Live;
        self.acquire_or_queue(s, 0, log);
    }

    /// A.3.4 steps 1-2.
    fn request(&self, s: &mut HostSt, a: u8, log: &mut Log) {
        if s.shutdown {
            log.push(Ev::ShutdownReturn);
            s.actors[a as usize].pc = Pc::Done;
            return;
        }
        if !s.latch {
            log.push(Ev::WaitsHostStarted);
            s.actors[a as usize].pc = Pc::WaitLatch;
            return;
        }
        self.restart_cancel_and_wait(s, a, log);
    }

    /// A.3.4 steps 3-5: cancel the loop token and every registered op, await the semaphore.
    fn restart_cancel_and_wait(&self, s: &mut HostSt, a: u8, log: &mut Log) {
        let n = self.cancel_all_ops(s);
        log.push(Ev::CancelledOps(n));
        self.acquire_or_queue(s, a, log);
    }

    fn enter(&self, s: &mut HostSt, a: u8, config_error: bool, log: &mut Log) {
        if self.is_requester(a) {
            // A.3.4 step 6.
            if matches!(s.state, HostState::Stopping | HostState::Stopped) {
                log.push(Ev::RestartSkippedStopping);
                self.finish(s, a, log);
                return;
            }
            // Step 7.
            s.state = HostState::Default;
            log.push(Ev::StateTo(HostState::Default));
            let prev = s.active;
            if self.mutation != Mutation::RestartKeepsPrev {
                s.active = NONE;
            }
            // Step 8: the restart's own op (default token, not linked to the loop).
            let me = &mut s.actors[a as usize];
            me.op = Op::Live;
            me.mode = Mode::Normal;
            me.attempt = 0;
            // Step 9: NotifyHostStopping(prev) starts an unawaited shutdown of all web-host
            // channels; Orphan(prev) starts only after Unsync first yields.
            if prev != NONE && self.mutation != Mutation::RestartKeepsPrev {
                s.chan_shutdown_pending = true;
                s.actors[a as usize].prev = prev;
                log.push(Ev::NotifyHostStopping(prev));
            }
        } else {
            // A.3.2 step 3.
            s.latch = true;
        }
        self.unsync_begin(s, a, config_error, log);
    }

    /// A.3.3 steps 1-4.5 (BuildHost, including the metadata provider at call site (i)).
    fn unsync_begin(&self, s: &mut HostSt, a: u8, config_error: bool, log: &mut Log) {
        if s.shutdown {
            log.push(Ev::ShutdownReturn);
            self.finish(s, a, log);
            return;
        }
        if s.actors[a as usize].op == Op::Cancelled {
            self.cancelled(s, a, Check::C1, log);
            return;
        }
        if s.state != HostState::Error {
            s.state = HostState::Default;
        }
        if s.offline {
            s.state = HostState::Offline;
            log.push(Ev::StateTo(HostState::Offline));
        }
        let mode = s.actors[a as usize].mode;
        if config_error {
            s.used_exceptions += 1;
            log.push(Ev::ConfigError);
            self.error_handler(s, a, Exc::Config, log);
            return;
        }
        // With the job host start skipped, BuildHost does not install the external startup
        // (ScriptStartupTypeLocator), so call site (i) is not reached (verified in
        // ScriptHostBuilderExtensions.AddScriptHostCore). `offline_reaches_metadata` is the
        // "what if" knob of A.5.5.
        let skip_startup = s.offline || mode != Mode::Normal;
        let reaches_provider = s.bundle
            && (!skip_startup
                || (s.offline && mode == Mode::Normal && self.env.offline_reaches_metadata));
        if !reaches_provider {
            self.build_done(s, a, log);
            return;
        }
        match self.metadata(s, a, true, log) {
            Meta::Ok => self.build_done(s, a, log),
            Meta::Wait => s.actors[a as usize].pc = Pc::MetaWaitBuild,
            Meta::Blocked => {}
            Meta::Fail => self.error_handler(s, a, Exc::Metadata, log),
        }
    }

    /// A.3.3 steps 4.6-4.9: ActiveHost = localHost, then C2.
    fn build_done(&self, s: &mut HostSt, a: u8, log: &mut Log) {
        let minimal = s.offline || s.actors[a as usize].mode != Mode::Normal;
        let me = &mut s.actors[a as usize];
        me.host = host_bits::BUILT | if minimal { host_bits::MINIMAL } else { 0 };
        s.active = a;
        log.push(Ev::HostBuilt { minimal });
        if s.actors[a as usize].op == Op::Cancelled {
            self.cancelled(s, a, Check::C2, log);
            return;
        }
        s.actors[a as usize].pc = Pc::HostStart;
    }

    // ---- metadata provider (A.4.2) ------------------------------------------------------

    /// `IsJobHostStarting()`, the only code that differs between the variants.
    pub(crate) fn is_job_host_starting(&self, s: &HostSt) -> bool {
        match s.state {
            HostState::Default => true,
            HostState::Error => match self.variant {
                Variant::Pre10766 => false,
                // Error counts as starting while the tracked host exists and has not started.
                Variant::Fix11142 => s.active != NONE && !s.active_started(),
                // ... or when there is no tracked host at all.
                Variant::Fix11825 => s.active == NONE || !s.active_started(),
            },
            _ => false,
        }
    }

    fn metadata(&self, s: &mut HostSt, a: u8, force_refresh: bool, log: &mut Log) -> Meta {
        if !force_refresh && s.cached {
            log.push(Ev::MetaCached);
            return Meta::Ok;
        }
        if force_refresh && s.writable {
            s.chan = Chan::None;
            log.push(Ev::MetaShutdownAll);
        }
        match s.chan {
            Chan::None | Chan::Empty => {
                let starting = self.is_job_host_starting(s);
                log.push(Ev::MetaNoChannels {
                    state: s.state,
                    starting,
                });
                if starting {
                    s.chan = Chan::Pending;
                    log.push(Ev::MetaInitChannel);
                    Meta::Wait
                } else {
                    self.inline_restart(s, a, log)
                }
            }
            Chan::Pending => {
                log.push(Ev::MetaAwaitChannel);
                Meta::Wait
            }
            Chan::Ready => {
                s.cached = true;
                log.push(Ev::MetaReady);
                Meta::Ok
            }
            Chan::Faulted => {
                s.chan = Chan::Empty;
                log.push(Ev::MetaChannelFaulted);
                Meta::Fail
            }
        }
    }

    /// RestartHostAsync called by the provider on the start actor's own stack.
    fn inline_restart(&self, s: &mut HostSt, a: u8, log: &mut Log) -> Meta {
        log.push(Ev::InlineRestart);
        if s.shutdown {
            // Step 1 returns; the provider re-reads the channels, finds none and throws.
            log.push(Ev::InlineRestartReturns);
            return Meta::Fail;
        }
        debug_assert!(s.latch, "inside a start, _hostStarted is set");
        let n = self.cancel_all_ops(s);
        log.push(Ev::CancelledOps(n));
        debug_assert_eq!(
            s.holder, a,
            "the provider runs on the semaphore holder's stack"
        );
        s.push_waiter(a);
        s.actors[a as usize].pc = Pc::InlineWait;
        log.push(Ev::InlineWaitsOwnSem);
        Meta::Blocked
    }

    /// The awaited channel task completed (Ready / Faulted) or the channel was removed.
    fn meta_resume(&self, s: &mut HostSt, a: u8, log: &mut Log) {
        let at_build = s.actors[a as usize].pc == Pc::MetaWaitBuild;
        let ok = match s.chan {
            Chan::Ready => {
                s.cached = true;
                log.push(Ev::MetaReady);
                true
            }
            Chan::Faulted => {
                s.chan = Chan::Empty;
                log.push(Ev::MetaChannelFaulted);
                false
            }
            Chan::None | Chan::Empty | Chan::Pending => {
                log.push(Ev::MetaChannelLost);
                false
            }
        };
        match (ok, at_build) {
            (true, true) => self.build_done(s, a, log),
            (true, false) => s.actors[a as usize].pc = Pc::DispatcherInit,
            (false, _) => self.error_handler(s, a, Exc::Metadata, log),
        }
    }

    // ---- host start ----------------------------------------------------------------------

    /// A.3.3 step 4.10 up to the dispatcher await: cancellation check, the storage-touching
    /// hosted services, then `InitializeAsync` with call site (ii).
    fn host_start(&self, s: &mut HostSt, a: u8, storage_error: bool, log: &mut Log) {
        if s.actors[a as usize].op == Op::Cancelled {
            self.cancelled(s, a, Check::HostStart, log);
            return;
        }
        if s.offline || s.actors[a as usize].mode != Mode::Normal {
            self.host_started(s, a, log);
            return;
        }
        if storage_error {
            s.used_storage += 1;
            log.push(Ev::StorageError);
            self.error_handler(s, a, Exc::Storage, log);
            return;
        }
        match self.metadata(s, a, false, log) {
            Meta::Ok => s.actors[a as usize].pc = Pc::DispatcherInit,
            Meta::Wait => s.actors[a as usize].pc = Pc::MetaWaitStart,
            Meta::Blocked => {}
            Meta::Fail => self.error_handler(s, a, Exc::Metadata, log),
        }
    }

    fn dispatcher_init(&self, s: &mut HostSt, a: u8, init_error: bool, log: &mut Log) {
        if s.actors[a as usize].op == Op::Cancelled {
            self.cancelled(s, a, Check::Dispatcher, log);
            return;
        }
        if init_error {
            s.used_exceptions += 1;
            log.push(Ev::InitException);
            self.error_handler(s, a, Exc::Init, log);
            return;
        }
        self.host_started(s, a, log);
    }

    /// ApplicationStarted fires; A.3.3 steps 4.11-4.12; the wrapper's `finally`.
    fn host_started(&self, s: &mut HostSt, a: u8, log: &mut Log) {
        s.actors[a as usize].host |= host_bits::STARTED;
        if s.actors[a as usize].mode != Mode::Normal {
            log.push(Ev::Parked);
        } else if s.offline {
            log.push(Ev::OfflineUp);
        } else {
            // Set even after StopAsync's Stopping/Stopped: the A.6.8 race, kept on purpose.
            s.state = HostState::Running;
            log.push(Ev::StateTo(HostState::Running));
        }
        self.finish(s, a, log);
    }

    // ---- error handler (A.3.3 step 6) ------------------------------------------------------

    fn error_handler(&self, s: &mut HostSt, a: u8, exc: Exc, log: &mut Log) {
        let local = if s.actors[a as usize].built() {
            a
        } else {
            NONE
        };
        let active = local == s.active;
        log.push(Ev::ErrorHandler { active });
        if active {
            s.state = HostState::Error;
            s.active = NONE;
        }
        let attempt = s.actors[a as usize].attempt.saturating_add(1);
        if local != NONE {
            s.actors[local as usize].host |= host_bits::ORPHANED;
            log.push(Ev::Orphan(local));
        }
        if s.actors[a as usize].op == Op::Cancelled {
            self.cancelled(s, a, Check::C3, log);
            return;
        }
        let next_mode = match exc {
            Exc::Config => Mode::ConfigError,
            Exc::Init => Mode::InitError,
            Exc::Storage | Exc::Metadata => Mode::Normal,
        };
        if next_mode != Mode::Normal {
            self.spawn_retry(s, a, attempt, next_mode, log);
            self.finish(s, a, log);
            return;
        }
        s.actors[a as usize].attempt = attempt;
        s.actors[a as usize].pc = Pc::Backoff;
        log.push(Ev::Backoff {
            secs: backoff_secs(attempt),
        });
    }

    /// Step 6.10 after the delay: C4, then the fire-and-forget retry and the `finally`.
    fn backoff_elapsed(&self, s: &mut HostSt, a: u8, log: &mut Log) {
        if s.actors[a as usize].op == Op::Cancelled {
            self.cancelled(s, a, Check::C4, log);
            return;
        }
        let attempt = s.actors[a as usize].attempt;
        self.spawn_retry(s, a, attempt, Mode::Normal, log);
        self.finish(s, a, log);
    }

    /// Fire-and-forget `StartHostAsync(t, attempt, mode, op.Id)`: the child registers its
    /// op and queues on the semaphore its parent still holds. Each child takes the next
    /// free retry slot; with none left the chain stops (the real host has no cap, #9924).
    fn spawn_retry(&self, s: &mut HostSt, parent: u8, attempt: u8, mode: Mode, log: &mut Log) {
        debug_assert_eq!(s.holder, parent);
        let slot = (1..=self.cfg.attempts).find(|&i| s.actors[i as usize].pc == Pc::Idle);
        let Some(slot) = slot else {
            log.push(Ev::RetryCapReached);
            return;
        };
        s.actors[slot as usize] = Actor {
            pc: Pc::Queued,
            op: Op::Live,
            mode,
            attempt,
            ..Actor::ABSENT
        };
        s.push_waiter(slot);
        log.push(Ev::SpawnRetry { slot, mode });
    }

    /// A restart's `Orphan(prev)` starts once its `Unsync` call has returned a task, i.e.
    /// once the actor is past the synchronous BuildHost (which may block its thread).
    fn settle_restart_prev(&self, s: &mut HostSt, a: u8, log: &mut Log) {
        let me = s.actors[a as usize];
        if me.prev == NONE || matches!(me.pc, Pc::Granted | Pc::MetaWaitBuild | Pc::InlineWait) {
            return;
        }
        s.actors[me.prev as usize].host |= host_bits::ORPHANED;
        s.actors[a as usize].prev = NONE;
        log.push(Ev::Orphan(me.prev));
    }

    // ---- shutdown (A.3.5) ------------------------------------------------------------------

    fn app_stopping(&self, s: &mut HostSt, log: &mut Log) {
        s.shutdown = true;
        log.push(Ev::StopFlag);
        // Normally the flag comes first; under the planted ordering bug it follows StopAsync.
        s.stop = if s.stop == StopPc::Idle {
            StopPc::Flagged
        } else {
            StopPc::Stopping
        };
    }

    /// Steps 1-3: cancel the startup loop (start#1's op while it is registered), Stopping,
    /// ActiveHost null and its orphan (raced against a 10 s delay: always completes).
    fn stop_async(&self, s: &mut HostSt, log: &mut Log) {
        log.push(Ev::StopAsync);
        if s.actors[0].op == Op::Live {
            s.actors[0].op = Op::Cancelled;
        }
        s.state = HostState::Stopping;
        let cur = s.active;
        s.active = NONE;
        if cur != NONE {
            s.actors[cur as usize].host |= host_bits::ORPHANED;
            log.push(Ev::Orphan(cur));
        }
        s.stop = if s.stop == StopPc::Idle {
            StopPc::StoppingUnflagged
        } else {
            StopPc::Stopping
        };
    }
}
