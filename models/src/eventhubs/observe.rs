//! How the Event Hubs protocol model shows itself in a lifecycle trace: the
//! [`Observable`] mapping that lets `lockstep conform --model eventhubs` check
//! a processor's recorded trace (any language) against `v6` or `v5`.
//!
//! | model step | trace event | fields the model predicts |
//! |---|---|---|
//! | an invocation returns (`Complete`) | `event.processed` | `partition`, `sequence`, `ok` |
//! | a checkpoint write the store accepts | `checkpoint.write` | `partition`, `sequence` (the last processed event's) |
//! | a claim that makes the instance the owner | `ownership.claim` | `partition` |
//!
//! Every event is by the instance (`P0`, `P1`, ...; a trace's own processor
//! names bind to them one to one). Receives, renewals, listing, crashes and
//! store failures are internal: the model may take them between any two
//! trace events. An invocation is shown when it returns, so one cut short by
//! a crash is not shown (as in the host's logs). Offsets are not predicted:
//! the model's hub has its own sizes, sequence numbers are what both share.

use lockstep::conform::{Observable, ObservedEvent};

use super::spec::{EhAction, EventHubsSpec};
use super::state::{EhState, PumpPhase, EXPIRATION};

/// The event names the Event Hubs model shows.
pub const EVENTHUBS_OBSERVED: [&str; 3] =
    ["event.processed", "checkpoint.write", "ownership.claim"];

/// The instance an action belongs to (`None`: the environment's lease expiry).
fn instance_of(action: &EhAction) -> Option<u8> {
    use EhAction::*;
    match *action {
        Start(i) | Crash(i) | StopListener(i) | LbResume(i) => Some(i),
        Relinquish { inst, .. }
        | LbCycle { inst, .. }
        | LbClaim { inst, .. }
        | PumpStart { inst, .. }
        | PumpExit { inst, .. }
        | Receive { inst, .. }
        | ReceiveFails { inst, .. }
        | StartNext { inst, .. }
        | Complete { inst, .. }
        | WriteCheckpoint { inst, .. } => Some(inst),
        Expire(_) => None,
    }
}

impl Observable for EventHubsSpec {
    fn observe(&self, before: &EhState, action: &EhAction, after: &EhState) -> Vec<ObservedEvent> {
        let Some(inst) = instance_of(action) else {
            return Vec::new();
        };
        let who = format!("P{inst}");
        let ev = |name: &'static str| ObservedEvent::new(name).by(who.clone());
        let mut out = Vec::new();
        match *action {
            EhAction::Complete {
                partition,
                event,
                ok,
                ..
            } => out.push(
                ev("event.processed")
                    .with("partition", partition)
                    .with("sequence", event)
                    .with("ok", ok),
            ),
            EhAction::WriteCheckpoint {
                partition,
                fails: false,
                ..
            } => {
                let p = usize::from(partition);
                let faulted = after.instances[usize::from(inst)].pumps[p]
                    .as_ref()
                    .is_some_and(|pump| pump.phase == PumpPhase::Faulted);
                if let (false, Some(cp)) = (faulted, after.store.checkpoint(u32::from(partition))) {
                    out.push(
                        ev("checkpoint.write")
                            .with("partition", partition)
                            .with("sequence", cp.sequence_number),
                    );
                }
            }
            _ => {}
        }
        let owner = |s: &EhState, p: u32| s.store.ownership(p).and_then(|r| r.owner);
        for p in 0..after.parts {
            let p = u32::from(p);
            let mine = Some(u32::from(inst));
            if owner(after, p) == mine && owner(before, p) != mine {
                out.push(ev("ownership.claim").with("partition", p));
            }
        }
        out
    }

    fn observes(&self, event: &str) -> bool {
        EVENTHUBS_OBSERVED.contains(&event)
    }

    fn is_environment(&self, action: &EhAction) -> bool {
        use EhAction::*;
        matches!(
            action,
            Crash(_)
                | StopListener(_)
                | Expire(_)
                | Relinquish { fails: true, .. }
                | LbCycle {
                    renew_fails: true,
                    ..
                }
                | LbClaim { fails: true, .. }
                | PumpStart { fails: true, .. }
                | ReceiveFails { .. }
                | WriteCheckpoint { fails: true, .. }
        )
    }

    /// A lease expires after its expiration interval: the longest a healthy
    /// processor group goes without a visible step while work remains.
    fn longest_bounded_wait_ms(&self) -> u64 {
        EXPIRATION.as_millis() as u64
    }
}
