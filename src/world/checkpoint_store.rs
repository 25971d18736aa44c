//! Simulated Event Hubs checkpoint store (spec B.5): ownership records that are
//! compare-and-swap registers on an ETag, and checkpoints that are last-writer-wins.
//!
//! * Ownership is claimed, renewed, stolen and relinquished by conditional writes:
//!   with an expected version the write succeeds only if the record still has it
//!   (If-Match; a missing record falls back to create), without one only if the
//!   record does not exist (If-None-Match `*`). A lost condition is not an error:
//!   the record is simply absent from the result. So for one version at most one
//!   claimer wins.
//! * Checkpoints are written unconditionally: any processor, including one that
//!   lost ownership, can overwrite them, and they can move backwards.
//! * A record is *active* while it has an owner and is younger than the expiration
//!   interval; time is passed in (`now`), never read.
//! * Every call first consults [`StoreFaults`]: an outage for all clients or for one,
//!   or a count of next calls of a client that fail.
//!
//! Pure data, `Clone + Hash + Eq`, so protocol models can keep it in their state.
//! [`BlobCheckpointStore`] (in `checkpoint_store/blob.rs`) is the same store as
//! the SDK keeps it on blob storage: records are blobs of the simulated
//! [`crate::world::BlobStore`] with ETag conditions, faults come from its fault plan,
//! and the consumer group is part of every blob name.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use crate::world::eventhubs::PartitionId;

mod blob;
pub use blob::{BlobCheckpointStore, DEFAULT_CONTAINER};

/// A processor identifier (the owner id written into ownership records).
pub type ClientId = u32;
/// An ownership record's ETag: a per-record version, bumped by every write.
pub type Version = u64;

/// One ownership record (blob `{ns}/{hub}/{group}/ownership/{partition}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OwnershipRecord {
    pub partition: PartitionId,
    /// `None` once relinquished (the empty owner id).
    pub owner: Option<ClientId>,
    pub last_modified: Duration,
    pub version: Version,
}

impl OwnershipRecord {
    /// Owned and younger than `expiration` at `now` (spec B.6 step 2.3).
    pub fn is_active(&self, now: Duration, expiration: Duration) -> bool {
        self.owner.is_some() && now.saturating_sub(self.last_modified) < expiration
    }
}

/// One checkpoint (blob `{ns}/{hub}/{group}/checkpoint/{partition}`). The position
/// is exclusive: processing resumes at the event after `sequence_number`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    pub partition: PartitionId,
    pub sequence_number: u64,
    pub offset: u64,
    /// The processor that wrote it.
    pub client: ClientId,
}

impl Checkpoint {
    /// The sequence number processing resumes at.
    pub fn next_sequence(&self) -> u64 {
        self.sequence_number + 1
    }
}

/// One desired record in a claim: `owner` is the new owner (`None` relinquishes),
/// `expected` the version last seen (`None`: the record must not exist yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClaimRequest {
    pub partition: PartitionId,
    pub owner: Option<ClientId>,
    pub expected: Option<Version>,
}

/// A successful claim: the record as written and the record it replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClaimWin {
    pub record: OwnershipRecord,
    pub previous: Option<OwnershipRecord>,
}

/// Why a store call failed. Lost conditions are not errors (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StoreError {
    /// The store is unreachable for this client (outage or injected failure).
    Unavailable {
        client: ClientId,
    },
    UnknownPartition(PartitionId),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable { client } => {
                write!(f, "checkpoint store unavailable for client {client}")
            }
            StoreError::UnknownPartition(p) => write!(f, "unknown partition {p}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// How conditional ownership writes are judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ConditionMode {
    /// The real store: If-Match / If-None-Match.
    #[default]
    IfMatch,
    /// A planted bug for must-find tests: conditions are ignored, every claim wins.
    IgnoreConditions,
}

/// Injected failures: every call of an affected client fails with
/// [`StoreError::Unavailable`] before touching any data.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct StoreFaults {
    /// Outage for every client.
    pub all_down: bool,
    /// Outage for these clients only.
    pub down: BTreeSet<ClientId>,
    /// The next `n` calls of a client fail (one-shot transient failures).
    pub fail_next: BTreeMap<ClientId, u32>,
}

