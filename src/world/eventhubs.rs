//! Simulated Event Hubs: partitions as append-only logs, consumer groups, and
//! receivers with owner levels (epochs) where a newer receiver displaces an older one.
//!
//! Pure data (no clock, no I/O): every type is `Clone + Hash + Eq` so a model can keep
//! the whole hub in its explored state (the logs are shared copy-on-write). Receivers are identified by a caller-chosen
//! [`ReceiverKey`] (typically the processor instance) rather than a counter, so two
//! states that differ only in how many receivers were ever opened hash the same.
//!
//! Displacement follows the service rule (spec B.2 step 4): a receiver opened with an
//! owner level equal to or higher than the current exclusive receiver's disconnects
//! the older one, whose *next* receive fails with [`HubError::ConsumerDisconnected`];
//! events it already received are unaffected.

use std::fmt;
use std::sync::Arc;

/// Index of a partition (`0..partition_count`).
pub type PartitionId = u32;
/// Who opened a receiver (a processor instance index, a test client, ...).
pub type ReceiverKey = u32;
/// Index of a consumer group in the hub (`0` is `$Default`).
pub type GroupId = u32;

/// The most non-exclusive receivers the service allows per partition and group.
pub const MAX_NON_EXCLUSIVE_RECEIVERS: usize = 5;
/// The name of the consumer group every hub starts with.
pub const DEFAULT_CONSUMER_GROUP: &str = "$Default";

/// One event in a partition log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventData {
    /// Position in the partition, from 0, dense.
    pub sequence_number: u64,
    /// Byte offset in the partition (grows by each event's size).
    pub offset: u64,
    /// Opaque payload chosen by the producer.
    pub body: u64,
}

/// Where a new receiver starts reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StartPosition {
    /// The first event retained in the partition.
    Earliest,
    /// After the last event currently in the partition.
    Latest,
    /// The event after this sequence number (a checkpoint is exclusive, spec B.5).
    After(u64),
    /// This sequence number itself.
    At(u64),
}

/// Why a hub call failed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HubError {
    UnknownPartition(PartitionId),
    UnknownConsumerGroup(GroupId),
    DuplicateConsumerGroup(String),
    /// No receiver with this key is open on the partition for the group.
    NoSuchReceiver {
        group: GroupId,
        partition: PartitionId,
        key: ReceiverKey,
    },
    /// A newer receiver displaced this one (owner-level rule); it is now closed.
    ConsumerDisconnected {
        group: GroupId,
        partition: PartitionId,
        key: ReceiverKey,
    },
    /// An exclusive receiver with a higher owner level holds the partition.
    OwnerLevelTooLow {
        requested: Option<i64>,
        current: i64,
    },
    /// The per-partition limit of non-exclusive receivers is reached.
    TooManyReceivers,
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubError::UnknownPartition(p) => write!(f, "unknown partition {p}"),
            HubError::UnknownConsumerGroup(g) => write!(f, "unknown consumer group #{g}"),
            HubError::DuplicateConsumerGroup(n) => write!(f, "consumer group `{n}` already exists"),
            HubError::NoSuchReceiver { group, partition, key } => {
                write!(f, "no receiver {key} on partition {partition} (group #{group})")
            }
            HubError::ConsumerDisconnected { group, partition, key } => write!(
                f,
                "receiver {key} on partition {partition} (group #{group}) was displaced by a newer receiver"
            ),
            HubError::OwnerLevelTooLow { requested, current } => {
                write!(f, "owner level {requested:?} is below the current exclusive receiver's {current}")
            }
            HubError::TooManyReceivers => write!(f, "too many non-exclusive receivers"),
        }
    }
}

impl std::error::Error for HubError {}

/// An open receiver: its cursor and whether it has been displaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Receiver {
    pub partition: PartitionId,
    pub key: ReceiverKey,
    /// `Some(level)` for an exclusive (epoch) receiver, `None` for a non-exclusive one.
    pub owner_level: Option<i64>,
    /// The sequence number the next receive starts at.
    pub next_sequence: u64,
    /// Set when a newer receiver displaced this one; the next receive fails.
    pub disconnected: bool,
}

/// One partition: an append-only log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct PartitionLog {
    events: Vec<EventData>,
    next_offset: u64,
}

/// A consumer group: an independent set of readers (spec B.7).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConsumerGroup {
    pub name: Arc<str>,
    /// Open receivers of every partition, by partition, in opening order within one.
    receivers: Vec<Receiver>,
}

/// A simulated event hub. The logs are shared copy-on-write, so cloning a hub
/// (as explorers do for every state) copies only the receivers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EventHub {
    partitions: Arc<Vec<PartitionLog>>,
    groups: Vec<ConsumerGroup>,
}

