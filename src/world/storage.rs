//! Simulated blob storage: containers of blobs with metadata, ETags and CAS writes.
//!
//! Modelled on Azure Blob Storage as the Functions host and the Event Hubs
//! checkpoint store use it: blobs carry content, string metadata, an ETag
//! (a store-wide monotonic version) and a last-modified virtual time.
//! Conditional writes (`put_if_match`, `create_if_absent`) make a blob a
//! compare-and-swap register: for one ETag at most one writer wins.
//!
//! Every operation goes through a [`StorageClient`] that knows the virtual
//! time and the calling instance, consults the [`FaultPlan`] first (an
//! injected error leaves the store untouched) and returns the latency the
//! caller should sleep along with the result.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::faults::FaultPlan;

/// The storage operations, as fault rules name them (`op = "put_if_match"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StorageOp {
    Get,
    Put,
    PutIfMatch,
    CreateIfAbsent,
    Delete,
    List,
}

impl StorageOp {
    pub const ALL: [StorageOp; 6] = [
        StorageOp::Get,
        StorageOp::Put,
        StorageOp::PutIfMatch,
        StorageOp::CreateIfAbsent,
        StorageOp::Delete,
        StorageOp::List,
    ];
    pub fn name(self) -> &'static str {
        match self {
            StorageOp::Get => "get",
            StorageOp::Put => "put",
            StorageOp::PutIfMatch => "put_if_match",
            StorageOp::CreateIfAbsent => "create_if_absent",
            StorageOp::Delete => "delete",
            StorageOp::List => "list",
        }
    }
}

impl FromStr for StorageOp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        StorageOp::ALL
            .into_iter()
            .find(|op| op.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown storage operation `{s}`, expected one of get, put, put_if_match, \
                 create_if_absent, delete, list"
                )
            })
    }
}

/// Why a storage call failed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum StorageError {
    #[error("storage unavailable (outage)")]
    Unavailable,
    #[error("request throttled")]
    Throttled,
    #[error("precondition failed: {path} is at {actual}, not {expected}")]
    PreconditionFailed {
        path: String,
        expected: ETag,
        actual: ETag,
    },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
}

impl StorageError {
    /// Outages and throttling are worth retrying; the rest are answers.
    pub fn is_transient(&self) -> bool {
        matches!(self, StorageError::Unavailable | StorageError::Throttled)
    }
}

/// A blob version. Rendered as `v7`; parsed back by `FromStr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ETag(pub u64);

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl FromStr for ETag {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.strip_prefix('v')
            .and_then(|n| n.parse().ok())
            .map(ETag)
            .ok_or_else(|| format!("invalid ETag `{s}`, expected `v<number>`"))
    }
}

/// What a write stores: content and metadata (both replaced as a whole).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct BlobData {
    pub content: Vec<u8>,
    pub metadata: BTreeMap<String, String>,
}

impl BlobData {
    pub fn content(content: impl Into<Vec<u8>>) -> Self {
        BlobData {
            content: content.into(),
            metadata: BTreeMap::new(),
        }
    }
    /// Metadata only (an empty blob, as checkpoint and ownership blobs are).
    pub fn metadata<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let metadata = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        BlobData {
            content: Vec::new(),
            metadata,
        }
    }
}

/// A stored blob.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Blob {
    pub content: Vec<u8>,
    pub metadata: BTreeMap<String, String>,
    pub etag: ETag,
    pub last_modified: Duration,
}

/// A call's result and how long it takes (sleep it before using the result).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StorageReply<T> {
    pub result: Result<T, StorageError>,
    pub latency: Duration,
}

/// The store: containers of blobs, ordered by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct BlobStore {
    containers: BTreeMap<String, BTreeMap<String, Blob>>,
    /// The last ETag handed out; ETags are store-wide and never reused.
    version: u64,
}

