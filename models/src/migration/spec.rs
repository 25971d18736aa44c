//! The `migration` protocol model: two function apps on one event hub while the
//! new one replaces the old one (spec B.7), as an explicit state machine.
//!
//! Actors: the operator (deploy the new app, stop the old app: the migration
//! phases, interleaved with everything else), the instances of both apps (their
//! load-balancing loops, crash, relinquish on stop), one pump per owned partition
//! (read checkpoint, open receiver with owner level 0, receive, invoke each event,
//! checkpoint), and the environment (records of crashed owners expire).
//! Transitions live in `balancer.rs` and `pump.rs`, properties in `properties.rs`.

use lockstep::explore::{Model, Property};
use lockstep::report::Bounds;

use super::config::{Config, PlantedBug, Variant};
use super::state::{Lb, Life, MigState, Phase, PumpPhase};

/// One atomic step. Instances and partitions are indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MigAction {
    /// Operator: the new app is deployed and its instances start.
    DeployNewApp,
    /// Operator: the old app is stopped (its listeners stop gracefully).
    StopOldApp,
    Crash(u8),
    Relinquish(u8),
    /// The record of a crashed owner ages out (group, partition).
    Expire {
        group: u8,
        partition: u8,
    },
    /// Renew, list, and claim `claim` (or nothing, then reconcile at once).
    LbCycle {
        inst: u8,
        claim: Option<u8>,
    },
    LbClaim(u8),
    LbResume(u8),
    PumpStart {
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
    Complete {
        inst: u8,
        partition: u8,
    },
    WriteCheckpoint {
        inst: u8,
        partition: u8,
    },
}

/// The protocol model of one variant within bounds.
#[derive(Clone, Debug)]
pub struct MigrationSpec {
    pub variant: Variant,
    pub config: Config,
    pub planted: PlantedBug,
}

impl MigrationSpec {
    /// Builds the model for `variant` (`separate-groups`, `shared-group`) within
    /// `bounds` (missing bounds take [`MigrationSpec::default_bounds`]).
    pub fn new(variant: &str, bounds: &Bounds) -> Result<Self, String> {
        Ok(MigrationSpec {
            variant: Variant::parse(variant)?,
            config: Config::from_bounds(bounds)?,
            planted: PlantedBug::None,
        })
    }

    /// 2 partitions, 2 events, 1 instance per app, no crash, batches of 1.
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

    fn apply(&self, s: &mut MigState, action: &MigAction) -> Option<()> {
        use MigAction::*;
        let ix = usize::from;
        match *action {
            DeployNewApp => self.deploy_new_app(s),
            StopOldApp => self.stop_old_app(s),
            Crash(i) => self.crash(s, ix(i)),
            Relinquish(i) => self.relinquish(s, ix(i)),
            Expire { group, partition } => self.expire(s, ix(group), ix(partition)),
            LbCycle { inst, claim } => self.lb_cycle(s, ix(inst), claim),
            LbClaim(i) => self.lb_claim(s, ix(i)),
            LbResume(i) => self.lb_resume(s, ix(i)),
            PumpStart { inst, partition } => self.pump_start(s, ix(inst), ix(partition)),
            Receive {
                inst,
                partition,
                count,
            } => self.receive(s, ix(inst), ix(partition), count),
            ReceiveFails { inst, partition } => self.receive_fails(s, ix(inst), ix(partition)),
            Complete { inst, partition } => self.complete(s, ix(inst), ix(partition)),
            WriteCheckpoint { inst, partition } => {
                self.write_checkpoint(s, ix(inst), ix(partition))
            }
        }
    }

    fn instance_actions(&self, s: &MigState, i: usize, out: &mut Vec<MigAction>) {
        let inst = &s.instances[i];
        let id = i as u8;
        if inst.live() && s.crashes_used < self.config.crashes {
            out.push(MigAction::Crash(id));
        }
        match inst.life {
            Life::Running => match inst.lb {
                Lb::Idle => {
                    let renew_noop = self.renew_is_noop(s, i);
                    let candidates = if renew_noop {
                        self.claim_candidates(s, i)
                    } else {
                        let mut renewed = s.clone();
                        self.renew(&mut renewed, i);
                        self.claim_candidates(&renewed, i)
                    };
                    // A cycle that changes nothing is stuttering: leaving it out keeps
                    // self-loops out of the graph (and terminal states reachable).
                    if candidates.is_empty() && !(renew_noop && self.reconcile_is_noop(s, i)) {
                        out.push(MigAction::LbCycle {
                            inst: id,
                            claim: None,
                        });
                    }
                    out.extend(candidates.into_iter().map(|(p, _)| MigAction::LbCycle {
                        inst: id,
                        claim: Some(p),
                    }));
                }
                Lb::Claiming { .. } => out.push(MigAction::LbClaim(id)),
                Lb::Stopping => {
                    if self.may_resume(s, i) {
                        out.push(MigAction::LbResume(id));
                    }
                }
            },
            Life::ShuttingDown => {
                if inst.pumps.iter().flatten().all(|p| p.finished()) {
                    out.push(MigAction::Relinquish(id));
                }
            }
            Life::NotStarted | Life::Stopped | Life::Crashed => {}
        }
        if inst.live() {
            for p in 0..self.partitions() {
                self.pump_actions(s, i, p, out);
            }
        }
    }

