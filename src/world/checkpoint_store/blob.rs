//! The Event Hubs checkpoint store on the simulated blob storage (spec B.5), as
//! the SDK's `BlobCheckpointStoreInternal` keeps it: one empty blob per record,
//! the data in its metadata, ownership claimed by ETag conditions.
//!
//! * Blob names: `{namespace}/{hub}/{group}/ownership/{partition}` and
//!   `{namespace}/{hub}/{group}/checkpoint/{partition}` (lower-cased), in one
//!   container, so several consumer groups share one store with independent
//!   ownership and checkpoints (spec B.7).
//! * Metadata: `ownerid` (empty once relinquished); `sequencenumber`, `offset`
//!   and `clientidentifier` on checkpoints.
//! * Claims: with a version, `put_if_match` on the ETag (a missing blob falls back
//!   to create); without one, `create_if_absent`. A lost condition is silently
//!   not claimed; any other error aborts the claims not yet made.
//! * Checkpoints are unconditional puts (last writer wins, may go backwards); a
//!   missing or unreadable checkpoint blob reads as "no checkpoint".
//! * Every blob call goes through the store's [`FaultPlan`] first (outage for one
//!   instance or all, throttling, latency), as instance `P{client}`; the reply
//!   carries the summed latency of the calls the operation made.
//!
//! A record's version is its blob's ETag (store-wide, so versions are not dense).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Checkpoint, ClaimRequest, ClaimWin, ClientId, ConditionMode, OwnershipRecord};
use crate::world::eventhubs::PartitionId;
use crate::world::faults::FaultPlan;
use crate::world::storage::{BlobData, BlobStore, ETag, StorageError, StorageReply};

/// The Functions extension's checkpoint container (spec B.1).
pub const DEFAULT_CONTAINER: &str = "azure-webjobs-eventhub";

const OWNER_ID: &str = "ownerid";
const SEQUENCE_NUMBER: &str = "sequencenumber";
const OFFSET: &str = "offset";
const CLIENT_ID: &str = "clientidentifier";

/// The checkpoint store of one hub (every consumer group) on a [`BlobStore`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlobCheckpointStore {
    pub storage: BlobStore,
    /// Consulted before every blob call (see the module docs).
    pub faults: FaultPlan,
    pub container: String,
    namespace: String,
    hub: String,
    partitions: u32,
    pub mode: ConditionMode,
}

impl BlobCheckpointStore {
    /// An empty store for `partitions` partitions of `namespace/hub`, in the
    /// default container, with no faults.
    pub fn new(namespace: &str, hub: &str, partitions: u32) -> Self {
        BlobCheckpointStore {
            storage: BlobStore::new().with_container(DEFAULT_CONTAINER),
            faults: FaultPlan::none(),
            container: DEFAULT_CONTAINER.to_string(),
            namespace: namespace.to_lowercase(),
            hub: hub.to_lowercase(),
            partitions,
            mode: ConditionMode::IfMatch,
        }
    }

    /// Uses `plan` for every blob call.
    pub fn with_faults(mut self, plan: FaultPlan) -> Self {
        self.faults = plan;
        self
    }

    pub fn partition_count(&self) -> u32 {
        self.partitions
    }

    /// The instance name fault rules use for processor `client` (`P0`, `P1`, ...).
    pub fn instance_name(client: ClientId) -> String {
        format!("P{client}")
    }

    fn prefix(&self, group: &str, kind: &str) -> String {
        format!(
            "{}/{}/{}/{kind}/",
            self.namespace,
            self.hub,
            group.to_lowercase()
        )
    }

    /// `{ns}/{hub}/{group}/ownership/{partition}`.
    pub fn ownership_blob(&self, group: &str, partition: PartitionId) -> String {
        format!("{}{partition}", self.prefix(group, "ownership"))
    }

    /// `{ns}/{hub}/{group}/checkpoint/{partition}`.
    pub fn checkpoint_blob(&self, group: &str, partition: PartitionId) -> String {
        format!("{}{partition}", self.prefix(group, "checkpoint"))
    }

    fn check_partition(&self, partition: PartitionId) -> Result<(), StorageError> {
        if partition < self.partitions {
            Ok(())
        } else {
            Err(StorageError::NotFound(format!("partition {partition}")))
        }
    }

    /// Lists every ownership record of `group`, by partition (one `list` call).
    pub fn list_ownership(
        &mut self,
        now: Duration,
        client: ClientId,
        group: &str,
    ) -> StorageReply<Vec<OwnershipRecord>> {
        let prefix = self.prefix(group, "ownership");
        let instance = Self::instance_name(client);
        let reply = self
            .storage
            .client(&mut self.faults, now, &instance)
            .list(&self.container, &prefix);
        let result = reply.result.map(|blobs| {
            let mut records: Vec<OwnershipRecord> = blobs
                .iter()
                .filter_map(|(name, blob)| {
                    let partition = name.strip_prefix(&prefix)?.parse().ok()?;
                    Some(record_of(partition, blob))
                })
                .collect();
            records.sort_by_key(|r| r.partition);
            records
        });
        StorageReply {
            result,
            latency: reply.latency,
        }
    }

    /// Claims (creates, renews, steals or relinquishes) records by conditional
    /// writes, one blob call per request (two when an If-Match finds no blob).
    /// Returns the requests that won; an error other than a lost condition
    /// aborts the rest (the claims already made stay made).
    pub fn claim_ownership(
        &mut self,
        now: Duration,
        client: ClientId,
        group: &str,
        requests: &[ClaimRequest],
    ) -> StorageReply<Vec<ClaimWin>> {
        let mut latency = Duration::ZERO;
        let mut wins = Vec::new();
        for request in requests {
            if let Err(e) = self.check_partition(request.partition) {
                return StorageReply {
                    result: Err(e),
                    latency,
                };
            }
            match self.claim_one(now, client, group, request, &mut latency) {
                Ok(Some(win)) => wins.push(win),
                Ok(None) => {}
                Err(e) => {
                    return StorageReply {
                        result: Err(e),
                        latency,
                    }
                }
            }
        }
        StorageReply {
            result: Ok(wins),
            latency,
        }
    }