impl StoreFaults {
    /// Consumes one pending failure for `client`, or reports an outage.
    fn strike(&mut self, client: ClientId) -> Result<(), StoreError> {
        if self.all_down || self.down.contains(&client) {
            return Err(StoreError::Unavailable { client });
        }
        if let Some(n) = self.fail_next.get_mut(&client) {
            *n -= 1;
            if *n == 0 {
                self.fail_next.remove(&client);
            }
            return Err(StoreError::Unavailable { client });
        }
        Ok(())
    }
}

/// The two blobs of one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
struct PartitionBlobs {
    ownership: Option<OwnershipRecord>,
    checkpoint: Option<Checkpoint>,
}

/// The checkpoint store of one hub and consumer group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckpointStore {
    blobs: Vec<PartitionBlobs>,
    pub faults: StoreFaults,
    pub mode: ConditionMode,
}

impl CheckpointStore {
    /// An empty store (no records, no checkpoints) for `partition_count` partitions.
    pub fn new(partition_count: u32) -> Self {
        CheckpointStore {
            blobs: vec![PartitionBlobs::default(); partition_count as usize],
            faults: StoreFaults::default(),
            mode: ConditionMode::IfMatch,
        }
    }

    pub fn partition_count(&self) -> u32 {
        self.blobs.len() as u32
    }

    fn check_partition(&self, partition: PartitionId) -> Result<usize, StoreError> {
        if (partition as usize) < self.blobs.len() {
            Ok(partition as usize)
        } else {
            Err(StoreError::UnknownPartition(partition))
        }
    }

    /// Outage for every client (`true`) or none (`false`, also clears per-client outages).
    pub fn set_outage_all(&mut self, down: bool) {
        self.faults.all_down = down;
        if !down {
            self.faults.down.clear();
        }
    }

    /// Outage for one client.
    pub fn set_outage(&mut self, client: ClientId, down: bool) {
        if down {
            self.faults.down.insert(client);
        } else {
            self.faults.down.remove(&client);
        }
    }

    /// The next `calls` calls of `client` fail.
    pub fn fail_next(&mut self, client: ClientId, calls: u32) {
        if calls > 0 {
            *self.faults.fail_next.entry(client).or_insert(0) += calls;
        }
    }

    /// Lists every ownership record, by partition.
    pub fn list_ownership(&mut self, client: ClientId) -> Result<Vec<OwnershipRecord>, StoreError> {
        self.faults.strike(client)?;
        Ok(self.blobs.iter().filter_map(|b| b.ownership).collect())
    }

    /// Claims (creates, renews, steals or relinquishes) records by conditional write.
    /// Returns the requests that won; lost conditions are silently absent. An
    /// injected failure fails the whole call before any write.
    pub fn claim_ownership(
        &mut self,
        client: ClientId,
        now: Duration,
        requests: &[ClaimRequest],
    ) -> Result<Vec<ClaimWin>, StoreError> {
        self.faults.strike(client)?;
        for request in requests {
            self.check_partition(request.partition)?;
        }
        let mut wins = Vec::new();
        for request in requests {
            let slot = &mut self.blobs[request.partition as usize].ownership;
            let condition_holds = match (self.mode, *slot, request.expected) {
                (ConditionMode::IgnoreConditions, _, _) => true,
                (ConditionMode::IfMatch, None, _) => true,
                (ConditionMode::IfMatch, Some(current), Some(expected)) => {
                    current.version == expected
                }
                (ConditionMode::IfMatch, Some(_), None) => false,
            };
            if !condition_holds {
                continue;
            }
            let previous = *slot;
            let record = OwnershipRecord {
                partition: request.partition,
                owner: request.owner,
                last_modified: now,
                version: previous.map_or(1, |p| p.version + 1),
            };
            *slot = Some(record);
            wins.push(ClaimWin { record, previous });
        }
        Ok(wins)
    }

    /// Reads a partition's checkpoint (`None`: start from the default position).
    pub fn get_checkpoint(
        &mut self,
        client: ClientId,
        partition: PartitionId,
    ) -> Result<Option<Checkpoint>, StoreError> {
        self.faults.strike(client)?;
        let index = self.check_partition(partition)?;
        Ok(self.blobs[index].checkpoint)
    }