    fn pump_actions(&self, s: &MigState, i: usize, p: usize, out: &mut Vec<MigAction>) {
        let Some(pump) = s.instances[i].pumps[p].as_ref() else {
            return;
        };
        let (inst, partition) = (i as u8, p as u8);
        let group = s.group_of(i);
        match pump.phase {
            PumpPhase::Starting => out.push(MigAction::PumpStart { inst, partition }),
            PumpPhase::Receiving => {
                if !s.hub.is_connected(group, p as u32, i as u32) {
                    out.push(MigAction::ReceiveFails { inst, partition });
                } else {
                    let available = s.hub.available(group, p as u32, i as u32).unwrap_or(0);
                    let most = available.min(u64::from(self.config.batch_size)) as u8;
                    out.extend((1..=most).map(|count| MigAction::Receive {
                        inst,
                        partition,
                        count,
                    }));
                }
            }
            PumpPhase::Invoking { .. } => out.push(MigAction::Complete { inst, partition }),
            PumpPhase::Checkpointing { .. } => {
                out.push(MigAction::WriteCheckpoint { inst, partition })
            }
            PumpPhase::Done | PumpPhase::Faulted => {}
        }
    }

    fn operator_actions(&self, s: &MigState, out: &mut Vec<MigAction>) {
        match s.phase {
            Phase::OldOnly => out.push(MigAction::DeployNewApp),
            Phase::Both => out.push(MigAction::StopOldApp),
            Phase::OldStopped => {}
        }
    }
}

impl Model for MigrationSpec {
    type State = MigState;
    type Action = MigAction;

    fn name(&self) -> String {
        "migration".to_string()
    }

    fn variant(&self) -> String {
        self.variant.name().to_string()
    }

    fn bounds(&self) -> Bounds {
        self.config.to_bounds()
    }

    fn init_states(&self) -> Vec<MigState> {
        vec![MigState::initial(&self.config, self.variant)]
    }

    fn actions(&self, state: &MigState, out: &mut Vec<MigAction>) {
        self.operator_actions(state, out);
        for i in 0..state.instances.len() {
            self.instance_actions(state, i, out);
        }
        for g in 0..state.stores.len() {
            for p in 0..self.partitions() {
                if self.may_expire(state, g, p) {
                    out.push(MigAction::Expire {
                        group: g as u8,
                        partition: p as u8,
                    });
                }
            }
        }
    }

    fn next_state(&self, state: &MigState, action: &MigAction) -> Option<MigState> {
        let mut next = state.clone();
        self.apply(&mut next, action)?;
        next.canonicalize_versions();
        Some(next)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        self.property_list()
    }

    fn at_rest(&self, state: &MigState) -> bool {
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

    fn format_action(&self, action: &MigAction) -> String {
        use MigAction::*;
        let name = |i: u8| self.config.instance_name(usize::from(i));
        match *action {
            DeployNewApp => "operator deploys the new app".into(),
            StopOldApp => "operator stops the old app".into(),
            Crash(i) => format!("{} crashes", name(i)),
            Relinquish(i) => format!("{} relinquishes ownership and stops", name(i)),
            Expire { group, partition } => {
                format!("g{group}/p{partition} ownership record expires")
            }
            LbCycle { inst, claim: None } => format!("{} balancing cycle (no claim)", name(inst)),
            LbCycle {
                inst,
                claim: Some(p),
            } => format!("{} balancing cycle: lists, will claim p{p}", name(inst)),
            LbClaim(i) => format!("{} claims", name(i)),
            LbResume(i) => format!("{} lost partitions stopped", name(i)),
            PumpStart { inst, partition } => format!(
                "{}/p{partition} reads checkpoint, opens receiver",
                name(inst)
            ),
            Receive {
                inst,
                partition,
                count,
            } => format!("{}/p{partition} receives {count} event(s)", name(inst)),
            ReceiveFails { inst, partition } => format!(
                "{}/p{partition} receive fails: consumer disconnected",
                name(inst)
            ),
            Complete { inst, partition } => {
                format!("{}/p{partition} invocation completes", name(inst))
            }
            WriteCheckpoint { inst, partition } => {
                format!("{}/p{partition} writes checkpoint", name(inst))
            }
        }
    }

    fn action_name(&self, action: &MigAction) -> String {
        use MigAction::*;
        match *action {
            DeployNewApp => "deploy-new-app".into(),
            StopOldApp => "stop-old-app".into(),
            Crash(_) => "crash".into(),
            Relinquish(_) => "relinquish".into(),
            Expire { group, partition } => format!("expire-g{group}-p{partition}"),
            LbCycle { claim: None, .. } => "cycle".into(),
            LbCycle { claim: Some(p), .. } => format!("cycle-claim-p{p}"),
            LbClaim(_) => "claim".into(),
            LbResume(_) => "resume".into(),
            PumpStart { .. } => "start".into(),
            Receive { count, .. } => format!("receive-{count}"),
            ReceiveFails { .. } => "receive-fails".into(),
            Complete { .. } => "complete".into(),
            WriteCheckpoint { .. } => "checkpoint".into(),
        }
    }

    fn fault_kind(&self, action: &MigAction) -> Option<String> {
        matches!(action, MigAction::Crash(_)).then(|| "crash".to_string())
    }

    fn actor(&self, action: &MigAction) -> String {
        use MigAction::*;
        let name = |i: u8| self.config.instance_name(usize::from(i));
        match *action {
            DeployNewApp | StopOldApp => "operator".into(),
            Expire { .. } => "env".into(),
            Crash(i) | Relinquish(i) => name(i),
            LbCycle { inst, .. } | LbClaim(inst) | LbResume(inst) => format!("{}.lb", name(inst)),
            PumpStart { inst, partition }
            | Receive {
                inst, partition, ..
            }
            | ReceiveFails { inst, partition }
            | Complete { inst, partition }
            | WriteCheckpoint { inst, partition } => format!("{}.p{partition}", name(inst)),
        }
    }

    fn phase(&self, state: &MigState) -> String {
        format!("{:?}", state.phase)
    }

    fn format_state(&self, state: &MigState) -> String {
        state.summary()
    }
}
