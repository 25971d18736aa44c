//! A simulated shared failure counter: a durable, Redis-like store of timestamped
//! failure records under small integer keys, counted over a rolling window of
//! virtual time, reachable by every instance of a simulated service.
//!
//! * **Record** is atomic and returns the rolling count in the same round trip
//!   (a sorted-set add plus a range count in one script / transaction), so a
//!   caller never sees its own record missing.
//! * **Rolling window**: a record made at `at` counts at `now` while
//!   `now - window < at <= now`. [`FailureStore::expire`] drops records that no
//!   later window can contain (expiry by virtual time).
//! * **Lag** (eventual consistency): a read may see the store as it was up to
//!   `lag` ago. The caller says how stale one read is (`staleness`, clamped to
//!   the configured lag): other clients' records younger than that are not
//!   visible, the reader's own are (read-your-writes, as with session consistency).
//! * **Outage**: calls of every client, of one client, or the next `n` calls of a
//!   client fail with [`FailureStoreError::Unavailable`] before touching data.
//! * [`FailureStore::true_count`] is the ghost view a checker judges by: every
//!   record in the window, all keys or one, no lag, no faults.
//!
//! Time is passed in (`now`), never read. Pure data, `Clone + Hash + Eq`, so a
//! protocol model can keep the store in its state; [`FailureStore::rebase`] shifts
//! every record back so such a model can keep time relative (and its state finite).
//! The store knows nothing of who uses it or why.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

/// The name of a counter (the caller numbers its counters).
pub type CounterKey = u32;
/// Who calls the store (an instance index).
pub type ClientId = u32;

/// One recorded failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FailureRecord {
    /// Virtual time of the record (the store's arrival time).
    pub at: Duration,
    pub key: CounterKey,
    pub client: ClientId,
}

/// Why a call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureStoreError {
    /// The store is unreachable for this client (outage or injected failure).
    Unavailable { client: ClientId },
}

impl fmt::Display for FailureStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureStoreError::Unavailable { client } => {
                write!(f, "failure store unavailable for client {client}")
            }
        }
    }
}

impl std::error::Error for FailureStoreError {}

/// Injected faults: outages and the largest staleness a read may have.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct FailureStoreFaults {
    /// Outage for every client.
    pub all_down: bool,
    /// Outage for these clients only.
    pub down: BTreeSet<ClientId>,
    /// The next `n` calls of a client fail (one-shot transient failures).
    pub fail_next: BTreeMap<ClientId, u32>,
    /// Reads may be up to this old (0: strongly consistent).
    pub lag: Duration,
}

impl FailureStoreFaults {
    /// Consumes one pending failure for `client`, or reports an outage.
    fn strike(&mut self, client: ClientId) -> Result<(), FailureStoreError> {
        if self.all_down || self.down.contains(&client) {
            return Err(FailureStoreError::Unavailable { client });
        }
        if let Some(n) = self.fail_next.get_mut(&client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.fail_next.remove(&client);
            }
            return Err(FailureStoreError::Unavailable { client });
        }
        Ok(())
    }
}

/// The store: records in time order plus its window and faults.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FailureStore {
    window: Duration,
    /// Sorted by `(at, key, client)`.
    records: Vec<FailureRecord>,
    pub faults: FailureStoreFaults,
}

