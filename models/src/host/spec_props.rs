//! Which steps of the host protocol model are enabled in a state, and the predicates of
//! its properties (A.5.3, A.5.6).

use lockstep::report::WaitEdge;

use super::spec::{HostSpec, Mutation};
use super::spec_action::{
    RestartKind, Step, WorkerOutcome, ACTOR_CHANNELS, ACTOR_ENV, ACTOR_STOP, ACTOR_WORKER,
};
use super::spec_state::{host_bits, Actor, Chan, HostSt, HostState, Mode, Op, Pc, StopPc, NONE};

impl HostSpec {
    /// The steps enabled in `s`, without their logs.
    pub(crate) fn candidates(&self, s: &HostSt, out: &mut Vec<(u8, Step)>) {
        if !s.configured {
            self.setup_choices(out);
            return;
        }
        let no_skip = |a: &Actor| !s.offline && a.mode == Mode::Normal;
        for i in 0..self.n_actors() {
            let a = s.actors[i];
            let id = i as u8;
            match a.pc {
                Pc::Idle if i == 0 => out.push((id, Step::Boot)),
                Pc::Idle if self.is_requester(id) => {
                    for kind in [
                        RestartKind::FileWatch,
                        RestartKind::Admin,
                        RestartKind::Specialization,
                    ] {
                        out.push((id, Step::Request { kind }));
                    }
                    if s.state == HostState::Running {
                        out.push((
                            id,
                            Step::Request {
                                kind: RestartKind::Health,
                            },
                        ));
                    }
                }
                Pc::WaitLatch if s.latch => out.push((id, Step::LatchObserved)),
                Pc::Granted => {
                    out.push((
                        id,
                        Step::Enter {
                            config_error: false,
                        },
                    ));
                    if self.enter_reaches_full_build(s, id)
                        && s.used_exceptions < self.cfg.host_exceptions
                    {
                        out.push((id, Step::Enter { config_error: true }));
                    }
                }
                Pc::MetaWaitBuild | Pc::MetaWaitStart if s.chan != Chan::Pending => {
                    out.push((id, Step::MetaResume))
                }
                Pc::HostStart => {
                    out.push((
                        id,
                        Step::HostStart {
                            storage_error: false,
                        },
                    ));
                    if a.op != Op::Cancelled
                        && no_skip(&a)
                        && s.used_storage < self.cfg.storage_failures
                    {
                        out.push((
                            id,
                            Step::HostStart {
                                storage_error: true,
                            },
                        ));
                    }
                }
                Pc::DispatcherInit => {
                    out.push((id, Step::DispatcherInit { init_error: false }));
                    if a.op != Op::Cancelled && s.used_exceptions < self.cfg.host_exceptions {
                        out.push((id, Step::DispatcherInit { init_error: true }));
                    }
                }
                Pc::Backoff => out.push((id, Step::BackoffElapsed)),
                _ => {}
            }
        }
        let flag_first = self.mutation != Mutation::StoppingBeforeFlag;
        match s.stop {
            StopPc::Idle if flag_first => out.push((ACTOR_STOP, Step::AppStopping)),
            StopPc::Idle => out.push((ACTOR_STOP, Step::StopAsync)),
            StopPc::Flagged => out.push((ACTOR_STOP, Step::StopAsync)),
            StopPc::StoppingUnflagged => out.push((ACTOR_STOP, Step::AppStopping)),
            StopPc::Stopping => out.push((ACTOR_STOP, Step::StopDone)),
            StopPc::Absent | StopPc::Done => {}
        }
        if s.chan == Chan::Pending {
            out.push((
                ACTOR_WORKER,
                Step::Worker {
                    outcome: WorkerOutcome::Ready,
                },
            ));
            if s.used_worker < self.cfg.worker_timeouts {
                out.push((
                    ACTOR_WORKER,
                    Step::Worker {
                        outcome: WorkerOutcome::StartStreamTimeout,
                    },
                ));
                out.push((
                    ACTOR_WORKER,
                    Step::Worker {
                        outcome: WorkerOutcome::InitTimeout,
                    },
                ));
            }
        }
        if s.chan_shutdown_pending {
            out.push((ACTOR_CHANNELS, Step::ChannelShutdown));
        }
    }

    /// Whether the granted continuation of `a` reaches a full (job host) BuildHost, where a
    /// HostConfigurationException can be thrown.
    fn enter_reaches_full_build(&self, s: &HostSt, a: u8) -> bool {
        let me = s.actors[a as usize];
        if s.shutdown || s.offline || me.mode != Mode::Normal {
            return false;
        }
        if self.is_requester(a) {
            !matches!(s.state, HostState::Stopping | HostState::Stopped)
        } else {
            me.op != Op::Cancelled
        }
    }

