//! The properties of the `breaker` protocol model (spec B.8, B.9 L6). Names are
//! a contract (scenario `expect.property`, `--json`).
//!
//! * `s1-no-skip-without-invocation`: the qualified "nothing lost" of B.8.
//! * `s2-in-order-within-pump`: each pump generation invokes consecutive events
//!   from where it started.
//! * `l6-stops-within-bound`: no function execution starts more than T_break
//!   after the rolling count across all instances first exceeded the threshold.
//! * `l6-resume-at-checkpoint`: after a resume each partition's pump starts at
//!   exactly the checkpoint stored at stop time.
//! * `every-event-succeeds-or-reprocessed` (only with `--param claim=unqualified`):
//!   the guide's unqualified claim; after a resume, no event that failed before
//!   lies below the checkpoint without ever succeeding.
//! * `sometimes-*` witnesses keep passes from being vacuous; each is listed only
//!   when the bounds make its situation possible.

use lockstep::explore::Property;

use super::config::Claim;
use super::spec::BreakerSpec;
use super::state::{BrState, Ghost};

type Predicate = fn(&BreakerSpec, &BrState) -> bool;

fn s1(_: &BreakerSpec, s: &BrState) -> bool {
    (0..s.partitions()).all(|p| {
        s.partition_marks(p)
            .take(usize::from(s.checkpoint_next(p)))
            .all(|m| m.deliveries >= 1)
    })
}

fn s2(_: &BreakerSpec, s: &BrState) -> bool {
    !s.ghost.has(Ghost::OUT_OF_ORDER)
}

fn l6_stops(_: &BreakerSpec, s: &BrState) -> bool {
    !s.ghost.has(Ghost::LATE_EXECUTION)
}

fn l6_resume(_: &BreakerSpec, s: &BrState) -> bool {
    !s.ghost.has(Ghost::RESUMED_ELSEWHERE)
}

/// After a resume, every event below the checkpoint either succeeded at some
/// point or never failed (so it would be reprocessed or was fine).
fn every_event_succeeds(_: &BreakerSpec, s: &BrState) -> bool {
    !s.ghost.has(Ghost::RESUMED)
        || (0..s.partitions()).all(|p| {
            s.partition_marks(p)
                .take(usize::from(s.checkpoint_next(p)))
                .all(|m| m.succeeded || !m.failed)
        })
}

fn breaker_opened(_: &BreakerSpec, s: &BrState) -> bool {
    s.ghost.has(Ghost::BREAK_EMITTED)
}

fn app_stopped(_: &BreakerSpec, s: &BrState) -> bool {
    s.ghost.has(Ghost::STOPPED)
}

fn resumed(_: &BreakerSpec, s: &BrState) -> bool {
    s.ghost.has(Ghost::RESUMED)
}

fn inflight_redelivered(_: &BreakerSpec, s: &BrState) -> bool {
    s.redelivered > 0
}

impl BreakerSpec {
    pub(super) fn property_list(&self) -> Vec<Property<Self>> {
        let c = &self.config;
        let mut list = Vec::new();
        if self.claim == Claim::Unqualified {
            list.push(Property::always(
                "every-event-succeeds-or-reprocessed",
                every_event_succeeds,
            ));
        }
        list.extend([
            Property::always("s1-no-skip-without-invocation", s1),
            Property::always("s2-in-order-within-pump", s2),
            Property::always("l6-stops-within-bound", l6_stops),
            Property::always("l6-resume-at-checkpoint", l6_resume),
        ]);
        // A single instance (or a shared counter) must see more than `threshold`
        // failures to open the circuit: the busiest partition set bounds that.
        let breakable = self.most_failures_one_counter() > u64::from(c.threshold);
        let resumable = breakable && c.resumes >= 1;
        let witnesses: [(bool, &'static str, Predicate); 4] = [
            (breakable, "sometimes-breaker-opened", breaker_opened),
            (breakable, "sometimes-app-stopped", app_stopped),
            (resumable, "sometimes-resumed", resumed),
            (
                resumable,
                "sometimes-inflight-redelivered",
                inflight_redelivered,
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

    /// The most eventual failures one counter can collect before any stop: all
    /// events for the shared counter, the busiest instance's for per-instance ones.
    fn most_failures_one_counter(&self) -> u64 {
        let c = &self.config;
        match self.variant {
            super::config::Variant::SharedCounter => u64::from(c.events),
            super::config::Variant::PerInstanceCounter => (0..c.instances)
                .map(|i| {
                    (0..c.partitions)
                        .filter(|&p| c.owner_of(p) == i)
                        .map(|p| c.events_in(p))
                        .sum::<u64>()
                })
                .max()
                .unwrap_or(0),
        }
    }
}
