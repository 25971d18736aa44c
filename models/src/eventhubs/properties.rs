//! The properties of the `eventhubs` model (spec B.9): safety S1-S8, liveness L4,
//! L1, L2, L3, L5, and `sometimes` witnesses that keep passes from being vacuous.
//!
//! Time is abstracted here, so L3 (failover after a crash) and L5 (recovery after
//! a storage failure) are judged as "eventually for good": a crashed instance's
//! records end up owned by live instances, and no owned partition stays with a
//! faulted task. The time bounds of the spec (expiry + 2 intervals, one interval)
//! are judged by the implementation level in virtual time.
//!
//! Property names are a contract (scenario `expect.property`, `--json`). Properties
//! whose premise the bounds rule out are left out rather than reported vacuously:
//! S5, L1, L2, L3 and L5 need a finite retry policy (with unbounded retries a handler can
//! block its instance's load-balancing loop for ever, so neither progress nor
//! convergence is promised; L4 is the property that judges that hazard), each
//! `sometimes` needs the bounds that make its situation possible.

use lockstep::explore::{Model, Property};

use super::spec::EventHubsSpec;
use super::state::{EhState, Ghost, Life, PumpPhase, EXPIRATION, NOW};

/// A property's judgement of one state.
type Predicate = fn(&EventHubsSpec, &EhState) -> bool;

/// Whether any instance is still live (started or not yet, and not crashed or stopped).
fn any_live(s: &EhState) -> bool {
    s.instances.iter().any(|i| {
        matches!(
            i.life,
            Life::NotStarted | Life::Running | Life::ShuttingDown
        )
    })
}

fn all_delivered(s: &EhState) -> bool {
    s.tallies().iter().all(|t| t.deliveries >= 1)
}

/// S1: every event below the durable checkpoint was passed to an invocation.
fn s1(_: &EventHubsSpec, s: &EhState) -> bool {
    (0..s.partitions()).all(|p| {
        s.partition_tallies(p)
            .take(s.checkpoint_next(p) as usize)
            .all(|t| t.deliveries >= 1)
    })
}

/// S2: within a pump, an invocation starts only after the earlier ones completed,
/// i.e. no pump ever has two invocations running at once.
fn s2(_: &EventHubsSpec, s: &EhState) -> bool {
    s.instances
        .iter()
        .flat_map(|i| i.pumps.iter().flatten())
        .all(|pump| match &pump.phase {
            PumpPhase::Concurrent(batch) => batch.running_count() <= 1,
            _ => true,
        })
}

/// S3: the checkpoints one pump writes never decrease.
fn s3(_: &EventHubsSpec, s: &EhState) -> bool {
    !s.ghost.has(Ghost::S3_OWNER_REGRESSED)
}

/// S4 (at-least-once, safety form): when nothing more can happen (an
/// `at_terminal` property: the checker only asks in states with no enabled
/// action) and an instance is live, every event has been invoked.
fn s4(spec: &EventHubsSpec, s: &EhState) -> bool {
    all_delivered(s) || !any_live(s) || !spec.at_rest(s)
}

/// S5: executions of one event stay within the computed bound.
fn s5(spec: &EventHubsSpec, s: &EhState) -> bool {
    let bound = spec.config.executions_bound().unwrap_or(u32::MAX);
    s.tallies().iter().all(|t| u32::from(t.executions) <= bound)
}

/// S6: no claim won over a version other than the one it expected.
fn s6(_: &EventHubsSpec, s: &EhState) -> bool {
    !s.ghost.has(Ghost::S6_CAS_BYPASSED)
}

/// S7: no checkpoint covered received events its pump had not invoked.
fn s7(_: &EventHubsSpec, s: &EhState) -> bool {
    !s.ghost.has(Ghost::S7_UNINVOKED_COVERED)
}

/// S8: no checkpoint was written after the gate saw a cancelled token.
fn s8(_: &EventHubsSpec, s: &EhState) -> bool {
    !s.ghost.has(Ghost::S8_AFTER_CANCEL)
}

/// L4's predicate: no partition has two live pumps.
fn single_pump_per_partition(_: &EventHubsSpec, s: &EhState) -> bool {
    (0..s.partitions()).all(|p| s.pump_owners(p) <= 1)
}

/// L1's predicate: all events invoked (or nobody left to invoke them).
fn progressed(_: &EventHubsSpec, s: &EhState) -> bool {
    all_delivered(s) || !any_live(s)
}

/// L2's predicate: each partition has exactly one active owner, a running instance
/// that knows it and runs its pump; no one else believes it owns it; owned
/// counts of running instances differ by at most one.
fn converged(_: &EventHubsSpec, s: &EhState) -> bool {
    if !s.instances.iter().any(|i| i.life == Life::Running) {
        return true;
    }
    let mut counts = vec![0usize; s.instances.len()];
    for p in 0..s.partitions() {
        let Some(record) = s.store.ownership(p as u32) else {
            return false;
        };
        let Some(owner) = record.owner.map(|o| o as usize) else {
            return false;
        };
        let inst = &s.instances[owner];
        let believed_by: Vec<usize> = (0..s.instances.len())
            .filter(|&i| s.instances[i].owned[p].is_some())
            .collect();
        if !record.is_active(NOW, EXPIRATION)
            || inst.life != Life::Running
            || inst.owned[p] != Some(record.version)
            || believed_by != [owner]
            || !inst.pump_active(p)
        {
            return false;
        }
        counts[owner] += 1;
    }
    let running: Vec<usize> = (0..s.instances.len())
        .filter(|&i| s.instances[i].life == Life::Running)
        .map(|i| counts[i])
        .collect();
    running.iter().max().unwrap_or(&0) - running.iter().min().unwrap_or(&0) <= 1
}

