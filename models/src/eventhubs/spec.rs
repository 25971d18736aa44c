//! The `eventhubs` protocol model: Event Hubs trigger processing and checkpointing
//! (spec Part B) as an explicit state machine for lockstep's checkers.
//!
//! Actors: processor instances (start, crash, graceful stop, relinquish), their
//! load-balancing loops, one pump per owned partition (receive, dispatch with the
//! retry policy, checkpoint gate, checkpoint write), and the environment (record
//! expiry, store failures). Transitions live in `balancer.rs` and `pump.rs`,
//! properties in `properties.rs`.

use lockstep::explore::{Model, Property};
use lockstep::report::Bounds;
use lockstep::world::checkpoint_store::Version;

use super::config::{Config, PlantedBug, Variant};
use super::state::{EhState, Lb, Life, PumpPhase, GROUP};

/// One atomic step. Instances and partitions are indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EhAction {
    Start(u8),
    Crash(u8),
    StopListener(u8),
    Relinquish {
        inst: u8,
        fails: bool,
    },
    /// Renew (or fail to), list, and claim `claim` (or nothing).
    LbCycle {
        inst: u8,
        renew_fails: bool,
        claim: Option<u8>,
    },
    LbClaim {
        inst: u8,
        fails: bool,
    },
    LbResume(u8),
    Expire(u8),
    PumpStart {
        inst: u8,
        partition: u8,
        fails: bool,
    },
    PumpExit {
        inst: u8,
        partition: u8,
    },
    Receive {
        inst: u8,
        partition: u8,
        count: u8,
    },
    ReceiveFails {
        inst: u8,
        partition: u8,
    },
    StartNext {
        inst: u8,
        partition: u8,
    },
    Complete {
        inst: u8,
        partition: u8,
        event: u64,
        ok: bool,
    },
    WriteCheckpoint {
        inst: u8,
        partition: u8,
        fails: bool,
    },
}

/// The protocol model of one version profile within bounds.
#[derive(Clone, Debug)]
pub struct EventHubsSpec {
    pub variant: Variant,
    pub config: Config,
    pub planted: PlantedBug,
}

impl EventHubsSpec {
    /// Builds the model for `variant` (`v6`, `v5`) within `bounds` (missing bounds
    /// take [`EventHubsSpec::default_bounds`]).
    pub fn new(variant: &str, bounds: &Bounds) -> Result<Self, String> {
        Ok(EventHubsSpec {
            variant: Variant::parse(variant)?,
            config: Config::from_bounds(bounds)?,
            planted: PlantedBug::None,
        })
    }

    /// 2 instances, 2 partitions, 3 events, 1 crash, 1 stop, 1 retry, batches of 2.
    pub fn default_bounds() -> Bounds {
        Config::default_bounds()
    }

    /// The same model with a bug planted on purpose (tests only use this).
    pub fn with_planted_bug(mut self, bug: PlantedBug) -> Self {
        self.planted = bug;
        self
    }

    pub(super) fn partitions(&self) -> usize {
        usize::from(self.config.partitions)
    }

    fn apply(&self, s: &mut EhState, action: &EhAction) -> Option<()> {
        use EhAction::*;
        match *action {
            Start(i) => self.start(s, usize::from(i)),
            Crash(i) => self.crash(s, usize::from(i)),
            StopListener(i) => self.stop_listener(s, usize::from(i)),
            Relinquish { inst, fails } => self.relinquish(s, usize::from(inst), fails),
            LbCycle {
                inst,
                renew_fails,
                claim,
            } => self.lb_cycle(s, usize::from(inst), renew_fails, claim),
            LbClaim { inst, fails } => self.lb_claim(s, usize::from(inst), fails),
            LbResume(i) => self.lb_resume(s, usize::from(i)),
            Expire(p) => self.expire(s, usize::from(p)),
            PumpStart {
                inst,
                partition,
                fails,
            } => self.pump_start(s, usize::from(inst), usize::from(partition), fails),
            PumpExit { inst, partition } => {
                self.pump_exit(s, usize::from(inst), usize::from(partition))
            }
            Receive {
                inst,
                partition,
                count,
            } => self.receive(s, usize::from(inst), usize::from(partition), count),
            ReceiveFails { inst, partition } => {
                self.receive_fails(s, usize::from(inst), usize::from(partition))
            }
            StartNext { inst, partition } => {
                self.start_next(s, usize::from(inst), usize::from(partition))
            }
            Complete {
                inst,
                partition,
                event,
                ok,
            } => self.complete(s, usize::from(inst), usize::from(partition), event, ok),
            WriteCheckpoint {
                inst,
                partition,
                fails,
            } => self.write_checkpoint(s, usize::from(inst), usize::from(partition), fails),
        }
    }