impl EventHub {
    /// A hub with `partition_count` empty partitions and the `$Default` consumer group.
    pub fn new(partition_count: u32) -> Self {
        let partitions = (0..partition_count)
            .map(|_| PartitionLog::default())
            .collect();
        let default = ConsumerGroup {
            name: DEFAULT_CONSUMER_GROUP.into(),
            receivers: Vec::new(),
        };
        EventHub {
            partitions: Arc::new(partitions),
            groups: vec![default],
        }
    }

    pub fn partition_count(&self) -> u32 {
        self.partitions.len() as u32
    }

    /// Adds a consumer group; names are unique.
    pub fn add_consumer_group(&mut self, name: &str) -> Result<GroupId, HubError> {
        if self.group_id(name).is_some() {
            return Err(HubError::DuplicateConsumerGroup(name.to_string()));
        }
        self.groups.push(ConsumerGroup {
            name: name.into(),
            receivers: Vec::new(),
        });
        Ok(self.groups.len() as GroupId - 1)
    }

    pub fn group_id(&self, name: &str) -> Option<GroupId> {
        self.groups
            .iter()
            .position(|g| &*g.name == name)
            .map(|i| i as GroupId)
    }

    fn log(&self, partition: PartitionId) -> Result<&PartitionLog, HubError> {
        self.partitions
            .get(partition as usize)
            .ok_or(HubError::UnknownPartition(partition))
    }

    /// Appends an event of `size` bytes; returns it with its sequence number and offset.
    pub fn append(
        &mut self,
        partition: PartitionId,
        body: u64,
        size: u32,
    ) -> Result<EventData, HubError> {
        self.log(partition)?;
        let log = &mut Arc::make_mut(&mut self.partitions)[partition as usize];
        let event = EventData {
            sequence_number: log.events.len() as u64,
            offset: log.next_offset,
            body,
        };
        log.next_offset += u64::from(size.max(1));
        log.events.push(event);
        Ok(event)
    }

    /// Number of events ever appended to `partition` (nothing is evicted).
    pub fn len(&self, partition: PartitionId) -> Result<u64, HubError> {
        Ok(self.log(partition)?.events.len() as u64)
    }

    /// Whether every partition is empty.
    pub fn is_empty(&self) -> bool {
        self.partitions.iter().all(|p| p.events.is_empty())
    }

    /// The events of `partition`, in order.
    pub fn events(&self, partition: PartitionId) -> Result<&[EventData], HubError> {
        Ok(&self.log(partition)?.events)
    }

    fn group_mut(
        &mut self,
        group: GroupId,
        partition: PartitionId,
    ) -> Result<&mut ConsumerGroup, HubError> {
        self.log(partition)?;
        self.groups
            .get_mut(group as usize)
            .ok_or(HubError::UnknownConsumerGroup(group))
    }

    fn group(&self, group: GroupId, partition: PartitionId) -> Result<&ConsumerGroup, HubError> {
        self.log(partition)?;
        self.groups
            .get(group as usize)
            .ok_or(HubError::UnknownConsumerGroup(group))
    }

    /// The receivers open on `partition` for `group` (displaced ones included until
    /// their failing receive closes them), in opening order.
    pub fn receivers(
        &self,
        group: GroupId,
        partition: PartitionId,
    ) -> Result<Vec<Receiver>, HubError> {
        Ok(self
            .group(group, partition)?
            .receivers
            .iter()
            .filter(|r| r.partition == partition)
            .copied()
            .collect())
    }

    /// Opens a receiver for `key` (replacing `key`'s previous receiver on this partition).
    ///
    /// Owner-level rule: an exclusive receiver (`Some(level)`) displaces every other
    /// receiver whose level is lower *or equal* (the newer one wins) and every
    /// non-exclusive one; it is refused if a connected exclusive receiver has a higher
    /// level. A non-exclusive receiver is refused while a connected exclusive one exists.
    pub fn open_receiver(
        &mut self,
        group: GroupId,
        partition: PartitionId,
        key: ReceiverKey,
        owner_level: Option<i64>,
        start: StartPosition,
    ) -> Result<(), HubError> {
        let len = self.len(partition)?;
        let receivers = &mut self.group_mut(group, partition)?.receivers;
        receivers.retain(|r| !(r.partition == partition && r.key == key));
        let mine = |r: &&mut Receiver| r.partition == partition;
        let current = receivers
            .iter()
            .filter(|r| r.partition == partition && !r.disconnected)
            .filter_map(|r| r.owner_level)
            .max();
        match (owner_level, current) {
            (Some(level), Some(cur)) if level < cur => {
                return Err(HubError::OwnerLevelTooLow {
                    requested: owner_level,
                    current: cur,
                })
            }
            (None, Some(cur)) => {
                return Err(HubError::OwnerLevelTooLow {
                    requested: None,
                    current: cur,
                })
            }
            (Some(_), _) => receivers
                .iter_mut()
                .filter(mine)
                .for_each(|r| r.disconnected = true),
            (None, None) => {
                let connected = receivers
                    .iter()
                    .filter(|r| r.partition == partition && !r.disconnected)
                    .count();
                if connected >= MAX_NON_EXCLUSIVE_RECEIVERS {
                    return Err(HubError::TooManyReceivers);
                }
            }
        }
        let next_sequence = match start {
            StartPosition::Earliest => 0,
            StartPosition::Latest => len,
            StartPosition::After(seq) => seq.saturating_add(1).min(len),
            StartPosition::At(seq) => seq.min(len),
        };
        // Grouped by partition (opening order within one), so equal hubs compare equal
        // whatever the interleaving of opens on different partitions.
        let at = receivers
            .iter()
            .position(|r| r.partition > partition)
            .unwrap_or(receivers.len());
        receivers.insert(
            at,
            Receiver {
                partition,
                key,
                owner_level,
                next_sequence,
                disconnected: false,
            },
        );
        Ok(())
    }