impl FailureStore {
    /// An empty, healthy, strongly consistent store counting over `window`.
    pub fn new(window: Duration) -> Self {
        FailureStore {
            window,
            records: Vec::new(),
            faults: FailureStoreFaults::default(),
        }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// The largest staleness a read may have.
    pub fn lag(&self) -> Duration {
        self.faults.lag
    }

    /// Reads may from now on be up to `lag` old.
    pub fn set_lag(&mut self, lag: Duration) {
        self.faults.lag = lag;
    }

    /// Outage for one client.
    pub fn set_outage(&mut self, client: ClientId, down: bool) {
        if down {
            self.faults.down.insert(client);
        } else {
            self.faults.down.remove(&client);
        }
    }

    /// Outage for every client (`true`) or none (`false`, also clears per-client outages).
    pub fn set_outage_all(&mut self, down: bool) {
        self.faults.all_down = down;
        if !down {
            self.faults.down.clear();
        }
    }

    /// The next `calls` calls of `client` fail.
    pub fn fail_next(&mut self, client: ClientId, calls: u32) {
        if calls > 0 {
            *self.faults.fail_next.entry(client).or_insert(0) += calls;
        }
    }

    /// Every record still kept, oldest first.
    pub fn records(&self) -> &[FailureRecord] {
        &self.records
    }

    /// Atomically records a failure of `client` under `key` at `now` and returns
    /// the rolling count of `key` as this read sees it (`staleness` clamped to the
    /// lag; the new record is always seen).
    pub fn record(
        &mut self,
        key: CounterKey,
        client: ClientId,
        now: Duration,
        staleness: Duration,
    ) -> Result<u64, FailureStoreError> {
        self.faults.strike(client)?;
        let record = FailureRecord {
            at: now,
            key,
            client,
        };
        let place = self.records.partition_point(|r| *r <= record);
        self.records.insert(place, record);
        Ok(self.visible_count(key, client, now, staleness))
    }

    /// The rolling count of `key` at `now` as a read of `client` with `staleness`
    /// (clamped to the lag) sees it.
    pub fn count(
        &mut self,
        key: CounterKey,
        client: ClientId,
        now: Duration,
        staleness: Duration,
    ) -> Result<u64, FailureStoreError> {
        self.faults.strike(client)?;
        Ok(self.visible_count(key, client, now, staleness))
    }

    fn in_window(&self, at: Duration, now: Duration) -> bool {
        at <= now && at + self.window > now
    }

    fn visible_count(
        &self,
        key: CounterKey,
        client: ClientId,
        now: Duration,
        staleness: Duration,
    ) -> u64 {
        let staleness = staleness.min(self.faults.lag);
        let as_of = now.checked_sub(staleness);
        self.records
            .iter()
            .filter(|r| r.key == key && self.in_window(r.at, now))
            .filter(|r| r.client == client || as_of.is_some_and(|t| r.at <= t))
            .count() as u64
    }

    /// The checker's view: records in the window at `now` under `key` (or under
    /// every key with `None`), ignoring lag and faults.
    pub fn true_count(&self, key: Option<CounterKey>, now: Duration) -> u64 {
        self.records
            .iter()
            .filter(|r| key.is_none_or(|k| r.key == k) && self.in_window(r.at, now))
            .count() as u64
    }

    /// Expiry: drops the records no window at `now` or later can contain.
    pub fn expire(&mut self, now: Duration) {
        let window = self.window;
        self.records.retain(|r| r.at + window > now);
    }

    /// Moves every record `by` earlier (saturating at 0), for models that keep
    /// "now" fixed and let the records age instead. Call [`Self::expire`] after.
    pub fn rebase(&mut self, by: Duration) {
        for r in &mut self.records {
            r.at = r.at.saturating_sub(by);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn record_counts_the_rolling_window_per_key() {
        let mut store = FailureStore::new(s(30));
        assert_eq!(store.record(0, 1, s(0), s(0)), Ok(1));
        assert_eq!(store.record(0, 2, s(10), s(0)), Ok(2));
        assert_eq!(store.record(1, 2, s(10), s(0)), Ok(1));
        // At 30 s the record of 0 s has left the window (now - window < at).
        assert_eq!(store.count(0, 1, s(30), s(0)), Ok(1));
        assert_eq!(store.true_count(None, s(30)), 2);
        assert_eq!(store.true_count(Some(0), s(29)), 2);
        store.expire(s(30));
        assert_eq!(store.records().len(), 2);
        store.expire(s(40));
        assert!(store.records().is_empty());
    }

    #[test]
    fn a_lagging_read_misses_other_clients_recent_records_but_not_its_own() {
        let mut store = FailureStore::new(s(30));
        store.set_lag(s(5));
        store.record(0, 1, s(10), s(0)).unwrap();
        store.record(0, 2, s(12), s(0)).unwrap();
        // Client 2 reading 5 s stale at 13 s sees the store as of 8 s, plus its own.
        assert_eq!(store.count(0, 2, s(13), s(5)), Ok(1));
        assert_eq!(store.count(0, 1, s(13), s(5)), Ok(1));
        // Staleness is clamped to the lag; at 15 s client 1's record is old enough.
        assert_eq!(store.count(0, 2, s(15), s(60)), Ok(2));
        // A fresh read sees everything.
        assert_eq!(store.count(0, 2, s(13), s(0)), Ok(2));
        // Early in the run a stale read sees nothing of others.
        let mut early = FailureStore::new(s(30));
        early.set_lag(s(5));
        early.record(0, 1, s(1), s(0)).unwrap();
        assert_eq!(early.record(0, 2, s(2), s(5)), Ok(1));
    }

    #[test]
    fn outages_fail_calls_without_touching_data() {
        let mut store = FailureStore::new(s(30));
        store.set_outage(1, true);
        assert_eq!(
            store.record(0, 1, s(1), s(0)),
            Err(FailureStoreError::Unavailable { client: 1 })
        );
        assert_eq!(store.record(0, 2, s(1), s(0)), Ok(1));
        store.set_outage(1, false);
        store.fail_next(2, 1);
        assert!(store.count(0, 2, s(1), s(0)).is_err());
        assert_eq!(store.count(0, 2, s(1), s(0)), Ok(1));
        store.set_outage_all(true);
        assert!(store.count(0, 3, s(1), s(0)).is_err());
        store.set_outage_all(false);
        assert_eq!(store.true_count(None, s(1)), 1);
        assert_eq!(
            FailureStoreError::Unavailable { client: 4 }.to_string(),
            "failure store unavailable for client 4"
        );
    }

    #[test]
    fn rebase_ages_records_for_relative_time_models() {
        let now = s(3);
        let mut store = FailureStore::new(s(3));
        store.record(0, 0, now, s(0)).unwrap();
        store.rebase(s(1));
        store.expire(now);
        assert_eq!(store.true_count(None, now), 1);
        store.rebase(s(2));
        store.expire(now);
        assert!(store.records().is_empty());
    }
}