    /// Writes a checkpoint unconditionally (last writer wins; it may move backwards).
    pub fn update_checkpoint(
        &mut self,
        client: ClientId,
        checkpoint: Checkpoint,
    ) -> Result<(), StoreError> {
        self.faults.strike(client)?;
        let index = self.check_partition(checkpoint.partition)?;
        self.blobs[index].checkpoint = Some(Checkpoint {
            client,
            ..checkpoint
        });
        Ok(())
    }

    /// Inspection without faults (for properties and tests): the current record.
    pub fn ownership(&self, partition: PartitionId) -> Option<&OwnershipRecord> {
        self.blobs
            .get(partition as usize)
            .and_then(|b| b.ownership.as_ref())
    }

    /// Inspection without faults (for properties and tests): the current checkpoint.
    pub fn checkpoint(&self, partition: PartitionId) -> Option<&Checkpoint> {
        self.blobs
            .get(partition as usize)
            .and_then(|b| b.checkpoint.as_ref())
    }

    /// The records active at `now`, by partition.
    pub fn active_records(&self, now: Duration, expiration: Duration) -> Vec<OwnershipRecord> {
        self.blobs
            .iter()
            .filter_map(|b| b.ownership)
            .filter(|r| r.is_active(now, expiration))
            .collect()
    }

    /// Sets a record's last-modified time, e.g. to age it past expiration in a model
    /// that abstracts time away. No-op for a missing record.
    pub fn backdate(&mut self, partition: PartitionId, last_modified: Duration) {
        if let Some(record) = self
            .blobs
            .get_mut(partition as usize)
            .and_then(|b| b.ownership.as_mut())
        {
            record.last_modified = last_modified;
        }
    }