/// L3's predicate: no ownership record still names a crashed instance (its
/// partitions were taken over), or no running instance is left to take them.
fn failed_over(_: &EventHubsSpec, s: &EhState) -> bool {
    let crashed = |o: u32| s.instances[o as usize].life == Life::Crashed;
    !s.instances.iter().any(|i| i.life == Life::Running)
        || (0..s.partitions()).all(|p| {
            s.store
                .ownership(p as u32)
                .and_then(|r| r.owner)
                .is_none_or(|o| !crashed(o))
        })
}

/// L5's predicate: every partition a running instance believes it owns has a
/// live task (none stays faulted after a store failure).
fn owned_pumps_live(_: &EventHubsSpec, s: &EhState) -> bool {
    s.instances
        .iter()
        .filter(|i| i.life == Life::Running)
        .all(|i| (0..s.partitions()).all(|p| i.owned[p].is_none() || i.pump_active(p)))
}

fn crashed(_: &EventHubsSpec, s: &EhState) -> bool {
    s.crashes_used > 0
}

fn stole(_: &EventHubsSpec, s: &EhState) -> bool {
    s.ghost.has(Ghost::STEAL)
}

fn retried(_: &EventHubsSpec, s: &EhState) -> bool {
    s.instances
        .iter()
        .flat_map(|i| i.pumps.iter().flatten())
        .any(|pump| match &pump.phase {
            PumpPhase::Sequential(batch) => batch.attempt > 0,
            PumpPhase::Concurrent(batch) => batch.running_events().any(|(_, attempt)| attempt > 0),
            _ => false,
        })
}

fn duplicate_delivery(_: &EventHubsSpec, s: &EhState) -> bool {
    s.tallies().iter().any(|t| t.deliveries >= 2)
}

fn dual_ownership(spec: &EventHubsSpec, s: &EhState) -> bool {
    !single_pump_per_partition(spec, s)
}

fn checkpoint_regressed(_: &EventHubsSpec, s: &EhState) -> bool {
    s.ghost.has(Ghost::GLOBAL_REGRESSION)
}

fn failover(_: &EventHubsSpec, s: &EhState) -> bool {
    s.ghost.has(Ghost::FAILOVER)
}

fn store_faulted_pump(_: &EventHubsSpec, s: &EhState) -> bool {
    s.ghost.has(Ghost::STORE_FAULTED_PUMP)
}

/// A poison event lies below the durable checkpoint: the pointer moved past an
/// event whose every execution failed (Event Hubs has no poison-event model, B.3.7).
fn checkpoint_past_poison(spec: &EventHubsSpec, s: &EhState) -> bool {
    (0..s.partitions()).any(|p| (0..s.checkpoint_next(p)).any(|k| spec.config.is_poison(p, k)))
}

impl EventHubsSpec {
    pub(super) fn property_list(&self) -> Vec<Property<Self>> {
        let c = &self.config;
        let finite = !c.infinite_retries();
        let shared = c.instances >= 2;
        let mut list = vec![
            Property::always("s1-no-skip-without-invocation", s1),
            Property::always("s2-in-order-within-pump", s2),
            Property::always("s3-owner-checkpoint-monotonic", s3),
            Property::at_terminal("s4-at-least-once", s4),
        ];
        if finite {
            list.push(Property::always("s5-bounded-duplicates", s5));
        }
        list.extend([
            Property::always("s6-ownership-cas", s6),
            Property::always("s7-no-uninvoked-checkpoint", s7),
            Property::always("s8-no-checkpoint-after-cancel", s8),
            Property::eventually_always(
                "l4-no-permanent-dual-ownership",
                single_pump_per_partition,
            ),
        ]);
        if finite {
            list.push(Property::eventually("l1-progress", progressed));
            list.push(Property::eventually_always(
                "l2-ownership-convergence",
                converged,
            ));
        }
        let failover_possible = shared && c.crashes >= 1;
        if finite && failover_possible {
            list.push(Property::eventually_always("l3-failover", failed_over));
        }
        if finite && c.outages >= 1 {
            list.push(Property::eventually_always(
                "l5-recovery-after-storage-outage",
                owned_pumps_live,
            ));
        }
        let has_events = c.events >= 1;
        let witnesses: [(bool, &'static str, Predicate); 9] = [
            (c.crashes >= 1, "sometimes-crash", crashed),
            (shared && c.partitions >= 2, "sometimes-steal", stole),
            (has_events && c.max_retries != 0, "sometimes-retry", retried),
            (
                has_events && shared && (c.partitions >= 2 || c.crashes + c.stops >= 1),
                "sometimes-duplicate-delivery",
                duplicate_delivery,
            ),
            (
                has_events && shared && c.partitions >= 2,
                "sometimes-dual-ownership",
                dual_ownership,
            ),
            (
                c.events > c.partitions && shared && c.partitions >= 2,
                "sometimes-checkpoint-regression",
                checkpoint_regressed,
            ),
            (failover_possible, "sometimes-failover", failover),
            (
                c.outages >= 1,
                "sometimes-pump-faulted-by-storage",
                store_faulted_pump,
            ),
            (
                c.poison >= 1 && finite,
                "sometimes-checkpoint-past-poison",
                checkpoint_past_poison,
            ),
        ];
        list.extend(
            witnesses
                .into_iter()
                .filter(|(on, ..)| *on)
                .map(|(_, name, f)| Property::sometimes(name, f)),
        );
        list
    }
}