    /// Closes `key`'s receiver on `partition` (no error if there is none).
    pub fn close_receiver(
        &mut self,
        group: GroupId,
        partition: PartitionId,
        key: ReceiverKey,
    ) -> Result<(), HubError> {
        self.group_mut(group, partition)?
            .receivers
            .retain(|r| !(r.partition == partition && r.key == key));
        Ok(())
    }

    fn find(
        &self,
        group: GroupId,
        partition: PartitionId,
        key: ReceiverKey,
    ) -> Result<&Receiver, HubError> {
        self.group(group, partition)?
            .receivers
            .iter()
            .find(|r| r.partition == partition && r.key == key)
            .ok_or(HubError::NoSuchReceiver {
                group,
                partition,
                key,
            })
    }

    /// Whether `key` has a receiver on `partition` that has not been displaced.
    pub fn is_connected(&self, group: GroupId, partition: PartitionId, key: ReceiverKey) -> bool {
        self.find(group, partition, key)
            .is_ok_and(|r| !r.disconnected)
    }

    /// How many events `key`'s receiver could receive now (0 when caught up).
    pub fn available(
        &self,
        group: GroupId,
        partition: PartitionId,
        key: ReceiverKey,
    ) -> Result<u64, HubError> {
        let len = self.len(partition)?;
        Ok(len - self.find(group, partition, key)?.next_sequence)
    }

