//! `BreakerSpec`: the protocol model of the circuit-breaker pattern (spec B.8) on
//! top of the Event Hubs trigger: actions, enabledness, and the `Model` impl.
//!
//! Actors: one sequential pump per partition (`I<i>.p<p>`, instance `i` owns
//! partition `p mod instances`), the control plane (stops the app within
//! `break_latency` of a break event), the operator (resumes it, at most
//! `resumes` times, whenever it likes), the clock (1 s ticks; a tick may not
//! pass a due stop) and the environment (the downstream outage ends once, or never).

use lockstep::explore::{Model, Property};
use lockstep::report::Bounds;

use super::config::{Claim, Config, Level, PlantedBug, Variant};
use super::state::{App, BrState, Phase};

/// One atomic step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BrAction {
    PumpStart(u8),
    Receive(u8),
    Execute(u8),
    /// The failure-store call of an eventual failure (`fails`: the call fails;
    /// `stale`: the count read is `lag` old).
    Record {
        partition: u8,
        fails: bool,
        stale: bool,
    },
    WriteCheckpoint(u8),
    Stop,
    Resume,
    Tick,
    DownstreamRecovers,
}

/// The protocol model of one variant within bounds.
pub struct BreakerSpec {
    pub variant: Variant,
    pub config: Config,
    pub claim: Claim,
    pub planted: PlantedBug,
}

impl BreakerSpec {
    pub fn default_bounds() -> Bounds {
        Config::default_bounds(Level::Spec)
    }

    pub fn new(variant: &str, bounds: &Bounds, claim: Claim) -> Result<Self, String> {
        Ok(BreakerSpec {
            variant: Variant::parse(variant)?,
            config: Config::from_bounds(bounds, Level::Spec)?,
            claim,
            planted: PlantedBug::None,
        })
    }

    /// The same model with a planted bug (must-find tests).
    pub fn with_planted(mut self, bug: PlantedBug) -> Self {
        self.planted = bug;
        self
    }

    fn pump_actions(&self, s: &BrState, p: usize, out: &mut Vec<BrAction>) {
        let id = p as u8;
        match s.pumps[p].phase {
            Phase::Down => {}
            Phase::Starting => out.push(BrAction::PumpStart(id)),
            Phase::Receiving => {
                if self.available(s, p) > 0 {
                    out.push(BrAction::Receive(id));
                }
            }
            Phase::Invoking { .. } => {
                if !s.pumps[p].ran {
                    out.push(BrAction::Execute(id));
                }
            }
            Phase::Recording { .. } => {
                let may_fail = u32::from(s.store_outages_used) < self.config.store_outages;
                let may_lag = self.config.lag > 0;
                for fails in [false, true] {
                    for stale in [false, true] {
                        if (!fails || may_fail) && (!stale || may_lag) && !(fails && stale) {
                            out.push(BrAction::Record {
                                partition: id,
                                fails,
                                stale,
                            });
                        }
                    }
                }
            }
            Phase::Checkpointing { .. } => out.push(BrAction::WriteCheckpoint(id)),
        }
    }
}

impl Model for BreakerSpec {
    type State = BrState;
    type Action = BrAction;

    fn name(&self) -> String {
        "breaker".to_string()
    }

    fn variant(&self) -> String {
        self.variant.name().to_string()
    }

    fn bounds(&self) -> Bounds {
        self.config.to_bounds()
    }

    fn init_states(&self) -> Vec<BrState> {
        vec![BrState::initial(&self.config)]
    }

    fn actions(&self, s: &BrState, out: &mut Vec<BrAction>) {
        for p in 0..s.partitions() {
            self.pump_actions(s, p, out);
        }
        match s.app {
            App::Breaking { .. } => out.push(BrAction::Stop),
            App::Stopped if u32::from(s.resumes_used) < self.config.resumes => {
                out.push(BrAction::Resume)
            }
            _ => {}
        }
        if !self.stop_due(s) && self.time_matters(s) {
            out.push(BrAction::Tick);
        }
        if !s.downstream_up {
            out.push(BrAction::DownstreamRecovers);
        }
    }