    fn claim_one(
        &mut self,
        now: Duration,
        client: ClientId,
        group: &str,
        request: &ClaimRequest,
        latency: &mut Duration,
    ) -> Result<Option<ClaimWin>, StorageError> {
        let name = self.ownership_blob(group, request.partition);
        // What the write replaces, observed outside the fault plan (for properties).
        let previous = self
            .storage
            .peek(&self.container, &name)
            .map(|b| record_of(request.partition, b));
        let owner = request.owner.map_or(String::new(), |o| o.to_string());
        let data = || BlobData::metadata([(OWNER_ID, owner.clone())]);
        let instance = Self::instance_name(client);
        let mut blobs = self.storage.client(&mut self.faults, now, &instance);
        let mut call = |reply: StorageReply<ETag>| {
            *latency += reply.latency;
            reply.result
        };
        let written = match (self.mode, request.expected) {
            (ConditionMode::IgnoreConditions, _) => call(blobs.put(&self.container, &name, data())),
            (ConditionMode::IfMatch, Some(v)) => {
                match call(blobs.put_if_match(&self.container, &name, ETag(v), data())) {
                    Err(StorageError::NotFound(_)) => {
                        call(blobs.create_if_absent(&self.container, &name, data()))
                    }
                    other => other,
                }
            }
            (ConditionMode::IfMatch, None) => {
                call(blobs.create_if_absent(&self.container, &name, data()))
            }
        };
        match written {
            Ok(etag) => Ok(Some(ClaimWin {
                record: OwnershipRecord {
                    partition: request.partition,
                    owner: request.owner,
                    last_modified: now,
                    version: etag.0,
                },
                previous,
            })),
            // Another processor won: not claimed, not an error (spec B.5).
            Err(StorageError::PreconditionFailed { .. } | StorageError::AlreadyExists(_)) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Reads a partition's checkpoint (one `get`); a missing blob or unreadable
    /// metadata is "no checkpoint", other errors propagate.
    pub fn get_checkpoint(
        &mut self,
        now: Duration,
        client: ClientId,
        group: &str,
        partition: PartitionId,
    ) -> StorageReply<Option<Checkpoint>> {
        if let Err(e) = self.check_partition(partition) {
            return StorageReply {
                result: Err(e),
                latency: Duration::ZERO,
            };
        }
        let name = self.checkpoint_blob(group, partition);
        let instance = Self::instance_name(client);
        let reply = self
            .storage
            .client(&mut self.faults, now, &instance)
            .get(&self.container, &name);
        let result = match reply.result {
            Ok(blob) => Ok(checkpoint_of(partition, &blob.metadata)),
            Err(StorageError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        };
        StorageReply {
            result,
            latency: reply.latency,
        }
    }

    /// Writes a checkpoint unconditionally (one `put`; last writer wins).
    pub fn update_checkpoint(
        &mut self,
        now: Duration,
        client: ClientId,
        group: &str,
        checkpoint: Checkpoint,
    ) -> StorageReply<()> {
        if let Err(e) = self.check_partition(checkpoint.partition) {
            return StorageReply {
                result: Err(e),
                latency: Duration::ZERO,
            };
        }
        let name = self.checkpoint_blob(group, checkpoint.partition);
        let data = BlobData::metadata([
            (SEQUENCE_NUMBER, checkpoint.sequence_number.to_string()),
            (OFFSET, checkpoint.offset.to_string()),
            (CLIENT_ID, client.to_string()),
        ]);
        let instance = Self::instance_name(client);
        let reply =
            self.storage
                .client(&mut self.faults, now, &instance)
                .put(&self.container, &name, data);
        StorageReply {
            result: reply.result.map(|_| ()),
            latency: reply.latency,
        }
    }

    /// Inspection without faults (for properties and tests): the current record.
    pub fn ownership(&self, group: &str, partition: PartitionId) -> Option<OwnershipRecord> {
        let blob = self
            .storage
            .peek(&self.container, &self.ownership_blob(group, partition))?;
        Some(record_of(partition, blob))
    }

    /// Inspection without faults (for properties and tests): the current checkpoint.
    pub fn checkpoint(&self, group: &str, partition: PartitionId) -> Option<Checkpoint> {
        let blob = self
            .storage
            .peek(&self.container, &self.checkpoint_blob(group, partition))?;
        checkpoint_of(partition, &blob.metadata)
    }
}

fn record_of(partition: PartitionId, blob: &crate::world::storage::Blob) -> OwnershipRecord {
    OwnershipRecord {
        partition,
        owner: blob.metadata.get(OWNER_ID).and_then(|o| o.parse().ok()),
        last_modified: blob.last_modified,
        version: blob.etag.0,
    }
}

fn checkpoint_of(
    partition: PartitionId,
    metadata: &BTreeMap<String, String>,
) -> Option<Checkpoint> {
    let number = |key: &str| metadata.get(key)?.parse::<u64>().ok();
    Some(Checkpoint {
        partition,
        sequence_number: number(SEQUENCE_NUMBER)?,
        offset: number(OFFSET)?,
        client: number(CLIENT_ID).and_then(|c| ClientId::try_from(c).ok())?,
    })
}

#[cfg(test)]
mod tests;
