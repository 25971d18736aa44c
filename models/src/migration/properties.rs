//! The properties of the `migration` model. Property names are a contract
//! (scenario `expect.property`, `--json`).
//!
//! * `new-app-invokes-every-event`: the migration's promise, judged at quiescence:
//!   once the old app is stopped and nothing can move any more (the new app has
//!   drained), every event was invoked by the new app, provided one of its
//!   instances survived.
//! * `new-app-drains` (liveness, `<>`): on every maximal path (terminal, or a
//!   cycle) the new app eventually has invoked every event, unless all its
//!   instances crashed. It also rules out a livelock that never reaches quiescence.
//! * `new-app-no-skip`, `old-app-no-skip`: per app, the app's group pointer never
//!   passes an event that app did not invoke (once the new app is deployed, for
//!   the new one). With its own group, each app's pointer is its own; what an app
//!   has not invoked yet is still ahead of its pointer, so nothing is lost to it.
//! * `s1-no-skip-per-group`, `s2-in-order-within-pump`, `s6-ownership-cas`: the
//!   `eventhubs` safety properties, per consumer group.
//! * `sometimes-*`: witnesses that keep a pass from being vacuous; each is listed
//!   only when the bounds and the variant make its situation possible.

use lockstep::explore::{Model, Property};
use lockstep::world::eventhubs::GroupId;

use super::spec::MigrationSpec;
use super::state::{App, Ghost, Life, MigState, Phase, EXPIRATION, NOW};

type Predicate = fn(&MigrationSpec, &MigState) -> bool;

/// Whether every event below `app`'s group pointer was invoked by `app`.
fn app_skipped_nothing(s: &MigState, app: App) -> bool {
    let group = s.group_of_app(app);
    (0..s.partitions()).all(|p| s.below_checkpoint(group, p).all(|k| s.invoked_by(app, k)))
}

fn new_app_invokes_every_event(spec: &MigrationSpec, s: &MigState) -> bool {
    let new_app_alive = s
        .members(App::New)
        .any(|i| s.instances[i].life == Life::Running);
    if s.phase != Phase::OldStopped
        || !new_app_alive
        || s.app_invoked_all(App::New)
        || !spec.at_rest(s)
    {
        return true;
    }
    // At rest and something is still enabled: not quiescent yet.
    let mut enabled = Vec::new();
    spec.actions(s, &mut enabled);
    !enabled.is_empty()
}

/// Liveness: the new app has invoked every event, or none of its instances is
/// left to do it (crashes are final).
fn new_app_drained(_: &MigrationSpec, s: &MigState) -> bool {
    s.app_invoked_all(App::New)
        || s.members(App::New)
            .all(|i| s.instances[i].life == Life::Crashed)
}

fn new_app_no_skip(_: &MigrationSpec, s: &MigState) -> bool {
    s.phase == Phase::OldOnly || app_skipped_nothing(s, App::New)
}

fn old_app_no_skip(_: &MigrationSpec, s: &MigState) -> bool {
    app_skipped_nothing(s, App::Old)
}

/// S1 per group: every event below a group's pointer was invoked by some app
/// reading that group.
fn s1_per_group(_: &MigrationSpec, s: &MigState) -> bool {
    (0..s.stores.len() as GroupId).all(|g| {
        let readers: Vec<App> = App::BOTH
            .into_iter()
            .filter(|&a| s.group_of_app(a) == g)
            .collect();
        (0..s.partitions()).all(|p| {
            s.below_checkpoint(g, p)
                .all(|k| readers.iter().any(|&a| s.invoked_by(a, k)))
        })
    })
}

fn s2(_: &MigrationSpec, s: &MigState) -> bool {
    !s.ghost.has(Ghost::S2_OUT_OF_ORDER)
}

fn s6(_: &MigrationSpec, s: &MigState) -> bool {
    !s.ghost.has(Ghost::S6_CAS_BYPASSED)
}

fn both_apps_running(_: &MigrationSpec, s: &MigState) -> bool {
    let processing = |app: App| {
        s.members(app)
            .any(|i| (0..s.partitions()).any(|p| s.instances[i].pump_active(p)))
    };
    s.phase == Phase::Both && processing(App::Old) && processing(App::New)
}

fn receiver_displaced(_: &MigrationSpec, s: &MigState) -> bool {
    s.ghost.has(Ghost::DISPLACED)
}

fn old_app_stopped(_: &MigrationSpec, s: &MigState) -> bool {
    s.phase == Phase::OldStopped
        && s.members(App::Old)
            .all(|i| matches!(s.instances[i].life, Life::Stopped | Life::Crashed))
}

/// Every partition's record in the new app's group is active and held by a
/// running new-app instance that knows it and runs its pump.
fn new_app_owns_all(_: &MigrationSpec, s: &MigState) -> bool {
    let store = &s.stores[s.group_of_app(App::New) as usize];
    (0..s.partitions()).all(|p| {
        store
            .ownership(p as u32)
            .filter(|r| r.is_active(NOW, EXPIRATION))
            .and_then(|r| r.owner.map(|o| (o as usize, r.version)))
            .is_some_and(|(owner, version)| {
                let inst = &s.instances[owner];
                s.app_of(owner) == App::New
                    && inst.life == Life::Running
                    && inst.owned[p] == Some(version)
                    && inst.pump_active(p)
            })
    })
}

impl MigrationSpec {
    pub(super) fn property_list(&self) -> Vec<Property<Self>> {
        let c = &self.config;
        let shared = !self.variant.separate();
        let mut list = vec![
            Property::always("new-app-invokes-every-event", new_app_invokes_every_event),
            Property::always("new-app-no-skip", new_app_no_skip),
            Property::always("old-app-no-skip", old_app_no_skip),
            Property::always("s1-no-skip-per-group", s1_per_group),
            Property::always("s2-in-order-within-pump", s2),
            Property::always("s6-ownership-cas", s6),
            Property::eventually("new-app-drains", new_app_drained),
        ];
        // In one group with one partition the new app can neither steal it nor run
        // next to the old app (greedy min = 0); nobody displaces anybody then.
        let contention = c.partitions >= 2 && (shared || c.instances_per_app >= 2);
        let witnesses: [(bool, &'static str, Predicate); 4] = [
            (
                !shared || c.partitions >= 2,
                "sometimes-both-apps-running",
                both_apps_running,
            ),
            (
                contention,
                "sometimes-receiver-displaced",
                receiver_displaced,
            ),
            (true, "sometimes-old-app-stopped", old_app_stopped),
            (
                true,
                "sometimes-new-app-owns-all-partitions",
                new_app_owns_all,
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
