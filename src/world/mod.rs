//! The simulated world: seeded randomness, virtual time, blob storage, fault plans, buggify.
//!
//! Everything here is plain deterministic data plus pure functions of the
//! virtual time passed in (`now`); nothing depends on the runtime in
//! [`crate::rt`]. Models wrap a [`World`] (or its parts) in the runtime's
//! shared-state cell and sleep the latencies it returns. Every type derives
//! `Clone, Debug, Hash, PartialEq, Eq` so the explorer can fingerprint world
//! state; logs of past activations are kept in [`History`], which is left out
//! of that identity.

pub mod buggify;
pub mod clock;
pub mod fault_spec;
pub mod faults;
pub mod history;
pub mod prng;
pub mod storage;

use std::time::Duration;

pub use buggify::{Buggify, BuggifyActivation, Odds};
pub use clock::{format_millis, TimerId, TimerQueue, VirtualTime};
pub use fault_spec::{FaultSpec, FaultSpecError};
pub use faults::{Activation, FaultKind, FaultPlan, FaultRule, Fired, StorageFault, Target};
pub use history::History;
pub use prng::{Prng, SeedTree};
pub use storage::{
    Blob, BlobData, BlobStore, ETag, StorageClient, StorageError, StorageOp, StorageReply,
};

/// The parts of a simulated environment most models need, under one seed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct World {
    pub seeds: SeedTree,
    pub storage: BlobStore,
    pub faults: FaultPlan,
    pub buggify: Buggify,
}

impl World {
    /// An empty store, no faults, buggify off; `seed` roots every stream.
    pub fn new(seed: u64) -> Self {
        World {
            seeds: SeedTree::new(seed),
            storage: BlobStore::new(),
            faults: FaultPlan::none(),
            buggify: Buggify::disabled(),
        }
    }

    /// Uses `plan` for faults (build it with `self.seeds.stream("faults")`).
    pub fn with_faults(mut self, plan: FaultPlan) -> Self {
        self.faults = plan;
        self
    }

    /// Turns buggify on with the default odds, from this world's seed.
    pub fn with_buggify(mut self) -> Self {
        self.buggify = Buggify::new(self.seeds);
        self
    }

    pub fn with_container(mut self, name: &str) -> Self {
        self.storage.create_container(name);
        self
    }

    /// Storage as seen by `instance` at `now`, with this world's faults.
    pub fn blobs<'a>(&'a mut self, now: Duration, instance: &'a str) -> StorageClient<'a> {
        self.storage.client(&mut self.faults, now, instance)
    }

    /// The model reached fault point `point` (see [`FaultPlan::fires`]).
    pub fn fault_point(&mut self, now: Duration, point: &str) -> Fired {
        self.faults.fires(now, point)
    }

    /// `instance` reached fault point `point` (see [`FaultPlan::fires_on`]).
    pub fn fault_point_on(&mut self, now: Duration, instance: &str, point: &str) -> Fired {
        self.faults.fires_on(now, instance, point)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_routes_storage_through_its_fault_plan() {
        let specs = [FaultSpec {
            kind: "storage-outage".into(),
            at: Some("start#1/build".into()),
            duration_ms: Some(1_000),
            ..FaultSpec::default()
        }];
        let seeds = SeedTree::new(42);
        let plan = FaultPlan::from_specs(&specs, seeds.stream("faults")).expect("valid");
        let mut world = World::new(42).with_faults(plan).with_container("locks");
        let t = Duration::from_millis;
        assert!(world
            .fault_point(t(10), "start#1/build")
            .has("storage-outage"));
        let r = world
            .blobs(t(20), "host-1")
            .create_if_absent("locks", "l", BlobData::default());
        assert_eq!(r.result, Err(StorageError::Unavailable));
        let r = world
            .blobs(t(1_010), "host-1")
            .create_if_absent("locks", "l", BlobData::default());
        assert_eq!(r.result, Ok(ETag(1)));
        assert_eq!(world.faults.activations().len(), 1);
    }
}

pub mod checkpoint_store;
pub mod eventhubs;
pub mod failure_store;