    /// Receives up to `max` events for `key` and advances its cursor. An empty batch
    /// is a normal result (nothing new arrived within the wait). A displaced receiver
    /// fails with [`HubError::ConsumerDisconnected`] and is closed.
    pub fn receive(
        &mut self,
        group: GroupId,
        partition: PartitionId,
        key: ReceiverKey,
        max: usize,
    ) -> Result<Vec<EventData>, HubError> {
        let len = self.len(partition)?;
        let receivers = &mut self.group_mut(group, partition)?.receivers;
        let index = receivers
            .iter()
            .position(|r| r.partition == partition && r.key == key)
            .ok_or(HubError::NoSuchReceiver {
                group,
                partition,
                key,
            })?;
        if receivers[index].disconnected {
            receivers.remove(index);
            return Err(HubError::ConsumerDisconnected {
                group,
                partition,
                key,
            });
        }
        let from = receivers[index].next_sequence;
        let to = from.saturating_add(max as u64).min(len);
        receivers[index].next_sequence = to;
        Ok(self.partitions[partition as usize].events[from as usize..to as usize].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub_with(events: u64) -> EventHub {
        let mut hub = EventHub::new(2);
        for body in 0..events {
            hub.append(0, body, 10).unwrap();
        }
        hub
    }

    #[test]
    fn append_assigns_dense_sequence_numbers_and_growing_offsets() {
        let mut hub = hub_with(3);
        let events = hub.events(0).unwrap();
        assert_eq!(
            events.iter().map(|e| e.sequence_number).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(
            events.iter().map(|e| e.offset).collect::<Vec<_>>(),
            vec![0, 10, 20]
        );
        assert_eq!(hub.len(1).unwrap(), 0);
        assert_eq!(hub.append(7, 0, 1), Err(HubError::UnknownPartition(7)));
    }

    #[test]
    fn receive_returns_up_to_max_and_empty_batches_when_caught_up() {
        let mut hub = hub_with(3);
        hub.open_receiver(0, 0, 1, Some(0), StartPosition::Earliest)
            .unwrap();
        assert_eq!(hub.receive(0, 0, 1, 2).unwrap().len(), 2);
        assert_eq!(hub.available(0, 0, 1).unwrap(), 1);
        assert_eq!(hub.receive(0, 0, 1, 2).unwrap()[0].sequence_number, 2);
        assert!(hub.receive(0, 0, 1, 2).unwrap().is_empty());
    }

    #[test]
    fn checkpoint_positions_are_exclusive() {
        let mut hub = hub_with(3);
        hub.open_receiver(0, 0, 1, Some(0), StartPosition::After(0))
            .unwrap();
        assert_eq!(hub.receive(0, 0, 1, 10).unwrap()[0].sequence_number, 1);
        hub.open_receiver(0, 0, 1, Some(0), StartPosition::Latest)
            .unwrap();
        assert!(hub.receive(0, 0, 1, 10).unwrap().is_empty());
    }

    #[test]
    fn newer_receiver_with_equal_owner_level_displaces_older_one() {
        let mut hub = hub_with(3);
        hub.open_receiver(0, 0, 1, Some(0), StartPosition::Earliest)
            .unwrap();
        let batch = hub.receive(0, 0, 1, 1).unwrap();
        hub.open_receiver(0, 0, 2, Some(0), StartPosition::Earliest)
            .unwrap();
        assert_eq!(batch.len(), 1, "the batch already received is unaffected");
        assert!(!hub.is_connected(0, 0, 1));
        assert_eq!(
            hub.receive(0, 0, 1, 1),
            Err(HubError::ConsumerDisconnected {
                group: 0,
                partition: 0,
                key: 1
            })
        );
        assert_eq!(
            hub.receive(0, 0, 1, 1),
            Err(HubError::NoSuchReceiver {
                group: 0,
                partition: 0,
                key: 1
            })
        );
        assert_eq!(hub.receive(0, 0, 2, 5).unwrap().len(), 3);
    }

    #[test]
    fn lower_owner_level_and_non_exclusive_receivers_are_refused() {
        let mut hub = hub_with(1);
        hub.open_receiver(0, 0, 1, Some(5), StartPosition::Earliest)
            .unwrap();
        assert!(matches!(
            hub.open_receiver(0, 0, 2, Some(4), StartPosition::Earliest),
            Err(HubError::OwnerLevelTooLow { .. })
        ));
        assert!(hub
            .open_receiver(0, 0, 3, None, StartPosition::Earliest)
            .is_err());
        assert!(hub.is_connected(0, 0, 1));
    }

    #[test]
    fn non_exclusive_receivers_coexist_up_to_the_limit() {
        let mut hub = hub_with(1);
        for key in 0..MAX_NON_EXCLUSIVE_RECEIVERS as u32 {
            hub.open_receiver(0, 0, key, None, StartPosition::Earliest)
                .unwrap();
        }
        assert_eq!(
            hub.open_receiver(0, 0, 99, None, StartPosition::Earliest),
            Err(HubError::TooManyReceivers)
        );
        hub.open_receiver(0, 0, 99, Some(0), StartPosition::Earliest)
            .unwrap();
        assert!((0..MAX_NON_EXCLUSIVE_RECEIVERS as u32).all(|k| !hub.is_connected(0, 0, k)));
    }

    #[test]
    fn consumer_groups_read_independently() {
        let mut hub = hub_with(2);
        let other = hub.add_consumer_group("audit").unwrap();
        assert!(hub.add_consumer_group("audit").is_err());
        hub.open_receiver(0, 0, 1, Some(0), StartPosition::Earliest)
            .unwrap();
        hub.open_receiver(other, 0, 2, Some(0), StartPosition::Earliest)
            .unwrap();
        assert!(
            hub.is_connected(0, 0, 1),
            "a receiver in another group does not displace"
        );
        assert_eq!(hub.receive(0, 0, 1, 5).unwrap().len(), 2);
        assert_eq!(
            hub.receive(other, 0, 2, 5).unwrap().len(),
            2,
            "each group sees every event"
        );
        assert_eq!(
            hub.receive(9, 0, 2, 5),
            Err(HubError::UnknownConsumerGroup(9))
        );
    }

    #[test]
    fn equal_hubs_hash_equal() {
        use std::hash::{Hash, Hasher};
        struct Fnv(u64);
        impl Hasher for Fnv {
            fn finish(&self) -> u64 {
                self.0
            }
            fn write(&mut self, bytes: &[u8]) {
                for b in bytes {
                    self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
                }
            }
        }
        let fp = |hub: &EventHub| {
            let mut h = Fnv(0xcbf2_9ce4_8422_2325);
            hub.hash(&mut h);
            h.finish()
        };
        let mut a = hub_with(2);
        let mut b = hub_with(2);
        a.open_receiver(0, 0, 1, Some(0), StartPosition::Earliest)
            .unwrap();
        b.open_receiver(0, 0, 1, Some(0), StartPosition::At(1))
            .unwrap();
        b.open_receiver(0, 0, 1, Some(0), StartPosition::Earliest)
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(fp(&a), fp(&b));
    }
}
