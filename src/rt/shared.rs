//! `Shared<T>`: the model's plain shared state (for example the host
//! service's fields).
//!
//! Reads and writes are synchronous and are *not* scheduling points: code
//! between two awaits is atomic, as on a single-threaded executor. Each access
//! is recorded in the running step's footprint (for partial-order reduction)
//! and the closure's result is folded into the task's history (for state
//! caching); `T: Hash` feeds the world fingerprint.

use std::hash::Hash;
use std::sync::Arc;

use super::engine;
use super::hash::{hash_of, StableHasher};
use super::ids::{Access, ObjId};
use super::state::{FingerprintCx, SimObject, TraceLevel};
use super::sync::Lock;

struct SharedInner<T> {
    id: ObjId,
    name: String,
    value: Lock<T>,
}

impl<T: Hash + Send> SimObject for SharedInner<T> {
    fn fingerprint(&self, _cx: &FingerprintCx<'_>, h: &mut StableHasher) {
        self.value.lock().hash(h);
    }
}

/// A shared cell (cheap to clone: clones share the cell).
pub struct Shared<T> {
    inner: Arc<SharedInner<T>>,
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Hash + Send + 'static> Shared<T> {
    pub fn new(name: impl Into<String>, value: T) -> Self {
        let name = name.into();
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<SharedInner<T>>| SharedInner {
            id: engine::register_object(name.clone(), weak.clone()),
            name,
            value: Lock::new(value),
        });
        Shared { inner }
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Reads the value through `f`. Do not nest accesses to the same cell.
    pub fn read<R: Hash>(&self, f: impl FnOnce(&T) -> R) -> R {
        let r = f(&self.inner.value.lock());
        engine::record(self.inner.id, Access::Read);
        engine::fold(hash_of(&r));
        engine::event(TraceLevel::Full, "read", |e| {
            e.fields.insert("object".into(), self.inner.name.clone());
        });
        r
    }

    /// Updates the value through `f`. Do not nest accesses to the same cell.
    pub fn write<R: Hash>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let r = f(&mut self.inner.value.lock());
        engine::record(self.inner.id, Access::Write);
        engine::fold(hash_of(&r));
        engine::event(TraceLevel::Full, "write", |e| {
            e.fields.insert("object".into(), self.inner.name.clone());
        });
        r
    }

    /// A copy of the value (a read).
    pub fn get(&self) -> T
    where
        T: Clone,
    {
        self.read(|v| v.clone())
    }

    /// Replaces the value (a write).
    pub fn set(&self, value: T) {
        self.write(|v| *v = value)
    }
}