impl BlobStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder form of [`BlobStore::create_container`].
    pub fn with_container(mut self, name: &str) -> Self {
        self.create_container(name);
        self
    }

    /// Setup, outside the fault plan: creates a container; false if it existed.
    pub fn create_container(&mut self, name: &str) -> bool {
        if self.containers.contains_key(name) {
            return false;
        }
        self.containers.insert(name.to_string(), BTreeMap::new());
        true
    }

    /// Inspection for properties and renderers (no faults, no latency).
    pub fn peek(&self, container: &str, name: &str) -> Option<&Blob> {
        self.containers.get(container)?.get(name)
    }

    /// Names of the blobs in a container (inspection, no faults).
    pub fn blob_names(&self, container: &str) -> Vec<&str> {
        self.containers
            .get(container)
            .map(|c| c.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// A client for one call site: `instance` at virtual time `now`, with faults from `faults`.
    pub fn client<'a>(
        &'a mut self,
        faults: &'a mut FaultPlan,
        now: Duration,
        instance: &'a str,
    ) -> StorageClient<'a> {
        StorageClient {
            store: self,
            faults,
            now,
            instance,
        }
    }

    fn container_mut(
        &mut self,
        container: &str,
    ) -> Result<&mut BTreeMap<String, Blob>, StorageError> {
        self.containers
            .get_mut(container)
            .ok_or_else(|| StorageError::NotFound(format!("container `{container}`")))
    }

    fn next_etag(&mut self) -> ETag {
        self.version += 1;
        ETag(self.version)
    }

    fn write(&mut self, container: &str, name: &str, data: BlobData, now: Duration) -> ETag {
        let etag = self.next_etag();
        let blob = Blob {
            content: data.content,
            metadata: data.metadata,
            etag,
            last_modified: now,
        };
        // The caller has checked the container exists.
        if let Some(c) = self.containers.get_mut(container) {
            c.insert(name.to_string(), blob);
        }
        etag
    }
}

/// The store as seen by one instance at one virtual time.
pub struct StorageClient<'a> {
    store: &'a mut BlobStore,
    faults: &'a mut FaultPlan,
    now: Duration,
    instance: &'a str,
}