    fn next_state(&self, s: &BrState, action: &BrAction) -> Option<BrState> {
        let mut n = s.clone();
        match *action {
            BrAction::PumpStart(p) => self.pump_start(&mut n, usize::from(p))?,
            BrAction::Receive(p) => self.receive(&mut n, usize::from(p))?,
            BrAction::Execute(p) => self.execute(&mut n, usize::from(p))?,
            BrAction::Record {
                partition,
                fails,
                stale,
            } => self.record(&mut n, usize::from(partition), fails, stale)?,
            BrAction::WriteCheckpoint(p) => self.write_checkpoint(&mut n, usize::from(p))?,
            BrAction::Stop => self.stop(&mut n)?,
            BrAction::Resume => self.resume(&mut n)?,
            BrAction::Tick => self.tick(&mut n)?,
            BrAction::DownstreamRecovers => {
                (!n.downstream_up).then_some(())?;
                n.downstream_up = true;
            }
        }
        Some(n)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        self.property_list()
    }

    /// Pumps caught up (or the app stopped for good) and no stop pending.
    fn at_rest(&self, s: &BrState) -> bool {
        !matches!(s.app, App::Breaking { .. })
            && (0..s.partitions())
                .all(|p| matches!(s.pumps[p].phase, Phase::Receiving | Phase::Down))
    }

    fn format_action(&self, action: &BrAction) -> String {
        let owner = |p: u8| self.config.owner_of(u32::from(p));
        match *action {
            BrAction::PumpStart(p) => {
                format!("I{}/p{p} reads checkpoint, opens receiver", owner(p))
            }
            BrAction::Receive(p) => format!("I{}/p{p} receives a batch", owner(p)),
            BrAction::Execute(p) => format!("I{}/p{p} executes the function", owner(p)),
            BrAction::Record {
                partition: p,
                fails: true,
                ..
            } => format!("I{}/p{p} records the failure: store call fails", owner(p)),
            BrAction::Record {
                partition: p,
                stale,
                ..
            } => format!(
                "I{}/p{p} records the failure, checks the {} count",
                owner(p),
                if stale { "lagging" } else { "current" }
            ),
            BrAction::WriteCheckpoint(p) => format!("I{}/p{p} writes checkpoint", owner(p)),
            BrAction::Stop => "control plane stops the app".to_string(),
            BrAction::Resume => "operator resumes the app".to_string(),
            BrAction::Tick => "1 s passes".to_string(),
            BrAction::DownstreamRecovers => "downstream outage ends".to_string(),
        }
    }

    fn action_name(&self, action: &BrAction) -> String {
        match action {
            BrAction::PumpStart(_) => "pump-start",
            BrAction::Receive(_) => "receive",
            BrAction::Execute(_) => "execute",
            BrAction::Record { fails: true, .. } => "record-fails",
            BrAction::Record { stale: true, .. } => "record-stale",
            BrAction::Record { .. } => "record",
            BrAction::WriteCheckpoint(_) => "checkpoint",
            BrAction::Stop => "stop-app",
            BrAction::Resume => "resume-app",
            BrAction::Tick => "tick",
            BrAction::DownstreamRecovers => "downstream-recovers",
        }
        .to_string()
    }

    fn actor(&self, action: &BrAction) -> String {
        match *action {
            BrAction::PumpStart(p)
            | BrAction::Receive(p)
            | BrAction::Execute(p)
            | BrAction::Record { partition: p, .. }
            | BrAction::WriteCheckpoint(p) => {
                format!("I{}.p{p}", self.config.owner_of(u32::from(p)))
            }
            BrAction::Stop => "control-plane".to_string(),
            BrAction::Resume => "operator".to_string(),
            BrAction::Tick => "clock".to_string(),
            BrAction::DownstreamRecovers => "env".to_string(),
        }
    }

    fn fault_kind(&self, action: &BrAction) -> Option<String> {
        match action {
            BrAction::Record { fails: true, .. } => Some("failure-store-outage".to_string()),
            BrAction::Record { stale: true, .. } => Some("failure-store-lag".to_string()),
            _ => None,
        }
    }

    fn phase(&self, s: &BrState) -> String {
        match s.app {
            App::Running => "Running",
            App::Breaking { .. } => "Breaking",
            App::Stopped => "Stopped",
        }
        .to_string()
    }

    fn format_state(&self, s: &BrState) -> String {
        s.summary()
    }
}