    /// Whether a store call may fail here (the outage budget is not spent).
    fn may_fail(&self, s: &EhState) -> bool {
        s.outages_used < self.config.outages
    }

    fn instance_actions(&self, s: &EhState, i: usize, out: &mut Vec<EhAction>) {
        let inst = &s.instances[i];
        let id = i as u8;
        let fail_options: &[bool] = if self.may_fail(s) {
            &[false, true]
        } else {
            &[false]
        };
        match inst.life {
            Life::NotStarted => out.push(EhAction::Start(id)),
            Life::Running => {
                if s.crashes_used < self.config.crashes {
                    out.push(EhAction::Crash(id));
                }
                if s.stops_used < self.config.stops {
                    out.push(EhAction::StopListener(id));
                }
                match inst.lb {
                    Lb::Idle => {
                        if self.may_fail(s) {
                            // A throwing renew always changes the state (the outage budget).
                            out.push(EhAction::LbCycle {
                                inst: id,
                                renew_fails: true,
                                claim: None,
                            });
                        }
                        let renew_noop = self.renew_is_noop(s, i);
                        let candidates = if renew_noop {
                            self.claim_candidates(s, i)
                        } else {
                            self.candidates_after_renew(s, i)
                        };
                        // A cycle that changes nothing is stuttering: leaving it out keeps
                        // self-loops (and unfair "idle cycle" lassos) out of the graph.
                        if candidates.is_empty() && !(renew_noop && self.reconcile_is_noop(s, i)) {
                            out.push(EhAction::LbCycle {
                                inst: id,
                                renew_fails: false,
                                claim: None,
                            });
                        }
                        for (p, _) in candidates {
                            out.push(EhAction::LbCycle {
                                inst: id,
                                renew_fails: false,
                                claim: Some(p),
                            });
                        }
                    }
                    Lb::Claiming { .. } => out.extend(
                        fail_options
                            .iter()
                            .map(|&fails| EhAction::LbClaim { inst: id, fails }),
                    ),
                    Lb::Stopping => {
                        if self.may_resume(s, i) {
                            out.push(EhAction::LbResume(id));
                        }
                    }
                }
            }
            Life::ShuttingDown => {
                if s.crashes_used < self.config.crashes {
                    out.push(EhAction::Crash(id));
                }
                if inst
                    .pumps
                    .iter()
                    .flatten()
                    .all(super::state::Pump::finished)
                {
                    out.extend(
                        fail_options
                            .iter()
                            .map(|&fails| EhAction::Relinquish { inst: id, fails }),
                    );
                }
            }
            Life::Stopped | Life::Crashed => {}
        }
        if matches!(inst.life, Life::Running | Life::ShuttingDown) {
            for p in 0..self.partitions() {
                self.pump_actions(s, i, p, fail_options, out);
            }
        }
    }

