//! `RestartHostAsync` (spec A.3.4), `StopAsync` (A.3.5), and when external events come:
//! the timer windows restart requests and the shutdown arrive in, and the end of a run.

use std::sync::Arc;

use lockstep::rt::{self, CancellationToken};

use super::impl_service::{BoxFut, Service};
use super::spec::Cfg;
use super::spec_state::{HostState, Mode};

impl Service {
    /// An upper bound on timer firings in a run: one backoff per failed start (faults, and
    /// one channel race per restart) plus one per worker timeout.
    pub(crate) fn max_ticks(cfg: &Cfg) -> usize {
        let failures =
            cfg.storage_failures + cfg.worker_timeouts + cfg.host_exceptions + cfg.restarts;
        failures as usize + cfg.worker_timeouts as usize + 1
    }

    /// Called after a timer fired (a backoff or a worker deadline passed).
    pub fn tick(&self) {
        let k = self.clock.write(|t| {
            *t += 1;
            *t
        });
        if let Some(latch) = self.ticks.get(k as usize) {
            latch.set(Ok(()));
        }
    }

    /// When an external event (a restart request, the shutdown) happens. The executor
    /// fires timers only when nothing else can run, so an event that is ready at once
    /// always beats every timer; instead, the event picks the window between two timer
    /// firings it arrives in (any point inside a window is explored by the scheduler), or
    /// never arrives. `must`: it arrives at the latest when the run is otherwise over.
    pub async fn arrival(&self, must: bool) -> bool {
        loop {
            if rt::choose_bool("arrives now") {
                return true;
            }
            let next = self.clock.read(|t| *t) as usize + 1;
            let Some(latch) = self.ticks.get(next) else {
                return must;
            };
            let _ = latch.wait().await;
            if self.ended.read(|e| *e) {
                return must;
            }
        }
    }

    // ---- A.3.4 RestartHostAsync ------------------------------------------------------------------

    /// `inline`: called by the metadata provider on a start's own stack.
    pub fn restart_host(self: &Arc<Self>, inline: bool) -> BoxFut {
        let svc = self.clone();
        Box::pin(async move {
            // 1. If ShutdownRequested, return.
            if svc.shutdown_requested() {
                return;
            }
            // 2. Await _hostStarted if the first start has not entered the semaphore yet.
            if !svc.host_started.is_set() {
                let _ = svc.host_started.wait().await;
                // Woken by the process exit (see `end_run`): nothing runs after it.
                if svc.ended.read(|e| *e) {
                    return;
                }
            }
            // 3-4. Cancel the loop token and every registered operation.
            svc.cancel_loop_and_ops();
            let me = rt::current_task();
            let (holder_is_me, someone) = svc.holders.read(|h| (h.contains(&me), !h.is_empty()));
            if inline {
                rt::always("non-reentrancy", !holder_is_me, || {
                    format!("RestartHost waits on the host-start semaphore held by its caller {me}")
                });
            } else {
                rt::sometimes("restart-during-start", someone);
            }
            // 5. await sem.WaitAsync() (no token, no timeout).
            let permit = svc.enter_critical().await;
            // 6. Stopping/Stopped: return (finally releases).
            if svc
                .state
                .read(|s| matches!(s, HostState::Stopping | HostState::Stopped))
            {
                svc.leave_critical(permit);
                return;
            }
            // 7. State = Default; prev := ActiveHost; ActiveHost = null.
            svc.state.set(HostState::Default);
            let prev = svc.hosts.write(|h| {
                let prev = h.active;
                if let Some(p) = prev {
                    h.recs[p].pending_orphan = true;
                }
                prev
            });
            svc.set_active(None);
            // 8. op := Create(ct).
            let (op_id, op) = svc.create_op(&CancellationToken::none());
            // 9. NotifyHostStopping(prev): an unawaited shutdown of all web-host channels;
            //    start Unsync(op) (runs synchronously up to its first await); Orphan(prev)
            //    once that call has yielded.
            if prev.is_some() {
                let channels = svc.clone();
                rt::spawn(
                    "channel-shutdown",
                    async move { channels.shutdown_channels() },
                );
            }
            // 10. await the start task; dispose op. 11. OperationCanceled is swallowed.
            svc.unsync(&op, 0, Mode::Normal, prev).await;
            svc.dispose_op(op_id);
            // 12. finally: release.
            svc.leave_critical(permit);
        })
    }

    /// The run is over: wake every event still waiting for a timer window (it never
    /// arrives, or arrives now if it must), and, after a shutdown, the restarts still
    /// awaiting `_hostStarted` (the first start returned at StartAsync step 1 and never set
    /// it): the process exit abandons them rather than deadlocking them.
    pub fn end_run(&self) {
        self.ended.set(true);
        let stopping = self.shutdown_requested();
        for latch in &self.ticks {
            latch.set(Ok(()));
        }
        if stopping && !self.host_started.is_set() {
            self.host_started.set(Ok(()));
        }
    }

    // ---- A.3.5 StopAsync -----------------------------------------------------------------------

    /// The `ApplicationStopping` callback (sets the flag) and then `StopAsync`; the flag
    /// comes first, the ordering A.5.5 asks to keep explicit.
    pub fn stop(self: &Arc<Self>) -> BoxFut {
        let svc = self.clone();
        Box::pin(async move {
            svc.stopping.set(true);
            rt::sometimes("stop-during-start", svc.holders.read(|h| !h.is_empty()));
            // StopAsync is called later by the host's shutdown.
            rt::yield_now().await;
            // 1. Cancel _startupLoopTokenSource (operations are not cancelled).
            svc.cancel_loop();
            // 2. State = Stopping; cur := ActiveHost; ActiveHost = null.
            svc.state.set(HostState::Stopping);
            let cur = svc.hosts.read(|h| h.active);
            svc.set_active(None);
            if let Some(h) = cur {
                svc.orphan(h);
            }
            // 3. await WhenAny(Orphan(cur), 10 s delay).
            rt::yield_now().await;
            // 4. State = Stopped.
            svc.state.set(HostState::Stopped);
        })
    }
}
