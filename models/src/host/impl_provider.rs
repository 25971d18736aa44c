//! The metadata provider (`WorkerFunctionMetadataProvider.GetFunctionMetadataAsync`,
//! spec A.4.2), the web-host worker channel manager (A.4.3) and the worker process start
//! with its 60 s / 10 s timeouts (A.4.4), as async Rust on `lockstep::rt`.
//!
//! The variants differ only in [`Service::is_job_host_starting`].

use std::sync::Arc;
use std::time::Duration;

use lockstep::rt::{self, Latch};

use super::impl_service::{lock, Exc, Service};
use super::spec::Variant;
use super::spec_state::HostState;

/// The channel map for the app's runtime with its one worker (A.4.3).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub(crate) enum ChanState {
    /// The runtime key is absent.
    None,
    /// The key is present with no worker.
    Empty,
    /// Channel `id`, its TCS not complete yet.
    Pending(u32),
    Ready(u32),
    Faulted(u32),
}

/// The map plus how many channels were ever created (channel ids are never reused).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub(crate) struct ChanMap {
    pub state: ChanState,
    pub created: u32,
}

impl ChanState {
    fn id(self) -> Option<u32> {
        match self {
            ChanState::Pending(i) | ChanState::Ready(i) | ChanState::Faulted(i) => Some(i),
            ChanState::None | ChanState::Empty => None,
        }
    }
}

/// StartStream must arrive within `ProcessStartupTimeout`; the init response within
/// `InitializationTimeout` after it.
const PROCESS_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const INITIALIZATION_TIMEOUT: Duration = Duration::from_secs(10);

impl Service {
    /// `IsJobHostStarting()`, the only code that differs between the variants. The tracked
    /// host is `ActiveHost` (the provider copies every `ActiveHostChanged`, null included).
    pub(crate) fn is_job_host_starting(&self) -> bool {
        let variant = self.variant;
        let state = self.state.read(|s| *s);
        self.hosts.read(|h| {
            let tracked = h.active;
            let tracked_started = tracked.is_some_and(|t| h.recs[t].started);
            match state {
                HostState::Default => true,
                HostState::Error => match variant {
                    Variant::Pre10766 => false,
                    Variant::Fix11142 => tracked.is_some() && !tracked_started,
                    Variant::Fix11825 => tracked.is_none() || !tracked_started,
                },
                _ => false,
            }
        })
    }

    /// `GetFunctionMetadataAsync(configs, forceRefresh)` (A.4.2, post-fix shape: errors
    /// are collected and thrown in every variant).
    pub(crate) async fn get_function_metadata(
        self: &Arc<Self>,
        force_refresh: bool,
    ) -> Result<(), Exc> {
        // 1. The cache, unless refreshing.
        if !force_refresh && self.cached.read(|c| *c) {
            return Ok(());
        }
        // 2. Not placeholder, forceRefresh, writable file system: shut down all channels.
        if force_refresh && self.env.writable {
            self.shutdown_channels();
        }
        // 3-4. No channels: initialize one if the job host is starting, else restart.
        if matches!(
            self.chan.read(|c| c.state),
            ChanState::None | ChanState::Empty
        ) {
            if self.is_job_host_starting() {
                self.initialize_channel();
            } else {
                self.restart_host(true).await;
            }
        }
        // 5. channels == null: InvalidOperationException.
        let Some(id) = self.chan.read(|c| c.state.id()) else {
            return Err(Exc::Metadata);
        };
        // 6.1 await the channel's TCS (the worker start).
        let tcs = lock(&self.chan_tcs)
            .as_ref()
            .filter(|(i, _)| *i == id)
            .map(|(_, l)| l.clone());
        let started = match tcs {
            Some(latch) => latch.wait().await.is_ok(),
            None => false,
        };
        // 6.2-6.4 GetFunctionMetadata on the channel; on error remove it and throw.
        let still_there = self.chan.write(|c| {
            let there = c.state.id() == Some(id);
            if there && !started {
                c.state = ChanState::Empty;
            }
            there
        });
        if started && still_there {
            self.cached.set(true);
            Ok(())
        } else {
            Err(Exc::Metadata)
        }
    }

    /// `InitializeChannelAsync`: a Pending channel whose worker process starts now; the
    /// TCS completes from the process-start continuation.
    fn initialize_channel(self: &Arc<Self>) {
        let id = self.chan.write(|c| {
            c.created += 1;
            c.state = ChanState::Pending(c.created);
            c.created
        });
        let latch = Latch::new(format!("channel-{id}-tcs"));
        *lock(&self.chan_tcs) = Some((id, latch.clone()));
        let svc = self.clone();
        rt::spawn("worker", async move {
            svc.start_worker_process(id, latch).await
        });
    }

    /// `StartWorkerProcessAsync` and the process itself: StartStream and the init response
    /// arrive, or one of the two deadlines passes first (A.4.4).
    async fn start_worker_process(self: Arc<Self>, id: u32, tcs: Latch<()>) {
        let timeout = self.fault(
            "worker startup timeout",
            |b| &mut b.worker,
            self.cfg.worker_timeouts,
        );
        let outcome = if timeout {
            rt::sometimes("worker-timeout", true);
            let init_phase = rt::choose_bool("timeout after StartStream");
            rt::sleep(if init_phase {
                INITIALIZATION_TIMEOUT
            } else {
                PROCESS_STARTUP_TIMEOUT
            })
            .await;
            self.tick();
            Err(if init_phase {
                "init timeout"
            } else {
                "StartStream timeout"
            }
            .to_string())
        } else {
            Ok(())
        };
        self.chan.write(|c| {
            if c.state == ChanState::Pending(id) {
                c.state = if outcome.is_ok() {
                    ChanState::Ready(id)
                } else {
                    ChanState::Faulted(id)
                };
            }
        });
        tcs.set(outcome);
    }

    /// `ShutdownChannelsAsync`: remove the runtime key (disposal is not modelled further).
    pub(crate) fn shutdown_channels(&self) {
        self.chan.write(|c| c.state = ChanState::None);
    }
}