    /// How an execution of `event` of partition `p` may end: a poison event
    /// always fails, any other one succeeds or fails.
    pub(super) fn outcomes(&self, p: usize, event: u64) -> &'static [bool] {
        if self.config.is_poison(p, event) {
            &[false]
        } else {
            &[true, false]
        }
    }

    /// Under an unbounded retry policy, the end of an execution that is itself a
    /// retry. Such executions are taken only when nothing else can move: the
    /// backoff delays grow, so every other actor gets to act first. This keeps the
    /// endless retry loop from starving the rest of the system in counterexample
    /// lassos (the checker has no fairness), while the first retry interleaves freely.
    fn is_repeated_retry(&self, s: &EhState, action: &EhAction) -> bool {
        let EhAction::Complete {
            inst,
            partition,
            event,
            ..
        } = *action
        else {
            return false;
        };
        let pump = s.instances[usize::from(inst)].pumps[usize::from(partition)].as_ref();
        match pump.map(|p| p.phase) {
            Some(PumpPhase::Sequential(batch)) => batch.current == event && batch.attempt > 0,
            Some(PumpPhase::Concurrent(batch)) => batch
                .running_events()
                .any(|(e, attempt)| e == event && attempt > 0),
            _ => false,
        }
    }

    /// The claim candidates the cycle would see after a successful renew.
    fn candidates_after_renew(&self, s: &EhState, i: usize) -> Vec<(u8, Option<Version>)> {
        let mut renewed = s.clone();
        match self.renew(&mut renewed, i, false) {
            Some(true) => self.claim_candidates(&renewed, i),
            _ => Vec::new(),
        }
    }

    fn pump_actions(
        &self,
        s: &EhState,
        i: usize,
        p: usize,
        fail_options: &[bool],
        out: &mut Vec<EhAction>,
    ) {
        let Some(pump) = s.instances[i].pumps[p].as_ref() else {
            return;
        };
        let (inst, partition) = (i as u8, p as u8);
        match &pump.phase {
            PumpPhase::Starting | PumpPhase::Receiving if pump.stop_requested => {
                out.push(EhAction::PumpExit { inst, partition })
            }
            PumpPhase::Starting => {
                out.extend(fail_options.iter().map(|&fails| EhAction::PumpStart {
                    inst,
                    partition,
                    fails,
                }))
            }
            PumpPhase::Receiving => {
                if !s.hub.is_connected(GROUP, p as u32, i as u32) {
                    out.push(EhAction::ReceiveFails { inst, partition });
                } else {
                    let available = s.hub.available(GROUP, p as u32, i as u32).unwrap_or(0);
                    let most = available.min(u64::from(self.config.batch_size)) as u8;
                    out.extend((1..=most).map(|count| EhAction::Receive {
                        inst,
                        partition,
                        count,
                    }));
                }
            }
            PumpPhase::Sequential(batch) => {
                for &ok in self.outcomes(p, batch.current) {
                    out.push(EhAction::Complete {
                        inst,
                        partition,
                        event: batch.current,
                        ok,
                    });
                }
            }
            PumpPhase::Concurrent(batch) => {
                if !batch.halted && batch.started_hi < batch.hi {
                    out.push(EhAction::StartNext { inst, partition });
                }
                for (event, _) in batch.running_events() {
                    for &ok in self.outcomes(p, event) {
                        out.push(EhAction::Complete {
                            inst,
                            partition,
                            event,
                            ok,
                        });
                    }
                }
            }
            PumpPhase::Checkpointing { .. } => {
                out.extend(fail_options.iter().map(|&fails| EhAction::WriteCheckpoint {
                    inst,
                    partition,
                    fails,
                }))
            }
            PumpPhase::Done | PumpPhase::Faulted => {}
        }
    }
}

impl Model for EventHubsSpec {
    type State = EhState;
    type Action = EhAction;

    fn name(&self) -> String {
        "eventhubs".to_string()
    }

    fn variant(&self) -> String {
        self.variant.name().to_string()
    }

    fn bounds(&self) -> Bounds {
        self.config.to_bounds()
    }

    fn init_states(&self) -> Vec<EhState> {
        let mut state = EhState::initial(&self.config);
        if self.planted == PlantedBug::ClaimsIgnoreEtag {
            state.store.mode = lockstep::world::checkpoint_store::ConditionMode::IgnoreConditions;
        }
        vec![state]
    }