    /// Renames a record's version. ETags are only ever compared for equality, so a
    /// protocol model may renumber the versions it references (record and every
    /// copy held by a processor) consistently to keep its state space finite.
    pub fn rename_version(&mut self, partition: PartitionId, version: Version) {
        if let Some(record) = self
            .blobs
            .get_mut(partition as usize)
            .and_then(|b| b.ownership.as_mut())
        {
            record.version = version;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::from_secs(100);
    const EXPIRY: Duration = Duration::from_secs(120);

    fn claim(owner: ClientId, partition: PartitionId, expected: Option<Version>) -> ClaimRequest {
        ClaimRequest {
            partition,
            owner: Some(owner),
            expected,
        }
    }

    #[test]
    fn create_then_renew_bumps_the_version() {
        let mut store = CheckpointStore::new(2);
        let won = store.claim_ownership(1, NOW, &[claim(1, 0, None)]).unwrap();
        assert_eq!(won[0].record.version, 1);
        assert_eq!(won[0].previous, None);
        let renewed = store
            .claim_ownership(1, NOW, &[claim(1, 0, Some(1))])
            .unwrap();
        assert_eq!(renewed[0].record.version, 2);
        assert_eq!(renewed[0].previous.unwrap().version, 1);
    }

    #[test]
    fn at_most_one_claimer_wins_per_version() {
        let mut store = CheckpointStore::new(1);
        store.claim_ownership(1, NOW, &[claim(1, 0, None)]).unwrap();
        // Both saw version 1; the first write wins, the second loses its condition.
        let a = store
            .claim_ownership(2, NOW, &[claim(2, 0, Some(1))])
            .unwrap();
        let b = store
            .claim_ownership(3, NOW, &[claim(3, 0, Some(1))])
            .unwrap();
        assert_eq!(a.len(), 1);
        assert!(b.is_empty(), "lost condition is silent, not an error");
        assert_eq!(store.ownership(0).unwrap().owner, Some(2));
        // Create-if-absent loses against an existing record.
        assert!(store
            .claim_ownership(3, NOW, &[claim(3, 0, None)])
            .unwrap()
            .is_empty());
    }

    #[test]
    fn ignoring_conditions_lets_two_claimers_win_one_version() {
        let mut store = CheckpointStore::new(1);
        store.mode = ConditionMode::IgnoreConditions;
        store.claim_ownership(1, NOW, &[claim(1, 0, None)]).unwrap();
        assert_eq!(
            store
                .claim_ownership(2, NOW, &[claim(2, 0, Some(1))])
                .unwrap()
                .len(),
            1
        );
        let second = store
            .claim_ownership(3, NOW, &[claim(3, 0, Some(1))])
            .unwrap();
        assert_eq!(
            second[0].previous.unwrap().version,
            2,
            "won over a version it never saw"
        );
    }

    #[test]
    fn expected_version_on_missing_record_falls_back_to_create() {
        let mut store = CheckpointStore::new(1);
        assert_eq!(
            store
                .claim_ownership(1, NOW, &[claim(1, 0, Some(7))])
                .unwrap()[0]
                .record
                .version,
            1
        );
    }

    #[test]
    fn relinquished_and_expired_records_are_inactive() {
        let mut store = CheckpointStore::new(2);
        store
            .claim_ownership(1, NOW, &[claim(1, 0, None), claim(1, 1, None)])
            .unwrap();
        assert_eq!(store.active_records(NOW, EXPIRY).len(), 2);
        let later = NOW + EXPIRY;
        assert!(
            store.active_records(later, EXPIRY).is_empty(),
            "expired after the interval"
        );
        store
            .claim_ownership(
                1,
                NOW,
                &[ClaimRequest {
                    partition: 1,
                    owner: None,
                    expected: Some(1),
                }],
            )
            .unwrap();
        assert_eq!(
            store
                .active_records(NOW, EXPIRY)
                .iter()
                .map(|r| r.partition)
                .collect::<Vec<_>>(),
            vec![0]
        );
        store.backdate(0, Duration::ZERO);
        assert!(store.active_records(EXPIRY, EXPIRY).is_empty());
    }

    #[test]
    fn checkpoints_are_last_writer_wins_and_can_regress() {
        let mut store = CheckpointStore::new(1);
        assert_eq!(store.get_checkpoint(1, 0).unwrap(), None);
        let at = |seq| Checkpoint {
            partition: 0,
            sequence_number: seq,
            offset: seq * 10,
            client: 0,
        };
        store.update_checkpoint(2, at(5)).unwrap();
        store.update_checkpoint(1, at(3)).unwrap(); // a stale owner overwrites
        let cp = store.get_checkpoint(9, 0).unwrap().unwrap();
        assert_eq!(
            (cp.sequence_number, cp.client, cp.next_sequence()),
            (3, 1, 4)
        );
    }

    #[test]
    fn outages_fail_calls_before_any_write() {
        let mut store = CheckpointStore::new(1);
        store.set_outage(1, true);
        assert_eq!(
            store.claim_ownership(1, NOW, &[claim(1, 0, None)]),
            Err(StoreError::Unavailable { client: 1 })
        );
        assert!(store.ownership(0).is_none());
        assert!(
            store.claim_ownership(2, NOW, &[claim(2, 0, None)]).is_ok(),
            "other clients unaffected"
        );
        store.set_outage_all(true);
        assert!(store.list_ownership(2).is_err());
        store.set_outage_all(false);
        assert!(
            store.list_ownership(1).is_ok(),
            "healing all clears per-client outages"
        );
    }

    #[test]
    fn fail_next_is_one_shot_per_call() {
        let mut store = CheckpointStore::new(1);
        store.fail_next(3, 2);
        assert!(store.get_checkpoint(3, 0).is_err());
        assert!(store.list_ownership(3).is_err());
        assert!(store.list_ownership(3).is_ok());
        assert_eq!(
            store.faults,
            StoreFaults::default(),
            "consumed failures leave no trace in the state"
        );
    }

    #[test]
    fn bad_partitions_are_errors_not_panics() {
        let mut store = CheckpointStore::new(1);
        assert_eq!(
            store.get_checkpoint(1, 4),
            Err(StoreError::UnknownPartition(4))
        );
        assert_eq!(
            store.claim_ownership(1, NOW, &[claim(1, 4, None)]),
            Err(StoreError::UnknownPartition(4))
        );
        let cp = Checkpoint {
            partition: 4,
            sequence_number: 0,
            offset: 0,
            client: 1,
        };
        assert_eq!(
            store.update_checkpoint(1, cp),
            Err(StoreError::UnknownPartition(4))
        );
        store.backdate(4, Duration::ZERO);
        store.rename_version(4, 1);
    }
}