    fn has_enabled(&self, s: &HostSt) -> bool {
        let mut out = Vec::new();
        self.candidates(s, &mut out);
        !out.is_empty()
    }

    // ---- property predicates -----------------------------------------------------------

    /// At most one holder, and it is inside a critical section; no permit leaked; the
    /// queue holds exactly the waiting actors, each once.
    pub fn permits_conserved(&self, s: &HostSt) -> bool {
        let actors = &s.actors[..self.n_actors()];
        let holding = actors.iter().filter(|a| a.pc.holds_sem()).count();
        let queued = actors.iter().filter(|a| a.pc.queued_on_sem()).count();
        let holder_ok = if s.holder == NONE {
            holding == 0 && s.qlen == 0
        } else {
            holding == 1 && s.actors[s.holder as usize].pc.holds_sem()
        };
        let queue_ok = queued == s.qlen as usize
            && s.waiters()
                .iter()
                .all(|&w| s.actors[w as usize].pc.queued_on_sem())
            && (0..s.qlen as usize).all(|i| !s.waiters()[..i].contains(&s.waiters()[i]));
        holder_ok && queue_ok
    }

    /// At most one live host that no restart is about to orphan, and ActiveHost is live.
    pub fn single_active_host(&self, s: &HostSt) -> bool {
        let actors = &s.actors[..self.n_actors()];
        let owned = |h: usize| actors.iter().any(|a| a.prev == h as u8);
        let live_unowned = actors
            .iter()
            .enumerate()
            .filter(|(h, a)| a.live_host() && !owned(*h))
            .count();
        live_unowned <= 1 && (s.active == NONE || s.actors[s.active as usize].live_host())
    }

    /// When nothing can move any more, every host built is either orphaned or active.
    pub fn no_orphan_leak(&self, s: &HostSt) -> bool {
        let leak = s.actors[..self.n_actors()]
            .iter()
            .enumerate()
            .any(|(h, a)| a.live_host() && h as u8 != s.active);
        !leak || self.has_enabled(s)
    }

    /// Running, shut down, offline as configured, or parked after a non-transient error.
    pub fn settled(&self, s: &HostSt) -> bool {
        s.state == HostState::Running
            || s.shutdown
            || (s.offline && s.state == HostState::Offline)
            || self.parked(s)
    }

    /// In Error with a started minimal host active: the designed end of a non-transient
    /// error, waiting for a restart (A.3.3 step 6.9).
    pub fn parked(&self, s: &HostSt) -> bool {
        s.state == HostState::Error
            && s.active != NONE
            && s.actors[s.active as usize].host & (host_bits::MINIMAL | host_bits::STARTED)
                == host_bits::MINIMAL | host_bits::STARTED
    }

    /// The wait-for edges of `s` (the cycle of a deadlock).
    pub fn wait_for(&self, s: &HostSt) -> Vec<WaitEdge> {
        let mut edges = Vec::new();
        for i in 0..self.n_actors() {
            let a = s.actors[i];
            let task = self.actor_label(i as u8);
            match a.pc {
                Pc::Queued | Pc::InlineWait => edges.push(WaitEdge {
                    task: if a.pc == Pc::InlineWait {
                        format!("{task} (RestartHost inline)")
                    } else {
                        task
                    },
                    resource: "host-start-semaphore".to_string(),
                    holder: (s.holder != NONE).then(|| self.actor_label(s.holder)),
                }),
                Pc::WaitLatch => edges.push(WaitEdge {
                    task,
                    resource: "_hostStarted".to_string(),
                    holder: None,
                }),
                _ => {}
            }
        }
        edges
    }

    /// Every environment the knobs allow (`None` = both values), fewest requesters first.
    fn setup_choices(&self, out: &mut Vec<(u8, Step)>) {
        let both = |v: Option<bool>| match v {
            Some(b) => vec![b],
            None => vec![false, true],
        };
        for bundle in both(self.env.bundle) {
            for writable in both(self.env.writable) {
                for offline in both(self.env.offline) {
                    for stop in both(self.env.stop) {
                        for requesters in 0..=self.cfg.restarts {
                            let step = Step::Setup {
                                bundle,
                                writable,
                                offline,
                                stop,
                                requesters,
                            };
                            out.push((ACTOR_ENV, step));
                        }
                    }
                }
            }
        }
    }
}