    fn actions(&self, state: &EhState, out: &mut Vec<EhAction>) {
        for i in 0..state.instances.len() {
            self.instance_actions(state, i, out);
        }
        for p in 0..self.partitions() {
            if self.may_expire(state, p) {
                out.push(EhAction::Expire(p as u8));
            }
        }
        if self.config.infinite_retries() && out.iter().any(|a| !self.is_repeated_retry(state, a)) {
            out.retain(|a| !self.is_repeated_retry(state, a));
        }
    }

    fn next_state(&self, state: &EhState, action: &EhAction) -> Option<EhState> {
        let mut next = state.clone();
        self.apply(&mut next, action)?;
        next.canonicalize_versions();
        Some(next)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        self.property_list()
    }

    fn at_rest(&self, state: &EhState) -> bool {
        state.instances.iter().all(|inst| match inst.life {
            Life::Running => {
                inst.lb == Lb::Idle
                    && inst
                        .pumps
                        .iter()
                        .flatten()
                        .all(|pump| pump.phase == PumpPhase::Receiving)
            }
            Life::Stopped | Life::Crashed => true,
            Life::NotStarted | Life::ShuttingDown => false,
        })
    }

    fn format_action(&self, action: &EhAction) -> String {
        use EhAction::*;
        let outcome = |fails: bool| if fails { "fails" } else { "ok" };
        match *action {
            Start(i) => format!("P{i} starts"),
            Crash(i) => format!("P{i} crashes"),
            StopListener(i) => format!("P{i} listener stop (tokens cancelled)"),
            Relinquish { inst, fails } => {
                format!("P{inst} relinquishes ownership ({})", outcome(fails))
            }
            LbCycle {
                inst,
                renew_fails: true,
                ..
            } => format!("P{inst} cycle: renew throws, keeps its beliefs"),
            LbCycle {
                inst,
                claim: Some(p),
                ..
            } => format!("P{inst} cycle: renew, list, choose p{p}"),
            LbCycle {
                inst, claim: None, ..
            } => format!("P{inst} cycle: renew, list, nothing to claim"),
            LbClaim { inst, fails } => format!("P{inst} claim ({})", outcome(fails)),
            LbResume(i) => format!("P{i} stops of lost partitions completed"),
            Expire(p) => format!("ownership of p{p} expires"),
            PumpStart {
                inst,
                partition,
                fails,
            } => {
                format!(
                    "P{inst}/p{partition} read checkpoint, open receiver ({})",
                    outcome(fails)
                )
            }
            PumpExit { inst, partition } => {
                format!("P{inst}/p{partition} task ends (stop requested)")
            }
            Receive {
                inst,
                partition,
                count,
            } => format!("P{inst}/p{partition} receives {count} event(s)"),
            ReceiveFails { inst, partition } => {
                format!("P{inst}/p{partition} receive fails: consumer disconnected")
            }
            StartNext { inst, partition } => format!("P{inst}/p{partition} starts next invocation"),
            Complete {
                inst,
                partition,
                event,
                ok,
            } => {
                format!(
                    "P{inst}/p{partition} e{event} {}",
                    if ok { "succeeds" } else { "fails" }
                )
            }
            WriteCheckpoint {
                inst,
                partition,
                fails,
            } => {
                format!(
                    "P{inst}/p{partition} writes checkpoint ({})",
                    outcome(fails)
                )
            }
        }
    }

    fn actor(&self, action: &EhAction) -> String {
        use EhAction::*;
        match *action {
            Start(i) | Crash(i) | StopListener(i) | Relinquish { inst: i, .. } => format!("P{i}"),
            LbCycle { inst, .. } | LbClaim { inst, .. } | LbResume(inst) => format!("P{inst}.lb"),
            Expire(_) => "env".to_string(),
            PumpStart {
                inst, partition, ..
            }
            | PumpExit { inst, partition }
            | Receive {
                inst, partition, ..
            }
            | ReceiveFails { inst, partition }
            | StartNext { inst, partition }
            | Complete {
                inst, partition, ..
            }
            | WriteCheckpoint {
                inst, partition, ..
            } => format!("P{inst}.p{partition}"),
        }
    }

    fn format_state(&self, state: &EhState) -> String {
        state.summary()
    }
}