impl StorageClient<'_> {
    /// Asks the fault plan, then runs `op` unless a fault answers first.
    fn call<T>(
        &mut self,
        op: StorageOp,
        run: impl FnOnce(&mut BlobStore, Duration) -> Result<T, StorageError>,
    ) -> StorageReply<T> {
        let fault = self.faults.storage_call(self.now, self.instance, op);
        let result = match fault.error {
            Some(err) => Err(err),
            None => run(self.store, self.now),
        };
        StorageReply {
            result,
            latency: fault.latency,
        }
    }

    /// Reads a blob (content, metadata, ETag, last-modified).
    pub fn get(&mut self, container: &str, name: &str) -> StorageReply<Blob> {
        self.call(StorageOp::Get, |s, _| {
            s.container_mut(container)?
                .get(name)
                .cloned()
                .ok_or_else(|| StorageError::NotFound(format!("blob `{container}/{name}`")))
        })
    }

    /// Unconditional write (last writer wins); creates the blob if missing.
    pub fn put(&mut self, container: &str, name: &str, data: BlobData) -> StorageReply<ETag> {
        self.call(StorageOp::Put, |s, now| {
            s.container_mut(container)?;
            Ok(s.write(container, name, data, now))
        })
    }

    /// Writes only if the blob is still at `expected` (If-Match).
    pub fn put_if_match(
        &mut self,
        container: &str,
        name: &str,
        expected: ETag,
        data: BlobData,
    ) -> StorageReply<ETag> {
        self.call(StorageOp::PutIfMatch, |s, now| {
            let path = format!("{container}/{name}");
            let current = s.container_mut(container)?.get(name).map(|b| b.etag);
            match current {
                None => Err(StorageError::NotFound(format!("blob `{path}`"))),
                Some(actual) if actual != expected => Err(StorageError::PreconditionFailed {
                    path,
                    expected,
                    actual,
                }),
                Some(_) => Ok(s.write(container, name, data, now)),
            }
        })
    }

    /// Writes only if no blob of that name exists (If-None-Match: *).
    pub fn create_if_absent(
        &mut self,
        container: &str,
        name: &str,
        data: BlobData,
    ) -> StorageReply<ETag> {
        self.call(StorageOp::CreateIfAbsent, |s, now| {
            if s.container_mut(container)?.contains_key(name) {
                return Err(StorageError::AlreadyExists(format!(
                    "blob `{container}/{name}`"
                )));
            }
            Ok(s.write(container, name, data, now))
        })
    }

    /// Deletes a blob.
    pub fn delete(&mut self, container: &str, name: &str) -> StorageReply<()> {
        self.call(StorageOp::Delete, |s, _| {
            s.container_mut(container)?
                .remove(name)
                .map(|_| ())
                .ok_or_else(|| StorageError::NotFound(format!("blob `{container}/{name}`")))
        })
    }

    /// The blobs whose names start with `prefix`, sorted by name.
    pub fn list(&mut self, container: &str, prefix: &str) -> StorageReply<Vec<(String, Blob)>> {
        self.call(StorageOp::List, |s, _| {
            let c = s.container_mut(container)?;
            Ok(c.range(prefix.to_string()..)
                .take_while(|(name, _)| name.starts_with(prefix))
                .map(|(name, blob)| (name.clone(), blob.clone()))
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::fault_spec::FaultSpec;
    use crate::world::prng::Prng;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn owner(id: &str) -> BlobData {
        BlobData::metadata([("ownerid", id)])
    }

    #[test]
    fn cas_has_at_most_one_winner_per_version() {
        let mut store = BlobStore::new().with_container("own");
        let mut faults = FaultPlan::none();
        let v1 = store
            .client(&mut faults, ms(0), "a")
            .create_if_absent("own", "p0", owner("a"));
        let v1 = v1.result.expect("first create wins");
        let again = store
            .client(&mut faults, ms(1), "b")
            .create_if_absent("own", "p0", owner("b"));
        assert!(matches!(again.result, Err(StorageError::AlreadyExists(_))));

        let b = store
            .client(&mut faults, ms(2), "b")
            .put_if_match("own", "p0", v1, owner("b"));
        let a = store
            .client(&mut faults, ms(3), "a")
            .put_if_match("own", "p0", v1, owner("a"));
        let v2 = b.result.expect("first claimer on v1 wins");
        assert!(v2 > v1);
        assert_eq!(
            a.result,
            Err(StorageError::PreconditionFailed {
                path: "own/p0".into(),
                expected: v1,
                actual: v2
            })
        );
        let blob = store.peek("own", "p0").expect("exists");
        assert_eq!(
            (
                blob.metadata["ownerid"].as_str(),
                blob.etag,
                blob.last_modified
            ),
            ("b", v2, ms(2))
        );
    }

    #[test]
    fn unconditional_writes_get_delete_and_sorted_prefix_list() {
        let mut store = BlobStore::new().with_container("ck");
        let mut faults = FaultPlan::none();
        let mut c = store.client(&mut faults, ms(5), "h");
        for name in ["hub/checkpoint/1", "hub/ownership/0", "hub/checkpoint/0"] {
            c.put("ck", name, BlobData::content(name))
                .result
                .expect("put");
        }
        let listed = c.list("ck", "hub/checkpoint/").result.expect("list");
        let names: Vec<_> = listed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["hub/checkpoint/0", "hub/checkpoint/1"]);
        assert_eq!(
            c.get("ck", "hub/ownership/0").result.expect("get").content,
            b"hub/ownership/0"
        );
        assert_eq!(c.delete("ck", "hub/ownership/0").result, Ok(()));
        assert!(matches!(
            c.delete("ck", "hub/ownership/0").result,
            Err(StorageError::NotFound(_))
        ));
        assert!(matches!(
            c.get("nope", "x").result,
            Err(StorageError::NotFound(_))
        ));
        assert!(matches!(
            c.put_if_match("ck", "missing", ETag(1), BlobData::default())
                .result,
            Err(StorageError::NotFound(_))
        ));
        assert_eq!(
            store.blob_names("ck"),
            ["hub/checkpoint/0", "hub/checkpoint/1"]
        );
    }

    #[test]
    fn faults_come_first_and_leave_the_store_untouched() {
        let specs = [
            FaultSpec {
                kind: "storage-outage".into(),
                instance: Some("a".into()),
                until_ms: Some(100),
                ..FaultSpec::default()
            },
            FaultSpec {
                kind: "latency".into(),
                latency_ms: Some(20),
                from_ms: Some(0),
                ..FaultSpec::default()
            },
        ];
        let mut faults = FaultPlan::from_specs(&specs, Prng::from_u64(0)).expect("valid");
        let mut store = BlobStore::new().with_container("c");
        let before = store.clone();
        let reply = store
            .client(&mut faults, ms(10), "a")
            .put("c", "x", BlobData::content("1"));
        assert_eq!(
            reply,
            StorageReply {
                result: Err(StorageError::Unavailable),
                latency: ms(20)
            }
        );
        assert_eq!(store, before);
        let reply = store
            .client(&mut faults, ms(10), "b")
            .put("c", "x", BlobData::content("1"));
        assert_eq!(reply.result, Ok(ETag(1)));
        assert_eq!(faults.activations().len(), 3); // outage for a, latency for a and b
    }

    #[test]
    fn names_round_trip() {
        for op in StorageOp::ALL {
            assert_eq!(op.name().parse::<StorageOp>(), Ok(op));
        }
        assert_eq!("v12".parse::<ETag>(), Ok(ETag(12)));
        assert!("12".parse::<ETag>().is_err());
        assert_eq!(ETag(3).to_string(), "v3");
    }
}
